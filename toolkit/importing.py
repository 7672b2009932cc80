"""Bringing property lists into a workspace (CSV or DataFrame → ``properties``)."""

from __future__ import annotations

import contextlib
import re
from pathlib import Path
from typing import TYPE_CHECKING, Any

from toolkit.exceptions import ToolkitError, ValidationError
from toolkit.jobs import engine

if TYPE_CHECKING:
    from collections.abc import Callable

    import pandas as pd

    from toolkit.workspace import Workspace

SALE_TYPES = ("upset", "judicial", "repository", "private", "sheriff")
AUCTION_STATUSES = ("active", "withdrawn", "postponed", "sold", "redeemed")
ALIASES = {
    "parcel_id": ("parcel_id", "parcel", "parcel_number", "parcelnumb", "apn", "map_number",
                  "folio", "folio_nbr"),
    "address": ("address", "location", "property_address", "situs"),
    "upset_price": ("upset_price", "total_due", "amount", "upset_amount", "approx_upset_price"),
    "owner": ("owner", "owner_name", "reputed_owner"),
    "municipality": ("municipality", "township", "muni"),
    "control_number": ("control_number", "control_no", "sale_number", "record_number", "number"),
    "description": ("description", "desc"),
    "sale_type": ("sale_type",),
    "sale_date": ("sale_date",),
    "auction_status": ("auction_status", "status"),
    "county": ("county", "county_name"),
    "document_id": ("document_id",),
}  # fmt: skip


def normalise_parcel(parcel: object) -> str:
    """Parcel numbers compare without punctuation or case, as Regrid matches them.

    >>> normalise_parcel("01.02-03..-004.05-006")
    '01020300405006'
    """
    return re.sub(r"[^0-9A-Za-z]", "", str(parcel)).upper()


def _read(data: pd.DataFrame | str | Path) -> pd.DataFrame:
    import pandas as pd

    if isinstance(data, pd.DataFrame):
        return data.copy()
    path = Path(data)
    if not path.is_file():
        raise ValidationError(f"Property file {str(path)!r} does not exist.")
    if path.suffix.lower() in (".xlsx", ".xls"):
        return pd.read_excel(path, dtype=str)
    return pd.read_csv(path, dtype=str, comment="#", keep_default_na=False, na_values=[""])


