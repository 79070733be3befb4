"""Validating a plan layer: every finding code on a file written here, with areas computed by hand.

Coordinates are boxes (minx, miny, maxx, maxy) in metres relative to an origin near Tangier in Lambert Nord
Maroc (EPSG:26191), where areas are plain products of the sides.
"""

from __future__ import annotations

import json
import sqlite3
import struct
import zipfile

import geopandas as gpd
import pytest
import shapely
import yaml
from click.testing import CliRunner
from pyproj import CRS, Transformer
from pyproj.enums import WktVersion

from gisportal.cli.commands import main
from gisportal.core.errors import DataFileError, InvalidInput
from gisportal.publishing.uploads import UploadRejected, open_upload
from gisportal.publishing.validation import BLOCKING, CODES, WARNING, instance_context, validate_layer, validate_upload
from gisportal.publishing.validation_source import codec_from_cpg, detect_encoding
from gisportal.zoning.rules import parse_catalogue

LAMBERT = "EPSG:26191"
X0, Y0 = 460000.0, 570000.0
RULES_YAML = """\
zones:
  A: {label: {fr: Zone A, ar: المنطقة أ}}
  B: {label: {fr: Zone B, ar: المنطقة ب}}
"""


def geometry(item):
    """A box relative to the origin from a 4-tuple; other geometries are moved to the origin; None stays."""
    if item is None:
        return None
    if isinstance(item, tuple):
        return shapely.box(X0 + item[0], Y0 + item[1], X0 + item[2], Y0 + item[3])
    return shapely.affinity.translate(item, X0, Y0)


def layer(items, crs=LAMBERT, **columns) -> gpd.GeoDataFrame:
    return gpd.GeoDataFrame(columns, geometry=gpd.GeoSeries([geometry(i) for i in items], crs=LAMBERT)).to_crs(crs)


def gpkg(tmp_path, frame, name="zones"):
    path = tmp_path / f"{name}.gpkg"
    frame.to_file(path, layer=name, engine="pyogrio")
    return path


def shapefile(tmp_path, frame, name="zones", cpg=True, prj=True, **kwargs):
    path = tmp_path / f"{name}.shp"
    frame.to_file(path, engine="pyogrio", **kwargs)
    if not cpg:
        path.with_suffix(".cpg").unlink()
    if prj is not True:
        path.with_suffix(".prj").unlink()
        if prj:
            path.with_suffix(".prj").write_text(prj)
    return path


def codes(report, severity=None):
    return [f.code for f in report.findings if severity is None or f.severity == severity]


def only(report, code):
    [finding] = [f for f in report.findings if f.code == code]
    return finding


def lonlat(x, y):
    return Transformer.from_crs(LAMBERT, "EPSG:4326", always_xy=True).transform(X0 + x, Y0 + y)


def test_clean_plan_has_no_finding(tmp_path):
    path = gpkg(tmp_path, layer([(0, 0, 100, 100), (100, 0, 200, 100)], CODE=["A", "B"], LABEL=["Médina", "حي"]))
    catalogue = parse_catalogue(yaml.safe_load(RULES_YAML), "test")
    report = validate_layer(path, zone_field="CODE", catalogue=catalogue, instance_crs=LAMBERT,
                            territory=(X0, Y0, X0 + 1000, Y0 + 1000))
    assert report.findings == [] and not report.blocking and report.counts == {BLOCKING: 0, WARNING: 0}
    assert (report.feature_count, report.crs_found, report.crs_used, report.area_crs) == (2, LAMBERT, LAMBERT, LAMBERT)
    assert report.layer == "zones" and report.fields == ["CODE", "LABEL"] and report.zone_field == "CODE"
    corners = [lonlat(x, y) for x in (0, 200) for y in (0, 100)]  # meridians are not parallel to the grid
    lons, lats = [c[0] for c in corners], [c[1] for c in corners]
    assert report.bbox_wgs84 == pytest.approx([min(lons), min(lats), max(lons), max(lats)], abs=1e-7)
    data = json.loads(json.dumps(report.to_dict(), ensure_ascii=False))
    assert data["blocking"] is False and data["feature_count"] == 2 and data["findings"] == []
    assert "OK to publish" in report.to_text()


