"""Issue #14: text from an uploaded file never runs as script on the planners' draft page (folium tooltips)."""

from __future__ import annotations

import re
import subprocess

import pytest
from support.publication import _upload, plan_store, planner_client, zones  # noqa: F401  (fixtures)

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


@pytest.mark.parametrize("payload",
                         ["=HYPERLINK(\"http://evil.example\")", "+1+1", "-2+3", "@SUM(A1:A9)", "\tX", "\rX"])
def test_impact_csv_cells_never_start_a_formula(planner_client, tmp_path, payload):  # noqa: F811
    import csv
    import io

    draft_file = tmp_path / "draft.geojson"
    # the hostile code takes over parcel TF-2/1's side: the impact lists it as "before"/"after" of that parcel
    zones([("A", (0, 0, 95, 100)), (payload, (95, 0, 200, 100))]).to_crs(4326).to_file(draft_file, driver="GeoJSON")
    response = _upload(planner_client, draft_file, zone_field="code")
    assert response.status_code == 302
    draft_id = int(response.headers["Location"].rsplit("/", 1)[1])
    text = planner_client.get(f"/admin/drafts/{draft_id}/impact.csv").get_data(as_text=True)
    rows = list(csv.reader(io.StringIO(text)))
    cells = [cell for row in rows[1:] for cell in row]
    assert any(payload.strip() in cell for cell in cells), rows  # the code is there, as text
    assert not any(cell.startswith(("=", "+", "-", "@", "\t", "\r")) for cell in cells), rows


def test_registry_search_reads_percent_and_underscore_as_text(tiny, tiny_writable):
    """Both backends: ``%`` and ``_`` typed in the staff registry search match only themselves."""
    from gisportal.web import create_app

    app = create_app({**tiny_writable.settings, "rules_file": tiny.rules_file, "TESTING": True,
                      "staff_token": "t0ken"})
    client = app.test_client()
    assert client.get("/note.pdf?ref=TF-1001/06&lang=fr").status_code == 200
    bearer = {"Authorization": "Bearer t0ken"}

    def found(q: str) -> int:
        return len(client.get("/api/v1/registry", query_string={"q": q}, headers=bearer).get_json()["notes"])

    assert found("TF-1001") == 1 and found("NRU-") == 1
    assert found("%") == 0 and found("_") == 0 and found("TF%1001") == 0 and found("TF_1001") == 0
    assert found("\\") == 0
    app.extensions["gisportal"].store.close()


def test_labels_and_plan_names_of_an_upload_stay_text_on_draft_and_published_pages(planner_client,  # noqa: F811
                                                                                    tmp_path):
    """The labels an upload carries, and the plan name a planner types, reach the draft page, the versions page,
    the map's legend and the note: always as text."""
    payload = '<img src=x onerror=alert(1)>${alert(2)}'
    draft_file = tmp_path / "draft.geojson"
    frame = zones([("A", (0, 0, 95, 100)), ("B", (95, 0, 200, 100))])
    frame["label_fr"] = [payload, "Zone B"]
    frame.to_crs(4326).to_file(draft_file, driver="GeoJSON")
    response = _upload(planner_client, draft_file, zone_field="code", label_field="label_fr")
    assert response.status_code == 302, response.get_data(as_text=True)[:500]
    draft = response.headers["Location"]
    hostile_plan = _upload(planner_client, draft_file, zone_field="code", plan_name=payload)
    assert hostile_plan.status_code < 500
    assert "<img src=x" not in hostile_plan.get_data(as_text=True)
    token = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', planner_client.get(draft).get_data(as_text=True))
    published = planner_client.post(f"{draft}/publish", data={"csrf_token": token.group(1), "approval_act": payload,
                                                              "approved": "2020-01-01", "effective": "2020-01-01"})
    assert published.status_code in (302, 303), published.get_data(as_text=True)[:500]
    for page in (draft, "/admin/versions", "/plans", "/?lang=fr", "/note?ref=TF-1/1&lang=fr", "/admin/audit"):
        html = planner_client.get(page).get_data(as_text=True)
        assert "<img src=x" not in html, page
        for tip in _tooltips(html):
            assert "${" not in tip and "<img" not in tip, (page, tip)
    pdf = planner_client.get("/api/v1/notes?ref=TF-1/1&format=pdf&lang=fr")
    text = subprocess.run(["pdftotext", "-enc", "UTF-8", "-", "-"], input=pdf.data, capture_output=True,
                          check=True).stdout.decode()
    assert "<img src=x onerror=alert(1)>" in text  # the label printed as typed: no element took effect
