"""The site note on the hand-made territory (see conftest.py), every number computed by hand, both backends.

Plan version 2 in force: zones A (x 0..100), B (x 100..200), C (x 200..300), all y 0..100; road widening
x 0..40, y 10..15; airport easement (9 m) x 140..200, y 40..100; heritage x 0..100, y 85..100. Rules: A = CES
0.5, COS 2.0; B = CES 0.25, COS 1.0.
"""

from __future__ import annotations

import pytest

from gisportal.core.errors import GisportalError, NotFound, OutsideTerritory
from gisportal.sites.input import SiteLimits, site_from_geojson, site_from_refs
from gisportal.sites.note import DOES_NOT_INTERSECT, INTERSECTS, NO_DATA, build_site_note
from gisportal.sites.render import site_to_dict
from gisportal.zoning.rules import load_catalogue
from gisportal.zoning.zone_cover import CoverLimits

ABS = 1e-6
LAMBERT = {"type": "name", "properties": {"name": "EPSG:26191"}}


@pytest.fixture(scope="module")
def store(tiny):
    return tiny.open_store()


@pytest.fixture(scope="module")
def catalogue(tiny):
    return load_catalogue(tiny.rules_file)


def lambert(tiny, *rings: list[tuple[float, float]]) -> dict:
    """A GeoJSON Polygon in EPSG:26191 from rings relative to the tiny territory's origin."""
    return {"type": "Polygon", "crs": LAMBERT,
            "coordinates": [[[tiny.x0 + x, tiny.y0 + y] for x, y in ring] for ring in rings]}


def square(x0: float, y0: float, x1: float, y1: float) -> list[tuple[float, float]]:
    return [(x0, y0), (x1, y0), (x1, y1), (x0, y1), (x0, y0)]


def by(items, attr):
    return {getattr(i, attr): i for i in items}


def test_square_site_over_two_zones_and_two_parcels(tiny, store, catalogue):
    """x 60..110, y 40..90: 2,000 m² in A, 500 m² in B; heritage on y 85..90 of A (200 m²); parcels TF-1006 and
    TF-1007 wholly inside; TF-1005 touches the site at one corner only (60, 90): not listed."""
    note = build_site_note(store, catalogue, site_from_geojson(store, lambert(tiny, square(60, 40, 110, 90))))
    assert note.area_m2 == pytest.approx(2500, abs=ABS)
    zones = by(note.zones, "code")
    assert set(zones) == {"A", "B"}
    assert zones["A"].area_m2 == pytest.approx(2000, abs=ABS) and zones["A"].share == pytest.approx(0.8)
    assert zones["B"].area_m2 == pytest.approx(500, abs=ABS) and zones["B"].share == pytest.approx(0.2)
    assert zones["A"].buildability.max_footprint_m2 == pytest.approx(1000)
    assert zones["A"].buildability.max_floor_area_m2 == pytest.approx(4000)
    assert zones["B"].buildability.max_footprint_m2 == pytest.approx(125)
    assert note.buildability.max_floor_area_m2 == pytest.approx(4500)
    assert note.buildability.net_max_floor_area_m2 == pytest.approx(4500)  # heritage forbids nothing
    assert [(o.kind, round(o.area_m2, 6)) for o in note.overlays] == [("heritage", 200.0)]
    parcels = by(note.parcels, "ref")
    assert set(parcels) == {"TF-1006/06", "TF-1007/06"}
    assert parcels["TF-1007/06"].inside_m2 == pytest.approx(800) and parcels["TF-1007/06"].share_in_site == 1.0
    assert note.remainder_m2 == 0.0 and note.unzoned_m2 == 0.0 and note.zone_overlaps == ()
    layers = {la.layer: la.result for la in note.layers}
    assert layers["zones"] == INTERSECTS and layers["heritage"] == INTERSECTS and layers["parcels"] == INTERSECTS
    assert layers["road_widening"] == DOES_NOT_INTERSECT and layers["airport_easement"] == DOES_NOT_INTERSECT
    assert layers["green_space"] == NO_DATA  # only version 1, superseded, published one
    assert layers["flood_risk"] == NO_DATA


