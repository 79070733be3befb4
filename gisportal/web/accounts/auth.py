"""Agency staff sign in: sessions (Flask-Login), CSRF on every form (Flask-WTF), sign-in throttling (Flask-Limiter).

* ``/login`` (GET form, POST credentials) and ``/logout`` (POST); both audited
  (success, failure with its reason, sign-out), never with a password.
* The session holds the user id and a fingerprint of the password hash and a
  session version: a disabled user, or one whose password changed, is signed out
  on the next request, for good. A sign-in lasts at most 12 hours.
* CSRF: every ``POST``/``PUT``/``PATCH``/``DELETE`` needs the form's token (or an
  ``X-CSRFToken`` header), except calls carrying ``Authorization: Bearer`` and no
  cookie at all (nothing a third-party page could forge). Sign-out ends every
  session of the account server-side (its session version goes up).
* Throttling: ``login_rate_limit`` failed sign-ins per client address (default
  5 per minute), counted in ``ratelimit_storage_uri`` (by default a SQLite file in
  the data directory shared by the workers of the machine; redis or memcached to
  share it between machines).
* :func:`planner_required` / :func:`admin_required`: anonymous visitors go to
  ``/login`` (pages) or get a 401 (``/api/``); a role too low gets a 403.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import timedelta
from functools import wraps
from typing import Any

from flask import Blueprint as PagesBlueprint
from flask import Flask, Response, current_app, redirect, render_template, request, session, url_for
from flask.blueprints import BlueprintSetupState
from flask.typing import ResponseReturnValue
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_limiter import Limiter
from flask_limiter.util import get_remote_address
from flask_login import LoginManager, UserMixin, current_user, login_user, logout_user
from flask_smorest import Blueprint
from flask_wtf import FlaskForm
from flask_wtf.csrf import CSRFError, CSRFProtect, generate_csrf
from wtforms import HiddenField, PasswordField, StringField
from wtforms.validators import DataRequired, Length

from gisportal.core.accounts import MAX_PASSWORD_LENGTH, Accounts, User
from gisportal.core.audit import AuditLog
from gisportal.core.errors import LoginRequired, NotAllowed
from gisportal.core.ratelimit_store import storage_uri  # registers the shared default storage
from gisportal.web.core.context import has_cookie, json_response
from gisportal.web.core.errors import handle_http_error
from gisportal.web.core.schemas import ProblemSchema
from gisportal.web.core.security import safe_redirect_target

logger = logging.getLogger(__name__)


class SessionUser(UserMixin):
    """The signed-in user as Flask-Login sees it (wraps :class:`gisportal.core.accounts.User`)."""

    def __init__(self, user: User) -> None:
        self.user = user

    def get_id(self) -> str:
        return f"{self.user.id}.{self.user.session_stamp}"

    @property
    def is_active(self) -> bool:
        return self.user.active

    @property
    def username(self) -> str:
        """The user name."""
        return self.user.username

    @property
    def label(self) -> str:
        """What the header shows: the display name, else the user name."""
        return self.user.label

    @property
    def role(self) -> str:
        """``planner`` or ``admin``."""
        return self.user.role

    def has_role(self, role: str) -> bool:
        """Whether the user's role is ``role`` or above."""
        return self.user.has_role(role)


def accounts() -> Accounts:
    """The accounts of the current app's instance."""
    return Accounts(current_app.extensions["gisportal"].agency)


def audit_log() -> AuditLog:
    """The audit log of the current app's instance."""
    return AuditLog(current_app.extensions["gisportal"].agency)


def client_ip() -> str | None:
    """The client's address as the server sees it (put the app behind ProxyFix when behind a proxy)."""
    return request.remote_addr


def signed_in_user() -> User | None:
    """The signed-in :class:`User`, or ``None``."""
    return current_user.user if current_user.is_authenticated else None


def actor_name() -> str | None:
    """The name recorded as the actor of an audited change (``None`` when anonymous)."""
    user = signed_in_user()
    return user.username if user else None


