"""Orders and payments through the sandbox provider, on both backends: references and frozen quotes, the whole
payment flow, replayed / concurrent / forged / amount-tampered callbacks, receipts verifiable on /verify, the
paid note released only to its order, access control, reconciliation and rate limits."""

from __future__ import annotations

import hashlib
import hmac
import json
import re
import subprocess
from concurrent.futures import ThreadPoolExecutor
from datetime import date
from urllib.parse import parse_qsl, urlsplit

import pytest
import sqlalchemy as sa
import yaml
from support.payments import (
    PARCEL,
    PASSWORD,
    PLANNER,
    _app,
    _csrf,
    _order,
    _sandbox,
    _sign,
    _status,
    pay,  # noqa: F401 (fixtures)
)

YEAR = date.today().year
















def _count(db, table: str) -> int:
    with db.read() as conn:
        return conn.execute(sa.text(f"SELECT count(*) FROM {table}")).scalar_one()


def _unmarked(page: str) -> str:
    """A page without what changes from one answer to the next (CSRF token, CSP nonce)."""
    return re.sub(r'(name="csrf_token"[^>]*value|nonce)="[^"]*"', "", page)


def _refusals(pay) -> list:
    from gisportal.core.audit import AuditFilter, AuditLog

    return AuditLog(pay.db).search(AuditFilter(action="payment.callback_refused"))


# --------------------------------------------------------------------------- orders

def test_orders_are_numbered_and_keep_the_quote_of_their_day(pay):
    first, second = _order(pay.client), _order(pay.client, service="plan_copy", format="A3", sheets=2)
    assert (first["reference"], first["invoice_number"]) == (f"CMD-{YEAR}-000001", f"FAC-{YEAR}-000001")
    assert second["reference"] == f"CMD-{YEAR}-000002" and second["amount"] == 4000
    assert second["parcel_ref"] is None and first["status"] == "pending" and first["amount"] == 22000
    assert [line["amount"] for line in first["quote"]["lines"]] == [20000] and first["quote"]["stamp_duty"] == 2000
    document = yaml.safe_load(pay.client.get("/api/v1/fees").get_data(as_text=True))
    document = {"currency": "MAD", "services": document["services"]}
    document["services"]["nru_note"]["amount"] = 30000
    pay.svc.fees.publish(yaml.safe_dump(document), user="test", effective_from=date.today())
    assert _status(pay.client, first)["amount"] == 22000  # frozen at order time
    assert _status(pay.client, first)["quote"]["lines"][0]["unit_amount"] == 20000
    assert _order(pay.client)["amount"] == 32000


@pytest.mark.parametrize("body, status, word", [
    ({"service": "nru_note", "parcel_ref": "TF-9999/99"}, 404, "TF-9999/99"),
    ({"service": "nru_note"}, 400, "parcel"),
    ({"service": "nru_note", "parcel_ref": PARCEL, "lang": "de"}, 422, "lang"),
    ({"service": "passport"}, 400, "passport"),
    ({"service": "permit_study", "project_type": "housing", "floor_area_m2": "-3"}, 400, "floor_area_m2"),
    ({"service": "plan_copy", "format": "A4", "sheets": 0}, 422, "sheets"),
    ({}, 422, "service"),
])
def test_bad_orders_are_refused_and_nothing_is_stored(pay, body, status, word):
    response = pay.client.post("/api/v1/orders", json=body)
    assert response.status_code == status and word in response.json["message"]
    assert _count(pay.db, "gp_orders") == 0


# --------------------------------------------------------------------------- the payment flow

