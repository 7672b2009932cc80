"""Job notebooks, headless: parameters, one session per run, and papermill.

Two halves live here.

*In the notebook* (the kernel): :func:`check_parameters` validates the
``parameters`` cell before anything changes; :func:`run_notebook_session` finds
or creates the job, runs one session, prints a summary and this session's
failures, and writes the outcome to ``summary_path`` as JSON.

*Around the notebook* (the caller): :func:`run_headless` executes a job
type's notebook with papermill on a kernel of this Python environment, keeps
the executed notebook as the session's record under ``runs/<job_type>/``, puts
its path in the ``sessions`` row, and returns one :class:`RunResult` per
session.

How a notebook tells the runner its outcome: the runner passes the
``summary_path`` parameter; the notebook writes the session summary there as
JSON (``SessionSummary.to_dict()`` plus ``outcome`` / ``exit_code``), kept
beside the record as ``<record>.json``. A notebook that raised (or whose kernel
died) writes nothing; the runner then reads the executed notebook to name the
cell and the error.

Exit codes
----------
0 completed (or nothing pending) · 10 paused: at its budget, or by a person ·
11 auto-paused (consecutive failures or a fatal source error; review first) ·
12 no processor for this job type yet (nothing changed) · 1 failed (a cell
raised, the kernel died, the job was cancelled) · 2 bad usage (a bad
parameter; nothing changed).
"""

from __future__ import annotations

import datetime as dt
import importlib
import json
import math
import os
import sys
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from toolkit import config
from toolkit.exceptions import (
    InvalidTransitionError,
    JobPausedError,
    ValidationError,
)
from toolkit.store.schema import quote_ident

if TYPE_CHECKING:
    from toolkit.workspace import Workspace

EXIT_COMPLETED = 0
EXIT_FAILED = 1
EXIT_BAD_USAGE = 2
EXIT_PAUSED = 10
EXIT_AUTO_PAUSED = 11
EXIT_NO_PROCESSOR = 12

KERNEL_NAME = "taxsale-toolkit"
# cell ids in the shipped notebooks (see scripts/make_notebooks.py); messages name them
CELL_NAMES = {
    "parameters": "parameters",
    "injected-parameters": "injected parameters",
    "check-parameters": "check parameters",
    "run-session": "run the session",
}
# types where a person does (part of) the work: their notebooks show the item form
MANUAL_TYPES = ("county_research", "property_condition", "title_research")


# -- parameters -----------------------------------------------------------------


@dataclass(frozen=True)
class NotebookParams:
    """A job notebook's parameters, checked (see :func:`check_parameters`)."""

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


def _text(name: str, value: object, what: str) -> str | None:
    if value is None:
        return None
    if isinstance(value, os.PathLike):
        value = os.fspath(value)
    if not isinstance(value, str) or not value.strip():
        raise ValidationError(
            f"Parameter {name}={value!r} ({type(value).__name__}) must be {what} or None."
        )
    return value.strip()


