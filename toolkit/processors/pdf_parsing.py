"""The ``pdf_parsing`` processor: a registered sale-list PDF → properties.

One item is one ``documents`` row of type ``property_list``. The processor
reads the file with :func:`toolkit.pdf.parse_pdf` (no database) and returns a
result; the engine hands the results of a checkpoint to :func:`write_results`
inside its transaction, together with the items' ``done`` status, so a document
is stored exactly once or not at all.

What a result writes:

* ``documents``: parse_status 'parsed', layout, page_count, rows_parsed,
  rows_failed, parsed_at; sale type and date read from the document where the
  row has none;
* ``properties``: every parsed row upserted by (county, parcel number), so
  re-parsing a document (or a newer list of the same county) updates rows and
  never duplicates them; the row's raw text, confidence, issues and
  layout-only fields are kept (migration 0003);
* ``parsing_errors``: the rows the parser could not read, with page and raw
  text, replaced on every parse of the document.

A document that cannot be parsed (not a PDF, truncated, encrypted, image-only
without OCR, no table, a county that does not match) fails its item with the
parser's reason; the batch goes on. The ``documents`` row is left as it was
(parse_status stays 'pending', so the next job tries again once the file is
fixed): writing it would take a second transaction outside the engine's
checkpoint. The reason is the failed item's error (``ws.failed_items(job)``,
and ``last_error`` in :func:`toolkit.documents.documents`).
"""

from __future__ import annotations

import datetime as dt
import json
import math
import re
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from toolkit.counties import PA_COUNTIES
from toolkit.exceptions import DocumentError, ItemError, ProcessorError

if TYPE_CHECKING:
    from toolkit.backends.base import Outcome
    from toolkit.pdf import ParsedDocument
    from toolkit.processors.context import ProcessorContext

RESULT_KEYS = ("county_id", "layout", "page_count", "sale_type", "sale_date", "rows", "errors")
ROW_KEYS = (
    "parcel_id", "parcel_norm", "control_number", "owner", "address", "description",
    "municipality", "upset_price", "sale_type", "sale_date", "page", "raw_text",
    "parse_confidence", "parse_issues", "parse_extra",
)  # fmt: skip
ERROR_KEYS = ("page", "raw_text", "reason")
HEADER_LINES = 8  # a list names its county in its heading, not in the rows (owners can be counties)
_PROPERTY_COLUMNS = (
    "county_id", "parcel_id", "parcel_norm", "control_number", "address", "municipality", "owner",
    "description", "upset_price", "sale_type", "sale_date", "auction_status", "document_id",
    "raw_text", "parse_confidence", "parse_issues", "parse_extra", "ts",
)  # fmt: skip


def make_processor(
    ctx: ProcessorContext | None = None, *, ocr_pages: bool | None = None,
    password: str | None = None,
) -> Callable[[dict[str, Any]], dict[str, Any]]:
    """The processor the session runner calls with one document item.

    Parameters
    ----------
    ctx
        The workspace's context (unused: the item carries the path and county).
    ocr_pages, password
        Passed to :func:`toolkit.pdf.parse_pdf`.

    Examples
    --------
    >>> proc = make_processor()
    >>> res = proc({"item_id": "d1", "path": "data/sample/pdfs/somerset_upset_ruled.pdf",
    ...             "county": "Somerset", "county_id": 111})
    >>> len(res["rows"]), len(res["errors"])
    (140, 2)
    """

    def proc(item: dict[str, Any]) -> dict[str, Any]:
        return parse_item(item, ocr_pages=ocr_pages, password=password)

    return proc


def _value(v: Any) -> Any:
    """None for the missing values a DataFrame row carries (NaN, NaT, pd.NA)."""
    if v is None:
        return None
    try:
        import pandas as pd

        if pd.isna(v):
            return None
    except (TypeError, ValueError):
        return v
    if hasattr(v, "to_pydatetime"):
        return v.to_pydatetime()
    if hasattr(v, "item") and not isinstance(v, str | bytes):
        return v.item()  # numpy scalar → Python
    return v


def _as_date(v: Any) -> dt.date | None:
    v = _value(v)
    if v is None:
        return None
    if isinstance(v, dt.datetime):
        return v.date()
    if isinstance(v, dt.date):
        return v
    return dt.date.fromisoformat(str(v)[:10])


def counties_named(path: str | Path, *, lines: int = HEADER_LINES) -> set[str]:
    """PA counties the first page's heading names ("BLAIR COUNTY …", "COUNTY OF BLAIR").

    Empty when the first page has no text layer or names none.

    Examples
    --------
    >>> counties_named("data/sample/pdfs/blair_upset_ruled.pdf")
    {'Blair'}
    """
    import pdfplumber

    with pdfplumber.open(path) as pdf:
        if not pdf.pages:
            return set()
        text = pdf.pages[0].extract_text() or ""
    head = "\n".join([ln for ln in text.splitlines() if ln.strip()][:lines])
    found = set()
    for name in PA_COUNTIES:
        n = re.escape(name)
        if re.search(rf"\b{n}\s+COUNTY\b|\bCOUNTY\s+OF\s+{n}\b", head, re.IGNORECASE):
            found.add(name)
    return found


