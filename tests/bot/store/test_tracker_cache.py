"""The tracker store's per-process cache: session cuts, bounds, replacement only when unchanged."""

from __future__ import annotations

from bot.store.tracker_cache import EMPTY, SessionEntry, StoredRow, TrackerCache


def _rows(*specs: tuple[int, str]) -> list[StoredRow]:
    return [StoredRow(row_id, kind, f'{{"n":{row_id}}}') for row_id, kind in specs]


def test_rows_after_the_last_session_start_make_the_entry() -> None:
    entry = SessionEntry.from_rows(
        _rows(
            (1, "action"), (2, "session_started"), (3, "user"), (4, "session_started"), (5, "bot")
        )
    )

    assert (entry.first_id, entry.last_id, entry.count) == (4, 5, 2)
    assert entry.data == ('{"n":4}', '{"n":5}')


def test_without_a_session_start_every_row_counts_and_new_rows_are_appended() -> None:
    entry = SessionEntry.from_rows(_rows((7, "action"), (9, "user")))
    longer = entry.extended(_rows((12, "bot"), (13, "action")))

    assert (longer.first_id, longer.last_id, longer.count) == (7, 13, 4)
    assert entry.count == 2  # entries never change
    assert entry.extended([]) is entry


def test_a_new_session_among_new_rows_starts_the_entry_again() -> None:
    entry = SessionEntry.from_rows(_rows((1, "action"), (2, "user")))
    after = entry.extended(_rows((3, "bot"), (4, "session_started"), (5, "action")))

    assert (after.first_id, after.last_id, after.count) == (4, 5, 2)


def test_nothing_stored_is_the_empty_entry_and_seen_marks_a_copy() -> None:
    assert SessionEntry.from_rows([]) is EMPTY and EMPTY.is_empty
    seen = EMPTY.seen("hold-1")

    assert seen.seen_in == "hold-1" and EMPTY.seen_in is None
    assert seen.seen("hold-1") is seen


def test_the_cache_is_bounded_by_events_least_recently_used_first() -> None:
    cache = TrackerCache(max_events=5, max_entries=10)
    cache.put("a", SessionEntry.from_rows(_rows((1, "user"), (2, "bot"))))
    cache.put("b", SessionEntry.from_rows(_rows((3, "user"), (4, "bot"))))
    assert cache.get("a") is not None  # a is now the most recently used
    cache.put("c", SessionEntry.from_rows(_rows((5, "user"), (6, "bot"))))

    assert cache.peek("b") is None and cache.peek("a") is not None
    assert cache.events == 4 and len(cache) == 2


def test_the_cache_is_bounded_by_conversations() -> None:
    cache = TrackerCache(max_events=100, max_entries=2)
    for sender in ("a", "b", "c"):
        cache.put(sender, EMPTY)

    assert [cache.peek(s) is not None for s in ("a", "b", "c")] == [False, True, True]


def test_an_entry_changed_meanwhile_is_not_overwritten_but_dropped() -> None:
    cache = TrackerCache()
    first = SessionEntry.from_rows(_rows((1, "user")))
    cache.put("a", first)
    second = first.extended(_rows((2, "bot")))

    assert cache.replace("a", first, second) and cache.peek("a") is second
    assert not cache.replace("a", first, first.extended(_rows((3, "bot"))))
    assert cache.peek("a") is None and cache.events == 0