def check_parameters(
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
) -> NotebookParams:
    """Validate a job notebook's ``parameters`` cell; reads the workspace, changes nothing.

    Raises :class:`~toolkit.exceptions.ValidationError` naming the bad value
    and what is accepted: a wrong type (``batch_size="ten"``), an unknown
    county, a job id of another job type, a processor that cannot be imported.

    Examples
    --------
    >>> from toolkit.notebook import check_parameters
    >>> check_parameters("regrid_scraping", db=":memory:", batch_size="ten")
    Traceback (most recent call last):
    ...
    toolkit.exceptions.ValidationError: Parameter batch_size='ten' (str) must be a whole ...
    """
    from toolkit.jobs import get_job_type
    from toolkit.jobs.engine import normalise_strategy

    jt = get_job_type(job_type)
    size = _whole("batch_size", batch_size, f" (the guide's size for {jt.name} is {jt.batch_size})")
    batches = _whole("max_batches", max_batches)
    if max_minutes is not None and (
        isinstance(max_minutes, bool) or not isinstance(max_minutes, int | float)
        or not math.isfinite(max_minutes) or max_minutes <= 0
    ):  # fmt: skip
        raise ValidationError(
            f"Parameter max_minutes={max_minutes!r} ({type(max_minutes).__name__}) must be a "
            "positive number of minutes or None."
        )
    if not isinstance(interactive, bool):
        raise ValidationError(
            f"Parameter interactive={interactive!r} ({type(interactive).__name__}) must be "
            "True or False."
        )
    db_url = _text("db", db, "a DuckDB file path or a postgresql:// URL") or config.default_db_url()
    jid = _text("job_id", job_id, "a job id (uuid or its first 8 characters)")
    proc = _text("processor", processor, "'module:function' or a registered processor name")
    out = _text("summary_path", summary_path, "a file path")
    if county is not None and (isinstance(county, bool) or not isinstance(county, str | int)):
        raise ValidationError(
            f"Parameter county={county!r} ({type(county).__name__}) must be a county name, "
            "id or FIPS code, or None for all counties."
        )
    strat = normalise_strategy(strategy)
    if proc is not None:
        resolve_processor(proc)  # fail now, before anything is created

    import toolkit

    ws = toolkit.connect(db_url)
    try:
        county_id = ws.county_id(county) if county is not None else None
        county_name = None
        if county_id is not None:
            county_name = str(ws.sql(ws.q.county_name, [county_id]).iloc[0, 0])
        if jid is not None:
            st = ws.get_batch_status(jid)  # JobNotFoundError names a bad id
            if st["job_type"] != jt.name:
                raise ValidationError(
                    f"Job {st['job_id']} is a {st['job_type']} job, but this is the {jt.name} "
                    f"notebook. Open notebooks/{st['job_type']}.ipynb for it, or give a "
                    f"{jt.name} job id (or job_id=None to start or continue one)."
                )
            jid = st["job_id"]
    finally:
        ws.close()
    return NotebookParams(
        job_type=jt.name, db=db_url, county=county_name, county_id=county_id, batch_size=size,
        job_id=jid, max_batches=batches,
        max_minutes=None if max_minutes is None else float(max_minutes),  # type: ignore[arg-type]
        interactive=interactive, processor=proc, strategy=strat, summary_path=out,
    )  # fmt: skip


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
                from toolkit.exceptions import UnknownChoiceError

                raise UnknownChoiceError(
                    "processor", spec, processor_names() or ["(none registered)"]
                )
        return spec
    module, _, attr = spec.partition(":")
    try:
        obj = getattr(importlib.import_module(module), attr)
    except (ImportError, AttributeError) as exc:
        raise ValidationError(
            f"Parameter processor={spec!r} cannot be imported ({type(exc).__name__}: {exc}); "
            "give 'module:function' importable in the kernel (check PYTHONPATH)."
        ) from exc
    if not callable(obj):
        raise ValidationError(
            f"Parameter processor={spec!r} is {type(obj).__name__}, not callable."
        )
    return obj


def has_work_processor(params: NotebookParams) -> bool:
    """True when a session can run: a processor was given or the type has its own."""
    from toolkit.processors import has_processor

    return params.processor is not None or has_processor(params.job_type)


# -- the job ------------------------------------------------------------------


def pending_count(ws: Workspace, job_type: str, county_id: int | None = None) -> int:
    """Items eligible for ``job_type`` now (in ``county_id``, or everywhere)."""
    from toolkit.jobs import get_job_type

    view = get_job_type(job_type).view  # a registry name: lowercase letters and underscores
    frame = ws.sql(
        ws.q.runner_pending_count.replace("{view}", quote_ident(view)), [county_id, county_id]
    )
    return int(frame.n[0])


