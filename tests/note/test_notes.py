"""The urban-information note on the hand-made territory: every number computed by hand.

See the table in conftest.py. Rules: A = CES 0.5, COS 2.0, 12 m, R+3, min lot 200 m²;
B = CES 0.25, COS 1.0, 20 m, R+5, min lot 100 m²; C is not in the catalogue.
"""

from __future__ import annotations

from datetime import date, timedelta

import pytest

from gisportal.note.build import build_note
from gisportal.note.render import note_to_dict
from gisportal.zoning.rules import load_catalogue

pytestmark = pytest.mark.backends("embedded", "postgis", "replicated")  # replicas through PgBouncer too

ABS = 1e-6


@pytest.fixture(scope="module")
def store(tiny):
    return tiny.open_store()


@pytest.fixture(scope="module")
def catalogue(tiny):
    return load_catalogue(tiny.rules_file)


@pytest.fixture(scope="module")
def note_of(store, catalogue):
    def build(ref: str, as_of: date | None = None):
        return build_note(store, catalogue, store.parcel_by_ref(ref), as_of)

    return build


def zones_by_code(note):
    return {z.code: z for z in note.zones}


def test_parcel_half_in_a_half_in_b(note_of, tiny):
    note = note_of("TF-1001/06")
    assert note.parcel.area_m2 == pytest.approx(400.0, abs=ABS)
    assert note.parcel.crs == "EPSG:26191"
    assert (note.parcel.centroid_x, note.parcel.centroid_y) == pytest.approx((tiny.x0 + 100, tiny.y0 + 20))
    zones = zones_by_code(note)
    assert set(zones) == {"A", "B"}
    assert zones["A"].share == pytest.approx(0.5, abs=ABS) and zones["B"].share == pytest.approx(0.5, abs=ABS)
    assert zones["A"].area_m2 == pytest.approx(200.0, abs=ABS)
    assert zones["B"].area_m2 == pytest.approx(200.0, abs=ABS)
    assert all(z.plan == "tiny-plan" and z.plan_version == 2 for z in note.zones)
    assert note.unzoned_share == pytest.approx(0.0, abs=ABS)
    # Per zone: CES x area and COS x area of the part in the zone.
    assert zones["A"].buildability.max_footprint_m2 == pytest.approx(0.5 * 200)
    assert zones["A"].buildability.max_floor_area_m2 == pytest.approx(2.0 * 200)
    assert zones["B"].buildability.max_footprint_m2 == pytest.approx(0.25 * 200)
    assert zones["B"].buildability.max_floor_area_m2 == pytest.approx(1.0 * 200)
    # Totals: sum of CES_i x area_i, COS_i x area_i.
    b = note.buildability
    assert b.max_footprint_m2 == pytest.approx(0.5 * 200 + 0.25 * 200)  # 150
    assert b.max_floor_area_m2 == pytest.approx(2.0 * 200 + 1.0 * 200)  # 600
    assert b.encumbered_area_m2 == pytest.approx(0.0, abs=ABS)
    assert b.net_max_footprint_m2 == pytest.approx(150.0)
    assert b.complete is True
    assert zones["A"].buildability.max_height_m == 12 and zones["B"].buildability.max_height_m == 20
    assert note.overlays == ()
    assert note.warnings == ()


def test_uneven_split_totals_are_sums_per_zone(note_of):
    note = note_of("TF-1007/06")  # 800 m²: 600 in A, 200 in B
    zones = zones_by_code(note)
    assert note.parcel.area_m2 == pytest.approx(800.0, abs=ABS)
    assert zones["A"].share == pytest.approx(0.75) and zones["A"].area_m2 == pytest.approx(600.0)
    assert zones["B"].share == pytest.approx(0.25) and zones["B"].area_m2 == pytest.approx(200.0)
    assert [z.code for z in note.zones] == ["A", "B"]  # largest share first
    assert note.buildability.max_footprint_m2 == pytest.approx(0.5 * 600 + 0.25 * 200)  # 350
    assert note.buildability.max_floor_area_m2 == pytest.approx(2.0 * 600 + 1.0 * 200)  # 1400


def test_road_widening_quarter_is_deducted_from_net_buildability(note_of):
    note = note_of("TF-1002/06")  # 400 m² in A; widening strip y 10..15 over x 10..30 = 100 m²
    (zone,) = note.zones
    assert zone.code == "A" and zone.share == pytest.approx(1.0)
    (overlay,) = note.overlays
    assert overlay.kind == "road_widening" and overlay.removes_buildable_area is True
    assert overlay.area_m2 == pytest.approx(100.0) and overlay.share == pytest.approx(0.25)
    assert overlay.plan_version == 2
    b = zone.buildability
    assert b.area_m2 == pytest.approx(400.0)
    assert b.encumbered_area_m2 == pytest.approx(100.0)
    assert b.max_footprint_m2 == pytest.approx(0.5 * 400)          # 200 gross
    assert b.max_floor_area_m2 == pytest.approx(2.0 * 400)         # 800 gross
    assert b.net_max_footprint_m2 == pytest.approx(0.5 * (400 - 100))   # 150
    assert b.net_max_floor_area_m2 == pytest.approx(2.0 * (400 - 100))  # 600
    total = note.buildability
    assert total.encumbered_area_m2 == pytest.approx(100.0)
    assert total.net_max_footprint_m2 == pytest.approx(150.0)
    assert total.net_max_floor_area_m2 == pytest.approx(600.0)


