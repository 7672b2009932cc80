"""What a processor gets: a narrow, read-only view of its workspace.

A processor factory is called with a :class:`ProcessorContext` and returns the
callable the session runs. The context lets it read the workspace's data through
the backend's named queries, find counties, and keep files (sketches, caches) in
the workspace's folder. It cannot write job state: a processor hands back a
result per item (or raises), and the session records it through the engine.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import pandas as pd

    from toolkit.backends.base import Store


class ProcessorContext:
    """The workspace as a processor sees it.

    Examples
    --------
    >>> import toolkit
    >>> ctx = toolkit.connect(":memory:").processor_context()
    >>> ctx.county_name(ctx.county_id("blair county"))
    'Blair'
    """

    def __init__(self, store: Store, data_dir: Path) -> None:
        self._store = store
        self.data_dir = Path(data_dir)
        # set by the session: True once a pause (or a stop) is asked for; a processor whose
        # item takes long checks it and raises ItemInterrupted (the item stays pending)
        self.stop_requested: Callable[[], bool] = lambda: False

    @property
    def key(self) -> str:
        """Which workspace this is (for a cache or a per-workspace setting in this process)."""
        return store_key(self._store)

    def query(self, name: str, params: list[Any] | None = None) -> pd.DataFrame:
        """Rows of the backend's named query ``name`` (read-only)."""
        return self._store.query(name, params)

    def county_id(self, county: object) -> int | None:
        """A county name / id / FIPS → its id (None = all counties)."""
        store = self._store
        return store.run(lambda con: store.engine.resolve_county(con, county), tx=False)

    def meta(self, key: str) -> str | None:
        """A fact about the workspace itself (``workspace_meta``; e.g. ``kind``: 'demo')."""
        frame = self._store.query("workspace_meta_get", [key])
        return None if frame.empty else str(frame.iloc[0, 0])

    def county_name(self, county_id: int) -> str:
        return str(self._store.query("county_name", [county_id]).iloc[0, 0])


def data_dir_of(store: Store) -> Path:
    """Where a workspace keeps its files: beside a DuckDB file, else the data folder."""
    from toolkit import config

    if store.memory:
        return config.data_dir()
    return Path(store.path).parent


def store_key(store: Store) -> str:
    """Which workspace a store is, for per-workspace settings in this process."""
    url = str(store.url)
    # every in-memory workspace is a database of its own
    return f"{url}#{id(store)}" if url in (":memory:", "") else url
