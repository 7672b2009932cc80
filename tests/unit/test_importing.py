"""Importing an investor's own county list: real CSV files into real DuckDB workspaces.

Each test writes the file a user would have (Excel's CSV, a county export, a list
kept by hand) and checks what is stored, what is reported and the exit status.
The withdraw tests, which run on both backends, are in test_import_withdraw.py.
"""

from __future__ import annotations

import datetime as dt
import json
import re
from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

import toolkit
from toolkit import importing
from toolkit.cli import app
from toolkit.exceptions import UnknownChoiceError, ValidationError

ROOT = Path(__file__).resolve().parents[2]


def write(path: Path, text: str, encoding: str = "utf-8") -> Path:
    path.write_bytes(text.encode(encoding))
    return path


def stored(ws, *cols: str) -> list[tuple]:
    """Rows as the database gives them to Python (None, date, str …)."""
    query = f"SELECT {', '.join(cols)} FROM properties ORDER BY parcel_id"
    return ws.store.run(lambda con: con.execute(query).fetchall(), tx=False)


def cli(*args: object):
    return CliRunner().invoke(app, [str(a) for a in args])


# --- the bug report's rows ----------------------------------------------------------------


def test_a_hash_is_text_not_a_comment(ws, tmp_path):
    path = write(
        tmp_path / "list.csv",
        "parcel_id,owner,address,upset_price\n"
        "01-02-003,LOT #5 HOLDINGS LLC,12 MAIN ST APT #2,1234.56\n"
        "# 01-02-004,SMITH,3 OAK,99\n",
    )
    out = ws.import_properties(path, county="Blair")
    assert out["imported"] == 2 and len(out["rejected"]) == 0
    assert stored(ws, "parcel_id", "owner", "address", "CAST(upset_price AS DOUBLE)") == [
        ("# 01-02-004", "SMITH", "3 OAK", 99.0),
        ("01-02-003", "LOT #5 HOLDINGS LLC", "12 MAIN ST APT #2", 1234.56),
    ]


@pytest.mark.parametrize(
    "header",
    [
        "Tax Parcel No.,Owner(s),Property Location,Minimum Bid",
        "Parcel #,Owner(s),Property Location,Minimum Bid",
        "TAX PARCEL NUMBER,OWNERS NAME,PROPERTY ADDRESS,APPROX. UPSET PRICE",
        "UPI,Reputed Owner,Location,Upset Price",
        "Map & Parcel,Owner's Name,Situs,Total Due",
        "Block & Lot,Owner Name,Location of Property,Opening Bid",
        "OPA #,Owner,Premises,Amount Due",
        "  parcel_id ,owner,address,upset_price",
    ],
)
def test_pa_headers_are_recognised(ws, tmp_path, header):
    path = write(tmp_path / "list.csv", f'{header}\n14-123-456,DOE JANE,9 HILL RD,"$2,500.00"\n')
    out = ws.import_properties(path, county="Blair")
    assert out["imported"] == 1
    assert set(out["columns"].field) == {"parcel_id", "owner", "address", "upset_price"}
    assert stored(ws, "parcel_id", "owner", "address", "CAST(upset_price AS DOUBLE)") == [
        ("14-123-456", "DOE JANE", "9 HILL RD", 2500.0)
    ]


def test_the_synonym_table_in_the_docs_is_the_one_in_the_code():
    text = (ROOT / "docs" / "import.md").read_text()
    table = text.split("<!-- synonyms:")[1].split("\n\n")[0]
    documented = {}
    for line in table.splitlines():
        m = re.match(r"^\| `(\w+)` \| (.+) \|$", line)
        if m:
            documented[m.group(1)] = tuple(re.findall(r"`([^`]+)`", m.group(2)))
    assert documented == importing.SYNONYMS


def test_synonyms_never_name_two_fields_and_field_names_match_themselves():
    seen: dict[str, str] = {}
    for name, labels in importing.SYNONYMS.items():
        for label in labels:
            key = importing.header_key(label)
            assert seen.setdefault(key, name) == name, (label, seen[key], name)
    assert set(importing.SYNONYMS) == set(importing.FIELDS)
    assert all(importing.synonym_index()[importing.header_key(f)] == f for f in importing.FIELDS)


