"""`make bench`: speed, memory and scale figures (a benchmark, not a test).

Writes reports/bench/summary.md, bench.json and latency.png. Bounded: a fixed number of
parses, conversations and rows; every server it starts is on 127.0.0.1 and stopped at the end.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, Final

from bot.cli.serve import action_server_command, bot_environment, wait_until_ready
from bot.store.database import CaseStore

MODEL: Final = Path("models/posbot.tar.gz")
CONCURRENCY: Final = (1, 10, 50)
TURNS_PER_CONVERSATION: Final = ("你好", "我的pos机为什么被停用", "898310058121234", "5678",
                                 "查一下进度", "谢谢")  # fmt: skip
PG_ADMIN_URL: Final = os.environ.get(
    "POSBOT_TEST_PG_URL", "postgresql://postgres@127.0.0.1:5432/test"
)


def percentiles(values: Sequence[float]) -> dict[str, float]:
    """p50/p95/p99 in milliseconds."""
    ordered = sorted(values)

    def pick(q: float) -> float:
        return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))] * 1000

    return {"p50": pick(0.50), "p95": pick(0.95), "p99": pick(0.99), "n": len(ordered)}


def bench_parse(texts: Sequence[str]) -> dict[str, float]:
    """NLU parse latency in process."""
    from rasa.core.agent import Agent

    agent = Agent.load(str(MODEL))

    async def run() -> list[float]:
        for text in texts[:20]:
            await agent.parse_message(text)  # warm-up
        timings = []
        for text in texts:
            started = time.perf_counter()
            await agent.parse_message(text)
            timings.append(time.perf_counter() - started)
        return timings

    return percentiles(asyncio.run(run()))


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


async def _conversation(session: Any, url: str, sender: str, timings: list[float]) -> None:
    for text in TURNS_PER_CONVERSATION:
        started = time.perf_counter()
        async with session.post(url, json={"sender": sender, "message": text}) as response:
            await response.read()
            if response.status != 200:
                raise RuntimeError(f"HTTP {response.status}")
        timings.append(time.perf_counter() - started)


async def _load(url: str, concurrency: int, conversations: int) -> dict[str, float]:
    import aiohttp

    timings: list[float] = []
    semaphore = asyncio.Semaphore(concurrency)

    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=120)) as session:

        async def one(index: int) -> None:
            async with semaphore:
                await _conversation(session, url, f"bench-{concurrency}-{index}", timings)

        started = time.perf_counter()
        await asyncio.gather(*(one(i) for i in range(conversations)))
        elapsed = time.perf_counter() - started
    return {**percentiles(timings), "turns_per_second": len(timings) / elapsed}


def bench_server(workdir: Path) -> dict[str, Any]:
    """Cold start, full REST turns at several concurrencies, RSS after load."""
    from bot.store.seed import seed_demo_data

    store = CaseStore(f"sqlite:///{workdir / 'bench.db'}")
    store.create_schema()
    seed_demo_data(store)
    actions_port, rasa_port = _free_port(), _free_port()
    endpoints = workdir / "endpoints.yml"
    endpoints.write_text(f'action_endpoint:\n  url: "http://127.0.0.1:{actions_port}/webhook"\n')
    env = {**bot_environment(), "POSBOT_DB_URL": store.url}
    log = (workdir / "servers.log").open("w")
    actions = subprocess.Popen(action_server_command(actions_port), env=env, stdout=log,
                               stderr=subprocess.STDOUT)  # fmt: skip
    started = time.monotonic()
    rasa = subprocess.Popen(
        [str(Path(sys.executable).with_name("rasa")), "run", "--model", str(MODEL), "--port",
         str(rasa_port), "--credentials", "credentials.yml", "--endpoints", str(endpoints)],
        env=env, stdout=log, stderr=subprocess.STDOUT,
    )  # fmt: skip
    url = f"http://127.0.0.1:{rasa_port}/webhooks/rest/webhook"
    try:
        if not wait_until_ready(f"http://127.0.0.1:{actions_port}/health", actions, 90):
            raise RuntimeError("action server did not start")
        if not wait_until_ready(f"http://127.0.0.1:{rasa_port}/", rasa, 180):
            raise RuntimeError("rasa server did not start")
        import urllib.request

        request = urllib.request.Request(
            url, data=json.dumps({"sender": "cold", "message": "你好"}).encode(),
            headers={"Content-Type": "application/json"},
        )  # fmt: skip
        with urllib.request.urlopen(request, timeout=60) as response:
            response.read()
        cold_start = time.monotonic() - started
        results: dict[str, Any] = {"cold_start_seconds": cold_start, "turns": {}}
        for concurrency in CONCURRENCY:
            conversations = max(10, concurrency * 2)
            results["turns"][str(concurrency)] = asyncio.run(_load(url, concurrency, conversations))
        results["rasa_rss_mb"] = _rss_mb(rasa.pid)
        results["actions_rss_mb"] = _rss_mb(actions.pid)
        return results
    finally:
        for process in (rasa, actions):
            process.terminate()
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                process.kill()
        log.close()
        store.dispose()


def bench_training(workdir: Path) -> dict[str, float]:
    """Training from scratch (empty cache) and again with nothing changed."""
    rasa = str(Path(sys.executable).with_name("rasa"))
    env = {**bot_environment(), "HOME": str(workdir)}
    cache = workdir / "cache"
    timings = {}
    for label in ("from_scratch", "nothing_changed"):
        started = time.monotonic()
        subprocess.run(
            [rasa, "train", "--out", str(workdir / "models"), "--fixed-model-name", "bench"],
            check=True, env={**env, "RASA_CACHE_DIRECTORY": str(cache)},
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )  # fmt: skip
        timings[f"{label}_seconds"] = time.monotonic() - started
    return timings


def _generate_cases(store: CaseStore, count: int) -> None:
    from sqlalchemy import insert

    from bot.store.models import Case, Merchant, Terminal

    rng = random.Random(count)
    base = datetime(2026, 1, 1)
    statuses = ("submitted", "under_review", "needs_documents", "approved", "rejected")
    batch = 20_000
    with store.engine.begin() as connection:
        for start in range(0, count, batch):
            size = min(batch, count - start)
            merchants, terminals, cases = [], [], []
            for i in range(start, start + size):
                merchant_id = f"8{i:014d}"
                terminal_id = f"{i:08d}"
                merchants.append({"merchant_id": merchant_id, "name": f"商户{i}",
                                  "registered_phone": f"138{i % 100000000:08d}"})  # fmt: skip
                terminals.append({"terminal_id": terminal_id, "merchant_id": merchant_id})
                submitted = base + timedelta(minutes=i)
                cases.append({
                    "case_id": f"JC{submitted:%Y%m%d}{i % 10000:04d}",
                    "merchant_id": merchant_id, "terminal_id": terminal_id,
                    "status": rng.choice(statuses), "submitted_at": submitted,
                    "updated_at": submitted, "rejection_reason": "", "missing_documents": "",
                    "source": "import",
                })  # fmt: skip
            connection.execute(insert(Merchant), merchants)
            connection.execute(insert(Terminal), terminals)
            connection.execute(insert(Case), cases)


def bench_lookup(workdir: Path, sizes: Sequence[int]) -> dict[str, dict[str, Any]]:
    """Case look-up latency (the bot's verified-merchant query) by store size."""
    from sqlalchemy import create_engine, text

    from bot.services.cases import lookup_for_merchant
    from bot.workdays import WorkdayCalendar

    calendar = WorkdayCalendar()
    results: dict[str, dict[str, Any]] = {}
    for backend in ("sqlite", "postgresql"):
        for size in sizes:
            admin = None
            if backend == "sqlite":
                url = f"sqlite:///{workdir / f'lookup-{size}.db'}"
            else:
                admin = create_engine(PG_ADMIN_URL, future=True, isolation_level="AUTOCOMMIT")
                name = f"posbot_bench_{size}_{os.getpid()}"
                try:
                    with admin.connect() as connection:
                        connection.execute(text(f'DROP DATABASE IF EXISTS "{name}"'))
                        connection.execute(text(f'CREATE DATABASE "{name}"'))
                except Exception as error:
                    results[f"{backend}/{size}"] = {"error": str(error).splitlines()[0]}
                    admin.dispose()
                    continue
                url = PG_ADMIN_URL.rsplit("/", 1)[0] + f"/{name}"
            store = CaseStore(url)
            store.create_schema()
            _generate_cases(store, size)
            if backend == "postgresql":
                with store.engine.begin() as connection:
                    connection.execute(text("ANALYZE"))
            rng = random.Random(7)
            timings = []
            today = datetime(2026, 11, 26).date()
            for _ in range(500):
                merchant_id = f"8{rng.randrange(size):014d}"
                started = time.perf_counter()
                with store.session() as session:
                    lookup_for_merchant(session, merchant_id=merchant_id, calendar=calendar,
                                        today=today)  # fmt: skip
                timings.append(time.perf_counter() - started)
            results[f"{backend}/{size}"] = percentiles(timings)
            store.dispose()
            if admin is not None:
                with admin.connect() as connection:
                    connection.execute(text(f'DROP DATABASE "{name}" WITH (FORCE)'))
                admin.dispose()
    return results


TARGETS: Final = (
    ("parse p95 (ms)", lambda r: r["parse"]["p95"], 15, "<="),
    ("turn p95 at 10 concurrent (ms)", lambda r: r["server"]["turns"]["10"]["p95"], 60, "<="),
    ("turns/s, one Rasa process (best)",
     lambda r: max(t["turns_per_second"] for t in r["server"]["turns"].values()), 40, ">="),
    ("Rasa RSS after load (MB)", lambda r: r["server"]["rasa_rss_mb"], 1024, "<="),
    ("training from scratch (s)", lambda r: r["training"]["from_scratch_seconds"], 300, "<="),
    ("cold start to first answer (s)", lambda r: r["server"]["cold_start_seconds"], 20, "<="),
    ("case look-up p95 at 10^6, SQLite (ms)",
     lambda r: r["lookup"].get("sqlite/1000000", {}).get("p95"), 2, "<="),
    ("case look-up p95 at 10^6, PostgreSQL (ms)",
     lambda r: r["lookup"].get("postgresql/1000000", {}).get("p95"), 2, "<="),
)  # fmt: skip


def write_report(results: dict[str, Any], out: Path) -> None:
    """summary.md (figures against targets), bench.json and latency.png."""
    out.mkdir(parents=True, exist_ok=True)
    (out / "bench.json").write_text(json.dumps(results, indent=2))
    lines = ["# Benchmark", "", f"Machine: {os.cpu_count()} cores · {results['when']}", "",
             "| figure | measured | target | met |", "|---|---|---|---|"]  # fmt: skip
    for title, get, target, direction in TARGETS:
        try:
            value = get(results)
        except (KeyError, TypeError, ValueError):
            value = None
        if value is None:
            lines.append(f"| {title} | — | {direction} {target} | — |")
            continue
        met = value <= target if direction == "<=" else value >= target
        lines.append(f"| {title} | {value:.1f} | {direction} {target} | {'yes' if met else 'NO'} |")
    lines += ["", "| concurrency | p50 ms | p95 ms | p99 ms | turns/s |", "|---|---|---|---|---|"]
    for concurrency, figures in results.get("server", {}).get("turns", {}).items():
        lines.append(f"| {concurrency} | {figures['p50']:.1f} | {figures['p95']:.1f} | "
                     f"{figures['p99']:.1f} | {figures['turns_per_second']:.1f} |")  # fmt: skip
    lines += ["", "| store / cases | p50 ms | p95 ms | p99 ms |", "|---|---|---|---|"]
    for key, figures in results.get("lookup", {}).items():
        if "error" in figures:
            lines.append(f"| {key} | {figures['error']} | | |")
        else:
            lines.append(f"| {key} | {figures['p50']:.2f} | {figures['p95']:.2f} | "
                         f"{figures['p99']:.2f} |")  # fmt: skip
    (out / "summary.md").write_text("\n".join(lines) + "\n", encoding="utf-8")
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        turns = results["server"]["turns"]
        figure, axis = plt.subplots(figsize=(7, 4))
        for quantile in ("p50", "p95", "p99"):
            axis.plot([int(c) for c in turns], [turns[c][quantile] for c in turns], marker="o",
                      label=quantile)  # fmt: skip
        axis.set_xlabel("concurrent conversations")
        axis.set_ylabel("REST turn latency (ms)")
        axis.legend()
        figure.tight_layout()
        figure.savefig(out / "latency.png", dpi=110)
        plt.close(figure)
    except (ImportError, KeyError):
        pass


def main(argv: Sequence[str] | None = None) -> int:
    """Command line of ``make bench``."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default="reports/bench")
    parser.add_argument("--sizes", default="1000,100000,1000000")
    parser.add_argument("--skip-training", action="store_true")
    args = parser.parse_args(argv)
    from bot.quality.evaluate import load_examples

    texts = [e.text for e in load_examples(Path("tests/nlu/test_nlu.yml"))]
    results: dict[str, Any] = {"when": datetime.now().isoformat(timespec="seconds")}
    with tempfile.TemporaryDirectory(prefix="posbot-bench-") as scratch:
        workdir = Path(scratch)
        results["parse"] = bench_parse(texts)
        print(f"parse: {results['parse']}", flush=True)
        results["server"] = bench_server(workdir)
        print(f"server: {results['server']}", flush=True)
        sizes = [int(s) for s in args.sizes.split(",") if s]
        results["lookup"] = bench_lookup(workdir, sizes)
        print(f"lookup: {results['lookup']}", flush=True)
        if not args.skip_training:
            results["training"] = bench_training(workdir)
            print(f"training: {results['training']}", flush=True)
    write_report(results, Path(args.out))
    print((Path(args.out) / "summary.md").read_text(encoding="utf-8"))
    return 0


if __name__ == "__main__":
    sys.exit(main())
