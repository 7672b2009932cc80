"""The guide's rules on a real DuckDB file: lifecycle, failures, resume, bad input."""

from __future__ import annotations

import itertools
import warnings

import duckdb
import pandas as pd
import pytest

import toolkit
from toolkit.exceptions import (
    ActiveJobExistsError,
    AmbiguousCountyError,
    InvalidBatchSizeError,
    InvalidTransitionError,
    JobNotFoundError,
    JobPausedError,
    ToolkitError,
    UnknownChoiceError,
    UnknownCountyError,
    UnknownJobTypeError,
    ValidationError,
)
from toolkit.workspace import ActiveJobsWarning, BatchSizeWarning

BACKENDS = ("duckdb", "postgres")  # conftest runs each ws / db_path test on both


def snapshot(ws) -> dict[str, list]:
    """Everything a bad call must leave as it was."""
    return {
        t: sorted(ws.sql(f"SELECT * FROM {t}").astype(str).values.tolist())
        for t in ("batch_jobs", "batch_job_items", "properties", "regrid_data")
    }


# -- the workspace ----------------------------------------------------------------


def test_new_workspace_seeds_pennsylvania(ws):
    counties = ws.sql("SELECT id, county_name, fips FROM counties ORDER BY id")
    assert len(counties) == 67
    assert counties.iloc[0].tolist() == [1, "Adams", "42001"]
    assert ws.sql("SELECT fips FROM counties WHERE county_name = 'Blair'").fips[0] == "42013"
    assert ws.sql("SELECT max(version) AS v FROM schema_migrations").v[0] >= 1


def test_default_db_is_env_then_data_dir(tmp_path, monkeypatch):
    monkeypatch.setenv("TOOLKIT_DB", str(tmp_path / "env.duckdb"))
    ws = toolkit.connect()
    assert ws.url == str(tmp_path / "env.duckdb")
    assert (tmp_path / "env.duckdb").exists()


def test_reopen_keeps_data(db_path):
    ws = toolkit.connect(db_path)
    ws.import_properties(pd.DataFrame({"parcel_id": ["1-2-3"], "county": ["Blair"]}))
    ws2 = toolkit.connect(db_path)
    assert ws2.sql("SELECT count(*) AS n FROM properties").n[0] == 1


def test_newer_schema_is_refused(db_path):
    import backends

    toolkit.connect(db_path).close()
    backends.execute(
        db_path, "INSERT INTO schema_migrations VALUES (999, 'future', now()::TIMESTAMP)"
    )
    backends.forget_schema_checks()
    from toolkit.backends.duckdb.schema import latest_version

    newest = latest_version()
    with pytest.raises(
        toolkit.exceptions.SchemaVersionError, match=rf"version 999.*up to {newest}\b"
    ):
        toolkit.connect(db_path)


def test_missing_folder_is_a_clear_error(tmp_path):
    with pytest.raises(ValidationError, match="does not exist"):
        toolkit.connect(str(tmp_path / "nope" / "ws.duckdb"))


# -- importing properties -----------------------------------------------------------


def test_import_properties_upserts_and_rejects_with_reasons(ws):
    frame = pd.DataFrame(
        {
            "parcel_id": ["01-01", "01-02", "", "01-04", "01-05", "01-06"],
            "county": ["Blair", "blair county", "Blair", "Atlantis", "Blair", "Blair"],
            "total_due": ["$1,234.50", "99", "5", "5", "abc", "10"],
            "sale_type": ["upset", "UPSET", "upset", "upset", "upset", "auction"],
        }
    )
    out = ws.import_properties(frame)
    assert out["imported"] == 2 and out["updated"] == 0
    # rows are named by the line they would have in a CSV (header = line 1)
    reasons = dict(zip(out["rejected"].line, out["rejected"].reason, strict=True))
    assert reasons[4] == "no parcel id"
    assert "Unknown county 'Atlantis'" in reasons[5]
    assert "'abc' is not a number" in reasons[6]
    assert "sale_type 'auction' is not one of upset" in reasons[7]
    price = ws.sql(
        "SELECT CAST(upset_price AS DOUBLE) AS p FROM properties WHERE parcel_id='01-01'"
    )
    assert price.p[0] == 1234.50
    again = ws.import_properties(
        pd.DataFrame({"parcel": ["0101"], "county": ["Blair"], "owner": ["X"]})
    )
    assert again["updated"] == 1 and again["imported"] == 0  # same parcel, punctuation aside
    assert ws.sql("SELECT owner FROM properties WHERE parcel_norm = '0101'").owner[0] == "X"


