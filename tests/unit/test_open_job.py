"""Which job a session works when the person names no county or no job."""

from __future__ import annotations

import pytest

from toolkit.exceptions import ActiveJobExistsError
from toolkit.orchestrator import check_request, open_job


def test_no_county_named_continues_the_county_job_instead_of_an_empty_one(sample_ws) -> None:
    county_job, _ = open_job(
        sample_ws, check_request("regrid_scraping", db=sample_ws.url, county="Blair")
    )
    jobs_before = len(sample_ws.sql("SELECT id FROM batch_jobs"))
    job, note = open_job(sample_ws, check_request("regrid_scraping", db=sample_ws.url))
    assert job == county_job and note.startswith(f"Continuing regrid_scraping job {job[:8]}")
    assert len(sample_ws.sql("SELECT id FROM batch_jobs")) == jobs_before


def test_a_county_whose_items_another_job_holds_starts_nothing(sample_ws) -> None:
    everywhere, _ = open_job(sample_ws, check_request("regrid_scraping", db=sample_ws.url))
    with pytest.raises(ActiveJobExistsError, match=rf"held by active job\(s\) {everywhere[:8]}"):
        open_job(sample_ws, check_request("regrid_scraping", db=sample_ws.url, county="Blair"))
    assert sample_ws.sql("SELECT id::VARCHAR AS id FROM batch_jobs").id.tolist() == [everywhere]
