"""Complaints on the web: the citizen's form, receipt and tracking pages, and the JSON API.

* ``/complaints/new``: the form (place clicked on the map or a parcel reference, category, description,
  up to five files, contact details), rate-limited; answers the receipt page with the tracking number and the
  secret code, shown once (and a PDF receipt whose QR code opens the tracking page, without the code).
* ``/complaints/track``: number + code open the timeline and the agency's answer; the browser's session then
  remembers the complaint (its attachments, adding information) so the code never travels in a URL.
* the API (``POST /api/v1/complaints``, ``GET /api/v1/complaints/<number>?code=``) lives in
  :mod:`gisportal.web.services.complaints.api`, the staff pages in :mod:`gisportal.web.services.complaints.admin`.
"""

from __future__ import annotations

import logging
from typing import Any

from flask import Blueprint, Flask, Response, redirect, render_template, request, send_file, session, url_for
from flask.blueprints import BlueprintSetupState
from flask.typing import ResponseReturnValue
from flask_babel import force_locale
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import FileField, HiddenField, SelectField, StringField, TextAreaField
from wtforms.validators import Length

from gisportal.core.errors import Conflict, FileTooLarge, GisportalError, InvalidInput, NotFound
from gisportal.core.notifications import Notification
from gisportal.services.complaints.files import AttachmentFiles, Upload, check_uploads
from gisportal.services.complaints.handling import Attachment, Complaint, ComplaintBook, ComplaintEvent
from gisportal.services.complaints.intake import CATEGORIES, NewComplaint, check_new_complaint, locate
from gisportal.web.core.context import portal, public_base
from gisportal.web.core.i18n import current_language, format_locale
from gisportal.web.core.security import limit_request_size
from gisportal.web.core.throttle import wrong_code_limit
from gisportal.web.note.documents import qr_svg
from gisportal.web.services.complaints.receipt import receipt_pdf_bytes
from gisportal.web.zoning.maps import territory_map_config
from gisportal.web.zoning.pages import cached_search_examples

logger = logging.getLogger(__name__)

#: Complaints a browser session may open without the code again (after entering it once).
SESSION_KEY, SESSION_MAX = "complaints", 10


def category_labels() -> dict[str, str]:
    """Category -> label in the page's language."""
    return {"illegal_construction": _("Illegal construction"),
            "note_content": _("Content of an urban-information note"),
            "service_delay": _("Service delay"), "other": _("Other")}


def status_labels() -> dict[str, str]:
    """Status -> label in the page's language."""
    return {"received": _("Received"), "assigned": _("Assigned"), "in_progress": _("In progress"),
            "answered": _("Answered"), "closed": _("Closed")}


def event_labels() -> dict[str, str]:
    """Timeline event -> label in the page's language."""
    return {**status_labels(), "received": _("Complaint received"), "reopened": _("Reopened"),
            "citizen_info": _("Information added by the citizen"), "staff_note": _("Internal note")}


#: The domain's messages, listed here for translation: pages show them in the visitor's language (the API
#: answers them in English, with the field in ``parameter``).
DOMAIN_MESSAGES = (
    _l("Choose a category: illegal_construction, note_content, service_delay or other."),
    _l("Describe the problem in 20 to 5000 characters."), _l("Give your name (2 to 120 characters)."),
    _l("This e-mail address does not look right (name@example.ma)."),
    _l("This phone number does not look right (e.g. +212 6 12 34 56 78)."),
    _l("Give an e-mail address or a phone number so that the agency can reach you."),
    _l("A national identity card number (CIN) looks like K123456 or BE123456."),
    _l("A land-title reference looks like TF-104523/06."),
    _l("Say where: click the place on the map or type the parcel's land-title reference."),
    _l("Give both the longitude and the latitude of the place."), _l("No parcel has this land-title reference."),
    _l("This portal holds no data yet."), _l("This point is outside the territory covered by this portal."),
    _l("At most 5 files can be attached."), _l("This file is empty."),
    _l("This file is larger than the size allowed for one file."),
    _l("The attached files together are larger than the size allowed."),
    _l("This file is not a JPEG, PNG or WebP image nor a PDF document."),
    _l("No complaint matches this number and code."), _l("No such complaint."), _l("Write at most 5000 characters."),
    _l("Write a message or attach a file."), _l("Assign the complaint to an active staff account."),
    _l("Only a received or assigned complaint can be put in progress."),
    _l("Write the answer (2 to 5000 characters)."), _l("Only a closed complaint can be reopened."),
    _l("Write the note (2 to 5000 characters)."), _l("This complaint is closed."),
    _l("This complaint changed meanwhile. Reload it and try again."),
)


