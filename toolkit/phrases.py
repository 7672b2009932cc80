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
    "Round-robin across counties [for job type]",
    "Counties with the earliest auction first [for job type]",
    "Process [County] properties first [for job type]",
    "Short forms: status, resume, pause, What's pending?, active jobs, audit",
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

# Short forms people type, matched against the phrase's plain words (see _plain:
# lower case, no punctuation, contractions spelled out, filler words dropped).
_SHORT: list[tuple[str, str]] = [
    (
        r"(?:resume|continue|keep going|carry on|go on|unpause|proceed)"
        r"(?: (?:last|paused|batch|that|this|it|job|work|session|jobs|working|going|on))*"
        r"(?: (?:from )?where (?:we|i|it) (?:left off|stopped|were))?"
        r"|pick (?:it |things )?(?:back )?up(?: where (?:we|i|it) left off)?"
        r"|(?:start|run|do) (?:next|another) (?:session|batch)|next (?:session|batch)",
        "resume",
    ),
    (
        r"(?:show|check|get|see|what is|how is|view)?(?: on)?"
        r"(?: (?:job|batch|jobs|batch job|work))?(?: status| progress)"
        r"(?: of (?:job|batch job|work))?"
        r"|(?:job |batch |batch job |jobs )?(?:status|progress)(?: update| report| check)?"
        r"|where (?:are|were|is) (?:we|things|it|job)(?: at)?"
        r"|how (?:are|is) (?:we|it|job|things|work) (?:doing|going|coming along)"
        r"|how far (?:along )?(?:are we|is it|is job)",
        "status",
    ),
    (
        r"(?:(?:show|list|see|what is|what are|how much is|how much work is|how much|"
        r"anything|any|what|which) )?(?:work |jobs |items |properties )?"
        r"(?:is |are )?(?:still )?(?:pending|left|remaining|outstanding|waiting)"
        r"(?: work| jobs| items| properties| to do)?"
        r"|what (?:is|are) (?:there )?(?:left |still )?to do|what needs (?:doing|to be done)"
        r"|(?:show|list|see) (?:work|jobs|items) (?:pending|left|remaining|to do)"
        r"|(?:how much|what) work (?:is )?(?:there|left|to do)|work to do|todo|to do",
        "pending",
    ),
    (
        r"(?:(?:show|list|see|which|what) )?(?:active|running|open)(?: batch)? jobs"
        r"(?: are there)?|(?:list|show) (?:batch |all )?jobs|jobs|what is running"
        r"|what jobs are (?:active|running|open)",
        "active",
    ),
    (
        r"(?:run |do |start )?(?:data )?audit(?: data| workspace)?"
        r"|(?:audit|check) (?:data|workspace)",
        "audit",
    ),
    (
        r"(?:pause|stop|hold|halt|suspend)(?: (?:it|that|this|job|batch|batch job|work|session|"
        r"working|here|there|for now|for today|now|for))*"
        r"(?: we will continue later| continue later)?"
        r"|let us (?:stop|pause|take a break)(?: for now| here| for today)?|take (?:a )?break"
        r"|(?:that is|that will be) enough(?: for now| for today)?|enough for (?:now|today)",
        "pause",
    ),
]
_CONTRACTIONS = {
    "what's": "what is",
    "where's": "where is",
    "how's": "how is",
    "that's": "that is",
    "let's": "let us",
    "we'll": "we will",
    "we're": "we are",
    "i'd": "i would",
    "it's": "it is",
    "there's": "there is",
    "what're": "what are",
    "whats": "what is",
    "lets": "let us",
}
_FILLER = {
    "please",
    "can",
    "could",
    "would",
    "you",
    "me",
    "the",
    "a",
    "an",
    "my",
    "our",
    "now",
    "just",
    "kindly",
    "hey",
    "hi",
    "ok",
    "okay",
    "so",
    "then",
    "current",
    "currently",
    "right",
    "quick",
    "quickly",
    "thanks",
    "thank",
    "again",
}
_PREAMBLE = re.compile(
    r"^(?:i (?:want|need|would like|wanna) to |i (?:want|need) |tell what |"
    r"(?:let|help) (?!us\b)|(?:show|tell|give) (?:me )?(?=what|how|where)|"
    r"do (?:we|i) have |is there |are there )",
)

