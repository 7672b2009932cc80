"""What people record by hand (overrides, manual grades, title searches) and the bid list export."""

from __future__ import annotations

import shutil

import pandas as pd
import pytest

import toolkit
from toolkit.demo import build_sample_workspace
from toolkit.exceptions import UnknownChoiceError, ValidationError
from toolkit.jobs.registry import PROPERTY_STAGES


@pytest.fixture(scope="module")
def researched(tmp_path_factory):
    """A sample workspace taken through the whole pipeline once (copied per test)."""
    import os

    path = tmp_path_factory.mktemp("researched") / "ws.duckdb"
    old = os.environ.get("TOOLKIT_ENV_SOURCES")
    os.environ["TOOLKIT_ENV_SOURCES"] = "sample"
    try:
        ws = build_sample_workspace(path)
        ws.import_liens("data/sample/liens.csv")
        ws.import_clr_factors("data/sample/clr_factors.csv")
        for jt in PROPERTY_STAGES:
            ws.run_session(ws.create_batch_job(jt, None), max_items=100_000)
        ws.close()
    finally:
        if old is None:
            os.environ.pop("TOOLKIT_ENV_SOURCES", None)
        else:
            os.environ["TOOLKIT_ENV_SOURCES"] = old
    return path


@pytest.fixture
def ws(researched, tmp_path):
    dst = tmp_path / "ws.duckdb"
    shutil.copyfile(researched, dst)
    w = toolkit.connect(str(dst))
    yield w
    w.close()


def one(ws, verdict):
    return ws.sql(
        "SELECT p.id::VARCHAR AS id, p.parcel_id FROM properties p JOIN visual_validations v "
        "ON v.property_id = p.id WHERE v.verdict = $1 ORDER BY p.parcel_id LIMIT 1",
        [verdict],
    ).iloc[0]


def test_override_is_kept_apart_and_moves_the_pipeline(ws):
    rejected = one(ws, "REJECTED")
    before = (
        ws.get_pending_work_summary().set_index("job_type").pending.get("property_condition", 0)
    )
    county = ws.sql(
        "SELECT c.county_name FROM properties p JOIN counties c ON c.id = p.county_id "
        "WHERE p.id = $1::UUID",
        [rejected.id],
    ).iloc[0, 0]
    ws.override_verdict(
        rejected.parcel_id, "approved", "street view shows a buildable lot", county=county
    )
    row = ws.sql(
        "SELECT verdict, override_verdict, override_note FROM visual_validations "
        "WHERE property_id = $1::UUID",
        [rejected.id],
    ).iloc[0]
    assert (row.verdict, row.override_verdict) == ("REJECTED", "APPROVED")
    assert row.override_note == "street view shows a buildable lot"
    after = ws.get_pending_work_summary().set_index("job_type").pending["property_condition"]
    assert after == before + 1


def test_override_bad_input(ws):
    prop = one(ws, "APPROVED")
    with pytest.raises(UnknownChoiceError, match=r"'MAYBE'.*APPROVED, CAUTION, REJECTED"):
        ws.override_verdict(prop.id, "MAYBE", "hmm")
    with pytest.raises(ValidationError, match="needs a note"):
        ws.override_verdict(prop.id, "REJECTED", "  ")
    with pytest.raises(ValidationError, match="give its county"):
        ws.override_verdict("no-such-parcel", "REJECTED", "x")
    with pytest.raises(ValidationError, match="No property with parcel number"):
        ws.override_verdict("no-such-parcel", "REJECTED", "x", county="Blair")


def test_manual_grade_wins(ws):
    prop = ws.sql(
        "SELECT c.property_id::VARCHAR AS id, r.bldg_footprint_sqft AS sqft FROM condition_assessments c "
        "JOIN regrid_data r USING (property_id) WHERE r.bldg_footprint_sqft > 0 LIMIT 1"
    ).iloc[0]
    out = ws.set_manual_grade(prop.id, "d", "roof open to the sky in aerial view")
    # D is $65/sqft in the default profile (unverified default)
    assert out["grade"] == "D" and out["repair_estimate"] == pytest.approx(
        65.0 * prop.sqft, abs=0.01
    )
    row = ws.sql(
        "SELECT grade, manual_grade, reasons FROM condition_assessments WHERE property_id = $1::UUID",
        [prop.id],
    ).iloc[0]
    assert (row.grade, row.manual_grade) == ("D", "D") and "manual grade D wins" in row.reasons
    with pytest.raises(UnknownChoiceError, match="condition grade"):
        ws.set_manual_grade(prop.id, "Z")


