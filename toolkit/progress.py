"""The command line's live progress display for ``toolkit run`` and ``toolkit say``.

A :class:`Snapshot` is where a job stands (finished / failed / skipped of its total,
the batch, a rate); :func:`progress_line` renders one as a line of text, with a bar
on a terminal. :class:`LiveDisplay` keeps a snapshot on screen while a session runs:

* fed directly (:meth:`LiveDisplay.feed`) by a session in this process — ``toolkit say``
  passes the session runner's ``on_progress`` dicts; or
* by :class:`StatusPoller`, which reads the job's status from the workspace about once
  a second in a thread of the parent process — so it works whatever runs the session,
  a papermill kernel included (``toolkit run``). A read that cannot get the DuckDB file
  within a short wait skips that tick; a session lets go of the file between batches
  and whenever someone waits for it (``toolkit.backends.duckdb.store.Holder``).

On a terminal the display is one line redrawn in place (rich's ``Live``). When the
output is not a terminal it prints one plain line per batch (at most one a second),
and nothing at all for ``--json``.
"""

from __future__ import annotations

import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import IO, TYPE_CHECKING, Any

if TYPE_CHECKING:
    from toolkit.orchestrator import SessionRequest
    from toolkit.workspace import Workspace

BAR_WIDTH = 24


@dataclass(frozen=True)
class Snapshot:
    """Where a job (or a session) stands, as the display shows it."""

    job_type: str
    job_id: str | None = None
    noun: str = "items"
    done: int = 0
    failed: int = 0
    skipped: int = 0
    total: int | None = None
    batch: int | None = None
    total_batches: int | None = None
    status: str | None = None
    seconds_left: float | None = None
    note: str = ""

    @property
    def finished(self) -> int:
        return self.done + self.failed + self.skipped


def bar(fraction: float, width: int = BAR_WIDTH) -> str:
    """A text bar: ``bar(0.5, 10)`` → ``'█████░░░░░'``.

    >>> bar(0.5, 10), bar(0, 4), bar(1.7, 4)
    ('█████░░░░░', '░░░░', '████')
    """
    filled = round(max(0.0, min(1.0, fraction)) * width)
    return "█" * filled + "░" * (width - filled)


def time_left(seconds: float | None) -> str:
    """The time left in words; "" when no rate is known yet.

    >>> time_left(None), time_left(20), time_left(150), time_left(7200)
    ('', 'less than a minute left', 'about 2 min left', 'about 2.0 h left')
    """
    if seconds is None or seconds != seconds or seconds < 0:
        return ""
    if seconds < 60:
        return "less than a minute left"
    if seconds < 5400:
        return f"about {round(seconds / 60)} min left"
    return f"about {seconds / 3600:.1f} h left"


def progress_line(snap: Snapshot, *, with_bar: bool = True, width: int | None = None) -> str:
    """One line saying where a job stands; the bar only on a terminal.

    >>> s = Snapshot("regrid_scraping", "861dbf8b-aaaa", "properties", done=148, failed=2,
    ...              total=235, batch=3, total_batches=5, seconds_left=130)
    >>> print(progress_line(s, with_bar=False))
    regrid_scraping 861dbf8b: 150/235 properties (64%) · 148 done, 2 failed, 0 skipped · batch 3 of 5 · about 2 min left
    >>> print(progress_line(Snapshot("regrid_scraping", note="starting the notebook…")))
    regrid_scraping: starting the notebook…
    >>> print(progress_line(s, width=80))
    regrid_scraping 861dbf8b ███████░░░░ 150/235 properties (64%) · about 2 min left

    ``width``: the line fits it — the bar shrinks, then the details go, least useful first.
    """  # noqa: E501
    head = snap.job_type + (f" {snap.job_id[:8]}" if snap.job_id else "")
    if snap.total is None:
        return f"{head}: {snap.note or 'waiting for the session…'}"
    total = max(snap.total, 0)
    finished = min(snap.finished, total) if total else snap.finished
    pct = round(100 * finished / total) if total else 100
    count = f"{finished}/{total} {snap.noun} ({pct}%)"
    counts = f"{snap.done} done, {snap.failed} failed, {snap.skipped} skipped"
    batch = ""
    if snap.total_batches:
        current = min(max(snap.batch or 0, 0), snap.total_batches)
        batch = f"batch {current} of {snap.total_batches}"
    working = snap.status not in ("paused", "completed", "cancelled")
    left = time_left(snap.seconds_left) if finished < total and working else ""
    fraction = finished / total if total else 1.0
    # richest first; on a narrow terminal the batch goes, then the bar, then the counts
    tries = [
        ([count, counts, batch, left, snap.note], True),
        ([count, counts, left], True),
        ([count, counts, left], False),
        ([count, left], True),
        ([count, left], False),
        ([count], False),
    ]
    for parts, want_bar in tries if with_bar else [(t[0], False) for t in tries[:1]]:
        text = " · ".join(p for p in parts if p)
        if want_bar:
            room = BAR_WIDTH if width is None else min(BAR_WIDTH, width - len(head) - len(text) - 2)
            if room < 8:
                continue
            line = f"{head} {bar(fraction, room)} {text}"
        else:
            line = f"{head}: {text}"
        if width is None or len(line) <= width:
            return line
    return line[:width]


