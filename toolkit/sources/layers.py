"""Local layer files standing in for outside services, so research runs offline.

A :class:`Layer` is a list of features (properties + shapely geometry, lon/lat
EPSG:4326) read once from a file and indexed with an STR-tree:

- GeoJSON FeatureCollection;
- GeoPackage feature table (sqlite3 + the GPKG blob decoder of
  :func:`toolkit.sources.regrid.gpkg_geometry_wkb`, no GDAL);
- CSV with ``lat``/``lon`` columns (points) or a WKT column (``wkt``, ``geom``,
  ``geometry``, ``the_geom``); lines starting with ``#`` are comments.

On top of a layer sit the four local sources with the same small interfaces
as the service clients (see :mod:`toolkit.environment`):

- :class:`LayerFloodSource` -- ``zone_at(lon, lat)``; polygons with FEMA's
  ``FLD_ZONE`` / ``ZONE_SUBTY`` / ``SFHA_TF`` attributes. As with the NFHL, a
  point on no polygon is *unmapped*, never zone X;
- :class:`LayerFacilitySource` -- ``within(lon, lat, radius_miles)``; points
  with ECHO's ``FacName`` / ``FacStreet`` / ``FacCity`` / ``RegistryID``;
- :class:`LayerWetlandSource` -- ``on_parcel(geometry or (lon, lat))``;
  polygons with NWI's ``WETLAND_TYPE`` / ``ATTRIBUTE`` / ``ACRES``;
- :class:`LayerMineSource` -- ``risk_at(lon, lat, geometry=None)``; polygons
  of undermined areas with a ``status`` attribute (PA DEP publishes mining
  extents on PASDA; there is no verified query service).

A layer may state its ``coverage`` (a lon/lat bounding box): outside it every
answer is "unknown" rather than "nothing here".

Example::

    flood = LayerFloodSource(read_layer("data/sample/layers/flood_zones_synthetic.geojson"))
    flood.zone_at(-78.35, 40.41).zone
"""

from __future__ import annotations

import csv
import json
import logging
import math
import sqlite3
import sys
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from toolkit.exceptions import ConfigError, UnknownChoiceError, ValidationError
from toolkit.geometry import to_shape
from toolkit.sources.echo import Facility, haversine_miles
from toolkit.sources.fema import FloodReading, reading_from_attributes
from toolkit.sources.wetlands import WetlandReading, wetland_reading

if TYPE_CHECKING:
    from shapely.geometry.base import BaseGeometry

log = logging.getLogger(__name__)

LAYER_FORMATS = ("csv", "geojson", "gpkg")
_SUFFIXES = {".csv": "csv", ".geojson": "geojson", ".json": "geojson", ".gpkg": "gpkg"}
LAT_COLUMNS = ("lat", "latitude", "faclat", "y")
LON_COLUMNS = ("lon", "lng", "long", "longitude", "faclong", "x")
WKT_COLUMNS = ("wkt", "geom", "geometry", "the_geom")
MILES_PER_DEG_LAT = 69.05  # a slight overestimate keeps the bbox prefilter inclusive
LOCAL_KIND = "local_layer"


@dataclass(frozen=True)
class Feature:
    """One feature of a layer: its attributes and its lon/lat geometry."""

    properties: dict[str, Any]
    geometry: BaseGeometry


