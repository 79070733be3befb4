"""Issue #12: shares on messy plans (overlapping features, overlapping codes, slivers), on both backends.

A hand-made plan ``messy`` (boxes x0, y0, x1, y1 from the tiny territory's origin, EPSG:26191) published through
the store API as a plan with overlaps would be (after ``import-plan --accept-blocking``):

====  =========================  ==========================================
code  box                        what it shows
====  =========================  ==========================================
A     0, 0, 60, 100              two A features overlapping on x 40..60
A     40, 0, 100, 100
B     90, 0, 200, 100            overlaps the second A on x 90..100
S     199.98, 0, 200.5, 100      a digitising sliver at B's edge (no rules)
====  =========================  ==========================================

Parcels (all y 10..30, so each metre of x is 20 m²):

* M-1 x 30..70 (800 m²): A only, under both A features (old note: 150 % in A); now 100 % A.
* M-2 x 80..120 (800 m²): A only x 80..90 (200 m²), B only x 100..120 (400 m²), A and B x 90..100 (200 m²).
  Overlap rules: CES 0.25 and COS 1.0 (B), 12 m and R+3 (A), min lot 200 m² (A), uses: housing only.
  Footprint 0.5*200 + 0.25*400 + 0.25*200 = 250 m²; floor area 2*200 + 1*400 + 1*200 = 1000 m².
* M-3 x 150..200.02 (1000.4 m²): B 1000 m²; S lies on 0.8 m² (under 1 m²), half of it over B: B keeps its
  1000 m², the other 0.4 m² is the remainder.
* M-4 x 5..25 (400 m²): inside the first A: 100 % A.
"""

from __future__ import annotations

import json
import os
import re
from datetime import date, timedelta

import geopandas as gpd
import numpy as np
import pytest
import shapely
from click.testing import CliRunner
from support.instances import new_instance
from support.pdf import pdf_text
from support.tiny import TINY_CRS, _create_app, box

from gisportal.cli.commands import main
from gisportal.core.accounts import Accounts
from gisportal.core.audit import AuditLog
from gisportal.core.settings import load_settings
from gisportal.note.build import build_note
from gisportal.publishing.impact import shares_by_key
from gisportal.storage import open_agency
from gisportal.storage.base import NewPlanVersion
from gisportal.zoning.overlap_rules import stricter_rules
from gisportal.zoning.rules import load_catalogue
from gisportal.zoning.zone_cover import CodePiece, CoverLimits, zone_cover

ABS = 1e-6
ZONES = [("A", (0, 0, 60, 100)), ("A", (40, 0, 100, 100)), ("B", (90, 0, 200, 100)), ("S", (199.98, 0, 200.5, 100))]
PARCELS = {"M-1": (30, 10, 70, 30), "M-2": (80, 10, 120, 30), "M-3": (150, 10, 200.02, 30), "M-4": (5, 10, 25, 30)}


def _frame(rows, **columns) -> gpd.GeoDataFrame:
    return gpd.GeoDataFrame(columns, geometry=[box(*b) for b in rows], crs=TINY_CRS)


@pytest.fixture(scope="module")
def messy(request, backend, tmp_path_factory):
    """An instance holding the messy plan and its four parcels."""
    instance = new_instance(request, backend, tmp_path_factory.mktemp(f"messy-{backend}"))
    store = instance.open_store()
    store.put_parcels(_frame(PARCELS.values(), ref=list(PARCELS), address=[None] * 4, quarter=[None] * 4))
    start = date.today() - timedelta(days=30)
    store.publish_plan_version(NewPlanVersion("messy", "Plan", "تصميم", "Décret", start, start),
                               _frame([b for _, b in ZONES], code=[c for c, _ in ZONES],
                                      label_fr=[f"Zone {c}" for c, _ in ZONES],
                                      label_ar=[f"المنطقة {c}" for c, _ in ZONES]))
    store.close()
    return instance


@pytest.fixture(scope="module")
def store(messy):
    opened = messy.open_store()
    yield opened
    opened.close()


