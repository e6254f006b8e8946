"""Every problem an import names is said in Ukrainian: bad files of every table (column
problems, cross-table rules, unreadable files) are imported and each problem's message,
kept in English as data, must match a shape of ``kuznia.sentences`` so pages and the
command line say it in the language asked."""

from __future__ import annotations

import ast
import io
import re
from pathlib import Path

import openpyxl
import pytest

import kuznia
from kuznia.errors import InputError, RowProblem
from kuznia.i18n import language
from kuznia.sentences import VALUES, say_sentence, say_value
from kuznia.services.imports import read_checked

RULES = Path(kuznia.__file__).parent / "ingest" / "rules.py"

# table -> CSV text: every row breaks at least one rule (the example data is in the
# workspace: products FPV-A and ATG-B, producers P001-P003, contract C001, lot L-0001 of
# FPV-A by P002, site S-01, partner PA-A, licence L-001)
BAD = {
    "rates": "currency,rate\nUSD,2\nEUR,inf\nGBP,1e16\nXY,1\nCHF,0\n",
    "producers": "producer_id,name,kind,region\nP9,Nine,guild,R1\n.,Dot,state,R1\n"
                 "P\u202e8,Hidden,state,R1\nP\u00007,Nul,state,R1\n" + "P" * 70
                 + ",Long,state,R1\nP10,Ten,state,R1\nP10,Other ten,private,R2\n",
    "products": "product_id,name,category\n,No id,x\n",
    "versions": "product_id,version,introduced_on\nNOPE,v9,2026-01-01\nFPV-A,v8,2026-1-1\n",
    "contracts": "contract_id,producer_id,product_id,signed_on,quantity,unit_price,currency,"
                 "due_on\nC900,NOPE,NOPE,2026-03-01,10,5,XYZ,2026-01-01\n"
                 "C901,P002,FPV-A,2026-03-01,0,0,USD,2026-04-01\n"
                 "C902,P002,FPV-A,2026-03-01,1.5,x,USD,2026-04-01\n"
                 "C903,P002,FPV-A,2026-03-01,9999999999,5,USD,2026-04-01\n",
    "deliveries": "delivery_id,contract_id,delivered_on,quantity,accepted_quantity,lot\n"
                  "D900,NOPE,2026-02-01,5,9,L-0001\nD901,C001,2026-02-01,5,5,L-9\n"
                  "D902,C001,2026-02-01,5,5,L-9\n",
    "uses": "use_id,used_on,operator,product_id,version,producer_id,lot,units_used,effects,"
            "outcome,failure_mode,conditions,notes\n"
            "N1,2026-02-10,OP-01,NOPE,v1,NOPE,,1,1,effect,,,\n"
            "N2,2026-02-10,OP-01,FPV-A,v9,P002,L-NONE,1,1,effect,,,\n"
            "N3,2026-02-10,OP-01,ATG-B,v1,,L-0001,1,1,effect,,,\n"
            "N4,2026-02-10,OP-01,FPV-A,v1,P003,L-0001,1,1,effect,,,\n"
            "N5,2026-02-10,OP-01,FPV-A,v1,P002,L-0001,1,2,no_effect,,,\n"
            "N6,2026-02-10,OP-01,FPV-A,v1,P002,L-0001,1,0,effect,,,\n"
            "N7,2026-02-10,OP-01,FPV-A,v1,P002,L-0001,1,0,failure,,,\n"
            "N8,2026-02-10,OP-01,FPV-A,v1,P002,L-0001,1,0,effect,,,x\n"
            "N9,2026-02-10,OP-01,FPV-A,v1,P002,L-0001,1\n"
            "N10,2026-02-10,OP-01,FPV-A,v1,P002,L-0001,1,1,effect,,," + "x" * 10_001 + "\n",
    "offers": "product_id,producer_id,unit_price,capacity,min_order,lot_size,effects_per_unit,"
              "licence_id\nNOPE,NOPE,5,10,20,1,-1,NOPE\n",
    "failure_modes": "product_id,failure_mode,description,severity\nNOPE,x,y,5\n",
    "corrective_actions": "action_id,product_id,failure_mode,fixed_in_version,opened_on,"
                          "description,producer_id\nCA-9,NOPE,x,v2,2026-01-01,y,NOPE\n",
    "regions": "region,monthly_strike_probability,site_hit_probability,damage_fraction,"
               "repair_months,neighbours\nSouth,1.5,-0.1,2,1,\n",
    "sites": "site_id,producer_id,product_id,region,monthly_capacity,status,repair_until\n"
             "S-9,NOPE,NOPE,North,-1,damaged,\n",
    "demand": "product_id,monthly_demand,stock\nNOPE,-1,-1\n",
    "strikes": "site_id,struck_on,damage_fraction,repaired_on\nNOPE,2026-03-01,2,2026-02-01\n",
    "partners": "partner_id,name,country\nPA-9,Nine,\n",
    "licences": "licence_id,partner_id,kind,product_id,producers,requested_on,granted_on,"
                "expires_on,max_units,status\n"
                "L-9,NOPE,repair,NOPE,NOPE;P001,2026-02-01,2026-01-01,2025-12-01,,granted\n"
                "L-10,PA-A,repair,FPV-A,;,2026-02-01,,,,granted\n"
                "L-11,PA-A,repair,FPV-A,P001,2026-02-01,2026-03-01,,,requested\n",
    "licence_stages": "licence_id,stage,authority,entered_on,left_on,outcome\n"
                      "NOPE,filed,office,2026-02-01,2026-01-01,\n",
}
# files a plan reads, checked like an import (never stored)
BAD_INPUTS = {
    "candidates": "candidate_id,product_id,producer_id,region,monthly_capacity,cost\n"
                  "K1,NOPE,NOPE,North,-1,-1\n",
    "backlog": "item_id,product_id,region,damaged_on\nI1,NOPE,North,2026-01-01\n",
    "repair_points": "point_id,region,product_id,monthly_capacity,repair_days,from_region,"
                     "transit_days,licence_id\nR1,North,NOPE,1.5,-1,North,-1,NOPE\n"
                     "R2,North,FPV-A,1,1,North,1,L-001\nR2,North,FPV-A,2,1,Centre,1,L-002\n",
}
HEADERS = {"uses": "use_id,use_id,colour\n"}  # a header of the wrong shape


