"""The Postgres backend: many workers, on many machines, over one server.

The store offers what the workspace and the session runner use from
:class:`~toolkit.store.duckdb.DuckDBStore` — ``q``, ``run``, ``fetch_df``,
``hold``, ``close`` — over psycopg 3. Its connections behave like DuckDB's
(``execute(sql, params)`` with ``?`` placeholders, ``.fetchall()``, ``.df()``,
``register(name, frame)``), so the workspace, importers and processors run
unchanged. The lifecycle rules are plpgsql functions
(``toolkit/sql/postgres/functions.sql``) that :mod:`toolkit.jobs.pg_engine`
calls: psql users and the Python API share one implementation.

URL: ``postgresql://user:password@host:port/dbname``, plus the toolkit's own
optional query parameter ``lease_seconds`` (default ``$TOOLKIT_LEASE_SECONDS``,
else 30): how long a session's claims outlive its last heartbeat.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import hashlib
import os
import re
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from functools import lru_cache
from importlib import resources
from typing import Any, TypeVar
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

try:
    import psycopg
    from psycopg.types.numeric import FloatLoader
except ImportError as exc:  # pragma: no cover - exercised by test_postgres with a blocked import
    from toolkit.exceptions import MissingDependencyError

    raise MissingDependencyError(
        "Postgres workspaces need psycopg 3: pip install 'taxsale-toolkit[postgres]'"
    ) from exc

from toolkit import config
from toolkit import sql as sqlfiles
from toolkit.exceptions import (
    ActiveJobExistsError,
    InvalidBatchSizeError,
    InvalidTransitionError,
    JobNotFoundError,
    JobPausedError,
    SchemaVersionError,
    StoreError,
    ToolkitError,
    ValidationError,
)

T = TypeVar("T")
DEFAULT_LEASE_SECONDS = 30.0
_SCHEMA_LOCK = 727_451_001  # pg_advisory_lock key: one migrator at a time per database
_RETRY_STATES = {"40001", "40P01"}  # serialization failure, deadlock detected
_ERRORS: dict[str, type[ToolkitError]] = {
    "TKVAL": ValidationError,
    "TKTYP": ValidationError,
    "TKBSZ": InvalidBatchSizeError,
    "TKNFD": JobNotFoundError,
    "TKTRN": InvalidTransitionError,
    "TKPAU": JobPausedError,
    "TKACT": ActiveJobExistsError,
}
_ready: set[str] = set()  # databases whose schema this process has checked
_ready_lock = threading.Lock()


# -- URLs ----------------------------------------------------------------------


def split_url(url: str) -> tuple[str, dict[str, str], str]:
    """(conninfo for psycopg, toolkit options, the URL with the password hidden).

    >>> split_url("postgresql://me:pw@db:5433/ws?lease_seconds=5")[1:]
    ({'lease_seconds': '5'}, 'postgresql://me:***@db:5433/ws')
    """
    parts = urlsplit(url)
    query = parse_qsl(parts.query, keep_blank_values=True)
    ours = {k: v for k, v in query if k in ("lease_seconds",)}
    rest = [(k, v) for k, v in query if k not in ours]
    conninfo = urlunsplit(parts._replace(query=urlencode(rest)))
    netloc = parts.netloc
    if parts.password is not None:
        netloc = netloc.replace(":" + parts.password + "@", ":***@", 1)
    safe = urlunsplit(parts._replace(netloc=netloc, query=urlencode(rest)))
    return conninfo, ours, safe


def _scrub(text: str, secret: str | None) -> str:
    return text.replace(secret, "***") if secret else text


# -- ? placeholders --------------------------------------------------------------

_TOKEN = re.compile(
    r"""('(?:[^']|'')*'|"(?:[^"]|"")*"|\$(\w*)\$.*?\$\2\$|--[^\n]*|/\*.*?\*/|\?|%)""", re.S
)


@lru_cache(maxsize=512)
def translate(sql: str, placeholder: str = "%s") -> str:
    """DuckDB-style ``?`` placeholders → psycopg's ``%s`` (and ``%`` → ``%%``), outside quotes.

    >>> translate("SELECT '?', ? + 1 WHERE x LIKE 'a%' -- ?")
    "SELECT '?', %s + 1 WHERE x LIKE 'a%%' -- ?"
    >>> translate("SELECT ?::INTEGER[]", "%b")
    'SELECT %b::INTEGER[]'
    """

    def sub(m: re.Match[str]) -> str:
        tok = m.group(1)
        if tok == "?":
            return placeholder
        if tok == "%":
            return "%%"
        return tok.replace("%", "%%") if tok.startswith("'") else tok

    return _TOKEN.sub(sub, sql)


