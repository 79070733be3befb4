"""The JSON API under ``/api/v1``, documented by an OpenAPI document generated from code."""

from __future__ import annotations

import logging
import secrets
from datetime import date
from typing import Any

from flask import Blueprint as PagesBlueprint
from flask import Flask, Response, render_template, request
from flask.views import MethodView
from flask_smorest import Api, Blueprint

from gisportal.core.errors import InvalidInput, NotFound, StaffOnly
from gisportal.note.build import build_note
from gisportal.note.issuing import check_number, currency
from gisportal.note.render import note_to_dict, parcel_feature
from gisportal.storage.base import LAYERS
from gisportal.web.core.context import Portal, json_response, portal
from gisportal.web.core.i18n import current_language, requested_language
from gisportal.web.core.schemas import (
    FeatureCollectionSchema,
    FeatureSchema,
    LayerArgs,
    NoteArgs,
    NoteSchema,
    ParcelsArgs,
    ProblemSchema,
    SearchArgs,
    SuggestionsSchema,
)
from gisportal.web.note.documents import pdf_language, pdf_response, require_official_note_paid, verification_code
from gisportal.web.note.regulations import note_documents
from gisportal.zoning.lookup import ParcelQuery, find_parcel
from gisportal.zoning.mapdata import layer_geojson, parse_bbox
from gisportal.zoning.plans import version_status
from gisportal.zoning.search import suggest
from gisportal.zoning.zone_cover import CoverLimits

logger = logging.getLogger(__name__)

blp = Blueprint("api", __name__, url_prefix="/api/v1",
                description="Parcels, urban-information notes, map layers and search.")

_ERRORS = {400: "Bad request: a parameter is missing or wrong", 404: "Not found",
           422: "Unprocessable: invalid parameter or outside the territory"}


def _document_errors(view: Any) -> Any:
    for status, text in _ERRORS.items():
        view = blp.alt_response(status, schema=ProblemSchema, description=text)(view)
    return view


#: The note's query schema, built once.
NOTE_ARGS = NoteArgs()


def note_view_data(args: dict[str, Any]) -> tuple[Any, dict[str, Any]]:
    """Build the note for request arguments: ``(note, json-ready dict)``; shared with the HTML page."""
    lang = requested_language()  # the labels' language; the note itself translates nothing
    return note_data(portal(), args, lang, note_documents(lang))


def note_data(p: Portal, args: dict[str, Any], lang: str,
              documents: dict[str, list[dict[str, Any]]]) -> tuple[Any, dict[str, Any]]:
    """:func:`note_view_data` with what it takes from the request given: the instance, the labels' language and
    the regulation documents' links in that language (the lean note path has no request context)."""
    as_of: date | None = args.get("as_of")
    parcel = find_parcel(p.store, ParcelQuery.from_mapping(args), as_of)
    catalogue = p.catalogue_for(as_of)
    note = build_note(p.store, catalogue, parcel, as_of, limits=CoverLimits.from_settings(p.settings))
    return note, note_to_dict(note, catalogue, lang, documents)


# The busiest endpoint; its anonymous JSON GETs are answered by gisportal.web.note.notes_wsgi in front of the app,
# with the same functions. The endpoint keeps the name a MethodView gave it.
@blp.route("/notes", endpoint="Notes")
@blp.arguments(NOTE_ARGS, location="query")
@blp.alt_response(200, schema=NoteSchema, success=True, description="The urban-information note")
@_document_errors
def notes(args: dict[str, Any]) -> Response:
    """The urban-information note of a parcel (by ``ref``, ``lon``/``lat`` or ``x``/``y``/``crs``).

    ``format=pdf`` answers the numbered, sealed PDF (``lang`` = fr, ar or both).

    A point outside any parcel answers 404 ``no_parcel_here`` with the zones at that point.
    """
    if args.get("format") == "pdf":

        lang = pdf_language(args.get("lang"))
        note, _data = note_view_data(args)
        require_official_note_paid(note, lang)
        return pdf_response(note, lang)
    note, data = note_view_data(args)
    if args.get("format") == "html":
        return Response(render_template("note/note.html", note=note, data=data), mimetype="text/html")
    return json_response(data)


@blp.route("/parcels")
class Parcels(MethodView):
    @blp.arguments(ParcelsArgs, location="query")
    @blp.alt_response(200, schema=FeatureSchema, success=True,
                      description="The parcel as a GeoJSON Feature (a FeatureCollection for ``bbox``)")
    @_document_errors
    def get(self, args: dict[str, Any]) -> Response:
        """A parcel as GeoJSON (WGS84), or the parcels in a ``bbox``."""
        p = portal()
        if args.get("bbox"):
            limit = p.settings.max_features_per_request
            return json_response(layer_geojson(p.store, p.catalogue, "parcels", current_language(),
                                               bbox=parse_bbox(args["bbox"]), limit=limit))
        parcel = find_parcel(p.store, ParcelQuery.from_mapping(args), args.get("as_of"))
        return json_response(parcel_feature(parcel, p.store.crs))


@blp.route("/search")
class Search(MethodView):
    @blp.arguments(SearchArgs, location="query")
    @blp.alt_response(200, schema=SuggestionsSchema, success=True, description="Suggestions")
    def get(self, args: dict[str, Any]) -> Response:
        """Suggestions for a land-title reference, address, quarter or coordinates."""
        return json_response({"suggestions": suggest(portal().store, args["q"], args["limit"])})


