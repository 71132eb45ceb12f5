"""The journal the locust scenario writes: one JSON object per request."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Request:
    """One turn sent by a simulated merchant and what came back."""

    sender: str
    turn: str
    message_id: str
    message: str
    status: int
    ok: bool
    problem: str | None
    started_at: float
    seconds: float

    @property
    def answered(self) -> bool:
        """The server sent an HTTP response (0 means no connection or a client timeout)."""
        return self.status > 0


def read_journal(path: Path) -> list[Request]:
    """The requests of one run, in the order they completed."""
    requests = []
    for line in path.read_text(encoding="utf-8").splitlines():
        if not line.strip():
            continue
        record = json.loads(line)
        requests.append(
            Request(
                sender=record["sender"],
                turn=record["turn"],
                message_id=record["message_id"],
                message=record["message"],
                status=int(record["status"] or 0),
                ok=bool(record["ok"]),
                problem=record.get("problem"),
                started_at=float(record["started_at"]),
                seconds=float(record["seconds"]),
            )
        )
    return requests