def test_import_county_argument_and_csv(ws, tmp_path):
    path = tmp_path / "list.csv"
    path.write_text("# synthetic\nparcel_id,address\nA-1,1 MAIN ST\nA-2,\n")
    out = ws.import_properties(path, county="Somerset")
    assert out["imported"] == 2
    assert set(ws.sql("SELECT county_id FROM properties").county_id) == {111}
    with pytest.raises(ValidationError, match="does not exist"):
        ws.import_properties(tmp_path / "missing.csv")
    with pytest.raises(ValidationError, match="No parcel id column"):
        ws.import_properties(pd.DataFrame({"foo": [1]}), county="Blair")


# -- creating jobs -------------------------------------------------------------------


def test_create_job_snapshots_pending_items(sample_ws):
    job = sample_ws.create_batch_job("regrid_scraping", "Blair", 50)
    st = sample_ws.get_batch_status(job)
    assert (st["total_items"], st["total_batches"], st["status"]) == (235, 5, "pending")
    assert st["county"] == "Blair" and st["batch_size"] == 50
    # the snapshot does not move when the data does
    sample_ws.import_properties(pd.DataFrame({"parcel_id": ["NEW-1"], "county": ["Blair"]}))
    assert sample_ws.get_batch_status(job)["total_items"] == 235


@pytest.mark.parametrize(
    "county", ["Blair", "BLAIR", "Blair County", " blair  county ", 13, "42013"]
)
def test_county_forms(sample_ws, county):
    job = sample_ws.create_batch_job("regrid_scraping", county, force=True)
    assert sample_ws.get_batch_status(job)["county_id"] == 13


def test_all_counties_is_none(sample_ws):
    job = sample_ws.create_batch_job("regrid_scraping", None, 50)
    assert sample_ws.get_batch_status(job)["total_items"] == 795 - 17


def test_default_batch_sizes_follow_the_guide(sample_ws):
    expected = {"regrid_scraping": 50, "visual_validation": 100, "county_research": 10}
    for jt, size in expected.items():
        job = sample_ws.create_batch_job(jt, None)
        assert sample_ws.get_batch_status(job)["batch_size"] == size


@pytest.mark.parametrize("bad", [0, -5, 2.5, "ten", True, None.__class__])
def test_bad_batch_size_refused(sample_ws, bad):
    before = snapshot(sample_ws)
    with pytest.raises(InvalidBatchSizeError, match="recommends 50"):
        sample_ws.create_batch_job("regrid_scraping", "Blair", bad)
    assert snapshot(sample_ws) == before


def test_batch_size_over_100_warns(sample_ws):
    with pytest.warns(BatchSizeWarning, match="over 100"):
        sample_ws.create_batch_job("regrid_scraping", "Blair", 150)


def test_unknown_job_type_suggests_closest(sample_ws):
    with pytest.raises(UnknownJobTypeError, match=r"Did you mean 'regrid_scraping'.*bid_strategy"):
        sample_ws.create_batch_job("regrid_scrapping", "Blair")


def test_unknown_and_ambiguous_county(sample_ws):
    before = snapshot(sample_ws)
    with pytest.raises(UnknownCountyError, match=r"'Blare'.*Did you mean 'Blair'"):
        sample_ws.create_batch_job("regrid_scraping", "Blare")
    with pytest.raises(AmbiguousCountyError, match="Cambria, Cameron"):
        sample_ws.create_batch_job("regrid_scraping", "Ca")
    with pytest.raises(UnknownCountyError):
        sample_ws.create_batch_job("regrid_scraping", 999)
    with pytest.raises(UnknownChoiceError, match="ordering strategy"):
        sample_ws.create_batch_job("regrid_scraping", "Blair", strategy="random")
    assert snapshot(sample_ws) == before


def test_second_active_job_refused_unless_forced(sample_ws):
    first = sample_ws.create_batch_job("regrid_scraping", "Blair")
    with pytest.raises(ActiveJobExistsError, match=first):
        sample_ws.create_batch_job("regrid_scraping", "Blair")
    with pytest.warns(ActiveJobsWarning, match=first[:8]):
        second = sample_ws.create_batch_job("regrid_scraping", "Blair", force=True)
    assert second != first
    # another county is fine, and lists the other active jobs
    with pytest.warns(ActiveJobsWarning, match="regrid_scraping"):
        sample_ws.create_batch_job("regrid_scraping", "Somerset")