def test_the_same_site_in_wgs84_has_the_same_area(tiny, store, catalogue):
    from gisportal.core.coords import transformer

    t = transformer("EPSG:26191", "EPSG:4326")
    ring = [list(t.transform(tiny.x0 + x, tiny.y0 + y)) for x, y in square(60, 40, 110, 90)]
    site = site_from_geojson(store, {"type": "Polygon", "coordinates": [ring]})
    assert site.geometry.area == pytest.approx(2500, abs=1e-3)


def test_site_with_a_hole(tiny, store, catalogue):
    """x 0..50, y 0..50 less the hole x 10..30, y 10..30 (TF-1002/06): 2,100 m², all A; the road widening
    (x 0..40, y 10..15) covers 2 × 10 × 5 = 100 m² of it; TF-1002/06 lies in the hole: no parcel covered."""
    site = site_from_geojson(store, lambert(tiny, square(0, 0, 50, 50), square(10, 10, 30, 30)))
    note = build_site_note(store, catalogue, site)
    assert note.area_m2 == pytest.approx(2100, abs=ABS)
    (zone,) = note.zones
    assert zone.code == "A" and zone.share == pytest.approx(1.0)
    assert [(o.kind, round(o.area_m2, 6)) for o in note.overlays] == [("road_widening", 100.0)]
    b = zone.buildability
    assert (b.max_footprint_m2, b.max_floor_area_m2) == (pytest.approx(1050), pytest.approx(4200))
    assert (b.net_max_footprint_m2, b.net_max_floor_area_m2) == (pytest.approx(1000), pytest.approx(4000))
    assert b.encumbered_area_m2 == pytest.approx(100)
    assert note.parcels == ()
    assert {la.layer: la.result for la in note.layers}["parcels"] == DOES_NOT_INTERSECT


def test_site_touching_a_servitude_along_an_edge_only(tiny, store, catalogue):
    """x 140..200, y 0..40 meets the airport easement (y 40..100) along y = 40 only: zero area, not listed."""
    note = build_site_note(store, catalogue, site_from_geojson(store, lambert(tiny, square(140, 0, 200, 40))))
    assert [(z.code, round(z.area_m2, 6)) for z in note.zones] == [("B", 2400.0)]
    assert note.overlays == ()
    assert {la.layer: la.result for la in note.layers}["airport_easement"] == DOES_NOT_INTERSECT
    assert note.zones[0].buildability.max_height_m == 20  # not capped at 9 m
    assert note.parcels == ()


def test_site_of_two_parcels(store, catalogue):
    """TF-1001/06 (200 m² A + 200 m² B) and TF-1007/06 (600 m² A + 200 m² B)."""
    site = site_from_refs(store, ["TF-1001/06", "tf 1007/06"])
    note = build_site_note(store, catalogue, site)
    assert site.refs == ("TF-1001/06", "TF-1007/06")
    assert note.area_m2 == pytest.approx(1200)
    zones = by(note.zones, "code")
    assert zones["A"].area_m2 == pytest.approx(800) and zones["A"].share == pytest.approx(2 / 3)
    assert zones["B"].area_m2 == pytest.approx(400) and zones["B"].share == pytest.approx(1 / 3)
    assert {p.ref: p.share_in_site for p in note.parcels} == {"TF-1001/06": 1.0, "TF-1007/06": 1.0}
    data = site_to_dict(note, catalogue, "fr")
    assert {"zones", "overlays", "buildability", "plans", "generated_at", "site", "parcels"} <= set(data)
    assert {"plan", "code", "label", "share", "area_m2", "rules", "buildability"} <= set(data["zones"][0])
    assert {"ref", "area_m2", "share_in_site"} <= set(data["parcels"][0])


