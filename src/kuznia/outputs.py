"""Where Kuznia writes files: never over the workspace, an input, or a user's own files.

Every output path a user names (a quarantine file, a chart, a report folder, an export)
goes through ``check_output`` before anything is opened, and is then written through
``replace_file`` or ``replace_folder``: the new content goes to a temporary name beside the
target and is swapped in only when complete, so an error half-way leaves the old file as it
was. A folder is replaced only when Kuznia made it (it holds ``MARKER``); a folder of the
user's own is refused, never emptied.

File names made from ids go through ``id_file_name``: ``..``, ``FD/01`` and ``fd/01`` each
get a name of their own inside the folder.

CSV cells go through ``neutralise`` (OWASP's advice on CSV injection): a text cell a
spreadsheet would run as a formula gets a leading apostrophe. The stored value is not
changed; only what is written out.
"""

from __future__ import annotations

import contextlib
import errno
import hashlib
import os
import re
import shutil
import tempfile
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

from kuznia.errors import UsageError, WorkspaceError
from kuznia.i18n import N_, Text

if TYPE_CHECKING:
    import polars as pl

MARKER = ".kuznia-output"  # in every folder Kuznia made and may replace
_SQLITE_SIDES = ("", "-wal", "-shm", "-journal")


def _same(a: Path, b: Path) -> bool:
    try:
        if a.exists() and b.exists():
            return os.path.samefile(a, b)
    except OSError:
        pass
    return a.resolve() == b.resolve()


def protected_paths(workspace: Path | None, inputs: Iterable[Path | str] = ()) -> list[Path]:
    """The files no output may land on: the workspace with its WAL, journal and shared
    memory files, and every input being read."""
    out = [Path(str(workspace) + side) for side in _SQLITE_SIDES] if workspace else []
    return out + [Path(p) for p in inputs]


def _refuse(param: str, message: str, **values: Any) -> UsageError:
    """An error about the output argument ``param``: ``message`` (marked with ``N_``) names
    it as ``%(param)s``."""
    return UsageError(message, params=(param,), param="{" + param + "}", **values)


def check_output(path: Path | str, param: str, *, protected: Iterable[Path] = (),
                 folder: bool = False) -> Path:
    """Refuse ``path`` as an output (the argument ``param``) when it is a protected file,
    lies inside one, is of the wrong kind (a folder for a file), or cannot be looked at
    (a name too long for the file system, say)."""
    path = Path(path)
    try:
        return _check_output(path, param, protected, folder)
    except OSError as exc:
        raise _refuse(param, N_("%(param)s %(path)s: %(why)s; choose another path (nothing "
                                "was written)"),
                      path=f"{str(path)[:80]}{'...' if len(str(path)) > 80 else ''}",
                      why=exc.strerror or str(exc)) from None


def _check_output(path: Path, param: str, protected: Iterable[Path], folder: bool) -> Path:
    for p in protected:
        if _same(path, p):
            raise _refuse(param, N_("%(param)s %(path)s is %(what)s; choose another path "
                                    "(nothing was written)"), path=str(path), what=_what(p))
        if folder and _inside(p, path) and p.exists():
            raise _refuse(param, N_("%(param)s %(path)s holds %(what)s; choose another folder "
                                    "(nothing was written)"), path=str(path), what=_what(p))
    if folder:
        _replaceable(path, param)
    elif path.is_dir():
        raise _refuse(param, N_("%(param)s %(path)s is a folder; give a file name"),
                      path=str(path))
    elif _special(path):
        raise _refuse(param, N_("%(param)s %(path)s is %(what)s, not a regular file; give a "
                                "file name (nothing was written or replaced)"),
                      path=str(path), what=_special(path))
    parent = path.parent
    if parent.exists() and not parent.is_dir():
        raise _refuse(param, N_("%(param)s %(path)s: %(parent)s is not a folder"),
                      path=str(path), parent=str(parent))
    return path


def _special(path: Path) -> Text | None:
    """What ``path`` is when it exists and is not a regular file nor a folder (a named pipe,
    a device, a socket): a file swapped in over it would replace it, as ``/dev/full``
    would be for root. None otherwise."""
    import stat

    try:
        mode = path.stat().st_mode
    except (FileNotFoundError, NotADirectoryError):
        return None
    if stat.S_ISREG(mode) or stat.S_ISDIR(mode):
        return None
    if stat.S_ISFIFO(mode):
        return Text(N_("a named pipe (FIFO)"))
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        return Text(N_("a device"))
    if stat.S_ISSOCK(mode):
        return Text(N_("a socket"))
    return Text(N_("a special file"))


def _inside(child: Path, folder: Path) -> bool:
    try:
        child.resolve().relative_to(folder.resolve())
        return True
    except ValueError:
        return False


def _what(p: Path) -> Text:
    name = p.name
    if name.endswith(("-wal", "-shm", "-journal")):
        return Text(N_("a file of the workspace (its journal)"))
    if p.suffix == ".db" or name.endswith(".sqlite"):
        return Text(N_("the workspace"))
    return Text(N_("a file being read (the workspace or an input)"))


