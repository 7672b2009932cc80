"""Bringing property lists into a workspace (CSV, Excel or DataFrame → ``properties``).

An investor's own list is read as it is: every cell stays the text it was (no
comment character, no guessing of missing values), each data row keeps the
physical line of the file it started on, and each column is either matched to a
field — by the synonym table below (``docs/import.md``) or by the caller's
``mapping`` — or reported as ignored with the reason. Rows that cannot be
imported are rejected with their line and the reason; the rest are upserted by
(county, parcel id). ``withdraw_missing`` treats the file as a county's whole
current list: active parcels it no longer has become ``withdrawn``, withdrawn
ones it has again become ``active``.
"""

from __future__ import annotations

import codecs
import contextlib
import csv
import datetime as dt
import io
import re
import unicodedata
import uuid
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import TYPE_CHECKING, Any

from toolkit.backends.common import utcnow
from toolkit.exceptions import (
    MissingDependencyError,
    ToolkitError,
    UnknownChoiceError,
    ValidationError,
)
from toolkit.parcels import AUCTION_STATUSES, SALE_TYPES, normalise_parcel, upsert_properties

if TYPE_CHECKING:
    from collections.abc import Iterator

    import pandas as pd

    from toolkit.backends.base import Store

__all__ = [
    "AUCTION_STATUSES",
    "EXIT_ALL_IMPORTED",
    "EXIT_NOTHING_IMPORTED",
    "EXIT_SOME_REJECTED",
    "FIELDS",
    "SALE_TYPES",
    "SYNONYMS",
    "header_key",
    "import_properties",
    "normalise_parcel",
    "parse_amount",
    "parse_date",
    "plan_columns",
    "read_table",
]


# The fields a list can fill, in the order they are shown.
FIELDS = {
    "parcel_id": "the county's parcel number (required)",
    "county": "county name, id or FIPS code (or --county for the whole file)",
    "control_number": "the sale list's own item number",
    "address": "the property's location",
    "municipality": "township, borough or city",
    "owner": "owner of record",
    "description": "the list's description (LOT & DWG, …)",
    "upset_price": "upset price / minimum bid in dollars",
    "sale_type": "one of " + ", ".join(SALE_TYPES),
    "sale_date": "date of the sale",
    "auction_status": "one of " + ", ".join(AUCTION_STATUSES),
    "document_id": "id of the sale-list PDF this row came from",
}
IGNORE = "ignore"  # a mapping target: leave this column out, on purpose

# Header labels that name each field, as PA county lists spell them. Labels compare
# by header_key(): case, spacing and punctuation aside, "#", "No.", "Num", "Nbr" and
# "Number" alike, "(s)" and the words "and", "of", "the" dropped. docs/import.md shows
# this table; tests/unit/test_importing.py checks that the two agree.
SYNONYMS: dict[str, tuple[str, ...]] = {
    "parcel_id": (
        "Parcel ID",
        "Parcel",
        "Parcel No.",
        "Parcel Number",
        "Parcel Identifier",
        "Parcel Identification No.",
        "Tax Parcel",
        "Tax Parcel No.",
        "Tax Parcel ID",
        "Tax Map No.",
        "Tax Map Parcel No.",
        "Tax Map ID",
        "Map No.",
        "Map & Parcel",
        "Map Parcel No.",
        "Block & Lot",
        "Lot & Block",
        "UPI",
        "UPI No.",
        "Uniform Parcel Identifier",
        "PIN",
        "APN",
        "Folio",
        "Folio No.",
        "OPA No.",
        "OPA Account No.",
        "BRT No.",
        "Tax ID",
        "Tax ID No.",
        "Property ID",
        "Parcelnumb",
    ),
    "county": ("County", "County Name"),
    "control_number": (
        "Control No.",
        "Sale No.",
        "Sale Item No.",
        "Item No.",
        "Item",
        "Record No.",
        "No.",
        "Claim No.",
        "Tax Claim No.",
    ),
    "address": (
        "Address",
        "Location",
        "Property Address",
        "Property Location",
        "Location Address",
        "Location of Property",
        "Situs",
        "Situs Address",
        "Site Address",
        "Street Address",
        "Premises",
    ),
    "municipality": (
        "Municipality",
        "Municipality Name",
        "Muni",
        "Township",
        "Twp",
        "Borough",
        "Boro",
        "Township/Borough",
        "Twp/Boro",
        "Municipality/Township",
        "Taxing District",
        "Tax District",
    ),
    "owner": (
        "Owner",
        "Owners",
        "Owner(s)",
        "Owner Name",
        "Owner's Name",
        "Owner Names",
        "Reputed Owner",
        "Reputed Owners",
        "Property Owner",
        "Current Owner",
        "Assessed Owner",
        "Taxpayer",
        "Taxpayer Name",
    ),
    "description": (
        "Description",
        "Desc",
        "Property Description",
        "Legal Description",
        "Short Legal",
    ),
    "upset_price": (
        "Upset Price",
        "Upset Amount",
        "Upset",
        "Approx. Upset Price",
        "Approx. Upset",
        "Approximate Upset Price",
        "Upset Sale Price",
        "Total Upset",
        "Upset Bid",
        "Total Due",
        "Amount Due",
        "Total Amount Due",
        "Amount",
        "Minimum Bid",
        "Min. Bid",
        "Opening Bid",
        "Starting Bid",
    ),
    "sale_type": ("Sale Type", "Type of Sale"),
    "sale_date": ("Sale Date", "Auction Date", "Date of Sale"),
    "auction_status": ("Auction Status", "Status", "Sale Status"),
    "document_id": ("Document ID",),
}

