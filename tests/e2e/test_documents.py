"""Documents through the real server: the widget's upload endpoint, the agents' list and download.

Authorisation: an unverified conversation, a wrong or missing session token, another merchant,
an agent without a token and the public all get nothing; hostile bodies and files get a 4xx
with a Chinese message and leave no row and no file.
"""

from __future__ import annotations

import http.client
import json
import secrets
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select

from bot.channels.sessions import SESSION_HEADER
from bot.store.database import CaseStore
from bot.store.models import Case, Document
from tests.documents_samples import SECRET_MAKE, jpeg_with_exif, pdf, png, png_bomb
from tests.e2e.conftest import AGENT_TOKEN, Bot

pytestmark = [pytest.mark.e2e, pytest.mark.model]

NEEDS_DOCS = ("898310058127777", "3333")
UNDER_REVIEW = ("898310058121234", "5678")
NO_CASE = ("898310058120000", "6666")
BOUNDARY = "----posbotTestBoundary7MA4YWxkTrZu0gW"


def _sender() -> str:
    return "web-" + secrets.token_hex(12)


def multipart(parts: list[tuple[str, str | None, bytes]], boundary: str = BOUNDARY) -> bytes:
    """(field name, file name or None, content) parts as multipart/form-data."""
    body = b""
    for name, filename, content in parts:
        disposition = f'form-data; name="{name}"'
        if filename is not None:
            disposition += f'; filename="{filename}"'
        body += f"--{boundary}\r\nContent-Disposition: {disposition}\r\n".encode()
        if filename is not None:
            body += b"Content-Type: image/png\r\n"
        body += b"\r\n" + content + b"\r\n"
    return body + f"--{boundary}--\r\n".encode()


def upload(
    bot: Bot,
    sender: str,
    body: bytes,
    *,
    token: str | None = None,
    content_type: str = f"multipart/form-data; boundary={BOUNDARY}",
) -> tuple[int, dict | list]:
    headers = {"Content-Type": content_type}
    session = bot.tokens.get(sender) if token is None else token
    if session:
        headers[SESSION_HEADER] = session
    request = urllib.request.Request(
        f"{bot.url}/chat/upload?sender={sender}", data=body, headers=headers, method="POST"
    )
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, json.loads(response.read().decode("utf-8"))
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read().decode("utf-8"))


def upload_file(
    bot: Bot, sender: str, data: bytes, filename: str = "photo.png"
) -> tuple[int, dict | list]:
    return upload(bot, sender, multipart([("file", filename, data)]))


