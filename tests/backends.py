"""The backends the shared suite runs on: DuckDB files, and Postgres databases cloned from a template.

Postgres tests get a fresh database per test: the schema is built once into a
template database (named by a digest of the SQL, so a changed schema gets a new
template), and each test runs ``CREATE DATABASE x TEMPLATE tpl``, which copies
files instead of replaying migrations. Without a reachable server the tests
skip with the reason — except in CI (``CI=true``), where they fail, because CI
always has the server.

The server: ``$TOOLKIT_TEST_PG`` (an admin URL), else
``postgresql://postgres@127.0.0.1:5432/postgres``.
"""

from __future__ import annotations

import hashlib
import os
import uuid
from functools import cache
from importlib import resources

import pytest

BACKENDS = ("duckdb", "postgres")
ADMIN_URL = os.environ.get("TOOLKIT_TEST_PG", "postgresql://postgres@127.0.0.1:5432/postgres")


def in_ci() -> bool:
    return os.environ.get("CI", "").lower() in ("1", "true", "yes")


@cache
def unavailable() -> str | None:
    """Why Postgres tests cannot run here (None: they can)."""
    try:
        import psycopg  # noqa: F401
    except ImportError:
        return "psycopg is not installed (pip install 'taxsale-toolkit[postgres]')"
    from toolkit.backends.postgres import server_reachable

    return server_reachable(ADMIN_URL)


def require_postgres() -> None:
    """Skip (locally) or fail (in CI) when there is no Postgres server."""
    reason = unavailable()
    if reason is None:
        return
    if in_ci():
        pytest.fail(
            f"CI=true but Postgres tests cannot run: {reason}. CI must provide the server "
            "(.ci/run starts it).",
            pytrace=False,
        )
    pytest.skip(f"Postgres tests need a server: {reason}")


def url_for(dbname: str) -> str:
    from urllib.parse import urlsplit, urlunsplit

    return urlunsplit(urlsplit(ADMIN_URL)._replace(path="/" + dbname))


def _admin(sql: str) -> None:
    import psycopg

    with psycopg.connect(ADMIN_URL, autocommit=True) as con:
        con.execute(sql)


def _schema_digest() -> str:
    root = resources.files("toolkit.backends.postgres").joinpath("sql")
    h = hashlib.sha256()
    for name in ("functions.sql", "queries.sql", "engine.sql"):
        h.update(root.joinpath(name).read_bytes())
    for entry in sorted(root.joinpath("migrations").iterdir(), key=lambda e: e.name):
        h.update(entry.name.encode() + entry.read_bytes())
    h.update(
        resources.files("toolkit.backends.postgres").joinpath("schema.py").read_bytes()
    )  # the view builder
    return h.hexdigest()[:12]


@cache
def template() -> str:
    """The template database's name, built now if this schema has none yet."""
    import psycopg

    import toolkit

    name = f"toolkit_tpl_{_schema_digest()}"
    with psycopg.connect(ADMIN_URL, autocommit=True) as con:
        exists = con.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone()
        if exists:
            return name
        building = f"{name}_build_{uuid.uuid4().hex[:6]}"
        con.execute(f'CREATE DATABASE "{building}"')
    ws = toolkit.connect(url_for(building))
    ws.close()
    with psycopg.connect(ADMIN_URL, autocommit=True) as con:
        # a rename makes the finished template appear at once (a racing build loses quietly)
        try:
            con.execute(f'ALTER DATABASE "{building}" RENAME TO "{name}"')
        except psycopg.Error:
            con.execute(f'DROP DATABASE IF EXISTS "{building}" WITH (FORCE)')
    return name


def fresh_postgres() -> str:
    """A new database with the current schema; its URL. Drop it with :func:`drop`."""
    require_postgres()
    name = f"toolkit_test_{uuid.uuid4().hex[:12]}"
    _admin(f'CREATE DATABASE "{name}" TEMPLATE "{template()}"')
    return url_for(name)


def drop(url: str) -> None:
    from urllib.parse import urlsplit

    name = urlsplit(url).path.lstrip("/")
    if name.startswith("toolkit_test_"):
        _admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def execute(db: str, sql: str) -> None:
    """Run raw SQL on a workspace outside the toolkit (DuckDB file or Postgres URL)."""
    if db.startswith("postgresql://"):
        import psycopg

        with psycopg.connect(db, autocommit=True) as con:
            con.execute(sql)
    else:
        import duckdb

        con = duckdb.connect(db)
        con.execute(sql)
        con.close()


def forget_schema_checks() -> None:
    """Make the next connect re-check the schema (as a new process would)."""
    from toolkit.backends.duckdb import store as duck

    duck._ready.clear()
    try:
        from toolkit.backends.postgres import store as pg
    except ImportError:
        return
    pg._ready.clear()


def tagged(item: dict) -> dict:
    """A no-op processor for worker tests: the result names the process that did the item."""
    return {"source": f"worker {os.getpid()}"}


def many_properties(ws, n: int, county: str = "Blair") -> None:
    """Import ``n`` synthetic properties (parcel ids T-0 …) into one county."""
    import pandas as pd

    ws.import_properties(
        pd.DataFrame({"parcel_id": [f"T-{i}" for i in range(n)], "county": county})
    )
