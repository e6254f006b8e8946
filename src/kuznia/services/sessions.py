"""Browser sessions: kept on the server, named by a random cookie of which only a hash is
stored, each with its own CSRF token, ended by logout, by being idle too long, or by age.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import secrets
from dataclasses import dataclass

from sqlalchemy import delete, select, update
from sqlalchemy.exc import OperationalError

from kuznia.services.accounts import Account
from kuznia.services.store import Store
from kuznia.store.engine import SQLITE_BUSY_SECONDS
from kuznia.store.schema import sessions, users

IDLE = dt.timedelta(minutes=30)
ABSOLUTE = dt.timedelta(hours=12)
TOUCH = dt.timedelta(seconds=60)  # how stale last_seen may get before it is written again


@dataclass(frozen=True)
class Session:
    account: Account
    csrf_token: str


def _hash(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def open_session(store: Store, account: Account, now: dt.datetime | None = None
                 ) -> tuple[str, Session]:
    """A new session for ``account``: the cookie's value (shown once) and the session."""
    now = now or _now()
    value, csrf = secrets.token_urlsafe(32), secrets.token_urlsafe(32)
    with store.bookkeeping() as conn:
        conn.execute(delete(sessions).where(sessions.c.created_at < (now - ABSOLUTE).isoformat()))
        conn.execute(sessions.insert(), {"session_hash": _hash(value), "user_name": account.name,
                                         "csrf_token": csrf, "created_at": now.isoformat(),
                                         "last_seen_at": now.isoformat()})
    return value, Session(account, csrf)


def find_session(store: Store, value: str, now: dt.datetime | None = None) -> Session | None:
    """The live session a cookie names (its account enabled), else None; a session idle
    or old beyond the limits is ended here."""
    now = now or _now()
    if not value or len(value) > 200:
        return None
    key = _hash(value)
    with store.read() as conn:
        row = conn.execute(
            select(sessions.c.csrf_token, sessions.c.created_at, sessions.c.last_seen_at,
                   users.c.name, users.c.role, users.c.producer_id, users.c.disabled)
            .join(users, users.c.name == sessions.c.user_name)
            .where(sessions.c.session_hash == key)).first()
    if row is None:
        return None
    seen = dt.datetime.fromisoformat(row.last_seen_at)
    if row.disabled or now - seen > IDLE or now - dt.datetime.fromisoformat(
            row.created_at) > ABSOLUTE:
        close_session(store, value)
        return None
    if now - seen > TOUCH:
        _touch(store, key, now)
    return Session(Account(row.name, row.role, row.producer_id), row.csrf_token)


def _touch(store: Store, key: str, now: dt.datetime) -> None:
    """Note the session was seen, unless the store is busy with a long write (an import):
    a read never waits for one; the next request touches it instead."""
    sqlite = store.dialect == "sqlite"
    try:
        with store.engine.connect() as conn:
            if sqlite:
                conn.exec_driver_sql("PRAGMA busy_timeout = 100")
            try:
                with conn.begin():
                    conn.execute(update(sessions).where(sessions.c.session_hash == key)
                                 .values(last_seen_at=now.isoformat()))
            finally:
                if sqlite:
                    conn.exec_driver_sql(
                        f"PRAGMA busy_timeout = {int(SQLITE_BUSY_SECONDS * 1000)}")
    except OperationalError:
        pass


def close_session(store: Store, value: str) -> None:
    with store.bookkeeping() as conn:
        conn.execute(delete(sessions).where(sessions.c.session_hash == _hash(value)))
