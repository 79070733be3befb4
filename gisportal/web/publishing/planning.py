"""Planners' pages: upload a layer, read its validation report, preview its impact, publish or roll back."""

from __future__ import annotations

import logging
from datetime import date
from typing import Any, cast

import folium
import geopandas as gpd
from flask import Blueprint as PagesBlueprint
from flask import Flask, Response, flash, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from flask_babel import gettext as _
from flask_smorest import Blueprint
from flask_wtf import FlaskForm
from markupsafe import Markup
from wtforms import DateField, FileField, SelectField, StringField
from wtforms.validators import DataRequired, Length, Optional

from gisportal.core.audit import AuditLog
from gisportal.core.errors import GisportalError, InvalidInput
from gisportal.core.vector_child import ReadLimits
from gisportal.note.render import frame_to_geojson
from gisportal.publishing.drafts import PRESETS, Drafts
from gisportal.publishing.publication import roll_back
from gisportal.web.accounts.auth import actor_name, client_ip, planner_required
from gisportal.web.core import labels
from gisportal.web.core.context import json_response, portal
from gisportal.web.core.foliumparts import header_html
from gisportal.web.core.schemas import ProblemSchema
from gisportal.web.core.security import folium_text, nonced
from gisportal.web.publishing.findings import tell_finding
from gisportal.zoning.plans import version_status

logger = logging.getLogger(__name__)

#: Above this many features the draft page maps only the findings.
MAP_FEATURE_LIMIT = 5000


def drafts() -> Drafts:
    """The drafts of the current instance."""
    p = portal()
    return Drafts(p.agency, AuditLog(p.agency), p.store, p.catalogue, p.settings.data_dir / "drafts",
                  min_area_m2=p.settings.overlap_tolerance_m2, limits=ReadLimits.from_settings(p.settings))


class UploadForm(FlaskForm):
    """A layer to check: the file, the plan it belongs to and how its fields map to the portal's."""

    plan_name = StringField(validators=[DataRequired(), Length(max=80)])
    kind = SelectField(choices=["zones", "overlays"])
    preset = SelectField(choices=["", *PRESETS], validators=[Optional()])
    file = FileField(validators=[DataRequired()])
    layer = StringField(validators=[Optional(), Length(max=120)])
    zone_field = StringField(validators=[Optional(), Length(max=80)])
    label_field = StringField(validators=[Optional(), Length(max=80)])
    label_ar_field = StringField(validators=[Optional(), Length(max=80)])
    kind_field = StringField(validators=[Optional(), Length(max=80)])
    kind_value = StringField(validators=[Optional(), Length(max=40)])
    crs = StringField(validators=[Optional(), Length(max=64)])
    encoding = StringField(validators=[Optional(), Length(max=20)])


class PublishForm(FlaskForm):
    """The approval act and dates of the new version."""

    approval_act = StringField(validators=[DataRequired(), Length(max=200)])
    approved = DateField(validators=[DataRequired()])
    effective = DateField(validators=[Optional()])


class DiscardForm(FlaskForm):
    """Setting a draft aside (CSRF only)."""


def finding_titles() -> dict[str, str]:
    """A short title per validation code, in the page's language (the detailed message follows it)."""
    return {
        "no_features": _("The layer holds no feature"), "crs_missing": _("Coordinate system missing"),
        "crs_unusable": _("Coordinate system not usable"), "crs_custom": _("Custom coordinate system recognised"),
        "crs_ignored": _("Coordinate system given but not used"),
        "coordinates_outside_crs": _("Coordinates outside the coordinate system"),
        "encoding_detected": _("Text encoding detected"), "garbled_text": _("Garbled text"),
        "flattened_3d": _("3D or measured geometries flattened"), "empty_geometry": _("Empty geometry"),
        "invalid_geometry": _("Invalid geometry (repaired)"), "not_polygon": _("Not a polygon"),
        "no_usable_feature": _("No usable feature"), "zone_field_missing": _("Zone code field missing"),
        "no_zone_code": _("Feature without zone code"), "code_without_rules": _("Zone codes without rules"),
        "zone_overlap": _("Zones overlap"), "zone_gap": _("Gap between zones"),
        "outside_territory": _("Outside the agency's territory"), "duplicate_feature": _("Duplicate feature"),
    }


