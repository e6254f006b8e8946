"""`kuznia backup` and `kuznia restore`: a workspace to one file and back."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Annotated

import typer

from kuznia.cli.common import (
    DbOption,
    JsonOption,
    count,
    day,
    err,
    handles_errors,
    helps,
    import_progress,
    out,
    print_json,
)
from kuznia.errors import UsageError
from kuznia.i18n import N_, _, ngettext


@handles_errors
@helps(N_(
    "Back up the workspace to one file (every table, from one snapshot), or --verify one.\n"
    "\n"
    "The workspace may be in use meanwhile: the backup holds each write wholly or not at\n"
    "all. The file is written under a temporary name and swapped in when complete. Its\n"
    "SHA-256 is printed last: keep it beside the copy you send off-site."))
def backup(
    out_file: Annotated[Path | None, typer.Option(
        "--out", help=N_("The backup file to write (a new file, or an older backup)."))] = None,
    verify: Annotated[Path | None, typer.Option(
        "--verify", help=N_("Check this backup file without restoring it, instead."))] = None,
    db: DbOption = None,
    json: JsonOption = False,
) -> None:
    from kuznia.services import backup as backups

    if (out_file is None) == (verify is None):
        raise UsageError(N_("give one of {out_file} (write a backup) or {verify} (check one)"),
                         params=("out_file", "verify"))
    if verify is not None:
        check = backups.verify(verify)
        if json:
            print_json(check.to_dict())
        elif check.ok:
            m = check.manifest
            rows = sum(p["rows"] for p in m["parts"])
            out.print(_("%(file)s: a complete backup of %(tables)s, %(rows)s, schema "
                        "%(schema)s (Kuznia %(version)s), made %(made)s, audit head %(head)s",
                        file=verify, tables=_tables(len(m["parts"])), rows=_rows(rows),
                        schema=m["schema_revision"], version=m["kuznia_version"],
                        made=day(m["created_at"]), head=m["audit_head"]["hash"]))
            out.print(check.file_sha256 or "")
        else:
            reason = check.said.say() if check.said is not None else str(check.reason)
            err.print(_("error: ") + reason, style="red")
        if not check.ok:
            raise typer.Exit(1)
        return
    assert out_file is not None
    with import_progress(_("backing up"), disable=json) as update:
        result = backups.backup(db, out_file, progress=_rows_so_far(update))
    if json:
        print_json(result.to_dict())
        return
    m = result.manifest
    rows = sum(p["rows"] for p in m["parts"])
    err.print(_("backed up %(tables)s, %(rows)s (schema %(schema)s, audit head %(head)s) to "
                "%(file)s, %(bytes)s; the file's SHA-256 follows", tables=_tables(len(m["parts"])),
                rows=_rows(rows), schema=m["schema_revision"],
                head=m["audit_head"]["hash"] or _("none"), file=result.path,
                bytes=ngettext("%(num)s byte", "%(num)s bytes", result.size,
                               num=count(result.size))))
    out.print(result.file_sha256)


@handles_errors
@helps(N_(
    "Restore a backup into the empty workspace --db names (a new file, an empty database).\n"
    "\n"
    "Every part is checked against its digest first; an older schema is migrated after;\n"
    "the audit chain must verify deep and hold the backup's head, or nothing is kept."))
def restore(
    file: Annotated[Path, typer.Argument(help=N_("A backup made by 'kuznia backup'."))],
    db: DbOption = None,
    json: JsonOption = False,
) -> None:
    from kuznia.services import restore as restores

    with import_progress(_("restoring"), disable=json) as update:
        result = restores.restore(file, db, progress=_rows_so_far(update))
    if json:
        print_json(result.to_dict())
        return
    rows = sum(result.rows.values())
    values = {"tables": _tables(len(result.rows)), "rows": _rows(rows),
              "target": result.target, "schema": result.schema_revision,
              "head": result.audit_head["hash"]}
    if result.migrated_to:
        out.print(_("restored %(tables)s, %(rows)s into %(target)s (schema %(schema)s, migrated "
                    "to schema %(to)s); the audit chain verifies deep and holds the backup's "
                    "head %(head)s", to=result.migrated_to, **values))
    else:
        out.print(_("restored %(tables)s, %(rows)s into %(target)s (schema %(schema)s); the "
                    "audit chain verifies deep and holds the backup's head %(head)s",
                    **values))


def _tables(n: int) -> str:
    return ngettext("%(num)s table", "%(num)s tables", n, num=count(n))


def _rows(n: int) -> str:
    return ngettext("%(num)s row", "%(num)s rows", n, num=count(n))


def _rows_so_far(update: Callable[..., None]) -> Callable[[str, int], None]:
    """The progress bar's count of rows over every table so far."""
    done: dict[str, int] = {}

    def tick(table: str, rows: int) -> None:
        done[table] = rows
        update(sum(done.values()), None)

    return tick
