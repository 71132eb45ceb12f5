"""An operator logs in to the console, reads the dashboard, edits a reply at /ops/content in a
real browser; the widget answers with it at once (no retraining, no restart), and the FAQ page
shows it too."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from bot import runtime
from bot.store.database import CaseStore
from bot.store.seed import seed_demo_data
from tests.conftest import ROOT
from tests.e2e.conftest import AGENT_TOKENS, MODEL
from tests.e2e.test_browser import CHROMIUM_FLAGS, TIMEOUT_MS, _bot_texts, _send, browser  # noqa: F401

OPS_TOKEN = "ops-token-0123456789abc"
NEW_TEXT = "审核通常 5 个工作日内完成（以日历工作日计），进度随时可以在这里查。"

pytestmark = [pytest.mark.e2e, pytest.mark.model]


@pytest.fixture(scope="module")
def content_bot(tmp_path_factory) -> Iterator[str]:
    if not MODEL.exists():
        pytest.fail(f"no trained model at {MODEL}: run `make test` (it trains first)")
    workdir = tmp_path_factory.mktemp("e2e-content")
    store = CaseStore(f"sqlite:///{workdir / 'cases.db'}")
    store.create_schema()
    seed_demo_data(store)
    env = {
        "POSBOT_DB_URL": store.url,
        "POSBOT_AGENT_TOKENS": AGENT_TOKENS,
        "POSBOT_OPERATOR_TOKENS": f"ops1:{OPS_TOKEN}",
        "POSBOT_RATE_LIMIT": "10000/10s",
        "POSBOT_HOTLINE": "4008-123-456",
        "POSBOT_OPERATOR_FILE": os.devnull,
        # Long on purpose: the edit is live through the process's own invalidation.
        "POSBOT_CONTENT_CHECK_SECONDS": "600",
    }
    try:
        with runtime.running_bot(
            MODEL, env=env, workdir=workdir, cwd=ROOT, rasa_ready_seconds=180,
            endpoints={"nlg": {"type": "bot.nlg.ContentNLG"}},
        ) as bot:  # fmt: skip
            yield bot.url
    finally:
        store.dispose()


@pytest.fixture
def page(browser):  # noqa: F811
    context = browser.new_context(
        viewport={"width": 1000, "height": 900}, locale="zh-CN", bypass_csp=True
    )
    page = context.new_page()
    page.set_default_timeout(TIMEOUT_MS)
    yield page
    context.close()


def test_an_edit_is_live_in_the_widget_and_the_faq(content_bot, page, tmp_path: Path):
    page.goto(f"{content_bot}/chat")
    page.wait_for_selector(".msg.bot")
    _send(page, "审核要多久")
    # The answer, then the feedback offer (docs/feedback.md).
    assert _bot_texts(page)[-2].startswith("审核一般需要 3-7 个工作日")

    page.goto(f"{content_bot}/ops/content")
    page.fill("#token", "not-the-token-at-all")
    page.click("#login button")
    page.wait_for_function("document.getElementById('notice').textContent.length > 0")
    assert "运营令牌" in page.inner_text("#notice")
    assert page.is_hidden("#content")

    # The operator logs in on the dashboard, reads it, and goes to the reply texts by its nav:
    # one login for both pages.
    page.goto(f"{content_bot}/ops")
    page.fill("#token", OPS_TOKEN)
    page.click("#login button")
    page.wait_for_selector(".ops-card")
    cards = page.locator(".ops-card").all_inner_texts()
    assert any("会话数" in card for card in cards), cards
    page.click("nav.ops-nav a:has-text('回复内容')")
    page.wait_for_selector("#content:not([hidden])")
    assert page.evaluate("sessionStorage.getItem('posbot-ops-token')") == OPS_TOKEN
    assert page.is_hidden("#login") and page.is_visible("#logout")
    assert page.get_attribute("nav.ops-nav a >> nth=0", "href") == "/ops"
    page.fill("#filter", "utter_review_time")
    card = page.locator('.content-item[data-name="utter_review_time"]')

    card.locator("textarea").fill("审核 <b>很快</b>")
    card.locator("button.save").click()
    card.locator(".error").wait_for()
    page.wait_for_function(
        "document.querySelector('.content-item[data-name=\"utter_review_time\"] .error')"
        ".textContent.length > 0"
    )
    assert "HTML" in card.locator(".error").inner_text()

    card.locator("textarea").fill(NEW_TEXT)
    card.locator("button.save").click()
    page.wait_for_function("document.getElementById('notice').textContent.includes('已保存')")
    page.wait_for_selector(".content-history .edit")
    assert page.locator(".content-history .edit").count() == 1
    assert "ops1" in page.locator(".content-history .edit").first.inner_text()
    page.screenshot(path=str(tmp_path / "content.png"), full_page=False)

    page.goto(f"{content_bot}/chat")
    page.wait_for_selector(".msg.bot")
    _send(page, "审核一般要几天")
    assert _bot_texts(page)[-2] == NEW_TEXT

    page.goto(f"{content_bot}/faq")
    assert page.locator("#review-time .answer").inner_text() == NEW_TEXT

    # One click undoes it; the widget is back to domain.yml's text.
    page.goto(f"{content_bot}/ops/content")
    page.wait_for_selector("#content:not([hidden])")  # the token survives in the tab
    page.locator(".content-history .edit button.revert").first.click()
    page.wait_for_function("document.getElementById('notice').textContent.includes('已撤销')")
    page.goto(f"{content_bot}/chat")
    page.wait_for_selector(".msg.bot")
    _send(page, "审核要多久啊")
    # The answer, then the feedback offer (docs/feedback.md).
    assert _bot_texts(page)[-2].startswith("审核一般需要 3-7 个工作日")
