"""Long work done for a caller who does not wait: an import sent to the server.

A job is a row in the store, so any worker process answers for any job. Its progress is
written to the row as it goes on PostgreSQL; on SQLite the import holds the only write
lock for its length, so the progress stays in the process that runs it (a SQLite server
is one process, so that process is the one that answers). A job whose process stopped
(a restart, a kill) is marked failed when next seen: nothing of it was stored, since an
import is one transaction.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import secrets
import socket
import threading
from typing import Any

from sqlalchemy import select, update

from kuznia.errors import NotFoundError
from kuznia.i18n import N_
from kuznia.services.results import json_safe
from kuznia.services.store import Store
from kuznia.store.schema import jobs

WORKER = f"{socket.gethostname()}:{os.getpid()}:{secrets.token_hex(4)}"
HEARTBEAT_SECONDS = 5.0
STALE_SECONDS = 30.0  # a running job whose process has not been heard from this long died
# kept in the job's row in English (the API's words); a page says them from the catalogue
CUT_OFF = N_("the server stopped while this job ran (a restart or a kill); nothing of it "
             "was stored: send the file again")
STOPPED = N_("the server was stopped before this job could finish; nothing of it was "
             "stored: send the file again")

_local: dict[str, tuple[int, int | None]] = {}  # job -> progress, for the jobs run here
_lock = threading.Lock()


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def _stamp(t: dt.datetime | None = None) -> str:
    return (t or _now()).isoformat(timespec="milliseconds")


def create(store: Store, kind: str, *, actor: str, producer_id: str | None = None,
           table: str | None = None, file_name: str | None = None,
           options: dict[str, Any] | None = None) -> str:
    """A new queued job, to be run by this process; returns its id."""
    job_id = secrets.token_hex(12)
    with store.bookkeeping() as conn:
        conn.execute(jobs.insert(), {
            "job_id": job_id, "kind": kind, "table_name": table, "file_name": file_name,
            "actor": actor, "producer_id": producer_id, "status": "queued",
            "options": json.dumps(options or {}), "created_at": _stamp(),
            "heartbeat_at": _stamp(), "worker": WORKER, "rows_read": 0})
    with _lock:
        _local[job_id] = (0, None)
    return job_id


def start(store: Store, job_id: str) -> None:
    with store.bookkeeping() as conn:
        conn.execute(update(jobs).where(jobs.c.job_id == job_id)
                     .values(status="running", heartbeat_at=_stamp()))


def progress(job_id: str, rows_read: int, rows_expected: int | None) -> None:
    """Note how far a job has got (in the store too where a second writer may write)."""
    with _lock:
        _local[job_id] = (rows_read, rows_expected)


def heartbeat(store: Store) -> None:
    """Write this process's running jobs' progress and a sign of life (PostgreSQL)."""
    if store.dialect == "sqlite":
        return
    with _lock:
        local = dict(_local)
    if not local:
        return
    with store.bookkeeping() as conn:
        for job_id, (done, expected) in local.items():
            conn.execute(update(jobs).where(jobs.c.job_id == job_id,
                                            jobs.c.status.in_(("queued", "running")))
                         .values(rows_read=done, rows_expected=expected,
                                 heartbeat_at=_stamp()))


def finish(store: Store, job_id: str, status: str, result: dict[str, Any]) -> None:
    with _lock:
        done, expected = _local.pop(job_id, (0, None))
    with store.bookkeeping() as conn:
        conn.execute(update(jobs).where(jobs.c.job_id == job_id).values(
            status=status, finished_at=_stamp(), rows_read=done, rows_expected=expected,
            result=json.dumps(json_safe(result))))


def cancel_queued(store: Store) -> list[str]:
    """Mark this process's jobs that have not started as cancelled (the server is
    stopping); returns their ids."""
    with _lock:
        mine = list(_local)
    if not mine:
        return []
    with store.bookkeeping() as conn:
        rows = conn.execute(select(jobs.c.job_id).where(
            jobs.c.job_id.in_(mine), jobs.c.status == "queued")).all()
        ids = [r.job_id for r in rows]
        if ids:
            conn.execute(update(jobs).where(jobs.c.job_id.in_(ids), jobs.c.status == "queued")
                         .values(status="cancelled", finished_at=_stamp(),
                                 result=json.dumps({"error": {"status": 503,
                                                              "detail": STOPPED}})))
    with _lock:
        for job_id in ids:
            _local.pop(job_id, None)
    return ids


def live_ids(store: Store) -> set[str]:
    """The jobs still queued or running (after ``reap``: in a live process)."""
    with store.read() as conn:
        return {r.job_id for r in conn.execute(
            select(jobs.c.job_id).where(jobs.c.status.in_(("queued", "running"))))}


def _stale(store: Store, row: Any, now: dt.datetime) -> bool:
    if row.status not in ("queued", "running"):
        return False
    if row.worker == WORKER:
        with _lock:
            return row.job_id not in _local
    if store.dialect == "sqlite":  # one process serves a SQLite workspace: this one
        return True
    seen = dt.datetime.fromisoformat(row.heartbeat_at or row.created_at)
    return (now - seen).total_seconds() > STALE_SECONDS


def reap(store: Store) -> int:
    """Mark the jobs whose process is gone as failed; returns how many."""
    now = _now()
    with store.read() as conn:
        rows = conn.execute(select(jobs).where(jobs.c.status.in_(("queued", "running")))).all()
    dead = [r.job_id for r in rows if _stale(store, r, now)]
    if dead:
        with store.bookkeeping() as conn:
            conn.execute(update(jobs).where(jobs.c.job_id.in_(dead),
                                            jobs.c.status.in_(("queued", "running")))
                         .values(status="failed", finished_at=_stamp(),
                                 result=json.dumps({"error": {"message": CUT_OFF}})))
    return len(dead)


def get(store: Store, job_id: str, *, actor: str | None = None) -> dict[str, Any]:
    """A job as its caller sees it; ``actor`` (when given) must be the one who sent it:
    another's job is "not found", like one that does not exist."""
    with store.read() as conn:
        row = conn.execute(select(jobs).where(jobs.c.job_id == job_id)).first()
    if row is None or (actor is not None and row.actor != actor):
        raise NotFoundError(N_("no job %(job)s"), job=repr(job_id))
    if _stale(store, row, _now()):
        reap(store)
        with store.read() as conn:
            row = conn.execute(select(jobs).where(jobs.c.job_id == job_id)).first()
        if row is None:  # gone meanwhile (a restore replaced the jobs)
            raise NotFoundError(N_("no job %(job)s"), job=repr(job_id))
    out = {k: row._mapping[k] for k in ("job_id", "kind", "table_name", "file_name", "actor",
                                        "status", "created_at", "finished_at", "rows_read",
                                        "rows_expected")}
    with _lock:
        if job_id in _local:
            out["rows_read"], out["rows_expected"] = _local[job_id]
    out["options"] = json.loads(row.options)
    out["result"] = json.loads(row.result) if row.result else None
    return out


def list_jobs(store: Store, *, actor: str | None, kinds: tuple[str, ...] = (),
              limit: int = 20) -> list[dict[str, Any]]:
    """The latest jobs, newest first: ``actor``'s own (None: everyone's), of ``kinds``."""
    q = select(jobs.c.job_id, jobs.c.kind, jobs.c.table_name, jobs.c.file_name, jobs.c.actor,
               jobs.c.status, jobs.c.created_at, jobs.c.finished_at, jobs.c.rows_read,
               jobs.c.rows_expected)
    if actor is not None:
        q = q.where(jobs.c.actor == actor)
    if kinds:
        q = q.where(jobs.c.kind.in_(kinds))
    with store.read() as conn:
        return [dict(r._mapping) for r in
                conn.execute(q.order_by(jobs.c.created_at.desc()).limit(limit))]