def pending_by_county(ws: Workspace, job_type: str) -> list[tuple[str, int, int]]:
    """``(county_name, county_id, pending)`` for counties with pending work, most first."""
    from toolkit.jobs import get_job_type

    view = get_job_type(job_type).view
    frame = ws.sql(ws.q.runner_pending_by_county.replace("{view}", quote_ident(view)))
    return [(str(r.county_name), int(r.county_id), int(r.n)) for r in frame.itertuples()]


def was_auto_paused(ws: Workspace, job_id: str) -> bool:
    """True when the job's latest pause was automatic (failures or a fatal source error)."""
    frame = ws.sql(ws.q.runner_last_pause_event, [job_id])
    return not frame.empty and frame.event[0] == "auto_paused"


def paused_jobs(ws: Workspace, job_type: str) -> list[dict[str, Any]]:
    """Paused jobs of ``job_type``, newest first (what the Resume list offers)."""
    frame = ws.active_jobs()
    frame = frame[(frame.job_type == job_type) & (frame.status == "paused")]
    frame = frame.sort_values("updated_at", ascending=False)
    return frame.to_dict("records")


def find_active_job(ws: Workspace, job_type: str, county_id: int | None) -> dict[str, Any] | None:
    """The newest active job of this type over the same county scope (None = all counties)."""
    frame = ws.active_jobs()
    frame = frame[frame.job_type == job_type]
    if county_id is None:
        frame = frame[frame.county_id.isna()]
    else:
        frame = frame[frame.county_id == county_id]
    if frame.empty:
        return None
    return frame.sort_values("updated_at", ascending=False).iloc[0].to_dict()


def open_job(ws: Workspace, params: NotebookParams) -> tuple[str | None, str]:
    """The job this session works on, ready to run, and a sentence saying which.

    ``job_id`` given: that job, resumed if paused (you asked for it by name).
    Otherwise the newest active job of this type and county scope, resumed if
    it was paused at its budget or by a person; an auto-paused job is not
    resumed behind your back (:class:`~toolkit.exceptions.JobPausedError`).
    With no active job, a new one over the pending items; ``(None, why)``
    when nothing is pending.
    """
    jid = params.job_id
    if jid is None:
        found = find_active_job(ws, params.job_type, params.county_id)
        if found is None:
            n = pending_count(ws, params.job_type, params.county_id)
            scope = params.county or "all counties"
            if n == 0:
                return None, f"Nothing pending for {params.job_type} in {scope}."
            import warnings

            with warnings.catch_warnings(record=True) as caught:
                warnings.simplefilter("always")
                jid = ws.create_batch_job(
                    params.job_type, params.county_id, params.batch_size, strategy=params.strategy
                )
            for w in caught:
                print(f"Warning: {w.message}")
            st = ws.get_batch_status(jid)
            return jid, (
                f"Started {params.job_type} job {jid[:8]} for {scope}: {st['total_items']} "
                f"{st['noun']} in batches of {st['batch_size']}."
            )
        jid = str(found["job_id"])
        if found["status"] == "paused" and was_auto_paused(ws, jid):
            raise JobPausedError(
                f"Job {jid} was auto-paused ({found['pause_reason']}). Review its failures "
                f"(ws.failed_items('{jid}')), fix the cause, then run with "
                f"job_id='{jid}' to resume it."
            )
    st = ws.get_batch_status(jid)
    if st["status"] == "paused":
        ws.resume_batch_job(jid)
        return jid, f"Resumed {params.job_type} job {jid[:8]} ({st['pause_reason'] or 'paused'})."
    if st["status"] == "cancelled":
        raise InvalidTransitionError(f"Job {jid} is cancelled; start a new job (job_id=None).")
    return jid, f"Continuing {params.job_type} job {jid[:8]} ({st['status']})."


