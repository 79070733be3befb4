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
from typing import cast

import folium
from branca.element import MacroElement
from flask import url_for
from flask_babel import gettext as _
from jinja2 import Template
from markupsafe import escape

from gisportal.core.coords import WGS84, transformer
from gisportal.note.render import pick
from gisportal.web.core.context import Portal
from gisportal.web.core.foliumparts import header_html
from gisportal.web.zoning.archives import archive_url_template
from gisportal.zoning.mapdata import OVERLAY_COLOURS
from gisportal.zoning.overlays import overlay_kind
from gisportal.zoning.plans import versions_in_force
from gisportal.zoning.tiles import LAYER_ZOOMS, MAX_NATIVE_ZOOM

logger = logging.getLogger(__name__)



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
    """The parts of a folium page our template embeds, and what the page's script needs."""

    header: str
    body: str
    script: str
    map_name: str
    styles: dict


def _zone_entries(portal: Portal, lang: str, as_of: date | None) -> dict[str, tuple[str, str]]:
    """Zone code -> (colour, label) for the zones in force."""
    store, catalogue = portal.store, portal.catalogue
    versions = [v.id for v in versions_in_force(store.plan_versions(), as_of or date.today())]
    frame = store.features("zones", versions, None)
    entries: dict[str, tuple[str, str]] = {}
    for code, fr, ar in zip(frame["code"], frame["label_fr"], frame["label_ar"], strict=True):
        if code not in entries:
            rules = catalogue.rules_for(code)
            label = pick(fr, ar, lang, rules.label.en if rules else None) or (rules.label.get(lang) if rules else code)
            entries[code] = (rules.color if rules else "#bbbbbb", label)
    return dict(sorted(entries.items()))


def _overlay_labels(lang: str) -> dict[str, str]:
    return {k: pick(overlay_kind(k).label_fr, overlay_kind(k).label_ar, lang, overlay_kind(k).label_en)
            for k in OVERLAY_COLOURS}


def _legend_html(zones: dict[str, tuple[str, str]], lang: str) -> str:
    rows = "".join(
        f'<div class="gp-legend-row"><span class="gp-swatch" style="background:{escape(color)}"></span>'
        f"<b>{escape(code)}</b> {escape(label)}</div>"
        for code, (color, label) in zones.items()
    )
    kinds = "".join(
        f'<div class="gp-legend-row"><span class="gp-swatch gp-hatch" style="border-color:{escape(color)}"></span>'
        f"{escape(label)}</div>"
        for (kind, color), label in zip(OVERLAY_COLOURS.items(), _overlay_labels(lang).values(), strict=True)
    )
    legend, zoning, servitudes = _("Legend"), _("Zoning"), _("Servitudes")
    return (f'<details open><summary>{escape(legend)}</summary>'
            f'<div class="gp-legend-title">{escape(zoning)}</div>{rows}'
            f'<div class="gp-legend-title">{escape(servitudes)}</div>{kinds}</details>')


def build_map(portal: Portal, lang: str, as_of: date | None = None) -> RenderedMap:
    """Render the zoning map for ``lang`` (cached per language, date and data generation).

    folium draws the frame (locally served Leaflet, scale, legend, optional base map); zones,
    servitudes and parcels come as vector tiles, with their layer control, added by the page's script.
    """
    store, settings = portal.store, portal.settings
    key = (lang, as_of, store.generation())
    cached = portal.map_cache.get(key)
    if isinstance(cached, RenderedMap):  # the cache holds the search examples too
        return cached
    extent = store.extent()
    if extent:
        lon0, lat0, lon1, lat1 = transformer(store.crs, WGS84).transform_bounds(*extent)
        centre = [(lat0 + lat1) / 2, (lon0 + lon1) / 2]
    else:
        centre = [0.0, 0.0]
    m = folium.Map(location=centre, zoom_start=15, tiles=None, control_scale=True, prefer_canvas=True,
                   max_zoom=20, min_zoom=3)
    m.default_js = [("leaflet", url_for("assets.vendor", lib="leaflet", filename="leaflet.js")),
                    ("vectorgrid", url_for("assets.vendor", lib="vectorgrid",
                                           filename="Leaflet.VectorGrid.bundled.min.js"))]
    m.default_css = [("leaflet_css", url_for("assets.vendor", lib="leaflet", filename="leaflet.css"))]
    if settings.tiles_url:
        m.default_js += [("pmtiles", url_for("assets.vendor", lib="pmtiles", filename="pmtiles.js")),
                         ("archives", url_for("static", filename="js/archives.js"))]
    if settings.basemap_url:
        folium.TileLayer(tiles=settings.basemap_url, attr=settings.basemap_attribution or " ",
                         name=_("Base map"), overlay=False, show=True, max_zoom=20).add_to(m)
    if extent:
        m.fit_bounds([[lat0, lon0], [lat1, lon1]])
    zones = _zone_entries(portal, lang, as_of)
    Legend(_legend_html(zones, lang)).add_to(m)
    root = cast(folium.Figure, m.get_root())  # folium types the root as Element; a Map's root is its Figure
    root.render()
    styles = {
        "zones": {code: {"color": color, "label": label} for code, (color, label) in zones.items()},
        "overlays": {k: {"color": OVERLAY_COLOURS[k], "label": label} for k, label in _overlay_labels(lang).items()},
        "names": {"zones": _("Zoning"), "overlays": _("Servitudes"), "parcels": _("Parcels")},
        "tiles": "/tiles/{layer}/{z}/{x}/{y}.pbf" + (f"?as_of={as_of.isoformat()}" if as_of else ""),
        "maxNativeZoom": MAX_NATIVE_ZOOM, "layerZooms": LAYER_ZOOMS,
        "archives": None if as_of else archive_url_template(portal),  # PMTiles on a static host (issue #18)
    }
    rendered = RenderedMap(header_html(root), root.html.render(), root.script.render(), m.get_name(), styles)
    portal.map_cache.clear()
    portal.map_cache[key] = rendered
    return rendered


def territory_map_config(portal: Portal) -> dict[str, object]:
    """What a small service map (complaints, committee decisions) needs: the territory's bounds in WGS84, the
    optional base map, and the zones' vector tiles as context (never a place hard-coded in the page)."""
    store, settings = portal.store, portal.settings
    extent = store.extent()
    bounds = None
    if extent and store.crs:
        lon0, lat0, lon1, lat1 = transformer(store.crs, WGS84).transform_bounds(*extent)
        bounds = [[lat0, lon0], [lat1, lon1]]
    return {"bounds": bounds, "basemap": settings.basemap_url, "attribution": settings.basemap_attribution,
            "tiles": "/tiles/zones/{z}/{x}/{y}.pbf", "api": "/api/v1"}

