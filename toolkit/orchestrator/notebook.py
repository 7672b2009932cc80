"""Sessions in a notebook kernel: papermill runs a job type's notebook headless.

:func:`run_headless` executes the notebook that ships in the package on a kernel
of this Python environment, keeps the executed notebook as the session's record
under ``runs/<job_type>/``, puts its path in the ``sessions`` row, and returns one
:class:`~toolkit.orchestrator.RunResult` per session.

How a notebook tells the runner its outcome: the runner passes the
``summary_path`` parameter; the notebook writes its session's result there as
JSON (``RunResult.to_dict()``), kept beside the record as ``<record>.json``. A
notebook that raised (or whose kernel died) writes nothing; the runner then reads
the executed notebook to name the cell and the error.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import sys
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from toolkit import config
from toolkit.exceptions import ValidationError
from toolkit.orchestrator import RunResult, SessionRequest, check_request, exit_code, text_param

if TYPE_CHECKING:
    from toolkit.workspace import Workspace

KERNEL_NAME = "taxsale-toolkit"
# cell ids in the shipped notebooks (see scripts/make_notebooks.py); messages name them
CELL_NAMES = {
    "parameters": "parameters",
    "injected-parameters": "injected parameters",
    "check-parameters": "check parameters",
    "run-session": "run the session",
}


def notebook_path(job_type: str) -> Path:
    """The shipped notebook of a job type (``notebooks/<job_type>.ipynb``)."""
    from toolkit.jobs import get_job_type

    name = get_job_type(job_type).name
    path = config.notebooks_dir() / f"{name}.ipynb"
    if not path.is_file():
        raise ValidationError(
            f"No notebook for {name} at {path}; it ships with the package (reinstall "
            "taxsale-toolkit), or in a checkout regenerate them with "
            "`python scripts/make_notebooks.py`."
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
    started = [
        (i, c)
        for i, c in enumerate(nb.cells)
        if c.cell_type == "code" and c.get("metadata", {}).get("papermill", {}).get("start_time")
    ]
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


def _set_record_path(
    ws: Workspace, session_id: str | None, job_id: str | None, started: dt.datetime, record: Path
) -> None:
    if session_id:
        ws.query("session_set_record_path", [str(record), session_id])
    elif job_id:
        # the notebook died before it could say which session: the newest one since we began
        ws.query("session_set_record_path_latest", [str(record), job_id, started])


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
    ws: Workspace | None = None,
    request: SessionRequest | None = None,
    surface: str = "python",
    on_start: Callable[[SessionRequest], None] | None = None,
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
    ws
        The workspace, already open (the command line's): checked and recorded through it.
    request
        Parameters already checked (:func:`~toolkit.orchestrator.check_request`): the
        arguments above that it holds are not checked again.
    surface
        Who reads the messages: "python" (``job_id='…'``) or "cli" (``toolkit run … --job``).
    on_start
        Called with each session's parameters just before its notebook starts (a live
        display watches the job from here; ``job_id`` None: the notebook opens or starts one).

    Returns one :class:`RunResult` per session. Bad arguments raise
    :class:`~toolkit.exceptions.ValidationError` before anything runs.

    Examples
    --------
    >>> from toolkit.orchestrator.notebook import run_headless
    >>> runs = run_headless("regrid_scraping", db="ws.duckdb", batches=2)  # doctest: +SKIP
    >>> [r.exit_code for r in runs]  # doctest: +SKIP
    [10]
    """
    import papermill as pm

    import toolkit

    if not isinstance(until_done, bool):
        raise ValidationError(f"until_done={until_done!r} must be True or False.")
    db_url = ws.url if ws is not None else str(db) if db is not None else config.default_db_url()
    if db_url in (":memory:", ""):
        raise ValidationError(
            "db=':memory:' cannot be shared with a notebook kernel (another process); "
            "give a file path."
        )
    if "://" not in db_url:
        db_url = str(Path(db_url).expanduser().resolve())
    own = ws is None
    w = toolkit.connect(db_url) if ws is None else ws
    try:
        req = request or check_request(
            job_type,
            county=county,
            batch_size=batch_size,
            job_id=job_id,
            max_batches=batches,
            max_minutes=minutes,
            interactive=False,
            strategy=strategy,
            ws=w,
        )
        # the processor is imported in the kernel (its PYTHONPATH), not here
        req = replace(
            req,
            db=db_url,
            processor=text_param("processor", processor, "'module:function' or a name"),
        )
        source = notebook_path(req.job_type)
        kernel, manager = ensure_kernel()
        out_dir = Path(runs_dir) if runs_dir is not None else default_runs_dir(db_url)
        out_dir = out_dir / req.job_type
        out_dir.mkdir(parents=True, exist_ok=True)
        results: list[RunResult] = []
        current = req
        while True:
            if on_start is not None:
                on_start(current)
            result = _one_run(pm, w, source, current, kernel, manager, out_dir, timeout, surface)
            results.append(result)
            if progress is not None:
                progress(result)
            if not until_done or result.outcome != "budget" or result.job_id is None:
                return results
            current = replace(current, job_id=result.job_id)
    finally:
        if own:
            w.close()


