"""The environmental assessment (toolkit.environment) over local fakes and local layers."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from fakes import Reply  # tests/ is on sys.path (conftest)
from fakes.env_servers import (
    ECHO_FACILITIES,
    NFHL_PATH,
    WETLANDS_PATH,
    EchoFake,
    NFHLFake,
    WetlandsFake,
    arcgis_error_reply,
)
from shapely.geometry import box, mapping

from toolkit.environment import (
    RESULT_KEYS,
    EnvironmentRules,
    assess_environment,
    close_sources,
    make_sources,
    rules_from,
    to_row_json,
)
from toolkit.exceptions import ConfigError, FatalSourceError, UnknownChoiceError
from toolkit.sources.echo import EchoFacilities
from toolkit.sources.fema import FemaNFHL
from toolkit.sources.layers import (
    Feature,
    LayerFacilitySource,
    LayerFloodSource,
    LayerMineSource,
    LayerWetlandSource,
    read_layer,
    write_gpkg,
)
from toolkit.sources.wetlands import NWIWetlands

FAST = {"rate_per_minute": 60_000, "backoff_initial": 0.01, "backoff_max": 0.02, "timeout": 2.0}
LON, LAT = -78.40, 40.50
SIDE = 0.001
PARCEL_GEOM = box(LON, LAT, LON + SIDE, LAT + SIDE)
PARCEL = {
    "lat": LAT + SIDE / 2,
    "lon": LON + SIDE / 2,
    "geometry_geojson": json.dumps(mapping(PARCEL_GEOM)),
}


def _geojson(path: Path, features: list[tuple[dict, object]]) -> Path:
    path.write_text(
        json.dumps(
            {
                "type": "FeatureCollection",
                "features": [
                    {"type": "Feature", "properties": p, "geometry": mapping(g)}
                    for p, g in features
                ],
            }
        )
    )
    return path


@pytest.fixture
def layers(tmp_path: Path) -> dict[str, object]:
    """Local sources around PARCEL: zone X, no facility, no wetland, no mine (all LOW)."""
    flood = _geojson(
        tmp_path / "flood.geojson",
        [
            (
                {"FLD_ZONE": "X", "ZONE_SUBTY": "AREA OF MINIMAL FLOOD HAZARD", "SFHA_TF": "F"},
                box(LON - 0.01, LAT - 0.01, LON + 0.01, LAT + 0.01),
            ),
            (
                {"FLD_ZONE": "AE", "SFHA_TF": "T"},
                box(LON + 0.01, LAT - 0.01, LON + 0.02, LAT + 0.01),
            ),
        ],
    )
    fac = tmp_path / "fac.csv"
    fac.write_text(
        "RegistryID,FacName,FacStreet,FacCity,FacLat,FacLong\n"
        f"9,FAR AWAY,1 A ST,X,{LAT + 0.05},{LON}\n"
    )
    wet = _geojson(
        tmp_path / "wet.geojson",
        [({"WETLAND_TYPE": "Riverine", "ATTRIBUTE": "R2UBH", "ACRES": 1}, box(0, 0, 1, 1))],
    )
    mines = write_gpkg(
        tmp_path / "mines.gpkg",
        [Feature({"status": "undermined", "name": "DEEP"}, box(1, 1, 2, 2))],
        table="mines",
    )
    return {
        "flood": LayerFloodSource(read_layer(flood)),
        "epa": LayerFacilitySource(read_layer(fac)),
        "wetlands": LayerWetlandSource(read_layer(wet)),
        "mines": LayerMineSource(read_layer(mines)),
    }


def test_all_low_with_every_input_known(layers: dict[str, object]) -> None:
    row = assess_environment(PARCEL, **layers)
    assert tuple(row) == RESULT_KEYS
    assert row == {
        "flood_zone": "X",
        "flood_sfha": False,
        "flood_source": "local_layer",
        "epa_facilities": 0,
        "epa_details": [],
        "wetlands": False,
        "wetland_details": [],
        "mine_subsidence": "none",
        "risk_level": "LOW",
        "reasons": [
            "flood zone X (AREA OF MINIMAL FLOOD HAZARD) from local_layer: LOW",
            "no EPA-regulated facility within 0.5 mi: LOW",
            "no mapped wetland on the parcel: LOW",
            "no mapped mining under the parcel: LOW",
        ],
        "inputs_used": [
            "location:lat/lon",
            "location:geometry",
            "flood:local_layer:flood.geojson",
            "epa:local_layer:fac.csv (0.5 mi)",
            "wetlands:local_layer:wet.geojson",
            "mines:local_layer:mines.gpkg",
        ],
        "confidence": 1.0,
    }


@pytest.mark.parametrize(
    ("zone", "subtype", "level", "sfha", "confidence"),
    [
        ("AE", None, "HIGH", True, 1.0),
        ("VE", None, "HIGH", True, 1.0),
        ("A", None, "HIGH", True, 1.0),
        ("X", "0.2 PCT ANNUAL CHANCE FLOOD HAZARD", "MEDIUM", False, 1.0),
        ("B", None, "MEDIUM", False, 1.0),
        ("X", "AREA OF MINIMAL FLOOD HAZARD", "LOW", False, 1.0),
        # zone D: hazard undetermined -> MEDIUM with half the flood weight (1 - 0.4 * 0.5)
        ("D", None, "MEDIUM", False, 0.8),
        # zone X without subtype: shading unknown -> LOW, half the flood weight
        ("X", None, "LOW", False, 0.8),
    ],
)
def test_flood_zone_from_the_parcel_record_needs_no_call(
    layers: dict[str, object],
    zone: str,
    subtype: str | None,
    level: str,
    sfha: bool,
    confidence: float,
) -> None:
    with NFHLFake() as nfhl, FemaNFHL(url=nfhl.query_url, **FAST) as client:
        parcel = {**PARCEL, "fema_flood_zone": zone, "fema_flood_zone_subtype": subtype}
        row = assess_environment(parcel, **{**layers, "flood": client})
        assert nfhl.requests_to(NFHL_PATH) == []
    assert (row["flood_zone"], row["flood_sfha"], row["flood_source"]) == (
        zone,
        sfha,
        "parcel_record",
    )
    assert (row["risk_level"], row["confidence"]) == (level, confidence)
    assert "flood:parcel_record" in row["inputs_used"]


def test_flood_from_nfhl_and_unmapped(layers: dict[str, object]) -> None:
    with NFHLFake() as nfhl, FemaNFHL(url=nfhl.query_url, **FAST) as client:
        nfhl.add_zone(box(LON - 0.01, LAT - 0.01, LON + 0.01, LAT + 0.01), "AE")
        row = assess_environment(PARCEL, **{**layers, "flood": client})
        assert (row["flood_zone"], row["flood_source"], row["risk_level"]) == (
            "AE",
            "fema_nfhl",
            "HIGH",
        )
        (req,) = nfhl.requests_to(NFHL_PATH)
        assert req.params["geometry"] == f"{LON + SIDE / 2:.7f},{LAT + SIDE / 2:.7f}"
        far = {"lat": 41.0, "lon": -77.0}
        unmapped = assess_environment(far, **{**layers, "flood": client})
    assert (unmapped["flood_zone"], unmapped["flood_sfha"]) == (None, None)
    assert unmapped["flood_source"] == "fema_nfhl"
    assert any("unmapped" in r and "not zone X" in r for r in unmapped["reasons"])
    assert unmapped["confidence"] == 0.6  # flood (0.4) unknown
    # the known inputs are all LOW, but flood could not be checked: UNKNOWN, not LOW
    assert unmapped["risk_level"] == "UNKNOWN"
    assert unmapped["reasons"][-1] == (
        "risk UNKNOWN, not LOW: nothing worse than LOW was found, but 1 of 4 checks could"
        " not run (flood zone)"
    )


def test_epa_levels_and_configurable_thresholds(layers: dict[str, object], tmp_path: Path) -> None:
    fac = tmp_path / "many.csv"
    # 0.2, 0.3, 0.4 mi north and one at 0.6 mi (1 deg lat = 69.0934 mi)
    rows = [
        f"{i},F{i},{i} MAIN ST,ALTOONA,{LAT + SIDE / 2 + d / 69.0934},{LON + SIDE / 2}"
        for i, d in enumerate((0.2, 0.3, 0.4, 0.6), start=1)
    ]
    fac.write_text("RegistryID,FacName,FacStreet,FacCity,FacLat,FacLong\n" + "\n".join(rows) + "\n")
    epa = LayerFacilitySource(read_layer(fac))
    row = assess_environment(PARCEL, **{**layers, "epa": epa})
    assert (row["epa_facilities"], row["risk_level"]) == (3, "HIGH")  # default: >= 3 -> HIGH
    assert [d["distance_miles"] for d in row["epa_details"]] == [0.2, 0.3, 0.4]
    assert row["epa_details"][0] == {
        "name": "F1",
        "street": "1 MAIN ST",
        "city": "ALTOONA",
        "registry_id": "1",
        "distance_miles": 0.2,
    }
    assert (
        "3 EPA-regulated facilities within 0.5 mi (nearest: F1, 0.20 mi): HIGH (>= 3)"
        in row["reasons"]
    )
    small = assess_environment(PARCEL, **{**layers, "epa": epa}, profile={"epa_radius_miles": 0.25})
    assert (small["epa_facilities"], small["risk_level"]) == (1, "MEDIUM")
    stricter = assess_environment(
        PARCEL,
        **{**layers, "epa": epa},
        profile={"environment": {"epa_high_count": 5, "epa_radius_miles": 1}},
    )
    assert (stricter["epa_facilities"], stricter["risk_level"]) == (4, "MEDIUM")
    assert "epa:local_layer:many.csv (1 mi)" in stricter["inputs_used"]


def test_wetland_share_sets_the_level(layers: dict[str, object], tmp_path: Path) -> None:
    def wet(share: float) -> LayerWetlandSource:
        path = _geojson(
            tmp_path / f"w{share}.geojson",
            [
                (
                    {"WETLAND_TYPE": "Freshwater Pond", "ATTRIBUTE": "PUBHh", "ACRES": 0.1},
                    box(LON - 0.001, LAT - 0.001, LON + share * SIDE, LAT + 0.002),
                )
            ],
        )
        return LayerWetlandSource(read_layer(path))

    high = assess_environment(PARCEL, **{**layers, "wetlands": wet(0.4)})
    assert (high["wetlands"], high["risk_level"]) == (True, "HIGH")
    assert high["wetland_details"] == [
        {"wetland_type": "Freshwater Pond", "attribute": "PUBHh", "acres": 0.1, "parcel_share": 0.4}
    ]
    assert "wetland (Freshwater Pond) covers 40% of the parcel (>= 25%): HIGH" in high["reasons"]
    medium = assess_environment(PARCEL, **{**layers, "wetlands": wet(0.1)})
    assert (medium["wetlands"], medium["risk_level"]) == (True, "MEDIUM")
    # a point only: on a wetland, share unknown -> MEDIUM with half the wetland weight
    point = assess_environment(
        {"lat": LAT + 0.0005, "lon": LON + 0.00005}, **{**layers, "wetlands": wet(0.4)}
    )
    assert (point["wetlands"], point["risk_level"], point["confidence"]) == (True, "MEDIUM", 0.9)


def test_undermined_is_high_and_other_status_medium(
    layers: dict[str, object], tmp_path: Path
) -> None:
    mines = LayerMineSource(
        read_layer(
            _geojson(
                tmp_path / "m.geojson",
                [
                    (
                        {"status": "undermined", "name": "DEEP"},
                        box(LON - 0.01, LAT - 0.01, LON + 0.0005, LAT + 0.01),
                    ),
                    (
                        {"status": "surface mining", "name": "STRIP"},
                        box(LON + 0.0008, LAT - 0.01, LON + 0.01, LAT + 0.01),
                    ),
                ],
            )
        )
    )
    row = assess_environment(PARCEL, **{**layers, "mines": mines})
    assert (row["mine_subsidence"], row["risk_level"]) == ("undermined", "HIGH")
    strip = assess_environment({"lat": LAT, "lon": LON + 0.005}, **{**layers, "mines": mines})
    assert (strip["mine_subsidence"], strip["risk_level"]) == ("surface mining", "MEDIUM")


def test_no_location_is_unknown_with_the_reason(layers: dict[str, object]) -> None:
    row = assess_environment({"lat": None, "lon": float("nan"), "geometry_geojson": ""}, **layers)
    assert tuple(row) == RESULT_KEYS
    assert (row["risk_level"], row["confidence"], row["inputs_used"]) == ("UNKNOWN", 0.0, [])
    assert any(r.startswith("no location") for r in row["reasons"])
    assert (row["epa_facilities"], row["wetlands"], row["mine_subsidence"]) == (None, None, None)
    # a zone in the record is still reported, the risk stays UNKNOWN
    known = assess_environment({"fema_flood_zone": "AE"}, **layers)
    assert (known["flood_zone"], known["flood_sfha"], known["risk_level"]) == ("AE", True, "HIGH")
    minimal = assess_environment(
        {"fema_flood_zone": "X", "fema_flood_zone_subtype": "MIN"}, **layers
    )
    assert minimal["risk_level"] == "UNKNOWN"  # three checks could not run


def test_geometry_alone_locates_the_parcel(layers: dict[str, object]) -> None:
    row = assess_environment({"geometry_geojson": PARCEL["geometry_geojson"]}, **layers)
    assert row["risk_level"] == "LOW"
    assert row["inputs_used"][0] == "location:geometry (representative point)"
    bad = assess_environment(
        {**PARCEL, "geometry_geojson": '{"type": "Point", "coordinates": [0, 0]}'}, **layers
    )
    assert any(r.startswith("parcel geometry not usable") for r in bad["reasons"])
    assert bad["risk_level"] == "LOW"  # lat/lon still work


def test_unconfigured_sources_are_named_and_lower_confidence() -> None:
    row = assess_environment(PARCEL)
    assert (row["risk_level"], row["confidence"]) == ("UNKNOWN", 0.0)
    assert row["reasons"] == [
        "flood zone unknown: no flood source configured and no zone in the parcel record",
        "EPA facilities unknown: no EPA facility source configured",
        "wetlands unknown: no wetland source configured",
        "mine subsidence unknown: no mine-subsidence layer configured (no verified online"
        " service: set 'mines: <layer file>' in the TOOLKIT_ENV_SOURCES settings file)",
        "no environmental input could be checked; risk UNKNOWN",
    ]
    # the case seen in the field: three checks of four unknown came out LOW
    partial = assess_environment(
        {
            **PARCEL,
            "fema_flood_zone": "X",
            "fema_flood_zone_subtype": "AREA OF MINIMAL FLOOD HAZARD",
        }
    )
    assert (partial["risk_level"], partial["confidence"]) == ("UNKNOWN", 0.4)
    assert partial["reasons"][-1] == (
        "risk UNKNOWN, not LOW: nothing worse than LOW was found, but 3 of 4 checks could"
        " not run (EPA facilities, wetlands, mine subsidence)"
    )
    # a finding stands even when other checks could not run
    flooded = assess_environment({**PARCEL, "fema_flood_zone": "AE"})
    assert (flooded["risk_level"], flooded["confidence"]) == ("HIGH", 0.4)


@pytest.mark.parametrize(
    ("levels", "expected"),
    [
        ({"flood": "LOW", "epa": "LOW", "wetlands": "LOW", "mines": "LOW"}, "LOW"),
        ({"flood": "LOW", "epa": "LOW", "wetlands": "LOW", "mines": None}, "UNKNOWN"),
        ({"flood": None, "epa": None, "wetlands": None, "mines": None}, "UNKNOWN"),
        ({"flood": "MEDIUM", "epa": None, "wetlands": None, "mines": None}, "MEDIUM"),
        ({"flood": "LOW", "epa": "HIGH", "wetlands": "MEDIUM", "mines": None}, "HIGH"),
        ({"flood": "MEDIUM", "epa": "LOW", "wetlands": "LOW", "mines": "LOW"}, "MEDIUM"),
    ],
)
def test_overall_level_rule(levels: dict[str, str | None], expected: str) -> None:
    from toolkit.environment import _Input, overall_level

    reasons: list[str] = []
    assert overall_level({k: _Input(level=v) for k, v in levels.items()}, reasons) == expected
    assert bool(reasons) == (expected == "UNKNOWN")


def test_a_failing_source_makes_only_its_input_unknown(layers: dict[str, object]) -> None:
    with EchoFake() as echo, EchoFacilities(base_url=echo.base_url, max_attempts=2, **FAST) as epa:
        echo.script(ECHO_FACILITIES, Reply(503), Reply(503))
        row = assess_environment(PARCEL, **{**layers, "epa": epa})
    assert (row["epa_facilities"], row["epa_details"]) == (None, [])
    assert row["risk_level"] == "UNKNOWN"  # three LOW and one unknown is not LOW
    assert row["confidence"] == 0.8
    assert row["reasons"][-1].endswith("1 of 4 checks could not run (EPA facilities)")
    (reason,) = [r for r in row["reasons"] if r.startswith("EPA facilities unknown")]
    assert "epa_echo failed" in reason and "HTTP 503" in reason
    assert not any(u.startswith("epa:") for u in row["inputs_used"])


def test_malformed_wetland_answer_is_unknown_not_dry(layers: dict[str, object]) -> None:
    with WetlandsFake() as nwi, NWIWetlands(url=nwi.query_url, **FAST) as client:
        nwi.script(WETLANDS_PATH, Reply(200, body=b"not json at all"))
        row = assess_environment(PARCEL, **{**layers, "wetlands": client})
    assert row["wetlands"] is None
    assert any(r.startswith("wetlands unknown") and "not JSON" in r for r in row["reasons"])


def test_fatal_source_error_propagates(layers: dict[str, object]) -> None:
    with NFHLFake() as nfhl, FemaNFHL(url=nfhl.query_url, **FAST) as client:
        nfhl.script(NFHL_PATH, Reply(401, json={"error": "token required"}))
        with pytest.raises(FatalSourceError):
            assess_environment(PARCEL, **{**layers, "flood": client})


def test_rules_validation_and_profiles() -> None:
    with pytest.raises(
        ConfigError, match=r"Unknown environment rule 'epa_radius'.*epa_radius_miles"
    ):
        rules_from({"epa_radius": 1})
    with pytest.raises(ConfigError, match="wetland_high_share must be in"):
        rules_from({"wetland_high_share": 1.5})
    with pytest.raises(ConfigError, match="zone_levels"):
        rules_from({"zone_levels": {"D": "SEVERE"}})
    assert rules_from({"zone_levels": {"D": "HIGH"}}).zone_levels["X"] == "LOW"  # merged
    from toolkit.decisions.profile import InvestorProfile

    assert rules_from(InvestorProfile()) == EnvironmentRules()  # no environment section yet
    assert rules_from({"mine_high_statuses": ["Undermined", "Subsidence"]}).mine_high_statuses == (
        "undermined",
        "subsidence",
    )


# --- make_sources ---------------------------------------------------------------------


@pytest.fixture
def services() -> Iterator[tuple[NFHLFake, EchoFake, WetlandsFake]]:
    with NFHLFake() as nfhl, EchoFake() as echo, WetlandsFake() as nwi:
        nfhl.add_zone(
            box(LON - 0.01, LAT - 0.01, LON + 0.01, LAT + 0.01),
            "X",
            subtype="0.2 PCT ANNUAL CHANCE FLOOD HAZARD",
        )
        echo.add(LON, LAT + 0.004, "NEAR PLATING")
        nwi.add_wetland(
            box(LON - 0.001, LAT - 0.001, LON + 0.0001, LAT + 0.002), "Riverine", "R2UBH", 3.0
        )
        yield nfhl, echo, nwi


def test_make_sources_online_against_fakes(services, tmp_path: Path) -> None:
    nfhl, echo, nwi = services
    mines = write_gpkg(
        tmp_path / "m.gpkg", [Feature({"status": "undermined"}, box(0, 0, 1, 1))], table="mines"
    )
    sources = make_sources(
        {
            "mode": "online",
            "flood": {"url": nfhl.query_url},
            "epa": {"base_url": echo.base_url},
            "wetlands": {"url": nwi.query_url, "max_attempts": 2},
            "mines": str(mines),
            "http": FAST,
            "cache_dir": str(tmp_path / "cache"),
        }
    )
    try:
        assert [type(s).__name__ for s in sources.values()] == [
            "FemaNFHL",
            "EchoFacilities",
            "NWIWetlands",
            "LayerMineSource",
        ]
        nwi.script(WETLANDS_PATH, arcgis_error_reply())
        row = assess_environment(PARCEL, **sources)
    finally:
        close_sources(sources)
    assert row["flood_zone"] == "X" and row["flood_source"] == "fema_nfhl"
    assert row["epa_facilities"] == 1
    assert (row["wetlands"], row["wetland_details"][0]["parcel_share"]) == (True, 0.1)
    assert (row["mine_subsidence"], row["risk_level"], row["confidence"]) == ("none", "MEDIUM", 1.0)
    assert row["inputs_used"][2:] == [
        "flood:fema_nfhl",
        "epa:epa_echo (0.5 mi)",
        "wetlands:usfws_wetlands",
        "mines:local_layer:m.gpkg",
    ]
    assert (tmp_path / "cache" / "http_cache.sqlite").is_file()


def test_sample_layers_only_in_sample_mode() -> None:
    sources = make_sources({"mode": "sample"})
    try:
        assert {k: v.label for k, v in sources.items()} == {
            "flood": "local_layer:flood_zones_synthetic.geojson",
            "epa": "local_layer:epa_facilities_synthetic.csv",
            "wetlands": "local_layer:wetlands_synthetic.geojson",
            "mines": "local_layer:mine_subsidence_synthetic.gpkg",
        }
    finally:
        close_sources(sources)
    # the default is online; mines have no service, so no layer means unknown, never the sample
    online = make_sources(None)
    try:
        assert [type(s).__name__ for s in online.values()] == [
            "FemaNFHL",
            "EchoFacilities",
            "NWIWetlands",
            "NoneType",
        ]
        assert online["flood"].client.unreachable_hint.startswith(
            "check the network, or set TOOLKIT_ENV_SOURCES=<settings file>"
        )
    finally:
        close_sources(online)
    local = make_sources({"mode": "local", "flood": "none", "epa": False})
    assert set(local.values()) == {None}  # nothing given, nothing invented
    for config in ({"mines": "local"}, {"mode": "local", "flood": "local"}):
        with pytest.raises(ConfigError, match=r"has no layer file.*only with mode 'sample'"):
            make_sources(config)
    with pytest.raises(ConfigError, match="layers_dir is where mode 'sample'"):
        make_sources({"mode": "online", "layers_dir": "data/sample/layers"})
    with pytest.raises(ConfigError, match="item_deadline must be a positive number"):
        make_sources({"mode": "local", "item_deadline": 0})


def test_make_sources_bad_config() -> None:
    with pytest.raises(ConfigError, match=r"Unknown environment source setting 'flod'.*'flood'"):
        make_sources({"flod": "local"})
    with pytest.raises(UnknownChoiceError, match="Unknown mines source 'usfws_wetlands'"):
        make_sources({"mines": "usfws_wetlands"})
    with pytest.raises(UnknownChoiceError, match="mode"):
        make_sources({"mode": "cloud"})
    with pytest.raises(ConfigError, match=r"Unknown option.*'token'.*fema_nfhl flood"):
        make_sources({"flood": {"kind": "fema_nfhl", "token": "x"}})
    with pytest.raises(ConfigError, match="layer file not found"):
        make_sources({"epa": "/nonexistent/facilities.csv"})


def test_row_json_for_the_table(layers: dict[str, object]) -> None:
    row = to_row_json(assess_environment(PARCEL, **layers))
    assert json.loads(row["reasons"])[0].startswith("flood zone X")
    assert row["epa_details"] == "[]" and row["confidence"] == 1.0
