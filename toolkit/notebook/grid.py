"""The bid list as an interactive grid: sortable, filterable, money formatted, one click away
from each property.

:func:`bid_grid_frame` turns the bid list (:meth:`Workspace.bid_list`) into the
rows a person reads: the decision as a coloured label, dollars as ``$12,300``,
the reasons cut to their first clause with the full text one click away, and
the bid's ``breakdown`` (its terms and redemption-risk fields) when the bid
list carries one. :class:`BidGrid` shows it with itables (DataTables: sort
by any column, search, pages), filters for decision and county, the export
button, and the property view of the row you click.
"""

from __future__ import annotations

import html
import json
from typing import TYPE_CHECKING, Any

from toolkit.exceptions import ToolkitError
from toolkit.notebook.view import DECISION_COLOURS, badge, blank, error_html, money

if TYPE_CHECKING:
    import pandas as pd

    from toolkit.workspace import Workspace

DECISIONS = ("BID", "REVIEW", "PASS")
MONEY_COLUMNS = (
    "upset_price",
    "max_bid_conservative",
    "max_bid_moderate",
    "max_bid_aggressive",
    "market_value",
    "repairs",
    "surviving_liens_total",
)
SHORT_REASON = 48
# what the grid shows (the rest is one click away, in the property view): one screen wide
HEADERS = {
    "decision": "Decision",
    "county": "County",
    "sale_date": "Sale",
    "parcel_id": "Parcel",
    "address": "Address",
    "upset_price": "Upset price",
    "max_bid_moderate": "Max bid",
    "market_value": "Market value",
    "condition_grade": "Cond.",
    "environmental_risk": "Env. risk",
    "flood_zone": "Flood",
    "title_status": "Title",
    "surviving_liens_total": "Surviving liens",
    "reasons": "Reasons",
    "breakdown": "Breakdown",
    "out_of_date": "Out of date",
}


def shorten(text: object, limit: int = SHORT_REASON) -> str:
    """The reasons as HTML: the first clause (cut at ``limit``), the full text on demand.

    >>> shorten("a; b")
    '<details><summary>a …</summary>a<br>b</details>'
    >>> shorten("short")
    'short'
    """
    if blank(text):
        return ""
    parts = [p.strip() for p in str(text).split(";") if p.strip()]
    first = parts[0] if parts else str(text)
    if len(parts) <= 1 and len(first) <= limit:
        return html.escape(first)
    head = first if len(first) <= limit else first[: limit - 1].rstrip() + "…"
    full = "<br>".join(html.escape(p) for p in parts)
    return f"<details><summary>{html.escape(head)} …</summary>{full}</details>"


def breakdown_html(value: object) -> str:
    """A bid's breakdown (JSON text or a mapping) as a short list, shown on demand."""
    if blank(value):
        return ""
    data = value
    if isinstance(value, str):
        try:
            data = json.loads(value)
        except ValueError:
            return shorten(value)
    if isinstance(data, dict):
        items = [f"<b>{html.escape(str(k))}</b>: {html.escape(_term(v))}" for k, v in data.items()]
    elif isinstance(data, list):
        items = [html.escape(_term(v)) for v in data]
    else:
        return html.escape(str(data))
    if not items:
        return ""
    return f"<details><summary>{len(items)} terms</summary>{'<br>'.join(items)}</details>"


def _term(v: object) -> str:
    if isinstance(v, float):
        return f"{v:,.2f}"
    if isinstance(v, dict | list):
        return json.dumps(v, default=str)
    return str(v)


def bid_list_with_ids(
    ws: Workspace, county: object = None, decisions: tuple[str, ...] = DECISIONS
) -> pd.DataFrame:
    """The bid list plus each row's ``property_id`` (matched on county and parcel)."""
    frame = ws.bid_list(county, decisions)
    cid = ws.county_id(county) if county is not None else None
    index = ws.query("notebook_property_index", [cid, cid])[["county", "parcel_id", "property_id"]]
    index = index.drop_duplicates(["county", "parcel_id"])
    return frame.merge(index, on=["county", "parcel_id"], how="left")


def bid_grid_frame(frame: pd.DataFrame) -> pd.DataFrame:
    """The rows the grid shows: labels coloured, money formatted, reasons shortened.

    Tolerates a bid list with or without ``breakdown``; leaves out ``property_id``,
    ``owner`` and the long ``missing_inputs``.
    """
    import pandas as pd

    out = pd.DataFrame(index=frame.index)
    for col in HEADERS:
        if col not in frame.columns:
            continue
        values = frame[col]
        if col == "decision":
            out[col] = values.map(lambda v: badge(v, DECISION_COLOURS))
        elif col == "max_bid_moderate":
            # the conservative and aggressive bids on hover: one money column, not three
            low = frame.get("max_bid_conservative", values * float("nan"))
            high = frame.get("max_bid_aggressive", values * float("nan"))
            out[col] = [
                f"<span title='conservative {money(lo)} · aggressive {money(hi)}'>{money(v)}</span>"
                if not blank(lo) or not blank(hi)
                else money(v)
                for v, lo, hi in zip(values, low, high, strict=True)
            ]
        elif col in MONEY_COLUMNS:
            out[col] = values.map(money)
        elif col == "sale_date":
            out[col] = values.map(lambda v: "" if blank(v) else str(v)[:10])
        elif col == "reasons":
            out[col] = values.map(shorten)
        elif col == "breakdown":
            out[col] = values.map(breakdown_html)
        elif col == "confidence":
            out[col] = values.map(lambda v: "" if blank(v) else f"{float(v):.0%}")
        else:
            out[col] = values.map(_cell_text)
    if "county" in out.columns and frame["county"].nunique() <= 1 and len(frame) > 1:
        out = out.drop(columns=["county"])  # one county: said above the grid
    if "sale_date" in out.columns and out["sale_date"].nunique() <= 1 and len(frame) > 1:
        out = out.drop(columns=["sale_date"])
    if "out_of_date" in out.columns and not (out["out_of_date"] != "").any():
        out = out.drop(columns=["out_of_date"])  # shown only when some bid is out of date
    return out.rename(columns=HEADERS).reset_index(drop=True)