# --- CRS ----------------------------------------------------------------------------------------------------------
def test_crs_missing_or_given(tmp_path):
    path = shapefile(tmp_path, layer([(0, 0, 100, 100)], CODE=["A"]), prj=False)
    report = validate_layer(path, zone_field="CODE")
    assert codes(report, BLOCKING) == ["crs_missing"] and report.crs_used is None and report.area_crs is None
    report = validate_layer(path, zone_field="CODE", crs="EPSG:26191")
    assert report.findings == [] and report.crs_used == LAMBERT and report.area_crs == "EPSG:32630"


def test_us_feet_state_plane_and_lambert_give_the_same_areas(tmp_path):
    """Zones A and B overlap on half of a 100 m square: 5,000 m², whether the file is in metres or US feet."""
    lambert = gpkg(tmp_path, layer([(0, 0, 100, 100), (50, 0, 150, 100)], CODE=["A", "B"]), "lambert")
    side = 100 / 0.3048006096012192  # 100 m in US survey feet
    e0, n0 = 6_561_666.0, 2_100_000.0  # California zone 3 (EPSG:2227), near Sacramento
    feet = gpd.GeoDataFrame({"CODE": ["A", "B"]}, geometry=[
        shapely.box(e0, n0, e0 + side, n0 + side), shapely.box(e0 + side / 2, n0, e0 + 1.5 * side, n0 + side)],
        crs="EPSG:2227")
    feet_path = shapefile(tmp_path, feet, "feet")
    in_lambert = only(validate_layer(lambert, zone_field="CODE", instance_crs=LAMBERT), "zone_overlap")
    in_feet = validate_layer(feet_path, zone_field="CODE")
    assert in_feet.crs_used == "EPSG:2227" and in_feet.area_crs == "EPSG:32610"
    assert in_lambert.details["area_m2"] == 5000.0
    # Scale factors of the state plane and of UTM differ by < 0.1 %; feet read as metres would give 464.5 m².
    assert only(in_feet, "zone_overlap").details["area_m2"] == pytest.approx(5000.0, rel=5e-3)


def test_prj_without_epsg_code_matching_a_known_crs(tmp_path):
    """An ESRI .prj of Lambert Nord Maroc under made-up names: identified as EPSG:26191 and its datum shift used."""
    custom = CRS.from_epsg(26191).to_wkt(WktVersion.WKT1_ESRI).replace("Nord_Maroc", "Plan_Tanger_2024") \
        .replace("GCS_Merchich", "GCS_Local").replace("D_Merchich", "D_Local")
    assert CRS.from_wkt(custom).to_epsg() is None
    path = shapefile(tmp_path, layer([(0, 0, 100, 100)], CODE=["A"]), prj=custom)
    report = validate_layer(path, zone_field="CODE")
    finding = only(report, "crs_custom")
    assert finding.severity == WARNING and finding.details["matched"] == LAMBERT and report.crs_used == LAMBERT
    assert report.crs_found == "Plan_Tanger_2024" and not report.blocking
    corners = [lonlat(x, y) for x in (0, 100) for y in (0, 100)]
    west, south = min(c[0] for c in corners), min(c[1] for c in corners)
    assert report.bbox_wgs84[:2] == pytest.approx([west, south], abs=1e-7)  # not ~300 m off (no datum shift)


def test_prj_matching_nothing_is_used_as_written(tmp_path):
    odd = CRS.from_epsg(26191).to_wkt(WktVersion.WKT1_ESRI).replace("Nord_Maroc", "Chantier") \
        .replace("-5.4", "-5.8")
    path = shapefile(tmp_path, layer([(0, 0, 100, 100)], CODE=["A"]), prj=odd)
    report = validate_layer(path, zone_field="CODE")
    finding = only(report, "crs_custom")
    assert finding.details["matched"] is None and report.crs_used == "Chantier" and not report.blocking