def test_paying_a_note_order_gives_a_verifiable_receipt_and_releases_the_note(pay, tmp_path):
    from gisportal.core.signing import verify_pdf

    order = _order(pay.client)
    base = f"/payments/orders/{order['reference']}"
    t = f"?t={order['access_token']}"
    assert pay.client.get(f"{base}/note.pdf{t}").status_code == 402
    assert pay.client.get(f"{base}/receipt.pdf{t}").status_code == 402
    callback = pay.client.post("/payments/callback/sandbox", data=_sandbox(pay.client, order))
    assert callback.status_code == 303 and "/payments/return/sandbox" in callback.headers["Location"]
    status = _status(pay.client, order)
    assert status["status"] == "paid" and status["paid_at"]
    [payment] = status["payments"]
    assert (payment["status"], payment["amount"]) == ("authorised", 22000)
    assert payment["receipt_number"] == f"REC-{YEAR}-{1:06d}"
    assert {"receipt", "note"} <= set(status["links"])

    receipt = pay.client.get(f"{base}/receipt.pdf{t}")
    assert receipt.status_code == 200 and receipt.mimetype == "application/pdf"
    assert verify_pdf(receipt.data, pay.app.extensions["gisportal"].keyring).number == payment["receipt_number"]
    (tmp_path / "receipt.pdf").write_bytes(receipt.data)
    text = subprocess.run(["pdftotext", str(tmp_path / "receipt.pdf"), "-"], capture_output=True, text=True).stdout
    assert payment["receipt_number"] in text and order["invoice_number"] in text and "220,00" in text
    assert "مذكرة المعلومات التعميرية" in text  # the Arabic pages
    token = re.search(r"/verify/(REC-[\d-]+)\?t=([\w-]+)", text)
    assert token and token.group(1) == payment["receipt_number"]
    verified = pay.client.get(f"/verify/{token.group(1)}?t={token.group(2)}")
    assert verified.status_code == 200 and "gp-authentic" in verified.get_data(as_text=True)

    invoice = pay.client.get(f"{base}/invoice.pdf{t}")
    assert invoice.status_code == 200 and invoice.data.startswith(b"%PDF-")
    note = pay.client.get(f"{base}/note.pdf{t}")
    assert note.status_code == 200 and note.headers["X-Note-Number"].startswith("NRU-")
    assert _status(pay.client, order)["note_number"] == note.headers["X-Note-Number"]


def test_a_replayed_callback_never_records_twice(pay):
    order = _order(pay.client)
    fields = _sandbox(pay.client, order)
    for _ in range(3):
        assert pay.client.post("/payments/callback/sandbox", data=fields).status_code == 303
    status = _status(pay.client, order)
    assert status["status"] == "paid" and len(status["payments"]) == 1
    assert _count(pay.db, "gp_payments") == 1 and _count(pay.db, "gp_payment_events") == 0


def test_concurrent_duplicate_callbacks_record_one_payment(pay):
    from gisportal.services.payments.providers import CallbackData
    from gisportal.services.payments.receipts import receipt_signer

    order = _order(pay.client)
    data = CallbackData("sandbox", order["reference"], "SBX-CONCURRENT", 22000, "MAD", "authorised")
    sign = receipt_signer(pay.app.extensions["gisportal"].keyring)
    with ThreadPoolExecutor(6) as pool:
        outcomes = list(pool.map(lambda _: pay.svc.orders.record_callback(data, sign), range(6)))
    assert len({o.payment.id for o in outcomes}) == 1
    assert sorted(o.replayed for o in outcomes) == [False] + [True] * 5
    assert _count(pay.db, "gp_payments") == 1


def test_forged_callbacks_are_refused_logged_and_audited(pay):
    order = _order(pay.client)
    genuine = _sandbox(pay.client, order)
    other_secret = hmac.new(b"not-the-secret", b"x", hashlib.sha256).hexdigest()
    forgeries = [
        {**genuine, "signature": genuine["signature"][:-1] + ("0" if genuine["signature"][-1] != "0" else "1")},
        {**genuine, "signature": other_secret},
        {k: v for k, v in genuine.items() if k != "signature"},
        {**genuine, "status": "authorised", "transaction": "SBX-FORGED"},  # signature of another message
    ]
    for forged in forgeries:
        response = pay.client.post("/payments/callback/sandbox", data=forged)
        assert response.status_code == 400, forged
        assert "signature" in response.get_data(as_text=True).lower()
    assert pay.client.post("/payments/callback/paypal", data=genuine).status_code == 400
    assert _status(pay.client, order)["status"] == "pending" and _count(pay.db, "gp_payments") == 0
    assert _count(pay.db, "gp_payment_events") == 5
    entries = _refusals(pay)
    assert len(entries) == 5 and all(e.target == order["reference"] for e in entries)
    assert all("4242" not in json.dumps(e.details) for e in entries)  # no card data anywhere


