"""One way to run a session, whoever asks: ``toolkit run``, ``--workers``, the worker
command, the control panel, a notebook run by papermill, a phrase, an assistant.

Here live the pieces every surface shares:

* :func:`check_request` validates a session's parameters once, at the edge, and
  returns a :class:`SessionRequest` (the county resolved to its id and name);
* :func:`open_job` finds the job a request means — the one named, the newest
  active job of the type and county (resumed when a person or a budget paused
  it), or a new one over the pending items;
* :func:`run_one` runs one session in this process and returns a :class:`RunResult`;
* :func:`outcome_of` and :data:`EXIT_CODES`: the one table that turns where a
  session left its job into an outcome and an exit code.

Exit codes (the same on every surface; ``docs/cli.md``)
-------------------------------------------------------
0 completed — the job is finished and every item is done (or nothing was pending) ·
13 finished with failures — the job is finished but some items failed or were
skipped (see ``toolkit status --failures``) · 10 paused: at its budget, or by a
person · 11 auto-paused (consecutive failures or a fatal source error; review
first) · 12 no processor for this job type yet (nothing changed) · 1 failed (a
crash, a notebook cell raised, the kernel died, the job was cancelled) · 2 bad
usage (a bad parameter; nothing changed).
"""

from __future__ import annotations

import importlib
import math
import os
import threading
import warnings
from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Any

from toolkit import config
from toolkit.exceptions import (
    InvalidTransitionError,
    JobPausedError,
    UnknownChoiceError,
    ValidationError,
)

if TYPE_CHECKING:
    from toolkit.jobs.session import SessionSummary
    from toolkit.workspace import Workspace

EXIT_COMPLETED = 0
EXIT_FAILED = 1
EXIT_BAD_USAGE = 2
EXIT_PAUSED = 10
EXIT_AUTO_PAUSED = 11
EXIT_NO_PROCESSOR = 12
EXIT_FINISHED_WITH_FAILURES = 13

# outcome → (exit code, what it means): the one table
EXIT_CODES: dict[str, tuple[int, str]] = {
    "completed": (EXIT_COMPLETED, "the job is finished and every item is done"),
    "no_work": (EXIT_COMPLETED, "nothing was pending"),
    "finished_with_failures": (
        EXIT_FINISHED_WITH_FAILURES,
        "the job is finished, but some items failed or were skipped",
    ),
    "budget": (EXIT_PAUSED, "paused at the session's budget"),
    "paused": (EXIT_PAUSED, "paused by a person (or another session)"),
    "waiting": (EXIT_PAUSED, "the rest of the job's items are held by other sessions"),
    "auto_paused": (EXIT_AUTO_PAUSED, "auto-paused: consecutive failures or a fatal source error"),
    "no_processor": (EXIT_NO_PROCESSOR, "no processor for this job type; nothing changed"),
    "failed": (EXIT_FAILED, "the session crashed, a cell raised, or the job was cancelled"),
    "bad_usage": (EXIT_BAD_USAGE, "a bad parameter; nothing changed"),
}

# types where a person does (part of) the work: their notebooks show the item form
MANUAL_TYPES = ("county_research", "property_condition", "title_research")


def exit_code(outcome: str) -> int:
    """The exit code of an outcome (see :data:`EXIT_CODES`).

    >>> exit_code("budget"), exit_code("auto_paused"), exit_code("finished_with_failures")
    (10, 11, 13)
    """
    return EXIT_CODES.get(outcome, (EXIT_FAILED, ""))[0]


def outcome_of(
    session_outcome: str,
    status: str | None,
    *,
    failed: int = 0,
    skipped: int = 0,
    auto_paused: bool = False,
) -> str:
    """Where a session left its job, as one outcome of :data:`EXIT_CODES`.

    ``session_outcome`` is what the session runner said (completed, budget, paused,
    auto_paused, stopped, no_work); ``status`` is the job's status afterwards;
    ``failed``/``skipped`` are the job's counts; ``auto_paused`` says the job's last
    pause was automatic (for a session that found the job paused).

    >>> outcome_of("completed", "completed", failed=4)
    'finished_with_failures'
    >>> outcome_of("paused", "paused", auto_paused=True)
    'auto_paused'
    """
    if status == "completed":
        return "finished_with_failures" if failed or skipped else "completed"
    if status == "cancelled":
        return "failed"
    if session_outcome == "auto_paused" or (status == "paused" and auto_paused):
        return "auto_paused"
    if session_outcome == "budget":
        return "budget"
    if session_outcome in ("no_work", "drained"):
        return "no_work" if status is None else "waiting"
    if session_outcome in ("paused", "stopped") or status == "paused":
        return "paused"
    return "failed"


