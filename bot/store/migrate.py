"""Schema migrations of the case store (Alembic, scripts in bot/store/migrations)."""

from __future__ import annotations

import logging
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext

from bot.store.database import CaseStore

logger = logging.getLogger(__name__)
MIGRATIONS = Path(__file__).resolve().parent / "migrations"


def _config() -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    return config


def upgrade(store: CaseStore, revision: str = "head") -> None:
    """Brings the schema to ``revision`` (the latest by default).

    A store whose tables were created directly from the models (``posbot db init`` before
    migrations existed, or tests) and that has no revision yet is stamped as the latest one.
    """
    config = _config()
    with store.engine.begin() as connection:
        config.attributes["connection"] = connection
        unversioned = MigrationContext.configure(connection).get_current_revision() is None
        if unversioned and store.has_schema():
            logger.warning("case store has tables but no revision: stamping %s", revision)
            command.stamp(config, revision)
        else:
            command.upgrade(config, revision)


def current_revision(store: CaseStore) -> str | None:
    """The revision the database is at (``None`` when never migrated)."""
    with store.engine.connect() as connection:
        return MigrationContext.configure(connection).get_current_revision()