def _problems(call, *args, **kwargs) -> list[RowProblem]:  # type: ignore[no-untyped-def]
    with pytest.raises(InputError) as info:
        call(*args, **kwargs)
    return info.value.problems


def _xlsx_with_no_header(path: Path) -> Path:
    book = openpyxl.Workbook()
    book.save(path)
    return path


@pytest.fixture
def problems(filled: kuznia.Workspace, tmp_path: Path) -> list[RowProblem]:
    out: list[RowProblem] = []
    folder = tmp_path / "bad"
    folder.mkdir()
    for table, text in {**BAD, **BAD_INPUTS}.items():
        path = folder / f"{table}.csv"
        path.write_text(text, encoding="utf-8")
        if table in BAD:
            out += _problems(filled.import_file, table, path, max_problems=1000)
        else:
            out += _problems(read_checked, filled.store, table, path, max_problems=1000)
    for table, text in HEADERS.items():
        path = folder / f"header-{table}.csv"
        path.write_text(text, encoding="utf-8")
        out += _problems(filled.import_file, table, path)
    odd: dict[str, bytes] = {
        "empty.csv": b"",
        "nul.csv": b"product_id,name\x00,category\nX,Y,Z\n",
        "latin1.csv": "product_id,name,category\nX,Caf\u00e9,Z\n".encode("latin-1"),
        "header-latin1.csv": "product_id,n\u00e4me,category\nX,Y,Z\n".encode("latin-1"),
        "cr.csv": b"product_id,na\rme,category\nX,Y,Z\n",
        "broken.xlsx": b"not a zip",
    }
    for name, data in odd.items():
        (folder / name).write_bytes(data)
        out += _problems(filled.import_file, "products", folder / name)
    out += _problems(filled.import_file, "products", folder / "absent.csv")
    out += _problems(filled.import_file, "products", folder)
    out += _problems(filled.import_file, "products", _xlsx_with_no_header(folder / "blank.xlsx"))
    out += _problems(filled.import_file, "products", io.BytesIO(b""), name="up.csv")
    return out


