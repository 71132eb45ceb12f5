"""The screen messages of a declined transaction (终端应答码) and what each one means.

The table is operator data (``config/response_codes.yml``, or the file named by
``POSBOT_RESPONSE_CODES``), read at run time, never trained on: the acquirer's own table wins
where it differs from the typical meanings, so the operator edits the file and restarts nothing
but the action server (a changed file is even picked up on the next look-up). A bad file is
refused with an error naming the file, the entry and the field (:class:`CodeTableError`);
``posbot codes check`` and the start of ``posbot serve`` / ``posbot prod start`` run the same
check, so a typo stops the start instead of failing a merchant's chat.
"""

from __future__ import annotations

import logging
import re
import threading
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from enum import Enum
from pathlib import Path
from typing import Any, Final

import yaml

from bot.domain_values import to_half_width
from bot.settings import RESPONSE_CODES
from bot.text import normalize_text

logger = logging.getLogger(__name__)

CODE_TABLE_ENV: Final = RESPONSE_CODES.env
DEFAULT_CODE_TABLE: Final = RESPONSE_CODES.default

#: Two digits ("03"), a letter and a digit ("A0"), or a vendor code ("PN-0093").
CODE_RE: Final = re.compile(r"^(?:[0-9]{2}|[A-Z][0-9]|[A-Z]{1,4}-[0-9]{2,5})$")
_CODE_SEPARATORS: Final = re.compile(r"[\s_－—]+")
_SECTIONS: Final = ("codes", "phrases")
_ENTRY_FIELDS: Final = frozenset({"meaning", "kind"})
_MAX_MEANING: Final = 40


class CodeKind(str, Enum):
    """What a screen message tells the merchant to do (``utter_code_advice_<kind>``)."""

    RESTRICTED = "restricted"
    CARD_SIDE = "card_side"
    NETWORK = "network"
    KEYS = "keys"
    DUPLICATE_FORMAT = "duplicate_format"


KIND_NAMES: Final = tuple(kind.value for kind in CodeKind)


class CodeTableError(ValueError):
    """The code table file is unusable; the message names the file, the entry and the field."""


@dataclass(frozen=True)
class ScreenMessage:
    """One entry of the table: a code (or ``None`` for a screen text), its meaning and kind."""

    code: str | None
    meaning: str
    kind: CodeKind


def normalize_code(raw: object) -> str | None:
    """The canonical form of a code as typed ("ａ０" -> "A0", "pn 0093" -> "PN-0093").

    Returns:
        The upper-case code, or ``None`` when ``raw`` does not look like a response code.
    """
    if raw is None or isinstance(raw, bool):
        return None
    text = to_half_width(str(raw)).strip().upper()
    text = _CODE_SEPARATORS.sub("-", text)
    if re.fullmatch(r"[A-Z]{1,4}[0-9]{3,5}", text):
        # A vendor code typed without its dash ("PN0093"); two-character codes never get one.
        letters = re.match(r"[A-Z]+", text)
        assert letters is not None
        text = f"{letters.group()}-{text[letters.end() :]}"
    return text if CODE_RE.match(text) else None


def _fold(text: str) -> str:
    """Folding used for screen texts: full width, Traditional script and case, no spaces."""
    return re.sub(r"\s+", "", normalize_text(text).text)


@dataclass(frozen=True)
class CodeTable:
    """Response codes and screen texts with their meaning and kind."""

    codes: Mapping[str, ScreenMessage]
    #: (folded screen text, entry), longest text first so that the most precise one wins.
    phrases: tuple[tuple[str, ScreenMessage], ...]

    def lookup_code(self, raw: object) -> ScreenMessage | None:
        """The entry of a code as the user typed it, or ``None`` if the table does not have it."""
        code = normalize_code(raw)
        return self.codes.get(code) if code else None

    def find_phrase(self, text: str) -> ScreenMessage | None:
        """The entry of the longest screen text found in ``text``, or ``None``."""
        folded = _fold(text)
        return next((entry for phrase, entry in self.phrases if phrase in folded), None)

    def explain(self, codes: Iterable[object], text: str) -> Explanation:
        """What the user saw, from the codes the NLU extracted and the message text.

        A known code wins; then a known screen text; then an unknown code (answered honestly);
        nothing recognisable at all means the bot should ask what the screen says.
        """
        normalized = [code for code in map(normalize_code, codes) if code]
        for code in normalized:
            if code in self.codes:
                return Explanation(entry=self.codes[code], unknown_code=None)
        entry = self.find_phrase(text)
        if entry is not None:
            return Explanation(entry=entry, unknown_code=None)
        return Explanation(entry=None, unknown_code=normalized[0] if normalized else None)


@dataclass(frozen=True)
class Explanation:
    """The result of :meth:`CodeTable.explain`."""

    entry: ScreenMessage | None
    #: A well-formed code that the table does not know.
    unknown_code: str | None


class _UniqueKeyLoader(yaml.SafeLoader):
    """A safe loader that refuses a key given twice (PyYAML would keep the last silently)."""


def _construct_unique_mapping(loader: _UniqueKeyLoader, node: yaml.MappingNode) -> dict:
    seen: dict[Any, int] = {}
    for key_node, _ in node.value:
        key = loader.construct_object(key_node)
        if key in seen:
            raise CodeTableError(
                f"line {key_node.start_mark.line + 1}: {key!r} is listed twice "
                f"(first on line {seen[key] + 1})"
            )
        seen[key] = key_node.start_mark.line
    return loader.construct_mapping(node)


