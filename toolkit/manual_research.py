"""The research a person or an assistant enters for one item: checked, then saved.

Three job types are researched by hand, one item at a time: ``title_research``
(the liens found, or none), ``property_condition`` (a grade A-F from imagery)
and ``county_research`` (one upcoming sale, a link and a note, with their
source). The notebook forms (:mod:`toolkit.notebook.forms`) and the assistant's
MCP tools (:mod:`toolkit.assistant`) both check what was entered with the
``check_*`` functions here and save it with :func:`save`, so the rules are the
same on every surface: bad input raises a
:class:`~toolkit.exceptions.ValidationError` that names the field and the bad
value, and nothing is saved.

No widgets here, and nothing slow at import: the forms put their widgets'
values in, the MCP server a JSON object (:func:`check_result`).

Examples
--------
>>> check_grade("d", "roof sagging")
{'grade': 'D', 'note': 'roof sagging'}
>>> check_result("property_condition", {"grade": "G"})
Traceback (most recent call last):
...
toolkit.exceptions.ValidationError: result.grade: Unknown condition grade 'G'. Valid choices: ...
"""

from __future__ import annotations

import datetime as dt
import difflib
import math
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any
from urllib.parse import quote_plus

from toolkit.exceptions import UnknownChoiceError, ValidationError

if TYPE_CHECKING:
    import pandas as pd

    from toolkit.workspace import Workspace

__all__ = [
    "DEFAULT_SOURCE",
    "NO_SALE",
    "RESEARCH_TYPES",
    "RESULT_KEYS",
    "FieldError",
    "check_county",
    "check_grade",
    "check_liens",
    "check_result",
    "check_title",
    "condition_result",
    "imagery_links",
    "liens_on_file",
    "sales_on_file",
    "save",
    "title_result",
    "title_searched",
]

#: The job types whose items a person (or an assistant) researches and records by hand.
RESEARCH_TYPES: tuple[str, ...] = ("title_research", "property_condition", "county_research")
LIEN_KEYS: tuple[str, ...] = ("lien_type", "holder", "amount", "recorded_date")
COUNTY_SALE_FIELDS: tuple[str, ...] = (
    "sale_date",
    "registration_deadline",
    "deposit",
    "payment_terms",
    "bidder_certification",
    "location",
    "platform",
)
#: What one item's result may hold, per job type (the forms' inputs, by key).
RESULT_KEYS: dict[str, tuple[str, ...]] = {
    "title_research": ("liens", "no_liens", "source", "note"),
    "property_condition": ("grade", "note"),
    "county_research": (
        "sale_type",
        *COUNTY_SALE_FIELDS,
        "source",
        "as_of",
        "link_url",
        "link_title",
        "note",
    ),
}
DEFAULT_SOURCE = "manual (notebook form)"
NO_SALE = "__none__"  # county research: no upcoming sale was found

STREET_URL = "https://www.google.com/maps/@?api=1&map_action=pano&viewpoint={lat},{lon}"
AERIAL_URL = "https://www.google.com/maps/@{lat},{lon},19z/data=!3m1!1e3"
PLACE_URL = "https://www.google.com/maps/search/?api=1&query={q}"


class FieldError(ValidationError):
    """Bad input in one field; ``field`` is its key (``sale_date``, ``liens`` …)."""

    def __init__(self, field: str, message: str) -> None:
        self.field = field
        super().__init__(message)


# -- small helpers -----------------------------------------------------------------


def num(v: object) -> float | None:
    """A finite float, or None."""
    try:
        f = float(v)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return None
    return f if math.isfinite(f) else None


def blank(v: object) -> bool:
    """None, NaN, or an empty / NaT text."""
    return v is None or (isinstance(v, float) and math.isnan(v)) or str(v) in ("", "NaT", "nan")


def parse_date(value: object, what: str, field: str | None = None) -> dt.date | None:
    """A ``YYYY-MM-DD`` date (None when empty); a bad one raises, naming ``what``."""
    text = "" if value is None else str(value).strip()
    if not text:
        return None
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        message = f"{what} {text!r} is not a date; write it as YYYY-MM-DD."
        raise (FieldError(field, message) if field else ValidationError(message)) from None


