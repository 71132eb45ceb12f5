"""Network round trips per turn on the databases and Redis of the production profile.

``python -m load.round_trips`` starts counting TCP proxies in front of PostgreSQL (one for the
tracker store, one for the case store) and Redis, starts ``posbot prod start`` with its stores
reached through them, runs ``load.run prod --url …`` against it (10 senders back to back by
default) and prints the round trips each proxy saw, per turn.

A round trip is a request of the client answered by the server: every time the client sends
after the server last spoke (or first on a connection), one more is counted. That is what a
managed database in another zone charges for, whatever the driver does (``BEGIN``, pings,
``COMMIT``, ``EVALSHA``).

Run it under ``flock /tmp/posbot-test.lock`` (ports 5510-5522, 5530-5532).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import subprocess
import sys
import threading
from collections import Counter
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Final

from sqlalchemy.engine import make_url

from bot import runtime
from bot.quality.netsim.proxy import Relay
from bot.settings import DB_URL, RATE_LIMIT, REDIS_URL, TEST_PG_URL, TRACKER_URL
from load.journal import read_journal
from load.servers import MODEL, ROOT, fresh_postgres

PG_ADMIN_URL: Final = TEST_PG_URL.default
DATABASE: Final = "posbot_load_round_trips"
LOCK_REDIS_URL: Final = "redis://127.0.0.1:6379/8"
BASE_PORT: Final = 5510
TRACKER_PROXY, CASE_PROXY, REDIS_PROXY = 5530, 5531, 5532
WORK_DIR: Final = Path("var/load/round_trips")


class CountingProxy:
    """The bench-net relay (:class:`bot.quality.netsim.proxy.Relay`, no delay) on
    127.0.0.1:``port`` in this process, naming what each round trip asked for."""

    def __init__(self, port: int, target: tuple[str, int]) -> None:
        # What each round trip started with: the SQL's first words, or the Redis command.
        self.kinds: Counter[str] = Counter()
        self.relay = Relay(f"127.0.0.1:{port}", ("127.0.0.1", port), target, self._name_request)
        self._listener = self.relay.bind()
        threading.Thread(target=self.relay.serve, args=(self._listener,), daemon=True).start()

    def _name_request(self, data: bytes) -> None:
        with self.relay.lock:
            self.kinds[_kind(data)] += 1

    def snapshot(self, reset_kinds: bool = False) -> dict[str, int]:
        """The counts now (the kinds of requests are counted from the last reset)."""
        with self.relay.lock:
            if reset_kinds:
                self.kinds.clear()
            counters = self.relay.counters
            return {
                "round_trips": counters.round_trips,
                "bytes_sent": counters.bytes_up,
                "bytes_received": counters.bytes_down,
                "connections": counters.connections,
            }

    def close(self) -> None:
        """Stops accepting (open connections end with their peers)."""
        self._listener.close()


#: The kind of a request that executes a prepared statement (its text is not in it).
PREPARED: Final = "execute prepared"


def _kind(data: bytes) -> str:
    """A short name for a request: PostgreSQL's simple query text, ``prepare`` and its text
    (extended protocol's Parse), ``execute prepared`` (its Bind), or Redis' command."""
    if data[:1] == b"Q" and len(data) > 5:
        text = data[5:].split(b"\0", 1)[0].decode("utf-8", "replace")
        return " ".join(text.split()[:4])[:60]
    if data[:1] == b"P" and len(data) > 5:  # Parse: statement name, then the query
        fields = data[5:].split(b"\0", 2)
        text = fields[1].decode("utf-8", "replace") if len(fields) > 1 else ""
        return ("prepare " + " ".join(text.split()[:4]))[:60]
    if data[:1] == b"B":
        return PREPARED
    if data[:1] == b"*":
        parts = data.split(b"\r\n")
        if len(parts) > 2:
            return parts[2].decode("ascii", "replace").upper()
    return f"other ({data[:1]!r})"


def _host_port(url: str, default_port: int) -> tuple[str, int]:
    parsed = make_url(url) if "postgres" in url else None
    if parsed is not None:
        return parsed.host or "127.0.0.1", parsed.port or default_port
    netloc = url.split("//", 1)[1].split("/", 1)[0]
    host, _, port = netloc.rpartition(":")
    return host or "127.0.0.1", int(port or default_port)


def _via(url: str, port: int) -> str:
    if url.startswith("redis"):
        scheme, rest = url.split("//", 1)
        return f"{scheme}//127.0.0.1:{port}/{rest.split('/', 1)[1]}"
    return make_url(url).set(host="127.0.0.1", port=port).render_as_string(hide_password=False)


@contextlib.contextmanager
def _proxies(db_url: str, redis_url: str) -> Iterator[dict[str, CountingProxy]]:
    made = {
        "tracker store (PostgreSQL)": CountingProxy(TRACKER_PROXY, _host_port(db_url, 5432)),
        "case store (PostgreSQL)": CountingProxy(CASE_PROXY, _host_port(db_url, 5432)),
        "Redis": CountingProxy(REDIS_PROXY, _host_port(redis_url, 6379)),
    }
    try:
        yield made
    finally:
        for proxy in made.values():
            proxy.close()


def main(argv: Sequence[str] | None = None) -> int:
    """Runs the profile behind counting proxies under load; prints round trips per turn."""
    parser = argparse.ArgumentParser(prog="python -m load.round_trips", description=__doc__)
    parser.add_argument("--users", type=int, default=10)
    parser.add_argument("--run-time", type=int, default=30)
    parser.add_argument("--max-requests", type=int, default=1000)
    parser.add_argument("--think-time", type=float, default=0.0)
    parser.add_argument("--out", type=Path, help="also write the figures here (JSON)")
    args = parser.parse_args(argv)
    os.chdir(ROOT)
    WORK_DIR.mkdir(parents=True, exist_ok=True)
    db_url = fresh_postgres(PG_ADMIN_URL, DATABASE, args.users)
    import redis

    redis.Redis.from_url(LOCK_REDIS_URL).flushdb()
    with _proxies(db_url, LOCK_REDIS_URL) as proxies:
        env_overrides = {
            DB_URL.env: _via(db_url, CASE_PROXY),
            TRACKER_URL.env: _via(db_url, TRACKER_PROXY),
            REDIS_URL.env: _via(LOCK_REDIS_URL, REDIS_PROXY),
        }
        with _profile(env_overrides) as url:
            before = {name: proxy.snapshot(True) for name, proxy in proxies.items()}
            command = [
                sys.executable, "-m", "load.run", "prod", "--url", url,
                "--tracker-db-url", db_url, "--users", str(args.users),
                "--spawn-rate", str(args.users), "--run-time", str(args.run_time),
                "--max-requests", str(args.max_requests), "--think-time", str(args.think_time),
                "--out", str(WORK_DIR / "load.md"),
            ]  # fmt: skip
            subprocess.run(command, cwd=ROOT, env=runtime.bot_environment(), check=False)
            after = {name: proxy.snapshot() for name, proxy in proxies.items()}
    requests = read_journal(Path("var/load/prod/journal.jsonl"))
    turns = len(requests)
    figures: dict[str, object] = {"turns": turns}
    total = 0
    print(f"round trips per turn over {turns} turns ({args.users} senders back to back):")
    for name in proxies:
        delta = {key: after[name][key] - before[name][key] for key in after[name]}
        per_turn = delta["round_trips"] / max(turns, 1)
        total += delta["round_trips"]
        kinds = proxies[name].kinds
        figures[name] = {**delta, "per_turn": round(per_turn, 2), "kinds": dict(kinds)}
        print(
            f"  {name:28} {per_turn:6.2f}  ({delta['round_trips']} round trips, "
            f"{delta['bytes_sent'] / max(turns, 1):.0f} B sent and "
            f"{delta['bytes_received'] / max(turns, 1):.0f} B received per turn, "
            f"{delta['connections']} new connections)"
        )
        for kind, count in kinds.most_common(8):
            print(f"      {count / max(turns, 1):6.2f}  {kind}")
    figures["total_per_turn"] = round(total / max(turns, 1), 2)
    print(f"  {'total':28} {total / max(turns, 1):6.2f}")
    if args.out:
        args.out.write_text(json.dumps(figures, indent=2), encoding="utf-8")
    return 0


@contextlib.contextmanager
def _profile(overrides: dict[str, str]) -> Iterator[str]:
    """``posbot prod start`` with the stores reached through the proxies."""
    env = {**overrides, RATE_LIMIT.env: "off"}
    with runtime.running_prod(WORK_DIR / "state", BASE_PORT, model=MODEL, env=env, cwd=ROOT) as bot:
        yield bot.url


if __name__ == "__main__":
    sys.exit(main())