# Exit codes of `toolkit import-properties` (docs/cli.md, docs/import.md).
EXIT_ALL_IMPORTED = 0
EXIT_SOME_REJECTED = 3
EXIT_NOTHING_IMPORTED = 4

# Cells that say "no amount": stored as missing, each with a warning.
MISSING_AMOUNTS = frozenset(
    {
        "n/a",
        "na",
        "#n/a",
        "none",
        "null",
        "nil",
        "tbd",
        "-",
        "--",
        "\u2014",
        "\u2013",
        "$-",
        "$\u2014",
    }
)
DELIMITERS = (",", "\t", ";", "|")
DELIMITER_NAMES = {",": "comma", "\t": "tab", ";": "semicolon", "|": "pipe"}
MAX_AMOUNT = Decimal("999999999999.99")  # DECIMAL(14, 2)
_HEADER_SEARCH = 20  # non-blank records in which to look for the header row
_SPACES = re.compile(r"\s+")
_DIGIT = re.compile(r"\d")
_NUMBER_WORDS = frozenset({"number", "num", "nbr", "no"})
_STOP_WORDS = frozenset({"and", "of", "the"})
_SUMMARY_LINE = re.compile(
    r"^(?:grand\s+)?totals?\b|^sub-?totals?\b|^page\s+\d|^(?:count|records|rows)\b|"
    r"^\d+\s+(?:records|rows|properties|parcels)\b|^(?:report|printed|generated|run\s+date)\b|"
    r"^end\s+of\b|^number\s+of\b",
    re.IGNORECASE,
)
_AMOUNT = re.compile(
    r"(?P<open>\()?(?P<sign1>-)?\$?(?P<sign2>-)?"
    r"(?P<int>\d{1,3}(?:,\d{3})+|\d+)?(?:\.(?P<frac>\d*))?(?P<close>\))?"
)
_DATE_FORMATS = (
    "%Y-%m-%d",
    "%m/%d/%Y",
    "%m/%d/%y",
    "%m-%d-%Y",
    "%Y/%m/%d",
    "%B %d, %Y",
    "%b %d, %Y",
    "%b. %d, %Y",
    "%A, %B %d, %Y",
    "%d-%b-%Y",
    "%d-%b-%y",
    "%d %B %Y",
    "%d %b %Y",
)


def header_key(label: object) -> str:
    """The form in which header labels compare.

    >>> header_key("Tax Parcel No."), header_key("PARCEL #"), header_key("Owner(s)")
    ('tax parcel no', 'parcel no', 'owner')
    """
    text = unicodedata.normalize("NFKC", str(label)).lower()
    text = text.replace("(s)", "").replace("#", " no ").replace("&", " and ")
    text = re.sub("['`\u2019]", "", text)
    words = re.sub(r"[^a-z0-9]+", " ", text).split()
    return " ".join("no" if w in _NUMBER_WORDS else w for w in words if w not in _STOP_WORDS)


def synonym_index() -> dict[str, str]:
    """``{header_key(label): field}`` for every label in :data:`SYNONYMS`."""
    return {header_key(label): name for name, labels in SYNONYMS.items() for label in labels}


_BY_KEY = synonym_index()


# --- values ---------------------------------------------------------------------------


def _trim(value: str) -> str:
    # spaces only: a leading tab or CR is part of the value (the export escapes it)
    return value.strip(" ")


def parse_amount(text: str) -> tuple[float | None, str | None, str | None]:
    """``(dollars, problem, warning)`` for one amount cell.

    ``problem`` rejects the row; ``warning`` keeps it with no amount.

    >>> parse_amount("$1,234.56")
    (1234.56, None, None)
    >>> parse_amount("N/A")
    (None, None, "'N/A' means no amount; stored as missing")
    >>> parse_amount("(1,234.56)")[1]
    "amount '(1,234.56)' is negative (accounting parentheses)"
    """
    compact = _SPACES.sub("", text)
    if compact == "":
        return None, None, None
    if compact.lower() in MISSING_AMOUNTS:
        return None, None, f"{text!r} means no amount; stored as missing"
    m = _AMOUNT.fullmatch(compact)
    if (
        not m
        or (m["int"] is None and not m["frac"])
        or bool(m["open"]) != bool(m["close"])
        or (m["sign1"] and m["sign2"])
    ):
        return None, f"amount {text!r} is not a number (write it like 1234.56 or $1,234.56)", None
    frac = m["frac"] or ""
    if len(frac.rstrip("0")) > 2:
        return None, f"amount {text!r} has more than 2 decimal places", None
    try:
        value = Decimal(f"{(m['int'] or '0').replace(',', '')}.{frac or '0'}")
    except InvalidOperation:  # pragma: no cover - the pattern admits digits only
        return None, f"amount {text!r} is not a number", None
    if m["open"]:
        return None, f"amount {text!r} is negative (accounting parentheses)", None
    if m["sign1"] or m["sign2"]:
        return None, f"amount {text!r} is negative", None
    if value > MAX_AMOUNT:
        return None, f"amount {text!r} is too large (at most {MAX_AMOUNT:,})", None
    return float(value.quantize(Decimal("0.01"))), None, None


def parse_date(text: str) -> dt.date | None:
    """A sale date in the forms county lists use, or None if it is not one.

    >>> parse_date("9/8/2027"), parse_date("September 8, 2027"), parse_date("2027")
    (datetime.date(2027, 9, 8), datetime.date(2027, 9, 8), None)
    """
    value = re.sub(r"\s+", " ", text.strip())
    # Excel writes dates as date-times at midnight
    value = re.sub(r"^(\d{4}-\d\d-\d\d)[ T]00:00(?::00(?:\.0+)?)?$", r"\1", value)
    for fmt in _DATE_FORMATS:
        with contextlib.suppress(ValueError):
            return dt.datetime.strptime(value, fmt).date()
    return None


