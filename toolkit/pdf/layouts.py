"""Layout detection and the three row readers: ruled table, Word table, printer report.

The readers work on plain data (pdfplumber word dicts with ``text``, ``x0``,
``x1``, ``top``, ``bottom``, and the cell lists of ``Table.extract()``), so OCR
output, which is turned into the same word dicts, goes through the same code.
State that runs across pages (the current municipality, the column layout of a
table whose header is not repeated) lives in :class:`ParseState`.
"""

from __future__ import annotations

import datetime as dt
import functools
import re
from dataclasses import dataclass, field
from statistics import median
from typing import Any

from toolkit.pdf import text as tx
from toolkit.pdf.model import ParsedRow, RowError

Word = dict[str, Any]

_RECORD_WORDS: tuple[str, ...] = ("RECORD",)
_FOLIO_RE = re.compile(
    r"(?:FOLIO[- ]?(?:NBR|NO\.?|NUMBER)?|PARCEL(?:\s*(?:ID|NO\.?|#|NBR|NUMBER))?"
    r"|TAX\s*MAP(?:\s*NO\.?)?|\bUPI|\bPIN)\s*[:#]?\s*([0-9A-Z][^\s]*)",
    re.IGNORECASE,
)
_SALE_DATE_RE = re.compile(r"SALE\s+DATE\s*:?\s*(\S+)", re.IGNORECASE)
# labels of a printer report's facts; any of them, with or without a colon
_LABELS: tuple[tuple[str, str], ...] = (
    ("total", "TOTAL DUE"),
    ("total", "TOTAL AMOUNT DUE"),
    ("total", "AMOUNT DUE"),
    ("total", "UPSET PRICE"),
    ("total", "UPSET AMOUNT"),
    ("total", "UPSET BID"),
    ("total", "MINIMUM BID"),
    ("total", "MIN BID"),
    ("total", "MIN. BID"),
    ("total", "BALANCE DUE"),
    ("total", "TOTAL"),
    ("location", "PROPERTY LOCATION"),
    ("location", "LOCATION"),
    ("location", "PROPERTY ADDRESS"),
    ("location", "SITUS"),
    ("municipality", "MUNICIPALITY"),
    ("municipality", "DISTRICT"),
    ("municipality", "MUNI"),
    ("lot_size", "LOT SIZE"),
    ("assessment", "ASSESSED VALUE"),
    ("assessment", "ASSESSMENT"),
    ("owner", "REPUTED OWNER"),
    ("owner", "OWNER"),
    ("description", "DESCRIPTION"),
)
_YEAR_LINE_RE = re.compile(
    r"^(?:TAX\s+YEAR\s+)?((?:19|20)\d\d)\b.*?\s(\$?[\d,]+\.\d\d)$", re.IGNORECASE
)
_ADDRESS_START_RE = re.compile(
    r"^(\d|P\.?\s?O\.?\s+BOX|RR\b|R\.?D\.?\b|BOX\b|C/O\b)", re.IGNORECASE
)
_GUTTER = 6.0  # pt of empty space that separates two columns of a table without rules


@dataclass
class Line:
    """Words that share a baseline, left to right."""

    words: list[Word]

    @property
    def top(self) -> float:
        return min(w["top"] for w in self.words)

    @property
    def bottom(self) -> float:
        return max(w["bottom"] for w in self.words)

    @property
    def text(self) -> str:
        return " ".join(w["text"] for w in self.words)


