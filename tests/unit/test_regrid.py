"""Regrid parcel sources: the API against a local fake, and bulk files (toolkit.sources.regrid)."""

from __future__ import annotations

import csv
import json
import sqlite3
import struct
from collections.abc import Iterator
from pathlib import Path

import pytest
from fakes import Reply  # tests/ is on sys.path (conftest)
from fakes.regrid_server import RegridFake, square

from toolkit.exceptions import (
    ConfigError,
    FatalSourceError,
    NotFoundError,
    SourceError,
    UnknownChoiceError,
    UnknownCountyError,
)
from toolkit.sources.regrid import (
    PARCEL_KEYS,
    RegridAPI,
    RegridBulk,
    county_path,
    county_slug,
    normalize_parcel_number,
)

ROOT = Path(__file__).resolve().parents[2]
SAMPLE = ROOT / "data" / "sample"
BULK = {
    "Blair": SAMPLE / "regrid" / "pa_blair_synthetic.csv",
    "Clearfield": SAMPLE / "regrid" / "pa_clearfield_synthetic.csv",
    "Westmoreland": SAMPLE / "regrid" / "pa_westmoreland_synthetic.csv",
    "Somerset": SAMPLE / "regrid" / "pa_somerset_synthetic.geojson",
}
TOKEN = "rg-TEST-token-5566778899"
FIELDS = {
    "address": "12 MAPLE ST",
    "scity": "ALTOONA",
    "szip5": "16601",
    "usecode": "R1",
    "usedesc": "RESIDENTIAL",
    "yearbuilt": "1925",
    "landval": "12,500",
    "improvval": "40000",
    "parval": "52500",
    "ll_bldg_footprint_sqft": "1200.5",
    "ll_bldg_count": "1",
    "owner": "DOE JANE",
    "mailadd": "PO BOX 1",
    "mail_state2": "PA",
    "mail_zip": "16601",
    "fema_flood_zone": "AE",
}


@pytest.fixture
def fake() -> Iterator[RegridFake]:
    with RegridFake(token=TOKEN) as server:
        server.add(
            "01.02-03..-004.05-006",
            county="Blair",
            fields=FIELDS,
            geometry=square(-78.4, 40.5, 0.0003),
        )
        server.add("99-00-00001-00", county="Blair", fields={"address": "7 RIVER RD"})
        yield server


def api(fake: RegridFake, **options: object) -> RegridAPI:
    defaults: dict[str, object] = {
        "rate_per_minute": 60_000,
        "backoff_initial": 0.01,
        "backoff_max": 0.05,
        "timeout": 2.0,
    }
    return RegridAPI(TOKEN, base_url=fake.base_url, **{**defaults, **options})  # type: ignore[arg-type]


def all_messages(exc: BaseException) -> str:
    parts, seen = [], exc
    while seen is not None:
        parts.append(str(seen))
        seen = seen.__cause__ or (None if seen.__suppress_context__ else seen.__context__)
    return "\n".join(parts)


# --- helpers ---------------------------------------------------------------------


def test_county_slug_and_path() -> None:
    assert county_path("Blair") == "/us/pa/blair"
    assert county_slug("Blair County") == "blair"
    assert county_path("  Lehigh  Valley ") == "/us/pa/lehigh-valley"


def test_normalize_parcel_number_matches_like_regrid() -> None:
    assert normalize_parcel_number("01.02-03..-004.05-006") == normalize_parcel_number(
        "0102 03 00405 006"
    )
    assert normalize_parcel_number("12-ab") == "12AB"


# --- API -------------------------------------------------------------------------


