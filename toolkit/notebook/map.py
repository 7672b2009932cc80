"""Properties on a map (ipyleaflet): coloured by decision or screening verdict; click → property.

Every property with coordinates (from its parcel record) is a point,
coloured by its bid decision (BID / REVIEW / PASS) or its screening verdict.
A flood-zone layer is drawn where the workspace's environmental sources use a
local one. The map works offline: without a network it shows the points on a
blank map (no base tiles are fetched); online it adds OpenStreetMap tiles.
Clicking a point opens the :class:`~toolkit.notebook.property.PropertyView`
below the map.
"""

from __future__ import annotations

import asyncio
import html
import socket
from pathlib import Path
from typing import TYPE_CHECKING, Any

from toolkit.exceptions import UnknownChoiceError
from toolkit.notebook.view import DECISION_COLOURS, VERDICT_COLOURS, blank, money

if TYPE_CHECKING:
    import pandas as pd

    from toolkit.workspace import Workspace

COLOUR_BY = ("decision", "verdict")
NO_RESULT = "#4a6fa5"  # a property without a decision / verdict yet
TILE_HOST = ("tile.openstreetmap.org", 443)
FLOOD_COLOURS = {
    "A": "#1f78b4",
    "AE": "#1f78b4",
    "AO": "#1f78b4",
    "AH": "#1f78b4",
    "VE": "#08306b",
    "X": "#a6cee3",
}


def online(timeout: float = 1.5) -> bool:
    """Whether the tile server answers (a TCP connect, nothing downloaded)."""
    try:
        with socket.create_connection(TILE_HOST, timeout=timeout):
            return True
    except OSError:
        return False


def map_points(ws: Workspace, county: object = None) -> pd.DataFrame:
    """Active properties with coordinates: id, county, parcel, address, decision, verdict, …"""
    cid = ws.county_id(county) if county is not None else None
    frame = ws.query("notebook_property_index", [cid, cid])
    return frame.dropna(subset=["lat", "lon"]).reset_index(drop=True)


def colour(row: dict[str, Any], by: str) -> str:
    """A point's colour: its decision's or its verdict's (blue-grey when it has none)."""
    if by == "decision":
        return DECISION_COLOURS.get(str(row.get("decision")), NO_RESULT)
    return VERDICT_COLOURS.get(str(row.get("verdict")), NO_RESULT)


def points_geojson(frame: pd.DataFrame, by: str = "decision") -> dict[str, Any]:
    """The points as a GeoJSON FeatureCollection, each with its colour and a short label."""
    if by not in COLOUR_BY:
        raise UnknownChoiceError("colour by", by, COLOUR_BY)
    features = []
    for row in frame.to_dict("records"):
        label = by and row.get(by)
        features.append(
            {
                "type": "Feature",
                "geometry": {
                    "type": "Point",
                    "coordinates": [float(row["lon"]), float(row["lat"])],
                },
                "properties": {
                    "property_id": str(row["property_id"]),
                    "parcel_id": str(row["parcel_id"]),
                    "county": str(row["county"]),
                    "address": "" if blank(row.get("address")) else str(row["address"]),
                    "label": "" if blank(label) else str(label),
                    "colour": colour(row, by),
                    "max_bid": money(row.get("max_bid_moderate")),
                },
            }
        )
    return {"type": "FeatureCollection", "features": features}


def flood_layer_path(ws: Workspace) -> Path | None:
    """The local flood-zone layer the workspace's environmental sources use (None: none)."""
    from toolkit.environment import sample_layers_dir
    from toolkit.processors.environment import sources_config

    try:
        # as the environmental_research processor decides (the demo's mark allows the sample)
        cfg = sources_config(ws.data_dir, demo=ws.processor_context().meta("kind") == "demo")
    except Exception:  # a broken settings file is the environment job's to report
        return None
    mode = cfg.get("mode")
    spec = cfg.get("flood")
    if spec is None and mode == "sample":
        path: Any = sample_layers_dir() / "flood_zones_synthetic.geojson"
    elif isinstance(spec, str | Path) and any(ch in str(spec) for ch in "/\\."):
        path = spec
    elif isinstance(spec, dict) and spec.get("path"):
        path = spec["path"]
    else:
        return None
    p = Path(path)
    return p if p.is_file() else None


def flood_geojson(path: str | Path) -> dict[str, Any]:
    """A flood-zone layer file (GeoJSON, GeoPackage) as GeoJSON for the map."""
    from shapely.geometry import mapping

    from toolkit.sources.layers import read_layer

    layer = read_layer(path)
    return {
        "type": "FeatureCollection",
        "features": [
            {
                "type": "Feature",
                "geometry": mapping(f.geometry),
                "properties": {
                    k: v
                    for k, v in f.properties.items()
                    if isinstance(v, str | int | float | bool) or v is None
                },
            }
            for f in layer.features
        ],
    }


def _flood_style(feature: dict[str, Any]) -> dict[str, Any]:
    props = feature.get("properties") or {}
    zone = str(props.get("FLD_ZONE") or props.get("zone") or "")
    return {"color": FLOOD_COLOURS.get(zone, "#1f78b4"), "fillOpacity": 0.25, "weight": 1}


def _point_style(feature: dict[str, Any]) -> dict[str, Any]:
    c = feature["properties"]["colour"]
    return {"color": "#333333", "fillColor": c, "fillOpacity": 0.9, "weight": 1, "radius": 6}


