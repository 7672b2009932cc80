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
"""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from toolkit import config

if TYPE_CHECKING:
    import pandas as pd

    from toolkit.workspace import Workspace

SAMPLE_COUNTIES = ("Blair", "Clearfield", "Westmoreland", "Somerset")


def sample_properties() -> pd.DataFrame:
    """The synthetic sample universe (``data/sample/properties.csv``; not real properties)."""
    import pandas as pd

    return pd.read_csv(config.sample_dir() / "properties.csv", comment="#", dtype=str)


def build_sample_workspace(db: str | Path) -> Workspace:
    """A workspace with the sample properties and the sample bulk files registered."""
    import toolkit

    ws = toolkit.connect(str(db))
    ws.import_properties(sample_properties())
    bulk = config.sample_dir() / "regrid"
    for county in SAMPLE_COUNTIES:
        path = next(bulk.glob(f"pa_{county.lower()}_synthetic.*"))
        ws.add_bulk_file(path, county)
    return ws


def _table(frame: pd.DataFrame) -> str:
    return frame.to_string(index=False) if not frame.empty else "(nothing)"


def run_demo(db: str | Path | None = None, *, fresh: bool = True,
             out: Callable[[str], Any] = print) -> dict[str, Any]:  # fmt: skip
    """Run the guide's example session on the sample data; returns the figures it printed."""
    db = Path(db) if db is not None else config.data_dir() / "demo.duckdb"
    db.parent.mkdir(parents=True, exist_ok=True)
    if fresh and db.exists() and db.resolve() == Path(config.default_db_url()).resolve():
        from toolkit.exceptions import ValidationError

        raise ValidationError(
            f"{db} is your workspace ($TOOLKIT_DB or data/toolkit.duckdb); the demo starts fresh and "
            "would delete it. Give the demo another file."
        )
    if fresh:
        for suffix in ("", ".wal"):
            Path(str(db) + suffix).unlink(missing_ok=True)
    out(f"taxsale-toolkit demo — workspace {db}")
    out("Sample data is SYNTHETIC (data/sample/): invented properties, not a real sale list.\n")
    ws = build_sample_workspace(db)

    out("Earlier session: parcel data for 17 Blair properties (then that job was cancelled).")
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

    out('\nNext session (a new process). User: "Resume batch job"')
    proc = subprocess.run(
        [sys.executable, "-m", "toolkit.demo", "--resume", str(db)],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    if proc.returncode != 0:
        raise RuntimeError(f"the resumed session failed:\n{proc.stdout}\n{proc.stderr}")
    out(proc.stdout.rstrip())

    import toolkit

    ws = toolkit.connect(str(db))
    out('\nUser: "Show pending work"')
    after = ws.get_pending_work_summary()
    out(_table(after))
    status = ws.get_batch_status(job)
    out('\nUser: "Show batch job status"')
    keys = ("job_id", "job_type", "county", "status", "batch_size", "total_items", "processed_items",
            "failed_items", "current_batch", "total_batches", "percent_complete")  # fmt: skip
    for k in keys:
        out(f"  {k:<16} {status[k]}")
    out(f"\nThe workspace is a plain DuckDB file: {db}")
    out("Try: SELECT * FROM get_pending_work_summary();  SELECT * FROM vw_completed_batch_jobs;")
    ws.close()
    return {"job_id": job, "first": first.message, "pending_before": before, "pending_after": after,
            "status": status}  # fmt: skip


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
