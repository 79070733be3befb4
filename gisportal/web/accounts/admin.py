"""Staff pages under ``/admin``: the planners' dashboard, accounts and the audit log (administrators).

Every form carries its CSRF token (checked app-wide by :mod:`gisportal.web.accounts.auth`);
every change goes through :mod:`gisportal.core.accounts`, which audits it.
"""

from __future__ import annotations

import logging
from datetime import date
from typing import Any

from flask import Blueprint, current_app, flash, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import login_user
from flask_wtf import FlaskForm
from wtforms import PasswordField, SelectChoice, SelectField, StringField
from wtforms.validators import DataRequired, EqualTo, Length, Regexp

from gisportal.core.accounts import MAX_PASSWORD_LENGTH, MIN_PASSWORD_LENGTH, USERNAME_PATTERN
from gisportal.core.agencydb import ROLES
from gisportal.core.audit import AuditFilter
from gisportal.core.errors import Conflict, GisportalError, InvalidInput
from gisportal.web.accounts.auth import (
    SessionUser,
    accounts,
    actor_name,
    admin_required,
    audit_log,
    client_ip,
    signed_in_user,
    staff_required,
)

logger = logging.getLogger(__name__)

AUDIT_PAGE_SIZE = 50
RECENT_AUDIT = 10


def role_names() -> dict[str, str]:
    """Roles as people read them, in the page's language."""
    return {"staff": _("Staff (citizen services)"), "planner": _("Planner"), "admin": _("Administrator")}


def _password_validators() -> list[Any]:
    return [DataRequired(_l("Enter a password.")),
            Length(min=MIN_PASSWORD_LENGTH, max=MAX_PASSWORD_LENGTH,
                   message=_l("A password has at least %(n)d characters.", n=MIN_PASSWORD_LENGTH))]


class NewUserForm(FlaskForm):
    """An administrator adding an account."""

    username = StringField(_l("User name"), validators=[
        DataRequired(_l("Enter a user name.")),
        Regexp(USERNAME_PATTERN, message=_l("2 to 64 characters: lower-case letters, digits, '.', '_', '-' or '@'."))],
        filters=[lambda v: (v or "").strip().lower()], render_kw={"autocapitalize": "none", "dir": "ltr"})
    display_name = StringField(_l("Full name"), validators=[Length(max=200)])
    role = SelectField(_l("Role"), choices=[SelectChoice(r, r) for r in ROLES], default="staff")
    password = PasswordField(_l("Password"), validators=_password_validators(),
                             render_kw={"autocomplete": "new-password", "dir": "ltr"})
    confirm = PasswordField(_l("Password again"), validators=[EqualTo("password", _l("The two passwords differ."))],
                            render_kw={"autocomplete": "new-password", "dir": "ltr"})


class PasswordForm(FlaskForm):
    """A user changing their own password."""

    current = PasswordField(_l("Current password"), validators=[DataRequired(_l("Enter your current password."))],
                            render_kw={"autocomplete": "current-password", "dir": "ltr"})
    password = PasswordField(_l("New password"), validators=_password_validators(),
                             render_kw={"autocomplete": "new-password", "dir": "ltr"})
    confirm = PasswordField(_l("New password again"),
                            validators=[EqualTo("password", _l("The two passwords differ."))],
                            render_kw={"autocomplete": "new-password", "dir": "ltr"})


def _problem_text(error: GisportalError) -> str:
    """A domain error from the accounts, in the page's language."""
    if isinstance(error, Conflict) and error.details.get("field") == "username":
        return _("This user name is already taken.")
    if isinstance(error, Conflict):
        return _("This is the last active administrator; enable or add another one first.")
    if error.details.get("field") == "old_password":
        return _("The current password is not right.")
    if error.details.get("field") == "password":
        return _("This password cannot be used: at least %(n)d characters, not the user name, not the current one.",
                 n=MIN_PASSWORD_LENGTH)
    return error.message


def _staff_links() -> list[dict[str, Any]]:
    """The dashboard's links the signed-in role may follow; pages not built yet show as coming soon."""
    links = [("planner", "planning.upload", _("Upload a plan"), _("Check a new plan version and publish it.")),
             ("planner", "planning.versions", _("Plan versions"), _("Published versions and drafts.")),
             ("planner", "rules_admin.index", _("Zoning rules"), _("The rules catalogue per zone.")),
             ("staff", "complaints_admin.queue", _("Complaints"),
              _("The queue of complaints, assignment and answers.")),
             ("staff", "committees_admin.sessions", _("Committees"),
              _("Sessions and decisions on permit requests.")),
             ("staff", "library.admin", _("Document library"), _("Regulations, laws, procedures and forms.")),
             ("staff", "payments_admin.reconciliation", _("Reconciliation"),
              _("Orders, payments and differences, day by day.")),
             ("staff", "accounts_admin.password", _("My password"), _("Change your password."))]
    user = signed_in_user()
    return [{"url": url_for(endpoint) if endpoint in current_app.view_functions else None, "title": title,
             "text": text} for role, endpoint, title, text in links if user is not None and user.has_role(role)]


