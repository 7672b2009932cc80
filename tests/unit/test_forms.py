"""The research forms, driven in-process: fill widgets, click Save, check what was written.

The workspace is the synthetic sample's Somerset County run through the real
pipeline once per module (regrid_scraping, visual_validation; for the bid list
also condition, environmental, title and bid_strategy); each test works on its
own copy of the file.
"""

from __future__ import annotations

import math
import shutil
import warnings
from pathlib import Path

import pytest

import toolkit
from toolkit.notebook.forms import (
    BidExport,
    ConditionForm,
    CountyResearchForm,
    ScreeningReview,
    TitleForm,
    check_liens,
    title_result,
)

COUNTY = "Somerset"  # the smallest sample county: 140 properties


def _run(ws, job_type: str) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # other active jobs: expected here
        job = ws.create_batch_job(job_type, COUNTY)
    assert ws.run_session(job, max_items=100_000).outcome == "completed"


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    from toolkit.demo import build_sample_workspace

    base = tmp_path_factory.mktemp("forms")
    screened, full = base / "screened.duckdb", base / "full.duckdb"
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("TOOLKIT_ENV_SOURCES", "sample")
        mp.delenv("TOOLKIT_DB", raising=False)
        ws = build_sample_workspace(screened)
        for job_type in ("regrid_scraping", "visual_validation"):
            _run(ws, job_type)
        ws.close()
        shutil.copyfile(screened, full)
        ws = toolkit.connect(str(full))
        for job_type in (
            "property_condition",
            "environmental_research",
            "title_research",
            "bid_strategy",
        ):
            _run(ws, job_type)
        ws.close()
    return {"screened": screened, "full": full}


@pytest.fixture
def db(built: dict[str, Path], tmp_path: Path) -> str:
    path = tmp_path / "ws.duckdb"
    shutil.copyfile(built["screened"], path)
    return str(path)


def _count(ws, table: str, pid: str | None = None) -> int:
    if pid is None:
        return int(ws.sql(f"SELECT count(*) AS n FROM {table}").n[0])
    return int(
        ws.sql(f"SELECT count(*) AS n FROM {table} WHERE property_id = $1::UUID", [pid]).n[0]
    )


def _item_status(ws, job: str, item: str) -> str:
    return str(
        ws.sql(
            "SELECT status FROM batch_job_items WHERE job_id = $1::UUID AND item_id = $2",
            [job, item],
        ).status[0]
    )


# -- title research -------------------------------------------------------------


def test_title_form_records_search_liens_and_the_processors_result(db: str) -> None:
    ws = toolkit.connect(db)
    form = TitleForm(db, county=COUNTY)
    assert form.begin().startswith("Started title_research job")
    first = form.item
    pid = str(first["item_id"])
    assert first["sale_type"] == "upset"
    assert "Liens on file" in form.context.value and "None on file." in form.context.value
    assert "recorder+of+deeds" in form.links.value and "Somerset" in form.links.value
    assert form.add_lien("mortgage", "FIRST BANK", "$40,000", "2015-03-02")
    assert form.add_lien("tax", "SOMERSET TAX CLAIM BUREAU", "900", "")
    assert form.add_lien("judgment", "ACME", "12", "")
    form.rows[2].remove_button.click()
    form.note.value = "Recorder index checked 1990-present"
    form.save_button.click()
    assert "Saved" in form.message.value, form.message.value

    liens = ws.sql(
        "SELECT lien_type, holder, amount, recorded_date::VARCHAR AS d, source "
        "FROM property_liens WHERE property_id = $1::UUID ORDER BY lien_type",
        [pid],
    )
    assert liens.lien_type.tolist() == ["mortgage", "tax"]
    assert liens.amount.tolist() == [40000.0, 900.0] and liens.d[0] == "2015-03-02"
    assert set(liens.source) == {"manual (notebook form)"}
    assert _count(ws, "title_searches", pid) == 1
    row = ws.sql("SELECT * FROM title_research WHERE property_id = $1::UUID", [pid]).iloc[0]
    # an upset sale discharges the tax claim; the mortgage survives
    assert row.status == "SURVIVING_LIENS" and row.surviving_total == 40000.0
    assert "note: Recorder index checked 1990-present" in row.reasons
    assert str(row.job_id) == form.job_id and _item_status(ws, form.job_id, pid) == "done"

    # the next property: none found is a result too
    second = str(form.item["item_id"])
    assert second != pid
    form.no_liens.value = True
    form.save_button.click()
    row = ws.sql(
        "SELECT status, surviving_total FROM title_research WHERE property_id = $1::UUID", [second]
    ).iloc[0]
    assert row.status == "CLEAR" and row.surviving_total == 0
    assert _count(ws, "property_liens", second) == 0 and _count(ws, "title_searches", second) == 1
    st = ws.get_batch_status(form.job_id)
    assert (st["processed_items"], st["failed_items"]) == (2, 0)


