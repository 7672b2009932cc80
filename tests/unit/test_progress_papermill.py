"""The live display follows a session that runs in a papermill kernel (``toolkit run``).

The session is in another process; the display reads the job's status from the parent
about once a second. Piped output (as here) is one line per batch.
"""

from __future__ import annotations

import io
import os
import re
from pathlib import Path

import pytest
from helpers import load_sample

import toolkit
from toolkit.orchestrator import check_request
from toolkit.progress import LiveDisplay, StatusPoller

ROOT = Path(__file__).resolve().parents[2]
PROCS = """
import time
from helpers import parcel

def slow(item):
    time.sleep(0.03)
    return parcel(item)
"""

pytestmark = pytest.mark.slow


@pytest.fixture
def kernel_ws(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    (tmp_path / "procs.py").write_text(PROCS)
    paths = [str(tmp_path), str(ROOT / "tests"), os.environ.get("PYTHONPATH", "")]
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join(p for p in paths if p))
    db = str(tmp_path / "ws.duckdb")
    ws = toolkit.connect(db)
    load_sample(ws)
    ws.close()
    return db


def test_the_display_follows_a_session_in_a_papermill_kernel(kernel_ws: str) -> None:
    from toolkit.orchestrator.notebook import run_headless

    out = io.StringIO()
    display = LiveDisplay(out=out, tty=False, min_interval=0)
    ws = toolkit.connect(kernel_ws)
    req = check_request(
        "regrid_scraping", ws=ws, county="Blair", batch_size=25, max_batches=4, interactive=False
    )
    with display, StatusPoller(ws.url, display, interval=0.25) as poller:
        [result] = run_headless(
            "regrid_scraping",
            ws=ws,
            request=req,
            processor="procs:slow",
            surface="cli",
            on_start=poller.watch,
        )
    ws.close()
    assert result.processed == 100, result
    lines = out.getvalue().splitlines()
    # the job was found while the kernel worked it, and its batches were seen go by
    assert lines and all(ln.startswith(f"regrid_scraping {result.job_id[:8]}: ") for ln in lines)
    batches = [int(m[1]) for ln in lines if (m := re.search(r"batch (\d+) of 10", ln))]
    assert len(set(batches)) >= 2 and batches == sorted(batches), lines
    counts = [int(m[1]) for ln in lines if (m := re.search(r"(\d+)/235", ln))]
    assert counts == sorted(counts) and all(n <= 235 for n in counts)


def test_toolkit_run_piped_prints_a_line_a_batch_before_the_result(tmp_path: Path, capsys) -> None:
    from toolkit.cli import main
    from toolkit.demo import build_workspace_inputs

    db = str(tmp_path / "pdfs.duckdb")
    build_workspace_inputs(db).close()  # the sample's four sale-list PDFs
    code = main(["run", "pdf_parsing", "--db", db])
    out = capsys.readouterr().out
    assert code in (0, 13), out
    lines = out.splitlines()
    progress = [i for i, ln in enumerate(lines) if re.match(r"^pdf_parsing [0-9a-f]{8}: ", ln)]
    result = [i for i, ln in enumerate(lines) if "(exit " in ln]
    assert progress and result and progress[0] < result[0], out
    assert "█" not in out and "\x1b" not in out  # piped: plain lines, no bar, no escapes
