"""``--help`` speaks KUZNIA_LANG (issue 30): every command's help, run in Ukrainian, leaves
no English word beyond options, metavars, codes a user types, ids and file names; in
English it is the command reference's text (docs/commands.md, made from the English help
texts) and the same after a Ukrainian run in the same process."""

from __future__ import annotations

import re
from typing import Any

import pytest
from typer import rich_utils
from typer.main import get_command
from typer.testing import CliRunner

from kuznia.cli import TYPER_WORDS, app
from kuznia.cli.figures import GROUP_KEYS
from kuznia.cli.reference import first_sentence
from kuznia.cli.reference import rows as reference_rows
from kuznia.ingest.tables import SPECS
from kuznia.services.accounts import ROLES
from test_i18n import FIELD, FILE_NAME, LATIN_OK

runner = CliRunner()


def command_paths() -> list[list[str]]:
    """The root and every group and command under it, as a user types them."""
    out: list[list[str]] = [[]]

    def walk(cmd: Any, path: list[str]) -> None:
        for name, sub in (getattr(cmd, "commands", None) or {}).items():
            out.append([*path, name])
            walk(sub, [*path, name])

    walk(get_command(app), [])
    return out


def argument_names() -> set[str]:
    out: set[str] = set()

    def walk(cmd: Any) -> None:
        out.update(p.name for p in cmd.params if p.param_type_name == "argument")
        for sub in (getattr(cmd, "commands", None) or {}).values():
            walk(sub)

    walk(get_command(app))
    return out


PATHS = command_paths()
COMMAND_NAMES = {name for path in PATHS for name in path}
# what a user types or reads as a code, not as English: the tables, their columns, the
# roles, the --by keys, the commands' and arguments' names, the licence states, and the
# names of formats, standards and tools
CODES = ({name for name in SPECS} | {f.name for spec in SPECS.values() for f in spec.fields}
         | set(ROLES) | set(GROUP_KEYS) | COMMAND_NAMES | argument_names()
         | {"requested", "granted", "expired", "denied", "revoked", "abroad", "en", "uk",
            "cost"})  # the candidates file's column (the other files' are the tables')
NAMES = {"sqlite", "sqlalchemy", "postgresql", "psycopg", "url", "os", "iso", "utf", "html",
         "png", "jpeg", "tiff", "zip", "office", "https", "tls", "toml", "milp", "saa", "ttr",
         "tts", "hhi", "open", "contracting", "data", "standard", "ocid", "cookie"}
ALLOWED = LATIN_OK | {w.lower() for w in CODES} | NAMES

# the parts of a help that are not sentences: options (--budget, -n), metavars (<float>,
# [OPTIONS] COMMAND [ARGS]..., {name}), a default's or an environment variable's value
# ([типово: mean], [змінна середовища: KUZNIA_DB]), placeholders a user fills
# (PRODUCT=UNITS: written in capitals), file names and snake_case fields
NOT_WORDS = [
    re.compile("|".join(rf"\b{re.escape(n)}\b" for n in COMMAND_NAMES if "-" in n)),
    re.compile(r"(?<![\w-])--?[\w-]+"),
    re.compile(r"<[^>]+>"),
    re.compile(r"\{\w+\}"),
    re.compile(r"\[(?:OPTIONS|ARGS)\]|\bCOMMAND\b"),
    re.compile(r"\[(?:типово|змінна середовища): [^\]]*\]"),
    re.compile(r"\b[A-Z][A-Z_]+\b"),
    re.compile(r"\S+://\S*|/api/v1\S*|\S+\.toml\b|X-Forwarded-For"),
    FILE_NAME,
    FIELD,
]


def english_left(text: str) -> set[str]:
    for pattern in NOT_WORDS:
        text = pattern.sub(" ", text)
    return {w for w in re.findall(r"[A-Za-z]{2,}", text) if w.lower() not in ALLOWED}


def flat(text: str) -> str:
    """A help's words with the panels' frames and the wrapping taken out."""
    return " ".join(re.sub(r"[│╭╮╰╯─]", " ", text).split())


