"""Every SQL statement of the toolkit, loaded once from ``.sql`` files.

Each dialect folder holds ``queries.sql`` with named blocks (``-- name: claim_items``)
and ``migrations/NNNN_name.sql``. Queries are looked up by name; a missing name is an
error that lists the known ones.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cache
from importlib import resources

from toolkit.exceptions import UnknownChoiceError

DIALECTS = ("duckdb", "postgres")
_NAME = re.compile(r"^--\s*name:\s*(\w+)\s*$", re.MULTILINE)


def parse_named(text: str) -> dict[str, str]:
    """Split a file of ``-- name: x`` blocks into ``{name: sql}``.

    Comment lines after a statement (section headers before the next name)
    are not part of it, so a query can be embedded in larger SQL safely.
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

    __getattr__ = __getitem__

    def names(self) -> set[str]:
        return set(self._q)


@cache
def queries(dialect: str) -> Queries:
    if dialect not in DIALECTS:
        raise UnknownChoiceError("SQL dialect", dialect, DIALECTS)
    text = resources.files(__package__).joinpath(dialect, "queries.sql").read_text("utf-8")
    return Queries(dialect, parse_named(text))


@cache
def migrations(dialect: str) -> tuple[Migration, ...]:
    if dialect not in DIALECTS:
        raise UnknownChoiceError("SQL dialect", dialect, DIALECTS)
    folder = resources.files(__package__).joinpath(dialect, "migrations")
    out = []
    for entry in sorted(folder.iterdir(), key=lambda e: e.name):
        m = re.fullmatch(r"(\d{4})_(\w+)\.sql", entry.name)
        if m:
            out.append(Migration(int(m.group(1)), m.group(2), entry.read_text("utf-8")))
    return tuple(out)