@dataclass(frozen=True)
class Vocabulary:
    """A user's own words for a county's layout (the ``layouts:`` section of the config file).

    ``columns``: (role, header words) pairs tried before the built-in header words;
    ``labels``: (role, label) pairs for printer reports (role ``amount`` is the
    amount due); ``record_words``: words that start a printer report's record
    besides ``RECORD`` (e.g. ``ITEM``).
    """

    columns: tuple[tuple[str, str], ...] = ()
    labels: tuple[tuple[str, str], ...] = ()
    record_words: tuple[str, ...] = ()

    @functools.cached_property
    def record_re(self) -> re.Pattern[str]:
        words = "|".join(
            r"\s*".join(re.escape(p) for p in w.upper().split())
            for w in (*self.record_words, *_RECORD_WORDS)
        )
        return re.compile(
            rf"^(?:{words})\s*(?:#|NO\.?|NBR|NUMBER)?\s*[:#]?\s*(\d\S*)", re.IGNORECASE
        )

    @functools.cached_property
    def _label_roles(self) -> dict[str, str]:
        own = tuple(("total" if r == "amount" else r, w) for r, w in self.labels)
        out: dict[str, str] = {}
        for role, words in (*own, *_LABELS):  # the user's words first
            out.setdefault(" ".join(words.upper().replace(".", " ").split()), role)
        return out

    @functools.cached_property
    def label_re(self) -> re.Pattern[str]:
        keys = sorted(self._label_roles, key=len, reverse=True)  # longest label wins
        alts = [r"\.?\s*".join(re.escape(p) for p in k.split()) for k in keys]
        return re.compile(
            r"(?<![A-Z0-9])(" + "|".join(alts) + r")\.?(?![A-Z0-9])\s*(:)?", re.IGNORECASE
        )

    def label_role(self, text: str) -> str:
        """The role of a label the pattern matched."""
        return self._label_roles[" ".join(text.upper().replace(".", " ").split())]

    @classmethod
    def from_config(cls, layouts: Any) -> Vocabulary:
        """Build from the ``layouts:`` section: ``{name: {columns: {role: [words]}, labels:
        {role: [words]}, record_start: [words]}}``; raises ValueError naming a wrong entry.

        Examples
        --------
        >>> v = Vocabulary.from_config({"fayette": {"columns": {"amount": ["BALANCE OWED"]}}})
        >>> v.columns
        (('amount', 'BALANCE OWED'),)
        """
        roles = ("parcel", "amount", "owner", "location", "municipality", "description", "number")
        columns: list[tuple[str, str]] = []
        labels: list[tuple[str, str]] = []
        records: list[str] = []
        if not layouts:
            return cls()
        if not isinstance(layouts, dict):
            raise ValueError("layouts: must be a mapping of layout names to their words")
        for name, spec in layouts.items():
            if not isinstance(spec, dict):
                raise ValueError(
                    f"layouts.{name}: must be a mapping (columns, labels, record_start)"
                )
            unknown = sorted(set(spec) - {"columns", "labels", "record_start", "description"})
            if unknown:
                raise ValueError(
                    f"layouts.{name}: unknown key(s) {', '.join(map(str, unknown))}; "
                    "valid: columns, labels, record_start, description"
                )
            for key, out in (("columns", columns), ("labels", labels)):
                section = spec.get(key) or {}
                if not isinstance(section, dict):
                    raise ValueError(f"layouts.{name}.{key}: must map a role to header words")
                for role, words in section.items():
                    if role not in roles:
                        raise ValueError(
                            f"layouts.{name}.{key}.{role}: unknown role; valid: {', '.join(roles)}"
                        )
                    for w in [words] if isinstance(words, str) else list(words or []):
                        if not isinstance(w, str) or not w.strip():
                            raise ValueError(f"layouts.{name}.{key}.{role}: {w!r} is not words")
                        out.append((str(role), " ".join(w.upper().split())))
            start = spec.get("record_start") or []
            for w in [start] if isinstance(start, str) else list(start):
                if not isinstance(w, str) or not w.strip():
                    raise ValueError(f"layouts.{name}.record_start: {w!r} is not words")
                records.append(" ".join(w.upper().split()))
        return cls(tuple(columns), tuple(labels), tuple(records))


@dataclass
class ParseState:
    """What carries from page to page while one document is read."""

    county: str | None = None
    municipality: str | None = None
    ruled_roles: list[str | None] | None = None
    word_columns: list[tuple[str | None, float, float]] | None = None
    rows: list[ParsedRow] = field(default_factory=list)
    errors: list[RowError] = field(default_factory=list)
    confidence_factor: float = 1.0  # < 1 on OCRed pages
    layout: str = ""
    vocab: Vocabulary = field(default_factory=lambda: Vocabulary())