def _date_problem(text: str) -> str:
    return f"sale date {text!r} is not a date (write it like 2027-09-08 or 9/8/2027)"


def sale_type_value(text: str) -> str | None:
    """The sale type a cell names ("Upset", "Upset Tax Sale", "Sheriff's Sale" …), or None.

    >>> sale_type_value("Sheriff's Sale"), sale_type_value("auction")
    ('sheriff', None)
    """
    words = re.findall(r"[a-z]+", text.lower().replace("'s", ""))
    words = [w for w in words if w not in ("tax", "sale", "sales")]
    value = " ".join(words)
    return value if value in SALE_TYPES else None


def _is_uuid(text: str) -> bool:
    try:
        uuid.UUID(text)
    except ValueError:
        return False
    return True


# --- reading ----------------------------------------------------------------------------


@dataclass
class Table:
    """A list as read: the header, the data records and the line each starts on."""

    header: list[str]
    rows: list[list[str]]
    lines: list[int]
    source: str = "the DataFrame"
    header_line: int = 1
    encoding: str | None = None
    delimiter: str | None = None
    blank_lines: int = 0
    skipped: list[dict[str, Any]] = field(default_factory=list)  # line, text, why


def decode(raw: bytes, encoding: str | None = None) -> tuple[str, str]:
    """``(text, encoding used)``: a byte-order mark wins, then UTF-8, then Windows-1252.

    Windows-1252 is what Excel on Windows writes when it saves "CSV"; bytes it does not
    define are read as Latin-1.
    """
    if encoding:
        try:
            text = raw.decode(encoding)
        except LookupError:
            raise ValidationError(
                f"Unknown encoding {encoding!r}; e.g. utf-8, cp1252, latin-1, utf-16."
            ) from None
        except UnicodeDecodeError as exc:
            raise ValidationError(_decode_message(raw, exc, encoding)) from None
        return text.removeprefix("\ufeff"), encoding
    for bom, name in (
        (codecs.BOM_UTF32_LE, "utf-32"),
        (codecs.BOM_UTF32_BE, "utf-32"),
        (codecs.BOM_UTF8, "utf-8-sig"),
        (codecs.BOM_UTF16_LE, "utf-16"),
        (codecs.BOM_UTF16_BE, "utf-16"),
    ):
        if raw.startswith(bom):
            try:
                return raw.decode(name).removeprefix("\ufeff"), name
            except UnicodeDecodeError as exc:
                raise ValidationError(_decode_message(raw, exc, name)) from None
    head = raw[:4000]
    if head and head.count(0) > len(head) // 4:  # UTF-16 without a byte-order mark
        name = "utf-16-le" if head[1::2].count(0) > head[0::2].count(0) else "utf-16-be"
        with contextlib.suppress(UnicodeDecodeError):
            return raw.decode(name), name
    for name in ("utf-8", "cp1252"):
        with contextlib.suppress(UnicodeDecodeError):
            return raw.decode(name), name
    return raw.decode("latin-1"), "latin-1"


def _decode_message(raw: bytes, exc: UnicodeDecodeError, encoding: str) -> str:
    line = raw[: exc.start].count(b"\n") + 1
    return (
        f"Line {line} is not {encoding}: byte {raw[exc.start : exc.start + 1]!r} at offset "
        f"{exc.start}. Leave the encoding out to have it detected, or name the file's own "
        "(e.g. cp1252, latin-1, utf-16)."
    )


def _records(text: str, delimiter: str, source: str) -> Iterator[tuple[int, list[str]]]:
    """``(first physical line, cells)`` per record; quoted cells may span lines."""
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter, strict=True)
    end = 0
    while True:
        try:
            record = next(reader)
        except StopIteration:
            return
        except csv.Error as exc:
            start = end + 1
            physical = re.split(r"\r\n|\r|\n", text)
            snippet = physical[start - 1][:80] if start <= len(physical) else ""
            hint = (
                "a quote opened there is never closed"
                if "end of data" in str(exc) or reader.line_num - start > 50
                else 'a quote inside a quoted value must be doubled ("")'
            )
            raise ValidationError(
                f"{source}, line {start}: cannot read the CSV ({exc}): {hint}. "
                f"The line: {snippet!r}. Nothing was imported."
            ) from None
        yield end + 1, record
        end = reader.line_num


def _blank(cells: list[str]) -> bool:
    return all(_trim(c) == "" for c in cells)


def _recognised(cells: list[str], mapping_keys: set[str]) -> tuple[int, bool]:
    """How many cells name a field, and whether the row looks like the header: a cell
    names the parcel id, or a column of the mapping."""
    hits, header = 0, False
    for cell in cells:
        key = header_key(cell)
        if _trim(cell) in mapping_keys or (key and key in mapping_keys):
            hits += 1
            header = True
        elif key in _BY_KEY:
            hits += 1
            header = header or _BY_KEY[key] == "parcel_id"
    return hits, header


