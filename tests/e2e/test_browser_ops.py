"""The operators' console in a real browser: log in with the token, read the dashboard,
export a CSV; and the console as the running bot serves it (credentials.yml)."""

from __future__ import annotations

import asyncio
import json
import threading
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from rasa.core.channels.channel import register
from sanic import Sanic

from bot.channels.auth import AgentTokens, OperatorTokens
from bot.channels.ops import OpsConsoleInput
from bot.services.console import FIGURES, ConsoleData, ConsoleService
from bot.store.database import CaseStore
from tests.bot.services.console_data import events_engine, fill_cases, fill_events
from tests.e2e.conftest import AGENT_TOKEN
from tests.e2e.test_browser import browser, page  # noqa: F401  (fixtures)

OPS_TOKEN = "ops-browser-token-0123456789"
TOKEN_KEY = "posbot-ops-token"

pytestmark = [pytest.mark.e2e]


@pytest.fixture
def console_url(tmp_path: Path) -> Iterator[str]:
    """The console over the known conversations, served by Sanic on a thread of its own."""
    store = CaseStore(f"sqlite:///{tmp_path / 'cases.db'}")
    store.create_schema()
    fill_cases(store)
    engine = events_engine(f"sqlite:///{tmp_path / 'tracker.db'}")
    fill_events(engine)
    channel = OpsConsoleInput(
        OperatorTokens({"ops1": OPS_TOKEN}),
        AgentTokens({"alice": AGENT_TOKEN}),
        ConsoleService(ConsoleData(store, engine)),
    )
    Sanic.test_mode = True
    app = Sanic(f"ops_browser_{uuid.uuid4().hex}", configure_logging=False)
    register([channel], app, route="/webhooks/")
    loop = asyncio.new_event_loop()
    started = threading.Event()
    state: dict[str, Any] = {}

    async def start() -> None:
        server = await app.create_server(
            host="127.0.0.1", port=0, return_asyncio_server=True, access_log=False
        )
        await server.startup()
        state["server"] = server
        state["port"] = server.server.sockets[0].getsockname()[1]
        started.set()

    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()
    asyncio.run_coroutine_threadsafe(start(), loop).result(30)
    started.wait(30)
    try:
        yield f"http://127.0.0.1:{state['port']}"
    finally:

        async def stop() -> None:
            state["server"].close()
            await state["server"].wait_closed()

        asyncio.run_coroutine_threadsafe(stop(), loop).result(30)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(10)
        store.dispose()
        engine.dispose()


def _wait_for_figures(page: Any) -> None:  # noqa: F811
    page.wait_for_function(f"document.querySelectorAll('.ops-figure').length === {len(FIGURES)}")


def test_login_read_dashboard_and_export(console_url: str, page: Any, tmp_path: Path) -> None:  # noqa: F811
    page.goto(f"{console_url}/ops/")
    assert page.locator("nav.ops-nav a").all_inner_texts() == ["概览", "回复内容"]
    assert page.locator("nav.ops-nav a").nth(1).get_attribute("href") == "/ops/content"
    page.fill("#token", OPS_TOKEN)
    page.click("#login button")
    assert page.is_hidden("#login") and page.is_visible("#logout")
    page.fill("#since", "2026-11-20")
    page.fill("#until", "2026-11-22")
    page.click("#range button")
    page.wait_for_function(
        "document.getElementById('status').textContent === '2026-11-20 至 2026-11-22'"
    )
    _wait_for_figures(page)
    assert page.evaluate(f"sessionStorage.getItem('{TOKEN_KEY}')") == OPS_TOKEN
    cards = {
        card.get_attribute("data-total"): card.locator(".value").inner_text()
        for card in page.locator(".ops-card").all()
    }
    assert cards == {
        "volume.conversations": "5",
        "volume.messages": "13",
        "containment.containment_rate": "40%",
        "fallback.fallback_rate": "23.1%",
        "handoffs.handoff_rate": "60%",
        "applications.filed": "3",
        "notifications.delivery_rate": "66.7%",
        "feedback.helpful_rate": "40%",
        "satisfaction.mean_score": "3.33",
    }
    titles = page.locator(".ops-figure h2").all_inner_texts()
    assert [t.replace("导出 CSV", "").strip() for t in titles] == [
        s.title for s in FIGURES.values()
    ]
    # Charts are SVG images drawn by the server.
    assert page.locator("#figure-volume img").get_attribute("src").startswith("data:image/svg+xml")
    intents = page.locator("#figure-top_intents td").all_text_contents()
    assert intents[:3] == ["nlu_fallback", "3", "23.1%"]
    with page.expect_download() as download_info:
        page.click("#figure-handoffs button")
    download = download_info.value
    assert download.suggested_filename == "handoffs_2026-11-20_2026-11-22.csv"
    saved = tmp_path / "handoffs.csv"
    download.save_as(saved)
    assert saved.read_text(encoding="utf-8").splitlines()[1] == "2026-11-20,1,1,0,0,0,0.3333"


def test_an_agent_token_is_refused_and_forgotten(console_url: str, page: Any) -> None:  # noqa: F811
    page.goto(f"{console_url}/ops/")
    page.fill("#token", AGENT_TOKEN)
    page.click("#login button")
    page.wait_for_function("document.getElementById('status').textContent.includes('令牌')")
    assert page.locator("#status").inner_text() == "令牌无效或无运营权限，请重新登录"
    assert page.evaluate(f"sessionStorage.getItem('{TOKEN_KEY}')") is None
    assert page.locator("#login").is_visible()
    assert page.locator(".ops-figure").count() == 0


def test_bad_range_shows_the_reason(console_url: str, page: Any) -> None:  # noqa: F811
    page.goto(f"{console_url}/ops/")
    page.evaluate(f"sessionStorage.setItem('{TOKEN_KEY}', '{OPS_TOKEN}')")
    page.reload()
    _wait_for_figures(page)
    page.fill("#since", "2026-11-22")
    page.fill("#until", "2026-11-20")
    page.click("#range button")
    page.wait_for_function("document.getElementById('status').textContent.includes('after')")
    assert page.locator("#status").inner_text() == "since 2026-11-22 is after until 2026-11-20"


@pytest.mark.model
def test_the_running_bot_serves_the_console(running_bot: Any) -> None:
    bot, _store = running_bot
    with urllib.request.urlopen(f"{bot.url}/ops/", timeout=10) as reply:
        assert reply.status == 200
        assert "运营控制台" in reply.read().decode("utf-8")
    for headers, expected in (({}, 401), ({"Authorization": f"Bearer {AGENT_TOKEN}"}, 403)):
        request = urllib.request.Request(f"{bot.url}/ops/api/dashboard", headers=headers)
        with pytest.raises(urllib.error.HTTPError) as error:
            urllib.request.urlopen(request, timeout=10)
        assert error.value.code == expected
        assert "error" in json.loads(error.value.read())
