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

    from toolkit.workspace import Workspace

VERDICTS = ("APPROVED", "CAUTION", "REJECTED")
EXPORT_FORMATS = ("csv", "xlsx")


def resolve_property(ws: Workspace, con: Any, prop: object, county: object = None) -> str:
    """A property id from its UUID, or from a parcel number with its county."""
    from toolkit.parcels import normalise_parcel

    text = str(prop).strip()
    rows = con.execute(ws.q.property_by_id, [text]).fetchall() if len(text) == 36 else []
    if rows:
        return str(rows[0][0])
    if county is None:
        raise ValidationError(
            f"Property {prop!r} is not a property id; "
            "give its county too to find it by parcel number."
        )
    cid = ws.store.engine.resolve_county(con, county)
    rows = con.execute(ws.q.property_by_parcel, [cid, normalise_parcel(text)]).fetchall()
    if not rows:
        raise ValidationError(f"No property with parcel number {prop!r} in {county} County.")
    return str(rows[0][0])


def override_verdict(ws: Workspace, prop: object, verdict: str, note: str,
                     county: object = None) -> None:  # fmt: skip
    """A person's verdict over the computed one (kept apart; the pipeline uses the override)."""
    from toolkit.backends.common import utcnow

    v = str(verdict).strip().upper()
    if v not in VERDICTS:
        raise UnknownChoiceError("verdict", verdict, VERDICTS)
    if not str(note or "").strip():
        raise ValidationError("An override needs a note saying why (what you saw).")

    def go(con: Any) -> None:
        pid = resolve_property(ws, con, prop, county)
        n = con.execute(ws.q.override_verdict, [v, note, utcnow(), pid]).fetchall()[0][0]
        if not n:
            raise ValidationError(
                f"Property {prop!r} has no computed verdict yet; "
                "run visual_validation for it first."
            )

    ws.store.run(go)


def set_manual_grade(ws: Workspace, prop: object, grade: str, note: str | None = None,
                     county: object = None) -> dict[str, Any]:  # fmt: skip
    """Grade a property from imagery; the manual grade wins and sets the repair estimate."""
    import json

    from toolkit.backends.common import utcnow
    from toolkit.decisions.profile import GRADES
    from toolkit.processors.decisions import workspace_profile

    g = str(grade).strip().upper()
    if g not in GRADES:
        raise UnknownChoiceError("condition grade", grade, GRADES)
    profile = workspace_profile(ws.data_dir)
    per_sqft = profile.condition.repair_per_sqft.get(g)

    def go(con: Any) -> dict[str, Any]:
        pid = resolve_property(ws, con, prop, county)
        footprint = con.execute(ws.q.footprint_of, [pid]).fetchall()
        sqft = footprint[0][0] if footprint else None
        repair = (
            None if per_sqft is None or sqft is None else round(float(per_sqft) * float(sqft), 2)
        )
        reason = f"manual grade {g} wins over the computed grade" + (f": {note}" if note else "")
        con.execute(ws.q.manual_grade_upsert,
                    [pid, g, g, repair, json.dumps([reason]), json.dumps(["manual grade"]), 1.0,
                     utcnow()])  # fmt: skip
        return {"property_id": pid, "grade": g, "repair_estimate": repair}

    return ws.store.run(go)


def record_title_search(ws: Workspace, prop: object, liens: list[dict[str, Any]] | None = None,
                        source: str = "manual", county: object = None) -> int:  # fmt: skip
    """Record a title search (recorder and docket look-ups) and its liens; returns how many."""
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
        pid = resolve_property(ws, con, prop, county)
        con.execute(ws.q.title_search_insert, [pid, now, source])
        for kind, holder, amount, recorded in rows:
            con.execute(ws.q.lien_insert, [pid, kind, holder, amount, recorded, source, now])
        return len(rows)

    return ws.store.run(go)


def bid_list(
    ws: Workspace, county: object = None, decisions: tuple[str, ...] = ("BID", "REVIEW")
) -> pd.DataFrame:
    """The bidder's list: max bids, key facts and reasons, nearest sale first."""
    bad = [d for d in decisions if d not in ("BID", "REVIEW", "PASS")]
    if bad:
        raise UnknownChoiceError("decision", bad[0], ("BID", "REVIEW", "PASS"))
    cid = ws.county_id(county) if county is not None else None
    return ws.query("bid_list", [cid, cid, list(decisions)])


def export_bids(ws: Workspace, path: str | Path, county: object = None,
                decisions: tuple[str, ...] = ("BID", "REVIEW")) -> Path:  # fmt: skip
    """Write the bid list to CSV or Excel (by the file's suffix); returns the path."""
    out = Path(path)
    fmt = out.suffix.lower().lstrip(".")
    if fmt not in EXPORT_FORMATS:
        raise UnknownChoiceError("export format (file suffix)", fmt or out.name, EXPORT_FORMATS)
    frame = bid_list(ws, county, decisions)
    out.parent.mkdir(parents=True, exist_ok=True)
    if fmt == "csv":
        frame.to_csv(out, index=False)
    else:
        try:
            import openpyxl  # noqa: F401
        except ImportError as exc:
            from toolkit.exceptions import MissingDependencyError

            raise MissingDependencyError(
                "Excel export needs openpyxl: pip install 'taxsale-toolkit[excel]'"
            ) from exc
        frame.to_excel(out, index=False, sheet_name="bids")
    return out
