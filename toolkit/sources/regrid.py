"""Regrid parcel data: the API v2 or bulk files, behind one interface.

Both sources implement :class:`ParcelSource` and return the same normalised
record (:data:`PARCEL_KEYS`, ``None`` when unknown):

- :class:`RegridAPI` -- ``parcels/apn`` by parcel number within
  ``/us/pa/<county-slug>``, falling back to ``parcels/address`` when the
  number finds nothing; through :class:`toolkit.sources.http.HttpClient`
  (rate limit, retries, concurrency, disk cache, token redaction);
- :class:`RegridBulk` -- files the user bought (CSV with a WKT/GeoJSON
  geometry column, GeoJSON, GeoPackage read with sqlite3 + shapely), one per
  county, indexed once by normalised parcel number.

``raw_json`` holds the source's record without its geometry (already in
``geometry_geojson``): the API feature's ``properties`` (headline, path,
ll_uuid, score, fields) or the bulk row's columns. Odd values (unreadable
numbers, bad geometry, an address match) are listed in ``record.notes``,
beside the keys, so every record has exactly :data:`PARCEL_KEYS`.

Example::

    bulk = RegridBulk({"Blair": "data/sample/regrid/pa_blair_synthetic.csv"})
    rec = bulk.lookup("38.20-21..-001.22-859", county="Blair")
    rec["width_ft"], rec["usedesc"], rec.notes
"""

from __future__ import annotations

import csv
import json
import logging
import math
import os
import re
import sqlite3
import sys
import threading
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from toolkit.exceptions import (
    ConfigError,
    NotFoundError,
    SourceError,
    UnknownChoiceError,
    UnknownCountyError,
    ValidationError,
)

log = logging.getLogger(__name__)

DEFAULT_BASE_URL = "https://app.regrid.com/api/v2/"
#: DOMAIN.md: ~200 requests/min per token (third-party description, *unverified*).
DEFAULT_RATE_PER_MINUTE = 200.0
DEFAULT_CONCURRENCY = 4
TOKEN_ENV = "REGRID_TOKEN"
#: Seconds one parcel's lookups (by number, then by address) may take together.
DEFAULT_ITEM_DEADLINE = 60.0
UNREACHABLE_HINT = (
    "check the network (and TOOLKIT_REGRID_URL, if set), or add the county's bulk file"
    " with ws.add_bulk_file(path, county); then resume the job"
)

#: Keys of every normalised parcel record, in order.
PARCEL_KEYS: tuple[str, ...] = (
    "ll_uuid",
    "parcelnumb",
    "parcelnumb_norm",
    "address",
    "city",
    "zip",
    "usecode",
    "usedesc",
    "zoning",
    "zoning_description",
    "lot_acres",
    "lot_sqft",
    "bldg_footprint_sqft",
    "bldg_count",
    "year_built",
    "land_value",
    "improvement_value",
    "total_value",
    "lat",
    "lon",
    "owner",
    "mail_address",
    "mail_city",
    "mail_state",
    "mail_zip",
    "usps_vacancy",
    "fema_flood_zone",
    "fema_flood_zone_subtype",
    "geometry_geojson",
    "width_ft",
    "aspect_ratio",
    "compactness",
    "source",
    "raw_json",
)

