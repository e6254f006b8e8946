"""Uploads: a file sent to the server for import, streamed to disk, then imported as a job.

The same ``services.imports.import_file`` as the CLI runs it, with the same checks, the
same all-or-nothing rule (or quarantine), the same idempotent re-import and ``update``.
Its outcome is kept in the job's row: the import's counts, or the problems as data.
"""

import contextlib
import errno
import json
import logging
import os
import re
import shutil
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any, BinaryIO

from kuznia.errors import KuzniaError, from_environment
from kuznia.i18n import N_, Text
from kuznia.server.problems import (
    internal_message,
    internal_problem,
    kuznia_problem,
    message_of,
)
from kuznia.services import jobs
from kuznia.services.imports import import_file
from kuznia.services.store import Store

SUFFIXES = (".csv", ".xlsx", ".xlsm")


def display_name(filename: str | None) -> str:
    """The upload's own name, as messages show it: its last part, printable, bounded."""
    name = re.split(r"[\\/]", filename or "")[-1]
    name = "".join(c for c in name if c.isprintable())[:120].strip()
    return name or "upload.csv"


class StorageFull(KuzniaError):
    """The server's data folder has no room for an upload (HTTP 507)."""

    exit_code = 1
    http_status = 507


def save_upload(data_dir: Path, job_id: str, stream: BinaryIO, name: str) -> Path:
    """Copy an upload (already spooled by the web layer) to the jobs' folder, 1 MiB at a
    time; the suffix (CSV or XLSX) comes from its name. A copy that fails leaves nothing
    behind (a partial file on a full disk kept every later upload from fitting); a full
    disk is a ``StorageFull`` in words."""
    suffix = Path(name).suffix.lower()
    path = data_dir / "uploads" / f"{job_id}{suffix if suffix in SUFFIXES else '.csv'}"
    try:
        with open(path, "xb") as f:
            shutil.copyfileobj(stream, f, 1 << 20)
    except BaseException as exc:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(path)
        if isinstance(exc, OSError) and exc.errno in (errno.ENOSPC, errno.EDQUOT):
            raise StorageFull(N_("the server's data folder is full: the upload was not kept "
                                 "and nothing was stored; try again later, or ask the "
                                 "server's administrator to free space")) from exc
        raise
    return path


def clean_uploads(store: Store, data_dir: Path) -> int:
    """Remove the uploads of jobs no longer queued or running (a killed job's, one whose
    end could not be recorded): call after ``jobs.reap`` at start. Returns how many."""
    # the files first, then the jobs: a job's row is written before its upload, so any
    # file listed here belongs to a row the second look sees (another worker's new job)
    files = list((data_dir / "uploads").iterdir())
    live = jobs.live_ids(store)
    removed = 0
    for path in files:
        if path.stem not in live:
            with contextlib.suppress(FileNotFoundError, IsADirectoryError):
                path.unlink()
                removed += 1
    return removed


def remove_upload(data_dir: Path, job_id: str) -> None:
    for path in (data_dir / "uploads").glob(f"{job_id}.*"):
        with contextlib.suppress(FileNotFoundError):
            path.unlink()


class Stopped(KuzniaError):
    """The server is stopping: the running import is given up (nothing stored)."""

    exit_code = 1
    http_status = 503


def quarantine_path(data_dir: Path, job_id: str) -> Path:
    return data_dir / "quarantine" / f"{job_id}.csv"


WAIT_BYTES = 1 << 20  # uploads up to this size are imported while the request waits


def begin(request: Any, actor: str, table: str, upload: Any, *, update: bool = False,
          quarantine: bool = False, wait: bool | None = None
          ) -> tuple[str, Callable[[], tuple[str, dict[str, Any]]], bool]:
    """Save an upload as a new import job: its id, the call that runs it, and whether the
    request should wait for it (small files, unless ``wait`` says otherwise). The API's
    import routes and the imports page both start their jobs here."""
    store = request.app.state.store
    data_dir = request.app.state.data_dir
    name = display_name(upload.filename)
    size = upload.size if upload.size is not None else WAIT_BYTES + 1
    waits = wait if wait is not None else size <= WAIT_BYTES
    job_id = jobs.create(store, "import", actor=actor, table=table, file_name=name,
                         options={"update": update, "quarantine": quarantine})
    try:
        path = save_upload(data_dir, job_id, upload.file, name)
    except KuzniaError as exc:
        jobs.finish(store, job_id, "failed", failed(exc))
        raise
    except BaseException:
        jobs.finish(store, job_id, "failed", {"error": {"detail": str(Text(NOT_SAVED))},
                                              "said": {"message": NOT_SAVED}})
        raise
    stopping: threading.Event = request.app.state.stopping

    def run() -> tuple[str, dict[str, Any]]:
        return run_job(store, data_dir, job_id, table, path, name, actor=actor,
                       update=update, quarantine=quarantine, stopping=stopping)

    return job_id, run, waits


def run_job(store: Store, data_dir: Path, job_id: str, table: str, path: Path, name: str,
            *, actor: str, update: bool, quarantine: bool,
            stopping: threading.Event | None = None) -> tuple[str, dict[str, Any]]:
    """Run one import job to its end; returns (status, result) as kept in its row. When
    ``stopping`` is set (the server is stopping) the import gives up at its next batch:
    its transaction rolls back and the job is cancelled."""
    status, result = "failed", {}

    def progress(done: int, total: int) -> None:
        if stopping is not None and stopping.is_set():
            raise Stopped(jobs.STOPPED)
        jobs.progress(job_id, done, total)

    try:
        jobs.start(store, job_id)
        res = import_file(
            store, table, path, actor=actor, update=update, name=name,
            quarantine=quarantine_path(data_dir, job_id) if quarantine else None,
            progress=progress)
        body = res.to_dict()
        body["quarantine"] = (f"/api/v1/jobs/{job_id}/quarantine"
                              if res.quarantine and res.rejected else None)
        status, result = "done", {"import": body}
    except Stopped as exc:
        status, result = "cancelled", failed(exc)
    except Exception as exc:  # noqa: BLE001 - kept as the job's outcome, logged with an id
        status, result = "failed", failed(exc)
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(path)
        try:
            jobs.finish(store, job_id, status, result)
        except Exception:  # noqa: BLE001 - the row is reaped as cut off if this fails
            logging.getLogger("kuznia.server").error("job %s: cannot record its end",
                                                     job_id, exc_info=True)
    return status, result


def _body(response: Any) -> dict[str, Any]:
    return json.loads(response.body)


NOT_SAVED = N_("upload not saved")


def failed(exc: BaseException) -> dict[str, Any]:
    """A failed job's result: its error as the API's problem details (``error``, English)
    and its message as the catalogue's id and values (``said``), for a page to say in its
    language (``problems.say_message``); the API's job answer leaves ``said`` out."""
    known = exc if isinstance(exc, KuzniaError) else from_environment(exc)
    if known is not None:
        return {"error": _body(kuznia_problem(known)), "said": message_of(known)}
    body = _body(internal_problem(exc))
    return {"error": body, "said": internal_message(body["error_id"])} \
        if "error_id" in body else {"error": body}