def test_unusable_prj(tmp_path):
    local = shapefile(tmp_path, layer([(0, 0, 100, 100)], CODE=["A"]), "local",
                      prj='LOCAL_CS["Chantier local",UNIT["Meter",1.0]]')
    assert only(validate_layer(local, zone_field="CODE"), "crs_unusable").severity == BLOCKING
    garbage = shapefile(tmp_path, layer([(0, 0, 100, 100)], CODE=["A"]), "garbage", prj="n'importe quoi")
    assert only(validate_layer(garbage, zone_field="CODE"), "crs_unusable").severity == BLOCKING
    report = validate_layer(garbage, zone_field="CODE", crs=LAMBERT)
    assert only(report, "crs_unusable").severity == WARNING and report.crs_used == LAMBERT and not report.blocking


def test_declared_crs_wins_and_wrong_declaration(tmp_path):
    path = gpkg(tmp_path, layer([(0, 0, 100, 100)], CODE=["A"]))
    report = validate_layer(path, zone_field="CODE", crs="EPSG:4326")
    assert codes(report) == ["crs_ignored"] and report.crs_used == LAMBERT
    lying = gpd.GeoDataFrame({"CODE": ["A"]}, geometry=[geometry((0, 0, 100, 100))], crs="EPSG:4326")
    report = validate_layer(gpkg(tmp_path, lying, "lying"), zone_field="CODE")
    assert codes(report, BLOCKING) == ["coordinates_outside_crs"]


# --- encodings ----------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("encoding,label", [
    ("utf-8", "Zone résidentielle"), ("cp1252", "Zone résidentielle"), ("cp1256", "منطقة سكنية"),
])
def test_encoding_detected_without_cpg(tmp_path, encoding, label):
    frame = layer([(0, 0, 100, 100), (100, 0, 200, 100)], CODE=["A", "B"], LABEL=[label, "Médina"])
    path = shapefile(tmp_path, frame, cpg=False, encoding=encoding)
    report = validate_layer(path, zone_field="CODE")
    finding = only(report, "encoding_detected")
    assert report.encoding_used == encoding and report.encoding_found is None
    assert finding.details["example"] == label and "no .cpg" in finding.message
    assert "garbled_text" not in codes(report)


@pytest.mark.parametrize("text,codec", [("UTF-8", "utf-8"), ("1252", "cp1252"), ("ANSI 1256", "cp1256"),
                                        ("65001", "utf-8"), ("CP1256", "cp1256"), ("klingon", None), ("", None)])
def test_cpg_names(text, codec):
    assert codec_from_cpg(text) == codec


def test_detection_on_raw_bytes():
    assert detect_encoding([]) == "ascii"
    assert detect_encoding(["Élargissement de la voie".encode("cp1252")]) == "cp1252"  # É is ة in cp1256
    assert detect_encoding(["طريق".encode("cp1256"), "Médina".encode("cp1256")]) == "cp1256"
    assert detect_encoding(["Médina".encode()]) == "utf-8"


def test_french_and_arabic_labels_in_cp1256(tmp_path):
    frame = layer([(0, 0, 100, 100)], CODE=["A"], FR=["Médina, élargissement"], AR=["المدينة القديمة"])
    report = validate_layer(shapefile(tmp_path, frame, cpg=False, encoding="cp1256"), zone_field="CODE")
    assert report.encoding_used == "cp1256"


def test_wrong_cpg_and_ascii(tmp_path):
    path = shapefile(tmp_path, layer([(0, 0, 100, 100)], CODE=["A"], LABEL=["Zone résidentielle"]),
                     encoding="cp1252")
    path.with_suffix(".cpg").write_text("UTF-8")
    report = validate_layer(path, zone_field="CODE")
    assert report.encoding_found == "utf-8" and report.encoding_used == "cp1252"
    assert "says UTF-8" in only(report, "encoding_detected").message
    plain = shapefile(tmp_path, layer([(0, 0, 100, 100)], CODE=["A"]), "plain", cpg=False)
    report = validate_layer(plain, zone_field="CODE")
    assert report.findings == [] and report.encoding_used == "ascii"
    assert validate_layer(path, zone_field="CODE", encoding="cp1252").findings == []


