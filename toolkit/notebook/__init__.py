"""Notebook support: the control panel, the item forms, dashboards and the kernel's session.

Everything is imported on first use (ipywidgets, papermill and pandas are
slow to import), so ``import toolkit.notebook`` is instant. Headless runs of a
notebook (papermill) live in :mod:`toolkit.orchestrator.notebook`.

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
    "check_parameters": "toolkit.notebook.runner",
    "run_notebook_session": "toolkit.notebook.runner",
    "show_failures": "toolkit.notebook.runner",
    "Dashboard": "toolkit.notebook.dashboard",
    "RunResult": "toolkit.orchestrator",
    "exit_code": "toolkit.orchestrator",
    "open_job": "toolkit.orchestrator",
    "ensure_kernel": "toolkit.orchestrator.notebook",
    "notebook_path": "toolkit.orchestrator.notebook",
    "run_headless": "toolkit.orchestrator.notebook",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        return getattr(import_module(_EXPORTS[name]), name)
    raise AttributeError(f"module 'toolkit.notebook' has no attribute {name!r}")
