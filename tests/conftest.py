"""Shared fixtures: real DuckDB files in tmp folders, the synthetic sample data."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))  # tests/fakes, tests/helpers


@pytest.fixture
def db_path(tmp_path: Path) -> str:
    return str(tmp_path / "ws.duckdb")


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
