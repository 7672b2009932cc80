"""The embedded default backend: one DuckDB file (its store, engine and SQL)."""

from toolkit.backends.duckdb.store import DuckDBStore

__all__ = ["DuckDBStore"]