_PLAIN = {str, int, bool, type(None), bytes, dt.datetime, dt.date}


def _adapt(v: Any) -> Any:
    """numpy / pandas scalars and containers → plain Python for psycopg."""
    if v is None or isinstance(v, str | bytes | bool | int | float):
        if isinstance(v, float) and v != v:  # NaN is SQL NULL, as in DuckDB
            return None
        return v
    if isinstance(v, list | tuple):
        # the common case: nothing to convert
        if type(v) is list and {type(x) for x in v} <= _PLAIN:
            return v
        return [_adapt(x) for x in v]
    mod = type(v).__module__
    if mod.startswith("numpy"):
        if hasattr(v, "tolist"):
            return _adapt(v.tolist())
    if mod.startswith("pandas"):
        import pandas as pd

        if v is pd.NA or v is pd.NaT:
            return None
        if isinstance(v, pd.Timestamp):
            return v.to_pydatetime()
        if hasattr(v, "tolist"):
            return _adapt(v.tolist())
    return v


# -- a DuckDB-like connection ------------------------------------------------------------


class PGCursor:
    """The result of one statement: ``fetchall()``, ``fetchone()``, ``description``, ``df()``."""

    def __init__(self, cur: psycopg.Cursor[Any]) -> None:
        self._cur = cur
        desc = cur.description
        self.description = (
            None
            if desc is None
            else [(c.name, c.type_code, None, None, None, None, None) for c in desc]
        )

    def fetchall(self) -> list[tuple[Any, ...]]:
        return [] if self.description is None else self._cur.fetchall()

    def fetchone(self) -> tuple[Any, ...] | None:
        return None if self.description is None else self._cur.fetchone()

    def df(self):  # -> pandas.DataFrame
        import pandas as pd

        if self.description is None:
            return pd.DataFrame()
        names = [d[0] for d in self.description]
        rows = self._cur.fetchall()
        if not rows:
            return (
                pd.DataFrame({n: pd.Series(dtype="object") for n in names})[names]
                if len(set(names)) == len(names)
                else pd.DataFrame(columns=names)
            )
        return pd.DataFrame.from_records(rows, columns=names)


def _pg_type(series: Any) -> str:
    import pandas as pd

    kind = series.dtype.kind
    if kind == "b" or str(series.dtype) == "boolean":
        return "BOOLEAN"
    if kind in "iu":
        return "BIGINT"
    if kind == "f":
        return "DOUBLE PRECISION"
    if kind == "M":
        return "TIMESTAMP"
    for v in series:
        if v is None or (isinstance(v, float) and v != v) or v is pd.NA or v is pd.NaT:
            continue
        import datetime as dt
        import uuid

        if isinstance(v, bool):
            return "BOOLEAN"
        if isinstance(v, int):
            return "BIGINT"
        if isinstance(v, float):
            return "DOUBLE PRECISION"
        if isinstance(v, dt.datetime):
            return "TIMESTAMP"
        if isinstance(v, dt.date):
            return "DATE"
        if isinstance(v, uuid.UUID):
            return "UUID"
        return "TEXT"
    return "TEXT"