def _choose_delimiter(text: str, mapping: dict[str, str]) -> str:
    sample = "\n".join(text[:65536].splitlines()[:60])
    keys = _mapping_keys(mapping)
    best, best_score = ",", None
    for delim in DELIMITERS:
        reader = csv.reader(io.StringIO(sample, newline=""), delimiter=delim)
        records: list[list[str]] = []
        with contextlib.suppress(csv.Error):
            for rec in reader:
                if rec and not _blank(rec):
                    records.append(rec)
                if len(records) >= 30:
                    break
        if not records:
            continue
        recognised = max(_recognised(r, keys)[0] for r in records[:_HEADER_SEARCH])
        widths = [len(r) for r in records]
        modal = max(set(widths), key=widths.count)
        score = (recognised, modal > 1 and widths.count(modal) / len(widths), modal)
        if best_score is None or score > best_score:
            best, best_score = delim, score
    return best


def _mapping_keys(mapping: dict[str, str]) -> set[str]:
    return {str(k).strip(" ") for k in mapping} | {header_key(k) for k in mapping}


def read_table(
    path: str | Path,
    *,
    mapping: dict[str, str] | None = None,
    encoding: str | None = None,
    delimiter: str | None = None,
) -> Table:
    """Read a CSV (or .xlsx) property list into a :class:`Table`, cells as text."""
    path = Path(path)
    if not path.is_file():
        raise ValidationError(f"Property file {str(path)!r} does not exist.")
    if path.suffix.lower() in (".xlsx", ".xlsm"):
        return _read_xlsx(path, mapping or {})
    if path.suffix.lower() == ".xls":
        raise ValidationError(
            f"{path.name} is an old Excel (.xls) workbook: save it as .xlsx or CSV first."
        )
    if delimiter is not None and delimiter not in DELIMITERS:
        named = {"comma": ",", "tab": "\t", "\\t": "\t", "semicolon": ";", "pipe": "|"}
        if delimiter.lower() not in named:
            raise UnknownChoiceError("delimiter", delimiter, [*DELIMITER_NAMES.values()])
        delimiter = named[delimiter.lower()]
    text, used = decode(path.read_bytes(), encoding)
    delim = delimiter or _choose_delimiter(text, mapping or {})
    table = _table(_records(text, delim, path.name), mapping or {}, path.name)
    table.encoding, table.delimiter = used, delim
    return table


def _table(records: Iterator[tuple[int, list[str]]], mapping: dict[str, str], source: str) -> Table:
    keys = _mapping_keys(mapping)
    before: list[tuple[int, list[str]]] = []
    header: tuple[int, list[str]] | None = None
    blank_before = 0
    for line, cells in records:
        if _blank(cells):
            blank_before += 1
            continue
        before.append((line, cells))
        if _recognised(cells, keys)[1]:
            header = (line, cells)
            break
        if len(before) >= _HEADER_SEARCH:
            break
    if header is None:
        if not before:
            raise ValidationError(f"{source} has no header row (it is empty).")
        header = before[0]
        rest = before[1:]
        preamble: list[tuple[int, list[str]]] = []
    else:
        rest = []
        preamble = before[:-1]
        blank_before = 0  # blank lines above the header are not data
    table = Table(
        header=[c.strip(" ") for c in header[1]],
        rows=[],
        lines=[],
        source=source,
        header_line=header[0],
    )
    table.blank_lines = blank_before
    for line, cells in preamble:
        text = ",".join(c for c in cells if c.strip())
        table.skipped.append({"line": line, "text": text[:80], "why": "above the header row"})
    header_cells = [c.strip(" ") for c in header[1]]
    for line, cells in [*rest, *records]:
        if _blank(cells):
            table.blank_lines += 1
            continue
        if [c.strip(" ") for c in cells] == header_cells:
            table.skipped.append(
                {"line": line, "text": ",".join(cells)[:80], "why": "repeats the header row"}
            )
            continue
        table.rows.append(cells)
        table.lines.append(line)
    return table


def _read_xlsx(path: Path, mapping: dict[str, str]) -> Table:
    try:
        import openpyxl
    except ImportError:
        raise MissingDependencyError(
            "Reading .xlsx needs openpyxl: pip install 'taxsale-toolkit[excel]' "
            "(or save the sheet as CSV)."
        ) from None
    book = openpyxl.load_workbook(path, read_only=True, data_only=True)
    try:
        sheet = book.worksheets[0]

        def records() -> Iterator[tuple[int, list[str]]]:
            for row in sheet.iter_rows():
                cells = [c for c in row if getattr(c, "row", None) is not None]
                if not cells:
                    continue
                width = max(c.column for c in cells)
                values = [""] * width
                for c in cells:
                    values[c.column - 1] = _cell_text(c.value)
                yield cells[0].row, values

        table = _table(records(), mapping, path.name)
    finally:
        book.close()
    table.encoding, table.delimiter = "xlsx", None
    return table


def _cell_text(value: object) -> str:
    """A spreadsheet or DataFrame cell as the text it shows."""
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return str(value).upper()
    if isinstance(value, dt.datetime):
        return value.date().isoformat() if value.time() == dt.time() else value.isoformat(" ")
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, float):
        if value != value:  # NaN: an empty cell of a DataFrame
            return ""
        return str(int(value)) if value.is_integer() else repr(value)
    return str(value)


def frame_table(frame: pd.DataFrame) -> Table:
    """A DataFrame as a :class:`Table`: its row ``i`` is "line" ``i + 2`` (header = line 1)."""
    import pandas as pd

    header = [str(c) for c in frame.columns]

    def text(value: object) -> str:
        with contextlib.suppress(TypeError, ValueError):
            if pd.isna(value):  # None, NaN, NaT, pd.NA
                return ""
        return _cell_text(value)

    rows = [
        [text(v) for v in rec] for rec in frame.astype(object).itertuples(index=False, name=None)
    ]
    table = Table(header=header, rows=[], lines=[])
    for i, cells in enumerate(rows):
        if _blank(cells):
            table.blank_lines += 1
            continue
        table.rows.append(cells)
        table.lines.append(i + 2)
    return table


