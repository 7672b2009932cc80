"""The demo: the guide's example session, on the synthetic sample data, for real.

``toolkit demo`` (or ``python -m toolkit.demo``) builds a fresh workspace from
``data/sample/`` (SYNTHETIC: invented properties in Blair, Clearfield,
Westmoreland and Somerset), then walks the guide's "Example Session":

1. an earlier session fetched parcel data for 17 Blair properties;
2. "What work is pending?" — the pending-work summary;
3. "Start Regrid scraping for Blair County in batches of 50" — three batches,
   then the session budget pauses it: "Paused at 150/235 properties (64%)";
4. next session, in a new process: "Resume batch job" — from property 151 to
   the end, and the job completes;
5. the pending-work summary and the job's status again.

Parcel data comes from the sample's synthetic Regrid-style bulk files, so the
demo needs no network and no token.

The demo writes only to files it created. A workspace it builds is marked
(``workspace_meta``: ``kind = 'demo'``); an existing ``--db`` file without that
mark -- someone's real workspace -- is refused, never deleted or filled with
sample data, and so is the default ``data/demo.duckdb`` when it is not a demo
workspace. The mark is also what lets the environmental research read the
SYNTHETIC sample layers (``TOOLKIT_ENV_SOURCES=sample``): no other workspace does.
"""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from toolkit import config
from toolkit.jobs.registry import PROPERTY_STAGES

if TYPE_CHECKING:
    import pandas as pd

    from toolkit.workspace import Workspace

SAMPLE_COUNTIES = ("Blair", "Clearfield", "Westmoreland", "Somerset")
#: ``workspace_meta`` key and value marking a workspace the demo made.
KIND_KEY, DEMO_KIND = "kind", "demo"


def mark_demo(ws: Workspace) -> None:
    """Mark ``ws`` as a demo workspace (the demo may replace it; it may read sample layers)."""
    from toolkit.backends.common import utcnow

    ws.store.run(lambda con: con.execute(ws.q.workspace_meta_set, [KIND_KEY, DEMO_KIND, utcnow()]))


def is_demo(ws: Workspace) -> bool:
    """Whether ``ws`` carries the demo's mark.

    Examples
    --------
    >>> import toolkit
    >>> is_demo(toolkit.connect(":memory:"))
    False
    """
    return ws.processor_context().meta(KIND_KEY) == DEMO_KIND


def demo_file_state(path: str | Path) -> str:
    """``"missing"``, ``"demo"``, or why the file at ``path`` is not a demo workspace.

    Read without changing the file (DuckDB read-only, no migration): a workspace
    of an older toolkit, another program's database or any other file is not
    the demo's.
    """
    import duckdb

    from toolkit.sql import load_queries

    file = Path(path)
    if not file.exists():
        return "missing"
    if file.is_dir():
        return "it is a folder"
    if file.stat().st_size == 0:
        return "it is an empty file the demo did not create"
    with file.open("rb") as fh:
        if fh.read(12)[8:12] != b"DUCK":
            return "it is not a DuckDB database"
    try:
        con = duckdb.connect(str(file), read_only=True)
    except duckdb.Error as exc:
        return f"it cannot be read ({str(exc).splitlines()[0]})"
    try:
        query = load_queries("toolkit.backends.duckdb", "duckdb").workspace_meta_get
        rows = con.execute(query, [KIND_KEY]).fetchall()
    except duckdb.CatalogException:
        return "it has no demo mark (a workspace the demo did not build)"
    finally:
        con.close()
    if rows and rows[0][0] == DEMO_KIND:
        return "demo"
    return "it has no demo mark (a workspace the demo did not build)"


def _check_demo_target(db: Path, fresh: bool) -> None:
    """Refuse to touch a file the demo did not create."""
    from toolkit.exceptions import NotADemoWorkspaceError

    if str(db) == ":memory:" or "://" in str(db):
        raise NotADemoWorkspaceError(
            f"The demo builds a DuckDB file; {str(db)!r} is not a file path. Give it a new"
            " file, e.g. --db data/demo.duckdb."
        )
    state = demo_file_state(db)
    if state in ("missing", "demo"):
        return
    action = "start fresh and would delete it" if fresh else "add its sample data to it"
    raise NotADemoWorkspaceError(
        f"{db} exists and is not a demo workspace: {state}. The demo would {action}, so it"
        " stopped; nothing was changed. Give the demo a new file (--db new_demo.duckdb),"
        " or move this one away yourself."
    )


def sample_properties() -> pd.DataFrame:
    """The synthetic sample universe (``data/sample/properties.csv``; not real properties)."""
    import pandas as pd

    return pd.read_csv(config.sample_dir() / "properties.csv", comment="#", dtype=str)


