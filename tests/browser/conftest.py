"""The browser tests' shared site: one small demo workspace on SQLite served on a loopback
port, and one Chromium, for the whole session. test_pages, test_charts, test_phone and
test_portal use them (one xdist group, so under ``-n 2`` they run in one worker and the
site is built once: its first views are computed once, not once a module);
test_living and test_field serve workspaces of their own (their module's ``site`` wins
there) to the same browser (one Playwright a process: a second sync_playwright may not
start while one runs)."""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator

import pytest

import kuznia
from browser.test_pages import BROWSER, PASSWORD, Site
from kuznia.demo import DemoSize, generate
from kuznia.ingest.tables import IMPORT_ORDER
from kuznia.services import accounts


@pytest.fixture(scope="session")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    import uvicorn
    from sqlalchemy import func, select

    from kuznia.server.app import create_app
    from kuznia.store.schema import use_cube

    folder = tmp_path_factory.mktemp("pages")
    generate(folder / "data", DemoSize(uses=4000, producers=30), 11, lambda _m: None)
    ws = kuznia.init(str(folder / "ws.db"), "USD", "browser tests")
    for table in IMPORT_ORDER:
        ws.import_file(table, folder / "data" / f"{table}.csv")
    with ws.store.read() as conn:
        producer = conn.execute(select(use_cube.c.producer_id)
                                .where(use_cube.c.producer_id != "")
                                .group_by(use_cube.c.producer_id)
                                .order_by(func.sum(use_cube.c.uses).desc()).limit(1)).scalar()
    for role in accounts.ROLES:
        accounts.add_user(ws.store, role, role, actor="tester", password=PASSWORD,
                          producer=producer if role == "producer" else None,
                          partner="PA-A" if role == "partner" else None)
    app = create_app(ws.store, data_dir=folder / "server")
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="on"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    started = threading.Event()
    for _ in range(2000):  # wait on the server's own flag, not on a clock
        if server.started:
            started.set()
            break
        thread.join(0.01)
    assert started.is_set(), "the server did not start"
    yield Site(f"http://127.0.0.1:{port}", ws, producer, folder)
    server.should_exit = True
    thread.join(10)
    ws.close()


@pytest.fixture(scope="session")
def browser() -> Iterator:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=BROWSER, args=["--no-sandbox"])
        yield b
        b.close()
