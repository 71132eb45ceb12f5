"""The content store: reply texts and operator facts that operators edit live.

Defaults are the texts of ``domain.yml`` (replies) and the configured operator facts
(environment, then ``operator.yml``); an operator's edit, kept in the case store with its
audit, wins over both. Every serving process keeps the edits in a :class:`ContentCache`: an edit
made in the process is live at once (:meth:`ContentCache.invalidate`); edits made elsewhere are
seen within ``POSBOT_CONTENT_CHECK_SECONDS`` (one ``max(id)`` query per interval, none per turn).
When the store cannot be read the defaults are served and an ERROR is logged.
"""

from __future__ import annotations

import asyncio
import logging
import re
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, fields
from typing import Any, Final

from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from bot.clock import china_now
from bot.operator_facts import FACT_ENV, OperatorFacts, fill_operator_facts, operator_facts
from bot.services.base import StoreService, StoreUnavailable
from bot.settings import CONTENT_CHECK_SECONDS, HOLIDAY_FILE
from bot.store.content import (
    EDIT,
    FACT,
    RESET,
    RESPONSE,
    REVERT,
    ContentRepository,
    Edit,
)
from bot.store.database import CaseStore, default_store
from bot.workdays import HolidayOverrides, WorkdayCalendar, default_calendar

logger = logging.getLogger(__name__)

__all__ = [
    "FACT",
    "RESPONSE",
    "ContentCache",
    "ContentError",
    "ContentService",
    "ContentSnapshot",
    "Edit",
    "UnknownContent",
    "content_cache",
]

#: WeChat's limit for one customer-service / passive text message, in UTF-8 bytes.
MAX_TEXT_BYTES: Final = 2048
MAX_FACT_CHARS: Final = 60
#: The holiday file (holidays.yml) as an editable fact: its whole YAML text.
HOLIDAYS: Final = "holidays"
OPERATOR_PLACEHOLDERS: Final = frozenset(FACT_ENV)
FACT_NAMES: Final = (*FACT_ENV, HOLIDAYS)
MAX_HOLIDAYS_CHARS: Final = 8000
PLACEHOLDER: Final = re.compile(r"\{([A-Za-z_][A-Za-z0-9_]*)\}")
# Markup never belongs in a reply: the widget shows text, WeChat shows it raw.
MARKUP: Final = re.compile(r"<\s*[A-Za-z!/?]|javascript:|&#?[A-Za-z0-9]+;", re.IGNORECASE)
CONTROL: Final = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
HOTLINE_PATTERN: Final = re.compile(r"^[0-9+\-() 转]{3,30}$")
HISTORY_LIMIT: Final = 50


class ContentError(ValueError):
    """An edit refused, with the reason in Chinese and in English."""

    def __init__(self, code: str, chinese: str, english: str) -> None:
        super().__init__(f"{chinese} {english}")
        self.code = code
        self.chinese = chinese
        self.english = english


class UnknownContent(LookupError):
    """No such reply, fact or edit."""


@dataclass(frozen=True)
class ContentSnapshot:
    """The operators' edits at one version (``degraded``: the store could not be read)."""

    version: int | None = None
    responses: Mapping[str, str] = field(default_factory=dict)
    facts: Mapping[str, str] = field(default_factory=dict)
    degraded: bool = False

    def operator_facts(self, base: OperatorFacts | None = None) -> OperatorFacts:
        """The facts users see: an edit wins over the environment and ``operator.yml``."""
        base = base or operator_facts()
        values = {f.name: getattr(base, f.name) for f in fields(base)}
        values.update({name: text for name, text in self.facts.items() if name in values})
        return OperatorFacts(**values)

    def text(self, responses: Mapping[str, Sequence[Mapping[str, Any]]], name: str) -> str:
        """The live text of a reply, operator facts filled (``""`` when it has none)."""
        text = self.responses.get(name)
        if text is None:
            text = next((str(v["text"]) for v in responses.get(name) or [] if v.get("text")), "")
        return fill_operator_facts(text, self.operator_facts()) if text else ""

    def apply(
        self, responses: Mapping[str, list[dict[str, Any]]]
    ) -> dict[str, list[dict[str, Any]]]:
        """The domain's responses with the edited texts (buttons and the rest untouched)."""
        if not self.responses:
            return dict(responses)
        applied = dict(responses)
        for name, text in self.responses.items():
            if name in applied:
                applied[name] = [{**variant, "text": text} for variant in applied[name]]
        return applied


def _read(session: Session, version: int) -> ContentSnapshot:
    repository = ContentRepository(session)
    responses: dict[str, str] = {}
    facts: dict[str, str] = {}
    for override in repository.overrides():
        (responses if override.kind == RESPONSE else facts)[override.name] = override.text
    return ContentSnapshot(version, responses, facts)


