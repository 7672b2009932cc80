"""The investor profile: every threshold, cost and rate the decision rules use.

Values that come from ``/work/shared/DOMAIN.md`` (screening thresholds seen in
practice, the 0.65 / 0.70 / 0.75 ARV multipliers, the ~8 % selling-cost share,
rounding down to $100) say so. Every other figure is a user-editable default
marked ``# unverified default``: a starting point, never a statement of law or
of market prices. Edit ``data/sample/investor_profile.yaml`` (or your own copy)
and load it with :func:`load_profile`.
"""

from __future__ import annotations

import dataclasses
import difflib
import itertools
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from toolkit.exceptions import ConfigError

#: Condition grades, best first. ``NO_BUILDING`` and ``UNKNOWN`` are outcomes of
#: :func:`toolkit.decisions.condition.assess_condition`, not user-enterable grades.
GRADES: tuple[str, ...] = ("A", "B", "C", "D", "F")
STRATEGIES: tuple[str, ...] = ("conservative", "moderate", "aggressive")


def _default_reject_keywords() -> tuple[str, ...]:
    # DOMAIN.md "Screening rules seen in practice": cemetery; water, lake, pond;
    # utility, power line, railroad, right of way.
    return (
        "cemetery",
        "water",
        "lake",
        "pond",
        "utility",
        "power line",
        "railroad",
        "right of way",
    )


def _default_industrial_keywords() -> tuple[str, ...]:
    return ("industrial", "manufacturing", "heavy industry")  # unverified default


@dataclass(frozen=True)
class ScreeningRules:
    """Thresholds of the visual-validation screen (DOMAIN.md, "seen in practice")."""

    min_lot_sqft: float = 1000.0  # DOMAIN.md: reject lots under ~1,000 sq ft
    min_width_ft: float = 20.0  # DOMAIN.md: reject lots narrower than ~20 ft (sliver)
    tiny_lot_acres: float = 0.1  # DOMAIN.md: caution, no building and lot under ~0.1 acre
    reject_keywords: tuple[str, ...] = field(default_factory=_default_reject_keywords)
    industrial_keywords: tuple[str, ...] = field(default_factory=_default_industrial_keywords)


@dataclass(frozen=True)
class ConditionRules:
    """Score bands of the desk condition grade; all ``# unverified default``."""

    as_of_year: int | None = None  # None = the current calendar year
    # repair cost per sq ft of building footprint, by grade
    repair_per_sqft: Mapping[str, float] = field(
        default_factory=lambda: {"A": 5.0, "B": 20.0, "C": 40.0, "D": 65.0, "F": 100.0}
    )  # unverified default
    age_new_max: float = 30.0  # unverified default: younger scores +1
    age_old_min: float = 70.0  # unverified default: older scores -1
    age_very_old_min: float = 100.0  # unverified default: older scores -2
    imp_land_low: float = 0.5  # unverified default: improvement/land below scores -2
    imp_land_fair: float = 1.0  # unverified default: below scores -1
    imp_land_high: float = 3.0  # unverified default: above scores +1
    psf_low: float = 0.5  # unverified default: improvement $/sqft / county median below: -2
    psf_fair: float = 0.8  # unverified default: below scores -1
    psf_high: float = 1.2  # unverified default: above scores +1
    vacancy_points: float = -2.0  # unverified default: USPS says vacant
    min_median_sample: int = 5  # fewer priced buildings in a county: no median comparison
    # lowest score that still earns each grade; lower than D's is F
    grade_min_score: Mapping[str, float] = field(
        default_factory=lambda: {"A": 2.0, "B": 0.0, "C": -2.0, "D": -4.0}
    )  # unverified default


#: The two bid formulas (DOMAIN.md "Maximum bid"); a profile uses one, never both.
FORMULAS: tuple[str, ...] = ("seventy_percent", "itemised")
#: What an environmental finding does to a bid that would otherwise be BID.
ENV_ACTIONS: tuple[str, ...] = ("REVIEW", "PASS")
#: The findings that never yield a plain BID (DOMAIN.md "Maximum bid").
ENV_FINDINGS: tuple[str, ...] = ("flood_high", "undermined", "wetland")