def exit_code(outcome: str, status: str | None = None) -> int:
    """The runner's exit code for a session outcome (see the module docstring).

    >>> exit_code("budget"), exit_code("auto_paused"), exit_code("completed")
    (10, 11, 0)
    """
    if outcome == "completed" or (outcome == "no_work" and status in (None, "completed")):
        return EXIT_COMPLETED
    if outcome in ("budget", "paused", "no_work"):
        return EXIT_PAUSED
    if outcome == "auto_paused":
        return EXIT_AUTO_PAUSED
    if outcome == "no_processor":
        return EXIT_NO_PROCESSOR
    if outcome == "bad_usage":
        return EXIT_BAD_USAGE
    return EXIT_FAILED


def _write_summary(params: NotebookParams, data: dict[str, Any]) -> None:
    if params.summary_path:
        data = data | {"exit_code": exit_code(data["outcome"], data.get("status"))}
        Path(params.summary_path).write_text(json.dumps(data, default=str, indent=1))


class _Printer:
    """Headless progress: one line per finished batch (and at most every 10 s)."""

    def __init__(self, noun: str) -> None:
        self.noun = noun
        self.batches = 0
        self.last = time.monotonic()

    def __call__(self, p: dict[str, Any]) -> None:
        now = time.monotonic()
        if p["session_batches"] != self.batches or now - self.last >= 10:
            self.batches, self.last = p["session_batches"], now
            print(
                f"… batch {p['session_batches']}: {p['session_processed']} {self.noun} done, "
                f"{p['session_failed']} failed, {p['session_skipped']} skipped",
                flush=True,
            )


def run_notebook_session(params: NotebookParams) -> dict[str, Any]:
    """One headless session of the notebook's job; prints a summary and the failures.

    Returns the summary dict (also written to ``params.summary_path``).

    Examples
    --------
    >>> from toolkit.notebook import check_parameters, run_notebook_session
    >>> p = check_parameters("regrid_scraping", db=":memory:", processor="json:dumps")
    >>> run_notebook_session(p)["outcome"]
    Nothing pending for regrid_scraping in all counties.
    'no_work'
    """
    from toolkit.jobs import get_job_type

    jt = get_job_type(params.job_type)
    base = {"job_type": jt.name, "job_id": params.job_id, "status": None, "failures": []}
    if not has_work_processor(params):
        msg = (
            f"No processor for {jt.name} yet: nothing was run and nothing changed. "
            + ("Work its items one at a time with the item form (interactive=True), or pass "
               if jt.name in MANUAL_TYPES else "Pass ")
            + "processor='module:function'."
        )  # fmt: skip
        print(msg)
        data = base | {"outcome": "no_processor", "message": msg}
        _write_summary(params, data)
        return data
    ws = params.connect()
    try:
        jid, note = open_job(ws, params)
        print(note, flush=True)
        if jid is None:
            data = base | {"outcome": "no_work", "status": None, "message": note}
            _write_summary(params, data)
            return data
        # record the job before the session: a crash mid-session still names it
        _write_summary(params, base | {"job_id": jid, "outcome": "crashed", "message": note})
        budget: dict[str, Any] = {
            "max_batches": params.max_batches,
            "max_seconds": params.max_seconds,
        }
        summary = ws.run_session(
            jid, resolve_processor(params.processor), on_progress=_Printer(jt.noun), **budget
        )
        data = summary.to_dict()
    finally:
        ws.close()
    print(summary.message)
    if summary.resume_hint:
        print(summary.resume_hint)
    print(
        f"This session: {summary.processed} done, {summary.failed} failed, "
        f"{summary.skipped} skipped "
        f"in {summary.seconds:.1f} s (outcome: {summary.outcome})."
    )
    _write_summary(params, data)
    show_failures(summary.failures)
    return data


def show_failures(failures: list[dict[str, str]]) -> None:
    """Display this session's failures as a table (or say there were none)."""
    import pandas as pd

    if not failures:
        print("No failures this session.")
        return
    frame = pd.DataFrame(failures, columns=["item_id", "error"])
    try:
        from IPython.display import display

        display(frame)
    except ImportError:  # plain Python: print it
        print(frame.to_string(index=False))


