"""The document library on the web: browse and search, a stable page per document, its file and QR code,
the staff pages to add and describe documents, the JSON API (``/api/v1/documents``), and the regulation
links of the notes (a per-process cache, dropped when the library's revision changes)."""

from __future__ import annotations

import logging
import math
from typing import Any

from flask import Blueprint as PagesBlueprint
from flask import Flask, Response, abort, flash, redirect, render_template, request, send_file, url_for
from flask.views import MethodView
from flask_babel import gettext as _
from flask_smorest import Blueprint
from flask_wtf import FlaskForm
from markupsafe import Markup
from marshmallow import Schema, fields, validate
from wtforms import DateField, FileField, IntegerField, SelectField, StringField
from wtforms.validators import DataRequired, Length, Optional

from gisportal.core.errors import GisportalError
from gisportal.core.qrcodes import qr_png, qr_svg_text
from gisportal.services.library.documents import KINDS, DocumentMeta, LibraryDocument, SearchHit
from gisportal.services.library.text import highlight
from gisportal.web.accounts.auth import actor_name, client_ip, staff_required
from gisportal.web.core.context import portal, public_base
from gisportal.web.note.regulations import init_library, library, library_changed

logger = logging.getLogger(__name__)

PAGE_SIZE = 20


def kind_labels() -> dict[str, str]:
    """A label per kind of document, in the page's language."""
    return {"plan_regulation": _("Approved plan regulation"), "plan_map": _("Plan map"), "law": _("Law"),
            "decree": _("Decree"), "circular": _("Circular"), "procedure": _("Procedure"), "form": _("Form"),
            "publication": _("Agency publication")}


def qr_code(text: str, svg: bool = True) -> bytes:
    """A QR code of ``text`` as SVG or PNG bytes."""
    return qr_svg_text(text).encode() if svg else qr_png(text)


# --- public pages -----------------------------------------------------------------------------------------


def _page_number() -> int:
    try:
        return max(1, min(int(request.args.get("page", 1)), 10_000))
    except ValueError:
        return 1


def library_page() -> str:
    """Browse by kind and plan, search the full text (French and Arabic)."""
    query = request.args.get("q", "")[:200]
    kind = request.args.get("kind") or None
    plan = request.args.get("plan") or None
    page = _page_number()
    if kind not in (None, *KINDS):
        kind = None
    hits, total = library().search(query, kind, plan, limit=PAGE_SIZE, offset=(page - 1) * PAGE_SIZE)
    return render_template("library/index.html", hits=hits, total=total, query=query, kind=kind, plan=plan,
                           page=page, pages=max(1, math.ceil(total / PAGE_SIZE)), kinds=kind_labels(),
                           plans=portal().store.plans(), snippet=_snippet)


def _snippet(hit: SearchHit) -> Any:
    return highlight(hit.document.body, list(hit.terms), 240) if hit.terms and hit.document.body else ""


def document_page(doc_id: int) -> str:
    """The stable page of one document: metadata, file, QR code, and "superseded by" when it is."""
    lib = library()
    document = lib.get(doc_id)
    newer = lib.get(document.superseded_by) if document.superseded_by else None
    url = public_base() + url_for("library.document", doc_id=doc_id)
    return render_template("library/document.html", document=document, newer=newer, older=lib.superseded(doc_id),
                           kinds=kind_labels(), public_url=url, qr=Markup(qr_code(url).decode()))


def document_file(doc_id: int) -> Response:
    """The file, with its fixed media type, never sniffed; PDFs and images open in the browser."""
    lib = library()
    document = lib.get(doc_id)
    path = lib.file_path(document)
    if not path.is_file():
        abort(404)
    response = send_file(path, mimetype=document.media_type, conditional=True, max_age=3600,
                         download_name=f"document-{document.id}.{document.extension}")
    response.headers["Content-Disposition"] = f'inline; filename="document-{document.id}.{document.extension}"'
    response.headers["X-Content-Type-Options"] = "nosniff"
    return response


def document_qr(doc_id: int, fmt: str) -> Response:
    """The QR code of the document's stable URL (SVG or PNG)."""
    library().get(doc_id)  # 404 for an unknown number
    url = public_base() + url_for("library.document", doc_id=doc_id)
    svg = fmt == "svg"
    response = Response(qr_code(url, svg=svg), mimetype="image/svg+xml" if svg else "image/png")
    response.headers["X-Content-Type-Options"] = "nosniff"
    return response