# --- columns ------------------------------------------------------------------------------


@dataclass
class Column:
    index: int
    label: str
    field: str | None
    note: str


def _money_like(values: list[str]) -> bool:
    filled = [v for v in values if _trim(v)]
    if not filled:
        return False
    parsed = [v for v in filled if parse_amount(v)[1] is None]
    looks = [v for v in filled if "$" in v or re.search(r"\.\d\d\s*\)?$", v)]
    return len(parsed) >= 0.8 * len(filled) and len(looks) >= 0.5 * len(filled)


def plan_columns(table: Table, mapping: dict[str, str] | None = None) -> list[Column]:
    """Which column fills which field, and why each other column is left out."""
    mapping = dict(mapping or {})
    valid = [*FIELDS, IGNORE]
    explicit: dict[int, str] = {}
    for label, target in mapping.items():
        name = str(target).strip().lower()
        if name not in valid:
            exc = UnknownChoiceError("field", target, valid)
            exc.args = (f"--map {label!r}: {exc}",)
            raise exc
        hits = [i for i, h in enumerate(table.header) if h == str(label).strip(" ")]
        if not hits:
            hits = [i for i, h in enumerate(table.header) if header_key(h) == header_key(label)]
        if not hits:
            raise ValidationError(
                f"--map names column {label!r}, which {table.source} does not have; its "
                f"columns are: {', '.join(repr(h) for h in table.header)}."
            )
        if len(hits) > 1:
            raise ValidationError(
                f"Column {label!r} appears {len(hits)} times in {table.source} (columns "
                f"{', '.join(str(i + 1) for i in hits)}); give the columns distinct names."
            )
        explicit[hits[0]] = name
    mapped_fields = {f: i for i, f in explicit.items() if f != IGNORE}
    if len(mapped_fields) < len([f for f in explicit.values() if f != IGNORE]):
        dup = next(f for f in explicit.values() if list(explicit.values()).count(f) > 1)
        raise ValidationError(f"--map gives field {dup!r} more than one column.")
    plan: list[Column] = []
    auto: dict[str, list[int]] = {}
    for i, label in enumerate(table.header):
        shown = label or f"(column {i + 1}, no name)"
        if i in explicit:
            target = explicit[i]
            if target == IGNORE:
                plan.append(Column(i, shown, None, "left out by the mapping"))
            else:
                plan.append(Column(i, shown, target, "by the mapping"))
            continue
        found = _BY_KEY.get(header_key(label)) if label else None
        if found and found in mapped_fields:
            other = table.header[mapped_fields[found]]
            plan.append(
                Column(i, shown, None, f"also names {found}, but the mapping chose {other!r}")
            )
        elif found:
            auto.setdefault(found, []).append(i)
            plan.append(Column(i, shown, found, "header synonym"))
        else:
            plan.append(Column(i, shown, None, ""))
    for name, idxs in auto.items():
        if len(idxs) > 1:
            labels = [table.header[i] for i in idxs]
            raise ValidationError(
                f"Columns {', '.join(repr(x) for x in labels)} of {table.source} all name "
                f"{name}; say which one with --map '{labels[0]}={name}' (Python: "
                f"mapping={{{labels[0]!r}: {name!r}}}); the others are then left out."
            )
    used = {c.field for c in plan if c.field}
    for col in plan:
        if col.field or col.note:
            continue
        values = [r[col.index] for r in table.rows[:200] if col.index < len(r)]
        if not any(_trim(v) for v in values) and not table.header[col.index]:
            col.note = "empty"
        elif "upset_price" not in used and _money_like(values):
            col.note = (
                f"not a known name; it looks like dollar amounts and no column is the "
                f"upset price: if it is, --map '{col.label}=upset_price'"
            )
        else:
            col.note = f"not a known name (docs/import.md); to use it, --map '{col.label}=FIELD'"
    if "parcel_id" not in used:
        examples = ", ".join(repr(x) for x in SYNONYMS["parcel_id"][:8])
        raise ValidationError(
            f"No parcel id column in {table.source} (header on line {table.header_line}); "
            f"its columns are: {', '.join(repr(h) for h in table.header)}. Name it like "
            f"{examples} … (docs/import.md), or map it: --map 'COLUMN=parcel_id' "
            "(Python: mapping={'COLUMN': 'parcel_id'})."
        )
    return plan


# --- importing ----------------------------------------------------------------------------


@dataclass
class _Rows:
    """The rows being checked, one list per field, and what is wrong with each."""

    lines: list[int]
    values: dict[str, list[Any]]
    problems: dict[int, list[str]] = field(default_factory=dict)
    warnings: list[dict[str, Any]] = field(default_factory=list)

    def reject(self, i: int, reason: str) -> None:
        self.problems.setdefault(i, []).append(reason)

    def warn(self, i: int | None, name: str | None, value: object, message: str) -> None:
        line = self.lines[i] if i is not None else None
        self.warnings.append({"line": line, "field": name, "value": value, "message": message})


