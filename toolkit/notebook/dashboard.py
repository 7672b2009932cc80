"""What the dashboard and progress-analysis notebooks show: frames, plots, a Refresh.

Every function takes a workspace and returns a pandas DataFrame (or a
matplotlib Figure built without pyplot, so nothing is shown twice). The SQL is
plain and portable (DuckDB and Postgres) so it can be copied into any client.
"""

from __future__ import annotations

import html
import re
from typing import TYPE_CHECKING, Any

from toolkit.exceptions import ValidationError
from toolkit.notebook.view import blank, county_label, duration, local_time, short_id

if TYPE_CHECKING:
    import pandas as pd
    from matplotlib.figure import Figure

    from toolkit.workspace import Workspace

FREQUENCIES = ("minute", "hour", "day", "week")


def _eta_text(seconds: Any) -> str:
    from toolkit.notebook.panel import format_eta

    try:
        return format_eta(float(seconds))
    except (TypeError, ValueError):
        return ""


def pending_work(ws: Workspace) -> pd.DataFrame:
    """The guide's ``get_pending_work_summary()``: pending items, batches, sessions per type."""
    return ws.get_pending_work_summary()


def active_jobs(ws: Workspace) -> pd.DataFrame:
    """Active jobs as a person reads them: short id, type, county, progress, ETA, why paused.

    The ETA is shown only for a running job (a paused job has none); times are local.
    """
    import pandas as pd

    frame = ws.active_jobs()
    cols = [
        "job",
        "job_type",
        "county",
        "status",
        "progress",
        "failed",
        "eta",
        "pause_reason",
        "updated",
    ]
    if frame.empty:
        return pd.DataFrame(columns=cols)
    frame = frame.sort_values("updated_at", ascending=False)
    finished = (frame.processed_items + frame.failed_items + frame.skipped_items).astype(int)
    total = frame.total_items.astype(int)
    pct = (100 * finished / total.where(total > 0, 1)).round().astype(int)
    eta = [
        _eta_text(e) if s == "in_progress" else ""
        for e, s in zip(frame.eta_seconds, frame.status, strict=True)
    ]
    out = pd.DataFrame(
        {
            "job": frame.job_id.map(short_id),
            "job_type": frame.job_type,
            "county": frame.county.map(county_label),
            "status": frame.status.str.replace("_", " "),
            "progress": finished.astype(str)
            + "/"
            + total.astype(str)
            + " ("
            + pct.astype(str)
            + "%)",
            "failed": frame.failed_items.astype(int),
            "eta": eta,
            "pause_reason": [
                _sentence(r) if s == "paused" else ""
                for r, s in zip(frame.pause_reason, frame.status, strict=True)
            ],
            "updated": frame.updated_at.map(local_time),
        }
    )
    return out.reset_index(drop=True)


def _sentence(text: object) -> str:
    if blank(text):
        return ""
    return str(text).strip().rstrip(".")


def recent_sessions(ws: Workspace, limit: int = 10) -> pd.DataFrame:
    """The last ``limit`` sessions, newest first: when, what, how it ended, items, duration."""
    import pandas as pd

    if isinstance(limit, bool) or not isinstance(limit, int) or limit < 1:
        raise ValidationError(f"limit {limit!r} must be a whole number ≥ 1.")
    frame = ws.query("dashboard_recent_sessions", [limit])
    cols = ["started", "job_type", "county", "job", "outcome", "items", "failed", "took"]
    if frame.empty:
        return pd.DataFrame(columns=cols)
    return pd.DataFrame(
        {
            "started": frame.started_at.map(local_time),
            "job_type": frame.job_type,
            "county": frame.county.map(county_label),
            "job": frame.job_id.map(short_id),
            "outcome": frame.outcome.astype(str).str.replace("_", " "),
            "items": frame["items"].fillna(0).astype(int),
            "failed": frame.failed.fillna(0).astype(int),
            "took": frame.seconds.map(duration),
        }
    )


def data_audit(ws: Workspace) -> dict[str, pd.DataFrame]:
    """The guide's "Run data audit": ``gaps`` and ``stages`` per county."""
    return ws.run_data_audit()


