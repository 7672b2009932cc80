"""One page per property: every stage's result with its inputs, the sketch, links and forms.

:func:`property_record` gathers what the workspace knows about one property —
the sale-list row, the parcel record, screening, condition, environment,
title (and its liens), the bid — and the county's research (its links to the
recorder and the tax claim bureau, its upcoming sales). :class:`PropertyView`
shows it as one page, with the parcel sketch, imagery links and the research
a person can record for this property right there (a screening override, a
condition grade, a title search).
"""

from __future__ import annotations

import html
import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

from toolkit.exceptions import ToolkitError, ValidationError
from toolkit.notebook.view import (
    DECISION_COLOURS,
    VERDICT_COLOURS,
    badge,
    blank,
    error_html,
    local_time,
    money,
)

if TYPE_CHECKING:
    import pandas as pd

    from toolkit.workspace import Workspace

STAGES = ("parcel", "screening", "condition", "environment", "title", "bid")

# (label, column, kind) per stage; kind: text, money, pct, reasons, json, time, number
FIELDS: dict[str, list[tuple[str, str, str]]] = {
    "sale": [
        ("County", "county", "text"),
        ("Parcel", "parcel_id", "text"),
        ("Control number", "control_number", "text"),
        ("Address", "address", "text"),
        ("Municipality", "municipality", "text"),
        ("Owner", "owner", "text"),
        ("Description", "description", "text"),
        ("Upset price", "upset_price", "money"),
        ("Sale type", "sale_type", "text"),
        ("Sale date", "sale_date", "date"),
        ("Status", "auction_status", "text"),
    ],
    "parcel": [
        ("Parcel number", "parcelnumb", "text"),
        ("Address", "address", "text"),
        ("City", "city", "text"),
        ("ZIP", "zip", "text"),
        ("Use", "usedesc", "text"),
        ("Zoning", "zoning", "text"),
        ("Lot acres", "lot_acres", "number"),
        ("Buildings", "bldg_count", "number"),
        ("Footprint sq ft", "bldg_footprint_sqft", "number"),
        ("Year built", "year_built", "number"),
        ("Land value", "land_value", "money"),
        ("Improvement value", "improvement_value", "money"),
        ("Total value", "total_value", "money"),
        ("Owner", "owner", "text"),
        ("Mailing address", "mail_address", "text"),
        ("USPS vacancy", "usps_vacancy", "text"),
        ("FEMA flood zone", "fema_flood_zone", "text"),
        ("Width ft", "width_ft", "number"),
        ("Aspect ratio", "aspect_ratio", "number"),
        ("Compactness", "compactness", "number"),
        ("Coordinates", "_coords", "text"),
        ("Source", "source", "text"),
        ("Fetched", "fetched_at", "time"),
    ],
    "screening": [
        ("Verdict", "verdict", "verdict"),
        ("Override", "override_verdict", "verdict"),
        ("Override note", "override_note", "text"),
        ("Reasons", "reasons", "reasons"),
        ("Confidence", "confidence", "pct"),
        ("Inputs", "inputs_used", "json"),
        ("Validated", "validated_at", "time"),
    ],
    "condition": [
        ("Grade", "grade", "text"),
        ("Computed grade", "computed_grade", "text"),
        ("Manual grade", "manual_grade", "text"),
        ("Repair estimate", "repair_estimate", "money"),
        ("Repairs per sq ft", "repair_per_sqft", "money"),
        ("Score", "score", "number"),
        ("Reasons", "reasons", "reasons"),
        ("Signals", "signals", "json"),
        ("Confidence", "confidence", "pct"),
        ("Inputs", "inputs_used", "json"),
        ("Assessed", "assessed_at", "time"),
    ],
    "environment": [
        ("Risk", "risk_level", "text"),
        ("Flood zone", "flood_zone", "text"),
        ("In a flood hazard area", "flood_sfha", "text"),
        ("Flood source", "flood_source", "text"),
        ("EPA facilities", "epa_facilities", "number"),
        ("EPA details", "epa_details", "json"),
        ("Wetlands", "wetlands", "text"),
        ("Wetland details", "wetland_details", "json"),
        ("Mine subsidence", "mine_subsidence", "text"),
        ("Reasons", "reasons", "reasons"),
        ("Confidence", "confidence", "pct"),
        ("Inputs", "inputs_used", "json"),
        ("Assessed", "assessed_at", "time"),
    ],
    "title": [
        ("Status", "status", "text"),
        ("Surviving liens", "surviving_liens", "json"),
        ("Surviving total", "surviving_total", "money"),
        ("Redemption risk", "redemption_risk", "text"),
        ("Reasons", "reasons", "reasons"),
        ("Confidence", "confidence", "pct"),
        ("Researched", "researched_at", "time"),
    ],
    "bid": [
        ("Decision", "decision", "decision"),
        ("Max bid (conservative)", "max_bid_conservative", "money"),
        ("Max bid (moderate)", "max_bid_moderate", "money"),
        ("Max bid (aggressive)", "max_bid_aggressive", "money"),
        ("Market value", "market_value", "money"),
        ("Market value source", "market_value_source", "text"),
        ("Upset price", "upset_price", "money"),
        ("CLR factor", "clr_factor", "number"),
        ("CLR source", "clr_source", "text"),
        ("Repairs", "repairs", "money"),
        ("Surviving liens", "surviving_liens_total", "money"),
        ("Transfer tax", "transfer_tax", "money"),
        ("Selling costs", "selling_costs", "money"),
        ("Missing inputs", "missing_inputs", "text"),
        ("Reasons", "reasons", "reasons"),
        ("Breakdown", "breakdown", "json"),
        ("Confidence", "confidence", "pct"),
        ("Inputs", "inputs_used", "json"),
        ("Calculated", "calculated_at", "time"),
        ("Out of date", "out_of_date", "text"),
    ],
}
TITLES = {
    "sale": "Sale list",
    "parcel": "Parcel record (regrid_scraping)",
    "screening": "Screening (visual_validation)",
    "condition": "Condition (property_condition)",
    "environment": "Environment (environmental_research)",
    "title": "Title (title_research)",
    "bid": "Bid (bid_strategy)",
}
RECORDER_WORDS = ("recorder", "deeds", "register")
TAX_CLAIM_WORDS = ("tax claim", "tax sale", "upset")


