"""The session runner: batches through a processor, with checkpoints and a budget.

Promises kept here:

* an item's result row and its ``done`` status are written in one transaction,
  at checkpoints (each batch end, and at least every second of work);
* the session stops at its budget (items, batches or seconds), at a pause
  requested from anywhere, or when the job auto-pauses, and says how to resume;
* its unfinished claims go back to pending when it stops, so a resume from any
  process starts at the first unfinished item; if it is killed, the claims of
  its dead pid are released by the next claim;
* the DuckDB connection is kept only across fast work and let go at least
  every second, or at once when another process is waiting for the file.
"""

from __future__ import annotations

import time
import traceback
import uuid
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any

from toolkit.exceptions import (
    FatalSourceError,
    InvalidTransitionError,
    ItemSkipped,
    ProcessorError,
    ToolkitError,
    ValidationError,
)
from toolkit.jobs import engine
from toolkit.jobs.registry import JobType, get_job_type
from toolkit.jobs.workers import current_worker

if TYPE_CHECKING:
    import threading

    from toolkit.workspace import Workspace

CHECKPOINT_SECONDS = 1.0
SLOW_ITEM_SECONDS = 0.05  # an item slower than this: let go of the file while working


@dataclass
class SessionSummary:
    """What one session did, and the guide's message about where the job stands."""

    job_id: str
    job_type: str
    outcome: str  # completed | budget | paused | auto_paused | stopped | no_work
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

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def __str__(self) -> str:
        return f"{self.message}\n{self.resume_hint}".strip()


def _resolve_processor(ws: Workspace, jt: JobType, processor: Any) -> Callable[..., Any]:
    from toolkit.processors import get_processor

    if processor is None:
        return get_processor(jt.name, ws)
    if isinstance(processor, str):
        return get_processor(processor, ws)
    if not callable(processor):
        raise ValidationError(
            f"processor {processor!r} is neither callable nor the name of a registered processor."
        )
    return processor


def _is_batch(proc: Callable[..., Any]) -> bool:
    return bool(getattr(proc, "batch", False))


def progress_message(noun: str, finished: int, total: int, status: str) -> str:
    pct = round(100 * finished / total) if total else 100
    if status == "completed":
        return f"Completed {finished}/{total} {noun} (100%)"
    return f"Paused at {finished}/{total} {noun} ({pct}%)"