def pick_frequency(ws: Workspace) -> str:
    """The time bucket that spreads the finished items over several bars.

    Less than two hours of work: minutes; less than three days: hours; less
    than two months: days; otherwise weeks.
    """
    frame = ws.query("dashboard_throughput", ["minute"])
    if frame.empty:
        return "hour"
    span = (frame.period.max() - frame.period.min()).total_seconds()
    if span < 2 * 3600:
        return "minute"
    if span < 3 * 86400:
        return "hour"
    if span < 60 * 86400:
        return "day"
    return "week"


def throughput(ws: Workspace, freq: str = "auto") -> pd.DataFrame:
    """Items finished per period and job type (``freq``: auto, minute, hour, day, week).

    ``auto`` picks the bucket from the span of the work (:func:`pick_frequency`).
    Counts are whole numbers.
    """
    if freq == "auto":
        freq = pick_frequency(ws)
    if freq not in FREQUENCIES:
        from toolkit.exceptions import UnknownChoiceError

        raise UnknownChoiceError("frequency", freq, ("auto", *FREQUENCIES))
    frame = ws.query("dashboard_throughput", [freq])
    for col in ("done", "failed", "skipped"):
        if col in frame.columns:
            frame[col] = frame[col].fillna(0).astype(int)
    frame.attrs["freq"] = freq
    return frame


_IDS = re.compile(r"\b[0-9a-f]{8}-[0-9a-f-]{27,}\b|\d[\w.\-]*|'[^']*'|\"[^\"]*\"", re.IGNORECASE)


def failure_reason(error: object) -> str:
    """An error message with its item-specific parts (ids, numbers, quoted values) blanked.

    >>> failure_reason("LookupError: Property not found in Regrid: 04.17-32..-220")
    'LookupError: Property not found in Regrid: #'
    """
    text = str(error or "unknown").strip().splitlines()[0] if error else "unknown"
    return _IDS.sub("#", text)[:160]


def failures_by_reason(ws: Workspace) -> pd.DataFrame:
    """Failed items counted by job type and reason, most frequent first."""
    import pandas as pd

    frame = ws.query("dashboard_failures")
    if frame.empty:
        return pd.DataFrame(columns=["job_type", "reason", "items", "example"])
    frame["reason"] = frame.error.map(failure_reason)
    out = (
        frame.groupby(["job_type", "reason"])
        .agg(items=("error", "size"), example=("error", "first"))
        .reset_index()
        .sort_values(["items", "job_type"], ascending=[False, True])
    )
    return out.reset_index(drop=True)


FUNNEL_STAGES = [
    "listed",
    "active",
    "parcel_data",
    "validated",
    "approved",
    "condition",
    "environmental",
    "title",
    "bid_calculated",
    "bid",
    "review",
]


def county_funnel(ws: Workspace) -> pd.DataFrame:
    """Properties per pipeline stage and county (listed → … → BID and REVIEW, and PASS).

    The audit counts ``bid`` as the BID decisions only; the funnel adds ``review``
    and ``pass`` so it matches the bid list (the demo: 2 BID, 331 REVIEW).
    """
    stages = ws.run_data_audit()["stages"].copy()
    decisions = ws.query("notebook_decisions")
    for decision in ("BID", "REVIEW", "PASS"):
        sub = decisions[decisions.decision == decision].set_index("county")["n"]
        stages[decision.lower()] = stages.county.map(sub).fillna(0).astype(int)
    for col in stages.columns:
        if col != "county":
            stages[col] = stages[col].fillna(0).astype(int)
    return stages.reset_index(drop=True)


def eta_per_job(ws: Workspace) -> pd.DataFrame:
    """Active jobs: finished and remaining items, and the ETA of the running ones."""
    import pandas as pd

    frame = ws.active_jobs()
    cols = [
        "job",
        "job_type",
        "county",
        "status",
        "finished",
        "failed",
        "remaining",
        "eta_seconds",
        "eta",
    ]
    if frame.empty:
        return pd.DataFrame(columns=cols)
    finished = (frame.processed_items + frame.skipped_items).astype(int)
    failed = frame.failed_items.astype(int)
    remaining = (frame.total_items - finished - failed).astype(int)
    running = frame.status == "in_progress"
    eta_s = frame.eta_seconds.where(running)
    return pd.DataFrame(
        {
            "job": frame.job_id.map(short_id),
            "job_type": frame.job_type,
            "county": frame.county.map(county_label),
            "status": frame.status,
            "finished": finished,
            "failed": failed,
            "remaining": remaining,
            "eta_seconds": eta_s,
            "eta": eta_s.map(_eta_text),
        }
    ).reset_index(drop=True)


