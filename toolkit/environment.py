"""Environmental research for one parcel: flood, EPA facilities, wetlands, mine subsidence.

:func:`assess_environment` asks four sources -- service clients or local layer
files behind the same small interfaces -- and returns one row of the
``environmental_assessments`` table (:data:`RESULT_KEYS`, exactly).

Rules (every threshold in :class:`EnvironmentRules`; the defaults marked
*unverified* are starting points, not regulation):

=====================  ==========================================================
input                  level
=====================  ==========================================================
flood                  SFHA (zones A*, V*, or ``SFHA_TF == "T"``) -> HIGH;
                       shaded X (0.2 % annual chance, levee, future) / B -> MEDIUM;
                       other zones by ``zone_levels`` (X, C -> LOW; D -> MEDIUM,
                       hazard undetermined, half credit); *unmapped* -> unknown
EPA facilities         none within ``epa_radius_miles`` (0.5) -> LOW; some ->
                       MEDIUM; ``epa_high_count`` (3, *unverified*) or more -> HIGH
wetlands               none on the parcel -> LOW; share of the parcel area under
                       ``wetland_high_share`` (0.25, *unverified*) -> MEDIUM, at or
                       above -> HIGH; point only (share unknown) -> MEDIUM, half credit
mine subsidence        ``"none"`` -> LOW; a status in ``mine_high_statuses``
                       (``undermined``) -> HIGH; any other status -> MEDIUM
=====================  ==========================================================

- ``risk_level`` is one of HIGH / MEDIUM / LOW / UNKNOWN:

  1. HIGH when any known input is HIGH, else MEDIUM when any is MEDIUM (a
     finding stands even when other checks could not run);
  2. otherwise UNKNOWN when any of the four checks could not run (no source,
     the source failed, unmapped, outside a layer's coverage) -- the reasons
     name each one;
  3. LOW only when all four checks ran and found nothing worse.

  An unknown input never counts as LOW: it is named in ``reasons`` and
  lowers ``confidence``.
- ``confidence`` = weighted share of inputs known (``weights``: flood 0.4,
  EPA / wetlands / mines 0.2 each, *unverified*); an input known only in part
  (zone D, zone X without subtype, wetlands from a point) earns
  ``partial_credit`` (0.5) of its weight.
- A flood zone already in the parcel record (Regrid ``fema_flood_zone``) is used
  without a call (``flood_source = "parcel_record"``).
- Without lat/lon *and* without a usable geometry nothing can be looked up,
  and the reason says so: ``UNKNOWN`` with ``confidence = 0``, unless the
  parcel record carries a flood zone, which counts like any finding (AE ->
  HIGH; X -> still UNKNOWN, as three checks could not run).
- A :class:`~toolkit.exceptions.SourceError` from one source makes that input
  unknown with the error in ``reasons``; a
  :class:`~toolkit.exceptions.FatalSourceError` (refused credentials, an
  unreachable service) propagates, and the job pauses; a
  :class:`~toolkit.exceptions.DeadlineExceededError` (the item's time is up)
  propagates too, and the item fails, to be retried later rather than stored
  with holes.

:func:`make_sources` builds the four sources from a config: the online
services by default (mine subsidence needs a local layer, there is no
verified service: without one that check is UNKNOWN). The SYNTHETIC sample
layers in ``data/sample/layers`` are read only in ``mode: sample`` (the demo),
never as a fallback.

Example::

    sources = make_sources({"mode": "sample"})
    row = assess_environment({"lat": 40.4142, "lon": -78.3487}, **sources)
    row["risk_level"], row["reasons"]
"""

from __future__ import annotations

import dataclasses
import difflib
import json
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from toolkit.exceptions import (
    ConfigError,
    DeadlineExceededError,
    SourceError,
    UnknownChoiceError,
    ValidationError,
)

if TYPE_CHECKING:
    from shapely.geometry.base import BaseGeometry

    from toolkit.sources.echo import Facility
    from toolkit.sources.fema import FloodReading
    from toolkit.sources.layers import MineReading
    from toolkit.sources.wetlands import WetlandReading