# -- the request --------------------------------------------------------------------------


@dataclass(frozen=True)
class SessionRequest:
    """A session's parameters, checked (see :func:`check_request`)."""

    job_type: str
    db: str
    county: str | None = None
    county_id: int | None = None
    batch_size: int | None = None
    job_id: str | None = None
    max_batches: int | None = None
    max_minutes: float | None = None
    interactive: bool = True
    processor: str | None = None
    strategy: str = "county"
    summary_path: str | None = None

    @property
    def max_seconds(self) -> float | None:
        return None if self.max_minutes is None else float(self.max_minutes) * 60

    def connect(self) -> Workspace:
        import toolkit

        return toolkit.connect(self.db)


def _whole(name: str, value: object, hint: str = "") -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValidationError(
            f"Parameter {name}={value!r} ({type(value).__name__}) must be a whole number ≥ 1 "
            f"or None{hint}."
        )
    return value


def text_param(name: str, value: object, what: str) -> str | None:
    """A non-empty text parameter (a path-like is accepted), or None."""
    if value is None:
        return None
    if isinstance(value, os.PathLike):
        value = os.fspath(value)
    if not isinstance(value, str) or not value.strip():
        raise ValidationError(
            f"Parameter {name}={value!r} ({type(value).__name__}) must be {what} or None."
        )
    return value.strip()


def check_request(
    job_type: str,
    *,
    db: object = None,
    county: object = None,
    batch_size: object = None,
    job_id: object = None,
    max_batches: object = None,
    max_minutes: object = None,
    interactive: object = True,
    processor: object = None,
    strategy: object = "county",
    summary_path: object = None,
    ws: Workspace | None = None,
    import_processor: bool = True,
    surface: str = "notebook",
) -> SessionRequest:
    """Validate a session's parameters; reads the workspace, changes nothing.

    Raises :class:`~toolkit.exceptions.ValidationError` naming the bad value
    and what is accepted: a wrong type (``batch_size="ten"``), an unknown
    county, a job id of another job type, a processor that cannot be imported.
    ``ws`` (an open workspace) is used instead of opening ``db`` again; ``surface``
    ("notebook" or "cli") words the advice of an error for where it is read.

    Examples
    --------
    >>> check_request("regrid_scraping", db=":memory:", batch_size="ten")
    Traceback (most recent call last):
    ...
    toolkit.exceptions.ValidationError: Parameter batch_size='ten' (str) must be a whole ...
    """
    from toolkit.jobs import get_job_type
    from toolkit.jobs.rules import normalise_strategy

    jt = get_job_type(job_type)
    size = _whole("batch_size", batch_size, f" (the guide's size for {jt.name} is {jt.batch_size})")
    batches = _whole("max_batches", max_batches)
    if max_minutes is not None and (
        isinstance(max_minutes, bool)
        or not isinstance(max_minutes, int | float)
        or not math.isfinite(max_minutes)
        or max_minutes <= 0
    ):
        raise ValidationError(
            f"Parameter max_minutes={max_minutes!r} ({type(max_minutes).__name__}) must be a "
            "positive number of minutes or None."
        )
    if not isinstance(interactive, bool):
        raise ValidationError(
            f"Parameter interactive={interactive!r} ({type(interactive).__name__}) must be "
            "True or False."
        )
    db_url = (
        ws.url
        if ws is not None
        else text_param("db", db, "a DuckDB file path or a postgresql:// URL")
        or config.default_db_url()
    )
    jid = text_param("job_id", job_id, "a job id (uuid or its first 8 characters)")
    proc = text_param("processor", processor, "'module:function' or a registered processor name")
    out = text_param("summary_path", summary_path, "a file path")
    if county is not None and (isinstance(county, bool) or not isinstance(county, str | int)):
        raise ValidationError(
            f"Parameter county={county!r} ({type(county).__name__}) must be a county name, "
            "id or FIPS code, or None for all counties."
        )
    strat = normalise_strategy(strategy)
    if proc is not None and import_processor:
        resolve_processor(proc)  # fail now, before anything is created

    import toolkit

    own = ws is None
    w = toolkit.connect(db_url) if ws is None else ws
    try:
        county_id = w.county_id(county) if county is not None else None
        county_name = w.county_name(county_id) if county_id is not None else None
        if jid is not None:
            st = w.get_batch_status(jid)  # JobNotFoundError names a bad id
            if st["job_type"] != jt.name and surface == "cli":
                raise ValidationError(
                    f"Job {st['job_id']} is a {st['job_type']} job, not {jt.name}; run it with: "
                    f"toolkit run {st['job_type']} --job {st['job_id'][:8]}."
                )
            if st["job_type"] != jt.name:
                raise ValidationError(
                    f"Job {st['job_id']} is a {st['job_type']} job, but this is the {jt.name} "
                    f"notebook. Open notebooks/{st['job_type']}.ipynb for it, or give a "
                    f"{jt.name} job id (or job_id=None to start or continue one)."
                )
            jid = st["job_id"]
    finally:
        if own:
            w.close()
    return SessionRequest(
        job_type=jt.name,
        db=db_url,
        county=county_name,
        county_id=county_id,
        batch_size=size,
        job_id=jid,
        max_batches=batches,
        max_minutes=None if max_minutes is None else float(max_minutes),
        interactive=interactive,
        processor=proc,
        strategy=strat,
        summary_path=out,
    )


