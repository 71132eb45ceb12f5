"""The hotline copilot over HTTP: authentication, suggestions, call context, audit."""

from __future__ import annotations

import json
import urllib.error
import urllib.request

import pytest
from sqlalchemy import select

from bot.store.models import CaseAccessAudit
from tests.e2e.conftest import AGENT_TOKEN

pytestmark = [pytest.mark.e2e, pytest.mark.model]


def suggest(url: str, body: object, token: str | None = AGENT_TOKEN) -> tuple[int, dict]:
    data = body if isinstance(body, bytes) else json.dumps(body).encode("utf-8")
    headers = {"Content-Type": "application/json"}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    request = urllib.request.Request(f"{url}/copilot/suggest", data=data, headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read() or b"{}")


def test_agents_must_authenticate(running_bot):
    bot, _ = running_bot
    body = {"call_id": "c1", "text": "审核要多久"}
    assert suggest(bot.url, body, token=None)[0] == 401
    assert suggest(bot.url, body, token="wrong-token-0000000000")[0] == 401


def test_bad_bodies_are_client_errors(running_bot):
    bot, _ = running_bot
    assert suggest(bot.url, b"{not json")[0] == 400
    assert suggest(bot.url, {"call_id": "../../x", "text": "hi"})[0] == 400
    assert suggest(bot.url, {"call_id": "c1", "text": ""})[0] == 400
    assert suggest(bot.url, {"call_id": "c1", "text": "长" * 2001})[0] == 413


def test_a_call_builds_context_case_card_warnings_and_audit(running_bot):
    bot, store = running_bot
    status, first = suggest(
        bot.url, {"call_id": "call-42", "text": "客户说他商户号是898310058127777，问审核到哪一步了"}
    )
    assert status == 200
    assert first["intents"][0]["name"] == "check_case_status"
    card = first["case"]
    assert card["merchant_id"] == "898310058127777"
    assert card["registered_phone"] == "136****3333"
    assert card["merchant_name"] == "赵***店"
    assert card["case"]["status"] == "needs_documents"
    assert card["case"]["missing_documents"] == ["结算账户变更证明", "法人身份证正反面照片"]
    assert "需要补充材料" in first["suggested_reply"]
    assert any("缺失材料" in step for step in first["next_steps"])

    status, second = suggest(
        bot.url, {"call_id": "call-42", "text": "他还说有人打电话让他交500块解冻费，验证码是384756"}
    )
    assert status == 200
    assert second["turn"] == 2
    assert second["case"]["merchant_id"] == "898310058127777"  # context carried over
    assert any("诈骗" in warning for warning in second["warnings"])
    assert any("验证码" in warning for warning in second["warnings"])
    assert "384756" not in json.dumps(second, ensure_ascii=False)

    with store.session() as session:
        audits = (
            session.execute(select(CaseAccessAudit).where(CaseAccessAudit.call_id == "call-42"))
            .scalars()
            .all()
        )
    assert [(a.agent_id, a.merchant_id) for a in audits] == [
        ("alice", "898310058127777"),
        ("alice", "898310058127777"),
    ]
