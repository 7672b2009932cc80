"""Generated sale-list layout variants: real PDFs made with reportlab from the same records.

Used by tests/unit/test_pdf_variants.py and tests/integration/test_pdf_parsing_job.py.
"""

from __future__ import annotations

import random
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from reportlab.lib.pagesizes import letter
from reportlab.pdfgen.canvas import Canvas

from toolkit.pdf import parse_pdf

if TYPE_CHECKING:
    from toolkit.pdf.layouts import Vocabulary

PAGE_W, PAGE_H = letter
N_RECORDS = 22


@dataclass
class Rec:
    number: str
    parcel: str
    owner: str
    location: str
    municipality: str
    amount: float


def records(n: int = N_RECORDS, seed: int = 11) -> list[Rec]:
    rng = random.Random(seed)
    last = ["KOVAC", "MILLER", "SNYDER", "HOOVER", "YODER", "BAKER", "RITCHEY", "SHAFFER"]
    first = ["MARY", "JOHN", "ANN", "PAUL", "RUTH", "CARL"]
    streets = ["ELM ST", "MAPLE AVE", "RIDGE RD", "CHURCH ST", "RAILROAD AVE"]
    munis = ["ALDER TWP", "BIRCH BORO", "CEDAR TWP"]
    out = []
    for i in range(n):
        owner = f"{rng.choice(last)} {rng.choice(first)}"
        if i % 3 == 0:
            owner += f" & {rng.choice(first)}"
        out.append(
            Rec(
                number=f"{101 + i}",
                parcel=f"{rng.randint(1, 40):02d}-{rng.randint(0, 9):02d}-{rng.randint(1, 999):03d}.{i:02d}",
                owner=owner,
                location=f"{rng.randint(1, 2999)} {rng.choice(streets)}",
                municipality=munis[i * len(munis) // n],
                amount=round(rng.randint(40000, 900000) / 100, 2),
            )
        )
    return out


def money(v: float) -> str:
    return f"{v:,.2f}"


def _heading(c: Canvas, font: str) -> float:
    c.setFont(font, 11)
    c.drawString(40, PAGE_H - 40, "BLAIR COUNTY TAX CLAIM BUREAU")
    c.drawString(40, PAGE_H - 54, "UPSET TAX SALE — SEPTEMBER 14, 2027 AT 10:00 AM")
    c.setFont(font, 7)
    c.drawString(40, PAGE_H - 66, "SYNTHETIC VARIANT — not a real sale list")
    return PAGE_H - 92


# --- printer reports ---------------------------------------------------------------


@dataclass
class Printer:
    label: str = "TOTAL DUE"
    colon: bool = True
    record: str = "RECORD#"
    parcel_label: str = "FOLIO-NBR"
    font: str = "Courier"
    per_page: int = 8
    amount_left: bool = False  # the amount under the address, at the left margin
    amount_on_record_line: bool = False  # "RECORD# 1  FOLIO-NBR …  TOTAL DUE: 1,234.56"
    glued: bool = False  # "TOTAL DUE:$1,234.56", no space after the colon
    fact_colons: bool = True

    def render(self, path: Path, recs: list[Rec]) -> None:
        c = Canvas(str(path), pagesize=letter, invariant=1)
        size, lead = 8, 10
        for start in range(0, len(recs), self.per_page):
            y = _heading(c, self.font)
            c.setFont(self.font, size)
            for r in recs[start : start + self.per_page]:
                sep = ":" if self.fact_colons else ""
                gap = "$" if self.glued else " "
                amount = f"{self.label}{':' if self.colon else ''}{gap}{money(r.amount)}"
                owners = r.owner.split(" & ")
                left = [owners[0], *(f"& {o}" for o in owners[1:]), r.location, "ALTOONA PA 16601"]
                right = [f"LOCATION{sep} {r.location}", f"MUNICIPALITY{sep} {r.municipality}"]
                tail = "SALE DATE: 09/14/27"
                if self.amount_on_record_line:
                    tail = amount
                elif self.amount_left:
                    left.append(amount)
                else:
                    right.append(amount)
                c.drawString(
                    40, y, f"{self.record} {r.number}   {self.parcel_label} {r.parcel}   {tail}"
                )
                y -= lead
                for k in range(max(len(left), len(right))):
                    if k < len(left):
                        c.drawString(52, y, left[k])
                    if k < len(right):
                        c.drawString(320, y, right[k])
                    y -= lead
                y -= lead
            c.showPage()
        c.save()


# --- tables ------------------------------------------------------------------------

WIDTHS = {
    "number": 46,
    "parcel": 96,
    "owner": 138,
    "location": 112,
    "municipality": 84,
    "amount": 70,
}


@dataclass
class Table:
    columns: list[tuple[str, str]]  # (role, header text)
    font: str = "Helvetica"
    ruled: bool = False
    per_page: int = 30
    header_every_page: bool = True
    header_every: int = 0  # repeat the header inside the page every n rows
    wrap_owner: bool = False
    extra: dict[str, str] = field(default_factory=dict)

    def cell(self, r: Rec, role: str) -> list[str]:
        value = {
            "number": r.number,
            "parcel": r.parcel,
            "owner": r.owner,
            "location": r.location,
            "municipality": r.municipality,
            "amount": money(r.amount),
        }[role]
        if role == "owner" and self.wrap_owner and " & " in value:
            a, b = value.split(" & ", 1)
            return [f"{a} &", b]
        return [value]

    def render(self, path: Path, recs: list[Rec]) -> None:
        c = Canvas(str(path), pagesize=letter, invariant=1)
        xs = [40.0]
        for role, _ in self.columns:
            xs.append(xs[-1] + WIDTHS[role])
        size, lead = 8, 10
        for page, start in enumerate(range(0, len(recs), self.per_page)):
            y = _heading(c, self.font)
            top = y + lead
            c.setFont(self.font, size)

            def header(y: float) -> float:
                c.setFont(self.font + ("-Bold" if self.font != "Times-Roman" else ""), size)
                if self.font == "Times-Roman":
                    c.setFont("Times-Bold", size)
                for (_, text), x in zip(self.columns, xs, strict=False):
                    c.drawString(x + 3, y, text)
                c.setFont(self.font, size)
                if self.ruled:
                    c.line(xs[0], y - 3, xs[-1], y - 3)
                return y - lead - 4

            if page == 0 or self.header_every_page:
                y = header(y)
            elif self.ruled:
                pass
            for k, r in enumerate(recs[start : start + self.per_page]):
                if self.header_every and k and k % self.header_every == 0:
                    y = header(y - 4)
                cells = [self.cell(r, role) for role, _ in self.columns]
                height = max(len(cs) for cs in cells)
                for (role, _), x, cs in zip(self.columns, xs, cells, strict=False):
                    for j, text in enumerate(cs):
                        if role == "amount":
                            c.drawRightString(x + WIDTHS[role] - 3, y - j * lead, text)
                        else:
                            c.drawString(x + 3, y - j * lead, text)
                y -= height * lead + 4
                if self.ruled:
                    c.line(xs[0], y + lead - 1, xs[-1], y + lead - 1)
            if self.ruled:
                bottom = y + lead - 1
                for x in xs:
                    c.line(x, top, x, bottom)
                c.line(xs[0], top, xs[-1], top)
            c.showPage()
        c.save()


VARIANTS: dict[str, Printer | Table] = {
    "printer TOTAL DUE: (colon)": Printer(),
    "printer TOTAL DUE (no colon)": Printer(colon=False),
    "printer AMOUNT DUE:": Printer(label="AMOUNT DUE"),
    "printer UPSET PRICE, no colons anywhere": Printer(
        label="UPSET PRICE", colon=False, fact_colons=False
    ),
    "printer MINIMUM BID: at the left, RECORD NO.": Printer(
        label="MINIMUM BID", amount_left=True, record="RECORD NO.", parcel_label="PARCEL:"
    ),
    "printer RECORD #, Times, 3 pages": Printer(
        record="RECORD #", font="Times-Roman", per_page=9, parcel_label="PARCEL NO."
    ),
    "printer TOTAL DUE: on the record line": Printer(amount_on_record_line=True),
    "printer TOTAL DUE:$ glued to the amount": Printer(glued=True),
    "word table, Helvetica": Table(
        [
            ("parcel", "PARCEL NUMBER"),
            ("owner", "OWNER"),
            ("location", "PROPERTY LOCATION"),
            ("municipality", "MUNICIPALITY"),
            ("amount", "UPSET PRICE"),
        ]
    ),
    "word table, amount first, Times": Table(
        [
            ("amount", "TOTAL DUE"),
            ("owner", "REPUTED OWNER"),
            ("parcel", "PARCEL ID"),
            ("location", "LOCATION"),
        ],
        font="Times-Roman",
    ),
    "word table, Courier, 2 pages with the header again": Table(
        [
            ("number", "SALE NO."),
            ("parcel", "TAX MAP NO."),
            ("owner", "OWNER(S)"),
            ("location", "SITUS"),
            ("amount", "MINIMUM BID"),
        ],
        font="Courier",
        per_page=12,
    ),
    "word table, colons in headers, page 2 without header": Table(
        [
            ("parcel", "PARCEL:"),
            ("owner", "OWNER:"),
            ("municipality", "DISTRICT:"),
            ("amount", "AMOUNT DUE:"),
        ],
        per_page=12,
        header_every_page=False,
    ),
    "word table, wrapped owners": Table(
        [
            ("parcel", "PARCEL"),
            ("owner", "OWNER NAME"),
            ("location", "ADDRESS"),
            ("amount", "AMOUNT DUE"),
        ],
        wrap_owner=True,
    ),
    "word table, header repeated every 8 rows": Table(
        [
            ("owner", "OWNER"),
            ("parcel", "PARCEL"),
            ("location", "LOCATION"),
            ("amount", "UPSET PRICE"),
        ],
        header_every=8,
    ),
    "ruled table": Table(
        [
            ("number", "SALE NO."),
            ("parcel", "PARCEL ID"),
            ("owner", "OWNER"),
            ("location", "LOCATION"),
            ("amount", "UPSET PRICE"),
        ],
        ruled=True,
    ),
    "ruled table, shuffled, 2 pages, MINIMUM BID": Table(
        [
            ("amount", "MINIMUM BID"),
            ("location", "LOCATION"),
            ("parcel", "TAX MAP NO."),
            ("owner", "OWNER"),
        ],
        ruled=True,
        per_page=12,
    ),
    "ruled table, wrapped cells, Courier": Table(
        [
            ("parcel", "PARCEL NUMBER"),
            ("owner", "OWNER"),
            ("municipality", "MUNICIPALITY"),
            ("amount", "AMOUNT DUE"),
        ],
        ruled=True,
        wrap_owner=True,
        font="Courier",
    ),
}


def parses_fully(path: Path, recs: list[Rec], vocabulary: Vocabulary | None = None) -> str | None:
    """None when every record came back right; else what went wrong."""
    options: dict[str, Any] = {"vocabulary": vocabulary} if vocabulary is not None else {}
    try:
        doc = parse_pdf(path, county="Blair", ocr_pages=False, **options)
    except Exception as exc:  # an older parser (PYTHONPATH=<checkout>) may give up entirely
        return f"{type(exc).__name__}: {str(exc).split(' — ')[0][-90:]}"
    got = {r.parcel_id: r.amount for r in doc.rows}
    want = {r.parcel: r.amount for r in recs}
    if doc.errors:
        return f"{len(doc.errors)} error(s), e.g. {doc.errors[0].reason}"
    if got != want:
        missing = sorted(set(want) - set(got))[:3]
        wrong = sorted(p for p in set(want) & set(got) if want[p] != got[p])[:3]
        return f"{len(got)}/{len(want)} rows; missing {missing}, wrong amounts {wrong}"
    return None


def main() -> int:
    import tempfile

    recs = records()
    ok = 0
    with tempfile.TemporaryDirectory() as tmp:
        for name, variant in VARIANTS.items():
            path = Path(tmp) / "v.pdf"
            variant.render(path, recs)
            problem = parses_fully(path, recs)
            ok += problem is None
            print(
                f"{'ok  ' if problem is None else 'FAIL'} {name}{'' if problem is None else ': ' + problem}"
            )
    print(f"{ok}/{len(VARIANTS)} layout variants parse fully ({N_RECORDS} records each)")
    return 0 if ok == len(VARIANTS) else 1


if __name__ == "__main__":
    sys.exit(main())
