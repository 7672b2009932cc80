"""visual_validation and bid_strategy through the engine (bookkeeping included), 100,000 properties.

Side by side in one run: the vectorised batch processors the toolkit registers,
and a row-by-row processor applying the same rules one item at a time
(``screen_rowwise`` / ``max_bid_rowwise``), both through ``run_session`` on the
same workspace file copied fresh for each run. Sample rows are SYNTHETIC.

Run: ``python benchmarks/bench_pipeline.py [--n 100000] [--batch 100]``
"""

from __future__ import annotations

import argparse
import shutil
import tempfile
import time
from pathlib import Path

import toolkit


def build(path: Path, n: int) -> None:
    """n synthetic properties with parcel data, screened APPROVED and researched (for bids)."""
    ws = toolkit.connect(str(path))
    ws.sql(
        "INSERT INTO properties (id, county_id, parcel_id, parcel_norm, address, upset_price, sale_type, "
        "sale_date, auction_status, created_at, updated_at) "
        "SELECT uuid(), 13, 'SYN-' || i, 'SYN' || i, i || ' MAIN ST', 500 + (i % 97) * 50, 'upset', "
        "DATE '2027-09-13', 'active', now()::TIMESTAMP, now()::TIMESTAMP FROM range($1) t(i)",
        [n],
    )
    ws.sql(
        "INSERT INTO regrid_data (property_id, source, address, usecode, usedesc, lot_acres, lot_sqft, "
        "bldg_footprint_sqft, bldg_count, year_built, land_value, improvement_value, total_value, "
        "width_ft, aspect_ratio, compactness, fetched_at) "
        "SELECT id, 'synthetic', address, '100', CASE WHEN random() < 0.03 THEN 'CEMETERY' ELSE 'RESIDENTIAL' END, "
        "0.2, 8700, 1200, 1, 1950, 10000, 40000, 50000, 60, 2.4, 0.6, now()::TIMESTAMP FROM properties"
    )
    ws.sql(
        "INSERT INTO clr_factors VALUES (13, 1.0, NULL, NULL, 'SYNTHETIC placeholder', now()::TIMESTAMP)"
    )
    ws.sql("CHECKPOINT")
    ws.close()


def research(path: Path) -> None:
    """Give every property a verdict and the research bids need (bulk SQL, not timed)."""
    ws = toolkit.connect(str(path))
    ws.sql(
        "INSERT INTO visual_validations (property_id, verdict, validated_at) "
        "SELECT property_id, 'APPROVED', now()::TIMESTAMP FROM regrid_data"
    )
    ws.sql(
        "INSERT INTO condition_assessments (property_id, grade, repair_estimate, assessed_at) "
        "SELECT property_id, 'C', 48000, now()::TIMESTAMP FROM regrid_data"
    )
    ws.sql(
        "INSERT INTO environmental_assessments (property_id, risk_level, assessed_at) "
        "SELECT property_id, 'LOW', now()::TIMESTAMP FROM regrid_data"
    )
    ws.sql(
        "INSERT INTO title_research (property_id, status, surviving_total, redemption_risk, researched_at) "
        "SELECT property_id, 'CLEAR', 0, false, now()::TIMESTAMP FROM regrid_data"
    )
    ws.sql("CHECKPOINT")
    ws.close()


def rowwise_screen(ws: toolkit.Workspace):
    import pandas as pd

    from toolkit.decisions.screening import screen_rowwise

    def process(item: dict) -> dict:
        frame = pd.DataFrame(
            [
                {
                    **item,
                    "property_id": item["item_id"],
                    "address": item.get("parcel_address") or item.get("address"),
                }
            ]
        )
        r = screen_rowwise(frame).iloc[0]
        return {
            "verdict": r.verdict,
            "reasons": r.reasons,
            "inputs_used": r.inputs_used,
            "confidence": float(r.confidence),
        }

    return process


def rowwise_bid(ws: toolkit.Workspace):
    import pandas as pd

    from toolkit.decisions.bid import max_bid_rowwise

    clr = ws.sql(ws.q.clr_factors_all)

    def process(item: dict) -> dict:
        inputs = ws.sql(ws.q.bid_inputs_for, [[item["item_id"]]])
        frame = pd.DataFrame([{**item, "property_id": item["item_id"]}]).merge(
            inputs, on="property_id"
        )
        r = max_bid_rowwise(frame, clr_factors=clr).iloc[0]
        return {"decision": r.decision, "max_bid_moderate": float(r.max_bid_moderate)}

    return process


def timed(path: Path, job_type: str, processor, n: int, batch: int) -> tuple[float, int]:
    ws = toolkit.connect(str(path))
    job = ws.create_batch_job(job_type, "Blair", batch)
    proc = processor(ws) if processor else None
    t0 = time.perf_counter()
    s = ws.run_session(job, proc, max_items=n)
    secs = time.perf_counter() - t0
    ws.close()
    return s.processed / secs, s.processed


def main() -> None:
    import warnings

    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=100_000)
    ap.add_argument(
        "--rowwise-n", type=int, default=5_000, help="row-by-row is slow: time a sample"
    )
    ap.add_argument("--batch", type=int, default=100)
    args = ap.parse_args()
    warnings.simplefilter("ignore")
    tmp = Path(tempfile.mkdtemp())
    base = tmp / "base.duckdb"
    build(base, args.n)
    researched = tmp / "researched.duckdb"
    shutil.copyfile(base, researched)
    research(researched)
    runs = iter(range(100))

    def fresh(src: Path) -> Path:
        dst = tmp / f"run{next(runs)}.duckdb"
        shutil.copyfile(src, dst)
        return dst

    print(
        f"# through run_session, batch size {args.batch}, {args.n:,} SYNTHETIC properties (items/s)"
    )
    print(f"{'job type':<18} {'vectorised':>11} {'row-by-row':>11} {'ratio':>7}")
    for jt, src, rowwise in (
        ("visual_validation", base, rowwise_screen),
        ("bid_strategy", researched, rowwise_bid),
    ):
        vec, done = timed(fresh(src), jt, None, args.n, args.batch)
        row, _ = timed(fresh(src), jt, rowwise, args.rowwise_n, args.batch)
        assert done == args.n, (jt, done)
        print(f"{jt:<18} {vec:>11,.0f} {row:>11,.0f} {vec / row:>6.1f}x")
    print(
        f"(row-by-row timed over the first {args.rowwise_n:,} items; targets: ≥ 20,000/s and ≥ 10x)"
    )


if __name__ == "__main__":
    main()
