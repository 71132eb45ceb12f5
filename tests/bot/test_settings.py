"""Every POSBOT_* setting in one place: defaults, precise errors, the generated page."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

from bot import settings
from bot.settings import (
    DB_URL,
    RATE_LIMIT,
    SETTINGS,
    TRACKER_URL,
    RateLimit,
    SettingError,
    Settings,
    markdown,
)

ROOT = Path(__file__).resolve().parents[2]
DOCS_PAGE = ROOT / "docs" / "configuration.md"
# Where the project reads or names its variables (tests read their own POSBOT_TEST_* too).
# README.md and docs/ too: every variable a page tells operators about must exist.
SOURCES = (
    "bot", "actions", "load", "deploy", "Makefile", "endpoints.yml", "credentials.yml",
    "README.md", "docs",
)  # fmt: skip
# A family such as `POSBOT_WECHAT_*` is not a name.
_NAME = re.compile(r"\bPOSBOT_[A-Z0-9_]*[A-Z0-9]\b(?!_\*)")


def test_defaults_without_any_variable() -> None:
    values = Settings.from_env({})
    assert values.db_url == "sqlite:///var/posbot.db"
    assert values.tracker_url == "sqlite:///var/tracker.db"
    assert values.redis_url is None
    assert values.rate_limit == RateLimit(20, 10.0)
    assert values.trusted_proxies == frozenset()
    assert values.holiday_file == Path("holidays.yml")
    assert values.operator_file == Path("operator.yml")
    assert values.wechat_reply_seconds == 4.0
    assert values.hotline is None


def test_values_are_parsed_and_blank_means_default() -> None:
    values = Settings.from_env(
        {
            "POSBOT_DB_URL": " postgresql://u@db/cases ",
            "POSBOT_RATE_LIMIT": "off",
            "POSBOT_TRUSTED_PROXIES": "127.0.0.1, ::1",
            "POSBOT_WECHAT_REPLY_SECONDS": "2.5",
            "POSBOT_HOTLINE": "   ",
        }
    )
    assert values.db_url == "postgresql://u@db/cases"
    assert values.rate_limit is None
    assert values.trusted_proxies == frozenset({"127.0.0.1", "::1"})
    assert values.wechat_reply_seconds == 2.5
    assert values.hotline is None


def test_the_environment_is_read_when_asked_not_at_import(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("POSBOT_RATE_LIMIT", "30/m")
    assert RATE_LIMIT.read() == RateLimit(30, 60.0)
    monkeypatch.setenv("POSBOT_RATE_LIMIT", "5/1")
    assert RATE_LIMIT.read() == RateLimit(5, 1.0)


def test_an_unusable_value_names_the_variable() -> None:
    with pytest.raises(SettingError, match=r"^POSBOT_RATE_LIMIT='abc': expected requests/period"):
        RATE_LIMIT.read({"POSBOT_RATE_LIMIT": "abc"})


def test_every_unusable_value_is_reported_at_once() -> None:
    with pytest.raises(SettingError) as raised:
        Settings.from_env(
            {
                "POSBOT_RATE_LIMIT": "0/s",
                "POSBOT_TRUSTED_PROXIES": "nginx",
                "POSBOT_WECHAT_REPLY_SECONDS": "9",
                "POSBOT_REDIS_URL": "localhost:6379",
            }
        )
    assert str(raised.value).splitlines() == [
        "POSBOT_REDIS_URL=(value not shown): expected a Redis URL such as redis://127.0.0.1:6379/1",
        "POSBOT_RATE_LIMIT='0/s': both numbers must be > 0",
        "POSBOT_TRUSTED_PROXIES='nginx': 'nginx' is not an IP address",
        "POSBOT_WECHAT_REPLY_SECONDS='9': must be between 0 and 5 seconds",
    ]


def test_values_that_may_hold_credentials_are_never_repeated() -> None:
    secret_url = "postgres:hunter2@db/cases"
    with pytest.raises(SettingError) as raised:
        DB_URL.read({"POSBOT_DB_URL": secret_url})
    assert "hunter2" not in str(raised.value)
    assert str(raised.value).startswith("POSBOT_DB_URL=(value not shown): expected")
    with pytest.raises(SettingError, match="POSBOT_TRACKER_URL"):
        TRACKER_URL.read({"POSBOT_TRACKER_URL": "var/tracker.db"})


def test_the_command_checks_the_environment() -> None:
    env = {"PATH": "/usr/bin:/bin", "POSBOT_RATE_LIMIT": "abc", "POSBOT_SESSION_SECRET": "s" * 20}
    failed = subprocess.run(
        [sys.executable, "-m", "bot.settings"], cwd=ROOT, env=env, capture_output=True, text=True
    )
    assert failed.returncode == 2
    assert "POSBOT_RATE_LIMIT='abc'" in failed.stderr
    env["POSBOT_RATE_LIMIT"] = "30/m"
    passed = subprocess.run(
        [sys.executable, "-m", "bot.settings"], cwd=ROOT, env=env, capture_output=True, text=True
    )
    assert passed.returncode == 0, passed.stderr
    assert "POSBOT_RATE_LIMIT=RateLimit(capacity=30, period_seconds=60.0)" in passed.stdout
    assert "POSBOT_SESSION_SECRET=(set)" in passed.stdout
    assert "s" * 20 not in passed.stdout


def test_the_settings_dataclass_has_a_field_for_every_setting() -> None:
    assert list(SETTINGS) == [field for field in Settings.__dataclass_fields__]
    assert len({setting.env for setting in SETTINGS.values()}) == len(SETTINGS)
    assert {setting.group for setting in SETTINGS.values()} <= set(settings.GROUPS)


def test_the_documentation_page_is_generated_from_the_settings() -> None:
    assert DOCS_PAGE.read_text(encoding="utf-8") == markdown(), (
        "docs/configuration.md is out of date: "
        "python -m bot.settings --markdown > docs/configuration.md"
    )


def test_every_variable_the_project_names_is_a_setting() -> None:
    known = {setting.env for setting in SETTINGS.values()}
    named: set[str] = set()
    for source in SOURCES:
        path = ROOT / source
        files = [path] if path.is_file() else [p for p in path.rglob("*") if p.is_file()]
        for file in files:
            if file.suffix in {".py", ".yml", ".yaml", ".md", ""} or file.name.startswith(
                "Dockerfile"
            ):
                named |= set(_NAME.findall(file.read_text(encoding="utf-8", errors="ignore")))
    assert named - known == set()


def test_no_module_but_the_settings_spells_a_variable_name() -> None:
    """Modules use ``DB_URL.env`` etc., so a name (and its default) lives in one place."""
    spelled = {
        path.relative_to(ROOT)
        for folder in ("bot", "actions")
        for path in (ROOT / folder).rglob("*.py")
        if '"POSBOT_' in path.read_text(encoding="utf-8")
    }
    assert spelled == {Path("bot/settings.py")}
