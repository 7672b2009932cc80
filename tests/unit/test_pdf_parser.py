"""Sale-list PDF parser: the synthetic samples, hard cases built here, unusable files."""

from __future__ import annotations

import csv
import hashlib
import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st
from reportlab.lib import pdfencrypt
from reportlab.lib.pagesizes import letter
from reportlab.pdfgen.canvas import Canvas

from toolkit.exceptions import DocumentError
from toolkit.pdf import ParsedDocument, parse_pdf, sha256_file
from toolkit.pdf import text as tx
from toolkit.pdf.ocr import ocr_unavailable_reason

ROOT = Path(__file__).resolve().parents[2]
PDFS = ROOT / "data" / "sample" / "pdfs"
SAMPLES = {
    "Blair": ("blair_upset_ruled.pdf", "ruled_table"),
    "Somerset": ("somerset_upset_ruled.pdf", "ruled_table"),
    "Clearfield": ("clearfield_upset_word.pdf", "word_table"),
    "Westmoreland": ("westmoreland_upset_printer.pdf", "printer_report"),
}
LABEL = "SYNTHETIC SAMPLE — not a real sale list"


def _load_script():
    spec = importlib.util.spec_from_file_location(
        "make_sample_pdfs", ROOT / "scripts" / "make_sample_pdfs.py"
    )
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _universe() -> dict[str, dict[str, dict[str, str]]]:
    with (ROOT / "data" / "sample" / "properties.csv").open(newline="") as fh:
        rows = list(csv.DictReader(ln for ln in fh if not ln.startswith("#")))
    out: dict[str, dict[str, dict[str, str]]] = {}
    for r in rows:
        out.setdefault(r["county"], {})[" ".join(r["parcel_id"].split())] = r
    return out


UNIVERSE = _universe()


@pytest.fixture(scope="module")
def parsed() -> dict[str, ParsedDocument]:
    # layout is recognised from the page: county is only recorded, never a hint
    return {county: parse_pdf(PDFS / name) for county, (name, _) in SAMPLES.items()}


# --- the four synthetic samples ---------------------------------------------------


@pytest.mark.parametrize("county", list(SAMPLES))
def test_sample_parses_to_exactly_the_county_rows(
    parsed: dict[str, ParsedDocument], county: str
) -> None:
    doc = parsed[county]
    expected = UNIVERSE[county]
    got = {" ".join(r.parcel_id.split()): r for r in doc.rows}
    assert doc.layout == SAMPLES[county][1]
    assert len(doc.rows) == len(expected)
    assert set(got) == set(expected)
    for parcel, row in got.items():
        want = expected[parcel]
        assert row.amount == pytest.approx(float(want["upset_price"]), abs=0.001), parcel
        assert row.owner == want["owner"]
        assert row.location == want["address"]
        assert row.municipality == want["municipality"]
        assert row.sale_type == want["sale_type"] == "upset"
        assert row.sale_date is not None and row.sale_date.isoformat() == want["sale_date"]
        assert row.raw_text and row.page >= 1
        assert 0.0 < row.confidence <= 1.0
    assert doc.sale_type == "upset"
    assert doc.sale_date is not None
    assert doc.sale_date.isoformat() == next(iter(expected.values()))["sale_date"]


def test_ruled_table_municipality_comes_from_header_rows(parsed: dict[str, ParsedDocument]) -> None:
    doc = parsed["Blair"]
    # the table has no municipality column: every row takes the header row above it
    assert all("TOWNSHIP" not in r.raw_text and "BOROUGH" not in r.raw_text for r in doc.rows)
    assert {r.municipality for r in doc.rows} == {"ALDER TOWNSHIP", "BIRCH BOROUGH", "CEDAR CITY"}


def test_letter_spaced_text_is_joined(parsed: dict[str, ParsedDocument]) -> None:
    spaced = [r for r in parsed["Blair"].rows if "B A R N ER" in r.raw_text]
    assert spaced, "the Blair sample prints BARNER owners letter-spaced"
    for row in spaced:
        assert row.owner is not None and row.owner.startswith("BARNER")
        assert row.owner == UNIVERSE["Blair"][row.parcel_id]["owner"]
        assert "letter-spaced text rejoined" in row.issues
        assert row.confidence < 1.0


