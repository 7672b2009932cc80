"""Property condition: a desk grade and repair estimate from parcel records.

Grades: ``A`` (good) ``B`` ``C`` ``D`` ``F`` (likely teardown), plus
``NO_BUILDING`` (``bldg_count`` 0, or footprint 0 with no count: repairs 0) and
``UNKNOWN`` (no usable signal: no repair estimate). A ``manual_grade`` column
(A-F or NO_BUILDING), where present and not null, wins over the computed grade
and the reason says so; any other value there is ignored with a reason.

The computed grade adds points from up to four signals (bands in
:class:`~toolkit.decisions.profile.ConditionRules`, all unverified defaults):

* age = ``as_of_year`` - ``year_built``: under ``age_new_max`` +1, from
  ``age_old_min`` -1, from ``age_very_old_min`` -2;
* improvement-to-land ratio: under ``imp_land_low`` -2, under ``imp_land_fair``
  -1, over ``imp_land_high`` +1;
* improvement value per footprint sq ft ÷ the county median (given, or the
  median of the frame's county when it has ≥ ``min_median_sample`` priced
  buildings): under ``psf_low`` -2, under ``psf_fair`` -1, over ``psf_high`` +1;
* ``usps_vacancy`` yes: ``vacancy_points`` (-2); no: 0.

The score's grade is the best whose ``grade_min_score`` it reaches, else F.
``repair_estimate`` = ``repair_per_sqft[grade]`` x ``bldg_footprint_sqft``.
``confidence``: manual 0.9; NO_BUILDING 0.8; computed 0.3 + 0.15 per signal
(0.9 with all four), -0.1 without a footprint; UNKNOWN 0.1.
"""

from __future__ import annotations

import datetime as _dt
from collections.abc import Mapping
from typing import TYPE_CHECKING

import numpy as np

from toolkit.decisions._common import (
    LIST_SEP,
    Joiner,
    NumCol,
    bool_col,
    county_key,
    county_key_scalar,
    fmt,
    fmt_points,
    quiet_numpy,
    raw_text,
    require_id,
    text_col,
)
from toolkit.decisions.profile import GRADES, InvestorProfile

if TYPE_CHECKING:
    import pandas as pd

NO_BUILDING, UNKNOWN = "NO_BUILDING", "UNKNOWN"


MANUAL_CHOICES: tuple[str, ...] = (*GRADES, NO_BUILDING)
NUMERIC_INPUTS = (
    "year_built",
    "improvement_value",
    "land_value",
    "bldg_footprint_sqft",
    "bldg_count",
)
OUTPUT_COLUMNS = [
    "property_id",
    "grade",
    "computed_grade",
    "score",
    "signals",
    "repair_per_sqft",
    "repair_estimate",
    "reasons",
    "inputs_used",
    "confidence",
]


def _fmt_text(values: np.ndarray, decimals: int = 0) -> np.ndarray:
    """:func:`fmt` as an object array, to concatenate with ``+`` (not a hot path)."""
    return fmt(values, decimals).astype(object)


def county_psf_medians(frame: pd.DataFrame, min_sample: int = 5) -> dict[str, float]:
    """Median improvement value per footprint sq ft by county (folded name).

    Counties with fewer than ``min_sample`` priced buildings are left out.

    Examples
    --------
    >>> import pandas as pd
    >>> df = pd.DataFrame({"county": ["Blair"] * 3, "improvement_value": [1000, 2000, 9000],
    ...                    "bldg_footprint_sqft": [100, 100, 100]})
    >>> county_psf_medians(df, min_sample=3)
    {'blair': 20.0}
    """
    import pandas as pd

    imp = NumCol(frame, "improvement_value").values
    foot = NumCol(frame, "bldg_footprint_sqft").values
    ok = (imp > 0) & (foot > 0)
    psf = np.where(ok, imp / np.where(foot > 0, foot, 1.0), np.nan)
    keys = county_key(text_col(frame, "county"))
    s = pd.Series(psf[ok], index=keys[ok])
    s = s[s.index != ""]
    grouped = s.groupby(level=0)
    sizes = grouped.size()
    medians = grouped.median()[sizes >= min_sample]
    return {str(k): float(v) for k, v in medians.items()}


