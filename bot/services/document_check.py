"""What a sent file really is: JPEG, PNG or PDF by its content (never its name or type).

Images are decoded in full (truncated or corrupt ones are refused) and encoded again, which
drops EXIF, GPS, comments and anything appended after the image; the picture is turned upright
first. A PDF must have the structure of one (header, cross-reference, trailer with a catalogue,
``%%EOF`` at the end) and no active content (JavaScript, launch actions, embedded files),
including inside compressed streams. A file that is also something else (a ZIP, an HTML page,
a script) is refused.
"""

from __future__ import annotations

import hashlib
import io
import re
import warnings
import zlib
from dataclasses import dataclass
from enum import Enum
from typing import Final

from PIL import Image, ImageOps

JPEG: Final = "image/jpeg"
PNG: Final = "image/png"
PDF: Final = "application/pdf"
EXTENSIONS: Final = {JPEG: "jpg", PNG: "png", PDF: "pdf"}
JPEG_MAGIC: Final = b"\xff\xd8\xff"
PNG_MAGIC: Final = b"\x89PNG\r\n\x1a\n"
PDF_MAGIC: Final = re.compile(rb"^%PDF-(1\.[0-7]|2\.0)[\r\n %]")
JPEG_QUALITY: Final = 90
# Bytes of PDF streams decompressed to look for active content, at most (a zip bomb stops here).
MAX_INFLATED_BYTES: Final = 64 * 1024 * 1024
TAIL_BYTES: Final = 1024
# Signatures of other formats inside the file: a polyglot (opens as something else elsewhere).
FOREIGN_MARKERS: Final = (b"PK\x03\x04", b"PK\x05\x06", b"<script", b"<html", b"<?php", b"<svg")
ACTIVE_PDF: Final = re.compile(
    rb"/(JavaScript|JS|Launch|EmbeddedFile|EmbeddedFiles|RichMedia|XFA|SubmitForm|ImportData)\b"
)
_STARTXREF: Final = re.compile(rb"startxref\s+(\d{1,12})\s+%%EOF\s*$")
_XREF_AT: Final = re.compile(rb"xref\b|\d{1,10}\s+\d{1,5}\s+obj\b")
_ROOT: Final = re.compile(rb"/Root\s+\d{1,10}\s+\d{1,5}\s+R")
_STREAM: Final = re.compile(rb"stream\r?\n")


class Problem(str, Enum):
    """Why a file was refused (each has its own message for the merchant)."""

    EMPTY = "empty"
    TOO_LARGE = "too_large"
    UNSUPPORTED = "unsupported"
    DAMAGED = "damaged"
    TOO_MANY_PIXELS = "too_many_pixels"
    UNSAFE = "unsafe"


class DocumentRejected(ValueError):
    """The file is not an acceptable document; ``problem`` says why, ``detail`` for operators."""

    def __init__(self, problem: Problem, detail: str) -> None:
        super().__init__(f"{problem.value}: {detail}")
        self.problem = problem
        self.detail = detail


@dataclass(frozen=True)
class CheckedDocument:
    """A file that passed: what it is, and the bytes to keep (images re-encoded)."""

    mime: str
    data: bytes

    @property
    def sha256(self) -> str:
        """The content hash of the kept bytes (the file's name in the store)."""
        return hashlib.sha256(self.data).hexdigest()

    @property
    def size(self) -> int:
        """Bytes kept."""
        return len(self.data)


def check_document(data: bytes, *, max_bytes: int, max_pixels: int) -> CheckedDocument:
    """Checks a sent file by its content.

    Raises:
        DocumentRejected: empty, too large, not JPEG/PNG/PDF, damaged, a decompression bomb,
            a polyglot or active content.
    """
    if not data:
        raise DocumentRejected(Problem.EMPTY, "zero bytes")
    if len(data) > max_bytes:
        raise DocumentRejected(Problem.TOO_LARGE, f"{len(data)} bytes over {max_bytes}")
    if data.startswith(JPEG_MAGIC):
        return _image(data, "JPEG", JPEG, max_pixels)
    if data.startswith(PNG_MAGIC):
        return _image(data, "PNG", PNG, max_pixels)
    if PDF_MAGIC.match(data):
        return _pdf(data)
    raise DocumentRejected(Problem.UNSUPPORTED, f"unknown magic bytes {data[:8].hex()}")


