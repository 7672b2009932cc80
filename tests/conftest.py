"""Shared fixtures: real DuckDB files in tmp folders, fresh Postgres databases, the synthetic sample data.

A test module that sets ``BACKENDS = ("duckdb", "postgres")`` runs each test that
uses ``db_path`` / ``ws`` / ``sample_ws`` on both backends (ids ``[duckdb]`` and
``[postgres]``); other modules stay on DuckDB. ``db_path`` is then a DuckDB file
path or a ``postgresql://`` URL of a database made for that test alone.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))  # tests/fakes, tests/helpers, tests/backends


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    wanted = getattr(metafunc.module, "BACKENDS", None)
    if wanted and "backend" in metafunc.fixturenames:
        metafunc.parametrize(
            "backend",
            [
                pytest.param(b, marks=[pytest.mark.postgres] if b == "postgres" else [])
                for b in wanted
            ],
            indirect=True,
        )


@pytest.fixture
def backend(request: pytest.FixtureRequest) -> str:
    return getattr(request, "param", "duckdb")


@pytest.fixture
def db_path(backend: str, tmp_path: Path):
    if backend == "duckdb":
        yield str(tmp_path / "ws.duckdb")
        return
    import backends

    url = backends.fresh_postgres()
    try:
        yield url
    finally:
        backends.drop(url)


@pytest.fixture
def ws(db_path: str):
    import toolkit

    w = toolkit.connect(db_path)
    yield w
    w.close()


@pytest.fixture
def sample_ws(ws):
    """A workspace with the sample properties; 17 Blair ones already have parcel data."""
    from helpers import load_sample

    load_sample(ws)
    return ws


@pytest.fixture(autouse=True)
def _no_env_db(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("TOOLKIT_DB", raising=False)
    monkeypatch.setenv("TOOLKIT_LOCK_TIMEOUT", os.environ.get("TOOLKIT_LOCK_TIMEOUT", "30"))
