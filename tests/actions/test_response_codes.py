"""The screen-message and triage actions against the shipped code table and the real domain."""

from __future__ import annotations

from pathlib import Path

import pytest
from rasa_sdk.executor import CollectingDispatcher

from actions.fallback import ActionClarify
from actions.response_codes import ActionExplainScreenMessage, ActionTriage
from bot.services.response_codes import KIND_NAMES, CodeTableError, TableSource, load_table
from tests.actions.helpers import make_tracker, message, said
from tests.conftest import ROOT

SHIPPED = ROOT / "config" / "response_codes.yml"


def code(value: str, start: int = 0) -> dict:
    return {"entity": "response_code", "value": value, "start": start, "end": start + len(value)}


@pytest.fixture(scope="module")
def explain_action() -> ActionExplainScreenMessage:
    table = load_table(SHIPPED)
    return ActionExplainScreenMessage(table=lambda: table)


async def run(action, tracker, domain):
    dispatcher = CollectingDispatcher()
    events = await action.run(dispatcher, tracker, domain)
    return dispatcher, events


def payloads(domain: dict, response: str) -> list[str]:
    return [b["payload"] for b in domain["responses"][response][0].get("buttons", [])]


async def test_a_restricted_code_explains_and_offers_the_suspension_flow(explain_action, domain):
    tracker = make_tracker("report_error_code", text="刷卡显示03", entities=[code("03", 4)])
    dispatcher, events = await run(explain_action, tracker, domain)
    assert events == []
    assert said(dispatcher) == ["utter_code_explained", "utter_code_advice_restricted"]
    explained = message(dispatcher, "utter_code_explained")
    assert (explained["code"], explained["meaning"]) == ("03", "无效商户")
    assert payloads(domain, "utter_code_advice_restricted") == [
        "/ask_suspend_reason",
        "/ask_required_documents",
        "/submit_application",
    ]


@pytest.mark.parametrize(
    ("value", "canonical", "meaning", "advice"),
    [
        ("58", "58", "不允许终端进行的交易", "utter_code_advice_restricted"),
        ("97", "97", "终端未登记", "utter_code_advice_restricted"),
        ("51", "51", "余额不足", "utter_code_advice_card_side"),
        ("96", "96", "系统故障", "utter_code_advice_network"),
        ("a0", "A0", "MAC校验错", "utter_code_advice_keys"),
        ("Ａ０", "A0", "MAC校验错", "utter_code_advice_keys"),
        ("94", "94", "重复交易", "utter_code_advice_duplicate_format"),
    ],
)
async def test_each_kind_gets_its_own_advice(
    explain_action, domain, value, canonical, meaning, advice
):
    tracker = make_tracker("report_error_code", text=f"显示{value}", entities=[code(value, 2)])
    dispatcher, _ = await run(explain_action, tracker, domain)
    assert said(dispatcher) == ["utter_code_explained", advice]
    explained = message(dispatcher, "utter_code_explained")
    assert (explained["code"], explained["meaning"]) == (canonical, meaning)


@pytest.mark.parametrize(
    ("text", "meaning", "advice"),
    [
        ("刷卡显示无效商户", "无效商户", "utter_code_advice_restricted"),
        ("pos提示终端未登记", "终端未登记", "utter_code_advice_restricted"),
        ("顾客刷卡提示余额不足", "余额不足", "utter_code_advice_card_side"),
        ("螢幕顯示交易受限", "交易受限", "utter_code_advice_restricted"),
    ],
)
async def test_a_screen_text_without_a_code_gets_the_same_advice(
    explain_action, domain, text, meaning, advice
):
    dispatcher, _ = await run(explain_action, make_tracker("report_error_code", text=text), domain)
    assert said(dispatcher) == ["utter_screen_text_explained", advice]
    assert message(dispatcher, "utter_screen_text_explained")["meaning"] == meaning


async def test_an_unknown_code_gets_an_honest_answer_and_a_human_offer(explain_action, domain):
    tracker = make_tracker("report_error_code", text="显示X7", entities=[code("x7", 2)])
    dispatcher, _ = await run(explain_action, tracker, domain)
    assert said(dispatcher) == ["utter_code_unknown"]
    assert message(dispatcher, "utter_code_unknown")["code"] == "X7"
    assert "对照表里没有" in domain["responses"]["utter_code_unknown"][0]["text"]
    assert payloads(domain, "utter_code_unknown") == ["/request_human"]


async def test_a_known_code_wins_over_an_unknown_one(explain_action, domain):
    tracker = make_tracker(
        "report_error_code", text="先是X7后来58", entities=[code("x7", 2), code("58", 7)]
    )
    dispatcher, _ = await run(explain_action, tracker, domain)
    assert message(dispatcher, "utter_code_explained")["code"] == "58"