def imagery_links(lat: object, lon: object, address: str | None = None) -> dict[str, str]:
    """Street-level and aerial view URLs for a point (a place search when there is no point).

    >>> imagery_links(40.5, -78.4)["aerial"]
    'https://www.google.com/maps/@40.5,-78.4,19z/data=!3m1!1e3'
    """
    la, lo = num(lat), num(lon)
    if la is None or lo is None:
        return {"place": PLACE_URL.format(q=quote_plus(address))} if address else {}
    return {
        "street": STREET_URL.format(lat=la, lon=lo),
        "aerial": AERIAL_URL.format(lat=la, lon=lo),
    }


# -- what is on file already (shown beside the inputs) ----------------------------------


def liens_on_file(ws: Workspace, property_ids: Sequence[str]) -> pd.DataFrame:
    """The liens recorded for these properties: property_id, lien_type, holder, amount, date."""
    return ws.query("liens_for", [[str(p) for p in property_ids]])


def title_searched(ws: Workspace, property_ids: Sequence[str]) -> set[str]:
    """Which of these properties have a title search (or a lien) on file."""
    ids = [str(p) for p in property_ids]
    return set(ws.query("title_searched_for", [ids, ids]).property_id.astype(str))


def sales_on_file(ws: Workspace, county_id: int) -> pd.DataFrame:
    """A county's upcoming sales on file (type, date, deadline, deposit, source, when)."""
    return ws.query("forms_upcoming_sales", [int(county_id)])


# -- title research ------------------------------------------------------------------


