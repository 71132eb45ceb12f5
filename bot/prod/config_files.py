"""The generated endpoints file of the Rasa servers and the nginx configuration."""

from __future__ import annotations

import grp
import json
import math
import os
import pwd
from pathlib import Path
from typing import Final

import yaml

from bot.channels.rate_limit import RETRY_AFTER_HEADER
from bot.operator_facts import fill_operator_facts
from bot.prod.settings import HOST, ProdSettings
from bot.server_secrets import action_endpoint
from bot.settings import RateLimit

TRACKER_STORE_CLASS: Final = "bot.store.tracker_store.RedactingSQLTrackerStore"
LOCK_STORE_CLASS: Final = "bot.store.lock_store.AtomicRedisLockStore"
LOCK_KEY_PREFIX: Final = "posbot"
# PostgreSQL connections of each Rasa server's tracker store (asyncpg's pool; worker threads
# too with psycopg2): a turn holds one for well under a millisecond twice, so 4 serve far more
# than the 2 cores can compute.
TRACKER_POOL_SIZE: Final = 4
# An action call that fails or takes longer than this gets the polite reply below; Rasa's
# own timeout for action calls is 5 minutes.
ACTION_READ_TIMEOUT_SECONDS: Final = 4
CONNECT_TIMEOUT_SECONDS: Final = 1
# A turn may wait for earlier turns of the same conversation (the lock serialises them).
RASA_READ_TIMEOUT_SECONDS: Final = 60
MAX_BODY: Final = "64k"
MAX_ACTION_BODY: Final = "32m"
ACTION_BODY_BUFFER: Final = "1m"
ACTION_UNAVAILABLE_BODY: Final = json.dumps(
    {"events": [], "responses": [{"response": "utter_service_unavailable"}]},
    separators=(",", ":"),
)
TEMP_DIRS: Final = ("client_body", "proxy", "fastcgi", "uwsgi", "scgi")
WORKER_USER: Final = "nobody"
#: How nginx picks the Rasa server of a turn: by the conversation, so that its turns go to the
#: same server while it is up. That server then knows the conversation is as it left it (the
#: lock's previous hold was its own, ``bot.store.lock_context``) and skips the tracker store's
#: round trip, the new rows and their replay: 0.914 of the CPU per turn of ``least_conn``,
#: which sent about half of the turns to the other server (paired runs, medians: 8 blocks of
#: 600 turns at 20 senders; 0.927 over 10 blocks at 10 senders).
#:
#: A REST conversation's session token starts with the routing hint of the server that
#: started it (``r1.<hmac>``, ``POSBOT_SESSION_ROUTE``): nginx maps the hint to that server's
#: own upstream, where the other servers are backups. Its first turn (no token yet) goes round
#: robin, so conversations are spread evenly: hashing the token put 63 % of the bench's 10
#: conversations on one server. A WeChat callback (no token; its ``openid``) and a token
#: without a known hint go by a consistent hash of both. When a server is down or failing, its
#: conversations move to another (nginx marks it failed for ``fail_timeout``), and a hung one
#: is killed and restarted by the supervisor (``bot.prod.supervisor.LIVENESS_FAILURES``). A
#: client that changes the hint or the key only picks a server for its own requests, which the
#: rate limit still counts.
CONVERSATION_BALANCE: Final = "hash $http_x_posbot_session$arg_openid consistent"
#: The nginx variable naming the upstream of a turn (``rasa_upstream_map``).
RASA_UPSTREAM_VARIABLE: Final = "$posbot_rasa"
RASA_SERVERS: Final = "rasa_servers"
ACTION_SERVERS: Final = "action_servers"
#: Idle connections nginx keeps to each upstream's servers, and for how long (``_upstream``).
KEPT_CONNECTIONS: Final = 32
KEEPALIVE_SECONDS: Final = 2
DOMAIN_FILE: Final = Path("domain.yml")
UTTER_SERVICE_UNAVAILABLE: Final = "utter_service_unavailable"
# nginx's per-client limit (POSBOT_RATE_LIMIT, the same as the Rasa servers' own): one zone
# of 10 MB holds about 160 000 client addresses.
RATE_LIMIT_ZONE: Final = "posbot_clients"
RATE_LIMIT_ZONE_SIZE: Final = "10m"

# The content store's live texts, operator facts filled, in every response (bot/nlg.py).
NLG_CLASS: Final = "bot.nlg.ContentNLG"