def parse_item(
    item: dict[str, Any], *, ocr_pages: bool | None = None, password: str | None = None
) -> dict[str, Any]:
    """Parse one document item (``path``, ``county``, ``county_id`` …) into a result dict.

    Raises :class:`~toolkit.exceptions.DocumentError` / ``ItemError`` with the
    reason when the document cannot be read or is another county's list.
    """
    from toolkit.parcels import normalise_parcel
    from toolkit.pdf import parse_pdf

    doc_id = str(item.get("item_id"))
    path = _value(item.get("path"))
    county = _value(item.get("county"))
    county_id = _value(item.get("county_id"))
    if county_id is None:
        raise ItemError(f"Document {doc_id} has no county; add it again with county=...")
    if not path:
        raise ItemError(
            f"Document {doc_id} has no local file (url {_value(item.get('url'))!r}); "
            "add it again with ws.add_document(url, county)."
        )
    if not Path(path).is_file():
        raise DocumentError(
            f"{path}: the file was moved or deleted since it was added — put it back, or add "
            "the new location with ws.add_document(path, county)."
        )
    doc = parse_pdf(path, county=county, ocr_pages=ocr_pages, password=password)
    stored_sha = _value(item.get("sha256"))
    if stored_sha and doc.sha256 != stored_sha:
        raise DocumentError(
            f"{path}: the file changed since it was added (its SHA-256 differs) — add the new "
            "file with ws.add_document(path, county) so both versions stay on record."
        )
    named = counties_named(path)
    if county and named and county not in named:
        listed = ", ".join(sorted(named))
        raise ItemError(
            f"{path}: the document is a list for {listed} County, but it was added for "
            f"{county} County — add it again with county={sorted(named)[0]!r}."
        )
    return result_from_parsed(doc, int(county_id), item, normalise_parcel)


def result_from_parsed(
    doc: ParsedDocument,
    county_id: int,
    item: dict[str, Any] | None = None,
    normalise: Callable[[str], str] | None = None,
) -> dict[str, Any]:
    """The result dict of a parsed document (what :func:`write_results` stores).

    The document row's own sale type and date (given when it was added) win
    over what the parser read from the document.
    """
    if normalise is None:
        from toolkit.parcels import normalise_parcel

        normalise = normalise_parcel
    item = item or {}
    given_type = _value(item.get("sale_type"))
    given_date = _as_date(item.get("sale_date"))
    rows = []
    for r in doc.rows:
        rows.append(
            {
                "parcel_id": r.parcel_id.strip(),
                "parcel_norm": normalise(r.parcel_id),
                "control_number": r.number,
                "owner": r.owner,
                "address": r.location,
                "description": r.description,
                "municipality": r.municipality,
                "upset_price": None if r.amount is None else round(float(r.amount), 2),
                "sale_type": given_type or r.sale_type,
                "sale_date": given_date or r.sale_date,
                "page": r.page,
                "raw_text": r.raw_text,
                "parse_confidence": float(r.confidence),
                "parse_issues": list(r.issues),
                "parse_extra": dict(r.extra),
            }
        )
    return {
        "county_id": county_id,
        "layout": doc.layout,
        "page_count": doc.page_count,
        "sale_type": doc.sale_type,
        "sale_date": doc.sale_date,
        "rows": rows,
        "errors": [
            {"page": e.page, "raw_text": e.raw_text, "reason": e.reason} for e in doc.errors
        ],
    }


def _bad(why: str) -> ProcessorError:
    return ProcessorError(f"The pdf_parsing processor returned an invalid result: {why}.")


def _check_keys(what: str, d: object, allowed: Sequence[str], required: Sequence[str]) -> dict:
    if not isinstance(d, dict):
        raise _bad(f"{what} is {type(d).__name__}, not a dict")
    unknown = sorted(set(d) - set(allowed))
    if unknown:
        raise _bad(f"{what} has unknown key(s) {', '.join(unknown)}; valid: {', '.join(allowed)}")
    missing = [k for k in required if k not in d]
    if missing:
        raise _bad(f"{what} lacks {', '.join(missing)}")
    return d