class PropertyMap:
    """The workspace's properties on a map; click a point to open the property below.

    Parameters
    ----------
    db
        The workspace.
    county
        Only this county (default: all).
    colour_by
        ``decision`` (BID / REVIEW / PASS) or ``verdict`` (APPROVED / CAUTION / REJECTED).
    tiles
        Base tiles: True, False, or None to add them only when the tile server answers.
    flood_layer
        A flood-zone layer file (default: the local layer the environmental sources use).

    Examples
    --------
    >>> from toolkit.notebook.map import PropertyMap
    >>> len(PropertyMap(":memory:", tiles=False).points)
    0
    """

    def __init__(
        self,
        db: str | Workspace | None = None,
        *,
        county: str | int | None = None,
        colour_by: str = "decision",
        tiles: bool | None = None,
        flood_layer: str | Path | None = None,
    ) -> None:
        import ipyleaflet as L
        import ipywidgets as w

        from toolkit.notebook.panel import _connect

        if colour_by not in COLOUR_BY:
            raise UnknownChoiceError("colour by", colour_by, COLOUR_BY)
        self.ws = _connect(db)
        self.county = county
        self.points = map_points(self.ws, county)
        self.tiles = online() if tiles is None else bool(tiles)
        self.flood_path = Path(flood_layer) if flood_layer else flood_layer_path(self.ws)
        center = (
            (float(self.points.lat.mean()), float(self.points.lon.mean()))
            if len(self.points)
            else (40.9, -77.8)
        )
        self.map = L.Map(
            center=center,
            zoom=8 if len(self.points) else 7,
            scroll_wheel_zoom=True,
            layout={"height": "520px"},
        )
        self.map.add_class("toolkit-map")
        # offline: no base layer at all, so nothing is fetched and the points show on blank
        self.map.layers = tuple(x for x in self.map.layers if not getattr(x, "base", False))
        if self.tiles:
            self.map.add(L.basemap_to_tiles(L.basemaps.OpenStreetMap.Mapnik))
        self.flood: Any = None
        if self.flood_path is not None:
            self.flood = L.GeoJSON(
                data=flood_geojson(self.flood_path), style_callback=_flood_style, name="flood zones"
            )
            self.map.add(self.flood)
        self.colour_by = w.ToggleButtons(
            options=[("Decision", "decision"), ("Screening verdict", "verdict")],
            value=colour_by,
            description="Colour",
        )
        self.layer = L.GeoJSON(
            data=points_geojson(self.points, colour_by),
            point_style={"radius": 6},
            style_callback=_point_style,
            hover_style={"weight": 3},
            name="properties",
        )
        self.layer.on_click(self._on_click)
        self.map.add(self.layer)
        self.map.add(L.LayersControl(position="topright"))
        if len(self.points):
            south, west = float(self.points.lat.min()), float(self.points.lon.min())
            north, east = float(self.points.lat.max()), float(self.points.lon.max())
            self.map.center = ((south + north) / 2, (west + east) / 2)
            try:  # fit_bounds schedules a coroutine on the kernel's event loop
                asyncio.get_running_loop()
            except RuntimeError:  # none (a script, a test): the centre is what we can do
                pass
            else:
                self.map.fit_bounds([[south, west], [north, east]])
        self.legend = w.HTML()
        self.legend.add_class("toolkit-map-legend")
        self.property_box = w.VBox([])
        self.colour_by.observe(lambda ch: self.recolour(ch["new"]), names="value")
        self._legend()
        self.widget = w.VBox(
            [
                self.colour_by,
                self.legend,
                self.map,
                w.HTML("<h4>Property</h4><i>Click a point to open it here.</i>"),
                self.property_box,
            ]
        )

    def _ipython_display_(self) -> None:
        from IPython.display import display

        display(self.widget)

    def _legend(self) -> None:
        by = self.colour_by.value
        colours = DECISION_COLOURS if by == "decision" else VERDICT_COLOURS
        counts = self.points[by].fillna("none").value_counts() if len(self.points) else {}
        dot = (
            "<span style='display:inline-block;width:10px;height:10px;border-radius:5px;"
            "background:{}'></span>"
        )
        items = [
            f"{dot.format(c)} {html.escape(k)} ({int(counts.get(k, 0))})"
            for k, c in colours.items()
        ]
        items.append(f"{dot.format(NO_RESULT)} none yet ({int(counts.get('none', 0))})")
        extra = [
            f"{len(self.points)} properties with coordinates",
            "base tiles: OpenStreetMap" if self.tiles else "offline: no base tiles",
            f"flood zones: {self.flood_path.name}"
            if self.flood_path
            else "no flood-zone layer loaded",
        ]
        self.legend.value = " · ".join(items) + "<br><small>" + " · ".join(extra) + "</small>"

    def recolour(self, by: str) -> None:
        """Colour the points by ``decision`` or ``verdict``."""
        self.layer.data = points_geojson(self.points, by)
        if self.colour_by.value != by:
            self.colour_by.value = by
        self._legend()

    def _on_click(
        self, event: Any = None, feature: dict[str, Any] | None = None, **kw: Any
    ) -> None:
        if feature:
            self.open(feature["properties"]["property_id"])

    def open(self, property_id: str) -> Any:
        """Open a property's view below the map; returns the view."""
        from toolkit.notebook.property import PropertyView

        view = PropertyView(self.ws, str(property_id))
        self.view = view
        self.property_box.children = [view.widget]
        return view
