"""Postgres only: the guide's SQL in psql, one rule set for SQL and Python, leases, bad input."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import threading
import time
import uuid
from pathlib import Path

import pytest
from helpers import load_sample, parcel, popen_py, run_py

import toolkit
from toolkit.exceptions import (
    InvalidTransitionError,
    JobPausedError,
    MissingDependencyError,
    StoreError,
    ValidationError,
)

pytestmark = pytest.mark.postgres
BACKENDS = ("postgres",)
GUIDE = Path("/work/shared/guide/BATCH-PROCESSING-GUIDE.md")
if not GUIDE.exists():
    GUIDE = Path(__file__).resolve().parents[2] / "docs" / "guide.md"
BLAIR = "(SELECT id FROM counties WHERE county_name = 'Blair')"


def guide_sql() -> list[str]:
    """Every SQL example of the guide: the ```sql blocks and the quick reference's commands."""
    text = GUIDE.read_text()
    blocks = re.findall(r"```sql\n(.*?)```", text, re.S)
    quick = [
        c for c in re.findall(r"`(SELECT [^`]*;)`", text) if "..." not in c and "'type'" not in c
    ]
    return blocks + quick


def psql(url: str, sql: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["psql", url, "-X", "-q", "-A", "-t", "-v", "ON_ERROR_STOP=1", "-f", "-"],
        input=sql,
        capture_output=True,
        text=True,
        timeout=60,
    )


@pytest.fixture(scope="module")
def prepared():
    """A database with the sample, a pending Somerset job and a finished Clearfield job; cloned per block."""
    import backends

    url = backends.fresh_postgres()
    ws = toolkit.connect(url)
    load_sample(ws)
    job = ws.create_batch_job("regrid_scraping", "Somerset", 50)
    item = str(
        ws.sql(
            "SELECT item_id FROM batch_job_items WHERE job_id = $1::UUID AND seq = 0", [job]
        ).item_id[0]
    )
    done = ws.create_batch_job("regrid_scraping", "Clearfield", 100)
    ws.run_session(done, parcel, max_items=1000)
    ws.close()
    yield url, job, item, done
    backends.drop(url)


def test_every_guide_sql_example_runs_verbatim_in_psql(prepared):
    import backends

    if shutil.which("psql") is None:
        pytest.skip("psql is not installed")
    url, job, item, done = prepared
    examples = guide_sql()
    assert len(examples) >= 15
    template = url.rsplit("/", 1)[1]
    for sql in examples:
        # the guide's placeholders, and nothing else, are filled in
        target = done if "complete_batch_job" in sql else job
        text = (
            sql.replace("'job-uuid-here'", f"'{target}'")
            .replace("'job-uuid'", f"'{target}'")
            .replace("'last-item-uuid'", f"'{item}'")
            .replace("'property-uuid'", f"'{item}'")
        )
        text = re.sub(r"(create_batch_job\('\w+', )county_id,", rf"\1{BLAIR},", text)
        name = f"toolkit_test_{uuid.uuid4().hex[:12]}"
        backends._admin(f'CREATE DATABASE "{name}" TEMPLATE "{template}"')
        clone = backends.url_for(name)
        try:
            out = psql(clone, text)
            assert out.returncode == 0, (sql, out.stderr)
            lines = out.stdout.strip().splitlines()
            if "create_batch_job" in sql:
                assert all(re.fullmatch(r"[0-9a-f-]{36}", ln) for ln in lines), (sql, lines)
            if "get_pending_work_summary" in sql:
                # 795 sample properties, 17 with parcel data already, Clearfield's 231 done
                assert f"regrid_scraping|{795 - 17 - 231}|50|11|4|0" in lines, lines
            if "get_next_batch" in sql:
                assert len(lines) == 50 and lines[0].split("|")[0] == item
            if "update_batch_progress" in sql:
                assert lines == ["pending"]  # the job's status: nobody has started it
                kept = psql(
                    clone,
                    f"SELECT status FROM batch_job_items WHERE item_id = '{item}' AND job_id = '{job}';",
                )
                assert kept.stdout.strip() in ("done", "failed")
            if "pause_batch_job" in sql or "resume_batch_job" in sql:
                assert set(lines) == {job}
        finally:
            backends.drop(clone)


def test_guide_example_create_in_psql_then_python_sees_it(sample_ws, db_path):
    out = psql(db_path, f"SELECT create_batch_job('regrid_scraping', {BLAIR}, 50);")
    assert out.returncode == 0, out.stderr
    job = out.stdout.strip()
    st = sample_ws.get_batch_status(job)
    assert (st["total_items"], st["total_batches"], st["county"], st["batch_size"]) == (
        235,
        5,
        "Blair",
        50,
    )
    # the rule is the same on both sides: a second active job for Blair is refused in psql too
    again = psql(db_path, f"SELECT create_batch_job('regrid_scraping', {BLAIR}, 50);")
    assert again.returncode != 0 and "already active" in again.stderr and job in again.stderr


def test_sql_and_python_share_the_failure_rule(sample_ws, db_path):
    job = sample_ws.create_batch_job("regrid_scraping", "Blair", 50)
    items = sample_ws.get_next_batch(job).item_id.tolist()
    # nine failures in Python, the tenth through psql: the job pauses with the guide's reason
    for i in range(9):
        sample_ws.update_batch_progress(job, items[i], 0, 1, f"Error {i}")
    out = psql(
        db_path,
        f"SELECT update_batch_progress('{job}', '{items[9]}', 0, 1, 'Error: Property not found in Regrid');",
    )
    assert out.stdout.strip() == "paused"
    st = sample_ws.get_batch_status(job)
    assert st["status"] == "paused" and "10 consecutive failures" in st["pause_reason"]
    assert "Property not found in Regrid" in st["pause_reason"]
    with pytest.raises(JobPausedError, match="Resume"):
        sample_ws.get_next_batch(job)
    refused = psql(db_path, f"SELECT * FROM get_next_batch('{job}');")
    assert refused.returncode != 0 and "is paused" in refused.stderr
    # resumed in psql, worked in Python; a bad pair is refused by the same function
    assert psql(db_path, f"SELECT resume_batch_job('{job[:8]}');").stdout.strip() == job
    assert sample_ws.get_batch_status(job)["consecutive_failures"] == 0
    bad = psql(db_path, f"SELECT update_batch_progress('{job}', '{items[10]}', 2, 0);")
    assert "(1, 0) or (0, 1), got (2, 0)" in bad.stderr
    with pytest.raises(ValidationError, match=r"\(1, 0\) or \(0, 1\), got \(2, 0\)"):
        sample_ws.sql(f"SELECT update_batch_progress('{job}', '{items[10]}', 2, 0)")


def test_expired_lease_of_a_worker_on_another_machine_is_picked_up(sample_ws, db_path):
    job = sample_ws.create_batch_job("regrid_scraping", "Blair", 50)
    # a worker elsewhere claims a batch with a 1-second lease, then its machine goes away
    out = psql(db_path, f"SELECT item_id FROM get_next_batch('{job}', 'otherhost:4242:1', 1);")
    theirs = out.stdout.split()
    assert len(theirs) == 50
    # before the lease ends, nobody else gets those items
    s = sample_ws.run_session(job, parcel, max_items=10)
    done = set(
        sample_ws.sql(
            "SELECT item_id FROM batch_job_items WHERE job_id = $1::UUID AND status = 'done'", [job]
        ).item_id
    )
    assert len(done) == 10 and not done & set(theirs)
    sample_ws.resume_batch_job(job)
    time.sleep(1.2)
    s = sample_ws.run_session(job, parcel, max_items=1000)  # no manual step
    assert s.status == "completed" and s.processed == 225
    assert sample_ws.get_batch_status(job)["processed_items"] == 235


def test_heartbeat_keeps_a_slow_item_claimed(sample_ws, db_path):
    url = db_path + "?lease_seconds=1"
    ws = toolkit.connect(url)
    job = ws.create_batch_job("regrid_scraping", "Blair", 5)
    released = []

    def slow(item):
        if int(item["seq"]) == 0:
            time.sleep(2.5)  # longer than the lease: only the heartbeat keeps the claim
            released.append(
                sample_ws.sql("SELECT tk_release_stale($1::UUID, NULL, NULL) AS n", [job]).n[0]
            )
        return parcel(item)

    s = ws.run_session(job, slow, max_items=5)
    assert s.processed == 5 and released == [0]
    assert (
        sample_ws.sql(
            "SELECT max(attempts) AS a FROM batch_job_items WHERE job_id = $1::UUID", [job]
        ).a[0]
        == 1
    )
    ws.close()


def test_pause_from_another_process_is_seen_within_one_item(sample_ws, db_path, tmp_path):
    job = sample_ws.create_batch_job("regrid_scraping", None, 50)
    log = tmp_path / "items.log"
    runner = popen_py(
        """
        import sys, time, json, toolkit
        ws = toolkit.connect(sys.argv[1])
        log = open(sys.argv[3], "a", buffering=1)
        def slow(item):
            log.write(f"{time.time()} {item['item_id']}\\n")
            time.sleep(0.05)
            return {"source": "test"}
        s = ws.run_session(sys.argv[2], slow, max_items=100000)
        print(json.dumps(s.to_dict()))
        """,
        db_path,
        job,
        str(log),
    )
    deadline = time.time() + 30
    while time.time() < deadline and (not log.exists() or len(log.read_text().split("\n")) < 10):
        time.sleep(0.05)
    other = toolkit.connect(db_path)
    other.pause_batch_job(job)
    paused_at = time.time()
    out, err = runner.communicate(timeout=60)
    assert runner.returncode == 0, err
    summary = json.loads(out.strip().splitlines()[-1])
    assert summary["outcome"] == "paused" and summary["status"] == "paused"
    started_after = [ln for ln in log.read_text().splitlines() if float(ln.split()[0]) > paused_at]
    assert len(started_after) <= 1, started_after  # at most the item it was already starting
    st = other.get_batch_status(job)
    assert st["processed_items"] == summary["processed"] and st["status"] == "paused"
    other.close()


def test_server_ending_the_session_connection(sample_ws, db_path):
    job = sample_ws.create_batch_job("regrid_scraping", "Blair", 10)
    started = threading.Event()
    result: dict[str, BaseException] = {}

    def slow(item):
        started.set()
        time.sleep(0.02)
        return parcel(item)

    def go():
        try:
            sample_ws.run_session(job, slow, max_items=1000)
        except BaseException as exc:
            result["exc"] = exc

    t = threading.Thread(target=go)
    t.start()
    assert started.wait(10)
    time.sleep(0.3)
    dbname = db_path.rsplit("/", 1)[1]
    killer = psql(
        db_path.rsplit("/", 1)[0] + "/postgres",
        f"SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
        f"WHERE datname = '{dbname}' AND application_name LIKE 'toolkit%';",
    )
    assert int(killer.stdout.strip()) >= 1
    t.join(30)
    exc = result.get("exc")
    assert isinstance(exc, StoreError), exc
    assert "Lost the connection" in str(exc) and "terminating connection" in str(exc)
    assert "stays resumable" in str(exc)
    st = sample_ws.get_batch_status(job)
    assert st["status"] == "in_progress" and 0 < st["processed_items"] < 235
    sample_ws.resume_batch_job(job)
    s = sample_ws.run_session(job, parcel, max_items=1000)
    assert s.status == "completed"
    assert sample_ws.get_batch_status(job)["processed_items"] == 235
    assert (
        sample_ws.sql("SELECT count(*) AS n FROM regrid_data WHERE job_id = $1::UUID", [job]).n[0]
        == 235
    )


def test_wrong_dsn_is_clear_and_never_shows_the_password():
    import backends

    backends.require_postgres()
    bad_port = "postgresql://postgres:Sup3rS3cret@127.0.0.1:1/toolkit"
    with pytest.raises(StoreError) as info:
        toolkit.connect(bad_port)
    msg = str(info.value)
    assert (
        "Sup3rS3cret" not in msg
        and "postgres:***@127.0.0.1:1/toolkit" in msg
        and "server running" in msg
    )
    missing_db = backends.url_for("toolkit_no_such_db").replace(
        "postgres@", "postgres:Sup3rS3cret@"
    )
    with pytest.raises(StoreError, match=r"does not exist.*createdb toolkit_no_such_db") as info:
        toolkit.connect(missing_db)
    assert "Sup3rS3cret" not in str(info.value) and "Sup3rS3cret" not in repr(info.value.__cause__)
    with pytest.raises(ValidationError, match="lease_seconds"):
        toolkit.connect(backends.url_for("x") + "?lease_seconds=soon")


def test_missing_driver_says_which_pip_install():
    out = run_py(
        """
        import sys
        sys.modules["psycopg"] = None  # as if the extra were not installed
        import toolkit
        from toolkit.exceptions import MissingDependencyError
        try:
            toolkit.connect("postgresql://postgres@127.0.0.1:5432/postgres")
        except MissingDependencyError as exc:
            print("MISSING:", exc)
        """
    )
    assert "MISSING:" in out.stdout and "pip install 'taxsale-toolkit[postgres]'" in out.stdout
    assert issubclass(MissingDependencyError, ImportError)


def test_racing_migrators_apply_each_migration_once():
    import backends

    backends.require_postgres()
    name = f"toolkit_test_{uuid.uuid4().hex[:12]}"
    backends._admin(f'CREATE DATABASE "{name}"')  # empty: no template
    url = backends.url_for(name)
    try:
        procs = [
            popen_py("import sys, toolkit; toolkit.connect(sys.argv[1]).close(); print('ok')", url)
            for _ in range(4)
        ]
        outs = [p.communicate(timeout=60) for p in procs]
        assert all(p.returncode == 0 for p in procs), [o[1] for o in outs]
        ws = toolkit.connect(url)
        versions = ws.sql(
            "SELECT version, count(*) AS n FROM schema_migrations GROUP BY version ORDER BY version"
        )
        assert versions.n.tolist() == [1] * len(versions) and len(versions) >= 4
        assert ws.sql("SELECT count(*) AS n FROM counties").n[0] == 67
        ws.close()
    finally:
        backends.drop(url)


def test_a_version_4_workspace_moves_to_the_hash_item_index(sample_ws, db_path):
    """Migration 0005 on a workspace with jobs: the btree goes, the hash index serves lookups."""
    import backends

    job = sample_ws.create_batch_job("regrid_scraping", "Blair", 50)
    item = str(
        sample_ws.sql(
            "SELECT item_id FROM batch_job_items WHERE job_id = $1::UUID AND seq = 3", [job]
        ).item_id[0]
    )
    sample_ws.close()
    backends.execute(
        db_path,
        "DROP INDEX batch_job_items_item_hash; "
        "CREATE INDEX batch_job_items_item ON batch_job_items (job_id, item_id); "
        "DELETE FROM schema_migrations WHERE version = 5",
    )
    backends.forget_schema_checks()
    ws = toolkit.connect(db_path)
    indexes = ws.sql(
        "SELECT indexname, indexdef FROM pg_indexes WHERE tablename = 'batch_job_items'"
    )
    defs = dict(zip(indexes.indexname, indexes.indexdef, strict=True))
    assert "batch_job_items_item" not in defs
    assert "USING hash (item_id)" in defs["batch_job_items_item_hash"]
    from toolkit.sql import load_migrations

    newest = max(m.version for m in load_migrations("toolkit.backends.postgres"))
    assert ws.sql("SELECT max(version) AS v FROM schema_migrations").v[0] == newest
    ws.update_batch_progress(job, item, 1, 0)
    assert ws.get_batch_status(job)["processed_items"] == 1
    assert ws.sql(
        "SELECT status FROM batch_job_items WHERE job_id = $1::UUID AND item_id = $2", [job, item]
    ).status.tolist() == ["done"]
    ws.close()


def test_completed_and_cancelled_rules_hold_in_sql(sample_ws, db_path):
    job = sample_ws.create_batch_job("regrid_scraping", "Blair", 50)
    assert psql(db_path, f"SELECT cancel_batch_job('{job}');").returncode == 0
    with pytest.raises(InvalidTransitionError, match="cancelled"):
        sample_ws.resume_batch_job(job)
    out = psql(db_path, f"SELECT complete_batch_job('{job}');")
    assert out.returncode != 0 and "cancelled; it cannot be completed" in out.stderr


def test_migrate_duckdb_workspace_to_postgres_keeps_history(tmp_path, db_path):
    from toolkit.migrate import migrate

    src = str(tmp_path / "old.duckdb")
    old = toolkit.connect(src)
    load_sample(old)
    job = old.create_batch_job("regrid_scraping", "Blair", 50)
    old.run_session(job, parcel)  # paused at 150/235, with sessions, events and results
    failed = old.create_batch_job("regrid_scraping", "Somerset", 50)
    items = old.get_next_batch(failed).item_id.tolist()
    old.update_batch_progress(failed, items[0], 0, 1, "Error: Property not found in Regrid")
    old.sql("CREATE TABLE my_notes (property_id UUID, note VARCHAR, tags VARCHAR[])")
    old.sql("INSERT INTO my_notes SELECT id, 'look at it', ['a', 'b'] FROM properties LIMIT 3")
    before = {
        t: int(old.sql(f"SELECT count(*) AS n FROM {t}").n[0])
        for t in (
            "properties",
            "regrid_data",
            "batch_jobs",
            "batch_job_items",
            "batch_events",
            "sessions",
        )
    }
    old.close()
    report = migrate(src, db_path)
    for t, n in before.items():
        assert report["tables"][t] == n, t
    assert report["tables"]["my_notes"] == 3 and report["tables"]["counties"] == 67
    ws = toolkit.connect(db_path)
    st = ws.get_batch_status(job)
    assert (st["status"], st["processed_items"], st["current_batch"]) == ("paused", 150, 3)
    assert ws.failed_items(failed).error.tolist() == ["Error: Property not found in Regrid"]
    assert ws.sql("SELECT note FROM my_notes").note.tolist() == ["look at it"] * 3
    # the history carries on, on Postgres
    ws.resume_batch_job(job)
    s = ws.run_session(job, parcel)
    assert s.message == "Completed 235/235 properties (100%)" and s.processed == 85
    with pytest.raises(ValidationError, match="already has"):
        migrate(src, db_path)
    ws.close()
    with pytest.raises(ValidationError, match="postgresql://"):
        migrate(src, str(tmp_path / "other.duckdb"))
