"""Faults against the running production profile (nginx, 2 Rasa + 2 action servers, PG, Redis).

One profile is started for the module; the case store, the tracker store and Redis are reached
through TCP proxies the tests cut and restore (the shared PostgreSQL and Redis keep running).
The tests run in file order and share conversations; the last one restarts everything.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import os
import re
import signal
import time
import urllib.error
import urllib.parse
import urllib.request
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
import yaml
from rasa.shared.core.domain import Domain
from rasa.shared.core.events import ActionExecuted, BotUttered, UserUttered
from sqlalchemy import create_engine, func, select

from bot.operator_facts import fill_operator_facts
from bot.prod.settings import ProdSettings
from bot.prod.supervisor import (
    LIVENESS_FAILURES,
    LIVENESS_INTERVAL_SECONDS,
    LIVENESS_TIMEOUT_SECONDS,
)
from bot.store.models import Case
from bot.store.tracker_store import RedactingSQLTrackerStore
from tests.conftest import ROOT
from tests.prod.conftest import BASE_PORT
from tests.prod.profile import Profile, Reply, alive
from tests.prod.proxy import TcpProxy

pytestmark = [pytest.mark.e2e, pytest.mark.prod]

MODEL = ROOT / "models" / "posbot.tar.gz"
CASE_PROXY, TRACKER_PROXY, REDIS_PROXY = BASE_PORT + 20, BASE_PORT + 21, BASE_PORT + 22
GRACEFUL_SECONDS = 5.0
BURST = 20
LONG_TURNS = 30
LONG_BODY_BYTES = 32 * 1024  # the first call to each action server carries the domain
# Sender ids as Rasa keeps them: namespaced per channel (bot.channels.sessions).
REST = "rest:"
WECHAT = "wechat:"
MERCHANT = "商户号898310058121234 手机尾号5678 查一下申请进度"
STATUS = "查一下申请进度"
UNDER_REVIEW = "审核中"
STATUS_WORDS = ("审核中", "已通过", "被拒绝", "补充材料", "已提交")
WECHAT_TOKEN = "posbot-prod-test-token"
WECHAT_RETRIES = 4
RASA_PORTS = (BASE_PORT + 1, BASE_PORT + 2)
STICKY_CONVERSATIONS = 16
# The supervisor's checks: a round every interval, each waiting up to the timeout.
HUNG_DETECTION_SECONDS = (
    LIVENESS_FAILURES * (LIVENESS_INTERVAL_SECONDS + LIVENESS_TIMEOUT_SECONDS) + 10
)
TURN_WAIT_SECONDS = 60.0


def _response(name: str) -> str:
    """A response as users get it (the profile's processes see the same operator facts)."""
    domain = yaml.safe_load((ROOT / "domain.yml").read_text(encoding="utf-8"))
    return fill_operator_facts(domain["responses"][name][0]["text"])


STORE_UNAVAILABLE = _response("utter_store_unavailable")
SERVICE_UNAVAILABLE = _response("utter_service_unavailable")


def _port(url: str) -> int:
    return int(re.search(r":(\d+)/", url.split("@")[-1] + "/").group(1))


def _via(url: str, port: int) -> str:
    return re.sub(r"@[^/]+/", f"@127.0.0.1:{port}/", url)


@pytest.fixture(scope="module")
def proxies(pg_database: str, redis_url: str) -> Iterator[dict[str, TcpProxy]]:
    made = {
        "case": TcpProxy(CASE_PROXY, _port(pg_database)),
        "tracker": TcpProxy(TRACKER_PROXY, _port(pg_database)),
        "redis": TcpProxy(REDIS_PROXY, _port(redis_url)),
    }
    yield made
    for proxy in made.values():
        proxy.close()


@pytest.fixture(scope="module")
def profile(
    nginx: str, pg_database: str, redis_url: str, proxies: dict[str, TcpProxy], tmp_path_factory
) -> Iterator[Profile]:
    if not MODEL.exists():
        pytest.fail(f"no trained model at {MODEL}: run `make test` (it trains first)")
    env = {
        **os.environ,
        "RASA_TELEMETRY_ENABLED": "false",
        "SQLALCHEMY_SILENCE_UBER_WARNING": "1",
        "POSBOT_DB_URL": _via(pg_database, CASE_PROXY),
        "POSBOT_TRACKER_URL": _via(pg_database, TRACKER_PROXY),
        "POSBOT_REDIS_URL": re.sub(r"//[^/]+/", f"//127.0.0.1:{REDIS_PROXY}/", redis_url),
        "POSBOT_WECHAT_TOKEN": WECHAT_TOKEN,
        # The tests send bursts from 127.0.0.1: far below this limit (nginx and Rasa servers).
        "POSBOT_RATE_LIMIT": "10000/10s",
    }
    running = Profile(BASE_PORT, Path(tmp_path_factory.mktemp("prod")), env)
    running.start()
    yield running
    running.kill()


@pytest.fixture(scope="module")
def tracker_store(pg_database: str) -> Iterator[RedactingSQLTrackerStore]:
    store = RedactingSQLTrackerStore(domain=Domain.load(str(ROOT / "domain.yml")), host=pg_database)
    yield store
    store.engine.dispose()


def _healthy_answer(reply: Reply) -> None:
    assert reply.status == 200
    assert reply.degraded is None, reply.text
    assert reply.messages and all(m.get("text") or m.get("buttons") for m in reply.messages)


async def test_twenty_messages_at_once_for_one_sender_are_serialised(
    profile: Profile, tracker_store: RedactingSQLTrackerStore
) -> None:
    sender = "burst"
    messages = [f"审核要多久 {i}" for i in range(BURST)]
    _healthy_answer(profile.say(sender, "你好"))  # opens the conversation: its session token
    # nginx sends a conversation's turns to one server: the burst goes to both directly, half
    # each, so that the two processes' turns are serialised by the lock store.
    ports = [RASA_PORTS[number % len(RASA_PORTS)] for number in range(BURST)]
    with ThreadPoolExecutor(BURST) as pool:
        replies = list(
            pool.map(lambda text, port: profile.say(sender, text, port=port), messages, ports)
        )

    for reply in replies:
        _healthy_answer(reply)
        assert "lock" not in reply.text.lower()
    tracker = await tracker_store.retrieve_full_tracker(REST + sender)
    user_texts = [e.text for e in tracker.events if isinstance(e, UserUttered)]
    assert sorted(user_texts) == sorted(["你好", *messages])  # each exactly once
    # Turns never interleave: after each user event its answer, then listening, then the next.
    turns = [[]]
    for event in tracker.events:
        if isinstance(event, UserUttered):
            turns.append([])
        turns[-1].append(event)
    for turn in turns[1:]:
        assert isinstance(turn[0], UserUttered)
        assert any(isinstance(e, BotUttered) for e in turn)
        assert isinstance(turn[-1], ActionExecuted) and turn[-1].action_name == "action_listen"


WEBHOOK_LINE = "POST /webhooks/rest/webhook upstream="
LOG_WAIT_SECONDS = 5.0


def _logged_turns(profile: Profile, at_least: int = 0) -> list[str]:
    """The chat turns in nginx's access log, once ``at_least`` of them are written.

    nginx writes a request's line after it has sent the answer, so a client that has its answer
    can read the log before the line is there.
    """
    deadline = time.monotonic() + LOG_WAIT_SECONDS
    while True:
        lines = [line for line in profile.log("nginx-access").splitlines() if WEBHOOK_LINE in line]
        if len(lines) >= at_least or time.monotonic() > deadline:
            return lines
        time.sleep(0.02)


def _upstream(line: str) -> str:
    """The Rasa server(s) nginx sent a logged turn to (a comma-separated list after a retry)."""
    return line.split(WEBHOOK_LINE, 1)[1].split(" upstream_status=", 1)[0]


def test_a_conversations_turns_go_to_one_rasa_server(profile: Profile) -> None:
    time.sleep(0.5)  # the earlier tests' last lines are written
    logged = len(_logged_turns(profile))
    servers_of: dict[str, set[str]] = {}
    for number in range(STICKY_CONVERSATIONS):
        sender = f"sticky-{number}-{uuid.uuid4().hex[:6]}"
        _healthy_answer(profile.say(sender, "你好"))  # the first turn: no token yet
        logged += 1
        first_of_rest = logged
        for text in ("审核要多久", "怎么解除停用", "谢谢"):
            _healthy_answer(profile.say(sender, text))
            logged += 1
        lines = _logged_turns(profile, at_least=logged)
        assert len(lines) == logged, "nginx logged other chat turns meanwhile"
        servers_of[sender] = {_upstream(line) for line in lines[first_of_rest:]}
        # The server is the one whose routing hint the token carries (r1: the first).
        hint, _, _ = profile.tokens[sender].partition(".")
        assert servers_of[sender] == {f"127.0.0.1:{RASA_PORTS[int(hint[1:]) - 1]}"}, hint
        used = set().union(*servers_of.values())
        if number >= 1 and len(used) == len(RASA_PORTS):
            break

    assert all(len(servers) == 1 for servers in servers_of.values()), servers_of
    # Conversations are spread over both servers (all on one: 2^-(n-1) for n conversations).
    assert set().union(*servers_of.values()) == {f"127.0.0.1:{port}" for port in RASA_PORTS}


def test_a_long_conversation_still_reaches_the_action_servers(profile: Profile) -> None:
    sender = "long-talk"
    for _ in range(LONG_TURNS):
        _healthy_answer(profile.say(sender, "审核要多久"))

    reply = profile.say(sender, MERCHANT)

    assert UNDER_REVIEW in reply.text
    # The action calls carried the recent conversation and, until each action server had it,
    # the domain (about 50 kB): far more than a chat message, and nginx let them through.
    sizes = [
        int(b) for b in re.findall(r"POST /webhook .* bytes=(\d+)", profile.log("nginx-access"))
    ]
    assert max(sizes) > LONG_BODY_BYTES


def _wechat(profile: Profile, openid: str, msg_id: str, content: str) -> int:
    """Posts a signed plaintext WeChat text message through nginx; returns the HTTP status."""
    stamp, nonce = str(int(time.time())), uuid.uuid4().hex[:10]
    signature = hashlib.sha1("".join(sorted((WECHAT_TOKEN, stamp, nonce))).encode()).hexdigest()
    query = urllib.parse.urlencode({"timestamp": stamp, "nonce": nonce, "signature": signature})
    xml = (
        f"<xml><ToUserName><![CDATA[gh_posbot]]></ToUserName>"
        f"<FromUserName><![CDATA[{openid}]]></FromUserName><CreateTime>{stamp}</CreateTime>"
        f"<MsgType><![CDATA[text]]></MsgType><Content><![CDATA[{content}]]></Content>"
        f"<MsgId>{msg_id}</MsgId></xml>"
    )
    url = f"http://127.0.0.1:{profile.base_port}/webhooks/wechat/webhook?{query}"
    request = urllib.request.Request(url, data=xml.encode("utf-8"))
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status
    except urllib.error.HTTPError as error:
        return error.code


async def test_a_wechat_message_retried_on_both_rasa_servers_is_handled_once(
    profile: Profile, tracker_store: RedactingSQLTrackerStore
) -> None:
    # A new user each run: the shared Redis remembers MsgIds for the whole replay window (10 min).
    openid = f"oPOSBOT_prod_retry_{uuid.uuid4().hex[:8]}"
    statuses = [_wechat(profile, openid, "880000001", STATUS) for _ in range(WECHAT_RETRIES)]
    assert statuses == [200] * WECHAT_RETRIES
    deadline = time.monotonic() + LOG_WAIT_SECONDS  # nginx logs a request after answering it
    while True:
        log = profile.log("nginx-access").splitlines()
        wechat_lines = [line for line in log if "/webhooks/wechat/" in line]
        if len(wechat_lines) >= WECHAT_RETRIES or time.monotonic() > deadline:
            break
        time.sleep(0.02)
    for port in (BASE_PORT + 1, BASE_PORT + 2):  # the retries reached both Rasa processes
        assert any(f"upstream=127.0.0.1:{port}" in line for line in wechat_lines)
    # Turns of one sender are served in order: once the next message is answered, a duplicate
    # of the first would be in the tracker too.
    assert _wechat(profile, openid, "880000002", "谢谢") == 200
    deadline = time.monotonic() + TURN_WAIT_SECONDS
    user_texts: list[str] = []
    while time.monotonic() < deadline:
        tracker = await tracker_store.retrieve_full_tracker(WECHAT + openid)
        events = tracker.events if tracker is not None else []  # not saved yet: wait
        user_texts = [e.text for e in events if isinstance(e, UserUttered)]
        last = events[-1] if events else None
        if "谢谢" in user_texts and isinstance(last, ActionExecuted):
            break
        await asyncio.sleep(0.5)
    assert user_texts == [STATUS, "谢谢"]


def test_case_store_down_mid_conversation(profile: Profile, proxies) -> None:
    sender = "case-down"
    assert UNDER_REVIEW in profile.say(sender, MERCHANT).text

    proxies["case"].cut()
    try:
        down = profile.say(sender, STATUS)
    finally:
        proxies["case"].restore()
    back = profile.say(sender, STATUS)

    assert down.status == 200 and down.seconds < GRACEFUL_SECONDS
    assert STORE_UNAVAILABLE in down.text
    assert any(
        b["payload"] == "/request_human" for m in down.messages for b in m.get("buttons", [])
    )
    assert not any(word in down.text for word in STATUS_WORDS)  # never invents a status
    assert UNDER_REVIEW in back.text  # still verified: the conversation is intact


def _wait_until_dead(pid: int, seconds: float = 5) -> None:
    """Until every thread of ``pid`` has exited (the process gone, or a zombie its parent has
    not reaped yet, with no other thread left).

    The main thread turns zombie before the others have exited; the process's files, its
    listening socket among them, close with the last one. A connection made in between is
    taken into the socket's queue and then reset: nginx has sent the request by then and does
    not repeat a POST, so the turn gets the polite reply.
    """
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
            threads = os.listdir(f"/proc/{pid}/task")
        except (OSError, IndexError):
            return
        if state in ("Z", "X") and threads == [str(pid)]:
            return
        time.sleep(0.01)
    raise AssertionError(f"process {pid} did not exit")


def test_a_killed_action_server_is_covered_by_the_other(profile: Profile) -> None:
    sender = "actions-killed"
    assert UNDER_REVIEW in profile.say(sender, MERCHANT).text
    killed = profile.pids()["actions-1"]

    os.kill(killed, signal.SIGKILL)
    _wait_until_dead(killed)  # a call the dying process took in is lost with it
    replies = [profile.say(sender, STATUS) for _ in range(4)]

    for reply in replies:
        _healthy_answer(reply)
        assert UNDER_REVIEW in reply.text
        assert reply.seconds < GRACEFUL_SECONDS
    deadline = time.monotonic() + 90
    while profile.pids()["actions-1"] == killed or profile.status() != 0:
        assert time.monotonic() < deadline, "the supervisor did not restart actions-1"
        time.sleep(0.5)
    _wait_until_nginx_calls(profile, ProdSettings(base_port=BASE_PORT).actions_ports[0], sender)


def _wait_until_nginx_calls(profile: Profile, port: int, sender: str) -> None:
    """Turns of ``sender`` until nginx passes an action call to the server on ``port`` again.

    A refused connection takes a server out of nginx's rotation for its ``fail_timeout`` (5 s)
    even after it is back; the next test starts with both action servers in rotation.
    """
    served = re.compile(rf"POST /webhook upstream=127\.0\.0\.1:{port} upstream_status=200")
    since = len(profile.log("nginx-access"))
    deadline = time.monotonic() + 15
    while not served.search(profile.log("nginx-access")[since:]):
        assert time.monotonic() < deadline, f"nginx did not call 127.0.0.1:{port} again"
        _healthy_answer(profile.say(sender, STATUS))
        time.sleep(0.5)


def test_hung_action_servers_get_a_graceful_reply_within_five_seconds(profile: Profile) -> None:
    sender = "actions-hung"
    assert UNDER_REVIEW in profile.say(sender, MERCHANT).text
    pids = [profile.pids()["actions-1"], profile.pids()["actions-2"]]

    for pid in pids:
        os.kill(pid, signal.SIGSTOP)  # accepts connections, never answers
    try:
        hung = profile.say(sender, STATUS)
    finally:
        for pid in pids:
            os.kill(pid, signal.SIGCONT)
    back = profile.say(sender, STATUS)

    assert hung.status == 200 and hung.seconds < GRACEFUL_SECONDS
    assert SERVICE_UNAVAILABLE in hung.text
    assert not any(word in hung.text for word in STATUS_WORDS)
    assert UNDER_REVIEW in back.text


async def test_tracker_store_down_is_loud_and_recovers(
    profile: Profile, proxies, tracker_store: RedactingSQLTrackerStore
) -> None:
    sender = "tracker-down"
    assert UNDER_REVIEW in profile.say(sender, MERCHANT).text
    before = await tracker_store.retrieve_full_tracker(REST + sender)

    proxies["tracker"].cut()
    try:
        known = profile.say(sender, STATUS)
        stranger = profile.say("tracker-down-new", "你好")
    finally:
        proxies["tracker"].restore()
    back = profile.say(sender, STATUS)
    after = await tracker_store.retrieve_full_tracker(REST + sender)

    for reply in (known, stranger):
        assert reply.status == 200 and reply.text == SERVICE_UNAVAILABLE
        assert reply.degraded == "TrackerStoreUnavailable"
    logs = profile.log("rasa-1") + profile.log("rasa-2")
    assert re.search(r"ERROR .*ALERT tracker store unavailable", logs)
    assert "InMemoryTrackerStore" not in logs
    assert UNDER_REVIEW in back.text  # recovered, still verified
    users = [e.text for e in after.events if isinstance(e, UserUttered)]
    assert users == [*(e.text for e in before.events if isinstance(e, UserUttered)), STATUS]
    assert await tracker_store.retrieve(REST + "tracker-down-new") is None


def test_lock_store_down_gets_a_polite_reply(profile: Profile, proxies) -> None:
    proxies["redis"].cut()
    try:
        down = profile.say("lock-down", "审核要多久")
    finally:
        proxies["redis"].restore()
    back = profile.say("lock-down", "审核要多久")

    assert down.status == 200 and down.text == SERVICE_UNAVAILABLE and down.degraded == "lock"
    _healthy_answer(back)


def test_a_hung_rasa_server_is_killed_and_restarted(profile: Profile) -> None:
    sender = "hung-server"
    _healthy_answer(profile.say(sender, "你好"))
    hung = profile.pids()["rasa-1"]

    os.kill(hung, signal.SIGSTOP)  # alive, never answers: a stuck event loop
    try:
        _wait_until_dead(hung, seconds=HUNG_DETECTION_SECONDS)
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.kill(hung, signal.SIGCONT)

    assert f"rasa-1 (pid {hung}) missed {LIVENESS_FAILURES} health checks" in profile.output()
    # The conversation goes on, on the other server while rasa-1 starts again.
    reply = profile.say(sender, "审核要多久")
    _healthy_answer(reply)
    deadline = time.monotonic() + HUNG_DETECTION_SECONDS
    while profile.pids().get("rasa-1") in (None, hung) and time.monotonic() < deadline:
        time.sleep(0.5)
    assert profile.pids()["rasa-1"] != hung  # restarted


async def test_restart_keeps_conversations_and_cases(
    profile: Profile, pg_database: str, tracker_store: RedactingSQLTrackerStore
) -> None:
    engine = create_engine(pg_database, future=True)
    with engine.connect() as connection:
        cases_before = connection.execute(select(func.count()).select_from(Case)).scalar_one()
    events_before = len((await tracker_store.retrieve_full_tracker(REST + "case-down")).events)
    pids = profile.pids()

    assert profile.stop() == 0
    assert not [name for name, pid in pids.items() if alive(pid)]  # no orphans
    profile.start()
    reply = profile.say("case-down", STATUS)

    with engine.connect() as connection:
        cases_after = connection.execute(select(func.count()).select_from(Case)).scalar_one()
    engine.dispose()
    assert UNDER_REVIEW in reply.text  # still verified after the restart
    assert cases_after == cases_before > 0
    tracker = await tracker_store.retrieve_full_tracker(REST + "case-down")
    assert len(tracker.events) > events_before
