"""What the Rasa server sends the action server: the state, and only the recent events.

Rasa 3.6 sends every event of the session with each custom action call
(``tracker.current_state(EventVerbosity.ALL)``): serialised by Rasa, sent, parsed and turned into
a tracker by the action server, on every call, so a turn of a 400-turn conversation cost many
times a turn of a new one. Our actions read the slots, the latest message and the active loop
(sent as before, computed from the whole conversation) and, of the events, only the last few
user turns: the handoff summary the last ``MAX_SUMMARY_TURNS`` (10), the clarification the
previous user message, the case question or cancel request asked before verification. The
call therefore carries the events from the ``action_listen`` before the
:data:`ACTION_HISTORY_USER_TURNS`-th last user message on (the whole session when shorter);
everything else in the payload is unchanged.

The call's JSON is written by orjson (:func:`fast_json_requests`): Rasa's ``json.dumps`` of
the payload, which holds the whole domain (67 kB), was 3 % of the Rasa server's CPU per turn.

Installed by ``python -m bot.cli.rasa_server`` (every profile), like :mod:`bot.speedups`.
"""

from __future__ import annotations

import asyncio
import json
import weakref
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, Final

import orjson

from bot.domain_cache import (
    DIGEST_KEY,
    DOMAIN_KEY,
    DOMAIN_UNKNOWN_ERROR,
    DOMAIN_UNKNOWN_STATUS,
    KEPT_KEY,
    domain_digest,
)
from bot.json_values import json_default

if TYPE_CHECKING:
    import aiohttp

#: User turns whose events each custom action call carries (``actions/handoff.py`` summarises
#: the last 10).
ACTION_HISTORY_USER_TURNS: Final = 10
#: Seconds an idle pooled connection to an endpoint is kept: below the 5 s after which a Sanic
#: server (the action server) closes an idle connection, so that no request goes out on a
#: connection the server is closing.
KEEPALIVE_SECONDS: Final = 2.0
_APPLIED_MARK: Final = "_posbot_recent_events"


def recent_events(events: Sequence[Any], user_turns: int = ACTION_HISTORY_USER_TURNS) -> list[Any]:
    """The events from the ``action_listen`` before the ``user_turns``-th last user message
    (all of them when there are not that many), read from the end."""
    from rasa.shared.core.constants import ACTION_LISTEN_NAME
    from rasa.shared.core.events import ActionExecuted, UserUttered

    tail: list[Any] = []
    users = 0
    for event in reversed(events):
        tail.append(event)
        if (
            users >= user_turns
            and isinstance(event, ActionExecuted)
            and event.action_name == ACTION_LISTEN_NAME
        ):
            break
        if isinstance(event, UserUttered):
            users += 1
    tail.reverse()
    return tail


class _DomainDigests:
    """The Rasa server's side of :mod:`bot.domain_cache`: each domain's digest (computed once
    per domain dictionary: Rasa never changes a loaded domain), the digests an action server
    answered that it keeps, and how many calls still owe their domain to an action server
    that lacked it.

    Behind a balancer, the call sent again with the domain after a 409 goes to the next action
    server, mostly one that has it: the server that answered 409 (a restarted one) would then
    get only digests, and answer 409 to every call it gets. So each 409 makes one later call
    carry the domain too (the balancer's next pick), until a server that lacked it keeps it.
    """

    def __init__(self) -> None:
        self._digests: dict[int, tuple[dict[str, Any], str | None]] = {}
        self.domains: dict[str, dict[str, Any]] = {}
        self.accepted: set[str] = set()
        self.owed = 0

    def carries_domain(self, digest: str | None) -> bool:
        """Whether the next call of the domain with ``digest`` carries the domain."""
        if digest is None or digest not in self.accepted:
            return True
        if self.owed > 0:
            self.owed -= 1
            return True
        return False

    def digest(self, data: dict[str, Any]) -> str | None:
        known = self._digests.get(id(data))
        if known is None or known[0] is not data:
            known = (data, domain_digest(data))
            self._digests = {id(data): known}  # one model's domain at a time
            if known[1] is not None:
                self.domains = {known[1]: data}
        return known[1]


_domain_digests = _DomainDigests()


def send_recent_events() -> None:
    """Makes custom action calls carry :func:`recent_events` instead of every event
    (idempotent)."""
    import rasa
    from rasa.core.actions.action import RemoteAction
    from rasa.shared.core.trackers import DialogueStateTracker, EventVerbosity

    if getattr(RemoteAction._action_call_format, _APPLIED_MARK, False):
        return

    def _action_call_format(
        self: RemoteAction, tracker: DialogueStateTracker, domain: Any
    ) -> dict[str, Any]:
        state = tracker.current_state(EventVerbosity.NONE)
        state["events"] = [event.as_dict() for event in recent_events(tracker.events)]
        result = {
            "next_action": self._name,
            "sender_id": tracker.sender_id,
            "tracker": state,
            "version": rasa.__version__,
        }
        selective = self._is_selective_domain_enabled()
        if not selective or domain.does_custom_action_explicitly_need_domain(self.name()):
            data = domain.as_dict()
            digest = _domain_digests.digest(data)
            if digest is not None:
                result[DIGEST_KEY] = digest
            if _domain_digests.carries_domain(digest):
                result[DOMAIN_KEY] = data
        return result

    setattr(_action_call_format, _APPLIED_MARK, True)
    RemoteAction._action_call_format = _action_call_format


