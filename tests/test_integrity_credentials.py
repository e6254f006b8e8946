"""Credentials and the history of updates are inside the audit (issue 24): a token or
password hash replaced or copied in the store is refused at use and caught by the deep
audit; an edited, deleted or inserted ``row_updates`` row is caught; and a write that
changes nothing appends no event (the head stays)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

import kuznia
from helpers import check_password, write_csv
from kuznia.server.app import create_app
from kuznia.services import accounts, audit
from test_import import USE_HEADER, use_row

PASSWORD = "correct horse battery"
ATTACKER = "the attacker's own pw"


def _sql(ws: kuznia.Workspace, statement: str, **params: object) -> None:
    from sqlalchemy import text

    with ws.store.engine.begin() as conn:
        conn.execute(text(statement), params)


def _people(ws: kuznia.Workspace) -> str:
    """An admin (the victim) and an engineer (the attacker, who can write the store);
    returns the victim's token."""
    accounts.add_user(ws.store, "boss", "admin", actor="root", password=PASSWORD)
    accounts.add_user(ws.store, "eve", "engineer", actor="root", password=ATTACKER)
    return accounts.issue_token(ws.store, "boss", actor="root")


def _deep_names_accounts(ws: kuznia.Workspace) -> None:
    assert ws.verify_audit().ok  # the events alone cannot see it
    check = ws.verify_audit(deep=True)
    assert not check.ok and check.table == "users", check
    assert "password or token hash" in check.reason


def test_a_replaced_token_hash_is_refused_and_found(filled: kuznia.Workspace):
    _people(filled)
    forged = accounts.TOKEN_PREFIX + "forged-by-eve-" + "x" * 30
    _sql(filled, "UPDATE api_tokens SET token_hash = :h WHERE user_name = 'boss'",
         h=accounts.token_hash(forged))
    with filled.store.read() as conn:
        assert accounts.authenticate_token(conn, forged) is None
    _deep_names_accounts(filled)


def test_an_inserted_token_row_is_refused_and_found(filled: kuznia.Workspace):
    _people(filled)
    forged = accounts.TOKEN_PREFIX + "inserted-by-eve-" + "y" * 30
    with filled.store.read() as conn:  # under the victim's own token_issued event
        event = conn.exec_driver_sql(
            "SELECT event_id FROM api_tokens WHERE user_name = 'boss'").scalar_one()
    _sql(filled, "INSERT INTO api_tokens (token_id, user_name, token_hash, created_at, "
                 "event_id) VALUES ('eve1', 'boss', :h, '2026-01-01T00:00:00+00:00', :e)",
         h=accounts.token_hash(forged), e=event)
    with filled.store.read() as conn:
        assert accounts.authenticate_token(conn, forged) is None
    _deep_names_accounts(filled)


def test_a_token_moved_to_another_account_is_refused(filled: kuznia.Workspace):
    _people(filled)
    own = accounts.issue_token(filled.store, "eve", actor="root")
    _sql(filled, "UPDATE api_tokens SET user_name = 'boss' WHERE user_name = 'eve'")
    with filled.store.read() as conn:
        assert accounts.authenticate_token(conn, own) is None
    _deep_names_accounts(filled)


def test_a_copied_password_hash_is_refused_and_found(filled: kuznia.Workspace,
                                                      tmp_path: Path):
    _people(filled)
    _sql(filled, "UPDATE users SET password_hash = (SELECT password_hash FROM users "
                 "WHERE name = 'eve') WHERE name = 'boss'")
    with filled.store.read() as conn:
        assert check_password(conn, "boss", ATTACKER) is None
        assert check_password(conn, "eve", ATTACKER) is not None  # hers still works
    assert accounts.sign_in(filled.store, "boss", ATTACKER).account is None
    _deep_names_accounts(filled)
    app = create_app(filled.store, data_dir=tmp_path / "data")
    with TestClient(app) as client:
        got = client.post("/api/v1/session", json={"name": "boss", "password": ATTACKER})
        assert got.status_code == 401, got.text


