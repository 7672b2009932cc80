"""The README's main job: the guide's example session, then the whole pipeline, on the sample data."""

from __future__ import annotations

import pytest

from toolkit.demo import run_demo
from toolkit.exceptions import ValidationError


def test_demo_in_process(tmp_path, monkeypatch):
    # the demo points this process at the sample sources; restore the environment afterwards
    monkeypatch.setenv("TOOLKIT_ENV_SOURCES", "sample")
    monkeypatch.setenv("TOOLKIT_COUNTY_RESEARCH", "")
    lines: list[str] = []
    out = run_demo(tmp_path / "demo.duckdb", headless=False, out=lines.append)
    text = "\n".join(lines)
    assert out["first"] == "Paused at 150/235 properties (64%)"
    assert "resuming from property 151" in text
    assert "Completed 235/235 properties (100%)" in text
    before = out["pending_before"].set_index("job_type")
    assert (
        before.loc["regrid_scraping", "pending"] == 778
        and before.loc["visual_validation", "pending"] == 17
    )
    assert out["status"]["status"] == "completed" and out["status"]["processed_items"] == 235
    assert out["pending_after"].empty  # every job type ran to the end
    assert set(out["bids"].decision) <= {"BID", "REVIEW"} and len(out["bids"]) > 0
    assert (tmp_path / "exports" / "demo_bids.csv").exists()
    assert "SYNTHETIC" in text
    # the demo keeps the sample's synthetic CLR factors: no real factor x invented values
    assert "CLR factors: the sample's SYNTHETIC placeholders" in text
    import toolkit

    with toolkit.connect(str(tmp_path / "demo.duckdb")) as ws:
        sources = ws.sql("SELECT DISTINCT clr_source FROM bid_strategies").clr_source
    assert len(sources) and sources.str.startswith("SYNTHETIC").all()


def test_demo_refuses_to_delete_the_users_workspace(tmp_path, monkeypatch):
    mine = tmp_path / "mine.duckdb"
    mine.write_bytes(b"")
    monkeypatch.setenv("TOOLKIT_DB", str(mine))
    with pytest.raises(ValidationError, match="would delete it"):
        run_demo(mine, headless=False, out=lambda s: None)
    assert mine.exists()
