"""Files are judged by their content: JPEG, PNG and PDF only; images lose their metadata."""

from __future__ import annotations

import io

import pytest
from PIL import Image

from bot.services.document_check import JPEG, PDF, PNG, DocumentRejected, Problem, check_document
from tests.documents_samples import (
    GPS_IFD,
    MAKE_TAG,
    SECRET_MAKE,
    jpeg_with_exif,
    pdf,
    pdf_with_compressed_javascript,
    png,
    png_bomb,
)

LIMITS = {"max_bytes": 1024 * 1024, "max_pixels": 4_000_000}


def test_a_jpeg_is_re_encoded_without_exif_or_gps_and_turned_upright() -> None:
    original = jpeg_with_exif()
    assert SECRET_MAKE.encode() in original
    checked = check_document(original, **LIMITS)
    assert checked.mime == JPEG
    assert SECRET_MAKE.encode() not in checked.data and b"Exif" not in checked.data
    image = Image.open(io.BytesIO(checked.data))
    assert image.format == "JPEG"
    assert image.size == (32, 64)  # the orientation tag was applied, then dropped
    exif = image.getexif()
    assert MAKE_TAG not in exif and not exif.get_ifd(GPS_IFD)
    assert len(checked.sha256) == 64 and checked.size == len(checked.data)


def test_a_png_loses_its_text_chunks() -> None:
    checked = check_document(png(text="GPS 31.2,121.4 secret"), **LIMITS)
    assert checked.mime == PNG
    assert b"secret" not in checked.data and b"tEXt" not in checked.data
    assert Image.open(io.BytesIO(checked.data)).size == (40, 30)


def test_a_well_formed_pdf_is_kept_as_it_is() -> None:
    data = pdf()
    checked = check_document(data, **LIMITS)
    assert (checked.mime, checked.data) == (PDF, data)


@pytest.mark.parametrize(
    ("data", "problem"),
    [
        (b"", Problem.EMPTY),
        (b"GIF89a" + b"\x00" * 100, Problem.UNSUPPORTED),
        (b"MZ\x90\x00" + b"\x00" * 100, Problem.UNSUPPORTED),
        (b"<html><script>alert(1)</script></html>", Problem.UNSUPPORTED),
        (b"\xef\xbb\xbf%PDF-1.4 not at the start", Problem.UNSUPPORTED),
        (png()[:60], Problem.DAMAGED),
        (jpeg_with_exif()[:200], Problem.DAMAGED),
        (b"\xff\xd8\xff\xe0" + b"\x00" * 50, Problem.DAMAGED),
        (png_bomb(), Problem.TOO_MANY_PIXELS),
        (png() + b"PK\x03\x04zip-entry" + b"PK\x05\x06" + b"\x00" * 18, Problem.UNSAFE),
        (png() + b"<script>alert(1)</script>", Problem.UNSAFE),
        (pdf()[:-40], Problem.DAMAGED),
        (b"%PDF-1.4\n1 0 obj\n<<>>\nendobj\n%%EOF\n", Problem.DAMAGED),
        (pdf().replace(b"/Root 1 0 R", b"/Info 1 0 R"), Problem.DAMAGED),
        (pdf(b"<< /S /JavaScript /JS (app.alert(1)) >>"), Problem.UNSAFE),
        (pdf(b"<< /S /Launch /F (cmd.exe) >>"), Problem.UNSAFE),
        (pdf_with_compressed_javascript(), Problem.UNSAFE),
        (pdf() + b"<html><body>polyglot</body></html>", Problem.UNSAFE),
        (pdf() + b"trailing junk after the end", Problem.DAMAGED),
    ],
    ids=[
        "zero-bytes",
        "gif",
        "exe",
        "html",
        "pdf-after-bom",
        "truncated-png",
        "truncated-jpeg",
        "jpeg-header-only",
        "png-bomb",
        "png-zip-polyglot",
        "png-script-polyglot",
        "truncated-pdf",
        "pdf-without-xref",
        "pdf-without-root",
        "pdf-javascript",
        "pdf-launch",
        "pdf-compressed-javascript",
        "pdf-html-polyglot",
        "pdf-trailing-data",
    ],
)
def test_hostile_files_are_refused_with_their_reason(data: bytes, problem: Problem) -> None:
    with pytest.raises(DocumentRejected) as refused:
        check_document(data, **LIMITS)
    assert refused.value.problem is problem


def test_size_and_pixel_limits_are_the_callers() -> None:
    with pytest.raises(DocumentRejected) as refused:
        check_document(png(), max_bytes=100, max_pixels=4_000_000)
    assert refused.value.problem is Problem.TOO_LARGE
    with pytest.raises(DocumentRejected) as refused:
        check_document(png(40, 30), max_bytes=1024 * 1024, max_pixels=1000)
    assert refused.value.problem is Problem.TOO_MANY_PIXELS