def test_a_site_of_parcels_over_the_area_limit(store):
    with pytest.raises(GisportalError) as caught:
        site_from_refs(store, ["TF-1001/06", "TF-1007/06"], SiteLimits(max_area_m2=1000))
    assert caught.value.status == 422 and caught.value.details == {"limit_m2": 1000, "area_m2": 1200.0}


def test_unknown_references_are_named(store):
    with pytest.raises(NotFound) as caught:
        site_from_refs(store, ["TF-1001/06", "TF-9999/99", "nope"])
    assert caught.value.details["unknown"] == ["TF-9999/99", "nope"]


def test_bad_outlines(tiny, store):
    bowtie = lambert(tiny, [(0, 0), (50, 50), (50, 0), (0, 50), (0, 0)])
    site = site_from_geojson(store, bowtie)  # repaired into two triangles of 625 m², and said
    assert site.geometry.area == pytest.approx(1250) and site.warnings[0][0] == "geometry_repaired"
    for bad in ({"type": "Polygon", "coordinates": []}, {"type": "Point", "coordinates": [0, 0]},
                {"type": "Polygon", "coordinates": [[[0, 0], [1]]]}, "text",
                lambert(tiny, [(0, 0), (10, 0), (20, 0), (0, 0)])):
        with pytest.raises(GisportalError) as caught:
            site_from_geojson(store, bad)
        assert caught.value.status in (400, 422)
    with pytest.raises(OutsideTerritory) as caught:  # Rabat
        site_from_geojson(store, {"type": "Polygon", "coordinates": [[[-6.84, 34.0], [-6.83, 34.0], [-6.83, 34.01],
                                                                       [-6.84, 34.0]]]})
    assert caught.value.details["lat"] == pytest.approx(34.0, abs=0.01) and caught.value.details["distance_km"] > 100
    with pytest.raises(GisportalError) as caught:
        site_from_geojson(store, lambert(tiny, square(0, 0, 50, 50)), SiteLimits(max_vertices=4))
    assert caught.value.status == 413 and caught.value.details["limit"] == 4
    with pytest.raises(GisportalError) as caught:
        site_from_geojson(store, lambert(tiny, square(0, 0, 50, 50)), SiteLimits(max_area_m2=1000))
    assert caught.value.status == 422 and caught.value.details["limit_m2"] == 1000


def test_too_many_parcels(tiny, store, catalogue):
    site = site_from_geojson(store, lambert(tiny, square(0, 0, 300, 110)))
    with pytest.raises(GisportalError) as caught:
        build_site_note(store, catalogue, site, limits=SiteLimits(max_parcels=6))
    assert caught.value.status == 413 and caught.value.details == {"limit": 6, "given": 7}


def test_api_json_and_errors(tiny, tiny_client):
    answer = tiny_client.post("/api/v1/sites/notes", json={"refs": ["TF-1001/06", "TF-1007/06"], "lang": "fr"})
    assert answer.status_code == 200, answer.json
    data = answer.json
    assert data["site"]["area_m2"] == 1200 and data["site"]["geometry"]["type"] in ("Polygon", "MultiPolygon")
    assert [(z["code"], z["share"]) for z in data["zones"]] == [("A", 0.6667), ("B", 0.3333)]
    answer = tiny_client.post("/api/v1/sites/notes", json={"refs": ["TF-1001/06", "TF-0000/00"]})
    assert answer.status_code == 404 and answer.json["unknown"] == ["TF-0000/00"]
    answer = tiny_client.post("/api/v1/sites/notes", json={"geometry": lambert(tiny, square(60, 40, 110, 90))})
    assert answer.status_code == 200 and answer.json["site"]["area_m2"] == 2500
    assert tiny_client.post("/api/v1/sites/notes", data="x", content_type="text/plain").status_code == 400
    assert tiny_client.post("/api/v1/sites/notes", json={"refs": "TF-1001/06", "geometry": {}}).status_code == 400
    assert tiny_client.post("/api/v1/sites/notes", json={"refs": ["TF-1001/06"], "as_of": "soon"}).status_code == 400


