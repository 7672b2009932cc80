"""Notebook support: the control panel, the item form, dashboards and headless runs.

Everything is imported on first use (ipywidgets, papermill and pandas are
slow to import), so ``import toolkit.notebook`` is instant.

>>> from toolkit.notebook import exit_code
>>> exit_code("budget")
10
"""

from __future__ import annotations

from importlib import import_module
from typing import Any

_EXPORTS = {
    "ControlPanel": "toolkit.notebook.panel",
    "ItemForm": "toolkit.notebook.panel",
    "status_line": "toolkit.notebook.panel",
    "NotebookParams": "toolkit.notebook.runner",
    "RunResult": "toolkit.notebook.runner",
    "check_parameters": "toolkit.notebook.runner",
    "ensure_kernel": "toolkit.notebook.runner",
    "exit_code": "toolkit.notebook.runner",
    "notebook_path": "toolkit.notebook.runner",
    "open_job": "toolkit.notebook.runner",
    "run_headless": "toolkit.notebook.runner",
    "run_notebook_session": "toolkit.notebook.runner",
    "show_failures": "toolkit.notebook.runner",
    "Dashboard": "toolkit.notebook.dashboard",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        return getattr(import_module(_EXPORTS[name]), name)
    raise AttributeError(f"module 'toolkit.notebook' has no attribute {name!r}")
