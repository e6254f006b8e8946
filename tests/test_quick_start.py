"""A quick start: the command line loads a heavy library only when a command needs it.

Measured by what a fresh interpreter has imported (``sys.modules``), not by a clock: the
cold times themselves are in ``docs/benchmarks.md``.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

import kuznia
from kuznia.ingest.tables import IMPORT_ORDER

HEAVY = ("scipy", "scipy.stats", "scipy.optimize", "matplotlib", "highspy", "polars", "pandas",
         "pyarrow", "pydantic")  # pydantic: the server's, never the command line's
PROBE = ("import sys, atexit\n"
         "atexit.register(lambda: print(','.join(m for m in {heavy!r} if m in sys.modules),"
         " file=sys.stderr))\n"
         "{code}\n")


def _loaded(code: str) -> set[str]:
    res = subprocess.run([sys.executable, "-c", PROBE.format(heavy=HEAVY, code=code)],
                         capture_output=True, text=True, timeout=120)
    last = res.stderr.strip().splitlines()[-1] if res.stderr.strip() else ""
    return {m for m in last.split(",") if m in HEAVY}


def test_importing_the_command_line_and_the_python_api_loads_no_heavy_library():
    assert _loaded("import kuznia.cli") == set()
    assert _loaded("import kuznia; kuznia.open") == set()


def test_help_loads_no_heavy_library():
    code = ("from kuznia.cli import app\n"
            "try:\n    app(['--help'])\nexcept SystemExit:\n    pass")
    assert _loaded(code) == set()


@pytest.fixture(scope="module")
def workspace(tmp_path_factory: pytest.TempPathFactory) -> str:
    db = str(tmp_path_factory.mktemp("quick") / "ws.db")
    examples = Path(__file__).resolve().parent.parent / "examples"
    with kuznia.init(db, "USD", "tester") as ws:
        for table in IMPORT_ORDER:
            ws.import_file(table, examples / f"{table}.csv")
    return db


@pytest.mark.parametrize(("command", "allowed"), [
    ("cost-per-effect --json", {"scipy"}),  # scipy.special for the intervals
    ("uses --json", set()),
    ("records contracts --json", set()),
    ("audit verify", {"polars"}),
])
def test_a_read_command_loads_only_what_it_uses(workspace: str, command: str,
                                                allowed: set[str]):
    code = ("from kuznia.cli import app\n"
            f"try:\n    app({[*command.split(), '--db', workspace]!r})\n"
            "except SystemExit as e:\n    assert not e.code, e.code")
    got = _loaded(code)
    assert got <= allowed, got
    assert "matplotlib" not in got and "highspy" not in got
