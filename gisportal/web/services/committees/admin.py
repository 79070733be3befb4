"""Staff pages of the committees: sessions, decisions by form or CSV import (validation report first, all or
nothing), a file with the applicant's personal data, a new personal code. Any signed-in staff account.

A new file's personal code is shown once, on the page that answers the recording (never flashed: flashed
messages travel in the signed, unencrypted session cookie), and only its hash is kept.
"""

from __future__ import annotations

import logging
from datetime import date
from typing import Any

from flask import Blueprint, Response, flash, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import BooleanField, DateField, FileField, SelectChoice, SelectField, StringField, TextAreaField
from wtforms.validators import DataRequired, Length, Optional

from gisportal.core.errors import InvalidInput, RecordsInvalid
from gisportal.services.committees.decision_import import MAX_BYTES, parse_decisions_csv, template_csv
from gisportal.services.committees.records import DecisionEntry, Recorded
from gisportal.services.committees.terms import DECISIONS, PROJECT_TYPES, SESSION_KINDS
from gisportal.web.accounts.auth import actor_name, client_ip, staff_required
from gisportal.web.core.i18n import current_language
from gisportal.web.services.committees.public import committees_of, term
from gisportal.web.services.subscriptions import subscriptions_of

logger = logging.getLogger(__name__)

#: Problems of a decision, in the page's language (``%(...)s``: the finding's parameters).
PROBLEMS = {
    "required": _l("This value is required."),
    "too_long": _l("At most %(max)s characters."),
    "bad_file_number": _l("A file number has 2 to 40 letters, digits, '/', '-', '_' or '.'."),
    "unknown_decision": _l("Unknown decision '%(value)s': use %(allowed)s."),
    "unknown_project_type": _l("Unknown project type '%(value)s': use %(allowed)s."),
    "unknown_parcel": _l("No parcel with the reference '%(value)s'."),
    "reasons_required": _l("An unfavourable or adjourned decision states its reasons."),
    "bad_cin": _l("A national ID number (CIN) is one or two letters followed by up to six digits."),
    "bad_phone": _l("A phone number is written 06XXXXXXXX or +212 6XXXXXXXX."),
    "parcel_mismatch": _l("File %(value)s is recorded on parcel %(parcel)s."),
    "already_in_session": _l("File %(value)s already has a decision in this session."),
    "already_decided": _l("File %(value)s was already decided (%(decision)s): only an adjourned file comes "
                          "back to a committee."),
    "later_session_needed": _l("File %(value)s was examined on %(date)s: its next decision needs a later session."),
    "duplicate_in_file": _l("File %(value)s appears more than once (first on line %(first)s)."),
    "missing_column": _l("This column is missing."),
    "unknown_column": _l("Unknown column: use the template's columns."),
    "wrong_cell_count": _l("%(found)s cells where the header has %(expected)s."),
    "not_utf8": _l("The file is not UTF-8 text: save it as \"CSV UTF-8\"."),
    "file_too_large": _l("The file is larger than %(max)s MB."),
    "too_many_rows": _l("At most %(max)s lines per import."),
    "empty": _l("The file holds no decision."),
    "unreadable": _l("The file cannot be read as CSV."),
}


def problem_text(finding: dict[str, Any]) -> str:
    """A finding (``Finding.to_dict()``) as a sentence."""
    template = PROBLEMS.get(finding["problem"])
    if template is None:
        return str(finding["problem"])
    try:
        return str(template) % finding
    except (KeyError, TypeError, ValueError):
        return str(template)


def _choices(vocabulary: dict[str, dict[str, str]]) -> list[SelectChoice]:

    return [SelectChoice(code, labels.get(current_language(), labels["fr"])) for code, labels in vocabulary.items()]


class SessionForm(FlaskForm):
    """A committee session."""

    held_on = DateField(_l("Date"), validators=[DataRequired(_l("Give the date of the session."))])
    kind = SelectField(_l("Committee"), validators=[DataRequired()])
    title = StringField(_l("Reference (optional)"), validators=[Optional(), Length(max=200)])


class DecisionForm(FlaskForm):
    """A decision on one file (the file's fields matter when it is new)."""

    file_number = StringField(_l("File number"), render_kw={"dir": "ltr"})
    parcel_ref = StringField(_l("Land-title reference"), render_kw={"dir": "ltr"})
    project_type = SelectField(_l("Project type"))
    decision = SelectField(_l("Decision"))
    conditions = TextAreaField(_l("Conditions or reasons (public)"))
    applicant_reference = StringField(_l("Applicant's reference"))
    applicant_name = StringField(_l("Applicant's name (staff only)"))
    applicant_cin = StringField(_l("National ID number, CIN (staff only)"), render_kw={"dir": "ltr"})
    applicant_phone = StringField(_l("Phone (staff only)"), render_kw={"dir": "ltr"})


class ImportForm(FlaskForm):
    """A CSV file of decisions for the session."""

    file = FileField(_l("CSV file"), validators=[DataRequired(_l("Choose a CSV file."))])
    check_only = BooleanField(_l("Only check the file (record nothing)"))


def _forms(**data: Any) -> tuple[DecisionForm, ImportForm]:
    form = DecisionForm(**data)
    form.project_type.choices = _choices(PROJECT_TYPES)
    form.decision.choices = _choices(DECISIONS)
    return form, ImportForm(formdata=None)