def resolve_processor(spec: str | None) -> Callable[..., Any] | str | None:
    """``"module:function"`` → that function (the processor itself, called per item).

    A name without a colon is a registered processor name (passed on as is);
    None means the job type's own processor.

    >>> resolve_processor("json:dumps").__name__
    'dumps'
    """
    if spec is None or ":" not in spec:
        if spec is not None:
            from toolkit.processors import has_processor, processor_names

            if not has_processor(spec):
                raise UnknownChoiceError(
                    "processor", spec, processor_names() or ["(none registered)"]
                )
        return spec
    module, _, attr = spec.partition(":")
    try:
        obj = getattr(importlib.import_module(module), attr)
    except (ImportError, AttributeError) as exc:
        raise ValidationError(
            f"Processor {spec!r} cannot be imported ({type(exc).__name__}: {exc}); "
            "give 'module:function' importable here (check PYTHONPATH)."
        ) from exc
    if not callable(obj):
        raise ValidationError(f"Processor {spec!r} is {type(obj).__name__}, not callable.")
    return obj


def has_work_processor(job_type: str, processor: object = None) -> bool:
    """True when a session can run: a processor was given or the type has its own."""
    from toolkit.processors import has_processor

    return processor is not None or has_processor(job_type)


# -- the job ------------------------------------------------------------------------------


def pending_count(ws: Workspace, job_type: str, county_id: int | None = None) -> int:
    """Items eligible for ``job_type`` now (in ``county_id``, or everywhere)."""
    from toolkit.jobs import get_job_type

    view = get_job_type(job_type).view
    frame = ws.store.query("runner_pending_count", [county_id, county_id], view=view)
    return int(frame.n[0])


def pending_by_county(ws: Workspace, job_type: str) -> list[tuple[str, int, int]]:
    """``(county_name, county_id, pending)`` for counties with pending work, most first."""
    from toolkit.jobs import get_job_type

    view = get_job_type(job_type).view
    frame = ws.store.query("runner_pending_by_county", view=view)
    return [(str(r.county_name), int(r.county_id), int(r.n)) for r in frame.itertuples()]


def was_auto_paused(ws: Workspace, job_id: str) -> bool:
    """True when the job's latest pause was automatic (failures or a fatal source error)."""
    frame = ws.query("runner_last_pause_event", [job_id])
    return not frame.empty and frame.event[0] == "auto_paused"


def paused_jobs(ws: Workspace, job_type: str) -> list[dict[str, Any]]:
    """Paused jobs of ``job_type``, the most recently paused first (what Resume offers)."""
    frame = ws.active_jobs()
    frame = frame[(frame.job_type == job_type) & (frame.status == "paused")]
    frame = frame.sort_values("updated_at", ascending=False)
    return frame.to_dict("records")


