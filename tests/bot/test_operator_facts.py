"""Operator facts (hotline, service hours, provider): configured, filled everywhere, never fake."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml
from rasa.shared.core.domain import Domain
from rasa.shared.core.trackers import DialogueStateTracker

from bot import operator_facts as facts_module
from bot.channels.pages import domain_text
from bot.cli.serve import serve
from bot.nlg import ContentNLG, OperatorFactsNLG
from bot.operator_facts import (
    UNSET_TEXT,
    OperatorFacts,
    OperatorFileError,
    fill_operator_facts,
    load_operator_facts,
    unset_warning,
)
from bot.prod.config_files import endpoints, rest_unavailable_body
from bot.prod.settings import ProdSettings
from tests.conftest import ROOT

PLACEHOLDER = re.compile(r"\{(hotline|service_hours|provider_name)\}")
# Anything that looks like a phone number: 400/800 numbers, 95xxx short numbers with a
# prefix, landlines and mobiles. Response texts must carry none: the operator configures them.
PHONE_LIKE = re.compile(
    r"(?<!\d)(?:[48]00-?\d{3}-?\d{4}|0\d{2,3}-\d{7,8}|1[3-9]\d{9}|95\d{3,4})(?!\d)"
)
CONFIGURED = {
    "POSBOT_HOTLINE": "95000",
    "POSBOT_SERVICE_HOURS": "工作日 9:00-18:00",
    "POSBOT_PROVIDER_NAME": "某某支付",
}


@pytest.fixture
def configured(monkeypatch):
    for name, value in CONFIGURED.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("POSBOT_OPERATOR_FILE", "/nonexistent/operator.yml")
    facts_module.operator_facts.cache_clear()
    yield
    facts_module.operator_facts.cache_clear()


@pytest.fixture
def unset(monkeypatch):
    for name in CONFIGURED:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("POSBOT_OPERATOR_FILE", "/nonexistent/operator.yml")
    facts_module.operator_facts.cache_clear()
    yield
    facts_module.operator_facts.cache_clear()


def domain_texts() -> dict[str, str]:
    domain = yaml.safe_load((ROOT / "domain.yml").read_text(encoding="utf-8"))
    return {
        name: variant["text"]
        for name, variants in domain["responses"].items()
        for variant in variants
        if variant.get("text")
    }


def test_environment_wins_over_the_file(tmp_path: Path):
    path = tmp_path / "operator.yml"
    path.write_text("hotline: '95111'\nservice_hours: 每天 8:00-20:00\n", encoding="utf-8")
    facts = load_operator_facts({"POSBOT_OPERATOR_FILE": str(path), "POSBOT_HOTLINE": "95222"})
    assert facts == OperatorFacts(hotline="95222", service_hours="每天 8:00-20:00")
    assert facts.missing() == ["POSBOT_PROVIDER_NAME"]
    assert facts.values() == {
        "hotline": "客服热线 95222",
        "service_hours": "每天 8:00-20:00",
        "provider_name": UNSET_TEXT["provider_name"],
    }


def test_a_broken_file_is_reported(tmp_path: Path):
    path = tmp_path / "operator.yml"
    path.write_text("hotlin: '95111'\n", encoding="utf-8")
    with pytest.raises(OperatorFileError, match="unknown keys hotlin"):
        load_operator_facts({"POSBOT_OPERATOR_FILE": str(path)})


def test_unset_facts_are_warned_about_and_say_where_to_look():
    facts = facts_module.load_operator_facts({"POSBOT_OPERATOR_FILE": "/nonexistent"})
    warning = unset_warning(facts)
    assert "POSBOT_HOTLINE" in warning and "POSBOT_SERVICE_HOURS" in warning
    assert fill_operator_facts("请拨打{hotline}", facts) == (
        "请拨打您的收单机构客服电话（POS机身或签购单上印有）"
    )
    assert unset_warning(OperatorFacts("95000", "每天", "某某支付")) is None


def test_only_operator_placeholders_are_replaced():
    facts = OperatorFacts("95000", "每天 9:00-21:00", "某某支付")
    assert fill_operator_facts("{hotline}/{ticket_id}/{service_hours}", facts) == (
        "客服热线 95000/{ticket_id}/每天 9:00-21:00"
    )


def test_no_response_carries_a_phone_number_or_a_labelled_hotline_placeholder():
    for name, text in domain_texts().items():
        assert not PHONE_LIKE.search(text), (name, text)
        # {hotline} brings its own label ("客服热线 95xxx" / "您的收单机构客服电话…").
        assert not re.search(r"(热线|电话)[：:\s]*\{hotline\}", text), (name, text)


def test_web_assets_carry_no_phone_number():
    for path in (ROOT / "bot" / "web" / "static").iterdir():
        if path.suffix in {".js", ".html", ".css"}:
            assert not PHONE_LIKE.search(path.read_text(encoding="utf-8")), path


@pytest.mark.parametrize("mode", ["configured", "unset"])
async def test_every_response_is_filled_by_the_nlg(mode, request):
    request.getfixturevalue(mode)
    domain = Domain.load(str(ROOT / "domain.yml"))
    nlg = OperatorFactsNLG(domain=domain)
    tracker = DialogueStateTracker.from_events("someone", [], slots=domain.slots)
    expected = "客服热线 95000" if mode == "configured" else UNSET_TEXT["hotline"]
    with_hotline = 0
    for name in domain.responses:
        filled = await nlg.generate(name, tracker, "rest")
        text = (filled or {}).get("text") or ""
        assert not PLACEHOLDER.search(text), (name, text)
        if "{hotline}" in domain.responses[name][0].get("text", ""):
            assert expected in text, (name, text)
            with_hotline += 1
    assert with_hotline >= 3  # contact, handoff, service unavailable at least


async def test_the_nlg_fills_facts_next_to_the_action_values(configured):
    domain = Domain.load(str(ROOT / "domain.yml"))
    nlg = OperatorFactsNLG(domain=domain)
    tracker = DialogueStateTracker.from_events("someone", [], slots=domain.slots)
    filled = await nlg.generate(
        "utter_handoff",
        tracker,
        "rest",
        ticket_id="TK202611260001",
        queue_ahead=2,
        wait_minutes=10,
    )
    assert filled["text"] == (
        "已为您转人工客服，工单号 TK202611260001。您前面还有 2 位在等待，预计约 10 分钟内接入。"
        "人工客服服务时间：工作日 9:00-18:00，客服会在这里回复您；您也可以拨打客服热线 95000，"
        "报上工单号。"
    )


def test_endpoints_use_the_nlg():
    endpoints = yaml.safe_load((ROOT / "endpoints.yml").read_text(encoding="utf-8"))
    assert endpoints["nlg"] == {"type": "bot.nlg.ContentNLG"}


def test_serve_warns_when_facts_are_unset(unset, capsys, tmp_path):
    assert serve(str(tmp_path / "no-model.tar.gz"), False, 5005, 5055) == 1
    err = capsys.readouterr().err
    assert "WARNING operator facts not configured: POSBOT_HOTLINE" in err
    assert "您的收单机构客服电话（POS机身或签购单上印有）" in err


def test_serve_is_quiet_when_facts_are_set(configured, capsys, tmp_path):
    assert serve(str(tmp_path / "no-model.tar.gz"), False, 5005, 5055) == 1
    assert "WARNING" not in capsys.readouterr().err


def test_serve_refuses_a_broken_operator_file(monkeypatch, capsys, tmp_path):
    path = tmp_path / "operator.yml"
    path.write_text("- not a mapping\n", encoding="utf-8")
    monkeypatch.setenv("POSBOT_OPERATOR_FILE", str(path))
    assert serve(str(tmp_path / "no-model.tar.gz"), False, 5005, 5055) == 2
    assert "expected a mapping" in capsys.readouterr().err


def test_nginx_degraded_reply_and_prod_endpoints_carry_the_facts(configured):
    body = rest_unavailable_body(ROOT / "domain.yml")
    assert "客服热线 95000" in body and "{hotline}" not in body
    settings = ProdSettings.from_env({})
    assert endpoints(settings, "test-actions-secret")["nlg"] == {"type": "bot.nlg.ContentNLG"}


def test_pages_fill_the_facts(configured):
    class Agent:
        domain = Domain.load(str(ROOT / "domain.yml"))

    text = domain_text(Agent(), "utter_contact")
    assert "请拨打客服热线 95000" in text and "工作日 9:00-18:00" in text
    assert "{" not in text


def test_the_launcher_makes_the_nlg_the_default(monkeypatch):
    from rasa.core.nlg import generator
    from rasa.core.nlg.generator import NaturalLanguageGenerator
    from rasa.utils.endpoints import EndpointConfig

    from bot.nlg import install_as_default

    monkeypatch.setattr(
        generator, "_create_from_endpoint_config", generator._create_from_endpoint_config
    )
    domain = Domain.load(str(ROOT / "domain.yml"))
    assert type(NaturalLanguageGenerator.create(None, domain)).__name__ != "ContentNLG"
    install_as_default()
    install_as_default()  # idempotent
    assert isinstance(NaturalLanguageGenerator.create(None, domain), ContentNLG)
    explicit = NaturalLanguageGenerator.create(EndpointConfig(type="response"), domain)
    assert type(explicit).__name__ == "TemplatedNaturalLanguageGenerator"


def test_the_shipped_example_file_is_a_valid_operator_file():
    example = ROOT / "operator.example.yml"
    facts = load_operator_facts({"POSBOT_OPERATOR_FILE": str(example)})
    assert facts.hotline == "客服热线 95xxx"
    assert facts.service_hours == "每天 9:00-21:00"
