"""pdf_parsing on the real synthetic sample PDFs: add_document, a job, re-parse, bad files."""

from __future__ import annotations

import shutil
from pathlib import Path

import pandas as pd
import pytest

from toolkit.documents import add_document, documents, parse_document
from toolkit.exceptions import (
    DocumentError,
    NotFoundError,
    UnknownChoiceError,
    UnknownCountyError,
    ValidationError,
)
from toolkit.importing import normalise_parcel

ROOT = Path(__file__).resolve().parents[2]
PDFS = ROOT / "data" / "sample" / "pdfs"
SAMPLES = {
    "Blair": "blair_upset_ruled.pdf",
    "Clearfield": "clearfield_upset_word.pdf",
    "Westmoreland": "westmoreland_upset_printer.pdf",
    "Somerset": "somerset_upset_ruled.pdf",
}
EXPECTED = {"Blair": 252, "Clearfield": 231, "Westmoreland": 172, "Somerset": 140}


def expected_properties() -> pd.DataFrame:
    frame = pd.read_csv(ROOT / "data" / "sample" / "properties.csv", comment="#", dtype=str)
    frame["parcel_norm"] = frame.parcel_id.map(normalise_parcel)
    frame["upset_price"] = frame.upset_price.astype(float)
    return frame


def stored_properties(ws) -> pd.DataFrame:
    return ws.sql(
        "SELECT c.county_name AS county, p.parcel_norm, p.upset_price::DOUBLE AS upset_price, "
        "p.sale_type, p.sale_date::VARCHAR AS sale_date, p.document_id::VARCHAR AS document_id, "
        "p.raw_text, p.parse_confidence FROM properties p JOIN counties c ON c.id = p.county_id"
    )


def table_rows(ws, table: str) -> int:
    return int(ws.sql(f"SELECT count(*) AS n FROM {table}").n[0])


def run_job(ws, county=None):
    job = ws.create_batch_job("pdf_parsing", county)
    return job, ws.run_session(job)


@pytest.fixture(scope="module")
def parsed(tmp_path_factory):
    """A workspace with the four sample lists added and parsed by a job (takes seconds)."""
    import toolkit

    path = tmp_path_factory.mktemp("parsed") / "ws.duckdb"
    ws = toolkit.connect(str(path))
    ids = {county: ws.add_document(PDFS / name, county) for county, name in SAMPLES.items()}
    job, summary = run_job(ws)
    ws.close()
    return path, ids, job, summary


@pytest.fixture
def docs_ws(parsed, tmp_path):
    """A private copy of the parsed workspace, for tests that change it."""
    import toolkit

    path, ids, _, _ = parsed
    for f in path.parent.glob(path.name + "*"):
        if f.is_file():
            shutil.copy(f, tmp_path / f.name.replace(path.name, "ws.duckdb"))
    w = toolkit.connect(str(tmp_path / "ws.duckdb"))
    yield w, ids
    w.close()


# -- the job over the four sample lists ----------------------------------------------


def test_job_parses_every_sample_list_into_properties(docs_ws, parsed):
    ws, ids = docs_ws
    summary = parsed[3]
    assert summary.outcome == "completed", summary.failures
    assert (summary.processed, summary.failed) == (4, 0)

    got = stored_properties(ws)
    assert got.groupby("county").size().to_dict() == EXPECTED
    want = expected_properties()
    merged = want.merge(
        got, on=["county", "parcel_norm"], how="outer", indicator=True, suffixes=("_csv", "_db")
    )
    assert (merged._merge == "both").all(), merged[merged._merge != "both"].head()
    assert (merged.upset_price_csv - merged.upset_price_db).abs().max() < 0.005
    assert (merged.sale_date_csv == merged.sale_date_db).all()
    assert (merged.sale_type_csv == merged.sale_type_db).all()
    # each property points at the document it came from, and keeps what was read
    assert (merged.county.map(ids) == merged.document_id).all()
    assert got.raw_text.notna().all() and got.raw_text.str.len().min() > 10
    assert got.parse_confidence.between(0, 1).all()

    docs = ws.sql(
        "SELECT c.county_name AS county, d.parse_status, d.layout, d.page_count, d.rows_parsed, "
        "d.rows_failed, d.sale_type, d.sale_date::VARCHAR AS sale_date, d.parsed_at "
        "FROM documents d JOIN counties c ON c.id = d.county_id"
    ).set_index("county")
    assert set(docs.parse_status) == {"parsed"}
    assert docs.layout.to_dict() == {
        "Blair": "ruled_table",
        "Clearfield": "word_table",
        "Westmoreland": "printer_report",
        "Somerset": "ruled_table",
    }
    assert docs.rows_parsed.to_dict() == EXPECTED
    assert docs.rows_failed.to_dict() == {
        "Blair": 0,
        "Clearfield": 0,
        "Westmoreland": 0,
        "Somerset": 2,
    }
    assert docs.sale_date.to_dict() == {
        "Blair": "2027-09-13",
        "Clearfield": "2027-09-20",
        "Westmoreland": "2027-09-08",
        "Somerset": "2027-09-27",
    }
    assert docs.parsed_at.notna().all()


