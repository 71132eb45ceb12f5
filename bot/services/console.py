"""The operators' console figures: a registry of named figures, each computed by SQL over the
tracker's ``events`` table and the case store for a range of China days.

One function per figure, registered with :func:`figure`; the dashboard (``/ops``), its CSV
exports and ``posbot report`` all read :data:`FIGURES`. A new figure (over a table of its own)
is a new decorated function and a test with known rows.
"""

from __future__ import annotations

import asyncio
import csv
import io
import logging
import threading
from collections.abc import Callable, Iterator, Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any, Final

import sqlalchemy as sa
from rasa.core.tracker_store import SQLTrackerStore
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from bot.clock import china_now
from bot.redaction import mask_pii
from bot.services.base import StoreUnavailable
from bot.services.miss_groups import group_misses
from bot.store import console as queries
from bot.store.database import CaseStore, default_store
from bot.store.tracker_store import engine_options, tracker_url

logger = logging.getLogger(__name__)

MAX_DAYS: Final = 366
#: Pooled connections of the console to the tracker's database (more open while computing).
POOL_SIZE: Final = 2
#: Figures whose own queries are the longest: started before the others.
EARLY: Final = ("top_intents", "response_codes", "volume", "containment")
DEFAULT_DAYS: Final = 30
TOP_LIMIT: Final = 10
CLUSTERED_MISSES: Final = 300
CLUSTERS_SHOWN: Final = 10
CLUSTER_EXAMPLES: Final = 3
DATE_FORMAT_HINT: Final = "YYYY-MM-DD"
FIRST_YEAR: Final = 2000
LAST_YEAR: Final = 2100
# A cell starting with one of these is a formula to spreadsheets (CSV injection).
FORMULA_PREFIXES: Final = ("=", "+", "-", "@", "\t", "\r", "\n")

#: Chart kinds the page draws: a line per series over the days, or horizontal bars.
LINES: Final = "lines"
BARS: Final = "bars"
TABLE: Final = "table"


class PeriodError(ValueError):
    """A date range the console refuses; the message names the parameter and the reason."""


@dataclass(frozen=True)
class Period:
    """An inclusive range of China days."""

    since: date
    until: date

    @property
    def days(self) -> list[date]:
        """Every day of the range, in order."""
        return [self.since + timedelta(days=n) for n in range((self.until - self.since).days + 1)]

    @classmethod
    def last_days(cls, count: int = DEFAULT_DAYS, today: date | None = None) -> Period:
        """The ``count`` days ending today (China time)."""
        end = today or china_now().date()
        return cls(end - timedelta(days=count - 1), end)

    @classmethod
    def parse(cls, since: str | None, until: str | None, today: date | None = None) -> Period:
        """The range of the ``since`` and ``until`` parameters (``YYYY-MM-DD``, inclusive).

        No ``since``: the :data:`DEFAULT_DAYS` days ending at ``until`` (default today).

        Raises:
            PeriodError: a value is not a date, the range is reversed or over
                :data:`MAX_DAYS` days.
        """
        start_given = _parse_day("since", since) if since else None
        end = _parse_day("until", until) if until else (today or china_now().date())
        start = start_given or end - timedelta(days=DEFAULT_DAYS - 1)
        if start > end:
            raise PeriodError(f"since {start.isoformat()} is after until {end.isoformat()}")
        length = (end - start).days + 1
        if length > MAX_DAYS:
            raise PeriodError(f"the range has {length} days; at most {MAX_DAYS} are allowed")
        return cls(start, end)


def _parse_day(name: str, value: str) -> date:
    text = value.strip()
    shown = text[:20] + ("…" if len(text) > 20 else "")
    if len(text) != len(DATE_FORMAT_HINT) or not text.isascii():
        raise PeriodError(f"{name}: {shown!r} is not a date ({DATE_FORMAT_HINT})")
    try:
        day = date.fromisoformat(text)
    except ValueError:
        raise PeriodError(f"{name}: {shown!r} is not a valid date ({DATE_FORMAT_HINT})") from None
    if not FIRST_YEAR <= day.year <= LAST_YEAR:
        raise PeriodError(f"{name}: year {day.year} is outside {FIRST_YEAR}-{LAST_YEAR}")
    return day


