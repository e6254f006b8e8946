"""The migrations build exactly the schema the code declares."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory

import kuznia
from kuznia.store.engine import HEAD, _alembic_config, current_revision
from kuznia.store.schema import metadata


def head_revision() -> str:
    """Alembic's head, read from the migration scripts (the code keeps it as ``HEAD``)."""
    head = ScriptDirectory.from_config(_alembic_config()).get_current_head()
    assert head is not None
    return head


def test_migrated_store_matches_the_declared_schema(ws: kuznia.Workspace):
    assert current_revision(ws.store.engine) == head_revision()
    with ws.store.engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), metadata)
    assert diff == []


def test_the_head_constant_is_alembics_head():
    assert HEAD == head_revision()
