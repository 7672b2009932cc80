"""What a person records by hand: verdict overrides, manual grades, title searches; the bid list.

Each is one short transaction; computed results are never overwritten, the
person's input is kept beside them (``override_verdict``, ``manual_grade``).
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from toolkit.exceptions import UnknownChoiceError, ValidationError

if TYPE_CHECKING:
    import pandas as pd

    from toolkit.backends.base import Connection, Store

VERDICTS = ("APPROVED", "CAUTION", "REJECTED")
EXPORT_FORMATS = ("csv", "xlsx")


def resolve_property(store: Store, con: Connection, prop: object, county: object = None) -> str:
    """A property id from its UUID, or from a parcel number with its county."""
    from toolkit.parcels import normalise_parcel

    text = str(prop).strip()
    rows = con.execute(store.q.property_by_id, [text]).fetchall() if len(text) == 36 else []
    if rows:
        return str(rows[0][0])
    if county is None:
        raise ValidationError(
            f"Property {prop!r} is not a property id; "
            "give its county too to find it by parcel number."
        )
    cid = store.engine.resolve_county(con, county)
    rows = con.execute(store.q.property_by_parcel, [cid, normalise_parcel(text)]).fetchall()
    if not rows:
        raise ValidationError(f"No property with parcel number {prop!r} in {county} County.")
    return str(rows[0][0])


def override_verdict(
    store: Store, prop: object, verdict: str, note: str, county: object = None
) -> None:
    """A person's verdict over the computed one (kept apart; the pipeline uses the override)."""
    from toolkit.backends.common import utcnow

    v = str(verdict).strip().upper()
    if v not in VERDICTS:
        raise UnknownChoiceError("verdict", verdict, VERDICTS)
    if not str(note or "").strip():
        raise ValidationError("An override needs a note saying why (what you saw).")

    def go(con: Any) -> None:
        pid = resolve_property(store, con, prop, county)
        n = con.execute(store.q.override_verdict, [v, note, utcnow(), pid]).fetchall()[0][0]
        if not n:
            raise ValidationError(
                f"Property {prop!r} has no computed verdict yet; "
                "run visual_validation for it first."
            )

    store.run(go)


def set_manual_grade(
    store: Store,
    data_dir: Path,
    prop: object,
    grade: str,
    note: str | None = None,
    county: object = None,
) -> dict[str, Any]:
    """Grade a property from imagery; the manual grade wins and sets the repair estimate."""
    import json

    from toolkit.backends.common import utcnow
    from toolkit.decisions.profile import GRADES
    from toolkit.processors.decisions import workspace_profile

    g = str(grade).strip().upper()
    if g not in GRADES:
        raise UnknownChoiceError("condition grade", grade, GRADES)
    profile = workspace_profile(data_dir)
    per_sqft = profile.condition.repair_per_sqft.get(g)

    def go(con: Any) -> dict[str, Any]:
        pid = resolve_property(store, con, prop, county)
        footprint = con.execute(store.q.footprint_of, [pid]).fetchall()
        sqft = footprint[0][0] if footprint else None
        repair = (
            None if per_sqft is None or sqft is None else round(float(per_sqft) * float(sqft), 2)
        )
        reason = f"manual grade {g} wins over the computed grade" + (f": {note}" if note else "")
        con.execute(
            store.q.manual_grade_upsert,
            [pid, g, g, repair, json.dumps([reason]), json.dumps(["manual grade"]), 1.0, utcnow()],
        )
        return {"property_id": pid, "grade": g, "repair_estimate": repair}

    return store.run(go)