def group_lines(words: list[Word], tolerance: float = 2.5) -> list[Line]:
    """Group words into lines by their top coordinate.

    Examples
    --------
    >>> w = lambda t, x, y: {"text": t, "x0": x, "x1": x + 5, "top": y, "bottom": y + 8}
    >>> [ln.text for ln in group_lines([w("B", 20, 10.5), w("A", 0, 10), w("C", 0, 30)])]
    ['A B', 'C']
    """
    lines: list[Line] = []
    for word in sorted(words, key=lambda w: (round(w["top"], 1), w["x0"])):
        if lines and abs(word["top"] - lines[-1].words[0]["top"]) <= tolerance:
            lines[-1].words.append(word)
        else:
            lines.append(Line([word]))
    for line in lines:
        line.words.sort(key=lambda w: w["x0"])
    lines.sort(key=lambda ln: ln.top)
    return lines


def is_printer_report(lines: list[Line], vocab: Vocabulary | None = None) -> bool:
    """A page of ``RECORD#`` blocks (or blocks starting with the user's record words)."""
    pattern = (vocab or Vocabulary()).record_re
    return any(pattern.match(ln.text) for ln in lines)


# --- building one row -------------------------------------------------------


def make_row(
    state: ParseState,
    page: int,
    raw: str,
    fields: dict[str, str | None],
    *,
    number: str | None = None,
    sale_date: dt.date | None = None,
    extra: dict[str, Any] | None = None,
    issues: list[str] | None = None,
    penalty: float = 0.0,
) -> ParsedRow | None:
    """Validate the cell texts of one row; append a ParsedRow or a RowError to ``state``."""
    issues = list(issues or [])
    spaced = False
    values: dict[str, str | None] = {}
    for key, value in fields.items():
        if value is None:
            values[key] = None
            continue
        joined, changed = tx.join_letter_spacing(tx.clean(value))
        spaced = spaced or changed
        values[key] = joined or None
    parcel = tx.normalise_parcel(values.get("parcel") or "")
    problem = tx.parcel_problem(parcel)
    amount_text = values.get("amount")
    amount = tx.parse_amount(amount_text)
    if problem is None and amount is None:
        problem = f"amount {amount_text!r} is not a number" if amount_text else "no amount"
    if problem is not None:
        state.errors.append(RowError(page=page, raw_text=raw, reason=problem))
        return None
    assert amount is not None
    municipality = values.get("municipality") or state.municipality
    confidence = 1.0 - penalty
    if spaced:
        confidence -= 0.05
        issues.append("letter-spaced text rejoined")
    if not values.get("owner"):
        confidence -= 0.15
        issues.append("no owner")
    if not municipality:
        confidence -= 0.1
        issues.append("no municipality")
    row = ParsedRow(
        parcel_id=parcel,
        amount=amount,
        page=page,
        raw_text=raw,
        owner=values.get("owner"),
        location=values.get("location"),
        description=values.get("description"),
        municipality=tx.clean_municipality(municipality) if municipality else None,
        number=tx.clean(number or values.get("number") or "") or None,
        sale_date=sale_date,
        county=state.county,
        layout=state.layout,
        confidence=round(max(0.0, min(1.0, confidence * state.confidence_factor)), 3),
        issues=issues,
        extra=extra or {},
    )
    state.rows.append(row)
    return row


# --- ruled tables -----------------------------------------------------------


def _header_roles(
    cells: list[str | None], extra: tuple[tuple[str, str], ...] = ()
) -> list[str | None] | None:
    roles = [tx.column_role(tx.join_letter_spacing(tx.clean(c))[0], extra) for c in cells]
    if "parcel" in roles and sum(r is not None for r in roles) >= 3:
        return roles
    return None


def parse_ruled_tables(state: ParseState, page: int, tables: list[list[list[str | None]]]) -> int:
    """Read the rows of the ruled tables on one page; returns how many tables were used."""
    used = 0
    for table in tables:
        if not table or max(len(r) for r in table) < 3:
            continue
        roles = None
        start = 0
        for i, cells in enumerate(table[:3]):
            roles = _header_roles(cells, state.vocab.columns)
            if roles:
                start = i + 1
                break
        if roles is None:
            width = len(table[0])
            if state.ruled_roles is None or len(state.ruled_roles) != width:
                continue  # a table that is not the sale list (no header seen yet)
            roles = state.ruled_roles
        state.ruled_roles = roles
        used += 1
        for cells in table[start:]:
            _ruled_row(state, page, roles, cells)
    return used


