"""Issue #14: text from an uploaded file never runs as script on the planners' draft page (folium tooltips)."""

from __future__ import annotations

import re

import pytest

from test_publication import _upload, planner_client, plan_store, zones  # noqa: F401  (fixtures)

PAYLOADS = ['<img src=x onerror=alert(1)>', '`-alert(2)-`', '${alert(3)}', '</script><script>alert(4)</script>']


def _tooltips(page: str) -> list[str]:
    """The text of every folium tooltip, as written into the page's script (a JS template literal)."""
    return re.findall(r"\.bindTooltip\(\s*`(.*?)</div>`", page, re.S)


@pytest.mark.parametrize("payload", PAYLOADS)
def test_zone_codes_of_an_upload_are_escaped_in_the_draft_map(planner_client, tmp_path, payload):  # noqa: F811
    hostile = tmp_path / "hostile.geojson"
    # two overlapping zones: the overlap finding, with its location on the map, names both codes
    zones([(payload, (0, 0, 120, 100)), ("B", (100, 0, 200, 100))]).to_crs(4326).to_file(hostile, driver="GeoJSON")
    response = _upload(planner_client, hostile, zone_field="code")
    assert response.status_code == 302, response.get_data(as_text=True)[:500]
    page = planner_client.get(response.headers["Location"] + "?lang=en").get_data(as_text=True)
    tips = _tooltips(page)
    assert tips and any("overlap" in tip for tip in tips)
    for tip in tips:
        assert "<img" not in tip and "`" not in tip and "${" not in tip and "<script" not in tip, tip
    assert "<img src=x" not in page and "</script><script>alert(4)" not in page
