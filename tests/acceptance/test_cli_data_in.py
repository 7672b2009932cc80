"""Every kind of data in from the installed ``toolkit`` command, on real files in subprocesses:
add-document, add-bulk-file, import-liens, import-clr and profile."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

import toolkit
from toolkit.processors import has_processor

ROOT = Path(__file__).resolve().parents[2]
SAMPLE = ROOT / "data" / "sample"
EXAMPLES = ROOT / "docs" / "examples"
TOOLKIT = str(Path(sys.executable).parent / "toolkit")
if not Path(TOOLKIT).exists():
    TOOLKIT = shutil.which("toolkit") or TOOLKIT


def run(*args: object, code: int = 0, env: dict[str, str] | None = None):
    base = {
        k: v
        for k, v in os.environ.items()
        if k not in ("TOOLKIT_DB", "TOOLKIT_DEBUG", "TOOLKIT_PROFILE")
    }
    base |= {"REGRID_TOKEN": "", "TOOLKIT_REGRID_URL": "http://127.0.0.1:9/"}
    proc = subprocess.run(
        [TOOLKIT, *map(str, args)],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=ROOT,
        env=base | (env or {}),
    )
    assert proc.returncode == code, f"exit {proc.returncode}\n{proc.stdout}\n{proc.stderr}"
    return proc


def run_json(*args: object, code: int = 0, env: dict[str, str] | None = None):
    return json.loads(run(*args, "--json", code=code, env=env).stdout)


def query(db: str, sql: str) -> list[dict]:
    """Read what the commands saved (in this process: the commands have exited)."""
    with toolkit.connect(db) as ws:
        return ws.sql(sql).to_dict("records")


def count(db: str, table: str) -> int:
    return int(query(db, f"SELECT count(*) AS n FROM {table}")[0]["n"])


@pytest.fixture
def db(tmp_path: Path) -> str:
    path = str(tmp_path / "ws.duckdb")
    run("import-properties", SAMPLE / "properties.csv", "--db", path)
    return path


def test_add_document(db: str, tmp_path: Path) -> None:
    pdf = SAMPLE / "pdfs" / "blair_upset_ruled.pdf"
    out = run(
        "add-document",
        pdf,
        "--county",
        "Blair",
        "--sale-type",
        "Upset sale",
        "--sale-date",
        "2027-09-13",
        "--db",
        db,
    ).stdout
    assert out.startswith("Added document ") and "(Blair County, property_list)" in out
    assert "Parse it with: toolkit start pdf_parsing --county Blair" in out
    again = run_json("add-document", pdf, "--county", "blair", "--db", db)
    assert again["document_id"] in out and again["new"] is False
    assert (again["county"], again["sale_type"], again["sale_date"], again["path"]) == (
        "Blair",
        "upset",
        "2027-09-13",
        str(pdf),
    )
    notice = run_json(
        "add-document",
        SAMPLE / "pdfs" / "somerset_upset_ruled.pdf",
        "--county",
        "42111",
        "--document-type",
        "Sale notice",
        "--db",
        db,
    )
    assert (notice["new"], notice["county"], notice["document_type"]) == (
        True,
        "Somerset",
        "sale_notice",
    )

    # bad input: the bad value and the valid choices, exit 1 (2 for usage), nothing saved
    r = run("add-document", pdf, "--county", "Blair", "--sale-type", "auction", "--db", db, code=1)
    assert r.stderr.startswith("Error: Unknown sale type 'auction'.")
    assert "Valid choices: judicial, private, repository, sheriff, upset." in r.stderr
    r = run(
        "add-document", pdf, "--county", "Blair", "--sale-date", "13/09/2027", "--db", db, code=1
    )
    assert "Sale date '13/09/2027' is not a date" in r.stderr
    r = run("add-document", pdf, "--county", "Blare", "--db", db, code=1)
    assert "Unknown county 'Blare'. Did you mean 'Blair'?" in r.stderr
    r = run("add-document", tmp_path / "nope.pdf", "--county", "Blair", "--db", db, code=1)
    assert "nope.pdf' does not exist" in r.stderr
    r = run("add-document", pdf, "--county", "Blair", "--document-type", "deed", "--db", db, code=1)
    assert "Unknown document type 'deed'" in r.stderr and "property_list" in r.stderr
    r = run(
        "add-document",
        SAMPLE / "pdfs" / "somerset_upset_ruled.pdf",
        "--county",
        "Blair",
        "--db",
        db,
        code=1,
    )
    assert "added already as document" in r.stderr and "for Somerset County" in r.stderr
    assert "Missing option '--county'" in run("add-document", pdf, "--db", db, code=2).stderr
    assert count(db, "documents") == 2


def test_add_bulk_file_then_fetch_parcels_from_it(db: str, tmp_path: Path) -> None:
    bulk = SAMPLE / "regrid" / "pa_blair_synthetic.csv"
    out = run("add-bulk-file", bulk, "--county", "Blair", "--db", db).stdout
    assert f"Blair County's parcel data comes from {bulk} (csv)." in out
    geo = run_json(
        "add-bulk-file",
        SAMPLE / "regrid" / "pa_somerset_synthetic.geojson",
        "--county",
        "Somerset",
        "--db",
        db,
    )
    assert (geo["county"], geo["format"]) == ("Somerset", "geojson")

    r = run("add-bulk-file", bulk, "--county", "Clearfield", "--format", "xls", "--db", db, code=1)
    assert "Unknown Regrid bulk file format 'xls'. Valid choices: csv, geojson, gpkg." in r.stderr
    broken = tmp_path / "broken.csv"
    broken.write_text("foo,bar\n1,2\n")
    r = run("add-bulk-file", broken, "--county", "Clearfield", "--db", db, code=1)
    assert r.stderr.startswith("Error: ") and "parcelnumb" in r.stderr
    r = run("add-bulk-file", tmp_path / "missing.csv", "--county", "Clearfield", "--db", db, code=1)
    assert "not found" in r.stderr
    assert "Missing option '--county'" in run("add-bulk-file", bulk, "--db", db, code=2).stderr
    assert count(db, "bulk_files") == 2

    if has_processor("regrid_scraping"):  # the parcels come from the file, no network
        # one session, paused at its budget: exit 10
        run("say", "Start Regrid scraping for Blair County in batches of 50", "--db", db, code=10)
        rows = query(db, "SELECT source, count(*) AS n FROM regrid_data GROUP BY 1")
        assert rows == [{"source": "bulk", "n": 150}]


def test_import_liens(db: str, tmp_path: Path) -> None:
    out = run_json("import-liens", EXAMPLES / "liens.csv", "--db", db)
    assert out["imported"] == 6
    assert out["unmatched"] == [{"county": "Somerset", "parcel_id": "99.99-99..-999.99-999"}]
    text = run("import-liens", EXAMPLES / "liens.csv", "--db", db).stdout  # again: replaces
    assert "Imported 6 liens from liens.csv." in text and "1 row matches no property" in text
    assert count(db, "property_liens") == 6
    rows = query(
        db,
        "SELECT p.parcel_id, l.lien_type, l.amount FROM property_liens l "
        "JOIN properties p ON p.id = l.property_id ORDER BY l.amount DESC NULLS LAST "
        "LIMIT 1",
    )
    assert rows == [
        {"parcel_id": "70.20-25..-020.64-840", "lien_type": "mortgage", "amount": 38250.0}
    ]

    bad = tmp_path / "bad.csv"
    bad.write_text(
        "county,parcel_id,lien_type,holder,amount,recorded_date\n"
        "Blair,70.20-25..-020.64-840,judgment,A,10,2020-01-01\n"
        "Blair,65.04-38..-021.08-972,lean,B,10,2020-01-01\n"
    )
    r = run("import-liens", bad, "--db", db, code=1)
    assert r.stderr.startswith("Error: Unknown lien type in row 2 of bad.csv 'lean'.")
    assert "Valid choices: ground_rent, irs_federal, judgment" in r.stderr
    bad.write_text(
        "county,parcel_id,lien_type,holder,amount,recorded_date\n"
        "Blair,70.20-25..-020.64-840,judgment,A,ten,2020-01-01\n"
    )
    assert "amount 'ten' is not a sum" in run("import-liens", bad, "--db", db, code=1).stderr
    bad.write_text(
        "county,parcel_id,lien_type,holder,amount,recorded_date\n"
        "Blare,70.20-25..-020.64-840,judgment,A,10,2020-01-01\n"
    )
    assert "Unknown county 'Blare'" in run("import-liens", bad, "--db", db, code=1).stderr
    r = run("import-liens", tmp_path / "none.csv", "--db", db, code=1)
    assert "No such liens file" in r.stderr
    assert count(db, "property_liens") == 6  # nothing saved by the bad files


def test_import_clr(db: str, tmp_path: Path) -> None:
    out = run("import-clr", EXAMPLES / "clr_factors.csv", "--db", db).stdout
    assert "Imported 4 CLR factors from clr_factors.csv: Blair, Clearfield, Somerset, " in out
    assert "use the shipped PA table" in out
    assert run_json("import-clr", EXAMPLES / "clr_factors.csv", "--db", db) == {
        "imported": 4,
        "counties": ["Blair", "Clearfield", "Somerset", "Westmoreland"],
    }
    saved = (
        "SELECT c.county_name, f.factor, f.source FROM clr_factors f "
        "JOIN counties c ON c.id = f.county_id ORDER BY 1"
    )
    rows = query(db, saved)
    assert [(r["county_name"], r["factor"]) for r in rows] == [
        ("Blair", 1.18),
        ("Clearfield", 11.49),
        ("Somerset", 4.88),
        ("Westmoreland", 10.75),
    ]
    assert all("54 Pa.B. 3744" in r["source"] for r in rows)

    ratios = tmp_path / "ratios.csv"
    ratios.write_text("county,factor,source\nAdams,1.29,54 Pa.B. 3744\nBlair,26.2,STEB\n")
    r = run("import-clr", ratios, "--db", db, code=1)
    assert r.stderr.startswith(
        "Error: ratios.csv: factor '26.2' for county 'Blair' looks like a common level ratio"
    )
    assert "The factor is the ratio's reciprocal: 100 / 26.2 = 3.82." in r.stderr
    ratios.write_text("county,ratio,source\nBlair,85.1,STEB\n")
    assert "'ratio' column but no 'factor'" in run("import-clr", ratios, "--db", db, code=1).stderr
    ratios.write_text("county,factor,source\nBlair,0.262,STEB\n")
    assert "1 / 0.262 = 3.82" in run("import-clr", ratios, "--db", db, code=1).stderr
    ratios.write_text("county,factor,source\nBlair,1.5,\n")
    assert "has no source" in run("import-clr", ratios, "--db", db, code=1).stderr
    ratios.write_text("county,factor,source\nGotham,1.5,x\n")
    assert "Unknown county 'Gotham'" in run("import-clr", ratios, "--db", db, code=1).stderr
    assert (
        "No such CLR factor file"
        in run("import-clr", tmp_path / "x.csv", "--db", db, code=1).stderr
    )
    assert query(db, saved) == rows  # nothing saved by the bad files


def test_profile(tmp_path: Path) -> None:
    db = str(tmp_path / "ws.duckdb")
    target = tmp_path / "investor_profile.yaml"
    out = run("profile", "--db", db).stdout
    assert out.startswith(f"Investor profile in effect: the built-in defaults (no {target.name}")
    assert "Write your own with: toolkit profile init" in out and "min_profit: 10000" in out
    shown = run_json("profile", "show", "--db", db)
    assert shown["path"] is None and shown["profile"]["bid"]["arv_multipliers"]["moderate"] == 0.7
    assert "No profile file is in effect" in run("profile", "check", "--db", db).stdout

    out = run("profile", "init", "--db", db).stdout
    assert out.startswith(f"Wrote the starter investor profile to {target}")
    starter = (ROOT / "toolkit" / "reference" / "investor_profile_starter.yaml").read_text()
    assert target.read_text() == starter
    target.write_text(starter.replace("min_profit: 10000", "min_profit: 12500"))
    r = run("profile", "init", "--db", db, code=1)
    assert r.stderr.startswith(f"Error: {target} exists already; nothing was changed.")
    assert "--force" in r.stderr and "min_profit: 12500" in target.read_text()
    shown = run_json("profile", "--db", db)
    assert (shown["path"], shown["source"]) == (str(target), "the workspace's data folder")
    assert shown["profile"]["bid"]["min_profit"] == 12500
    assert (
        run("profile", "check", "--db", db).stdout.strip()
        == f"{target} is a valid investor profile."
    )
    run("profile", "init", "--force", "--db", db)
    assert target.read_text() == starter

    example = EXAMPLES / "investor_profile.yaml"
    assert run_json("profile", "check", example, "--db", db)["valid"] is True
    shown = run_json("profile", "--db", db, env={"TOOLKIT_PROFILE": str(example)})
    assert (shown["path"], shown["source"]) == (str(example), "$TOOLKIT_PROFILE")
    assert shown["profile"]["bid"]["min_profit"] == 15000

    bad = tmp_path / "bad.yaml"
    bad.write_text(
        "bid:\n  min_profit: -5\n  fallback_grade: Z\n  arv_multiplier: 0.7\n"
        "condition:\n  age_new_max: 80\n  age_old_min: 90\n  age_very_old_min: 120\n"
        "screening:\n  min_lot_sqft: lots\n"
    )
    r = run("profile", "check", bad, "--db", db, code=1)
    lines = r.stderr.splitlines()
    assert lines[0] == f"Error: {bad} has 4 problems:"
    assert sorted(lines[1:]) == sorted(
        [
            "  - Unknown key 'bid.arv_multiplier' in investor profile. Did you mean "
            "'arv_multipliers'? Valid keys: formula, arv_multipliers, selling_cost_share, "
            "holding_costs, min_profit, environmental_action, title_clearing_cost, "
            "title_clearing_if_clear, recording_cost, transfer_tax_rate, round_to, review_margin, "
            "fallback_grade, unknown_repair_allowance.",
            "  - Profile value bid.min_profit = -5 is out of range; valid range: >= 0.",
            "  - Profile value bid.fallback_grade = 'Z' is not a grade; valid choices: A, B, C, D, F.",
            "  - Profile value screening.min_lot_sqft = 'lots' is not a number; valid range: >= 0.",
        ]
    )
    checked = run_json("profile", "check", bad, "--db", db, code=1)
    assert checked["valid"] is False and len(checked["errors"]) == 4
    # the jobs refuse it too, with the first problem
    r = run("profile", "--db", db, env={"TOOLKIT_PROFILE": str(bad)}, code=1)
    assert r.stderr.startswith("Error: Unknown key 'bid.arv_multiplier'")

    r = run("profile", "edit", "--db", db, code=2)
    assert "'edit' is not one of" in r.stderr and "'check'" in r.stderr
    r = run("profile", "show", bad, "--db", db, code=2)
    assert "FILE is for 'profile check' only" in " ".join(r.stderr.split())


def test_the_example_files_say_what_they_are() -> None:
    for name, word in (
        ("liens.csv", "SYNTHETIC"),
        ("clr_factors.csv", "REAL figures"),
        ("investor_profile.yaml", "ILLUSTRATIONS"),
    ):
        head = (EXAMPLES / name).read_text()[:400]
        assert head.startswith("# EXAMPLE") and word in head, name
