"""The README's recipe "Your own city", followed step by step on a small town of its own in Lambert-93 (EPSG:2154).

Parcels, a plan and its rules are written as GeoJSON files in EPSG:2154 (a hamlet near Annecy), imported with
the commands the README gives, under the agency name and languages set through ``GISPORTAL_*`` variables. The
portal then serves this town: its own name, search examples taken from its data (never Tangier's), notes whose
areas and zone shares are computed in EPSG:2154 and checked here by hand.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner
from support.publication import plan_store  # noqa: F401 (fixture: plan "p", zones A and B, parcels)

from gisportal.cli.commands import main

pytestmark = pytest.mark.backends("embedded")

E0, N0 = 940_000.0, 6_540_000.0  # Lambert-93 metres, near Annecy
RULES = """\
uses:
  housing: {fr: Habitation, ar: السكن, en: Housing}
zones:
  UA:
    label: {fr: Centre ancien, ar: المركز القديم, en: Old centre}
    color: "#c0392b"
    allowed_uses: [housing]
    cos: 1.5
    ces: 0.6
    max_height_m: 12
  N:
    label: {fr: Zone naturelle, ar: منطقة طبيعية, en: Natural area}
    color: "#27ae60"
    allowed_uses: []
    cos: 0.0
    ces: 0.0