def check_liens(rows: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """Lien rows checked: lien type, amount as a number, recorded date as a date.

    Raises :class:`~toolkit.exceptions.ValidationError` naming the row and the bad value.

    >>> check_liens([{"lien_type": "Mortgage", "holder": " Bank ", "amount": "$40,000",
    ...               "recorded_date": "2015-03-02"}])[0]["amount"]
    40000.0
    >>> check_liens([{"lien_type": "mortgage", "amount": "lots"}])
    Traceback (most recent call last):
    ...
    toolkit.exceptions.ValidationError: Lien 1: amount 'lots' is not a number.
    """
    from toolkit.decisions.title import LIEN_TYPES

    out = []
    for i, row in enumerate(rows, start=1):
        kind = str(row.get("lien_type") or "").strip().lower()
        if kind not in LIEN_TYPES:
            raise UnknownChoiceError(f"lien type of lien {i}", row.get("lien_type"), LIEN_TYPES)
        raw = str(row.get("amount") if row.get("amount") is not None else "").strip()
        try:
            amount = float(raw.replace(",", "").replace("$", "")) if raw else None
        except ValueError:
            raise ValidationError(f"Lien {i}: amount {raw!r} is not a number.") from None
        if amount is not None and (not math.isfinite(amount) or amount < 0):
            raise ValidationError(f"Lien {i}: amount {raw!r} must be zero or more.")
        out.append(
            {
                "lien_type": kind,
                "holder": str(row.get("holder") or "").strip() or None,
                "amount": amount,
                "recorded_date": parse_date(row.get("recorded_date"), f"Lien {i}: recorded date"),
            }
        )
    return out


def check_title(
    liens: Sequence[Mapping[str, Any]],
    *,
    no_liens: bool = False,
    source: str | None = None,
    note: str | None = None,
    on_file: pd.DataFrame | None = None,
    default_source: str = DEFAULT_SOURCE,
) -> dict[str, Any]:
    """One property's title search: the liens found, or none found (``no_liens``).

    ``on_file`` (:func:`liens_on_file`) refuses a lien recorded already: entering
    it twice would count it twice in the surviving total.

    >>> check_title([], no_liens=True)["liens"]
    []
    >>> check_title([])
    Traceback (most recent call last):
    ...
    toolkit.manual_research.FieldError: Add the liens you found, or tick 'No liens found'.
    """
    checked = check_liens(liens)
    if not checked and not no_liens:
        raise FieldError("liens", "Add the liens you found, or tick 'No liens found'.")
    if checked and no_liens:
        raise FieldError(
            "no_liens",
            f"'No liens found' is ticked but the table lists {len(checked)} lien(s); "
            "untick it or remove them.",
        )
    _refuse_duplicates(checked, on_file)
    return {
        "liens": checked,
        "source": str(source or "").strip() or default_source,
        "note": str(note or ""),
    }


def _refuse_duplicates(liens: list[dict[str, Any]], on_file: pd.DataFrame | None) -> None:
    if on_file is None or on_file.empty:
        return
    import pandas as pd

    def key(kind: object, holder: object, amount: object, date: object) -> tuple[Any, ...]:
        d = None if blank(date) else pd.Timestamp(date).date()
        return (
            str(kind),
            "" if blank(holder) else str(holder).strip().lower(),
            None if blank(amount) else round(float(str(amount)), 2),
            d,
        )

    have = {key(r.lien_type, r.holder, r.amount, r.recorded_date) for r in on_file.itertuples()}
    for i, lien in enumerate(liens, start=1):
        if key(*(lien[k] for k in LIEN_KEYS)) in have:
            raise FieldError(
                "liens",
                f"Lien {i} ({lien['lien_type']}, {lien['holder'] or 'no holder'}) is on file "
                "already; remove it from the table (enter only liens not listed above).",
            )


def title_result(ws: Workspace, item: dict[str, Any]) -> dict[str, Any]:
    """The title_research result of one item, computed exactly as its processor does.

    Reads the liens and title searches on file, like the automatic session.
    """
    import pandas as pd

    from toolkit.processors.decisions import make_title_research

    return make_title_research(ws.processor_context())(pd.DataFrame([item]))[0]


def save_title(ws: Workspace, job_id: str, item: dict[str, Any], values: dict[str, Any]) -> None:
    """Record the title search and its liens, then the item's title result.

    Two transactions: a crash between them leaves the search recorded and the
    item open, which is safe — it is then worked again from what is on file
    (and :func:`check_title` refuses entering those liens twice).
    """
    pid = str(item["item_id"])
    ws.record_title_search(pid, values["liens"], source=values["source"])
    result = title_result(ws, item)
    note = str(values.get("note") or "").strip()
    if note:
        result["reasons"] = "; ".join(x for x in (result.get("reasons"), f"note: {note}") if x)
    ws.record_result(job_id, pid, result)


# -- property condition ----------------------------------------------------------------


def check_grade(grade: object, note: str | None = None) -> dict[str, Any]:
    """A condition grade from imagery (A-F; case does not matter)."""
    from toolkit.decisions.profile import GRADES

    if blank(grade):
        raise FieldError("grade", f"Choose a grade ({', '.join(GRADES)}) before saving.")
    g = str(grade).strip().upper()
    if g not in GRADES:
        raise UnknownChoiceError("condition grade", grade, GRADES)
    return {"grade": g, "note": str(note or "")}


def condition_result(
    ws: Workspace, item: dict[str, Any], grade: str, note: str | None = None
) -> dict[str, Any]:
    """The property_condition result of a manual grade: the grade wins, repairs from the profile.

    The processor's row for the item with ``manual_grade`` set (so the computed
    grade, score and signals are kept beside it), with ``confidence`` 1.0 and
    ``repair_estimate`` = the profile's ``repair_per_sqft[grade]`` x the
    building footprint, as :meth:`Workspace.set_manual_grade` writes.
    """
    import pandas as pd

    from toolkit.processors.decisions import make_property_condition, workspace_profile

    g = check_grade(grade)["grade"]
    row = make_property_condition(ws.processor_context())(
        pd.DataFrame([{**item, "manual_grade": g}])
    )[0]
    per_sqft = workspace_profile(ws.data_dir).condition.repair_per_sqft.get(g)
    sqft = num(item.get("bldg_footprint_sqft"))
    reason = f"manual grade {g} wins over the computed grade" + (f": {note}" if note else "")
    reasons = [r for r in str(row.get("reasons") or "").split("; ") if r]
    return row | {
        "grade": g,
        "manual_grade": g,
        "repair_per_sqft": per_sqft,
        "repair_estimate": None if per_sqft is None or sqft is None else round(per_sqft * sqft, 2),
        "reasons": "; ".join([reason, *reasons]),
        "inputs_used": ", ".join(x for x in ("manual grade", row.get("inputs_used")) if x),
        "confidence": 1.0,
    }


def save_condition(
    ws: Workspace, job_id: str, item: dict[str, Any], values: dict[str, Any]
) -> None:
    """Write the manual grade's result and mark the item done (one transaction)."""
    note = str(values.get("note") or "").strip() or None
    ws.record_result(
        job_id, str(item["item_id"]), condition_result(ws, item, values["grade"], note)
    )


# -- county research -------------------------------------------------------------------


def check_county(fields: Mapping[str, Any]) -> dict[str, Any]:
    """One county's research from the form's fields: one sale, one link, a note, a source.

    ``fields`` has the keys of :data:`RESULT_KEYS` ``["county_research"]`` (missing
    ones are empty); ``sale_type`` :data:`NO_SALE` means no upcoming sale was
    found. Returns ``{"research": <a research-file entry>, "note": …}``, checked
    the same way as the research file
    (:func:`~toolkit.processors.county_research.validate_research`).

    >>> r = check_county({"sale_type": "upset", "sale_date": "2027-09-13",
    ...                   "source": "phone call", "as_of": "2027-07-01"})
    >>> r["research"]["sales"]
    [{'sale_type': 'upset', 'sale_date': '2027-09-13'}]
    """
    from toolkit.parcels import SALE_TYPES
    from toolkit.processors.county_research import validate_research

    def text(key: str) -> str:
        value = fields.get(key)
        return "" if value is None else str(value).strip()

    source = text("source")
    if not source:
        raise FieldError(
            "source",
            "Say where the facts come from (Source), e.g. 'county tax claim bureau web site'.",
        )
    parse_date(text("as_of"), "As of", "as_of")
    sales = []
    kind = text("sale_type") or NO_SALE
    if kind != NO_SALE:
        if kind.lower() not in SALE_TYPES:
            raise FieldError("sale_type", str(UnknownChoiceError("sale type", kind, SALE_TYPES)))
        sale = {"sale_type": kind.lower(), **{k: text(k) for k in COUNTY_SALE_FIELDS}}
        dates = {
            key: parse_date(sale[key], key.replace("_", " ").capitalize(), key)
            for key in ("sale_date", "registration_deadline")
        }
        if (
            dates["sale_date"]
            and dates["registration_deadline"]
            and (dates["registration_deadline"] > dates["sale_date"])
        ):
            raise FieldError(
                "registration_deadline",
                f"Registration deadline {dates['registration_deadline']} is after the sale date "
                f"{dates['sale_date']}.",
            )
        sales.append({k: v for k, v in sale.items() if v})
    url = text("link_url")
    if url and not url.lower().startswith(("http://", "https://")):  # the research file's rule
        raise FieldError("link_url", f"Link {url!r} is not a web address; give an http(s) URL.")
    links = [{"url": url, "title": text("link_title") or None}] if url else []
    note = text("note")
    if not (sales or links or note):
        raise FieldError(
            "note", "Nothing to save: enter a sale, a link or a note (or mark the item failed)."
        )
    research = {
        "source": source,
        "as_of": text("as_of") or None,
        "notes": [note] if note else [],
        "links": links,
        "sales": sales,
    }
    validate_research(research, "county research")  # the research file's rules, all of them
    return {"research": research, "note": note}


def save_county(ws: Workspace, job_id: str, item: dict[str, Any], values: dict[str, Any]) -> None:
    """Store the county's research and mark its item done (one transaction)."""

    ws.save_county_research(int(item["county_id"]), values["research"], job_id=job_id)


# -- saving -----------------------------------------------------------------------------

_SAVERS: dict[str, Callable[[Workspace, str, dict[str, Any], dict[str, Any]], None]] = {
    "title_research": save_title,
    "property_condition": save_condition,
    "county_research": save_county,
}


def save(
    ws: Workspace, job_type: str, job_id: str, item: dict[str, Any], values: dict[str, Any]
) -> None:
    """Save one item's checked research (from a ``check_*`` function) and mark it done.

    ``item`` is the item's row as :meth:`Workspace.get_next_batch` returned it.
    """
    if job_type not in _SAVERS:
        raise UnknownChoiceError("research job type", job_type, RESEARCH_TYPES)
    _SAVERS[job_type](ws, job_id, item, values)


# -- one JSON object per item (the assistant's tools) -----------------------------------


@contextmanager
def _field(name: str | None) -> Iterator[None]:
    """Name the field (``result.<field>:``) in the message of a ValidationError raised inside."""
    try:
        yield
    except FieldError as exc:
        raise ValidationError(f"result.{exc.field}: {exc}") from None
    except ValidationError as exc:
        raise ValidationError(f"result{'.' + name if name else ''}: {exc}") from None


def _text_field(result: Mapping[str, Any], key: str) -> str | None:
    value = result.get(key)
    if value is None or isinstance(value, str):
        return value
    if isinstance(value, int | float) and not isinstance(value, bool):
        return str(value)
    raise ValidationError(f"result.{key}: must be text, not {type(value).__name__} {value!r}.")


def _check_keys(job_type: str, result: object, extra: str = "") -> Mapping[str, Any]:
    valid = RESULT_KEYS[job_type]
    if not isinstance(result, Mapping):
        raise ValidationError(
            f"result: must be an object with the keys {', '.join(valid)}; "
            f"got {type(result).__name__} {result!r}.{extra}"
        )
    for key in result:
        if key not in valid:
            close = difflib.get_close_matches(str(key), valid, n=1, cutoff=0.6)
            hint = f" Did you mean {close[0]!r}?" if close else ""
            raise ValidationError(
                f"result.{key}: unknown key for a {job_type} result.{hint} "
                f"Valid keys: {', '.join(valid)}."
            )
    return result


def check_result(
    job_type: str,
    result: object,
    *,
    on_file: pd.DataFrame | None = None,
    default_source: str = DEFAULT_SOURCE,
) -> dict[str, Any]:
    """One item's research as one JSON object, checked exactly as its notebook form checks it.

    Keys per job type (:data:`RESULT_KEYS`):

    * ``title_research``: ``liens`` (a list of ``{lien_type, holder, amount,
      recorded_date}``), ``no_liens`` (true when none were found), ``source``, ``note``;
    * ``property_condition``: ``grade`` (A-F), ``note``;
    * ``county_research``: ``sale_type`` (``upset`` … ; null: no sale found),
      ``sale_date``, ``registration_deadline``, ``deposit``, ``payment_terms``,
      ``bidder_certification``, ``location``, ``platform``, ``source``, ``as_of``
      (default today), ``link_url``, ``link_title``, ``note``.

    Returns the values :func:`save` takes. Errors start with ``result.<field>:``.

    >>> check_result("title_research", {"liens": [{"lien_type": "mortgage", "amount": "x"}]})
    Traceback (most recent call last):
    ...
    toolkit.exceptions.ValidationError: result.liens: Lien 1: amount 'x' is not a number.
    """
    if job_type not in RESULT_KEYS:
        raise ValidationError(
            f"result: {job_type} items take no research result (only "
            f"{', '.join(RESEARCH_TYPES)} do); report the outcome alone, or run its processor."
        )
    r = _check_keys(job_type, result)
    if job_type == "title_research":
        liens = r.get("liens") or []
        if not isinstance(liens, list):
            raise ValidationError(
                f"result.liens: must be a list of liens ({', '.join(LIEN_KEYS)}), "
                f"not {type(liens).__name__}."
            )
        for i, lien in enumerate(liens, start=1):
            if not isinstance(lien, Mapping):
                raise ValidationError(
                    f"result.liens: lien {i} must be an object with {', '.join(LIEN_KEYS)}."
                )
            bad = [k for k in lien if k not in LIEN_KEYS]
            if bad:
                raise ValidationError(
                    f"result.liens: lien {i} has unknown key {bad[0]!r}; "
                    f"valid keys: {', '.join(LIEN_KEYS)}."
                )
        no_liens = r.get("no_liens", False)
        if not isinstance(no_liens, bool):
            raise ValidationError(f"result.no_liens: must be true or false, not {no_liens!r}.")
        with _field("liens"):
            return check_title(
                liens,
                no_liens=no_liens,
                source=_text_field(r, "source"),
                note=_text_field(r, "note"),
                on_file=on_file,
                default_source=default_source,
            )
    if job_type == "property_condition":
        with _field("grade"):
            return check_grade(_text_field(r, "grade"), _text_field(r, "note"))
    fields = {k: _text_field(r, k) for k in RESULT_KEYS["county_research"]}
    sale_given = any(fields[k] for k in COUNTY_SALE_FIELDS)
    if "sale_type" in r and r["sale_type"] is None:
        if sale_given:
            given = next(k for k in COUNTY_SALE_FIELDS if fields[k])
            raise ValidationError(
                f"result.sale_type: null says no sale was found, but {given} is given; "
                "name the sale type (upset, judicial, repository, private, sheriff)."
            )
        fields["sale_type"] = NO_SALE
    elif not fields["sale_type"]:
        fields["sale_type"] = "upset" if sale_given else NO_SALE  # as the form's default
    if not fields["as_of"]:
        fields["as_of"] = dt.datetime.now(dt.UTC).date().isoformat()  # as the form's default
    with _field(None):
        return check_county(fields)