# The guide's multi-county options: Option B round-robin, Option C priority by
# auction date, and one county first ("Process Westmoreland properties first").
_ROUND_ROBIN = re.compile(
    r"\bround ?robin\b|\brotat(?:e|ing|ion)\b|\btake turns?\b|\btaking turns\b|\bin turn\b"
    r"|\b(?:from|of|in|for) each county\b|\beach county (?:in turn|alternately)\b"
    r"|\binterleav|\balternat(?:e|ing) (?:between |across |among )?(?:the )?counties"
    r"|\boption b\b|\bspread (?:it |the work |work )?(?:evenly )?(?:across|over) counties"
)
_AUCTION = re.compile(
    r"\bauction|\bupcoming sales?\b|\bsale dates?\b|\b(?:nearest|soonest|next|earliest|"
    r"closest|first) (?:tax )?sales?\b|\bsales? (?:is |are )?(?:soonest|sooner|first|"
    r"coming up|nearest)\b|\bpriority(?: based)?\b|\bprioriti[sz]e by\b|\boption c\b"
    r"|\bsell(?:s|ing)? (?:soonest|first)\b"
)
_FIRST = re.compile(
    r"\bfirst\b|^(?:focus|concentrate) on\b|^(?:start|begin) with\b|^prioriti[sz]e\b"
    r"|\bbefore (?:the )?(?:others|other counties|rest)\b|\boption a\b"
)
_QUESTION = re.compile(
    r"^(?:what|when|where|which|who|whose|why|how|is|are|was|were|does|did|has|have|show|list"
    r"|tell|see|display|any)\b"
)
_SIZE = re.compile(r"\bbatch(?:es)? of (\d+)\b|\b(\d+) (?:at a time|per batch|a batch)\b")

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
    for _ in range(3):  # "Hey, can you please …", "… now, thanks!"
        s = re.sub(
            r"^(?:please|can you|could you|would you|will you|hey|hi|ok|okay|so)\b,? ",
            "",
            s,
            flags=re.IGNORECASE,
        ).strip()
        s = s.rstrip(".!?").strip()
        s = re.sub(r",? (?:please|thanks|thank you|now)$", "", s, flags=re.IGNORECASE).strip()
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


def _plain(text: str) -> str:
    """A phrase's words: lower case, no punctuation, contractions spelled out, filler dropped.

    >>> _plain("Hey, can you show me what's pending?")
    'what is pending'
    """
    s = _normalise(text).lower()
    s = re.sub(r"[^\w\s'-]", " ", s).replace("-", " ")
    words = []
    for w in s.split():
        w = _CONTRACTIONS.get(w, w).replace("'", "")
        words.extend(w.split())
    s = " ".join(w for w in words if w not in _FILLER)
    for _ in range(3):  # "i would like to see …", "tell what …"
        s = _PREAMBLE.sub("", s)
    return s.strip()


def _spoken_names() -> list[tuple[str, str]]:
    """(words, job type) for every name a job type answers to, the longest first."""
    pairs = []
    for name in job_types():
        jt = get_job_type(name)
        for spoken in {name.replace("_", " "), *jt.aliases}:
            pairs.append((" ".join(re.sub(r"[^\w\s]", " ", spoken.lower()).split()), jt.name))
    return sorted(pairs, key=lambda p: -len(p[0]))


def _find_job_type(plain: str) -> str | None:
    for words, name in _spoken_names():
        if re.search(rf"\b{re.escape(words)}\b", plain):
            return name
    return None


