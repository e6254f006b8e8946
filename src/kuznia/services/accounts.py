"""Accounts for the server: people, their roles, their producer scope, their API tokens.

Every change is an audited write in the same hash chain as imports, naming who made it.
A password is kept only as an argon2id hash (argon2-cffi), at least ``MIN_PASSWORD``
characters, never logged. An API token is a long random string shown once; only its
SHA-256 is kept, so a copy of the store gives no working token.

Roles (what each may do is the server's business; here they are only recorded):
admin, analyst, procurement, engineer, producer (bound to one producer id), auditor.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import logging
import re
import secrets
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, bindparam, select, update

from kuznia.errors import NotFoundError, UsageError
from kuznia.services import audit, sign_in_rows
from kuznia.services.results import Tabular
from kuznia.services.store import Store
from kuznia.store.schema import api_tokens, login_attempts, producers, sessions, users

ROLES = ("admin", "analyst", "procurement", "engineer", "producer", "auditor")
MIN_PASSWORD = 12
NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._@-]{0,63}")
TOKEN_PREFIX = "kz_"
MAX_TOKEN_DAYS = 3650


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def _stamp(t: dt.datetime) -> str:
    return t.isoformat(timespec="seconds")


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def accounts_digest(conn: Connection) -> dict[str, Any]:
    """What the audit chain records of the accounts: every field but the secrets' hashes
    (which change nothing a reader of the trail needs, and need not be spread)."""
    rows = conn.execute(select(users.c.name, users.c.role, users.c.producer_id,
                               users.c.disabled).order_by(users.c.name)).all()
    toks = conn.execute(select(api_tokens.c.token_id, api_tokens.c.user_name,
                               api_tokens.c.expires_at, api_tokens.c.revoked_at)
                        .order_by(api_tokens.c.token_id)).all()
    body = json.dumps([[list(r) for r in rows], [list(t) for t in toks]], default=str)
    return {"sha256": hashlib.sha256(body.encode()).hexdigest(), "users": len(rows),
            "tokens": len(toks)}


def _audited(conn: Connection, actor: str, action: str, detail: dict[str, Any]) -> int:
    event_id = audit.next_event_id(conn)
    audit.append(conn, event_id, actor=actor, action=action, table_name="users",
                 detail={**detail, "accounts": accounts_digest(conn)})
    return event_id


def _user(conn: Connection, name: str) -> Any:
    row = conn.execute(select(users).where(users.c.name == name)).first()
    if row is None:
        raise NotFoundError(f"no account named {name!r}")
    return row


def add_user(store: Store, name: str, role: str, *, actor: str,
             producer: str | None = None, password: str | None = None) -> int:
    """Add an account; returns the audit event. ``password`` may be None (tokens only)."""
    from argon2 import PasswordHasher

    if not NAME.fullmatch(name):
        raise UsageError("{name} must be 1 to 64 letters, digits, '.', '_', '@' or '-', "
                         "starting with a letter or digit (it is a part of web addresses), "
                         f"not {name!r}", params=("name",))
    if role not in ROLES:
        raise UsageError(f"{{role}} must be one of {', '.join(ROLES)}, not {role!r}",
                         params=("role",))
    if (role == "producer") != (producer is not None):
        raise UsageError("{producer} is required for the producer role, and only for it",
                         params=("producer",))
    if password is not None and len(password) < MIN_PASSWORD:
        raise UsageError(f"the password must have at least {MIN_PASSWORD} characters")
    hashed = PasswordHasher().hash(password) if password is not None else None
    with store.write() as conn:
        if producer is not None and conn.execute(
                select(producers.c.producer_id).where(producers.c.producer_id == producer)
        ).first() is None:
            raise NotFoundError(f"no producer {producer!r}; import producers first")
        if conn.execute(select(users.c.name).where(users.c.name == name)).first():
            raise UsageError(f"an account named {name!r} exists already")
        event_id = audit.next_event_id(conn)
        conn.execute(users.insert(), {"name": name, "role": role, "producer_id": producer,
                                      "password_hash": hashed, "disabled": False,
                                      "created_at": _stamp(_now()), "event_id": event_id})
        _audited(conn, actor, "user_added", {"name": name, "role": role,
                                             "producer_id": producer,
                                             "password": hashed is not None})
    return event_id


def issue_token(store: Store, name: str, *, actor: str, expires_days: int | None = 90
                ) -> str:
    """A new API token for ``name`` (shown once; only its hash is kept)."""
    if expires_days is not None and not 1 <= expires_days <= MAX_TOKEN_DAYS:
        raise UsageError(f"{{expires_days}} must be 1 to {MAX_TOKEN_DAYS:,}",
                         params=("expires_days",))
    token = TOKEN_PREFIX + secrets.token_urlsafe(32)
    now = _now()
    with store.write() as conn:
        user = _user(conn, name)
        if user.disabled:
            raise UsageError(f"the account {name!r} is disabled")
        event_id = audit.next_event_id(conn)
        token_id = secrets.token_hex(8)
        conn.execute(api_tokens.insert(), {
            "token_id": token_id, "user_name": name, "token_hash": token_hash(token),
            "created_at": _stamp(now),
            "expires_at": None if expires_days is None
            else _stamp(now + dt.timedelta(days=expires_days)),
            "revoked_at": None, "event_id": event_id})
        _audited(conn, actor, "token_issued", {"name": name, "token_id": token_id,
                                               "expires_days": expires_days})
    return token


def disable_user(store: Store, name: str, *, actor: str) -> int:
    """Disable an account: its tokens, password and browser sessions stop working (the
    sessions are ended); nothing else is deleted."""
    with store.write() as conn:
        _user(conn, name)
        conn.execute(update(users).where(users.c.name == name).values(disabled=True))
        event_id = _audited(conn, actor, "user_disabled", {"name": name})
    # its sessions refuse it from now on (they are found with the account disabled);
    # ended here as well, off the write path (services/sign_in_rows.py)
    with sign_in_rows.bookkeeping(store) as conn:
        conn.execute(sessions.delete().where(sessions.c.user_name == name))
    return event_id


def revoke_tokens(store: Store, name: str, *, actor: str) -> int:
    """Revoke every live token of an account; returns how many."""
    with store.write() as conn:
        _user(conn, name)
        live = (api_tokens.c.user_name == name) & api_tokens.c.revoked_at.is_(None)
        n = len(conn.execute(select(api_tokens.c.token_id).where(live)).all())
        conn.execute(update(api_tokens).where(live).values(revoked_at=_stamp(_now())))
        _audited(conn, actor, "tokens_revoked", {"name": name, "tokens": n})
    return n


@dataclass(frozen=True)
class Account:
    """Who a request comes from."""

    name: str
    role: str
    producer_id: str | None


# Built once (asked on every request with a token; see audit._HEAD).
_TOKEN_ACCOUNT = (
    select(users.c.name, users.c.role, users.c.producer_id, users.c.disabled,
           api_tokens.c.expires_at, api_tokens.c.revoked_at)
    .join(users, users.c.name == api_tokens.c.user_name)
    .where(api_tokens.c.token_hash == bindparam("token_hash")))


def authenticate_token(conn: Connection, token: str) -> Account | None:
    """The account a bearer token belongs to, if the token is live and the account
    enabled; else None (the caller answers 401 whatever the reason)."""
    if not token.startswith(TOKEN_PREFIX) or len(token) > 200:
        return None
    row = conn.execute(_TOKEN_ACCOUNT, {"token_hash": token_hash(token)}).first()
    if row is None or row.disabled or row.revoked_at is not None:
        return None
    if row.expires_at is not None and dt.datetime.fromisoformat(row.expires_at) <= _now():
        return None
    return Account(row.name, row.role, row.producer_id)


def check_password(conn: Connection, name: str, password: str) -> Account | None:
    """The account, if ``password`` is its password and it is enabled; else None. The
    connection is used for one read; the (slow) hash is checked after it."""
    row = conn.execute(select(users).where(users.c.name == name)).first()
    return _verify(row, password)


def _verify(row: Any, password: str) -> Account | None:
    from argon2 import PasswordHasher
    from argon2.exceptions import InvalidHashError, VerificationError

    if row is None or row.disabled or row.password_hash is None:
        PasswordHasher().hash("x" * MIN_PASSWORD)  # the same time whether or not it exists
        return None
    try:
        PasswordHasher().verify(row.password_hash, password)
    except (VerificationError, InvalidHashError):
        return None
    return Account(row.name, row.role, row.producer_id)


@dataclass
class UserList(Tabular):
    rows: list[dict[str, Any]]
    rows_key = "users"


def list_users(store: Store) -> UserList:
    """Every account with its role, scope, state and live tokens (never a secret)."""
    now = _stamp(_now())
    with store.read() as conn:
        rows = [dict(r._mapping) for r in conn.execute(
            select(users.c.name, users.c.role, users.c.producer_id, users.c.disabled,
                   users.c.created_at, users.c.password_hash.is_not(None).label("password"))
            .order_by(users.c.name))]
        toks = conn.execute(select(api_tokens.c.user_name, api_tokens.c.expires_at)
                            .where(api_tokens.c.revoked_at.is_(None))).all()
    live: dict[str, int] = {}
    for t in toks:
        if t.expires_at is None or t.expires_at > now:
            live[t.user_name] = live.get(t.user_name, 0) + 1
    for r in rows:
        r["disabled"], r["password"] = bool(r["disabled"]), bool(r["password"])
        r["live_tokens"] = live.get(r["name"], 0)
    return UserList(rows)


# --- signing in with a password: throttled per account and per client address ----------

LOCK_AFTER = 10  # failures in a row that lock the account (or the address) until lifted
DELAY_FROM = 3  # failures before each further attempt must wait
MAX_DELAY_SECONDS = 900
log = logging.getLogger("kuznia.auth")


@dataclass(frozen=True)
class SignIn:
    """The outcome of a sign-in: the account, or why not and how long to wait."""

    account: Account | None
    refused: str | None = None  # "bad_credentials", "wait", "locked"
    retry_after: int = 0


def delay_after(failures: int) -> int:
    """Seconds a key must wait after ``failures`` failures in a row: none for the first
    few, then doubling, capped.

    >>> [delay_after(n) for n in (1, 2, 3, 4, 5, 12)]
    [0, 0, 1, 2, 4, 512]
    """
    if failures < DELAY_FROM:
        return 0
    return min(MAX_DELAY_SECONDS, 2 ** (failures - DELAY_FROM))


def _keys(name: str, address: str | None) -> list[str]:
    return [f"user:{name}"] + ([f"addr:{address}"] if address else [])


def sign_in(store: Store, name: str, password: str, address: str | None = None,
            now: dt.datetime | None = None) -> SignIn:
    """Check a password, unless the account or the address must wait or is locked. Every
    failure is counted (and logged, never with the password); a success clears both.

    Nothing here waits for an import: the account is read (no write lock), the password
    hash checked with no transaction open (argon2 is slow on purpose), and the counts
    written in short transactions of their own, off the data's write path
    (``sign_in_rows``)."""
    now = now or _now()
    keys = _keys(name, address)
    with sign_in_rows.read(store) as conn:
        rows = {r.key: r for r in conn.execute(
            select(login_attempts).where(login_attempts.c.key.in_(keys)))}
    for r in rows.values():
        if r.locked:
            log.warning("sign-in refused, locked: %s", r.key)
            return SignIn(None, "locked")
        wait = delay_after(r.failures) - (now - dt.datetime.fromisoformat(
            r.last_failed_at)).total_seconds()
        if wait > 0:
            return SignIn(None, "wait", int(wait) + 1)
    with store.read() as conn:
        user = conn.execute(select(users).where(users.c.name == name)).first()
    account = _verify(user, password)
    with sign_in_rows.bookkeeping(store) as conn:
        if account is not None:
            conn.execute(login_attempts.delete().where(login_attempts.c.key.in_(keys)))
            return SignIn(account)
        # counted from the rows as they are now (another attempt may have counted since)
        rows = {r.key: r for r in conn.execute(
            select(login_attempts).where(login_attempts.c.key.in_(keys)).with_for_update())}
        for key in keys:
            failures = (rows[key].failures if key in rows else 0) + 1
            values = {"failures": failures, "last_failed_at": _stamp(now),
                      "locked": failures >= LOCK_AFTER}
            if key in rows:
                conn.execute(update(login_attempts).where(login_attempts.c.key == key)
                             .values(**values))
            else:
                conn.execute(login_attempts.insert(), {"key": key, **values})
            log.warning("failed sign-in %d in a row for %s%s", failures, key,
                        " (now locked)" if values["locked"] else "")
        return SignIn(None, "bad_credentials")


def lift_lock(store: Store, *, actor: str, name: str | None = None,
              address: str | None = None) -> int:
    """Lift the lock (and the count) of an account or a client address; audited."""
    if (name is None) == (address is None):
        raise UsageError("give {name} or {address}, one of them", params=("name", "address"))
    key = f"user:{name}" if name is not None else f"addr:{address}"
    with sign_in_rows.read(store) as conn:
        found = conn.execute(select(login_attempts.c.key).where(login_attempts.c.key == key)
                             ).first()
    with store.write() as conn:
        if name is not None:
            _user(conn, name)
        if found is None:
            raise NotFoundError(f"no failed sign-ins recorded for {key.split(':', 1)[1]!r}")
        event_id = _audited(conn, actor, "lock_lifted", {"key": key})
    with sign_in_rows.bookkeeping(store) as conn:
        conn.execute(login_attempts.delete().where(login_attempts.c.key == key))
    return event_id
