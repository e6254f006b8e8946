"""The command line speaks KUZNIA_LANG (issue 30): every command of the reference that
reads a workspace, run in Ukrainian over one demo workspace, prints no English word beyond
ids, names, file names, options and the workspace's own words; in English it still prints
English; and its ``--json`` is the same whatever the language."""

from __future__ import annotations

import csv
import datetime as dt
import json
import re
from collections.abc import Iterator
from typing import Any

import pytest
from typer.main import get_command
from typer.testing import CliRunner

import kuznia
from kuznia.cli import app
from kuznia.cli.reference import rows as reference_rows
from test_i18n import FIELD, FILE_NAME, LATIN_OK, data_words

runner = CliRunner()

# the commands that only read the workspace (or files beside it), with the arguments to
# run them by; {data} is the demo's folder of files, {backup} a backup made beforehand
RUN: dict[str, list[str]] = {
    "uses": ["uses", "--limit", "8"],
    "records": ["records", "contracts", "--limit", "3"],
    "cost-per-effect": ["cost-per-effect", "--by", "product,producer"],
    "failures": ["failures"],
    "fixes": ["fixes"],
    "growth": ["growth", "--product", "{product}"],
    "board": ["board", "--as-of", "2026-12-07"],
    "backup": ["backup", "--verify", "{backup}"],
    "audit list": ["audit", "list", "--limit", "3"],
    "audit history": ["audit", "history"],
    "audit verify": ["audit", "verify"],
    "audit head": ["audit", "head"],
    "users list": ["users", "list"],
    "plan allocate": ["plan", "allocate", "--budget", "2000000", "--time-limit", "20"],
    "plan list": ["plan", "list"],
    "plan show": ["plan", "show", "first"],
    "plan diff": ["plan", "diff", "first", "second"],
    "resilience simulate": ["resilience", "simulate", "--scenarios", "200",
                            "--start", "2026-12-01"],
    "resilience duplicate": ["resilience", "duplicate", "--candidates",
                             "{data}/candidates.csv", "--budget", "5000000",
                             "--scenarios", "100", "--saa-scenarios", "20",
                             "--start", "2026-12-01"],
    "resilience regions": ["resilience", "regions", "--as-of", "2026-12-07"],
    "repairs plan": ["repairs", "plan", "--backlog", "{data}/backlog.csv",
                     "--repair-points", "{data}/repair_points.csv", "--as-of", "2026-12-07"],
    "oversight flags": ["oversight", "flags"],
    "licences": ["licences", "--as-of", "2026-12-07"],
    "licences value": ["licences", "value", "--backlog", "{data}/backlog.csv",
                       "--repair-points", "{data}/repair_points.csv", "--as-of",
                       "2026-12-07"],
    "vault list": ["vault", "list"],
    "vault log": ["vault", "log"],
    "vault trace": ["vault", "trace", "{copy}"],
}
# the commands not run here, and why
SKIPPED: dict[str, str] = {
    "init": "writes a new workspace (in Ukrainian: test_i18n.test_the_cli_speaks_kuznia_lang)",
    "migrate": "writes the schema of an older workspace (test_migrations)",
    "import": "writes rows (its summary in Ukrainian: test_i18n.test_the_cli_speaks_kuznia_lang)",
    "report": "writes an HTML report: test_i18n.test_the_report_in_ukrainian crawls it",
    "demo": "generates and imports a million uses by default, then writes a report",
    "serve": "starts a server (the pages' Ukrainian is test_i18n's crawl)",
    "restore": "writes a whole workspace from a backup",
    "users add": "writes an account", "users token": "writes a token",
    "users disable": "writes an account's state", "users revoke-tokens": "writes tokens",
    "users unlock": "writes a lock's state",
    "export ocds": "writes a JSON file for publication (machine words only, but one line)",
    "vault add": "writes a sealed document and needs the vault's key file",
    "vault get": "writes a marked copy for a producer's account under a live licence",
    "vault shred": "destroys a partner's key",
}
WORDS = re.compile(r"[A-Za-z]{2,}")
CYRILLIC = re.compile(r"[А-Яа-яІіЇїЄєҐґ]")
OPTION = re.compile(r"--[a-z][a-z-]*(?:[ =][^\s│,;)]+)?")  # an option and its value
HEX = re.compile(r"\b[0-9a-f]{12,}\b")  # a hash
QUOTED_COMMAND = re.compile(r"'kuznia [^']*'")
RECORDED = re.compile(r"\{.*\}", re.S)  # an audit event's detail, as the chain recorded it


def command_names() -> set[str]:
    """Each command of the reference by its words (``audit list``, ``licences value``)."""
    names = set()
    for synopsis, _summary in reference_rows():
        words = []
        for w in synopsis.split()[1:]:
            if not re.fullmatch(r"[a-z][a-z-]*", w):
                break
            words.append(w)
        names.add(" ".join(words))
    return names


