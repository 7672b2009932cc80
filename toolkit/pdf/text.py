"""Pure text helpers for sale-list parsing: amounts, dates, letter spacing, headers.

Nothing here touches a PDF; every function takes and returns plain strings so it
can be tested on its own and reused by the OCR path.
"""

from __future__ import annotations

import datetime as dt
import functools
import re

SALE_TYPES: tuple[str, ...] = ("upset", "judicial", "repository", "private")

# Column roles a sale-list table can have. Order matters when a header names
# several things ("PARCEL NUMBER" is a parcel, not a number; "APPROX. SALE
# PRICE" is an amount, not a sale number), so the most specific role wins.
_ROLE_PATTERNS: tuple[tuple[str, re.Pattern[str]], ...] = (
    ("parcel", re.compile(r"PARCEL|\bMAP\b|\bPIN\b|FOLIO|\bUPI\b|TAX\s*ID|\bTAX\s*MAP")),
    ("amount", re.compile(r"PRICE|AMOUNT|UPSET|TOTAL|\bDUE\b|\bBID\b|\$")),
    ("municipality", re.compile(r"MUNICIPAL|TOWNSHIP|DISTRICT|\bMUNI\b")),
    ("owner", re.compile(r"OWNER|\bNAME\b|REPUTED")),
    ("location", re.compile(r"LOCATION|ADDRESS|SITUS|PROPERTY")),
    ("description", re.compile(r"DESC")),
    ("number", re.compile(r"CONTROL|SALE\s*(NO|#|NUM)|\bNO\.?$|^NO\b|NUMBER|\bITEM\b|#|^RECORD")),
)

_MONEY_RE = re.compile(r"^\(?\$?\s*(\d{1,3}(?:,\d{3})+|\d+)(\.\d{1,2})?\)?$")
_NUM_DATE_RE = re.compile(r"\b(\d{1,2})/(\d{1,2})/(\d{4}|\d{2})\b")
_MONTHS = (
    "JAN",
    "FEB",
    "MAR",
    "APR",
    "MAY",
    "JUN",
    "JUL",
    "AUG",
    "SEP",
    "OCT",
    "NOV",
    "DEC",
)
_NAME_DATE_RE = re.compile(
    r"\b(JAN|FEB|MAR|APR|MAY|JUN|JUL|AUG|SEP|OCT|NOV|DEC)[A-Z]*\.?\s+(\d{1,2}),?\s+(\d{4})\b",
    re.IGNORECASE,
)
_MUNI_SUFFIX_RE = re.compile(r"(?<=[A-Z])(TOWNSHIP|BOROUGH|TWP|BORO|CITY)$")
_MUNI_WORD_RE = re.compile(r"\b(TOWNSHIP|BOROUGH|TWP|BORO|CITY|TOWN|WARD)\b")
# two-letter words that end a name rather than a letter-spaced word ("S M I T H JR")
_NOT_LETTER_TAILS = frozenset({"JR", "SR", "II", "IV", "ET", "AL", "OF"})
_PARCEL_OK_RE = re.compile(r"^[A-Z0-9][A-Z0-9.\-/ ]*[A-Z0-9.]$")


def clean(text: str | None) -> str:
    """Collapse all whitespace (newlines from wrapped cells too) to single spaces.

    Examples
    --------
    >>> clean(" KOVAC MARY &\\nJOHN ")
    'KOVAC MARY & JOHN'
    """
    return " ".join((text or "").split())


def join_wrapped(parts: list[str]) -> str:
    """Join the lines of a wrapped cell; a line ending in a hyphen continues the word.

    Examples
    --------
    >>> join_wrapped(["01-00-", "00406-00"])
    '01-00-00406-00'
    >>> join_wrapped(["DOGWOOD", "TWP"])
    'DOGWOOD TWP'
    """
    out = ""
    for part in (clean(p) for p in parts):
        if not part:
            continue
        out = part if not out else (out + part if out.endswith("-") else f"{out} {part}")
    return out


def join_letter_spacing(text: str) -> tuple[str, bool]:
    """Rejoin letter-spaced words such as ``"B A R N ER"`` into ``"BARNER"``.

    A run of at least three single letters (at most one two-letter piece, as
    when the last letters of a spaced word touch) is one word. Returns the text
    and whether anything was joined.

    Examples
    --------
    >>> join_letter_spacing("B A R N ER JOHN")
    ('BARNER JOHN', True)
    >>> join_letter_spacing("SMITH J A & MARY")
    ('SMITH J A & MARY', False)
    """
    tokens = text.split(" ")
    out: list[str] = []
    changed = False
    i = 0
    while i < len(tokens):
        j = i
        singles = doubles = 0
        while j < len(tokens) and 0 < len(tokens[j]) <= 2 and tokens[j].isalnum():
            if len(tokens[j]) == 2:
                if doubles or tokens[j].upper() in _NOT_LETTER_TAILS:
                    break
                doubles += 1
            else:
                singles += 1
            j += 1
        if singles >= 3:
            out.append("".join(tokens[i:j]))
            changed = True
            i = j
        else:
            out.append(tokens[i])
            i += 1
    return " ".join(out), changed


def clean_municipality(text: str) -> str:
    """Normalise a municipality name; split a suffix glued on by letter spacing.

    Examples
    --------
    >>> clean_municipality("ALDERTOWNSHIP")
    'ALDER TOWNSHIP'
    """
    text = clean(text).upper()
    if " " not in text:
        text = _MUNI_SUFFIX_RE.sub(r" \1", text)
    return text


