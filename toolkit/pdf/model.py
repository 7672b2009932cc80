"""Result types of the sale-list parser: plain dataclasses, JSON-able via ``to_dict``."""

from __future__ import annotations

import datetime as dt
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

LAYOUTS: tuple[str, ...] = ("ruled_table", "word_table", "printer_report", "ocr")


def _plain(value: Any) -> Any:
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    return value


@dataclass
class ParsedRow:
    """One property read from a sale list.

    ``amount`` is the upset price / approximate sale price / TOTAL DUE the list
    states. ``number`` is the list's own control, sale or record number.
    ``confidence`` (0..1) drops for repaired text (letter spacing, OCR), missing
    fields and failed cross-checks; ``issues`` says why. ``extra`` holds what
    only some layouts carry (mailing address, lot size, assessment, per-year
    amounts).
    """

    parcel_id: str
    amount: float
    page: int
    raw_text: str
    owner: str | None = None
    location: str | None = None
    description: str | None = None
    municipality: str | None = None
    number: str | None = None
    sale_type: str | None = None
    sale_date: dt.date | None = None
    county: str | None = None
    layout: str | None = None
    confidence: float = 1.0
    issues: list[str] = field(default_factory=list)
    extra: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-able values (dates as ISO strings).

        Examples
        --------
        >>> ParsedRow("01-00-1", 12.5, 1, "raw").to_dict()["amount"]
        12.5
        """
        return {k: _plain(v) for k, v in self.__dict__.items()}


@dataclass
class RowError:
    """A row the parser could not read: where it was, what it said, and why."""

    page: int
    raw_text: str
    reason: str

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-able values."""
        return dict(self.__dict__)


@dataclass
class ParsedDocument:
    """Everything read from one sale-list PDF.

    ``layout`` is the layout of most pages (``"ocr"`` when every parsed page
    needed OCR); ``page_layouts`` has one entry per page (None for pages with
    no recognised table, e.g. a cover page).
    """

    path: str
    sha256: str
    page_count: int
    page_layouts: list[str | None]
    rows: list[ParsedRow] = field(default_factory=list)
    errors: list[RowError] = field(default_factory=list)
    sale_type: str | None = None
    sale_date: dt.date | None = None
    county: str | None = None

    @property
    def layout(self) -> str | None:
        """The dominant layout among recognised pages."""
        seen = [layout for layout in self.page_layouts if layout]
        if not seen:
            return None
        return Counter(seen).most_common(1)[0][0]

    @property
    def report(self) -> dict[str, int]:
        """Records seen, parsed, and sent to the parsing errors (a record is a row or a block).

        Examples
        --------
        >>> ParsedDocument("x.pdf", "", 1, ["word_table"]).report
        {'records_seen': 0, 'records_parsed': 0, 'records_failed': 0}
        """
        return {
            "records_seen": len(self.rows) + len(self.errors),
            "records_parsed": len(self.rows),
            "records_failed": len(self.errors),
        }

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-able summary with all rows and errors."""
        return {
            "path": self.path,
            "sha256": self.sha256,
            "layout": self.layout,
            "page_count": self.page_count,
            "page_layouts": list(self.page_layouts),
            "sale_type": self.sale_type,
            "sale_date": _plain(self.sale_date),
            "county": self.county,
            "rows": [r.to_dict() for r in self.rows],
            "errors": [e.to_dict() for e in self.errors],
            "report": self.report,
        }