def test_every_command_of_the_reference_is_run_or_skipped_with_a_reason() -> None:
    assert set(RUN) & set(SKIPPED) == set()
    assert command_names() == set(RUN) | set(SKIPPED)


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    """One demo workspace (SQLite): every table, two accounts, two saved plans, a backup."""
    from kuznia.demo import DemoSize, generate
    from kuznia.ingest.tables import IMPORT_ORDER
    from kuznia.services import accounts, vault
    from kuznia.services import backup as backups

    folder = tmp_path_factory.mktemp("i18n_cli")
    data = folder / "data"
    files = generate(data, DemoSize(uses=3000, producers=20), 5)
    db = str(folder / "ws.db")
    with kuznia.init(db, "USD", actor="tester") as ws:
        for table in IMPORT_ORDER:
            ws.import_file(table, files[table])
        producer = next(csv.DictReader(open(files["producers"])))["producer_id"]
        accounts.add_user(ws.store, "boss", "admin", actor="tester",
                          password="correct horse battery")
        accounts.add_user(ws.store, "maker", "producer", actor="tester", producer=producer)
        accounts.issue_token(ws.store, "maker", actor="tester")
        ws.save_plan("first", ws.allocate(1_000_000, time_limit=20))
        ws.save_plan("second", ws.allocate(2_000_000, time_limit=20))
        # a document in the vault under a live licence, a copy issued and one refused
        today = dt.date.today().isoformat()
        licence = next(r for r in csv.DictReader(open(files["licences"]))
                       if r["status"] == "granted" and r["granted_on"] <= today
                       and (not r["expires_on"] or r["expires_on"] > today)
                       and producer not in r["producers"].split(";"))
        named = licence["producers"].split(";")[0]
        accounts.add_user(ws.store, "named", "producer", actor="tester", producer=named)
        (folder / "drawing.txt").write_text("a drawing\n", encoding="utf-8")
        with pytest.MonkeyPatch.context() as env:
            env.setenv("KUZNIA_VAULT_KEY_FILE", str(folder / "vault.key"))
            doc = vault.add_document(ws.store, folder / "drawing.txt",
                                     licence_id=licence["licence_id"], actor="tester")
            vault.issue_copy(ws.store, doc["doc_id"], account="named",
                             out=folder / "copy.zip")
            with pytest.raises(kuznia.errors.NotFoundError):
                vault.issue_copy(ws.store, doc["doc_id"], account="maker",
                                 out=folder / "refused.zip")
    backups.backup(db, folder / "ws.backup")
    product = next(csv.DictReader(open(files["versions"])))["product_id"]
    yield {"db": db, "folder": folder, "data": data, "product": product,
           "backup": str(folder / "ws.backup"), "copy": str(folder / "copy.zip")}


def run(demo: dict[str, Any], args: list[str], lang: str) -> tuple[int, str]:
    """The command in this process, in ``lang``: its exit code and all it printed."""
    filled = [a.format(data=demo["data"], product=demo["product"], backup=demo["backup"],
                       copy=demo["copy"]) for a in args]
    r = runner.invoke(app, [*filled, "--db", demo["db"]], env={"KUZNIA_LANG": lang})
    if r.exception and not isinstance(r.exception, SystemExit):
        raise r.exception
    return r.exit_code, r.stdout + r.stderr


def takes_json(args: list[str]) -> bool:
    cmd: Any = get_command(app)
    for word in args:
        subs = getattr(cmd, "commands", None)
        if not subs or word not in subs:
            break
        cmd = subs[word]
    return any(p.name == "json" for p in cmd.params)


def machine(text: str) -> Any:
    """A command's JSON, without what a run's clock decides (a solver's seconds)."""
    def drop(x: Any) -> Any:
        if isinstance(x, dict):
            return {k: drop(v) for k, v in x.items() if not k.endswith("seconds")}
        if isinstance(x, list):
            return [drop(v) for v in x]
        return x

    return drop(json.loads(text))


def english_left(demo: dict[str, Any], name: str, text: str, js: Any) -> list[str]:
    """The words of ``text`` in Latin letters that are not ids, names, file names, options,
    hashes or the workspace's own words."""
    allowed = LATIN_OK | data_words(demo["data"]) | {"tester", "boss", "maker", "first",
                                                      "second", "marshall", "lp", "named", "txt",
                                                      "drawing"}
    if name == "records":  # its columns are the import format's, as --where takes them
        allowed |= {w.lower() for row in js["rows"] for k in row for w in WORDS.findall(k)}
    if name == "oversight flags":  # each flag's command that lists the records behind it
        allowed |= {w.lower() for f in js["flags"] for w in WORDS.findall(
            f["evidence"]["command"])}
    if name in ("plan show", "plan diff"):  # the plan's inputs, as given
        allowed |= {w.lower() for k in js["inputs"] for w in WORDS.findall(k)}
    text = text.replace(demo["backup"], " ").replace(str(demo["folder"]), " ")
    for pattern in (QUOTED_COMMAND, RECORDED, OPTION, HEX, FILE_NAME, FIELD):
        text = pattern.sub(" ", text)
    return sorted({w for w in WORDS.findall(text) if w.lower() not in allowed})