@dataclass(frozen=True)
class Figure:
    """One computed figure: a table (columns, rows), range totals, and how to chart it."""

    key: str
    title: str
    columns: tuple[str, ...]
    rows: list[tuple[Any, ...]]
    totals: dict[str, float | int] = field(default_factory=dict)
    chart: str = TABLE
    #: The columns drawn (LINES: one line each over the first column; BARS: the first one).
    series: tuple[str, ...] = ()

    def as_json(self) -> dict[str, Any]:
        """The figure as the dashboard API sends it."""
        return {
            "key": self.key,
            "title": self.title,
            "columns": list(self.columns),
            "rows": [[_json_cell(value) for value in row] for row in self.rows],
            "totals": self.totals,
            "chart": self.chart,
            "series": list(self.series),
        }


def _json_cell(value: Any) -> Any:
    return value.isoformat() if isinstance(value, date) else value


def _csv_cell(value: Any) -> str:
    text = _json_cell(value)
    text = "" if text is None else str(text)
    return f"'{text}" if text.startswith(FORMULA_PREFIXES) else text


def figure_csv(result: Figure) -> str:
    """The figure's table as CSV (header row; text cells safe to open in a spreadsheet)."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(result.columns)
    for row in result.rows:
        writer.writerow([_csv_cell(value) for value in row])
    return out.getvalue()


class Shared:
    """Aggregates several figures of one computation read (each computed once, by the
    first figure that asks; the others wait for it, from any thread)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._results: dict[str, Future[Any]] = {}

    def once(self, key: str, compute: Callable[[], Any]) -> Any:
        """``compute()`` the first time ``key`` is asked for; its result every time."""
        with self._lock:
            future = self._results.get(key)
            owner = future is None
            if future is None:
                future = self._results[key] = Future()
        if owner:
            try:
                future.set_result(compute())
            except BaseException as error:
                future.set_exception(error)
                raise
        return future.result()


@dataclass
class Sources:
    """What one figure reads: a connection to the tracker's database, a case store session,
    and the aggregates shared by the figures of one computation."""

    events: Connection
    cases: Session
    shared: Shared = field(default_factory=Shared)

    def once(self, key: str, compute: Callable[[], Any]) -> Any:
        """See :meth:`Shared.once`."""
        return self.shared.once(key, compute)


Compute = Callable[[Sources, Period], Figure]


@dataclass(frozen=True)
class FigureSpec:
    """A registered figure."""

    key: str
    title: str
    compute: Compute


FIGURES: dict[str, FigureSpec] = {}


def figure(key: str, title: str) -> Callable[[Compute], Compute]:
    """Registers a figure function under ``key`` (the URL and CSV name) with its title."""

    def register(compute: Compute) -> Compute:
        if key in FIGURES:
            raise ValueError(f"figure {key!r} registered twice")
        FIGURES[key] = FigureSpec(key, title, compute)
        return compute

    return register


def rate(part: int, whole: int) -> float:
    """``part / whole`` rounded to 4 places (0 when ``whole`` is 0)."""
    return round(part / whole, 4) if whole else 0.0


# --- shared aggregates ---------------------------------------------------------------------


def _daily(sources: Sources, period: Period) -> dict[date, tuple[int, int, int]]:
    def compute() -> dict[date, tuple[int, int, int]]:
        rows = queries.daily_messages(sources.events, period.since, period.until)
        return {
            day: (messages, conversations, fallbacks)
            for day, messages, conversations, fallbacks in rows
        }

    return sources.once("daily", compute)


