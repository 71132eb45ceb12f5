"""Starts the tiers of the production profile, each in its own host's namespace.

Every server listens on its namespace's loopback, as in ``posbot prod start``; a relay
(:mod:`.proxy`) on the host's address is the only way in from other hosts. The commands,
environment and configuration files are those of the production profile
(:func:`bot.prod.supervisor.children`, :mod:`bot.prod.config_files`); only the addresses the
clients dial change: nginx's upstreams, the Rasa servers' action endpoint, the store URLs.
"""

from __future__ import annotations

import glob
import json
import os
import pwd
import signal
import subprocess
import sys
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Final, TextIO

import yaml

from bot.prod.config_files import endpoints, write_config_files
from bot.prod.settings import HOST, ProdSettings
from bot.prod.supervisor import Child, children
from bot.quality.netsim.topology import NGINX, POSTGRES, REDIS, Topology, exec_in
from bot.server_secrets import action_endpoint

PG_PORT: Final = 5432
REDIS_PORT: Final = 6379
DATABASE: Final = "posbot"
PG_USER: Final = "postgres"
READY_SECONDS: Final = {"actions": 120.0, "rasa": 300.0, "nginx": 20.0, "store": 60.0}
STOP_SECONDS: Final = 20
POLL_SECONDS: Final = 0.5
PROXY_MODULE: Final = "bot.quality.netsim.proxy"


def find_postgres_bin(tool: str) -> str | None:
    """Debian's PostgreSQL server binaries (newest version), e.g. ``initdb``, if installed."""
    found = sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{tool}"))
    return found[-1] if found else None


def postgres_bin(tool: str) -> str:
    """Like :func:`find_postgres_bin`; the skip check has made sure it is installed."""
    path = find_postgres_bin(tool)
    if path is None:
        raise RuntimeError(f"PostgreSQL server binary {tool} not found under /usr/lib/postgresql")
    return path


def store_urls(topology: Topology) -> tuple[str, str]:
    """The PostgreSQL and Redis URLs the other hosts dial."""
    pg = topology.host(POSTGRES).address
    redis = topology.host(REDIS).address
    return (f"postgresql://{PG_USER}@{pg}:{PG_PORT}/{DATABASE}", f"redis://{redis}:{REDIS_PORT}/0")


def host_of(child_name: str) -> str:
    """The host of a profile process: ``actions-1`` -> ``act1``, ``rasa-2`` -> ``rasa2``."""
    kind, _, number = child_name.partition("-")
    return {"actions": f"act{number}", "rasa": f"rasa{number}", "nginx": NGINX}[kind]


def relay_links(topology: Topology, settings: ProdSettings) -> dict[str, list[str]]:
    """Per host, the relays in front of its servers (``NAME,ADDRESS,PORT,TARGET_PORT``)."""
    links: dict[str, list[str]] = {}

    def add(host: str, name: str, port: int) -> None:
        address = topology.host(host).address
        links.setdefault(host, []).append(f"{name},{address},{port},{port}")

    add(NGINX, "nginx", settings.public_port)
    add(NGINX, "nginx-actions", settings.actions_lb_port)
    for index, port in enumerate(settings.rasa_ports):
        add(f"rasa{index + 1}", f"rasa{index + 1}", port)
    for index, port in enumerate(settings.actions_ports):
        add(f"act{index + 1}", f"act{index + 1}", port)
    add(POSTGRES, POSTGRES, PG_PORT)
    add(REDIS, REDIS, REDIS_PORT)
    return links


def readdress_nginx(config: str, upstreams: Mapping[int, str]) -> str:
    """nginx.conf with each upstream ``server 127.0.0.1:PORT`` on another host's address
    (a Rasa server is in several upstreams: the shared one and those of the routing hints).

    Raises:
        ValueError: an upstream is not in the configuration.
    """
    for port, address in upstreams.items():
        old = f"server {HOST}:{port} "
        if old not in config:
            raise ValueError(f"upstream {HOST}:{port} is not in the nginx configuration")
        config = config.replace(old, f"server {address}:{port} ")
    return config


def write_configs(topology: Topology, settings: ProdSettings, secret: str) -> None:
    """The profile's endpoints file and nginx.conf, with the other hosts' addresses."""
    write_config_files(settings, secret)  # folders, ownership, then both files rewritten
    nginx_address = topology.host(NGINX).address
    config = endpoints(settings, secret)
    config["action_endpoint"] = action_endpoint(
        f"http://{nginx_address}:{settings.actions_lb_port}/webhook", secret
    )
    settings.endpoints_file.write_text(
        yaml.safe_dump(config, allow_unicode=True, sort_keys=False), encoding="utf-8"
    )
    upstreams = {
        port: topology.host(f"rasa{i + 1}").address for i, port in enumerate(settings.rasa_ports)
    }
    upstreams |= {
        port: topology.host(f"act{i + 1}").address for i, port in enumerate(settings.actions_ports)
    }
    text = settings.nginx_conf.read_text(encoding="utf-8")
    settings.nginx_conf.write_text(readdress_nginx(text, upstreams), encoding="utf-8")


