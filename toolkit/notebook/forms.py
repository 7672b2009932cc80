"""The research forms: where a person does title, condition and county research in a notebook.

Each form works one claimed item at a time (an :class:`~toolkit.notebook.panel.ItemForm`):
the item's context, links to look things up, the inputs for its result, and
**Save & next** — saving the form *is* that item's result. Bad input (an unknown
lien type, an amount that is not a number, a bad date, an override without a
note) is shown in the form and nothing is saved.

* :class:`TitleForm` (``title_research``): liens already on file, a lien table
  editor, "No liens found"; Save records the title search, then the item's
  title result computed exactly as the ``title_research`` processor does.
* :class:`ConditionForm` (``property_condition``): street-level and aerial
  imagery links, the parcel sketch, grade buttons A-F; the manual grade wins.
* :class:`CountyResearchForm` (``county_research``): one upcoming sale, a link
  and notes, each fact with its source and date.
* :class:`ScreeningReview` (``visual_validation``): CAUTION / REJECTED
  properties with their reasons and sketch; override with a required note.
* :class:`BidExport` (``bid_strategy``): the bid list and an export button.

No form holds a database connection while it waits for a click: every read
and write is one :class:`~toolkit.workspace.Workspace` call, which opens and
closes its own.

Links to look things up are search-engine queries and public map URLs only:
the county recorder's and prothonotary's own sites differ per county and are
not known to the toolkit, so no form invents one.
"""

from __future__ import annotations

import datetime as dt
import html
import math
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import quote_plus

from toolkit.exceptions import ToolkitError, UnknownChoiceError, ValidationError
from toolkit.manual_research import (
    DEFAULT_SOURCE,
    NO_SALE,
    check_county,
    check_grade,
    check_liens,
    check_title,
    condition_result,
    imagery_links,
    liens_on_file,
    sales_on_file,
    save,
    title_result,
    title_searched,
)
from toolkit.manual_research import blank as _blank
from toolkit.notebook.panel import ItemForm, _connect

if TYPE_CHECKING:
    import pandas as pd

    from toolkit.orchestrator import SessionRequest
    from toolkit.workspace import Workspace

SEARCH_URL = "https://www.google.com/search?q={q}"
SKETCH_WIDTH = "320px"


# -- small helpers ---------------------------------------------------------------


def search_link(query: str, label: str | None = None) -> str:
    """An HTML link to a search-engine query (opens in a new tab).

    >>> search_link("Blair County PA recorder of deeds").split('"')[1]
    'https://www.google.com/search?q=Blair+County+PA+recorder+of+deeds'
    """
    url = SEARCH_URL.format(q=quote_plus(query))
    return _a(url, label or query)


def _a(url: str, label: str) -> str:
    return f'<a href="{html.escape(url)}" target="_blank" rel="noopener">{html.escape(label)}</a>'


def _text(v: object) -> str:
    if _blank(v):
        return ""
    if isinstance(v, dt.datetime) and v.time() == dt.time(0):
        return v.date().isoformat()  # DATE columns come back as midnight Timestamps
    if isinstance(v, float):
        return f"{v:,.2f}"
    return str(v)


def _table(pairs: Sequence[tuple[str, object]]) -> str:
    rows = "".join(
        f"<tr><th style='text-align:left;padding-right:1em'>{html.escape(k)}</th>"
        f"<td>{html.escape(_text(v))}</td></tr>"
        for k, v in pairs
    )
    return f"<table>{rows}</table>"


def _frame_html(frame: pd.DataFrame, empty: str) -> str:
    if frame.empty:
        return f"<i>{html.escape(empty)}</i>"
    return frame.to_html(index=False, escape=True, na_rep="", border=0)


def _sketch(path: object) -> Any:
    """An ipywidgets.Image of the parcel sketch, or a note when there is none."""
    import ipywidgets as w

    p = Path(str(path)) if not _blank(path) else None
    if p is not None and p.is_file():
        return w.Image(value=p.read_bytes(), format="png", layout={"width": SKETCH_WIDTH})
    return w.HTML("<i>No parcel sketch on file.</i>")


