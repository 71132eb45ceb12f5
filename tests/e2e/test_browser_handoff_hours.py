"""The agent desk page in a real browser: waiting conversations and after-hours requests."""

from __future__ import annotations

import urllib.request
from datetime import datetime, timedelta

import pytest

from bot.clock import china_now
from bot.services.handoff_hours import CALLBACK, MESSAGE, record_after_hours
from tests.e2e.conftest import AGENT_TOKEN
from tests.e2e.test_browser import TIMEOUT_MS, browser  # noqa: F401  (fixture)

pytestmark = [pytest.mark.e2e, pytest.mark.model]


@pytest.fixture
def page(browser):  # noqa: F811
    # Playwright's waiting helpers need eval, which the page's CSP forbids (checked below).
    context = browser.new_context(locale="zh-CN", bypass_csp=True)
    page = context.new_page()
    page.set_default_timeout(TIMEOUT_MS)
    yield page
    context.close()


def test_the_desk_lists_waiting_conversations_and_after_hours_requests(running_bot, page):
    bot, store = running_bot
    bot.say("e2e-desk-waiting", "转人工")
    tomorrow = datetime.combine(china_now().date() + timedelta(days=1), datetime.min.time())
    with store.session() as session:
        record_after_hours(
            session,
            kind=CALLBACK,
            sender_id="rest:e2e-desk-callback",
            summary="预约回电",
            now=china_now(),
            callback_at=tomorrow.replace(hour=9, minute=30),
            phone="13911112222",
        )
        record_after_hours(
            session, kind=MESSAGE, sender_id="rest:e2e-desk-message", summary="留言",
            now=china_now(), message='<img src=x onerror="document.title=1">打印机坏了',
        )  # fmt: skip
    page.goto(f"{bot.url}/agent/")
    page.fill("#token", AGENT_TOKEN)
    page.click("#login button")
    page.wait_for_selector("#after-hours li >> text=拨打 13911112222")
    callback = page.locator("#after-hours li", has_text="13911112222").inner_text()
    assert f"回电 {tomorrow:%Y-%m-%d} 09:30" in callback and "rest:e2e-desk-callback" in callback
    message = page.locator("#after-hours li", has_text="打印机坏了").inner_text()
    assert message.startswith('留言：<img src=x onerror="document.title=1">打印机坏了')
    assert page.locator("#after-hours img").count() == 0 and page.title() != "1"
    assert "rest:e2e-desk-waiting" in page.inner_text("#waiting")
    # Handled: marked done, it leaves the list (the call-back stays).
    page.locator("#after-hours li", has_text="打印机坏了").locator("button").click()
    page.wait_for_selector("#after-hours li >> text=打印机坏了", state="detached")
    assert page.locator("#after-hours li", has_text="13911112222").count() == 1


def test_the_desk_page_refuses_a_wrong_token_and_sends_a_strict_csp(running_bot, page):
    bot, _ = running_bot
    with urllib.request.urlopen(f"{bot.url}/agent/", timeout=10) as response:
        policy = response.headers["Content-Security-Policy"]
    assert "script-src 'self'" in policy and "frame-ancestors 'none'" in policy
    page.goto(f"{bot.url}/agent/")
    page.fill("#token", "wrong-token-0123456789")
    page.click("#login button")
    page.wait_for_selector("#status >> text=令牌无效，请重新登录")
    assert page.locator("#after-hours li").count() == 0
    assert page.is_visible("#login")


def test_one_agent_login_serves_the_desk_and_the_copilot_until_logout(running_bot, page):
    bot, _ = running_bot
    page.goto(f"{bot.url}/agent/")
    page.click("#login button")  # an empty token is no login
    assert page.is_visible("#login") and page.is_hidden("#logout")

    page.fill("#token", AGENT_TOKEN)
    page.click("#login button")
    page.wait_for_selector("#logout", state="visible")
    assert page.is_hidden("#login") and page.input_value("#token") == ""

    page.goto(f"{bot.url}/copilot/")  # same tab: the copilot has the token
    assert page.is_hidden("#login") and page.is_visible("#turn")

    page.goto(f"{bot.url}/agent/")
    page.click("#logout")
    assert page.is_visible("#login") and page.is_hidden("#filter")
    assert page.evaluate("window.sessionStorage.length") == 0
    page.goto(f"{bot.url}/copilot/")
    assert page.is_visible("#login") and page.is_hidden("#turn")