def session_history(ws: Workspace) -> pd.DataFrame:
    """Every session: local start, job type, items worked, failures, outcome."""
    frame = ws.query("notebook_session_times")
    for col in ("items", "failed"):
        frame[col] = frame[col].fillna(0).astype(int)
    return frame


# -- plots -------------------------------------------------------------------------


def _figure(title: str) -> tuple[Figure, Any]:
    from matplotlib.figure import Figure

    fig = Figure(figsize=(8, 3.5), layout="constrained")
    ax = fig.add_subplot()
    ax.set_title(title)
    return fig, ax


def plot_throughput(frame: pd.DataFrame) -> Figure | None:
    """Items done per period, stacked per job type (None when nothing is finished yet)."""
    if frame.empty:
        return None
    freq = frame.attrs.get("freq", "period")
    fig, ax = _figure(f"Items finished per {freq}")
    wide = (
        frame.pivot_table(index="period", columns="job_type", values="done", aggfunc="sum")
        .fillna(0)
        .astype(int)
    )
    fmt = {"minute": "%H:%M", "hour": "%b %d %H:00", "day": "%b %d", "week": "%b %d"}.get(
        freq, "%b %d %H:%M"
    )
    labels = [local_time_label(p, fmt) for p in wide.index]
    bottom = [0] * len(wide)
    for name in wide.columns:
        values = wide[name].tolist()
        ax.bar(labels, values, bottom=bottom, label=name)
        bottom = [b + v for b, v in zip(bottom, values, strict=True)]
    ax.set_ylabel("items")
    ax.yaxis.get_major_locator().set_params(integer=True)
    ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize="small")
    if len(labels) > 8:
        ax.tick_params(axis="x", labelrotation=45)
    return fig


def local_time_label(value: Any, fmt: str) -> str:
    """A period (UTC) as a local-time axis label."""
    import datetime as dt

    ts = value.to_pydatetime() if hasattr(value, "to_pydatetime") else value
    if not isinstance(ts, dt.datetime):
        return str(value)
    if ts.tzinfo is None:
        ts = ts.replace(tzinfo=dt.UTC)
    return ts.astimezone().strftime(fmt)


def plot_failures(frame: pd.DataFrame, top: int = 10) -> Figure | None:
    """The most frequent failure reasons (None when there are no failures)."""
    if frame.empty:
        return None
    fig, ax = _figure("Failures by reason")
    head = frame.head(top).iloc[::-1]
    labels = [f"{j}: {r[:50]}" for j, r in zip(head.job_type, head.reason, strict=True)]
    ax.barh(labels, head["items"].astype(int))
    ax.xaxis.get_major_locator().set_params(integer=True)
    ax.set_xlabel("items")
    return fig


def plot_funnel(frame: pd.DataFrame) -> Figure | None:
    """Per county, how many properties reached each stage, down to BID and REVIEW."""
    stages = [s for s in FUNNEL_STAGES if s in frame.columns]
    if frame.empty or not stages:
        return None
    import numpy as np

    fig, ax = _figure("Pipeline funnel per county")
    fig.set_size_inches(8, min(7.0, 1.2 + 0.1 * len(stages) * max(1, len(frame))))
    y = np.arange(len(stages))
    height = 0.8 / max(1, len(frame))
    for i, row in enumerate(frame.itertuples()):
        values = [int(getattr(row, s)) for s in stages]
        bars = ax.barh(y + i * height, values, height=height, label=row.county)
        ax.bar_label(
            bars, labels=[str(v) if v else "" for v in values], fontsize="x-small", padding=2
        )
    names = {"bid": "BID", "review": "REVIEW"}
    ax.set_yticks(
        y + height * (len(frame) - 1) / 2, [names.get(s, s.replace("_", " ")) for s in stages]
    )
    ax.invert_yaxis()
    ax.set_xlabel("properties")
    ax.legend(loc="lower right", fontsize="small")
    return fig


