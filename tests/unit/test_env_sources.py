"""Environmental sources: FEMA NFHL, EPA ECHO, USFWS NWI against local fakes, and local layers."""

from __future__ import annotations

import csv
import json
import math
import sqlite3
import struct
from collections.abc import Iterator
from pathlib import Path

import pytest
import shapely
from fakes import Reply  # tests/ is on sys.path (conftest)
from fakes.env_servers import (
    ECHO_FACILITIES,
    ECHO_QID,
    NFHL_PATH,
    WETLANDS_PATH,
    EchoFake,
    NFHLFake,
    WetlandsFake,
    arcgis_error_reply,
    echo_error_reply,
)
from shapely.geometry import Point, Polygon, box

from toolkit.exceptions import ConfigError, FatalSourceError, SourceError, UnknownChoiceError
from toolkit.sources.echo import EchoFacilities, haversine_miles
from toolkit.sources.fema import FemaNFHL, reading_from_parcel, sfha_of
from toolkit.sources.layers import (
    Feature,
    LayerFacilitySource,
    LayerFloodSource,
    LayerMineSource,
    LayerWetlandSource,
    read_layer,
    write_gpkg,
)
from toolkit.sources.wetlands import NWIWetlands, esri_polygon

ROOT = Path(__file__).resolve().parents[2]
LAYERS = ROOT / "data" / "sample" / "layers"
FAST = {"rate_per_minute": 60_000, "backoff_initial": 0.01, "backoff_max": 0.02, "timeout": 2.0}
LON, LAT = -78.40, 40.50
# one degree of latitude in miles on the mean-radius sphere: 3958.7613 * pi / 180
MILES_PER_DEG = 69.0934


# --- FEMA NFHL -------------------------------------------------------------------


@pytest.fixture
def nfhl() -> Iterator[NFHLFake]:
    with NFHLFake() as fake:
        fake.add_zone(box(-78.41, 40.49, -78.40, 40.51), "AE", bfe=1021.5)
        fake.add_zone(
            box(-78.40, 40.49, -78.39, 40.51), "X", subtype="AREA OF MINIMAL FLOOD HAZARD"
        )
        fake.add_zone(
            box(-78.39, 40.49, -78.38, 40.51), "X", subtype="0.2 PCT ANNUAL CHANCE FLOOD HAZARD"
        )
        yield fake


def test_nfhl_point_query_returns_the_zone_and_sfha(nfhl: NFHLFake) -> None:
    with FemaNFHL(url=nfhl.query_url, **FAST) as client:
        reading = client.zone_at(-78.405, 40.50)
    assert (reading.zone, reading.sfha, reading.source, reading.static_bfe) == (
        "AE",
        True,
        "fema_nfhl",
        1021.5,
    )
    (req,) = nfhl.requests_to(NFHL_PATH)
    assert req.params["geometry"] == "-78.4050000,40.5000000"
    assert req.params["geometryType"] == "esriGeometryPoint"
    assert req.params["outFields"] == "FLD_ZONE,ZONE_SUBTY,SFHA_TF,STATIC_BFE"
    assert (req.params["inSR"], req.params["returnGeometry"], req.params["f"]) == (
        "4326",
        "false",
        "json",
    )


def test_nfhl_shaded_x_and_minimal_x(nfhl: NFHLFake) -> None:
    with FemaNFHL(url=nfhl.query_url, **FAST) as client:
        shaded = client.zone_at(-78.385, 40.50)
        minimal = client.zone_at(-78.395, 40.50)
    assert (shaded.zone, shaded.subtype, shaded.sfha) == (
        "X",
        "0.2 PCT ANNUAL CHANCE FLOOD HAZARD",
        False,
    )
    assert (minimal.zone, minimal.sfha, minimal.static_bfe) == ("X", False, None)  # -9999 = none


def test_nfhl_empty_features_is_unmapped_not_zone_x(nfhl: NFHLFake) -> None:
    with FemaNFHL(url=nfhl.query_url, **FAST) as client:
        reading = client.zone_at(-77.0, 41.0)
    assert reading.mapped is False
    assert (reading.zone, reading.sfha) == (None, None)


