"""The self-service FAQ page at /faq, rendered from the bot's own responses."""

from __future__ import annotations

import html
from collections.abc import Awaitable, Callable
from typing import Any, Final

from rasa.core.channels.channel import InputChannel, UserMessage
from sanic import Blueprint, response
from sanic.request import Request
from sanic.response import HTTPResponse

from bot.channels.pages import agent_of, domain_text, html_page, json_body, static_file
from bot.faq import FAQ_TOPICS, TOPIC_BY_INTENT, FaqTopic
from bot.nlu.evidence import on_topic_intent
from bot.services.content import content_cache

MAX_QUESTION_CHARS: Final = 500
MIN_CONFIDENCE: Final = 0.35
PAGE_TITLE: Final = "POS机停用常见问题"


def _label(agent: Any, response_name: str) -> str:
    """The sub-heading of a documents answer: the reason it is for."""
    if response_name.startswith("utter_documents_"):
        reason = response_name.removeprefix("utter_documents_")
        return domain_text(agent, f"utter_reason_label_{reason}")
    return ""


def _topic_html(agent: Any, topic: FaqTopic) -> str:
    title = domain_text(agent, f"utter_topic_{topic.intent}") or topic.anchor
    parts = [f'<section class="topic" id="{topic.anchor}"><h2>{html.escape(title)}</h2>']
    for name in topic.responses:
        label = _label(agent, name)
        if label:
            parts.append(f'<div class="answer-label">{html.escape(label)}</div>')
        parts.append(f'<div class="answer">{html.escape(domain_text(agent, name))}</div>')
    parts.append("</section>")
    return "".join(parts)


def render_faq(agent: Any) -> str:
    """The whole FAQ page for the loaded model."""
    toc = "".join(
        f'<a href="#{t.anchor}">'
        f"{html.escape(domain_text(agent, f'utter_topic_{t.intent}') or t.anchor)}</a>"
        for t in FAQ_TOPICS
    )
    topics = "".join(_topic_html(agent, topic) for topic in FAQ_TOPICS)
    return f"""<!doctype html>
<html lang="zh-CN"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{PAGE_TITLE}</title><link rel="stylesheet" href="/chat/static/posbot.css"></head>
<body><header class="bar"><span class="title">{PAGE_TITLE}</span>
<a class="bar-link" id="ask" href="/chat">问智能助手</a></header>
<main class="page">
<form id="faq-search" class="search" autocomplete="off">
<input id="q" name="q" maxlength="{MAX_QUESTION_CHARS}" aria-label="问题"
 placeholder="输入您的问题，如：审核要多久">
<button type="submit">搜索</button></form>
<p id="notice" class="notice" aria-live="polite"></p>
<nav class="toc">{toc}</nav>{topics}
</main><script src="/chat/static/faq.js"></script></body></html>"""


class FaqInput(InputChannel):
    """Serves /faq and /faq/search (the question goes through the bot's NLU)."""

    @classmethod
    def name(cls) -> str:
        return "faq"

    @classmethod
    def from_credentials(cls, credentials: dict[str, Any] | None) -> FaqInput:
        return cls()

    def url_prefix(self) -> str:
        return "/faq"

    def blueprint(self, on_new_message: Callable[[UserMessage], Awaitable[Any]]) -> Blueprint:
        faq = Blueprint("posbot_faq", __name__)

        @faq.get("/")
        async def page(request: Request) -> HTTPResponse:
            agent = agent_of(request)
            if agent is None or agent.domain is None:
                return html_page("<p>助手正在启动，请稍后刷新。</p>", status=503)
            await content_cache().current()  # the operators' latest edits (docs/content.md)
            return html_page(render_faq(agent))

        @faq.get("/static/<name>")
        async def asset(_request: Request, name: str) -> HTTPResponse:
            return static_file(name)

        @faq.post("/search")
        async def search(request: Request) -> HTTPResponse:
            body = json_body(request)
            question = body.get("q") if isinstance(body, dict) else None
            if not isinstance(question, str) or not question.strip():
                return response.json({"error": 'expected JSON {"q": "问题"}'}, status=400)
            if len(question) > MAX_QUESTION_CHARS:
                return response.json({"error": "question too long"}, status=413)
            agent = agent_of(request)
            if agent is None or not agent.is_ready():
                return response.json({"error": "model loading"}, status=503)
            parsed = await agent.parse_message(question.strip())
            # The FAQ page is about POS: "要多长时间" there is the review time.
            intent = on_topic_intent(parsed)
            topic = TOPIC_BY_INTENT.get(intent.get("name") or "")
            if topic is None or (intent.get("confidence") or 0) < MIN_CONFIDENCE:
                return response.json({"anchor": None})
            return response.json({"anchor": topic.anchor, "intent": topic.intent})

        return faq