"""


def _rect(x0: float, y0: float, x1: float, y1: float) -> dict:
    ring = [[E0 + x0, N0 + y0], [E0 + x1, N0 + y0], [E0 + x1, N0 + y1], [E0 + x0, N0 + y1], [E0 + x0, N0 + y0]]
    return {"type": "Polygon", "coordinates": [ring]}


def _geojson(path: Path, rows: list[tuple[dict, dict]]) -> Path:
    path.write_text(json.dumps({
        "type": "FeatureCollection", "crs": {"type": "name", "properties": {"name": "urn:ogc:def:crs:EPSG::2154"}},
        "features": [{"type": "Feature", "properties": p, "geometry": g} for p, g in rows]}), encoding="utf-8")
    return path


def test_a_town_of_its_own_in_lambert_93_follows_the_readme_recipe(tmp_path: Path, monkeypatch) -> None:
    data = tmp_path / "instance"
    parcels = _geojson(tmp_path / "parcelles.geojson", [
        ({"IDU": "74010-AB-0012", "ADRESSE": "12 rue du Lac", "QUARTIER": "Vieux bourg"}, _rect(0, 0, 20, 30)),
        ({"IDU": "74010-AB-0013", "ADRESSE": "14 rue du Lac", "QUARTIER": "Vieux bourg"}, _rect(40, 0, 80, 30)),
    ])
    zones = _geojson(tmp_path / "zonage.geojson", [
        ({"CODE": "UA", "LIBELLE": "Centre ancien"}, _rect(-10, -10, 60, 40)),
        ({"CODE": "N", "LIBELLE": "Zone naturelle"}, _rect(60, -10, 120, 40)),
    ])
    rules = tmp_path / "rules.yaml"
    rules.write_text(RULES, encoding="utf-8")
    for name, value in {"GISPORTAL_DATA_DIR": str(data), "GISPORTAL_RULES_FILE": str(rules),
                        "GISPORTAL_AGENCY_NAME_FR": "Agence d'urbanisme du Lac", "GISPORTAL_LANGUAGES": "fr,en",
                        "GISPORTAL_DEFAULT_LANGUAGE": "fr", "GISPORTAL_BASEMAP_URL": ""}.items():
        monkeypatch.setenv(name, value)

    names = tmp_path / "noms-ar.csv"  # the recipe's Arabic names: a quarter, a street, the approval act
    names.write_text("kind;name;arabic\nquarter;Vieux bourg;البلدة القديمة\nstreet;rue du Lac;زنقة البحيرة\n"
                     "approval_act;Délibération 2024-17;مداولة رقم 2024-17\n", encoding="utf-8")
    runner = CliRunner()
    steps = [["import-parcels", str(parcels), "--ref-field", "IDU", "--address-field", "ADRESSE",
              "--quarter-field", "QUARTIER"],
             ["import-plan", str(zones), "--name", "plu-lac", "--zone-field", "CODE", "--label-field", "LIBELLE",
              "--approved", "2024-06-01", "--approval-act", "Délibération 2024-17", "--title", "PLU du Lac"],
             ["names", str(names)]]
    for step in steps:
        result = runner.invoke(main, step, catch_exceptions=False)
        assert result.exit_code == 0, (step, result.output)

    from gisportal.core.settings import load_settings
    from gisportal.web import create_app

    app = create_app({**load_settings().model_dump(), "TESTING": True})
    client = app.test_client()
    assert app.extensions["gisportal"].store.crs == "EPSG:2154"
    page = client.get("/").get_data(as_text=True)
    assert "Agence d&#39;urbanisme du Lac" in page or "Agence d'urbanisme du Lac" in page
    assert "TF-104523" not in page and "Marshan" not in page  # nothing of Tangier
    assert '<bdi class="gp-example" dir="ltr">74010-AB-00' in page
    assert '<bdi class="gp-example">Vieux bourg</bdi>' in page
    assert client.get("/?lang=ar").status_code == 200  # not offered: French, the default, answers
    # parcel 0012 is 20 x 30 m = 600 m², all in UA; parcel 0013 is 40 x 30 m = 1200 m², 20 m of it in UA
    note = client.get("/api/v1/notes?ref=74010-AB-0013").get_json()
    assert note["parcel"]["area_m2"] == pytest.approx(1200.0, abs=0.01)
    shares = {z["code"]: z["share"] for z in note["zones"]}
    assert shares == pytest.approx({"UA": 0.5, "N": 0.5}, abs=1e-6)
    ua = next(z for z in note["zones"] if z["code"] == "UA")
    assert ua["buildability"]["max_floor_area_m2"] == pytest.approx(600 * 1.5, abs=0.01)
    found = client.get("/api/v1/search?q=12 rue du Lac").get_json()["suggestions"]
    assert found and found[0]["ref"] == "74010-AB-0012"
    assert client.get("/api/v1/search?q=Vieux bourg").get_json()["suggestions"][0]["kind"] == "quarter"
    html = client.get("/note?ref=74010-AB-0012").get_data(as_text=True)
    assert "Centre ancien" in html and "Délibération 2024-17" in html
    for typed, label in (("البلدة القديمة", "البلدة القديمة (Vieux bourg)"),
                         ("شارع البحيرة", "زنقة البحيرة (rue du Lac)")):
        assert client.get("/api/v1/search", query_string={"q": typed}).get_json()["suggestions"][0]["label"] == label
    assert client.get("/api/v1/search", query_string={"q": "12 زنقة البحيرة"}).get_json()[
        "suggestions"][0]["ref"] == "74010-AB-0012"


def test_a_layer_lying_elsewhere_is_one_blocking_finding_saying_where(tmp_path: Path, tiny_app) -> None:
    """241 zones drawn 300 km east of a 1 km territory (in its own CRS): one blocking finding, not 241, with the
    layer's extent in WGS84 and its distance (299 km, by hand) from the territory."""
    from support.layers import LAMBERT, X0, Y0, gpkg, layer, lonlat

    from gisportal.publishing.validation import BLOCKING, validate_layer

    cells = [(300_000 + 10 * i, 0, 300_000 + 10 * i + 10, 10) for i in range(241)]
    path = gpkg(tmp_path, layer(cells, CODE=["A"] * len(cells)))
    report = validate_layer(path, zone_field="CODE", instance_crs=LAMBERT, territory=(X0, Y0, X0 + 1000, Y0 + 1000))
    outside = [f for f in report.findings if f.code == "outside_territory"]
    assert len(outside) == 1 and outside[0].severity == BLOCKING and report.blocking
    finding = outside[0]
    assert finding.details["features"] == 241
    assert finding.details["distance_km"] == pytest.approx(299.0, abs=1e-3)  # 300,000 - 1,000 m
    lon0, lat0 = lonlat(300_000, 0)
    lon1, lat1 = lonlat(302_410, 10)
    assert finding.details["extent_wgs84"] == pytest.approx([lon0, lat0, lon1, lat1], abs=1e-6)
    assert "241 features" in finding.message and "299.0 km" in finding.message
    assert f"{lon0:.4f}" in finding.message and f"{lat1:.4f}" in finding.message
    from flask_babel import force_locale

    from gisportal.web.publishing.findings import tell_finding

    with tiny_app.test_request_context("/"), force_locale("ar"):
        told = tell_finding(finding.to_dict())
    assert "241" in told and "299.0" in told and f"{lon0:.4f}" in told and "الطبقة بأكملها" in told


