"""Fee schedule and quotes: amounts computed by hand in integer centimes, the file validated on load, versions by
effective date in the agency tables (both backends), the staff editor and the quote API."""

from __future__ import annotations

import re
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path

import pytest
import yaml

from gisportal.core.errors import FeeScheduleError, InvalidInput
from gisportal.core.resources import data_file
from gisportal.services.payments.fees import QuoteRequest, compute_quote, load_schedule, parse_schedule, to_yaml

FEES = load_schedule(data_file("fees.yaml"))
ADMIN, PLANNER, PASSWORD = "fatima.admin", "omar.planner", "un-mot-de-passe-long-2026"


def quote(**kwargs):
    return compute_quote(FEES, QuoteRequest(**kwargs))


# --------------------------------------------------------------------------- calculation

def test_flat_note_fee_with_stamp_duty():
    q = quote(service="nru_note")
    assert [(line.quantity, line.unit_amount, line.amount) for line in q.lines] == [("1", 20000, 20000)]
    assert (q.subtotal, q.vat, q.stamp_duty, q.total, q.currency) == (20000, 0, 2000, 22000, "MAD")


def test_permit_study_by_marginal_floor_area_bands():
    # housing: 300 m² at 5.00, 700 m² at 4.00, 200.5 m² at 3.00 MAD/m² = 1500 + 2800 + 601.50 MAD
    q = quote(service="permit_study", project_type="housing", floor_area_m2=Decimal("1200.5"))
    assert [(line.quantity, line.amount) for line in q.lines] == [("300", 150000), ("700", 280000),
                                                                 ("200.5", 60150)]
    assert q.total == 490150 and isinstance(q.total, int)
    assert q.lines[0].label["fr"] == "Habitation : tranche de 0 à 300 m²"
    assert q.lines[2].label["ar"] == "السكن: شريحة ما فوق 1000 م²"
    assert q.params == {"project_type": "housing", "floor_area_m2": "1200.5"}


def test_band_limit_and_minimum_fee():
    exactly = quote(service="permit_study", project_type="housing", floor_area_m2=Decimal("300"))
    assert [line.amount for line in exactly.lines] == [150000] and exactly.total == 150000
    small = quote(service="permit_study", project_type="commercial", floor_area_m2=Decimal("50"))
    # 50 m² at 8.00 = 400 MAD, below the 1000 MAD minimum: a 600 MAD top-up line
    assert [line.amount for line in small.lines] == [40000, 60000] and small.total == 100000
    assert small.lines[1].label["fr"].startswith("Complément")


def test_per_sheet_copies():
    q = quote(service="plan_copy", format="A3", sheets=3)
    assert (q.lines[0].unit_amount, q.lines[0].quantity, q.total) == (2000, "3", 6000)
    assert quote(service="plan_copy", format="A0").total == 15000  # one sheet by default


def test_vat_is_exact_and_rounded_half_up_once():
    assert quote(service="conformity_certificate").vat == 6000  # 20 % of 300.00
    schedule = parse_schedule({"services": {
        "a": {"label": {"fr": "a", "ar": "أ"}, "kind": "flat", "amount": 1234, "vat_percent": 20},
        "b": {"label": {"fr": "b", "ar": "ب"}, "kind": "flat", "amount": 2, "vat_percent": 25},
        "c": {"label": {"fr": "c", "ar": "ج"}, "kind": "floor_area", "project_types": {"x": {
            "label": {"fr": "x", "ar": "x"}, "bands": [{"rate_per_m2": 333}]}}}}}, "test")
    assert compute_quote(schedule, QuoteRequest("a")).vat == 247  # 246.8 -> 247
    assert compute_quote(schedule, QuoteRequest("b")).vat == 1  # 0.5 -> 1 (half up)
    # 0.01 m² x 3.33 MAD = 3.33 centimes -> 3; 0.15 m² -> 49.95 -> 50
    assert compute_quote(schedule, QuoteRequest("c", "x", Decimal("0.01"))).total == 3
    assert compute_quote(schedule, QuoteRequest("c", "x", Decimal("0.15"))).total == 50