def _ruled_row(
    state: ParseState, page: int, roles: list[str | None], cells: list[str | None]
) -> None:
    texts = [tx.clean(c) for c in cells]
    filled = [t for t in texts if t]
    if not filled:
        return
    raw = " | ".join(filled)
    if _header_roles(list(cells), state.vocab.columns):
        return  # a header row repeated inside the table
    if len(filled) == 1 and tx.parse_amount(filled[0]) is None:
        # a merged cell across the table: township / borough header row
        name, _ = tx.join_letter_spacing(filled[0])
        state.municipality = tx.clean_municipality(name)
        return
    fields: dict[str, str | None] = {}
    for role, cell in zip(roles, cells, strict=False):
        if role and role not in fields:
            fields[role] = tx.clean(cell) or None
    make_row(state, page, raw, fields)


# --- Word tables without rules -------------------------------------------------


def _header_cells(line: Line) -> list[tuple[str, float, float]]:
    """Split a header line into cells at gaps wider than a word space."""
    cells: list[list[Word]] = []
    for word in line.words:
        if cells and word["x0"] - cells[-1][-1]["x1"] < _GUTTER:
            cells[-1].append(word)
        else:
            cells.append([word])
    return [(" ".join(w["text"] for w in c), c[0]["x0"], c[-1]["x1"]) for c in cells]


def is_word_header(line: Line, extra: tuple[tuple[str, str], ...] = ()) -> bool:
    """A header line of a table without rules: parcel + two more known columns, no digits."""
    cells = _header_cells(line)
    if any(any(ch.isdigit() for ch in t) for t, _, _ in cells):
        return False  # a data line that happens to contain a keyword
    roles = [tx.column_role(t, extra) for t, _, _ in cells]
    return "parcel" in roles and sum(r is not None for r in roles) >= 3


def find_word_header(lines: list[Line], extra: tuple[tuple[str, str], ...] = ()) -> int | None:
    """Index of the header line of a table without rules (parcel + two more known columns)."""
    for i, line in enumerate(lines):
        if is_word_header(line, extra):
            return i
    return None


def _occupied(body: list[Line]) -> list[list[float]]:
    """Horizontal spans covered by words, split at empty gutters."""
    spans = sorted((w["x0"], w["x1"]) for ln in body for w in ln.words)
    occupied: list[list[float]] = []
    for x0, x1 in spans:
        if occupied and x0 - occupied[-1][1] < _GUTTER:
            occupied[-1][1] = max(occupied[-1][1], x1)
        else:
            occupied.append([x0, x1])
    return occupied


def word_table_columns(
    header: list[Line], body: list[Line], extra: tuple[tuple[str, str], ...] = ()
) -> list[tuple[str | None, float, float]] | None:
    """Column spans from the empty vertical gutters of the body, named by the header words.

    Header text is often wider than its column (or wraps onto a second line), so
    the gutters in the data decide where columns are; header words only name
    them. Returns None when no parcel column can be named.
    """
    occupied = _occupied(body)
    if not occupied:
        return None
    names: list[list[Word]] = [[] for _ in occupied]
    # a header cell ("SALE NO.") is wider than its column: place its words by the cell's
    # middle, unless the cell runs over several columns (words too close to split)
    placed: list[tuple[Word, float]] = []
    for ln in header:
        start = 0
        for text, x0, x1 in _header_cells(ln):
            n = len(text.split(" "))
            cell_words = ln.words[start : start + n]
            start += n
            over = sum(1 for o in occupied if o[0] <= x1 and x0 <= o[1])
            for w in cell_words:
                placed.append((w, (x0 + x1) / 2 if over <= 1 else (w["x0"] + w["x1"]) / 2))
    for word, mid in placed:
        k = min(
            range(len(occupied)),
            key=lambda j: (
                0.0
                if occupied[j][0] <= mid <= occupied[j][1]
                else min(abs(mid - occupied[j][0]), abs(mid - occupied[j][1]))
            ),
        )
        names[k].append(word)
    merged: list[list[Any]] = [
        [tx.column_role(" ".join(w["text"] for w in ws), extra) if ws else None, o[0], o[1]]
        for ws, o in zip(names, occupied, strict=True)
    ]
    # a span under no header (e.g. a lone "$") joins its nearer neighbour
    i = 0
    while i < len(merged) and len(merged) > 1:
        if merged[i][0] is None:
            left = merged[i][1] - merged[i - 1][2] if i > 0 else float("inf")
            right = merged[i + 1][1] - merged[i][2] if i + 1 < len(merged) else float("inf")
            j = i - 1 if left <= right else i + 1
            merged[j][1] = min(merged[j][1], merged[i][1])
            merged[j][2] = max(merged[j][2], merged[i][2])
            del merged[i]
            continue
        i += 1
    roles = [m[0] for m in merged]
    if "parcel" not in roles or len(roles) != len(set(roles)):
        return None
    return [(m[0], m[1] - 1, m[2] + 1) for m in merged]


