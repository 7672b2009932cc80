"""The session runner: batches through a processor, with checkpoints and a budget.

Promises kept here:

* an item's result row and its ``done`` status are written in one transaction,
  at checkpoints (each batch end, and at least every second of work);
* the session stops at its budget (items, batches or seconds — the time budget is
  checked between items), at a pause requested from anywhere, or when the job
  auto-pauses, and says how to resume;
* its unfinished claims go back to pending when it stops, so a resume from any
  process starts at the first unfinished item; if it is killed, the claims of
  its dead pid are released by the next claim;
* the DuckDB connection is kept only across fast work and let go at least
  every second, or at once when another process is waiting for the file.

It works on a :class:`~toolkit.backends.base.Store` through its engine; the
processor gets a :class:`~toolkit.processors.context.ProcessorContext`.
"""

from __future__ import annotations

import time
import traceback
import uuid
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from toolkit.backends.base import Claims, Connection, Outcome, Recorded, Store
from toolkit.backends.common import check_workable, close_dead_sessions, pause_event, utcnow
from toolkit.backends.workers import current_worker
from toolkit.exceptions import (
    FatalSourceError,
    InvalidTransitionError,
    ItemInterrupted,
    ItemSkipped,
    ProcessorError,
    ToolkitError,
    ValidationError,
)
from toolkit.jobs.registry import JobType, get_job_type
from toolkit.jobs.results import results_writer
from toolkit.jobs.rules import validate_result
from toolkit.processors import get_processor
from toolkit.processors.context import ProcessorContext

if TYPE_CHECKING:
    import threading

CHECKPOINT_SECONDS = 1.0
SLOW_ITEM_SECONDS = 0.05  # items slower than this (median of the last few): let go of the file
SLOW_WINDOW = 5
OUTCOMES = ("completed", "budget", "paused", "auto_paused", "stopped", "no_work", "drained")


@dataclass
class SessionSummary:
    """What one session did, and the guide's message about where the job stands."""

    job_id: str
    job_type: str
    outcome: str  # one of OUTCOMES
    status: str
    processed: int = 0
    failed: int = 0
    skipped: int = 0
    total: int = 0
    finished: int = 0
    percent: float = 0.0
    seconds: float = 0.0
    message: str = ""
    resume_hint: str = ""
    pause_reason: str | None = None
    failures: list[dict[str, str]] = field(default_factory=list)
    session_id: str = ""
    job_failed: int = 0  # the job's failed and skipped items so far (all sessions)
    job_skipped: int = 0

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def __str__(self) -> str:
        return f"{self.message}\n{self.resume_hint}".strip()


def progress_message(
    noun: str, finished: int, total: int, status: str, *, failed: int = 0, skipped: int = 0
) -> str:
    """The guide's line: "Paused at 150/235 properties (64%)", failures named when any.

    >>> progress_message("properties", 150, 235, "paused")
    'Paused at 150/235 properties (64%)'
    >>> progress_message("properties", 4, 4, "completed", failed=4)
    'Finished 4/4 properties (100%): 0 done, 4 failed'
    """
    pct = round(100 * finished / total) if total else 100
    if status == "completed":
        if failed or skipped:
            done = finished - failed - skipped
            parts = [f"{done} done", f"{failed} failed"] + (
                [f"{skipped} skipped"] if skipped else []
            )
            return f"Finished {finished}/{total} {noun} ({pct}%): {', '.join(parts)}"
        return f"Completed {finished}/{total} {noun} (100%)"
    text = f"Paused at {finished}/{total} {noun} ({pct}%)"
    if failed or skipped:
        text += f": {failed} failed" + (f", {skipped} skipped" if skipped else "")
    return text


def _resolve_processor(ctx: ProcessorContext, jt: JobType, processor: Any) -> Callable[..., Any]:
    if processor is None:
        return get_processor(jt.name, ctx)
    if isinstance(processor, str):
        return get_processor(processor, ctx)
    if not callable(processor):
        raise ValidationError(
            f"processor {processor!r} is neither callable nor the name of a registered processor."
        )
    return processor


