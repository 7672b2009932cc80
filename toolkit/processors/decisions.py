"""Processors for the decision types: screening, condition, title and bids.

Each is a *batch* processor: the rules in :mod:`toolkit.decisions` are
vectorised over the whole batch, and the session writes the results. The
investor profile is ``$TOOLKIT_PROFILE``, else ``investor_profile.yaml`` in the
workspace's data folder, else the defaults (every default not found in a source
is marked *unverified* in ``data/sample/investor_profile.yaml``).
"""

from __future__ import annotations

import math
import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import pandas as pd

    from toolkit.backends.base import Store
    from toolkit.decisions.profile import InvestorProfile
    from toolkit.processors.context import ProcessorContext

PROFILE_ENV = "TOOLKIT_PROFILE"


PROFILE_FILE = "investor_profile.yaml"


def profile_origin(data_dir: Path) -> tuple[Path | None, str]:
    """Where this workspace's profile comes from: (the file or None, how it was found).

    ``$TOOLKIT_PROFILE`` first, then ``investor_profile.yaml`` in the workspace's
    data folder, else the built-in defaults (``None``).
    """
    path = os.environ.get(PROFILE_ENV)
    if path:
        return Path(path), f"${PROFILE_ENV}"
    local = Path(data_dir) / PROFILE_FILE
    if local.is_file():
        return local, "the workspace's data folder"
    return None, f"built-in defaults (no {PROFILE_FILE} in {data_dir})"


def workspace_profile(data_dir: Path) -> InvestorProfile:
    """The profile a workspace whose folder is ``data_dir`` uses (see module doc)."""
    from toolkit.decisions.profile import InvestorProfile, load_profile

    path, _ = profile_origin(data_dir)
    return load_profile(path) if path is not None else InvestorProfile()


def starter_profile_text() -> str:
    """The commented starter profile ``toolkit profile init`` writes (the built-in defaults)."""
    from importlib import resources

    starter = resources.files("toolkit.reference") / "investor_profile_starter.yaml"
    return starter.read_text(encoding="utf-8")


def init_profile(data_dir: Path, *, force: bool = False) -> Path:
    """Write the starter profile into the workspace's data folder; returns its path.

    Refuses (:class:`~toolkit.exceptions.ValidationError`) to replace an existing
    file unless ``force``.
    """
    from toolkit.exceptions import ValidationError

    target = Path(data_dir) / PROFILE_FILE
    if target.exists() and not force:
        raise ValidationError(
            f"{target} exists already; nothing was changed. Edit it, or replace it with the "
            "starter profile: toolkit profile init --force."
        )
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(starter_profile_text(), encoding="utf-8")
    except OSError as exc:
        raise ValidationError(f"Cannot write {str(target)!r}: {exc}") from exc
    return target


def profile_errors(path: str | Path) -> list[str]:
    """Every problem of a profile file, each naming the bad field and its valid values.

    :func:`~toolkit.decisions.profile.load_profile` stops at the first problem;
    here the key behind each one is set aside and the rest checked again, so
    one run lists them all. An empty list means the file is valid.
    """
    from collections.abc import Mapping

    import yaml

    from toolkit.decisions.profile import load_profile, profile_from_dict
    from toolkit.exceptions import ConfigError

    try:
        load_profile(path)
        return []
    except ConfigError as exc:
        first = str(exc)
    try:
        data = yaml.safe_load(Path(path).read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, yaml.YAMLError):
        return [first]
    if not isinstance(data, Mapping):
        return [first]
    data = {k: dict(v) if isinstance(v, Mapping) else v for k, v in data.items()}

    def error(trial: dict[str, Any]) -> str | None:
        try:
            profile_from_dict(trial)
        except ConfigError as exc:
            return str(exc)
        return None

    def without(section: str, key: str | None) -> dict[str, Any]:
        trial = {k: dict(v) if isinstance(v, dict) else v for k, v in data.items()}
        if key is None:
            del trial[section]
        else:
            del trial[section][key]
        return trial

    errors: list[str] = []
    while (message := error(data)) is not None:
        errors.append(message)
        # the key behind this message: the one whose removal changes the first problem
        places = [
            (s, k) for s, v in data.items() for k in (list(v) if isinstance(v, dict) else [None])
        ]
        culprit = next((p for p in places if error(without(*p)) != message), None)
        if culprit is None:  # a problem no single key causes: report it and stop
            break
        data = without(*culprit)
    return errors