@quiet_numpy
def assess_condition(
    frame: pd.DataFrame,
    profile: InvestorProfile | None = None,
    county_medians: Mapping[str, float] | None = None,
) -> pd.DataFrame:
    """Grade condition and estimate repairs for a batch of parcel records.

    Parameters
    ----------
    frame
        Parcel records with ``property_id`` (see the module docstring for the
        columns read); optional ``manual_grade``.
    profile
        Bands and repair costs; defaults to :class:`InvestorProfile()`.
    county_medians
        County name -> median improvement $ per footprint sq ft; computed from
        ``frame`` when not given.

    Returns
    -------
    DataFrame with ``property_id, grade, computed_grade, score, signals,
    repair_per_sqft, repair_estimate, reasons, inputs_used, confidence``.

    Examples
    --------
    >>> import pandas as pd
    >>> from toolkit.decisions.profile import profile_from_dict
    >>> p = profile_from_dict({"condition": {"as_of_year": 2026}})
    >>> df = pd.DataFrame({"property_id": [7], "year_built": [1900], "usps_vacancy": ["Y"],
    ...                    "bldg_count": [1], "bldg_footprint_sqft": [1000]})
    >>> r = assess_condition(df, p).iloc[0]
    >>> r["grade"], float(r["repair_estimate"])  # age 126: -2, vacant: -2 -> score -4 -> D
    ('D', 65000.0)
    """
    import pandas as pd

    profile = profile or InvestorProfile()
    rules = profile.condition
    require_id(frame)
    n = len(frame)
    as_of = rules.as_of_year or _dt.date.today().year
    reasons = Joiner(n)
    nums = {name: NumCol(frame, name) for name in NUMERIC_INPUTS}
    bad_count = np.zeros(n, dtype=np.int64)
    for name, col in nums.items():
        if col.bad.any():
            reasons.add(col.bad, name + " " + raw_text(col.raw, col.bad) + " is not a number")
            bad_count += col.bad

    score = np.zeros(n)
    signals = np.zeros(n, dtype=np.int64)

    # age
    yb = nums["year_built"].values
    yb_ok = (yb >= 1600) & (yb <= as_of)
    implausible = ~np.isnan(yb) & ~yb_ok
    reasons.add(
        implausible, "year_built " + _fmt_text(yb) + " is not a plausible year: age not used"
    )
    age = as_of - yb
    old = np.where(age >= rules.age_old_min, -1.0, 0.0)
    pts = np.where(age < rules.age_new_max, 1.0, np.where(age >= rules.age_very_old_min, -2.0, old))
    pts = np.where(yb_ok, pts, 0.0)
    reasons.add(yb_ok, "built ", _fmt_text(yb), " (age ", _fmt_text(age), "): ", fmt_points(pts))
    score += pts
    signals += yb_ok

    # improvement-to-land ratio
    imp, land = nums["improvement_value"].values, nums["land_value"].values
    ratio_ok = (imp >= 0) & (land > 0)
    ratio = np.where(ratio_ok, imp / np.where(land > 0, land, 1.0), np.nan)
    high = np.where(ratio > rules.imp_land_high, 1.0, 0.0)
    pts = np.where(
        ratio < rules.imp_land_low, -2.0, np.where(ratio < rules.imp_land_fair, -1.0, high)
    )
    pts = np.where(ratio_ok, pts, 0.0)
    reasons.add(ratio_ok, "improvement/land " + _fmt_text(ratio, 2) + ": " + fmt_points(pts))
    score += pts
    signals += ratio_ok

    # improvement $/sqft against the county median
    foot = nums["bldg_footprint_sqft"].values
    psf_ok = (imp > 0) & (foot > 0)
    psf = np.where(psf_ok, imp / np.where(foot > 0, foot, 1.0), np.nan)
    if county_medians is None:
        medians = county_psf_medians(frame, rules.min_median_sample)
    else:
        medians = {county_key_scalar(str(k)): float(v) for k, v in county_medians.items()}
    keys = county_key(text_col(frame, "county"))
    median = pd.Series(keys).map(medians).to_numpy(dtype=float, na_value=np.nan)
    median = np.where(median > 0, median, np.nan)
    rel_ok = psf_ok & ~np.isnan(median)
    rel = psf / median
    pts = np.where(
        rel < rules.psf_low,
        -2.0,
        np.where(rel < rules.psf_fair, -1.0, np.where(rel > rules.psf_high, 1.0, 0.0)),
    )
    pts = np.where(rel_ok, pts, 0.0)
    reasons.add(
        rel_ok,
        "improvement $"
        + _fmt_text(psf)
        + "/sqft vs county median $"
        + _fmt_text(median)
        + " ("
        + _fmt_text(rel, 2)
        + "): "
        + fmt_points(pts),
    )
    reasons.add(psf_ok & np.isnan(median), "no county median $/sqft: value comparison not used")
    score += pts
    signals += rel_ok

    # vacancy
    vacant = bool_col(frame, "usps_vacancy")
    vac_ok = ~np.isnan(vacant)
    pts = np.where(vacant == 1.0, rules.vacancy_points, 0.0)
    reasons.add(vacant == 1.0, "USPS vacant: " + fmt_points(pts))
    reasons.add(vacant == 0.0, "USPS not vacant: +0")
    vac_raw = text_col(frame, "usps_vacancy")
    vac_bad = ~vac_ok & (vac_raw != "")
    reasons.add(vac_bad, "usps_vacancy '" + vac_raw + "' not understood (use Y or N)")
    score += pts
    signals += vac_ok

    # building presence
    count = nums["bldg_count"].values
    has_bldg = (count > 0) | (foot > 0)
    no_bldg = ~has_bldg & ((count == 0) | (np.isnan(count) & (foot == 0)))
    reasons.add(
        ~has_bldg & ~no_bldg, "building presence unknown (bldg_count, bldg_footprint_sqft missing)"
    )
    reasons.add(count > 1, _fmt_text(count) + " buildings: footprint covers all of them")

    # score -> grade
    computed = np.full(n, GRADES[-1], dtype=object)
    for g in reversed(GRADES[:-1]):  # D, C, B, A: the best grade reached wins
        computed = np.where(score >= rules.grade_min_score[g], g, computed)
    computed = np.where(signals == 0, UNKNOWN, computed)
    computed = np.where(no_bldg, NO_BUILDING, computed).astype(object)
    scored = (signals > 0) & ~no_bldg
    reasons.add(scored, "score " + fmt_points(score) + " -> grade " + computed)
    reasons.add(no_bldg, "no building (bldg_count 0 or footprint 0): no repairs")
    reasons.add((signals == 0) & ~no_bldg, "no usable condition signal: grade UNKNOWN")

    # manual grade wins
    manual_raw = text_col(frame, "manual_grade")
    manual = np.char.upper(manual_raw.astype(str)).astype(object) if n else manual_raw
    manual_ok = np.isin(manual, MANUAL_CHOICES)
    manual_bad = ~manual_ok & (manual_raw != "")
    reasons.add(
        manual_ok, "manual grade " + manual + " entered by the user overrides computed " + computed
    )
    reasons.add(
        manual_bad,
        "manual_grade '" + manual_raw + "' ignored: not one of " + ", ".join(MANUAL_CHOICES),
    )
    grade = np.where(manual_ok, manual, computed).astype(object)

    # repairs
    rate_map = {**rules.repair_per_sqft, NO_BUILDING: 0.0}
    rate = pd.Series(grade).map(rate_map).to_numpy(dtype=float, na_value=np.nan)
    repair = np.where(grade == NO_BUILDING, 0.0, rate * np.where(foot > 0, foot, np.nan))
    no_foot = np.isin(grade, GRADES) & ~(foot > 0)
    reasons.add(no_foot, "bldg_footprint_sqft missing: no repair estimate")

    confidence = np.where(
        manual_ok,
        0.9,
        np.where(
            grade == NO_BUILDING,
            0.8,
            np.where(grade == UNKNOWN, 0.1, 0.3 + 0.15 * signals - 0.1 * no_foot),
        ),
    )
    confidence = np.where(manual_bad, confidence - 0.1, confidence)
    confidence = np.clip(confidence - 0.05 * bad_count, 0.05, 1.0)

    used = Joiner(n, LIST_SEP)
    for name in NUMERIC_INPUTS:
        used.add(nums[name].known, name)
    used.add(vac_ok, "usps_vacancy")
    used.add(rel_ok, "county median $/sqft")
    used.add(manual_ok, "manual_grade")

    return pd.DataFrame(
        {
            "property_id": frame["property_id"].to_numpy(),
            "grade": grade,
            "computed_grade": computed,
            "score": np.where(signals > 0, score, np.nan),
            "signals": signals,
            "repair_per_sqft": rate,
            "repair_estimate": repair,
            "reasons": reasons.result(),
            "inputs_used": used.result(),
            "confidence": np.round(confidence, 4),
        },
        columns=OUTPUT_COLUMNS,
    )
