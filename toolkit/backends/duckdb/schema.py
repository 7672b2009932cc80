"""DuckDB's schema: numbered migrations, the seeded counties, and the registry's views.

Migrations in ``sql/migrations`` are the schema's truth: a new workspace applies
them all, an old one the ones it lacks, each in its own transaction, recorded in
``schema_migrations``. Views and macros are built from the job-type catalog and
rebuilt only when what they would be changes (a digest is kept in
``schema_build``), so opening a workspace normally writes nothing.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from typing import Any

from toolkit.backends.base import Catalog, JobSpec
from toolkit.counties import seed_rows
from toolkit.exceptions import SchemaVersionError, StoreError
from toolkit.sql import load_migrations, load_queries, quote_ident

PACKAGE = "toolkit.backends.duckdb"


def latest_version() -> int:
    return max(m.version for m in load_migrations(PACKAGE))


def _utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC).replace(tzinfo=None)


def ensure_schema(
    con: Any, catalog: Catalog, *, migrate: bool = True, init: bool = False, path: str = ""
) -> None:
    """Bring the database to the latest schema, seed it, and (re)build the views.

    A database with tables of its own and none of the toolkit's is refused
    (:class:`~toolkit.exceptions.NotAWorkspaceError`) unless ``init``: opening a file
    must not add 36 tables to somebody's data. Nothing is written when the schema and
    the views are current, so reading a workspace works on a full disk too.
    """
    if migrate:
        _migrate(con, init, path)
    build_views(con, catalog)


def _tables(con: Any) -> list[str]:
    return [
        r[0]
        for r in con.execute(
            "SELECT table_name FROM information_schema.tables "
            "WHERE table_schema = 'main' ORDER BY table_name"
        ).fetchall()
    ]


def _migrate(con: Any, init: bool, path: str) -> None:
    tables = _tables(con)
    if "schema_migrations" not in tables:
        if tables and not init:
            from toolkit.exceptions import NotAWorkspaceError

            shown = ", ".join(tables[:5]) + (
                f" and {len(tables) - 5} more" if len(tables) > 5 else ""
            )
            raise NotAWorkspaceError(
                f"{path or 'This database'} is a DuckDB database but not a toolkit workspace "
                f"(it holds {shown}); nothing was changed. To add the toolkit's tables to it, "
                "open it with toolkit.connect(path, init=True) or `toolkit init --db PATH`."
            )
        con.execute(
            "CREATE TABLE schema_migrations "
            "(version INTEGER PRIMARY KEY, name VARCHAR NOT NULL, applied_at TIMESTAMP NOT NULL)"
        )
    applied = {r[0] for r in con.execute("SELECT version FROM schema_migrations").fetchall()}
    known = load_migrations(PACKAGE)
    newest_known = max(m.version for m in known)
    if applied and max(applied) > newest_known:
        from toolkit.version import __version__

        raise SchemaVersionError(
            f"This workspace has schema version {max(applied)}, written by a newer toolkit; "
            f"toolkit {__version__} knows versions up to {newest_known}. "
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
                con.executemany("INSERT INTO counties VALUES (?, ?, ?, ?, ?)", seed_rows())
            con.execute(
                "INSERT INTO schema_migrations VALUES (?, ?, ?)", [m.version, m.name, _utcnow()]
            )
            con.execute("COMMIT")
        except Exception as exc:
            con.execute("ROLLBACK")
            raise StoreError(f"Migration {m.version:04d}_{m.name} failed: {exc}") from exc


def view_statements(catalog: Catalog) -> tuple[list[str], list[tuple[Any, ...]]]:
    """Every statement that builds the views and macros, and the job_types rows."""
    q = load_queries(PACKAGE, "duckdb", "queries.sql", "engine.sql")
    types = list(catalog.types().values())
    stmts = [
        q[name]
        for name in (
            "utc_now_macro",
            "vw_done_items",
            "vw_property_sale_dates",
            "vw_approved_properties",
            "vw_title_inputs_changed",
            "vw_bid_out_of_date",
        )
    ]
    for t in types:
        body = t.eligible_sql or q[f"eligible_{t.name}"]
        stmts.append(f"CREATE OR REPLACE VIEW {quote_ident(t.view)} AS {body}")

    def waiting(t: JobSpec) -> str:
        name = f"waiting_{t.name}"
        return f"(SELECT count(*) FROM ({q[name]}))" if name in q.names() else "0"

    union = "\nUNION ALL\n".join(
        f"SELECT {i} AS pos, '{t.name}' AS job_type, "
        f"(SELECT count(*) FROM {quote_ident(t.view)}) AS pending, "
        f"{waiting(t)} AS waiting"
        for i, t in enumerate(types)
    )
    # the guide's columns, then `waiting`: items not pending yet because an
    # earlier stage of the pipeline is unfinished for them
    stmts.append(
        "CREATE OR REPLACE MACRO get_pending_work_summary() AS TABLE\n"
        f"WITH pend AS ({union})\n"
        "SELECT p.job_type, p.pending, t.batch_size,\n"
        "       CAST(ceil(p.pending / t.batch_size) AS BIGINT) AS batches,\n"
        "       CAST(ceil(p.pending / t.per_session) AS BIGINT) AS sessions,\n"
        "       p.waiting\n"
        "FROM pend p JOIN job_types t USING (job_type)\n"
        "WHERE p.pending > 0 OR p.waiting > 0 ORDER BY p.pos"
    )
    stmts += [
        q[name]
        for name in (
            "vw_batch_status",
            "vw_active_batch_jobs",
            "vw_completed_batch_jobs",
            "get_batch_status_macro",
        )
    ]
    rows = [(t.name, t.batch_size, t.per_session, t.item_kind, t.description) for t in types]
    return stmts, rows


def build_views(con: Any, catalog: Catalog) -> None:
    """Recreate job_types rows, eligibility views and the summary macro, when they changed."""
    stmts, rows = view_statements(catalog)
    digest = hashlib.sha256(repr((stmts, rows)).encode()).hexdigest()
    if "schema_build" in _tables(con):
        row = con.execute("SELECT digest FROM schema_build WHERE id = 1").fetchall()
        if row and row[0][0] == digest:
            return
    else:
        con.execute(
            "CREATE TABLE schema_build "
            "(id INTEGER PRIMARY KEY, digest VARCHAR NOT NULL, built_at TIMESTAMP NOT NULL)"
        )
    con.execute("BEGIN TRANSACTION")
    try:
        con.execute("DELETE FROM job_types")
        con.executemany("INSERT INTO job_types VALUES (?, ?, ?, ?, ?)", rows)
        for stmt in stmts:
            con.execute(stmt)
        con.execute("INSERT OR REPLACE INTO schema_build VALUES (1, ?, ?)", [digest, _utcnow()])
        con.execute("COMMIT")
    except Exception:
        con.execute("ROLLBACK")
        raise
