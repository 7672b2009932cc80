"""The shared backend: a Postgres database (its store, engine, schema and SQL).

Importing it needs psycopg 3 (the ``postgres`` extra).
"""

from toolkit.backends.postgres.store import PostgresStore, server_reachable, split_url

__all__ = ["PostgresStore", "server_reachable", "split_url"]
