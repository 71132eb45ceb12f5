"""``posbot case set-status`` (with hostile requests) and ``posbot notify --once|list|retry``."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from bot.cli.main import EXIT_BAD_INPUT, EXIT_OK, main
from bot.settings import DB_URL, NOTIFY_MAX_ATTEMPTS, SMS_GATEWAY_URL, SMS_TEMPLATE
from bot.store.database import CaseStore
from bot.store.models import Case, CaseEvent, Notification
from tests.conftest import ROOT
from tests.notify_fakes import FakeSmsGateway

CASE = "JC202611250001"  # demo: 张记便利店, under review (seeded at the real current date)


@pytest.fixture
def cli_store(tmp_path, monkeypatch, capsys):
    url = f"sqlite:///{tmp_path / 'cli.db'}"
    monkeypatch.setenv(DB_URL.env, url)
    monkeypatch.chdir(ROOT)
    assert main(["db", "setup"]) == EXIT_OK
    capsys.readouterr()
    store = CaseStore(url)
    with store.session() as session:
        case_id = session.execute(
            select(Case.case_id).where(Case.terminal_id == "60013452")
        ).scalar_one()
    yield store, case_id
    store.dispose()


def _count(store: CaseStore, model) -> int:
    with store.session() as session:
        return session.execute(select(func.count()).select_from(model)).scalar_one()


def test_set_status_records_one_event(cli_store, capsys):
    store, case_id = cli_store
    events = _count(store, CaseEvent)
    assert (
        main(
            ["case", "set-status", case_id, "needs_documents", "--missing", "营业执照；法人身份证"]
        )
        == 0
    )
    assert f"{case_id}: under_review -> needs_documents" in capsys.readouterr().out
    with store.session() as session:
        case = session.get(Case, case_id)
        assert (case.status, case.missing_documents) == ("needs_documents", "营业执照;法人身份证")
        event = session.execute(select(CaseEvent).order_by(CaseEvent.id.desc())).scalars().first()
        assert (event.kind, event.detail) == (
            "status_changed",
            "under_review -> needs_documents（操作员）",
        )
    assert _count(store, CaseEvent) == events + 1
    # The same again changes nothing.
    assert (
        main(
            [
                "case",
                "set-status",
                case_id.lower(),
                "NEEDS_DOCUMENTS",
                "--missing",
                "营业执照",
                "--missing",
                "法人身份证",
            ]
        )
        == 0
    )
    assert "already needs_documents; nothing changed" in capsys.readouterr().out
    assert _count(store, CaseEvent) == events + 1


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["JC123", "approved"], "expected JC + 12 digits"),
        (["JC20261125000１'; DROP TABLE cases;--", "approved"], "expected JC + 12 digits"),
        (["{case}", "done"], "status 'done': expected one of"),
        (["{case}", ""], "status '': expected one of"),
        (["{case}", "approved", "--missing", "营业执照"], "--missing only goes with"),
        (["{case}", "needs_documents"], "needs_documents needs --missing"),
        (["{case}", "approved", "--reason", "材料不全"], "--reason only goes with rejected"),
        (["{case}", "rejected", "--reason", "材料\x1b[31m不全"], "control characters"),
        (["{case}", "rejected", "--reason", "长" * 501], "at most 500 characters"),
        (["JC209901010001", "approved"], "case JC209901010001 does not exist"),
    ],
)
def test_bad_requests_change_nothing(cli_store, capsys, args, message):
    store, case_id = cli_store
    events = _count(store, CaseEvent)
    argv = ["case", "set-status", *[a.replace("{case}", case_id) for a in args]]
    assert main(argv) == EXIT_BAD_INPUT
    err = capsys.readouterr().err
    assert message in err and "nothing changed" in err
    assert _count(store, CaseEvent) == events
    with store.session() as session:
        assert session.get(Case, case_id).status == "under_review"


def test_reopening_a_case_beside_an_open_one_is_refused(cli_store, capsys):
    store, case_id = cli_store
    assert main(["case", "set-status", case_id, "rejected", "--reason", "材料不全"]) == EXIT_OK
    with store.session() as session:
        closed = session.get(Case, case_id)
        session.add(
            Case(
                case_id=case_id[:-4] + "0099",
                merchant_id=closed.merchant_id,
                terminal_id=closed.terminal_id,
                status="submitted",
                rejection_reason="",
                missing_documents="",
                source="bot",
            )
        )
    capsys.readouterr()
    assert main(["case", "set-status", case_id, "under_review"]) == EXIT_BAD_INPUT
    assert "already has an open case" in capsys.readouterr().err


def test_a_phone_number_in_a_reason_is_stored_masked(cli_store):
    store, case_id = cli_store
    assert (
        main(["case", "set-status", case_id, "rejected", "--reason", "请联系13812345678补材料"])
        == 0
    )
    with store.session() as session:
        assert session.get(Case, case_id).rejection_reason == "请联系138****5678补材料"


def test_notify_once_list_and_retry(cli_store, monkeypatch, capsys):
    store, case_id = cli_store
    gateway = FakeSmsGateway().start()
    try:
        gateway.down = True
        monkeypatch.setenv(SMS_GATEWAY_URL.env, gateway.url)
        monkeypatch.setenv(SMS_TEMPLATE.env, "【收单服务】{text}")
        monkeypatch.setenv(NOTIFY_MAX_ATTEMPTS.env, "1")
        assert main(["case", "set-status", case_id, "approved"]) == EXIT_OK
        assert main(["notify", "--once"]) == EXIT_OK
        assert "planned 1, sent 0, to retry 0, failed 1, skipped 0" in capsys.readouterr().out
        assert main(["notify", "list", "--status", "failed"]) == EXIT_OK
        listed = capsys.readouterr().out
        assert case_id in listed and "sms" in listed and "138****5678" in listed
        assert "13812345678" not in listed and "SMS gateway answered HTTP 503" in listed
        gateway.down = False
        assert main(["notify", "retry"]) == EXIT_OK
        assert "1 failed notification(s) queued again" in capsys.readouterr().out
        assert main(["notify", "--once"]) == EXIT_OK
        assert "sent 1" in capsys.readouterr().out
        [received] = gateway.delivered
        assert received.body["text"].startswith("【收单服务】【申请进度通知】")
        with store.session() as session:
            row = session.execute(select(Notification)).scalar_one()
            assert (row.status, row.attempts) == ("sent", 1)
    finally:
        gateway.stop()


def test_a_bad_sms_setting_is_a_clear_error(cli_store, monkeypatch, capsys):
    monkeypatch.setenv(SMS_TEMPLATE.env, "{phone} {text}")
    assert main(["notify", "--once"]) == EXIT_BAD_INPUT
    assert "only the placeholders {text} and {case_id}" in capsys.readouterr().err
    monkeypatch.delenv(SMS_TEMPLATE.env)
    monkeypatch.setenv(SMS_GATEWAY_URL.env, "ftp://gateway")
    assert main(["notify", "--once"]) == EXIT_BAD_INPUT
    err = capsys.readouterr().err
    assert "expected an http:// or https:// URL" in err and "ftp://gateway" not in err