@pytest.mark.parametrize("name", sorted(RUN))
def test_the_command_speaks_ukrainian_and_its_json_stays(demo: dict[str, Any],
                                                        name: str) -> None:
    args = RUN[name]
    code_uk, uk = run(demo, args, "uk")
    code_en, en = run(demo, args, "en")
    assert code_uk == code_en == 0, (uk, en)
    js = None
    if takes_json(args):
        code_uk_js, uk_js = run(demo, [*args, "--json"], "uk")
        code_en_js, en_js = run(demo, [*args, "--json"], "en")
        assert code_uk_js == code_en_js == 0
        js = machine(en_js)
        assert machine(uk_js) == js  # the machine's format whatever the language
        assert not CYRILLIC.search(uk_js)
    assert CYRILLIC.search(uk), uk
    assert english_left(demo, name, uk, js) == [], uk
    # in English, English: no Ukrainian, and words a Ukrainian run would not leave
    assert not CYRILLIC.search(en), en
    assert english_left(demo, name, en, js), en


def test_counts_figures_and_dates_follow_the_language(demo: dict[str, Any]) -> None:
    _, uk = run(demo, ["audit", "verify"], "uk")
    _, en = run(demo, ["audit", "verify"], "en")
    events = int(re.search(r"(\d+) events", en).group(1))
    word = "подія" if events % 10 == 1 and events % 100 != 11 else \
        "події" if events % 10 in (2, 3, 4) and events % 100 not in (12, 13, 14) else "подій"
    assert f"{events} {word}" in uk  # Ukrainian's plural form for the count
    _, uk = run(demo, ["uses", "--limit", "3"], "uk")
    assert "3\u00a0000 застосувань" in uk and "3,000" not in uk
    assert re.search(r"\d{1,2}\u00a0[а-яі]+\.\u00a0\d{4}\u00a0р\.", uk)  # a day in Ukrainian
    _, uk = run(demo, ["licences", "--as-of", "2026-12-07"], "uk")
    assert "10 ліцензій станом на 7\u00a0груд.\u00a02026\u00a0р." in uk


def test_no_records_found_is_said_in_words(demo: dict[str, Any]) -> None:
    """A listing that finds nothing says so (a table of no columns printed nothing)."""
    where = ["records", "uses", "--where", "use_id=a/b"]
    assert run(demo, where, "en") == (0, "uses: 0 rows\n")
    assert run(demo, where, "uk") == (0, "застосування: 0 рядків\n")


def test_an_unknown_language_is_refused_naming_it(demo: dict[str, Any]) -> None:
    r = runner.invoke(app, ["audit", "verify", "--db", demo["db"]], env={"KUZNIA_LANG": "xx"})
    assert r.exit_code == 2 and "KUZNIA_LANG" in r.stderr and "en, uk" in r.stderr


def test_an_error_of_the_command_line_speaks_the_language(demo: dict[str, Any]) -> None:
    code, uk = run(demo, ["records", "contracts", "--where", "nothing"], "uk")
    code_en, en = run(demo, ["records", "contracts", "--where", "nothing"], "en")
    assert code == code_en == 2
    assert "--where takes COLUMN=VALUE, not 'nothing'" in en
    assert "--where" in uk and "'nothing'" in uk and "takes" not in uk and CYRILLIC.search(uk)


def test_a_quarantined_rows_problem_in_ukrainian(tmp_path) -> None:  # noqa: ANN001
    db = str(tmp_path / "q.db")
    kuznia.init(db, "USD", actor="tester").close()
    bad = tmp_path / "p.csv"
    bad.write_text("producer_id,name,kind,region\nQ1,A,state,R\nQ2,B,nope,R\n",
                   encoding="utf-8")
    r = runner.invoke(app, ["import", "producers", str(bad), "--quarantine",
                            str(tmp_path / "rejected.csv"), "--db", db],
                      env={"KUZNIA_LANG": "uk"})
    assert r.exit_code == 1, r.output
    assert "додано 1" in r.stdout and "відхилено 1" in r.stdout
    assert f"{bad}:3: стовпець kind: має бути одним із: " in r.stderr
    assert "column" not in r.stderr and "must be" not in r.stderr