def test_garbled_text(tmp_path):
    broken = "Zone résidentielle".encode().decode("cp1252")  # 'Zone rÃ©sidentielle'
    path = gpkg(tmp_path, layer([(0, 0, 100, 100), (100, 0, 200, 100)], CODE=["A", "B"], LABEL=["ok", broken]))
    finding = only(validate_layer(path, zone_field="CODE"), "garbled_text")
    assert finding.severity == WARNING and finding.details["examples"] == [
        {"feature_id": 2, "field": "LABEL", "value": broken}]


# --- geometry -----------------------------------------------------------------------------------------------------
def test_3d_polygons_are_flattened(tmp_path):
    cube = shapely.Polygon([(0, 0, 12), (100, 0, 12), (100, 100, 15), (0, 100, 15)])
    path = shapefile(tmp_path, layer([cube, (100, 0, 200, 100)], CODE=["A", "B"]))
    finding = only(validate_layer(path, zone_field="CODE"), "flattened_3d")
    assert finding.severity == WARNING and finding.details["z"] and finding.details["features"] == 2


def test_measured_geometries_are_flattened(tmp_path):
    """A GeoPackage whose polygon carries Z and M (pyogrio cannot write M: the blob is written by hand)."""
    path = tmp_path / "measured.gpkg"
    layer([(0, 0, 100, 100)], CODE=["A"]).to_file(path, layer="zones", engine="pyogrio", SPATIAL_INDEX="NO")
    ring = [(X0, Y0), (X0 + 100, Y0), (X0 + 100, Y0 + 100), (X0, Y0 + 100), (X0, Y0)]
    polygon = shapely.from_wkt("POLYGON ZM ((" + ", ".join(f"{x} {y} 5 {i}" for i, (x, y) in enumerate(ring)) + "))")
    blob = b"GP\x00\x01" + struct.pack("<i", 26191) + shapely.to_wkb(polygon, flavor="iso", byte_order=1)
    with sqlite3.connect(path) as con:
        con.execute("UPDATE zones SET geom = ?", (blob,))
        con.execute("UPDATE gpkg_geometry_columns SET z = 1, m = 1")
    finding = only(validate_layer(path, zone_field="CODE"), "flattened_3d")
    assert finding.details["m"] is True


def test_bow_tie_reason_and_repair(tmp_path):
    """The ring (0,0)-(100,100)-(100,0)-(0,100) crosses itself at (50,50); repaired: two triangles of 2,500 m²."""
    bow_tie = shapely.Polygon([(0, 0), (100, 100), (100, 0), (0, 100)])
    path = gpkg(tmp_path, layer([bow_tie], CODE=["A"]))
    finding = only(validate_layer(path, zone_field="CODE", instance_crs=LAMBERT), "invalid_geometry")
    assert finding.severity == WARNING and finding.feature_id == 1
    assert finding.details["reason"] == f"Self-intersection[{X0 + 50:.0f} {Y0 + 50:.0f}]"
    assert finding.details["repaired_area_m2"] == 5000.0 and finding.details["repaired_parts"] == 2
    assert finding.details["repair"] == "make_valid, polygonal part kept"
    assert finding.location == pytest.approx(lonlat(50, 50), abs=1e-7)
    assert f"Self-intersection at ({X0 + 50:.0f}, {Y0 + 50:.0f})" in finding.message


def test_empty_and_non_polygon_features(tmp_path):
    path = gpkg(tmp_path, layer([None, shapely.Point(5, 5), (0, 0, 100, 100)], CODE=["A", "A", "A"]))
    report = validate_layer(path, zone_field="CODE")
    assert [(f.code, f.severity, f.feature_id) for f in report.findings] == [
        ("empty_geometry", WARNING, 1), ("not_polygon", WARNING, 2)]
    lines = gpkg(tmp_path, layer([shapely.LineString([(0, 0), (10, 10)])], CODE=["A"]), "lines")
    report = validate_layer(lines, zone_field="CODE")
    assert codes(report, BLOCKING) == ["not_polygon"] and report.blocking
    empty = gpkg(tmp_path, layer([None], CODE=["A"]).iloc[:0], "empty")
    assert codes(validate_layer(empty, zone_field="CODE")) == ["no_features"]


