"""FEMA flood zones: the NFHL map service, and the zone already in a parcel record.

The National Flood Hazard Layer is an ArcGIS MapServer; layer 28 (flood
hazard zones, as public code uses it -- *unverified* against FEMA's own list)
answers a point query with::

    {"features": [{"attributes": {"FLD_ZONE": "AE", "ZONE_SUBTY": null,
                                  "SFHA_TF": "T", "STATIC_BFE": 1021.0}}]}

- an **empty** ``features`` list means the point is on no FEMA map
  (*unmapped*), never zone X;
- ``SFHA_TF == "T"`` puts the point in the special flood hazard area; when the
  flag is absent (a Regrid record) zones starting ``A`` or ``V`` are SFHA;
- ArcGIS reports failures as ``{"error": {"code", "message"}}``, often with
  HTTP 200: :func:`arcgis_error` hands those to the client's retry.

When a point touches several polygons (a zone boundary) the most hazardous
one is kept: SFHA first, then V, A, shaded X / B, D, X / C.

Example::

    with FemaNFHL() as nfhl:
        nfhl.zone_at(-78.3486, 40.4142)     # FloodReading(zone='AE', sfha=True, ...)
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from toolkit.exceptions import SourceError

DEFAULT_URL = "https://hazards.fema.gov/arcgis/rest/services/public/NFHL/MapServer/28/query"
SOURCE = "fema_nfhl"
OUT_FIELDS = ("FLD_ZONE", "ZONE_SUBTY", "SFHA_TF", "STATIC_BFE")
#: Subtype words marking a moderate-hazard ("shaded") zone X.
SHADED_X_MARKERS = ("0.2 PCT", "0.2 PERCENT", "500", "REDUCED FLOOD RISK DUE TO LEVEE", "FUTURE")
#: ArcGIS writes -9999 for "no base flood elevation".
NO_BFE = -9999.0


@dataclass(frozen=True)
class FloodReading:
    """A flood answer for one point.

    ``mapped`` is False when no flood map covers the point (``zone`` is then
    ``None``: unknown, not zone X). ``source`` is ``"fema_nfhl"``,
    ``"local_layer"`` or ``"parcel_record"``.
    """

    zone: str | None
    subtype: str | None
    sfha: bool | None
    source: str
    mapped: bool = True
    static_bfe: float | None = None
    note: str | None = None
    alternatives: list[dict[str, Any]] = field(default_factory=list)

    @classmethod
    def unmapped(cls, source: str, note: str) -> FloodReading:
        """No flood map at the point."""
        return cls(None, None, None, source, mapped=False, note=note)


def _clean(value: Any) -> str | None:
    if value is None:
        return None
    text = str(value).strip()
    return text or None


def sfha_of(zone: str | None, sfha_tf: Any = None) -> bool | None:
    """Special flood hazard area flag: ``SFHA_TF`` when given, else zones A* / V*.

    Examples
    --------
    >>> sfha_of("AE", "T"), sfha_of("X", "F"), sfha_of("VE"), sfha_of("X"), sfha_of(None)
    (True, False, True, False, None)
    """
    flag = _clean(sfha_tf)
    if flag is not None and flag.upper() in ("T", "F", "TRUE", "FALSE", "Y", "N"):
        return flag.upper() in ("T", "TRUE", "Y")
    if zone is None:
        return None
    return zone.strip().upper()[:1] in ("A", "V")


def is_shaded_x(zone: str | None, subtype: str | None) -> bool:
    """Zone X with a 0.2 %-annual-chance (or levee / future) subtype, or the old zone B.

    Examples
    --------
    >>> is_shaded_x("X", "0.2 PCT ANNUAL CHANCE FLOOD HAZARD"), is_shaded_x("X", None)
    (True, False)
    """
    z = (zone or "").strip().upper()
    if z in ("B", "X500", "SHADED X"):
        return True
    sub = (subtype or "").upper()
    return z == "X" and any(marker in sub for marker in SHADED_X_MARKERS)


def hazard_rank(attrs: Mapping[str, Any]) -> int:
    """Order of hazard for picking one of several zones (higher = worse)."""
    zone = (_clean(attrs.get("FLD_ZONE")) or "").upper()
    sfha = sfha_of(zone or None, attrs.get("SFHA_TF"))
    if sfha:
        return 5 if zone.startswith("V") else 4
    if is_shaded_x(zone, _clean(attrs.get("ZONE_SUBTY"))):
        return 3
    if zone == "D":
        return 2
    return 1 if zone else 0


def reading_from_attributes(hits: Sequence[Mapping[str, Any]], *, source: str) -> FloodReading:
    """One :class:`FloodReading` from the attribute dicts of the zones at a point.

    Examples
    --------
    >>> r = reading_from_attributes([{"FLD_ZONE": "X", "SFHA_TF": "F"},
    ...                              {"FLD_ZONE": "AE", "SFHA_TF": "T"}], source="fema_nfhl")
    >>> r.zone, r.sfha, len(r.alternatives)
    ('AE', True, 1)
    """
    if not hits:
        return FloodReading.unmapped(source, "no flood zone at the point")
    ranked = sorted(hits, key=hazard_rank, reverse=True)
    best = ranked[0]
    zone = _clean(best.get("FLD_ZONE"))
    subtype = _clean(best.get("ZONE_SUBTY"))
    bfe = best.get("STATIC_BFE")
    try:
        bfe_value = float(bfe) if bfe not in (None, "") else None
    except (TypeError, ValueError):
        bfe_value = None
    if bfe_value is not None and bfe_value <= NO_BFE:
        bfe_value = None
    others = [
        {"zone": _clean(h.get("FLD_ZONE")), "subtype": _clean(h.get("ZONE_SUBTY"))}
        for h in ranked[1:]
    ]
    return FloodReading(
        zone=zone.upper() if zone else None,
        subtype=subtype,
        sfha=sfha_of(zone, best.get("SFHA_TF")),
        source=source,
        mapped=zone is not None,
        static_bfe=bfe_value,
        note=None if zone else "flood polygon without FLD_ZONE",
        alternatives=others,
    )


def reading_from_parcel(parcel: Mapping[str, Any]) -> FloodReading | None:
    """The flood zone a parcel record already carries (Regrid ``fema_flood_zone``), or None.

    Examples
    --------
    >>> reading_from_parcel({"fema_flood_zone": "ae", "fema_flood_zone_subtype": None}).sfha
    True
    >>> reading_from_parcel({"fema_flood_zone": ""}) is None
    True
    """
    zone = _clean(parcel.get("fema_flood_zone"))
    if zone is None or zone.lower() in ("nan", "none", "null"):
        return None
    subtype = _clean(parcel.get("fema_flood_zone_subtype"))
    if subtype is not None and subtype.lower() in ("nan", "none", "null"):
        subtype = None
    return FloodReading(
        zone=zone.upper(), subtype=subtype, sfha=sfha_of(zone), source="parcel_record"
    )


def arcgis_error(data: Any) -> str | None:
    """The message of an ArcGIS ``{"error": {...}}`` body (sent with HTTP 200), else None.

    Examples
    --------
    >>> arcgis_error({"error": {"code": 500, "message": "Error performing query operation"}})
    'code 500: Error performing query operation'
    >>> arcgis_error({"features": []}) is None
    True
    """
    if isinstance(data, dict) and "error" in data:
        err = data["error"]
        if isinstance(err, dict):
            details = "; ".join(str(d) for d in err.get("details") or [] if d)
            text = f"code {err.get('code')}: {err.get('message')}"
            return text + (f" ({details})" if details else "")
        return str(err)
    return None


def check_features(data: Any) -> str | None:
    """Shape problem of an ArcGIS query answer, or None."""
    if not isinstance(data, dict):
        return f"expected a JSON object with 'features', got {type(data).__name__}"
    features = data.get("features")
    if not isinstance(features, list):
        return f"'features' is missing or not a list (keys: {sorted(data)})"
    for i, feat in enumerate(features):
        if not isinstance(feat, dict) or not isinstance(feat.get("attributes"), dict):
            return f"feature {i} has no 'attributes' object"
    return None


def split_url(url: str) -> tuple[str, str]:
    """``(base, last segment)`` so HttpClient does not add a slash after ``query``."""
    base, _, last = url.rstrip("/").rpartition("/")
    if not base or not last:
        raise SourceError(f"service URL {url!r} has no path to query")
    return base + "/", last


class FemaNFHL:
    """FEMA NFHL flood-zone point queries through :class:`~toolkit.sources.http.HttpClient`.

    Parameters
    ----------
    url
        The layer's ``query`` URL (default :data:`DEFAULT_URL`; tests use a
        local fake).
    cache_dir
        Response cache; a re-run at the same point costs no call.
    **client_options
        ``rate_per_minute``, ``timeout``, ``max_attempts``, ``backoff_initial`` …

    Examples
    --------
    >>> with FemaNFHL(url=fake.url + "/arcgis/.../28/query") as nfhl:  # doctest: +SKIP
    ...     nfhl.zone_at(-78.35, 40.41).zone
    'AE'
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

    def zone_at(self, lon: float, lat: float) -> FloodReading:
        """The flood zone at a point; :meth:`FloodReading.unmapped` for an empty answer.

        Raises
        ------
        SourceError
            The service failed (after retries) or answered malformed JSON.
        """
        params = {
            "geometry": f"{float(lon):.7f},{float(lat):.7f}",
            "geometryType": "esriGeometryPoint",
            "inSR": "4326",
            "spatialRel": "esriSpatialRelIntersects",
            "outFields": ",".join(OUT_FIELDS),
            "returnGeometry": "false",
            "f": "json",
        }
        data = self.client.get_json(self._path, params, validate=check_features)
        hits = [f["attributes"] for f in data["features"]]
        if not hits:
            return FloodReading.unmapped(SOURCE, "FEMA NFHL has no flood map at the point")
        return reading_from_attributes(hits, source=SOURCE)

    def close(self) -> None:
        self.client.close()

    def __enter__(self) -> FemaNFHL:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