def _find_county(plain: str) -> str | None:
    """A PA county named in the words ("westmoreland", "mckean"), as the county list spells it."""
    from toolkit.counties import PA_COUNTIES

    for county in sorted(PA_COUNTIES, key=len, reverse=True):
        if re.search(rf"\b{re.escape(county.lower())}\b", plain):
            return county
    return None


def _strategy_command(plain: str) -> Command | None:
    """The guide's multi-county options in a person's words, or None.

    Round-robin across counties, the earliest auction first, or one county first;
    a job type named in the phrase is used, else the first stage with pending work.
    """
    if _QUESTION.match(plain):  # "when is the next auction?" asks; it starts nothing
        return None
    county = _find_county(plain)
    if _ROUND_ROBIN.search(plain):
        strategy = "round_robin"
    elif _AUCTION.search(plain):
        strategy = "auction_date"
    elif county is not None and _FIRST.search(plain):
        strategy = "county"
    else:
        return None
    size = _SIZE.search(plain)
    return Command(
        "start",
        {
            "job_type": _find_job_type(plain),
            "county": county if strategy == "county" else None,
            "batch_size": int(size.group(1) or size.group(2)) if size else None,
            "strategy": strategy,
        },
    )


def parse_phrase(text: str) -> Command:
    """Parse one of the guide's phrases (see :data:`PHRASES`); no database is touched.

    Short forms work too ("status", "resume", "What's pending?", "pause"), and the
    guide's multi-county options: "round-robin across counties", "counties with the
    earliest auction first", "Process Westmoreland properties first" (a ``start``
    with ``strategy`` round_robin, auction_date or county; ``job_type`` None means
    the first stage with pending work).

    Raises :class:`~toolkit.exceptions.ValidationError` listing the phrases
    understood when ``text`` is none of them, and
    :class:`~toolkit.exceptions.UnknownJobTypeError` for an unknown job type.

    Examples
    --------
    >>> parse_phrase("Start Regrid scraping for Blair County in batches of 50").args
    {'job_type': 'regrid_scraping', 'county': 'Blair', 'batch_size': 50}
    >>> parse_phrase("how much work is pending?").action
    'pending'
    >>> parse_phrase("Process Westmoreland properties first").args
    {'job_type': None, 'county': 'Westmoreland', 'batch_size': None, 'strategy': 'county'}
    """
    if not isinstance(text, str):
        raise ValidationError(f"A phrase must be text, got {type(text).__name__} {text!r}.")
    s = _normalise(text)
    for pattern, action in _FIXED:
        if re.fullmatch(pattern, s, flags=re.IGNORECASE):
            return Command(action, {"job_type": None} if action == "resume" else {})
    plain = _plain(text)
    by_strategy = _strategy_command(plain)
    if by_strategy is not None:
        return by_strategy
    for pattern, action in _SHORT:
        if re.fullmatch(pattern, plain):
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
    if type(value).__name__ in ("NAType", "NaTType"):  # pandas' missing values
        return ""
    if hasattr(value, "isoformat"):
        try:
            import pandas as pd

            if pd.isna(value):
                return ""
        except (TypeError, ValueError):
            pass
        if hasattr(value, "date") and hasattr(value, "hour"):  # a datetime
            return value.isoformat(sep=" ", timespec="seconds")
        return value.isoformat()
    return str(value)


