"""The content store: validated, audited edits of replies and operator facts, served live by
the NLG from a per-process cache, and the texts of domain.yml when the store is down."""

from __future__ import annotations

import logging
import subprocess
import sys
import textwrap
from typing import Any

import pytest
from rasa.shared.core.domain import Domain
from rasa.shared.core.trackers import DialogueStateTracker
from sqlalchemy import select

from bot import operator_facts as facts_module
from bot.nlg import ContentNLG, SlimCallbackNLG, slim_request
from bot.services.content import (
    FACT,
    MAX_TEXT_BYTES,
    RESPONSE,
    ContentCache,
    ContentError,
    ContentService,
    UnknownContent,
)
from bot.store.database import CaseStore
from bot.store.models import ContentEdit, ContentOverride
from tests.conftest import ROOT

HANDOFF = "utter_handoff"
REVIEW = "utter_review_time"
NEW_REVIEW = "审核通常 5 个工作日内完成，详情请拨打{hotline}。"
HOTLINE = "95000"
HOURS = "工作日 9:00-18:00"


class Clock:
    """A monotonic clock the test moves."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture(scope="module")
def rasa_domain() -> Domain:
    return Domain.load(str(ROOT / "domain.yml"))


@pytest.fixture
def facts(monkeypatch):
    monkeypatch.setenv("POSBOT_HOTLINE", HOTLINE)
    monkeypatch.setenv("POSBOT_SERVICE_HOURS", HOURS)
    monkeypatch.setenv("POSBOT_PROVIDER_NAME", "某某支付")
    monkeypatch.setenv("POSBOT_OPERATOR_FILE", "/nonexistent/operator.yml")
    facts_module.operator_facts.cache_clear()
    yield
    facts_module.operator_facts.cache_clear()


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def cache(store: CaseStore, clock: Clock) -> ContentCache:
    return ContentCache(lambda: store, check_seconds=2.0, clock=clock)


@pytest.fixture
def service(store: CaseStore, cache: ContentCache, rasa_domain: Domain, facts) -> ContentService:
    return ContentService(rasa_domain.responses, store=store, cache=cache)


def _tracker(domain: Domain) -> DialogueStateTracker:
    return DialogueStateTracker.from_events("merchant-1", [], slots=domain.slots)


async def _text(nlg: ContentNLG, domain: Domain, name: str, **arguments: Any) -> str:
    filled = await nlg.generate(name, _tracker(domain), "rest", **arguments)
    assert filled is not None
    return str(filled["text"])


async def test_nlg_serves_default_edited_and_reverted_text(service, cache, rasa_domain):
    nlg = ContentNLG(domain=rasa_domain, cache=cache)
    default = await _text(nlg, rasa_domain, REVIEW)
    assert default.startswith("审核一般需要 3-7 个工作日")

    edit = await service.edit(RESPONSE, REVIEW, NEW_REVIEW, "ops1")
    assert (
        await _text(nlg, rasa_domain, REVIEW)
        == "审核通常 5 个工作日内完成，详情请拨打客服热线 95000。"
    )

    await service.revert(edit.id, "ops2")
    assert await _text(nlg, rasa_domain, REVIEW) == default


async def test_placeholders_are_filled_in_an_edited_text(service, cache, rasa_domain):
    nlg = ContentNLG(domain=rasa_domain, cache=cache)
    await service.edit(
        RESPONSE,
        HANDOFF,
        "工单 {ticket_id} 已建好，前面 {queue_ahead} 位，约 {wait_minutes} 分钟；{service_hours} "
        "有人回复；急事请拨打{hotline}。",
        "ops1",
    )
    text = await _text(
        nlg, rasa_domain, HANDOFF, ticket_id="TK202611260001", queue_ahead=2, wait_minutes=10
    )
    assert text == (
        "工单 TK202611260001 已建好，前面 2 位，约 10 分钟；工作日 9:00-18:00 有人回复；"
        "急事请拨打客服热线 95000。"
    )


async def test_buttons_stay_when_the_text_is_edited(service, cache, rasa_domain):
    nlg = ContentNLG(domain=rasa_domain, cache=cache)
    await service.edit(RESPONSE, "utter_greet", "您好，请选择：", "ops1")
    filled = await nlg.generate("utter_greet", _tracker(rasa_domain), "rest")
    assert filled["text"] == "您好，请选择："
    assert filled["buttons"] == rasa_domain.responses["utter_greet"][0]["buttons"]


@pytest.mark.parametrize(
    ("name", "text", "code", "chinese"),
    [
        (
            HANDOFF,
            "已转人工，前 {queue_ahead} 位，{wait_minutes} 分钟，{service_hours}，拨{hotline}。",
            "missing_placeholder",
            "缺少占位符 {ticket_id}",
        ),
        (REVIEW, "审核 {days} 天", "unknown_placeholder", "不认识的占位符 {days}"),
        (REVIEW, "审核<script>alert(1)</script>", "markup", "HTML"),
        (REVIEW, "<b>审核</b>很快", "markup", "HTML"),
        (REVIEW, "审核 &lt; 7 天", "markup", "字符实体"),
        (REVIEW, "   ", "empty", "不能为空"),
        (REVIEW, "审核\x07很快", "control_characters", "控制字符"),
        (REVIEW, "审" * 700, "too_long", f"微信单条消息最多 {MAX_TEXT_BYTES} 字节"),
        (REVIEW, 42, "not_text", "必须是文字"),
    ],
)
async def test_invalid_edits_are_refused_and_nothing_is_written(
    service, store, name, text, code, chinese
):
    with pytest.raises(ContentError) as refused:
        await service.edit(RESPONSE, name, text, "ops1")
    assert refused.value.code == code
    assert chinese in refused.value.chinese
    assert refused.value.english
    with store.session() as session:
        assert session.execute(select(ContentEdit)).first() is None
        assert session.execute(select(ContentOverride)).first() is None


async def test_the_byte_limit_counts_the_filled_facts(service):
    # 682 three-byte characters = 2046 bytes; "{hotline}" becomes "客服热线 95000" (17 bytes).
    with pytest.raises(ContentError, match="内容过长"):
        await service.edit(RESPONSE, REVIEW, "审" * 680 + "{hotline}", "ops1")
    await service.edit(RESPONSE, REVIEW, "审" * 676 + "{hotline}", "ops1")


async def test_unknown_items_are_refused(service):
    with pytest.raises(UnknownContent):
        await service.edit(RESPONSE, "utter_nothing_like_this", "文字", "ops1")
    with pytest.raises(UnknownContent):
        await service.edit(FACT, "bank_password", "文字", "ops1")
    with pytest.raises(UnknownContent):
        await service.revert(99999, "ops1")


@pytest.mark.parametrize(
    ("name", "text", "code"),
    [
        ("hotline", "call me", "hotline_format"),
        ("hotline", "1", "hotline_format"),
        ("service_hours", "每天\n全天", "fact_format"),
        ("provider_name", "{hotline}", "fact_format"),
        ("provider_name", "某" * 61, "too_long"),
        ("provider_name", "<img src=x>", "markup"),
    ],
)
async def test_invalid_facts_are_refused(service, name, text, code):
    with pytest.raises(ContentError) as refused:
        await service.edit(FACT, name, text, "ops1")
    assert refused.value.code == code


async def test_every_change_is_audited(service, store):
    first = await service.edit(RESPONSE, REVIEW, NEW_REVIEW, "ops1")
    second = await service.edit(RESPONSE, REVIEW, "审核约 3 天。", "ops2")
    reverted = await service.revert(second.id, "ops3")
    reset = await service.reset(RESPONSE, REVIEW, "ops1")
    with store.session() as session:
        rows = session.execute(select(ContentEdit).order_by(ContentEdit.id)).scalars().all()
        assert session.execute(select(ContentOverride)).first() is None
    assert [(r.action, r.operator_id, r.old_text, r.new_text) for r in rows] == [
        ("edit", "ops1", None, NEW_REVIEW),
        ("edit", "ops2", NEW_REVIEW, "审核约 3 天。"),
        ("revert", "ops3", "审核约 3 天。", NEW_REVIEW),
        ("reset", "ops1", NEW_REVIEW, None),
    ]
    assert rows[2].reverts_edit_id == second.id
    assert all(r.edited_at is not None for r in rows)
    assert first.id < second.id < reverted.id < reset.id
    history = await service.history(RESPONSE, REVIEW)
    assert [e.id for e in history] == [reset.id, reverted.id, second.id, first.id]


async def test_a_fact_edit_wins_over_the_environment_everywhere(service, cache, rasa_domain):
    nlg = ContentNLG(domain=rasa_domain, cache=cache)
    await service.edit(FACT, "hotline", "400-800-1234", "ops1")
    text = await _text(nlg, rasa_domain, HANDOFF, ticket_id="TK1")
    assert "拨打客服热线 400-800-1234，" in text
    assert cache.cached().text(rasa_domain.responses, "utter_contact").count("400-800-1234") == 1
    items = {(i.kind, i.name): i for i in await service.items()}
    assert items[(FACT, "hotline")].default == HOTLINE
    assert items[(FACT, "hotline")].text == "400-800-1234"
    await service.reset(FACT, "hotline", "ops1")
    assert "拨打客服热线 95000，" in await _text(nlg, rasa_domain, HANDOFF, ticket_id="TK1")


async def test_another_process_sees_an_edit_after_the_check_interval(
    service, store, clock, rasa_domain
):
    other = ContentCache(lambda: store, check_seconds=2.0, clock=clock)
    other_nlg = ContentNLG(domain=rasa_domain, cache=other)
    before = await _text(other_nlg, rasa_domain, REVIEW)
    await service.edit(RESPONSE, REVIEW, NEW_REVIEW, "ops1")
    assert await _text(other_nlg, rasa_domain, REVIEW) == before  # within the interval
    clock.now += 2.0
    assert (await _text(other_nlg, rasa_domain, REVIEW)).startswith("审核通常 5 个工作日")


async def test_steady_state_reads_do_not_touch_the_store(store, clock, rasa_domain, facts):
    statements: list[str] = []
    from sqlalchemy import event

    event.listen(store.engine, "before_cursor_execute", lambda *a: statements.append(a[2]))
    cache = ContentCache(lambda: store, check_seconds=2.0, clock=clock)
    nlg = ContentNLG(domain=rasa_domain, cache=cache)
    for _ in range(50):
        await _text(nlg, rasa_domain, REVIEW)
    assert len([s for s in statements if "content_edits" in s]) == 1
    clock.now += 2.5
    await _text(nlg, rasa_domain, REVIEW)
    # One version check; the edits themselves are read again only when it changed.
    assert len([s for s in statements if "content_" in s]) == 3


async def test_store_down_serves_domain_text_and_logs_an_error(
    tmp_path, rasa_domain, facts, caplog
):
    broken = CaseStore(f"sqlite:///{tmp_path / 'no-such-dir' / 'cases.db'}")
    cache = ContentCache(lambda: broken, check_seconds=2.0)
    nlg = ContentNLG(domain=rasa_domain, cache=cache)
    with caplog.at_level(logging.ERROR, logger="bot.services.content"):
        text = await _text(
            nlg, rasa_domain, HANDOFF, ticket_id="TK1", queue_ahead=0, wait_minutes=5
        )
    assert text == (
        "已为您转人工客服，工单号 TK1。您前面还有 0 位在等待，预计约 5 分钟内接入。"
        "人工客服服务时间：工作日 9:00-18:00，客服会在这里回复您；"
        "您也可以拨打客服热线 95000，报上工单号。"
    )
    errors = [r for r in caplog.records if r.levelno == logging.ERROR]
    assert errors and "Content store unavailable" in errors[0].getMessage()
    assert "domain.yml" in errors[0].getMessage()
    assert cache.cached().degraded


async def test_store_going_down_after_an_edit_falls_back_to_domain_text(
    service, store, cache, clock, rasa_domain, caplog
):
    nlg = ContentNLG(domain=rasa_domain, cache=cache)
    await service.edit(RESPONSE, REVIEW, NEW_REVIEW, "ops1")
    assert (await _text(nlg, rasa_domain, REVIEW)).startswith("审核通常")
    with store.engine.begin() as connection:
        connection.exec_driver_sql("DROP TABLE content_edits")
    clock.now += 5
    with caplog.at_level(logging.ERROR, logger="bot.services.content"):
        text = await _text(nlg, rasa_domain, REVIEW)
    assert text.startswith("审核一般需要 3-7 个工作日")
    assert any("Content store unavailable" in r.getMessage() for r in caplog.records)


CHILD = textwrap.dedent(
    """
    import sys
    from bot.services.content import ContentCache
    from bot.store.database import CaseStore
    from rasa.shared.core.domain import Domain

    store = CaseStore(sys.argv[1])
    responses = Domain.load(sys.argv[2]).responses
    cache = ContentCache(lambda: store, check_seconds=0.2)
    for line in sys.stdin:
        import time
        time.sleep(float(line))
        print(cache.current_sync().text(responses, "utter_review_time"), flush=True)
    """
)


async def test_cache_invalidation_reaches_another_process(service, store):
    child = subprocess.Popen(
        [sys.executable, "-c", CHILD, store.url, str(ROOT / "domain.yml")],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
        cwd=ROOT,
    )
    try:
        assert child.stdin and child.stdout
        child.stdin.write("0\n")
        child.stdin.flush()
        assert child.stdout.readline().startswith("审核一般需要")
        await service.edit(RESPONSE, REVIEW, NEW_REVIEW, "ops1")
        child.stdin.write("0.3\n")  # past the other process's check interval
        child.stdin.flush()
        assert child.stdout.readline().startswith("审核通常 5 个工作日")
    finally:
        child.kill()
        child.wait()


def test_the_slim_callback_sends_slots_not_the_tracker(rasa_domain):
    tracker = _tracker(rasa_domain)
    body = slim_request(HANDOFF, tracker, "rest", ticket_id="TK1", response_id=None)
    assert body == {
        "response": HANDOFF,
        "id": None,
        "arguments": {"ticket_id": "TK1"},
        "tracker": {"sender_id": "merchant-1", "slots": tracker.current_slot_values()},
        "channel": {"name": "rest"},
    }
    with pytest.raises(Exception, match="needs the url"):
        SlimCallbackNLG(None, rasa_domain)


async def test_the_responses_rasa_sets_after_loading_a_model_are_served(
    service, cache, rasa_domain
):
    # Rasa's Agent builds the generator before the model is loaded, then sets its responses.
    nlg = ContentNLG(domain=None, cache=cache)
    assert await nlg.generate(REVIEW, _tracker(rasa_domain), "rest") is None
    nlg.responses = rasa_domain.responses
    assert (await _text(nlg, rasa_domain, REVIEW)).startswith("审核一般需要")
    await service.edit(RESPONSE, REVIEW, NEW_REVIEW, "ops1")
    assert (await _text(nlg, rasa_domain, REVIEW)).startswith("审核通常")


async def test_the_holiday_calendar_is_edited_in_the_same_place(service, cache, clock):
    from datetime import date

    from bot.services.content import HOLIDAYS, content_calendar

    items = {(i.kind, i.name): i for i in await service.items()}
    assert "holidays:" in items[(FACT, HOLIDAYS)].default  # the text of holidays.yml
    for bad in (
        "holidays: 2027-01-01",
        "holidays: [someday]",
        "- a list",
        "holidays: [2027-02-30]",
    ):
        with pytest.raises(ContentError) as refused:
            await service.edit(FACT, HOLIDAYS, bad, "ops1")
        assert refused.value.code == "holidays_format"
        assert "ISO" in refused.value.chinese and "ISO" in refused.value.english
    # 2031 is past what the chinesecalendar package knows: the operators' days decide.
    monday = date(2031, 3, 3)
    assert content_calendar(cache).is_workday(monday)[0] is True
    await service.edit(FACT, HOLIDAYS, "holidays: [2031-03-03]\nworkdays: []", "ops1")
    cache.refresh()
    assert content_calendar(cache).is_workday(monday)[0] is False
