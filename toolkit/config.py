"""Where the workspace lives, and settings that come from the environment.

Secrets (``REGRID_TOKEN`` …) are read from the environment only, when a source
needs them, and are never stored, logged or written into a notebook.
"""

from __future__ import annotations

import os
from pathlib import Path

ENV_DB = "TOOLKIT_DB"
ENV_DATA = "TOOLKIT_DATA"
PACKAGE_DIR = Path(__file__).resolve().parent


def source_checkout() -> Path | None:
    """The repository this package runs from (an editable install), or None (a wheel)."""
    root = PACKAGE_DIR.parent
    return root if (root / "pyproject.toml").is_file() and (root / "data").is_dir() else None


def project_root() -> Path:
    """The checkout's root, else the current folder (an installed package has no project)."""
    return source_checkout() or Path.cwd()


def data_dir() -> Path:
    """``$TOOLKIT_DATA``, else ``data/`` in the checkout (or in the current folder)."""
    return Path(os.environ.get(ENV_DATA) or project_root() / "data")


def default_db_url() -> str:
    """``$TOOLKIT_DB``, else ``toolkit.duckdb`` in the data folder."""
    return os.environ.get(ENV_DB) or str(data_dir() / "toolkit.duckdb")


def notebooks_dir() -> Path:
    """The notebooks that ship inside the package (one per job type, dashboard, analysis)."""
    return PACKAGE_DIR / "notebooks"


def sample_dir() -> Path:
    """The SYNTHETIC sample data of the checkout (``data/sample``)."""
    return project_root() / "data" / "sample"
