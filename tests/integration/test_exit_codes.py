"""One table of exit codes, the same through every surface that runs a session.

The table lives in :mod:`toolkit.orchestrator` (``EXIT_CODES``) and in docs/cli.md. Two
situations are run through each surface: a job whose every item is skipped (it finishes,
but nothing was done: exit 13, never a plain "completed"), and a person's pause mid-session
(exit 10 everywhere; it was 11 with ``--workers`` before, and 10 through the runner).
"""

from __future__ import annotations

import re
import threading
import time
from pathlib import Path

import pytest
from backends import drop, fresh_postgres, require_postgres

import toolkit
from toolkit.cli import main
from toolkit.orchestrator import EXIT_CODES, check_request, exit_code, run_one

ROOT = Path(__file__).resolve().parents[2]
SAMPLE = ROOT / "data" / "sample" / "properties.csv"


@pytest.fixture
def nothing_researched(tmp_path, monkeypatch):
    """A research file with no counties: every county_research item is skipped."""
    path = tmp_path / "county_research.yaml"
    path.write_text("counties: {}\n")
    monkeypatch.setenv("TOOLKIT_COUNTY_RESEARCH", str(path))
    return path


def _workspace(db: str) -> str:
    ws = toolkit.connect(db)
    ws.import_properties(SAMPLE)
    ws.close()
    return db


def test_the_table_is_documented_in_the_cli_docs():
    doc = (ROOT / "docs" / "cli.md").read_text()
    section = doc[doc.index("## Exit codes") :]
    for outcome, (code, _) in EXIT_CODES.items():
        assert re.search(rf"\|\s*{code}\s*\|[^\n]*`{outcome}`", section), (code, outcome)


def test_all_skipped_reads_as_finished_with_failures_through_run(
    tmp_path, nothing_researched, capsys
):
    db = _workspace(str(tmp_path / "ws.duckdb"))
    code = main(["run", "county_research", "--db", db])
    out = capsys.readouterr().out
    assert code == 13, out
    assert "finished_with_failures (exit 13)" in out and "4 skipped" in out
    assert "Completed" not in out


def test_all_skipped_through_say_the_panel_and_python(tmp_path, nothing_researched, capsys):
    from toolkit.notebook import ControlPanel

    db = _workspace(str(tmp_path / "ws.duckdb"))
    # a phrase
    code = main(["say", "Start county research for all counties in batches of 10", "--db", db])
    out = capsys.readouterr().out
    assert code == 13 and "0 done, 0 failed, 4 skipped" in out, out
    # the control panel
    ws = toolkit.connect(db)
    ws.sql("DELETE FROM batch_job_items")
    ws.sql("DELETE FROM batch_jobs")
    panel = ControlPanel("county_research", db)
    panel.start()
    result = panel.wait(60)
    assert result is not None and result.exit_code == 13 and result.skipped == 4
    assert "Completed" not in panel.message.value and "4 skipped" in panel.message.value
    # Python, as the notebook kernel runs it
    ws.sql("DELETE FROM batch_job_items")
    ws.sql("DELETE FROM batch_jobs")
    r = run_one(ws, check_request("county_research", ws=ws), say=lambda _: None)
    assert (r.outcome, r.exit_code, r.skipped) == ("finished_with_failures", 13, 4)


@pytest.mark.postgres
def test_all_skipped_through_local_workers(nothing_researched, capsys):
    require_postgres()
    url = fresh_postgres()
    try:
        _workspace(url)
        code = main(["run", "county_research", "--workers", "2", "--db", url])
        out = capsys.readouterr().out
        assert code == 13 and "finished_with_failures (exit 13)" in out, out
    finally:
        drop(url)


def _pause_midway(ws, job_type: str, run) -> object:
    """Run ``run()`` in a thread; pause the job from here once some items are done."""
    box: dict[str, object] = {}
    t = threading.Thread(target=lambda: box.update(result=run()), daemon=True)
    t.start()
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        active = ws.active_jobs()
        if len(active) and int(active.processed_items.max()) >= 3:
            break
        time.sleep(0.05)
    ws.pause_batch_job(reason="a person paused it")
    t.join(60)
    return box["result"]


def test_a_persons_pause_is_exit_10_in_a_session(tmp_path):
    db = _workspace(str(tmp_path / "ws.duckdb"))
    ws = toolkit.connect(db)
    req = check_request("regrid_scraping", ws=ws, county="Blair", processor="helpers:slow_parcel")
    result = _pause_midway(ws, "regrid_scraping", lambda: run_one(ws, req, say=lambda _: None))
    assert (result.outcome, result.exit_code) == ("paused", 10)


@pytest.mark.postgres
def test_a_persons_pause_is_exit_10_with_local_workers():
    from toolkit.orchestrator.workers import run_workers

    require_postgres()
    url = fresh_postgres()
    try:
        ws = toolkit.connect(_workspace(url))
        req = check_request(
            "regrid_scraping", ws=ws, county="Blair", processor="helpers:slow_parcel"
        )
        result = _pause_midway(ws, "regrid_scraping", lambda: run_workers(ws, req, 2))
        assert (result.outcome, result.exit_code) == ("paused", 10), result
        st = ws.get_batch_status(result.job_id)
        assert st["status"] == "paused" and 0 < st["processed_items"] < st["total_items"]
        ws.close()
    finally:
        drop(url)


def test_exit_code_of_an_unknown_outcome_is_a_failure():
    assert exit_code("no such outcome") == 1
