"""A parcel's zoning history over three versions of the tiny plan (see conftest.py), by hand.

TF-1001/06 (x 90..110, y 10..30, 400 m²): version 1 puts it all in B (COS 1.0: 400 m² of floor area); version 2
splits it half A, half B (200 × 2.0 + 200 × 1.0 = 600 m²); version 3 (published here) keeps version 2's zones,
but the rules catalogue in force from its date raises A's COS to 2.5 (200 × 2.5 + 200 × 1.0 = 700 m²). No
servitude ever touches it.
"""

from __future__ import annotations

import io
from datetime import timedelta

import geopandas as gpd
import pdfplumber
import pytest
from support.tiny import TINY_RULES_YAML

from gisportal.note.history import history_to_dict, parcel_history
from gisportal.storage.base import NewPlanVersion
from gisportal.zoning.rules import load_catalogue


@pytest.fixture
def three_versions(tiny, tiny_writable, tmp_path):
    store = tiny_writable.open_store()
    v3_from = tiny.today - timedelta(days=100)
    zones = gpd.GeoDataFrame({"code": ["A", "B", "C"], "label_fr": ["Zone A", "Zone B", "Zone C"],
                              "label_ar": ["أ", "ب", "ج"]},
                             geometry=[tiny.box(x, 0, x + 100, 100) for x in (0, 100, 200)],
                             crs="EPSG:26191")
    store.publish_plan_version(NewPlanVersion("tiny-plan", "Plan", "تصميم", "Décret v3", v3_from, v3_from), zones)
    old = load_catalogue(tiny.rules_file)
    newer_file = tmp_path / "rules-v3.yaml"
    newer_file.write_text(TINY_RULES_YAML.replace("cos: 2.0", "cos: 2.5"), encoding="utf-8")
    newer = load_catalogue(newer_file)
    return store, (lambda day: newer if day >= v3_from else old), v3_from


def test_history_over_three_versions(tiny, three_versions):
    store, catalogue_for, v3_from = three_versions
    history = parcel_history(store, catalogue_for, store.parcel_by_ref("TF-1001/06"))
    assert [(r.version.version, r.status.status) for r in history.versions] == [
        (1, "superseded"), (2, "superseded"), (3, "in_force")]
    assert [r.buildability.max_floor_area_m2 for r in history.versions] == [
        pytest.approx(400), pytest.approx(600), pytest.approx(700)]
    first, second = history.steps
    assert {(c.kind, c.subject, c.before, c.after) for c in first.changes} == {
        ("zone_added", "A", None, 0.5), ("share", "B", 1.0, 0.5), ("floor_area", "", 400.0, 600.0)}
    assert [(c.kind, c.subject, c.before, c.after) for c in second.changes] == [
        ("rule", "A.cos", 2.0, 2.5), ("floor_area", "", 600.0, 700.0)]
    assert history.last_change({("tiny-plan", 3)}) is second
    data = history_to_dict(history)
    assert [s["on"] for s in data["changes"]] == [tiny.v2_from.isoformat(), v3_from.isoformat()]
    assert data["versions"][0]["approval_act"] == "Décret v1"


def test_a_parcel_nothing_changed_on(tiny, three_versions):
    """TF-1004/06 lies in C (no rules) in versions 2 and 3: the step from 2 to 3 changes nothing on it."""
    store, catalogue_for, _ = three_versions
    history = parcel_history(store, catalogue_for, store.parcel_by_ref("TF-1004/06"))
    assert [s.changed for s in history.steps] == [True, False]
    assert history.last_change({("tiny-plan", 3)}) is None


def test_api_and_page(tiny_client):
    answer = tiny_client.get("/api/v1/parcels/history?ref=TF-1001/06")
    assert answer.status_code == 200
    assert [v["version"] for v in answer.json["versions"]] == [1, 2]
    assert answer.json["changes"][0]["changed"] is True
    assert tiny_client.get("/api/v1/parcels/history?ref=TF-0000/00").status_code == 404
    assert tiny_client.get("/api/v1/parcels/history").status_code == 400
    for lang in ("fr", "ar"):
        page = tiny_client.get(f"/parcels/history?ref=TF-1001/06&lang={lang}")
        assert page.status_code == 200 and "gp-change-row" in page.get_data(as_text=True)
    note = tiny_client.get("/note?ref=TF-1001/06&lang=fr").get_data(as_text=True)
    assert 'class="gp-changed-on"' in note and "/parcels/history?ref=TF-1001" in note
    pdf = tiny_client.get("/note.pdf?ref=TF-1001/06&lang=fr")
    text = pdfplumber.open(io.BytesIO(pdf.data)).pages[0].extract_text()
    assert "Les règles de cette parcelle ont changé le" in " ".join(text.split())


def test_a_version_with_overlapping_zones_counts_their_land_once(tiny, tiny_writable):
    """A version 3 puts A on x 0..105 and B on x 95..200 (y 0..100): on TF-1001/06 (x 90..110, y 10..30), A alone
    holds x 90..95 (100 m²), B alone x 105..110 (100 m²), and both x 95..105 (200 m²), under the stricter COS
    (B's 1.0). Floor area 100 × 2.0 + 100 × 1.0 + 200 × 1.0 = 500 m² (not 300 × 2.0 + 300 × 1.0 = 900)."""
    store = tiny_writable.open_store()
    start = tiny.today - timedelta(days=50)
    zones = gpd.GeoDataFrame({"code": ["A", "B"], "label_fr": ["Zone A", "Zone B"], "label_ar": ["أ", "ب"]},
                             geometry=[tiny.box(0, 0, 105, 100), tiny.box(95, 0, 200, 100)], crs="EPSG:26191")
    store.publish_plan_version(NewPlanVersion("tiny-plan", "Plan", "تصميم", "Décret v3", start, start), zones)
    catalogue = load_catalogue(tiny.rules_file)
    history = parcel_history(store, lambda day: catalogue, store.parcel_by_ref("TF-1001/06"))
    last = history.versions[-1]
    assert [(z.code, round(z.area_m2, 6)) for z in last.zones] == [("A", 100.0), ("B", 100.0)]
    assert [(o.codes, round(o.area_m2, 6)) for o in last.zone_overlaps] == [(("A", "B"), 200.0)]
    assert last.buildability.max_floor_area_m2 == pytest.approx(500)
    change = history.steps[-1].changes[-1]
    assert (change.kind, change.before, change.after) == ("floor_area", 600.0, 500.0)
    assert history_to_dict(history)["versions"][-1]["zone_overlaps"] == [
        {"codes": ["A", "B"], "share": 0.5, "area_m2": 200.0}]
