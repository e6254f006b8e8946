"""Accounts for the server: people, their roles, their producer or partner scope, their
API tokens.

Every change is an audited write in the same hash chain as imports, naming who made it.
A password is kept only as an argon2id hash (argon2-cffi), at least ``MIN_PASSWORD``
characters, never logged. An API token is a long random string shown once; only its
SHA-256 is kept, so a copy of the store gives no working token.

Roles (what each may do is the server's business; here they are only recorded):
admin, analyst, procurement, engineer, producer (bound to one producer id), auditor,
partner (bound to one partner id: a foreign partner that grants licences).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import json
import logging
import re
import secrets
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, bindparam, func, select, update

from kuznia.errors import ConflictError, NotFoundError, UsageError
from kuznia.i18n import N_, Plural
from kuznia.services import audit, sign_in_rows
from kuznia.services.results import Tabular
from kuznia.services.store import Store
from kuznia.store.schema import (
    api_tokens,
    audit_events,
    login_attempts,
    partners,
    producers,
    sessions,
    users,
)
from kuznia.store.tuples import tuples

ROLES = ("admin", "analyst", "procurement", "engineer", "producer", "auditor", "partner")
MIN_PASSWORD = 12
NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._@-]{0,63}")
TOKEN_PREFIX = "kz_"
MAX_TOKEN_DAYS = 3650
log = logging.getLogger("kuznia.auth")


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def _stamp(t: dt.datetime) -> str:
    return t.isoformat(timespec="seconds")


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


DIGEST_VERSION = 2  # 2: the credentials' hashes are in it (1: every other field)


def accounts_digest(conn: Connection, version: int = DIGEST_VERSION) -> dict[str, Any]:
    """What the audit chain records of the accounts: one SHA-256 over every field,
    the password and token hashes included (so a hash replaced or copied in the store is
    caught by ``audit verify --deep``; only this digest of them enters the trail).
    ``version`` 1 is the digest older workspaces recorded, without the credentials. A
    partner's scope enters only where one is set, so the digests recorded before partners
    existed still hold."""
    secrets_ = version >= 2
    found = conn.execute(select(users.c.name, users.c.role, users.c.producer_id,
                                users.c.disabled,
                                *([users.c.password_hash, users.c.event_id] if secrets_
                                  else []), users.c.partner_id)
                         .order_by(users.c.name)).all()
    rows: list[Any] = [list(r[:-1]) + ([r.partner_id] if r.partner_id is not None else [])
                       for r in found]
    toks = conn.execute(select(api_tokens.c.token_id, api_tokens.c.user_name,
                               api_tokens.c.expires_at, api_tokens.c.revoked_at,
                               *([api_tokens.c.token_hash, api_tokens.c.event_id]
                                 if secrets_ else []))
                        .order_by(api_tokens.c.token_id)).all()
    body = json.dumps([rows, [list(t) for t in toks]], default=str)
    out: dict[str, Any] = {"sha256": hashlib.sha256(body.encode()).hexdigest(),
                           "users": len(rows), "tokens": len(toks)}
    if secrets_:
        out["version"] = version
    return out


def credential_seal(*parts: str | None) -> str:
    """What the audit event that set a credential records of it: a SHA-256 binding the
    hash to its account (and token), checked at every use (``bound``)."""
    body = "\x1f".join("\x00" if p is None else p for p in parts)
    return hashlib.sha256(body.encode()).hexdigest()


_SEAL = select(audit_events.c.action, audit_events.c.detail).where(
    audit_events.c.event_id == bindparam("event_id"))


def bound(conn: Connection, event_id: int, action: str, *parts: str | None) -> bool:
    """Whether the credential ``parts`` are the ones the audited event ``event_id`` (an
    ``action``) set: a hash replaced or copied in the store outside Kuznia is not. An
    event from before credentials were sealed (no ``credential`` in it) holds only if it
    set this account's (or token's) credential at all; ``audit verify --deep`` covers
    those."""
    row = conn.execute(_SEAL, {"event_id": event_id}).first()
    if row is None or row.action != action:
        return False
    detail = json.loads(row.detail or "{}")
    if "credential" in detail:
        return hmac.compare_digest(detail["credential"], credential_seal(*parts))
    named = parts[1] if action == "token_issued" else parts[0]
    return detail.get("name") == named and (
        action != "token_issued" or detail.get("token_id") == parts[0])


def _audited(conn: Connection, actor: str, action: str, detail: dict[str, Any]) -> int:
    event_id = audit.next_event_id(conn)
    audit.append(conn, event_id, actor=actor, action=action, table_name="users",
                 detail={**detail, "accounts": accounts_digest(conn)})
    return event_id


def _user(conn: Connection, name: str) -> Any:
    row = conn.execute(select(users).where(users.c.name == name)).first()
    if row is None:
        raise NotFoundError(N_("no account named %(name)s"), name=repr(name))
    return row


def add_user(store: Store, name: str, role: str, *, actor: str,
             producer: str | None = None, password: str | None = None,
             partner: str | None = None) -> int:
    """Add an account; returns the audit event. ``password`` may be None (tokens only)."""
    from argon2 import PasswordHasher

    if not NAME.fullmatch(name):
        raise UsageError(N_("{name} must be 1 to 64 letters, digits, '.', '_', '@' or '-', "
                            "starting with a letter or digit (it is a part of web "
                            "addresses), not %(name)s"), params=("name",), name=repr(name))
    if role not in ROLES:
        raise UsageError(N_("{role} must be one of %(roles)s, not %(role)s"),
                         params=("role",), roles=", ".join(ROLES), role=repr(role))
    if (role == "producer") != (producer is not None):
        raise UsageError(N_("{producer} is required for the producer role, and only for it"),
                         params=("producer",))
    if (role == "partner") != (partner is not None):
        raise UsageError(N_("{partner} is required for the partner role, and only for it"),
                         params=("partner",))
    if password is not None and len(password.strip()) < MIN_PASSWORD:
        raise UsageError(Plural("the password must have at least %(num)s character, not "
                                "counting spaces at its ends",
                                "the password must have at least %(num)s characters, not "
                                "counting spaces at its ends", MIN_PASSWORD))
    hashed = PasswordHasher().hash(password) if password is not None else None
    with store.write() as conn:
        if producer is not None and conn.execute(
                select(producers.c.producer_id).where(producers.c.producer_id == producer)
        ).first() is None:
            raise NotFoundError(N_("no producer %(producer)s; import producers first"),
                                producer=repr(producer))
        if partner is not None and conn.execute(
                select(partners.c.partner_id).where(partners.c.partner_id == partner)
        ).first() is None:
            raise NotFoundError(N_("no partner %(partner)s; import partners first"),
                                partner=repr(partner))
        taken = conn.execute(select(users.c.name).where(  # names are ASCII: lower() is
            func.lower(users.c.name) == name.lower())).first()  # the same on both stores
        if taken:
            if taken.name == name:
                raise UsageError(N_("an account named %(name)s exists already"),
                                 name=repr(name))
            raise UsageError(N_("an account named %(name)s exists already as %(taken)s "
                                "(names that differ only in case cannot both exist)"),
                             name=repr(name), taken=repr(taken.name))
        event_id = audit.next_event_id(conn)
        conn.execute(users.insert(), {"name": name, "role": role, "producer_id": producer,
                                      "partner_id": partner,
                                      "password_hash": hashed, "disabled": False,
                                      "created_at": _stamp(_now()), "event_id": event_id})
        _audited(conn, actor, "user_added", {"name": name, "role": role,
                                             "producer_id": producer,
                                             **({"partner_id": partner} if partner else {}),
                                             "password": hashed is not None,
                                             "credential": credential_seal(name, hashed)})
    return event_id


def issue_token(store: Store, name: str, *, actor: str, expires_days: int | None = 90
                ) -> str:
    """A new API token for ``name`` (shown once; only its hash is kept)."""
    if expires_days is not None and not 1 <= expires_days <= MAX_TOKEN_DAYS:
        raise UsageError(N_("{expires_days} must be 1 to %(most)s"),
                         params=("expires_days",), most=MAX_TOKEN_DAYS)
    token = TOKEN_PREFIX + secrets.token_urlsafe(32)
    now = _now()
    with store.write() as conn:
        user = _user(conn, name)
        if user.disabled:
            raise UsageError(N_("the account %(name)s is disabled"), name=repr(name))
        event_id = audit.next_event_id(conn)
        token_id = secrets.token_hex(8)
        hashed = token_hash(token)
        conn.execute(api_tokens.insert(), {
            "token_id": token_id, "user_name": name, "token_hash": hashed,
            "created_at": _stamp(now),
            "expires_at": None if expires_days is None
            else _stamp(now + dt.timedelta(days=expires_days)),
            "revoked_at": None, "event_id": event_id})
        _audited(conn, actor, "token_issued", {
            "name": name, "token_id": token_id, "expires_days": expires_days,
            "credential": credential_seal(token_id, name, hashed)})
    return token


def set_language(store: Store, name: str, lang: str | None) -> None:
    """Keep the language ``name`` chose for its pages (None: the browser's). A preference
    of display, not a credential: not audited, and not in the accounts' digest."""
    from kuznia.i18n import check

    with store.write() as conn:
        conn.execute(users.update().where(users.c.name == name)
                     .values(lang=check(lang) if lang else None))


def disable_user(store: Store, name: str, *, actor: str) -> int:
    """Disable an account: its tokens, password and browser sessions stop working (the
    sessions are ended); nothing else is deleted."""
    with store.write() as conn:
        user = _user(conn, name)
        if user.role == "admin" and not user.disabled and _enabled_admins(conn) <= 1:
            raise ConflictError(N_("%(name)s is the last enabled admin: add another admin "
                                   "first, or no one could manage the accounts again"),
                                name=repr(name))
        conn.execute(update(users).where(users.c.name == name).values(disabled=True))
        event_id = _audited(conn, actor, "user_disabled", {"name": name})
    # its sessions refuse it from now on (they are found with the account disabled);
    # ended here as well, off the write path (services/sign_in_rows.py)
    with sign_in_rows.bookkeeping(store) as conn:
        conn.execute(sessions.delete().where(sessions.c.user_name == name))
    return event_id


def _enabled_admins(conn: Connection) -> int:
    return len(conn.execute(select(users.c.name).where(
        (users.c.role == "admin") & users.c.disabled.is_(False))).all())


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
    partner_id: str | None = None
    lang: str | None = None  # the language it chose for its pages (None: the browser's)


# Built once (asked on every request with a token; see audit._HEAD).
_TOKEN_ACCOUNT = (
    select(users.c.name, users.c.role, users.c.producer_id, users.c.partner_id,
           users.c.lang, users.c.disabled, api_tokens.c.expires_at, api_tokens.c.revoked_at,
           api_tokens.c.token_id,
           api_tokens.c.token_hash, api_tokens.c.event_id)
    .join(users, users.c.name == api_tokens.c.user_name)
    .where(api_tokens.c.token_hash == bindparam("token_hash")))


def authenticate_token(conn: Connection, token: str) -> Account | None:
    """The account a bearer token belongs to, if the token is live, the account enabled,
    and the token's row the one its audited event issued (not a hash written into the
    store outside Kuznia); else None (the caller answers 401 whatever the reason)."""
    if not token.startswith(TOKEN_PREFIX) or len(token) > 200:
        return None
    row = conn.execute(_TOKEN_ACCOUNT, {"token_hash": token_hash(token)}).first()
    if row is None or row.disabled or row.revoked_at is not None:
        return None
    if row.expires_at is not None and dt.datetime.fromisoformat(row.expires_at) <= _now():
        return None
    if not bound(conn, row.event_id, "token_issued", row.token_id, row.name, row.token_hash):
        log.error("refused token %s of %s: its hash is not the one audited event %s issued "
                  "(changed outside Kuznia); run 'kuznia audit verify --deep'",
                  row.token_id, row.name, row.event_id)
        return None
    return Account(row.name, row.role, row.producer_id, row.partner_id, row.lang)


def _sealed(conn: Connection, row: Any) -> bool:
    """Whether the account's password hash is the one its audited event set (a hash
    replaced or copied in the store is refused, and logged)."""
    if bound(conn, row.event_id, "user_added", row.name, row.password_hash):
        return True
    log.error("refused the password of %s: its hash is not the one audited event %s "
              "set (changed outside Kuznia); run 'kuznia audit verify --deep'",
              row.name, row.event_id)
    return False


def _verify(row: Any, password: str) -> Account | None:
    """The account if ``password`` matches ``row``'s hash (no store access: the caller
    checks the hash is sealed by its event, ``_sealed``, in a read of its own)."""
    from argon2 import PasswordHasher
    from argon2.exceptions import InvalidHashError, VerificationError

    if row is None or row.disabled or row.password_hash is None:
        PasswordHasher().hash("x" * MIN_PASSWORD)  # the same time whether or not it exists
        return None
    try:
        PasswordHasher().verify(row.password_hash, password)
    except (VerificationError, InvalidHashError):
        return None
    return Account(row.name, row.role, row.producer_id, row.partner_id, row.lang)


@dataclass
class UserList(Tabular):
    rows: list[dict[str, Any]]
    rows_key = "users"


def list_users(store: Store) -> UserList:
    """Every account with its role, scope, state and live tokens (never a secret)."""
    now = _stamp(_now())
    with store.read() as conn:
        rows = [dict(r._mapping) for r in conn.execute(
            select(users.c.name, users.c.role, users.c.producer_id, users.c.partner_id,
                   users.c.disabled, users.c.created_at,
                   users.c.password_hash.is_not(None).label("password"))
            .order_by(users.c.name))]
        toks = conn.execute(select(api_tokens.c.user_name, api_tokens.c.expires_at)
                            .where(api_tokens.c.revoked_at.is_(None))).all()
    troubles = sign_in_troubles(store)
    live: dict[str, int] = {}
    for t in toks:
        if t.expires_at is None or t.expires_at > now:
            live[t.user_name] = live.get(t.user_name, 0) + 1
    for r in rows:
        r["disabled"], r["password"] = bool(r["disabled"]), bool(r["password"])
        r["live_tokens"] = live.get(r["name"], 0)
        trouble = troubles.get(r["name"], {})
        r["failed_sign_ins"] = trouble.get("failed_sign_ins", 0)
        r["locked_from"] = sorted(trouble.get("locked_from", []))
    return UserList(rows)


# --- signing in with a password: throttled per account and per client address ----------

LOCK_AFTER = 10  # failures in a row that lock the account (or the address) until lifted
DELAY_FROM = 3  # failures before each further attempt must wait
MAX_DELAY_SECONDS = 900


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


def _pair_key(name: str, address: str | None) -> str:
    return f"user:{name} addr:{(address or '-')[:50]}"  # within the key's 128 characters


def _keys(name: str, address: str | None) -> list[str]:
    """What failures are counted against: the account from this address, and the address
    whatever the account. Never the account alone: whoever knows a name could then lock
    its owner out from everywhere."""
    return [_pair_key(name, address)] + ([f"addr:{address}"] if address else [])


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
    if account is not None:
        with store.read() as conn:
            account = account if _sealed(conn, user) else None
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


def sign_in_troubles(store: Store, name: str | None = None
                     ) -> dict[str, dict[str, Any]]:
    """Per account name, the failed sign-ins counted against it from each address since
    its last success there, and the addresses it is locked from: what its owner (``/me``)
    and an admin (the accounts page, ``users list``) are told. ``name``: that one only."""
    out: dict[str, dict[str, Any]] = {}
    prefix = "user:" if name is None else f"user:{name} addr:"
    with sign_in_rows.read(store) as conn:  # off the data's store (sign_in_rows)
        found = list(tuples(conn.execute(select(
            login_attempts.c.key, login_attempts.c.failures, login_attempts.c.locked).where(
            login_attempts.c.key.startswith(prefix, autoescape=True)))))
    for key, failures, locked in found:
        owner, _, address = key.removeprefix("user:").rpartition(" addr:")
        e = out.setdefault(owner, {"failed_sign_ins": 0, "locked_from": []})
        e["failed_sign_ins"] += failures
        if locked:
            e["locked_from"].append(address)
    return out


def lift_lock(store: Store, *, actor: str, name: str | None = None,
              address: str | None = None) -> int:
    """Lift the lock (and the count) of an account or a client address; audited."""
    if (name is None) == (address is None):
        raise UsageError(N_("give {name} or {address}, one of them"),
                         params=("name", "address"))
    k = login_attempts.c.key
    if name is not None:  # the account from every address
        which = k.startswith(f"user:{name} addr:", autoescape=True)
    else:  # the address, for every account
        which = (k == f"addr:{address}") | (
            k.startswith("user:") & k.endswith(f" addr:{address}", autoescape=True))
    with sign_in_rows.read(store) as conn:
        keys = sorted(r.key for r in conn.execute(select(k).where(which)))
    with store.write() as conn:
        if name is not None:
            _user(conn, name)
        if not keys:
            raise NotFoundError(N_("no failed sign-ins recorded for %(who)s"),
                                who=repr(name or address))
        event_id = _audited(conn, actor, "lock_lifted", {"key": keys[0], "keys": keys})
    with sign_in_rows.bookkeeping(store) as conn:
        conn.execute(login_attempts.delete().where(k.in_(keys)))
    return event_id