def test_amount_or_currency_tampered_callbacks_are_refused(pay):
    order = _order(pay.client)
    genuine = _sandbox(pay.client, order)
    cheaper = {**genuine, "amount": "100"}
    assert pay.client.post("/payments/callback/sandbox", data=cheaper).status_code == 400  # signature broken
    resigned = {**cheaper, "signature": _sign(cheaper)}  # even correctly signed, 1 MAD is not the order's amount
    refused = pay.client.post("/payments/callback/sandbox", data=resigned)
    assert refused.status_code == 400 and "amount" in refused.get_data(as_text=True)
    euros = {**genuine, "currency": "EUR"}
    assert pay.client.post("/payments/callback/sandbox", data={**euros, "signature": _sign(euros)}).status_code == 400
    garbage = {**genuine, "amount": "12.5"}
    assert pay.client.post("/payments/callback/sandbox",
                           data={**garbage, "signature": _sign(garbage)}).status_code == 400
    unknown = {**genuine, "order": "CMD-1999-000001"}
    assert pay.client.post("/payments/callback/sandbox",
                           data={**unknown, "signature": _sign(unknown)}).status_code == 400
    assert _status(pay.client, order)["status"] == "pending" and _count(pay.db, "gp_payments") == 0
    reasons = [e.details["reason"] for e in _refusals(pay)]
    assert len(reasons) == 5 and sum("amount paid" in r for r in reasons) == 2  # 1 MAD and EUR
    # the genuine callback still goes through afterwards
    assert pay.client.post("/payments/callback/sandbox", data=genuine).status_code == 303
    assert _status(pay.client, order)["status"] == "paid"


def test_a_tampered_payment_request_is_refused_by_the_sandbox(pay):
    order = _order(pay.client)
    start = pay.client.post(f"/api/v1/orders/{order['reference']}/payment?t={order['access_token']}")
    url = urlsplit(start.json["redirect_url"])
    assert pay.client.get(f"{url.path}?{url.query.replace('amount=22000', 'amount=100')}").status_code == 400
    assert pay.client.get("/sandbox-pay/").status_code == 400
    page = pay.client.get(f"{url.path}?{url.query}").get_data(as_text=True)
    bad_card = pay.client.post("/sandbox-pay/", data=dict(parse_qsl(url.query), card="1234 5678",
                                                          csrf_token=_csrf(page)))
    assert bad_card.status_code == 400 and "16-digit" in bad_card.get_data(as_text=True)


def test_declined_then_paid_then_paid_twice(pay):
    from gisportal.services.payments.orders import reconciliation

    order = _order(pay.client)
    declined = _sandbox(pay.client, order, card="4000 0000 0000 0002")
    assert declined["status"] == "declined"
    assert pay.client.post("/payments/callback/sandbox", data=declined).status_code == 303
    assert _status(pay.client, order)["status"] == "pending"
    assert pay.client.post("/payments/callback/sandbox", data=_sandbox(pay.client, order)).status_code == 303
    paid = _status(pay.client, order)
    assert paid["status"] == "paid"
    # the API refuses to start another payment, but a second transaction may still arrive from the bank
    again = pay.client.post(f"/api/v1/orders/{order['reference']}/payment?t={order['access_token']}&lang=en")
    assert again.status_code == 400 and "already paid" in again.json["message"]
    twice = {"order": order["reference"], "transaction": "SBX-SECOND", "amount": "22000", "currency": "MAD",
             "status": "authorised"}
    assert pay.client.post("/payments/callback/sandbox", data={**twice, "signature": _sign(twice)}).status_code == 303
    final = _status(pay.client, order)
    assert [p["status"] for p in final["payments"]] == ["declined", "authorised", "duplicate"]
    assert final["paid_at"] == paid["paid_at"] and sum(p["receipt_number"] is not None for p in final["payments"]) == 1
    report = reconciliation(pay.db, date.today())
    assert report["totals"]["payments"] == 1 and report["totals"]["received"] == 22000
    assert [d["transaction"] for d in report["differences"]] == ["SBX-SECOND"]


# --------------------------------------------------------------------------- access control and verification

def test_only_the_orders_access_code_opens_it(pay):
    order, other = _order(pay.client), _order(pay.client, service="plan_copy", format="A4")
    ref = order["reference"]
    anonymous = pay.app.test_client()  # no session: nothing remembered
    for path in (f"/payments/orders/{ref}", f"/payments/orders/{ref}?t=wrong",
                 f"/payments/orders/{ref}?t={other['access_token']}", f"/payments/orders/{ref}/invoice.pdf",
                 f"/payments/orders/{ref}/note.pdf?t={other['access_token']}",
                 f"/payments/orders/CMD-0000-000000?t={order['access_token']}"):
        assert anonymous.get(path).status_code == 404, path
    assert anonymous.get(f"/api/v1/orders/{ref}?t=wrong").status_code == 404
    assert anonymous.get(f"/api/v1/orders/{ref}").status_code == 422
    assert anonymous.post(f"/api/v1/orders/{ref}/payment?t=wrong").status_code == 404
    assert anonymous.get(f"/payments/orders/{ref}?t={order['access_token']}").status_code == 200
    pay.client.post("/payments/callback/sandbox", data=_sandbox(pay.client, other))
    assert anonymous.get(f"/payments/orders/{other['reference']}/note.pdf?t={other['access_token']}").status_code == 404