def test_nfhl_on_a_zone_boundary_keeps_the_more_hazardous(nfhl: NFHLFake) -> None:
    with FemaNFHL(url=nfhl.query_url, **FAST) as client:
        reading = client.zone_at(-78.40, 40.50)  # the AE / X edge
    assert reading.zone == "AE"
    assert [a["zone"] for a in reading.alternatives] == ["X"]


def test_nfhl_500_then_ok_is_retried(nfhl: NFHLFake) -> None:
    nfhl.script(NFHL_PATH, Reply(500, json={"error": "busy"}))
    with FemaNFHL(url=nfhl.query_url, **FAST) as client:
        assert client.zone_at(-78.405, 40.50).zone == "AE"
        assert client.client.counters.retries == 1
    assert len(nfhl.requests_to(NFHL_PATH)) == 2


def test_nfhl_arcgis_error_body_with_200_is_retried(nfhl: NFHLFake) -> None:
    nfhl.script(NFHL_PATH, arcgis_error_reply())
    with FemaNFHL(url=nfhl.query_url, **FAST) as client:
        assert client.zone_at(-78.395, 40.50).zone == "X"
    assert len(nfhl.requests_to(NFHL_PATH)) == 2


def test_nfhl_malformed_json_is_a_source_error_naming_the_url(nfhl: NFHLFake) -> None:
    nfhl.script(NFHL_PATH, Reply(200, body=b"<html>maintenance</html>", content_type="text/html"))
    with FemaNFHL(url=nfhl.query_url, **FAST) as client, pytest.raises(SourceError) as err:
        client.zone_at(-78.405, 40.50)
    assert "not JSON" in str(err.value) and "28/query" in str(err.value)
    assert len(nfhl.requests_to(NFHL_PATH)) == 1  # a broken body is not retried


def test_nfhl_wrong_shape_is_a_source_error(nfhl: NFHLFake) -> None:
    nfhl.script(NFHL_PATH, Reply(200, json={"features": [{"geometry": {}}]}))
    with (
        FemaNFHL(url=nfhl.query_url, **FAST) as client,
        pytest.raises(SourceError, match="attributes"),
    ):
        client.zone_at(-78.405, 40.50)


def test_nfhl_refused_is_fatal(nfhl: NFHLFake) -> None:
    nfhl.script(NFHL_PATH, Reply(403, json={"error": "forbidden"}))
    with FemaNFHL(url=nfhl.query_url, **FAST) as client, pytest.raises(FatalSourceError):
        client.zone_at(-78.405, 40.50)


def test_nfhl_cache_answers_a_rerun_without_a_call(nfhl: NFHLFake, tmp_path: Path) -> None:
    with FemaNFHL(url=nfhl.query_url, cache_dir=tmp_path, **FAST) as client:
        client.zone_at(-78.405, 40.50)
    with FemaNFHL(url=nfhl.query_url, cache_dir=tmp_path, **FAST) as client:
        assert client.zone_at(-78.405, 40.50).zone == "AE"
        assert client.client.counters.cache_hits == 1
    assert len(nfhl.requests_to(NFHL_PATH)) == 1


def test_zone_from_the_parcel_record() -> None:
    assert reading_from_parcel({"fema_flood_zone": " ve "}).zone == "VE"
    assert reading_from_parcel({"fema_flood_zone": "X"}).sfha is False
    assert reading_from_parcel({"fema_flood_zone": None}) is None
    assert reading_from_parcel({}) is None
    assert sfha_of("X", "T") is True  # the flag wins over the zone letter


# --- EPA ECHO --------------------------------------------------------------------


@pytest.fixture
def echo() -> Iterator[EchoFake]:
    with EchoFake() as fake:
        fake.add(LON, LAT + 0.004, "NEAR PLATING", registry_id="110000000001")  # 0.276 mi N
        fake.add(LON, LAT - 0.002, "NEARER SALVAGE", registry_id="110000000002")  # 0.138 mi S
        fake.add(LON, LAT + 0.02, "FAR LANDFILL", registry_id="110000000003")  # 1.38 mi
        yield fake


