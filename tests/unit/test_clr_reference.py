"""The PA CLR factor table shipped with the toolkit: every figure as its quoted source prints it,
the choice of a county's factor, the fallback behind the workspace's own factors, and the check
that keeps common level ratios out of the factor column."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

import pandas as pd
import pytest

import toolkit
from toolkit.counties import PA_COUNTIES
from toolkit.exceptions import ConfigError
from toolkit.reference import clr

ROOT = Path(__file__).resolve().parents[2]
SOURCES = ROOT / "toolkit" / "reference" / "sources"
SHIPPED = ROOT / "toolkit" / "reference" / "clr_factors_pa.csv"


def shipped() -> pd.DataFrame:
    return pd.read_csv(SHIPPED, comment="#", dtype=str)


def quoted(name: str, pattern: str) -> dict[str, str]:
    text = (SOURCES / name).read_text(encoding="utf-8")
    return dict(re.findall(pattern, text, re.M))


# --- every figure as printed ---------------------------------------------------------


def test_the_2024_25_factors_are_the_bulletins_for_all_67_counties() -> None:
    printed = quoted("54_PaB_3744.txt", r"^([A-Z][A-Za-z]+) (\d+\.\d\d)$")
    assert len(printed) == 67
    assert list(printed) == list(PA_COUNTIES)  # every county, in the notice's order
    rows = shipped()
    period = rows[rows.valid_from == "2024-07-01"]
    assert (period.valid_to == "2025-06-30").all()
    assert dict(zip(period.county, period.factor, strict=True)) == printed
    assert period.source.str.contains("54 Pa.B. 3744", regex=False).all()
    assert period.source_url.str.endswith("/vol54/54-26/912.html").all()
    # a few figures by eye, from the notice
    assert (printed["Blair"], printed["Bucks"], printed["Philadelphia"]) == (
        "1.18",
        "15.87",
        "1.07",
    )


def test_the_counties_are_pennsylvanias_67() -> None:
    names = set(shipped().county)
    with toolkit.connect(":memory:") as ws:
        known = set(ws.sql("SELECT county_name FROM counties").county_name)
    assert names == known and len(known) == 67


def test_the_2025_26_factors_are_100_over_the_reported_ratios() -> None:
    text = (SOURCES / "steb_2024_clr_reports.txt").read_text(encoding="utf-8")
    ratios = dict(re.findall(r"^- (\w+) County: (\d+\.\d+)% of market value$", text, re.M))
    ratios |= dict(re.findall(r"(Allegheny) County's 2024 CLR is (\d+\.\d+)\.", text))
    assert ratios == {
        "Bucks": "5.86",
        "Chester": "31.84",
        "Delaware": "57.33",
        "Montgomery": "30.76",
        "Allegheny": "50.14",
    }
    rows = shipped()
    period = rows[rows.valid_from == "2025-07-01"]
    assert (period.valid_to == "2026-06-30").all()
    assert dict(zip(period.county, period.clr_percent, strict=True)) == ratios
    for r in period.itertuples():
        assert r.factor == f"{round(100 / float(r.clr_percent), 2):.2f}"
        assert r.source.startswith(f"100 / {r.clr_percent} = reciprocal")
        assert "not found" in r.source  # says the Department's own notice is missing
    assert dict(zip(period.county, period.factor, strict=True)) == {
        "Allegheny": "1.99",
        "Bucks": "17.06",
        "Chester": "3.14",
        "Delaware": "1.74",
        "Montgomery": "3.25",
    }


def test_the_factors_agree_with_stebs_ratios_of_the_same_year() -> None:
    # 54 Pa.B. 2335: STEB's 2023 ratios, used from July 1, 2024; the factor is 100 / ratio
    ratios = quoted("54_PaB_2335.txt", r"^[^A-Za-z]*([A-Z][a-z]+) (\d+\.\d)$")
    assert len(ratios) == 30 and ratios["Adams"] == "77.4" and ratios["Greene"] == "41.8"
    rows = shipped()
    factors = dict(
        zip(
            rows[rows.valid_from == "2024-07-01"].county,
            rows[rows.valid_from == "2024-07-01"].factor.astype(float),
            strict=True,
        )
    )
    off = {
        c: (factors[c], r)
        for c, r in ratios.items()
        if abs(factors[c] - 100 / float(r)) > 0.005 + 1e-9
    }
    # Beaver: the Department's 1.00 follows a new county-wide assessment (docs/clr.md)
    assert off == {"Beaver": (1.0, "14.8")}


def test_every_row_has_a_source_and_a_link() -> None:
    rows = shipped()
    assert rows.source.str.len().min() > 20
    assert rows.source_url.str.match(r"^https://").all()
    assert not rows.isin(["SYNTHETIC"]).any().any()
    assert len(rows) == 72


# --- shipped with the package ---------------------------------------------------------


def test_the_table_is_package_data() -> None:
    data = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]
    globs = data["package-data"]["toolkit"]
    pkg = ROOT / "toolkit"
    for path in (
        SHIPPED,
        SOURCES / "54_PaB_3744.txt",
        pkg / "reference" / "investor_profile_starter.yaml",
    ):
        rel = path.relative_to(pkg).as_posix()
        assert any(Path(rel).match(g) for g in globs), rel
    assert clr.shipped_clr_text() == SHIPPED.read_text(encoding="utf-8")


# --- which shipped row a county uses -----------------------------------------------------


@pytest.mark.parametrize(
    ("day", "bucks", "blair", "period"),
    [
        ("2025-01-15", 15.87, 1.18, "2024-07-01 to 2025-06-30"),
        ("2025-09-01", 17.06, 1.18, "2025-07-01 to 2026-06-30"),
        ("2026-12-01", 17.06, 1.18, "2025-07-01 to 2026-06-30"),  # both ended: the newest
        ("2019-01-01", 15.87, 1.18, "2024-07-01 to 2025-06-30"),  # before all: the earliest
    ],
)
def test_one_row_per_county_in_effect_else_the_newest(day, bucks, blair, period) -> None:
    t = clr.shipped_clr_factors(day).set_index("county")
    assert len(t) == 67
    assert (float(t.factor["Bucks"]), float(t.factor["Blair"])) == (bucks, blair)
    assert t.source["Bucks"].startswith(f"shipped PA table, valid {period}: ")
    assert t.source["Blair"].startswith("shipped PA table, valid 2024-07-01 to 2025-06-30: ")


def test_the_workspaces_own_factor_wins() -> None:
    mine = pd.DataFrame(
        {
            "county": ["Blair County", "Bucks"],
            "factor": [2.5, 18.0],
            "valid_from": [pd.Timestamp("2026-07-01"), pd.NaT],
            "valid_to": [None, None],
            "source": ["my notice", "my other notice"],
        }
    )
    t = clr.with_shipped_fallback(mine, "2026-12-01")
    assert len(t) == 67 and t.county.tolist()[:2] == ["Blair County", "Bucks"]
    by = t.set_index("county")
    assert (by.factor["Blair County"], by.origin["Blair County"]) == (2.5, "workspace")
    assert by.valid_from["Blair County"] == "2026-07-01" and pd.isna(by.valid_from["Bucks"])
    assert by.origin["Adams"] == "shipped" and float(by.factor["Adams"]) == 1.29
    assert "Blair" not in by.index  # the shipped Blair row steps aside
    # what the bid rules accept
    from toolkit.decisions.bid import ClrFactors, check_clr_factors

    factors = ClrFactors(check_clr_factors(t))
    assert factors.factor["blair"] == 2.5 and factors.factor["montgomery"] == 3.25
    assert factors.source["adams"].startswith("shipped PA table, valid 2024-07-01")
    assert clr.with_shipped_fallback(None).origin.eq("shipped").all()


# --- ratios are not factors -------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "words"),
    [
        (
            "26.2",
            "ratio in percent, not a factor. The factor is the ratio's reciprocal: "
            "100 / 26.2 = 3.82.",
        ),
        ("26.2%", "100 / 26.2 = 3.82"),
        ("26.2 %", "100 / 26.2 = 3.82"),
        (
            "0.262",
            "ratio as a fraction, not a factor. The factor is the ratio's reciprocal: "
            "1 / 0.262 = 3.82.",
        ),
        ("52.7", "100 / 52.7 = 1.90"),
    ],
)
def test_a_ratio_in_the_factor_column_is_refused(value: str, words: str) -> None:
    table = pd.DataFrame(
        {"county": ["Adams", "Blair"], "factor": ["1.29", value], "source": ["a", "b"]}
    )
    with pytest.raises(ConfigError) as err:
        clr.refuse_ratios(table, "mine.csv")
    msg = str(err.value)
    assert msg.startswith(
        f"mine.csv: factor {value!r} for county 'Blair' looks like a common level"
    )
    assert words in msg and "Factors from 0.5 to 25 are accepted." in msg


def test_a_ratio_column_is_refused_and_counted_rows() -> None:
    with pytest.raises(
        ConfigError, match=r"has a 'CLR' column but no 'factor' column.*100 / ratio"
    ):
        clr.refuse_ratios(pd.DataFrame({"county": ["Blair"], "CLR": ["85.1"]}), "x.csv")
    table = pd.DataFrame({"county": ["A", "B", "C"], "factor": ["85.1", "52.7", "40"]})
    with pytest.raises(ConfigError, match=r"\(2 more rows like it\)"):
        clr.refuse_ratios(table)


@pytest.mark.parametrize("value", ["0.5", "1", "17.06", "25", "abc", "", "-3"])
def test_factors_and_other_problems_pass_this_check(value: str) -> None:
    # real factors pass; a non-number or negative is check_clr_factors' to report
    clr.refuse_ratios(pd.DataFrame({"county": ["Blair"], "factor": [value]}))
    clr.refuse_ratios(pd.DataFrame({"county": ["Blair"], "rate": ["3"]}))  # no factor column


def test_the_shipped_and_sample_tables_pass() -> None:
    clr.refuse_ratios(shipped(), "shipped")
    clr.refuse_ratios(pd.read_csv(ROOT / "data/sample/clr_factors.csv", comment="#", dtype=str))
    clr.refuse_ratios(pd.read_csv(ROOT / "docs/examples/clr_factors.csv", comment="#", dtype=str))


# --- the import path -----------------------------------------------------------------------


def test_import_refuses_ratios_and_saves_nothing(tmp_path) -> None:
    ws = toolkit.connect(str(tmp_path / "ws.duckdb"))
    assert ws.import_clr_factors(ROOT / "docs/examples/clr_factors.csv") == 4
    before = ws.sql("SELECT county_id, factor, source FROM clr_factors ORDER BY 1")
    bad = tmp_path / "ratios.csv"
    bad.write_text("county,factor,source\nAdams,1.29,54 Pa.B. 3744\nBlair,85.1,54 Pa.B. 2335\n")
    with pytest.raises(ConfigError, match=r"ratios.csv: factor '85.1' for county 'Blair'.*1.18"):
        ws.import_clr_factors(bad)
    after = ws.sql("SELECT county_id, factor, source FROM clr_factors ORDER BY 1")
    pd.testing.assert_frame_equal(before, after)
    ws.close()
