"""The widget and the FAQ page in a real browser (Debian's chromium driven by Playwright)."""

from __future__ import annotations

import contextlib
import functools
import http.server
import json
import os
import threading
import urllib.error
import urllib.request
from pathlib import Path

import pytest
from sqlalchemy import select

from bot.faq import FAQ_TOPICS
from bot.store.models import Case
from tests.e2e.conftest import AGENT_TOKEN

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
TIMEOUT_MS = 30_000

pytestmark = [pytest.mark.e2e, pytest.mark.model]


@pytest.fixture(scope="module")
def browser():
    if not Path(CHROMIUM).exists():
        if os.environ.get("CI"):
            pytest.fail(f"{CHROMIUM} missing: .ci/run installs Debian's chromium")
        pytest.skip(f"{CHROMIUM} not installed (apt-get install chromium)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(
            executable_path=CHROMIUM, headless=True, args=CHROMIUM_FLAGS
        )
        yield chromium
        chromium.close()


@pytest.fixture
def page(browser):
    # The pages forbid eval by CSP; Playwright's own waiting helpers need it, so the harness
    # bypasses CSP (test_pages_send_a_strict_csp checks the header itself).
    context = browser.new_context(
        viewport={"width": 390, "height": 844}, locale="zh-CN", bypass_csp=True
    )
    page = context.new_page()
    page.set_default_timeout(TIMEOUT_MS)
    yield page
    context.close()


def _bot_texts(page) -> list[str]:
    return page.locator(".msg.bot .bubble").all_inner_texts()


def _send(page, text: str) -> None:
    before = page.locator(".msg.bot").count()
    page.fill("#input", text)
    page.click("#send")
    page.wait_for_function(
        f"document.querySelectorAll('.msg.bot').length > {before} "
        "&& document.getElementById('typing').hidden"
    )


def test_widget_reason_button_verification_and_status(running_bot, page, tmp_path):
    bot, store = running_bot
    with store.session() as session:
        case_id = session.execute(
            select(Case.case_id).where(Case.merchant_id == "898310058127777")
        ).scalar_one()
    page.goto(f"{bot.url}/chat")
    page.wait_for_selector(".msg.bot")
    assert "POS机解除停用助手" in _bot_texts(page)[0]

    _send(page, "我的POS机为什么被停用了")
    assert any("常见有这几类原因" in text for text in _bot_texts(page))

    before = page.locator(".msg.bot").count()
    page.get_by_role("button", name="查我的终端").click()
    page.wait_for_function(f"document.querySelectorAll('.msg.bot').length > {before}")
    page.wait_for_function("document.getElementById('typing').hidden")
    assert "15位商户号" in _bot_texts(page)[-1]

    _send(page, "898310058127777")
    _send(page, "3333")
    replies = "\n".join(_bot_texts(page))
    assert f"申请单 {case_id}（终端 60040001）：需要补充材料" in replies
    assert "结算账户变更证明；法人身份证正反面照片" in replies
    page.screenshot(path=str(tmp_path / "widget.png"), full_page=True)

    shown = page.locator(".msg").count()
    page.reload()
    page.wait_for_selector(".msg.bot")
    assert page.locator(".msg").count() == shown  # the conversation survives a reload


def test_widget_renders_text_never_html(running_bot, page):
    bot, _ = running_bot
    page.goto(f"{bot.url}/chat")
    page.wait_for_selector(".msg.bot")
    _send(page, '<img src=x onerror="window.hacked=1"><b>粗体</b>')
    assert page.locator(".log img, .log b").count() == 0
    assert page.evaluate("window.hacked === undefined")
    assert (
        '<img src=x onerror="window.hacked=1"><b>粗体</b>'
        in page.locator(".msg.user .bubble").last.inner_text()
    )


def test_faq_page_shows_bot_answers_and_search_jumps(running_bot, page, tmp_path):
    bot, _ = running_bot
    page.goto(f"{bot.url}/faq")
    topics = page.locator("section.topic")
    assert topics.count() == len(FAQ_TOPICS)
    assert page.locator("#fees .answer").inner_text().startswith("费用说明")
    review = page.locator("#review-time .answer").inner_text()
    assert review.startswith("审核一般需要 3-7 个工作日")
    page.fill("#q", "审核一般多久能批下来")
    page.click("#faq-search button")
    page.wait_for_selector("#review-time.hit")
    assert page.get_attribute("#ask", "href").startswith("/chat?q=")
    page.screenshot(path=str(tmp_path / "faq.png"), full_page=False)


@contextlib.contextmanager
def shop_site(directory, port: int):
    """A merchant portal on another origin (the embedding origin the bot allows)."""
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(directory))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", port), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.shutdown()
        server.server_close()