def test_echo_two_step_search(echo: EchoFake) -> None:
    with EchoFacilities(base_url=echo.base_url, **FAST) as client:
        found = client.within(LON, LAT, 0.5)
    assert [f.name for f in found] == ["NEARER SALVAGE", "NEAR PLATING"]  # nearest first
    assert [f.distance_miles for f in found] == [
        round(0.002 * MILES_PER_DEG, 3),
        round(0.004 * MILES_PER_DEG, 3),
    ]
    assert found[1].detail() == {
        "name": "NEAR PLATING",
        "street": "1 MILL RD",
        "city": "ALTOONA",
        "registry_id": "110000000001",
        "distance_miles": 0.276,
    }
    (search,) = echo.requests_to(ECHO_FACILITIES)
    assert (search.params["p_lat"], search.params["p_long"], search.params["p_radius"]) == (
        "40.500000",
        "-78.400000",
        "0.5",
    )
    (page,) = echo.requests_to(ECHO_QID)
    assert (page.params["qid"], page.params["pageno"], page.params["output"]) == (
        "101",
        "1",
        "JSON",
    )


def test_echo_no_rows_skips_the_second_step(echo: EchoFake) -> None:
    with EchoFacilities(base_url=echo.base_url, **FAST) as client:
        assert client.within(-75.0, 41.0, 0.5) == []
    assert echo.requests_to(ECHO_QID) == []


def test_echo_pages_until_every_row_is_read(echo: EchoFake) -> None:
    with EchoFacilities(base_url=echo.base_url, page_size=2, **FAST) as client:
        found = client.within(LON, LAT, 2.0)
    assert len(found) == 3
    assert [r.params["pageno"] for r in echo.requests_to(ECHO_QID)] == ["1", "2"]


def test_echo_expired_qid_is_queried_again(echo: EchoFake) -> None:
    echo.script(ECHO_QID, echo_error_reply("Query ID '101' is invalid or has expired"))
    with EchoFacilities(base_url=echo.base_url, **FAST) as client:
        found = client.within(LON, LAT, 0.5)
    assert len(found) == 2
    assert len(echo.requests_to(ECHO_FACILITIES)) == 2
    assert [r.params["qid"] for r in echo.requests_to(ECHO_QID)] == ["101", "102"]


def test_echo_expired_qid_refreshes_the_cached_search(echo: EchoFake, tmp_path: Path) -> None:
    with EchoFacilities(base_url=echo.base_url, cache_dir=tmp_path, **FAST) as client:
        # step 1 is answered and cached; then the qid expires before step 2
        client.client.get_json(
            ECHO_FACILITIES.rsplit("/", 1)[1],
            {"output": "JSON", "p_lat": "40.500000", "p_long": "-78.400000", "p_radius": "0.5"},
        )
    echo.expire_all()
    with EchoFacilities(base_url=echo.base_url, cache_dir=tmp_path, **FAST) as client:
        assert len(client.within(LON, LAT, 0.5)) == 2
    before = len(echo.requests)
    with EchoFacilities(base_url=echo.base_url, cache_dir=tmp_path, **FAST) as client:
        assert len(client.within(LON, LAT, 0.5)) == 2
        assert client.client.counters.requests == 0  # the fresh qid was cached, not the stale one
    assert len(echo.requests) == before


def test_echo_qid_failing_twice_is_a_source_error(echo: EchoFake) -> None:
    echo.script(ECHO_QID, echo_error_reply("expired"), echo_error_reply("expired"))
    with (
        EchoFacilities(base_url=echo.base_url, **FAST) as client,
        pytest.raises(SourceError, match="failed again after a fresh query"),
    ):
        client.within(LON, LAT, 0.5)
    assert len(echo.requests_to(ECHO_FACILITIES)) == 2


