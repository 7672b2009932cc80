"""The guide's functions as calls an AI assistant makes: plain JSON values in and out.

:class:`Assistant` wraps one :class:`~toolkit.workspace.Workspace` and answers
with dicts of JSON values (strings, numbers, lists, objects), each with a
short ``message`` in the guide's words ("Paused at 150/235 properties (64%)").
It uses only the public workspace API, :mod:`toolkit.phrases` and
:mod:`toolkit.manual_research`, so every rule is the one every other surface
keeps: batch sizes and the warning over 100, duplicate jobs refused, the
auto-pause after 10 consecutive failures, exact resume in any process.

Bad input raises a :class:`~toolkit.exceptions.ToolkitError` that names the
bad field or value and the valid choices; nothing is saved. Every value
returned, and every error message, passes through :meth:`Assistant.redact`:
secrets (``REGRID_TOKEN`` and other ``*_TOKEN`` / ``*_KEY`` / ``*_SECRET`` /
``*_PASSWORD`` environment values, the workspace URL's password, the HTTP
bearer token) come out as ``***``.

Items an assistant researches (``title_research``, ``property_condition``,
``county_research``) are reported with their research in ``result``, checked
exactly as the notebook forms check it (:func:`toolkit.manual_research.check_result`).

Examples
--------
>>> import toolkit
>>> a = Assistant(toolkit.connect(":memory:"))
>>> a.get_pending_work_summary()["message"]
'No pending work.'
"""

from __future__ import annotations

import datetime as dt
import math
import os
import re
import threading
import warnings
from collections.abc import Iterable
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from toolkit.exceptions import ValidationError
from toolkit.manual_research import (
    RESEARCH_TYPES,
    RESULT_KEYS,
    check_result,
    imagery_links,
    liens_on_file,
    sales_on_file,
    save,
    title_searched,
)
from toolkit.phrases import describe_status, jsonable, latest_active_job, say

if TYPE_CHECKING:
    from toolkit.workspace import Workspace

__all__ = ["ASSISTANT_SOURCE", "Assistant", "guide_text", "secrets_from_environment"]

#: The source recorded for liens an assistant enters (the forms record "manual (notebook form)").
ASSISTANT_SOURCE = "assistant (MCP)"
_SECRET_NAME = re.compile(r"(TOKEN|SECRET|PASSWORD|PASSWD|API_?KEY|_KEY)$", re.IGNORECASE)
_ALL_COUNTIES = {"all", "all counties", "every county", "none", "null", ""}
EXPORTS_FOLDER = "exports"

# What get_next_batch shows of an item, per job type, after item_id and position: enough
# to do the work, and no more (a batch of 50 must not fill an assistant's context).
_PLACE = ("parcel_id", "address", "parcel_address", "municipality", "county")
_SALE = ("upset_price", "sale_type", "sale_date")
_FIELDS: dict[str, tuple[str, ...]] = {
    "regrid_scraping": (*_PLACE, "owner", "control_number", "description", *_SALE),
    "visual_validation": (
        *_PLACE,
        "usedesc",
        "zoning",
        "lot_acres",
        "width_ft",
        "aspect_ratio",
        "bldg_count",
        "fema_flood_zone",
        "usps_vacancy",
        "lat",
        "lon",
        *_SALE,
    ),
    "property_condition": (
        *_PLACE,
        "usedesc",
        "year_built",
        "bldg_count",
        "bldg_footprint_sqft",
        "land_value",
        "improvement_value",
        "usps_vacancy",
        "lat",
        "lon",
        "upset_price",
    ),
    "environmental_research": (
        *_PLACE,
        "usedesc",
        "lot_acres",
        "fema_flood_zone",
        "lat",
        "lon",
        "upset_price",
    ),
    "title_research": (*_PLACE, "list_owner", "owner", "description", *_SALE),
    "bid_strategy": (*_PLACE, "usedesc", "land_value", "improvement_value", "total_value", *_SALE),
    "pdf_parsing": (
        "county",
        "path",
        "url",
        "document_type",
        "sale_type",
        "sale_date",
        "parse_status",
    ),
    "county_research": ("county", "county_id", "fips", "active_properties", "last_researched_at"),
}
_NEVER = {"seq", "raw_json", "geometry_geojson", "job_id", "state", "auction_status"}


