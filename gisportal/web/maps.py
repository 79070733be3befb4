"""The interactive zoning map, built with folium on locally served Leaflet.

folium's defaults load Leaflet, jQuery and Bootstrap from CDNs; here the map
loads only Leaflet, from the app's ``/vendor/`` route, so it works with no
internet. Zones and overlays in force are drawn by folium; parcels are loaded
by the page's script, by bounding box, once the map is zoomed in enough.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import date

import folium
from branca.element import MacroElement
from flask import url_for
from flask_babel import gettext as _
from jinja2 import Template
from markupsafe import escape

from gisportal.coords import WGS84, transformer
from gisportal.mapdata import OVERLAY_COLOURS, layer_geojson
from gisportal.overlays import overlay_kind
from gisportal.renderers import pick
from gisportal.web import Portal

logger = logging.getLogger(__name__)

#: Zoom from which parcels are drawn.
PARCEL_MIN_ZOOM = 16


class Legend(MacroElement):
    """A Leaflet control listing zone colours and labels."""

    _template = Template("""
        {% macro script(this, kwargs) %}
        (function () {
            var legend = L.control({position: 'bottomright'});
            legend.onAdd = function () {
                var div = L.DomUtil.create('div', 'gp-legend');
                div.innerHTML = {{ this.html|tojson }};
                L.DomEvent.disableScrollPropagation(div);
                return div;
            };
            legend.addTo({{ this._parent.get_name() }});
        })();
        {% endmacro %}
    """)

    def __init__(self, html: str) -> None:
        super().__init__()
        self._name = "Legend"
        self.html = html


@dataclass(frozen=True)
class RenderedMap:
    """The parts of a folium page our template embeds, and the map's JS name."""

    header: str
    body: str
    script: str
    map_name: str


def _legend_html(zones: dict, lang: str) -> str:
    seen: dict[str, tuple[str, str]] = {}
    for feature in zones["features"]:
        props = feature["properties"]
        seen.setdefault(props["code"], (props["color"], props["label"]))
    rows = "".join(
        f'<div class="gp-legend-row"><span class="gp-swatch" style="background:{escape(color)}"></span>'
        f"<b>{escape(code)}</b> {escape(label)}</div>"
        for code, (color, label) in sorted(seen.items())
    )
    kinds = "".join(
        f'<div class="gp-legend-row"><span class="gp-swatch gp-hatch" style="border-color:{escape(color)}"></span>'
        f"{escape(pick(overlay_kind(k).label_fr, overlay_kind(k).label_ar, lang, overlay_kind(k).label_en))}</div>"
        for k, color in OVERLAY_COLOURS.items()
    )
    return (f'<details open><summary>{escape(_("Legend"))}</summary>'
            f'<div class="gp-legend-title">{escape(_("Zoning"))}</div>{rows}'
            f'<div class="gp-legend-title">{escape(_("Servitudes"))}</div>{kinds}</details>')


def build_map(portal: Portal, lang: str, as_of: date | None = None) -> RenderedMap:
    """Render the zoning map for ``lang`` (cached per language, date and store state)."""
    key = (lang, as_of)
    cached = portal.map_cache.get(key)
    if cached is not None:
        return cached
    store, catalogue, settings = portal.store, portal.catalogue, portal.settings
    extent = store.extent()
    if extent:
        lon0, lat0, lon1, lat1 = transformer(store.crs, WGS84).transform_bounds(*extent)
        centre = [(lat0 + lat1) / 2, (lon0 + lon1) / 2]
    else:
        centre = [0.0, 0.0]
    m = folium.Map(location=centre, zoom_start=15, tiles=None, control_scale=True, prefer_canvas=True,
                   max_zoom=20, min_zoom=3)
    m.default_js = [("leaflet", url_for("vendor", lib="leaflet", filename="leaflet.js"))]
    m.default_css = [("leaflet_css", url_for("vendor", lib="leaflet", filename="leaflet.css"))]
    if settings.basemap_url:
        folium.TileLayer(tiles=settings.basemap_url, attr=settings.basemap_attribution or " ",
                         name=_("Base map"), overlay=False, show=True, max_zoom=20).add_to(m)
    zones = layer_geojson(store, catalogue, "zones", lang, as_of)
    overlays = layer_geojson(store, catalogue, "overlays", lang, as_of)
    folium.GeoJson(
        zones, name=_("Zoning"),
        style_function=lambda f: {"fillColor": f["properties"]["color"], "color": "#555555", "weight": 1,
                                  "fillOpacity": 0.45},
        tooltip=folium.GeoJsonTooltip(fields=["code", "label"], aliases=[_("Zone"), ""]) if zones["features"] else None,
    ).add_to(m)
    folium.GeoJson(
        overlays, name=_("Servitudes"),
        style_function=lambda f: {"color": f["properties"]["color"], "weight": 2, "dashArray": "6 4",
                                  "fillColor": f["properties"]["color"], "fillOpacity": 0.15},
        tooltip=(folium.GeoJsonTooltip(fields=["kind_label", "label"], aliases=["", ""])
                 if overlays["features"] else None),
    ).add_to(m)
    if extent:
        m.fit_bounds([[lat0, lon0], [lat1, lon1]])
    Legend(_legend_html(zones, lang)).add_to(m)
    folium.LayerControl(collapsed=False).add_to(m)
    root = m.get_root()
    root.render()
    rendered = RenderedMap(root.header.render(), root.html.render(), root.script.render(), m.get_name())
    portal.map_cache[key] = rendered
    return rendered