def _cell_text(v: object) -> str:
    return (
        ""
        if blank(v)
        else html.escape(
            str(v).replace("_", " ").lower() if str(v).isupper() and "_" in str(v) else str(v)
        )
    )


GRID_STYLE = (
    "<style>.toolkit-bid-grid td{white-space:nowrap}"
    ".toolkit-bid-grid td:nth-last-child(-n+2){white-space:normal;min-width:220px}"
    ".toolkit-bid-grid details summary{cursor:pointer}</style>"
)


class BidGrid:
    """The bid list as a sortable, searchable grid; click a row to open its property below.

    Parameters
    ----------
    db
        The workspace.
    county
        Only this county (default: all).
    decisions
        Which decisions to list at first (BID and REVIEW; PASS on demand).

    Examples
    --------
    >>> from toolkit.notebook.grid import BidGrid
    >>> len(BidGrid(":memory:").frame)
    0
    """

    def __init__(
        self,
        db: str | None = None,
        *,
        county: str | int | None = None,
        decisions: tuple[str, ...] = ("BID", "REVIEW"),
    ) -> None:
        import ipywidgets as w

        from toolkit.notebook.forms import BidExport
        from toolkit.notebook.panel import _connect

        self.ws = _connect(db)
        self.county = county
        self.all: pd.DataFrame | None = None
        self.frame: pd.DataFrame = bid_list_with_ids(self.ws, None).head(0)
        self.decision = w.SelectMultiple(
            options=list(DECISIONS), value=list(decisions), description="Decision", rows=3
        )
        self.county_filter = w.Dropdown(description="County", options=[("All counties", None)])
        self.export = BidExport(self.ws, county=county)  # type: ignore[arg-type]
        self.export.table.layout.display = "none"  # the grid below shows the list
        self.count = w.HTML()
        self.style = w.HTML(GRID_STYLE)
        self.message = w.HTML()
        self.grid_box = w.VBox([], layout={"width": "100%"})
        self.property_box = w.VBox([])
        self.grid: Any = None
        self.decision.observe(lambda _: self.show(), names="value")
        self.county_filter.observe(lambda _: self.show(), names="value")
        self.count.add_class("toolkit-bid-count")
        self.widget = w.VBox(
            [
                self.style,
                w.HBox([self.decision, self.county_filter]),
                self.export.widget,
                self.count,
                self.message,
                self.grid_box,
                w.HTML("<h4>Property</h4><i>Click a row to open the property here.</i>"),
                self.property_box,
            ]
        )
        self.refresh()

    def _ipython_display_(self) -> None:
        from IPython.display import display

        display(self.widget)

    def refresh(self) -> None:
        """Reload the bid list (every decision) and show it with the current filters."""
        self.all = bid_list_with_ids(self.ws, self.county, DECISIONS)
        counties = sorted(self.all.county.dropna().unique().tolist())
        current = self.county_filter.value
        self.county_filter.options = [("All counties", None)] + [(c, c) for c in counties]
        self.county_filter.value = current if current in counties else None
        self.show()

    def filtered(self) -> pd.DataFrame:
        """The rows the filters keep, in the bid list's order."""
        assert self.all is not None
        frame = self.all[self.all.decision.isin(list(self.decision.value))]
        if self.county_filter.value is not None:
            frame = frame[frame.county == self.county_filter.value]
        return frame.reset_index(drop=True)

    def show(self) -> None:
        """Show the filtered rows in the grid."""
        from itables.widget import ITable

        if self.all is None:
            return
        self.frame = self.filtered()
        counts = self.frame.decision.value_counts()
        per = [f"{badge(d, DECISION_COLOURS)} {int(counts.get(d, 0))}" for d in self.decision.value]
        scope = self.frame.county.dropna().unique().tolist()
        sales = self.frame.sale_date.dropna().astype(str).str[:10].unique().tolist()
        where = f" in {scope[0]} County" if len(scope) == 1 else ""
        when = f", sale {sales[0]}" if len(sales) == 1 else ""
        self.count.value = f"<b>{len(self.frame)}</b> properties{where}{when}: " + ", ".join(per)
        shown = bid_grid_frame(self.frame)
        self.grid = ITable(
            shown,
            allow_html=True,
            select={"style": "single"},
            pageLength=25,
            lengthMenu=[10, 25, 50, 100],
            classes="display compact cell-border",
            maxBytes=0,
            scrollX=True,
            order=[],
            caption="Click a row for the property; click a header to sort; search filters.",
        )
        self.grid.add_class("toolkit-bid-grid")
        self.grid.layout.width = "100%"
        self.grid.observe(self._on_select, names="selected_rows")
        self.grid_box.children = [self.grid]

    def _on_select(self, change: dict[str, Any]) -> None:
        rows = change["new"] or []
        if rows:
            self.open(int(rows[0]))

    def open(self, row: int) -> Any:
        """Show the property of the grid's row ``row`` below the grid; returns its view."""
        from toolkit.notebook.property import PropertyView

        pid = self.frame.property_id.iloc[row]
        if blank(pid):
            self.message.value = error_html("That row's property is no longer on file.")
            return None
        try:
            view = PropertyView(self.ws, str(pid))
        except ToolkitError as exc:
            self.message.value = error_html(str(exc))
            return None
        self.view = view
        self.property_box.children = [view.widget]
        return view
