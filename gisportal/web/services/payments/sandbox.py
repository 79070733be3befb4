"""The sandbox's hosted payment page (``/sandbox-pay/``): a TEST stand-in for the bank's gateway.

It accepts only payment requests signed by the portal, takes a test card
(4242 4242 4242 4242 is authorised, 4000 0000 0000 0002 declined), then
sends the browser on to the portal's callback with a form signed with
HMAC-SHA256 (posted by ``static/js/payments.js``, or by a button without
JavaScript). No card number ever reaches the portal's tables or logs.
"""

from __future__ import annotations

import logging

from flask import Blueprint, render_template, request

from gisportal.core.errors import InvalidInput
from gisportal.services.payments.providers import SANDBOX_CARDS, SandboxProvider
from gisportal.web.services.payments.public import FORM_EXPIRED, CsrfForm, provider

logger = logging.getLogger(__name__)


def _sandbox() -> SandboxProvider:
    chosen = provider()
    if not isinstance(chosen, SandboxProvider):
        raise InvalidInput("The sandbox payment page is off: this portal uses another payment provider.")
    return chosen


def sandbox_pay() -> str | tuple[str, int]:
    """GET: the card form for a signed request; POST: the card's outcome, sent on to the portal."""
    sandbox = _sandbox()
    fields = sandbox.verify_request(request.values)
    signature = request.values.get("signature", "")
    if request.method == "GET":
        return render_template("payments/sandbox_pay.html", request_fields=fields, signature=signature,
                               cards=SANDBOX_CARDS, problem=None, form=CsrfForm(formdata=None))
    form = CsrfForm()
    try:
        if not form.validate_on_submit():
            raise InvalidInput(str(FORM_EXPIRED))
        status = sandbox.card_outcome(request.form.get("card", ""))
    except InvalidInput as exc:
        return render_template("payments/sandbox_pay.html",
                               request_fields=fields, signature=signature, cards=SANDBOX_CARDS,
                               problem=exc.message, form=form), 400
    logger.info("sandbox payment for %s: %s", fields["order"], status)
    return render_template("payments/sandbox_redirect.html", callback=fields["callback"],
                           callback_fields=sandbox.callback_fields(fields, status), status=status)


#: The sandbox payment gateway's page (test installations only).
bp = Blueprint("sandbox", __name__)
bp.add_url_rule("/sandbox-pay/", "pay", sandbox_pay, methods=["GET", "POST"])
