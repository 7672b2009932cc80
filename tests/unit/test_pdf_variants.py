"""Sale lists beyond the synthetic samples: a generator of layout variants, real PDFs.

Each variant is a real PDF made with reportlab from the same 22 records, varying what
county lists vary: the amount's label (TOTAL DUE / AMOUNT DUE / UPSET PRICE / MINIMUM
BID, with or without a colon), column order, header words, repeated headers, wrapped
cells, page breaks (with and without the header again) and fonts. A variant parses
fully when all 22 records come back with the right parcel and amount and nothing goes
to the parsing errors. ``python tests/sale_variants.py`` prints the count.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from sale_variants import VARIANTS, Printer, Table, parses_fully, records

from toolkit.pdf import parse_pdf
from toolkit.pdf.layouts import Vocabulary


@pytest.mark.parametrize("name", list(VARIANTS))
def test_variant_parses_fully(name: str, tmp_path: Path) -> None:
    recs = records()
    path = tmp_path / "variant.pdf"
    VARIANTS[name].render(path, recs)
    assert parses_fully(path, recs) is None


def test_owners_of_wrapped_cells_are_joined(tmp_path: Path) -> None:
    recs = records()
    path = tmp_path / "wrapped.pdf"
    VARIANTS["word table, wrapped owners"].render(path, recs)
    doc = parse_pdf(path, ocr_pages=False)
    assert {r.parcel_id: r.owner for r in doc.rows} == {r.parcel: r.owner for r in recs}


def test_a_new_county_layout_from_the_config_words(tmp_path: Path) -> None:
    """Words no built-in pattern knows parse once the config file names them."""
    recs = records()
    table = tmp_path / "table.pdf"
    Table(
        [
            ("parcel", "ACCT KEY"),
            ("owner", "ASSESSED TO"),
            ("location", "LOCATION"),
            ("amount", "BALANCE OWED"),
        ]
    ).render(table, recs)
    printer = tmp_path / "printer.pdf"
    Printer(label="BALANCE OWED", record="ITEM", parcel_label="FOLIO-NBR").render(printer, recs)
    with pytest.raises(Exception, match="no sale-list table recognised"):
        parse_pdf(table, ocr_pages=False)
    with pytest.raises(Exception, match="no sale-list table recognised"):
        parse_pdf(printer, ocr_pages=False)
    vocab = Vocabulary.from_config(
        {
            "fayette_2027": {
                "columns": {
                    "parcel": ["ACCT KEY"],
                    "owner": "ASSESSED TO",
                    "amount": ["BALANCE OWED"],
                },
                "labels": {"amount": ["BALANCE OWED"]},
                "record_start": ["ITEM"],
            }
        }
    )
    assert parses_fully(table, recs, vocab) is None
    assert parses_fully(printer, recs, vocab) is None


@pytest.mark.parametrize(
    ("config", "words"),
    [
        ({"x": {"columns": {"price": ["A"]}}}, "unknown role"),
        ({"x": {"colums": {}}}, "unknown key"),
        ({"x": ["A"]}, "must be a mapping"),
        ({"x": {"labels": {"amount": [""]}}}, "is not words"),
    ],
)
def test_a_wrong_layout_entry_is_named(config: dict, words: str) -> None:
    with pytest.raises(ValueError, match=words):
        Vocabulary.from_config(config)