@pytest.fixture(scope="module")
def note_of(store, tiny_rules_file):
    catalogue = load_catalogue(tiny_rules_file)
    return lambda ref, limits=None: build_note(store, catalogue, store.parcel_by_ref(ref), limits=limits)


def _adds_up(note) -> float:
    return (sum(z.share for z in note.zones) + sum(o.share for o in note.zone_overlaps) + note.remainder_share
            + note.unzoned_share)


def test_two_same_code_features_give_a_share_of_exactly_one(note_of):
    note = note_of("M-1")
    (zone,) = note.zones
    assert (zone.code, zone.share, zone.area_m2) == ("A", pytest.approx(1.0, abs=ABS), pytest.approx(800.0))
    assert note.zone_overlaps == () and note.remainder_share == 0 and note.unzoned_share == 0
    assert note.buildability.max_footprint_m2 == pytest.approx(0.5 * 800)  # not 0.5 * 1200
    assert note.buildability.max_floor_area_m2 == pytest.approx(2.0 * 800)


def test_different_codes_overlapping_are_stated_and_counted_once(note_of):
    note = note_of("M-2")
    zones = {z.code: z for z in note.zones}
    assert zones["A"].area_m2 == pytest.approx(200.0) and zones["B"].area_m2 == pytest.approx(400.0)
    assert zones["A"].total_area_m2 == pytest.approx(400.0) and zones["B"].total_area_m2 == pytest.approx(600.0)
    (overlap,) = note.zone_overlaps
    assert overlap.codes == ("A", "B") and overlap.area_m2 == pytest.approx(200.0)
    assert overlap.share == pytest.approx(0.25)
    assert _adds_up(note) == pytest.approx(1.0, abs=ABS)
    r = overlap.rules
    assert (r.ces, r.cos, r.max_height_m, r.max_floors, r.min_lot_area_m2) == (0.25, 1.0, 12, 3, 200)
    assert r.allowed_uses == ("housing",) and set(r.forbidden_uses) == {"industry", "retail"}
    assert dict(overlap.rules_taken) == {"cos": "B", "ces": "B", "max_height_m": "A", "max_floors": "A",
                                         "min_lot_area_m2": "A"}
    assert overlap.buildability.max_footprint_m2 == pytest.approx(0.25 * 200)
    assert note.buildability.max_footprint_m2 == pytest.approx(250.0)
    assert note.buildability.max_floor_area_m2 == pytest.approx(1000.0)
    assert ("zones_overlap", "A + B") in note.warnings


def test_a_sliver_goes_to_the_stated_remainder(note_of):
    note = note_of("M-3")
    (zone,) = note.zones
    assert zone.code == "B" and zone.area_m2 == pytest.approx(1000.0, abs=1e-6)
    assert zone.share == pytest.approx(1000.0 / 1000.4)
    assert note.remainder_m2 == pytest.approx(0.4, abs=1e-6) and note.remainder_codes == ("S",)
    assert note.zone_overlaps == () and note.unzoned_share == 0
    assert _adds_up(note) == pytest.approx(1.0, abs=ABS)
    assert not [w for w in note.warnings if w[0] == "rules_not_defined"]  # S is left out, not "missing rules"
    # With a lower threshold the sliver is stated: S alone 0.4 m², S over B 0.4 m² (an overlap).
    fine = note_of("M-3", CoverLimits(min_share=0.0, min_area_m2=0.1))
    assert {z.code: round(z.area_m2, 6) for z in fine.zones} == {"B": 999.6, "S": 0.4}
    assert [(o.codes, round(o.area_m2, 6)) for o in fine.zone_overlaps] == [(("B", "S"), 0.4)]
    assert fine.remainder_m2 == 0 and _adds_up(fine) == pytest.approx(1.0, abs=ABS)


def test_a_parcel_inside_one_zone(note_of):
    note = note_of("M-4")
    assert [(z.code, z.share) for z in note.zones] == [("A", pytest.approx(1.0))]
    assert note.zone_overlaps == () and note.remainder_share == 0