@pytest.mark.parametrize(
    ("label", "key"),
    [
        ("Tax Parcel No.", "tax parcel no"),
        ("TAX PARCEL #", "tax parcel no"),
        ("tax_parcel_number", "tax parcel no"),
        ("Owner(s)", "owner"),
        ("Map & Parcel", "map parcel"),
        ("Date of Sale", "date sale"),
        ("\ufeffParcel ID", "parcel id"),
    ],
)
def test_header_labels_compare_case_and_punctuation_aside(label, key):
    assert importing.header_key(label) == key


# --- --map, columns left out, dry run --------------------------------------------------------


def test_map_names_a_column_for_a_field(ws, tmp_path):
    path = write(
        tmp_path / "list.csv",
        "Tax Map Parcel Identifier ZZ,Bid Amt,Acres\nA-1,$10.00,2\nA-2,$20.00,3\n",
    )
    with pytest.raises(
        ValidationError, match=r"No parcel id column.*'Tax Map Parcel Identifier ZZ'"
    ):
        ws.import_properties(path, county="Blair")
    out = ws.import_properties(
        path,
        county="Blair",
        mapping={"Tax Map Parcel Identifier ZZ": "parcel_id", "bid amt": "upset_price"},
    )
    assert out["imported"] == 2
    assert stored(ws, "parcel_id", "CAST(upset_price AS DOUBLE)") == [("A-1", 10.0), ("A-2", 20.0)]
    cols = out["columns"].set_index("column")
    assert pd.isna(cols.loc["Acres"].field) and "--map 'Acres=FIELD'" in cols.loc["Acres"].note


def test_bad_mappings_name_the_choices_and_import_nothing(ws, tmp_path):
    path = write(tmp_path / "list.csv", "Parcel,Amount\nA-1,5\n")
    with pytest.raises(
        UnknownChoiceError,
        match=r"--map 'Amount': Unknown field 'upset'. Did you "
        r"mean 'upset_price'\? Valid choices: address",
    ):
        ws.import_properties(path, county="Blair", mapping={"Amount": "upset"})
    with pytest.raises(ValidationError, match=r"'Bid'.*columns are: 'Parcel', 'Amount'"):
        ws.import_properties(path, county="Blair", mapping={"Bid": "upset_price"})
    assert stored(ws, "parcel_id") == []


def test_two_columns_for_one_field_ask_which(ws, tmp_path):
    path = write(tmp_path / "list.csv", "Parcel,Amount,Minimum Bid\nA-1,5,7\n")
    with pytest.raises(ValidationError, match=r"'Amount', 'Minimum Bid'.*all name upset_price"):
        ws.import_properties(path, county="Blair")
    out = ws.import_properties(path, county="Blair", mapping={"Minimum Bid": "upset_price"})
    assert stored(ws, "CAST(upset_price AS DOUBLE)") == [(7.0,)]
    note = out["columns"].set_index("column").loc["Amount"].note
    assert "mapping chose 'Minimum Bid'" in note


def test_an_unknown_amount_column_is_reported_not_dropped(ws, tmp_path):
    path = write(tmp_path / "list.csv", 'Parcel,Bid Amt\nA-1,"$1,000.00"\nA-2,$25.50\n')
    r = cli("import-properties", path, "--county", "Blair", "--db", tmp_path / "w.duckdb")
    assert r.exit_code == 0
    assert "Ignored column 'Bid Amt'" in r.stdout
    assert "looks like dollar amounts" in r.stdout and "--map 'Bid Amt=upset_price'" in r.stdout


def test_dry_run_previews_and_writes_nothing(tmp_path):
    db = tmp_path / "w.duckdb"
    path = write(
        tmp_path / "list.csv",
        "County Tax Claim Bureau 2027\nParcel #,Owner(s),Acres\nA-1,DOE,2\n,NOBODY,3\n",
    )
    r = cli("import-properties", path, "--county", "Blair", "--db", db, "--dry-run")
    assert r.exit_code == 3, r.stdout
    for text in (
        "Columns (file column → field)",
        "Parcel #",
        "parcel_id",
        "Acres",
        "not a known name",
        "First rows as they would be stored",
        "DOE",
        "Skipped line 1 (above the header row)",
        "Would import 1",
        "Dry run: nothing was written.",
    ):
        assert text in r.stdout, text
    with toolkit.connect(str(db)) as ws:
        assert stored(ws, "parcel_id") == []
    out = json.loads(
        cli(
            "import-properties", path, "--county", "Blair", "--db", db, "--dry-run", "--json"
        ).stdout
    )
    assert out["dry_run"] and out["preview"][0]["parcel_id"] == "A-1"
    assert out["rejected"] == [
        {"line": 4, "parcel_id": None, "county": "Blair", "reason": "no parcel id"}
    ]


