"""The map reading PMTiles archives from a static host (issue #18), in Chromium.

The tiny territory's archives are served by a plain static file server (Flask's ``send_from_directory``: files
and byte ranges, nothing else) on another loopback port, named to the app by ``GISPORTAL_TILES_URL``. The map
draws the zones and the parcels from them through the ``pmtiles`` library with range requests; no tile comes
from the app's ``/tiles/`` and no request leaves the machine.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
from flask import Flask, send_from_directory
from support.browser import _recording_session, _serving, browser_artifacts  # noqa: F401 (fixtures)
from support.tiny import _create_app

from gisportal.core.coords import WGS84, transformer
from gisportal.zoning.archives import write_archives

pytestmark = [pytest.mark.browser, pytest.mark.backends("embedded")]

# Painted pixels of a layer's loaded tiles (the parcels are outlines: any pixel painted counts).
_PAINTED_JS = """(name) => {
  const layer = window.gisportal.layers[name];
  let painted = 0;
  Object.values(layer._tiles).forEach(t => {
    if (!t.loaded || !t.el || !t.el.width) { return; }
    const data = t.el.getContext('2d').getImageData(0, 0, t.el.width, t.el.height).data;
    for (let i = 3; i < data.length; i += 4) { if (data[i] > 0) { painted += 1; } }
  });
  return painted;
}"""


def static_host(directory: Path) -> Flask:
    """A static file server with byte ranges and CORS, as a CDN or any static host is."""
    host = Flask("static-host")

    @host.get("/archives/<path:name>")
    def archive(name: str) -> Any:
        return send_from_directory(directory, name, conditional=True)

    @host.after_request
    def cors(response: Any) -> Any:
        response.headers["Access-Control-Allow-Origin"] = "*"
        response.headers["Access-Control-Allow-Headers"] = "Range, If-Match"
        response.headers["Access-Control-Expose-Headers"] = "ETag, Content-Range"
        return response

    return host


def test_map_draws_parcels_from_the_archives_on_a_static_host(tiny, browser_chromium, tmp_path, browser_artifacts):
    tiles_dir = tmp_path / "tiles"
    write_archives(tiny.open_store(), tiles_dir)
    with _serving(static_host(tiles_dir)) as static_base:
        app = _create_app({**tiny.settings, "rules_file": tiny.rules_file, "tiles_dir": tiles_dir,
                           "tiles_url": static_base + "/archives"})
        with _serving(app) as base_url, _recording_session(browser_chromium, base_url) as session:
            ranges: list[tuple[str, str | None, int]] = []
            page = session.new_page()
            page.on("requestfinished", lambda r: ranges.append(
                (urlsplit(r.url).path, r.all_headers().get("range"), r.response().status))
                if urlsplit(r.url).path.startswith("/archives/") and r.method == "GET" else None)
            page.goto(base_url + "/")
            page.wait_for_function("() => typeof L !== 'undefined' && window.gisportal && window.gisportal.map")
            lon, lat = transformer(tiny.crs, WGS84).transform(tiny.x0 + 150, tiny.y0 + 50)
            page.evaluate("([lat, lon]) => window.gisportal.map.setView([lat, lon], 17, {animate: false})",
                          [lat, lon])
            # At z17 the strip is 300 m = 450 px wide: the zones fill ~ 450 x 150 px of tiles, the seven parcel
            # outlines some hundreds of pixels.
            page.wait_for_function(f"() => ({_PAINTED_JS})('zones') > 5000")
            page.wait_for_function(f"() => ({_PAINTED_JS})('parcels') > 200")
            page.screenshot(path=str(browser_artifacts / "map-archives.png"))
            paths = {p for p, _r, _s in ranges}
            assert {"/archives/parcels.pmtiles", "/archives/zones.pmtiles"} <= paths, ranges
            assert all(r is not None and r.startswith("bytes=") for _p, r, _s in ranges), ranges
            assert all(s == 206 for _p, _r, s in ranges), ranges
            assert not [u for u in session.requests if urlsplit(u).path.startswith("/tiles/")]
            session.assert_stayed_local()
