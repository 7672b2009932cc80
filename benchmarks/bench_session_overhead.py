"""The cost of a headless papermill session against run_session in-process, same 200 items.

    python benchmarks/bench_session_overhead.py [--repeat 3]

Both sides work 200 regrid_scraping items (Blair and Clearfield, synthetic sample data) through
the same tiny processor on fresh workspace files; the papermill side adds a kernel start, the
notebook's cells and writing the executed notebook as the session's record.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))
sys.path.insert(0, str(ROOT))

from helpers import load_sample, parcel  # noqa: E402

import toolkit  # noqa: E402
from toolkit.notebook import run_headless  # noqa: E402

ITEMS = 200


def fresh(tmp: Path, name: str) -> str:
    db = str(tmp / f"{name}.duckdb")
    ws = toolkit.connect(db)
    load_sample(ws)
    ws.close()
    return db


def in_process(tmp: Path, i: int) -> float:
    db = fresh(tmp, f"inproc{i}")
    ws = toolkit.connect(db)
    job = ws.create_batch_job("regrid_scraping", None, 50)
    t0 = time.perf_counter()
    summary = ws.run_session(job, parcel, max_items=ITEMS)
    took = time.perf_counter() - t0
    assert summary.processed == ITEMS, summary
    ws.close()
    return took


def headless(tmp: Path, i: int) -> float:
    db = fresh(tmp, f"papermill{i}")
    t0 = time.perf_counter()
    [res] = run_headless("regrid_scraping", db=db, batches=ITEMS // 50, processor="helpers:parcel")
    took = time.perf_counter() - t0
    assert res.exit_code == 10 and f"Paused at {ITEMS}/" in res.message, res
    return took


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    os.environ["PYTHONPATH"] = os.pathsep.join(
        p for p in (str(ROOT / "tests"), os.environ.get("PYTHONPATH", "")) if p
    )
    with tempfile.TemporaryDirectory() as d:
        tmp = Path(d)
        headless(tmp, -1)  # warm-up: kernelspec written, imports cached
        ref = [in_process(tmp, i) for i in range(args.repeat)]
        pm = [headless(tmp, i) for i in range(args.repeat)]
    r, p = statistics.median(ref), statistics.median(pm)
    print(f"{ITEMS} items, median of {args.repeat}")
    print(f"  run_session in-process : {r:7.3f} s per session   ({ITEMS / r:8.0f} items/s)")
    print(f"  papermill headless     : {p:7.3f} s per session   ({ITEMS / p:8.0f} items/s)")
    print(f"  overhead               : {p - r:7.3f} s per session   ratio {p / r:.1f}x")


if __name__ == "__main__":
    main()