def _totals(sources: Sources, period: Period) -> tuple[int, int, int]:
    return sources.once(
        "totals", lambda: queries.range_totals(sources.events, period.since, period.until)
    )


def _handoffs(sources: Sources, period: Period) -> list[tuple[date, str, int, int]]:
    return sources.once(
        "handoffs", lambda: queries.handoffs_by_day(sources.cases, period.since, period.until)
    )


def _handoff_totals(sources: Sources, period: Period) -> tuple[int, int]:
    return sources.once(
        "handoff_totals", lambda: queries.handoff_totals(sources.cases, period.since, period.until)
    )


# --- the figures ---------------------------------------------------------------------------


@figure("volume", "会话与消息")
def volume(sources: Sources, period: Period) -> Figure:
    """Conversations (distinct senders with a message that day) and user messages per day."""
    # The range totals first: another figure is reading the days meanwhile.
    messages, conversations, _ = _totals(sources, period)
    daily = _daily(sources, period)
    rows = [(day, *daily.get(day, (0, 0, 0))[1::-1]) for day in period.days]
    return Figure(
        "volume",
        FIGURES["volume"].title,
        ("day", "conversations", "messages"),
        rows,
        {"conversations": conversations, "messages": messages},
        LINES,
        ("conversations", "messages"),
    )


@figure("containment", "自助解决率")
def containment(sources: Sources, period: Period) -> Figure:
    """Conversations that ended without a handoff, per day and over the range."""
    daily = _daily(sources, period)
    handed: dict[date, int] = {}
    for day, _reason, _tickets, conversations in _handoffs(sources, period):
        handed[day] = handed.get(day, 0) + conversations
    rows = []
    for day in period.days:
        total = daily.get(day, (0, 0, 0))[1]
        contained = max(total - handed.get(day, 0), 0)
        rows.append((day, total, contained, rate(contained, total)))
    _, conversations, _ = _totals(sources, period)
    contained_total = max(conversations - _handoff_totals(sources, period)[1], 0)
    return Figure(
        "containment",
        FIGURES["containment"].title,
        ("day", "conversations", "contained", "containment_rate"),
        rows,
        {
            "conversations": conversations,
            "contained": contained_total,
            "containment_rate": rate(contained_total, conversations),
        },
        LINES,
        ("containment_rate",),
    )


@figure("fallback", "未理解率")
def fallback(sources: Sources, period: Period) -> Figure:
    """User messages the NLU fell back on (``nlu_fallback``), per day and over the range."""
    daily = _daily(sources, period)
    rows = []
    for day in period.days:
        messages, _, fallbacks = daily.get(day, (0, 0, 0))
        rows.append((day, messages, fallbacks, rate(fallbacks, messages)))
    messages, _, fallbacks = _totals(sources, period)
    return Figure(
        "fallback",
        FIGURES["fallback"].title,
        ("day", "messages", "fallback_messages", "fallback_rate"),
        rows,
        {
            "messages": messages,
            "fallback_messages": fallbacks,
            "fallback_rate": rate(fallbacks, messages),
        },
        LINES,
        ("fallback_rate",),
    )


HANDOFF_REASONS: Final = (
    queries.ASKED,
    queries.REASON_PATTERNS[0][0],
    queries.REASON_PATTERNS[1][0],
    queries.OTHER_REASON,
)


