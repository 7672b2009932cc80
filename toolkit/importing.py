"""Bringing property lists into a workspace (CSV or DataFrame → ``properties``)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from toolkit.backends.common import utcnow
from toolkit.exceptions import ToolkitError, ValidationError
from toolkit.parcels import AUCTION_STATUSES, SALE_TYPES, normalise_parcel, upsert_properties

if TYPE_CHECKING:
    from collections.abc import Callable

    import pandas as pd

    from toolkit.backends.base import Store

__all__ = ["AUCTION_STATUSES", "SALE_TYPES", "import_properties", "normalise_parcel"]
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


def import_properties(store: Store, data: pd.DataFrame | str | Path,
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
                ids[name] = store.engine.resolve_county(con, name)
            except ToolkitError as exc:
                errors[name] = str(exc)

    store.run(resolve_all, tx=False)
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
    frame["ts"] = utcnow()
    cols = ["county_id", "parcel_id", "parcel_norm", "control_number", "address", "municipality",
            "owner", "description", "upset_price", "sale_type", "sale_date", "auction_status",
            "document_id", "ts"]  # fmt: skip
    incoming = frame[cols].astype(object).where(frame[cols].notna(), None)

    updated = (
        store.run(lambda con: upsert_properties(con, store.q, incoming)) if len(incoming) else 0
    )
    return {
        "imported": len(incoming) - updated,
        "updated": updated,
        "rejected": pd.DataFrame(rejected, columns=["row", "parcel_id", "county", "reason"]),
        "duplicates_in_input": duplicates,
    }


def _s(v: object) -> str | None:
    import pandas as pd

    return None if v is None or (isinstance(v, float) and pd.isna(v)) else str(v)
