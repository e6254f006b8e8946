"""Ukrainian and English (issue 30): the catalogue is complete, every template string is
marked, plural forms and formats follow the language, the language comes from the
account's choice, else the browser's, else English, and a crawl of the pages in Ukrainian
leaves no English beyond ids, names and the workspace's own words."""

from __future__ import annotations

import csv
import datetime as dt
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from babel.messages.extract import extract_from_dir
from babel.messages.frontend import parse_mapping_cfg
from babel.messages.mofile import read_mo
from babel.messages.pofile import read_po
from fastapi.testclient import TestClient
from hypothesis import given
from hypothesis import strategies as st

import kuznia
from kuznia import i18n
from kuznia.i18n import language, ngettext
from kuznia.server.web.base import _fig, _num
from kuznia.services import accounts
from template_text import unmarked
from test_pages_speak import significant_digits

ROOT = Path(__file__).resolve().parents[1]
SRC = Path(kuznia.__file__).parent
PO = SRC / "locale" / "uk" / "LC_MESSAGES" / "kuznia.po"
MO = PO.with_suffix(".mo")
PLACEHOLDER = re.compile(r"%\((\w+)\)s")


def extracted() -> dict[str | tuple[str, ...], str]:
    """Every message ``pybabel extract`` finds with the project's mapping (babel.cfg)."""
    with open(ROOT / "babel.cfg") as f:
        method_map, options_map = parse_mapping_cfg(f)
    keywords = {"_": None, "gettext": None, "ngettext": (1, 2), "N_": None, "Text": None,
                "Plural": (1, 2)}
    found: dict[str | tuple[str, ...], str] = {}
    for filename, _line, message, _comments, _ctx in extract_from_dir(
            str(SRC), method_map, options_map, keywords=keywords):
        found[message if isinstance(message, str) else tuple(message)] = filename
    return found


def entries(messages) -> dict[str | tuple[str, ...], str | tuple[str, ...]]:  # noqa: ANN001
    return {(m.id if isinstance(m.id, str) else tuple(m.id)):
            (m.string if isinstance(m.string, str) else tuple(m.string))
            for m in messages if m.id}


def catalogue() -> dict[str | tuple[str, ...], str | tuple[str, ...]]:
    with open(PO, "rb") as f:
        return entries(read_po(f, locale="uk"))


def test_every_message_has_a_ukrainian_entry_with_the_same_placeholders() -> None:
    found, uk = extracted(), catalogue()
    assert len(found) > 800
    missing = [(k, where) for k, where in found.items() if not uk.get(k)]
    assert missing == [], missing[:20]
    empty = [k for k, v in uk.items() if isinstance(v, tuple) and not all(v)]
    assert empty == []
    wrong = []
    for k, v in uk.items():
        source = " ".join(k) if isinstance(k, tuple) else k
        for form in (v if isinstance(v, tuple) else (v,)):
            if set(PLACEHOLDER.findall(form)) - set(PLACEHOLDER.findall(source)):
                wrong.append((k, form))
            formatted = "%(" in source or "%%" in source  # else said as it is
            if formatted and \
                    form.count("%") - 2 * form.count("%%") != len(PLACEHOLDER.findall(form)):
                wrong.append((k, form))  # a stray % the formatting would trip on
    assert wrong == [], wrong[:10]


def test_ukrainian_has_three_plural_forms_in_every_plural_message() -> None:
    plurals = {k: v for k, v in catalogue().items() if isinstance(k, tuple)}
    assert plurals and all(len(v) == 3 for v in plurals.values())


def test_the_committed_mo_is_the_po_compiled() -> None:
    with open(MO, "rb") as f:
        mo = read_mo(f)
    assert entries(mo) == catalogue(), "run scripts/i18n to compile the .po"


def test_every_template_string_a_person_reads_is_marked() -> None:
    templates = [*SRC.glob("server/templates/*.html"), SRC / "report" / "report.html.j2"]
    found = {p.name: unmarked(p.read_text()) for p in templates}
    assert {k: v for k, v in found.items() if v} == {}


def test_the_template_check_would_see_unmarked_text() -> None:
    src = ('<p>{{ _("Marked") }}</p><h2>Monthly trend {{ x }}</h2>'
           '<td title="the uses">{% if a %}None{% endif %}</td><script>let a = "b";</script>')
    assert unmarked(src) == ["Monthly trend", "None", "the uses"]


@pytest.mark.parametrize(("n", "word"), [(1, "блок"), (2, "блоки"), (5, "блоків"),
                                         (21, "блок"), (11, "блоків"), (22, "блоки"),
                                         (0, "блоків"), (112, "блоків")])
def test_plural_forms_in_ukrainian(n: int, word: str) -> None:
    with language("uk"):
        said = ngettext("%(num)s block, weight %(weight)s", "%(num)s blocks, weight %(weight)s",
                        n, weight="7")
    assert said == f"{n} {word}, вага 7"


