"""Alembic environment: migrations run on the connection the app passes in."""

from alembic import context

connection = context.config.attributes["connection"]
context.configure(connection=connection, target_metadata=None, version_table="gp_alembic_version")
with context.begin_transaction():
    context.run_migrations()
