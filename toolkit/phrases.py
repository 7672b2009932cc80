"""The guide's plain-English phrases ("Start Regrid scraping for Blair County in batches of 50").

:func:`parse_phrase` turns a phrase into a :class:`Command` without touching a
database; :func:`say` carries the command out through the workspace API and
returns a :class:`Result` that prints as the guide's example session does
("Paused at 150/235 properties (64%)" / "Resume with: 'Resume batch job'") and
carries a DataFrame or dict for notebooks.

The same phrases work from the shell (``toolkit say "…"``) and in notebooks
(``%toolkit …`` after ``%load_ext toolkit.notebook.magic``).
"""

from __future__ import annotations

import re
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from toolkit.exceptions import JobNotFoundError, ToolkitError, ValidationError
from toolkit.jobs.registry import get_job_type, job_types

if TYPE_CHECKING:
    import pandas as pd

    from toolkit.orchestrator import RunResult
    from toolkit.workspace import Workspace

__all__ = ["PHRASES", "Command", "Result", "describe_status", "parse_phrase", "say"]

#: The phrases understood, as the guide writes them (matching ignores case).
PHRASES: tuple[str, ...] = (
    "Start [job type] for [County | all counties] in batches of [size]",
    "Resume batch job",
    "Continue from where we left off",
    "Resume [job type] job",
    "Show batch job status",
    "How much work is pending?",
    "What work is pending?",
    "Show pending work",
    "Show active batch jobs",
    "Run data audit",
    "Pause batch job",
    "Stop for now, we'll continue later",
)

ACTIONS: tuple[str, ...] = ("start", "resume", "status", "pending", "active", "audit", "pause")


@dataclass(frozen=True)
class Command:
    """A parsed phrase: what to do and with which arguments.

    Examples
    --------
    >>> parse_phrase("Resume batch job")
    Command(action='resume', args={'job_type': None})
    """

    action: str
    args: dict[str, Any] = field(default_factory=dict)


# Each pattern is matched against the whole normalised phrase, ignoring case.
# Order matters: "Resume batch job" must win over "Resume [job type] job".
_FIXED: list[tuple[str, str]] = [
    (r"(?:resume|continue)(?: the)?(?: batch)? job", "resume"),
    (r"continue(?: from)? where we left off", "resume"),
    (r"show(?: the)?(?: batch)?(?: job)? status", "status"),
    (r"(?:how much|what) work is pending", "pending"),
    (r"show(?: the)? pending work", "pending"),
    (r"show(?: the)? active(?: batch)? jobs", "active"),
    (r"run(?: a| the)? data audit", "audit"),
    (r"pause(?: the)?(?: batch)? job", "pause"),
    (r"stop for now(?:,? we'?ll continue later)?", "pause"),
]
_START = re.compile(
    r"start (?:a |the )?(?P<job_type>.+?)(?: (?:batch )?jobs?)?"
    r"(?: for (?P<county>.+?))?(?: in batches of (?P<size>\S+))?",
    re.IGNORECASE,
)
_RESUME_TYPE = re.compile(r"resume (?:the )?(?P<job_type>.+?)(?: (?:batch )?job)?", re.IGNORECASE)
_ALL_COUNTIES = {"all counties", "all", "every county", "all the counties"}


def _normalise(text: str) -> str:
    s = str(text).replace("\u2019", "'").replace("\u2018", "'")
    s = s.replace("\u201c", '"').replace("\u201d", '"')
    s = " ".join(s.split())
    s = s.strip().strip("\"'").strip()
    s = re.sub(r"^please,? ", "", s, flags=re.IGNORECASE)
    s = re.sub(r",? please$", "", s, flags=re.IGNORECASE)
    return s.rstrip(".!?").strip()


def _unknown(text: str) -> ValidationError:
    names = ", ".join(" ".join(n.split("_")).capitalize() for n in job_types())
    listing = "\n".join(f"  - {p}" for p in PHRASES)
    return ValidationError(
        f"Unknown phrase {text!r}. Phrases understood (case does not matter):\n{listing}\n"
        f"Job types: {names}."
    )


def _batch_size(raw: str | None) -> int | None:
    if raw is None:
        return None
    if not raw.isdigit():
        raise ValidationError(
            f"Batch size {raw!r} is not a whole number; say e.g. 'in batches of 50'."
        )
    return int(raw)


