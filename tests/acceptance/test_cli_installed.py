"""The installed ``toolkit`` command, run in subprocesses on real DuckDB files."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

import toolkit
from toolkit.processors import has_processor

ROOT = Path(__file__).resolve().parents[2]
SAMPLE_CSV = ROOT / "data" / "sample" / "properties.csv"


def _executable() -> str:
    beside = Path(sys.executable).parent / "toolkit"
    found = str(beside) if beside.exists() else shutil.which("toolkit")
    if found is None:
        raise AssertionError("the toolkit command is not installed (pip install -e .)")
    return found


TOOLKIT = _executable()


def run(
    *args: object, code: int = 0, env: dict[str, str] | None = None, timeout: float = 120
) -> subprocess.CompletedProcess[str]:
    base = {k: v for k, v in os.environ.items() if k not in ("TOOLKIT_DB", "TOOLKIT_DEBUG")}
    # never reach a real service, whatever processors are built in
    base |= {"REGRID_TOKEN": "", "TOOLKIT_REGRID_URL": "http://127.0.0.1:9/"}
    proc = subprocess.run(
        [TOOLKIT, *map(str, args)],
        capture_output=True,
        text=True,
        timeout=timeout,
        cwd=ROOT,
        env=base | (env or {}),
    )
    assert proc.returncode == code, f"exit {proc.returncode}\n{proc.stdout}\n{proc.stderr}"
    return proc


def run_json(*args: object, env: dict[str, str] | None = None) -> object:
    return json.loads(run(*args, "--json", env=env).stdout)


@pytest.fixture
def db(tmp_path: Path) -> str:
    path = str(tmp_path / "ws.duckdb")
    out = run("import-properties", SAMPLE_CSV, "--db", path)
    assert "Imported 795, updated 0, rejected 0." in out.stdout
    assert "Skipped line 1 (above the header row)" in out.stdout  # the '# SYNTHETIC' note
    return path


def test_help_lists_every_command() -> None:
    out = run("--help").stdout
    names = "pending status jobs start resume pause complete cancel retry audit sql"
    for name in [*names.split(), "import-properties", "run", "lab", "demo", "say"]:
        assert name in out
    assert run("--version").stdout.strip() == f"toolkit {toolkit.__version__}"


def test_a_session_of_commands(db: str) -> None:
    pending = run_json("pending", "--db", db)
    assert {r["job_type"] for r in pending} >= {"regrid_scraping", "county_research"}
    st = run_json(
        "start", "regrid_scraping", "--county", "Clearfield", "--batch-size", "40", "--db", db
    )
    job = st["job_id"]
    assert (st["county"], st["batch_size"], st["status"]) == ("Clearfield", 40, "pending")
    run("pause", job[:8], "--db", db)
    assert "Paused at 0/" in run("status", job[:8], "--db", db).stdout
    assert run_json("resume", "regrid_scraping", "--db", db)["job_id"] == job
    assert [j["job_id"] for j in run_json("jobs", "--db", db)] == [job]
    assert run_json("cancel", job, "--db", db)["status"] == "cancelled"
    rows = run_json(
        "sql", "SELECT status FROM batch_jobs WHERE id = ?::UUID", "-p", job, "--db", db
    )
    assert rows == [{"status": "cancelled"}]


def test_the_db_comes_from_the_environment(db: str) -> None:
    rows = run_json("pending", env={"TOOLKIT_DB": db})
    assert rows == run_json("pending", "--db", db)


def test_every_guide_phrase(db: str) -> None:
    def say(phrase: str, code: int = 0) -> str:
        return run("say", phrase, "--db", db, code=code).stdout

    # no parcel source here (no token, no bulk file): each regrid session auto-pauses at
    # once, and `say` exits 11 for it, as `toolkit run` does
    no_source = 11 if has_processor("regrid_scraping") else 0

    assert "- regrid_scraping:" in say("What work is pending?")
    assert "- regrid_scraping:" in say("How much work is pending?")
    assert "- regrid_scraping:" in say("Show pending work")
    assert "Pipeline stages:" in say("Run data audit")
    assert "No active batch jobs" in say("Show active batch jobs")

    out = say("Start Regrid scraping for Blair County in batches of 50", no_source)
    assert "Created regrid_scraping job" in out and "252 properties in 6 batches" in out
    if has_processor("regrid_scraping"):  # one session ran with the built-in processor
        assert "This session:" in out
    else:
        assert "no regrid_scraping processor yet" in out
    assert "regrid_scraping job" in say("Show batch job status")
    assert "Resume with: 'Resume batch job'" in say("Stop for now, we'll continue later")
    assert "Resumed regrid_scraping job" in say("Resume batch job", no_source)
    assert "Resume with: 'Resume batch job'" in say("Pause batch job")
    assert "Resumed regrid_scraping job" in say("Resume Regrid scraping job", no_source)
    say("Pause batch job")
    assert "Resumed regrid_scraping job" in say("continue from where we left off", no_source)
    assert "Nothing is pending" in say("Start title research for Somerset County in batches of 20")
    out = say("Start visual validation for all counties in batches of 100")
    assert "Created visual_validation job" in out
    assert "active batch job" in say("Show active batch jobs")


def test_errors(db: str, tmp_path: Path) -> None:
    r = run("say", "Do my taxes", "--db", db, code=1)
    assert (
        r.stderr.startswith("Error: Unknown phrase 'Do my taxes'") and "Traceback" not in r.stderr
    )
    assert (
        "Traceback (most recent call last)"
        in run("--debug", "say", "Do my taxes", "--db", db, code=1).stderr
    )
    r = run("start", "gold_mining", "--db", db, code=1)
    assert "Unknown job type 'gold_mining'" in r.stderr
    assert run_json("jobs", "--db", db) == []

    notes = tmp_path / "notes.txt"
    notes.write_text("a text file\n")
    r = run("status", "--db", notes, code=1)
    assert (
        r.stderr.startswith(f"Error: Cannot open workspace '{notes}'") and "caused by" in r.stderr
    )
    assert notes.read_text() == "a text file\n"


def test_run_argument_validation(db: str) -> None:
    r = run("run", "gold_mining", "--db", db, code=2)
    assert "Unknown job type 'gold_mining'" in r.stderr
    regrid = run_json("start", "regrid_scraping", "--county", "Blair", "--db", db)["job_id"]
    r = run("run", "visual_validation", "--job", regrid, "--db", db, code=2)
    assert "is a regrid_scraping job, not visual_validation" in r.stderr
    assert run_json("status", regrid, "--db", db)["status"] == "pending"  # untouched


@pytest.mark.slow
def test_run_executes_the_notebook_and_exits_with_its_code(db: str, tmp_path: Path) -> None:
    proc = subprocess.run(
        [TOOLKIT, "run", "regrid_scraping", "--county", "Blair", "--batches", "1", "--db", db],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=ROOT,
        env=os.environ | {"REGRID_TOKEN": "", "TOOLKIT_REGRID_URL": "http://127.0.0.1:9/"},
    )
    lines = [
        ln for ln in proc.stdout.splitlines() if re.match(r"^[0-9a-f]{8} \w+ \(exit \d+\): ", ln)
    ]
    assert len(lines) == 1, proc.stdout + proc.stderr
    printed = int(re.search(r"\(exit (\d+)\)", lines[0]).group(1))
    assert proc.returncode == printed and printed in (0, 1, 10, 11, 12)
    job = lines[0][:8]
    st = run_json("status", job, "--db", db)
    assert (st["job_type"], st["county"]) == ("regrid_scraping", "Blair")
    record = Path(proc.stdout.split("\n  record: ", 1)[1].splitlines()[0])
    assert record.is_file() and record.suffix == ".ipynb"


def test_demo(tmp_path: Path) -> None:
    demo = tmp_path / "demo.duckdb"
    # the whole pipeline in 40-odd notebook kernels: minutes on a busy machine
    out = run("demo", "--db", demo, timeout=1200).stdout
    assert "SYNTHETIC" in out
    with toolkit.connect(str(demo)) as ws:
        assert not ws.completed_jobs().empty


def test_sql_json_of_uuids_and_wide_results(db: str) -> None:
    # issue 14: `toolkit sql "select id from properties" --json` crashed with OverflowError
    rows = run_json("sql", "select id from properties limit 5", "--db", db)
    assert isinstance(rows, list) and len(rows) == 5
    assert all(re.fullmatch(r"[0-9a-f-]{36}", r["id"]) for r in rows)
    job = run_json("start", "regrid_scraping", "--county", "Blair", "--db", db)
    assert isinstance(job, dict)
    out = run("sql", f"select * from get_batch_status('{job['job_id']}')", "--db", db).stdout
    assert out.startswith("-[ RECORD 1 ]") and "max_consecutive_failures | 10" in out