def test_echo_error_json_on_search_names_the_message(echo: EchoFake) -> None:
    echo.script(ECHO_FACILITIES, echo_error_reply("Service is temporarily unavailable"))
    with (
        EchoFacilities(base_url=echo.base_url, **FAST) as client,
        pytest.raises(SourceError, match="temporarily unavailable"),
    ):
        client.within(LON, LAT, 0.5)
    assert echo.requests_to(ECHO_QID) == []


def test_echo_malformed_json(echo: EchoFake) -> None:
    echo.script(ECHO_FACILITIES, Reply(200, body=b'{"Results": {"QueryID": '))
    with (
        EchoFacilities(base_url=echo.base_url, **FAST) as client,
        pytest.raises(SourceError, match="not JSON"),
    ):
        client.within(LON, LAT, 0.5)


def test_echo_facility_without_coordinates_has_no_distance(echo: EchoFake) -> None:
    echo.add(None, None, "NO COORDS INC")
    with EchoFacilities(base_url=echo.base_url, **FAST) as client:
        found = client.within(LON, LAT, 0.5)
    assert [f.name for f in found][-1] == "NO COORDS INC"
    assert found[-1].distance_miles is None


def test_haversine_matches_a_hand_value() -> None:
    # 0.01 degree of longitude at 40.5 N: 69.0934 * 0.01 * cos(40.5 deg) = 0.52539
    assert haversine_miles(-78.40, 40.5, -78.39, 40.5) == pytest.approx(0.52539, abs=1e-4)


# --- USFWS wetlands ------------------------------------------------------------------

PARCEL = box(LON, LAT, LON + 0.001, LAT + 0.001)


@pytest.fixture
def nwi() -> Iterator[WetlandsFake]:
    with WetlandsFake() as fake:
        # covers the west 40 % of PARCEL
        fake.add_wetland(
            box(LON - 0.0005, LAT - 0.0005, LON + 0.0004, LAT + 0.0015),
            "Freshwater Emergent Wetland",
            "PEM1C",
            2.5,
        )
        # touches PARCEL's east edge only
        fake.add_wetland(box(LON + 0.001, LAT, LON + 0.002, LAT + 0.001), "Riverine", "R2UBH", 1.0)
        yield fake


def test_nwi_parcel_share_from_returned_geometry(nwi: WetlandsFake) -> None:
    with NWIWetlands(url=nwi.query_url, **FAST) as client:
        reading = client.on_parcel(shapely.geometry.mapping(PARCEL))
    assert (reading.on_parcel, reading.share) == (True, 0.4)
    assert reading.details == [
        {
            "wetland_type": "Freshwater Emergent Wetland",
            "attribute": "PEM1C",
            "acres": 2.5,
            "parcel_share": 0.4,
        }
    ]
    (req,) = nwi.requests_to(WETLANDS_PATH)
    assert (req.params["geometryType"], req.params["returnGeometry"], req.params["outSR"]) == (
        "esriGeometryEnvelope",
        "true",
        "4326",
    )


def test_nwi_point_query_has_no_share(nwi: WetlandsFake) -> None:
    with NWIWetlands(url=nwi.query_url, **FAST) as client:
        wet = client.on_parcel((LON + 0.0002, LAT + 0.0005))
        dry = client.on_parcel((LON - 0.01, LAT))
    assert (wet.on_parcel, wet.share) == (True, None)
    assert (dry.on_parcel, dry.share, dry.details) == (False, None, [])
    assert nwi.requests_to(WETLANDS_PATH)[0].params["geometryType"] == "esriGeometryPoint"


def test_nwi_error_body_with_200_is_retried_and_not_cached(
    nwi: WetlandsFake, tmp_path: Path
) -> None:
    nwi.script(WETLANDS_PATH, arcgis_error_reply("Error performing query operation"))
    with NWIWetlands(url=nwi.query_url, cache_dir=tmp_path, **FAST) as client:
        assert client.on_parcel(PARCEL).share == 0.4
        assert client.client.counters.retries == 1
        assert len(client.client.cache) == 1
    with NWIWetlands(url=nwi.query_url, cache_dir=tmp_path, **FAST) as client:
        assert client.on_parcel(PARCEL).share == 0.4
    assert len(nwi.requests_to(WETLANDS_PATH)) == 2  # error + ok; the rerun came from the cache


