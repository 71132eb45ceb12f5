"""Item 5b: a per-client (and per REST sender) rate limit on the public routes.

Real parallel requests against a real Sanic app on a free port, limited the way
``posbot serve`` limits the Rasa server (:func:`bot.server_limits.configure`).
"""

from __future__ import annotations

import asyncio
import json
import random
import shutil
import socket
import subprocess
from collections import Counter
from pathlib import Path

import aiohttp
import pytest
from aiohttp import web
from rasa.core.channels.channel import register
from rasa.core.tracker_store import InMemoryTrackerStore
from rasa.shared.core.domain import Domain

from bot import server_limits
from bot.channels.faq import FaqInput
from bot.channels.rate_limit import (
    MAX_TRACKED_KEYS,
    RateLimit,
    RateLimitConfigError,
    TokenBuckets,
    trusted_proxies,
)
from bot.channels.rest import GuardedRestInput
from bot.channels.webchat import WebChatInput
from bot.prod.config_files import nginx_command, nginx_config, write_config_files
from bot.prod.settings import ProdSettings
from tests.bot.channels.conftest import FakeBot
from tests.security import redis_service, servers
from tests.security.servers import Serve, new_app

serve = servers.serve  # fixture

PARALLEL = 40


class LoadingBot(FakeBot):
    """Answers REST messages; its model is still loading (the FAQ search answers 503)."""

    def __init__(self) -> None:
        super().__init__()
        self.domain = Domain.empty()
        # The REST channel looks the conversation up before answering (session binding).
        self.tracker_store = InMemoryTrackerStore(self.domain)

    def is_ready(self) -> bool:
        return False


async def _limited_app(serve: Serve, environ: dict[str, str]) -> str:
    app = new_app()
    app.ctx.agent = LoadingBot()
    register([GuardedRestInput(), FaqInput(), WebChatInput()], app, route="/webhooks/")
    server_limits.configure(app, environ)
    return await serve(app)


async def _post(
    session: aiohttp.ClientSession, url: str, payload: dict, headers: dict[str, str] | None = None
) -> tuple[int, dict[str, str], str]:
    async with session.post(url, json=payload, headers=headers or {}) as response:
        return response.status, dict(response.headers), await response.text()


# --- configuration -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("spec", "capacity", "period"),
    [("20/10s", 20, 10.0), ("30/m", 30, 60.0), ("5/1", 5, 1.0), (" 1000 / 1h ", 1000, 3600.0)],
)
def test_the_limit_is_read_from_its_text(spec: str, capacity: int, period: float) -> None:
    assert RateLimit.parse(spec) == RateLimit(capacity, period)


def test_the_default_is_20_per_10_seconds_and_off_turns_it_off() -> None:
    assert RateLimit.from_env({}) == RateLimit(20, 10.0)
    assert RateLimit.from_env({"POSBOT_RATE_LIMIT": "OFF"}) is None


@pytest.mark.parametrize("spec", ["20", "abc/10s", "0/10s", "20/0s", "20/10d", "-1/s"])
def test_a_wrong_limit_is_a_precise_error(spec: str) -> None:
    with pytest.raises(RateLimitConfigError, match="POSBOT_RATE_LIMIT"):
        RateLimit.parse(spec)


def test_trusted_proxies_must_be_addresses() -> None:
    assert trusted_proxies({"POSBOT_TRUSTED_PROXIES": "127.0.0.1, ::1"}) == {"127.0.0.1", "::1"}
    with pytest.raises(RateLimitConfigError, match="nginx"):
        trusted_proxies({"POSBOT_TRUSTED_PROXIES": "nginx"})


# --- token buckets ---------------------------------------------------------------------------


def test_a_bucket_allows_a_burst_then_refills_at_the_average_rate() -> None:
    now = [0.0]
    buckets = TokenBuckets(RateLimit(3, 3.0), clock=lambda: now[0])
    assert [buckets.take("a") for _ in range(3)] == [0.0, 0.0, 0.0]
    assert buckets.take("a") == pytest.approx(1.0)
    assert buckets.take("b") == 0.0  # another client has its own bucket
    now[0] = 1.0
    assert buckets.take("a") == 0.0
    assert buckets.take("a") > 0


