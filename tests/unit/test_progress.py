"""The command line's live progress display (toolkit/progress.py), without a terminal.

The renderer is a pure function; the display's terminal mode is rich's ``Live``, its piped
mode one plain line per batch; the poller reads a job's status from its own connection
while a session runs elsewhere (a thread here, a papermill kernel in
``test_progress_papermill.py``).
"""

from __future__ import annotations

import io
import os
import threading
import time
from pathlib import Path

import pytest

import toolkit
from toolkit.orchestrator import check_request
from toolkit.progress import (
    LiveDisplay,
    Rate,
    Snapshot,
    StatusPoller,
    bar,
    progress_line,
    snapshot_of_session,
    snapshot_of_status,
    time_left,
)

SNAP = Snapshot(
    "regrid_scraping",
    "861dbf8b-0000",
    "properties",
    done=148,
    failed=2,
    skipped=1,
    total=235,
    batch=3,
    total_batches=5,
    seconds_left=130.0,
)


def test_the_line_has_bar_counts_batch_and_time_left() -> None:
    line = progress_line(SNAP)
    assert line.startswith("regrid_scraping 861dbf8b █")
    for part in (
        "151/235 properties (64%)",
        "148 done, 2 failed, 1 skipped",
        "batch 3 of 5",
        "about 2 min left",
    ):
        assert part in line
    assert bar(151 / 235) in line


@pytest.mark.parametrize("width", [200, 120, 100, 80, 60, 40, 30])
def test_the_line_fits_the_terminal(width: int) -> None:
    line = progress_line(SNAP, width=width)
    assert len(line) <= width
    assert line.startswith("regrid_scraping 861dbf8b")
    if width >= 60:
        assert "151/235 properties (64%)" in line


def test_a_batch_number_past_the_total_is_never_shown() -> None:
    line = progress_line(Snapshot("t", "j", done=1, total=2, batch=5, total_batches=1))
    assert "batch 1 of 1" in line and "batch 5" not in line


def test_time_left_says_something_true() -> None:
    assert time_left(None) == "" and time_left(float("nan")) == ""
    assert time_left(0.2) == "less than a minute left"
    assert time_left(600) == "about 10 min left"
    assert "left" not in progress_line(Snapshot("t", "j", done=0, total=9, seconds_left=None))
    done = progress_line(Snapshot("t", "j", done=9, total=9, seconds_left=0.0))
    assert "left" not in done  # nothing is left: no time left either


def test_before_the_job_is_known() -> None:
    assert progress_line(Snapshot("pdf_parsing", note="starting the notebook…")) == (
        "pdf_parsing: starting the notebook…"
    )


def test_rate_from_what_was_seen() -> None:
    now = [0.0]
    rate = Rate(clock=lambda: now[0])
    rate.seen(10)
    assert rate.seconds_left(90) is None  # no progress seen yet: no rate
    now[0] = 10.0
    rate.seen(20)  # 10 items in 10 s
    assert rate.seconds_left(90) == pytest.approx(90.0)
    assert rate.seconds_left(0) is None or rate.seconds_left(0) == 0.0


def test_piped_output_is_one_line_a_batch() -> None:
    out = io.StringIO()
    display = LiveDisplay(out=out, tty=False, min_interval=0)
    with display:
        for batch, done in ((1, 10), (1, 20), (1, 50), (2, 60), (2, 100), (3, 110)):
            display.feed(
                Snapshot(
                    "regrid_scraping",
                    "861dbf8b-0000",
                    "properties",
                    done=done,
                    total=150,
                    batch=batch,
                    total_batches=3,
                )
            )
    lines = out.getvalue().splitlines()
    assert [ln.split(" · ")[-1] for ln in lines][:3] == [
        "batch 1 of 3",
        "batch 2 of 3",
        "batch 3 of 3",
    ] or len(lines) == 3
    assert len(lines) == 3
    assert lines[0] == (
        "regrid_scraping 861dbf8b: 10/150 properties (7%) · 10 done, 0 failed, 0 skipped · "
        "batch 1 of 3"
    )
    assert "█" not in out.getvalue() and "\x1b" not in out.getvalue()  # no bar, no escapes


def test_json_mode_shows_nothing() -> None:
    out = io.StringIO()
    with LiveDisplay(out=out, tty=False, enabled=False, min_interval=0) as display:
        display.feed(SNAP)
    assert out.getvalue() == ""


def test_terminal_mode_redraws_one_line() -> None:
    out = io.StringIO()
    with LiveDisplay(out=out, tty=True, min_interval=0) as display:
        display.feed(SNAP)
        time.sleep(0.3)
    text = out.getvalue()
    assert "151/235 properties" in text and "█" in text


def test_session_dicts_become_snapshots() -> None:
    snap = snapshot_of_session(
        {
            "job_id": "861dbf8b-0000",
            "job_type": "regrid_scraping",
            "session_processed": 40,
            "session_failed": 1,
            "session_skipped": 0,
            "session_batches": 1,
            "session_total": 150,
            "noun": "properties",
        }
    )
    assert progress_line(snap, with_bar=False).startswith(
        "regrid_scraping 861dbf8b: 41/150 properties (27%) · 40 done, 1 failed, 0 skipped"
    )


