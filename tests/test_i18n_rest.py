"""The last English sentences a Ukrainian reader met (issue 30): the demo's progress lines,
why an audit chain does not hold, the planner's reasons and risk line, a licence's worth
when nothing can be bought, how a vault copy was traced, and where a compared plan's offers
came from. Each is produced through its service or command and read in Ukrainian."""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path

import pytest
from typer.testing import CliRunner

import kuznia
from kuznia.cli import app
from kuznia.i18n import language
from kuznia.sentences import say_chain_reason, say_sentence
from kuznia.services import planning

runner = CliRunner()
CYRILLIC = re.compile(r"[А-Яа-яІіЇїЄєҐґ]")
WORDS = re.compile(r"[A-Za-z]{2,}")
# names a Ukrainian sentence keeps as they are: the product, the format of a hash, a zone
LATIN_OK = {"Kuznia", "SHA", "UTC", "kuznia"}


def english_left(said: str, *ids: str) -> list[str]:
    """The words in Latin letters of ``said`` beyond ``ids`` and the names kept as they
    are."""
    for i in sorted(ids, key=len, reverse=True):
        said = said.replace(i, " ")
    return [w for w in WORDS.findall(said) if w not in LATIN_OK]


def said_uk(sentence: str) -> str:
    with language("uk"):
        said = say_sentence(sentence)
    assert said != sentence, sentence  # a shape of kuznia.sentences
    assert CYRILLIC.search(said), said
    return said


def test_the_demo_prints_its_progress_in_kuznia_lang(tmp_path: Path) -> None:
    r = runner.invoke(app, ["demo", "--uses", "100", "--out", str(tmp_path / "rep"),
                            "--data", str(tmp_path / "data"), "--db", str(tmp_path / "d.db")],
                      env={"KUZNIA_LANG": "uk"})
    assert r.exit_code == 0, r.output
    lines = [line for line in r.stderr.splitlines() if line.strip()]
    assert len(lines) >= 12  # generated, an import per table, the accounts, how to serve
    for line in lines:
        assert CYRILLIC.search(line), line
        # beyond the file names, the accounts' names, passwords and tokens, the command
        text = re.sub(r"\S+\.csv|\S+/\S+|demo-\w+|--db|\S{16,}|\bP[A-Z0-9]*-?[A-Z0-9]+\b",
                      " ", line)
        text = re.sub(r"(?<=пароль )\S+", " ", text)
        assert english_left(text, "kuznia serve", "API") == [], line
    assert any("імпортовано" in line for line in lines), lines
    # in English, English as before
    r = runner.invoke(app, ["demo", "--uses", "100", "--out", str(tmp_path / "rep2"),
                            "--data", str(tmp_path / "data2"), "--db", str(tmp_path / "d.db")],
                      env={"KUZNIA_LANG": "en"})
    assert r.exit_code == 0, r.output
    assert "generated: products " in r.stderr and " rows" in r.stderr
    assert not CYRILLIC.search(r.stderr)


def _tamper(ws: kuznia.Workspace, sql: str) -> None:
    with ws.store.engine.begin() as conn:
        conn.exec_driver_sql(sql)


def _verify_uk(ws: kuznia.Workspace, *args: str) -> str:
    r = runner.invoke(app, ["audit", "verify", *args, "--db", ws.store.url],
                      env={"KUZNIA_LANG": "uk"})
    assert r.exit_code == 1, r.output
    return r.stderr


@pytest.mark.parametrize(("sql", "words"), [
    ("UPDATE audit_events SET rows_added = 5 WHERE event_id = 8", "its content does not match"),
    ("DELETE FROM audit_events WHERE event_id = 4", "expected event 4 here"),
    ("UPDATE audit_events SET prev_hash = 'x' WHERE event_id = 4",
     "the event before it was removed"),
])
def test_a_broken_chain_says_why_in_ukrainian(filled: kuznia.Workspace, sql: str,
                                             words: str) -> None:
    _tamper(filled, sql)
    check = filled.verify_audit()
    assert not check.ok and words in (check.reason or "")
    said = said_uk(check.reason or "")
    assert english_left(said) == [], said
    printed = _verify_uk(filled)
    assert said in printed and english_left(printed) == [], printed


def test_a_head_kept_elsewhere_missing_is_said_in_ukrainian(filled: kuznia.Workspace) -> None:
    check = filled.verify_audit(expect_head="ab" * 32)
    assert not check.ok and "is not in the chain" in (check.reason or "")
    said = said_uk(check.reason or "")
    assert english_left(said, "abababababababab") == [], said


