"""``GET /api/v1/situation-plan?ref=…|site=<site note number>&scale=&paper=&orientation=``: the situation plan
as a PDF (WeasyPrint), its map at the stated scale to the millimetre (:mod:`gisportal.note.situation`)."""

from __future__ import annotations

import logging
from datetime import date

import shapely
from flask import Flask, Response, render_template, request, url_for
from flask.views import MethodView
from flask_babel import force_locale
from flask_smorest import Blueprint

from gisportal.core.errors import InvalidInput, NotFound, told
from gisportal.note.issuing import check_number
from gisportal.note.render import pick
from gisportal.note.situation import FOOTER_MM, HEADER_MM, MARGIN_MM, check_scale, draw_situation
from gisportal.web.core.context import portal, public_base
from gisportal.web.core.errors import tell
from gisportal.web.core.i18n import current_language, format_locale
from gisportal.web.core.pdf import pdf_from_html
from gisportal.web.note.documents import qr_svg, verification_code, verify_url
from gisportal.zoning.lookup import ParcelQuery, find_parcel
from gisportal.zoning.mapdata import OVERLAY_COLOURS
from gisportal.zoning.overlays import overlay_kind

logger = logging.getLogger(__name__)

blp = Blueprint("situation_api", __name__, url_prefix="/api/v1", description="Situation plans (PDF).")


@blp.route("/situation-plan", endpoint="situation_plan")
class SituationPlan(MethodView):
    @blp.alt_response(200, success=True, description="The situation plan (application/pdf)")
    def get(self) -> Response:
        """The situation plan of a parcel (``ref``) or of an issued site note (``site`` = its number), as a PDF:
        ``scale`` 500, 1000, 2000 or 5000; ``paper`` A4 or A3; ``orientation`` portrait or landscape."""
        return situation_plan()


def situation_plan() -> Response:
    """The situation plan of a parcel (``ref``) or of an issued site note (``site``), as a PDF."""

    args, p = request.args, portal()
    ref, site = (args.get("ref") or "").strip(), (args.get("site") or "").strip()
    if bool(ref) == bool(site):
        raise InvalidInput(told("Give either 'ref' (a parcel) or 'site' (the number of a site note)."))
    lang = asked if (asked := args.get("lang")) in ("fr", "ar", "en") else current_language()
    with force_locale(format_locale(lang)):
        if ref:
            parcel = find_parcel(p.store, ParcelQuery(ref=ref))
            outline, subject, label = parcel.geometry, parcel.ref, told("Parcel")
            qr_url = f"{public_base()}{url_for('zoning.note', ref=parcel.ref)}"
        else:
            issued = check_number(p.registry, p.keyring, site, verification_code())  # the QR's token (issue #14)
            if issued.payload.get("kind") != "site":
                raise NotFound(told("Note %(number)s is not a site note.", number=issued.number))
            outline, subject, label = shapely.from_wkt(issued.payload["site"]["wkt"]), issued.number, told("Site")
            qr_url = verify_url(issued)
        plan = draw_situation(p.store, p.catalogue, outline, scale=check_scale(args.get("scale", "1000")),
                              paper=args.get("paper", "A4"), orientation=args.get("orientation", "portrait"))
        html = render_template(
            "sites/situation.html", plan=plan, subject=subject, subject_label=tell(label), lang=lang,
            area_m2=round(outline.area, 2), paper=args.get("paper", "A4"), today=date.today(), crs=p.store.crs,
            qr=qr_svg(qr_url), qr_url=qr_url, catalogue=p.catalogue, colours=OVERLAY_COLOURS,
            kind_label=lambda k: _kind_label(k, lang),
            margin=MARGIN_MM, header=HEADER_MM, footer=FOOTER_MM)
    response = Response(pdf_from_html(html), mimetype="application/pdf")
    response.headers["Content-Disposition"] = f'inline; filename="situation-{plan.scale}.pdf"'
    return response


def _kind_label(key: str, lang: str) -> str:
    kind = overlay_kind(key)
    return pick(kind.label_fr, kind.label_ar, lang, kind.label_en)


def init_app(app: Flask) -> None:
    """Register the route."""
    app.extensions["gisportal_api"].register_blueprint(blp)
