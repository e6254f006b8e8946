"""The pages where work is done: the planner, resilience, imports and field entry. Forms
post through htmx (with the session's CSRF token in a header) and get back a fragment;
long work (an import, a simulation) is a job whose fragment polls until it is done and
can be left and opened again from the page's list of recent jobs."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import File, Form, Query, Request, UploadFile
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from kuznia import i18n
from kuznia.errors import UsageError
from kuznia.i18n import N_, gettext
from kuznia.ingest import validate
from kuznia.ingest.tables import OUTCOMES, SPECS
from kuznia.server import heavy, tasks, uploads
from kuznia.server.api.base import store_of
from kuznia.server.auth import Caller
from kuznia.server.web.base import may, page, render, script_messages
from kuznia.services import access, jobs
from kuznia.services import planning as planning_svc
from kuznia.services import repairs as repairs_svc
from kuznia.services import resilience as resilience_svc
from kuznia.words import LABELS, say

Text = Annotated[str, Form(max_length=2000)]
JobId = Annotated[str, Query(max_length=64)]


def _mine(who: Caller) -> str | None:
    return None if who.role in ("admin", "auditor") else who.name


# --- planner -----------------------------------------------------------------------------

def _pairs(text: str, option: str) -> dict[str, str]:
    items = [x.strip() for x in text.replace(",", "\n").splitlines() if x.strip()]
    return planning_svc.parse_pairs(items, option)


def plan_inputs(budget: str, max_producer_share: str, max_region_share: str,
                min_category_share: str, require: str, risk: str) -> dict[str, Any]:
    """The planner form's fields as ``planning.allocate``'s arguments, parsed as the CLI
    parses its options (so that the same words give the same plan)."""
    try:
        money = float(budget.replace(",", "").replace("_", ""))
    except ValueError:
        raise UsageError(N_("{budget} takes an amount of money, not %(budget)s"),
                         budget=repr(budget),
                         params=("budget",)) from None
    needs = _pairs(require, "require")
    try:
        required = {k: int(v) for k, v in needs.items()}
    except ValueError:
        raise UsageError(N_("{require} takes PRODUCT=UNITS with a whole number"),
                         params=("require",)) from None
    return {
        "budget": money,
        "max_producer_share": planning_svc.parse_share(max_producer_share, "max_producer_share")
        if max_producer_share.strip() else None,
        "max_region_share": planning_svc.parse_share(max_region_share, "max_region_share")
        if max_region_share.strip() else None,
        "min_category_share": {k: planning_svc.parse_share(v, "min_category_share")
                               for k, v in _pairs(min_category_share,
                                                  "min_category_share").items()},
        "require": required, "risk": risk.strip() or "mean"}


@page("/planner", "plans.read")
def planner(request: Request, who: Caller,
            a: Annotated[str | None, Query(max_length=128)] = None,
            b: Annotated[str | None, Query(max_length=128)] = None) -> HTMLResponse:
    store = store_of(request)
    saved = planning_svc.list_plans(store).rows
    diff = planning_svc.diff_plans(store, a, b) if a and b else None
    return render(request, who, "planner.html", title=gettext("Planner"), saved=saved, diff=diff,
                  a=a or "", b=b or "", may_run=may(who, "plans.run"),
                  input_words=input_words())


# a plan's inputs in words, in the order the form asks for them
def input_words() -> dict[str, str]:
    return {k: gettext(v) for k, v in PLAN_INPUTS.items()}


PLAN_INPUTS = {"budget": N_("Budget"),
               "max_producer_share": N_("Largest share of one producer"),
               "max_region_share": N_("Largest share of one region"),
               "min_category_share": N_("Least share per category"),
               "require": N_("Units required per product"), "risk": N_("Risk"),
               "price_change": N_("Price changes"), "without_producers": N_("Without producers"),
               "offers_source": N_("Offers from"), "time_limit": N_("Solver time limit (s)"),
               "gap": N_("Solver gap")}


@page("/plans/{name:path}", "plans.read")
def plan_page(request: Request, who: Caller, name: str) -> Response:
    """A saved plan as a page: its inputs, totals, lines and what binds (``/plans/``, no
    name, is the list of saved plans: the planner)."""
    if not name.strip("/"):
        return RedirectResponse("/planner", status_code=303)
    plan = planning_svc.show_plan(store_of(request), name)
    return render(request, who, "plan.html", title=gettext("Plan %(name)s", name=name), plan=plan,
                  input_words=input_words(), may_audit=may(who, "audit.read"))


@page("/planner/run", "plans.run", method="POST")
def planner_run(request: Request, who: Caller, budget: Text, max_producer_share: Text = "",
                max_region_share: Text = "", min_category_share: Text = "",
                require: Text = "", risk: Text = "mean",
                save: Annotated[str, Form(max_length=128)] = "") -> HTMLResponse:
    store = store_of(request)
    inputs = plan_inputs(budget, max_producer_share, max_region_share, min_category_share,
                         require, risk)
    name = save.strip()
    if name:  # before the solve, not after it
        planning_svc.check_plan_name(name)
    with store.snapshot():
        plan = planning_svc.allocate(store, **inputs)
    if name:
        planning_svc.save_plan(store, name, plan, who.name)
    # a saved plan joins the list at once (an out-of-band swap of the list)
    saved = planning_svc.list_plans(store).rows if name else None
    return render(request, who, "_plan.html", plan=plan.to_dict(), saved_as=name,
                  saved=saved, may_run=True)


# --- resilience ---------------------------------------------------------------------------

@page("/resilience", "resilience.read")
def resilience(request: Request, who: Caller, job: Annotated[str | None, Query(max_length=64)]
               = None) -> HTMLResponse:
    store = store_of(request)
    regions = resilience_svc.estimate_regions(store)
    recent = jobs.list_jobs(store, actor=_mine(who), kinds=("simulate",), limit=10)
    return render(request, who, "resilience.html", title=gettext("Resilience"), regions=regions,
                  recent=recent, job=job, may_run=may(who, "resilience.run"))


@page("/resilience/simulate", "resilience.run", method="POST")
def resilience_simulate(request: Request, who: Caller,
                        months: Annotated[int, Form(ge=1, le=120)] = 12,
                        scenarios: Annotated[int, Form(ge=2, le=1_000_000)] = 10_000,
                        seed: Annotated[int, Form(ge=0, le=2**63 - 1)] = 0) -> HTMLResponse:
    store = store_of(request)
    heavy.check_size(scenarios, months)  # the job thread is the imports' too
    job_id = tasks.start(request, who.name, "simulate",
                         {"months": months, "scenarios": scenarios, "seed": seed},
                         lambda: resilience_svc.run(store, months, scenarios, seed))
    return _job_fragment(request, who, job_id)


@page("/jobs/{job_id}", "jobs.read")
def job_page(request: Request, who: Caller, job_id: str) -> HTMLResponse:
    """A job's state: the whole page, or (for htmx's polling) its fragment."""
    if request.headers.get("hx-request") == "true":
        return _job_fragment(request, who, job_id)
    job = jobs.get(store_of(request), job_id, actor=_mine(who))
    return render(request, who, "job.html", title=gettext("Job %(id)s", id=job_id[:8]), job=job,
                  poll=job["status"] in ("queued", "running"))


def _job_fragment(request: Request, who: Caller, job_id: str) -> HTMLResponse:
    job = jobs.get(store_of(request), job_id, actor=_mine(who))
    return render(request, who, "_job.html", job=job,
                  poll=job["status"] in ("queued", "running"))


@page("/resilience/duplicate", "resilience.run", method="POST")
def resilience_duplicate(request: Request, who: Caller,
                         candidates: Annotated[UploadFile, File()],
                         budget: Annotated[float, Form(gt=0, le=1e15)],
                         months: Annotated[int, Form(ge=1, le=120)] = 12,
                         scenarios: Annotated[int, Form(ge=2, le=100_000)] = 2_000,
                         seed: Annotated[int, Form(ge=0, le=2**63 - 1)] = 0) -> HTMLResponse:
    store = store_of(request)
    name = uploads.display_name(candidates.filename)
    with store.snapshot():
        result = resilience_svc.duplicate(store, candidates.file, budget, months, scenarios,
                                          300, seed, candidates_name=name)
    return render(request, who, "_duplicate.html", result=result.to_dict())


@page("/resilience/repairs", "resilience.run", method="POST")
def resilience_repairs(request: Request, who: Caller, backlog: Annotated[UploadFile, File()],
                       repair_points: Annotated[UploadFile, File()]) -> HTMLResponse:
    store = store_of(request)
    with store.snapshot():
        result = repairs_svc.repairs_plan(
            store, backlog.file, repair_points.file, None,
            backlog_name=uploads.display_name(backlog.filename),
            points_name=uploads.display_name(repair_points.filename))
    return render(request, who, "_repairs.html", result=result.to_dict())


# --- imports ---------------------------------------------------------------------------

@page("/imports", "pages.imports")
def imports_page(request: Request, who: Caller) -> HTMLResponse:
    tables = access.writable_tables(who.role)
    recent = jobs.list_jobs(store_of(request), actor=_mine(who), kinds=("import",), limit=20)
    return render(request, who, "imports.html", title=gettext("Imports"), tables=tables,
                  recent=recent)


@page("/imports", "pages.imports", method="POST")
def imports_upload(request: Request, who: Caller, table: Annotated[str, Form(max_length=64)],
                   file: Annotated[UploadFile, File()], quarantine: Annotated[bool, Form()]
                   = False, update: Annotated[bool, Form()] = False) -> HTMLResponse:
    if table not in SPECS or not access.may_write_table(who.role, table):
        raise access.ForbiddenError(N_("the %(role)s role may not import %(table)s"),
                                    role=i18n.Text(LABELS.get(who.role, who.role)),
                                    table=i18n.Text(LABELS.get(table, table)))
    job_id, run, _ = uploads.begin(request, who.name, table, file, update=update,
                                   quarantine=quarantine, wait=False)
    request.app.state.executor.submit(run)
    return _job_fragment(request, who, job_id)


# --- field entry ---------------------------------------------------------------------------

@page("/field", "write:uses")
def field(request: Request, who: Caller) -> HTMLResponse:
    """The field form: in words, its pick-lists from ``GET /api/v1/field/catalogue`` kept
    on the device, its date from the device's clock (static/field.js)."""
    return render(request, who, "field.html", title=gettext("Field entry"),
                  field_words=field_words())