@pytest.mark.parametrize(("sql", "table", "words"), [
    ("UPDATE uses SET units_used = units_used + 1", "uses", "its content does not match"),
    ("UPDATE use_cube SET uses = uses + 1", "use_cube", "the kept aggregate differs"),
])
def test_a_deep_check_names_table_and_reason_in_ukrainian(filled: kuznia.Workspace, sql: str,
                                                         table: str, words: str) -> None:
    _tamper(filled, sql)
    check = filled.verify_audit(deep=True)
    assert not check.ok and check.table == table and words in (check.reason or "")
    with language("uk"):
        said = say_chain_reason(check.reason, check.table, check.key)
    assert CYRILLIC.search(said) and english_left(said, check.key or "") == [], said
    assert say_chain_reason(check.reason, check.table, check.key) == check.reason
    printed = _verify_uk(filled, "--deep")
    assert said in printed, printed


def test_the_audit_page_says_why_the_chain_is_broken(filled: kuznia.Workspace) -> None:
    from kuznia.server.web.base import env

    _tamper(filled, "DELETE FROM audit_events WHERE event_id = 4")
    check = filled.verify_audit().to_dict()
    template = env.from_string("{{ check.reason|chain_reason(check.table, check.key) }}")
    with language("uk"):
        said = template.render(check=check)
    assert said == said_uk(check["reason"])
    assert "chain_reason" in (Path(kuznia.__file__).parent / "server" / "templates"
                              / "audit.html").read_text()


@pytest.fixture
def planned(filled: kuznia.Workspace, example_dir: Path) -> kuznia.Workspace:
    filled.import_file("offers", example_dir / "offers.csv")
    return filled


def test_the_planners_reasons_and_risk_line_are_said_in_ukrainian(
        planned: kuznia.Workspace) -> None:
    infeasible = planning.allocate(planned.store, budget=100_000, require={"ATG-B": 50})
    assert infeasible.status == "infeasible"
    nothing = planning.allocate(planned.store, budget=100)
    assert nothing.outcome.startswith("nothing bought: ")
    cautious = planning.allocate(planned.store, budget=300_000, risk="q10")
    risk = [x for x in cautious.explanation if x.startswith("chosen for its own worst")]
    assert risk
    for sentence in [*infeasible.explanation, nothing.outcome, *risk]:
        said = said_uk(sentence)
        assert english_left(said, "ATG-B", "FPV-A", "P001", "P002", "P003") == [], said


def test_nothing_bought_as_things_stand_is_said_in_ukrainian(
        filled: kuznia.Workspace, tmp_path: Path) -> None:
    from helpers import write_csv
    from kuznia.services.licence_value import licence_value

    backlog = write_csv(tmp_path / "backlog.csv", ["item_id", "product_id", "region",
                                                    "damaged_on"],
                        [["I1", "FPV-A", "East", "2026-03-01"]])
    points = write_csv(tmp_path / "points.csv", [
        "point_id", "region", "product_id", "monthly_capacity", "repair_days", "from_region",
        "transit_days", "licence_id"], [["A1", "abroad", "FPV-A", 2, 20, "East", 30, ""]])
    offers = write_csv(tmp_path / "offers.csv", [
        "product_id", "producer_id", "unit_price", "capacity", "min_order", "lot_size",
        "effects_per_unit", "licence_id"], [["FPV-A", "P002", 10, 100, 0, 1, 1.0, "L-002"]])
    # the only offer needs L-002, in review: as things stand the planner refuses
    v = licence_value(filled.store, backlog=backlog, repair_points=points, budget=1000,
                      offers_file=offers, on=dt.date(2026, 4, 1))
    (line,) = [x for x in v.explanation if x.startswith("as things stand")]
    said = said_uk(line)
    assert "every offer needs a licence that is not live" in line
    assert english_left(said, "FPV-A/P002", str(offers)) == [], said
    # from the offers stored in the workspace, the source is said in words too
    _tamper(filled, "DELETE FROM offers")  # the examples' offers, some needing no licence
    filled.import_file("offers", offers)
    v = licence_value(filled.store, backlog=backlog, repair_points=points, budget=1000,
                      on=dt.date(2026, 4, 1))
    (line,) = [x for x in v.explanation if x.startswith("as things stand")]
    assert "offers table" in line
    said = said_uk(line)
    assert english_left(said, "FPV-A/P002") == [], said


def test_a_copy_traced_by_its_copy_id_is_said_in_ukrainian(tmp_path: Path) -> None:
    # the three ways a changed copy is found: each a whole sentence of its own
    from kuznia.services import vault

    assert "found_in" in Path(vault.__file__).read_text()
    for where in ("pdf metadata", "pdf stamp", "zip notice"):
        sentence = f"the copy id in its {where} (the file was changed since)"
        said = said_uk(sentence)
        assert english_left(said, "PDF", "ZIP") == [], said