class PGConnection:
    """A psycopg connection dressed as a DuckDB one (the methods the toolkit calls)."""

    def __init__(self, raw: psycopg.Connection[Any], lease_seconds: float) -> None:
        self.raw = (
            raw  # no reference back to the store: a dropped Workspace closes its pool at once
        )
        self.lease_seconds = lease_seconds
        self.in_session = False  # a session's (held) connection: claims get the short lease

    def execute(self, query: str, params: Sequence[Any] | None = None) -> PGCursor:
        cur = self.raw.cursor()
        if params:
            cur.execute(translate(query), _adapt(list(params)))
        else:
            cur.execute(query)
        return PGCursor(cur)

    def execute_prepared(self, query: str, params: Sequence[Any]) -> PGCursor:
        """A hot statement: bound on the server and prepared (the same text every batch)."""
        cur = psycopg.Cursor(self.raw)
        cur.execute(translate(query, "%b"), _adapt(list(params)), prepare=True)
        return PGCursor(cur)

    def executemany(self, query: str, rows: Sequence[Sequence[Any]]) -> None:
        with self.raw.cursor() as cur:
            cur.executemany(translate(query), [_adapt(list(r)) for r in rows])

    def register(self, name: str, frame: Any) -> None:
        """Make a DataFrame queryable as ``name`` (a TEMP table, as DuckDB's register)."""
        from toolkit.store.schema import quote_ident

        table = quote_ident(name)
        cols = [str(c) for c in frame.columns]
        spec = ", ".join(f"{quote_ident(c)} {_pg_type(frame[c])}" for c in cols)
        with self.raw.cursor() as cur:
            cur.execute(f"DROP TABLE IF EXISTS pg_temp.{table}")
            cur.execute(f"CREATE TEMP TABLE {table} ({spec})")
            if len(frame):
                names = ", ".join(quote_ident(c) for c in cols)
                with cur.copy(f"COPY {table} ({names}) FROM STDIN") as copy:
                    for row in frame.itertuples(index=False, name=None):
                        copy.write_row(_adapt(list(row)))

    def unregister(self, name: str) -> None:
        from toolkit.store.schema import quote_ident

        self.raw.execute(f"DROP TABLE IF EXISTS pg_temp.{quote_ident(name)}")

    def close(self) -> None:
        self.raw.close()

    @property
    def broken(self) -> bool:
        return self.raw.closed or bool(getattr(self.raw, "broken", False))


# -- the store -----------------------------------------------------------------------------