async def test_nothing_recognisable_asks_what_the_screen_says(explain_action, domain):
    tracker = make_tracker("report_error_code", text="屏幕上显示的代码是什么意思")
    dispatcher, _ = await run(explain_action, tracker, domain)
    assert said(dispatcher) == ["utter_ask_screen_message"]


async def test_a_table_that_cannot_be_read_offers_a_human_instead_of_failing(tmp_path, domain):
    source = TableSource(tmp_path / "missing.yml")
    action = ActionExplainScreenMessage(table=source.get)
    tracker = make_tracker("report_error_code", text="显示03", entities=[code("03", 2)])
    with pytest.raises(CodeTableError):
        source.get()
    dispatcher, events = await run(action, tracker, domain)
    assert (said(dispatcher), events) == (["utter_code_lookup_unavailable"], [])
    assert payloads(domain, "utter_code_lookup_unavailable") == ["/request_human"]


def test_every_kind_has_its_advice_in_the_domain(domain):
    for kind in KIND_NAMES:
        assert f"utter_code_advice_{kind}" in domain["responses"], kind


async def test_the_default_action_reads_the_file_of_the_environment(tmp_path, monkeypatch, domain):
    path = Path(tmp_path / "codes.yml")
    path.write_text(
        'codes:\n  "03": {meaning: 商户已注销, kind: restricted}\n'
        "phrases:\n  无效商户: {meaning: 无效商户, kind: restricted}\n",
        encoding="utf-8",
    )
    monkeypatch.setenv("POSBOT_RESPONSE_CODES", str(path))
    tracker = make_tracker("report_error_code", text="显示03", entities=[code("03", 2)])
    dispatcher, _ = await run(ActionExplainScreenMessage(), tracker, domain)
    assert message(dispatcher, "utter_code_explained")["meaning"] == "商户已注销"


# -- triage ---------------------------------------------------------------------------------


async def test_a_vague_symptom_gets_one_question_with_the_routes_as_buttons(domain):
    dispatcher, events = await run(ActionTriage(), make_tracker("report_not_working"), domain)
    assert (said(dispatcher), events) == (["utter_triage_question"], [])
    answers = [
        p.split('"triage_answer":"')[1].split('"')[0]
        for p in payloads(domain, "utter_triage_question")
    ]
    assert answers == ["restricted", "code_shown", "hardware", "network", "card_side"]
    assert all(
        p.startswith("/report_not_working{{") for p in payloads(domain, "utter_triage_question")
    )


@pytest.mark.parametrize(
    ("answer", "reply"),
    [
        ("restricted", "utter_code_advice_restricted"),
        ("code_shown", "utter_ask_screen_message"),
        ("hardware", "utter_hardware_fault"),
        ("network", "utter_network_problem"),
        ("card_side", "utter_code_advice_card_side"),
        ("something_else", "utter_triage_question"),
    ],
)
async def test_the_triage_answer_routes_to_its_help(domain, answer, reply):
    tracker = make_tracker(
        "report_not_working",
        entities=[{"entity": "triage_answer", "value": answer}],
    )
    dispatcher, _ = await run(ActionTriage(), tracker, domain)
    assert said(dispatcher) == [reply]
    assert reply in domain["responses"]


async def test_the_clarifying_question_can_offer_the_new_intents(domain, seeded_store):
    ranking = [
        {"name": "nlu_fallback", "confidence": 0.7},
        {"name": "report_error_code", "confidence": 0.29},
        {"name": "ask_fees", "confidence": 0.27},
    ]
    action = ActionClarify(store=seeded_store)
    tracker = make_tracker("nlu_fallback", text="显示那个是啥 要钱不", ranking=ranking)
    dispatcher, _ = await run(action, tracker, domain)
    buttons = message(dispatcher, "utter_clarify")["buttons"]
    assert [b["payload"] for b in buttons] == ["/report_error_code", "/ask_fees", "/deny"]


# -- inside a form --------------------------------------------------------------------------


async def test_a_code_in_the_middle_of_verification_is_explained_and_the_form_goes_on(
    seeded_store, calendar, domain
):
    from actions.verification import ValidateVerifyForm

    validator = ValidateVerifyForm(store=seeded_store, calendar=calendar)
    tracker = make_tracker(
        "report_error_code",
        text="刷卡显示PN-0093",
        entities=[code("pn-0093", 4), {"entity": "phone_last4", "value": "0093"}],
        slots={"requested_slot": "phone_last4", "merchant_id": "898310058121234"},
        active_loop="verify_form",
    )
    dispatcher = CollectingDispatcher()
    events = await validator.run(dispatcher, tracker, domain)
    # Not in the shipped table: the honest answer, no format hint, no identity check.
    assert said(dispatcher) == ["utter_code_unknown"]
    slots = {e["name"]: e["value"] for e in events if e.get("event") == "slot"}
    assert slots == {"phone_last4": None}
    assert "verify_failures" not in slots and "verified" not in slots
