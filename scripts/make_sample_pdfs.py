"""Render synthetic sale-list PDFs from ``data/sample/properties.csv``.

SYNTHETIC DATA. Every page says "SYNTHETIC SAMPLE — not a real sale list". The
layouts imitate the three kinds of PA county lists described in
shared/DOMAIN.md, so the parser in ``toolkit.pdf`` can be tested on them:

- Blair, Somerset: ruled table with township/borough header rows and
  letter-spaced text (``B A R N ER``);
- Clearfield: Word-style table without rules whose cells wrap onto more lines;
- Westmoreland: fixed-pitch ``RECORD#`` printer report with per-year amounts
  that add up to TOTAL DUE;
- ``long/synthetic_printer_long.pdf``: 200+ pages of generated records (not from
  properties.csv) for ``benchmarks/bench_pdf.py``.

Each county PDF holds exactly that county's rows of properties.csv. The
Somerset list also holds the rows in :data:`BROKEN_ROWS`, deliberately
unreadable, which are not properties (they are not in properties.csv) and must
come out of the parser as parse errors. Output is deterministic (fixed seeds,
reportlab's ``invariant`` mode).

Run: ``python scripts/make_sample_pdfs.py``
"""

from __future__ import annotations

import csv
import datetime as dt
import random
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from reportlab.lib.pagesizes import letter
from reportlab.lib.utils import simpleSplit
from reportlab.pdfbase.pdfmetrics import stringWidth
from reportlab.pdfgen.canvas import Canvas

ROOT = Path(__file__).resolve().parents[1]
CSV_PATH = ROOT / "data" / "sample" / "properties.csv"
OUT = ROOT / "data" / "sample" / "pdfs"
LABEL = "SYNTHETIC SAMPLE — not a real sale list"
PAGE_W, PAGE_H = letter
MARGIN = 36.0
LETTER_SPACE = 4.0  # pt added after each letter-spaced character

FILES = {
    "Blair": "blair_upset_ruled.pdf",
    "Somerset": "somerset_upset_ruled.pdf",
    "Clearfield": "clearfield_upset_word.pdf",
    "Westmoreland": "westmoreland_upset_printer.pdf",
}
LONG_FILE = "long/synthetic_printer_long.pdf"
LONG_RECORDS = 1470  # 7 records a page -> 210 pages

# Deliberately unreadable rows added to the Somerset list (not in properties.csv).
BROKEN_ROWS: list[dict[str, str]] = [
    {
        "control_number": "00901",
        "owner": "SYNTHETIC BROKEN ROW ONE",
        "parcel_id": "51.01-02..-901.00-001",
        "address": "1 NOWHERE LN",
        "description": "LOT",
        "amount": "1,2O4.#7",  # garbled amount: letter O and '#'
    },
    {
        "control_number": "00902",
        "owner": "SYNTHETIC BROKEN ROW TWO",
        "parcel_id": "##.?? -??..",  # illegible parcel id
        "address": "2 NOWHERE LN",
        "description": "LOT",
        "amount": "812.40",
    },
]
BROKEN_IN = "Somerset"


def load_rows() -> list[dict[str, str]]:
    """Rows of properties.csv (its first line is a comment)."""
    with CSV_PATH.open(newline="") as fh:
        lines = [ln for ln in fh if not ln.startswith("#")]
    return list(csv.DictReader(lines))


def money(value: float | str) -> str:
    return f"{float(value):,.2f}"


def long_date(iso: str) -> str:
    d = dt.date.fromisoformat(iso)
    return f"{d:%A}, {d:%B} {d.day}, {d.year}".upper()


def _label(c: Canvas, y: float) -> None:
    c.setFont("Helvetica-Oblique", 7)
    c.drawString(MARGIN, y, LABEL)


def _spaced(c: Canvas, x: float, y: float, spaced: str, rest: str, font: str, size: float) -> None:
    """Draw ``spaced`` letter-spaced, then ``rest`` normally (``B A R N`` + ``ER JOHN``).

    Each spaced letter is placed on its own, so every gap (also the one before
    ``rest``) is really there, and a text extractor reads ``B A R N ER JOHN``.
    """
    c.setFont(font, size)
    for ch in spaced:
        c.drawString(x, y, ch)
        x += stringWidth(ch, font, size) + LETTER_SPACE
    c.drawString(x, y, rest)


def _spaced_width(spaced: str, rest: str, font: str) -> float:
    return sum(stringWidth(ch, font, SIZE) + LETTER_SPACE for ch in spaced) + stringWidth(
        rest, font, SIZE
    )


# --- ruled table ---------------------------------------------------------------

