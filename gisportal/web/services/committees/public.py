"""Committee results for the public: sessions and decisions (list and map), a file's decisions for its
applicant (file number + personal code, page and ``GET /api/v1/decisions``). No personal data is shown.

Staff pages are in :mod:`gisportal.web.services.committees.admin`, subscriptions in
:mod:`gisportal.web.services.subscriptions`.
"""

from __future__ import annotations

import logging
import weakref
from typing import Any

from flask import Blueprint as PagesBlueprint
from flask import Flask, Response, render_template, request
from flask.blueprints import BlueprintSetupState
from flask.views import MethodView
from flask_babel import lazy_gettext as _l
from flask_smorest import Blueprint
from flask_wtf import FlaskForm
from marshmallow import Schema, fields, validate
from wtforms import StringField
from wtforms.validators import DataRequired, Length

from gisportal.core.audit import AuditLog
from gisportal.core.errors import NotFound
from gisportal.publishing.publication import PUBLISH_LISTENERS
from gisportal.services.committees.records import PublicDecision
from gisportal.services.committees.sessions import Committees
from gisportal.services.committees.terms import DECISIONS, PROJECT_TYPES, SESSION_KINDS
from gisportal.web.core.context import Portal, json_response, portal
from gisportal.web.core.i18n import current_language
from gisportal.web.core.request_codes import RequestCode
from gisportal.web.core.schemas import ProblemSchema
from gisportal.web.services import subscriptions
from gisportal.web.services.subscriptions import subscriptions_of
from gisportal.web.zoning.maps import territory_map_config

logger = logging.getLogger(__name__)

blp = Blueprint("committees_api", __name__, url_prefix="/api/v1",
                description="Decisions of the building committees on permit requests.")


def committees_of(p: Portal | None = None) -> Committees:
    """The committees service of the instance."""
    p = p or portal()
    return Committees(p.agency, p.store, AuditLog(p.agency))


def term(vocabulary: str, code: str | None) -> str:
    """The label of a session kind, project type or decision in the page's language."""
    table = {"session": SESSION_KINDS, "project": PROJECT_TYPES, "decision": DECISIONS}[vocabulary]
    labels = table.get(code or "", {})
    return labels.get(current_language()) or labels.get("fr") or (code or "")


def decision_dict(d: PublicDecision) -> dict[str, Any]:
    """A decision as public JSON (no personal data)."""
    return {"file_number": d.file_number, "project_type": d.project_type, "quarter": d.quarter,
            "session_date": d.held_on.isoformat(), "session_kind": d.session_kind,
            "session_kind_label": term("session", d.session_kind), "decision": d.decision,
            "decision_label": term("decision", d.decision), "conditions": d.conditions}


# --- API ----------------------------------------------------------------------------------------------------
#: The applicant's personal code: the ``X-Personal-Code`` header, else the ``code`` parameter.
PERSONAL_CODE = RequestCode("code", "X-Personal-Code", "The applicant's personal code, e.g. K7M2Q-9TXHB", 40)


class DecisionArgs(Schema):
    file = fields.String(required=True, validate=validate.Length(min=1, max=40),
                         metadata={"description": "Permit file number, e.g. 2026/0101"})
    code = PERSONAL_CODE.query_field()


class DecisionItemSchema(Schema):
    session_date = fields.Date()
    session_kind = fields.String(metadata={"description": ", ".join(SESSION_KINDS)})
    session_kind_label = fields.String()
    decision = fields.String(metadata={"description": ", ".join(DECISIONS)})
    decision_label = fields.String()
    conditions = fields.String(metadata={"description": "Conditions or reasons (public text)"})


class FileDecisionsSchema(Schema):
    file_number = fields.String()
    applicant_reference = fields.String()
    parcel_ref = fields.String()
    project_type = fields.String(metadata={"description": ", ".join(PROJECT_TYPES)})
    quarter = fields.String(allow_none=True)
    decisions = fields.List(fields.Nested(DecisionItemSchema), metadata={"description": "Oldest first"})


def lookup_dict(found: dict[str, Any]) -> dict[str, Any]:
    """A looked-up file as JSON."""
    return {**found, "decisions": [decision_dict(d) for d in found["decisions"]]}


@blp.route("/decisions")
class Decisions(MethodView):
    @blp.arguments(DecisionArgs(), location="query")
    @blp.arguments(PERSONAL_CODE.header_schema(), location="headers")
    @blp.alt_response(200, schema=FileDecisionsSchema, success=True, description="The file and its decisions")
    @blp.alt_response(404, schema=ProblemSchema, description="No file matches this number and code")
    @blp.alt_response(429, schema=ProblemSchema, description="Too many look-ups from this address")
    def get(self, args: dict[str, Any], headers: dict[str, Any]) -> Response:
        """The committee decisions on a permit file, for its applicant (file number + personal code).

        A wrong code and an unknown file number give the same 404. Look-ups are rate-limited per address.
        No personal data is ever answered.
        """

        return json_response(lookup_dict(committees_of().lookup(args["file"], PERSONAL_CODE.read(args, headers))))


