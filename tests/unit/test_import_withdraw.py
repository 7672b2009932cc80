"""A republished county list withdraws the parcels it no longer has (DuckDB and Postgres).

Owners pay and parcels drop off a list between publication and the sale; the
county republishes it. ``withdraw_missing`` takes the new file as the county's
whole list: parcels missing from it become ``withdrawn`` and stop consuming
research, the work already done for them stays, and a parcel that comes back is
active again.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from helpers import parcel
from typer.testing import CliRunner

from toolkit.cli import app

BACKENDS = ("duckdb", "postgres")  # conftest runs each ws / db_path test on both

HEADER = "parcel_id,owner,upset_price\n"


def listing(tmp_path: Path, name: str, *rows: str) -> Path:
    path = tmp_path / name
    path.write_text(HEADER + "".join(f"{r}\n" for r in rows))
    return path


def statuses(ws) -> dict[str, str]:
    rows = ws.store.run(
        lambda con: con.execute("SELECT parcel_id, auction_status FROM properties").fetchall(),
        tx=False,
    )
    return dict(rows)


def pending(ws) -> dict[str, int]:
    frame = ws.get_pending_work_summary().set_index("job_type")
    return {k: int(v) for k, v in frame.pending.items()}


@pytest.fixture
def listed(ws, tmp_path):
    """Six Blair parcels (P-1 and P-2 with parcel data done) and two Somerset ones."""
    first = listing(tmp_path, "blair.csv", *(f"P-{i},OWNER {i},$100.00" for i in range(1, 7)))
    assert ws.import_properties(first, county="Blair")["imported"] == 6
    other = listing(tmp_path, "somerset.csv", "S-1,X,1", "S-2,Y,2")
    ws.import_properties(other, county="Somerset")
    job = ws.create_batch_job("regrid_scraping", "Blair", 50)
    assert ws.run_session(job, parcel, max_items=2).processed == 2
    ws.cancel_batch_job(job)
    done = ws.sql("SELECT p.parcel_id FROM regrid_data r JOIN properties p ON p.id = r.property_id")
    assert sorted(done.parcel_id) == ["P-1", "P-2"]
    return first


def test_republished_list_withdraws_missing_parcels_and_keeps_work(ws, tmp_path, listed):
    before = pending(ws)
    assert before["regrid_scraping"] == 6 and before["visual_validation"] == 2
    again = listing(
        tmp_path,
        "blair_2.csv",
        "P-1,OWNER 1,$100.00",
        "P-3,OWNER 3,$100.00",
        "P-4,OWNER 4,$100.00",
        "P-6,OWNER 6,abc",
    )
    out = ws.import_properties(again, county="Blair", withdraw_missing=True)
    assert out["withdrawn"] == 2 and out["exit_code"] == 3  # P-6's row rejected: still listed
    assert out["withdrawn_parcels"].values.tolist() == [["Blair", "P-2"], ["Blair", "P-5"]]
    assert statuses(ws) == {
        "P-1": "active",
        "P-2": "withdrawn",
        "P-3": "active",
        "P-4": "active",
        "P-5": "withdrawn",
        "P-6": "active",
        "S-1": "active",
        "S-2": "active",
    }
    after = pending(ws)
    assert after["regrid_scraping"] == 5  # P-5 no longer pending
    assert after["visual_validation"] == 1  # P-2's screening no longer pending
    kept = ws.sql("SELECT count(*) AS n FROM regrid_data").n[0]
    assert kept == 2  # P-2's parcel data stays

    # the old list again: the two come back, their work pending again
    back = ws.import_properties(listed, county="Blair", withdraw_missing=True)
    assert (back["withdrawn"], back["reactivated"]) == (0, 2)
    assert back["reactivated_parcels"].parcel_id.tolist() == ["P-2", "P-5"]
    assert set(statuses(ws).values()) == {"active"}
    assert pending(ws) == before


def test_without_the_flag_statuses_stay_and_a_warning_says_so(ws, tmp_path, listed):
    short = listing(tmp_path, "short.csv", "P-1,OWNER 1,$100.00")
    ws.import_properties(short, county="Blair", withdraw_missing=True)
    out = ws.import_properties(listed, county="Blair")
    assert out["withdrawn"] == 0 and out["reactivated"] == 0
    assert list(statuses(ws).values()).count("withdrawn") == 5
    assert "5 parcels of this list are withdrawn" in " ".join(out["warnings"].message)


def test_more_than_half_withdrawn_is_called_out(ws, tmp_path, listed):
    short = listing(tmp_path, "short.csv", "P-1,OWNER 1,$100.00")
    out = ws.import_properties(short, county="Blair", withdraw_missing=True)
    assert out["withdrawn"] == 5
    assert "5 of 6 active parcels of county Blair are not in this file" in " ".join(
        out["warnings"].message
    )


def test_dry_run_and_rejected_files_withdraw_nothing(ws, tmp_path, listed):
    short = listing(tmp_path, "short.csv", "P-1,OWNER 1,$100.00")
    out = ws.import_properties(short, county="Blair", withdraw_missing=True, dry_run=True)
    assert out["withdrawn"] == 5 and out["dry_run"]
    bad = listing(tmp_path, "bad.csv", "P-1,OWNER 1,abc", "P-2,OWNER 2,xyz")
    out = ws.import_properties(bad, county="Blair", withdraw_missing=True)
    assert out["withdrawn"] == 0 and out["exit_code"] == 4
    assert set(statuses(ws).values()) == {"active"}


def test_only_active_parcels_are_withdrawn_and_a_row_status_wins(ws, tmp_path, listed):
    sold = tmp_path / "sold.csv"
    sold.write_text("Parcel,Status\nP-6,sold\nP-5,withdrawn\n")
    ws.import_properties(sold, county="Blair")
    again = tmp_path / "again.csv"
    again.write_text("Parcel,Status\nP-1,\nP-2,\nP-3,\nP-5,\n")
    out = ws.import_properties(again, county="Blair", withdraw_missing=True)
    assert out["withdrawn_parcels"].parcel_id.tolist() == ["P-4"]
    assert out["reactivated_parcels"].parcel_id.tolist() == ["P-5"]
    assert statuses(ws)["P-6"] == "sold"


def test_withdrawn_items_of_an_active_job_are_pointed_out(ws, tmp_path, listed):
    ws.create_batch_job("regrid_scraping", "Blair", 50)
    short = listing(tmp_path, "short.csv", "P-1,OWNER 1,$100.00", "P-2,OWNER 2,$100.00")
    out = ws.import_properties(short, county="Blair", withdraw_missing=True)
    assert "4 items of active jobs are withdrawn parcels" in " ".join(out["warnings"].message)


def test_the_command_line(db_path, tmp_path, ws, listed):
    short = listing(tmp_path, "short.csv", "P-1,OWNER 1,$100.00", "P-3,OWNER 3,$100.00")
    args = [
        "import-properties",
        str(short),
        "--county",
        "Blair",
        "--withdraw-missing",
        "--db",
        db_path,
    ]
    r = CliRunner().invoke(app, [*args, "--dry-run"])
    assert r.exit_code == 0, r.output
    assert "withdraw 4" in r.stdout and "Dry run: nothing was written." in r.stdout
    r = CliRunner().invoke(app, args)
    assert r.exit_code == 0, r.output
    assert "Imported 0, updated 2, rejected 0, withdrawn 4, active again 0." in r.stdout
    assert "Withdrawn" in r.stdout and "P-6" in r.stdout
