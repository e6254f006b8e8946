"""Accounts: roles and scopes recorded, secrets kept only as hashes, every change audited."""

from __future__ import annotations

import datetime as dt
import json

import pytest
from typer.testing import CliRunner

import kuznia
from helpers import check_password
from kuznia.cli import app
from kuznia.errors import NotFoundError, UsageError
from kuznia.services import accounts

runner = CliRunner()


def test_add_token_authenticate_revoke_disable(filled: kuznia.Workspace):
    store = filled.store
    accounts.add_user(store, "ana", "analyst", actor="root", password="a" * 12)
    accounts.add_user(store, "p2", "producer", actor="root", producer="P002")
    token = accounts.issue_token(store, "p2", actor="root")
    with store.read() as conn:
        assert accounts.authenticate_token(conn, token) == accounts.Account(
            "p2", "producer", "P002")
        assert accounts.authenticate_token(conn, token + "x") is None
        assert check_password(conn, "ana", "a" * 12).role == "analyst"
        assert check_password(conn, "ana", "b" * 12) is None
        assert check_password(conn, "nobody", "a" * 12) is None
        dumped = " ".join(str(v) for t in ("users", "api_tokens")
                          for r in conn.exec_driver_sql(f"SELECT * FROM {t}") for v in r)
    assert token not in dumped and "a" * 12 not in dumped  # only hashes are kept
    assert accounts.revoke_tokens(store, "p2", actor="root") == 1
    with store.read() as conn:
        assert accounts.authenticate_token(conn, token) is None
    token2 = accounts.issue_token(store, "p2", actor="root")
    accounts.disable_user(store, "p2", actor="root")
    with store.read() as conn:
        assert accounts.authenticate_token(conn, token2) is None
    with pytest.raises(UsageError, match="disabled"):
        accounts.issue_token(store, "p2", actor="root")
    actions = [e["action"] for e in filled.audit_events().rows[-6:]]
    assert actions == ["user_added", "user_added", "token_issued", "tokens_revoked",
                       "token_issued", "user_disabled"]
    assert filled.verify_audit(deep=True).ok


def test_an_expired_token_does_not_work(filled: kuznia.Workspace, monkeypatch):
    accounts.add_user(filled.store, "e", "engineer", actor="root")
    token = accounts.issue_token(filled.store, "e", actor="root", expires_days=1)
    later = dt.datetime.now(dt.UTC) + dt.timedelta(days=2)
    monkeypatch.setattr(accounts, "_now", lambda: later)
    with filled.store.read() as conn:
        assert accounts.authenticate_token(conn, token) is None


@pytest.mark.parametrize("kwargs,error", [
    ({"name": "x", "role": "king"}, UsageError),
    ({"name": "x", "role": "producer"}, UsageError),
    ({"name": "x", "role": "analyst", "producer": "P002"}, UsageError),
    ({"name": "x", "role": "producer", "producer": "P999"}, NotFoundError),
    ({"name": "x", "role": "analyst", "password": "short"}, UsageError),
    ({"name": "a b", "role": "analyst"}, UsageError),
    ({"name": "a/b", "role": "analyst"}, UsageError),
    ({"name": "..", "role": "analyst"}, UsageError),
    ({"name": ".", "role": "analyst"}, UsageError),
    ({"name": "ana\u202egnp.exe", "role": "analyst"}, UsageError),  # a right-to-left override
    ({"name": "ana\u200b", "role": "analyst"}, UsageError),  # a zero-width space
    ({"name": "ana\n", "role": "analyst"}, UsageError),
    ({"name": "\u0430na", "role": "analyst"}, UsageError),  # a Cyrillic a
    ({"name": "x" * 65, "role": "analyst"}, UsageError),
])
def test_bad_accounts_are_refused(filled: kuznia.Workspace, kwargs, error):
    before = len(filled.audit_events().rows)
    with pytest.raises(error):
        accounts.add_user(filled.store, actor="root", **kwargs)
    assert len(filled.audit_events().rows) == before


def test_an_edited_account_is_found_by_deep(filled: kuznia.Workspace):
    accounts.add_user(filled.store, "p2", "producer", actor="root", producer="P002")
    with filled.store.engine.begin() as conn:
        conn.exec_driver_sql("UPDATE users SET role = 'admin' WHERE name = 'p2'")
    check = filled.verify_audit(deep=True)
    assert not check.ok and check.table == "users"


def test_the_command_line(filled: kuznia.Workspace):
    db = filled.store.url
    r = runner.invoke(app, ["users", "add", "ana", "--role", "analyst", "--password-stdin",
                            "--db", db, "--as", "ministry-admin"], input="correct horse battery\n")
    assert r.exit_code == 0, r.output
    r = runner.invoke(app, ["users", "token", "ana", "--db", db])
    assert r.exit_code == 0
    token = r.stdout.strip().splitlines()[-1]
    assert token.startswith(accounts.TOKEN_PREFIX)
    r = runner.invoke(app, ["users", "list", "--json", "--db", db])
    assert '"live_tokens": 1' in r.stdout and token not in r.stdout
    r = runner.invoke(app, ["users", "token", "nobody", "--db", db])
    assert r.exit_code == 2 and "no account named 'nobody'" in r.output
    r = runner.invoke(app, ["users", "token", "ana", "--expires-days", "0", "--db", db])
    assert r.exit_code == 2 and "--expires-days" in r.output
    assert runner.invoke(app, ["users", "revoke-tokens", "ana", "--db", db]).exit_code == 0
    assert runner.invoke(app, ["users", "disable", "ana", "--db", db]).exit_code == 0
    events = filled.audit_events().rows
    added = next(e for e in events if e["action"] == "user_added")
    assert added["actor"] == "ministry-admin" and "ana" in added["detail"]
    assert [e["action"] for e in events[-3:]] == ["token_issued", "tokens_revoked",
                                                  "user_disabled"]