@pytest.mark.parametrize(("n", "words"), [(1, "1 block"), (2, "2 blocks"), (5, "5 blocks"),
                                          (21, "21 blocks")])
def test_plural_forms_in_english(n: int, words: str) -> None:
    assert ngettext("%(num)s block, weight %(weight)s", "%(num)s blocks, weight %(weight)s",
                    n, weight="7") == f"{words}, weight 7"


def test_figures_money_dates_and_months_in_each_language() -> None:
    d = dt.date(2026, 12, 7)
    nb = "\u00a0"
    with language("uk"):
        assert i18n.number(4613) == f"4{nb}613"
        assert i18n.number(4613.456, 1) == f"4{nb}613,5"
        assert i18n.day(d) == f"7{nb}груд.{nb}2026{nb}р."
        assert i18n.month(dt.date(2025, 3, 1)) == f"бер.{nb}2025"
        assert i18n.money(4613, "UAH") == f"4{nb}613{nb}₴"
        assert i18n.percent(0.125) == "12,5%"
        assert i18n.compact(12_345_678) == f"12,3{nb}млн"
    assert (i18n.number(4613), i18n.day(d), i18n.month(dt.date(2025, 3, 1))) == \
        ("4,613", f"7{nb}Dec{nb}2026", f"Mar{nb}2025")
    assert (i18n.money(4613, "UAH"), i18n.percent(0.125), i18n.compact(12_345_678)) == \
        ("4,613 UAH", "12.5%", f"12.3{nb}million")


def test_the_language_a_browser_asks_for() -> None:
    assert i18n.best_match("uk-UA,uk;q=0.9,en;q=0.8") == "uk"
    assert i18n.best_match("en-GB,uk;q=0.5") == "en"
    assert i18n.best_match("de,fr;q=0.9") is None
    assert i18n.best_match("uk;q=0, en;q=0.1") == "en"
    with pytest.raises(i18n.UnknownLanguageError, match="choose one of en, uk"):
        i18n.check("de")
    assert i18n.check("uk_UA") == "uk"


# --- the server -----------------------------------------------------------------------------

PLAN = "2027-01"  # a name without letters: the crawl reads no English in it


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[TestClient, dict, Path]]:
    from kuznia.demo import DemoSize, generate
    from kuznia.ingest.tables import IMPORT_ORDER
    from kuznia.server.app import create_app

    folder = tmp_path_factory.mktemp("i18n")
    generate(folder / "data", DemoSize(uses=3000, producers=20), 5, lambda _m: None)
    ws = kuznia.init(str(folder / "ws.db"), "USD", "мова")
    for table in IMPORT_ORDER:
        ws.import_file(table, folder / "data" / f"{table}.csv")
    producer = next(csv.DictReader(open(folder / "data" / "producers.csv")))["producer_id"]
    # a saved plan whose caps bind (its page says what binds and what the greedy rule breaks)
    ws.save_plan(PLAN, ws.allocate(2_000_000.0, max_producer_share=0.4, max_region_share=0.5,
                                   min_category_share={"guided_munition": 0.2}))
    tokens = {}
    for role in accounts.ROLES:
        accounts.add_user(ws.store, role, role, actor="tester", password="correct horse battery",
                          producer=producer if role == "producer" else None,
                          partner="PA-A" if role == "partner" else None)
        tokens[role] = accounts.issue_token(ws.store, role, actor="tester")
    with TestClient(create_app(ws.store, data_dir=folder / "server")) as client:
        yield client, tokens, folder / "data"
    ws.close()


def login(client: TestClient, name: str) -> str:
    """A browser session for ``name``; its CSRF token."""
    page = client.get("/login")
    token = re.search(r'name="login_token" value="([^"]+)"', page.text).group(1)
    r = client.post("/login", data={"name": name, "password": "correct horse battery",
                                    "login_token": token}, follow_redirects=False)
    assert r.status_code == 303, r.text
    page = client.get(r.headers["location"])
    return re.search(r'<meta name="csrf-token" content="([^"]*)"', page.text).group(1)


def test_english_unless_asked_then_the_browsers_language(site) -> None:
    client, tokens, _ = site
    client.cookies.clear()
    h = {"Authorization": f"Bearer {tokens['analyst']}"}
    page = client.get("/overview", headers=h)
    assert '<html lang="en">' in page.text and "Cost per effect by product" in page.text
    page = client.get("/overview", headers={**h, "Accept-Language": "uk-UA,uk;q=0.9"})
    assert '<html lang="uk">' in page.text and "Вартість ефекту за виробами" in page.text
    assert "Cost per effect by product" not in page.text
    # the API keeps its machine English whatever the browser asks
    r = client.get("/api/v1/nothing-here", headers={**h, "Accept-Language": "uk"})
    assert r.status_code == 404 and "Не знайдено" not in r.text