# --- staff pages ------------------------------------------------------------------------------------------


class DocumentForm(FlaskForm):
    """A document's metadata (and its file, when adding)."""

    kind = SelectField(choices=list(KINDS), validators=[DataRequired()])
    title_fr = StringField(validators=[DataRequired(), Length(max=300)])
    title_ar = StringField(validators=[DataRequired(), Length(max=300)])
    reference = StringField(validators=[Optional(), Length(max=120)])
    issued_on = DateField(validators=[Optional()])
    plan_name = StringField(validators=[Optional(), Length(max=80)])
    zone_codes = StringField(validators=[Optional(), Length(max=200)])
    file = FileField()

    def document_meta(self) -> DocumentMeta:
        """The metadata typed in."""
        return DocumentMeta(self.kind.data, self.title_fr.data or "", self.title_ar.data or "",
                            self.reference.data or "", self.issued_on.data, self.plan_name.data or None,
                            tuple((self.zone_codes.data or "").replace(",", " ").split()))


class SupersedeForm(FlaskForm):
    """The newer document (empty: in force again)."""

    superseded_by = IntegerField(validators=[Optional()])


def _plan_names() -> set[str]:
    return {plan.name for plan in portal().store.plans()}


def _form_errors(form: FlaskForm) -> str:
    names = {"title_fr": _("Title (French)"), "title_ar": _("Title (Arabic)"), "kind": _("Kind"),
             "issued_on": _("Date"), "reference": _("Reference"), "plan_name": _("Plan"), "zone_codes": _("Zones")}
    return "; ".join(f"{names.get(name, name)}: {' '.join(map(str, errors))}" for name, errors in form.errors.items())


def _staff_list(form: DocumentForm, problem: str | None, status: int = 200) -> tuple[str, int]:
    hits, total = library().search(limit=100)
    return render_template("library/admin_index.html", form=form, hits=hits, total=total, kinds=kind_labels(),
                           plans=portal().store.plans(), problem=problem), status


@staff_required
def admin_library() -> Any:
    """The library's documents and the form to add one."""
    form = DocumentForm()
    if request.method == "GET":
        return _staff_list(form, None)
    if not form.validate_on_submit():
        return _staff_list(form, _form_errors(form) or _("Check the form."), 400)
    upload = request.files.get("file")
    if upload is None or not upload.filename:
        return _staff_list(form, _("Choose the document's file (PDF, JPEG, PNG or WebP)."), 400)
    try:
        document = library().add(upload.read(portal().settings.library_max_bytes + 1), upload.filename,
                                 form.document_meta(), actor_name() or "?", _plan_names(), client_ip())
    except GisportalError as exc:
        return _staff_list(form, exc.message, exc.status)
    library_changed()
    flash(_("Document %(n)s added to the library.", n=document.id), "success")
    return redirect(url_for("library.admin_document", doc_id=document.id))


@staff_required
def admin_library_document(doc_id: int) -> Any:
    """Edit a document's metadata; say which newer document supersedes it."""
    lib = library()
    document = lib.get(doc_id)
    form = DocumentForm(obj=None if request.method == "POST" else document)
    if request.method == "GET":
        form.zone_codes.data = " ".join(document.zone_codes)
    problem, status = None, 200
    if request.method == "POST":
        if not form.validate_on_submit():
            problem, status = _form_errors(form) or _("Check the form."), 400
        else:
            try:
                document = lib.update(doc_id, form.document_meta(), actor_name() or "?", _plan_names(), client_ip())
                library_changed()
                flash(_("Document updated."), "success")
                return redirect(url_for("library.admin_document", doc_id=doc_id))
            except GisportalError as exc:
                problem, status = exc.message, exc.status
    return render_template("library/admin_document.html", document=document, form=form, kinds=kind_labels(),
                           plans=portal().store.plans(), supersede=SupersedeForm(), problem=problem), status


@staff_required
def admin_library_supersede(doc_id: int) -> Any:
    """Mark the document superseded by a newer one (or in force again)."""
    form = SupersedeForm()
    if not form.validate_on_submit():
        flash(_("Give the number of the newer document."), "error")
        return redirect(url_for("library.admin_document", doc_id=doc_id)), 303
    try:
        library().supersede(doc_id, form.superseded_by.data, actor_name() or "?", client_ip())
    except GisportalError as exc:
        flash(exc.message, "error")
        return redirect(url_for("library.admin_document", doc_id=doc_id)), 303
    library_changed()
    flash(_("Document marked as superseded.") if form.superseded_by.data else _("Document in force again."),
          "success")
    return redirect(url_for("library.admin_document", doc_id=doc_id))


