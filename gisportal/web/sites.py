"""The site note on the web: ``POST /api/v1/sites/notes`` (JSON), the page ``/sites`` (type references or upload
an outline) and ``/sites/note`` (the note of a selection or a drawn outline, as a page or a sealed PDF).

Nothing here changes stored data but the registry of issued notes (a PDF is numbered like any note), so the
calls are exempt from CSRF: they use no cookie. Every input is parsed by :mod:`gisportal.sites.input`.
"""

from __future__ import annotations

import json
import logging
import re
import tempfile
from datetime import date
from pathlib import Path
from typing import Any

from flask import Blueprint as PagesBlueprint
from flask import Flask, Response, render_template, request
from flask.views import MethodView
from flask_babel import force_locale
from flask_babel import gettext as _
from flask_smorest import Blueprint
from markupsafe import Markup

from gisportal.core.errors import FileTooLarge, InvalidInput, told
from gisportal.core.vector_child import ReadLimits
from gisportal.core.vectors import read_vector_layer
from gisportal.note.issuing import issue_payload, note_pdf
from gisportal.note.mapextract import render_map_extract
from gisportal.publishing.uploads import UploadLimits, open_upload
from gisportal.sites.input import SiteInput, SiteInvalid, SiteLimits, site_from_frame, site_from_geojson, site_from_refs
from gisportal.sites.note import SiteNote, build_site_note
from gisportal.sites.render import site_payload, site_to_dict
from gisportal.web.core.context import json_response, portal
from gisportal.web.core.i18n import current_language, format_locale, requested_language
from gisportal.web.core.pdf import inline_css, pdf_from_html
from gisportal.web.core.throttle import issuance_guard
from gisportal.web.note.documents import pdf_language, qr_svg, verify_url
from gisportal.web.zoning.pages import cached_search_examples
from gisportal.zoning.zone_cover import CoverLimits

logger = logging.getLogger(__name__)

blp = Blueprint("sites_api", __name__, url_prefix="/api/v1/sites",
                description="Site notes: several parcels or a drawn outline.")

#: Largest uploaded outline file.
MAX_SITE_FILE = 5 * 1024 * 1024


def site_limits() -> SiteLimits:
    """The configured limits of a site."""
    s = portal().settings
    return SiteLimits(s.site_max_parcels, s.site_max_vertices, s.site_max_area_m2)


def parse_refs(value: Any) -> list[str]:
    """References from a list, or from text separated by commas, semicolons, spaces or new lines."""
    if isinstance(value, list):
        return value
    if isinstance(value, str):
        return [r for r in re.split(r"[,;\s]+", value[:40_000]) if r]
    raise InvalidInput(told("'refs' must be a list of land-title references."), parameter="refs")


def parse_as_of(value: Any) -> date | None:
    """An ISO date (``YYYY-MM-DD``) or nothing."""
    if value in (None, ""):
        return None
    try:
        return date.fromisoformat(str(value)[:10])
    except ValueError:
        raise InvalidInput(told("'as_of' must be a date written YYYY-MM-DD."), parameter="as_of") from None


def site_from_body(body: dict[str, Any]) -> SiteInput:
    """The site a request names: ``refs`` or ``geometry`` (exactly one)."""
    p, limits = portal(), site_limits()
    has_refs, has_geometry = body.get("refs") not in (None, "", []), body.get("geometry") not in (None, "")
    if has_refs == has_geometry:
        raise InvalidInput(told("Give either 'refs' (land-title references) or 'geometry' (a GeoJSON polygon)."))
    if has_refs:
        return site_from_refs(p.store, parse_refs(body["refs"]), limits)
    geometry = body["geometry"]
    if isinstance(geometry, str):
        try:
            geometry = json.loads(geometry[:20_000_000])
        except ValueError:
            raise InvalidInput(told("'geometry' is not valid GeoJSON."), parameter="geometry") from None
    return site_from_geojson(p.store, geometry, limits)