class PostgresStore:
    """A Postgres database as a workspace (``postgresql://…``)."""

    dialect = "postgres"
    memory = False

    def __init__(self, url: str, *, lock_timeout: float | None = None) -> None:
        from toolkit.jobs import pg_engine

        self.engine = pg_engine
        self._conninfo, opts, self.url = split_url(url)
        self._password = urlsplit(url).password
        lease = opts.get("lease_seconds") or os.environ.get("TOOLKIT_LEASE_SECONDS")
        try:
            self.lease_seconds = float(lease) if lease else DEFAULT_LEASE_SECONDS
        except ValueError:
            raise ValidationError(
                f"lease_seconds {lease!r} in the workspace URL must be a number of seconds."
            ) from None
        if not self.lease_seconds > 0:
            raise ValidationError(f"lease_seconds {lease!r} must be positive.")
        self.lock_timeout = (
            lock_timeout
            if lock_timeout is not None
            else float(os.environ.get("TOOLKIT_LOCK_TIMEOUT", "30"))
        )
        self.q = sqlfiles.queries("postgres")
        parts = urlsplit(url)
        self.dbname = parts.path.lstrip("/") or parts.username or "postgres"
        # files (documents, sketches, caches, run records) live in the data dir;
        # ``path`` is a name inside it so code that uses path's parent finds it too
        self.data_dir = config.data_dir()
        self.path = str(self.data_dir / f"{self.dbname}.postgres")
        self._local = threading.local()
        self._idle: list[PGConnection] = []
        self._pool_lock = threading.Lock()
        self._closed = False

    def __repr__(self) -> str:
        return f"PostgresStore({self.url!r})"

    # -- connections ---------------------------------------------------------

    def _new_raw(self, role: str) -> psycopg.Connection[Any]:
        try:
            raw = psycopg.connect(
                self._conninfo, autocommit=True, cursor_factory=psycopg.ClientCursor,
                connect_timeout=max(1, int(min(self.lock_timeout, 10))),
                application_name=f"toolkit {role}", options="-c TimeZone=UTC",
            )  # fmt: skip
        except psycopg.Error as exc:
            msg = _scrub(str(exc).strip(), self._password)
            hint = "check the host, port, user, password and database name in the URL"
            if "does not exist" in msg and "database" in msg:
                hint = f"create it first (createdb {self.dbname}) or name an existing database"
            elif "refused" in msg or "timeout" in msg.lower():
                hint = "is the server running and reachable?"
            err = StoreError(f"Cannot connect to Postgres workspace {self.url}: {msg} — {hint}.")
            if self._password and self._password in repr(exc.args):
                raise err from None
            raise err from exc
        raw.adapters.register_loader("numeric", FloatLoader)  # as DuckDB's df(): floats
        return raw

    def _checkout(self, role: str = "api") -> PGConnection:
        with self._pool_lock:
            while self._idle:
                con = self._idle.pop()
                if not con.broken:
                    break
            else:
                con = None
        if con is None:
            con = PGConnection(self._new_raw(role), self.lease_seconds)
        try:
            self._ensure_schema(con)
        except BaseException:
            con.close()
            raise
        return con

    def _checkin(self, con: PGConnection) -> None:
        con.in_session = False
        if con.broken or self._closed or con.raw.info.transaction_status != 0:  # 0: IDLE
            with contextlib.suppress(Exception):
                con.close()
            return
        with self._pool_lock:
            if len(self._idle) < 8:
                self._idle.append(con)
                return
        con.close()

    @contextlib.contextmanager
    def connect(self) -> Iterator[PGConnection]:
        """A connection for one short piece of work (a session's held one in its thread)."""
        held = getattr(self._local, "held", None)
        if held is not None and held.conn is not None and not held.conn.broken:
            yield held.conn
            return
        con = self._checkout()
        try:
            yield con
        finally:
            self._checkin(con)

    def hold(self) -> PGHolder:
        """A session's connection, with a heartbeat and a pause listener beside it."""
        return PGHolder(self)

    def run(self, fn: Callable[[PGConnection], T], *, tx: bool = True) -> T:
        """Run ``fn`` in one transaction; retry serialization failures and deadlocks briefly."""
        for attempt in range(20):
            with self.connect() as con:
                try:
                    if not tx:
                        return fn(con)
                    with con.raw.transaction():
                        return fn(con)
                except ToolkitError:
                    raise
                except psycopg.Error as exc:
                    state = getattr(exc, "sqlstate", None) or ""
                    if state in _ERRORS:
                        primary = exc.diag.message_primary or str(exc)
                        raise _ERRORS[state](primary) from None
                    if state in _RETRY_STATES and tx and attempt < 19:
                        time.sleep(0.005 * (attempt + 1))
                        continue
                    if con.broken or isinstance(exc, psycopg.OperationalError):
                        self._drop(con)
                        raise StoreError(
                            f"Lost the connection to the Postgres workspace {self.url}: "
                            f"{_scrub(str(exc).strip(), self._password)}. "
                            "Nothing of the unfinished transaction was kept; "
                            "a job that was running stays resumable "
                            "(resume it, or run the session again)."
                        ) from exc
                    raise StoreError(
                        f"Postgres error in {self.url}: {_scrub(str(exc).strip(), self._password)}"
                    ) from exc
        raise AssertionError("unreachable")

    def _drop(self, con: PGConnection) -> None:
        held = getattr(self._local, "held", None)
        if held is not None and held.conn is con:
            held.conn = None
        with contextlib.suppress(Exception):
            con.close()
        # the server restarted or ended our backends: the idle ones are likely gone too
        self.close()

    def fetch_df(self, query: str, params: Any = None):  # -> pandas.DataFrame
        return self.run(lambda con: con.execute(query, params).df(), tx=False)

    def waiters(self) -> list[int]:
        """Nobody waits for a Postgres workspace the way DuckDB file users do."""
        return []

    # -- schema --------------------------------------------------------------

    def _ensure_schema(self, con: PGConnection) -> None:
        key = self._conninfo
        if key in _ready:
            return
        with _ready_lock:
            if key in _ready:
                return
            ensure_schema(con)
            _ready.add(key)

    def forget_schema_check(self) -> None:
        """Make the next connection re-check migrations and views (tests, registry changes)."""
        _ready.discard(self._conninfo)

    def close(self) -> None:
        with self._pool_lock:
            idle, self._idle = self._idle, []
        for con in idle:
            with contextlib.suppress(Exception):
                con.close()

    def __del__(self) -> None:
        # a Workspace dropped without close() must not leave server connections behind
        with contextlib.suppress(Exception):
            self.close()


class PGHolder:
    """A session's connection, plus a thread that keeps its claims alive and hears pauses.

    The thread LISTENs on ``toolkit_jobs``: a pause or cancel committed anywhere
    sets the job's pause event in this process, so the session stops before its
    next item. It also renews this worker's leases every third of the lease, so
    only a worker that is gone (killed, or its machine down) loses its claims.
    """

    def __init__(self, store: PostgresStore) -> None:
        self.store = store
        self.conn: PGConnection | None = None
        self.reopened = False
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def __enter__(self) -> PGHolder:
        self.store._local.held = self
        from toolkit.jobs.workers import current_worker

        self._thread = threading.Thread(
            target=_listen_and_heartbeat, args=(self.store, current_worker(), self._stop),
            name="toolkit-heartbeat", daemon=True,
        )  # fmt: skip
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()
        self.store._local.held = None
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=0.5)

    def acquire(self) -> PGConnection:
        if self.conn is None or self.conn.broken:
            self.store._local.held = None
            self.conn = self.store._checkout("session")
            self.conn.in_session = True
            self.reopened = True
            self.store._local.held = self
        return self.conn

    def release(self) -> None:
        if self.conn is not None:
            con, self.conn = self.conn, None
            self.store._checkin(con)

    def checkpoint(self, *, slow: bool = False) -> None:
        """Postgres has no single-writer lock to give up; a slow item returns the connection."""
        if slow:
            self.release()


