"""``python -m load.bench_nlg`` (``make bench``): turn latency with the content store's NLG
against without it, on the single process of ``make run``, under the load script of
:mod:`load.bench`.

Two bots run side by side, each a Rasa server and an action server with its own fresh SQLite
case store: *without* generates replies with ``bot.nlg.OperatorFactsNLG`` (domain.yml texts,
operator facts from the environment: main before issue 14), *with* with ``bot.nlg.ContentNLG``
(the content store, a few texts and a fact edited so the overrides are applied). Rounds of
the same load alternate between them, so a busy machine slows both alike. With
``--with-callback`` a third bot generates through ``bot.nlg.SlimCallbackNLG`` posting to the
*with* bot's ``/ops/content/nlg`` (the HTTP endpoint). Writes ``reports/bench/nlg.md`` and
``nlg.json``; exit code 1 when a turn failed or p95 with the NLG is more than 10 % above.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import sys
from collections.abc import Iterator, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any, Final

from bot import runtime
from bot.clock import china_now
from bot.settings import ACTIONS_SECRET, HOTLINE
from bot.store.content import FACT, RESPONSE, ContentRepository
from bot.store.database import CaseStore
from load.bench.script import load
from load.merchants import load_merchants
from load.servers import DB_URL_ENV, MODEL, RATE_LIMIT_ENV, ROOT, fresh_sqlite
from load.stats import percentile

WORK_DIR: Final = Path("var/bench-nlg")
WEBHOOK: Final = "/webhooks/rest/webhook"
WITHOUT: Final = "without"
WITH: Final = "with"
CALLBACK: Final = "callback"
NLG_TYPES: Final = {
    WITHOUT: "bot.nlg.OperatorFactsNLG",
    WITH: "bot.nlg.ContentNLG",
    CALLBACK: "bot.nlg.SlimCallbackNLG",
}
TITLES: Final = {
    WITHOUT: "without (OperatorFactsNLG: domain.yml texts)",
    WITH: "with (ContentNLG: content store, cached in the process)",
    CALLBACK: "slim HTTP callback (SlimCallbackNLG → /ops/content/nlg)",
}
#: Texts the *with* bot serves edited (the load script's conversation meets them).
EDITS: Final = (
    (
        RESPONSE,
        "utter_greet",
        "您好！我是POS机解除停用助手，可以查停用原因、讲流程和材料、查进度、提交申请。",
    ),
    (
        RESPONSE,
        "utter_review_time",
        "审核一般需要 3-7 个工作日（节假日和调休按日历计算），可随时在这里查进度。",
    ),
    (FACT, "hotline", "95000"),
)
SENDERS: Final = 10
ROUNDS: Final = 8
#: Conversations per sender in a round.
REPEATS: Final = 2
WARM_UP_SENDERS: Final = 4
MAX_P95_RATIO: Final = 1.10
EXIT_OK: Final = 0
EXIT_FAILED: Final = 1


def build_parser() -> argparse.ArgumentParser:
    """The command line of ``python -m load.bench_nlg``."""
    parser = argparse.ArgumentParser(
        prog="python -m load.bench_nlg", description=__doc__.splitlines()[0]
    )
    parser.add_argument("--out", type=Path, default=Path("reports/bench"))
    parser.add_argument("--senders", type=int, default=SENDERS)
    parser.add_argument("--rounds", type=int, default=ROUNDS, help="alternating rounds per bot")
    parser.add_argument("--with-callback", action="store_true", help="also the HTTP callback")
    return parser


def _edit(url: str) -> None:
    store = CaseStore(url)
    try:
        with store.session() as session:
            repository = ContentRepository(session)
            for kind, name, text in EDITS:
                repository.change(kind, name, text, "bench", china_now())
    finally:
        store.dispose()


@contextlib.contextmanager
def _bot(
    name: str, workdir: Path, merchants: int, nlg: dict[str, Any], port: int | None = None
) -> Iterator[str]:
    """One single-process bot (in-memory trackers, fresh SQLite case store)."""
    directory = workdir / name
    directory.mkdir(parents=True, exist_ok=True)
    case_db = fresh_sqlite((directory / "cases.db").resolve(), merchants)
    if name == WITH:
        _edit(case_db)
    env = {DB_URL_ENV: case_db, RATE_LIMIT_ENV: "off", HOTLINE.env: "95000"}
    with runtime.running_bot(
        MODEL, env=env, workdir=directory, cwd=ROOT, endpoints={"nlg": nlg}, port=port
    ) as bot:
        yield bot.url


def figures(seconds: Sequence[float], errors: int) -> dict[str, float]:
    """Turns, p50/p95/p99 in ms, errors."""
    return {
        "turns": len(seconds),
        "p50_ms": percentile(seconds, 50) * 1000 if seconds else 0.0,
        "p95_ms": percentile(seconds, 95) * 1000 if seconds else 0.0,
        "p99_ms": percentile(seconds, 99) * 1000 if seconds else 0.0,
        "errors": errors,
    }


def render(results: dict[str, Any]) -> str:
    """``reports/bench/nlg.md``."""
    rows = "\n".join(
        f"| {TITLES[name]} | {f['turns']} | {f['p50_ms']:.1f} | {f['p95_ms']:.1f} | "
        f"{f['p99_ms']:.1f} | {f['errors']} |"
        for name, f in results["variants"].items()
    )
    ratio = results["p95_ratio"]
    verdict = "within" if ratio <= MAX_P95_RATIO else "NOT within"
    callback = results.get("callback_p95_ratio")
    return f"""# Content store NLG: turn latency with and without