def plot_job_progress(frame: pd.DataFrame) -> Figure | None:
    """One bar per active job: finished, failed and remaining items (None: no active job)."""
    if frame.empty:
        return None
    fig, ax = _figure("Progress per active job")
    fig.set_size_inches(8, 0.8 + 0.45 * len(frame))
    labels = [
        f"{t} · {c} ({j}, {s.replace('_', ' ')})"
        for j, t, c, s in zip(frame.job, frame.job_type, frame.county, frame.status, strict=True)
    ]
    left = [0] * len(frame)
    for col, colour in (("finished", "#1b7f3b"), ("failed", "#b00020"), ("remaining", "#cccccc")):
        values = frame[col].astype(int).tolist()
        ax.barh(labels, values, left=left, color=colour, label=col)
        left = [a + b for a, b in zip(left, values, strict=True)]
    ax.invert_yaxis()
    ax.set_xlabel("items")
    ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize="small")
    return fig


def plot_sessions(frame: pd.DataFrame, last: int = 40) -> Figure | None:
    """The last sessions in order: items each worked, coloured by job type (None: none yet)."""
    if frame.empty:
        return None
    frame = frame.tail(last).reset_index(drop=True)
    fig, ax = _figure(f"Sessions over time (last {len(frame)}: items per session)")
    colours = {t: f"C{i}" for i, t in enumerate(dict.fromkeys(frame.job_type))}
    ax.bar(
        range(len(frame)), frame["items"].astype(int), color=[colours[t] for t in frame.job_type]
    )
    step = max(1, len(frame) // 8)
    ticks = list(range(0, len(frame), step))
    ax.set_xticks(
        ticks,
        [local_time_label(frame.started_at[i], "%b %d %H:%M") for i in ticks],
        rotation=30,
        ha="right",
        fontsize="small",
    )
    ax.set_ylabel("items")
    from matplotlib.patches import Patch

    ax.legend(
        handles=[Patch(color=c, label=t) for t, c in colours.items()],
        loc="upper left",
        bbox_to_anchor=(1.01, 1.0),
        fontsize="small",
    )
    return fig


def plot_eta(frame: pd.DataFrame) -> Figure | None:
    """Time left per running job, in minutes or hours (None: no running job with a rate)."""
    known = frame.dropna(subset=["eta_seconds"]) if not frame.empty else frame
    if known.empty:
        return None
    seconds = known.eta_seconds.astype(float)
    if seconds.max() < 2 * 3600:
        unit, div = "minutes", 60.0
    elif seconds.max() < 72 * 3600:
        unit, div = "hours", 3600.0
    else:
        unit, div = "days", 86400.0
    fig, ax = _figure(f"Time left per running job ({unit})")
    labels = [
        f"{j} {t} ({c})" for j, t, c in zip(known.job, known.job_type, known.county, strict=True)
    ]
    bars = ax.barh(labels, seconds / div)
    ax.bar_label(bars, labels=list(known.eta), padding=2)
    ax.set_xlabel(unit)
    return fig


# -- the dashboard -----------------------------------------------------------------


def _table(frame: pd.DataFrame, empty: str) -> str:
    if frame.empty:
        return f"<p><i>{html.escape(empty)}</i></p>"
    return frame.to_html(index=False, border=0, na_rep="", classes="toolkit-table")


TABLE_STYLE = (
    "<style>.toolkit-table{border-collapse:collapse;font-size:13px}"
    ".toolkit-table th,.toolkit-table td{padding:2px 8px;text-align:left;white-space:nowrap}"
    ".toolkit-table tr:nth-child(even){background:#f5f5f5}</style>"
)


class Dashboard:
    """The session-start view: charts, active jobs with buttons, pending work, sessions, audit.

    ``.widget`` shows them with a Refresh button; ``.sections()`` returns the frames;
    ``.figures()`` the charts (only those with something to show).

    Examples
    --------
    >>> from toolkit.notebook import Dashboard
    >>> sorted(Dashboard(":memory:").sections())
    ['active jobs', 'audit: gaps', 'audit: stages', 'pending work', 'recent sessions']
    """

    def __init__(self, db: str | None = None, *, sessions: int = 10) -> None:
        import toolkit

        self.ws = toolkit.connect(db)
        self.sessions = sessions
        self._widget: Any = None
        self.job_rows: dict[str, dict[str, Any]] = {}
        self._threads: list[Any] = []

    def sections(self) -> dict[str, pd.DataFrame]:
        audit = data_audit(self.ws)
        return {
            "pending work": pending_work(self.ws),
            "active jobs": active_jobs(self.ws),
            "recent sessions": recent_sessions(self.ws, self.sessions),
            "audit: gaps": audit["gaps"],
            "audit: stages": county_funnel(self.ws),
        }

    def figures(self) -> dict[str, Figure]:
        """The charts that have something to show: funnel, job progress, sessions over time."""
        figs = {
            "pipeline funnel": plot_funnel(county_funnel(self.ws)),
            "progress per active job": plot_job_progress(eta_per_job(self.ws)),
            "sessions over time": plot_sessions(session_history(self.ws)),
        }
        return {k: v for k, v in figs.items() if v is not None}

    def charts_html(self) -> str:
        from toolkit.notebook.view import figure_html

        figs = self.figures()
        if not figs:
            return "<p><i>No charts yet: add a sale list and run a job.</i></p>"
        return "".join(
            f"<div class='toolkit-chart' style='display:inline-block;vertical-align:top'>"
            f"{figure_html(f, k)}</div>"
            for k, f in figs.items()
        )

    def html(self) -> str:
        """All sections as one HTML page fragment (the headless view)."""
        parts = [TABLE_STYLE, self.charts_html()]
        for title, frame in self.sections().items():
            parts.append(
                f"<h4>{html.escape(title.capitalize())}</h4>{_table(frame, 'Nothing here.')}"
            )
        return "".join(parts)

    def _tables_html(self) -> str:
        parts = [TABLE_STYLE]
        for title, frame in self.sections().items():
            if title == "active jobs":
                continue
            parts.append(
                f"<h4>{html.escape(title.capitalize())}</h4>{_table(frame, 'Nothing here.')}"
            )
        return "".join(parts)

    @property
    def widget(self) -> Any:
        if self._widget is None:
            import ipywidgets as w

            self.charts = w.HTML()
            self.jobs_box = w.VBox([])
            self.body = w.HTML()
            self.message = w.HTML()
            self.stamp = w.HTML()
            self.refresh_button = w.Button(description="Refresh", icon="sync")
            self.refresh_button.on_click(lambda _: self.refresh())
            for widget, name in (
                (self.charts, "charts"),
                (self.jobs_box, "jobs"),
                (self.message, "message"),
            ):
                widget.add_class(f"toolkit-dashboard-{name}")
            self._widget = w.VBox(
                [
                    w.HBox([self.refresh_button, self.stamp]),
                    self.message,
                    self.charts,
                    w.HTML("<h4>Active jobs</h4>"),
                    self.jobs_box,
                    self.body,
                ]
            )
            self.refresh()
        return self._widget

    def _job_row(self, r: Any) -> dict[str, Any]:
        import ipywidgets as w

        from toolkit.processors import has_processor

        job_id = str(r.job_id)
        finished = int(r.processed_items + r.failed_items + r.skipped_items)
        total = int(r.total_items)
        pct = round(100 * finished / total) if total else 100
        running = r.status == "in_progress"
        eta = _eta_text(r.eta_seconds) if running else ""
        why = _sentence(r.pause_reason) if r.status == "paused" else ""
        notebook = f"{r.job_type}.ipynb"
        text = (
            f"<a href='{html.escape(notebook)}' target='_blank' title='open the notebook'>"
            f"<b>{html.escape(r.job_type)}</b></a> · {html.escape(county_label(r.county))} · "
            f"<code>{short_id(job_id)}</code> · {html.escape(r.status.replace('_', ' '))} · "
            f"{finished}/{total} ({pct}%)"
            + (f" · {int(r.failed_items)} failed" if r.failed_items else "")
            + (f" · ETA {eta}" if eta else "")
            + (f" · <i>{html.escape(why)}</i>" if why else "")
            + f" · <small>updated {html.escape(local_time(r.updated_at))}</small>"
        )
        label = w.HTML(text)
        bar = w.IntProgress(
            value=min(finished, total),
            max=max(1, total),
            bar_style="warning" if r.status == "paused" else "info",
            layout={"width": "160px"},
        )
        resume = w.Button(
            description="Resume",
            icon="redo",
            button_style="info",
            disabled=r.status != "paused" or not has_processor(r.job_type),
            tooltip="run one session of this job here",
            layout={"width": "90px"},
        )
        pause = w.Button(
            description="Pause",
            icon="pause",
            button_style="warning",
            disabled=not running,
            layout={"width": "90px"},
        )
        resume.on_click(lambda _: self.resume(job_id))
        pause.on_click(lambda _: self.pause(job_id))
        box = w.HBox([bar, resume, pause, label])
        box.add_class("toolkit-job-row")
        return {"widget": box, "resume": resume, "pause": pause, "label": label}

    def refresh(self) -> None:
        """Reload every section from the workspace."""
        if self._widget is None:
            _ = self.widget
            return
        frame = self.ws.active_jobs()
        if not frame.empty:
            frame = frame.sort_values("updated_at", ascending=False)
        self.job_rows = {str(r.job_id): self._job_row(r) for r in frame.itertuples()}
        self.jobs_box.children = (
            [row["widget"] for row in self.job_rows.values()]
            if self.job_rows
            else [self._note("No active job: start one from a job notebook.")]
        )
        self.charts.value = self.charts_html()
        self.body.value = self._tables_html()
        self.stamp.value = f"<small>Refreshed {local_time(_now(), seconds=True)}</small>"

    @staticmethod
    def _note(text: str) -> Any:
        import ipywidgets as w

        return w.HTML(f"<i>{html.escape(text)}</i>")

    def _say(self, text: str, *, error: bool = False) -> None:
        from toolkit.notebook.view import error_html

        self.message.value = error_html(text) if error else f"<div>{html.escape(text)}</div>"

    def pause(self, job_id: str) -> None:
        """Pause a running job: its session stops at its next item and checkpoints."""
        from toolkit.exceptions import ToolkitError

        try:
            self.ws.pause_batch_job(job_id, "paused from the dashboard")
        except ToolkitError as exc:
            self._say(str(exc), error=True)
            return
        self._say(f"Paused job {short_id(job_id)}; it stops at its next item.")
        self.refresh()

    def resume(self, job_id: str, *, wait: bool = False) -> None:
        """Resume a paused job and run one session of it in the background (its own processor)."""
        import threading

        from toolkit.exceptions import ToolkitError
        from toolkit.orchestrator import run_job_session

        try:
            self.ws.resume_batch_job(job_id)
        except ToolkitError as exc:
            self._say(str(exc), error=True)
            return
        self._say(f"Resumed job {short_id(job_id)}: one session runs; Refresh to follow it.")

        def run() -> None:
            try:
                res = run_job_session(self.ws, job_id)
                self._say(res.message)
            except Exception as exc:  # shown on the dashboard; the job keeps its progress
                self._say(f"The session of {short_id(job_id)} stopped: {exc}", error=True)

        thread = threading.Thread(
            target=run, name=f"toolkit-dashboard-{short_id(job_id)}", daemon=True
        )
        self._threads.append(thread)
        thread.start()
        if wait:
            thread.join()
        self.refresh()

    def show(self, interactive: bool = True) -> None:
        """Display the widget (interactive) or the charts and each section (headless)."""
        from IPython.display import HTML, display

        if interactive:
            display(self.widget)
            return
        display(HTML(self.html()))

    def _ipython_display_(self) -> None:
        from IPython.display import display

        display(self.widget)


def _now() -> Any:
    import datetime as dt

    return dt.datetime.now(dt.UTC)


def show(frame: pd.DataFrame, fig: Figure | None = None, empty: str = "Nothing here.") -> None:
    """Display a frame without its index and its figure; only ``empty`` when both are empty.

    For the progress-analysis notebook: an empty figure or table is not shown at all.
    """
    from IPython.display import HTML, display

    if frame.empty and fig is None:
        if empty:
            display(HTML(f"<p><i>{html.escape(empty)}</i></p>"))
        return
    if not frame.empty:
        display(HTML(TABLE_STYLE + _table(frame, empty)))
    if fig is not None:
        display(fig)