def _clean(value: Any) -> Any:
    """NaN / NA / NaT → None, numpy scalars → Python, so results store as SQL NULL / values."""
    if value is None:
        return None
    if type(value).__name__ in ("NAType", "NaTType"):
        return None
    if hasattr(value, "item") and not isinstance(value, str | bytes | list | dict):
        try:
            value = value.item()
        except (ValueError, AttributeError):
            pass
    if isinstance(value, float) and math.isnan(value):
        return None
    return value


def _rows(out: pd.DataFrame, ids: pd.Series, columns: dict[str, str]) -> list[dict[str, Any]]:
    """One result dict per batch row, in batch order, renaming rule columns to table columns.

    Column by column (``tolist`` gives Python values), which is several times faster
    than reindexing the frame and converting it row by row; a batch row the rules
    returned nothing for gets NULLs.
    """
    import pandas as pd

    pos = pd.Index(out["property_id"].astype(str)).get_indexer(ids.astype(str))
    names = [c for c in columns if c in out.columns]
    values = []
    for c in names:
        series = out[c]
        col = series.tolist()  # Python scalars for numpy columns
        # numpy dtypes only: a nullable (pandas) column gives pd.NA, which _clean handles
        kind = series.dtype.kind if type(series.dtype).__module__.startswith("numpy") else "O"
        if kind == "f":
            values.append([None if p < 0 or col[p] != col[p] else col[p] for p in pos])
        elif kind in "iub":
            values.append([None if p < 0 else col[p] for p in pos])
        else:
            values.append([None if p < 0 else _clean(col[p]) for p in pos])
    keys = [columns[c] for c in names]
    return (
        [dict(zip(keys, row, strict=True)) for row in zip(*values, strict=True)]
        if names
        else [{} for _ in pos]
    )


def _prep(frame: pd.DataFrame) -> pd.DataFrame:
    f = frame.copy()
    f["property_id"] = f["item_id"].astype(str)
    if "parcel_address" in f.columns:
        # the parcel record's address is the evidence of frontage; the list's is a fallback
        f["address"] = f["parcel_address"].where(f["parcel_address"].notna(), f.get("address"))
    return f


def make_visual_validation(ctx: ProcessorContext) -> Any:
    from toolkit.decisions.screening import screen

    profile = workspace_profile(ctx.data_dir)

    def process(frame: pd.DataFrame) -> list[dict[str, Any]]:
        out = screen(_prep(frame), profile)
        return _rows(
            out,
            frame["item_id"],
            {c: c for c in ("verdict", "reasons", "inputs_used", "confidence")},
        )

    process.batch = True  # type: ignore[attr-defined]
    return process


def make_property_condition(ctx: ProcessorContext) -> Any:
    from toolkit.decisions.condition import assess_condition, county_psf_medians

    profile = workspace_profile(ctx.data_dir)
    medians: dict[str, dict[str, float]] = {}

    def process(frame: pd.DataFrame) -> list[dict[str, Any]]:
        f = _prep(frame)
        counties = sorted(set(f["county"]) - set(medians))
        if counties:  # the county's median $/sqft from all its parcel records, once
            values = ctx.query("parcel_values_for_counties", [counties])
            medians.update({c: county_psf_medians(values[values.county == c]) for c in counties})
        merged: dict[str, float] = {}
        for c in set(f["county"]):
            merged.update(medians.get(c, {}))
        out = assess_condition(f, profile, county_medians=merged)
        cols = (
            "grade",
            "repair_estimate",
            "reasons",
            "inputs_used",
            "confidence",
            "computed_grade",
            "score",
            "signals",
            "repair_per_sqft",
        )
        return _rows(out, frame["item_id"], {c: c for c in cols})

    process.batch = True  # type: ignore[attr-defined]
    return process