def test_a_changed_zip_copy_is_traced_and_said_in_ukrainian(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, ws: kuznia.Workspace) -> None:
    import zipfile

    from kuznia.services import accounts, vault

    monkeypatch.setenv("KUZNIA_VAULT_KEY_FILE", str(tmp_path / "vault.key"))
    today = dt.date.today()
    src = tmp_path / "in"
    src.mkdir()
    files = {
        "producers": "producer_id,name,kind,region\nP1,Maker one,state,R1\n",
        "products": "product_id,name,category\nX1,Product one,one_way_drone\n",
        "partners": "partner_id,name,country\nPA,Partner A,Country A\n",
        "licences": "licence_id,partner_id,kind,product_id,producers,requested_on,"
                    "granted_on,expires_on,max_units,status\n"
                    f"L1,PA,repair,X1,P1,{today - dt.timedelta(90)},"
                    f"{today - dt.timedelta(60)},{today + dt.timedelta(300)},,granted\n",
    }
    for table, text in files.items():
        (src / f"{table}.csv").write_text(text)
        ws.import_file(table, src / f"{table}.csv")
    accounts.add_user(ws.store, "maker1", "producer", actor="t", producer="P1")
    doc_file = src / "manual.txt"
    doc_file.write_text("step 1: check.\n" * 3)
    doc = vault.add_document(ws.store, doc_file, licence_id="L1", actor="clerk")
    out = tmp_path / "copy.zip"
    vault.issue_copy(ws.store, doc["doc_id"], account="maker1", out=out)
    changed = tmp_path / "changed.zip"
    with zipfile.ZipFile(out) as z, zipfile.ZipFile(changed, "w") as w:
        for name in z.namelist():
            w.writestr(name, z.read(name))
        w.writestr("extra.txt", "added since")
    found = vault.trace(ws.store, changed)
    assert found["found_by"].startswith("the copy id in its ")
    said = said_uk(found["found_by"])
    assert english_left(said, "ZIP", "PDF") == [], said


def test_a_plan_comparison_says_where_the_offers_came_from(planned: kuznia.Workspace,
                                                          example_dir: Path) -> None:
    for name, source in (("from-table", None), ("from-file", example_dir / "offers.csv")):
        plan = planning.allocate(planned.store, budget=500_000, offers_file=source)
        planned.save_plan(name, plan)
    diff = planned.plan_diff("from-table", "from-file")
    assert diff["inputs"]["offers_source"] == {"from": {"table": "offers"},
                                               "to": {"file": str(example_dir / "offers.csv")}}
    r = runner.invoke(app, ["plan", "diff", "from-table", "from-file", "--db",
                            planned.store.url], env={"KUZNIA_LANG": "uk"})
    assert r.exit_code == 0, r.output
    line = next(x for x in r.stdout.splitlines() if "offers_source" in x)
    assert "table" not in line and "{" not in line, line
    assert CYRILLIC.search(line)
    from kuznia.server.web.base import env

    with language("uk"):
        html = env.get_template("_plan_diff.html").render(diff=diff, input_words={})
    assert "table=" not in html and "file=" not in html
    assert "offers stored" not in html


def test_the_line_a_flagged_price_crossed_is_said_in_ukrainian(filled: kuznia.Workspace,
                                                               tmp_path: Path) -> None:
    from kuznia.services import flag_evidence, oversight_config
    from test_evidence import _more_uses, _outlier

    _more_uses(filled, tmp_path)
    flag = _outlier(filled, tmp_path)
    got = flag_evidence.price_evidence(filled.store, flag, oversight_config.load(None))
    assert got is not None and got["threshold_words"].startswith("above this line")
    said = said_uk(got["threshold_words"])
    assert english_left(said) == [], said
    resale = said_uk("1.5 × the makers' median: a trader's price above it")
    assert english_left(resale) == [], resale
    assert "threshold_words|sentence" in (Path(kuznia.__file__).parent / "server"
                                          / "templates" / "flag.html").read_text()


def test_a_damaged_backup_is_said_in_ukrainian(tmp_path: Path) -> None:
    bad = tmp_path / "cut.kzbak"
    bad.write_bytes(b"not a zip at all")
    r = runner.invoke(app, ["backup", "--verify", str(bad)], env={"KUZNIA_LANG": "uk"})
    assert r.exit_code == 1, r.output
    assert CYRILLIC.search(r.stderr) and english_left(r.stderr, str(bad), "Kuznia") == [], \
        r.stderr
    r = runner.invoke(app, ["backup", "--verify", str(bad)], env={"KUZNIA_LANG": "en"})
    assert "is not a complete Kuznia backup" in r.stderr