def _header_start_columns(
    line: Line, extra: tuple[tuple[str, str], ...] = ()
) -> list[tuple[str | None, float, float]]:
    """Fallback columns: each header cell's column runs to where the next header starts."""
    cells = _header_cells(line)
    out: list[tuple[str | None, float, float]] = []
    for k, (text, x0, _) in enumerate(cells):
        end = cells[k + 1][1] - 2 if k + 1 < len(cells) else float("inf")
        out.append((tx.column_role(text, extra), x0 - 2 if k else float("-inf"), end))
    return out


def _split_line(line: Line, columns: list[tuple[str | None, float, float]]) -> dict[str, str]:
    out: dict[str, list[str]] = {}
    for word in line.words:
        mid = (word["x0"] + word["x1"]) / 2
        role = None
        for r, x0, x1 in columns:
            if x0 <= mid <= x1:
                role = r
                break
        if role is None:  # in a gutter: nearest column
            role = min(columns, key=lambda c: min(abs(mid - c[1]), abs(mid - c[2])))[0]
        if role:
            out.setdefault(role, []).append(word["text"])
    return {k: " ".join(v) for k, v in out.items()}


def parse_word_table_page(state: ParseState, page: int, lines: list[Line]) -> bool:
    """Read one page of a table without rules; True if the page had such a table."""
    extra = state.vocab.columns
    idx = find_word_header(lines, extra)
    if idx is not None:
        rest = lines[idx + 1 :]
        # lines before the first one with a digit continue a wrapped header
        n_head = next((k for k, ln in enumerate(rest) if any(c.isdigit() for c in ln.text)), 0)
        body = rest[n_head:]
        table = _table_body(body, rest[n_head - 1].bottom if n_head else lines[idx].bottom)
        columns = word_table_columns([lines[idx], *rest[:n_head]], table, extra)
        if columns is None:
            columns = _header_start_columns(lines[idx], extra)
        state.word_columns = columns
    elif state.word_columns is not None:
        body = lines
        columns = state.word_columns
    else:
        return False
    roles = {c[0] for c in columns}
    key = "number" if "number" in roles else "parcel"
    current: dict[str, list[str]] | None = None
    raw: list[str] = []
    last_bottom = 0.0
    heights = [ln.bottom - ln.top for ln in body] or [10.0]
    max_gap = 1.2 * median(heights)

    def flush() -> None:
        if current is not None:
            fields: dict[str, str | None] = {k: tx.join_wrapped(v) for k, v in current.items()}
            for role in roles:
                if role:
                    fields.setdefault(role, None)
            if fields.get("municipality"):
                state.municipality = tx.clean_municipality(
                    tx.join_letter_spacing(fields["municipality"] or "")[0]
                )
            make_row(state, page, "\n".join(raw), fields)

    for line in body:
        if is_word_header(line, extra):  # the header printed again within the page
            flush()
            current = None
            continue
        cells = _split_line(line, columns)
        # a parcel or a number has digits; a heading line of a page without the table's
        # header has none (an illegible parcel still starts a row when an amount follows)
        keyed = bool(cells.get(key)) and (
            any(ch.isdigit() for ch in cells[key])
            or any(tx.is_money_token(t) for t in cells.get("amount", "").split())
        )
        starts = keyed and (
            key == "number"
            or current is None
            or not (current.get("parcel") or [""])[-1].endswith("-")
        )
        close = current is not None and line.top - last_bottom <= max_gap
        if starts:
            flush()
            current = {k: [v] for k, v in cells.items()}
            raw = [line.text]
        elif close and current is not None:
            for k, v in cells.items():
                current.setdefault(k, []).append(v)
            raw.append(line.text)
        else:
            flush()
            current = None
            if len(line.words) <= 4 and tx.looks_like_municipality(line.text):
                state.municipality = tx.clean_municipality(tx.join_letter_spacing(line.text)[0])
            continue
        last_bottom = line.bottom
    flush()
    return True


