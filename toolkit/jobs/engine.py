"""The guide's lifecycle rules, as functions over one open connection.

Every public function here runs inside a transaction its caller opened, so the
workspace API and the session runner share one implementation of the rules.

Job status: pending → in_progress → paused ⇄ in_progress → completed, or
cancelled (from any but completed). Item status: pending → claimed →
done | failed | skipped; failed → pending again only by ``retry_failed``.
"""

from __future__ import annotations

import datetime as dt
import json
import math
import re
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from toolkit.exceptions import (
    ActiveJobExistsError,
    AmbiguousCountyError,
    InvalidBatchSizeError,
    InvalidTransitionError,
    JobNotFoundError,
    JobPausedError,
    ProcessorError,
    UnknownChoiceError,
    UnknownCountyError,
    ValidationError,
)
from toolkit.jobs.registry import JobType
from toolkit.jobs.workers import is_dead
from toolkit.store.schema import quote_ident

ACTIVE = ("pending", "in_progress", "paused")
STRATEGIES = {
    "county": "items_snapshot_county",
    "round_robin": "items_snapshot_round_robin",
    "auction_date": "items_snapshot_auction_date",
}
STRATEGY_ALIASES = {
    "one_county": "county", "county_at_a_time": "county", "a": "county",
    "round-robin": "round_robin", "roundrobin": "round_robin", "b": "round_robin",
    "priority": "auction_date", "auction": "auction_date", "nearest_auction": "auction_date",
    "c": "auction_date",
}  # fmt: skip
BATCH_SIZE_WARN = 100
_UUID_RE = re.compile(r"^[0-9a-fA-F-]{4,36}$")


def first_row(rows: list[Any]) -> Any:
    return rows[0] if rows else None


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC).replace(tzinfo=None)


def _row(con: Any, query: str, params: Sequence[Any]) -> dict[str, Any] | None:
    cur = con.execute(query, params)
    r = first_row(cur.fetchall())
    if r is None:
        return None
    return dict(zip([d[0] for d in cur.description], r, strict=True))


def _event(con: Any, q: Any, job_id: str, event: str, detail: str | None, worker: str | None,
           now: dt.datetime) -> None:  # fmt: skip
    con.execute(q.event_insert, [job_id, event, detail, worker, now])


# -- lookups -----------------------------------------------------------------


def resolve_county(con: Any, q: Any, county: object) -> int | None:
    """A county name ("Blair", "Blair County", any case), id, FIPS, or None for all."""
    if county is None:
        return None
    rows = con.execute(q.county_lookup).fetchall()
    by_id = {r[0]: r[1] for r in rows}
    if isinstance(county, bool):
        raise UnknownCountyError(county, by_id.values())
    if isinstance(county, int) or (isinstance(county, str) and county.strip().isdigit()):
        n = int(county)
        if n in by_id:
            return n
        if 42000 < n < 43000 and n - 42000 in by_id:  # a FIPS code
            return n - 42000
        raise UnknownCountyError(county, by_id.values())
    if not isinstance(county, str):
        raise UnknownCountyError(county, by_id.values())
    text = re.sub(r"\s+", " ", county.strip().lower())
    text = re.sub(r"\s*county$", "", text).strip()
    if text in ("", "all", "all counties", "none"):
        return None
    exact = [i for i, name in by_id.items() if name.lower() == text]
    if exact:
        return exact[0]
    prefix = [name for name in by_id.values() if name.lower().startswith(text)]
    if len(prefix) == 1:
        return next(i for i, n in by_id.items() if n == prefix[0])
    if len(prefix) > 1:
        raise AmbiguousCountyError(
            f"County {county!r} is ambiguous: it matches {', '.join(sorted(prefix))}. "
            "Give the full name."
        )
    raise UnknownCountyError(county, by_id.values())


