"""The ``%toolkit`` line magic: the guide's phrases in a notebook cell.

Load it with ``%load_ext toolkit.notebook.magic``, then::

    %toolkit Start Regrid scraping for Blair County in batches of 50
    %toolkit --db data/other.duckdb Show batch job status

The workspace is, in order: ``--db PATH`` on the line, the ``ws`` variable of
the notebook when it is a :class:`~toolkit.workspace.Workspace`, else
``toolkit.connect()`` ($TOOLKIT_DB, else data/toolkit.duckdb). The magic
returns a :class:`~toolkit.phrases.Result`, shown as text and a table; its
``data`` is the DataFrame or dict behind it.
"""

from __future__ import annotations

import shlex
from typing import TYPE_CHECKING, Any

from toolkit.exceptions import ValidationError

if TYPE_CHECKING:
    from toolkit.phrases import Result
    from toolkit.workspace import Workspace

_USAGE = "Usage: %toolkit [--db PATH] PHRASE   (e.g. %toolkit Show pending work)"


def split_line(line: str) -> tuple[str | None, str]:
    """Split a magic line into (db, phrase).

    >>> split_line("--db ws.duckdb Show pending work")
    ('ws.duckdb', 'Show pending work')
    >>> split_line("Stop for now, we'll continue later")
    (None, "Stop for now, we'll continue later")
    """
    text = line.strip()
    db: str | None = None
    if text.startswith("--db"):
        rest = text[len("--db") :]
        if not rest.strip(" ="):
            raise ValidationError(f"No path after --db in {line!r}. {_USAGE}")
        if rest.startswith("="):
            rest = rest[1:]
        elif not rest[:1].isspace():
            raise ValidationError(f"Cannot read {line!r}. {_USAGE}")
        try:  # the path may be quoted; the phrase may hold an apostrophe, so split once
            lexer = shlex.shlex(rest.strip(), posix=True)
            lexer.whitespace_split = True
            db = next(iter(lexer))
            text = lexer.instream.read().strip()  # type: ignore[call-arg]  # io.StringIO
        except (StopIteration, ValueError) as exc:
            raise ValidationError(f"No path after --db in {line!r}. {_USAGE}") from exc
    if not text:
        raise ValidationError(f"No phrase given. {_USAGE}")
    return db, text


def _workspace(db: str | None, user_ns: dict[str, Any]) -> Workspace:
    import toolkit
    from toolkit.workspace import Workspace

    if db is not None:
        return toolkit.connect(db)
    ws = user_ns.get("ws")
    if isinstance(ws, Workspace):
        return ws
    return toolkit.connect()


def toolkit_magic(
    line: str, user_ns: dict[str, Any] | None = None, *, progress: Any = None
) -> Result:
    """Run one ``%toolkit`` line (what the magic calls); ``progress`` gets session progress.

    >>> print(toolkit_magic("--db :memory: What work is pending?"))
    No pending work.
    """
    from toolkit.phrases import parse_phrase, say

    db, phrase = split_line(line)
    parse_phrase(phrase)  # a bad phrase fails before any workspace is opened
    ws = _workspace(db, user_ns or {})
    return say(ws, phrase, on_progress=progress)


def _progress_bar() -> Any:
    """A widget progress bar when ipywidgets is there (notebooks), else nothing."""
    try:
        import ipywidgets
        from IPython.display import display
    except ImportError:
        return None
    state: dict[str, Any] = {}

    def update(d: dict[str, Any]) -> None:
        done = int(d["session_processed"]) + int(d["session_failed"]) + int(d["session_skipped"])
        if "bar" not in state:
            state["bar"] = ipywidgets.IntProgress(
                value=0,
                min=0,
                max=max(int(d.get("session_total") or 1), 1),
                description=str(d.get("job_type", "")),
            )
            display(state["bar"])
        state["bar"].value = min(done, state["bar"].max)

    return update


def load_ipython_extension(ip: Any) -> None:
    """Register ``%toolkit`` (called by ``%load_ext toolkit.notebook.magic``)."""

    def toolkit(line: str) -> Result:
        # a widget bar only where a kernel can show it (not in a terminal IPython)
        progress = _progress_bar() if getattr(ip, "kernel", None) is not None else None
        return toolkit_magic(line, ip.user_ns, progress=progress)

    toolkit.__doc__ = f"Do what one of the guide's phrases says. {_USAGE}"
    ip.register_magic_function(toolkit, magic_kind="line", magic_name="toolkit")


def unload_ipython_extension(ip: Any) -> None:
    """Remove ``%toolkit`` again (``%unload_ext toolkit.notebook.magic``)."""
    ip.magics_manager.magics["line"].pop("toolkit", None)