class Layer:
    """Features of one local file, with an STR-tree for spatial questions.

    Parameters
    ----------
    features
        The layer's features (lon/lat).
    name
        Shown in labels and messages (default: the file name).
    coverage
        ``(min_lon, min_lat, max_lon, max_lat)`` the layer claims to cover;
        ``None`` = everywhere.

    Examples
    --------
    >>> from shapely.geometry import box
    >>> layer = Layer([Feature({"FLD_ZONE": "AE"}, box(-78.5, 40.4, -78.4, 40.5))], name="t")
    >>> [f.properties["FLD_ZONE"] for f in layer.at(-78.45, 40.45)]
    ['AE']
    """

    def __init__(
        self,
        features: Iterable[Feature],
        *,
        name: str,
        path: Path | None = None,
        coverage: Sequence[float] | None = None,
    ) -> None:
        from shapely import STRtree

        self.features = list(features)
        self.name = name
        self.path = path
        self.coverage = _check_bbox(coverage, name) if coverage is not None else None
        self._tree = STRtree([f.geometry for f in self.features])

    def __len__(self) -> int:
        return len(self.features)

    def covers(self, geom: BaseGeometry) -> bool:
        """Whether ``geom`` lies within the stated coverage (always, when none is stated)."""
        if self.coverage is None:
            return True
        from shapely.geometry import box

        return bool(box(*self.coverage).covers(geom))

    def intersecting(self, geom: BaseGeometry) -> list[Feature]:
        """Features whose geometry intersects ``geom``, in file order."""
        hits = sorted(int(i) for i in self._tree.query(geom, predicate="intersects"))
        return [self.features[i] for i in hits]

    def at(self, lon: float, lat: float) -> list[Feature]:
        """Features under the point ``lon, lat`` (boundary included)."""
        from shapely.geometry import Point

        return self.intersecting(Point(lon, lat))

    def near(self, lon: float, lat: float, radius_miles: float) -> list[tuple[Feature, float]]:
        """Features within ``radius_miles`` of the point, nearest first (great-circle miles)."""
        from shapely.geometry import box

        if not radius_miles >= 0:
            raise ValidationError(f"radius_miles must be >= 0, got {radius_miles!r}")
        dlat = radius_miles / MILES_PER_DEG_LAT * 1.01
        dlon = dlat / max(math.cos(math.radians(min(abs(lat) + dlat, 89.9))), 1e-6)
        window = box(lon - dlon, lat - dlat, lon + dlon, lat + dlat)
        out = []
        for feat in self.intersecting(window):
            point = feat.geometry.representative_point()
            miles = haversine_miles(lon, lat, point.x, point.y)
            if miles <= radius_miles:
                out.append((feat, miles))
        return sorted(out, key=lambda pair: pair[1])


def _check_bbox(bbox: Sequence[float], name: str) -> tuple[float, float, float, float]:
    try:
        minx, miny, maxx, maxy = (float(v) for v in bbox)
    except (TypeError, ValueError) as exc:
        raise ConfigError(
            f"coverage of layer {name} must be (min_lon, min_lat, max_lon, max_lat), got {bbox!r}"
        ) from exc
    if not (-180 <= minx < maxx <= 180 and -90 <= miny < maxy <= 90):
        raise ConfigError(f"coverage of layer {name} {bbox!r} is not a lon/lat box")
    return minx, miny, maxx, maxy


# --- readers -----------------------------------------------------------------


def read_layer(
    path: str | Path,
    *,
    format: str | None = None,
    layer: str | None = None,
    lat_field: str | None = None,
    lon_field: str | None = None,
    geometry_field: str | None = None,
    coverage: Sequence[float] | None = None,
) -> Layer:
    """Read a GeoJSON / GeoPackage / CSV layer file (lon/lat, EPSG:4326).

    ``format`` defaults from the suffix; ``layer`` picks a GeoPackage table
    when it holds several; for CSV, ``lat_field``/``lon_field`` or
    ``geometry_field`` (WKT) override the column detection.

    Raises
    ------
    ConfigError
        Missing file, unknown format, missing columns, a row with unreadable
        coordinates or geometry, or coordinates that are not lon/lat.

    Examples
    --------
    >>> read_layer("data/sample/layers/epa_facilities_synthetic.csv").name  # doctest: +SKIP
    'epa_facilities_synthetic.csv'
    """
    file = Path(path)
    if not file.is_file():
        raise ConfigError(f"layer file not found: {file}")
    fmt = (format or _SUFFIXES.get(file.suffix.lower(), file.suffix.lower().lstrip("."))).lower()
    if fmt not in LAYER_FORMATS:
        raise UnknownChoiceError("layer file format", fmt, LAYER_FORMATS)
    if fmt == "geojson":
        features = _read_geojson(file)
    elif fmt == "gpkg":
        features = _read_gpkg(file, layer)
    else:
        features = _read_csv(file, lat_field, lon_field, geometry_field)
    for i, feat in enumerate(features):
        minx, miny, maxx, maxy = feat.geometry.bounds
        if not (-180 <= minx <= maxx <= 180 and -90 <= miny <= maxy <= 90):
            raise ConfigError(
                f"layer {file.name}: feature {i + 1} has bounds {feat.geometry.bounds},"
                " not lon/lat degrees; layers must be EPSG:4326"
            )
    return Layer(features, name=file.name, path=file.resolve(), coverage=coverage)


