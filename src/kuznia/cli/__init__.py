"""The command line: thin adapters over the service layer (parse, call, render)."""

from __future__ import annotations

import re
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import typer
from typer.core import TyperGroup

from kuznia.cli import (
    accounts,
    audit,
    continuity,
    data,
    figures,
    licences,
    loop,
    oversight,
    plan,
    resilience,
    serve,
    vault,
)
from kuznia.cli.common import FORMATTED
from kuznia.i18n import N_

# --help in KUZNIA_LANG. Every help text is an English message marked with N_ where it is
# written (the command reference, docs/commands.md, is made from the English); the root
# command below says them, and Typer's and click's own words, in the language when the
# program is run: the help is printed while the arguments are parsed, before any callback
# could choose the language.
TYPER_WORDS = {  # Typer's rich help (module constants it reads when it prints)
    "ARGUMENTS_PANEL_TITLE": N_("Arguments"),
    "OPTIONS_PANEL_TITLE": N_("Options"),
    "COMMANDS_PANEL_TITLE": N_("Commands"),
    "ERRORS_PANEL_TITLE": N_("Error"),
    "DEFAULT_STRING": N_("[default: {}]"),
    "ENVVAR_STRING": N_("[env var: {}]"),
    "REQUIRED_LONG_STRING": N_("[required]"),
    "DEPRECATED_STRING": N_("(deprecated) "),
    "ABORTED_TEXT": N_("Aborted."),
    "RICH_HELP": N_("Try [blue]'{command_path} {help_option}'[/] for help."),
}
USAGE = N_("Usage: ")
HELP_OPTION = N_("Show this message and exit.")


def _say(text: str) -> str:
    from kuznia import i18n

    if text in FORMATTED:  # a help with values (the choices of an option) or a literal %
        message, values = FORMATTED[text]
        return i18n.raw_gettext(message) % values
    return i18n.raw_gettext(text)


class _Formatter(typer._click.formatting.HelpFormatter):  # type: ignore[name-defined]
    def write_usage(self, prog: str, args: str = "", prefix: str | None = None) -> None:
        super().write_usage(prog, args, _say(USAGE) if prefix is None else prefix)


class _Context(typer.Context):
    formatter_class = _Formatter


def speak_help(cmd: Any) -> None:
    """Say the help of ``cmd`` and of every command under it in the language of the moment
    (in place: Typer makes the command tree anew for each run)."""
    if cmd.help:
        cmd.help = _say(cmd.help)
    if cmd.short_help:
        cmd.short_help = _say(cmd.short_help)
    for param in cmd.params:
        if getattr(param, "help", None):
            param.help = _say(param.help)
    shown = cmd.get_help_option(_Context(cmd))  # made once, then kept by the command
    if shown is not None and shown.help == HELP_OPTION:
        shown.help = _say(HELP_OPTION)
    cmd.context_class = _Context  # "Usage: " in the language
    for sub in (getattr(cmd, "commands", None) or {}).values():
        speak_help(sub)


@contextmanager
def typer_words() -> Iterator[None]:
    """Typer's own words of the help and of a usage error in the language of the moment,
    for the block (they are module constants: put back after). Imported here, not when the
    program loads: an English run never needs Typer's rich help unless it prints one."""
    from typer import rich_utils

    before = {name: getattr(rich_utils, name) for name in TYPER_WORDS}
    highlighter = rich_utils.highlighter
    usage = re.escape(_say(USAGE))

    class Highlighter(rich_utils.OptionHighlighter):  # the usage line's word keeps its colour
        highlights = [*rich_utils.OptionHighlighter.highlights, rf"(?P<usage>{usage})"]

    format_error = rich_utils.rich_format_error

    def said_error(e: Any) -> None:  # the parser's own sentence, said by its shape
        from kuznia.sentences import say_sentence

        english = e.format_message
        e.format_message = lambda: say_sentence(english())
        format_error(e)

    try:
        for name, message in TYPER_WORDS.items():
            setattr(rich_utils, name, _say(message))
        rich_utils.highlighter = Highlighter()
        rich_utils.rich_format_error = said_error  # type: ignore[assignment]
        yield
    finally:
        for name, value in before.items():
            setattr(rich_utils, name, value)
        rich_utils.highlighter = highlighter
        rich_utils.rich_format_error = format_error


class _Kuznia(TyperGroup):
    """The root command: speaks KUZNIA_LANG in every command's --help."""

    def main(self, *args: Any, **kwargs: Any) -> Any:
        from kuznia import i18n

        try:
            lang = i18n.from_env(i18n.current())
        except i18n.UnknownLanguageError:  # the root callback names it when a command runs
            lang = i18n.current()
        if lang == i18n.DEFAULT:
            return super().main(*args, **kwargs)
        with i18n.language(lang), typer_words():
            speak_help(self)
            return super().main(*args, **kwargs)


app = typer.Typer(
    name="kuznia",
    cls=_Kuznia,
    help=N_("Kuznia: what does one confirmed effect cost, and which records say so."),
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


@app.callback()
def _language(ctx: typer.Context) -> None:
    # what the commands say to people speaks KUZNIA_LANG (the report's default too), for
    # the command's run only (a test's CliRunner runs several in one process)
    from kuznia import i18n

    try:
        ctx.with_resource(i18n.language(i18n.from_env()))
    except i18n.UnknownLanguageError as e:
        print(f"error: {e}", file=sys.stderr)  # noqa: T201
        raise typer.Exit(2) from None


app.command("init")(data.init)
app.command("migrate")(data.migrate)
app.command("import")(data.import_)
app.command("uses")(data.uses)
app.command("records")(data.records_)
app.command("cost-per-effect")(figures.cost_per_effect)
app.command("report")(figures.report)
app.command("failures")(loop.failures)
app.command("fixes")(loop.fixes)
app.command("growth")(loop.growth)
app.command("board")(loop.board)
app.command("demo")(figures.demo)
app.command("serve")(serve.serve)
app.command("backup")(continuity.backup)
app.command("restore")(continuity.restore)
app.add_typer(audit.app, name="audit")
app.add_typer(accounts.app, name="users")
app.add_typer(plan.app, name="plan")
app.add_typer(resilience.app, name="resilience")
app.add_typer(resilience.repairs_app, name="repairs")
app.add_typer(oversight.app, name="oversight")
app.add_typer(oversight.export_app, name="export")
app.add_typer(licences.app, name="licences")
app.add_typer(vault.app, name="vault")


def main() -> None:
    from kuznia import i18n

    try:  # the language of what the commands say to people (the report's default too)
        i18n.set_language(i18n.from_env())
    except i18n.UnknownLanguageError as e:
        print(f"error: {e}", file=sys.stderr)  # noqa: T201
        raise SystemExit(2) from None
    app()