def change_titles() -> dict[str, str]:
    """Kinds of change of a parcel in the impact preview, in the page's language."""
    return {"rezoned": _("rezoned"), "reshaped": _("shares changed"), "zoned": _("newly zoned"),
            "unzoned": _("no longer zoned")}


def _mapping_from(form: UploadForm) -> dict[str, Any]:
    values = {name: (getattr(form, name).data or "").strip() or None
              for name in ("layer", "zone_field", "label_field", "label_ar_field", "kind_field", "kind_value",
                           "crs", "encoding")}
    preset = PRESETS.get(form.preset.data or "")
    for key, value in (preset or {}).items():
        if key != "kind" and not values.get(key):
            values[key] = value
    return values


@planner_required
def admin_upload() -> ResponseReturnValue:
    """The upload form; a valid upload becomes a draft and opens its report."""
    form = UploadForm()
    if request.method == "GET":
        plan = request.args.get("plan", "")
        form.plan_name.data = plan
        for key, value in drafts().last_mapping(plan, request.args.get("kind", "zones")).items() if plan else []:
            if hasattr(form, key):
                getattr(form, key).data = value
    if not form.validate_on_submit():
        status = 400 if request.method == "POST" else 200
        return render_template("publishing/upload.html", form=form, plans=portal().store.plans(), problem=None), status
    upload = request.files[form.file.name]  # present: the form validated it (DataRequired)
    try:
        draft = drafts().create(upload.stream, upload.filename, plan_name=form.plan_name.data, kind=form.kind.data,
                                user=actor_name() or "?", ip=client_ip(), **_mapping_from(form))
    except GisportalError as exc:
        return render_template("publishing/upload.html", form=form, plans=portal().store.plans(),
                               problem=exc.message), exc.status
    return redirect(url_for("planning.draft", draft_id=draft.id))


#: Parcels drawn on the draft map as changed (the list and the CSV hold them all).
CHANGED_PARCELS_DRAWN = 500
#: Colour of a changed parcel on the draft map, per kind of change.
CHANGE_COLOURS = {"rezoned": "#7a1fa2", "reshaped": "#c25e00", "zoned": "#1b7f3a", "unzoned": "#4a4a4a"}


def _changed_parcels(impact: Any) -> dict[str, Any] | None:
    """The parcels the draft would change, as GeoJSON (WGS84) with their kind of change (the first ones)."""
    p = portal()
    titles = change_titles()
    rows = []
    for change in impact.changes[:CHANGED_PARCELS_DRAWN]:
        parcel = p.store.parcel_by_ref(change.ref)
        if parcel is not None:
            rows.append({"ref": change.ref, "change": change.change, "geometry": parcel.geometry,
                         # folium's tooltips put properties into the page as HTML: escaped here
                         "what": folium_text(f"{change.ref}: {titles.get(change.change, change.change)}")})
    if not rows:
        return None
    return frame_to_geojson(gpd.GeoDataFrame(rows, geometry="geometry", crs=p.store.crs or None), p.store.crs)


