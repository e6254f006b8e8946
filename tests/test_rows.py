"""Every row of every answer matches its declared type (``kuznia.services.rows``)."""

from __future__ import annotations

import datetime as dt
import types
import typing

import pytest

import kuznia
from kuznia.services import accounts, rows
from kuznia.services.licences import list_licences


def _conforms(row: dict, declared: type) -> list[str]:  # type: ignore[type-arg]
    hints = typing.get_type_hints(declared)
    problems = [f"undeclared key {k!r}" for k in row if k not in hints]
    problems += [f"missing {k!r}" for k in declared.__required_keys__ if k not in row]
    for key, value in row.items():
        if key not in hints:
            continue
        allowed = hints[key]
        if typing.get_origin(allowed) in (typing.Union, types.UnionType):
            options = typing.get_args(allowed)
        else:
            options = (allowed,)
        kinds = tuple(typing.get_origin(o) or o for o in options)
        kinds = tuple(type(None) if k is None else k for k in kinds)
        if isinstance(value, bool) and bool not in kinds:
            problems.append(f"{key}: a bool where {allowed} is declared")
        elif not isinstance(value, kinds) and not (float in kinds and isinstance(value, int)):
            problems.append(f"{key}: {type(value).__name__} where {allowed} is declared")
    return problems


def _answers(ws: kuznia.Workspace) -> list[tuple[list[dict], type]]:  # type: ignore[type-arg]
    accounts.add_user(ws.store, "p2", "producer", actor="t", producer="P002")
    return [
        *[(ws.cost_per_effect(by).rows, rows.CostRow) for by in
          ("product", "product,producer", "product,version,month", "operator")],
        (ws.uses(limit=None).rows, rows.UseRow),
        *[(ws.failures(by=by).rows, rows.FailureRow) for by in
          (None, "version", "condition:ew")],
        (ws.fixes().rows, rows.FixRow),
        (ws.board().blocks, rows.BoardBlock),
        (ws.audit_events().rows, rows.AuditEvent),
        (accounts.list_users(ws.store).rows, rows.UserRow),
        (list_licences(ws.store, on=dt.date(2026, 4, 1)).rows, rows.LicenceRow),
    ]


def test_every_row_is_as_declared(filled: kuznia.Workspace):
    checked = 0
    for answer, declared in _answers(filled):
        assert answer, declared.__name__  # something to check
        for row in answer:
            assert _conforms(row, declared) == [], (declared.__name__, row)
            checked += 1
    assert checked > 30


def test_the_check_can_fail():
    assert _conforms({"use_id": 1}, rows.UseRow)
    assert _conforms({**{k: None for k in rows.BoardBlock.__required_keys__}, "x": 1},
                     rows.BoardBlock)


@pytest.mark.parametrize("declared", [rows.CostRow, rows.UseRow, rows.FailureRow,
                                      rows.FixRow, rows.BoardBlock, rows.AuditEvent,
                                      rows.UserRow])
def test_declarations_resolve(declared):
    assert typing.get_type_hints(declared)
