"""Slow work never locks others out; a pause lands within one item; overlapping jobs do
not redo each other's work.

Measured on real DuckDB files (and Postgres for the overlap): a second process reads the
status and pauses while a processor blocks; the session it pauses stops within one item.
"""

from __future__ import annotations

import json
import threading
import time
import warnings

import pytest
from helpers import parcel, run_py

import toolkit
import toolkit.demo
from toolkit.workspace import ActiveJobsWarning

BACKENDS = ("duckdb", "postgres")

READ_STATUS = """
import json, sys, time, toolkit
t0 = time.monotonic()
ws = toolkit.connect(sys.argv[1])
st = ws.get_batch_status(sys.argv[2])
ws.close()
print(json.dumps({"seconds": time.monotonic() - t0, "status": st["status"]}))
"""


def _second_process_read(db: str, job: str) -> dict:
    return json.loads(run_py(READ_STATUS, db, job).stdout.strip().splitlines()[-1])


@pytest.mark.parametrize("kind", ["batch", "item"])
def test_a_status_read_lands_within_2_s_while_a_processor_blocks(tmp_path, kind):
    db = str(tmp_path / "ws.duckdb")
    ws = toolkit.connect(db)
    ws.import_properties(toolkit.demo.sample_properties())
    job = ws.create_batch_job("regrid_scraping", "Blair", 10)
    blocking = threading.Event()

    def slow_item(item):
        blocking.set()
        time.sleep(6)  # a network call that hangs
        return parcel(item)

    def slow_batch(frame):
        blocking.set()
        time.sleep(6)  # a batch of Regrid lookups
        return [parcel(r) for r in frame.to_dict("records")]

    slow_batch.batch = True  # type: ignore[attr-defined]
    proc = slow_batch if kind == "batch" else slow_item
    t = threading.Thread(target=ws.run_session, args=(job, proc), kwargs={"max_batches": 1})
    t.start()
    assert blocking.wait(30)
    time.sleep(0.5)  # well into the blocking call
    out = _second_process_read(db, job)
    assert out["status"] == "in_progress"
    assert out["seconds"] < 2.0, out
    t.join(60)


def test_a_pause_from_another_process_stops_the_session_within_one_item(tmp_path):
    db = str(tmp_path / "ws.duckdb")
    ws = toolkit.connect(db)
    ws.import_properties(toolkit.demo.sample_properties())
    job = ws.create_batch_job("regrid_scraping", "Blair", 100)
    done_at_pause: list[int] = []

    def item(it):
        time.sleep(0.15)
        return parcel(it)

    t = threading.Thread(target=ws.run_session, args=(job, item), kwargs={"max_items": 200})
    t.start()
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        # items are written at checkpoints (at least every second): wait for some
        if ws.get_batch_status(job)["processed_items"] >= 5:
            break
        time.sleep(0.1)
    run_py(
        """
        import sys, toolkit
        toolkit.connect(sys.argv[1]).pause_batch_job(sys.argv[2], reason="from elsewhere")
        """,
        db,
        job,
    )
    paused = time.monotonic()
    t.join(30)
    stopped = time.monotonic() - paused
    st = ws.get_batch_status(job)
    done_at_pause.append(st["processed_items"])
    assert st["status"] == "paused" and st["pause_reason"] == "from elsewhere"
    # a 0.15 s item in flight at most, and the final write: well under a checkpoint's second
    assert stopped < 1.0, stopped


def test_an_overlapping_job_leaves_held_items_to_the_first(sample_ws):
    ws = sample_ws
    county_job = ws.create_batch_job("regrid_scraping", "Somerset", 20)
    first = ws.run_session(county_job, parcel, max_batches=1)
    assert first.status == "paused" and first.processed == 20
    somerset_left = ws.get_batch_status(county_job)["total_items"] - 20
    with pytest.warns(ActiveJobsWarning, match=rf"{somerset_left} properties are held by"):
        everywhere = ws.create_batch_job("regrid_scraping", None, 50)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ActiveJobsWarning)
        taken = set(
            ws.sql(
                "SELECT item_id FROM batch_job_items WHERE job_id = $1::UUID", [everywhere]
            ).item_id
        )
    held = set(
        ws.sql(
            "SELECT item_id FROM batch_job_items WHERE job_id = $1::UUID AND status = 'pending'",
            [county_job],
        ).item_id
    )
    assert len(held) == somerset_left and not taken & held
    ws.run_session(everywhere, parcel, max_items=10_000)
    ws.resume_batch_job(county_job)
    ws.run_session(county_job, parcel, max_items=10_000)
    # every property's parcel record was written once, by one job
    twice = ws.sql(
        "SELECT i.item_id, count(*) AS n FROM batch_job_items i JOIN batch_jobs j ON j.id = i.job_id "
        "WHERE j.job_type = 'regrid_scraping' AND i.status = 'done' GROUP BY i.item_id HAVING count(*) > 1"
    )
    assert twice.empty, twice
    assert ws.get_batch_status(county_job)["status"] == "completed"


def test_take_held_takes_them_with_a_plain_warning_gone(sample_ws):
    ws = sample_ws
    county_job = ws.create_batch_job("regrid_scraping", "Somerset", 20)
    total = ws.get_batch_status(county_job)["total_items"]
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        again = ws.create_batch_job("regrid_scraping", "Somerset", 20, force=True, take_held=True)
    assert ws.get_batch_status(again)["total_items"] == total
    assert not [w for w in caught if "held by" in str(w.message)]
