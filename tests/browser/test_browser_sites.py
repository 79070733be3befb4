"""A site on the map in a real browser (Debian's chromium through Playwright): parcels added to a selection by
typed references and by shift-click, its total area, its note; a polygon drawn with Leaflet-Geoman and its note.

The tiny territory of ``conftest.py`` (areas by hand: TF-1001/06 400 m², TF-1006/06 100 m², TF-1007/06 800 m²;
the square x 60..110, y 40..90 is 2,500 m², 80 % in zone A). Every request is recorded; any to another machine
is aborted and fails the test. Screenshots land in ``tests/artifacts/``.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from support.browser import ARTIFACTS, _number, _recording_session, _serving
from support.tiny import TINY_RULES_YAML, X0, Y0, build_tiny_store

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def sites_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    from datetime import date

    from gisportal.core.settings import load_settings
    from gisportal.storage import open_store
    from gisportal.web import create_app

    data_dir = tmp_path_factory.mktemp("sites-browser")
    build_tiny_store(open_store(load_settings({"data_dir": data_dir, "storage": "embedded"})), date.today())
    rules = data_dir / "rules.yaml"
    rules.write_text(TINY_RULES_YAML, encoding="utf-8")
    app = create_app({"data_dir": data_dir, "storage": "embedded", "basemap_url": None, "rules_file": rules,
                      "languages": ["fr", "ar", "en"], "default_language": "fr"})
    with _serving(app) as base_url:
        yield base_url


def lonlat(x: float, y: float) -> tuple[float, float]:
    from gisportal.core.coords import transformer

    return transformer("EPSG:26191", "EPSG:4326").transform(X0 + x, Y0 + y)


def _show(page: Any, x: float, y: float, zoom: int = 19) -> None:
    lon, lat = lonlat(x, y)
    page.evaluate("([lat, lon, z]) => window.gisportal.map.setView([lat, lon], z, {animate: false})", [lat, lon, zoom])


def _point(page: Any, x: float, y: float) -> tuple[float, float]:
    lon, lat = lonlat(x, y)
    p = page.evaluate("""([lat, lon]) => {
        const map = window.gisportal.map, p = map.latLngToContainerPoint([lat, lon]);
        const box = map.getContainer().getBoundingClientRect();
        return [box.left + p.x, box.top + p.y];
    }""", [lat, lon])
    return p[0], p[1]


def _shot(page: Any, name: str) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"sites-{name}.png"), full_page=True)


def _open_map(page: Any, url: str) -> None:
    page.goto(url)
    page.wait_for_function("() => window.gisportal && window.gisportal.map && window.gisportalSites")  # Geoman: at draw


def test_select_parcels_and_draw_a_site(sites_server, browser_chromium):
    base = sites_server
    with _recording_session(browser_chromium, base) as session:
        page = session.new_page()
        _open_map(page, f"{base}/?lang=fr")
        # two parcels by typed references, then a third by shift-click
        page.fill("#gp-site-ref", "TF-1001/06, TF-1007/06")
        page.click("#gp-site-add-ref")
        page.locator("#gp-selection li").nth(1).wait_for()
        assert _number(page.inner_text("#gp-selection-area")) == 1200
        _show(page, 65, 45)
        x, y = _point(page, 65, 45)
        page.keyboard.down("Shift")
        page.mouse.click(x, y)
        page.keyboard.up("Shift")
        page.locator("#gp-selection li").nth(2).wait_for()
        assert page.locator("#gp-selection li").evaluate_all("els => els.map(e => e.dataset.ref)") == [
            "TF-1001/06", "TF-1007/06", "TF-1006/06"]
        assert page.inner_text("#gp-selection-count") == "3"
        assert _number(page.inner_text("#gp-selection-area")) == 1300
        _shot(page, "selection-fr")
        with page.expect_navigation():
            page.click("#gp-site-open")
        assert page.locator(".gp-site-note .gp-area").get_attribute("data-area-m2") == "1300.0"
        assert page.locator(".gp-parcel-row").count() == 3
        _shot(page, "note-fr")

        # a square drawn with Leaflet-Geoman: x 60..110, y 40..90
        _open_map(page, f"{base}/?lang=fr")
        _show(page, 85, 65)
        page.click("#gp-site-draw")  # Leaflet-Geoman loads now (not with the map's first view)
        page.wait_for_function("() => window.gisportal.map.pm && window.gisportal.map.pm.globalDrawModeEnabled()")
        corners = [(60, 40), (110, 40), (110, 90), (60, 90), (60, 40)]
        for cx, cy in corners:
            px, py = _point(page, cx, cy)
            page.mouse.click(px, py)
            page.wait_for_timeout(150)
        page.locator("#gp-site-message .gp-drawn-area").wait_for()
        drawn = _number(page.inner_text("#gp-site-message .gp-drawn-area"))
        assert drawn == pytest.approx(2500, rel=0.03)
        assert page.locator("#gp-result .gp-note-summary").count() == 0, "a vertex click looked up a note"
        _shot(page, "drawn-fr")
        with page.expect_navigation():
            page.click("#gp-site-open")
        zones = page.locator(".gp-zone-row").evaluate_all("els => els.map(e => e.dataset.code)")
        assert zones == ["A", "B"]
        assert _number(page.locator(".gp-zone-row").first.locator(".gp-share").inner_text()) == pytest.approx(80, abs=2)

        # Arabic, on a phone
        phone = session.context.new_page()
        phone.set_viewport_size({"width": 390, "height": 844})
        _open_map(phone, f"{base}/?lang=ar")
        phone.fill("#gp-site-ref", "TF-1001/06")
        phone.click("#gp-site-add-ref")
        phone.locator("#gp-selection li").first.wait_for()
        assert phone.evaluate("document.documentElement.scrollWidth") <= 390
        _shot(phone, "selection-ar-390")
        phone.goto(f"{base}/sites/note?refs=TF-1001/06,TF-1007/06&lang=ar")
        assert phone.evaluate("document.documentElement.dir") == "rtl"
        _shot(phone, "note-ar-390")
        session.assert_stayed_local()