# -- around the notebook ---------------------------------------------------------


@dataclass(frozen=True)
class RunResult:
    """One headless session: its job, outcome, exit code and record."""

    job_id: str | None
    outcome: str
    exit_code: int
    record_path: str | None
    message: str

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def notebooks_dir() -> Path:
    return config.project_root() / "notebooks"


def notebook_path(job_type: str) -> Path:
    """The shipped notebook of a job type (``notebooks/<job_type>.ipynb``)."""
    from toolkit.jobs import get_job_type

    name = get_job_type(job_type).name
    path = notebooks_dir() / f"{name}.ipynb"
    if not path.is_file():
        raise ValidationError(
            f"No notebook for {name} at {path}; "
            "regenerate them with `python scripts/make_notebooks.py`."
        )
    return path


def ensure_kernel(kernels_dir: str | Path | None = None) -> tuple[str, type]:
    """A kernelspec for this Python (``sys.executable``) and a kernel manager that finds it.

    The spec is written under ``<data>/jupyter/kernels/taxsale-toolkit`` (rewritten
    when the interpreter changes), so a fresh machine or a root CI runner needs
    no ``ipykernel install`` and nothing outside the project is touched.
    """
    from jupyter_client.kernelspec import KernelSpecManager
    from jupyter_client.manager import AsyncKernelManager
    from traitlets import default

    root = Path(kernels_dir) if kernels_dir else config.data_dir() / "jupyter" / "kernels"
    spec_dir = root / KERNEL_NAME
    spec = {
        "argv": [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"],
        "display_name": "Python (taxsale-toolkit)",
        "language": "python",
        "metadata": {"debugger": False},
    }
    path = spec_dir / "kernel.json"
    try:
        current = json.loads(path.read_text())
    except (OSError, ValueError):
        current = None
    if current != spec:
        spec_dir.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(spec, indent=1))
    dirs = [str(root)]

    class ToolkitKernelManager(AsyncKernelManager):
        @default("kernel_spec_manager")
        def _ksm_default(self) -> KernelSpecManager:
            return KernelSpecManager(kernel_dirs=dirs)

        @default("transport")
        def _transport_default(self) -> str:
            # a local kernel: Unix sockets, not TCP ports on 127.0.0.1
            return "ipc" if os.name == "posix" else "tcp"

        async def _async_interrupt_kernel(self) -> None:
            # jupyter_client sends SIGINT before every shutdown; our notebook has
            # finished by then, and a kernel caught mid-cleanup prints a stray
            # "KeyboardInterrupt caught in kernel" on the user's terminal.
            if getattr(self, "shutting_down", False):
                return
            await super()._async_interrupt_kernel()

    return KERNEL_NAME, ToolkitKernelManager


def default_runs_dir(db_url: str) -> Path:
    """Where records go: ``runs/`` beside a DuckDB file, else ``<data>/runs``."""
    if "://" in db_url or db_url in (":memory:", ""):
        return config.data_dir() / "runs"
    return Path(db_url).expanduser().resolve().parent / "runs"


def _utc_stamp() -> str:
    return dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%SZ")


