"""`make bench-net`'s pure parts: the network plan, netem commands, relay counting and delay,
round-trip arithmetic and the report (the simulation itself needs root: `make bench-net`)."""

from __future__ import annotations

import socket
import threading
import time

import pytest
import yaml

from bot.prod.config_files import nginx_config
from bot.prod.settings import ProdSettings
from bot.quality.netsim import network
from bot.quality.netsim.proxy import Counters, Exchange, Relay, due_at, parse_link
from bot.quality.netsim.report import (
    RttResult,
    RunInfo,
    counter_delta,
    parse_commandstats,
    parse_statements,
    per_turn,
    render,
    render_skip,
    slope,
)
from bot.quality.netsim.run import parse_rtts
from bot.quality.netsim.services import (
    host_of,
    netsim_settings,
    readdress_nginx,
    relay_links,
    store_urls,
    write_configs,
)
from bot.quality.netsim.topology import (
    netem_commands,
    owner_of,
    plan,
    setup_commands,
    teardown_commands,
)


def test_plan_gives_every_tier_its_own_namespace_address_and_switch_port():
    topology = plan(4321)
    names = [host.name for host in topology.hosts]
    assert names == ["lg", "nginx", "rasa1", "rasa2", "act1", "act2", "pg", "redis"]
    assert len({host.address for host in topology.hosts}) == len(names)
    assert topology.host("pg").namespace == "pbn4321-pg"
    assert topology.namespaces[-1] == topology.switch_namespace == "pbn4321-wire"
    assert all(owner_of(ns) == 4321 for ns in topology.namespaces)


def test_owner_of_ignores_namespaces_of_others():
    assert owner_of("pbn77-lg") == 77
    assert owner_of("pbnx-lg") is None
    assert owner_of("docker-1") is None
    assert owner_of("pbn12") is None


def test_setup_links_each_host_to_the_bridge_and_teardown_deletes_namespaces():
    topology = plan(1)
    commands = setup_commands(topology)
    veths = [c for c in commands if c[:2] == ["ip", "link"] and "veth" in c]
    assert len(veths) == len(topology.hosts)
    pg = topology.host("pg")
    assert ["ip", "link", "add", "veth0", "netns", pg.namespace, "type", "veth", "peer", "name",
            "pg", "netns", "pbn1-wire"] in commands  # fmt: skip
    assert ["ip", "-n", "pbn1-wire", "link", "set", "pg", "master", "br0"] in commands
    assert ["ip", "-n", pg.namespace, "addr", "add", f"{pg.address}/24", "dev", "veth0"] in commands
    assert commands.index(["ip", "netns", "add", "pbn1-wire"]) < commands.index(veths[0])
    assert teardown_commands(["a", "b"]) == [["ip", "netns", "delete", "a"],
                                             ["ip", "netns", "delete", "b"]]  # fmt: skip


@pytest.mark.parametrize(("rtt", "one_way"), [(0, "0us"), (0.5, "250us"), (2, "1000us")])
def test_netem_puts_half_the_round_trip_on_every_switch_port(rtt, one_way):
    topology = plan(9)
    commands = netem_commands(topology, rtt)
    assert len(commands) == len(topology.hosts)
    assert commands[0] == ["ip", "netns", "exec", "pbn9-wire", "tc", "qdisc", "replace", "dev",
                           "lg", "root", "netem", "delay", one_way, "limit", "100000"]  # fmt: skip


def test_netem_refuses_a_negative_round_trip():
    with pytest.raises(ValueError):
        netem_commands(plan(9), -1)


def test_missing_requirement_names_root_first(monkeypatch):
    monkeypatch.setattr(network.os, "geteuid", lambda: 1000)
    assert "root" in network.missing_requirement(["nginx"])


def test_missing_requirement_names_missing_tools(monkeypatch):
    monkeypatch.setattr(network.os, "geteuid", lambda: 0)
    problem = network.missing_requirement(["no-such-tool-netsim"])
    assert problem == "not installed: no-such-tool-netsim (e.g. apt-get install iproute2)"


