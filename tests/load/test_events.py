"""The lost/duplicated message check of the load test."""

from __future__ import annotations

from load.events import EventCheck, UserEvent, check_events, user_event
from load.journal import Request


def request(sender: str, number: int, *, status: int = 200, text: str | None = None) -> Request:
    return Request(
        sender=sender,
        turn=f"{number} turn",
        message_id=f"{sender}-{number}",
        message=text or f"message {number}",
        status=status,
        ok=status == 200,
        problem=None,
        started_at=1000.0 + number,
        seconds=0.1,
    )


def held(sender: str, *numbers: int) -> list[UserEvent]:
    return [UserEvent(f"message {n}", f"{sender}-{n}") for n in numbers]


def test_every_message_once_in_order_is_clean():
    sent = [request("a", n) for n in (1, 2, 3)] + [request("b", 1)]
    check = check_events(sent, {"a": held("a", 1, 2, 3), "b": held("b", 1)})
    assert check == EventCheck(2, 4, 0, 4, 0, 0, 0, 0)
    assert check.clean


def test_lost_duplicated_unexpected_and_reordered_messages_are_counted():
    sent = [request("a", n) for n in (1, 2, 3)] + [request("b", n) for n in (1, 2)]
    trackers = {
        "a": [*held("a", 1, 3, 3), UserEvent("not ours", "x-1")],
        "b": held("b", 2, 1),
    }
    check = check_events(sent, trackers)
    assert (check.present_once, check.lost, check.duplicated) == (3, 1, 1)
    assert (check.unexpected, check.out_of_order) == (1, 1)
    assert not check.clean


def test_a_missing_tracker_loses_every_message():
    check = check_events([request("a", 1), request("a", 2)], {})
    assert (check.sent, check.lost, check.present_once) == (2, 2, 0)


def test_an_unanswered_request_may_be_absent_but_not_twice():
    sent = [request("a", 1), request("a", 2, status=0)]
    assert check_events(sent, {"a": held("a", 1)}).clean
    assert check_events(sent, {"a": held("a", 1, 2)}).clean
    assert check_events(sent, {"a": held("a", 1, 2, 2)}).duplicated == 1


def test_without_metadata_messages_are_matched_by_text():
    sent = [request("a", 1, text="你好"), request("a", 2, text="谢谢")]
    trackers = {"a": [UserEvent("你好", None), UserEvent("谢谢", None), UserEvent("谢谢", None)]}
    check = check_events(sent, trackers)
    assert (check.present_once, check.duplicated) == (1, 1)


def test_user_event_reads_rasa_events():
    event = {"event": "user", "text": "你好", "metadata": {"load_turn": "a-1", "model_id": "m"}}
    assert user_event(event) == UserEvent("你好", "a-1")
    assert user_event({"event": "user", "text": "hi"}) == UserEvent("hi", None)
    assert user_event({"event": "bot", "text": "您好"}) is None
