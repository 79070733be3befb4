"""Test support taken from ``test_browser.py``: shared by several test modules."""

from __future__ import annotations

import contextlib
import json
import re
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.error import HTTPError
from urllib.parse import urlencode, urlsplit
from urllib.request import Request, urlopen

import pytest

#: Debian's chromium, driven by Playwright in the browser tests.
CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--no-first-run"]


ARTIFACTS = Path(__file__).resolve().parents[1] / "artifacts"


LOCAL_HOSTS = {"127.0.0.1", "localhost", "::1"}


TIMEOUT_MS = 10_000


ApiGet = Callable[..., tuple[int, Any]]


def _is_local(url: str) -> bool:
    """True for URLs that stay on this machine (or never hit the network at all)."""
    parts = urlsplit(url)
    if parts.scheme in ("data", "blob", "about"):
        return True
    return parts.scheme in ("http", "https", "ws", "wss") and parts.hostname in LOCAL_HOSTS


def _number(text: str) -> float:
    """A number as the page prints it, in any of its languages (``33,3 %``, ``٣٣٫٣ %``, ``1 234,5``)."""
    text = text.translate(str.maketrans("٠١٢٣٤٥٦٧٨٩۰۱۲۳۴۵۶۷۸۹", "01234567890123456789"))
    text = text.replace("٫", ".").replace(",", ".")
    cleaned = re.sub(r"[^0-9.]", "", text)
    assert cleaned, f"no number in {text!r}"
    return float(cleaned)


@dataclass
class BrowserSession:
    """A browser context with its request log and the page errors it saw."""

    context: Any
    base_url: str
    requests: list[str] = field(default_factory=list)
    page_errors: list[str] = field(default_factory=list)

    def new_page(self) -> Any:
        page = self.context.new_page()
        page.set_default_timeout(TIMEOUT_MS)
        return page

    def assert_stayed_local(self) -> None:
        """Every request went to this server (or was data:/blob:), and no script raised."""
        assert self.requests, "no request was recorded: the recorder is broken"
        leaks = [url for url in self.requests if not _is_local(url)]
        assert not leaks, f"the page tried to reach the internet: {leaks}"
        assert not self.page_errors, f"uncaught errors in the page: {self.page_errors}"


# Zone features drawn on the map: folium's GeoJson children carrying a zone code (overlays carry a kind).
# Zones come as vector tiles (issue #4): count the zone tiles drawn on the map.
_ZONE_LAYERS_JS = """() => {
  const layer = window.gisportal && window.gisportal.layers && window.gisportal.layers.zones;
  if (!layer || !layer._tiles) { return 0; }
  return Object.values(layer._tiles).filter(t => t.loaded && t.el && t.el.width > 0).length;
}"""


def _open_map(page: Any, url: str) -> None:
    """Open the map page and wait until Leaflet, our script and the zones layer are there."""
    page.goto(url)
    page.wait_for_function("() => typeof L !== 'undefined' && window.gisportal && window.gisportal.map")
    page.wait_for_function(f"() => ({_ZONE_LAYERS_JS})() > 0")


def _click_latlng(page: Any, lat: float, lon: float) -> None:
    """Centre the map on a point at zoom 18 and click the map exactly there with the mouse."""
    point = page.evaluate(
        """([lat, lon]) => {
          const map = window.gisportal.map;
          map.setView([lat, lon], 18, {animate: false});
          const p = map.latLngToContainerPoint([lat, lon]);
          const box = map.getContainer().getBoundingClientRect();
          const x = box.left + p.x, y = box.top + p.y;
          const hit = document.elementFromPoint(x, y);
          return {x: x, y: y, inMap: map.getContainer().contains(hit),
                  onControl: !!(hit && hit.closest('.leaflet-control')),
                  hit: hit ? hit.tagName + '.' + hit.className : null};
        }""",
        [lat, lon],
    )
    assert point["inMap"] and not point["onControl"], f"the point to click is not on the open map: {point}"
    page.mouse.click(point["x"], point["y"])


