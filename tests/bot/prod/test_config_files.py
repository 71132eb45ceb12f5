"""The production profile's nginx balancing, as generated."""

from __future__ import annotations

import re
from pathlib import Path

from bot.prod.config_files import CONVERSATION_BALANCE, nginx_config, rasa_route
from bot.prod.settings import ProdSettings


def _upstream(config: str, name: str) -> str:
    match = re.search(rf"upstream {name} \{{\n(?P<body>.*?)\n  \}}", config, re.S)
    assert match is not None, name
    return match["body"]


def test_a_conversation_keeps_its_rasa_server_and_connections_are_kept(tmp_path: Path) -> None:
    settings = ProdSettings(state_dir=tmp_path)
    config = nginx_config(settings, None)
    rasa = _upstream(config, "rasa_servers")
    actions = _upstream(config, "action_servers")
    assert rasa.splitlines()[0].strip() == f"{CONVERSATION_BALANCE};"
    assert CONVERSATION_BALANCE == "hash $http_x_posbot_session$arg_openid consistent"
    assert "least_conn" not in actions and "hash" not in actions  # round robin (see the module)
    for body, ports in ((rasa, settings.rasa_ports), (actions, settings.actions_ports)):
        servers = re.findall(r"server 127\.0\.0\.1:(\d+) max_fails=1 fail_timeout=5s;", body)
        assert [int(port) for port in servers] == list(ports)
    for body in (rasa, actions):
        kept = [line.strip() for line in body.splitlines()[-2:]]
        assert kept == ["keepalive 32;", "keepalive_timeout 2s;"]  # less than Sanic's 5 s
    assert config.count('proxy_set_header Connection "";') == config.count("proxy_pass ")


def test_a_token_s_routing_hint_picks_the_server_that_started_the_conversation(
    tmp_path: Path,
) -> None:
    settings = ProdSettings(state_dir=tmp_path)
    config = nginx_config(settings, None)
    routes = re.search(r"map \$http_x_posbot_session \$posbot_rasa \{\n(.*?)\n  \}", config, re.S)
    assert routes is not None
    assert routes[1].splitlines() == [
        "    default rasa_servers;",
        '    "~^r1\\." rasa_servers_r1;',
        '    "~^r2\\." rasa_servers_r2;',
    ]
    for index, route in enumerate(("r1", "r2")):
        assert rasa_route(index) == route
        body = _upstream(config, f"rasa_servers_{route}")
        servers = re.findall(r"server 127\.0\.0\.1:(\d+) max_fails=1 fail_timeout=5s(.*);", body)
        # Its own server first in line, the other one only while it is down or failing.
        assert [(int(port), flag) for port, flag in servers] == [
            (port, "" if number == index else " backup")
            for number, port in enumerate(settings.rasa_ports)
        ]
        assert "hash" not in body and "keepalive 32;" in body
    # Every route to the Rasa servers goes through the map.
    assert config.count("proxy_pass http://$posbot_rasa;") == 3
    assert "proxy_pass http://rasa_servers" not in config