def secrets_from_environment(url: str | None = None, extra: Iterable[str] = ()) -> set[str]:
    """The values that must never leave the server: secret-looking environment values,
    the password in the workspace URL, and ``extra`` (the bearer token).

    >>> {"hunter22", "tok3n-xyz"} <= secrets_from_environment("postgresql://me:hunter22@db/ws",
    ...                                                      ["tok3n-xyz"])
    True
    """
    # a secret-looking name with a short or word-like value ("true", "0") is a setting, and
    # replacing every "true" in every answer would garble them
    found = {
        v.strip()
        for k, v in os.environ.items()
        if _SECRET_NAME.search(k) and len(v.strip()) >= 8 and not v.strip().isalpha()
    }
    given = {os.environ.get("PGPASSWORD", "").strip(), *(str(s) for s in extra if s)}
    if url and "://" in url:
        given.add(urlsplit(url).password or "")
    return found | {s for s in given if len(s) >= 4}


def guide_text() -> str:
    """The user's batch-processing guide (shipped in the package; same text as docs/guide.md)."""
    return resources.files("toolkit.assistant").joinpath("guide.md").read_text(encoding="utf-8")


def _value(v: Any) -> Any:
    """A JSON value for one cell: dates at midnight as YYYY-MM-DD, NaN as None."""
    if hasattr(v, "hour") and hasattr(v, "date") and callable(v.date):
        try:
            if (v.hour, v.minute, v.second, getattr(v, "microsecond", 0)) == (0, 0, 0, 0):
                return v.date().isoformat()
        except (TypeError, ValueError):  # NaT
            return None
    return jsonable(v)


def _blank(v: Any) -> bool:
    return v is None or (isinstance(v, float) and math.isnan(v)) or str(v) in ("", "NaT", "nan")