ATOMIC = "toolkit-atomic://"


class _AtomicFiles:
    """papermill I/O for local files whose every write is atomic (a temp file, then a
    rename): a run killed mid-write leaves the last whole notebook, never a truncated one."""

    @staticmethod
    def read(path: str) -> str:
        return Path(path.removeprefix(ATOMIC)).read_text(encoding="utf-8")

    @staticmethod
    def write(buf: str, path: str) -> None:
        real = Path(path.removeprefix(ATOMIC))
        tmp = real.with_name(f".{real.name}.{os.getpid()}.tmp")
        tmp.write_text(buf, encoding="utf-8")
        os.replace(tmp, real)

    @staticmethod
    def listdir(path: str) -> list[str]:
        return os.listdir(path.removeprefix(ATOMIC))

    @staticmethod
    def pretty_path(path: str) -> str:
        return path.removeprefix(ATOMIC)


def _atomic_io() -> None:
    from papermill.iorw import papermill_io

    if not any(scheme == ATOMIC for scheme, _ in papermill_io._handlers):
        papermill_io.register(ATOMIC, _AtomicFiles)


def keep_killed_runs(out_dir: Path) -> list[Path]:
    """Records of runs whose runner died (``<stamp>-<pid>.running.*`` with that pid gone),
    renamed ``….killed.*`` so they are kept and never taken for a live run."""
    from toolkit.backends.workers import pid_alive

    kept = []
    for f in sorted(out_dir.glob("*.running.*")):
        stem = f.name.split(".running.", 1)[0]
        pid = stem.rsplit("-", 1)[-1]
        if pid.isdigit() and int(pid) != os.getpid() and not pid_alive(int(pid)):
            target = f.with_name(f.name.replace(".running.", ".killed.", 1))
            f.replace(target)
            kept.append(target)
    return kept


def _one_run(
    pm: Any,
    ws: Workspace,
    source: Path,
    params: SessionRequest,
    kernel: str,
    manager: type,
    out_dir: Path,
    timeout: float | None,
    surface: str = "python",
) -> RunResult:
    started = dt.datetime.now(dt.UTC).replace(tzinfo=None)  # the store keeps naive UTC
    stamp = _utc_stamp()
    keep_killed_runs(out_dir)
    _atomic_io()
    pending = out_dir / f"{stamp}-{os.getpid()}.running.ipynb"
    summary_file = pending.with_suffix(".json")
    nb_params = {
        "db": params.db,
        "county": params.county,
        "batch_size": params.batch_size,
        "job_id": params.job_id,
        "max_batches": params.max_batches,
        "max_minutes": params.max_minutes,
        "interactive": False,
        "processor": params.processor,
        "strategy": params.strategy,
        "summary_path": str(summary_file),
    }
    error: BaseException | None = None
    absolute_path_settings()
    try:
        pm.execute_notebook(
            str(source),
            ATOMIC + str(pending),
            parameters=nb_params,
            kernel_name=kernel,
            kernel_manager_class=manager,
            progress_bar=False,
            log_output=False,
            cwd=str(source.parent),
            execution_timeout=timeout,
        )
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
        if job_id and not bad and surface == "cli":
            message += (
                f" — job {job_id[:8]} is left resumable; run it again: "
                f"toolkit run {params.job_type} --job {job_id[:8]}"
            )
        elif job_id and not bad:
            message += f" — job {job_id[:8]} is left resumable (run again with job_id='{job_id}')."
    else:
        outcome = data.get("outcome", "failed")
        message = data.get("message") or "The notebook wrote no summary."
    if record_path and job_id:
        _set_record_path(ws, data.get("session_id"), job_id, started, record)
    return RunResult(
        job_id=job_id,
        outcome=outcome,
        exit_code=exit_code(outcome),
        message=message,
        processed=int(data.get("processed") or 0),
        failed=int(data.get("failed") or 0),
        skipped=int(data.get("skipped") or 0),
        status=data.get("status"),
        record_path=record_path,
        session_id=data.get("session_id"),
        resume_hint=data.get("resume_hint") or "",
        failures=tuple(data.get("failures") or ()),
    )


#: Settings that name a file. The kernel runs in the notebooks' folder, so a path
#: relative to where the person typed the command would point nowhere there.
PATH_SETTINGS = ("TOOLKIT_ENV_SOURCES", "TOOLKIT_PROFILE", "TOOLKIT_COUNTY_RESEARCH")


def absolute_path_settings(environ: dict[str, str] | None = None) -> None:
    """Make relative file paths in :data:`PATH_SETTINGS` absolute (from this process's cwd).

    >>> env = {"TOOLKIT_PROFILE": "investor_profile.yaml", "TOOLKIT_ENV_SOURCES": "online"}
    >>> absolute_path_settings(env)
    >>> Path(env["TOOLKIT_PROFILE"]).is_absolute(), env["TOOLKIT_ENV_SOURCES"]
    (True, 'online')
    """
    env = os.environ if environ is None else environ
    for name in PATH_SETTINGS:
        value = env.get(name, "").strip()
        if value and value not in ("online", "sample") and not Path(value).is_absolute():
            env[name] = str(Path(value).resolve())
