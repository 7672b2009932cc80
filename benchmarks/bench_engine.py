"""Batch engine figures, each beside a reference measured in the same run.

1. No-op throughput of ``run_session`` at batch sizes 50 and 100 (items/s), beside
   (a) the limit: the same rows written by plain vectorised DuckDB transactions,
   one per batch, and (b) the naive design: one commit per item.
2. ``get_pending_work_summary()`` over 1,000,000 properties (ms).
3. Peak Python memory (tracemalloc) and RSS growth while creating a 1,000,000-item job.

Run: ``python benchmarks/bench_engine.py [--items 20000] [--big 1000000]``
"""

from __future__ import annotations

import argparse
import datetime as dt
import resource
import shutil
import statistics
import tempfile
import time
import tracemalloc
import uuid
from pathlib import Path

import duckdb
import pandas as pd

import toolkit


def make_properties(ws: toolkit.Workspace, n: int) -> None:
    """n synthetic properties in Blair, inserted in bulk (no per-row Python)."""
    ws.sql(
        "INSERT INTO properties (id, county_id, parcel_id, parcel_norm, upset_price, sale_type, "
        "auction_status, created_at, updated_at) "
        "SELECT uuid(), 13, 'SYN-' || i, 'SYN' || i, 1000, 'upset', 'active', now()::TIMESTAMP, "
        "now()::TIMESTAMP FROM range($1) t(i)",
        [n],
    )


def noop(item: dict) -> dict:
    return {"source": "bench"}


def bench_session(path: str, items: int, batch: int) -> float:
    ws = toolkit.connect(path)
    job = ws.create_batch_job("regrid_scraping", "Blair", batch)
    t0 = time.perf_counter()
    s = ws.run_session(job, noop, max_items=items)
    dt_ = time.perf_counter() - t0
    assert s.processed == items, s
    return items / dt_


def bench_vectorised_limit(path: str, items: int, batch: int) -> float:
    """The limit: per batch one transaction that writes the results and the item statuses."""
    ws = toolkit.connect(path)
    job = ws.create_batch_job("regrid_scraping", "Blair", batch)
    ids = ws.sql(
        "SELECT seq, item_id FROM batch_job_items WHERE job_id = $1::UUID ORDER BY seq", [job]
    )
    ws.close()
    con = duckdb.connect(path)
    t0 = time.perf_counter()
    for start in range(0, items, batch):
        chunk = ids.iloc[start : start + batch]
        now = dt.datetime.now(dt.UTC).replace(tzinfo=None)
        res = pd.DataFrame({"property_id": chunk.item_id, "source": "bench", "fetched_at": now})
        st = pd.DataFrame({"seq": chunk.seq})
        con.execute("BEGIN")
        con.register("res", res)
        con.execute(
            "INSERT OR REPLACE INTO regrid_data (property_id, source, fetched_at) "
            "SELECT property_id::UUID, source, fetched_at FROM res"
        )
        con.register("st", st)
        con.execute(
            "UPDATE batch_job_items SET status = 'done', finished_at = ? FROM st "
            "WHERE job_id = ?::UUID AND batch_job_items.seq = st.seq",
            [now, job],
        )
        con.execute("COMMIT")
    rate = items / (time.perf_counter() - t0)
    con.close()
    return rate


