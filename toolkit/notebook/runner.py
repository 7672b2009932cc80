"""A job notebook's session, in its kernel: check the parameters cell, run one session,
print what happened, and tell the caller.

:func:`check_parameters` validates the ``parameters`` cell before anything changes;
:func:`run_notebook_session` runs one session through the orchestrator (the same
code every surface uses), prints a summary and this session's failures, and writes
the result to ``summary_path`` as JSON for the runner around the notebook
(:mod:`toolkit.orchestrator.notebook`).
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

from toolkit.orchestrator import (
    RunResult,
    SessionRequest,
    check_request,
    run_one,
)

NotebookParams = SessionRequest  # what a notebook's parameters cell checks into


def check_parameters(job_type: str, **params: Any) -> SessionRequest:
    """Validate a job notebook's ``parameters`` cell; reads the workspace, changes nothing.

    Raises :class:`~toolkit.exceptions.ValidationError` naming the bad value and
    what is accepted (see :func:`toolkit.orchestrator.check_request`).

    Examples
    --------
    >>> from toolkit.notebook import check_parameters
    >>> check_parameters("regrid_scraping", db=":memory:", batch_size="ten")
    Traceback (most recent call last):
    ...
    toolkit.exceptions.ValidationError: Parameter batch_size='ten' (str) must be a whole ...
    """
    return check_request(job_type, **params)


def _write_summary(params: SessionRequest, result: RunResult) -> None:
    if params.summary_path:
        Path(params.summary_path).write_text(json.dumps(result.to_dict(), default=str, indent=1))


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


def run_notebook_session(params: SessionRequest) -> dict[str, Any]:
    """One headless session of the notebook's job; prints a summary and the failures.

    Returns the result as a dict (also written to ``params.summary_path``).

    Examples
    --------
    >>> from toolkit.notebook import check_parameters, run_notebook_session
    >>> p = check_parameters("regrid_scraping", db=":memory:", processor="json:dumps")
    >>> run_notebook_session(p)["outcome"]
    Nothing pending for regrid_scraping in all counties.
    'no_work'
    """
    from toolkit.jobs import get_job_type

    noun = get_job_type(params.job_type).noun
    ws = params.connect()
    try:
        # a crash mid-session still names the job: the runner reads this file
        def crashed(job_id: str) -> None:
            _write_summary(params, RunResult(job_id, "failed", 1, "the session crashed"))

        result = run_one(
            ws,
            params,
            on_progress=_Printer(noun),
            say=lambda text: print(text, flush=True),
            on_job=crashed,
        )
    finally:
        ws.close()
    if result.outcome not in ("no_work", "no_processor"):
        print(result.message)
        if result.resume_hint:
            print(result.resume_hint)
        print(
            f"This session: {result.counts} (outcome: {result.outcome}, exit {result.exit_code})."
        )
        show_failures(list(result.failures))
    elif result.outcome == "no_processor":
        print(result.message)
    _write_summary(params, result)
    return result.to_dict()


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


__all__ = ["NotebookParams", "check_parameters", "run_notebook_session", "show_failures"]
