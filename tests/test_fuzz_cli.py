"""Every command, fuzzed over its options and over mutated example files: never exit 3.

The commands and their options come from the CLI itself, so a new command or option is
fuzzed without touching this file. Values come from a pool a careless or hostile user
would type (negative, huge, non-finite, malformed dates, ids with slashes, formulas, the
workspace's own path, a folder, a binary file). Exit 0, 1 or 2 are all fine; 3 (an
internal error) or an exception escaping the command fails the test.

The CI run is bounded and reproducible (``derandomize``); ``bench/fuzz_cli.py`` runs the
same properties for longer with fresh randomness.
"""

from __future__ import annotations

import os
import shutil
import stat
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from typer.main import get_command
from typer.testing import CliRunner

import kuznia
from kuznia.cli import app
from kuznia.ingest.tables import IMPORT_ORDER

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"
SLOW = {"demo", "serve"}  # demo: its own tests below; serve runs until stopped (test_server_*)
EXAMPLES_CI = int(os.environ.get("KUZNIA_FUZZ_EXAMPLES", "120"))
RANDOM = os.environ.get("KUZNIA_FUZZ_RANDOM")  # set: fresh examples each run (bench/)


def _commands() -> dict[tuple[str, ...], list]:  # type: ignore[type-arg]
    found: dict[tuple[str, ...], list] = {}  # type: ignore[type-arg]

    def walk(cmd, path: tuple[str, ...]) -> None:  # type: ignore[no-untyped-def]
        if hasattr(cmd, "commands"):
            for name, sub in cmd.commands.items():
                walk(sub, (*path, name))
        elif path[0] not in SLOW:
            found[path] = [p for p in cmd.params if p.name not in ("db",)]

    walk(get_command(app), ())
    return found


COMMANDS = _commands()
WORDS = ["", " ", "0", "1", "-1", "2", "10", "0.5", "1.5", "-0.5", "40%", "150%", "-150%",
         "+20%", "-100%", "-101%", "nan", "NaN", "inf", "-inf", "1e309", "1e18", "-1e18",
         "99999999999999999999", "2147483648", "2026-02-01", "2026-02-30", "2026-13-01",
         "2026-02", "0000-00-00", "9999-12-31", "FPV-A", "ATG-B", "P001", "P002", "P999",
         "FPV-A=10", "FPV-A=-5", "FPV-A=nan", "FPV-A=+20%", "FPV-A=-200%", "fpv=20%", "x=y",
         "=", "a=", "=b", "product", "product,producer", "product,month,operator", "nope",
         "version", "condition:ew", "condition:", "q10", "q0", "q100", "mean", "../x",
         "FD/01", "a b", "=cmd|' /C calc'!A0", "\u00e9\u20ac", "x" * 300, "@SUM(1)",
         # issue 24: the ends of the calendar, days not written YYYY-MM-DD, ids that are
         # folders or hold invisible and right-to-left characters
         "0001-01-01", "0001-01-05", "9999-12-01", "9999-12", "2026-1-1", "20260101",
         "2026-W01-1", ".", "..", "P\u202e01", "P\u200b01", "P\x0701", "\ufeffP002"]
FILES = ["<dir>", "<missing>", "<workspace>", "<binary>", "<empty>", "<mutated>",
         "<example>", "<fifo>", "<device>"]
NUMBERS = ["0", "1", "-1", "2", "3", "-0.5", "0.5", "nan", "inf", "-inf", "1e309", "1e18",
           "99999999999999999999", "2147483648", "9223372036854775808", "600", "601",
           "100000", "2000000000"]


def _pool(param) -> list[str]:  # type: ignore[no-untyped-def]
    """Values for one option: numbers for a number, paths for a path, anything else too."""
    kind = getattr(getattr(param, "type_descriptor", None), "annotation", None)
    if kind in (int, float):
        return NUMBERS + WORDS[:8]
    if kind is Path:
        return FILES + ["out", "../out", "ws.db-wal"]
    return WORDS + FILES


def _materialise(value: str, work: Path, mutated: Path) -> str:
    return {
        "<dir>": str(work),
        "<missing>": str(work / "no-such-file.csv"),
        "<workspace>": str(work / "ws.db"),
        "<binary>": str(work / "binary.csv"),
        "<empty>": str(work / "empty.csv"),
        "<mutated>": str(mutated),
        "<example>": str(work / "offers.csv"),
        "<fifo>": str(work / "pipe.csv"),  # a named pipe: never read (it would block) nor
        "<device>": str(work / "device.csv"),  # replaced, as no device is (a /dev/null)
    }.get(value, value)


