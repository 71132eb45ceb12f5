"""Planted personal data appears in no log line and no database row (both real servers).

The servers run at DEBUG (Rasa logs the user's text at that level) with Rasa's SQL tracker
store (our redacting subclass) and the case store on SQLite; afterwards every column of every
row of both databases and both processes' logs are searched.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from sqlalchemy import create_engine, inspect, select, text

from bot import runtime
from bot.store.database import CaseStore
from bot.store.models import Case
from bot.store.seed import seed_demo_data
from tests.conftest import ROOT
from tests.e2e.conftest import MODEL, Bot

pytestmark = [pytest.mark.e2e, pytest.mark.model]

PORTS = range(5200, 5300)  # this test's own port range
PHONE = "13955550123"
ID_NUMBER = "11010519491231002X"
CARD_GROUPS = "6222 0212 3456 7890 128"
CARD = CARD_GROUPS.replace(" ", "")
PASSWORD = "Xq83kd27"
CONTACT_PHONE = "13766661234"  # the application's contact phone: kept in the case only
PLANTED = (PHONE, ID_NUMBER, ID_NUMBER.lower(), CARD, CARD_GROUPS, "0212 3456 7890", PASSWORD)


@dataclass
class Deployment:
    bot: Bot
    store: CaseStore
    tracker_url: str
    logs: list[Path]
    stop: object


@pytest.fixture(scope="module")
def deployment(tmp_path_factory) -> Iterator[Deployment]:
    if not MODEL.exists():
        pytest.fail(f"no trained model at {MODEL}: run `make test` (it trains first)")
    workdir = tmp_path_factory.mktemp("pii")
    store = CaseStore(f"sqlite:///{workdir / 'cases.db'}")
    store.create_schema()
    seed_demo_data(store)
    tracker_url = f"sqlite:///{workdir / 'tracker.db'}"
    tracker_store = {"type": "bot.store.tracker_store.RedactingSQLTrackerStore", "url": tracker_url}
    actions_port, rasa_port = runtime.free_ports(2, within=PORTS)
    try:
        with runtime.running_bot(
            MODEL, env={"POSBOT_DB_URL": store.url, "LOG_LEVEL_LIBRARIES": "DEBUG"},
            workdir=workdir, cwd=ROOT, endpoints={"tracker_store": tracker_store},
            rasa_args=["--debug"], actions_args=["--debug"], port=rasa_port,
            actions_port=actions_port,
        ) as bot:  # fmt: skip
            logs = [bot.logs[runtime.ACTIONS], bot.logs[runtime.RASA]]
            yield Deployment(Bot(bot.url), store, tracker_url, logs, bot.stop)
    finally:
        store.dispose()


def texts(replies: list[dict]) -> str:
    return "\n".join(reply.get("text", "") for reply in replies)


def _every_value(url: str) -> list[tuple[str, str, str]]:
    """(table, column, value as text) of every column of every row of the database."""
    engine = create_engine(url, future=True)
    values = []
    try:
        with engine.connect() as connection:
            for table in inspect(engine).get_table_names():
                rows = connection.execute(text(f'SELECT * FROM "{table}"')).mappings()
                for row in rows:
                    values += [(table, column, str(value)) for column, value in row.items()]
    finally:
        engine.dispose()
    return values


def test_planted_personal_data_is_in_no_log_and_no_table(deployment):
    bot = deployment.bot
    sender = "pii-e2e"
    reply = texts(
        bot.say(
            sender,
            f"我手机是{PHONE}，身份证{ID_NUMBER}，卡号{CARD_GROUPS}，密码是{PASSWORD}",
        )
    )
    assert "请不要发送密码" in reply
    assert "15位商户号" in texts(bot.say(sender, "我要申请解除停用"))
    assert "后四位" in texts(bot.say(sender, "898310058120000"))
    assert "身份验证通过" in texts(bot.say(sender, "6666"))
    bot.say(sender, "60070001")
    summary = texts(bot.say(sender, CONTACT_PHONE))
    assert "137****1234" in summary and CONTACT_PHONE not in summary
    submitted = texts(bot.say(sender, "确认提交"))
    assert "JC" in submitted
    bot.say(sender, f"另外我朋友手机{PHONE}也停用了")
    assert "工单号 TK" in texts(bot.say(sender, "转人工"))
    deployment.stop()

    with deployment.store.session() as session:
        case = session.execute(
            select(Case).where(Case.terminal_id == "60070001", Case.source == "bot")
        ).scalar_one()
        assert case.contact_phone == CONTACT_PHONE
    case_values = _every_value(deployment.store.url)
    tracker_values = _every_value(deployment.tracker_url)
    assert any(table == "events" for table, _, _ in tracker_values)
    assert any("139****0123" in value for _, _, value in tracker_values)
    for table, column, value in case_values + tracker_values:
        for planted in PLANTED:
            assert planted not in value, f"{planted} in {table}.{column}"
        if (table, column) != ("cases", "contact_phone"):
            assert CONTACT_PHONE not in value, f"contact phone in {table}.{column}"
    # The filed draft keeps only the case id (a repeated confirmation gets it), no phone.
    drafts = [
        (column, value) for table, column, value in case_values if table == "application_drafts"
    ]
    assert ("contact_phone", "") in drafts and ("case_id", case.case_id) in drafts

    for path in deployment.logs:
        log = path.read_text(encoding="utf-8", errors="replace")
        assert "DEBUG" in log, f"{path.name} was not written at DEBUG level"
        for planted in (*PLANTED, CONTACT_PHONE):
            assert planted not in log, f"{planted} in {path.name}"
    rasa_log = deployment.logs[1].read_text(encoding="utf-8", errors="replace")
    assert "139****0123" in rasa_log  # the user's text was logged, masked
