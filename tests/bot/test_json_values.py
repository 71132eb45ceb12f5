"""JSON files written whole (``posbot prod status`` read a half-written state file)."""

from __future__ import annotations

import json
import threading
from pathlib import Path

import pytest

from bot.json_values import write_json


def test_readers_see_a_whole_file_while_writers_rewrite_it(tmp_path: Path) -> None:
    path = tmp_path / "processes.json"
    write_json(path, {"n": -1})
    stop = threading.Event()
    torn: list[str] = []

    def write(offset: int) -> None:
        for n in range(offset, 400, 2):
            write_json(path, {"n": n, "padding": "x" * 20_000}, indent=2)

    def read() -> None:
        while not stop.is_set():
            text = path.read_text(encoding="utf-8")
            try:
                json.loads(text)
            except ValueError:
                torn.append(text[-40:])

    readers = [threading.Thread(target=read) for _ in range(2)]
    writers = [threading.Thread(target=write, args=(offset,)) for offset in (0, 1)]
    for thread in readers + writers:
        thread.start()
    for thread in writers:
        thread.join()
    stop.set()
    for thread in readers:
        thread.join()

    assert torn == []
    assert json.loads(path.read_text(encoding="utf-8"))["n"] in (398, 399)
    assert [entry.name for entry in tmp_path.iterdir()] == ["processes.json"]


def test_a_payload_that_cannot_be_written_leaves_the_old_file(tmp_path: Path) -> None:
    path = tmp_path / "processes.json"
    write_json(path, {"n": 1})

    with pytest.raises(TypeError):
        write_json(path, {"n": object()})

    assert json.loads(path.read_text(encoding="utf-8")) == {"n": 1}
    assert [entry.name for entry in tmp_path.iterdir()] == ["processes.json"]
