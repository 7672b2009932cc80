"""A fake Regrid API v2 on 127.0.0.1.

Speaks Regrid's answer shape::

    {"parcels": {"type": "FeatureCollection", "features": [
        {"type": "Feature", "geometry": {...},
         "properties": {"headline": ..., "path": ..., "ll_uuid": ..., "score": ...,
                        "fields": {...}}}]}}

Parcel numbers match ignoring non-alphanumerics and case, as Regrid does.
A wrong or missing ``token`` gets HTTP 401. Load parcels with
:meth:`RegridFake.add` (or :meth:`RegridFake.load_bulk_csv` for a sample file).

Example::

    with RegridFake(token="t0k3n") as fake:
        fake.add("01.02-003", county="Blair", fields={"address": "1 MAIN ST"})
        RegridAPI(token="t0k3n", base_url=fake.base_url).lookup("0102003", county="Blair")
"""

from __future__ import annotations

import csv
import re
import uuid
from pathlib import Path
from typing import Any

from .server import FakeService, Reply, Request

PREFIX = "/api/v2/"


def norm(value: str) -> str:
    return re.sub(r"[^0-9A-Za-z]", "", value or "").upper()


def county_path(county: str, state: str = "pa") -> str:
    return f"/us/{state}/{county.strip().lower().replace(' ', '-')}"


def square(lon: float, lat: float, side_deg: float = 0.0004) -> dict[str, Any]:
    """A small square polygon (GeoJSON) with its south-west corner at lon/lat."""
    d = side_deg
    ring = [[lon, lat], [lon + d, lat], [lon + d, lat + d], [lon, lat + d], [lon, lat]]
    return {"type": "Polygon", "coordinates": [ring]}


def feature(
    parcelnumb: str,
    *,
    county: str,
    fields: dict[str, Any] | None = None,
    geometry: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """A Regrid feature with string lat/lon as the real API sends them."""
    path = county_path(county)
    ll_uuid = (fields or {}).get("ll_uuid") or str(
        uuid.uuid5(uuid.NAMESPACE_URL, path + "/" + norm(parcelnumb))
    )
    geometry = geometry or square(-78.4, 40.5)
    ring = geometry["coordinates"][0] if geometry["type"] == "Polygon" else None
    lon = lat = None
    if ring:
        lon = sum(p[0] for p in ring[:-1]) / (len(ring) - 1)
        lat = sum(p[1] for p in ring[:-1]) / (len(ring) - 1)
    all_fields = {
        "parcelnumb": parcelnumb,
        "parcelnumb_no_formatting": norm(parcelnumb),
        "county": county.lower(),
        "state2": "PA",
        "ll_uuid": ll_uuid,
        "lat": f"{lat:.6f}" if lat is not None else None,
        "lon": f"{lon:.6f}" if lon is not None else None,
        **(fields or {}),
    }
    return {
        "type": "Feature",
        "geometry": geometry,
        "properties": {
            "headline": all_fields.get("address") or parcelnumb,
            "path": f"{path}/{ll_uuid[:8]}",
            "ll_uuid": ll_uuid,
            "score": 100,
            "fields": all_fields,
        },
    }


def collection(features: list[dict[str, Any]]) -> dict[str, Any]:
    return {"parcels": {"type": "FeatureCollection", "features": features}}


class RegridFake(FakeService):
    """Regrid API v2 on 127.0.0.1; ``base_url`` goes to ``RegridAPI(base_url=...)``."""

    def __init__(self, *, token: str = "test-token-123", latency: float = 0.0) -> None:
        super().__init__(latency=latency)
        self.token = token
        self._by_apn: dict[tuple[str, str], list[dict[str, Any]]] = {}
        self._by_address: dict[tuple[str, str], list[dict[str, Any]]] = {}
        self.route(PREFIX + "parcels/apn", self._apn)
        self.route(PREFIX + "parcels/address", self._address)
        self.route(PREFIX + "parcels/point", self._point)

    @property
    def base_url(self) -> str:
        return self.url + PREFIX

    def add(
        self,
        parcelnumb: str,
        *,
        county: str,
        fields: dict[str, Any] | None = None,
        geometry: dict[str, Any] | None = None,
    ) -> dict[str, Any]:
        """Register a parcel; returns the feature the API will answer with."""
        feat = feature(parcelnumb, county=county, fields=fields, geometry=geometry)
        path = county_path(county)
        self._by_apn.setdefault((path, norm(parcelnumb)), []).append(feat)
        address = (fields or {}).get("address")
        if address:
            self._by_address.setdefault((path, _addr(address)), []).append(feat)
        return feat

    def load_bulk_csv(self, csv_path: str | Path, *, county: str) -> int:
        """Serve every row of a Regrid-style bulk CSV (WKT ``geom`` column)."""
        import shapely
        from shapely.geometry import mapping

        count = 0
        with open(csv_path, newline="") as fh:
            lines = (line for line in fh if not line.startswith("#"))
            for row in csv.DictReader(lines):
                geom = mapping(shapely.from_wkt(row.pop("geom")))
                fields = {k: (v if v != "" else None) for k, v in row.items()}
                self.add(row["parcelnumb"], county=county, fields=fields, geometry=geom)
                count += 1
        return count

    # -- handlers ------------------------------------------------------------

    def _auth(self, req: Request) -> Reply | None:
        if req.params.get("token") != self.token:
            return Reply(401, json={"status": "error", "message": "Unauthorized: invalid token"})
        return None

    def _apn(self, req: Request) -> Reply:
        denied = self._auth(req)
        if denied:
            return denied
        if "parcelnumb" not in req.params or "path" not in req.params:
            return Reply(400, json={"message": "parcelnumb and path are required"})
        key = (req.params["path"], norm(req.params["parcelnumb"]))
        return Reply(json=collection(self._by_apn.get(key, [])))

    def _address(self, req: Request) -> Reply:
        denied = self._auth(req)
        if denied:
            return denied
        key = (req.params.get("path", ""), _addr(req.params.get("query", "")))
        limit = int(req.params.get("limit", "5"))
        return Reply(json=collection(self._by_address.get(key, [])[:limit]))

    def _point(self, req: Request) -> Reply:
        denied = self._auth(req)
        if denied:
            return denied
        return Reply(json=collection([]))


def _addr(text: str) -> str:
    return " ".join(re.sub(r"[^0-9A-Za-z ]", " ", text).upper().split())
