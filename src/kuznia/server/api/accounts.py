"""Accounts (admins only): listed, added, tokens issued and revoked, disabled, sign-in
locks lifted; every write audited naming the admin."""

from typing import Annotated, Literal

from fastapi import Body, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field

from kuznia.server.api import answers
from kuznia.server.api.base import (
    Routes,
    Who,
    Workspace,
    answer,
)
from kuznia.server.types import STRICT_BODY
from kuznia.services import (
    accounts,
)

api = Routes("accounts")


class NewUser(BaseModel):
    model_config = STRICT_BODY
    name: str = Field(max_length=64)
    role: Literal["admin", "analyst", "procurement", "engineer", "producer", "auditor",
                  "partner"]
    producer_id: str | None = Field(None, max_length=200)
    partner_id: str | None = Field(None, max_length=200)
    password: str | None = Field(None, max_length=1024)


@api("GET", "/users", "accounts.manage", response_model=answers.UserList)
def list_users(request: Request, who: Who, store: Workspace) -> JSONResponse:
    """Every account with its role, scope, state and live tokens (never a secret)."""
    return answer(request, lambda: accounts.list_users(store))


@api("POST", "/users", "accounts.manage", status_code=201, response_model=answers.Added)
def add_user(request: Request, who: Who, store: Workspace, body: NewUser) -> JSONResponse:
    """Add an account (audited, naming the admin)."""
    event_id = accounts.add_user(store, body.name, body.role, actor=who.name,
                                 producer=body.producer_id, password=body.password,
                                 partner=body.partner_id)
    return JSONResponse({"name": body.name, "event_id": event_id}, status_code=201)


class TokenBody(BaseModel):
    model_config = STRICT_BODY
    expires_days: int | None = Field(90, ge=1, le=accounts.MAX_TOKEN_DAYS)


@api("POST", "/users/{name}/tokens", "accounts.manage", status_code=201,
     response_model=answers.Token)
def issue_token(request: Request, who: Who, store: Workspace, name: str,
                body: Annotated[TokenBody | None, Body()] = None) -> JSONResponse:
    """A new API token for the account, shown this once (only its hash is kept)."""
    days = body.expires_days if body is not None else 90
    token = accounts.issue_token(store, name, actor=who.name, expires_days=days)
    return JSONResponse({"name": name, "token": token}, status_code=201)


@api("POST", "/users/{name}/disable", "accounts.manage", response_model=answers.Added)
def disable_user(request: Request, who: Who, store: Workspace, name: str) -> JSONResponse:
    """Disable the account: its tokens and sessions stop working at once."""
    event_id = accounts.disable_user(store, name, actor=who.name)
    return JSONResponse({"name": name, "event_id": event_id})


@api("POST", "/users/{name}/revoke-tokens", "accounts.manage",
     response_model=answers.Revoked)
def revoke_tokens(request: Request, who: Who, store: Workspace, name: str) -> JSONResponse:
    """Revoke every live token of the account."""
    n = accounts.revoke_tokens(store, name, actor=who.name)
    return JSONResponse({"name": name, "revoked": n})


class Unlock(BaseModel):
    model_config = STRICT_BODY
    name: str | None = Field(None, max_length=64)
    address: str | None = Field(None, max_length=64)


@api("POST", "/locks/lift", "accounts.manage", response_model=answers.Event)
def lift_lock(request: Request, who: Who, store: Workspace, body: Unlock) -> JSONResponse:
    """Lift the sign-in lock of an account or a client address."""
    event_id = accounts.lift_lock(store, actor=who.name, name=body.name,
                                  address=body.address)
    return JSONResponse({"event_id": event_id})
