"""One default per option across the CLI, the API and the Python API."""

from __future__ import annotations

import inspect

from typer.main import get_command

import kuznia
from kuznia.cli import app
from kuznia.server.api import audit as audit_api
from kuznia.services import audit
from kuznia.services.params import AUDIT_LIMIT


def _cli_default(group: str, command: str, option: str) -> object:
    cmd = get_command(app).commands[group].commands[command]  # type: ignore[attr-defined]
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


def test_the_python_api_lists_the_newest_audit_events_by_default(filled: kuznia.Workspace):
    everything = filled.audit_events(None).rows
    assert filled.audit_events(0).rows == everything
    assert filled.audit_events(2).rows == everything[-2:]
    assert len(filled.audit_events().rows) == min(len(everything), AUDIT_LIMIT)
