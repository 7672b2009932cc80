"""The embedded default: one DuckDB file, opened briefly and often.

DuckDB lets one process open a file at a time (read-only opens too), so nothing
here keeps a connection while it waits. ``connect()`` opens, yields and closes;
on a lock conflict it retries with backoff and, while it waits, leaves a
*waiter* file beside the database so that a running session (which may keep
its connection across fast batches) lets go and steps aside for it.
"""

from __future__ import annotations

import contextlib
import errno
import os
import re
import shutil
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
from toolkit.exceptions import (
    DiskFullError,
    LockTimeoutError,
    StoreError,
    ToolkitError,
    ValidationError,
    WorkspaceDamagedError,
)
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
    if _DISK_FULL.search(str(exc)):
        return False
    return isinstance(exc, duckdb.TransactionException) or "conflict" in str(exc).lower()


_DAMAGED = re.compile(
    r"Corrupt database|checksum|Could not read enough bytes"
    r"|INTERNAL Error|Serialization Error|database file.*(truncated|damaged)",
    re.IGNORECASE,
)
_DISK_FULL = re.compile(r"No space left on device|disk is full|ENOSPC", re.IGNORECASE)


def store_error(exc: BaseException, path: str, doing: str = "work on") -> StoreError:
    """A DuckDB or OS error as the toolkit's own, in words a person can act on."""
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    if _DISK_FULL.search(str(exc)) or (isinstance(exc, OSError) and exc.errno == errno.ENOSPC):
        folder = Path(path).parent
        try:
            free = shutil.disk_usage(folder).free
        except OSError:
            free = 0
        try:
            size = Path(path).stat().st_size
        except OSError:
            size = 0
        return DiskFullError(
            f"The disk holding the workspace {path!r} is full ({_mb(free)} free): DuckDB "
            f"could not write. Free at least {_mb(max(size, 64 << 20))} on it (the size of the "
            "workspace, room to write it back), then try again. Nothing committed was lost: "
            "the last unfinished change was rolled back."
        )
    if _DAMAGED.search(str(exc)):
        return WorkspaceDamagedError(
            f"The workspace {path!r} is damaged ({text}); restore it from a copy "
            "(a backup, or the file before the last crash). Nothing was changed."
        )
    if "not a valid DuckDB database" in str(exc):
        return StoreError(
            f"Cannot {doing} workspace {path!r}: it is not a DuckDB database file; nothing was "
            "changed. Give the path of a workspace (a .duckdb file), or a new path for a new one."
        )
    return StoreError(f"Cannot {doing} workspace {path!r}: {text}")