# --- pages --------------------------------------------------------------------------------------------------
class LookupForm(FlaskForm):
    """File number and personal code."""

    file_number = StringField(_l("File number"), validators=[DataRequired(_l("Enter the file number.")),
                                                            Length(max=40)], render_kw={"dir": "ltr"})
    code = StringField(_l("Personal code"), validators=[DataRequired(_l("Enter your personal code.")),
                                                       Length(max=40)],
                       render_kw={"dir": "ltr", "autocomplete": "off", "autocapitalize": "characters"})


#: Decisions listed (and mapped) on one public page; the filters reach the others.
PUBLIC_PAGE_SIZE = 500


def _public_filters() -> dict[str, Any]:
    """The list's filters from the query string; what cannot be understood is dropped (a public page)."""
    year = request.args.get("year", "").strip()
    decision = request.args.get("decision", "").strip()
    prefix = request.args.get("file", "").strip()[:40]
    return {"year": int(year) if year.isdigit() and 1900 < int(year) < 2200 else None,
            "decision": decision if decision in DECISIONS else None, "file_prefix": prefix or None}


def decisions_page() -> str:
    """Sessions and decisions (no personal data), with a map of the decided files; filtered by year, decision
    and file number."""
    filters = _public_filters()
    book = committees_of()
    decided = book.public_decisions(limit=PUBLIC_PAGE_SIZE, **filters)
    total = book.count_public_decisions(**filters) if len(decided) >= PUBLIC_PAGE_SIZE else len(decided)
    by_session: dict[int, list[PublicDecision]] = {}
    for d in decided:
        by_session.setdefault(d.session_id, []).append(d)
    points = {"type": "FeatureCollection", "features": [
        {"type": "Feature", "geometry": {"type": "Point", "coordinates": [d.lon, d.lat]},
         "properties": {"file": d.file_number, "decision": d.decision, "label": term("decision", d.decision),
                        "date": d.held_on.isoformat(), "project": term("project", d.project_type)}}
        for d in decided if d.lon is not None]}
    sessions = {s.id: s for s in committees_of().sessions()}

    return render_template("committees/list.html", by_session=by_session, sessions=sessions, points=points,
                           term=term, map_config=territory_map_config(portal()), filters=filters,
                           years=book.decision_years(), decisions=list(DECISIONS),
                           shown=len(decided), total=total)


def lookup_page() -> tuple[str, int]:
    """The applicant's look-up: file number + personal code -> the file's decisions."""
    form = LookupForm()
    found, status = None, 200
    if request.method == "POST":
        if form.validate_on_submit():
            try:
                found = committees_of().lookup(form.file_number.data, form.code.data)
            except NotFound:
                form.code.errors = [*form.code.errors, _l("No file matches this number and personal code.")]
                status = 404
        else:
            status = 400
    return render_template("committees/lookup.html", form=form, found=found, term=term), status


def _listen_to_publications(app: Flask) -> None:
    """Tell parcel subscribers when a publication through this app changes their parcel's rules."""

    instance = weakref.ref(app.extensions["gisportal"])
    secret = app.config["SECRET_KEY"]

    def on_publish(store: Any, previous: Any, version: Any) -> None:
        p = instance()
        if p is None:  # the app is gone: stop listening
            PUBLISH_LISTENERS.remove(on_publish)
            return
        if store is p.store:
            subscriptions_of(p, secret).notify_plan_change(store, previous, version)

    PUBLISH_LISTENERS.append(on_publish)


def init_app(app: Flask) -> None:
    """Register the API and the subscriptions (the pages are :data:`bp`; the staff pages:
    :mod:`gisportal.web.services.committees.admin`)."""
    limiter = app.extensions["gisportal_limiter"]
    # The blueprint's only route is GET /api/v1/decisions: a look-up by number and code, limited like the page's.
    limiter.limit(lambda: portal().settings.lookup_rate_limit, methods=["POST", "GET"])(blp)
    app.extensions["gisportal_api"].register_blueprint(blp)
    subscriptions.init_app(app)
    _listen_to_publications(app)


#: The committees' public pages: decisions and the look-up of a file.
bp = PagesBlueprint("committees", __name__, url_prefix="/committees")
bp.add_url_rule("", "decisions", decisions_page)


@bp.record
def _lookup_route(state: BlueprintSetupState) -> None:
    """The look-up by number and code, its POSTs limited by the app's limiter (declared at registration)."""
    limit = state.app.extensions["gisportal_limiter"].limit(lambda: portal().settings.lookup_rate_limit,
                                                            methods=["POST"])
    state.add_url_rule("/lookup", "lookup", limit(lookup_page), methods=["GET", "POST"])
