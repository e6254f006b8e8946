"""Small helpers for tests."""

from __future__ import annotations

import csv
from pathlib import Path

import kuznia


def write_csv(path: Path, header: list[str], rows: list[list[object]]) -> Path:
    with path.open("w", newline="", encoding="utf-8") as f:
        w = csv.writer(f)
        w.writerow(header)
        w.writerows(rows)
    return path


def count(ws: kuznia.Workspace, table: str) -> int:
    with ws.store.read() as conn:
        return int(conn.exec_driver_sql(f"SELECT count(*) FROM {table}").scalar_one())
