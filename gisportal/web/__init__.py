"""The web layer: a thin Flask front over the domain modules.

:func:`create_app` builds everything (settings, store, rules catalogue,
extensions); nothing is built at import time.
"""

from __future__ import annotations

import logging
import secrets
from typing import Any

from flask import Flask
from flask.sessions import SecureCookieSessionInterface

from gisportal.core.notifications import open_sender
from gisportal.core.private_files import lock_down, private_dir
from gisportal.core.resources import resource_dir
from gisportal.core.settings import Settings, load_settings
from gisportal.core.signing import KeyRing
from gisportal.note.registry import open_registry
from gisportal.storage import backend_name, open_agency, open_store
from gisportal.web.core.context import Portal as Portal
from gisportal.web.core.context import has_cookie as has_cookie
from gisportal.web.core.context import portal as portal
from gisportal.web.core.context import public_base as public_base
from gisportal.web.core.context import public_base_of as public_base_of
from gisportal.web.core.context import refresh_portal
from gisportal.zoning.rules import load_catalogue
from gisportal.zoning.rulesbook import RulesBook

logger = logging.getLogger(__name__)


class _SessionInterface(SecureCookieSessionInterface):
    """Flask's signed-cookie sessions, with the signing serializer built once instead of per request, and no
    cookie lookup on requests that carry no session cookie."""

    def get_signing_serializer(self, app: Flask):
        cached = app.extensions.get("gisportal_session_serializer")
        if cached is None:
            cached = super().get_signing_serializer(app)
            app.extensions["gisportal_session_serializer"] = cached
        return cached

    def open_session(self, app: Flask, request: Any):
        # Most requests carry no session cookie: answer a new session without a failed lookup (Werkzeug builds a
        # BadRequestKeyError for each key it does not find).
        if not has_cookie(request, self.get_cookie_name(app)) and self.get_signing_serializer(app) is not None:
            return self.session_class()
        return super().open_session(app, request)

    def save_session(self, app: Flask, session: Any, response: Any) -> None:
        # A session nobody looked at or changed, and empty: Flask's own method would decide to do nothing, after
        # reading half a dozen cookie settings.
        if not session and not session.modified and not session.accessed:
            return
        super().save_session(app, session, response)


def _secret_key(settings: Settings) -> str:
    if settings.secret_key:
        return settings.secret_key
    path = settings.data_dir / "secret_key"
    if not path.exists():
        settings.data_dir.mkdir(parents=True, exist_ok=True)
        path.write_text(secrets.token_hex(32))
        path.chmod(0o600)
    return path.read_text().strip()


def create_app(config: dict[str, Any] | None = None) -> Flask:
    """Build the portal app.

    ``config`` keys in lower case override settings fields (``data_dir``,
    ``storage``...); upper-case keys go to Flask's config (``TESTING``...).
    """
    config = dict(config or {})
    overrides = {k: v for k, v in config.items() if k.islower()}
    settings = load_settings(overrides)
    app = Flask(__name__, template_folder=str(resource_dir("templates")),
                static_folder=str(resource_dir("static")), static_url_path="/static")
    app.config.update(
        SECRET_KEY=_secret_key(settings),
        JSON_SORT_KEYS=False,
        API_TITLE="gisportal API",
        API_VERSION="v1",
        OPENAPI_VERSION="3.0.3",
        OPENAPI_URL_PREFIX="/api/v1",
        OPENAPI_JSON_PATH="openapi.json",
    )
    app.config.update({k: v for k, v in config.items() if k.isupper()})
    app.session_interface = _SessionInterface()
    private_dir(settings.data_dir)
    store = open_store(settings)
    agency = open_agency(settings, store)
    rules = RulesBook(agency, load_catalogue(settings.rules_file))
    app.extensions["gisportal"] = Portal(settings, store, rules.current(), open_registry(settings, store, agency),
                                         KeyRing(settings.data_dir / "keys"), agency=agency, rules=rules,
                                         sender=open_sender(settings))

    # The factory imports the modules it registers: importing gisportal.web itself (portal(), public_base())
    # stays light for the command line and the tests.
    from gisportal.web import api, sites
    from gisportal.web.accounts import admin, auth
    from gisportal.web.core import assets, errors, i18n, security
    from gisportal.web.note import documents, history, situation
    from gisportal.web.opendata import data, ogc
    from gisportal.web.publishing import planning, rules_admin
    from gisportal.web.services import contact, library, subscriptions
    from gisportal.web.services.committees import admin as committees_admin
    from gisportal.web.services.committees import public as committees
    from gisportal.web.services.complaints import admin as complaints_admin
    from gisportal.web.services.complaints import api as complaints_api
    from gisportal.web.services.complaints import public as complaints
    from gisportal.web.services.payments import admin as payments_admin
    from gisportal.web.services.payments import api as payments_api
    from gisportal.web.services.payments import public as payments
    from gisportal.web.services.payments import sandbox as sandbox_gateway
    from gisportal.web.zoning import archives, pages, tiles

    security.init_app(app)  # first: bounded route ids, body size limits before anything reads a body
    i18n.init_app(app)
    api.init_app(app)  # first: the others add their blueprints to app.extensions["gisportal_api"]
    auth.init_app(app)  # before the pages: the limiter their rate limits use, CSRF
    planning.init_app(app)
    rules_admin.init_app(app)
    complaints.init_app(app)
    complaints_api.init_app(app)
    committees.init_app(app)
    payments.init_app(app)  # first: the payments service the two others use
    payments_api.init_app(app)
    library.init_app(app)
    contact.init_app(app)
    documents.init_app(app)
    ogc.init_app(app)
    data.init_app(app)
    sites.init_app(app)
    history.init_app(app)
    situation.init_app(app)
    archives.init_app(app)
    # The pages: one Blueprint per capability (its views, its URL prefix, its templates in templates/<capability>/).
    for module in (i18n, assets, api, auth, admin, planning, rules_admin, complaints, complaints_admin, committees,
                   subscriptions, committees_admin, payments, sandbox_gateway, payments_admin, library, contact, pages,
                   documents, tiles, data, sites, history):
        app.register_blueprint(module.bp)
    errors.init_app(app)
    from gisportal.web.core import delivery  # compression, fingerprinted static URLs, API CORS (issue #15)

    delivery.init_app(app)

    lock_down(settings.data_dir)  # 0700/0600: personal data, keys and secrets are for the service account only
    app.before_request(refresh_portal)  # data and rules other processes published
    from gisportal.web.note.notes_wsgi import NoteFront  # registered by the factory, like the modules above

    app.wsgi_app = NoteFront(app, app.wsgi_app)  # type: ignore[method-assign]  # anonymous note GETs: lean path

    logger.info("gisportal app ready: %s store, %s", backend_name(settings), store.counts())
    return app
