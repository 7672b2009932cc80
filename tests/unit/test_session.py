"""run_session: results and statuses together, budgets, pauses, bad processors."""

from __future__ import annotations

import threading
import time

import pytest

from toolkit.exceptions import (
    FatalSourceError,
    InvalidTransitionError,
    ItemSkipped,
    JobPausedError,
    ProcessorError,
    UnknownChoiceError,
    ValidationError,
)

BACKENDS = ("duckdb", "postgres")  # conftest runs each ws / db_path test on both


def parcel(item: dict) -> dict:
    return {"source": "test", "parcelnumb": item["parcel_id"], "city": item["county"]}


def counts(ws, job):
    rows = ws.sql(
        "SELECT status, count(*) AS n FROM batch_job_items WHERE job_id = $1::UUID GROUP BY status",
        [job],
    )
    return dict(zip(rows.status, rows.n, strict=True))


def test_session_writes_results_and_pauses_at_budget(sample_ws):
    job = sample_ws.create_batch_job("regrid_scraping", "Blair", 50)
    summary = sample_ws.run_session(job, parcel)
    assert summary.message == "Paused at 150/235 properties (64%)"
    assert summary.outcome == "budget" and summary.status == "paused"
    assert "Resume with: 'Resume batch job'" in summary.resume_hint
    assert summary.processed == 150
    # each done item has exactly its result row
    done = sample_ws.sql(
        "SELECT count(*) AS n FROM batch_job_items i JOIN regrid_data r ON r.property_id = i.item_id::UUID "
        "WHERE i.job_id = $1::UUID AND i.status = 'done' AND r.job_id = $2::UUID",
        [job, job],
    ).n[0]
    assert done == 150
    assert counts(sample_ws, job) == {"done": 150, "pending": 85}
    st = sample_ws.get_batch_status(job)
    assert st["current_batch"] == 3 and st["pause_reason"] == "session budget reached"
    assert st["eta_seconds"] is not None
    sample_ws.resume_batch_job()
    second = sample_ws.run_session(job, parcel)
    assert second.message == "Completed 235/235 properties (100%)" and second.processed == 85
    assert sample_ws.sql("SELECT count(*) AS n FROM regrid_data").n[0] == 235 + 17


def test_result_values_of_every_shape_are_stored(sample_ws):
    """Each batch's results go in as one list per column: ints beside floats, text beside
    numbers, None, a dict (JSON text) and a processor's own timestamp all land as given."""
    import datetime as dt
    import json

    seen = []

    def shapes(item: dict) -> dict:
        k = len(seen)
        seen.append(item["item_id"])
        return {
            "source": "shapes",
            "lot_acres": [1, 2.5, None][k % 3],  # int, float, NULL in one column
            "year_built": [1950, None, "1999"][k % 3],  # a number as text casts
            "raw_json": {"k": k, "tags": ["a", "b"]},
            "fetched_at": dt.datetime(2026, 1, 2, 3, 4, 5) if k == 0 else None,
        }

    job = sample_ws.create_batch_job("regrid_scraping", "Blair", 10)
    sample_ws.run_session(job, shapes, max_items=6)
    rows = sample_ws.sql(
        "SELECT i.seq, r.lot_acres, r.year_built, r.raw_json, r.fetched_at "
        "FROM batch_job_items i JOIN regrid_data r ON r.property_id = i.item_id::UUID "
        "WHERE i.job_id = $1::UUID ORDER BY i.seq",
        [job],
    )
    assert len(rows) == 6
    import pandas as pd

    acres = [None if pd.isna(v) else v for v in rows.lot_acres.tolist()]
    assert acres == [1.0, 2.5, None, 1.0, 2.5, None]
    years = [None if pd.isna(v) else int(v) for v in rows.year_built.tolist()]
    assert years == [1950, None, 1999, 1950, None, 1999]
    assert [json.loads(v)["k"] for v in rows.raw_json] == list(range(6))
    assert json.loads(rows.raw_json[0])["tags"] == ["a", "b"]
    assert rows.fetched_at[0] == dt.datetime(2026, 1, 2, 3, 4, 5)
    assert all(t > dt.datetime(2026, 1, 3) for t in rows.fetched_at[1:])  # filled with now


def test_budget_by_batches_items_seconds(sample_ws):
    job = sample_ws.create_batch_job("regrid_scraping", "Blair", 20)
    assert sample_ws.run_session(job, parcel, max_batches=2).processed == 40
    sample_ws.resume_batch_job(job)
    assert sample_ws.run_session(job, parcel, max_items=7).processed == 7
    sample_ws.resume_batch_job(job)

    def slow(item):
        time.sleep(0.02)
        return parcel(item)

    s = sample_ws.run_session(job, slow, max_seconds=0.3)
    assert 1 <= s.processed < 40 and s.status == "paused"


