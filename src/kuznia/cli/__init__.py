"""The command line: thin adapters over the service layer (parse, call, render)."""

from __future__ import annotations

import sys

import typer

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

app = typer.Typer(
    name="kuznia",
    help="Kuznia: what does one confirmed effect cost, and which records say so.",
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