# --- amounts ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("cell", "value", "problem", "warning"),
    [
        ("$1,234.56", 1234.56, None, None),
        ("1234.5", 1234.5, None, None),
        ("  $ 12.00 ", 12.0, None, None),
        ("1,234", 1234.0, None, None),
        (".50", 0.5, None, None),
        ("0", 0.0, None, None),
        ("1234.5600", 1234.56, None, None),
        ("", None, None, None),
        ("N/A", None, None, "'N/A' means no amount"),
        ("#N/A", None, None, "means no amount"),
        ("$ -", None, None, "means no amount"),
        ("TBD", None, None, "means no amount"),
        ("(1,234.56)", None, "is negative (accounting parentheses)", None),
        ("-5", None, "is negative", None),
        ("$-5.00", None, "is negative", None),
        ("1.234,56", None, "is not a number", None),
        ("12,34", None, "is not a number", None),
        ("=A1*2", None, "is not a number", None),
        ("1e5", None, "is not a number", None),
        ("(5", None, "is not a number", None),
        ("1234.567", None, "more than 2 decimal places", None),
        ("1000000000000", None, "too large", None),
    ],
)
def test_amounts(cell, value, problem, warning):
    got, why, warn = importing.parse_amount(cell)
    assert got == value
    assert (problem is None and why is None) or (problem in why and repr(cell) in why)
    assert (warning is None and warn is None) or warning in warn


def test_na_amount_keeps_the_row_with_a_warning(ws, tmp_path):
    path = write(tmp_path / "list.csv", "Parcel,Upset Price\nA-1,N/A\nA-2,\nA-3,abc\n")
    out = ws.import_properties(path, county="Blair")
    assert out["imported"] == 2
    assert stored(ws, "parcel_id", "upset_price") == [("A-1", None), ("A-2", None)]
    assert out["warnings"][["line", "value"]].values.tolist() == [[2, "N/A"]]
    assert out["rejected"][["line", "reason"]].values.tolist() == [
        [4, "amount 'abc' is not a number (write it like 1234.56 or $1,234.56)"]
    ]


# --- line numbers, duplicates, junk -------------------------------------------------------


def test_rejections_name_the_physical_line(ws, tmp_path):
    text = (
        "Blair County Upset Sale 2027\r\n"  # 1: a title above the header
        "\r\n"  # 2
        "Parcel,Owner,Description,Upset Price\r\n"  # 3: the header
        'A-1,DOE,"LOT 40 X 120\r\nREAR GARAGE\r\nSHED",5\r\n'  # 4-6: one record
        "\r\n"  # 7
        "A-2,ROE,LOT,abc\r\n"  # 8: bad amount
        ',,"two\nlines",7\r\n'  # 9-10: no parcel
        "A-4,POE,LOT,(3.00)\r\n"  # 11
    )
    out = ws.import_properties(write(tmp_path / "list.csv", text), county="Blair")
    assert out["rejected"].line.tolist() == [8, 9, 11]
    assert out["source"]["header_line"] == 3 and out["source"]["blank_lines"] == 1  # line 7
    assert out["skipped_lines"].line.tolist() == [1]
    assert stored(ws, "description") == [("LOT 40 X 120\r\nREAR GARAGE\r\nSHED",)]


def test_duplicates_in_the_file_are_reported(ws, tmp_path):
    path = write(
        tmp_path / "list.csv",
        "Parcel,Owner,Upset Price\n01-02,A,5\n0102,A,5\n01-03,B,5\n01.03,C,5\n",
    )
    out = ws.import_properties(path, county="Blair")
    assert out["imported"] == 2 and out["duplicates_in_input"] == 2
    assert out["duplicates"].values.tolist() == [[3, 2, "0102"]]
    reason = out["rejected"].set_index("line").reason[5]
    assert reason == (
        "parcel '01.03' is also on line 4, with a different owner ('C' here, "
        "'B' there); line 4 was kept"
    )
    assert stored(ws, "parcel_id", "owner") == [("01-02", "A"), ("01-03", "B")]