def endpoints(settings: ProdSettings, actions_secret: str) -> dict:
    """The endpoints of every Rasa server: actions via nginx (with the actions secret, which
    nginx passes through), PostgreSQL, Redis."""
    return {
        "action_endpoint": action_endpoint(
            f"http://{HOST}:{settings.actions_lb_port}/webhook", actions_secret
        ),
        "nlg": {"type": NLG_CLASS},
        "tracker_store": {
            "type": TRACKER_STORE_CLASS,
            "url": settings.tracker_db_url,
            "pool_size": TRACKER_POOL_SIZE,
        },
        "lock_store": {
            "type": LOCK_STORE_CLASS,
            "url": settings.redis_url,
            "key_prefix": LOCK_KEY_PREFIX,
        },
    }


def _upstream(
    name: str,
    servers: tuple[str, ...],
    balance: str = "",
    primary: int | None = None,
) -> str:
    # Idle connections are kept for 2 s, less than the 5 s after which a Sanic server closes
    # an idle connection, so nginx never sends on a connection the server is closing. A
    # connection per turn cost nginx and the Rasa servers about 1.5 ms of CPU per turn, a
    # fifth of the profile's capacity; the action servers' connections were kept in the ninth
    # round of issue 15 (0.977 of the profile's CPU per turn, paired). nginx does not repeat a
    # POST that reached a server: a turn that arrives as a Rasa server dies gets the polite
    # reply (@rasa_unavailable) with or without kept connections (the first turn after a
    # kill, in 3 of 4 rounds either way; the next turns went to the other server in 16 of 16
    # rounds either way): a killed process's listening socket closes with its last thread,
    # after its main thread has exited, and a connection made in between is queued and then
    # reset. nginx closes a kept connection when the server's end of it closes, so the next
    # call to a killed action server opens a new connection, is refused and goes to the
    # other server, as it did without kept connections.
    # ``primary``: only that server takes requests while it is up, the others are backups.
    method = f"    {balance};\n" if balance else ""  # round robin without
    lines = "".join(
        f"    server {address} max_fails=1 fail_timeout=5s"
        f"{' backup' if primary is not None and index != primary else ''};\n"
        for index, address in enumerate(servers)
    )
    kept = f"    keepalive {KEPT_CONNECTIONS};\n    keepalive_timeout {KEEPALIVE_SECONDS}s;\n"
    return f"  upstream {name} {{\n{method}{lines}{kept}  }}\n"


def rasa_route(index: int) -> str:
    """The routing hint of the Rasa server ``index`` (0-based) of the profile."""
    return f"r{index + 1}"


def rasa_upstream_map(servers: tuple[str, ...]) -> str:
    """nginx's map from a session token's routing hint to the upstream of its server."""
    routes = "".join(
        f'    "~^{rasa_route(i)}\\." {RASA_SERVERS}_{rasa_route(i)};\n' for i in range(len(servers))
    )
    return (
        f"  map $http_x_posbot_session {RASA_UPSTREAM_VARIABLE} {{\n"
        f"    default {RASA_SERVERS};\n{routes}  }}\n"
        # The conversations server i started: it, the others only while it is down or failing.
        + "".join(
            _upstream(f"{RASA_SERVERS}_{rasa_route(i)}", servers, primary=i)
            for i in range(len(servers))
        )
    )


def _nginx_string(text: str) -> str:
    """``text`` as a single-quoted nginx string without variables."""
    return text.replace("\\", "\\\\").replace("'", "\\'").replace("$", "＄")


def rest_unavailable_body(domain_file: Path = DOMAIN_FILE) -> str:
    """The REST answer when no Rasa server answered: ``utter_service_unavailable``.

    The operator facts are filled in when the configuration is generated (at start).
    """
    domain = yaml.safe_load(domain_file.read_text(encoding="utf-8")) or {}
    variants = (domain.get("responses") or {}).get(UTTER_SERVICE_UNAVAILABLE) or [{}]
    text = fill_operator_facts(variants[0].get("text") or "")
    return json.dumps([{"text": text}], ensure_ascii=False, separators=(",", ":"))


