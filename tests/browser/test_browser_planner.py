"""Issue #5 in a real browser: a planner signs in, uploads a rezoning, reads the report, publishes; the public sees it.

Debian's chromium through Playwright, over real HTTP (werkzeug in a thread),
on the demo district built in a temporary directory. The uploaded layer is
written by the test: the zones of the version in force, in WGS84, with one
sector given another zone code. What the pages must show is computed here
(shapely, on the store's own parcels) or read from the same server's API.
Every request the browser makes must stay on this machine.

Screenshots: ``tests/artifacts/planner-draft.png`` (the draft page: report,
map, impact) and ``tests/artifacts/planner-map-after.png`` (the public map
after publication, the rezoned parcel selected).
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterator
from datetime import date
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlsplit

import geopandas as gpd
import pytest
from support.browser import (
    ARTIFACTS,
    _api,
    _click_latlng,
    _open_map,
    _panel_zones,
    _park_mouse,
    _recording_session,
    _serving,
)
from support.tiny import copy_demo

pytestmark = pytest.mark.browser

PLAN = "tanger-centre"
PLANNER, PASSWORD = "amina.planner", "un-mot-de-passe-long-2026"
ACT = "Décret n° 2-26-105 portant approbation de la modification du plan d'aménagement"


@pytest.fixture(scope="module")
def planner_site(demo_template: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    """The demo district in a temporary directory (a copy of the session's), a planner account, the real app served
    on 127.0.0.1."""
    from gisportal.core.accounts import Accounts
    from gisportal.web import create_app

    data_dir = copy_demo(demo_template, tmp_path_factory.mktemp("planner-browser"))
    app = create_app({"data_dir": data_dir, "storage": "embedded", "basemap_url": None,
                      "languages": ["fr", "ar", "en"], "default_language": "fr"})
    Accounts(app.extensions["gisportal"].agency).create(PLANNER, PASSWORD, "planner", display_name="Amina")
    with _serving(app) as base_url:
        yield {"app": app, "base_url": base_url, "dir": tmp_path_factory.mktemp("planner-upload")}


# The colour (r, g, b, a) of the zones layer's canvas at a point: which zone the map draws there.
_ZONE_RGBA_JS = """([lat, lon]) => {
  const map = window.gisportal.map, layer = window.gisportal.layers.zones, z = layer._tileZoom;
  const p = map.project([lat, lon], z), size = layer.getTileSize();
  const tx = Math.floor(p.x / size.x), ty = Math.floor(p.y / size.y);
  const tile = layer._tiles[tx + ':' + ty + ':' + z];
  if (!tile || !tile.el || !tile.loaded) { return null; }
  const c = tile.el, ratio = c.width / size.x;
  return Array.from(c.getContext('2d').getImageData(Math.floor((p.x - tx * size.x) * ratio),
                                                    Math.floor((p.y - ty * size.y) * ratio), 1, 1).data);
}"""


def _rgb(colour: str) -> tuple[int, int, int]:
    return tuple(int(colour[i:i + 2], 16) for i in (1, 3, 5))


def _distance(a: Any, b: Any) -> float:
    a, b = (_rgb(a) if isinstance(a, str) else a), (_rgb(b) if isinstance(b, str) else b)
    return sum((x - y) ** 2 for x, y in zip(a, b, strict=True)) ** 0.5


def _rezoning(store: Any, catalogue: Any, directory: Path) -> dict[str, Any]:
    """Write the upload: the zones in force, one sector recoded; and what must change, computed by hand."""
    from gisportal.zoning.plans import versions_in_force

    in_force = [v for v in versions_in_force(store.plan_versions(), date.today()) if v.plan_name == PLAN]
    assert len(in_force) == 1
    zones = store.features("zones", [in_force[0].id], None).reset_index(drop=True)
    parcels = store.features("parcels", None, None).reset_index(drop=True)
    known = set(catalogue.zones)
    # the sector holding the most whole parcels; its new code: a catalogue code none of its neighbours has,
    # of the colour farthest from its own (the change must show on the map)
    inside = [int(parcels.geometry.within(z.buffer(-0.01)).sum()) for z in zones.geometry]
    sector = max(range(len(zones)), key=lambda i: inside[i])
    neighbours = set(zones[zones.geometry.touches(zones.geometry[sector]) |
                           zones.geometry.intersects(zones.geometry[sector])]["code"])
    old_code = zones.loc[sector, "code"]
    new_code = max(sorted(known - neighbours), key=lambda c: _distance(catalogue.zones[c].color,
                                                                          catalogue.zones[old_code].color))
    assert inside[sector] >= 5 and new_code != old_code

    # by hand: parcels with part of their area in the sector must change; those with more than 1 % surely do
    geom = zones.geometry[sector]
    share = parcels.geometry.intersection(geom).area / parcels.geometry.area
    may_change = set(parcels.loc[share > 0, "ref"])
    must_change = set(parcels.loc[share > 0.01, "ref"])
    wholly = set(parcels.loc[share > 0.9999, "ref"])

    upload = gpd.GeoDataFrame({"ZONE": zones["code"], "LIBELLE": zones["label_fr"], "LIBELLE_AR": zones["label_ar"]},
                              geometry=zones.geometry, crs=zones.crs)
    upload.loc[sector, ["ZONE", "LIBELLE", "LIBELLE_AR"]] = [new_code, f"Secteur reclassé en {new_code}",
                                                             f"قطاع مصنف {new_code}"]
    path = directory / "zonage-modifie.geojson"
    upload.to_crs("EPSG:4326").to_file(path, driver="GeoJSON")
    assert "4326" in path.read_text(encoding="utf-8")[:400] or "CRS84" in path.read_text(encoding="utf-8")[:400]
    colours = {c: _rgb(catalogue.zones[c].color) for c in (old_code, new_code)}
    return {"path": path, "old": old_code, "new": new_code, "colours": colours, "features": len(upload),
            "may": may_change, "must": must_change, "wholly": wholly, "version": in_force[0].version}


def test_planner_uploads_reads_report_and_impact_publishes_and_the_public_sees_it(
        planner_site: dict[str, Any], browser_chromium: Any) -> None:
    base_url, app = planner_site["base_url"], planner_site["app"]
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    portal = app.extensions["gisportal"]
    plan = _rezoning(portal.store, portal.catalogue, planner_site["dir"])
    api = _api(base_url)

    with _recording_session(browser_chromium, base_url) as session:
        page = session.new_page()

        # --- sign in through the form, then the upload page -----------------------------------------
        page.goto(base_url + "/admin/upload")
        assert urlsplit(page.url).path == "/login"  # anonymous: sent to sign in, and back afterwards
        page.locator("input[name=username]").fill(PLANNER)
        page.locator("input[name=password]").fill(PASSWORD)
        with page.expect_navigation():
            page.locator("form.gp-form button[type=submit]").click()
        assert urlsplit(page.url).path == "/admin/upload", page.url
        assert page.locator("#gp-upload-form").count() == 1

        # --- upload the rezoning with its field mapping ---------------------------------------------
        page.locator("input[name=plan_name]").fill(PLAN)
        page.locator("select[name=kind]").select_option("zones")
        page.locator("input[type=file][name=file]").set_input_files(str(plan["path"]))
        page.locator("input[name=zone_field]").fill("ZONE")
        page.locator("input[name=label_field]").fill("LIBELLE")
        page.locator("input[name=label_ar_field]").fill("LIBELLE_AR")
        with page.expect_navigation(timeout=30_000):
            page.locator("#gp-upload-form button[type=submit]").click()
        found = re.fullmatch(r"/admin/drafts/(\d+)", urlsplit(page.url).path)
        assert found, (page.url, page.locator("main").inner_text()[:2000])
        draft_id = int(found.group(1))

        # --- the validation report: nothing blocks ----------------------------------------------------
        verdict = page.locator(".gp-verdict")
        assert verdict.get_attribute("data-blocking") == "false", verdict.inner_text()
        assert page.locator("tr.gp-finding.gp-blocking").count() == 0
        # the geometry went through WGS84 and back: that is no reason to say a zone lies outside the territory
        assert page.locator("tr.gp-finding[data-code=outside_territory]").count() == 0
        facts = page.locator("dl.gp-facts").inner_text()
        assert plan["path"].name in facts and re.search(rf"\b{plan['features']}\b", facts), facts

        # --- the impact table, the CSV, and the same through the draft API -------------------------------
        rows = page.locator("tr.gp-impact-row")
        assert rows.count() > 0
        summary = page.locator(".gp-impact-summary").inner_text()
        changed = int(re.search(r"(\d+)", summary.replace("\u202f", "").replace("\xa0", "")).group(1))
        listed = [rows.nth(i).locator("td").first.inner_text().strip() for i in range(rows.count())]
        draft_json = session.context.request.get(f"{base_url}/api/v1/drafts/{draft_id}")
        assert draft_json.status == 200
        draft = draft_json.json()
        assert draft["status"] == "draft" and draft["blocking"] is False
        impact = {c["ref"]: c for c in draft["impact"]["changes"]}
        assert changed == draft["impact"]["parcels_changed"] == len(impact)
        assert plan["must"] <= set(impact) <= plan["may"], (len(plan["must"]), len(impact), len(plan["may"]))
        assert listed == list(impact)[:200]  # the page lists the first 200 changes, in the API's order
        for ref in plan["wholly"]:
            assert impact[ref]["before"] == {plan["old"]: 1.0} and impact[ref]["after"] == {plan["new"]: 1.0}
            assert impact[ref]["change"] == "rezoned"
        csv_link = page.locator(".gp-impact-summary a", has_text="CSV")
        answer = session.context.request.get(base_url + csv_link.get_attribute("href"))
        assert answer.status == 200 and answer.headers["content-type"].startswith("text/csv")
        table = list(csv.DictReader(io.StringIO(answer.text())))
        assert {r["ref"] for r in table} == set(impact)
        assert all(r["change"] == impact[r["ref"]]["change"] for r in table)

        # --- the map of the draft beside the version in force -----------------------------------------
        draft_map = page.locator(".gp-draft-map .leaflet-container")
        assert draft_map.count() == 1 and draft_map.is_visible()
        box = draft_map.bounding_box()
        assert box["height"] >= 200 and box["width"] >= 400, box
        layers = page.locator(".gp-draft-map .leaflet-control-layers-overlays label").all_inner_texts()
        assert len(layers) == 3, layers  # the version in force, the draft, and the parcels it would change
        page.wait_for_function("""() => {
          const c = document.querySelector('.gp-draft-map .leaflet-overlay-pane canvas');
          if (!c || !c.width) { return false; }
          const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
          for (let i = 3; i < d.length; i += 4) { if (d[i] > 0) { return true; } }
          return false;
        }""")
        page.screenshot(path=str(ARTIFACTS / "planner-draft.png"), full_page=True)

        # --- publish with an approval act and today's date --------------------------------------------
        today = date.today().isoformat()
        publish = page.locator("#publish form")
        publish.locator("input[name=approval_act]").fill(ACT)
        publish.locator("input[name=approved]").fill(today)
        asked: list[str] = []  # publishing asks for confirmation first (issue #15)
        page.once("dialog", lambda dialog: (asked.append(dialog.message), dialog.accept()))
        with page.expect_navigation():
            publish.locator("button[type=submit]").click()
        assert len(asked) == 1 and PLAN in asked[0], asked
        assert urlsplit(page.url).path == "/admin/versions"
        new_version = plan["version"] + 1
        assert page.locator(".gp-flash-success").count() == 1
        assert str(new_version) in page.locator(".gp-flash-success").inner_text()
        row = page.locator(f"tr.gp-version-row[data-plan='{PLAN}'][data-version='{new_version}']")
        assert row.count() == 1 and "gp-status-in_force" in row.get_attribute("class")
        assert ACT in row.inner_text()
        old = page.locator(f"tr.gp-version-row[data-plan='{PLAN}'][data-version='{plan['version']}']")
        assert "gp-status-superseded" in old.get_attribute("class")
        after = session.context.request.get(f"{base_url}/api/v1/drafts/{draft_id}").json()
        assert after["status"] == "published" and after["published_version_id"]

        # --- the public map: click a parcel of the rezoned sector, the panel says the new code ------------
        chosen = None
        for ref in sorted(plan["wholly"]):
            status, note = api("/notes", ref=ref)
            assert status == 200, note
            c = note["parcel"]["centroid"]
            status, at = api("/notes", lon=c["lon"], lat=c["lat"])
            if status == 200 and at["parcel"]["ref"] == ref:
                chosen = note
                break
        assert chosen, "no wholly rezoned parcel can be clicked at its centroid"
        ref, centroid = chosen["parcel"]["ref"], chosen["parcel"]["centroid"]
        assert [(z["code"], z["share"]) for z in chosen["zones"]] == [(plan["new"], 1.0)]
        assert any(p["version"] == new_version for p in chosen["plans"]), chosen["plans"]

        public = session.new_page()
        _open_map(public, base_url + "/")
        _click_latlng(public, centroid["lat"], centroid["lon"])
        public.locator("#gp-result .gp-summary-ref", has_text=ref).wait_for()
        shown = _panel_zones(public)
        assert [code for code, _ in shown] == [plan["new"]], shown
        assert shown[0][1] == pytest.approx(100, abs=0.051)
        legend = {t.strip() for t in public.locator(".gp-legend .gp-legend-row b").all_inner_texts()}
        assert plan["new"] in legend
        # the zones tiles are those of the new version: the map paints the parcel in the new code's colour
        public.wait_for_function(f"(pt) => {{ const v = ({_ZONE_RGBA_JS})(pt); return v && v[3] > 90; }}",
                                 arg=[centroid["lat"], centroid["lon"]])
        painted = public.evaluate(_ZONE_RGBA_JS, [centroid["lat"], centroid["lon"]])[:3]
        new_rgb, old_rgb = plan["colours"][plan["new"]], plan["colours"][plan["old"]]
        assert _distance(painted, new_rgb) < 12 < _distance(painted, old_rgb), (painted, new_rgb, old_rgb)
        _park_mouse(public)
        public.wait_for_timeout(400)  # let the tiles of the new view arrive before the picture
        public.screenshot(path=str(ARTIFACTS / "planner-map-after.png"))

        # --- the note: the new code, and the new version in the plans table -------------------------------
        note_page = session.new_page()
        note_page.goto(f"{base_url}/note?ref={quote(ref, safe='')}&lang=fr")
        codes = [r.get_attribute("data-code") for r in note_page.locator(".gp-zone-row").all()]
        assert codes == [plan["new"]]
        assert f"v{new_version}" in note_page.locator(".gp-zone-row").first.inner_text()
        plan_rows = [[td.strip() for td in r.locator("td").all_inner_texts()]
                     for r in note_page.locator("#plans tbody tr").all()]
        assert any(cells[1] == str(new_version) and cells[2] == ACT for cells in plan_rows), plan_rows

        session.assert_stayed_local()
        assert any(urlsplit(u).path == "/admin/upload" for u in session.requests)