class Rate:
    """Items a second, measured from the snapshots seen (None until there is progress)."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self.clock = clock
        self.first: tuple[float, int] | None = None
        self.last: tuple[float, int] | None = None

    def seen(self, finished: int) -> None:
        now = self.clock()
        if self.first is None or finished < self.first[1]:
            self.first = (now, finished)
        if self.last is None or finished != self.last[1]:
            self.last = (now, finished)

    def seconds_left(self, remaining: int) -> float | None:
        if self.first is None or self.last is None or remaining <= 0:
            return None if remaining > 0 else 0.0
        items = self.last[1] - self.first[1]
        seconds = self.last[0] - self.first[0]
        if items <= 0 or seconds <= 0:
            return None
        return remaining * seconds / items


def snapshot_of_status(st: dict[str, Any], note: str = "") -> Snapshot:
    """A job's :meth:`~toolkit.workspace.Workspace.get_batch_status` as a snapshot."""
    return Snapshot(
        job_type=str(st["job_type"]),
        job_id=str(st["job_id"]),
        noun=str(st.get("noun") or "items"),
        done=int(st["processed_items"]),
        failed=int(st["failed_items"]),
        skipped=int(st["skipped_items"]),
        total=int(st["total_items"]),
        batch=int(st.get("current_batch") or 0),
        total_batches=int(st.get("total_batches") or 0),
        status=str(st["status"]),
        note=note,
    )


def snapshot_of_session(d: dict[str, Any]) -> Snapshot:
    """A session runner's ``on_progress`` dict (plus ``session_total``) as a snapshot."""
    total = d.get("session_total")
    return Snapshot(
        job_type=str(d.get("job_type") or "session"),
        job_id=d.get("job_id"),
        noun=str(d.get("noun") or "items"),
        done=int(d.get("session_processed") or 0),
        failed=int(d.get("session_failed") or 0),
        skipped=int(d.get("session_skipped") or 0),
        total=int(total) if total is not None else None,
        batch=int(d.get("session_batches") or 0) or None,
        note="this session",
    )


