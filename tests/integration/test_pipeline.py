"""The processors wired into jobs: parcel data (bulk files and the API), screening, condition,
title and bids, on the synthetic sample data."""

from __future__ import annotations

import pytest
from fakes.regrid_server import RegridFake

import toolkit
from toolkit.demo import build_sample_workspace
from toolkit.exceptions import ConfigError

SAMPLE = "data/sample"


@pytest.fixture
def pipeline_ws(tmp_path):
    ws = build_sample_workspace(tmp_path / "ws.duckdb")
    yield ws
    ws.close()


def run(ws, job_type, county=None):
    job = ws.create_batch_job(job_type, county)
    s = ws.run_session(job, max_items=100_000)
    return job, s


def test_parcel_data_from_bulk_files(pipeline_ws):
    ws = pipeline_ws
    _, s = run(ws, "regrid_scraping")
    assert s.status == "completed" and s.processed == 795 and s.failed == 0
    rows = ws.sql(
        "SELECT source, count(*) AS n, count(sketch_path) AS sketches, count(width_ft) AS widths "
        "FROM regrid_data GROUP BY source"
    )
    assert rows.to_dict("records") == [{"source": "bulk", "n": 795, "sketches": 795, "widths": 795}]
    # the record matches its property (punctuation aside) and the sketch exists
    one = ws.sql(
        "SELECT p.parcel_norm, r.parcelnumb_norm, r.sketch_path FROM regrid_data r "
        "JOIN properties p ON p.id = r.property_id LIMIT 1"
    ).iloc[0]
    assert one.parcel_norm == one.parcelnumb_norm
    from pathlib import Path

    assert Path(one.sketch_path).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert ws.get_pending_work_summary().set_index("job_type").pending["visual_validation"] == 795


def test_bulk_file_with_missing_columns_is_refused(pipeline_ws, tmp_path):
    bad = tmp_path / "bad.csv"
    bad.write_text("foo,bar\n1,2\n")
    with pytest.raises(ConfigError, match="parcelnumb"):
        pipeline_ws.add_bulk_file(bad, "Blair")
    assert len(pipeline_ws.sql("SELECT * FROM bulk_files WHERE path = $1", [str(bad)])) == 0


def test_parcel_data_from_the_api_with_cache_and_errors(tmp_path, monkeypatch):
    ws = toolkit.connect(str(tmp_path / "api.duckdb"))
    ws.import_properties(toolkit.demo.sample_properties())
    with RegridFake(token="t0k3n") as fake:
        fake.load_bulk_csv(f"{SAMPLE}/regrid/pa_blair_synthetic.csv", county="Blair")
        monkeypatch.setenv("TOOLKIT_REGRID_URL", fake.base_url)
        monkeypatch.setenv("TOOLKIT_REGRID_RATE", "60000")
        monkeypatch.setenv("REGRID_TOKEN", "wrong")
        job = ws.create_batch_job("regrid_scraping", "Blair", 50)
        s = ws.run_session(job)
        assert s.outcome == "auto_paused" and s.processed == 0
        assert "Regrid rejected" in s.pause_reason or "token" in s.pause_reason.lower()
        assert "wrong" not in s.pause_reason  # the token is never shown
        monkeypatch.setenv("REGRID_TOKEN", "t0k3n")
        ws.resume_batch_job(job)
        s = ws.run_session(job, max_items=1000)
        assert s.status == "completed" and s.processed == 252
        sent = len(fake.requests)
        # a second workspace over the same data folder pays for nothing
        ws2 = toolkit.connect(str(tmp_path / "api2.duckdb"))
        ws2.import_properties(toolkit.demo.sample_properties())
        job2 = ws2.create_batch_job("regrid_scraping", "Blair", 50)
        s2 = ws2.run_session(job2, max_items=1000)
        assert s2.processed == 252 and len(fake.requests) == sent


def test_api_not_found_fails_the_item(tmp_path, monkeypatch):
    ws = toolkit.connect(str(tmp_path / "nf.duckdb"))
    ws.import_properties(toolkit.demo.sample_properties().head(3))
    with RegridFake(token="t0k3n") as fake:
        monkeypatch.setenv("TOOLKIT_REGRID_URL", fake.base_url)
        monkeypatch.setenv("REGRID_TOKEN", "t0k3n")
        job = ws.create_batch_job("regrid_scraping", "Blair")
        s = ws.run_session(job)
        assert s.failed == 3 and "Property not found in Regrid" in s.failures[0]["error"]


