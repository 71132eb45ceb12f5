"""Action calls name their domain by its digest; the action server puts it back.

Unit tests of :class:`bot.domain_cache.KnownDomains`, then a real action server
(``python -m bot.actions_server``) called through Rasa's own endpoint client with our request
patch: a call naming an unknown domain is answered 409 and sent again with the domain, later
calls carry only the digest, and the actions answer exactly as with the domain in the call.
"""

from __future__ import annotations

import contextlib
import itertools
import json
from collections.abc import AsyncIterator, Iterator

import pytest
from rasa.shared.core.domain import Domain
from rasa.utils.endpoints import ClientResponseError, EndpointConfig

from bot import action_payload
from bot.domain_cache import (
    DIGEST_KEY,
    DOMAIN_KEY,
    DOMAIN_UNKNOWN_ERROR,
    DOMAIN_UNKNOWN_STATUS,
    KEPT_KEY,
    KnownDomains,
    domain_digest,
)
from tests.conftest import ROOT
from tests.security.test_action_server_auth import SECRET, action_server, forged_call
from tests.webhook_recorder import webhook_recorder

__all__ = ["action_server"]  # the fixture, shared


@pytest.fixture(scope="module")
def domain_data() -> dict:
    return Domain.load(ROOT / "domain.yml").as_dict()


def test_the_digest_is_the_same_after_a_trip_through_json(domain_data):
    digest = domain_digest(domain_data)
    assert digest is not None and len(digest) == 64
    assert domain_digest(json.loads(json.dumps(domain_data))) == digest
    assert domain_digest({**domain_data, "intents": []}) != digest
    assert domain_digest({"value": object()}) is None


def test_known_domains_fill_calls_by_digest(domain_data):
    known = KnownDomains()
    digest = domain_digest(domain_data)
    assert known.fill({"next_action": "x"})  # Rasa's own format: left alone
    assert not known.fill({DIGEST_KEY: digest})  # not known yet
    assert known.fill({DIGEST_KEY: digest, DOMAIN_KEY: domain_data})
    call = {DIGEST_KEY: digest}
    assert known.fill(call) and call[DOMAIN_KEY] is domain_data


def test_a_domain_whose_digest_does_not_match_is_not_kept(domain_data):
    known = KnownDomains()
    forged = {**domain_data, "responses": {}}
    assert known.fill({DIGEST_KEY: domain_digest(domain_data), DOMAIN_KEY: forged})
    assert not known.fill({DIGEST_KEY: domain_digest(domain_data)})


def test_only_the_latest_domains_are_kept():
    known = KnownDomains(kept=2)
    domains = [{"version": number} for number in range(3)]
    for domain in domains:
        known.fill({DIGEST_KEY: domain_digest(domain), DOMAIN_KEY: domain})
    assert not known.fill({DIGEST_KEY: domain_digest(domains[0])})
    assert known.fill({DIGEST_KEY: domain_digest(domains[2])})


@pytest.fixture(scope="module")
def action_url(action_server) -> str:
    return f"{action_server[0]}/webhook"


@pytest.fixture()
def patched() -> Iterator[None]:
    session, request = EndpointConfig.session, EndpointConfig.request
    action_payload.fast_json_requests()
    action_payload.resend_with_domain()
    action_payload._domain_digests.accepted.clear()
    action_payload._domain_digests.owed = 0
    try:
        yield
    finally:
        EndpointConfig.session, EndpointConfig.request = session, request
        action_payload._domain_digests.accepted.clear()
        action_payload._domain_digests.owed = 0


def _call(action: str, domain: dict | None, digest: str | None) -> dict:
    call = json.loads(forged_call(action))
    call.pop(DOMAIN_KEY)
    if domain is not None:
        call[DOMAIN_KEY] = domain
    if digest is not None:
        call[DIGEST_KEY] = digest
    return call


async def test_the_action_server_answers_the_same_from_its_kept_domain(
    action_url, domain_data, patched
):
    endpoint = EndpointConfig(action_url, headers={"Authorization": f"Bearer {SECRET}"})
    digest = action_payload._domain_digests.digest(domain_data)
    action = "action_suspend_reason"  # its reply carries a label read from the domain

    with_domain = await endpoint.request(json=_call(action, domain_data, None), method="post")
    # Unknown digest and no domain: answered 409, sent again with the domain by the patch.
    first = await endpoint.request(json=_call(action, None, digest), method="post")
    assert digest in action_payload._domain_digests.accepted
    # Known now: the digest alone.
    later = await endpoint.request(json=_call(action, None, digest), method="post")

    assert first.pop(KEPT_KEY) == later.pop(KEPT_KEY) == digest  # the answers say it is kept
    assert KEPT_KEY not in with_domain  # a call of Rasa's own format
    assert first == later == with_domain
    assert with_domain["responses"][0]["reason_label"] == "营业执照过期"  # from the domain


async def test_an_unknown_digest_is_refused_without_the_patch(action_url, domain_data):
    endpoint = EndpointConfig(action_url, headers={"Authorization": f"Bearer {SECRET}"})
    with pytest.raises(ClientResponseError) as refused:
        await endpoint.request(json=_call("action_suspend_reason", None, "0" * 64), method="post")
    assert refused.value.status == DOMAIN_UNKNOWN_STATUS
    assert DOMAIN_UNKNOWN_ERROR in refused.value.text.decode()


