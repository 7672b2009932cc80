"""Many worker processes on one Postgres job: none lost, none done twice, kills included."""

from __future__ import annotations

import os
import signal
import time

import pytest

import toolkit
from toolkit.orchestrator.workers import run_worker, start_local_workers, stop_local_workers

pytestmark = pytest.mark.postgres
BACKENDS = ("postgres",)
N_ITEMS = 50_000


def _done(ws, job) -> int:
    return int(
        ws.sql(
            "SELECT count(*) AS n FROM batch_job_items WHERE job_id = $1::UUID AND status = 'done'",
            [job],
        ).n[0]
    )


def test_eight_workers_two_killed_every_item_done_exactly_once(db_path):
    import backends

    ws = toolkit.connect(db_path)
    backends.many_properties(ws, N_ITEMS)
    job = ws.create_batch_job("regrid_scraping", "Blair", 100)
    procs = start_local_workers(
        db_path, 8, job_id=job, processor="backends:tagged", poll_seconds=0.2
    )
    try:
        deadline = time.monotonic() + 60
        while _done(ws, job) < N_ITEMS // 5 and time.monotonic() < deadline:
            time.sleep(0.05)
        victims = procs[:2]
        for p in victims:
            os.kill(p.pid, signal.SIGKILL)
        killed = {f"worker {p.pid}" for p in victims}
        for p in procs:
            p.join(timeout=80)
        assert not any(p.is_alive() for p in procs[2:]), "workers did not finish the job"
    finally:
        stop_local_workers(procs)
    st = ws.get_batch_status(job)
    assert st["status"] == "completed"
    assert (st["processed_items"], st["failed_items"], st["total_items"]) == (N_ITEMS, 0, N_ITEMS)
    items = ws.sql(
        "SELECT status, count(*) AS n, sum(CASE WHEN attempts > 1 THEN 1 ELSE 0 END) AS again "
        "FROM batch_job_items WHERE job_id = $1::UUID GROUP BY status",
        [job],
    )
    assert items.status.tolist() == ["done"] and int(items.n[0]) == N_ITEMS
    # one result row per item; only the killed workers' unfinished claims were handed out again
    rows = ws.sql(
        "SELECT source, count(*) AS n FROM regrid_data WHERE job_id = $1::UUID GROUP BY source",
        [job],
    )
    assert int(rows.n.sum()) == N_ITEMS
    assert set(rows.source) & killed, "the killed workers had done some items before they died"
    assert int(items.again[0]) <= 2 * 100, "more items were redone than the two victims held"
    assert len(set(rows.source) - killed) >= 5, "the work was shared by the surviving workers"
    # the records tell the truth: every session that did items says how many, none says
    # "no_work"; the killed workers' sessions are closed as killed once something resumes
    sessions = ws.sql("SELECT outcome, items FROM sessions WHERE job_id = $1::UUID", [job])
    assert int(sessions["items"].sum()) >= N_ITEMS - 2 * 100
    assert not len(sessions[(sessions["items"] > 0) & (sessions.outcome == "no_work")]), sessions
    ws.close()


def test_worker_waits_while_paused_and_stops_on_request(db_path):
    import threading

    import backends

    ws = toolkit.connect(db_path)
    backends.many_properties(ws, 300)
    job = ws.create_batch_job("regrid_scraping", "Blair", 10)
    ws.pause_batch_job(job)
    stop = threading.Event()
    out = {}
    t = threading.Thread(
        target=lambda: out.setdefault(
            "r",
            run_worker(db_path, job_id=job, processor=backends.tagged, stop=stop, poll_seconds=0.1),
        )
    )
    t.start()
    time.sleep(0.5)
    assert _done(ws, job) == 0  # paused: the worker waits
    ws.resume_batch_job(job)
    t.join(30)
    assert out["r"].processed == 300 and out["r"].reason == "completed"
    assert ws.get_batch_status(job)["status"] == "completed"
    ws.close()


def test_worker_bad_arguments(db_path):
    from toolkit.exceptions import ValidationError

    with pytest.raises(ValidationError, match="concurrency 0"):
        run_worker(db_path, concurrency=0)
    with pytest.raises(ValidationError, match="not both"):
        run_worker(db_path, job_id="abcd1234", job_type="regrid_scraping")
    with pytest.raises(ValidationError, match="importable"):
        start_local_workers(db_path, 2, processor=lambda item: {})
