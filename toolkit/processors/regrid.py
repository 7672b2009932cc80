"""regrid_scraping: parcel data for each property, from bulk files or the Regrid API.

Source per item (``TOOLKIT_PARCEL_SOURCE``: ``auto`` by default): a bulk file
registered for the property's county (``ws.add_bulk_file``), else the Regrid API
when ``REGRID_TOKEN`` is set. API answers are cached under the workspace's
``cache/regrid`` folder, so a re-run never pays twice for the same parcel.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

from toolkit.exceptions import ConfigError, ItemError, UnknownChoiceError, ValidationError

if TYPE_CHECKING:
    import pandas as pd

    from toolkit.processors.context import ProcessorContext

MODES = ("auto", "bulk", "api")
SOURCE_ENV = "TOOLKIT_PARCEL_SOURCE"
BASE_URL_ENV = "TOOLKIT_REGRID_URL"  # tests point the API at a local server
RATE_ENV = "TOOLKIT_REGRID_RATE"  # requests per minute (default 200, unverified)
CONCURRENCY_ENV = "TOOLKIT_REGRID_CONCURRENCY"  # parallel requests (default 4)
DEADLINE_ENV = "TOOLKIT_ITEM_DEADLINE"  # seconds one parcel's lookups may take (default 60)


def make_processor(ctx: ProcessorContext) -> Any:
    """Build the batch processor (bulk files read once, API client on first need)."""
    from toolkit.sources.regrid import RegridBulk

    mode = os.environ.get(SOURCE_ENV, "auto").strip().lower() or "auto"
    if mode not in MODES:
        raise UnknownChoiceError(f"parcel source ({SOURCE_ENV})", mode, MODES)
    bulk = RegridBulk()
    bulk_counties: set[str] = set()
    if mode != "api":
        for row in ctx.query("bulk_files_all").itertuples():
            bulk.register(row.county_name, row.path, format=row.format)
            bulk_counties.add(row.county_name)
    api_box: dict[str, Any] = {}
    sketches = ctx.data_dir / "sketches"

    def api() -> Any:
        if "api" not in api_box:
            from toolkit.sources.regrid import (
                DEFAULT_BASE_URL,
                DEFAULT_CONCURRENCY,
                DEFAULT_ITEM_DEADLINE,
                DEFAULT_RATE_PER_MINUTE,
                RegridAPI,
            )

            api_box["api"] = RegridAPI(
                base_url=os.environ.get(BASE_URL_ENV, DEFAULT_BASE_URL),
                rate_per_minute=_number(RATE_ENV, DEFAULT_RATE_PER_MINUTE),
                concurrency=int(_number(CONCURRENCY_ENV, DEFAULT_CONCURRENCY)),
                cache_dir=ctx.data_dir / "cache" / "regrid",
                item_deadline=_number(DEADLINE_ENV, DEFAULT_ITEM_DEADLINE),
            )
        return api_box["api"]

    def process(frame: pd.DataFrame) -> list[dict[str, Any] | Exception]:
        out: list[dict[str, Any] | Exception] = [ItemError("not looked up")] * len(frame)
        by_source: dict[str, list[int]] = {"bulk": [], "api": []}
        for i, county in enumerate(frame["county"]):
            if county in bulk_counties:
                by_source["bulk"].append(i)
            elif mode == "bulk":
                out[i] = ItemError(
                    f"No Regrid bulk file for {county} County: add one with "
                    f"toolkit add-bulk-file PATH --county {county!r} (ws.add_bulk_file), "
                    f"or set {SOURCE_ENV}=auto with REGRID_TOKEN."
                )
            else:
                by_source["api"].append(i)
        for name, rows in by_source.items():
            if not rows:
                continue
            queries = [
                {
                    "parcel_id": frame["parcel_id"].iat[i],
                    "county": frame["county"].iat[i],
                    "address": frame["address"].iat[i],
                }
                for i in rows
            ]
            if name == "api" and not os.environ.get("REGRID_TOKEN", "").strip():
                err = ConfigError(
                    "No parcel source for these counties: set REGRID_TOKEN for the Regrid API, "
                    "or add bulk files with ws.add_bulk_file(path, county); then resume the job."
                )
                from toolkit.exceptions import FatalSourceError

                fatal = FatalSourceError(str(err))
                for i in rows:
                    out[i] = fatal
                continue
            source = bulk if name == "bulk" else api()
            for i, rec in zip(rows, source.lookup_many(queries), strict=True):
                out[i] = (
                    rec
                    if isinstance(rec, Exception)
                    else _row(rec, frame["item_id"].iat[i], sketches)
                )
        return out

    def close() -> None:
        if "api" in api_box:
            api_box.pop("api").close()

    process.batch = True  # type: ignore[attr-defined]
    process.close = close  # type: ignore[attr-defined]
    return process


def _number(env: str, default: float) -> float:
    raw = os.environ.get(env, "").strip()
    if not raw:
        return default
    try:
        value = float(raw)
    except ValueError:
        raise ValidationError(f"{env}={raw!r} is not a number (default {default:g}).") from None
    if value <= 0:
        raise ValidationError(f"{env}={raw!r} must be positive (default {default:g}).")
    return value


def _row(rec: dict[str, Any], item_id: str, sketches: Path) -> dict[str, Any]:
    row = dict(rec)
    geometry = row.get("geometry_geojson")
    if geometry:
        try:
            from toolkit.geometry import sketch_png

            path = sketches / f"{item_id}.png"
            if not path.exists():
                sketches.mkdir(parents=True, exist_ok=True)
                sketch_png(geometry, path)
            row["sketch_path"] = str(path)
        except ValidationError as exc:  # a bad outline: keep the record, say why
            row["sketch_path"] = None
            notes = getattr(rec, "notes", [])
            notes.append(f"no sketch: {exc}")
    return row


def validate_bulk_file(path: str | Path, county: str, fmt: str | None = None) -> str:
    """Check a bulk file can be read for ``county`` (columns, format); returns its format."""
    from toolkit.sources.regrid import RegridBulk

    bulk = RegridBulk()
    bulk.register(county, path, format=fmt)
    bulk.index(county)  # reads it once: missing columns are named here
    return bulk._files[next(iter(bulk._files))][2]