def resolve_job(con: Any, q: Any, job_id: object) -> dict[str, Any]:
    """The job row for a UUID or a unique prefix of one (≥ 4 characters)."""
    if not isinstance(job_id, str | uuid.UUID):
        raise JobNotFoundError(f"Malformed job id {job_id!r}: expected a UUID string.")
    text = str(job_id).strip().lower()
    if not _UUID_RE.match(text):
        raise JobNotFoundError(
            f"Malformed job id {job_id!r}: expected a UUID like "
            "'1b4e28ba-2fa1-11d2-883f-0016d3cca427' (or its first 8 characters)."
        )
    try:
        full = str(uuid.UUID(text))
    except ValueError:
        matches = [r[0] for r in con.execute(q.job_ids_like, [text + "%"]).fetchall()]
        if len(matches) == 1:
            full = matches[0]
        elif len(matches) > 1:
            raise JobNotFoundError(
                f"Job id prefix {job_id!r} matches several jobs: {', '.join(matches)}."
            ) from None
        else:
            raise JobNotFoundError(_no_job_message(con, q, job_id)) from None
    row = _row(con, q.job_get, [full])
    if row is None:
        raise JobNotFoundError(_no_job_message(con, q, job_id))
    row["id"] = str(row["id"])
    return row


def _no_job_message(con: Any, q: Any, job_id: object) -> str:
    active = con.execute(q.jobs_active).fetchall()
    listing = ", ".join(f"{r[0]} ({r[1]}, {r[3]})" for r in active[:5]) or "none"
    return f"No batch job with id {job_id!r}. Active jobs: {listing}."


def validate_batch_size(batch_size: object, job_type: JobType) -> tuple[int, list[str]]:
    if batch_size is None:
        return job_type.batch_size, []
    if isinstance(batch_size, bool) or not isinstance(batch_size, int | float | str):
        raise InvalidBatchSizeError(
            f"Batch size {batch_size!r} is not a whole number; give an integer from 1 "
            f"(the guide recommends {job_type.batch_size} for {job_type.name})."
        )
    try:
        n = int(str(batch_size)) if isinstance(batch_size, str) else batch_size
    except ValueError:
        n = math.nan
    if isinstance(n, float):
        if not n.is_integer():
            raise InvalidBatchSizeError(
                f"Batch size {batch_size!r} is not a whole number; give an integer from 1 "
                f"(the guide recommends {job_type.batch_size} for {job_type.name})."
            )
        n = int(n)
    if n <= 0:
        raise InvalidBatchSizeError(
            f"Batch size {batch_size!r} must be at least 1 "
            f"(the guide recommends {job_type.batch_size} for {job_type.name})."
        )
    warnings = []
    if n > BATCH_SIZE_WARN:
        warnings.append(
            f"Batch size {n} is over {BATCH_SIZE_WARN}; the guide advises against it "
            f"(recommended for {job_type.name}: {job_type.batch_size})."
        )
    return n, warnings


def normalise_strategy(strategy: object) -> str:
    key = str(strategy).strip().lower().replace(" ", "_")
    key = STRATEGY_ALIASES.get(key, key)
    if key not in STRATEGIES:
        raise UnknownChoiceError("ordering strategy", strategy, STRATEGIES)
    return key


# -- creating ----------------------------------------------------------------


@dataclass
class Created:
    job_id: str
    total_items: int
    warnings: list[str]
    other_active: list[dict[str, Any]]


def create_job(con: Any, q: Any, *, job_type: JobType, county_id: int | None, batch_size: int,
               strategy: str, force: bool, max_consecutive_failures: int, worker: str,
               now: dt.datetime) -> Created:  # fmt: skip
    same = con.execute(q.jobs_active_same, [job_type.name, county_id]).fetchall()
    if same and not force:
        ids = ", ".join(f"{r[0]} ({r[1]})" for r in same)
        raise ActiveJobExistsError(
            f"A {job_type.name} job for this county is already active: {ids}. "
            "Resume it ('Resume batch job'), cancel it, or pass force=True to start another."
        )
    others = [
        {"job_id": r[0], "job_type": r[1], "county_id": r[2], "status": r[3]}
        for r in con.execute(q.jobs_active).fetchall()
    ]
    job_id = str(uuid.uuid4())
    con.execute(
        q.job_insert,
        [job_id, job_type.name, county_id, batch_size, strategy, max_consecutive_failures, worker,
         now, now],
    )  # fmt: skip
    snap = q[STRATEGIES[strategy]].replace("{view}", quote_ident(job_type.view))
    if strategy == "round_robin":
        con.execute(snap, [job_id, batch_size, county_id, county_id])
    else:
        con.execute(snap, [job_id, county_id, county_id])
    total = con.execute(q.items_count, [job_id]).fetchall()[0][0]
    con.execute(q.job_set_totals, [total, math.ceil(total / batch_size), job_id])
    _event(con, q, job_id, "created", f"{total} {job_type.noun}", worker, now)
    if total == 0:
        con.execute(q.job_complete, [now, now, job_id])
        _event(con, q, job_id, "completed", "nothing to do", worker, now)
    return Created(job_id, total, [], others)


