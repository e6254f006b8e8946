"""One small error hierarchy for everything a user can get wrong.

Each class carries the CLI exit code (and, for the web layer to come, an HTTP status), so
adapters render any error the same way without knowing where it came from.
"""

from __future__ import annotations

from dataclasses import dataclass


class KuzniaError(Exception):
    """Base of every error meant for a user: the message is a sentence they understand."""

    exit_code = 1
    http_status = 400


class UsageError(KuzniaError):
    """The command was called wrongly (an unknown group key, a bad option value)."""

    exit_code = 2
    http_status = 400


class WorkspaceError(KuzniaError):
    """The workspace cannot be opened or is not in a usable state."""

    exit_code = 1
    http_status = 409


@dataclass(frozen=True)
class RowProblem:
    """One thing wrong with one cell (or one row) of an input file."""

    file: str
    line: int
    column: str
    message: str
    value: str | None = None

    def __str__(self) -> str:
        shown = "" if self.value is None else f" ({self.value})"
        return f"{self.file}:{self.line}: column {self.column}: {self.message}{shown}"


class InputError(KuzniaError):
    """An input file has problems; nothing from it was stored.

    ``problems`` holds the first problems found (up to the reporting limit) and ``total``
    how many there were in all.
    """

    exit_code = 1
    http_status = 422

    def __init__(
        self,
        file: str,
        problems: list[RowProblem],
        total: int | None = None,
        rows_rejected: int | None = None,
    ):
        self.file = file
        self.problems = problems
        self.total = len(problems) if total is None else total
        self.rows_rejected = rows_rejected
        super().__init__(self.render())

    def render(self) -> str:
        lines = [str(p) for p in self.problems]
        hidden = self.total - len(self.problems)
        if hidden > 0:
            lines.append(f"... and {hidden:,} more problems in {self.file}")
        rows = "" if self.rows_rejected is None else f" in {self.rows_rejected:,} rows"
        lines.append(
            f"{self.file}: {self.total:,} problems{rows}; nothing from this file was stored"
            " (use --quarantine OUT.csv to store the good rows and set the rest aside)"
        )
        return "\n".join(lines)