def _today() -> str:
    return dt.datetime.now(dt.UTC).date().isoformat()


class _ResearchForm(ItemForm):
    """An ItemForm for one job type with its own inputs (see the module doc)."""

    JOB_TYPE = ""

    def __init__(
        self,
        db: str | None = None,
        *,
        job_id: str | None = None,
        county: str | int | None = None,
        batch_size: int | None = None,
    ) -> None:
        super().__init__(
            self.JOB_TYPE,
            db,
            job_id=job_id,
            county=county,
            batch_size=batch_size,
            save_result=self._save,
        )

    @classmethod
    def from_params(cls, params: SessionRequest) -> _ResearchForm:
        """The form from a job notebook's checked parameters."""
        if params.job_type != cls.JOB_TYPE:
            raise ValidationError(
                f"{cls.__name__} works {cls.JOB_TYPE} items, not {params.job_type}."
            )
        return cls(
            params.db, job_id=params.job_id, county=params.county_id, batch_size=params.batch_size
        )

    def _save(
        self, ws: Workspace, job_id: str, item: dict[str, Any], values: dict[str, Any]
    ) -> None:
        # checked by values() with toolkit.manual_research, saved by it: the same rules as
        # the assistant's update_batch_progress(result=…)
        save(ws, self.JOB_TYPE, job_id, item, values)


# -- title research --------------------------------------------------------------


class _LienRow:
    """One editable row of the lien table."""

    def __init__(
        self, form: TitleForm, lien_type: str, holder: str, amount: str, recorded_date: str
    ) -> None:
        import ipywidgets as w

        from toolkit.decisions.title import LIEN_TYPES

        self.lien_type = w.Dropdown(
            options=list(LIEN_TYPES), value=lien_type, layout={"width": "150px"}
        )
        self.holder = w.Text(
            value=holder, placeholder="holder (bank, creditor)", layout={"width": "220px"}
        )
        self.amount = w.Text(value=amount, placeholder="amount", layout={"width": "110px"})
        self.recorded_date = w.Text(
            value=recorded_date, placeholder="recorded YYYY-MM-DD", layout={"width": "150px"}
        )
        self.remove_button = w.Button(description="Remove", icon="trash", layout={"width": "90px"})
        self.remove_button.on_click(lambda _: form.remove_lien(self))
        self.widget = w.HBox(
            [self.lien_type, self.holder, self.amount, self.recorded_date, self.remove_button]
        )

    def value(self) -> dict[str, Any]:
        return {
            "lien_type": self.lien_type.value,
            "holder": self.holder.value,
            "amount": self.amount.value,
            "recorded_date": self.recorded_date.value,
        }