def _failed_cell(nb_path: Path) -> tuple[str, str | None]:
    """(cell name, error text) of the cell that failed or was running when the kernel died."""
    import nbformat

    try:
        nb = nbformat.read(str(nb_path), as_version=4)
    except Exception:  # the record may be missing or half-written
        return "unknown cell", None
    for i, cell in enumerate(nb.cells):
        status = cell.get("metadata", {}).get("papermill", {}).get("status")
        if status in ("failed", "running") or any(
            o.get("output_type") == "error" for o in cell.get("outputs", [])
        ):
            name = CELL_NAMES.get(cell.get("id", ""), cell.get("id") or "")
            label = f"cell {i} ({name})" if name else f"cell {i}"
            for o in cell.get("outputs", []):
                if o.get("output_type") == "error":
                    return label, f"{o['ename']}: {o['evalue']}"
            return label, None
    # a dead kernel: papermill closes the cell as if it completed; it is the last one started
    started = [(i, c) for i, c in enumerate(nb.cells)
               if c.cell_type == "code"
               and c.get("metadata", {}).get("papermill", {}).get("start_time")]  # fmt: skip
    if started:
        i, cell = started[-1]
        name = CELL_NAMES.get(cell.get("id", ""), cell.get("id") or "")
        return (f"cell {i} ({name})" if name else f"cell {i}"), None
    return "unknown cell", None


def _validation_names() -> set[str]:
    names: set[str] = set()
    todo: list[type] = [ValidationError]
    while todo:
        cls = todo.pop()
        names.add(cls.__name__)
        todo.extend(cls.__subclasses__())
    return names


def _set_record_path(ws: Workspace, session_id: str | None, job_id: str | None,
                     started: dt.datetime, record: Path) -> None:  # fmt: skip
    if session_id:
        ws.sql(ws.q.session_set_record_path, [str(record), session_id])
    elif job_id:
        # the notebook died before it could say which session: the newest one since we began
        ws.sql(ws.q.session_set_record_path_latest, [str(record), job_id, started])


def run_headless(
    job_type: str,
    *,
    db: str | Path | None = None,
    county: str | int | None = None,
    batch_size: int | None = None,
    job_id: str | None = None,
    batches: int | None = None,
    minutes: float | None = None,
    until_done: bool = False,
    progress: Callable[[RunResult], None] | None = None,
    processor: str | None = None,
    strategy: str = "county",
    runs_dir: str | Path | None = None,
    timeout: float | None = None,
) -> list[RunResult]:
    """Run a job type's notebook headless with papermill: one session, or until done.

    Parameters
    ----------
    db
        The workspace (default ``$TOOLKIT_DB`` / ``data/toolkit.duckdb``); not ``:memory:``.
    batches, minutes
        The session budget (default: the type's per-session figure).
    until_done
        Run session after session (resuming each time) until the job completes
        or stops for any reason other than its budget.
    progress
        Called with each session's :class:`RunResult` as it finishes.
    processor
        ``"module:function"`` importable in the kernel, or a registered name.
    runs_dir
        Where records go (default ``runs/`` beside the DuckDB file).
    timeout
        Seconds a single cell may run (default: no limit).

    Returns one :class:`RunResult` per session. Bad arguments raise
    :class:`~toolkit.exceptions.ValidationError` before anything runs.

    Examples
    --------
    >>> from toolkit.notebook import run_headless
    >>> runs = run_headless("regrid_scraping", db="ws.duckdb", batches=2)  # doctest: +SKIP
    >>> [r.exit_code for r in runs]  # doctest: +SKIP
    [10]
    """
    import papermill as pm

    if not isinstance(until_done, bool):
        raise ValidationError(f"until_done={until_done!r} must be True or False.")
    db_url = str(db) if db is not None else config.default_db_url()
    if db_url in (":memory:", ""):
        raise ValidationError(
            "db=':memory:' cannot be shared with a notebook kernel (another process); "
            "give a file path."
        )
    if "://" not in db_url:
        db_url = str(Path(db_url).expanduser().resolve())
    params = check_parameters(
        job_type, db=db_url, county=county, batch_size=batch_size, job_id=job_id,
        max_batches=batches, max_minutes=minutes, interactive=False, processor=None,
        strategy=strategy,
    )  # fmt: skip
    # the processor is imported in the kernel (its PYTHONPATH), not here
    params = replace(params, processor=_text("processor", processor, "'module:function' or a name"))
    source = notebook_path(params.job_type)
    kernel, manager = ensure_kernel()
    out_dir = Path(runs_dir) if runs_dir is not None else default_runs_dir(db_url)
    out_dir = out_dir / params.job_type
    out_dir.mkdir(parents=True, exist_ok=True)
    results: list[RunResult] = []
    current = params
    while True:
        result = _one_run(pm, source, current, kernel, manager, out_dir, timeout)
        results.append(result)
        if progress is not None:
            progress(result)
        if not until_done or result.outcome != "budget" or result.job_id is None:
            return results
        current = replace(current, job_id=result.job_id)


