"""Many processes, one DuckDB file: the guide's example across sessions, SIGKILL, concurrency."""

from __future__ import annotations

import json
import os
import signal
import time

import pytest
from helpers import load_sample, popen_py, run_py

import toolkit
from toolkit.exceptions import LockTimeoutError


def test_guide_blair_example_across_two_processes(db_path):
    ws = toolkit.connect(db_path)
    load_sample(ws)
    ws.close()
    first = run_py(
        """
        import sys, toolkit, json
        from helpers import parcel
        ws = toolkit.connect(sys.argv[1])
        job = ws.create_batch_job("regrid_scraping", "Blair", 50)
        s = ws.run_session(job, parcel)
        print(json.dumps({"job": job, "message": s.message, "hint": s.resume_hint}))
        """,
        db_path,
    )
    out = json.loads(first.stdout.strip().splitlines()[-1])
    assert out["message"] == "Paused at 150/235 properties (64%)"
    assert "Resume with: 'Resume batch job'" in out["hint"]
    second = run_py(
        """
        import sys, toolkit, json
        from helpers import parcel
        ws = toolkit.connect(sys.argv[1])
        job = ws.resume_batch_job()
        first_item = ws.sql("SELECT min(seq) AS s FROM batch_job_items WHERE job_id = $1::UUID "
                            "AND status = 'pending'", [job]).s[0]
        s = ws.run_session(job, parcel)
        print(json.dumps({"job": job, "first_seq": int(first_item), "message": s.message,
                          "processed": s.processed}))
        """,
        db_path,
    )
    out2 = json.loads(second.stdout.strip().splitlines()[-1])
    assert out2["job"] == out["job"]
    assert out2["first_seq"] == 150  # property 151
    assert out2["processed"] == 85 and out2["message"] == "Completed 235/235 properties (100%)"
    ws = toolkit.connect(db_path)
    assert (
        ws.sql("SELECT count(*) AS n FROM regrid_data WHERE job_id = $1::UUID", [out["job"]]).n[0]
        == 235
    )
    assert ws.sql("SELECT max(attempts) AS a FROM batch_job_items").a[0] == 1


def test_sigkilled_session_resumes_with_nothing_twice_or_lost(db_path, tmp_path):
    ws = toolkit.connect(db_path)
    load_sample(ws)
    job = ws.create_batch_job("regrid_scraping", None, 50)
    total = ws.get_batch_status(job)["total_items"]
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
    # wait until a few checkpoints have landed, then kill without warning
    deadline = time.time() + 60
    while time.time() < deadline:
        time.sleep(0.3)
        if log.exists() and len(log.read_text().split()) > 300:
            break
    os.kill(worker.pid, signal.SIGKILL)
    worker.communicate()
    ws = toolkit.connect(db_path)
    done_before = set(
        ws.sql(
            "SELECT item_id FROM batch_job_items WHERE job_id = $1::UUID AND status = 'done'", [job]
        ).item_id
    )
    assert 0 < len(done_before) < total
    st = ws.get_batch_status(job)
    assert st["status"] == "in_progress"  # interrupted, not paused: nobody said so
    calls_before = log.read_text().split()
    ws.close()
    # no manual recovery: resume picks it up, the dead worker's claims come back
    run_py(
        """
        import sys, toolkit
        ws = toolkit.connect(sys.argv[1])
        log = open(sys.argv[3], "a", buffering=1)
        def fast(item):
            log.write(item["item_id"] + "\\n")
            return {"source": "test", "parcelnumb": item["parcel_id"]}
        job = ws.resume_batch_job()
        assert job == sys.argv[2], job
        s = ws.run_session(job, fast, max_items=100000)
        assert s.status == "completed", s
        """,
        db_path,
        job,
        str(log),
    )
    calls_after = log.read_text().split()[len(calls_before) :]
    assert not done_before & set(calls_after), "an item done before the kill was processed again"
    ws = toolkit.connect(db_path)
    st = ws.get_batch_status(job)
    assert st["status"] == "completed" and st["processed_items"] == total
    assert (
        ws.sql("SELECT count(*) AS n FROM regrid_data WHERE job_id = $1::UUID", [job]).n[0] == total
    )
    assert set(calls_before) | set(calls_after) == set(
        ws.sql("SELECT item_id FROM batch_job_items WHERE job_id = $1::UUID", [job]).item_id
    )


def test_second_process_reads_and_pauses_while_a_session_runs(db_path):
    ws = toolkit.connect(db_path)
    load_sample(ws)
    job = ws.create_batch_job("regrid_scraping", None, 50)
    ws.close()
    runner = popen_py(
        """
        import sys, time, json, toolkit
        ws = toolkit.connect(sys.argv[1])
        def fast(item):
            time.sleep(0.002)
            return {"source": "test", "parcelnumb": item["parcel_id"]}
        s = ws.run_session(sys.argv[2], fast, max_items=100000)
        print(json.dumps(s.to_dict()))
        """,
        db_path,
        job,
    )
    time.sleep(1.5)  # the session is working and holds the file between checkpoints
    other = toolkit.connect(db_path, lock_timeout=10)
    t0 = time.monotonic()
    st = other.get_batch_status(job)
    read_s = time.monotonic() - t0
    assert st["status"] == "in_progress"
    t0 = time.monotonic()
    other.pause_batch_job(job)
    pause_s = time.monotonic() - t0
    other.close()
    out, err = runner.communicate(timeout=60)
    assert runner.returncode == 0, err
    summary = json.loads(out.strip().splitlines()[-1])
    assert summary["status"] == "paused" and summary["outcome"] == "paused"
    assert read_s < 3 and pause_s < 3, (read_s, pause_s)
    ws = toolkit.connect(db_path)
    st = ws.get_batch_status(job)
    assert st["status"] == "paused" and st["processed_items"] == summary["processed"]
    assert st["processed_items"] < st["total_items"]


def test_lock_timeout_names_the_holder(db_path):
    toolkit.connect(db_path).close()
    holder = popen_py(
        """
        import sys, time, duckdb
        con = duckdb.connect(sys.argv[1])
        print("holding", flush=True)
        time.sleep(30)
        """,
        db_path,
    )
    assert holder.stdout.readline().strip() == "holding"
    try:
        with pytest.raises(LockTimeoutError, match=rf"PID {holder.pid}"):
            toolkit.connect(db_path, lock_timeout=0.5)
    finally:
        holder.kill()
        holder.communicate()
