"""USFWS National Wetlands Inventory: wetlands on a parcel.

The NWI map service (ArcGIS MapServer, layer 0) answers a spatial query with
features carrying ``WETLAND_TYPE``, ``ATTRIBUTE`` (the Cowardin code) and
``ACRES``. It sometimes answers HTTP 200 with an ArcGIS error body
(``{"error": {...}}``); :func:`toolkit.sources.fema.arcgis_error` hands those
to :class:`~toolkit.sources.http.HttpClient`'s retry.

With a parcel polygon the query uses the parcel's envelope and asks for the
wetland geometry (``outSR=4326``), so the share of the parcel covered by
wetlands is computed here (:func:`wetland_reading`); with only a point it asks
whether a wetland lies under the point, and the share stays unknown.

Example::

    with NWIWetlands() as nwi:
        reading = nwi.on_parcel(parcel_geojson)
        reading.on_parcel, reading.share
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from toolkit.exceptions import SourceError
from toolkit.sources.fema import arcgis_error, check_features, split_url

if TYPE_CHECKING:
    from shapely.geometry.base import BaseGeometry

DEFAULT_URL = (
    "https://fwspublicservices.wim.usgs.gov/wetlandsmapservice/rest/services/"
    "Wetlands/MapServer/0/query"
)
SOURCE = "usfws_wetlands"
OUT_FIELDS = ("WETLAND_TYPE", "ATTRIBUTE", "ACRES")
AREAL = ("Polygon", "MultiPolygon")


@dataclass(frozen=True)
class WetlandReading:
    """Wetlands on a parcel.

    ``on_parcel`` is None when unknown; ``share`` (0..1 of the parcel's area)
    is None when only a point was given. ``details`` holds one entry per
    wetland: ``wetland_type``, ``attribute``, ``acres``, ``parcel_share``.
    """

    on_parcel: bool | None
    share: float | None
    source: str
    details: list[dict[str, Any]] = field(default_factory=list)
    note: str | None = None

    @classmethod
    def unknown(cls, source: str, note: str) -> WetlandReading:
        return cls(None, None, source, note=note)


def _num(value: Any) -> float | None:
    try:
        return round(float(value), 4)
    except (TypeError, ValueError):
        return None


def _text(value: Any) -> str | None:
    text = str(value).strip() if value is not None else ""
    return text or None


def wetland_reading(
    where: BaseGeometry,
    hits: Sequence[tuple[Mapping[str, Any], BaseGeometry | None]],
    *,
    source: str,
) -> WetlandReading:
    """Combine wetland features found at a parcel into one :class:`WetlandReading`.

    With an areal ``where`` a wetland counts when it overlaps the parcel's
    area (merely touching the boundary does not) and ``share`` is the union of
    the overlaps over the parcel's area; a hit without geometry counts but
    makes the share unknown. With a point, any hit counts.

    Examples
    --------
    >>> from shapely.geometry import box
    >>> r = wetland_reading(box(0, 0, 2, 1), [({"WETLAND_TYPE": "Freshwater Pond"},
    ...                                         box(1.5, 0, 3, 1))], source="local_layer")
    >>> r.on_parcel, r.share
    (True, 0.25)
    """
    from shapely import union_all

    areal = where.geom_type in AREAL and where.area > 0
    details: list[dict[str, Any]] = []
    overlaps = []
    share_known = areal
    for attrs, geom in hits:
        parcel_share = None
        if areal:
            if geom is None:
                share_known = False
            else:
                overlap = geom.intersection(where)
                if overlap.area <= 0:
                    continue  # envelope hit or a shared boundary, not on the parcel
                overlaps.append(overlap)
                parcel_share = round(overlap.area / where.area, 4)
        details.append(
            {
                "wetland_type": _text(attrs.get("WETLAND_TYPE")),
                "attribute": _text(attrs.get("ATTRIBUTE")),
                "acres": _num(attrs.get("ACRES")),
                "parcel_share": parcel_share,
            }
        )
    share = None
    if share_known:
        share = round(union_all(overlaps).area / where.area, 4) if overlaps else 0.0
    note = None
    if not areal:
        note = "point query: share of the parcel unknown"
    elif not share_known:
        note = "some wetlands came without geometry: share unknown"
    return WetlandReading(bool(details), share, source, details=details, note=note)


def esri_polygon(geometry: Mapping[str, Any]) -> BaseGeometry:
    """Shapely geometry from an Esri JSON polygon (``{"rings": [...]}``).

    Esri rings run clockwise for outer boundaries and anticlockwise for holes.

    Examples
    --------
    >>> esri_polygon({"rings": [[[0, 0], [0, 1], [1, 1], [1, 0], [0, 0]]]}).area
    1.0
    """
    from shapely import make_valid
    from shapely.geometry import LinearRing, MultiPolygon, Polygon

    rings = geometry.get("rings") if isinstance(geometry, Mapping) else None
    if not isinstance(rings, list) or not rings:
        raise SourceError(f"{SOURCE}: feature geometry has no 'rings': {str(geometry)[:80]}")
    try:
        shells: list[Any] = []
        holes: list[Any] = []
        for ring in rings:
            lr = LinearRing([(float(p[0]), float(p[1])) for p in ring])
            (holes if lr.is_ccw else shells).append(lr)
        if not shells:  # some writers ignore the orientation rule
            shells, holes = holes, []
        polys = []
        for shell in shells:
            outer = Polygon(shell)
            inner = [h for h in holes if outer.contains(Polygon(h))]
            polys.append(Polygon(shell, inner))
    except (TypeError, ValueError, IndexError) as exc:
        raise SourceError(f"{SOURCE}: unreadable feature geometry: {exc}") from exc
    geom = polys[0] if len(polys) == 1 else MultiPolygon(polys)
    return geom if geom.is_valid else make_valid(geom)


class NWIWetlands:
    """USFWS NWI wetland queries through :class:`~toolkit.sources.http.HttpClient`.

    Parameters
    ----------
    url
        The layer's ``query`` URL (default :data:`DEFAULT_URL`).
    cache_dir
        Response cache; answers with an error body are retried, never cached.
    **client_options
        ``rate_per_minute``, ``timeout``, ``max_attempts``, ``backoff_initial`` …
    """

    kind = SOURCE
    label = SOURCE

    def __init__(
        self, url: str = DEFAULT_URL, *, cache_dir: str | Path | None = None, **client_options: Any
    ) -> None:
        from toolkit.sources.http import HttpClient

        base, self._path = split_url(url)
        self.client = HttpClient(
            SOURCE, base, cache_dir=cache_dir, error_body=arcgis_error, **client_options
        )

    def on_parcel(self, where: Any) -> WetlandReading:
        """Wetlands on a parcel polygon (with share) or under a ``(lon, lat)`` point.

        Raises
        ------
        SourceError
            The service failed after retries or answered malformed JSON.
        """
        from toolkit.geometry import to_shape

        shape = to_shape(where)
        areal = shape.geom_type in AREAL
        if areal:
            minx, miny, maxx, maxy = shape.bounds
            params = {
                "geometry": f"{minx:.7f},{miny:.7f},{maxx:.7f},{maxy:.7f}",
                "geometryType": "esriGeometryEnvelope",
                "returnGeometry": "true",
                "outSR": "4326",
            }
        else:
            point = shape.representative_point()
            params = {
                "geometry": f"{point.x:.7f},{point.y:.7f}",
                "geometryType": "esriGeometryPoint",
                "returnGeometry": "false",
            }
        params.update(
            inSR="4326",
            spatialRel="esriSpatialRelIntersects",
            outFields=",".join(OUT_FIELDS),
            f="json",
        )
        data = self.client.get_json(self._path, params, validate=check_features)
        hits = []
        for feat in data["features"]:
            geom = esri_polygon(feat["geometry"]) if areal and feat.get("geometry") else None
            hits.append((feat["attributes"], geom))
        return wetland_reading(
            shape if areal else shape.representative_point(), hits, source=SOURCE
        )

    def close(self) -> None:
        self.client.close()

    def __enter__(self) -> NWIWetlands:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
