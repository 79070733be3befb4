"""Web hardening in one place: hosts, proxies, cookies, request sizes, security headers and the CSP nonce.

* **Hosts.** Only the hosts of ``trusted_hosts`` (default: the public URL's host and the loopback names) are
  answered (Flask's ``TRUSTED_HOSTS``); absolute URLs never come from the request (:func:`gisportal.web.public_base`).
* **Proxies.** ``proxy_hops`` > 0 puts Werkzeug's ``ProxyFix`` in front (client address and scheme from the
  ``X-Forwarded-*`` headers of that many proxies); nothing is taken from those headers otherwise.
* **Cookies.** ``SameSite=Lax`` and ``HttpOnly`` always, ``Secure`` when the public URL is https.
* **Sizes.** ``MAX_CONTENT_LENGTH`` from ``max_request_bytes``; smaller limits per form (:data:`FORM_LIMITS`,
  others added with :func:`limit_request_size`), applied before anything reads the body (CSRF included).
* **Headers** on every response: a Content-Security-Policy without ``unsafe-inline`` scripts (inline scripts
  carry the response's nonce: ``{{ csp_nonce() }}`` in templates, ``|nonced`` on folium's HTML),
  ``frame-ancestors 'none'`` (and ``X-Frame-Options: DENY``), ``nosniff``, ``Referrer-Policy`` and, under https,
  ``Strict-Transport-Security``.
* **Route ids** are bounded: ``<int:...>`` converters match 0..2⁶³-1 only (a larger id is a 404, not a 500).
"""

from __future__ import annotations

import logging
import re
import secrets
from dataclasses import dataclass
from urllib.parse import urlsplit

from flask import Flask, Response, current_app, g, request
from markupsafe import Markup, escape
from werkzeug.middleware.proxy_fix import ProxyFix
from werkzeug.routing import IntegerConverter

from gisportal.core.settings import Settings
from gisportal.web.core.context import public_base_of

logger = logging.getLogger(__name__)

#: Largest id a route's ``<int:...>`` accepts (a signed 64-bit integer: what both databases store).
MAX_ROUTE_INT = 2**63 - 1

SMALL_FORM = 64 * 1024
#: Request body limits (bytes) per endpoint, below ``MAX_CONTENT_LENGTH``: sign-in and small public forms.
FORM_LIMITS: dict[str, int] = {
    "accounts.login": SMALL_FORM, "accounts.logout": SMALL_FORM, "subscriptions.subscribe": SMALL_FORM,
    "complaints.track": SMALL_FORM, "committees.lookup": SMALL_FORM, "payments.order_create": SMALL_FORM,
    "payments.pay": SMALL_FORM, "payments.callback": SMALL_FORM, "complaints.receipt_pdf": SMALL_FORM,
    "i18n.switch_language": SMALL_FORM,
}

_SCRIPT_TAG = re.compile(r"<script(?=[\s>])", re.IGNORECASE)


class BoundedIntegerConverter(IntegerConverter):
    """``<int:...>`` limited to what a database id can be (0..2⁶³-1 unless the rule says otherwise)."""

    def __init__(self, map, fixed_digits: int = 0, min: int | None = None, max: int | None = None,  # noqa: A002
                 signed: bool = False) -> None:
        super().__init__(map, fixed_digits=fixed_digits, min=min, max=MAX_ROUTE_INT if max is None else max,
                         signed=signed)


def csp_nonce() -> str:
    """The nonce of the current response's Content-Security-Policy (one per request)."""
    nonce = g.get("csp_nonce")
    if nonce is None:
        nonce = g.csp_nonce = secrets.token_urlsafe(18)
    return nonce


def nonced(html: str) -> Markup:
    """Trusted generated HTML (folium's) with the response's nonce on each of its ``<script>`` tags.

    Only for HTML the app generated with every outside text escaped: a ``<script`` inside it is a real tag.
    """
    return Markup(_SCRIPT_TAG.sub(f'<script nonce="{csp_nonce()}"', str(html)))


def folium_text(text: object) -> str:
    """Outside text for a folium tooltip or popup: HTML-escaped, and safe inside the JavaScript template literal
    folium writes it into (no backtick, ``$`` or backslash left)."""
    return str(escape(str(text))).replace("`", "&#96;").replace("$", "&#36;").replace("\\", "&#92;")


def limit_request_size(app: Flask, endpoint: str, max_bytes: int) -> None:
    """Let ``endpoint`` accept request bodies of at most ``max_bytes`` (call from a module's ``init_app``)."""
    app.extensions["gisportal_form_limits"][endpoint] = max_bytes


def trusted_hosts(settings: Settings) -> list[str]:
    """The host names the app answers for."""
    if settings.trusted_hosts:
        return list(settings.trusted_hosts)
    hosts = ["localhost", "127.0.0.1", "::1", "[::1]"]
    if settings.public_url:
        public = urlsplit(settings.public_url).hostname
        if public:
            hosts.insert(0, public)
    return hosts


def https_public(settings: Settings) -> bool:
    """Whether the configured public URL is https."""
    return bool(settings.public_url and settings.public_url.lower().startswith("https://"))


