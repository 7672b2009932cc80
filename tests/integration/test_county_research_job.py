"""county_research: the research file read headless by a job, skips, bad files, the form's save."""

from __future__ import annotations

import json
import textwrap
from pathlib import Path

import pandas as pd
import pytest

from toolkit.exceptions import ConfigError, InvalidTransitionError, ValidationError
from toolkit.processors.county_research import (
    ENV_RESEARCH,
    forget_imported,
    load_research_file,
)

BACKENDS = ("duckdb", "postgres")  # county research records through each backend's engine
ROOT = Path(__file__).resolve().parents[2]
SAMPLE = ROOT / "data" / "sample" / "county_research.yaml"
SALE_DATES = {
    "Blair": "2027-09-13",
    "Clearfield": "2027-09-20",
    "Westmoreland": "2027-09-08",
    "Somerset": "2027-09-27",
}


@pytest.fixture
def research_ws(ws, monkeypatch):
    """The sample properties (four counties) and the sample research file via the env var."""
    monkeypatch.setenv(ENV_RESEARCH, str(SAMPLE))
    ws.import_properties(ROOT / "data" / "sample" / "properties.csv")
    yield ws
    forget_imported(ws.store)


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "research.yaml"
    path.write_text(textwrap.dedent(text).lstrip())
    return path


def sales(ws) -> pd.DataFrame:
    return ws.sql(
        "SELECT c.county_name AS county, u.sale_type, u.sale_date::VARCHAR AS sale_date, "
        "u.registration_deadline::VARCHAR AS deadline, u.deposit, u.location, u.platform, "
        "u.source, u.researched_at::DATE::VARCHAR AS checked "
        "FROM upcoming_sales u JOIN counties c ON c.id = u.county_id ORDER BY county, sale_type"
    )


# -- the sample file -------------------------------------------------------------------


def test_sample_file_is_labelled_synthetic_and_matches_the_sample_sales():
    text = SAMPLE.read_text()
    assert "SYNTHETIC" in text.splitlines()[0]
    research = load_research_file(SAMPLE)
    assert sorted(research) == sorted(SALE_DATES)
    sample = pd.read_csv(ROOT / "data" / "sample" / "properties.csv", comment="#", dtype=str)
    csv_dates = sample.groupby("county").sale_date.unique().to_dict()
    for county, entry in research.items():
        upset = [s for s in entry["sales"] if s["sale_type"] == "upset"]
        assert [str(s["sale_date"]) for s in upset] == [SALE_DATES[county]]
        assert list(csv_dates[county]) == [SALE_DATES[county]]
        for sale in entry["sales"]:
            assert "synthetic" in sale["source"].lower()
            for field in ("deposit", "payment_terms", "bidder_certification"):
                assert sale[field] is None or sale[field].startswith("SYNTHETIC")


# -- the job -------------------------------------------------------------------------------


def test_a_job_over_the_sample_counties_stores_their_research(research_ws):
    ws = research_ws
    job = ws.create_batch_job("county_research")
    summary = ws.run_session(job)
    assert summary.outcome == "completed"
    assert (summary.processed, summary.failed, summary.skipped) == (4, 0, 0)

    log = ws.sql(
        "SELECT c.county_name AS county, r.job_id::VARCHAR AS job_id, r.status, r.notes, r.links, "
        "r.source, r.researched_at FROM county_research r JOIN counties c ON c.id = r.county_id "
        "ORDER BY county"
    ).set_index("county")
    assert sorted(log.index) == sorted(SALE_DATES)
    assert set(log.job_id) == {job} and set(log.status) == {"done"}
    assert set(log.source) == {"synthetic sample"}
    blair_links = json.loads(log.loc["Blair", "links"])
    assert blair_links == [
        {
            "url": "https://example.invalid/blair/tax-claim-bureau",
            "title": "Tax claim bureau (synthetic placeholder)",
            "source": "synthetic sample",
            "as_of": "2026-11-01",
        }
    ]
    assert json.loads(log.loc["Somerset", "links"]) == []
    assert log.loc["Clearfield", "notes"].endswith("[synthetic sample (note), 2026-11-02]")
    assert (
        log.loc["Somerset", "notes"]
        == "SYNTHETIC — one plain-text note. [synthetic sample, 2026-11-01]"
    )

    got = sales(ws)
    upset = got[got.sale_type == "upset"].set_index("county")
    assert upset.sale_date.to_dict() == SALE_DATES
    assert upset.deadline.to_dict()["Blair"] == "2027-08-30"
    online = {"Blair": False, "Clearfield": False, "Somerset": False, "Westmoreland": True}
    assert upset.platform.notna().to_dict() == online
    judicial = got[got.sale_type == "judicial"]
    assert judicial[["county", "source", "checked"]].values.tolist() == [
        ["Somerset", "synthetic sample (date not announced)", "2026-11-01"]
    ]
    assert judicial.sale_date.isna().all()
    # researched now: nothing left for a new job
    assert ws.get_batch_status(ws.create_batch_job("county_research"))["total_items"] == 0