RULED_COLS = [
    ("CONTROL NO.", 46.0),
    ("OWNER(S)", 112.0),
    ("MAP/PARCEL NO.", 110.0),
    ("PROPERTY LOCATION", 100.0),
    ("DESCRIPTION", 76.0),
    ("UPSET PRICE", 96.0),
]
FONT, SIZE, LEAD, PAD = "Helvetica", 8.0, 9.5, 3.0


def _owner_cell(owner: str) -> Any:
    """Owners named BARNER are printed letter-spaced, as on some real lists."""
    if owner.startswith("BARNER"):
        return ("BARN", "ER" + owner[len("BARNER") :])
    return owner


def _cell_lines(value: Any, width: float, font: str) -> list[Any]:
    inner = width - 2 * PAD
    if isinstance(value, tuple):
        # the letter-spaced first line takes as many following words as fit
        spaced, rest = value
        words = rest.split(" ")
        first = words.pop(0)
        while words and _spaced_width(spaced, f"{first} {words[0]}", font) <= inner:
            first += " " + words.pop(0)
        more = simpleSplit(" ".join(words), font, SIZE, inner) if words else []
        return [(spaced, first), *more]
    return simpleSplit(str(value), font, SIZE, inner) or [""]


def _ruled_row(c: Canvas, y: float, cells: list[Any], font: str = FONT) -> float:
    widths = [w for _, w in RULED_COLS]
    wrapped = [_cell_lines(v, w, font) for v, w in zip(cells, widths, strict=True)]
    height = max(len(w) for w in wrapped) * LEAD + 2 * PAD
    x = MARGIN
    for k, (lines, w) in enumerate(zip(wrapped, widths, strict=True)):
        for i, line in enumerate(lines):
            ty = y - PAD - SIZE - i * LEAD + 1
            if isinstance(line, tuple):
                _spaced(c, x + PAD, ty, line[0], line[1], font, SIZE)
            elif k == len(widths) - 1:
                c.setFont(font, SIZE)
                c.drawRightString(x + w - PAD, ty, line)
            else:
                c.setFont(font, SIZE)
                c.drawString(x + PAD, ty, line)
        x += w
    xs = [MARGIN]
    for w in widths:
        xs.append(xs[-1] + w)
    c.line(MARGIN, y - height, xs[-1], y - height)
    for xv in xs:
        c.line(xv, y, xv, y - height)
    return y - height


def _muni_row(c: Canvas, y: float, name: str) -> float:
    """A merged full-width header row; the first word is letter-spaced."""
    width = sum(w for _, w in RULED_COLS)
    height = LEAD + 2 * PAD
    first, _, rest = name.partition(" ")
    # the space before the rest is a letter gap plus a word space: still one space when read
    _spaced(c, MARGIN + PAD, y - PAD - SIZE + 1, first, rest, "Helvetica-Bold", SIZE)
    c.line(MARGIN, y - height, MARGIN + width, y - height)
    c.line(MARGIN, y, MARGIN, y - height)
    c.line(MARGIN + width, y, MARGIN + width, y - height)
    return y - height


def render_ruled(county: str, rows: list[dict[str, str]], path: Path) -> None:
    c = Canvas(str(path), pagesize=letter, invariant=1, pageCompression=1)
    sale = long_date(rows[0]["sale_date"])
    items = sorted(rows, key=lambda r: (r["municipality"], r["control_number"]))
    page = 0

    def new_page() -> float:
        nonlocal page
        if page:
            c.showPage()
        page += 1
        _label(c, PAGE_H - 24)
        c.setFont("Helvetica-Bold", 11)
        c.drawString(MARGIN, PAGE_H - 42, f"{county.upper()} COUNTY TAX CLAIM BUREAU")
        c.setFont("Helvetica", 9)
        c.drawString(MARGIN, PAGE_H - 55, f"UPSET TAX SALE — {sale} AT 10:00 AM")
        c.drawRightString(PAGE_W - MARGIN, 24, f"Page {page}")
        top = PAGE_H - 66
        width = sum(w for _, w in RULED_COLS)
        c.line(MARGIN, top, MARGIN + width, top)
        return _ruled_row(c, top, [h for h, _ in RULED_COLS], "Helvetica-Bold")

    y = new_page()
    muni = None
    for r in items:
        need = 3 * LEAD + 4 * PAD + (LEAD + 2 * PAD if r["municipality"] != muni else 0)
        if y - need < 48:
            y = new_page()
        if r["municipality"] != muni:
            muni = r["municipality"]
            y = _muni_row(c, y, muni)
        amount = r.get("amount") or money(r["upset_price"])
        cells = [
            r["control_number"],
            _owner_cell(r["owner"]),
            r["parcel_id"],
            r["address"],
            r["description"],
            amount,
        ]
        y = _ruled_row(c, y, cells)
    c.showPage()
    c.save()