def _mb(n: int) -> str:
    return f"{n / (1 << 20):.0f} MB" if n >= 1 << 20 else f"{n / 1024:.0f} KB"


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

    def __init__(
        self, path: str, catalog: Catalog, *, lock_timeout: float | None = None, init: bool = False
    ) -> None:
        self.catalog = catalog
        self.init = init  # add the toolkit's tables to a database that holds others
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
        self.signals_dir = None if self.memory else Path(self.path + ".signals")

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
                except (duckdb.Error, OSError) as exc:
                    if not _is_lock_error(exc):
                        raise store_error(exc, self.path, "open") from exc
                    if waiter is None:
                        waiter = self._register_waiter()
                    if time.monotonic() >= deadline:
                        m = _LOCK_MSG.search(str(exc))
                        who = f"{m['exe']} (PID {m['pid']})" if m else "another process"
                        raise LockTimeoutError(
                            f"Workspace {self.path!r} stayed locked by {who} for "
                            f"{self.lock_timeout:g} s. A toolkit session lets go of the file "
                            "within a second, so another program has it open (a DuckDB shell, "
                            "a notebook holding a connection): close it there, then try again"
                            " (wait longer with TOOLKIT_LOCK_TIMEOUT=seconds)."
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

    def request_stop(self, job_id: str, stop: bool = True) -> None:
        """A marker file beside the database: sessions in other processes check it per item
        (a stat), so a pause lands within one item, not at the next checkpoint."""
        if self.signals_dir is None:
            return
        marker = self.signals_dir / job_id
        try:
            if stop:
                self.signals_dir.mkdir(exist_ok=True)
                marker.touch()
            else:
                marker.unlink(missing_ok=True)
        except OSError:
            pass  # the database row is the truth; the marker only makes it quicker

    def stop_check(self, job_id: str) -> Callable[[], bool]:
        if self.signals_dir is None:
            return lambda: False
        marker = str(self.signals_dir / job_id)
        return lambda: os.path.exists(marker)

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
                    if isinstance(exc, duckdb.Error | OSError):
                        raise store_error(exc, self.path) from exc
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

    def _schema_key(self) -> str:
        """The file as it is now: a file deleted and made again is a new database."""
        if self.memory:
            return self._key
        try:
            st = os.stat(self.path)
        except OSError:
            return self._key
        return f"{self._key}#{st.st_dev}:{st.st_ino}"

    def _ensure_schema(self, con: DuckConnection) -> None:
        key = self._schema_key()
        generation = self.catalog.generation()
        if _ready.get(key) == generation:
            if self.memory or _has_schema(con):
                return
            _ready.pop(key, None)  # a file deleted and made again under the same inode
        with _ready_lock:
            if _ready.get(key) == generation:
                return
            from toolkit.backends.duckdb.schema import ensure_schema

            try:
                ensure_schema(
                    con, self.catalog, migrate=key not in _ready, init=self.init, path=self.path
                )
            except (duckdb.Error, OSError) as exc:
                raise store_error(exc, self.path) from exc
            _ready[key] = generation

    def forget_schema_check(self) -> None:
        """Make the next connection re-check migrations and views (tests)."""
        _ready.pop(self._schema_key(), None)

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

    While the session's processor works (``with holder.working():``) nothing uses the
    connection, and a watchdog thread lets go of it when the work takes longer than
    ``max_busy`` seconds or another process is waiting: a processor that blocks on the
    network or a person never keeps the file from a status read or a pause.
    """

    def __init__(self, store: DuckDBStore, max_hold: float = 1.0, max_busy: float = 0.25) -> None:
        self.store = store
        self.max_hold = max_hold
        self.max_busy = max_busy
        self.conn: DuckConnection | None = None
        self.opened_at = 0.0
        self.reopened = False
        self._lock = threading.Lock()
        self._busy_since: float | None = None
        self._stop = threading.Event()
        self._watchdog: threading.Thread | None = None

    def __enter__(self) -> Holder:
        self.store._local.held = self
        if not self.store.memory:
            self._watchdog = threading.Thread(
                target=self._watch, name="toolkit-holder", daemon=True
            )
            self._watchdog.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        if self._watchdog is not None:
            self._watchdog.join(timeout=1.0)
        self.release()
        self.store._local.held = None

    @contextlib.contextmanager
    def working(self) -> Iterator[None]:
        """The processor runs: the connection is idle, and let go if the work is slow."""
        with self._lock:
            self._busy_since = time.monotonic()
        try:
            yield
        finally:
            with self._lock:
                self._busy_since = None

    def _watch(self) -> None:
        while not self._stop.wait(0.05):
            with self._lock:
                busy = self._busy_since
                if busy is None or self.conn is None:
                    continue
                if time.monotonic() - busy >= self.max_busy or self.store.waiters():
                    self.conn.close()
                    self.conn = None

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
        with self._lock:
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


def _has_schema(con: DuckConnection) -> bool:
    """Whether the open file holds the toolkit's tables (one catalog look-up, no write)."""
    rows = con.execute(
        "SELECT count(*) FROM duckdb_tables() WHERE table_name = 'schema_migrations'"
    ).fetchall()  # fetched to the end: DuckDB refuses new work over an unfinished result
    return bool(rows and rows[0][0])
