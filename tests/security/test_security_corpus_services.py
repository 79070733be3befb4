"""Issue #14: a payload corpus through every other input (committee decisions by form and CSV, library metadata,
payment callbacks, the rules editor by form, YAML and CSV, subscriptions, account names, the contact file): never
found raw in a page or a map script, shown as plain text in PDFs, and CSV exports neutralise formulas.

One portal for the module (embedded): each test adds its own records, nothing depends on another test's.
"""

from __future__ import annotations

import csv
import hashlib
import hmac
import html
import io
import json
import re
import subprocess
from datetime import date
from urllib.parse import parse_qsl, urlsplit

import pytest
import yaml
from support.committees import APPLICANT, csrf, new_session, personal_code, record
from support.instances import new_instance
from support.pdf import make_pdf

from gisportal.core.accounts import Accounts
from gisportal.zoning.rulesbook import to_yaml

pytestmark = pytest.mark.backends("embedded")

#: Markup that would run if it reached a page, a script or a PDF's HTML unescaped.
PAYLOAD = '<script>alert(1)</script><img src=x onerror=alert(2)>${alert(3)}'
#: A transaction id fits 64 characters.
SHORT = '<img src=x onerror=alert(2)>${alert(3)}'
#: What must never appear raw in a page.
RAW = ("<script>alert(1)", "<img src=x")
#: A cell a spreadsheet would run.
FORMULA = '=HYPERLINK("http://evil.example","x")'
SECRET, ADMIN, PASSWORD = "corpus-hmac-secret", "corpus.admin", "un-mot-de-passe-long-2026"
CONTACT_YAML = f"""
phones: [{{label: {{fr: "{PAYLOAD}", ar: "{PAYLOAD}", en: "{PAYLOAD}"}}, number: "+212 539 00 00 00"}}]
email: contact@agence-urbaine.invalid
addresses:
  - name: {{fr: "{PAYLOAD}", ar: "{PAYLOAD}", en: "{PAYLOAD}"}}
    address: {{fr: "{SHORT}", ar: "{SHORT}", en: "{SHORT}"}}
    lat: 35.7767
    lon: -5.8039
posters:
  - id: help
    endpoint: contact.help
    title: {{fr: "{PAYLOAD}", ar: "{PAYLOAD}", en: "{PAYLOAD}"}}
    text: {{fr: "{SHORT}", ar: "{SHORT}", en: "{SHORT}"}}
"""


def inert(html: str, where: str) -> None:
    """No payload raw in ``html``, and none inside a folium tooltip's JavaScript template literal."""
    for raw in RAW:
        assert raw not in html, (where, raw)
    for tip in re.findall(r"\.bindTooltip\(\s*`(.*?)`", html, re.S):
        assert "${" not in tip and "<img" not in tip and "<script" not in tip, (where, tip)


def pdf_text(data: bytes) -> str:
    """The PDF's text (poppler's pdftotext), whitespace removed."""
    assert data.startswith(b"%PDF"), data[:200]
    text = subprocess.run(["pdftotext", "-enc", "UTF-8", "-", "-"], input=data, capture_output=True,
                          check=True).stdout.decode()
    return "".join(text.split())


def shown_as_text(data: bytes) -> None:
    """The PDF prints the payload's markup as text: no element of it took effect (an <img> or <script> read as
    markup would leave its tags and attributes out of the text)."""
    text = pdf_text(data)
    assert "onerror=alert(2)" in text and "alert(1)</script>" in text or "<imgsrc=xonerror=alert(2)>" in text, text


def neutral(text: str) -> list[str]:
    """The CSV's cells; none starts a formula."""
    cells = [cell for row in csv.reader(io.StringIO(text)) for cell in row]
    assert not [c for c in cells if c.startswith(("=", "+", "-", "@", "\t", "\r"))], cells
    return cells


@pytest.fixture(scope="module")
def app(request, backend, tiny_template, tiny_rules_file, tmp_path_factory):
    from support.tiny import _create_app

    base = tmp_path_factory.mktemp("corpus")
    instance = new_instance(request, backend, base / "data", template=tiny_template)
    contact = base / "contact.yaml"
    contact.write_text(CONTACT_YAML, encoding="utf-8")
    app = _create_app({**instance.settings, "rules_file": tiny_rules_file, "TESTING": True,
                       "default_language": "en", "form_rate_limit": "1000 per hour",
                       "lookup_rate_limit": "1000 per hour", "wrong_code_rate_limit": "1000 per hour",
                       "payment_hmac_secret": SECRET, "contact_file": contact, "reload_check_seconds": 0})
    Accounts(app.extensions["gisportal"].agency).create(ADMIN, PASSWORD, "admin", display_name="Admin")
    yield app
    app.extensions["gisportal"].store.close()


