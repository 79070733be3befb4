"""Issue 6 in a real browser: a citizen files a complaint by clicking on the map, then follows it elsewhere.

Debian's chromium through Playwright, over real HTTP (werkzeug in a thread), on the tiny territory of
``conftest.py`` built in a temporary directory (embedded store). The place clicked is a point of parcel
TF-1001/06 (box 90..110 x 10..30 in EPSG:26191, relative to the origin): the test computes its WGS84
coordinates with pyproj and asks the page's own Leaflet map where that point is on screen. Every request
the browser makes must stay on this machine (the guard of ``test_browser.py``).

A planner then finds it in the staff queue (table and map) and answers it; the citizen reads the answer.

Screenshots: ``tests/artifacts/complaint-form.png``, ``complaint-receipt.png``, ``complaint-queue.png``,
``complaint-tracking.png``.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from pyproj import Transformer
from support.browser import ARTIFACTS, _api, _recording_session
from support.browser_complaints import (
    PASSWORD,
    PLANNER,
    complaints_site,  # noqa: F401 (fixtures)
)
from support.tiny import X0, Y0

pytestmark = pytest.mark.browser


PNG = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01\x00\x00\x00\x01\x08\x06\x00\x00\x00\x1f\x15\xc4\x89" \
      b"\x00\x00\x00\rIDATx\x9cc\xf8\x0f\x00\x00\x01\x01\x00\x05\x18\xd8N\x00\x00\x00\x00IEND\xaeB`\x82"




def _click_on_map(page: Any, lon: float, lat: float) -> None:
    """Click the page's complaint map at a WGS84 point (its screen position asked of Leaflet itself)."""
    page.wait_for_function("() => window.gpComplaints && window.gpComplaints.map")
    page.evaluate("([lat, lon]) => window.gpComplaints.map.setView([lat, lon], 18, {animate: false})", [lat, lon])
    point = page.evaluate("([lat, lon]) => { const p = window.gpComplaints.map.latLngToContainerPoint([lat, lon]);"
                          " return [p.x, p.y]; }", [lat, lon])
    box = page.locator("#gp-complaint-map").bounding_box()
    assert 0 < point[0] < box["width"] and 0 < point[1] < box["height"]
    page.locator("#gp-complaint-map").click(position={"x": point[0], "y": point[1]})


