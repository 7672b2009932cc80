"""The ``toolkit`` command line: a thin layer over the workspace API.

Each command calls the :class:`~toolkit.workspace.Workspace` method of the same
name with the same argument names, prints a readable table (``--json`` for
scripts), and turns a :class:`~toolkit.exceptions.ToolkitError` into
``Error: …`` on stderr and exit status 1 (``--debug`` adds the traceback).

Only typer and the toolkit's light modules are imported here; pandas, duckdb,
papermill and ipywidgets load inside the commands that need them, so
``toolkit --help`` answers at once.
"""

from __future__ import annotations

import json
import os
import re
import sys
import traceback
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from typer.core import TyperGroup

from toolkit.exceptions import StoreError, ToolkitError, UnknownJobTypeError, ValidationError

if TYPE_CHECKING:
    import click
    import pandas as pd

    from toolkit.workspace import Workspace

_DEBUG = "toolkit.debug"
_HEX_ID = re.compile(r"^[0-9a-fA-F-]{4,36}$")


def error_text(exc: BaseException) -> str:
    """``Error: …`` with the chain of causes, one per line.

    >>> try:
    ...     try:
    ...         raise OSError("disk full")
    ...     except OSError as e:
    ...         raise ToolkitError("Cannot save") from e
    ... except ToolkitError as e:
    ...     print(error_text(e))
    Error: Cannot save
      caused by OSError: disk full
    """
    lines = [f"Error: {exc}"]
    seen = {id(exc)}
    cause = exc.__cause__ or (None if exc.__suppress_context__ else exc.__context__)
    while cause is not None and id(cause) not in seen:
        seen.add(id(cause))
        lines.append(f"  caused by {type(cause).__name__}: {cause}")
        cause = cause.__cause__ or (None if cause.__suppress_context__ else cause.__context__)
    return "\n".join(lines)


def _report(exc: BaseException, debug: bool) -> None:
    if debug:
        traceback.print_exception(exc, file=sys.stderr)
    print(error_text(exc), file=sys.stderr)


class _Group(TyperGroup):
    """Turns library errors into ``Error: …`` and exit 1, in-process and installed alike."""

    def invoke(self, ctx: click.Context) -> Any:  # type: ignore[override]
        try:
            return super().invoke(ctx)  # type: ignore[arg-type]
        except ToolkitError as exc:
            _report(exc, bool(ctx.meta.get(_DEBUG)))
            raise typer.Exit(1) from None


app = typer.Typer(
    cls=_Group,
    name="toolkit",
    help="Resumable research batch jobs for county tax-sale investors (see docs/cli.md).",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)


# --- options shared by every command ---------------------------------------------


def _set_debug(ctx: typer.Context, value: bool) -> bool:
    if value:
        ctx.meta[_DEBUG] = True
    return value


DbOpt = Annotated[
    str | None,
    typer.Option(
        "--db",
        metavar="PATH",
        help="Workspace: a DuckDB file or ':memory:' "
        "(default: $TOOLKIT_DB, else data/toolkit.duckdb).",
    ),
]
JsonOpt = Annotated[bool, typer.Option("--json", help="Print JSON for scripts instead of tables.")]
DebugOpt = Annotated[
    bool,
    typer.Option(
        "--debug",
        help="Show the traceback of errors.",
        callback=_set_debug,
        envvar="TOOLKIT_DEBUG",
        is_eager=True,
    ),
]
JobArg = Annotated[str, typer.Argument(metavar="JOB", help="Job id (or its first 8 characters).")]


def _version(value: bool) -> None:
    if value:
        import toolkit

        print(f"toolkit {toolkit.__version__}")
        raise typer.Exit(0)


@app.callback()
def _root(
    debug: DebugOpt = False,
    version: Annotated[
        bool,
        typer.Option(
            "--version", help="Print the version and exit.", callback=_version, is_eager=True
        ),
    ] = False,
) -> None:
    """Resumable research batch jobs for county tax-sale investors (see docs/cli.md)."""


# --- helpers ------------------------------------------------------------------------


def _ws(db: str | None) -> Workspace:
    import toolkit
    from toolkit import config

    url = db if db is not None else config.default_db_url()
    fresh = url != ":memory:" and "://" not in url and not Path(url).exists()
    ws = toolkit.connect(url)
    if fresh:
        print(f"Note: created a new, empty workspace at {url}", file=sys.stderr)
    return ws


def _refuse_foreign_file(db: str | None) -> None:
    """Stop before a command that may replace ``db`` when it is not a DuckDB file."""
    if db is None or db == ":memory:" or "://" in db:
        return
    path = Path(db)
    if path.is_dir():
        raise StoreError(f"Cannot open workspace {db!r}: it is a folder; give a DuckDB file path.")
    if path.is_file() and path.stat().st_size > 0:
        with path.open("rb") as fh:
            head = fh.read(12)
        if head[8:12] != b"DUCK":  # DuckDB's file magic
            raise StoreError(
                f"Cannot open workspace {db!r}: not a DuckDB database file; nothing was changed."
            )


def _width() -> int:
    """The terminal's width; piped output gets 160 columns (room rather than fold every cell)."""
    if sys.stdout.isatty():
        import shutil

        return shutil.get_terminal_size((100, 24)).columns
    return 160


def _console() -> Any:
    from rich.console import Console

    return Console(soft_wrap=False, width=_width())


def _emit_json(obj: Any) -> None:
    from toolkit.phrases import jsonable

    print(json.dumps(jsonable(obj), indent=2, ensure_ascii=False))


