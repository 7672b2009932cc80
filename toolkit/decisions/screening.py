"""Visual validation: a desk screen of parcel records, REJECTED / CAUTION / APPROVED.

Rules (DOMAIN.md "Screening rules seen in practice"; thresholds in
:class:`~toolkit.decisions.profile.ScreeningRules`):

REJECTED when any of
  * ``usecode`` or ``usedesc`` matches a reject keyword (cemetery, water, lake,
    pond, utility, power line, railroad, right of way; whole words, case and
    ``-``/``_``/space insensitive);
  * the lot is under ``min_lot_sqft`` (``lot_sqft``, else ``lot_acres`` x 43,560);
  * the lot is a sliver: ``width_ft`` under ``min_width_ft``; when ``width_ft``
    is unknown it is estimated as √(area / aspect_ratio) and the reason says so;
  * landlocked, only from evidence: ``road_access`` says no, the user's note
    ``landlocked`` says yes, or ``road_frontage_ft`` is 0 (no frontage measured
    on the parcel geometry). A missing ``address`` is not evidence (rural vacant
    land often has none; DOMAIN.md "Screening: what a missing value means"): it
    lowers confidence like a missing input and is named in the reasons, but
    changes no verdict on its own.

CAUTION (when not rejected) when any of
  * no building (``bldg_count`` 0, or footprint 0 with no count) on a lot under
    ``tiny_lot_acres``, or building presence unknown on such a lot;
  * ``zoning``, ``zoning_description`` or ``usedesc`` matches an industrial
    keyword (the parcel's own zoning stands in for its surroundings);
  * an input needed by a check is missing or not a number (the reason names it:
    a check that could not run is never passed silently).

APPROVED otherwise. ``reasons`` lists every rule that fired, joined by ``"; "``;
``inputs_used`` lists the input columns that held usable values, joined by
``", "``. ``confidence`` starts at 1 and loses 0.15 per missing or bad input
and 0.05 for an estimated width (never below 0.2).
"""

from __future__ import annotations

import math
import re
from typing import TYPE_CHECKING, Any

import numpy as np

from toolkit.decisions._common import (
    LIST_SEP,
    REASON_SEP,
    Fmt,
    Joiner,
    NumCol,
    Raw,
    bool_col,
    bool_scalar,
    fmt_scalar,
    join_flags,
    num_scalar,
    quiet_numpy,
    raw_scalar,
    require_id,
    text_col,
    text_scalar,
)
from toolkit.decisions.profile import InvestorProfile, ScreeningRules

if TYPE_CHECKING:
    import pandas as pd

APPROVED, CAUTION, REJECTED = "APPROVED", "CAUTION", "REJECTED"
VERDICTS: tuple[str, ...] = (APPROVED, CAUTION, REJECTED)
SQFT_PER_ACRE = 43560.0

NUMERIC_INPUTS = (
    "lot_sqft",
    "lot_acres",
    "width_ft",
    "aspect_ratio",
    "bldg_count",
    "bldg_footprint_sqft",
    "road_frontage_ft",
)
TEXT_INPUTS = ("usecode", "usedesc", "address", "zoning", "zoning_description", "road_access")
INDUSTRIAL_FIELDS = ("zoning", "zoning_description", "usedesc")
MISSING_PENALTY = 0.15
ESTIMATE_PENALTY = 0.05
MIN_CONFIDENCE = 0.2
OUTPUT_COLUMNS = ["property_id", "verdict", "reasons", "inputs_used", "confidence"]


def keyword_regex(words: tuple[str, ...]) -> re.Pattern[str]:
    """Whole-word, case-insensitive pattern; spaces also match ``-`` and ``_``.

    Examples
    --------
    >>> bool(keyword_regex(("right of way",)).search("RIGHT-OF-WAY STRIP"))
    True
    >>> bool(keyword_regex(("lake",)).search("LAKEFRONT"))
    False
    """
    parts = [re.escape(w.strip()).replace(r"\ ", r"[\s_\-]+") for w in words]
    # longest first so "power line" wins over a shorter overlapping word
    parts.sort(key=len, reverse=True)
    return re.compile(r"(?<![A-Za-z0-9])(?:" + "|".join(parts) + r")(?![A-Za-z0-9])", re.I)


class _Texts:
    """Thresholds rendered once, shared by both implementations."""

    def __init__(self, rules: ScreeningRules) -> None:
        self.min_lot = f"{rules.min_lot_sqft:g}"
        self.min_width = f"{rules.min_width_ft:g}"
        self.tiny = f"{rules.tiny_lot_acres:g}"


