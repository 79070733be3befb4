"""Planners edit the rules catalogue: per zone code by form, or whole by YAML/CSV import; export both."""

from __future__ import annotations

import logging
from datetime import date

import yaml
from flask import Blueprint, Flask, Response, flash, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from flask_babel import gettext as _
from flask_wtf import FlaskForm

from gisportal.core.audit import AuditLog
from gisportal.core.errors import GisportalError, InvalidInput
from gisportal.web.accounts.auth import actor_name, client_ip, planner_required
from gisportal.web.core.context import portal
from gisportal.zoning.plans import PlanVersion
from gisportal.zoning.rulesbook import CSV_COLUMNS, from_csv, to_csv, to_yaml, zone_from_row

logger = logging.getLogger(__name__)

MAX_IMPORT = 2 * 1024 * 1024


class CsrfForm(FlaskForm):
    """A form carrying only its CSRF token; fields are read from the request."""


def _with_version() -> PlanVersion | None:
    """The plan version the rules are to take effect with (``with_version`` in the form), if one was chosen."""
    chosen = (request.form.get("with_version") or "").strip()
    if not chosen:
        return None
    version = next((v for v in portal().store.plan_versions() if str(v.id) == chosen), None)
    if version is None:
        raise InvalidInput(_("Choose a plan version from the list."))
    return version


def _effective() -> date:
    """The date the new rules take effect: that of the chosen plan version, else the date given, else today."""
    version = _with_version()
    if version is not None:
        return version.effective_from
    value = (request.form.get("effective_from") or "").strip()
    if not value:
        return date.today()
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise InvalidInput(_("Write the date as YYYY-MM-DD.")) from None


def _save(document: dict, source: str) -> ResponseReturnValue:
    p = portal()
    with_version = _with_version()
    note = request.form.get("note", "")
    if with_version is not None:  # the rules go with a plan version: same date, and said in the note
        note = f"{with_version.plan_name} v{with_version.version}" + (f" — {note}" if note else "")
    version = p.rules.save(document, user=actor_name() or "?", source=source, effective_from=_effective(),
                           note=note, audit=AuditLog(p.agency), ip=client_ip())
    p._last_check = 0.0  # pick the new catalogue up on the next request
    flash(_("Rules saved as version %(id)s, in force from %(date)s.", id=version.id,
            date=version.effective_from.isoformat()), "success")
    return redirect(url_for("rules_admin.index"))


def _plan_versions() -> list[PlanVersion]:
    """Plan versions rules can be made to take effect with, latest first."""
    return sorted(portal().store.plan_versions(), key=lambda v: (v.effective_from, v.id), reverse=True)


@planner_required
def admin_rules() -> str:
    """The catalogue in force, its versions, export and import."""
    p = portal()
    return render_template("publishing/rules.html", catalogue=p.catalogue, versions=p.rules.versions(),
                           form=CsrfForm(formdata=None), plan_versions=_plan_versions())


@planner_required
def admin_rule_edit(code: str) -> ResponseReturnValue:
    """Edit one zone code's rules; saving stores a new version of the whole catalogue."""
    p = portal()
    form = CsrfForm()
    if request.method == "POST":
        if not form.validate_on_submit():
            flash(_("The form expired; please try again."), "error")
            return redirect(url_for("rules_admin.edit", code=code))
        try:
            return _save(p.rules.with_zone(code, zone_from_row(dict(request.form, code=code))), f"form:{code}")
        except GisportalError as exc:
            return render_template("publishing/rule_edit.html", code=code, rules=p.catalogue.rules_for(code),
                                   values=request.form, uses=p.catalogue.uses, form=form,
                                   problem=exc.message, plan_versions=_plan_versions()), exc.status
    return render_template("publishing/rule_edit.html", code=code, rules=p.catalogue.rules_for(code), values=None,
                           uses=p.catalogue.uses, form=CsrfForm(formdata=None), problem=None,
                           plan_versions=_plan_versions())


@planner_required
def admin_rules_import() -> ResponseReturnValue:
    """Replace the catalogue from a YAML or CSV file (validated whole; a new version)."""
    if not CsrfForm().validate_on_submit():
        flash(_("The form expired; please try again."), "error")
        return redirect(url_for("rules_admin.index"))
    upload = request.files.get("file")
    if upload is None or not upload.filename:
        flash(_("Choose a YAML or CSV file."), "error")
        return redirect(url_for("rules_admin.index"))
    raw = upload.stream.read(MAX_IMPORT + 1)
    try:
        if len(raw) > MAX_IMPORT:
            raise InvalidInput(_("This file is too large for a rules catalogue."))
        text = raw.decode("utf-8-sig")
        if upload.filename.lower().endswith(".csv"):
            document = from_csv(text, portal().catalogue)
        else:
            document = yaml.safe_load(text)
        return _save(document, f"import:{upload.filename[:80]}")
    except (UnicodeDecodeError, yaml.YAMLError):
        flash(_("The file is neither UTF-8 YAML nor CSV."), "error")
    except GisportalError as exc:
        flash(exc.message, "error")
    return redirect(url_for("rules_admin.index"))


@planner_required
def admin_rules_export(fmt: str) -> Response:
    """The catalogue in force as YAML or CSV."""
    catalogue = portal().catalogue
    if fmt == "csv":
        response = Response(to_csv(catalogue), mimetype="text/csv")
    else:
        response = Response(to_yaml(catalogue), mimetype="application/x-yaml")
    response.headers["Content-Disposition"] = f'attachment; filename="rules.{fmt}"'
    return response


def init_app(app: Flask) -> None:
    """The rules pages' template constants (the pages are :data:`bp`)."""
    app.jinja_env.globals.setdefault("RULES_CSV_COLUMNS", CSV_COLUMNS)


#: The rules catalogue's staff pages (``/admin/rules.<fmt>`` shares ``/admin`` only).
bp = Blueprint("rules_admin", __name__, url_prefix="/admin")
bp.add_url_rule("/rules", "index", admin_rules)
bp.add_url_rule("/rules/zone/<code>", "edit", admin_rule_edit, methods=["GET", "POST"])
bp.add_url_rule("/rules/import", "import_rules", admin_rules_import, methods=["POST"])
bp.add_url_rule("/rules.<any(yaml,csv):fmt>", "export", admin_rules_export)