def make_title_research(ctx: ProcessorContext) -> Any:
    from toolkit.decisions.title import assess_title

    profile = workspace_profile(ctx.data_dir)

    def process(frame: pd.DataFrame) -> list[dict[str, Any]]:
        f = _prep(frame)
        ids = f["property_id"].tolist()
        liens = ctx.query("liens_for", [ids])
        searched = ctx.query("title_searched_for", [ids, ids]).property_id.tolist()
        # a judicial decree clears liens only when a person confirmed notice (issue 12)
        confirmed = set(ctx.query("notice_confirmed_for", [ids]).property_id.astype(str))
        f["notice_confirmed"] = f["property_id"].isin(confirmed)
        out = assess_title(f, liens, profile, searched=searched)
        cols = (
            "status",
            "surviving_liens",
            "surviving_total",
            "redemption_risk",
            "redemption_period",
            "reasons",
            "confidence",
        )
        return _rows(out, frame["item_id"], {c: c for c in cols})

    process.batch = True  # type: ignore[attr-defined]
    return process


def make_bid_strategy(ctx: ProcessorContext) -> Any:
    from toolkit.decisions.bid import ClrFactors, check_clr_factors, max_bid
    from toolkit.reference.clr import with_shipped_fallback

    profile = workspace_profile(ctx.data_dir)
    # the workspace's own factors win; the shipped PA table fills in the counties it lacks
    table = with_shipped_fallback(ctx.query("clr_factors_all"))
    # checked once per session, not per batch
    clr = ClrFactors(check_clr_factors(table, "CLR factors"))

    def process(frame: pd.DataFrame) -> list[dict[str, Any]]:
        f = _prep(frame)
        inputs = ctx.query("bid_inputs_for", [f["property_id"].tolist()])
        f = assessed_from_list(f.merge(inputs, on="property_id", how="left"))
        out = max_bid(f, profile, clr_factors=clr)
        cols = {
            "market_value": "market_value",
            "value_source": "market_value_source",
            "max_bid_conservative": "max_bid_conservative",
            "max_bid_moderate": "max_bid_moderate",
            "max_bid_aggressive": "max_bid_aggressive",
            "decision": "decision",
            "confidence": "confidence",
            "missing_inputs": "missing_inputs",
            "inputs_used": "inputs_used",
            "reasons": "reasons",
            "upset_price": "upset_price",
            "clr_factor": "clr_factor",
            "clr_source": "clr_source",
            "repairs": "repairs",
            "surviving_liens_total": "surviving_liens_total",
            "transfer_tax": "transfer_tax",
            "selling_costs": "selling_costs",
            "breakdown": "breakdown",
            "minimum_bid": "minimum_bid",
            "minimum_bid_source": "minimum_bid_source",
            "environmental_risk": "environmental_risk",
            "redemption_risk": "redemption_risk",
            "redemption_period": "redemption_period",
        }
        return _rows(out, frame["item_id"], cols)

    process.batch = True  # type: ignore[attr-defined]
    return process


def assessed_from_list(frame: pd.DataFrame) -> pd.DataFrame:
    """Give a property without a parcel record's ``total_value`` the sale list's assessment.

    The parcel record (Regrid bulk file or API) is the assessor's current value and
    comes first; a printer-report sale list prints an ASSESSMENT per property, kept
    in ``list_extra`` (the parser's ``parse_extra``), which stands in when the
    parcel record has none. Either way assessed value x CLR factor is a market value.

    Examples
    --------
    >>> import pandas as pd
    >>> f = pd.DataFrame({"total_value": [50000, None, None],
    ...                   "list_extra": [None, '{"assessment": "12,300.00"}', "{}"]})
    >>> assessed_from_list(f).total_value.tolist()
    [50000.0, 12300.0, nan]
    """
    import json

    import pandas as pd

    if "list_extra" not in frame.columns:
        return frame

    def assessment(text: Any) -> float | None:
        try:
            value = json.loads(text).get("assessment") if isinstance(text, str) else None
            value = (
                float(str(value).replace(",", "").replace("$", "")) if value is not None else None
            )
        except (ValueError, AttributeError, TypeError):
            return None
        return value if value is not None and value > 0 and math.isfinite(value) else None

    listed = pd.to_numeric(frame["list_extra"].map(assessment), errors="coerce")
    own = (
        pd.to_numeric(frame["total_value"], errors="coerce")
        if "total_value" in frame.columns
        else pd.Series(float("nan"), index=frame.index)
    )
    out = frame.copy()
    out["total_value"] = own.where(own > 0, listed)
    return out