@staff_required
def sessions_page() -> ResponseReturnValue:
    """The sessions, and a form to add one."""
    form = SessionForm()
    form.kind.choices = _choices(SESSION_KINDS)
    status = 200
    if request.method == "POST":
        if form.validate_on_submit():
            session = committees_of().create_session(form.held_on.data, form.kind.data, form.title.data or "",
                                                     user=actor_name() or "?", ip=client_ip())
            flash(_("Session recorded."), "success")
            return redirect(url_for("committees_admin.session", session_id=session.id), code=303)
        status = 400
    elif not form.held_on.data:
        form.held_on.data = date.today()
    return render_template("committees/admin_sessions.html", form=form, sessions=committees_of().sessions(),
                           term=term), status


def _session_page(session_id: int, status: int = 200, form: DecisionForm | None = None,
                  report: list[dict[str, Any]] | None = None, recorded: list[Recorded] | None = None,
                  checked: int | None = None) -> tuple[str, int]:
    c = committees_of()
    decision_form, import_form = _forms(formdata=None)
    return render_template("committees/admin_session.html", session=c.session(session_id),
                           decisions=c.public_decisions(session_id), form=form or decision_form,
                           import_form=import_form, report=report, recorded=recorded, checked=checked,
                           term=term, problem_text=problem_text, max_mb=MAX_BYTES // 1024 // 1024), status


def _record(session_id: int, entries: list[DecisionEntry], rows: list[int] | None, source: str) -> list[Recorded]:
    recorded = committees_of().record(session_id, entries, user=actor_name() or "?", ip=client_ip(), rows=rows,
                                      source=source)
    # after the commit: a failed send is logged, the decisions stay
    subscriptions_of().notify_decisions([r.decision for r in recorded])
    return recorded


@staff_required
def session_page(session_id: int) -> tuple[str, int]:
    """A session: its decisions, the decision form (POST records one) and the CSV import."""
    if request.method == "GET":
        return _session_page(session_id)
    form, _import = _forms()
    if not form.validate_on_submit():
        return _session_page(session_id, 400, form)
    fields = ("file_number", "parcel_ref", "project_type", "decision", "conditions", "applicant_reference",
              "applicant_name", "applicant_cin", "applicant_phone")
    entry = DecisionEntry(**{name: (getattr(form, name).data or "").strip() for name in fields})
    try:
        recorded = _record(session_id, [entry], None, "form")
    except RecordsInvalid as error:
        for finding in error.details["findings"]:
            field = getattr(form, finding["column"], None) or form.file_number
            field.errors = [*field.errors, problem_text(finding)]
        return _session_page(session_id, 422, form)
    return _session_page(session_id, 201, recorded=recorded)


@staff_required
def session_import(session_id: int) -> tuple[str, int]:
    """A CSV file of decisions: the validation report, then (unless only checking) all lines or none."""
    form = ImportForm()
    if not form.validate_on_submit() or not request.files.get("file"):
        raise InvalidInput(_("Choose a CSV file."))
    upload = request.files["file"]
    parsed = parse_decisions_csv(upload.stream.read(MAX_BYTES + 1))
    report = [f.to_dict() for f in parsed.findings]
    if parsed.entries:  # the whole report at once: lines the file itself spoilt, then every other check
        report += [f.to_dict() for f in committees_of().validate(session_id, parsed.entries, parsed.rows)]
    if report:
        return _session_page(session_id, 422, report=report)
    if form.check_only.data:
        return _session_page(session_id, 200, checked=len(parsed.entries))
    try:
        recorded = _record(session_id, parsed.entries, parsed.rows, "csv")
    except RecordsInvalid as error:  # a concurrent change since the check
        return _session_page(session_id, 422, report=error.details["findings"])
    return _session_page(session_id, 201, recorded=recorded)


@staff_required
def file_page() -> str:
    """A file with the applicant's personal data and its decisions (staff only)."""
    number = request.args.get("number", "")
    return render_template("committees/admin_file.html", file=committees_of().staff_file(number), term=term,
                           code=None)


@staff_required
def file_new_code() -> str:
    """A new personal code for a file (shown once)."""
    if not FlaskForm().validate_on_submit():
        raise InvalidInput(_("The form expired: try again."))
    number = request.form.get("number", "")
    code = committees_of().reset_code(number, user=actor_name() or "?", ip=client_ip())
    return render_template("committees/admin_file.html", file=committees_of().staff_file(number), term=term,
                           code=code)


@staff_required
def template_download() -> Response:
    """The CSV template."""
    response = Response(template_csv(), mimetype="text/csv; charset=utf-8")
    response.headers["Content-Disposition"] = 'attachment; filename="committee-decisions-template.csv"'
    return response


#: The staff's committee sessions, decisions and files.
bp = Blueprint("committees_admin", __name__, url_prefix="/admin/committees")
bp.add_url_rule("", "sessions", sessions_page, methods=["GET", "POST"])
bp.add_url_rule("/sessions/<int:session_id>", "session", session_page, methods=["GET", "POST"])
bp.add_url_rule("/sessions/<int:session_id>/import", "import_decisions", session_import, methods=["POST"])
bp.add_url_rule("/file", "file", file_page)
bp.add_url_rule("/file/code", "new_code", file_new_code, methods=["POST"])
bp.add_url_rule("/template.csv", "template", template_download)