def _draft_map(draft: Any, frame: Any, impact: Any = None) -> Markup | None:
    p = portal()
    m = folium.Map(tiles=None, control_scale=True, prefer_canvas=True)
    m.default_js = [("leaflet", url_for("assets.vendor", lib="leaflet", filename="leaflet.js"))]
    m.default_css = [("leaflet_css", url_for("assets.vendor", lib="leaflet", filename="leaflet.css"))]
    bbox = draft.report.get("bbox_wgs84")
    if frame is not None and len(frame) <= MAP_FEATURE_LIMIT:
        versions = [v.id for v in p.store.plan_versions() if v.plan_name == draft.plan_name]
        current = p.store.features(draft.kind, versions[-1:], None) if versions else None
        if current is not None and len(current) <= MAP_FEATURE_LIMIT:
            folium.GeoJson(frame_to_geojson(current.drop(columns=["version_id"], errors="ignore"), p.store.crs),
                           name=_("Version in force"), style_function=lambda f: {"color": "#555", "weight": 1,
                                                                                 "fillOpacity": 0.1}).add_to(m)
        folium.GeoJson(frame_to_geojson(frame, p.store.crs), name=_("Draft"),
                       style_function=lambda f: {"color": "#d00", "weight": 1.5, "fillOpacity": 0.15}).add_to(m)
        changed = _changed_parcels(impact) if impact is not None and impact.changes else None
        if changed is not None:
            folium.GeoJson(changed, name=_("Parcels that would change"),
                           style_function=lambda f: {"color": CHANGE_COLOURS.get(f["properties"]["change"], "#000"),
                                                     "weight": 2, "fillOpacity": 0.45},
                           tooltip=folium.GeoJsonTooltip(fields=["what"], labels=False)).add_to(m)
    for finding in draft.report.get("findings", [])[:500]:
        if finding.get("location"):
            lon, lat = finding["location"]
            colour = "#b42318" if finding["severity"] == "blocking" else "#b26b00"
            folium.CircleMarker([lat, lon], radius=6, color=colour, fill=True,
                                tooltip=folium.Tooltip(folium_text(f"{finding['code']}: {finding['message']}"[:300]))
                                ).add_to(m)
    if bbox:
        m.fit_bounds([[bbox[1], bbox[0]], [bbox[3], bbox[2]]])
    folium.LayerControl(collapsed=False).add_to(m)
    root = cast(folium.Figure, m.get_root())  # folium types the root as Element; a Map's root is its Figure
    root.render()
    return nonced(header_html(root) + root.html.render() + "<script>" + root.script.render() + "</script>")


@planner_required
def admin_draft(draft_id: int) -> str:
    """A draft: validation report, map, impact on parcels, publish or discard."""
    d = drafts()
    draft = d.get(draft_id)
    frame = d.frame(draft) if draft.file_path and draft.status == "draft" else None
    impact = d.impact(draft) if frame is not None else None
    form = PublishForm(formdata=None, approved=date.today())
    return render_template("publishing/draft.html",
                           draft=draft, impact=impact, map_html=_draft_map(draft, frame, impact),
                           form=form, discard=DiscardForm(formdata=None), titles=finding_titles(),
                           changes=change_titles(), tell=tell_finding)


@planner_required
def admin_draft_impact_csv(draft_id: int) -> Response:
    """The impact preview as CSV."""
    d = drafts()
    draft = d.get(draft_id)
    response = Response(d.impact(draft).to_csv(), mimetype="text/csv")
    response.headers["Content-Disposition"] = f'attachment; filename="impact-draft-{draft.id}.csv"'
    return response


@planner_required
def admin_draft_publish(draft_id: int) -> ResponseReturnValue:
    """Publish a draft as a new version."""
    form = PublishForm()
    if not form.validate_on_submit():
        flash(_("Give the approval act and the approval date."), "error")
        return redirect(url_for("planning.draft", draft_id=draft_id))
    version = drafts().publish(draft_id, approval_act=form.approval_act.data, approved=form.approved.data,
                               effective=form.effective.data, user=actor_name() or "?", ip=client_ip())
    flash(_("Published as version %(v)s of %(plan)s.", v=version.version, plan=version.plan_name), "success")
    return redirect(url_for("planning.versions"))


@planner_required
def admin_draft_discard(draft_id: int) -> ResponseReturnValue:
    """Set a draft aside."""
    if DiscardForm().validate_on_submit():
        drafts().discard(draft_id, user=actor_name() or "?", ip=client_ip())
        flash(_("Draft set aside."), "success")
    return redirect(url_for("planning.versions"))