#: Keys of an assessment, in the order of the ``environmental_assessments`` table.
RESULT_KEYS: tuple[str, ...] = (
    "flood_zone",
    "flood_sfha",
    "flood_source",
    "epa_facilities",
    "epa_details",
    "wetlands",
    "wetland_details",
    "mine_subsidence",
    "risk_level",
    "reasons",
    "inputs_used",
    "confidence",
)
LEVELS: tuple[str, ...] = ("LOW", "MEDIUM", "HIGH")
RISK_LEVELS: tuple[str, ...] = (*LEVELS, "UNKNOWN")
INPUTS: tuple[str, ...] = ("flood", "epa", "wetlands", "mines")
#: How each input is named in ``reasons``.
INPUT_NAMES: dict[str, str] = {
    "flood": "flood zone",
    "epa": "EPA facilities",
    "wetlands": "wetlands",
    "mines": "mine subsidence",
}
FLOOD_SOURCES: tuple[str, ...] = ("parcel_record", "fema_nfhl", "local_layer")


# --- the source interfaces -----------------------------------------------------


class FloodSource(Protocol):
    label: str

    def zone_at(self, lon: float, lat: float) -> FloodReading: ...


class FacilitySource(Protocol):
    label: str

    def within(self, lon: float, lat: float, radius_miles: float) -> list[Facility]: ...


class WetlandSource(Protocol):
    label: str

    def on_parcel(self, where: Any) -> WetlandReading: ...


class MineSource(Protocol):
    label: str

    def risk_at(self, lon: float, lat: float, geometry: Any = None) -> MineReading: ...


# --- rules -------------------------------------------------------------------------


def _default_zone_levels() -> dict[str, str]:
    # Non-SFHA zones. X / C: minimal hazard; B / X500: the old names of shaded X;
    # D: possible but undetermined hazard; OPEN WATER: NFHL's label for water bodies.
    return {"X": "LOW", "C": "LOW", "B": "MEDIUM", "X500": "MEDIUM", "D": "MEDIUM",
            "OPEN WATER": "MEDIUM"}  # fmt: skip  # unverified default


def _default_weights() -> dict[str, float]:
    return {"flood": 0.4, "epa": 0.2, "wetlands": 0.2, "mines": 0.2}  # unverified default


@dataclass(frozen=True)
class EnvironmentRules:
    """Thresholds of :func:`assess_environment`; see the module doc for the rules.

    Examples
    --------
    >>> EnvironmentRules().epa_radius_miles
    0.5
    >>> rules_from({"environment": {"epa_high_count": 5}}).epa_high_count
    5
    """

    epa_radius_miles: float = 0.5  # the default search radius; unverified default
    epa_high_count: int = 3  # unverified default: this many facilities or more -> HIGH
    wetland_high_share: float = 0.25  # unverified default: this share of the parcel -> HIGH
    mine_high_statuses: tuple[str, ...] = ("undermined",)  # unverified default
    sfha_level: str = "HIGH"  # the rule: zones A*, V*
    shaded_x_level: str = "MEDIUM"  # the rule: 0.2 % / shaded X
    zone_levels: Mapping[str, str] = field(default_factory=_default_zone_levels)
    partial_zones: tuple[str, ...] = ("D",)  # known zone, undetermined hazard: partial credit
    weights: Mapping[str, float] = field(default_factory=_default_weights)
    partial_credit: float = 0.5  # unverified default: weight share of a partly known input

    def __post_init__(self) -> None:
        problems = []
        if not (isinstance(self.epa_radius_miles, int | float) and self.epa_radius_miles > 0):
            problems.append(f"epa_radius_miles must be > 0, got {self.epa_radius_miles!r}")
        if not (isinstance(self.epa_high_count, int) and self.epa_high_count >= 1):
            problems.append(f"epa_high_count must be an integer >= 1, got {self.epa_high_count!r}")
        if not (
            isinstance(self.wetland_high_share, int | float) and 0 < self.wetland_high_share <= 1
        ):
            problems.append(
                f"wetland_high_share must be in (0, 1], got {self.wetland_high_share!r}"
            )
        if not (isinstance(self.partial_credit, int | float) and 0 <= self.partial_credit <= 1):
            problems.append(f"partial_credit must be in [0, 1], got {self.partial_credit!r}")
        for name in ("sfha_level", "shaded_x_level"):
            if getattr(self, name) not in LEVELS:
                problems.append(f"{name} {getattr(self, name)!r} is not one of {', '.join(LEVELS)}")
        for zone, level in self.zone_levels.items():
            if level not in LEVELS:
                problems.append(
                    f"zone_levels[{zone!r}] {level!r} is not one of {', '.join(LEVELS)}"
                )
        unknown = sorted(set(self.weights) - set(INPUTS))
        if unknown:
            problems.append(f"weights has unknown input(s) {unknown}; valid: {', '.join(INPUTS)}")
        if any(not isinstance(w, int | float) or w < 0 for w in self.weights.values()) or not sum(
            self.weights.get(k, 0) for k in INPUTS
        ):
            problems.append(f"weights must be >= 0 with a positive sum, got {dict(self.weights)!r}")
        if problems:
            raise ConfigError("Invalid environment rules: " + "; ".join(problems))


