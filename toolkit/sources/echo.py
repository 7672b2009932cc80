"""EPA ECHO: regulated facilities within a radius of a point (two-step query).

1. ``echo_rest_services.get_facilities?output=JSON&p_lat=…&p_long=…&p_radius=<miles>``
   answers ``{"Results": {"QueryRows": "3", "QueryID": "884", …}}``;
2. ``echo_rest_services.get_qid?output=JSON&qid=…&pageno=1`` answers
   ``{"Results": {"Facilities": [{"FacName", "FacStreet", "FacCity",
   "RegistryID", "FacLat", "FacLong", …}]}}``, page by page.

ECHO reports problems inside the body as ``{"Results": {"Error":
{"ErrorMessage": "…"}}}`` (the shape public client code checks). Query ids
expire after about 30 minutes: an error from ``get_qid`` (expired or unknown
qid) makes :class:`EchoFacilities` run step 1 again, once, uncached, and
store the fresh answer in the cache so the next run does not meet the stale
id again.

Example::

    with EchoFacilities() as echo:
        [f.name for f in echo.within(-78.35, 40.41, 0.5)]
"""

from __future__ import annotations

import json
import logging
import math
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from toolkit.exceptions import SourceError, ValidationError

log = logging.getLogger(__name__)

DEFAULT_BASE_URL = "https://echodata.epa.gov/echo/"
SOURCE = "epa_echo"
FACILITIES = "echo_rest_services.get_facilities"
QID = "echo_rest_services.get_qid"
EARTH_RADIUS_MILES = 3958.7613
DETAIL_KEYS = ("name", "street", "city", "registry_id", "distance_miles")


@dataclass(frozen=True)
class Facility:
    """One regulated facility; ``distance_miles`` is None when ECHO gave no coordinates."""

    name: str | None
    street: str | None
    city: str | None
    registry_id: str | None
    distance_miles: float | None
    lat: float | None = None
    lon: float | None = None

    def detail(self) -> dict[str, Any]:
        """The ``epa_details`` entry: name, street, city, registry_id, distance_miles.

        Examples
        --------
        >>> Facility("ACME", "1 MILL RD", "BIRCH", "110000000001", 0.21).detail()["registry_id"]
        '110000000001'
        """
        data = asdict(self)
        return {k: data[k] for k in DETAIL_KEYS}


def haversine_miles(lon1: float, lat1: float, lon2: float, lat2: float) -> float:
    """Great-circle distance in statute miles (mean Earth radius).

    Examples
    --------
    >>> round(haversine_miles(-78.0, 40.0, -78.0, 41.0), 1)   # one degree of latitude
    69.1
    """
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dp, dl = p2 - p1, math.radians(lon2 - lon1)
    a = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * EARTH_RADIUS_MILES * math.asin(min(1.0, math.sqrt(a)))


def echo_error(data: Any) -> str | None:
    """The ``Results.Error.ErrorMessage`` of an ECHO answer (or a top-level ``Error``), else None.

    Examples
    --------
    >>> echo_error({"Results": {"Error": {"ErrorMessage": "Invalid QID"}}})
    'Invalid QID'
    >>> echo_error({"Results": {"QueryID": "1"}}) is None
    True
    """
    if not isinstance(data, dict):
        return None
    results = data.get("Results")
    for holder in (results if isinstance(results, dict) else {}, data):
        err = holder.get("Error")
        if err:
            if isinstance(err, dict):
                return str(err.get("ErrorMessage") or err.get("message") or err)
            return str(err)
    return None


class _EchoAnswerError(SourceError):
    """ECHO answered with an error body (kept apart from transport failures)."""


def _check_results(data: Any, key: str) -> str | None:
    problem = echo_error(data)
    if problem:
        raise _EchoAnswerError(f"{SOURCE}: ECHO answered with an error: {problem}")
    if not isinstance(data, dict) or not isinstance(data.get("Results"), dict):
        keys = sorted(data) if isinstance(data, dict) else type(data).__name__
        return f"expected {{'Results': {{...}}}}, got {keys}"
    if key == "QueryID":
        if data["Results"].get("QueryID") in (None, ""):
            return "'Results.QueryID' is missing"
    elif not isinstance(data["Results"].get(key, []), list):
        return f"'Results.{key}' is not a list"
    return None


def _number(value: Any) -> float | None:
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return number if math.isfinite(number) else None


def _text(value: Any) -> str | None:
    text = str(value).strip() if value is not None else ""
    return text or None


