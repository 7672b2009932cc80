"""Shape measures and sketches of parcel geometry (toolkit.geometry)."""

from __future__ import annotations

import json
import math

import pytest

from toolkit.exceptions import ValidationError
from toolkit.geometry import load_geometry, measure, sketch_png

LAT, LON = 40.5, -78.4
R_EARTH_FT = 6_371_008.8 / 0.3048


def haversine_ft(lon1: float, lat1: float, lon2: float, lat2: float) -> float:
    """Independent reference distance on a sphere."""
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dp, dl = p2 - p1, math.radians(lon2 - lon1)
    a = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * R_EARTH_FT * math.asin(math.sqrt(a))


def poly(points: list[tuple[float, float]]) -> dict[str, object]:
    return {"type": "Polygon", "coordinates": [[*map(list, points), list(points[0])]]}


def rect(dlon: float, dlat: float) -> dict[str, object]:
    return poly([(LON, LAT), (LON + dlon, LAT), (LON + dlon, LAT + dlat), (LON, LAT + dlat)])


def rotated_rect(width_ft: float, length_ft: float, angle_deg: float) -> dict[str, object]:
    """A rectangle of given size in feet, rotated, placed with a spherical scale."""
    ky = R_EARTH_FT * math.pi / 180
    kx = ky * math.cos(math.radians(LAT))
    a = math.radians(angle_deg)
    pts = []
    for x, y in [(0, 0), (width_ft, 0), (width_ft, length_ft), (0, length_ft)]:
        xr, yr = x * math.cos(a) - y * math.sin(a), x * math.sin(a) + y * math.cos(a)
        pts.append((LON + xr / kx, LAT + yr / ky))
    return poly(pts)


def test_rectangle_sides_match_an_independent_distance() -> None:
    m = measure(rect(0.0002, 0.001))
    width = haversine_ft(LON, LAT, LON + 0.0002, LAT)
    length = haversine_ft(LON, LAT, LON, LAT + 0.001)
    # the ellipsoid and the sphere differ by well under 1 %
    assert m.width_ft == pytest.approx(width, rel=0.01)
    assert m.length_ft == pytest.approx(length, rel=0.01)
    assert m.area_sqft == pytest.approx(width * length, rel=0.02)
    assert m.aspect_ratio == pytest.approx(length / width, rel=0.01)


@pytest.mark.parametrize("angle", [0, 17, 45, 90, 133])
def test_width_does_not_depend_on_rotation(angle: float) -> None:
    m = measure(rotated_rect(12.0, 150.0, angle))
    assert m.width_ft == pytest.approx(12.0, rel=0.01)
    assert m.length_ft == pytest.approx(150.0, rel=0.01)
    assert m.aspect_ratio == pytest.approx(12.5, rel=0.02)


def test_compactness_is_polsby_popper() -> None:
    square = measure(rotated_rect(100, 100, 30))
    assert square.compactness == pytest.approx(math.pi / 4, rel=0.01)
    sliver = measure(rotated_rect(10, 400, 0))
    assert sliver.compactness < 0.1
    ring = [
        (LON + 0.001 * math.cos(t), LAT + 0.00076 * math.sin(t))
        for t in (2 * math.pi * i / 256 for i in range(256))
    ]
    assert measure(poly(ring)).compactness > 0.99  # near-circle


def test_accepts_text_features_and_multipolygons() -> None:
    text = json.dumps(rect(0.0003, 0.0003))
    assert measure(text) == measure(rect(0.0003, 0.0003))
    feature = {"type": "Feature", "geometry": rect(0.0003, 0.0003), "properties": {}}
    assert measure(feature).area_sqft == pytest.approx(measure(text).area_sqft)
    a = rect(0.0003, 0.0003)["coordinates"]
    b = [[[x + 0.001, y] for x, y in a[0]]]
    multi = {"type": "MultiPolygon", "coordinates": [a, b]}
    assert measure(multi).area_sqft == pytest.approx(2 * measure(text).area_sqft, rel=1e-3)


@pytest.mark.parametrize(
    ("geometry", "problem"),
    [
        (None, "missing"),
        ("not json", "not GeoJSON"),
        ({"type": "Point", "coordinates": [LON, LAT]}, "'Point' has no area"),
        ({"type": "Polygon", "coordinates": []}, "empty"),
        # bow-tie: the ring crosses itself
        (
            poly([(LON, LAT), (LON + 0.001, LAT + 0.001), (LON + 0.001, LAT), (LON, LAT + 0.001)]),
            "Self-intersection",
        ),
        (poly([(500000, 4480000), (500100, 4480000), (500100, 4480100)]), "EPSG:4326"),
        (poly([(LON, LAT), (LON + 0.001, LAT), (LON + 0.002, LAT)]), "invalid"),
    ],
)
def test_bad_geometry_is_a_validation_error_naming_the_problem(
    geometry: object, problem: str
) -> None:
    with pytest.raises(ValidationError, match=problem):
        measure(geometry)  # type: ignore[arg-type]


def test_load_geometry_returns_shapely() -> None:
    assert load_geometry(rect(0.001, 0.001)).geom_type == "Polygon"


def test_sketch_png_draws_the_outline(tmp_path) -> None:  # type: ignore[no-untyped-def]
    from PIL import Image

    outer = [(LON, LAT), (LON + 0.001, LAT), (LON + 0.001, LAT + 0.001), (LON, LAT + 0.001)]
    hole = [
        (LON + 0.0004, LAT + 0.0004),
        (LON + 0.0006, LAT + 0.0004),
        (LON + 0.0006, LAT + 0.0006),
        (LON + 0.0004, LAT + 0.0006),
    ]
    geometry = {
        "type": "Polygon",
        "coordinates": [[*map(list, outer), list(outer[0])], [*map(list, hole), list(hole[0])]],
    }
    out = sketch_png(json.dumps(geometry), tmp_path / "sub" / "p.png", size=120)
    with Image.open(out) as img:
        assert img.format == "PNG" and img.size == (120, 120)
        rgb = img.convert("RGB")
        white = (255, 255, 255)
        assert rgb.getpixel((1, 1)) == white  # margin
        assert rgb.getpixel((30, 60)) != white  # inside the parcel
        assert rgb.getpixel((60, 60)) == white  # the hole


def test_sketch_png_rejects_bad_input(tmp_path) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(ValidationError, match="size"):
        sketch_png(rect(0.001, 0.001), tmp_path / "x.png", size=4)
    with pytest.raises(ValidationError, match="empty"):
        sketch_png({"type": "Polygon", "coordinates": []}, tmp_path / "x.png")
    assert not (tmp_path / "x.png").exists()
