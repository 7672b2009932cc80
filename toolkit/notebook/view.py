"""How the notebook pages show values: short ids, local times, money, durations, figures.

One place for the small formatting rules every page shares, so a job id, a
time or a dollar amount reads the same on the dashboard, the bid grid and the
property view.

>>> short_id("9c671a73-0a55-4b8e-9d41-7c3c2f1e0b11"), money(1234.4), duration(125)
('9c671a73', '$1,234', '3 min')

(A duration is rounded up: it is mostly time left.)
"""

from __future__ import annotations

import base64
import datetime as dt
import html
import io
import math
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from matplotlib.figure import Figure

ALL_COUNTIES = "All counties"
ERROR_STYLE = (
    "color:#b00020;background:#fdecea;border-left:4px solid #b00020;padding:4px 8px;margin:4px 0"
)
DECISION_COLOURS = {"BID": "#1b7f3b", "REVIEW": "#b26a00", "PASS": "#8a8a8a"}
VERDICT_COLOURS = {"APPROVED": "#1b7f3b", "CAUTION": "#b26a00", "REJECTED": "#b00020"}


def blank(v: object) -> bool:
    """None, NaN, NaT or an empty string."""
    if v is None:
        return True
    if isinstance(v, float) and math.isnan(v):
        return True
    if isinstance(v, str):
        return not v.strip()
    try:
        import pandas as pd

        return bool(pd.isna(v)) if not isinstance(v, list | tuple | dict) else False
    except (TypeError, ValueError, ImportError):
        return False


def short_id(v: object) -> str:
    """The first 8 characters of a UUID (what the CLI accepts too)."""
    return "" if blank(v) else str(v)[:8]


def county_label(v: object) -> str:
    """A county name, or "All counties" for a job over every county."""
    return ALL_COUNTIES if blank(v) else str(v)


def local_time(v: object, *, seconds: bool = False) -> str:
    """A stored (UTC) time as local time without microseconds: ``Dec 01 14:05``.

    >>> local_time(None)
    ''
    """
    if blank(v):
        return ""
    ts = v.to_pydatetime() if hasattr(v, "to_pydatetime") else v
    if isinstance(ts, str):
        try:
            ts = dt.datetime.fromisoformat(ts)
        except ValueError:
            return str(v)
    if not isinstance(ts, dt.datetime):
        return str(v)
    if ts.tzinfo is None:
        ts = ts.replace(tzinfo=dt.UTC)
    local = ts.astimezone()
    return local.strftime("%b %d %H:%M:%S" if seconds else "%b %d %H:%M")


def money(v: object) -> str:
    """Whole dollars with thousands separators ('' when unknown).

    >>> money(-11300.0), money(None)
    ('-$11,300', '')
    """
    if blank(v):
        return ""
    try:
        x = float(v)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return str(v)
    return f"-${abs(x):,.0f}" if x < 0 else f"${x:,.0f}"


def duration(seconds: object) -> str:
    """A duration: ``45 s``, ``12 min``, ``3.5 h``, ``2.0 days``.

    >>> duration(24), duration(3 * 3600 + 1800), duration(None)
    ('24 s', '3.5 h', '')
    """
    if blank(seconds):
        return ""
    s = float(seconds)  # type: ignore[arg-type]
    if not math.isfinite(s) or s < 0:
        return ""
    if s < 60:
        return f"{max(0, round(s))} s"
    if s < 90 * 60:
        return f"{math.ceil(s / 60)} min"
    if s < 48 * 3600:
        return f"{s / 3600:.1f} h"
    return f"{s / 86400:.1f} days"


def figure_html(fig: Figure, alt: str = "") -> str:
    """A matplotlib figure as an inline PNG ``<img>`` (works in widgets and saved notebooks)."""
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=90)
    data = base64.b64encode(buf.getvalue()).decode()
    return (
        f'<img alt="{html.escape(alt)}" src="data:image/png;base64,{data}" style="max-width:100%"/>'
    )


def error_html(text: str) -> str:
    """An error as the pages show it: red, boxed, its text escaped and ending in one period."""
    import re

    text = re.sub(r"\.(\s*\.)+", ".", text.strip())
    return f"<div class='toolkit-error' style='{ERROR_STYLE}'>⚠ {html.escape(text)}</div>"


def badge(value: object, colours: dict[str, str]) -> str:
    """A coloured label (BID / REVIEW / PASS, APPROVED / CAUTION / REJECTED)."""
    if blank(value):
        return ""
    text = str(value)
    colour = colours.get(text, "#555")
    return (
        f"<span style='background:{colour};color:white;border-radius:3px;padding:1px 6px;"
        f"font-weight:bold'>{html.escape(text)}</span>"
    )