def _check_budget(
    max_batches: int | None, max_items: int | None, max_seconds: float | None
) -> None:
    for name, value in (("max_batches", max_batches), ("max_items", max_items)):
        if value is not None and (
            isinstance(value, bool) or not isinstance(value, int) or value < 1
        ):
            raise ValidationError(f"{name} {value!r} must be a whole number ≥ 1 (or None).")
    if max_seconds is not None and (isinstance(max_seconds, bool) or not max_seconds > 0):
        raise ValidationError(f"max_seconds {max_seconds!r} must be a positive number (or None).")


def run_session(
    store: Store,
    job_id: str,
    processor: Callable[..., Any] | str | None = None,
    *,
    data_dir: Path,
    lease_seconds: float,
    max_batches: int | None = None,
    max_items: int | None = None,
    max_seconds: float | None = None,
    on_progress: Callable[[dict[str, Any]], None] | None = None,
    stop: threading.Event | None = None,
) -> SessionSummary:
    """Run one session of a job (see :meth:`toolkit.workspace.Workspace.run_session`).

    Parameters
    ----------
    processor
        A callable taking one item (a dict of the batch's context columns) and
        returning a result dict for the type's result table, or raising. A
        callable with ``batch = True`` takes the whole batch as a DataFrame and
        returns a list of results (dicts or exceptions), one per row. A string
        names a registered processor; None uses the job type's own.
    max_batches, max_items, max_seconds
        The session budget. With none given: the type's per-session figure.
    """
    _check_budget(max_batches, max_items, max_seconds)
    runner = _Runner(store, job_id, processor, stop, data_dir, lease_seconds)
    try:
        return runner.run(max_batches, max_items, max_seconds, on_progress)
    finally:
        close = getattr(runner.proc, "close", None)  # a processor may hold clients to close
        if callable(close):
            close()