def test_lookup_by_apn_returns_the_normalised_record(fake: RegridFake) -> None:
    with api(fake) as source:
        rec = source.lookup("0102-03-004-05-006", county="Blair")
    assert tuple(rec) == PARCEL_KEYS
    assert rec["source"] == "api" and rec["parcelnumb"] == "01.02-03..-004.05-006"
    assert rec["parcelnumb_norm"] == "01020300405006"
    assert rec["address"] == "12 MAPLE ST" and rec["city"] == "ALTOONA" and rec["zip"] == "16601"
    assert rec["year_built"] == 1925 and rec["bldg_count"] == 1
    assert rec["land_value"] == 12500.0 and rec["total_value"] == 52500.0
    assert isinstance(rec["lat"], float) and 40.5 < rec["lat"] < 40.5003
    assert rec["fema_flood_zone"] == "AE" and rec["fema_flood_zone_subtype"] is None
    # ~0.0003 deg square: ~83 ft east-west by ~109 ft north-south
    assert 80 < rec["width_ft"] < 86 and 1.2 < rec["aspect_ratio"] < 1.4
    assert rec["lot_sqft"] and "lot_sqft: computed from geometry" in rec.notes
    assert json.loads(rec["geometry_geojson"])["type"] == "Polygon"
    raw = json.loads(rec["raw_json"])
    assert raw["fields"]["parcelnumb"] == "01.02-03..-004.05-006" and TOKEN not in rec["raw_json"]
    (request,) = fake.requests
    assert request.path.endswith("/parcels/apn")
    assert request.params["path"] == "/us/pa/blair" and request.params["token"] == TOKEN


def test_address_fallback_when_the_number_finds_nothing(fake: RegridFake) -> None:
    with api(fake) as source:
        rec = source.lookup("WRONG-NUMBER", county="Blair", address="7 River Rd.")
    assert rec["parcelnumb"] == "99-00-00001-00"
    assert any("matched by address" in n for n in rec.notes)
    apn, address = fake.requests
    assert apn.path.endswith("parcels/apn") and address.path.endswith("parcels/address")
    assert address.params == {
        "query": "7 River Rd.",
        "path": "/us/pa/blair",
        "limit": "1",
        "token": TOKEN,
    }


def test_not_found_names_the_parcel_and_county(fake: RegridFake) -> None:
    with api(fake) as source:
        with pytest.raises(NotFoundError) as info:
            source.lookup("12-34", county="Blair", address="1 NOWHERE LN")
        assert str(info.value) == "Property not found in Regrid: 12-34 in Blair"
        with pytest.raises(NotFoundError):  # wrong county: path differs
            source.lookup("01.02-03..-004.05-006", county="Somerset")


def test_missing_token_is_a_config_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("REGRID_TOKEN", raising=False)
    with pytest.raises(ConfigError, match="set REGRID_TOKEN"):
        RegridAPI()
    with pytest.raises(ConfigError, match="set REGRID_TOKEN"):
        RegridAPI("   ")


