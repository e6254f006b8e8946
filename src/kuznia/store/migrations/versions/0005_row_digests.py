"""Row digests: every data row keeps the first half of its hash (``row_hash``), so the audit
trail can commit to the data and ``audit verify --deep`` can name an edited row.

Existing rows get their hashes here, and a workspace that already holds events gets one
more, ``migrate``, recording each table's digest as the upgrade found it.

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-23
"""

from dataclasses import replace

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

TABLES = ("producers", "products", "versions", "rates", "contracts", "deliveries", "uses",
          "offers", "failure_modes", "corrective_actions", "regions", "sites", "demand",
          "strikes")
LATER = ("licence_id",)  # columns later migrations add to these tables


def upgrade() -> None:
    for name in TABLES:
        op.add_column(name, sa.Column("row_hash", sa.BigInteger))
    conn = op.get_bind()
    from kuznia.ingest.tables import SPECS
    from kuznia.services import audit

    def as_then(name: str):  # the columns as they were at this step (0012 added licence_id)
        spec = SPECS[name]
        return replace(spec, fields=tuple(f for f in spec.fields if f.name not in LATER))

    digests = {name: audit.backfill_row_hashes(conn, name, as_then(name)).to_dict()
               for name in TABLES}
    if conn.execute(sa.text("SELECT count(*) FROM audit_events")).scalar_one():
        event_id = audit.next_event_id(conn)
        digests["settings"] = audit.settings_digest(conn).to_dict()
        digests["plans"] = audit.plans_digest(conn).to_dict()
        audit.append(conn, event_id, actor="kuznia", action="migrate",
                     detail={"to": revision, "digests": digests})


def downgrade() -> None:
    for name in TABLES:  # plain SQL: SQLite (3.35+) drops a column in place, keeping keys
        op.execute(f"ALTER TABLE {name} DROP COLUMN row_hash")
