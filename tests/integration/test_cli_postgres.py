"""`toolkit run --workers N` and `toolkit migrate` on a real Postgres (skips without one; fails in CI)."""

from __future__ import annotations

import pytest
from backends import drop, fresh_postgres, require_postgres

import toolkit
from toolkit.cli import main
from toolkit.demo import build_sample_workspace

pytestmark = pytest.mark.postgres


@pytest.fixture
def pg():
    require_postgres()
    url = fresh_postgres()
    yield url
    drop(url)


def test_run_with_local_workers_finishes_the_job(pg, capsys):
    ws = toolkit.connect(pg)
    ws.import_properties(toolkit.demo.sample_properties())
    ws.add_bulk_file("data/sample/regrid/pa_blair_synthetic.csv", "Blair")
    ws.close()
    code = main(["run", "regrid_scraping", "--county", "Blair", "--workers", "2", "--db", pg])
    assert code == 0, capsys.readouterr()
    assert (
        "completed (exit 0): Completed 252/252 properties (100%) (with 2 workers)"
        in capsys.readouterr().out
    )
    ws = toolkit.connect(pg)
    assert ws.sql("SELECT count(*) AS n FROM regrid_data").n[0] == 252
    assert ws.sql("SELECT max(attempts) AS a FROM batch_job_items").a[0] == 1


def test_migrate_copies_a_duckdb_workspace(pg, tmp_path, capsys):
    src = tmp_path / "ws.duckdb"
    ws = build_sample_workspace(src)
    job = ws.create_batch_job("regrid_scraping", "Blair", 50)
    ws.run_session(job)
    ws.close()
    assert main(["migrate", "--to", pg, "--db", str(src)]) == 0
    out = capsys.readouterr().out
    assert "counts verified" in out
    dst = toolkit.connect(pg)
    st = dst.get_batch_status(job)
    assert (st["status"], st["processed_items"], st["total_items"]) == ("paused", 150, 252)
    # and the migrated job resumes on Postgres
    dst.resume_batch_job(job)
    s = dst.run_session(job)
    assert s.status == "completed" and s.processed == 102
    assert main(["migrate", "--to", pg, "--db", str(src)]) == 1  # the destination holds data now
