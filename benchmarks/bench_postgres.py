"""No-op items per second through Postgres workers: the toolkit beside pgqueuer and procrastinate.

    python benchmarks/bench_postgres.py [--items 20000] [--workers 1 4 8] [--kill-items 50000]

All three run the same number of no-op jobs on the same server in the same run,
each in a fresh database, with the same number of worker *processes*. The
workers are started first and given ``--warmup`` seconds to import and connect;
then the work is released in one step (the toolkit's job is resumed, the peers'
jobs are enqueued in one statement), and the rate is measured between 5 % and
95 % done (sampled from the database). So process start-up is left out for
everyone, whatever ``--items``. The toolkit's items also write their result
row (a ``regrid_data`` row per property) and their status in the same
transaction, which the peers' no-op jobs do not have to do.

Then the kill run: 8 toolkit workers on ``--kill-items`` items, two SIGKILLed
at 20 %; it reports whether every item finished exactly once.

pgqueuer and procrastinate are benchmark-only: ``pip install pgqueuer procrastinate``.
Server: ``$TOOLKIT_TEST_PG`` (admin URL), else postgresql://postgres@127.0.0.1:5432/postgres.
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing
import os
import signal
import sys
import time
import uuid
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
ADMIN = os.environ.get("TOOLKIT_TEST_PG", "postgresql://postgres@127.0.0.1:5432/postgres")


def noop(item: dict) -> dict:
    """The toolkit's no-op processor: an empty result (the row still gets written)."""
    return {}


def url_for(name: str) -> str:
    return urlunsplit(urlsplit(ADMIN)._replace(path="/" + name))


def admin(sql: str) -> None:
    import psycopg

    with psycopg.connect(ADMIN, autocommit=True) as con:
        con.execute(sql)


def fresh_db(tag: str) -> str:
    name = f"bench_{tag}_{uuid.uuid4().hex[:8]}"
    admin(f'CREATE DATABASE "{name}"')
    return url_for(name)


def drop_db(url: str) -> None:
    admin(f'DROP DATABASE IF EXISTS "{urlsplit(url).path.lstrip("/")}" WITH (FORCE)')


def scalar(url: str, sql: str) -> int:
    import psycopg

    with psycopg.connect(url, autocommit=True) as con:
        return int(con.execute(sql).fetchone()[0])


def measure(url: str, done_sql: str, total: int, procs: list, timeout: float = 600) -> float:
    """Items per second between 5 % and 95 % done, polling ``done_sql``."""
    import psycopg

    lo, hi = total * 0.05, total * 0.95
    t_lo = n_lo = None
    deadline = time.monotonic() + timeout
    with psycopg.connect(url, autocommit=True) as con:
        while time.monotonic() < deadline:
            n = int(con.execute(done_sql).fetchone()[0])
            now = time.monotonic()
            if t_lo is None and n >= lo:
                t_lo, n_lo = now, n
            if n >= hi and t_lo is not None:
                return (n - n_lo) / max(now - t_lo, 1e-6)
            if not any(p.is_alive() for p in procs) and n < hi:
                raise RuntimeError(f"workers exited at {n}/{total}")
            time.sleep(0.02)
    raise RuntimeError("timed out")


# -- toolkit ------------------------------------------------------------------


WARMUP = 3.0  # seconds the workers get to start before the work is released (--warmup)


def toolkit_setup(url: str, n: int, batch: int = 100) -> str:
    import pandas as pd

    import toolkit

    ws = toolkit.connect(url)
    ws.import_properties(
        pd.DataFrame({"parcel_id": [f"B-{i}" for i in range(n)], "county": "Blair"})
    )
    job = ws.create_batch_job("regrid_scraping", "Blair", batch)
    ws.close()
    return job


def bench_toolkit(n: int, workers: int) -> float:
    import toolkit
    from toolkit.orchestrator.workers import start_local_workers, stop_local_workers

    url = fresh_db("toolkit")
    try:
        job = toolkit_setup(url, n)
        ws = toolkit.connect(url)
        ws.pause_batch_job(job)  # the workers start, find it paused and wait
        procs = start_local_workers(
            url, workers, job_id=job, processor="bench_postgres:noop", poll_seconds=0.1
        )
        try:
            time.sleep(WARMUP)
            ws.resume_batch_job(job)
            ws.close()
            rate = measure(
                url, f"SELECT processed_items FROM batch_jobs WHERE id = '{job}'", n, procs
            )
            for p in procs:
                p.join(120)
        finally:
            stop_local_workers(procs)
        return rate
    finally:
        drop_db(url)


# -- the peers -------------------------------------------------------------------


def run_peer(url: str, worker, workers: int, enqueue, done_sql: str, n: int) -> float:
    """Start a peer's worker processes, give them WARMUP s, enqueue the n jobs in one
    step (``enqueue``, a coroutine function), and measure; the workers are killed after."""
    ctx = multiprocessing.get_context("spawn")
    procs = [ctx.Process(target=worker, args=(url,)) for _ in range(workers)]
    for p in procs:
        p.start()
    try:
        time.sleep(WARMUP)
        asyncio.run(enqueue())
        return measure(url, done_sql, n, procs)
    finally:
        for p in procs:
            if p.is_alive():
                p.kill()


# -- pgqueuer -----------------------------------------------------------------


async def _pgq_driver(url: str):
    import psycopg
    from pgqueuer import PsycopgDriver

    con = await psycopg.AsyncConnection.connect(url, autocommit=True)
    return con, PsycopgDriver(con)