def _search_unique(values: np.ndarray, pattern: re.Pattern[str]) -> np.ndarray:
    """First keyword match per row ("" when none), searching each distinct text once."""
    import pandas as pd

    codes, uniques = pd.factorize(values)
    found = np.array(
        [(m.group(0) if (m := pattern.search(u)) else "") for u in uniques] + [""], dtype=object
    )
    return found[codes]  # code -1 (never produced for "" strings) falls on the trailing ""


@quiet_numpy
def screen(frame: pd.DataFrame, profile: InvestorProfile | None = None) -> pd.DataFrame:
    """Screen a batch of parcel records at once (vectorised).

    Parameters
    ----------
    frame
        Parcel records (the ``regrid_data`` columns; unknown cells None/NaN) with
        ``property_id``. Optional ``road_access`` (yes/no) and ``road_frontage_ft``
        count as frontage evidence.
    profile
        Thresholds; defaults to :class:`InvestorProfile()`.

    Returns
    -------
    DataFrame with ``property_id, verdict, reasons, inputs_used, confidence``.

    Examples
    --------
    >>> import pandas as pd
    >>> df = pd.DataFrame({"property_id": [1], "usedesc": ["CEMETERY"], "lot_sqft": [9000],
    ...                    "width_ft": [60], "address": ["1 MAIN ST"], "bldg_count": [0]})
    >>> screen(df).loc[0, "verdict"]
    'REJECTED'
    """
    import pandas as pd

    profile = profile or InvestorProfile()
    rules = profile.screening
    t = _Texts(rules)
    require_id(frame)
    n = len(frame)
    reasons = Joiner(n)
    reject = np.zeros(n, dtype=bool)
    caution = np.zeros(n, dtype=bool)
    n_missing = np.zeros(n, dtype=np.int64)

    nums = {name: NumCol(frame, name) for name in NUMERIC_INPUTS}
    texts = {name: text_col(frame, name) for name in TEXT_INPUTS}

    def flag_missing(mask: np.ndarray, *parts: Any) -> None:
        nonlocal caution, n_missing
        reasons.add(mask, *parts)
        caution |= mask
        n_missing += mask

    # non-numeric cells are data errors whatever the rule that reads them
    for name, col in nums.items():
        if col.bad.any():
            flag_missing(col.bad, name + " ", Raw(col.raw), " is not a number")

    # 1. land use
    use_known = (texts["usecode"] != "") | (texts["usedesc"] != "")
    reject_rx = keyword_regex(rules.reject_keywords)
    hit = _search_unique(texts["usecode"], reject_rx)
    hit = np.where(hit != "", hit, _search_unique(texts["usedesc"], reject_rx))
    use_reject = hit != ""
    reasons.add(use_reject, "land use matches reject keyword '", hit, "'")
    reject |= use_reject
    flag_missing(~use_known, "usecode/usedesc missing: land-use check not done")

    # 2. lot area: lot_sqft, else lot_acres
    sqft, acres = nums["lot_sqft"].values, nums["lot_acres"].values
    area = np.where(sqft > 0, sqft, np.where(acres > 0, acres * SQFT_PER_ACRE, np.nan))
    flag_missing(sqft <= 0, "lot_sqft ", Fmt(sqft, 2), " is not a positive area")
    flag_missing(acres <= 0, "lot_acres ", Fmt(acres, 2), " is not a positive area")
    area_known = ~np.isnan(area)
    flag_missing(~area_known, "lot area missing (lot_sqft, lot_acres): minimum-area check not done")
    small = area < rules.min_lot_sqft
    reasons.add(small, "lot ", Fmt(area), " sq ft under minimum " + t.min_lot)
    reject |= small

    # 3. sliver: width_ft, else estimated from area and aspect ratio
    width = nums["width_ft"].values
    width = np.where(width > 0, width, np.nan)
    aspect = nums["aspect_ratio"].values
    aspect = np.where(
        aspect > 0, np.maximum(aspect, 1.0 / np.where(aspect > 0, aspect, 1.0)), np.nan
    )
    estimate = np.sqrt(area / aspect)
    use_est = np.isnan(width) & ~np.isnan(estimate)
    sliver = width < rules.min_width_ft
    sliver_est = use_est & (estimate < rules.min_width_ft)
    reasons.add(sliver, "sliver: width ", Fmt(width, 1), " ft under minimum " + t.min_width)
    reasons.add(
        sliver_est,
        "sliver: estimated width ",
        Fmt(estimate, 1),
        " ft (from lot area and aspect_ratio) under minimum " + t.min_width,
    )
    reject |= sliver | sliver_est
    flag_missing(
        np.isnan(width) & ~use_est,
        "width_ft missing (no aspect_ratio to estimate it): sliver check not done",
    )

    # 4. landlocked, only from evidence (a missing address is not evidence)
    access = bool_col(frame, "road_access")
    frontage_ft = nums["road_frontage_ft"].values
    no_access = access == 0.0
    noted = ~no_access & (bool_col(frame, "landlocked") == 1.0)
    no_frontage = ~no_access & ~noted & (frontage_ft == 0) & ~(access == 1.0)  # a yes wins
    reasons.add(no_access, "no road access (road_access says no): possible landlocked parcel")
    reasons.add(noted, "landlocked (the user's note)")
    reasons.add(no_frontage, "no road frontage (road_frontage_ft 0): landlocked parcel")
    reject |= no_access | noted | no_frontage
    no_address = (
        (texts["address"] == "")
        & ~(frontage_ft > 0)
        & ~(access == 1.0)
        & ~(no_access | noted | no_frontage)
    )
    reasons.add(
        no_address,
        "no address: road access unconfirmed (not evidence of a landlocked lot; rural land "
        "often has no street address)",
    )
    n_missing += no_address

    # 5. tiny lot without a building
    count, foot = nums["bldg_count"].values, nums["bldg_footprint_sqft"].values
    has_bldg = (count > 0) | (foot > 0)
    no_bldg = ~has_bldg & ((count == 0) | (np.isnan(count) & (foot == 0)))
    tiny = (area / SQFT_PER_ACRE) < rules.tiny_lot_acres
    reasons.add(
        tiny & no_bldg,
        "no building on a ",
        Fmt(area / SQFT_PER_ACRE, 3),
        "-acre lot (under " + t.tiny + " acre)",
    )
    caution |= tiny & no_bldg
    flag_missing(
        tiny & ~has_bldg & ~no_bldg,
        "bldg_count/bldg_footprint_sqft missing on a lot under " + t.tiny + " acre: "
        "building check not done",
    )

    # 6. industrial surroundings, where known
    ind_rx = keyword_regex(rules.industrial_keywords)
    industrial = np.zeros(n, dtype=bool)
    for name in INDUSTRIAL_FIELDS:
        found = _search_unique(texts[name], ind_rx) != ""
        first = found & ~industrial
        reasons.add(first, "industrial zoning or use (" + name + " '", texts[name], "')")
        industrial |= found
    caution |= industrial

    verdict = np.where(reject, REJECTED, np.where(caution, CAUTION, APPROVED)).astype(object)

    used = join_flags(
        [(texts[name] != "", name) for name in TEXT_INPUTS]
        + [(nums[name].known, name) for name in NUMERIC_INPUTS],
        n,
    )

    confidence = np.clip(
        1.0 - MISSING_PENALTY * n_missing - ESTIMATE_PENALTY * use_est, MIN_CONFIDENCE, 1.0
    )
    return pd.DataFrame(
        {
            "property_id": frame["property_id"].to_numpy(),
            "verdict": verdict,
            "reasons": reasons.result(),
            "inputs_used": used,
            "confidence": np.round(confidence, 4),
        }
    )