def _cell(value: Any) -> str:
    from toolkit.phrases import _text

    if isinstance(value, float) and value.is_integer():
        return f"{int(value):,}"
    if isinstance(value, int) and not isinstance(value, bool):
        return f"{value:,}"
    if isinstance(value, bytes | bytearray | memoryview):
        return "\\x" + bytes(value).hex()
    text = _text(value)
    return text[:19] if re.match(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d", text) else text


def table_width(frame: pd.DataFrame, columns: list[str] | None = None) -> int:
    """The columns a table of ``frame`` needs with no cell folded (rich's borders and padding)."""
    cols = columns or [str(c) for c in frame.columns]
    total = 1
    for c in cols:
        cells = [len(_cell(v)) for v in frame[c].head(200)]
        total += max([len(str(c)), *cells]) + 3
    return total


def records_text(frame: pd.DataFrame, columns: list[str] | None = None, width: int = 100) -> str:
    """Rows as records, one field a line (psql's ``\\x``): for results too wide for a table.

    >>> import pandas as pd
    >>> print(records_text(pd.DataFrame({"job_id": ["861dbf8b"], "status": ["paused"]}), width=30))
    -[ RECORD 1 ]-----------
    job_id | 861dbf8b
    status | paused
    """
    cols = columns or [str(c) for c in frame.columns]
    pad = max(len(c) for c in cols)
    room = max(20, width - pad - 3)
    lines = []
    for i, row in enumerate(frame[cols].itertuples(index=False, name=None), start=1):
        head = f"-[ RECORD {i} ]"
        lines.append(head + "-" * max(0, min(width, pad + 3 + 16) - len(head) - 1))
        for c, v in zip(cols, row, strict=True):
            text = _cell(v)
            chunks = [text[j : j + room] for j in range(0, len(text), room)] or [""]
            lines.append(f"{c:<{pad}} | {chunks[0]}")
            lines.extend(f"{'':<{pad}} | {chunk}" for chunk in chunks[1:])
    return "\n".join(lines)


class Layout(StrEnum):
    auto = "auto"
    table = "table"
    records = "records"


def _table(
    frame: pd.DataFrame,
    *,
    title: str | None = None,
    empty: str = "(no rows)",
    columns: list[str] | None = None,
    layout: Layout = Layout.auto,
) -> None:
    from rich.table import Table

    console = _console()
    if frame.empty:
        console.print(empty)
        return
    cols = [c for c in (columns or list(frame.columns)) if c in frame.columns]
    if layout is Layout.records or (
        layout is Layout.auto and len(cols) > 3 and table_width(frame, cols) > console.width
    ):  # too wide: fold each row into a record rather than squeeze every column
        if title:
            print(title)
        print(records_text(frame, [str(c) for c in cols], console.width))
        return
    table = Table(title=title, title_justify="left", header_style="bold")
    for c in cols:
        numeric = frame[c].dtype.kind in "iuf"
        table.add_column(str(c), justify="right" if numeric else "left", overflow="fold")
    for row in frame[cols].itertuples(index=False):
        table.add_row(*(_cell(v) for v in row))
    console.print(table)


def _job_table(frame: pd.DataFrame, title: str, empty: str) -> None:
    if not frame.empty:
        frame = frame.assign(
            job=frame.job_id.str[:8],
            county=frame.county.fillna("(all)"),
            progress=[
                f"{int(p + f + s)}/{int(t)}"
                for p, f, s, t in zip(
                    frame.processed_items,
                    frame.failed_items,
                    frame.skipped_items,
                    frame.total_items,
                    strict=True,
                )
            ],
            batch=[
                f"{min(int(c or 0), int(t))}/{int(t)}"
                for c, t in zip(frame.current_batch.fillna(0), frame.total_batches, strict=True)
            ],
        )
        frame = frame.rename(
            columns={"percent_complete": "%", "failed_items": "failed", "updated_at": "updated"}
        )
    cols = ["job", "job_type", "county", "status", "progress", "%", "batch", "failed", "updated"]
    _table(frame, title=title, empty=empty, columns=cols)


def _show_status(st: dict[str, Any], json_: bool, heading: str | None = None) -> None:
    """A job's status as JSON, or a heading line and the status table."""
    if json_:
        return _emit_json(st)
    if heading:
        print(heading)
    _print_status(st)
    return None


def _print_status(st: dict[str, Any]) -> None:
    from toolkit.phrases import describe_status

    print(describe_status(st))


def _job_type_or_id(target: str) -> tuple[str | None, str | None]:
    """Split ``resume``'s argument into (job_id, job_type)."""
    from toolkit.jobs import get_job_type

    if _HEX_ID.match(target) and any(ch.isdigit() or ch == "-" for ch in target):
        return target, None
    try:
        return None, get_job_type(target).name
    except UnknownJobTypeError:
        if _HEX_ID.match(target):
            return target, None
        raise


# --- commands -----------------------------------------------------------------------


@app.command()
def pending(db: DbOpt = None, json_: JsonOpt = False, debug: DebugOpt = False) -> None:
    """Show the work pending per job type (get_pending_work_summary)."""
    frame = _ws(db).get_pending_work_summary()
    if json_:
        return _emit_json(frame)
    _table(frame, title="Pending work", empty="No pending work.")


@app.command()
def status(
    job_id: Annotated[
        str | None,
        typer.Argument(
            metavar="[JOB]", help="Job id or prefix (default: the most recent active job)."
        ),
    ] = None,
    failures: Annotated[
        bool, typer.Option("--failures", help="Also list the failed items.")
    ] = False,
    db: DbOpt = None,
    json_: JsonOpt = False,
    debug: DebugOpt = False,
) -> None:
    """Show one job's progress, batches, failures and ETA (get_batch_status)."""
    from toolkit.phrases import latest_active_job

    ws = _ws(db)
    st = ws.get_batch_status(job_id if job_id is not None else latest_active_job(ws))
    failed = ws.failed_items(st["job_id"]) if failures else None
    if json_:
        return _emit_json(st if failed is None else {**st, "failures": failed})
    _print_status(st)
    if failed is not None:
        _table(failed, title="Failed items", empty="No failed items.")


@app.command()
def jobs(
    completed: Annotated[
        bool,
        typer.Option("--completed/--active", help="List completed jobs instead of active ones."),
    ] = False,
    db: DbOpt = None,
    json_: JsonOpt = False,
    debug: DebugOpt = False,
) -> None:
    """List active jobs (default) or completed ones (active_jobs / completed_jobs)."""
    ws = _ws(db)
    frame = ws.completed_jobs() if completed else ws.active_jobs()
    if json_:
        return _emit_json(frame)
    kind = "Completed" if completed else "Active"
    _job_table(frame, f"{kind} batch jobs", f"No {kind.lower()} batch jobs.")


@app.command()
def start(
    job_type: Annotated[
        str, typer.Argument(help="Job type, e.g. regrid_scraping or 'Regrid scraping'.")
    ],
    county: Annotated[
        str | None, typer.Option(help="County name, id or FIPS (default: all counties).")
    ] = None,
    batch_size: Annotated[
        int | None, typer.Option(help="Items per batch (default: the job type's; over 100 warns).")
    ] = None,
    strategy: Annotated[
        str, typer.Option(help="Order: county, round_robin or auction_date.")
    ] = "county",
    force: Annotated[
        bool, typer.Option(help="Start even if a job of this type and county is active.")
    ] = False,
    max_consecutive_failures: Annotated[
        int, typer.Option(min=1, help="Pause the job after this many failures in a row.")
    ] = 10,
    take_held: Annotated[
        bool,
        typer.Option(
            "--take-held",
            help="Also take items another active job of the type holds (they may be done twice).",
        ),
    ] = False,
    db: DbOpt = None,
    json_: JsonOpt = False,
    debug: DebugOpt = False,
) -> None:
    """Create a batch job over the pending items of a job type (create_batch_job)."""
    import warnings

    from toolkit.workspace import ActiveJobsWarning, BatchSizeWarning

    ws = _ws(db)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        job_id = ws.create_batch_job(
            job_type,
            county,
            batch_size,
            strategy=strategy,
            force=force,
            max_consecutive_failures=max_consecutive_failures,
            take_held=take_held,
        )
    for w in caught:
        if issubclass(w.category, BatchSizeWarning | ActiveJobsWarning):
            print(f"Warning: {w.message}", file=sys.stderr)
        else:
            warnings.warn_explicit(w.message, w.category, w.filename, w.lineno)
    st = ws.get_batch_status(job_id)
    _show_status(st, json_, f"Created job {job_id}")
    if not json_ and st["status"] != "completed":
        print(f"Run it with: toolkit run {st['job_type']} --job {job_id[:8]}")


@app.command()
def resume(
    target: Annotated[
        str | None,
        typer.Argument(
            metavar="[JOB|JOB_TYPE]",
            help="A job id, or a job type to resume its latest paused job "
            "(default: the most recent paused job).",
        ),
    ] = None,
    db: DbOpt = None,
    json_: JsonOpt = False,
    debug: DebugOpt = False,
) -> None:
    """Resume a paused or interrupted job (resume_batch_job)."""
    job_id, job_type = _job_type_or_id(target) if target is not None else (None, None)
    ws = _ws(db)
    jid = ws.resume_batch_job(job_id, job_type=job_type)
    st = ws.get_batch_status(jid)
    _show_status(st, json_, f"Resumed job {jid}")


@app.command()
def pause(
    job_id: Annotated[
        str | None,
        typer.Argument(
            metavar="[JOB]", help="Job id or prefix (default: the most recent running job)."
        ),
    ] = None,
    reason: Annotated[str | None, typer.Option(help="Why; shown in the job's status.")] = None,
    db: DbOpt = None,
    json_: JsonOpt = False,
    debug: DebugOpt = False,
) -> None:
    """Pause a job; a session running anywhere stops at its next item (pause_batch_job)."""
    ws = _ws(db)
    jid = ws.pause_batch_job(job_id, reason)
    st = ws.get_batch_status(jid)
    _show_status(st, json_)


@app.command()
def complete(
    job_id: JobArg, db: DbOpt = None, json_: JsonOpt = False, debug: DebugOpt = False
) -> None:
    """Mark a job completed; every item must be finished (complete_batch_job)."""
    ws = _ws(db)
    st = ws.get_batch_status(ws.complete_batch_job(job_id))
    _show_status(st, json_)


@app.command()
def cancel(
    job_id: JobArg, db: DbOpt = None, json_: JsonOpt = False, debug: DebugOpt = False
) -> None:
    """Cancel an active job; its items stay for the record (cancel_batch_job)."""
    ws = _ws(db)
    st = ws.get_batch_status(ws.cancel_batch_job(job_id))
    _show_status(st, json_)


@app.command()
def retry(
    job_id: JobArg, db: DbOpt = None, json_: JsonOpt = False, debug: DebugOpt = False
) -> None:
    """Put a job's failed items back to pending (retry_failed_items)."""
    ws = _ws(db)
    n = ws.retry_failed_items(job_id)
    st = ws.get_batch_status(job_id)
    if json_:
        return _emit_json({"retried": n, "status": st})
    print(f"{n} failed item{'s' if n != 1 else ''} back to pending.")
    _print_status(st)


@app.command()
def audit(db: DbOpt = None, json_: JsonOpt = False, debug: DebugOpt = False) -> None:
    """Show data gaps and properties per pipeline stage (run_data_audit)."""
    report = _ws(db).run_data_audit()
    if json_:
        return _emit_json(report)
    _table(report["gaps"], title="Gaps (active properties)", empty="No properties yet.")
    _table(report["stages"], title="Pipeline stages", empty="")


@app.command()
def export(
    what: Annotated[str, typer.Argument(help="What to export: bids.")],
    county: Annotated[str | None, typer.Option(help="One county (default: all).")] = None,
    out: Annotated[
        str | None,
        typer.Option(help="File to write, .csv or .xlsx (default data/exports/bids.csv)."),
    ] = None,
    include_pass: Annotated[
        bool, typer.Option("--include-pass", help="Also list PASS properties.")
    ] = False,
    db: DbOpt = None,
    json_: JsonOpt = False,
    debug: DebugOpt = False,
) -> None:
    """Export the bidder's list (BID and REVIEW properties, max bids, reasons) to CSV or Excel."""
    if what != "bids":
        from toolkit.exceptions import UnknownChoiceError

        raise UnknownChoiceError("export", what, ["bids"])
    ws = _ws(db)
    decisions = ("BID", "REVIEW", "PASS") if include_pass else ("BID", "REVIEW")
    path = Path(out) if out else ws.data_dir / "exports" / "bids.csv"
    written = ws.export_bids(path, county=county, decisions=decisions)
    bids = ws.bid_list(county, decisions)
    n, stale = len(bids), int((bids.out_of_date.fillna("") != "").sum())
    if json_:
        return _emit_json({"path": str(written), "rows": n, "out_of_date": stale})
    print(f"Wrote {n} properties to {written}")
    if stale:
        print(
            f"Warning: {stale} of them {'is' if stale == 1 else 'are'} out of date: research "
            "changed after the bid (column out_of_date). Run `toolkit pending`, then the jobs "
            "it lists.",
            file=sys.stderr,
        )
    return None


@app.command()
def sql(
    query: Annotated[str, typer.Argument(help="SQL; bind values as $1, $2 … with --param.")],
    params: Annotated[
        list[str] | None,
        typer.Option("--param", "-p", help="A value for the next $N (repeatable)."),
    ] = None,
    layout: Annotated[
        Layout,
        typer.Option(
            "--layout",
            help="table, records (one field a line, like psql's \\x) or auto: records when "
            "the table is wider than the terminal.",
        ),
    ] = Layout.auto,
    expanded: Annotated[
        bool, typer.Option("-x", "--expanded", help="Same as --layout records.")
    ] = False,
    db: DbOpt = None,
    json_: JsonOpt = False,
    debug: DebugOpt = False,
) -> None:
    """Run any SQL on the workspace and show the rows (sql); --json for any column type."""
    frame = _ws(db).sql(query, params or None)
    if json_:
        return _emit_json(frame)
    _table(frame, layout=Layout.records if expanded else layout)


@app.command("import-properties")
def import_properties(
    data: Annotated[
        Path,
        typer.Argument(
            metavar="FILE",
            help="The property list: CSV (any delimiter, UTF-8 or Windows-1252) or .xlsx.",
        ),
    ],
    county: Annotated[
        str | None, typer.Option(help="County for rows without a county column.")
    ] = None,
    mapping: Annotated[
        list[str] | None,
        typer.Option(
            "--map",
            metavar="COLUMN=FIELD",
            help="Use a column for a field, e.g. --map 'Tax Parcel No.=parcel_id' "
            "(FIELD 'ignore' leaves it out); repeatable. Known names: docs/import.md.",
        ),
    ] = None,
    sale_type: Annotated[
        str | None,
        typer.Option(
            help="Sale type for rows without one: upset, judicial, repository, private or sheriff."
        ),
    ] = None,
    sale_date: Annotated[
        str | None,
        typer.Option(help="Sale date for rows without one, e.g. 2027-09-13 or 9/13/2027."),
    ] = None,
    withdraw_missing: Annotated[
        bool,
        typer.Option(
            "--withdraw-missing",
            help="The file is the county's whole current list: mark its parcels that are "
            "missing withdrawn (work done is kept) and make listed withdrawn ones active.",
        ),
    ] = False,
    dry_run: Annotated[
        bool,
        typer.Option(
            "--dry-run",
            help="Show the column mapping, the first rows and what would change; write nothing.",
        ),
    ] = False,
    encoding: Annotated[
        str | None,
        typer.Option(help="The file's encoding (default: detected; UTF-8, else Windows-1252)."),
    ] = None,
    delimiter: Annotated[
        str | None,
        typer.Option(help="comma, tab, semicolon or pipe (default: detected)."),
    ] = None,
    db: DbOpt = None,
    json_: JsonOpt = False,
    debug: DebugOpt = False,
) -> None:
    """Upsert properties from a county list, keyed by county and parcel id (import_properties).

    Exit status: 0 every row imported, 3 some rows rejected (the rest imported),
    4 nothing imported, 1 an error (nothing changed). See docs/import.md.
    """
    from toolkit.importing import FIELDS, IGNORE

    pairs: dict[str, str] = {}
    for item in mapping or []:
        column, sep, target = item.rpartition("=")
        if not sep or not column.strip() or not target.strip():
            raise typer.BadParameter(
                f"{item!r} is not COLUMN=FIELD, e.g. --map 'Tax Parcel No.=parcel_id'; "
                f"fields: {', '.join([*FIELDS, IGNORE])}.",
                param_hint="--map",
            )
        pairs[column.strip()] = target.strip()
    if not data.is_file():
        raise ValidationError(f"No such file: {str(data)!r}.")
    out = _ws(db).import_properties(
        data,
        county,
        mapping=pairs or None,
        sale_type=sale_type,
        sale_date=sale_date,
        withdraw_missing=withdraw_missing,
        dry_run=dry_run,
        encoding=encoding,
        delimiter=delimiter,
    )
    if json_:
        _emit_json(out)
    else:
        _print_import(out)
    if out["exit_code"]:
        raise typer.Exit(out["exit_code"])


def _print_import(out: dict[str, Any]) -> None:
    src = out["source"]
    how = [src["encoding"], src["delimiter"] and f"{src['delimiter']}-separated"]
    line = f"Read {src['file']}: {src['rows']:,} rows, header on line {src['header_line']}"
    if any(how):
        line += " (" + ", ".join(x for x in how if x) + ")"
    if src["blank_lines"]:
        n = src["blank_lines"]
        line += f", {n:,} blank line{'s' if n != 1 else ''} skipped"
    print(line + ".")
    columns = out["columns"]
    if out["dry_run"]:
        _table(columns.fillna("—"), title="Columns (file column → field)")
        _table(
            out["preview"].dropna(axis=1, how="all"),
            title="First rows as they would be stored",
            empty="No row would be imported.",
        )
    else:
        for row in columns[columns.field.isna()].itertuples(index=False):
            print(f"Ignored column {row.column!r}: {row.note}")
    for row in out["skipped_lines"].itertuples(index=False):
        print(f"Skipped line {row.line} ({row.why}): {row.text!r}")
    warnings = out["warnings"]
    if len(warnings):
        print(f"Warnings ({len(warnings):,}):")
        for row in warnings.head(20).itertuples(index=False):
            where = "" if row.line is None or row.line != row.line else f"line {int(row.line)}: "
            print(f"  {where}{row.message}")
        if len(warnings) > 20:
            print(f"  … and {len(warnings) - 20:,} more (--json lists them all)")
    rejected, dups = out["rejected"], out["duplicates"]
    verb = "Would import" if out["dry_run"] else "Imported"
    parts = [
        f"{verb} {out['imported']:,}",
        f"update {out['updated']:,}" if out["dry_run"] else f"updated {out['updated']:,}",
        f"reject {len(rejected):,}" if out["dry_run"] else f"rejected {len(rejected):,}",
    ]
    if len(dups):
        parts.append(f"{len(dups):,} repeated rows imported once")
    if out["withdrawn"] or out["reactivated"]:
        parts.append(
            f"withdraw {out['withdrawn']:,}"
            if out["dry_run"]
            else f"withdrawn {out['withdrawn']:,}"
        )
        parts.append(
            f"make active again {out['reactivated']:,}"
            if out["dry_run"]
            else f"active again {out['reactivated']:,}"
        )
    print(", ".join(parts) + ".")
    if out["dry_run"]:
        print("Dry run: nothing was written.")
    if len(rejected):
        _table(rejected.head(50), title="Rejected rows")
        if len(rejected) > 50:
            print(f"… the first 50 of {len(rejected):,} rejected rows (--json lists them all)")
    gone = out["withdrawn_parcels"]
    if len(gone):
        _table(gone.head(50), title="To withdraw" if out["dry_run"] else "Withdrawn")
        if len(gone) > 50:
            print(f"… the first 50 of {len(gone):,} (--json lists them all)")


# --- data in: documents, bulk files, liens, CLR factors, the investor profile ---------------


@app.command("add-document")
def add_document(
    path_or_url: Annotated[
        str,
        typer.Argument(
            metavar="PATH_OR_URL",
            help="A sale-list PDF: a local file, or an http(s):// URL downloaded first.",
        ),
    ],
    county: Annotated[
        str, typer.Option(help="The county the document belongs to (name, id or FIPS).")
    ],
    sale_type: Annotated[
        str | None,
        typer.Option(help="upset, judicial, repository, private or sheriff (default: unknown)."),
    ] = None,
    sale_date: Annotated[
        str | None, typer.Option(help="The sale date, YYYY-MM-DD (default: unknown).")
    ] = None,
    document_type: Annotated[
        str,
        typer.Option(
            help="property_list (parsed into properties by pdf_parsing), sale_notice, "
            "terms_of_sale, bidder_registration, sale_results or other."
        ),
    ] = "property_list",
    db: DbOpt = None,
    json_: JsonOpt = False,
    debug: DebugOpt = False,
) -> None:
    """Register a sale-list PDF for a county; the same file twice keeps one id (add_document)."""
    import pandas as pd

    from toolkit.documents import documents

    ws = _ws(db)
    before = set(documents(ws.store).document_id)
    doc_id = ws.add_document(
        path_or_url, county, document_type=document_type, sale_type=sale_type, sale_date=sale_date
    )
    docs = documents(ws.store)
    row = docs[docs.document_id == doc_id].iloc[0]
    sale_day = None if pd.isna(row.sale_date) else pd.Timestamp(row.sale_date).date().isoformat()
    info = {
        "document_id": doc_id,
        "new": doc_id not in before,
        "county": row.county,
        "document_type": row.document_type,
        "path": row.path,
        "url": row.url,
        "sale_type": row.sale_type,
        "sale_date": sale_day,
        "parse_status": row.parse_status,
    }
    if json_:
        return _emit_json(info)
    verb = "Added" if info["new"] else "Already added:"
    print(f"{verb} document {doc_id} ({row.county} County, {row.document_type}): {row.path}")
    if row.document_type == "property_list" and row.parse_status == "pending":
        print(f"Parse it with: toolkit start pdf_parsing --county {row.county}")
    return None


@app.command("add-bulk-file")
def add_bulk_file(
    path: Annotated[
        Path, typer.Argument(help="A Regrid bulk file of one county: CSV, GeoJSON or GeoPackage.")
    ],
    county: Annotated[
        str, typer.Option(help="The county whose parcels it holds (name, id or FIPS).")
    ],
    format_: Annotated[
        str | None,
        typer.Option("--format", help="csv, geojson or gpkg (default: from the file's suffix)."),
    ] = None,
    db: DbOpt = None,
    json_: JsonOpt = False,
    debug: DebugOpt = False,
) -> None:
    """Use a Regrid bulk file for a county's parcel data; it is read once now (add_bulk_file)."""
    ws = _ws(db)
    cid = ws.add_bulk_file(path, county, format=format_)
    files = ws.query("bulk_files_all")
    row = files[(files.county_id == cid) & (files.path == str(path.resolve()))].iloc[0]
    info = {
        "county_id": int(cid),
        "county": row.county_name,
        "path": row.path,
        "format": row.format,
    }
    if json_:
        return _emit_json(info)
    print(f"{row.county_name} County's parcel data comes from {row.path} ({row.format}).")
    print(f"Fetch it with: toolkit start regrid_scraping --county {row.county_name}")
    return None


@app.command("import-liens")
def import_liens(
    file: Annotated[
        Path,
        typer.Argument(
            metavar="FILE",
            help="A CSV of lien findings: county, parcel_id, lien_type, holder, amount, "
            "recorded_date (see docs/examples/liens.csv).",
        ),
    ],
    db: DbOpt = None,
    json_: JsonOpt = False,
    debug: DebugOpt = False,
) -> None:
    """Import lien findings (recorder, docket); re-importing a file replaces (import_liens)."""
    if not file.is_file():
        raise ValidationError(f"No such liens file: {str(file)!r}.")
    out = _ws(db).import_liens(file)
    unmatched = out["unmatched"]
    if json_:
        return _emit_json({"imported": out["imported"], "unmatched": unmatched})
    n = len(unmatched)
    print(f"Imported {out['imported']:,} liens from {file.name}.")
    if n:
        print(f"{n:,} row{' matches' if n == 1 else 's match'} no property (first 50 shown):")
        _table(unmatched.head(50))
        print("Check their county and parcel_id, or import those properties first.")
    return None


@app.command("confirm-notice")
def confirm_notice(
    parcel: Annotated[
        str, typer.Argument(metavar="PARCEL", help="The parcel number (or property id).")
    ],
    county: Annotated[str, typer.Option(help="The parcel's county.")],
    note: Annotated[
        str, typer.Option(help="How you confirmed it (the docket, the affidavit of service).")
    ],
    db: DbOpt = None,
    json_: JsonOpt = False,
    debug: DebugOpt = False,
) -> None:
    """Mark a judicial sale's notice as confirmed: the decree then clears liens."""
    ws = _ws(db)
    pid = ws.confirm_judicial_notice(parcel, note, county)
    if json_:
        return _emit_json({"property_id": pid, "parcel_id": parcel, "county": county})
    print(f"Notice confirmed for parcel {parcel} in {county} County: {note}")
    kind = ws.sql("SELECT sale_type FROM properties WHERE id = $1::UUID", [pid]).sale_type
    sale = str(kind.iloc[0] or "") if len(kind) else ""
    if sale.lower() != "judicial":
        print(
            f"Note: its sale is listed as {repr(sale) if sale else 'having no type'}; notice "
            "decides whether liens "
            "clear only at a judicial sale, so its title result will not change.",
            file=sys.stderr,
        )
    print(
        "Its title and bid are redone at the next `toolkit run title_research`, "
        "then `toolkit run bid_strategy`."
    )
    return None


@app.command("import-clr")
def import_clr(
    file: Annotated[
        Path,
        typer.Argument(
            metavar="FILE",
            help="A CSV of CLR factors: county, factor, source[, valid_from, valid_to] "
            "(see docs/examples/clr_factors.csv).",
        ),
    ],
    db: DbOpt = None,
    json_: JsonOpt = False,
    debug: DebugOpt = False,
) -> None:
    """Import CLR factors; yours win over the shipped PA table (import_clr_factors)."""
    import pandas as pd

    if not file.is_file():
        raise ValidationError(f"No such CLR factor file: {str(file)!r}.")
    ws = _ws(db)
    n = ws.import_clr_factors(file)
    counties = sorted(set(pd.read_csv(file, comment="#", dtype=str)["county"].str.strip()))
    if json_:
        return _emit_json({"imported": n, "counties": counties})
    print(
        f"Imported {n} CLR factor{'s' if n != 1 else ''} from {file.name}: {', '.join(counties)}."
    )
    print("Counties without a factor of yours use the shipped PA table (docs/clr.md).")
    return None


class ProfileAction(StrEnum):
    show = "show"
    init = "init"
    check = "check"


@app.command()
def profile(
    action: Annotated[
        ProfileAction,
        typer.Argument(
            metavar="ACTION",
            help="show: the profile in effect and where it comes from; init: write a commented "
            "starter investor_profile.yaml into the data folder; check: validate a profile file.",
        ),
    ] = ProfileAction.show,
    file: Annotated[
        Path | None,
        typer.Argument(
            metavar="FILE", help="check: the file to check (default: the one in effect)."
        ),
    ] = None,
    force: Annotated[
        bool, typer.Option("--force", help="init: replace an existing investor_profile.yaml.")
    ] = False,
    db: DbOpt = None,
    json_: JsonOpt = False,
    debug: DebugOpt = False,
) -> None:
    """Show, start or check the investor profile (costs, rates, thresholds) the jobs use."""
    from toolkit.processors import decisions

    if file is not None and action is not ProfileAction.check:
        raise typer.BadParameter(
            f"FILE is for 'profile check' only, not 'profile {action.value}'.", param_hint="FILE"
        )
    if action is ProfileAction.check and file is not None:  # a file alone: no workspace needed
        return _check_profile(file, json_)
    ws = _ws(db)
    if action is ProfileAction.init:
        written = decisions.init_profile(ws.data_dir, force=force)
        if json_:
            return _emit_json({"path": str(written)})
        print(f"Wrote the starter investor profile to {written}")
        path, origin = decisions.profile_origin(ws.data_dir)
        if path != written:
            print(f"Note: {origin} names {path}, which the jobs use instead.")
        print("Edit it, then check it with: toolkit profile check")
        return None
    path, origin = decisions.profile_origin(ws.data_dir)
    if action is ProfileAction.check:
        if path is None:
            msg = f"No profile file is in effect: the jobs use the {origin}, which are valid."
            return _emit_json({"path": None, "valid": True, "errors": []}) if json_ else print(msg)
        return _check_profile(path, json_)
    _show_profile(decisions.workspace_profile(ws.data_dir), path, origin, json_)
    return None


def _check_profile(target: Path, json_: bool) -> None:
    """``profile check``: every problem of the file on stderr, exit 1 when there is any."""
    from toolkit.processors.decisions import profile_errors

    errors = profile_errors(target)
    if json_:
        _emit_json({"path": str(target), "valid": not errors, "errors": errors})
    elif not errors:
        print(f"{target} is a valid investor profile.")
    else:
        n = len(errors)
        print(f"Error: {target} has {n} problem{'s' if n != 1 else ''}:", file=sys.stderr)
        for e in errors:
            print(f"  - {e}", file=sys.stderr)
    if errors:
        raise typer.Exit(1)


def _show_profile(prof: Any, path: Path | None, origin: str, json_: bool) -> None:
    import dataclasses

    import yaml

    def plain(v: Any) -> Any:
        if isinstance(v, dict):
            return {k: plain(x) for k, x in v.items()}
        return [plain(x) for x in v] if isinstance(v, list | tuple) else v

    values = plain(dataclasses.asdict(prof))
    if json_:
        return _emit_json(
            {"path": str(path) if path else None, "source": origin, "profile": values}
        )
    where = f"{path} (from {origin})" if path is not None else f"the {origin}"
    print(f"Investor profile in effect: {where}")
    if path is None:
        print("Write your own with: toolkit profile init")
    print(yaml.safe_dump(values, sort_keys=False, allow_unicode=True).rstrip())
    return None


@app.command()
def run(
    ctx: typer.Context,
    job_type: Annotated[str, typer.Argument(help="Job type whose notebook to execute.")],
    county: Annotated[str | None, typer.Option(help="County for a new job (default: all).")] = None,
    batch_size: Annotated[int | None, typer.Option(min=1, help="Batch size for a new job.")] = None,
    job: Annotated[
        str | None,
        typer.Option("--job", help="Work this job (id or prefix) instead of the latest."),
    ] = None,
    batches: Annotated[int | None, typer.Option(min=1, help="Session budget in batches.")] = None,
    minutes: Annotated[
        float | None, typer.Option(min=0.01, help="Session budget in minutes.")
    ] = None,
    until_done: Annotated[
        bool, typer.Option("--until-done", help="Run session after session until the job is done.")
    ] = False,
    workers: Annotated[
        int | None,
        typer.Option(
            min=1, help="Instead of a notebook, run N local worker processes until the job is done."
        ),
    ] = None,
    db: DbOpt = None,
    json_: JsonOpt = False,
    debug: DebugOpt = False,
) -> None:
    """Execute the job type's notebook headless, one session (or until done); see exit codes."""
    from toolkit.orchestrator import check_request

    try:
        ws = _ws(db)  # opened once: the parameters are checked and the records kept through it
        req = check_request(
            job_type,
            county=county,
            batch_size=batch_size,
            job_id=job,
            max_batches=batches,
            max_minutes=minutes,
            interactive=False,
            ws=ws,
            surface="cli",
        )
    except ValidationError as exc:  # bad usage: code 2, nothing changed
        _report(exc, bool(ctx.meta.get(_DEBUG)))
        raise typer.Exit(2) from None
    from toolkit.progress import LiveDisplay, StatusPoller

    # the live display reads the job's status from here about once a second, whatever
    # runs the session (worker processes, a papermill kernel); quiet for --json
    display = LiveDisplay(enabled=not json_)
    if workers is not None:
        from toolkit.orchestrator.workers import run_workers

        with display, StatusPoller(ws.url, display) as poller:
            poller.watch(req)
            result = run_workers(ws, req, workers)
            display.close()
        if json_:
            _emit_json([result.to_dict()])
        else:
            print(_run_line(result), flush=True)
        raise typer.Exit(result.exit_code)

    from toolkit.orchestrator.notebook import run_headless

    results: list[Any] = []

    def session_done(r: Any) -> None:  # called by the runner as each session ends
        results.append(r)
        display.close()  # the result says where the job stands; the next session resumes it
        if not json_:
            print(_run_line(r), flush=True)

    with display, StatusPoller(ws.url, display) as poller:
        returned = run_headless(
            req.job_type,
            until_done=until_done,
            progress=session_done,
            ws=ws,
            request=req,
            surface="cli",
            on_start=poller.watch,
        )
    for r in returned[len(results) :]:  # a runner that did not report as it went
        session_done(r)
    if json_:
        _emit_json([r.to_dict() for r in returned])
    raise typer.Exit(int(returned[-1].exit_code) if returned else 0)


@app.command()
def worker(
    job: Annotated[
        str | None, typer.Option("--job", help="Work only this job (id or prefix).")
    ] = None,
    type_: Annotated[
        str | None, typer.Option("--type", help="Work the active jobs of this type (oldest first).")
    ] = None,
    concurrency: Annotated[int, typer.Option(min=1, help="Worker processes on this machine.")] = 1,
    db: DbOpt = None,
    debug: DebugOpt = False,
) -> None:
    """Run sessions until Ctrl-C, working active jobs; many can share one Postgres workspace."""
    from toolkit import config
    from toolkit.orchestrator.workers import run_worker

    report = run_worker(
        db or config.default_db_url(), job_id=job, job_type=type_, concurrency=concurrency
    )
    print(report)


@app.command()
def init(db: DbOpt = None, json_: JsonOpt = False, debug: DebugOpt = False) -> None:
    """Make a file a workspace: a new one, or a DuckDB database that holds other tables
    (the toolkit's tables are added beside them; nothing of them is changed)."""
    import toolkit
    from toolkit import config

    url = db if db is not None else config.default_db_url()
    _refuse_foreign_file(url)
    ws = toolkit.connect(url, init=True)
    version = int(ws.sql("SELECT max(version) AS v FROM schema_migrations").v[0])
    ws.close()
    if json_:
        return _emit_json({"workspace": url, "schema_version": version})
    print(f"{url} is a toolkit workspace (schema version {version}).")


@app.command()
def migrate(
    to: Annotated[
        str, typer.Option("--to", help="The Postgres workspace to copy into (postgresql://…).")
    ],
    db: DbOpt = None,
    json_: JsonOpt = False,
    debug: DebugOpt = False,
) -> None:
    """Copy a DuckDB workspace (jobs, items, results, events) into empty Postgres; verify counts."""
    from toolkit import config
    from toolkit.migrate import migrate as do_migrate

    report = do_migrate(db or config.default_db_url(), to)
    if json_:
        return _emit_json(report)
    for table, n in report["tables"].items():
        print(f"  {table:<28} {n:>10,}")
    print(
        f"Copied {report['rows']:,} rows to {report['destination']} "
        f"in {report['seconds']:.1f} s; counts verified."
    )


def _run_line(r: Any) -> str:
    """``<job> <outcome> (exit N): <message>``, the session's counts, the hint and the record."""
    job = str(r.job_id)[:8] if r.job_id else "(no job)"
    first, *rest = str(r.message or "").splitlines() or [""]
    lines = [f"{job} {r.outcome} (exit {r.exit_code}): {first}", *(f"  {ln}" for ln in rest)]
    if r.job_id and r.outcome not in ("no_work", "no_processor"):
        lines.append(f"  this session: {r.counts}")
    if r.resume_hint:
        lines.append(f"  {r.resume_hint}")
    if r.record_path:
        lines.append(f"  record: {r.record_path}")
    return "\n".join(lines)


def lab_workspace(db: str | None) -> tuple[str, str | None]:
    """The workspace ``toolkit lab`` opens, and a note when it is not the one asked for.

    ``--db`` wins, then ``$TOOLKIT_DB``; without either, ``data/toolkit.duckdb`` — or the
    demo's ``data/demo.duckdb`` when only that one exists (the demo made it; say so).
    """
    from toolkit import config

    if db is not None:
        return (str(Path(db).resolve()) if db != ":memory:" and "://" not in db else db), None
    if os.environ.get(config.ENV_DB):
        return config.default_db_url(), None
    own = config.data_dir() / "toolkit.duckdb"
    demo = config.data_dir() / "demo.duckdb"
    if not own.exists() and demo.exists():
        return str(demo.resolve()), (
            f"{own} does not exist yet, so the notebooks open the demo's workspace {demo} "
            "(give --db to choose another)."
        )
    return str(own.resolve()), None


def lab_command(workspace: str, *, no_browser: bool, root: bool | None = None) -> list[str]:
    """The JupyterLab command line: the shipped notebooks; ``--allow-root`` as root."""
    from toolkit import config

    cmd = [sys.executable, "-m", "jupyter", "lab", str(config.notebooks_dir())]
    if no_browser:
        cmd.append("--no-browser")
    is_root = (hasattr(os, "geteuid") and os.geteuid() == 0) if root is None else root
    if is_root:  # JupyterLab refuses root without it ("Running as root is not recommended")
        cmd.append("--allow-root")
    return cmd


# JupyterLab's info lines and its URL banner; warnings, errors and tracebacks go through
_LAB_CHATTER = re.compile(r"^\s*$|^\[[IC] |^\s+(?:To access|Or copy|file://|https?://)")
_LAB_URL = re.compile(r"(https?://(?:localhost|127\.0\.0\.1|\[::1\])[^\s]*/lab[^\s]*)")


@app.command()
def lab(
    no_browser: Annotated[
        bool, typer.Option("--no-browser", help="Do not open a browser.")
    ] = False,
    db: DbOpt = None,
    debug: DebugOpt = False,
) -> None:
    """Open JupyterLab on the project's notebooks/ with this workspace ($TOOLKIT_DB), print its URL.

    Without --db: data/toolkit.duckdb, or the demo's data/demo.duckdb when only that exists.
    """
    import subprocess
    import threading

    from toolkit import config

    _refuse_foreign_file(db)
    workspace, note = lab_workspace(db)
    if note:
        print(f"Note: {note}", file=sys.stderr)
    env = {**os.environ, config.ENV_DB: workspace}  # the notebooks' db=None reads it
    cmd = lab_command(workspace, no_browser=no_browser)
    print(
        f"Starting JupyterLab on the notebooks, workspace {workspace} (Ctrl-C stops it)…",
        flush=True,
    )
    proc = subprocess.Popen(cmd, env=env, stderr=subprocess.PIPE, text=True, bufsize=1)
    shown = threading.Event()

    def relay() -> None:  # JupyterLab logs to stderr: its URL to stdout once, its problems
        assert proc.stderr is not None
        for line in proc.stderr:
            m = _LAB_URL.search(line)
            if debug or not (m or _LAB_CHATTER.match(line)):
                sys.stderr.write(line)
            if m and not shown.is_set():
                shown.set()
                print(f"JupyterLab: {m[1]}", flush=True)

    reader = threading.Thread(target=relay, daemon=True)
    reader.start()
    try:
        code = proc.wait()
    except KeyboardInterrupt:
        proc.terminate()
        code = proc.wait()
    reader.join(timeout=2)
    raise typer.Exit(code)


@app.command()
def demo(
    fresh: Annotated[
        bool,
        typer.Option(
            "--fresh/--keep", help="Start from a new demo workspace (default) or keep it."
        ),
    ] = True,
    db: DbOpt = None,
    debug: DebugOpt = False,
) -> None:
    """Play the guide's example session on the synthetic sample data."""
    from toolkit import config

    _refuse_foreign_file(db)
    if fresh and db is not None and Path(db).resolve() == Path(config.default_db_url()).resolve():
        raise ValidationError(
            f"--fresh would delete your workspace {db!r}; give the demo its own --db, or --keep."
        )
    from toolkit.demo import run_demo

    run_demo(db=db, fresh=fresh, out=print)
    target = Path(db) if db is not None else config.data_dir() / "demo.duckdb"
    print(f"\nOpen the demo's workspace in the notebooks: toolkit lab --db {target}")
    print(f"or from the command line, e.g.: toolkit pending --db {target}")


@app.command()
def say(
    text: Annotated[
        list[str], typer.Argument(metavar="PHRASE", help="One of the guide's phrases.")
    ],
    db: DbOpt = None,
    json_: JsonOpt = False,
    debug: DebugOpt = False,
) -> None:
    """Do what one of the guide's phrases says, e.g. "Show batch job status" (see docs/cli.md)."""
    from toolkit.phrases import parse_phrase
    from toolkit.phrases import say as say_phrase

    phrase = " ".join(text)
    parse_phrase(phrase)  # a bad phrase fails before the workspace is opened
    from toolkit.progress import LiveDisplay, snapshot_of_session

    ws = _ws(db)
    display = LiveDisplay(enabled=not json_)  # fed by the session, in this process
    with display:
        feed = None if json_ else (lambda d: display.feed(snapshot_of_session(d)))
        result = say_phrase(ws, phrase, on_progress=feed)
    if json_:
        _emit_json(result.to_dict())
    else:
        print(str(result))
    if result.exit_code:
        raise typer.Exit(result.exit_code)


# --- toolkit mcp: the guide's commands as MCP tools for an AI assistant (toolkit/assistant/) ---


@app.command()
def mcp(
    http: Annotated[
        bool,
        typer.Option(
            "--http",
            help="Serve streamable HTTP on 127.0.0.1 (at /mcp) instead of stdio; clients need "
            "the bearer token from $TOOLKIT_MCP_TOKEN, else one is generated and printed.",
        ),
    ] = False,
    port: Annotated[
        int | None,
        typer.Option("--port", min=1, max=65535, help="Port for --http (default 8765)."),
    ] = None,
    db: DbOpt = None,
    debug: DebugOpt = False,
) -> None:
    """Serve the guide's commands as MCP tools for an AI assistant (see docs/assistant.md)."""
    from toolkit.assistant.server import (
        DEFAULT_PORT,
        TOKEN_ENV,
        require_sdk,
        serve_http,
        serve_stdio,
        token_from_environment,
    )
    from toolkit.assistant.tools import Assistant

    require_sdk()  # before anything else: a missing SDK says which pip install fixes it
    if port is not None and not http:
        raise typer.BadParameter("--port is for --http (stdio needs no port).", param_hint="--port")
    _refuse_foreign_file(db)
    token, generated = token_from_environment() if http else ("", False)
    assistant = Assistant(_ws(db), secrets=[token] if token else [])
    level = "DEBUG" if debug else "WARNING"
    if not http:
        serve_stdio(assistant, log_level=level)
        return
    if generated:
        print(
            f"Bearer token (new for this run; set {TOKEN_ENV} to choose your own): {token}",
            file=sys.stderr,
            flush=True,
        )
    serve_http(assistant, token, port=port or DEFAULT_PORT, log_level=level)


def main(argv: list[str] | None = None) -> int:
    """Entry point of the installed ``toolkit`` command."""
    try:
        app(args=argv, prog_name="toolkit", standalone_mode=True)
    except SystemExit as exc:
        code = exc.code
        return code if isinstance(code, int) else (0 if code is None else 1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
