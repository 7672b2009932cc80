"""Exports show hostile text as text: no formula in CSV or Excel (OWASP CSV injection)."""

from __future__ import annotations

import csv
import datetime as dt
from pathlib import Path

import pandas as pd
import pytest

from toolkit.exceptions import UnknownChoiceError
from toolkit.research import write_table

HOSTILE = [
    '=HYPERLINK("http://x","click")',
    "+1+2",
    "-2+3",
    "@SUM(A1:A9)",
    "\t=1+1",
    "\r=1+1",
    "=cmd|' /C calc'!A0",
]


@pytest.fixture
def frame() -> pd.DataFrame:
    n = len(HOSTILE)
    return pd.DataFrame(
        {
            "owner": HOSTILE,
            "address": ["1 MAIN ST"] * n,
            "max_bid_moderate": [-1200.0, 0.0, 1500.0, -0.5, 100.0, 7.0, None],
            "lots": list(range(-3, n - 3)),
            "sale_date": [dt.date(2027, 9, 13)] * n,
            "reasons": [["a", "=b"]] * n,
            "note": ["bell\x07 ok", None, "", "plain", "a=b", "1-2", "ok"],
        }
    )


def test_csv_cells_that_look_like_formulas_get_a_quote(frame: pd.DataFrame, tmp_path: Path) -> None:
    out = write_table(frame, tmp_path / "bids.csv")
    with out.open(newline="") as fh:
        rows = list(csv.DictReader(fh))
    assert [r["owner"] for r in rows] == ["'" + h for h in HOSTILE]
    assert all(not r["owner"].startswith(("=", "+", "-", "@", "\t", "\r")) for r in rows)
    # numbers stay numbers (a negative amount is not text), other text is untouched
    assert [r["max_bid_moderate"] for r in rows][:2] == ["-1200.0", "0.0"]
    assert [r["lots"] for r in rows][:3] == ["-3", "-2", "-1"]
    assert [r["note"] for r in rows] == ["bell\x07 ok", "", "", "plain", "a=b", "1-2", "ok"]
    back = pd.read_csv(out)
    assert back.max_bid_moderate.dtype == "float64" and back.max_bid_moderate[0] == -1200.0


def test_excel_has_no_formula_cell_and_keeps_numbers(frame: pd.DataFrame, tmp_path: Path) -> None:
    import openpyxl

    out = write_table(frame, tmp_path / "bids.xlsx", sheet_name="bids")
    book = openpyxl.load_workbook(out)  # formulas, if any, come back as "=..." with type "f"
    sheet = book["bids"]
    cells = [c for row in sheet.iter_rows() for c in row]
    assert not [c.coordinate for c in cells if c.data_type == "f"]
    owners = [c.value for c in sheet["A"][1:]]
    # shown as written, without a visible quote (XML reads a CR back as LF)
    assert owners == [h.replace("\r", "\n") for h in HOSTILE]
    assert all(c.quotePrefix for c in sheet["A"][1:])  # and editing keeps them text
    amounts = [c.value for c in sheet["C"][1:]]
    assert amounts[:4] == [-1200, 0, 1500, -0.5] and amounts[-1] is None
    assert all(c.data_type == "n" for c in sheet["C"][1:-1])
    assert [c.value for c in sheet["D"][1:4]] == [-3, -2, -1]
    assert sheet["E2"].is_date
    assert sheet["F2"].value == '["a", "=b"]'
    assert sheet["G2"].value == "bell ok"  # a control character Excel cannot store is dropped
    assert not sheet["G6"].quotePrefix  # "a=b" is ordinary text
    # and a reader that evaluates nothing sees the same text
    assert pd.read_excel(out).owner.tolist() == owners


def test_an_unknown_suffix_is_refused(frame: pd.DataFrame, tmp_path: Path) -> None:
    with pytest.raises(UnknownChoiceError, match="export format"):
        write_table(frame, tmp_path / "bids.ods")