@figure("handoffs", "转人工")
def handoffs(sources: Sources, period: Period) -> Figure:
    """Handoff tickets per day by reason (asked, failed verification, two misses, other) and
    the handoff rate (conversations handed off / conversations)."""
    by_day: dict[date, dict[str, int]] = {}
    conversations_by_day: dict[date, int] = {}
    for day, reason, tickets, conversations in _handoffs(sources, period):
        by_day.setdefault(day, {})[reason] = tickets
        conversations_by_day[day] = conversations_by_day.get(day, 0) + conversations
    daily = _daily(sources, period)
    rows = []
    for day in period.days:
        reasons = by_day.get(day, {})
        handed = conversations_by_day.get(day, 0)
        total = daily.get(day, (0, 0, 0))[1]
        rows.append(
            (
                day,
                sum(reasons.values()),
                *(reasons.get(reason, 0) for reason in HANDOFF_REASONS),
                rate(handed, total),
            )
        )
    tickets, handed_total = _handoff_totals(sources, period)
    _, conversations, _ = _totals(sources, period)
    totals: dict[str, float | int] = {"handoffs": tickets, "conversations_handed_off": handed_total}
    for reason in HANDOFF_REASONS:
        totals[reason] = sum(r.get(reason, 0) for r in by_day.values())
    totals["handoff_rate"] = rate(handed_total, conversations)
    return Figure(
        "handoffs",
        FIGURES["handoffs"].title,
        ("day", "handoffs", *HANDOFF_REASONS, "handoff_rate"),
        rows,
        totals,
        LINES,
        HANDOFF_REASONS,
    )


@figure("top_intents", "热门意图")
def top_intents(sources: Sources, period: Period) -> Figure:
    """The most frequent intents of user messages over the range."""
    rows_found = queries.top_intents(sources.events, period.since, period.until, TOP_LIMIT)
    messages, _, _ = _totals(sources, period)
    rows = [(intent, count, rate(count, messages)) for intent, count in rows_found]
    return Figure(
        "top_intents",
        FIGURES["top_intents"].title,
        ("intent", "messages", "share"),
        rows,
        {"messages": messages},
        BARS,
        ("messages",),
    )


@figure("response_codes", "终端应答码")
def response_codes(sources: Sources, period: Period) -> Figure:
    """The response codes merchants reported (messages classified ``report_error_code``)."""
    rows_found = queries.response_codes(sources.events, period.since, period.until, TOP_LIMIT)
    return Figure(
        "response_codes",
        FIGURES["response_codes"].title,
        ("code", "messages"),
        list(rows_found),
        {"reports": sum(count for _, count in rows_found)},
        BARS,
        ("messages",),
    )


APPLICATION_OUTCOMES: Final = (
    "submitted",
    "under_review",
    "needs_documents",
    "approved",
    "rejected",
    "withdrawn",
)


@figure("applications", "机器人受理的申请")
def applications(sources: Sources, period: Period) -> Figure:
    """Applications filed through the bot per day of filing, by their current status."""
    by_day: dict[date, dict[str, int]] = {}
    for day, status, count in queries.bot_applications(sources.cases, period.since, period.until):
        by_day.setdefault(day, {})[status] = count
    rows: list[tuple[Any, ...]] = []
    for day in period.days:
        statuses = by_day.get(day, {})
        rows.append(
            (day, sum(statuses.values()), *(statuses.get(s, 0) for s in APPLICATION_OUTCOMES))
        )
    totals: dict[str, float | int] = {"filed": sum(int(row[1]) for row in rows)}
    for index, status in enumerate(APPLICATION_OUTCOMES, 2):
        totals[status] = sum(int(row[index]) for row in rows)
    return Figure(
        "applications",
        FIGURES["applications"].title,
        ("day", "filed", *APPLICATION_OUTCOMES),
        rows,
        totals,
        LINES,
        ("filed", "approved", "rejected"),
    )


@figure("review_clusters", "未理解消息的主要类别")
def review_clusters(sources: Sources, period: Period) -> Figure:
    """The largest groups of missed messages (``posbot review``'s clustering) among the latest
    :data:`CLUSTERED_MISSES` of the range."""
    misses = queries.recent_misses(sources.cases, period.since, period.until, CLUSTERED_MISSES)
    groups = group_misses(misses)[:CLUSTERS_SHOWN] if misses else []
    rows = [
        (
            number,
            group.size,
            group.conversations,
            group.suggested_intent,
            " / ".join(mask_pii(text) for text in group.examples[:CLUSTER_EXAMPLES]),
        )
        for number, group in enumerate(groups, 1)
    ]
    return Figure(
        "review_clusters",
        FIGURES["review_clusters"].title,
        ("group", "size", "conversations", "suggested_intent", "examples"),
        rows,
        {
            "misses": queries.count_misses(sources.cases, period.since, period.until),
            "clustered": len(misses),
        },
        BARS,
        ("size",),
    )


