"""Licences: the import's checks, the producers each names, which are live on a day, and
the partner's account."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy import select

import kuznia
from kuznia.errors import InputError, NotFoundError, UsageError
from kuznia.services import accounts
from kuznia.services.access import Scope, allowed
from kuznia.services.licences import live_licences
from kuznia.store.schema import licence_producers

D = dt.date


def test_the_example_licences_land_with_their_producers(filled: kuznia.Workspace) -> None:
    with filled.store.read() as conn:
        pairs = sorted(tuple(r) for r in conn.execute(select(licence_producers)))
    assert pairs == [("L-001", "P001"), ("L-002", "P002"), ("L-002", "P003"),
                     ("L-003", "P001"), ("L-003", "P003"), ("L-004", "P002"),
                     ("L-005", "P003")]


@pytest.mark.parametrize(("on", "kw", "expected"), [
    (D(2026, 6, 1), {}, ["L-001"]),  # L-003 expired on 2026-02-28
    (D(2026, 2, 28), {}, ["L-001", "L-003"]),  # the last day of L-003 counts
    (D(2026, 1, 14), {}, ["L-003"]),  # L-001 granted the next day
    (D(2026, 2, 1), {"producer_id": "P003"}, ["L-003"]),
    (D(2026, 2, 1), {"producer_id": "P002"}, []),  # L-002 is in review, L-004 requested
    (D(2026, 2, 1), {"partner_id": "PA-A"}, ["L-001"]),
    (D(2026, 2, 1), {"product_id": "FPV-A"}, []),  # L-005 denied
])
def test_live_licences(filled: kuznia.Workspace, on: dt.date, kw: dict[str, str],
                       expected: list[str]) -> None:
    with filled.store.read() as conn:
        got = live_licences(conn, on=on, **kw)
    assert [g.licence_id for g in got] == expected
    if got and got[0].licence_id == "L-003":
        assert got[0].producers == ("P001", "P003")


def test_a_partner_account_is_bound_to_a_known_partner(filled: kuznia.Workspace) -> None:
    accounts.add_user(filled.store, "pa", "partner", actor="t", partner="PA-A")
    with pytest.raises(UsageError):
        accounts.add_user(filled.store, "pb", "partner", actor="t")
    with pytest.raises(UsageError):
        accounts.add_user(filled.store, "pc", "analyst", actor="t", partner="PA-A")
    with pytest.raises(NotFoundError):
        accounts.add_user(filled.store, "pd", "partner", actor="t", partner="PA-Z")
    token = accounts.issue_token(filled.store, "pa", actor="t")
    with filled.store.read() as conn:
        who = accounts.authenticate_token(conn, token)
    assert who is not None and who.partner_id == "PA-A" and who.producer_id is None
    scope = Scope.of(who.role, who.producer_id, who.partner_id)
    assert scope.partner_id == "PA-A" and not scope.everything and not scope.prices
    assert allowed("partner", "licences.read") and allowed("partner", "whoami")
    for action in ("figures.read", "costs.read", "read:contracts", "read:partners",
                   "read:licences", "oversight.read", "plans.read", "jobs.read"):
        assert not allowed("partner", action), action


def _write(path: Path, text: str) -> Path:
    path.write_text(text)
    return path


HEADER = ("licence_id,partner_id,kind,product_id,producers,requested_on,granted_on,"
          "expires_on,max_units,status\n")


@pytest.mark.parametrize(("row", "column", "words"), [
    ("L-9,PA-A,repair,ATG-B,P001;P404,2026-01-01,,,,requested", "producers", "P404"),
    ("L-9,PA-A,repair,NOPE,P001,2026-01-01,,,,requested", "product_id", "no product"),
    ("L-9,PA-Z,repair,ATG-B,P001,2026-01-01,,,,requested", "partner_id", "no partner"),
    ("L-9,PA-A,repair,ATG-B,P001,2026-01-01,2025-12-01,,,granted", "granted_on",
     "before requested_on"),
    ("L-9,PA-A,repair,ATG-B,P001,2026-01-01,2026-02-01,2026-01-15,,granted", "expires_on",
     "before granted_on"),
    ("L-9,PA-A,leasing,ATG-B,P001,2026-01-01,,,,requested", "kind", ""),
    ("L-9,PA-A,repair,ATG-B,P001,2026-01-01,,,,expired", "status", ""),
    ("L-9,PA-A,repair,ATG-B,P001,2026-01-01,,,,granted", "granted_on", "required"),
    ("L-9,PA-A,repair,ATG-B, ; ,2026-01-01,,,,requested", "producers", "no producer"),
])
def test_bad_licences_are_refused_naming_row_and_column(
        filled: kuznia.Workspace, tmp_path: Path, row: str, column: str, words: str) -> None:
    f = _write(tmp_path / "licences.csv", HEADER + row + "\n")
    with pytest.raises(InputError) as caught:
        filled.import_file("licences", f)
    problems = caught.value.problems
    assert any(p.line == 2 and p.column == column and words in f"{p.message} {p.value}"
               for p in problems), problems
    with filled.store.read() as conn:  # nothing written
        assert not conn.execute(select(licence_producers).where(
            licence_producers.c.licence_id == "L-9")).first()


def test_stage_dates_in_order_and_licence_known(filled: kuznia.Workspace,
                                                tmp_path: Path) -> None:
    f = _write(tmp_path / "licence_stages.csv",
               "licence_id,stage,authority,entered_on,left_on,outcome\n"
               "L-001,late,Office,2026-02-01,2026-01-01,\n"
               "L-404,filed,Office,2026-02-01,,\n")
    with pytest.raises(InputError) as caught:
        filled.import_file("licence_stages", f)
    got = {(p.line, p.column) for p in caught.value.problems}
    assert got == {(2, "left_on"), (3, "licence_id")}


def test_producers_are_stored_sorted_once_and_reimport_changes_nothing(
        filled: kuznia.Workspace, tmp_path: Path) -> None:
    f = _write(tmp_path / "licences.csv",
               HEADER + "L-9,PA-A,repair,ATG-B, P003;P001;P003 ,2026-01-01,,,,requested\n")
    assert filled.import_file("licences", f).added == 1
    again = filled.import_file("licences", f)
    assert again.added == again.updated == 0 and again.event_id is None
    with filled.store.read() as conn:
        pairs = conn.execute(select(licence_producers.c.producer_id).where(
            licence_producers.c.licence_id == "L-9")).scalars().all()
    assert sorted(pairs) == ["P001", "P003"]
    changed = _write(tmp_path / "licences2.csv",
                     HEADER + "L-9,PA-A,repair,ATG-B,P002,2026-01-01,,,,in_review\n")
    with pytest.raises(InputError):
        filled.import_file("licences", changed)
    assert filled.import_file("licences", changed, update=True).updated == 1
    with filled.store.read() as conn:
        pairs = conn.execute(select(licence_producers.c.producer_id).where(
            licence_producers.c.licence_id == "L-9")).scalars().all()
    assert pairs == ["P002"]
    assert filled.verify_audit(deep=True).ok


def test_deep_audit_catches_licence_producers_and_partner_scope_edited(
        filled: kuznia.Workspace) -> None:
    from sqlalchemy import text, update

    from kuznia.store.schema import users

    accounts.add_user(filled.store, "pa", "partner", actor="t", partner="PA-A")
    assert filled.verify_audit(deep=True).ok
    with filled.store.write() as conn:  # a producer slipped onto a licence outside Kuznia
        conn.execute(licence_producers.insert(), {"licence_id": "L-001", "producer_id": "P002"})
    check = filled.verify_audit(deep=True)
    assert not check.ok and check.table == "licence_producers" and check.key == "L-001/P002"
    with filled.store.write() as conn:
        conn.execute(text("DELETE FROM licence_producers WHERE producer_id = 'P002' "
                          "AND licence_id = 'L-001'"))
    assert filled.verify_audit(deep=True).ok
    with filled.store.write() as conn:  # a partner account moved to another partner
        conn.execute(update(users).where(users.c.name == "pa").values(partner_id="PA-B"))
    check = filled.verify_audit(deep=True)
    assert not check.ok and check.table == "users"


def test_a_licence_edited_in_the_store_is_caught(filled: kuznia.Workspace) -> None:
    from sqlalchemy import update

    from kuznia.store.schema import licences

    with filled.store.write() as conn:
        conn.execute(update(licences).where(licences.c.licence_id == "L-002")
                     .values(status="granted", granted_on=D(2026, 3, 1)))
    check = filled.verify_audit(deep=True)
    assert not check.ok and check.table == "licences" and check.key == "L-002"


@given(status=st.sampled_from(("requested", "in_review", "granted", "denied", "revoked")),
       granted=st.one_of(st.none(), st.dates(D(2025, 1, 1), D(2027, 12, 31))),
       length=st.one_of(st.none(), st.integers(0, 800)),
       on=st.dates(D(2025, 1, 1), D(2028, 12, 31)))
def test_live_is_granted_begun_and_not_expired(status: str, granted: dt.date | None,
                                               length: int | None, on: dt.date) -> None:
    from kuznia.services.licences import is_live, state_of

    expires = granted + dt.timedelta(days=length) if granted and length is not None else None
    live = is_live(status, granted, expires, on)
    assert live == (state_of(status, expires, on) == "granted" and granted is not None
                    and granted <= on)
    if live:  # one day after its end it is expired, not live
        assert expires is None or not is_live(status, granted, expires,
                                              expires + dt.timedelta(days=1))


def test_the_listing_and_live_licences_agree_on_every_day(filled: kuznia.Workspace) -> None:
    from kuznia.services.licences import list_licences

    day = D(2025, 6, 1)
    while day < D(2027, 3, 1):
        listed = {r["licence_id"] for r in list_licences(filled.store, on=day).rows
                  if r["live"]}
        with filled.store.read() as conn:
            assert {x.licence_id for x in live_licences(conn, on=day)} == listed, day
        day += dt.timedelta(days=9)