def test_wrapped_cells_are_joined(parsed: dict[str, ParsedDocument]) -> None:
    wrapped = [r for r in parsed["Clearfield"].rows if "\n" in r.raw_text]
    assert len(wrapped) > 20
    for row in wrapped:
        want = UNIVERSE["Clearfield"][row.parcel_id]
        assert (row.owner, row.location, row.municipality) == (
            want["owner"],
            want["address"],
            want["municipality"],
        )
    assert any("DOGWOOD\nTWP" in r.raw_text or "\nTWP" in r.raw_text for r in wrapped)


def test_printer_report_year_amounts_add_up(parsed: dict[str, ParsedDocument]) -> None:
    for row in parsed["Westmoreland"].rows:
        years = row.extra["year_amounts"]
        assert years, row.raw_text
        assert sum(years.values()) == pytest.approx(row.amount, abs=0.005)
        assert row.confidence == 1.0
        assert row.number and row.number.isdigit()
        assert row.extra["mailing_address"]


def test_deliberately_broken_rows_are_errors_not_rows(parsed: dict[str, ParsedDocument]) -> None:
    broken = _load_script().BROKEN_ROWS
    doc = parsed["Somerset"]
    assert len(doc.errors) == len(broken) == 2
    last_page = doc.page_count
    for err, row in zip(doc.errors, broken, strict=True):
        assert err.page == last_page
        assert row["control_number"] in err.raw_text and row["owner"] in err.raw_text
    assert "amount '1,2O4.#7' is not a number" in doc.errors[0].reason
    assert "parcel id" in doc.errors[1].reason and "unreadable" in doc.errors[1].reason
    assert not {r.parcel_id for r in doc.rows} & {b["parcel_id"] for b in broken}
    for county in ("Blair", "Clearfield", "Westmoreland"):
        assert parsed[county].errors == []


def _page_texts(path: Path) -> list[str]:
    import pdfplumber

    with pdfplumber.open(path) as pdf:
        return [page.extract_text() or "" for page in pdf.pages]


def test_samples_are_current_and_labelled(tmp_path: Path) -> None:
    # compare text, not bytes: another reportlab version may write other bytes
    written = _load_script().main(tmp_path)
    for path in written:
        committed = PDFS / path.relative_to(tmp_path)
        if "long" in path.parts:
            import pdfplumber

            with pdfplumber.open(path) as new, pdfplumber.open(committed) as old:
                assert len(new.pages) == len(old.pages) >= 200
                assert LABEL in (old.pages[-1].extract_text() or "")
            continue
        texts = _page_texts(committed)
        assert texts == _page_texts(path), f"{committed} is stale: rerun the script"
        assert all(LABEL in text for text in texts)
    total = sum(p.stat().st_size for p in PDFS.rglob("*.pdf"))
    assert total < 3 * 1024 * 1024


def test_to_dict_is_plain_json(parsed: dict[str, ParsedDocument]) -> None:
    row = parsed["Westmoreland"].rows[0]
    data = json.loads(json.dumps(row.to_dict()))
    assert data["parcel_id"] == row.parcel_id
    assert data["sale_date"] == row.sale_date.isoformat()
    doc = json.loads(json.dumps(parsed["Somerset"].to_dict()))
    assert doc["layout"] == "ruled_table" and len(doc["errors"]) == 2


def test_sha256_file(tmp_path: Path) -> None:
    path = tmp_path / "x.bin"
    path.write_bytes(b"abc" * 1000)
    assert sha256_file(path) == hashlib.sha256(b"abc" * 1000).hexdigest()


# --- hard cases built here ---------------------------------------------------------


def _text_pdf(
    path: Path, pages: list[list[tuple[float, float, str]]], font: str = "Helvetica"
) -> Path:
    """A PDF whose pages hold text at (x, y-from-top) positions."""
    c = Canvas(str(path), pagesize=letter, invariant=1)
    for items in pages:
        c.setFont(font, 8)
        for x, y, text in items:
            c.drawString(x, letter[1] - y, text)
        c.showPage()
    c.save()
    return path


