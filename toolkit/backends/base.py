"""The seam between the engine's users and a storage backend: typed protocols.

Every backend package (``toolkit.backends.duckdb``, ``toolkit.backends.postgres``)
implements :class:`Store`, whose connections implement :class:`Connection` and
whose ``engine`` implements :class:`Engine` — the guide's lifecycle rules, with
the same signatures on every backend. Nothing above this module probes a
backend for what it can do; what differs lives behind these methods.

The backends know nothing of the job-type registry or the processors that sit
above them: a store is given a :class:`Catalog` (the registry) to build its
views from, and the engine is given a ``write`` callback to store a batch's
results in its transaction.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol, TypeVar

if TYPE_CHECKING:
    import pandas as pd

    from toolkit.sql import Queries

T = TypeVar("T")


# -- what the registry tells a backend ------------------------------------------------


class JobSpec(Protocol):
    """What a backend needs to know of a job type (``toolkit.jobs.JobType`` is one)."""

    @property
    def name(self) -> str: ...
    @property
    def batch_size(self) -> int: ...
    @property
    def per_session(self) -> int: ...
    @property
    def item_kind(self) -> str: ...
    @property
    def description(self) -> str: ...
    @property
    def eligible_sql(self) -> str | None: ...
    @property
    def context_query(self) -> str: ...
    @property
    def result_table(self) -> str | None: ...
    @property
    def noun(self) -> str: ...
    @property
    def key_column(self) -> str: ...
    @property
    def view(self) -> str: ...


class Catalog(Protocol):
    """The job types a store builds its views from, and a counter bumped when they change."""

    def types(self) -> Mapping[str, JobSpec]: ...
    def generation(self) -> int: ...


# -- values that cross the seam ------------------------------------------------------


@dataclass
class Created:
    """A new job: its id, how many items it snapshotted, and the other active jobs."""

    job_id: str
    total_items: int
    other_active: list[dict[str, Any]]
    held: int = 0  # eligible items left out: other active jobs of the type hold them
    held_by: str | None = None  # those jobs' short ids


@dataclass
class Outcome:
    """One item's outcome, as a session or a person reports it."""

    seq: int
    item_id: str
    status: str  # done | failed | skipped
    error: str | None = None
    result: dict[str, Any] | None = None


@dataclass
class Recorded:
    """What recording a batch's outcomes did to the job."""

    status: str
    processed: int
    failed: int
    skipped: int
    auto_paused: bool
    completed: bool
    pause_reason: str | None


Claims = list[tuple[int, str]]  # (seq, item_id), in seq order
ResultWriter = Callable[["Connection", Sequence[Outcome]], None]


# -- connections -----------------------------------------------------------------------


class Cursor(Protocol):
    """The result of one statement."""

    @property
    def description(self) -> Any: ...
    def fetchall(self) -> list[Any]: ...
    def fetchone(self) -> Any: ...
    def df(self) -> pd.DataFrame: ...


class Connection(Protocol):
    """One open connection; statements use the backend's own placeholders."""

    def execute(self, query: str, params: Sequence[Any] | None = None, /) -> Cursor: ...
    def execute_prepared(self, query: str, params: Sequence[Any], /) -> Cursor:
        """A statement run every batch: the backend may prepare it (DuckDB just runs it)."""
        ...

    def executemany(self, query: str, rows: Sequence[Sequence[Any]], /) -> Any: ...
    def register(self, name: str, frame: pd.DataFrame, /) -> Any:
        """Make a DataFrame queryable as ``name`` for this transaction's statements."""
        ...

    def unregister(self, name: str, /) -> Any: ...


class Holder(Protocol):
    """A session's connection: kept across fast work, let go when the backend needs it."""

    conn: Any
    reopened: bool

    def __enter__(self) -> Holder: ...
    def __exit__(self, *exc: object) -> None: ...
    def acquire(self) -> Connection: ...
    def release(self) -> None: ...
    def checkpoint(self, *, slow: bool = False) -> None: ...
    def working(self) -> AbstractContextManager[None]:
        """Around a processor's work: nothing uses the connection meanwhile."""
        ...


# -- the engine: the guide's rules ---------------------------------------------------------