def test_a_county_missing_from_the_file_is_skipped_not_failed(research_ws):
    ws = research_ws
    ws.import_properties(pd.DataFrame({"parcel_id": ["01-001"], "county": ["Adams"]}))
    job = ws.create_batch_job("county_research")
    summary = ws.run_session(job)
    assert summary.status == "completed"
    assert (summary.processed, summary.failed, summary.skipped) == (4, 0, 1)
    status = ws.get_batch_status(job)
    counts = (status["failed_items"], status["skipped_items"], status["consecutive_failures"])
    assert counts == (0, 1, 0)
    item = ws.sql(
        "SELECT status, error FROM batch_job_items WHERE job_id = $1::UUID AND item_id = '1'", [job]
    )
    assert item.status[0] == "skipped"
    assert item.error[0].startswith("needs research: Adams County")
    assert not ws.sql("SELECT * FROM county_research WHERE county_id = 1").shape[0]


def test_rerunning_replaces_the_countys_sales(research_ws, tmp_path):
    ws = research_ws
    ws.run_session(ws.create_batch_job("county_research"))
    newer = write(
        tmp_path,
        """
        counties:
          Blair:
            source: second look
            as_of: 2026-11-20
            sales:
              - sale_type: judicial
                sale_date: 2028-03-01
    """,
    )
    assert ws.import_county_research(newer) == {
        "path": str(newer.resolve()),
        "counties": 1,
        "sales": 1,
        "links": 0,
        "county_names": ["Blair"],
    }
    # Blair's research is fresh, so no job has it as an item: save it directly.
    # Validated research (dates parsed, defaults filled in) is valid research too
    ws.save_county_research("Blair", load_research_file(newer)["Blair"])
    got = sales(ws)
    assert got[got.county == "Blair"][["sale_type", "sale_date", "source"]].values.tolist() == [
        ["judicial", "2028-03-01", "second look"]
    ]
    assert len(got) == 5 - 1 + 1  # the other counties' sales untouched
    log = ws.sql("SELECT count(*) AS n FROM county_research WHERE county_id = 13").n[0]
    assert log == 2  # a log: the first research stays on record


def test_the_imported_file_is_used_by_this_workspaces_jobs(ws, tmp_path, monkeypatch):
    monkeypatch.delenv(ENV_RESEARCH, raising=False)
    ws.import_properties(pd.DataFrame({"parcel_id": ["1", "2"], "county": ["Blair", "Adams"]}))
    mine = write(
        tmp_path,
        """
        counties:
          Adams:
            source: my notes
            as_of: 2026-11-10
            sales: [{sale_type: repository}]
          Blair:
    """,
    )
    try:
        ws.import_county_research(mine)
        summary = ws.run_session(ws.create_batch_job("county_research"))
    finally:
        forget_imported(ws.store)
    assert (summary.processed, summary.skipped) == (1, 1)
    skipped = ws.sql("SELECT error FROM batch_job_items WHERE status = 'skipped'").error[0]
    assert skipped == f"needs research: Blair County's entry in {mine.resolve()} is empty"
    assert sales(ws)[["county", "sale_type"]].values.tolist() == [["Adams", "repository"]]


