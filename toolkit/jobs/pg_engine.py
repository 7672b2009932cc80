"""The lifecycle rules on Postgres: the same functions as :mod:`toolkit.jobs.engine`,
calling the plpgsql functions of ``toolkit/sql/postgres/functions.sql``.

The rules (status checks, claiming with ``FOR UPDATE SKIP LOCKED``, counters,
the consecutive-failure pause, completion) live once, in SQL, and psql users
calling ``create_batch_job(…)`` or ``update_batch_progress(…)`` get the same
behaviour as the Python API. This module only converts arguments, names the
dead workers it can see on its own host, and writes result rows.

Leases: a session's claims (its connection is a held one) last the store's
``lease_seconds`` (30 s by default) and are renewed at every checkpoint and by
the session's heartbeat thread; claims handed to a person by ``get_next_batch``
keep the longer lease the workspace asks for.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Sequence
from typing import Any

from toolkit.exceptions import JobNotFoundError
from toolkit.jobs.engine import (  # noqa: F401 - the same names as engine, for callers
    ACTIVE,
    STRATEGIES,
    Created,
    Outcome,
    Recorded,
    check_workable,
    normalise_strategy,
    prepare_results,
    resolve_county,
    single_outcome,
    utcnow,
    validate_batch_size,
    validate_result,
)
from toolkit.jobs.engine import table_columns as table_columns
from toolkit.jobs.registry import JobType
from toolkit.jobs.workers import is_dead
from toolkit.store.schema import quote_ident


def _lease(con: Any, asked: float | None) -> float | None:
    """Session claims get the store's short lease (heartbeats keep them); others what was asked."""
    if getattr(con, "in_session", False):
        return min(asked, con.lease_seconds) if asked else con.lease_seconds
    return asked


def _dead_workers(con: Any, job_id: str) -> list[str]:
    claimers = [
        r[0]
        for r in con.execute(
            "SELECT DISTINCT claimed_by FROM batch_job_items "
            "WHERE job_id = ?::UUID AND status = 'claimed'",
            [job_id],
        ).fetchall()
    ]
    return [w for w in claimers if w and is_dead(w)]


# -- lookups -----------------------------------------------------------------


def resolve_job(con: Any, q: Any, job_id: object) -> dict[str, Any]:
    """The job row for a UUID or a unique prefix of one (≥ 4 characters), via ``tk_resolve_job``."""
    if not isinstance(job_id, str | uuid.UUID):
        raise JobNotFoundError(f"Malformed job id {job_id!r}: expected a UUID string.")
    full = con.execute("SELECT tk_resolve_job(?::TEXT)::TEXT", [str(job_id)]).fetchall()[0][0]
    cur = con.execute(q.job_get, [full])
    row = dict(zip([d[0] for d in cur.description], cur.fetchall()[0], strict=True))
    row["id"] = str(row["id"])
    return row


# -- creating ----------------------------------------------------------------


def create_job(con: Any, q: Any, *, job_type: JobType, county_id: int | None, batch_size: int,
               strategy: str, force: bool, max_consecutive_failures: int, worker: str,
               now: dt.datetime) -> Created:  # fmt: skip
    others = [
        {"job_id": r[0], "job_type": r[1], "county_id": r[2], "status": r[3]}
        for r in con.execute(q.jobs_active).fetchall()
    ]
    job_id, total = con.execute(
        "SELECT job_id::TEXT, total_items FROM tk_create_job(?, ?::INTEGER, ?, ?, ?, ?, ?, NULL)",
        [
            job_type.name,
            county_id,
            batch_size,
            strategy,
            bool(force),
            max_consecutive_failures,
            worker,
        ],
    ).fetchall()[0]
    return Created(job_id, total, [], others)


# -- claiming ----------------------------------------------------------------


def release_stale(con: Any, q: Any, job_id: str, now: dt.datetime | None = None) -> int:
    """Give claims of dead workers (this host) and expired leases (any host) back to pending."""
    dead = _dead_workers(con, job_id)
    return int(
        con.execute("SELECT tk_release_stale(?::UUID, ?::TEXT[], NULL)", [job_id, dead]).fetchall()[
            0
        ][0]
    )


