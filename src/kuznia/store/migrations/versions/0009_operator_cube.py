"""Uses and effects per product, operator and month, kept at import: the red flags on
effect claims read it instead of grouping tens of millions of uses.

Filled from the uses already stored, in batches, with the same code the import uses to keep
it (``bulk.operator_cube_rows``), so a workspace upgraded from 0008 answers exactly as a
fresh one.

Revision ID: 0009
Revises: 0008
Create Date: 2026-11-24
"""

import polars as pl
import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None

ID = sa.String(64)
BATCH = 500_000


def upgrade() -> None:
    op.create_table(
        "operator_cube",
        sa.Column("product_id", ID, primary_key=True),
        sa.Column("operator", ID, primary_key=True),
        sa.Column("month", sa.String(7), primary_key=True),
        sa.Column("uses", sa.BigInteger, nullable=False),
        sa.Column("effects", sa.BigInteger, nullable=False),
        sa.Column("effects_sq", sa.Float, nullable=False),
    )
    from kuznia.store import bulk

    conn = op.get_bind()
    cube = next(c for c in bulk.CUBES if c.table == "operator_cube")
    cols = ["product_id", "operator", "used_on", "effects"]
    result = conn.execute(
        sa.text("SELECT product_id, operator, CAST(used_on AS TEXT), effects FROM uses")
        .execution_options(stream_results=True, yield_per=BATCH))
    parts = []
    for rows in result.partitions(BATCH):
        frame = pl.DataFrame(rows, orient="row", schema={
            c: pl.Int64 if c == "effects" else pl.String for c in cols})
        parts.append(cube.rows(frame.with_columns(pl.col("used_on").str.slice(0, 10)
                                                   .str.to_date()), 1))
        if len(parts) >= 8:
            parts = [pl.concat(parts).group_by(list(cube.keys)).agg(
                pl.col(c).sum() for c in cube.sums)]
    if parts:
        bulk.upsert_cube(conn, cube, pl.concat(parts).group_by(list(cube.keys)).agg(
            pl.col(c).sum() for c in cube.sums))


def downgrade() -> None:
    op.drop_table("operator_cube")