# record key -> (Regrid field names, first non-empty wins; kind)
_FIELDS: dict[str, tuple[tuple[str, ...], str]] = {
    "ll_uuid": (("ll_uuid",), "str"),
    "parcelnumb": (("parcelnumb", "parcelnumb_no_formatting"), "str"),
    "address": (("address",), "str"),
    "city": (("scity",), "str"),
    "zip": (("szip5", "szip"), "zip"),
    "usecode": (("usecode",), "str"),
    "usedesc": (("usedesc",), "str"),
    "zoning": (("zoning",), "str"),
    "zoning_description": (("zoning_description",), "str"),
    "lot_acres": (("ll_gisacre", "gisacre"), "float"),
    "lot_sqft": (("ll_gissqft", "sqft"), "float"),
    "bldg_footprint_sqft": (("ll_bldg_footprint_sqft",), "float"),
    "bldg_count": (("ll_bldg_count",), "int"),
    "year_built": (("yearbuilt",), "year"),
    "land_value": (("landval",), "float"),
    "improvement_value": (("improvval",), "float"),
    "total_value": (("parval",), "float"),
    "lat": (("lat",), "float"),
    "lon": (("lon",), "float"),
    "owner": (("owner",), "str"),
    "mail_address": (("mailadd",), "str"),
    "mail_city": (("mail_city",), "str"),
    "mail_state": (("mail_state2",), "str"),
    "mail_zip": (("mail_zip",), "zip"),
    "usps_vacancy": (("usps_vacancy",), "str"),
    "fema_flood_zone": (("fema_flood_zone",), "str"),
    "fema_flood_zone_subtype": (("fema_flood_zone_subtype",), "str"),
}
SQFT_PER_ACRE = 43560.0


def normalize_parcel_number(value: object) -> str:
    """Parcel number as Regrid matches it: non-alphanumerics dropped, upper case.

    Examples
    --------
    >>> normalize_parcel_number("01.02-03..-004.05-006")
    '01020300405006'
    >>> normalize_parcel_number(" 12-00-0040a ")
    '12000040A'
    """
    return re.sub(r"[^0-9A-Za-z]", "", str(value or "")).upper()


def normalize_address(value: object) -> str:
    """Address key for matching: punctuation to spaces, upper case, single spaces."""
    return " ".join(re.sub(r"[^0-9A-Za-z ]", " ", str(value or "")).upper().split())


def county_slug(county: str) -> str:
    """Regrid path slug of a county name: lowercase, spaces to hyphens.

    Examples
    --------
    >>> county_slug("Blair"), county_slug("Blair County"), county_slug("St. Marys")
    ('blair', 'blair', 'st-marys')
    """
    text = str(county or "").strip()
    if not text:
        raise ValidationError("county is empty; give a county name such as 'Blair'")
    text = re.sub(r"\s+county$", "", text, flags=re.IGNORECASE)
    text = re.sub(r"[^0-9a-z\s-]", "", text.lower())
    return re.sub(r"[\s-]+", "-", text).strip("-")


def county_path(county: str, state: str = "pa") -> str:
    """Regrid ``path`` of a county, e.g. ``/us/pa/blair``."""
    return f"/us/{state.lower()}/{county_slug(county)}"


