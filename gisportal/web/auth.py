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
  5 per minute), counted in ``ratelimit_storage_uri`` (``memory://`` by default:
  per process; use redis or memcached to share it between processes).
* :func:`planner_required` / :func:`admin_required`: anonymous visitors go to
  ``/login`` (pages) or get a 401 (``/api/``); a role too low gets a 403.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import timedelta
from functools import wraps
from typing import Any

from flask import Flask, Response, current_app, redirect, render_template, request, session, url_for
from flask.typing import ResponseReturnValue
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_limiter import Limiter
from flask_limiter.util import get_remote_address
from flask_login import LoginManager, UserMixin, current_user, login_user, logout_user
from flask_wtf import FlaskForm
from flask_wtf.csrf import CSRFError, CSRFProtect
from wtforms import HiddenField, PasswordField, StringField
from wtforms.validators import DataRequired, Length

from gisportal.accounts import MAX_PASSWORD_LENGTH, Accounts, User
from gisportal.audit import AuditLog
from gisportal.errors import LoginRequired, NotAllowed
from gisportal.web.context import has_cookie
from gisportal.web.security import safe_redirect_target

logger = logging.getLogger(__name__)


class SessionUser(UserMixin):
    """The signed-in user as Flask-Login sees it (wraps :class:`gisportal.accounts.User`)."""

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
                return redirect(url_for("login", next=request.full_path.rstrip("?")))
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
            return redirect(url_for("admin_index"))
        return render_template("login.html", form=form, problem=None)
    if not form.validate():
        return render_template("login.html", form=form, problem=None), 400
    username = (form.username.data or "").strip()
    user, reason = accounts().check_login(username, form.password.data or "")
    if user is None:
        audit_log().record(None, "login.failure", username[:64], {"reason": reason}, client_ip())
        problem = (_("This account is disabled. Ask an administrator.") if reason == "disabled"
                   else _("Wrong user name or password."))
        form.password.data = ""
        return render_template("login.html", form=form, problem=problem), 401
    session.clear()  # a fresh session (and CSRF token) for the signed-in user
    login_user(SessionUser(user))
    audit_log().record(user.username, "login.success", user.username, None, client_ip())
    logger.info("%s signed in", user.username)
    return redirect(safe_next(form.next.data, url_for("admin_index")), code=303)


def logout() -> ResponseReturnValue:
    """Sign out (POST with the CSRF token) and go back to the map."""
    user = signed_in_user()
    if user is not None:
        accounts().end_sessions(user.id)  # a copy of the session cookie is worth nothing from now on
        audit_log().record(user.username, "logout", user.username, None, client_ip())
        logger.info("%s signed out", user.username)
    logout_user()
    session.clear()
    return redirect(url_for("index"), code=303)


@staff_required
def me() -> Response:
    """``GET /api/v1/me``: the signed-in member of staff, whatever the role (401 when nobody is signed in)."""
    from gisportal.web.api import json_response

    user = signed_in_user()
    assert user is not None
    from flask_wtf.csrf import generate_csrf

    return json_response({"username": user.username, "display_name": user.display_name, "role": user.role,
                          "csrf_token": generate_csrf()})


def _csrf_error(error: CSRFError) -> Response:
    """A form without its token (or with an expired one): a clear 400."""
    from gisportal.web.errors import handle_http_error

    logger.info("CSRF refused on %s %s: %s", request.method, request.path, error.description)
    error.description = _("This form has expired or did not come from this site. Reload the page and try again.")
    return handle_http_error(error)


def _limit_hooks_to(app: Flask, limiter: Limiter, endpoints: set[str]) -> None:
    """Run the limiter's request hooks on ``endpoints`` only.

    Only sign-in and the public forms registered in ``endpoints`` (a set later modules may add to) are
    limited (no default limits); Flask-Limiter's app-wide hooks would otherwise cost every other request
    (tiles, notes, map data) a check that can never apply.
    """
    def guarded(hook: Callable[..., Any], passthrough: bool) -> Callable[..., Any]:
        @wraps(hook)
        def run(*args: Any) -> Any:
            if request.endpoint in endpoints:
                return hook(*args)
            return args[0] if passthrough else None

        return run

    for registry, passthrough in ((app.before_request_funcs, False), (app.after_request_funcs, True),
                                  (app.teardown_request_funcs, False)):
        hooks = registry.get(None, [])
        for i, hook in enumerate(hooks):
            owner = getattr(hook, "__self__", None) or next(iter(getattr(hook, "args", ())), None)
            if owner is limiter:
                hooks[i] = guarded(hook, passthrough)


def _remember_hook_on_sign_in_pages(app: Flask, hook: Callable[[Response], Response]) -> None:
    """Run Flask-Login's "remember me" after-request hook only where it can have work to do.

    Sessions are never remembered here (no ``remember=True``), so the hook only matters when signing in or
    out, or when an old remember cookie comes back. Elsewhere merely looking at the session would add
    ``Vary: Cookie`` to every response (tiles and API answers included), defeating shared caches.
    """
    hooks = app.after_request_funcs.get(None, [])
    if hook not in hooks:
        return

    @wraps(hook)
    def run(response: Response) -> Response:
        req = request._get_current_object()  # type: ignore[attr-defined]
        if req.endpoint in ("login", "logout") or has_cookie(req, app.config.get("REMEMBER_COOKIE_NAME",
                                                                                 "remember_token")):
            return hook(response)
        return response

    hooks[hooks.index(hook)] = run


def init_app(app: Flask) -> None:
    """Attach sessions, CSRF protection, throttling and the sign-in routes."""
    settings = app.extensions["gisportal"].settings
    app.config.setdefault("WTF_CSRF_TIME_LIMIT", 8 * 3600)  # a form left open for a working day still works
    # Signed session cookies are refused this long after they were written (sign-in): staff sign in daily.
    app.config["PERMANENT_SESSION_LIFETIME"] = min(app.permanent_session_lifetime, timedelta(hours=12))

    manager = LoginManager()
    manager.init_app(app)
    manager.login_view = "login"
    manager.user_loader(load_user)
    _remember_hook_on_sign_in_pages(app, manager._update_remember_cookie)

    csrf = CSRFProtect()
    app.config["WTF_CSRF_CHECK_DEFAULT"] = False  # checked below, bearer-token calls aside
    hooks = list(app.before_request_funcs.get(None, []))
    csrf.init_app(app)
    # The check CSRFProtect hooks onto every request returns at once when WTF_CSRF_CHECK_DEFAULT is off: left out.
    app.before_request_funcs[None] = [hook for hook in app.before_request_funcs.get(None, []) if hook in hooks]
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

    limiter = Limiter(get_remote_address, app=app, storage_uri=settings.ratelimit_storage_uri,
                      headers_enabled=True, strategy="fixed-window")
    app.extensions["gisportal_limiter"] = limiter
    # Endpoints the limiter's hooks run on; services add theirs (public forms) in their own init_app.
    limited: set[str] = app.extensions.setdefault("gisportal_limited_endpoints", set())
    limited.add("login")
    _limit_hooks_to(app, limiter, limited)
    throttled_login = limiter.limit(lambda: current_app.extensions["gisportal"].settings.login_rate_limit,
                                    methods=["POST"], error_message=_too_many_attempts,
                                    deduct_when=_failed_sign_in)(login)
    app.add_url_rule("/login", "login", throttled_login, methods=["GET", "POST"])
    app.add_url_rule("/logout", "logout", logout, methods=["POST"])
    app.add_url_rule("/api/v1/me", "me", me)
    app.register_error_handler(CSRFError, _csrf_error)

