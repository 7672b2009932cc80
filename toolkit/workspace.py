"""The workspace: the guide's API over one database.

Every method opens a connection for its own short transaction and lets it go
before returning, so nothing holds the DuckDB file while a person, a network
call or a notebook cell is waiting.
"""

from __future__ import annotations

import datetime as dt
import threading
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from toolkit import config
from toolkit.backends import open_store
from toolkit.backends.base import Connection, Outcome
from toolkit.backends.common import close_dead_sessions, first_row, pause_event, utcnow
from toolkit.backends.workers import current_worker
from toolkit.exceptions import (
    ActiveJobExistsError,
    InvalidTransitionError,
    JobNotFoundError,
    ValidationError,
)
from toolkit.jobs.registry import REGISTRY, get_job_type, job_types
from toolkit.jobs.results import results_writer
from toolkit.jobs.rules import (
    normalise_strategy,
    single_outcome,
    validate_batch_size,
    validate_result,
)
from toolkit.processors.context import ProcessorContext

if TYPE_CHECKING:
    import pandas as pd

    from toolkit.jobs.session import SessionSummary

__all__ = ["ActiveJobsWarning", "BatchSizeWarning", "Workspace", "pause_event"]


class BatchSizeWarning(UserWarning):
    """A batch size over the guide's limit of 100."""


class ActiveJobsWarning(UserWarning):
    """Other jobs are active while a new one starts."""