def _policy(settings: Settings) -> str:
    """The Content-Security-Policy template (``{nonce}`` filled per response)."""
    img = ["'self'", "data:", "blob:"]
    if settings.basemap_url:
        parts = urlsplit(settings.basemap_url.replace("{s}", "a"))
        if parts.scheme and parts.netloc:
            netloc = parts.netloc.replace("a.", "*.", 1) if "{s}" in settings.basemap_url else parts.netloc
            img.append(f"{parts.scheme}://{netloc}")
    connect = ["'self'"]
    if settings.tiles_url:  # the PMTiles archives on their static host, read by range requests
        parts = urlsplit(settings.tiles_url)
        if parts.scheme and parts.netloc:
            connect += [f"{parts.scheme}://{parts.netloc}", "blob:"]  # tiles handed to VectorGrid as blob: URLs
    directives = {
        "default-src": "'self'",
        "script-src": "'self' 'nonce-{nonce}'",
        "style-src": "'self' 'unsafe-inline'",  # Leaflet and folium position map elements with style attributes
        "img-src": " ".join(img),
        "font-src": "'self' data:",
        "connect-src": " ".join(connect),
        "worker-src": "'self' blob:",
        "object-src": "'none'",
        "base-uri": "'self'",
        "form-action": "'self'",
        "frame-ancestors": "'none'",
    }
    return "; ".join(f"{k} {v}" for k, v in directives.items())


def _limit_body() -> None:
    limit = current_app.extensions["gisportal_form_limits"].get(request.endpoint or "")
    if limit is not None:
        request.max_content_length = limit


def init_app(app: Flask) -> None:
    """Attach the hardening (call first: its size check must run before anything reads a body)."""
    settings: Settings = app.extensions["gisportal"].settings
    app.url_map.converters["int"] = BoundedIntegerConverter
    app.config["TRUSTED_HOSTS"] = trusted_hosts(settings) if app.config.get("TRUSTED_HOSTS") is None \
        else app.config["TRUSTED_HOSTS"]
    if settings.proxy_hops:
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=settings.proxy_hops,  # type: ignore[method-assign]
                                x_proto=settings.proxy_hops)
    if app.config.get("MAX_CONTENT_LENGTH") is None:
        app.config["MAX_CONTENT_LENGTH"] = settings.max_request_bytes
    secure = https_public(settings)
    if app.config.get("SESSION_COOKIE_SAMESITE") is None:
        app.config["SESSION_COOKIE_SAMESITE"] = "Lax"
    if not app.config.get("SESSION_COOKIE_SECURE"):
        app.config["SESSION_COOKIE_SECURE"] = secure
    app.config["SESSION_COOKIE_HTTPONLY"] = True
    app.config["REMEMBER_COOKIE_SAMESITE"] = "Lax"
    app.config["REMEMBER_COOKIE_SECURE"] = secure
    app.extensions["gisportal_form_limits"] = dict(FORM_LIMITS)
    app.before_request(_limit_body)
    app.jinja_env.globals["csp_nonce"] = csp_nonce
    app.jinja_env.globals["public_base"] = lambda: public_base_of(settings)
    app.jinja_env.filters["nonced"] = nonced

    headers = SecurityHeaders.of(settings)
    app.extensions["gisportal_security_headers"] = headers

    @app.after_request
    def _security_headers(response: Response) -> Response:
        present = {key.lower() for key, _value in response.headers}
        missing = [(key, value) for key, value in headers.fixed if key.lower() not in present]
        if "content-security-policy" not in present:
            missing.append(("Content-Security-Policy", headers.policy(g.get("csp_nonce"))))
        response.headers.extend(missing)
        return response


@dataclass(frozen=True)
class SecurityHeaders:
    """The security headers every response carries (those a view set itself are kept)."""

    fixed: tuple[tuple[str, str], ...]
    policy_template: str  # the Content-Security-Policy, ``{nonce}`` to fill
    policy_without_nonce: str  # the same for an answer with no inline script (JSON, files, most errors)

    @classmethod
    def of(cls, settings: Settings) -> SecurityHeaders:
        """The headers for an instance's settings."""
        fixed = [("X-Content-Type-Options", "nosniff"), ("X-Frame-Options", "DENY"),
                 ("Referrer-Policy", "strict-origin-when-cross-origin"), ("Cross-Origin-Opener-Policy", "same-origin")]
        if https_public(settings):
            fixed.append(("Strict-Transport-Security", "max-age=31536000"))
        template = _policy(settings)
        return cls(tuple(fixed), template, template.replace(" 'nonce-{nonce}'", ""))

    def policy(self, nonce: str | None) -> str:
        """The Content-Security-Policy of a response whose inline scripts carry ``nonce`` (``None``: it has none:
        no inline script may run)."""
        return self.policy_template.replace("{nonce}", nonce) if nonce else self.policy_without_nonce

    def for_answer_without_scripts(self) -> list[tuple[str, str]]:
        """All the headers of a response with no inline script (the lean note path's JSON)."""
        return [*self.fixed, ("Content-Security-Policy", self.policy_without_nonce)]


def safe_redirect_target(target: str | None, default: str) -> str:
    """``target`` when it is a path on this site, else ``default`` (no open redirects).

    Browsers drop tabs and line breaks from URLs and read ``\\`` as ``/``: any of them, any control character
    or space, a scheme, a host or a leading ``//`` makes the target refused.
    """
    if not target or not target.startswith("/") or target.startswith(("//", "/\\")):
        return default
    if any(ch in target for ch in "\\ ") or any(ord(ch) < 0x20 or ord(ch) == 0x7F for ch in target):
        return default
    parts = urlsplit(target)
    if parts.scheme or parts.netloc:
        return default
    return target