def jsonable(obj: Any) -> Any:
    """Turn frames, UUIDs, decimals, dates, timestamps, bytes, NaN/NaT and numpy values
    into plain JSON values (a frame becomes a list of records; missing values are null).

    Decimals become numbers (whole ones integers), bytes lower-case hex, dates and
    timestamps ISO 8601 text, durations seconds.

    >>> jsonable({"a": float("nan"), "b": [1, "x"]})
    {'a': None, 'b': [1, 'x']}
    >>> import uuid, decimal, datetime
    >>> jsonable([uuid.UUID(int=1), decimal.Decimal("1.50"), datetime.date(2027, 9, 13), b"\\x01"])
    ['00000000-0000-0000-0000-000000000001', 1.5, '2027-09-13', '01']
    """
    import datetime as dt
    import decimal
    import math
    import uuid

    if obj is None or isinstance(obj, bool | str):
        return obj
    if isinstance(obj, int):
        return int(obj)
    if isinstance(obj, float):
        return None if math.isnan(obj) or math.isinf(obj) else obj
    if hasattr(obj, "columns") and hasattr(obj, "itertuples"):  # a DataFrame
        cols = [str(c) for c in obj.columns]
        return [
            {c: jsonable(v) for c, v in zip(cols, row, strict=True)}
            for row in obj.itertuples(index=False, name=None)
        ]
    if isinstance(obj, dict):
        return {str(k): jsonable(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple | set | frozenset):
        return [jsonable(v) for v in obj]
    if isinstance(obj, uuid.UUID):
        return str(obj)
    if isinstance(obj, decimal.Decimal):
        if not obj.is_finite():
            return None
        return int(obj) if obj == obj.to_integral_value() else float(obj)
    if isinstance(obj, bytes | bytearray | memoryview):
        return bytes(obj).hex()
    if isinstance(obj, dt.timedelta):
        return obj.total_seconds()
    if isinstance(obj, dt.date | dt.time) and not type(obj).__module__.startswith("pandas"):
        return obj.isoformat()
    if type(obj).__module__.startswith(("numpy", "pandas")):
        return _jsonable_array_scalar(obj)
    if hasattr(obj, "to_dict") and callable(obj.to_dict):
        return jsonable(obj.to_dict())
    text = _text(obj)
    return text if text != "" else None


def _jsonable_array_scalar(obj: Any) -> Any:
    """numpy and pandas values: arrays, series, scalars, NaT, NA, timestamps, timedeltas."""
    import pandas as pd

    if hasattr(obj, "tolist") and int(getattr(obj, "ndim", 0) or 0) > 0:  # an array (a LIST cell)
        return [jsonable(v) for v in obj.tolist()]
    if isinstance(obj, pd.Series):
        return jsonable(obj.to_dict())
    try:
        if pd.isna(obj):
            return None
    except (TypeError, ValueError):
        pass
    if isinstance(obj, pd.Timedelta):
        return obj.total_seconds()
    if isinstance(obj, pd.Timestamp):
        return obj.isoformat()
    if hasattr(obj, "dtype") and obj.dtype.kind == "M":  # numpy datetime64
        return pd.Timestamp(obj).isoformat()
    if hasattr(obj, "dtype") and obj.dtype.kind == "m":  # numpy timedelta64
        return pd.Timedelta(obj).total_seconds()
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
        lines.append(f"{_batch_of(st)}; {st['failed_items']} failed, {st['skipped_items']} skipped")
    if st.get("pause_reason") and st["status"] == "paused":
        lines.append(f"Pause reason: {st['pause_reason']}")
    if st.get("last_error") and st["status"] in ("paused", "in_progress"):
        lines.append(f"Last error: {st['last_error']}")
    left = work_left(st.get("eta_seconds"))
    if left and st["status"] in ("paused", "in_progress") and int(st.get("pending_items") or 1):
        lines.append(left)
    if st["status"] in ("paused", "in_progress"):
        lines.append(_hint(st))
    return "\n".join(lines)


def _batch_of(st: dict[str, Any]) -> str:
    """The words "Batch N of M", N never past M (a batch claimed again counts once)."""
    total = int(st["total_batches"])
    current = int(st.get("current_batch") or 0)
    if st.get("status") == "completed":
        current = total
    return f"Batch {min(max(current, 0), total)} of {total}"


def work_left(eta: object) -> str:
    """The work left in words; "" when no rate is known yet.

    >>> work_left(0.4), work_left(None), work_left(200)
    ('', '', 'About 3 min of work left')
    >>> work_left(40)
    'Less than a minute of work left'
    """
    try:
        seconds = float(eta)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return ""
    if seconds != seconds or seconds <= 0.5:  # NaN, or nothing measurable left
        return ""
    if seconds < 60:
        return "Less than a minute of work left"
    return f"About {_duration(seconds)} of work left"


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


def _session(
    ws: Workspace, job_id: str, processor: Any, on_progress: Progress | None, st: dict[str, Any]
) -> RunResult:
    from toolkit.orchestrator import run_job_session

    jt = get_job_type(st["job_type"])
    expected = min(jt.per_session, int(st["pending_items"]))
    callback = None
    if on_progress is not None:

        def callback(d: dict[str, Any]) -> None:
            on_progress({**d, "session_total": expected, "noun": jt.noun})

    try:
        return run_job_session(ws, job_id, processor, on_progress=callback)
    except ImportError as exc:  # a processor whose module or dependency is missing
        raise ToolkitError(
            f"The {jt.name} processor cannot be loaded ({exc}); job {job_id[:8]} waits, "
            "resume it once the processor is there."
        ) from exc


def _no_processor(job_type: str) -> str:
    return (
        f"There is no {job_type} processor yet, so nothing was run: work the job's items in "
        f"its notebook ({job_type}.ipynb; toolkit lab opens the notebooks), or add a "
        f"{job_type} processor (docs/architecture.md, 'Adding a job type')."
    )


def _start(ws: Workspace, cmd: Command, processor: Any, on_progress: Progress | None) -> Result:
    from toolkit.workspace import ActiveJobsWarning, BatchSizeWarning

    a = dict(cmd.args)
    notes: list[str] = []
    strategy = a.get("strategy") or "county"
    if a["job_type"] is None:  # "round-robin across counties": the first stage with work
        picked = _first_stage_with_work(ws, a["county"])
        if picked is None:
            where = f"{a['county']} County" if a["county"] else "any county"
            return Result(cmd, f"Nothing is pending in {where}; nothing was started.")
        a["job_type"] = picked
        cmd = Command(cmd.action, a)
        notes.append(f"No job type named: {picked} is the first stage with pending work.")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        job_id = ws.create_batch_job(a["job_type"], a["county"], a["batch_size"], strategy=strategy)
    for w in caught:
        if issubclass(w.category, BatchSizeWarning | ActiveJobsWarning):
            notes.append(str(w.message))
        else:  # not ours to swallow
            warnings.warn_explicit(w.message, w.category, w.filename, w.lineno)
    st = ws.get_batch_status(job_id)
    head = (
        f"Created {_headline(st)}: {st['total_items']} {st['noun']} "
        f"in {st['total_batches']} batch{'es' if st['total_batches'] != 1 else ''}"
        f"{_ORDER_WORDS.get(strategy, '')}."
    )
    if int(st["total_items"]) == 0:
        msg = f"{head}\nNothing is pending for {st['job_type']} there; the job is done."
        return Result(cmd, msg, st, job_id, notes=notes)
    if not _has_processor(st["job_type"], processor):
        return Result(cmd, f"{head}\n{_no_processor(st['job_type'])}", st, job_id, notes=notes)
    summary = _session(ws, job_id, processor, on_progress, st)
    return Result(
        cmd, _session_message(head, summary), ws.get_batch_status(job_id), job_id, summary, notes
    )


_ORDER_WORDS = {
    "round_robin": ", round-robin across counties",
    "auction_date": ", counties with the earliest auction first",
}


def _first_stage_with_work(ws: Workspace, county: str | None) -> str | None:
    """The earliest pipeline stage with pending items (in ``county``, or anywhere)."""
    from toolkit.orchestrator import pending_count

    county_id = ws.county_id(county) if county is not None else None
    for name in job_types():
        if pending_count(ws, name, county_id) > 0:
            return name
    return None


def _session_message(head: str, summary: RunResult) -> str:
    lines = [
        head,
        f"This session: {summary.processed} done, {summary.failed} failed, "
        f"{summary.skipped} skipped.",
        summary.message,
    ]
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
