"""Shape measures of a parcel from its GeoJSON geometry (EPSG:4326).

Coordinates are projected to feet with a *local tangent-plane* projection:
equirectangular around the parcel's own centroid, with the WGS84 ellipsoid's
meridional and prime-vertical radii of curvature at that latitude as the
north and east scales. Over a parcel (well under a few km) the distortion is
far below a part in ten thousand, so no pyproj/UTM is needed.

- ``width_ft``: short side of the minimum rotated rectangle (slivers are narrow);
- ``length_ft``: its long side; ``aspect_ratio`` = long / short;
- ``compactness``: Polsby-Popper 4πA/P² (1 for a circle, ~0.785 for a square);
- ``area_sqft``, ``perimeter_ft``.

Empty, non-areal, out-of-range or invalid (e.g. self-intersecting) geometry
raises :class:`toolkit.exceptions.ValidationError` naming the problem.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from toolkit.exceptions import ValidationError

if TYPE_CHECKING:
    from shapely.geometry.base import BaseGeometry

FEET_PER_METRE = 1 / 0.3048
_WGS84_A = 6378137.0
_WGS84_E2 = 6.69437999014e-3
AREAL_TYPES = ("Polygon", "MultiPolygon")


@dataclass(frozen=True)
class ShapeMeasures:
    """Measures of one parcel, in feet."""

    area_sqft: float
    perimeter_ft: float
    width_ft: float
    length_ft: float
    aspect_ratio: float
    compactness: float

    def as_dict(self) -> dict[str, float]:
        return asdict(self)


def load_geometry(geometry: str | Mapping[str, Any]) -> BaseGeometry:
    """Parse and check a GeoJSON geometry (text or mapping) in lon/lat degrees.

    Raises
    ------
    ValidationError
        Unreadable, empty, not a (Multi)Polygon, coordinates outside lon/lat
        range, or invalid (the reason from ``explain_validity``).

    Examples
    --------
    >>> g = load_geometry('{"type": "Polygon", "coordinates": [[[-78.4, 40.5], '
    ...                   '[-78.3999, 40.5], [-78.3999, 40.5001], [-78.4, 40.5]]]}')
    >>> g.geom_type
    'Polygon'
    """
    from shapely.geometry import shape
    from shapely.validation import explain_validity

    if geometry is None:
        raise ValidationError("geometry is missing (None); expected a GeoJSON Polygon")
    try:
        data = json.loads(geometry) if isinstance(geometry, str | bytes) else dict(geometry)
    except (TypeError, ValueError) as exc:
        raise ValidationError(f"geometry is not GeoJSON: {exc}") from exc
    kind = data.get("type") if isinstance(data, dict) else None
    if kind == "Feature":
        data = data.get("geometry") or {}
        kind = data.get("type")
    if kind not in AREAL_TYPES:
        raise ValidationError(
            f"geometry type {kind!r} has no area; valid choices: {', '.join(AREAL_TYPES)}"
        )
    try:
        geom = shape(data)
    except (KeyError, TypeError, ValueError, IndexError, AttributeError) as exc:
        raise ValidationError(f"geometry {kind} has unreadable coordinates: {exc}") from exc
    if geom.is_empty:
        raise ValidationError(f"geometry {kind} is empty")
    minx, miny, maxx, maxy = geom.bounds
    if not (-180 <= minx <= maxx <= 180 and -90 <= miny <= maxy <= 90):
        raise ValidationError(
            f"geometry bounds {geom.bounds} are not lon/lat degrees; expected EPSG:4326"
        )
    if not geom.is_valid:
        raise ValidationError(f"geometry is invalid: {explain_validity(geom)}")
    if geom.area == 0:
        raise ValidationError(f"geometry {kind} has zero area")
    return geom


def to_feet(geom: BaseGeometry) -> BaseGeometry:
    """Project a lon/lat geometry to local feet around its centroid (see module doc).

    Examples
    --------
    >>> from shapely.geometry import box
    >>> round(to_feet(box(-78.4, 40.5, -78.39, 40.51)).bounds[2] * 2)  # 0.01 deg of lon, in ft
    2781
    """
    import shapely

    c = geom.centroid
    lon0, lat0 = c.x, c.y
    phi = math.radians(lat0)
    w = 1 - _WGS84_E2 * math.sin(phi) ** 2
    meridional = _WGS84_A * (1 - _WGS84_E2) / w**1.5
    prime_vertical = _WGS84_A / math.sqrt(w)
    ky = math.radians(1) * meridional * FEET_PER_METRE
    kx = math.radians(1) * prime_vertical * math.cos(phi) * FEET_PER_METRE
    return shapely.transform(geom, lambda xy: (xy - (lon0, lat0)) * (kx, ky))


def measure(geometry: str | Mapping[str, Any]) -> ShapeMeasures:
    """Width, aspect ratio, compactness and area of a GeoJSON parcel geometry.

    Examples
    --------
    >>> m = measure({"type": "Polygon", "coordinates": [[[-78.4, 40.5], [-78.4, 40.5003],
    ...              [-78.39995, 40.5003], [-78.39995, 40.5], [-78.4, 40.5]]]})
    >>> round(m.width_ft), round(m.length_ft)   # ~14 ft by ~109 ft: a sliver
    (14, 109)
    """
    import shapely

    feet = to_feet(load_geometry(geometry))
    area = float(feet.area)
    perimeter = float(feet.length)
    rect = shapely.minimum_rotated_rectangle(feet)
    xy = list(rect.exterior.coords) if rect.geom_type == "Polygon" else []
    if len(xy) < 4:
        raise ValidationError("geometry is degenerate: its minimum rectangle has no area")
    sides = [math.dist(xy[0], xy[1]), math.dist(xy[1], xy[2])]
    width, length = min(sides), max(sides)
    if width <= 0:
        raise ValidationError("geometry is degenerate: zero width")
    return ShapeMeasures(
        area_sqft=area,
        perimeter_ft=perimeter,
        width_ft=width,
        length_ft=length,
        aspect_ratio=length / width,
        compactness=4 * math.pi * area / perimeter**2,
    )


def sketch_png(
    geometry_geojson: str | Mapping[str, Any], path: str | Path, size: int = 200
) -> Path:
    """Draw a small PNG outline of a parcel (north up, true proportions).

    Examples
    --------
    >>> sketch_png(record["geometry_geojson"], "parcel.png")  # doctest: +SKIP
    PosixPath('parcel.png')
    """
    from PIL import Image, ImageDraw

    if int(size) < 16:
        raise ValidationError(f"size must be at least 16 pixels, got {size!r}")
    size = int(size)
    feet = to_feet(load_geometry(geometry_geojson))
    minx, miny, maxx, maxy = feet.bounds
    margin = max(2, size // 16)
    scale = (size - 2 * margin) / max(maxx - minx, maxy - miny)
    offx = (size - (maxx - minx) * scale) / 2
    offy = (size - (maxy - miny) * scale) / 2

    def px(coords: Any) -> list[tuple[float, float]]:
        # image y grows downwards; flip so north is up
        return [(offx + (x - minx) * scale, size - offy - (y - miny) * scale) for x, y in coords]

    image = Image.new("RGB", (size, size), "white")
    draw = ImageDraw.Draw(image)
    polygons = list(feet.geoms) if feet.geom_type == "MultiPolygon" else [feet]
    for poly in polygons:
        draw.polygon(px(poly.exterior.coords), fill=(222, 235, 247), outline=(8, 48, 107))
        for hole in poly.interiors:
            draw.polygon(px(hole.coords), fill="white", outline=(8, 48, 107))
    out = Path(path)
    out.parent.mkdir(parents=True, exist_ok=True)
    image.save(out, format="PNG")
    return out


def to_shape(where: Any) -> BaseGeometry:
    """A shapely geometry from ``(lon, lat)``, GeoJSON (mapping or text) or shapely.

    Examples
    --------
    >>> to_shape((-78.4, 40.5)).wkt
    'POINT (-78.4 40.5)'
    >>> to_shape({"type": "Point", "coordinates": [-78.4, 40.5]}).geom_type
    'Point'
    """
    from shapely.geometry import Point, shape
    from shapely.geometry.base import BaseGeometry as Geometry

    if isinstance(where, Geometry):
        geom = where
    elif isinstance(where, Sequence) and not isinstance(where, str | bytes) and len(where) == 2:
        try:
            geom = Point(float(where[0]), float(where[1]))
        except (TypeError, ValueError) as exc:
            raise ValidationError(f"location {where!r} is not a (lon, lat) pair: {exc}") from exc
    else:
        try:
            data = json.loads(where) if isinstance(where, str | bytes) else dict(where)
            if data.get("type") == "Feature":
                data = data.get("geometry") or {}
            geom = shape(data)
        except (TypeError, ValueError, KeyError, IndexError, AttributeError) as exc:
            raise ValidationError(
                f"location {str(where)[:60]!r} is not (lon, lat), GeoJSON or a shapely geometry"
                f" ({exc})"
            ) from exc
    if geom.is_empty:
        raise ValidationError("location geometry is empty")
    minx, miny, maxx, maxy = geom.bounds
    if not (-180 <= minx <= maxx <= 180 and -90 <= miny <= maxy <= 90):
        raise ValidationError(f"location bounds {geom.bounds} are not lon/lat degrees (EPSG:4326)")
    return geom