def import_properties(
    store: Store,
    data: pd.DataFrame | str | Path,
    county: object = None,
    *,
    mapping: dict[str, str] | None = None,
    sale_type: str | None = None,
    sale_date: str | dt.date | None = None,
    withdraw_missing: bool = False,
    dry_run: bool = False,
    encoding: str | None = None,
    delimiter: str | None = None,
    preview: int = 5,
) -> dict[str, Any]:
    """Upsert properties by (county, parcel id); see :meth:`Workspace.import_properties`."""
    import pandas as pd

    fill_type = _check_sale_type(sale_type)
    fill_date = _check_sale_date(sale_date)
    if isinstance(data, pd.DataFrame):
        table = frame_table(data)
    else:
        table = read_table(data, mapping=mapping, encoding=encoding, delimiter=delimiter)
    plan = plan_columns(table, mapping)
    by_field = {c.field: c.index for c in plan if c.field}
    width = len(table.header)
    rows = _Rows(lines=table.lines, values={})
    short: list[int] = []
    for i, cells in enumerate(table.rows):
        if len(cells) > width and any(_trim(c) for c in cells[width:]):
            extra = [c for c in cells[width:] if _trim(c)]
            rows.reject(
                i,
                f"has {len(cells)} cells, the header {width}; extra {extra[:3]!r} "
                "(a delimiter inside a value that is not quoted?)",
            )
        elif len(cells) < width:
            short.append(table.lines[i])
    if short:
        rows.warn(
            None,
            None,
            None,
            f"{len(short)} lines have fewer cells than the header "
            f"(the missing cells are blank): lines {_lines(short)}",
        )
    for name in FIELDS:
        idx = by_field.get(name)
        rows.values[name] = [
            (cells[idx] if idx is not None and idx < len(cells) else None) for cells in table.rows
        ]

    ids, county_names = _check_values(store, rows, county, fill_type, fill_date)
    accepted = [i for i in range(len(table.rows)) if i not in rows.problems]
    duplicates, conflicts = _deduplicate(rows, ids, accepted)
    accepted = [i for i in accepted if i not in rows.problems and i not in duplicates]

    v = rows.values
    incoming = pd.DataFrame(
        {
            "county_id": [ids[i] for i in accepted],
            "parcel_id": [v["parcel_id"][i] for i in accepted],
            "parcel_norm": [v["parcel_norm"][i] for i in accepted],
            **{
                n: [v[n][i] for i in accepted]
                for n in (
                    "control_number",
                    "address",
                    "municipality",
                    "owner",
                    "description",
                    "upset_price",
                    "sale_type",
                    "sale_date",
                    "auction_status",
                    "document_id",
                )
            },
            "ts": utcnow(),
        }
    )
    incoming = incoming.astype(object).where(incoming.notna(), None)
    listed = _listed(rows, ids) if withdraw_missing else None
    scope = sorted({ids[i] for i in accepted})
    outcome = _write(
        store,
        incoming,
        listed,
        scope,
        county_names,
        withdraw_missing=withdraw_missing,
        dry_run=dry_run,
    )

    rejected = pd.DataFrame(
        [
            {
                "line": table.lines[i],
                "parcel_id": _text_or_none(v["parcel_id"][i]),
                "county": _text_or_none(v["county"][i]),
                "reason": "; ".join(reasons),
            }
            for i, reasons in sorted(rows.problems.items())
        ],
        columns=["line", "parcel_id", "county", "reason"],
    )
    dup_frame = pd.DataFrame(
        [
            {
                "line": table.lines[i],
                "first_line": table.lines[first],
                "parcel_id": v["parcel_id"][i],
            }
            for i, first in sorted(duplicates.items())
        ],
        columns=["line", "first_line", "parcel_id"],
    )
    if not withdraw_missing and outcome["listed_withdrawn"]:
        rows.warn(
            None,
            "auction_status",
            None,
            f"{outcome['listed_withdrawn']} parcels of this list are withdrawn in the "
            "workspace and stay so; if this file is the county's whole current list, "
            "import it with --withdraw-missing (withdraw_missing=True) to make them "
            "active again",
        )
    for cid, (gone, active) in outcome["share"].items():
        if active and gone > active / 2:
            rows.warn(
                None,
                "auction_status",
                None,
                f"{gone} of {active} active parcels of county {cid} are not in this file "
                f"and {'would be' if dry_run else 'were'} withdrawn: is it the whole "
                "list? (check with --dry-run; a re-import brings them back)",
            )
    if outcome["pending_in_jobs"]:
        rows.warn(
            None,
            "auction_status",
            None,
            f"{outcome['pending_in_jobs']} items of active jobs are withdrawn parcels; "
            "those jobs still list them (cancel and start the job again to drop "
            "them)",
        )

    written = len(incoming)
    if written == 0:
        code = EXIT_NOTHING_IMPORTED
    elif len(rejected):
        code = EXIT_SOME_REJECTED
    else:
        code = EXIT_ALL_IMPORTED
    preview_frame = pd.DataFrame(
        [{"line": table.lines[i], **{n: v[n][i] for n in FIELDS}} for i in accepted[:preview]],
        columns=["line", *FIELDS],
    )
    return {
        "imported": written - outcome["existing"],
        "updated": outcome["existing"],
        "rejected": rejected,
        "duplicates": dup_frame,
        "duplicates_in_input": len(duplicates) + conflicts,
        "withdrawn": len(outcome["withdrawn"]),
        "withdrawn_parcels": outcome["withdrawn"],
        "reactivated": len(outcome["reactivated"]),
        "reactivated_parcels": outcome["reactivated"],
        "warnings": pd.DataFrame(rows.warnings, columns=["line", "field", "value", "message"]),
        "columns": pd.DataFrame(
            [{"column": c.label, "field": c.field, "note": c.note} for c in plan],
            columns=["column", "field", "note"],
        ),
        "skipped_lines": pd.DataFrame(table.skipped, columns=["line", "text", "why"]),
        "preview": preview_frame,
        "source": {
            "file": table.source,
            "encoding": table.encoding,
            "delimiter": DELIMITER_NAMES.get(table.delimiter or "", table.delimiter),
            "header_line": table.header_line,
            "rows": len(table.rows),
            "blank_lines": table.blank_lines,
        },
        "dry_run": dry_run,
        "exit_code": code,
    }