@planner_required
def admin_versions() -> str:
    """Every plan version (in force, superseded...) and the drafts, with roll-back forms."""
    store = portal().store
    versions = store.plan_versions()
    today = date.today()
    rows = [(v, version_status(v, versions, today)) for v in sorted(versions, key=lambda v: (v.plan_name, -v.version))]
    return render_template("publishing/versions.html", rows=rows, drafts=drafts().list(limit=50),
                           form=PublishForm(formdata=None, approved=today))


@planner_required
def admin_rollback(plan: str, version: int) -> ResponseReturnValue:
    """Republish an earlier version's content as a new version."""
    form = PublishForm()
    if not form.validate_on_submit():
        flash(_("Give the approval act and the approval date."), "error")
        return redirect(url_for("planning.versions"))
    new = roll_back(portal().store, plan, version, approval_act=form.approval_act.data, approved=form.approved.data,
                    effective=form.effective.data)
    AuditLog(portal().agency).record(actor_name(), "rollback", f"plan:{plan}",
                                     {"to_version": version, "new_version": new.version,
                                      "approval_act": form.approval_act.data}, client_ip())
    flash(_("Version %(v)s republished as version %(n)s.", v=version, n=new.version), "success")
    return redirect(url_for("planning.versions"))


@planner_required
def api_draft(draft_id: int) -> Response:
    """A draft's validation report and impact summary, as JSON."""

    d = drafts()
    draft = d.get(draft_id)
    impact = d.impact(draft).to_dict(limit=1000) if draft.file_path and draft.status == "draft" else None
    return json_response({"id": draft.id, "plan": draft.plan_name, "kind": draft.kind, "status": draft.status,
                          "blocking": draft.blocking, "report": draft.report, "mapping": draft.mapping,
                          "impact": impact, "published_version_id": draft.published_version_id})


@planner_required
def api_create_draft() -> Response:
    """``POST /api/v1/drafts`` (multipart: ``file`` + the upload form's fields): validate and keep a draft.

    Signed-in planners only; send the session cookie and the CSRF token of ``GET /api/v1/me`` as
    ``X-CSRFToken``. Answers 201 with the draft (report included); a refused file is a 4xx.
    """

    upload = request.files.get("file")
    if upload is None or not upload.filename:

        raise InvalidInput("Send the layer as the multipart field 'file'.", parameter="file")
    fields = {k: (request.form.get(k) or "").strip() or None
              for k in ("layer", "zone_field", "label_field", "label_ar_field", "kind_field", "kind_value", "crs",
                        "encoding")}
    preset = PRESETS.get(request.form.get("preset") or "", {})
    for key, value in preset.items():
        if key != "kind" and not fields.get(key):
            fields[key] = value
    draft = drafts().create(upload.stream, upload.filename, plan_name=request.form.get("plan_name", ""),
                            kind=request.form.get("kind") or preset.get("kind", "zones"), user=actor_name() or "?",
                            ip=client_ip(), **fields)
    response = api_draft(draft.id)
    response.status_code = 201
    return response


@planner_required
def api_publish_draft(draft_id: int) -> Response:
    """``POST /api/v1/drafts/<id>/publish`` (JSON: approval_act, approved, effective): a new version."""

    body = request.get_json(silent=True) or {}
    try:
        approved = date.fromisoformat(str(body.get("approved", "")))
        effective = date.fromisoformat(body["effective"]) if body.get("effective") else None
    except ValueError:
        raise InvalidInput("Dates are written YYYY-MM-DD: 'approved' (required) and 'effective'.") from None
    version = drafts().publish(draft_id, approval_act=str(body.get("approval_act", "")), approved=approved,
                               effective=effective, user=actor_name() or "?", ip=client_ip())
    return json_response({"plan": version.plan_name, "version": version.version,
                          "effective_from": version.effective_from.isoformat()}, 201)