def build_sample_workspace(db: str | Path) -> Workspace:
    """A workspace with the sample properties and the sample bulk files registered."""
    import toolkit

    ws = toolkit.connect(str(db))
    mark_demo(ws)  # SYNTHETIC data: this is a demo workspace
    ws.import_properties(sample_properties())
    _add_sample_bulk_files(ws)
    return ws


def _add_sample_bulk_files(ws: Workspace) -> None:
    """The sample's synthetic Regrid-style bulk file for each sample county."""
    bulk = config.sample_dir() / "regrid"
    for county in SAMPLE_COUNTIES:
        ws.add_bulk_file(next(bulk.glob(f"pa_{county.lower()}_synthetic.*")), county)


def _table(frame: pd.DataFrame) -> str:
    return frame.to_string(index=False) if not frame.empty else "(nothing)"


def _configure_sample_sources() -> None:
    """Point the processors at the sample's offline sources (this process and its kernels)."""
    import os

    os.environ["TOOLKIT_ENV_SOURCES"] = "sample"
    os.environ["TOOLKIT_COUNTY_RESEARCH"] = str(config.sample_dir() / "county_research.yaml")


def run_demo(
    db: str | Path | None = None,
    *,
    fresh: bool = True,
    headless: bool = True,
    out: Callable[[str], Any] = print,
) -> dict[str, Any]:
    """Run the guide's example session, then the whole pipeline, on the sample data.

    With ``headless`` (the default), every session after the first runs its job
    type's notebook with papermill in a new kernel, leaving the executed notebook
    as its record; without it, sessions run in this process (faster, no records).
    Returns the figures it printed.
    """
    db = Path(db) if db is not None else config.data_dir() / "demo.duckdb"
    if fresh and db.exists() and db.resolve() == Path(config.default_db_url()).resolve():
        from toolkit.exceptions import NotADemoWorkspaceError

        raise NotADemoWorkspaceError(
            f"{db} is your workspace ($TOOLKIT_DB or data/toolkit.duckdb); "
            "the demo starts fresh and would delete it. Give the demo another file."
        )
    _check_demo_target(db, fresh)
    db.parent.mkdir(parents=True, exist_ok=True)
    if fresh:
        for suffix in ("", ".wal"):
            Path(str(db) + suffix).unlink(missing_ok=True)
    _configure_sample_sources()
    out(f"taxsale-toolkit demo — workspace {db}")
    out("Sample data is SYNTHETIC (data/sample/): invented properties, not a real sale list.\n")
    ws = build_workspace_inputs(db)
    out(
        "CLR factors: the sample's SYNTHETIC placeholders, as its assessed values are invented "
        "(a workspace of your own uses the PA table shipped with the toolkit: docs/clr.md).\n"
    )
    records: list[str] = []

    def session(job_type: str, job_id: str | None = None, county: str | None = None) -> None:
        """Sessions of one job type until it is done: papermill kernels, or in-process."""
        messages: list[str] = []
        if headless:
            from toolkit.orchestrator.notebook import run_headless

            for r in run_headless(
                job_type, db=str(db), job_id=job_id, county=county, until_done=True
            ):
                if r.record_path:
                    records.append(r.record_path)
                messages.append(r.message)
                if r.exit_code not in (0, 10, 13):  # done, paused at budget, some failed
                    raise RuntimeError(f"{job_type} session failed: {r.message}")
        else:
            import toolkit

            w = toolkit.connect(str(db))
            job = job_id or w.create_batch_job(job_type, county, force=True)
            while True:
                s = w.run_session(job)
                messages.append(s.message)
                if s.status != "paused" or s.outcome != "budget":
                    break
                w.resume_batch_job(job)
            w.close()
        n = len(messages)
        out(
            f"  {job_type}: {n} session{'s' if n != 1 else ''} → "
            f"{messages[-1] if messages else 'nothing to do'}"
        )

    out('User: "Show pending work"')
    out(_table(ws.get_pending_work_summary()))
    ws.close()
    out("\nParse the sale-list PDFs, and import the county research file:")
    session("pdf_parsing")
    session("county_research")

    import toolkit

    ws = toolkit.connect(str(db))
    liens = ws.import_liens(config.sample_dir() / "liens.csv")
    out(f"Imported {liens['imported']} lien findings from the (synthetic) recorder search file.")
    out(
        "\nAn earlier session fetched parcel data for 17 Blair properties "
        "(that job was then cancelled)."
    )
    early = ws.create_batch_job("regrid_scraping", "Blair", 17)
    ws.run_session(early, max_items=17)
    ws.cancel_batch_job(early)

    out('\nUser: "What work is pending?"')
    before = ws.get_pending_work_summary()
    out(_table(before))

    out('\nUser: "Start Regrid scraping for Blair County in batches of 50"')
    job = ws.create_batch_job("regrid_scraping", "Blair", 50)
    shown: set[int] = set()

    def progress(p: dict[str, Any]) -> None:
        n = p["session_processed"]
        if n and n % 50 == 0 and n not in shown:
            shown.add(n)
            out(f"- processed batch {p['session_batches']} ({n} properties)")

    first = ws.run_session(job, on_progress=progress)
    out(first.message)
    out(first.resume_hint)
    ws.close()

    out('\nNext session, a new process. User: "Resume batch job"')
    if headless:
        session("regrid_scraping", job_id=job)
    else:
        proc = subprocess.run(
            [sys.executable, "-m", "toolkit.demo", "--resume", str(db)],
            capture_output=True,
            text=True,
            check=False,
        )
        if proc.returncode != 0:
            raise RuntimeError(f"the resumed session failed:\n{proc.stdout}\n{proc.stderr}")
        out(proc.stdout.rstrip())

    ws = toolkit.connect(str(db))
    status = ws.get_batch_status(job)
    out('\nUser: "Show batch job status"')
    keys = (
        "job_id",
        "job_type",
        "county",
        "status",
        "batch_size",
        "total_items",
        "processed_items",
        "failed_items",
        "current_batch",
        "total_batches",
        "percent_complete",
    )
    for k in keys:
        out(f"  {k:<16} {status[k]}")
    ws.close()

    out("\nThe rest of the pipeline, session by session:")
    for job_type in PROPERTY_STAGES:
        session(job_type)

    ws = toolkit.connect(str(db))
    out('\nUser: "Show pending work"')
    after = ws.get_pending_work_summary()
    out(_table(after))
    funnel = ws.run_data_audit()["stages"]
    out("\nPipeline funnel per county:")
    out(_table(funnel))
    bids = ws.bid_list()
    counts = bids.decision.value_counts().to_dict()
    out(
        f"\nBid list: {counts.get('BID', 0)} BID, {counts.get('REVIEW', 0)} REVIEW (PASS left out)."
    )
    cols = ["decision", "county", "parcel_id", "upset_price", "max_bid_moderate", "title_status"]
    out(_table(bids[cols].head(10)))
    exports = db.parent / "exports"
    csv = ws.export_bids(exports / "demo_bids.csv")
    out(f"\nExported the bid list: {csv}")
    try:
        xlsx = ws.export_bids(exports / "demo_bids.xlsx")
        out(f"and {xlsx}")
    except ImportError:
        out("(Excel export needs: pip install 'taxsale-toolkit[excel]')")
    if records:
        out(
            f"\nSession records (executed notebooks): {len(records)} "
            f"in {Path(records[0]).parent.parent}"
        )
    out(f"The workspace is a plain DuckDB file: {db}")
    out("Try: SELECT * FROM get_pending_work_summary();  SELECT * FROM vw_completed_batch_jobs;")
    ws.close()
    return {
        "job_id": job,
        "first": first.message,
        "pending_before": before,
        "pending_after": after,
        "status": status,
        "bids": bids,
        "records": records,
    }