@pytest.mark.parametrize(
    ("lien", "error"),
    [
        (("mortgage", "BANK", "forty", ""), "Lien 1: amount &#x27;forty&#x27; is not a number"),
        (("mortgage", "BANK", "1", "2015-13-40"), "date &#x27;2015-13-40&#x27; is not a date"),
        (None, "Add the liens you found, or tick"),
    ],
)
def test_title_form_bad_input_shows_the_error_and_saves_nothing(db: str, lien, error) -> None:
    ws = toolkit.connect(db)
    form = TitleForm(db, county=COUNTY)
    form.begin()
    pid = str(form.item["item_id"])
    if lien:
        form.add_lien(*lien)
    form.save_button.click()
    assert error in form.message.value and "color:#b00020" in form.message.value
    assert form.item["item_id"] == pid  # still shown, the entries kept for correcting
    assert len(form.rows) == (1 if lien else 0)
    assert [_count(ws, t) for t in ("property_liens", "title_searches", "title_research")] == [
        0,
        0,
        0,
    ]
    assert _item_status(ws, form.job_id, pid) == "pending"  # nothing claimed before work starts


def test_title_form_unknown_lien_type_and_contradictions(db: str) -> None:
    form = TitleForm(db, county=COUNTY)
    form.begin()
    assert not form.add_lien("easement")
    assert "lien type" in form.message.value and "mortgage" in form.message.value
    assert form.rows == []
    form.add_lien("mortgage", "BANK", "10", "")
    form.no_liens.value = True
    form.save_button.click()
    assert "&#x27;No liens found&#x27; is ticked but the table lists 1 lien" in form.message.value
    assert _count(toolkit.connect(db), "title_searches") == 0
    with pytest.raises(toolkit.exceptions.UnknownChoiceError, match="easement"):
        check_liens([{"lien_type": "easement"}])


def test_title_crash_between_the_two_saves_is_safe(db: str) -> None:
    ws = toolkit.connect(db)
    form = TitleForm(db, county=COUNTY)
    form.begin()
    item = dict(form.item)
    pid = str(item["item_id"])
    # the first transaction happened, then the kernel died before record_result
    ws.record_title_search(
        pid,
        [
            {
                "lien_type": "mortgage",
                "holder": "FIRST BANK",
                "amount": 40000,
                "recorded_date": "2015-03-02",
            }
        ],
    )
    again = TitleForm(db, job_id=form.job_id)
    again.begin()
    assert again.item["item_id"] == pid  # this worker's open claim comes back first
    assert (
        "FIRST BANK" in again.context.value and "A title search is on file" in again.context.value
    )
    # entering the same lien again would count it twice: refused
    again.add_lien("mortgage", "First Bank", "40,000.00", "2015-03-02")
    again.save_button.click()
    assert "is on file already" in again.message.value
    assert _count(ws, "property_liens", pid) == 1
    # nothing new: the result is computed from what is on file
    again.remove_lien(0)
    again.no_liens.value = True
    again.save_button.click()
    row = ws.sql(
        "SELECT status, surviving_total FROM title_research WHERE property_id = $1::UUID", [pid]
    ).iloc[0]
    assert (row.status, row.surviving_total) == ("SURVIVING_LIENS", 40000.0)
    assert _count(ws, "property_liens", pid) == 1 and _item_status(ws, form.job_id, pid) == "done"