def test_somersets_broken_rows_are_parsing_errors_not_properties(docs_ws):
    ws, ids = docs_ws
    errors = ws.sql(
        "SELECT document_id::VARCHAR AS document_id, page, raw_text, reason FROM parsing_errors "
        "ORDER BY raw_text"
    )
    assert len(errors) == 2
    assert set(errors.document_id) == {ids["Somerset"]}
    assert errors.page.tolist() == [4, 4]
    assert "1,2O4.#7" in errors.raw_text[0] and "not a number" in errors.reason[0]
    assert "##.??" in errors.raw_text[1] and "unreadable" in errors.reason[1]
    # the broken rows' parcels are nowhere in properties
    assert not ws.sql(
        "SELECT * FROM properties WHERE parcel_id LIKE '51.01-02..-901%' OR owner LIKE '%BROKEN%'"
    ).shape[0]


def test_adding_the_same_file_again_gives_the_same_id_and_no_new_work(docs_ws, tmp_path):
    ws, ids = docs_ws
    again = ws.add_document(str(PDFS / SAMPLES["Blair"]), "blair county")
    copy = tmp_path / "elsewhere.pdf"
    shutil.copy(PDFS / SAMPLES["Blair"], copy)
    assert again == ids["Blair"]
    assert ws.add_document(copy, "Blair") == ids["Blair"]
    assert table_rows(ws, "documents") == 4
    job = ws.create_batch_job("pdf_parsing")
    assert ws.get_batch_status(job)["total_items"] == 0


def test_reparsing_updates_and_never_duplicates(docs_ws):
    ws, ids = docs_ws
    before = stored_properties(ws).sort_values(["county", "parcel_norm"]).reset_index(drop=True)
    ws.sql("UPDATE properties SET upset_price = 1 WHERE county_id = 111")
    out = parse_document(ws.store, ids["Somerset"])
    assert out == {
        "document_id": ids["Somerset"],
        "layout": "ruled_table",
        "page_count": 4,
        "rows_parsed": 140,
        "rows_failed": 2,
    }
    after = stored_properties(ws).sort_values(["county", "parcel_norm"]).reset_index(drop=True)
    pd.testing.assert_frame_equal(before, after)  # amounts restored, nothing added
    assert table_rows(ws, "parsing_errors") == 2  # replaced, not appended


def test_a_reissued_list_updates_the_same_properties(docs_ws, tmp_path):
    ws, ids = docs_ws
    reissued = tmp_path / "somerset_reissued.pdf"
    reissued.write_bytes((PDFS / SAMPLES["Somerset"]).read_bytes() + b"\n% reissued copy\n")
    new_id = ws.add_document(reissued, "Somerset", sale_type="upset")
    assert new_id != ids["Somerset"]
    _, summary = run_job(ws)
    assert (summary.total, summary.processed) == (1, 1)
    got = stored_properties(ws)
    assert got.groupby("county").size().to_dict() == EXPECTED
    assert set(got[got.county == "Somerset"].document_id) == {new_id}
    errs = ws.sql("SELECT document_id::VARCHAR AS d, count(*) AS n FROM parsing_errors GROUP BY 1")
    assert dict(zip(errs.d, errs.n, strict=True)) == {ids["Somerset"]: 2, new_id: 2}


