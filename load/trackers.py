"""Reads the user messages of the load run's conversations back from the bot.

Either over Rasa's HTTP API (``GET /conversations/{sender}/tracker``, needs ``--enable-api``;
the way into the default profile's tracker store) or straight from the
``events`` table of Rasa's SQL tracker store (the production profile).
"""

from __future__ import annotations

import json
import urllib.parse
import urllib.request
from collections import defaultdict
from collections.abc import Iterable

import sqlalchemy as sa

from load.events import UserEvent, user_event

EVENTS_TABLE = sa.table(
    "events",
    sa.column("id", sa.Integer),
    sa.column("sender_id", sa.String),
    sa.column("type_name", sa.String),
    sa.column("data", sa.Text),
)
API_TIMEOUT_SECONDS = 30
#: The REST channel keeps its conversations under this prefix (bot.channels.sessions).
REST_PREFIX = "rest:"


def api_user_events(
    base_url: str, token: str, senders: Iterable[str]
) -> dict[str, list[UserEvent]]:
    """The user messages of each sender's tracker, via the Rasa server's HTTP API."""
    trackers: dict[str, list[UserEvent]] = {}
    for sender in senders:
        query = urllib.parse.urlencode({"token": token, "include_events": "ALL"})
        # The colon stays as it is: Rasa does not unquote the conversation id of the route.
        conversation = urllib.parse.quote(REST_PREFIX + sender, safe=":")
        url = f"{base_url}/conversations/{conversation}/tracker?{query}"
        with urllib.request.urlopen(url, timeout=API_TIMEOUT_SECONDS) as response:
            tracker = json.loads(response.read().decode("utf-8"))
        events = (user_event(event) for event in tracker.get("events") or ())
        trackers[sender] = [event for event in events if event is not None]
    return trackers


def sql_user_events(db_url: str, sender_prefix: str) -> dict[str, list[UserEvent]]:
    """The user messages of every REST sender starting with ``sender_prefix`` (keyed by the
    sender the client sent), from the SQL store."""
    engine = sa.create_engine(db_url, future=True)
    query = (
        sa.select(EVENTS_TABLE.c.sender_id, EVENTS_TABLE.c.data)
        .where(EVENTS_TABLE.c.type_name == "user")
        .where(EVENTS_TABLE.c.sender_id.startswith(REST_PREFIX + sender_prefix, autoescape=True))
        .order_by(EVENTS_TABLE.c.id)
    )
    trackers: dict[str, list[UserEvent]] = defaultdict(list)
    try:
        with engine.connect() as connection:
            for sender, data in connection.execute(query):
                event = user_event(json.loads(data))
                if event is not None:
                    trackers[sender.removeprefix(REST_PREFIX)].append(event)
    finally:
        engine.dispose()
    return dict(trackers)