# --- Word table without rules ---------------------------------------------------

WORD_COLS = [
    ("MUNICIPALITY", 62.0),
    ("SALE NO.", 52.0),
    ("PARCEL NUMBER", 84.0),
    ("OWNER", 108.0),
    ("PROPERTY LOCATION", 78.0),
    ("APPROX. SALE PRICE", 70.0),
]
CELL_PAD = 6.0  # Word's default cell margin is about 0.08 in


def render_word(county: str, rows: list[dict[str, str]], path: Path) -> None:
    c = Canvas(str(path), pagesize=letter, invariant=1, pageCompression=1)
    sale_iso = rows[0]["sale_date"]
    yy = sale_iso[2:4]
    d = dt.date.fromisoformat(sale_iso)
    page = 0
    widths = [w for _, w in WORD_COLS]

    def draw_row(y: float, cells: list[str], font: str) -> float:
        wrapped = [
            simpleSplit(v, font, SIZE, w - 2 * CELL_PAD) or [""]
            for v, w in zip(cells, widths, strict=True)
        ]
        x = MARGIN
        c.setFont(font, SIZE)
        for k, (lines, w) in enumerate(zip(wrapped, widths, strict=True)):
            for i, line in enumerate(lines):
                ty = y - SIZE - i * LEAD
                if k == len(widths) - 1 and font == FONT:
                    c.drawRightString(x + w - CELL_PAD, ty, line)
                else:
                    c.drawString(x + CELL_PAD, ty, line)
            x += w
        return y - max(len(w) for w in wrapped) * LEAD - 3

    def new_page() -> float:
        nonlocal page
        if page:
            c.showPage()
        page += 1
        _label(c, PAGE_H - 24)
        c.setFont("Helvetica-Bold", 11)
        c.drawString(MARGIN, PAGE_H - 42, f"{county.upper()} COUNTY TAX CLAIM BUREAU")
        c.setFont("Helvetica", 9)
        c.drawString(
            MARGIN, PAGE_H - 55, f"Upset sale to be held {d:%B} {d.day}, {d.year} at 10:00 AM"
        )
        c.drawCentredString(PAGE_W / 2, 24, f"- {page} -")
        return draw_row(PAGE_H - 72, [h for h, _ in WORD_COLS], "Helvetica-Bold") - 4

    y = new_page()
    for r in rows:
        if y - 4 * LEAD < 48:
            y = new_page()
        cells = [
            r["municipality"],
            f"U{yy}-{int(r['control_number']):04d}",
            r["parcel_id"],
            r["owner"],
            r["address"],
            "$" + money(r["upset_price"]),
        ]
        y = draw_row(y, cells, FONT)
    c.showPage()
    c.save()


# --- fixed-pitch printer report -------------------------------------------------

P_FONT, P_SIZE, P_LEAD, RIGHT_COL = "Courier", 8.0, 9.5, 42
BLOCKS_PER_PAGE = 7


def _split_cents(total: float, rng: random.Random) -> list[tuple[int, float]]:
    """Split a total into 1-3 per-year amounts that add up to it to the cent."""
    cents = round(total * 100)
    years = rng.choice([1, 2, 2, 3, 3, 3])
    if cents < years:
        years = 1
    cuts = sorted(rng.sample(range(1, cents), years - 1)) if years > 1 else []
    parts = [b - a for a, b in zip([0, *cuts], [*cuts, cents], strict=True)]
    first = 2027 - years
    return [(first + i, p / 100) for i, p in enumerate(parts)]


