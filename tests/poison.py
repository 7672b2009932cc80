"""Hostile PDFs for the reliability suite and benchmarks/bench_reliability.py.

Each is a real PDF file (raw PDF syntax, with a correct cross-reference table) that a
reader must survive: a content stream that inflates far past its size, a page that takes
long to interpret, and damaged copies of a good list.
"""

from __future__ import annotations

import random
import zlib
from pathlib import Path

GOOD = Path(__file__).resolve().parents[1] / "data" / "sample" / "pdfs" / "blair_upset_ruled.pdf"


def _pdf(content: bytes, *, compressed: bool) -> bytes:
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R "
        b"/Resources << /Font << /F1 5 0 R >> >> >>",
        None,  # the content stream
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
    ]
    filt = b" /Filter /FlateDecode" if compressed else b""
    stream = b"<< /Length %d%s >>\nstream\n" % (len(content), filt) + content + b"\nendstream"
    out = bytearray(b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n")
    offsets = []
    for i, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % i + (stream if body is None else body) + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    for off in offsets:
        out += b"%010d 00000 n \n" % off
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (
        len(objects) + 1,
        xref,
    )
    return bytes(out)


def inflating(path: Path, inflated_mb: int = 1024) -> Path:
    """A ~1 MB file whose page-1 content stream inflates to ``inflated_mb`` MB (a zip bomb)."""
    comp = zlib.compressobj(6)
    chunk = b"0 0 m\n" * (1 << 16)  # a valid, dull operator, over and over
    parts, total = [], 0
    while total < inflated_mb << 20:
        parts.append(comp.compress(chunk))
        total += len(chunk)
    parts.append(comp.flush())
    path.write_bytes(_pdf(b"".join(parts), compressed=True))
    return path


def stalling(path: Path, operators: int = 3_000_000) -> Path:
    """A small file whose one page holds millions of text-drawing operators: slow to read."""
    comp = zlib.compressobj(9)
    op = b"BT /F1 1 Tf 10 10 Td (x) Tj ET\n"
    parts = [comp.compress(op * 10_000) for _ in range(operators // 10_000)]
    parts.append(comp.flush())
    path.write_bytes(_pdf(b"".join(parts), compressed=True))
    return path


def flipped(path: Path, flips: int = 20, seed: int = 3) -> Path:
    """The good sample list with ``flips`` bytes inverted past its header."""
    data = bytearray(GOOD.read_bytes())
    rng = random.Random(seed)
    for _ in range(flips):
        i = rng.randrange(64, len(data))
        data[i] ^= 0xFF
    path.write_bytes(bytes(data))
    return path


def truncated(path: Path) -> Path:
    """The first half of the good sample list."""
    data = GOOD.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    return path


def not_a_pdf(path: Path) -> Path:
    path.write_text("PARCEL,OWNER\n01-001,SOMEBODY\n" * 100)
    return path


ALL = {
    "inflating (1 GiB stream)": inflating,
    "stalling (3M operators)": stalling,
    "20 flipped bytes": flipped,
    "truncated at half": truncated,
    "not a PDF": not_a_pdf,
}