def run_session(
    ws: Workspace,
    job_id: str,
    processor: Callable[..., Any] | str | None = None,
    *,
    max_batches: int | None = None,
    max_items: int | None = None,
    max_seconds: float | None = None,
    on_progress: Callable[[dict[str, Any]], None] | None = None,
    stop: threading.Event | None = None,
) -> SessionSummary:
    """Run one session of a job.

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

    Examples
    --------
    >>> import toolkit
    >>> ws = toolkit.connect(":memory:")
    >>> _ = ws.import_properties(toolkit.demo.sample_properties().head(3))
    >>> job = ws.create_batch_job("regrid_scraping", "Blair")
    >>> print(ws.run_session(job, lambda item: {"source": "doctest"}).message)
    Completed 3/3 properties (100%)
    """
    for name, value in (("max_batches", max_batches), ("max_items", max_items)):
        if value is not None and (isinstance(value, bool) or not isinstance(value, int) or value < 1):
            raise ValidationError(f"{name} {value!r} must be a whole number ≥ 1 (or None).")
    if max_seconds is not None and (isinstance(max_seconds, bool) or not max_seconds > 0):
        raise ValidationError(f"max_seconds {max_seconds!r} must be a positive number (or None).")

    from toolkit.workspace import pause_event

    store, q = ws.store, ws.q
    worker = current_worker()
    started = time.monotonic()
    job = store.run(lambda con: engine.resolve_job(con, q, job_id), tx=False)
    jt = get_job_type(job["job_type"])
    proc = _resolve_processor(ws, jt, processor)
    batch_mode = _is_batch(proc)
    if max_batches is None and max_items is None and max_seconds is None:
        max_items = jt.per_session
    event = pause_event(job["id"])
    event.clear()
    session_id = str(uuid.uuid4())
    done = failed = skipped = batches = 0
    failures: list[dict[str, str]] = []
    outcome = "stopped"
    pause_reason: str | None = None
    slow = False

    def start(con: Any) -> dict[str, Any]:
        j = engine.resolve_job(con, q, job["id"])
        if j["status"] in ("completed", "cancelled"):
            return j
        engine.check_workable(j)
        con.execute(q.session_insert, [session_id, j["id"], worker, engine.utcnow()])
        return j

    with store.hold() as holder:
        holder.acquire()
        job = store.run(start)
        if job["status"] in ("completed", "cancelled"):
            if job["status"] == "cancelled":
                raise InvalidTransitionError(f"Job {job['id']} is cancelled; start a new job.")
            return _summary(ws, job, jt, "completed", 0, 0, 0, [], started, session_id)
        try:
            while True:
                if max_batches is not None and batches >= max_batches:
                    outcome = "budget"
                    break
                if max_items is not None and done + failed + skipped >= max_items:
                    outcome = "budget"
                    break
                if max_seconds is not None and time.monotonic() - started >= max_seconds:
                    outcome = "budget"
                    break
                if event.is_set() or (stop is not None and stop.is_set()):
                    outcome = "paused"
                    break
                holder.acquire()
                limit = None if max_items is None else max_items - (done + failed + skipped)

                def claim(con: Any, limit: int | None = limit) -> tuple[str, list[tuple[int, str]], Any]:
                    j = engine.resolve_job(con, q, job["id"])
                    if j["status"] != "in_progress" and j["status"] != "pending":
                        return j["status"], [], None
                    claims = engine.claim_batch(
                        con, q, j, worker=worker, lease_seconds=ws.lease_seconds,
                        now=engine.utcnow(), limit=limit,
                    )  # fmt: skip
                    ctx = ws._context(con, jt, j["id"], [s for s, _ in claims]) if claims else None
                    return j["status"], claims, ctx

                status, claims, ctx = store.run(claim)
                if status == "paused":
                    outcome = "paused"
                    break
                if status in ("completed", "cancelled"):
                    outcome = "completed" if status == "completed" else "stopped"
                    break
                if not claims:
                    outcome = "no_work"
                    break
                batches += 1
                if slow:
                    holder.release()
                buffer: list[engine.Outcome] = []
                last_cp = time.monotonic()
                consecutive = job.get("consecutive_failures", 0)
                fatal: str | None = None
                stop_now = False
                records = ctx.to_dict("records")
                batch_results: list[Any] | None = None
                if batch_mode:
                    batch_results = _call_batch(proc, ctx, jt)
                for i, item in enumerate(records):
                    if not batch_mode and (event.is_set() or (stop is not None and stop.is_set())):
                        stop_now = True
                        outcome = "paused"
                        break
                    t0 = time.monotonic()
                    seq, item_id = int(item["seq"]), str(item["item_id"])
                    try:
                        if batch_results is not None:
                            res = batch_results[i]
                            if isinstance(res, BaseException):
                                raise res
                        else:
                            res = proc(item)
                        row = engine.validate_result(jt, res, _result_columns(ws, jt))
                        buffer.append(engine.Outcome(seq, item_id, "done", None, row))
                        done += 1
                        consecutive = 0
                    except ProcessorError:
                        _checkpoint(ws, job, jt, buffer, worker)
                        raise
                    except ItemSkipped as exc:
                        buffer.append(engine.Outcome(seq, item_id, "skipped", str(exc) or "skipped"))
                        skipped += 1
                    except FatalSourceError as exc:
                        fatal = str(exc)
                        _checkpoint(ws, job, jt, buffer, worker, fatal=fatal)
                        buffer = []
                        pause_reason = fatal
                        outcome = "auto_paused"
                        stop_now = True
                        break
                    except Exception as exc:  # any item failure is logged; the batch goes on
                        msg = _error_text(exc)
                        buffer.append(engine.Outcome(seq, item_id, "failed", msg))
                        failures.append({"item_id": item_id, "error": msg})
                        failed += 1
                        consecutive += 1
                    if time.monotonic() - t0 > SLOW_ITEM_SECONDS and not slow:
                        slow = True
                        holder.release()
                    if consecutive >= job["max_consecutive_failures"]:
                        rec = _checkpoint(ws, job, jt, buffer, worker)
                        buffer = []
                        outcome = "auto_paused" if rec.auto_paused else outcome
                        pause_reason = rec.pause_reason
                        stop_now = True
                        break
                    if time.monotonic() - last_cp >= CHECKPOINT_SECONDS:
                        rec = _checkpoint(ws, job, jt, buffer, worker)
                        buffer = []
                        last_cp = time.monotonic()
                        holder.checkpoint(slow=slow)
                        if rec.status != "in_progress":
                            outcome = "completed" if rec.status == "completed" else "paused"
                            stop_now = True
                            break
                    _report(on_progress, job, jt, done, failed, skipped, batches)
                if buffer:
                    rec = _checkpoint(ws, job, jt, buffer, worker)
                    if rec.status == "completed":
                        outcome, stop_now = "completed", True
                    elif rec.status == "paused" and not stop_now:
                        outcome = "auto_paused" if rec.auto_paused else "paused"
                        pause_reason = rec.pause_reason or pause_reason
                        stop_now = True
                _report(on_progress, job, jt, done, failed, skipped, batches)
                holder.checkpoint(slow=slow)
                if stop_now:
                    break
        except BaseException as exc:
            _finish(ws, job, worker, session_id, done, failed, "crashed", _error_text(exc),
                    pause=isinstance(exc, KeyboardInterrupt))  # fmt: skip
            raise
        if outcome == "budget":
            pause_reason = "session budget reached"
        final = _finish(ws, job, worker, session_id, done, failed, outcome, None,
                        pause=outcome == "budget", reason=pause_reason)  # fmt: skip
    if final["status"] == "completed":
        outcome = "completed"
    return _summary(ws, final, jt, outcome, done, failed, skipped, failures, started, session_id)


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