# --- zones --------------------------------------------------------------------------------------------------------
def test_zone_codes_field_and_catalogue(tmp_path):
    frame = layer([(0, 0, 100, 100), (100, 0, 200, 100), (200, 0, 300, 100), (300, 0, 400, 100)],
                  zone=["A", "X", "Y", None])
    path = gpkg(tmp_path, frame)
    report = validate_layer(path, zone_field="ZONE", catalogue={"A", "B"})  # field names are matched loosely
    assert report.zone_field == "zone" and not report.blocking
    assert only(report, "no_zone_code").feature_id == 4
    finding = only(report, "code_without_rules")
    assert finding.details["codes"] == {"X": 1, "Y": 1} and "X, Y" in finding.message
    missing = validate_layer(path, zone_field="CODE_ZONE")
    assert only(missing, "zone_field_missing").details["fields"] == ["zone"] and missing.blocking
    assert codes(validate_layer(path), BLOCKING) == ["zone_field_missing"]
    blank = gpkg(tmp_path, layer([(0, 0, 1, 1)], CODE=[""]), "blank")
    assert only(validate_layer(blank, zone_field="CODE"), "no_zone_code").severity == BLOCKING


def test_overlaps_with_areas_by_hand(tmp_path):
    """A 0..100 and B 60..160 share 40 x 100 = 4,000 m²; D (10..20 squared) lies in A: 100 m²;
    E overlaps C by 0.01 x 50 = 0.5 m² (a sliver: warning); C touches B along an edge (no overlap)."""
    frame = layer([(0, 0, 100, 100), (60, 0, 160, 100), (160, 0, 260, 50), (10, 10, 20, 20), (259.99, 0, 300, 50)],
                  CODE=["A", "B", "C", "D", "E"])
    report = validate_layer(gpkg(tmp_path, frame), zone_field="CODE", instance_crs=LAMBERT)
    found = {(f.details["other_feature_id"], f.feature_id): (f.severity, f.details["area_m2"])
             for f in report.findings if f.code == "zone_overlap"}
    assert found == {(1, 2): (BLOCKING, 4000.0), (1, 4): (BLOCKING, 100.0), (3, 5): (WARNING, 0.5)}
    first = next(f for f in report.findings if f.code == "zone_overlap" and f.feature_id == 2)
    lon, lat = first.location
    assert lonlat(60, 0)[0] < lon < lonlat(100, 0)[0] and lonlat(60, 0)[1] < lat < lonlat(60, 100)[1]
    assert "Features 1 (zone A) and 2 (zone B) overlap over 4,000.0 m²" in first.message
    assert report.counts == {BLOCKING: 2, WARNING: 1} and report.blocking


def test_gaps_with_areas_by_hand(tmp_path):
    """3 x 3 squares of 100 m without the centre one, where an island of 20 x 20 m sits: gap 10,000 - 400 m².
    A missing corner is a notch of the perimeter, not a gap; a 0.5 m² hole is below the 1 m² threshold."""
    cells = [(x, y, x + 100, y + 100) for x in (0, 100, 200) for y in (0, 100, 200) if (x, y) != (100, 100)]
    island = (140, 140, 160, 160)
    notch = [(x, y, x + 100, y + 100) for x in (300, 400) for y in (0, 100) if (x, y) != (400, 100)]
    pinhole = shapely.box(400, 0, 500, 100).difference(shapely.box(450, 50, 450.5, 51))
    frame = layer(cells + [island] + notch[:-1] + [pinhole], CODE=["A"] * (len(cells) + 1 + len(notch)))
    report = validate_layer(gpkg(tmp_path, frame), zone_field="CODE", instance_crs=LAMBERT)
    finding = only(report, "zone_gap")
    assert finding.severity == WARNING and finding.details["area_m2"] == 9600.0 and not report.blocking
    lon, lat = finding.location
    assert lonlat(100, 100)[0] < lon < lonlat(200, 100)[0]


