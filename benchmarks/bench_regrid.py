"""Regrid lookups per second against a local fake API with 100 ms latency.

Compares, in one run:

1. ``RegridAPI.lookup_many`` with the default limits (rate 200/min, 4 threads)
   against the configured rate, its reference; and the most requests the
   server saw in any sliding window against the limit (target: achieved rate
   within 10 % of the limit, zero windows over it);
2. the same lookups with the limiter out of the way (the ceiling that 4
   threads x 100 ms latency allow), to show the limiter is what binds;
3. a re-run from the disk cache (requests sent: target 0);
4. ``RegridBulk`` lookups from the sample CSV, for scale.

A real minute per 200 requests makes a full run slow, so by default the rate
and the window are both scaled by ``--scale`` (6: 1,200/min over 10 s windows,
the same 200 requests per window); ``--full`` runs the real 200/min over 60 s
windows (about 2 minutes).

Run: ``python benchmarks/bench_regrid.py [--scale 6] [--windows 2] [--full]``
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))  # the fakes live with the tests

from fakes import max_in_window  # noqa: E402
from fakes.regrid_server import RegridFake  # noqa: E402

from toolkit.sources.regrid import (  # noqa: E402
    DEFAULT_CONCURRENCY,
    DEFAULT_RATE_PER_MINUTE,
    RegridAPI,
    RegridBulk,
)

BULK = ROOT / "data" / "sample" / "regrid" / "pa_blair_synthetic.csv"
TOKEN = "bench-token-000111222"
LATENCY = 0.100


def parcel_ids() -> list[str]:
    import csv

    with BULK.open(newline="") as fh:
        rows = csv.DictReader(line for line in fh if not line.startswith("#"))
        return [r["parcelnumb"] for r in rows]


def run(fake: RegridFake, items: list[tuple[str, str]], **options: object) -> tuple[float, int]:
    """Seconds for lookup_many and the number of failed items."""
    with RegridAPI(TOKEN, base_url=fake.base_url, **options) as api:  # type: ignore[arg-type]
        started = time.perf_counter()
        results = api.lookup_many(items)
        elapsed = time.perf_counter() - started
    return elapsed, sum(isinstance(r, Exception) for r in results)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--scale", type=float, default=6.0, help="rate x scale, window / scale")
    parser.add_argument("--windows", type=int, default=2, help="run length in (scaled) windows")
    parser.add_argument("--full", action="store_true", help="real 200/min and 60 s windows")
    args = parser.parse_args()
    scale = 1.0 if args.full else args.scale
    rate = DEFAULT_RATE_PER_MINUTE * scale
    window = 60.0 / scale
    n = int(DEFAULT_RATE_PER_MINUTE * args.windows)

    ids = parcel_ids()
    items = [(ids[i % len(ids)], "Blair") for i in range(n)]
    with RegridFake(token=TOKEN, latency=LATENCY) as fake:
        fake.load_bulk_csv(BULK, county="Blair")

        # 1. default limits (rate scaled for a short run)
        elapsed, failed = run(fake, items, rate_per_minute=rate, concurrency=DEFAULT_CONCURRENCY)
        arrivals = [r.at for r in fake.requests]
        span = arrivals[-1] - arrivals[0]
        achieved = (len(arrivals) - 1) / span * 60.0
        busiest = max_in_window(arrivals, window)
        fake.reset_log()

        # 2. ceiling without the limiter (same latency and threads)
        m = 100
        free_elapsed, _ = run(fake, items[:m], rate_per_minute=1e9, concurrency=DEFAULT_CONCURRENCY)
        fake.reset_log()

        # 3. a re-run from the disk cache
        with tempfile.TemporaryDirectory() as cache:
            run(fake, items[:m], rate_per_minute=1e9, cache_dir=cache)
            fake.reset_log()
            cached_elapsed, _ = run(fake, items[:m], rate_per_minute=1e9, cache_dir=cache)
            cached_requests = len(fake.requests)

    # 4. bulk file
    bulk = RegridBulk({"Blair": BULK})
    bulk.index("Blair")
    started = time.perf_counter()
    bulk.lookup_many(items)
    bulk_rate = n / (time.perf_counter() - started)

    label = "FULL" if args.full else f"SCALED x{scale:g} (rate {rate:g}/min, window {window:g} s)"
    print(f"Regrid lookups, local fake API, {LATENCY * 1000:.0f} ms latency, {n} lookups, {label}")
    print(f"{'measure':44} {'measured':>12} {'reference':>12} {'ratio':>7}")
    rows = [
        ("rate achieved (req/min, scaled)", achieved, rate),
        ("rate achieved (req/min, as at 200/min)", achieved / scale, DEFAULT_RATE_PER_MINUTE),
        (f"max requests in any {window:g} s window", busiest, DEFAULT_RATE_PER_MINUTE),
        ("lookups/s, default limits", n / elapsed, rate / 60.0),
        ("lookups/s, limiter off (ceiling)", m / free_elapsed, DEFAULT_CONCURRENCY / LATENCY),
        ("lookups/s, re-run from cache", m / cached_elapsed, m / free_elapsed),
        ("lookups/s, RegridBulk CSV", bulk_rate, n / elapsed),
    ]
    for name, value, ref in rows:
        print(f"{name:44} {value:12.1f} {ref:12.1f} {value / ref:7.3f}")
    print(f"{'requests over the limit':44} {max(0, busiest - 200):12d} {0:12d}")
    print(f"{'requests sent on the cached re-run':44} {cached_requests:12d} {0:12d}")
    print(f"{'failed lookups':44} {failed:12d} {0:12d}")
    ok = abs(achieved / rate - 1) <= 0.10 and busiest <= 200 and cached_requests == 0
    print("target met" if ok else "TARGET MISSED")


if __name__ == "__main__":
    main()
