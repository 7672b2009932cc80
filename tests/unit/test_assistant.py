"""The assistant's tools in-process (no MCP transport), and the research checks they share with the forms."""

from __future__ import annotations

from pathlib import Path

import pytest

import toolkit
from toolkit.assistant.tools import Assistant, guide_text, secrets_from_environment
from toolkit.exceptions import ValidationError
from toolkit.manual_research import NO_SALE, RESULT_KEYS, check_result

ROOT = Path(__file__).resolve().parents[2]


def test_the_shipped_guide_is_the_guide() -> None:
    # toolkit/assistant/guide.md ships in the wheel for the toolkit://guide resource
    assert guide_text() == (ROOT / "docs" / "guide.md").read_text(encoding="utf-8")


@pytest.mark.parametrize(
    ("job_type", "result", "error"),
    [
        ("title_research", [], "result: must be an object with the keys liens, no_liens"),
        ("title_research", {"liens": "none"}, "result.liens: must be a list of liens"),
        ("title_research", {"liens": ["mortgage"]}, "result.liens: lien 1 must be an object"),
        (
            "title_research",
            {"liens": [{"type": "tax"}]},
            "result.liens: lien 1 has unknown key 'type'; valid keys: lien_type, holder",
        ),
        (
            "title_research",
            {"liens": [{"lien_type": "tax", "amount": -5}]},
            "result.liens: Lien 1: amount '-5' must be zero or more.",
        ),
        ("title_research", {"no_liens": True, "note": ["x"]}, "result.note: must be text"),
        ("property_condition", {"grade": "B+"}, "result.grade: Unknown condition grade 'B+'"),
        ("property_condition", {"grade": None}, "result.grade: Choose a grade"),
        ("property_condition", {"grades": "B"}, "Did you mean 'grade'?"),
        ("county_research", {"note": "x"}, "result.source: Say where the facts come from"),
        ("county_research", {"source": "web", "as_of": "July"}, "result.as_of: As of 'July'"),
        (
            "county_research",
            {"source": "web", "as_of": "2027-07-01"},
            "result.note: Nothing to save",
        ),
        ("county_research", {"source": "web", "link_url": "ftp://x"}, "result.link_url: Link"),
        ("regrid_scraping", {"grade": "A"}, "result: regrid_scraping items take no research"),
    ],
)
def test_bad_results_name_the_field(job_type: str, result: object, error: str) -> None:
    with pytest.raises(ValidationError) as caught:
        check_result(job_type, result)
    assert str(caught.value).startswith(error) or error in str(caught.value), str(caught.value)


def test_good_results_are_the_forms_values() -> None:
    title = check_result(
        "title_research",
        {
            "liens": [
                {
                    "lien_type": "Mortgage",
                    "holder": " BANK ",
                    "amount": "$1,000",
                    "recorded_date": "2015-03-02",
                },
            ]
        },
        default_source="assistant (MCP)",
    )
    assert title["liens"][0]["amount"] == 1000.0 and title["liens"][0]["holder"] == "BANK"
    assert title["source"] == "assistant (MCP)"
    assert check_result("property_condition", {"grade": "f"}) == {"grade": "F", "note": ""}
    county = check_result(
        "county_research", {"source": "call", "sale_date": "2027-09-13", "deposit": "10%"}
    )
    sale = county["research"]["sales"][0]
    assert sale == {"sale_type": "upset", "sale_date": "2027-09-13", "deposit": "10%"}
    assert county["research"]["as_of"]  # today, as the form's default
    none = check_result("county_research", {"source": "call", "sale_type": None, "note": "none"})
    assert none["research"]["sales"] == [] and none["research"]["notes"] == ["none"]
    assert NO_SALE not in str(none)
    assert set(RESULT_KEYS) == {"title_research", "property_condition", "county_research"}


def test_secrets_come_from_the_environment_and_the_url(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("REGRID_TOKEN", "regrid-abc-123")
    monkeypatch.setenv("SOME_API_KEY", "key-xyz-789")
    monkeypatch.setenv("TOOLKIT_DATA", "/not/a/secret")
    monkeypatch.setenv("HF_HUB_DISABLE_TOKEN", "true")  # a setting, not a secret
    found = secrets_from_environment("postgresql://me:pw-5551@db/ws", ["bearer-0000"])
    assert {"regrid-abc-123", "key-xyz-789", "pw-5551", "bearer-0000"} <= found
    assert "/not/a/secret" not in found and "true" not in found


def test_redact_reaches_every_string(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("REGRID_TOKEN", "regrid-abc-123")
    a = Assistant(toolkit.connect(str(tmp_path / "ws.duckdb")), secrets=["bearer-0000"])
    out = a.redact({"m": "token regrid-abc-123", "l": [{"bearer-0000": 1}], "n": 2})
    assert out == {"m": "token ***", "l": [{"***": 1}], "n": 2}


def test_export_bids_stays_in_the_exports_folder(tmp_path: Path) -> None:
    ws = toolkit.connect(str(tmp_path / "ws.duckdb"))
    a = Assistant(ws)
    out = a.export_bids()
    assert Path(out["path"]) == (tmp_path / "exports" / "bids.csv").resolve()
    assert out["rows"] == 0 and Path(out["path"]).is_file()
    assert Path(a.export_bids("lists/blair.csv")["path"]).parent.name == "lists"
    for bad in ("../bids.csv", "/tmp/bids.csv", "~/bids.csv"):
        with pytest.raises(ValidationError, match="outside the exports folder"):
            a.export_bids(bad)
    with pytest.raises(ValidationError, match="export format"):
        a.export_bids("bids.pdf")


def test_a_result_needs_an_item_this_server_handed_out(tmp_path: Path) -> None:
    from helpers import load_sample

    ws = toolkit.connect(str(tmp_path / "ws.duckdb"))
    load_sample(ws)
    a = Assistant(ws)
    job = a.create_batch_job("county_research")["job_id"]
    items = a.get_next_batch(job)["items"]
    other = Assistant(ws)  # another server: it did not hand these items out
    result = {"source": "call", "note": "no sale this year"}
    with pytest.raises(ValidationError, match="not an open item of job"):
        other.update_batch_progress(job, items[0]["item_id"], 1, 0, result=result)
    done = a.update_batch_progress(job, items[0]["item_id"], 1, 0, result=result)
    assert done["status"]["processed_items"] == 1
    with pytest.raises(ValidationError, match="reported already"):
        a.update_batch_progress(job, items[0]["item_id"], 1, 0, result=result)
