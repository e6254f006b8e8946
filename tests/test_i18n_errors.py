"""Errors people read speak their language (issue 30): every KuzniaError raised in the
code carries a whole message of the catalogue (``N_``, ``Text`` or ``Plural``) with its
values named, never an f-string or glued pieces, so a page and the command line say it
in Ukrainian while the API and the log keep English."""

from __future__ import annotations

import ast
import importlib
import pkgutil
import re
from pathlib import Path

import pytest

import kuznia
from kuznia import i18n
from kuznia.errors import InputError, KuzniaError, NotFoundError, RowProblem, UsageError
from kuznia.i18n import N_, Plural, Text, language

SRC = Path(kuznia.__file__).parent
PLACEHOLDER = re.compile(r"%\((\w+)\)s")
MARKERS = {"N_", "Text", "Plural"}

def error_names() -> set[str]:
    """The names of KuzniaError and every subclass defined anywhere in Kuznia."""
    for mod in pkgutil.walk_packages([str(SRC)], "kuznia."):
        if ".migrations." in mod.name or mod.name.endswith("__main__"):
            continue
        importlib.import_module(mod.name)
    names: set[str] = set()
    todo: list[type] = [KuzniaError]
    while todo:
        cls = todo.pop()
        names.add(cls.__name__)
        todo.extend(cls.__subclasses__())
    return names - {"InputError"}  # its message is its problems, said per line


def _problem(node: ast.Call) -> str | None:
    """What is wrong with the message of ``raise SomeError(...)``, or None."""
    if not node.args:
        return None if not node.keywords or all(k.arg != "message" for k in node.keywords) \
            else None
    first = node.args[0]
    if isinstance(first, ast.Call) and isinstance(first.func, ast.Name) and \
            first.func.id in MARKERS:
        if not first.args or not isinstance(first.args[0], ast.Constant):
            return "a marked message that is not a literal"
        wanted = set(PLACEHOLDER.findall(first.args[0].value))
        given = {k.arg for k in [*node.keywords, *first.keywords] if k.arg} - \
            {"params", "retry_after"}
        if first.func.id == "Plural":
            given.add("num")
        missing = wanted - given
        if missing:
            return f"placeholders with no value: {sorted(missing)}"
        if given:  # said with its values: a stray % would fail the formatting
            try:
                first.args[0].value % {k: "x" for k in given}
            except (ValueError, TypeError, KeyError):
                return "a % the formatting trips on (write %% in a message with values)"
        return None
    if isinstance(first, ast.Name | ast.Attribute | ast.Subscript):
        return None  # a message made beforehand (a Text, or one passed on)
    if isinstance(first, ast.JoinedStr):
        return "an f-string"
    if isinstance(first, ast.Constant):
        return "a message not marked with N_"
    return f"a message built with {type(first).__name__}"


def unmarked_raises() -> list[str]:
    names = error_names()
    found = []
    for path in sorted(SRC.rglob("*.py")):
        rel = str(path.relative_to(SRC))
        if "/migrations/versions/" in str(path):
            continue
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.Raise) and isinstance(node.exc, ast.Call):
                func = node.exc.func
                name = func.id if isinstance(func, ast.Name) else \
                    func.attr if isinstance(func, ast.Attribute) else None
                if name in names:
                    why = _problem(node.exc)
                    if why:
                        found.append(f"{rel}:{node.lineno}: {why}")
    return found


def test_every_error_raised_is_a_whole_message_of_the_catalogue() -> None:
    assert unmarked_raises() == []


def test_the_check_would_see_an_error_built_in_english(tmp_path: Path) -> None:
    source = ('raise UsageError(f"no product {pid}")\n'
              'raise UsageError("no product")\n'
              'raise UsageError(N_("no product %(product)s"))\n'
              'raise UsageError(N_("no product %(product)s"), product=pid)\n'
              'raise UsageError(N_("0% to 100%, not %(x)s"), x=v)\n')
    whys = [_problem(n.exc) for n in ast.walk(ast.parse(source))
            if isinstance(n, ast.Raise) and isinstance(n.exc, ast.Call)]
    assert whys == ["an f-string", "a message not marked with N_",
                    "placeholders with no value: ['product']", None,
                    "a % the formatting trips on (write %% in a message with values)"]


def test_an_error_says_the_language_of_the_moment_and_keeps_english() -> None:
    e = NotFoundError(N_("no account named %(name)s"), name="'ivanna'")
    with language("uk"):
        said = e.say()
        assert str(e) == e.render() == "no account named 'ivanna'"  # the API's and log's
    assert said != str(e) and "'ivanna'" in said
    assert e.say() == "no account named 'ivanna'"


def test_values_are_written_for_the_language_and_parameters_named_by_the_adapter() -> None:
    e = UsageError(N_("{risk} takes mean or a lower quantile q1..q50, not %(risk)s"),
                   params=("risk",), risk="'q99'")
    assert e.render(lambda p: f"--{p}") == \
        "--risk takes mean or a lower quantile q1..q50, not 'q99'"
    with language("uk"):
        assert e.say(lambda p: f"--{p}").startswith("--risk ")
    t = Text("%(a)s and %(b)s", a=1200, b=0.5)
    assert str(t) == "1,200 and 0.5"
    with language("uk"):
        assert t.say() == "1\u00a0200 and 0,5"  # not in the catalogue: said as written


@pytest.mark.parametrize(("n", "form"), [(1, "неправильний пароль"), (2, "неправильні паролі"),
                                         (5, "неправильних паролів"), (21, "неправильний пароль"),
                                         (94, "неправильні паролі"), (112, "неправильних паролів")])
def test_a_plural_error_takes_the_form_its_count_needs(n: int, form: str) -> None:
    e = UsageError(Plural("%(num)s wrong password", "%(num)s wrong passwords", n))
    with language("uk"):
        assert e.say() == f"{i18n.grouped(n)} {form}"
    assert str(e) == f"{n} wrong password" + ("" if n == 1 else "s")


def test_an_input_error_says_each_problem_in_the_language() -> None:
    e = InputError("uses.csv", [RowProblem("uses.csv", 3, "outcome", "is required")],
                   total=46, rows_rejected=40)
    english = str(e)
    assert english.splitlines() == [
        "uses.csv:3: column outcome: is required",
        "... and 45 more problems in uses.csv",
        "uses.csv: 46 problems in 40 rows; nothing from this file was stored"]
    with language("uk"):
        said = e.say()
    assert "стовпець outcome" in said and "обов'язкове поле" in said
    assert not re.search(r"\b(column|problems|nothing|stored)\b", said)


def test_a_message_that_cannot_take_its_values_is_still_said() -> None:
    """A stray % (a message written by hand, a translation) never turns an error into a
    crash of the handler saying it: the message is said with its values listed."""
    said = Text("100% of %(x)s", x=1200).say()
    assert said.startswith("100% of %(x)s") and "1,200" in said
    assert "x=" in str(UsageError(Text("0% to 100%, not %(x)s", x="'a'")))
