"""Storage backends behind one typed seam (:mod:`toolkit.backends.base`), chosen by URL.

``duckdb`` (default; a file path or ``:memory:``) and ``postgres``
(``postgresql://…``; the ``postgres`` extra, psycopg 3). Each backend package holds
its store, its engine (the guide's rules) and its SQL.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from toolkit.exceptions import MissingDependencyError, ValidationError

if TYPE_CHECKING:
    from toolkit.backends.base import Catalog, Store

POSTGRES_SCHEMES = ("postgres://", "postgresql://")


def open_store(url: str, catalog: Catalog, *, init: bool = False) -> Store:
    """Return the store for ``url``; Postgres URLs need the ``postgres`` extra.

    ``catalog`` is the job-type registry the store builds its views from. ``init``
    lets a DuckDB file that holds other tables become a workspace too (else refused; a
    Postgres database may hold other tables: it is shared).

    >>> from toolkit.jobs.registry import REGISTRY
    >>> open_store(":memory:", REGISTRY).dialect
    'duckdb'
    """
    if url.startswith(POSTGRES_SCHEMES):
        try:
            import psycopg  # noqa: F401
        except ImportError as exc:
            raise MissingDependencyError(
                "Postgres workspaces need psycopg 3, which is not installed: "
                "pip install 'taxsale-toolkit[postgres]'"
            ) from exc
        from toolkit.backends.postgres import PostgresStore

        return PostgresStore(url, catalog)
    if "://" in url and not url.startswith("duckdb://"):
        raise ValidationError(
            f"Unsupported workspace URL {url.split('@')[-1]!r}: use a DuckDB file path, "
            "'duckdb:///path', ':memory:', or 'postgresql://user@host:port/dbname'."
        )
    from toolkit.backends.duckdb import DuckDBStore

    return DuckDBStore(url.removeprefix("duckdb://"), catalog, init=init)
