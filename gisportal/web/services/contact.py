"""Help and contact page (phones, hours, offices on a map, social accounts) and the service posters.

Everything comes from the contact file (:mod:`gisportal.services.contact`), checked when the app starts. A poster is a
printable A4 page (HTML with print styles, or PDF) with the service's title in French and Arabic and a large
QR code to its page; services whose endpoint this instance does not have are left out.
"""

from __future__ import annotations

import logging
from typing import cast

import folium
from flask import Blueprint, Flask, Response, abort, current_app, render_template, url_for
from flask_babel import force_locale
from flask_babel import gettext as _
from markupsafe import Markup
from werkzeug.routing import BuildError

from gisportal.core.qrcodes import qr_svg_text
from gisportal.services.contact import ContactInfo, Poster, load_contact
from gisportal.web.core.context import portal, public_base
from gisportal.web.core.foliumparts import header_html
from gisportal.web.core.i18n import current_language, format_locale
from gisportal.web.core.pdf import inline_css, pdf_from_html
from gisportal.web.core.security import folium_text

logger = logging.getLogger(__name__)


def contact_info() -> ContactInfo:
    """The instance's contact information (read again when the file changes)."""
    return load_contact(portal().settings.contact_file)


def _offices_map(info: ContactInfo, lang: str) -> dict[str, str] | None:
    """The offices on a Leaflet map served by the app (no tiles unless a base map is configured)."""
    if not info.addresses:
        return None
    settings = portal().settings
    lats, lons = [a.lat for a in info.addresses], [a.lon for a in info.addresses]
    m = folium.Map(location=[sum(lats) / len(lats), sum(lons) / len(lons)], zoom_start=14, tiles=None,
                   control_scale=True)
    m.default_js = [("leaflet", url_for("assets.vendor", lib="leaflet", filename="leaflet.js"))]
    m.default_css = [("leaflet_css", url_for("assets.vendor", lib="leaflet", filename="leaflet.css"))]
    if settings.basemap_url:
        folium.TileLayer(tiles=settings.basemap_url, attr=settings.basemap_attribution or " ").add_to(m)
    for office in info.addresses:
        # a tooltip, not a popup: folium's popups need jQuery, which the page does not load
        folium.CircleMarker([office.lat, office.lon], radius=9, color="#8a1c1c", fill=True, fill_opacity=0.8,
                            tooltip=folium.Tooltip(f"<b>{folium_text(office.name.get(lang))}</b><br>"
                                                   f"{folium_text(office.address.get(lang))}",
                                                   permanent=True)).add_to(m)
    if len(info.addresses) > 1:
        m.fit_bounds([[min(lats), min(lons)], [max(lats), max(lons)]], padding=(60, 60))
    rendered = cast(folium.Figure, m.get_root())  # folium types the root as Element; a Map's root is its Figure
    rendered.render()
    return {"header": header_html(rendered), "body": rendered.html.render(), "script": rendered.script.render()}


def available_posters(info: ContactInfo) -> list[tuple[Poster, str]]:
    """The posters whose service this instance has, with the service's public URL."""
    found = []
    for poster in info.posters:
        if poster.endpoint not in current_app.view_functions:
            continue
        try:
            found.append((poster, public_base() + url_for(poster.endpoint)))
        except BuildError:  # an endpoint that needs arguments is not a service's front page
            logger.warning("poster %s: endpoint %s needs arguments, left out", poster.id, poster.endpoint)
    return found


def help_page() -> str:
    """Phone lines, hours, offices on a map, social accounts, and the posters."""
    info = contact_info()
    lang = current_language()
    return render_template("contact/help.html", info=info, office_map=_offices_map(info, lang),
                           posters=available_posters(info))


def _poster(poster_id: str) -> tuple[Poster, str]:
    for poster, url in available_posters(contact_info()):
        if poster.id == poster_id:
            return poster, url
    abort(404)


def N_(message: str) -> str:
    """Marks a message for extraction; it is translated later, in each of the poster's languages."""
    return message


def _in_both(message: str) -> dict[str, str]:
    """A message of the poster in French and in Arabic (posters are bilingual whatever the page language)."""
    texts = {}
    for code in ("fr", "ar"):
        with force_locale(format_locale(code)):
            texts[code] = _(message)
    return texts


def _poster_html(poster: Poster, url: str, pdf: bool) -> str:

    settings = portal().settings
    return render_template("contact/poster.html", poster=poster, url=url, qr=Markup(qr_svg_text(url)),
                           pdf=pdf, inline_css=inline_css() if pdf else "",
                           scan=_in_both(N_("Scan the code with your phone to open the service")),
                           agency={"fr": settings.agency_name_fr, "ar": settings.agency_name_ar})


def poster_page(poster_id: str) -> str:
    """A service's poster, ready to print (A4)."""
    poster, url = _poster(poster_id)
    return _poster_html(poster, url, pdf=False)


def poster_pdf(poster_id: str) -> Response:
    """A service's poster as a PDF (rendered with no network access)."""

    poster, url = _poster(poster_id)
    body = pdf_from_html(_poster_html(poster, url, pdf=True))
    response = Response(body, mimetype="application/pdf")
    response.headers["Content-Disposition"] = f'inline; filename="poster-{poster.id}.pdf"'
    return response


def init_app(app: Flask) -> None:
    """Check the contact file (a bad one stops the start, naming the bad value); the pages are :data:`bp`."""
    load_contact(app.extensions["gisportal"].settings.contact_file)


#: Help, contact and the services' posters.
bp = Blueprint("contact", __name__)
bp.add_url_rule("/help", "help", help_page)
bp.add_url_rule("/posters/<poster_id>", "poster", poster_page)
bp.add_url_rule("/posters/<poster_id>.pdf", "poster_pdf", poster_pdf)