def screen_rowwise(frame: pd.DataFrame, profile: InvestorProfile | None = None) -> pd.DataFrame:
    """Reference implementation of :func:`screen`, one row at a time.

    Same rules and the same output; kept for the agreement test and as the
    baseline of ``benchmarks/bench_decisions.py``.

    Examples
    --------
    >>> import pandas as pd
    >>> df = pd.DataFrame({"property_id": [1], "usedesc": ["RESIDENTIAL"], "lot_sqft": [9000],
    ...                    "width_ft": [60], "address": ["1 MAIN ST"], "bldg_count": [1]})
    >>> screen_rowwise(df).loc[0, "verdict"]
    'APPROVED'
    """
    import pandas as pd

    profile = profile or InvestorProfile()
    require_id(frame)
    rules = profile.screening
    t = _Texts(rules)
    reject_rx = keyword_regex(rules.reject_keywords)
    ind_rx = keyword_regex(rules.industrial_keywords)
    out = [_screen_row(row, rules, t, reject_rx, ind_rx) for row in frame.to_dict(orient="records")]
    return pd.DataFrame(out, columns=OUTPUT_COLUMNS)


def _screen_row(
    row: dict[str, Any],
    rules: ScreeningRules,
    t: _Texts,
    reject_rx: re.Pattern[str],
    ind_rx: re.Pattern[str],
) -> dict[str, Any]:
    reasons: list[str] = []
    reject = caution = False
    n_missing = 0
    nums = {name: num_scalar(row, name) for name in NUMERIC_INPUTS}
    texts = {name: text_scalar(row, name) for name in TEXT_INPUTS}

    def missing(text: str) -> None:
        nonlocal caution, n_missing
        reasons.append(text)
        caution = True
        n_missing += 1

    for name, (_, _, bad, raw) in nums.items():
        if bad:
            missing(f"{name} {raw_scalar(raw)} is not a number")

    m = reject_rx.search(texts["usecode"]) or reject_rx.search(texts["usedesc"])
    if m:
        reasons.append(f"land use matches reject keyword '{m.group(0)}'")
        reject = True
    if not texts["usecode"] and not texts["usedesc"]:
        missing("usecode/usedesc missing: land-use check not done")

    sqft, acres = nums["lot_sqft"][0], nums["lot_acres"][0]
    if sqft <= 0:
        missing(f"lot_sqft {fmt_scalar(sqft, 2)} is not a positive area")
    if acres <= 0:
        missing(f"lot_acres {fmt_scalar(acres, 2)} is not a positive area")
    if sqft > 0:
        area = sqft
    elif acres > 0:
        area = acres * SQFT_PER_ACRE
    else:
        area = math.nan
        missing("lot area missing (lot_sqft, lot_acres): minimum-area check not done")
    if area < rules.min_lot_sqft:
        reasons.append(f"lot {fmt_scalar(area)} sq ft under minimum {t.min_lot}")
        reject = True

    width = nums["width_ft"][0]
    aspect = nums["aspect_ratio"][0]
    use_est = False
    if width > 0:
        if width < rules.min_width_ft:
            reasons.append(f"sliver: width {fmt_scalar(width, 1)} ft under minimum {t.min_width}")
            reject = True
    elif aspect > 0 and not math.isnan(area):
        estimate = math.sqrt(area / max(aspect, 1.0 / aspect))
        use_est = True
        if estimate < rules.min_width_ft:
            reasons.append(
                f"sliver: estimated width {fmt_scalar(estimate, 1)} ft (from lot area and "
                f"aspect_ratio) under minimum {t.min_width}"
            )
            reject = True
    else:
        missing("width_ft missing (no aspect_ratio to estimate it): sliver check not done")

    access = bool_scalar(row, "road_access")
    frontage_ft = nums["road_frontage_ft"][0]
    if access == 0.0:
        reasons.append("no road access (road_access says no): possible landlocked parcel")
        reject = True
    elif bool_scalar(row, "landlocked") == 1.0:
        reasons.append("landlocked (the user's note)")
        reject = True
    elif frontage_ft == 0 and access != 1.0:
        reasons.append("no road frontage (road_frontage_ft 0): landlocked parcel")
        reject = True
    elif not texts["address"] and not frontage_ft > 0 and access != 1.0:
        reasons.append(
            "no address: road access unconfirmed (not evidence of a landlocked lot; rural land "
            "often has no street address)"
        )
        n_missing += 1

    count, foot = nums["bldg_count"][0], nums["bldg_footprint_sqft"][0]
    has_bldg = count > 0 or foot > 0
    no_bldg = not has_bldg and (count == 0 or (math.isnan(count) and foot == 0))
    lot_acres = area / SQFT_PER_ACRE
    if lot_acres < rules.tiny_lot_acres:
        if no_bldg:
            reasons.append(
                f"no building on a {fmt_scalar(lot_acres, 3)}-acre lot (under {t.tiny} acre)"
            )
            caution = True
        elif not has_bldg:
            missing(
                f"bldg_count/bldg_footprint_sqft missing on a lot under {t.tiny} acre: "
                "building check not done"
            )

    for name in INDUSTRIAL_FIELDS:
        if ind_rx.search(texts[name]):
            reasons.append(f"industrial zoning or use ({name} '{texts[name]}')")
            caution = True
            break

    verdict = REJECTED if reject else CAUTION if caution else APPROVED
    used = [name for name in TEXT_INPUTS if texts[name]]
    used += [name for name in NUMERIC_INPUTS if not math.isnan(nums[name][0])]
    confidence = 1.0 - MISSING_PENALTY * n_missing - ESTIMATE_PENALTY * use_est
    confidence = float(np.round(min(max(confidence, MIN_CONFIDENCE), 1.0), 4))
    return {
        "property_id": row["property_id"],
        "verdict": verdict,
        "reasons": REASON_SEP.join(reasons),
        "inputs_used": LIST_SEP.join(used),
        "confidence": confidence,
    }