def test_outside_territory(tmp_path):
    """Territory 0..1000 squared; B sticks out by 50 x 100 = 5,000 m²; C lies 5 km away."""
    frame = layer([(0, 0, 100, 100), (950, 0, 1050, 100), (5000, 0, 5100, 100)], CODE=["A", "A", "A"])
    path = gpkg(tmp_path, frame)
    report = validate_layer(path, zone_field="CODE", instance_crs=LAMBERT, territory=(X0, Y0, X0 + 1000, Y0 + 1000))
    found = {f.feature_id: (f.severity, f.details.get("area_outside_m2")) for f in report.findings}
    assert found == {2: (WARNING, 5000.0), 3: (BLOCKING, None)}
    territory = shapely.box(X0, Y0, X0 + 1000, Y0 + 1000)
    assert validate_layer(path, zone_field="CODE", instance_crs=LAMBERT, territory=territory).counts == \
        {BLOCKING: 1, WARNING: 1}
    with pytest.raises(InvalidInput):
        validate_layer(path, territory=(0, 0, 1, 1))


def test_duplicates(tmp_path):
    """Feature 2 repeats feature 1 exactly; feature 4 has feature 3's outline (drawn from another vertex) with
    another code, which is also an overlap of the full 10,000 m²."""
    square = shapely.Polygon([(200, 0), (300, 0), (300, 100), (200, 100)])
    shifted = shapely.Polygon([(300, 100), (200, 100), (200, 0), (300, 0)])
    frame = layer([(0, 0, 100, 100), (0, 0, 100, 100), square, shifted], CODE=["A", "A", "A", "B"])
    report = validate_layer(gpkg(tmp_path, frame), zone_field="CODE", instance_crs=LAMBERT)
    dups = {f.feature_id: (f.details["duplicate_of"], f.details["same_attributes"])
            for f in report.findings if f.code == "duplicate_feature"}
    assert dups == {2: (1, True), 4: (3, False)}
    assert [(f.feature_id, f.details["area_m2"]) for f in report.findings if f.code == "zone_overlap"] == \
        [(4, 10000.0)]


def test_overlays_and_parcels_skip_zone_checks(tmp_path):
    frame = layer([(0, 0, 100, 100), (50, 0, 150, 100)], KIND=["heritage", "road"])
    for kind in ("overlays", "parcels"):
        report = validate_layer(gpkg(tmp_path, frame), kind=kind)
        assert report.findings == [] and report.kind == kind
    with pytest.raises(InvalidInput):
        validate_layer(gpkg(tmp_path, frame), kind="roads")


def test_findings_are_capped_but_counted(tmp_path):
    path = gpkg(tmp_path, layer([None] * 5 + [(0, 0, 1, 1)], CODE=["A"] * 6))
    report = validate_layer(path, zone_field="CODE", max_per_code=2)
    data = report.to_dict()
    assert len(data["findings"]) == 2 and data["counts_by_code"] == {"empty_geometry": 5}
    assert data["omitted"] == {"empty_geometry": 3} and data["counts"] == {BLOCKING: 0, WARNING: 5}
    assert "and 3 more empty_geometry" in report.to_text()


def test_every_code_is_documented():
    assert set(CODES.values()) <= {BLOCKING, WARNING, "either"} and len(CODES) == 20


