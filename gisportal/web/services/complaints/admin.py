"""Staff pages of complaints: the queue (filters, map, overdue flag), one complaint and its handling.

Any signed-in staff account (planner or admin) handles complaints: assign, put in progress, answer, add an
internal note, close, reopen. Every step lands in the complaint's timeline (time and user name) and in the
audit log (number and status only: never the citizen's personal data).
"""

from __future__ import annotations

import logging
from typing import Any

from flask import Blueprint, Response, flash, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from flask_babel import gettext as _
from flask_wtf import FlaskForm
from wtforms import SelectField, TextAreaField
from wtforms.validators import Length

from gisportal.core.errors import GisportalError, InvalidInput
from gisportal.services.complaints.handling import STATUSES, Complaint
from gisportal.services.complaints.intake import CATEGORIES
from gisportal.web.accounts.auth import accounts, actor_name, audit_log, client_ip, staff_required
from gisportal.web.core.context import portal
from gisportal.web.services.complaints.public import (
    attachment_response,
    book,
    category_labels,
    event_labels,
    map_config,
    problem_text,
    status_labels,
)

logger = logging.getLogger(__name__)

ACTIONS = ("assign", "start", "answer", "note", "close", "reopen")


class ActionForm(FlaskForm):
    """One staff action on a complaint (CSRF, the assignee or a text)."""

    assignee = SelectField(choices=[], validate_choice=False)
    text = TextAreaField(validators=[Length(max=6000)])


def _deadline() -> int:
    return portal().settings.complaint_deadline_days


def _row(complaint: Complaint) -> dict[str, Any]:
    """What the queue and its map show of a complaint (no personal data on the map)."""
    return {"number": complaint.number, "status": complaint.status, "category": complaint.category,
            "lat": complaint.lat, "lon": complaint.lon, "overdue": complaint.is_overdue(_deadline()),
            "url": url_for("complaints_admin.detail", number=complaint.number)}


@staff_required
def queue() -> str:
    """The queue, newest first, with filters: status, category, assignee (``-``: nobody), overdue."""
    args = request.args
    status = args.get("status") if args.get("status") in STATUSES else None
    category = args.get("category") if args.get("category") in CATEGORIES else None
    assignee = (args.get("assignee") or "").strip()[:64] or None
    overdue = args.get("overdue") == "1"
    items = book().queue(status, category, assignee, _deadline() if overdue else None)
    staff = [u.username for u in accounts().list() if u.active]
    rows = [_row(c) for c in items]
    return render_template("complaints/admin_queue.html", items=items, rows=rows,
                           filters={"status": status or "", "category": category or "",
                                    "assignee": assignee or "", "overdue": overdue},
                           staff=staff, deadline=_deadline(), categories=category_labels(),
                           statuses=status_labels(), map_config={**map_config(), "points": rows})


@staff_required
def detail(number: str) -> str:
    """One complaint with the citizen's contact details, the whole timeline and the actions."""
    complaints = book()
    complaint = complaints.get(number)
    form = ActionForm()
    staff = [u.username for u in accounts().list() if u.active]
    form.assignee.choices = staff
    form.assignee.data = complaint.assignee or actor_name()
    return render_template("complaints/admin_complaint.html",
                           complaint=complaint, events=complaints.timeline(complaint),
                           attachments=complaints.attachments(complaint), form=form,
                           overdue=complaint.is_overdue(_deadline()), due_at=complaint.due_at(_deadline()),
                           categories=category_labels(), statuses=status_labels(), event_names=event_labels(),
                           map_config={**map_config(), "points": [_row(complaint)]})


@staff_required
def act(number: str, action: str) -> ResponseReturnValue:
    """Apply one action, audit it, and go back to the complaint."""
    complaints = book()
    complaint = complaints.get(number)
    form = ActionForm()
    user = actor_name() or "staff"
    text = form.text.data or ""
    try:
        if action not in ACTIONS:
            raise InvalidInput(_("Unknown action."))
        if not form.validate():
            raise InvalidInput(_("The text is too long."))
        if action == "assign":
            updated = complaints.assign(complaint, (form.assignee.data or "").strip(), user)
        elif action == "start":
            updated = complaints.start(complaint, user, text)
        elif action == "answer":
            updated = complaints.answer(complaint, text, user)
        elif action == "note":
            updated = complaints.add_note(complaint, text, user)
        elif action == "close":
            updated = complaints.close(complaint, user, text)
        else:
            updated = complaints.reopen(complaint, user, text)
    except GisportalError as exc:
        flash(problem_text(exc), "error")
        return redirect(url_for("complaints_admin.detail", number=complaint.number), code=303)
    details: dict[str, str | None] = {"status": updated.status}
    if action == "assign":
        details["assignee"] = updated.assignee
    audit_log().record(user, f"complaint.{action}", complaint.number, details, client_ip())
    flash(_("Saved."), "success")
    return redirect(url_for("complaints_admin.detail", number=complaint.number), code=303)


@staff_required
def attachment(number: str, attachment_id: int) -> Response:
    """A file of a complaint, for staff (audited: who downloaded what)."""
    complaints = book()
    complaint = complaints.get(number)
    found, path = complaints.attachment_file(complaint, attachment_id)
    audit_log().record(actor_name(), "complaint.attachment", complaint.number, {"attachment": found.id},
                       client_ip())
    return attachment_response(found, path)


#: The staff's complaint queue and files.
bp = Blueprint("complaints_admin", __name__, url_prefix="/admin/complaints")
bp.add_url_rule("", "queue", queue)
bp.add_url_rule("/<number>", "detail", detail)
bp.add_url_rule("/<number>/<action>", "action", act, methods=["POST"])
bp.add_url_rule("/<number>/attachments/<int:attachment_id>", "attachment", attachment)
