"""The guide's lifecycle rules on DuckDB, in Python over one open connection.

DuckDB has no stored procedures, so the rules run here; every method runs
inside a transaction its caller opened. The Postgres backend keeps the same
rules in PL/pgSQL (``toolkit/backends/postgres/sql/functions.sql``); one shared
test suite and a hypothesis state machine keep the two in step.

Job status: pending → in_progress → paused ⇄ in_progress → completed, or
cancelled (from any but completed). Item status: pending → claimed →
done | failed | skipped; failed → pending again only by ``retry_failed``.
"""

from __future__ import annotations

import datetime as dt
import math
import re
import uuid
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

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
from toolkit.exceptions import ActiveJobExistsError, InvalidTransitionError, JobNotFoundError
from toolkit.sql import Queries, quote_ident

if TYPE_CHECKING:
    import pandas as pd

SNAPSHOTS = {
    "county": "items_snapshot_county",
    "round_robin": "items_snapshot_round_robin",
    "auction_date": "items_snapshot_auction_date",
}
_UUID_RE = re.compile(r"^[0-9a-fA-F-]{4,36}$")


class DuckDBEngine:
    """The rules (see the module doc); ``q`` is DuckDB's named SQL."""

    def __init__(self, q: Queries) -> None:
        self.q = q
        self._columns: dict[str, dict[str, tuple[str, bool]]] = {}

    def _event(
        self,
        con: Connection,
        job_id: str,
        event: str,
        detail: str | None,
        worker: str | None,
        now: dt.datetime,
    ) -> None:
        con.execute(self.q.event_insert, [job_id, event, detail, worker, now])

    # -- lookups ---------------------------------------------------------------

    def resolve_county(self, con: Connection, county: object) -> int | None:
        if county is None:
            return None
        return common.resolve_county(con.execute(self.q.county_lookup).fetchall(), county)

    def resolve_job(self, con: Connection, job_id: object) -> dict[str, Any]:
        """The job row for a UUID or a unique prefix of one (≥ 4 characters)."""
        q = self.q
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
                raise JobNotFoundError(self._no_job_message(con, job_id)) from None
        row = common.row_dict(con.execute(q.job_get, [full]))
        if row is None:
            raise JobNotFoundError(self._no_job_message(con, job_id))
        row["id"] = str(row["id"])
        return row

    def _no_job_message(self, con: Connection, job_id: object) -> str:
        active = con.execute(self.q.jobs_active).fetchall()
        listing = ", ".join(f"{r[0]} ({r[1]}, {r[3]})" for r in active[:5]) or "none"
        return f"No batch job with id {job_id!r}. Active jobs: {listing}."

    def status(self, con: Connection, job_id: str) -> dict[str, Any]:
        row = common.row_dict(con.execute(self.q.status_one, [job_id]))
        if row is None:
            raise JobNotFoundError(f"No batch job with id {job_id!r}.")
        return row

    # -- creating --------------------------------------------------------------

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
        q = self.q
        same = con.execute(q.jobs_active_same, [job_type.name, county_id]).fetchall()
        if same and not force:
            ids = ", ".join(f"{r[0]} ({r[1]})" for r in same)
            raise ActiveJobExistsError(
                f"A {job_type.name} job for this county is already active: {ids}. "
                "Resume it ('Resume batch job'), cancel it, or start another anyway: "
                f"toolkit start {job_type.name} --force."
            )
        others = [
            {"job_id": r[0], "job_type": r[1], "county_id": r[2], "status": r[3]}
            for r in con.execute(q.jobs_active).fetchall()
        ]
        view = quote_ident(job_type.view)
        held, held_by = con.execute(
            q.items_held_elsewhere.replace("{view}", view), [job_type.name, county_id, county_id]
        ).fetchall()[0]
        job_id = str(uuid.uuid4())
        con.execute(
            q.job_insert,
            [
                job_id,
                job_type.name,
                county_id,
                batch_size,
                strategy,
                max_consecutive_failures,
                worker,
                now,
                now,
            ],
        )
        snap = q[SNAPSHOTS[strategy]].replace("{view}", view)
        leave = None if take_held else job_type.name
        if strategy == "round_robin":
            con.execute(snap, [job_id, batch_size, county_id, county_id, leave])
        else:
            con.execute(snap, [job_id, county_id, county_id, leave])
        total = con.execute(q.items_count, [job_id]).fetchall()[0][0]
        con.execute(q.job_set_totals, [total, math.ceil(total / batch_size), job_id])
        self._event(con, job_id, "created", f"{total} {job_type.noun}", worker, now)
        if total == 0:
            con.execute(q.job_complete, [now, now, job_id])
            self._event(con, job_id, "completed", "nothing to do", worker, now)
        return Created(
            job_id,
            total,
            others,
            0 if take_held else int(held or 0),
            None if take_held else held_by,
        )

    # -- claiming --------------------------------------------------------------

    def release_stale(self, con: Connection, job_id: str, now: dt.datetime) -> int:
        """Give claims of dead workers (same host) and expired leases back to pending."""
        claimers = [r[0] for r in con.execute(self.q.items_claimers, [job_id]).fetchall()]
        if not claimers:
            return 0
        dead = [w for w in claimers if w and is_dead(w)]
        if dead:  # their sessions' records too: closed with what they really did
            common.close_dead_sessions(con, self.q, now)
        cur = con.execute(self.q.items_release_stale, [job_id, now, dead])
        n = cur.fetchall()[0][0] if cur.description else 0
        return int(n or 0)

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
        """Up to ``limit`` items: the worker's own open claims first, then new ones in order."""
        return self._claim(
            con,
            job,
            worker=worker,
            lease_seconds=lease_seconds,
            now=now,
            limit=limit,
            release=release,
            own_first=own_first,
            count_batch=True,
        )

    def _claim(
        self,
        con: Connection,
        job: dict[str, Any],
        *,
        worker: str,
        lease_seconds: float,
        now: dt.datetime,
        limit: int | None,
        release: bool,
        own_first: bool,
        count_batch: bool,
    ) -> Claims:
        q = self.q
        if job["status"] == "completed":
            return []
        common.check_workable(job)
        job_id = job["id"]
        if job["status"] == "pending":
            con.execute(q.job_start, [now, now, job_id])
            self._event(con, job_id, "started", None, worker, now)
            job["status"] = "in_progress"
        if release:
            self.release_stale(con, job_id, now)
        size = job["batch_size"] if limit is None else max(0, min(limit, job["batch_size"]))
        lease = now + dt.timedelta(seconds=lease_seconds)
        own: Claims = []
        if own_first:
            own = [
                (r[0], r[1])
                for r in con.execute(q.items_own_claims, [job_id, worker, size]).fetchall()
            ]
        if own:
            con.execute(q.items_renew_own, [lease, job_id, worker])
        new: Claims = []
        if len(own) < size:
            new = [
                (r[0], r[1])
                for r in con.execute(
                    q.items_claim_new, [worker, lease, now, job_id, job_id, size - len(own)]
                ).fetchall()
            ]
            if new and count_batch:
                number = self._batch_no(job, new)
                con.execute(q.job_next_batch_number, [number, now, job_id])
                job["current_batch"] = max(
                    int(job.get("current_batch") or 0),
                    min(int(job.get("total_batches") or number), number),
                )
        return sorted(own + new)

    @staticmethod
    def _batch_no(job: dict[str, Any], new: Claims) -> int:
        """The batch of the furthest item handed out (seqs count from 0)."""
        return max(s for s, _ in new) // int(job["batch_size"]) + 1 if new else 0

    def _unclaim(self, con: Connection, job_id: str, worker: str, seqs: Sequence[int]) -> None:
        """Hand back a batch claimed in this transaction (its number stays: the same
        items are the next batch handed out)."""
        con.execute(self.q.items_unclaim, [job_id, worker, list(seqs)])

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
        return self._record(
            con,
            job,
            outcomes,
            worker=worker,
            now=now,
            write=write,
            renew_lease_seconds=renew_lease_seconds,
            fatal=fatal,
            batch_no=0,
        )

    def _record(
        self,
        con: Connection,
        job: dict[str, Any],
        outcomes: Sequence[Outcome],
        *,
        worker: str | None,
        now: dt.datetime,
        write: ResultWriter | None,
        renew_lease_seconds: float | None,
        fatal: str | None,
        batch_no: int,
    ) -> Recorded:
        """Write item outcomes and results, update counters, apply the failure rule.

        Items that are finished already (reported twice, or by another worker) are
        left as they are and not counted again. The job's status, counters and
        consecutive-failure count are read back in the same statement, so a stale
        ``job`` dict cannot mislead the rules.
        """
        q = self.q
        job_id = job["id"]
        applied: dict[int, str] = {}
        if outcomes:
            seqs = [o.seq for o in outcomes]
            applied = dict(
                con.execute(
                    q.items_set_outcomes,
                    [
                        now,
                        seqs,
                        [o.status for o in outcomes],
                        [o.error for o in outcomes],
                        job_id,
                        min(seqs),
                        max(seqs),
                    ],
                ).fetchall()
            )
        kept = [o for o in outcomes if o.seq in applied]
        results = [o for o in kept if o.status == "done" and o.result is not None]
        if results and write is not None:
            write(con, results)
        any_done = any(o.status == "done" for o in kept)
        trailing = 0
        last_error = None
        for o in kept:
            if o.status == "done":
                trailing = 0
            elif o.status == "failed":
                trailing += 1
                last_error = o.error
        counts = common.counts_of(kept)
        last_item = kept[-1].item_id if kept else None
        status, consecutive, limit, total, finished, batch = con.execute(
            q.job_add_counts,
            [
                counts["done"],
                counts["failed"],
                counts["skipped"],
                any_done,
                trailing,
                counts["failed"],
                last_error,
                last_item,
                batch_no,
                now,
                job_id,
            ],
        ).fetchall()[0]
        if status == "cancelled" and kept:
            raise InvalidTransitionError(f"Job {job_id} is cancelled; its progress can't change.")
        for o in kept:
            if o.status == "failed":
                self._event(con, job_id, "item_failed", f"{o.item_id}: {o.error}", worker, now)
        if worker and renew_lease_seconds:
            con.execute(
                q.items_renew_own,
                [now + dt.timedelta(seconds=renew_lease_seconds), job_id, worker],
            )
        reason = None
        auto = False
        if status in ("pending", "in_progress"):
            if fatal:
                reason, auto = f"Paused at once: {fatal}", True
            elif consecutive >= limit:
                reason = (
                    f"Auto-paused after {consecutive} consecutive failures; "
                    f"last error: {last_error}"
                )
                auto = True
        if auto:
            con.execute(q.job_pause, [now, reason, now, job_id])
            self._event(con, job_id, "auto_paused", reason, worker, now)
            status = "paused"
        completed = False
        if finished >= total and status not in ("completed", "cancelled"):
            con.execute(q.job_complete, [now, now, job_id])
            self._event(con, job_id, "completed", None, worker, now)
            status, completed, reason = "completed", True, None
        job.update(status=status, consecutive_failures=consecutive, current_batch=batch)
        return Recorded(
            status, counts["done"], counts["failed"], counts["skipped"], auto, completed, reason
        )

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
        """A session's batch end: the next batch is claimed *first*, so the one update
        of the job's counter row also counts it; if the outcomes stop the job
        (auto-pause, completion, a pause from elsewhere) the claims go back in the
        same transaction."""
        if not outcomes and not fatal:
            fresh = self.resolve_job(con, job["id"])
            job.update(
                status=fresh["status"],
                consecutive_failures=fresh["consecutive_failures"],
                max_consecutive_failures=fresh["max_consecutive_failures"],
            )
            if not claim or job["status"] not in ("pending", "in_progress"):
                return None, job["status"], []
            got = self.claim_batch(
                con,
                job,
                worker=worker,
                lease_seconds=lease_seconds,
                now=now,
                limit=limit,
                release=release,
                own_first=own_first,
            )
            return None, job["status"] if not got else "in_progress", got
        claims: Claims = []
        before = job.get("current_batch")
        if claim and fatal is None and job["status"] in ("pending", "in_progress"):
            claims = self._claim(
                con,
                job,
                worker=worker,
                lease_seconds=lease_seconds,
                now=now,
                limit=limit,
                release=release,
                own_first=own_first,
                count_batch=False,
            )
        # (own claims taken back were handed out before: they never raise the number)
        rec = self._record(
            con,
            job,
            outcomes,
            worker=worker,
            now=now,
            write=write,
            renew_lease_seconds=renew_lease_seconds,
            fatal=fatal,
            batch_no=self._batch_no(job, claims),
        )
        if claims and rec.status not in ("pending", "in_progress"):
            self._unclaim(con, job["id"], worker, [s for s, _ in claims])
            if before is not None and job.get("current_batch") != before:
                con.execute(self.q.job_batch_number_back, [before, job["id"], job["current_batch"]])
                job["current_batch"] = before
            claims = []
        return rec, ("in_progress" if claims else rec.status), claims

    def context(
        self, con: Connection, job_type: JobSpec, job_id: str, seqs: Sequence[int]
    ) -> pd.DataFrame:
        return con.execute(self.q[job_type.context_query], [job_id, list(seqs)]).df()

    # -- results ---------------------------------------------------------------------

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
        """One list parameter per column (``unnest``), one statement for the batch."""
        names = list(data)
        assert job_type.result_table is not None
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
            f"{verb} {table} BY NAME SELECT {select}",  # BY NAME: measured faster than a list
            [data[c][0] if c in same else data[c] for c in names],
        )

    # -- transitions ---------------------------------------------------------------

    def pause(
        self,
        con: Connection,
        job: dict[str, Any],
        reason: str | None,
        worker: str | None,
        now: dt.datetime,
    ) -> None:
        if job["status"] not in ("pending", "in_progress"):
            raise InvalidTransitionError(
                f"Job {job['id']} is {job['status']}; only pending or in-progress jobs can be "
                "paused."
            )
        con.execute(self.q.job_pause, [now, reason or "paused by user", now, job["id"]])
        self._event(con, job["id"], "paused", reason, worker, now)

    def resume(
        self, con: Connection, job: dict[str, Any], worker: str | None, now: dt.datetime
    ) -> None:
        if job["status"] not in ("paused", "in_progress", "pending"):
            raise InvalidTransitionError(
                f"Job {job['id']} is {job['status']}; only paused or interrupted jobs can be "
                "resumed."
            )
        if job["status"] == "pending":
            return
        self.release_stale(con, job["id"], now)
        con.execute(self.q.job_resume, [now, job["id"]])
        if job["started_at"] is None:
            con.execute(self.q.job_start, [now, now, job["id"]])
        self._event(con, job["id"], "resumed", None, worker, now)

    def complete(
        self, con: Connection, job: dict[str, Any], worker: str | None, now: dt.datetime
    ) -> None:
        if job["status"] == "completed":
            return
        if job["status"] == "cancelled":
            raise InvalidTransitionError(f"Job {job['id']} is cancelled; it cannot be completed.")
        left = con.execute(self.q.items_unfinished, [job["id"]]).fetchall()[0][0]
        if left:
            raise InvalidTransitionError(
                f"Job {job['id']} still has {left} unfinished item(s); finish them, or cancel "
                "the job."
            )
        con.execute(self.q.job_complete, [now, now, job["id"]])
        self._event(con, job["id"], "completed", None, worker, now)

    def cancel(
        self, con: Connection, job: dict[str, Any], worker: str | None, now: dt.datetime
    ) -> None:
        if job["status"] in ("completed", "cancelled"):
            raise InvalidTransitionError(
                f"Job {job['id']} is {job['status']}; only active jobs can be cancelled."
            )
        con.execute(self.q.job_cancel, [now, now, job["id"]])
        self._event(con, job["id"], "cancelled", None, worker, now)

    def retry_failed(
        self, con: Connection, job: dict[str, Any], worker: str | None, now: dt.datetime
    ) -> int:
        if job["status"] == "cancelled":
            raise InvalidTransitionError(f"Job {job['id']} is cancelled; start a new job instead.")
        cur = con.execute(self.q.items_retry_failed, [job["id"]])
        n = int(cur.fetchall()[0][0])
        if n:
            con.execute(self.q.job_after_retry, [n, now, job["id"]])
            if job["status"] == "completed":
                reason = f"{n} failed item(s) queued for retry"
                con.execute(self.q.job_reopen_for_retry, [now, reason, now, job["id"]])
            self._event(con, job["id"], "retry_failed", f"{n} item(s)", worker, now)
        return n