def record_title_search(
    store: Store,
    prop: object,
    liens: list[dict[str, Any]] | None = None,
    source: str = "manual",
    county: object = None,
    notice_confirmed: bool = False,
) -> int:
    """Record a title search (recorder and docket look-ups) and its liens; returns how many.

    Lien types are :data:`toolkit.decisions.title.LIEN_TYPES` (``water_sewer`` for a
    municipal authority's water or sewer claim). ``notice_confirmed`` says the
    searcher confirmed that every lienholder was served for a judicial sale
    (72 P.S. §5860.611-.612); only then does the title rule let the decree clear
    liens (see :func:`confirm_judicial_notice`).
    """
    import pandas as pd

    from toolkit.backends.common import utcnow
    from toolkit.decisions.title import LIEN_TYPES

    rows = []
    for i, lien in enumerate(liens or [], start=1):
        kind = str(lien.get("lien_type", "")).strip().lower()
        if kind not in LIEN_TYPES:
            raise UnknownChoiceError(f"lien type of lien {i}", lien.get("lien_type"), LIEN_TYPES)
        amount = lien.get("amount")
        try:
            amount = (
                None
                if amount in (None, "")
                else float(str(amount).replace(",", "").replace("$", ""))
            )
        except ValueError:
            raise ValidationError(
                f"Lien {i}: amount {lien.get('amount')!r} is not a number."
            ) from None
        recorded = lien.get("recorded_date")
        if recorded not in (None, ""):
            stamp = pd.to_datetime(recorded, errors="coerce")
            if pd.isna(stamp):
                raise ValidationError(f"Lien {i}: recorded date {recorded!r} is not a date.")
            recorded = stamp.date()
        else:
            recorded = None
        rows.append((kind, lien.get("holder"), amount, recorded))
    now = utcnow()

    def go(con: Any) -> int:
        pid = resolve_property(store, con, prop, county)
        con.execute(store.q.title_search_insert, [pid, now, source])
        for kind, holder, amount, recorded in rows:
            con.execute(store.q.lien_insert, [pid, kind, holder, amount, recorded, source, now])
        if notice_confirmed:
            con.execute(store.q.notice_confirm_insert, [pid, now, f"with title search ({source})"])
        return len(rows)

    return store.run(go)


def confirm_judicial_notice(store: Store, prop: object, note: str, county: object = None) -> str:
    """Mark a judicial sale's notice as confirmed for a property; returns its id.

    A judicial sale's decree clears mortgages and liens only when notice was
    proper (72 P.S. §5860.611-.612; a notice dispute left a mortgage on in Mid
    Penn Bank v. Dauphin County Tax Claim Bureau, 2023). Without this mark the
    title rule sends every lien at a judicial sale to REVIEW, naming notice.
    The note says what was checked (e.g. "returns of service for all 3 lienholders
    on the docket"). Title research reads it; a property already researched is
    pending again for title research (its result is older than the mark), and
    then for bid strategy.
    """
    from toolkit.backends.common import utcnow

    if not str(note or "").strip():
        raise ValidationError("Confirming notice needs a note saying what was checked.")

    def go(con: Any) -> str:
        pid = resolve_property(store, con, prop, county)
        con.execute(store.q.notice_confirm_insert, [pid, utcnow(), str(note).strip()])
        return pid

    return store.run(go)


def bid_list(
    store: Store, county: object = None, decisions: tuple[str, ...] = ("BID", "REVIEW")
) -> pd.DataFrame:
    """The bidder's list: max bids, key facts and reasons, nearest sale first."""
    bad = [d for d in decisions if d not in ("BID", "REVIEW", "PASS")]
    if bad:
        raise UnknownChoiceError("decision", bad[0], ("BID", "REVIEW", "PASS"))
    cid = (
        store.run(lambda con: store.engine.resolve_county(con, county), tx=False)
        if county is not None
        else None
    )
    return store.query("bid_list", [cid, cid, list(decisions)])


def export_bids(
    store: Store,
    path: str | Path,
    county: object = None,
    decisions: tuple[str, ...] = ("BID", "REVIEW"),
) -> Path:
    """Write the bid list to CSV or Excel (by the file's suffix); returns the path.

    Every text cell is written as text: see :func:`write_table`.
    """
    out = Path(path)
    fmt = out.suffix.lower().lstrip(".")
    if fmt not in EXPORT_FORMATS:
        raise UnknownChoiceError("export format (file suffix)", fmt or out.name, EXPORT_FORMATS)
    frame = bid_list(store, county, decisions)
    return write_table(frame, out, sheet_name="bids")


