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
    """Active jobs, compact: type, county, status, progress, failures, ETA, why paused."""
    import pandas as pd

    frame = ws.active_jobs()
    cols = ["job", "job_type", "county", "status", "progress", "percent", "failed", "eta",
            "pause_reason", "updated_at"]  # fmt: skip
    if frame.empty:
        return pd.DataFrame(columns=cols)
    finished = frame.processed_items + frame.failed_items + frame.skipped_items
    out = pd.DataFrame(
        {
            "job": frame.job_id.astype(str).str[:8],
            "job_type": frame.job_type,
            "county": frame.county.fillna("all counties"),
            "status": frame.status,
            "progress": finished.astype(int).astype(str) + "/" + frame.total_items.astype(str),
            "percent": frame.percent_complete,
            "failed": frame.failed_items,
            "eta": frame.eta_seconds.map(_eta_text),
            "pause_reason": frame.pause_reason,
            "updated_at": frame.updated_at,
        }
    )
    return out.sort_values("updated_at", ascending=False).reset_index(drop=True)


def recent_sessions(ws: Workspace, limit: int = 10) -> pd.DataFrame:
    """The last ``limit`` sessions, newest first, with their outcome and record."""
    if isinstance(limit, bool) or not isinstance(limit, int) or limit < 1:
        raise ValidationError(f"limit {limit!r} must be a whole number ≥ 1.")
    return ws.query("dashboard_recent_sessions", [limit])


def data_audit(ws: Workspace) -> dict[str, pd.DataFrame]:
    """The guide's "Run data audit": ``gaps`` and ``stages`` per county."""
    return ws.run_data_audit()


def throughput(ws: Workspace, freq: str = "hour") -> pd.DataFrame:
    """Items finished per period and job type (``freq``: minute, hour, day, week)."""
    if freq not in FREQUENCIES:
        from toolkit.exceptions import UnknownChoiceError

        raise UnknownChoiceError("frequency", freq, FREQUENCIES)
    return ws.query("dashboard_throughput", [freq])


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


def county_funnel(ws: Workspace) -> pd.DataFrame:
    """Properties per pipeline stage and county (listed → … → BID)."""
    return ws.run_data_audit()["stages"]


def eta_per_job(ws: Workspace) -> pd.DataFrame:
    """Active jobs: remaining items, rate so far, and the ETA."""
    import pandas as pd

    frame = ws.active_jobs()
    cols = ["job", "job_type", "county", "status", "remaining", "eta_seconds", "eta"]
    if frame.empty:
        return pd.DataFrame(columns=cols)
    remaining = frame.total_items - frame.processed_items - frame.failed_items - frame.skipped_items
    return pd.DataFrame(
        {
            "job": frame.job_id.astype(str).str[:8],
            "job_type": frame.job_type,
            "county": frame.county.fillna("all counties"),
            "status": frame.status,
            "remaining": remaining.astype(int),
            "eta_seconds": frame.eta_seconds,
            "eta": frame.eta_seconds.map(_eta_text),
        }
    ).reset_index(drop=True)


# -- plots -------------------------------------------------------------------------


def _figure(title: str) -> tuple[Figure, Any]:
    from matplotlib.figure import Figure

    fig = Figure(figsize=(8, 3.5), layout="constrained")
    ax = fig.add_subplot()
    ax.set_title(title)
    return fig, ax


def _empty(ax: Any, text: str) -> None:
    ax.text(0.5, 0.5, text, ha="center", va="center", transform=ax.transAxes)
    ax.set_axis_off()


def plot_throughput(frame: pd.DataFrame) -> Figure:
    """Items done per period, one line per job type."""
    fig, ax = _figure("Throughput (items done per period)")
    if frame.empty:
        _empty(ax, "No finished items yet")
        return fig
    wide = frame.pivot_table(
        index="period", columns="job_type", values="done", aggfunc="sum"
    ).fillna(0)
    # stacked bars per period: readable with one period or many (a time axis
    # around a single point spans years)
    labels = [str(p)[:16] for p in wide.index]
    bottom = [0.0] * len(wide)
    for name in wide.columns:
        values = wide[name].tolist()
        ax.bar(labels, values, bottom=bottom, label=name)
        bottom = [b + v for b, v in zip(bottom, values, strict=True)]
    ax.set_ylabel("items")
    ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize="small")
    fig.autofmt_xdate()
    return fig