# -- claiming ----------------------------------------------------------------


def release_stale(con: Any, q: Any, job_id: str, now: dt.datetime) -> int:
    """Give claims of dead workers (same host) and expired leases back to pending."""
    claimers = [r[0] for r in con.execute(q.items_claimers, [job_id]).fetchall()]
    dead = [w for w in claimers if w and is_dead(w)]
    if not claimers:
        return 0
    cur = con.execute(q.items_release_stale, [job_id, now, dead])
    n = cur.fetchall()[0][0] if cur.description else 0
    return int(n or 0)


def check_workable(job: dict[str, Any]) -> None:
    status = job["status"]
    if status == "paused":
        reason = f" ({job['pause_reason']})" if job.get("pause_reason") else ""
        raise JobPausedError(
            f"Job {job['id']} is paused{reason}. Resume it first: "
            f"ws.resume_batch_job('{job['id']}') or 'Resume batch job'."
        )
    if status in ("completed", "cancelled"):
        raise InvalidTransitionError(
            f"Job {job['id']} is {status}; it has no more batches. "
            "Start a new job for the remaining work (create_batch_job)."
        )


def claim_batch(con: Any, q: Any, job: dict[str, Any], *, worker: str, lease_seconds: float,
                now: dt.datetime, limit: int | None = None, release: bool = True,
                own_first: bool = True,
                count_batch: bool = True) -> list[tuple[int, str]]:  # fmt: skip
    """Up to ``limit`` items: the worker's own open claims first, then new ones in order.

    A completed job has nothing left to hand out (an empty list). ``count_batch=False``
    leaves the job's batch counter to the caller (``record_outcomes(new_batches=1)``
    in the same transaction: one update of the job row instead of two).
    """
    if job["status"] == "completed":
        return []
    check_workable(job)
    job_id = job["id"]
    if job["status"] == "pending":
        con.execute(q.job_start, [now, now, job_id])
        _event(con, q, job_id, "started", None, worker, now)
        job["status"] = "in_progress"
    if release:
        release_stale(con, q, job_id, now)
    size = job["batch_size"] if limit is None else max(0, min(limit, job["batch_size"]))
    lease = now + dt.timedelta(seconds=lease_seconds)
    own: list[tuple[int, str]] = []
    if own_first:
        own = [
            (r[0], r[1]) for r in con.execute(q.items_own_claims, [job_id, worker, size]).fetchall()
        ]
    if own:
        con.execute(q.items_renew_own, [lease, job_id, worker])
    new: list[tuple[int, str]] = []
    if len(own) < size:
        new = [
            (r[0], r[1])
            for r in con.execute(
                q.items_claim_new, [worker, lease, now, job_id, job_id, size - len(own)]
            ).fetchall()
        ]
        if new and count_batch:
            con.execute(q.job_next_batch_number, [now, job_id])
    return sorted(own + new)


def unclaim(con: Any, q: Any, job_id: str, worker: str, seqs: Sequence[int]) -> None:
    """Hand back a batch claimed and counted in this transaction (the job stopped being
    workable before the transaction's end)."""
    con.execute(q.items_unclaim, [job_id, worker, list(seqs)])
    con.execute(q.job_uncount_batch, [job_id])


# -- recording ---------------------------------------------------------------


@dataclass
class Outcome:
    seq: int
    item_id: str
    status: str  # done | failed | skipped
    error: str | None = None
    result: dict[str, Any] | None = None


@dataclass
class Recorded:
    status: str
    processed: int
    failed: int
    skipped: int
    auto_paused: bool
    completed: bool
    pause_reason: str | None