def test_pdf_is_numbered_sealed_and_verifiable(tiny, tiny_client):
    answer = tiny_client.post("/api/v1/sites/notes", json={"refs": ["TF-1001/06", "TF-1007/06"], "format": "pdf",
                                                           "lang": "fr"})
    assert answer.status_code == 200 and answer.data.startswith(b"%PDF")
    number = answer.headers["X-Note-Number"]
    token = tiny_client.application.extensions["gisportal"].registry.get(number).signature[:16]  # what the QR carries
    assert tiny_client.get(f"/api/v1/verify/{number}").status_code == 422  # not without the QR's token (issue #14)
    check = tiny_client.get(f"/api/v1/verify/{number}?t={token}")
    assert check.status_code == 200 and check.json["authentic"] and check.json["current"] is True
    assert check.json["parcel_ref"] == "SITE TF-1001/06+TF-1007/06"
    page = tiny_client.get(f"/verify/{number}?t={token}")
    assert page.status_code == 200 and f"/api/v1/situation-plan?site={number}" in page.get_data(as_text=True)
    assert "gp-current" in page.get_data(as_text=True)  # still current: the same site today


@pytest.mark.parametrize("lang", ["fr", "ar"])
def test_pages(tiny_client, lang):
    page = tiny_client.get(f"/sites/note?refs=TF-1001/06,TF-1007/06&lang={lang}")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert 'data-layer="heritage" data-result="no_data"' not in html and "TF-1007/06" in html
    assert 'data-layer="road_widening" data-result="does_not_intersect"' in html
    assert tiny_client.get(f"/sites?lang={lang}").status_code == 200
    assert tiny_client.get("/sites/note?refs=TF-0000/00").status_code == 404


@pytest.fixture
def tiny_env(tiny, monkeypatch):
    """The tiny instance named by the environment, as the command line reads it."""
    for name, value in tiny.instance.env.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("GISPORTAL_RULES_FILE", str(tiny.rules_file))
    return tiny


def _frame(tiny, *boxes, crs="EPSG:26191"):
    import geopandas as gpd

    return gpd.GeoDataFrame({"name": [f"s{i}" for i in range(len(boxes))]},
                            geometry=[tiny.box(*b) for b in boxes], crs="EPSG:26191").to_crs(crs)