def find_active_job(ws: Workspace, job_type: str, county_id: int | None) -> dict[str, Any] | None:
    """The newest active job of this type over the same county scope.

    ``county_id`` None (no county named): the newest all-counties job, else the
    newest active job of this type whatever its county — a person who says
    "run environmental research" means the job they started, not a new empty one.
    """
    frame = ws.active_jobs()
    frame = frame[frame.job_type == job_type]
    if county_id is None:
        everywhere = frame[frame.county_id.isna()]
        frame = everywhere if not everywhere.empty else frame
    else:
        frame = frame[frame.county_id == county_id]
    if frame.empty:
        return None
    return frame.sort_values("updated_at", ascending=False).iloc[0].to_dict()


def open_job(
    ws: Workspace, req: SessionRequest, *, say: Callable[[str], None] = print
) -> tuple[str | None, str]:
    """The job this session works on, ready to run, and a sentence saying which.

    ``job_id`` given: that job, resumed if paused (you asked for it by name).
    Otherwise the newest active job of this type and county scope, resumed if
    it was paused at its budget or by a person; an auto-paused job is not
    resumed behind your back (:class:`~toolkit.exceptions.JobPausedError`).
    With no active job, a new one over the pending items; ``(None, why)``
    when nothing is pending. Warnings (a large batch size, other active jobs)
    go to ``say``.
    """
    jid = req.job_id
    if jid is None:
        found = find_active_job(ws, req.job_type, req.county_id)
        if found is None:
            n = pending_count(ws, req.job_type, req.county_id)
            scope = req.county or "all counties"
            if n == 0:
                return None, f"Nothing pending for {req.job_type} in {scope}."
            with warnings.catch_warnings(record=True) as caught:
                warnings.simplefilter("always")
                jid = ws.create_batch_job(
                    req.job_type, req.county_id, req.batch_size, strategy=req.strategy
                )
            for w in caught:
                say(f"Warning: {w.message}")
            st = ws.get_batch_status(jid)
            return jid, (
                f"Started {req.job_type} job {jid[:8]} for {scope}: {st['total_items']} "
                f"{st['noun']} in batches of {st['batch_size']}."
            )
        jid = str(found["job_id"])
        if found["status"] == "paused" and was_auto_paused(ws, jid):
            raise JobPausedError(
                f"Job {jid[:8]} was auto-paused ({found['pause_reason']}). Review its failures "
                f"(toolkit status {jid[:8]} --failures), fix the cause, then resume it: "
                f"toolkit run {req.job_type} --job {jid[:8]}."
            )
    st = ws.get_batch_status(jid)
    if st["status"] == "paused":
        ws.resume_batch_job(jid)
        return jid, f"Resumed {req.job_type} job {jid[:8]} ({st['pause_reason'] or 'paused'})."
    if st["status"] == "cancelled":
        raise InvalidTransitionError(
            f"Job {jid[:8]} is cancelled; start a new job (toolkit start {req.job_type})."
        )
    return jid, f"Continuing {req.job_type} job {jid[:8]} ({st['status']})."


# -- running it ---------------------------------------------------------------------------


@dataclass(frozen=True)
class RunResult:
    """One session, as every surface reports it: job, outcome, exit code, counts, message."""

    job_id: str | None
    outcome: str
    exit_code: int
    message: str
    processed: int = 0
    failed: int = 0
    skipped: int = 0
    status: str | None = None
    record_path: str | None = None
    session_id: str | None = None
    resume_hint: str = ""
    failures: tuple[dict[str, str], ...] = ()

    def to_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out["failures"] = list(self.failures)
        return out

    @property
    def counts(self) -> str:
        """This session's counts in words: "12 done, 3 failed, 0 skipped"."""
        return f"{self.processed} done, {self.failed} failed, {self.skipped} skipped"