def sign_in(app, username: str = ADMIN):
    client = app.test_client()
    answer = client.post("/login", data={"username": username, "password": PASSWORD,
                                         "csrf_token": csrf(client, "/login")})
    assert answer.status_code in (302, 303), answer.status_code
    return client


@pytest.fixture(scope="module")
def admin(app):
    return sign_in(app)


def note_pdf(client) -> bytes:
    answer = client.get("/api/v1/notes?ref=TF-1001/06&format=pdf&lang=fr")
    assert answer.status_code == 200, answer.get_data(as_text=True)[:300]
    return answer.data


# --- committees ------------------------------------------------------------------------------------------------

def test_committee_decisions_by_form_and_csv_stay_text(app, admin):
    session_id = new_session(admin, "2026-03-10")
    answer = record(admin, session_id, file_number="2026/0901", parcel_ref="TF-1001/06",
                    **{**APPLICANT, "applicant_name": PAYLOAD}, conditions=PAYLOAD, applicant_reference=SHORT)
    assert answer.status_code == 201, answer.get_data(as_text=True)[:2000]
    inert(answer.get_data(as_text=True), "recorded")
    code = personal_code(answer.get_data(as_text=True), "2026/0901")
    path = f"/admin/committees/sessions/{session_id}"
    rows = ("file_number;parcel_ref;project_type;decision;conditions;applicant_name;applicant_cin;applicant_phone\r\n"
            f"2026/0902;TF-1003/06;habitat;favorable;{PAYLOAD};{PAYLOAD};;\r\n")
    imported = admin.post(f"{path}/import", data={"csrf_token": csrf(admin, path),
                                                  "file": (io.BytesIO(rows.encode()), "decisions.csv")},
                          content_type="multipart/form-data")
    assert imported.status_code == 201, imported.get_data(as_text=True)[:2000]
    inert(imported.get_data(as_text=True), "imported")
    bad_rows = rows.replace("favorable", PAYLOAD).replace("2026/0902", SHORT)  # the report quotes the bad cells
    report = admin.post(f"{path}/import", data={"csrf_token": csrf(admin, path),
                                                "file": (io.BytesIO(bad_rows.encode()), "decisions.csv")},
                        content_type="multipart/form-data")
    assert 400 <= report.status_code < 500
    inert(report.get_data(as_text=True), "import report")
    public = app.test_client()
    pages = {"/committees": public, "/committees?file=2026/0902": public, path: admin,
             "/admin/committees": admin, "/admin/committees/file?number=2026/0901": admin,
             "/admin/committees/file?number=2026/0902": admin, "/admin/audit": admin}
    for page, client in pages.items():
        inert(client.get(page).get_data(as_text=True), page)
    listed = public.get("/committees").get_data(as_text=True)
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in listed  # the conditions are there, as text
    points = re.search(r'data-points="([^"]*)"', listed).group(1)  # the map's data: an attribute, escaped
    assert "<" not in points and json.loads(html.unescape(points))["features"]  # read as JSON, shown as textContent
    token = csrf(public, "/committees/lookup")
    looked = public.post("/committees/lookup", data={"csrf_token": token, "file_number": "2026/0901", "code": code})
    assert looked.status_code == 200
    inert(looked.get_data(as_text=True), "lookup")
    assert "alert(1)" in looked.get_data(as_text=True)


# --- library ---------------------------------------------------------------------------------------------------

def test_library_metadata_stays_text_in_pages_and_in_the_note_pdf(app, admin):

    form = {"csrf_token": csrf(admin, "/admin/library"), "kind": "plan_regulation", "title_fr": PAYLOAD,
            "title_ar": PAYLOAD, "reference": SHORT, "issued_on": "2024-03-01", "plan_name": "tiny-plan",
            "zone_codes": "A"}
    added = admin.post("/admin/library", data={**form, "file": (io.BytesIO(make_pdf("Règlement")), "r.pdf")},
                       content_type="multipart/form-data")
    assert added.status_code == 302, added.get_data(as_text=True)[:1000]
    public = app.test_client()
    listing = public.get("/documents?q=alert").get_data(as_text=True)
    inert(listing, "/documents?q=alert")
    doc_id = int(re.search(r'data-document="(\d+)"', listing).group(1))
    for page, client in {"/documents": public, f"/documents/{doc_id}": public, "/admin/library": admin,
                         f"/admin/library/{doc_id}": admin, "/note?ref=TF-1001/06&lang=fr": public}.items():
        text = client.get(page).get_data(as_text=True)
        inert(text, page)
        assert "alert(1)" in text, page  # the title is shown, as text
    shown_as_text(note_pdf(admin))  # the note lists the plan's regulation by its title


# --- payments --------------------------------------------------------------------------------------------------

