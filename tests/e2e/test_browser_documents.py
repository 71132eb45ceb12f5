"""Documents in a real browser: a merchant uploads a PNG in the widget, the agent sees it listed
on the agent desk page and downloads it (Debian's chromium driven by Playwright)."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from bot.store.models import Case
from tests.documents_samples import png
from tests.e2e.conftest import AGENT_TOKEN
from tests.e2e.test_browser import _bot_texts, _send, browser, page  # noqa: F401  (fixtures)

pytestmark = [pytest.mark.e2e, pytest.mark.model]

MERCHANT = "898310058127777"


def test_a_png_uploaded_in_the_widget_is_listed_on_the_agent_desk(running_bot, page, tmp_path):  # noqa: F811
    bot, store = running_bot
    with store.session() as session:
        case_id = session.execute(
            select(Case.case_id).where(Case.merchant_id == MERCHANT)
        ).scalar_one()
    photo = tmp_path / "receipt-photo.png"
    photo.write_bytes(png(80, 60))

    page.goto(f"{bot.url}/chat")
    page.wait_for_selector(".msg.bot")
    # Before verification nothing is kept: the bot asks to verify first.
    before = page.locator(".msg.bot").count()
    page.set_input_files("#attach", str(photo))
    page.wait_for_function(f"document.querySelectorAll('.msg.bot').length > {before}")
    assert "需要先验证身份" in _bot_texts(page)[-1]

    _send(page, "查一下申请进度")
    _send(page, MERCHANT)
    _send(page, "3333")
    before = page.locator(".msg.bot").count()
    page.set_input_files("#attach", str(photo))
    page.wait_for_function(
        f"document.querySelectorAll('.msg.bot').length > {before} "
        "&& document.getElementById('typing').hidden"
    )
    assert f"已收到您的文件（申请单 {case_id}）" in _bot_texts(page)[-1]
    assert page.locator(".msg.user .bubble").last.inner_text() == "[文件] receipt-photo.png"
    assert page.get_by_role("button", name="结算账户变更证明").count() == 1
    page.screenshot(path=str(tmp_path / "widget-upload.png"), full_page=True)

    page.goto(f"{bot.url}/agent/desk")
    page.fill("#token", AGENT_TOKEN)
    page.click("#login button")
    page.fill("#case-id", case_id)
    page.click("#filter button")
    page.wait_for_selector("#documents li")
    rows = page.locator("#documents li").all_inner_texts()
    assert any(case_id in row and "image/png" in row and "待商户确认" in row for row in rows)
    with page.expect_download() as download:
        page.locator("#documents li").last.get_by_role("button", name="下载").click()
    saved = tmp_path / "downloaded.png"
    download.value.save_as(saved)
    assert saved.read_bytes().startswith(b"\x89PNG\r\n\x1a\n")
    page.screenshot(path=str(tmp_path / "desk.png"), full_page=True)
