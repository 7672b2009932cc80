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

* ``parse_conflicts``: a parsed upset price that differs from what another
  document (or an import) stored for the same parcel; the property keeps the
  earlier value (migration 0009).

Each document is parsed in a child process (:class:`~toolkit.processors.isolation.Isolated`)
with a wall-clock deadline and a memory cap (``$TOOLKIT_PDF_SECONDS``, default
300 s; ``$TOOLKIT_PDF_MEMORY_MB``, default 1,000 MB), so a file built to inflate
or stall a reader fails its item with a reason in plain words and the job goes
on; a pause stops the child at once and the item stays pending.

A document that cannot be parsed (not a PDF, truncated, damaged, encrypted,
image-only without OCR, no table, fewer than 90 % of its records readable, a
county that does not match, past a limit) fails its item with the parser's
reason; the batch goes on. The ``documents`` row is left as it was
(parse_status stays 'pending', so the next job tries again once the file is
fixed): writing it would take a second transaction outside the engine's
checkpoint. The reason is the failed item's error (``ws.failed_items(job)``,
and ``last_error`` in :func:`toolkit.documents.documents`).
"""

from __future__ import annotations

import contextlib
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
    "parcel_id",
    "parcel_norm",
    "control_number",
    "owner",
    "address",
    "description",
    "municipality",
    "upset_price",
    "sale_type",
    "sale_date",
    "page",
    "raw_text",
    "parse_confidence",
    "parse_issues",
    "parse_extra",
)
ERROR_KEYS = ("page", "raw_text", "reason")
HEADER_LINES = 8  # a list names its county in its heading, not in the rows (owners can be counties)
MIN_PARSED = 0.9  # a document with fewer of its records read is a failed item, not a partial list
LIMITS_PREFIX = "TOOLKIT_PDF"
DEFAULT_SECONDS = 300.0  # the 210-page sample list takes ~11 s
DEFAULT_MEMORY_MB = 1000  # address space; the 210-page sample list parses within 600 MB
_PROPERTY_COLUMNS = (
    "county_id",
    "parcel_id",
    "parcel_norm",
    "control_number",
    "address",
    "municipality",
    "owner",
    "description",
    "upset_price",
    "sale_type",
    "sale_date",
    "auction_status",
    "document_id",
    "raw_text",
    "parse_confidence",
    "parse_issues",
    "parse_extra",
    "ts",
)


def limits() -> tuple[float, int]:
    """(seconds, memory MB) for one document: ``$TOOLKIT_PDF_SECONDS`` / ``_MEMORY_MB``.

    Examples
    --------
    >>> limits()  # doctest: +SKIP
    (300.0, 1000)
    """
    from toolkit.processors.isolation import limits_from_env

    return limits_from_env(LIMITS_PREFIX, DEFAULT_SECONDS, DEFAULT_MEMORY_MB)


def make_processor(
    ctx: ProcessorContext | None = None,
    *,
    ocr_pages: bool | None = None,
    password: str | None = None,
    isolate: bool = True,
) -> Callable[[dict[str, Any]], dict[str, Any]]:
    """The processor the session runner calls with one document item.

    Parameters
    ----------
    ctx
        The workspace's context: its folder (for ``toolkit.yaml``'s ``layouts:``) and
        ``stop_requested`` (a pause stops a parse midway).
    ocr_pages, password
        Passed to :func:`toolkit.pdf.parse_pdf`.
    isolate
        Parse in a child process with the limits of :func:`limits` (default). False
        parses in this process, without limits.

    Examples
    --------
    >>> proc = make_processor()
    >>> res = proc({"item_id": "d1", "path": "data/sample/pdfs/somerset_upset_ruled.pdf",
    ...             "county": "Somerset", "county_id": 111})
    >>> len(res["rows"]), len(res["errors"])
    (140, 2)
    """

    from toolkit.config import layouts_config
    from toolkit.exceptions import ConfigError

    try:
        layouts = layouts_config(ctx.data_dir if ctx is not None else None)
    except ValueError as exc:
        raise ConfigError(str(exc)) from None
    if layouts:
        _vocabulary(layouts)  # a mistake in the file stops here, not in every item
    if not isolate:

        def direct(item: dict[str, Any]) -> dict[str, Any]:
            return parse_item(item, ocr_pages=ocr_pages, password=password, layouts=layouts)

        return direct

    import weakref

    from toolkit.processors.isolation import Isolated

    seconds, memory_mb = limits()
    iso = Isolated(
        "toolkit.processors.pdf_parsing:parse_in_child",
        seconds=seconds,
        memory_mb=memory_mb,
        what="parsing the PDF",
        stop=(lambda: ctx.stop_requested()) if ctx is not None else None,
        limits_hint=f" (limits: {LIMITS_PREFIX}_SECONDS, {LIMITS_PREFIX}_MEMORY_MB)",
    )

    def proc(item: dict[str, Any]) -> dict[str, Any]:
        plain = {k: _value(v) for k, v in item.items()}
        return iso(
            {"item": plain, "ocr_pages": ocr_pages, "password": password, "layouts": layouts}
        )

    weakref.finalize(proc, iso.close)  # the child goes when the processor does
    return proc


def parse_in_child(arg: dict[str, Any], progress: Callable[[str], None]) -> dict[str, Any]:
    """What the child process runs for one item (see :class:`Isolated`)."""
    return parse_item(
        arg["item"],
        ocr_pages=arg.get("ocr_pages"),
        password=arg.get("password"),
        layouts=arg.get("layouts"),
        progress=progress,
    )


def _vocabulary(layouts: dict[str, Any] | None) -> Any:
    from toolkit.exceptions import ConfigError
    from toolkit.pdf.layouts import Vocabulary

    try:
        return Vocabulary.from_config(layouts)
    except ValueError as exc:
        raise ConfigError(f"the config file's {exc}") from None


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

    try:
        with pdfplumber.open(path) as pdf:
            if not pdf.pages:
                return set()
            text = pdf.pages[0].extract_text() or ""
    except Exception:  # a first page the parser read past (its errors are reported there)
        return set()
    head = "\n".join([ln for ln in text.splitlines() if ln.strip()][:lines])
    found = set()
    for name in PA_COUNTIES:
        n = re.escape(name)
        if re.search(rf"\b{n}\s+COUNTY\b|\bCOUNTY\s+OF\s+{n}\b", head, re.IGNORECASE):
            found.add(name)
    return found


def parse_item(
    item: dict[str, Any],
    *,
    ocr_pages: bool | None = None,
    password: str | None = None,
    layouts: dict[str, Any] | None = None,
    progress: Callable[[str], None] | None = None,
) -> dict[str, Any]:
    """Parse one document item (``path``, ``county``, ``county_id`` …) into a result dict.

    Raises :class:`~toolkit.exceptions.DocumentError` / ``ItemError`` with the
    reason when the document cannot be read, fewer than 90 % of its records
    parse, or it is another county's list.
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
    doc = parse_pdf(
        path,
        county=county,
        ocr_pages=ocr_pages,
        password=password,
        vocabulary=_vocabulary(layouts),
        progress=progress,
    )
    check_report(path, doc)
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


