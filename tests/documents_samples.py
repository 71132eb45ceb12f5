"""Sample files for the document tests: real JPEG/PNG/PDF bytes and hostile variants."""

from __future__ import annotations

import io
import struct
import zlib

from PIL import Image

GPS_IFD = 0x8825
MAKE_TAG = 0x010F
SECRET_MAKE = "SpyCam-4711"


def png(width: int = 40, height: int = 30, text: str | None = None) -> bytes:
    """A small PNG, with a tEXt chunk when ``text`` is given."""
    from PIL.PngImagePlugin import PngInfo

    image = Image.new("RGB", (width, height), (200, 30, 30))
    out = io.BytesIO()
    info = PngInfo()
    if text:
        info.add_text("Comment", text)
    image.save(out, "PNG", pnginfo=info)
    return out.getvalue()


def jpeg_with_exif() -> bytes:
    """A JPEG carrying EXIF: camera make and a GPS position, rotated by its orientation tag."""
    image = Image.new("RGB", (64, 32), (10, 120, 200))
    exif = Image.Exif()
    exif[MAKE_TAG] = SECRET_MAKE
    exif[0x0112] = 6  # orientation: rotate 90° to show upright
    exif.get_ifd(GPS_IFD).update({1: "N", 2: (31.0, 14.0, 0.0), 3: "E", 4: (121.0, 28.0, 0.0)})
    out = io.BytesIO()
    image.save(out, "JPEG", exif=exif.tobytes(), quality=90)
    return out.getvalue()


def _chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def png_bomb(width: int = 100_000, height: int = 100_000) -> bytes:
    """A valid PNG header claiming huge dimensions (a decompression bomb)."""
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    idat = zlib.compress(b"\x00" * 64)
    return (
        b"\x89PNG\r\n\x1a\n"
        + _chunk(b"IHDR", header)
        + _chunk(b"IDAT", idat)
        + _chunk(b"IEND", b"")
    )


def pdf(extra_object: bytes = b"") -> bytes:
    """A minimal, well-formed one-page PDF (correct cross-reference offsets)."""
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 200 200] >>",
    ]
    if extra_object:
        objects.append(extra_object)
    out = bytearray(b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n")
    offsets = []
    for number, body in enumerate(objects, 1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % number + body + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    for offset in offsets:
        out += b"%010d 00000 n \n" % offset
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (
        len(objects) + 1,
        xref,
    )
    return bytes(out)


def pdf_with_compressed_javascript() -> bytes:
    """A PDF whose JavaScript action hides in a Flate-compressed stream."""
    hidden = zlib.compress(b"<< /S /JavaScript /JS (app.alert(1)) >>")
    stream = b"<< /Length %d /Filter /FlateDecode >>\nstream\n" % len(hidden) + hidden
    return pdf(stream + b"\nendstream")