def problem_text(error: GisportalError) -> str:
    """A domain error's message in the page's language, with the file or reference it is about."""
    text = _(error.message)
    about = error.details.get("file") or error.details.get("ref")
    return f"{text} ({about})" if about else text


def book() -> ComplaintBook:
    """The complaints of the current instance (notifications through the instance's sender)."""
    p = portal()
    return ComplaintBook(p.agency, AttachmentFiles(p.settings.data_dir / "complaints"), notifier=notify)


def tracking_url(number: str) -> str:
    """The public tracking page of a complaint (what the QR code and the e-mails carry: never the code)."""
    return f"{public_base()}{url_for('complaints.track', number=number)}"


def notify(complaint: Complaint, event: ComplaintEvent) -> None:
    """E-mail the citizen about a change, in the complaint's language, with the tracking link (no code)."""
    link = tracking_url(complaint.number)
    with force_locale(format_locale(complaint.lang)):
        status = status_labels()[complaint.status]
        subject = _("Your complaint %(number)s: %(status)s", number=complaint.number, status=status)
        lines = [_("The status of your complaint %(number)s is now: %(status)s.", number=complaint.number,
                   status=status)]
        if event.public_message:
            lines += ["", _("Message from the agency:") if event.actor != "citizen" else _("Your message:"),
                      event.public_message]
        lines += ["", _("Follow it with its number and your secret code at:"), link]
    portal().sender.send(Notification(to=complaint.contact_email or "", subject=subject, text="\n".join(lines),
                                      topic=f"complaint:{complaint.number}"))


def read_uploads(name: str = "attachments") -> list[Upload]:
    """The request's files under ``name``, each read up to one byte over the limit (enough to refuse it)."""
    limit = portal().settings.complaint_attachment_max_bytes
    return [Upload(f.filename or "", f.stream.read(limit + 1)) for f in request.files.getlist(name)
            if f.filename or f.content_length]


def checked_uploads(name: str = "attachments") -> list:
    """The request's files, checked by content and size."""
    settings = portal().settings
    return check_uploads(read_uploads(name), settings.complaint_attachment_max_bytes,
                         settings.complaint_attachments_max_total_bytes)


def file_complaint(values: dict[str, Any]) -> tuple[Complaint, str]:
    """Check, locate and store a submission (fields in ``values``, files from the request)."""
    new = check_new_complaint(NewComplaint(
        category=values.get("category") or "", description=values.get("description") or "",
        contact_name=values.get("contact_name") or "", lon=values.get("lon"), lat=values.get("lat"),
        parcel_ref=values.get("parcel_ref"), contact_email=values.get("contact_email"),
        contact_phone=values.get("contact_phone"), contact_cin=values.get("contact_cin"),
        lang=values.get("lang") or current_language()))
    location = locate(portal().store, new)
    uploads = checked_uploads()
    return book().file(new, location, uploads)


def public_view(complaint: Complaint, events: list[ComplaintEvent], attachments: list[Attachment],
                attachment_url: Any) -> dict[str, Any]:
    """What a citizen with the code sees: no contact data, no staff notes, no staff names."""
    return {
        "number": complaint.number, "category": complaint.category, "status": complaint.status,
        "created_at": complaint.created_at.isoformat(), "updated_at": complaint.updated_at.isoformat(),
        "parcel_ref": complaint.parcel_ref, "lon": complaint.lon, "lat": complaint.lat,
        "description": complaint.description, "answer": complaint.answer, "open": complaint.is_open,
        "timeline": [{"event": e.event, "status": e.status, "at": e.at.isoformat(),
                      "by": "citizen" if e.actor == "citizen" else "agency", "message": e.public_message}
                     for e in events if e.event != "staff_note"],
        "attachments": [{"id": a.id, "filename": a.filename, "content_type": a.content_type, "size": a.size,
                         "url": attachment_url(a)} for a in attachments],
    }