def test_stores_and_relays_are_on_their_hosts():
    topology = plan(5)
    pg, redis = topology.host("pg").address, topology.host("redis").address
    assert store_urls(topology) == (f"postgresql://postgres@{pg}:5432/posbot",
                                    f"redis://{redis}:6379/0")  # fmt: skip
    links = relay_links(topology, ProdSettings(base_port=8080))
    nginx = topology.host("nginx").address
    assert links["nginx"] == [f"nginx,{nginx},8080,8080", f"nginx-actions,{nginx},8090,8090"]
    assert links["pg"] == [f"pg,{pg},5432,5432"]
    assert set(links) == {"nginx", "rasa1", "rasa2", "act1", "act2", "pg", "redis"}
    assert [host_of(n) for n in ("actions-2", "rasa-1", "nginx")] == ["act2", "rasa1", "nginx"]


def test_readdress_nginx_points_each_upstream_at_its_host():
    config = nginx_config(ProdSettings(base_port=8080), None)
    moved = readdress_nginx(config, {8081: "10.0.0.1", 8082: "10.0.0.2", 8091: "10.0.0.3"})
    assert "server 10.0.0.1:8081 max_fails" in moved
    # In every upstream it is in: the shared one and the two of the routing hints.
    assert moved.count("server 10.0.0.1:8081 max_fails") == 3 and "127.0.0.1:8081" not in moved
    assert "server 10.0.0.3:8091 max_fails" in moved
    assert "server 127.0.0.1:8092 max_fails" in moved  # not asked to move
    assert "listen 127.0.0.1:8080;" in moved  # nginx itself stays behind its relay
    with pytest.raises(ValueError, match="7000"):
        readdress_nginx(config, {7000: "10.0.0.9"})


def test_write_configs_sends_actions_through_nginx_host_and_stores_to_theirs(tmp_path):
    topology = plan(6)
    settings = netsim_settings(topology, tmp_path / "state", tmp_path / "m.tar.gz", 8080)
    write_configs(topology, settings, "s3cret")
    endpoints = yaml.safe_load(settings.endpoints_file.read_text(encoding="utf-8"))
    nginx = topology.host("nginx").address
    assert endpoints["action_endpoint"]["url"] == f"http://{nginx}:8090/webhook"
    assert endpoints["tracker_store"]["url"] == store_urls(topology)[0]
    assert endpoints["lock_store"]["url"] == store_urls(topology)[1]
    conf = settings.nginx_conf.read_text(encoding="utf-8")
    assert f"server {topology.host('act2').address}:8092 " in conf
    assert settings.rate_limit == "off"


def test_due_at_adds_half_the_round_trip_and_the_handshake_to_the_first_chunk():
    assert due_at(10.0, 0.001, 9.0, first=False) == pytest.approx(10.001)
    # a real link: SYN, SYN-ACK, then the request: three one-way trips after the connect
    assert due_at(9.0, 0.001, 9.0, first=True) == pytest.approx(9.003)
    assert due_at(9.5, 0.001, 9.0, first=True) == pytest.approx(9.501)
    assert due_at(9.0, 0.0, 9.0, first=True) == 9.0


def test_exchange_counts_a_reply_after_client_data_once():
    counters, lock = Counters(), threading.Lock()
    exchange = Exchange((counters,), lock)
    exchange.client_sent(10)
    exchange.client_sent(5)  # the rest of the same request
    exchange.server_sent(3)
    exchange.server_sent(4)  # the rest of the same reply
    exchange.server_sent(1)  # unsolicited data is not a round trip
    exchange.client_sent(2)
    exchange.server_sent(2)
    assert counters == Counters(connections=0, round_trips=2, bytes_up=17, bytes_down=10)


def test_parse_link():
    assert parse_link("pg,10.1.1.1,5432,5433") == ("pg", ("10.1.1.1", 5432), ("127.0.0.1", 5433))


def _echo_server() -> socket.socket:
    server = socket.create_server(("127.0.0.1", 0))

    def serve() -> None:
        connection, _ = server.accept()
        with connection:
            while data := connection.recv(1024):
                connection.sendall(data.upper())

    threading.Thread(target=serve, daemon=True).start()
    return server


def test_relay_forwards_counts_and_delays():
    echo = _echo_server()
    relay = Relay("test", ("127.0.0.1", 0), echo.getsockname())
    listener = relay.bind()
    threading.Thread(target=relay.serve, args=(listener,), daemon=True).start()
    relay.one_way = 0.02
    started = time.monotonic()
    with socket.create_connection(listener.getsockname()) as client:
        replies = []
        for word in (b"a", b"bc", b"def"):
            client.sendall(word)
            replies.append(client.recv(1024))
    elapsed = time.monotonic() - started
    assert replies == [b"A", b"BC", b"DEF"]
    # handshake (2 one-way trips) + 3 exchanges of 2 one-way trips each
    assert elapsed >= 8 * 0.02
    assert relay.counters == Counters(connections=1, round_trips=3, bytes_up=6, bytes_down=6)
    assert relay.clients == {"127.0.0.1": relay.counters}


