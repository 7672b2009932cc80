"""Property lists the import was not written against: generated variants, outcomes counted.

A seeded generator writes county lists the way different offices and programs do —
header labels from the synonym table in other spellings (case, ``#`` for ``No.``,
underscores), columns in any order with unknown ones among them, UTF-8 with and
without a byte-order mark, Windows-1252, Latin-1 and UTF-16, four delimiters,
minimal or full quoting, LF or CRLF, a title line, blank lines, multi-line cells,
values with ``#``, quotes, delimiters, formulas and leading tabs, amounts in several
notations, ``N/A``, exact repeats, bad amounts and total lines at the end — and
checks every stored value, every rejection's line and every warning against what
the generator knows it wrote. The counts are printed (``pytest -s``); any outcome
other than "exact" fails the test.
"""

from __future__ import annotations

import datetime as dt
import os
import random
import re
from collections import Counter
from decimal import Decimal
from pathlib import Path

from hypothesis import given
from hypothesis import strategies as st

from toolkit import importing

VARIANTS = int(os.environ.get("TOOLKIT_IMPORT_VARIANTS", "80"))
ENCODINGS = ("utf-8", "utf-8-sig", "cp1252", "latin-1", "utf-16")
DELIMITERS = (",", ";", "\t", "|")
UNKNOWN = ("Assessed Value", "Acres", "Notes", "Deed Book", "School District")
NAMES = (
    "SMITH JOHN",
    "MUÑOZ JOSÉ",
    "O\u2019BRIEN PAT",
    "LOT #5 HOLDINGS LLC",
    "DOE, JANE & JOHN",
    "“BIG” REALTY",
    "JONES \u2013 HEIRS",
    "PÉREZ; ANA",
    "A|B PARTNERS",
    "ÆTNA ÜBER",
)
STREETS = ("12 MAIN ST APT #2", "3 OAK LN, REAR", "7 ELM ST", "RT 22 # 4", "1/2 HILL RD")
DESCS = ("LOT & DWG", "VACANT LOT", "LOT 40' X 120'\nREAR GARAGE", "1.5 AC; BARN", "COMM'L BLDG")
MUNIS = ("ALTOONA CITY", "LOGAN TWP", "TYRONE BORO", "HOLLIDAYSBURG BORO")
TRICKY = (
    '=HYPERLINK("x")',
    "+1 ESTATE",
    "-SMITH",
    "@SUM(A1)",
    "\tTAB LLC",
    "\rCR LLC",
    '"QUOTED" LLC',
    "ONE\r\nTWO",
)


def spelled(label: str, rng: random.Random) -> str:
    """The label as another office might write it."""
    out = label
    if rng.random() < 0.3:
        out = re.sub(r"\bNo\.", rng.choice(["#", "Number", "No", "NO.", "Nbr"]), out)
    out = rng.choice([out, out.upper(), out.lower(), out.title()])
    if rng.random() < 0.15:
        out = re.sub(r"[ /]+", "_", out)
    if rng.random() < 0.15:
        out = f" {out} "
    return out


def amount_cell(cents: int, rng: random.Random) -> str:
    value = Decimal(cents) / 100
    forms = [f"${value:,.2f}", f"{value:.2f}", f"{value:,.2f}", f"$ {value:,.2f} "]
    if cents % 100 == 0:
        forms += [f"{int(value)}", f"${int(value):,}"]
    elif cents % 10 == 0:
        forms.append(f"{value:.1f}")
    return rng.choice(forms)


def date_cell(day: dt.date, rng: random.Random) -> str:
    return rng.choice(
        [
            day.isoformat(),
            f"{day.month}/{day.day}/{day.year}",
            day.strftime("%B %-d, %Y"),
            day.strftime("%m/%d/%Y"),
            f"{day.isoformat()} 00:00:00",
        ]
    )


def serialise(cells: list[str], delimiter: str, quote_all: bool, end: str) -> str:
    def cell(v: str) -> str:
        special = delimiter in v or '"' in v or "\r" in v or "\n" in v
        return f'"{v.replace(chr(34), chr(34) * 2)}"' if quote_all or special else v

    return delimiter.join(cell(c) for c in cells) + end


def encodable(text: str, encoding: str) -> bool:
    try:
        text.encode(encoding)
    except UnicodeEncodeError:
        return False
    return True


def text_value(rng: random.Random, pool: tuple[str, ...], encoding: str) -> str:
    choices = [v for v in (*pool, *TRICKY) if encodable(v, encoding)]
    value = rng.choice(choices)
    if rng.random() < 0.1:
        value = f"  {value} "  # padding is trimmed (spaces only)
    return value