def agent_get(bot: Bot, path: str, token: str | None = AGENT_TOKEN) -> tuple[int, Any, bytes]:
    """Status, headers (case-insensitive) and body of an agent's GET."""
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    request = urllib.request.Request(f"{bot.url}{path}", headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, response.headers, response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.headers, error.read()


def verified(bot: Bot, merchant: tuple[str, str]) -> str:
    sender = _sender()
    bot.say(sender, "查一下申请进度")
    bot.say(sender, merchant[0])
    replies = bot.say(sender, merchant[1])
    assert replies, "verification answered nothing"
    return sender


def _count(store: CaseStore) -> int:
    with store.session() as session:
        return session.execute(select(func.count()).select_from(Document)).scalar_one()


def _files(root: Path) -> list[Path]:
    return [p for p in root.rglob("*") if p.is_file()] if root.exists() else []


def _texts(body: dict | list) -> str:
    messages = body if isinstance(body, list) else body.get("messages", [])
    return "\n".join(m.get("text", "") for m in messages)


@pytest.fixture(scope="module")
def documents_dir(running_bot) -> Path:
    _bot, store = running_bot
    return Path(store.url.removeprefix("sqlite:///")).parent / "documents"


def test_several_missing_items_ask_with_buttons_and_the_button_assigns(running_bot) -> None:
    bot, _store = running_bot
    sender = verified(bot, NEEDS_DOCS)
    status, body = upload_file(bot, sender, pdf(), "scan.pdf")
    assert status == 200
    assert isinstance(body, list)
    buttons = body[0]["buttons"]
    titles = [b["title"] for b in buttons]
    # Items already covered by earlier tests' files are not offered again.
    assert titles and set(titles) <= {"结算账户变更证明", "法人身份证正反面照片"}
    assert len(titles) == 2, "runs before the other uploads for this case"
    replies = bot.say(sender, buttons[0]["payload"])
    assert f"登记为「{titles[0]}」" in "\n".join(r.get("text", "") for r in replies)


def test_a_verified_merchant_uploads_a_photo_and_the_agent_downloads_it(running_bot) -> None:
    bot, store = running_bot
    sender = verified(bot, NEEDS_DOCS)
    status, body = upload_file(bot, sender, jpeg_with_exif(), "身份证正面.jpg")
    assert status == 200, body
    text = _texts(body)
    # The file name names the item (the last one missing once the buttons test ran).
    assert "登记为「法人身份证正反面照片」" in text
    with store.session() as session:
        case_id = session.execute(
            select(Case.case_id).where(Case.merchant_id == NEEDS_DOCS[0])
        ).scalar_one()
    status, _, raw = agent_get(bot, f"/agent/documents?case_id={case_id}")
    assert status == 200
    listed = json.loads(raw)["documents"]
    mine = [d for d in listed if d["missing_item"] == "法人身份证正反面照片"][-1]
    assert mine["mime"] == "image/jpeg"
    status, headers, data = agent_get(bot, f"/agent/documents/{mine['document_id']}")
    assert status == 200
    assert headers["Content-Type"] == "image/jpeg"
    assert headers["Content-Disposition"] == (
        f'attachment; filename="{case_id}-{mine["document_id"]}.jpg"'
    )
    assert headers["X-Content-Type-Options"] == "nosniff"
    assert data.startswith(b"\xff\xd8\xff") and SECRET_MAKE.encode() not in data


def test_a_case_without_missing_items_takes_a_supplement(running_bot) -> None:
    bot, _ = running_bot
    sender = verified(bot, UNDER_REVIEW)
    status, body = upload_file(bot, sender, pdf())
    assert status == 200
    assert "作为补充材料" in _texts(body)


def test_unverified_and_caseless_uploads_keep_nothing(running_bot, documents_dir) -> None:
    bot, store = running_bot
    before, files = _count(store), len(_files(documents_dir))
    sender = _sender()
    bot.say(sender, "你好")
    status, body = upload_file(bot, sender, png())
    assert status == 403
    assert "需要先验证身份" in _texts(body)
    sender = verified(bot, NO_CASE)
    status, body = upload_file(bot, sender, png(61, 17))
    assert status == 409
    assert "没有进行中的申请" in _texts(body)
    assert (_count(store), len(_files(documents_dir))) == (before, files)


def test_a_conversation_needs_its_own_session_token(running_bot) -> None:
    bot, store = running_bot
    sender = verified(bot, NEEDS_DOCS)
    before = _count(store)
    body = multipart([("file", "a.png", png())])
    assert upload(bot, sender, body, token="0" * 64)[0] == 403
    assert upload(bot, sender, body, token="")[0] == 403
    # Another merchant's conversation token does not open this conversation either.
    other = verified(bot, UNDER_REVIEW)
    assert upload(bot, sender, body, token=bot.tokens[other])[0] == 403
    assert upload(bot, "../../etc/passwd", body)[0] == 400
    assert _count(store) == before


@pytest.mark.parametrize(
    ("body", "content_type", "status", "phrase"),
    [
        (multipart([("file", "x.png", b"")]), None, 400, "空的"),
        (multipart([("file", "x.png", b"GIF89a" + b"\x00" * 64)]), None, 415, "JPG、PNG"),
        (multipart([("file", "../../etc/x.png", png()[:60])]), None, 422, "损坏"),
        (multipart([("file", "bomb.png", png_bomb())]), None, 422, "尺寸太大"),
        (multipart([("file", "x.pdf", pdf(b"<< /S /JavaScript /JS (x) >>"))]), None, 422, "不安全"),
        (multipart([("file", "x.png", png() + b"PK\x03\x04")]), None, 422, "不安全"),
        (
            multipart([("file", "a.png", png()), ("file", "b.png", png())]),
            None,
            400,
            "一次只选一个",
        ),
        (multipart([("caption", None, "身份证".encode())]), None, 400, "一次只选一个"),
        (multipart([("file", "a.png", png()), ("evil", None, b"1")]), None, 400, "一次只选一个"),
        (b"--" + BOUNDARY.encode() + b"\r\nno headers at all", None, 400, "一次只选一个"),
        (png(), "image/png", 415, "一次只选一个"),
        (multipart([("file", "a.png", png())]), "multipart/form-data", 415, "一次只选一个"),
        (multipart([("file", "a.png", png())]), "application/json", 415, "一次只选一个"),
    ],
    ids=[
        "zero-bytes",
        "wrong-magic",
        "truncated-traversal-name",
        "huge-dimensions",
        "pdf-javascript",
        "polyglot",
        "two-files",
        "no-file",
        "unknown-field",
        "malformed-multipart",
        "raw-png-body",
        "no-boundary",
        "json-type",
    ],
)
def test_hostile_uploads_get_a_4xx_and_a_chinese_message(
    running_bot, documents_dir, body: bytes, content_type: str | None, status: int, phrase: str
) -> None:
    bot, store = running_bot
    sender = verified(bot, NEEDS_DOCS)
    before, files = _count(store), len(_files(documents_dir))
    kwargs = {"content_type": content_type} if content_type else {}
    got, answer = upload(bot, sender, body, **kwargs)
    assert got == status, answer
    assert isinstance(answer, dict) and answer["error"]
    assert phrase in _texts(answer)
    assert (_count(store), len(_files(documents_dir))) == (before, files)
    assert not [p for p in _files(documents_dir) if p.name.startswith(".upload-")]


def test_an_oversized_upload_is_refused_before_it_is_read(running_bot, documents_dir) -> None:
    bot, store = running_bot
    sender = verified(bot, NEEDS_DOCS)
    before, files = _count(store), len(_files(documents_dir))
    url = urllib.parse.urlsplit(bot.url)
    connection = http.client.HTTPConnection(url.hostname, url.port, timeout=30)
    connection.putrequest("POST", f"/chat/upload?sender={sender}")
    connection.putheader("Content-Type", f"multipart/form-data; boundary={BOUNDARY}")
    connection.putheader("Content-Length", str(200 * 1024 * 1024))
    connection.putheader(SESSION_HEADER, bot.tokens[sender])
    connection.endheaders()
    connection.send(b"--" + BOUNDARY.encode() + b"\r\n")
    reply = connection.getresponse()
    answer = json.loads(reply.read().decode("utf-8"))
    connection.close()
    assert reply.status == 413
    assert "文件太大" in _texts(answer)
    assert (_count(store), len(_files(documents_dir))) == (before, files)


def test_documents_are_for_agents_with_a_token_only(running_bot) -> None:
    bot, _ = running_bot
    for token in (None, "wrong-token-0123456789"):
        assert agent_get(bot, "/agent/documents", token)[0] == 401
        assert agent_get(bot, "/agent/documents/1", token)[0] == 401
    assert agent_get(bot, "/agent/documents?case_id=../../x")[0] == 400
    assert agent_get(bot, "/agent/documents/1x")[0] == 400
    assert agent_get(bot, "/agent/documents/999999")[0] == 404
    status, headers, page = agent_get(bot, "/agent/desk", None)
    assert status == 200 and b"desk.js" in page  # the page itself holds no data
    assert "script-src 'self'" in headers["Content-Security-Policy"]
    assert headers["X-Frame-Options"] == "DENY"
