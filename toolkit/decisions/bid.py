"""Bid strategy: the maximum bid per property and BID / REVIEW / PASS.

Market value (ARV) is the user's ``arv`` column when given, else the assessed
``total_value`` x the county's CLR factor (a screening estimate, not an
appraisal; DOMAIN.md). The factors live in a user-editable table with a
``source`` column (:func:`load_clr_factors`; the sample file holds SYNTHETIC
placeholders only). Optional ``valid_from`` / ``valid_to`` columns: when the
property's ``sale_date`` falls outside them a reason says so (factors change
every July 1).

The profile's ``bid.formula`` chooses one formula, never both (DOMAIN.md
"Maximum bid"; docs/decisions.md gives each rule's source). For each strategy s
in conservative / moderate / aggressive:

* ``seventy_percent`` (default, the 70 % rule)::

    max_bid[s] = ARV x multiplier[s] - repairs - surviving liens
                 - title clearing - transfer tax - recording

  The 30 % margin already pays for selling, holding and the profit: none of
  them is subtracted again.
* ``itemised`` (one figure; the three strategies are equal)::

    max_bid = ARV - selling share x ARV - holding costs - repairs
              - surviving liens - title clearing - transfer tax - recording
              - target profit (``min_profit``)

Both are rounded down to ``round_to``. A negative max bid means the deal does
not work at any price.

* repairs: ``repair_estimate`` from :func:`~toolkit.decisions.condition.assess_condition`;
  without one ("condition" missing) footprint x ``repair_per_sqft[fallback_grade]``,
  else 0 for a lot with ``bldg_count`` 0, else ``unknown_repair_allowance``;
* surviving liens: ``surviving_total`` from :func:`~toolkit.decisions.title.assess_title`;
  without one ("title" missing) $0, so the bid is an upper bound;
* title clearing: ``title_clearing_cost`` unless the title is CLEAR (or always,
  with ``title_clearing_if_clear``);
* transfer tax: ``transfer_tax_rate`` x (``total_value`` x CLR factor when both
  are known — how counties compute it, DOMAIN.md — else x ARV).

Every row carries its arithmetic: ``breakdown``, a JSON object with the
formula, each term of the moderate bid with its signed value, and the result.

The bid is compared with the sale's own minimum (``minimum_bid``): the
``upset_price`` at an upset sale (and when the sale type is not given); at a
judicial or repository sale the ``starting_bid`` when given, else the list's
amount (``upset_price``), said in the reasons.

Environmental findings (``flood_zone`` A*/V* or ``flood_sfha``, ``mine_subsidence``
"undermined", ``wetlands``; or ``environmental_risk`` HIGH with none of them
named) never yield a plain BID: the profile's ``environmental_action`` says
REVIEW (default) or PASS per finding. UNKNOWN (or no environmental result)
lowers confidence and is named in ``missing_inputs``.

Decision, first rule that applies:

1. REVIEW — no market value, or no minimum bid;
2. PASS — minimum bid above the moderate max bid;
3. PASS — an environmental finding the profile passes on;
4. REVIEW — condition or title missing, title NEEDS_REVIEW, redemption risk
   (with its period), or an environmental finding to review;
5. REVIEW — minimum bid above moderate max bid x (1 - ``review_margin``);
6. BID.

``confidence`` = 1 - penalties (:data:`PENALTIES`) for each missing input and
for a value estimated from the CLR factor or a factor whose period misses the
sale date, never below 0.05. ``missing_inputs``
and ``inputs_used`` name the inputs, joined by ``", "``.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from toolkit.decisions._common import (
    LIST_SEP,
    REASON_SEP,
    Fmt,
    Joiner,
    NumCol,
    bool_col,
    bool_scalar,
    county_key,
    county_key_scalar,
    fmt_money_scalar,
    fmt_scalar,
    join_flags,
    mapped_col,
    num_scalar,
    quiet_numpy,
    require_id,
    text_col,
    text_scalar,
)
from toolkit.decisions.profile import STRATEGIES, InvestorProfile
from toolkit.exceptions import ConfigError

if TYPE_CHECKING:
    import pandas as pd

BID, REVIEW, PASS = "BID", "REVIEW", "PASS"
#: A factor under this is a ratio typed as a fraction (0.262 for 26.2 %): market value would
#: be under half the assessed value. PA factors have been at least 0.82 (Adams, 2014-15).
RATIO_FRACTION_BELOW = 0.5
#: A factor over this is a ratio typed in percent (26.2 for 26.2 %). The highest factor in the
#: shipped table is 17.06 (Bucks, 2025-26); factors this high were last published in the
#: early 2000s (Bucks 28.57 in 2003-04, 33 Pa.B. 2560). Raise it if a county ever gets there.
RATIO_PERCENT_ABOVE = 25.0
DECISIONS: tuple[str, ...] = (BID, REVIEW, PASS)
CLR_COLUMNS: tuple[str, ...] = ("county", "factor", "source")

#: confidence lost per missing input (or estimate)
PENALTIES: dict[str, float] = {
    "value": 0.6,
    "upset_price": 0.2,
    "title": 0.2,
    "condition": 0.15,
    "total_value": 0.1,
    "CLR factor": 0.1,
    "estimated value": 0.1,  # assessed x CLR is a screening estimate
    "CLR period": 0.05,  # the factor's validity period does not cover the sale date
    "title review": 0.1,  # title researched but NEEDS_REVIEW
    "environment": 0.1,  # no environmental result, or UNKNOWN (DOMAIN.md: UNKNOWN is not LOW)
}
MIN_CONFIDENCE = 0.05
OUTPUT_COLUMNS = [
    "property_id",
    "decision",
    "max_bid_conservative",
    "max_bid_moderate",
    "max_bid_aggressive",
    "upset_price",
    "market_value",
    "value_source",
    "clr_factor",
    "clr_source",
    "repairs",
    "surviving_liens_total",
    "transfer_tax",
    "selling_costs",
    "reasons",
    "missing_inputs",
    "inputs_used",
    "confidence",
    "minimum_bid",
    "minimum_bid_source",
    "environmental_risk",
    "redemption_risk",
    "redemption_period",
    "breakdown",
]
#: what ``environmental_risk`` may say
ENV_LEVELS: tuple[str, ...] = ("HIGH", "MEDIUM", "LOW", "UNKNOWN")
ENV_TEXT = {
    "undermined": "undermined (mine subsidence layer)",
    "wetland": "wetland on the parcel (USFWS National Wetlands Inventory)",
    "high": "environmental risk HIGH",
}


# --- CLR table ---------------------------------------------------------------


def check_clr_factors(table: pd.DataFrame, name: str = "CLR table") -> pd.DataFrame:
    """Validate a CLR factor table and return it with a folded ``county_key``.

    Raises :class:`ConfigError` for a missing column, a factor that is not a
    positive number, an empty ``source`` or a county listed twice.
    """
    import pandas as pd

    missing = [c for c in CLR_COLUMNS if c not in table.columns]
    if missing:
        raise ConfigError(
            f"{name} lacks column(s) {', '.join(missing)}; expected at least "
            f"{', '.join(CLR_COLUMNS)} (valid_from / valid_to optional)."
        )
    out = table.copy()
    factor = pd.to_numeric(out["factor"], errors="coerce")
    bad = factor.isna() | ~(factor > 0) | np.isinf(factor)
    if bad.any():
        i = int(np.flatnonzero(bad.to_numpy())[0])
        raise ConfigError(
            f"{name}: factor {out['factor'].iloc[i]!r} for county {out['county'].iloc[i]!r} "
            "is not a positive number."
        )
    source = out["source"].astype("string").str.strip().fillna("")
    if (source == "").any():
        i = int(np.flatnonzero((source == "").to_numpy())[0])
        raise ConfigError(
            f"{name}: county {out['county'].iloc[i]!r} has no source; say where the factor "
            "comes from (e.g. the Pennsylvania Bulletin notice)."
        )
    # a factor is the reciprocal of the common level ratio (DOMAIN.md, "CLR factor"): a value
    # that looks like the ratio itself is a typing mistake, refused with the sum that fixes it
    fraction = (factor < RATIO_FRACTION_BELOW).to_numpy(dtype=bool)
    percent = (factor > RATIO_PERCENT_ABOVE).to_numpy(dtype=bool)
    if (fraction | percent).any():
        i = int(np.flatnonzero(fraction | percent)[0])
        v = float(factor.iloc[i])
        kind, sum_ = (
            ("as a fraction", f"1 / {v:g} = {1 / v:.2f}")
            if fraction[i]
            else ("in percent", f"100 / {v:g} = {100 / v:.2f}")
        )
        raise ConfigError(
            f"{name}: factor {out['factor'].iloc[i]!r} for county {out['county'].iloc[i]!r} "
            f"looks like a common level ratio {kind}, not a factor. The factor is the ratio's "
            f"reciprocal: {sum_}. Factors from {RATIO_FRACTION_BELOW:g} to "
            f"{RATIO_PERCENT_ABOVE:g} are accepted."
        )
    out["factor"] = factor.astype(float)
    for col in ("valid_from", "valid_to"):
        text = (
            out[col].astype("string").str.strip().fillna("")
            if col in out.columns
            else pd.Series([""] * len(out), dtype="string")
        )
        dates = pd.to_datetime(text.where(text != "", None), format="%Y-%m-%d", errors="coerce")
        bad_date = (text != "").to_numpy(dtype=bool) & dates.isna().to_numpy()
        if bad_date.any():
            i = int(np.flatnonzero(bad_date)[0])
            raise ConfigError(
                f"{name}: {col} {text.iloc[i]!r} for county {out['county'].iloc[i]!r} is not "
                "a date (use YYYY-MM-DD)."
            )
        out[col] = dates.to_numpy()
    out["county_key"] = county_key(out["county"].to_numpy(dtype=object))
    dup = out["county_key"].duplicated()
    if dup.any():
        raise ConfigError(
            f"{name}: county {out.loc[dup, 'county'].iloc[0]!r} is listed twice; keep one "
            "factor per county (the one valid for the sale)."
        )
    return out


def load_clr_factors(path: str | Path) -> pd.DataFrame:
    """Read a CLR factor CSV (``county, factor, source[, valid_from, valid_to]``).

    Examples
    --------
    >>> t = load_clr_factors("data/sample/clr_factors.csv")  # doctest: +SKIP
    >>> t["source"].str.startswith("SYNTHETIC").all()  # doctest: +SKIP
    True
    """
    import pandas as pd

    p = Path(path)
    try:
        table = pd.read_csv(p, comment="#", dtype=str)
    except (OSError, pd.errors.ParserError, pd.errors.EmptyDataError) as exc:
        raise ConfigError(f"Cannot read CLR factor table {str(p)!r}: {exc}") from exc
    return check_clr_factors(table, name=p.name)


class ClrFactors:
    """County key -> factor, source and validity period of a checked CLR table.

    Checked once when built; pass one to :func:`max_bid` (as ``clr_factors``) to
    reuse it across batches instead of checking the table again for each.
    """

    def __init__(self, clr_factors: pd.DataFrame | str | Path | None) -> None:
        import pandas as pd

        self.factor: dict[str, float] = {}
        self.source: dict[str, str] = {}
        self.start: dict[str, pd.Timestamp] = {}
        self.end: dict[str, pd.Timestamp] = {}
        self.period: dict[str, str] = {}
        if clr_factors is None:
            return
        if isinstance(clr_factors, pd.DataFrame):
            table = check_clr_factors(clr_factors)
        else:
            table = load_clr_factors(clr_factors)
        for rec in table.to_dict(orient="records"):
            key = rec["county_key"]
            self.factor[key] = float(rec["factor"])
            self.source[key] = str(rec["source"]).strip()
            start, end = rec["valid_from"], rec["valid_to"]
            if not pd.isna(start):
                self.start[key] = pd.Timestamp(start)
            if not pd.isna(end):
                self.end[key] = pd.Timestamp(end)
            a = "?" if pd.isna(start) else pd.Timestamp(start).date().isoformat()
            b = "?" if pd.isna(end) else pd.Timestamp(end).date().isoformat()
            self.period[key] = f"{a} to {b}"


class _CountyLookup:
    """Per-row values of a per-county table: each distinct county is looked up once."""

    def __init__(self, keys: np.ndarray) -> None:
        import pandas as pd

        self.codes, self.uniques = pd.factorize(keys, use_na_sentinel=True)

    def take(self, table: Mapping[str, Any], missing: Any, dtype: Any) -> np.ndarray:
        import pandas as pd

        found = [table.get(key, missing) for key in self.uniques]
        values = pd.Series([*found, missing]).to_numpy(dtype=dtype)
        return values[self.codes]  # code -1: the last, missing


def sale_dates(frame: pd.DataFrame) -> pd.Series:
    """``sale_date`` as datetimes (NaT when missing or unreadable); shared preparation."""
    import pandas as pd

    if "sale_date" not in frame.columns:
        return pd.Series(pd.NaT, index=range(len(frame)), dtype="datetime64[ns]")
    col = frame["sale_date"]
    if col.dtype.kind == "M":
        return pd.Series(col.to_numpy(), dtype="datetime64[ns]")
    text = col.astype("string").str.strip().str.slice(0, 10)
    parsed = pd.to_datetime(text, format="%Y-%m-%d", errors="coerce")
    return pd.Series(parsed.to_numpy(), dtype="datetime64[ns]")


# --- the formula, shared by both implementations ----------------------------


@quiet_numpy
def _formula(
    profile: InvestorProfile,
    value: Any,
    repairs: Any,
    liens: Any,
    rtt_base: Any,
    clear: Any,
) -> tuple[dict[str, Any], dict[str, Any]]:
    """Max bids per strategy and the terms of the formula (scalars or arrays).

    One formula, never both (DOMAIN.md "Maximum bid"): the 70 % rule's margin
    already holds selling costs, holding costs and the profit.
    """
    b = profile.bid
    transfer_tax = np.multiply(b.transfer_tax_rate, rtt_base)
    clearing = (
        np.multiply(b.title_clearing_cost, 1.0)
        if b.title_clearing_if_clear
        else np.where(clear, 0.0, b.title_clearing_cost)
    )
    costs = repairs + liens + clearing + transfer_tax + b.recording_cost
    itemised = b.formula == "itemised"
    if itemised:
        selling = np.multiply(b.selling_cost_share, value)
        costs = costs + selling + b.holding_costs + b.min_profit
    else:
        selling = np.multiply(0.0, value)
    bids = {}
    for s in STRATEGIES:
        gross = value if itemised else np.multiply(value, b.arv_multipliers[s])
        raw = np.round(gross - costs, 2)  # cents: no FP dust
        bids[s] = np.floor(raw / b.round_to) * b.round_to
    terms = {"transfer_tax": transfer_tax, "selling": selling, "clearing": clearing}
    return bids, terms


def _json_num(value: float) -> str:
    """A dollar figure as JSON text, to the dollar; ``null`` when not finite."""
    return str(int(np.rint(value))) if math.isfinite(value) else "null"


def _neg(values: Any) -> Any:
    return np.subtract(0.0, values)  # 0 - 0 is 0.0, never -0.0


@quiet_numpy
def breakdown(
    profile: InvestorProfile,
    value: Any,
    repairs: Any,
    liens: Any,
    terms: dict[str, Any],
    moderate: Any,
) -> np.ndarray:
    """The moderate bid's arithmetic per row as JSON: formula, signed terms (to the
    dollar), the rounding step and the result.

    One ``%`` template per profile with the profile's constants written in once; each
    row fills in its whole-dollar terms (integer formatting, one call a row: the
    fastest way found to write 100,000 rows). The terms add up to the bid before it
    is rounded down, within a dollar per term.

    Examples
    --------
    >>> import json
    >>> from toolkit.decisions.profile import InvestorProfile
    >>> p = InvestorProfile()
    >>> bids, terms = _formula(p, 100000.0, 20000.0, 0.0, 100000.0, True)
    >>> text = breakdown(p, 100000.0, 20000.0, 0.0, terms, bids["moderate"])[0]
    >>> json.loads(text)["terms"][:2]
    [['market value x 0.7', 70000], ['repairs', -20000]]
    """
    b = profile.bid
    n = max(np.size(value), np.size(repairs), np.size(liens), np.size(moderate))
    parts: list[str] = []
    columns: list[Any] = []

    def term(label: str, x: Any, constant: bool = False) -> None:
        if constant:
            parts.append(f'["{label}",{_json_num(float(x))}]')
        else:
            parts.append(f'["{label}",%s]')
            columns.append(np.broadcast_to(np.asarray(x, dtype=float), (n,)))

    if b.formula == "itemised":
        term("market value", value)
        term(f"selling costs ({b.selling_cost_share:.6g} x market value)", _neg(terms["selling"]))
        term("holding costs", _neg(float(b.holding_costs)), constant=True)
    else:
        term(
            f"market value x {b.arv_multipliers['moderate']:.6g}",
            np.multiply(value, b.arv_multipliers["moderate"]),
        )
    term("repairs", _neg(repairs))
    term("surviving liens", _neg(liens))
    term("title clearing", _neg(terms["clearing"]))
    term("transfer tax", _neg(terms["transfer_tax"]))
    term("recording", _neg(float(b.recording_cost)), constant=True)
    if b.formula == "itemised":
        term("target profit", _neg(float(b.min_profit)), constant=True)
    columns.append(np.broadcast_to(np.asarray(moderate, dtype=float), (n,)))
    template = (
        '{"formula":"'
        + b.formula
        + '","terms":['
        + ",".join(parts)
        + '],"round_down_to":'
        + _json_num(float(b.round_to))
        + ',"max_bid_moderate":%s}'
    )
    values: list[list[Any]] = []
    for c in columns:
        ok = np.isfinite(c) & (np.abs(c) < 1e15)
        column: list[Any] = np.rint(np.where(ok, c, 0.0)).astype(np.int64).tolist()
        for i in np.flatnonzero(~ok).tolist():  # a term unknown or absurd: null
            column[i] = "null"
        values.append(column)
    out = np.empty(n, dtype=object)
    out[:] = [template % row for row in zip(*values, strict=True)]
    return out


def _texts(profile: InvestorProfile) -> dict[str, str]:
    b = profile.bid
    return {
        "margin": f"{b.review_margin:.0%}",
        "grade": b.fallback_grade,
        "allowance": fmt_money_scalar(b.unknown_repair_allowance),
        "keep": f"{1 - b.review_margin:.6g}",
    }


ENV_COLUMNS: tuple[str, ...] = (
    "environmental_risk",
    "flood_zone",
    "flood_sfha",
    "wetlands",
    "mine_subsidence",
)


def _merge_inputs(
    frame: pd.DataFrame,
    condition: pd.DataFrame | None,
    title: pd.DataFrame | None,
    environment: pd.DataFrame | None = None,
) -> pd.DataFrame:
    """Add ``repair_estimate`` / ``surviving_total, title_status, redemption_risk,
    redemption_period`` / the environmental columns (:data:`ENV_COLUMNS`)."""
    out = frame
    if condition is not None:
        c = condition[["property_id", "repair_estimate"]].drop_duplicates(
            "property_id", keep="last"
        )
        out = out.drop(columns=["repair_estimate"], errors="ignore")
        out = out.merge(c, on="property_id", how="left")
    if title is not None:
        cols = ["property_id", "surviving_total", "status", "redemption_risk"]
        cols += [c for c in ("redemption_period",) if c in title.columns]
        t = title[cols]
        t = t.drop_duplicates("property_id", keep="last").rename(columns={"status": "title_status"})
        out = out.drop(
            columns=["surviving_total", "title_status", "redemption_risk", "redemption_period"],
            errors="ignore",
        )
        out = out.merge(t, on="property_id", how="left")
    if environment is not None:
        e = environment.rename(columns={"risk_level": "environmental_risk"})
        e = e[["property_id", *[c for c in ENV_COLUMNS if c in e.columns]]]
        e = e.drop_duplicates("property_id", keep="last")
        out = out.drop(columns=list(ENV_COLUMNS), errors="ignore")
        out = out.merge(e, on="property_id", how="left")
    return out


def _starting_sale(sale: str) -> bool:
    return sale.lower() in ("judicial", "repository")


def _env_level(level: str) -> str:
    return level.upper() or "UNKNOWN"


def _env_high(level: str) -> bool:
    return level.upper() == "HIGH"


def _env_known(level: str) -> bool:
    return level.upper() in ("HIGH", "MEDIUM", "LOW")


def _env_unknown(level: str) -> bool:
    return level.upper() == "UNKNOWN"


def _zone_text(zone: str) -> str:
    return zone.upper() or "(SFHA)"


def _period_text(period: str) -> str:
    return period or "period unknown"


def _sfha_zone(zone: str) -> bool:
    """FEMA zones A* and V* are the special flood hazard area (DOMAIN.md)."""
    return zone.upper().startswith(("A", "V"))


def _undermined(status: str) -> bool:
    return status.lower() == "undermined"


def _actions(profile: InvestorProfile) -> dict[str, str]:
    return {k: str(v).upper() for k, v in profile.bid.environmental_action.items()}


@quiet_numpy
def max_bid(
    frame: pd.DataFrame,
    profile: InvestorProfile | None = None,
    clr_factors: ClrFactors | pd.DataFrame | str | Path | None = None,
    condition: pd.DataFrame | None = None,
    title: pd.DataFrame | None = None,
    environment: pd.DataFrame | None = None,
) -> pd.DataFrame:
    """Maximum bids and a decision for a batch of properties (vectorised).

    Parameters
    ----------
    frame
        ``property_id, county, total_value, upset_price``; optional ``arv`` (user
        ARV), ``bldg_footprint_sqft``, ``bldg_count``, and — when ``condition`` /
        ``title`` are not passed — ``repair_estimate``, ``surviving_total``,
        ``title_status``, ``redemption_risk``.
    profile
        Costs and rates; defaults to :class:`InvestorProfile()`.
    clr_factors
        CLR factor table (frame or CSV path) with ``county, factor, source``, or a
        :class:`ClrFactors` built from one (checked once, reused per batch).
    condition, title, environment
        Outputs of ``assess_condition`` / ``assess_title`` / the environmental
        assessment (``risk_level`` or ``environmental_risk``, ``flood_zone``,
        ``wetlands``, ``mine_subsidence``), joined on ``property_id``. Without
        ``environment`` the frame's own columns of those names are read.

    Examples
    --------
    >>> import pandas as pd
    >>> df = pd.DataFrame({"property_id": [1], "county": ["Blair"], "arv": [100000],
    ...                    "upset_price": [5000], "repair_estimate": [20000],
    ...                    "surviving_total": [0], "title_status": ["CLEAR"],
    ...                    "environmental_risk": ["LOW"]})
    >>> r = max_bid(df).iloc[0]
    >>> float(r["max_bid_moderate"]), r["decision"]
    (47700.0, 'BID')
    """
    import pandas as pd

    profile = profile or InvestorProfile()
    require_id(frame)
    b = profile.bid
    txt = _texts(profile)
    clr = clr_factors if isinstance(clr_factors, ClrFactors) else ClrFactors(clr_factors)
    df = _merge_inputs(frame, condition, title, environment)
    n = len(df)
    reasons = Joiner(n)
    missing: list[tuple[np.ndarray, str]] = []
    used: list[tuple[np.ndarray, str]] = []
    penalty = np.zeros(n)

    def miss(mask: np.ndarray, name: str) -> None:
        nonlocal penalty
        missing.append((mask, name))
        penalty = penalty + PENALTIES[name] * mask

    arv_col = NumCol(df, "arv")
    arv = np.where(arv_col.values > 0, arv_col.values, np.nan)
    tv = NumCol(df, "total_value").values
    tv = np.where(tv > 0, tv, np.nan)
    county = _CountyLookup(county_key(text_col(df, "county")))
    factor = county.take(clr.factor, np.nan, float)
    source = county.take(clr.source, "", object)
    # in a reason, the source's own "; " would read as a new reason
    reason_source = county.take(
        {k: str(v).replace(";", ",") for k, v in clr.source.items()}, "", object
    )

    has_arv = ~np.isnan(arv)
    has_tv = ~np.isnan(tv)
    has_factor = ~np.isnan(factor)
    assessed_mv = tv * factor
    value = np.where(has_arv, arv, assessed_mv)
    has_value = ~np.isnan(value)
    estimated = ~has_arv & has_value
    reasons.add(arv_col.bad, "arv is not a number: ignored")
    reasons.add(has_arv, "market value = user ARV $", Fmt(arv, money=True))
    reasons.add(
        estimated,
        "market value = assessed $",
        Fmt(tv, money=True),
        " x CLR factor ",
        Fmt(factor, 4),
        " (",
        reason_source,
        "): a screening estimate, not an appraisal",
    )
    reasons.add(~has_value, "no market value: no user ARV and no assessed value x CLR factor")
    miss(~has_value, "value")
    miss(~has_tv, "total_value")
    miss(~has_factor, "CLR factor")
    penalty = penalty + PENALTIES["estimated value"] * estimated
    sale = sale_dates(df)
    start = county.take(clr.start, pd.NaT, "datetime64[ns]")
    end = county.take(clr.end, pd.NaT, "datetime64[ns]")
    sale_ns = sale.to_numpy(dtype="datetime64[ns]")
    outside = has_factor & ((sale_ns < start) | (sale_ns > end))  # NaT compares False
    if outside.any():
        period = county.take(clr.period, np.nan, object)
        reasons.add(
            outside,
            "CLR factor period ",
            period,
            " does not cover sale date ",
            lambda idx: sale.iloc[idx].dt.strftime("%Y-%m-%d").to_numpy(dtype=object),
        )
    penalty = penalty + PENALTIES["CLR period"] * outside
    used.append((has_arv, "arv"))
    used.append((has_tv, "total_value"))
    used.append((has_factor, "CLR factor"))

    # repairs
    rep = NumCol(df, "repair_estimate").values
    has_cond = rep >= 0
    foot = NumCol(df, "bldg_footprint_sqft").values
    count = NumCol(df, "bldg_count").values
    fallback_rate = profile.condition.repair_per_sqft[b.fallback_grade]
    by_foot = ~has_cond & (foot > 0)
    land = ~has_cond & ~by_foot & (count == 0)
    allowance = ~has_cond & ~by_foot & ~land
    repairs = np.where(
        has_cond,
        rep,
        np.where(by_foot, foot * fallback_rate, np.where(land, 0.0, b.unknown_repair_allowance)),
    )
    miss(~has_cond, "condition")
    used.append((has_cond, "condition"))
    used.append((by_foot, "bldg_footprint_sqft"))
    reasons.add(
        by_foot,
        "no condition: repairs assumed grade " + txt["grade"] + " x ",
        Fmt(foot),
        " sq ft footprint = $",
        Fmt(repairs, money=True),
    )
    reasons.add(land, "no condition, bldg_count 0: repairs assumed $0")
    reasons.add(allowance, "no condition, no footprint: repairs assumed $" + txt["allowance"])

    # title
    liens_raw = NumCol(df, "surviving_total").values
    has_title = liens_raw >= 0
    liens = np.where(has_title, liens_raw, 0.0)
    status = text_col(df, "title_status")
    title_review = has_title & (status == "NEEDS_REVIEW")
    risk = bool_col(df, "redemption_risk") == 1.0
    clear = has_title & (status == "CLEAR")
    miss(~has_title, "title")
    used.append((has_title, "title"))
    penalty = penalty + PENALTIES["title review"] * title_review
    reasons.add(
        ~has_title,
        "no title search recorded: surviving liens unknown, $0 assumed (bid is an upper bound)",
    )
    reasons.add(has_title & (liens > 0), "surviving liens $", Fmt(liens, money=True))

    # the sale's own minimum: upset price, or a judicial / repository starting bid
    up = NumCol(df, "upset_price").values
    up = np.where(up >= 0, up, np.nan)
    start_bid = NumCol(df, "starting_bid").values
    start_bid = np.where(start_bid >= 0, start_bid, np.nan)
    starting_sale = mapped_col(df, "sale_type", _starting_sale, False).astype(bool)
    use_start = starting_sale & ~np.isnan(start_bid)
    minimum = np.where(use_start, start_bid, up)
    has_up = ~np.isnan(minimum)
    min_source = np.where(use_start, "starting bid", np.where(has_up, "upset price", "")).astype(
        object
    )
    miss(~has_up, "upset_price")
    used.append((has_up & ~use_start, "upset_price"))
    used.append((use_start, "starting_bid"))
    listed = starting_sale & ~use_start & has_up
    if listed.any():
        reasons.add(
            listed,
            mapped_col(df, "sale_type", str.lower, ""),
            " sale without a starting_bid: compared with the list's amount $",
            Fmt(up, money=True),
        )

    # environment (DOMAIN.md "Maximum bid": a finding never yields a plain BID)
    env_level = mapped_col(df, "environmental_risk", _env_level, "UNKNOWN")
    sfha_zone = mapped_col(df, "flood_zone", _sfha_zone, False).astype(bool)
    flood = sfha_zone | (bool_col(df, "flood_sfha") == 1.0)
    mine = mapped_col(df, "mine_subsidence", _undermined, False).astype(bool)
    wet = bool_col(df, "wetlands") == 1.0
    high_only = mapped_col(df, "environmental_risk", _env_high, False).astype(bool)
    high_only &= ~flood & ~mine & ~wet
    env_known = mapped_col(df, "environmental_risk", _env_known, False).astype(bool)
    miss(~env_known, "environment")
    used.append((env_known, "environment"))
    actions = _actions(profile)
    env_pass = np.zeros(n, dtype=bool)
    env_review = np.zeros(n, dtype=bool)
    env_text = Joiner(n)
    zone_text = mapped_col(df, "flood_zone", _zone_text, "(SFHA)") if flood.any() else ""
    for mask, key, parts in (
        (flood, "flood_high", ("flood zone ", zone_text, " (FEMA special flood hazard area)")),
        (mine, "undermined", (ENV_TEXT["undermined"],)),
        (wet, "wetland", (ENV_TEXT["wetland"],)),
        (high_only, "", (ENV_TEXT["high"],)),  # a HIGH level without a named finding
    ):
        act = actions[key] if key else REVIEW
        env_text.add(mask, *parts)
        if act == PASS:
            env_pass |= mask
        else:
            env_review |= mask
    env_review &= ~env_pass
    # (no environmental result at all is named in missing_inputs, as other absent inputs are)
    said_unknown = mapped_col(df, "environmental_risk", _env_unknown, False).astype(bool)
    reasons.add(said_unknown, "environmental risk UNKNOWN: a check could not run (not LOW)")

    rtt_base = np.where(has_tv & has_factor, assessed_mv, value)
    bids, terms = _formula(profile, value, repairs, liens, rtt_base, clear)
    transfer_tax, selling = terms["transfer_tax"], terms["selling"]
    moderate = bids["moderate"]

    cannot = ~has_value | ~has_up
    passed = ~cannot & (minimum > moderate)
    env_passed = ~cannot & ~passed & env_pass
    needs = (
        ~cannot
        & ~passed
        & ~env_passed
        & (~has_cond | ~has_title | title_review | risk | env_review)
    )
    thin = ~cannot & ~passed & ~env_passed & ~needs & (minimum > moderate * (1 - b.review_margin))
    decision = np.where(
        cannot | needs | thin, REVIEW, np.where(passed | env_passed, PASS, BID)
    ).astype(object)
    reasons.add(has_value & ~has_up, "upset_price missing: cannot compare")
    up_text, mod_text = Fmt(minimum, money=True), Fmt(moderate, money=True)
    labels = ((~use_start, "upset price $"), (use_start, "starting bid $"))
    for which, label in labels:
        reasons.add(passed & which, label, up_text, " above moderate max bid $", mod_text)
    any_env = env_pass | env_review
    env_text_all = env_text.result() if any_env.any() else np.full(n, "", dtype=object)
    reasons.add(env_passed, "pass: ", env_text_all, " (profile: environmental_action PASS)")
    open_ = ~cannot & ~passed & ~env_passed
    reasons.add(open_ & ~has_cond, "review: no condition assessment")
    reasons.add(open_ & ~has_title, "review: no title search recorded")
    reasons.add(open_ & title_review, "review: title status NEEDS_REVIEW")
    period_text: Any = ""
    if risk.any():
        period_text = mapped_col(df, "redemption_period", _period_text, "period unknown")
        reasons.add(open_ & risk, "review: redemption risk, ", period_text)
    reasons.add(open_ & env_review, "review: ", env_text_all)
    is_bid = decision == BID
    for which, label in labels:
        reasons.add(
            thin & which,
            label,
            up_text,
            " within " + txt["margin"] + " of moderate max bid $",
            mod_text,
        )
        reasons.add(
            is_bid & which,
            label,
            up_text,
            " at most " + txt["keep"] + " x moderate max bid $",
            mod_text,
        )
    out_breakdown = breakdown(profile, value, repairs, liens, terms, moderate)

    confidence = np.round(np.clip(1.0 - penalty, MIN_CONFIDENCE, 1.0), 4)
    return pd.DataFrame(
        {
            "property_id": df["property_id"].to_numpy(),
            "decision": decision,
            "max_bid_conservative": bids["conservative"],
            "max_bid_moderate": moderate,
            "max_bid_aggressive": bids["aggressive"],
            "upset_price": up,
            "market_value": value,
            "value_source": np.where(
                has_arv, "user ARV", np.where(estimated, "assessed x CLR", "none")
            ).astype(object),
            "clr_factor": factor,
            "clr_source": source,
            "repairs": repairs,
            "surviving_liens_total": np.where(has_title, liens, np.nan),
            "transfer_tax": transfer_tax,
            "selling_costs": selling,
            "reasons": reasons.result(),
            "missing_inputs": join_flags(missing, n),
            "inputs_used": join_flags(used, n),
            "confidence": confidence,
            "minimum_bid": minimum,
            "minimum_bid_source": min_source,
            "environmental_risk": env_level,
            "redemption_risk": risk,
            "redemption_period": np.where(risk, period_text, "").astype(object)
            if risk.any()
            else np.full(n, "", dtype=object),
            "breakdown": out_breakdown,
        },
        columns=OUTPUT_COLUMNS,
    )


def max_bid_rowwise(
    frame: pd.DataFrame,
    profile: InvestorProfile | None = None,
    clr_factors: ClrFactors | pd.DataFrame | str | Path | None = None,
    condition: pd.DataFrame | None = None,
    title: pd.DataFrame | None = None,
    environment: pd.DataFrame | None = None,
) -> pd.DataFrame:
    """Reference implementation of :func:`max_bid`, one row at a time.

    Same rules and output; for the agreement test and the benchmark baseline.

    Examples
    --------
    >>> import pandas as pd
    >>> df = pd.DataFrame({"property_id": [1], "county": ["Blair"], "arv": [100000],
    ...                    "upset_price": [50000]})
    >>> max_bid_rowwise(df).loc[0, "decision"]
    'PASS'
    """
    import pandas as pd

    profile = profile or InvestorProfile()
    require_id(frame)
    clr = clr_factors if isinstance(clr_factors, ClrFactors) else ClrFactors(clr_factors)
    sales = [None if pd.isna(s) else s for s in sale_dates(frame).tolist()]
    cond = {}
    if condition is not None:
        cond = dict(zip(condition["property_id"], condition["repair_estimate"], strict=True))
    tit = {}
    if title is not None:
        for rec in title.to_dict(orient="records"):
            tit[rec["property_id"]] = rec
    env: dict[Any, dict[str, Any]] = {}
    if environment is not None:
        e = environment.rename(columns={"risk_level": "environmental_risk"})
        for rec in e.to_dict(orient="records"):
            env[rec["property_id"]] = rec
    rows = []
    for i, row in enumerate(frame.to_dict(orient="records")):
        row["_sale"] = sales[i]
        if condition is not None:
            row["repair_estimate"] = cond.get(row["property_id"])
        if title is not None:
            t = tit.get(row["property_id"], {})
            row["surviving_total"] = t.get("surviving_total")
            row["title_status"] = t.get("status")
            row["redemption_risk"] = t.get("redemption_risk")
            row["redemption_period"] = t.get("redemption_period")
        if environment is not None:
            found = env.get(row["property_id"], {})
            for c in ENV_COLUMNS:
                row[c] = found.get(c)
        rows.append(_bid_row(row, profile, clr))
    return pd.DataFrame(rows, columns=OUTPUT_COLUMNS)


@quiet_numpy
def _bid_row(
    row: dict[str, Any],
    profile: InvestorProfile,
    clr: ClrFactors,
) -> dict[str, Any]:
    b = profile.bid
    txt = _texts(profile)
    reasons: list[str] = []
    missing: list[str] = []
    used: list[str] = []
    penalty = 0.0

    def miss(name: str) -> None:
        nonlocal penalty
        missing.append(name)
        penalty += PENALTIES[name]

    arv, _, arv_bad, _ = num_scalar(row, "arv")
    arv = arv if arv > 0 else math.nan
    tv = num_scalar(row, "total_value")[0]
    tv = tv if tv > 0 else math.nan
    key = county_key_scalar(text_scalar(row, "county"))
    factor = clr.factor.get(key, math.nan)
    source = clr.source.get(key, "")
    has_arv, has_tv, has_factor = not math.isnan(arv), not math.isnan(tv), not math.isnan(factor)
    assessed_mv = tv * factor
    value = arv if has_arv else assessed_mv
    has_value = not math.isnan(value)
    estimated = not has_arv and has_value
    if arv_bad:
        reasons.append("arv is not a number: ignored")
    if has_arv:
        reasons.append(f"market value = user ARV ${fmt_money_scalar(arv)}")
    if estimated:
        reasons.append(
            f"market value = assessed ${fmt_money_scalar(tv)} x CLR factor {fmt_scalar(factor, 4)} "
            f"({source.replace(';', ',')}): a screening estimate, not an appraisal"
        )
    if not has_value:
        reasons.append("no market value: no user ARV and no assessed value x CLR factor")
        miss("value")
    if not has_tv:
        miss("total_value")
    if not has_factor:
        miss("CLR factor")
    if estimated:
        penalty += PENALTIES["estimated value"]
    sale = row["_sale"]
    start, end = clr.start.get(key), clr.end.get(key)
    if has_factor and sale is not None:
        if (start is not None and sale < start) or (end is not None and sale > end):
            reasons.append(
                f"CLR factor period {clr.period[key]} does not cover sale date "
                f"{sale.strftime('%Y-%m-%d')}"
            )
            penalty += PENALTIES["CLR period"]
    used += [
        name
        for name, ok in (("arv", has_arv), ("total_value", has_tv), ("CLR factor", has_factor))
        if ok
    ]

    rep = num_scalar(row, "repair_estimate")[0]
    has_cond = rep >= 0
    foot = num_scalar(row, "bldg_footprint_sqft")[0]
    count = num_scalar(row, "bldg_count")[0]
    fallback_rate = profile.condition.repair_per_sqft[b.fallback_grade]
    if has_cond:
        repairs = rep
        used.append("condition")
    else:
        miss("condition")
        if foot > 0:
            repairs = foot * fallback_rate
            used.append("bldg_footprint_sqft")
            reasons.append(
                f"no condition: repairs assumed grade {txt['grade']} x {fmt_scalar(foot)} "
                f"sq ft footprint = ${fmt_money_scalar(repairs)}"
            )
        elif count == 0:
            repairs = 0.0
            reasons.append("no condition, bldg_count 0: repairs assumed $0")
        else:
            repairs = b.unknown_repair_allowance
            reasons.append(f"no condition, no footprint: repairs assumed ${txt['allowance']}")

    liens_raw = num_scalar(row, "surviving_total")[0]
    has_title = liens_raw >= 0
    liens = liens_raw if has_title else 0.0
    title_review = has_title and text_scalar(row, "title_status") == "NEEDS_REVIEW"
    risk = bool_scalar(row, "redemption_risk") == 1.0
    period = text_scalar(row, "redemption_period")
    clear = has_title and text_scalar(row, "title_status") == "CLEAR"
    if has_title:
        used.append("title")
    else:
        miss("title")
    if title_review:
        penalty += PENALTIES["title review"]
    if not has_title:
        reasons.append(
            "no title search recorded: surviving liens unknown, $0 assumed (bid is an upper bound)"
        )
    elif liens > 0:
        reasons.append(f"surviving liens ${fmt_money_scalar(liens)}")

    up = num_scalar(row, "upset_price")[0]
    up = up if up >= 0 else math.nan
    start_bid = num_scalar(row, "starting_bid")[0]
    start_bid = start_bid if start_bid >= 0 else math.nan
    sale_type = text_scalar(row, "sale_type").lower()
    starting_sale = sale_type in ("judicial", "repository")
    use_start = starting_sale and not math.isnan(start_bid)
    minimum = start_bid if use_start else up
    has_up = not math.isnan(minimum)
    min_source = "starting bid" if use_start else "upset price" if has_up else ""
    if has_up:
        used.append("starting_bid" if use_start else "upset_price")
    else:
        miss("upset_price")
    if starting_sale and not use_start and has_up:
        reasons.append(
            f"{sale_type} sale without a starting_bid: compared with the list's amount "
            f"${fmt_money_scalar(up)}"
        )

    level = text_scalar(row, "environmental_risk").upper()
    zone = text_scalar(row, "flood_zone").upper()
    flood = _sfha_zone(zone) or bool_scalar(row, "flood_sfha") == 1.0
    mine = _undermined(text_scalar(row, "mine_subsidence"))
    wet = bool_scalar(row, "wetlands") == 1.0
    high_only = level == "HIGH" and not (flood or mine or wet)
    env_known = level in ("HIGH", "MEDIUM", "LOW")
    if env_known:
        used.append("environment")
    else:
        miss("environment")
    actions = _actions(profile)
    findings: list[str] = []
    env_pass = env_review = False
    for on, key, text in (
        (flood, "flood_high", f"flood zone {zone or '(SFHA)'} (FEMA special flood hazard area)"),
        (mine, "undermined", ENV_TEXT["undermined"]),
        (wet, "wetland", ENV_TEXT["wetland"]),
        (high_only, "", ENV_TEXT["high"]),
    ):
        if not on:
            continue
        findings.append(text)
        if (actions[key] if key else REVIEW) == PASS:
            env_pass = True
        else:
            env_review = True
    env_review = env_review and not env_pass
    env_text = REASON_SEP.join(findings)
    if level == "UNKNOWN":
        reasons.append("environmental risk UNKNOWN: a check could not run (not LOW)")

    rtt_base = assessed_mv if has_tv and has_factor else value
    bids, terms = _formula(profile, value, repairs, liens, rtt_base, clear)
    transfer_tax, selling = terms["transfer_tax"], terms["selling"]
    moderate = float(bids["moderate"])

    label = "starting bid $" if use_start else "upset price $"
    up_text, mod_text = fmt_money_scalar(minimum), fmt_money_scalar(moderate)
    period_text = period or "period unknown"
    if not has_value or not has_up:
        decision = REVIEW
        if has_value:
            reasons.append("upset_price missing: cannot compare")
    elif minimum > moderate:
        decision = PASS
        reasons.append(f"{label}{up_text} above moderate max bid ${mod_text}")
    elif env_pass:
        decision = PASS
        reasons.append(f"pass: {env_text} (profile: environmental_action PASS)")
    else:
        flags = [
            (not has_cond, "review: no condition assessment"),
            (not has_title, "review: no title search recorded"),
            (title_review, "review: title status NEEDS_REVIEW"),
            (risk, f"review: redemption risk, {period_text}"),
            (env_review, f"review: {env_text}"),
        ]
        reasons += [text for on, text in flags if on]
        if any(on for on, _ in flags):
            decision = REVIEW
        elif minimum > moderate * (1 - b.review_margin):
            decision = REVIEW
            reasons.append(
                f"{label}{up_text} within {txt['margin']} of moderate max bid ${mod_text}"
            )
        else:
            decision = BID
            reasons.append(f"{label}{up_text} at most {txt['keep']} x moderate max bid ${mod_text}")

    confidence = float(np.round(min(max(1.0 - penalty, MIN_CONFIDENCE), 1.0), 4))
    return {
        "property_id": row["property_id"],
        "decision": decision,
        "max_bid_conservative": float(bids["conservative"]),
        "max_bid_moderate": moderate,
        "max_bid_aggressive": float(bids["aggressive"]),
        "upset_price": up,
        "market_value": value,
        "value_source": "user ARV" if has_arv else "assessed x CLR" if estimated else "none",
        "clr_factor": factor,
        "clr_source": source,
        "repairs": float(repairs),
        "surviving_liens_total": liens if has_title else math.nan,
        "transfer_tax": float(transfer_tax),
        "selling_costs": float(selling),
        "reasons": REASON_SEP.join(reasons),
        "missing_inputs": LIST_SEP.join(missing),
        "inputs_used": LIST_SEP.join(used),
        "confidence": confidence,
        "minimum_bid": minimum,
        "minimum_bid_source": min_source,
        "environmental_risk": level or "UNKNOWN",
        "redemption_risk": risk,
        "redemption_period": period_text if risk else "",
        "breakdown": str(breakdown(profile, value, repairs, liens, terms, moderate)[0]),
    }
