"""The control panel and item form, driven in-process by clicking their buttons."""

from __future__ import annotations

import threading
import time

import pytest
from helpers import parcel, popen_py

from toolkit.exceptions import JobNotFoundError, JobPausedError, ValidationError
from toolkit.notebook import ControlPanel, ItemForm, check_parameters, run_notebook_session
from toolkit.notebook.panel import format_eta, status_line
from toolkit.orchestrator import open_job


def wait_for(cond, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while not cond():
        if time.monotonic() > deadline:
            raise AssertionError("condition not reached in time")
        time.sleep(0.01)


class Gate:
    """A processor that works each item and counts; it can hold items until released."""

    def __init__(self, fail_every: int = 0) -> None:
        self.count = 0
        self.fail_every = fail_every
        self.open = threading.Event()
        self.open.set()

    def __call__(self, item: dict) -> dict:
        self.open.wait(30)
        self.count += 1
        time.sleep(0.005)
        if self.fail_every and self.count % self.fail_every == 0:
            raise LookupError(f"Property not found in Regrid: {item['parcel_id']}")
        return parcel(item)


def test_status_line_and_eta_text() -> None:
    assert (
        status_line(
            finished=87, total=235, failed=3, batch_size=50, eta_seconds=230, batch=2, batches=5
        )
        == "Batch 2 of 5 · 87/235 (37%) · 3 failed · ETA 4 min"
    )
    assert status_line(finished=235, total=235, failed=0, batch_size=50, eta_seconds=10) == (
        "Batch 5 of 5 · 235/235 (100%) · 0 failed"
    )
    # not running (paused): no ETA
    assert "ETA" not in status_line(
        finished=100, total=235, failed=0, batch_size=50, eta_seconds=300, running=False
    )
    assert (format_eta(None), format_eta(30), format_eta(7200)) == ("", "30 s", "2.0 h")


def test_panel_offers_counties_with_pending_work_and_guide_defaults(sample_ws) -> None:
    panel = ControlPanel("regrid_scraping", sample_ws.url)
    labels = [label for label, _ in panel.county.options]
    assert labels[0] == "All counties (778 pending)"
    assert "Blair (235)" in labels  # 252 listed, 17 have parcel data already
    assert panel.batch_size.value == 50 and panel.budget_batches.value == 3
    assert "~150 properties" in panel.budget.value
    panel.batch_size.value = 150
    assert "over the guide&#x27;s limit of 100" in panel.warnings.value
    assert panel.budget_batches.value == 1


def test_start_pause_while_running_then_resume(sample_ws) -> None:
    proc = Gate(fail_every=7)
    panel = ControlPanel("regrid_scraping", sample_ws.url, processor=proc)
    panel.county.value = 13
    panel.start_button.click()
    assert panel.running and not panel.pause_button.disabled and panel.start_button.disabled
    wait_for(lambda: panel.progress.value >= 20)
    assert panel.status.value.startswith("Batch 1 of 5 · ") and "failed" in panel.status.value
    assert "Property not found in Regrid" in panel.failure_list.value  # listed live
    panel.pause_button.click()
    summary = panel.wait(30)
    assert summary is not None and summary.outcome == "paused"
    st = sample_ws.get_batch_status(panel.job_id)
    assert st["status"] == "paused" and st["pause_reason"] == "paused from the control panel"
    kept = st["processed_items"] + st["failed_items"]
    assert 20 <= kept < 50 and st["failed_items"] == kept // 7
    assert panel.progress.value == kept and panel.progress.bar_style == "warning"
    assert f"Paused at {kept}/235 properties" in panel.message.value
    assert panel.resume_jobs.value == st["job_id"] and not panel.resume_button.disabled
    # paused: no ETA, and the batch is numbered as the CLI numbers it (the engine's)
    assert "ETA" not in panel.status.value
    assert panel.status.value.startswith(f"Batch {st['current_batch']} of {st['total_batches']}")
    # resume: the budget (3 batches) pauses it again, nothing done twice
    panel.resume_button.click()
    summary = panel.wait(60)
    st = sample_ws.get_batch_status(panel.job_id)
    assert summary.outcome == "budget" and st["status"] == "paused"
    assert st["processed_items"] + st["failed_items"] == kept + 150  # 3 batches of 50
    assert panel.status.value.startswith(f"Batch {st['current_batch']} of {st['total_batches']}")
    assert "ETA" not in panel.status.value
    rows = sample_ws.sql(
        "SELECT count(*) AS n FROM regrid_data WHERE job_id = $1::UUID", [panel.job_id]
    )
    assert rows.n[0] == st["processed_items"]  # one result per done item: nothing worked twice


def test_pause_from_another_process_stops_the_panel(sample_ws) -> None:
    proc = Gate()
    panel = ControlPanel("regrid_scraping", sample_ws.url, processor=proc)
    panel.county.value = 13
    panel.start_button.click()
    wait_for(lambda: proc.count >= 5)
    other = popen_py(
        """
        import sys, toolkit
        toolkit.connect(sys.argv[1]).pause_batch_job(sys.argv[2], reason="paused from the CLI")
        """,
        sample_ws.url,
        panel.job_id,
    )
    out, err = other.communicate(timeout=60)
    assert other.returncode == 0, out + err
    summary = panel.wait(30)
    assert summary.outcome == "paused"
    assert "Paused elsewhere (paused from the CLI)" in panel.message.value
    st = sample_ws.get_batch_status(panel.job_id)
    assert st["status"] == "paused" and st["processed_items"] == summary.processed > 0


def test_start_says_so_when_there_is_no_processor(sample_ws, monkeypatch) -> None:
    import toolkit.processors as procs

    monkeypatch.delitem(procs._processors, "title_research", raising=False)
    monkeypatch.setattr(procs, "_loaded_entry_points", True)
    panel = ControlPanel("title_research", sample_ws.url)
    panel.start_button.click()
    assert "No processor for title_research yet" in panel.message.value
    assert "item form" in panel.message.value
    assert sample_ws.sql("SELECT count(*) AS n FROM batch_jobs").n[0] == 0
    params = check_parameters("title_research", db=sample_ws.url, interactive=False)
    assert run_notebook_session(params)["outcome"] == "no_processor"


def test_other_active_jobs_are_warned(sample_ws) -> None:
    job = sample_ws.create_batch_job("visual_validation", "Blair")
    panel = ControlPanel("regrid_scraping", sample_ws.url, processor=parcel)
    assert f"visual_validation {job[:8]} (pending, 0/17)" in panel.warnings.value


def test_item_form_records_done_and_failed_with_note(sample_ws) -> None:
    form = ItemForm("county_research", sample_ws.url)
    assert "Started county_research job" in form.begin()
    first = form.item["item_id"]
    assert "<th style='text-align:left'>county</th>" in form.context.value
    form.note.value = "Sale Sep 10; registration closes Aug 29 (checked county site)"
    form.save_button.click()
    second = form.item["item_id"]
    assert second != first
    form.outcome.value = "failed"
    form.note.value = "County site down; try again tomorrow"
    form.save_button.click()
    rows = sample_ws.sql(
        "SELECT item_id, status, error FROM batch_job_items WHERE job_id = $1::UUID ORDER BY seq",
        [form.job_id],
    )
    got = dict(zip(rows.item_id, zip(rows.status, rows.error, strict=True), strict=True))
    assert got[first][0] == "done"
    assert got[second] == ("failed", "County site down; try again tomorrow")
    st = sample_ws.get_batch_status(form.job_id)
    assert (st["processed_items"], st["failed_items"]) == (1, 1)
    # work the rest: the job completes and the form says so
    while form.item is not None:
        form.save("done")
    assert sample_ws.get_batch_status(form.job_id)["status"] == "completed"
    assert "No item to work on. Job completed" in form.context.value


def test_bad_parameters_change_nothing(sample_ws) -> None:
    with pytest.raises(
        ValidationError, match=r"batch_size='ten' \(str\).*guide's size for regrid_scraping is 50"
    ):
        check_parameters("regrid_scraping", db=sample_ws.url, batch_size="ten")
    with pytest.raises(ValidationError, match="max_minutes"):
        check_parameters("regrid_scraping", db=sample_ws.url, max_minutes=-1)
    with pytest.raises(ValidationError, match="interactive"):
        check_parameters("regrid_scraping", db=sample_ws.url, interactive="no")
    with pytest.raises(JobNotFoundError):
        check_parameters("regrid_scraping", db=sample_ws.url, job_id="deadbeef")
    other = sample_ws.create_batch_job("county_research")
    with pytest.raises(
        ValidationError, match="is a county_research job, but this is the regrid_scraping"
    ):
        check_parameters("regrid_scraping", db=sample_ws.url, job_id=other)
    with pytest.raises(ValidationError, match="cannot be imported"):
        check_parameters("regrid_scraping", db=sample_ws.url, processor="nowhere:nothing")
    assert sample_ws.sql("SELECT count(*) AS n FROM batch_jobs").n[0] == 1


def test_open_job_continues_resumes_or_refuses_auto_paused(sample_ws) -> None:
    params = check_parameters(
        "regrid_scraping", db=sample_ws.url, county="Blair", interactive=False
    )
    job, note = open_job(sample_ws, params)
    assert note.startswith(f"Started regrid_scraping job {job[:8]} for Blair: 235 properties")
    sample_ws.pause_batch_job(job)
    again, note = open_job(sample_ws, params)
    assert (
        again == job
        and note.startswith("Resumed")
        and sample_ws.get_batch_status(job)["status"] == "in_progress"
    )

    def broken(item):
        raise LookupError("nope")

    sample_ws.run_session(job, broken)
    assert sample_ws.get_batch_status(job)["status"] == "paused"
    with pytest.raises(JobPausedError, match="auto-paused"):
        open_job(sample_ws, params)
    explicit = check_parameters(
        "regrid_scraping", db=sample_ws.url, job_id=job[:8], interactive=False
    )
    assert open_job(sample_ws, explicit)[0] == job  # named explicitly: resumed


def test_dashboard_sections_and_refresh(sample_ws) -> None:
    from toolkit.notebook import Dashboard
    from toolkit.notebook import dashboard as d

    job = sample_ws.create_batch_job("regrid_scraping", "Blair", 50)
    sample_ws.run_session(job, Gate(fail_every=5), max_batches=1)
    dash = Dashboard(sample_ws.url)
    sections = dash.sections()
    assert sections["active jobs"].progress.tolist() == ["50/235 (21%)"]
    assert sections["recent sessions"].outcome.tolist() == ["budget"]
    _ = dash.widget
    before = dash.body.value
    sample_ws.resume_batch_job(job)
    sample_ws.run_session(job, parcel, max_batches=1)
    dash.refresh_button.click()
    assert dash.body.value != before
    assert "100/235" in next(iter(dash.job_rows.values()))["label"].value
    reasons = d.failures_by_reason(sample_ws)
    assert reasons["items"].tolist() == [10]
    assert reasons.reason[0] == "LookupError: Property not found in Regrid: #"
    assert d.throughput(sample_ws, "day").done.sum() == 90
    for fig in (
        d.plot_throughput(d.throughput(sample_ws)),
        d.plot_failures(reasons),
        d.plot_funnel(d.county_funnel(sample_ws)),
    ):
        assert fig.axes and fig.axes[0].get_title()
    assert d.plot_eta(d.eta_per_job(sample_ws)) is None  # paused: no ETA to draw


def test_force_cancel_retry_and_the_stopped_job_selected(sample_ws) -> None:
    older = sample_ws.create_batch_job("regrid_scraping", "Clearfield", 50)
    sample_ws.run_session(older, parcel, max_batches=1)  # paused at its budget
    blair = sample_ws.create_batch_job("regrid_scraping", "Blair", 50)  # active, not started
    panel = ControlPanel("regrid_scraping", sample_ws.url, processor=Gate(fail_every=4))
    assert panel.resume_jobs.value == older
    panel.county.value = 13
    assert panel.force_button.disabled
    assert panel.start() is None  # a Blair job is active: nothing started, say what to do
    assert "toolkit-error" in panel.message.value and "Force new job" in panel.message.value
    assert ".." not in panel.message.value and not panel.force_button.disabled
    assert panel.cancel(blair) == blair  # Cancel frees its items
    assert sample_ws.get_batch_status(blair)["status"] == "cancelled"
    panel.budget_batches.value = 1
    newer = panel.start()
    assert newer and newer not in (older, blair)
    panel.wait(30)
    # the job that just stopped is selected, not the older paused one
    assert panel.resume_jobs.value == newer and panel.force_button.disabled
    assert "ETA" not in panel.status.value
    st = sample_ws.get_batch_status(newer)
    assert st["failed_items"] > 0
    assert panel.retry_failed() == st["failed_items"]
    assert sample_ws.get_batch_status(newer)["failed_items"] == 0
    assert "pending again" in panel.message.value
    # Force: a new job although one is active (its items stay with the active one)
    forced = panel.start(force=True)
    assert forced not in (None, newer)
