"""Imports sent as uploads (``POST /imports/{table}``, run as jobs by ``server.uploads``)
and the jobs to follow them."""

from typing import Annotated, Any

from fastapi import File, Path, Request, UploadFile
from fastapi.responses import FileResponse, JSONResponse

from kuznia.errors import NotFoundError
from kuznia.i18n import N_
from kuznia.ingest.tables import SPECS
from kuznia.server import uploads
from kuznia.server.api import answers
from kuznia.server.api.base import (
    Routes,
    Who,
    store_of,
)
from kuznia.server.auth import Caller
from kuznia.services import (
    jobs,
)
from kuznia.services.results import json_safe

api = Routes("imports")


def _job_for(request: Request, who: Caller, job_id: str) -> dict[str, Any]:
    mine = None if who.role in ("admin", "auditor") else who.name
    job = jobs.get(store_of(request), job_id, actor=mine)
    if isinstance(job.get("result"), dict):  # its message for a page is not the API's
        job["result"] = {k: v for k, v in job["result"].items() if k != "said"}
    return job


@api("GET", "/jobs/{job_id}", "jobs.read", response_model=answers.Job)
def get_job(request: Request, who: Who, job_id: Annotated[str, Path(max_length=64)]
            ) -> JSONResponse:
    """An import job: its state, rows read so far, and its outcome when done."""
    return JSONResponse(json_safe(_job_for(request, who, job_id)))


@api("GET", "/jobs/{job_id}/quarantine", "jobs.read", response_class=FileResponse,
     responses=answers.download("text/csv", description="The rows set aside, with why"))
def get_quarantine(request: Request, who: Who, job_id: Annotated[str, Path(max_length=64)]
                   ) -> FileResponse:
    """The rows a quarantining import set aside, with the reasons (CSV)."""
    job = _job_for(request, who, job_id)
    path = uploads.quarantine_path(request.app.state.data_dir, job["job_id"])
    if job["status"] != "done" or not path.exists():
        raise NotFoundError(N_("job %(job)s has no quarantine file"), job=repr(job_id))
    return FileResponse(path, media_type="text/csv",
                        filename=f"quarantine-{job['job_id']}.csv")


def _import_route(table: str) -> None:
    def endpoint(request: Request, who: Who, file: Annotated[UploadFile, File()],
                 update: bool = False, quarantine: bool = False,
                 wait: bool | None = None) -> JSONResponse:
        job_id, run, waits = uploads.begin(request, who.name, table, file, update=update,
                                           quarantine=quarantine, wait=wait)
        if not waits:
            request.app.state.executor.submit(run)
            return JSONResponse({"job_id": job_id, "status": "queued",
                                 "href": f"/api/v1/jobs/{job_id}"}, status_code=202,
                                headers={"Location": f"/api/v1/jobs/{job_id}"})
        status, result = run()
        if status == "done":
            return JSONResponse(json_safe({"job_id": job_id, **result}))
        error = result["error"]
        return JSONResponse({**error, "job_id": job_id}, status_code=error.get("status", 500),
                            media_type="application/problem+json")

    endpoint.__name__ = f"import_{table}"
    endpoint.__doc__ = (f"Import a CSV or XLSX file into {table}: every row checked, all or "
                        "nothing (or the bad rows set aside with ``quarantine``), the same "
                        "file twice stores it once. Small files are imported while the "
                        "request waits; larger ones (or ``wait=false``) answer 202 with a "
                        "job to follow.")
    api("POST", f"/imports/{table}", f"write:{table}", response_model=answers.Imported,
        responses={202: {"model": answers.Queued, "description": "A job to follow at its "
                         "Location (GET /jobs/{job_id})"}})(endpoint)


for _t in SPECS:
    _import_route(_t)
