"""Bids in a workspace of one's own: market value = assessed value x the shipped PA CLR factor,
unless the workspace imported a factor of its own for the county (real jobs, sample data)."""

from __future__ import annotations

import json
import shutil

import pandas as pd
import pytest

import toolkit
from toolkit.demo import build_sample_workspace
from toolkit.reference.clr import shipped_clr_factors

STAGES = (
    "regrid_scraping",
    "visual_validation",
    "property_condition",
    "environmental_research",
    "title_research",
)


@pytest.fixture(scope="module")
def researched(tmp_path_factory):
    """The sample taken through every stage before bids, with no CLR factors imported."""
    mp = pytest.MonkeyPatch()
    mp.setenv("TOOLKIT_ENV_SOURCES", "sample")
    path = tmp_path_factory.mktemp("clr") / "ws.duckdb"
    try:
        ws = build_sample_workspace(path)
        ws.import_liens("data/sample/liens.csv")
        for jt in STAGES:
            ws.run_session(ws.create_batch_job(jt, None), max_items=100_000)
        ws.close()
    finally:
        mp.undo()
    return path


@pytest.fixture
def ws(researched, tmp_path):
    dst = tmp_path / "ws.duckdb"
    shutil.copyfile(researched, dst)
    w = toolkit.connect(str(dst))
    yield w
    w.close()


def bids(ws) -> pd.DataFrame:
    job = ws.create_batch_job("bid_strategy", None)
    s = ws.run_session(job, max_items=100_000)
    assert s.status == "completed" and s.failed == 0 and s.processed > 0
    return ws.sql(
        "SELECT c.county_name AS county, b.market_value, b.market_value_source, b.clr_factor, "
        "b.clr_source, b.reasons, b.inputs_used, r.total_value FROM bid_strategies b "
        "JOIN properties p ON p.id = b.property_id JOIN counties c ON c.id = p.county_id "
        "JOIN regrid_data r ON r.property_id = b.property_id"
    )


def test_without_factors_of_its_own_a_workspace_uses_the_shipped_table(ws) -> None:
    assert len(ws.sql("SELECT * FROM clr_factors")) == 0
    b = bids(ws)
    shipped = shipped_clr_factors().set_index("county")
    assert set(b.county) == {"Blair", "Clearfield", "Somerset", "Westmoreland"}
    valued = b[b.total_value > 0]
    assert (valued.market_value_source == "assessed x CLR").all()
    for county, rows in valued.groupby("county"):
        factor = float(shipped.factor[county])
        assert (rows.clr_factor == factor).all()
        assert ((rows.market_value - rows.total_value * factor).abs() < 0.01).all()
        # the bid shows where the factor comes from, and which year it is
        assert (rows.clr_source == shipped.source[county]).all()
    assert valued.clr_source.str.startswith(
        "shipped PA table, valid 2024-07-01 to 2025-06-30: PA Department of Revenue"
    ).all()
    assert valued.clr_source.str.contains("54 Pa.B. 3744", regex=False).all()
    assert valued.set_index("county").clr_factor.groupby(level=0).first().to_dict() == {
        "Blair": 1.18,
        "Clearfield": 11.49,
        "Somerset": 4.88,
        "Westmoreland": 10.75,
    }
    # the sample's sales are in 2027, after the shipped period: the bid says so
    assert valued.reasons.str.contains(
        "CLR factor period 2024-07-01 to 2025-06-30 does not cover sale date 2027-", regex=False
    ).all()
    assert valued.inputs_used.str.contains("CLR factor").all()


def test_an_imported_factor_wins_for_its_county(ws, tmp_path) -> None:
    mine = tmp_path / "blair.csv"
    mine.write_text(
        "county,factor,valid_from,valid_to,source\n"
        "Blair,1.25,2027-07-01,2028-06-30,my own notice for 2027-28\n"
    )
    assert ws.import_clr_factors(mine) == 1
    b = bids(ws)
    valued = b[b.total_value > 0]
    blair, others = valued[valued.county == "Blair"], valued[valued.county != "Blair"]
    assert (blair.clr_factor == 1.25).all() and (
        blair.clr_source == "my own notice for 2027-28"
    ).all()
    assert not blair.reasons.str.contains("does not cover sale date").any()
    assert ((blair.market_value - blair.total_value * 1.25).abs() < 0.01).all()
    assert len(others) and others.clr_source.str.startswith("shipped PA table").all()


def test_the_sale_lists_assessment_stands_in_for_a_missing_parcel_value(tmp_path) -> None:
    """A printer-report list prints each property's assessment: with no parcel record value,
    the bid's market value is that assessment x the shipped factor."""
    from toolkit.documents import parse_document
    from toolkit.processors.decisions import make_bid_strategy

    ws = toolkit.connect(str(tmp_path / "ws.duckdb"))
    doc = ws.add_document("data/sample/pdfs/westmoreland_upset_printer.pdf", "Westmoreland")
    assert parse_document(ws.store, doc)["rows_parsed"] > 0
    props = ws.sql(
        "SELECT id::VARCHAR AS item_id, parcel_id, upset_price, sale_date, parse_extra "
        "FROM properties ORDER BY parcel_id LIMIT 3"
    )
    listed = [float(json.loads(x)["assessment"]) for x in props.parse_extra]
    frame = props.drop(columns="parse_extra").assign(county="Westmoreland", total_value=None)
    frame.loc[0, "total_value"] = 50000.0  # a parcel record's value comes first
    out = pd.DataFrame(make_bid_strategy(ws)(frame))
    assert out.market_value_source.tolist() == ["assessed x CLR"] * 3
    assert out.clr_factor.tolist() == [10.75] * 3  # 54 Pa.B. 3744, Westmoreland
    expected = [50000.0 * 10.75] + [a * 10.75 for a in listed[1:]]
    assert out.market_value.round(2).tolist() == [round(v, 2) for v in expected]
    ws.close()
