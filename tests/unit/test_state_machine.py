"""Random sequences of the guide's API, with the engine's invariants checked after every step."""

from __future__ import annotations

import pandas as pd
import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, precondition, rule

import toolkit
from toolkit.exceptions import ToolkitError

N_PROPERTIES = 23


class GuideAPI(RuleBasedStateMachine):
    backend = "duckdb"

    @initialize()
    def setup(self) -> None:
        if self.backend == "postgres":
            import backends

            self.url = backends.fresh_postgres()
        else:
            self.url = ":memory:"
        self.ws = toolkit.connect(self.url)
        frame = pd.DataFrame(
            {
                "parcel_id": [f"P-{i}" for i in range(N_PROPERTIES)],
                "county": ["Blair" if i % 3 else "Somerset" for i in range(N_PROPERTIES)],
            }
        )
        self.ws.import_properties(frame)
        self.jobs: list[str] = []
        self.done_items: dict[str, set[str]] = {}  # what we reported done, per job
        self.handed: dict[str, list[str]] = {}

    def teardown(self) -> None:
        if not hasattr(self, "ws"):
            return
        self.ws.close()
        if self.backend == "postgres":
            import backends

            backends.drop(self.url)

    # -- rules ------------------------------------------------------------------

    @rule(
        county=st.sampled_from([None, "Blair", "Somerset"]),
        size=st.integers(1, 9),
        strategy=st.sampled_from(["county", "round_robin", "auction_date"]),
    )
    def create(self, county, size, strategy) -> None:
        job = self.ws.create_batch_job(
            "regrid_scraping", county, size, strategy=strategy, force=True
        )
        self.jobs.append(job)
        self.done_items[job] = set()

    @precondition(lambda self: self.jobs)
    @rule(data=st.data())
    def next_batch(self, data) -> None:
        job = data.draw(st.sampled_from(self.jobs))
        try:
            batch = self.ws.get_next_batch(job)
        except ToolkitError:
            assert self.status(job) in ("paused", "cancelled")
            return
        ids = batch.item_id.tolist()
        assert len(ids) == len(set(ids))
        assert not set(ids) & self.done_items[job], "a done item was handed out again"
        self.handed[job] = ids

    @precondition(lambda self: any(self.handed.values()))
    @rule(data=st.data(), ok=st.booleans())
    def report(self, data, ok) -> None:
        job = data.draw(st.sampled_from([j for j, ids in self.handed.items() if ids]))
        item = data.draw(st.sampled_from(self.handed[job]))
        self.handed[job].remove(item)
        try:
            self.ws.update_batch_progress(job, item, int(ok), int(not ok), None if ok else "boom")
        except ToolkitError:
            assert self.status(job) == "cancelled" or self.item_status(job, item) != "claimed"
            return
        if ok:
            self.done_items[job].add(item)

    @precondition(lambda self: self.jobs)
    @rule(
        data=st.data(), action=st.sampled_from(["pause", "resume", "cancel", "retry", "complete"])
    )
    def transition(self, data, action) -> None:
        job = data.draw(st.sampled_from(self.jobs))
        before = self.status(job)
        fn = {
            "pause": self.ws.pause_batch_job,
            "resume": self.ws.resume_batch_job,
            "cancel": self.ws.cancel_batch_job,
            "retry": self.ws.retry_failed_items,
            "complete": self.ws.complete_batch_job,
        }[action]
        snapshot = self.ws.sql("SELECT * FROM batch_jobs WHERE id = $1::UUID", [job]).astype(str)
        try:
            fn(job)
        except ToolkitError:
            # a refused transition changes nothing
            after = self.ws.sql("SELECT * FROM batch_jobs WHERE id = $1::UUID", [job]).astype(str)
            assert after.equals(snapshot), (action, before)
            return
        legal = {
            "pause": {"pending", "in_progress"},
            "resume": {"paused", "in_progress", "pending"},
            "cancel": {"pending", "in_progress", "paused"},
            "retry": {"pending", "in_progress", "paused", "completed"},
            "complete": {"completed", "pending", "in_progress", "paused"},
        }[action]
        assert before in legal, (action, before)

    @precondition(lambda self: self.jobs)
    @rule(data=st.data(), n=st.integers(1, 12), fail_every=st.integers(0, 4))
    def session(self, data, n, fail_every) -> None:
        job = data.draw(st.sampled_from(self.jobs))
        if self.status(job) not in ("pending", "in_progress"):
            return
        self.handed[job] = []  # a session in this process takes over our own claims

        def proc(item):
            if fail_every and int(item["seq"]) % (fail_every + 1) == 0:
                raise RuntimeError("flaky")
            return {"source": "hypothesis"}

        before = set(
            self.ws.sql(
                "SELECT item_id FROM batch_job_items WHERE job_id = $1::UUID AND status = 'done'",
                [job],
            ).item_id
        )
        self.ws.run_session(job, proc, max_items=n)
        after = set(
            self.ws.sql(
                "SELECT item_id FROM batch_job_items WHERE job_id = $1::UUID AND status = 'done'",
                [job],
            ).item_id
        )
        assert before <= after
        self.done_items[job] |= after

    # -- invariants ---------------------------------------------------------------

    def status(self, job: str) -> str:
        return self.ws.get_batch_status(job)["status"]

    def item_status(self, job: str, item: str) -> str:
        return self.ws.sql(
            "SELECT status FROM batch_job_items WHERE job_id = $1::UUID AND item_id = $2",
            [job, item],
        ).status[0]

    @invariant()
    def counters_match_items(self) -> None:
        if not hasattr(self, "ws"):
            return
        rows = self.ws.sql(
            """
            SELECT j.id::VARCHAR AS id, j.status, j.total_items, j.processed_items, j.failed_items,
                   j.skipped_items,
                   count(i.seq) AS n,
                   count(*) FILTER (WHERE i.status = 'done') AS done,
                   count(*) FILTER (WHERE i.status = 'failed') AS failed,
                   count(*) FILTER (WHERE i.status = 'skipped') AS skipped,
                   count(*) FILTER (WHERE i.status IN ('pending', 'claimed')) AS unfinished,
                   count(DISTINCT i.item_id) AS distinct_items
            FROM batch_jobs j LEFT JOIN batch_job_items i ON i.job_id = j.id
            GROUP BY j.id, j.status, j.total_items, j.processed_items, j.failed_items, j.skipped_items
            """
        )
        for r in rows.itertuples():
            assert r.total_items == r.n == r.distinct_items, r
            assert (r.processed_items, r.failed_items, r.skipped_items) == (
                r.done,
                r.failed,
                r.skipped,
            ), r
            if r.status != "cancelled":
                assert (r.status == "completed") == (r.unfinished == 0), r
        bad = self.ws.sql(
            "SELECT count(*) AS n FROM batch_job_items WHERE status NOT IN "
            "('pending', 'claimed', 'done', 'failed', 'skipped') "
            "OR (status = 'claimed') <> (claimed_by IS NOT NULL)"
        ).n[0]
        assert bad == 0


class GuideAPIPostgres(GuideAPI):
    """The same machine on Postgres: a fresh database (cloned from a template) per example."""

    backend = "postgres"


TestGuideAPI = GuideAPI.TestCase
TestGuideAPI.settings = settings(
    max_examples=40,
    stateful_step_count=25,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
TestGuideAPIPostgres = pytest.mark.postgres(GuideAPIPostgres.TestCase)
TestGuideAPIPostgres.settings = settings(
    max_examples=25,
    stateful_step_count=25,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
