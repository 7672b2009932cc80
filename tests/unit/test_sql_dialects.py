"""Both backends' SQL: the same shared query names and migrations, each in its own dialect."""

from __future__ import annotations

import re

import pytest

from toolkit.sql import load_migrations, load_queries

DUCK, PG = "toolkit.backends.duckdb", "toolkit.backends.postgres"


def test_both_dialects_define_the_same_query_names():
    duck, pg = load_queries(DUCK, "duckdb").names(), load_queries(PG, "postgres").names()
    assert duck - pg == set(), "queries missing from toolkit/backends/postgres/sql/queries.sql"
    assert pg - duck == set(), "queries missing from toolkit/backends/duckdb/sql/queries.sql"


def test_both_dialects_have_the_same_migrations():
    duck = [(m.version, m.name) for m in load_migrations(DUCK)]
    pg = [(m.version, m.name) for m in load_migrations(PG)]
    assert duck == pg


def test_each_dialect_uses_its_own_placeholders():
    """DuckDB's SQL binds with ?, psycopg's with %s: nothing rewrites one into the other."""
    for name, text in _all(PG, "postgres"):
        body = re.sub(r"'(?:[^']|'')*'|--[^\n]*", "", text)
        assert "?" not in body, (name, "a ? in Postgres SQL")
        assert not re.search(r"%(?![sb%])", body), (name, "a lone % in Postgres SQL")
    for name, text in _all(DUCK, "duckdb"):
        body = re.sub(r"'(?:[^']|'')*'|--[^\n]*", "", text)
        assert "%s" not in body, (name, "a %s in DuckDB SQL")


def _all(package, dialect):
    q = load_queries(package, dialect, "queries.sql", "engine.sql")
    return [(n, q[n]) for n in sorted(q.names())]


def test_postgres_queries_use_no_duckdb_only_syntax():
    q = load_queries(PG, "postgres", "queries.sql", "engine.sql")
    for name in q.names():
        text = q[name]
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


def test_urls_never_show_the_password():
    pg = pytest.importorskip("toolkit.backends.postgres.store")
    conninfo, opts, safe = pg.split_url(
        "postgresql://ann:hunter2@db.example:5433/ws?lease_seconds=7&sslmode=require"
    )
    assert (
        "hunter2" not in safe and safe == "postgresql://ann:***@db.example:5433/ws?sslmode=require"
    )
    assert (
        opts == {"lease_seconds": "7"} and "lease_seconds" not in conninfo and "hunter2" in conninfo
    )