def _rule_messages() -> set[str]:
    """Every message rules.py gives as a literal (and each ``_missing`` it composes)."""
    out: set[str] = set()
    for node in ast.walk(ast.parse(RULES.read_text())):
        if not isinstance(node, ast.Call) or not isinstance(node.func, ast.Name):
            continue
        args = node.args
        if node.func.id == "problems_where" and isinstance(args[3], ast.Constant):
            out.add(args[3].value)
        elif node.func.id == "_missing" and len(args) == 5:
            what, hint = args[3], args[4]
            if isinstance(what, ast.Constant) and isinstance(hint, ast.Constant):
                out.add(f"no {what.value} with this id; {hint.value}")
    return out


def test_every_problem_an_import_names_is_said_in_ukrainian(problems: list[RowProblem]):
    messages = {p.message for p in problems}
    # the bad files reach every rule across columns and tables, and the file problems
    assert _rule_messages() <= messages, sorted(_rule_messages() - messages)
    assert len(_rule_messages()) >= 30
    for expected in ("no such file", "is a folder, not a file", "the file has no header",
                     "is not a text file (it holds NUL bytes)", "appears twice in the header",
                     "is before signed_on", "the workspace currency USD has rate 1",
                     "expected 13 values, found 8",
                     "is 10001 characters long; a cell holds at most 10,000",
                     "is required but missing from the header",
                     "repeats the key of an earlier line of this file with other content"):
        assert expected in messages, (expected, sorted(messages))
    assert any(m.startswith("not a readable XLSX workbook: ") for m in messages)
    assert any(m.startswith("is not a column of uses (expected: ") for m in messages)
    with language("uk"):
        unsaid = sorted(m for m in messages if say_sentence(m) == m)
        said = {m: say_sentence(m) for m in messages}
    assert unsaid == []
    assert said["is before signed_on"] == "раніше за signed_on"
    assert said["the workspace currency USD has rate 1"].startswith("валюта робочого простору")


def test_a_value_a_rule_writes_in_words_is_said_in_ukrainian(problems: list[RowProblem]):
    worded = [p for p in problems if p.message in VALUES]
    assert {p.message for p in worded} == set(VALUES)  # the bad files reach each one
    with language("uk"):
        said = [(p.value, say_value(p.value, p.message)) for p in worded]
    for value, ukrainian in said:
        assert ukrainian != value and re.search("[а-яі]{2}", ukrainian), (value, ukrainian)
        assert not {"line", "delivery", "vs", "is", "first", "on"} & set(
            re.findall(r"[A-Za-z']+", ukrainian)), ukrainian
    assert ("L-0001 (delivery D001)", "L-0001 (постачання D001)") in said
    assert all(say_value(p.value, p.message) == p.value for p in worded)  # English as kept


def test_an_input_error_says_each_problem_in_the_language_asked(filled: kuznia.Workspace,
                                                                tmp_path: Path):
    path = tmp_path / "contracts.csv"
    path.write_text(BAD["contracts"], encoding="utf-8")
    with pytest.raises(InputError) as info:
        filled.import_file("contracts", path)
    english = info.value.say()
    assert "is before signed_on" in english
    with language("uk"):
        ukrainian = info.value.say()
    assert "is before signed_on" not in ukrainian and "раніше за signed_on" in ukrainian
    assert "no product with this id" not in ukrainian
