"""Workers: processes that run sessions until stopped, many at once on Postgres.

A worker picks a job (one given by id, the active job of a type, or any active
job), runs sessions of it through the type's processor (or one given), and
waits while the job is paused. Workers on one machine or many share a job
through the database alone: claims are ``FOR UPDATE SKIP LOCKED`` leases, a
killed worker's claims come back when its lease runs out (or at once, when a
worker on the same host sees its pid is gone), so no item is done twice and
none is lost.

Sessions run by a worker have no item budget: the guide's per-session figure
is for people working through a job in a notebook, and a worker pausing the
job at its budget would stop every other worker too.

>>> from toolkit.orchestrator.workers import run_worker
>>> # run_worker("postgresql://localhost/research", job_type="regrid_scraping", concurrency=4)
"""

from __future__ import annotations

import contextlib
import importlib
import multiprocessing
import signal
import threading
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Any

from toolkit.exceptions import (
    InvalidTransitionError,
    JobPausedError,
    StoreError,
    ValidationError,
)
from toolkit.orchestrator import RunResult, outcome_of, run_job_session, was_auto_paused

if TYPE_CHECKING:
    from toolkit.workspace import Workspace

NO_BUDGET = 2_000_000_000  # items per worker session: effectively none (fits an SQL INTEGER)


@dataclass
class WorkerReport:
    """What a worker (or a group of local workers) did before it stopped."""

    sessions: int = 0
    processed: int = 0
    failed: int = 0
    skipped: int = 0
    reason: str = ""

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _load_processor(processor: Callable[..., Any] | str | None) -> Callable[..., Any] | str | None:
    """A callable, ``"module:attr"`` (importable in a new process too), or a registered name."""
    if isinstance(processor, str) and ":" in processor:
        module, _, attr = processor.partition(":")
        try:
            return getattr(importlib.import_module(module), attr)
        except (ImportError, AttributeError) as exc:
            raise ValidationError(f"Processor {processor!r} cannot be imported: {exc}") from exc
    return processor


def _pick(ws: Workspace, job_id: str | None, job_type: str | None) -> tuple[str | None, str]:
    """(job id, status) to work on, or (None, why not)."""
    if job_id is not None:
        st = ws.get_batch_status(job_id)
        return st["job_id"], st["status"]
    name = job_type or ""
    rows = ws.query("worker_pick_job", [name, name])
    if rows.empty:
        return None, "no active job" + (f" of type {job_type}" if job_type else "")
    return str(rows.id[0]), str(rows.status[0])


def run_worker(
    url: str,
    *,
    job_id: str | None = None,
    job_type: str | None = None,
    concurrency: int = 1,
    stop: threading.Event | None = None,
    processor: Callable[..., Any] | str | None = None,
    poll_seconds: float = 1.0,
    exit_when_idle: bool = False,
) -> WorkerReport:
    """Run sessions until ``stop`` is set (or the job is finished / nothing is left).

    Parameters
    ----------
    url
        The workspace (``postgresql://…`` for many workers; a DuckDB file works
        with one).
    job_id, job_type
        Work on this job, or on the active jobs of this type (oldest first);
        neither: any active job.
    concurrency
        Worker processes to run on this machine (>1 starts them with
        :func:`start_local_workers` and waits for them).
    stop
        Set it to stop at the next item (SIGTERM / SIGINT do the same in a
        worker process).
    processor
        A callable, ``"module:attr"``, or a registered processor name; None
        uses the job type's own.
    exit_when_idle
        Return when there is no active job instead of waiting for one. A worker
        given ``job_id`` returns when that job is completed or cancelled (and, with
        ``exit_when_idle``, when it is paused).

    Examples
    --------
    >>> import threading
    >>> stop = threading.Event(); stop.set()
    >>> run_worker(":memory:", stop=stop).sessions
    0
    """
    if isinstance(concurrency, bool) or not isinstance(concurrency, int) or concurrency < 1:
        raise ValidationError(f"concurrency {concurrency!r} must be a whole number ≥ 1.")
    if job_id is not None and job_type is not None:
        raise ValidationError("Give job_id or job_type, not both.")
    if job_type is not None:
        from toolkit.jobs import get_job_type

        job_type = get_job_type(job_type).name
    stop = stop or threading.Event()
    if concurrency > 1:
        if processor is not None and not isinstance(processor, str):
            raise ValidationError(
                "Worker processes import their processor: give 'module:attr' or a registered "
                "processor name, not a function object."
            )
        procs = start_local_workers(
            url,
            concurrency,
            job_id=job_id,
            job_type=job_type,
            processor=processor,
            exit_when_idle=exit_when_idle,
            poll_seconds=poll_seconds,
        )
        while any(p.is_alive() for p in procs) and not stop.is_set():
            stop.wait(0.2)
        stop_local_workers(procs)
        return WorkerReport(reason="stopped" if stop.is_set() else "workers finished")

    import toolkit

    proc = _load_processor(processor)
    ws = toolkit.connect(url)
    report = WorkerReport()
    backoff = poll_seconds
    try:
        while not stop.is_set():
            try:
                jid, status = _pick(ws, job_id, job_type)
                if jid is None or status in ("completed", "cancelled"):
                    if job_id is not None or exit_when_idle:
                        report.reason = status if jid is not None else "idle"
                        return report
                    stop.wait(poll_seconds)
                    continue
                if status == "paused":
                    if job_id is not None and exit_when_idle:
                        report.reason = "paused"
                        return report
                    stop.wait(poll_seconds)  # resumed from anywhere: pick it up again
                    continue
                s = run_job_session(ws, jid, proc, max_items=NO_BUDGET, stop=stop)
            except (JobPausedError, InvalidTransitionError):
                continue  # paused or finished between the pick and the session
            except StoreError as exc:
                # the server went away or restarted: the claims are leases, so just come back
                report.reason = str(exc)
                stop.wait(backoff)
                backoff = min(backoff * 2, 30.0)
                continue
            backoff = poll_seconds
            report.sessions += 1
            report.processed += s.processed
            report.failed += s.failed
            report.skipped += s.skipped
            if s.outcome == "waiting":
                # the rest is claimed by other workers; their claims may still come back
                stop.wait(min(poll_seconds, 0.2))
        report.reason = "stopped"
        return report
    finally:
        ws.close()


