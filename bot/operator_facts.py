"""Operator facts shown to users: hotline, service hours, provider name.

They come from the environment (``POSBOT_HOTLINE``, ``POSBOT_SERVICE_HOURS``,
``POSBOT_PROVIDER_NAME``) or, for what the environment leaves unset, from a YAML file
(``operator.yml`` at the repository root, or ``POSBOT_OPERATOR_FILE``). They are read once per
process: a change needs a restart, never retraining.

Response texts write ``{hotline}``, ``{service_hours}`` and ``{provider_name}``; every text
that reaches a user is filled by :func:`fill_operator_facts` (the Rasa server's NLG, the pages
and channels that render domain texts themselves, nginx's degraded reply). ``{hotline}`` carries
its own label ("客服热线 95xxx"), so texts say "请拨打{hotline}". When a fact is unset the
text says where to find it instead of showing a made-up value.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Final

import yaml

from bot.settings import HOTLINE, OPERATOR_FILE, PROVIDER_NAME, SERVICE_HOURS, Setting

logger = logging.getLogger(__name__)

OPERATOR_FILE_ENV: Final = OPERATOR_FILE.env
DEFAULT_OPERATOR_FILE: Final = OPERATOR_FILE.default
#: Fact name -> its setting.
FACT_SETTINGS: Final[dict[str, Setting[str | None]]] = {
    "hotline": HOTLINE,
    "service_hours": SERVICE_HOURS,
    "provider_name": PROVIDER_NAME,
}
#: Fact name -> environment variable.
FACT_ENV: Final = {name: setting.env for name, setting in FACT_SETTINGS.items()}
HOTLINE_LABEL: Final = "客服热线 {}"
#: What a text says when the operator did not configure the fact.
UNSET_TEXT: Final = {
    "hotline": "您的收单机构客服电话（POS机身或签购单上印有）",
    "service_hours": "以您的收单机构公布的时间为准",
    "provider_name": "收单机构",
}


class OperatorFileError(ValueError):
    """The operator file exists but is not a mapping of text values."""


@dataclass(frozen=True)
class OperatorFacts:
    """The configured facts (``None`` when unset)."""

    hotline: str | None = None
    service_hours: str | None = None
    provider_name: str | None = None

    def missing(self) -> list[str]:
        """The environment variables of the facts that are unset."""
        return [env for name, env in FACT_ENV.items() if not getattr(self, name)]

    def values(self) -> dict[str, str]:
        """The text of each placeholder, configured or the unset wording."""
        values = {name: getattr(self, name) or UNSET_TEXT[name] for name in FACT_ENV}
        if self.hotline:
            values["hotline"] = HOTLINE_LABEL.format(self.hotline)
        return values


def _clean(value: object) -> str | None:
    text = str(value).strip() if value is not None else ""
    return text or None


def read_operator_file(path: Path) -> dict[str, str]:
    """The facts of an operator file (missing file: none).

    Raises:
        OperatorFileError: the file is not a YAML mapping.
    """
    if not path.is_file():
        return {}
    try:
        content = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except yaml.YAMLError as error:
        raise OperatorFileError(f"{path}: not valid YAML ({error})") from None
    if not isinstance(content, dict):
        raise OperatorFileError(f"{path}: expected a mapping of {', '.join(FACT_ENV)}")
    unknown = sorted(set(content) - set(FACT_ENV))
    if unknown:
        raise OperatorFileError(f"{path}: unknown keys {', '.join(map(str, unknown))}")
    return {name: text for name in FACT_ENV if (text := _clean(content.get(name)))}


def load_operator_facts(environ: Mapping[str, str] | None = None) -> OperatorFacts:
    """The facts from the environment, then the operator file for what it leaves unset."""
    from_file = read_operator_file(OPERATOR_FILE.read(environ))
    facts = {
        name: setting.read(environ) or from_file.get(name)
        for name, setting in FACT_SETTINGS.items()
    }
    return OperatorFacts(**facts)


@lru_cache(maxsize=1)
def operator_facts() -> OperatorFacts:
    """The process's facts, read once (a change needs a restart).

    A broken operator file is logged and treated as absent, so a typo never takes the bot
    down; ``posbot serve`` reports it before starting.
    """
    try:
        return load_operator_facts()
    except OperatorFileError as error:
        logger.error("operator facts: %s; using the unset wording", error)
        environ = {s.env: value for s in FACT_SETTINGS.values() if (value := s.read())}
        return load_operator_facts({**environ, OPERATOR_FILE_ENV: os.devnull})


def fill_operator_facts(text: str, facts: OperatorFacts | None = None) -> str:
    """``text`` with every operator placeholder replaced (other braces are left alone)."""
    if "{" not in text:
        return text
    for name, value in (facts or operator_facts()).values().items():
        text = text.replace("{" + name + "}", value)
    return text


def unset_warning(facts: OperatorFacts) -> str | None:
    """The warning ``posbot serve`` prints when facts are unset, or ``None``."""
    missing = facts.missing()
    if not missing:
        return None
    return (
        "posbot: WARNING operator facts not configured: "
        + ", ".join(missing)
        + f" (set them in the environment or in {DEFAULT_OPERATOR_FILE} / ${OPERATOR_FILE_ENV})."
        + " Replies will tell users to call 您的收单机构客服电话（POS机身或签购单上印有） instead."
    )