class TitleForm(_ResearchForm):
    """Title research by hand: one property at a time, its liens on file, a lien table, Save.

    Save records the title search (:meth:`Workspace.record_title_search`) and
    then the item's title result, computed from everything on file exactly as
    the ``title_research`` processor does, with :meth:`Workspace.record_result`.
    Those are two transactions: a crash between them leaves the search and its
    liens recorded and the item still open. That is safe — the item is then
    worked again from what is on file (by this form, which shows those liens as
    *on file* and refuses to enter them twice, or by the automatic session).

    Parameters
    ----------
    db, job_id, county, batch_size
        As for :class:`~toolkit.notebook.panel.ItemForm`.

    Examples
    --------
    >>> from toolkit.notebook.forms import TitleForm
    >>> form = TitleForm(":memory:")
    >>> form.begin()
    'Nothing pending for title_research in all counties.'
    """

    JOB_TYPE = "title_research"

    def __init__(self, db: str | None = None, **kw: Any) -> None:
        import ipywidgets as w

        super().__init__(db, **kw)
        self.rows: list[_LienRow] = []
        self.on_file: pd.DataFrame | None = None
        self.links = w.HTML()
        self.lien_box = w.VBox([])
        self.add_button = w.Button(description="Add lien", icon="plus")
        self.add_button.on_click(lambda _: self.add_lien())
        self.no_liens = w.Checkbox(value=False, description="No liens found", indent=False)
        self.source = w.Text(
            value=DEFAULT_SOURCE,
            description="Source",
            placeholder="where you searched (recorder index, docket …)",
            layout={"width": "60%"},
        )
        self.fields.children = [
            self.links,
            w.HTML("<b>Liens found</b> (type, holder, amount, recorded date)"),
            self.lien_box,
            w.HBox([self.add_button, self.no_liens]),
            self.source,
        ]
        self.header.value = "<b>title_research: one property at a time</b>"

    def add_lien(
        self,
        lien_type: str = "mortgage",
        holder: str = "",
        amount: object = "",
        recorded_date: object = "",
    ) -> bool:
        """Add a row to the lien table; an unknown lien type is shown as an error (False)."""
        from toolkit.decisions.title import LIEN_TYPES

        kind = str(lien_type or "").strip().lower()
        if kind not in LIEN_TYPES:
            self._say(str(UnknownChoiceError("lien type", lien_type, LIEN_TYPES)), error=True)
            return False
        row = _LienRow(
            self,
            kind,
            holder,
            "" if amount is None else str(amount),
            "" if recorded_date is None else str(recorded_date),
        )
        self.rows.append(row)
        self.lien_box.children = [r.widget for r in self.rows]
        self.no_liens.value = False
        return True

    def remove_lien(self, row: _LienRow | int) -> None:
        """Remove a row of the lien table (the row or its index)."""
        r = self.rows[row] if isinstance(row, int) else row
        self.rows.remove(r)
        self.lien_box.children = [x.widget for x in self.rows]

    def describe(self, item: dict[str, Any]) -> str:
        pid = str(item["item_id"])
        self.on_file = liens_on_file(self.ws, [pid])
        searched = title_searched(self.ws, [pid])
        facts = _table(
            [
                ("Parcel", item.get("parcel_id")),
                ("Owner (sale list)", item.get("list_owner")),
                ("Owner (parcel record)", item.get("owner")),
                ("Address", item.get("parcel_address") or item.get("address")),
                ("Municipality", item.get("municipality")),
                ("County", item.get("county")),
                ("Sale type", item.get("sale_type")),
                ("Sale date", item.get("sale_date")),
                ("Upset price", item.get("upset_price")),
                ("Description", item.get("description")),
            ]
        )
        liens = self.on_file.drop(columns=["property_id"])
        note = "A title search is on file already. " if len(searched) else ""
        return (
            f"{facts}<div style='margin-top:6px'><b>Liens on file</b></div>"
            f"<div>{html.escape(note)}{_frame_html(liens, 'None on file.')}</div>"
        )

    def field_widgets(self) -> dict[str, Any]:
        return {
            "liens": self.lien_box,
            "no_liens": self.no_liens,
            "source": self.source,
            "note": self.note,
        }

    def bad_field(self, exc: ToolkitError) -> Any:
        import re

        m = re.search(r"[Ll]ien (\d+)\b.*?(amount|recorded date|lien type)?", str(exc))
        if m and 0 < int(m.group(1)) <= len(self.rows):
            row = self.rows[int(m.group(1)) - 1]
            text = str(exc)
            if "amount" in text:
                return row.amount
            if "date" in text:
                return row.recorded_date
            if "lien type" in text:
                return row.lien_type
            return row.widget
        return super().bad_field(exc)

    def saved_text(self, item: dict[str, Any], outcome: str) -> str:
        base = f"Saved {self.label(item)}"
        if outcome != "done":
            return f"{base} as failed"
        res = self.ws.query("notebook_property_title", [str(item["item_id"])])
        if res.empty:
            return f"{base}: title search recorded"
        r = res.iloc[0]
        import json

        from toolkit.notebook.view import money

        try:
            n = len(json.loads(r.surviving_liens or "[]"))
        except (TypeError, ValueError):
            n = 0
        return (
            f"{base}: title {r.status}, {n} surviving lien(s) "
            f"totalling {money(r.surviving_total) or '$0'}"
        )

    def show_item(self, item: dict[str, Any] | None) -> None:
        self.rows = []
        self.lien_box.children = []
        self.no_liens.value = False
        self.source.value = DEFAULT_SOURCE
        if item is None:
            self.links.value = ""
            return
        county = str(item.get("county") or "")
        owner = str(item.get("list_owner") or item.get("owner") or "")
        parcel = str(item.get("parcel_id") or "")
        self.links.value = "<b>Look up</b> (search-engine queries): " + " · ".join(
            [
                search_link(
                    f"{county} County Pennsylvania recorder of deeds online records search",
                    "recorder of deeds",
                ),
                search_link(
                    f"{county} County Pennsylvania prothonotary civil docket search",
                    "prothonotary docket",
                ),
                search_link(f'"{owner}" {county} County PA mortgage judgment', "owner"),
                search_link(f'"{parcel}" {county} County PA', "parcel number"),
            ]
        )

    def values(self) -> dict[str, Any]:
        # the liens on file refuse entering them again (after a crash between the two saves)
        return check_title(
            [r.value() for r in self.rows],
            no_liens=self.no_liens.value,
            source=self.source.value,
            note=self.note.value,
            on_file=self.on_file,
        )