@st.composite
def invocations(draw) -> tuple[tuple[str, ...], list[str]]:  # type: ignore[no-untyped-def]
    path = draw(st.sampled_from(sorted(COMMANDS)))
    args: list[str] = list(path)
    for p in COMMANDS[path]:
        if p.param_type_name == "argument":
            if p.name == "table":
                args.append(draw(st.sampled_from([*IMPORT_ORDER, "nope", "failure-modes"])))
            else:
                args.append(draw(st.sampled_from(FILES + WORDS[:20])))
            continue
        if not draw(st.booleans()):
            continue
        if getattr(p, "is_flag", False):
            args.append(p.opts[0])
            continue
        for _ in range(draw(st.integers(1, 2)) if p.multiple else 1):
            args += [p.opts[0], draw(st.sampled_from(_pool(p)))]
    return path, args


MUTATIONS = ["drop_char", "dup_line", "hostile_cell", "truncate", "quote", "bytes", "blank",
             "nul_cell", "cr_only", "cr_in_header"]


def _mutate(text: bytes, how: str, where: int, cell: str) -> bytes:
    lines = text.split(b"\n")
    i = 1 + where % max(1, len(lines) - 1)
    if how == "drop_char":
        return text[:where % len(text)] + text[where % len(text) + 1:]
    if how == "dup_line":
        return b"\n".join(lines[:i] + [lines[min(i, len(lines) - 1)]] + lines[i:])
    if how == "hostile_cell":
        cells = lines[min(i, len(lines) - 1)].split(b",")
        cells[where % len(cells)] = cell.encode()
        lines[min(i, len(lines) - 1)] = b",".join(cells)
        return b"\n".join(lines)
    if how == "truncate":
        return text[: where % len(text)]
    if how == "quote":
        k = where % len(text)
        return text[:k] + b'"' + text[k:]
    if how == "bytes":
        k = where % len(text)
        return text[:k] + b"\xff\xfe\x00" + text[k:]
    if how == "nul_cell":  # a NUL byte inside a data row (PostgreSQL text cannot hold one)
        row = lines[min(i, len(lines) - 1)]
        k = where % max(1, len(row))
        lines[min(i, len(lines) - 1)] = row[:k] + b"\x00" + row[k:]
        return b"\n".join(lines)
    if how == "cr_only":  # an old Mac file: every line ends with CR alone
        return text.replace(b"\r\n", b"\n").replace(b"\n", b"\r")
    if how == "cr_in_header":
        k = where % max(1, len(lines[0]))
        return b"\n".join([lines[0][:k] + b"\r" + lines[0][k:], *lines[1:]])
    return text.replace(b",", b"", 1) if where % 2 else text + b"\n\n\n"


@pytest.fixture(scope="module")
def work(tmp_path_factory: pytest.TempPathFactory) -> Path:
    work = tmp_path_factory.mktemp("fuzz")
    with kuznia.init(str(work / "ws.db"), "USD", actor="fuzz") as ws:
        for table in IMPORT_ORDER:
            shutil.copy(EXAMPLES / f"{table}.csv", work / f"{table}.csv")
            ws.import_file(table, work / f"{table}.csv")
    (work / "binary.csv").write_bytes(bytes(range(256)) * 20)
    (work / "empty.csv").write_bytes(b"")
    os.mkfifo(work / "pipe.csv")
    try:  # a copy of /dev/null's device, when this user may make one; else another pipe
        os.mknod(work / "device.csv", stat.S_IFCHR | 0o666, os.makedev(1, 3))
    except PermissionError:
        os.mkfifo(work / "device.csv")
    return work


def _still_special(work: Path) -> None:
    """No command replaced the pipe or the device with a file of its own."""
    for name in ("pipe.csv", "device.csv"):
        mode = (work / name).stat().st_mode
        assert stat.S_ISFIFO(mode) or stat.S_ISCHR(mode), f"{name} was replaced"


def _check(result, args: list[str]) -> None:  # type: ignore[no-untyped-def]
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise AssertionError(f"{args}: exception escaped: {result.exception!r}") \
            from result.exception
    assert result.exit_code != 3, f"{args} -> exit 3:\n{result.output}"
    assert result.exit_code in (0, 1, 2), f"{args} -> exit {result.exit_code}"