class ContentCache:
    """The operators' edits as this process serves them.

    Reads never wait for the store, except the first and then once per check interval (one
    ``max(id)`` query; the edits are read again only when it changed). A failed read serves
    the defaults and logs an ERROR; the next check tries again.
    """

    def __init__(
        self,
        store: Callable[[], CaseStore] = default_store,
        check_seconds: float | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._store = store
        self.check_seconds = (
            CONTENT_CHECK_SECONDS.read() if check_seconds is None else check_seconds
        )
        self._clock = clock
        self._snapshot = ContentSnapshot()
        self._checked_at: float | None = None
        self._lock = threading.Lock()
        self._refreshing = threading.Event()

    def cached(self) -> ContentSnapshot:
        """The edits as last read (no store access)."""
        return self._snapshot

    def invalidate(self) -> None:
        """The next read goes to the store (an edit was made in this process)."""
        self._checked_at = None

    def due(self) -> bool:
        """Whether the next read asks the store."""
        return self._checked_at is None or self._clock() - self._checked_at >= self.check_seconds

    def refresh(self) -> ContentSnapshot:
        """Asks the store now (blocking: call it off the event loop)."""
        with self._lock:
            if not self.due():
                return self._snapshot
            self._checked_at = self._clock()
            try:
                with self._store().session() as session:
                    version = ContentRepository(session).version()
                    if version != self._snapshot.version or self._snapshot.degraded:
                        self._snapshot = _read(session, version)
            except SQLAlchemyError as error:
                logger.error(
                    "Content store unavailable (%s): serving the texts of domain.yml and the "
                    "configured operator facts",
                    error.__class__.__name__,
                )
                self._snapshot = ContentSnapshot(degraded=True)
            return self._snapshot

    def current_sync(self) -> ContentSnapshot:
        """The edits, asking the store when the check is due (blocking)."""
        return self.refresh() if self.due() else self._snapshot

    def peek(self) -> ContentSnapshot:
        """The edits as last read, never waiting: a due check runs on a background thread
        (for synchronous callers on the event loop, such as the working-day calendar)."""
        if self.due() and not self._refreshing.is_set():
            self._refreshing.set()

            def run() -> None:
                try:
                    self.refresh()
                finally:
                    self._refreshing.clear()

            threading.Thread(target=run, name="content-refresh", daemon=True).start()
        return self._snapshot

    async def current(self) -> ContentSnapshot:
        """The edits, asking the store on a worker thread when the check is due."""
        if not self.due():
            return self._snapshot
        return await asyncio.to_thread(self.refresh)


_cache: ContentCache | None = None
_cache_lock = threading.Lock()


def content_cache() -> ContentCache:
    """The process's cache (created on first use, over the process's case store)."""
    global _cache
    with _cache_lock:
        if _cache is None:
            _cache = ContentCache()
        return _cache


_calendars: dict[str, WorkdayCalendar] = {}


def content_calendar(cache: ContentCache | None = None) -> WorkdayCalendar:
    """The working-day calendar with the operators' holiday edit, else the holiday file's."""
    text = (cache or content_cache()).peek().facts.get(HOLIDAYS)
    if text is None:
        return default_calendar()
    calendar = _calendars.get(text)
    if calendar is None:
        try:
            overrides = HolidayOverrides.parse(text)
        except ValueError as error:  # validated when edited; never stop the bot
            logger.error("Ignoring the edited holiday calendar: %s", error)
            return default_calendar()
        calendar = WorkdayCalendar(overrides)
        _calendars.clear()
        _calendars[text] = calendar
    return calendar


def holiday_file_text() -> str:
    """The text of the holiday file (the default of the ``holidays`` fact)."""
    try:
        return HOLIDAY_FILE.read().read_text(encoding="utf-8").strip()
    except OSError:
        return "holidays: []\nworkdays: []"


def placeholders(text: str) -> set[str]:
    """The ``{name}`` placeholders of a text."""
    return set(PLACEHOLDER.findall(text))


def _common_checks(text: str) -> str:
    if not isinstance(text, str):
        raise ContentError("not_text", "内容必须是文字。", "The text must be a string.")
    text = text.replace("\r\n", "\n").strip()
    if not text:
        raise ContentError("empty", "内容不能为空。", "The text must not be empty.")
    if CONTROL.search(text):
        raise ContentError(
            "control_characters", "内容含有不可见的控制字符。", "The text has control characters."
        )
    if MARKUP.search(text):
        raise ContentError(
            "markup",
            "内容不能包含 HTML 标签、脚本或字符实体（如 <b>、&amp;）。",
            "The text must not contain HTML tags, scripts or character entities.",
        )
    return text


def validate_response(default_text: str, text: Any, facts: OperatorFacts) -> str:
    """The cleaned text of a reply edit.

    Raises:
        ContentError: a placeholder of the default is missing, an unknown one was added, the
            text is empty, too long for WeChat once the facts are filled, or has markup.
    """
    text = _common_checks(text)
    required = placeholders(default_text)
    allowed = required | OPERATOR_PLACEHOLDERS
    missing = sorted(required - placeholders(text))
    if missing:
        shown = "、".join("{" + name + "}" for name in missing)
        raise ContentError(
            "missing_placeholder",
            f"缺少占位符 {shown}：这条回复要用它填入实际内容，请保留原样。",
            f"Missing placeholder(s) {shown.replace('、', ', ')}: the reply needs them.",
        )
    unknown = sorted(placeholders(text) - allowed)
    if unknown:
        shown = "、".join("{" + name + "}" for name in unknown)
        usable = "、".join("{" + name + "}" for name in sorted(allowed))
        raise ContentError(
            "unknown_placeholder",
            f"不认识的占位符 {shown}；这条回复可用：{usable}。",
            f"Unknown placeholder(s) {shown.replace('、', ', ')}; this reply can use: "
            f"{usable.replace('、', ', ')}.",
        )
    size = len(fill_operator_facts(text, facts).encode("utf-8"))
    if size > MAX_TEXT_BYTES:
        raise ContentError(
            "too_long",
            f"内容过长：{size} 字节（填入热线等信息后），微信单条消息最多 {MAX_TEXT_BYTES} 字节。",
            f"Too long: {size} bytes (operator facts filled); a WeChat text message holds at "
            f"most {MAX_TEXT_BYTES} bytes.",
        )
    return text


def validate_fact(name: str, text: Any) -> str:
    """The cleaned value of an operator fact.

    Raises:
        ContentError: empty, too long, with markup or braces, or a hotline that is not a number;
            a holiday calendar that is not ``holidays:`` / ``workdays:`` lists of ISO dates.
    """
    text = _common_checks(text)
    if name == HOLIDAYS:
        return _validate_holidays(text)
    if "\n" in text or "{" in text or "}" in text:
        raise ContentError(
            "fact_format",
            "这一项只能是一行文字，不能含换行或花括号。",
            "A fact is one line without line breaks or braces.",
        )
    if len(text) > MAX_FACT_CHARS:
        raise ContentError(
            "too_long",
            f"内容过长：{len(text)} 个字，最多 {MAX_FACT_CHARS} 个字。",
            f"Too long: {len(text)} characters, at most {MAX_FACT_CHARS}.",
        )
    if name == "hotline" and not HOTLINE_PATTERN.match(text):
        raise ContentError(
            "hotline_format",
            "客服热线只能含数字、空格、+、-、括号和“转”，"
            "3 到 30 个字符，如 95xxx 或 400-123-4567。",
            "The hotline may only hold digits, spaces, + - ( ) and 转 (3 to 30 characters), "
            "e.g. 400-123-4567.",
        )
    return text


def _validate_holidays(text: str) -> str:
    if len(text) > MAX_HOLIDAYS_CHARS:
        raise ContentError(
            "too_long",
            f"节假日表过长：{len(text)} 个字符，最多 {MAX_HOLIDAYS_CHARS} 个。",
            f"The holiday calendar is too long: {len(text)} characters, at most "
            f"{MAX_HOLIDAYS_CHARS}.",
        )
    try:
        HolidayOverrides.parse(text)
    except ValueError as error:
        raise ContentError(
            "holidays_format",
            "节假日表格式不对：应为 YAML，holidays: 和 workdays: 下各列 ISO 日期"
            f"（如 holidays: [2027-01-01]）。问题：{error}",
            "The holiday calendar must be YAML with holidays: and workdays: lists of ISO "
            f"dates (e.g. holidays: [2027-01-01]). Problem: {error}",
        ) from None
    return text


@dataclass(frozen=True)
class ContentItem:
    """One editable text as the operators' page shows it."""

    kind: str
    name: str
    default: str
    text: str
    edited: bool
    placeholders: list[str]
    buttons: list[str]
    updated_by: str | None = None
    updated_at: str | None = None

    def as_json(self) -> dict[str, Any]:
        """The item for the API."""
        return dict(self.__dict__)


def _first_text(variants: Sequence[Mapping[str, Any]]) -> str:
    return next((str(v["text"]) for v in variants if v.get("text")), "")


class ContentService(StoreService):
    """Lists, edits and reverts the live texts; every change is audited and made live."""

    def __init__(
        self,
        responses: Mapping[str, Sequence[Mapping[str, Any]]],
        store: CaseStore | None = None,
        cache: ContentCache | None = None,
        base_facts: Callable[[], OperatorFacts] = operator_facts,
    ) -> None:
        super().__init__(store)
        self.responses = responses
        self._cache = cache
        self._base_facts = base_facts

    @property
    def cache(self) -> ContentCache:
        """The cache this service makes edits live in."""
        if self._cache is None:
            self._cache = content_cache()
        return self._cache

    def _default(self, kind: str, name: str) -> str:
        if kind == RESPONSE:
            if name not in self.responses or not _first_text(self.responses[name]):
                raise UnknownContent(name)
            return _first_text(self.responses[name])
        if kind == FACT and name == HOLIDAYS:
            return holiday_file_text()
        if kind == FACT and name in FACT_NAMES:
            return getattr(self._base_facts(), name) or ""
        raise UnknownContent(name)

    async def items(self) -> list[ContentItem]:
        """Every editable reply (with text) and fact, with its default and live text."""

        def work(session: Session) -> list[ContentItem]:
            repository = ContentRepository(session)
            overrides = {(o.kind, o.name): o for o in repository.overrides()}
            listed: list[ContentItem] = []
            for kind, names in (
                (FACT, list(FACT_NAMES)),
                (RESPONSE, sorted(n for n, v in self.responses.items() if _first_text(v))),
            ):
                for name in names:
                    default = self._default(kind, name)
                    override = overrides.get((kind, name))
                    buttons = [
                        str(b.get("title", ""))
                        for v in (self.responses.get(name) or [] if kind == RESPONSE else [])
                        for b in v.get("buttons") or []
                    ]
                    listed.append(
                        ContentItem(
                            kind=kind,
                            name=name,
                            default=default,
                            text=override.text if override else default,
                            edited=override is not None,
                            placeholders=sorted(placeholders(default)),
                            buttons=buttons,
                            updated_by=override.updated_by if override else None,
                            updated_at=override.updated_at.isoformat(timespec="seconds")
                            if override
                            else None,
                        )
                    )
            return listed

        return await self.transaction(work)

    def _validated(self, kind: str, name: str, text: Any) -> str:
        default = self._default(kind, name)
        if kind == RESPONSE:
            facts = self.cache.cached().operator_facts(self._base_facts())
            return validate_response(default, text, facts)
        return validate_fact(name, text)

    async def _change(
        self,
        kind: str,
        name: str,
        text: str | None,
        operator_id: str,
        action: str,
        reverts: int | None = None,
    ) -> Edit:
        def work(session: Session) -> Edit:
            return ContentRepository(session).change(
                kind, name, text, operator_id, china_now(), action, reverts
            )

        edit = await self.transaction(work)
        self.cache.invalidate()
        logger.info("content %s %s/%s by operator %s", action, kind, name, operator_id)
        return edit

    async def edit(self, kind: str, name: str, text: Any, operator_id: str) -> Edit:
        """Sets an item's live text (validated); the same text as the default resets it.

        Raises:
            UnknownContent: no such reply or fact.
            ContentError: the text is refused (nothing is written).
            StoreUnavailable: the store failed.
        """
        cleaned = self._validated(kind, name, text)
        same_as_default = cleaned == self._default(kind, name)
        return await self._change(
            kind, name, None if same_as_default else cleaned, operator_id, EDIT
        )

    async def reset(self, kind: str, name: str, operator_id: str) -> Edit:
        """Back to the default text (domain.yml / the configuration)."""
        self._default(kind, name)
        return await self._change(kind, name, None, operator_id, RESET)

    async def revert(self, edit_id: int, operator_id: str) -> Edit:
        """Undoes one edit: its item gets the text it had before that edit.

        Raises:
            UnknownContent: no such edit, or its item no longer exists.
            ContentError: the old text no longer fits the reply (e.g. a placeholder changed).
        """
        edit = await self.transaction(lambda session: ContentRepository(session).edit(edit_id))
        if edit is None:
            raise UnknownContent(str(edit_id))
        old = edit.old_text
        if old is not None:
            old = self._validated(edit.kind, edit.name, old)
        return await self._change(edit.kind, edit.name, old, operator_id, REVERT, edit.id)

    async def history(self, kind: str | None = None, name: str | None = None) -> list[Edit]:
        """The latest changes, newest first."""
        return list(
            await self.transaction(
                lambda session: ContentRepository(session).history(kind, name, HISTORY_LIMIT)
            )
        )


def edit_json(edit: Edit) -> dict[str, Any]:
    """An audited change for the API."""
    return {
        "id": edit.id,
        "kind": edit.kind,
        "name": edit.name,
        "action": edit.action,
        "old_text": edit.old_text,
        "new_text": edit.new_text,
        "operator_id": edit.operator_id,
        "edited_at": edit.edited_at.isoformat(timespec="seconds"),
        "reverts_edit_id": edit.reverts_edit_id,
    }


__all__ += [
    "HOLIDAYS",
    "ContentItem",
    "StoreUnavailable",
    "content_calendar",
    "edit_json",
    "validate_fact",
    "validate_response",
]
