"""Starting, waiting for and stopping processes; the per-tier command hook; free ports."""

from __future__ import annotations

import socket
import sys

import pytest

from bot import runtime
from bot.runtime import ProcessSpec

# A process answering 200 on / at the port in argv[1]; it prints a variable set by a wrapper.
HTTP_SERVER = (
    "import http.server, os, sys\n"
    "print('wrapped:', os.environ.get('POSBOT_TEST_WRAPPED', 'no'), flush=True)\n"
    "http.server.HTTPServer(('127.0.0.1', int(sys.argv[1])),"
    " http.server.SimpleHTTPRequestHandler).serve_forever()\n"
)


def server_spec(name: str, port: int, tier: str = runtime.RASA) -> ProcessSpec:
    return ProcessSpec(
        name=name,
        tier=tier,
        command=(sys.executable, "-c", HTTP_SERVER, str(port)),
        env=runtime.bot_environment(),
        health_url=f"http://127.0.0.1:{port}/",
        ready_seconds=20,
    )


def test_prefix_by_name_before_tier():
    wrap = runtime.prefix_tiers({"rasa": "ip netns exec ns-rasa", "rasa-2": ["nice", "-n5"]})
    first = wrap(ProcessSpec("rasa-1", runtime.RASA, ("python", "-m", "x")))
    second = wrap(ProcessSpec("rasa-2", runtime.RASA, ("python",)))
    other = wrap(ProcessSpec("nginx", runtime.NGINX, ("nginx",)))
    assert first.command == ("ip", "netns", "exec", "ns-rasa", "python", "-m", "x")
    assert second.command == ("nice", "-n5", "python")
    assert other.command == ("nginx",)


def test_prefixes_from_the_environment():
    environ = {runtime.TIER_PREFIXES_ENV: '{"actions": "ip netns exec ns-a"}'}
    wrap = runtime.wrapper_from_env(environ)
    assert wrap is not None
    spec = wrap(ProcessSpec("actions-1", runtime.ACTIONS, ("python",)))
    assert spec.command == ("ip", "netns", "exec", "ns-a", "python")
    assert runtime.wrapper_from_env({}) is None


@pytest.mark.parametrize("value", ["ip netns exec", "[1, 2]", '{"rasa": 3}', '{"rasa": [1]}'])
def test_malformed_prefixes_are_refused(value):
    with pytest.raises(ValueError, match=runtime.TIER_PREFIXES_ENV):
        runtime.wrapper_from_env({runtime.TIER_PREFIXES_ENV: value})


def test_free_ports_are_distinct_and_bindable():
    ports = runtime.free_ports(3)
    assert len(set(ports)) == 3
    for port in ports:
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", port))


def test_free_ports_within_a_range_skip_busy_ones():
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        taken = busy.getsockname()[1]
        busy.listen()
        candidates = [taken, *runtime.free_ports(2)]
        assert runtime.free_ports(1, within=candidates)[0] == candidates[1]
        with pytest.raises(OSError):
            runtime.free_ports(1, within=[taken])


def test_processes_start_in_groups_through_the_hook_and_stop(tmp_path):
    first, second = runtime.free_ports(2)
    wrap = runtime.prefix_tiers({"rasa": ["env", "POSBOT_TEST_WRAPPED=yes"]})
    groups = [[server_spec("actions", first, runtime.ACTIONS)], [server_spec("rasa", second)]]
    with runtime.running_processes(groups, tmp_path, wrap) as started:
        assert started.alive()
        processes = dict(started.processes)
        assert started.started_at["rasa"] >= started.ready_at["actions"]
    assert all(process.poll() is not None for process in processes.values())
    assert "wrapped: yes" in (tmp_path / "rasa.log").read_text()
    assert "wrapped: no" in (tmp_path / "actions.log").read_text()


def test_a_process_that_exits_stops_the_start_with_its_log(tmp_path):
    (port,) = runtime.free_ports(1)
    ok = server_spec("actions", port, runtime.ACTIONS)
    failing = ProcessSpec(
        "rasa", runtime.RASA, (sys.executable, "-c", "print('model missing'); raise SystemExit(3)"),
        env=runtime.bot_environment(), health_url="http://127.0.0.1:9/", title="the Rasa server",
    )  # fmt: skip
    expected = pytest.raises(runtime.BotStartError, match="the Rasa server did not start")
    with expected as error, runtime.running_processes([[ok], [failing]], tmp_path):
        pytest.fail("started")
    assert "model missing" in str(error.value)


def test_environment_keeps_telemetry_off_and_has_both_secrets():
    env = runtime.bot_environment({"RASA_TELEMETRY_ENABLED": "true", "POSBOT_X": "1"})
    assert env["RASA_TELEMETRY_ENABLED"] == "false"
    assert env["POSBOT_X"] == "1"
    assert len(env["POSBOT_SESSION_SECRET"]) >= 16
    assert len(env["POSBOT_ACTIONS_SECRET"]) >= 16
