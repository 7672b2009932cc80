"""Fake FEMA NFHL, EPA ECHO and USFWS wetlands services on 127.0.0.1.

Each speaks its service's JSON, including its error shapes:

- :class:`NFHLFake` / :class:`WetlandsFake` -- ArcGIS MapServer ``query``:
  ``{"features": [{"attributes": {...}, "geometry": {"rings": ...}}]}``; a bad
  request gets ArcGIS's ``{"error": {"code", "message", "details"}}`` with
  HTTP 200 (as ArcGIS servers do); :func:`arcgis_error_reply` scripts one;
- :class:`EchoFake` -- ``echo_rest_services.get_facilities`` (QueryID,
  QueryRows) and ``get_qid`` (Facilities, paged by ``responseset`` /
  ``pageno``); errors as ``{"Results": {"Error": {"ErrorMessage": ...}}}``;
  :meth:`EchoFake.expire_all` makes every issued query id invalid, as ECHO
  does after ~30 minutes.

Polygons are held as shapely geometries and matched with real spatial
predicates, so a test's expectation comes from geometry it can check by hand.

Example::

    with NFHLFake() as nfhl:
        nfhl.add_zone(box(-78.5, 40.4, -78.4, 40.5), "AE", sfha="T")
        FemaNFHL(url=nfhl.query_url).zone_at(-78.45, 40.45).zone   # 'AE'
"""

from __future__ import annotations

import itertools
import math
import threading
from typing import Any

from shapely.geometry import Point, box, mapping, shape
from shapely.geometry.base import BaseGeometry
from shapely.geometry.polygon import orient

from .server import FakeService, Reply, Request

NFHL_PATH = "/arcgis/rest/services/public/NFHL/MapServer/28/query"
WETLANDS_PATH = "/wetlandsmapservice/rest/services/Wetlands/MapServer/0/query"
ECHO_PREFIX = "/echo/"
ECHO_FACILITIES = ECHO_PREFIX + "echo_rest_services.get_facilities"
ECHO_QID = ECHO_PREFIX + "echo_rest_services.get_qid"
EARTH_RADIUS_MILES = 3958.7613


def arcgis_error_reply(message: str = "Error performing query operation", code: int = 500) -> Reply:
    """ArcGIS's error answer: HTTP 200 with an ``error`` object."""
    return Reply(200, json={"error": {"code": code, "message": message, "details": []}})


def echo_error_reply(message: str) -> Reply:
    """ECHO's error answer: HTTP 200 with ``Results.Error.ErrorMessage``."""
    return Reply(200, json={"Results": {"Error": {"ErrorMessage": message}}})


def esri_rings(geom: BaseGeometry) -> dict[str, Any]:
    """Esri JSON polygon: outer rings clockwise, holes anticlockwise."""
    polys = list(geom.geoms) if geom.geom_type == "MultiPolygon" else [geom]
    rings = []
    for poly in polys:
        poly = orient(poly, sign=-1.0)
        rings.append([list(c) for c in poly.exterior.coords])
        rings.extend([list(c) for c in hole.coords] for hole in poly.interiors)
    return {"rings": rings, "spatialReference": {"wkid": 4326}}


class ArcGISLayerFake(FakeService):
    """One ArcGIS MapServer layer's ``query`` endpoint."""

    path = ""
    fields: tuple[str, ...] = ()

    def __init__(self, *, latency: float = 0.0) -> None:
        super().__init__(latency=latency)
        self.features: list[tuple[BaseGeometry, dict[str, Any]]] = []
        self.route(self.path, self._query)

    @property
    def query_url(self) -> str:
        return self.url + self.path

    def add(self, geometry: BaseGeometry | dict[str, Any], **attributes: Any) -> None:
        geom = geometry if isinstance(geometry, BaseGeometry) else shape(geometry)
        self.features.append((geom, attributes))

    def _query(self, req: Request) -> Reply:
        p = req.params
        if p.get("f") != "json" or p.get("inSR") != "4326" or "geometry" not in p:
            return arcgis_error_reply("Invalid or missing input parameters.", 400)
        try:
            numbers = [float(v) for v in p["geometry"].split(",")]
            if p.get("geometryType") == "esriGeometryPoint" and len(numbers) == 2:
                where: BaseGeometry = Point(*numbers)
            elif p.get("geometryType") == "esriGeometryEnvelope" and len(numbers) == 4:
                where = box(*numbers)
            else:
                raise ValueError(p.get("geometryType"))
        except ValueError:
            return arcgis_error_reply("Unable to complete operation.", 400)
        wanted = p.get("outFields", "*")
        names = list(self.fields) if wanted == "*" else wanted.split(",")
        out = []
        for geom, attrs in self.features:
            if not geom.intersects(where):
                continue
            feat: dict[str, Any] = {"attributes": {n: attrs.get(n) for n in names}}
            if p.get("returnGeometry") == "true":
                feat["geometry"] = esri_rings(geom)
            out.append(feat)
        return Reply(
            json={
                "displayFieldName": names[0] if names else "",
                "fields": [{"name": n, "type": "esriFieldTypeString"} for n in names],
                "features": out,
            }
        )