# --- API --------------------------------------------------------------------------------------------------

blp = Blueprint("library_api", __name__, url_prefix="/api/v1",
                description="The document library: plan regulations, laws, procedures, forms.")


class DocumentsArgs(Schema):
    q = fields.String(load_default="", validate=validate.Length(max=200),
                      metadata={"description": "Words to find in titles, references and text (French or Arabic)"})
    kind = fields.String(validate=validate.OneOf(KINDS), metadata={"description": "Kind of document"})
    plan = fields.String(validate=validate.Length(max=80), metadata={"description": "Plan name"})
    current = fields.Boolean(load_default=False, metadata={"description": "Only documents not superseded"})
    limit = fields.Integer(load_default=20, validate=validate.Range(1, 100))
    offset = fields.Integer(load_default=0, validate=validate.Range(0, 1_000_000))


class DocumentSchema(Schema):
    id = fields.Integer()
    kind = fields.String()
    title_fr = fields.String()
    title_ar = fields.String()
    reference = fields.String()
    issued_on = fields.Date(allow_none=True)
    plan = fields.String(allow_none=True)
    zones = fields.List(fields.String())
    media_type = fields.String()
    superseded_by = fields.Integer(allow_none=True)
    url = fields.String(metadata={"description": "Stable page of the document"})
    file_url = fields.String()
    qr_url = fields.String()
    snippet = fields.String(metadata={"description": "HTML: an escaped passage with the words found in <mark>"})
    rank = fields.Float()


class DocumentsSchema(Schema):
    total = fields.Integer()
    documents = fields.List(fields.Nested(DocumentSchema))


def document_to_dict(document: LibraryDocument, hit: SearchHit | None = None) -> dict[str, Any]:
    """A document as the API answers it."""
    data = {"id": document.id, "kind": document.kind, "title_fr": document.title_fr, "title_ar": document.title_ar,
            "reference": document.reference,
            "issued_on": document.issued_on,
            "plan": document.plan_name, "zones": list(document.zone_codes), "media_type": document.media_type,
            "superseded_by": document.superseded_by,
            "url": public_base() + url_for("library.document", doc_id=document.id),
            "file_url": public_base() + url_for("library.document_file", doc_id=document.id),
            "qr_url": public_base() + url_for("library.document_qr", doc_id=document.id, fmt="svg")}
    if hit is not None:
        data["snippet"], data["rank"] = str(_snippet(hit)), round(hit.rank, 6)
    return data


@blp.route("/documents")
class Documents(MethodView):
    @blp.arguments(DocumentsArgs(), location="query")
    @blp.response(200, DocumentsSchema)
    def get(self, args: dict[str, Any]) -> dict[str, Any]:
        """Search the library (``q``, French or Arabic, accents and vowels optional) and filter it, best first."""
        hits, total = library().search(args["q"], args.get("kind"), args.get("plan"), not args["current"],
                                       args["limit"], args["offset"])
        return {"total": total, "documents": [document_to_dict(h.document, h) for h in hits]}


@blp.route("/documents/<int:doc_id>")
class Document(MethodView):
    @blp.response(200, DocumentSchema)
    def get(self, doc_id: int) -> dict[str, Any]:
        """One document's metadata and links."""
        return document_to_dict(library().get(doc_id))


def init_app(app: Flask) -> None:
    """Build the app's library with the note's regulation links, register the API (the pages are :data:`bp`)."""
    init_library(app)
    app.extensions["gisportal_api"].register_blueprint(blp)


#: The document library: public pages and staff pages.
bp = PagesBlueprint("library", __name__)
bp.add_url_rule("/documents", "index", library_page)
bp.add_url_rule("/documents/<int:doc_id>", "document", document_page)
bp.add_url_rule("/documents/<int:doc_id>/file", "document_file", document_file)
bp.add_url_rule("/documents/<int:doc_id>/qr.<any(svg,png):fmt>", "document_qr", document_qr)
bp.add_url_rule("/admin/library", "admin", admin_library, methods=["GET", "POST"])
bp.add_url_rule("/admin/library/<int:doc_id>", "admin_document", admin_library_document, methods=["GET", "POST"])
bp.add_url_rule("/admin/library/<int:doc_id>/supersede", "admin_supersede", admin_library_supersede, methods=["POST"])