# -- property condition ---------------------------------------------------------


class ConditionForm(_ResearchForm):
    """Grade a property from imagery: links to street-level and aerial views, the sketch, A-F.

    Save writes the property_condition result of the manual grade
    (:func:`condition_result`: the grade wins, repair estimate from the
    profile's rate x the footprint, confidence 1.0) and marks the item done,
    in one transaction (:meth:`Workspace.record_result`).

    Examples
    --------
    >>> from toolkit.notebook.forms import ConditionForm
    >>> ConditionForm(":memory:").grade.options
    ('A', 'B', 'C', 'D', 'F')
    """

    JOB_TYPE = "property_condition"

    def __init__(self, db: str | None = None, **kw: Any) -> None:
        import ipywidgets as w

        from toolkit.decisions.profile import GRADES

        super().__init__(db, **kw)
        self.links = w.HTML()
        self.sketch = w.Box([])
        self.grade = w.ToggleButtons(
            options=list(GRADES),
            value=None,
            description="Grade",
            tooltips=["good", "fair", "worn", "poor", "likely teardown"],
        )
        self.fields.children = [self.links, self.sketch, self.grade]
        self.header.value = "<b>property_condition: grade one property at a time</b>"

    def describe(self, item: dict[str, Any]) -> str:
        return _table(
            [
                ("Parcel", item.get("parcel_id")),
                ("Address", item.get("parcel_address") or item.get("address")),
                ("Municipality", item.get("municipality")),
                ("County", item.get("county")),
                ("Use", item.get("usedesc")),
                ("Year built", item.get("year_built")),
                ("Buildings", item.get("bldg_count")),
                ("Footprint sq ft", item.get("bldg_footprint_sqft")),
                ("Land value", item.get("land_value")),
                ("Improvement value", item.get("improvement_value")),
                ("USPS vacancy", item.get("usps_vacancy")),
                ("Upset price", item.get("upset_price")),
            ]
        )

    def show_item(self, item: dict[str, Any] | None) -> None:
        self.grade.value = None
        if item is None:
            self.links.value = ""
            self.sketch.children = []
            return
        address = ", ".join(
            str(x)
            for x in (
                item.get("parcel_address") or item.get("address"),
                item.get("municipality"),
                item.get("county"),
                "PA",
            )
            if not _blank(x)
        )
        names = {"street": "street-level view", "aerial": "aerial view", "place": "map search"}
        urls = imagery_links(item.get("lat"), item.get("lon"), address)
        self.links.value = (
            "<b>Imagery</b>: " + " · ".join(_a(u, names[k]) for k, u in urls.items())
            if urls
            else "<i>No coordinates or address on file.</i>"
        )
        self.sketch.children = [_sketch(item.get("sketch_path"))]

    def values(self) -> dict[str, Any]:
        return check_grade(self.grade.value, self.note.value)

    def field_widgets(self) -> dict[str, Any]:
        return {"grade": self.grade, "note": self.note}

    def saved_text(self, item: dict[str, Any], outcome: str) -> str:
        base = f"Saved {self.label(item)}"
        if outcome != "done":
            return f"{base} as failed"
        res = self.ws.query("notebook_property_condition", [str(item["item_id"])])
        if res.empty:
            return f"{base}: graded"
        r = res.iloc[0]
        from toolkit.notebook.view import money

        repairs = money(r.repair_estimate)
        return f"{base}: grade {r.grade}" + (f", repairs about {repairs}" if repairs else "")


