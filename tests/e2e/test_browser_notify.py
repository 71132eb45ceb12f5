"""Status notifications in a real browser: after `posbot case set-status` and a round of
`posbot notify`, the widget of the merchant's verified conversation shows the message, once,
while open and on the next visit."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
from sqlalchemy import select

from bot.settings import DB_URL
from bot.store.models import Case, Notification
from tests.conftest import ROOT
from tests.e2e.test_browser import _send, browser, page  # noqa: F401  (fixtures)

pytestmark = [pytest.mark.e2e, pytest.mark.model]

MERCHANT = "898310058128888"  # 孙氏烘焙坊, phone 13500004444, an approved case (no other test)
NOTICES = ".msg.notice .bubble"


def posbot(store_url: str, *args: str) -> str:
    """Runs the real command line against the bot's store."""
    env = {**os.environ, DB_URL.env: store_url, "RASA_TELEMETRY_ENABLED": "false"}
    done = subprocess.run(
        [sys.executable, "-m", "bot.cli.main", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


def test_the_widget_shows_a_status_notification(running_bot, page, browser):  # noqa: F811
    bot, store = running_bot
    with store.session() as session:
        case_id = session.execute(
            select(Case.case_id).where(Case.merchant_id == MERCHANT)
        ).scalar_one()
    page.goto(f"{bot.url}/chat")
    page.wait_for_selector(".msg.bot")
    _send(page, "查一下申请进度")
    _send(page, MERCHANT)
    _send(page, "4444")
    assert any(case_id in text for text in page.locator(".msg.bot .bubble").all_inner_texts())

    # While the widget is open: the operator reopens the case, the worker runs once.
    out = posbot(store.url, "case", "set-status", case_id, "under_review")
    assert f"{case_id}: approved -> under_review" in out
    assert "sent 1" in posbot(store.url, "notify", "--once")
    page.wait_for_selector(NOTICES, timeout=15_000)
    [notice] = page.locator(NOTICES).all_inner_texts()
    assert case_id in notice and "已进入审核" in notice
    page.wait_for_timeout(4_000)  # another poll: nothing new
    assert page.locator(NOTICES).count() == 1

    # The next visit: the page was closed when the decision came; it shows on load.
    storage = page.context.storage_state()
    page.close()
    posbot(store.url, "case", "set-status", case_id, "approved")
    assert "sent 1" in posbot(store.url, "notify", "--once")
    context = browser.new_context(
        viewport={"width": 390, "height": 844}, locale="zh-CN", bypass_csp=True,
        storage_state=storage,
    )  # fmt: skip
    try:
        again = context.new_page()
        again.goto(f"{bot.url}/chat")
        again.wait_for_function(
            f"document.querySelectorAll('{NOTICES}').length >= 2", timeout=2_500
        )
        texts = again.locator(NOTICES).all_inner_texts()
        assert "已进入审核" in texts[0] and "已审核通过" in texts[1]
    finally:
        context.close()
    with store.session() as session:
        rows = session.execute(
            select(Notification).where(Notification.case_id == case_id)
        ).scalars()
        assert [(r.channel, r.status, r.seen_at is not None) for r in rows] == [
            ("web", "sent", True),
            ("web", "sent", True),
        ]
