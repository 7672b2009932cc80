"""The control panel and the item form: ipywidgets over the workspace API.

The panel never holds a database connection while it waits for a click: it
only calls :class:`~toolkit.workspace.Workspace` methods, which open and close
their own. A session runs in a background thread, so Pause is answered while
a batch is running (the session stops at its next item and checkpoints).
"""

from __future__ import annotations

import html
import math
import threading
import time
import warnings
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from toolkit.exceptions import ItemSkipped, ToolkitError

if TYPE_CHECKING:
    from toolkit.orchestrator import RunResult, SessionRequest
    from toolkit.workspace import Workspace

STRATEGIES = [
    ("One county at a time", "county"),
    ("Round-robin across counties", "round_robin"),
    ("Nearest auction first", "auction_date"),
]
GUIDE_MAX_BATCH = 100
BUDGET_WARN_SHARE = 0.8  # warn when this share of the session budget is used
UPDATE_EVERY = 0.1  # seconds between widget refreshes while a batch runs
ALL = "__all__"
PAUSE_REASON = "paused from the control panel"


def format_eta(seconds: float | None) -> str:
    """A short ETA: ``45 s``, ``4 min``, ``2.5 h`` ('' when unknown).

    >>> format_eta(230), format_eta(12), format_eta(9000)
    ('4 min', '12 s', '2.5 h')
    """
    if seconds is None or not math.isfinite(seconds) or seconds < 0:
        return ""
    if seconds < 60:
        return f"{max(1, round(seconds))} s"
    if seconds < 90 * 60:
        return f"{math.ceil(seconds / 60)} min"
    return f"{seconds / 3600:.1f} h"


def status_line(
    *,
    finished: int,
    total: int,
    failed: int,
    batch_size: int,
    eta_seconds: float | None = None,
    batch: int | None = None,
    batches: int | None = None,
    running: bool = True,
) -> str:
    """The panel's status line, numbered as the engine (and the CLI) number batches.

    ``batch`` / ``batches`` are the engine's ``current_batch`` / ``total_batches``
    (computed from the counts when not given). The ETA is shown only while a
    session runs.

    >>> status_line(finished=87, total=235, failed=3, batch_size=50, eta_seconds=230, batch=2,
    ...             batches=5)
    'Batch 2 of 5 · 87/235 (37%) · 3 failed · ETA 4 min'
    >>> status_line(finished=100, total=235, failed=0, batch_size=50, eta_seconds=230, batch=2,
    ...             batches=5, running=False)
    'Batch 2 of 5 · 100/235 (43%) · 0 failed'
    """
    if batches is None:
        batches = math.ceil(total / batch_size) if total else 0
    if batch is None:
        batch = min(batches, math.ceil(finished / batch_size)) if batches else 0
    pct = round(100 * finished / total) if total else 100
    parts = [f"Batch {batch} of {batches}", f"{finished}/{total} ({pct}%)", f"{failed} failed"]
    eta = format_eta(eta_seconds)
    if running and eta and finished < total:
        parts.append(f"ETA {eta}")
    return " · ".join(parts)


def one_sentence(text: str) -> str:
    """A message ending in exactly one period (messages are joined from parts).

    >>> one_sentence("Paused at 50/235.. Resume with: toolkit resume 861dbf8b.")
    'Paused at 50/235. Resume with: toolkit resume 861dbf8b.'
    """
    import re

    text = re.sub(r"\.(\s*\.)+", ".", text.strip())
    return text if text.endswith((".", "!", "?", ")")) else text + "."


def _error_text(exc: BaseException) -> str:
    # the same text the session stores for the item
    if isinstance(exc, ToolkitError):
        return str(exc)
    return f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__


def _connect(db: str | Workspace | None) -> Workspace:
    import toolkit
    from toolkit.workspace import Workspace

    if isinstance(db, Workspace):
        return db  # a page opened from another page shares its workspace
    return toolkit.connect(db)


def _finished(st: dict[str, Any]) -> int:
    return int(st["processed_items"] + st["failed_items"] + st["skipped_items"])