class Assistant:
    """The guide's functions over one workspace, with JSON values in and out.

    Holds no database connection between calls (each workspace call opens and
    closes its own), only the rows ``get_next_batch`` handed out, so a research
    result reported later is computed from the same context a form would show.

    Parameters
    ----------
    ws
        The workspace.
    secrets
        More values to keep out of results and errors (e.g. the HTTP bearer token).
    """

    def __init__(self, ws: Workspace, *, secrets: Iterable[str] = ()) -> None:
        self.ws = ws
        self.secrets = secrets_from_environment(ws.url, secrets)
        self._items: dict[tuple[str, str], dict[str, Any]] = {}
        self._jobs: dict[str, tuple[str, str]] = {}  # id as given -> (full id, job type)
        self._lock = threading.Lock()

    # -- output ------------------------------------------------------------------------

    def redact(self, obj: Any) -> Any:
        """``obj`` (a JSON value or text) with every secret replaced by ``***``."""
        if isinstance(obj, str):
            out = obj
            for secret in sorted(self.secrets, key=len, reverse=True):
                out = out.replace(secret, "***")
            return out
        if isinstance(obj, dict):
            return {self.redact(k): self.redact(v) for k, v in obj.items()}
        if isinstance(obj, list):
            return [self.redact(v) for v in obj]
        return obj

    def _status(self, job_id: str) -> dict[str, Any]:
        st = self.ws.get_batch_status(job_id)
        with self._lock:
            self._jobs[str(job_id)] = (str(st["job_id"]), str(st["job_type"]))
        return st

    def _job(self, job_id: str) -> tuple[str, str]:
        """(full id, job type) of a job: both fixed for its life, so looked up once."""
        with self._lock:
            known = self._jobs.get(str(job_id))
        if known is not None:
            return known
        st = self._status(job_id)
        return str(st["job_id"]), str(st["job_type"])

    @staticmethod
    def _brief(st: dict[str, Any]) -> dict[str, Any]:
        """The few status fields worth repeating after every item."""
        keys = (
            "job_id",
            "job_type",
            "county",
            "status",
            "batch_size",
            "total_items",
            "processed_items",
            "failed_items",
            "skipped_items",
            "pending_items",
            "percent_complete",
            "current_batch",
            "total_batches",
            "consecutive_failures",
            "pause_reason",
            "last_error",
        )
        return {k: jsonable(st.get(k)) for k in keys}

    @staticmethod
    def _progress(st: dict[str, Any]) -> str:
        total = int(st["total_items"])
        done = sum(int(st[k]) for k in ("processed_items", "failed_items", "skipped_items"))
        pct = round(100 * done / total) if total else 100
        return f"{done}/{total} {st.get('noun') or 'items'} ({pct}%)"

    def _next_step(self, st: dict[str, Any]) -> str:
        from toolkit.processors import has_processor

        jid, jt = str(st["job_id"]), str(st["job_type"])
        if st["status"] == "completed":
            return "The job is completed; nothing more to do."
        if st["status"] == "paused":
            return f"The job is paused: resume_batch_job('{jid}') before working it."
        by_hand = f"get_next_batch('{jid}'), then update_batch_progress for each item"
        if jt in RESEARCH_TYPES:
            keys = ", ".join(RESULT_KEYS[jt])
            auto = f"; or run_session('{jid}') for the {jt} processor" if has_processor(jt) else ""
            return f"Research it a batch at a time: {by_hand}, with result {{{keys}}}{auto}."
        if has_processor(jt):
            return (
                f"run_session('{jid}') works one session with the {jt} processor; or work it "
                f"by hand: {by_hand}."
            )
        return f"There is no {jt} processor: work it by hand, {by_hand}."

    # -- the guide's functions -----------------------------------------------------------

    def get_pending_work_summary(self) -> dict[str, Any]:
        """The work pending per job type: job_type, pending, batch_size, batches, sessions."""
        res = say(self.ws, "What work is pending?")
        return {"pending": jsonable(res.data), "message": res.message}

    def create_batch_job(
        self,
        job_type: str,
        county: str | None = None,
        batch_size: int | None = None,
        strategy: str = "county",
        force: bool = False,
    ) -> dict[str, Any]:
        """Create a job over the items pending for ``job_type`` (county None: all counties)."""
        from toolkit.workspace import ActiveJobsWarning, BatchSizeWarning

        where = None if county is None or str(county).strip().lower() in _ALL_COUNTIES else county
        if isinstance(where, str):
            # "Blair County" and "Blair" name the same county
            where = re.sub(r"\s+county$", "", where.strip(), flags=re.IGNORECASE) or where
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            job = self.ws.create_batch_job(
                job_type, where, batch_size, strategy=strategy, force=force
            )
        notes = []
        for w in caught:
            if issubclass(w.category, BatchSizeWarning | ActiveJobsWarning):
                notes.append(str(w.message))
            else:  # not ours to swallow
                warnings.warn_explicit(w.message, w.category, w.filename, w.lineno)
        st = self._status(job)
        return {
            "job_id": job,
            "warnings": notes,
            "status": self._brief(st),
            "message": f"Created {describe_status(st)}",
            "next": self._next_step(st),
        }

    def get_next_batch(self, job_id: str) -> dict[str, Any]:
        """Claim the next batch: rows with ``item_id`` first and the context for the job type."""
        frame = self.ws.get_next_batch(job_id)
        st = self._status(job_id)
        jid, jt = str(st["job_id"]), str(st["job_type"])
        rows = frame.to_dict("records")
        with self._lock:
            for r in rows:
                self._items[(jid, str(r["item_id"]))] = r
        items = self._compact(jt, rows)
        out: dict[str, Any] = {
            "job_id": jid,
            "job_type": jt,
            "batch": jsonable(st["current_batch"]),
            "total_batches": jsonable(st["total_batches"]),
            "count": len(items),
            "items": items,
            "progress": f"{st['status']}: {self._progress(st)}",
        }
        if not items:
            out["message"] = "Nothing left to hand out: every item is finished or claimed. " + (
                f"complete_batch_job('{jid}') closes the job."
                if st["status"] != "completed" and int(st["pending_items"]) == 0
                else self._next_step(st)
            )
            return out
        if jt in RESEARCH_TYPES:
            out["report"] = (
                "For each item: update_batch_progress(job_id, item_id, 1, 0, result={"
                + ", ".join(RESULT_KEYS[jt])
                + "}) when researched, or (job_id, item_id, 0, 1, "
                "error_message) when it cannot be done."
            )
        else:
            out["report"] = (
                "For each item: update_batch_progress(job_id, item_id, 1, 0) when done, or "
                "(job_id, item_id, 0, 1, error_message) when it failed."
            )
        first, last = items[0]["position"], items[-1]["position"]
        out["message"] = (
            f"Batch {out['batch']} of {out['total_batches']}: {len(items)} {st['noun']}, "
            f"positions {first}-{last} of {st['total_items']}."
        )
        return out

    def _compact(self, job_type: str, rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
        fields = _FIELDS.get(job_type)
        out = []
        for r in rows:
            keep = fields if fields is not None else [k for k in r if k not in _NEVER]
            item = {"item_id": str(r["item_id"]), "position": int(r["seq"]) + 1}
            for k in keep:
                if k in r and k != "item_id" and not _blank(r[k]):
                    item[k] = _value(r[k])
            if item.get("parcel_address") == item.get("address"):
                item.pop("parcel_address", None)
            out.append(item)
        if job_type == "title_research" and out:
            ids = [str(i["item_id"]) for i in out]
            liens = liens_on_file(self.ws, ids)
            searched = title_searched(self.ws, ids)
            for i in out:
                mine = liens[liens.property_id.astype(str) == i["item_id"]]
                i["liens_on_file"] = [
                    {k: _value(v) for k, v in rec.items() if k != "property_id" and not _blank(v)}
                    for rec in mine.to_dict("records")
                ]
                i["title_search_on_file"] = i["item_id"] in searched
        elif job_type == "property_condition":
            for i in out:
                where = ", ".join(
                    str(i[k]) for k in ("address", "municipality", "county") if k in i
                )
                i["imagery"] = imagery_links(i.get("lat"), i.get("lon"), f"{where}, PA")
        elif job_type == "county_research":
            for i in out:
                sales = sales_on_file(self.ws, int(str(i["county_id"])))
                i["sales_on_file"] = [
                    {k: _value(v) for k, v in rec.items() if not _blank(v)}
                    for rec in sales.to_dict("records")
                ]
        return out

    def update_batch_progress(
        self,
        job_id: str,
        last_item_id: str,
        items_processed: int,
        items_failed: int,
        error_message: str | None = None,
        result: dict[str, Any] | None = None,
    ) -> dict[str, Any]:
        """Record one item: (1, 0) done — with ``result`` for a research type — or (0, 1) failed.

        A research result is checked exactly as the notebook form checks it; on
        bad input nothing is saved.
        """
        jid, jt = self._job(job_id)
        item_id = str(last_item_id).strip()
        done = (items_processed, items_failed) == (1, 0) and not isinstance(items_processed, bool)
        if result is not None:
            if not done:
                raise ValidationError(
                    "result: research is saved for an item done (items_processed=1, "
                    f"items_failed=0), not ({items_processed!r}, {items_failed!r}); a failed "
                    "item takes error_message only."
                )
            on_file = liens_on_file(self.ws, [item_id]) if jt == "title_research" else None
            values = check_result(jt, result, on_file=on_file, default_source=ASSISTANT_SOURCE)
            with self._lock:
                item = self._items.get((jid, item_id))
            if item is None:
                raise ValidationError(
                    f"last_item_id {item_id!r} is not an open item of job {jid[:8]} that "
                    "get_next_batch handed out in this server (or it is reported already); call "
                    "get_next_batch and report the item_id values it returns (the open items "
                    "of a stopped server come back to the next call)."
                )
            save(self.ws, jt, jid, item, values)
            after = self._status(jid)
            auto_paused = False
        elif done and jt in RESEARCH_TYPES:
            raise ValidationError(
                f"result: a {jt} item is done with its research: pass result with "
                f"{', '.join(RESULT_KEYS[jt])} (see get_next_batch's 'report'), or report it "
                "failed with (0, 1, error_message)."
            )
        else:
            # the job's status afterwards comes back from the same transaction
            after = self.ws.update_batch_progress(
                jid, item_id, items_processed, items_failed, error_message
            )
            auto_paused = bool(after.get("auto_paused"))
        with self._lock:
            self._items.pop((jid, item_id), None)
        outcome = "done" if done else "failed"
        msg = f"Item {item_id} {outcome}. {str(after['status']).replace('_', ' ').capitalize()}: "
        msg += self._progress(after)
        if auto_paused:
            msg += (
                f"\nThe job paused itself: {after['pause_reason']}. Review the errors "
                f"(get_batch_status('{jid[:8]}') lists the failures), fix what makes items "
                "fail, then resume_batch_job."
            )
        elif after["status"] == "completed":
            msg += "\nThe job is completed."
        return {
            "job_id": jid,
            "item_id": item_id,
            "outcome": outcome,
            "auto_paused": auto_paused,
            "status": self._brief(after),
            "message": msg,
        }

    def pause_batch_job(
        self, job_id: str | None = None, reason: str | None = None
    ) -> dict[str, Any]:
        """Pause a job (default: the running one); a session working it stops at its next item."""
        if job_id is None:
            res = say(self.ws, "Pause batch job")
            st = self._status(str(res.job_id))
            return {"job_id": str(st["job_id"]), "status": self._brief(st), "message": res.message}
        st = self._status(job_id)
        if st["status"] == "paused":
            return {
                "job_id": str(st["job_id"]),
                "status": self._brief(st),
                "message": f"Paused already.\n{describe_status(st)}",
            }
        jid = self.ws.pause_batch_job(job_id, reason)
        st = self._status(jid)
        return {
            "job_id": jid,
            "status": self._brief(st),
            "message": f"Paused {describe_status(st)}",
        }

    def resume_batch_job(
        self, job_id: str | None = None, job_type: str | None = None
    ) -> dict[str, Any]:
        """Resume a paused or interrupted job (default: the most recent paused one)."""
        jid = self.ws.resume_batch_job(job_id, job_type=job_type)
        st = self._status(jid)
        return {
            "job_id": jid,
            "status": self._brief(st),
            "message": f"Resumed {describe_status(st)}",
            "next": self._next_step(st),
        }

    def complete_batch_job(self, job_id: str) -> dict[str, Any]:
        """Mark a job completed (every item must be finished)."""
        jid = self.ws.complete_batch_job(job_id)
        st = self._status(jid)
        return {"job_id": jid, "status": self._brief(st), "message": describe_status(st)}

    def get_batch_status(self, job_id: str | None = None) -> dict[str, Any]:
        """One job's status (default: the most recently updated active job), with its failures."""
        jid = job_id if job_id is not None else latest_active_job(self.ws)
        st = self._status(jid)
        out = {"job_id": str(st["job_id"]), "status": jsonable(st), "message": describe_status(st)}
        if int(st["failed_items"]):
            failures = self.ws.failed_items(str(st["job_id"])).head(20)
            out["failures"] = [
                {
                    ("position" if k == "seq" else k): (int(v) + 1 if k == "seq" else _value(v))
                    for k, v in rec.items()
                    if not _blank(v)
                }
                for rec in failures.to_dict("records")
            ]
        return out

    def active_jobs(self) -> dict[str, Any]:
        """Every active job (pending, in progress, paused) with its progress."""
        res = say(self.ws, "Show active batch jobs")
        return {"jobs": jsonable(res.data), "message": res.message}

    def say(self, phrase: str) -> dict[str, Any]:
        """Do what one of the guide's phrases says ("Start Regrid scraping for Blair County …")."""
        return say(self.ws, phrase).to_dict()

    def run_session(self, job_id: str, max_batches: int | None = None) -> dict[str, Any]:
        """Work a job with its processor for one session (the type's per-session budget)."""
        from toolkit.processors import has_processor

        st = self._status(job_id)
        jid, jt = str(st["job_id"]), str(st["job_type"])
        if not has_processor(jt):
            raise ValidationError(
                f"There is no {jt} processor, so there is no session to run: work job "
                f"{jid[:8]} by hand with get_next_batch and update_batch_progress."
            )
        if max_batches is not None and (isinstance(max_batches, bool) or max_batches < 1):
            raise ValidationError(f"max_batches {max_batches!r} must be a whole number ≥ 1.")
        from toolkit.orchestrator import run_job_session

        # one way to run a session: the same outcome and exit code as every other surface
        result = run_job_session(self.ws, jid, max_batches=max_batches)
        after = self._status(jid)
        text = "\n".join(x for x in (result.message, result.resume_hint) if x)
        return {
            "job_id": jid,
            "session": jsonable(result.to_dict()),
            "outcome": result.outcome,
            "exit_code": result.exit_code,
            "status": self._brief(after),
            "message": f"This session: {result.counts}.\n{text}",
        }

    def run_data_audit(self) -> dict[str, Any]:
        """Gaps in the data per county, and properties per pipeline stage."""
        report = self.ws.run_data_audit()
        stages = report["stages"]
        listed = int(stages["listed"].sum()) if "listed" in stages and len(stages) else 0
        return {
            "gaps": jsonable(report["gaps"]),
            "stages": jsonable(stages),
            "message": (
                f"Data audit: {listed:,} properties in {len(stages)} counties."
                if len(stages)
                else "Data audit: no properties yet; import some first."
            ),
        }

    def export_bids(
        self, path: str | None = None, county: str | None = None, include_pass: bool = False
    ) -> dict[str, Any]:
        """Write the bidder's list (BID and REVIEW; PASS too with include_pass) to CSV or Excel.

        ``path`` is a file name (``.csv`` or ``.xlsx``) in the workspace's exports
        folder; a path outside that folder is refused.
        """
        folder = (self.ws.data_dir / EXPORTS_FOLDER).resolve()
        name = "bids.csv" if path is None or not str(path).strip() else str(path).strip()
        target = Path(name).expanduser()
        target = (target if target.is_absolute() else folder / target).resolve()
        if folder not in target.parents:
            raise ValidationError(
                f"path {path!r} is outside the exports folder {folder}; give a file name such "
                "as 'bids.csv' or 'bids.xlsx' (or a sub-folder of it)."
            )
        decisions = ("BID", "REVIEW", "PASS") if include_pass else ("BID", "REVIEW")
        out = self.ws.export_bids(target, county, decisions)
        frame = self.ws.bid_list(county, decisions)
        shown = [
            c
            for c in (
                "parcel_id",
                "address",
                "county",
                "decision",
                "upset_price",
                "max_bid_moderate",
                "sale_date",
            )
            if c in frame.columns
        ]
        top = [
            {k: _value(v) for k, v in rec.items() if not _blank(v)}
            for rec in frame[shown].head(20).to_dict("records")
        ]
        return {
            "path": str(out),
            "rows": len(frame),
            "top": top,
            "message": f"Wrote {len(frame)} row(s) to {out}.",
        }

    # -- resources --------------------------------------------------------------------------

    def job_types(self) -> dict[str, Any]:
        """The guide's job-type table: batch size, per session, what it works on, how."""
        from toolkit.jobs import job_types
        from toolkit.processors import has_processor

        rows = []
        for jt in job_types().values():
            rows.append(
                {
                    "job_type": jt.name,
                    "batch_size": jt.batch_size,
                    "per_session": jt.per_session,
                    "works_on": jt.noun,
                    "description": jt.description,
                    "processor": has_processor(jt.name),
                    "research_result_keys": list(RESULT_KEYS.get(jt.name, ())),
                }
            )
        return {
            "job_types": rows,
            "max_batch_size_without_warning": 100,
            "auto_pause_after_consecutive_failures": 10,
        }


def session_prompt(job_type: str = "", county: str = "", batch_size: str = "") -> str:
    """The "research session" prompt: the guide's session workflow, step by step."""
    what = job_type.strip() or "[job type]"
    where = f" for {county.strip()} County" if county.strip() else ""
    size = f" in batches of {batch_size.strip()}" if batch_size.strip() else ""
    today = dt.datetime.now(dt.UTC).date().isoformat()
    return f"""\
Run one research session with the taxsale-toolkit tools, following the user's \
batch-processing guide (resource toolkit://guide). Today is {today}.

1. Show pending work: call get_pending_work_summary and tell the user, per job type, how \
much is pending and about how many sessions it takes. Check for active or paused jobs \
first (say("Show active batch jobs")): the guide says not to start new jobs without \
finishing old ones.
2. Pick the job with the user. Start it — "Start {what}{where}{size}": \
create_batch_job(job_type, county or null for all counties, batch_size) with the guide's \
batch size for the type (resource toolkit://job-types; over 100 is warned against) — \
OR resume the paused one: resume_batch_job().
3. Work 2-4 batches. For each batch call get_next_batch(job_id) and, for every item in \
it, update_batch_progress(job_id, item_id, 1, 0) when done or (job_id, item_id, 0, 1, \
"Error: …") when it failed; for title_research, property_condition and county_research \
pass your research as result (the keys get_next_batch's "report" lists; cite your \
sources). Types with a processor can run a whole session instead: run_session(job_id).
4. Stop after 2-4 batches, before your context fills up: pause_batch_job(job_id). \
Report where the job stands in the guide's words, e.g. "Paused at 150/235 properties \
(64%)", and how to go on next time: "Resume with: 'Resume batch job'".
5. If the job pauses itself (10 consecutive failures), stop, show the errors \
(get_batch_status lists them) and ask the user before resuming.
"""