def _sign(fields: dict) -> str:
    names = ("order", "transaction", "amount", "currency", "status")
    message = json.dumps({n: str(fields[n]) for n in names}, sort_keys=True, separators=(",", ":"),
                         ensure_ascii=False).encode()
    return hmac.new(SECRET.encode(), message, hashlib.sha256).hexdigest()


def _paid(client, transaction: str) -> dict:
    """An order paid by a callback (signed with the provider's secret) that carries ``transaction``."""
    order = client.post("/api/v1/orders", json={"service": "nru_note", "parcel_ref": "TF-1001/06"}).get_json()
    start = client.post(f"/api/v1/orders/{order['reference']}/payment?t={order['access_token']}").get_json()
    fields = dict(parse_qsl(urlsplit(start["redirect_url"]).query))
    callback = {"order": order["reference"], "transaction": transaction, "amount": fields["amount"],
                "currency": fields["currency"], "status": "authorised"}
    answer = client.post("/payments/callback/sandbox", data={**callback, "signature": _sign(callback)})
    assert answer.status_code in (200, 303), answer.get_data(as_text=True)[:500]  # 303: back to the return page
    return order


def test_payment_callback_fields_stay_text_in_pages_receipts_and_csv(app, admin):
    client = app.test_client()
    # the fee schedule editor (administrators): a service's label reaches the fee page, orders and invoices
    editor = re.search(r"<textarea[^>]*>(.*?)</textarea>", admin.get("/admin/fees").get_data(as_text=True), re.S)
    schedule = yaml.safe_load(html.unescape(editor.group(1)))
    schedule["services"]["nru_note"]["label"] = {"fr": PAYLOAD, "ar": PAYLOAD, "en": PAYLOAD}
    published = admin.post("/admin/fees", data={"csrf_token": csrf(admin, "/admin/fees"), "note": PAYLOAD,
                                                "schedule": yaml.safe_dump(schedule, allow_unicode=True),
                                                "effective_from": date.today().isoformat()})
    assert published.status_code == 303, published.get_data(as_text=True)[:1000]
    order = _paid(client, SHORT)
    _paid(client, FORMULA)
    forged = client.post("/payments/callback/sandbox", data={"order": PAYLOAD, "transaction": PAYLOAD,
                                                             "amount": PAYLOAD, "currency": PAYLOAD,
                                                             "status": PAYLOAD, "signature": PAYLOAD})
    assert 400 <= forged.status_code < 500
    inert(forged.get_data(as_text=True), "forged callback")
    status = client.get(f"/api/v1/orders/{order['reference']}?t={order['access_token']}").get_json()
    receipt = status["payments"][0]["receipt_number"]
    receipt_pdf = client.get(f"/payments/orders/{order['reference']}/receipt.pdf?t={order['access_token']}")
    assert receipt_pdf.status_code == 200
    shown_as_text(receipt_pdf.data)
    from gisportal.services.payments.receipts import load_receipt

    token = load_receipt(app.extensions["gisportal_payments"].orders.db, receipt).token
    invoice = client.get(f"/payments/orders/{order['reference']}/invoice.pdf?t={order['access_token']}")
    assert invoice.status_code == 200
    shown_as_text(invoice.data)  # the service's label
    for page, who in {f"/payments/orders/{order['reference']}?t={order['access_token']}": client,
                      "/fees?lang=en": client, "/fees?lang=ar": client, "/admin/fees": admin,
                      f"/verify/{receipt}?t={token}&lang=en": client, "/admin/reconciliation": admin,
                      "/admin/audit": admin, f"/payments/return/sandbox?order={order['reference']}": client}.items():
        inert(who.get(page).get_data(as_text=True), page)
    assert "onerror=alert(2)" in admin.get("/admin/reconciliation").get_data(as_text=True)
    cells = neutral(admin.get(f"/admin/reconciliation.csv?day={date.today().isoformat()}").get_data(as_text=True))
    assert "'" + FORMULA in cells and SHORT in cells


# --- rules editor ----------------------------------------------------------------------------------------------

