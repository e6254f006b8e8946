"""The migrations build exactly the schema the code declares."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

import kuznia
from kuznia.store.engine import HEAD, current_revision, head_revision
from kuznia.store.schema import metadata


def test_migrated_store_matches_the_declared_schema(ws: kuznia.Workspace):
    assert current_revision(ws.store.engine) == head_revision()
    with ws.store.engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), metadata)
    assert diff == []


def test_the_head_constant_is_alembics_head():
    assert HEAD == head_revision()