def load_user(session_id: str) -> SessionUser | None:
    """Flask-Login's loader: the active user whose id and password fingerprint match the session, else nobody."""
    user_id, _sep, stamp = (session_id or "").partition(".")
    if not user_id.isdigit() or len(user_id) > 18:
        return None
    user = accounts().get(int(user_id))
    if user is None or not user.active or user.session_stamp != stamp:
        return None
    return SessionUser(user)


#: ``target`` when it is a path on this site, else ``default`` (no open redirects).
safe_next = safe_redirect_target


def wants_json() -> bool:
    """Whether the request is an API call (answered in JSON) rather than a page."""
    return request.path.startswith("/api/")


def role_required(role: str) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Decorator: the view needs a signed-in user of ``role`` or above."""
    def decorator(view: Callable[..., Any]) -> Callable[..., Any]:
        @wraps(view)
        def wrapped(*args: Any, **kwargs: Any) -> Any:
            if not current_user.is_authenticated:
                if wants_json():
                    raise LoginRequired(_("Sign in first."))
                return redirect(url_for("accounts.login", next=request.full_path.rstrip("?")))
            if not current_user.has_role(role):
                raise NotAllowed(_("Your account does not allow this."))
            return view(*args, **kwargs)

        return wrapped

    return decorator


#: The view needs a signed-in member of staff (any account: staff, planner or admin).
staff_required = role_required("staff")
#: The view needs a signed-in planner (or admin).
planner_required = role_required("planner")
#: The view needs a signed-in administrator.
admin_required = role_required("admin")


class LoginForm(FlaskForm):
    """User name and password (and where to go next)."""

    username = StringField(_l("User name"), validators=[DataRequired(_l("Enter your user name.")), Length(max=64)],
                           render_kw={"autocomplete": "username", "autocapitalize": "none", "dir": "ltr"})
    password = PasswordField(_l("Password"), validators=[DataRequired(_l("Enter your password.")),
                                                         Length(max=MAX_PASSWORD_LENGTH)],
                             render_kw={"autocomplete": "current-password", "dir": "ltr"})
    next = HiddenField()


def _failed_sign_in(response: Response) -> bool:
    """Throttling counts the attempts that did not sign anybody in (success answers with a redirect)."""
    return not 300 <= response.status_code < 400


def _too_many_attempts() -> str:
    return _("Too many sign-in attempts from your address. Wait a minute, then try again.")


def login() -> ResponseReturnValue:
    """The sign-in page; on success, go to ``next`` or the staff dashboard."""
    form = LoginForm()
    if request.method == "GET":
        form.next.data = safe_next(request.args.get("next"), "")
        if current_user.is_authenticated and not request.args.get("next"):
            return redirect(url_for("accounts_admin.index"))
        return render_template("accounts/login.html", form=form, problem=None)
    if not form.validate():
        return render_template("accounts/login.html", form=form, problem=None), 400
    username = (form.username.data or "").strip()
    user, reason = accounts().check_login(username, form.password.data or "")
    if user is None:
        audit_log().record(None, "login.failure", username[:64], {"reason": reason}, client_ip())
        problem = (_("This account is disabled. Ask an administrator.") if reason == "disabled"
                   else _("Wrong user name or password."))
        form.password.data = ""
        return render_template("accounts/login.html", form=form, problem=problem), 401
    session.clear()  # a fresh session (and CSRF token) for the signed-in user
    login_user(SessionUser(user))
    audit_log().record(user.username, "login.success", user.username, None, client_ip())
    logger.info("%s signed in", user.username)
    return redirect(safe_next(form.next.data, url_for("accounts_admin.index")), code=303)


def logout() -> ResponseReturnValue:
    """Sign out (POST with the CSRF token) and go back to the map."""
    user = signed_in_user()
    if user is not None:
        accounts().end_sessions(user.id)  # a copy of the session cookie is worth nothing from now on
        audit_log().record(user.username, "logout", user.username, None, client_ip())
        logger.info("%s signed out", user.username)
    logout_user()
    session.clear()
    return redirect(url_for("zoning.index"), code=303)


account_api = Blueprint("account_api", __name__, url_prefix="/api/v1", description="The signed-in agency account.")


@account_api.route("/me", endpoint="me")
@account_api.alt_response(401, schema=ProblemSchema, description="Nobody is signed in")
@account_api.alt_response(403, schema=ProblemSchema, description="Planners only")
@account_api.alt_response(200, success=True, description="User name, display name, role and the CSRF token to send "
                                                         "as X-CSRFToken with the session cookie")
@staff_required
def me() -> Response:
    """``GET /api/v1/me``: the signed-in member of staff, whatever the role (401 when nobody is signed in)."""

    user = signed_in_user()
    assert user is not None

    return json_response({"username": user.username, "display_name": user.display_name, "role": user.role,
                          "csrf_token": generate_csrf()})


def _csrf_error(error: CSRFError) -> Response:
    """A form without its token (or with an expired one): a clear 400."""

    logger.info("CSRF refused on %s %s: %s", request.method, request.path, error.description)
    error.description = _("This form has expired or did not come from this site. Reload the page and try again.")
    return handle_http_error(error)


def init_app(app: Flask) -> None:
    """Attach sessions, CSRF protection, throttling and the sign-in routes."""
    settings = app.extensions["gisportal"].settings
    app.config.setdefault("WTF_CSRF_TIME_LIMIT", 8 * 3600)  # a form left open for a working day still works
    # Signed session cookies are refused this long after they were written (sign-in): staff sign in daily.
    app.config["PERMANENT_SESSION_LIFETIME"] = min(app.permanent_session_lifetime, timedelta(hours=12))

    manager = LoginManager()
    # What LoginManager.init_app does, as its documentation says (attach the manager as app.login_manager, add the
    # current_user template variable), but for its after-request hook, which only serves "remember me" cookies:
    # this portal never sets one (sign-ins last the session), and the hook reads the session on every answer,
    # which would add "Vary: Cookie" to public, cacheable ones (API, tiles) and defeat shared caches.
    app.login_manager = manager  # type: ignore[attr-defined]
    app.context_processor(lambda: {"current_user": current_user})
    manager.login_view = "accounts.login"
    manager.user_loader(load_user)

    csrf = CSRFProtect()
    app.config["WTF_CSRF_CHECK_DEFAULT"] = False  # checked below, bearer-token calls aside
    csrf.init_app(app)
    app.extensions["gisportal_csrf"] = csrf

    @app.before_request
    def _check_csrf() -> None:
        if not app.config.get("WTF_CSRF_ENABLED", True):
            return
        if request.method not in app.config["WTF_CSRF_METHODS"]:  # GET, HEAD...: nothing to check
            return
        # A bearer-token call carrying no cookie has nothing a third-party page could forge; with a session
        # cookie, the token is checked whatever other headers come along.
        if request.headers.get("Authorization", "").startswith("Bearer ") and not any(
                has_cookie(request, name) for name in (app.config["SESSION_COOKIE_NAME"],
                                                       app.config.get("REMEMBER_COOKIE_NAME", "remember_token"))):
            return
        csrf.protect(apply_exemptions=True)

    # No default limits: sign-in and the public forms are limited where they are registered (limiter.limit on the
    # view, or on a blueprint). Counters shared by the workers of this machine by default.
    storage = settings.ratelimit_storage_uri or storage_uri(settings.data_dir / "ratelimit.sqlite")
    limiter = Limiter(get_remote_address, app=app, storage_uri=storage,
                      headers_enabled=True, strategy="fixed-window")
    app.extensions["gisportal_limiter"] = limiter
    app.extensions["gisportal_api"].register_blueprint(account_api)
    app.register_error_handler(CSRFError, _csrf_error)


#: Signing in and out.
bp = PagesBlueprint("accounts", __name__)
bp.add_url_rule("/logout", "logout", logout, methods=["POST"])


@bp.record
def _login_route(state: BlueprintSetupState) -> None:
    """``/login``, its failed sign-ins limited by the app's limiter (one limiter per app: declared when the blueprint
    is registered)."""
    limiter: Limiter = state.app.extensions["gisportal_limiter"]
    throttled = limiter.limit(lambda: current_app.extensions["gisportal"].settings.login_rate_limit, methods=["POST"],
                              error_message=_too_many_attempts, deduct_when=_failed_sign_in)(login)
    state.add_url_rule("/login", "login", throttled, methods=["GET", "POST"])