@staff_required
def admin_index() -> str:
    """The staff dashboard."""
    user = signed_in_user()
    recent = audit_log().search(limit=RECENT_AUDIT) if user and user.has_role("admin") else []
    return render_template("accounts/index.html", links=_staff_links(), recent=recent,
                           role_label=role_names().get(user.role, user.role) if user else "")


@admin_required
def admin_users() -> ResponseReturnValue:
    """Accounts: the list, and (POST) a new one."""
    form = NewUserForm()
    form.role.choices = [SelectChoice(value, label) for value, label in role_names().items()]
    status = 200
    if request.method == "POST":
        if form.validate():
            try:
                created = accounts().create(form.username.data, form.password.data, form.role.data,
                                            form.display_name.data or "", actor=actor_name(), ip=client_ip())
            except (InvalidInput, Conflict) as exc:
                form.username.errors = [*form.username.errors, _problem_text(exc)]
                status = 409 if isinstance(exc, Conflict) else 400
            else:
                flash(_("Account %(name)s created.", name=created.username), "ok")
                return redirect(url_for("accounts_admin.users"), code=303)
        else:
            status = 400
    return render_template("accounts/users.html", form=form, users=accounts().list(), roles=role_names(),
                           me=actor_name(), min_password=MIN_PASSWORD_LENGTH), status


@admin_required
def admin_user_active(username: str, active: bool) -> ResponseReturnValue:
    """Enable or disable an account (POST)."""
    if not active and username == actor_name():
        flash(_("You cannot disable your own account."), "error")
        return redirect(url_for("accounts_admin.users"), code=303)
    try:
        user = accounts().set_active(username, active, actor=actor_name(), ip=client_ip())
    except Conflict as exc:
        flash(_problem_text(exc), "error")
    else:
        flash(_("Account %(name)s enabled.", name=user.username) if active
              else _("Account %(name)s disabled.", name=user.username), "ok")
    return redirect(url_for("accounts_admin.users"), code=303)


def _date_arg(name: str) -> date | None:
    value = request.args.get(name, "").strip()
    if not value:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise InvalidInput(_("'%(value)s' is not a date; write it as YYYY-MM-DD.", value=value[:32]),
                           parameter=name) from None


@admin_required
def admin_audit() -> str:
    """The audit log, newest first, filtered and paged."""
    where = AuditFilter(actor=request.args.get("actor", "").strip()[:64] or None,
                        action=request.args.get("action", "").strip()[:64] or None,
                        since=_date_arg("since"), until=_date_arg("until"))
    try:
        page = min(max(1, int(request.args.get("page") or 1)), 10**9)  # a database offset stays in 64 bits
    except ValueError:
        raise InvalidInput(_("The page number must be a whole number."), parameter="page") from None
    log = audit_log()
    total = log.count(where)
    entries = log.search(where, AUDIT_PAGE_SIZE, (page - 1) * AUDIT_PAGE_SIZE)
    pages = max(1, -(-total // AUDIT_PAGE_SIZE))
    args = {k: v for k, v in request.args.items() if k in ("actor", "action", "since", "until") and v}
    return render_template("accounts/audit.html", entries=entries, total=total, page=page, pages=pages,
                           filters=where, args=args, actions=log.actions())


@staff_required
def admin_password() -> ResponseReturnValue:
    """A signed-in user changing their own password (other sessions of theirs end)."""
    form = PasswordForm()
    status = 200
    if request.method == "POST":
        if form.validate():
            user = signed_in_user()
            assert user is not None
            try:
                changed = accounts().change_password(user.username, form.current.data, form.password.data,
                                                     ip=client_ip())
            except InvalidInput as exc:
                target = form.current if exc.details.get("field") == "old_password" else form.password
                target.errors = [*target.errors, _problem_text(exc)]
                status = 400
            else:

                login_user(SessionUser(changed))  # this session goes on with the new fingerprint
                flash(_("Your password has been changed."), "ok")
                return redirect(url_for("accounts_admin.index"), code=303)
        else:
            status = 400
    return render_template("accounts/password.html", form=form, min_password=MIN_PASSWORD_LENGTH), status


#: The staff dashboard, the accounts, the audit log and the password page.
bp = Blueprint("accounts_admin", __name__, url_prefix="/admin")
bp.add_url_rule("", "index", admin_index)
bp.add_url_rule("/users", "users", admin_users, methods=["GET", "POST"])
bp.add_url_rule("/users/<username>/disable", "user_disable", admin_user_active, methods=["POST"],
                defaults={"active": False})
bp.add_url_rule("/users/<username>/enable", "user_enable", admin_user_active, methods=["POST"],
                defaults={"active": True})
bp.add_url_rule("/audit", "audit", admin_audit)
bp.add_url_rule("/password", "password", admin_password, methods=["GET", "POST"])