def test_nwi_error_body_every_time_gives_up_with_the_message(nwi: WetlandsFake) -> None:
    nwi.script(WETLANDS_PATH, *[arcgis_error_reply("Service busy") for _ in range(3)])
    with (
        NWIWetlands(url=nwi.query_url, max_attempts=3, **{**FAST}) as client,
        pytest.raises(SourceError, match="Service busy"),
    ):
        client.on_parcel(PARCEL)
    assert len(nwi.requests_to(WETLANDS_PATH)) == 3


def test_esri_polygon_keeps_holes() -> None:
    # outer clockwise 0..4, hole anticlockwise 1..2: area 16 - 1
    geom = esri_polygon(
        {
            "rings": [
                [[0, 0], [0, 4], [4, 4], [4, 0], [0, 0]],
                [[1, 1], [2, 1], [2, 2], [1, 2], [1, 1]],
            ]
        }
    )
    assert geom.area == 15.0
    with pytest.raises(SourceError, match="rings"):
        esri_polygon({"paths": []})


# --- local layers ------------------------------------------------------------------


def _geojson(path: Path, features: list[tuple[dict, object]]) -> Path:
    path.write_text(
        json.dumps(
            {
                "type": "FeatureCollection",
                "features": [
                    {
                        "type": "Feature",
                        "properties": props,
                        "geometry": shapely.geometry.mapping(geom),
                    }
                    for props, geom in features
                ],
            }
        )
    )
    return path


def test_local_flood_layer(tmp_path: Path) -> None:
    path = _geojson(
        tmp_path / "flood.geojson",
        [
            (
                {"FLD_ZONE": "AE", "ZONE_SUBTY": None, "SFHA_TF": "T"},
                box(-78.41, 40.49, -78.40, 40.51),
            ),
            (
                {"FLD_ZONE": "X", "ZONE_SUBTY": "AREA OF MINIMAL FLOOD HAZARD", "SFHA_TF": "F"},
                box(-78.40, 40.49, -78.39, 40.51),
            ),
        ],
    )
    src = LayerFloodSource(read_layer(path))
    assert (src.zone_at(-78.405, 40.5).zone, src.zone_at(-78.405, 40.5).source) == (
        "AE",
        "local_layer",
    )
    assert src.zone_at(-78.395, 40.5).sfha is False
    outside = src.zone_at(-78.0, 40.0)
    assert (outside.mapped, outside.zone) == (False, None)
    assert src.label == "local_layer:flood.geojson"


def test_layer_coverage_makes_outside_unknown(tmp_path: Path) -> None:
    path = _geojson(tmp_path / "mines.geojson", [({"status": "undermined"}, box(0, 0, 1, 1))])
    mines = LayerMineSource(read_layer(path, coverage=(-1, -1, 2, 2)))
    assert mines.risk_at(0.5, 0.5).status == "undermined"
    assert mines.risk_at(1.5, 1.5).status == "none"
    assert mines.risk_at(5, 5).status is None
    with pytest.raises(ConfigError, match="coverage"):
        read_layer(path, coverage=(2, 2, 1, 1))


def test_mine_layer_status_and_geometry(tmp_path: Path) -> None:
    path = _geojson(
        tmp_path / "mines.geojson",
        [
            ({"status": "Surface Mining", "name": "STRIP"}, box(0, 0, 1, 1)),
            ({"name": "DEEP"}, box(2, 0, 3, 1)),  # no status: the default "undermined"
        ],
    )
    mines = LayerMineSource(read_layer(path))
    assert mines.risk_at(0.5, 0.5).status == "surface mining"
    assert mines.risk_at(2.5, 0.5).details == [{"status": "undermined", "name": "DEEP"}]
    # the point misses, the parcel polygon reaches into the deep mine
    assert mines.risk_at(1.5, 0.5, geometry=box(1.2, 0.2, 2.1, 0.8)).status == "undermined"


