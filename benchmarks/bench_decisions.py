"""Throughput of the vectorised decision rules against their row-by-row references.

Run: ``python benchmarks/bench_decisions.py [--n 100000] [--repeat 3]``

Builds N SYNTHETIC properties (random parcel records, no real data), then times
``screen`` vs ``screen_rowwise`` and ``max_bid`` vs ``max_bid_rowwise`` in the
same run on the same frame, checks each pair gives identical output, and prints
items per second side by side with the ratio. Targets: vectorised >= 10x the
row-wise reference and >= 20,000 items/s.

``--against REV`` instead compares the vectorised rules with the same rules at
git revision REV (checked out in a temporary worktree): the two trees take
turns in fresh processes on the same synthetic frame for ``--rounds`` rounds,
and the median rate of each is printed with their ratio. This is how a change
is held to "within 20 % of before" on a machine whose speed drifts.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd

HERE = Path(__file__).resolve()
# the tree whose toolkit is timed: this one, or (in an --against child) the other
sys.path.insert(0, os.environ.get("BENCH_TOOLKIT_ROOT", str(HERE.parents[1])))

from toolkit.decisions.bid import max_bid, max_bid_rowwise  # noqa: E402
from toolkit.decisions.screening import screen, screen_rowwise  # noqa: E402

TARGET_RATIO = 10.0
TARGET_RATE = 20_000.0


def synthetic(n: int, seed: int = 20261128) -> pd.DataFrame:
    """N invented parcel records with realistic gaps (NaN / None / junk text)."""
    rng = np.random.default_rng(seed)

    def gaps(values: np.ndarray, share: float) -> np.ndarray:
        out = values.astype(object)
        out[rng.random(n) < share] = None
        return out

    uses = np.array(
        [
            "SINGLE FAMILY",
            "VACANT LAND",
            "CEMETERY",
            "COMMERCIAL",
            "Lake lot",
            "RIGHT-OF-WAY",
            "TWO FAMILY",
            "MOBILE HOME",
            "INDUSTRIAL",
        ],
        dtype=object,
    )
    zoning = np.array(["R-1", "R-2", "C-1", "I-1 LIGHT INDUSTRIAL", "A-1", ""], dtype=object)
    lot = rng.lognormal(8.5, 0.9, n).round()
    lot_obj = gaps(lot, 0.05)
    lot_obj[rng.random(n) < 0.002] = "unknown"
    return pd.DataFrame(
        {
            "property_id": np.arange(n),
            "county": rng.choice(["Blair", "Clearfield", "Westmoreland", "Somerset", "Elk"], n),
            "usecode": gaps(rng.integers(100, 999, n).astype(str), 0.2),
            "usedesc": gaps(
                rng.choice(uses, n, p=[0.4, 0.2, 0.02, 0.1, 0.03, 0.02, 0.1, 0.08, 0.05]), 0.1
            ),
            "zoning": gaps(rng.choice(zoning, n), 0.3),
            "zoning_description": None,
            "lot_sqft": lot_obj,
            "lot_acres": lot / 43560.0,
            "width_ft": np.where(rng.random(n) < 0.3, np.nan, rng.uniform(8, 150, n).round(1)),
            "aspect_ratio": rng.uniform(1, 10, n).round(2),
            "bldg_count": np.where(rng.random(n) < 0.1, np.nan, rng.integers(0, 3, n)),
            "bldg_footprint_sqft": np.where(rng.random(n) < 0.2, np.nan, rng.uniform(0, 3000, n)),
            "address": gaps(np.char.add(rng.integers(1, 3000, n).astype(str), " MAIN ST"), 0.03),
            "total_value": np.where(rng.random(n) < 0.05, np.nan, rng.lognormal(10.5, 0.8, n)),
            "arv": np.where(rng.random(n) < 0.8, np.nan, rng.lognormal(11.5, 0.6, n)),
            "upset_price": np.where(rng.random(n) < 0.02, np.nan, rng.lognormal(7.6, 0.8, n)),
            "repair_estimate": np.where(rng.random(n) < 0.3, np.nan, rng.uniform(0, 80000, n)),
            "surviving_total": np.where(rng.random(n) < 0.4, np.nan, rng.uniform(0, 30000, n)),
            "title_status": rng.choice(["CLEAR", "SURVIVING_LIENS", "NEEDS_REVIEW"], n),
            "redemption_risk": rng.random(n) < 0.01,
        }
    )


def clr_table() -> pd.DataFrame:
    # SYNTHETIC placeholder factors, as in data/sample/clr_factors.csv
    return pd.DataFrame(
        {
            "county": ["Blair", "Clearfield", "Westmoreland", "Somerset"],
            "factor": [1.0, 1.0, 1.0, 1.0],
            "source": ["SYNTHETIC placeholder — replace with the PA Bulletin figure"] * 4,
        }
    )


def best_time(fn: Callable[[], pd.DataFrame], repeat: int) -> tuple[float, pd.DataFrame]:
    best, out = float("inf"), pd.DataFrame()
    for _ in range(repeat):
        start = time.perf_counter()
        out = fn()
        best = min(best, time.perf_counter() - start)
    return best, out


def vectorised_rates(n: int, repeat: int) -> dict[str, float]:
    """Items per second of the vectorised rules alone (best of ``repeat``)."""
    frame, clr = synthetic(n), clr_table()
    rates = {}
    for name, fn in (
        ("screening", lambda: screen(frame)),
        ("max bid", lambda: max_bid(frame, None, clr)),
    ):
        rates[name] = n / best_time(fn, repeat)[0]
    return rates


def against(rev: str, n: int, repeat: int, rounds: int) -> int:
    """Median vectorised rates of this tree and of git revision ``rev``, taking turns."""
    repo = HERE.parents[1]
    with tempfile.TemporaryDirectory(prefix="bench-decisions-") as tmp:
        other = Path(tmp) / "tree"
        subprocess.run(
            ["git", "-C", str(repo), "worktree", "add", "--detach", "--quiet", str(other), rev],
            check=True,
        )
        try:
            runs: dict[str, list[dict[str, float]]] = {"this tree": [], rev: []}
            for i in range(rounds):
                for label, root in (("this tree", repo), (rev, other)):
                    env = {**os.environ, "BENCH_TOOLKIT_ROOT": str(root)}
                    cmd = [sys.executable, str(HERE), "--child", "--n", str(n)]
                    out = subprocess.run(
                        [*cmd, "--repeat", str(repeat)],
                        env=env,
                        check=True,
                        capture_output=True,
                        text=True,
                    )
                    runs[label].append(json.loads(out.stdout.strip().splitlines()[-1]))
                print(f"round {i + 1}/{rounds} done", file=sys.stderr)
        finally:
            subprocess.run(
                ["git", "-C", str(repo), "worktree", "remove", "--force", str(other)], check=False
            )
    print(
        f"{n:,} synthetic properties; vectorised best of {repeat} per run, median of {rounds} runs"
    )
    print(f"{'rule':<10} {'this tree/s':>14} {rev[:12] + '/s':>16} {'ratio':>7}")
    for name in ("screening", "max bid"):
        mine = statistics.median(r[name] for r in runs["this tree"])
        theirs = statistics.median(r[name] for r in runs[rev])
        print(f"{name:<10} {mine:>14,.0f} {theirs:>16,.0f} {mine / theirs:>6.2f}x")
    return 0


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=100_000, help="synthetic properties (100000)")
    ap.add_argument("--repeat", type=int, default=3, help="vectorised runs; best is kept (3)")
    ap.add_argument("--against", metavar="REV", help="compare with git revision REV instead")
    ap.add_argument("--rounds", type=int, default=7, help="turns each tree takes (--against; 7)")
    ap.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        print(json.dumps(vectorised_rates(args.n, args.repeat)))
        return 0
    if args.against:
        return against(args.against, args.n, args.repeat, args.rounds)
    frame = synthetic(args.n)
    clr = clr_table()
    cases = {
        "screening": (lambda: screen(frame), lambda: screen_rowwise(frame)),
        "max bid": (lambda: max_bid(frame, None, clr), lambda: max_bid_rowwise(frame, None, clr)),
    }
    print(f"{args.n:,} synthetic properties; vectorised best of {args.repeat}, row-wise once")
    print(f"{'rule':<10} {'vectorised/s':>14} {'row-wise/s':>12} {'ratio':>8}  verdict")
    ok = True
    for name, (fast_fn, slow_fn) in cases.items():
        t_fast, fast = best_time(fast_fn, args.repeat)
        t_slow, slow = best_time(slow_fn, 1)
        pd.testing.assert_frame_equal(fast, slow)  # same answers, or the timing means nothing
        rate_fast, rate_slow = args.n / t_fast, args.n / t_slow
        ratio = rate_fast / rate_slow
        good = ratio >= TARGET_RATIO and rate_fast >= TARGET_RATE
        ok &= good
        print(
            f"{name:<10} {rate_fast:>14,.0f} {rate_slow:>12,.0f} {ratio:>7.1f}x  "
            f"{'meets' if good else 'MISSES'} target (>= {TARGET_RATIO:g}x, "
            f">= {TARGET_RATE:,.0f}/s)"
        )
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