def test_word_table_hard_cases(tmp_path: Path) -> None:
    cols = [40, 110, 170, 260, 370, 470]  # municipality, sale no, parcel, owner, location, price
    head = ["MUNICIPALITY", "SALE NO.", "PARCEL NUMBER", "OWNER", "LOCATION", "PRICE"]
    lines: list[tuple[float, float, str]] = [(40, 40, "JUDICIAL SALE — OCTOBER 4, 2027")]
    lines += [(x, 70, h) for x, h in zip(cols, head, strict=True)]
    rows = [
        (85, ["FIR TWP", "J27-0101", "01-00-", "SMITH JOHN &", "12 OAK ST", "$1,234.56"]),
        (95, ["", "", "00406-00", "MARY", "", ""]),  # wrapped parcel and owner
        (110, ["ELM BORO", "J27-0102", "02-00-00001-00", "DOE JANE", "9 ELM", "$1,2O4.#7"]),
        (125, ["", "J27-0103", "03-00-00002-00", "B A R N ER ANN", "5 FIR", "$99.00"]),
    ]
    for y, cells in rows:
        lines += [(x, y, c) for x, c in zip(cols, cells, strict=True) if c]
    lines.append((280, 760, "Page 1"))
    doc = parse_pdf(_text_pdf(tmp_path / "word.pdf", [lines]))
    assert doc.layout == "word_table"
    assert doc.sale_type == "judicial" and doc.sale_date is not None
    assert doc.sale_date.isoformat() == "2027-10-04"
    assert [r.parcel_id for r in doc.rows] == ["01-00-00406-00", "03-00-00002-00"]
    first, third = doc.rows
    assert (first.owner, first.municipality, first.amount, first.number) == (
        "SMITH JOHN & MARY",
        "FIR TWP",
        1234.56,
        "J27-0101",
    )
    # a blank municipality cell repeats the one above; letter spacing rejoined
    assert (third.municipality, third.owner) == ("ELM BORO", "BARNER ANN")
    assert len(doc.errors) == 1
    err = doc.errors[0]
    assert err.page == 1 and "J27-0102" in err.raw_text and "1,2O4.#7" in err.reason


def _ruled_pdf(path: Path, pages: list[list[list[str]]]) -> Path:
    """Ruled tables; a one-cell row is a merged municipality row."""
    widths = [60, 120, 140, 120, 80]
    c = Canvas(str(path), pagesize=letter, invariant=1)
    for rows in pages:
        y = letter[1] - 60
        right = 40 + sum(widths)
        c.line(40, y, right, y)
        for cells in rows:
            c.setFont("Helvetica", 8)
            xs = [40]
            for w in widths:
                xs.append(xs[-1] + w)
            if len(cells) == 1:
                c.drawString(43, y - 11, cells[0])
                verticals = [40, right]
            else:
                for x, cell in zip(xs, cells, strict=False):
                    c.drawString(x + 3, y - 11, cell)
                verticals = xs
            for x in verticals:
                c.line(x, y, x, y - 15)
            y -= 15
            c.line(40, y, right, y)
        c.showPage()
    c.save()
    return path


def test_ruled_table_without_repeated_header(tmp_path: Path) -> None:
    header = ["NO.", "OWNER", "MAP/PARCEL NO.", "LOCATION", "UPSET PRICE"]
    page1 = [
        header,
        ["K A P O K BOROUGH"],
        ["1", "ROE AL", "10.01-01..-001.00-001", "1 A ST", "500.00"],
    ]
    page2 = [
        ["2", "ROE BO", "10.01-01..-002.00-001", "2 A ST", "$600.10"],
        ["LARCH TOWNSHIP"],
        ["3", "ROE CY", "10.01-01..-003.00-001", "3 A ST", "700"],
        ["4", "ROE DI", "", "4 A ST", "800.00"],
    ]
    doc = parse_pdf(_ruled_pdf(tmp_path / "ruled.pdf", [page1, page2]), county="Somerset")
    assert doc.page_layouts == ["ruled_table", "ruled_table"]
    got = [(r.parcel_id, r.municipality, r.amount, r.page, r.county) for r in doc.rows]
    assert got == [
        ("10.01-01..-001.00-001", "KAPOK BOROUGH", 500.0, 1, "Somerset"),
        ("10.01-01..-002.00-001", "KAPOK BOROUGH", 600.1, 2, "Somerset"),
        ("10.01-01..-003.00-001", "LARCH TOWNSHIP", 700.0, 2, "Somerset"),
    ]
    assert [(e.page, e.reason) for e in doc.errors] == [(2, "no parcel id")]
    assert "ROE DI" in doc.errors[0].raw_text
    assert doc.sale_type is None and doc.sale_date is None  # the document does not say


