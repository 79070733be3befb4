"""Staff pages of payments: the fee schedule editor (administrators) and the daily reconciliation (staff)."""

from __future__ import annotations

import csv
import io
import logging
from datetime import date, timedelta

from flask import Blueprint, Response, flash, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from flask_babel import gettext as _

from gisportal.core.csvsafe import safe_cell
from gisportal.core.errors import GisportalError, InvalidInput
from gisportal.services.payments.fees import to_yaml
from gisportal.services.payments.orders import RECONCILIATION_COLUMNS, reconciliation
from gisportal.web.accounts.auth import actor_name, admin_required, audit_log, client_ip, staff_required
from gisportal.web.core.context import portal
from gisportal.web.services.payments.public import FORM_EXPIRED, CsrfForm, service

logger = logging.getLogger(__name__)

MAX_SCHEDULE = 256 * 1024


def _date(value: str | None, default: date, name: str) -> date:
    value = (value or "").strip()
    if not value:
        return default
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise InvalidInput(_("Write the date as YYYY-MM-DD."), parameter=name) from None


def _fees_page(text: str, effective: date, note: str, problem: str | None, status: int = 200,
               form: CsrfForm | None = None) -> tuple[str, int]:
    fees = service().fees
    return render_template("payments/admin_fees.html", versions=fees.versions(), in_force=fees.in_force(), text=text,
                           effective=effective, note=note, problem=problem,
                           form=form or CsrfForm(formdata=None)), status


@admin_required
def admin_fees() -> ResponseReturnValue:
    """The schedule's versions and an editor that publishes a new version from a date (never edits one)."""
    fees = service().fees
    if request.method == "GET":
        latest = fees.versions()[-1]
        return _fees_page(to_yaml(latest.schedule), date.today() + timedelta(days=1), "", None)
    form = CsrfForm()
    text = request.form.get("schedule", "")
    note = request.form.get("note", "")[:500]
    try:
        if not form.validate_on_submit():
            raise InvalidInput(str(FORM_EXPIRED))
        effective = _date(request.form.get("effective_from"), date.today(), "effective_from")
        if len(text.encode()) > MAX_SCHEDULE:
            raise InvalidInput(_("This schedule is too large."))
        version = fees.publish(text, user=actor_name() or "?", effective_from=effective, note=note,
                               audit=audit_log(), ip=client_ip())
    except GisportalError as exc:
        return _fees_page(text, date.today(), note, exc.message, exc.status, form)
    flash(_("Fee schedule saved as version %(id)s, in force from %(date)s.", id=version.id,
            date=version.effective_from.isoformat() if version.effective_from else ""), "success")
    return redirect(url_for("payments_admin.fees"), code=303)


@staff_required
def admin_reconciliation() -> str:
    """Orders, payments and differences of one day."""
    day = _date(request.args.get("day"), date.today(), "day")
    return render_template("payments/admin_reconciliation.html", report=reconciliation(portal().agency, day), day=day,
                           previous=day - timedelta(days=1), following=day + timedelta(days=1))


#: A CSV cell a spreadsheet will not run as a formula (values from callbacks are outside input).
_cell = safe_cell


@staff_required
def admin_reconciliation_csv() -> Response:
    """The same day as CSV: one row per order, payment and difference (amounts in centimes)."""
    day = _date(request.args.get("day"), date.today(), "day")
    report = reconciliation(portal().agency, day)
    out = io.StringIO()
    writer = csv.DictWriter(out, RECONCILIATION_COLUMNS)
    writer.writeheader()
    for section in ("orders", "payments", "differences"):
        writer.writerows({k: _cell(v) for k, v in row.items()} for row in report[section])
    response = Response(out.getvalue(), mimetype="text/csv")
    response.headers["Content-Disposition"] = f'attachment; filename="reconciliation-{day.isoformat()}.csv"'
    return response


#: The fee schedule and the reconciliation (staff).
bp = Blueprint("payments_admin", __name__, url_prefix="/admin")
bp.add_url_rule("/fees", "fees", admin_fees, methods=["GET", "POST"])
bp.add_url_rule("/reconciliation", "reconciliation", admin_reconciliation)
bp.add_url_rule("/reconciliation.csv", "reconciliation_csv", admin_reconciliation_csv)