def test_title_result_equals_the_processors_for_the_same_item(db: str) -> None:
    ws = toolkit.connect(db)
    form = TitleForm(db, county=COUNTY)
    form.begin()
    item = dict(form.item)
    pid = str(item["item_id"])
    ws.record_title_search(pid, [{"lien_type": "judgment", "holder": "ACME", "amount": 5000}])
    mine = title_result(ws, item)
    # the automatic session over the same claimed item writes the same row
    ws.run_session(form.job_id, max_items=1)
    row = ws.sql(
        "SELECT status, surviving_total, reasons, confidence FROM title_research "
        "WHERE property_id = $1::UUID",
        [pid],
    ).iloc[0]
    assert (mine["status"], mine["surviving_total"], mine["reasons"], mine["confidence"]) == (
        row.status,
        row.surviving_total,
        row.reasons,
        row.confidence,
    )


def test_title_item_marked_failed_with_its_note(db: str) -> None:
    ws = toolkit.connect(db)
    form = TitleForm(db, county=COUNTY)
    form.begin()
    pid = str(form.item["item_id"])
    form.outcome.value = "failed"
    form.note.value = "Recorder site down"
    form.save_button.click()
    rows = ws.sql(
        "SELECT status, error FROM batch_job_items WHERE job_id = $1::UUID AND item_id = $2",
        [form.job_id, pid],
    )
    assert (rows.status[0], rows.error[0]) == ("failed", "Recorder site down")
    assert _count(ws, "title_research") == 0


# -- property condition ---------------------------------------------------------


def test_condition_form_manual_grade_wins_with_imagery_and_sketch(db: str) -> None:
    import ipywidgets as w

    from toolkit.processors.decisions import workspace_profile

    ws = toolkit.connect(db)
    form = ConditionForm(db, county=COUNTY)
    form.begin()
    item = form.item
    pid = str(item["item_id"])
    lat, lon = item["lat"], item["lon"]
    assert f"viewpoint={lat},{lon}" in form.links.value
    assert f"@{lat},{lon},19z/data=!3m1!1e3" in form.links.value
    [img] = form.sketch.children
    assert isinstance(img, w.Image) and img.value == Path(item["sketch_path"]).read_bytes()
    assert img.value[:8] == b"\x89PNG\r\n\x1a\n"

    form.save_button.click()  # no grade chosen
    assert "Choose a grade (A, B, C, D, F)" in form.message.value
    assert (
        _count(ws, "condition_assessments") == 0 and _item_status(ws, form.job_id, pid) == "pending"
    )

    form.grade.value = "D"
    form.note.value = "Street view: roof sagging, windows boarded"
    form.save_button.click()
    row = ws.sql("SELECT * FROM condition_assessments WHERE property_id = $1::UUID", [pid]).iloc[0]
    rate = workspace_profile(ws.data_dir).condition.repair_per_sqft["D"]
    assert (row.grade, row.manual_grade, row.confidence) == ("D", "D", 1.0)
    assert math.isclose(row.repair_estimate, round(rate * item["bldg_footprint_sqft"], 2))
    assert row.reasons.startswith("manual grade D wins over the computed grade: Street view")
    assert row.inputs_used.startswith("manual grade")
    assert row.computed_grade in ("A", "B", "C", "D", "F", "NO_BUILDING", "UNKNOWN")
    assert _item_status(ws, form.job_id, pid) == "done" and form.item["item_id"] != pid


def test_condition_form_without_sketch_or_coordinates(db: str) -> None:
    ws = toolkit.connect(db)
    form = ConditionForm(db, county=COUNTY)
    form.begin()
    pid = str(form.item["item_id"])
    ws.sql(
        "UPDATE regrid_data SET sketch_path = NULL, lat = NULL, lon = NULL "
        "WHERE property_id = $1::UUID",
        [pid],
    )
    again = ConditionForm(db, job_id=form.job_id)
    again.begin()
    assert again.item["item_id"] == pid
    assert "No parcel sketch on file" in again.sketch.children[0].value
    assert (
        "maps/search/?api=1&amp;query=" in again.links.value
        and "viewpoint" not in again.links.value
    )


# -- county research ------------------------------------------------------------


