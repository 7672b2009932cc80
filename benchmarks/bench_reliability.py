"""Hostile PDFs, pauses during a long parse, and random kills (issue 13 point 1).

Three figures, each on a real DuckDB workspace and a real ``pdf_parsing`` job:

1. ``poison``: each hostile PDF of ``tests/poison.py`` in a job of its own, then a good
   list; prints the outcome (done / failed), the seconds it took and the reason. Target:
   every poison file failed with a reason in plain words, the good list done, the child's
   peak memory under the cap.
2. ``pause``: a pause asked for while a stalling PDF is being parsed (the limit set to
   300 s, so only the pause can stop it); prints the seconds from the pause to the end of
   the session, over ``--repeat`` runs, and the ratio to the limit. Target: a few seconds,
   the item pending, never failed.
3. ``kills``: a worker process parsing ``--docs`` small lists is SIGKILLed at random
   moments (4-12 s into each run; a worker needs ~3 s to start on the 2-core machine) and
   started again until the job completes; prints the kills and the items done
   twice (sessions' done counts beyond the items done). Target: 0.

Run: ``python benchmarks/bench_reliability.py [poison|pause|kills ...] [--repeat 3]
[--seconds 60]`` (``--seconds`` is the deadline for the poison files: the stalling one
runs into it; the default of 300 s would make the run five minutes longer).
Benchmarks report figures and ratios; the tests (tests/reliability/test_poison_pdfs.py)
assert the behaviour.
"""

from __future__ import annotations

import argparse
import os
import random
import resource
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))  # poison.py and sale_variants.py live with the tests

GOOD = ROOT / "data" / "sample" / "pdfs" / "somerset_upset_ruled.pdf"


def _statuses(ws, job: str) -> dict[str, str]:
    frame = ws.sql("SELECT item_id, status FROM batch_job_items WHERE job_id = $1::UUID", [job])
    return dict(zip(frame.item_id, frame.status, strict=True))


def poison_files(folder: Path, seconds: float) -> None:
    import poison

    import toolkit
    from toolkit.processors.pdf_parsing import limits

    os.environ["TOOLKIT_PDF_SECONDS"] = f"{seconds:g}"
    seconds, memory_mb = limits()
    print(
        f"limits: {seconds:g} s (default 300), {memory_mb:,} MB "
        "(TOOLKIT_PDF_SECONDS / TOOLKIT_PDF_MEMORY_MB)"
    )
    files = [
        (name, make(folder / f"p{k}.pdf")) for k, (name, make) in enumerate(poison.ALL.items())
    ]
    files.append(("good list (Somerset, 140 rows)", Path(shutil.copy(GOOD, folder / "good.pdf"))))
    print(f"{'file':<30} {'size':>9} {'outcome':<7} {'s':>6}  reason")
    for k, (name, path) in enumerate(files):
        ws = toolkit.connect(str(folder / f"poison{k}.duckdb"))  # one file per workspace
        ws.add_document(path, "Somerset" if name.startswith("good") else "Blair")
        job = ws.create_batch_job("pdf_parsing")
        t0 = time.monotonic()
        summary = ws.run_session(job)
        took = time.monotonic() - t0
        outcome = "done" if summary.processed else "failed"
        reason = "" if summary.processed else str(ws.failed_items(job).error[0])
        reason = reason.split(".pdf: ", 1)[-1]
        size = path.stat().st_size
        print(f"{name:<30} {size / 1024:>7,.0f} K {outcome:<7} {took:>6.1f}  {reason[:140]}")
        ws.close()
    peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    print(f"peak RSS of a parsing child: {peak:,.0f} MB (cap {memory_mb:,} MB of address space)")


