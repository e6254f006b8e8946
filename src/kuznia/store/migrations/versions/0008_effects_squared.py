"""The sum of squared effects in the use cube, for intervals that allow for over-dispersion.

Filled from the uses already stored, in batches, with the same code the import uses to keep
it (``bulk.cube_rows``), so a workspace upgraded from 0007 answers exactly as a fresh one.

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-24
"""

import polars as pl
import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None

BATCH = 500_000


def upgrade() -> None:
    op.add_column("use_cube", sa.Column("effects_sq", sa.Float, nullable=False,
                                        server_default="0"))
    conn = op.get_bind()
    from kuznia.store import bulk

    cols = ["product_id", "producer_id", "version", "lot", "used_on", "units_used", "effects",
            "outcome"]
    result = conn.execute(
        sa.text("SELECT product_id, producer_id, version, lot, CAST(used_on AS TEXT), "
                "units_used, effects, outcome FROM uses")
        .execution_options(stream_results=True, yield_per=BATCH))
    parts = []
    for rows in result.partitions(BATCH):
        frame = pl.DataFrame(rows, orient="row", schema={
            c: pl.Int64 if c in ("units_used", "effects") else pl.String for c in cols})
        parts.append(bulk.cube_rows(frame.with_columns(pl.col("used_on").str.slice(0, 10)
                                                       .str.to_date()), 1)
                     .select(*bulk.CUBE_KEYS, "effects_sq"))
    if not parts:
        return
    merged = pl.concat(parts).group_by(list(bulk.CUBE_KEYS)).agg(pl.col("effects_sq").sum())
    cube = sa.table("use_cube", *(sa.column(c) for c in (*bulk.CUBE_KEYS, "effects_sq")))
    stmt = (sa.update(cube).where(*(cube.c[k] == sa.bindparam(f"k_{k}") for k in bulk.CUBE_KEYS))
            .values(effects_sq=sa.bindparam("v")))
    for chunk in merged.iter_slices(10_000):
        conn.execute(stmt, [{**{f"k_{k}": r[k] for k in bulk.CUBE_KEYS}, "v": r["effects_sq"]}
                            for r in chunk.iter_rows(named=True)])


def downgrade() -> None:
    op.execute("ALTER TABLE use_cube DROP COLUMN effects_sq")