# --- the poller: a short status read from another connection, while a session works ---------


def test_the_poller_follows_a_session_running_elsewhere(sample_ws, db_path, backend) -> None:
    if backend != "duckdb":
        pytest.skip("the DuckDB file is what a status read must not block")
    from helpers import parcel

    def slow(item: dict) -> dict:
        time.sleep(0.01)
        return parcel(item)

    req = check_request("regrid_scraping", ws=sample_ws, county="Blair")
    out = io.StringIO()
    display = LiveDisplay(out=out, tty=False, min_interval=0)
    seen: list[Snapshot] = []
    feed = display.feed
    display.feed = lambda s: (seen.append(s), feed(s))  # type: ignore[method-assign]
    job = sample_ws.create_batch_job("regrid_scraping", "Blair", 10)
    with display, StatusPoller(db_path, display, interval=0.1) as poller:
        poller.watch(req)  # the job is found by its type and county, as the notebook finds it
        summary = sample_ws.run_session(job, slow, max_batches=8)
        time.sleep(0.3)
    finished = [s.finished for s in seen if s.total is not None]
    assert summary.processed == 80
    assert finished and finished == sorted(finished) and len(set(finished)) > 2, finished
    assert all(s.job_id == job for s in seen if s.total is not None)
    lines = out.getvalue().splitlines()
    assert len(lines) >= 3 and all(ln.startswith(f"regrid_scraping {job[:8]}: ") for ln in lines)


def test_a_busy_file_skips_the_tick(sample_ws, db_path, backend) -> None:
    if backend != "duckdb":
        pytest.skip("DuckDB's file lock")
    import subprocess
    import sys

    job = sample_ws.create_batch_job("regrid_scraping", "Blair", 10)
    req = check_request("regrid_scraping", ws=sample_ws, county="Blair", job_id=job)
    sample_ws.close()
    poller = StatusPoller(db_path, LiveDisplay(out=io.StringIO(), tty=False), read_timeout=0.2)
    poller.request, poller.job_id = req, job
    assert poller.poll() is not None  # it reads
    assert poller.ws is not None
    poller.ws.close()
    poller.ws = None
    code = f"import duckdb, time\ncon = duckdb.connect({db_path!r})\nprint('held', flush=True)\n"
    code += "time.sleep(3)\n"
    holder = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "held"
        started = time.monotonic()
        with pytest.raises(toolkit.exceptions.ToolkitError):
            poller.poll()  # the poller's loop catches this and skips the tick
        assert time.monotonic() - started < 2.0  # a short wait, never the session's 30 s
    finally:
        holder.wait(timeout=10)
        if holder.stdout is not None:
            holder.stdout.close()
        poller.stop()


def test_status_snapshot_reads_the_workspace(sample_ws) -> None:
    job = sample_ws.create_batch_job("regrid_scraping", "Blair", 50)
    snap = snapshot_of_status(sample_ws.get_batch_status(job))
    assert (snap.total, snap.finished, snap.total_batches, snap.noun) == (235, 0, 5, "properties")


def test_run_on_a_terminal_shows_the_live_line(tmp_path: Path) -> None:
    """``toolkit say`` in a pseudo-terminal: the line is drawn while the session works."""
    pty = pytest.importorskip("pty")
    root = Path(__file__).resolve().parents[2]
    db = tmp_path / "ws.duckdb"
    ws = toolkit.connect(str(db))
    from helpers import load_sample

    load_sample(ws)
    ws.close()
    procs = tmp_path / "procs.py"
    procs.write_text(
        "import time\nfrom helpers import parcel\n"
        "def slow(item):\n    time.sleep(0.02)\n    return parcel(item)\n"
    )
    code = (
        "import sys\nimport toolkit.processors as p\nimport procs\n"
        "p.register_processor('regrid_scraping', lambda ctx: procs.slow, replace=True)\n"
        "from toolkit.cli import main\n"
        f"sys.exit(main(['say', 'Start Regrid scraping for Blair County in batches of 50', "
        f"'--db', {str(db)!r}]))\n"
    )
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(tmp_path), str(root / "tests"), str(root)]),
        "COLUMNS": "120",
        "LINES": "30",
    }
    chunks: list[bytes] = []

    def read(fd: int) -> bytes:
        data = os.read(fd, 4096)
        chunks.append(data)
        return data

    pid, fd = pty.fork()
    if pid == 0:  # the child: the CLI on a terminal
        os.execve(os.sys.executable, [os.sys.executable, "-c", code], env)  # type: ignore[attr-defined]
    done = threading.Event()

    def pump() -> None:
        try:
            while read(fd):
                pass
        except OSError:
            pass
        done.set()

    threading.Thread(target=pump, daemon=True).start()
    os.waitpid(pid, 0)
    done.wait(5)
    text = b"".join(chunks).decode("utf-8", "replace")
    assert "█" in text and "properties (" in text, text[-2000:]
    assert "Paused at 150/235 properties (64%)" in text