@contextlib.contextmanager
def disk_errors(path: Path | str) -> Iterator[None]:
    """Turn a full disk or a refused write into a sentence instead of an internal error."""
    try:
        yield
    except OSError as exc:
        if exc.errno in (errno.ENOSPC, errno.EDQUOT):
            raise WorkspaceError(N_("the disk is full while writing %(path)s; nothing was "
                                    "replaced: free some space and try again"),
                                 path=str(path)) from exc
        if exc.errno in (errno.EACCES, errno.EPERM, errno.EROFS):
            raise WorkspaceError(N_("cannot write %(path)s: %(why)s"), path=str(path),
                                 why=str(exc.strerror)) from exc
        if exc.errno in (errno.EISDIR, errno.ENOTDIR, errno.ENOENT, errno.ENAMETOOLONG):
            raise UsageError(N_("cannot write %(path)s: %(why)s"), path=str(path),
                             why=str(exc.strerror)) from exc
        raise


def _umask() -> int:
    """The process's umask (temporary files are made private; what is swapped in is not)."""
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def _replaceable(path: Path, param: str) -> None:
    """A folder may be replaced when absent, empty, or made by Kuznia."""
    if not path.exists():
        return
    if not path.is_dir():
        raise _refuse(param, N_("%(param)s %(path)s is a file, not a folder"), path=str(path))
    if any(path.iterdir()) and not (path / MARKER).exists():
        raise _refuse(param, N_("%(param)s %(path)s already holds files Kuznia did not write; "
                                "choose a new or empty folder (nothing was written or "
                                "deleted)"), path=str(path))


@contextlib.contextmanager
def replace_file(path: Path | str, mode: str = "w") -> Iterator[IO]:  # type: ignore[type-arg]
    """Write ``path`` through a temporary file beside it, swapped in on success only."""
    path = Path(path)
    with disk_errors(path):
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".part", dir=path.parent)
        os.chmod(tmp, 0o666 & ~_umask())
    try:
        with disk_errors(path):
            kw: dict[str, Any] = {"newline": "", "encoding": "utf-8"} if "b" not in mode \
                else {}
            with os.fdopen(fd, mode, **kw) as f:
                yield f
            if _special(path):  # one made since the path was checked is not replaced either
                raise UsageError(N_("%(path)s is %(what)s, not a regular file; nothing was "
                                    "written"), path=str(path), what=_special(path))
            os.replace(tmp, path)
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)


def write_bytes(path: Path | str, data: bytes) -> None:
    with replace_file(path, "wb") as f:
        f.write(data)


@contextlib.contextmanager
def replace_folder(path: Path | str, param: str) -> Iterator[Path]:
    """Build a folder under a temporary name and swap it in for ``path`` on success.

    An existing ``path`` is replaced only when it is empty or Kuznia made it (it holds
    ``MARKER``); the user's own folder is refused before anything is written.
    """
    path = Path(path)
    _replaceable(path, param)
    with disk_errors(path):
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(prefix=f".{path.name}.", suffix=".part", dir=path.parent))
        tmp.chmod(0o777 & ~_umask())
    old = None
    try:
        with disk_errors(path):
            (tmp / MARKER).write_text("made by Kuznia; replaced whole on the next run\n")
            yield tmp
            if path.exists():
                old = path.with_name(f".{path.name}.old-{os.getpid()}")
                os.replace(path, old)
            os.replace(tmp, path)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)
        if old is not None:
            shutil.rmtree(old, ignore_errors=True)


_UNSAFE = re.compile(r"[^A-Za-z0-9_.-]+")


def id_file_name(value: str | None, suffix: str = "") -> str:
    """A file name for an id that stays in its folder and differs for every id.

    The readable part keeps letters, digits, ``_``, ``.`` and ``-``; a short hash of the id
    itself keeps apart ids that the readable part (or a case-blind file system) merges.

    >>> id_file_name("FD/01", ".csv") != id_file_name("FD_01", ".csv")
    True
    >>> id_file_name("..")
    '_-5ec1f7e7'
    >>> id_file_name(None)
    '_not_given'
    """
    if value is None:
        return "_not_given" + suffix
    slug = _UNSAFE.sub("_", value).strip(".")[:40] or "_"
    digest = hashlib.sha256(value.encode()).hexdigest()[:8]
    return f"{slug}-{digest}{suffix}"


_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
_PLAIN_NUMBER = re.compile(r"^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$")


def neutralise(value: object) -> object:
    """A CSV cell a spreadsheet will not run as a formula (OWASP, CSV injection).

    >>> neutralise("=HYPERLINK(1)"), neutralise("-5"), neutralise("@x"), neutralise(3)
    ("'=HYPERLINK(1)", '-5', "'@x", 3)
    """
    if isinstance(value, str) and value.startswith(_FORMULA_START) \
            and not _PLAIN_NUMBER.match(value):
        return "'" + value
    return value


def neutralise_frame(frame: pl.DataFrame) -> pl.DataFrame:
    import polars as pl  # here, not at the top: a quick command never writes a frame

    """``neutralise`` over every text column of ``frame``, column-wise."""
    exprs = []
    for name, dtype in frame.schema.items():
        if dtype == pl.String:
            c = pl.col(name)
            risky = (c.str.contains(r"^[=+\-@\t\r]")
                     & ~c.str.contains(r"^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$"))
            exprs.append(pl.when(risky).then(pl.lit("'") + c).otherwise(c).alias(name))
    return frame.with_columns(exprs) if exprs else frame
