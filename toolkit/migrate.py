"""Moving up: copy a DuckDB workspace into Postgres, history and all.

Every table of the DuckDB file — properties, documents, results, jobs, their
items, events and sessions, and any table a user added — is copied in one
Postgres transaction, and the row counts of both sides are compared before it
commits. The DuckDB file is opened read-only and left as it was.
"""

from __future__ import annotations

import re
import time
from typing import Any

from toolkit.exceptions import StoreError, ValidationError

# rebuilt from the toolkit's own files on the Postgres side, not copied
_SKIP = {"schema_migrations", "job_types", "schema_build"}
_TYPES = {
    "VARCHAR": "TEXT",
    "DOUBLE": "DOUBLE PRECISION",
    "FLOAT": "REAL",
    "INTEGER": "INTEGER",
    "BIGINT": "BIGINT",
    "SMALLINT": "SMALLINT",
    "BOOLEAN": "BOOLEAN",
    "DATE": "DATE",
    "TIMESTAMP": "TIMESTAMP",
    "UUID": "UUID",
    "HUGEINT": "NUMERIC",
    "TINYINT": "SMALLINT",
    "TIMESTAMP WITH TIME ZONE": "TIMESTAMPTZ",
    "BLOB": "BYTEA",
    "TIME": "TIME",
}


def _pg_type(duck_type: str) -> str:
    t = duck_type.upper()
    if t.startswith("DECIMAL"):
        return t.replace("DECIMAL", "NUMERIC")
    return _TYPES.get(t, "TEXT")


def migrate(src_url: str, dst_url: str, *, batch_rows: int = 50_000) -> dict[str, Any]:
    """Copy the DuckDB workspace ``src_url`` into the (new, empty) Postgres workspace ``dst_url``.

    Returns a report: ``tables`` {name: rows copied}, ``rows`` (total),
    ``source``, ``destination`` (password hidden) and ``seconds``. Raises
    :class:`~toolkit.exceptions.ValidationError` when the destination already
    holds data, and :class:`~toolkit.exceptions.StoreError` when a count differs
    (nothing is kept then).

    Examples
    --------
    >>> # report = migrate("data/toolkit.duckdb", "postgresql://me@localhost/research")
    >>> # report["tables"]["batch_job_items"]
    """
    import duckdb

    import toolkit
    from toolkit.sql import quote_ident

    if not str(dst_url).startswith(("postgres://", "postgresql://")):
        raise ValidationError(
            f"The destination must be a postgresql:// URL, got {str(dst_url)[:40]!r}."
        )
    if str(src_url).startswith(("postgres://", "postgresql://")) or src_url == ":memory:":
        raise ValidationError(
            f"The source must be a DuckDB workspace file, got {str(src_url)[:40]!r}."
        )
    t0 = time.monotonic()
    # bring the source to this toolkit's schema first (a no-op when it is current)
    toolkit.connect(src_url).close()
    dst = toolkit.connect(dst_url)
    src = duckdb.connect(str(src_url).removeprefix("duckdb://"), read_only=True)
    try:
        tables = [
            r[0]
            for r in src.execute(
                "SELECT table_name FROM information_schema.tables WHERE table_schema = 'main' "
                "AND table_type = 'BASE TABLE' ORDER BY table_name"
            ).fetchall()
            if r[0] not in _SKIP
        ]
        counts = {
            t: src.execute(f"SELECT count(*) FROM {quote_ident(t)}").fetchall()[0][0]
            for t in tables
        }

        def copy_all(con: Any) -> dict[str, int]:
            raw = con.raw
            existing = {
                r[0]
                for r in raw.execute(
                    "SELECT table_name FROM information_schema.tables "
                    "WHERE table_schema = current_schema()"
                ).fetchall()
            }
            for t in tables:
                if t in existing and t != "counties":
                    n = raw.execute(f"SELECT count(*) FROM {quote_ident(t)}").fetchone()[0]
                    if n:
                        raise ValidationError(
                            f"The Postgres workspace {dst.store.url} already has {n} row(s) "
                            f"in {t}; migrate into a new, empty database."
                        )
            copied: dict[str, int] = {}
            for t in tables:
                cols = src.execute(
                    "SELECT column_name, data_type FROM information_schema.columns "
                    "WHERE table_schema = 'main' AND table_name = ? ORDER BY ordinal_position",
                    [t],
                ).fetchall()
                if t not in existing:  # a table the user added: same columns, Postgres types
                    spec = ", ".join(f"{quote_ident(c)} {_pg_type(ty)}" for c, ty in cols)
                    raw.execute(f"CREATE TABLE {quote_ident(t)} ({spec})")
                    dst_cols = {c for c, _ in cols}
                else:
                    dst_cols = {
                        r[0]
                        for r in raw.execute(
                            "SELECT column_name FROM information_schema.columns "
                            "WHERE table_schema = current_schema() AND table_name = %s",
                            [t],
                        ).fetchall()
                    }
                names = [c for c, _ in cols if c in dst_cols]
                missing = [c for c, _ in cols if c not in dst_cols]
                if missing:
                    raise StoreError(
                        f"Table {t} of the DuckDB workspace has column(s) {', '.join(missing)} "
                        "that Postgres lacks; upgrade the toolkit on both sides first."
                    )
                raw.execute(f"DELETE FROM {quote_ident(t)}")  # the seeded counties
                select = ", ".join(_select(c, ty) for c, ty in cols if c in dst_cols)
                cur = src.execute(f"SELECT {select} FROM {quote_ident(t)}")
                qcols = ", ".join(quote_ident(c) for c in names)
                with (
                    raw.cursor() as pc,
                    pc.copy(f"COPY {quote_ident(t)} ({qcols}) FROM STDIN") as cp,
                ):
                    while True:
                        rows = cur.fetchmany(batch_rows)
                        if not rows:
                            break
                        for row in rows:
                            cp.write_row(row)
                copied[t] = raw.execute(f"SELECT count(*) FROM {quote_ident(t)}").fetchone()[0]
            wrong = {t: (counts[t], copied[t]) for t in tables if counts[t] != copied[t]}
            if wrong:
                raise StoreError(
                    f"Row counts differ after the copy (DuckDB, Postgres): {wrong}; "
                    "nothing was kept."
                )
            return copied

        copied = dst.store.run(copy_all)
    finally:
        src.close()
    report = {
        "source": str(src_url),
        "destination": dst.store.url,
        "tables": copied,
        "rows": sum(copied.values()),
        "seconds": round(time.monotonic() - t0, 2),
    }
    dst.close()
    return report


def _select(column: str, duck_type: str) -> str:
    from toolkit.sql import quote_ident

    q = quote_ident(column)
    if _pg_type(duck_type) == "TEXT" and not re.match(r"^VARCHAR", duck_type.upper()):
        return f"CAST({q} AS VARCHAR)"  # lists, structs, JSON: their text form
    return q