def test_zone_labels_and_texts_from_the_rules_editor_stay_text_everywhere(app, admin):
    page = "/admin/rules/zone/A"
    rules = app.extensions["gisportal"].catalogue.rules_for("A")
    form = {"csrf_token": csrf(admin, page), "label_fr": PAYLOAD, "label_ar": PAYLOAD, "label_en": PAYLOAD,
            "color": rules.color, "allowed_uses": " ".join(rules.allowed_uses),
            "forbidden_uses": " ".join(rules.forbidden_uses), "cos": "1.2", "ces": "0.6", "max_height_m": "12",
            "max_floors": "3", "front_m": "5", "side_m": "3", "rear_m": "3", "min_lot_area_m2": "",
            "min_frontage_m": "", "parking_fr": FORMULA, "parking_ar": SHORT, "provisions_fr": PAYLOAD,
            "provisions_ar": PAYLOAD, "effective_from": "2000-01-01"}
    saved = admin.post(page, data=form)
    assert saved.status_code == 302, saved.get_data(as_text=True)[:1000]
    bad_color = admin.post(page, data={**form, "csrf_token": csrf(admin, page), "color": PAYLOAD})
    assert 400 <= bad_color.status_code < 500
    inert(bad_color.get_data(as_text=True), "bad colour")
    # an import (YAML) with a hostile label for B; a CSV with a hostile use (refused, told as text)
    document = yaml.safe_load(to_yaml(app.extensions["gisportal"].catalogue))
    document["zones"]["B"]["label"] = {"fr": SHORT, "ar": SHORT}
    imported = admin.post("/admin/rules/import", data={
        "csrf_token": csrf(admin, "/admin/rules"),
        "file": (io.BytesIO(json.dumps(document).encode()), "rules.yaml")}, content_type="multipart/form-data")
    assert imported.status_code == 302
    bad = admin.post("/admin/rules/import", data={
        "csrf_token": csrf(admin, "/admin/rules"),
        "file": (io.BytesIO(f"code,label_fr,label_ar,allowed_uses\nA,x,y,{SHORT}\n".encode()), "rules.csv")},
        content_type="multipart/form-data")
    assert bad.status_code == 302
    public = app.test_client()
    for path, who in {"/admin/rules": admin, page: admin, "/?lang=en": public, "/?lang=ar": public,
                      "/note?ref=TF-1001/06&lang=fr": public, "/plans": public}.items():
        inert(who.get(path).get_data(as_text=True), path)
    assert "&lt;script&gt;alert(1)" in public.get("/note?ref=TF-1001/06&lang=fr").get_data(as_text=True)
    shown_as_text(note_pdf(public))
    cells = neutral(admin.get("/admin/rules.csv").get_data(as_text=True))
    assert "'" + FORMULA in cells
    # the export reads back as it was written (the apostrophe is not kept)
    again = admin.post("/admin/rules/import", data={
        "csrf_token": csrf(admin, "/admin/rules"),
        "file": (io.BytesIO(admin.get("/admin/rules.csv").data), "rules.csv")}, content_type="multipart/form-data")
    assert again.status_code == 302
    assert app.test_client().get("/api/v1/notes?ref=TF-1001/06&lang=fr").status_code == 200
    assert app.extensions["gisportal"].catalogue.rules_for("A").parking.fr == FORMULA
    downloaded = public.get("/downloads/rules.csv")
    if downloaded.status_code == 200:
        neutral(downloaded.get_data(as_text=True))


# --- subscriptions, accounts, contact file ---------------------------------------------------------------------

def test_subscriptions_account_names_and_the_contact_file_stay_text(app, admin):
    public = app.test_client()
    for target in (PAYLOAD, "TF-1001/06"):
        answer = public.post("/subscribe", data={"csrf_token": csrf(public, "/subscribe"), "kind": "parcel",
                                                 "email": "a@example.org", "target": target})
        assert answer.status_code < 500
        inert(answer.get_data(as_text=True), f"subscribe {target}")
    inert(public.get(f"/subscribe?parcel={PAYLOAD}").get_data(as_text=True), "subscribe?parcel=")
    created = admin.post("/admin/users", data={"csrf_token": csrf(admin, "/admin/users"), "username": "nadia.x",
                                               "display_name": PAYLOAD, "role": "planner", "password": PASSWORD,
                                               "confirm": PASSWORD})
    assert created.status_code in (302, 303), created.get_data(as_text=True)[:1000]
    refused = admin.post("/admin/users", data={"csrf_token": csrf(admin, "/admin/users"), "username": PAYLOAD,
                                               "display_name": "x", "role": "planner", "password": PASSWORD,
                                               "confirm": PASSWORD})
    assert 400 <= refused.status_code < 500
    inert(refused.get_data(as_text=True), "refused user")
    nadia = sign_in(app, "nadia.x")
    for path, who in {"/admin/users": admin, "/admin/audit": admin, "/admin": nadia, "/": nadia,
                      "/admin/upload": nadia}.items():
        inert(who.get(path).get_data(as_text=True), path)
    assert "alert(1)" in admin.get("/admin/users").get_data(as_text=True)
    for lang in ("en", "ar"):
        help_page = public.get(f"/help?lang={lang}").get_data(as_text=True)
        inert(help_page, f"/help {lang}")
        assert "bindTooltip" in help_page and "alert(1)" in help_page  # the office's tooltip, escaped
    inert(public.get("/posters/help?lang=en").get_data(as_text=True), "poster")
    poster = public.get("/posters/help.pdf?lang=en")
    assert poster.status_code == 200
    shown_as_text(poster.data)
