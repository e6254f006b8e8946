"""What every command shares: the workspace options, error handling, output helpers."""

from __future__ import annotations

import contextlib
import datetime as dt
import functools
import json
import math
import re
import sys
import typing
from collections.abc import Callable, Iterator
from typing import Annotated, Any, TypeVar

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from kuznia import i18n
from kuznia.errors import KuzniaError, UsageError, from_environment
from kuznia.i18n import N_, _
from kuznia.sentences import say_sentence
from kuznia.services.results import json_safe
from kuznia.settings import Settings

# Piped output (a file, a test) gets wide lines instead of rich's default 80 columns.
_WIDTH = None if sys.stdout.isatty() else 200
# No markup: ids and values come from users' files, and "[/x]" in one must print as it is
# (rich would read it as a closing tag and fail). Styles are given with ``style=``.
out = Console(highlight=False, markup=False, width=_WIDTH)
err = Console(stderr=True, highlight=False, markup=False, width=_WIDTH)


# Service parameters whose command-line option has another name.
ALIASES = {"weights": "weight", "offers_file": "offers", "without_producers": "without_producer",
           "candidates_path": "candidates", "out": "out_dir", "out_file": "out",
           "prefix": "ocid_prefix"}


def option_names(fn: Callable[..., Any]) -> dict[str, str]:
    """Each parameter of a command function and the option a user types for it."""
    try:
        hints = typing.get_type_hints(fn, include_extras=True)
    except Exception:  # noqa: BLE001 - a hint that does not resolve: fall back on names
        hints = {}
    names = {}
    for name, hint in hints.items():
        for meta in getattr(hint, "__metadata__", ()):
            if type(meta).__name__ == "ArgumentInfo":
                names[name] = name.upper()
                continue
            # Typer reads a leading "--name" given where the default goes as the option
            first = getattr(meta, "default", None)
            decls = [*(getattr(meta, "param_decls", ()) or ()),
                     *([first] if isinstance(first, str) else [])]
            decls = [d for d in decls if d.startswith("--")]
            if decls:
                names[name] = decls[0]
    return names


def say_error(error: Exception, options: dict[str, str] | None = None) -> None:
    """An error in the command line's words: parameters as the options that set them."""
    options = options or {}

    def flag(param: str) -> str:
        name = ALIASES.get(param, param)
        return options.get(name) or f"--{name.replace('_', '-')}"

    err.print(_("error: "), style="red", end="")
    err.print(error.say(flag) if isinstance(error, KuzniaError) else str(error))

F = TypeVar("F", bound=Callable[..., Any])

# --help (docs/languages.md): every help text is an English message marked with N_ (the
# command reference, docs/commands.md, is made from the English), said in KUZNIA_LANG when
# the help is shown (``kuznia.cli.speak_help``). pybabel reads no docstrings, so a
# command's help is given by ``helps`` in place of one.
FORMATTED: dict[str, tuple[str, dict[str, str]]] = {}


def helps(text: str, **values: str) -> Callable[[F], F]:
    """A command's help (what its docstring would say), marked for the catalogue:
    ``@helps(N_("Create an empty workspace."))`` right above the ``def``. A help with a
    literal % writes it %% (pybabel reads "90% interval" as a placeholder)."""

    def mark(fn: F) -> F:
        fn.__doc__ = help_with(text, **values)
        return fn

    return mark


def help_with(message: str, **values: str) -> str:
    """A help text with values (the choices of an option) or a literal percent sign
    (written twice): English now, the message said with the same values in the language
    the help is shown in."""
    english = message % values
    if english != message:
        FORMATTED[english] = (message, values)
    return english


DbOption = Annotated[
    str | None,
    typer.Option("--db", envvar="KUZNIA_DB", show_envvar=True,
                 help=N_("Workspace: a SQLite file path or a SQLAlchemy URL "
                         "(postgresql+psycopg://...). Default: kuznia.db here.")),
]
ActorOption = Annotated[
    str | None,
    typer.Option("--as", help=N_("Who is acting, for the audit trail. Default: the OS user.")),
]
JsonOption = Annotated[bool, typer.Option("--json", help=N_("Print JSON instead of a table."))]



