"""Long work other than imports (a strike simulation), run as a job the caller can leave
and come back to: the job's row keeps its state and, when done, its answer as JSON."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from fastapi import Request

from kuznia.server.heavy import release_memory
from kuznia.server.uploads import failed
from kuznia.services import jobs
from kuznia.services.results import json_safe

log = logging.getLogger("kuznia.server")


def start(request: Request, actor: str, kind: str, options: dict[str, Any],
          make: Callable[[], Any]) -> str:
    """Queue ``make`` (run in one snapshot of the store) as a job of ``kind``; its id."""
    store = request.app.state.store
    job_id = jobs.create(store, kind, actor=actor, options=options)

    def run() -> None:
        status, result = "failed", {}
        try:
            jobs.start(store, job_id)
            with store.snapshot():
                out = make()
            status = "done"
            result = {"answer": json_safe(out.to_dict() if hasattr(out, "to_dict") else out)}
        except Exception as exc:  # noqa: BLE001 - kept as the job's outcome, logged with an id
            result = failed(exc)
        finally:
            try:
                jobs.finish(store, job_id, status, result)
            except Exception:  # noqa: BLE001 - the row is reaped as cut off if this fails
                log.error("job %s: cannot record its end", job_id, exc_info=True)
            if (warmer := getattr(request.app.state, "warmer", None)) is not None:
                warmer.kick()  # an import may have written: remake what was asked lately
            result = {}
            release_memory()  # the answer is in the job's row; its arrays go back

    request.app.state.executor.submit(run)
    return job_id