@pytest.mark.parametrize("kwargs, parameter", [
    ({"service": "passport"}, "service"),
    ({"service": "permit_study", "floor_area_m2": Decimal(100)}, "project_type"),
    ({"service": "permit_study", "project_type": "castle", "floor_area_m2": Decimal(100)}, "project_type"),
    ({"service": "permit_study", "project_type": "housing"}, "floor_area_m2"),
    ({"service": "permit_study", "project_type": "housing", "floor_area_m2": Decimal(0)}, "floor_area_m2"),
    ({"service": "permit_study", "project_type": "housing", "floor_area_m2": Decimal(-5)}, "floor_area_m2"),
    ({"service": "permit_study", "project_type": "housing", "floor_area_m2": Decimal("1e7")}, "floor_area_m2"),
    ({"service": "permit_study", "project_type": "housing", "floor_area_m2": Decimal("10.005")}, "floor_area_m2"),
    ({"service": "plan_copy"}, "format"),
    ({"service": "plan_copy", "format": "A9"}, "format"),
    ({"service": "plan_copy", "format": "A4", "sheets": 0}, "sheets"),
    ({"service": "plan_copy", "format": "A4", "sheets": 51}, "sheets"),
])
def test_incomplete_or_wrong_requests_name_the_parameter(kwargs, parameter):
    with pytest.raises(InvalidInput) as caught:
        quote(**kwargs)
    assert caught.value.details["parameter"] == parameter and caught.value.status == 400
    assert parameter in caught.value.message


@pytest.mark.parametrize("args, parameter", [
    ({"service": "permit_study", "floor_area_m2": "abc"}, "floor_area_m2"),
    ({"service": "permit_study", "floor_area_m2": "NaN"}, "floor_area_m2"),
    ({"service": "permit_study", "floor_area_m2": "Infinity"}, "floor_area_m2"),
    ({"service": "plan_copy", "sheets": "-2"}, "sheets"),
    ({"service": "plan_copy", "sheets": "2.5"}, "sheets"),
])
def test_request_strings_that_are_not_numbers(args, parameter):
    with pytest.raises(InvalidInput) as caught:
        QuoteRequest.from_mapping(args)
    assert caught.value.details["parameter"] == parameter


def test_request_strings_parse_with_a_decimal_comma():
    request = QuoteRequest.from_mapping({"service": "permit_study", "project_type": "housing",
                                         "floor_area_m2": "1200,5"})
    assert compute_quote(FEES, request).total == 490150


# --------------------------------------------------------------------------- the file, validated

def _bad(document: dict | str, tmp_path: Path) -> FeeScheduleError:
    path = tmp_path / "fees.yaml"
    path.write_text(document if isinstance(document, str) else yaml.safe_dump(document), encoding="utf-8")
    with pytest.raises(FeeScheduleError) as caught:
        load_schedule(path)
    assert str(path) in caught.value.message
    return caught.value


def _doc(**service) -> dict:
    return {"currency": "MAD", "services": {"svc": {"label": {"fr": "S", "ar": "س"}, **service}}}


@pytest.mark.parametrize("service, words", [
    ({"kind": "lottery", "amount": 1}, ["service svc", "kind"]),
    ({"kind": "flat"}, ["service svc", "amount"]),
    ({"kind": "flat", "amount": -100}, ["service svc", "amount"]),
    ({"kind": "flat", "amount": 12.5}, ["service svc", "amount", "integer"]),
    ({"kind": "flat", "amount": 100, "vat_percent": 120}, ["service svc", "vat_percent"]),
    ({"kind": "flat", "amount": 100, "colour": "red"}, ["service svc", "colour"]),
    ({"kind": "per_sheet"}, ["service svc", "formats"]),
    ({"kind": "floor_area", "project_types": {"h": {"label": {"fr": "h", "ar": "h"}, "bands": [
        {"up_to_m2": 500, "rate_per_m2": 1}, {"up_to_m2": 300, "rate_per_m2": 1}, {"rate_per_m2": 1}]}}},
     ["service svc", "project_types.h", "increasing"]),
    ({"kind": "floor_area", "project_types": {"h": {"label": {"fr": "h", "ar": "h"}, "bands": [
        {"up_to_m2": 500, "rate_per_m2": 1}]}}}, ["service svc", "last band"]),
])
def test_a_bad_schedule_names_file_service_and_field(tmp_path, service, words):
    error = _bad(_doc(**service), tmp_path)
    for word in words:
        assert word in error.message
    assert error.details["service"] == "svc"