@settings(max_examples=EXAMPLES_CI, deadline=None, derandomize=RANDOM is None,
          suppress_health_check=[HealthCheck.function_scoped_fixture,
                                 HealthCheck.too_slow])
@given(inv=invocations(), how=st.sampled_from(MUTATIONS), where=st.integers(0, 10_000),
       cell=st.sampled_from(WORDS), table=st.sampled_from(IMPORT_ORDER))
def test_no_option_gives_an_internal_error(work: Path, monkeypatch, inv, how, where, cell,
                                           table):
    monkeypatch.chdir(work)
    mutated = work / f"mutated_{table}.csv"
    mutated.write_bytes(_mutate((EXAMPLES / f"{table}.csv").read_bytes(), how, where, cell))
    _, args = inv
    args = [_materialise(a, work, mutated) for a in args]
    result = CliRunner().invoke(app, [*args, "--db", str(work / "ws.db")])
    _check(result, args)
    _still_special(work)


@settings(max_examples=EXAMPLES_CI, deadline=None, derandomize=RANDOM is None,
          suppress_health_check=[HealthCheck.function_scoped_fixture,
                                 HealthCheck.too_slow])
@given(table=st.sampled_from(IMPORT_ORDER), how=st.sampled_from(MUTATIONS),
       where=st.integers(0, 10_000), cell=st.sampled_from(WORDS),
       update=st.booleans(), quarantine=st.booleans())
def test_no_mutated_file_gives_an_internal_error(work: Path, monkeypatch, table, how, where,
                                                cell, update, quarantine):
    monkeypatch.chdir(work)
    f = work / f"m_{table}.csv"
    f.write_bytes(_mutate((EXAMPLES / f"{table}.csv").read_bytes(), how, where, cell))
    args = ["import", table, str(f), "--db", str(work / "ws.db")]
    args += ["--update"] if update else []
    args += ["--quarantine", str(work / "q.csv")] if quarantine else []
    result = CliRunner().invoke(app, args)
    _check(result, args)
    with kuznia.open(str(work / "ws.db")) as ws:  # whatever happened, the store is whole
        assert ws.verify_audit().ok


KNOWN = [  # the cases a hostile tester found, kept as a deterministic regression list
    ["plan", "allocate", "--budget", "-1"], ["plan", "allocate", "--budget", "nan"],
    ["plan", "allocate", "--budget", "inf"],
    ["plan", "allocate", "--budget", "1e6", "--price-change", "FPV-A=-101%"],
    ["plan", "allocate", "--budget", "1e6", "--require", "FPV-A=-5"],
    ["plan", "allocate", "--budget", "1e6", "--without-producer", "P999"],
    ["plan", "allocate", "--budget", "1e6", "--offers", "<no-capacity>"],
    ["plan", "allocate", "--budget", "1e6", "--time-limit", "-1"],
    ["resilience", "simulate", "--seed", "-1"],
    ["resilience", "simulate", "--seed", "9223372036854775808"],
    ["resilience", "simulate", "--scenarios", "2000000000"],
    ["resilience", "simulate", "--months", "100000"],
    ["resilience", "simulate", "--workers", "0"],
    ["resilience", "duplicate", "--candidates", "<example>", "--budget", "10", "--weight",
     "FPV-A=-1"],
    ["board", "--threshold", "nan"], ["uses", "--limit", "-5"], ["audit", "list", "--limit",
                                                                 "-1"],
    ["growth", "--product", "FPV-A", "--target", "nan"],
    ["import", "uses", "<dir>"],
    ["import", "uses", "<fifo>"], ["import", "uses", "<example>", "--quarantine", "<fifo>"],
    ["import", "uses", "<example>", "--quarantine", "<device>"],
    ["export", "ocds", "--out", "<device>"], ["cost-per-effect", "--from", "2026-1-1"],
]


@pytest.mark.parametrize("args", KNOWN, ids=" ".join)
def test_known_hostile_arguments_are_usage_errors(work: Path, monkeypatch, args: list[str]):
    monkeypatch.chdir(work)
    (work / "nocap.csv").write_text("product_id,producer_id,unit_price,capacity\n"
                                   "FPV-A,P002,100,0\n")
    args = [str(work / "nocap.csv") if a == "<no-capacity>" else
            _materialise(a, work, work / "nocap.csv") for a in args]
    result = CliRunner().invoke(app, [*args, "--db", str(work / "ws.db")])
    _check(result, args)
    assert result.exit_code in (1, 2), result.output
    assert "error" in result.output
