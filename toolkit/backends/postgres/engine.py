"""The guide's lifecycle rules on Postgres: thin calls of the PL/pgSQL functions in
``sql/functions.sql``.

The rules (status checks, claiming with ``FOR UPDATE SKIP LOCKED``, counters,
the consecutive-failure pause, completion) live once, in SQL, and psql users
calling ``create_batch_job(…)`` or ``update_batch_progress(…)`` get the same
behaviour as the Python API. This module converts arguments, names the dead
workers it can see on its own host, and writes result rows.

Leases: a session's claims (its connection is a held one, ``in_session``) last the
store's ``lease_seconds`` (30 s by default) and are renewed at every checkpoint and
by the session's heartbeat thread; claims handed to a person by ``get_next_batch``
keep the longer lease the workspace asks for.

Statements run every batch are written with ``%b`` (bound on the server, sent in
binary, prepared); the rest with ``%s`` (psycopg's client-side binding).
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any, cast

from toolkit.backends import common
from toolkit.backends.base import (
    Claims,
    Connection,
    Created,
    JobSpec,
    Outcome,
    Recorded,
    ResultWriter,
)
from toolkit.backends.workers import is_dead
from toolkit.exceptions import JobNotFoundError
from toolkit.sql import Queries, quote_ident

if TYPE_CHECKING:
    import pandas as pd

    from toolkit.backends.postgres.connection import PGConnection

_ARRAY_TYPES = {"JSON": "TEXT", "JSONB": "TEXT"}  # sent as text, cast per element


def _kept(outcomes: Sequence[Outcome], applied: Sequence[int] | None) -> list[Outcome]:
    if applied is not None and len(applied) == len(outcomes):
        return list(outcomes)  # the usual case: every outcome applied (seqs are unique)
    kept_seqs = set(applied or [])
    return [o for o in outcomes if o.seq in kept_seqs]


def _recorded(
    kept: Sequence[Outcome], status: str, auto: bool, completed: bool, reason: str | None
) -> Recorded:
    counts = common.counts_of(kept)
    return Recorded(
        status,
        counts["done"],
        counts["failed"],
        counts["skipped"],
        bool(auto),
        bool(completed),
        reason,
    )


class PostgresEngine:
    """The rules (see the module doc); ``q`` is Postgres's named SQL."""

    def __init__(self, q: Queries) -> None:
        self.q = q
        self._columns: dict[str, dict[str, tuple[str, bool]]] = {}

    @staticmethod
    def _lease(con: Connection, asked: float | None) -> float | None:
        """Session claims get the store's short lease (heartbeats keep them); others what
        was asked."""
        pg = cast("PGConnection", con)  # this engine runs on its own store's connections
        if pg.in_session:
            return min(asked, pg.lease_seconds) if asked else pg.lease_seconds
        return asked

    def _dead_workers(self, con: Connection, job_id: str) -> list[str]:
        claimers = [
            r[0]
            for r in con.execute(
                "SELECT DISTINCT claimed_by FROM batch_job_items "
                "WHERE job_id = %s::UUID AND status = 'claimed'",
                [job_id],
            ).fetchall()
        ]
        dead = [w for w in claimers if w and is_dead(w)]
        if dead:  # their sessions' records too: closed with what they really did
            common.close_dead_sessions(con, self.q, common.utcnow())
        return dead

    # -- lookups -----------------------------------------------------------------

    def resolve_county(self, con: Connection, county: object) -> int | None:
        if county is None:
            return None
        return common.resolve_county(con.execute(self.q.county_lookup).fetchall(), county)

    def resolve_job(self, con: Connection, job_id: object) -> dict[str, Any]:
        """The job row for a UUID or a unique prefix of one (≥ 4 characters): ``tk_resolve_job``."""
        if not isinstance(job_id, str | uuid.UUID):
            raise JobNotFoundError(f"Malformed job id {job_id!r}: expected a UUID string.")
        full = con.execute("SELECT tk_resolve_job(%s::TEXT)::TEXT", [str(job_id)]).fetchall()[0][0]
        row = common.row_dict(con.execute(self.q.job_get, [full]))
        assert row is not None  # tk_resolve_job raised otherwise
        row["id"] = str(row["id"])
        return row

    def status(self, con: Connection, job_id: str) -> dict[str, Any]:
        row = common.row_dict(con.execute(self.q.status_one, [job_id]))
        if row is None:
            raise JobNotFoundError(f"No batch job with id {job_id!r}.")
        return row

    # -- creating ----------------------------------------------------------------

    def create_job(
        self,
        con: Connection,
        *,
        job_type: JobSpec,
        county_id: int | None,
        batch_size: int,
        strategy: str,
        force: bool,
        max_consecutive_failures: int,
        worker: str,
        now: dt.datetime,
        take_held: bool = False,
    ) -> Created:
        others = [
            {"job_id": r[0], "job_type": r[1], "county_id": r[2], "status": r[3]}
            for r in con.execute(self.q.jobs_active).fetchall()
        ]
        job_id, total, held, held_by = con.execute(
            "SELECT job_id::TEXT, total_items, held, held_by "
            "FROM tk_create_job(%s, %s::INTEGER, %s, %s, %s, %s, %s, NULL, %s)",
            [
                job_type.name,
                county_id,
                batch_size,
                strategy,
                bool(force),
                max_consecutive_failures,
                worker,
                bool(take_held),
            ],
        ).fetchall()[0]
        return Created(job_id, total, others, int(held or 0), held_by)

    # -- claiming ----------------------------------------------------------------

    def release_stale(self, con: Connection, job_id: str, now: dt.datetime | None = None) -> int:
        """Give claims of dead workers (this host) and expired leases (any host) back."""
        dead = self._dead_workers(con, job_id)
        return int(
            con.execute(
                "SELECT tk_release_stale(%s::UUID, %s::TEXT[], NULL)", [job_id, dead]
            ).fetchall()[0][0]
        )

    def release_own(self, con: Connection, job_id: str, worker: str) -> None:
        con.execute(self.q.items_release_own, [job_id, worker])

    def claim_batch(
        self,
        con: Connection,
        job: dict[str, Any],
        *,
        worker: str,
        lease_seconds: float,
        now: dt.datetime,
        limit: int | None = None,
        release: bool = True,
        own_first: bool = True,
    ) -> Claims:
        """Up to ``limit`` items: the worker's own open claims first, then new ones (SKIP LOCKED).

        Expired leases are released on every claim (an index probe); dead workers of
        this host only when ``release`` (it lists the claimers).
        """
        dead = self._dead_workers(con, job["id"]) if release else []
        rows = con.execute(
            "SELECT seq, item_id FROM tk_claim_batch(%s::UUID, %s, %s::DOUBLE PRECISION, "
            "%s::INTEGER, TRUE, %s::TEXT[], %s, NULL)",
            [job["id"], worker, self._lease(con, lease_seconds), limit, dead, bool(own_first)],
        ).fetchall()
        if job["status"] == "pending":
            job["status"] = "in_progress"
        return sorted((int(s), str(i)) for s, i in rows)

    # -- recording ---------------------------------------------------------------

    def record_outcomes(
        self,
        con: Connection,
        job: dict[str, Any],
        outcomes: Sequence[Outcome],
        *,
        worker: str | None,
        now: dt.datetime,
        write: ResultWriter | None = None,
        renew_lease_seconds: float | None = None,
        fatal: str | None = None,
    ) -> Recorded:
        """Item outcomes, counters and the failure rule (``tk_record_outcomes``), then results.

        A session's checkpoint is its heartbeat too: its remaining claims are renewed.
        """
        renew = (
            self._lease(con, renew_lease_seconds)
            if cast("PGConnection", con).in_session
            else renew_lease_seconds
        )
        applied, status, consecutive, auto, completed, reason = con.execute(
            "SELECT applied, status, consecutive, auto_paused, completed, pause_reason "
            "FROM tk_record_outcomes(%s::UUID, %s::INTEGER[], %s::TEXT[], %s::TEXT[], "
            "%s::TEXT[], %s, %s::DOUBLE PRECISION, %s::TEXT, %s, NULL)",
            [
                job["id"],
                [o.seq for o in outcomes],
                [o.item_id for o in outcomes],
                [o.status for o in outcomes],
                [o.error for o in outcomes],
                worker,
                renew,
                fatal,
                0,
            ],
        ).fetchall()[0]
        kept = _kept(outcomes, applied)
        self._write_done(con, kept, write)
        job.update(status=status, consecutive_failures=consecutive)
        return _recorded(kept, status, auto, completed, reason)

    @staticmethod
    def _write_done(con: Connection, kept: Sequence[Outcome], write: ResultWriter | None) -> None:
        results = [o for o in kept if o.status == "done" and o.result is not None]
        if results and write is not None:
            write(con, results)

    def cycle(
        self,
        con: Connection,
        job: dict[str, Any],
        outcomes: Sequence[Outcome],
        *,
        worker: str,
        now: dt.datetime,
        write: ResultWriter | None,
        renew_lease_seconds: float | None,
        fatal: str | None,
        claim: bool,
        lease_seconds: float,
        limit: int | None = None,
        release: bool = True,
        own_first: bool = True,
    ) -> tuple[Recorded | None, str, Claims]:
        """Record the outcomes, write their result rows, claim the next batch, and update
        the job's counter row last.

        The counter row is the one row every worker updates each batch; locking it
        just before the commit (``tk_cycle``) keeps the time other workers wait on
        it to the commit itself.
        """
        kept: list[Outcome] = []
        if outcomes:
            applied = con.execute_prepared(
                "SELECT tk_record_items(%b::UUID, %b::INTEGER[], %b::TEXT[], %b::TEXT[], NULL)",
                [
                    job["id"],
                    [o.seq for o in outcomes],
                    [o.status for o in outcomes],
                    [o.error for o in outcomes],
                ],
            ).fetchall()[0][0]
            kept = _kept(outcomes, applied)
            self._write_done(con, kept, write)
        renew = self._lease(con, renew_lease_seconds) if renew_lease_seconds else None
        dead = self._dead_workers(con, job["id"]) if (claim and release) else []
        status, consecutive, auto, completed, reason, seqs, ids = con.execute_prepared(
            "SELECT * FROM tk_cycle(%b::UUID, %b::TEXT[], %b::TEXT[], %b::TEXT[], %b, "
            "%b::DOUBLE PRECISION, %b::TEXT, %b, %b::DOUBLE PRECISION, %b::INTEGER, %b::TEXT[], "
            "%b, NULL)",
            [
                job["id"],
                [o.item_id for o in kept],
                [o.status for o in kept],
                [o.error for o in kept],
                worker,
                renew,
                fatal,
                bool(claim),
                self._lease(con, lease_seconds),
                limit,
                dead,
                bool(own_first),
            ],
        ).fetchall()[0]
        job.update(status=status, consecutive_failures=consecutive)
        rec = _recorded(kept, status, auto, completed, reason) if (outcomes or fatal) else None
        claims = list(zip((int(x) for x in seqs or []), (str(x) for x in ids or []), strict=True))
        return rec, ("in_progress" if claims else status), claims

    def context(
        self, con: Connection, job_type: JobSpec, job_id: str, seqs: Sequence[int]
    ) -> pd.DataFrame:
        # every batch runs the same text: prepared, bound on the server
        return con.execute_prepared(self.q[job_type.context_query], [job_id, list(seqs)]).df()

    # -- results -------------------------------------------------------------------

    def table_columns(self, con: Connection, table: str) -> dict[str, tuple[str, bool]]:
        """{column: (type, nullable)} of a table (cached: migrations add, never drop)."""
        if table not in self._columns:
            rows = con.execute(self.q.table_columns, [table]).fetchall()
            if not rows:
                return {}
            self._columns[table] = {r[0]: (r[1], r[2] == "YES") for r in rows}
        return self._columns[table]

    def upsert_results(
        self,
        con: Connection,
        job_type: JobSpec,
        cols: Mapping[str, tuple[str, bool]],
        data: Mapping[str, list[Any]],
    ) -> None:
        """One array parameter per column (``unnest``): the statement's text is the same for
        every batch of the same columns, whatever the batch size."""
        assert job_type.result_table is not None
        key = job_type.key_column
        names = list(data)
        table = quote_ident(job_type.result_table)
        arrays = ", ".join(f"%b::{_ARRAY_TYPES.get(cols[c][0], cols[c][0])}[]" for c in names)
        select = ", ".join(
            f"u.{quote_ident(c)}::{cols[c][0]}"
            if cols[c][0] in _ARRAY_TYPES
            else f"u.{quote_ident(c)}"
            for c in names
        )
        quoted = ", ".join(quote_ident(c) for c in names)
        sql = f"INSERT INTO {table} ({quoted}) SELECT {select} FROM unnest({arrays}) AS u({quoted})"
        if key in cols and job_type.result_table != "county_research":
            sets = ", ".join(
                f"{quote_ident(c)} = excluded.{quote_ident(c)}" for c in names if c != key
            )
            sql += f" ON CONFLICT ({quote_ident(key)}) " + (
                f"DO UPDATE SET {sets}" if sets else "DO NOTHING"
            )
        con.execute_prepared(sql, [data[c] for c in names])

    # -- transitions ---------------------------------------------------------------

    def pause(
        self,
        con: Connection,
        job: dict[str, Any],
        reason: str | None,
        worker: str | None,
        now: dt.datetime,
    ) -> None:
        con.execute(
            "SELECT tk_pause(%s::UUID, %s::TEXT, %s::TEXT, NULL)", [job["id"], reason, worker]
        )

    def resume(
        self, con: Connection, job: dict[str, Any], worker: str | None, now: dt.datetime
    ) -> None:
        dead = self._dead_workers(con, job["id"])
        con.execute(
            "SELECT tk_resume(%s::UUID, %s::TEXT, %s::TEXT[], NULL)", [job["id"], worker, dead]
        )

    def complete(
        self, con: Connection, job: dict[str, Any], worker: str | None, now: dt.datetime
    ) -> None:
        con.execute("SELECT tk_complete(%s::UUID, %s::TEXT, NULL)", [job["id"], worker])

    def cancel(
        self, con: Connection, job: dict[str, Any], worker: str | None, now: dt.datetime
    ) -> None:
        con.execute("SELECT tk_cancel(%s::UUID, %s::TEXT, NULL)", [job["id"], worker])

    def retry_failed(
        self, con: Connection, job: dict[str, Any], worker: str | None, now: dt.datetime
    ) -> int:
        return int(
            con.execute(
                "SELECT tk_retry_failed(%s::UUID, %s::TEXT, NULL)", [job["id"], worker]
            ).fetchall()[0][0]
        )
