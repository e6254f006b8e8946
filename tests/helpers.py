"""Small helpers for tests."""

from __future__ import annotations

import csv
import itertools
from pathlib import Path
from typing import Any

import numpy as np

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


def repair_queue(arrivals: list[float], capacity: int, days: float) -> list[float]:
    """A repair point's queue, simulated: items in order of arrival, each starting in the
    first month (30 days) that it has arrived by and that still has one of the point's
    ``capacity`` starts left, at its arrival or the month's first day, whichever is later.
    Returns the days until each is back in service."""
    used: dict[int, int] = {}
    out = []
    for a in sorted(arrivals):
        s = int(a // 30)
        while used.get(s, 0) >= capacity:
            s += 1
        used[s] = used.get(s, 0) + 1
        out.append(max(a, 30.0 * s) + days)
    return out


def brute_force_repairs(counts, transit, capacity, days) -> float:  # type: ignore[no-untyped-def]
    """The least total days over every way of sending each item to a point it can reach,
    each point's queue simulated."""
    items = [g for g, n in enumerate(counts) for _ in range(n)]
    best = np.inf
    for pick in itertools.product(range(transit.shape[1]), repeat=len(items)):
        if any(np.isnan(transit[g, j]) for g, j in zip(items, pick, strict=True)):
            continue
        total = sum(sum(repair_queue([transit[g, j] for g, jj in zip(items, pick, strict=True)
                                if jj == j], int(capacity[j]), days[j]))
                    for j in set(pick))
        best = min(best, total)
    return best


def expected_availability(p: float, h: float, d: float, k: int, months: int, down: int = 0
                          ) -> np.ndarray:
    """The closed form of a site's expected available share per month under the strike
    model (``kuznia.analytics.strikes``' module doc): the simulation's truth to test."""
    m = np.arange(months)
    a = 1 - d * (1 - (1 - p * h) ** np.minimum(k, m + 1))
    return np.where(m >= down, a, 0.0)


def check_password(conn: Any, name: str, password: str) -> Any:
    """The account, if ``password`` is its password, it is enabled and its hash is the one
    its audited event set; else None: the checks ``accounts.sign_in`` makes, without its
    throttling and bookkeeping."""
    from sqlalchemy import select

    from kuznia.services import accounts
    from kuznia.store.schema import users

    row = conn.execute(select(users).where(users.c.name == name)).first()
    account = accounts._verify(row, password)
    return account if account is None or accounts._sealed(conn, row) else None


def import_demo(ws: kuznia.Workspace, folder: Path, uses: int, seed: int,
                planted: bool = False) -> kuznia.Workspace:
    """``ws`` filled with a generated demo of ``uses`` uses, its anomalies in
    (``planted``: noting what was planted, as the red flags' tests ask)."""
    from kuznia.demo import DemoSize, Planted, generate
    from kuznia.ingest.tables import IMPORT_ORDER

    files = generate(folder, DemoSize(uses=uses), seed, anomalies=True,
                     planted=Planted() if planted else None)
    for table in IMPORT_ORDER:
        ws.import_file(table, files[table])
    return ws


def write_lines(path: Path, header: str, *rows: str) -> Path:
    """A CSV file of ``header`` and ``rows``, each already a line."""
    path.write_text("\n".join([header, *rows]) + "\n")
    return path
