"""The Ukrainian catalogue's words (issue 30): one term for each thing (the glossary in
docs/languages.md, "Terms"), and no count whose noun would take the wrong form.

Ukrainian nouns take three forms after a number (1 день, 2 дні, 5 днів, 21 день), so a
message whose English puts a count before a counted noun ("in %(days)s days") is either a
plural message (``ngettext``, three forms) or its Ukrainian keeps the grammar apart from
the number: the noun before the count, after a colon or in parentheses ("днів: %(days)s"),
or an abbreviation ("%(units)s од."). The check reads the .po itself, so it fails on the
catalogue as it was before these were fixed (``problems(PATH)`` lists them).
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from babel.messages.catalog import Catalog
from babel.messages.pofile import read_po

ROOT = Path(__file__).resolve().parents[1]
PO = ROOT / "src/kuznia/locale/uk/LC_MESSAGES/kuznia.po"
DOC = ROOT / "docs/languages.md"

# rejected variants (a pattern, and the term to write instead)
FORBIDDEN = {
    r"коригуюч": "коригувальна дія (corrective action)",
    r"режим\w* відмов": "вид відмови (failure mode)",
    r"\bпоставк": "постачання (delivery); недопоставка stays",
    r"\bдоставк": "постачання (delivery)",
    r"\bзакупк": "закупівля (procurement)",
    r"юніт": "одиниця (unit)",
    r"невірн": "неправильний (wrong)",
    r"нечитабельн": "не читається (unreadable)",
    r"[Оо]б['’]єкт": "майданчик (site)",
    r"[Сс]ерйозніст": "критичність (severity)",
    r"стрибну": "різко зросли (jumped)",
    r"раз\(и\)": "a whole form, or the noun before its count",
    r"\bприйом": "приймання (acceptance)",
}

# counted nouns of the English, and the words that may stand between the count and them
NOUNS = ("days", "uses", "units", "failures", "effects", "contracts", "lots", "producers",
         "offers", "problems", "events", "records", "rows", "months", "scenarios", "groups",
         "updates", "blocks", "stacks", "licences", "flags", "peers", "characters", "bytes",
         "series", "degrees of freedom", "operator-months", "operator-product pairs",
         "sites", "products", "corrective actions", "years", "others")
BETWEEN = ("more", "other", "confirmed", "expected", "new", "lighter", "heaviest",
           "most used", "simulated", "makers'")
_EN = re.compile(r"%\((\w+)\)s\s+(?:(?:" + "|".join(map(re.escape, BETWEEN)) + r")\s+)?(?:"
                 + "|".join(map(re.escape, NOUNS)) + r")\b")
# what may follow a count in Ukrainian: not a word that agrees with it, only a
# preposition or conjunction, an abbreviation ("од.", "міс."), or punctuation
_SMALL = {"на", "з", "із", "зі", "до", "від", "у", "в", "за", "і", "й", "та", "або", "чи",
          "—", "–", "×", "з-поміж", "серед", "після", "по"}
_UK_WORD = re.compile(r"\s*([^\s,.;:()<>«»]+)(\.?)")


def _plain(s: str) -> str:
    return re.sub(r"<[^>]+>", "", s)


def term_problems(catalog: Catalog) -> list[str]:
    out = []
    for m in catalog:
        if not m.id:
            continue
        for text in (m.string if isinstance(m.string, tuple) else (m.string,)):
            for pattern, term in FORBIDDEN.items():
                if text and re.search(pattern, text, re.I):
                    out.append(f"{m.id!r}: {text!r} uses /{pattern}/: write {term}")
    return out


def count_problems(catalog: Catalog) -> list[str]:
    out = []
    for m in catalog:
        if not m.id or isinstance(m.id, tuple) or not m.string:
            continue  # a plural message has its three forms
        english, ukrainian = _plain(m.id), _plain(m.string)
        for hit in _EN.finditer(english):
            place = f"%({hit.group(1)})s"
            for found in re.finditer(re.escape(place), ukrainian):
                if re.search(r"[:(—]\s*$", ukrainian[:found.start()]):
                    continue  # the noun before its count ("днів: %(days)s")
                nxt = _UK_WORD.match(ukrainian, found.end())
                if not nxt or not re.match(r"[А-ЯҐЄІЇа-яґєії'’]", nxt.group(1)):
                    continue
                if nxt.group(1).lower() in _SMALL or nxt.group(2) == ".":
                    continue
                out.append(f"{m.id!r}: {m.string!r}: {place} {nxt.group(1)} agrees with the "
                           f"number; use ngettext or put the noun before the count")
    return out


def problems(path: Path | str = PO) -> list[str]:
    with open(path, "rb") as f:
        catalog = read_po(f, locale="uk")
    return term_problems(catalog) + count_problems(catalog)


def test_catalogue_uses_the_glossary_terms():
    with open(PO, "rb") as f:
        catalog = read_po(f, locale="uk")
    assert term_problems(catalog) == []


def test_no_count_agrees_with_a_number_it_cannot_follow():
    with open(PO, "rb") as f:
        catalog = read_po(f, locale="uk")
    assert count_problems(catalog) == []


@pytest.mark.parametrize(("english", "ukrainian", "bad"), [
    ("Delivered %(days)s days late", "Поставлено через %(days)s днів", True),
    ("Delivered %(days)s days late", "Поставлено із запізненням (днів: %(days)s)", False),
    ("the other %(peers)s contracts", "інші %(peers)s контрактів", True),
    ("%(units)s units of lot %(lot)s", "%(units)s од. партії %(lot)s", False),
    ("%(failures)s failures in %(uses)s uses", "відмов %(failures)s на %(uses)s застосувань",
     True),
    ("%(failures)s failures in %(uses)s uses", "відмов: %(failures)s, застосувань: %(uses)s",
     False),
    ("<a>%(uses)s uses</a>", "<a>застосувань: %(uses)s</a>", False),
    ("%(n)s more uses", "ще %(n)s застосувань", True),
    ("%(n)s blocks as of %(d)s", "Блоків: %(n)s станом на %(d)s", False),
])
def test_the_count_check_tells_agreement_from_its_absence(english, ukrainian, bad):
    catalog = Catalog(locale="uk")
    catalog.add(english, ukrainian)
    assert bool(count_problems(catalog)) is bad


@pytest.mark.parametrize(("ukrainian", "bad"), [
    ("коригуюча дія", True), ("коригувальна дія", False), ("режим відмови", True),
    ("вид відмови", False), ("поставка партії", True), ("недопоставка", False),
    ("Невірний пароль", True), ("Вразливі об'єкти", True), ("Вразливі майданчики", False),
])
def test_the_term_check_finds_rejected_variants(ukrainian, bad):
    catalog = Catalog(locale="uk")
    catalog.add("x", ukrainian)
    assert bool(term_problems(catalog)) is bad


def test_the_glossary_is_written_for_translators():
    """Every term the check enforces is in the glossary of docs/languages.md."""
    text = DOC.read_text(encoding="utf-8")
    assert "## Terms" in text
    terms = text.split("## Terms", 1)[1]
    for english, ukrainian in [("corrective action", "коригувальна дія"),
                               ("failure mode", "вид відмови"), ("delivery", "постачання"),
                               ("site", "майданчик"), ("severity", "критичність"),
                               ("acceptance", "приймання"), ("procurement", "закупівля"),
                               ("use", "застосування"), ("effect", "ефект")]:
        assert re.search(rf"\b{re.escape(english)}\b.*→.*{ukrainian}", terms), english