def test_failed_sign_ins_wait_longer_then_lock_until_lifted(filled: kuznia.Workspace):
    store = filled.store
    accounts.add_user(store, "ana", "analyst", actor="root", password="right password")
    t0 = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
    ok = accounts.sign_in(store, "ana", "right password", "10.0.0.1", now=t0)
    assert ok.account is not None and ok.account.role == "analyst"
    t = t0
    for n in range(1, accounts.LOCK_AFTER + 1):
        # each attempt comes exactly when the last delay has passed
        r = accounts.sign_in(store, "ana", "wrong", "10.0.0.1", now=t)
        assert r.refused == "bad_credentials", (n, r)
        early = accounts.sign_in(store, "ana", "right password", "10.0.0.1",
                                 now=t + dt.timedelta(seconds=accounts.delay_after(n) - 0.5))
        if accounts.delay_after(n) > 0 and n < accounts.LOCK_AFTER:
            assert early.refused == "wait" and early.retry_after >= 1  # even the right one
        t += dt.timedelta(seconds=accounts.delay_after(n))
    locked = accounts.sign_in(store, "ana", "right password", "10.0.0.1", now=t)
    assert locked.refused == "locked"
    # locked by name and address: the owner elsewhere is not locked out, and is told
    users = {u["name"]: u for u in accounts.list_users(store).rows}
    assert users["ana"]["locked_from"] == ["10.0.0.1"]
    assert users["ana"]["failed_sign_ins"] == accounts.LOCK_AFTER
    assert accounts.sign_in(store, "ana", "right password", "10.0.0.9", now=t).account
    accounts.lift_lock(store, actor="root", name="ana")
    accounts.lift_lock(store, actor="root", address="10.0.0.1")
    assert accounts.sign_in(store, "ana", "right password", "10.0.0.1", now=t).account
    assert [e["action"] for e in filled.audit_events().rows[-2:]] == ["lock_lifted"] * 2
    with pytest.raises(NotFoundError):
        accounts.lift_lock(store, actor="root", name="ana")  # nothing left to lift
    r = runner.invoke(app, ["users", "unlock", "--db", store.url])
    assert r.exit_code == 2


def test_an_attacker_from_one_address_cannot_lock_the_owner_out_of_another(
        filled: kuznia.Workspace):
    store = filled.store
    accounts.add_user(store, "ana", "analyst", actor="root", password="right password")
    t = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
    for _ in range(accounts.LOCK_AFTER + 3):  # an hour apart: no delay stands in the way
        accounts.sign_in(store, "ana", "wrong", "203.0.113.7", now=t)
        t += dt.timedelta(hours=1)
    assert accounts.sign_in(store, "ana", "right password", "203.0.113.7", now=t
                            ).refused == "locked"
    assert accounts.sign_in(store, "ana", "right password", "198.51.100.2", now=t).account
    r = runner.invoke(app, ["users", "list", "--json", "--db", store.url])
    (ana,) = json.loads(r.stdout)["users"]
    assert ana["locked_from"] == ["203.0.113.7"] and ana["failed_sign_ins"] >= 10


def test_the_last_enabled_admin_cannot_be_disabled(filled: kuznia.Workspace):
    from kuznia.errors import ConflictError

    store = filled.store
    accounts.add_user(store, "boss", "admin", actor="root", password="right password")
    with pytest.raises(ConflictError, match="last enabled admin"):
        accounts.disable_user(store, "boss", actor="boss")
    r = runner.invoke(app, ["users", "disable", "boss", "--db", store.url])
    assert r.exit_code == 1 and "last enabled admin" in r.output
    accounts.add_user(store, "deputy", "admin", actor="boss", password="right password")
    accounts.disable_user(store, "boss", actor="deputy")  # another admin remains
    with pytest.raises(ConflictError):
        accounts.disable_user(store, "deputy", actor="deputy")
    assert {u["name"]: u["disabled"] for u in accounts.list_users(store).rows} == {
        "boss": True, "deputy": False}


@pytest.mark.parametrize("taken,name", [("ana", "ANA"), ("Ana.B", "ana.b"), ("x@Y", "X@y")])
def test_names_that_differ_only_in_case_cannot_coexist(filled: kuznia.Workspace, taken: str,
                                                      name: str):
    accounts.add_user(filled.store, taken, "analyst", actor="root")
    with pytest.raises(UsageError, match="exists already"):
        accounts.add_user(filled.store, name, "auditor", actor="root")
    assert [u["name"] for u in accounts.list_users(filled.store).rows] == [taken]


@pytest.mark.parametrize("password", [" " * 12, " " * 40, "  eleven chr  ", "\t" * 12,
                                      "\u3000" * 12])
def test_a_password_of_spaces_or_short_once_stripped_is_refused(filled: kuznia.Workspace,
                                                                password: str):
    with pytest.raises(UsageError, match="at least 12 characters"):
        accounts.add_user(filled.store, "ana", "analyst", actor="root", password=password)
    accounts.add_user(filled.store, "ana", "analyst", actor="root",
                      password="  twelve chars  ")