def _read_geojson(file: Path) -> list[Feature]:
    from shapely.geometry import shape

    try:
        data = json.loads(file.read_text(encoding="utf-8"))
    except (OSError, ValueError, UnicodeDecodeError) as exc:
        raise ConfigError(f"layer {file.name} is not valid GeoJSON: {exc}") from exc
    raw = data.get("features") if isinstance(data, dict) else None
    if not isinstance(raw, list):
        raise ConfigError(f"layer {file.name} is not a GeoJSON FeatureCollection")
    out = []
    for i, feat in enumerate(raw):
        geometry = feat.get("geometry") if isinstance(feat, dict) else None
        if not geometry:
            raise ConfigError(f"layer {file.name}: feature {i + 1} has no geometry")
        try:
            geom = shape(geometry)
        except (TypeError, ValueError, KeyError, IndexError, AttributeError) as exc:
            raise ConfigError(
                f"layer {file.name}: feature {i + 1} geometry unreadable: {exc}"
            ) from exc
        out.append(Feature(dict(feat.get("properties") or {}), geom))
    return out


def _read_csv(
    file: Path, lat_field: str | None, lon_field: str | None, geometry_field: str | None
) -> list[Feature]:
    import shapely
    from shapely.geometry import Point

    csv.field_size_limit(min(sys.maxsize, 2**31 - 1))  # WKT of a big polygon
    with file.open(newline="", encoding="utf-8-sig") as fh:
        lines = (line for line in fh if not line.startswith("#"))
        reader = csv.DictReader(lines)
        columns = list(reader.fieldnames or [])
        lower = {c.lower(): c for c in columns}

        def pick(given: str | None, names: tuple[str, ...]) -> str | None:
            if given is not None:
                if given not in columns:
                    raise ConfigError(
                        f"layer {file.name} has no column {given!r}; found: {', '.join(columns)}"
                    )
                return given
            return next((lower[n] for n in names if n in lower), None)

        wkt = pick(geometry_field, WKT_COLUMNS)
        lat = lon = None
        if wkt is None or lat_field or lon_field:
            lat, lon = pick(lat_field, LAT_COLUMNS), pick(lon_field, LON_COLUMNS)
            if lat is not None and lon is not None:
                wkt = None
        if wkt is None and (lat is None or lon is None):
            raise ConfigError(
                f"layer {file.name} needs lat/lon columns ({'/'.join(LAT_COLUMNS)} and"
                f" {'/'.join(LON_COLUMNS)}) or a WKT column ({'/'.join(WKT_COLUMNS)});"
                f" found: {', '.join(columns) or 'none'}"
            )
        out = []
        for row in reader:
            where = f"layer {file.name} line {reader.line_num}"
            try:
                if wkt is not None:
                    geom = shapely.from_wkt(row[wkt])
                    props = {k: v for k, v in row.items() if k is not None and k != wkt}
                else:
                    geom = Point(float(row[lon]), float(row[lat]))
                    props = {k: v for k, v in row.items() if k is not None}
            except (TypeError, ValueError, shapely.errors.ShapelyError) as exc:
                raise ConfigError(f"{where}: unreadable location ({exc})") from exc
            if geom is None or geom.is_empty:
                raise ConfigError(f"{where}: empty geometry")
            out.append(Feature(props, geom))
    return out