NOTIFICATION_STATUSES: Final = ("sent", "failed", "pending", "skipped")


@figure("notifications", "进度通知送达")
def notifications(sources: Sources, period: Period) -> Figure:
    """Status notifications planned per day by their current status (``posbot notify``);
    the delivery rate counts sent against sent + failed (pending ones are still trying)."""
    by_day: dict[date, dict[str, int]] = {}
    for day, status, count in queries.notifications_by_day(
        sources.cases, period.since, period.until
    ):
        by_day.setdefault(day, {})[status] = count
    rows: list[tuple[Any, ...]] = []
    for day in period.days:
        statuses = by_day.get(day, {})
        counts = [statuses.get(status, 0) for status in NOTIFICATION_STATUSES]
        rows.append((day, sum(statuses.values()), *counts))
    totals: dict[str, float | int] = {"planned": sum(int(row[1]) for row in rows)}
    for index, status in enumerate(NOTIFICATION_STATUSES, 2):
        totals[status] = sum(int(row[index]) for row in rows)
    totals["delivery_rate"] = rate(int(totals["sent"]), int(totals["sent"]) + int(totals["failed"]))
    return Figure(
        "notifications",
        FIGURES["notifications"].title,
        ("day", "planned", *NOTIFICATION_STATUSES),
        rows,
        totals,
        LINES,
        ("sent", "failed"),
    )


@figure("feedback", "回答反馈")
def feedback(sources: Sources, period: Period) -> Figure:
    """The merchants' verdicts (有帮助 / 没帮助) per answer, the least helpful first."""
    found = queries.feedback_by_answer(sources.cases, period.since, period.until, TOP_LIMIT)
    rows = [
        (intent, response, helpful, unhelpful, rate(helpful, helpful + unhelpful))
        for intent, response, helpful, unhelpful in found
    ]
    helpful_total = sum(row[2] for row in rows)
    unhelpful_total = sum(row[3] for row in rows)
    return Figure(
        "feedback",
        FIGURES["feedback"].title,
        ("intent", "response", "helpful", "not_helpful", "helpful_rate"),
        rows,
        {
            "helpful": helpful_total,
            "not_helpful": unhelpful_total,
            "helpful_rate": rate(helpful_total, helpful_total + unhelpful_total),
        },
        BARS,
        ("not_helpful",),
    )


SCORES: Final = (1, 2, 3, 4, 5)


@figure("satisfaction", "人工服务满意度")
def satisfaction(sources: Sources, period: Period) -> Figure:
    """The 1-5 ratings merchants gave after a human conversation, per day and overall."""
    by_day: dict[date, dict[int, int]] = {}
    for day, score, count in queries.ratings_by_day(sources.cases, period.since, period.until):
        by_day.setdefault(day, {})[score] = count
    rows: list[tuple[Any, ...]] = []
    overall = dict.fromkeys(SCORES, 0)
    for day in period.days:
        scores = by_day.get(day, {})
        ratings = sum(scores.values())
        points = sum(score * count for score, count in scores.items())
        for score, count in scores.items():
            overall[score] = overall.get(score, 0) + count
        rows.append((day, ratings, round(points / ratings, 2) if ratings else 0.0))
    ratings_total = sum(overall.values())
    points_total = sum(score * count for score, count in overall.items())
    totals: dict[str, float | int] = {
        "ratings": ratings_total,
        "mean_score": round(points_total / ratings_total, 2) if ratings_total else 0.0,
    }
    totals.update({f"score_{score}": overall.get(score, 0) for score in SCORES})
    return Figure(
        "satisfaction",
        FIGURES["satisfaction"].title,
        ("day", "ratings", "mean_score"),
        rows,
        totals,
        LINES,
        ("mean_score",),
    )


