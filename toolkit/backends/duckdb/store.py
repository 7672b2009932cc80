"""The embedded default: one DuckDB file, opened briefly and often.

DuckDB lets one process open a file at a time (read-only opens too), so nothing
here keeps a connection while it waits. ``connect()`` opens, yields and closes;
on a lock conflict it retries with backoff and, while it waits, leaves a
*waiter* file beside the database so that a running session (which may keep
its connection across fast batches) lets go and steps aside for it.
"""

from __future__ import annotations

import contextlib
import os
import re
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import duckdb

from toolkit.backends.base import Catalog
from toolkit.backends.duckdb.engine import DuckDBEngine
from toolkit.backends.workers import pid_alive
from toolkit.exceptions import LockTimeoutError, StoreError, ToolkitError, ValidationError
from toolkit.sql import load_queries, quote_ident

PACKAGE = "toolkit.backends.duckdb"

if TYPE_CHECKING:
    import pandas as pd

T = TypeVar("T")
_LOCK_MSG = re.compile(r"Conflicting lock is held in (?P<exe>.*?) \(PID (?P<pid>\d+)\)")
# databases whose schema this process has checked, and the registry generation
# their views were built for (a type registered later gets its view on next use)
_ready: dict[str, int] = {}
_ready_lock = threading.Lock()
# One writer at a time per database within this process. DuckDB's optimistic
# concurrency between connections of one process let a concurrent update of
# the same row be lost (a pause from the notebook's thread while the session
# thread checkpoints); serialising write transactions makes that impossible,
# and they are short (milliseconds).
_write_locks: dict[str, threading.RLock] = {}
_write_locks_guard = threading.Lock()


def _write_lock(key: str) -> threading.RLock:
    with _write_locks_guard:
        return _write_locks.setdefault(key, threading.RLock())


def _is_lock_error(exc: BaseException) -> bool:
    return isinstance(exc, duckdb.IOException) and "lock" in str(exc).lower()


def _is_conflict(exc: BaseException) -> bool:
    return isinstance(exc, duckdb.TransactionException) or "conflict" in str(exc).lower()


class DuckConnection:
    """A DuckDB connection as the seam's :class:`~toolkit.backends.base.Connection`.

    The methods are the connection's own, bound once: no call pays for the wrapper.
    """

    def __init__(self, raw: duckdb.DuckDBPyConnection) -> None:
        self.raw = raw
        self.execute = raw.execute
        self.execute_prepared = raw.execute  # DuckDB caches plans itself
        self.executemany = raw.executemany
        self.register = raw.register
        self.unregister = raw.unregister

    def close(self) -> None:
        self.raw.close()