def handles_errors(fn: F) -> F:
    """Turn Kuznia errors into a message on stderr and the right exit code, no traceback."""

    options: dict[str, str] = {}

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        if not options:
            options.update(option_names(fn))
        try:
            _finite_options(kwargs)
            return fn(*args, **kwargs)
        except (typer.Exit, typer.Abort):
            raise
        except KuzniaError as exc:
            say_error(exc, options)
            raise typer.Exit(exc.exit_code) from None
        except KeyboardInterrupt:
            err.print(_("interrupted; nothing was stored by the unfinished step"))
            raise typer.Exit(130) from None
        except Exception as exc:
            known = from_environment(exc)
            if known is not None:
                say_error(known, options)
                raise typer.Exit(known.exit_code) from None
            if Settings.from_env().debug:
                raise
            err.print(_("internal error: %(kind)s: %(error)s\n(set KUZNIA_DEBUG=1 to see the "
                        "traceback, and report it)", kind=type(exc).__name__, error=exc))
            raise typer.Exit(3) from None

    return wrapper  # type: ignore[return-value]


INT64_MAX = 2**63 - 1


def _finite_options(kwargs: dict[str, Any]) -> None:
    """Every number option is finite ('nan' and 'inf' parse as floats, and mean nothing)
    and every whole one fits in 64 bits (a database or NumPy takes no more)."""
    for name, value in kwargs.items():
        option = f"--{name.replace('_', '-')}"
        if isinstance(value, float) and not math.isfinite(value):
            raise UsageError(N_("%(option)s must be a finite number, not %(value)s"),
                             option=option, value=str(value))
        if isinstance(value, int) and not isinstance(value, bool) \
                and not -INT64_MAX <= value <= INT64_MAX:
            raise UsageError(N_("%(option)s is out of range (at most %(max)s in size)"),
                             option=option, max=INT64_MAX)


def parse_date(value: str | None, option: str) -> dt.date | None:
    if value is None:
        return None
    try:
        if not re.fullmatch(r"\d{4}-\d{2}-\d{2}", value):  # not 20260101, nor 2026-W01-1
            raise ValueError(value)
        return dt.date.fromisoformat(value)
    except ValueError:
        raise UsageError(N_("%(option)s takes an ISO date (YYYY-MM-DD), not %(value)s"),
                         option=option, value=repr(value)) from None


def print_json(data: Any) -> None:
    """Strict JSON: a figure that is not finite is printed as null, never NaN."""
    sys.stdout.write(json.dumps(json_safe(data), indent=2, ensure_ascii=False,
                                allow_nan=False) + "\n")


@contextlib.contextmanager
def import_progress(label: str, disable: bool = False) -> Iterator[Callable[[int, int], None]]:
    """A progress bar on stderr (rows so far of an estimated total), when it is a terminal."""
    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
               TimeElapsedColumn())
    with Progress(*columns, console=err, transient=True,
                  disable=disable or not err.is_terminal) as bar:
        task = bar.add_task(label, total=None)
        yield lambda done, total: bar.update(task, completed=done, total=total)


def money(x: float | None) -> str:
    """An amount in the workspace's currency, for a person: grouped for the language."""
    return _("unknown") if x is None else i18n.number(x)


def num(x: float | None, digits: int = 0, none: str = "-") -> str:
    """A figure for a person, ``digits`` decimals, in the language's way (4,613 / 4 613)."""
    return none if x is None else i18n.number(x, digits)


def count(n: int | None) -> str:
    """A whole count, its thousands grouped for the language."""
    return "-" if n is None else i18n.grouped(n)


def day(value: object) -> str:
    """A date (or an ISO date's text, or a timestamp's first ten characters) as a person
    reads it in the language; anything else as it is."""
    if value is None or value == "":
        return ""
    if isinstance(value, dt.date):
        return i18n.day(value)
    text = str(value)
    if re.fullmatch(r"\d{4}-\d{2}-\d{2}", text[:10]):
        try:
            d = i18n.day(dt.date.fromisoformat(text[:10]))
        except ValueError:
            return text
        return d + (" " + text[11:19] if len(text) > 10 else "")
    return text


_STATS = re.compile(r"\s*\(([^()]*\bp\s*[=<][^()]*)\)")


def say_flag(text: str) -> str:
    """A red flag's English text in the language of the moment: what is wrong, then its
    statistics in parentheses, each said as the pages say them (``kuznia.sentences``)."""
    if i18n.current() == i18n.DEFAULT:
        return text
    plain = _STATS.sub("", text)
    stats = [m.group(1) for m in _STATS.finditer(text)]
    return say_sentence(plain) + "".join(f" ({say_sentence(s)})" for s in stats)