# --- writing exports ----------------------------------------------------------------

#: A cell starting with one of these is a formula to a spreadsheet (OWASP, "CSV Injection").
FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")


def as_text(value: Any) -> Any:
    r"""A CSV cell a spreadsheet shows as text: ``'`` before a formula-like string.

    Only strings change; numbers (a negative amount) stay numbers.

    Examples
    --------
    >>> as_text('=HYPERLINK("http://x","click")'), as_text("-1"), as_text(-1.5), as_text("A")
    ('\'=HYPERLINK("http://x","click")', "'-1", -1.5, 'A')
    """
    if isinstance(value, str) and value.startswith(FORMULA_PREFIXES):
        return "'" + value
    return value


def write_table(frame: pd.DataFrame, path: str | Path, *, sheet_name: str = "data") -> Path:
    """Write ``frame`` to CSV or Excel (by suffix) so that no cell is a live formula.

    Data in a bid list comes from sale lists, county files and people (an owner
    named ``=HYPERLINK(...)``); a spreadsheet must show it, never run it:

    - CSV: a text cell starting with ``=``, ``+``, ``-``, ``@``, a tab or a
      carriage return gets a leading ``'`` (OWASP's advice), which spreadsheets
      hide and read as "this is text";
    - Excel: every text cell is a string cell (never a formula), and the
      formula-like ones carry Excel's own quote prefix, so editing the cell
      does not turn it into a formula either. Characters Excel cannot store
      (control characters) are dropped.

    Numbers, dates and empty cells keep their types. Returns the path.
    """
    import pandas as pd

    out = Path(path)
    fmt = out.suffix.lower().lstrip(".")
    if fmt not in EXPORT_FORMATS:
        raise UnknownChoiceError("export format (file suffix)", fmt or out.name, EXPORT_FORMATS)
    out.parent.mkdir(parents=True, exist_ok=True)
    if fmt == "csv":
        safe = frame.copy()
        for column in safe.columns:
            if not (
                pd.api.types.is_numeric_dtype(safe[column])
                or pd.api.types.is_datetime64_any_dtype(safe[column])
            ):
                safe[column] = safe[column].map(as_text).astype(object)
        safe.columns = [as_text(str(c)) for c in safe.columns]
        # CRLF rows (RFC 4180): the csv writer then quotes any cell holding a CR or LF
        safe.to_csv(out, index=False, lineterminator="\r\n")
        return out
    _write_xlsx(frame, out, sheet_name)
    return out


def _write_xlsx(frame: pd.DataFrame, out: Path, sheet_name: str) -> None:
    try:
        from openpyxl import Workbook
        from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE
    except ImportError as exc:
        from toolkit.exceptions import MissingDependencyError

        raise MissingDependencyError(
            "Excel export needs openpyxl: pip install 'taxsale-toolkit[excel]'"
        ) from exc
    import json
    import math

    import numpy as np
    import pandas as pd

    def cell_value(value: Any) -> Any:
        if value is None or value is pd.NaT:
            return None
        if isinstance(value, np.generic):
            value = value.item()
        if isinstance(value, float) and math.isnan(value):
            return None
        if isinstance(value, pd.Timestamp):
            return value.to_pydatetime()
        if isinstance(value, list | tuple | dict | np.ndarray):
            value = json.dumps(value.tolist() if isinstance(value, np.ndarray) else value)
        if isinstance(value, str):
            return ILLEGAL_CHARACTERS_RE.sub("", value)
        return value

    book = Workbook()
    sheet = book.active
    sheet.title = sheet_name
    sheet.append([cell_value(str(c)) for c in frame.columns])
    columns = [frame[c].tolist() for c in frame.columns]
    for row in zip(*columns, strict=True):
        sheet.append([cell_value(v) for v in row])
    for line in sheet.iter_rows():
        for cell in line:
            if isinstance(cell.value, str):
                # openpyxl makes "=..." a formula; a string cell is shown, never run
                cell.data_type = "s"
                if cell.value.startswith(FORMULA_PREFIXES):
                    cell.quotePrefix = True
    book.save(out)