def rate_limited_body(retry_after: int) -> str:
    """The JSON of nginx's 429, the same as the Rasa servers' (see bot.channels.rate_limit)."""
    return json.dumps(
        {
            "error": "rate_limited",
            "message": f"请求过于频繁，请 {retry_after} 秒后再试。"
            f"Too many requests: please retry in {retry_after} s.",
            "retry_after": retry_after,
        },
        ensure_ascii=False,
        separators=(",", ":"),
    )


def rate_limit_directives(limit: RateLimit | None) -> tuple[str, str, str]:
    """nginx lines for the limit: in ``http``, in a limited location, and the 429 location.

    ``limit_req`` is a leaky bucket of the average rate that lets ``burst + 1`` requests
    through at once, which is the token bucket of the Rasa servers: capacity requests at once,
    refilled over the period.
    """
    if limit is None:
        return "", "", ""
    per_minute = max(1, round(limit.capacity * 60 / limit.period_seconds))
    retry_after = max(1, math.ceil(limit.period_seconds / limit.capacity))
    http = (
        f"  limit_req_zone $binary_remote_addr zone={RATE_LIMIT_ZONE}:{RATE_LIMIT_ZONE_SIZE} "
        f"rate={per_minute}r/m;\n"
        "  limit_req_status 429;\n"
        "  limit_req_log_level warn;\n"
    )
    location = (
        f"      limit_req zone={RATE_LIMIT_ZONE} burst={limit.capacity - 1} nodelay;\n"
        "      error_page 429 = @rate_limited;\n"
    )
    answer = (
        "    location @rate_limited {\n"
        "      default_type application/json;\n"
        f"      add_header {RETRY_AFTER_HEADER} {retry_after} always;\n"
        f"      return 429 '{_nginx_string(rate_limited_body(retry_after))}';\n"
        "    }\n"
    )
    return http, location, answer