@blp.route("/layers/<layer>")
class Layers(MethodView):
    @blp.arguments(LayerArgs, location="query")
    @blp.alt_response(200, schema=FeatureCollectionSchema, success=True, description="GeoJSON in WGS84")
    @_document_errors
    def get(self, args: dict[str, Any], layer: str) -> Response:
        """Zones or overlays in force (optionally on ``as_of``), or parcels in a ``bbox``."""
        p = portal()
        if layer not in LAYERS:
            raise NotFound(f"Unknown layer '{layer}'. Layers: {', '.join(LAYERS)}.")
        bbox = parse_bbox(args["bbox"]) if args.get("bbox") else None
        if layer == "parcels" and bbox is None:
            raise InvalidInput("Parcels are served by box: add bbox=minlon,minlat,maxlon,maxlat.")
        return json_response(layer_geojson(p.store, p.catalogue, layer, current_language(), args.get("as_of"),
                                           bbox, p.settings.max_features_per_request if layer == "parcels" else None))


@blp.route("/plans")
class Plans(MethodView):
    @blp.alt_response(200, success=True, description="Plans and all their versions with status today")
    def get(self) -> Response:
        """Every plan version (in force, superseded or lapsed), newest first."""
        versions = portal().store.plan_versions()
        today = date.today()
        rows = []
        for v in sorted(versions, key=lambda v: (v.plan_name, -v.version)):
            status = version_status(v, versions, today)
            rows.append({"plan": v.plan_name, "title_fr": v.title_fr, "title_ar": v.title_ar, "version": v.version,
                         "approval_act": v.approval_act, "approval_date": v.approval_date.isoformat(),
                         "effective_from": v.effective_from.isoformat(), "status": status.status,
                         "effective_to": status.effective_to.isoformat() if status.effective_to else None,
                         "origin": v.origin})
        return json_response({"plans": rows})


def _issued_to_dict(n: Any) -> dict[str, Any]:
    return {"number": n.number, "issued_at": n.issued_at.isoformat(), "parcel_ref": n.parcel_ref, "lang": n.lang,
            "as_of": n.as_of.isoformat(), "historical": n.historical, "plan_versions": n.plan_versions,
            "content_hash": n.content_hash, "key_id": n.key_id, "has_pdf": n.has_pdf}


@blp.route("/verify/<number>")
class Verify(MethodView):
    @blp.alt_response(200, success=True, description="The issued note is authentic; what it rests on")
    @blp.alt_response(404, schema=ProblemSchema, description="No note with this number and this token")
    @blp.alt_response(422, schema=ProblemSchema, description="Not authentic")
    def get(self, number: str) -> Response:
        """Check a note number (and the QR code's ``t`` token): authentic, and still current or not."""

        p = portal()

        issued = check_number(p.registry, p.keyring, number, verification_code())
        state = currency(p.store, p.catalogue, issued, CoverLimits.from_settings(p.settings))
        return json_response({"authentic": True, **_issued_to_dict(issued), "current": state.current,
                              "changed_plans": state.changed_plans})


@blp.route("/registry")
class Registry(MethodView):
    @blp.alt_response(200, success=True, description="Issued notes, newest first")
    @blp.alt_response(403, schema=ProblemSchema, description="Staff only")
    def get(self) -> Response:
        """Staff: list and search issued notes (``q`` = part of a number or reference). Bearer token."""

        p = portal()
        token = p.settings.staff_token
        given = request.headers.get("Authorization", "").removeprefix("Bearer ").strip()
        if not token or not secrets.compare_digest(given, token):
            raise StaffOnly("Staff only: send the staff token as 'Authorization: Bearer <token>'.")
        try:
            limit = min(max(int(request.args.get("limit", 50)), 1), 500)
            offset = min(max(int(request.args.get("offset", 0)), 0), 10**12)  # bound: an SQL offset is 64-bit
        except ValueError:
            raise InvalidInput("limit and offset must be whole numbers.") from None
        notes = p.registry.search(request.args.get("q", "")[:64], limit, offset)
        return json_response({"notes": [_issued_to_dict(n) for n in notes]})


class PortalApi(Api):
    """flask-smorest, documenting the error body our one handler answers (:class:`ProblemSchema`)."""

    ERROR_SCHEMA = ProblemSchema


def api_docs() -> str:
    """``GET /api/v1/docs``: the interactive API reference (Swagger UI from the package, no CDN)."""
    return render_template("api/docs.html")


def openapi_servers(public_url: str | None) -> list[dict[str, str]]:
    """The document's ``servers``: the configured public URL (never the request's host), else this server."""
    if public_url:
        return [{"url": public_url.rstrip("/"), "description": "The agency's portal"}]
    return [{"url": "/", "description": "This server (GISPORTAL_PUBLIC_URL is not set)"}]


def init_app(app: Flask) -> None:
    """Attach flask-smorest and the API blueprint (the API reference page is :data:`bp`)."""
    app.config["API_SPEC_OPTIONS"] = {
        "info": {"description": "gisportal: zoning, parcels and urban-information notes."},
        "servers": openapi_servers(app.extensions["gisportal"].settings.public_url)}
    api = PortalApi(app)
    api.register_blueprint(blp)
    app.extensions["gisportal_api"] = api


#: The interactive API reference page.
bp = PagesBlueprint("api_reference", __name__)
bp.add_url_rule("/api/v1/docs", "docs", api_docs)