def _read_gpkg(file: Path, layer: str | None) -> list[Feature]:
    import shapely

    from toolkit.exceptions import SourceError
    from toolkit.sources.regrid import gpkg_geometry_wkb, iter_gpkg

    out = []
    try:
        for _, column, rows in iter_gpkg(file, layer):
            for n, record in enumerate(rows, start=1):
                blob = record.pop(column, None)
                try:
                    wkb = gpkg_geometry_wkb(blob) if blob is not None else None
                    geom = shapely.from_wkb(wkb) if wkb is not None else None
                except (ValidationError, shapely.errors.ShapelyError) as exc:
                    raise ConfigError(f"GeoPackage {file.name} row {n}: {exc}") from exc
                if geom is None or geom.is_empty:
                    raise ConfigError(f"GeoPackage {file.name} row {n}: empty geometry")
                out.append(Feature(record, geom))
    except SourceError as exc:  # a layer file is configuration: say so
        raise ConfigError(str(exc)) from exc
    return out


def open_layer(spec: str | Path | Layer | Mapping[str, Any]) -> Layer:
    """A :class:`Layer` from a path, a ready layer, or ``{"path": ..., **read_layer options}``."""
    if isinstance(spec, Layer):
        return spec
    if isinstance(spec, Mapping):
        options = dict(spec)
        if "path" not in options:
            raise ConfigError(f"layer settings {options!r} lack 'path'")
        return read_layer(options.pop("path"), **options)
    return read_layer(spec)


# --- the four local sources ---------------------------------------------------------


@dataclass
class _LayerSource:
    layer: Layer
    kind: str = field(default=LOCAL_KIND, init=False)

    @property
    def label(self) -> str:
        """``local_layer:<file name>``, used in ``inputs_used``."""
        return f"{LOCAL_KIND}:{self.layer.name}"

    def close(self) -> None:
        """Nothing to release; here for the common source interface."""


@dataclass
class LayerFloodSource(_LayerSource):
    """Flood zones from a local polygon layer with FEMA's attribute names.

    Examples
    --------
    >>> layer = read_layer("data/sample/layers/flood_zones_synthetic.geojson")  # doctest: +SKIP
    >>> src = LayerFloodSource(layer)  # doctest: +SKIP
    >>> src.zone_at(-78.3486, 40.4142).zone  # doctest: +SKIP
    'AE'
    """

    zone_field: str = "FLD_ZONE"
    subtype_field: str = "ZONE_SUBTY"
    sfha_field: str = "SFHA_TF"
    bfe_field: str = "STATIC_BFE"

    def zone_at(self, lon: float, lat: float) -> FloodReading:
        """The (most hazardous) zone under the point; unmapped when no polygon is there."""
        from shapely.geometry import Point

        if not self.layer.covers(Point(lon, lat)):
            return FloodReading.unmapped(LOCAL_KIND, f"outside the coverage of {self.layer.name}")
        hits = [
            {
                "FLD_ZONE": f.properties.get(self.zone_field),
                "ZONE_SUBTY": f.properties.get(self.subtype_field),
                "SFHA_TF": f.properties.get(self.sfha_field),
                "STATIC_BFE": f.properties.get(self.bfe_field),
            }
            for f in self.layer.at(lon, lat)
        ]
        if not hits:
            return FloodReading.unmapped(LOCAL_KIND, f"no flood-zone polygon in {self.layer.name}")
        return reading_from_attributes(hits, source=LOCAL_KIND)


@dataclass
class LayerFacilitySource(_LayerSource):
    """Regulated facilities from a local point layer with ECHO's attribute names."""

    name_field: str = "FacName"
    street_field: str = "FacStreet"
    city_field: str = "FacCity"
    id_field: str = "RegistryID"

    def within(self, lon: float, lat: float, radius_miles: float) -> list[Facility]:
        """Facilities within ``radius_miles`` of the point, nearest first."""
        out = []
        for feat, miles in self.layer.near(lon, lat, radius_miles):
            p = feat.properties
            point = feat.geometry.representative_point()
            out.append(
                Facility(
                    name=_text(p.get(self.name_field)),
                    street=_text(p.get(self.street_field)),
                    city=_text(p.get(self.city_field)),
                    registry_id=_text(p.get(self.id_field)),
                    distance_miles=round(miles, 3),
                    lat=point.y,
                    lon=point.x,
                )
            )
        return out