def rules_from(profile: Any) -> EnvironmentRules:
    """:class:`EnvironmentRules` from ``None``, rules, a mapping, or a profile object.

    A mapping may hold the rule keys directly or under ``"environment"``; an
    object is read through its ``environment`` attribute when it has one (an
    investor profile without that section gets the defaults). Keys not given
    keep their defaults; an unknown key is a :class:`ConfigError` listing the
    valid ones.

    Examples
    --------
    >>> rules_from({"wetland_high_share": 0.5}).wetland_high_share
    0.5
    """
    if profile is None:
        return EnvironmentRules()
    if isinstance(profile, EnvironmentRules):
        return profile
    if isinstance(profile, Mapping):
        data = profile.get("environment", profile)
        if data is None:
            return EnvironmentRules()
        if not isinstance(data, Mapping):
            raise ConfigError(f"profile section 'environment' must be a mapping, not {data!r}")
        names = [f.name for f in dataclasses.fields(EnvironmentRules)]
        kwargs: dict[str, Any] = {}
        defaults = EnvironmentRules()
        for key, value in data.items():
            if key not in names:
                close = difflib.get_close_matches(str(key), names, n=1)
                hint = f" Did you mean {close[0]!r}?" if close else ""
                raise ConfigError(
                    f"Unknown environment rule {key!r}.{hint} Valid keys: {', '.join(names)}."
                )
            if key in ("mine_high_statuses", "partial_zones") and isinstance(value, list | tuple):
                value = tuple(
                    str(v).lower() if key == "mine_high_statuses" else str(v).upper() for v in value
                )
            elif key in ("zone_levels", "weights") and isinstance(value, Mapping):
                value = {**getattr(defaults, key), **value}
            kwargs[key] = value
        return EnvironmentRules(**kwargs)
    section = getattr(profile, "environment", None)
    return rules_from(section)


# --- the assessment -------------------------------------------------------------


@dataclass
class _Input:
    level: str | None = None  # None: unknown
    credit: float = 0.0


@dataclass
class _Location:
    lon: float | None = None
    lat: float | None = None
    geometry: BaseGeometry | None = None
    how: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)

    @property
    def known(self) -> bool:
        return self.lon is not None and self.lat is not None


def _number(value: Any) -> float | None:
    if value is None or isinstance(value, bool):
        return None
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return number if math.isfinite(number) else None


def _locate(parcel: Mapping[str, Any]) -> _Location:
    from toolkit.geometry import load_geometry

    loc = _Location()
    lat, lon = _number(parcel.get("lat")), _number(parcel.get("lon"))
    if lat is not None and lon is not None:
        if -90 <= lat <= 90 and -180 <= lon <= 180:
            loc.lat, loc.lon = lat, lon
            loc.how.append("location:lat/lon")
        else:
            loc.problems.append(f"lat/lon {lat!r}, {lon!r} are out of range; not used")
    raw = parcel.get("geometry_geojson")
    if raw is None or (isinstance(raw, float) and math.isnan(raw)):
        raw = parcel.get("geometry")
    if isinstance(raw, str) and not raw.strip():
        raw = None
    if raw is not None and not (isinstance(raw, float) and math.isnan(raw)):
        try:
            loc.geometry = load_geometry(raw)
        except ValidationError as exc:
            loc.problems.append(f"parcel geometry not usable ({exc})")
        else:
            loc.how.append("location:geometry")
            if not loc.known:
                point = loc.geometry.representative_point()
                loc.lon, loc.lat = point.x, point.y
                loc.how[-1] = "location:geometry (representative point)"
    return loc


def _worse(a: str, b: str) -> str:
    return a if LEVELS.index(a) >= LEVELS.index(b) else b