def attachment_response(attachment: Attachment, path: Any) -> Response:
    """A stored file as a download: its checked content type, never rendered by the browser."""
    response = send_file(path, mimetype=attachment.content_type, as_attachment=True,
                         download_name=attachment.filename, max_age=0)
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Cache-Control"] = "private, no-store"
    response.headers["Content-Security-Policy"] = "default-src 'none'; sandbox"
    return response


# --------------------------------------------------------------------------- pages

class ComplaintForm(FlaskForm):
    """The citizen's form (checked again, with the API's messages, by the domain)."""

    category = SelectField(_l("Category"), choices=["", *CATEGORIES],
                           validate_choice=False)  # checked by the domain, with its message
    description = TextAreaField(_l("Description"), validators=[Length(max=6000)])
    lon = HiddenField()
    lat = HiddenField()
    parcel_ref = StringField(_l("Land-title reference"), validators=[Length(max=200)])
    contact_name = StringField(_l("Full name"), validators=[Length(max=500)])
    contact_email = StringField(_l("E-mail"), validators=[Length(max=500)])
    contact_phone = StringField(_l("Phone"), validators=[Length(max=100)])
    contact_cin = StringField(_l("National identity card (CIN)"), validators=[Length(max=100)])
    attachments = FileField(_l("Photos or documents"))


class TrackForm(FlaskForm):
    """Number and secret code."""

    number = StringField(_l("Tracking number"), validators=[Length(max=40)])
    code = StringField(_l("Secret code"), validators=[Length(max=64)])


class AddInfoForm(FlaskForm):
    """More information from the citizen."""

    message = TextAreaField(_l("Your message"), validators=[Length(max=6000)])
    attachments = FileField(_l("Photos or documents"))


def map_config() -> dict[str, Any]:
    """Where the map opens (the territory), its optional base map and the zones tiles, for complaints.js."""

    return territory_map_config(portal())


def _remember(number: str) -> None:
    allowed = [n for n in session.get(SESSION_KEY, []) if n != number][-(SESSION_MAX - 1):]
    session[SESSION_KEY] = [*allowed, number]


def _remembered(number: str | None) -> Complaint | None:
    if not number or number not in session.get(SESSION_KEY, []):
        return None
    try:
        return book().get(number)
    except GisportalError:
        return None


def new_complaint() -> Response | str | tuple[str, int]:
    """The filing form; on success the receipt (number and code shown once)."""
    form = ComplaintForm()
    problem, field = None, None
    if request.method == "POST":
        if form.validate():
            try:
                complaint, code = file_complaint({**request.form.to_dict(), "lang": current_language()})
            except GisportalError as exc:
                problem, field = problem_text(exc), exc.details.get("parameter")
                status = exc.status
            else:

                _remember(complaint.number)
                url = tracking_url(complaint.number)
                return render_template("complaints/receipt.html", complaint=complaint, code=code, track_url=url,
                                       qr=qr_svg(url), categories=category_labels())
        else:
            problem, status = _("Some fields are too long."), 400
        return _form_page(form, problem, field), status
    return _form_page(form, None, None)


def _form_page(form: ComplaintForm, problem: str | None, field: str | None) -> str:
    settings = portal().settings
    limits = {"each": round(settings.complaint_attachment_max_bytes / 1048576, 1),
              "total": round(settings.complaint_attachments_max_total_bytes / 1048576, 1)}
    return render_template("complaints/new.html", form=form, problem=problem, field=field, limits=limits,
                           categories=category_labels(), map_config=map_config(),
                           search_examples=cached_search_examples())


def track() -> ResponseReturnValue:
    """Number + code (POST) open the complaint; a session that already opened it sees it (GET)."""
    form = TrackForm()
    number = request.args.get("number") or ""
    if request.method == "POST":
        if form.validate():
            try:
                opened = book().open_with_code(form.number.data or "", form.code.data or "")
            except GisportalError as exc:
                return render_template("complaints/track.html", form=form, problem=problem_text(exc)), exc.status
            _remember(opened.number)
            return redirect(url_for("complaints.track", number=opened.number), code=303)
        return render_template("complaints/track.html", form=form, problem=_("Check the number and code.")), 400
    complaint = _remembered(number)
    if complaint is None:
        form.number.data = number
        return render_template("complaints/track.html", form=form, problem=None)
    return _status_page(complaint, AddInfoForm(), None)


