"""taxsale-toolkit: resumable research batch jobs for county tax-sale investors.

>>> import toolkit
>>> ws = toolkit.connect(":memory:")
>>> ws.get_pending_work_summary().empty
True
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from toolkit.version import __version__

__all__ = ["Workspace", "__version__", "connect"]

if TYPE_CHECKING:
    from toolkit.workspace import Workspace


def connect(url: str | None = None, **options: Any) -> Workspace:
    """Open (creating or migrating) a workspace.

    Parameters
    ----------
    url
        A DuckDB file path, ``":memory:"``, or ``postgresql://…``. Default:
        ``$TOOLKIT_DB``, else ``data/toolkit.duckdb`` in the project. A new path becomes
        a new workspace; a DuckDB file that holds other tables is refused unless
        ``init=True`` (the toolkit's tables are then added beside them).
    """
    from toolkit.workspace import Workspace

    return Workspace(url, **options)


def __getattr__(name: str) -> object:
    if name == "Workspace":
        from toolkit.workspace import Workspace

        return Workspace
    raise AttributeError(name)