def _listen_and_heartbeat(store: PostgresStore, worker: str, stop: threading.Event) -> None:
    from toolkit.workspace import pause_event

    every = store.lease_seconds / 3
    raw = None
    next_beat = 0.0
    while not stop.is_set():
        try:
            if raw is None or raw.closed:
                raw = store._new_raw("listener")
                raw.execute("LISTEN toolkit_jobs")
            now = time.monotonic()
            if now >= next_beat:
                raw.execute(
                    "UPDATE batch_job_items SET lease_expires_at = "
                    "(clock_timestamp() AT TIME ZONE 'UTC')::TIMESTAMP + make_interval(secs => %s) "
                    "WHERE status = 'claimed' AND claimed_by = %s",
                    [store.lease_seconds, worker],
                )
                next_beat = now + every
            for note in raw.notifies(timeout=min(0.2, every), stop_after=1):
                job, _, status = note.payload.rpartition(":")
                if status in ("paused", "cancelled"):
                    pause_event(job).set()
        except (psycopg.Error, StoreError):
            if raw is not None:
                with contextlib.suppress(Exception):
                    raw.close()
            raw = None
            stop.wait(0.5)
    if raw is not None:
        with contextlib.suppress(Exception):
            raw.close()


# -- schema ----------------------------------------------------------------------------


def _functions_sql() -> str:
    return resources.files("toolkit.sql").joinpath("postgres", "functions.sql").read_text("utf-8")


def ensure_schema(con: PGConnection) -> None:
    """Migrate (one migrator at a time: advisory lock), then rebuild functions/views if changed."""
    from toolkit.store.schema import latest_version

    raw = con.raw
    raw.execute("SELECT pg_advisory_lock(%s)", [_SCHEMA_LOCK])
    try:
        raw.execute(
            "CREATE TABLE IF NOT EXISTS schema_migrations "
            "(version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at TIMESTAMP NOT NULL)"
        )
        applied = {r[0] for r in raw.execute("SELECT version FROM schema_migrations").fetchall()}
        newest = latest_version("postgres")
        if applied and max(applied) > newest:
            import toolkit

            raise SchemaVersionError(
                f"This workspace has schema version {max(applied)}, written by a newer toolkit; "
                f"toolkit {toolkit.__version__} knows versions up to {newest}. "
                "Upgrade taxsale-toolkit to open it."
            )
        for m in sqlfiles.migrations("postgres"):
            if m.version in applied:
                continue
            try:
                with raw.transaction():
                    raw.execute(m.sql)
                    if m.version == 1:
                        from toolkit.counties import seed_rows

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
        build_views(con)
    finally:
        with contextlib.suppress(psycopg.Error):
            raw.execute("SELECT pg_advisory_unlock(%s)", [_SCHEMA_LOCK])


def _view_statements() -> tuple[list[str], list[tuple[Any, ...]]]:
    """Every statement of the build (functions, views, summary), and the job_types rows."""
    from toolkit.jobs.registry import job_types
    from toolkit.store.schema import quote_ident

    q = sqlfiles.queries("postgres")
    types = job_types()
    stmts = [_functions_sql()]
    for name in (
        "utc_now_macro",
        "vw_done_items",
        "vw_property_sale_dates",
        "vw_approved_properties",
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

    def waiting(t: Any) -> str:
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


def build_views(con: PGConnection) -> None:
    """(Re)create the rule functions, the registry's views and the summary, when they changed."""
    raw = con.raw
    stmts, rows = _view_statements()
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


def server_reachable(url: str, timeout: float = 2.0) -> str | None:
    """None when a Postgres server answers at ``url``; else why not (for test skips)."""
    conninfo, _, safe = split_url(url)
    try:
        psycopg.connect(conninfo, connect_timeout=max(1, int(timeout))).close()
    except psycopg.Error as exc:
        return f"no Postgres server at {safe}: {_scrub(str(exc).strip(), urlsplit(url).password)}"
    return None


__all__ = ["PostgresStore", "server_reachable", "split_url", "translate"]