def make_variant(n: int, rng: random.Random, folder: Path) -> tuple[Path, dict]:
    encoding = rng.choice(ENCODINGS)
    delimiter = rng.choice(DELIMITERS)
    quote_all = rng.random() < 0.3
    end = rng.choice(["\n", "\r\n"])
    fields = ["parcel_id", "owner", "upset_price"]
    fields += rng.sample(
        ["address", "municipality", "description", "sale_date", "county", "control_number"],
        rng.randint(0, 6),
    )
    columns = [(f, spelled(rng.choice(importing.SYNONYMS[f]), rng)) for f in fields]
    columns += [(None, u) for u in rng.sample(UNKNOWN, rng.randint(0, 2))]
    rng.shuffle(columns)
    sale_day = dt.date(2027, rng.randint(1, 12), rng.randint(1, 28))

    records: list[tuple[str, list[str]]] = []  # (kind, cells)
    if rng.random() < 0.4:
        records.append(("title", [f"Blair County Tax Claim Bureau {n} - Upset Sale List"]))
    records.append(("header", [label for _, label in columns]))
    expected_rows: list[dict] = []
    for k in range(rng.randint(1, 12)):
        parcel = rng.choice([f"V{n}-{k:03d}", f"V{n}.{k:02d}-01..-0{k}", f"V{n} {k} A"])
        row: dict = {"parcel_id": parcel, "kind": "ok", "warn": False}
        cells = []
        for f, _label in columns:
            if f is None:
                cells.append(rng.choice(["", "123", "$4,500.00", "see deed"]))
            elif f == "parcel_id":
                cells.append(parcel)
            elif f == "upset_price":
                roll = rng.random()
                if roll < 0.1:
                    cells.append(rng.choice(["N/A", "n/a", "#N/A", "TBD"]))
                    row["upset_price"], row["warn"] = None, True
                elif roll < 0.15:
                    cells.append("")
                    row["upset_price"] = None
                elif roll < 0.2:
                    cells.append(rng.choice(["abc", "(12.00)", "1.234,56"]))
                    row["kind"] = "bad amount"
                else:
                    cents = rng.randint(0, 5_000_000)
                    cells.append(amount_cell(cents, rng))
                    row["upset_price"] = cents / 100
            elif f == "sale_date":
                cells.append(date_cell(sale_day, rng))
                row["sale_date"] = sale_day
            elif f == "county":
                cells.append(rng.choice(["Blair", "BLAIR COUNTY", "blair"]))
            else:
                pool = {
                    "owner": NAMES,
                    "address": STREETS,
                    "description": DESCS,
                    "municipality": MUNIS,
                    "control_number": ("1", "0042", "A-7"),
                }[f]
                value = text_value(rng, pool, encoding)
                cells.append(value)
                row[f] = value.strip(" ")
        records.append(("row", cells))
        expected_rows.append(row)
        if rng.random() < 0.08:  # an exact repeat: imported once, or rejected again
            records.append(("repeat", list(cells)))
            expected_rows.append({**row, "repeat": True})
        if rng.random() < 0.15:
            records.append(("blank", []))
    junk = rng.random()
    if junk < 0.2:
        cells = ["" for _ in columns]
        cells[[f for f, _ in columns].index("parcel_id")] = (
            f"Total: {len(expected_rows)} properties"
        )
        records.append(("junk", cells))
    elif junk < 0.35:
        cells = ["" for _ in columns]
        cells[[f for f, _ in columns].index("owner")] = "TOTAL"
        records.append(("junk", cells))

    text, line, meta = "", 1, {"rows": [], "junk": [], "repeats": [], "blank": 0}
    row_iter = iter(expected_rows)
    for kind, cells in records:
        chunk = end if kind == "blank" else serialise(cells, delimiter, quote_all, end)
        if kind in ("row", "repeat"):
            row = next(row_iter)
            row["line"] = line
            meta["rows"].append(row)
            if kind == "repeat" and row["kind"] == "ok":
                meta["repeats"].append(line)
        elif kind == "junk":
            meta["junk"].append(line)
        elif kind == "blank":
            meta["blank"] += 1
        text += chunk
        line += len(re.findall(r"\r\n|\r|\n", chunk))
    path = folder / f"variant_{n}.{'txt' if delimiter == chr(9) else 'csv'}"
    path.write_bytes(text.encode(encoding))
    meta["ascii"] = text.isascii()
    meta.update(
        encoding=encoding,
        delimiter=delimiter,
        quote_all=quote_all,
        end=end,
        fields=fields,
        title=records[0][0] == "title",
    )
    return path, meta


