"""Where the workspace lives, and settings that come from the environment.

Secrets (``REGRID_TOKEN`` …) are read from the environment only, when a source
needs them, and are never stored, logged or written into a notebook.
"""

from __future__ import annotations

import os
from pathlib import Path

ENV_DB = "TOOLKIT_DB"
ENV_DATA = "TOOLKIT_DATA"


def project_root() -> Path:
    """The checkout this package runs from (``data/`` and ``notebooks/`` live here)."""
    return Path(__file__).resolve().parents[1]


def data_dir() -> Path:
    """``$TOOLKIT_DATA``, else ``data/`` in the project."""
    return Path(os.environ.get(ENV_DATA) or project_root() / "data")


def default_db_url() -> str:
    """``$TOOLKIT_DB``, else ``data/toolkit.duckdb``."""
    return os.environ.get(ENV_DB) or str(data_dir() / "toolkit.duckdb")


def sample_dir() -> Path:
    return project_root() / "data" / "sample"