def assess_environment(
    parcel: Mapping[str, Any],
    *,
    flood: FloodSource | None = None,
    epa: FacilitySource | None = None,
    wetlands: WetlandSource | None = None,
    mines: MineSource | None = None,
    profile: Any = None,
) -> dict[str, Any]:
    """Environmental risk of one parcel; a dict with exactly :data:`RESULT_KEYS`.

    Parameters
    ----------
    parcel
        A parcel record: ``lat``, ``lon``, ``geometry_geojson`` (or
        ``geometry``), ``fema_flood_zone``, ``fema_flood_zone_subtype``
        (missing keys are fine).
    flood, epa, wetlands, mines
        Sources (:func:`make_sources`); ``None`` = not configured, that input
        is unknown and named in ``reasons``.
    profile
        Rules: ``None`` (defaults), :class:`EnvironmentRules`, a mapping or a
        profile object (see :func:`rules_from`).

    Raises
    ------
    FatalSourceError
        A source cannot work at all (e.g. refused credentials).

    Examples
    --------
    >>> row = assess_environment({"lat": 40.41, "lon": -78.35, "fema_flood_zone": "AE"})
    >>> row["risk_level"], row["flood_source"], row["confidence"]
    ('HIGH', 'parcel_record', 0.4)
    """
    rules = rules_from(profile)
    row: dict[str, Any] = dict.fromkeys(RESULT_KEYS)
    row.update(epa_details=[], wetland_details=[])
    reasons: list[str] = []
    used: list[str] = []
    inputs = {name: _Input() for name in INPUTS}
    loc = _locate(parcel)
    reasons.extend(loc.problems)
    used.extend(loc.how)

    _assess_flood(parcel, loc, flood, rules, row, inputs["flood"], reasons, used)

    if not loc.known:
        reasons.append(
            "no location: the parcel has neither lat/lon nor a usable geometry, so flood maps,"
            " EPA facilities, wetlands and mine maps cannot be checked"
        )
    else:
        _assess_epa(loc, epa, rules, row, inputs["epa"], reasons, used)
        _assess_wetlands(loc, wetlands, rules, row, inputs["wetlands"], reasons, used)
        _assess_mines(loc, mines, rules, row, inputs["mines"], reasons, used)

    row["risk_level"] = overall_level(inputs, reasons)
    total = sum(rules.weights.get(k, 0.0) for k in INPUTS)
    got = sum(rules.weights.get(k, 0.0) * inputs[k].credit for k in INPUTS)
    row.update(reasons=reasons, inputs_used=used, confidence=round(got / total, 2))
    return row


def overall_level(inputs: Mapping[str, _Input], reasons: list[str]) -> str:
    """HIGH / MEDIUM from the worst finding; else UNKNOWN if a check could not run; else LOW.

    Appends the reason for an UNKNOWN, naming the checks that could not run.
    """
    known = [i.level for i in inputs.values() if i.level is not None]
    missing = [INPUT_NAMES[name] for name in INPUTS if inputs[name].level is None]
    if not known:
        reasons.append("no environmental input could be checked; risk UNKNOWN")
        return "UNKNOWN"
    level = known[0]
    for other in known[1:]:
        level = _worse(level, other)
    if level in ("HIGH", "MEDIUM") or not missing:
        return level
    reasons.append(
        f"risk UNKNOWN, not LOW: nothing worse than LOW was found, but {len(missing)} of"
        f" {len(INPUTS)} checks could not run ({', '.join(missing)})"
    )
    return "UNKNOWN"


def _unknown(reasons: list[str], what: str, why: str) -> None:
    reasons.append(f"{what} unknown: {why}")