def looks_like_municipality(text: str) -> bool:
    """True for a header such as ``"ALDER TOWNSHIP"`` or ``"Elm Boro"``."""
    return bool(_MUNI_WORD_RE.search(clean_municipality(text)))


def normalise_parcel(text: str) -> str:
    """Parcel id with whitespace collapsed and removed next to ``.``, ``-`` and ``/``.

    Examples
    --------
    >>> normalise_parcel("01.02-03.. -004.05-006")
    '01.02-03..-004.05-006'
    """
    text = clean(text).upper()
    return re.sub(r"\s*([.\-/])\s*", r"\1", text)


def parcel_problem(parcel: str) -> str | None:
    """Why a parcel id is unreadable, or None when it looks like one."""
    if not parcel:
        return "no parcel id"
    if not any(c.isdigit() for c in parcel) or len(parcel) < 4 or not _PARCEL_OK_RE.match(parcel):
        return f"parcel id {parcel!r} is unreadable"
    return None


def parse_amount(text: str | None) -> float | None:
    """A dollar amount such as ``"$1,234.56"`` or ``"1234.5"``; None if garbled.

    Examples
    --------
    >>> parse_amount("$3,905.16")
    3905.16
    >>> parse_amount("1,2O4.#7") is None
    True
    """
    raw = clean(text).replace(" ", "")
    m = _MONEY_RE.match(raw)
    if not m:
        return None
    value = float(m.group(1).replace(",", "") + (m.group(2) or ""))
    return -value if raw.startswith("(") else value


def is_money_token(text: str) -> bool:
    """True for a token like ``1,234.56`` or ``$12.00`` (cents required)."""
    return bool(re.fullmatch(r"\$?(\d{1,3}(,\d{3})+|\d+)\.\d\d", text))


def parse_date(text: str) -> dt.date | None:
    """First date in ``text``: ``09/24/26``, ``09/24/2026`` or ``September 24, 2026``.

    Examples
    --------
    >>> parse_date("SALE DATE: 09/24/26")
    datetime.date(2026, 9, 24)
    >>> parse_date("Monday, September 13, 2027 at 10 AM")
    datetime.date(2027, 9, 13)
    """
    found: list[tuple[int, dt.date]] = []
    for m in _NUM_DATE_RE.finditer(text):
        month, day, year = int(m.group(1)), int(m.group(2)), int(m.group(3))
        year = year + 2000 if year < 100 else year
        try:
            found.append((m.start(), dt.date(year, month, day)))
        except ValueError:
            continue
    for m in _NAME_DATE_RE.finditer(text):
        month = _MONTHS.index(m.group(1).upper()[:3]) + 1
        try:
            found.append((m.start(), dt.date(int(m.group(3)), month, int(m.group(2)))))
        except ValueError:
            continue
    return min(found)[1] if found else None


def find_sale_type(text: str) -> str | None:
    """The sale type a document names (``upset``, ``judicial``, ``repository``, ``private``).

    Examples
    --------
    >>> find_sale_type("NOTICE OF PUBLIC UPSET TAX SALE")
    'upset'
    """
    upper = text.upper()
    hits = []
    for kind, pattern in (
        # "UPSET PRICE" is a column header that judicial lists can carry too
        ("upset", r"\bUPSET\b(?!\s+(?:PRICE|AMOUNT|BID))"),
        ("judicial", r"\bJUDICIAL\b"),
        ("repository", r"\bREPOSITORY\b"),
        ("private", r"\bPRIVATE\s+SALE\b"),
    ):
        m = re.search(pattern, upper)
        if m:
            hits.append((m.start(), kind))
    return min(hits)[1] if hits else None


def find_sale_date(lines: list[str]) -> dt.date | None:
    """The sale date from lines that mention a sale (other dates, e.g. printed-on, are ignored)."""
    for line in lines:
        if re.search(r"\bSALE\b|\bAUCTION\b|\bHELD\b", line, re.IGNORECASE):
            date = parse_date(line)
            if date:
                return date
    return None


def column_role(header: str, extra: tuple[tuple[str, str], ...] = ()) -> str | None:
    """The role of a table column from its header text, or None.

    ``extra`` holds a user's own ``(role, header words)`` pairs (the ``layouts:``
    section of the config file); they are tried first.

    Examples
    --------
    >>> column_role("PARCEL NUMBER"), column_role("APPROX. SALE PRICE"), column_role("SALE NO.")
    ('parcel', 'amount', 'number')
    >>> column_role("BALANCE OWED:", (("amount", "BALANCE OWED"),))
    'amount'
    """
    text = clean(header).upper().rstrip(":").strip()
    if not text:
        return None
    for role, words in extra:
        if phrase_pattern(words).search(text):
            return role
    for role, pattern in _ROLE_PATTERNS:
        if pattern.search(text):
            return role
    return None


@functools.lru_cache(maxsize=512)
def phrase_pattern(words: str) -> re.Pattern[str]:
    """A pattern for header or label words: any spacing, not inside a longer word.

    Examples
    --------
    >>> bool(phrase_pattern("total due").search("TOTAL  DUE:"))
    True
    >>> bool(phrase_pattern("DUE").search("DUES"))
    False
    """
    parts = [re.escape(p) for p in clean(words).upper().split()]
    return re.compile(r"(?<![A-Z0-9])" + r"\s*".join(parts) + r"(?![A-Z0-9])")
