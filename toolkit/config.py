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


def layouts_config(folder: Path | None = None) -> dict[str, object]:
    """The ``layouts:`` section of the user's config file (a county's own sale-list words).

    The file is ``$TOOLKIT_CONFIG``, else ``toolkit.yaml`` in ``folder`` (the workspace's
    folder), else in the data folder; no file, or no section, is ``{}``. The section's
    form is in docs/sale-lists.md. A file that cannot be read raises ValueError
    (the caller names it as its configuration error).

    Examples
    --------
    >>> layouts_config(Path("/nonexistent"))  # doctest: +SKIP
    {}
    """
    named = os.environ.get("TOOLKIT_CONFIG")
    candidates = [Path(named)] if named else [Path(folder or data_dir()) / "toolkit.yaml"]
    if not named and folder is not None:
        candidates.append(data_dir() / "toolkit.yaml")
    path = next((p for p in candidates if p.is_file()), None)
    if path is None:
        if named:
            raise ValueError(f"TOOLKIT_CONFIG={named!r}: no such file")
        return {}
    import yaml

    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as exc:
        raise ValueError(f"{path}: cannot be read as YAML ({exc})") from exc
    section = data.get("layouts") if isinstance(data, dict) else None
    if section is None:
        return {}
    if not isinstance(section, dict):
        raise ValueError(f"{path}: layouts: must be a mapping of layout names to their words")
    return section
