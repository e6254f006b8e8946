"""One default per option across the CLI, the API and the Python API."""

from __future__ import annotations

import inspect

from typer.main import get_command

import kuznia
from kuznia.cli import app
from kuznia.server.api import audit as audit_api
from kuznia.server.api import figures as figures_api
from kuznia.services import audit, records, trace
from kuznia.services.params import AUDIT_LIMIT, RECORDS_LIMIT, USES_LIMIT


def _cli_default(group: str, command: str, option: str) -> object:
    cmd = get_command(app).commands[group].commands[command]  # type: ignore[attr-defined]
    return next(p.default for p in cmd.params if p.name == option)


def _top_cli_default(command: str, option: str) -> object:
    cmd = get_command(app).commands[command]  # type: ignore[attr-defined]
    return next(p.default for p in cmd.params if p.name == option)


def _default(func: object, name: str) -> object:
    return inspect.signature(func).parameters[name].default  # type: ignore[arg-type]


def test_the_audit_listings_take_one_limit_everywhere():
    assert _cli_default("audit", "list", "limit") == AUDIT_LIMIT
    assert _cli_default("audit", "history", "limit") == AUDIT_LIMIT
    assert _default(audit_api.audit_list, "limit") == AUDIT_LIMIT
    assert _default(audit_api.audit_history, "limit") == AUDIT_LIMIT
    assert _default(kuznia.Workspace.audit_events, "limit") == AUDIT_LIMIT
    assert _default(kuznia.Workspace.row_history, "limit") == AUDIT_LIMIT
    assert _default(audit.row_history, "limit") == AUDIT_LIMIT
    assert _default(audit.find_events, "limit") == AUDIT_LIMIT


def test_the_uses_and_records_listings_take_one_limit_everywhere():
    assert _top_cli_default("uses", "limit") == USES_LIMIT
    assert _default(figures_api.uses, "limit") == USES_LIMIT
    assert _default(kuznia.Workspace.uses, "limit") == USES_LIMIT
    assert _default(trace.list_uses, "limit") == USES_LIMIT
    assert _top_cli_default("records", "limit") == RECORDS_LIMIT
    assert _default(records.list_records, "limit") == RECORDS_LIMIT


def test_the_python_api_lists_the_newest_audit_events_by_default(filled: kuznia.Workspace):
    everything = filled.audit_events(None).rows
    assert filled.audit_events(0).rows == everything
    assert filled.audit_events(2).rows == everything[-2:]
    assert len(filled.audit_events().rows) == min(len(everything), AUDIT_LIMIT)
