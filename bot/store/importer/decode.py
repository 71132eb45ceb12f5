"""Decoding an export: its bytes to text in the declared encoding (strictly, nothing guessed),
and the text to CSV records located by physical line."""

from __future__ import annotations

import csv
import re
from collections.abc import Iterable, Iterator
from typing import Final

from bot.store.importer.contract import CsvImportError, RowError

UTF8_CODEC: Final = "utf-8-sig"
GB18030_CODEC: Final = "gb18030"
DEFAULT_ENCODING: Final = "utf-8"
# Accepted --encoding values; GBK is read as GB18030, its superset.
ENCODINGS: Final = {"utf-8": UTF8_CODEC, "gb18030": GB18030_CODEC, "gbk": GB18030_CODEC}
_CHINESE_RE: Final = re.compile(r"[\u4e00-\u9fff]")


class CsvRecords(Iterator[tuple[int, list[str]]]):
    """The records of CSV text as (first physical line, cells), quoted newlines included.

    Iterating raises ``csv.Error`` on malformed CSV; ``line_num`` is then the line reached.
    """

    def __init__(self, text_stream: Iterable[str]) -> None:
        self._reader = csv.reader(text_stream, strict=True)
        self._previous_end = 0

    @property
    def line_num(self) -> int:
        """The count of physical lines read so far."""
        return self._reader.line_num

    def __iter__(self) -> CsvRecords:
        return self

    def __next__(self) -> tuple[int, list[str]]:
        cells = next(self._reader)
        line = self._previous_end + 1
        self._previous_end = self._reader.line_num
        return line, cells


def _line_of(data: bytes, offset: int) -> int:
    """The physical line (1-based) of a byte offset."""
    return data.count(b"\n", 0, offset) + 1


def _utf8_chinese_line(data: bytes) -> int | None:
    """The first line that is valid UTF-8 with Chinese characters in it, if any.

    GBK/GB18030 text practically never forms such a line, so in a file read as GB18030 it is the
    sign of mixed encodings (some rows saved as UTF-8).
    """
    for number, line in enumerate(data.split(b"\n"), 1):
        if line.isascii():
            continue
        try:
            text = line.decode("utf-8")
        except UnicodeDecodeError:
            continue
        if _CHINESE_RE.search(text):
            return number
    return None


def _decodes(data: bytes, codec: str) -> bool:
    try:
        data.decode(codec)
    except UnicodeDecodeError:
        return False
    return True


def decode_export(data: bytes, encoding: str = DEFAULT_ENCODING) -> str:
    """Decodes an export strictly; a byte that does not fit the encoding rejects the file.

    Args:
        data: the file's bytes.
        encoding: ``utf-8`` (the contract; a BOM is accepted) or ``gb18030``/``gbk`` for a
            file saved by Excel on Chinese Windows. Nothing is guessed: a GBK file imported as
            UTF-8 is rejected with a hint, and a file read as GB18030 that has UTF-8 rows
            (mixed encodings) is rejected instead of being stored as mojibake.

    Raises:
        CsvImportError: with the line of the first byte that does not fit.
        ValueError: for an encoding other than those above.
    """
    codec = ENCODINGS.get(encoding.strip().lower())
    if codec is None:
        raise ValueError(f"unsupported encoding {encoding!r}: use one of {', '.join(ENCODINGS)}")
    label = "UTF-8" if codec == UTF8_CODEC else "GB18030/GBK"
    try:
        text = data.decode(codec)
    except UnicodeDecodeError as error:
        where = f"byte 0x{data[error.start]:02x} at offset {error.start}"
        if codec != UTF8_CODEC and _decodes(data, UTF8_CODEC):
            advice = "the file is UTF-8: import it without --encoding"
        elif codec != UTF8_CODEC and (utf8_line := _utf8_chinese_line(data)) is not None:
            advice = (
                f"mixed encodings: line {utf8_line} is UTF-8; "
                "export the whole file in one encoding (UTF-8 preferred)"
            )
        elif codec != UTF8_CODEC:
            advice = "the file is in another encoding: save it as UTF-8"
        elif (utf8_line := _utf8_chinese_line(data)) is not None:
            advice = (
                f"mixed encodings: line {utf8_line} is UTF-8 but this line is not; "
                "export the whole file again as UTF-8"
            )
        elif _decodes(data, GB18030_CODEC):
            advice = (
                "it looks like GBK/GB18030 (Excel's CSV on Chinese Windows): save it as "
                "'CSV UTF-8', or import it with --encoding gb18030"
            )
        else:
            advice = "export or save it as UTF-8 (e.g. not GBK/ANSI) and import again"
        message = f"the file is not valid {label} ({where}); {advice}"
        raise CsvImportError([RowError(_line_of(data, error.start), message)]) from None
    if codec != UTF8_CODEC and (utf8_line := _utf8_chinese_line(data)) is not None:
        message = (
            "mixed encodings: this line is UTF-8 but the file was read as GB18030/GBK; "
            "export the whole file in one encoding (UTF-8 preferred) and import again"
        )
        raise CsvImportError([RowError(utf8_line, message)])
    return text
