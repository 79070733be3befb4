"""Committees in a real browser (Debian's chromium through Playwright, over real HTTP), on the embedded backend:
a staff member records a session and a decision and reads the personal code; a citizen sees the decision in
the public list and on the map, follows the file with number + code, and subscribes to it. Every request must
stay on this machine (the harness of ``test_browser.py``: outside requests are aborted and fail the test).
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from support.browser import ARTIFACTS, _recording_session, _serving
from support.committees import PASSWORD, STAFF, make_app

pytestmark = [pytest.mark.browser, pytest.mark.backends("embedded")]


@pytest.fixture
def served(tiny, tiny_writable):
    app = make_app(tiny, tiny_writable)
    with _serving(app) as base_url:
        yield app, base_url
    app.extensions["gisportal"].store.close()


def test_staff_records_a_decision_and_the_citizen_follows_it(served, browser_chromium):  # noqa: F811
    app, base = served
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    with _recording_session(browser_chromium, base) as staff:
        page = staff.new_page()
        page.goto(f"{base}/login?lang=en")
        page.fill("input[name=username]", STAFF)
        page.fill("input[name=password]", PASSWORD)
        page.click("button[type=submit]")
        page.goto(f"{base}/admin/committees?lang=en")
        page.fill("input[name=held_on]", "2026-03-10")
        page.select_option("select[name=kind]", "technical")
        page.click("text=Record the session")
        page.wait_for_url(re.compile(r"/admin/committees/sessions/\d+"))
        page.fill("input[name=file_number]", "2026/0777")
        page.fill("input[name=parcel_ref]", "TF-1003/06")
        page.select_option("select[name=project_type]", "commercial")
        page.select_option("select[name=decision]", "favourable")
        page.fill("textarea[name=conditions]", "Parking en sous-sol.")
        page.fill("input[name=applicant_name]", "Khadija Berrada")
        assert page.is_visible("text=never write names, ID numbers or phone numbers here")
        page.click("text=Record the decision")
        code = page.text_content(".gp-new-codes .gp-code").strip()
        page.screenshot(path=str(ARTIFACTS / "committees-staff-recorded.png"), full_page=True)
        staff.assert_stayed_local()
    assert re.fullmatch(r"[A-Z2-9]{5}-[A-Z2-9]{5}", code)

    with _recording_session(browser_chromium, base) as citizen:
        page = citizen.new_page()
        page.goto(f"{base}/committees?lang=ar")
        assert page.get_attribute("html", "dir") == "rtl"
        page.wait_for_selector("#gp-committee-map[data-ready='1']")
        assert page.locator(".leaflet-interactive").count() == 1  # the decided file on the map
        row = page.text_content(".gp-decisions tbody tr")
        assert "2026/0777" in row and "Iberia" in row and "رأي موافق" in row and "Khadija" not in page.content()
        page.screenshot(path=str(ARTIFACTS / "committees-public-ar.png"), full_page=True)
        page.goto(f"{base}/committees/lookup?lang=fr")
        page.fill("input[name=file_number]", "2026/0777")
        page.fill("input[name=code]", code.lower())
        page.click("text=Afficher les décisions")
        assert "Avis favorable" in page.text_content(".gp-file-found")
        page.click("text=Être prévenu(e) de la prochaine décision sur ce dossier")
        assert page.input_value("input[name=target]") == "2026/0777"
        page.fill("input[name=email]", "lina@example.ma")
        page.click("button:has-text(\"S'abonner\")")
        assert page.is_visible(".gp-subscription-sent")
        citizen.assert_stayed_local()
    sent = app.extensions["gisportal"].sender.sent
    assert [m.to for m in sent] == ["lina@example.ma"] and "subscription.confirm" in sent[0].topic
    assert Path(ARTIFACTS / "committees-public-ar.png").exists()
