"""``parse_pdf``: open a sale list, recognise each page's layout, read every row.

Order per page: a ``RECORD#`` page is a printer report; a page with drawn rules
whose table has a recognisable header is a ruled table; a page with a header
line (parcel + two other known columns) is a table without rules; a page with
no text layer is OCRed when Tesseract is there. Unusable files raise
:class:`~toolkit.exceptions.DocumentError` with what to do about it.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from toolkit.exceptions import DocumentError
from toolkit.pdf import layouts as lay
from toolkit.pdf import ocr
from toolkit.pdf import text as tx
from toolkit.pdf.model import ParsedDocument, RowError

log = logging.getLogger(__name__)

_MIN_RULES = 6  # fewer drawn edges than this cannot make a table worth looking for


def sha256_file(path: str | Path) -> str:
    """Hex SHA-256 of a file, read in chunks.

    Examples
    --------
    >>> sha256_file("data/sample/pdfs/blair_upset_ruled.pdf")  # doctest: +SKIP
    '3f5a…'
    """
    digest = hashlib.sha256()
    with Path(path).open("rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _check_file(path: Path) -> None:
    """Cheap checks that give a clear reason before pdfminer gives a cryptic one."""
    if not path.is_file():
        raise DocumentError(f"{path}: no such file — check the path")
    size = path.stat().st_size
    with path.open("rb") as fh:
        head = fh.read(1024)
        fh.seek(max(0, size - 2048))
        tail = fh.read()
    if b"%PDF-" not in head:
        raise DocumentError(
            f"{path}: not a PDF (starts with {head[:16]!r}) — save or download the sale list as PDF"
        )
    if b"%%EOF" not in tail:
        raise DocumentError(
            f"{path}: truncated PDF (no %%EOF end marker) — the PDF is damaged; download the "
            "file again"
        )


_PLAIN_CAUSES: tuple[tuple[str, str], ...] = (
    ("ascii85", "a compressed stream holds characters it cannot hold"),
    ("asciihex", "a compressed stream holds characters it cannot hold"),
    ("zlib", "a compressed stream is corrupt"),
    ("decompress", "a compressed stream is corrupt"),
    ("xref", "its table of contents (xref) is broken"),
    ("trailer", "its table of contents (trailer) is broken"),
    ("eof", "it ends too early"),
    ("font", "a font is broken"),
    ("keyerror", "an object it refers to is missing"),
    ("syntax", "its structure cannot be read"),
    ("typeerror", "an object has the wrong kind of value"),
)


def _out_of_memory(exc: BaseException) -> bool:
    """zlib says "Unable to allocate output buffer" where Python would raise MemoryError."""
    seen: BaseException | None = exc
    while seen is not None:
        if isinstance(seen, MemoryError) or "allocate" in str(seen).lower():
            return True
        nxt = seen.args[0] if seen.args and isinstance(seen.args[0], BaseException) else None
        seen = nxt or seen.__cause__ or seen.__context__
    return False


def damaged_reason(exc: BaseException) -> str:
    """What pdfminer's error means, in plain words, with its own words in brackets.

    Examples
    --------
    >>> damaged_reason(ValueError("Non-Ascii85 digit found: x"))
    'a compressed stream holds characters it cannot hold (Non-Ascii85 digit found: x)'
    """
    cause: BaseException = exc
    while cause.args and isinstance(cause.args[0], BaseException):
        cause = cause.args[0]  # pdfplumber wraps pdfminer's error
    text = "".join(ch if " " <= ch <= "~" else "?" for ch in str(cause))
    detail = " ".join(text.split())[:120] or type(cause).__name__
    probe = f"{type(cause).__name__} {detail}".lower()
    plain = next((words for key, words in _PLAIN_CAUSES if key in probe), "it cannot be read")
    return f"{plain} ({detail})"


@contextmanager
def _open(path: Path, password: str | None) -> Iterator[Any]:
    import pdfplumber
    from pdfminer.pdfdocument import PDFEncryptionError, PDFPasswordIncorrect
    from pdfminer.psexceptions import PSException
    from pdfplumber.utils.exceptions import PdfminerException

    try:
        pdf = pdfplumber.open(path, password=password or "")
    except PdfminerException as exc:
        cause = exc.args[0] if exc.args else exc
        if isinstance(cause, PDFPasswordIncorrect | PDFEncryptionError):
            raise DocumentError(
                f"{path}: encrypted PDF that needs a password — pass password=..., or open it "
                "and save an unprotected copy"
            ) from exc
        raise DocumentError(
            f"{path}: the PDF is damaged: {damaged_reason(exc)} — download the file again"
        ) from exc
    except PSException as exc:
        raise DocumentError(
            f"{path}: the PDF is damaged: {damaged_reason(exc)} — download the file again"
        ) from exc
    try:
        yield pdf
    finally:
        pdf.close()


def _page_words(page: Any) -> list[dict[str, Any]]:
    return page.extract_words(keep_blank_chars=False, use_text_flow=False)


def _ocr_lines(words: list[dict[str, Any]]) -> list[lay.Line]:
    # give every word of one tesseract line the same top, so grouping keeps it whole
    tops: dict[Any, float] = {}
    for w in words:
        tops[w["line"]] = min(tops.get(w["line"], w["top"]), w["top"])
    for w in words:
        w["top"] = tops[w["line"]]
    return lay.group_lines(words)


def _read_page(
    state: lay.ParseState, number: int, lines: list[lay.Line], width: float, tables: Any
) -> str | None:
    """Parse one page with the first layout that fits; returns the layout name."""
    if lay.is_printer_report(lines, state.vocab):
        state.layout = "printer_report" if state.confidence_factor == 1.0 else "ocr"
        lay.parse_printer_page(state, number, lines, width)
        return "printer_report"
    if tables is not None:
        state.layout = "ruled_table"
        extracted = [t.extract() for t in tables()]
        if lay.parse_ruled_tables(state, number, extracted):
            return "ruled_table"
    state.layout = "word_table" if state.confidence_factor == 1.0 else "ocr"
    if lay.parse_word_table_page(state, number, lines):
        return "word_table"
    return None


def parse_pdf(
    path: str | Path,
    *,
    county: str | None = None,
    ocr_pages: bool | None = None,
    password: str | None = None,
    vocabulary: lay.Vocabulary | None = None,
    progress: Callable[[str], None] | None = None,
) -> ParsedDocument:
    """Read every property row of a PA tax-sale list PDF.

    Parameters
    ----------
    path
        The PDF file.
    county
        Recorded on the document and each row; not used to guess the layout,
        which is recognised from each page.
    ocr_pages
        OCR pages without a text layer: None (default) when Tesseract is
        installed, True to insist (error if it is missing), False never.
    password
        For an encrypted PDF.
    vocabulary
        A user's own header words and labels for a county's layout
        (:meth:`toolkit.pdf.layouts.Vocabulary.from_config`).
    progress
        Called with ``"page 3 of 210"`` before each page is read.

    Returns
    -------
    ParsedDocument
        ``rows`` read, ``errors`` for rows that could not be read (page, raw
        text, reason), the layout, sale type and sale date the document states.

    Raises
    ------
    DocumentError
        Not a PDF, truncated, encrypted, image-only without OCR, or no sale-list
        table recognised on any page.

    Examples
    --------
    >>> doc = parse_pdf("data/sample/pdfs/blair_upset_ruled.pdf", county="Blair")
    >>> doc.layout, len(doc.rows) > 0
    ('ruled_table', True)
    """
    path = Path(path)
    _check_file(path)
    state = lay.ParseState(county=county, vocab=vocabulary or lay.Vocabulary())
    layouts: list[str | None] = []
    head_lines: list[str] = []
    blank_pages: list[int] = []
    widths: dict[int, float] = {}
    unreadable: dict[int, str] = {}
    with _open(path, password) as pdf:
        try:
            pages = list(pdf.pages)
        except Exception as exc:  # pdfminer raises many types on a broken page tree
            raise DocumentError(
                f"{path}: the PDF is damaged: {damaged_reason(exc)} — download the file again"
            ) from exc
        for number, page in enumerate(pages, start=1):
            if progress is not None:
                progress(f"page {number} of {len(pages)}")
            try:
                widths[number] = float(page.width)
                words = _page_words(page)
                has_rules = len(page.edges) >= _MIN_RULES
            except MemoryError:
                raise  # a stream that inflates past the memory limit: not a damaged page
            except Exception as exc:  # a damaged content stream: report the page, go on
                if _out_of_memory(exc):
                    raise MemoryError(f"page {number}") from exc
                layouts.append(None)
                unreadable[number] = damaged_reason(exc)
                continue
            if not words:
                layouts.append(None)
                blank_pages.append(number)
                continue
            lines = lay.group_lines(words)
            if number <= 2:
                head_lines.extend(ln.text for ln in lines[:25])
            tables = (lambda p=page: p.find_tables()) if has_rules else None
            try:
                layouts.append(_read_page(state, number, lines, float(page.width), tables))
            except MemoryError:
                raise
            except Exception as exc:  # pdfminer fails late on some damaged pages
                if _out_of_memory(exc):
                    raise MemoryError(f"page {number}") from exc
                if type(exc).__module__.split(".")[0] not in ("pdfminer", "pdfplumber", "zlib"):
                    raise  # the parser's own mistake is not the file's damage
                layouts.append(None)
                unreadable[number] = damaged_reason(exc)
            page.close()  # drop pdfplumber's per-page caches: long lists stay small
        page_count = len(pages)
    if blank_pages:
        _handle_blank_pages(path, state, layouts, blank_pages, head_lines, widths, ocr_pages)
    if unreadable:
        first = unreadable[min(unreadable)]
        if len(unreadable) == len(layouts):
            which = f"no page of {len(layouts)} could be read"
            rest = ""
        else:
            nums = sorted(unreadable)
            shown = ", ".join(map(str, nums[:10])) + (" …" if len(nums) > 10 else "")
            plural = "s" if len(nums) > 1 else ""
            which = f"page{plural} {shown} of {len(layouts)} could not be read"
            rest = (
                f"; {len(state.rows)} record(s) were read from the other pages, but a list with "
                "pages missing is not stored"
            )
        raise DocumentError(
            f"{path}: the PDF is damaged: {which} — {first}{rest} — download the file again"
        )
    if not any(layouts):
        raise DocumentError(
            f"{path}: no sale-list table recognised on {page_count} page(s) — expected a ruled "
            "table, a table with a header naming the parcel column, or RECORD# blocks"
        )
    doc = ParsedDocument(
        path=str(path),
        sha256=sha256_file(path),
        page_count=page_count,
        page_layouts=layouts,
        rows=state.rows,
        errors=state.errors,
        sale_type=tx.find_sale_type("\n".join(head_lines)),
        sale_date=tx.find_sale_date(head_lines),
        county=county,
    )
    doc.rows.sort(key=lambda r: r.page)  # OCRed pages are read last; keep page order
    doc.errors.sort(key=lambda e: e.page)
    for row in doc.rows:
        row.sale_type = row.sale_type or doc.sale_type
        row.sale_date = row.sale_date or doc.sale_date
    if doc.sale_date is None:
        dates = {r.sale_date for r in doc.rows if r.sale_date}
        if len(dates) == 1:
            doc.sale_date = dates.pop()
    return doc


def _handle_blank_pages(
    path: Path,
    state: lay.ParseState,
    layouts: list[str | None],
    blank_pages: list[int],
    head_lines: list[str],
    widths: dict[int, float],
    ocr_pages: bool | None,
) -> None:
    """OCR pages without text, or say why they were not read."""
    image_only = len(blank_pages) == len(layouts)
    unavailable = ocr.ocr_unavailable_reason()
    if ocr_pages is False or unavailable:
        why = "OCR is turned off (ocr_pages=False)" if ocr_pages is False else str(unavailable)
        if image_only or ocr_pages is True:
            raise DocumentError(f"{path}: no text layer — {why}")
        for number in blank_pages:
            state.errors.append(RowError(number, "", f"page has no text layer — {why}"))
        return
    for number in blank_pages:
        words, conf = ocr.ocr_page_words(path, number - 1)
        if not words:
            continue
        state.confidence_factor = 0.9 * max(conf, 0.5)
        lines = _ocr_lines(words)
        if number <= 2:
            head_lines.extend(ln.text for ln in lines[:25])
        read = _read_page(state, number, lines, widths[number], None)
        layouts[number - 1] = "ocr" if read else None
    state.confidence_factor = 1.0
    log.debug("OCRed %d page(s) of %s", len(blank_pages), path)
