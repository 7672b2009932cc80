"""The package as a user installs it: a wheel, in a fresh virtual environment outside the
repository, runs ``toolkit run`` on a small workspace with the notebooks it ships.

It builds the wheel with pip (setuptools from PyPI), installs it with its dependencies
(pip's cache makes repeat runs quick), and works in a folder that is not the checkout,
so nothing can come from ``data/`` or ``notebooks/`` of this repository.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import venv
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

pytestmark = pytest.mark.slow


def _run(
    cmd: list[str],
    cwd: Path,
    env: dict[str, str] | None = None,
    timeout: float = 900,
    ok: bool = True,
) -> subprocess.CompletedProcess[str]:
    proc = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout)
    if ok and proc.returncode != 0:
        raise AssertionError(f"{cmd} exited {proc.returncode}\n{proc.stdout}\n{proc.stderr}")
    return proc


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("dist")
    _run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(out), str(ROOT)],
        cwd=out,
    )
    (whl,) = out.glob("taxsale_toolkit-*.whl")
    return whl


def test_the_wheel_ships_the_notebooks_and_the_sql(wheel: Path) -> None:
    names = set(zipfile.ZipFile(wheel).namelist())
    for job_type in ("regrid_scraping", "county_research", "bid_strategy"):
        assert f"toolkit/notebooks/{job_type}.ipynb" in names
    assert "toolkit/notebooks/dashboard.ipynb" in names
    for backend in ("duckdb", "postgres"):
        assert f"toolkit/backends/{backend}/sql/queries.sql" in names
        assert f"toolkit/backends/{backend}/sql/migrations/0001_initial.sql" in names
    assert "toolkit/backends/postgres/sql/functions.sql" in names


def test_an_installed_wheel_runs_a_session_outside_the_repository(
    wheel: Path, tmp_path: Path
) -> None:
    env_dir = tmp_path / "venv"
    venv.EnvBuilder(with_pip=True).create(env_dir)
    py = env_dir / "bin" / "python"
    _run([str(py), "-m", "pip", "install", "-q", str(wheel)], cwd=tmp_path)
    work = tmp_path / "my-county"
    work.mkdir()
    (work / "list.csv").write_text(
        "parcel_id,owner,address,upset_price\n"
        "01-001,SYNTHETIC OWNER A,1 MAIN ST,1200.00\n"
        "01-002,SYNTHETIC OWNER B,2 MAIN ST,900.50\n"
    )
    (work / "research.yaml").write_text(
        "counties:\n"
        "  Blair:\n"
        "    source: synthetic test entry\n"
        "    as_of: 2026-11-01\n"
        "    sales:\n"
        "      - sale_type: upset\n"
        "        sale_date: 2027-09-13\n"
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith(("TOOLKIT_", "PYTHON"))}
    env |= {"TOOLKIT_COUNTY_RESEARCH": str(work / "research.yaml")}
    toolkit = str(env_dir / "bin" / "toolkit")
    where = _run(
        [str(py), "-c", "import toolkit.config as c; print(c.notebooks_dir())"], cwd=work, env=env
    ).stdout.strip()
    assert str(env_dir) in where and str(ROOT) not in where
    _run(
        [toolkit, "import-properties", "list.csv", "--county", "Blair", "--db", "ws.duckdb"],
        cwd=work,
        env=env,
    )
    proc = _run(
        [toolkit, "run", "county_research", "--db", "ws.duckdb", "--json"],
        cwd=work,
        env=env,
        ok=False,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    (result,) = json.loads(proc.stdout)
    assert result["outcome"] == "completed" and result["processed"] == 1
    assert Path(result["record_path"]).is_file()
    assert str(work) in result["record_path"]