def validate_result(result: object) -> dict[str, Any]:
    """Check a processor's result; returns a clean copy or raises ProcessorError.

    Examples
    --------
    >>> validate_result({"county_id": 13, "layout": None, "page_count": 1, "sale_type": None,
    ...                  "sale_date": None, "rows": [], "errors": []})["rows"]
    []
    >>> validate_result([])
    Traceback (most recent call last):
    ...
    toolkit.exceptions.ProcessorError: The pdf_parsing processor returned an invalid result: the result is list, not a dict.
    """  # noqa: E501
    from toolkit.parcels import normalise_parcel

    res = _check_keys("the result", result, RESULT_KEYS, ("county_id", "rows"))
    cid = res["county_id"]
    if isinstance(cid, bool) or not isinstance(_value(cid), int):
        raise _bad(f"county_id {cid!r} is not a county id")
    if not isinstance(res["rows"], list) or not isinstance(res.get("errors", []), list):
        raise _bad("rows and errors must be lists")
    rows = []
    for i, row in enumerate(res["rows"]):
        row = dict(_check_keys(f"row {i}", row, ROW_KEYS, ("parcel_id",)))
        pid = row.get("parcel_id")
        if not isinstance(pid, str) or not normalise_parcel(pid):
            raise _bad(f"row {i} has parcel_id {pid!r}; it needs letters or digits")
        row.setdefault("parcel_norm", normalise_parcel(pid))
        amount = row.get("upset_price")
        if amount is not None:
            if isinstance(amount, bool) or not isinstance(amount, int | float) or not (
                math.isfinite(amount) and amount >= 0
            ):  # fmt: skip
                raise _bad(f"row {i} ({pid}) has upset_price {amount!r}; a non-negative number")
        for key in ROW_KEYS:
            row.setdefault(key, None)
        try:
            row["sale_date"] = _as_date(row["sale_date"])
        except ValueError:
            raise _bad(f"row {i} ({pid}) has sale_date {row['sale_date']!r}") from None
        rows.append(row)
    errors = []
    for i, err in enumerate(res.get("errors", [])):
        err = _check_keys(f"error {i}", err, ERROR_KEYS, ("reason",))
        errors.append({k: err.get(k) for k in ERROR_KEYS})
    try:
        sale_date = _as_date(res.get("sale_date"))
    except ValueError:
        raise _bad(f"sale_date {res.get('sale_date')!r} is not a date") from None
    return {
        "county_id": int(_value(cid)),
        "layout": res.get("layout"),
        "page_count": res.get("page_count"),
        "sale_type": res.get("sale_type"),
        "sale_date": sale_date,
        "rows": rows,
        "errors": errors,
    }


def _json(v: Any) -> str | None:
    if v is None or v == [] or v == {}:
        return None
    return json.dumps(v, default=str, sort_keys=True)


def write_results(
    con: Any, q: Any, job_id: str | None, outcomes: Sequence[Outcome], now: dt.datetime
) -> None:
    """Store parsed documents inside the caller's transaction (the engine's checkpoint).

    Never opens a connection or commits: the engine writes the items' ``done``
    status in the same transaction.
    """
    import pandas as pd

    from toolkit.parcels import upsert_properties

    props: list[dict[str, Any]] = []
    errors: list[dict[str, Any]] = []
    doc_ids: list[str] = []
    for o in outcomes:
        res = o.result or {}
        doc_id = str(o.item_id)
        doc_ids.append(doc_id)
        for r in res.get("rows", []):
            props.append(
                {
                    "county_id": res["county_id"], "parcel_id": r["parcel_id"],
                    "parcel_norm": r["parcel_norm"], "control_number": r.get("control_number"),
                    "address": r.get("address"), "municipality": r.get("municipality"),
                    "owner": r.get("owner"), "description": r.get("description"),
                    "upset_price": r.get("upset_price"), "sale_type": r.get("sale_type"),
                    "sale_date": r.get("sale_date"), "auction_status": None,
                    "document_id": doc_id, "raw_text": r.get("raw_text"),
                    "parse_confidence": r.get("parse_confidence"),
                    "parse_issues": _json(r.get("parse_issues")),
                    "parse_extra": _json(r.get("parse_extra")), "ts": now,
                }
            )  # fmt: skip
        for e in res.get("errors", []):
            errors.append(
                {"document_id": doc_id, "page": e.get("page"), "raw_text": e.get("raw_text"),
                 "reason": e.get("reason"), "created_at": now}
            )  # fmt: skip
        con.execute(
            q.document_set_parsed,
            [res.get("layout"), res.get("page_count"), len(res.get("rows", [])),
             len(res.get("errors", [])), now, res.get("sale_type"), res.get("sale_date"), doc_id],
        )  # fmt: skip
    if props:
        frame = pd.DataFrame(props, columns=list(_PROPERTY_COLUMNS))
        # one row per parcel: a list can print a parcel twice, and ON CONFLICT
        # cannot update the same row twice in one statement
        frame = frame.drop_duplicates(subset=["county_id", "parcel_norm"], keep="last")
        frame = frame.astype(object).where(frame.notna(), None)
        upsert_properties(con, q, frame)
    con.execute(q.parsing_errors_clear, [doc_ids])
    if errors:
        frame = pd.DataFrame(
            errors, columns=["document_id", "page", "raw_text", "reason", "created_at"]
        )
        frame = frame.astype(object).where(frame.notna(), None)
        con.register("_parse_errors", frame)
        try:
            con.execute(q.parsing_errors_insert)
        finally:
            con.unregister("_parse_errors")