def _panel_zones(page: Any) -> list[tuple[str, float]]:
    """(code, share in %) of each zone row of the panel."""
    rows = page.locator("#gp-result .gp-note-summary .gp-summary-zone")
    return [(rows.nth(i).get_attribute("data-code"), _number(rows.nth(i).locator(".gp-summary-share").inner_text()))
            for i in range(rows.count())]


def _park_mouse(page: Any) -> None:
    """Move the mouse onto the side panel, so no map tooltip covers the picture."""
    box = page.locator(".gp-panel").bounding_box()
    page.mouse.move(box["x"] + box["width"] / 2, box["y"] + box["height"] - 5)
    page.evaluate("() => { window.gisportal.map.eachLayer(l => { if (l.closeTooltip) { l.closeTooltip(); } }); }")


@contextlib.contextmanager
def _serving(app: Any) -> Iterator[str]:
    """``app`` served over HTTP by werkzeug on 127.0.0.1 and a free port; yields its base URL."""
    from werkzeug.serving import WSGIRequestHandler, make_server

    class QuietHandler(WSGIRequestHandler):
        """Logs server errors only (the tests make hundreds of expected requests, 404s included)."""

        def log_request(self, code: Any = "-", size: Any = "-") -> None:
            if str(getattr(code, "value", code)).startswith("5"):
                super().log_request(code, size)

    server = make_server("127.0.0.1", 0, app, threaded=True, request_handler=QuietHandler)
    thread = threading.Thread(target=server.serve_forever, name="browser-test-server", daemon=True)
    thread.start()
    base = f"http://127.0.0.1:{server.server_port}"
    # Absolute URLs (QR codes, payment returns) come from the configured public URL, never from the request:
    # the deployment here is this server.
    portal = getattr(app, "extensions", {}).get("gisportal")  # a plain WSGI app (a static host) has none
    if portal is None:
        yield base
        return
    settings = portal.settings
    configured, settings.public_url = settings.public_url, settings.public_url or base
    try:
        yield base
    finally:
        settings.public_url = configured
        server.shutdown()
        thread.join(timeout=10)
        server.server_close()


def _api(base_url: str) -> ApiGet:
    """``get(path, **params) -> (status, json)`` against a running server's API."""

    def get(path: str, **params: Any) -> tuple[int, Any]:
        url = f"{base_url}/api/v1{path}?{urlencode(params)}"
        try:
            with urlopen(Request(url, headers={"Accept": "application/json"}), timeout=30) as response:
                return response.status, json.loads(response.read())
        except HTTPError as error:
            return error.code, json.loads(error.read())

    return get


@pytest.fixture(scope="session")
def browser_chromium() -> Iterator[Any]:
    """Debian's chromium launched through Playwright, once for the whole session (every browser test opens its own
    context in it, so no cookie, storage or route leaks from one test to another); fails, never skips, when missing."""
    if not CHROMIUM.exists():
        pytest.fail(f"{CHROMIUM} is missing: install Debian's chromium (`make test` does it as root: "
                    "apt-get install chromium).", pytrace=False)
    from playwright.sync_api import sync_playwright

    playwright = sync_playwright().start()
    try:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, headless=True)
        try:
            yield browser
        finally:
            browser.close()
    finally:
        playwright.stop()


@contextlib.contextmanager
def _recording_session(browser: Any, base_url: str) -> Iterator[BrowserSession]:
    """A fresh French browser context on ``base_url`` that records every request and aborts outside ones."""
    context = browser.new_context(viewport={"width": 1280, "height": 800}, locale="fr-FR", service_workers="block")
    session = BrowserSession(context, base_url)
    context.on("request", lambda request: session.requests.append(request.url))
    context.on("page", lambda page: page.on("pageerror", lambda error: session.page_errors.append(str(error))))

    def guard(route: Any) -> None:
        if _is_local(route.request.url):
            route.continue_()
        else:
            route.abort("blockedbyclient")

    context.route("**/*", guard)
    try:
        yield session
    finally:
        context.close()


@pytest.fixture(scope="module")
def browser_artifacts() -> Path:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    return ARTIFACTS
