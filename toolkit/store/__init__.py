"""Storage backends behind one small interface, chosen by the workspace URL.

``duckdb`` (default; a file path or ``:memory:``) and ``postgres``
(``postgresql://…``; the ``postgres`` extra).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from toolkit.store.duckdb import DuckDBStore


def open_store(url: str) -> DuckDBStore:
    """Return the store for ``url``; Postgres URLs need the ``postgres`` extra."""
    if url.startswith(("postgres://", "postgresql://")):
        from toolkit.exceptions import ValidationError

        raise ValidationError(
            f"Postgres workspaces ({url.split('@')[-1]!r}) are not available in this version; "
            "use a DuckDB file path or ':memory:'."
        )
    if "://" in url and not url.startswith("duckdb://"):
        from toolkit.exceptions import ValidationError

        raise ValidationError(
            f"Unsupported workspace URL {url!r}: use a DuckDB file path, 'duckdb:///path', "
            "':memory:', or 'postgresql://…'."
        )
    from toolkit.store.duckdb import DuckDBStore

    return DuckDBStore(url.removeprefix("duckdb://"))
