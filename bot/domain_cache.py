"""The domain an action call refers to by its digest instead of carrying it.

Rasa 3.6 puts the whole domain (67 kB of JSON) in every custom action call: Rasa writes it, the
action server reads it (a third of the action server's CPU per call) and nginx carries it
twice. The Rasa server (:mod:`bot.action_payload`) now sends the domain's SHA-256 digest with
every call and the domain itself until an action server's answer says it keeps that domain
(:data:`KEPT_KEY`: an action server of an earlier version never says so, and keeps getting the
domain); the action server (:mod:`bot.actions_server`) keeps the domains it was sent, checked
against their digest, and puts the right one back into a call that carries only the digest.
An action server that does not know the digest (it restarted, or it is the other one behind
nginx) answers :data:`DOMAIN_UNKNOWN_STATUS` with :data:`DOMAIN_UNKNOWN_ERROR`, and the Rasa
server sends the call again with the domain: one extra round trip per action server and domain.

No Rasa import here: the action server runs without Rasa.
"""

from __future__ import annotations

import hashlib
from collections import OrderedDict
from collections.abc import Mapping
from typing import Any, Final

import orjson

#: The call's key holding the domain's digest.
DIGEST_KEY: Final = "posbot_domain_digest"
#: The call's key holding the domain (rasa-sdk reads it there).
DOMAIN_KEY: Final = "domain"
#: The key of an action server's answer naming the digest of the domain it keeps.
KEPT_KEY: Final = "posbot_domain_kept"
#: The action server's answer to a digest it does not know.
DOMAIN_UNKNOWN_STATUS: Final = 409
DOMAIN_UNKNOWN_ERROR: Final = "posbot_domain_unknown"
#: Domains an action server keeps (a new model brings a new one; the old one ages out).
KEPT_DOMAINS: Final = 4


def domain_digest(domain: Mapping[str, Any]) -> str | None:
    """SHA-256 of the domain's canonical JSON (sorted keys), the same for the dictionary Rasa
    has and for the one the action server parsed from the call; None when it has a value JSON
    cannot carry faithfully (then the domain is always sent)."""
    try:
        canonical = orjson.dumps(domain, option=orjson.OPT_SORT_KEYS | orjson.OPT_NON_STR_KEYS)
    except TypeError:
        return None
    return hashlib.sha256(canonical).hexdigest()


class KnownDomains:
    """The action server's domains by digest, the most recently used kept."""

    def __init__(self, kept: int = KEPT_DOMAINS) -> None:
        self.kept = kept
        self._domains: OrderedDict[str, dict[str, Any]] = OrderedDict()

    def knows(self, digest: Any) -> bool:
        """Whether the domain of ``digest`` is kept here."""
        return isinstance(digest, str) and digest in self._domains

    def fill(self, call: dict[str, Any]) -> bool:
        """Completes ``call`` in place: remembers a domain it carries (when its digest checks
        out), or puts back the domain its digest names.

        Returns:
            False when the call names a domain by a digest not known here (the caller answers
            :data:`DOMAIN_UNKNOWN_STATUS`); True otherwise.
        """
        digest = call.get(DIGEST_KEY)
        if not isinstance(digest, str):
            return True  # a call of Rasa's own format
        domain = call.get(DOMAIN_KEY)
        if isinstance(domain, dict):
            if digest not in self._domains and domain_digest(domain) == digest:
                self._domains[digest] = domain
                while len(self._domains) > self.kept:
                    self._domains.popitem(last=False)
            return True
        known = self._domains.get(digest)
        if known is None:
            return False
        self._domains.move_to_end(digest)
        call[DOMAIN_KEY] = known
        return True
