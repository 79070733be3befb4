"""Subscription pages: subscribe to a permit file or a parcel, confirm by the link received, unsubscribe in one
click (``GET`` shows the button; ``POST`` with the signed token unsubscribes, as mail clients do for RFC 8058).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from flask import Blueprint, Flask, current_app, render_template, request
from flask.blueprints import BlueprintSetupState
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import EmailField, RadioField, SelectChoice, StringField
from wtforms.validators import DataRequired, Length

from gisportal.core.errors import GisportalError
from gisportal.services.subscriptions import Links, Subscriptions
from gisportal.web.core.context import Portal, portal, public_base_of

logger = logging.getLogger(__name__)

CONFIRM_PATH = "/subscriptions/confirm/"
UNSUBSCRIBE_PATH = "/subscriptions/unsubscribe/"


def subscriptions_of(p: Portal | None = None, secret: str | None = None) -> Subscriptions:
    """The subscriptions service, its links based on the configured public URL (never the request's host)."""
    p = p or portal()
    base = public_base_of(p.settings)
    links = Links(confirm=lambda token: f"{base}{CONFIRM_PATH}{token}",
                  unsubscribe=lambda token: f"{base}{UNSUBSCRIBE_PATH}{token}")
    return Subscriptions(p.agency, p.store, secret or current_app.config["SECRET_KEY"], p.sender, links)


class SubscribeForm(FlaskForm):
    """An address and what to follow."""

    email = EmailField(_l("E-mail address"), validators=[DataRequired(_l("Enter your e-mail address.")),
                                                         Length(max=254)],
                       render_kw={"dir": "ltr", "autocomplete": "email"})
    kind = RadioField(_l("Follow"), choices=[SelectChoice("parcel", _l("a parcel (changes of its zoning rules, "
                                                                       "decisions on files on it)")),
                                             SelectChoice("file", _l("a permit file (committee decisions)"))],
                      default="parcel", validators=[DataRequired()])
    target = StringField(_l("Parcel reference or file number"),
                         validators=[DataRequired(_l("Enter a parcel reference or a file number.")),
                                     Length(max=64)], render_kw={"dir": "ltr"})


def subscribe() -> tuple[str, int]:
    """The subscription form; a valid one sends the confirmation link and says so (whatever existed before)."""
    form = SubscribeForm()
    if request.method == "GET":
        if request.args.get("file"):
            form.kind.data, form.target.data = "file", request.args["file"][:64]
        elif request.args.get("parcel"):
            form.kind.data, form.target.data = "parcel", request.args["parcel"][:64]
        return render_template("committees/subscribe.html", form=form, sent=False), 200
    if not form.validate_on_submit():
        return render_template("committees/subscribe.html", form=form, sent=False), 400
    try:
        subscriptions_of().subscribe(form.email.data, form.kind.data, form.target.data)
    except GisportalError as error:
        field = form.email if error.details.get("parameter") == "email" else form.target
        field.errors = [*field.errors, _problem(error)]
        return render_template("committees/subscribe.html", form=form, sent=False), error.status
    return render_template("committees/subscribe.html", form=form, sent=True), 200


def _problem(error: GisportalError) -> str:
    texts = {"This is not an e-mail address.": _("This is not an e-mail address."),
             "This is not a permit file number.": _("This is not a permit file number."),
             "No parcel with this reference.": _("No parcel with this reference."),
             "Choose a permit file or a parcel.": _("Choose a permit file or a parcel."),
             "This link is not valid.": _("This link is not valid."),
             "This link has expired: subscribe again to receive a new one.":
                 _("This link has expired: subscribe again to receive a new one."),
             "This subscription no longer exists: subscribe again.":
                 _("This subscription no longer exists: subscribe again.")}
    return texts.get(error.message, error.message)


def _state_page(state: str, act: Callable[[Subscriptions], Any], **context: Any) -> tuple[str, int]:
    """Run ``act`` on the subscriptions and show the state it leads to (or the problem, with its status)."""
    try:
        sub = act(subscriptions_of())
    except GisportalError as error:
        return render_template("committees/subscription_state.html", state="error", problem=_problem(error)), \
            error.status
    return render_template("committees/subscription_state.html", state=state, sub=sub, **context), 200


def confirm(token: str) -> tuple[str, int]:
    """The confirmation link."""
    return _state_page("confirmed", lambda subs: subs.confirm(token))


def unsubscribe(token: str) -> tuple[str, int]:
    """``GET``: one button; ``POST``: the subscription is deleted (token-authenticated, no cookie needed)."""
    if request.method == "GET":
        return _state_page("ask", lambda subs: None, token=token)
    return _state_page("left", lambda subs: subs.unsubscribe(token))


def init_app(app: Flask) -> None:
    """Exempt the one-click unsubscribe from CSRF (the pages are :data:`bp`)."""
    # mail clients' one-click unsubscribe (RFC 8058) posts without cookies: the signed token is the credential
    app.extensions["gisportal_csrf"].exempt("gisportal.web.services.subscriptions.unsubscribe")


#: Subscribing to a parcel or a permit file, confirming, unsubscribing.
bp = Blueprint("subscriptions", __name__)
bp.add_url_rule(f"{CONFIRM_PATH}<token>", "confirm", confirm)
bp.add_url_rule(f"{UNSUBSCRIBE_PATH}<token>", "unsubscribe", unsubscribe, methods=["GET", "POST"])


@bp.record
def _subscribe_route(state: BlueprintSetupState) -> None:
    """The form, its POSTs rate-limited by the app's limiter (one per app: declared when the blueprint is
    registered)."""
    limit = state.app.extensions["gisportal_limiter"].limit(lambda: portal().settings.form_rate_limit,
                                                            methods=["POST"])
    state.add_url_rule("/subscribe", "subscribe", limit(subscribe), methods=["GET", "POST"])