def _table_body(lines: list[Line], header_bottom: float) -> list[Line]:
    """Body lines that belong to the table: stops at the first wide vertical gap (a footer)."""
    if not lines:
        return []
    heights = [ln.bottom - ln.top for ln in lines]
    max_gap = 3 * median(heights)
    out: list[Line] = []
    last = header_bottom
    for line in lines:
        if line.top - last > max_gap:
            break
        out.append(line)
        last = line.bottom
    return out


# --- fixed-pitch printer reports ----------------------------------------------


def _labels(line: Line, vocab: Vocabulary) -> list[tuple[int, int, str, bool]]:
    """The labels on one line: (first word, first value word, role, strong).

    A label is strong when it has a colon or several words; a one-word label
    without a colon ("LOCATION 12 ELM ST") counts only in the right-hand column.
    """
    text = ""
    starts: list[int] = []
    for w in line.words:
        if text:
            text += " "
        starts.append(len(text))
        text += w["text"]
    ends = [s + len(w["text"]) for s, w in zip(starts, line.words, strict=True)]
    out: list[tuple[int, int, str, bool]] = []
    for m in vocab.label_re.finditer(text):
        first = next((k for k, s in enumerate(starts) if s == m.start()), None)
        if first is None:
            continue  # starts inside a word
        after = next((k for k, s in enumerate(starts) if s >= m.end()), len(line.words))
        tail = text[m.end() : ends[after - 1]] if after > first else ""
        if tail.strip():
            continue  # the label's last word goes on ("TOTALS"): not a label
        strong = bool(m.group(2)) or len(m.group(1).split()) > 1
        out.append((first, after, vocab.label_role(m.group(1)), strong))
    return out


def _right_split(lines: list[Line], width: float, vocab: Vocabulary) -> float:
    """Where the right-hand (labelled facts) column starts: the median x of strong labels."""
    xs = []
    for line in lines:
        for first, _, _, strong in _labels(line, vocab):
            if strong and first > 0:
                xs.append(line.words[first]["x0"])
    return median(xs) - 2 if xs else width / 2


_GLUED_RE = re.compile(r"^([A-Za-z][A-Za-z.#]*:)(\S+)$")


def _unglue(line: Line) -> Line:
    """Split a label glued to its value ("DUE:$1,234.56") into two words."""
    words: list[Word] = []
    for w in line.words:
        m = _GLUED_RE.match(w["text"])
        if not m:
            words.append(w)
            continue
        share = len(m.group(1)) / len(w["text"])
        cut = w["x0"] + (w["x1"] - w["x0"]) * share
        words += [{**w, "text": m.group(1), "x1": cut}, {**w, "text": m.group(2), "x0": cut}]
    return Line(words)


def parse_printer_page(state: ParseState, page: int, lines: list[Line], width: float) -> None:
    """Read the ``RECORD#`` blocks of one page of a fixed-pitch printer report."""
    lines = [_unglue(ln) for ln in lines]
    split = _right_split(lines, width, state.vocab)
    block: list[Line] = []
    for line in lines:
        if state.vocab.record_re.match(line.text):
            if block:
                _printer_block(state, page, block, split)
            block = [line]
        elif block:
            block.append(line)
    if block:
        _printer_block(state, page, block, split)


