"""The records behind a figure: list the uses of a group, each with its price and basis."""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import polars as pl
from sqlalchemy import case, func, select

from kuznia.errors import UsageError
from kuznia.services.prices import joined_price
from kuznia.services.results import Tabular
from kuznia.services.store import Store
from kuznia.store.schema import audit_events, uses

NOT_GIVEN = "-"  # on the command line: the uses that name no producer (or version, ...)


@dataclass
class UseList(Tabular):
    rows: list[dict[str, Any]]
    total: int
    filters: dict[str, str] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {"filters": self.filters, "total": self.total, "rows": self.rows}


def _month_range(month: str) -> tuple[dt.date, dt.date]:
    try:
        start = dt.date.fromisoformat(month + "-01")
    except ValueError as exc:
        raise UsageError(f"--month takes YYYY-MM, not {month!r}") from exc
    end = (start.replace(day=28) + dt.timedelta(days=4)).replace(day=1)
    return start, end - dt.timedelta(days=1)


def list_uses(
    store: Store,
    *,
    product: str | None = None,
    producer: str | None = None,
    version: str | None = None,
    operator: str | None = None,
    month: str | None = None,
    date_from: dt.date | None = None,
    date_to: dt.date | None = None,
    limit: int | None = 1000,
) -> UseList:
    """Uses matching every filter given, oldest first, with what each one cost."""
    src = uses
    frm, price, (lot_p, producer_p, _) = joined_price(src, src.c.lot, src.c.producer_id,
                                                      src.c.product_id)
    basis = case((lot_p.is_not(None), "lot"), (producer_p.is_not(None), "producer_average"),
                 (price.is_not(None), "product_average"), else_="unknown")
    filters: dict[str, str] = {}
    conds = []
    for name, value in (("product_id", product), ("producer_id", producer),
                        ("version", version), ("operator", operator)):
        if value is None:
            continue
        filters[name] = value
        conds.append(src.c[name].is_(None) if value == NOT_GIVEN else src.c[name] == value)
    if month:
        filters["month"] = month
        lo, hi = _month_range(month)
        conds += [src.c.used_on >= lo, src.c.used_on <= hi]
    if date_from:
        conds.append(src.c.used_on >= date_from)
    if date_to:
        conds.append(src.c.used_on <= date_to)
    q = (
        select(*src.c, price.label("unit_price"), (src.c.units_used * price).label("cost"),
               basis.label("price_basis"), audit_events.c.file_name.label("source_file"))
        .select_from(frm.outerjoin(audit_events, audit_events.c.event_id == src.c.event_id))
        .where(*conds)
        .order_by(src.c.used_on, src.c.use_id)
    )
    with store.read() as conn:
        total = conn.execute(select(func.count()).select_from(src).where(*conds)).scalar_one()
        rows = [dict(r._mapping) for r in conn.execute(q.limit(limit) if limit else q)]
    for r in rows:
        r["used_on"] = str(r["used_on"])
    return UseList(rows, int(total), filters)


def _safe(name: str | None) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", name) if name else "_not_given"


def use_list_path(product_id: str, producer_id: str | None) -> str:
    """Where ``export_use_lists`` puts the uses of one product and producer (relative)."""
    return f"uses/{_safe(product_id)}/{_safe(producer_id)}.csv"


def export_use_lists(store: Store, folder: Path, chunk_rows: int = 200_000) -> int:
    """Write every use, with its price and basis, into one CSV per product and producer.

    Streams the uses once, in chunks, so memory stays bounded; returns how many it wrote.
    """
    src = uses
    frm, price, (lot_p, producer_p, _) = joined_price(src, src.c.lot, src.c.producer_id,
                                                      src.c.product_id)
    basis = case((lot_p.is_not(None), "lot"), (producer_p.is_not(None), "producer_average"),
                 (price.is_not(None), "product_average"), else_="unknown")
    q = select(*src.c, price.label("unit_price"), (src.c.units_used * price).label("cost"),
               basis.label("price_basis")).select_from(frm)
    written = 0
    started: set[str] = set()
    with store.read() as conn:
        result = conn.execution_options(stream_results=True, yield_per=chunk_rows).execute(q)
        columns = list(result.keys())
        for rows in result.partitions():
            frame = pl.DataFrame([tuple(r) for r in rows], schema=columns, orient="row",
                                 infer_schema_length=None)
            frame = frame.with_columns(pl.col("used_on").cast(pl.String))
            for (product_id, producer_id), part in frame.group_by(
                    ["product_id", "producer_id"], maintain_order=True):
                rel = use_list_path(str(product_id), producer_id)  # type: ignore[arg-type]
                path = folder / rel
                path.parent.mkdir(parents=True, exist_ok=True)
                with path.open("a" if rel in started else "w", encoding="utf-8") as f:
                    part.write_csv(f, include_header=rel not in started)
                started.add(rel)
                written += part.height
    return written