def claim_batch(con: Any, q: Any, job: dict[str, Any], *, worker: str, lease_seconds: float,
                now: dt.datetime, limit: int | None = None, release: bool = True,
                own_first: bool = True) -> list[tuple[int, str]]:  # fmt: skip
    """Up to ``limit`` items: the worker's own open claims first, then new ones (SKIP LOCKED).

    Expired leases are released on every claim (an index probe); dead workers of
    this host only when ``release`` (it lists the claimers).
    """
    dead = _dead_workers(con, job["id"]) if release else []
    rows = con.execute(
        "SELECT seq, item_id FROM tk_claim_batch(?::UUID, ?, ?::DOUBLE PRECISION, "
        "?::INTEGER, TRUE, ?::TEXT[], ?, NULL)",
        [job["id"], worker, _lease(con, lease_seconds), limit, dead, bool(own_first)],
    ).fetchall()
    if job["status"] == "pending":
        job["status"] = "in_progress"
    return sorted((int(s), str(i)) for s, i in rows)


# -- recording ---------------------------------------------------------------


def record_outcomes(con: Any, q: Any, job: dict[str, Any], job_type: JobType,
                    outcomes: Sequence[Outcome], *, worker: str | None, now: dt.datetime,
                    renew_lease_seconds: float | None = None, fatal: str | None = None,
                    new_batches: int = 0) -> Recorded:  # fmt: skip
    """Item outcomes, counters and the failure rule (``tk_record_outcomes``), then result rows.

    A session's checkpoint is its heartbeat too: its remaining claims are renewed.
    """
    renew = (
        _lease(con, renew_lease_seconds)
        if getattr(con, "in_session", False)
        else renew_lease_seconds
    )
    applied, status, consecutive, auto, completed, reason = con.execute(
        "SELECT applied, status, consecutive, auto_paused, completed, pause_reason "
        "FROM tk_record_outcomes(?::UUID, ?::INTEGER[], ?::TEXT[], ?::TEXT[], ?::TEXT[], ?, "
        "?::DOUBLE PRECISION, ?::TEXT, ?, NULL)",
        [
            job["id"],
            [o.seq for o in outcomes],
            [o.item_id for o in outcomes],
            [o.status for o in outcomes],
            [o.error for o in outcomes],
            worker,
            renew,
            fatal,
            new_batches,
        ],
    ).fetchall()[0]
    kept = _kept(outcomes, applied)
    _write_done(con, q, job_type, job["id"], kept, now)
    job.update(status=status, consecutive_failures=consecutive)
    return _recorded(kept, status, auto, completed, reason)


def _kept(outcomes: Sequence[Outcome], applied: Sequence[int] | None) -> list[Outcome]:
    if applied is not None and len(applied) == len(outcomes):
        return list(outcomes)  # the usual case: every outcome applied (seqs are unique)
    kept_seqs = set(applied or [])
    return [o for o in outcomes if o.seq in kept_seqs]


def _write_done(con: Any, q: Any, job_type: JobType, job_id: str, kept: Sequence[Outcome],
                now: dt.datetime) -> None:  # fmt: skip
    results = [o for o in kept if o.status == "done" and o.result is not None]
    if results:
        write_results(con, q, job_type, job_id, results, now)


def _recorded(kept: Sequence[Outcome], status: str, auto: bool, completed: bool,
              reason: str | None) -> Recorded:  # fmt: skip
    counts = {"done": 0, "failed": 0, "skipped": 0}
    for o in kept:
        counts[o.status] += 1
    return Recorded(status, counts["done"], counts["failed"], counts["skipped"], bool(auto),
                    bool(completed), reason)  # fmt: skip


def cycle(
    con: Any,
    q: Any,
    job: dict[str, Any],
    job_type: JobType,
    outcomes: Sequence[Outcome],
    *,
    worker: str,
    now: dt.datetime,
    renew_lease_seconds: float | None,
    fatal: str | None,
    claim: bool,
    lease_seconds: float,
    limit: int | None = None,
    release: bool = True,
    own_first: bool = True,
) -> tuple[Recorded | None, str, list[tuple[int, str]]]:
    """A session's batch end in one transaction: record the outcomes, write their result
    rows, claim the next batch, and update the job's counter row last.

    The counter row is the one row every worker updates each batch; locking it
    just before the commit (``tk_cycle``) keeps the time other workers wait on
    it to the commit itself. Returns (what was recorded or None, status, claims).
    """
    kept: list[Outcome] = []
    if outcomes:
        applied = con.execute_prepared(
            "SELECT tk_record_items(?::UUID, ?::INTEGER[], ?::TEXT[], ?::TEXT[], NULL)",
            [job["id"], [o.seq for o in outcomes], [o.status for o in outcomes],
             [o.error for o in outcomes]],
        ).fetchall()[0][0]  # fmt: skip
        kept = _kept(outcomes, applied)
        _write_done(con, q, job_type, job["id"], kept, now)
    renew = _lease(con, renew_lease_seconds) if renew_lease_seconds else None
    dead = _dead_workers(con, job["id"]) if (claim and release) else []
    status, consecutive, auto, completed, reason, seqs, ids = con.execute_prepared(
        "SELECT * FROM tk_cycle(?::UUID, ?::TEXT[], ?::TEXT[], ?::TEXT[], ?, "
        "?::DOUBLE PRECISION, ?::TEXT, ?, ?::DOUBLE PRECISION, ?::INTEGER, ?::TEXT[], ?, NULL)",
        [
            job["id"],
            [o.item_id for o in kept],
            [o.status for o in kept],
            [o.error for o in kept],
            worker,
            renew,
            fatal,
            bool(claim),
            _lease(con, lease_seconds),
            limit,
            dead,
            bool(own_first),
        ],
    ).fetchall()[0]
    job.update(status=status, consecutive_failures=consecutive)
    rec = _recorded(kept, status, auto, completed, reason) if (outcomes or fatal) else None
    return (
        rec,
        status,
        list(zip((int(x) for x in seqs or []), (str(x) for x in ids or []), strict=True)),
    )