def test_the_server_refuses_a_forged_token(filled: kuznia.Workspace, tmp_path: Path):
    real = _people(filled)
    app = create_app(filled.store, data_dir=tmp_path / "data")
    with TestClient(app) as client:
        assert client.get("/api/v1/me", headers={"Authorization": f"Bearer {real}"}
                          ).status_code == 200
        forged = accounts.TOKEN_PREFIX + "z" * 40
        _sql(filled, "UPDATE api_tokens SET token_hash = :h WHERE user_name = 'boss'",
             h=accounts.token_hash(forged))
        got = client.get("/api/v1/me", headers={"Authorization": f"Bearer {forged}"})
        assert got.status_code == 401


def test_a_digest_recorded_before_credentials_counted_still_verifies(
        filled: kuznia.Workspace):
    """An older workspace's last accounts event recorded the digest without the hashes:
    the deep audit compares like with like."""
    _people(filled)
    with filled.store.write() as conn:
        audit.append(conn, audit.next_event_id(conn), actor="old", action="user_disabled",
                     table_name="users", detail={"accounts": accounts.accounts_digest(conn, 1)})
    assert filled.verify_audit(deep=True).ok
    _sql(filled, "UPDATE users SET role = 'admin' WHERE name = 'eve'")
    assert not filled.verify_audit(deep=True).ok


# --- the history of updates --------------------------------------------------------------

def _updated(ws: kuznia.Workspace, tmp: Path) -> int:
    f = write_csv(tmp / "u.csv", USE_HEADER, [use_row("U0001", effects=2),
                                              use_row("U0002", effects=3)])
    r = ws.import_file("uses", f, update=True)
    assert r.updated == 2 and ws.verify_audit(deep=True).ok
    return int(r.event_id)


@pytest.mark.parametrize("edit", ["deleted", "edited", "inserted", "moved"])
def test_the_history_of_updates_is_audited(filled: kuznia.Workspace, tmp_path: Path,
                                           edit: str):
    event = _updated(filled, tmp_path)
    if edit == "deleted":  # the amendment disappears
        _sql(filled, "DELETE FROM row_updates WHERE row_key = 'U0002'")
    elif edit == "edited":
        _sql(filled, "UPDATE row_updates SET old_values = :v WHERE row_key = 'U0002'",
             v=json.dumps({"effects": 3}))
    elif edit == "inserted":
        _sql(filled, "INSERT INTO row_updates (event_id, table_name, row_key, old_values, "
                     "new_values) VALUES (2, 'producers', 'P001', '{}', '{}')")
    else:
        _sql(filled, "UPDATE row_updates SET event_id = 2 WHERE row_key = 'U0002'")
    assert filled.verify_audit().ok
    check = filled.verify_audit(deep=True)
    assert not check.ok and check.table == "row_updates", check
    assert check.key == f"event {2 if edit in ('inserted', 'moved') else event}"


# --- a write that changes nothing ---------------------------------------------------------

def test_nothing_changed_writes_no_event(filled: kuznia.Workspace, tmp_path: Path,
                                         example_dir: Path):
    with filled.store.read() as conn:
        before = audit.head(conn)
    r = filled.import_file("uses", example_dir / "uses.csv")
    assert (r.added, r.updated, r.rejected, r.event_id) == (0, 0, 0, None)
    r = filled.import_file("uses", example_dir / "uses.csv", update=True)
    assert r.event_id is None
    with filled.store.read() as conn:
        assert audit.head(conn) == before
    # a change still writes one
    f = write_csv(tmp_path / "n.csv", USE_HEADER, [use_row("N1")])
    assert filled.import_file("uses", f).event_id == before[0] + 1


def test_a_replayed_use_moves_no_head(filled: kuznia.Workspace, tmp_path: Path):
    from server_helpers import serve

    served = serve(filled, tmp_path / "data")
    use = dict(zip(USE_HEADER, use_row("NEW-1"), strict=True))
    body = {k: (v if v != "" else None) for k, v in use.items()}
    h = served.headers("engineer")
    with TestClient(served.app) as client:
        first = client.post("/api/v1/uses", json=body, headers=h)
        assert first.status_code == 201, first.text
        with filled.store.read() as conn:
            head = audit.head(conn)
        for _ in range(3):
            again = client.post("/api/v1/uses", json=body, headers=h)
            assert again.status_code == 200 and again.json()["event_id"] is None
    with filled.store.read() as conn:
        assert audit.head(conn) == head
