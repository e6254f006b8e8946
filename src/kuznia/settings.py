"""Settings, declared as data, read from the environment (prefix ``KUZNIA_``) by every
adapter alike: the CLI, the Python API and the server to come.

Where the workspace lives: ``--db``, else ``KUZNIA_DB``, else ``kuznia.db`` here.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, fields
from pathlib import Path

DEFAULT_DB = "kuznia.db"
ENV_DB = "KUZNIA_DB"
PREFIX = "KUZNIA_"


@dataclass(frozen=True)
class Settings:
    """Every setting with its default; ``KUZNIA_<NAME>`` in the environment overrides it."""

    db: str = DEFAULT_DB  # the workspace: a SQLite path or a SQLAlchemy URL
    debug: bool = False  # show tracebacks of internal errors instead of one line
    host: str = "127.0.0.1"  # kuznia serve: the address to listen on
    port: int = 8000  # kuznia serve: the port
    workers: int = 1  # kuznia serve: processes (PostgreSQL only; SQLite is one process)
    data_dir: str = ""  # kuznia serve: uploads and quarantine files (default: a temp dir)
    https_only: bool = False  # kuznia serve: session cookies only over HTTPS
    oversight_config: str = ""  # kuznia serve: a TOML file of red-flag thresholds
    warm: bool = True  # kuznia serve: remake the answers asked lately after every write
    # kuznia serve: proxies (addresses or networks, comma-separated) whose X-Forwarded-For
    # names the client; from anyone else it is ignored
    trusted_proxies: str = ""
    # the vault: the file holding its master key (outside the workspace; made, mode 0600,
    # when absent and the vault holds no key yet); back it up apart from the workspace
    vault_key_file: str = ""
    vault_max_mb: int = 200  # the vault: the largest document it takes, in MB

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Settings:
        """The settings in force.

        >>> Settings.from_env({"KUZNIA_DB": "w.db", "KUZNIA_PORT": "9000"}).port
        9000
        """
        env = os.environ if environ is None else environ
        values: dict[str, object] = {}
        for f in fields(cls):
            raw = env.get(PREFIX + f.name.upper())
            if raw is None or raw == "":
                continue
            if f.type in ("bool", bool):
                values[f.name] = raw.strip().lower() not in ("0", "false", "no", "off")
            elif f.type in ("int", int):
                try:
                    values[f.name] = int(raw)
                except ValueError:
                    from kuznia.errors import UsageError
                    from kuznia.i18n import N_

                    raise UsageError(N_("%(name)s takes a whole number, not %(value)s"),
                                     name=PREFIX + f.name.upper(), value=repr(raw)) from None
            else:
                values[f.name] = raw
        return cls(**values)  # type: ignore[arg-type]


def database_url(db: str | os.PathLike[str] | None = None) -> str:
    """Turn a SQLAlchemy URL or a file path into a SQLAlchemy URL.

    >>> database_url("postgresql+psycopg://u@h/db")
    'postgresql+psycopg://u@h/db'
    >>> database_url("/tmp/w.db")
    'sqlite:////tmp/w.db'
    """
    raw = os.fspath(db) if db is not None else Settings.from_env().db
    if "://" in raw:
        _supported(raw)
        return raw
    return f"sqlite:///{Path(raw).expanduser().resolve()}"


SUPPORTED_URLS = {"sqlite": ("", "pysqlite"), "postgresql": ("", "psycopg")}


def _supported(url: str) -> None:
    """Refuse a URL of a database (or a driver) Kuznia does not work with, naming the
    kinds it does, before any driver is looked for.

    >>> _supported("mysql://u@h/db")
    Traceback (most recent call last):
    kuznia.errors.UsageError: db takes a SQLite file path, sqlite:///PATH or postgresql+psycopg://USER@HOST/DATABASE, not a 'mysql' URL
    """  # noqa: E501
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import ArgumentError

    from kuznia.errors import UsageError
    from kuznia.i18n import N_

    try:
        parsed = make_url(url)
    except (ArgumentError, ValueError):
        raise UsageError(N_("{db} takes a SQLite file path, sqlite:///PATH or "
                            "postgresql+psycopg://USER@HOST/DATABASE; %(url)s is not a "
                            "database URL"), params=("db",), url=repr(url[:60])) from None
    backend, _, driver = parsed.drivername.partition("+")
    if driver not in SUPPORTED_URLS.get(backend, ()):
        raise UsageError(N_("{db} takes a SQLite file path, sqlite:///PATH or "
                            "postgresql+psycopg://USER@HOST/DATABASE, not a %(kind)s URL"),
                         params=("db",), kind=repr(parsed.drivername[:40]))


def default_actor() -> str:
    """The OS user, for audit events when no ``--as NAME`` is given."""
    try:
        import getpass

        return getpass.getuser()
    except Exception:  # noqa: BLE001 - getuser raises several types when no user is known
        return "unknown"