def _first(frame: pd.DataFrame) -> dict[str, Any] | None:
    return None if frame.empty else frame.iloc[0].to_dict()


def find_property(ws: Workspace, key: str, county: object = None) -> str:
    """A property's id from its id (or its first 8 characters) or its parcel number.

    A parcel number found in several counties needs ``county``.
    """
    cid = ws.county_id(county) if county is not None else None
    index = ws.query("notebook_property_index", [cid, cid])
    key = str(key).strip()
    hit = index[index.property_id == key]
    if hit.empty and len(key) >= 8:
        hit = index[index.property_id.str.startswith(key)]
    if hit.empty:
        hit = index[index.parcel_id.astype(str).str.strip() == key]
    if hit.empty:
        raise ValidationError(
            f"No active property {key!r}"
            + (f" in {county}" if county is not None else "")
            + ": give its parcel number (and county) or its id."
        )
    if len(hit) > 1:
        where = ", ".join(sorted(hit.county.astype(str)))
        raise ValidationError(f"Parcel {key!r} is listed in {where}: name the county too.")
    return str(hit.property_id.iloc[0])


def property_record(ws: Workspace, property_id: str) -> dict[str, Any]:
    """Everything on file for one property, by stage (None where a stage has no result).

    Keys: ``sale``, ``parcel``, ``screening``, ``condition``, ``environment``,
    ``title``, ``liens`` (a frame), ``bid`` (with its ``breakdown`` and
    ``out_of_date``), ``county_links`` (a list of ``{url, title}``),
    ``county_sales`` (a frame).
    """
    pid = str(property_id)
    sale = _first(ws.query("notebook_property", [pid]))
    if sale is None:
        raise ValidationError(f"No property {pid!r} in this workspace.")
    rec: dict[str, Any] = {"sale": sale}
    for stage in STAGES:
        rec[stage] = _first(ws.query(f"notebook_property_{stage}", [pid]))
    rec["liens"] = ws.query("notebook_property_liens", [pid])
    research = ws.query("notebook_county_links", [int(sale["county_id"])])
    links: list[dict[str, str]] = []
    for raw in research.links if not research.empty else []:
        try:
            links += [x for x in json.loads(raw or "[]") if isinstance(x, dict) and x.get("url")]
        except (TypeError, ValueError):
            continue
    rec["county_links"] = links
    rec["county_sales"] = ws.query("notebook_county_sales", [int(sale["county_id"])])
    return rec


