"""The ``toolkit`` CLI in-process (typer's CliRunner) on real DuckDB files."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path
from typing import ClassVar

import pytest
import typer
from typer.testing import CliRunner

import toolkit
import toolkit.processors as processors
from toolkit.cli import app, error_text
from toolkit.exceptions import StoreError, ToolkitError

ROOT = Path(__file__).resolve().parents[2]
COMMANDS = typer.main.get_command(app).commands  # name -> click command
SLOW_MODULES = ("pandas", "duckdb", "papermill", "ipywidgets", "numpy", "IPython", "mcp", "uvicorn")


def cli(*args: str, ok: bool = True):
    result = CliRunner().invoke(app, [str(a) for a in args])
    if ok and result.exit_code != 0:
        raise AssertionError(
            f"exit {result.exit_code}\n{result.stdout}\n{result.stderr}\n{result.exception!r}"
        )
    return result


def cli_json(*args: str):
    return json.loads(cli(*args, "--json").stdout)


def jobs_table(db: str) -> list[tuple]:
    with toolkit.connect(db) as ws:
        return [
            tuple(r)
            for r in ws.sql("SELECT id::VARCHAR, status, processed_items FROM batch_jobs").values
        ]


@pytest.fixture
def sample_db(sample_ws, db_path) -> str:
    return db_path


@pytest.fixture(autouse=True)
def _only_test_processors(monkeypatch: pytest.MonkeyPatch) -> None:
    # built-in processors may call outside services: each test registers what it needs
    processors.processor_names()  # load entry points first, so they stay out too
    monkeypatch.setattr(processors, "_processors", {})


@pytest.fixture
def regrid_processor():
    from helpers import parcel

    processors.register_processor("regrid_scraping", lambda ws: parcel)


# --- help and docs ----------------------------------------------------------------


def test_the_issues_commands_are_all_there() -> None:
    names = (
        "pending status jobs start resume pause complete cancel retry audit sql run lab demo say"
    )
    wanted = {
        *names.split(),
        "import-properties",
        "add-document",
        "add-bulk-file",
        "import-liens",
        "import-clr",
        "profile",
    }
    assert wanted <= set(COMMANDS)


@pytest.mark.parametrize("name", sorted(COMMANDS))
def test_every_command_has_help_and_docs(name: str) -> None:
    command = COMMANDS[name]
    assert (command.help or "").strip(), f"{name} has no help text"
    for param in command.params:
        if param.name != "help":
            assert (getattr(param, "help", None) or "").strip(), f"{name} {param.name} has no help"
    docs = (ROOT / "docs" / "cli.md").read_text()
    assert re.search(rf"^#+ `toolkit {re.escape(name)}\b", docs, re.M), (
        f"{name} missing from docs/cli.md"
    )
    assert "--db" in {o for p in command.params for o in getattr(p, "opts", [])}
    assert "Usage: toolkit " + name in " ".join(cli(name, "--help").stdout.split())


def test_docs_describe_the_run_exit_codes() -> None:
    docs = (ROOT / "docs" / "cli.md").read_text()
    for code in ("| 0 |", "| 1 |", "| 2 |", "| 10 |", "| 11 |", "| 12 |"):
        assert code in docs


def test_help_imports_no_slow_module() -> None:
    # a fresh interpreter: --help of the app and of every command, then look
    code = (
        "import sys\nfrom toolkit.cli import main\n"
        f"for args in [['--help']] + [[n, '--help'] for n in {sorted(COMMANDS)!r}]:\n"
        "    assert main(args) == 0, args\n"
        f"print(sorted(m for m in {SLOW_MODULES!r} if m in sys.modules))\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip().splitlines()[-1] == "[]"


def test_version() -> None:
    assert cli("--version").stdout.strip() == f"toolkit {toolkit.__version__}"


# --- the API commands ------------------------------------------------------------------


def test_pending_matches_the_api(sample_db) -> None:
    with toolkit.connect(sample_db) as ws:
        expected = ws.get_pending_work_summary()
    rows = cli_json("pending", "--db", sample_db)
    assert [(r["job_type"], r["pending"]) for r in rows] == list(
        zip(expected.job_type, expected.pending.astype(int), strict=True)
    )
    table = cli("pending", "--db", sample_db).stdout
    for row in expected.itertuples():
        assert row.job_type in table and f"{row.pending:,}" in table


def test_job_lifecycle_through_the_cli(sample_db) -> None:
    st = cli_json(
        "start", "regrid_scraping", "--county", "Blair", "--batch-size", "50", "--db", sample_db
    )
    job = st["job_id"]
    assert (st["job_type"], st["county"], st["total_items"], st["status"]) == (
        "regrid_scraping",
        "Blair",
        235,
        "pending",
    )
    out = cli("status", job[:8], "--db", sample_db).stdout
    assert "Not started: 0/235 properties (0%)" in out
    # status without a job: the most recent active one
    assert cli_json("status", "--db", sample_db)["job_id"] == job

    assert cli_json("pause", "--reason", "lunch", "--db", sample_db)["status"] == "paused"
    out = cli("status", "--db", sample_db).stdout
    assert "Paused at 0/235 properties (0%)" in out and "Pause reason: lunch" in out
    assert "Resume with: 'Resume batch job'" in out

    assert cli_json("resume", "--db", sample_db)["job_id"] == job
    active = cli_json("jobs", "--db", sample_db)
    assert [j["job_id"] for j in active] == [job]
    assert job[:8] in cli("jobs", "--active", "--db", sample_db).stdout

    # work two items by hand through the API, one failing
    with toolkit.connect(sample_db) as ws:
        batch = ws.get_next_batch(job)
        ws.update_batch_progress(job, batch.item_id[0], 1, 0)
        ws.update_batch_progress(job, batch.item_id[1], 0, 1, "Property not found in Regrid")
    status = cli_json("status", job, "--failures", "--db", sample_db)
    assert (status["processed_items"], status["failed_items"]) == (1, 1)
    assert status["failures"][0]["error"] == "Property not found in Regrid"
    assert (
        "Property not found in Regrid" in cli("status", job, "--failures", "--db", sample_db).stdout
    )
    retried = cli_json("retry", job, "--db", sample_db)
    assert retried["retried"] == 1 and retried["status"]["failed_items"] == 0

    assert cli_json("cancel", job, "--db", sample_db)["status"] == "cancelled"
    assert cli_json("jobs", "--db", sample_db) == []
    assert "No active batch jobs." in cli("jobs", "--db", sample_db).stdout


def test_complete_and_completed_jobs(sample_db, regrid_processor) -> None:
    job = cli_json("start", "Regrid scraping", "--county", "Somerset", "--db", sample_db)["job_id"]
    with toolkit.connect(sample_db) as ws:
        ws.run_session(job, max_items=1_000)
    assert cli_json("complete", job, "--db", sample_db)["status"] == "completed"
    done = cli_json("jobs", "--completed", "--db", sample_db)
    assert [j["job_id"] for j in done] == [job]
    assert "Completed" in cli("jobs", "--completed", "--db", sample_db).stdout


def test_resume_by_job_type(sample_db) -> None:
    a = cli_json("start", "regrid_scraping", "--county", "Blair", "--db", sample_db)["job_id"]
    b = cli_json("start", "visual_validation", "--db", sample_db)["job_id"]
    cli("pause", a, "--db", sample_db)
    cli("pause", b, "--db", sample_db)
    assert cli_json("resume", "regrid_scraping", "--db", sample_db)["job_id"] == a
    assert cli_json("resume", "--db", sample_db)["job_id"] == b


def test_start_warnings_go_to_stderr(sample_db) -> None:
    cli("start", "regrid_scraping", "--county", "Blair", "--db", sample_db)
    r = cli(
        "start",
        "regrid_scraping",
        "--county",
        "Westmoreland",
        "--batch-size",
        "150",
        "--db",
        sample_db,
    )
    assert "Warning:" in r.stderr and "100" in r.stderr
    assert "Other active jobs" in r.stderr
    assert "Created job" in r.stdout


def test_audit_sql_and_import(tmp_path, db_path) -> None:
    csv = tmp_path / "props.csv"
    csv.write_text(
        "parcel_id,county,address,upset_price\nA-1,Blair,1 Main St,1000\n,Blair,no id,5\n"
    )
    r = cli("import-properties", csv, "--db", db_path, "--json", ok=False)
    out = json.loads(r.stdout)
    assert (out["imported"], out["updated"], len(out["rejected"])) == (1, 0, 1)
    assert r.exit_code == 3  # some rows rejected
    r = cli("import-properties", csv, "--db", db_path, ok=False)
    assert "Imported 0, updated 1, rejected 1." in r.stdout and "Rejected rows" in r.stdout
    assert r.exit_code == 3

    query = "SELECT parcel_id, address FROM properties WHERE parcel_id = ?"
    rows = cli_json("sql", query, "-p", "A-1", "--db", db_path)
    assert rows == [{"parcel_id": "A-1", "address": "1 Main St"}]
    assert "1 Main St" in cli("sql", "SELECT address FROM properties", "--db", db_path).stdout

    audit = cli_json("audit", "--db", db_path)
    assert audit["gaps"][0]["county"] == "Blair" and audit["gaps"][0]["missing_parcel_data"] == 1
    assert "Pipeline stages" in cli("audit", "--db", db_path).stdout


def test_db_defaults_to_the_environment(monkeypatch, sample_db) -> None:
    monkeypatch.setenv("TOOLKIT_DB", sample_db)
    job = cli_json("start", "regrid_scraping", "--county", "Blair")["job_id"]
    assert [r[0] for r in jobs_table(sample_db)] == [job]


# --- bad input ----------------------------------------------------------------------------


def test_library_errors_print_error_and_exit_1(sample_db) -> None:
    r = cli("start", "gold_mining", "--db", sample_db, ok=False)
    assert r.exit_code == 1 and r.stdout == ""
    assert (
        r.stderr.startswith("Error: Unknown job type 'gold_mining'")
        and "regrid_scraping" in r.stderr
    )
    assert "Traceback" not in r.stderr
    r = cli("start", "regrid_scraping", "--county", "Atlantis", "--db", sample_db, ok=False)
    assert r.exit_code == 1 and "Unknown county 'Atlantis'" in r.stderr
    r = cli("status", "not-a-job", "--db", sample_db, ok=False)
    assert r.exit_code == 1 and "Malformed job id 'not-a-job'" in r.stderr
    r = cli("pause", "--db", sample_db, ok=False)
    assert r.exit_code == 1 and "No running or pending batch job" in r.stderr
    r = cli("import-properties", "missing.csv", "--db", sample_db, ok=False)
    assert r.exit_code == 1 and "missing.csv" in r.stderr
    assert jobs_table(sample_db) == []


def test_debug_shows_the_traceback(sample_db) -> None:
    for args in (["--debug", "start", "gold_mining"], ["start", "gold_mining", "--debug"]):
        r = cli(*args, "--db", sample_db, ok=False)
        assert r.exit_code == 1
        assert "Traceback (most recent call last)" in r.stderr and "UnknownJobTypeError" in r.stderr
        assert "Error: Unknown job type" in r.stderr


def test_a_text_file_is_not_a_workspace(tmp_path) -> None:
    notes = tmp_path / "notes.txt"
    notes.write_text("my notes, not a database\n")
    before = notes.read_bytes()
    for args in (["pending"], ["say", "Show pending work"], ["start", "regrid_scraping"]):
        r = cli(*args, "--db", notes, ok=False)
        assert r.exit_code == 1
        assert r.stderr.startswith(f"Error: Cannot open workspace '{notes}'")
        assert "caused by" in r.stderr  # the driver's own words
    assert notes.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["notes.txt"]


def test_error_text_follows_the_cause_chain() -> None:
    try:
        try:
            raise OSError("disk full")
        except OSError as exc:
            raise StoreError("Cannot save the workspace") from exc
    except ToolkitError as exc:
        assert error_text(exc) == "Error: Cannot save the workspace\n  caused by OSError: disk full"


def test_bad_usage_exits_2(sample_db) -> None:
    assert cli("start", "--db", sample_db, ok=False).exit_code == 2  # missing JOB_TYPE
    assert cli("pending", "--nope", ok=False).exit_code == 2
    assert (
        cli("run", "regrid_scraping", "--batches", "0", "--db", sample_db, ok=False).exit_code == 2
    )


def test_run_rejects_bad_job_types_and_jobs_of_another_type(sample_db) -> None:
    r = cli("run", "gold_mining", "--db", sample_db, ok=False)
    assert r.exit_code == 2 and "Error: Unknown job type 'gold_mining'" in r.stderr
    visual = cli_json("start", "visual_validation", "--db", sample_db)["job_id"]
    before = jobs_table(sample_db)
    r = cli("run", "regrid_scraping", "--job", visual[:8], "--db", sample_db, ok=False)
    assert r.exit_code == 2
    assert f"Job {visual} is a visual_validation job, not regrid_scraping" in r.stderr
    assert f"toolkit run visual_validation --job {visual[:8]}" in r.stderr
    r = cli("run", "regrid_scraping", "--job", "12345678", "--db", sample_db, ok=False)
    assert r.exit_code == 2 and "No batch job with id '12345678'" in r.stderr
    assert jobs_table(sample_db) == before


def test_run_with_a_bad_db_changes_nothing(tmp_path) -> None:
    notes = tmp_path / "notes.txt"
    notes.write_text("not a database")
    r = cli("run", "regrid_scraping", "--db", notes, ok=False)
    assert r.exit_code == 1 and "Cannot open workspace" in r.stderr
    assert notes.read_text() == "not a database"


def test_lab_and_demo_help() -> None:
    assert "notebooks/" in cli("lab", "--help").stdout
    assert "--fresh" in cli("demo", "--help").stdout


def test_demo_and_lab_never_replace_a_file_that_is_not_a_workspace(tmp_path, monkeypatch) -> None:
    notes = tmp_path / "notes.txt"
    notes.write_text("keep me")
    for args in (["demo"], ["demo", "--keep"], ["lab"]):
        r = cli(*args, "--db", notes, ok=False)
        assert r.exit_code == 1 and "not a DuckDB database file" in r.stderr
    assert notes.read_text() == "keep me"
    r = cli("demo", "--db", tmp_path, ok=False)
    assert r.exit_code == 1 and "it is a folder" in r.stderr
    # --fresh on the user's own workspace would delete it
    own = tmp_path / "own.duckdb"
    toolkit.connect(str(own)).close()
    monkeypatch.setenv("TOOLKIT_DB", str(own))
    r = cli("demo", "--db", own, ok=False)
    assert r.exit_code == 1 and "would delete your workspace" in r.stderr
    assert own.exists()


# --- phrases through the CLI ---------------------------------------------------------------


def test_every_guide_phrase_through_say(sample_db, regrid_processor) -> None:
    def say(phrase: str, code: int = 0) -> str:
        r = cli("say", phrase, "--db", sample_db, ok=False)
        assert r.exit_code == code, (phrase, r.exit_code, r.stdout, r.stderr)
        return r.stdout

    assert "- regrid_scraping:" in say("What work is pending?")
    assert "- regrid_scraping:" in say("How much work is pending?")
    assert "- regrid_scraping:" in say("Show pending work")
    assert "Pipeline stages:" in say("Run data audit")
    assert "No active batch jobs" in say("Show active batch jobs")

    # a session that pauses at its budget exits 10, as `toolkit run` does
    out = say("Start Regrid scraping for Blair County in batches of 50", code=10)
    assert "Paused at 150/235 properties (64%)" in out and "Resume with: 'Resume batch job'" in out
    assert "Paused at 150/235 properties (64%)" in say("Show batch job status")
    assert "Paused at 150/235 properties (64%)" in say("Pause batch job")
    assert "Completed 235/235 properties (100%)" in say("Resume batch job")

    out = say("Start visual validation for all counties in batches of 100")
    assert "no visual_validation processor yet" in out
    assert "Paused at 0/" in say("Stop for now, we'll continue later")
    assert "no visual_validation processor yet" in say("Continue from where we left off")
    cli("pause", "--db", sample_db)
    assert "Resumed visual_validation job" in say("Resume visual validation job")
    assert "1 active batch job:" in say("Show active batch jobs")
    assert "Nothing is pending" in say("Start title research for Somerset County in batches of 20")

    # the words may also come unquoted
    assert "Pending work:" in cli("say", "show", "PENDING", "work", "--db", sample_db).stdout
    payload = cli_json("say", "Show batch job status", "--db", sample_db)
    assert payload["action"] == "status" and payload["data"]["job_type"] == "visual_validation"


def test_unknown_phrase_changes_nothing(sample_db) -> None:
    r = cli("say", "Make", "me", "rich", "--db", sample_db, ok=False)
    assert r.exit_code == 1 and "Phrases understood" in r.stderr
    assert "Stop for now, we'll continue later" in r.stderr
    assert jobs_table(sample_db) == []


# --- issue 14: JSON of every column type, wide results, status words ------------------------


def test_sql_json_takes_every_column_type(sample_db) -> None:
    rows = cli_json("sql", "SELECT id FROM properties LIMIT 3", "--db", sample_db)
    assert len(rows) == 3 and all(len(r["id"]) == 36 for r in rows)  # UUIDs as text
    query = (
        "SELECT uuid '00000000-0000-0000-0000-000000000001' AS u, 1.50::DECIMAL(10,2) AS d, "
        "12::DECIMAL(10,2) AS whole, DATE '2027-09-13' AS day, "
        "TIMESTAMP '2027-09-13 10:00:01.5' AS ts, TIMESTAMPTZ '2027-09-13 10:00:00+00' AS tz, "
        "'nan'::DOUBLE AS nan, NULL::TIMESTAMP AS nat, NULL::INTEGER AS ni, NULL::UUID AS nu, "
        "'\\x01\\xff'::BLOB AS b, [1, 2] AS l, {'a': 1} AS s, INTERVAL 90 SECOND AS iv, "
        "TIME '10:00:00' AS t, TRUE AS yes"
    )
    (row,) = cli_json("sql", query, "--db", sample_db)
    assert row["u"] == "00000000-0000-0000-0000-000000000001"
    assert (row["d"], row["whole"]) == (1.5, 12)
    assert row["day"].startswith("2027-09-13") and row["ts"].startswith("2027-09-13T10:00:01.5")
    assert row["tz"].startswith("2027-09-13T10:00:00")
    assert (row["nan"], row["nat"], row["ni"], row["nu"]) == (None, None, None, None)
    assert (row["b"], row["l"], row["s"]) == ("01ff", [1, 2], {"a": 1})
    assert (row["iv"], row["t"], row["yes"]) == (90.0, "10:00:00", True)


def test_wide_results_fold_into_records(sample_db) -> None:
    job = cli_json("start", "regrid_scraping", "--county", "Blair", "--db", sample_db)["job_id"]
    out = cli("sql", f"SELECT * FROM get_batch_status('{job}')", "--db", sample_db).stdout
    assert out.startswith("-[ RECORD 1 ]")
    assert re.search(rf"^job_id\s+\| {job}$", out, re.M)
    assert re.search(r"^max_consecutive_failures \| 10$", out, re.M)  # no 3-letter fragments
    assert "<NA>" not in out
    narrow = cli("sql", "SELECT id, status FROM batch_jobs", "--db", sample_db).stdout
    assert "RECORD" not in narrow and job in narrow  # a table when it fits
    forced = cli("sql", "SELECT id, status FROM batch_jobs", "-x", "--db", sample_db).stdout
    assert forced.startswith("-[ RECORD 1 ]") and re.search(r"^status \| pending$", forced, re.M)


def test_records_text_wraps_long_values() -> None:
    import pandas as pd

    from toolkit.cli import records_text

    text = records_text(pd.DataFrame({"a": ["x" * 50], "bb": [None]}), width=30)
    assert text.splitlines()[1:] == ["a  | " + "x" * 25, "   | " + "x" * 25, "bb | "]


def test_status_words_are_true() -> None:
    from toolkit.phrases import describe_status

    st = {
        "job_id": "861dbf8b-0000",
        "job_type": "regrid_scraping",
        "county": None,
        "batch_size": 50,
        "status": "in_progress",
        "total_items": 40,
        "processed_items": 10,
        "failed_items": 0,
        "skipped_items": 0,
        "pending_items": 30,
        "noun": "properties",
        "current_batch": 5,
        "total_batches": 1,
        "eta_seconds": 0.3,
    }
    text = describe_status(st)
    assert "Batch 1 of 1" in text and "Batch 5" not in text
    assert "About 0 s" not in text and "work left" not in text  # no rate known yet: say nothing
    assert "Less than a minute of work left" in describe_status({**st, "eta_seconds": 42.0})
    assert "About 3 min of work left" in describe_status({**st, "eta_seconds": 200.0})
    done = describe_status({**st, "status": "completed", "current_batch": 0, "pending_items": 0})
    assert "Batch 1 of 1" in done


# --- issue 14: toolkit lab opens the workspace asked for, as root too, and prints its URL ---


class _FakeLab:
    """JupyterLab as subprocess.Popen sees it: logs (with the URL) on stderr, then exits."""

    calls: ClassVar[list[tuple[list[str], dict[str, str]]]] = []

    def __init__(self, cmd: list[str], env: dict[str, str], **kwargs) -> None:
        import io

        _FakeLab.calls.append((cmd, env))
        self.stderr = io.StringIO(
            "[I 2026-12-01 13:00:00.000 ServerApp] Jupyter Server 2 is running at:\n"
            "[C 2026-12-01 13:00:00.001 ServerApp] \n"
            "    To access the server, open this file in a browser:\n"
            "    Or copy and paste one of these URLs:\n"
            "        http://localhost:8899/lab?token=abc123\n"
            "        http://127.0.0.1:8899/lab?token=abc123\n"
            "[W 2026-12-01 13:00:00.002 LabApp] a warning people should see\n"
        )

    def wait(self) -> int:
        return 0


@pytest.fixture
def fake_lab(monkeypatch, tmp_path):
    monkeypatch.setattr(subprocess, "Popen", _FakeLab)
    monkeypatch.setenv("TOOLKIT_DATA", str(tmp_path / "data"))
    (tmp_path / "data").mkdir()
    _FakeLab.calls = []
    return _FakeLab


def test_lab_opens_the_db_given_and_prints_its_url(fake_lab, sample_db, monkeypatch) -> None:
    monkeypatch.setattr("os.geteuid", lambda: 1000)
    r = cli("lab", "--no-browser", "--db", sample_db)
    [(cmd, env)] = fake_lab.calls
    assert env["TOOLKIT_DB"] == str(Path(sample_db).resolve())  # the notebooks' db=None reads it
    assert cmd[1:4] == ["-m", "jupyter", "lab"] and "--no-browser" in cmd
    assert "--allow-root" not in cmd
    assert "JupyterLab: http://localhost:8899/lab?token=abc123" in r.stdout
    assert r.stdout.count("JupyterLab: http") == 1
    assert "a warning people should see" in r.stderr and "To access" not in r.stderr


def test_lab_works_as_root(fake_lab, sample_db, monkeypatch) -> None:
    monkeypatch.setattr("os.geteuid", lambda: 0)
    cli("lab", "--db", sample_db)
    [(cmd, _)] = fake_lab.calls
    assert "--allow-root" in cmd


def test_lab_without_db_finds_the_demos_workspace(fake_lab, tmp_path) -> None:
    demo = tmp_path / "data" / "demo.duckdb"
    toolkit.connect(str(demo)).close()
    r = cli("lab")
    [(_, env)] = fake_lab.calls
    assert env["TOOLKIT_DB"] == str(demo.resolve())
    assert "toolkit.duckdb does not exist yet" in r.stderr and "demo.duckdb" in r.stderr
    # once the user's own workspace exists, that one
    own = tmp_path / "data" / "toolkit.duckdb"
    toolkit.connect(str(own)).close()
    cli("lab")
    assert fake_lab.calls[-1][1]["TOOLKIT_DB"] == str(own.resolve())


def test_demo_ends_with_the_command_that_opens_its_workspace(monkeypatch, tmp_path) -> None:
    import toolkit.demo

    monkeypatch.setattr(toolkit.demo, "run_demo", lambda **kw: {})
    db = tmp_path / "d.duckdb"
    out = cli("demo", "--db", db).stdout
    assert out.rstrip().splitlines()[-2].endswith(f"toolkit lab --db {db}")


# --- issue 14: messages in plain words, not Python ---------------------------------------------

PYTHON_SPEAK = re.compile(r"\w+=(?:True|False|None)\b|\b\w+\(\)|ws\.\w+\(|register_processor")


def test_messages_speak_commands_not_python(sample_db) -> None:
    cli("start", "regrid_scraping", "--county", "Blair", "--db", sample_db)
    again = cli("start", "regrid_scraping", "--county", "Blair", "--db", sample_db, ok=False)
    assert "toolkit start regrid_scraping --force" in again.stderr
    nothing = cli("resume", "title_research", "--db", sample_db, ok=False)
    assert "toolkit start JOB_TYPE" in nothing.stderr
    said = cli("say", "Start visual validation for all counties", "--db", sample_db)
    paused = cli("pause", "--db", sample_db)
    for text in (again.stderr, nothing.stderr, said.stdout, paused.stdout):
        assert not PYTHON_SPEAK.search(text), text


def test_confirm_notice_marks_the_property_and_names_a_bad_parcel(sample_db) -> None:
    with toolkit.connect(sample_db) as ws:
        parcel = ws.sql(
            "SELECT parcel_id FROM properties p JOIN counties c ON c.id = p.county_id "
            "WHERE c.county_name = 'Blair' ORDER BY parcel_id LIMIT 1"
        ).parcel_id[0]
    out = cli(
        "confirm-notice", parcel, "--county", "Blair", "--note", "docket 1", "--db", sample_db
    )
    assert f"Notice confirmed for parcel {parcel} in Blair County" in out.stdout
    # the sample's sales are upset sales: notice changes nothing there, and it says so
    assert "Note: its sale is listed as 'upset'" in out.stderr
    with toolkit.connect(sample_db) as ws:
        assert ws.sql("SELECT count(*) AS n FROM notice_confirmations").n[0] == 1
        pid = ws.sql("SELECT id::VARCHAR AS id FROM properties WHERE parcel_id = $1", [parcel]).id[
            0
        ]
        ws.sql("UPDATE properties SET sale_type = 'judicial' WHERE id = $1::UUID", [pid])
    judicial = cli(
        "confirm-notice", parcel, "--county", "Blair", "--note", "docket 2", "--db", sample_db
    )
    assert "Note:" not in judicial.stderr
    bad = cli(
        "confirm-notice", "99.99", "--county", "Blair", "--note", "x", "--db", sample_db, ok=False
    )
    assert bad.exit_code != 0 and "'99.99'" in bad.stderr
