"""The Postgres backend: many workers, on many machines, over one server.

The store implements :class:`~toolkit.backends.base.Store` over psycopg 3: its
connections implement :class:`~toolkit.backends.base.Connection` (``execute``,
``.fetchall()``, ``.df()``, ``register(name, frame)`` as a TEMP table), and its
statements are written in psycopg's own placeholder style (``%s``; ``%b`` for the
prepared, binary ones). The lifecycle rules are PL/pgSQL functions
(``sql/functions.sql``) that :mod:`toolkit.backends.postgres.engine` calls: psql
users and the Python API share one implementation.

URL: ``postgresql://user:password@host:port/dbname``, plus the toolkit's own
optional query parameter ``lease_seconds`` (default ``$TOOLKIT_LEASE_SECONDS``,
else 30): how long a session's claims outlive its last heartbeat.
"""

from __future__ import annotations

import contextlib
import os
import threading
import time
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any, TypeVar
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
from toolkit.backends.base import Catalog
from toolkit.backends.common import pause_event
from toolkit.backends.postgres.connection import PGConnection
from toolkit.backends.postgres.engine import PostgresEngine
from toolkit.backends.workers import current_worker
from toolkit.exceptions import (
    ActiveJobExistsError,
    InvalidBatchSizeError,
    InvalidTransitionError,
    JobNotFoundError,
    JobPausedError,
    StoreError,
    ToolkitError,
    ValidationError,
)
from toolkit.sql import load_queries, quote_ident

if TYPE_CHECKING:
    import pandas as pd

PACKAGE = "toolkit.backends.postgres"
T = TypeVar("T")
DEFAULT_LEASE_SECONDS = 30.0
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
# databases whose schema this process has checked, and the registry generation their
# views were built for (a job type registered later gets its view on the next checkout)
_ready: dict[str, int] = {}
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


# -- the store -----------------------------------------------------------------------------


class PostgresStore:
    """A Postgres database as a workspace (``postgresql://…``)."""

    dialect = "postgres"
    memory = False

    def __init__(self, url: str, catalog: Catalog, *, lock_timeout: float | None = None) -> None:
        self.catalog = catalog
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
        self.q = load_queries(PACKAGE, "postgres", "queries.sql", "engine.sql")
        self.engine = PostgresEngine(self.q)
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
                self._conninfo,
                autocommit=True,
                cursor_factory=psycopg.ClientCursor,
                connect_timeout=max(1, int(min(self.lock_timeout, 10))),
                application_name=f"toolkit {role}",
                options="-c TimeZone=UTC",
            )
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

    def fetch_df(self, query: str, params: Any = None) -> pd.DataFrame:
        return self.run(lambda con: con.execute(query, params).df(), tx=False)

    def query(self, name: str, params: Any = None, *, view: str | None = None) -> pd.DataFrame:
        """Run Postgres's named query ``name`` and return its rows (``{view}`` names ``view``)."""
        text = self.q[name]
        if view is not None:
            text = text.replace("{view}", quote_ident(view))
        return self.fetch_df(text, params)

    def sql(self, query: str, params: Any = None) -> pd.DataFrame:
        """Ad-hoc SQL: values bound as ``$1, $2`` (the style DuckDB accepts too)."""
        if params and "?" in query and "$1" not in query:
            raise ValidationError(
                "On a Postgres workspace bind values as $1, $2, … (they work on DuckDB too); "
                f"this query uses ?: {query[:80]!r}."
            )
        return self.run(lambda con: con.execute_native(query, params).df(), tx=False)

    def waiters(self) -> list[int]:
        """Nobody waits for a Postgres workspace the way DuckDB file users do."""
        return []

    def request_stop(self, job_id: str, stop: bool = True) -> None:
        """Nothing to do: a trigger NOTIFYs status changes, and sessions LISTEN."""

    def stop_check(self, job_id: str) -> Callable[[], bool]:
        return lambda: False  # the listener sets the job's pause event instead

    # -- schema --------------------------------------------------------------

    def _ensure_schema(self, con: PGConnection) -> None:
        key = self._conninfo
        generation = self.catalog.generation()
        if _ready.get(key) == generation:
            return
        with _ready_lock:
            if _ready.get(key) == generation:
                return
            from toolkit.backends.postgres.schema import ensure_schema

            ensure_schema(con, self.catalog, migrate=key not in _ready)
            _ready[key] = generation

    def forget_schema_check(self) -> None:
        """Make the next connection re-check migrations and views (tests)."""
        _ready.pop(self._conninfo, None)

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
        self._thread = threading.Thread(
            target=_listen_and_heartbeat,
            args=(self.store, current_worker(), self._stop),
            name="toolkit-heartbeat",
            daemon=True,
        )
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

    @contextlib.contextmanager
    def working(self) -> Iterator[None]:
        """The processor runs; nothing to let go of (no file lock), the heartbeat goes on."""
        yield


def _listen_and_heartbeat(store: PostgresStore, worker: str, stop: threading.Event) -> None:
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


def server_reachable(url: str, timeout: float = 2.0) -> str | None:
    """None when a Postgres server answers at ``url``; else why not (for test skips)."""
    conninfo, _, safe = split_url(url)
    try:
        psycopg.connect(conninfo, connect_timeout=max(1, int(timeout))).close()
    except psycopg.Error as exc:
        return f"no Postgres server at {safe}: {_scrub(str(exc).strip(), urlsplit(url).password)}"
    return None


__all__ = ["PGConnection", "PostgresStore", "server_reachable", "split_url"]
