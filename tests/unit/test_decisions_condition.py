"""Desk condition grade and repair estimate, with hand-worked scores."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import pytest

from toolkit.decisions.condition import assess_condition, county_psf_medians
from toolkit.decisions.profile import profile_from_dict
from toolkit.exceptions import ValidationError

P = profile_from_dict({"condition": {"as_of_year": 2026}})
MEDIANS = {"Blair County": 50.0}  # $/sqft; folded to "blair"


def one(medians: dict[str, float] | None = MEDIANS, profile: Any = P, **row: Any) -> pd.Series:
    base = {"property_id": 1, "county": "Blair", "bldg_count": 1}
    return assess_condition(pd.DataFrame([{**base, **row}]), profile, medians).iloc[0]


def test_grade_a_all_four_signals() -> None:
    # age 2026-2010 = 16 < 30: +1; 150,000 / 30,000 = 5.0 > 3: +1;
    # 150,000 / 1,500 = $100/sqft vs $50 median = 2.0 > 1.2: +1; not vacant: 0 -> +3 >= 2: A
    r = one(
        year_built=2010,
        improvement_value=150000,
        land_value=30000,
        bldg_footprint_sqft=1500,
        usps_vacancy="N",
    )
    assert (r["grade"], r["score"], r["signals"]) == ("A", 3.0, 4)
    assert r["repair_estimate"] == 5 * 1500  # A: $5/sqft
    assert r["confidence"] == pytest.approx(0.9)
    assert r["reasons"] == (
        "built 2010 (age 16): +1; improvement/land 5.0: +1; improvement $100/sqft vs county "
        "median $50 (2.0): +1; USPS not vacant: +0; score +3 -> grade A"
    )
    assert "county median $/sqft" in r["inputs_used"]


def test_grade_f_all_signals_bad() -> None:
    # age 126: -2; 20,000 / 50,000 = 0.4 < 0.5: -2; $20/sqft / $50 = 0.4 < 0.5: -2;
    # vacant: -2 -> -8 < -4: F; repairs $100 x 1,000 sq ft
    r = one(
        year_built=1900,
        improvement_value=20000,
        land_value=50000,
        bldg_footprint_sqft=1000,
        usps_vacancy="Y",
    )
    assert (r["grade"], r["score"]) == ("F", -8.0)
    assert r["repair_estimate"] == 100000.0


def test_grade_c_two_signals_no_median() -> None:
    # age 76 >= 70: -1; 0.8 < 1.0: -1; Somerset has no median -> -2 >= -2: C
    # repairs $40 x 800; confidence 0.3 + 2 x 0.15 = 0.6
    r = one(
        county="Somerset",
        year_built=1950,
        improvement_value=40000,
        land_value=50000,
        bldg_footprint_sqft=800,
    )
    assert (r["grade"], r["score"], r["signals"]) == ("C", -2.0, 2)
    assert r["repair_estimate"] == 32000.0
    assert r["confidence"] == pytest.approx(0.6)
    assert "no county median $/sqft: value comparison not used" in r["reasons"]


@pytest.mark.parametrize(
    ("year", "points"),
    [(1996, "+0"), (1997, "+1"), (1957, "+0"), (1956, "-1"), (1927, "-1"), (1926, "-2")],
)
def test_age_band_edges(year: int, points: str) -> None:
    # bands: age < 30 -> +1, 70 <= age < 100 -> -1, age >= 100 -> -2 (2026 - year)
    r = one(year_built=year)
    assert f"built {year} (age {2026 - year}): {points}" in r["reasons"]


def test_grade_cutoffs_d_and_f() -> None:
    # age 106: -2, vacant: -2 -> -4 >= -4: D; add ratio 0.9: -1 -> -5: F
    # (no county medians, so $/sqft is not a signal)
    assert one(year_built=1920, usps_vacancy="Y", bldg_footprint_sqft=1000)["grade"] == "D"
    r = one(
        medians={},
        year_built=1920,
        usps_vacancy="Y",
        bldg_footprint_sqft=1000,
        improvement_value=9000,
        land_value=10000,
    )
    assert (r["grade"], r["score"]) == ("F", -5.0)


def test_no_building_means_no_repairs() -> None:
    r = one(bldg_count=0, bldg_footprint_sqft=0, year_built=1950)
    assert r["grade"] == "NO_BUILDING"
    assert r["repair_estimate"] == 0.0
    assert r["confidence"] == 0.8


def test_unknown_without_signals() -> None:
    r = one(bldg_count=None)
    assert r["grade"] == "UNKNOWN"
    assert np.isnan(r["repair_estimate"])
    assert r["confidence"] == pytest.approx(0.1)
    assert "building presence unknown" in r["reasons"]
    assert "no usable condition signal" in r["reasons"]


def test_manual_grade_wins_and_says_so() -> None:
    r = one(year_built=1900, usps_vacancy="Y", bldg_footprint_sqft=1000, manual_grade="b")
    assert (r["grade"], r["computed_grade"]) == ("B", "D")
    assert r["repair_estimate"] == 20 * 1000
    assert "manual grade B entered by the user overrides computed D" in r["reasons"]
    assert r["confidence"] == 0.9


def test_bad_manual_grade_is_ignored_with_reason() -> None:
    r = one(year_built=1900, usps_vacancy="Y", bldg_footprint_sqft=1000, manual_grade="Z")
    assert r["grade"] == "D"
    assert "manual_grade 'Z' ignored: not one of A, B, C, D, F, NO_BUILDING" in r["reasons"]
    assert r["confidence"] == pytest.approx(0.3 + 2 * 0.15 - 0.1)


def test_missing_footprint_gives_no_repair_estimate() -> None:
    r = one(year_built=1900, usps_vacancy="Y")
    assert r["grade"] == "D"
    assert np.isnan(r["repair_estimate"])
    assert "bldg_footprint_sqft missing: no repair estimate" in r["reasons"]
    assert r["confidence"] == pytest.approx(0.3 + 2 * 0.15 - 0.1)


def test_bad_values_are_named() -> None:
    r = one(year_built="old", usps_vacancy="maybe", land_value="n/a", bldg_footprint_sqft=900)
    assert "year_built 'old' is not a number" in r["reasons"]
    assert "land_value 'n/a' is not a number" in r["reasons"]
    assert "usps_vacancy 'maybe' not understood (use Y or N)" in r["reasons"]
    assert r["grade"] == "UNKNOWN"
    r = one(year_built=0, usps_vacancy="N", bldg_footprint_sqft=900)
    assert "year_built 0 is not a plausible year: age not used" in r["reasons"]
    assert r["signals"] == 1


def test_county_median_from_the_frame() -> None:
    # $/sqft 10, 20, 30, 40, 50 -> median 30; the 30 row: 1.0 -> +0, the 10 row: 0.33 -> -2
    df = pd.DataFrame(
        {
            "property_id": range(5),
            "county": ["Blair"] * 5,
            "bldg_count": 1,
            "improvement_value": [10000, 20000, 30000, 40000, 50000],
            "bldg_footprint_sqft": 1000,
        }
    )
    assert county_psf_medians(df) == {"blair": 30.0}
    out = assess_condition(df, P)
    assert "improvement $30/sqft vs county median $30 (1.0): +0" in out.loc[2, "reasons"]
    assert "improvement $10/sqft vs county median $30 (0.33): -2" in out.loc[0, "reasons"]
    # too few priced buildings for a median: the comparison is skipped, and said so
    few = profile_from_dict({"condition": {"as_of_year": 2026, "min_median_sample": 6}})
    assert county_psf_medians(df, 6) == {}
    assert "no county median" in assess_condition(df, few).loc[0, "reasons"]


def test_repair_rates_come_from_the_profile() -> None:
    p = profile_from_dict({"condition": {"as_of_year": 2026, "repair_per_sqft": {"D": 80}}})
    r = one(profile=p, year_built=1920, usps_vacancy="Y", bldg_footprint_sqft=1000)
    assert (r["grade"], r["repair_estimate"]) == ("D", 80000.0)


def test_missing_property_id_and_empty_frame() -> None:
    with pytest.raises(ValidationError, match="property_id"):
        assess_condition(pd.DataFrame({"year_built": [1900]}), P)
    out = assess_condition(pd.DataFrame({"property_id": []}), P)
    assert len(out) == 0 and "grade" in out.columns