def _assess_flood(
    parcel: Mapping[str, Any],
    loc: _Location,
    source: FloodSource | None,
    rules: EnvironmentRules,
    row: dict[str, Any],
    result: _Input,
    reasons: list[str],
    used: list[str],
) -> None:
    from toolkit.sources.fema import is_shaded_x, reading_from_parcel

    reading = reading_from_parcel(parcel)
    if reading is not None:
        used.append("flood:parcel_record")
    elif not loc.known:
        return _unknown(reasons, "flood zone", "no location and no zone in the parcel record")
    elif source is None:
        return _unknown(
            reasons, "flood zone", "no flood source configured and no zone in the parcel record"
        )
    else:
        try:
            reading = source.zone_at(loc.lon, loc.lat)  # type: ignore[arg-type]
        except DeadlineExceededError:
            raise  # the item's time is up: it fails, and is retried later
        except SourceError as exc:
            return _unknown(reasons, "flood zone", f"{source.label} failed: {exc}")
        used.append(f"flood:{source.label}")
    row["flood_source"] = reading.source if reading.source in FLOOD_SOURCES else None
    if not reading.mapped or reading.zone is None:
        note = f" ({reading.note})" if reading.note else ""
        return _unknown(
            reasons, "flood zone", f"unmapped at the point{note}; unmapped is not zone X"
        )
    zone, sub = reading.zone, reading.subtype
    row["flood_zone"], row["flood_sfha"] = zone, reading.sfha
    where = f"flood zone {zone}" + (f" ({sub})" if sub else "") + f" from {reading.source}"
    if reading.sfha:
        result.level, result.credit = rules.sfha_level, 1.0
        reasons.append(f"{where} is in the special flood hazard area (SFHA): {result.level}")
    elif is_shaded_x(zone, sub):
        result.level, result.credit = rules.shaded_x_level, 1.0
        reasons.append(
            f"{where} is a moderate (0.2 % annual chance / shaded X) zone: {result.level}"
        )
    elif zone in rules.zone_levels:
        result.level = rules.zone_levels[zone]
        result.credit = 1.0
        if zone in rules.partial_zones:
            result.credit = rules.partial_credit
            reasons.append(f"{where}: flood hazard undetermined; {result.level}, partly known")
        elif zone == "X" and sub is None:
            result.credit = rules.partial_credit
            reasons.append(
                f"{where} without subtype: taken as minimal hazard (shading unknown);"
                f" {result.level}, partly known"
            )
        else:
            reasons.append(f"{where}: {result.level}")
    else:
        reasons.append(
            f"{where} is not a zone these rules know"
            f" ({', '.join(sorted(rules.zone_levels))}, A*, V*); flood level unknown"
        )
    if reading.alternatives:
        others = ", ".join(a["zone"] or "?" for a in reading.alternatives)
        reasons.append(f"the point also touches zone(s) {others}; the most hazardous was kept")
    return None


def _assess_epa(
    loc: _Location,
    source: FacilitySource | None,
    rules: EnvironmentRules,
    row: dict[str, Any],
    result: _Input,
    reasons: list[str],
    used: list[str],
) -> None:
    radius = rules.epa_radius_miles
    if source is None:
        return _unknown(reasons, "EPA facilities", "no EPA facility source configured")
    try:
        facilities = source.within(loc.lon, loc.lat, radius)  # type: ignore[arg-type]
    except DeadlineExceededError:
        raise  # the item's time is up: it fails, and is retried later
    except SourceError as exc:
        return _unknown(reasons, "EPA facilities", f"{source.label} failed: {exc}")
    used.append(f"epa:{source.label} ({radius:g} mi)")
    n = len(facilities)
    row["epa_facilities"] = n
    row["epa_details"] = [f.detail() for f in facilities]
    result.credit = 1.0
    if n == 0:
        result.level = "LOW"
        reasons.append(f"no EPA-regulated facility within {radius:g} mi: LOW")
        return None
    result.level = "HIGH" if n >= rules.epa_high_count else "MEDIUM"
    nearest = facilities[0]
    near = ""
    if nearest.distance_miles is not None:
        near = f" (nearest: {nearest.name or nearest.registry_id}, {nearest.distance_miles:.2f} mi)"
    reasons.append(
        f"{n} EPA-regulated {'facility' if n == 1 else 'facilities'} within {radius:g} mi{near}:"
        f" {result.level}" + (f" (>= {rules.epa_high_count})" if result.level == "HIGH" else "")
    )
    return None