# -- county research ---------------------------------------------------------------


class CountyResearchForm(_ResearchForm):
    """Research one county's upcoming sale by hand: sale facts, a link and notes, with sources.

    Save stores it with :meth:`~toolkit.workspace.Workspace.save_county_research`
    (validated like a research-file entry) and marks the county's item done, in
    one transaction.

    Examples
    --------
    >>> from toolkit.notebook.forms import CountyResearchForm
    >>> CountyResearchForm(":memory:").sale_type.value
    'upset'
    """

    JOB_TYPE = "county_research"

    def __init__(self, db: str | None = None, **kw: Any) -> None:
        import ipywidgets as w

        from toolkit.parcels import SALE_TYPES

        super().__init__(db, **kw)
        style = {"description_width": "170px"}
        wide = {"width": "70%"}

        def text(label: str, placeholder: str = "") -> Any:
            return w.Text(description=label, placeholder=placeholder, style=style, layout=wide)

        self.links = w.HTML()
        self.sale_type = w.Dropdown(
            description="Sale type",
            style=style,
            options=[(s, s) for s in SALE_TYPES] + [("(no sale found)", NO_SALE)],
            value="upset",
        )
        self.sale_date = text("Sale date", "YYYY-MM-DD")
        self.registration_deadline = text("Registration deadline", "YYYY-MM-DD")
        self.deposit = text("Deposit", "as the county states it")
        self.payment_terms = text("Payment terms")
        self.bidder_certification = text("Bidder certification", "affidavit, notarized …")
        self.location = text("Location", "room and address")
        self.platform = text("Platform", "online platform, if online")
        self.source = text("Source", "where you checked (county web site, phone call …)")
        self.as_of = text("As of", "YYYY-MM-DD: when you checked")
        self.link_url = text("Link", "https://… an official page you used")
        self.link_title = text("Link title")
        self.fields.children = [
            self.links,
            self.sale_type,
            self.sale_date,
            self.registration_deadline,
            self.deposit,
            self.payment_terms,
            self.bidder_certification,
            self.location,
            self.platform,
            self.source,
            self.as_of,
            self.link_url,
            self.link_title,
        ]
        self.header.value = "<b>county_research: one county at a time</b>"

    def describe(self, item: dict[str, Any]) -> str:
        sales = sales_on_file(self.ws, int(item["county_id"]))
        facts = _table(
            [
                ("County", item.get("county")),
                ("FIPS", item.get("fips")),
                ("Active properties", item.get("active_properties")),
                ("Last researched", _text(item.get("last_researched_at")) or "never"),
            ]
        )
        return f"{facts}<b>Upcoming sales on file</b>{_frame_html(sales, 'None on file.')}"

    def show_item(self, item: dict[str, Any] | None) -> None:
        for box in (
            self.sale_date,
            self.registration_deadline,
            self.deposit,
            self.payment_terms,
            self.bidder_certification,
            self.location,
            self.platform,
            self.source,
            self.link_url,
            self.link_title,
        ):
            box.value = ""
        self.sale_type.value = "upset"
        self.as_of.value = _today()
        if item is None:
            self.links.value = ""
            return
        county = str(item.get("county") or "")
        self.links.value = "<b>Look up</b> (search-engine queries): " + " · ".join(
            [
                search_link(
                    f"{county} County Pennsylvania tax claim bureau upset sale", "tax claim bureau"
                ),
                search_link(
                    f"{county} County PA tax sale bidder registration deposit",
                    "bidder registration",
                ),
                search_link(f"{county} County PA judicial sale repository sale", "other sales"),
            ]
        )

    def research(self) -> dict[str, Any]:
        """The form's values as one county's research (the keys of a research-file entry)."""
        return self.values()["research"]

    #: the form's fields, in the order of a research-file entry (the note comes last)
    FIELDS = (
        "sale_type",
        "sale_date",
        "registration_deadline",
        "deposit",
        "payment_terms",
        "bidder_certification",
        "location",
        "platform",
        "source",
        "as_of",
        "link_url",
        "link_title",
    )

    def values(self) -> dict[str, Any]:
        return check_county({k: w.value for k, w in self.field_widgets().items()})

    def field_widgets(self) -> dict[str, Any]:
        return {k: getattr(self, k) for k in self.FIELDS} | {"note": self.note}

    def saved_text(self, item: dict[str, Any], outcome: str) -> str:
        base = f"Saved {self.label(item)}"
        if outcome != "done":
            return f"{base} as failed"
        kind, date = self.sale_type.value, self.sale_date.value.strip()
        if kind == NO_SALE:
            return f"{base}: no upcoming sale found"
        return f"{base}: {kind} sale" + (f" on {date}" if date else "")