class ParcelRecord(dict[str, Any]):
    """A normalised parcel (exactly :data:`PARCEL_KEYS`); ``notes`` say what was odd.

    Notes are kept beside the keys, not among them, so every record from every
    source has the same key set.
    """

    notes: list[str]

    def __init__(self, *args: Any, notes: list[str] | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.notes = notes if notes is not None else []


# --- value conversion --------------------------------------------------------


def _blank(value: Any) -> bool:
    return value is None or (isinstance(value, str) and value.strip() in ("", "NULL", "null"))


def _convert(key: str, kind: str, value: Any, notes: list[str]) -> Any:
    if _blank(value):
        return None
    if kind == "str":
        return str(value).strip()
    if kind == "zip":
        text = str(value).strip()
        if isinstance(value, float) and value.is_integer():
            text = str(int(value))
        return text.zfill(5) if text.isdigit() and len(text) < 5 else text
    try:
        if isinstance(value, bool):
            raise ValueError(value)
        number = float(str(value).replace(",", "").replace("$", "").strip())
        if not math.isfinite(number):
            raise ValueError(value)
    except ValueError:
        notes.append(f"{key}: {value!r} is not a number; left empty")
        return None
    if kind == "float":
        return number
    if not number.is_integer():
        notes.append(f"{key}: {value!r} is not a whole number; left empty")
        return None
    if kind == "year":
        if number == 0:  # Regrid writes 0 for "unknown"
            return None
        if not 1600 <= number <= 2100:
            notes.append(f"{key}: {value!r} is not a plausible year; left empty")
            return None
    return int(number)


def normalise_record(
    fields: Mapping[str, Any],
    geometry: Mapping[str, Any] | None,
    *,
    source: str,
    raw: Any,
    extra: Mapping[str, Any] | None = None,
    notes: list[str] | None = None,
) -> ParcelRecord:
    """Map Regrid ``fields`` + geometry onto :data:`PARCEL_KEYS`.

    Bad numbers become ``None`` with a note; shape measures come from
    :func:`toolkit.geometry.measure`; a bad geometry leaves them ``None`` with a
    note instead of failing the record.

    Examples
    --------
    >>> rec = normalise_record({"parcelnumb": "1-2", "lat": "40.5", "yearbuilt": "n/a"},
    ...                        None, source="bulk", raw={})
    >>> rec["parcelnumb_norm"], rec["lat"], rec["year_built"], rec.notes[0]
    ('12', 40.5, None, "year_built: 'n/a' is not a number; left empty")
    """
    from toolkit.geometry import load_geometry, measure

    notes = list(notes or [])
    rec = ParcelRecord(dict.fromkeys(PARCEL_KEYS), notes=notes)
    merged = {**(extra or {}), **{k: v for k, v in fields.items() if not _blank(v)}}
    for key, (names, kind) in _FIELDS.items():
        value = next((merged[n] for n in names if not _blank(merged.get(n))), None)
        rec[key] = _convert(key, kind, value, notes)
    rec["parcelnumb_norm"] = normalize_parcel_number(rec["parcelnumb"]) or None
    rec["source"] = source
    for key, low, high in (("lat", -90, 90), ("lon", -180, 180)):
        if rec[key] is not None and not low <= rec[key] <= high:
            notes.append(f"{key}: {rec[key]!r} is out of range; left empty")
            rec[key] = None
    if geometry:
        rec["geometry_geojson"] = json.dumps(geometry, separators=(",", ":"))
        try:
            shape = measure(geometry)
        except ValidationError as exc:
            notes.append(f"geometry: {exc}; shape measures left empty")
        else:
            rec["width_ft"] = round(shape.width_ft, 2)
            rec["aspect_ratio"] = round(shape.aspect_ratio, 3)
            rec["compactness"] = round(shape.compactness, 4)
            if rec["lot_sqft"] is None:
                rec["lot_sqft"] = round(shape.area_sqft, 1)
                notes.append("lot_sqft: computed from geometry")
            if rec["lot_acres"] is None:
                rec["lot_acres"] = round(shape.area_sqft / SQFT_PER_ACRE, 4)
                notes.append("lot_acres: computed from geometry")
            if rec["lat"] is None or rec["lon"] is None:
                point = load_geometry(geometry).representative_point()
                rec["lat"], rec["lon"] = round(point.y, 7), round(point.x, 7)
                notes.append("lat/lon: taken from geometry")
    else:
        notes.append("geometry: missing; shape measures left empty")
    if rec["lot_sqft"] is None and rec["lot_acres"] is not None:
        rec["lot_sqft"] = round(rec["lot_acres"] * SQFT_PER_ACRE, 1)
    if rec["lot_acres"] is None and rec["lot_sqft"] is not None:
        rec["lot_acres"] = round(rec["lot_sqft"] / SQFT_PER_ACRE, 4)
    rec["raw_json"] = json.dumps(raw, sort_keys=True, default=str, separators=(",", ":"))
    return rec


# --- the interface ------------------------------------------------------------


@dataclass(frozen=True)
class ParcelQuery:
    """One lookup: a parcel number in a county, with an optional address fallback."""

    parcel_id: str
    county: str
    address: str | None = None

    @classmethod
    def of(cls, item: ParcelQuery | Mapping[str, Any] | tuple[Any, ...]) -> ParcelQuery:
        """Accept a ParcelQuery, a mapping (``parcel_id``, ``county``, ``address``) or a tuple."""
        if isinstance(item, ParcelQuery):
            return item
        if isinstance(item, Mapping):
            missing = [k for k in ("parcel_id", "county") if _blank(item.get(k))]
            if missing:
                raise ValidationError(
                    f"lookup item {dict(item)!r} lacks {', '.join(missing)};"
                    " give parcel_id, county and optionally address"
                )
            address = item.get("address")
            return cls(str(item["parcel_id"]), str(item["county"]), address or None)
        if isinstance(item, tuple) and 2 <= len(item) <= 3:
            return cls(str(item[0]), str(item[1]), (item[2] if len(item) == 3 else None) or None)
        raise ValidationError(
            f"lookup item {item!r} is not a mapping or (parcel_id, county[, address]) tuple"
        )


class ParcelSource(ABC):
    """Where parcel records come from; see :class:`RegridAPI` and :class:`RegridBulk`."""

    name: str = "parcels"

    @abstractmethod
    def lookup(self, parcel_id: str, *, county: str, address: str | None = None) -> ParcelRecord:
        """One parcel as a normalised record.

        Raises
        ------
        NotFoundError
            Neither the parcel number nor the address matched.
        """

    def lookup_many(
        self, items: Iterable[ParcelQuery | Mapping[str, Any] | tuple[Any, ...]]
    ) -> list[ParcelRecord | Exception]:
        """Look up many parcels; results in input order, an exception per failed item.

        Examples
        --------
        >>> items = [("01-02", "Blair"), {"parcel_id": "9", "county": "Blair"}]
        >>> source.lookup_many(items)  # doctest: +SKIP
        [{...}, NotFoundError('Property not found in Regrid: 9 in Blair')]
        """
        return self._map(self._lookup_item, list(items))

    def _lookup_item(self, item: Any) -> ParcelRecord:
        query = ParcelQuery.of(item)
        return self.lookup(query.parcel_id, county=query.county, address=query.address)

    def _map(
        self, fn: Callable[[Any], ParcelRecord], items: list[Any]
    ) -> list[ParcelRecord | Exception]:
        out: list[ParcelRecord | Exception] = []
        for item in items:
            try:
                out.append(fn(item))
            except Exception as exc:  # per-item failure, the batch goes on
                out.append(exc)
        return out

    def close(self) -> None:  # noqa: B027 - optional hook, most sources hold nothing
        """Release connections or files."""

    def __enter__(self) -> ParcelSource:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _not_found(parcel_id: str, county: str, where: str = "") -> NotFoundError:
    return NotFoundError(f"Property not found in Regrid: {parcel_id} in {county}{where}")


# --- the API -------------------------------------------------------------------


def _check_collection(data: Any) -> str | None:
    """Problem with a Regrid answer's shape, or None."""
    if not isinstance(data, dict) or not isinstance(data.get("parcels"), dict):
        keys = sorted(data) if isinstance(data, dict) else type(data).__name__
        return f"expected {{'parcels': {{'features': [...]}}}}, got {keys}"
    features = data["parcels"].get("features")
    if not isinstance(features, list):
        return "'parcels.features' is missing or not a list"
    for i, feat in enumerate(features):
        props = feat.get("properties") if isinstance(feat, dict) else None
        if not isinstance(props, dict) or not isinstance(props.get("fields", {}), dict):
            return f"feature {i} has no 'properties.fields' object"
    return None


class RegridAPI(ParcelSource):
    """Regrid API v2 (``parcels/apn``, falling back to ``parcels/address``).

    Parameters
    ----------
    token
        API token; ``None`` reads ``REGRID_TOKEN``. Never logged, cached or shown.
    base_url
        Defaults to :data:`DEFAULT_BASE_URL`; tests point it at a local fake.
    rate_per_minute, concurrency
        Defaults 200/min (*unverified*, DOMAIN.md) and 4 threads.
    cache_dir
        Response cache directory (``None`` = no cache); a re-run costs no calls.
    item_deadline
        Seconds one parcel's lookups may take together in :meth:`lookup_many`
        (past it that parcel fails with ``DeadlineExceededError``).
    **client_options
        Passed to :class:`~toolkit.sources.http.HttpClient` (``timeout``,
        ``max_attempts``, ``backoff_initial``, ``max_retry_after``,
        ``deadline``, ...). The service being unreachable (connection refused,
        unknown host) raises ``SourceUnreachableError``: the job pauses.

    Examples
    --------
    >>> api = RegridAPI(cache_dir="data/cache")          # doctest: +SKIP
    >>> api.lookup("01.02-03..-004.05-006", county="Blair")["address"]  # doctest: +SKIP
    '1631 HILL DR'
    """

    name = "regrid_api"

    def __init__(
        self,
        token: str | None = None,
        *,
        base_url: str = DEFAULT_BASE_URL,
        state: str = "pa",
        rate_per_minute: float = DEFAULT_RATE_PER_MINUTE,
        concurrency: int = DEFAULT_CONCURRENCY,
        cache_dir: str | Path | None = None,
        item_deadline: float | None = DEFAULT_ITEM_DEADLINE,
        **client_options: Any,
    ) -> None:
        from toolkit.sources.http import HttpClient

        self.item_deadline = item_deadline
        client_options.setdefault("unreachable_hint", UNREACHABLE_HINT)
        token = (token if token is not None else os.environ.get(TOKEN_ENV, "")).strip()
        if not token:
            raise ConfigError(
                f"No Regrid API token: set {TOKEN_ENV} in the environment (or pass token=...);"
                " or use RegridBulk with bulk files instead."
            )
        self.state = state
        self.client = HttpClient(
            "regrid",
            base_url,
            secret_params={"token": token},
            rate_per_minute=rate_per_minute,
            concurrency=concurrency,
            cache_dir=cache_dir,
            auth_hint=f"set {TOKEN_ENV} to a valid, active Regrid API token",
            **client_options,
        )

    def _features(self, endpoint: str, params: dict[str, Any]) -> list[dict[str, Any]]:
        try:
            data = self.client.get_json(endpoint, params, validate=_check_collection)
        except NotFoundError:
            return []  # a 404 is "no match" here; the caller decides what to try next
        return list(data["parcels"]["features"])

    def lookup(self, parcel_id: str, *, county: str, address: str | None = None) -> ParcelRecord:
        """Look one parcel up by number, then by address; see :class:`ParcelSource`."""
        if _blank(parcel_id) and _blank(address):
            raise ValidationError("parcel_id is empty and no address was given")
        path = county_path(county, self.state)
        notes: list[str] = []
        feature = None
        if not _blank(parcel_id):
            found = self._features("parcels/apn", {"parcelnumb": parcel_id, "path": path})
            feature = _pick(found, parcel_id, notes)
        if feature is None and not _blank(address):
            found = self._features("parcels/address", {"query": address, "path": path, "limit": 1})
            if found:
                feature = found[0]
                notes.append(f"matched by address {address!r}, not by parcel number")
        if feature is None:
            raise _not_found(parcel_id, county)
        props = feature.get("properties") or {}
        raw = {k: v for k, v in props.items()}
        return normalise_record(
            props.get("fields") or {},
            feature.get("geometry"),
            source="api",
            raw=raw,
            extra={"ll_uuid": props.get("ll_uuid")},
            notes=notes,
        )

    def lookup_many(
        self, items: Iterable[ParcelQuery | Mapping[str, Any] | tuple[Any, ...]]
    ) -> list[ParcelRecord | Exception]:
        """Concurrent lookups (``concurrency`` threads, shared rate limit), in order."""
        return self.client.map(
            self._lookup_item,
            list(items),
            item_deadline=self.item_deadline,
            what="item deadline (TOOLKIT_ITEM_DEADLINE)",
        )

    def close(self) -> None:
        self.client.close()


def _pick(
    features: list[dict[str, Any]], parcel_id: str, notes: list[str]
) -> dict[str, Any] | None:
    if not features:
        return None
    if len(features) == 1:
        return features[0]
    wanted = normalize_parcel_number(parcel_id)
    exact = [
        f
        for f in features
        if normalize_parcel_number((f.get("properties") or {}).get("fields", {}).get("parcelnumb"))
        == wanted
    ]
    notes.append(f"{len(features)} parcels answered to {parcel_id!r}; took the first exact match")
    return (exact or features)[0]


# --- bulk files ---------------------------------------------------------------

BULK_FORMATS = ("csv", "geojson", "gpkg")
GEOMETRY_COLUMNS = ("geom", "wkt", "geometry", "the_geom", "wkb_geometry", "geojson")
_SUFFIXES = {".csv": "csv", ".geojson": "geojson", ".json": "geojson", ".gpkg": "gpkg"}


@dataclass
class _Row:
    fields: dict[str, Any]
    geometry: Any  # WKT / GeoJSON text, GeoJSON mapping, or GPKG blob: decoded on use


@dataclass
class _Index:
    path: Path
    fmt: str
    by_parcel: dict[str, _Row] = field(default_factory=dict)
    by_address: dict[str, _Row] = field(default_factory=dict)
    duplicates: int = 0


def gpkg_geometry_wkb(blob: bytes) -> bytes | None:
    """WKB inside a GeoPackage geometry blob (``None`` for an empty geometry).

    The header is ``GP``, version, flags, srs_id (4 bytes), then an envelope
    whose size the flags give (0, 32, 48 or 64 bytes).

    Examples
    --------
    >>> import struct
    >>> wkb = bytes.fromhex("0101000000000000000000f03f0000000000000040")  # POINT (1 2)
    >>> gpkg_geometry_wkb(b"GP\\x00\\x01" + struct.pack("<i", 4326) + wkb) == wkb
    True
    """
    if not isinstance(blob, bytes | bytearray | memoryview):
        raise ValidationError(f"GeoPackage geometry is {type(blob).__name__}, not a blob")
    blob = bytes(blob)
    if len(blob) < 8 or blob[:2] != b"GP":
        raise ValidationError("GeoPackage geometry blob lacks the 'GP' header")
    flags = blob[3]
    envelope = (flags >> 1) & 0b111
    sizes = {0: 0, 1: 32, 2: 48, 3: 48, 4: 64}
    if envelope not in sizes:
        raise ValidationError(f"GeoPackage geometry has an invalid envelope code {envelope}")
    if (flags >> 4) & 1:
        return None
    return blob[8 + sizes[envelope] :]


def _geometry_mapping(value: Any) -> dict[str, Any] | None:
    """GeoJSON mapping from a stored bulk geometry (WKT, GeoJSON, hex WKB, GPKG blob)."""
    import shapely
    from shapely.geometry import mapping

    if _blank(value):
        return None
    if isinstance(value, Mapping):
        return dict(value)
    if isinstance(value, bytes | bytearray | memoryview):
        wkb = gpkg_geometry_wkb(bytes(value))
        return None if wkb is None else dict(mapping(shapely.from_wkb(wkb)))
    text = str(value).strip()
    try:
        if text.startswith("{"):
            return dict(json.loads(text))
        if re.fullmatch(r"[0-9A-Fa-f]+", text):
            return dict(mapping(shapely.from_wkb(bytes.fromhex(text))))
        return dict(mapping(shapely.from_wkt(text)))
    except (ValueError, shapely.errors.ShapelyError) as exc:
        raise ValidationError(
            f"geometry {text[:40]!r}... is not WKT, WKB or GeoJSON: {exc}"
        ) from exc


class RegridBulk(ParcelSource):
    """Regrid bulk files (CSV / GeoJSON / GeoPackage), one per county.

    Each file is indexed once, on first use, by normalised parcel number
    (and by normalised address for the fallback). Coordinates must be
    EPSG:4326 as Regrid ships them. Shapefiles are not read (their column
    names are cut to 10 characters): export CSV, GeoJSON or GeoPackage.

    Parameters
    ----------
    files
        ``{county: path}``; more via :meth:`register`.

    Examples
    --------
    >>> bulk = RegridBulk({"Blair": "data/sample/regrid/pa_blair_synthetic.csv"})  # doctest: +SKIP
    >>> bulk.lookup("38.20-21..-001.22-859", county="Blair")["source"]  # doctest: +SKIP
    'bulk'
    """

    name = "regrid_bulk"

    def __init__(self, files: Mapping[str, str | Path] | None = None) -> None:
        self._files: dict[str, tuple[str, Path, str, str | None]] = {}
        self._indexes: dict[Path, _Index] = {}
        self._lock = threading.Lock()
        for county, path in (files or {}).items():
            self.register(county, path)

    @property
    def counties(self) -> list[str]:
        """Registered county names, as given."""
        return sorted(name for name, *_ in self._files.values())

    def register(
        self, county: str, path: str | Path, *, format: str | None = None, layer: str | None = None
    ) -> None:
        """Use the bulk file at ``path`` for ``county``.

        ``format`` is ``csv``, ``geojson`` or ``gpkg`` (default: from the
        suffix); ``layer`` picks a GeoPackage table when it holds several.
        """
        file = Path(path)
        if not file.is_file():
            raise ConfigError(f"Regrid bulk file for {county} not found: {file}")
        fmt = (
            format or _SUFFIXES.get(file.suffix.lower(), file.suffix.lower().lstrip("."))
        ).lower()
        if fmt not in BULK_FORMATS:
            raise UnknownChoiceError("Regrid bulk file format", fmt, BULK_FORMATS)
        self._files[county_slug(county)] = (county, file.resolve(), fmt, layer)

    def index(self, county: str) -> _Index:
        """The county's index, built on first use (thread-safe)."""
        slug = county_slug(county)
        if slug not in self._files:
            raise UnknownCountyError(county, self.counties)
        _, path, fmt, layer = self._files[slug]
        with self._lock:
            if path not in self._indexes:
                self._indexes[path] = self._build(path, fmt, layer)
            return self._indexes[path]

    def lookup(self, parcel_id: str, *, county: str, address: str | None = None) -> ParcelRecord:
        """Look one parcel up by normalised number, then by address."""
        idx = self.index(county)
        notes: list[str] = []
        row = idx.by_parcel.get(normalize_parcel_number(parcel_id))
        if row is None and not _blank(address):
            row = idx.by_address.get(normalize_address(address))
            if row is not None:
                notes.append(f"matched by address {address!r}, not by parcel number")
        if row is None:
            raise _not_found(parcel_id, county, f" (bulk file {idx.path.name})")
        try:
            geometry = _geometry_mapping(row.geometry)
        except ValidationError as exc:
            notes.append(f"geometry: {exc}")
            geometry = None
        return normalise_record(row.fields, geometry, source="bulk", raw=row.fields, notes=notes)

    # -- readers -----------------------------------------------------------------

    def _build(self, path: Path, fmt: str, layer: str | None) -> _Index:
        reader = {"csv": _read_csv, "geojson": _read_geojson, "gpkg": _read_gpkg}[fmt]
        idx = _Index(path, fmt)
        for row in reader(path, layer):
            keys = {
                normalize_parcel_number(row.fields.get("parcelnumb")),
                normalize_parcel_number(row.fields.get("parcelnumb_no_formatting")),
            } - {""}
            for key in keys:
                if key in idx.by_parcel:
                    idx.duplicates += 1
                else:
                    idx.by_parcel[key] = row
            address = normalize_address(row.fields.get("address"))
            if address:
                idx.by_address.setdefault(address, row)
        if idx.duplicates:
            log.warning(
                "%s: %d duplicate parcel numbers; kept the first", path.name, idx.duplicates
            )
        return idx


def _require(path: Path, columns: Iterable[str], geometry: str | None = None) -> str:
    """Check the parcel-number and geometry columns; return the geometry column.

    ``geometry`` names the geometry column when the format says which it is.
    """
    cols = list(columns)
    lower = {c.lower(): c for c in cols}
    missing = []
    if "parcelnumb" not in lower and "parcelnumb_no_formatting" not in lower:
        missing.append("parcelnumb")
    if geometry is not None:
        geom = geometry if geometry in cols else None
        if geom is None:
            missing.append(f"geometry column {geometry!r}")
    else:
        geom = next((lower[g] for g in GEOMETRY_COLUMNS if g in lower), None)
        if geom is None:
            missing.append(f"a geometry column ({' / '.join(GEOMETRY_COLUMNS)})")
    if missing:
        raise ConfigError(
            f"Regrid bulk file {path.name} lacks required column(s): {', '.join(missing)};"
            f" found: {', '.join(cols) or 'none'}"
        )
    return geom  # type: ignore[return-value]


def _read_csv(path: Path, layer: str | None) -> Iterator[_Row]:
    # Bulk WKT for a big tract easily passes csv's default 128 KB field limit.
    csv.field_size_limit(min(sys.maxsize, 2**31 - 1))
    with path.open(newline="", encoding="utf-8-sig") as fh:
        lines = (line for line in fh if not line.startswith("#"))
        reader = csv.DictReader(lines)
        geom = _require(path, reader.fieldnames or [])
        for record in reader:
            fields = {k: v for k, v in record.items() if k is not None and k != geom}
            yield _Row(fields, record.get(geom))


def _read_geojson(path: Path, layer: str | None) -> Iterator[_Row]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (ValueError, UnicodeDecodeError) as exc:
        raise ConfigError(f"Regrid bulk file {path.name} is not valid GeoJSON: {exc}") from exc
    features = data.get("features") if isinstance(data, dict) else None
    if not isinstance(features, list):
        raise ConfigError(f"Regrid bulk file {path.name} is not a GeoJSON FeatureCollection")
    columns: dict[str, None] = {}
    for feat in features[:50]:
        columns.update(dict.fromkeys((feat.get("properties") or {}).keys()))
    _require(path, [*columns, "geometry"])
    for feat in features:
        yield _Row(dict(feat.get("properties") or {}), feat.get("geometry"))


def iter_gpkg(
    path: Path, layer: str | None, *, purpose: str = "layers must be"
) -> Iterator[tuple[list[str], str, Iterator[dict[str, Any]]]]:
    """Open a GeoPackage feature table (EPSG:4326) with sqlite3: yields once
    ``(columns, geometry_column, rows)``; rows are dicts with the GPKG geometry blob.

    Shared by the Regrid bulk reader and the local layer reader.
    """
    try:
        db = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True)
    except sqlite3.Error as exc:
        raise ConfigError(f"cannot open GeoPackage {path.name}: {exc}") from exc
    try:
        try:
            tables = dict(
                db.execute(
                    "SELECT c.table_name, g.column_name FROM gpkg_contents c"
                    " JOIN gpkg_geometry_columns g ON g.table_name = c.table_name"
                    " WHERE c.data_type = 'features'"
                ).fetchall()
            )
            srs = dict(db.execute("SELECT table_name, srs_id FROM gpkg_geometry_columns"))
        except sqlite3.Error as exc:
            raise ConfigError(f"{path.name} is not a GeoPackage ({exc})") from exc
        if layer is None:
            if len(tables) != 1:
                raise ConfigError(
                    f"GeoPackage {path.name} has {len(tables)} feature tables; pass layer= one of:"
                    f" {', '.join(sorted(tables)) or 'none'}"
                )
            layer = next(iter(tables))
        if layer not in tables:
            raise UnknownChoiceError("GeoPackage layer", layer, tables)
        if srs.get(layer) not in (4326, 0, -1):  # 0 / -1: undefined, taken as lon/lat
            raise ConfigError(
                f"GeoPackage {path.name} layer {layer} is in srs_id {srs.get(layer)};"
                f" {purpose} EPSG:4326 (srs_id 4326)"
            )
        cursor = db.execute(f'SELECT * FROM "{layer.replace(chr(34), chr(34) * 2)}"')
        columns = [d[0] for d in cursor.description]
        rows = (dict(zip(columns, values, strict=True)) for values in cursor)
        yield columns, tables[layer], rows
    except sqlite3.Error as exc:
        raise SourceError(f"reading GeoPackage {path.name} failed: {exc}") from exc
    finally:
        db.close()


def _read_gpkg(path: Path, layer: str | None) -> Iterator[_Row]:
    for columns, geom, rows in iter_gpkg(path, layer, purpose="Regrid bulk files are"):
        _require(path, columns, geometry=geom)
        for record in rows:
            blob = record.pop(geom, None)
            yield _Row(record, blob)