def test_empty_job_completes_at_once(ws):
    job = ws.create_batch_job("visual_validation", "Blair")
    assert ws.get_batch_status(job)["status"] == "completed"


# -- ordering strategies ---------------------------------------------------------------


def _order(ws, job):
    return ws.sql(
        "SELECT c.county_name FROM batch_job_items i JOIN counties c ON c.id = i.county_id "
        "WHERE job_id = $1::UUID ORDER BY seq",
        [job],
    ).county_name.tolist()


def test_strategy_one_county_at_a_time(sample_ws):
    order = _order(sample_ws, sample_ws.create_batch_job("regrid_scraping", None, 50))
    changes = sum(1 for a, b in itertools.pairwise(order) if a != b)
    assert changes == 3 and order[0] == "Blair"


def test_strategy_round_robin(sample_ws):
    order = _order(
        sample_ws, sample_ws.create_batch_job("regrid_scraping", None, 50, strategy="round_robin")
    )
    assert order[:50] == ["Blair"] * 50
    assert order[50:100] == ["Clearfield"] * 50
    assert order[100:150] == ["Somerset"] * 50
    assert order[150:200] == ["Westmoreland"] * 50
    assert order[200] == "Blair"


def test_strategy_nearest_auction_first(sample_ws):
    order = _order(
        sample_ws, sample_ws.create_batch_job("regrid_scraping", None, 50, strategy="auction_date")
    )
    # sample sale dates: Westmoreland 09-08, Blair 09-13, Clearfield 09-20, Somerset 09-27
    seen = list(dict.fromkeys(order))
    assert seen == ["Westmoreland", "Blair", "Clearfield", "Somerset"]


# -- batches and progress --------------------------------------------------------------


def test_batches_hand_out_items_in_order_without_repeats(sample_ws):
    job = sample_ws.create_batch_job("regrid_scraping", "Blair", 50)
    seen: list[str] = []
    while True:
        batch = sample_ws.get_next_batch(job)
        if batch.empty:
            break
        assert batch.columns[0] == "item_id"
        assert {"parcel_id", "address", "county", "state", "upset_price"} <= set(batch.columns)
        assert batch.seq.tolist() == sorted(batch.seq)
        for item in batch.item_id:
            sample_ws.update_batch_progress(job, item, 1, 0)
        seen += batch.item_id.tolist()
    assert len(seen) == len(set(seen)) == 235
    st = sample_ws.get_batch_status(job)
    assert st["status"] == "completed" and st["processed_items"] == 235 and st["current_batch"] == 5


def test_own_unfinished_claims_come_first(sample_ws):
    job = sample_ws.create_batch_job("regrid_scraping", "Blair", 10)
    first = sample_ws.get_next_batch(job)
    for item in first.item_id[:4]:
        sample_ws.update_batch_progress(job, item, 1, 0)
    again = sample_ws.get_next_batch(job)
    assert again.item_id.tolist()[:6] == first.item_id.tolist()[4:]
    assert len(again) == 10


def test_failures_logged_batch_goes_on_and_ten_pause(sample_ws):
    job = sample_ws.create_batch_job("regrid_scraping", "Blair", 50)
    items = sample_ws.get_next_batch(job).item_id.tolist()
    for i in range(9):
        sample_ws.update_batch_progress(job, items[i], 0, 1, "Error: Property not found in Regrid")
    assert sample_ws.get_batch_status(job)["consecutive_failures"] == 9
    sample_ws.update_batch_progress(job, items[9], 1, 0)  # a success resets the count
    st = sample_ws.get_batch_status(job)
    assert st["consecutive_failures"] == 0 and st["status"] == "in_progress"
    for i in range(10, 20):
        st = sample_ws.update_batch_progress(job, items[i], 0, 1, f"Error {i}")
    assert st["status"] == "paused" and st["auto_paused"]
    assert "10 consecutive failures" in st["pause_reason"] and "Error 19" in st["pause_reason"]
    assert st["failed_items"] == 19 and st["processed_items"] == 1
    failed = sample_ws.failed_items(job)
    assert len(failed) == 19 and failed.error.iloc[0] == "Error: Property not found in Regrid"
    with pytest.raises(JobPausedError, match="Resume"):
        sample_ws.get_next_batch(job)
    # progress on items handed out before the pause is still recorded
    sample_ws.update_batch_progress(job, items[20], 1, 0)
    assert sample_ws.get_batch_status(job)["processed_items"] == 2