# -- visual validation review ------------------------------------------------------


class ScreeningReview:
    """Review screened-out properties: CAUTION / REJECTED with reasons and sketch; override.

    An override (:meth:`Workspace.override_verdict`) needs a note and is kept
    apart from the computed verdict, which is never changed.

    Parameters
    ----------
    db
        The workspace.
    county, job_id
        Only this county / only the properties a visual_validation job screened.
    verdicts
        Which computed verdicts to list.
    page_size
        Properties per page.

    Examples
    --------
    >>> from toolkit.notebook.forms import ScreeningReview
    >>> ScreeningReview(":memory:").count
    0
    """

    def __init__(
        self,
        db: str | None = None,
        *,
        county: str | int | None = None,
        job_id: str | None = None,
        verdicts: Sequence[str] = ("CAUTION", "REJECTED"),
        page_size: int = 10,
    ) -> None:
        import ipywidgets as w

        from toolkit.research import VERDICTS

        bad = [v for v in verdicts if v not in VERDICTS]
        if bad or not verdicts:
            raise UnknownChoiceError("verdict", bad[0] if bad else "(none)", VERDICTS)
        self.ws = _connect(db)
        self.county_id = self.ws.county_id(county) if county is not None else None
        self.job_id = job_id
        self.verdicts = list(verdicts)
        self.page_size = max(1, int(page_size))
        self.page = 0
        self.rows: list[dict[str, Any]] = []
        self.header = w.HTML()
        self.prev_button = w.Button(description="Previous", icon="arrow-left")
        self.next_button = w.Button(description="Next", icon="arrow-right")
        self.refresh_button = w.Button(description="Refresh", icon="sync")
        self.body = w.VBox([])
        self.message = w.HTML()
        self.prev_button.on_click(lambda _: self.show_page(self.page - 1))
        self.next_button.on_click(lambda _: self.show_page(self.page + 1))
        self.refresh_button.on_click(lambda _: self.refresh())
        self.widget = w.VBox(
            [
                self.header,
                w.HBox([self.prev_button, self.next_button, self.refresh_button]),
                self.message,
                self.body,
            ]
        )
        # the shown page's cards by property id: row, info, choice, note, button, message, widget
        self.cards: dict[str, dict[str, Any]] = {}
        self.refresh()

    def _ipython_display_(self) -> None:
        from IPython.display import display

        display(self.widget)

    @property
    def count(self) -> int:
        return len(self.rows)

    def refresh(self) -> None:
        """Reload the list from the workspace and show the current page."""
        cid = self.county_id
        frame = self.ws.query(
            "forms_screened", [list(self.verdicts), cid, cid, self.job_id, self.job_id]
        )
        self.rows = frame.to_dict("records")
        self.show_page(self.page)

    def show_page(self, page: int) -> None:
        """Show one page of the list (clamped to the pages there are)."""
        pages = max(1, math.ceil(len(self.rows) / self.page_size))
        self.page = min(max(0, page), pages - 1)
        start = self.page * self.page_size
        shown = self.rows[start : start + self.page_size]
        self.prev_button.disabled = self.page == 0
        self.next_button.disabled = self.page >= pages - 1
        what = "/".join(self.verdicts)
        self.header.value = (
            f"<b>visual_validation review</b>: {len(self.rows)} {html.escape(what)} "
            f"propert{'y' if len(self.rows) == 1 else 'ies'}"
            + (f" · page {self.page + 1}/{pages}" if self.rows else "")
            + ". An override needs a note; the computed verdict is kept."
        )
        self.cards = {str(r["property_id"]): self._card(r) for r in shown}
        self.body.children = [c["widget"] for c in self.cards.values()]

    def _card(self, r: dict[str, Any]) -> dict[str, Any]:
        import ipywidgets as w

        from toolkit.research import VERDICTS

        pid = str(r["property_id"])
        info = w.HTML(self._card_html(r))
        choice = w.ToggleButtons(
            options=list(VERDICTS),
            description="Override",
            value=None if _blank(r.get("override_verdict")) else r["override_verdict"],
        )
        note = w.Text(
            placeholder="why (what you saw) — required", description="Note", layout={"width": "60%"}
        )
        button = w.Button(description="Save override", button_style="primary", icon="save")
        msg = w.HTML()
        button.on_click(lambda _: self.override(pid))
        box = w.HBox([_sketch(r.get("sketch_path")), w.VBox([info, choice, note, button, msg])])
        return {
            "row": r,
            "info": info,
            "choice": choice,
            "note": note,
            "button": button,
            "message": msg,
            "widget": box,
        }

    @staticmethod
    def _card_html(r: dict[str, Any]) -> str:
        reasons = "".join(
            f"<li>{html.escape(x)}</li>" for x in str(r.get("reasons") or "").split("; ") if x
        )
        links = imagery_links(r.get("lat"), r.get("lon"))
        over = ""
        if not _blank(r.get("override_verdict")):
            over = (
                f"<div>Override: <b>{html.escape(str(r['override_verdict']))}</b> — "
                f"{html.escape(_text(r.get('override_note')))}</div>"
            )
        return (
            f"<div><b>{html.escape(_text(r.get('parcel_id')))}</b> · "
            f"{html.escape(_text(r.get('address')))}, {html.escape(_text(r.get('municipality')))},"
            f" {html.escape(_text(r.get('county')))} County</div>"
            f"<div>Computed verdict: <b>{html.escape(str(r['verdict']))}</b></div>"
            f"<ul>{reasons}</ul>{over}"
            + (" · ".join(_a(u, k + " view") for k, u in links.items()) if links else "")
        )

    def override(
        self, property_id: str, verdict: str | None = None, note: str | None = None
    ) -> bool:
        """Save an override for a listed property (default: its card's choice and note).

        Returns True when saved; otherwise the error is shown on the card and nothing changes.
        """
        card = self.cards.get(str(property_id))
        if card is None:
            self._say(f"Property {property_id} is not on this page.", error=True)
            return False
        verdict = card["choice"].value if verdict is None else verdict
        note = card["note"].value if note is None else note
        try:
            if verdict is None:
                raise ValidationError(
                    "Choose the verdict to override with (APPROVED, CAUTION, REJECTED)."
                )
            self.ws.override_verdict(str(property_id), verdict, note)
        except ToolkitError as exc:
            card["message"].value = f"<div style='color:#b00020'>{html.escape(str(exc))}</div>"
            return False
        row = card["row"] | {
            "override_verdict": str(verdict).strip().upper(),
            "override_note": note,
        }
        card["row"] = row
        card["info"].value = self._card_html(row)
        saved = html.escape(row["override_verdict"])
        card["message"].value = f"<div>Saved: override {saved}.</div>"
        card["note"].value = ""
        for r in self.rows:
            if str(r["property_id"]) == str(property_id):
                r.update(override_verdict=row["override_verdict"], override_note=note)
        return True

    def _say(self, text: str, *, error: bool = False) -> None:
        color = "#b00020" if error else "inherit"
        self.message.value = f"<div style='color:{color}'>{html.escape(text)}</div>"