def _value(v: Any, kind: str) -> str:
    if blank(v) if not isinstance(v, list | dict) else not v:
        return ""
    if kind == "money":
        return html.escape(money(v))
    if kind == "pct":
        try:
            return f"{float(v):.0%}"
        except (TypeError, ValueError):
            return html.escape(str(v))
    if kind == "time":
        return html.escape(local_time(v))
    if kind == "date":
        return html.escape(str(v)[:10])
    if kind == "number":
        try:
            x = float(v)
        except (TypeError, ValueError):
            return html.escape(str(v))
        return f"{x:,.0f}" if x == int(x) else f"{x:,.2f}"
    if kind == "decision":
        return badge(v, DECISION_COLOURS)
    if kind == "verdict":
        return badge(v, VERDICT_COLOURS)
    if kind == "reasons":
        parts = [p.strip() for p in str(v).split(";") if p.strip()]
        if str(v).lstrip().startswith("["):
            try:
                parts = [str(x) for x in json.loads(str(v))]
            except ValueError:
                pass
        items = "".join(f"<li>{html.escape(p)}</li>" for p in parts)
        return f"<ul style='margin:0'>{items}</ul>"
    if kind == "json":
        data = v
        if isinstance(v, str):
            try:
                data = json.loads(v)
            except ValueError:
                return html.escape(v)
        text = json.dumps(data, indent=1, default=str)
        if len(text) < 60:
            return f"<code>{html.escape(text)}</code>"
        return f"<details><summary>show</summary><pre>{html.escape(text)}</pre></details>"
    return html.escape(str(v))


def section_html(stage: str, row: dict[str, Any] | None) -> str:
    """One stage's result as an HTML table (a note when the stage has not run)."""
    title = html.escape(TITLES.get(stage, stage))
    if row is None:
        return (
            f"<div class='toolkit-stage toolkit-stage-{stage}'><h4>{title}</h4>"
            "<i>No result yet.</i></div>"
        )
    rows = []
    for label, col, kind in FIELDS[stage]:
        shown = _value(row.get(col), kind)
        if shown:
            rows.append(
                f"<tr><th style='text-align:left;padding-right:1em;vertical-align:top'>"
                f"{html.escape(label)}</th><td>{shown}</td></tr>"
            )
    return (
        f"<div class='toolkit-stage toolkit-stage-{stage}'><h4>{title}</h4>"
        f"<table>{''.join(rows)}</table></div>"
    )


