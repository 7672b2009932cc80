"""Hostile PDFs through a real pdf_parsing job on a real DuckDB workspace.

Each poison kind of ``tests/poison.py`` fails its item with a reason in plain words and
the job goes on to the next document; a pause during a parse that stalls reaches the
session within a few seconds and leaves the item pending, not failed.
"""

from __future__ import annotations

import shutil
import threading
import time
from pathlib import Path

import poison
import pytest

import toolkit

ROOT = Path(__file__).resolve().parents[2]
GOOD = ROOT / "data" / "sample" / "pdfs" / "somerset_upset_ruled.pdf"

# what a person reads for each kind (the parser's or the child's limits' words)
PLAIN = {
    "inflating (1 GiB stream)": "expands past the",
    "stalling (3M operators)": "took longer than the",
    "20 flipped bytes": "the PDF is damaged",
    "truncated at half": "the PDF is damaged",
    "not a PDF": "not a PDF",
}
CRYPTIC = ("Exception", "Traceback", "Non-Ascii85 digit found:\n", "Error(")


@pytest.fixture
def workspace(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("TOOLKIT_PDF_SECONDS", "15")
    monkeypatch.setenv("TOOLKIT_PDF_MEMORY_MB", "1000")
    ws = toolkit.connect(str(tmp_path / "ws.duckdb"))
    yield ws
    ws.close()


def _statuses(ws, job: str) -> dict[str, str]:
    frame = ws.sql("SELECT item_id, status FROM batch_job_items WHERE job_id = $1::UUID", [job])
    return dict(zip(frame.item_id, frame.status, strict=True))


def test_every_poison_kind_fails_its_item_in_plain_words_and_the_job_goes_on(
    workspace, tmp_path: Path
) -> None:
    ws = workspace
    ids = {}
    for k, (name, make) in enumerate(poison.ALL.items()):
        path = make(tmp_path / f"a{k}_{name.split()[0]}.pdf")  # paths sort before the good list
        ids[name] = ws.add_document(path, "Blair")
    good = shutil.copy(GOOD, tmp_path / "z_good.pdf")
    good_id = ws.add_document(good, "Somerset")
    job = ws.create_batch_job("pdf_parsing")
    summary = ws.run_session(job)
    assert (summary.processed, summary.failed) == (1, len(poison.ALL)), summary
    assert summary.status == "completed"
    failed = ws.failed_items(job).set_index("item_id").error.to_dict()
    for name, doc in ids.items():
        reason = failed[doc]
        assert PLAIN[name] in reason, (name, reason)
        assert not any(c in reason for c in CRYPTIC), (name, reason)
    assert "page 1" in failed[ids["inflating (1 GiB stream)"]]
    assert _statuses(ws, job)[good_id] == "done"
    assert int(ws.sql("SELECT count(*) AS n FROM properties").n[0]) == 140


def test_a_flipped_copy_never_overwrites_the_good_list(workspace, tmp_path: Path) -> None:
    ws = workspace
    ws.add_document(poison.GOOD, "Blair")
    ws.run_session(ws.create_batch_job("pdf_parsing"))
    before = ws.sql("SELECT parcel_norm, upset_price FROM properties ORDER BY 1")
    for seed in range(1, 4):
        ws.add_document(poison.flipped(tmp_path / f"flipped{seed}.pdf", seed=seed), "Blair")
    job = ws.create_batch_job("pdf_parsing")
    summary = ws.run_session(job)
    after = ws.sql("SELECT parcel_norm, upset_price FROM properties ORDER BY 1")
    assert before.equals(after)
    # a copy that did parse would show its differences as conflicts, never as new prices
    assert summary.failed + summary.processed == 3


def test_a_pause_during_a_stalling_parse_lands_and_leaves_the_item_pending(
    workspace, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TOOLKIT_PDF_SECONDS", "300")  # the pause, not the deadline, stops it
    ws = workspace
    stall = ws.add_document(poison.stalling(tmp_path / "a_stall.pdf"), "Blair")
    ws.add_document(shutil.copy(GOOD, tmp_path / "z_good.pdf"), "Somerset")
    job = ws.create_batch_job("pdf_parsing")
    done: dict[str, object] = {}
    t = threading.Thread(target=lambda: done.update(summary=ws.run_session(job)))
    t.start()
    deadline = time.monotonic() + 60
    while _statuses(ws, job).get(stall) != "claimed" and time.monotonic() < deadline:
        time.sleep(0.2)
    time.sleep(2.0)  # the child is inside the page by now
    asked = time.monotonic()
    ws.pause_batch_job(job, reason="pause during a long parse")
    t.join(60)
    landed = time.monotonic() - asked
    assert not t.is_alive(), "the session did not stop"
    assert landed < 30, landed  # well inside the 300 s limit: the child was stopped
    status = ws.get_batch_status(job)
    assert status["status"] == "paused"
    assert _statuses(ws, job)[stall] == "pending"
    assert status["failed_items"] == 0