def record_outcomes(con: Any, q: Any, job: dict[str, Any], job_type: JobType,
                    outcomes: Sequence[Outcome], *, worker: str | None, now: dt.datetime,
                    renew_lease_seconds: float | None = None, fatal: str | None = None,
                    new_batches: int = 0) -> Recorded:  # fmt: skip
    """Write results and item outcomes, update counters, apply the failure rule.

    Items that are finished already (reported twice, or by another worker) are
    left as they are and not counted again. The job's status, counters and
    consecutive-failure count are read back from the database in the same
    statement, so a stale ``job`` dict cannot mislead the rules.
    """

    job_id = job["id"]
    applied: dict[int, str] = {}
    if outcomes:
        seqs = [o.seq for o in outcomes]
        applied = dict(
            con.execute(
                q.items_set_outcomes,
                [now, seqs, [o.status for o in outcomes], [o.error for o in outcomes], job_id,
                 min(seqs), max(seqs)],
            ).fetchall()
        )  # fmt: skip
    kept = [o for o in outcomes if o.seq in applied]
    results = [o for o in kept if o.status == "done" and o.result is not None]
    if results:
        write_results(con, q, job_type, job_id, results, now)
    any_done = any(o.status == "done" for o in kept)
    trailing = 0
    last_error = None
    for o in kept:
        if o.status == "done":
            trailing = 0
        elif o.status == "failed":
            trailing += 1
            last_error = o.error
    counts = {s: sum(1 for o in kept if o.status == s) for s in ("done", "failed", "skipped")}
    last_item = kept[-1].item_id if kept else None
    status, consecutive, limit, total, finished = con.execute(
        q.job_add_counts,
        [counts["done"], counts["failed"], counts["skipped"], any_done, trailing, counts["failed"],
         last_error, last_item, new_batches, now, job_id],
    ).fetchall()[0]  # fmt: skip
    if status == "cancelled" and kept:
        raise InvalidTransitionError(f"Job {job_id} is cancelled; its progress can't change.")
    for o in kept:
        if o.status == "failed":
            _event(con, q, job_id, "item_failed", f"{o.item_id}: {o.error}", worker, now)
    if worker and renew_lease_seconds:
        con.execute(
            q.items_renew_own, [now + dt.timedelta(seconds=renew_lease_seconds), job_id, worker]
        )
    reason = None
    auto = False
    if status in ("pending", "in_progress"):
        if fatal:
            reason, auto = f"Paused at once: {fatal}", True
        elif consecutive >= limit:
            reason = (
                f"Auto-paused after {consecutive} consecutive failures; last error: {last_error}"
            )
            auto = True
    if auto:
        con.execute(q.job_pause, [now, reason, now, job_id])
        _event(con, q, job_id, "auto_paused", reason, worker, now)
        status = "paused"
    completed = False
    if finished >= total and status not in ("completed", "cancelled"):
        con.execute(q.job_complete, [now, now, job_id])
        _event(con, q, job_id, "completed", None, worker, now)
        status, completed, reason = "completed", True, None
    job.update(status=status, consecutive_failures=consecutive)
    return Recorded(status, counts["done"], counts["failed"], counts["skipped"], auto, completed,
                    reason)  # fmt: skip


_columns: dict[tuple[str, str], dict[str, tuple[str, bool]]] = {}


def table_columns(con: Any, q: Any, table: str) -> dict[str, tuple[str, bool]]:
    """{column: (type, nullable)} of a table (cached per dialect; migrations add, never drop)."""
    key = (q.dialect, table)
    if key not in _columns:
        rows = con.execute(q.table_columns, [table]).fetchall()
        if not rows:
            return {}
        _columns[key] = {r[0]: (r[1], r[2] == "YES") for r in rows}
    return _columns[key]


_CONTAINERS = (list, tuple, dict, set)


def _jsonable(v: Any) -> Any:
    if isinstance(v, _CONTAINERS):
        return json.dumps(list(v) if isinstance(v, set | tuple) else v, default=str)
    return v


