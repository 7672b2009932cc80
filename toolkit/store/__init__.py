"""Storage backends behind one small interface, chosen by the workspace URL.

``duckdb`` (default; a file path or ``:memory:``) and ``postgres``
(``postgresql://…``; the ``postgres`` extra, psycopg 3).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from toolkit.store.duckdb import DuckDBStore
    from toolkit.store.postgres import PostgresStore

POSTGRES_SCHEMES = ("postgres://", "postgresql://")


def open_store(url: str) -> DuckDBStore | PostgresStore:
    """Return the store for ``url``; Postgres URLs need the ``postgres`` extra.

    >>> open_store(":memory:").dialect
    'duckdb'
    """
    if url.startswith(POSTGRES_SCHEMES):
        try:
            import psycopg  # noqa: F401
        except ImportError as exc:
            from toolkit.exceptions import MissingDependencyError

            raise MissingDependencyError(
                "Postgres workspaces need psycopg 3, which is not installed: "
                "pip install 'taxsale-toolkit[postgres]'"
            ) from exc
        from toolkit.store.postgres import PostgresStore

        return PostgresStore(url)
    if "://" in url and not url.startswith("duckdb://"):
        from toolkit.exceptions import ValidationError

        raise ValidationError(
            f"Unsupported workspace URL {url.split('@')[-1]!r}: use a DuckDB file path, "
            "'duckdb:///path', ':memory:', or 'postgresql://user@host:port/dbname'."
        )
    from toolkit.store.duckdb import DuckDBStore

    return DuckDBStore(url.removeprefix("duckdb://"))