def test_tampered_receipts_and_codes_are_refused(pay):
    order = _order(pay.client)
    pay.client.post("/payments/callback/sandbox", data=_sandbox(pay.client, order))
    number = _status(pay.client, order)["payments"][0]["receipt_number"]
    from gisportal.services.payments.receipts import load_receipt

    token = load_receipt(pay.db, number).token
    assert pay.client.get(f"/verify/{number}?t={token}").status_code == 200
    wrong = pay.client.get(f"/verify/{number}?t=AAAAAAAAAAAAAAAA")
    # a wrong token answers like an unknown number (issue #14: numbers cannot be probed)
    assert wrong.status_code == 404 and "et ce code de vérification" in wrong.get_data(as_text=True)  # in French
    english = pay.client.get(f"/verify/{number}?t=AAAAAAAAAAAAAAAA&lang=en")
    assert "with this verification code" in english.get_data(as_text=True)
    assert pay.client.get(f"/verify/REC-{YEAR}-999999?t=AAAAAAAAAAAAAAAA").status_code == 404
    unknown = pay.client.get(f"/verify/REC-{YEAR}-999999?t=AAAAAAAAAAAAAAAA&lang=en").get_data(as_text=True)
    assert _unmarked(english.get_data(as_text=True).replace(number, "N")) == \
        _unmarked(unknown.replace(f"REC-{YEAR}-999999", "N"))
    with pay.db.write() as conn:
        conn.execute(sa.text("UPDATE gp_payments SET amount = 100 WHERE receipt_number = :n"), {"n": number})
    forged = pay.client.get(f"/verify/{number}?t={token}")
    assert forged.status_code == 422 and "gp-not-authentic" in forged.get_data(as_text=True)


# --------------------------------------------------------------------------- the web forms

def test_ordering_from_the_calculator_and_coming_back_from_the_payment_page(pay):
    page = pay.client.get(f"/fees?service=nru_note&parcel_ref={PARCEL}&lang=fr")
    assert page.status_code == 200 and 'data-centimes="22000"' in page.get_data(as_text=True)
    form = {"service": "nru_note", "parcel_ref": PARCEL, "lang": "fr", "csrf_token": _csrf(page.get_data(as_text=True))}
    assert pay.client.post("/payments/orders", data={k: v for k, v in form.items() if k != "csrf_token"}
                           ).status_code == 400
    created = pay.client.post("/payments/orders", data=form)
    assert created.status_code == 303
    reference = re.search(r"/payments/orders/(CMD-[\d-]+)\?t=", created.headers["Location"]).group(1)
    mine = pay.client.get(f"/payments/orders/{reference}")  # this browser remembers the code
    assert mine.status_code == 200 and 'data-status="pending"' in mine.get_data(as_text=True)
    pay_form = {"t": re.search(r"\?t=([\w-]+)", created.headers["Location"]).group(1),
                "csrf_token": _csrf(mine.get_data(as_text=True))}
    to_gateway = pay.client.post(f"/payments/orders/{reference}/pay", data=pay_form)
    assert to_gateway.status_code == 303 and "/sandbox-pay/?" in to_gateway.headers["Location"]
    order = {"reference": reference, "access_token": pay_form["t"]}
    back = pay.client.post("/payments/callback/sandbox", data=_sandbox(pay.client, order))
    returned = pay.client.get(back.headers["Location"])
    assert returned.status_code == 303 and returned.headers["Location"].startswith(f"/payments/orders/{reference}?t=")
    assert 'data-status="paid"' in pay.client.get(returned.headers["Location"]).get_data(as_text=True)
    stranger = pay.app.test_client().get(back.headers["Location"])
    assert stranger.status_code == 200 and pay_form["t"] not in stranger.get_data(as_text=True)
    bad = pay.client.post("/payments/orders", data={**form, "parcel_ref": "TF-0/00"})
    assert bad.status_code == 404 and "TF-0/00" in bad.get_data(as_text=True)


def test_order_creation_is_rate_limited(tiny_writable, tiny_rules_file):
    client = _app(tiny_writable, tiny_rules_file, form_rate_limit="2 per minute").test_client()
    codes = [client.post("/api/v1/orders", json={"service": "plan_copy", "format": "A4"}).status_code
             for _ in range(3)]
    assert codes == [201, 201, 429]


# --------------------------------------------------------------------------- reconciliation

def _sign_in(client) -> None:
    token = _csrf(client.get("/login").get_data(as_text=True))
    assert client.post("/login", data={"username": PLANNER, "password": PASSWORD,
                                       "csrf_token": token}).status_code == 303