def nginx_config(settings: ProdSettings, worker_user: str | None) -> str:
    """nginx.conf: the public server over the Rasa servers, the balancer of the actions."""
    state = settings.state_dir.resolve()
    temp = "".join(f"  {kind}_temp_path {state / 'tmp' / kind};\n" for kind in TEMP_DIRS)
    user = f"user {worker_user};\n" if worker_user else ""
    rasa = tuple(f"{HOST}:{port}" for port in settings.rasa_ports)
    actions = tuple(f"{HOST}:{port}" for port in settings.actions_ports)
    limit_http, limit_location, limit_answer = rate_limit_directives(
        RateLimit.parse(settings.rate_limit)
    )
    proxy_common = (
        "      proxy_http_version 1.1;\n"
        # HTTP/1.1 without "Connection: close", so that nginx can keep the connection.
        '      proxy_set_header Connection "";\n'
        "      proxy_set_header Host $host;\n"
        "      proxy_set_header X-Forwarded-For $remote_addr;\n"
        f"      proxy_connect_timeout {CONNECT_TIMEOUT_SECONDS}s;\n"
        # A POST is only passed on when it never reached the first server (nginx does not
        # repeat non-idempotent requests), so an action never runs twice.
        "      proxy_next_upstream error timeout http_502 http_503;\n"
        "      proxy_next_upstream_tries 2;\n"
    )
    return (
        "# Generated by `posbot prod start`; edits are overwritten.\n"
        f"{user}"
        "worker_processes 1;\n"
        "daemon off;\n"
        f"pid {state / 'nginx.pid'};\n"
        f"error_log {state / 'logs' / 'nginx-error.log'} warn;\n"
        "events { worker_connections 1024; }\n"
        "http {\n"
        "  log_format upstreams '$time_iso8601 $status $request_method $uri "
        "upstream=$upstream_addr upstream_status=$upstream_status bytes=$request_length "
        "time=$request_time';\n"
        f"  access_log {state / 'logs' / 'nginx-access.log'} upstreams;\n"
        "  server_tokens off;\n"
        f"  client_max_body_size {MAX_BODY};\n"
        f"  client_body_buffer_size {MAX_BODY};\n"
        f"{temp}"
        f"{limit_http}"
        # The Rasa servers: by conversation (CONVERSATION_BALANCE, the map of routing hints).
        # The action servers: round
        # robin; under least_conn, after both had failed (hung action servers), the fault
        # test's next turn got an instant 502 in one CI run of four.
        f"{_upstream(RASA_SERVERS, rasa, CONVERSATION_BALANCE)}"
        f"{rasa_upstream_map(rasa)}"
        f"{_upstream(ACTION_SERVERS, actions)}"
        "  server {\n"
        f"    listen {HOST}:{settings.public_port};\n"
        "    location = /nginx-health { return 200 'ok'; }\n"
        # Every public route is limited per client address, except WeChat's signed callbacks
        # (they all come from WeChat's servers).
        "    location / {\n"
        f"      proxy_pass http://{RASA_UPSTREAM_VARIABLE};\n"
        f"{proxy_common}"
        f"{limit_location}"
        f"      proxy_read_timeout {RASA_READ_TIMEOUT_SECONDS}s;\n"
        "    }\n"
        "    location /webhooks/wechat/ {\n"
        f"      proxy_pass http://{RASA_UPSTREAM_VARIABLE};\n"
        f"{proxy_common}"
        f"      proxy_read_timeout {RASA_READ_TIMEOUT_SECONDS}s;\n"
        "    }\n"
        f"{limit_answer}"
        # No Rasa server answered (both down, or the one holding the request died): the
        # chat clients still get the polite reply. The servers' own 4xx/5xx pass through.
        "    location = /webhooks/rest/webhook {\n"
        f"      proxy_pass http://{RASA_UPSTREAM_VARIABLE};\n"
        f"{proxy_common}"
        f"{limit_location}"
        f"      proxy_read_timeout {RASA_READ_TIMEOUT_SECONDS}s;\n"
        "      error_page 502 504 = @rasa_unavailable;\n"
        "    }\n"
        "    location @rasa_unavailable {\n"
        "      default_type application/json;\n"
        "      add_header X-Posbot-Degraded upstream always;\n"
        f"      return 200 '{_nginx_string(rest_unavailable_body())}';\n"
        "    }\n"
        "  }\n"
        "  server {\n"
        f"    listen {HOST}:{settings.actions_lb_port};\n"
        # Rasa sends the whole conversation with every action call.
        f"    client_max_body_size {MAX_ACTION_BODY};\n"
        f"    client_body_buffer_size {ACTION_BODY_BUFFER};\n"
        "    location / {\n"
        f"      proxy_pass http://{ACTION_SERVERS};\n"
        f"{proxy_common}"
        f"      proxy_send_timeout {ACTION_READ_TIMEOUT_SECONDS}s;\n"
        f"      proxy_read_timeout {ACTION_READ_TIMEOUT_SECONDS}s;\n"
        # 4xx stay as they are: rasa-sdk answers a rejected form validation with a 400.
        "      proxy_intercept_errors on;\n"
        "      error_page 500 502 503 504 = @action_unavailable;\n"
        "    }\n"
        "    location @action_unavailable {\n"
        "      default_type application/json;\n"
        f"      return 200 '{ACTION_UNAVAILABLE_BODY}';\n"
        "    }\n"
        "  }\n"
        "}\n"
    )


def write_config_files(settings: ProdSettings, actions_secret: str) -> None:
    """Writes the endpoints file (mode 0600: it holds the actions secret) and nginx.conf;
    creates the log and temp folders."""
    settings.logs_dir.mkdir(parents=True, exist_ok=True)
    worker_user = None
    if os.geteuid() == 0:  # nginx's workers then run as nobody, not as root
        entry = pwd.getpwnam(WORKER_USER)
        worker_user = f"{WORKER_USER} {grp.getgrgid(entry.pw_gid).gr_name}"
    for kind in TEMP_DIRS:
        folder = settings.state_dir / "tmp" / kind
        folder.mkdir(parents=True, exist_ok=True)
        if worker_user:
            os.chown(folder, entry.pw_uid, entry.pw_gid)
    settings.endpoints_file.touch(mode=0o600, exist_ok=True)
    settings.endpoints_file.chmod(0o600)
    settings.endpoints_file.write_text(
        yaml.safe_dump(endpoints(settings, actions_secret), allow_unicode=True, sort_keys=False),
        encoding="utf-8",
    )
    settings.nginx_conf.write_text(nginx_config(settings, worker_user), encoding="utf-8")


def nginx_command(settings: ProdSettings) -> list[str]:
    """nginx in the foreground with the generated configuration and its own prefix."""
    state = Path(settings.state_dir).resolve()
    return [
        "nginx",
        "-p",
        str(state),
        "-c",
        str(state / "nginx.conf"),
        "-e",
        str(state / "logs" / "nginx-error.log"),
    ]