def test_no_parcel_source_pauses_with_what_to_do(tmp_path, monkeypatch):
    monkeypatch.delenv("REGRID_TOKEN", raising=False)
    ws = toolkit.connect(str(tmp_path / "none.duckdb"))
    ws.import_properties(toolkit.demo.sample_properties().head(3))
    job = ws.create_batch_job("regrid_scraping", "Blair")
    s = ws.run_session(job)
    assert s.outcome == "auto_paused" and "REGRID_TOKEN" in s.pause_reason
    assert s.processed == 0 and ws.get_batch_status(job)["pending_items"] == 3


def test_screening_condition_environment_title_and_bids(pipeline_ws, monkeypatch):
    monkeypatch.setenv("TOOLKIT_ENV_SOURCES", "sample")
    ws = pipeline_ws
    assert ws.import_liens(f"{SAMPLE}/liens.csv")["imported"] == 42
    assert ws.import_clr_factors(f"{SAMPLE}/clr_factors.csv") == 4
    run(ws, "regrid_scraping")
    _, s = run(ws, "visual_validation")
    assert s.processed == 795
    verdicts = dict(
        ws.sql("SELECT verdict, count(*) AS n FROM visual_validations GROUP BY 1").values.tolist()
    )
    approved = verdicts["APPROVED"]
    assert set(verdicts) <= {"APPROVED", "CAUTION", "REJECTED"} and verdicts.get("REJECTED", 0) > 0
    # the same rules over the same records, outside the engine, give the same verdicts
    from toolkit.decisions.screening import screen

    # (the parcel record's address, else the sale list's, is the frontage evidence)
    frame = ws.sql(
        "SELECT r.* EXCLUDE (address), COALESCE(r.address, p.address) AS address, "
        "r.property_id::VARCHAR AS pid FROM regrid_data r JOIN properties p ON p.id = r.property_id"
    )
    frame["property_id"] = frame.pop("pid")
    direct = screen(frame).verdict.value_counts().to_dict()
    assert direct == verdicts
    pending = ws.get_pending_work_summary().set_index("job_type").pending
    assert pending["property_condition"] == pending["title_research"] == approved
    _, s = run(ws, "property_condition")
    assert s.processed == approved
    _, s = run(ws, "title_research")
    assert s.processed == approved
    status = dict(
        ws.sql("SELECT status, count(*) AS n FROM title_research GROUP BY 1").values.tolist()
    )
    assert status["NEEDS_REVIEW"] > 0  # no title search for most: never called clear
    # bids wait for the environmental research: not pending, counted as waiting
    bid_row = ws.get_pending_work_summary().set_index("job_type").loc["bid_strategy"]
    assert (bid_row.pending, bid_row.waiting) == (0, approved)
    _, s = run(ws, "environmental_research")
    assert s.processed == approved and s.failed == 0
    env = ws.sql("SELECT risk_level, flood_source FROM environmental_assessments")
    assert set(env.risk_level) <= {"LOW", "MEDIUM", "HIGH", "UNKNOWN"}
    assert "parcel_record" in set(env.flood_source)  # a zone in the parcel record needs no lookup
    _, s = run(ws, "bid_strategy")
    assert s.processed == approved and s.failed == 0
    bids = ws.sql("SELECT decision, max_bid_moderate, upset_price, clr_source FROM bid_strategies")
    assert set(bids.decision) <= {"BID", "REVIEW", "PASS"}
    assert (bids.max_bid_moderate % 100 == 0).all()  # rounded down to $100
    passed = bids[bids.decision == "PASS"]
    assert (passed.upset_price > passed.max_bid_moderate).all()
    assert bids.clr_source.str.contains("SYNTHETIC").all()


def test_environment_settings_file_errors(pipeline_ws, monkeypatch, tmp_path):
    from toolkit.processors.environment import sources_config

    monkeypatch.setenv("TOOLKIT_ENV_SOURCES", str(tmp_path / "missing.yaml"))
    with pytest.raises(
        ConfigError, match="neither 'online', 'sample' nor an existing settings file"
    ):
        sources_config(pipeline_ws.data_dir)
    bad = tmp_path / "env.yaml"
    bad.write_text("mode: local\nflood: [unclosed\n")
    monkeypatch.setenv("TOOLKIT_ENV_SOURCES", str(bad))
    with pytest.raises(ConfigError, match="line 3"):
        sources_config(pipeline_ws.data_dir)