def test_token_comes_from_the_environment(
    fake: RegridFake, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("REGRID_TOKEN", TOKEN)
    with RegridAPI(base_url=fake.base_url) as source:
        assert source.lookup("010203004.05006", county="Blair")["owner"] == "DOE JANE"


def test_wrong_token_is_fatal_and_actionable(fake: RegridFake) -> None:
    with RegridAPI("not-the-token", base_url=fake.base_url) as source:
        with pytest.raises(FatalSourceError) as info:
            source.lookup("01.02-03..-004.05-006", county="Blair")
    message = all_messages(info.value)
    assert "HTTP 401" in message and "REGRID_TOKEN" in message
    assert "not-the-token" not in message


def test_malformed_answer_names_the_url_without_token(fake: RegridFake) -> None:
    fake.script("/api/v2/parcels/apn", Reply(json={"status": "ok", "results": []}))
    with api(fake) as source, pytest.raises(SourceError) as info:
        source.lookup("01.02-03..-004.05-006", county="Blair")
    message = all_messages(info.value)
    assert "malformed" in message and "parcels/apn?parcelnumb=" in message
    assert "got ['results', 'status']" in message and TOKEN not in message


def test_bad_numbers_become_none_with_a_note(fake: RegridFake) -> None:
    fake.add(
        "BAD-1",
        county="Blair",
        fields={
            "lat": "forty",
            "lon": "-78.4",
            "yearbuilt": "19x5",
            "landval": "n/a",
            "ll_bldg_count": "1.5",
        },
    )
    with api(fake) as source:
        rec = source.lookup("BAD1", county="Blair")
    assert rec["year_built"] is None and rec["land_value"] is None and rec["bldg_count"] is None
    assert rec["lat"] is not None  # taken from the geometry instead
    text = " | ".join(rec.notes)
    for key in ("lat", "year_built", "land_value", "bldg_count"):
        assert f"{key}: " in text


def test_bad_geometry_leaves_measures_empty_with_a_note(fake: RegridFake) -> None:
    ring = [[-78.4, 40.5], [-78.399, 40.501], [-78.399, 40.5], [-78.4, 40.501], [-78.4, 40.5]]
    bowtie = {"type": "Polygon", "coordinates": [ring]}
    fake.add("BOW-1", county="Blair", fields={"lat": "40.5", "lon": "-78.4"}, geometry=bowtie)
    with api(fake) as source:
        rec = source.lookup("BOW-1", county="Blair")
    assert rec["width_ft"] is None and rec["compactness"] is None
    assert any("Self-intersection" in n for n in rec.notes)


def test_lookup_many_survives_a_429_storm_in_order(fake: RegridFake) -> None:
    fake.script("/api/v2/parcels/apn", *[Reply(429, json={}, headers={"Retry-After": "0.05"})] * 4)
    items = [
        ("01.02-03..-004.05-006", "Blair"),
        {"parcel_id": "NOPE", "county": "Blair"},
        {"parcel_id": "99-00-00001-00", "county": "Blair", "address": None},
        {"county": "Blair"},
    ]
    with api(fake, concurrency=4) as source:
        results = source.lookup_many(items)
    assert results[0]["parcelnumb"] == "01.02-03..-004.05-006"  # type: ignore[index]
    assert isinstance(results[1], NotFoundError)
    assert results[2]["address"] == "7 RIVER RD"  # type: ignore[index]
    assert "parcel_id" in str(results[3])
    assert source.client.counters.throttled == 4


def test_rerun_from_cache_sends_nothing(fake: RegridFake, tmp_path: Path) -> None:
    items = [("01.02-03..-004.05-006", "Blair"), ("MISSING", "Blair", "9 NO ST")]
    with api(fake, cache_dir=tmp_path) as source:
        first = source.lookup_many(items)
    sent = len(fake.requests)
    assert sent == 3  # apn, apn, address
    with api(fake, cache_dir=tmp_path) as source:
        second = source.lookup_many(items)
        assert source.client.counters.requests == 0
    assert len(fake.requests) == sent
    assert first[0] == second[0] and isinstance(second[1], NotFoundError)
    assert TOKEN.encode() not in (tmp_path / "http_cache.sqlite").read_bytes()


def test_api_and_bulk_give_the_same_record(tmp_path: Path) -> None:
    with RegridFake(token=TOKEN) as server:
        server.load_bulk_csv(BULK["Westmoreland"], county="Westmoreland")
        bulk = RegridBulk({"Westmoreland": BULK["Westmoreland"]})
        ids = [r["parcelnumb"] for r in _csv_rows(BULK["Westmoreland"])[:15]]
        with api(server) as source:
            for pid in ids:
                a = source.lookup(pid, county="Westmoreland")
                b = bulk.lookup(pid, county="Westmoreland")
                assert set(a) == set(b) == set(PARCEL_KEYS)
                same = {k: a[k] for k in PARCEL_KEYS if k not in ("source", "raw_json")}
                assert same == {k: b[k] for k in same}
                assert (a["source"], b["source"]) == ("api", "bulk")


# --- bulk ------------------------------------------------------------------------


def _csv_rows(path: Path) -> list[dict[str, str]]:
    with path.open(newline="") as fh:
        return list(csv.DictReader(line for line in fh if not line.startswith("#")))


def test_sample_bulk_covers_every_sample_parcel_with_variety() -> None:
    props = _csv_rows(SAMPLE / "properties.csv")
    bulk = RegridBulk(BULK)
    results = bulk.lookup_many([(p["parcel_id"], p["county"], p["address"]) for p in props])
    errors = [r for r in results if isinstance(r, Exception)]
    assert not errors
    recs = [r for r in results if not isinstance(r, Exception)]
    uses = " ".join(r["usedesc"] for r in recs)
    for word in ("CEMETERY", "WATER", "UTILITY", "RAILROAD", "RIGHT OF WAY"):
        assert word in uses
    assert any(r["width_ft"] < 20 for r in recs)
    assert any(r["lot_sqft"] < 1000 for r in recs)
    assert any(r["address"] is None for r in recs)
    assert any(not r["bldg_count"] and r["usedesc"] == "VACANT LAND" for r in recs)
    assert {"AE", "A", "X", None} <= {r["fema_flood_zone"] for r in recs}
    assert len({r["year_built"] for r in recs}) > 50
    total = sum(p.stat().st_size for p in BULK.values())
    assert total < 3_000_000


def test_bulk_matches_normalised_numbers_in_csv_and_geojson() -> None:
    bulk = RegridBulk(BULK)
    rec = bulk.lookup("38 20 21 001 22 859", county="blair county")
    assert rec["parcelnumb"] == "38.20-21..-001.22-859" and rec["source"] == "bulk"
    first_somerset = json.loads(BULK["Somerset"].read_text())["features"][0]["properties"]
    rec = bulk.lookup(first_somerset["parcelnumb"].lower(), county="Somerset")
    assert rec["ll_uuid"] == first_somerset["ll_uuid"]
    assert isinstance(rec["lat"], float) and rec["width_ft"] > 0


def test_bulk_index_is_built_once() -> None:
    bulk = RegridBulk({"Blair": BULK["Blair"]})
    assert bulk.index("Blair") is bulk.index("BLAIR")
    assert len(bulk.index("Blair").by_parcel) >= 252


def test_bulk_address_fallback_and_not_found() -> None:
    bulk = RegridBulk({"Blair": BULK["Blair"]})
    row = next(r for r in _csv_rows(BULK["Blair"]) if r["address"])
    rec = bulk.lookup("NOT-A-NUMBER", county="Blair", address=row["address"].lower() + ".")
    assert rec["address"] == row["address"]
    with pytest.raises(NotFoundError, match="Property not found in Regrid: NOPE in Blair"):
        bulk.lookup("NOPE", county="Blair")


def test_unknown_county_and_format_errors(tmp_path: Path) -> None:
    bulk = RegridBulk({"Blair": BULK["Blair"]})
    with pytest.raises(UnknownCountyError, match="Valid choices: Blair"):
        bulk.lookup("1", county="Bedford")
    shp = tmp_path / "pa_blair.shp"
    shp.write_bytes(b"")
    with pytest.raises(UnknownChoiceError, match="csv, geojson, gpkg"):
        bulk.register("Blair", shp)
    with pytest.raises(ConfigError, match="not found"):
        bulk.register("Blair", tmp_path / "missing.csv")


def test_missing_columns_are_named(tmp_path: Path) -> None:
    path = tmp_path / "bad.csv"
    path.write_text("apn,address,shape\n1,2 MAIN ST,POINT (0 0)\n")
    bulk = RegridBulk({"Blair": path})
    with pytest.raises(ConfigError) as info:
        bulk.lookup("1", county="Blair")
    assert "parcelnumb" in str(info.value) and "geometry column" in str(info.value)
    assert "found: apn, address, shape" in str(info.value)


def test_csv_with_geojson_geometry_column(tmp_path: Path) -> None:
    path = tmp_path / "geo.csv"
    with path.open("w", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(["parcelnumb", "lat", "lon", "geometry"])
        writer.writerow(["A-1", "", "", json.dumps(square(-78.0, 40.0))])
    rec = RegridBulk({"Blair": path}).lookup("a1", county="Blair")
    assert rec["width_ft"] > 100 and rec["lat"] == pytest.approx(40.0002, abs=1e-3)


def _gpkg_blob(wkb: bytes, bounds: tuple[float, float, float, float] | None) -> bytes:
    flags = 0b1  # little-endian header
    header = b""
    if bounds is not None:
        flags |= 1 << 1  # envelope [minx, maxx, miny, maxy]
        minx, miny, maxx, maxy = bounds
        header = struct.pack("<4d", minx, maxx, miny, maxy)
    return b"GP" + bytes([0, flags]) + struct.pack("<i", 4326) + header + wkb


def make_gpkg(path: Path, rows: list[tuple[str, str, bytes | None]], srs: int = 4326) -> None:
    db = sqlite3.connect(path)
    db.executescript(
        """
        CREATE TABLE gpkg_contents (table_name TEXT PRIMARY KEY, data_type TEXT, identifier TEXT,
            srs_id INTEGER);
        CREATE TABLE gpkg_geometry_columns (table_name TEXT, column_name TEXT,
            geometry_type_name TEXT, srs_id INTEGER, z INTEGER, m INTEGER);
        CREATE TABLE parcels (fid INTEGER PRIMARY KEY, geom BLOB, parcelnumb TEXT, address TEXT);
        """
    )
    db.execute("INSERT INTO gpkg_contents VALUES ('parcels', 'features', 'parcels', ?)", (srs,))
    db.execute(
        "INSERT INTO gpkg_geometry_columns VALUES ('parcels', 'geom', 'POLYGON', ?, 0, 0)", (srs,)
    )
    db.executemany("INSERT INTO parcels (parcelnumb, address, geom) VALUES (?, ?, ?)", rows)
    db.commit()
    db.close()


def test_geopackage_is_read_without_gdal(tmp_path: Path) -> None:
    import shapely
    from shapely.geometry import shape

    poly = shape(square(-78.4, 40.5, 0.0002))
    empty_flag = b"GP" + bytes([0, 0b10001]) + struct.pack("<i", 4326)
    path = tmp_path / "pa_blair.gpkg"
    make_gpkg(
        path,
        [
            ("01-001", "1 MAIN ST", _gpkg_blob(shapely.to_wkb(poly), poly.bounds)),
            ("01-002", "2 MAIN ST", _gpkg_blob(shapely.to_wkb(poly), None)),
            ("01-003", "3 MAIN ST", empty_flag),
        ],
    )
    bulk = RegridBulk({"Blair": path})
    one = bulk.lookup("01001", county="Blair")
    two = bulk.lookup("01 002", county="Blair")
    assert one["width_ft"] == two["width_ft"] and 50 < one["width_ft"] < 60
    assert shape(json.loads(one["geometry_geojson"])).equals(poly)
    assert json.loads(one["raw_json"])["address"] == "1 MAIN ST"
    three = bulk.lookup("01-003", county="Blair")
    assert three["geometry_geojson"] is None and any("geometry: missing" in n for n in three.notes)


def test_geopackage_in_another_projection_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "utm.gpkg"
    make_gpkg(path, [], srs=26917)
    with pytest.raises(ConfigError, match="EPSG:4326"):
        RegridBulk({"Blair": path}).lookup("1", county="Blair")


def test_not_a_geopackage(tmp_path: Path) -> None:
    path = tmp_path / "x.gpkg"
    sqlite3.connect(path).close()
    with pytest.raises(ConfigError, match="not a GeoPackage"):
        RegridBulk({"Blair": path}).lookup("1", county="Blair")