# The words of the form, by column: a problem the server names by column is shown beside
# the field it is about, with the same words as an import's (ingest/validate.py).
FIELD_LABELS = {"use_id": N_("Record"), "used_on": N_("Date"), "operator": N_("Operator"),
                "product_id": N_("Product"), "version": N_("Version"),
                "producer_id": N_("Producer"), "lot": N_("Lot"), "units_used": N_("Units used"),
                "effects": N_("Confirmed effects"), "outcome": N_("How it went"),
                "failure_mode": N_("What failed"), "conditions": N_("Conditions"),
                "notes": N_("Notes")}


def field_words() -> dict[str, object]:
    """The form's words in the language of the moment, with the catalogue of its script's
    own messages (``field_messages``): the page carries them, so the form speaks its
    language offline too."""
    assert set(FIELD_LABELS) == set(SPECS["uses"].columns)
    messages, plurals = field_messages(i18n.current())
    return {"labels": {k: gettext(v) for k, v in FIELD_LABELS.items()},
            "outcomes": {o: say(o)[:1].upper() + say(o)[1:] for o in OUTCOMES},
            "max_id": validate.MAX_ID_LENGTH, "max_int": validate.MAX_INT,
            # a column's problem as the import says it: "Lot <problem>." (the script fills
            # in the field)
            "unseen_in_id": gettext("%(field)s %(problem)s.", field="%(field)s",
                                    problem=gettext(validate.UNSEEN_IN_ID)),
            "dots_id": gettext("%(field)s %(problem)s.", field="%(field)s",
                               problem=gettext(validate.DOTS_ID)),
            "messages": messages, "plurals": plurals}


def field_messages(lang: str) -> tuple[dict[str, str], dict[str, dict[str, str]]]:
    """The field script's messages in ``lang`` (``base.script_messages``)."""
    return script_messages("field.js", lang)