def test_import_with_write_stores_every_county_at_once(ws):
    from toolkit.processors.county_research import import_research_file

    try:
        out = import_research_file(ws.store, SAMPLE, write=True)
    finally:
        forget_imported(ws.store)
    assert out["counties"] == 4 and out["sales"] == 5
    assert ws.sql("SELECT count(*) AS n FROM county_research WHERE job_id IS NULL").n[0] == 4
    assert len(sales(ws)) == 5


def test_an_explicit_research_file_that_is_missing_is_an_error(research_ws, monkeypatch, tmp_path):
    monkeypatch.setenv(ENV_RESEARCH, str(tmp_path / "nope.yaml"))
    job = research_ws.create_batch_job("county_research")
    with pytest.raises(ConfigError, match=r"nope.yaml' does not exist"):
        research_ws.run_session(job)
    assert research_ws.get_batch_status(job)["processed_items"] == 0


# -- malformed files: the line, the key, the date -----------------------------------------------


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("counties:\n  Blair:\n    source: x\n    sales: [\n", r"line 5, column 1: not valid YAML"),
        (
            "counties:\n  Blair:\n   source: x\n  as_of: 2026-01-01\n    notes: y\n",
            r"line 5, column \d+: not valid YAML",
        ),
        (
            "counties:\n  Blair:\n    source: x\n    as_of: 2026-11-01\n    sales:\n"
            "      - sale_type: upset\n        deposite: 100\n",
            r"line 7: unknown key 'deposite' in sale 1 of Blair\. Did you mean 'deposit'\? "
            r"Valid keys: sale_type, sale_date, registration_deadline, deposit",
        ),
        (
            "counties:\n  Blair:\n    sorce: x\n",
            r"line 3: unknown key 'sorce' in Blair's research\. Did you mean 'source'\? "
            r"Valid keys: source, as_of, notes, links, sales",
        ),
        (
            "county:\n  Blair: {}\n",
            r"line 1: unknown key 'county' in the file.*Valid keys: counties",
        ),
        (
            "counties:\n  Blair:\n    source: x\n    as_of: 2026-11-01\n    sales:\n"
            "      - sale_type: upset\n        sale_date: 2027-13-45\n",
            r"line 7: sale_date '2027-13-45' is not a date; write it as YYYY-MM-DD",
        ),
        (
            "counties:\n  Blair:\n    source: x\n    as_of: 09/13/2027\n",
            r"line 4: as_of '09/13/2027' is not a date",
        ),
        (
            "counties:\n  Blare:\n    source: x\n",
            r"line 2: Unknown county 'Blare'\. Did you mean 'Blair'\?",
        ),
        (
            "counties:\n  Blair:\n    source: x\n    as_of: 2026-11-01\n    sales:\n"
            "      - sale_type: tax\n",
            r"line 6: sale 1 of Blair has sale_type 'tax'; valid: upset",
        ),
        (
            "counties:\n  Blair:\n    sales:\n      - sale_type: upset\n",
            r"line 4: sale 1 of Blair has no source",
        ),
        (
            "counties:\n  Blair:\n    source: x\n    source: y\n",
            r"line 4: key 'source' appears twice",
        ),
        (
            "counties:\n  Blair:\n    source: x\n    as_of: 2026-11-01\n    sales:\n"
            "      - sale_type: upset\n        sale_date: 2027-09-13\n"
            "        registration_deadline: 2027-09-20\n",
            r"line 8: .*registration deadline 2027-09-20 is after the sale date 2027-09-13",
        ),
        ("- Blair\n", r"must be a mapping with a 'counties:' key"),
    ],
)
def test_malformed_files_say_where_and_what(tmp_path, ws, text, message):
    path = tmp_path / "research.yaml"
    path.write_text(text)
    with pytest.raises(ConfigError, match=message) as info:
        ws.import_county_research(path)
    assert str(path) in str(info.value)
    forget_imported(ws.store)


