"""One small error hierarchy for everything a user can get wrong.

Each class carries the CLI exit code (and, for the web layer to come, an HTTP status), so
adapters render any error the same way without knowing where it came from.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from kuznia.i18n import DEFAULT, N_, Plural, Text, gettext, grouped, language, ngettext


class KuzniaError(Exception):
    """Base of every error meant for a user: the message is a sentence they understand.

    The message is a whole message of the catalogue (``kuznia.i18n``), marked with ``N_``
    where it is raised, its values named: ``NotFoundError(N_("no product %(product)s"),
    product=pid)``, or a ``Text``/``Plural`` made beforehand. ``str()`` and ``render`` say
    it in English (the API's and the log's words); ``say`` in the language of the moment
    (a page's, the command line's).

    A message about an argument names it by its parameter, as a ``{name}`` token listed in
    ``params`` ("{date_to} is before {date_from}"). ``str()`` shows the parameter names
    (the Python API's words); each adapter renders the tokens in its own words (the CLI's
    ``--to``, a JSON field for the web). Only the listed tokens are replaced, so a value
    quoted in the message may hold braces.
    """

    exit_code = 1
    http_status = 400

    def __init__(self, message: str | Text = "", *, params: tuple[str, ...] = (),
                 **values: Any):
        self.text = message if isinstance(message, Text) else Text(message, **values)
        self.params = params
        super().__init__(self.render())

    @property
    def template(self) -> str:
        """The message in English, its values in, its parameters as ``{name}`` tokens."""
        return str(self.text)

    def say(self, name: Callable[[str], str] = str) -> str:
        """The message in the language of the moment, parameters named by ``name``."""
        text = self.text.say()
        for p in self.params:
            text = text.replace("{" + p + "}", name(p))
        return text

    def render(self, name: Callable[[str], str] = str) -> str:
        """The message in English, parameters named by ``name``."""
        with language(DEFAULT):
            return self.say(name)

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
    retry_after: int | None = 2


class DiskFullError(UnavailableError):
    """The disk under the workspace (or a file being written) is full: nothing was stored.
    A 503 like an unreachable database (the request was right; the machine cannot take
    it now), but with no ``Retry-After``: the space comes back only when someone frees
    it. (507 Insufficient Storage is WebDAV's, and says the same to fewer clients.)"""

    retry_after = None


class UnauthorizedError(KuzniaError):
    """No credentials, or credentials that are not (or no longer) good (HTTP 401)."""

    exit_code = 2
    http_status = 401


class ForbiddenError(KuzniaError):
    """The account's role may not do this (HTTP 403)."""

    exit_code = 2
    http_status = 403


class TooManyAttemptsError(KuzniaError):
    """Too many failed sign-ins: from this address, wait ``retry_after`` seconds; a locked
    account waits for an admin (HTTP 429). Not a kind of ``ForbiddenError``: the caller
    may do this, only not now."""

    exit_code = 2
    http_status = 429

    def __init__(self, message: str | Text = "", *, retry_after: int | None = None,
                 **values: Any):
        self.retry_after = retry_after
        super().__init__(message, **values)


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
        super().__init__()

    def summary(self) -> Plural:
        """How many problems, and that nothing was stored: the line a job keeps to say."""
        return Plural("%(file)s: %(num)s problem; nothing from this file was stored",
                      "%(file)s: %(num)s problems; nothing from this file was stored",
                      self.total, file=self.file)

    def say(self, name: Callable[[str], str] = str) -> str:
        """Each problem on a line, in the language of the moment: the file, line and
        column as they are, what is wrong in words (``kuznia.sentences``)."""
        from kuznia.sentences import say_sentence, say_value

        lines = []
        for p in self.problems:
            shown = "" if p.value is None else f" ({say_value(p.value, p.message)})"
            lines.append(gettext("%(file)s:%(line)s: column %(column)s: %(problem)s",
                                 file=p.file, line=p.line, column=p.column,
                                 problem=say_sentence(p.message)) + shown)
        hidden = self.total - len(self.problems)
        if hidden > 0:
            lines.append(ngettext("... and %(num)s more problem in %(file)s",
                                  "... and %(num)s more problems in %(file)s", hidden,
                                  num=grouped(hidden), file=self.file))
        if self.rows_rejected is None:
            lines.append(self.summary().say())
        else:
            lines.append(ngettext(
                "%(file)s: %(num)s problem in %(rows)s rows; nothing from this file was "
                "stored",
                "%(file)s: %(num)s problems in %(rows)s rows; nothing from this file was "
                "stored", self.total, num=grouped(self.total),
                rows=grouped(self.rows_rejected), file=self.file))
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
        return DiskFullError(N_("the disk is full; nothing more was written: free some "
                                "space and try again"))
    if isinstance(exc, OSError) and exc.errno in (errno.EACCES, errno.EPERM, errno.EROFS):
        return WorkspaceError(N_("not allowed: %(why)s (%(file)s)"), why=str(exc.strerror),
                              file=str(exc.filename))
    if isinstance(exc, OSError) and exc.errno in (errno.EISDIR, errno.ENOTDIR):
        return UsageError(N_("%(file)s: %(why)s"), file=str(exc.filename),
                          why=str(exc.strerror))
    condition = driver_condition(exc)
    if condition is None:
        return None
    if condition == "unreachable":
        return UnavailableError(N_("cannot reach the workspace's database, or it takes no "
                                   "writes just now (a failover?): %(cause)s; nothing was "
                                   "stored: try again shortly"), cause=_first_line(exc))
    return WorkspaceError(_SAID[condition]) if condition != "full" else \
        DiskFullError(_SAID[condition])


_SAID = {  # whole messages of the catalogue, said where the error is shown
    "full": N_("the disk is full; nothing was stored: free some space and try again"),
    "read_only": N_("the workspace is read-only here; reading works, writing needs a "
                    "workspace you may write to"),
    "busy": N_("the workspace is busy with another write; nothing was stored: try again "
               "when it has finished"),
    "cannot_open": N_("the workspace file cannot be opened (a folder, or a place this user "
                      "may not write to)"),
    "not_a_database": N_("the workspace file is not a Kuznia workspace, or it is damaged"),
}


def _first_line(exc: BaseException) -> str:
    return (str(getattr(exc, "orig", None) or exc).strip().splitlines() or ["?"])[0]


# SQLite's primary result codes (an extended code's low byte: SQLITE_READONLY_DBMOVED is
# SQLITE_READONLY), https://sqlite.org/rescode.html
_SQLITE_CONDITIONS = {
    5: "busy",  # SQLITE_BUSY
    6: "busy",  # SQLITE_LOCKED
    8: "read_only",  # SQLITE_READONLY
    11: "not_a_database",  # SQLITE_CORRUPT
    13: "full",  # SQLITE_FULL
    14: "cannot_open",  # SQLITE_CANTOPEN
    26: "not_a_database",  # SQLITE_NOTADB
}
# PostgreSQL's SQLSTATEs: no primary to write to just now (a connection exception, class
# 08; a shutdown or start-up, 57P01-03; a standby's read-only transaction, 25006; a login
# refused, 28000/28P01, or a database missing, 3D000), or a full disk (53100).
_POSTGRES_CONDITIONS = {
    "57P01": "unreachable", "57P02": "unreachable", "57P03": "unreachable",
    "25006": "unreachable", "28000": "unreachable", "28P01": "unreachable",
    "3D000": "unreachable", "53100": "full",
}


def driver_condition(exc: BaseException) -> str | None:
    """What a database driver's error means for a user, read from its code, never from its
    words: ``busy``, ``full``, ``read_only``, ``cannot_open``, ``not_a_database`` or
    ``unreachable``; None for anything else (an internal error).

    SQLite: the error's ``sqlite_errorcode`` (its primary code). PostgreSQL: psycopg's
    ``sqlstate``; a psycopg ``OperationalError`` with no SQLSTATE is one libpq raised with
    no answer from a server (refused, lost, or a login the server turned away before a
    session), so the database is unreachable. SQLAlchemy's wrapper (``.orig``) is looked
    through, and a connection it marked invalidated is unreachable.

    >>> import sqlite3
    >>> e = sqlite3.OperationalError("database or disk is full")
    >>> e.sqlite_errorcode = sqlite3.SQLITE_FULL
    >>> driver_condition(e)
    'full'
    >>> driver_condition(sqlite3.OperationalError("database or disk is full"))  # no code
    """
    if isinstance(exc, KuzniaError):
        return None
    orig = getattr(exc, "orig", None) or exc
    code = getattr(orig, "sqlite_errorcode", None)
    if isinstance(code, int):
        return _SQLITE_CONDITIONS.get(code & 0xFF)
    if getattr(exc, "connection_invalidated", False):
        return "unreachable"
    if not type(orig).__module__.startswith("psycopg"):
        return None
    state = getattr(orig, "sqlstate", None)
    if state is None:
        return "unreachable" if any(
            c.__name__ == "OperationalError" for c in type(orig).__mro__) else None
    if state.startswith("08"):
        return "unreachable"
    return _POSTGRES_CONDITIONS.get(state)