def _lines(lines: list[int], most: int = 10) -> str:
    shown = ", ".join(map(str, lines[:most]))
    return shown + (f" and {len(lines) - most} more" if len(lines) > most else "")


def _text_or_none(value: str | None) -> str | None:
    return value if value not in (None, "") else None


def _counties(
    store: Store, county: object, names: set[str]
) -> tuple[int | None, dict[str, int | str], dict[int, str]]:
    """In one read: the county argument's id (None without one), each county name of the
    file resolved to an id (or why not), and every county's name by id."""

    def go(con: Any) -> tuple[int | None, dict[str, int | str], dict[int, str]]:
        by_id = {int(r[0]): str(r[1]) for r in con.execute(store.q.county_lookup).fetchall()}
        cid = None
        if county is not None:
            cid = store.engine.resolve_county(con, county)
            if cid is None:
                raise ValidationError(
                    f"County {county!r} names no single county; a list is per county."
                )
        resolved: dict[str, int | str] = {}
        for name in names:
            try:
                found = store.engine.resolve_county(con, name)
            except ToolkitError as exc:
                resolved[name] = str(exc)
                continue
            resolved[name] = (
                found if found is not None else f"County {name!r} names no single county."
            )
        return cid, resolved, by_id

    return store.run(go, tx=False)


def _check_sale_type(value: str | None) -> str | None:
    if value is None:
        return None
    found = sale_type_value(str(value))
    if found is None:
        raise UnknownChoiceError("sale type", value, SALE_TYPES)
    return found


def _check_sale_date(value: str | dt.date | None) -> dt.date | None:
    if value is None or isinstance(value, dt.date):
        return value.date() if isinstance(value, dt.datetime) else value
    found = parse_date(str(value))
    if found is None:
        raise ValidationError(_date_problem(str(value)).capitalize() + ".")
    return found


def _check_values(
    store: Store, rows: _Rows, county: object, fill_type: str | None, fill_date: dt.date | None
) -> tuple[dict[int, int], dict[int, str]]:
    """Check and convert every field in place; returns each row's county id (where it has
    one) and every county's name by id."""
    v = rows.values
    n = len(rows.lines)

    # parcel id: required, with a digit, not a total or page line
    parcels: list[str | None] = []
    norms: list[str] = []
    for i, raw in enumerate(v["parcel_id"]):
        text = _trim(raw or "")
        parcels.append(text or None)
        norms.append(normalise_parcel(text))
        if not text:
            rows.reject(i, "no parcel id")
        elif not norms[-1]:
            rows.reject(i, f"parcel id {text!r} has no letters or digits")
        elif not _DIGIT.search(text):
            rows.reject(i, f"parcel id {text!r} has no digits (a heading or a total line?)")
        elif _SUMMARY_LINE.search(text):
            rows.reject(i, f"parcel id {text!r} looks like a summary line, not a parcel")
    v["parcel_id"] = parcels
    v["parcel_norm"] = norms

    # county: the row's own, else the argument; each name resolved once
    names: list[str | None] = []
    for raw in v["county"]:
        text = _trim(raw or "")
        names.append(text or None)
    v["county"] = names
    county_id, resolved, by_id = _counties(store, county, {x for x in names if x})
    county_name = by_id.get(county_id) if county_id is not None else None
    ids: dict[int, int] = {}
    for i, name in enumerate(names):
        if name is None:
            if county_id is None:
                rows.reject(i, "no county (add a county column or pass county=/--county)")
            else:
                ids[i] = county_id
                names[i] = county_name
        elif isinstance(resolved[name], str):
            rows.reject(i, str(resolved[name]))
        else:
            ids[i] = int(resolved[name])

    # upset price
    amounts: list[float | None] = []
    cache: dict[str, tuple[float | None, str | None, str | None]] = {}
    for i, raw in enumerate(v["upset_price"]):
        if raw is None:
            amounts.append(None)
            continue
        got = cache.get(raw) or cache.setdefault(raw, parse_amount(raw))
        amounts.append(got[0])
        if got[1]:
            rows.reject(i, got[1])
        elif got[2]:
            rows.warn(i, "upset_price", raw, got[2])
    v["upset_price"] = amounts

    # sale date, sale type, status: the row's own value, else the argument
    dates: list[dt.date | None] = []
    date_cache: dict[str, dt.date | None] = {}
    for i, raw in enumerate(v["sale_date"]):
        text = _trim(raw or "")
        if not text:
            dates.append(fill_date)
            continue
        if text not in date_cache:
            date_cache[text] = parse_date(text)
        dates.append(date_cache[text])
        if date_cache[text] is None:
            rows.reject(i, _date_problem(raw or ""))
    v["sale_date"] = dates

    kinds: list[str | None] = []
    for i, raw in enumerate(v["sale_type"]):
        text = _trim(raw or "")
        if not text:
            kinds.append(fill_type)
            continue
        kind = sale_type_value(text)
        kinds.append(kind)
        if kind is None:
            rows.reject(i, f"sale_type {text!r} is not one of {', '.join(SALE_TYPES)}")
    v["sale_type"] = kinds

    statuses: list[str | None] = []
    for i, raw in enumerate(v["auction_status"]):
        text = _trim(raw or "").lower()
        statuses.append(text or None)
        if text and text not in AUCTION_STATUSES:
            rows.reject(i, f"auction_status {raw!r} is not one of {', '.join(AUCTION_STATUSES)}")
    v["auction_status"] = statuses

    docs: list[str | None] = []
    for i, raw in enumerate(v["document_id"]):
        text = _trim(raw or "")
        docs.append(text or None)
        if text and not _is_uuid(text):
            rows.reject(i, f"document_id {text!r} is not a document id (a UUID)")
    v["document_id"] = docs

    for name in ("control_number", "address", "municipality", "owner", "description"):
        v[name] = [(_trim(raw) or None) if raw is not None else None for raw in v[name]]
    assert all(len(col) == n for col in v.values())
    return ids, by_id