def plot_failures(frame: pd.DataFrame, top: int = 10) -> Figure:
    """The most frequent failure reasons."""
    fig, ax = _figure("Failures by reason")
    if frame.empty:
        _empty(ax, "No failures")
        return fig
    head = frame.head(top).iloc[::-1]
    labels = [f"{j}: {r[:50]}" for j, r in zip(head.job_type, head.reason, strict=True)]
    ax.barh(labels, head["items"])
    ax.set_xlabel("items")
    return fig


FUNNEL_STAGES = ["listed", "active", "parcel_data", "validated", "approved", "condition",
                 "environmental", "title", "bid_calculated", "bid"]  # fmt: skip


def plot_funnel(frame: pd.DataFrame) -> Figure:
    """Per county: how many properties reached each pipeline stage."""
    fig, ax = _figure("Pipeline funnel per county")
    stages = [s for s in FUNNEL_STAGES if s in frame.columns]
    if frame.empty or not stages:
        _empty(ax, "No properties yet")
        return fig
    for row in frame.itertuples():
        ax.plot(stages, [getattr(row, s) for s in stages], marker="o", label=row.county)
    ax.set_ylabel("properties")
    ax.tick_params(axis="x", labelrotation=30)
    ax.legend(loc="upper right", fontsize="small")
    return fig


def plot_eta(frame: pd.DataFrame) -> Figure:
    """Hours left per active job (jobs without a rate yet are left out)."""
    fig, ax = _figure("ETA per active job (hours)")
    known = frame.dropna(subset=["eta_seconds"]) if not frame.empty else frame
    if known.empty:
        _empty(ax, "No active job with a rate yet")
        return fig
    labels = [
        f"{j} {t} ({c})" for j, t, c in zip(known.job, known.job_type, known.county, strict=True)
    ]
    ax.barh(labels, known.eta_seconds.astype(float) / 3600)
    ax.set_xlabel("hours")
    return fig


# -- the dashboard -----------------------------------------------------------------


def _table(frame: pd.DataFrame, empty: str) -> str:
    if frame.empty:
        return f"<p><i>{html.escape(empty)}</i></p>"
    return frame.to_html(index=False, border=0, na_rep="")


class Dashboard:
    """The session-start view: pending work, active jobs, recent sessions, data audit.

    ``.widget`` shows them with a Refresh button; ``.sections()`` returns the frames.

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

    def sections(self) -> dict[str, pd.DataFrame]:
        audit = data_audit(self.ws)
        return {
            "pending work": pending_work(self.ws),
            "active jobs": active_jobs(self.ws),
            "recent sessions": recent_sessions(self.ws, self.sessions),
            "audit: gaps": audit["gaps"],
            "audit: stages": audit["stages"],
        }

    def html(self) -> str:
        """All sections as one HTML page fragment."""
        parts = []
        for title, frame in self.sections().items():
            parts.append(
                f"<h4>{html.escape(title.capitalize())}</h4>{_table(frame, 'Nothing here.')}"
            )
        return "".join(parts)

    @property
    def widget(self) -> Any:
        if self._widget is None:
            import ipywidgets as w

            self.body = w.HTML()
            self.refresh_button = w.Button(description="Refresh", icon="sync")
            self.refresh_button.on_click(lambda _: self.refresh())
            self._widget = w.VBox([self.refresh_button, self.body])
            self.refresh()
        return self._widget

    def refresh(self) -> None:
        """Reload every section from the workspace."""
        import datetime as dt

        if self._widget is None:
            _ = self.widget
            return
        stamp = dt.datetime.now().strftime("%H:%M:%S")
        self.body.value = self.html() + f"<p><small>Refreshed {stamp}</small></p>"

    def show(self, interactive: bool = True) -> None:
        """Display the widget (interactive) or each section as a table (headless)."""
        from IPython.display import HTML, display

        if interactive:
            display(self.widget)
            return
        display(HTML(self.html()))

    def _ipython_display_(self) -> None:
        from IPython.display import display

        display(self.widget)
