"""The ``gisportal`` command on files the tests write: imports from four formats and CRSs, notes, errors.

Settings come from the environment (GISPORTAL_DATA_DIR, GISPORTAL_RULES_FILE, and for PostGIS
GISPORTAL_DATABASE_URL), as in production.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import zipfile
from datetime import date, timedelta

import geopandas as gpd
import pytest
import shapely
from click.testing import CliRunner
from support.instances import new_instance

from gisportal.cli.commands import main

LAMBERT = "EPSG:26191"


def boxes(tiny, rows, crs=LAMBERT, **columns):
    geoms = [shapely.box(tiny.x0 + a, tiny.y0 + b, tiny.x0 + c, tiny.y0 + d) for a, b, c, d in rows]
    return gpd.GeoDataFrame(columns, geometry=geoms, crs=LAMBERT).to_crs(crs)


def run(*args, code=0):
    result = CliRunner().invoke(main, [str(a) for a in args])
    assert result.exit_code == code, (result.output, result.exception)
    return result


@pytest.fixture
def env(empty_instance, monkeypatch, tiny_rules_file):
    """An empty instance named by the environment, as the command line reads it."""
    for name, value in empty_instance.env.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("GISPORTAL_RULES_FILE", str(tiny_rules_file))
    return empty_instance


@pytest.fixture(scope="module")
def files(tiny, tmp_path_factory):
    """The four source files: zoning as a zipped shapefile (Lambert), servitudes in the second layer of a
    GeoPackage (Lambert), parcels as GeoJSON (WGS84) and more parcels in UTM 30N (EPSG:32630)."""
    d = tmp_path_factory.mktemp("files")
    shp = d / "shp"
    shp.mkdir()
    boxes(tiny, [(0, 0, 100, 100), (100, 0, 200, 100), (200, 0, 300, 100)], CODE=["A", "B", ""],
          LABEL=["Zone A", "Zone B", "?"]).to_file(shp / "zonage.shp", engine="pyogrio")
    zones_zip = d / "zonage.zip"
    with zipfile.ZipFile(zones_zip, "w") as z:
        for part in shp.iterdir():
            z.write(part, arcname=part.name)
    assert {p.suffix for p in shp.iterdir()} >= {".shp", ".shx", ".dbf", ".prj"}
    gpkg = d / "plan.gpkg"
    boxes(tiny, [(0, 0, 10, 10)], NAME=["decoy"]).to_file(gpkg, layer="legend", engine="pyogrio")
    boxes(tiny, [(0, 10, 40, 15), (0, 85, 100, 100)], KIND=["road_widening", "heritage"],
          LABEL=["Élargissement rue X", "Médina"]).to_file(gpkg, layer="servitudes", engine="pyogrio")
    geojson = d / "parcels.geojson"
    boxes(tiny, [(90, 10, 110, 30), (10, 10, 30, 30)], crs="EPSG:4326", REF=["TF-1001/06", "TF-1002/06"],
          ADDR=["1 Rue Ibn Battouta", "3 Rue Ibn Battouta"], QUARTER=["Marshan", "Marshan"]).to_file(geojson)
    utm = d / "parcels_utm.gpkg"
    boxes(tiny, [(70, 60, 110, 80)], crs="EPSG:32630", REF=["TF-1007/06"]).to_file(utm, engine="pyogrio")
    return {"zones": zones_zip, "servitudes": gpkg, "parcels": geojson, "utm": utm}


@pytest.fixture(scope="module")
def imported_template(request, backend, files, tiny_rules_file, tmp_path_factory):
    """An instance filled from the four files through the command line, once per module and backend."""
    instance = new_instance(request, backend, tmp_path_factory.mktemp("cli-data"))
    with pytest.MonkeyPatch.context() as mp:
        for name in [n for n in os.environ if n.startswith("GISPORTAL_")]:
            mp.delenv(name)
        for name, value in instance.env.items():
            mp.setenv(name, value)
        mp.setenv("GISPORTAL_RULES_FILE", str(tiny_rules_file))
        approved = (date.today() - timedelta(days=365)).isoformat()
        result = run("import-plan", files["zones"], "--name", "cli-plan", "--zone-field", "CODE", "--label-field",
                     "LABEL", "--approved", approved, "--approval-act", "Décret 2-99-1")
        report = json.loads(result.stdout)
        assert (report["read"], report["imported"]) == (3, 2)
        assert report["skipped"]["no_zone_code"] == {"count": 1, "features": [3]}
        assert "cli-plan version 1 published" in result.stderr
        report = json.loads(run("import-overlays", files["servitudes"], "--plan", "cli-plan", "--layer",
                                "servitudes", "--kind-field", "KIND", "--label-field", "LABEL").stdout)
        assert report["imported"] == 2
        report = json.loads(run("import-parcels", files["parcels"], "--ref-field", "REF", "--address-field", "ADDR",
                                "--quarter-field", "QUARTER").stdout)
        assert report["imported"] == 2 and report["source_crs"] == "EPSG:4326"
        report = json.loads(run("import-parcels", files["utm"], "--ref-field", "REF").stdout)
        assert report["imported"] == 1 and report["source_crs"] == "EPSG:32630"
    return instance


@pytest.fixture
def imported(request, backend, imported_template, tmp_path, monkeypatch, tiny_rules_file):
    """A private copy of the imported instance, named by the environment (GISPORTAL_DATA_DIR...)."""
    instance = new_instance(request, backend, tmp_path / "data", template=imported_template)
    for name, value in instance.env.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("GISPORTAL_RULES_FILE", str(tiny_rules_file))
    return instance


def note_json(*args):
    return json.loads(run("note", *args).stdout)


def test_four_formats_into_one_store_give_hand_computed_notes(imported):
    half = note_json("--parcel", "tf 1001/06")  # WGS84 GeoJSON, straddles A | B
    assert half["parcel"]["ref"] == "TF-1001/06" and half["parcel"]["address"] == "1 Rue Ibn Battouta"
    assert half["parcel"]["area_m2"] == pytest.approx(400.0, abs=0.05)
    assert half["parcel"]["centroid_metric"]["crs"] == "EPSG:26191"
    shares = {z["code"]: z["share"] for z in half["zones"]}
    assert shares == pytest.approx({"A": 0.5, "B": 0.5}, abs=1e-3)
    assert half["buildability"]["max_footprint_m2"] == pytest.approx(0.5 * 200 + 0.25 * 200, abs=0.05)
    assert {z["label"] for z in half["zones"]} == {"Zone A", "Zone B"}
    assert half["plans"][0]["approval_act"] == "Décret 2-99-1" and half["plans"][0]["status"] == "in_force"

    widened = note_json("--parcel", "1002/06")  # a quarter under the widening from the GeoPackage's 2nd layer
    (overlay,) = widened["overlays"]
    assert overlay["kind"] == "road_widening" and overlay["label"] == "Élargissement rue X"
    assert overlay["area_m2"] == pytest.approx(100.0, abs=0.05)
    assert widened["buildability"]["net_max_footprint_m2"] == pytest.approx(0.5 * (400 - 100), abs=0.05)
    assert widened["buildability"]["net_max_floor_area_m2"] == pytest.approx(2.0 * (400 - 100), abs=0.1)

    utm = note_json("--parcel", "TF-1007/06")  # from EPSG:32630
    assert utm["parcel"]["area_m2"] == pytest.approx(800.0, abs=0.05)
    assert {z["code"]: z["share"] for z in utm["zones"]} == pytest.approx({"A": 0.75, "B": 0.25}, abs=1e-3)
    assert utm["buildability"]["max_floor_area_m2"] == pytest.approx(2.0 * 600 + 1.0 * 200, abs=0.5)


def test_note_by_point_and_in_html(imported, tiny):
    from gisportal.core.coords import WGS84, transformer

    lon, lat = transformer(LAMBERT, WGS84).transform(tiny.x0 + 20, tiny.y0 + 20)
    assert note_json("--lon", lon, "--lat", lat)["parcel"]["ref"] == "TF-1002/06"
    html = run("note", "--parcel", "TF-1001/06", "--format", "html").stdout
    assert html.lstrip().lower().startswith("<!doctype html") and "TF-1001/06" in html
    assert 'data-code="A"' in html and 'data-code="B"' in html
    ar = note_json("--parcel", "TF-1001/06", "--lang", "ar")
    assert ar["language"] == "ar"


def test_note_as_of_before_the_plan(imported):
    early = (date.today() - timedelta(days=400)).isoformat()
    data = note_json("--parcel", "TF-1001/06", "--as-of", early)
    assert data["zones"] == [] and data["unzoned_share"] == 1.0
    assert {"code": "no_zone", "subject": ""} in data["warnings"]


def test_note_errors(imported):
    result = run("note", "--parcel", "TF-404/06", code=2)
    assert "No parcel with the land-title reference 'TF-404/06'" in result.stderr
    assert "Traceback" not in result.output
    result = run("note", code=2)
    assert "--parcel" in result.output
    assert "is not a date" in run("note", "--parcel", "TF-1001/06", "--as-of", "soon", code=2).output
    result = run("note", "--lon", "10", "--lat", "10", code=2)
    assert "outside the territory" in result.stderr


def test_cli_store_is_the_one_the_portal_serves(imported, tiny_rules_file):
    from gisportal.web import create_app

    client = create_app({**imported.settings, "rules_file": tiny_rules_file, "TESTING": True}).test_client()
    data = client.get("/api/v1/notes", query_string={"ref": "TF-1007/06"}).get_json()
    assert {z["code"]: z["share"] for z in data["zones"]} == pytest.approx({"A": 0.75, "B": 0.25}, abs=1e-3)


def test_import_parcels_report_duplicates_and_geometry_problems(imported, tiny, tmp_path):
    x, y = tiny.x0, tiny.y0
    bowtie = shapely.Polygon([(x + 10, y + 40), (x + 20, y + 50), (x + 20, y + 40), (x + 10, y + 50)])
    path = tmp_path / "messy.gpkg"
    gpd.GeoDataFrame({"REF": ["TF-2001/06", "TF-2001/06", "TF-2003/06", "TF-2004/06"]},
                     geometry=[shapely.box(x + 120, y + 10, x + 130, y + 20), shapely.box(x + 140, y + 10, x + 150,
                                                                                          y + 20), None, bowtie],
                     crs=LAMBERT).to_file(path, engine="pyogrio")
    report = json.loads(run("import-parcels", path, "--ref-field", "REF").stdout)
    assert report["skipped"]["duplicate_reference"] == {"count": 1, "features": ["TF-2001/06"]}
    assert report["skipped"]["empty_geometry"] == {"count": 1, "features": [3]}
    assert report["repaired"]["invalid_geometry"] == {"count": 1, "features": [4]}
    assert report["imported"] == 2
    first = note_json("--parcel", "TF-2001/06")
    assert first["parcel"]["centroid_metric"]["x"] == pytest.approx(x + 125, abs=0.01)  # the first one was kept
    assert note_json("--parcel", "TF-2004/06")["parcel"]["area_m2"] == pytest.approx(50.0)


def test_import_plan_without_zone_codes_anywhere(imported, tiny, tmp_path):
    path = tmp_path / "nocode.geojson"
    boxes(tiny, [(0, 0, 10, 10), (10, 0, 20, 10)], CODE=[None, "  "]).to_file(path)
    before = imported.snapshot()
    result = run("import-plan", path, "--name", "cli-plan", "--zone-field", "CODE", code=2)
    assert "no_zone_code block publication" in result.stderr  # the upload's validation, run by the CLI too
    report = json.loads(result.stderr.split("\n", 1)[1])
    assert report["blocking"] and report["findings"][0]["details"] == {"features": 2}
    assert imported.snapshot() == before


@pytest.mark.parametrize("case", ["garbage-gpkg", "not-a-zip", "shapefile-without-prj", "missing-file",
                                  "unsupported", "missing-field", "unknown-crs", "unknown-plan", "bad-layer"])
def test_unreadable_input_exits_2_and_leaves_the_store_alone(imported, tiny, tmp_path, case):
    before = imported.snapshot()
    if case == "garbage-gpkg":
        (path := tmp_path / "parcels.gpkg").write_bytes(b"\x89 definitely not sqlite \x00" * 100)
        args, says = ["import-parcels", path, "--ref-field", "REF"], "Cannot read parcels.gpkg"
    elif case == "not-a-zip":
        (path := tmp_path / "zonage.zip").write_bytes(b"this is a text file")
        args, says = ["import-plan", path, "--name", "x", "--zone-field", "CODE"], "not a zip archive"
    elif case == "shapefile-without-prj":
        boxes(tiny, [(0, 0, 5, 5)], REF=["TF-9/06"]).to_file(tmp_path / "noprj.shp", engine="pyogrio")
        (tmp_path / "noprj.prj").unlink()
        path = tmp_path / "noprj.shp"
        args, says = ["import-parcels", path, "--ref-field", "REF"], "declares no coordinate reference system"
    elif case == "missing-file":
        args, says = ["import-parcels", tmp_path / "absent.geojson", "--ref-field", "REF"], "File not found"
    elif case == "unsupported":
        (path := tmp_path / "parcels.csv").write_text("REF,X,Y\nTF-1/06,1,2\n")
        args, says = ["import-parcels", path, "--ref-field", "REF"], "unsupported file type"
    elif case == "missing-field":
        boxes(tiny, [(0, 0, 5, 5)], NUM=["TF-9/06"]).to_file(path := tmp_path / "p.geojson")
        args, says = ["import-parcels", path, "--ref-field", "REF"], "no field 'REF'"
    elif case == "unknown-crs":
        boxes(tiny, [(0, 0, 5, 5)], REF=["TF-9/06"]).to_file(tmp_path / "noprj.shp", engine="pyogrio")
        (tmp_path / "noprj.prj").unlink()
        args = ["import-parcels", tmp_path / "noprj.shp", "--ref-field", "REF", "--crs", "EPSG:999999"]
        says = "Unknown coordinate reference system"
    elif case == "unknown-plan":
        boxes(tiny, [(0, 0, 5, 5)]).to_file(path := tmp_path / "o.geojson")
        args, says = ["import-overlays", path, "--plan", "nope", "--kind", "heritage"], "No plan named 'nope'"
    else:
        boxes(tiny, [(0, 0, 5, 5)], REF=["TF-9/06"]).to_file(path := tmp_path / "one.gpkg", layer="a",
                                                              engine="pyogrio")
        args, says = ["import-parcels", path, "--ref-field", "REF", "--layer", "b"], "one.gpkg"
    result = run(*args, code=2)
    assert result.stderr.startswith("error: ") and says in result.stderr, result.stderr
    assert "Traceback" not in result.output
    assert imported.snapshot() == before
    assert [p.name for p in imported.data_dir.iterdir() if ".tmp" in p.name] == []  # no half-written copy left


def test_shapefile_without_prj_with_crs_option(imported, tiny, tmp_path):
    boxes(tiny, [(120, 40, 130, 50)], REF=["TF-3001/06"]).to_file(tmp_path / "noprj.shp", engine="pyogrio")
    (tmp_path / "noprj.prj").unlink()
    run("import-parcels", tmp_path / "noprj.shp", "--ref-field", "REF", "--crs", "EPSG:26191")
    data = note_json("--parcel", "TF-3001/06")
    assert data["parcel"]["area_m2"] == 100.0 and data["zones"][0]["code"] == "B"


def test_demo_command(env):
    counts = json.loads(run("demo", "--parcels", "300").stdout)
    assert counts["plan_versions"] == 2 and 280 <= counts["parcels"] <= 320
    assert counts["zones"] > 0 and counts["overlays"] > 0
    result = run("demo", "--parcels", "300", code=1)
    assert "--force" in result.output
    assert json.loads(run("demo", "--parcels", "300", "--force").stdout) == counts  # same seed, same city


def test_console_script_runs_in_a_subprocess(imported):
    """The installed entry point, in a real process, reading GISPORTAL_DATA_DIR from its environment."""
    exe = os.path.join(os.path.dirname(sys.executable), "gisportal")
    env = {**os.environ, **imported.env}
    done = subprocess.run([exe, "note", "--parcel", "TF-1002/06"], capture_output=True, text=True, env=env,
                          timeout=60)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["parcel"]["ref"] == "TF-1002/06"