def _county(raw: str | None) -> str | None:
    if raw is None:
        return None
    text = raw.strip()
    if text.lower() in _ALL_COUNTIES:
        return None
    # "Blair County" and "Blair" name the same county; the workspace resolves the rest
    text = re.sub(r"(?:^|\s+)county$", "", text, flags=re.IGNORECASE).strip()
    if not text:
        raise ValidationError(f"No county named in {raw!r}; say e.g. 'for Blair County'.")
    return text


def parse_phrase(text: str) -> Command:
    """Parse one of the guide's phrases (see :data:`PHRASES`); no database is touched.

    Raises :class:`~toolkit.exceptions.ValidationError` listing the phrases
    understood when ``text`` is none of them, and
    :class:`~toolkit.exceptions.UnknownJobTypeError` for an unknown job type.

    Examples
    --------
    >>> parse_phrase("Start Regrid scraping for Blair County in batches of 50").args
    {'job_type': 'regrid_scraping', 'county': 'Blair', 'batch_size': 50}
    >>> parse_phrase("how much work is pending?").action
    'pending'
    """
    if not isinstance(text, str):
        raise ValidationError(f"A phrase must be text, got {type(text).__name__} {text!r}.")
    s = _normalise(text)
    for pattern, action in _FIXED:
        if re.fullmatch(pattern, s, flags=re.IGNORECASE):
            return Command(action, {"job_type": None} if action == "resume" else {})
    m = _START.fullmatch(s)
    if m:
        jt = get_job_type(m["job_type"])
        return Command(
            "start",
            {
                "job_type": jt.name,
                "county": _county(m["county"]),
                "batch_size": _batch_size(m["size"]),
            },
        )
    m = _RESUME_TYPE.fullmatch(s)
    if m:
        return Command("resume", {"job_type": get_job_type(m["job_type"]).name})
    raise _unknown(text)


# --- results -------------------------------------------------------------------