def build_workspace_inputs(db: str | Path) -> Workspace:
    """A fresh workspace with the sample inputs: sale-list PDFs, bulk files, liens, CLR factors.

    The CLR factors are the sample's SYNTHETIC ones for its four counties, so the demo never
    falls back to the real PA table (invented assessed values x real factors would look real).
    """
    import toolkit

    ws = toolkit.connect(str(db))
    mark_demo(ws)
    pdfs = config.sample_dir() / "pdfs"
    for county in SAMPLE_COUNTIES:
        ws.add_document(next(pdfs.glob(f"{county.lower()}_*.pdf")), county)
    _add_sample_bulk_files(ws)
    ws.import_clr_factors(config.sample_dir() / "clr_factors.csv")
    return ws


def _resume(db: str) -> None:
    import toolkit

    ws = toolkit.connect(db)
    job = ws.resume_batch_job()
    st = ws.get_batch_status(job)
    first = st["processed_items"] + st["failed_items"] + st["skipped_items"] + 1
    print(f"- found paused job {job[:8]}; resuming from property {first}")
    s = ws.run_session(job)
    print(f"- processed the remaining {s.processed} properties")
    print(s.message)


def main(argv: list[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    if args[:1] == ["--resume"] and len(args) == 2:
        _resume(args[1])
        return 0
    run_demo(args[0] if args else None)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