def _foreign(data: bytes) -> bytes | None:
    lowered = data.lower()
    return next((marker for marker in FOREIGN_MARKERS if marker.lower() in lowered), None)


def _image(data: bytes, pil_format: str, mime: str, max_pixels: int) -> CheckedDocument:
    marker = _foreign(data)
    if marker is not None:
        raise DocumentRejected(Problem.UNSAFE, f"{mime} also holds {marker!r}")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            image = Image.open(io.BytesIO(data), formats=[pil_format])
            width, height = image.size
            if width < 1 or height < 1 or width * height > max_pixels:
                raise DocumentRejected(
                    Problem.TOO_MANY_PIXELS, f"{width}x{height} over {max_pixels} pixels"
                )
            image.load()
            upright = ImageOps.exif_transpose(image) or image
            return CheckedDocument(mime, _encode(upright, pil_format))
    except DocumentRejected:
        raise
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as error:
        raise DocumentRejected(Problem.TOO_MANY_PIXELS, type(error).__name__) from None
    except (OSError, ValueError, SyntaxError, EOFError, MemoryError) as error:
        raise DocumentRejected(Problem.DAMAGED, f"{mime} does not decode: {error}") from None


def _encode(image: Image.Image, pil_format: str) -> bytes:
    """The picture alone, without any metadata chunk or segment."""
    out = io.BytesIO()
    if pil_format == "JPEG":
        if image.mode not in ("RGB", "L", "CMYK"):
            image = image.convert("RGB")
        image.save(out, "JPEG", quality=JPEG_QUALITY, optimize=True)
    else:
        if image.mode not in ("1", "L", "LA", "P", "RGB", "RGBA", "I", "I;16"):
            image = image.convert("RGBA")
        image.save(out, "PNG", optimize=False)
    return out.getvalue()


def _pdf(data: bytes) -> CheckedDocument:
    marker = _foreign(data)
    if marker is not None:
        raise DocumentRejected(Problem.UNSAFE, f"PDF also holds {marker!r}")
    tail = data[-TAIL_BYTES:]
    found = _STARTXREF.search(tail)
    if found is None:
        raise DocumentRejected(Problem.DAMAGED, "PDF without startxref/%%EOF at its end")
    offset = int(found.group(1))
    if offset >= len(data) or not _XREF_AT.match(data, offset):
        raise DocumentRejected(Problem.DAMAGED, "PDF startxref points to no cross-reference")
    if _ROOT.search(data) is None:
        raise DocumentRejected(Problem.DAMAGED, "PDF trailer names no /Root catalogue")
    if b"endobj" not in data:
        raise DocumentRejected(Problem.DAMAGED, "PDF holds no object")
    active = ACTIVE_PDF.search(data) or _active_in_streams(data)
    if active:
        raise DocumentRejected(Problem.UNSAFE, "PDF with active content")
    return CheckedDocument(PDF, data)


def _active_in_streams(data: bytes) -> bool:
    """Whether a Flate-compressed stream holds active content (bounded decompression)."""
    budget = MAX_INFLATED_BYTES
    for start in _STREAM.finditer(data):
        end = data.find(b"endstream", start.end())
        if end < 0:
            raise DocumentRejected(Problem.DAMAGED, "PDF stream without endstream")
        inflater = zlib.decompressobj()
        try:
            inflated = inflater.decompress(data[start.end() : end], budget)
        except zlib.error:
            continue  # not Flate (images, other filters): scanned raw above
        budget -= len(inflated)
        if ACTIVE_PDF.search(inflated) or _foreign(inflated):
            return True
        if budget <= 0 or inflater.unconsumed_tail:
            raise DocumentRejected(Problem.TOO_LARGE, "PDF streams inflate too far")
    return False