def _record_lines(
    y0: float, head: str, left: list[str], right: list[str]
) -> list[tuple[float, float, str]]:
    out = [(36.0, y0, head)]
    for k in range(max(len(left), len(right))):
        line = f"  {left[k] if k < len(left) else '':<40}{right[k] if k < len(right) else ''}"
        out.append((36.0, y0 + 10 * (k + 1), line.rstrip()))
    return out


def test_printer_report_sum_mismatch_and_missing_total(tmp_path: Path) -> None:
    lines = [(36.0, 30.0, "REPOSITORY LIST     SALE DATE 11/15/2027")]
    lines += _record_lines(
        60,
        "RECORD# 7  FOLIO-NBR 01-00-00406-00  SALE DATE: 11/15/27",
        [
            "ROE ANN",
            "PO BOX 5",
            "TOWN PA 15601",
            "TAX YEAR 2025   100.00",
            "TAX YEAR 2026   200.00",
        ],
        ["LOCATION: 1 MAIN ST", "MUNICIPALITY: OLIVE TWP", "", "", "TOTAL DUE: 350.00"],
    )
    lines += _record_lines(
        140,
        "RECORD# 8  FOLIO-NBR 01-00-00407-00  SALE DATE: 11/15/27",
        ["ROE BEN", "2 MAIN ST", "TAX YEAR 2026   80.00"],
        ["LOCATION: 2 MAIN ST", "MUNICIPALITY: OLIVE TWP"],
    )
    lines += _record_lines(
        200,
        "RECORD# 9  FOLIO-NBR 01-00-00408-00  SALE DATE: 11/15/27",
        ["ROE CY", "3 MAIN ST", "TAX YEAR 2025   10.00", "TAX YEAR 2026   15.50"],
        ["LOCATION: 3 MAIN ST", "MUNICIPALITY: OLIVE TWP", "", "TOTAL DUE: 25.50"],
    )
    doc = parse_pdf(_text_pdf(tmp_path / "rec.pdf", [lines], font="Courier"))
    assert doc.layout == "printer_report" and doc.sale_type == "repository"
    bad, good = doc.rows
    assert bad.parcel_id == "01-00-00406-00" and bad.amount == 350.0
    assert bad.confidence <= 0.5
    assert any("add to 300.00, not TOTAL DUE 350.00" in i for i in bad.issues)
    assert (good.parcel_id, good.confidence, good.owner) == ("01-00-00408-00", 1.0, "ROE CY")
    assert good.extra["year_amounts"] == {"2025": 10.0, "2026": 15.5}
    assert good.extra["mailing_address"] == "3 MAIN ST"
    assert [(e.page, e.reason[:28]) for e in doc.errors] == [(1, "record has no amount due (no")]
    assert "01-00-00407-00" in doc.errors[0].raw_text


# --- unusable files ------------------------------------------------------------------


def test_not_a_pdf(tmp_path: Path) -> None:
    path = tmp_path / "list.pdf"
    path.write_text("<html>Sale list</html>")
    with pytest.raises(DocumentError, match=r"not a PDF.*save or download the sale list as PDF"):
        parse_pdf(path)


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(DocumentError, match="no such file"):
        parse_pdf(tmp_path / "nope.pdf")


def test_truncated_pdf(tmp_path: Path) -> None:
    data = (PDFS / SAMPLES["Clearfield"][0]).read_bytes()
    path = tmp_path / "cut.pdf"
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(DocumentError, match=r"truncated.*download the file again"):
        parse_pdf(path)


def test_encrypted_pdf_needs_password(tmp_path: Path) -> None:
    path = tmp_path / "locked.pdf"
    enc = pdfencrypt.StandardEncryption("s3cret", ownerPassword="owner", strength=128)
    c = Canvas(str(path), encrypt=enc)
    c.setFont("Courier", 8)
    c.drawString(36, 700, "RECORD# 1  FOLIO-NBR 01-00-00001-00  SALE DATE: 09/08/27")
    c.drawString(36, 690, "  ROE ANN                                 TOTAL DUE: 100.00")
    c.save()
    with pytest.raises(DocumentError, match=r"encrypted.*password"):
        parse_pdf(path)
    doc = parse_pdf(path, password="s3cret")
    assert [r.parcel_id for r in doc.rows] == ["01-00-00001-00"]