def test_county_form_saves_one_sale_and_marks_the_county_done(db: str) -> None:
    ws = toolkit.connect(db)
    form = CountyResearchForm(db)
    form.begin()
    county, cid = form.item["county"], int(form.item["county_id"])
    assert "Upcoming sales on file" in form.context.value and "tax+claim+bureau" in form.links.value
    assert "<td>never</td>" in form.context.value and "None on file." in form.context.value
    form.sale_date.value = "2027-09-13"
    form.registration_deadline.value = "2027-08-30"
    form.deposit.value = "10% of the bid, cash or certified check"
    form.source.value = "county tax claim bureau web site"
    form.as_of.value = "2027-07-01"
    form.link_url.value = "https://example.org/tax-claim"
    form.note.value = "Notarized affidavit required"
    form.save_button.click()
    assert "Saved" in form.message.value, form.message.value
    sale = ws.sql(
        "SELECT sale_type, sale_date::VARCHAR AS d, registration_deadline::VARCHAR AS r, "
        "deposit, source FROM upcoming_sales WHERE county_id = $1",
        [cid],
    ).iloc[0]
    assert (sale.sale_type, sale.d, sale.r) == ("upset", "2027-09-13", "2027-08-30")
    assert sale.source == "county tax claim bureau web site"
    log = ws.sql("SELECT notes, links FROM county_research WHERE county_id = $1", [cid]).iloc[0]
    assert (
        "Notarized affidavit required" in log.notes and "https://example.org/tax-claim" in log.links
    )
    assert _item_status(ws, form.job_id, str(cid)) == "done", county


@pytest.mark.parametrize(
    ("field", "value", "error"),
    [
        ("sale_date", "13/09/2027", "Sale date &#x27;13/09/2027&#x27; is not a date"),
        ("source", "", "Say where the facts come from"),
        ("registration_deadline", "2027-10-01", "is after the sale date"),
    ],
)
def test_county_form_bad_input_saves_nothing(db: str, field: str, value: str, error: str) -> None:
    ws = toolkit.connect(db)
    form = CountyResearchForm(db)
    form.begin()
    cid = str(form.item["county_id"])
    form.sale_date.value = "2027-09-13"
    form.source.value = "phone call to the bureau"
    getattr(form, field).value = value
    form.save_button.click()
    assert error in form.message.value, form.message.value
    assert _count(ws, "upcoming_sales") == 0 and _count(ws, "county_research") == 0
    assert _item_status(ws, form.job_id, cid) == "pending"  # nothing claimed before work starts


# -- visual validation review ------------------------------------------------------


def test_screening_review_lists_cautions_and_rejections_and_overrides(db: str) -> None:
    import ipywidgets as w

    ws = toolkit.connect(db)
    flagged = ws.sql(
        "SELECT property_id::VARCHAR AS pid, verdict FROM visual_validations "
        "WHERE verdict IN ('CAUTION', 'REJECTED')"
    )
    review = ScreeningReview(db, county=COUNTY, page_size=10)
    assert review.count == len(flagged) > 10
    assert f"{len(flagged)} CAUTION/REJECTED properties · page 1/" in review.header.value
    card = next(iter(review.cards.values()))
    pid = str(card["row"]["property_id"])
    assert isinstance(card["widget"].children[0], w.Image)
    reason = str(card["row"]["reasons"]).split("; ")[0]
    assert reason and reason.replace("'", "&#x27;") in card["info"].value
    pending_before = (
        ws.get_pending_work_summary().set_index("job_type").pending["property_condition"]
    )

    card["choice"].value = "APPROVED"
    card["button"].click()  # no note
    assert "needs a note" in card["message"].value
    assert (
        ws.sql(
            "SELECT override_verdict FROM visual_validations WHERE property_id = $1::UUID", [pid]
        )
        .override_verdict.isna()
        .all()
    )

    card[
        "note"
    ].value = "Aerial view shows a house with a driveway; the parcel width is a GIS error"
    card["button"].click()
    row = ws.sql(
        "SELECT verdict, override_verdict, override_note FROM visual_validations "
        "WHERE property_id = $1::UUID",
        [pid],
    ).iloc[0]
    assert row.override_verdict == "APPROVED" and row.verdict in ("CAUTION", "REJECTED")
    assert row.override_note.startswith("Aerial view shows a house")
    assert "Override: <b>APPROVED</b>" in card["info"].value
    # the pipeline uses the override: the property is now up for condition research
    pending = ws.get_pending_work_summary().set_index("job_type").pending["property_condition"]
    assert pending == pending_before + 1

    review.next_button.click()
    assert review.page == 1 and pid not in review.cards
    assert not review.override(pid, "REJECTED", "not on this page")