def test_json_page_and_pdf_state_the_overlap(messy, tiny_rules_file, tmp_path):
    client = _create_app({**messy.settings, "rules_file": tiny_rules_file, "TESTING": True}).test_client()
    data = client.get("/api/v1/notes?ref=M-2&lang=en").get_json()
    (overlap,) = data["zone_overlaps"]
    assert overlap["codes"] == ["A", "B"] and overlap["area_m2"] == 200.0 and overlap["share"] == 0.25
    assert overlap["rules_taken"]["cos"] == "B" and overlap["rules"]["cos"] == 1.0
    assert sum(z["share"] for z in data["zones"]) + overlap["share"] == pytest.approx(1.0)
    assert data["buildability"]["max_floor_area_m2"] == 1000.0
    sliver = client.get("/api/v1/notes?ref=M-3").get_json()
    assert sliver["remainder"] == {"share": 0.0004, "area_m2": 0.4, "codes": ["S"]}
    # the overlap's area in the page's language and its unit formats (Babel: a narrow no-break space in French)
    says = {"fr": ("Chevauchement des zones A, B", "de B", "<bdi>200\u202fm²</bdi>"),
            "ar": ("تداخل المناطق A, B", "من B", "<bdi>200 م²</bdi>"),
            "en": ("Overlap of zones A, B", "from B", "<bdi>200 m²</bdi>")}
    for lang, (title, taken, area) in says.items():
        html = client.get(f"/note?ref=M-2&lang={lang}").get_data(as_text=True)
        assert title in html and taken in html and area in html, lang
    html = client.get("/note?ref=M-3&lang=fr").get_data(as_text=True)
    assert "Reliquat : éclats de numérisation des zones S" in html
    pdf = client.get("/api/v1/notes?ref=M-2&format=pdf&lang=fr")
    assert pdf.status_code == 200, pdf.get_data(as_text=True)
    text = pdf_text(pdf.data, tmp_path)
    assert "Chevauchement des zones A, B" in text and "200 m²" in text


def test_cover_matches_a_geopandas_overlay_on_random_boxes():
    """Union per code (geopandas dissolve + overlay) against :func:`zone_cover`, on 60 bounded random cases."""
    rng = np.random.default_rng(12)
    parcel = shapely.box(0, 0, 50, 40)
    for _ in range(60):
        n = int(rng.integers(1, 6))
        corners = rng.uniform(-20, 70, size=(n, 2))
        sizes = rng.uniform(5, 60, size=(n, 2))
        geoms = [shapely.box(x, y, x + w, y + h) for (x, y), (w, h) in zip(corners, sizes, strict=True)]
        codes = [str(c) for c in rng.choice(["U1", "U2", "R"], size=n)]
        pieces = [CodePiece(c, float(g.intersection(parcel).area), g.intersection(parcel))
                  for c, g in zip(codes, geoms, strict=True) if g.intersection(parcel).area > 0]
        cover = zone_cover(parcel, pieces, CoverLimits(0.0, 0.0))
        zones = gpd.GeoDataFrame({"code": codes}, geometry=geoms).dissolve("code").reset_index()
        on = gpd.overlay(zones, gpd.GeoDataFrame(geometry=[parcel]), how="intersection")
        expected = {c: a for c, a in zip(on["code"], on.area, strict=True) if a > 1e-9}
        assert cover.code_areas == pytest.approx(expected)
        for code, area in expected.items():  # a code's parts (alone or in overlaps) make up its union
            assert sum(p.area_m2 for p in cover.parts if code in p.codes) == pytest.approx(area)
        union = shapely.union_all(geoms).intersection(parcel).area
        assert sum(p.area_m2 for p in cover.parts) == pytest.approx(union)
        assert cover.unzoned_m2 == pytest.approx(parcel.area - union, abs=1e-6)


