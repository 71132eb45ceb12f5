"""Round-trip arithmetic and the Markdown report of ``make bench-net``."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Final

DB_RELAY: Final = "pg"
REDIS_RELAY: Final = "redis"
ROUND_TRIP_TARGET: Final = 6.0
TOP_STATEMENTS: Final = 12
QUERY_WIDTH: Final = 110
# The benchmark's own commands, not the bot's.
OWN_REDIS_COMMANDS: Final = frozenset({"config|resetstat", "info", "config", "ping"})

Counters = Mapping[str, Mapping[str, int]]


def counter_delta(before: Counters, after: Counters) -> dict[str, dict[str, int]]:
    """Per relay and counter, ``after - before``."""
    return {
        relay: {key: value - before.get(relay, {}).get(key, 0) for key, value in fields.items()}
        for relay, fields in after.items()
    }


def per_turn(count: float, turns: int) -> float:
    """``count`` spread over ``turns`` (0 without turns)."""
    return count / turns if turns else 0.0


def slope(xs: Sequence[float], ys: Sequence[float]) -> float | None:
    """Least-squares slope of ``ys`` over ``xs`` (None with fewer than two distinct xs)."""
    if len(set(xs)) < 2:
        return None
    mean_x, mean_y = sum(xs) / len(xs), sum(ys) / len(ys)
    spread = sum((x - mean_x) ** 2 for x in xs)
    return sum((x - mean_x) * (y - mean_y) for x, y in zip(xs, ys, strict=True)) / spread


@dataclass(frozen=True)
class RttResult:
    """The figures of the load at one round-trip time."""

    rtt_ms: float
    turns: int
    errors: int
    p50_ms: float
    p95_ms: float
    turns_per_second: float
    relays: dict[str, dict[str, int]]  # counter deltas over the measured load
    statements: list[tuple[int, str]] = field(default_factory=list)  # pg_stat_statements calls
    redis_commands: dict[str, int] = field(default_factory=dict)  # INFO commandstats calls
    relay_cpu_seconds: float = 0.0  # CPU time of every relay process over the measured load
    clients: dict[str, dict[str, dict[str, int]]] = field(default_factory=dict)  # relay, host
    alone_p50_ms: float | None = None  # one sender: latency without queueing
    alone_p95_ms: float | None = None

    def round_trips(self, relay: str) -> float:
        """Request/response exchanges per turn through ``relay``."""
        return per_turn(self.relays.get(relay, {}).get("round_trips", 0), self.turns)

    def connections(self, relay: str) -> float:
        """New TCP connections per turn through ``relay`` (each one more round trip)."""
        return per_turn(self.relays.get(relay, {}).get("connections", 0), self.turns)

    @property
    def all_round_trips(self) -> float:
        """Round trips per turn on every link, connection handshakes included."""
        return sum(self.round_trips(relay) + self.connections(relay) for relay in self.relays)

    @property
    def store_round_trips(self) -> float:
        """Database and Redis round trips per turn, connection handshakes included."""
        return sum(
            self.round_trips(relay) + self.connections(relay) for relay in (DB_RELAY, REDIS_RELAY)
        )


@dataclass(frozen=True)
class RunInfo:
    """How the figures were taken."""

    date: str
    delay: str  # "tc netem on the switch ports" or why the relays add the delay
    senders: int
    conversations: int
    turns_per_conversation: int
    load_average: str
    command: str


def _query(text: str) -> str:
    single = " ".join(text.split()).replace("|", "\\|")
    return single if len(single) <= QUERY_WIDTH else single[: QUERY_WIDTH - 1] + "…"


def render(info: RunInfo, results: Sequence[RttResult]) -> str:
    """The Markdown report."""
    lines = [
        "# Production profile across simulated hosts (`make bench-net`)",
        "",
        f"{info.date} · `{info.command}` · load average before/after {info.load_average}",
        "",
        "Hosts, each its own network namespace on one veth link to a bridge in its own "
        "namespace: load generator, nginx, 2 Rasa servers, 2 action servers, PostgreSQL "
        "(private instance, case and tracker stores), Redis (private instance, lock store). "
        f"Load: {info.senders} senders back to back, {info.conversations} conversations each "
        f"of the load test's {info.turns_per_conversation} turns (`load/scenario.py`, replies "
        "checked). Latency: " + info.delay + ".",
        "",
        "| RTT ms | 1 sender p50 ms | 1 sender p95 ms | "
        f"{info.senders} senders p50 ms | p95 ms | turns/s | errors | DB round trips/turn | "
        "Redis round trips/turn | DB+Redis/turn (target ≤ 6) |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in results:
        db = r.round_trips(DB_RELAY) + r.connections(DB_RELAY)
        redis = r.round_trips(REDIS_RELAY) + r.connections(REDIS_RELAY)
        met = "yes" if r.store_round_trips <= ROUND_TRIP_TARGET else "NO"
        lines.append(
            f"| {r.rtt_ms:g} | {_ms(r.alone_p50_ms)} | {_ms(r.alone_p95_ms)} | {r.p50_ms:.1f} | "
            f"{r.p95_ms:.1f} | {r.turns_per_second:.1f} | {r.errors} | {db:.2f} | {redis:.2f} | "
            f"{r.store_round_trips:.2f} ({met}) |"
        )
    lines += ["", *_growth(results), "", *_hops(results), "", *_sources(results)]
    return "\n".join(lines) + "\n"


def _ms(value: float | None) -> str:
    return "—" if value is None else f"{value:.1f}"


def _growth(results: Sequence[RttResult]) -> list[str]:
    if len(results) < 2:
        return []
    rtts = [r.rtt_ms for r in results]
    p50 = slope(rtts, [r.p50_ms for r in results])
    p95 = slope(rtts, [r.p95_ms for r in results])
    if p50 is None or p95 is None:
        return []
    alone = [r.alone_p50_ms for r in results]
    alone_slope = None if None in alone else slope(rtts, alone)  # type: ignore[arg-type]
    alone_text = (
        ""
        if alone_slope is None
        else f"With one sender (no queueing) p50 rises {alone_slope:.1f} ms per ms: a turn "
        f"waits for about {alone_slope:.0f} network round trips in sequence. "
    )
    counted = results[0].all_round_trips
    cpu = per_turn(results[0].relay_cpu_seconds * 1000, results[0].turns)
    return [
        f"Growth (least squares over the rows): {alone_text}Under the back-to-back load, p50 "
        f"rises {p50:.1f} ms and p95 {p95:.1f} ms per ms of round-trip time. "
        f"The relays counted {counted:.1f} round trips per turn on all links "
        "together, handshakes of new connections included (client-nginx, nginx-Rasa, "
        "Rasa-nginx-action servers, Rasa and action servers to PostgreSQL and Redis). The "
        f"relays themselves used {cpu:.2f} ms of CPU per turn (RTT {results[0].rtt_ms:g} ms row)."
    ]


def _hops(results: Sequence[RttResult]) -> list[str]:
    first = results[0] if results else None
    if first is None:
        return []
    lines = [
        f"Round trips per turn on every link (RTT {first.rtt_ms:g} ms row; each new connection "
        "is one more round trip, its handshake):",
        "",
        "| link (server side) | round trips/turn | new connections/turn |",
        "|---|---|---|",
    ]
    for relay in sorted(first.relays):
        lines.append(
            f"| {relay} | {first.round_trips(relay):.2f} | {first.connections(relay):.2f} |"
        )
    return lines


def _sources(results: Sequence[RttResult]) -> list[str]:
    first = results[0] if results else None
    if first is None:
        return []
    lines = [
        "Store round trips per turn by client host (handshakes of new connections included):",
        "",
        "| store | client | round trips/turn |",
        "|---|---|---|",
    ]
    for relay in (DB_RELAY, REDIS_RELAY):
        for host, counts in sorted(first.clients.get(relay, {}).items()):
            trips = counts.get("round_trips", 0) + counts.get("connections", 0)
            if trips:
                lines.append(f"| {relay} | {host} | {per_turn(trips, first.turns):.2f} |")
    lines += [
        "",
        f"Where the store round trips come from (RTT {first.rtt_ms:g} ms row, calls per turn; "
        "`pg_stat_statements` counts statements, Redis `INFO commandstats` commands — a "
        "pipeline or a script is one round trip for several):",
        "",
        "| PostgreSQL statement | calls/turn |",
        "|---|---|",
    ]
    for calls, query in first.statements[:TOP_STATEMENTS]:
        lines.append(f"| `{_query(query)}` | {per_turn(calls, first.turns):.2f} |")
    lines += ["", "| Redis command | calls/turn |", "|---|---|"]
    commands = {k: v for k, v in first.redis_commands.items() if k not in OWN_REDIS_COMMANDS}
    for command, calls in sorted(commands.items(), key=lambda item: -item[1]):
        lines.append(f"| {command} | {per_turn(calls, first.turns):.2f} |")
    return lines


def render_skip(reason: str, command: str) -> str:
    """The report when the machine cannot run the simulation."""
    return (
        "# Production profile across simulated hosts (`make bench-net`)\n\n"
        f"Skipped: {reason}.\n\n`{command}` needs root, iproute2 (`ip`, and `tc` with the "
        "netem qdisc for the delay, else its own relays add it), nginx, redis-server, "
        "PostgreSQL's server binaries (/usr/lib/postgresql/*/bin), psql, curl and setpriv.\n"
    )


def parse_commandstats(text: str) -> dict[str, int]:
    """``INFO commandstats`` as ``{command: calls}``."""
    calls = {}
    for line in text.splitlines():
        name, _, values = line.strip().partition(":")
        if not name.startswith("cmdstat_"):
            continue
        fields = dict(item.split("=", 1) for item in values.split(",") if "=" in item)
        calls[name.removeprefix("cmdstat_")] = int(fields.get("calls", 0))
    return calls


def parse_statements(text: str) -> list[tuple[int, str]]:
    """psql's unaligned ``calls<TAB>query`` rows, most calls first."""
    rows = []
    for line in text.splitlines():
        calls, tab, query = line.partition("\t")
        if tab and calls.strip().isdigit():
            rows.append((int(calls), query))
    return sorted(rows, key=lambda row: -row[0])