_result_cols: dict[tuple[str, str], list[str]] = {}


def _result_columns(ws: Workspace, jt: JobType) -> list[str]:
    key = (ws.store.url, jt.name)
    if key not in _result_cols:
        if jt.result_table is None:
            _result_cols[key] = []
        else:
            _result_cols[key] = list(
                ws.store.run(lambda con: engine.table_columns(con, ws.q, jt.result_table), tx=False)
            )
    return _result_cols[key]


def _checkpoint(ws: Workspace, job: dict[str, Any], jt: JobType, buffer: list[engine.Outcome],
                worker: str, fatal: str | None = None) -> engine.Recorded:  # fmt: skip
    def go(con: Any) -> engine.Recorded:
        j = engine.resolve_job(con, ws.q, job["id"])
        rec = engine.record_outcomes(
            con, ws.q, j, jt, buffer, worker=worker, now=engine.utcnow(),
            lease_seconds=ws.lease_seconds, fatal=fatal,
        )  # fmt: skip
        job.update(status=j["status"], consecutive_failures=j["consecutive_failures"])
        return rec

    return ws.store.run(go)


def _finish(ws: Workspace, job: dict[str, Any], worker: str, session_id: str, done: int,
            failed: int, outcome: str, error: str | None, *, pause: bool,
            reason: str | None = None) -> dict[str, Any]:  # fmt: skip
    """Release this worker's open claims, pause at the budget, and close the session row."""

    def go(con: Any) -> dict[str, Any]:
        now = engine.utcnow()
        con.execute(ws.q.items_release_own, [job["id"], worker])
        j = engine.resolve_job(con, ws.q, job["id"])
        if pause and j["status"] == "in_progress":
            why = reason or (f"interrupted: {error}" if error else "paused")
            engine.pause(con, ws.q, j, why, worker, now)
        con.execute(ws.q.session_end, [now, done, failed, outcome, error, None, session_id])
        return engine.resolve_job(con, ws.q, job["id"])

    try:
        return ws.store.run(go)
    except Exception:
        if error is None:
            raise
        traceback.print_exc()
        return job


def _report(on_progress: Callable[[dict[str, Any]], None] | None, job: dict[str, Any], jt: JobType,
            done: int, failed: int, skipped: int, batches: int) -> None:  # fmt: skip
    if on_progress is None:
        return
    on_progress(
        {
            "job_id": job["id"], "job_type": jt.name, "session_processed": done,
            "session_failed": failed, "session_skipped": skipped, "session_batches": batches,
        }
    )  # fmt: skip


def _summary(ws: Workspace, job: dict[str, Any], jt: JobType, outcome: str, done: int, failed: int,
             skipped: int, failures: list[dict[str, str]], started: float,
             session_id: str) -> SessionSummary:  # fmt: skip
    st = ws.get_batch_status(job["id"])
    finished = st["processed_items"] + st["failed_items"] + st["skipped_items"]
    msg = progress_message(jt.noun, finished, st["total_items"], st["status"])
    if st["status"] == "paused" and st["pause_reason"] and outcome != "budget":
        msg += f" — {st['pause_reason']}"
    hint = ""
    if st["status"] in ("paused", "in_progress"):
        hint = (
            f"Resume with: 'Resume batch job' (toolkit resume {st['job_id'][:8]}, "
            f"or ws.resume_batch_job('{st['job_id']}'))"
        )
    return SessionSummary(
        job_id=st["job_id"], job_type=jt.name, outcome=outcome, status=st["status"], processed=done,
        failed=failed, skipped=skipped, total=st["total_items"], finished=finished,
        percent=float(st["percent_complete"]), seconds=round(time.monotonic() - started, 3),
        message=msg, resume_hint=hint, pause_reason=st["pause_reason"], failures=failures,
        session_id=session_id,
    )  # fmt: skip
