"""The research cockpit's pages on a real DuckDB workspace: dashboard charts, bid grid,
property view, map, progress analysis."""

from __future__ import annotations

import json
import shutil
import warnings
from pathlib import Path

import pytest

import toolkit
from toolkit.notebook import dashboard as d
from toolkit.notebook.grid import BidGrid, bid_grid_frame, breakdown_html, shorten
from toolkit.notebook.map import PropertyMap, flood_layer_path, points_geojson
from toolkit.notebook.property import PropertyView, find_property, property_record
from toolkit.notebook.view import error_html, local_time, money, short_id

COUNTY = "Somerset"  # the smallest sample county: 140 properties


def _run(ws, job_type: str) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # other active jobs: expected here
        job = ws.create_batch_job(job_type, COUNTY)
    assert ws.run_session(job, max_items=100_000).outcome == "completed"


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Somerset through every stage, on the sample's offline sources (the demo's mark)."""
    from toolkit.demo import build_sample_workspace
    from toolkit.jobs.registry import PROPERTY_STAGES

    path = tmp_path_factory.mktemp("cockpit") / "full.duckdb"
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("TOOLKIT_ENV_SOURCES", "sample")
        mp.delenv("TOOLKIT_DB", raising=False)
        ws = build_sample_workspace(path)
        for job_type in PROPERTY_STAGES:
            _run(ws, job_type)
        ws.close()
    return path


@pytest.fixture
def full(built: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> toolkit.Workspace:
    monkeypatch.setenv("TOOLKIT_ENV_SOURCES", "sample")
    path = tmp_path / "ws.duckdb"
    shutil.copyfile(built, path)
    return toolkit.connect(str(path))


def test_formatting_helpers() -> None:
    assert short_id("9c671a73-0a55-4b8e-9d41-7c3c2f1e0b11") == "9c671a73"
    assert money(1234.56) == "$1,235" and money(-11300) == "-$11,300" and money(None) == ""
    assert "." not in local_time("2026-12-01 13:05:07.123456")[-3:]
    assert ".." not in error_html("Stopped.. resume it..") and "toolkit-error" in error_html("x")


def test_dashboard_funnel_counts_review_and_charts(full) -> None:
    funnel = d.county_funnel(full)
    row = funnel[funnel.county == COUNTY].iloc[0]
    decisions = full.sql("SELECT decision, count(*) AS n FROM bid_strategies GROUP BY 1")
    by = dict(zip(decisions.decision, decisions.n, strict=True))
    assert (row.bid, row.review, row["pass"]) == (
        by.get("BID", 0),
        by.get("REVIEW", 0),
        by.get("PASS", 0),
    )
    assert row.review > 0 and funnel.dtypes.drop("county").map(str).str.startswith("int").all()
    dash = d.Dashboard(full.url)
    figs = dash.figures()
    assert "pipeline funnel" in figs and "sessions over time" in figs
    assert "progress per active job" not in figs  # every job completed: nothing to draw
    ticks = [t.get_text() for t in figs["pipeline funnel"].axes[0].get_yticklabels()]
    assert "REVIEW" in ticks and "BID" in ticks
    sessions = d.recent_sessions(full)
    assert list(sessions.columns) == [
        "started",
        "job_type",
        "county",
        "job",
        "outcome",
        "items",
        "failed",
        "took",
    ]
    assert sessions.job.str.len().eq(8).all() and "worker" not in sessions.columns
    assert not sessions.started.str.contains(r"\.\d{6}").any()
    _ = dash.widget
    assert "<img" in dash.charts.value and "No active job" in dash.jobs_box.children[0].value


def test_dashboard_job_rows_pause_and_resume(full) -> None:
    job = full.create_batch_job("regrid_scraping", "Blair", 50)
    dash = d.Dashboard(full.url)
    _ = dash.widget
    row = dash.job_rows[job]
    assert "regrid_scraping.ipynb" in row["label"].value and short_id(job) in row["label"].value
    assert row["resume"].disabled  # pending, not paused
    full.pause_batch_job(job, "paused from a test.")
    dash.refresh()
    row = dash.job_rows[job]
    assert not row["resume"].disabled and row["pause"].disabled
    assert "ETA" not in row["label"].value and "paused from a test<" in row["label"].value
    frame = d.active_jobs(full)
    assert frame.county.tolist() == ["Blair"] and frame.eta.tolist() == [""]
    assert frame.job.tolist() == [short_id(job)]
    figs = dash.figures()
    assert "progress per active job" in figs
    # Resume runs one session of the job's own processor, in the background
    dash.resume(job, wait=True)
    st = full.get_batch_status(job)
    assert st["processed_items"] > 0 and "toolkit-error" not in dash.message.value
    dash.pause(job)  # not running any more: the engine says so, styled as an error
    assert dash.message.value


def test_progress_analysis_picks_its_bucket_and_hides_empty_figures(full) -> None:
    tp = d.throughput(full)
    assert tp.attrs["freq"] == "minute"  # the whole build took minutes, not hours
    assert str(tp.done.dtype).startswith("int")
    fig = d.plot_throughput(tp)
    assert fig is not None and len(fig.axes[0].patches) >= 1
    assert d.plot_failures(d.failures_by_reason(full)) is None  # no failures: no figure
    assert d.plot_eta(d.eta_per_job(full)) is None
    import pandas as pd

    eta = pd.DataFrame(
        {"job": ["a"], "job_type": ["t"], "county": ["c"], "eta_seconds": [24.0], "eta": ["24 s"]}
    )
    assert "minutes" in d.plot_eta(eta).axes[0].get_xlabel()


def test_bid_grid_formats_colours_and_opens_a_property(full) -> None:
    grid = BidGrid(full)
    expected = full.bid_list(COUNTY)
    assert len(grid.frame) == len(expected) > 0
    shown = bid_grid_frame(grid.frame)
    assert shown["Max bid"].str.contains(r">-?\$[\d,]+<").all()
    assert shown["Upset price"].str.match(r"^-?\$[\d,]+$").all()
    assert shown["Decision"].str.contains("background:").all()
    assert shown["Reasons"].str.len().lt(expected.reasons.str.len() + 200).all()
    # the bid's breakdown: its terms, shown on demand
    assert shown["Breakdown"].str.contains("<details>").all()
    assert "Breakdown" not in bid_grid_frame(grid.frame.drop(columns="breakdown")).columns
    grid.decision.value = ("BID", "REVIEW", "PASS")
    assert len(grid.frame) == len(full.bid_list(COUNTY, ("BID", "REVIEW", "PASS")))
    view = grid.open(0)
    assert view is not None and view.property_id == grid.frame.property_id.iloc[0]
    assert grid.property_box.children == (view.widget,)


def test_grid_shows_a_breakdown_when_the_bid_list_has_one() -> None:
    import pandas as pd

    frame = pd.DataFrame(
        {
            "decision": ["BID"],
            "max_bid_moderate": [1000.0],
            "reasons": ["first reason; second"],
            "breakdown": [json.dumps({"clr_factor": 1.2, "redemption": "none"})],
        }
    )
    shown = bid_grid_frame(frame)
    assert "2 terms" in shown.Breakdown[0] and "redemption" in shown.Breakdown[0]
    assert shown.Reasons[0].startswith("<details><summary>first reason")
    assert breakdown_html(None) == "" and shorten("short") == "short"


def test_grid_shows_out_of_date_only_when_a_bid_is() -> None:
    import pandas as pd

    frame = pd.DataFrame(
        {
            "decision": ["BID", "REVIEW"],
            "max_bid_moderate": [1000.0, 2000.0],
            "out_of_date": ["", ""],
        }
    )
    assert "Out of date" not in bid_grid_frame(frame).columns
    frame.loc[1, "out_of_date"] = "research redone after this bid: run bid_strategy"
    shown = bid_grid_frame(frame)
    assert list(shown["Out of date"]) == ["", "research redone after this bid: run bid_strategy"]


def test_property_view_shows_every_stage_links_and_forms(full) -> None:
    pid = str(
        full.bid_list(COUNTY)
        .iloc[0:1]
        .merge(full.query("notebook_property_index", [None, None]), on=["county", "parcel_id"])
        .property_id[0]
    )
    rec = property_record(full, pid)
    assert all(
        rec[s] is not None
        for s in ("parcel", "screening", "condition", "environment", "title", "bid")
    )
    parcel = rec["sale"]["parcel_id"]
    assert find_property(full, parcel, COUNTY) == pid and find_property(full, pid[:8]) == pid
    view = PropertyView(full, parcel, county=COUNTY)
    for stage in ("sale", "parcel", "screening", "condition", "environment", "title", "bid"):
        assert f"toolkit-stage-{stage}" in view.stages.value
    assert "No result yet" not in view.stages.value
    assert "Tax claim bureau" in view.links.value and "aerial view" in view.links.value
    assert "Recorder of deeds" in view.links.value
    assert f"Parcel {parcel}" in view.header.value
    assert view.grade_button.description == "Save grade"
    assert not view.save_grade(None)  # no grade chosen: an error, nothing saved
    assert "toolkit-error" in view.message.value
    assert view.save_grade("D", "roof sagging in the aerial view")
    assert f"parcel {parcel}" in view.message.value and "graded D" in view.message.value
    assert full.query("notebook_property_condition", [pid]).grade[0] == "D"
    assert view.override("REJECTED", "a cemetery")
    assert "overridden to REJECTED" in view.message.value
    bad = PropertyView(full, "no-such-parcel")
    assert bad.record is None and "No active property" in bad.message.value


def test_map_points_colours_flood_layer_and_click(full) -> None:
    m = PropertyMap(full, tiles=False)
    assert len(m.points) == 140  # every Somerset property has coordinates
    assert not [x for x in m.map.layers if type(x).__name__ == "TileLayer"]  # offline: blank
    assert m.flood_path is not None and m.flood_path == flood_layer_path(full)
    assert "offline: no base tiles" in m.legend.value
    features = m.layer.data["features"]
    colours = {f["properties"]["label"]: f["properties"]["colour"] for f in features}
    assert colours.get("REVIEW") == "#b26a00"
    m.recolour("verdict")
    assert {f["properties"]["label"] for f in m.layer.data["features"]} <= {
        "APPROVED",
        "CAUTION",
        "REJECTED",
        "",
    }
    m._on_click(feature=features[0])
    assert m.view.property_id == features[0]["properties"]["property_id"]
    online = PropertyMap(full, tiles=True)
    assert [x for x in online.map.layers if type(x).__name__ == "TileLayer"]
    with pytest.raises(toolkit.exceptions.UnknownChoiceError):
        points_geojson(m.points, "colour")
