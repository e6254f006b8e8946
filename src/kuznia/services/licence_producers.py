"""The producers each licence names, one a row (``licence_producers``): rebuilt from
``licences.producers`` (sorted, ``;``-separated) in the import's own transaction."""

from __future__ import annotations

from sqlalchemy import Connection, select

from kuznia.store.schema import licence_producers, licences


def expected(conn: Connection) -> set[tuple[str, str]]:
    """(licence_id, producer_id) as the licences' ``producers`` column says."""
    return {(r.licence_id, p) for r in conn.execute(
        select(licences.c.licence_id, licences.c.producers)) for p in r.producers.split(";")
        if p}


def rebuild(conn: Connection) -> int:
    """Write ``licence_producers`` afresh from the licences (hundreds of rows at most)."""
    rows = sorted(expected(conn))
    conn.execute(licence_producers.delete())
    if rows:
        conn.execute(licence_producers.insert(),
                     [{"licence_id": lic, "producer_id": p} for lic, p in rows])
    return len(rows)