def test_airport_easement_caps_height(note_of):
    note = note_of("TF-1003/06")  # all B (20 m), under an airport easement of 9 m
    (zone,) = note.zones
    assert zone.code == "B"
    assert zone.buildability.max_height_m == 9.0
    assert zone.buildability.height_capped_by == "airport_easement"
    assert zone.buildability.max_floors == 5
    assert zone.rules.max_height_m == 20  # the zone's own rule is still stated
    (overlay,) = note.overlays
    assert overlay.kind == "airport_easement" and overlay.max_height_m == 9.0
    assert overlay.removes_buildable_area is False
    assert zone.buildability.encumbered_area_m2 == pytest.approx(0.0, abs=ABS)  # a height cap is not a deduction
    assert zone.buildability.net_max_footprint_m2 == pytest.approx(0.25 * 400)


def test_height_is_not_capped_where_the_zone_is_lower(note_of):
    note = note_of("TF-1007/06")
    assert all(z.buildability.height_capped_by is None for z in note.zones)


def test_zone_code_absent_from_catalogue(note_of, catalogue):
    note = note_of("TF-1004/06")
    (zone,) = note.zones
    assert zone.code == "C" and zone.rules is None
    assert zone.share == pytest.approx(1.0)
    assert zone.buildability.max_footprint_m2 is None and zone.buildability.complete is False
    assert note.buildability.max_footprint_m2 is None and note.buildability.complete is False
    assert ("rules_not_defined", "C") in note.warnings
    data = note_to_dict(note, catalogue, "fr")
    assert "rules" in data["zones"][0] and data["zones"][0]["rules"] is None
    assert {"code": "rules_not_defined", "subject": "C"} in data["warnings"]


def test_parcel_partly_outside_every_zone(note_of):
    note = note_of("TF-1005/06")  # y 90..110, zones stop at y = 100
    (zone,) = note.zones
    assert zone.code == "A" and zone.area_m2 == pytest.approx(200.0)
    assert zone.share == pytest.approx(0.5)
    assert note.unzoned_share == pytest.approx(0.5)
    assert note.buildability.max_footprint_m2 == pytest.approx(0.5 * 200)
    # The heritage perimeter covers y 85..100: 20 x 10 = 200 m², informative, deducts nothing.
    (overlay,) = note.overlays
    assert overlay.kind == "heritage" and overlay.area_m2 == pytest.approx(200.0)
    assert overlay.share == pytest.approx(0.5) and overlay.removes_buildable_area is False
    assert note.buildability.encumbered_area_m2 == pytest.approx(0.0, abs=ABS)


def test_below_minimum_lot_area(note_of):
    note = note_of("TF-1006/06")  # 100 m² in A, whose minimum lot is 200 m²
    assert note.parcel.area_m2 == pytest.approx(100.0)
    assert ("below_min_lot_area", "A") in note.warnings
    assert all(code != "below_min_lot_area" for code, _ in note_of("TF-1002/06").warnings)  # 400 m² is fine


def test_floors_label_in_json(note_of, catalogue):
    data = note_to_dict(note_of("TF-1001/06"), catalogue, "fr")
    floors = {z["code"]: z["rules"]["floors"] for z in data["zones"]}
    assert floors == {"A": "R+3", "B": "R+5"}


def test_plans_of_today_note(note_of, tiny):
    note = note_of("TF-1001/06")
    (plan,) = note.plans
    assert plan.name == "tiny-plan" and plan.version == 2 and plan.status == "in_force"
    assert plan.effective_from == tiny.v2_from
    v2 = tiny.v2_from
    ten_years_later = date(v2.year + 10, v2.month, 28 if (v2.month, v2.day) == (2, 29) else v2.day)
    assert plan.effective_to == ten_years_later
    assert note.is_historical is False


def test_note_as_of_a_past_date_uses_the_old_version(note_of, tiny, store):
    assert len(store.plan_versions()) == 2  # the store keeps both versions
    as_of = tiny.v1_from + timedelta(days=100)
    note = note_of("TF-1001/06", as_of)
    (zone,) = note.zones
    assert (zone.code, zone.plan_version) == ("B", 1)
    assert zone.share == pytest.approx(1.0) and zone.area_m2 == pytest.approx(400.0)
    assert note.buildability.max_footprint_m2 == pytest.approx(0.25 * 400)
    assert note.as_of == as_of and note.is_historical is True
    (plan,) = note.plans
    assert plan.version == 1 and plan.status == "in_force" and plan.effective_to == tiny.v2_from


