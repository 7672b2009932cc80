"""Postgres's schema: numbered migrations (one migrator at a time), the seeded counties,
the rule functions, and the registry's views — rebuilt only when they change.
"""

from __future__ import annotations

import contextlib
import hashlib
from typing import TYPE_CHECKING, Any

import psycopg

from toolkit.backends.base import Catalog, JobSpec
from toolkit.counties import seed_rows
from toolkit.exceptions import SchemaVersionError, StoreError
from toolkit.sql import load_migrations, load_queries, quote_ident, read_sql

if TYPE_CHECKING:
    from toolkit.backends.postgres.connection import PGConnection

PACKAGE = "toolkit.backends.postgres"
_SCHEMA_LOCK = 727_451_001  # pg_advisory_lock key: one migrator at a time per database


def latest_version() -> int:
    return max(m.version for m in load_migrations(PACKAGE))


def ensure_schema(con: PGConnection, catalog: Catalog, *, migrate: bool = True) -> None:
    """Migrate (one migrator at a time: advisory lock), then rebuild functions/views if changed."""
    raw = con.raw
    raw.execute("SELECT pg_advisory_lock(%s)", [_SCHEMA_LOCK])
    try:
        if migrate:
            _migrate(raw)
        build_views(con, catalog)
    finally:
        with contextlib.suppress(psycopg.Error):
            raw.execute("SELECT pg_advisory_unlock(%s)", [_SCHEMA_LOCK])


def _migrate(raw: Any) -> None:
    raw.execute(
        "CREATE TABLE IF NOT EXISTS schema_migrations "
        "(version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at TIMESTAMP NOT NULL)"
    )
    applied = {r[0] for r in raw.execute("SELECT version FROM schema_migrations").fetchall()}
    newest = latest_version()
    if applied and max(applied) > newest:
        from toolkit.version import __version__

        raise SchemaVersionError(
            f"This workspace has schema version {max(applied)}, written by a newer toolkit; "
            f"toolkit {__version__} knows versions up to {newest}. "
            "Upgrade taxsale-toolkit to open it."
        )
    for m in load_migrations(PACKAGE):
        if m.version in applied:
            continue
        try:
            with raw.transaction():
                raw.execute(m.sql)
                if m.version == 1:
                    with raw.cursor() as cur:
                        cur.executemany(
                            "INSERT INTO counties VALUES (%s, %s, %s, %s, %s)", seed_rows()
                        )
                raw.execute(
                    "INSERT INTO schema_migrations "
                    "VALUES (%s, %s, (now() AT TIME ZONE 'UTC')::TIMESTAMP)",
                    [m.version, m.name],
                )
        except psycopg.Error as exc:
            raise StoreError(f"Migration {m.version:04d}_{m.name} failed: {exc}") from exc


def view_statements(catalog: Catalog) -> tuple[list[str], list[tuple[Any, ...]]]:
    """Every statement of the build (functions, views, summary), and the job_types rows."""
    q = load_queries(PACKAGE, "postgres", "queries.sql", "engine.sql")
    types = catalog.types()
    stmts = [read_sql(PACKAGE, "functions.sql")]
    for name in (
        "utc_now_macro",
        "vw_done_items",
        "vw_property_sale_dates",
        "vw_approved_properties",
        "vw_title_inputs_changed",
        "vw_bid_out_of_date",
    ):
        stmts.append(q[name])
    for t in types.values():
        body = t.eligible_sql or q[f"eligible_{t.name}"]
        stmts.append(f"CREATE OR REPLACE VIEW {quote_ident(t.view)} AS {body}")
    for name in (
        "vw_batch_status",
        "vw_active_batch_jobs",
        "vw_completed_batch_jobs",
        "get_batch_status_macro",
    ):
        stmts.append(q[name])

    def waiting(t: JobSpec) -> str:
        name = f"waiting_{t.name}"
        return f"(SELECT count(*) FROM ({q[name]}) AS w)" if name in q.names() else "0"

    union = "\nUNION ALL\n".join(
        f"SELECT {i} AS pos, '{t.name}'::TEXT AS job_type, "
        f"(SELECT count(*) FROM {quote_ident(t.view)}) AS pending, "
        f"{waiting(t)}::BIGINT AS waiting"
        for i, t in enumerate(types.values())
    )
    # the guide's columns, then `waiting`: items not pending yet because an
    # earlier stage of the pipeline is unfinished for them (as on DuckDB)
    stmts.append("DROP FUNCTION IF EXISTS get_pending_work_summary()")
    stmts.append(
        "CREATE FUNCTION get_pending_work_summary()\n"
        "RETURNS TABLE (job_type TEXT, pending BIGINT, batch_size INTEGER, batches BIGINT, "
        "sessions BIGINT,\n"
        "               waiting BIGINT)\n"
        "LANGUAGE sql STABLE AS $body$\n"
        f"WITH pend AS ({union})\n"
        "SELECT p.job_type, p.pending, t.batch_size,\n"
        "       ceil(p.pending::NUMERIC / t.batch_size)::BIGINT AS batches,\n"
        "       ceil(p.pending::NUMERIC / t.per_session)::BIGINT AS sessions,\n"
        "       p.waiting\n"
        "FROM pend p JOIN job_types t ON t.job_type = p.job_type\n"
        "WHERE p.pending > 0 OR p.waiting > 0 ORDER BY p.pos\n$body$"
    )
    rows = [
        (t.name, t.batch_size, t.per_session, t.item_kind, t.description) for t in types.values()
    ]
    return stmts, rows


def build_views(con: PGConnection, catalog: Catalog) -> None:
    """(Re)create the rule functions, the registry's views and the summary, when they changed."""
    raw = con.raw
    stmts, rows = view_statements(catalog)
    digest = hashlib.sha256(repr((stmts, rows)).encode()).hexdigest()
    raw.execute(
        "CREATE TABLE IF NOT EXISTS schema_build (id INTEGER PRIMARY KEY, digest TEXT NOT NULL, "
        "built_at TIMESTAMP NOT NULL)"
    )
    row = raw.execute("SELECT digest FROM schema_build WHERE id = 1").fetchone()
    if row is not None and row[0] == digest:
        return
    with raw.transaction():
        old = [
            r[0]
            for r in raw.execute(
                "SELECT quote_ident(table_name) FROM information_schema.views "
                "WHERE table_schema = current_schema() "
                "AND (table_name LIKE 'eligible\\_%' OR table_name LIKE 'vw\\_%')"
            ).fetchall()
        ]
        if old:
            raw.execute(f"DROP VIEW IF EXISTS {', '.join(old)} CASCADE")
        raw.execute("DELETE FROM job_types")
        with raw.cursor() as cur:
            cur.executemany("INSERT INTO job_types VALUES (%s, %s, %s, %s, %s)", rows)
        for stmt in stmts:
            raw.execute(stmt)
        raw.execute(
            "INSERT INTO schema_build VALUES (1, %s, (now() AT TIME ZONE 'UTC')::TIMESTAMP) "
            "ON CONFLICT (id) DO UPDATE SET digest = excluded.digest, built_at = excluded.built_at",
            [digest],
        )
