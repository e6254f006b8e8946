"""Alembic environment: the connection comes from Kuznia, the metadata from store.schema."""

from alembic import context

from kuznia.store.schema import metadata

connection = context.config.attributes["connection"]
context.configure(connection=connection, target_metadata=metadata, render_as_batch=True)
with context.begin_transaction():
    context.run_migrations()