class ControlPanel:
    """Start, resume and pause one job type's batches from a notebook.

    Parameters
    ----------
    job_type
        One of the registered job types (``regrid_scraping`` …).
    db
        The workspace (default ``$TOOLKIT_DB`` / ``data/toolkit.duckdb``).
    county, batch_size, strategy
        Initial choices (default: all counties, the guide's batch size, by county).
    max_batches, max_minutes
        The session budget (default: the guide's per-session figure in batches).
    processor
        A callable, ``"module:function"``, a registered name, or None for the type's own.

    Examples
    --------
    >>> from toolkit.notebook import ControlPanel
    >>> panel = ControlPanel("regrid_scraping", ":memory:")
    >>> panel.batch_size.value
    50
    >>> panel.widget  # doctest: +SKIP
    """

    def __init__(
        self,
        job_type: str,
        db: str | None = None,
        *,
        county: str | int | None = None,
        batch_size: int | None = None,
        strategy: str = "county",
        max_batches: int | None = None,
        max_minutes: float | None = None,
        processor: Callable[..., Any] | str | None = None,
    ) -> None:
        import ipywidgets as w

        from toolkit.jobs import get_job_type
        from toolkit.jobs.rules import normalise_strategy

        self.job_type = get_job_type(job_type)
        self.ws = _connect(db)
        self._processor_spec = processor
        self.job_id: str | None = None
        self.summary: RunResult | None = None
        self.error: BaseException | None = None
        self.failures: list[dict[str, str]] = []
        self._thread: threading.Thread | None = None
        self._stop = threading.Event()
        self._pause_clicked = False
        self._base: dict[str, Any] = {}
        self._started = 0.0
        self._last_update = 0.0
        self._extra_warnings: list[str] = []
        self._lock = threading.Lock()

        jt = self.job_type
        size = batch_size or jt.batch_size
        self.title = w.HTML(
            f"<b>{html.escape(jt.name)}</b> — {html.escape(jt.description)} "
            f"(guide: batches of {jt.batch_size}, ~{jt.per_session} {jt.noun} per session)"
        )
        self.county = w.Dropdown(description="County", options=[("All counties", ALL)], value=ALL)
        self.batch_size = w.BoundedIntText(value=size, min=1, max=10_000, description="Batch size")
        self.strategy = w.Dropdown(
            description="Strategy", options=STRATEGIES, value=normalise_strategy(strategy)
        )
        self.budget_batches = w.BoundedIntText(
            value=max_batches or self._default_batches(size),
            min=1,
            max=100_000,
            description="Batches",
        )
        self.budget_minutes = w.BoundedFloatText(
            value=max_minutes or 0.0,
            min=0.0,
            max=10_000.0,
            description="Minutes (0 = no limit)",
            style={"description_width": "initial"},
        )
        self.budget = w.HTML()
        self.start_button = w.Button(description="Start", button_style="success", icon="play")
        self.resume_jobs = w.Dropdown(description="Paused", options=[])
        self.resume_button = w.Button(description="Resume", button_style="info", icon="redo")
        self.pause_button = w.Button(
            description="Pause", button_style="warning", icon="pause", disabled=True
        )
        self.refresh_button = w.Button(description="Refresh", icon="sync")
        self.force_button = w.Button(
            description="Force new job",
            icon="plus-circle",
            tooltip="start a new job although one is active here",
            disabled=True,
        )
        self.cancel_button = w.Button(
            description="Cancel job",
            button_style="danger",
            icon="times",
            tooltip="cancel the selected paused job",
        )
        self.retry_button = w.Button(
            description="Retry failed",
            icon="undo",
            tooltip="put the selected job's failed items back",
        )
        self.progress = w.IntProgress(
            value=0, min=0, max=1, description="Progress", bar_style="info"
        )
        self.status = w.Label(value="No session running.")
        self.warnings = w.HTML()
        self.message = w.HTML()
        self.failure_list = w.HTML()

        # stable hooks for styling and for the browser test
        for widget, name in (
            (self.status, "status"),
            (self.progress, "progress"),
            (self.message, "message"),
            (self.warnings, "warnings"),
            (self.failure_list, "failures"),
        ):
            widget.add_class(f"toolkit-{name}")
        self.start_button.on_click(lambda _: self.start())
        self.resume_button.on_click(lambda _: self.resume())
        self.pause_button.on_click(lambda _: self.pause())
        self.refresh_button.on_click(lambda _: self.refresh())
        self.force_button.on_click(lambda _: self.start(force=True))
        self.cancel_button.on_click(lambda _: self.cancel())
        self.retry_button.on_click(lambda _: self.retry_failed())
        self.batch_size.observe(self._on_batch_size, names="value")
        self.budget_batches.observe(lambda _: self._show_budget(), names="value")

        self.widget = w.VBox(
            [
                self.title,
                w.HBox([self.county, self.batch_size, self.strategy]),
                w.HBox([w.HTML("<b>Session budget</b>"), self.budget_batches, self.budget_minutes]),
                self.budget,
                w.HBox(
                    [
                        self.start_button,
                        self.resume_jobs,
                        self.resume_button,
                        self.pause_button,
                        self.refresh_button,
                    ]
                ),
                w.HBox([self.force_button, self.cancel_button, self.retry_button]),
                self.progress,
                self.status,
                self.warnings,
                self.message,
                self.failure_list,
            ]
        )
        self.refresh()
        if county is not None:
            cid = self.ws.county_id(county)
            values = [v for _, v in self.county.options]
            if cid not in values:
                name = self.ws.county_name(cid) if cid is not None else str(county)
                self.county.options = [*self.county.options, (f"{name} (nothing pending)", cid)]
            self.county.value = cid

    @classmethod
    def from_params(cls, params: SessionRequest) -> ControlPanel:
        """A panel from a job notebook's checked parameters (a given job_id is preselected)."""
        panel = cls(
            params.job_type,
            params.db,
            county=params.county_id,
            batch_size=params.batch_size,
            strategy=params.strategy,
            max_batches=params.max_batches,
            max_minutes=params.max_minutes,
            processor=params.processor,
        )
        ids = [v for _, v in panel.resume_jobs.options]
        if params.job_id in ids:
            panel.resume_jobs.value = params.job_id
        return panel

    # -- display -----------------------------------------------------------------

    def _ipython_display_(self) -> None:
        from IPython.display import display

        display(self.widget)

    def _default_batches(self, size: int) -> int:
        return max(1, round(self.job_type.per_session / size))

    def _on_batch_size(self, change: dict[str, Any]) -> None:
        self.budget_batches.value = self._default_batches(max(1, int(change["new"])))
        self._show_warnings()

    def _show_budget(self, used: int | None = None) -> None:
        items = self.budget_batches.value * self.batch_size.value
        text = (
            f"Session budget: {self.budget_batches.value} batch(es) of {self.batch_size.value} "
            f"(~{items} {self.job_type.noun})"
        )
        if self.budget_minutes.value:
            text += f" or {self.budget_minutes.value:g} min"
        if used is not None:
            text += f" · used {used}"
        self.budget.value = html.escape(text)

    def _budget_items(self) -> int:
        size = int(self._base.get("batch_size") or self.batch_size.value)
        return self.budget_batches.value * size

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def processor(self) -> Callable[..., Any] | None:
        """The processor a session will use, wrapped to list failures live (None: there is none)."""
        from toolkit.orchestrator import resolve_processor
        from toolkit.processors import get_processor, has_processor

        spec = self._processor_spec
        if isinstance(spec, str):
            spec = resolve_processor(spec)
        if spec is None:
            if not has_processor(self.job_type.name):
                return None
            spec = self.job_type.name
        proc = get_processor(spec, self.ws.processor_context()) if isinstance(spec, str) else spec
        return self._watch(proc)

    def _watch(self, proc: Callable[..., Any]) -> Callable[..., Any]:
        panel = self

        def record(item_id: object, exc: BaseException) -> None:
            if not isinstance(exc, ItemSkipped):
                with panel._lock:
                    panel.failures.append({"item_id": str(item_id), "error": _error_text(exc)})

        if getattr(proc, "batch", False):

            def batch(frame: Any) -> Any:
                results = proc(frame)
                if isinstance(results, list | tuple):
                    for item_id, res in zip(frame["item_id"], results, strict=False):
                        if isinstance(res, BaseException):
                            record(item_id, res)
                return results

            batch.batch = True  # type: ignore[attr-defined]
            return batch

        def one(item: dict[str, Any]) -> Any:
            try:
                return proc(item)
            except Exception as exc:
                record(item.get("item_id"), exc)
                raise

        return one

    def refresh(self) -> None:
        """Reload counties with pending work, the paused jobs and the warnings."""
        from toolkit.orchestrator import paused_jobs, pending_by_county, pending_count

        counties = pending_by_county(self.ws, self.job_type.name)
        total = pending_count(self.ws, self.job_type.name)
        options: list[tuple[str, Any]] = [(f"All counties ({total} pending)", ALL)]
        options += [(f"{name} ({n})", cid) for name, cid, n in counties]
        current = self.county.value
        self.county.options = options
        self.county.value = current if current in [v for _, v in options] else ALL
        self._resumable = paused_jobs(self.ws, self.job_type.name)
        keep = self.resume_jobs.value
        self.resume_jobs.options = [(self._job_label(j), str(j["job_id"])) for j in self._resumable]
        ids = [str(j["job_id"]) for j in self._resumable]
        if self.job_id in ids and not self.running:
            keep = self.job_id  # the job that just stopped: Resume continues it
        self.resume_jobs.value = keep if keep in ids else (ids[0] if ids else None)
        self.resume_button.disabled = self.running or not self._resumable
        self.cancel_button.disabled = self.running or not self._resumable
        self.retry_button.disabled = self.running or not (self._resumable or self.job_id)
        self.start_button.disabled = self.running
        if not self.running:
            self.force_button.disabled = not getattr(self, "_blocked", False)
        self._show_budget()
        self._show_warnings()

    @staticmethod
    def _job_label(j: dict[str, Any]) -> str:
        finished = int(j["processed_items"] + j["failed_items"] + j["skipped_items"])
        where = j["county"] if isinstance(j["county"], str) else "all counties"
        reason = f" · {j['pause_reason']}" if isinstance(j.get("pause_reason"), str) else ""
        return f"{str(j['job_id'])[:8]} · {where} · {finished}/{j['total_items']}{reason}"

    def _show_warnings(self, used: int | None = None) -> None:
        notes = list(self._extra_warnings)
        try:
            active = self.ws.active_jobs() if not self.running else None
        except ToolkitError:
            active = None  # the file is busy; keep the last list
        if active is not None:
            others = active[active.job_id.astype(str) != (self.job_id or "")]
            self._others = [
                f"{r.job_type} {str(r.job_id)[:8]} ({r.status}, "
                f"{int(r.processed_items + r.failed_items + r.skipped_items)}/{r.total_items})"
                for r in others.itertuples()
            ]
        if getattr(self, "_others", None):
            notes.append(
                "Other active jobs: "
                + "; ".join(self._others)
                + ". The guide: finish old jobs before starting new ones."
            )
        if self.batch_size.value > GUIDE_MAX_BATCH:
            notes.append(
                f"Batch size {self.batch_size.value} is over the guide's limit "
                f"of {GUIDE_MAX_BATCH}."
            )
        if used is not None and used >= BUDGET_WARN_SHARE * self._budget_items():
            notes.append(
                f"Session budget nearly used ({used}/{self._budget_items()} {self.job_type.noun}): "
                "the session will pause at its budget; resume it next session."
            )
        if self.processor_missing():
            notes.append(
                f"No processor for {self.job_type.name} yet: Start and Resume cannot run batches."
                + (" Use the item form to work items by hand." if self._manual() else "")
            )
        self.warnings.value = "".join(f"<div>⚠ {html.escape(n)}</div>" for n in notes)

    def _manual(self) -> bool:
        from toolkit.orchestrator import MANUAL_TYPES

        return self.job_type.name in MANUAL_TYPES

    def processor_missing(self) -> bool:
        from toolkit.processors import has_processor

        return self._processor_spec is None and not has_processor(self.job_type.name)

    def _show_failures(self) -> None:
        with self._lock:
            rows = list(self.failures)
        if not rows:
            self.failure_list.value = ""
            return
        shown = rows[-50:]
        items = "".join(
            f"<li><code>{html.escape(r['item_id'])}</code>: {html.escape(r['error'])}</li>"
            for r in shown
        )
        more = f" (last {len(shown)})" if len(rows) > len(shown) else ""
        self.failure_list.value = f"<b>Failures this session: {len(rows)}{more}</b><ul>{items}</ul>"

    # -- actions -------------------------------------------------------------------

    def start(self, force: bool = False) -> str | None:
        """Create a job from the current choices and run a session; returns its id.

        When a job of this type is already active for the county, nothing starts: the
        message says so and offers Resume, Cancel and **Force new job** (``force=True``).
        """
        if self.running:
            return None
        from toolkit.exceptions import ActiveJobExistsError
        from toolkit.workspace import ActiveJobsWarning, BatchSizeWarning

        proc = self._processor_or_say()
        if proc is None:
            return None
        county = None if self.county.value == ALL else self.county.value
        self._extra_warnings = []
        try:
            with warnings.catch_warnings(record=True) as caught:
                warnings.simplefilter("always")
                job = self.ws.create_batch_job(
                    self.job_type.name,
                    county,
                    self.batch_size.value,
                    strategy=self.strategy.value,
                    force=force,
                )
        except ActiveJobExistsError as exc:
            self._blocked = True
            self.force_button.disabled = False
            self.refresh()
            active = str(exc).split(": ", 1)[-1].split(". ", 1)[0]
            self._say(
                f"Not started: a {self.job_type.name} job is already active here ({active}). "
                "Resume it (select it under Paused), Cancel it, or press Force new job to "
                "start another anyway.",
                error=True,
            )
            return None
        except ToolkitError as exc:
            self._say(f"Could not start: {exc}", error=True)
            return None
        self._blocked = False
        self.force_button.disabled = True
        self._extra_warnings = [
            str(c.message)
            for c in caught
            if issubclass(c.category, BatchSizeWarning | ActiveJobsWarning)
            and not str(c.message).startswith("Other active jobs")  # listed below already
        ]
        st = self.ws.get_batch_status(job)
        if st["status"] == "completed":
            self.job_id = job
            self._say(
                f"Nothing pending for {self.job_type.name} there: job {job[:8]} has no items."
            )
            self.refresh()
            return job
        self._launch(job, proc)
        return job

    def resume(self, job_id: str | None = None) -> str | None:
        """Resume the chosen paused job (default: the one selected) and run a session."""
        if self.running:
            return None
        job = job_id or self.resume_jobs.value
        if not job:
            self._say("No paused job to resume.")
            return None
        proc = self._processor_or_say()
        if proc is None:
            return None
        try:
            job = self.ws.resume_batch_job(job)
        except ToolkitError as exc:
            self._say(f"Could not resume: {exc}", error=True)
            return None
        self._launch(job, proc)
        return job

    def _selected(self) -> str | None:
        return self.resume_jobs.value or self.job_id

    def cancel(self, job_id: str | None = None) -> str | None:
        """Cancel the selected paused job (its finished items stay finished)."""
        if self.running:
            self._say("Pause the running session first.", error=True)
            return None
        job = job_id or self.resume_jobs.value
        if not job:
            self._say("No paused job to cancel.")
            return None
        try:
            self.ws.cancel_batch_job(job)
        except ToolkitError as exc:
            self._say(f"Could not cancel: {exc}", error=True)
            return None
        self._blocked = False
        self.refresh()
        self._say(f"Cancelled job {job[:8]}; its finished items keep their results.")
        return job

    def retry_failed(self, job_id: str | None = None) -> int | None:
        """Put the selected job's failed items back to pending; Resume then works them."""
        if self.running:
            self._say("Pause the running session first.", error=True)
            return None
        job = job_id or self._selected()
        if not job:
            self._say("No job selected.")
            return None
        try:
            n = self.ws.retry_failed_items(job)
        except ToolkitError as exc:
            self._say(f"Could not retry: {exc}", error=True)
            return None
        self.job_id = job
        self.refresh()
        self._say(f"{n} failed item(s) of job {job[:8]} are pending again; press Resume.")
        return n

    def pause(self) -> None:
        """Pause the running session's job: it stops at the next item and checkpoints."""
        if not self.running or self.job_id is None:
            self._say("No session is running.")
            return
        # Only the event here: the session thread marks the job paused once the session
        # has checkpointed (see _run). A pause_batch_job from this thread while the
        # session thread writes the same row could be lost (seen with DuckDB in-process).
        self._pause_clicked = True
        self._stop.set()
        self.status.value = "Pausing at the next item…"

    def wait(self, timeout: float | None = None) -> RunResult | None:
        """Block until the running session ends (for scripts and tests); returns its summary."""
        if self._thread is not None:
            self._thread.join(timeout)
        return self.summary

    # -- the session thread -----------------------------------------------------

    def _processor_or_say(self) -> Callable[..., Any] | None:
        try:
            proc = self.processor()
        except ToolkitError as exc:
            self._say(str(exc), error=True)
            return None
        if proc is None:
            hint = " Use the item form below to work items by hand." if self._manual() else ""
            self._say(f"No processor for {self.job_type.name} yet; nothing was started.{hint}")
        return proc

    def _say(self, text: str, *, error: bool = False) -> None:
        from toolkit.notebook.view import error_html

        text = one_sentence(text)
        self.message.value = error_html(text) if error else f"<div>{html.escape(text)}</div>"

    def _launch(self, job: str, proc: Callable[..., Any]) -> None:
        self.job_id = job
        self.summary, self.error = None, None
        with self._lock:
            self.failures = []
        self._pause_clicked = False
        self._stop = threading.Event()
        self._base = self.ws.get_batch_status(job)
        size = int(self._base["batch_size"])
        self._base["_partial"] = bool(_finished(self._base) % size) and bool(
            self._base.get("current_batch")
        )
        self._started = time.monotonic()
        self._show_warnings()
        self._render(self._base_progress())
        self.start_button.disabled = self.resume_button.disabled = True
        self.pause_button.disabled = False
        self._say(f"Running {self.job_type.name} job {job[:8]}…")
        minutes = self.budget_minutes.value or None
        self._thread = threading.Thread(
            target=self._run,
            args=(job, proc, self.budget_batches.value, minutes),
            name=f"toolkit-session-{job[:8]}",
            daemon=True,
        )
        self._thread.start()

    def _base_progress(self) -> dict[str, Any]:
        return {
            "session_processed": 0,
            "session_failed": 0,
            "session_skipped": 0,
            "session_batches": 0,
        }

    def _run(self, job: str, proc: Callable[..., Any], batches: int, minutes: float | None) -> None:
        try:
            from toolkit.orchestrator import run_job_session

            # a person's Pause stops the session at its next item, and then pauses the job
            self.summary = run_job_session(
                self.ws,
                job,
                proc,
                max_batches=batches,
                max_seconds=minutes * 60 if minutes else None,
                on_progress=self._on_progress,
                stop=self._stop,
                pause_reason=PAUSE_REASON,
            )
        except Exception as exc:  # shown in the panel; the job stays resumable
            self.error = exc
        finally:
            self._done()

    def _on_progress(self, p: dict[str, Any]) -> None:
        now = time.monotonic()
        if now - self._last_update < UPDATE_EVERY and p["session_batches"] == self._base.get("_b"):
            return
        self._last_update = now
        self._base["_b"] = p["session_batches"]
        self._render(p)

    def _render(self, p: dict[str, Any]) -> None:
        b = self._base
        session = p["session_processed"] + p["session_failed"] + p["session_skipped"]
        finished = _finished(b) + session
        total = int(b["total_items"])
        failed = int(b["failed_items"]) + p["session_failed"]
        elapsed = time.monotonic() - self._started
        eta = (total - finished) * elapsed / session if session else b.get("eta_seconds")
        self.progress.max = max(1, total)
        self.progress.value = min(finished, total)
        batches = int(b.get("total_batches") or 0) or None
        batch = None
        if batches is not None:
            # the engine numbers a batch when it is claimed: the base's number + this session's
            batch = min(batches, int(b.get("current_batch") or 0) + int(p["session_batches"]))
            if p["session_batches"] and b.get("_partial"):
                batch -= 1  # the first claim finished the base's partly done batch
        self.status.value = status_line(
            finished=finished,
            total=total,
            failed=failed,
            batch_size=int(b["batch_size"]),
            eta_seconds=eta,
            batch=batch,
            batches=batches,
        )
        self._show_budget(used=session)
        if session >= BUDGET_WARN_SHARE * self._budget_items() or p["session_failed"]:
            self._show_warnings(used=session)
        self._show_failures()

    def _done(self) -> None:
        summary, error = self.summary, self.error
        try:
            st = self.ws.get_batch_status(self.job_id) if self.job_id else None
        except ToolkitError:
            st = None
        if summary is not None:
            with self._lock:
                self.failures = list(summary.failures)
        if st is not None:
            self._base = dict(st)
            self.progress.max = max(1, int(st["total_items"]))
            self.progress.value = min(_finished(st), int(st["total_items"]))
            self.status.value = status_line(
                finished=_finished(st),
                total=int(st["total_items"]),
                failed=int(st["failed_items"]),
                batch_size=int(st["batch_size"]),
                batch=st.get("current_batch"),
                batches=st.get("total_batches"),
                running=False,
            )
            self.progress.bar_style = {"completed": "success", "paused": "warning"}.get(
                st["status"], "info"
            )
        if error is not None:
            self._say(
                f"The session stopped with an error: {_error_text(error)}. "
                f"Job {(self.job_id or '')[:8]} keeps its progress; fix the cause and Resume.",
                error=True,
            )
        elif summary is not None:
            text = summary.message
            stopped_badly = summary.outcome == "auto_paused"
            if summary.outcome == "paused" and not self._pause_clicked:
                why = (st or {}).get("pause_reason") or "by another session"
                text = f"Paused elsewhere ({why}). {text}"
            if summary.resume_hint:
                text = f"{text.rstrip().rstrip('.')}. {summary.resume_hint}"
            self._say(text, error=stopped_badly)
        self.pause_button.disabled = True
        self._thread_done_refresh()

    def _thread_done_refresh(self) -> None:
        # the thread is still alive while we are in it: refresh as if it were not
        thread, self._thread = self._thread, None
        try:
            self.refresh()
        except ToolkitError:
            pass
        finally:
            self._thread = thread
            self.start_button.disabled = False
            self.resume_button.disabled = not self._resumable
        self._show_failures()