@pytest.mark.parametrize(("tolerance", "blocking"), [(5.0, False), (1.0, True)])
def test_an_overlap_below_the_tolerance_set_is_a_warning(tmp_path: Path, plan_store, tolerance: float,
                                                         blocking: bool) -> None:
    """Zones A (0..100.02 x 0..100) and B (100..200): a 0.02 x 100 = 2 m² overlap, below 5 m² and above 1 m²."""
    from support.publication import CRS, _token, _upload, zones

    from gisportal.core.accounts import Accounts
    from gisportal.web import create_app

    app = create_app({"data_dir": tmp_path, "crs": CRS, "overlap_tolerance_m2": tolerance})
    Accounts(app.extensions["gisportal"].agency).create("amina", "un-mot-de-passe-long", "planner")
    client = app.test_client()
    client.post("/login", data={"username": "amina", "password": "un-mot-de-passe-long",
                                "csrf_token": _token(client.get("/login").get_data(as_text=True))})
    path = tmp_path / "sliver.gpkg"
    zones([("A", (0, 0, 100.02, 100)), ("B", (100, 0, 200, 100))]).to_file(path, engine="pyogrio")
    answer = _upload(client, path, zone_field="code")
    assert answer.status_code == 302, answer.get_data(as_text=True)[:2000]
    draft = client.get(answer.headers["Location"].replace("/admin/drafts/", "/api/v1/drafts/")).get_json()
    [overlap] = [f for f in draft["report"]["findings"] if f["code"] == "zone_overlap"]
    assert overlap["details"]["area_m2"] == pytest.approx(2.0, abs=0.01)
    assert overlap["severity"] == ("blocking" if blocking else "warning") and draft["blocking"] is blocking


def test_long_finding_lists_say_how_many_more_and_page_through(tmp_path: Path, plan_store) -> None:
    """130 copies of one zone: 129 duplicate findings counted, the first 100 kept, listed 50 a page."""
    import re

    from support.publication import CRS, _token, _upload, zones

    from gisportal.core.accounts import Accounts
    from gisportal.web import create_app

    app = create_app({"data_dir": tmp_path, "crs": CRS, "overlap_tolerance_m2": 1.0})
    Accounts(app.extensions["gisportal"].agency).create("amina", "un-mot-de-passe-long", "planner")
    client = app.test_client()
    client.post("/login", data={"username": "amina", "password": "un-mot-de-passe-long",
                                "csrf_token": _token(client.get("/login").get_data(as_text=True))})
    frame = zones([("A", (10, 10, 20, 20))] * 130)
    path = tmp_path / "copies.gpkg"
    frame.to_file(path, engine="pyogrio")
    answer = _upload(client, path, zone_field="code")
    assert answer.status_code == 302, answer.get_data(as_text=True)[:2000]
    draft_url = answer.headers["Location"]
    report = client.get(draft_url.replace("/admin/drafts/", "/api/v1/drafts/")).get_json()["report"]
    assert report["counts_by_code"]["duplicate_feature"] == 129 and report["omitted"]["duplicate_feature"] == 29
    listed = len(report["findings"])
    assert listed > 100
    first = client.get(f"{draft_url}?lang=fr").get_data(as_text=True)
    assert first.count('class="gp-finding ') == 50
    assert re.search(r'data-code="duplicate_feature">29 autres constats de ce type', first)
    assert f"Constats 1 à 50 sur {listed} listés" in first and f"Page 1 sur {-(-listed // 50)}" in first
    pages = -(-listed // 50)
    last = client.get(f"{draft_url}?lang=fr&findings={pages}").get_data(as_text=True)
    assert last.count('class="gp-finding ') == listed - 50 * (pages - 1)
    assert f"Constats {50 * (pages - 1) + 1} à {listed} sur {listed}" in last
    assert client.get(f"{draft_url}?findings=99").status_code == 200  # past the end: the last page
