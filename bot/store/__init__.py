"""The case store: SQLAlchemy models, session factory and repositories."""

from bot.store.database import CaseStore, database_url, default_store

__all__ = ["CaseStore", "database_url", "default_store"]