def validate_result(job_type: JobType, result: object, columns: Iterable[str]) -> dict[str, Any]:
    """A processor's return value as a result row, or a ProcessorError that says why not."""
    writer = job_type.load_writer()
    if writer is not None:
        return writer.validate_result(result)
    if not isinstance(result, dict):
        raise ProcessorError(
            f"The {job_type.name} processor returned {type(result).__name__} {result!r:.80}; "
            "a result must be a dict of column values."
        )
    valid = _valid_fields(job_type, columns)
    if not valid.issuperset(result):
        unknown = sorted(set(result) - valid)
        raise ProcessorError(
            f"The {job_type.name} processor returned unknown field(s) {', '.join(unknown)}; "
            f"valid fields of {job_type.result_table}: {', '.join(sorted(valid))}."
        )
    # JSON for containers only: the check per value is the hot path of a large batch
    return {k: _jsonable(v) if isinstance(v, _CONTAINERS) else v for k, v in result.items()}


_valid: dict[tuple[str, tuple[str, ...]], frozenset[str]] = {}


def _valid_fields(job_type: JobType, columns: Iterable[str]) -> frozenset[str]:
    """The result fields a processor may return (cached: called once per item)."""
    key = (job_type.name, tuple(columns))
    if key not in _valid:
        _valid[key] = frozenset(key[1]) - {job_type.key_column, "job_id"}
    return _valid[key]


def result_arrays(
    job_type: JobType,
    cols: dict[str, tuple[str, bool]],
    job_id: str,
    outcomes: Sequence[Outcome],
    now: dt.datetime,
) -> dict[str, list[Any]]:
    """The batch's result rows as one list per column, in the table's column order.

    The key column comes from the item ids, ``job_id`` from the job, and a NOT
    NULL timestamp the processor left empty is ``now``; every list holds values
    of one Python type (mixed values become text), so a backend can bind each
    list as one array parameter.
    """
    key = job_type.key_column
    given: dict[str, None] = {}
    for o in outcomes:
        for k in o.result or ():
            given[k] = None
    unknown = sorted(set(given) - set(cols))
    if unknown:
        raise ValidationError(
            f"Unknown column(s) {', '.join(unknown)} for {job_type.result_table}."
        )
    data: dict[str, list[Any]] = {}
    if key in cols:
        as_int = job_type.item_kind == "county"
        data[key] = [int(o.item_id) if as_int else o.item_id for o in outcomes]
    if "job_id" in cols:
        data["job_id"] = [job_id] * len(outcomes)
    for name in given:
        if name not in data:
            vals = [(o.result or {}).get(name) for o in outcomes]
            if any(isinstance(v, _CONTAINERS) for v in vals):
                vals = [_jsonable(v) for v in vals]
            data[name] = vals
    for name, (typ, nullable) in cols.items():
        if typ.startswith("TIMESTAMP") and not nullable:
            vals = data.get(name)
            data[name] = (
                [now] * len(outcomes) if vals is None else [now if v is None else v for v in vals]
            )
    return {c: _uniform(data[c]) for c in cols if c in data}


def _uniform(values: list[Any]) -> list[Any]:
    """One Python type per list (a driver types a list by its values): mixed → text."""
    kinds = {type(v) for v in values if v is not None}
    if len(kinds) <= 1:
        return values
    return [None if v is None else str(v) for v in values]


def prepare_results(
    con: Any, q: Any, job_type: JobType, job_id: str, outcomes: Sequence[Outcome],
    now: dt.datetime,
) -> tuple[dict[str, tuple[str, bool]], dict[str, list[Any]]] | None:  # fmt: skip
    """The result table's columns and the batch's lists (:func:`result_arrays`), for a
    backend's upsert; None when the type's own writer wrote them or it keeps none."""
    writer = job_type.load_writer()
    if writer is not None:
        writer.write_results(con, q, job_id, outcomes, now)
        return None
    if job_type.result_table is None:
        return None
    cols = table_columns(con, q, job_type.result_table)
    return cols, result_arrays(job_type, cols, job_id, outcomes, now)