def test_the_switch_keeps_the_accounts_choice(site, tmp_path: Path) -> None:
    client, _, _ = site
    client.cookies.clear()
    csrf = login(client, "engineer")
    page = client.get("/field", headers={"Accept-Language": "en"})
    assert 'action="/language"' in page.text and "Українська" in page.text
    r = client.post("/language", data={"lang": "uk", "next": "/field"},
                    headers={"X-CSRF-Token": csrf, "HX-Request": "true"})
    assert r.status_code == 204 and r.headers["HX-Redirect"] == "/field"
    client.cookies.delete("kuznia_lang")  # the account's own choice, not the cookie, holds
    page = client.get("/field", headers={"Accept-Language": "en"})
    assert '<html lang="uk">' in page.text and "Зберегти це застосування" in page.text
    r = client.post("/language", data={"lang": "xx", "next": "/field"},
                    headers={"X-CSRF-Token": csrf})
    assert r.status_code == 400
    client.post("/language", data={"lang": "en", "next": "//evil.example/"},
                headers={"X-CSRF-Token": csrf}, follow_redirects=False)
    page = client.get("/field")
    assert '<html lang="en">' in page.text
    client.cookies.clear()
    accounts.set_language(client.app.state.store, "engineer", None)  # the browser's again


def test_the_login_page_switches_with_a_cookie(site) -> None:
    client, _, _ = site
    client.cookies.clear()
    r = client.post("/language", data={"lang": "uk", "next": "/login"},
                    follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == "/login"
    assert "Увійти" in client.get("/login").text
    r = client.post("/language", data={"lang": "uk", "next": "/login"},
                    headers={"Origin": "https://elsewhere.example"}, follow_redirects=False)
    assert r.status_code == 403
    client.cookies.clear()


# words a Ukrainian page may carry in Latin letters: acronyms, formats, the product's name
LATIN_OK = {"kuznia", "api", "csv", "json", "xlsx", "excel", "pdf", "utc", "hhi", "sha",
            "ttr", "tts", "fpv", "python", "seed", "mean", "version", "condition", "key",
            "value", "fpv_drone", "ar", "usd", "uah", "eur", "id", "ew", "high", "night"}
FIELD = re.compile(r"\b\w+_\w+\b")
FILE_NAME = re.compile(r"\S+\.(?:csv|xlsx|json|pdf|db)\b")
DATA_COLUMNS = ("name", "description", "region", "operator", "lot", "version", "failure_mode",
                "category", "country", "authority", "stage", "notes", "conditions", "neighbours",
                "fixed_in_version", "producers")


def data_words(folder: Path) -> set[str]:
    """Every word of the workspace's own names, ids and free text (read as written)."""
    out: set[str] = set()
    for path in folder.glob("*.csv"):
        with open(path) as f:
            for row in csv.DictReader(f):
                for k, v in row.items():
                    if v and (k.endswith("_id") or k in DATA_COLUMNS):
                        out |= {w.lower() for w in re.findall(r"[A-Za-z]+", v)}
    return out


@pytest.mark.parametrize("role", accounts.ROLES)
def test_ukrainian_pages_leave_no_english(site, role: str) -> None:
    from test_pages_speak import crawl

    client, tokens, data = site
    client.cookies.clear()
    allowed = LATIN_OK | data_words(data) | set(accounts.ROLES) | {"tester", "english", "marshall"}
    client.headers["Authorization"] = f"Bearer {tokens[role]}"
    client.headers["Accept-Language"] = "uk"
    try:
        start = client.get("/", follow_redirects=False).headers["location"]
        english: dict[str, set[str]] = {}
        pages = 0
        # the pages the links reach, and a saved plan's page (the crawl may not get there)
        for url, text in [*crawl(client, start, limit=40),
                          *crawl(client, f"/plans/{PLAN}", limit=1)]:
            pages += 1
            text = FILE_NAME.sub(" ", text)  # a file's name is read as written
            text = FIELD.sub(" ", text)  # and so is a field's (rank_tied, p_best)
            left = {w for w in re.findall(r"[A-Za-z]{2,}", text) if w.lower() not in allowed}
            if left:
                english[url] = left
    finally:
        del client.headers["Authorization"], client.headers["Accept-Language"]
    assert pages >= 1
    assert english == {}, list(english.items())[:8]


# --- the report and the command line ------------------------------------------------------

def visible_text(html: str) -> str:
    from test_pages_speak import VisibleText

    parser = VisibleText()
    parser.feed(html)
    return parser.text


def test_the_report_in_ukrainian(filled: kuznia.Workspace, example_dir: Path,
                                 tmp_path: Path) -> None:
    english = filled.report(tmp_path / "en").read_text()
    assert '<html lang="en">' in english and "By product" in english
    html = filled.report(tmp_path / "uk", lang="uk").read_text()
    assert '<html lang="uk">' in html
    assert "За виробами" in html and "Журнал аудиту" in html
    text = visible_text(html).replace(str(filled.store.display_url), " ")  # its address
    text = FIELD.sub(" ", FILE_NAME.sub(" ", text))
    allowed = LATIN_OK | data_words(example_dir) | {"tester"}
    left = sorted({w for w in re.findall(r"[A-Za-z]{2,}", text) if w.lower() not in allowed})
    assert left == [], left
    # figures in the report are the language's: thousands grouped by a no-break space, a
    # decimal comma (3,000 effects per use), no decimal point in a table's cell
    assert re.search(r"\d\u00a0\d{3}", html) and re.search(r">\d+,\d{3}<", html)
    assert not re.search(r">\d+\.\d+<", html)


def test_the_report_language_is_checked(filled: kuznia.Workspace, tmp_path: Path) -> None:
    from kuznia.errors import UsageError

    with pytest.raises(UsageError, match="no such language 'de'"):
        filled.report(tmp_path / "de", lang="de")


def test_the_cli_report_takes_lang_and_kuznia_lang(tmp_path: Path, example_dir: Path) -> None:
    """The options are the command line's own: one SQLite workspace (not each backend)."""
    import os
    import subprocess
    import sys

    from kuznia.ingest.tables import IMPORT_ORDER

    db = str(tmp_path / "report.db")
    with kuznia.init(db, "USD", actor="tester") as ws:
        for table in IMPORT_ORDER:
            ws.import_file(table, example_dir / f"{table}.csv")
    out = tmp_path / "cli"
    run = [sys.executable, "-m", "kuznia", "report", "--db", db, "--out", str(out)]
    env = {**os.environ, "KUZNIA_LANG": "uk"}
    done = subprocess.run(run, env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    assert '<html lang="uk">' in (out / "report.html").read_text()
    done = subprocess.run([*run, "--lang", "en"], env=env, capture_output=True, text=True,
                          timeout=300)
    assert done.returncode == 0 and '<html lang="en">' in (out / "report.html").read_text()
    env["KUZNIA_LANG"] = "xx"
    done = subprocess.run(run, env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 2 and "KUZNIA_LANG" in done.stderr and "en, uk" in done.stderr


def test_import_problems_in_ukrainian() -> None:
    from kuznia.sentences import say_sentence

    with language("uk"):
        assert say_sentence("is required") == "обов'язкове поле"
        assert say_sentence("must be one of effect, no_effect") == \
            "має бути одним із: effect, no_effect"
        assert say_sentence("is not a column of uses (expected: use_id, used_on)") == \
            "не є стовпцем таблиці застосування (очікувано: use_id, used_on)"
        assert say_sentence("is out of range (at most 9,007,199,254,740,991)") == \
            "поза межами (щонайбільше 9\u00a0007\u00a0199\u00a0254\u00a0740\u00a0991)"
    assert say_sentence("is required") == "is required"


def test_the_cli_speaks_kuznia_lang(tmp_path: Path, example_dir: Path) -> None:
    import os
    import subprocess
    import sys

    db = str(tmp_path / "cli.db")
    env = {**os.environ, "KUZNIA_LANG": "uk"}
    kuznia_cmd = [sys.executable, "-m", "kuznia"]
    done = subprocess.run([*kuznia_cmd, "init", "--db", db], env=env, capture_output=True,
                          text=True, timeout=120)
    assert done.returncode == 0 and "створено робочий простір" in done.stdout, done.stderr
    done = subprocess.run([*kuznia_cmd, "import", "rates", str(example_dir / "rates.csv"),
                           "--db", db], env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0 and ": додано 2, оновлено 0" in done.stdout, done.stdout
    done = subprocess.run([*kuznia_cmd, "init", "--db", db], env={**env, "KUZNIA_LANG": "en"},
                          capture_output=True, text=True, timeout=120)
    assert done.returncode != 0 and "error:" in done.stderr


UK_FIGURE = re.compile(r"\d[\d\u00a0]*(?:,\d+)?(?:e[-+]?\d+)?")


@given(st.one_of(st.floats(-1e13, 1e13, allow_nan=False), st.integers(-10**13, 10**13)),
       st.integers(0, 4))
def test_a_ukrainian_figure_never_prints_more_than_six_digits(value: float,
                                                              digits: int) -> None:
    with language("uk"):
        for shown in (_num(value, digits), _fig(value)):
            figures = UK_FIGURE.findall(shown)
            assert figures and "." not in shown.replace("млн.", ""), shown
            assert all(significant_digits(f.replace("\u00a0", "").replace(",", "."))
                       <= 6 for f in figures), shown