def test_a_malformed_file_stops_the_session_before_any_item(research_ws, tmp_path, monkeypatch):
    bad = write(tmp_path, "counties:\n  Blair:\n    sales: {\n")
    monkeypatch.setenv(ENV_RESEARCH, str(bad))
    job = research_ws.create_batch_job("county_research")
    with pytest.raises(ConfigError, match=r"line 4"):
        research_ws.run_session(job)
    st = research_ws.get_batch_status(job)
    assert st["processed_items"] + st["failed_items"] + st["skipped_items"] == 0


# -- the notebook form's save --------------------------------------------------------------------


def test_save_county_research_validates_and_writes_one_county(ws):
    research = {
        "source": "phone call to the tax claim bureau",
        "as_of": "2026-11-15",
        "notes": ["Bring photo ID."],
        "links": [{"url": "https://example.invalid/x", "title": "Notice"}],
        "sales": [{"sale_type": "upset", "sale_date": "2027-09-13", "deposit": "text as stated"}],
    }
    ws.save_county_research("Blair County", research)
    log = ws.sql(
        "SELECT status, notes, links, source, job_id FROM county_research WHERE county_id = 13"
    )
    assert log[["status", "notes", "source"]].values.tolist() == [
        [
            "done",
            "Bring photo ID. [phone call to the tax claim bureau, 2026-11-15]",
            "phone call to the tax claim bureau",
        ]
    ]
    assert log.job_id.isna().all()
    assert json.loads(log.links[0])[0]["as_of"] == "2026-11-15"
    assert sales(ws)[["county", "sale_type", "sale_date", "deposit"]].values.tolist() == [
        ["Blair", "upset", "2027-09-13", "text as stated"]
    ]


def test_save_county_research_rejects_bad_research_and_writes_nothing(ws):
    with pytest.raises(ConfigError, match=r"unknown key 'deadline'.*Valid keys: sale_type"):
        bad_key = [{"sale_type": "upset", "deadline": "2027-09-01"}]
        ws.save_county_research("Blair", {"source": "x", "as_of": "2026-11-01", "sales": bad_key})
    with pytest.raises(ConfigError, match=r"sale_date 'next fall' is not a date"):
        bad_date = [{"sale_type": "upset", "sale_date": "next fall"}]
        ws.save_county_research("Blair", {"source": "x", "as_of": "2026-11-01", "sales": bad_date})
    with pytest.raises(ConfigError, match=r"no date"):
        ws.save_county_research("Blair", {"source": "x", "sales": [{"sale_type": "upset"}]})
    with pytest.raises(ValidationError, match=r"Blare"):
        ws.save_county_research("Blare", {"source": "x", "as_of": "2026-11-01"})
    assert ws.sql("SELECT count(*) AS n FROM county_research").n[0] == 0
    assert ws.sql("SELECT count(*) AS n FROM upcoming_sales").n[0] == 0


def test_save_with_a_job_marks_the_item_done_in_the_same_transaction(
    research_ws, monkeypatch, tmp_path
):
    ws = research_ws
    job = ws.create_batch_job("county_research", "Somerset")
    research = {
        "source": "county notice",
        "as_of": "2026-11-20",
        "sales": [{"sale_type": "upset", "sale_date": "2027-09-27"}],
    }
    # a bad save changes nothing: the item stays pending
    with pytest.raises(ConfigError):
        ws.save_county_research("Somerset", {"sourc": "x"}, job_id=job)
    assert ws.get_batch_status(job)["processed_items"] == 0
    with pytest.raises(ValidationError, match=r"Blair County is not an item"):
        ws.save_county_research("Blair", research, job_id=job)
    ws.save_county_research("Somerset", research, job_id=job)
    st = ws.get_batch_status(job)
    assert (st["status"], st["processed_items"]) == ("completed", 1)
    row = ws.sql("SELECT job_id::VARCHAR AS j, source FROM county_research WHERE county_id = 111")
    assert row.values.tolist() == [[job, "county notice"]]
    with pytest.raises(InvalidTransitionError, match=r"done already"):
        ws.save_county_research("Somerset", research, job_id=job)
    assert ws.sql("SELECT count(*) AS n FROM county_research").n[0] == 1