def test_old_version_overlays_apply_to_old_dates_only(note_of, tiny):
    old = note_of("TF-1002/06", tiny.v1_from + timedelta(days=1))
    (overlay,) = old.overlays
    assert overlay.kind == "green_space" and overlay.plan_version == 1
    assert overlay.area_m2 == pytest.approx(400.0)  # the v1 green space covers the whole parcel
    assert old.buildability.encumbered_area_m2 == pytest.approx(400.0)
    assert old.buildability.net_max_footprint_m2 == pytest.approx(0.0, abs=ABS)
    assert old.buildability.max_footprint_m2 == pytest.approx(0.25 * 400)
    today = note_of("TF-1002/06")
    assert [o.kind for o in today.overlays] == ["road_widening"]


def test_note_before_any_version_has_no_zone(note_of, tiny):
    note = note_of("TF-1001/06", tiny.v1_from - timedelta(days=1))
    assert note.zones == () and note.plans == ()
    assert note.unzoned_share == pytest.approx(1.0)
    assert ("no_zone", "") in note.warnings
    assert note.buildability.max_footprint_m2 is None and note.buildability.complete is False


def test_json_rendering_has_rounded_hand_numbers(note_of, catalogue):
    data = note_to_dict(note_of("TF-1002/06"), catalogue, "ar")
    assert data["language"] == "ar"
    assert data["parcel"]["ref"] == "TF-1002/06" and data["parcel"]["area_m2"] == 400.0
    assert data["parcel"]["quarter"] == "Marshan"
    assert data["parcel"]["centroid_metric"]["crs"] == "EPSG:26191"
    assert data["parcel"]["geometry"]["type"] in ("Polygon", "MultiPolygon")
    z = data["zones"][0]
    assert z["code"] == "A" and z["share"] == 1.0 and z["area_m2"] == 400.0
    assert z["label"] == "المنطقة A"  # the Arabic label stored with the zone
    assert z["rules"]["ces"] == 0.5 and z["rules"]["cos"] == 2.0
    assert [u["code"] for u in z["rules"]["allowed_uses"]] == ["housing", "retail"]
    assert z["rules"]["allowed_uses"][0]["label"] == "السكن"
    assert z["buildability"]["net_max_floor_area_m2"] == 600.0
    o = data["overlays"][0]
    assert o["kind"] == "road_widening" and o["area_m2"] == 100.0 and o["share"] == 0.25
    assert o["kind_label"] == "تصفيف / توسيع الطريق"
    assert data["buildability"]["encumbered_area_m2"] == 100.0
    assert data["plans"][0]["status"] == "in_force"
    assert data["warnings"] == []


def test_overlapping_servitudes_are_deducted_once_and_the_lowest_cap_wins(tiny, tiny_writable, catalogue):
    """On TF-1007/06 (x 70..110, y 60..80; A for x < 100): a green space x 70..90 and a non aedificandi strip
    x 80..105, y 60..70 overlap on 10 x 10 m; two airport easements (10 m and 7 m) cover the whole parcel."""
    import geopandas as gpd

    store = tiny_writable.open_store()
    rows = [("green_space", None, (70, 60, 90, 80)), ("non_aedificandi", None, (80, 60, 105, 70)),
            ("airport_easement", 10.0, (60, 50, 120, 90)), ("airport_easement", 7.0, (65, 55, 115, 85))]
    store.add_overlays("tiny-plan", gpd.GeoDataFrame(
        {"kind": [k for k, _, _ in rows], "label_fr": ["s"] * 4, "label_ar": ["s"] * 4, "provision_fr": [""] * 4,
         "provision_ar": [""] * 4, "max_height_m": [float("nan") if h is None else h for _, h, _ in rows]},
        geometry=[tiny.box(*b) for _, _, b in rows], crs="EPSG:26191"))
    note = build_note(store, catalogue, store.parcel_by_ref("TF-1007/06"))
    zones = zones_by_code(note)
    # A: green 20 x 20 = 400, strip 20 x 10 = 200, overlap 100 -> 500; B: strip 5 x 10 = 50.
    assert zones["A"].buildability.encumbered_area_m2 == pytest.approx(500.0)
    assert zones["B"].buildability.encumbered_area_m2 == pytest.approx(50.0)
    assert note.buildability.encumbered_area_m2 == pytest.approx(550.0)  # not 400 + 250
    assert zones["A"].buildability.net_max_footprint_m2 == pytest.approx(0.5 * (600 - 500))      # 50
    assert zones["B"].buildability.net_max_footprint_m2 == pytest.approx(0.25 * (200 - 50))      # 37.5
    assert note.buildability.net_max_footprint_m2 == pytest.approx(87.5)
    assert note.buildability.net_max_floor_area_m2 == pytest.approx(2.0 * 100 + 1.0 * 150)       # 350
    assert note.buildability.max_footprint_m2 == pytest.approx(350.0)  # gross is unchanged
    assert {(z.buildability.max_height_m, z.buildability.height_capped_by) for z in note.zones} == {
        (7.0, "airport_easement")}
    kinds = [(o.kind, round(o.area_m2, 6)) for o in note.overlays]
    assert kinds[:2] == [("airport_easement", 800.0), ("airport_easement", 800.0)]
    assert sorted(kinds[2:]) == [("green_space", 400.0), ("non_aedificandi", 250.0)]