_COMPARED = (
    "parcel_id",
    "control_number",
    "address",
    "municipality",
    "owner",
    "description",
    "upset_price",
    "sale_type",
    "sale_date",
    "auction_status",
    "document_id",
)


def _deduplicate(
    rows: _Rows, ids: dict[int, int], accepted: list[int]
) -> tuple[dict[int, int], int]:
    """Rows that repeat a parcel of an earlier good row: exact repeats (returned, with the
    row they repeat) are imported once; a repeat with other values is rejected (counted)."""
    v = rows.values
    first: dict[tuple[int, str], int] = {}
    repeats: dict[int, int] = {}
    conflicts = 0
    for i in accepted:
        key = (ids[i], v["parcel_norm"][i])
        if key not in first:
            first[key] = i
            continue
        j = first[key]
        differ = [n for n in _COMPARED if n != "parcel_id" and v[n][i] != v[n][j]]
        if not differ:
            repeats[i] = j
            continue
        n = differ[0]
        conflicts += 1
        rows.reject(
            i,
            f"parcel {v['parcel_id'][i]!r} is also on line {rows.lines[j]}, with a different "
            f"{n} ({v[n][i]!r} here, {v[n][j]!r} there); line {rows.lines[j]} was kept",
        )
    return repeats, conflicts


def _listed(rows: _Rows, ids: dict[int, int]) -> pd.DataFrame:
    """Every parcel the file names in a known county, rejected rows too: none of them is
    missing from the list."""
    import pandas as pd

    norms = rows.values["parcel_norm"]
    pairs = {(cid, norms[i]) for i, cid in ids.items() if norms[i]}
    return pd.DataFrame(sorted(pairs), columns=["county_id", "parcel_norm"])


def _write(
    store: Store,
    incoming: pd.DataFrame,
    listed: pd.DataFrame | None,
    scope: list[int],
    names: dict[int, str],
    *,
    withdraw_missing: bool,
    dry_run: bool,
) -> dict[str, Any]:
    """Upsert (unless a dry run) and, with withdraw_missing, set statuses; one transaction."""
    import pandas as pd

    q = store.q
    cols = ["county", "parcel_id"]

    def frame(rows: list[Any]) -> pd.DataFrame:
        return pd.DataFrame([(r[1], r[2]) for r in rows], columns=["county_id", "parcel_id"])

    def work(con: Any) -> dict[str, Any]:
        out: dict[str, Any] = {
            "existing": 0,
            "withdrawn": [],
            "reactivated": [],
            "listed_withdrawn": 0,
            "share": {},
            "pending_in_jobs": 0,
        }
        if not len(incoming):
            return out
        con.register("_incoming", incoming)
        try:
            out["existing"] = len(con.execute(q.properties_existing).fetchall())
            inactive = con.execute(q.properties_listed_inactive).fetchall()
        finally:
            with contextlib.suppress(Exception):
                con.unregister("_incoming")
        back = [r for r in inactive if r[4] == "withdrawn"]
        out["listed_withdrawn"] = len(back)
        gone: list[Any] = []
        if withdraw_missing:
            con.register("_listed", listed)
            try:
                gone = con.execute(q.properties_missing_from_list, [scope]).fetchall()
                actives = con.execute(q.properties_active_per_county, [scope]).fetchall()
            finally:
                with contextlib.suppress(Exception):
                    con.unregister("_listed")
            counts: dict[int, int] = {}
            for r in gone:
                counts[r[1]] = counts.get(r[1], 0) + 1
            out["share"] = {cid: (counts.get(cid, 0), n) for cid, n in actives}
            out["withdrawn"], out["reactivated"] = gone, back
            if gone:
                jobs = con.execute(q.items_pending_for_properties, [[r[0] for r in gone]])
                out["pending_in_jobs"] = sum(r[2] for r in jobs.fetchall())
        if dry_run:
            return out
        # A row without a status keeps the stored one, except that a republished list
        # (withdraw_missing) makes the withdrawn parcels it lists active again.
        status = {(r[1], r[3]): r[4] for r in inactive}
        if withdraw_missing:
            status.update({(r[1], r[3]): "active" for r in back})
        rows = incoming
        if status:
            rows = incoming.copy()
            stored = [status.get(k) for k in zip(rows.county_id, rows.parcel_norm, strict=True)]
            rows["auction_status"] = [
                given if given is not None else known
                for given, known in zip(rows.auction_status, stored, strict=True)
            ]
        upsert_properties(con, q, rows)
        if gone:
            con.execute(q.properties_set_status, ["withdrawn", utcnow(), [r[0] for r in gone]])
        return out

    out = store.run(work, tx=not dry_run)
    for key in ("withdrawn", "reactivated"):
        f = frame(out[key])
        f.insert(0, "county", f.pop("county_id").map(names))
        out[key] = f[cols]
    out["share"] = {names.get(c, c): v for c, v in out["share"].items()}
    return out