def _assess_wetlands(
    loc: _Location,
    source: WetlandSource | None,
    rules: EnvironmentRules,
    row: dict[str, Any],
    result: _Input,
    reasons: list[str],
    used: list[str],
) -> None:
    if source is None:
        return _unknown(reasons, "wetlands", "no wetland source configured")
    where: Any = loc.geometry if loc.geometry is not None else (loc.lon, loc.lat)
    try:
        reading = source.on_parcel(where)
    except DeadlineExceededError:
        raise  # the item's time is up: it fails, and is retried later
    except SourceError as exc:
        return _unknown(reasons, "wetlands", f"{source.label} failed: {exc}")
    if reading.on_parcel is None:
        return _unknown(reasons, "wetlands", f"{source.label}: {reading.note or 'no answer'}")
    used.append(f"wetlands:{source.label}")
    row["wetlands"] = reading.on_parcel
    row["wetland_details"] = list(reading.details)
    result.credit = 1.0
    if not reading.on_parcel:
        result.level = "LOW"
        reasons.append("no mapped wetland on the parcel: LOW")
        return None
    kinds = ", ".join(sorted({d.get("wetland_type") or "?" for d in reading.details}))
    if reading.share is None:
        result.level, result.credit = "MEDIUM", rules.partial_credit
        reasons.append(
            f"wetland ({kinds}) on the parcel, share of the area unknown"
            f" ({reading.note or 'no geometry'}): MEDIUM, partly known"
        )
        return None
    high = reading.share >= rules.wetland_high_share
    result.level = "HIGH" if high else "MEDIUM"
    reasons.append(
        f"wetland ({kinds}) covers {reading.share:.0%} of the parcel"
        f" ({'>=' if high else '<'} {rules.wetland_high_share:.0%}): {result.level}"
    )
    return None


def _assess_mines(
    loc: _Location,
    source: MineSource | None,
    rules: EnvironmentRules,
    row: dict[str, Any],
    result: _Input,
    reasons: list[str],
    used: list[str],
) -> None:
    if source is None:
        return _unknown(
            reasons,
            "mine subsidence",
            "no mine-subsidence layer configured (no verified online service: set"
            " 'mines: <layer file>' in the TOOLKIT_ENV_SOURCES settings file)",
        )
    try:
        reading = source.risk_at(loc.lon, loc.lat, geometry=loc.geometry)  # type: ignore[arg-type]
    except DeadlineExceededError:
        raise  # the item's time is up: it fails, and is retried later
    except SourceError as exc:
        return _unknown(reasons, "mine subsidence", f"{source.label} failed: {exc}")
    if reading.status is None:
        return _unknown(
            reasons, "mine subsidence", f"{source.label}: {reading.note or 'no answer'}"
        )
    used.append(f"mines:{source.label}")
    status = reading.status.lower()
    row["mine_subsidence"] = status
    result.credit = 1.0
    if status == "none":
        result.level = "LOW"
        reasons.append("no mapped mining under the parcel: LOW")
    else:
        result.level = "HIGH" if status in rules.mine_high_statuses else "MEDIUM"
        names = ", ".join(sorted({d.get("name") or "unnamed" for d in reading.details}))
        reasons.append(f"mine subsidence: {status} ({names}): {result.level}")
    return None


# --- building the sources -----------------------------------------------------------

SERVICE_KINDS = {"flood": "fema_nfhl", "epa": "epa_echo", "wetlands": "usfws_wetlands"}
SOURCE_KINDS = {
    "flood": ("fema_nfhl", "local", "none"),
    "epa": ("epa_echo", "local", "none"),
    "wetlands": ("usfws_wetlands", "local", "none"),
    "mines": ("local", "none"),
}
#: The SYNTHETIC demo layers (data/sample/layers), one per input.
SAMPLE_LAYERS = {
    "flood": "flood_zones_synthetic.geojson",
    "epa": "epa_facilities_synthetic.csv",
    "wetlands": "wetlands_synthetic.geojson",
    "mines": "mine_subsidence_synthetic.gpkg",
}
MODES = ("online", "local", "sample")
CONFIG_KEYS = ("mode", "layers_dir", "cache_dir", "http", "item_deadline", *INPUTS)
#: Seconds one item's environmental calls may take together (all four sources).
DEFAULT_ITEM_DEADLINE = 60.0
#: What to do when an online service cannot be reached at all.
UNREACHABLE_HINT = (
    "check the network, or set TOOLKIT_ENV_SOURCES=<settings file> to use local layers"
    " (docs/sources.md); then resume the job"
)
_LAYER_OPTIONS = {"format", "layer", "lat_field", "lon_field", "geometry_field", "coverage"}
_FIELD_OPTIONS = {
    "flood": {"zone_field", "subtype_field", "sfha_field", "bfe_field"},
    "epa": {"name_field", "street_field", "city_field", "id_field"},
    "wetlands": {"type_field", "attribute_field", "acres_field"},
    "mines": {"status_field", "default_status", "name_field"},
}
_SERVICE_OPTIONS = {
    "flood": {"url"},
    "epa": {"base_url", "page_size", "max_pages"},
    "wetlands": {"url"},
}
_CLIENT_OPTIONS = {
    "deadline",
    "unreachable_hint",
    "rate_per_minute",
    "burst",
    "concurrency",
    "timeout",
    "max_attempts",
    "backoff_initial",
    "backoff_max",
    "max_retry_after",
    "cache_ttl",
    "headers",
}


