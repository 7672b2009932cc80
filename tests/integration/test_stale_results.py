"""A result older than its inputs is pending again: confirming a judicial sale's notice,
recording a title search or importing a lien after the title was researched reopens
that property's title research, and the new title result reopens its bid.

Run on DuckDB and Postgres over the synthetic sample (Blair County only).
"""

from __future__ import annotations

import pandas as pd
import pytest
from typer.testing import CliRunner

from toolkit.cli import app
from toolkit.demo import build_sample_workspace
from toolkit.jobs.registry import PROPERTY_STAGES
from toolkit.notebook.property import property_record, section_html

BACKENDS = ("duckdb", "postgres")


@pytest.fixture
def researched(db_path, monkeypatch):
    monkeypatch.setenv("TOOLKIT_ENV_SOURCES", "sample")
    ws = build_sample_workspace(db_path)
    for step in PROPERTY_STAGES:
        ws.run_session(ws.create_batch_job(step, "Blair"), max_items=100_000)
    yield ws
    ws.close()


def pending(ws) -> dict[str, int]:
    summary = ws.get_pending_work_summary()
    return {str(k): int(v) for k, v in zip(summary.job_type, summary.pending, strict=True)}


def run(ws, step: str) -> None:
    ws.run_session(ws.create_batch_job(step, "Blair"), max_items=100_000)


def title_of(ws, pid: str) -> dict:
    return (
        ws.sql(
            "SELECT status, surviving_total, reasons FROM title_research WHERE property_id = $1::UUID",
            [pid],
        )
        .iloc[0]
        .to_dict()
    )


def bid_of(ws, pid: str) -> dict:
    return (
        ws.sql(
            "SELECT decision, reasons, calculated_at FROM bid_strategies "
            "WHERE property_id = $1::UUID",
            [pid],
        )
        .iloc[0]
        .to_dict()
    )


def out_of_date(ws) -> dict[str, str]:
    """The bid list's ``out_of_date`` per property id (every decision)."""
    bids = ws.bid_list(decisions=("BID", "REVIEW", "PASS"))
    ids = ws.sql(
        "SELECT p.parcel_id, p.id::TEXT AS id FROM properties p JOIN counties c "
        "ON c.id = p.county_id WHERE c.county_name = 'Blair'"
    )
    merged = bids.merge(ids, on="parcel_id")
    return dict(zip(merged.id, merged.out_of_date.fillna(""), strict=True))


def test_confirming_notice_after_research_redoes_title_then_bid(researched) -> None:
    ws = researched
    before = pending(ws)
    assert "title_research" not in before and "bid_strategy" not in before
    pid = str(
        ws.sql(
            "SELECT b.property_id::TEXT AS id FROM bid_strategies b "
            "JOIN properties p ON p.id = b.property_id ORDER BY p.parcel_id LIMIT 1"
        ).id.iloc[0]
    )
    ws.sql("UPDATE properties SET sale_type = 'judicial' WHERE id = $1::UUID", [pid])
    first_bid = bid_of(ws, pid)

    assert set(out_of_date(ws).values()) == {""}

    # a title search with a mortgage, recorded after the title was researched
    ws.record_title_search(pid, [{"lien_type": "mortgage", "holder": "BANK", "amount": "5000"}])
    assert pending(ws).get("title_research") == 1
    assert "bid_strategy" not in pending(ws)  # its title input is not redone yet
    assert out_of_date(ws)[pid].startswith("title inputs recorded after its title research")
    shown = section_html("bid", property_record(ws, pid)["bid"])  # the property view says so
    assert "Out of date" in shown and "title inputs recorded after" in shown
    run(ws, "title_research")
    assert out_of_date(ws)[pid] == "research redone after this bid: run bid_strategy"
    title = title_of(ws, pid)
    assert title["status"] == "NEEDS_REVIEW" and "notice not confirmed" in title["reasons"]
    assert pending(ws).get("bid_strategy") == 1  # the new title result is newer than the bid
    run(ws, "bid_strategy")
    review = bid_of(ws, pid)
    assert review["decision"] == "REVIEW" and review["calculated_at"] > first_bid["calculated_at"]

    # the docket shows proper service: the decree clears the mortgage
    ws.confirm_judicial_notice(pid, "returns of service on the docket")
    assert pending(ws).get("title_research") == 1
    run(ws, "title_research")
    title = title_of(ws, pid)
    assert title["status"] == "CLEAR" and float(title["surviving_total"]) == 0.0
    assert "notice confirmed" in title["reasons"]
    run(ws, "bid_strategy")
    assert "review: title status NEEDS_REVIEW" not in bid_of(ws, pid)["reasons"]
    after = pending(ws)
    assert "title_research" not in after and "bid_strategy" not in after
    assert set(out_of_date(ws).values()) == {""}


def test_a_lien_imported_after_research_reopens_only_that_property(
    researched, tmp_path, db_path
) -> None:
    ws = researched
    row = ws.sql(
        "SELECT p.parcel_id FROM bid_strategies b JOIN properties p ON p.id = b.property_id "
        "ORDER BY p.parcel_id DESC LIMIT 1"
    ).iloc[0]
    liens = tmp_path / "late_liens.csv"
    pd.DataFrame(
        [
            {
                "county": "Blair",
                "parcel_id": row.parcel_id,
                "lien_type": "water_sewer",
                "holder": "AUTHORITY",
                "amount": "180",
                "recorded_date": "",
            }
        ]
    ).to_csv(liens, index=False)
    ws.import_liens(liens)
    assert pending(ws).get("title_research") == 1
    stale = {k: v for k, v in out_of_date(ws).items() if v}
    assert len(stale) == 1
    # the export says so where a person reads it, and the file carries the column
    result = CliRunner().invoke(
        app,
        [
            "export",
            "bids",
            "--out",
            str(tmp_path / "b.csv"),
            "--db",
            db_path,
            "--county",
            "Blair",
            "--include-pass",
        ],
    )
    assert result.exit_code == 0, result.output
    assert "Warning: 1 of them is out of date" in result.output, result.output
    assert (pd.read_csv(tmp_path / "b.csv").out_of_date.fillna("") != "").sum() == 1
    run(ws, "title_research")
    assert pending(ws).get("bid_strategy") == 1
    # a second late lien before the bid is redone: the bid waits for the title again
    liens.write_text(liens.read_text().replace("AUTHORITY", "SECOND AUTHORITY"))
    ws.import_liens(liens)
    assert pending(ws).get("title_research") == 1 and "bid_strategy" not in pending(ws)
    run(ws, "title_research")
    assert pending(ws).get("bid_strategy") == 1
    run(ws, "bid_strategy")
    assert "title_research" not in pending(ws) and "bid_strategy" not in pending(ws)