def test_title_search_with_and_without_liens(ws):
    prop = one(ws, "APPROVED")
    n = ws.record_title_search(
        prop.id,
        [
            {
                "lien_type": "mortgage",
                "holder": "SAMPLE BANK",
                "amount": "$12,500",
                "recorded_date": "2019-03-01",
            }
        ],
    )
    assert n == 1
    liens = ws.sql(
        "SELECT lien_type, amount FROM property_liens WHERE property_id = $1::UUID AND source = 'manual'",
        [prop.id],
    )
    assert liens.values.tolist() == [["mortgage", 12500.0]]
    with pytest.raises(UnknownChoiceError, match="lien type of lien 1"):
        ws.record_title_search(prop.id, [{"lien_type": "curse"}])
    with pytest.raises(ValidationError, match="not a date"):
        ws.record_title_search(
            prop.id, [{"lien_type": "judgment", "recorded_date": "yesterday-ish"}]
        )
    assert ws.record_title_search(one(ws, "CAUTION").id, []) == 0


def test_bid_list_and_exports(ws, tmp_path):
    bids = ws.bid_list()
    assert set(bids.decision) <= {"BID", "REVIEW"} and len(bids) > 0
    assert {"parcel_id", "upset_price", "max_bid_moderate", "reasons", "title_status"} <= set(
        bids.columns
    )
    blair = ws.bid_list("Blair")
    assert set(blair.county) == {"Blair"}
    csv = ws.export_bids(tmp_path / "bids.csv", county="Blair")
    assert len(pd.read_csv(csv)) == len(blair)
    xlsx = ws.export_bids(tmp_path / "bids.xlsx")
    assert len(pd.read_excel(xlsx)) == len(bids)
    with pytest.raises(UnknownChoiceError, match="export format"):
        ws.export_bids(tmp_path / "bids.pdf")
    with pytest.raises(UnknownChoiceError, match="decision"):
        ws.bid_list(decisions=("MAYBE",))


def test_cli_export_bids(ws, tmp_path):
    from toolkit.cli import main

    out = tmp_path / "bids.xlsx"
    assert main(["export", "bids", "--county", "Blair", "--out", str(out), "--db", ws.url]) == 0
    assert len(pd.read_excel(out)) == len(ws.bid_list("Blair"))
    assert main(["export", "nonsense", "--db", ws.url]) == 1


def test_a_hostile_bid_list_exports_as_text(ws, tmp_path):
    import csv

    import openpyxl

    hostile = ['=HYPERLINK("http://x","click")', "@SUM(1+1)*cmd|' /C calc'!A0", "+1-1"]
    ids = ws.sql(
        "SELECT b.property_id::VARCHAR AS id FROM bid_strategies b "
        "WHERE b.decision IN ('BID', 'REVIEW') ORDER BY 1 LIMIT 3"
    ).id.tolist()
    for pid, owner in zip(ids, hostile, strict=True):
        ws.sql(
            "UPDATE properties SET owner = ?, municipality = '-2+3' WHERE id = ?::UUID",
            [owner, pid],
        )
    ws.sql("UPDATE properties SET upset_price = -5 WHERE id = ?::UUID", [ids[0]])
    csv_path = ws.export_bids(tmp_path / "bids.csv")
    with csv_path.open(newline="") as fh:
        rows = list(csv.DictReader(fh))
    owners = {r["owner"] for r in rows}
    assert {"'" + h for h in hostile} <= owners
    assert not any(o.startswith(("=", "+", "-", "@")) for o in owners)
    assert "-5.0" in {r["upset_price"] for r in rows}  # a negative amount stays a number
    xlsx = ws.export_bids(tmp_path / "bids.xlsx")
    sheet = openpyxl.load_workbook(xlsx)["bids"]
    assert not [c.coordinate for row in sheet.iter_rows() for c in row if c.data_type == "f"]
    header = [c.value for c in sheet[1]]
    col = {name: i for i, name in enumerate(header)}
    values = [[c.value for c in row] for row in sheet.iter_rows(min_row=2)]
    assert set(hostile) <= {v[col["owner"]] for v in values}
    assert -5 in {v[col["upset_price"]] for v in values}


def test_issue12_title_notice_and_bid_list_breakdown(ws, tmp_path):
    import json

    prop = one(ws, "APPROVED")
    n = ws.record_title_search(
        prop.id,
        [{"lien_type": "water_sewer", "holder": "AUTHORITY", "amount": "180"}],
        notice_confirmed=True,
    )
    assert n == 1
    assert ws.confirm_judicial_notice(prop.id, "returns of service on the docket") == prop.id
    confirmed = ws.sql(
        "SELECT count(*) AS n FROM notice_confirmations WHERE property_id = $1::UUID", [prop.id]
    )
    assert int(confirmed.n.iloc[0]) == 2
    with pytest.raises(ValidationError, match="note"):
        ws.confirm_judicial_notice(prop.id, " ")
    bids = ws.bid_list(decisions=("BID", "REVIEW", "PASS"))
    assert {
        "breakdown",
        "minimum_bid",
        "minimum_bid_source",
        "redemption_risk",
        "redemption_period",
        "environmental_risk",
    } <= set(bids.columns)
    for text in bids.breakdown:
        b = json.loads(text)
        assert b["formula"] == "seventy_percent" and b["terms"]
    csv = pd.read_csv(ws.export_bids(tmp_path / "bids.csv"))
    assert "breakdown" in csv.columns