def links_html(rec: dict[str, Any]) -> str:
    """The county's recorder and tax claim bureau (from its research), imagery, searches."""
    from toolkit.manual_research import imagery_links
    from toolkit.notebook.forms import _a, search_link

    sale, parcel = rec["sale"], rec.get("parcel") or {}
    county = str(sale.get("county") or "")
    found = rec.get("county_links") or []

    def pick(words: tuple[str, ...]) -> list[dict[str, str]]:
        return [
            x
            for x in found
            if any(w in (str(x.get("title", "")) + str(x.get("url", ""))).lower() for w in words)
        ]

    recorder, bureau = pick(RECORDER_WORDS), pick(TAX_CLAIM_WORDS)
    parts = []
    parts.append(
        "<b>Recorder of deeds</b>: "
        + (
            " · ".join(_a(x["url"], x.get("title") or x["url"]) for x in recorder)
            or search_link(
                f"{county} County Pennsylvania recorder of deeds online records search",
                "search (not in the county research)",
            )
        )
    )
    parts.append(
        "<b>Tax claim bureau</b>: "
        + (
            " · ".join(_a(x["url"], x.get("title") or x["url"]) for x in bureau)
            or search_link(
                f"{county} County Pennsylvania tax claim bureau upset sale",
                "search (not in the county research)",
            )
        )
    )
    other = [x for x in found if x not in recorder and x not in bureau]
    if other:
        parts.append(
            "<b>County research</b>: "
            + " · ".join(_a(x["url"], x.get("title") or x["url"]) for x in other)
        )
    address = ", ".join(
        str(x)
        for x in (sale.get("address"), sale.get("municipality"), f"{county} County", "PA")
        if not blank(x)
    )
    urls = imagery_links(parcel.get("lat"), parcel.get("lon"), address)
    names = {"street": "street-level view", "aerial": "aerial view", "place": "map search"}
    if urls:
        parts.append("<b>Imagery</b>: " + " · ".join(_a(u, names[k]) for k, u in urls.items()))
    return "<div class='toolkit-links'>" + "<br>".join(parts) + "</div>"


def header_html(rec: dict[str, Any]) -> str:
    sale, bid, scr = rec["sale"], rec.get("bid") or {}, rec.get("screening") or {}
    verdict = (
        scr.get("override_verdict")
        if not blank(scr.get("override_verdict"))
        else scr.get("verdict")
    )
    bits = [badge(bid.get("decision"), DECISION_COLOURS), badge(verdict, VERDICT_COLOURS)]
    if not blank(bid.get("max_bid_moderate")):
        bits.append(f"max bid <b>{money(bid.get('max_bid_moderate'))}</b>")
    bits.append(f"upset price {money(sale.get('upset_price'))}")
    place = ", ".join(
        str(x)
        for x in (sale.get("address"), sale.get("municipality"), f"{sale.get('county')} County")
        if not blank(x)
    )
    return (
        f"<h3 class='toolkit-property-title'>Parcel {html.escape(str(sale['parcel_id']))} · "
        f"{html.escape(place)}</h3><div>{' · '.join(b for b in bits if b)}</div>"
    )


def _sketch_widget(rec: dict[str, Any]) -> Any:
    import ipywidgets as w

    path = (rec.get("parcel") or {}).get("sketch_path")
    p = Path(str(path)) if not blank(path) else None
    if p is not None and p.is_file():
        img = w.Image(value=p.read_bytes(), format="png", layout={"width": "300px"})
        img.add_class("toolkit-sketch")
        return img
    return w.HTML("<i>No parcel sketch on file.</i>")


