"""Named SQL, loaded once from ``.sql`` files that ship inside each backend package.

A backend keeps its SQL in ``toolkit/backends/<name>/sql/``: ``queries.sql`` with
named blocks (``-- name: claim_items``), and ``migrations/NNNN_name.sql``. Queries
are looked up by name; a missing name is an error that lists the known ones.
Statements are written in the backend's own dialect and placeholder style
(``?`` for DuckDB, ``%s`` for psycopg): nothing rewrites them.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cache
from importlib import resources

from toolkit.exceptions import UnknownChoiceError

_NAME = re.compile(r"^--\s*name:\s*(\w+)\s*$", re.MULTILINE)


def parse_named(text: str) -> dict[str, str]:
    """Split a file of ``-- name: x`` blocks into ``{name: sql}``.

    Comment lines after a statement (section headers before the next name)
    are not part of it, so a query can be embedded in larger SQL safely.

    >>> parse_named("-- name: one\\nSELECT 1\\n-- section\\n-- name: two\\nSELECT 2")
    {'one': 'SELECT 1', 'two': 'SELECT 2'}
    """
    parts = _NAME.split(text)
    out = {}
    for name, body in zip(parts[1::2], parts[2::2], strict=True):
        lines = body.strip().splitlines()
        while lines and (not lines[-1].strip() or lines[-1].lstrip().startswith("--")):
            lines.pop()
        out[name] = "\n".join(lines)
    return out


@dataclass(frozen=True)
class Migration:
    version: int
    name: str
    sql: str


class Queries:
    """Named queries of one dialect: ``q["claim_items"]`` or ``q.claim_items``."""

    def __init__(self, dialect: str, queries: dict[str, str]) -> None:
        self.dialect = dialect
        self._q = queries

    def __getitem__(self, name: str) -> str:
        try:
            return self._q[name]
        except KeyError:
            raise UnknownChoiceError(f"{self.dialect} query", name, self._q) from None

    def __getattr__(self, name: str) -> str:
        if name.startswith("__"):
            raise AttributeError(name)
        return self[name]

    def names(self) -> set[str]:
        return set(self._q)


@cache
def load_queries(package: str, dialect: str, *files: str) -> Queries:
    """The named queries in ``files`` (default ``queries.sql``) of ``<package>/sql/``."""
    folder = resources.files(package).joinpath("sql")
    merged: dict[str, str] = {}
    for name in files or ("queries.sql",):
        merged.update(parse_named(folder.joinpath(name).read_text("utf-8")))
    return Queries(dialect, merged)


@cache
def load_migrations(package: str) -> tuple[Migration, ...]:
    """``<package>/sql/migrations/NNNN_name.sql``, in order."""
    folder = resources.files(package).joinpath("sql", "migrations")
    out = []
    for entry in sorted(folder.iterdir(), key=lambda e: e.name):
        m = re.fullmatch(r"(\d{4})_(\w+)\.sql", entry.name)
        if m:
            out.append(Migration(int(m.group(1)), m.group(2), entry.read_text("utf-8")))
    return tuple(out)


def read_sql(package: str, name: str) -> str:
    """One whole ``.sql`` file of ``<package>/sql/`` (e.g. Postgres's functions)."""
    return resources.files(package).joinpath("sql", name).read_text("utf-8")


def quote_ident(name: str) -> str:
    """Quote an SQL identifier (the only way identifiers enter SQL text).

    >>> quote_ident('odd"name')
    '"odd""name"'
    """
    return '"' + str(name).replace('"', '""') + '"'