def test_a_schedule_that_is_not_yaml_or_not_a_mapping_or_missing(tmp_path):
    assert "not valid YAML" in _bad("services: [unclosed", tmp_path).message
    assert "mapping" in _bad("- a list", tmp_path).message
    assert "currency" in _bad({"currency": "EUR", "services": {}}, tmp_path).message
    with pytest.raises(FeeScheduleError, match="not found"):
        load_schedule(tmp_path / "nowhere.yaml")


def test_yaml_round_trip_keeps_every_fee():
    assert parse_schedule(yaml.safe_load(to_yaml(FEES)), "round trip") == FEES


# --------------------------------------------------------------------------- versions in the agency tables

@pytest.fixture
def fee_app(tiny_writable, tiny_rules_file):
    from gisportal.core.accounts import Accounts
    from gisportal.web import create_app

    app = create_app({**tiny_writable.settings, "rules_file": tiny_rules_file, "TESTING": True})
    accounts = Accounts(app.extensions["gisportal"].agency)
    accounts.create(ADMIN, PASSWORD, "admin")
    accounts.create(PLANNER, PASSWORD, "planner")
    return app


def _sign_in(client, username: str) -> None:
    page = client.get("/login").get_data(as_text=True)
    token = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', page).group(1)
    response = client.post("/login", data={"username": username, "password": PASSWORD, "csrf_token": token})
    assert response.status_code == 303


def _schedule_text(amount: int) -> str:
    document = yaml.safe_load(to_yaml(FEES))
    document["services"]["nru_note"]["amount"] = amount
    return yaml.safe_dump(document, allow_unicode=True)


def test_versions_take_effect_on_their_date_and_history_is_never_rewritten(fee_app):
    from gisportal.core.audit import AuditFilter, AuditLog

    fees = fee_app.extensions["gisportal_payments"].fees
    today = date.today()
    version = fees.publish(_schedule_text(25000), user=ADMIN, effective_from=today + timedelta(days=10),
                           note="2027 fees")
    assert fees.in_force(today).id == 0 and fees.quote(QuoteRequest("nru_note")).total == 22000
    assert fees.in_force(today + timedelta(days=10)).id == version.id
    later = fees.quote(QuoteRequest("nru_note"), today + timedelta(days=11))
    assert (later.total, later.schedule_version, later.effective_from) == (27000, version.id, version.effective_from)
    with pytest.raises(InvalidInput, match="past"):
        fees.publish(_schedule_text(1), user=ADMIN, effective_from=today - timedelta(days=1))
    with pytest.raises(InvalidInput, match="service nru_note"):
        fees.publish(_schedule_text(-1), user=ADMIN, effective_from=today)
    with pytest.raises(InvalidInput, match="YAML"):
        fees.publish("services: [", user=ADMIN, effective_from=today)
    assert [v.id for v in fees.versions()] == [0, version.id]
    fees.publish(_schedule_text(24000), user=ADMIN, effective_from=today, audit=AuditLog(fees.db))
    assert fees.quote(QuoteRequest("nru_note")).total == 26000
    assert AuditLog(fees.db).count(AuditFilter(action="fees.publish")) == 1