def printer_block(r: dict[str, str], rng: random.Random) -> list[str]:
    """Lines of one RECORD# block (left: owner + mailing address + years; right: facts)."""
    sale = dt.date.fromisoformat(r["sale_date"])
    muni = r["municipality"]
    town = muni.rsplit(" ", 1)[0]
    owner, _, also = r["owner"].partition(" & ")
    left = [owner] + ([f"& {also}"] if also else [])
    if rng.random() < 0.25:
        left += [f"PO BOX {rng.randint(10, 999)}", f"{town} PA 15{rng.randint(600, 699)}"]
    else:
        left += [r["address"], f"{town} PA 15{rng.randint(600, 699)}"]
    total = float(r["upset_price"])
    years = _split_cents(total, rng)
    left += [f"TAX YEAR {y}   {money(a):>12}" for y, a in years]
    lot = rng.choice(
        [
            f"{rng.choice([40, 50, 60, 80])} X {rng.choice([100, 120, 150])}",
            f"{rng.choice([0.12, 0.25, 0.5, 1.1])} AC",
        ]
    )
    right = [
        f"LOCATION: {r['address']}",
        f"MUNICIPALITY: {muni}",
        f"LOT SIZE: {lot}",
        f"ASSESSMENT: {rng.randint(2, 90) * 1000 + rng.randint(0, 9) * 100:,}",
    ]
    n = max(len(left), len(right) + 1)
    left += [""] * (n - len(left))
    right += [""] * (n - 1 - len(right)) + [f"TOTAL DUE: {money(total)}"]
    head = (
        f"RECORD# {int(r['control_number']):<6} FOLIO-NBR {r['parcel_id']:<20}"
        f" SALE DATE: {sale:%m/%d/%y}"
    )
    return [head] + [
        f"  {a:<{RIGHT_COL - 2}}{b}".rstrip() for a, b in zip(left, right, strict=True)
    ]


def render_printer(county: str, rows: Iterable[dict[str, str]], path: Path, seed: int) -> int:
    """Write the report; returns the page count."""
    rng = random.Random(seed)
    c = Canvas(str(path), pagesize=letter, invariant=1, pageCompression=1)
    blocks = [printer_block(r, rng) for r in rows]
    sale = dt.date.fromisoformat(next(iter(rows))["sale_date"]) if blocks else None
    pages = 0
    for start in range(0, len(blocks), BLOCKS_PER_PAGE):
        pages += 1
        header = [
            f"{county.upper()} COUNTY TAX CLAIM BUREAU".ljust(60) + f"PAGE {pages:>5}",
            f"UPSET SALE LISTING     SALE DATE {sale:%m/%d/%Y}" if sale else "",
            LABEL,
            "-" * 96,
        ]
        y = PAGE_H - MARGIN
        t = c.beginText(MARGIN, y)
        t.setFont(P_FONT, P_SIZE)
        t.setLeading(P_LEAD)
        for line in header:
            t.textLine(line)
        t.textLine("")
        for block in blocks[start : start + BLOCKS_PER_PAGE]:
            for line in block:
                t.textLine(line)
            t.textLine("")
        c.drawText(t)
        c.showPage()
    c.save()
    return pages


def long_rows(n: int) -> list[dict[str, str]]:
    """Generated records for the long benchmark list (not in properties.csv)."""
    rng = random.Random(4242)
    munis = ["LARCH TWP", "MAPLE BORO", "NUTMEG CITY", "OLIVE TWP"]
    first = ["ANN", "BEN", "CARL", "DORA", "EVE", "FRANK"]
    last = ["ABEL", "BAKER", "CRANE", "DOYLE", "EATON", "FOX"]
    return [
        {
            "control_number": f"{i:05d}",
            "parcel_id": f"{rng.randint(1, 50):02d}-00-{i:05d}-00",
            "owner": f"{rng.choice(last)} {rng.choice(first)}",
            "address": f"{rng.randint(1, 2999)} {rng.choice(['ASH ST', 'BAY RD', 'ELM AVE'])}",
            "municipality": rng.choice(munis),
            "upset_price": f"{round(rng.lognormvariate(7.6, 0.8), 2):.2f}",
            "sale_date": "2027-09-08",
        }
        for i in range(1, n + 1)
    ]


def main(out: Path = OUT) -> list[Path]:
    """Write every sample PDF under ``out``; returns their paths."""
    rows = load_rows()
    (out / "long").mkdir(parents=True, exist_ok=True)
    written = []
    for county, name in FILES.items():
        mine = [r for r in rows if r["county"] == county]
        path = out / name
        if county in ("Blair", "Somerset"):
            if county == BROKEN_IN:
                last_muni = sorted(r["municipality"] for r in mine)[-1]
                mine = mine + [
                    {**b, "municipality": last_muni, "sale_date": mine[0]["sale_date"]}
                    for b in BROKEN_ROWS
                ]
            render_ruled(county, mine, path)
        elif county == "Clearfield":
            render_word(county, mine, path)
        else:
            render_printer(county, mine, path, seed=7)
        written.append(path)
        print(f"wrote {path} ({path.stat().st_size // 1024} KiB)")
    path = out / LONG_FILE
    pages = render_printer("Synthetic", long_rows(LONG_RECORDS), path, seed=8)
    written.append(path)
    print(f"wrote {path} ({pages} pages, {path.stat().st_size // 1024} KiB)")
    return written


if __name__ == "__main__":
    main()