def test_csv_points_layer_for_facilities(tmp_path: Path) -> None:
    path = tmp_path / "fac.csv"
    path.write_text(
        "# SYNTHETIC test layer\n"
        "RegistryID,FacName,FacStreet,FacCity,FacLat,FacLong\n"
        f"1,NEAR,1 A ST,X,{LAT + 0.004},{LON}\n"
        f"2,FAR,2 B ST,Y,{LAT + 0.01},{LON}\n"
    )
    src = LayerFacilitySource(read_layer(path))
    near = src.within(LON, LAT, 0.5)
    assert [f.detail() for f in near] == [
        {
            "name": "NEAR",
            "street": "1 A ST",
            "city": "X",
            "registry_id": "1",
            "distance_miles": 0.276,
        }
    ]
    assert [f.name for f in src.within(LON, LAT, 0.7)] == ["NEAR", "FAR"]  # 0.691 mi


def test_csv_wkt_layer_for_wetlands(tmp_path: Path) -> None:
    path = tmp_path / "wet.csv"
    with path.open("w", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(["WETLAND_TYPE", "ATTRIBUTE", "ACRES", "wkt"])
        writer.writerow(
            [
                "Freshwater Pond",
                "PUBHh",
                "0.3",
                box(LON + 0.0009, LAT, LON + 0.002, LAT + 0.001).wkt,
            ]
        )
    reading = LayerWetlandSource(read_layer(path)).on_parcel(PARCEL)
    assert (reading.on_parcel, reading.share) == (True, 0.1)
    assert reading.details[0]["acres"] == 0.3


def test_csv_layer_errors_name_the_problem(tmp_path: Path) -> None:
    bad = tmp_path / "bad.csv"
    bad.write_text("name,x_coord\nA,1\n")
    with pytest.raises(ConfigError, match=r"lat/lon columns.*found: name, x_coord"):
        read_layer(bad)
    broken = tmp_path / "broken.csv"
    broken.write_text("name,lat,lon\nA,40.5,-78.4\nB,forty,-78.4\n")
    with pytest.raises(ConfigError, match="line 3"):
        read_layer(broken)
    projected = tmp_path / "utm.csv"
    projected.write_text("name,lat,lon\nA,4484000,712000\n")
    with pytest.raises(ConfigError, match="EPSG:4326"):
        read_layer(projected)
    with pytest.raises(UnknownChoiceError, match="csv, geojson, gpkg"):
        read_layer(bad, format="shp")
    with pytest.raises(ConfigError, match="not found"):
        read_layer(tmp_path / "missing.geojson")


def _hand_gpkg(path: Path, rows: list[tuple[str, bytes]], srs: int = 4326) -> None:
    """A GeoPackage written without write_gpkg: blobs with no envelope (flags 0x01)."""
    db = sqlite3.connect(path)
    db.executescript("""
        CREATE TABLE gpkg_contents (table_name TEXT PRIMARY KEY, data_type TEXT, identifier TEXT,
                                    srs_id INTEGER);
        CREATE TABLE gpkg_geometry_columns (table_name TEXT, column_name TEXT,
                                            geometry_type_name TEXT, srs_id INTEGER, z INT, m INT);
        CREATE TABLE mined (fid INTEGER PRIMARY KEY, shape BLOB, status TEXT);
    """)
    db.execute("INSERT INTO gpkg_contents VALUES ('mined', 'features', 'mined', ?)", (srs,))
    db.execute(
        "INSERT INTO gpkg_geometry_columns VALUES ('mined', 'shape', 'POLYGON', ?, 0, 0)", (srs,)
    )
    for status, wkb in rows:
        blob = b"GP\x00\x01" + struct.pack("<i", srs) + wkb
        db.execute("INSERT INTO mined (shape, status) VALUES (?, ?)", (blob, status))
    db.commit()
    db.close()


def test_geopackage_layer_read_by_hand_made_file(tmp_path: Path) -> None:
    path = tmp_path / "mined.gpkg"
    _hand_gpkg(path, [("undermined", shapely.to_wkb(box(0, 0, 1, 1)))])
    mines = LayerMineSource(read_layer(path))
    assert mines.risk_at(0.5, 0.5).status == "undermined"
    assert mines.risk_at(1.5, 0.5).status == "none"
    utm = tmp_path / "utm.gpkg"
    _hand_gpkg(utm, [], srs=26917)
    with pytest.raises(ConfigError, match="srs_id 26917"):
        read_layer(utm)


def test_write_gpkg_round_trip(tmp_path: Path) -> None:
    ring = Polygon([(0, 0), (4, 0), (4, 4), (0, 4)], [[(1, 1), (1, 2), (2, 2), (2, 1)]])
    path = write_gpkg(
        tmp_path / "w.gpkg",
        [
            Feature({"status": "undermined", "depth_ft": 120.0}, ring),
            Feature({"status": None, "depth_ft": None}, box(5, 5, 6, 6)),
        ],
        table="mines",
        description="SYNTHETIC",
    )
    layer = read_layer(path)
    assert len(layer) == 2
    assert layer.features[0].geometry.equals(ring)
    assert layer.features[0].properties == {"fid": 1, "status": "undermined", "depth_ft": 120.0}
    assert [f.properties["fid"] for f in layer.at(1.5, 1.5)] == []  # in the hole
    with sqlite3.connect(path) as db:
        assert db.execute("PRAGMA application_id").fetchone()[0] == 0x47504B47


def test_to_shape_rejects_garbage() -> None:
    from toolkit.exceptions import ValidationError
    from toolkit.geometry import to_shape

    assert to_shape(Point(1, 2)).equals(Point(1, 2))
    with pytest.raises(ValidationError, match=r"not .lon, lat"):
        to_shape("not json")
    with pytest.raises(ValidationError, match="EPSG:4326"):
        to_shape((500000.0, 4480000.0))


# --- the sample layers ------------------------------------------------------------


def test_sample_layers_are_labelled_synthetic() -> None:
    for name in ("flood_zones_synthetic.geojson", "wetlands_synthetic.geojson"):
        assert "SYNTHETIC" in json.loads((LAYERS / name).read_text())["description"]
    assert (LAYERS / "epa_facilities_synthetic.csv").read_text().startswith("# SYNTHETIC")
    with sqlite3.connect(LAYERS / "mine_subsidence_synthetic.gpkg") as db:
        (description,) = db.execute("SELECT description FROM gpkg_contents").fetchone()
    assert "SYNTHETIC" in description
    assert "SYNTHETIC" in (LAYERS / "README.md").read_text()


def test_sample_layers_sit_on_the_sample_parcels() -> None:
    """Every sample layer touches at least one sample parcel (else the demo shows nothing)."""
    from toolkit.sources.regrid import RegridBulk

    regrid = ROOT / "data" / "sample" / "regrid"
    bulk = RegridBulk(
        {
            "Blair": regrid / "pa_blair_synthetic.csv",
            "Westmoreland": regrid / "pa_westmoreland_synthetic.csv",
        }
    )
    flood = LayerFloodSource(read_layer(LAYERS / "flood_zones_synthetic.geojson"))
    epa = LayerFacilitySource(read_layer(LAYERS / "epa_facilities_synthetic.csv"))
    wet = LayerWetlandSource(read_layer(LAYERS / "wetlands_synthetic.geojson"))
    mines = LayerMineSource(read_layer(LAYERS / "mine_subsidence_synthetic.gpkg"))
    zones, near, wets, mined = set(), 0, 0, 0
    for county in ("Blair", "Westmoreland"):
        for key in bulk.index(county).by_parcel:
            rec = bulk.lookup(key, county=county)
            zones.add(flood.zone_at(rec["lon"], rec["lat"]).zone)
            near += bool(epa.within(rec["lon"], rec["lat"], 0.5))
            wets += bool(wet.on_parcel(rec["geometry_geojson"]).on_parcel)
            mined += mines.risk_at(rec["lon"], rec["lat"]).status == "undermined"
    assert {"AE", "A", "X", None} <= zones  # None: Westmoreland's unmapped east
    assert near > 0 and wets > 0 and mined > 0
    assert math.isfinite(near)