def test_counter_delta_and_per_turn():
    before = {"pg": {"round_trips": 10, "connections": 2}}
    after = {"pg": {"round_trips": 70, "connections": 2}, "redis": {"round_trips": 30}}
    delta = counter_delta(before, after)
    assert delta == {"pg": {"round_trips": 60, "connections": 0}, "redis": {"round_trips": 30}}
    assert per_turn(60, 20) == 3.0
    assert per_turn(5, 0) == 0.0


def test_slope_is_least_squares_and_needs_two_round_trip_times():
    assert slope([0, 0.5, 2], [10, 15, 30]) == pytest.approx(10.0)
    assert slope([1, 1], [3, 4]) is None


def _result(rtt: float, p50: float) -> RttResult:
    return RttResult(
        rtt_ms=rtt, turns=100, errors=0, p50_ms=p50, p95_ms=p50 * 2, turns_per_second=50.0,
        relays={"pg": {"round_trips": 500, "connections": 10},
                "redis": {"round_trips": 300, "connections": 0},
                "nginx": {"round_trips": 100, "connections": 100}},
        statements=[(200, "SELECT events.id FROM events WHERE sender_id = $1"), (100, "BEGIN")],
        redis_commands={"evalsha": 200, "set": 100, "config|resetstat": 1},
        relay_cpu_seconds=0.05,
        clients={"pg": {"rasa1": {"round_trips": 300, "connections": 5},
                        "act1": {"round_trips": 200, "connections": 5}},
                 "redis": {"rasa1": {"round_trips": 300, "connections": 0},
                           "lg": {"round_trips": 0, "connections": 0}}},
        alone_p50_ms=p50 / 2, alone_p95_ms=p50,
    )  # fmt: skip


def test_store_round_trips_count_handshakes_of_new_connections():
    result = _result(0, 20)
    assert result.round_trips("pg") == 5.0
    assert result.connections("pg") == 0.1
    assert result.store_round_trips == pytest.approx(8.1)


def test_report_has_the_table_growth_and_sources():
    info = RunInfo(date="2026-11-30", delay="tc netem", senders=10, conversations=10,
                   turns_per_conversation=6, load_average="1.0 / 2.0",
                   command="python -m bot.quality.netsim")  # fmt: skip
    text = render(info, [_result(0, 20), _result(0.5, 25), _result(2, 40)])
    assert "| 0.5 | 12.5 | 25.0 | 25.0 | 50.0 | 50.0 | 0 | 5.10 | 3.00 | 8.10 (NO) |" in text
    assert "With one sender (no queueing) p50 rises 5.0 ms per ms" in text
    assert "p50 rises 10.0 ms and p95 20.0 ms per ms" in text
    assert "| pg | act1 | 2.05 |" in text
    assert "| redis | rasa1 | 3.00 |" in text
    assert "| redis | lg |" not in text
    assert "| nginx | 1.00 | 1.00 |" in text
    assert "| `SELECT events.id FROM events WHERE sender_id = $1` | 2.00 |" in text
    assert "| evalsha | 2.00 |" in text
    assert "resetstat" not in text  # the benchmark's own command
    assert "counted 10.1 round trips per turn on all links" in text
    assert "used 0.50 ms of CPU per turn" in text


def test_skip_report_says_why():
    text = render_skip("needs root", "python -m bot.quality.netsim")
    assert "Skipped: needs root." in text


def test_parse_commandstats_and_statements():
    info = "# Commandstats\r\ncmdstat_evalsha:calls=12,usec=30,usec_per_call=2.5\r\n" \
           "cmdstat_set:calls=3,usec=1\r\n"  # fmt: skip
    assert parse_commandstats(info) == {"evalsha": 12, "set": 3}
    rows = parse_statements("3\tBEGIN\n12\tSELECT 1\nnoise\n")
    assert rows == [(12, "SELECT 1"), (3, "BEGIN")]


def test_parse_rtts():
    assert parse_rtts("0,0.5,2") == [0.0, 0.5, 2.0]
    with pytest.raises(Exception, match="non-negative"):
        parse_rtts("-1")