class _Runner:
    """One session's state; ``run`` is the loop."""

    RELEASE_EVERY = 10.0  # seconds between sweeps for dead workers' claims

    def __init__(
        self,
        store: Store,
        job_id: str,
        processor: Any,
        stop: threading.Event | None,
        data_dir: Path,
        lease_seconds: float,
    ) -> None:
        self.store, self.engine, self.q = store, store.engine, store.q
        self.lease_seconds = lease_seconds
        self.worker = current_worker()
        self.started = time.monotonic()
        engine = self.engine
        self.job = store.run(lambda con: engine.resolve_job(con, job_id), tx=False)
        self.jt = get_job_type(self.job["job_type"])
        context = ProcessorContext(store, data_dir)
        self.proc = _resolve_processor(context, self.jt, processor)
        self.batch_mode = bool(getattr(self.proc, "batch", False))
        table = self.jt.result_table
        self.columns = (
            list(store.run(lambda con: engine.table_columns(con, table), tx=False)) if table else []
        )
        self.event = pause_event(self.job["id"])
        self.event.clear()
        store.request_stop(self.job["id"], False)  # the job is workable: a marker is stale
        self.elsewhere = store.stop_check(self.job["id"])
        self.stop = stop
        context.stop_requested = self.stop_requested  # a long item's work can stop midway
        self.session_id = str(uuid.uuid4())
        self.done = self.failed = self.skipped = self.batches = 0
        self.failures: list[dict[str, str]] = []
        self.slow = False
        self.recent: list[float] = []  # the last few item durations (a GC pause is not "slow")
        self.last_release = 0.0
        self.last_renew = time.monotonic()
        self.deadline: float | None = None
        self.timed_out = False

    def stop_requested(self) -> bool:
        return (
            self.event.is_set()
            or (self.stop is not None and self.stop.is_set())
            or self.elsewhere()
        )

    def out_of_time(self) -> bool:
        """Past the time budget (checked between items; a session always does one item)."""
        started = self.done + self.failed + self.skipped > 0
        if self.deadline is not None and started and time.monotonic() >= self.deadline:
            self.timed_out = True
        return self.timed_out

    def run(
        self,
        max_batches: int | None,
        max_items: int | None,
        max_seconds: float | None,
        on_progress: Callable[[dict[str, Any]], None] | None,
    ) -> SessionSummary:
        if max_batches is None and max_items is None and max_seconds is None:
            max_items = self.jt.per_session
        if max_seconds is not None:
            self.deadline = self.started + max_seconds
        q, job, jt, engine = self.q, self.job, self.jt, self.engine

        def start(con: Connection) -> dict[str, Any]:
            j = engine.resolve_job(con, job["id"])
            if j["status"] in ("completed", "cancelled"):
                return j
            check_workable(j)
            now = utcnow()
            close_dead_sessions(con, q, now)  # a killed session's record: its real counts
            con.execute(q.session_insert, [self.session_id, j["id"], self.worker, now])
            return j

        outcome = "stopped"
        pause_reason: str | None = None
        with self.store.hold() as holder:
            self.holder = holder
            holder.acquire()
            j = self.store.run(start)
            if j["status"] == "cancelled":
                raise InvalidTransitionError(f"Job {j['id']} is cancelled; start a new job.")
            if j["status"] == "completed":
                return self._summary(j, "completed")
            buffer: list[Outcome] = []
            fatal: str | None = None
            try:
                while True:
                    used = self.done + self.failed + self.skipped
                    over = (
                        (max_batches is not None and self.batches >= max_batches)
                        or (max_items is not None and used >= max_items)
                        or self.out_of_time()
                    )
                    want_next = not over and not self.stop_requested() and fatal is None
                    limit = None if max_items is None else max_items - used
                    holder.acquire()
                    rec, status, claims = self._cycle(buffer, want_next, limit, fatal)
                    buffer, fatal = [], None
                    self._report(on_progress)
                    if rec is not None and rec.auto_paused:
                        outcome, pause_reason = "auto_paused", rec.pause_reason
                        break
                    if status == "completed":
                        outcome = "completed"
                        break
                    if status in ("paused", "cancelled"):
                        outcome = "paused" if status == "paused" else "stopped"
                        break
                    if not want_next:
                        outcome = "budget" if over else "paused"
                        break
                    if not claims:
                        # nothing left to claim: the rest is held by other sessions
                        outcome = "no_work" if self.batches == 0 else "drained"
                        break
                    seqs = [s for s, _ in claims]

                    def read(con: Connection, seqs: list[int] = seqs) -> Any:
                        return engine.context(con, jt, job["id"], seqs)

                    ctx = self.store.run(read, tx=False)
                    self.batches += 1
                    holder.checkpoint(slow=self.slow)
                    buffer, fatal, stop_now = self._work(ctx, on_progress)
                    if stop_now:
                        # write what we have; the next cycle claims nothing
                        rec, status, _ = self._cycle(buffer, False, None, fatal)
                        buffer, fatal = [], None
                        if rec is not None and rec.auto_paused:
                            outcome, pause_reason = "auto_paused", rec.pause_reason
                        elif status == "completed":
                            outcome = "completed"
                        elif self.timed_out and not self.stop_requested():
                            outcome = "budget"
                        else:
                            outcome = "paused"
                        break
            except BaseException as exc:
                self._finish("crashed", _error_text(exc), pause=isinstance(exc, KeyboardInterrupt))
                raise
            if outcome == "budget":
                pause_reason = "session budget reached"
            final = self._finish(outcome, None, pause=outcome == "budget", reason=pause_reason)
        if final["status"] == "completed":
            outcome = "completed"
        return self._summary(final, outcome)

    def _cycle(
        self, buffer: list[Outcome], want_next: bool, limit: int | None, fatal: str | None
    ) -> tuple[Recorded | None, str, Claims]:
        """One transaction: record the last batch (and its results), claim the next one."""
        renew = None
        if time.monotonic() - self.last_renew > self.lease_seconds / 3:
            renew, self.last_renew = self.lease_seconds, time.monotonic()
        release = want_next and self._release_due()

        def go(con: Connection) -> tuple[Recorded | None, str, Claims]:
            now = utcnow()
            write = results_writer(self.engine, self.q, self.jt, self.job["id"], now)
            return self.engine.cycle(
                con,
                self.job,
                buffer,
                worker=self.worker,
                now=now,
                write=write,
                renew_lease_seconds=renew,
                fatal=fatal,
                claim=want_next,
                lease_seconds=self.lease_seconds,
                limit=limit,
                release=release,
                own_first=self.batches == 0,
            )

        return self.store.run(go)

    def _release_due(self) -> bool:
        """Time for this claim to sweep dead workers' claims too (every RELEASE_EVERY s)."""
        if time.monotonic() - self.last_release <= self.RELEASE_EVERY:
            return False
        self.last_release = time.monotonic()
        return True

    def _work(
        self, ctx: Any, on_progress: Callable[[dict[str, Any]], None] | None
    ) -> tuple[list[Outcome], str | None, bool]:
        """Process one batch; returns (outcomes to write, fatal error, stop now)."""
        jt, job = self.jt, self.job
        buffer: list[Outcome] = []
        consecutive = job.get("consecutive_failures", 0)
        limit = job["max_consecutive_failures"]
        last_cp = time.monotonic()
        batch_results = None
        if self.batch_mode:
            with self.holder.working():
                batch_results = _call_batch(self.proc, ctx, jt)
        # a batch processor got the frame; only a per-item one needs each row as a dict
        records = _records(ctx) if batch_results is None else None
        seqs, ids = ctx["seq"].tolist(), ctx["item_id"].astype(str).tolist()
        for i in range(len(seqs)):
            if batch_results is None and (self.stop_requested() or self.out_of_time()):
                return buffer, None, True
            t0 = time.monotonic()
            seq, item_id = int(seqs[i]), ids[i]
            item = records[i] if records is not None else None
            try:
                if batch_results is not None:
                    res = batch_results[i]
                    if isinstance(res, BaseException):
                        raise res
                else:
                    with self.holder.working():
                        res = self.proc(item)
                row = validate_result(jt, res, self.columns)
                buffer.append(Outcome(seq, item_id, "done", None, row))
                self.done += 1
                consecutive = 0
            except ProcessorError:
                if buffer:
                    self._cycle(buffer, False, None, None)
                raise
            except ItemInterrupted:
                return buffer, None, True  # stopped mid-item: it stays claimed, then pending
            except ItemSkipped as exc:
                buffer.append(Outcome(seq, item_id, "skipped", str(exc) or "skipped"))
                self.skipped += 1
            except FatalSourceError as exc:
                return buffer, str(exc), True
            except Exception as exc:  # any other item failure is logged; the batch goes on
                msg = _error_text(exc)
                buffer.append(Outcome(seq, item_id, "failed", msg))
                self.failures.append({"item_id": item_id, "error": msg})
                self.failed += 1
                consecutive += 1
            self.recent = [*self.recent[-(SLOW_WINDOW - 1) :], time.monotonic() - t0]
            slow = sorted(self.recent)[len(self.recent) // 2] > SLOW_ITEM_SECONDS
            if slow and not self.slow:
                self.holder.release()  # waiting on the network or a person: don't hold the file
            self.slow = slow
            if consecutive >= limit:
                return buffer, None, True
            if time.monotonic() - last_cp >= CHECKPOINT_SECONDS and i < len(seqs) - 1:
                _, status, _ = self._cycle(buffer, False, None, None)
                buffer = []
                last_cp = time.monotonic()
                self.holder.checkpoint(slow=self.slow)
                if status != "in_progress":
                    return buffer, None, True
            self._report(on_progress)
        return buffer, None, False

    def _finish(
        self, outcome: str, error: str | None, *, pause: bool, reason: str | None = None
    ) -> dict[str, Any]:
        """Release this worker's open claims, pause at the budget, and close the session row."""
        engine, job = self.engine, self.job

        def go(con: Connection) -> dict[str, Any]:
            now = utcnow()
            engine.release_own(con, job["id"], self.worker)
            j = engine.resolve_job(con, job["id"])
            if pause and j["status"] == "in_progress":
                why = reason or (f"interrupted: {error}" if error else "paused")
                engine.pause(con, j, why, self.worker, now)
            con.execute(
                self.q.session_end,
                [now, self.done, self.failed, self.skipped, outcome, error, None, self.session_id],
            )
            return engine.resolve_job(con, job["id"])

        try:
            return self.store.run(go)
        except Exception:
            if error is None:
                raise
            traceback.print_exc()
            return job

    def _report(self, on_progress: Callable[[dict[str, Any]], None] | None) -> None:
        if on_progress is None:
            return
        on_progress(
            {
                "job_id": self.job["id"],
                "job_type": self.jt.name,
                "session_processed": self.done,
                "session_failed": self.failed,
                "session_skipped": self.skipped,
                "session_batches": self.batches,
            }
        )

    def _summary(self, job: dict[str, Any], outcome: str) -> SessionSummary:
        engine = self.engine
        st = self.store.run(lambda con: engine.status(con, job["id"]), tx=False)
        return summarise(
            st,
            self.jt,
            outcome,
            self.done,
            self.failed,
            self.skipped,
            self.failures,
            time.monotonic() - self.started,
            self.session_id,
        )


def summarise(
    st: dict[str, Any],
    jt: JobType,
    outcome: str,
    done: int,
    failed: int,
    skipped: int,
    failures: list[dict[str, str]],
    seconds: float,
    session_id: str,
) -> SessionSummary:
    """A session's summary from the job's status afterwards."""
    finished = st["processed_items"] + st["failed_items"] + st["skipped_items"]
    msg = progress_message(
        jt.noun,
        finished,
        st["total_items"],
        st["status"],
        failed=st["failed_items"],
        skipped=st["skipped_items"],
    )
    if st["status"] == "paused" and st["pause_reason"] and outcome != "budget":
        msg += f" — {st['pause_reason']}"
    hint = ""
    if st["status"] in ("paused", "in_progress"):
        hint = f"Resume with: 'Resume batch job' (toolkit resume {st['job_id'][:8]})"
    return SessionSummary(
        job_id=st["job_id"],
        job_type=jt.name,
        outcome=outcome,
        status=st["status"],
        processed=done,
        failed=failed,
        skipped=skipped,
        total=st["total_items"],
        finished=finished,
        percent=float(st["percent_complete"]),
        seconds=round(seconds, 3),
        message=msg,
        resume_hint=hint,
        pause_reason=st["pause_reason"],
        failures=failures,
        session_id=session_id,
        job_failed=int(st["failed_items"]),
        job_skipped=int(st["skipped_items"]),
    )


def _records(frame: Any) -> list[dict[str, Any]]:
    """The batch's rows as dicts: what ``DataFrame.to_dict("records")`` gives, about 3x faster."""
    cols = list(frame.columns)
    arrays = [frame[c].tolist() for c in cols]
    return [dict(zip(cols, row, strict=True)) for row in zip(*arrays, strict=True)]


def _call_batch(proc: Callable[..., Any], frame: Any, jt: JobType) -> list[Any]:
    try:
        results = proc(frame)
    except (ToolkitError, ValueError, TypeError, KeyError) as exc:
        # the whole batch failed the same way: each item carries the error
        return [exc] * len(frame)
    if not isinstance(results, list | tuple) or len(results) != len(frame):
        raise ProcessorError(
            f"The {jt.name} batch processor must return one result per item "
            f"({len(frame)}), got {type(results).__name__}"
            f"{' of length ' + str(len(results)) if hasattr(results, '__len__') else ''}."
        )
    return list(results)


def _error_text(exc: BaseException) -> str:
    if isinstance(exc, ToolkitError):
        return str(exc)
    return f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
