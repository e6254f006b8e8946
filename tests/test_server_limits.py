"""What keeps the server answering (issue 24): heavy questions bounded and one at a time;
a stop that does not wait for the job queue; uploads that never stay behind (a killed
job's, a partial one on a full disk) and a full disk said in words."""

from __future__ import annotations

import errno
import threading
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

import kuznia
from kuznia.server import heavy, uploads
from kuznia.services import jobs
from server_helpers import Served, serve

API = "/api/v1"


@pytest.fixture
def served(filled: kuznia.Workspace, tmp_path: Path) -> Served:
    return serve(filled, tmp_path / "server-data")


def _post(client: TestClient, served: Served, path: Path, **params: object):  # type: ignore[no-untyped-def]
    with path.open("rb") as f:
        return client.post(f"{API}/imports/producers", headers=served.headers("procurement"),
                           files={"file": (path.name, f, "text/csv")}, params=params)


def test_heavy_parameters_are_bounded_with_a_400_naming_the_bound(served: Served) -> None:
    h = served.headers("analyst")
    with TestClient(served.app) as client:
        big = client.post(f"{API}/resilience/simulate", headers=h,
                          json={"months": 120, "scenarios": 80_000})
        assert big.status_code == 400, big.text
        assert set(big.json()["params"]) == {"scenarios", "months"}
        assert "1,200,000" in big.json()["detail"]
        ok = client.post(f"{API}/resilience/simulate", headers=h,
                         json={"months": 12, "scenarios": 100})
        assert ok.status_code == 200, ok.text
        keys = client.get(f"{API}/cost-per-effect?by=product,producer,version,month",
                          headers=h)
        assert keys.status_code == 400 and keys.json()["params"] == ["by"]
        assert f"at most {heavy.MAX_GROUP_KEYS} keys" in keys.json()["detail"]
        assert client.get(f"{API}/cost-per-effect?by=product,producer,month",
                          headers=h).status_code == 200


def test_one_heavy_question_at_a_time(served: Served) -> None:
    h = served.headers("auditor")
    with TestClient(served.app) as client:
        lock = served.app.state.heavy_lock
        assert lock.acquire(blocking=False)  # as while a deep check runs
        try:
            busy = client.get(f"{API}/audit/verify?deep=true", headers=h)
            assert busy.status_code == 503
            assert busy.headers["retry-after"] == str(heavy.RETRY_SECONDS)
            assert "another heavy question" in busy.json()["detail"]
            by_operator = client.get(f"{API}/cost-per-effect?by=operator", headers=h)
            assert by_operator.status_code == 503
            # everything else keeps answering
            assert client.get(f"{API}/audit/verify", headers=h).status_code == 200
            assert client.get(f"{API}/cost-per-effect?by=product",
                              headers=h).status_code == 200
        finally:
            lock.release()
        deep = client.get(f"{API}/audit/verify?deep=true", headers=h)
        assert deep.status_code == 200 and deep.json()["ok"]
        assert client.get(f"{API}/cost-per-effect?by=operator", headers=h).status_code == 200


def test_stopping_cancels_the_queue_and_the_running_import(
        served: Served, example_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The running import gives up at its next batch (nothing stored), the queued ones are
    cancelled at once, and no upload stays on disk: the stop waits for none of them."""
    started, finished = threading.Event(), []

    def slow_import(store, table, path, *, progress, **kw):  # type: ignore[no-untyped-def]
        started.set()
        served.app.state.stopping.wait(60)  # a long import, until the server stops
        progress(1, 1_000_000)  # its next batch: the stop is seen here
        finished.append(path)  # never reached

    monkeypatch.setattr(uploads, "import_file", slow_import)
    with TestClient(served.app) as client:
        ids = [_post(client, served, example_dir / "producers.csv", wait="false"
                     ).json()["job_id"] for _ in range(3)]
        assert started.wait(30)
        assert len(list((served.data_dir / "uploads").iterdir())) == 3
    # the server has stopped
    states = [jobs.get(served.ws.store, i) for i in ids]
    assert [s["status"] for s in states] == ["cancelled"] * 3
    assert all("send the file again" in s["result"]["error"]["detail"] for s in states)
    assert not finished
    assert list((served.data_dir / "uploads").iterdir()) == []


def test_a_start_removes_uploads_no_live_job_owns(served: Served, tmp_path: Path) -> None:
    folder = served.data_dir / "uploads"
    stray = folder / ("0" * 24 + ".csv")  # a job killed with its upload
    stray.write_text("producer_id\n")
    store = served.ws.store
    cut_off = jobs.create(store, "import", actor="procurement", table="producers")
    (folder / f"{cut_off}.csv").write_text("producer_id\n")
    jobs._local.pop(cut_off, None)  # as after the process that ran it died
    with TestClient(served.app):
        assert list(folder.iterdir()) == []
    assert jobs.get(store, cut_off)["status"] == "failed"


def test_a_full_disk_is_a_507_in_words_and_leaves_nothing(
        served: Served, example_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    real = uploads.shutil.copyfileobj

    def full(src, dst, length=0):  # type: ignore[no-untyped-def]
        dst.write(src.read(10))  # part of it, then the disk is full
        raise OSError(errno.ENOSPC, "No space left on device")

    with TestClient(served.app) as client:
        monkeypatch.setattr(uploads.shutil, "copyfileobj", full)
        r = _post(client, served, example_dir / "producers.csv")
        assert r.status_code == 507, r.text
        assert "data folder is full" in r.json()["detail"]
        assert list((served.data_dir / "uploads").iterdir()) == []
        monkeypatch.setattr(uploads.shutil, "copyfileobj", real)
        again = _post(client, served, example_dir / "producers.csv")
        assert again.status_code == 200, again.text