<!-- Written by `python -m load.bench_nlg` (`make bench`); do not edit by hand. -->

{results["date"]} · commit {results["commit"]} · {results["cores"]} cores · load average
{results["load_before"]} before, {results["load_after"]} after.

Single process of `make run` (one Rasa server, one action server, in-memory trackers, SQLite
case store), {results["senders"]} senders at once running the load script of `load/bench`
(the same conversation as `make bench`), {results["rounds"]} rounds alternating between the
bots so that machine noise hits both alike.

| generator | turns | p50 ms | p95 ms | p99 ms | errors |
|---|---:|---:|---:|---:|---:|
{rows}

p95 with / without: **{ratio:.3f}** ({verdict} the 10 % budget).
{"" if callback is None else f"p95 slim HTTP callback / without: **{callback:.3f}**."}
"""


def _commit() -> str:
    head = ROOT / ".git"
    try:
        import subprocess

        return subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True,
            check=True,
        ).stdout.strip() if head.exists() else "unknown"  # fmt: skip
    except (OSError, subprocess.CalledProcessError):
        return "unknown"


def main(argv: Sequence[str] | None = None) -> int:
    """Runs the comparison and writes ``nlg.md`` / ``nlg.json``."""
    args = build_parser().parse_args(list(sys.argv[1:] if argv is None else argv))
    os.chdir(ROOT)
    if not Path(MODEL).exists():
        print(f"bench-nlg: no trained model at {MODEL}; run `make bench` (it trains first)")
        return EXIT_FAILED
    merchants = load_merchants(args.senders)
    results: dict[str, Any] = {
        "date": datetime.now().astimezone().isoformat(timespec="seconds"),
        "commit": _commit(),
        "cores": os.cpu_count(),
        "load_before": f"{os.getloadavg()[0]:.1f}",
        "senders": args.senders,
        "rounds": args.rounds,
    }
    names = [WITHOUT, WITH] + ([CALLBACK] if args.with_callback else [])
    seconds: dict[str, list[float]] = {name: [] for name in names}
    errors: dict[str, int] = dict.fromkeys(names, 0)
    problems: list[str] = []
    with_port = runtime.free_port()
    with contextlib.ExitStack() as stack:
        urls = {}
        for name in names:
            nlg: dict[str, Any] = {"type": NLG_TYPES[name]}
            if name == CALLBACK:
                nlg["url"] = f"http://127.0.0.1:{with_port}/ops/content/nlg"
                nlg["headers"] = {"Authorization": "Bearer ${" + ACTIONS_SECRET.env + "}"}
            print(f"bench-nlg: starting {TITLES[name]}", flush=True)
            urls[name] = stack.enter_context(
                _bot(name, WORK_DIR, args.senders, nlg, with_port if name == WITH else None)
            )
        for name in names:
            asyncio.run(load(urls[name] + WEBHOOK, merchants[:WARM_UP_SENDERS], 1, f"{name}-warm"))
        for number in range(args.rounds):
            order = names if number % 2 == 0 else list(reversed(names))
            for name in order:
                run = asyncio.run(
                    load(urls[name] + WEBHOOK, merchants, REPEATS, f"{name}-{number}")
                )
                seconds[name].extend(turn.seconds for turn in run.turns)
                errors[name] += run.errors
                problems.extend(run.problems)
                print(
                    f"bench-nlg: round {number + 1} {name}: {len(run.turns)} turns, p95 "
                    f"{percentile([t.seconds for t in run.turns], 95) * 1000:.0f} ms",
                    flush=True,
                )
    results["load_after"] = f"{os.getloadavg()[0]:.1f}"
    results["variants"] = {name: figures(seconds[name], errors[name]) for name in names}
    without_p95 = results["variants"][WITHOUT]["p95_ms"] or 1.0
    results["p95_ratio"] = results["variants"][WITH]["p95_ms"] / without_p95
    if CALLBACK in names:
        results["callback_p95_ratio"] = results["variants"][CALLBACK]["p95_ms"] / without_p95
    results["problems"] = problems[:5]
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "nlg.json").write_text(json.dumps(results, indent=2), encoding="utf-8")
    (args.out / "nlg.md").write_text(render(results), encoding="utf-8")
    print(
        f"bench-nlg: p95 with/without {results['p95_ratio']:.3f} -> {args.out / 'nlg.md'}",
        flush=True,
    )
    failed = any(errors.values()) or results["p95_ratio"] > MAX_P95_RATIO
    return EXIT_FAILED if failed else EXIT_OK


if __name__ == "__main__":
    sys.exit(main())
