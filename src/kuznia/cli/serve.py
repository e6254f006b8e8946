"""`kuznia serve`: the API server over the same services as the CLI."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated

import typer

from kuznia.cli.common import DbOption, err, handles_errors, helps
from kuznia.errors import UsageError
from kuznia.i18n import N_, _
from kuznia.settings import Settings


@handles_errors
@helps(N_(
    "Serve the workspace: the JSON API at /api/v1, its docs at /api/v1/docs.\n"
    "\n"
    "The workspace's schema must be this Kuznia's ('kuznia migrate' first): the server\n"
    "never upgrades it under its users. Accounts come from 'kuznia users'."))
def serve(
    db: DbOption = None,
    host: Annotated[str | None, typer.Option(help=N_("Address to listen on."))] = None,
    port: Annotated[int | None, typer.Option(help=N_("Port to listen on."), min=1, max=65535)
                    ] = None,
    workers: Annotated[int | None, typer.Option(
        help=N_("Worker processes (PostgreSQL; a SQLite workspace is served by one)."),
        min=1, max=64)] = None,
    data_dir: Annotated[str | None, typer.Option(
        help=N_("Folder for uploads and quarantine files (default: one in the temp folder)."))
    ] = None,
    https_only: Annotated[bool, typer.Option(
        "--https-only", help=N_("Session cookies only over HTTPS (behind a TLS proxy)."))
    ] = False,
    config: Annotated[str | None, typer.Option(  # named as the service's error names it
        "--oversight-config",
        help=N_("A TOML file of red-flag thresholds for every caller (as 'oversight flags "
                "--config'; default: the built-in ones)."))] = None,
    trusted_proxy: Annotated[list[str] | None, typer.Option(
        "--trusted-proxy",
        help=N_("A proxy (address or network; repeat for more) whose X-Forwarded-For names the "
                "client, for the sign-in throttle; from anyone else the header is ignored."))
    ] = None,
) -> None:
    import uvicorn

    from kuznia.server.app import create_app
    from kuznia.services.store import open_store

    base = Settings.from_env()
    db = db if db is not None else base.db
    host = host or base.host
    port = port or base.port
    workers = workers or base.workers
    data_dir = data_dir if data_dir is not None else base.data_dir
    https_only = https_only or base.https_only
    from kuznia.services import oversight_config as flags_config

    config_file = config if config is not None else base.oversight_config
    thresholds = flags_config.load(config_file or None)  # a bad file stops here, named
    proxies = ",".join(trusted_proxy) if trusted_proxy else base.trusted_proxies
    from kuznia.server.addresses import parse_proxies

    parse_proxies([proxies])  # a bad one stops here, named
    store = open_store(db)  # refuses an out-of-date or newer schema, with what to do
    if workers > 1 and store.dialect == "sqlite":
        store.close()
        raise UsageError(N_("a SQLite workspace is served by one process: drop {workers}, or "
                            "serve a PostgreSQL workspace"), params=("workers",))
    _check_free(host, port, store)
    url = f"http://{host}:{port}"
    err.print(_("serving %(db)s at %(url)s  (API docs: %(url)s/api/v1/docs; stop with "
                "Ctrl-C)", db=store.display_url, url=url))
    if workers == 1:
        app = create_app(store, data_dir=data_dir or None, https_only=https_only,
                         close_store=True, oversight_config=thresholds,
                         warm=base.warm, trusted_proxies=[proxies])
        # uvicorn's own X-Forwarded-For handling is off: the app decides whom to believe
        uvicorn.run(app, host=host, port=port, log_level="info", server_header=False,
                    proxy_headers=False)
        return
    store.close()
    os.environ.update({"KUZNIA_DB": db, "KUZNIA_DATA_DIR": data_dir or "",
                       "KUZNIA_HTTPS_ONLY": "1" if https_only else "0",
                       "KUZNIA_OVERSIGHT_CONFIG": str(Path(config_file).resolve())
                       if config_file else "", "KUZNIA_TRUSTED_PROXIES": proxies})
    uvicorn.run("kuznia.server.app:from_env", factory=True, host=host, port=port,
                workers=workers, log_level="info", server_header=False, proxy_headers=False)


def _check_free(host: str, port: int, store: object) -> None:
    """Say plainly that the address is taken (or not ours) before the server starts."""
    import socket

    try:
        with socket.create_server((host, port)):
            pass
    except OSError as exc:
        store.close()  # type: ignore[attr-defined]
        raise UsageError(N_("cannot listen on %(address)s: %(why)s; choose another {port} "
                            "(or stop what holds it)"), params=("port",),
                         address=f"{host}:{port}", why=str(exc.strerror)) from None
