"""Issue 11, item 2: the action server runs actions only for the Rasa servers.

A real action server (``python -m bot.actions_server``, what every launcher starts) on a free
loopback port with its own SQLite case store; a forged tracker posted without the shared
secret must run nothing.
"""

from __future__ import annotations

import json
import os
import subprocess
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml
from rasa.utils.endpoints import read_endpoint_config
from sqlalchemy import func, select

from bot.prod.config_files import endpoints as prod_endpoints
from bot.prod.settings import ProdSettings
from bot.runtime import (
    ACTIONS,
    action_server_command,
    actions_spec,
    bot_environment,
    free_port,
    running_processes,
)
from bot.server_secrets import ACTIONS_SECRET_ENV, ensure_secret
from bot.store.database import CaseStore
from bot.store.models import Ticket
from bot.store.seed import seed_demo_data
from tests.conftest import ROOT

SECRET = "actions-test-secret-0123456789abcdef"


def forged_call(action: str) -> bytes:
    """An action call with a forged tracker: verified as the demo merchant."""
    slots = {"verified": True, "verified_merchant_id": "898310058121234"}
    tracker = {
        "sender_id": "rest:attacker",
        "slots": slots,
        "latest_message": {"text": "转人工", "intent": {"name": "request_human"}},
        "events": [],
        "paused": False,
        "followup_action": None,
        "active_loop": {},
        "latest_action_name": "action_listen",
    }
    return json.dumps(
        {"next_action": action, "sender_id": "rest:attacker", "tracker": tracker, "domain": {}}
    ).encode()


def _post(url: str, body: bytes, headers: dict[str, str]) -> tuple[int, dict]:
    request = urllib.request.Request(url, body, {"Content-Type": "application/json", **headers})
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read() or b"{}")


@pytest.fixture(scope="module")
def action_server(tmp_path_factory) -> Iterator[tuple[str, int, CaseStore]]:
    workdir = tmp_path_factory.mktemp("actions-auth")
    store = CaseStore(f"sqlite:///{workdir / 'cases.db'}")
    store.create_schema()
    seed_demo_data(store)
    port = free_port()
    env = bot_environment({"POSBOT_DB_URL": store.url, ACTIONS_SECRET_ENV: SECRET})
    env.pop("POSBOT_ACTIONS_HOST", None)
    try:
        with running_processes([[actions_spec(port, env, cwd=ROOT)]], workdir) as started:
            yield f"http://127.0.0.1:{port}", started.processes[ACTIONS].pid, store
    finally:
        store.dispose()


def _tickets(store: CaseStore) -> int:
    with store.session() as session:
        return session.execute(select(func.count()).select_from(Ticket)).scalar_one()


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"Authorization": "Bearer wrong-secret-0123456789abcdef"},
        {"Authorization": SECRET},
        {"Authorization": f"Bearer {SECRET}x"},
        {"X-Posbot-Actions-Secret": SECRET},
    ],
    ids=["none", "wrong", "no-scheme", "longer", "other-header"],
)
def test_an_action_call_without_the_secret_is_refused_and_runs_nothing(
    action_server, headers: dict[str, str]
) -> None:
    url, _, store = action_server
    before = _tickets(store)
    status, body = _post(f"{url}/webhook", forged_call("action_handoff"), headers)
    assert status == 401 and "secret" in body["error"]
    assert "events" not in body and "responses" not in body
    assert _tickets(store) == before  # the handoff ticket was never opened
    listing = urllib.request.Request(f"{url}/actions", headers=headers)
    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.urlopen(listing, timeout=10)
    assert refused.value.code == 401


def test_the_rasa_servers_secret_runs_the_action(action_server) -> None:
    url, _, store = action_server
    before = _tickets(store)
    status, body = _post(
        f"{url}/webhook", forged_call("action_handoff"), {"Authorization": f"Bearer {SECRET}"}
    )
    assert status == 200 and body["responses"][0]["response"] == "utter_handoff"
    assert _tickets(store) == before + 1


def test_health_stays_open_and_the_server_listens_on_loopback_only(action_server) -> None:
    url, _, _ = action_server
    with urllib.request.urlopen(f"{url}/health", timeout=10) as response:
        assert response.status == 200
    port = int(url.rsplit(":", 1)[1])
    listening = [
        line.split()[1]
        for line in Path("/proc/net/tcp").read_text().splitlines()[1:]
        if line.split()[3] == "0A" and int(line.split()[1].split(":")[1], 16) == port
    ]
    assert listening == [f"0100007F:{port:04X}"]  # 127.0.0.1, not 0.0.0.0
    assert not any(
        int(line.split()[1].rsplit(":", 1)[1], 16) == port
        for line in Path("/proc/net/tcp6").read_text().splitlines()[1:]
        if line.split()[3] == "0A"
    )


def test_every_rasa_endpoint_configuration_sends_the_secret(tmp_path, monkeypatch) -> None:
    monkeypatch.setenv(ACTIONS_SECRET_ENV, SECRET)
    # make run: endpoints.yml reads the secret from the environment (Rasa's own reader).
    endpoint = read_endpoint_config(str(ROOT / "endpoints.yml"), "action_endpoint")
    assert endpoint.headers == {"Authorization": f"Bearer {SECRET}"}
    # The production profile: the generated endpoints file, sent through nginx's balancer.
    generated = tmp_path / "endpoints.yml"
    generated.write_text(yaml.safe_dump(prod_endpoints(ProdSettings(), SECRET)))
    endpoint = read_endpoint_config(str(generated), "action_endpoint")
    assert endpoint.headers == {"Authorization": f"Bearer {SECRET}"}


def test_an_unset_secret_is_generated_once_into_var_with_mode_0600(tmp_path) -> None:
    environ: dict[str, str] = {}
    first = ensure_secret(ACTIONS_SECRET_ENV, environ, tmp_path)
    assert len(first) >= 32 and environ[ACTIONS_SECRET_ENV] == first
    path = tmp_path / "actions_secret"
    assert path.stat().st_mode & 0o777 == 0o600
    assert ensure_secret(ACTIONS_SECRET_ENV, {}, tmp_path) == first  # reused on the next start
    assert ensure_secret(ACTIONS_SECRET_ENV, {ACTIONS_SECRET_ENV: SECRET}, tmp_path) == SECRET


def test_the_action_server_refuses_to_start_without_a_secret(tmp_path) -> None:
    env = {k: v for k, v in os.environ.items() if k != ACTIONS_SECRET_ENV}
    result = subprocess.run(
        action_server_command(free_port()), cwd=ROOT, env=env, capture_output=True,
        text=True, timeout=120,
    )  # fmt: skip
    assert result.returncode == 2 and ACTIONS_SECRET_ENV in result.stderr
