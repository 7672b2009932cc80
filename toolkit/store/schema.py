"""Migrations, seeds and the registry-driven views, for any backend connection.

Migrations in ``toolkit/sql/<dialect>/migrations`` are the schema's truth: a new
workspace applies them all, an old one the ones it lacks, each in its own
transaction, recorded in ``schema_migrations``. Views and macros are recreated
from the job-type registry on each process's first connection.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from toolkit import sql as sqlfiles
from toolkit.exceptions import SchemaVersionError, StoreError

_generation = 0  # bumped when the registry changes, so views are rebuilt


def quote_ident(name: str) -> str:
    """Quote an SQL identifier (the only way identifiers enter SQL text)."""
    return '"' + str(name).replace('"', '""') + '"'


def registry_changed() -> None:
    global _generation
    _generation += 1
    from toolkit.store import duckdb as duck

    duck._ready.clear()


def latest_version(dialect: str) -> int:
    return max(m.version for m in sqlfiles.migrations(dialect))


def _utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC).replace(tzinfo=None)


def ensure_schema(con: Any, dialect: str) -> None:
    """Bring the database to the latest schema, seed it, and (re)build the views."""
    con.execute(
        "CREATE TABLE IF NOT EXISTS schema_migrations "
        "(version INTEGER PRIMARY KEY, name VARCHAR NOT NULL, applied_at TIMESTAMP NOT NULL)"
    )
    applied = {r[0] for r in con.execute("SELECT version FROM schema_migrations").fetchall()}
    known = sqlfiles.migrations(dialect)
    newest_known = max(m.version for m in known)
    if applied and max(applied) > newest_known:
        import toolkit

        raise SchemaVersionError(
            f"This workspace has schema version {max(applied)}, written by a newer toolkit; "
            f"toolkit {toolkit.__version__} knows versions up to {newest_known}. "
            "Upgrade taxsale-toolkit to open it."
        )
    for m in known:
        if m.version in applied:
            continue
        con.execute("BEGIN TRANSACTION")
        try:
            # a concurrent migrator in this process may have won the race
            if con.execute(
                "SELECT count(*) FROM schema_migrations WHERE version = ?", [m.version]
            ).fetchall()[0][0]:
                con.execute("ROLLBACK")
                continue
            con.execute(m.sql)
            if m.version == 1:
                _seed(con)
            con.execute(
                "INSERT INTO schema_migrations VALUES (?, ?, ?)", [m.version, m.name, _utcnow()]
            )
            con.execute("COMMIT")
        except Exception as exc:
            con.execute("ROLLBACK")
            raise StoreError(f"Migration {m.version:04d}_{m.name} failed: {exc}") from exc
    build_views(con, dialect)


def _seed(con: Any) -> None:
    from toolkit.counties import seed_rows

    con.executemany("INSERT INTO counties VALUES (?, ?, ?, ?, ?)", seed_rows())


def build_views(con: Any, dialect: str) -> None:
    """Recreate job_types rows, eligibility views and the summary macro from the registry."""
    from toolkit.jobs.registry import job_types

    q = sqlfiles.queries(dialect)
    types = job_types()
    con.execute("BEGIN TRANSACTION")
    try:
        for name in ("utc_now_macro", "vw_done_items", "vw_property_sale_dates",
                     "vw_approved_properties"):  # fmt: skip
            con.execute(q[name])
        con.execute("DELETE FROM job_types")
        con.executemany(
            "INSERT INTO job_types VALUES (?, ?, ?, ?, ?)",
            [
                (t.name, t.batch_size, t.per_session, t.item_kind, t.description)
                for t in types.values()
            ],
        )
        for t in types.values():
            body = t.eligible_sql or q[f"eligible_{t.name}"]
            con.execute(f"CREATE OR REPLACE VIEW {quote_ident(t.view)} AS {body}")

        def waiting(t: Any) -> str:
            name = f"waiting_{t.name}"
            return f"(SELECT count(*) FROM ({q[name]}))" if name in q.names() else "0"

        union = "\nUNION ALL\n".join(
            f"SELECT {i} AS pos, '{t.name}' AS job_type, "
            f"(SELECT count(*) FROM {quote_ident(t.view)}) AS pending, "
            f"{waiting(t)} AS waiting"
            for i, t in enumerate(types.values())
        )
        # the guide's columns, then `waiting`: items not pending yet because an
        # earlier stage of the pipeline is unfinished for them
        con.execute(
            "CREATE OR REPLACE MACRO get_pending_work_summary() AS TABLE\n"
            f"WITH pend AS ({union})\n"
            "SELECT p.job_type, p.pending, t.batch_size,\n"
            "       CAST(ceil(p.pending / t.batch_size) AS BIGINT) AS batches,\n"
            "       CAST(ceil(p.pending / t.per_session) AS BIGINT) AS sessions,\n"
            "       p.waiting\n"
            "FROM pend p JOIN job_types t USING (job_type)\n"
            "WHERE p.pending > 0 OR p.waiting > 0 ORDER BY p.pos"
        )
        for name in ("vw_batch_status", "vw_active_batch_jobs", "vw_completed_batch_jobs",
                     "get_batch_status_macro"):  # fmt: skip
            con.execute(q[name])
        con.execute("COMMIT")
    except Exception:
        con.execute("ROLLBACK")
        raise