def test_failed_items_logged_and_batch_goes_on(sample_ws):
    job = sample_ws.create_batch_job("regrid_scraping", "Blair", 50)

    def flaky(item):
        if int(item["seq"]) % 3 == 0:
            raise LookupError(f"Property not found in Regrid: {item['parcel_id']}")
        return parcel(item)

    s = sample_ws.run_session(job, flaky, max_batches=1)
    assert (s.processed, s.failed) == (33, 17)
    assert s.failures[0]["error"].startswith("LookupError: Property not found in Regrid")
    assert counts(sample_ws, job) == {"done": 33, "failed": 17, "pending": 185}


def test_ten_consecutive_failures_auto_pause(sample_ws):
    job = sample_ws.create_batch_job("regrid_scraping", "Blair", 50)

    def broken(item):
        raise ConnectionError("Regrid is down")

    s = sample_ws.run_session(job, broken)
    assert s.outcome == "auto_paused" and s.status == "paused" and s.failed == 10
    assert "10 consecutive failures" in s.pause_reason and "Regrid is down" in s.message
    assert counts(sample_ws, job) == {"failed": 10, "pending": 225}  # claims released
    with pytest.raises(JobPausedError):
        sample_ws.run_session(job, parcel)


def test_a_job_stopped_behind_the_sessions_back_gets_its_next_claims_back(sample_ws):
    """The batch end claims the next batch before it records the outcomes (one update of
    the job row); when the outcomes find the job paused, those claims are handed back."""
    job = sample_ws.create_batch_job("regrid_scraping", "Blair", 10)
    seen = []

    def pauses_in_sql(item):
        seen.append(item["item_id"])
        if len(seen) == 10:  # the batch's last item: paused by plain SQL, no notice sent
            sample_ws.sql("UPDATE batch_jobs SET status = 'paused' WHERE id = $1::UUID", [job])
        return parcel(item)

    s = sample_ws.run_session(job, pauses_in_sql)
    assert s.processed == 10 and s.status == "paused"
    assert counts(sample_ws, job) == {"done": 10, "pending": 225}  # no claim left behind
    st = sample_ws.get_batch_status(job)
    assert st["current_batch"] == 1 and st["processed_items"] == 10


def test_fatal_source_error_pauses_at_once(sample_ws):
    job = sample_ws.create_batch_job("regrid_scraping", "Blair", 50)
    calls = []

    def rejected(item):
        calls.append(item["item_id"])
        if len(calls) == 4:
            raise FatalSourceError("Regrid rejected the token — set REGRID_TOKEN and resume")
        return parcel(item)

    s = sample_ws.run_session(job, rejected)
    assert s.outcome == "auto_paused" and s.processed == 3
    assert "Regrid rejected the token" in s.pause_reason
    assert counts(sample_ws, job) == {"done": 3, "pending": 232}
    sample_ws.resume_batch_job(job)
    s2 = sample_ws.run_session(job, parcel, max_items=1)
    assert s2.processed == 1
    assert (
        sample_ws.sql(
            "SELECT item_id FROM batch_job_items WHERE seq = 3 AND job_id = $1::UUID", [job]
        ).item_id[0]
        == calls[3]
    )
    assert counts(sample_ws, job)["done"] == 4


def test_skipped_is_not_a_failure(sample_ws):
    job = sample_ws.create_batch_job("regrid_scraping", "Somerset", 50)

    def needs_research(item):
        raise ItemSkipped("needs research")

    s = sample_ws.run_session(job, needs_research, max_batches=1)
    assert (s.skipped, s.failed) == (50, 0)
    st = sample_ws.get_batch_status(job)
    assert st["consecutive_failures"] == 0 and st["skipped_items"] == 50


@pytest.mark.parametrize(
    "bad, match",
    [
        (lambda item: "ok", "returned str 'ok'; a result must be a dict"),
        (
            lambda item: {"bogus_field": 1},
            r"unknown field\(s\) bogus_field; valid fields of regrid_data",
        ),
        (lambda item: None, "returned NoneType"),
    ],
)
def test_processor_returning_a_non_result(sample_ws, bad, match):
    job = sample_ws.create_batch_job("regrid_scraping", "Blair", 50)
    with pytest.raises(ProcessorError, match=match):
        sample_ws.run_session(job, bad)
    assert counts(sample_ws, job) == {"pending": 235}
    assert sample_ws.sql("SELECT count(*) AS n FROM regrid_data").n[0] == 17
    st = sample_ws.get_batch_status(job)
    assert st["processed_items"] == 0 and st["failed_items"] == 0


def test_processor_error_keeps_earlier_good_work(sample_ws):
    job = sample_ws.create_batch_job("regrid_scraping", "Blair", 50)

    def half(item):
        return parcel(item) if int(item["seq"]) < 5 else 42

    with pytest.raises(ProcessorError):
        sample_ws.run_session(job, half)
    assert counts(sample_ws, job) == {"done": 5, "pending": 230}


