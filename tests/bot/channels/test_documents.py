"""A photo sent in WeChat: fetched through media/get (a fake WeChat server), checked and attached
to the verified merchant's case; an unverified user's photo is never fetched."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from dataclasses import dataclass, field, replace
from pathlib import Path

import pytest
from aiohttp import web
from rasa.core.agent import Agent
from rasa.core.lock_store import InMemoryLockStore
from rasa.core.tracker_store import InMemoryTrackerStore
from rasa.shared.core.domain import Domain
from rasa.shared.core.events import BotUttered, SlotSet
from sqlalchemy import select
from wechatpy import parse_message
from wechatpy.messages import TextMessage

from bot.channels.sessions import WECHAT, scoped_sender
from bot.channels.wechat.channel import WeChatInput, WeChatSettings
from bot.services.documents import DocumentService
from bot.store.database import CaseStore
from bot.store.documents import DocumentFiles
from bot.store.models import Document
from tests.bot.channels.conftest import OPENID, FakeWeChatApi, StartChannel, message_xml
from tests.conftest import ROOT
from tests.documents_samples import png

MERCHANT = "898310058127777"
MEDIA_ID = "media-photo-1"
MAX_BYTES = 64 * 1024


@dataclass
class FakeMediaApi(FakeWeChatApi):
    """The fake WeChat server with ``media/get``: a media id -> (content type, bytes)."""

    media: dict[str, tuple[str, bytes]] = field(default_factory=dict)
    media_calls: list[dict[str, str]] = field(default_factory=list)

    async def start(self) -> None:
        app = web.Application()
        app.router.add_get("/cgi-bin/token", self._token)
        app.router.add_post("/cgi-bin/message/custom/send", self._send)
        app.router.add_get("/cgi-bin/media/get", self._media)
        self._runner = web.AppRunner(app)
        await self._runner.setup()
        await web.TCPSite(self._runner, "127.0.0.1", 0).start()
        self.base_url = f"http://127.0.0.1:{self._runner.addresses[0][1]}"

    async def _media(self, request: web.Request) -> web.Response:
        self.media_calls.append(dict(request.query))
        found = self.media.get(request.query.get("media_id", ""))
        if found is None:
            body = json.dumps({"errcode": 40007, "errmsg": "invalid media_id"})
            return web.Response(body=body, content_type="application/json")
        return web.Response(body=found[1], content_type=found[0])


@pytest.fixture
async def wechat_api() -> AsyncIterator[FakeMediaApi]:
    api = FakeMediaApi()
    await api.start()
    yield api
    await api.stop()


@pytest.fixture(scope="module")
def rasa_domain() -> Domain:
    return Domain.load(str(ROOT / "domain.yml"))


@pytest.fixture
def bot(rasa_domain: Domain) -> Agent:  # the app's agent: Rasa's, with in-memory stores
    return Agent(
        domain=rasa_domain,
        tracker_store=InMemoryTrackerStore(rasa_domain),
        lock_store=InMemoryLockStore(),
    )


@pytest.fixture
def files(tmp_path: Path) -> DocumentFiles:
    return DocumentFiles(tmp_path / "documents")


@pytest.fixture
def channel(settings: WeChatSettings, seeded_store: CaseStore, files: DocumentFiles) -> WeChatInput:
    documents = DocumentService(seeded_store, files, max_bytes=MAX_BYTES)
    return WeChatInput(replace(settings, reply_seconds=3.0), documents=documents)


async def _verify(agent: Agent, openid: str = OPENID) -> None:
    tracker = await agent.tracker_store.get_or_create_tracker(scoped_sender(WECHAT, openid))
    tracker.update(SlotSet("verified", True))
    tracker.update(SlotSet("verified_merchant_id", MERCHANT))
    await agent.tracker_store.save(tracker)


def _reply(body: str) -> str:
    message = parse_message(body)
    assert isinstance(message, TextMessage)
    return message.content


def _rows(store: CaseStore) -> list[Document]:
    with store.session() as session:
        return list(session.execute(select(Document)).scalars())


def _domain_text(domain: Domain, name: str) -> str:
    return str(domain.responses[name][0]["text"])


async def test_a_verified_merchants_photo_is_fetched_and_attached(
    start_channel: StartChannel,
    channel: WeChatInput,
    wechat_api: FakeMediaApi,
    bot: Agent,
    seeded_store: CaseStore,
    files: DocumentFiles,
) -> None:
    await _verify(bot)
    wechat_api.media[MEDIA_ID] = ("image/jpeg", png())  # the declared type is not believed
    client = await start_channel(channel)
    status, body = await client.post_plain(message_xml("image", MediaId=MEDIA_ID, PicUrl="x"))
    assert status == 200
    text = _reply(body)
    assert "请问这是哪一份材料" in text
    assert "结算账户变更证明" in text and "法人身份证正反面照片" in text
    assert [call["media_id"] for call in wechat_api.media_calls] == [MEDIA_ID]
    assert wechat_api.media_calls[0]["access_token"].startswith("fake-access-token")
    [row] = _rows(seeded_store)
    assert (row.mime, row.missing_item) == ("image/png", None)
    assert files.read(row.sha256) is not None
    # The answer and its choices are in the conversation (the buttons may be pressed).
    tracker = await bot.tracker_store.retrieve(scoped_sender(WECHAT, OPENID))
    uttered = [e for e in tracker.events if isinstance(e, BotUttered)]
    assert [b["title"] for b in uttered[-1].data["buttons"]] == [
        "结算账户变更证明",
        "法人身份证正反面照片",
    ]


async def test_an_unverified_users_photo_is_not_even_fetched(
    start_channel: StartChannel,
    channel: WeChatInput,
    wechat_api: FakeMediaApi,
    bot: Agent,
    rasa_domain: Domain,
    seeded_store: CaseStore,
) -> None:
    wechat_api.media[MEDIA_ID] = ("image/png", png())
    client = await start_channel(channel)
    _, body = await client.post_plain(message_xml("image", MediaId=MEDIA_ID, PicUrl="x"))
    assert _reply(body) == _domain_text(rasa_domain, "utter_document_verify_first")
    assert wechat_api.media_calls == [] and _rows(seeded_store) == []


@pytest.mark.parametrize(
    ("media", "response"),
    [
        (None, "utter_document_bad_upload"),
        (("image/png", b"\x00" * (MAX_BYTES + 1)), "utter_document_too_large"),
        (("image/png", png()[:70]), "utter_document_damaged"),
        (("application/pdf", b"%PDF-1.4\n<script>alert(1)</script>"), "utter_document_unsafe"),
        (("image/png", b""), "utter_document_empty"),
    ],
    ids=["media-api-error", "too-large", "truncated", "polyglot", "empty"],
)
async def test_bad_media_gets_a_clear_message_and_keeps_nothing(
    start_channel: StartChannel,
    channel: WeChatInput,
    wechat_api: FakeMediaApi,
    bot: Agent,
    rasa_domain: Domain,
    seeded_store: CaseStore,
    files: DocumentFiles,
    media: tuple[str, bytes] | None,
    response: str,
) -> None:
    await _verify(bot)
    if media is not None:
        wechat_api.media[MEDIA_ID] = media
    client = await start_channel(channel)
    _, body = await client.post_plain(message_xml("image", MediaId=MEDIA_ID, PicUrl="x"))
    assert _reply(body) == _domain_text(rasa_domain, response)
    assert _rows(seeded_store) == []
    assert not files.root.exists() or not any(p.is_file() for p in files.root.rglob("*"))