class Engine(Protocol):
    """The lifecycle rules over one open connection, inside the caller's transaction.

    DuckDB runs them in Python (``toolkit.backends.duckdb.engine``); Postgres in
    PL/pgSQL functions that psql users call too (``toolkit.backends.postgres.engine``).
    """

    def resolve_county(self, con: Connection, county: object) -> int | None: ...
    def resolve_job(self, con: Connection, job_id: object) -> dict[str, Any]: ...
    def status(self, con: Connection, job_id: str) -> dict[str, Any]: ...
    def create_job(
        self,
        con: Connection,
        *,
        job_type: JobSpec,
        county_id: int | None,
        batch_size: int,
        strategy: str,
        force: bool,
        max_consecutive_failures: int,
        worker: str,
        now: dt.datetime,
        take_held: bool = False,
    ) -> Created:
        """Snapshot the type's eligible items into a new job. Items that other active jobs
        of the type still hold (pending or claimed there) are left to them unless
        ``take_held``."""
        ...

    def claim_batch(
        self,
        con: Connection,
        job: dict[str, Any],
        *,
        worker: str,
        lease_seconds: float,
        now: dt.datetime,
        limit: int | None = None,
        release: bool = True,
        own_first: bool = True,
    ) -> Claims: ...
    def record_outcomes(
        self,
        con: Connection,
        job: dict[str, Any],
        outcomes: Sequence[Outcome],
        *,
        worker: str | None,
        now: dt.datetime,
        write: ResultWriter | None = None,
        renew_lease_seconds: float | None = None,
        fatal: str | None = None,
    ) -> Recorded: ...
    def cycle(
        self,
        con: Connection,
        job: dict[str, Any],
        outcomes: Sequence[Outcome],
        *,
        worker: str,
        now: dt.datetime,
        write: ResultWriter | None,
        renew_lease_seconds: float | None,
        fatal: str | None,
        claim: bool,
        lease_seconds: float,
        limit: int | None = None,
        release: bool = True,
        own_first: bool = True,
    ) -> tuple[Recorded | None, str, Claims]:
        """A session's batch end in one transaction: record the outcomes (writing their
        results through ``write``), then claim the next batch when ``claim``.
        Returns (what was recorded, or None with no outcomes; the job's status; claims)."""
        ...

    def context(
        self, con: Connection, job_type: JobSpec, job_id: str, seqs: Sequence[int]
    ) -> pd.DataFrame: ...
    def release_own(self, con: Connection, job_id: str, worker: str) -> None: ...
    def release_stale(self, con: Connection, job_id: str, now: dt.datetime) -> int: ...
    def pause(
        self,
        con: Connection,
        job: dict[str, Any],
        reason: str | None,
        worker: str | None,
        now: dt.datetime,
    ) -> None: ...
    def resume(
        self, con: Connection, job: dict[str, Any], worker: str | None, now: dt.datetime
    ) -> None: ...
    def complete(
        self, con: Connection, job: dict[str, Any], worker: str | None, now: dt.datetime
    ) -> None: ...
    def cancel(
        self, con: Connection, job: dict[str, Any], worker: str | None, now: dt.datetime
    ) -> None: ...
    def retry_failed(
        self, con: Connection, job: dict[str, Any], worker: str | None, now: dt.datetime
    ) -> int: ...
    def table_columns(self, con: Connection, table: str) -> dict[str, tuple[str, bool]]: ...
    def upsert_results(
        self,
        con: Connection,
        job_type: JobSpec,
        cols: Mapping[str, tuple[str, bool]],
        data: Mapping[str, list[Any]],
    ) -> None:
        """Insert (or replace, by the key column) a batch's result rows, one list per column."""
        ...


# -- the store ---------------------------------------------------------------------------------


class Store(Protocol):
    """A workspace's database: connections, transactions, and the backend's engine and SQL."""

    lock_timeout: float

    @property
    def dialect(self) -> str: ...
    @property
    def memory(self) -> bool: ...
    @property
    def path(self) -> str: ...
    @property
    def q(self) -> Queries: ...
    @property
    def engine(self) -> Engine: ...

    @property
    def url(self) -> str: ...
    def connect(self) -> AbstractContextManager[Connection]: ...
    def run(self, fn: Callable[[Connection], T], *, tx: bool = True) -> T: ...
    def fetch_df(self, query: str, params: Sequence[Any] | None = None) -> pd.DataFrame: ...
    def sql(self, query: str, params: Sequence[Any] | None = None) -> pd.DataFrame:
        """Ad-hoc SQL (a person's): values bound as ``$1, $2`` on every backend."""
        ...

    def query(
        self, name: str, params: Sequence[Any] | None = None, *, view: str | None = None
    ) -> pd.DataFrame:
        """Run the backend's named query ``name`` and return its rows; ``{view}`` in its
        text names the view ``view`` (quoted)."""
        ...

    def hold(self) -> Holder: ...
    def waiters(self) -> list[int]: ...
    def request_stop(self, job_id: str, stop: bool = True) -> None:
        """Tell sessions of ``job_id`` in other processes to stop at their next item (a
        pause or cancel), or that they may run again (a resume)."""
        ...

    def stop_check(self, job_id: str) -> Callable[[], bool]:
        """A cheap check, called between items, of a stop asked for by another process."""
        ...

    def forget_schema_check(self) -> None: ...
    def close(self) -> None: ...


__all__ = [
    "Catalog",
    "Claims",
    "Connection",
    "Created",
    "Cursor",
    "Engine",
    "Holder",
    "JobSpec",
    "Outcome",
    "Recorded",
    "ResultWriter",
    "Store",
]