def test_total_and_page_lines_are_not_parcels(ws, tmp_path):
    path = write(
        tmp_path / "list.csv",
        "Parcel,Owner,Upset Price\n01-02,A,5\nTotal: 1 properties,,5\n"
        "Page 1 of 1,,\nGRAND TOTAL,,5\n245 records,,\n",
    )
    out = ws.import_properties(path, county="Blair")
    assert out["imported"] == 1 and out["rejected"].line.tolist() == [3, 4, 5, 6]
    assert "summary line" in out["rejected"].reason[0]
    assert "no digits" in out["rejected"].reason[2]


def test_repeated_header_rows_and_ragged_rows(ws, tmp_path):
    path = write(
        tmp_path / "list.csv",
        "Parcel,Owner,Address\nA-1,DOE,1 MAIN\nParcel,Owner,Address\n"
        "A-2,ROE,2 MAIN,APT 4\nA-3,POE\nA-4,LOE,4 MAIN,,\n",
    )
    out = ws.import_properties(path, county="Blair")
    assert out["skipped_lines"].values.tolist()[0][0::2] == [3, "repeats the header row"]
    reason = out["rejected"].set_index("line").reason[4]
    assert "has 4 cells, the header 3" in reason and "'APT 4'" in reason
    assert "lines 5" in out["warnings"].message[0]
    assert stored(ws, "parcel_id", "address") == [
        ("A-1", "1 MAIN"),
        ("A-3", None),
        ("A-4", "4 MAIN"),
    ]


# --- values kept as given ----------------------------------------------------------------


def test_values_are_stored_exactly(ws, tmp_path):
    owners = [
        '=HYPERLINK("http://x")',
        "+1 ESTATE",
        "-SMITH-",
        "@SUM(A1)",
        "\tTAB LLC",
        "\rCR LLC",
        'O\'NEIL "RED"',
        "ÑANDÚ \u201926 \u2013 LLC",
    ]
    lines = ["Parcel,Owner"]
    for i, owner in enumerate(owners):
        lines.append(f'P-{i},"{owner.replace(chr(34), chr(34) * 2)}"')
    out = ws.import_properties(
        write(tmp_path / "list.csv", "\n".join(lines) + "\n"), county="Blair"
    )
    assert out["imported"] == len(owners)
    assert [r[0] for r in stored(ws, "owner")] == owners


# --- encodings and delimiters -------------------------------------------------------------


@pytest.mark.parametrize(
    ("encoding", "expected"),
    [
        ("utf-8", "utf-8"),
        ("utf-8-sig", "utf-8-sig"),
        ("cp1252", "cp1252"),
        ("latin-1", "cp1252"),
        ("utf-16", "utf-16"),
    ],
)
def test_encodings(ws, tmp_path, encoding, expected):
    owner = "MUÑOZ JOSÉ" if encoding == "latin-1" else "MUÑOZ JOSÉ \u2013 O\u2019BRIEN"
    path = write(tmp_path / "list.csv", f"Parcel #,Owner(s)\nA-1,{owner}\n", encoding)
    out = ws.import_properties(path, county="Blair")
    assert out["source"]["encoding"] == expected
    assert stored(ws, "owner") == [(owner,)]


def test_a_named_encoding_that_does_not_fit_says_where(ws, tmp_path):
    path = write(tmp_path / "list.csv", "Parcel,Owner\nA-1,MUÑOZ\n", "cp1252")
    with pytest.raises(ValidationError, match=r"Line 2 is not utf-8: byte b'\\xd1'"):
        ws.import_properties(path, county="Blair", encoding="utf-8")
    with pytest.raises(ValidationError, match="Unknown encoding 'klingon'"):
        ws.import_properties(path, county="Blair", encoding="klingon")


@pytest.mark.parametrize("delimiter", [",", ";", "\t", "|"])
def test_delimiters_are_detected(ws, tmp_path, delimiter):
    rows = [["Parcel #", "Owner", "Upset Price"], ["A-1", "SMITH, J; K|L", "$1,234.56"]]
    text = "\n".join(delimiter.join(f'"{c}"' for c in r) for r in rows) + "\n"
    out = ws.import_properties(write(tmp_path / "list.csv", text), county="Blair")
    assert stored(ws, "owner", "CAST(upset_price AS DOUBLE)") == [("SMITH, J; K|L", 1234.56)]
    assert out["source"]["delimiter"] in ("comma", "semicolon", "tab", "pipe")