def dumps(value: Any) -> str:
    """JSON of ``value`` as ``json.dumps`` reads it back, written by orjson (``json.dumps``
    itself for what orjson refuses, e.g. integers beyond 64 bits)."""
    try:
        return orjson.dumps(value, default=json_default, option=orjson.OPT_NON_STR_KEYS).decode()
    except TypeError:
        return json.dumps(value, default=json_default)


def _names_unknown_domain(error: Any) -> bool:
    text = error.text
    if isinstance(text, bytes):
        text = text.decode("utf-8", "replace")
    return error.status == DOMAIN_UNKNOWN_STATUS and DOMAIN_UNKNOWN_ERROR in str(text)


def resend_with_domain() -> None:
    """Makes an action call that names its domain by its digest be sent again with the domain
    when the action server answers that it does not know it, and marks the digest accepted
    when an answer says the domain is kept (:mod:`bot.domain_cache`; idempotent)."""
    from rasa.utils import endpoints

    original = endpoints.EndpointConfig.request
    if getattr(original, _APPLIED_MARK, False):
        return

    async def request(self: endpoints.EndpointConfig, *args: Any, **kwargs: Any) -> Any:
        body = kwargs.get("json")
        if not isinstance(body, dict) or not isinstance(body.get(DIGEST_KEY), str):
            return await original(self, *args, **kwargs)
        digest: str = body[DIGEST_KEY]
        try:
            answer = await original(self, *args, **kwargs)
        except endpoints.ClientResponseError as error:
            domain = _domain_digests.domains.get(digest)
            if DOMAIN_KEY in body or domain is None or not _names_unknown_domain(error):
                raise
            kwargs["json"] = {**body, DOMAIN_KEY: domain}
            _domain_digests.owed += 1  # the resend may reach another server (see the class)
            answer = await original(self, *args, **kwargs)
        if isinstance(answer, dict) and answer.get(KEPT_KEY) == digest:
            _domain_digests.accepted.add(digest)  # that action server keeps it
        return answer

    setattr(request, _APPLIED_MARK, True)
    endpoints.EndpointConfig.request = request


#: Per event loop: the connection pool the endpoints' sessions share.
_connectors: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, aiohttp.TCPConnector] = (
    weakref.WeakKeyDictionary()
)


def shared_connector() -> aiohttp.TCPConnector | None:
    """The running loop's pool of connections to the endpoints (None outside a loop).

    Rasa opens a session, and so a new TCP connection (and a name look-up in a worker
    thread), for every action call: a twentieth of the Rasa server's CPU per turn. The pool
    keeps idle connections for :data:`KEEPALIVE_SECONDS` and, like Rasa's sessions, sets no
    limit on connections at once.
    """
    import aiohttp

    try:
        loop = asyncio.get_running_loop()
    except RuntimeError:
        return None
    connector = _connectors.get(loop)
    if connector is None or connector.closed:
        connector = aiohttp.TCPConnector(limit=0, keepalive_timeout=KEEPALIVE_SECONDS)
        _connectors[loop] = connector
    return connector


def fast_json_requests() -> None:
    """Makes the HTTP sessions of Rasa's endpoints (action server, NLG, model server) write
    JSON bodies with :func:`dumps` and share the loop's pool of connections,
    :func:`shared_connector` (idempotent)."""
    import aiohttp
    from rasa.utils import endpoints

    if getattr(endpoints.EndpointConfig.session, _APPLIED_MARK, False):
        return

    def session(self: endpoints.EndpointConfig) -> aiohttp.ClientSession:
        # Rasa's session (EndpointConfig.session), with the JSON writer; closing it (Rasa does
        # after each request) leaves the pooled connections open.
        auth = None
        if self.basic_auth:
            auth = aiohttp.BasicAuth(self.basic_auth["username"], self.basic_auth["password"])
        connector = shared_connector()
        return aiohttp.ClientSession(
            connector=connector,
            connector_owner=connector is None,
            headers=self.headers,
            auth=auth,
            timeout=aiohttp.ClientTimeout(total=endpoints.DEFAULT_REQUEST_TIMEOUT),
            json_serialize=dumps,
        )

    setattr(session, _APPLIED_MARK, True)
    endpoints.EndpointConfig.session = session