def pause_latency(folder: Path, repeat: int) -> None:
    import poison

    import toolkit

    os.environ["TOOLKIT_PDF_SECONDS"] = "300"
    stall = poison.stalling(folder / "stall.pdf")
    waits = []
    for k in range(repeat):
        ws = toolkit.connect(str(folder / f"pause{k}.duckdb"))
        doc = ws.add_document(stall, "Blair")
        job = ws.create_batch_job("pdf_parsing")
        t = threading.Thread(target=ws.run_session, args=(job,))
        t.start()
        while _statuses(ws, job).get(doc) != "claimed":
            time.sleep(0.05)
        time.sleep(2.0 + random.random())  # inside the page
        asked = time.monotonic()
        ws.pause_batch_job(job, reason="bench")
        t.join()
        waits.append(time.monotonic() - asked)
        st = _statuses(ws, job)[doc]
        print(
            f"run {k + 1}: pause landed in {waits[-1]:.2f} s; item {st}; "
            f"job {ws.get_batch_status(job)['status']}"
        )
        ws.close()
    print(
        f"pause during a stalling parse: median {statistics.median(waits):.2f} s, max "
        f"{max(waits):.2f} s ({max(waits) / 300:.4f}x the 300 s limit; before: never, the "
        "parse ran to the end)"
    )


_WORKER = """
import sys, toolkit
ws = toolkit.connect(sys.argv[1])
ws.run_session(sys.argv[2], max_items=100000)
"""


def kills(
    folder: Path, docs: int, seed: int, args_min: float = 4.0, args_max: float = 12.0
) -> None:
    from sale_variants import VARIANTS, records

    import toolkit

    rng = random.Random(seed)
    path = folder / "kills.duckdb"
    ws = toolkit.connect(str(path))
    variants = list(VARIANTS.values())
    for i in range(docs):
        recs = records(seed=100 + i)
        pdf = folder / f"list{i:03d}.pdf"
        variants[i % len(variants)].render(pdf, recs)
        ws.add_document(pdf, "Blair")
    job = ws.create_batch_job("pdf_parsing")
    ws.close()
    n_kills = runs = 0
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    while True:
        ws = toolkit.connect(str(path))
        status = ws.get_batch_status(job)["status"]
        ws.close()
        if status == "completed":
            break
        if status == "paused":
            ws = toolkit.connect(str(path))
            ws.resume_batch_job(job)
            ws.close()
        runs += 1
        proc = subprocess.Popen(
            [sys.executable, "-c", _WORKER, str(path), job], env=env, start_new_session=True
        )
        try:
            proc.wait(timeout=rng.uniform(args_min, args_max))
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)  # the worker and its parsing child
            proc.wait()
            n_kills += 1
    ws = toolkit.connect(str(path))
    done = int(
        ws.sql(
            "SELECT count(*) AS n FROM batch_job_items WHERE job_id = $1::UUID AND status = 'done'",
            [job],
        ).n[0]
    )
    counted = int(
        ws.sql(
            "SELECT coalesce(sum(items), 0) AS n FROM sessions WHERE job_id = $1::UUID", [job]
        ).n[0]
    )
    props = int(ws.sql("SELECT count(*) AS n FROM properties").n[0])
    ws.close()
    print(
        f"{docs} lists, {runs} worker runs, {n_kills} SIGKILLs: {done} items done, "
        f"sessions counted {counted}; items done twice: {max(0, counted - done)}; "
        f"properties {props}"
    )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("what", nargs="*", default=["poison", "pause", "kills"])
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--seconds", type=float, default=60, help="TOOLKIT_PDF_SECONDS for poison")
    ap.add_argument("--docs", type=int, default=16)
    ap.add_argument("--seed", type=int, default=13)
    args = ap.parse_args()
    folder = Path(tempfile.mkdtemp(prefix="bench_reliability_"))
    try:
        if "poison" in args.what:
            poison_files(folder, args.seconds)
        if "pause" in args.what:
            pause_latency(folder, args.repeat)
        if "kills" in args.what:
            kills(folder, args.docs, args.seed)
    finally:
        shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    main()
