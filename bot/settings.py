"""Every ``POSBOT_*`` environment variable: its name, default, meaning and how it is read.

This is the one place that reads them. A module asks its :class:`Setting` for the value when it
needs it (never at import time, so tests may change the environment per test)::

    from bot.settings import DB_URL
    url = DB_URL.read()            # or DB_URL.read(environ) with a mapping of its own

:meth:`Settings.from_env` reads them all at once into a typed, frozen :class:`Settings` and
reports every unusable value together. A value that cannot be understood is a
:class:`SettingError` naming the variable (``POSBOT_RATE_LIMIT='abc': expected …``); values that
may carry credentials (URLs, secrets) are never repeated in the message.

``python -m bot.settings`` checks the environment and prints the effective settings (secrets
hidden); ``python -m bot.settings --markdown`` prints ``docs/configuration.md``.
"""

from __future__ import annotations

import argparse
import ipaddress
import json
import os
import re
import sys
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any, Final, Generic, TypeVar

T = TypeVar("T")

#: Groups of the documentation page, in order.
CORE: Final = "Every process"
CHANNELS: Final = "Channels of the Rasa server"
WECHAT: Final = "WeChat Official Account"
OPERATOR: Final = "Operator facts"
TESTS: Final = "Tests and benchmarks"
NOTIFY: Final = "Status notifications"
DOCUMENTS: Final = "Documents sent in the chat"
#: Section title -> the text under it.
GROUPS: Final = {
    CORE: "The production profile (`posbot prod start`, `make run-prod`) uses its own defaults "
    "where noted and passes these to every process it starts.",
    CHANNELS: "Read by the Rasa server when it starts (an unusable rate limit or proxy list stops "
    "it: it must not run unprotected by mistake).",
    WECHAT: "Lower-case keys of the `wechat` section of `credentials.yml` (`token`, `app_id`, "
    "`app_secret`, `aes_key`, `api_base`, `reply_seconds`) win over these.",
    DOCUMENTS: "Photos and PDFs merchants send for their case (`docs/documents.md`).",
    OPERATOR: "Shown to users; no number is built in. The environment wins over the file; "
    "unset facts make replies point to the number printed on the terminal instead.",
    TESTS: "Only tests and benchmarks read these; they never touch the bot's own stores.",
    NOTIFY: "Read by the worker `posbot notify` (docs/notifications.md); WeChat messages use the "
    "Official Account settings above.",
}

OFF: Final = "off"
DEFAULT_RATE_LIMIT: Final = "20/10s"
#: Defaults of the production profile (``posbot prod start``), where they differ.
PRODUCTION_DB_URL: Final = "postgresql://postgres@127.0.0.1:5432/test"
PRODUCTION_REDIS_URL: Final = "redis://127.0.0.1:6379/1"
#: WeChat abandons a callback after this many seconds.
WECHAT_CALLBACK_SECONDS: Final = 5.0
_HIDDEN: Final = "(value not shown)"
_URL: Final = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*://")
#: A routing hint in session tokens (POSBOT_SESSION_ROUTE): what nginx's map matches.
SESSION_ROUTE_PATTERN: Final = re.compile(r"[a-z0-9]{1,16}\Z")
_REDIS_SCHEMES: Final = ("redis://", "rediss://", "unix://")
_RATE_UNITS: Final = {"": 1.0, "s": 1.0, "m": 60.0, "min": 60.0, "h": 3600.0}
ALWAYS_OPEN: Final = "always"
_WINDOW_SPEC: Final = re.compile(r"^(\d{1,2}):(\d{2})\s*-\s*(\d{1,2}):(\d{2})$")
_MAX_MINUTES: Final = 7 * 24 * 60
_RATE_SPEC: Final = re.compile(r"^\s*(\d+)\s*/\s*(\d*(?:\.\d+)?)\s*(s|m|min|h)?\s*$", re.IGNORECASE)


class SettingError(ValueError):
    """A ``POSBOT_*`` variable holds a value that cannot be used (the message names it)."""