def test_configurable_failure_limit(sample_ws):
    job = sample_ws.create_batch_job("regrid_scraping", "Blair", 50, max_consecutive_failures=3)
    items = sample_ws.get_next_batch(job).item_id.tolist()
    for i in range(3):
        st = sample_ws.update_batch_progress(job, items[i], 0, 1, "boom")
    assert st["status"] == "paused"


def test_update_progress_bad_input_changes_nothing(sample_ws):
    job = sample_ws.create_batch_job("regrid_scraping", "Blair", 5)
    item = sample_ws.get_next_batch(job).item_id[0]
    before = snapshot(sample_ws)
    with pytest.raises(ValidationError, match=r"\(1, 0\) or \(0, 1\), got \(2, 0\)"):
        sample_ws.update_batch_progress(job, item, 2, 0)
    with pytest.raises(ValidationError, match="is not part of job"):
        sample_ws.update_batch_progress(job, "not-an-item", 1, 0)
    assert snapshot(sample_ws) == before
    sample_ws.update_batch_progress(job, item, 1, 0)
    with pytest.raises(InvalidTransitionError, match="done already"):
        sample_ws.update_batch_progress(job, item, 0, 1, "late")
    assert sample_ws.get_batch_status(job)["processed_items"] == 1


@pytest.mark.parametrize("bad", ["xyz", "12", 42, "00000000-0000-0000-0000-000000000000"])
def test_bad_job_ids(sample_ws, bad):
    before = snapshot(sample_ws)
    with pytest.raises(JobNotFoundError):
        sample_ws.get_batch_status(bad)
    with pytest.raises(JobNotFoundError):
        sample_ws.pause_batch_job(bad)
    assert snapshot(sample_ws) == before


def test_job_id_prefix(sample_ws):
    job = sample_ws.create_batch_job("regrid_scraping", "Blair")
    assert sample_ws.get_batch_status(job[:8])["job_id"] == job


def test_illegal_transitions(sample_ws):
    job = sample_ws.create_batch_job("regrid_scraping", "Blair", 50)
    sample_ws.sql("DELETE FROM batch_job_items WHERE job_id = $1::UUID AND seq >= 3", [job])
    sample_ws.sql("UPDATE batch_jobs SET total_items = 3 WHERE id = $1::UUID", [job])
    for item in sample_ws.get_next_batch(job).item_id:
        sample_ws.update_batch_progress(job, item, 1, 0)
    assert sample_ws.get_batch_status(job)["status"] == "completed"
    before = snapshot(sample_ws)
    with pytest.raises(InvalidTransitionError, match="completed"):
        sample_ws.pause_batch_job(job)
    with pytest.raises(InvalidTransitionError, match="completed"):
        sample_ws.resume_batch_job(job)
    with pytest.raises(InvalidTransitionError, match="completed"):
        sample_ws.cancel_batch_job(job)
    other = sample_ws.create_batch_job("regrid_scraping", "Blair")
    sample_ws.cancel_batch_job(other)
    with pytest.raises(InvalidTransitionError, match="cancelled"):
        sample_ws.resume_batch_job(other)
    with pytest.raises(InvalidTransitionError, match="cancelled"):
        sample_ws.get_next_batch(other)
    third = sample_ws.create_batch_job("regrid_scraping", "Blair")
    with pytest.raises(InvalidTransitionError, match="unfinished"):
        sample_ws.complete_batch_job(third)
    after = snapshot(sample_ws)
    assert after["properties"] == before["properties"]


def test_pause_resume_default_job(sample_ws):
    job = sample_ws.create_batch_job("regrid_scraping", "Blair")
    sample_ws.get_next_batch(job)
    assert sample_ws.pause_batch_job() == job
    assert sample_ws.get_batch_status(job)["status"] == "paused"
    assert sample_ws.resume_batch_job() == job
    assert sample_ws.get_batch_status(job)["status"] == "in_progress"
    with pytest.raises(JobNotFoundError, match="No paused or interrupted visual_validation"):
        sample_ws.resume_batch_job(job_type="visual_validation")