def _pgq_worker(url: str) -> None:
    async def main() -> None:
        from datetime import timedelta

        from pgqueuer import Queries, QueueManager
        from pgqueuer.types import QueueExecutionMode

        con, driver = await _pgq_driver(url)
        qm = QueueManager(Queries(driver))

        @qm.entrypoint("noop")
        async def _noop(job) -> None:
            return None

        # continuous: started before the jobs exist, woken by pgqueuer's NOTIFY
        await qm.run(
            batch_size=100,
            mode=QueueExecutionMode.continuous,
            dequeue_timeout=timedelta(seconds=1),
        )
        await con.close()

    asyncio.run(main())


def bench_pgqueuer(n: int, workers: int) -> float:
    from pgqueuer import Queries

    url = fresh_db("pgqueuer")

    async def install() -> None:
        con, driver = await _pgq_driver(url)
        await Queries(driver).install()
        await con.close()

    async def enqueue() -> None:
        con, driver = await _pgq_driver(url)
        await Queries(driver).enqueue(["noop"] * n, [None] * n, [0] * n)  # one INSERT
        await con.close()

    try:
        asyncio.run(install())
        return run_peer(
            url, _pgq_worker, workers, enqueue, f"SELECT {n} - count(*) FROM pgqueuer", n
        )
    finally:
        drop_db(url)


# -- procrastinate --------------------------------------------------------------


def _proc_app(url: str):
    import procrastinate

    app = procrastinate.App(connector=procrastinate.PsycopgConnector(conninfo=url))

    @app.task(name="noop")
    async def _noop() -> None:
        return None

    return app, _noop


def _proc_worker(url: str) -> None:
    import logging

    logging.disable(logging.CRITICAL)
    app, _ = _proc_app(url)

    async def main() -> None:
        async with app.open_async():
            await app.run_worker_async(
                wait=True,
                concurrency=10,
                fetch_job_polling_interval=0.05,
                install_signal_handlers=False,
            )

    asyncio.run(main())


def bench_procrastinate(n: int, workers: int) -> float:
    url = fresh_db("procrastinate")
    app, task = _proc_app(url)

    async def install() -> None:
        async with app.open_async():
            await app.schema_manager.apply_schema_async()

    async def enqueue() -> None:
        async with app.open_async():
            await task.batch_defer_async(*[{} for _ in range(n)])

    try:
        asyncio.run(install())
        done = "SELECT count(*) FROM procrastinate_jobs WHERE status = 'succeeded'"
        return run_peer(url, _proc_worker, workers, enqueue, done, n)
    finally:
        drop_db(url)


# -- the kill run -----------------------------------------------------------------


def kill_run(n: int) -> str:
    from toolkit.orchestrator.workers import start_local_workers, stop_local_workers

    url = fresh_db("kill")
    try:
        job = toolkit_setup(url, n)
        t0 = time.monotonic()
        procs = start_local_workers(
            url, 8, job_id=job, processor="bench_postgres:noop", poll_seconds=0.1
        )
        try:
            while (
                scalar(url, f"SELECT processed_items FROM batch_jobs WHERE id = '{job}'") < n // 5
            ):
                time.sleep(0.02)
            for p in procs[:2]:
                os.kill(p.pid, signal.SIGKILL)
            for p in procs[2:]:
                p.join(300)
        finally:
            stop_local_workers(procs)
        secs = time.monotonic() - t0
        done = scalar(
            url, f"SELECT count(*) FROM batch_job_items WHERE job_id = '{job}' AND status = 'done'"
        )
        rows = scalar(
            url, f"SELECT count(DISTINCT property_id) FROM regrid_data WHERE job_id = '{job}'"
        )
        counted = scalar(url, f"SELECT processed_items FROM batch_jobs WHERE id = '{job}'")
        again = scalar(
            url, f"SELECT count(*) FROM batch_job_items WHERE job_id = '{job}' AND attempts > 1"
        )
        ok = done == rows == counted == n
        return (
            f"{n} items, 8 workers, 2 SIGKILLed at 20%: done {done}, result rows {rows}, counted {counted} "
            f"-> {'exactly once' if ok else 'MISMATCH'}; {again} items re-claimed from the killed "
            f"workers; {secs:.1f} s wall"
        )
    finally:
        drop_db(url)


def main() -> None:
    global WARMUP
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--items", type=int, default=20_000)
    ap.add_argument("--workers", type=int, nargs="+", default=[1, 4, 8])
    ap.add_argument("--kill-items", type=int, default=50_000)
    ap.add_argument("--skip-peers", action="store_true")
    ap.add_argument(
        "--warmup",
        type=float,
        default=WARMUP,
        help="seconds the workers get to start before the work is released",
    )
    args = ap.parse_args()
    WARMUP = args.warmup
    peers: dict[str, object] = {"toolkit": bench_toolkit}
    if not args.skip_peers:
        peers["pgqueuer"] = bench_pgqueuer
        peers["procrastinate"] = bench_procrastinate
    print(f"no-op items/s, {args.items} items, worker processes on {urlsplit(ADMIN).hostname}")
    print(f"{'workers':>8} " + " ".join(f"{k:>14}" for k in peers) + "   toolkit / best peer")
    for w in args.workers:
        rates = {}
        for name, fn in peers.items():
            try:
                rates[name] = fn(args.items, w)
            except Exception as exc:  # a peer that fails is reported, not fatal
                print(f"  {name} with {w} workers failed: {type(exc).__name__}: {exc}")
                rates[name] = float("nan")
        others = [v for k, v in rates.items() if k != "toolkit" and v == v]
        ratio = f"{rates['toolkit'] / max(others):.2f}x" if others else "-"
        print(f"{w:>8} " + " ".join(f"{rates[k]:>14,.0f}" for k in peers) + f"   {ratio}")
    if args.kill_items:
        print(kill_run(args.kill_items))


if __name__ == "__main__":
    main()