def test_screening_review_of_one_job_and_bad_verdicts(db: str) -> None:
    ws = toolkit.connect(db)
    job = str(ws.completed_jobs().query("job_type == 'visual_validation'").job_id.iloc[0])
    assert ScreeningReview(db, job_id=job).count == ScreeningReview(db).count > 0
    assert ScreeningReview(db, job_id="00000000-0000-0000-0000-000000000000").count == 0
    with pytest.raises(toolkit.exceptions.UnknownChoiceError, match="MAYBE"):
        ScreeningReview(db, verdicts=("MAYBE",))


# -- bid list ----------------------------------------------------------------------


def test_bid_export_writes_the_list_to_data_exports(built: dict[str, Path], tmp_path: Path) -> None:
    import pandas as pd

    path = tmp_path / "ws.duckdb"
    shutil.copyfile(built["full"], path)
    ws = toolkit.connect(str(path))
    expected = ws.bid_list()
    assert len(expected) > 0
    export = BidExport(str(path))
    assert export.table.value.count("<tr") == len(expected) + 1  # and the header
    export.export_button.click()
    assert export.path is not None and export.path.parent == tmp_path / "exports"
    assert export.path.suffix == ".csv" and str(export.path) in export.message.value
    written = pd.read_csv(export.path)
    assert written.parcel_id.astype(str).tolist() == expected.parcel_id.astype(str).tolist()
    export.format.value = "xlsx"
    xlsx = export.export()
    assert xlsx is not None and len(pd.read_excel(xlsx)) == len(expected)
    assert export.export(tmp_path / "bids.txt") is None
    assert "export format" in export.message.value and "csv, xlsx" in export.message.value


def test_begin_claims_nothing_and_save_names_the_parcel_and_result(db: str) -> None:
    ws = toolkit.connect(db)
    form = TitleForm(db, county=COUNTY)
    form.begin()
    claimed = ws.sql(
        "SELECT count(*) AS n FROM batch_job_items WHERE job_id = $1::UUID AND status = 'claimed'",
        [form.job_id],
    ).n[0]
    assert claimed == 0 and form.item is not None and not form.claimed
    assert ws.get_batch_status(form.job_id)["status"] == "pending"
    # the header reads as two lines, not "Liens on fileNone on file."
    assert "Liens on fileNone" not in form.context.value
    parcel = form.item["parcel_id"]
    form.no_liens.value = True
    form.save_button.click()
    msg = form.message.value
    assert f"Saved parcel {parcel}" in msg and "title CLEAR" in msg and "$0" in msg, msg
    assert str(form.log[0]["item_id"]) not in msg  # no UUID in the confirmation
    assert form.claimed  # work started: the batch is claimed now


def test_the_bad_field_is_highlighted(db: str) -> None:
    form = TitleForm(db, county=COUNTY)
    form.begin()
    form.add_lien("mortgage", "BANK", "forty", "")
    form.save_button.click()
    assert "toolkit-bad-field" in form.rows[0].amount._dom_classes
    assert "toolkit-error" in form.message.value
    form.rows[0].amount.value = "100"
    form.rows[0].recorded_date.value = "2015-13-40"
    form.save_button.click()
    assert "toolkit-bad-field" not in form.rows[0].amount._dom_classes
    assert "toolkit-bad-field" in form.rows[0].recorded_date._dom_classes
    county = CountyResearchForm(db)
    county.begin()
    county.sale_date.value = "13/09/2027"
    county.source.value = "phone"
    county.save_button.click()
    assert "toolkit-bad-field" in county.sale_date._dom_classes
    grade = ConditionForm(db)
    grade.begin()
    grade.save_button.click()
    assert "toolkit-bad-field" in grade.grade._dom_classes