@dataclass(frozen=True)
class BidRules:
    """Costs and rates of the maximum-bid formula (docs/decisions.md)."""

    # DOMAIN.md "Maximum bid": the 70 % rule (default) or itemised; never both
    formula: str = "seventy_percent"
    # DOMAIN.md: the 70 % rule, 0.65 in tight markets, 0.75 aggressive (70 % rule only)
    arv_multipliers: Mapping[str, float] = field(
        default_factory=lambda: {"conservative": 0.65, "moderate": 0.70, "aggressive": 0.75}
    )
    # itemised only: DOMAIN.md ~8-10 % of ARV; the 70 % rule's margin already holds it
    selling_cost_share: float = 0.08
    holding_costs: float = 0.0  # itemised only; unverified default: your own figure
    # itemised only: the target profit (the 70 % rule's margin already holds it);
    # unverified default. Itemised gives one figure: the three strategies are equal.
    min_profit: float = 10000.0
    # what a finding (HIGH flood zone A*/V*, undermined, wetland) does: REVIEW or PASS
    # (DOMAIN.md "Maximum bid": REVIEW by default)
    environmental_action: Mapping[str, str] = field(
        default_factory=lambda: {f: "REVIEW" for f in ENV_FINDINGS}
    )
    title_clearing_cost: float = 3000.0  # unverified default (quiet title action)
    # the clearing cost is for a title that is not CLEAR; True adds it to every bid
    title_clearing_if_clear: bool = False  # unverified default
    recording_cost: float = 250.0  # unverified default
    transfer_tax_rate: float = 0.02  # unverified default: check state + local RTT rates
    round_to: float = 100.0  # DOMAIN.md: round down to $100
    review_margin: float = 0.10  # unverified default: upset within 10 % under max bid -> REVIEW
    fallback_grade: str = "D"  # grade assumed for repairs when no condition is known
    unknown_repair_allowance: float = 25000.0  # unverified default: no footprint, no condition


@dataclass(frozen=True)
class InvestorProfile:
    """All user-editable rules, grouped as in the YAML file.

    Examples
    --------
    >>> p = InvestorProfile()
    >>> p.bid.arv_multipliers["moderate"]
    0.7
    >>> p.screening.min_lot_sqft
    1000.0
    """

    screening: ScreeningRules = field(default_factory=ScreeningRules)
    condition: ConditionRules = field(default_factory=ConditionRules)
    bid: BidRules = field(default_factory=BidRules)

    def __post_init__(self) -> None:
        validate_profile(self)


# --- validation ------------------------------------------------------------

# (field, low, high): inclusive valid range; None = open
_RANGES: dict[str, dict[str, tuple[float | None, float | None]]] = {
    "screening": {
        "min_lot_sqft": (0, None),
        "min_width_ft": (0, None),
        "tiny_lot_acres": (0, None),
    },
    "condition": {
        "as_of_year": (1600, 3000),
        "age_new_max": (0, None),
        "age_old_min": (0, None),
        "age_very_old_min": (0, None),
        "imp_land_low": (0, None),
        "imp_land_fair": (0, None),
        "imp_land_high": (0, None),
        "psf_low": (0, None),
        "psf_fair": (0, None),
        "psf_high": (0, None),
        "vacancy_points": (None, 0),
        "min_median_sample": (1, None),
    },
    "bid": {
        "selling_cost_share": (0, 1),
        "holding_costs": (0, None),
        "min_profit": (0, None),
        "title_clearing_cost": (0, None),
        "recording_cost": (0, None),
        "transfer_tax_rate": (0, 1),
        "round_to": (1, None),
        "review_margin": (0, 1),
        "unknown_repair_allowance": (0, None),
    },
}


_INTEGERS = frozenset({"as_of_year", "min_median_sample"})


def _range_text(low: float | None, high: float | None) -> str:
    if high is None:
        return f">= {low}"
    if low is None:
        return f"<= {high}"
    return f"between {low} and {high}"