def _status_page(complaint: Complaint, form: AddInfoForm, problem: str | None) -> str:
    """The citizen's view of a complaint: status, answer, public timeline, files, the form to add more."""
    complaints = book()
    events = complaints.timeline(complaint)
    view = public_view(complaint, events, complaints.attachments(complaint),
                       lambda a: url_for("complaints.track_attachment", number=complaint.number, attachment_id=a.id))
    times = [e.at for e in events if e.event != "staff_note"]
    return render_template("complaints/status.html", complaint=complaint, view=view, times=times, form=form,
                           problem=problem, categories=category_labels(), statuses=status_labels(),
                           events=event_labels())


def add_information(number: str) -> ResponseReturnValue:
    """The citizen adds a message or files (the session must have opened the complaint with its code)."""
    complaint = _remembered(number)
    form = AddInfoForm()
    if complaint is None:
        return render_template("complaints/track.html", form=TrackForm(number=number),
                               problem=_("Enter the number and secret code of your complaint first.")), 403
    try:
        if not form.validate():
            raise InvalidInput(_("Your message is too long."), parameter="message")
        book().add_information(complaint, form.message.data or "", checked_uploads())
    except (InvalidInput, FileTooLarge, Conflict) as exc:
        return _status_page(complaint, form, problem_text(exc)), exc.status
    return redirect(url_for("complaints.track", number=complaint.number), code=303)


def track_attachment(number: str, attachment_id: int) -> Response:
    """A file of a complaint this session opened with its code."""
    complaint = _remembered(number)
    if complaint is None:
        raise NotFound(_("No complaint matches this number and code."))
    return attachment_response(*book().attachment_file(complaint, attachment_id))


def receipt_pdf() -> Response:
    """The receipt as PDF: number and code (posted back by the receipt page), QR code to the tracking page."""

    form = TrackForm()
    if not form.validate():
        raise InvalidInput(_("Check the number and code."))
    complaint = book().open_with_code(form.number.data or "", form.code.data or "")
    body = receipt_pdf_bytes(complaint, form.code.data or "", tracking_url(complaint.number), category_labels())
    response = Response(body, mimetype="application/pdf")
    response.headers["Content-Disposition"] = f'attachment; filename="{complaint.number}.pdf"'
    response.headers["Cache-Control"] = "private, no-store"
    return response


def init_app(app: Flask) -> None:
    """The request sizes of the forms with attachments (the pages are :data:`bp`; the API and the staff pages:
    :mod:`gisportal.web.services.complaints.api`, :mod:`gisportal.web.services.complaints.admin`)."""
    portal_settings = app.extensions["gisportal"].settings
    for endpoint in ("complaints.new", "complaints.track", "complaints.add_information",
                     "complaints_api.ComplaintsCollection"):
        # the attachments and the form's text fields, nothing more
        limit_request_size(app, endpoint, portal_settings.complaint_attachments_max_total_bytes + 1024 * 1024)


#: The public complaint pages: filing, tracking, the receipt.
bp = Blueprint("complaints", __name__, url_prefix="/complaints")
bp.add_url_rule("/receipt.pdf", "receipt_pdf", receipt_pdf, methods=["POST"])


@bp.record
def _limited_routes(state: BlueprintSetupState) -> None:
    """The forms (POSTs rate-limited) and the attachment behind a secret code (wrong codes limited), with the app's
    limiter (one per app: declared when the blueprint is registered)."""
    limiter = state.app.extensions["gisportal_limiter"]
    limit = limiter.limit(lambda: portal().settings.form_rate_limit, methods=["POST"])
    state.add_url_rule("/new", "new", limit(new_complaint), methods=["GET", "POST"])
    state.add_url_rule("/track", "track", limit(track), methods=["GET", "POST"])
    state.add_url_rule("/track/<number>/add", "add_information", limit(add_information), methods=["POST"])
    state.add_url_rule("/track/<number>/attachments/<int:attachment_id>", "track_attachment",
                       wrong_code_limit(limiter)(track_attachment))