def check(ws, path: Path, meta: dict, n: int) -> str:
    """The outcome of one variant: "exact", or what differed."""
    out = ws.import_properties(path, county="Blair")
    fields = [f for f in meta["fields"] if f not in ("county",)]
    good = [r for r in meta["rows"] if r["kind"] == "ok" and not r.get("repeat")]
    rejected_lines = sorted([r["line"] for r in meta["rows"] if r["kind"] != "ok"] + meta["junk"])
    if out["rejected"].line.tolist() != rejected_lines:
        return "rejections differ"
    warned = [r["line"] for r in meta["rows"] if r["warn"] and r["kind"] == "ok"]
    if [int(x) for x in out["warnings"].line.dropna()] != warned:
        return "warnings differ"
    if out["duplicates"].line.tolist() != meta["repeats"]:
        return "duplicates differ"
    cols = ", ".join(f"CAST({f} AS DOUBLE)" if f == "upset_price" else f for f in fields)
    query = f"SELECT {cols} FROM properties WHERE parcel_id LIKE ? ORDER BY parcel_id"
    rows = ws.store.run(lambda con: con.execute(query, [f"V{n}%"]).fetchall(), tx=False)
    want = sorted(tuple(r.get(f) for f in fields) for r in good)
    if sorted(rows) != want:
        return "values differ"
    encoding = {"latin-1": "cp1252"}.get(meta["encoding"], meta["encoding"])
    if meta["ascii"] and encoding == "cp1252":
        encoding = "utf-8"  # an ASCII file is UTF-8 too
    if out["source"]["encoding"] != encoding:
        return "encoding misread"
    return "exact"


def test_generated_lists_import_exactly(ws, tmp_path, capsys):
    rng = random.Random(20270913)
    outcomes: Counter[str] = Counter()
    seen: Counter[str] = Counter()
    failures = []
    for n in range(VARIANTS):
        path, meta = make_variant(n, rng, tmp_path)
        outcome = check(ws, path, meta, n)
        outcomes[outcome] += 1
        seen.update(
            [
                f"encoding {meta['encoding']}",
                f"delimiter {meta['delimiter']!r}",
                "quote all" if meta["quote_all"] else "quote minimal",
                f"end {meta['end']!r}",
                "title line" if meta["title"] else "no title",
            ]
        )
        seen.update(
            ["with junk"] * bool(meta["junk"])
            + ["with repeats"] * bool(meta["repeats"])
            + ["with blank lines"] * bool(meta["blank"])
        )
        seen["rows"] += len(meta["rows"])
        seen["rejected rows expected"] += sum(r["kind"] != "ok" for r in meta["rows"])
        if outcome != "exact":
            failures.append(
                (n, outcome, meta["encoding"], meta["delimiter"], path.read_bytes()[:300])
            )
    with capsys.disabled():
        print(f"\nimport variants: {dict(outcomes)}")
        print(f"covered: {dict(sorted(seen.items()))}")
    assert outcomes["exact"] == VARIANTS, failures[:3]


def test_a_large_list(ws, tmp_path):
    n = 200_000
    path = tmp_path / "big.csv"
    with path.open("w", newline="") as fh:
        fh.write("Tax Parcel No.,Owner(s),Property Location,Minimum Bid\r\n")
        for i in range(n):
            price = "abc" if i == n - 7 else f'"${i:,}.{i % 100:02d}"'
            fh.write(f"{i:06d}-A,OWNER #{i},{i} MAIN ST APT #{i % 9},{price}\r\n")
    out = ws.import_properties(path, county="Blair")
    assert (out["imported"], out["rejected"].line.tolist()) == (n - 1, [n - 7 + 2])
    stored = ws.sql("SELECT count(*) AS n, sum(CAST(upset_price AS DOUBLE)) AS s FROM properties")
    assert stored.n[0] == n - 1


# --- properties of the pieces -------------------------------------------------------------

LABELS = st.deferred(
    lambda: st.sampled_from([(f, x) for f, xs in importing.SYNONYMS.items() for x in xs])
)


@given(LABELS, st.randoms(use_true_random=False))
def test_any_spelling_of_a_synonym_names_its_field(pair, rng):
    name, label = pair
    assert importing.synonym_index()[importing.header_key(spelled(label, rng))] == name


@given(st.integers(0, 99_999_999_999_999), st.randoms(use_true_random=False))
def test_any_written_amount_reads_back_to_the_cent(cents, rng):
    value, problem, warning = importing.parse_amount(amount_cell(cents, rng))
    assert (value, problem, warning) == (float(Decimal(cents) / 100), None, None)


@given(st.text(min_size=1, max_size=12))
def test_parse_amount_never_raises_and_names_the_value(text):
    value, problem, _ = importing.parse_amount(text)
    assert value is None or value >= 0
    if problem:
        assert repr(text) in problem
