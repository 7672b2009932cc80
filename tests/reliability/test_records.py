"""Records tell the truth after pauses, resumes and kills: batch numbers, session rows."""

from __future__ import annotations

import math

from helpers import parcel

BACKENDS = ("duckdb", "postgres")


def test_batch_numbers_never_pass_the_total(sample_ws):
    ws = sample_ws
    job = ws.create_batch_job("regrid_scraping", "Somerset", 7)
    st = ws.get_batch_status(job)
    total_batches = st["total_batches"]
    seen = []
    # short sessions that stop mid-batch, each followed by a resume: the claims go back
    # and are claimed again, which once counted a new batch every time (27/26)
    while st["status"] != "completed":
        s = ws.run_session(job, parcel, max_items=3)
        st = ws.get_batch_status(job)
        seen.append(st["current_batch"])
        assert st["current_batch"] <= total_batches, (st["current_batch"], total_batches)
        finished = st["processed_items"] + st["failed_items"] + st["skipped_items"]
        # the batch of the furthest item handed out
        assert st["current_batch"] == max(1, math.ceil(finished / 7)), (finished, st)
        if s.status == "paused":
            ws.resume_batch_job(job)
    assert seen[-1] == total_batches and len(seen) > total_batches
