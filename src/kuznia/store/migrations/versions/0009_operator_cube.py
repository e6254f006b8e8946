"""For the red flags, kept at import so that they need no scan of the uses: uses and
effects per product, operator and month (``operator_cube``), and each use cube key's
earliest use (``use_cube.first_on``: uses before their lot's delivery).

Filled from the uses already stored, in batches, with the same code the import uses to keep
them (``bulk.operator_cube_rows``, ``bulk.cube_rows``), so a workspace upgraded from 0008
answers exactly as a fresh one.

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
    op.add_column("use_cube", sa.Column("first_on", sa.String(10), nullable=False,
                                        server_default="9999-12-31"))
    from kuznia.store import bulk

    conn = op.get_bind()
    cube = next(c for c in bulk.CUBES if c.table == "operator_cube")
    cols = ["product_id", "producer_id", "version", "lot", "operator", "used_on", "effects"]
    result = conn.execute(
        sa.text("SELECT product_id, producer_id, version, lot, operator, "
                "CAST(used_on AS TEXT), effects FROM uses")
        .execution_options(stream_results=True, yield_per=BATCH))
    parts, firsts = [], []
    for rows in result.partitions(BATCH):
        frame = pl.DataFrame(rows, orient="row", schema={
            c: pl.Int64 if c == "effects" else pl.String for c in cols}).with_columns(
            pl.col("used_on").str.slice(0, 10).str.to_date())
        parts.append(cube.rows(frame, 1))
        firsts.append(frame.select(
            pl.col("product_id"), pl.col("producer_id").fill_null(""),
            pl.col("version").fill_null(""), pl.col("lot").fill_null(""),
            pl.col("used_on").dt.strftime("%Y-%m").alias("month"), pl.col("used_on"))
            .group_by(list(bulk.CUBE_KEYS)).agg(pl.col("used_on").min()))
        if len(parts) >= 8:
            parts = [pl.concat(parts).group_by(list(cube.keys)).agg(
                pl.col(c).sum() for c in cube.sums)]
            firsts = [pl.concat(firsts).group_by(list(bulk.CUBE_KEYS)).agg(
                pl.col("used_on").min())]
    if parts:
        bulk.upsert_cube(conn, cube, pl.concat(parts).group_by(list(cube.keys)).agg(
            pl.col(c).sum() for c in cube.sums))
        first = pl.concat(firsts).group_by(list(bulk.CUBE_KEYS)).agg(
            pl.col("used_on").min().dt.strftime("%Y-%m-%d"))
        use_cube = sa.table("use_cube", *(sa.column(c) for c in (*bulk.CUBE_KEYS,
                                                                 "first_on")))
        stmt = (sa.update(use_cube)
                .where(*(use_cube.c[k] == sa.bindparam(f"k_{k}") for k in bulk.CUBE_KEYS))
                .values(first_on=sa.bindparam("v")))
        for chunk in first.iter_slices(10_000):
            conn.execute(stmt, [{**{f"k_{k}": r[k] for k in bulk.CUBE_KEYS},
                                 "v": r["used_on"]} for r in chunk.iter_rows(named=True)])


def downgrade() -> None:
    op.drop_table("operator_cube")
    op.execute("ALTER TABLE use_cube DROP COLUMN first_on")