class PropertyView:
    """One property on one page: each stage's result and inputs, sketch, links, research forms.

    Parameters
    ----------
    db
        The workspace (a path or URL, or a Workspace another page shares).
    property
        The property's id, or its parcel number (with ``county`` when the number
        is listed in several counties). None: an empty page with a parcel box.
    county
        The county of a parcel number.

    Examples
    --------
    >>> from toolkit.notebook.property import PropertyView
    >>> PropertyView(":memory:").record is None
    True
    """

    def __init__(
        self,
        db: str | Workspace | None = None,
        property: str | None = None,
        *,
        county: str | int | None = None,
    ) -> None:
        import ipywidgets as w

        from toolkit.decisions.profile import GRADES
        from toolkit.decisions.title import LIEN_TYPES
        from toolkit.notebook.panel import _connect
        from toolkit.research import VERDICTS

        self.ws = _connect(db)
        self.county = county
        self.property_id: str | None = None
        self.record: dict[str, Any] | None = None
        self.key = w.Text(
            description="Parcel",
            placeholder="parcel number or property id",
            value="" if property is None else str(property),
        )
        self.county_box = w.Text(
            description="County",
            placeholder="if the parcel is in several",
            value="" if county is None else str(county),
        )
        self.open_button = w.Button(description="Open", icon="search", button_style="primary")
        self.header = w.HTML()
        self.links = w.HTML()
        self.sketch = w.Box([])
        self.stages = w.HTML()
        self.message = w.HTML()
        self.message.add_class("toolkit-property-message")
        self.open_button.on_click(
            lambda _: self.open(self.key.value, self.county_box.value or None)
        )
        # research forms for this property
        self.verdict = w.ToggleButtons(options=list(VERDICTS), value=None, description="Override")
        self.verdict_note = w.Text(
            description="Why", placeholder="what you saw — required", layout={"width": "60%"}
        )
        self.verdict_button = w.Button(description="Save override", icon="save")
        self.grade = w.ToggleButtons(options=list(GRADES), value=None, description="Grade")
        self.grade_note = w.Text(
            description="Note", placeholder="what the imagery shows", layout={"width": "60%"}
        )
        self.grade_button = w.Button(description="Save grade", icon="save")
        self.lien_type = w.Dropdown(options=["(no liens found)", *LIEN_TYPES], description="Lien")
        self.lien_holder = w.Text(placeholder="holder", layout={"width": "180px"})
        self.lien_amount = w.Text(placeholder="amount", layout={"width": "100px"})
        self.lien_date = w.Text(placeholder="recorded YYYY-MM-DD", layout={"width": "150px"})
        self.lien_source = w.Text(
            description="Source", value="manual", placeholder="where you searched"
        )
        self.lien_button = w.Button(description="Save title search", icon="save")
        self.verdict_button.on_click(lambda _: self.override())
        self.grade_button.on_click(lambda _: self.save_grade())
        self.lien_button.on_click(lambda _: self.save_title_search())
        forms = w.Accordion(
            children=[
                w.VBox([self.verdict, self.verdict_note, self.verdict_button]),
                w.VBox([self.grade, self.grade_note, self.grade_button]),
                w.VBox(
                    [
                        w.HBox(
                            [self.lien_type, self.lien_holder, self.lien_amount, self.lien_date]
                        ),
                        self.lien_source,
                        self.lien_button,
                    ]
                ),
            ]
        )
        for i, t in enumerate(("Screening override", "Condition grade", "Title search")):
            forms.set_title(i, t)
        self.forms = forms
        self.widget = w.VBox(
            [
                w.HBox([self.key, self.county_box, self.open_button]),
                self.message,
                self.header,
                w.HBox([self.sketch, self.links]),
                self.stages,
                w.HTML("<h4>Record research for this property</h4>"),
                forms,
            ]
        )
        self.widget.add_class("toolkit-property")
        if property is not None:
            self.open(property, county)

    def _ipython_display_(self) -> None:
        from IPython.display import display

        display(self.widget)

    def _say(self, text: str, *, error: bool = False) -> None:
        self.message.value = (
            error_html(text)
            if error
            else (f"<div style='color:#1b7f3b'>✔ {html.escape(text)}</div>")
        )

    def open(self, key: str, county: object = None) -> dict[str, Any] | None:
        """Show the property with this id or parcel number; returns its record."""
        try:
            pid = find_property(self.ws, key, county)
            rec = property_record(self.ws, pid)
        except ToolkitError as exc:
            self._say(str(exc), error=True)
            return None
        self.property_id, self.record = pid, rec
        self.key.value = str(rec["sale"]["parcel_id"])
        self.county_box.value = str(rec["sale"]["county"])
        self.message.value = ""
        self.render()
        return rec

    def render(self) -> None:
        rec = self.record
        if rec is None:
            return
        self.header.value = header_html(rec)
        self.links.value = links_html(rec)
        self.sketch.children = [_sketch_widget(rec)]
        parcel = rec.get("parcel")
        if parcel is not None and not blank(parcel.get("lat")):
            parcel["_coords"] = f"{float(parcel['lat']):.5f}, {float(parcel['lon']):.5f}"
        parts = [section_html("sale", rec["sale"])]
        parts += [section_html(s, rec.get(s)) for s in STAGES]
        liens = rec["liens"]
        if not liens.empty:
            keep = [
                c
                for c in ("lien_type", "holder", "amount", "recorded_date", "source")
                if c in liens.columns
            ]
            table = liens[keep].to_html(index=False, border=0, na_rep="")
            parts.insert(6, f"<div class='toolkit-stage'><h4>Liens on file</h4>{table}</div>")
        sales = rec["county_sales"]
        if not sales.empty:
            table = sales.to_html(index=False, border=0, na_rep="")
            parts.append(
                f"<div class='toolkit-stage'><h4>County's upcoming sales</h4>{table}</div>"
            )
        self.stages.value = (
            "<style>.toolkit-stage table th{font-weight:600}.toolkit-stages{display:grid;"
            "grid-template-columns:repeat(auto-fill,minmax(460px,1fr));gap:4px 24px}"
            ".toolkit-stage{break-inside:avoid}</style>"
            f"<div class='toolkit-stages'>{''.join(parts)}</div>"
        )

    def _label(self) -> str:
        sale = (self.record or {}).get("sale") or {}
        where = ", ".join(
            str(x) for x in (sale.get("address"), sale.get("municipality")) if not blank(x)
        )
        return f"parcel {sale.get('parcel_id')}" + (f" ({where})" if where else "")

    def override(self, verdict: str | None = None, note: str | None = None) -> bool:
        """Override the screening verdict (a note is required); True when saved."""
        if self.property_id is None:
            self._say("Open a property first.", error=True)
            return False
        verdict = self.verdict.value if verdict is None else verdict
        note = self.verdict_note.value if note is None else note
        try:
            if verdict is None:
                raise ValidationError("Choose the verdict to override with.")
            self.ws.override_verdict(self.property_id, verdict, note)
        except ToolkitError as exc:
            self._say(str(exc), error=True)
            return False
        self.open(self.property_id)
        self._say(f"Saved: {self._label()} screening overridden to {verdict}.")
        return True

    def save_grade(self, grade: str | None = None, note: str | None = None) -> bool:
        """Grade the property from imagery (A-F); True when saved."""
        if self.property_id is None:
            self._say("Open a property first.", error=True)
            return False
        grade = self.grade.value if grade is None else grade
        note = self.grade_note.value if note is None else note
        try:
            if grade is None:
                raise ValidationError("Choose a grade (A-F).")
            res = self.ws.set_manual_grade(self.property_id, grade, note or None)
        except ToolkitError as exc:
            self._say(str(exc), error=True)
            return False
        self.open(self.property_id)
        repairs = money((res or {}).get("repair_estimate"))
        self._say(
            f"Saved: {self._label()} graded {grade}"
            + (f", repairs about {repairs}." if repairs else ".")
        )
        return True

    def save_title_search(self) -> bool:
        """Record a title search: the lien entered, or none found; True when saved."""
        if self.property_id is None:
            self._say("Open a property first.", error=True)
            return False
        liens: list[dict[str, Any]] = []
        if self.lien_type.value != "(no liens found)":
            liens = [
                {
                    "lien_type": self.lien_type.value,
                    "holder": self.lien_holder.value,
                    "amount": self.lien_amount.value,
                    "recorded_date": self.lien_date.value or None,
                }
            ]
        try:
            n = self.ws.record_title_search(
                self.property_id, liens, self.lien_source.value or "manual"
            )
        except ToolkitError as exc:
            self._say(str(exc), error=True)
            return False
        self.open(self.property_id)
        self._say(
            f"Saved: title search for {self._label()}, {n} lien(s) recorded. "
            "The title result follows when title_research works the property."
        )
        return True