@dataclass(frozen=True)
class RateLimit:
    """``capacity`` requests per ``period_seconds``, refilled continuously."""

    capacity: int
    period_seconds: float

    @classmethod
    def parse(cls, spec: str) -> RateLimit | None:
        """``"20/10s"``, ``"30/m"``, ``"5/1"`` (per second); ``"off"`` gives ``None``.

        Raises:
            SettingError: the text is not of that form or is zero (names ``POSBOT_RATE_LIMIT``).
        """
        return RATE_LIMIT.convert(spec)

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> RateLimit | None:
        """The configured limit (default ``20/10s``), or ``None`` when it is ``off``."""
        return RATE_LIMIT.read(environ)

    @property
    def per_second(self) -> float:
        """The average rate."""
        return self.capacity / self.period_seconds


@dataclass(frozen=True)
class Setting(Generic[T]):
    """One environment variable: read on demand, empty or blank meaning "use the default".

    Attributes:
        env: the variable's name.
        default: the value when it is unset or blank.
        meaning: what it configures (one line of the documentation).
        parse: text (stripped, not empty) to value; raises ``ValueError`` with the problem.
        shown_default: the default as the documentation shows it.
        group: the documentation section.
        sensitive: the value may hold credentials and is never repeated.
    """

    env: str
    default: T
    meaning: str
    parse: Callable[[str], T]
    shown_default: str
    group: str = CORE
    sensitive: bool = False

    def raw(self, environ: Mapping[str, str] | None = None) -> str | None:
        """The stripped text of the variable, or ``None`` when it is unset or blank."""
        text = (os.environ if environ is None else environ).get(self.env, "").strip()
        return text or None

    def convert(self, text: str) -> T:
        """``text`` as this setting's value.

        Raises:
            SettingError: naming the variable and what is wrong.
        """
        try:
            return self.parse(text.strip())
        except ValueError as error:
            shown = _HIDDEN if self.sensitive else repr(text)
            raise SettingError(f"{self.env}={shown}: {error}") from None

    def read(self, environ: Mapping[str, str] | None = None) -> T:
        """The value from ``environ`` (``os.environ`` by default, read now) or the default.

        Raises:
            SettingError: the variable is set to something unusable.
        """
        return self.read_or(self.default, environ)

    def read_or(self, fallback: T, environ: Mapping[str, str] | None = None) -> T:
        """Like :meth:`read`, with ``fallback`` instead of the default (a profile's own)."""
        text = self.raw(environ)
        return fallback if text is None else self.convert(text)


# --- parsers: text (stripped, not empty) to value, ValueError with the problem ------------------


def _text(text: str) -> str:
    return text


def _optional_text(text: str) -> str | None:
    return text


def _session_route(text: str) -> str:
    if not SESSION_ROUTE_PATTERN.match(text):
        raise ValueError("1-16 lower-case letters and digits")
    return text


def _path(text: str) -> Path:
    return Path(text)


def _database_url(text: str) -> str:
    if not _URL.match(text):
        raise ValueError(
            "expected a SQLAlchemy database URL such as sqlite:///var/posbot.db or "
            "postgresql://user@host:5432/db"
        )
    return text


def _redis_url(text: str) -> str | None:
    if not text.lower().startswith(_REDIS_SCHEMES):
        raise ValueError("expected a Redis URL such as redis://127.0.0.1:6379/1")
    return text


def _rate_limit(text: str) -> RateLimit | None:
    if text.lower() == OFF:
        return None
    match = _RATE_SPEC.match(text)
    if not match:
        raise ValueError(f"expected requests/period such as 20/10s, 30/m, 1000/1h, or {OFF}")
    capacity = int(match.group(1))
    period = float(match.group(2) or 1) * _RATE_UNITS[(match.group(3) or "").lower()]
    if capacity < 1 or period <= 0:
        raise ValueError("both numbers must be > 0")
    return RateLimit(capacity, period)


def _ip_addresses(text: str) -> frozenset[str]:
    addresses = set()
    for entry in filter(None, (part.strip() for part in text.split(","))):
        try:
            addresses.add(str(ipaddress.ip_address(entry)))
        except ValueError:
            raise ValueError(f"{entry!r} is not an IP address") from None
    return frozenset(addresses)


def _reply_seconds(text: str) -> float:
    try:
        seconds = float(text)
    except ValueError:
        seconds = -1.0
    if not 0 < seconds < WECHAT_CALLBACK_SECONDS:
        raise ValueError(f"must be between 0 and {WECHAT_CALLBACK_SECONDS:.0f} seconds")
    return seconds


