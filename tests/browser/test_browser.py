"""The map page and the note in a real browser: Debian's chromium driven by Playwright, over real HTTP.

A demo store is built in a temporary directory, the app is served by werkzeug
on 127.0.0.1 in a background thread, and every expected value is fetched from
the same server's JSON API (the page must agree with it). Every request the
browser makes is recorded; anything not addressed to this machine is aborted
(so a leak cannot hang a test) and makes the test fail.

Screenshots land in ``tests/artifacts/`` (git-ignored) for a person to look at.
Fixtures are prefixed ``browser_`` so they never clash with ``conftest.py``.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
from support.browser import (  # noqa: F401 (fixtures)
    _ZONE_LAYERS_JS,
    TIMEOUT_MS,
    ApiGet,
    BrowserSession,
    _api,
    _click_latlng,
    _is_local,
    _number,
    _open_map,
    _panel_zones,
    _park_mouse,
    _recording_session,
    _serving,
    browser_artifacts,
)
from support.tiny import copy_demo

pytestmark = pytest.mark.browser




# --------------------------------------------------------------------------- helpers





def _metres_to_degrees(lat: float, dx_m: float, dy_m: float) -> tuple[float, float]:
    """(dlon, dlat) for a small east/north offset in metres at latitude ``lat``."""
    return dx_m / (111_320.0 * math.cos(math.radians(lat))), dy_m / 110_574.0





# The alpha of the zones layer's canvas at a point (0 where no tile or nothing is drawn).
_ZONE_ALPHA_JS = """([lat, lon]) => {
  const map = window.gisportal.map, layer = window.gisportal.layers.zones, z = layer._tileZoom;
  const p = map.project([lat, lon], z), size = layer.getTileSize();
  const tx = Math.floor(p.x / size.x), ty = Math.floor(p.y / size.y);
  const tile = layer._tiles[tx + ':' + ty + ':' + z];
  if (!tile || !tile.el) { return 0; }
  const c = tile.el, ratio = c.width / size.x;
  return c.getContext('2d').getImageData(Math.floor((p.x - tx * size.x) * ratio),
                                         Math.floor((p.y - ty * size.y) * ratio), 1, 1).data[3];
}"""

# The outline of the selected parcel (portal.js draws it in #0033ff, from a feature with no properties).
_SELECTED_OUTLINES_JS = """() => {
  let n = 0;
  window.gisportal.map.eachLayer(l => {
    if (l.feature && l.feature.properties && !Object.keys(l.feature.properties).length
        && l.options && l.options.color === '#0033ff') { n += 1; }
  });
  return n;
}"""






def _select_by_search(page: Any, prefix: str, ref: str) -> None:
    """Type the start of a reference, wait for the suggestions, pick the parcel; wait for its summary."""
    box = page.locator("#gp-q")
    box.fill("")
    box.press_sequentially(prefix, delay=20)
    item = page.locator("#gp-suggestions li[data-index]", has_text=ref)
    item.first.wait_for(state="visible")
    item.first.click()
    page.locator("#gp-result .gp-note-summary .gp-summary-ref", has_text=ref).wait_for()




def _assert_no_parcel_shown(page: Any, facts: BrowserFacts) -> None:
    """The panel says, in the page's language, that there is no parcel, and lists the zones at the point."""
    problem = page.locator("#gp-result .gp-problem")
    problem.wait_for()
    assert problem.get_attribute("data-error") == facts.street_problem["error"] == "no_parcel_here"
    ui = json.loads(page.locator("#gp-config").text_content())["ui"]
    assert problem.inner_text().strip() == ui["noParcel"].strip()
    assert page.locator("#gp-result .gp-summary-ref").count() == 0
    here = page.locator("#gp-result .gp-zones-here li b").all_inner_texts()
    assert here == [z["code"] for z in facts.street_problem["zones_at_point"]]
    assert page.evaluate(_SELECTED_OUTLINES_JS) == 0, "the previous parcel stays outlined"