# -- bad documents ----------------------------------------------------------------------


def test_bad_documents_fail_their_items_and_the_batch_goes_on(ws, tmp_path):
    not_pdf = tmp_path / "list.pdf"
    not_pdf.write_bytes(b"Name,Parcel\nSMITH,01-02\n")
    truncated = tmp_path / "truncated.pdf"
    data = (PDFS / SAMPLES["Blair"]).read_bytes()
    truncated.write_bytes(data[: len(data) // 2])
    bad1 = ws.add_document(not_pdf, "Blair")
    bad2 = ws.add_document(truncated, "Blair")
    good = ws.add_document(PDFS / SAMPLES["Somerset"], "Somerset")
    job, summary = run_job(ws)
    assert summary.status == "completed"
    assert (summary.processed, summary.failed) == (1, 2)
    failed = ws.failed_items(job).set_index("item_id").error.to_dict()
    assert "not a PDF" in failed[bad1] and "save or download the sale list as PDF" in failed[bad1]
    assert "truncated PDF" in failed[bad2] and "download the file again" in failed[bad2]
    assert table_rows(ws, "properties") == 140
    # a failed document stays pending (retried by the next job); its reason is on record
    overview = documents(ws.store).set_index("document_id")
    assert overview.loc[good, "parse_status"] == "parsed"
    assert overview.loc[bad1, "parse_status"] == "pending"
    assert "not a PDF" in overview.loc[bad1, "last_error"]
    retry = ws.create_batch_job("pdf_parsing")
    assert ws.get_batch_status(retry)["total_items"] == 2


def test_a_list_of_another_county_fails_with_the_reason(ws):
    wrong = ws.add_document(PDFS / SAMPLES["Somerset"], "Clearfield")
    job, summary = run_job(ws)
    assert summary.failed == 1
    error = ws.failed_items(job).error[0]
    assert "Somerset County" in error and "Clearfield County" in error
    assert "county='Somerset'" in error
    assert table_rows(ws, "properties") == 0
    assert (
        ws.sql("SELECT parse_status FROM documents WHERE id = $1::UUID", [wrong]).iloc[0, 0]
        == "pending"
    )


# -- add_document: bad input leaves nothing behind -----------------------------------------


def test_add_document_rejects_bad_input_and_writes_nothing(ws, tmp_path):
    pdf = PDFS / SAMPLES["Blair"]
    with pytest.raises(ValidationError, match=r"does not exist"):
        ws.add_document(tmp_path / "missing.pdf", "Blair")
    with pytest.raises(ValidationError, match=r"folder"):
        ws.add_document(tmp_path, "Blair")
    with pytest.raises(UnknownCountyError, match=r"Did you mean 'Blair'"):
        ws.add_document(pdf, "Blare")
    with pytest.raises(ValidationError, match=r"one county"):
        ws.add_document(pdf, None)
    with pytest.raises(UnknownChoiceError, match=r"document type 'sale_list'.*property_list"):
        ws.add_document(pdf, "Blair", document_type="sale_list")
    with pytest.raises(UnknownChoiceError, match=r"sale type 'tax'.*upset"):
        ws.add_document(pdf, "Blair", sale_type="tax")
    with pytest.raises(ValidationError, match=r"'13/09/2027' is not a date"):
        ws.add_document(pdf, "Blair", sale_date="13/09/2027")
    with pytest.raises(UnknownChoiceError, match=r"URL scheme 'ftp'"):
        ws.add_document("ftp://127.0.0.1/list.pdf", "Blair")
    assert table_rows(ws, "documents") == 0
    # the same file cannot belong to two counties
    ws.add_document(pdf, "Blair")
    with pytest.raises(ValidationError, match=r"added already.*Blair County"):
        ws.add_document(pdf, "Somerset")
    assert table_rows(ws, "documents") == 1


def test_other_known_document_types_are_kept_but_not_parsed(ws):
    doc = ws.add_document(
        PDFS / SAMPLES["Blair"], "Blair", document_type="Terms of sale", sale_date="2027-09-13"
    )
    row = ws.sql(
        "SELECT document_type, sale_date::VARCHAR AS d FROM documents WHERE id = $1::UUID", [doc]
    )
    assert row.values.tolist() == [["terms_of_sale", "2027-09-13"]]
    assert ws.get_batch_status(ws.create_batch_job("pdf_parsing"))["total_items"] == 0


# -- URLs, from a real local HTTP server -------------------------------------------------


@pytest.fixture
def server(monkeypatch):
    from fakes import FakeService, Reply

    monkeypatch.setenv("TOOLKIT_ALLOW_PRIVATE_URLS", "1")  # the fake serves on 127.0.0.1
    pdf = (PDFS / SAMPLES["Somerset"]).read_bytes()
    with FakeService() as svc:
        svc.route(
            "/sales/2027%20upset%20list.pdf",
            lambda r: Reply(body=pdf, content_type="application/pdf"),
        )
        svc.route("/sales/list.pdf", lambda r: Reply(body=pdf, content_type="application/pdf"))
        svc.route(
            "/sales/page",
            lambda r: Reply(
                body=b"<!DOCTYPE html><html>Tax sales</html>", content_type="text/html"
            ),
        )
        svc.route(
            "/sales/data.zip",
            lambda r: Reply(body=b"PK\x03\x04zip", content_type="application/zip"),
        )
        yield svc


def files_in(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir()) if folder.is_dir() else []


def test_a_url_is_downloaded_beside_the_workspace_and_parsed(ws, server, tmp_path):
    url = server.url + "/sales/2027%20upset%20list.pdf"
    doc = ws.add_document(url, "Somerset")
    folder = tmp_path / "documents"
    saved = files_in(folder)
    assert len(saved) == 1 and saved[0].endswith("-2027_upset_list.pdf")
    assert (folder / saved[0]).read_bytes() == (PDFS / SAMPLES["Somerset"]).read_bytes()
    assert ws.add_document(url, "Somerset") == doc  # same bytes: same document, one file
    assert ws.add_document(server.url + "/sales/list.pdf", "Somerset") == doc
    assert files_in(folder) == saved
    row = ws.sql("SELECT url, path FROM documents WHERE id = $1::UUID", [doc])
    assert row.url[0] == url and row.path[0] == str(folder / saved[0])
    _, summary = run_job(ws)
    assert summary.processed == 1
    assert table_rows(ws, "properties") == 140


def test_bad_urls_leave_no_row_and_no_file(ws, server, tmp_path):
    folder = tmp_path / "documents"
    with pytest.raises(NotFoundError, match=r"HTTP 404"):
        ws.add_document(server.url + "/sales/gone.pdf", "Blair")
    with pytest.raises(DocumentError, match=r"HTML page, not a PDF"):
        ws.add_document(server.url + "/sales/page", "Blair")
    with pytest.raises(DocumentError, match=r"did not send a PDF.*application/zip"):
        ws.add_document(server.url + "/sales/data.zip", "Blair")
    assert table_rows(ws, "documents") == 0
    assert files_in(folder) == []


def test_a_download_is_retried_after_a_server_error(ws, server):
    from fakes import Reply

    from toolkit.sources.http import HttpClient

    server.script("/sales/list.pdf", Reply(503, body=b"busy", content_type="text/plain"))
    with HttpClient("documents", server.url, backoff_initial=0.01, max_attempts=3) as client:
        doc = add_document(ws.store, server.url + "/sales/list.pdf", "Somerset", client=client)
        assert client.counters.requests == 2
    assert len(server.requests_to("/sales/list.pdf")) == 2
    assert ws.sql("SELECT count(*) AS n FROM documents WHERE id = $1::UUID", [doc]).n[0] == 1


# -- lists beyond the samples: the parse report, conflicts, a county's own words ----------


def _variant(tmp_path, name, variant, recs=None):
    from sale_variants import records

    path = tmp_path / name
    variant.render(path, recs or records())
    return path


def test_a_printer_list_with_total_due_colon_parses_every_record(ws, tmp_path):
    from sale_variants import Printer

    doc = ws.add_document(_variant(tmp_path, "printer.pdf", Printer()), "Blair")
    _, summary = run_job(ws)
    assert (summary.processed, summary.failed) == (1, 0)
    assert table_rows(ws, "properties") == 22
    row = documents(ws.store).set_index("document_id").loc[doc]
    assert (row.rows_parsed, row.rows_failed) == (22, 0)


def test_a_list_where_most_records_fail_is_a_failed_item_with_the_count(ws, tmp_path):
    from sale_variants import Printer

    ws.add_document(_variant(tmp_path, "owed.pdf", Printer(label="BALANCE OWED")), "Blair")
    job, summary = run_job(ws)
    assert (summary.processed, summary.failed) == (0, 1)
    assert "Completed 1/1" not in summary.message
    error = ws.failed_items(job).error[0]
    assert "only 0 of 22 records parsed" in error and "layouts:" in error
    assert table_rows(ws, "properties") == 0


def test_a_county_layout_described_in_the_config_file_parses(ws, tmp_path):
    from sale_variants import Printer

    (Path(ws.store.path).parent / "toolkit.yaml").write_text(
        "layouts:\n"
        "  blair_2027:\n"
        "    labels:\n"
        "      amount: [BALANCE OWED]\n"
        "    record_start: [ITEM]\n"
    )
    printer = Printer(label="BALANCE OWED", record="ITEM")
    ws.add_document(_variant(tmp_path, "owed.pdf", printer), "Blair")
    _, summary = run_job(ws)
    assert (summary.processed, summary.failed) == (1, 0)
    assert table_rows(ws, "properties") == 22


def test_a_different_upset_price_is_a_conflict_not_an_overwrite(ws, tmp_path):
    from sale_variants import Table, records

    table = Table(
        [
            ("parcel", "PARCEL"),
            ("owner", "OWNER"),
            ("amount", "UPSET PRICE"),
            ("location", "LOCATION"),
        ]
    )
    recs = records()
    first = ws.add_document(_variant(tmp_path, "a_first.pdf", table, recs), "Blair")
    run_job(ws)
    changed = [*recs]
    changed[3] = type(recs[3])(**{**recs[3].__dict__, "amount": recs[3].amount + 1000})
    second = ws.add_document(_variant(tmp_path, "b_second.pdf", table, changed), "Blair")
    _, summary = run_job(ws)
    assert (summary.processed, summary.failed) == (1, 0)
    price = ws.sql(
        "SELECT upset_price::DOUBLE AS p, document_id::VARCHAR AS d FROM properties "
        "WHERE parcel_id = $1",
        [recs[3].parcel],
    )
    assert (price.p[0], price.d[0]) == (recs[3].amount, first)  # the earlier value stays
    conflicts = ws.sql(
        "SELECT parcel_id, field, value, earlier_value, document_id::VARCHAR AS d, "
        "earlier_document_id::VARCHAR AS e FROM parse_conflicts"
    )
    assert conflicts.to_dict("records") == [
        {
            "parcel_id": recs[3].parcel,
            "field": "upset_price",
            "value": f"{recs[3].amount + 1000:.2f}",
            "earlier_value": f"{recs[3].amount:.2f}",
            "d": second,
            "e": first,
        }
    ]
    # the other 21 agree: they are the second list's now
    assert table_rows(ws, "properties") == 22


def test_two_lists_of_one_checkpoint_that_disagree_keep_the_first(ws, tmp_path):
    from sale_variants import Table, records

    table = Table([("parcel", "PARCEL"), ("owner", "OWNER"), ("amount", "UPSET PRICE")])
    recs = records()
    changed = [type(r)(**{**r.__dict__, "amount": r.amount + 1}) for r in recs]
    first = ws.add_document(_variant(tmp_path, "a_first.pdf", table, recs), "Blair")
    ws.add_document(_variant(tmp_path, "b_second.pdf", table, changed), "Blair")
    _, summary = run_job(ws)
    assert (summary.processed, summary.failed) == (2, 0)
    kept = ws.sql("SELECT DISTINCT document_id::VARCHAR AS d FROM properties")
    assert kept.d.tolist() == [first]
    assert table_rows(ws, "parse_conflicts") == 22