def _worker_main(url: str, kwargs: dict[str, Any], queue: Any) -> None:
    stop = threading.Event()

    def on_signal(signum: int, frame: Any) -> None:
        stop.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    report = run_worker(url, stop=stop, **kwargs)
    with contextlib.suppress(Exception):
        queue.put(report.to_dict())


def start_local_workers(
    url: str,
    n: int,
    *,
    job_id: str | None = None,
    job_type: str | None = None,
    processor: str | None = None,
    exit_when_idle: bool = False,
    poll_seconds: float = 1.0,
) -> list[multiprocessing.process.BaseProcess]:
    """Start ``n`` worker processes here; returns them (``stop_local_workers`` ends them).

    ``processor`` must be importable in a new process: ``"module:attr"`` or a
    registered processor name.

    Examples
    --------
    >>> # url = "postgresql://localhost/research"
    >>> # procs = start_local_workers(url, 4, job_type="regrid_scraping")
    >>> # ...; stop_local_workers(procs)
    """
    if isinstance(n, bool) or not isinstance(n, int) or n < 1:
        raise ValidationError(f"Number of workers {n!r} must be a whole number ≥ 1.")
    if processor is not None and not isinstance(processor, str):
        raise ValidationError(
            "A processor for worker processes must be importable there: give 'module:attr' "
            "or a registered processor name."
        )
    ctx = multiprocessing.get_context("spawn")  # no forked connections or threads
    queue = ctx.Queue()
    kwargs = {
        "job_id": job_id,
        "job_type": job_type,
        "processor": processor,
        "exit_when_idle": exit_when_idle,
        "poll_seconds": poll_seconds,
    }
    procs: list[multiprocessing.process.BaseProcess] = []
    for i in range(n):
        p: multiprocessing.process.BaseProcess = ctx.Process(
            target=_worker_main, args=(url, kwargs, queue), name=f"toolkit-worker-{i}", daemon=False
        )
        p.start()
        procs.append(p)
    for p in procs:
        p.report_queue = queue  # type: ignore[attr-defined]
    return procs


def stop_local_workers(procs: list[Any], timeout: float = 10.0) -> None:
    """Ask each worker to stop at its next item (SIGTERM), and wait; kill any that does not."""
    for p in procs:
        if p.is_alive():
            with contextlib.suppress(Exception):
                p.terminate()
    deadline = time.monotonic() + timeout
    for p in procs:
        p.join(max(0.0, deadline - time.monotonic()))
        if p.is_alive():
            p.kill()
            p.join()


def run_workers(ws: Workspace, req: Any, n: int) -> RunResult:
    """``toolkit run TYPE --workers N``: N local worker processes share one job until it is
    done or stops; the result reads like any other session's.

    ``req`` is a :class:`~toolkit.orchestrator.SessionRequest`; its job is opened (found,
    resumed or created) as for one session.
    """
    from toolkit.jobs.session import progress_message
    from toolkit.orchestrator import EXIT_COMPLETED, exit_code, open_job

    jid, note = open_job(ws, req)
    if jid is None:
        return RunResult(None, "no_work", EXIT_COMPLETED, note)
    procs = start_local_workers(ws.url, n, job_id=jid, exit_when_idle=True, processor=req.processor)
    try:
        for p in procs:
            p.join()
    except KeyboardInterrupt:
        stop_local_workers(procs)
    st = ws.get_batch_status(jid)
    outcome = outcome_of(
        "stopped",
        st["status"],
        failed=st["failed_items"],
        skipped=st["skipped_items"],
        auto_paused=st["status"] == "paused" and was_auto_paused(ws, jid),
    )
    finished = st["processed_items"] + st["failed_items"] + st["skipped_items"]
    message = progress_message(
        st["noun"],
        finished,
        st["total_items"],
        st["status"],
        failed=st["failed_items"],
        skipped=st["skipped_items"],
    )
    if st["status"] == "paused" and st["pause_reason"]:
        message += f" — {st['pause_reason']}"
    return RunResult(
        job_id=jid,
        outcome=outcome,
        exit_code=exit_code(outcome),
        message=f"{message} (with {n} workers)",
        processed=int(st["processed_items"]),
        failed=int(st["failed_items"]),
        skipped=int(st["skipped_items"]),
        status=st["status"],
    )