def test_retry_failed_items_reopens(sample_ws):
    job = sample_ws.create_batch_job("regrid_scraping", "Blair", 50)
    sample_ws.sql("DELETE FROM batch_job_items WHERE job_id = $1::UUID AND seq >= 4", [job])
    sample_ws.sql("UPDATE batch_jobs SET total_items = 4 WHERE id = $1::UUID", [job])
    items = sample_ws.get_next_batch(job).item_id.tolist()
    sample_ws.update_batch_progress(job, items[0], 0, 1, "flaky")
    for item in items[1:]:
        sample_ws.update_batch_progress(job, item, 1, 0)
    assert sample_ws.get_batch_status(job)["status"] == "completed"  # failed items are finished
    assert sample_ws.retry_failed_items(job) == 1
    st = sample_ws.get_batch_status(job)
    assert st["status"] == "paused" and st["failed_items"] == 0 and st["pending_items"] == 1
    sample_ws.resume_batch_job(job)
    again = sample_ws.get_next_batch(job)
    assert again.item_id.tolist() == [items[0]]


# -- the pending-work summary ------------------------------------------------------------


def test_pending_summary_matches_guide_example(sample_ws):
    summary = sample_ws.get_pending_work_summary().set_index("job_type")
    assert summary.loc["regrid_scraping"].tolist() == [795 - 17, 50, 16, 6, 0]
    assert summary.loc["visual_validation"].tolist() == [17, 100, 1, 1, 0]
    # the guide's columns, then what waits on an earlier stage
    assert list(summary.columns) == ["pending", "batch_size", "batches", "sessions", "waiting"]


def test_pending_summary_partial_session_counts(ws):
    frame = pd.DataFrame({"parcel_id": [f"P{i}" for i in range(7358)], "county": "Blair"})
    ws.import_properties(frame)
    row = ws.get_pending_work_summary().set_index("job_type").loc["regrid_scraping"]
    assert row.tolist() == [7358, 50, 148, 50, 0]  # ⌈7358/50⌉, ⌈7358/150⌉


def test_withdrawn_properties_stop_consuming_research(sample_ws):
    before = sample_ws.get_pending_work_summary().set_index("job_type").pending["regrid_scraping"]
    sample_ws.import_properties(
        pd.DataFrame(
            {
                "parcel_id": ["38.20-21..-001.22-859"],
                "county": ["Blair"],
                "auction_status": ["withdrawn"],
            }
        )
    )
    after = sample_ws.get_pending_work_summary().set_index("job_type")
    assert (
        after.pending["visual_validation"] == 16 or after.pending["regrid_scraping"] == before - 1
    )


def test_guide_sql_runs_in_a_plain_duckdb_client(sample_ws, db_path, backend):
    if backend != "duckdb":
        pytest.skip(
            "DuckDB's client; Postgres runs the guide's SQL through psql in test_postgres.py"
        )
    job = sample_ws.create_batch_job("regrid_scraping", "Blair", 50)
    sample_ws.get_next_batch(job)
    sample_ws.close()
    con = duckdb.connect(db_path)
    pending = con.execute("SELECT * FROM get_pending_work_summary();").fetchall()
    assert ("regrid_scraping", 778, 50, 16, 6, 0) in pending
    active = con.execute("SELECT job_id, status FROM vw_active_batch_jobs;").fetchall()
    assert active == [(job, "in_progress")]
    status = con.execute(
        f"SELECT job_type, total_items, current_batch FROM get_batch_status('{job}');"
    ).fetchall()
    assert status == [("regrid_scraping", 235, 1)]
    assert con.execute("SELECT count(*) FROM vw_completed_batch_jobs;").fetchall() == [(0,)]
    con.execute("SELECT id FROM counties WHERE county_name = 'Blair'").fetchall()
    con.close()


def test_data_audit(sample_ws):
    audit = sample_ws.run_data_audit()
    gaps = audit["gaps"].set_index("county")
    assert gaps.loc["Blair", "missing_parcel_data"] == 235
    assert gaps.loc["Clearfield", "active_properties"] == 231
    stages = audit["stages"].set_index("county")
    assert stages.loc["Blair", "parcel_data"] == 17


def test_errors_are_one_tree():
    for exc in (
        UnknownJobTypeError,
        InvalidBatchSizeError,
        JobNotFoundError,
        InvalidTransitionError,
        ActiveJobExistsError,
        JobPausedError,
    ):
        assert issubclass(exc, ToolkitError)


def test_no_warnings_for_normal_use(sample_ws):
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        sample_ws.create_batch_job("regrid_scraping", "Blair", 50)