@dataclass
class LayerWetlandSource(_LayerSource):
    """Wetlands from a local polygon layer with NWI's attribute names."""

    type_field: str = "WETLAND_TYPE"
    attribute_field: str = "ATTRIBUTE"
    acres_field: str = "ACRES"

    def on_parcel(self, where: Any) -> WetlandReading:
        """Wetlands touching the parcel geometry (share of area) or under a ``(lon, lat)`` point."""
        shape = to_shape(where)
        if not self.layer.covers(shape):
            return WetlandReading.unknown(LOCAL_KIND, f"outside the coverage of {self.layer.name}")
        hits = [
            (
                {
                    "WETLAND_TYPE": f.properties.get(self.type_field),
                    "ATTRIBUTE": f.properties.get(self.attribute_field),
                    "ACRES": f.properties.get(self.acres_field),
                },
                f.geometry,
            )
            for f in self.layer.intersecting(shape)
        ]
        return wetland_reading(shape, hits, source=LOCAL_KIND)


@dataclass(frozen=True)
class MineReading:
    """Mine-subsidence answer: ``status`` ``"none"``, a layer status, or ``None`` (unknown)."""

    status: str | None
    source: str
    details: list[dict[str, Any]] = field(default_factory=list)
    note: str | None = None


@dataclass
class LayerMineSource(_LayerSource):
    """Undermined areas from a local polygon layer.

    A hit takes the feature's ``status_field`` value (lower-cased), or
    ``default_status`` when the layer has no such attribute; no hit is
    ``"none"`` (the layer lists known mined areas only, so coverage matters).
    """

    status_field: str = "status"
    default_status: str = "undermined"
    name_field: str = "name"

    def risk_at(self, lon: float, lat: float, geometry: Any = None) -> MineReading:
        """Mining status under the parcel (its geometry when given, else the point)."""
        from shapely.geometry import Point

        shape = to_shape(geometry) if geometry is not None else Point(lon, lat)
        if not self.layer.covers(shape):
            return MineReading(None, LOCAL_KIND, note=f"outside the coverage of {self.layer.name}")
        hits = self.layer.intersecting(shape)
        if not hits:
            return MineReading("none", LOCAL_KIND, note=f"no mined area in {self.layer.name}")
        details = [
            {
                "status": (
                    _text(f.properties.get(self.status_field)) or self.default_status
                ).lower(),
                "name": _text(f.properties.get(self.name_field)),
            }
            for f in hits
        ]
        # the worst status wins: the default ("undermined") before anything milder
        statuses = [d["status"] for d in details]
        status = self.default_status if self.default_status in statuses else statuses[0]
        return MineReading(status, LOCAL_KIND, details=details)


def _text(value: Any) -> str | None:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return None
    text = str(value).strip()
    return text or None


# --- writing ------------------------------------------------------------------------


def _gpkg_blob(geom: BaseGeometry, srs_id: int = 4326) -> bytes:
    import struct

    import shapely

    # flags 0b011: little-endian, envelope [minx, maxx, miny, maxy] (32 bytes)
    minx, miny, maxx, maxy = geom.bounds
    header = b"GP\x00\x03" + struct.pack("<i", srs_id) + struct.pack("<4d", minx, maxx, miny, maxy)
    return header + shapely.to_wkb(geom, byte_order=1)


