"""Test support taken from ``test_payments.py``: shared by several test modules."""

from __future__ import annotations

import hashlib
import hmac
import json
import re
from types import SimpleNamespace
from urllib.parse import parse_qsl, urlsplit

import pytest

SECRET = "a-test-hmac-secret-for-the-sandbox"


PARCEL = "TF-1001/06"


PLANNER, PASSWORD = "omar.planner", "un-mot-de-passe-long-2026"


def _app(instance, rules_file, **settings):
    from gisportal.core.accounts import Accounts
    from gisportal.web import create_app

    app = create_app({**instance.settings, "rules_file": rules_file, "TESTING": True,
                      "form_rate_limit": "1000 per minute", "payment_hmac_secret": SECRET, **settings})
    Accounts(app.extensions["gisportal"].agency).create(PLANNER, PASSWORD, "planner")
    return app


@pytest.fixture
def pay(tiny_writable, tiny_rules_file):
    app = _app(tiny_writable, tiny_rules_file)
    svc = app.extensions["gisportal_payments"]
    return SimpleNamespace(app=app, client=app.test_client(), svc=svc, db=svc.orders.db)


def _sign(fields: dict, secret: str = SECRET) -> str:
    """The HMAC-SHA256 the sandbox must send, computed here independently: canonical JSON of the five fields."""
    names = ("order", "transaction", "amount", "currency", "status")
    message = json.dumps({n: str(fields[n]) for n in names}, sort_keys=True, separators=(",", ":"),
                         ensure_ascii=False).encode()
    return hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()


def _order(client, **body) -> dict:
    response = client.post("/api/v1/orders", json={"service": "nru_note", "parcel_ref": PARCEL, **body})
    assert response.status_code == 201, response.json
    return response.json


def _csrf(html: str) -> str:
    return re.search(r'name="csrf_token"[^>]*value="([^"]+)"', html).group(1)


def _sandbox(client, order: dict, card: str = "4242 4242 4242 4242", secret: str = SECRET) -> dict:
    """Start paying, fill the sandbox's card form; returns the signed callback the page would post."""
    start = client.post(f"/api/v1/orders/{order['reference']}/payment?t={order['access_token']}")
    assert start.status_code == 200
    url = urlsplit(start.json["redirect_url"])
    assert url.path == "/sandbox-pay/"
    page = client.get(f"{url.path}?{url.query}")
    assert page.status_code == 200 and "TEST" in page.get_data(as_text=True)
    form = dict(parse_qsl(url.query), card=card, csrf_token=_csrf(page.get_data(as_text=True)))
    result = client.post("/sandbox-pay/", data=form)
    assert result.status_code == 200
    fields = dict(re.findall(r'<input type="hidden" name="(\w+)" value="([^"]*)"', result.get_data(as_text=True)))
    assert fields["signature"] == _sign(fields, secret)  # the sandbox signs exactly what the test expects
    return fields


def _status(client, order: dict) -> dict:
    return client.get(f"/api/v1/orders/{order['reference']}?t={order['access_token']}").json