def bench_naive(path: str, items: int, batch: int) -> float:
    """The naive design: one commit per item (the guide's update_batch_progress on one connection)."""
    ws = toolkit.connect(path)
    job = ws.create_batch_job("regrid_scraping", "Blair", batch)
    ids = ws.sql(
        "SELECT seq, item_id FROM batch_job_items WHERE job_id = $1::UUID ORDER BY seq", [job]
    )
    ws.close()
    con = duckdb.connect(path)
    t0 = time.perf_counter()
    for seq, item in zip(ids.seq[:items], ids.item_id[:items], strict=True):
        now = dt.datetime.now(dt.UTC).replace(tzinfo=None)
        con.execute("BEGIN")
        con.execute(
            "INSERT OR REPLACE INTO regrid_data (property_id, source, fetched_at) VALUES (?::UUID, 'bench', ?)",
            [item, now],
        )
        con.execute(
            "UPDATE batch_job_items SET status = 'done', finished_at = ? WHERE job_id = ?::UUID AND seq = ?",
            [now, job, int(seq)],
        )
        con.execute(
            "UPDATE batch_jobs SET processed_items = processed_items + 1 WHERE id = ?::UUID", [job]
        )
        con.execute("COMMIT")
    rate = items / (time.perf_counter() - t0)
    con.close()
    return rate


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--items", type=int, default=20_000)
    ap.add_argument("--naive-items", type=int, default=3_000)
    ap.add_argument("--big", type=int, default=1_000_000)
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args()
    tmp = Path(tempfile.mkdtemp())
    base = str(tmp / "base.duckdb")
    ws = toolkit.connect(base)
    make_properties(ws, args.items)
    ws.sql("CHECKPOINT")
    ws.close()
    runs = iter(range(1_000_000))

    def fresh() -> str:
        """A copy of the base workspace, so every run starts from the same state."""
        dst = tmp / f"run{next(runs)}.duckdb"
        shutil.copyfile(base, dst)
        return str(dst)

    print(
        f"# run_session no-op throughput, {args.items:,} items, median of {args.repeat} (items/s)"
    )
    print(
        f"{'batch':>6} {'run_session':>12} {'limit':>10} {'naive':>10} {'vs limit':>9} {'vs naive':>9}"
    )
    for batch in (50, 100):
        s = statistics.median(bench_session(fresh(), args.items, batch) for _ in range(args.repeat))
        lim = statistics.median(
            bench_vectorised_limit(fresh(), args.items, batch) for _ in range(args.repeat)
        )
        nai = statistics.median(
            bench_naive(fresh(), args.naive_items, batch) for _ in range(args.repeat)
        )
        print(
            f"{batch:>6} {s:>12,.0f} {lim:>10,.0f} {nai:>10,.0f} {s / lim:>8.2f}x {s / nai:>8.1f}x"
        )

    big = str(tmp / "big.duckdb")
    ws = toolkit.connect(big)
    make_properties(ws, args.big)
    ws.sql("CHECKPOINT")
    times = []
    for _ in range(5):
        t0 = time.perf_counter()
        ws.get_pending_work_summary()
        times.append((time.perf_counter() - t0) * 1000)
    # reference: the bare count of properties that have no parcel data, on an open connection
    ws.close()
    con = duckdb.connect(big)
    ref = []
    for _ in range(5):
        t0 = time.perf_counter()
        con.execute(
            "SELECT count(*) FROM properties p WHERE p.id NOT IN (SELECT property_id FROM regrid_data)"
        ).fetchall()
        ref.append((time.perf_counter() - t0) * 1000)
    con.close()
    med, rmed = statistics.median(times), statistics.median(ref)
    print(f"\n# get_pending_work_summary() over {args.big:,} properties (connection open included)")
    print(
        f"median {med:.0f} ms (target < 200 ms); bare anti-join count {rmed:.0f} ms; ratio {med / rmed:.1f}x"
    )

    ws = toolkit.connect(big)
    rss0 = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    tracemalloc.start()
    t0 = time.perf_counter()
    job = ws.create_batch_job("regrid_scraping", "Blair", 50)
    secs = time.perf_counter() - t0
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    rss1 = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    n = ws.get_batch_status(job)["total_items"]
    print(f"\n# create_batch_job over {n:,} items")
    print(
        f"{secs:.2f} s; peak Python heap {peak / 2**20:.1f} MiB; "
        f"process max RSS grew {(rss1 - rss0) / 1024:.0f} MiB (DuckDB buffers included)"
    )
    print(
        f"(one Python object per item would need ≥ {n * 100 / 2**20:.0f} MiB; job {uuid.UUID(job).hex[:8]})"
    )


if __name__ == "__main__":
    main()