class ItemForm:
    """Work one item at a time by hand: its context, a done/failed choice and a note.

    For the research types a person does (``title_research``, ``county_research``,
    ``property_condition``). Items are claimed with ``get_next_batch`` and each
    Save records one outcome with ``update_batch_progress`` at once.

    Parameters
    ----------
    save_result
        ``save_result(ws, job_id, item, values)`` records a *done* item's result
        row and marks it done (one transaction). ``values`` is :meth:`values`
        (the note, plus a subclass's fields). Default: mark it done with
        ``update_batch_progress``; the note is kept in the form's log only.

    A per-type form (:mod:`toolkit.notebook.forms`) puts its inputs in
    ``self.fields`` and overrides :meth:`describe`, :meth:`show_item` and
    :meth:`values`; a :class:`~toolkit.exceptions.ToolkitError` raised by
    ``values`` or ``save_result`` is shown in the form and nothing is saved.

    Examples
    --------
    >>> from toolkit.notebook import ItemForm
    >>> form = ItemForm("county_research", ":memory:")
    >>> form.begin()
    'Nothing pending for county_research in all counties.'
    """

    def __init__(
        self,
        job_type: str,
        db: str | None = None,
        *,
        job_id: str | None = None,
        county: str | int | None = None,
        batch_size: int | None = None,
        save_result: Callable[[Workspace, str, dict[str, Any], dict[str, Any]], Any] | None = None,
    ) -> None:
        import ipywidgets as w

        from toolkit.jobs import get_job_type

        self.job_type = get_job_type(job_type)
        self.ws = _connect(db)
        self.job_id = job_id
        self._county = county
        self._batch_size = batch_size
        self.save_result = save_result
        self.queue: list[dict[str, Any]] = []
        self.item: dict[str, Any] | None = None
        self.log: list[dict[str, Any]] = []
        self.claimed = False  # is the shown item claimed (work started) or only shown
        self._marked: list[Any] = []

        self.header = w.HTML(f"<b>{html.escape(self.job_type.name)}: one item at a time</b>")
        self.begin_button = w.Button(description="Begin", button_style="success", icon="play")
        self.context = w.HTML()
        self.fields = w.VBox([])  # a per-type form's inputs
        self.outcome = w.ToggleButtons(
            options=[("Done", "done"), ("Failed", "failed")], value="done", description="Outcome"
        )
        self.note = w.Textarea(
            placeholder="What you found, sources, or why it failed",
            description="Note",
            layout={"width": "90%"},
        )
        self.save_button = w.Button(
            description="Save & next", button_style="primary", icon="save", disabled=True
        )
        self.message = w.HTML()
        self.begin_button.on_click(lambda _: self.begin())
        self.save_button.on_click(lambda _: self.save())
        self.widget = w.VBox(
            [
                self.header,
                self.begin_button,
                self.context,
                self.fields,
                self.outcome,
                self.note,
                self.save_button,
                self.message,
            ]
        )

    @classmethod
    def from_params(cls, params: SessionRequest) -> ItemForm:
        """A form from a job notebook's checked parameters."""
        return cls(
            params.job_type,
            params.db,
            job_id=params.job_id,
            county=params.county_id,
            batch_size=params.batch_size,
        )

    def _ipython_display_(self) -> None:
        from IPython.display import display

        display(self.widget)

    def begin(self) -> str:
        """Open (find, resume or create) the job and show its first item; returns a message."""
        from toolkit.orchestrator import SessionRequest, open_job

        try:
            if self.job_id is None:
                cid = self.ws.county_id(self._county) if self._county is not None else None
                params = SessionRequest(
                    job_type=self.job_type.name,
                    db=self.ws.url,
                    county_id=cid,
                    county=None if cid is None else self.ws.county_name(cid),
                    batch_size=self._batch_size,
                )
                job, note = open_job(self.ws, params)
            else:
                job, note = open_job(
                    self.ws,
                    SessionRequest(job_type=self.job_type.name, db=self.ws.url, job_id=self.job_id),
                )
        except ToolkitError as exc:
            return self._say(str(exc), error=True)
        if job is None:
            return self._say(note)
        self.job_id = job
        self.begin_button.disabled = True
        self._say(note)
        self._next()
        return note

    def _peek(self) -> dict[str, Any] | None:
        """The item a claim would hand out next, read without claiming it."""
        from toolkit.backends.workers import current_worker

        job, jt = self.job_id, self.job_type
        seqs = self.ws.query("notebook_next_item", [job, current_worker()])
        if seqs.empty:
            return None
        seq = int(seqs.seq.iloc[0])
        store, engine = self.ws.store, self.ws.engine
        frame = store.run(lambda con: engine.context(con, jt, str(job), [seq]), tx=False)
        return None if frame.empty else frame.to_dict("records")[0]

    def _next(self) -> None:
        # claimed items first (work has started); otherwise show the next one unclaimed:
        # Begin claims nothing, the first Save claims the batch
        if self.queue:
            self.claimed = True
            self._show(self.queue.pop(0))
            return
        try:
            item = self._peek() if self.job_id else None
        except ToolkitError as exc:
            self._say(str(exc), error=True)
            item = None
        self.claimed = False
        self._show(item)

    def _claim(self) -> bool:
        """Claim the batch holding the shown item (the first Save); False if someone took it."""
        assert self.item is not None and self.job_id is not None
        frame = self.ws.get_next_batch(self.job_id)
        rows = [] if frame is None else frame.to_dict("records")
        shown = str(self.item["item_id"])
        mine = [r for r in rows if str(r["item_id"]) == shown]
        self.queue = [r for r in rows if str(r["item_id"]) != shown]
        if not mine:
            return False
        self.item = mine[0]
        self.claimed = True
        return True

    def _show(self, item: dict[str, Any] | None) -> None:
        self.item = item
        self.save_button.disabled = item is None
        self.mark_field(None)
        if item is None:
            st = self.ws.get_batch_status(self.job_id) if self.job_id else None
            done = f" Job {st['status']}: {_finished(st)}/{st['total_items']}." if st else ""
            self.context.value = f"<i>No item to work on.{html.escape(done)}</i>"
            self.show_item(None)
            return
        self.context.value = self.describe(item)
        self.outcome.value = "done"
        self.note.value = ""
        self.show_item(item)

    def describe(self, item: dict[str, Any]) -> str:
        """The item's context as HTML (default: every column in a table)."""
        rows = "".join(
            f"<tr><th style='text-align:left'>{html.escape(str(k))}</th>"
            f"<td>{html.escape('' if v is None else str(v))}</td></tr>"
            for k, v in item.items()
        )
        return f"<table>{rows}</table>"

    def show_item(self, item: dict[str, Any] | None) -> None:
        """Reset a per-type form's inputs for the item now shown (None: no item). A hook."""

    def values(self) -> dict[str, Any]:
        """What Save passes to ``save_result`` (default: the note); may raise ValidationError."""
        return {"note": self.note.value}

    def field_widgets(self) -> dict[str, Any]:
        """The form's inputs by the field names its checks report (a hook)."""
        return {"note": self.note}

    def bad_field(self, exc: ToolkitError) -> Any:
        """The input an error is about (None: not one input)."""
        return self.field_widgets().get(getattr(exc, "field", None) or "")

    def mark_field(self, widget: Any) -> None:
        """Highlight one input as wrong (None: clear every highlight)."""
        for w in self._marked:
            w.remove_class("toolkit-bad-field")
            w.layout.border = None
        self._marked = []
        if widget is not None:
            widget.add_class("toolkit-bad-field")
            widget.layout.border = "2px solid #b00020"
            self._marked = [widget]

    def saved_text(self, item: dict[str, Any], outcome: str) -> str:
        """The confirmation after a Save: which item, and what was recorded (a hook)."""
        return f"Saved {self.label(item)} as {outcome}"

    @staticmethod
    def label(item: dict[str, Any]) -> str:
        """An item as a person names it: parcel and address (or county), never a UUID."""
        from toolkit.notebook.view import blank

        parcel, address = item.get("parcel_id"), item.get("parcel_address") or item.get("address")
        if not blank(parcel):
            where = ", ".join(str(x) for x in (address, item.get("municipality")) if not blank(x))
            return f"parcel {parcel}" + (f" ({where})" if where else "")
        if not blank(item.get("county")):
            return f"{item['county']} County"
        return f"item {str(item['item_id'])[:8]}"

    def save(self, outcome: str | None = None, note: str | None = None) -> dict[str, Any] | None:
        """Record the shown item's outcome (default: the form's values) and show the next."""
        if self.item is None or self.job_id is None:
            self._say("No item is shown.")
            return None
        outcome = outcome or self.outcome.value
        note = self.note.value if note is None else note
        self.mark_field(None)
        try:
            values = (
                self.values() | {"note": note}
                if outcome == "done" and self.save_result is not None
                else None
            )
            if not self.claimed and not self._claim():
                self._say("Someone else took that item; here is the next one.", error=True)
                self._next()
                return None
            item_id = str(self.item["item_id"])
            if values is not None and self.save_result is not None:
                self.save_result(self.ws, self.job_id, self.item, values)
                status = self.ws.get_batch_status(self.job_id)
            elif outcome == "done":
                status = self.ws.update_batch_progress(self.job_id, item_id, 1, 0)
            else:
                status = self.ws.update_batch_progress(
                    self.job_id, item_id, 0, 1, note.strip() or "failed"
                )
        except ToolkitError as exc:
            self.mark_field(self.bad_field(exc))
            self._say(str(exc), error=True)
            return None
        self.log.append({"item_id": item_id, "outcome": outcome, "note": note})
        self._say(
            f"{self.saved_text(self.item, outcome).rstrip('.')}. "
            f"{_finished(status)}/{status['total_items']} finished."
        )
        if status["status"] == "paused":
            self.queue = []
            self._say(f"Job paused ({status['pause_reason']}); resume it to go on.", error=True)
            self._show(None)
        else:
            self._next()
        return status

    def _say(self, text: str, *, error: bool = False) -> str:
        from toolkit.notebook.view import error_html

        text = one_sentence(text) if error else text
        self.message.value = error_html(text) if error else f"<div>{html.escape(text)}</div>"
        return text
