"""Alembic environment of the case store (run through `posbot db upgrade`)."""

from __future__ import annotations

from alembic import context

from bot.store.models import Base

config = context.config
connection = config.attributes.get("connection")
if connection is None:
    raise RuntimeError("run migrations through bot.store.migrate (posbot db upgrade)")
context.configure(connection=connection, target_metadata=Base.metadata, render_as_batch=True)
with context.begin_transaction():
    context.run_migrations()