def _printer_block(state: ParseState, page: int, block: list[Line], split: float) -> None:
    head = block[0].text
    body = block[1:]
    # a block ends at the first wide gap (the page footer is not part of it)
    heights = [ln.bottom - ln.top for ln in block]
    trimmed: list[Line] = []
    last = block[0].bottom
    for line in body:
        if line.top - last > 2.5 * median(heights):
            break
        trimmed.append(line)
        last = line.bottom
    raw = "\n".join(ln.text for ln in [block[0], *trimmed])
    record = state.vocab.record_re.match(head)
    folio = _FOLIO_RE.search(head[record.end() :] if record else head)
    date_m = _SALE_DATE_RE.search(head)
    sale_date = tx.parse_date(date_m.group(1)) if date_m else None
    left: list[str] = []
    right: dict[str, list[str]] = {}
    last_label: str | None = None
    for n, line in enumerate([block[0], *trimmed]):
        words = line.words
        found = [
            lab for lab in _labels(line, state.vocab) if lab[3] or words[lab[0]]["x0"] >= split
        ]
        cut = found[0][0] if found else len(words)
        # before the first label: the left column, or a wrapped value of the right one
        lw = [w["text"] for w in words[:cut] if w["x0"] < split]
        rw = [w["text"] for w in words[:cut] if w["x0"] >= split]
        if lw and n > 0:
            left.append(" ".join(lw))
        if rw and last_label and n > 0:
            right[last_label].append(" ".join(rw))
        for k, (_, after, role, _) in enumerate(found):
            end = found[k + 1][0] if k + 1 < len(found) else len(words)
            value = words[after:end]
            if n == 0 and role != "total":
                continue  # the record line's own words (sale date …) are read above
            last_label = role
            right.setdefault(role, []).append(" ".join(w["text"] for w in value))
    owner_lines: list[str] = []
    address: list[str] = []
    years: dict[str, float] = {}
    issues: list[str] = []
    for text in left:
        ym = _YEAR_LINE_RE.match(text)
        if ym and tx.parse_amount(ym.group(2)) is not None:
            years[ym.group(1)] = years.get(ym.group(1), 0.0) + (tx.parse_amount(ym.group(2)) or 0.0)
        elif not address and (not _ADDRESS_START_RE.match(text) or not owner_lines):
            owner_lines.append(text)
        else:
            address.append(text)
    if right.get("owner"):
        address = owner_lines + address
        owner_lines = right["owner"]
    total_text = tx.join_wrapped(right.get("total", []))
    total = tx.parse_amount(total_text)
    penalty = 0.0
    if total is not None and years:
        added = round(sum(years.values()), 2)
        if abs(added - total) > 0.005:
            penalty = 0.6
            issues.append(f"per-year amounts add to {added:,.2f}, not TOTAL DUE {total:,.2f}")
    elif total is not None:
        penalty = 0.1
        issues.append("no per-year amounts to check TOTAL DUE against")
    extra: dict[str, Any] = {
        "mailing_address": " ".join(address) or None,
        "lot_size": tx.join_wrapped(right.get("lot_size", [])) or None,
        "assessment": tx.parse_amount(tx.join_wrapped(right.get("assessment", []))),
        "year_amounts": {y: round(v, 2) for y, v in sorted(years.items())},
    }
    fields: dict[str, str | None] = {
        "parcel": folio.group(1) if folio else None,
        "owner": tx.join_wrapped(owner_lines) or None,
        "location": tx.join_wrapped(right.get("location", [])) or None,
        "municipality": tx.join_wrapped(right.get("municipality", [])) or None,
        "description": tx.join_wrapped(right.get("description", [])) or None,
        "amount": total_text or None,
    }
    if not total_text:
        state.errors.append(
            RowError(
                page=page,
                raw_text=raw,
                reason="record has no amount due (no TOTAL DUE, AMOUNT DUE, UPSET PRICE or "
                "MINIMUM BID label with a value)",
            )
        )
        return
    make_row(
        state,
        page,
        raw,
        fields,
        number=record.group(1) if record else None,
        sale_date=sale_date,
        extra=extra,
        issues=issues,
        penalty=penalty,
    )