def test_a_citizen_files_a_complaint_by_clicking_on_the_map_and_follows_it(complaints_site: dict[str, Any],
                                                                           browser_chromium: Any) -> None:
    base_url = complaints_site["base_url"]
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    photo = Path(complaints_site["dir"]) / "chantier.png"
    photo.write_bytes(PNG)
    lon, lat = Transformer.from_crs("EPSG:26191", "EPSG:4326", always_xy=True).transform(X0 + 100, Y0 + 20)

    with _recording_session(browser_chromium, base_url) as session:
        page = session.new_page()
        page.goto(f"{base_url}/")
        page.locator("#gp-menu-services").click()  # the header's "Services" menu
        page.locator("nav.gp-nav a[href='/complaints/new']").click()
        page.wait_for_url(re.compile(r"/complaints/new$"))
        _click_on_map(page, lon, lat)
        page.wait_for_function("() => document.getElementById('lon').value !== ''")
        # a pixel at zoom 18 is about 0.6 m: the point picked is within two pixels of the one aimed at
        assert float(page.input_value("#lon")) == pytest.approx(lon, abs=1.5e-5)
        assert float(page.input_value("#lat")) == pytest.approx(lat, abs=1.5e-5)
        page.wait_for_function("() => (document.getElementById('gp-complaint-picked').dataset.parcelRef || '')"
                               " === 'TF-1001/06'")
        clicked = (page.input_value("#lon"), page.input_value("#lat"))
        page.select_option("#category", "illegal_construction")
        page.fill("#description", "Construction d'un étage supplémentaire sans autorisation, travaux de nuit.")
        page.set_input_files("#attachments", str(photo))
        page.fill("#contact_name", "Fatima Zahra Benali")
        page.fill("#contact_email", "fatima.benali@example.ma")
        page.fill("#contact_phone", "+212 6 61 23 45 67")
        page.screenshot(path=str(ARTIFACTS / "complaint-form.png"), full_page=True)
        page.click("#gp-complaint-submit")
        page.wait_for_selector("#gp-receipt-number")
        number = page.inner_text("#gp-receipt-number").strip()
        code = page.inner_text("#gp-receipt-code").strip()
        assert re.fullmatch(r"RC-\d{4}-\d{6}", number) and re.fullmatch(r"[A-Z2-9]{4}-[A-Z2-9]{4}-[A-Z2-9]{4}", code)
        assert page.locator(".gp-receipt-qr svg").count() == 1
        page.screenshot(path=str(ARTIFACTS / "complaint-receipt.png"), full_page=True)
        session.assert_stayed_local()

    # the API agrees: the place clicked, on parcel TF-1001/06
    status, data = _api(base_url)(f"/complaints/{number}", code=code)
    assert status == 200 and data["parcel_ref"] == "TF-1001/06" and data["status"] == "received"
    assert data["lon"] == pytest.approx(float(clicked[0]), abs=1e-7)
    assert data["lat"] == pytest.approx(float(clicked[1]), abs=1e-7)
    assert [a["filename"] for a in data["attachments"]] == ["chantier.png"]

    # a planner finds it in the queue (listed, and on the map), answers it
    with _recording_session(browser_chromium, base_url) as session:
        page = session.new_page()
        page.goto(f"{base_url}/admin/complaints")
        page.wait_for_url(re.compile(r"/login"))
        page.fill("#username", PLANNER)
        page.fill("#password", PASSWORD)
        page.locator("form.gp-form button[type=submit], form button[type=submit]").last.click()
        page.wait_for_url(re.compile(r"/admin/complaints"))
        assert page.locator(f"tr[data-number='{number}']").count() == 1
        page.wait_for_function("() => window.gpComplaints && window.gpComplaints.points"
                               " && window.gpComplaints.points.getLayers().length === 1")
        page.screenshot(path=str(ARTIFACTS / "complaint-queue.png"), full_page=True)
        page.locator(f"tr[data-number='{number}'] a").click()
        page.wait_for_selector("#gp-contact")
        assert "Fatima Zahra Benali" in page.inner_text("#gp-contact")
        page.fill("#answer-text", "Un contrôle a été programmé sur place.")
        page.click("#gp-answer")
        page.wait_for_selector("#gp-timeline li[data-event='answered']")
        session.assert_stayed_local()

    # later, in another browser: the tracking page asks for the code, then shows the timeline and the answer
    with _recording_session(browser_chromium, base_url) as session:
        page = session.new_page()
        page.goto(f"{base_url}/complaints/track?number={number}")
        assert page.locator("#gp-timeline").count() == 0
        assert page.input_value("#number") == number
        page.fill("#code", "AAAA-BBBB-CCCC")
        page.click("#gp-track-submit")
        page.wait_for_selector("#gp-track-problem")
        page.fill("#number", number)
        page.fill("#code", code.lower())
        page.click("#gp-track-submit")
        page.wait_for_selector("#gp-timeline")
        assert page.inner_text("#gp-status-number").strip() == number
        assert page.locator("#gp-timeline li[data-event='received']").count() == 1
        assert "Un contrôle a été programmé sur place." in page.inner_text("#gp-answer")
        assert "Fatima" not in page.content() and "61 23 45 67" not in page.content()
        page.fill("#message", "Les travaux ont repris ce matin.")
        page.click("#gp-add-submit")
        page.wait_for_selector("#gp-timeline li[data-event='citizen_info']")
        assert "Les travaux ont repris ce matin." in page.inner_text("#gp-timeline")
        page.screenshot(path=str(ARTIFACTS / "complaint-tracking.png"), full_page=True)
        session.assert_stayed_local()