def test_staff_editor_is_for_administrators_and_publishes_a_new_version(fee_app):
    client = fee_app.test_client()
    assert client.get("/admin/fees").status_code == 302  # to the sign-in page
    _sign_in(client, PLANNER)
    assert client.get("/admin/fees").status_code == 403
    admin = fee_app.test_client()
    _sign_in(admin, ADMIN)
    page = admin.get("/admin/fees")
    assert page.status_code == 200 and "nru_note" in page.get_data(as_text=True)
    token = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', page.get_data(as_text=True)).group(1)
    tomorrow = (date.today() + timedelta(days=1)).isoformat()
    missing_csrf = admin.post("/admin/fees", data={"schedule": _schedule_text(1), "effective_from": tomorrow})
    assert missing_csrf.status_code == 400
    bad = admin.post("/admin/fees", data={"schedule": _schedule_text(-5), "effective_from": tomorrow,
                                          "csrf_token": token})
    assert bad.status_code == 400 and "service nru_note" in bad.get_data(as_text=True)
    past = admin.post("/admin/fees", data={"schedule": _schedule_text(5), "effective_from": "2001-01-01",
                                           "csrf_token": token})
    assert past.status_code == 400 and "past" in past.get_data(as_text=True)
    not_a_date = admin.post("/admin/fees", data={"schedule": _schedule_text(5), "effective_from": "tomorrow",
                                                 "csrf_token": token})
    assert not_a_date.status_code == 400
    assert len(fee_app.extensions["gisportal_payments"].fees.versions()) == 1  # nothing stored so far
    ok = admin.post("/admin/fees", data={"schedule": _schedule_text(30000), "effective_from": tomorrow,
                                         "note": "new year", "csrf_token": token})
    assert ok.status_code == 303
    versions = fee_app.extensions["gisportal_payments"].fees.versions()
    assert len(versions) == 2 and versions[1].effective_from.isoformat() == tomorrow
    assert versions[1].schedule.services["nru_note"].amount == 30000 and versions[1].created_by == ADMIN


# --------------------------------------------------------------------------- the API

def test_quote_api_and_its_openapi_document(tiny_client):
    ok = tiny_client.get("/api/v1/fees/quote?service=permit_study&project_type=housing&floor_area_m2=1200.5")
    assert ok.status_code == 200 and ok.json["total"] == 490150 and ok.json["currency"] == "MAD"
    assert [line["amount"] for line in ok.json["lines"]] == [150000, 280000, 60150]
    copies = tiny_client.get("/api/v1/fees/quote?service=plan_copy&format=A4&sheets=4")
    assert copies.json["total"] == 4000
    unknown = tiny_client.get("/api/v1/fees/quote?service=passport")
    assert unknown.status_code == 400 and "passport" in unknown.json["message"]
    not_a_number = tiny_client.get("/api/v1/fees/quote?service=permit_study&project_type=housing&floor_area_m2=x")
    assert not_a_number.status_code == 400 and not_a_number.json["parameter"] == "floor_area_m2"
    missing = tiny_client.get("/api/v1/fees/quote")
    assert missing.status_code == 422 and "service" in missing.json["message"]
    schedule = tiny_client.get("/api/v1/fees")
    assert schedule.status_code == 200 and schedule.json["services"]["nru_note"]["amount"] == 20000
    paths = tiny_client.get("/api/v1/openapi.json").json["paths"]
    for path in ("/api/v1/fees/quote", "/api/v1/fees", "/api/v1/orders", "/api/v1/orders/{reference}",
                 "/api/v1/orders/{reference}/payment"):
        assert path in paths, path


def test_calculator_page_shows_the_quote_and_refuses_bad_input(tiny_client):
    page = tiny_client.get("/fees?service=plan_copy&format=A3&sheets=2&lang=en")
    html = page.get_data(as_text=True)
    assert page.status_code == 200 and 'data-centimes="4000"' in html
    bad = tiny_client.get("/fees?service=plan_copy&format=A3&sheets=zero")
    assert bad.status_code == 400 and "sheets" in bad.get_data(as_text=True)