def test_cli_site_note_from_refs_and_from_a_kml_file(tiny_env, tmp_path):
    import json

    from click.testing import CliRunner

    from gisportal.cli.commands import main

    result = CliRunner().invoke(main, ["site-note", "--refs", "TF-1001/06,TF-1007/06"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.output)["site"]["area_m2"] == 1200
    kml = tmp_path / "site.kml"
    _frame(tiny_env, (60, 40, 110, 90), crs="EPSG:4326").to_file(kml, driver="KML", engine="pyogrio")
    result = CliRunner().invoke(main, ["site-note", "--file", str(kml)])
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert data["site"]["area_m2"] == pytest.approx(2500, abs=0.01)
    assert CliRunner().invoke(main, ["site-note"]).exit_code == 2


def test_page_from_a_zipped_shapefile_in_utm(tiny, tiny_client, tmp_path):
    """Two boxes in UTM 30N (the .prj says so): x 0..50 and x 50..100, y 0..50 -> one site of 5,000 m²."""
    import zipfile

    folder = tmp_path / "shp"
    folder.mkdir()
    _frame(tiny, (0, 0, 50, 50), (50, 0, 100, 50), crs="EPSG:32630").to_file(folder / "site.shp", engine="pyogrio")
    archive = tmp_path / "site.zip"
    with zipfile.ZipFile(archive, "w") as z:
        for part in folder.iterdir():
            z.write(part, arcname=part.name)
    page = tiny_client.post("/sites/note", data={"file": (archive.open("rb"), "site.zip")},
                            content_type="multipart/form-data")
    assert page.status_code == 200, page.get_data(as_text=True)[:500]
    assert 'data-area-m2="5000.0"' in page.get_data(as_text=True)
    bad = tiny_client.post("/sites/note", data={"file": (open(__file__, "rb"), "site.kml")},
                           content_type="multipart/form-data")
    assert bad.status_code == 422


def test_shares_on_the_union_of_each_code_overlaps_and_remainder(tiny, tiny_writable, catalogue):
    """Another plan east of the tiny one: two A features overlapping (x 400..460 and 440..490) and a B feature
    (x 450..470) across them, all y 0..50. The site x 400..500, y 0..50 (5,000 m²), cut as a parcel's note cuts
    a parcel: A's land is the union, 4,500 m² (90 %, not 3,000 + 2,500), of which 3,500 m² (70 %) under A alone;
    B's 1,000 m² all lie on A: the overlap A + B, 1,000 m² (20 %), under the stricter rules (B's COS 1.0 and CES
    0.25); x 490..500 is in no zone, 500 m² (10 %): 70 + 20 + 10 = 100 %. Floor area: 3,500 × 2.0 + 1,000 × 1.0
    = 8,000 m² (the overlap counted once, not 4,500 × 2.0 + 1,000 × 1.0); footprint 3,500 × 0.5 + 1,000 × 0.25
    = 2,000 m². With slivers under 25 % of the site, B (20 %) is one: its land stays A's, B is named in the
    remainder (of no land: A covers it), no overlap is stated."""
    import json
    from datetime import timedelta

    import geopandas as gpd
    from support.tiny import _create_app

    from gisportal.storage.base import NewPlanVersion

    store = tiny_writable.open_store()
    start = tiny.today - timedelta(days=10)
    rows = [("A", (400, 0, 460, 50)), ("A", (440, 0, 490, 50)), ("B", (450, 0, 470, 50))]
    zones = gpd.GeoDataFrame({"code": [c for c, _ in rows], "label_fr": [c for c, _ in rows],
                              "label_ar": [c for c, _ in rows]},
                             geometry=[tiny.box(*b) for _, b in rows], crs="EPSG:26191")
    store.publish_plan_version(NewPlanVersion("east-plan", "Est", "شرق", "Décret E", start, start), zones)
    note = build_site_note(store, catalogue, site_from_geojson(store, lambert(tiny, square(400, 0, 500, 50))))
    assert [(z.plan, z.code, round(z.area_m2, 6), round(z.share, 6), round(z.total_area_m2, 6))
            for z in note.zones] == [("east-plan", "A", 3500.0, 0.7, 4500.0)]
    (overlap,) = note.zone_overlaps
    assert (overlap.codes, round(overlap.area_m2, 6), round(overlap.share, 6)) == (("A", "B"), 1000.0, 0.2)
    assert (overlap.rules.cos, overlap.rules.ces) == (1.0, 0.25) and dict(overlap.rules_taken)["cos"] == "B"
    assert note.unzoned_m2 == pytest.approx(500) and note.unzoned_share == pytest.approx(0.1)
    assert note.remainder_m2 == 0.0 and note.remainder_codes == ()
    assert note.buildability.max_floor_area_m2 == pytest.approx(8000)
    assert note.buildability.max_footprint_m2 == pytest.approx(2000)
    assert ("zone_overlap", "A+B") in note.warnings
    data = site_to_dict(note, catalogue, "fr")
    assert [(o["codes"], o["area_m2"], o["share"]) for o in data["zone_overlaps"]] == [(["A", "B"], 1000.0, 0.2)]
    assert data["unzoned_share"] == 0.1 and data["remainder"] == {"share": 0.0, "area_m2": 0.0, "codes": []}
    coarse = build_site_note(store, catalogue, site_from_geojson(store, lambert(tiny, square(400, 0, 500, 50))),
                             cover_limits=CoverLimits(min_share=0.25))
    assert [(z.code, round(z.area_m2, 6)) for z in coarse.zones] == [("A", 4500.0)] and coarse.zone_overlaps == ()
    assert coarse.remainder_codes == ("B",) and coarse.unzoned_m2 == pytest.approx(500)
    # The instance's sliver limits, as for a parcel: on x 400..500, y 0..40, B holds 800 m², under 1,000 m².
    body = {"geometry": lambert(tiny, square(400, 0, 500, 40)), "lang": "fr"}
    for limit, overlaps, remainder in ((1.0, [(["A", "B"], 800.0)], []), (1000.0, [], ["B"])):
        client = _create_app({**tiny_writable.settings, "rules_file": tiny.rules_file, "TESTING": True,
                              "note_sliver_area_m2": limit}).test_client()
        data = client.post("/api/v1/sites/notes", json=body).json
        assert [(o["codes"], o["area_m2"]) for o in data["zone_overlaps"]] == overlaps
        assert data["remainder"]["codes"] == remainder and data["unzoned_m2"] == 400.0
        page = client.post("/sites/note", data={"geometry": json.dumps(body["geometry"])}).get_data(as_text=True)
        assert "gp-unzoned-row" in page and ('data-codes="A+B"' in page) == bool(overlaps)


HOSTILE = [
    {"geometry": {"type": "Polygon", "coordinates": "abc"}},
    {"geometry": {"type": "Polygon", "coordinates": [[["a", "b"], [1, 2], [3, 4], ["a", "b"]]]}},
    {"geometry": {"type": "Polygon", "coordinates": [[[float("nan"), 0], [1, 0], [1, 1], [float("nan"), 0]]]}},
    {"geometry": {"type": "MultiPolygon", "coordinates": [[[[1e308, 1e308], [-1e308, 1], [0, 0], [1e308, 1e308]]]]}},
    {"geometry": {"type": "Polygon", "coordinates": [], "crs": {"type": "name", "properties": {"name": "EPSG:0"}}}},
    {"geometry": {"type": "Polygon", "coordinates": [[[0, 0], [1, 0], [1, 1], [0, 0]]], "crs": ["x"]}},
    {"geometry": {"type": "FeatureCollection", "features": [{"type": "Feature", "geometry": None}]}},
    {"geometry": "{not json"},
    {"geometry": 12},
    {"refs": [{"a": 1}, None, "x" * 500]},
    {"refs": ["<script>alert(1)</script>"]},
    {"refs": ["TF-1001/06"], "format": "docx"},
    {"refs": ["TF-1001/06"], "format": "pdf", "lang": "xx"},
    {"refs": [str(i) for i in range(600)]},
]


@pytest.mark.parametrize("body", HOSTILE, ids=range(len(HOSTILE)))
def test_hostile_bodies_get_a_clear_4xx(tiny_client, body):
    answer = tiny_client.post("/api/v1/sites/notes", json=body)
    assert 400 <= answer.status_code < 500, (answer.status_code, answer.get_data(as_text=True)[:300])
    assert answer.json["message"]


def test_hostile_reference_is_escaped_on_the_page(tiny_client):
    page = tiny_client.get("/sites/note?refs=<script>alert(1)</script>")
    assert page.status_code == 404 and "<script>alert(1)" not in page.get_data(as_text=True)


def test_pdf_button_of_a_drawn_site_page(tiny, tiny_client):
    """The page of a drawn site carries its outline (WGS84 GeoJSON) in the PDF form; posting it gives the PDF of
    the same site (2,500 m²)."""
    import html
    import json
    import re

    page = tiny_client.post("/sites/note", data={"geometry": json.dumps(lambert(tiny, square(60, 40, 110, 90)))})
    assert page.status_code == 200
    value = re.search(r'name="geometry" value="([^"]*)"', page.get_data(as_text=True)).group(1)
    outline = json.loads(html.unescape(value))
    again = tiny_client.post("/api/v1/sites/notes", json={"geometry": outline})
    assert again.json["site"]["area_m2"] == pytest.approx(2500, abs=0.01)
    pdf = tiny_client.post("/sites/note", data={"geometry": html.unescape(value), "format": "pdf", "lang": "ar"})
    assert pdf.status_code == 200 and pdf.data.startswith(b"%PDF") and pdf.headers["X-Note-Number"]