def write_results(con: Any, q: Any, job_type: JobType, job_id: str,
                  outcomes: Sequence[Outcome], now: dt.datetime) -> None:  # fmt: skip
    """Upsert result rows into the type's result table (one statement for the batch).

    One list parameter per column (``unnest``): no DataFrame to build and
    register per batch, and the statement's text is the same for every batch
    of the same columns.
    """
    prepared = prepare_results(con, q, job_type, job_id, outcomes, now)
    if prepared is None:
        return
    cols, data = prepared
    names = list(data)
    table = quote_ident(job_type.result_table)
    has_pk = job_type.key_column in cols and job_type.result_table != "county_research"
    verb = "INSERT OR REPLACE INTO" if has_pk else "INSERT INTO"
    # a column with one value for the whole batch (job_id, the fill-in timestamp) is
    # bound once: DuckDB converts a list parameter value by value
    same = {c for c in names if all(v is data[c][0] for v in data[c])}
    select = ", ".join(
        f"CAST(? AS {cols[c][0]}) AS {quote_ident(c)}"
        if c in same
        else f"unnest(?::{cols[c][0]}[]) AS {quote_ident(c)}"
        for c in names
    )
    con.execute(
        f"{verb} {table} BY NAME SELECT {select}",  # BY NAME: measured faster than a column list
        [data[c][0] if c in same else data[c] for c in names],
    )


def single_outcome(items_processed: object, items_failed: object,
                   error_message: object) -> tuple[str, str | None]:  # fmt: skip
    """The guide's (processed, failed) pair for one item → its status."""
    pair = (items_processed, items_failed)
    if pair == (1, 0):
        return "done", None
    if pair == (0, 1):
        return "failed", str(error_message) if error_message is not None else "failed"
    raise ValidationError(
        f"update_batch_progress reports one item: items_processed, items_failed must be "
        f"(1, 0) or (0, 1), got {pair!r}."
    )


# -- transitions ---------------------------------------------------------------


def pause(con: Any, q: Any, job: dict[str, Any], reason: str | None, worker: str | None,
          now: dt.datetime) -> None:  # fmt: skip
    if job["status"] not in ("pending", "in_progress"):
        raise InvalidTransitionError(
            f"Job {job['id']} is {job['status']}; only pending or in-progress jobs can be paused."
        )
    con.execute(q.job_pause, [now, reason or "paused by user", now, job["id"]])
    _event(con, q, job["id"], "paused", reason, worker, now)


def resume(con: Any, q: Any, job: dict[str, Any], worker: str | None, now: dt.datetime) -> None:
    if job["status"] not in ("paused", "in_progress", "pending"):
        raise InvalidTransitionError(
            f"Job {job['id']} is {job['status']}; only paused or interrupted jobs can be resumed."
        )
    if job["status"] == "pending":
        return
    release_stale(con, q, job["id"], now)
    con.execute(q.job_resume, [now, job["id"]])
    if job["started_at"] is None:
        con.execute(q.job_start, [now, now, job["id"]])
    _event(con, q, job["id"], "resumed", None, worker, now)


def complete(con: Any, q: Any, job: dict[str, Any], worker: str | None, now: dt.datetime) -> None:
    if job["status"] == "completed":
        return
    if job["status"] == "cancelled":
        raise InvalidTransitionError(f"Job {job['id']} is cancelled; it cannot be completed.")
    left = con.execute(q.items_unfinished, [job["id"]]).fetchall()[0][0]
    if left:
        raise InvalidTransitionError(
            f"Job {job['id']} still has {left} unfinished item(s); finish them, or cancel the job."
        )
    con.execute(q.job_complete, [now, now, job["id"]])
    _event(con, q, job["id"], "completed", None, worker, now)


def cancel(con: Any, q: Any, job: dict[str, Any], worker: str | None, now: dt.datetime) -> None:
    if job["status"] in ("completed", "cancelled"):
        raise InvalidTransitionError(
            f"Job {job['id']} is {job['status']}; only active jobs can be cancelled."
        )
    con.execute(q.job_cancel, [now, now, job["id"]])
    _event(con, q, job["id"], "cancelled", None, worker, now)


def retry_failed(con: Any, q: Any, job: dict[str, Any], worker: str | None,
                 now: dt.datetime) -> int:  # fmt: skip
    if job["status"] == "cancelled":
        raise InvalidTransitionError(f"Job {job['id']} is cancelled; start a new job instead.")
    cur = con.execute(q.items_retry_failed, [job["id"]])
    n = int(cur.fetchall()[0][0])
    if n:
        con.execute(q.job_after_retry, [n, now, job["id"]])
        if job["status"] == "completed":
            reason = f"{n} failed item(s) queued for retry"
            con.execute(q.job_reopen_for_retry, [now, reason, now, job["id"]])
        _event(con, q, job["id"], "retry_failed", f"{n} item(s)", worker, now)
    return n