class EchoFacilities:
    """EPA ECHO facility search around a point.

    Parameters
    ----------
    base_url
        Prefix of the two ``echo_rest_services`` endpoints (default
        :data:`DEFAULT_BASE_URL`).
    page_size
        ``responseset`` rows per ``get_qid`` page.
    max_pages
        Pages read at most; a denser area is truncated with a warning.
    cache_dir
        Response cache for both steps; a qid that expired meanwhile is
        re-queried.
    **client_options
        ``rate_per_minute``, ``timeout``, ``max_attempts``, ``backoff_initial`` …
    """

    kind = SOURCE
    label = SOURCE

    def __init__(
        self,
        base_url: str = DEFAULT_BASE_URL,
        *,
        page_size: int = 500,
        max_pages: int = 10,
        cache_dir: str | Path | None = None,
        **client_options: Any,
    ) -> None:
        from toolkit.sources.http import HttpClient

        if int(page_size) < 1 or int(max_pages) < 1:
            raise ValidationError(
                f"page_size and max_pages must be >= 1, got {page_size!r} and {max_pages!r}"
            )
        self.page_size = int(page_size)
        self.max_pages = int(max_pages)
        self.client = HttpClient(SOURCE, base_url, cache_dir=cache_dir, **client_options)

    def _get(self, path: str, params: dict[str, Any], key: str, *, fresh: bool = False) -> Any:
        data = self.client.get_json(
            path, params, validate=lambda d: _check_results(d, key), use_cache=not fresh
        )
        if fresh and self.client.cache is not None:
            # the stale answer (expired qid) must not be served to the next run
            self.client.cache.put(
                self.client.cache_key("GET", path, params),
                SOURCE,
                self.client.shown_url(path, params),
                200,
                json.dumps(data).encode(),
            )
        return data

    def within(self, lon: float, lat: float, radius_miles: float) -> list[Facility]:
        """Facilities ECHO lists within ``radius_miles`` of the point, nearest first.

        Raises
        ------
        SourceError
            The service failed, answered an error body, or the query id
            expired twice in a row.
        """
        if not radius_miles > 0:
            raise ValidationError(f"radius_miles must be > 0, got {radius_miles!r}")
        search = {
            "output": "JSON",
            "p_lat": f"{float(lat):.6f}",
            "p_long": f"{float(lon):.6f}",
            "p_radius": f"{float(radius_miles):g}",
        }
        for attempt in (1, 2):
            first = self._get(FACILITIES, search, "QueryID", fresh=attempt == 2)
            results = first["Results"]
            rows = _number(results.get("QueryRows"))
            if rows is not None and rows <= 0:
                return []
            try:
                raw = self._pages(str(results["QueryID"]), rows)
            except _EchoAnswerError as exc:
                if attempt == 2:
                    raise SourceError(
                        f"{SOURCE}: get_qid failed again after a fresh query: {exc}"
                    ) from None
                log.info("%s: %s; query id probably expired, querying again", SOURCE, exc)
                continue
            return self._facilities(raw, lon, lat)
        raise AssertionError("unreachable")  # pragma: no cover

    def _pages(self, qid: str, rows: float | None) -> list[dict[str, Any]]:
        out: list[dict[str, Any]] = []
        for page in range(1, self.max_pages + 1):
            params = {"output": "JSON", "qid": qid, "pageno": page, "responseset": self.page_size}
            data = self._get(QID, params, "Facilities")
            chunk = [f for f in data["Results"].get("Facilities") or [] if isinstance(f, dict)]
            out.extend(chunk)
            if len(chunk) < self.page_size or (rows is not None and len(out) >= rows):
                return out
        log.warning(
            "%s: stopped after %d pages (%d of %s facilities)",
            SOURCE,
            self.max_pages,
            len(out),
            rows,
        )
        return out

    @staticmethod
    def _facilities(raw: list[dict[str, Any]], lon: float, lat: float) -> list[Facility]:
        out = []
        for f in raw:
            flat, flon = _number(f.get("FacLat")), _number(f.get("FacLong"))
            miles = None
            if flat is not None and flon is not None:
                miles = round(haversine_miles(lon, lat, flon, flat), 3)
            out.append(
                Facility(
                    name=_text(f.get("FacName")),
                    street=_text(f.get("FacStreet")),
                    city=_text(f.get("FacCity")),
                    registry_id=_text(f.get("RegistryID")),
                    distance_miles=miles,
                    lat=flat,
                    lon=flon,
                )
            )
        return sorted(out, key=lambda f: (f.distance_miles is None, f.distance_miles or 0.0))

    def close(self) -> None:
        self.client.close()

    def __enter__(self) -> EchoFacilities:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
