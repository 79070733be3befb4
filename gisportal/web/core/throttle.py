"""Ceilings on costly work: wrong-code checks per address, new official notes per address and per parcel per day.

Each distinct content (another ``as_of`` date, another language) is a new numbered, signed note: without a
ceiling anybody could make the agency issue thousands. Counters live in the limiter's storage (shared by the
workers); signed-in staff are exempt. Reusing an already issued note costs nothing and is never counted.
"""

from __future__ import annotations

from collections.abc import Callable

from flask import Response, current_app, request
from flask_babel import gettext as _
from flask_limiter import Limiter, RouteLimit
from flask_login import current_user
from limits import parse_many
from werkzeug.exceptions import TooManyRequests

from gisportal.web.accounts.auth import client_ip
from gisportal.web.core.context import portal

#: Views that check a secret code from the request (a slow hash each): failures are counted per address.
CODE_CHECKING_ENDPOINTS = ("complaints_api.ComplaintStatus", "complaints_api.ComplaintAttachment",
                           "complaints.track_attachment", "payments_api.order_status", "payments_api.order_payment",
                           "payments.order", "payments.invoice", "payments.receipt", "payments.note")


def _failed_check(response: Response) -> bool:
    return response.status_code in (403, 404, 422)


def _not_code_checking() -> bool:
    return request.endpoint not in CODE_CHECKING_ENDPOINTS


def wrong_code_limit(limiter: Limiter) -> RouteLimit:
    """The ceiling of wrong secret codes per address, one count for every view of :data:`CODE_CHECKING_ENDPOINTS`.

    Applied where the views are declared: ``state.add_url_rule(..., wrong_code_limit(limiter)(view))`` in the
    blueprint's ``@bp.record`` function (the limiter is the app's), or on a
    flask-smorest blueprint (``wrong_code_limit(limiter)(blp)``), where it counts only the blueprint's endpoints
    listed in :data:`CODE_CHECKING_ENDPOINTS`."""
    return limiter.shared_limit(lambda: portal().settings.wrong_code_rate_limit, scope="wrong-code",
                                deduct_when=_failed_check, methods=["GET", "POST"], exempt_when=_not_code_checking)


class TooManyNotes(TooManyRequests):
    """429: the ceiling of new official notes is reached (for this address or this parcel)."""


def issuance_guard(parcel_ref: str | None) -> Callable[[], None] | None:
    """What to call before a new note is issued (raises :class:`TooManyNotes`); ``None`` for signed-in staff.

    ``parcel_ref``: the parcel of a parcel's note (its own daily ceiling); ``None`` for a site note, under the
    address's ceiling only."""
    if current_user.is_authenticated:
        return None
    settings = portal().settings
    strategy = current_app.extensions["gisportal_limiter"].limiter
    scopes = [(settings.note_issue_rate_limit, "note-issue-address", client_ip() or "-")]
    if parcel_ref is not None:
        scopes.append((settings.note_issue_parcel_limit, "note-issue-parcel", parcel_ref))

    def check() -> None:
        for text, scope, key in scopes:
            for item in parse_many(text):
                if not strategy.hit(item, scope, key):
                    raise TooManyNotes(_("Too many new official notes were asked for today (from your address or "
                                         "for this parcel). Notes already issued stay available; try again "
                                         "tomorrow."))

    return check