class Workspace:
    """A research workspace (DuckDB file, ``:memory:``, or Postgres).

    Examples
    --------
    >>> import toolkit
    >>> ws = toolkit.connect(":memory:")
    >>> ws.sql("SELECT county_name FROM counties WHERE id = 13").iloc[0, 0]
    'Blair'
    """

    def __init__(
        self,
        url: str | None = None,
        *,
        lease_seconds: float = 300.0,
        manual_lease_seconds: float = 3600.0,
        lock_timeout: float | None = None,
        init: bool = False,
    ) -> None:
        self.url = str(url) if url is not None else config.default_db_url()
        self.store = open_store(self.url, REGISTRY, init=init)
        if lock_timeout is not None:
            self.store.lock_timeout = lock_timeout
        self.q = self.store.q
        # the backend's lifecycle rules (toolkit.backends.base.Engine)
        self.engine = self.store.engine
        self.lease_seconds = lease_seconds
        self.manual_lease_seconds = manual_lease_seconds
        self.store.run(lambda con: None, tx=False)  # create or migrate now, fail early

    def __repr__(self) -> str:
        return f"Workspace({self.url!r})"

    def close(self) -> None:
        self.store.close()

    def __enter__(self) -> Workspace:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- helpers -------------------------------------------------------------

    def _job(self, con: Connection, job_id: object) -> dict[str, Any]:
        return self.engine.resolve_job(con, job_id)

    def sql(self, query: str, params: list[Any] | tuple[Any, ...] | None = None) -> pd.DataFrame:
        """Run any SQL and return a DataFrame; bind values as ``$1, $2`` (on DuckDB ``?`` too).

        >>> import toolkit
        >>> int(toolkit.connect(":memory:").sql("SELECT $1 + 1 AS n", [1]).n[0])
        2
        """
        return self.store.sql(query, list(params) if params is not None else None)

    def query(self, name: str, params: list[Any] | None = None) -> pd.DataFrame:
        """Rows of the backend's named query ``name`` (the toolkit's own SQL)."""
        return self.store.query(name, params)

    def processor_context(self) -> ProcessorContext:
        """What a processor of this workspace may see (read-only queries, its folder)."""
        return ProcessorContext(self.store, self.data_dir)

    def county_id(self, county: object) -> int | None:
        """Resolve a county name / id / FIPS (None = all counties)."""
        return self.store.run(lambda con: self.engine.resolve_county(con, county), tx=False)

    def county_name(self, county_id: int) -> str:
        """A county's name from its id."""
        return str(self.store.query("county_name", [county_id]).iloc[0, 0])

    # -- the guide's API -----------------------------------------------------

    def create_batch_job(
        self,
        job_type: str,
        county: object = None,
        batch_size: int | None = None,
        *,
        strategy: str = "county",
        force: bool = False,
        max_consecutive_failures: int = 10,
        take_held: bool = False,
    ) -> str:
        """Create a job over the items pending for ``job_type`` and return its id.

        The work list is snapshotted now, in a fixed order (``strategy``:
        ``county`` one county at a time, ``round_robin`` batch-size chunks per
        county, ``auction_date`` nearest sale first). Items another active job of the
        type still holds (an all-counties job over a paused county job) are left to
        that job, with a warning, unless ``take_held=True``.

        >>> import toolkit
        >>> ws = toolkit.connect(":memory:")
        >>> job = ws.create_batch_job("regrid_scraping", "Blair", 50)
        >>> ws.get_batch_status(job)["status"]
        'completed'
        """
        jt = get_job_type(job_type)
        size, warns = validate_batch_size(batch_size, jt)
        strat = normalise_strategy(strategy)
        if (
            isinstance(max_consecutive_failures, bool)
            or not isinstance(max_consecutive_failures, int)
            or max_consecutive_failures < 1
        ):
            raise ValidationError(
                f"max_consecutive_failures {max_consecutive_failures!r} must be an integer ≥ 1."
            )
        worker = current_worker()

        def go(con: Connection) -> Any:
            county_id = self.engine.resolve_county(con, county)
            made = self.engine.create_job(
                con,
                job_type=jt,
                county_id=county_id,
                batch_size=size,
                strategy=strat,
                force=force,
                max_consecutive_failures=max_consecutive_failures,
                worker=worker,
                now=utcnow(),
                take_held=bool(take_held),
            )
            if made.held and not made.total_items and not force:  # empty: roll back, say whose
                raise ActiveJobExistsError(
                    f"All {made.held} pending {jt.noun} of {jt.name} are held by active "
                    f"job(s) {made.held_by}: work that job (toolkit run {jt.name} --job "
                    f"{str(made.held_by).split(',')[0].strip()}), or add --take-held to "
                    "take them into a new job (they may then be done twice)."
                )
            return made

        created = self.store.run(go)
        for w in warns:
            warnings.warn(w, BatchSizeWarning, stacklevel=2)
        if created.held:
            warnings.warn(
                f"{created.held} {jt.noun} are held by active {jt.name} job(s) "
                f"{created.held_by}: left to them, not taken into this job "
                "(toolkit start … --take-held takes them too; they may then be done twice).",
                ActiveJobsWarning,
                stacklevel=2,
            )
        others = [o for o in created.other_active if o["job_id"] != created.job_id]
        if others:
            listing = "; ".join(
                f"{o['job_type']} {o['job_id'][:8]} ({o['status']})" for o in others
            )
            warnings.warn(f"Other active jobs: {listing}", ActiveJobsWarning, stacklevel=2)
        return created.job_id

    def get_next_batch(self, job_id: str) -> pd.DataFrame:
        """Claim the next batch: this worker's unfinished claims first, then new items.

        Returns a DataFrame with ``item_id`` first and the context a person or
        processor needs. Raises :class:`~toolkit.exceptions.JobPausedError` on a
        paused job. An empty frame means nothing is left to hand out.
        """
        worker = current_worker()

        def go(con: Connection) -> pd.DataFrame:
            job = self._job(con, job_id)
            jt = get_job_type(job["job_type"])
            claims = self.engine.claim_batch(
                con,
                job,
                worker=worker,
                lease_seconds=self.manual_lease_seconds,
                now=utcnow(),
            )
            return self.engine.context(con, jt, job["id"], [s for s, _ in claims])

        return self.store.run(go)

    def update_batch_progress(
        self,
        job_id: str,
        last_item_id: str,
        items_processed: int,
        items_failed: int,
        error_message: str | None = None,
    ) -> dict[str, Any]:
        """Record one item's outcome, as in the guide, and commit at once.

        ``(1, 0)`` marks ``last_item_id`` done, ``(0, 1)`` failed with
        ``error_message``. Ten consecutive failures pause the job. Returns the
        job's status afterwards.
        """
        status, error = single_outcome(items_processed, items_failed, error_message)
        return self._record_one(job_id, last_item_id, status, error, None)

    def record_result(self, job_id: str, item_id: str, result: dict[str, Any]) -> dict[str, Any]:
        """Save a person's result for one item (a form) and mark it done, in one transaction.

        ``result`` is what the type's processor would return (e.g. a
        title_research row); it is checked the same way. Returns the job's status.
        """
        return self._record_one(job_id, item_id, "done", None, result)

    def _record_one(
        self,
        job_id: str,
        item_id: str,
        status: str,
        error: str | None,
        result: dict[str, Any] | None,
        *,
        label: str | None = None,
    ) -> dict[str, Any]:
        worker = current_worker()

        def go(con: Connection) -> dict[str, Any]:
            job = self._job(con, job_id)
            row = first_row(con.execute(self.q.items_get_one, [job["id"], str(item_id)]).fetchall())
            if row is None:
                raise ValidationError(
                    f"{label} is not an item of job {job['id']}."
                    if label
                    else f"Item {item_id!r} is not part of job {job['id']}; "
                    "use the item_id values get_next_batch returned."
                )
            if row[1] in ("done", "failed", "skipped"):
                raise InvalidTransitionError(
                    f"{label} is {row[1]} already in job {job['id']}."
                    if label
                    else f"Item {item_id!r} of job {job['id']} is {row[1]} already; "
                    "to redo failed items use retry_failed_items()."
                )
            jt = get_job_type(job["job_type"])
            checked = None
            if result is not None:
                cols = self.engine.table_columns(con, jt.result_table) if jt.result_table else {}
                checked = validate_result(jt, result, cols)
            now = utcnow()
            rec = self.engine.record_outcomes(
                con,
                job,
                [Outcome(row[0], str(item_id), status, error, checked)],
                worker=worker,
                now=now,
                write=results_writer(self.engine, self.q, jt, job["id"], now),
            )
            return self._status(con, job) | {"auto_paused": rec.auto_paused}

        return self.store.run(go)

    def pause_batch_job(self, job_id: str | None = None, reason: str | None = None) -> str:
        """Pause a job (default: the most recently active running one); returns its id.

        A session running anywhere stops at its next item.
        """
        worker = current_worker()

        def go(con: Connection) -> str:
            if job_id is None:
                row = first_row(con.execute(self.q.job_pausable, [None, None]).fetchall())
                if row is None:
                    raise JobNotFoundError("No running or pending batch job to pause.")
                job = self._job(con, row[0])
            else:
                job = self._job(con, job_id)
            self.engine.pause(con, job, reason, worker, utcnow())
            return job["id"]

        jid = self.store.run(go)
        pause_event(jid).set()
        self.store.request_stop(jid)
        return jid

    def resume_batch_job(self, job_id: str | None = None, *, job_type: str | None = None) -> str:
        """Resume a paused or interrupted job (default: the most recent one); returns its id."""
        jt = get_job_type(job_type).name if job_type else None
        worker = current_worker()

        def go(con: Connection) -> str:
            if job_id is None:
                row = first_row(con.execute(self.q.job_resumable, [jt, jt]).fetchall())
                if row is None:
                    kind = f"{jt} " if jt else ""
                    raise JobNotFoundError(
                        f"No paused or interrupted {kind}batch job to resume; "
                        "start one: toolkit start JOB_TYPE "
                        "(or say 'Start [job type] for [County]')."
                    )
                job = self._job(con, row[0])
            else:
                job = self._job(con, job_id)
            now = utcnow()
            self.engine.resume(con, job, worker, now)
            close_dead_sessions(con, self.q, now)  # a killed session's record: its real counts
            return job["id"]

        jid = self.store.run(go)
        pause_event(jid).clear()
        self.store.request_stop(jid, False)
        return jid

    def complete_batch_job(self, job_id: str) -> str:
        """Mark a job completed (every item must be finished)."""
        return self._transition(job_id, self.engine.complete)

    def cancel_batch_job(self, job_id: str) -> str:
        """Cancel an active job; its items stay for the record."""
        jid = self._transition(job_id, self.engine.cancel)
        pause_event(jid).set()
        self.store.request_stop(jid)
        return jid

    def _transition(self, job_id: str, fn: Callable[..., None]) -> str:
        worker = current_worker()

        def go(con: Connection) -> str:
            job = self._job(con, job_id)
            fn(con, job, worker, utcnow())
            return job["id"]

        return self.store.run(go)

    def retry_failed_items(self, job_id: str) -> int:
        """Put a job's failed items back to pending; returns how many."""
        worker = current_worker()

        def go(con: Connection) -> int:
            job = self._job(con, job_id)
            return self.engine.retry_failed(con, job, worker, utcnow())

        return self.store.run(go)

    def get_batch_status(self, job_id: str) -> dict[str, Any]:
        """The guide's status: counts, batches, failures, timestamps and an ETA."""
        return self.store.run(lambda con: self._status(con, self._job(con, job_id)), tx=False)

    def _status(self, con: Connection, job: dict[str, Any]) -> dict[str, Any]:
        out = self.engine.status(con, job["id"])
        types = job_types()
        out["noun"] = types[job["job_type"]].noun if job["job_type"] in types else "items"
        return out

    def get_pending_work_summary(self) -> pd.DataFrame:
        """One row per job type with work: job_type, pending, batch_size, batches, sessions."""
        return self.query("pending_summary")

    def active_jobs(self) -> pd.DataFrame:
        return self.query("active_jobs")

    def completed_jobs(self) -> pd.DataFrame:
        return self.query("completed_jobs")

    def failed_items(self, job_id: str) -> pd.DataFrame:
        """The job's failed items with their errors."""

        def go(con: Connection) -> pd.DataFrame:
            job = self._job(con, job_id)
            return con.execute(self.q.items_failures, [job["id"]]).df()

        return self.store.run(go, tx=False)

    # -- data in ---------------------------------------------------------------

    def import_properties(
        self,
        data: pd.DataFrame | str | Path,
        county: object = None,
        *,
        mapping: dict[str, str] | None = None,
        sale_type: str | None = None,
        sale_date: str | dt.date | None = None,
        withdraw_missing: bool = False,
        dry_run: bool = False,
        encoding: str | None = None,
        delimiter: str | None = None,
    ) -> dict[str, Any]:
        """Upsert properties from a county list (CSV, .xlsx or DataFrame) by county and parcel id.

        Columns are matched to fields by the header synonyms of ``docs/import.md``
        ("Tax Parcel No.", "Parcel #", "Owner(s)", "Minimum Bid", …) or by ``mapping``
        (``{"file column": "field"}``, field ``"ignore"`` to leave one out); columns
        left out are listed with the reason. Cells are kept as given (a leading ``=``,
        tab or CR too; only spaces are trimmed). ``county``, ``sale_type`` and
        ``sale_date`` fill rows that have none. ``withdraw_missing``: the file is the
        county's whole current list, so its active parcels missing from the file become
        ``withdrawn`` (their results stay; they leave the pending work) and withdrawn
        ones it lists become active again. ``dry_run`` writes nothing.

        Returns a dict: ``imported``, ``updated``, ``rejected`` (DataFrame: line, parcel_id,
        county, reason — ``line`` is the file's physical line, header = 1; for a DataFrame,
        row position + 2), ``duplicates``, ``withdrawn``, ``reactivated`` (and
        ``*_parcels`` frames), ``warnings``, ``columns`` (file column → field, note),
        ``skipped_lines``, ``preview``, ``source`` and ``exit_code`` (0 all imported,
        3 some rows rejected, 4 nothing imported).

        Examples
        --------
        >>> import toolkit, pandas as pd
        >>> ws = toolkit.connect(":memory:")
        >>> rows = pd.DataFrame({"Parcel #": ["01-2"], "Minimum Bid": ["$1,200"]})
        >>> out = ws.import_properties(rows, county="Blair")
        >>> out["imported"], out["exit_code"]
        (1, 0)
        """
        from toolkit.importing import import_properties

        return import_properties(
            self.store,
            data,
            county,
            mapping=mapping,
            sale_type=sale_type,
            sale_date=sale_date,
            withdraw_missing=withdraw_missing,
            dry_run=dry_run,
            encoding=encoding,
            delimiter=delimiter,
        )

    def add_document(
        self,
        path_or_url: str | Path,
        county: object,
        *,
        document_type: str = "property_list",
        sale_type: str | None = None,
        sale_date: str | dt.date | None = None,
        allow_private: bool | None = None,
        max_bytes: int | None = None,
        deadline: float | None = None,
    ) -> str:
        """Register a sale-list PDF (a path, or a URL downloaded first); returns its id.

        The file's sha256 is kept: adding the same file again returns the same id. A URL
        is downloaded within ``max_bytes`` and ``deadline``, from public addresses only
        unless ``allow_private`` (docs/sources.md).
        """
        from toolkit.documents import add_document

        return add_document(
            self.store,
            path_or_url,
            county,
            document_type=document_type,
            sale_type=sale_type,
            sale_date=sale_date,
            allow_private=allow_private,
            max_bytes=max_bytes,
            deadline=deadline,
        )

    def add_bulk_file(self, path: str | Path, county: object, *, format: str | None = None) -> int:
        """Use a Regrid bulk file (CSV, GeoJSON, GeoPackage) for a county's parcel data.

        The file is read once now, so missing columns are reported at once.
        Returns the county id.
        """
        from toolkit.processors.regrid import validate_bulk_file

        cid = self.county_id(county)
        if cid is None:
            raise ValidationError("A bulk file belongs to one county; name it (e.g. 'Blair').")
        fmt = validate_bulk_file(path, self.county_name(cid), format)
        resolved = str(Path(path).resolve())
        self.store.run(
            lambda con: con.execute(self.q.bulk_file_upsert, [cid, resolved, fmt, utcnow()])
        )
        return cid

    def import_liens(self, path: str | Path) -> dict[str, Any]:
        """Import lien findings (county, parcel_id, lien_type, holder, amount, recorded_date).

        Rows are matched to properties by county and parcel number; returns
        ``imported`` and the ``unmatched`` rows. A bad row saves nothing.
        Example file: ``docs/examples/liens.csv``.
        """
        from toolkit.processors.decisions import import_liens

        return import_liens(self.store, path)

    def import_clr_factors(self, path: str | Path) -> int:
        """Import CLR factors (county, factor, source, valid_from, valid_to); replaces by county.

        A county's imported factor wins over the PA table shipped with the toolkit,
        which the other counties keep using (``docs/clr.md``). A value that looks
        like a common level ratio (26.2, 26.2 %, 0.262) is refused with the
        reciprocal it should be; a bad row saves nothing. Returns the rows imported.
        """
        from toolkit.processors.decisions import import_clr_factors

        return import_clr_factors(self.store, path)

    # -- what a person records ------------------------------------------------

    def override_verdict(self, prop: str, verdict: str, note: str, county: object = None) -> None:
        """Override a property's screening verdict (APPROVED / CAUTION / REJECTED) with a note."""
        from toolkit.research import override_verdict

        override_verdict(self.store, prop, verdict, note, county)

    def set_manual_grade(
        self, prop: str, grade: str, note: str | None = None, county: object = None
    ) -> dict[str, Any]:
        """Grade a property from imagery (A-F); the manual grade wins."""
        from toolkit.research import set_manual_grade

        return set_manual_grade(self.store, self.data_dir, prop, grade, note, county)

    def record_title_search(
        self,
        prop: str,
        liens: list[dict[str, Any]] | None = None,
        source: str = "manual",
        county: object = None,
        notice_confirmed: bool = False,
    ) -> int:
        """Record a title search and the liens it found (none found is a result too).

        ``notice_confirmed``: every lienholder was served for a judicial sale, so the
        decree may clear the liens (docs/decisions.md).
        """
        from toolkit.research import record_title_search

        return record_title_search(self.store, prop, liens, source, county, notice_confirmed)

    def confirm_judicial_notice(self, prop: str, note: str, county: object = None) -> str:
        """Mark a judicial sale's notice as confirmed (the decree then clears liens)."""
        from toolkit.research import confirm_judicial_notice

        return confirm_judicial_notice(self.store, prop, note, county)

    def bid_list(
        self, county: object = None, decisions: tuple[str, ...] = ("BID", "REVIEW")
    ) -> pd.DataFrame:
        """The bidder's list: BID and REVIEW properties with max bids, key facts and reasons."""
        from toolkit.research import bid_list

        return bid_list(self.store, county, decisions)

    def export_bids(
        self,
        path: str | Path,
        county: object = None,
        decisions: tuple[str, ...] = ("BID", "REVIEW"),
    ) -> Path:
        """Write the bid list to ``.csv`` or ``.xlsx``."""
        from toolkit.research import export_bids

        return export_bids(self.store, path, county, decisions)

    @property
    def data_dir(self) -> Path:
        """Where this workspace keeps files (documents, sketches, caches, run records)."""
        from toolkit.processors.context import data_dir_of

        return data_dir_of(self.store)

    def import_county_research(self, path: str | Path | None = None) -> dict[str, Any]:
        """Import the user's county research file (default ``data/county_research.yaml``)."""
        from toolkit.processors.county_research import import_research_file

        return import_research_file(self.store, path)

    def save_county_research(
        self, county: object, research: dict[str, Any], *, job_id: str | None = None
    ) -> None:
        """Validate one county's research (the keys of a research-file entry) and store it.

        With ``job_id`` (a county_research job: the notebook form, an assistant), the
        county's item of that job is marked done in the same transaction.

        Raises
        ------
        ConfigError
            The research is not valid (an unknown key, with the valid ones; a bad date …).
        ValidationError
            Unknown county; a job of another type; the county is not an item of the job.
        InvalidTransitionError
            The item is finished already.

        Examples
        --------
        >>> import toolkit
        >>> ws = toolkit.connect(":memory:")
        >>> sale = {"sale_type": "upset", "sale_date": "2027-09-13"}
        >>> ws.save_county_research("Blair", {"source": "phone call to the bureau",
        ...                                   "as_of": "2026-11-01", "sales": [sale]})
        >>> ws.sql("SELECT sale_type FROM upcoming_sales WHERE county_id = 13").sale_type[0]
        'upset'
        """
        from toolkit.processors.county_research import checked_research, store_research

        cid, result = checked_research(self.store, county, research)
        if job_id is None:
            store_research(self.store, cid, result)
            return
        job_type = self.get_batch_status(job_id)["job_type"]
        if job_type != "county_research":
            raise ValidationError(
                f"Job {job_id} is a {job_type} job, not county_research; give the id of a "
                "county_research job (or none to save the research outside a job)."
            )
        self._record_one(
            job_id, str(cid), "done", None, result, label=f"{self.county_name(cid)} County"
        )

    def run_data_audit(self) -> dict[str, pd.DataFrame]:
        """The guide's "Run data audit": gaps in the data and counts per pipeline stage."""
        from toolkit.reports import data_audit

        return data_audit(self.store)

    # -- sessions --------------------------------------------------------------

    def run_session(
        self,
        job_id: str,
        processor: Callable[..., Any] | str | None = None,
        *,
        max_batches: int | None = None,
        max_items: int | None = None,
        max_seconds: float | None = None,
        on_progress: Callable[[dict[str, Any]], None] | None = None,
        stop: threading.Event | None = None,
    ) -> SessionSummary:
        """Work a job through a processor for one session, then pause at the budget.

        See :func:`toolkit.jobs.session.run_session`.
        """
        from toolkit.jobs.session import run_session

        return run_session(
            self.store,
            job_id,
            processor,
            data_dir=self.data_dir,
            lease_seconds=self.lease_seconds,
            max_batches=max_batches,
            max_items=max_items,
            max_seconds=max_seconds,
            on_progress=on_progress,
            stop=stop,
        )