def check_report(path: str | Path, doc: ParsedDocument) -> None:
    """Fail a document when fewer than 90 % of the records it holds could be read.

    Examples
    --------
    >>> from toolkit.pdf import ParsedDocument, RowError
    >>> doc = ParsedDocument("x.pdf", "", 1, ["printer_report"],
    ...                      errors=[RowError(1, "RECORD# 1", "no amount")])
    >>> check_report("x.pdf", doc)
    Traceback (most recent call last):
    ...
    toolkit.exceptions.DocumentError: x.pdf: only 0 of 1 records parsed (0 %, at least 90 % needed); 1 sent to parsing errors, e.g. page 1: no amount — the list's layout may be new: describe its words in the config file's layouts: section (docs/sale-lists.md)
    """  # noqa: E501
    rep = doc.report
    seen, parsed = rep["records_seen"], rep["records_parsed"]
    if seen and parsed < MIN_PARSED * seen:
        first = doc.errors[0]
        raise DocumentError(
            f"{path}: only {parsed} of {seen} records parsed ({100 * parsed // seen} %, at "
            f"least {MIN_PARSED * 100:g} % needed); {rep['records_failed']} sent to parsing "
            f"errors, e.g. page {first.page}: {first.reason} — the list's layout may be new: "
            "describe its words in the config file's layouts: section (docs/sale-lists.md)"
        )


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
            if (
                isinstance(amount, bool)
                or not isinstance(amount, int | float)
                or not (math.isfinite(amount) and amount >= 0)
            ):
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


_CONFLICT_COLUMNS = (
    "document_id",
    "county_id",
    "parcel_id",
    "parcel_norm",
    "field",
    "value",
    "earlier_value",
    "earlier_document_id",
    "page",
    "created_at",
)