@dataclass(frozen=True)
class RelaySnapshot:
    """The relays' counters at one moment: per relay, and per relay and client host."""

    relays: dict[str, dict[str, int]]
    clients: dict[str, dict[str, dict[str, int]]]


@dataclass
class Process:
    """One process this run started, inside a namespace."""

    name: str
    namespace: str
    popen: subprocess.Popen
    log: TextIO


class Tiers:
    """Every process of the simulated profile; ``stop`` ends them by process id."""

    def __init__(self, topology: Topology, workdir: Path, settings: ProdSettings) -> None:
        self.topology = topology
        self.workdir = workdir
        self.settings = settings
        self.processes: list[Process] = []
        self.control = workdir / "relay-control.json"
        self.stats_files: dict[str, Path] = {}

    # starting ----------------------------------------------------------------------------

    def spawn(
        self, name: str, host: str, command: Sequence[str], env: Mapping[str, str] | None = None
    ) -> Process:
        """Starts ``command`` in ``host``'s namespace, logging to ``<workdir>/<name>.log``."""
        namespace = self.topology.host(host).namespace
        log = (self.workdir / f"{name}.log").open("a", encoding="utf-8")
        popen = subprocess.Popen(
            exec_in(namespace, command), env=dict(env or os.environ), stdin=subprocess.DEVNULL,
            stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
        )  # fmt: skip
        process = Process(name, namespace, popen, log)
        self.processes.append(process)
        return process

    def run_in(
        self,
        host: str,
        command: Sequence[str],
        cwd: Path | None = None,
        timeout: float | None = None,
    ) -> str:
        """Runs ``command`` in ``host``'s namespace to the end; its output."""
        namespace = self.topology.host(host).namespace
        result = subprocess.run(
            exec_in(namespace, command),
            capture_output=True,
            text=True,
            check=False,
            cwd=cwd,
            timeout=timeout,
        )
        if result.returncode != 0:
            raise RuntimeError(f"{' '.join(command)} in {host}: {result.stderr.strip()[-500:]}")
        return result.stdout

    def wait_until(self, process: Process, probe: Sequence[str], seconds: float) -> None:
        """Polls ``probe`` (in the process's namespace) until it succeeds."""
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            if process.popen.poll() is not None:
                break
            result = subprocess.run(
                ["ip", "netns", "exec", process.namespace, *probe], capture_output=True,
                check=False,
            )  # fmt: skip
            if result.returncode == 0:
                return
            time.sleep(POLL_SECONDS)
        raise RuntimeError(f"{process.name} did not start; see {self.workdir / process.name}.log")

    def start_postgres(self) -> None:
        """A private PostgreSQL (temporary data directory) with pg_stat_statements."""
        data = self.workdir / "pgdata"
        data.mkdir(mode=0o700)
        entry = pwd.getpwnam(PG_USER)
        os.chown(data, entry.pw_uid, entry.pw_gid)
        as_postgres = ["setpriv", f"--reuid={PG_USER}", f"--regid={PG_USER}", "--init-groups"]
        subprocess.run(
            [*as_postgres, postgres_bin("initdb"), "-D", str(data), "-U", PG_USER,
             "--auth=trust", "-E", "UTF8", "--locale=C.UTF-8", "--no-sync"],
            check=True, capture_output=True,
        )  # fmt: skip
        process = self.spawn(
            "postgres", POSTGRES,
            [*as_postgres, postgres_bin("postgres"), "-D", str(data), "-p", str(PG_PORT),
             "-c", f"listen_addresses={HOST}", "-c", f"unix_socket_directories={data}",
             "-c", "shared_preload_libraries=pg_stat_statements",
             "-c", "pg_stat_statements.track=all", "-c", "max_connections=200"],
        )  # fmt: skip
        self.wait_until(process, ["pg_isready", "-q", "-h", HOST, "-p", str(PG_PORT)], 60)
        self.psql("postgres", f"CREATE DATABASE {DATABASE}")
        self.psql(DATABASE, "CREATE EXTENSION pg_stat_statements")

    def psql(self, database: str, sql: str) -> str:
        """One statement through psql on the database host's loopback (bypasses the relay)."""
        return self.run_in(
            POSTGRES,
            ["psql", "-X", "-q", "-At", "-F", "\t", "-h", HOST, "-p", str(PG_PORT), "-U",
             PG_USER, "-d", database, "-c", sql],
        )  # fmt: skip

    def seed(self, merchants: int) -> None:
        """Schema, demo data and the load merchants (``load.servers.prepare_store``)."""
        url = f"postgresql://{PG_USER}@{HOST}:{PG_PORT}/{DATABASE}"
        code = f"from load.servers import prepare_store; prepare_store({url!r}, {merchants})"
        self.run_in(POSTGRES, [sys.executable, "-c", code], cwd=Path.cwd())

    def start_redis(self) -> None:
        """A private Redis without persistence."""
        process = self.spawn(
            "redis", REDIS,
            ["redis-server", "--port", str(REDIS_PORT), "--bind", HOST, "--save", "",
             "--appendonly", "no", "--dir", str(self.workdir)],
        )  # fmt: skip
        self.wait_until(process, ["redis-cli", "-h", HOST, "-p", str(REDIS_PORT), "PING"], 30)

    def redis(self, *command: str) -> str:
        """A redis-cli command on the Redis host's loopback (bypasses the relay)."""
        return self.run_in(REDIS, ["redis-cli", "-h", HOST, "-p", str(REDIS_PORT), *command])

    def start_relays(self, one_way_ms: float) -> None:
        """The relays in front of every server; waits until each has written its stats."""
        self.write_control(one_way_ms, 0)
        waiting = []
        for host, links in relay_links(self.topology, self.settings).items():
            stats = self.workdir / f"relay-{host}.json"
            stats.unlink(missing_ok=True)
            self.stats_files[host] = stats
            arguments = [arg for link in links for arg in ("--link", link)]
            command = [sys.executable, "-m", PROXY_MODULE, *arguments, "--control",
                       str(self.control), "--stats", str(stats)]  # fmt: skip
            waiting.append((self.spawn(f"relay-{host}", host, command), stats))
        for process, stats in waiting:
            self.wait_until(process, ["test", "-s", str(stats)], 30)

    def start_profile(self) -> None:
        """Action servers, Rasa servers, nginx: each group waits until healthy."""
        profile = children(self.settings)
        for kind in ("actions", "rasa", "nginx"):
            group = [child for child in profile if child.name.startswith(kind)]
            started = [(child, self._start_child(child)) for child in group]
            for child, process in started:
                probe = ["curl", "-sf", "-o", "/dev/null", "--max-time", "2", child.health_url]
                self.wait_until(process, probe, READY_SECONDS[kind])
                print(f"  {child.name:10} ready in {process.namespace}", flush=True)

    def _start_child(self, child: Child) -> Process:
        return self.spawn(child.name, host_of(child.name), child.command, dict(child.spec.env))

    # relays' control and counters --------------------------------------------------------

    def write_control(self, one_way_ms: float, seq: int) -> None:
        """The relays' delay; they read it on SIGHUP."""
        self.control.write_text(json.dumps({"one_way_ms": one_way_ms, "seq": seq}))

    def relay_snapshot(self, one_way_ms: float, seq: int) -> RelaySnapshot:
        """Sets the relays' delay and returns every relay's counters (after the change):
        totals, and per relay by client host."""
        self.write_control(one_way_ms, seq)
        relays = [p for p in self.processes if p.name.startswith("relay-")]
        for process in relays:
            process.popen.send_signal(signal.SIGHUP)
        counters: dict[str, dict[str, int]] = {}
        clients: dict[str, dict[str, dict[str, int]]] = {}
        hosts = {host.address: host.name for host in self.topology.hosts}
        deadline = time.monotonic() + 30
        for host, path in self.stats_files.items():
            while True:
                try:
                    payload = json.loads(path.read_text(encoding="utf-8"))
                except (OSError, ValueError):
                    payload = {}
                if payload.get("seq") == seq:
                    counters.update(payload["relays"])
                    for relay, by_address in payload["clients"].items():
                        clients[relay] = {hosts.get(a, a): c for a, c in by_address.items()}
                    break
                if time.monotonic() > deadline:
                    raise RuntimeError(f"the relay of {host} did not answer")
                time.sleep(0.05)
        return RelaySnapshot(counters, clients)

    def relay_cpu_seconds(self) -> float:
        """User and system CPU time the relay processes used so far."""
        ticks = 0
        for process in self.processes:
            if process.name.startswith("relay-") and process.popen.poll() is None:
                fields = Path(f"/proc/{process.popen.pid}/stat").read_text().rsplit(")", 1)[1]
                ticks += sum(int(value) for value in fields.split()[11:13])
        return ticks / os.sysconf("SC_CLK_TCK")

    # stopping ----------------------------------------------------------------------------

    def stop(self) -> None:
        """SIGTERM to every process (last started first), SIGKILL after a grace period."""
        for process in reversed(self.processes):
            if process.popen.poll() is None:
                process.popen.terminate()
        deadline = time.monotonic() + STOP_SECONDS
        for process in reversed(self.processes):
            try:
                process.popen.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                process.popen.kill()
                process.popen.wait()
            process.log.close()
        self.processes.clear()


def netsim_settings(
    topology: Topology, state_dir: Path, model: Path, base_port: int
) -> ProdSettings:
    """The profile's settings with the stores on their hosts and no rate limit (one load
    generator stands for many merchants)."""
    pg_url, redis_url = store_urls(topology)
    return replace(
        ProdSettings(),
        base_port=base_port,
        state_dir=state_dir,
        model=model,
        case_db_url=pg_url,
        tracker_db_url=pg_url,
        redis_url=redis_url,
        rate_limit="off",
    )
