"""Optional OCR of image-only pages: pypdfium2 renders, Tesseract reads.

Tesseract is a system program (Debian: ``apt-get install tesseract-ocr``) driven
through ``pytesseract``; both are optional. ``TOOLKIT_TESSERACT_CMD`` names the
binary when it is not on ``PATH``.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import Any

INSTALL_HINT = (
    "install tesseract for OCR (apt-get install tesseract-ocr; pip install pytesseract pypdfium2)"
)
DPI = 300


def tesseract_cmd() -> str | None:
    """Path of the tesseract binary, or None when it is not installed."""
    configured = os.environ.get("TOOLKIT_TESSERACT_CMD")
    if configured:
        return configured if Path(configured).is_file() else None
    return shutil.which("tesseract")


def ocr_unavailable_reason() -> str | None:
    """Why OCR cannot run here, or None when it can.

    Examples
    --------
    >>> reason = ocr_unavailable_reason()
    >>> reason is None or "install tesseract" in reason
    True
    """
    if tesseract_cmd() is None:
        return INSTALL_HINT
    try:
        import pypdfium2  # noqa: F401
        import pytesseract  # noqa: F401
    except ImportError:
        return INSTALL_HINT
    return None


def ocr_page_words(path: str | Path, page_index: int) -> tuple[list[dict[str, Any]], float]:
    """OCR one page into pdfplumber-style word dicts (in PDF points) and a mean confidence 0..1.

    Examples
    --------
    >>> words, conf = ocr_page_words("list.pdf", 0)  # doctest: +SKIP
    """
    import pypdfium2 as pdfium
    import pytesseract

    pytesseract.pytesseract.tesseract_cmd = tesseract_cmd() or "tesseract"
    scale = DPI / 72
    pdf = pdfium.PdfDocument(str(path))
    try:
        image = pdf[page_index].render(scale=scale).to_pil()
    finally:
        pdf.close()
    # psm 6 reads one uniform block, which keeps fixed-pitch columns on one line
    data = pytesseract.image_to_data(
        image, config="--psm 6 -c preserve_interword_spaces=1", output_type=pytesseract.Output.DICT
    )
    words: list[dict[str, Any]] = []
    confs: list[float] = []
    for i, text in enumerate(data["text"]):
        text = (text or "").strip()
        conf = float(data["conf"][i])
        if not text or conf < 0:
            continue
        left, top = data["left"][i] / scale, data["top"][i] / scale
        width, height = data["width"][i] / scale, data["height"][i] / scale
        # tesseract's own line ids keep a line together even when boxes differ in height
        line_key = (data["block_num"][i], data["par_num"][i], data["line_num"][i])
        words.append(
            {
                "text": text,
                "x0": left,
                "x1": left + width,
                "top": top,
                "bottom": top + height,
                "line": line_key,
                "conf": conf,
            }
        )
        confs.append(conf)
    mean = sum(confs) / len(confs) / 100 if confs else 0.0
    return words, mean