class NFHLFake(ArcGISLayerFake):
    """FEMA NFHL layer 28 (flood hazard zones)."""

    path = NFHL_PATH
    fields = ("FLD_ZONE", "ZONE_SUBTY", "SFHA_TF", "STATIC_BFE")

    def add_zone(
        self,
        geometry: BaseGeometry | dict[str, Any],
        zone: str,
        *,
        subtype: str | None = None,
        sfha: str | None = None,
        bfe: float = -9999.0,
    ) -> None:
        if sfha is None:
            sfha = "T" if zone[:1] in ("A", "V") else "F"
        self.add(geometry, FLD_ZONE=zone, ZONE_SUBTY=subtype, SFHA_TF=sfha, STATIC_BFE=bfe)


class WetlandsFake(ArcGISLayerFake):
    """USFWS NWI wetlands layer 0."""

    path = WETLANDS_PATH
    fields = ("WETLAND_TYPE", "ATTRIBUTE", "ACRES")

    def add_wetland(
        self, geometry: BaseGeometry | dict[str, Any], kind: str, code: str, acres: float
    ) -> None:
        self.add(geometry, WETLAND_TYPE=kind, ATTRIBUTE=code, ACRES=acres)


def haversine_miles(lon1: float, lat1: float, lon2: float, lat2: float) -> float:
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dp, dl = p2 - p1, math.radians(lon2 - lon1)
    a = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * EARTH_RADIUS_MILES * math.asin(math.sqrt(a))


class EchoFake(FakeService):
    """EPA ECHO's two-step facility search."""

    def __init__(self, *, latency: float = 0.0, default_page_size: int = 5000) -> None:
        super().__init__(latency=latency)
        self.facilities: list[dict[str, Any]] = []
        self.default_page_size = default_page_size
        self._queries: dict[str, list[dict[str, Any]]] = {}
        self._qids = itertools.count(101)
        self._qlock = threading.Lock()
        self.route(ECHO_FACILITIES, self._get_facilities)
        self.route(ECHO_QID, self._get_qid)

    @property
    def base_url(self) -> str:
        return self.url + ECHO_PREFIX

    def add(
        self,
        lon: float | None,
        lat: float | None,
        name: str,
        *,
        street: str = "1 MILL RD",
        city: str = "ALTOONA",
        registry_id: str | None = None,
    ) -> None:
        """A facility; ``lon``/``lat`` None = ECHO has no coordinates (matched everywhere)."""
        self.facilities.append(
            {
                "FacName": name,
                "FacStreet": street,
                "FacCity": city,
                "FacState": "PA",
                "RegistryID": registry_id or f"1100{len(self.facilities) + 1:08d}",
                "FacLat": None if lat is None else f"{lat:.6f}",
                "FacLong": None if lon is None else f"{lon:.6f}",
            }
        )

    def expire_all(self) -> None:
        """Every query id issued so far becomes invalid."""
        with self._qlock:
            self._queries.clear()

    def _get_facilities(self, req: Request) -> Reply:
        p = req.params
        if p.get("output") != "JSON":
            return Reply(
                200, body=b"<Results><Message>XML</Message></Results>", content_type="text/xml"
            )
        try:
            lat, lon, radius = float(p["p_lat"]), float(p["p_long"]), float(p["p_radius"])
            if not (-90 <= lat <= 90 and -180 <= lon <= 180 and 0 < radius <= 100):
                raise ValueError
        except (KeyError, ValueError):
            return echo_error_reply("Invalid p_lat/p_long/p_radius; radius must be 0-100 miles")
        hits = []
        for fac in self.facilities:
            if fac["FacLat"] is None:
                hits.append(fac)
            elif haversine_miles(lon, lat, float(fac["FacLong"]), float(fac["FacLat"])) <= radius:
                hits.append(fac)
        with self._qlock:
            qid = str(next(self._qids))
            self._queries[qid] = hits
        return Reply(
            json={
                "Results": {
                    "Message": "Success",
                    "QueryRows": str(len(hits)),
                    "QueryID": qid,
                    "SVRows": "0",
                    "CVRows": "0",
                    "V3Rows": "0",
                }
            }
        )

    def _get_qid(self, req: Request) -> Reply:
        p = req.params
        with self._qlock:
            hits = self._queries.get(p.get("qid", ""))
        if hits is None:
            return echo_error_reply(f"Query ID {p.get('qid')!r} is invalid or has expired")
        size = int(p.get("responseset") or self.default_page_size)
        page = int(p.get("pageno") or 1)
        chunk = hits[(page - 1) * size : page * size]
        return Reply(
            json={
                "Results": {
                    "Message": "Success",
                    "QueryID": p["qid"],
                    "PageNo": str(page),
                    "Facilities": chunk,
                }
            }
        )


def square_mapping(lon: float, lat: float, side: float) -> dict[str, Any]:
    """GeoJSON square with its south-west corner at lon/lat."""
    return dict(mapping(box(lon, lat, lon + side, lat + side)))