def test_a_forged_digest_needs_the_secret_first(action_url):
    import urllib.error
    import urllib.request

    body = json.dumps(_call("action_handoff", None, "0" * 64)).encode()
    request = urllib.request.Request(action_url, body, {"Content-Type": "application/json"})
    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.urlopen(request, timeout=10)
    assert refused.value.code == 401  # the secret is checked before anything else


def test_the_rasa_side_sends_the_domain_until_an_action_server_took_it(patched):
    from rasa.core.actions.action import RemoteAction
    from rasa.shared.core.trackers import DialogueStateTracker

    action_payload.send_recent_events()
    domain = Domain.load(ROOT / "domain.yml")
    tracker = DialogueStateTracker("someone", domain.slots)
    action = RemoteAction("action_suspend_reason", EndpointConfig("http://127.0.0.1:1/webhook"))

    first = action._action_call_format(tracker, domain)
    digest = first[DIGEST_KEY]
    assert first[DOMAIN_KEY] == domain.as_dict() and digest == domain_digest(domain.as_dict())
    action_payload._domain_digests.accepted.add(digest)  # an answer said the domain is kept
    later = action._action_call_format(tracker, domain)
    assert DOMAIN_KEY not in later and later[DIGEST_KEY] == digest


@contextlib.asynccontextmanager
async def _round_robin(digest: str, kept: dict[str, bool]) -> AsyncIterator[tuple[str, list]]:
    """Stand-ins for action servers behind nginx's round robin, named by ``kept`` (whether each
    keeps the domain); each answers as ours does. Yields the URL and the calls as (server,
    carried the domain, status)."""
    from aiohttp import web

    servers = itertools.cycle(kept)
    calls: list[tuple[str, bool, int]] = []

    async def handler(request: web.Request) -> web.Response:
        server, call = next(servers), await request.json()
        kept[server] = kept[server] or DOMAIN_KEY in call
        status = 200 if kept[server] else DOMAIN_UNKNOWN_STATUS
        calls.append((server, DOMAIN_KEY in call, status))
        if status != 200:
            return web.json_response({"error": DOMAIN_UNKNOWN_ERROR}, status=status)
        return web.json_response({"events": [], "responses": [], KEPT_KEY: digest})

    app = web.Application()
    app.router.add_post("/webhook", handler)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    try:
        yield f"http://127.0.0.1:{site._server.sockets[0].getsockname()[1]}/webhook", calls
    finally:
        await runner.cleanup()


async def test_a_restarted_action_server_behind_round_robin_gets_the_domain(patched):
    """The call sent again with the domain after a 409 goes to the next server: the restarted
    one had got only digests and answered 409 to every call (found by the prod fault test of
    a killed action server). Now the call after a 409 carries the domain too."""
    from rasa.core.actions.action import RemoteAction
    from rasa.shared.core.trackers import DialogueStateTracker

    action_payload.send_recent_events()
    domain = Domain.load(ROOT / "domain.yml")
    digest = action_payload._domain_digests.digest(domain.as_dict())
    assert digest is not None
    action_payload._domain_digests.accepted.add(digest)  # the other server had said it keeps it
    tracker = DialogueStateTracker("someone", domain.slots)
    kept = {"restarted": False, "other": True}
    async with _round_robin(digest, kept) as (url, calls):
        action = RemoteAction("action_suspend_reason", EndpointConfig(url))
        for _ in range(4):
            await action.action_endpoint.request(
                json=action._action_call_format(tracker, domain), method="post"
            )

    assert calls == [
        ("restarted", False, DOMAIN_UNKNOWN_STATUS),
        ("other", True, 200),  # sent again with the domain
        ("restarted", True, 200),  # the next call carries it too
        ("other", False, 200),
        ("restarted", False, 200),
    ]
    assert kept["restarted"]


async def test_an_answer_not_saying_the_domain_is_kept_keeps_the_domain_in_the_calls(
    domain_data, patched
):
    digest = action_payload._domain_digests.digest(domain_data)
    async with webhook_recorder() as (url, received):
        endpoint = EndpointConfig(url)
        await endpoint.request(json=_call("action_x", domain_data, digest), method="post")
    bodies = [json.loads(body) for body in received]
    assert bodies[0][DOMAIN_KEY] == domain_data
    assert digest not in action_payload._domain_digests.accepted


async def test_parallel_forged_domains_are_never_kept(action_url, domain_data):
    import asyncio

    digest = domain_digest({**domain_data, "session_config": {"forged": True}})
    forged = {**domain_data, "responses": {}}  # does not match the digest it claims
    endpoint = EndpointConfig(action_url, headers={"Authorization": f"Bearer {SECRET}"})
    calls = [
        endpoint.request(json=_call("action_suspend_reason", forged, digest), method="post")
        for _ in range(10)
    ] + [
        endpoint.request(json=_call("action_suspend_reason", None, digest), method="post")
        for _ in range(10)
    ]
    results = await asyncio.gather(*calls, return_exceptions=True)

    answered = [r for r in results if isinstance(r, dict)]
    refused = [r for r in results if isinstance(r, ClientResponseError)]
    assert len(answered) == 10 and all(KEPT_KEY not in r for r in answered)
    assert len(refused) == 10 and all(r.status == DOMAIN_UNKNOWN_STATUS for r in refused)
    with pytest.raises(ClientResponseError):  # still unknown afterwards
        await endpoint.request(json=_call("action_suspend_reason", None, digest), method="post")
