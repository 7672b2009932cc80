"""InvestorProfile defaults, YAML loading and validation."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from toolkit.decisions.profile import (
    InvestorProfile,
    load_profile,
    profile_from_dict,
)
from toolkit.exceptions import ConfigError, ValidationError

ROOT = Path(__file__).resolve().parents[2]
SAMPLE = ROOT / "data" / "sample" / "investor_profile.yaml"


def test_defaults_follow_domain_notes() -> None:
    p = InvestorProfile()
    assert p.screening.min_lot_sqft == 1000
    assert p.screening.min_width_ft == 20
    assert p.screening.tiny_lot_acres == 0.1
    assert dict(p.bid.arv_multipliers) == {
        "conservative": 0.65,
        "moderate": 0.70,
        "aggressive": 0.75,
    }
    assert p.bid.selling_cost_share == 0.08
    assert p.bid.round_to == 100
    for word in (
        "cemetery",
        "water",
        "lake",
        "pond",
        "utility",
        "power line",
        "railroad",
        "right of way",
    ):
        assert word in p.screening.reject_keywords


def test_sample_yaml_equals_defaults() -> None:
    # the sample file documents the defaults; drifting apart would mislead users
    assert load_profile(SAMPLE) == InvestorProfile()
    assert load_profile(None) == InvestorProfile()


def test_sample_yaml_marks_unverified_values() -> None:
    text = SAMPLE.read_text(encoding="utf-8")
    for key in ("min_profit", "title_clearing_cost", "recording_cost", "transfer_tax_rate"):
        line = next(ln for ln in text.splitlines() if ln.strip().startswith(key + ":"))
        assert "unverified default" in line, line


def test_partial_yaml_keeps_other_defaults(tmp_path: Path) -> None:
    f = tmp_path / "p.yaml"
    f.write_text("bid:\n  min_profit: 5000\n  arv_multipliers: {moderate: 0.68}\n")
    p = load_profile(f)
    assert p.bid.min_profit == 5000
    assert dict(p.bid.arv_multipliers) == {
        "conservative": 0.65,
        "moderate": 0.68,
        "aggressive": 0.75,
    }
    assert p.bid.title_clearing_cost == InvestorProfile().bid.title_clearing_cost


@pytest.mark.parametrize(
    ("data", "names"),
    [
        ({"bid": {"min_profit": -1}}, ["bid.min_profit", "-1", ">= 0"]),
        ({"bid": {"recording_cost": -0.01}}, ["bid.recording_cost", ">= 0"]),
        (
            {"bid": {"selling_cost_share": 1.5}},
            ["bid.selling_cost_share", "1.5", "between 0 and 1"],
        ),
        ({"bid": {"review_margin": -0.1}}, ["bid.review_margin", "between 0 and 1"]),
        ({"bid": {"transfer_tax_rate": 2}}, ["bid.transfer_tax_rate", "between 0 and 1"]),
        ({"bid": {"arv_multipliers": {"moderate": 1.2}}}, ["arv_multipliers.moderate", "1.2"]),
        ({"bid": {"arv_multipliers": {"aggressive": 0.6}}}, ["out of order"]),
        ({"bid": {"min_profit": "lots"}}, ["bid.min_profit", "'lots'", "not a number"]),
        ({"bid": {"min_profit": True}}, ["bid.min_profit", "not a number"]),
        ({"bid": {"fallback_grade": "Q"}}, ["fallback_grade", "'Q'", "A, B, C, D, F"]),
        ({"condition": {"repair_per_sqft": {"A": -5}}}, ["repair_per_sqft.A", ">= 0"]),
        ({"condition": {"repair_per_sqft": {"G": 5}}}, ["repair_per_sqft.G", "A, B, C, D, F"]),
        ({"condition": {"grade_min_score": {"A": -10}}}, ["grade_min_score", "fall from A"]),
        ({"condition": {"as_of_year": 2026.5}}, ["as_of_year", "whole number"]),
        ({"condition": {"age_old_min": 200}}, ["age_old_min", "age_very_old_min"]),
        ({"screening": {"min_lot_sqft": -100}}, ["screening.min_lot_sqft", ">= 0"]),
        ({"screening": {"reject_keywords": "cemetery"}}, ["reject_keywords", "list"]),
        ({"screening": {"reject_keywords": ["ok", ""]}}, ["reject_keywords", "non-empty"]),
    ],
)
def test_bad_values_are_refused_with_name_and_range(data: dict, names: list[str]) -> None:
    with pytest.raises(ConfigError) as info:
        profile_from_dict(data)
    for name in names:
        assert name in str(info.value)


def test_unknown_keys_are_refused_with_suggestion(tmp_path: Path) -> None:
    f = tmp_path / "p.yaml"
    f.write_text("bid:\n  min_proft: 5000\n")
    with pytest.raises(ConfigError, match=r"'bid\.min_proft'.*Did you mean 'min_profit'"):
        load_profile(f)
    with pytest.raises(ConfigError, match=r"Unknown key 'bidding'.*screening, condition, bid"):
        profile_from_dict({"bidding": {}})


def test_config_error_is_a_validation_error() -> None:
    with pytest.raises(ValidationError):
        profile_from_dict({"bid": {"min_profit": -1}})


def test_file_problems(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="Cannot read"):
        load_profile(tmp_path / "absent.yaml")
    bad = tmp_path / "bad.yaml"
    bad.write_text("bid: [1, 2\n")
    with pytest.raises(ConfigError, match="not valid YAML"):
        load_profile(bad)
    listy = tmp_path / "list.yaml"
    listy.write_text("- 1\n- 2\n")
    with pytest.raises(ConfigError, match="must be a YAML mapping"):
        load_profile(listy)
    section = tmp_path / "section.yaml"
    section.write_text("bid: 5\n")
    with pytest.raises(ConfigError, match="section 'bid' must be a mapping"):
        load_profile(section)


def test_direct_construction_is_validated_too() -> None:
    base = InvestorProfile()
    with pytest.raises(ConfigError, match=r"bid\.min_profit"):
        dataclasses.replace(base, bid=dataclasses.replace(base.bid, min_profit=-5))