def _money(v: Any) -> str | None:
    return None if v is None else f"{float(v):.2f}"


def _hold_conflicts(
    con: Any, q: Any, props: list[dict[str, Any]], now: dt.datetime
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Keep out of ``props`` the rows whose upset price differs from another document's.

    The earlier value stays (in the workspace, or the first document of this
    checkpoint that listed the parcel); each held row becomes a conflict record.
    """
    import pandas as pd

    kept: list[dict[str, Any]] = []
    conflicts: list[dict[str, Any]] = []
    first: dict[tuple[Any, str], dict[str, Any]] = {}

    def conflict(row: dict[str, Any], earlier: Any, earlier_doc: Any) -> None:
        conflicts.append(
            {
                "document_id": row["document_id"],
                "county_id": row["county_id"],
                "parcel_id": row["parcel_id"],
                "parcel_norm": row["parcel_norm"],
                "field": "upset_price",
                "value": _money(row["upset_price"]),
                "earlier_value": _money(earlier),
                "earlier_document_id": earlier_doc,
                "page": row.get("_page"),
                "created_at": now,
            }
        )

    for row in props:  # two documents of one checkpoint that disagree
        key = (row["county_id"], row["parcel_norm"])
        seen = first.get(key)
        if seen is None or seen["document_id"] == row["document_id"]:
            first.setdefault(key, row)
            kept.append(row)
        elif _money(seen["upset_price"]) != _money(row["upset_price"]) and None not in (
            seen["upset_price"],
            row["upset_price"],
        ):
            conflict(row, seen["upset_price"], seen["document_id"])
        else:
            kept.append(row)
    if not kept:
        return kept, conflicts
    check = pd.DataFrame(
        [
            {
                "county_id": r["county_id"],
                "parcel_norm": r["parcel_norm"],
                "upset_price": r["upset_price"],
                "document_id": r["document_id"],
            }
            for r in kept
        ]
    )
    check = check.astype(object).where(check.notna(), None)
    con.register("_conflict_check", check)
    try:
        found = con.execute(q.parse_conflicts_find).fetchall()
    finally:
        with contextlib.suppress(Exception):
            con.unregister("_conflict_check")
    earlier = {(int(c), str(n)): (v, d) for c, n, v, d in found}
    out = []
    for row in kept:
        hit = earlier.get((int(row["county_id"]), str(row["parcel_norm"])))
        if hit is None:
            out.append(row)
        else:
            conflict(row, *hit)
    return out, conflicts


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
                    "county_id": res["county_id"],
                    "parcel_id": r["parcel_id"],
                    "parcel_norm": r["parcel_norm"],
                    "control_number": r.get("control_number"),
                    "address": r.get("address"),
                    "municipality": r.get("municipality"),
                    "owner": r.get("owner"),
                    "description": r.get("description"),
                    "upset_price": r.get("upset_price"),
                    "sale_type": r.get("sale_type"),
                    "sale_date": r.get("sale_date"),
                    "auction_status": None,
                    "document_id": doc_id,
                    "raw_text": r.get("raw_text"),
                    "parse_confidence": r.get("parse_confidence"),
                    "parse_issues": _json(r.get("parse_issues")),
                    "parse_extra": _json(r.get("parse_extra")),
                    "ts": now,
                    "_page": r.get("page"),
                }
            )
        for e in res.get("errors", []):
            errors.append(
                {
                    "document_id": doc_id,
                    "page": e.get("page"),
                    "raw_text": e.get("raw_text"),
                    "reason": e.get("reason"),
                    "created_at": now,
                }
            )
        con.execute(
            q.document_set_parsed,
            [
                res.get("layout"),
                res.get("page_count"),
                len(res.get("rows", [])),
                len(res.get("errors", [])),
                now,
                res.get("sale_type"),
                res.get("sale_date"),
                doc_id,
            ],
        )
    con.execute(q.parse_conflicts_clear, [doc_ids])
    props, conflicts = _hold_conflicts(con, q, props, now)
    if conflicts:
        frame = pd.DataFrame(conflicts, columns=list(_CONFLICT_COLUMNS))
        frame = frame.astype(object).where(frame.notna(), None)
        con.register("_conflicts", frame)
        try:
            con.execute(q.parse_conflicts_insert)
        finally:
            con.unregister("_conflicts")
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
