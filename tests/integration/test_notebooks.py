"""Every shipped notebook runs headless (papermill and nbval); run_headless records sessions."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import nbformat
import papermill as pm
import pytest
from helpers import load_sample

import toolkit
from toolkit.config import notebooks_dir
from toolkit.exceptions import ValidationError
from toolkit.notebook import run_headless
from toolkit.orchestrator.notebook import ensure_kernel

ROOT = Path(__file__).resolve().parents[2]
NOTEBOOKS = sorted(p.name for p in notebooks_dir().glob("*.ipynb"))
PAGES = ("dashboard.ipynb", "progress_analysis.ipynb", "property.ipynb", "map.ipynb")
JOB_NOTEBOOKS = [n for n in NOTEBOOKS if n not in PAGES]

# Processors the kernel imports by "procs:<name>" (a module written per test, on PYTHONPATH).
PROCS = textwrap.dedent(
    """
    import os, signal, time
    from toolkit.exceptions import ItemSkipped

    def parcel(item):
        return {"source": "test", "parcelnumb": item["parcel_id"]}

    def skip(item):
        raise ItemSkipped("test: left for a person")

    def broken(item):
        raise LookupError("Property not found in Regrid: " + str(item["item_id"]))

    def die(item):
        # the kernel dies mid-session, after some items were checkpointed
        if int(item["seq"]) >= 60:
            os.kill(os.getpid(), signal.SIGKILL)
        time.sleep(0.03)
        return parcel(item)
    """
)


@pytest.fixture
def nb_ws(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    """A sample workspace file, and a procs module the notebook kernels can import."""
    (tmp_path / "procs.py").write_text(PROCS)
    paths = [str(tmp_path), str(ROOT / "tests"), os.environ.get("PYTHONPATH", "")]
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join(p for p in paths if p))
    db = str(tmp_path / "ws.duckdb")
    ws = toolkit.connect(db)
    load_sample(ws)
    ws.close()
    return db


def _jobs(db: str) -> int:
    return int(toolkit.connect(db).sql("SELECT count(*) AS n FROM batch_jobs").n[0])


def test_run_headless_budget_then_until_done_records_each_session(
    nb_ws: str, tmp_path: Path
) -> None:
    seen: list = []
    first = run_headless(
        "regrid_scraping",
        db=nb_ws,
        county="Blair",
        processor="procs:parcel",
        batches=2,
        progress=seen.append,
    )
    assert [r.exit_code for r in first] == [10] and first[0].outcome == "budget"
    assert first[0].message.startswith("Paused at 100/235 properties (43%)")
    assert seen == first
    job = first[0].job_id
    record = Path(first[0].record_path)
    assert record.parent == tmp_path / "runs" / "regrid_scraping"
    assert record.name.endswith(f"-{job[:8]}.ipynb")
    summary = json.loads(record.with_suffix(".json").read_text())
    assert summary["job_id"] == job and summary["processed"] == 100 and summary["exit_code"] == 10
    executed = nbformat.read(record, as_version=4)
    outputs = "".join(o.get("text", "") for c in executed.cells for o in c.get("outputs", []))
    assert (
        "Paused at 100/235 properties (43%)" in outputs and "No failures this session." in outputs
    )

    rest = run_headless(
        "regrid_scraping",
        db=nb_ws,
        county="Blair",
        processor="procs:parcel",
        batches=2,
        until_done=True,
    )
    assert [(r.job_id, r.outcome, r.exit_code) for r in rest] == [
        (job, "budget", 10),
        (job, "completed", 0),
    ]
    ws = toolkit.connect(nb_ws)
    sessions = ws.sql("SELECT items, outcome, record_path FROM sessions ORDER BY started_at")
    assert sessions["items"].tolist() == [100, 100, 35]
    assert sessions.record_path.tolist() == [first[0].record_path] + [r.record_path for r in rest]
    assert all(Path(p).is_file() for p in sessions.record_path)
    assert ws.get_batch_status(job)["status"] == "completed"


def test_failures_auto_pause_exit_11_with_failure_table(nb_ws: str) -> None:
    [res] = run_headless("regrid_scraping", db=nb_ws, county="Blair", processor="procs:broken")
    assert (res.outcome, res.exit_code) == ("auto_paused", 11)
    assert "consecutive failures" in res.message
    executed = nbformat.read(res.record_path, as_version=4)
    html = "".join(
        str(o.get("data", {}).get("text/html", ""))
        for c in executed.cells
        for o in c.get("outputs", [])
    )
    assert html.count("Property not found in Regrid") == 10  # this session's failures table
    # a later run without job_id does not resume an auto-paused job behind your back
    [again] = run_headless("regrid_scraping", db=nb_ws, county="Blair", processor="procs:parcel")
    assert again.exit_code == 1 and "auto-paused" in again.message
    assert toolkit.connect(nb_ws).get_batch_status(res.job_id)["status"] == "paused"


def test_dead_kernel_names_the_cell_and_leaves_the_job_resumable(nb_ws: str) -> None:
    [res] = run_headless("regrid_scraping", db=nb_ws, county="Blair", processor="procs:die")
    assert (res.outcome, res.exit_code) == ("failed", 1)
    assert "run the session" in res.message and res.job_id is not None
    assert f"job_id='{res.job_id}'" in res.message
    ws = toolkit.connect(nb_ws)
    done = ws.get_batch_status(res.job_id)["processed_items"]
    assert 0 < done <= 60
    rec = ws.sql(
        "SELECT record_path FROM sessions WHERE job_id = $1::UUID", [res.job_id]
    ).record_path
    assert rec.tolist() == [res.record_path]
    more = run_headless(
        "regrid_scraping", db=nb_ws, job_id=res.job_id, processor="procs:parcel", until_done=True
    )
    assert [r.exit_code for r in more] == [10] * (len(more) - 1) + [0]
    assert {r.job_id for r in more} == {res.job_id}
    assert (
        ws.sql(
            "SELECT max(attempts) AS a FROM batch_job_items WHERE job_id = $1::UUID", [res.job_id]
        ).a[0]
        <= 2
    )
    assert (
        ws.sql("SELECT count(*) AS n FROM regrid_data WHERE job_id = $1::UUID", [res.job_id]).n[0]
        == 235
    )


def test_bad_parameters_fail_in_the_first_cell_and_change_nothing(
    nb_ws: str, tmp_path: Path
) -> None:
    kernel, manager = ensure_kernel()
    out = tmp_path / "bad.ipynb"
    with pytest.raises(pm.PapermillExecutionError) as info:
        pm.execute_notebook(
            str(notebooks_dir() / "regrid_scraping.ipynb"),
            str(out),
            parameters={"db": nb_ws, "batch_size": "ten", "interactive": False},
            kernel_name=kernel,
            kernel_manager_class=manager,
            progress_bar=False,
        )
    assert info.value.ename == "ValidationError" and "batch_size='ten'" in info.value.evalue
    failed = [c for c in nbformat.read(out, as_version=4).cells if c.get("outputs")]
    assert failed[0]["id"] == "check-parameters"
    assert _jobs(nb_ws) == 0
    # the runner checks the same parameters before it starts a kernel
    with pytest.raises(ValidationError, match="batch_size='ten'"):
        run_headless("regrid_scraping", db=nb_ws, batch_size="ten")  # type: ignore[arg-type]
    assert not (tmp_path / "runs").exists()


def test_job_of_another_type_is_refused(nb_ws: str) -> None:
    ws = toolkit.connect(nb_ws)
    other = ws.create_batch_job("county_research")
    with pytest.raises(
        ValidationError, match=f"{other}.*county_research job.*regrid_scraping notebook"
    ):
        run_headless("regrid_scraping", db=nb_ws, job_id=other, processor="procs:parcel")
    assert ws.get_batch_status(other)["status"] == "pending" and _jobs(nb_ws) == 1


@pytest.mark.parametrize("name", NOTEBOOKS)
def test_every_notebook_runs_headless_with_papermill(name: str, nb_ws: str, tmp_path: Path) -> None:
    kernel, manager = ensure_kernel()
    params: dict = {"db": nb_ws}
    if name in JOB_NOTEBOOKS:
        # a processor that touches no outside service: every item is skipped
        params |= {
            "interactive": False,
            "processor": "procs:skip",
            "max_batches": 1,
            "summary_path": str(tmp_path / "summary.json"),
        }
    elif name == "dashboard.ipynb":
        params["interactive"] = False
    elif name == "property.ipynb":
        params |= {"parcel": "01.05-31..-145.22-144", "county": "Blair"}
    elif name == "map.ipynb":
        params["tiles"] = False  # CI is offline
    out = tmp_path / name
    pm.execute_notebook(
        str(notebooks_dir() / name),
        str(out),
        parameters=params,
        kernel_name=kernel,
        kernel_manager_class=manager,
        progress_bar=False,
    )
    nb = nbformat.read(out, as_version=4)
    assert not [
        o for c in nb.cells for o in c.get("outputs", []) if o.get("output_type") == "error"
    ]
    if name in JOB_NOTEBOOKS:
        summary = json.loads((tmp_path / "summary.json").read_text())
        pending = toolkit.connect(nb_ws).get_pending_work_summary()
        job_type = name.removesuffix(".ipynb")
        if job_type in pending.job_type.tolist():
            # every item skipped: paused at the budget, or finished with nothing done (13)
            assert summary["outcome"] in ("budget", "finished_with_failures")
            assert summary["skipped"] > 0 and summary["exit_code"] in (10, 13)
        else:
            assert summary["outcome"] == "no_work"


def test_notebooks_are_generated_and_stored_without_outputs() -> None:
    check = subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "make_notebooks.py"), "--check"],
        capture_output=True,
        text=True,
    )
    assert check.returncode == 0, check.stdout + check.stderr
    for name in NOTEBOOKS:
        nb = nbformat.read(notebooks_dir() / name, as_version=4)
        tagged = [c for c in nb.cells if "parameters" in c.metadata.get("tags", [])]
        assert len(tagged) == 1
        assert all(
            not c.get("outputs") and c.get("execution_count") is None
            for c in nb.cells
            if c.cell_type == "code"
        )
    assert {n.removesuffix(".ipynb") for n in JOB_NOTEBOOKS} == set(toolkit.jobs.job_types())


def test_every_notebook_passes_nbval(nb_ws: str) -> None:
    env = os.environ | {"TOOLKIT_DB": nb_ws}
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "--nbval-lax",
            "-q",
            "-p",
            "no:cacheprovider",
            "-o",
            "addopts=",
            "-o",
            "filterwarnings=ignore::DeprecationWarning",
            "--rootdir",
            str(notebooks_dir()),
            *[str(notebooks_dir() / n) for n in NOTEBOOKS],
        ],
        capture_output=True,
        text=True,
        env=env,
        cwd=notebooks_dir(),
        timeout=300,
    )
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-2000:]
    assert f"{sum(1 for _ in NOTEBOOKS)}" in proc.stdout or "passed" in proc.stdout