# --- through an upload, and bad files -----------------------------------------------------------------------------
def test_validate_an_upload_and_a_zip_path(tmp_path):
    shp = shapefile(tmp_path, layer([(0, 0, 100, 100)], CODE=["A"], LABEL=["منطقة سكنية"]), cpg=False,
                    encoding="cp1256")
    archive = tmp_path / "plan.zip"
    with zipfile.ZipFile(archive, "w") as z:
        for part in tmp_path.glob("zones.*"):
            z.write(part, arcname=f"PA/{part.name}")
    with open_upload(archive.read_bytes(), filename="plan.zip", tmp_root=tmp_path) as intake:
        report = validate_upload(intake, zone_field="CODE")
    assert (report.source, report.layer, report.encoding_used) == ("plan.zip", "PA/zones", "cp1256")
    assert validate_layer(archive, zone_field="CODE").encoding_used == "cp1256"
    assert shp.exists()


def test_unreadable_files(tmp_path):
    with pytest.raises(DataFileError):
        validate_layer(tmp_path / "nothing.gpkg")
    bad = tmp_path / "bad.gpkg"
    bad.write_bytes(b"SQLite format 3\x00" + bytes(200))
    with pytest.raises(DataFileError):
        validate_layer(bad)
    two = gpkg(tmp_path, layer([(0, 0, 1, 1)], CODE=["A"]), "two")
    layer([(0, 0, 1, 1)], CODE=["A"]).to_file(two, layer="other", engine="pyogrio")
    with pytest.raises(InvalidInput, match="choose one of"):
        validate_layer(two)
    with pytest.raises(DataFileError, match="no layer 'x'"):
        validate_layer(two, layer="x")


# --- command line -------------------------------------------------------------------------------------------------
@pytest.fixture
def cli_env(tmp_path, monkeypatch):
    rules = tmp_path / "rules.yaml"
    rules.write_text(RULES_YAML, encoding="utf-8")
    monkeypatch.setenv("GISPORTAL_DATA_DIR", str(tmp_path / "instance"))
    monkeypatch.setenv("GISPORTAL_RULES_FILE", str(rules))
    monkeypatch.setenv("GISPORTAL_CRS", LAMBERT)
    return tmp_path


def test_cli_validate(cli_env, tmp_path):
    good = gpkg(tmp_path, layer([(0, 0, 100, 100), (100, 0, 200, 100)], CODE=["A", "C"]), "good")
    result = CliRunner().invoke(main, ["validate", str(good), "--zone-field", "CODE"])
    assert result.exit_code == 0, result.output
    assert "code_without_rules" in result.output and "OK to publish" in result.output
    bad = gpkg(tmp_path, layer([(0, 0, 100, 100), (50, 0, 150, 100)], CODE=["A", "B"]), "bad")
    result = CliRunner().invoke(main, ["validate", str(bad), "--zone-field", "CODE", "--format", "json"])
    assert result.exit_code == 1
    data = json.loads(result.output)
    assert data["blocking"] is True and data["findings"][0]["details"]["area_m2"] == 5000.0
    png = tmp_path / "plan.gpkg"
    png.write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(100))
    result = CliRunner().invoke(main, ["validate", str(png)])
    assert result.exit_code == 2 and "PNG image" in result.output


def test_cli_uses_the_instance_territory(cli_env, tmp_path):
    from gisportal.core.settings import load_settings
    from gisportal.storage import open_store

    store = open_store(load_settings())
    store.put_parcels(layer([(0, 0, 1000, 1000)], ref=["TF-1/06"], address=[""], quarter=[""]))
    store.close()
    context = instance_context(load_settings())
    assert context["instance_crs"] == LAMBERT and context["territory"] == (X0, Y0, X0 + 1000, Y0 + 1000)
    assert set(context["catalogue"].zones) == {"A", "B"}
    far = gpkg(tmp_path, layer([(5000, 0, 5100, 100)], CODE=["A"]), "far")
    result = CliRunner().invoke(main, ["validate", str(far), "--zone-field", "CODE"])
    assert result.exit_code == 1 and "outside_territory" in result.output


def test_hostile_zip_through_validate_layer(tmp_path):
    evil = tmp_path / "evil.zip"
    with zipfile.ZipFile(evil, "w") as z:
        z.writestr("../evil.shp", b"x")
    with pytest.raises(UploadRejected, match="outside the archive"):
        validate_layer(evil)
