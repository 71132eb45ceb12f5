"""Shared fixtures: a real SQLite case store with the demo data, a fixed clock, the domain."""

from __future__ import annotations

import os
from datetime import datetime
from pathlib import Path

import pytest
import yaml

os.environ["RASA_TELEMETRY_ENABLED"] = "false"
os.environ.setdefault("SQLALCHEMY_SILENCE_UBER_WARNING", "1")

from bot.store.database import CaseStore
from bot.store.seed import seed_demo_data
from bot.workdays import WorkdayCalendar

ROOT = Path(__file__).resolve().parent.parent
# Thursday 26 November 2026, 10:00 China time.
NOW = datetime(2026, 11, 26, 10, 0, 0)


@pytest.fixture
def now() -> datetime:
    return NOW


@pytest.fixture
def store(tmp_path: Path) -> CaseStore:
    case_store = CaseStore(f"sqlite:///{tmp_path / 'cases.db'}")
    case_store.create_schema()
    yield case_store
    case_store.dispose()


@pytest.fixture
def seeded_store(store: CaseStore) -> CaseStore:
    seed_demo_data(store, now=NOW)
    return store


@pytest.fixture
def calendar() -> WorkdayCalendar:
    return WorkdayCalendar()


@pytest.fixture(scope="session")
def domain() -> dict:
    return yaml.safe_load((ROOT / "domain.yml").read_text(encoding="utf-8"))