def site_from_upload(upload: Any) -> SiteInput:
    """The outline in an uploaded GeoJSON, KML or zipped shapefile (its CRS from the .prj or the file)."""
    name = str(upload.filename or "")
    if name.lower().endswith(".kml"):
        data = upload.stream.read(MAX_SITE_FILE + 1)
        if len(data) > MAX_SITE_FILE:
            raise FileTooLarge(told("The file is larger than %(mb)s MB.", mb=MAX_SITE_FILE // 2**20))
        if b"<kml" not in data[:4096]:
            raise SiteInvalid(told("This file is not KML."))
        with tempfile.TemporaryDirectory(prefix="gisportal-site-") as tmp:
            path = Path(tmp) / "site.kml"
            path.write_bytes(data)
            frame = read_vector_layer(path, limits=ReadLimits.from_settings(portal().settings))
    else:
        with open_upload(upload.stream, filename=name,
                         limits=UploadLimits(max_upload_bytes=MAX_SITE_FILE, max_unpacked_bytes=4 * MAX_SITE_FILE)
                         ) as intake:
            layer = intake.layers[0]
            frame = read_vector_layer(layer.path, layer=layer.layer, limits=ReadLimits.from_settings(portal().settings))
    return site_from_frame(portal().store, frame, site_limits())


def build(site: SiteInput, as_of: date | None) -> SiteNote:
    """The site note on ``as_of`` with the rules in force then."""
    p = portal()
    return build_site_note(p.store, p.catalogue_for(as_of), site, as_of, limits=site_limits(),
                           cover_limits=CoverLimits.from_settings(p.settings))


class _Extractable:
    """What the map extract reads of a note (its outline and date), for a site."""

    def __init__(self, note: SiteNote) -> None:
        self.parcel, self.as_of = note, note.as_of  # the site's outline is its ``geometry``, as a parcel's


def site_document(note: SiteNote, issued: Any | None) -> dict[str, Any]:
    """The map extract of the site (and, for an issued note, its number and QR code)."""
    p = portal()
    extract = render_map_extract(p.store, p.catalogue, _Extractable(note), metre=_("m"))  # type: ignore[arg-type]
    document: dict[str, Any] = {"map_svg": Markup(extract.svg), "scale": extract.scale_denominator}
    if issued is not None:
        url = verify_url(issued)
        document.update(number=issued.number, issued_at=issued.issued_at, verify_url=url, qr=qr_svg(url),
                        key_id=issued.key_id)
    return document


def site_html(note: SiteNote, lang: str, document: dict[str, Any], pdf: bool = False) -> str:
    """The site note page in ``lang``."""

    with force_locale(format_locale(lang)):
        data = site_to_dict(note, portal().catalogue_for(note.as_of), lang)
        return render_template("sites/note.html", note=note, data=data, document=document, pdf=pdf,
                               inline_css=inline_css() if pdf else "")


def site_pdf_response(note: SiteNote, lang: str) -> Response:
    """Issue (or reuse) the site note and answer its sealed PDF."""

    p = portal()
    issued = issue_payload(p.registry, p.keyring, site_payload(note, lang), before_issue=issuance_guard(None))
    document = site_document(note, issued)
    languages = ["fr", "ar"] if lang == "both" else [lang]
    body = note_pdf(p.registry, p.keyring, issued,
                    lambda: pdf_from_html(*(site_html(note, code, document, pdf=True) for code in languages)))
    response = Response(body, mimetype="application/pdf")
    response.headers["Content-Disposition"] = f'inline; filename="{issued.number}.pdf"'
    response.headers["X-Note-Number"] = issued.number
    return response


@blp.route("/notes")
class SiteNotes(MethodView):
    @blp.alt_response(200, success=True, description="The site note (JSON), or its sealed PDF for format=pdf")
    def post(self) -> Response:
        """The note of a site: JSON ``{"refs": [...]}`` or ``{"geometry": GeoJSON Polygon/MultiPolygon}``
        (WGS84, or a ``crs`` member naming an EPSG code), with ``as_of``, ``lang`` and ``format`` (json|pdf).

        Unknown references answer 404 with each one named; an outline outside the territory 422 with where it
        lies; a site above the limits (parcels, vertices: 413; area: 422) names the limit.
        """
        body = request.get_json(silent=True)
        if not isinstance(body, dict):
            raise InvalidInput(told("Send a JSON object: {\"refs\": [...]} or {\"geometry\": {...}}."))
        fmt = body.get("format") or "json"
        if fmt not in ("json", "pdf"):
            raise InvalidInput(told("'format' is json or pdf."), parameter="format")
        note = build(site_from_body(body), parse_as_of(body.get("as_of")))
        if fmt == "pdf":
            return site_pdf_response(note, pdf_language(body.get("lang")))
        lang = asked if (asked := body.get("lang")) in ("fr", "ar", "en") else requested_language()
        return json_response(site_to_dict(note, portal().catalogue_for(note.as_of), lang))


def sites_page() -> str:
    """Type references or upload an outline; the map draws and selects."""
    return render_template("sites/form.html", error=None, search_examples=cached_search_examples())


def site_note_page() -> Response:
    """The site note of a selection (``refs``) or an outline (``geometry`` or an uploaded ``file``): a page, or
    the sealed PDF for ``format=pdf``."""
    values = request.values
    upload = request.files.get("file")
    if upload is not None and upload.filename:
        site = site_from_upload(upload)
    else:
        site = site_from_body({"refs": values.get("refs"), "geometry": values.get("geometry")})
    note = build(site, parse_as_of(values.get("as_of")))
    if values.get("format") == "pdf":
        return site_pdf_response(note, pdf_language(values.get("lang")))
    html = site_html(note, current_language(), site_document(note, None))
    return Response(html, mimetype="text/html")


def init_app(app: Flask) -> None:
    """Register the API (the pages are :data:`bp`); both CSRF-exempt: read-only, no cookie used."""
    app.extensions["gisportal_api"].register_blueprint(blp)
    csrf = app.extensions["gisportal_csrf"]
    csrf.exempt(SiteNotes)
    csrf.exempt(site_note_page)


#: The site note's pages.
bp = PagesBlueprint("sites", __name__, url_prefix="/sites")
bp.add_url_rule("", "index", sites_page)
bp.add_url_rule("/note", "note", site_note_page, methods=["GET", "POST"])