def test_stricter_rules_keep_a_code_without_rules_undefined(tiny_rules_file):
    catalogue = load_catalogue(tiny_rules_file)
    assert stricter_rules([("A", catalogue.rules_for("A")), ("C", None)]) == (None, {})
    rules, taken = stricter_rules([("B", catalogue.rules_for("B")), ("A", catalogue.rules_for("A"))])
    assert (rules.cos, taken["cos"], rules.max_height_m, taken["max_height_m"]) == (1.0, "B", 12, "A")


def _cli(*args, code=0):
    result = CliRunner().invoke(main, [str(a) for a in args])
    assert result.exit_code == code, (result.output, result.exception)
    return result


def test_cli_import_refused_on_blocking_overlap_then_accepted_and_recorded(empty_instance, tiny_rules_file, tmp_path,
                                                                             monkeypatch):
    for name, value in empty_instance.env.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("GISPORTAL_RULES_FILE", str(tiny_rules_file))
    monkeypatch.setenv("GISPORTAL_CRS", TINY_CRS)  # areas in the instance's CRS, as the store will hold them
    path = tmp_path / "messy.gpkg"
    _frame([b for _, b in ZONES[:3]], CODE=[c for c, _ in ZONES[:3]]).to_file(path, engine="pyogrio")
    refused = _cli("import-plan", path, "--name", "messy", "--zone-field", "CODE", code=2)
    assert "zone_overlap block publication" in refused.stderr and "--accept-blocking" in refused.stderr
    report = json.loads(refused.stderr.split("\n", 1)[1])
    overlaps = [f for f in report["findings"] if f["code"] == "zone_overlap" and f["severity"] == "blocking"]
    assert sorted(f["details"]["area_m2"] for f in overlaps) == [1000.0, 2000.0]  # A/B x 90..100, A/A x 40..60
    store = empty_instance.open_store()
    assert store.plan_versions() == []
    store.close()
    accepted = _cli("import-plan", path, "--name", "messy", "--zone-field", "CODE", "--accept-blocking")
    assert "blocking-accepted=zone_overlap:2" in accepted.stderr
    store = empty_instance.open_store()
    (version,) = store.plan_versions()
    db = open_agency(load_settings(), store)
    (entry,) = [e for e in AuditLog(db).search() if e.action == "import_blocking_accepted"]
    db.close()
    store.close()
    assert entry.target == "plan:messy" and entry.details["blocking"] == {"zone_overlap": 2}
    assert entry.details["version"] == 1 and entry.details["origin"] == version.origin
    assert version.origin.startswith("cli:import-plan:messy.gpkg:")
    assert version.origin.endswith(";blocking-accepted=zone_overlap:2")
    app = _create_app({**empty_instance.settings, "rules_file": tiny_rules_file, "crs": TINY_CRS, "TESTING": True})
    client = app.test_client()
    plans = client.get("/api/v1/plans").get_json()["plans"]
    assert [p["origin"] for p in plans] == [version.origin]
    Accounts(app.extensions["gisportal"].agency).create("amina", "un-mot-de-passe-long", "planner")
    token = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', client.get("/login").get_data(as_text=True))[1]
    client.post("/login", data={"username": "amina", "password": "un-mot-de-passe-long", "csrf_token": token})
    assert ";blocking-accepted=zone_overlap:2</small>" in client.get("/admin/versions").get_data(as_text=True)
    assert os.environ["GISPORTAL_RULES_FILE"] == str(tiny_rules_file)


def test_impact_preview_shares_use_the_union_per_code():
    lots = gpd.GeoDataFrame({"ref": ["M-1", "M-2"]}, geometry=[box(*PARCELS["M-1"]), box(*PARCELS["M-2"])])
    zones = _frame([b for _, b in ZONES], code=[c for c, _ in ZONES])
    shares = {(p, c): round(s, 6) for p, c, s in shares_by_key(lots, zones, "code").itertuples(index=False)}
    assert shares == {(0, "A"): 1.0, (1, "A"): 0.5, (1, "B"): 0.75}  # M-1: not 1.5 under two A features