# -- data the rules read ----------------------------------------------------------


def import_clr_factors(store: Store, path: str | Path) -> int:
    """Replace the CLR factors of a CSV's counties (county, factor, source, valid_from/to).

    A factor that looks like a common level ratio (26.2, 26.2 %, 0.262) is refused
    with the reciprocal it should be (:func:`toolkit.reference.clr.refuse_ratios`);
    nothing is saved when any row is wrong.
    """
    import pandas as pd

    from toolkit.backends.common import utcnow
    from toolkit.decisions.bid import check_clr_factors
    from toolkit.exceptions import ConfigError
    from toolkit.reference.clr import refuse_ratios

    p = Path(path)
    try:
        raw = pd.read_csv(p, comment="#", dtype=str)
    except (OSError, pd.errors.ParserError, pd.errors.EmptyDataError) as exc:
        raise ConfigError(f"Cannot read CLR factor table {str(p)!r}: {exc}") from exc
    refuse_ratios(raw, p.name)
    table = check_clr_factors(raw, p.name)
    now = utcnow()
    q, engine = store.q, store.engine

    def go(con: Any) -> int:
        rows = []
        for r in table.itertuples():
            cid = engine.resolve_county(con, r.county)
            rows.append(
                (
                    cid,
                    float(r.factor),
                    _date(getattr(r, "valid_from", None)),
                    _date(getattr(r, "valid_to", None)),
                    str(r.source),
                )
            )
        for cid in {r[0] for r in rows}:
            con.execute(q.clr_factors_replace_county, [cid])
        for r in rows:
            con.execute(q.clr_factor_insert, [*r, now])
        return len(rows)

    return store.run(go)


def import_liens(store: Store, path: str | Path) -> dict[str, Any]:
    """Import recorder/docket liens (county, parcel_id, lien_type, holder, amount, recorded_date).

    Rows are matched to properties by county and parcel number; the properties in
    the file are marked as title-searched. Re-importing the same file replaces its rows.
    """
    import pandas as pd

    from toolkit.backends.common import utcnow
    from toolkit.decisions.title import load_liens_csv
    from toolkit.exceptions import ValidationError
    from toolkit.parcels import normalise_parcel

    liens = load_liens_csv(path)
    missing = [c for c in ("county", "parcel_id") if c not in liens.columns]
    if missing:
        raise ValidationError(
            f"Liens file {Path(path).name} needs column(s) {', '.join(missing)} "
            "to find each property."
        )
    source = f"liens:{Path(path).name}"
    now = utcnow()
    q, engine = store.q, store.engine
    unmatched: list[dict[str, Any]] = []

    def go(con: Any) -> int:
        con.execute(q.liens_delete_source, [source])
        ids: dict[tuple[str, str], str | None] = {}
        n = 0
        for r in liens.itertuples():
            key = (str(r.county), normalise_parcel(r.parcel_id))
            if key not in ids:
                cid = engine.resolve_county(con, r.county)
                found = con.execute(q.property_by_parcel, [cid, key[1]]).fetchall()
                ids[key] = found[0][0] if found else None
                if ids[key]:
                    con.execute(q.title_search_insert, [ids[key], now, source])
            pid = ids[key]
            if pid is None:
                unmatched.append({"county": r.county, "parcel_id": r.parcel_id})
                continue
            amount = None if pd.isna(r.amount) else float(r.amount)
            recorded = None if pd.isna(r.recorded_date) else r.recorded_date
            con.execute(q.lien_insert, [pid, r.lien_type, r.holder, amount, recorded, source, now])
            n += 1
        return n

    n = store.run(go)
    return {"imported": n, "unmatched": pd.DataFrame(unmatched, columns=["county", "parcel_id"])}


def _date(v: Any) -> Any:
    import pandas as pd

    if v is None or (isinstance(v, float) and math.isnan(v)) or v is pd.NaT:
        return None
    return pd.Timestamp(v).date()