def test_bad_session_arguments(sample_ws):
    job = sample_ws.create_batch_job("regrid_scraping", "Blair", 50)
    with pytest.raises(ValidationError, match="max_batches 0"):
        sample_ws.run_session(job, parcel, max_batches=0)
    with pytest.raises(ValidationError, match="max_seconds -1"):
        sample_ws.run_session(job, parcel, max_seconds=-1)
    with pytest.raises(UnknownChoiceError, match="processor 'nope'"):
        sample_ws.run_session(job, "nope")
    with pytest.raises(ValidationError, match="neither callable"):
        sample_ws.run_session(job, 42)
    assert counts(sample_ws, job) == {"pending": 235}


def test_batch_processor(sample_ws):
    job = sample_ws.create_batch_job("regrid_scraping", "Blair", 50)

    def vectorised(frame):
        return [{"source": "batch", "parcelnumb": p} for p in frame.parcel_id]

    vectorised.batch = True
    s = sample_ws.run_session(job, vectorised, max_batches=2)
    assert s.processed == 100
    assert sample_ws.sql("SELECT count(*) AS n FROM regrid_data WHERE source = 'batch'").n[0] == 100

    def wrong_length(frame):
        return [{}]

    wrong_length.batch = True
    sample_ws.resume_batch_job(job)
    with pytest.raises(ProcessorError, match="one result per item"):
        sample_ws.run_session(job, wrong_length)


def test_pause_from_another_thread_stops_at_next_item(sample_ws):
    job = sample_ws.create_batch_job("regrid_scraping", "Blair", 50)
    started = threading.Event()

    def slow(item):
        started.set()
        time.sleep(0.01)
        return parcel(item)

    result = {}
    t = threading.Thread(target=lambda: result.setdefault("s", sample_ws.run_session(job, slow)))
    t.start()
    started.wait(5)
    time.sleep(0.2)
    sample_ws.pause_batch_job(job)
    t.join(10)
    s = result["s"]
    assert s.outcome == "paused" and s.status == "paused"
    assert 1 <= s.processed < 150
    assert counts(sample_ws, job) == {"done": s.processed, "pending": 235 - s.processed}


def test_progress_callback(sample_ws):
    job = sample_ws.create_batch_job("regrid_scraping", "Blair", 50)
    seen = []
    sample_ws.run_session(job, parcel, max_batches=1, on_progress=seen.append)
    assert seen[-1]["session_processed"] == 50 and seen[-1]["session_batches"] == 1


def test_session_on_completed_job(sample_ws):
    job = sample_ws.create_batch_job("visual_validation", "Somerset")
    s = sample_ws.run_session(job, parcel)
    assert s.status == "completed" and s.processed == 0


def test_pause_from_another_thread_is_never_lost(sample_ws):
    """A pause racing the session's checkpoints, many times: the job always ends paused."""
    for round_ in range(15):
        job = sample_ws.create_batch_job("regrid_scraping", "Blair", 5, force=True)
        if sample_ws.get_batch_status(job)["total_items"] == 0:
            break  # every Blair item is done: no session left to race (else started.wait(5) idles)
        started = threading.Event()

        def quick(item, started=started):
            started.set()
            return parcel(item)

        t = threading.Thread(
            target=sample_ws.run_session, args=(job, quick), kwargs={"max_items": 200}
        )
        t.start()
        started.wait(5)
        time.sleep(0.002 * round_)
        try:
            sample_ws.pause_batch_job(job)
            paused = True
        except InvalidTransitionError:  # the session finished first (budget or done)
            paused = False
        t.join(10)
        st = sample_ws.get_batch_status(job)
        assert st["status"] in ("paused", "completed"), (round_, st["status"])
        if paused and st["status"] == "paused":
            assert st["paused_at"] is not None and st["pause_reason"]
        if st["status"] == "paused":
            sample_ws.cancel_batch_job(job)


def test_record_result_saves_a_form_in_one_transaction(sample_ws):
    job = sample_ws.create_batch_job("regrid_scraping", "Blair", 5)
    item = sample_ws.get_next_batch(job).item_id[0]
    with pytest.raises(ProcessorError, match="unknown field"):
        sample_ws.record_result(job, item, {"nonsense": 1})
    assert counts(sample_ws, job).get("done", 0) == 0
    st = sample_ws.record_result(job, item, {"source": "manual", "parcelnumb": "X-1"})
    assert st["processed_items"] == 1
    row = sample_ws.sql(
        "SELECT source, parcelnumb FROM regrid_data WHERE property_id = $1::UUID", [item]
    )
    assert row.values.tolist() == [["manual", "X-1"]]