def _positive_int(text: str) -> int:
    try:
        number = int(text)
    except ValueError:
        number = 0
    if number < 1:
        raise ValueError("expected a whole number > 0")
    return number


def _check_seconds(text: str) -> float:
    try:
        seconds = float(text)
    except ValueError:
        seconds = -1.0
    if not 0 < seconds <= 3600:
        raise ValueError("must be a number of seconds above 0 and at most 3600")
    return seconds


def _tier_prefixes(text: str) -> dict[str, str | list[str]]:
    try:
        prefixes = json.loads(text)
    except ValueError:
        prefixes = None
    valid = isinstance(prefixes, dict) and all(
        isinstance(v, str) or (isinstance(v, list) and all(isinstance(a, str) for a in v))
        for v in prefixes.values()
    )
    if not valid:
        raise ValueError(
            "expected a JSON object of process name or tier to command prefix, e.g. "
            '{"rasa": "ip netns exec ns-rasa"}'
        )
    return dict(prefixes)


def _positive_number(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = -1.0
    if not 0 < value < 10**7:
        raise ValueError("expected a number greater than 0")
    return value


def _attempts(text: str) -> int:
    if not text.isdigit() or not 1 <= int(text) <= 100:
        raise ValueError("expected a whole number from 1 to 100")
    return int(text)


def _http_url(text: str) -> str | None:
    if not text.lower().startswith(("http://", "https://")):
        raise ValueError("expected an http:// or https:// URL")
    return text


def _sms_template(text: str) -> str:
    if "{text}" not in text:
        raise ValueError("must contain {text} (the notification); {case_id} is optional")
    leftover = text.replace("{text}", "").replace("{case_id}", "")
    if "{" in leftover or "}" in leftover:
        raise ValueError("only the placeholders {text} and {case_id} are allowed")
    return text


def _service_window(text: str) -> tuple[int, int] | None:
    """``HH:MM-HH:MM`` (working days) as minutes after midnight; ``always`` gives ``None``."""
    if text.lower() == ALWAYS_OPEN:
        return None
    match = _WINDOW_SPEC.match(text)
    if not match:
        raise ValueError(
            f"expected the agents' hours on working days as HH:MM-HH:MM, e.g. 09:00-18:00, "
            f"or {ALWAYS_OPEN}"
        )
    start_h, start_m, end_h, end_m = (int(part) for part in match.groups())
    start, end = start_h * 60 + start_m, end_h * 60 + end_m
    if start_h > 23 or start_m > 59 or end_m > 59 or end > 24 * 60:
        raise ValueError("hours run from 00:00 to 24:00 and minutes from 00 to 59")
    if end <= start:
        raise ValueError(
            f"the closing time {end_h:02d}:{end_m:02d} must be after the opening time "
            f"{start_h:02d}:{start_m:02d} (hours past midnight are not supported)"
        )
    return start, end


def _minutes(text: str) -> float:
    try:
        minutes = float(text)
    except ValueError:
        minutes = -1.0
    if not 0 <= minutes <= _MAX_MINUTES:
        raise ValueError(f"expected minutes between 0 and {_MAX_MINUTES}")
    return minutes


def _positive_minutes(text: str) -> float:
    minutes = _minutes(text)
    if minutes <= 0:
        raise ValueError("expected minutes above 0")
    return minutes


# --- the settings -------------------------------------------------------------------------------

DB_URL: Final = Setting(
    "POSBOT_DB_URL",
    "sqlite:///var/posbot.db",
    "case store (SQLAlchemy URL; `postgresql://…` in production)",
    _database_url,
    f"`sqlite:///var/posbot.db` (production profile: `{PRODUCTION_DB_URL}`)",
    sensitive=True,
)
TRACKER_URL: Final = Setting(
    "POSBOT_TRACKER_URL",
    "sqlite:///var/tracker.db",
    "conversations (Rasa's `events` table, redacted); kept across restarts of `make run`",
    _database_url,
    "`sqlite:///var/tracker.db` (production profile: `POSBOT_DB_URL`)",
    sensitive=True,
)
REDIS_URL: Final[Setting[str | None]] = Setting(
    "POSBOT_REDIS_URL",
    None,
    "Redis shared by the processes of a deployment: conversation locks and the channels' state "
    "(WeChat de-duplication and nonces, the widget's inbox, copilot call contexts)",
    _redis_url,
    f"(none: state in memory, one process; production profile: `{PRODUCTION_REDIS_URL}`)",
    sensitive=True,
)
HOLIDAY_FILE: Final = Setting(
    "POSBOT_HOLIDAY_FILE",
    Path("holidays.yml"),
    "holidays / make-up workdays for years `chinesecalendar` does not know",
    _path,
    "`holidays.yml`",
)
RESPONSE_CODES: Final = Setting(
    "POSBOT_RESPONSE_CODES",
    Path("config/response_codes.yml"),
    "the acquirer's response code table (read again when the file changes)",
    _path,
    "`config/response_codes.yml`",
)
SESSION_SECRET: Final = Setting(
    "POSBOT_SESSION_SECRET",
    "",
    "key of the REST session tokens (HMAC-SHA256, ≥ 16 characters); every Rasa server of a "
    "deployment needs the same one (the production profile passes it to both)",
    _text,
    "generated into `var/session_secret` (0600) on first start",
    sensitive=True,
)
SESSION_ROUTE: Final = Setting(
    "POSBOT_SESSION_ROUTE",
    "",
    "routing hint this Rasa server puts in the session tokens it issues, so that the load "
    "balancer keeps a conversation on the server that started it; the production profile "
    "gives each Rasa server its own (`r1`, `r2`…)",
    _session_route,
    "(none: tokens without a hint)",
)
ACTIONS_SECRET: Final = Setting(
    "POSBOT_ACTIONS_SECRET",
    "",
    "shared secret (≥ 16 characters) the Rasa servers send to the action servers "
    "(`Authorization: Bearer …`, from `endpoints.yml`)",
    _text,
    "generated into `var/actions_secret` (0600) on first start",
    sensitive=True,
)
ACTIONS_HOST: Final = Setting(
    "POSBOT_ACTIONS_HOST",
    "127.0.0.1",
    "address the action server listens on (every profile)",
    _text,
    "`127.0.0.1`",
)
RATE_LIMIT: Final[Setting[RateLimit | None]] = Setting(
    "POSBOT_RATE_LIMIT",
    _rate_limit(DEFAULT_RATE_LIMIT),
    "requests per client address (also per REST sender), e.g. `30/m`, `1000/1h`, or `off`; "
    "over it: 429 with `Retry-After`",
    _rate_limit,
    f"`{DEFAULT_RATE_LIMIT}` (bursts of 20, 2/s on average)",
    group=CHANNELS,
)
TRUSTED_PROXIES: Final = Setting(
    "POSBOT_TRUSTED_PROXIES",
    frozenset[str](),
    "comma-separated proxy addresses whose `X-Forwarded-For` names the client for the rate limit",
    _ip_addresses,
    "(none; production profile: `127.0.0.1`)",
    group=CHANNELS,
)
AGENT_TOKENS: Final = Setting(
    "POSBOT_AGENT_TOKENS",
    "",
    "`agent_id:token,…` bearer tokens (≥ 16 characters) of hotline agents; their case look-ups "
    "are audited in `case_access_audit` (a malformed entry is logged and skipped)",
    _text,
    "(none: agent APIs answer 401)",
    group=CHANNELS,
    sensitive=True,
)
OPERATOR_TOKENS: Final = Setting(
    "POSBOT_OPERATOR_TOKENS",
    "",
    "`operator_id:token,…` bearer tokens (≥ 16 characters) of the operators' console `/ops`, a "
    "role separate from the agents' (a malformed entry is logged and skipped)",
    _text,
    "(none: the console answers 401)",
    group=CHANNELS,
    sensitive=True,
)
CHAT_EMBED_ORIGINS: Final = Setting(
    "POSBOT_CHAT_EMBED_ORIGINS",
    "",
    "space-separated origins (`https://shop.example.com`) allowed to frame the widget `/chat` "
    "(anything else is logged and left out)",
    _text,
    "`'self'`",
    group=CHANNELS,
)
WECHAT_TOKEN: Final = Setting(
    "POSBOT_WECHAT_TOKEN",
    "",
    "the Official Account's server token (signature of every callback)",
    _text,
    "(none: the WeChat endpoint answers 503)",
    group=WECHAT,
    sensitive=True,
)
WECHAT_APPID: Final = Setting(
    "POSBOT_WECHAT_APPID", "", "the Official Account's AppID", _text, "(none)", group=WECHAT
)
WECHAT_APPSECRET: Final = Setting(
    "POSBOT_WECHAT_APPSECRET",
    "",
    "the AppSecret (customer-service messages: late answers and agents' replies)",
    _text,
    "(none: no customer-service messages)",
    group=WECHAT,
    sensitive=True,
)
WECHAT_AES_KEY: Final = Setting(
    "POSBOT_WECHAT_AES_KEY",
    "",
    "EncodingAESKey (43 characters); enables safe mode (encrypted messages)",
    _text,
    "(none: plaintext mode)",
    group=WECHAT,
    sensitive=True,
)
WECHAT_API_BASE: Final = Setting(
    "POSBOT_WECHAT_API_BASE",
    "https://api.weixin.qq.com",
    "customer-service message API",
    _text,
    "`https://api.weixin.qq.com`",
    group=WECHAT,
)
WECHAT_REPLY_SECONDS: Final = Setting(
    "POSBOT_WECHAT_REPLY_SECONDS",
    4.0,
    "seconds the bot may take for a passive reply; a later answer follows as a "
    "customer-service message (between 0 and 5; an unusable value is logged, the default used)",
    _reply_seconds,
    "`4`",
    group=WECHAT,
)
# --- documents (issue 13) ---
DOCUMENTS_DIR: Final = Setting(
    "POSBOT_DOCUMENTS_DIR",
    Path("var/documents"),
    "where documents merchants send are kept, one file per content hash (sha256)",
    _path,
    "`var/documents`",
    group=DOCUMENTS,
)
DOCUMENTS_MAX_BYTES: Final = Setting(
    "POSBOT_DOCUMENTS_MAX_BYTES",
    10 * 1024 * 1024,
    "largest document (bytes) a merchant may send; larger ones are refused (413)",
    _positive_int,
    "`10485760` (10 MiB)",
    group=DOCUMENTS,
)
DOCUMENTS_MAX_PIXELS: Final = Setting(
    "POSBOT_DOCUMENTS_MAX_PIXELS",
    40_000_000,
    "largest image (width × height) accepted; more is refused as a decompression bomb",
    _positive_int,
    "`40000000`",
    group=DOCUMENTS,
)
DOCUMENTS_PER_CONVERSATION: Final = Setting(
    "POSBOT_DOCUMENTS_PER_CONVERSATION",
    20,
    "documents one conversation may send in all; more are refused (429)",
    _positive_int,
    "`20`",
    group=DOCUMENTS,
)
HOTLINE: Final[Setting[str | None]] = Setting(
    "POSBOT_HOTLINE",
    None,
    'the acquirer\'s customer-service number, e.g. `95xxx` (replies say "请拨打客服热线 95xxx")',
    _optional_text,
    "`hotline` of the operator file",
    group=OPERATOR,
)
SERVICE_HOURS: Final[Setting[str | None]] = Setting(
    "POSBOT_SERVICE_HOURS",
    None,
    "hours of the human agents, e.g. `每天 9:00-21:00`",
    _optional_text,
    "`service_hours` of the operator file",
    group=OPERATOR,
)
PROVIDER_NAME: Final[Setting[str | None]] = Setting(
    "POSBOT_PROVIDER_NAME",
    None,
    'the acquirer\'s name used in replies (unset: "收单机构")',
    _optional_text,
    "`provider_name` of the operator file",
    group=OPERATOR,
)
HANDOFF_HOURS: Final[Setting[tuple[int, int] | None]] = Setting(
    "POSBOT_HANDOFF_HOURS",
    None,
    "hours of the human agents on working days (holidays and 调休 from the holiday calendar), "
    f"`HH:MM-HH:MM` such as `09:00-18:00`, or `{ALWAYS_OPEN}`; outside them a handoff offers "
    "a message or a call-back slot instead of pausing the bot (docs/handoff.md)",
    _service_window,
    f"`{ALWAYS_OPEN}` (every handoff goes to the agents' queue)",
    group=OPERATOR,
)
HANDOFF_IDLE_MINUTES: Final = Setting(
    "POSBOT_HANDOFF_IDLE_MINUTES",
    30.0,
    "minutes without an agent's reply after which a handed-off conversation goes back to the "
    "bot (checked when the merchant's next message arrives; `0`: never)",
    _minutes,
    "`30`",
    group=OPERATOR,
)
HANDOFF_MINUTES_PER_CONVERSATION: Final = Setting(
    "POSBOT_HANDOFF_MINUTES_PER_CONVERSATION",
    5.0,
    "minutes an agent needs per waiting conversation, for the expected wait when there are "
    "fewer than 3 handoffs closed in the last 7 days to measure it from",
    _positive_minutes,
    "`5`",
    group=OPERATOR,
)
OPERATOR_FILE: Final = Setting(
    "POSBOT_OPERATOR_FILE",
    Path("operator.yml"),
    "YAML file with the operator facts the environment leaves unset (git-ignored; "
    "`operator.example.yml` is the template)",
    _path,
    "`operator.yml`",
    group=OPERATOR,
)
CONTENT_CHECK_SECONDS: Final = Setting(
    "POSBOT_CONTENT_CHECK_SECONDS",
    2.0,
    "how often a serving process asks the content store whether operators edited a reply or "
    "a fact (one cheap query per interval, none per turn; an edit made in the same process is "
    "live at once)",
    _check_seconds,
    "`2`",
    group=OPERATOR,
)
TEST_PG_URL: Final = Setting(
    "POSBOT_TEST_PG_URL",
    PRODUCTION_DB_URL,
    "PostgreSQL server where tests and `make bench` create (and drop) their own databases",
    _database_url,
    f"`{PRODUCTION_DB_URL}`",
    group=TESTS,
    sensitive=True,
)
TEST_REDIS_URL: Final = Setting(
    "POSBOT_TEST_REDIS_URL",
    "redis://127.0.0.1:6379/5",
    "Redis database of the production-profile tests",
    _text,
    "`redis://127.0.0.1:6379/5`",
    group=TESTS,
)
TEST_SHARED_REDIS_URL: Final = Setting(
    "POSBOT_TEST_SHARED_REDIS_URL",
    "redis://127.0.0.1:6379/12",
    "Redis database of the channel state tests",
    _text,
    "`redis://127.0.0.1:6379/12`",
    group=TESTS,
)
TEST_SECURITY_REDIS_URL: Final = Setting(
    "POSBOT_TEST_SECURITY_REDIS_URL",
    "redis://127.0.0.1:6379/13",
    "Redis database of the security tests",
    _text,
    "`redis://127.0.0.1:6379/13`",
    group=TESTS,
)
TIER_PREFIXES: Final[Setting[dict[str, str | list[str]] | None]] = Setting(
    "POSBOT_TIER_PREFIXES",
    None,
    "command prefix per process name (`rasa-2`) or tier (`rasa`, `actions`, `nginx`) for every "
    "process the runtime starts, as a JSON object: how `make bench-net` puts tiers in network "
    "namespaces",
    _tier_prefixes,
    "(none: commands run as they are)",
    group=TESTS,
)

NOTIFY_POLL_SECONDS: Final = Setting(
    "POSBOT_NOTIFY_POLL_SECONDS",
    5.0,
    "seconds between two rounds of the notification worker",
    _positive_number,
    "`5`",
    group=NOTIFY,
)
NOTIFY_MAX_ATTEMPTS: Final = Setting(
    "POSBOT_NOTIFY_MAX_ATTEMPTS",
    5,
    "attempts to send one notification before it is recorded as failed",
    _attempts,
    "`5`",
    group=NOTIFY,
)
NOTIFY_RETRY_SECONDS: Final = Setting(
    "POSBOT_NOTIFY_RETRY_SECONDS",
    30.0,
    "delay before the first retry; each further retry waits twice as long (at most an hour)",
    _positive_number,
    "`30`",
    group=NOTIFY,
)
NOTIFY_MAX_AGE_HOURS: Final = Setting(
    "POSBOT_NOTIFY_MAX_AGE_HOURS",
    72.0,
    "status changes older than this when the worker first sees them are not announced",
    _positive_number,
    "`72`",
    group=NOTIFY,
)
SMS_GATEWAY_URL: Final[Setting[str | None]] = Setting(
    "POSBOT_SMS_GATEWAY_URL",
    None,
    "HTTP endpoint of the SMS gateway (JSON POST, see docs/notifications.md); without it no "
    "SMS is sent or promised",
    _http_url,
    "(none: no SMS)",
    group=NOTIFY,
    sensitive=True,
)
SMS_TEMPLATE: Final = Setting(
    "POSBOT_SMS_TEMPLATE",
    "{text}",
    "text of an SMS: `{text}` (the notification) and optionally `{case_id}`, e.g. "
    "`【收单服务】{text}`",
    _sms_template,
    "`{text}`",
    group=NOTIFY,
)
SMS_TOKEN: Final = Setting(
    "POSBOT_SMS_TOKEN",
    "",
    "bearer token sent to the SMS gateway (`Authorization: Bearer …`)",
    _text,
    "(none)",
    group=NOTIFY,
    sensitive=True,
)

#: Field of :class:`Settings` -> its variable, in documentation order within each group.
SETTINGS: Final[Mapping[str, Setting[Any]]] = {
    "db_url": DB_URL,
    "tracker_url": TRACKER_URL,
    "redis_url": REDIS_URL,
    "holiday_file": HOLIDAY_FILE,
    "response_codes": RESPONSE_CODES,
    "session_secret": SESSION_SECRET,
    "session_route": SESSION_ROUTE,
    "actions_secret": ACTIONS_SECRET,
    "actions_host": ACTIONS_HOST,
    "rate_limit": RATE_LIMIT,
    "trusted_proxies": TRUSTED_PROXIES,
    "agent_tokens": AGENT_TOKENS,
    "operator_tokens": OPERATOR_TOKENS,
    "chat_embed_origins": CHAT_EMBED_ORIGINS,
    "wechat_token": WECHAT_TOKEN,
    "wechat_appid": WECHAT_APPID,
    "wechat_appsecret": WECHAT_APPSECRET,
    "wechat_aes_key": WECHAT_AES_KEY,
    "wechat_api_base": WECHAT_API_BASE,
    "wechat_reply_seconds": WECHAT_REPLY_SECONDS,
    "documents_dir": DOCUMENTS_DIR,
    "documents_max_bytes": DOCUMENTS_MAX_BYTES,
    "documents_max_pixels": DOCUMENTS_MAX_PIXELS,
    "documents_per_conversation": DOCUMENTS_PER_CONVERSATION,
    "hotline": HOTLINE,
    "service_hours": SERVICE_HOURS,
    "provider_name": PROVIDER_NAME,
    "operator_file": OPERATOR_FILE,
    "content_check_seconds": CONTENT_CHECK_SECONDS,
    "handoff_hours": HANDOFF_HOURS,
    "handoff_idle_minutes": HANDOFF_IDLE_MINUTES,
    "handoff_minutes_per_conversation": HANDOFF_MINUTES_PER_CONVERSATION,
    "test_pg_url": TEST_PG_URL,
    "test_redis_url": TEST_REDIS_URL,
    "test_shared_redis_url": TEST_SHARED_REDIS_URL,
    "test_security_redis_url": TEST_SECURITY_REDIS_URL,
    "tier_prefixes": TIER_PREFIXES,
    "notify_poll_seconds": NOTIFY_POLL_SECONDS,
    "notify_max_attempts": NOTIFY_MAX_ATTEMPTS,
    "notify_retry_seconds": NOTIFY_RETRY_SECONDS,
    "notify_max_age_hours": NOTIFY_MAX_AGE_HOURS,
    "sms_gateway_url": SMS_GATEWAY_URL,
    "sms_template": SMS_TEMPLATE,
    "sms_token": SMS_TOKEN,
}


@dataclass(frozen=True)
class Settings:
    """Every setting's value at one moment (see the module constants for their meaning)."""

    db_url: str
    tracker_url: str
    redis_url: str | None = field(repr=False)
    holiday_file: Path
    response_codes: Path
    session_secret: str = field(repr=False)
    session_route: str
    actions_secret: str = field(repr=False)
    actions_host: str
    rate_limit: RateLimit | None
    trusted_proxies: frozenset[str]
    agent_tokens: str = field(repr=False)
    operator_tokens: str = field(repr=False)
    chat_embed_origins: str
    wechat_token: str = field(repr=False)
    wechat_appid: str
    wechat_appsecret: str = field(repr=False)
    wechat_aes_key: str = field(repr=False)
    wechat_api_base: str
    wechat_reply_seconds: float
    documents_dir: Path
    documents_max_bytes: int
    documents_max_pixels: int
    documents_per_conversation: int
    hotline: str | None
    service_hours: str | None
    provider_name: str | None
    operator_file: Path
    content_check_seconds: float
    handoff_hours: tuple[int, int] | None
    handoff_idle_minutes: float
    handoff_minutes_per_conversation: float
    test_pg_url: str = field(repr=False)
    test_redis_url: str
    test_shared_redis_url: str
    test_security_redis_url: str
    tier_prefixes: dict[str, str | list[str]] | None
    notify_poll_seconds: float
    notify_max_attempts: int
    notify_retry_seconds: float
    notify_max_age_hours: float
    sms_gateway_url: str | None = field(repr=False)
    sms_template: str
    sms_token: str = field(repr=False)

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Settings:
        """Every setting from ``environ`` (``os.environ`` by default).

        Raises:
            SettingError: one line per unusable variable.
        """
        values: dict[str, Any] = {}
        problems: list[str] = []
        for name, setting in SETTINGS.items():
            try:
                values[name] = setting.read(environ)
            except SettingError as error:
                problems.append(str(error))
        if problems:
            raise SettingError("\n".join(problems))
        return cls(**values)


def markdown() -> str:
    """``docs/configuration.md``: every setting by group, with its default and meaning."""
    lines = [
        "# Configuration",
        "",
        "<!-- Generated by `python -m bot.settings --markdown > docs/configuration.md` from",
        "     bot/settings.py; tests/bot/test_settings.py fails when the two disagree. -->",
        "",
        "Every setting is an environment variable, read when a process needs it (a change needs",
        "a restart, never retraining). Unset or blank means the default. A value that cannot be",
        "used is an error naming the variable (where the meaning says so, it is logged and left",
        "out instead); values that may hold credentials are never repeated. `python -m",
        "bot.settings` checks the current environment and prints the effective values (secrets",
        "hidden).",
    ]
    for group, text in GROUPS.items():
        lines += [
            "",
            f"## {group}",
            "",
            text,
            "",
            "| variable | default | meaning |",
            "|---|---|---|",
        ]
        for setting in SETTINGS.values():
            if setting.group == group:
                lines.append(f"| `{setting.env}` | {setting.shown_default} | {setting.meaning} |")
    return "\n".join(lines) + "\n"


def describe(settings: Settings, environ: Mapping[str, str] | None = None) -> Iterator[str]:
    """``VARIABLE=value`` lines of the effective settings; sensitive ones show only set/unset."""
    for item in fields(settings):
        setting = SETTINGS[item.name]
        value = getattr(settings, item.name)
        if setting.sensitive:
            shown = "(set)" if setting.raw(environ) is not None else "(default)"
        elif isinstance(value, Path):
            shown = str(value)
        elif isinstance(value, frozenset):
            shown = ",".join(sorted(value))
        else:
            shown = repr(value)
        yield f"{setting.env}={shown}"


def main(argv: Sequence[str] | None = None) -> int:
    """Checks the environment (exit 2 with the problems) or prints the documentation page."""
    parser = argparse.ArgumentParser(prog="python -m bot.settings", description=__doc__)
    parser.add_argument("--markdown", action="store_true", help="print docs/configuration.md")
    args = parser.parse_args(argv)
    if args.markdown:
        sys.stdout.write(markdown())
        return 0
    try:
        settings = Settings.from_env()
    except SettingError as error:
        print(f"posbot: unusable settings:\n{error}", file=sys.stderr)
        return 2
    print("\n".join(describe(settings)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