class LiveDisplay:
    """Keeps the latest snapshot on screen: redrawn on a terminal, a line a batch otherwise.

    ``tty`` None: ask ``out``. ``enabled`` False: show nothing (``--json``).
    """

    def __init__(
        self,
        *,
        out: IO[str] | None = None,
        tty: bool | None = None,
        enabled: bool = True,
        min_interval: float = 1.0,
    ) -> None:
        self.out = out if out is not None else sys.stdout
        self.tty = self.out.isatty() if tty is None else tty
        self.enabled = enabled
        self.min_interval = min_interval
        self.rate = Rate()
        self.snap: Snapshot | None = None
        self._live: Any = None
        self._console: Any = None
        self._held = False
        self._lock = threading.Lock()
        self._printed: tuple[Any, ...] | None = None
        self._printed_at = 0.0

    def __enter__(self) -> LiveDisplay:
        self.resume()
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def resume(self) -> None:
        """Show the line again (a session starts)."""
        with self._lock:
            self._held = False
            if self.enabled and self.tty and self._live is None:
                from rich.console import Console
                from rich.live import Live
                from rich.text import Text

                console = Console(file=self.out, soft_wrap=False, force_terminal=True)
                self._console = console
                self._live = Live(Text(""), console=console, refresh_per_second=4, transient=True)
                self._live.start()

    def close(self) -> None:
        """Stop showing the line until :meth:`resume` (a session ended: its result says
        where the job stands, so a stale line is not left under it)."""
        with self._lock:
            self._held = True
            self.snap = None
            self.rate = Rate()
            live, self._live = self._live, None
            if live is not None:
                live.stop()  # transient: the line goes

    def feed(self, snap: Snapshot) -> None:
        """Show ``snap`` (any thread)."""
        if not self.enabled:
            return
        with self._lock:
            if self._held:
                return
            if snap.total is not None:
                self.rate.seen(snap.finished)
                left = self.rate.seconds_left(max(snap.total - snap.finished, 0))
                snap = replace(snap, seconds_left=left)
            self.snap = snap
            if self._live is not None:
                from rich.text import Text

                width = max(20, self._console.width - 1)
                self._live.update(Text(progress_line(snap, width=width), no_wrap=True))
                return
            self._print_line(snap)

    def _print_line(self, snap: Snapshot) -> None:
        # one line a batch (and when the job's state changes), at most one a min_interval
        if snap.total is None:
            return
        key = (snap.job_id, snap.batch, snap.status)
        now = time.monotonic()
        if key == self._printed or now - self._printed_at < self.min_interval:
            return
        self._printed, self._printed_at = key, now
        print(progress_line(snap, with_bar=False), file=self.out, flush=True)


class StatusPoller:
    """Reads a job's status about once a second from this process and feeds a display.

    ``request`` names the job type and county scope; until its job is known (the
    notebook opens or starts it) the poller looks for the newest active job of that
    scope, as :func:`~toolkit.orchestrator.open_job` does.
    """

    def __init__(
        self, url: str, display: LiveDisplay, *, interval: float = 1.0, read_timeout: float = 0.5
    ) -> None:
        self.url = url
        self.ws: Workspace | None = None  # its own, opened on the first tick
        self.display = display
        self.interval = interval
        self.read_timeout = read_timeout
        self.request: SessionRequest | None = None
        self.job_id: str | None = None
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def watch(self, request: SessionRequest) -> None:
        """Follow the session about to start for ``request`` (the runner's ``on_start``)."""
        self.request = request
        self.job_id = request.job_id
        self.display.resume()
        if self.display.enabled:
            self.display.feed(
                Snapshot(request.job_type, request.job_id, note="starting the notebook…")
            )
        if self._thread is None and self.display.enabled:
            self._thread = threading.Thread(target=self._loop, name="toolkit-progress", daemon=True)
            self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=self.read_timeout + 1.0)
            if self._thread.is_alive():  # still reading: it closes its workspace itself
                return
        if self.ws is not None:
            self.ws.close()
            self.ws = None

    def __enter__(self) -> StatusPoller:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def _loop(self) -> None:
        while not self._stop.is_set():
            try:
                snap = self.poll()
            except Exception:  # a locked file, a busy server: skip this tick
                snap = None
            if snap is not None and not self._stop.is_set():
                self.display.feed(snap)
            self._stop.wait(self.interval)

    def poll(self) -> Snapshot | None:
        """One short read: the job's status, or None (not started yet, or the file busy)."""
        from toolkit.orchestrator import find_active_job

        req = self.request
        if req is None:
            return None
        if self.ws is None:
            import toolkit

            # a short wait for the file: a busy DuckDB file skips the tick, never the session
            self.ws = toolkit.connect(self.url, lock_timeout=self.read_timeout)
        if self.job_id is None:
            found = find_active_job(self.ws, req.job_type, req.county_id)
            if found is None or found["status"] == "paused":
                return None  # the notebook has not opened (or resumed) it yet
            self.job_id = str(found["job_id"])
        return snapshot_of_status(self.ws.get_batch_status(self.job_id))