def test_embed_snippet_opens_the_widget(running_bot, page, tmp_path):
    bot, _ = running_bot
    host_page = tmp_path / "shop.html"
    host_page.write_text(
        f'<html><body><h1>某商户门户</h1><script src="{bot.url}/chat/static/embed.js">'
        "</script></body></html>",
        encoding="utf-8",
    )
    with shop_site(tmp_path, bot.embed_port) as shop:
        page.goto(f"{shop}/shop.html")
        page.get_by_role("button", name="POS机停用咨询").click()
        frame = page.frame_locator("iframe[title='POS机解除停用助手']")
        frame.locator(".msg.bot").first.wait_for()
        assert "POS机解除停用助手" in frame.locator(".msg.bot .bubble").first.inner_text()


def test_pages_send_a_strict_csp(running_bot):
    bot, _ = running_bot
    for path in ("/chat", "/faq"):
        with urllib.request.urlopen(f"{bot.url}{path}", timeout=10) as response:
            policy = response.headers["Content-Security-Policy"]
        assert "script-src 'self'" in policy and "unsafe" not in policy


def test_copilot_page_login_and_suggestion(running_bot, page, tmp_path):
    bot, _ = running_bot
    page.goto(f"{bot.url}/copilot")
    page.fill("#token", AGENT_TOKEN)
    page.click("#login button")
    page.fill("#said", "商户号898310058125555 他问申请怎么还没审完")
    page.click("#turn button")
    page.wait_for_function("document.getElementById('reply').textContent.length > 0")
    assert "898310058125555" in page.inner_text("#case")
    assert "（已超期）" in page.inner_text("#case")
    assert page.locator("#steps li").count() >= 1
    page.screenshot(path=str(tmp_path / "copilot.png"))


def _agent_call(url: str, method: str = "GET", body: dict | None = None) -> dict:
    request = urllib.request.Request(
        url,
        method=method,
        data=json.dumps(body).encode("utf-8") if body is not None else None,
        headers={"Authorization": f"Bearer {AGENT_TOKEN}", "Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=30) as response:
        return json.loads(response.read())


def test_handoff_pauses_the_bot_and_an_agent_answers_in_the_widget(running_bot, page):
    bot, _ = running_bot
    page.goto(f"{bot.url}/chat")
    page.wait_for_selector(".msg.bot")
    _send(page, "我要转人工 我手机13812345678")
    assert "已为您转人工客服，工单号 TK" in _bot_texts(page)[-1]
    # The agent desk sees the conversation under the REST channel's namespace.
    sender = "rest:" + page.evaluate("JSON.parse(localStorage.getItem('posbot.chat.v1')).sender")

    bots_before = page.locator(".msg.bot").count()
    page.fill("#input", "审核要多久")  # the bot is paused: no automatic answer
    page.click("#send")
    page.wait_for_function("document.getElementById('typing').hidden")
    assert page.locator(".msg.bot").count() == bots_before

    waiting = _agent_call(f"{bot.url}/agent/conversations")["conversations"]
    mine = [c for c in waiting if c["sender_id"] == sender]
    assert len(mine) == 1 and "138****5678" in mine[0]["summary"]
    history = _agent_call(f"{bot.url}/agent/conversations/{sender}")
    assert history["paused"] is True
    assert [t["text"] for t in history["turns"] if t["from"] == "user"][-2:] == [
        "我要转人工 我手机138****5678",
        "审核要多久",
    ]

    result = _agent_call(
        f"{bot.url}/agent/conversations/{sender}/reply", "POST", {"text": "您好，我是客服小王"}
    )
    assert result == {"delivered_via": "inbox"}
    page.wait_for_selector(".msg.agent >> text=您好，我是客服小王", timeout=10_000)

    released = _agent_call(f"{bot.url}/agent/conversations/{sender}/release", "POST", {})
    assert released["resumed"] is True and len(released["closed_tickets"]) == 1
    page.wait_for_selector(".msg.bot >> text=智能助手继续为您解答", timeout=10_000)
    _send(page, "审核要多久")
    # The answer, then the feedback offer (docs/feedback.md) as the last message.
    assert "3-7 个工作日" in _bot_texts(page)[-2]
    assert _bot_texts(page)[-1].startswith("这个回答对您有帮助吗")
    assert _agent_call(f"{bot.url}/agent/conversations/{sender}")["paused"] is False


def test_agent_endpoints_require_a_token(running_bot):
    bot, _ = running_bot
    for path in ("/agent/conversations", "/agent/conversations/x"):
        try:
            urllib.request.urlopen(f"{bot.url}{path}", timeout=10)
        except urllib.error.HTTPError as error:
            assert error.code == 401
        else:
            raise AssertionError(f"{path} answered without a token")
