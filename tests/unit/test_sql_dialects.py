"""Both SQL dialects define the same named queries; the Postgres store's small translations."""

from __future__ import annotations

import pytest

from toolkit import sql as sqlfiles


def test_both_dialects_define_the_same_query_names():
    duck, pg = sqlfiles.queries("duckdb").names(), sqlfiles.queries("postgres").names()
    assert duck - pg == set(), "queries missing from toolkit/sql/postgres/queries.sql"
    assert pg - duck == set(), "queries missing from toolkit/sql/duckdb/queries.sql"


def test_both_dialects_have_the_same_migrations():
    duck = [(m.version, m.name) for m in sqlfiles.migrations("duckdb")]
    pg = [(m.version, m.name) for m in sqlfiles.migrations("postgres")]
    assert duck == pg


def test_postgres_queries_use_no_duckdb_only_syntax():
    for name in sqlfiles.queries("postgres").names():
        text = sqlfiles.queries("postgres")[name]
        for duckism in (
            "INSERT OR REPLACE",
            "EXCLUDE (",
            "MACRO",
            " BY NAME",
            "epoch(",
            "// ?",
            "GROUP BY ALL",
        ):
            assert duckism not in text, (name, duckism)


def test_placeholders_are_translated_outside_quotes():
    pg = pytest.importorskip("toolkit.store.postgres")
    assert pg.translate("SELECT ? + 1") == "SELECT %s + 1"
    assert pg.translate("SELECT '?', \"a?\", ? -- what?\n") == "SELECT '?', \"a?\", %s -- what?\n"
    assert pg.translate("SELECT x LIKE 'a%' AND y = ?") == "SELECT x LIKE 'a%%' AND y = %s"
    assert pg.translate("SELECT $$ ? $$, ?") == "SELECT $$ ? $$, %s"


def test_urls_never_show_the_password():
    pg = pytest.importorskip("toolkit.store.postgres")
    conninfo, opts, safe = pg.split_url(
        "postgresql://ann:hunter2@db.example:5433/ws?lease_seconds=7&sslmode=require"
    )
    assert (
        "hunter2" not in safe and safe == "postgresql://ann:***@db.example:5433/ws?sslmode=require"
    )
    assert (
        opts == {"lease_seconds": "7"} and "lease_seconds" not in conninfo and "hunter2" in conninfo
    )
