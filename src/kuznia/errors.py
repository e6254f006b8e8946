"""One small error hierarchy for everything a user can get wrong.

Each class carries the CLI exit code (and, for the web layer to come, an HTTP status), so
adapters render any error the same way without knowing where it came from.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass


class KuzniaError(Exception):
    """Base of every error meant for a user: the message is a sentence they understand.

    A message about an argument names it by its parameter, as a ``{name}`` token listed in
    ``params`` ("{date_to} is before {date_from}"). ``str()`` shows the parameter names
    (the Python API's words); each adapter renders the tokens in its own words with
    ``render`` (the CLI's ``--to``, a JSON field for the web). Only the listed tokens are
    replaced, so a value quoted in the message may hold braces.
    """

    exit_code = 1
    http_status = 400

    def __init__(self, message: str = "", *, params: tuple[str, ...] = ()):
        self.template = message
        self.params = params
        super().__init__(self.render())

    def render(self, name: Callable[[str], str] = str) -> str:
        text = self.template
        for p in self.params:
            text = text.replace("{" + p + "}", name(p))
        return text

    @property
    def param(self) -> str | None:
        """The parameter the error is about, if one."""
        return self.params[0] if self.params else None


class UsageError(KuzniaError):
    """The command was called wrongly (an unknown group key, a bad option value)."""

    exit_code = 2
    http_status = 400


class WorkspaceError(KuzniaError):
    """The workspace cannot be opened or is not in a usable state."""

    exit_code = 1
    http_status = 409


class NotFoundError(KuzniaError):
    """A record the question names does not exist (or is not the caller's to see): on the
    command line a usage error like any other, on the web a 404."""

    exit_code = 2
    http_status = 404


class ConflictError(KuzniaError):
    """The record exists already with other content (a name taken, a key stored
    otherwise): on the web a 409."""

    exit_code = 1
    http_status = 409


class BackupError(KuzniaError):
    """A backup file that cannot be restored (damaged, cut short, not a backup, or from a
    newer Kuznia), or a restore target that is not empty: nothing was written."""

    exit_code = 1
    http_status = 422


class UnavailableError(WorkspaceError):
    """The workspace's database cannot be reached, or takes no writes just now (a
    failover under way): a CLI exits 1; the server answers 503 with ``Retry-After``."""

    exit_code = 1
    http_status = 503
    retry_after = 2


SHOWN_CHARS = 80  # of a value echoed in a problem: enough to find it, never a whole file


def shown_value(value: str, limit: int = SHOWN_CHARS) -> str:
    """``value`` as a message echoes it: whole if short, else its first ``limit``
    characters and its length (a 50 MB cell made a 50 MB error before).

    >>> shown_value("x" * 100, 5)
    'xxxxx… (100 characters)'
    """
    if len(value) <= limit:
        return value
    return f"{value[:limit]}… ({len(value):,} characters)"


@dataclass(frozen=True)
class RowProblem:
    """One thing wrong with one cell (or one row) of an input file; the value it echoes
    is cut to ``SHOWN_CHARS`` characters (``shown_value``)."""

    file: str
    line: int
    column: str
    message: str
    value: str | None = None

    def __post_init__(self) -> None:
        if self.value is not None and len(self.value) > SHOWN_CHARS:
            object.__setattr__(self, "value", shown_value(self.value))

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
        super().__init__(self._text())

    def _text(self) -> str:
        lines = [str(p) for p in self.problems]
        hidden = self.total - len(self.problems)
        if hidden > 0:
            lines.append(f"... and {hidden:,} more problems in {self.file}")
        rows = "" if self.rows_rejected is None else f" in {self.rows_rejected:,} rows"
        lines.append(f"{self.file}: {self.total:,} problems{rows}; nothing from this file "
                     "was stored")
        return "\n".join(lines)


def from_environment(exc: BaseException) -> KuzniaError | None:
    """The user-facing error for a failure of the machine rather than of Kuznia: a full
    disk, a read-only or locked file, a path that is a folder. None for anything else,
    which stays an internal error.
    """
    seen: list[BaseException] = []
    cur: BaseException | None = exc
    while cur is not None and len(seen) < 8 and cur not in seen:  # the error and its causes
        seen.append(cur)
        known = _one_from_environment(cur)
        if known is not None:
            return known
        cur = cur.__cause__ or cur.__context__
    return None


def _one_from_environment(exc: BaseException) -> KuzniaError | None:
    import errno

    if isinstance(exc, KuzniaError):
        return exc
    if isinstance(exc, OSError) and exc.errno in (errno.ENOSPC, errno.EDQUOT):
        return WorkspaceError("the disk is full; nothing more was written: free some space "
                              "and try again")
    if isinstance(exc, OSError) and exc.errno in (errno.EACCES, errno.EPERM, errno.EROFS):
        return WorkspaceError(f"not allowed: {exc.strerror} ({exc.filename})")
    if isinstance(exc, OSError) and exc.errno in (errno.EISDIR, errno.ENOTDIR):
        return UsageError(f"{exc.filename}: {exc.strerror}")
    text = str(getattr(exc, "orig", None) or exc).lower()
    sqlstate = getattr(getattr(exc, "orig", None), "sqlstate", None) \
        or getattr(exc, "sqlstate", None)
    unavailable = _unavailable(exc, text, sqlstate)
    if unavailable is not None:
        return unavailable
    if "disk is full" in text or "no space left" in text or sqlstate == "53100":
        return WorkspaceError("the disk is full; nothing was stored: free some space and try "
                              "again")
    if "readonly database" in text or "read-only" in text and "transaction" in text:
        return WorkspaceError("the workspace is read-only here; reading works, writing needs "
                              "a workspace you may write to")
    if "database is locked" in text:
        return WorkspaceError("the workspace is busy with another write; nothing was "
                              "stored: try again when it has finished")
    if "unable to open database file" in text:
        return WorkspaceError("the workspace file cannot be opened (a folder, or a place "
                              "this user may not write to)")
    if any(t in text for t in ("authentication failed", "does not exist\n")):
        first = str(getattr(exc, "orig", None) or exc).strip().splitlines()[0]
        return WorkspaceError(f"cannot reach the workspace's database: {first}")
    if "file is not a database" in text or "database disk image is malformed" in text:
        return WorkspaceError("the workspace file is not a Kuznia workspace, or it is "
                              "damaged")
    return None


# PostgreSQL's words for "no primary to write to just now": the connection was lost or
# refused, the server is shutting down or starting, or it is a standby (read-only).
_GONE = ("connection refused", "could not connect", "could not translate host name",
         "connection to server", "server closed the connection", "terminating connection",
         "consuming input failed", "connection is closed", "the connection is lost",
         "the database system is", "server is in hot standby", "session is read-only",
         "no connection to the server", "connection timeout expired")
_GONE_STATES = ("57P01", "57P02", "57P03", "25006")  # shutdowns, starting up, read-only


def _unavailable(exc: BaseException, text: str, sqlstate: str | None
                 ) -> UnavailableError | None:
    if isinstance(exc, KuzniaError):
        return None
    if "sqlite" in type(getattr(exc, "orig", None) or exc).__module__:
        return None
    if getattr(exc, "connection_invalidated", False) or any(t in text for t in _GONE) \
            or (sqlstate or "").startswith("08") or sqlstate in _GONE_STATES:
        first = (str(getattr(exc, "orig", None) or exc).strip().splitlines() or ["?"])[0]
        return UnavailableError(f"cannot reach the workspace's database, or it takes no "
                                f"writes just now (a failover?): {first}; nothing was "
                                "stored: try again shortly")
    return None