def _one_run(pm: Any, source: Path, params: NotebookParams, kernel: str, manager: type,
             out_dir: Path, timeout: float | None) -> RunResult:  # fmt: skip
    import toolkit

    started = dt.datetime.now(dt.UTC).replace(tzinfo=None)  # the store keeps naive UTC
    stamp = _utc_stamp()
    pending = out_dir / f"{stamp}-{os.getpid()}.running.ipynb"
    summary_file = pending.with_suffix(".json")
    nb_params = {
        "db": params.db, "county": params.county, "batch_size": params.batch_size,
        "job_id": params.job_id, "max_batches": params.max_batches,
        "max_minutes": params.max_minutes, "interactive": False, "processor": params.processor,
        "strategy": params.strategy, "summary_path": str(summary_file),
    }  # fmt: skip
    error: BaseException | None = None
    try:
        pm.execute_notebook(
            str(source), str(pending), parameters=nb_params, kernel_name=kernel,
            kernel_manager_class=manager, progress_bar=False, log_output=False,
            cwd=str(source.parent), execution_timeout=timeout,
        )  # fmt: skip
    except Exception as exc:  # papermill's cell error, a dead kernel, a timeout
        error = exc
    data: dict[str, Any] = {}
    if summary_file.is_file():
        try:
            data = json.loads(summary_file.read_text())
        except ValueError:
            data = {}
    job_id = data.get("job_id") or params.job_id
    record = out_dir / f"{stamp}-{(job_id or 'nojob')[:8]}.ipynb"
    n = 2
    while record.exists():
        record = out_dir / f"{stamp}-{(job_id or 'nojob')[:8]}-{n}.ipynb"
        n += 1
    if pending.exists():
        pending.rename(record)
    if summary_file.exists():
        summary_file.rename(record.with_suffix(".json"))
    record_path = str(record) if record.exists() else None
    if error is not None:
        cell, text = _failed_cell(record)
        ename = getattr(error, "ename", None) or type(error).__name__
        evalue = getattr(error, "evalue", None) or str(error).strip().splitlines()[-1:] or [""]
        if isinstance(evalue, list):
            evalue = evalue[0]
        detail = text or f"{ename}: {evalue}"
        bad = ename in _validation_names()
        outcome = "bad_usage" if bad else "failed"
        message = f"The {params.job_type} notebook failed in {cell}: {detail}"
        if job_id and not bad:
            message += f" — job {job_id[:8]} is left resumable (run again with job_id='{job_id}')."
    else:
        outcome = data.get("outcome", "failed")
        message = data.get("message") or "The notebook wrote no summary."
        if data.get("resume_hint"):
            message += f"\n{data['resume_hint']}"
    if record_path and job_id:
        ws = toolkit.connect(params.db)
        try:
            _set_record_path(ws, data.get("session_id"), job_id, started, record)
        finally:
            ws.close()
    return RunResult(job_id, outcome, exit_code(outcome, data.get("status")), record_path, message)


__all__ = [
    "EXIT_AUTO_PAUSED", "EXIT_BAD_USAGE", "EXIT_COMPLETED", "EXIT_FAILED", "EXIT_NO_PROCESSOR",
    "EXIT_PAUSED", "NotebookParams", "RunResult", "check_parameters", "ensure_kernel", "exit_code",
    "notebook_path", "open_job", "run_headless", "run_notebook_session", "show_failures",
]  # fmt: skip