def test_memory_is_bounded() -> None:
    buckets = TokenBuckets(RateLimit(1, 60.0), max_keys=100)
    for number in range(1000):
        buckets.take(f"10.0.{number // 256}.{number % 256}")
    assert len(buckets) == 100
    assert MAX_TRACKED_KEYS == 50_000


# --- a real server under parallel requests -----------------------------------------------------


async def test_parallel_requests_of_one_client_get_exactly_the_limit(
    serve: Serve,
) -> None:
    base = await _limited_app(serve, {"POSBOT_RATE_LIMIT": "5/10s"})
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=PARALLEL)) as session:
        answers = await asyncio.gather(
            *(_post(session, f"{base}/faq/search", {"q": "审核要多久"}) for _ in range(PARALLEL))
        )
    statuses = Counter(status for status, _, _ in answers)
    assert statuses == {503: 5, 429: PARALLEL - 5}  # 503: no model loaded in this test app
    limited = [(headers, body) for status, headers, body in answers if status == 429]
    for headers, body in limited:
        assert headers["Content-Type"].startswith("application/json")
        payload = json.loads(body)
        retry = int(headers["Retry-After"])
        assert 1 <= retry <= 2
        assert payload == {
            "error": "rate_limited",
            "message": f"请求过于频繁，请 {retry} 秒后再试。Too many requests: please retry in "
            f"{retry} s.",
            "retry_after": retry,
        }


async def test_rest_messages_are_limited_per_sender_across_addresses(
    serve: Serve,
) -> None:
    environ = {"POSBOT_RATE_LIMIT": "4/10s", "POSBOT_TRUSTED_PROXIES": "127.0.0.1"}
    base = await _limited_app(serve, environ)
    url = f"{base}/webhooks/rest/webhook"
    async with aiohttp.ClientSession() as session:
        # Twenty addresses (as nginx reports them), one conversation.
        answers = await asyncio.gather(
            *(
                _post(
                    session,
                    url,
                    {"sender": "web-victim", "message": "查下进度"},
                    {"X-Forwarded-For": f"203.0.113.{number}"},
                )
                for number in range(20)
            )
        )
        other = await _post(session, url, {"sender": "web-other", "message": "你好"})
    assert Counter(status for status, _, _ in answers) == {200: 4, 429: 16}
    assert other[0] == 200


async def test_forwarded_for_is_ignored_unless_the_proxy_is_trusted(
    serve: Serve,
) -> None:
    base = await _limited_app(serve, {"POSBOT_RATE_LIMIT": "3/10s"})
    async with aiohttp.ClientSession() as session:
        answers = await asyncio.gather(
            *(
                _post(
                    session,
                    f"{base}/faq/search",
                    {"q": "审核要多久"},
                    {"X-Forwarded-For": f"198.51.100.{number}"},
                )
                for number in range(10)
            )
        )
    assert Counter(status for status, _, _ in answers) == {503: 3, 429: 7}


async def test_behind_the_trusted_proxy_each_client_has_its_own_bucket(
    serve: Serve,
) -> None:
    environ = {"POSBOT_RATE_LIMIT": "2/10s", "POSBOT_TRUSTED_PROXIES": "127.0.0.1"}
    base = await _limited_app(serve, environ)
    async with aiohttp.ClientSession() as session:
        answers = await asyncio.gather(
            *(
                _post(
                    session,
                    f"{base}/faq/search",
                    {"q": "审核要多久"},
                    {"X-Forwarded-For": f"198.51.100.{number % 5}"},
                )
                for number in range(20)
            )
        )
    assert Counter(status for status, _, _ in answers) == {503: 10, 429: 10}


