"""``python -m bot.actions_server``: rasa-sdk's action server behind a shared secret.

rasa-sdk 3.6 runs any action for anyone who can reach it, and listens on 0.0.0.0. This
launcher builds the same Sanic app (``rasa_sdk.endpoint.create_app``), refuses every request
but ``/health`` that does not carry ``Authorization: Bearer <POSBOT_ACTIONS_SECRET>`` (401,
nothing run) and listens on ``POSBOT_ACTIONS_HOST`` (127.0.0.1 unless configured otherwise).
It takes rasa-sdk's command-line options.

Calls that name their domain by its digest get the domain back from the ones this server was
sent before (:mod:`bot.domain_cache`): the Rasa server sends the 67 kB domain only until a call
with it has succeeded. The domain handed to the actions is then the one kept here, shared by
the calls (the actions only read it).
"""

from __future__ import annotations

import hmac
import logging
import sys
from collections.abc import Sequence
from typing import Any, Final

from sanic import Sanic, response
from sanic.request import Request
from sanic.response import HTTPResponse

from bot.domain_cache import (
    DIGEST_KEY,
    DOMAIN_UNKNOWN_ERROR,
    DOMAIN_UNKNOWN_STATUS,
    KEPT_KEY,
    KnownDomains,
)
from bot.server_secrets import (
    ACTIONS_AUTH_HEADER,
    ACTIONS_SECRET_ENV,
    MIN_SECRET_CHARS,
    actions_authorization,
    actions_host,
)
from bot.settings import ACTIONS_SECRET

logger = logging.getLogger(__name__)

OPEN_PATHS: Final = frozenset({"/health"})
WEBHOOK_PATH: Final = "/webhook"
_APPLIED_MARK: Final = "_posbot_domain_kept"
#: This process's domains (one action server app per process).
KNOWN_DOMAINS: Final = KnownDomains()


def require_secret(app: Sanic, secret: str) -> None:
    """Registers a request middleware answering 401 unless the request carries ``secret``."""
    expected = actions_authorization(secret).encode("utf-8")

    async def check_secret(request: Request) -> HTTPResponse | None:
        if request.path in OPEN_PATHS:
            return None
        given = (request.headers.get(ACTIONS_AUTH_HEADER) or "").encode("utf-8")
        if hmac.compare_digest(given, expected):
            return None
        logger.warning("Refused an action server request without the secret: %s", request.path)
        return response.json(
            {"error": "unauthorized: the action server needs the shared secret"},
            status=401,
            headers={"WWW-Authenticate": 'Bearer realm="actions"'},
        )

    app.register_middleware(check_secret, "request")


def fill_domains(app: Sanic, domains: KnownDomains = KNOWN_DOMAINS) -> KnownDomains:
    """Registers a request middleware completing action calls that name their domain by its
    digest (:meth:`KnownDomains.fill`; 409 when the digest is not known here), and makes the
    answers name the digest of the domain kept (:func:`say_kept_domains`)."""
    say_kept_domains(domains)

    async def fill_domain(request: Request) -> HTTPResponse | None:
        if request.path != WEBHOOK_PATH or request.method != "POST":
            return None
        try:
            call = request.json
        except Exception:  # a body that is not JSON: rasa-sdk answers it as before
            return None
        if not isinstance(call, dict) or domains.fill(call):
            return None
        return response.json(
            {"error": DOMAIN_UNKNOWN_ERROR, "message": "send the call again with its domain"},
            status=DOMAIN_UNKNOWN_STATUS,
        )

    app.register_middleware(fill_domain, "request")
    return domains


def say_kept_domains(domains: KnownDomains = KNOWN_DOMAINS) -> None:
    """Makes rasa-sdk's answers to calls naming a domain kept here say so (``KEPT_KEY``): the
    Rasa server leaves the domain out of its calls only after such an answer (idempotent)."""
    from rasa_sdk.executor import ActionExecutor

    original = ActionExecutor.run
    if getattr(original, _APPLIED_MARK, False):
        return

    async def run(self: ActionExecutor, action_call: Any) -> dict[str, Any] | None:
        result = await original(self, action_call)
        digest = action_call.get(DIGEST_KEY) if isinstance(action_call, dict) else None
        if isinstance(result, dict) and domains.knows(digest):
            result[KEPT_KEY] = digest
        return result

    setattr(run, _APPLIED_MARK, True)
    ActionExecutor.run = run


def create_app(
    actions: str,
    secret: str,
    cors_origins: str | list[str] | None = "",
    auto_reload: bool = False,
) -> Sanic:
    """rasa-sdk's action server app for the ``actions`` package, behind ``secret``."""
    from rasa_sdk.endpoint import create_app as create_sdk_app

    app = create_sdk_app(actions, cors_origins=cors_origins, auto_reload=auto_reload)
    require_secret(app, secret)
    fill_domains(app)  # after the secret check: middlewares run in order
    return app


def main(argv: Sequence[str] | None = None) -> int:
    """Parses rasa-sdk's options and serves the actions until stopped."""
    from rasa_sdk import utils
    from rasa_sdk.constants import APPLICATION_ROOT_LOGGER_NAME
    from rasa_sdk.endpoint import create_argument_parser, create_ssl_context
    from rasa_sdk.plugin import plugin_manager

    args = create_argument_parser().parse_args(argv)
    secret = ACTIONS_SECRET.read()
    if len(secret) < MIN_SECRET_CHARS:
        print(
            f"posbot: {ACTIONS_SECRET_ENV} must be set (at least {MIN_SECRET_CHARS} characters);"
            " `posbot serve` generates one into var/",
            file=sys.stderr,
        )
        return 2
    logging.getLogger("matplotlib").setLevel(logging.WARN)
    utils.configure_colored_logging(args.loglevel)
    utils.configure_file_logging(
        logging.getLogger(APPLICATION_ROOT_LOGGER_NAME),
        args.log_file,
        args.loglevel,
        args.logging_config_file,
    )
    utils.update_sanic_log_level()
    # rasa-sdk's default allows every origin; browsers never need to call actions.
    app = create_app(args.actions, secret, args.cors or "", args.auto_reload)
    plugin_manager().hook.attach_sanic_app_extensions(app=app)
    ssl_context = create_ssl_context(args.ssl_certificate, args.ssl_keyfile, args.ssl_password)
    host = actions_host()
    logger.info("Action server on %s:%d (secret required)", host, args.port)
    app.run(host, args.port, ssl=ssl_context, workers=utils.number_of_sanic_workers())
    return 0


if __name__ == "__main__":
    sys.exit(main())
