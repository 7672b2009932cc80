"""A job type registered while a workspace is open gets its eligibility view on every backend.

On the old code only DuckDB's schema cache was cleared when the registry changed, so on
Postgres a type registered after the first connection in a process had no view.
"""

from __future__ import annotations

import pytest

import toolkit
from toolkit.jobs import JobType, register_job_type, unregister_job_type

BACKENDS = ("duckdb", "postgres")

ELIGIBLE = (
    "SELECT c.id::VARCHAR AS item_id, c.id AS county_id, c.county_name, "
    "CAST(NULL AS DATE) AS sale_date, c.county_name AS sort_key "
    "FROM counties c WHERE c.id IN (13, 111)"
)


def test_a_type_registered_after_the_first_connection_gets_its_view(db_path):
    ws = toolkit.connect(db_path)  # the first connection: schema checked, views built
    assert "zoning_lookup" not in set(ws.get_pending_work_summary().job_type)
    register_job_type(
        JobType("zoning_lookup", 5, 10, "county", "Looks up zoning rules.", eligible_sql=ELIGIBLE)
    )
    try:
        summary = ws.get_pending_work_summary()
        row = summary[summary.job_type == "zoning_lookup"]
        assert row.pending.tolist() == [2]
        job = ws.create_batch_job("zoning_lookup")
        assert ws.get_batch_status(job)["total_items"] == 2
        # another process (a fresh workspace object) sees it too
        other = toolkit.connect(db_path)
        assert "zoning_lookup" in set(other.get_pending_work_summary().job_type)
        other.close()
    finally:
        unregister_job_type("zoning_lookup")
    assert "zoning_lookup" not in set(ws.get_pending_work_summary().job_type)
    ws.close()


def test_unregistering_a_guide_type_is_refused():
    with pytest.raises(toolkit.exceptions.ValidationError, match="one of the guide's"):
        unregister_job_type("regrid_scraping")