def test_reconciliation_page_and_csv_for_staff_only(pay):
    import csv
    import io

    paid, _pending = _order(pay.client), _order(pay.client, service="plan_copy", format="A0", sheets=2)
    fields = _sandbox(pay.client, paid)
    pay.client.post("/payments/callback/sandbox", data=fields)
    pay.client.post("/payments/callback/sandbox", data={**fields, "amount": "=1+1"})  # refused, hostile text
    today = date.today().isoformat()
    anonymous = pay.app.test_client()
    assert anonymous.get("/admin/reconciliation").status_code == 302
    assert anonymous.get("/admin/reconciliation.csv").status_code == 302
    staff = pay.app.test_client()
    _sign_in(staff)
    assert 'href="/admin/reconciliation"' in staff.get("/admin").get_data(as_text=True)
    page = staff.get(f"/admin/reconciliation?day={today}").get_data(as_text=True)
    assert 'data-total="orders">2' in page and 'data-total="payments">1' in page
    assert 'data-total="differences">1' in page
    assert staff.get("/admin/reconciliation?day=yesterday").status_code == 400
    assert 'data-total="orders">0' in staff.get("/admin/reconciliation?day=2001-01-01").get_data(as_text=True)
    rows = list(csv.DictReader(io.StringIO(staff.get(f"/admin/reconciliation.csv?day={today}").get_data(as_text=True))))
    assert [r["kind"] for r in rows] == ["order", "order", "payment", "difference"]
    assert rows[2]["paid_amount"] == "22000" and rows[2]["transaction"] == fields["transaction"]
    assert rows[3]["status"] == "refused" and rows[3]["paid_amount"] == "'=1+1"  # never a formula


def test_concurrent_orders_get_distinct_consecutive_numbers(pay):
    from gisportal.services.payments.fees import QuoteRequest

    with ThreadPoolExecutor(8) as pool:
        made = list(pool.map(lambda _: pay.svc.orders.create(QuoteRequest("plan_copy", format="A4")), range(16)))
    assert sorted(o.reference for o in made) == [f"CMD-{YEAR}-{n:06d}" for n in range(1, 17)]
    assert len({o.access_token for o in made}) == 16


def test_where_the_official_note_is_charged_only_a_paid_order_or_staff_gets_it(tiny_writable, tiny_rules_file):
    """``note_requires_payment``: the sealed PDF asked directly is a 402 naming where to order it; the note on
    screen stays free (without PDF buttons); a paid order delivers it; signed-in staff are exempt."""
    app = _app(tiny_writable, tiny_rules_file, note_requires_payment=True, default_language="en")
    client = app.test_client()
    page = client.get("/note.pdf", query_string={"ref": PARCEL, "lang": "fr"})  # lang: the PDF's and the page's
    assert page.status_code == 402 and "une fois ses frais payés" in page.get_data(as_text=True)
    assert 'class="gp-button gp-order-note" href="/fees?service=nru_note' in page.get_data(as_text=True)
    api = client.get("/api/v1/notes", query_string={"ref": PARCEL, "format": "pdf"})
    assert api.status_code == 402 and api.json["error"] == "payment_required"
    assert "service=nru_note" in api.json["order_url"] and "parcel_ref=TF-1001" in api.json["order_url"]
    screen = client.get("/note", query_string={"ref": PARCEL, "lang": "en"})
    assert screen.status_code == 200 and "gp-pdf" not in screen.get_data(as_text=True)
    assert "gp-order-note" in screen.get_data(as_text=True) and "Information copy" in screen.get_data(as_text=True)
    assert "gp-extract-figure" in screen.get_data(as_text=True) and "gp-qr" not in screen.get_data(as_text=True)
    assert client.get("/api/v1/notes", query_string={"ref": PARCEL}).status_code == 200  # JSON stays free
    assert app.extensions["gisportal"].registry.search("", 10) == []  # nothing was issued

    order = _order(client)
    client.post("/payments/callback/sandbox", data=_sandbox(client, order))
    note = client.get(f"/payments/orders/{order['reference']}/note.pdf?t={order['access_token']}")
    assert note.status_code == 200 and note.headers["X-Note-Number"].startswith("NRU-")

    _sign_in(client)
    staff = client.get("/note.pdf", query_string={"ref": PARCEL, "lang": "fr"})
    assert staff.status_code == 200 and staff.data.startswith(b"%PDF-")
    assert "gp-pdf" in client.get("/note", query_string={"ref": PARCEL}).get_data(as_text=True)
