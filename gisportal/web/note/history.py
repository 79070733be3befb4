"""A parcel's zoning history on the web: ``GET /api/v1/parcels/history?ref=REF`` and the page
``/parcels/history?ref=REF``; and the "changed on <date>" line of the note page."""

from __future__ import annotations

import logging
from typing import Any

from flask import Blueprint as PagesBlueprint
from flask import Flask, Response, render_template, request
from flask.views import MethodView
from flask_smorest import Blueprint

from gisportal.core.errors import InvalidInput, told
from gisportal.note.build import UrbanNote
from gisportal.note.history import HistoryStep, ParcelHistory, history_to_dict, parcel_history
from gisportal.web.core.context import json_response, portal
from gisportal.zoning.lookup import ParcelQuery, find_parcel
from gisportal.zoning.zone_cover import CoverLimits

logger = logging.getLogger(__name__)

blp = Blueprint("history_api", __name__, url_prefix="/api/v1", description="A parcel's zoning history.")


def history_of(ref: str | None) -> ParcelHistory:
    """The history of the parcel named by ``ref`` (400 without one, 404 when unknown)."""
    if not ref:
        raise InvalidInput(told("Say which parcel: give 'ref'."), parameter="ref")
    p = portal()
    return parcel_history(p.store, p.catalogue_for, find_parcel(p.store, ParcelQuery(ref=ref)),
                          limits=CoverLimits.from_settings(p.settings))


@blp.route("/parcels/history", endpoint="parcel_history_api")
class History(MethodView):
    @blp.alt_response(200, success=True, description="Plan versions and the changes between them")
    def get(self) -> Response:
        """Every plan version that applied to the parcel ``ref`` (approval act, dates, status) and, between
        consecutive versions, what changed on it: zones and shares, rule values, servitudes, buildable floor area."""
        return json_response(history_to_dict(history_of(request.args.get("ref"))))


def history_page() -> Response:
    """The same as a page."""
    history = history_of(request.args.get("ref"))
    return Response(render_template("note/history.html", history=history, data=history_to_dict(history)),
                    mimetype="text/html")


def change_of(note: UrbanNote) -> HistoryStep | None:
    """The last change on the note's parcel into the plan versions the note rests on (for "changed on")."""
    p = portal()
    history = parcel_history(p.store, p.catalogue_for, p.store.parcel_by_ref(note.parcel.ref) or _missing(note),
                             limits=CoverLimits.from_settings(p.settings))
    return history.last_change({(pl.name, pl.version) for pl in note.plans})


def _missing(note: UrbanNote) -> Any:
    raise InvalidInput(told("No parcel with the land-title reference '%(ref)s'.", ref=note.parcel.ref))


def init_app(app: Flask) -> None:
    """Register the API route (the page is :data:`bp`)."""
    app.extensions["gisportal_api"].register_blueprint(blp)


#: The parcel's history page.
bp = PagesBlueprint("history", __name__)
bp.add_url_rule("/parcels/history", "parcel_history", history_page)