# --- computing -----------------------------------------------------------------------------


class ConsoleData:
    """Opens the tracker's database and the case store and computes figures (sync)."""

    def __init__(
        self,
        store: CaseStore | None = None,
        events_engine: Engine | None = None,
        tracker_database_url: str | None = None,
    ) -> None:
        self._store = store
        self._engine = events_engine
        self._tracker_url = tracker_database_url
        self._indexed = False
        self._setup_lock = threading.Lock()

    @property
    def store(self) -> CaseStore:
        """The case store (the process default unless one was given)."""
        if self._store is None:
            self._store = default_store()
        return self._store

    @property
    def engine(self) -> Engine:
        """The engine of the tracker's database (``POSBOT_TRACKER_URL`` unless given)."""
        if self._engine is None:
            url = tracker_url(self._tracker_url)
            options = engine_options(url, POOL_SIZE)
            # Every figure of a computation reads on a connection of its own (SQLite too).
            options.update(pool_size=POOL_SIZE, max_overflow=len(FIGURES) + POOL_SIZE)
            self._engine = sa.create_engine(url, **options)
        return self._engine

    def _set_up(self) -> None:
        """The events table (a console started before the bot's first conversation finds
        none) and the console's index, on a connection outside any transaction."""
        with self.engine.connect() as plain:
            connection = plain.execution_options(isolation_level="AUTOCOMMIT")
            SQLTrackerStore.SQLEvent.__table__.create(connection, checkfirst=True)
            queries.ensure_event_indexes(connection)

    @contextmanager
    def sources(self, shared: Shared | None = None) -> Iterator[Sources]:
        """A connection to the events and a case store session, for one figure."""
        with self._setup_lock:
            if not self._indexed:
                self._set_up()
                self._indexed = True
        with self.engine.connect() as connection, self.store.session() as session:
            yield Sources(connection, session, shared or Shared())

    def compute(self, period: Period, keys: Sequence[str] | None = None) -> list[Figure]:
        """The figures named by ``keys`` (all by default), in registry order.

        Raises:
            KeyError: an unknown figure key.
        """
        wanted = list(FIGURES) if keys is None else list(keys)
        for key in wanted:
            if key not in FIGURES:
                raise KeyError(key)
        shared = Shared()

        def run(key: str) -> Figure:
            with self.sources(shared) as sources:
                return FIGURES[key].compute(sources, period)

        # The figures' queries run side by side (each on its own connection); the shared
        # aggregates are read once. The heaviest independent ones are started first.
        order = sorted(wanted, key=lambda key: key not in EARLY)
        with ThreadPoolExecutor(len(order), thread_name_prefix="console") as pool:
            futures = {key: pool.submit(run, key) for key in order}
            return [futures[key].result() for key in wanted]


class ConsoleService:
    """The console figures for the web server: computed on a worker thread."""

    def __init__(self, data: ConsoleData | None = None) -> None:
        self.data = data or ConsoleData()

    async def figures(self, period: Period, keys: Sequence[str] | None = None) -> list[Figure]:
        """See :meth:`ConsoleData.compute`.

        Raises:
            StoreUnavailable: a database failed.
            KeyError: an unknown figure key.
        """
        try:
            return await asyncio.to_thread(self.data.compute, period, keys)
        except SQLAlchemyError as error:
            logger.error("operators' console: database unavailable: %s", type(error).__name__)
            raise StoreUnavailable(type(error).__name__) from None


def figure_titles() -> Mapping[str, str]:
    """``key -> title`` of every registered figure, in registry order."""
    return {key: spec.title for key, spec in FIGURES.items()}