def sample_layers_dir() -> Path:
    """``data/sample/layers`` of the project (SYNTHETIC demo layers)."""
    from toolkit.config import sample_dir

    return sample_dir() / "layers"


def _spec(name: str, value: Any, mode: str) -> dict[str, Any]:
    """Normalise one input's config to a dict with ``kind``.

    Not given: the service in ``online`` mode, the sample layer in ``sample``
    mode, else ``none`` (unknown; mines have no service, so ``none`` online too).
    """
    if value is None:
        if mode == "sample":
            value = "local"
        elif mode == "online":
            value = SERVICE_KINDS.get(name, "none")
        else:
            value = "none"
    if value is False:
        value = "none"
    if isinstance(value, Path):
        return {"kind": "local", "path": value}
    if isinstance(value, str):
        if value in SOURCE_KINDS[name]:
            return {"kind": value}
        if any(ch in value for ch in "/\\."):
            return {"kind": "local", "path": value}
        raise UnknownChoiceError(
            f"{name} source", value, [*SOURCE_KINDS[name], "<path to a layer file>"]
        )
    if isinstance(value, Mapping):
        spec = dict(value)
        spec.setdefault("kind", "local" if "path" in spec else SERVICE_KINDS.get(name, "local"))
        if spec["kind"] not in SOURCE_KINDS[name]:
            raise UnknownChoiceError(f"{name} source kind", spec["kind"], SOURCE_KINDS[name])
        return spec
    raise ConfigError(
        f"{name} source config {value!r} must be a kind ({', '.join(SOURCE_KINDS[name])}),"
        " a layer path or a mapping"
    )


def _check_options(name: str, spec: dict[str, Any], allowed: set[str]) -> None:
    unknown = sorted(set(spec) - allowed - {"kind"})
    if unknown:
        raise ConfigError(
            f"Unknown option(s) {', '.join(map(repr, unknown))} for the {spec['kind']} {name}"
            f" source. Valid options: {', '.join(sorted(allowed))}."
        )