def _assert_zones_agree(shown: list[tuple[str, float]], note: dict[str, Any]) -> None:
    expected = [(z["code"], z["share"] * 100) for z in note["zones"]]
    assert [code for code, _ in shown] == [code for code, _ in expected], (shown, expected)
    for (code, share), (_, want) in zip(shown, expected, strict=True):
        assert share == pytest.approx(want, abs=0.051), f"zone {code}: panel says {share} %, the API {want:.2f} %"


# --------------------------------------------------------------------------- fixtures

@pytest.fixture(scope="module")
def browser_data_dir(demo_template: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A data directory holding the demo district (~6000 parcels, two plan versions): a copy of the session's."""
    from gisportal.core.settings import load_settings
    from gisportal.storage import open_store

    data_dir = copy_demo(demo_template, tmp_path_factory.mktemp("browser-data"))
    store = open_store(load_settings({"data_dir": data_dir, "storage": "embedded"}))
    try:
        counts = store.counts()
    finally:
        store.close()
    assert counts["parcels"] > 5000 and counts["zones"] > 0, counts
    return data_dir




@pytest.fixture(scope="module")
def browser_server(browser_data_dir: Path) -> Iterator[str]:
    """The real app served over HTTP by werkzeug on 127.0.0.1 and a free port; yields its base URL."""
    from gisportal.web import create_app

    app = create_app({"data_dir": browser_data_dir, "storage": "embedded", "basemap_url": None,
                      "languages": ["fr", "ar", "en"], "default_language": "fr"})
    with _serving(app) as base_url:
        yield base_url




@pytest.fixture(scope="module")
def browser_api(browser_server: str) -> ApiGet:
    """``get(path, **params) -> (status, json)`` against the running server's API."""
    return _api(browser_server)


@dataclass(frozen=True)
class BrowserFacts:
    """What the tests expect, all read from the API: a parcel over several zones, a street point."""

    ref: str
    prefix: str
    note: dict[str, Any]
    street_lat: float
    street_lon: float
    street_problem: dict[str, Any]
    zone_features: int
    zone_codes: frozenset[str]
    zone_bbox: tuple[float, float, float, float]


def _find_street_point(api: ApiGet, note: dict[str, Any]) -> tuple[float, float, dict[str, Any]] | None:
    """A point just outside the parcel that falls on no parcel but inside zones (a street)."""
    ring = note["parcel"]["geometry"]["coordinates"][0][0]
    lons, lats = [p[0] for p in ring], [p[1] for p in ring]
    lon0, lon1, lat0, lat1 = min(lons), max(lons), min(lats), max(lats)
    mid_lon, mid_lat = (lon0 + lon1) / 2, (lat0 + lat1) / 2
    for metres in (2, 4, 7, 10, 14, 20):
        dlon, dlat = _metres_to_degrees(mid_lat, metres, metres)
        for lon, lat in ((mid_lon, lat1 + dlat), (mid_lon, lat0 - dlat), (lon1 + dlon, mid_lat),
                         (lon0 - dlon, mid_lat)):
            status, body = api("/notes", lon=f"{lon:.7f}", lat=f"{lat:.7f}")
            if status == 404 and body.get("error") == "no_parcel_here" and body.get("zones_at_point"):
                return lat, lon, body
    return None


@pytest.fixture(scope="module")
def browser_facts(browser_api: ApiGet) -> BrowserFacts:
    status, zones = browser_api("/layers/zones")
    assert status == 200 and zones["features"], zones
    bounds = [f["geometry"]["coordinates"] for f in zones["features"]]
    flat = [pt for g in bounds for poly in g for ring in poly for pt in ring]
    bbox = (min(p[0] for p in flat), min(p[1] for p in flat), max(p[0] for p in flat), max(p[1] for p in flat))
    status, parcels = browser_api("/parcels", bbox=",".join(f"{v:.6f}" for v in bbox))
    assert status == 200 and parcels["features"], parcels

    chosen = street = None
    for feature in parcels["features"][::7]:
        ref = feature["properties"]["ref"]
        status, note = browser_api("/notes", ref=ref)
        assert status == 200, note
        if len(note["zones"]) < 2 or note["unzoned_share"] > 0:
            continue
        # the parcel must also be found by clicking its centroid
        c = note["parcel"]["centroid"]
        status, at_centroid = browser_api("/notes", lon=c["lon"], lat=c["lat"])
        if status != 200 or at_centroid["parcel"]["ref"] != ref:
            continue
        street = _find_street_point(browser_api, note)
        if street:
            chosen = note
            break
    assert chosen and street, "no demo parcel over two zones with a street beside it was found"
    ref = chosen["parcel"]["ref"]

    # the shortest start of the reference whose suggestions (as the page asks: limit 10) list the parcel
    prefix = ref
    for n in range(len("TF-") + 2, len(ref) + 1):
        status, found = browser_api("/search", q=ref[:n], limit=10)
        if status == 200 and any(s.get("ref") == ref for s in found["suggestions"]):
            prefix = ref[:n]
            break
    return BrowserFacts(ref=ref, prefix=prefix, note=chosen, street_lat=street[0], street_lon=street[1],
                        street_problem=street[2], zone_features=len(zones["features"]),
                        zone_codes=frozenset(f["properties"]["code"] for f in zones["features"]), zone_bbox=bbox)




@pytest.fixture
def browser_session(browser_chromium: Any, browser_server: str) -> Iterator[BrowserSession]:
    """A fresh French browser context that records every request and aborts those leaving this machine."""
    with _recording_session(browser_chromium, browser_server) as session:
        yield session






# --------------------------------------------------------------------------- tests

def test_request_guard_blocks_and_records_internet_requests(browser_session: BrowserSession) -> None:
    """The guard the other tests rely on: an outside request is aborted at once, and recorded."""
    page = browser_session.new_page()
    fetch = """() => fetch('https://tile.openstreetmap.org/1/1/1.png')
        .then(() => 'fetched', e => 'blocked: ' + e.name)"""
    page.goto(browser_session.base_url + "/plans")
    # on the app's pages the Content-Security-Policy stops it before it is even requested (issue #14)
    assert page.evaluate(fetch).startswith("blocked")
    assert [url for url in browser_session.requests if not _is_local(url)] == []
    page.goto("about:blank")  # no policy here: the guard itself must stop it
    outcome = page.evaluate(fetch)
    assert outcome.startswith("blocked"), outcome
    leaks = [url for url in browser_session.requests if not _is_local(url)]
    assert leaks == ["https://tile.openstreetmap.org/1/1/1.png"]
    assert _is_local(browser_session.base_url + "/plans") and not _is_local("http://127.0.0.1.example.com/")


def test_map_draws_zones_controls_and_legend_from_this_server(browser_session: BrowserSession,
                                                                browser_facts: BrowserFacts) -> None:
    page = browser_session.new_page()
    _open_map(page, browser_session.base_url + "/")

    # the zones arrive as vector tiles from this server, and their canvas is painted inside the
    # zoned district and left clear outside it
    assert page.evaluate(_ZONE_LAYERS_JS) > 0
    tile_paths = [urlsplit(u).path for u in browser_session.requests if urlsplit(u).path.startswith("/tiles/")]
    assert any(p.startswith("/tiles/zones/") and p.endswith(".pbf") for p in tile_paths), tile_paths
    assert any(p.startswith("/tiles/overlays/") for p in tile_paths), tile_paths
    centroid = browser_facts.note["parcel"]["centroid"]
    west = browser_facts.zone_bbox[0] - 0.002
    page.wait_for_function(f"(point) => ({_ZONE_ALPHA_JS})(point) > 90", arg=[centroid["lat"], centroid["lon"]])
    inside = page.evaluate(_ZONE_ALPHA_JS, [centroid["lat"], centroid["lon"]])
    outside = page.evaluate(_ZONE_ALPHA_JS, [centroid["lat"], west])
    assert inside > 90, inside  # zones are filled at 45 % opacity
    assert outside == 0, outside

    # layer control with the three vector layers (zoning, servitudes, parcels), all on
    boxes = page.locator(".leaflet-control-layers-overlays input[type=checkbox]")
    assert boxes.count() == 3
    assert all(boxes.nth(i).is_checked() for i in range(3))
    # legend: one row per zone code in force, plus the servitude kinds
    legend = page.locator(".gp-legend")
    assert legend.is_visible()
    codes = {t.strip() for t in legend.locator(".gp-legend-row b").all_inner_texts()}
    assert codes == set(browser_facts.zone_codes)
    assert legend.locator(".gp-legend-row .gp-hatch").count() >= 1
    # metric scale bar
    scale = page.locator(".leaflet-control-scale-line").first
    assert scale.is_visible() and re.search(r"\d+\s*k?m", scale.inner_text()), scale.inner_text()

    # Leaflet itself came from this server's /vendor/ route, and nothing left the machine
    assert any(urlsplit(u).path == "/vendor/leaflet/leaflet.js" for u in browser_session.requests)
    assert any(urlsplit(u).path == "/vendor/leaflet/leaflet.css" for u in browser_session.requests)
    browser_session.assert_stayed_local()


def test_search_then_full_note(browser_session: BrowserSession, browser_facts: BrowserFacts,
                               browser_artifacts: Path) -> None:
    facts = browser_facts
    page = browser_session.new_page()
    _open_map(page, browser_session.base_url + "/")

    _select_by_search(page, facts.prefix, facts.ref)
    summary = page.locator("#gp-result .gp-note-summary")
    assert summary.locator(".gp-summary-ref").inner_text().strip() == facts.ref
    shown = _panel_zones(page)
    assert len(shown) >= 2
    assert sum(share for _, share in shown) == pytest.approx(100, abs=0.15)
    _assert_zones_agree(shown, facts.note)
    area = _number(summary.locator(".gp-summary-area").inner_text())
    assert area == pytest.approx(facts.note["parcel"]["area_m2"], abs=0.01)
    # the selected parcel is outlined and the map moved onto it
    view = page.evaluate("""(c) => {
      const map = window.gisportal.map;
      return {zoom: map.getZoom(), inView: map.getBounds().contains([c.lat, c.lon])};
    }""", facts.note["parcel"]["centroid"])
    assert view["inView"] and view["zoom"] >= 16, view
    assert page.evaluate(_SELECTED_OUTLINES_JS) == 1, "the selected parcel is not outlined"
    _park_mouse(page)
    page.wait_for_timeout(300)  # let the parcels of the new view arrive before the picture
    page.screenshot(path=str(browser_artifacts / "map-selected.png"))

    # the full note opens in a new tab
    link = summary.locator(".gp-open-note")
    with browser_session.context.expect_page() as opened:
        link.click()
    note_page = opened.value
    note_page.set_default_timeout(TIMEOUT_MS)
    note_page.wait_for_load_state()
    assert urlsplit(note_page.url).path == "/note"
    assert note_page.locator(".gp-ref").inner_text().strip() == facts.ref
    assert facts.ref in note_page.title()
    rows = note_page.locator(".gp-zone-row")
    assert [rows.nth(i).get_attribute("data-code") for i in range(rows.count())] == [
        z["code"] for z in facts.note["zones"]]
    shares = [_number(t) for t in note_page.locator(".gp-zone-row .gp-share").all_inner_texts()]
    assert shares == pytest.approx([z["share"] * 100 for z in facts.note["zones"]], abs=0.051)
    for z in facts.note["zones"]:
        assert note_page.locator(f"#rules-{z['code']}").count() == 1
    note_page.screenshot(path=str(browser_artifacts / "note.png"), full_page=True)
    browser_session.assert_stayed_local()


def test_clicking_the_map_shows_the_parcel_or_the_zones_of_a_street(browser_session: BrowserSession,
                                                                     browser_facts: BrowserFacts,
                                                                     browser_artifacts: Path) -> None:
    facts = browser_facts
    page = browser_session.new_page()
    _open_map(page, browser_session.base_url + "/")

    centroid = facts.note["parcel"]["centroid"]
    _click_latlng(page, centroid["lat"], centroid["lon"])
    page.locator("#gp-result .gp-summary-ref", has_text=facts.ref).wait_for()
    _assert_zones_agree(_panel_zones(page), facts.note)
    assert page.evaluate(_SELECTED_OUTLINES_JS) == 1, "the clicked parcel is not outlined"

    # a street: no parcel, but the zones at that point are listed
    _click_latlng(page, facts.street_lat, facts.street_lon)
    _assert_no_parcel_shown(page, facts)
    _park_mouse(page)
    page.screenshot(path=str(browser_artifacts / "map-no-parcel.png"))
    browser_session.assert_stayed_local()


def test_arabic_is_right_to_left_and_the_map_still_works(browser_session: BrowserSession,
                                                          browser_facts: BrowserFacts,
                                                          browser_artifacts: Path) -> None:
    facts = browser_facts
    page = browser_session.new_page()
    _open_map(page, browser_session.base_url + "/")
    assert page.evaluate("[document.documentElement.lang, document.documentElement.dir]") == ["fr", "ltr"]

    with page.expect_navigation():
        page.locator('header a[data-lang="ar"]').click()
    page.wait_for_function("() => typeof L !== 'undefined' && window.gisportal && window.gisportal.map")
    page.wait_for_function(f"() => ({_ZONE_LAYERS_JS})() > 0")
    assert page.evaluate("[document.documentElement.lang, document.documentElement.dir]") == ["ar", "rtl"]
    assert json.loads(page.locator("#gp-config").text_content())["lang"] == "ar"
    assert page.locator('header strong[lang="ar"]').count() == 1  # the current language is marked
    assert page.evaluate(_ZONE_LAYERS_JS) > 0
    # the page mirrors: the side panel sits to the right of the map
    panel, map_box = page.locator(".gp-panel").bounding_box(), page.locator(".gp-map").bounding_box()
    assert panel["x"] > map_box["x"], (panel, map_box)

    _select_by_search(page, facts.prefix, facts.ref)
    _assert_zones_agree(_panel_zones(page), facts.note)
    summary = page.locator("#gp-result .gp-note-summary")
    assert summary.locator(".gp-open-note").count() == 1
    # clicking still works too, and the language sticks to the following requests
    centroid = facts.note["parcel"]["centroid"]
    page.locator("#gp-result").evaluate("el => { el.innerHTML = ''; }")
    _click_latlng(page, centroid["lat"], centroid["lon"])
    page.locator("#gp-result .gp-summary-ref", has_text=facts.ref).wait_for()
    notes_asked = [u for u in browser_session.requests if urlsplit(u).path == "/api/v1/notes"]
    assert notes_asked and all("lang=ar" in urlsplit(u).query for u in notes_asked), notes_asked
    _park_mouse(page)
    page.wait_for_timeout(300)
    page.screenshot(path=str(browser_artifacts / "map-selected-ar.png"))

    with browser_session.context.expect_page() as opened:
        summary.locator(".gp-open-note").click()
    note_page = opened.value
    note_page.wait_for_load_state()
    assert note_page.evaluate("[document.documentElement.lang, document.documentElement.dir]") == ["ar", "rtl"]
    assert note_page.locator(".gp-ref").inner_text().strip() == facts.ref
    assert note_page.locator(".gp-zone-row").count() == len(facts.note["zones"])
    note_page.screenshot(path=str(browser_artifacts / "note-ar.png"), full_page=True)

    # a street, in Arabic: the no-parcel text is the page's own, not the API's (English) message
    _click_latlng(page, facts.street_lat, facts.street_lon)
    _assert_no_parcel_shown(page, facts)
    browser_session.assert_stayed_local()


@pytest.mark.browser
def test_note_qr_link_opens_an_authentic_verification(browser_session: BrowserSession, browser_facts: BrowserFacts,
                                                      browser_artifacts: Path) -> None:
    """Issue #3: the note carries a number and a QR code; following it says the note is authentic."""
    page = browser_session.new_page()
    page.goto(browser_session.base_url + "/note?ref=" + facts_ref(browser_facts) + "&lang=fr")
    number = page.locator(".gp-note-number b").inner_text().strip()
    assert number.startswith("NRU-")
    assert page.locator("#map-extract svg path").count() > 3  # the server-drawn map extract
    qr = page.locator("a.gp-qr")
    assert qr.locator("svg").count() == 1
    qr.click()
    page.wait_for_load_state()
    assert urlsplit(page.url).path == f"/verify/{number}"
    assert page.locator(".gp-authentic").count() == 1
    assert page.locator(".gp-verified-number").inner_text().strip() == number
    page.screenshot(path=str(browser_artifacts / "verify.png"), full_page=True)
    # a QR code pointing at a forged token is refused
    page.goto(browser_session.base_url + f"/verify/{number}?t=forgedforgedforg")
    assert page.locator(".gp-not-authentic").count() == 1
    browser_session.assert_stayed_local()


def facts_ref(facts: BrowserFacts) -> str:
    from urllib.parse import quote

    return quote(facts.ref, safe="")


@pytest.mark.backends("postgis")
def test_map_on_postgis_draws_tiles_and_a_click_shows_the_note(backend: str, app: Any, browser_chromium: Any,
                                                                browser_artifacts: Path) -> None:
    """Issue #4: the demo district in PostGIS (tiles by ST_AsMVT), in the browser: zones drawn, a click, a note."""
    with _serving(app) as base_url, _recording_session(browser_chromium, base_url) as session:
        api = _api(base_url)
        status, zones = api("/layers/zones")
        assert status == 200 and zones["features"]
        flat = [pt for f in zones["features"] for poly in f["geometry"]["coordinates"] for ring in poly for pt in ring]
        bbox = (min(p[0] for p in flat), min(p[1] for p in flat), max(p[0] for p in flat), max(p[1] for p in flat))
        status, parcels = api("/parcels", bbox=",".join(f"{v:.6f}" for v in bbox))
        assert status == 200 and parcels["features"]
        for feature in parcels["features"][::11]:
            status, note = api("/notes", ref=feature["properties"]["ref"])
            if status != 200 or not note["zones"] or note["unzoned_share"] > 0:
                continue
            c = note["parcel"]["centroid"]
            status, at = api("/notes", lon=c["lon"], lat=c["lat"])
            if status == 200 and at["parcel"]["ref"] == note["parcel"]["ref"]:
                break
        else:
            pytest.fail("no demo parcel inside the zones found through the API")

        page = session.new_page()
        tile_statuses: list[tuple[str, int]] = []
        page.on("response", lambda r: tile_statuses.append((urlsplit(r.url).path, r.status))
                if urlsplit(r.url).path.startswith("/tiles/") else None)
        _open_map(page, base_url + "/")
        centroid = note["parcel"]["centroid"]
        page.wait_for_function(f"(point) => ({_ZONE_ALPHA_JS})(point) > 90", arg=[centroid["lat"], centroid["lon"]])
        _click_latlng(page, centroid["lat"], centroid["lon"])
        page.locator("#gp-result .gp-summary-ref", has_text=note["parcel"]["ref"]).wait_for()
        _assert_zones_agree(_panel_zones(page), note)
        assert page.evaluate(_SELECTED_OUTLINES_JS) == 1
        page.wait_for_timeout(300)
        paths = [p for p, _ in tile_statuses]
        assert any(p.startswith("/tiles/zones/") for p in paths), paths
        assert any(p.startswith("/tiles/overlays/") for p in paths), paths
        assert any(p.startswith("/tiles/parcels/16/") for p in paths), paths  # zoom 18 over-zooms z16 tiles
        assert all(status in (200, 304) for _, status in tile_statuses), tile_statuses
        _park_mouse(page)
        page.screenshot(path=str(browser_artifacts / "map-postgis.png"))
        session.assert_stayed_local()
