"""Records tell the truth after pauses, resumes and kills: batch numbers, session rows."""

from __future__ import annotations

import math

from helpers import parcel

BACKENDS = ("duckdb", "postgres")


def test_batch_numbers_never_pass_the_total(sample_ws):
    ws = sample_ws
    job = ws.create_batch_job("regrid_scraping", "Somerset", 7)
    st = ws.get_batch_status(job)
    total_batches = st["total_batches"]
    seen = []
    # short sessions that stop mid-batch, each followed by a resume: the claims go back
    # and are claimed again, which once counted a new batch every time (27/26)
    while st["status"] != "completed":
        s = ws.run_session(job, parcel, max_items=3)
        st = ws.get_batch_status(job)
        seen.append(st["current_batch"])
        assert st["current_batch"] <= total_batches, (st["current_batch"], total_batches)
        finished = st["processed_items"] + st["failed_items"] + st["skipped_items"]
        # the batch of the furthest item handed out
        assert st["current_batch"] == max(1, math.ceil(finished / 7)), (finished, st)
        if s.status == "paused":
            ws.resume_batch_job(job)
    assert seen[-1] == total_batches and len(seen) > total_batches


def test_a_killed_sessions_record_is_closed_with_its_real_counts(db_path, tmp_path):
    import os
    import signal
    import time

    from helpers import load_sample, popen_py

    import toolkit

    ws = toolkit.connect(db_path)
    load_sample(ws)
    job = ws.create_batch_job("regrid_scraping", None, 50)
    ws.close()
    log = tmp_path / "calls.log"
    worker = popen_py(
        """
        import sys, time, toolkit
        ws = toolkit.connect(sys.argv[1])
        log = open(sys.argv[3], "a", buffering=1)
        def slow(item):
            log.write(item["item_id"] + "\\n")
            time.sleep(0.004)
            return {"source": "test", "parcelnumb": item["parcel_id"]}
        ws.run_session(sys.argv[2], slow, max_items=100000)
        """,
        db_path,
        job,
        str(log),
    )
    deadline = time.time() + 60
    while time.time() < deadline:
        time.sleep(0.3)
        if log.exists() and len(log.read_text().split()) > 300:
            break
    os.kill(worker.pid, signal.SIGKILL)
    worker.communicate()
    ws = toolkit.connect(db_path)
    done = int(ws.get_batch_status(job)["processed_items"])
    open_row = ws.sql("SELECT outcome, items FROM sessions WHERE job_id = $1::UUID", [job])
    assert open_row.outcome.isna().all()  # the record a kill leaves: nothing said
    ws.resume_batch_job(job)  # the next write that opens the job closes the dead session
    row = ws.sql(
        "SELECT outcome, items, failed, ended_at FROM sessions WHERE job_id = $1::UUID", [job]
    ).iloc[0]
    assert row.outcome == "killed" and int(row["items"]) == done > 0 and int(row.failed) == 0
    assert row.ended_at is not None
    ws.close()


def test_a_killed_runners_notebook_is_kept_under_a_killed_name(tmp_path):
    """`toolkit run` killed while its notebook runs: the next run keeps the partial record
    as ….killed.ipynb (a whole notebook: every write is a rename), never a stray .running."""
    import json
    import os
    import signal
    import subprocess
    import sys
    import time

    import nbformat

    import toolkit
    import toolkit.demo

    db = str(tmp_path / "ws.duckdb")
    ws = toolkit.connect(db)
    ws.import_properties(toolkit.demo.sample_properties())
    ws.close()
    runs = tmp_path / "runs" / "regrid_scraping"
    env = {**os.environ, "PYTHONPATH": str(tmp_path)}
    (tmp_path / "slowproc.py").write_text(
        "import time\n"
        "def parcel(item):\n"
        "    time.sleep(0.2)\n"
        "    return {'source': 'test', 'parcelnumb': item['parcel_id']}\n"
    )
    code = (
        "import sys; from toolkit.orchestrator.notebook import run_headless; "
        "run_headless('regrid_scraping', db=sys.argv[1], processor='slowproc:parcel')"
    )
    runner = subprocess.Popen(
        [sys.executable, "-c", code, db], env=env, cwd=tmp_path, start_new_session=True
    )
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and not list(runs.glob("*.running.ipynb")):
        time.sleep(0.2)
    time.sleep(3)  # the kernel is working
    os.killpg(runner.pid, signal.SIGKILL)  # the runner and its kernel, without warning
    runner.wait()
    stray = list(runs.glob("*.running.ipynb"))
    assert stray  # what a kill leaves
    nbformat.read(stray[0], as_version=4)  # whole, not truncated
    from toolkit.orchestrator.notebook import keep_killed_runs

    kept = keep_killed_runs(runs)
    assert [p.name for p in kept if p.suffix == ".ipynb"] == [
        stray[0].name.replace(".running.", ".killed.")
    ]
    assert not list(runs.glob("*.running.*"))
    assert json.loads(json.dumps(nbformat.read(kept[0], as_version=4)))["cells"]
