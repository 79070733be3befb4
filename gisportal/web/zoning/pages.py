"""The site's pages: the map, the printable note, the plans in force."""

from __future__ import annotations

import logging
from datetime import date
from typing import Any, cast

from flask import Blueprint, Response, render_template, request
from flask_babel import gettext as _

from gisportal.core.errors import InvalidInput
from gisportal.note.issuing import issue_note
from gisportal.web.api import note_view_data
from gisportal.web.core.context import portal
from gisportal.web.core.i18n import current_language
from gisportal.web.core.throttle import TooManyNotes, issuance_guard
from gisportal.web.note.documents import (
    document_context,
    official_note_is_free,
    pdf_language,
    pdf_response,
    preview_context,
    require_official_note_paid,
)
from gisportal.web.note.history import change_of
from gisportal.web.zoning.maps import build_map
from gisportal.zoning.examples import search_examples
from gisportal.zoning.plans import version_status
from gisportal.zoning.tiles import PARCEL_MIN_ZOOM

logger = logging.getLogger(__name__)


def _as_of() -> date | None:
    value = request.args.get("as_of")
    if not value:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise InvalidInput(_("'%(value)s' is not a date; write it as YYYY-MM-DD.", value=value),
                           parameter="as_of") from None


def _ui_strings() -> dict[str, str]:
    """Texts the map's script shows, in the page's language."""
    return {
        "loading": _("Loading…"), "noParcel": _("No parcel at this point."), "zonesHere": _("Zones at this point"),
        "openNote": _("Open the full urban-information note"), "area": _("Area"), "zones": _("Zones"),
        "share": _("share"), "servitudes": _("Servitudes"), "none": _("None"),
        "m2": _("m²"), "m": _("m"), "floors": _("R+%(floors)s"),
        "maxFootprint": _("Max footprint"), "maxFloorArea": _("Max floor area"), "height": _("Height"),
        "rulesMissing": _("rules not yet defined"), "noResult": _("No result"),
        "zoomForParcels": _("Zoom in to see parcels"), "locateFailed": _("Your position could not be found."),
        "outside": _("This point is outside the territory covered by this portal."),
        "error": _("Something went wrong. Please try again."), "plan": _("Plan"),
        "parcel": _("Parcel"), "quarter": _("Quarter"), "street": _("Street"), "coordinates": _("Coordinates"),
        "zoomIn": _("Zoom in"), "zoomOut": _("Zoom out"), "mapLabel": _("Zoning map"),
        "pickHint": _("Click a parcel on the map, or search for it, to see the rules that apply."),
    }


def cached_search_examples() -> list[str]:
    """The examples under the search box, from this instance's data (cached with the map)."""
    p = portal()
    key = ("search-examples", p.store.generation())
    if key not in p.map_cache:
        p.map_cache[key] = search_examples(p.store)
    return cast(list[str], p.map_cache[key])


def index() -> str:
    """The map page."""
    rendered = build_map(portal(), current_language(), _as_of())
    return render_template("zoning/map.html", folium=rendered, ui=_ui_strings(), parcel_min_zoom=PARCEL_MIN_ZOOM,
                           search_examples=cached_search_examples())


def _note_from_args():
    args: dict[str, Any] = {k: v for k, v in request.args.items() if k in ("ref", "lon", "lat", "x", "y", "crs")}
    args["as_of"] = _as_of()
    return note_view_data(args)


def note_page() -> Response:
    """The full urban-information note, numbered, with its QR code and map extract; printable."""
    note, data = _note_from_args()
    p = portal()
    document = None
    if official_note_is_free():
        try:
            document = document_context(note, issue_note(p.registry, p.keyring, note, current_language(),
                                                         before_issue=issuance_guard(note.parcel.ref)))
        except TooManyNotes:  # the day's ceiling of new notes: the information copy still shows
            document = None
    if document is None:  # the agency charges for the official note: an information copy, numbered via an order
        document = preview_context(note)
    return Response(render_template("note/note.html", note=note, data=data, document=document, changed=change_of(note)),
                    mimetype="text/html")


def note_pdf_page() -> Response:
    """The note as a signed PDF (``lang`` = fr, ar or both)."""
    note, _data = _note_from_args()
    lang = pdf_language(request.args.get("lang"))
    require_official_note_paid(note, lang)
    return pdf_response(note, lang)


def plans_page() -> str:
    """Every plan version with its approval act and status."""
    versions = portal().store.plan_versions()
    today = date.today()
    rows = [(v, version_status(v, versions, today)) for v in sorted(versions, key=lambda v: (v.plan_name, -v.version))]
    return render_template("zoning/plans.html", rows=rows)


#: The map, the note and the plans in force (templates in ``templates/zoning/``, ``templates/note/``).
bp = Blueprint("zoning", __name__)
bp.add_url_rule("/", "index", index)
bp.add_url_rule("/note", "note", note_page)
bp.add_url_rule("/note.pdf", "note_pdf", note_pdf_page)
bp.add_url_rule("/plans", "plans", plans_page)
