"""Profile files: the starter ``toolkit profile init`` writes, where a workspace's profile comes
from, and checking a file for every problem at once."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest
import yaml

import toolkit
from toolkit.decisions.profile import InvestorProfile, load_profile
from toolkit.exceptions import ValidationError
from toolkit.processors import decisions

ROOT = Path(__file__).resolve().parents[2]
STARTER = ROOT / "toolkit" / "reference" / "investor_profile_starter.yaml"


def test_the_starter_is_the_defaults_with_every_key_commented() -> None:
    assert load_profile(STARTER) == InvestorProfile()
    data = yaml.safe_load(STARTER.read_text())
    for section in dataclasses.fields(InvestorProfile):
        names = {f.name for f in dataclasses.fields(section.default_factory())}
        missing = names - set(data[section.name])
        assert not missing, f"add {section.name}.{sorted(missing)} to {STARTER.name}"
    lines = [ln for ln in STARTER.read_text().splitlines() if ":" in ln and not ln.startswith("#")]
    leaves = [ln for ln in lines if not ln.rstrip().endswith(":")]
    assert all("#" in ln for ln in leaves if ln.startswith("  ") and not ln.startswith("    "))


def test_where_the_profile_comes_from(tmp_path, monkeypatch) -> None:
    monkeypatch.delenv(decisions.PROFILE_ENV, raising=False)
    ws = toolkit.connect(str(tmp_path / "ws.duckdb"))
    path, origin = decisions.profile_origin(ws.data_dir)
    assert path is None and origin == f"built-in defaults (no investor_profile.yaml in {tmp_path})"
    written = decisions.init_profile(ws.data_dir)
    assert written == tmp_path / "investor_profile.yaml"
    assert decisions.profile_origin(ws.data_dir) == (written, "the workspace's data folder")
    written.write_text("bid:\n  min_profit: 7000\n")
    with pytest.raises(ValidationError, match="exists already; nothing was changed"):
        decisions.init_profile(ws.data_dir)
    assert decisions.workspace_profile(ws.data_dir).bid.min_profit == 7000
    decisions.init_profile(ws.data_dir, force=True)
    assert decisions.workspace_profile(ws.data_dir) == InvestorProfile()
    other = tmp_path / "other.yaml"
    other.write_text("bid:\n  min_profit: 9000\n")
    monkeypatch.setenv(decisions.PROFILE_ENV, str(other))
    assert decisions.profile_origin(ws.data_dir) == (other, "$TOOLKIT_PROFILE")
    assert decisions.workspace_profile(ws.data_dir).bid.min_profit == 9000
    ws.close()


def write(tmp_path: Path, text: str) -> Path:
    p = tmp_path / "p.yaml"
    p.write_text(text)
    return p


def test_every_problem_is_listed(tmp_path) -> None:
    p = write(
        tmp_path,
        "bid:\n  round_to: 0\n  review_margin: 2\n  recording_cost: -1\n"
        "condition:\n  repair_per_sqft:\n    A: -3\n  vacancy_points: 4\n",
    )
    errors = decisions.profile_errors(p)
    assert errors == [
        "Profile value condition.vacancy_points = 4 is out of range; valid range: <= 0.",
        "Profile value bid.recording_cost = -1 is out of range; valid range: >= 0.",
        "Profile value bid.round_to = 0 is out of range; valid range: >= 1.",
        "Profile value bid.review_margin = 2 is out of range; valid range: between 0 and 1.",
        "Profile value condition.repair_per_sqft.A = -3 is out of range; valid range: >= 0.",
    ]  # in the order the profile is validated


def test_thresholds_valid_together_are_not_blamed_one_by_one(tmp_path) -> None:
    # each alone would be out of order against the defaults; together they are fine
    ok = "condition:\n  age_new_max: 80\n  age_old_min: 90\n  age_very_old_min: 120\n"
    assert decisions.profile_errors(write(tmp_path, ok)) == []
    bad = "condition:\n  age_new_max: 95\n  age_old_min: 90\n  psf_low: -1\n"
    errors = decisions.profile_errors(write(tmp_path, bad))
    assert errors == [
        "Profile value condition.psf_low = -1 is out of range; valid range: >= 0.",
        "Profile values condition.age_new_max = 95 and condition.age_old_min = 90 are out of "
        "order; age_new_max must not exceed age_old_min.",
    ]


@pytest.mark.parametrize(
    ("text", "start"),
    [
        ("bid: [1, 2]\n", "Profile section 'bid' must be a mapping"),
        ("- a\n- b\n", "Investor profile"),
        ("bid:\n  min_profit: [\n", "Investor profile"),
        ("bids:\n  min_profit: 1\n", "Unknown key 'bids' in investor profile. Did you mean 'bid'?"),
    ],
)
def test_files_that_are_not_profiles(tmp_path, text, start) -> None:
    errors = decisions.profile_errors(write(tmp_path, text))
    assert len(errors) == 1 and errors[0].startswith(start)


def test_a_valid_file_and_the_examples() -> None:
    assert decisions.profile_errors(STARTER) == []
    assert decisions.profile_errors(ROOT / "docs" / "examples" / "investor_profile.yaml") == []
    assert decisions.profile_errors(ROOT / "data" / "sample" / "investor_profile.yaml") == []
    missing = decisions.profile_errors(ROOT / "nope.yaml")
    assert len(missing) == 1 and missing[0].startswith("Cannot read investor profile")