def _check_number(name: str, value: Any, low: float | None, high: float | None) -> None:
    ok_type = isinstance(value, int | float) and not isinstance(value, bool)
    if not ok_type or math.isnan(value) or math.isinf(value):
        raise ConfigError(
            f"Profile value {name} = {value!r} is not a number; valid range: "
            f"{_range_text(low, high)}."
        )
    if (low is not None and value < low) or (high is not None and value > high):
        raise ConfigError(
            f"Profile value {name} = {value!r} is out of range; valid range: "
            f"{_range_text(low, high)}."
        )


def validate_profile(profile: InvestorProfile) -> None:
    """Raise :class:`ConfigError` naming the first bad value and its valid range.

    Examples
    --------
    >>> validate_profile(InvestorProfile())  # the defaults are valid
    """
    for section, ranges in _RANGES.items():
        rules = getattr(profile, section)
        for name, (low, high) in ranges.items():
            value = getattr(rules, name)
            if value is None and name == "as_of_year":
                continue
            _check_number(f"{section}.{name}", value, low, high)
            if name in _INTEGERS and value != int(value):
                raise ConfigError(
                    f"Profile value {section}.{name} = {value!r} must be a whole number."
                )

    s = profile.screening
    for key in ("reject_keywords", "industrial_keywords"):
        words = getattr(s, key)
        if isinstance(words, str) or not all(isinstance(w, str) and w.strip() for w in words):
            raise ConfigError(
                f"Profile value screening.{key} = {words!r} must be a list of non-empty words."
            )

    c = profile.condition
    _check_grade_map("condition.repair_per_sqft", c.repair_per_sqft, GRADES, 0, None)
    _check_grade_map("condition.grade_min_score", c.grade_min_score, GRADES[:-1], None, None)
    scores = [c.grade_min_score[g] for g in GRADES[:-1]]
    if scores != sorted(scores, reverse=True):
        raise ConfigError(
            f"Profile value condition.grade_min_score = {dict(c.grade_min_score)!r} must "
            "fall from A to D (A needs the highest score)."
        )
    _check_order(
        "condition",
        {
            "age_new_max": c.age_new_max,
            "age_old_min": c.age_old_min,
            "age_very_old_min": c.age_very_old_min,
        },
    )
    _check_order(
        "condition",
        {
            "imp_land_low": c.imp_land_low,
            "imp_land_fair": c.imp_land_fair,
            "imp_land_high": c.imp_land_high,
        },
    )
    _check_order(
        "condition", {"psf_low": c.psf_low, "psf_fair": c.psf_fair, "psf_high": c.psf_high}
    )

    b = profile.bid
    if b.formula not in FORMULAS:
        raise ConfigError(
            f"Profile value bid.formula = {b.formula!r} is not a formula; valid choices: "
            f"{', '.join(FORMULAS)} (the 70 % rule, or your itemised costs; never both)."
        )
    _check_grade_map("bid.arv_multipliers", b.arv_multipliers, STRATEGIES, 0, 1)
    _check_order("bid", {f"arv_multipliers.{k}": b.arv_multipliers[k] for k in STRATEGIES})
    if not isinstance(b.title_clearing_if_clear, bool):
        raise ConfigError(
            f"Profile value bid.title_clearing_if_clear = {b.title_clearing_if_clear!r} must be "
            "true or false."
        )
    env = b.environmental_action
    if not isinstance(env, Mapping):
        raise ConfigError(f"Profile value bid.environmental_action = {env!r} must be a mapping.")
    for k, v in env.items():
        if k not in ENV_FINDINGS:
            raise ConfigError(
                f"Unknown key bid.environmental_action.{k}; valid keys: {', '.join(ENV_FINDINGS)}."
            )
        if str(v).upper() not in ENV_ACTIONS:
            raise ConfigError(
                f"Profile value bid.environmental_action.{k} = {v!r}; valid choices: "
                f"{', '.join(ENV_ACTIONS)}."
            )
    missing_env = [k for k in ENV_FINDINGS if k not in env]
    if missing_env:
        raise ConfigError(f"Profile value bid.environmental_action lacks {', '.join(missing_env)}.")
    if b.fallback_grade not in GRADES:
        raise ConfigError(
            f"Profile value bid.fallback_grade = {b.fallback_grade!r} is not a grade; "
            f"valid choices: {', '.join(GRADES)}."
        )


