"""Sale-list PDF parser: ruled tables, Word tables without rules, printer reports, OCR.

Pure (no database). The engine calls :func:`parse_pdf` and stores the rows.

Examples
--------
>>> from toolkit.pdf import parse_pdf
>>> doc = parse_pdf("data/sample/pdfs/westmoreland_upset_printer.pdf", county="Westmoreland")
>>> doc.layout
'printer_report'
"""

from __future__ import annotations

from toolkit.pdf.model import LAYOUTS, ParsedDocument, ParsedRow, RowError
from toolkit.pdf.parser import parse_pdf, sha256_file

__all__ = ["LAYOUTS", "ParsedDocument", "ParsedRow", "RowError", "parse_pdf", "sha256_file"]