_ARRAY_TYPES = {"JSON": "TEXT", "JSONB": "TEXT"}  # sent as text, cast per element below


def write_results(con: Any, q: Any, job_type: JobType, job_id: str,
                  outcomes: Sequence[Outcome], now: dt.datetime) -> None:  # fmt: skip
    """Upsert result rows into the type's result table (one statement for the batch).

    One array parameter per column (``unnest``), so the statement's text is the
    same for every batch of the same columns, whatever the batch size.
    """
    prepared = prepare_results(con, q, job_type, job_id, outcomes, now)
    if prepared is None:
        return
    cols, data = prepared
    key = job_type.key_column
    names = list(data)
    table = quote_ident(job_type.result_table)
    arrays = ", ".join(f"?::{_ARRAY_TYPES.get(cols[c][0], cols[c][0])}[]" for c in names)
    select = ", ".join(
        f"u.{quote_ident(c)}::{cols[c][0]}" if cols[c][0] in _ARRAY_TYPES else f"u.{quote_ident(c)}"
        for c in names
    )
    sql = (
        f"INSERT INTO {table} ({', '.join(quote_ident(c) for c in names)}) "
        f"SELECT {select} FROM unnest({arrays}) AS u({', '.join(quote_ident(c) for c in names)})"
    )
    if key in cols and job_type.result_table != "county_research":
        sets = ", ".join(f"{quote_ident(c)} = excluded.{quote_ident(c)}" for c in names if c != key)
        sql += f" ON CONFLICT ({quote_ident(key)}) " + (
            f"DO UPDATE SET {sets}" if sets else "DO NOTHING"
        )
    con.execute_prepared(sql, [data[c] for c in names])


# -- transitions ---------------------------------------------------------------


def pause(con: Any, q: Any, job: dict[str, Any], reason: str | None, worker: str | None,
          now: dt.datetime) -> None:  # fmt: skip
    con.execute("SELECT tk_pause(?::UUID, ?::TEXT, ?::TEXT, NULL)", [job["id"], reason, worker])


def resume(con: Any, q: Any, job: dict[str, Any], worker: str | None, now: dt.datetime) -> None:
    dead = _dead_workers(con, job["id"])
    con.execute("SELECT tk_resume(?::UUID, ?::TEXT, ?::TEXT[], NULL)", [job["id"], worker, dead])


def complete(con: Any, q: Any, job: dict[str, Any], worker: str | None, now: dt.datetime) -> None:
    con.execute("SELECT tk_complete(?::UUID, ?::TEXT, NULL)", [job["id"], worker])


def cancel(con: Any, q: Any, job: dict[str, Any], worker: str | None, now: dt.datetime) -> None:
    con.execute("SELECT tk_cancel(?::UUID, ?::TEXT, NULL)", [job["id"], worker])


def retry_failed(con: Any, q: Any, job: dict[str, Any], worker: str | None,
                 now: dt.datetime) -> int:  # fmt: skip
    return int(
        con.execute(
            "SELECT tk_retry_failed(?::UUID, ?::TEXT, NULL)", [job["id"], worker]
        ).fetchall()[0][0]
    )


def pause_requested(con: Any, job_id: str) -> bool:
    """Whether the job is paused or cancelled now (a primary-key read)."""
    rows = con.execute("SELECT status FROM batch_jobs WHERE id = ?::UUID", [job_id]).fetchall()
    return bool(rows) and rows[0][0] in ("paused", "cancelled")