@pytest.mark.parametrize("path", PATHS, ids=lambda p: " ".join(p) or "kuznia")
def test_every_help_speaks_ukrainian(path: list[str]) -> None:
    result = runner.invoke(app, [*path, "--help"], env={"KUZNIA_LANG": "uk"},
                           prog_name="kuznia")
    assert result.exit_code == 0, result.output
    out = result.output
    assert "Використання: kuznia" in out and "Показати цю довідку й вийти." in flat(out)
    assert "Параметри" in out and "Options" not in out
    assert english_left(out) == set(), out


def test_the_check_would_see_english_left() -> None:
    assert english_left("│ --budget <float> Money to spend. [типово: mean] │") == \
        {"Money", "to", "spend"}
    assert english_left("Використання: kuznia plan [OPTIONS] COMMAND [ARGS]... "
                        "ВИРІБ=ОДИНИЦІ, item_id, CSV, [змінна середовища: KUZNIA_DB]") == set()


@pytest.mark.parametrize("row", reference_rows(), ids=lambda r: r[0].split(" [")[0])
def test_english_help_is_the_reference(row: tuple[str, str]) -> None:
    """The first sentence of each command's English help is its line in docs/commands.md,
    and in Ukrainian it is said otherwise."""
    synopsis, summary = row
    words = synopsis.split()[1:]
    path = [w for w in words[:2] if re.fullmatch(r"[a-z][a-z-]*", w) and w in COMMAND_NAMES]
    sentence = summary.replace("\\|", "|")
    english = runner.invoke(app, [*path, "--help"], env={"KUZNIA_LANG": "en"})
    assert english.exit_code == 0
    assert "Usage:" in english.output and "Show this message and exit." in flat(english.output)
    assert sentence in flat(english.output)
    ukrainian = runner.invoke(app, [*path, "--help"], env={"KUZNIA_LANG": "uk"})
    assert sentence not in flat(ukrainian.output)


def test_a_ukrainian_help_leaves_typer_english_after_it() -> None:
    """Typer's words are module constants: a Ukrainian run puts them back, and the next
    run in English (the same process: a test's CliRunner, a server) is English."""
    before = {name: getattr(rich_utils, name) for name in TYPER_WORDS}
    highlighter = rich_utils.highlighter
    english = runner.invoke(app, ["plan", "allocate", "--help"], env={"KUZNIA_LANG": "en"})
    runner.invoke(app, ["plan", "allocate", "--help"], env={"KUZNIA_LANG": "uk"})
    assert {name: getattr(rich_utils, name) for name in TYPER_WORDS} == before
    assert rich_utils.highlighter is highlighter
    again = runner.invoke(app, ["plan", "allocate", "--help"], env={"KUZNIA_LANG": "en"})
    assert again.output == english.output
    assert "Find the plan with the most expected effects" in again.output


def test_a_usage_error_names_the_help_in_ukrainian() -> None:
    result = runner.invoke(app, ["plan", "allocate"], env={"KUZNIA_LANG": "uk"},
                           prog_name="kuznia")
    assert result.exit_code == 2
    assert "Помилка" in result.output and "Довідка: 'kuznia plan allocate --help'" in \
        result.output


def test_the_reference_stays_english_whatever_the_language() -> None:
    from kuznia.cli.reference import table

    english = table()
    runner.invoke(app, ["--help"], env={"KUZNIA_LANG": "uk"})
    assert table() == english
    assert first_sentence(get_command(app).help or "") == \
        "Kuznia: what does one confirmed effect cost, and which records say so"


@pytest.mark.parametrize("args", [["flags"], ["uses", "--limti", "3"], ["uses", "--limit", "abc"],
                                  ["plan", "allocate"], ["uses", "extra"], ["uses", "--db"]],
                         ids=" ".join)
def test_the_parsers_own_sentences_in_ukrainian(args: list[str]) -> None:
    """What the parser (click, inside Typer) says of a wrong command line: no such
    command or option, a missing option, a value of the wrong kind, an extra argument."""
    uk = runner.invoke(app, args, env={"KUZNIA_LANG": "uk"}, prog_name="kuznia")
    en = runner.invoke(app, args, env={"KUZNIA_LANG": "en"}, prog_name="kuznia")
    assert uk.exit_code == en.exit_code == 2
    said = flat(uk.output).split("Помилка", 1)[1]
    # the value typed, and the option's type as Typer names it, are as they were written
    assert english_left(said) - {"int", "abc", "extra"} == set(), said
    assert re.search(r"No such|Missing|Invalid|Got unexpected|requires", en.output)