def import_properties(ws: Workspace, data: pd.DataFrame | str | Path,
                      county: object = None) -> dict[str, Any]:  # fmt: skip
    """Upsert properties by (county, parcel id); see :meth:`Workspace.import_properties`."""
    import pandas as pd

    raw = _read(data)
    lower = {str(c).strip().lower().replace(" ", "_"): c for c in raw.columns}
    frame = pd.DataFrame(index=raw.index)
    for target, names in ALIASES.items():
        src = next((lower[n] for n in names if n in lower), None)
        frame[target] = raw[src] if src is not None else None
    if frame["parcel_id"].isna().all() and "parcel_id" not in lower:
        raise ValidationError(
            f"No parcel id column in the data; columns were {', '.join(map(str, raw.columns))}. "
            f"Name one of: {', '.join(ALIASES['parcel_id'])}."
        )
    if county is not None:
        frame["county"] = frame["county"].where(frame["county"].notna(), str(county))

    rejected: list[dict[str, Any]] = []

    def reject(mask: pd.Series, reason: Callable[[pd.Series], str]) -> None:
        nonlocal frame
        for idx in frame.index[mask]:
            rejected.append(
                {"row": int(idx) + 1, "parcel_id": _s(frame.at[idx, "parcel_id"]),
                 "county": _s(frame.at[idx, "county"]), "reason": reason(frame.loc[idx])}
            )  # fmt: skip
        frame = frame.loc[~mask]

    def blank(col: str) -> pd.Series:
        return frame[col].isna() | (frame[col].astype(str).str.strip() == "")

    reject(blank("parcel_id"), lambda r: "no parcel id")
    reject(blank("county"), lambda r: "no county (add a county column or pass county=)")

    # resolve each distinct county once
    ids: dict[str, int | None] = {}
    errors: dict[str, str] = {}

    def resolve_all(con: Any) -> None:
        for name in frame["county"].astype(str).unique():
            try:
                ids[name] = ws.engine.resolve_county(con, ws.q, name)
            except ToolkitError as exc:
                errors[name] = str(exc)

    ws.store.run(resolve_all, tx=False)
    for name in list(ids):
        if ids[name] is None:
            errors[name] = f"County {name!r} names no single county."
    reject(frame["county"].astype(str).isin(list(errors)), lambda r: errors[str(r["county"])])
    frame["county_id"] = frame["county"].astype(str).map(ids).astype("Int64")

    amounts = pd.to_numeric(
        frame["upset_price"]
        .astype(str)
        .str.replace(r"[$,\s]", "", regex=True)
        .replace({"nan": None, "None": None, "": None}),
        errors="coerce",
    )
    bad_amount = (
        frame["upset_price"].notna()
        & (frame["upset_price"].astype(str).str.strip() != "")
        & amounts.isna()
    )
    reject(bad_amount, lambda r: f"amount {r['upset_price']!r} is not a number")
    amounts = amounts.loc[frame.index]
    reject(amounts < 0, lambda r: f"amount {r['upset_price']!r} is negative")
    frame["upset_price"] = amounts.loc[frame.index].round(2)

    dates = pd.to_datetime(frame["sale_date"], errors="coerce", format="mixed")
    bad_date = (
        frame["sale_date"].notna()
        & (frame["sale_date"].astype(str).str.strip() != "")
        & dates.isna()
    )
    reject(bad_date, lambda r: f"sale date {r['sale_date']!r} is not a date")
    frame["sale_date"] = dates.loc[frame.index].dt.date

    for col, valid in (("sale_type", SALE_TYPES), ("auction_status", AUCTION_STATUSES)):
        vals = frame[col].astype("string").str.strip().str.lower()
        frame[col] = vals.where(vals != "", None)
        bad = frame[col].notna() & ~frame[col].isin(valid)
        reject(
            bad,
            lambda r, col=col, valid=valid: f"{col} {r[col]!r} is not one of {', '.join(valid)}",
        )

    frame["parcel_id"] = frame["parcel_id"].astype(str).str.strip()
    frame["parcel_norm"] = frame["parcel_id"].map(normalise_parcel)
    reject(
        frame["parcel_norm"] == "",
        lambda r: f"parcel id {r['parcel_id']!r} has no letters or digits",
    )
    before = len(frame)
    frame = frame.drop_duplicates(subset=["county_id", "parcel_norm"], keep="last")
    duplicates = before - len(frame)
    for col in ("address", "owner", "municipality", "control_number", "description", "document_id"):
        frame[col] = frame[col].astype("string").str.strip().replace({"": None})
    frame["ts"] = engine.utcnow()
    cols = ["county_id", "parcel_id", "parcel_norm", "control_number", "address", "municipality",
            "owner", "description", "upset_price", "sale_type", "sale_date", "auction_status",
            "document_id", "ts"]  # fmt: skip
    incoming = frame[cols].astype(object).where(frame[cols].notna(), None)

    updated = (
        ws.store.run(lambda con: upsert_properties(con, ws.q, incoming)) if len(incoming) else 0
    )
    return {
        "imported": len(incoming) - updated,
        "updated": updated,
        "rejected": pd.DataFrame(rejected, columns=["row", "parcel_id", "county", "reason"]),
        "duplicates_in_input": duplicates,
    }


PARSE_DETAIL = ("raw_text", "parse_confidence", "parse_issues", "parse_extra")


def upsert_properties(con: Any, q: Any, frame: pd.DataFrame) -> int:
    """Upsert clean property rows by (county_id, parcel_norm); returns how many existed.

    Runs inside the caller's transaction. ``frame`` has the columns of
    ``properties_upsert`` (county_id, parcel_id, parcel_norm, control_number,
    address, municipality, owner, description, upset_price, sale_type,
    sale_date, auction_status, document_id, ts), unique on (county_id,
    parcel_norm), with None for missing values; a frame that also has the
    parser's columns (raw_text, parse_confidence, parse_issues, parse_extra)
    keeps them too. A value that is None leaves the stored one as it is.

    Examples
    --------
    >>> import toolkit, pandas as pd
    >>> ws = toolkit.connect(":memory:")
    >>> row = dict(county_id=13, parcel_id="01-2", parcel_norm="012", control_number=None,
    ...            address=None, municipality=None, owner="X", description=None,
    ...            upset_price=10.0, sale_type=None, sale_date=None, auction_status=None,
    ...            document_id=None, ts=toolkit.jobs.engine.utcnow())
    >>> ws.store.run(lambda con: upsert_properties(con, ws.q, pd.DataFrame([row])))
    0
    """
    if not len(frame):
        return 0
    query = (
        q.properties_upsert_parsed
        if all(c in frame.columns for c in PARSE_DETAIL)
        else q.properties_upsert
    )
    con.register("_incoming", frame)
    try:
        existing = len(con.execute(q.properties_existing).fetchall())
        con.execute(query)
        return existing
    finally:
        # after a failed statement the transaction is aborted and unregister fails
        # too; the first error is the one to see
        with contextlib.suppress(Exception):
            con.unregister("_incoming")


def _s(v: object) -> str | None:
    import pandas as pd

    return None if v is None or (isinstance(v, float) and pd.isna(v)) else str(v)
