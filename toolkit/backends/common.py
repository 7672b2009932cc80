"""What both engines share: time, row helpers, county names, and the checks on a job's status.

The rules that differ by backend live in each backend's engine; these are the
pieces that are the same Python on both.
"""

from __future__ import annotations

import datetime as dt
import re
import threading
from collections.abc import Sequence
from typing import Any

from toolkit.exceptions import (
    AmbiguousCountyError,
    InvalidTransitionError,
    JobPausedError,
    UnknownCountyError,
)

ACTIVE = ("pending", "in_progress", "paused")


def utcnow() -> dt.datetime:
    """Naive UTC: what both backends store."""
    return dt.datetime.now(dt.UTC).replace(tzinfo=None)


def first_row(rows: list[Any]) -> Any:
    return rows[0] if rows else None


def row_dict(cur: Any) -> dict[str, Any] | None:
    """The first row of a cursor as ``{column: value}`` (None without rows)."""
    r = first_row(cur.fetchall())
    if r is None:
        return None
    return dict(zip([d[0] for d in cur.description], r, strict=True))


def resolve_county(rows: Sequence[tuple[int, str]], county: object) -> int | None:
    """A county name ("Blair", "Blair County", any case), id, FIPS, or None for all.

    ``rows`` are the workspace's ``(id, name)`` pairs.

    >>> resolve_county([(13, "Blair"), (7, "Beaver")], "blair county")
    13
    >>> resolve_county([(13, "Blair"), (7, "Beaver")], 42013)
    13
    """
    if county is None:
        return None
    by_id = {r[0]: r[1] for r in rows}
    if isinstance(county, bool):
        raise UnknownCountyError(county, by_id.values())
    if isinstance(county, int) or (isinstance(county, str) and county.strip().isdigit()):
        n = int(county)
        if n in by_id:
            return n
        if 42000 < n < 43000 and n - 42000 in by_id:  # a FIPS code
            return n - 42000
        raise UnknownCountyError(county, by_id.values())
    if not isinstance(county, str):
        raise UnknownCountyError(county, by_id.values())
    text = re.sub(r"\s+", " ", county.strip().lower())
    text = re.sub(r"\s*county$", "", text).strip()
    if text in ("", "all", "all counties", "none"):
        return None
    exact = [i for i, name in by_id.items() if name.lower() == text]
    if exact:
        return exact[0]
    prefix = [name for name in by_id.values() if name.lower().startswith(text)]
    if len(prefix) == 1:
        return next(i for i, n in by_id.items() if n == prefix[0])
    if len(prefix) > 1:
        raise AmbiguousCountyError(
            f"County {county!r} is ambiguous: it matches {', '.join(sorted(prefix))}. "
            "Give the full name."
        )
    raise UnknownCountyError(county, by_id.values())


def check_workable(job: dict[str, Any]) -> None:
    """Raise unless the job can hand out work (paused and finished jobs cannot)."""
    status = job["status"]
    if status == "paused":
        reason = f" ({job['pause_reason']})" if job.get("pause_reason") else ""
        raise JobPausedError(
            f"Job {job['id']} is paused{reason}. Resume it first: "
            f"toolkit resume {job['id'][:8]} (or 'Resume batch job')."
        )
    if status in ("completed", "cancelled"):
        raise InvalidTransitionError(
            f"Job {job['id']} is {status}; it has no more batches. "
            "Start a new job for the remaining work (toolkit start …)."
        )


def counts_of(outcomes: Sequence[Any]) -> dict[str, int]:
    """How many outcomes are done, failed and skipped."""
    counts = {"done": 0, "failed": 0, "skipped": 0}
    for o in outcomes:
        counts[o.status] += 1
    return counts


# Pause requests for sessions running in this process, by job id: a session checks
# its event between items; a pause from this process sets it at once, and the
# Postgres listener sets it when a pause is committed anywhere.
_pause_events: dict[str, threading.Event] = {}
_pause_lock = threading.Lock()


def pause_event(job_id: str) -> threading.Event:
    """The in-process stop signal of a job's running sessions."""
    with _pause_lock:
        return _pause_events.setdefault(job_id, threading.Event())


def close_dead_sessions(con: Any, q: Any, now: dt.datetime) -> int:
    """Close the session rows of workers on this host that died (killed, crashed) with the
    counts they really finished and outcome ``killed``; returns how many."""
    from toolkit.backends.workers import is_dead

    rows = con.execute(q.sessions_open).fetchall()
    n = 0
    for session_id, _job, worker, _started in rows:
        if worker and is_dead(worker):
            note = (
                f"the process ({worker}) died before the session ended; "
                f"found {now:%Y-%m-%d %H:%M} UTC"
            )
            con.execute(q.session_close_dead, [now, note, session_id])
            n += 1
    return n
