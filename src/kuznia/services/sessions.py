"""Browser sessions: kept on the server, named by a random cookie of which only a hash is
stored, each with its own CSRF token, ended by logout, by being idle too long, or by age.

The rows live off the data's write path (``sign_in_rows``): opening, touching and ending a
session never waits for an import. Reading a page never fails for the bookkeeping: a
touch that cannot be written is logged and skipped (the next request touches again).
Every function takes ``now`` from the caller's clock (the server's ``app.state.clock``),
so that tests move time forward instead of waiting for it.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import logging
import secrets
from collections.abc import Callable
from dataclasses import dataclass

from sqlalchemy import delete, select, update

from kuznia.services import sign_in_rows
from kuznia.services.accounts import Account
from kuznia.services.store import Store
from kuznia.store.schema import sessions, users

IDLE = dt.timedelta(minutes=30)
ABSOLUTE = dt.timedelta(hours=12)
TOUCH = dt.timedelta(seconds=60)  # how stale last_seen may get before it is written again
log = logging.getLogger("kuznia.sessions")
Clock = Callable[[], dt.datetime]  # the sessions' notion of now (aware, UTC)


@dataclass(frozen=True)
class Session:
    account: Account
    csrf_token: str


def _hash(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()


def system_clock() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def open_session(store: Store, account: Account, now: dt.datetime | None = None
                 ) -> tuple[str, Session]:
    """A new session for ``account``: the cookie's value (shown once) and the session."""
    now = now or system_clock()
    value, csrf = secrets.token_urlsafe(32), secrets.token_urlsafe(32)
    with sign_in_rows.bookkeeping(store) as conn:
        conn.execute(delete(sessions).where(sessions.c.created_at < (now - ABSOLUTE).isoformat()))
        conn.execute(sessions.insert(), {"session_hash": _hash(value), "user_name": account.name,
                                         "csrf_token": csrf, "created_at": now.isoformat(),
                                         "last_seen_at": now.isoformat()})
    return value, Session(account, csrf)


def find_session(store: Store, value: str, now: dt.datetime | None = None) -> Session | None:
    """The live session a cookie names (its account enabled), else None; a session idle
    or old beyond the limits is ended here."""
    now = now or system_clock()
    if not value or len(value) > 200:
        return None
    key = _hash(value)
    with sign_in_rows.read(store) as conn:
        row = conn.execute(
            select(sessions.c.user_name, sessions.c.csrf_token, sessions.c.created_at,
                   sessions.c.last_seen_at).where(sessions.c.session_hash == key)).first()
    if row is None:
        return None
    with store.read() as conn:
        user = conn.execute(select(users.c.name, users.c.role, users.c.producer_id,
                                   users.c.partner_id, users.c.disabled, users.c.lang)
                            .where(users.c.name == row.user_name)).first()
    seen = dt.datetime.fromisoformat(row.last_seen_at)
    if user is None or user.disabled or now - seen > IDLE or now - dt.datetime.fromisoformat(
            row.created_at) > ABSOLUTE:
        _end(store, key)
        return None
    if now - seen > TOUCH:
        _touch(store, key, now)
    return Session(Account(user.name, user.role, user.producer_id, user.partner_id,
                           user.lang), row.csrf_token)


def _touch(store: Store, key: str, now: dt.datetime) -> None:
    """Note the session was seen. Bookkeeping never fails a read: if the note cannot be
    written (the store is read-only, busy or gone), it is logged and the request goes
    on; the next request tries again."""
    try:
        with sign_in_rows.bookkeeping(store) as conn:
            conn.execute(update(sessions).where(sessions.c.session_hash == key)
                         .values(last_seen_at=now.isoformat()))
    except Exception:  # noqa: BLE001 - any failure: the read goes on
        log.warning("could not note a session as seen; the next request will",
                    exc_info=True)


def _end(store: Store, key: str) -> None:
    """End the session of hash ``key``; a failure is logged (the session is refused
    either way, as it is found expired again)."""
    try:
        with sign_in_rows.bookkeeping(store) as conn:
            conn.execute(delete(sessions).where(sessions.c.session_hash == key))
    except Exception:  # noqa: BLE001 - the caller is refused whether or not it is deleted
        log.warning("could not delete an ended session", exc_info=True)


def close_session(store: Store, value: str) -> None:
    with sign_in_rows.bookkeeping(store) as conn:
        conn.execute(delete(sessions).where(sessions.c.session_hash == _hash(value)))
