"""The one way to start the bot's processes: environment, commands, endpoints, readiness, stop.

``posbot serve``, the production supervisor, ``make bench``, the load runner and the
end-to-end tests all start their servers through this package (the command line imports it,
never the reverse)::

    from bot import runtime

    with runtime.running_bot("models/posbot.tar.gz", workdir=tmp, env={DB_URL.env: url},
                             endpoints={}) as bot:       # {}: in-memory trackers, no NLG
        requests.post(bot.webhook, json={"sender": "a", "message": "你好"})
    # both servers are stopped here (also when the start failed: BotStartError)

    with runtime.running_prod(state_dir, 8080, env={...}) as bot:   # `posbot prod start`
        ...

The pieces, for launchers that need them one by one:

- :func:`bot_environment`: the child environment (``RASA_TELEMETRY_ENABLED=false``,
  SQLAlchemy's warnings silenced, the session and actions secrets configured or generated).
- :func:`action_server_command`, :func:`rasa_server_command`, :func:`rasa_shell_command`,
  :func:`prod_start_command`: the command lines; :func:`write_endpoints` /
  :func:`endpoints_for`: the endpoints file (mode 0600, it holds the actions secret).
- :class:`ProcessSpec` + :func:`running_processes`: start groups of processes in order, each
  group ready (``wait_until_ready`` on its health URL) before the next; stop them all.
- :func:`free_port` / :func:`free_ports`: the one free-port helper.

The per-tier command hook
-------------------------
Every process is a :class:`ProcessSpec` with a ``tier`` (``actions``, ``rasa``, ``shell``,
``nginx``, ``supervisor``) and a unique ``name`` (``rasa-2`` in the production profile).
Just before it starts, the spec passes through a :data:`Wrapper` — a function
``ProcessSpec -> ProcessSpec`` — which may prefix or replace its command and change the health
URL the readiness wait polls. :func:`prefix_tiers` builds one from a table, by name first,
then tier::

    wrap = runtime.prefix_tiers({"rasa": "ip netns exec ns-rasa", "actions-2": ["nice"]})
    with runtime.running_bot(model, wrap=wrap): ...

``running_bot``, ``running_processes`` and ``running_prod`` take ``wrap=``. Processes started
by the supervisor of ``posbot prod start`` (another process) take it from the environment:
``POSBOT_TIER_PREFIXES='{"rasa": "ip netns exec ns-rasa", "nginx": "ip netns exec ns-lb"}'``
(a JSON object of name or tier to prefix; :func:`wrapper_from_env`). A wrapped process must
still answer its health URL from here (or the wrapper sets one that does).
"""

from __future__ import annotations

from bot.runtime.checks import code_table_problem
from bot.runtime.commands import (
    ACTIONS,
    DEFAULT_MODEL,
    ENDPOINTS_FILE,
    NGINX,
    NOTIFY,
    RASA,
    SHELL,
    SUPERVISOR,
    TIERS,
    action_server_command,
    notify_command,
    prod_start_command,
    rasa_server_command,
    rasa_shell_command,
)
from bot.runtime.endpoints import (
    DEFAULT_ACTIONS_PORT,
    default_sections,
    endpoints_for,
    write_endpoints,
)
from bot.runtime.environment import bot_environment
from bot.runtime.launch import (
    ACTIONS_READY_SECONDS,
    PROD_READY_SECONDS,
    RASA_READY_SECONDS,
    RunningBot,
    actions_spec,
    rasa_spec,
    running_bot,
    running_prod,
)
from bot.runtime.processes import (
    HOST,
    TIER_PREFIXES_ENV,
    BotStartError,
    ProcessSpec,
    Started,
    Wrapper,
    die_with_parent,
    free_port,
    free_ports,
    log_tail,
    prefix_tiers,
    running_processes,
    spawn,
    stop_processes,
    wait_until_ready,
    wrapped,
    wrapper_from_env,
)

__all__ = [
    "ACTIONS",
    "ACTIONS_READY_SECONDS",
    "DEFAULT_ACTIONS_PORT",
    "DEFAULT_MODEL",
    "ENDPOINTS_FILE",
    "HOST",
    "NGINX",
    "NOTIFY",
    "PROD_READY_SECONDS",
    "RASA",
    "RASA_READY_SECONDS",
    "SHELL",
    "SUPERVISOR",
    "TIERS",
    "TIER_PREFIXES_ENV",
    "BotStartError",
    "ProcessSpec",
    "RunningBot",
    "Started",
    "Wrapper",
    "action_server_command",
    "actions_spec",
    "bot_environment",
    "code_table_problem",
    "default_sections",
    "die_with_parent",
    "endpoints_for",
    "free_port",
    "free_ports",
    "log_tail",
    "notify_command",
    "prefix_tiers",
    "prod_start_command",
    "rasa_server_command",
    "rasa_shell_command",
    "rasa_spec",
    "running_bot",
    "running_processes",
    "running_prod",
    "spawn",
    "stop_processes",
    "wait_until_ready",
    "wrapped",
    "wrapper_from_env",
    "write_endpoints",
]