# -- bid list ----------------------------------------------------------------------


class BidExport:
    """The bid list (BID and REVIEW properties, nearest sale first) and an export button.

    Export writes ``exports/bid_list_<county or all>_<UTC time>.<csv|xlsx>`` in
    the workspace's data folder (``data/exports/`` for the default workspace).

    Examples
    --------
    >>> from toolkit.notebook.forms import BidExport
    >>> len(BidExport(":memory:").frame)
    0
    """

    SHOW_ROWS = 200

    def __init__(self, db: str | None = None, *, county: str | int | None = None) -> None:
        import ipywidgets as w

        from toolkit.research import EXPORT_FORMATS

        self.ws = _connect(db)
        self.county = county
        self.frame: pd.DataFrame | None = None
        self.path: Path | None = None
        self.format = w.Dropdown(options=list(EXPORT_FORMATS), value="csv", description="Format")
        self.export_button = w.Button(description="Export", button_style="success", icon="download")
        self.refresh_button = w.Button(description="Refresh", icon="sync")
        self.table = w.HTML()
        self.message = w.HTML()
        self.export_button.on_click(lambda _: self.export())
        self.refresh_button.on_click(lambda _: self.refresh())
        self.widget = w.VBox(
            [
                w.HBox([self.format, self.export_button, self.refresh_button]),
                self.message,
                self.table,
            ]
        )
        self.refresh()

    def _ipython_display_(self) -> None:
        from IPython.display import display

        display(self.widget)

    def refresh(self) -> None:
        """Reload the bid list."""
        self.frame = self.ws.bid_list(self.county)
        shown = self.frame.head(self.SHOW_ROWS)
        more = (
            f"<div>First {self.SHOW_ROWS} of {len(self.frame)}; export for all.</div>"
            if len(self.frame) > self.SHOW_ROWS
            else ""
        )
        self.table.value = more + _frame_html(shown, "No BID or REVIEW properties yet.")

    def export(self, path: str | Path | None = None) -> Path | None:
        """Write the bid list; returns the file (None when it failed, with the error shown)."""
        if path is None:
            scope = str(self.county or "all").replace(" ", "_")
            stamp = dt.datetime.now(dt.UTC).strftime("%Y%m%d-%H%M%S")
            path = self.ws.data_dir / "exports" / f"bid_list_{scope}_{stamp}.{self.format.value}"
        try:
            self.path = self.ws.export_bids(path, self.county)
        except ToolkitError as exc:
            self.message.value = f"<div style='color:#b00020'>{html.escape(str(exc))}</div>"
            return None
        self.refresh()  # the file holds the list as of now: show the same
        n = 0 if self.frame is None else len(self.frame)
        where = html.escape(str(self.path))
        self.message.value = f"<div>Wrote {n} row(s) to <code>{where}</code></div>"
        return self.path


__all__ = [
    "BidExport",
    "ConditionForm",
    "CountyResearchForm",
    "ScreeningReview",
    "TitleForm",
    "check_liens",
    "condition_result",
    "imagery_links",
    "search_link",
    "title_result",
]
