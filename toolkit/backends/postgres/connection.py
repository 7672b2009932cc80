"""Postgres connections as the seam's :class:`~toolkit.backends.base.Connection`.

``execute`` binds psycopg's ``%s`` placeholders client-side (a literal ``%`` is written
``%%``); ``execute_prepared`` binds ``%b``/``%s`` on the server and prepares the
statement (the ones a session runs every batch); ``execute_native`` takes Postgres's own
``$1`` (a person's ad-hoc SQL). numpy and pandas values are converted to plain Python.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import psycopg

from toolkit.sql import quote_ident

if TYPE_CHECKING:
    import pandas as pd


_PLAIN = {str, int, bool, type(None), bytes, dt.datetime, dt.date}


def _adapt(v: Any) -> Any:
    """numpy / pandas scalars and containers → plain Python for psycopg."""
    if v is None or isinstance(v, str | bytes | bool | int | float):
        if isinstance(v, float) and v != v:  # NaN is SQL NULL, as in DuckDB
            return None
        return v
    if isinstance(v, list | tuple):
        # the common case: nothing to convert
        if type(v) is list and {type(x) for x in v} <= _PLAIN:
            return v
        return [_adapt(x) for x in v]
    mod = type(v).__module__
    if mod.startswith("numpy"):
        if hasattr(v, "tolist"):
            return _adapt(v.tolist())
    if mod.startswith("pandas"):
        import pandas as pd

        if v is pd.NA or v is pd.NaT:
            return None
        if isinstance(v, pd.Timestamp):
            return v.to_pydatetime()
        if hasattr(v, "tolist"):
            return _adapt(v.tolist())
    return v


# -- a DuckDB-like connection ------------------------------------------------------------


class PGCursor:
    """The result of one statement: ``fetchall()``, ``fetchone()``, ``description``, ``df()``."""

    def __init__(self, cur: psycopg.Cursor[Any]) -> None:
        self._cur = cur
        desc = cur.description
        self.description = (
            None
            if desc is None
            else [(c.name, c.type_code, None, None, None, None, None) for c in desc]
        )

    def fetchall(self) -> list[tuple[Any, ...]]:
        return [] if self.description is None else self._cur.fetchall()

    def fetchone(self) -> tuple[Any, ...] | None:
        return None if self.description is None else self._cur.fetchone()

    def df(self) -> pd.DataFrame:
        import pandas as pd

        if self.description is None:
            return pd.DataFrame()
        names = [d[0] for d in self.description]
        rows = self._cur.fetchall()
        if not rows:
            return (
                pd.DataFrame({n: pd.Series(dtype="object") for n in names})[names]
                if len(set(names)) == len(names)
                else pd.DataFrame(columns=names)
            )
        return pd.DataFrame.from_records(rows, columns=names)


def _pg_type(series: Any) -> str:
    import pandas as pd

    kind = series.dtype.kind
    if kind == "b" or str(series.dtype) == "boolean":
        return "BOOLEAN"
    if kind in "iu":
        return "BIGINT"
    if kind == "f":
        return "DOUBLE PRECISION"
    if kind == "M":
        return "TIMESTAMP"
    for v in series:
        if v is None or (isinstance(v, float) and v != v) or v is pd.NA or v is pd.NaT:
            continue
        import datetime as dt
        import uuid

        if isinstance(v, bool):
            return "BOOLEAN"
        if isinstance(v, int):
            return "BIGINT"
        if isinstance(v, float):
            return "DOUBLE PRECISION"
        if isinstance(v, dt.datetime):
            return "TIMESTAMP"
        if isinstance(v, dt.date):
            return "DATE"
        if isinstance(v, uuid.UUID):
            return "UUID"
        return "TEXT"
    return "TEXT"


class PGConnection:
    """A psycopg connection dressed as a DuckDB one (the methods the toolkit calls)."""

    def __init__(self, raw: psycopg.Connection[Any], lease_seconds: float) -> None:
        self.raw = (
            raw  # no reference back to the store: a dropped Workspace closes its pool at once
        )
        self.lease_seconds = lease_seconds
        self.in_session = False  # a session's (held) connection: claims get the short lease

    def execute(self, query: str, params: Sequence[Any] | None = None) -> PGCursor:
        """A statement in psycopg's style (``%s``; a literal ``%`` written ``%%``)."""
        cur = self.raw.cursor()
        cur.execute(query, _adapt(list(params)) if params is not None else [])
        return PGCursor(cur)

    def execute_prepared(self, query: str, params: Sequence[Any]) -> PGCursor:
        """A hot statement: bound on the server and prepared (the same text every batch)."""
        cur = psycopg.Cursor(self.raw)
        cur.execute(query, _adapt(list(params)), prepare=True)
        return PGCursor(cur)

    def execute_native(self, query: str, params: Sequence[Any] | None = None) -> PGCursor:
        """Ad-hoc SQL with Postgres's own ``$1, $2`` placeholders (bound on the server)."""
        cur = psycopg.RawCursor(self.raw)
        cur.execute(query, _adapt(list(params)) if params else None)
        return PGCursor(cur)

    def executemany(self, query: str, rows: Sequence[Sequence[Any]]) -> None:
        with self.raw.cursor() as cur:
            cur.executemany(query, [_adapt(list(r)) for r in rows])

    def register(self, name: str, frame: Any) -> None:
        """Make a DataFrame queryable as ``name`` (a TEMP table, as DuckDB's register)."""
        table = quote_ident(name)
        cols = [str(c) for c in frame.columns]
        spec = ", ".join(f"{quote_ident(c)} {_pg_type(frame[c])}" for c in cols)
        with self.raw.cursor() as cur:
            cur.execute(f"DROP TABLE IF EXISTS pg_temp.{table}")
            cur.execute(f"CREATE TEMP TABLE {table} ({spec})")
            if len(frame):
                names = ", ".join(quote_ident(c) for c in cols)
                with cur.copy(f"COPY {table} ({names}) FROM STDIN") as copy:
                    for row in frame.itertuples(index=False, name=None):
                        copy.write_row(_adapt(list(row)))

    def unregister(self, name: str) -> None:
        self.raw.execute(f"DROP TABLE IF EXISTS pg_temp.{quote_ident(name)}")

    def close(self) -> None:
        self.raw.close()

    @property
    def broken(self) -> bool:
        return self.raw.closed or bool(getattr(self.raw, "broken", False))