async def test_health_and_static_files_are_not_limited(serve: Serve) -> None:
    base = await _limited_app(serve, {"POSBOT_RATE_LIMIT": "1/10s"})
    async with aiohttp.ClientSession() as session:
        for path in ["/webhooks/rest/", "/chat/static/chat.js"] * 5:
            async with session.get(f"{base}{path}") as response:
                assert response.status == 200, path
        async with session.get(f"{base}/chat/") as response:
            assert response.status == 200
        async with session.get(f"{base}/chat/") as response:
            assert response.status == 429


async def test_off_installs_no_limit(serve: Serve) -> None:
    base = await _limited_app(serve, {"POSBOT_RATE_LIMIT": "off"})
    async with aiohttp.ClientSession() as session:
        answers = await asyncio.gather(
            *(_post(session, f"{base}/faq/search", {"q": "审核"}) for _ in range(30))
        )
    assert {status for status, _, _ in answers} == {503}


# --- nginx of the production profile ------------------------------------------------------------


def _free_base_port() -> int:
    """A base port whose profile ports (nginx, upstreams, actions balancer) are all free."""
    for _ in range(50):
        base = random.randint(20_000, 40_000)
        try:
            for offset in (0, 1, 2, 10):
                with socket.socket() as sock:
                    sock.bind(("127.0.0.1", base + offset))
        except OSError:
            continue
        return base
    raise RuntimeError("no free port block")


async def _upstream(port: int) -> web.AppRunner:
    async def answer(request: web.Request) -> web.Response:
        return web.json_response({"path": request.path})

    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", answer)
    runner = web.AppRunner(app)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    return runner


@pytest.fixture
def nginx_binary() -> str:
    found = shutil.which("nginx")
    if found is None:
        redis_service.service_missing("nginx is not installed")
    return str(found)


async def test_nginx_of_the_production_profile_limits_each_client(
    nginx_binary: str, tmp_path: Path
) -> None:
    base = _free_base_port()
    settings = ProdSettings(state_dir=tmp_path / "state", base_port=base, rate_limit="5/10s")
    write_config_files(settings, "test-actions-secret")
    upstreams = [await _upstream(port) for port in settings.rasa_ports]
    nginx = subprocess.Popen(nginx_command(settings), stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{base}"
    try:
        async with aiohttp.ClientSession() as session:
            for _ in range(100):
                try:
                    async with session.get(f"{url}/nginx-health") as response:
                        if response.status == 200:
                            break
                except aiohttp.ClientConnectionError:
                    await asyncio.sleep(0.05)
            answers = await asyncio.gather(
                *(_post(session, f"{url}/faq/search", {"q": "审核"}) for _ in range(PARALLEL))
            )
            rest = await _post(session, f"{url}/webhooks/rest/webhook", {"sender": "a"})
            wechat = [await _post(session, f"{url}/webhooks/wechat/webhook", {}) for _ in range(10)]
    finally:
        nginx.terminate()
        nginx.wait(timeout=10)
        for runner in upstreams:
            await runner.cleanup()

    assert Counter(status for status, _, _ in answers) == {200: 5, 429: PARALLEL - 5}
    headers, body = next((h, b) for status, h, b in answers if status == 429)
    assert headers["Retry-After"] == "2"
    assert headers["Content-Type"].startswith("application/json")
    assert json.loads(body) == {
        "error": "rate_limited",
        "message": "请求过于频繁，请 2 秒后再试。Too many requests: please retry in 2 s.",
        "retry_after": 2,
    }
    assert rest[0] == 429  # the REST webhook has the same limit
    assert {status for status, _, _ in wechat} == {200}  # WeChat's callbacks are not limited


def test_the_limit_can_be_turned_off_in_the_profile(tmp_path: Path) -> None:
    limited = nginx_config(ProdSettings(state_dir=tmp_path), None)
    unlimited = nginx_config(ProdSettings(state_dir=tmp_path, rate_limit="off"), None)
    assert "limit_req zone=posbot_clients burst=19 nodelay;" in limited
    assert "rate=120r/m;" in limited
    assert "limit_req" not in unlimited