def _check_grade_map(
    name: str,
    mapping: Mapping[str, float],
    keys: tuple[str, ...],
    low: float | None,
    high: float | None,
) -> None:
    if not isinstance(mapping, Mapping):
        raise ConfigError(f"Profile value {name} = {mapping!r} must be a mapping of {keys}.")
    unknown = [k for k in mapping if k not in keys]
    if unknown:
        raise ConfigError(f"Unknown key {name}.{unknown[0]}; valid keys: {', '.join(keys)}.")
    missing = [k for k in keys if k not in mapping]
    if missing:
        raise ConfigError(f"Profile value {name} lacks {', '.join(missing)}.")
    for k in keys:
        _check_number(f"{name}.{k}", mapping[k], low, high)


def _check_order(section: str, values: dict[str, float]) -> None:
    names = list(values)
    for a, b in itertools.pairwise(names):
        if values[a] > values[b]:
            raise ConfigError(
                f"Profile values {section}.{a} = {values[a]!r} and {section}.{b} = "
                f"{values[b]!r} are out of order; {a} must not exceed {b}."
            )


# --- loading ---------------------------------------------------------------

_SECTIONS: dict[str, type] = {
    "screening": ScreeningRules,
    "condition": ConditionRules,
    "bid": BidRules,
}


def _unknown_key(name: str, valid: list[str]) -> ConfigError:
    leaf = name.rsplit(".", 1)[-1]
    close = difflib.get_close_matches(leaf, valid, n=1, cutoff=0.6)
    hint = f" Did you mean {close[0]!r}?" if close else ""
    return ConfigError(
        f"Unknown key {name!r} in investor profile.{hint} Valid keys: {', '.join(valid)}."
    )


def profile_from_dict(data: Mapping[str, Any] | None) -> InvestorProfile:
    """Build a validated profile; keys not given keep their defaults.

    Examples
    --------
    >>> profile_from_dict({"bid": {"min_profit": 5000}}).bid.min_profit
    5000
    """
    data = dict(data or {})
    parts: dict[str, Any] = {}
    for section, value in data.items():
        if section not in _SECTIONS:
            raise _unknown_key(section, list(_SECTIONS))
        if value is None:
            continue
        if not isinstance(value, Mapping):
            raise ConfigError(f"Profile section {section!r} must be a mapping, not {value!r}.")
        cls = _SECTIONS[section]
        names = [f.name for f in dataclasses.fields(cls)]
        kwargs: dict[str, Any] = {}
        defaults = cls()
        for key, item in value.items():
            if key not in names:
                raise _unknown_key(f"{section}.{key}", names)
            if key.endswith("_keywords") and isinstance(item, list):
                item = tuple(item)
            elif isinstance(item, Mapping):
                # a partial mapping updates the default one (e.g. just one grade's cost)
                item = {**getattr(defaults, key), **item}
            kwargs[key] = item
        parts[section] = cls(**kwargs)
    return InvestorProfile(**parts)


def load_profile(path: str | Path | None = None) -> InvestorProfile:
    """Read an investor profile from YAML; ``None`` gives the defaults.

    Raises :class:`ConfigError` on an unknown key, a negative cost, a share or
    margin outside 0..1, or a file that is not a YAML mapping.

    Examples
    --------
    >>> load_profile().bid.selling_cost_share
    0.08
    >>> load_profile("data/sample/investor_profile.yaml").bid.round_to  # doctest: +SKIP
    100
    """
    if path is None:
        return InvestorProfile()
    import yaml

    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"Cannot read investor profile {str(p)!r}: {exc}") from exc
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise ConfigError(f"Investor profile {str(p)!r} is not valid YAML: {exc}") from exc
    if data is not None and not isinstance(data, Mapping):
        raise ConfigError(f"Investor profile {str(p)!r} must be a YAML mapping, not {data!r}.")
    return profile_from_dict(data)