@dataclass
class Result:
    """What a phrase did: a printable ``message`` plus ``data`` for notebooks.

    ``data`` is a DataFrame (pending work, active jobs), a dict (a job's status;
    the audit's ``gaps`` and ``stages`` frames) or None. ``summary`` is the
    session's :class:`~toolkit.orchestrator.RunResult` when a session ran.
    """

    command: Command
    message: str
    data: Any = None
    job_id: str | None = None
    summary: RunResult | None = None
    notes: list[str] = field(default_factory=list)

    @property
    def exit_code(self) -> int:
        """The session's exit code (see :data:`toolkit.orchestrator.EXIT_CODES`); 0 without one."""
        return self.summary.exit_code if self.summary is not None else 0

    def __str__(self) -> str:
        return "\n".join([*(f"Note: {n}" for n in self.notes), self.message])

    def _repr_pretty_(self, p: Any, cycle: bool) -> None:  # IPython plain-text display
        p.text(str(self))

    def _repr_html_(self) -> str:
        import html

        parts = [f"<pre>{html.escape(str(self))}</pre>"]
        for title, frame in _frames(self.data):
            if title:
                parts.append(f"<h4>{html.escape(title)}</h4>")
            parts.append(frame.to_html(index=False, na_rep=""))
        return "\n".join(parts)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict (frames as lists of records)."""
        return {
            "action": self.command.action,
            "args": dict(self.command.args),
            "message": self.message,
            "notes": list(self.notes),
            "job_id": self.job_id,
            "data": jsonable(self.data),
            "summary": self.summary.to_dict() if self.summary is not None else None,
        }


def _frames(data: Any) -> list[tuple[str, pd.DataFrame]]:
    if data is None:
        return []
    if hasattr(data, "to_html"):
        return [("", data)] if len(data) else []
    if isinstance(data, dict) and data and all(hasattr(v, "to_html") for v in data.values()):
        return [(k, v) for k, v in data.items()]
    if isinstance(data, dict):
        import pandas as pd

        return [
            ("", pd.DataFrame({"field": list(data), "value": [_text(v) for v in data.values()]}))
        ]
    return []


def _text(value: Any) -> str:
    if value is None or (isinstance(value, float) and value != value):
        return ""
    if hasattr(value, "isoformat"):
        try:
            import pandas as pd

            if pd.isna(value):
                return ""
        except (TypeError, ValueError):
            pass
        return (
            value.isoformat(sep=" ", timespec="seconds")
            if hasattr(value, "hour")
            else value.isoformat()
        )
    return str(value)


def jsonable(obj: Any) -> Any:
    """Turn frames, timestamps, NaN and numpy scalars into plain JSON values.

    >>> jsonable({"a": float("nan"), "b": [1, "x"]})
    {'a': None, 'b': [1, 'x']}
    """
    import json
    import math

    if obj is None or isinstance(obj, bool | int | str):
        return obj
    if isinstance(obj, float):
        return None if math.isnan(obj) else obj
    if hasattr(obj, "to_json") and hasattr(obj, "columns"):
        return json.loads(obj.to_json(orient="records", date_format="iso"))
    if isinstance(obj, dict):
        return {str(k): jsonable(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [jsonable(v) for v in obj]
    if hasattr(obj, "to_dict") and callable(obj.to_dict):
        return jsonable(obj.to_dict())
    if hasattr(obj, "item") and callable(obj.item):  # numpy scalar
        return jsonable(obj.item())
    text = _text(obj)
    return text if text != "" else None


# --- messages ------------------------------------------------------------------


def _finished(st: dict[str, Any]) -> int:
    return int(st["processed_items"]) + int(st["failed_items"]) + int(st["skipped_items"])


def _count(st: dict[str, Any]) -> str:
    total, done = int(st["total_items"]), _finished(st)
    pct = round(100 * done / total) if total else 100
    return f"{done}/{total} {st.get('noun') or 'items'} ({pct}%)"


def _progress(st: dict[str, Any]) -> str:
    label = {
        "completed": "Completed",
        "paused": "Paused at",
        "in_progress": "In progress:",
        "pending": "Not started:",
        "cancelled": "Cancelled at",
    }.get(str(st["status"]), f"{str(st['status']).capitalize()}:")
    return f"{label} {_count(st)}"


def _where(st: dict[str, Any]) -> str:
    county = st.get("county")
    return f"{county} County" if isinstance(county, str) and county else "all counties"


def _headline(st: dict[str, Any]) -> str:
    job = str(st["job_id"])[:8]
    return f"{st['job_type']} job {job} ({_where(st)}, batches of {st['batch_size']})"


def _hint(st: dict[str, Any]) -> str:
    return f"Resume with: 'Resume batch job' (toolkit resume {str(st['job_id'])[:8]})"


def describe_status(st: dict[str, Any]) -> str:
    """A few lines about one job, from :meth:`Workspace.get_batch_status`.

    Examples
    --------
    >>> st = {"job_id": "861dbf8b-0000", "job_type": "regrid_scraping", "county": "Blair",
    ...       "batch_size": 50, "status": "paused", "total_items": 235, "processed_items": 150,
    ...       "failed_items": 0, "skipped_items": 0, "noun": "properties", "current_batch": 3,
    ...       "total_batches": 5}
    >>> print(describe_status(st))
    regrid_scraping job 861dbf8b (Blair County, batches of 50)
    Paused at 150/235 properties (64%)
    Batch 3 of 5; 0 failed, 0 skipped
    Resume with: 'Resume batch job' (toolkit resume 861dbf8b)
    """
    lines = [_headline(st), _progress(st)]
    if st.get("total_batches"):
        lines.append(
            f"Batch {st.get('current_batch') or 0} of {st['total_batches']}; "
            f"{st['failed_items']} failed, {st['skipped_items']} skipped"
        )
    if st.get("pause_reason") and st["status"] == "paused":
        lines.append(f"Pause reason: {st['pause_reason']}")
    if st.get("last_error") and st["status"] in ("paused", "in_progress"):
        lines.append(f"Last error: {st['last_error']}")
    eta = st.get("eta_seconds")
    if eta is not None and eta == eta and st["status"] in ("paused", "in_progress") and eta > 0:
        lines.append(f"About {_duration(float(eta))} of work left")
    if st["status"] in ("paused", "in_progress"):
        lines.append(_hint(st))
    return "\n".join(lines)


def _duration(seconds: float) -> str:
    if seconds < 90:
        return f"{round(seconds)} s"
    if seconds < 5400:
        return f"{round(seconds / 60)} min"
    return f"{seconds / 3600:.1f} h"


# --- execution -----------------------------------------------------------------

Progress = Callable[[dict[str, Any]], None]


def say(
    ws: Workspace,
    text: str,
    *,
    processor: Callable[..., Any] | str | None = None,
    on_progress: Progress | None = None,
) -> Result:
    """Carry out one of the guide's phrases on ``ws`` and say what happened.

    "Start …" creates the job and, when the job type has a processor (or
    ``processor`` is given), runs one session of it; "Resume …" resumes the most
    recent paused job and runs one session the same way.

    Parameters
    ----------
    processor
        Passed to :meth:`Workspace.run_session` (None: the job type's own).
    on_progress
        Called after each item of a session with the session's progress dict
        plus ``session_total`` (the items this session expects to do).

    Examples
    --------
    >>> import toolkit
    >>> ws = toolkit.connect(":memory:")
    >>> print(say(ws, "What work is pending?"))
    No pending work.
    """
    cmd = parse_phrase(text)
    handler = _HANDLERS[cmd.action]
    return handler(ws, cmd, processor, on_progress)


def _latest_active(ws: Workspace, status: str | None = None) -> dict[str, Any] | None:
    frame = ws.active_jobs()  # newest first
    if status is not None:
        frame = frame[frame.status == status]
    if frame.empty:
        return None
    return ws.get_batch_status(str(frame.job_id.iloc[0]))


def latest_active_job(ws: Workspace) -> str:
    """The id of the most recently updated active job, or a clear error when there is none."""
    st = _latest_active(ws)
    if st is None:
        raise JobNotFoundError(
            "No active batch jobs; start one (toolkit start JOB_TYPE, or "
            "'Start [job type] for [County] in batches of [size]')."
        )
    return str(st["job_id"])


def _has_processor(job_type: str, processor: object) -> bool:
    from toolkit.orchestrator import has_work_processor

    return has_work_processor(job_type, processor)


def _session(ws: Workspace, job_id: str, processor: Any, on_progress: Progress | None,
             st: dict[str, Any]) -> RunResult:  # fmt: skip
    from toolkit.orchestrator import run_job_session

    jt = get_job_type(st["job_type"])
    expected = min(jt.per_session, int(st["pending_items"]))
    callback = None
    if on_progress is not None:

        def callback(d: dict[str, Any]) -> None:
            on_progress({**d, "session_total": expected})

    try:
        return run_job_session(ws, job_id, processor, on_progress=callback)
    except ImportError as exc:  # a processor whose module or dependency is missing
        raise ToolkitError(
            f"The {jt.name} processor cannot be loaded ({exc}); job {job_id[:8]} waits, "
            "resume it once the processor is there."
        ) from exc


def _no_processor(job_type: str) -> str:
    return (
        f"There is no {job_type} processor yet, so nothing was run: work the job in its "
        f"notebook (get_next_batch / update_batch_progress), or register one with "
        f"toolkit.processors.register_processor({job_type!r}, factory)."
    )


def _start(ws: Workspace, cmd: Command, processor: Any, on_progress: Progress | None) -> Result:
    from toolkit.workspace import ActiveJobsWarning, BatchSizeWarning

    a = cmd.args
    notes: list[str] = []
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        job_id = ws.create_batch_job(a["job_type"], a["county"], a["batch_size"])
    for w in caught:
        if issubclass(w.category, BatchSizeWarning | ActiveJobsWarning):
            notes.append(str(w.message))
        else:  # not ours to swallow
            warnings.warn_explicit(w.message, w.category, w.filename, w.lineno)
    st = ws.get_batch_status(job_id)
    head = (
        f"Created {_headline(st)}: {st['total_items']} {st['noun']} "
        f"in {st['total_batches']} batch{'es' if st['total_batches'] != 1 else ''}."
    )
    if int(st["total_items"]) == 0:
        msg = f"{head}\nNothing is pending for {st['job_type']} there; the job is done."
        return Result(cmd, msg, st, job_id, notes=notes)
    if not _has_processor(st["job_type"], processor):
        return Result(cmd, f"{head}\n{_no_processor(st['job_type'])}", st, job_id, notes=notes)
    summary = _session(ws, job_id, processor, on_progress, st)
    return Result(cmd, _session_message(head, summary), ws.get_batch_status(job_id), job_id,
                  summary, notes)  # fmt: skip


def _session_message(head: str, summary: RunResult) -> str:
    lines = [head, f"This session: {summary.processed} done, {summary.failed} failed, "
                   f"{summary.skipped} skipped.", summary.message]  # fmt: skip
    if summary.failures:
        first = summary.failures[0]
        lines.append(f"First failure: {first['item_id']}: {first['error']}")
    if summary.resume_hint:
        lines.append(summary.resume_hint)
    return "\n".join(lines)


def _resume(ws: Workspace, cmd: Command, processor: Any, on_progress: Progress | None) -> Result:
    job_id = ws.resume_batch_job(job_type=cmd.args.get("job_type"))
    st = ws.get_batch_status(job_id)
    head = f"Resumed {_headline(st)} at {_count(st)}."
    if st["status"] == "completed" or int(st["pending_items"]) == 0:
        return Result(cmd, f"{head}\n{describe_status(st)}", st, job_id)
    if not _has_processor(st["job_type"], processor):
        return Result(cmd, f"{head}\n{_no_processor(st['job_type'])}", st, job_id)
    summary = _session(ws, job_id, processor, on_progress, st)
    return Result(
        cmd, _session_message(head, summary), ws.get_batch_status(job_id), job_id, summary
    )


def _status(ws: Workspace, cmd: Command, processor: Any, on_progress: Progress | None) -> Result:
    st = _latest_active(ws)
    if st is None:
        return Result(
            cmd, "No active batch jobs. Ask 'What work is pending?' to pick one to start."
        )
    return Result(cmd, describe_status(st), st, str(st["job_id"]))


def _pending(ws: Workspace, cmd: Command, processor: Any, on_progress: Progress | None) -> Result:
    frame = ws.get_pending_work_summary()
    if frame.empty:
        return Result(cmd, "No pending work.", frame)
    lines = ["Pending work:"]
    for row in frame.itertuples(index=False):
        n = int(row.sessions)
        line = (
            f"- {row.job_type}: {int(row.pending):,} pending (~{n} session{'s' if n != 1 else ''})"
        )
        waiting = int(getattr(row, "waiting", 0) or 0)  # items held back by an earlier stage
        lines.append(line + (f", {waiting:,} waiting for an earlier stage" if waiting else ""))
    return Result(cmd, "\n".join(lines), frame)


def _active(ws: Workspace, cmd: Command, processor: Any, on_progress: Progress | None) -> Result:
    frame = ws.active_jobs()
    if frame.empty:
        return Result(cmd, "No active batch jobs.", frame)
    n = len(frame)
    lines = [f"{n} active batch job{'s' if n != 1 else ''}:"]
    for st in frame.to_dict("records"):
        st["noun"] = get_job_type(st["job_type"]).noun if st["job_type"] in job_types() else "items"
        lines.append(f"- {_headline(st)}: {_progress(st)}")
    return Result(cmd, "\n".join(lines), frame)


def _audit(ws: Workspace, cmd: Command, processor: Any, on_progress: Progress | None) -> Result:
    report = ws.run_data_audit()
    gaps, stages = report["gaps"], report["stages"]
    if stages.empty:
        return Result(cmd, "Data audit: no properties yet; import some first.", report)
    lines = [f"Data audit: {int(stages['listed'].sum()):,} properties in {len(stages)} counties."]
    if not gaps.empty:
        lines += ["", "Gaps (active properties):", gaps.to_string(index=False)]
    lines += ["", "Pipeline stages:", stages.to_string(index=False)]
    return Result(cmd, "\n".join(lines), report)


def _pause(ws: Workspace, cmd: Command, processor: Any, on_progress: Progress | None) -> Result:
    try:
        job_id = ws.pause_batch_job()
    except JobNotFoundError:
        # A session that reached its budget has paused its job already: say
        # where it stands rather than fail, as the guide's example expects.
        st = _latest_active(ws, "paused")
        if st is None:
            raise
        msg = f"{_headline(st)} is paused already.\n{_progress(st)}\n{_hint(st)}"
        return Result(cmd, msg, st, str(st["job_id"]))
    st = ws.get_batch_status(job_id)
    return Result(cmd, f"Paused {_headline(st)}.\n{_progress(st)}\n{_hint(st)}", st, job_id)


_HANDLERS: dict[str, Callable[[Workspace, Command, Any, Progress | None], Result]] = {
    "start": _start,
    "resume": _resume,
    "status": _status,
    "pending": _pending,
    "active": _active,
    "audit": _audit,
    "pause": _pause,
}