_UniqueKeyLoader.add_constructor(
    yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_unique_mapping
)


def _entry(section: str, key: object, value: object, code: str | None) -> ScreenMessage:
    where = f"{section}[{key!r}]"
    if not isinstance(value, Mapping):
        raise CodeTableError(f"{where}: expected {{meaning: …, kind: …}}, got {value!r}")
    unknown = set(value) - _ENTRY_FIELDS
    if unknown:
        raise CodeTableError(f"{where}: unknown field(s) {sorted(map(str, unknown))}")
    meaning = value.get("meaning")
    if not isinstance(meaning, str) or not meaning.strip():
        raise CodeTableError(f"{where}: 'meaning' must be a non-empty text")
    if len(meaning.strip()) > _MAX_MEANING:
        raise CodeTableError(f"{where}: 'meaning' is longer than {_MAX_MEANING} characters")
    kind = value.get("kind")
    if kind not in KIND_NAMES:
        raise CodeTableError(f"{where}: 'kind' is {kind!r}, expected one of {list(KIND_NAMES)}")
    return ScreenMessage(code=code, meaning=meaning.strip(), kind=CodeKind(kind))


def parse_table(document: object) -> CodeTable:
    """Builds a table from the parsed YAML document.

    Raises:
        CodeTableError: the document is not a valid table (the message says where).
    """
    if not isinstance(document, Mapping):
        raise CodeTableError("expected a mapping with 'codes' and 'phrases'")
    unknown = set(document) - set(_SECTIONS)
    if unknown:
        raise CodeTableError(f"unknown section(s) {sorted(map(str, unknown))}")
    sections = {}
    for section in _SECTIONS:
        value = document.get(section)
        if not isinstance(value, Mapping) or not value:
            raise CodeTableError(f"'{section}' must be a non-empty mapping")
        sections[section] = value
    codes: dict[str, ScreenMessage] = {}
    for key, value in sections["codes"].items():
        if not isinstance(key, str):
            raise CodeTableError(
                f'codes[{key!r}]: write the code in quotes ("03"), YAML read it as a number'
            )
        code = normalize_code(key)
        if code is None or code != key.strip():
            raise CodeTableError(
                f"codes[{key!r}]: not a response code in canonical form (two digits, a capital "
                "letter and a digit, or a vendor code like PN-0093)"
            )
        codes[code] = _entry("codes", key, value, code)
    phrases: dict[str, ScreenMessage] = {}
    for key, value in sections["phrases"].items():
        folded = _fold(key) if isinstance(key, str) else ""
        if len(folded) < 2:
            raise CodeTableError(f"phrases[{key!r}]: a screen text of at least 2 characters")
        if folded in phrases:
            raise CodeTableError(f"phrases[{key!r}]: the same text as another phrase")
        phrases[folded] = _entry("phrases", key, value, None)
    ordered = tuple(sorted(phrases.items(), key=lambda item: len(item[0]), reverse=True))
    return CodeTable(codes=codes, phrases=ordered)


def load_table(path: Path) -> CodeTable:
    """Reads and validates the table file.

    Raises:
        CodeTableError: the file is missing, unreadable, not YAML or not a valid table; the
            message starts with the path.
    """
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        raise CodeTableError(f"{path}: cannot read the code table ({error})") from None
    try:
        return parse_table(yaml.load(text, Loader=_UniqueKeyLoader))  # a SafeLoader
    except CodeTableError as error:
        raise CodeTableError(f"{path}: {error}") from None
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        where = f"line {mark.line + 1}: " if mark is not None else ""
        problem = getattr(error, "problem", None) or str(error)
        raise CodeTableError(f"{path}: {where}not valid YAML ({problem})") from None


def table_path() -> Path:
    """The table file named by ``POSBOT_RESPONSE_CODES``, or the default."""
    return RESPONSE_CODES.read()


class TableSource:
    """The table of a file, read again when the file changes.

    A change that makes the file invalid is logged as an error and the last good table stays in
    use, so an operator's typo never breaks conversations already running.
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        self._lock = threading.Lock()
        self._version: tuple[int, int] | None = None
        self._table: CodeTable | None = None

    def get(self) -> CodeTable:
        """The current table.

        Raises:
            CodeTableError: the file was never valid (nothing to fall back on).
        """
        with self._lock:
            try:
                stat = self.path.stat()
                version = (stat.st_mtime_ns, stat.st_size)
            except OSError:
                version = None
            if self._table is not None and version == self._version:
                return self._table
            try:
                self._table = load_table(self.path)
            except CodeTableError as error:
                if self._table is None:
                    raise
                logger.error("response code table not reloaded, keeping the last one: %s", error)
            self._version = version
            return self._table


_sources: dict[Path, TableSource] = {}
_sources_lock = threading.Lock()


def default_table() -> CodeTable:
    """The process-wide table of :func:`table_path`.

    Raises:
        CodeTableError: the file is not a valid table.
    """
    path = table_path()
    with _sources_lock:
        source = _sources.setdefault(path, TableSource(path))
    return source.get()
