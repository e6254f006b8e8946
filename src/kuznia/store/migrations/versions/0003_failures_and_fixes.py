"""The test-fix-test loop: failure modes, corrective actions and the kept failure cube.

The cube is filled from the uses already stored, in batches, with the same code the import
uses to keep it, so a workspace upgraded from 0002 answers exactly as a fresh one.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-23
"""

import polars as pl
import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

ID = sa.String(64)
BATCH = 500_000


def upgrade() -> None:
    op.create_table(
        "failure_modes",
        sa.Column("product_id", ID, sa.ForeignKey("products.product_id"), primary_key=True),
        sa.Column("failure_mode", sa.Text, primary_key=True),
        sa.Column("description", sa.Text, nullable=False),
        sa.Column("severity", sa.Integer, nullable=False),
        sa.Column("event_id", sa.Integer, nullable=False),
    )
    op.create_table(
        "corrective_actions",
        sa.Column("action_id", ID, primary_key=True),
        sa.Column("product_id", ID, sa.ForeignKey("products.product_id"), nullable=False),
        sa.Column("failure_mode", sa.Text, nullable=False),
        sa.Column("fixed_in_version", ID, nullable=False),
        sa.Column("opened_on", sa.Date, nullable=False),
        sa.Column("description", sa.Text),
        sa.Column("producer_id", ID, sa.ForeignKey("producers.producer_id")),
        sa.Column("event_id", sa.Integer, nullable=False),
    )
    op.create_table(
        "failure_cube",
        sa.Column("product_id", ID, primary_key=True),
        sa.Column("producer_id", ID, primary_key=True),
        sa.Column("version", ID, primary_key=True),
        sa.Column("conditions", sa.Text, primary_key=True),
        sa.Column("failure_mode", sa.Text, primary_key=True),
        sa.Column("uses", sa.BigInteger, nullable=False),
        sa.Column("first_on", sa.String(10), nullable=False),
    )
    _fill_from_uses(op.get_bind())


def _fill_from_uses(conn: sa.Connection) -> None:
    from kuznia.store import bulk

    cube = next(c for c in bulk.CUBES if c.table == "failure_cube")
    cols = ["product_id", "producer_id", "version", "conditions", "failure_mode", "used_on"]
    # options on the statement, not the connection: they would stick to it (SQLAlchemy 2)
    result = conn.execute(
        sa.text(f"SELECT {', '.join(cols[:-1])}, CAST(used_on AS TEXT) FROM uses")
        .execution_options(stream_results=True, yield_per=BATCH))
    parts = []
    for rows in result.partitions(BATCH):
        frame = pl.DataFrame(rows, schema=dict.fromkeys(cols, pl.String), orient="row")
        parts.append(cube.rows(frame.with_columns(pl.col("used_on").str.slice(0, 10)
                                                   .str.to_date()), 1))
    if parts:
        merged = pl.concat(parts).group_by(list(cube.keys)).agg(
            pl.col("uses").sum(), pl.col("first_on").min())
        bulk.upsert_cube(conn, cube, merged)


def downgrade() -> None:
    op.drop_table("failure_cube")
    op.drop_table("corrective_actions")
    op.drop_table("failure_modes")
