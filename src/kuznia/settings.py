"""Where the workspace lives: ``--db``, else ``KUZNIA_DB``, else ``kuznia.db`` here."""

from __future__ import annotations

import os
from pathlib import Path

DEFAULT_DB = "kuznia.db"
ENV_DB = "KUZNIA_DB"


def database_url(db: str | os.PathLike[str] | None = None) -> str:
    """Turn a SQLAlchemy URL or a file path into a SQLAlchemy URL.

    >>> database_url("postgresql+psycopg://u@h/db")
    'postgresql+psycopg://u@h/db'
    >>> database_url("/tmp/w.db")
    'sqlite:////tmp/w.db'
    """
    raw = os.fspath(db) if db is not None else os.environ.get(ENV_DB) or DEFAULT_DB
    if "://" in raw:
        return raw
    return f"sqlite:///{Path(raw).expanduser().resolve()}"


def default_actor() -> str:
    """The OS user, for audit events when no ``--as NAME`` is given."""
    try:
        import getpass

        return getpass.getuser()
    except Exception:  # noqa: BLE001 - getuser raises several types when no user is known
        return "unknown"