blp = Blueprint("planning_api", __name__, url_prefix="/api/v1",
                description="Planners: upload a layer as a draft, read its validation report, publish it. Signed-in "
                            "planners (session cookie, CSRF token of GET /api/v1/me as X-CSRFToken).")

_DRAFT_FIELDS = {"plan_name": "Plan name, e.g. tanger-centre", "kind": "zones, overlays or parcels",
                 "preset": "A field-mapping preset (CNIG PLU...)", "layer": "Layer of a GeoPackage or zip",
                 "zone_field": "Field holding the zone codes", "label_field": "Field holding the labels",
                 "label_ar_field": "Field holding the Arabic labels", "kind_field": "Field holding each overlay's kind",
                 "kind_value": "One kind for every overlay", "crs": "CRS when the file declares none (EPSG:26191)",
                 "encoding": "Attribute encoding (default: the .cpg, else detected)"}


def _documented(view: Any, status: int, description: str, *errors: int, body: dict[str, Any] | None = None) -> Any:
    """``view`` with its OpenAPI description (flask-smorest's public decorators)."""
    for code in errors:
        view = blp.alt_response(code, schema=ProblemSchema, description={
            400: "A field is missing or wrong", 401: "Sign in first", 403: "Planners only", 404: "No such draft",
            413: "File too large", 422: "The file or the publication is refused (message says why)"}[code])(view)
    view = blp.alt_response(status, success=True, description=description)(view)
    return blp.doc(requestBody=body)(view) if body else view


def _route_api() -> None:
    """Add the API's routes, documented, to the blueprint (once, at import)."""
    multipart = {"required": True, "content": {"multipart/form-data": {"schema": {
        "type": "object", "required": ["file", "plan_name"],
        "properties": {"file": {"type": "string", "format": "binary",
                                "description": "Zipped shapefile, GeoPackage or GeoJSON"},
                       **{k: {"type": "string", "description": v} for k, v in _DRAFT_FIELDS.items()}}}}}}
    publish = {"required": True, "content": {"application/json": {"schema": {
        "type": "object", "required": ["approval_act", "approved"],
        "properties": {"approval_act": {"type": "string", "description": "Approval decree reference"},
                       "approved": {"type": "string", "format": "date"},
                       "effective": {"type": "string", "format": "date", "description": "Default: approved"}}}}}}
    blp.add_url_rule("/drafts", "api_create_draft", _documented(
        api_create_draft, 201, "The draft, its validation report and impact", 400, 401, 403, 413, 422,
        body=multipart), methods=["POST"])
    blp.add_url_rule("/drafts/<int:draft_id>", "api_draft", _documented(
        api_draft, 200, "The draft, its validation report and impact summary", 401, 403, 404))
    blp.add_url_rule("/drafts/<int:draft_id>/publish", "api_publish_draft", _documented(
        api_publish_draft, 201, "The new plan version", 400, 401, 403, 404, 422, body=publish), methods=["POST"])


_route_api()


def init_app(app: Flask) -> None:
    """Register the planners' API and template labels (the pages are :data:`bp`)."""
    app.extensions["gisportal_api"].register_blueprint(blp)
    labels.init_app(app)


#: The planners' pages: upload, drafts, versions, rollback.
bp = PagesBlueprint("planning", __name__, url_prefix="/admin")
bp.add_url_rule("/upload", "upload", admin_upload, methods=["GET", "POST"])
bp.add_url_rule("/drafts/<int:draft_id>", "draft", admin_draft)
bp.add_url_rule("/drafts/<int:draft_id>/impact.csv", "draft_impact_csv", admin_draft_impact_csv)
bp.add_url_rule("/drafts/<int:draft_id>/publish", "draft_publish", admin_draft_publish, methods=["POST"])
bp.add_url_rule("/drafts/<int:draft_id>/discard", "draft_discard", admin_draft_discard, methods=["POST"])
bp.add_url_rule("/versions", "versions", admin_versions)
bp.add_url_rule("/plans/<plan>/rollback/<int:version>", "rollback", admin_rollback, methods=["POST"])