def write_gpkg(
    path: str | Path,
    features: Iterable[Feature],
    *,
    table: str,
    description: str = "",
    last_change: str | None = None,
) -> Path:
    """Write features (lon/lat) as one GeoPackage feature table, with sqlite3 only.

    Attribute columns are REAL when every value is a number, else TEXT.
    ``last_change`` (ISO 8601, default now) lets a generator write the same bytes twice.

    Examples
    --------
    >>> from shapely.geometry import box
    >>> write_gpkg(tmp / "m.gpkg", [Feature({"status": "undermined"}, box(0, 0, 1, 1))],
    ...            table="mines")  # doctest: +SKIP
    """
    if not table.replace("_", "").isalnum():
        raise ValidationError(f"table name {table!r} must be letters, digits and underscores")
    feats = list(features)
    columns: dict[str, str] = {}
    for feat in feats:
        for key, value in feat.properties.items():
            numeric = isinstance(value, int | float) and not isinstance(value, bool)
            if value is None:
                columns.setdefault(key, "REAL")
            elif not numeric:
                columns[key] = "TEXT"
            else:
                columns.setdefault(key, "REAL")
    out = Path(path)
    out.parent.mkdir(parents=True, exist_ok=True)
    if out.exists():
        out.unlink()
    kinds = sorted({f.geometry.geom_type.upper() for f in feats}) or ["GEOMETRY"]
    geom_type = kinds[0] if len(kinds) == 1 else "GEOMETRY"
    from shapely import union_all

    bounds = union_all([f.geometry for f in feats]).bounds if feats else (None,) * 4
    db = sqlite3.connect(out)
    try:
        db.execute("PRAGMA application_id = 1196444487")  # 'GPKG'
        db.execute("PRAGMA user_version = 10300")
        db.executescript(
            """
            CREATE TABLE gpkg_spatial_ref_sys (srs_name TEXT NOT NULL, srs_id INTEGER PRIMARY KEY,
                organization TEXT NOT NULL, organization_coordsys_id INTEGER NOT NULL,
                definition TEXT NOT NULL, description TEXT);
            CREATE TABLE gpkg_contents (table_name TEXT PRIMARY KEY, data_type TEXT NOT NULL,
                identifier TEXT UNIQUE, description TEXT DEFAULT '', last_change DATETIME NOT NULL
                DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ','now')), min_x DOUBLE, min_y DOUBLE,
                max_x DOUBLE, max_y DOUBLE, srs_id INTEGER);
            CREATE TABLE gpkg_geometry_columns (table_name TEXT NOT NULL, column_name TEXT NOT NULL,
                geometry_type_name TEXT NOT NULL, srs_id INTEGER NOT NULL, z TINYINT NOT NULL,
                m TINYINT NOT NULL, PRIMARY KEY (table_name, column_name));
            """
        )
        db.executemany(
            "INSERT INTO gpkg_spatial_ref_sys VALUES (?, ?, ?, ?, ?, ?)",
            [
                ("Undefined cartesian SRS", -1, "NONE", -1, "undefined", None),
                ("Undefined geographic SRS", 0, "NONE", 0, "undefined", None),
                (
                    "WGS 84 geodetic",
                    4326,
                    "EPSG",
                    4326,
                    'GEOGCS["WGS 84",DATUM["WGS_1984",SPHEROID["WGS 84",6378137,298.257223563]],'
                    'PRIMEM["Greenwich",0],UNIT["degree",0.0174532925199433]]',
                    "longitude/latitude",
                ),
            ],
        )
        cols = "".join(f', "{name}" {kind}' for name, kind in columns.items())
        db.execute(
            f'CREATE TABLE "{table}" (fid INTEGER PRIMARY KEY AUTOINCREMENT, geom BLOB{cols})'
        )
        db.execute(
            "INSERT INTO gpkg_contents (table_name, data_type, identifier, description,"
            " last_change, min_x, min_y, max_x, max_y, srs_id)"
            " VALUES (?, 'features', ?, ?, coalesce(?, strftime('%Y-%m-%dT%H:%M:%fZ','now')),"
            " ?, ?, ?, ?, 4326)",
            (table, table, description, last_change, *bounds),
        )
        db.execute(
            "INSERT INTO gpkg_geometry_columns VALUES (?, 'geom', ?, 4326, 0, 0)",
            (table, geom_type),
        )
        names = "".join(f', "{n}"' for n in columns)
        marks = ", ?" * len(columns)
        sql = f'INSERT INTO "{table}" (geom{names}) VALUES (?{marks})'
        db.executemany(
            sql, [(_gpkg_blob(f.geometry), *(f.properties.get(n) for n in columns)) for f in feats]
        )
        db.commit()
    finally:
        db.close()
    return out