def test_pdf_without_a_sale_list(tmp_path: Path) -> None:
    path = _text_pdf(tmp_path / "letter.pdf", [[(40, 40, "Dear taxpayer, your bill is enclosed.")]])
    with pytest.raises(DocumentError, match="no sale-list table recognised"):
        parse_pdf(path)


def _image_only_pdf(path: Path, image) -> Path:
    from reportlab.lib.utils import ImageReader

    c = Canvas(str(path), pagesize=letter, invariant=1)
    c.drawImage(ImageReader(image), 0, 0, *letter)
    c.showPage()
    c.save()
    return path


def test_image_only_pdf_without_tesseract(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from PIL import Image, ImageDraw

    image = Image.new("L", (612, 792), 255)
    ImageDraw.Draw(image).rectangle((40, 40, 500, 60), fill=0)
    path = _image_only_pdf(tmp_path / "scan.pdf", image)
    with pytest.raises(DocumentError, match="no text layer — OCR is turned off"):
        parse_pdf(path, ocr_pages=False)
    # a tesseract binary that is not there, as on a machine without it
    monkeypatch.setenv("TOOLKIT_TESSERACT_CMD", str(tmp_path / "no-such-tesseract"))
    with pytest.raises(DocumentError, match="no text layer — install tesseract for OCR"):
        parse_pdf(path)


@pytest.mark.skipif(ocr_unavailable_reason() is not None, reason=f"{ocr_unavailable_reason()}")
def test_image_only_pdf_is_ocred(tmp_path: Path) -> None:
    import pypdfium2 as pdfium

    lines = [(36.0, 30.0, "UPSET SALE LISTING     SALE DATE 09/08/2027")]
    lines += _record_lines(
        60,
        "RECORD# 3  FOLIO-NBR 01-00-00406-00  SALE DATE: 09/08/27",
        [
            "ROE ANN",
            "12 OAK ST",
            "TOWN PA 15601",
            "TAX YEAR 2025   1,200.00",
            "TAX YEAR 2026   34.56",
        ],
        ["LOCATION: 12 OAK ST", "MUNICIPALITY: OLIVE TWP", "", "", "TOTAL DUE: 1,234.56"],
    )
    text_pdf = _text_pdf(tmp_path / "text.pdf", [lines], font="Courier")
    src = pdfium.PdfDocument(str(text_pdf))
    try:
        image = src[0].render(scale=200 / 72).to_pil().convert("L")
    finally:
        src.close()
    doc = parse_pdf(_image_only_pdf(tmp_path / "scan.pdf", image))
    assert doc.layout == "ocr" and doc.sale_type == "upset"
    assert [(r.parcel_id, r.amount, r.municipality) for r in doc.rows] == [
        ("01-00-00406-00", 1234.56, "OLIVE TWP")
    ]
    assert 0 < doc.rows[0].confidence < 1.0


# --- text helpers and packaging --------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "joined"),
    [
        ("B A R N ER JOHN", "BARNER JOHN"),
        ("B A R N E R", "BARNER"),
        ("S M I T H JR", "SMITH JR"),
        ("SMITH J A & MARY", "SMITH J A & MARY"),
        ("LOT & DWG", "LOT & DWG"),
    ],
)
def test_join_letter_spacing(raw: str, joined: str) -> None:
    assert tx.join_letter_spacing(raw)[0] == joined


@given(st.integers(min_value=0, max_value=10**9))
def test_amount_round_trip(cents: int) -> None:
    value = cents / 100
    assert tx.parse_amount(f"${value:,.2f}") == pytest.approx(value)
    assert tx.parse_amount(f"{value:.2f}") == pytest.approx(value)


@pytest.mark.parametrize("garbled", ["1,2O4.#7", "", "$", "12,34.00", "N/A"])
def test_garbled_amounts(garbled: str) -> None:
    assert tx.parse_amount(garbled) is None


def test_import_is_lazy() -> None:
    code = "import sys, toolkit.pdf; assert 'pdfplumber' not in sys.modules, 'eager import'"
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    subprocess.run([sys.executable, "-c", code], check=True, env=env, cwd=ROOT)