class DuckDBStore:
    """A DuckDB workspace file (or ``:memory:``)."""

    dialect = "duckdb"

    def __init__(self, path: str, catalog: Catalog, *, lock_timeout: float | None = None
                 ) -> None:  # fmt: skip
        self.catalog = catalog
        self.memory = path in (":memory:", "")
        self.path = ":memory:" if self.memory else str(Path(path).expanduser().resolve())
        self.lock_timeout = (
            lock_timeout
            if lock_timeout is not None
            else float(os.environ.get("TOOLKIT_LOCK_TIMEOUT", "30"))
        )
        self.q = load_queries(PACKAGE, "duckdb", "queries.sql", "engine.sql")
        self.engine = DuckDBEngine(self.q)
        self._local = threading.local()
        self._mem: duckdb.DuckDBPyConnection | None = None
        # schema-check key: the file, or a fresh name per in-memory database
        self._key = f"mem:{uuid.uuid4()}" if self.memory else self.path
        if self.memory:
            self._mem = duckdb.connect(":memory:")
        elif not Path(self.path).parent.is_dir():
            raise ValidationError(
                f"Workspace folder {str(Path(self.path).parent)!r} does not exist; "
                "create it or give another path."
            )
        self.waiters_dir = None if self.memory else Path(self.path + ".waiters")

    @property
    def url(self) -> str:
        return self.path

    # -- connections ---------------------------------------------------------

    def _open(self) -> DuckConnection:
        if self._mem is not None:
            return DuckConnection(self._mem.cursor())
        deadline = time.monotonic() + self.lock_timeout
        delay = 0.005
        waiter: Path | None = None
        try:
            while True:
                try:
                    return DuckConnection(duckdb.connect(self.path))
                except duckdb.IOException as exc:
                    if not _is_lock_error(exc):
                        raise StoreError(f"Cannot open workspace {self.path!r}: {exc}") from exc
                    if waiter is None:
                        waiter = self._register_waiter()
                    if time.monotonic() >= deadline:
                        m = _LOCK_MSG.search(str(exc))
                        who = f"{m['exe']} (PID {m['pid']})" if m else "another process"
                        raise LockTimeoutError(
                            f"Workspace {self.path!r} stayed locked by {who} for "
                            f"{self.lock_timeout:g} s. A session there holds it; pause it "
                            "('toolkit pause') or wait, then try again."
                        ) from exc
                    time.sleep(delay)
                    delay = min(delay * 1.5, 0.05)
        finally:
            if waiter is not None:
                waiter.unlink(missing_ok=True)

    def _register_waiter(self) -> Path | None:
        assert self.waiters_dir is not None
        try:
            self.waiters_dir.mkdir(exist_ok=True)
            path = self.waiters_dir / str(os.getpid())
            path.touch()
            return path
        except OSError:
            return None

    def waiters(self) -> list[int]:
        """Pids of live processes waiting for this file (stale files are removed)."""
        if self.waiters_dir is None or not self.waiters_dir.is_dir():
            return []
        out = []
        for f in self.waiters_dir.iterdir():
            try:
                pid = int(f.name)
            except ValueError:
                continue
            if pid == os.getpid():
                continue
            if pid_alive(pid):
                out.append(pid)
            else:
                f.unlink(missing_ok=True)
        return out

    @contextlib.contextmanager
    def connect(self) -> Iterator[DuckConnection]:
        """A connection for one short piece of work (reuses a held one in this thread)."""
        held = getattr(self._local, "held", None)
        if held is not None and held.conn is not None:
            yield held.conn
            return
        con = self._open()
        try:
            self._ensure_schema(con)
            yield con
        finally:
            con.close()

    def hold(self) -> Holder:
        """A connection a session may keep across fast batches (see :class:`Holder`)."""
        return Holder(self)

    def run(self, fn: Callable[[DuckConnection], T], *, tx: bool = True) -> T:
        """Run ``fn(con)`` in one transaction; retry in-process write conflicts briefly."""
        if tx:
            with _write_lock(self._key):
                return self._run(fn, tx)
        return self._run(fn, tx)

    def _run(self, fn: Callable[[DuckConnection], T], tx: bool) -> T:
        for attempt in range(50):
            with self.connect() as con:
                try:
                    if tx:
                        con.execute("BEGIN TRANSACTION")
                    result = fn(con)
                    if tx:
                        con.execute("COMMIT")
                    return result
                except BaseException as exc:
                    if tx:
                        with contextlib.suppress(duckdb.Error):
                            con.execute("ROLLBACK")
                    if isinstance(exc, ToolkitError):
                        raise
                    if isinstance(exc, duckdb.Error) and _is_conflict(exc) and attempt < 49:
                        time.sleep(0.002 * (attempt + 1))
                        continue
                    if isinstance(exc, duckdb.Error):
                        raise StoreError(f"DuckDB error in {self.path!r}: {exc}") from exc
                    raise
        raise AssertionError("unreachable")

    def fetch_df(self, query: str, params: Any = None) -> pd.DataFrame:
        def go(con: DuckConnection) -> pd.DataFrame:
            return con.execute(query, params).df() if params else con.execute(query).df()

        return self.run(go, tx=False)

    def sql(self, query: str, params: Any = None) -> pd.DataFrame:
        """Ad-hoc SQL: values bound as ``$1, $2`` (portable) or ``?``."""
        return self.fetch_df(query, params)

    def query(self, name: str, params: Any = None, *, view: str | None = None) -> pd.DataFrame:
        """Run DuckDB's named query ``name`` and return its rows (``{view}`` names ``view``)."""
        text = self.q[name]
        if view is not None:
            text = text.replace("{view}", quote_ident(view))
        return self.fetch_df(text, params)

    # -- schema --------------------------------------------------------------

    def _ensure_schema(self, con: DuckConnection) -> None:
        key = self._key
        generation = self.catalog.generation()
        if _ready.get(key) == generation:
            return
        with _ready_lock:
            if _ready.get(key) == generation:
                return
            from toolkit.backends.duckdb.schema import ensure_schema

            ensure_schema(con, self.catalog, migrate=key not in _ready)
            _ready[key] = generation

    def forget_schema_check(self) -> None:
        """Make the next connection re-check migrations and views (tests)."""
        _ready.pop(self._key, None)

    def close(self) -> None:
        if self._mem is not None:
            self._mem.close()
            self._mem = None


class Holder:
    """A session's connection: kept across fast work, let go at least every second.

    ``conn`` opens on first use. ``checkpoint()`` is called after each write: it
    closes the connection when it has been open for ``max_hold`` seconds or when
    another process is waiting, and then waits (briefly) until the waiters are in.
    While a Holder is active, ``store.connect()`` in the same thread reuses it.
    """

    def __init__(self, store: DuckDBStore, max_hold: float = 1.0) -> None:
        self.store = store
        self.max_hold = max_hold
        self.conn: DuckConnection | None = None
        self.opened_at = 0.0
        self.reopened = False

    def __enter__(self) -> Holder:
        self.store._local.held = self
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()
        self.store._local.held = None

    def acquire(self) -> DuckConnection:
        if self.conn is None:
            self.store._local.held = None
            con = self.store._open()
            try:
                self.store._ensure_schema(con)
            except BaseException:
                con.close()
                raise
            self.conn = con
            self.opened_at = time.monotonic()
            self.reopened = True
            self.store._local.held = self
        return self.conn

    def release(self) -> None:
        if self.conn is not None:
            self.conn.close()
            self.conn = None

    def checkpoint(self, *, slow: bool = False) -> None:
        """Let go if held too long, if the caller is about to be slow, or if others wait."""
        if self.conn is None or self.store.memory:
            return
        waiting = self.store.waiters()
        if slow or waiting or time.monotonic() - self.opened_at >= self.max_hold:
            self.release()
            deadline = time.monotonic() + 2.0
            while waiting and time.monotonic() < deadline:
                time.sleep(0.005)
                waiting = self.store.waiters()