def make_sources(config: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """Build ``{"flood", "epa", "wetlands", "mines"}`` sources for :func:`assess_environment`.

    Config keys (all optional):

    - ``mode``: ``"online"`` (default: FEMA NFHL, EPA ECHO, USFWS NWI; mine
      subsidence only from a layer file you give, else unknown: there is no
      verified service), ``"local"`` (only the layer files you give; an input
      not given is unknown) or ``"sample"`` (the SYNTHETIC demo layers: the
      only mode that reads ``data/sample/layers``);
    - ``flood`` / ``epa`` / ``wetlands`` / ``mines``: a kind
      (``"fema_nfhl"``, ``"epa_echo"``, ``"usfws_wetlands"``, ``"local"``,
      ``"none"``), a layer file path, or a mapping with ``kind`` plus
      ``url`` / ``base_url`` (services), ``path`` and read options
      (``format``, ``layer``, ``lat_field``, ``lon_field``,
      ``geometry_field``, ``coverage``) and attribute names (local), and
      HTTP client options;
    - ``layers_dir``: where ``mode: sample`` finds the sample layers;
    - ``cache_dir``: HTTP response cache shared by the services;
    - ``http``: client options for every service (``rate_per_minute``,
      ``timeout``, ``max_attempts``, ``deadline`` per call …), overridden per input;
    - ``item_deadline``: seconds one item's calls may take together (read by
      the ``environmental_research`` processor; checked here).

    Examples
    --------
    >>> sources = make_sources({"mode": "sample"})            # the offline demo
    >>> sorted(sources), sources["mines"].label
    (['epa', 'flood', 'mines', 'wetlands'], 'local_layer:mine_subsidence_synthetic.gpkg')
    >>> close_sources(sources)
    >>> make_sources(None)["mines"] is None                   # online: no mine service
    True
    """
    from toolkit.sources import layers as L

    config = dict(config or {})
    unknown = sorted(set(config) - set(CONFIG_KEYS))
    if unknown:
        close = difflib.get_close_matches(unknown[0], CONFIG_KEYS, n=1)
        hint = f" Did you mean {close[0]!r}?" if close else ""
        raise ConfigError(
            f"Unknown environment source setting {unknown[0]!r}.{hint}"
            f" Valid keys: {', '.join(CONFIG_KEYS)}."
        )
    mode = config.get("mode") or "online"
    if mode not in MODES:
        raise UnknownChoiceError("environment source mode", mode, MODES)
    item_deadline(config)  # checked here, used by the processor
    if config.get("layers_dir") is not None and mode != "sample":
        raise ConfigError(
            f"layers_dir is where mode 'sample' finds the SYNTHETIC sample layers; in mode"
            f" {mode!r} give each layer's path instead (e.g. mines: /data/pa_mines.gpkg)."
        )
    layers_dir = Path(config.get("layers_dir") or sample_layers_dir())
    http = dict(config.get("http") or {})
    _check_options("http", {"kind": "http", **http}, _CLIENT_OPTIONS)
    classes = {
        "flood": L.LayerFloodSource,
        "epa": L.LayerFacilitySource,
        "wetlands": L.LayerWetlandSource,
        "mines": L.LayerMineSource,
    }
    built: dict[str, Any] = {}
    try:
        for name in INPUTS:
            spec = _spec(name, config.get(name), mode)
            kind = spec["kind"]
            if kind == "none":
                _check_options(name, spec, set())
                built[name] = None
            elif kind == "local":
                _check_options(name, spec, {"path"} | _LAYER_OPTIONS | _FIELD_OPTIONS[name])
                path = spec.pop("path", None)
                if path is None and mode != "sample":
                    raise ConfigError(
                        f"The {name} source is 'local' but has no layer file: give its path"
                        f" ({name}: <path to a GeoJSON / GeoPackage / CSV layer>), or '{name}:"
                        f" none' to leave that check unknown. The SYNTHETIC sample layers are"
                        " used only with mode 'sample' (TOOLKIT_ENV_SOURCES=sample, the demo)."
                    )
                path = path or layers_dir / SAMPLE_LAYERS[name]
                spec.pop("kind")
                read = {k: spec.pop(k) for k in list(spec) if k in _LAYER_OPTIONS}
                built[name] = classes[name](L.read_layer(path, **read), **spec)
            else:
                _check_options(name, spec, _SERVICE_OPTIONS[name] | _CLIENT_OPTIONS)
                options = {**http, **{k: v for k, v in spec.items() if k != "kind"}}
                options.setdefault("unreachable_hint", UNREACHABLE_HINT)
                if config.get("cache_dir") is not None:
                    options["cache_dir"] = config["cache_dir"]
                built[name] = _service(name, options)
    except BaseException:
        close_sources(built)
        raise
    return built


def item_deadline(config: Mapping[str, Any] | None) -> float:
    """Seconds one item's calls may take: ``item_deadline`` of the config, else the default.

    Examples
    --------
    >>> item_deadline({"item_deadline": 30}), item_deadline(None)
    (30.0, 60.0)
    """
    value = (config or {}).get("item_deadline")
    if value is None:
        return DEFAULT_ITEM_DEADLINE
    if isinstance(value, bool) or not isinstance(value, int | float) or not 0 < value < math.inf:
        raise ConfigError(
            f"item_deadline must be a positive number of seconds, got {value!r}"
            f" (default {DEFAULT_ITEM_DEADLINE:g})."
        )
    return float(value)


def _service(name: str, options: dict[str, Any]) -> Any:
    if name == "flood":
        from toolkit.sources.fema import FemaNFHL

        return FemaNFHL(**options)
    if name == "epa":
        from toolkit.sources.echo import EchoFacilities

        return EchoFacilities(**options)
    from toolkit.sources.wetlands import NWIWetlands

    return NWIWetlands(**options)


def close_sources(sources: Mapping[str, Any]) -> None:
    """Close every source of :func:`make_sources` (HTTP pools, caches)."""
    for source in sources.values():
        if source is not None and hasattr(source, "close"):
            source.close()


def to_row_json(row: Mapping[str, Any]) -> dict[str, Any]:
    """The assessment with list values as JSON text, as the table's VARCHAR columns hold them.

    Examples
    --------
    >>> to_row_json({"reasons": ["a"], "confidence": 1.0})
    {'reasons': '["a"]', 'confidence': 1.0}
    """
    return {k: json.dumps(v) if isinstance(v, list | dict) else v for k, v in row.items()}