def test_broken_quoting_stops_with_the_line(ws, tmp_path):
    path = write(tmp_path / "list.csv", 'Parcel,Owner\nA-1,DOE\nA-2,"ROE\nA-3,POE\n')
    with pytest.raises(ValidationError, match=r"line 3: cannot read the CSV.*never closed"):
        ws.import_properties(path, county="Blair")
    assert stored(ws, "parcel_id") == []


# --- sale type / date, exit codes --------------------------------------------------------


def test_sale_type_and_date_fill_rows_without_one(ws, tmp_path):
    path = write(
        tmp_path / "list.csv", "Parcel,Sale Type,Sale Date\nA-1,,\nA-2,Judicial Sale,9/14/2027\n"
    )
    ws.import_properties(path, county="Blair", sale_type="Upset", sale_date="2027-09-13")
    assert stored(ws, "parcel_id", "sale_type", "sale_date") == [
        ("A-1", "upset", dt.date(2027, 9, 13)),
        ("A-2", "judicial", dt.date(2027, 9, 14)),
    ]
    with pytest.raises(
        UnknownChoiceError,
        match=r"Unknown sale type 'auction'\. Valid choices: "
        r"judicial, private, repository, sheriff, upset",
    ):
        ws.import_properties(path, county="Blair", sale_type="auction")
    with pytest.raises(ValidationError, match="Sale date '2027' is not a date"):
        ws.import_properties(path, county="Blair", sale_date="2027")


def test_exit_codes(tmp_path):
    db = tmp_path / "w.duckdb"
    good = write(tmp_path / "good.csv", "Parcel,Owner\nA-1,DOE\n")
    some = write(tmp_path / "some.csv", "Parcel,Owner\nA-2,DOE\n,ROE\n")
    none = write(tmp_path / "none.csv", "Parcel,Owner\n,DOE\n,ROE\n")
    empty = write(tmp_path / "empty.csv", "Parcel,Owner\n")
    nocol = write(tmp_path / "nocol.csv", "Owner\nDOE\n")
    base = ("--county", "Blair", "--db", db)
    assert cli("import-properties", good, *base).exit_code == 0
    assert cli("import-properties", some, *base).exit_code == 3
    r = cli("import-properties", none, *base)
    assert r.exit_code == 4 and "Imported 0, updated 0, rejected 2." in r.stdout
    assert cli("import-properties", empty, *base).exit_code == 4
    r = cli("import-properties", nocol, *base)
    assert r.exit_code == 1 and "No parcel id column" in r.stderr
    r = cli("import-properties", good, *base, "--map", "Parcel")
    assert r.exit_code == 2 and "is not COLUMN=FIELD" in r.stderr
    r = cli("import-properties", good, *base, "--sale-type", "tax")
    assert r.exit_code == 1 and "Valid choices: judicial, private, repository" in r.stderr
    with toolkit.connect(str(db)) as ws:
        assert stored(ws, "parcel_id") == [("A-1",), ("A-2",)]
    docs = (ROOT / "docs" / "import.md").read_text() + (ROOT / "docs" / "cli.md").read_text()
    for code in ("| 0 |", "| 3 |", "| 4 |"):
        assert docs.count(code) >= 2, code


def test_xlsx_rows_are_sheet_rows(ws, tmp_path):
    openpyxl = pytest.importorskip("openpyxl")
    book = openpyxl.Workbook()
    sheet = book.active
    sheet.append(["Blair County Upset Sale"])
    sheet.append(["Parcel #", "Owner(s)", "Minimum Bid", "Sale Date"])
    sheet.append(["A-1", "LOT #5 LLC", 1234.5, dt.datetime(2027, 9, 13)])
    sheet.append([None, "NO PARCEL", 5])
    book.save(tmp_path / "list.xlsx")
    out = ws.import_properties(tmp_path / "list.xlsx", county="Blair")
    assert out["rejected"].line.tolist() == [4]
    assert stored(ws, "owner", "CAST(upset_price AS DOUBLE)", "sale_date") == [
        ("LOT #5 LLC", 1234.5, dt.date(2027, 9, 13))
    ]


def test_the_example_list_in_the_docs(ws):
    out = ws.import_properties(ROOT / "docs" / "examples" / "county_list.csv", county="Blair")
    assert out["imported"] == 4 and out["exit_code"] == 3
    assert out["rejected"].line.tolist() == [7, 10]
    assert ("LOT #5 HOLDINGS LLC", "12 MAIN ST APT #2") in stored(ws, "owner", "address")