def result_of(summary: SessionSummary, *, auto_paused: bool = False) -> RunResult:
    """A session runner's summary as the surfaces' :class:`RunResult`."""
    outcome = outcome_of(
        summary.outcome,
        summary.status,
        failed=summary.job_failed,
        skipped=summary.job_skipped,
        auto_paused=auto_paused,
    )
    return RunResult(
        job_id=summary.job_id,
        outcome=outcome,
        exit_code=exit_code(outcome),
        message=summary.message,
        processed=summary.processed,
        failed=summary.failed,
        skipped=summary.skipped,
        status=summary.status,
        session_id=summary.session_id,
        resume_hint=summary.resume_hint,
        failures=tuple(summary.failures),
    )


def run_job_session(
    ws: Workspace,
    job_id: str,
    processor: Callable[..., Any] | str | None = None,
    *,
    max_batches: int | None = None,
    max_items: int | None = None,
    max_seconds: float | None = None,
    on_progress: Callable[[dict[str, Any]], None] | None = None,
    stop: threading.Event | None = None,
    pause_reason: str | None = None,
) -> RunResult:
    """One session of a job that is ready to run (the panel, a worker, a phrase).

    ``pause_reason``: when ``stop`` ends the session, the job is paused with this
    reason (a person pressed Pause); without it the job is left to others.
    """
    summary = ws.run_session(
        job_id,
        processor,
        max_batches=max_batches,
        max_items=max_items,
        max_seconds=max_seconds,
        on_progress=on_progress,
        stop=stop,
    )
    if pause_reason and stop is not None and stop.is_set() and summary.status == "in_progress":
        ws.pause_batch_job(job_id, reason=pause_reason)
        summary = _refreshed(ws, summary)
    auto = summary.status == "paused" and was_auto_paused(ws, summary.job_id)
    return result_of(summary, auto_paused=auto)


def _refreshed(ws: Workspace, summary: SessionSummary) -> SessionSummary:
    """The summary with the job's status after a pause the caller just made."""
    from dataclasses import replace

    from toolkit.jobs.session import progress_message

    st = ws.get_batch_status(summary.job_id)
    finished = st["processed_items"] + st["failed_items"] + st["skipped_items"]
    msg = progress_message(
        st["noun"],
        finished,
        st["total_items"],
        st["status"],
        failed=st["failed_items"],
        skipped=st["skipped_items"],
    )
    return replace(
        summary, status=st["status"], outcome="paused", message=msg, pause_reason=st["pause_reason"]
    )


def run_one(
    ws: Workspace,
    req: SessionRequest,
    *,
    processor: Callable[..., Any] | str | None = None,
    on_progress: Callable[[dict[str, Any]], None] | None = None,
    stop: threading.Event | None = None,
    say: Callable[[str], None] = print,
    on_job: Callable[[str], None] | None = None,
) -> RunResult:
    """Open the job a request means and run one session of it, in this process.

    ``processor`` overrides the request's (a callable here; the request's is a name);
    ``on_job`` is told the job's id before the session starts (a crash then still
    names it).
    """
    if not has_work_processor(req.job_type, processor or req.processor):
        manual = req.job_type in MANUAL_TYPES
        msg = (
            f"No processor for {req.job_type} yet: nothing was run and nothing changed. "
            + (
                "Work its items one at a time with the item form in its notebook, or give "
                if manual
                else "Give "
            )
            + "a processor ('module:function')."
        )
        return RunResult(None, "no_processor", EXIT_NO_PROCESSOR, msg)
    jid, note = open_job(ws, req, say=say)
    say(note)
    if jid is None:
        return RunResult(None, "no_work", EXIT_COMPLETED, note)
    if on_job is not None:
        on_job(jid)
    proc = processor if processor is not None else resolve_processor(req.processor)
    return run_job_session(
        ws,
        jid,
        proc,
        max_batches=req.max_batches,
        max_seconds=req.max_seconds,
        on_progress=on_progress,
        stop=stop,
    )


__all__ = [
    "EXIT_AUTO_PAUSED",
    "EXIT_BAD_USAGE",
    "EXIT_CODES",
    "EXIT_COMPLETED",
    "EXIT_FAILED",
    "EXIT_FINISHED_WITH_FAILURES",
    "EXIT_NO_PROCESSOR",
    "EXIT_PAUSED",
    "MANUAL_TYPES",
    "RunResult",
    "SessionRequest",
    "check_request",
    "exit_code",
    "open_job",
    "outcome_of",
    "result_of",
    "run_job_session",
    "run_one",
]
