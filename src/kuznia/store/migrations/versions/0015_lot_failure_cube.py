"""Failures per product, producer, version, lot and failure mode (``lot_failure_cube``),
kept at import so that a fix's verdict and the Pareto weigh each mode's lots without a
scan of the uses (issue 23: that scan was most of a board's time after a write).

Filled from the failed uses already stored, in batches, with the same code the import uses
to keep it (``bulk.lot_failure_cube_rows``), so a workspace upgraded from 0014 answers
exactly as a fresh one.

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-07
"""

import polars as pl
import sqlalchemy as sa
from alembic import op

revision = "0015"
down_revision = "0014"
branch_labels = None
depends_on = None

ID = sa.String(64)
BATCH = 500_000


def upgrade() -> None:
    op.create_table(
        "lot_failure_cube",
        sa.Column("product_id", ID, primary_key=True),
        sa.Column("producer_id", ID, primary_key=True),
        sa.Column("version", ID, primary_key=True),
        sa.Column("lot", ID, primary_key=True),
        sa.Column("failure_mode", sa.Text, primary_key=True),
        sa.Column("failures", sa.BigInteger, nullable=False),
    )
    from kuznia.store import bulk

    conn = op.get_bind()
    cube = next(c for c in bulk.CUBES if c.table == "lot_failure_cube")
    cols = list(bulk.LOT_FAILURE_KEYS)
    # only the failed uses are read (the rows function drops the others anyway)
    result = conn.execute(
        sa.text(f"SELECT {', '.join(cols)} FROM uses "
                "WHERE failure_mode IS NOT NULL AND failure_mode != ''")
        .execution_options(stream_results=True, yield_per=BATCH))
    parts = []
    for rows in result.partitions(BATCH):
        frame = pl.DataFrame(rows, orient="row", schema=dict.fromkeys(cols, pl.String))
        parts.append(cube.rows(frame, 1))
    if parts:
        bulk.upsert_cube(conn, cube, pl.concat(parts).group_by(list(cube.keys)).agg(
            pl.col("failures").sum()))


def downgrade() -> None:
    op.drop_table("lot_failure_cube")
