"""Importing vector files into a store: formats, CRSs, and the report of every feature.

Files are written by the tests with geopandas/pyogrio; coordinates are boxes
relative to the tiny territory's origin in EPSG:26191.
"""

from __future__ import annotations

import zipfile
from datetime import date

import geopandas as gpd
import numpy as np
import pytest
import shapely
from support.instances import new_instance

from gisportal.core.errors import DataFileError, InvalidInput, UnknownCRS
from gisportal.core.vectors import list_layers, read_vector_layer
from gisportal.publishing.imports import import_overlays, import_parcels, import_plan

LAMBERT = "EPSG:26191"


def frame(rows, crs=LAMBERT, **columns):
    """A GeoDataFrame from geometries (boxes as 4-tuples, or shapely geometries) and attribute columns."""
    geoms = [None if g is None else (shapely.box(*g) if isinstance(g, tuple) else g) for g in rows]
    return gpd.GeoDataFrame(columns, geometry=gpd.GeoSeries(geoms, crs=LAMBERT)).to_crs(crs)


def at(tiny, minx, miny, maxx, maxy):
    return (tiny.x0 + minx, tiny.y0 + miny, tiny.x0 + maxx, tiny.y0 + maxy)


def zipped_shapefile(gdf, directory, name):
    shp = directory / f"{name}.shp"
    gdf.to_file(shp, engine="pyogrio")
    archive = directory / f"{name}.zip"
    with zipfile.ZipFile(archive, "w") as z:
        for part in directory.glob(f"{name}.*"):
            if part.suffix != ".zip":
                z.write(part, arcname=part.name)
    return archive


@pytest.fixture
def store(empty_instance):
    return empty_instance.open_store()


@pytest.fixture(scope="module")
def zoned_template(request, backend, tiny, tmp_path_factory):
    """An instance with plan 'p' version 1: zones A (x 0..100) and B (x 100..200), imported from GeoJSON."""
    directory = tmp_path_factory.mktemp("zoned")
    path = directory / "zones.geojson"
    frame([at(tiny, 0, 0, 100, 100), at(tiny, 100, 0, 200, 100)], CODE=["A", "B"]).to_file(path)
    instance = new_instance(request, backend, directory / "data")
    store = instance.open_store()
    import_plan(store, path, name="p", zone_field="CODE", approved=date(2024, 1, 1))
    store.close()
    return instance


@pytest.fixture
def zoned(request, backend, zoned_template, tmp_path):
    """A private copy of the zoned instance."""
    return new_instance(request, backend, tmp_path / "data", template=zoned_template)


@pytest.fixture
def zoned_store(zoned):
    """The store of the private zoned instance."""
    return zoned.open_store()


def test_zipped_shapefile_plan(store, tiny, tmp_path):
    gdf = frame([at(tiny, 0, 0, 100, 100), at(tiny, 100, 0, 200, 100), at(tiny, 200, 0, 300, 100)],
                CODE=["A", "B", None], LABEL=["Zone A", "Zone B", "sans code"], LABEL_AR=["أ", "ب", ""])
    archive = zipped_shapefile(gdf, tmp_path, "zonage")
    assert {n.rsplit(".", 1)[1] for n in zipfile.ZipFile(archive).namelist()} >= {"shp", "shx", "dbf", "prj"}
    version, report = import_plan(store, archive, name="tanger", zone_field="CODE", label_field="LABEL",
                                  label_ar_field="LABEL_AR", approved=date(2024, 3, 1), approval_act="Décret X",
                                  title_fr="PA Tanger", title_ar="تصميم طنجة")
    assert (version.plan_name, version.version, version.effective_from) == ("tanger", 1, date(2024, 3, 1))
    assert version.approval_act == "Décret X" and version.title_ar == "تصميم طنجة"
    summary = report.to_dict()
    assert (summary["read"], summary["imported"]) == (3, 2)
    assert summary["skipped"]["no_zone_code"] == {"count": 1, "features": [3]}
    assert summary["source"] == "zonage.zip" and "26191" in summary["source_crs"]
    assert store.crs == LAMBERT
    hits = store.zones_on(shapely.box(*at(tiny, 90, 10, 110, 30)), [version.id])
    assert sorted((h.code, h.label_fr, h.label_ar, round(h.area_m2, 6)) for h in hits) == [
        ("A", "Zone A", "أ", 200.0), ("B", "Zone B", "ب", 200.0)]


def test_new_plan_import_is_a_new_version(zoned_store, tiny, tmp_path):
    path = tmp_path / "v2.geojson"
    frame([at(tiny, 0, 0, 200, 100)], CODE=["B"]).to_file(path)
    version, _ = import_plan(zoned_store, path, name="p", zone_field="CODE", approved=date(2025, 1, 1))
    assert version.version == 2
    assert [(v.version, v.effective_from) for v in zoned_store.plan_versions()] == [(1, date(2024, 1, 1)),
                                                                                     (2, date(2025, 1, 1))]


@pytest.mark.filterwarnings("ignore:More than one layer found")
def test_geopackage_with_two_layers(zoned_store, tiny, tmp_path):
    path = tmp_path / "servitudes.gpkg"
    frame([at(tiny, 0, 0, 5, 5)], NAME=["decoy"]).to_file(path, layer="decoy", engine="pyogrio")
    frame([at(tiny, 0, 10, 40, 15), at(tiny, 140, 40, 200, 100)], KIND=["road_widening", "heritage"],
          LABEL=["Élargissement", "Médina"]).to_file(path, layer="servitudes", engine="pyogrio")
    assert list_layers(path) == ["decoy", "servitudes"]
    with pytest.raises(DataFileError, match="no field 'KIND'.*NAME"):  # the first layer has no such field
        import_overlays(zoned_store, path, plan="p", kind_field="KIND")
    version, report = import_overlays(zoned_store, path, plan="p", kind_field="KIND", label_field="LABEL",
                                      layer="servitudes")
    assert version.version == 1 and report.imported == 2
    (hit,) = zoned_store.overlays_on(shapely.box(*at(tiny, 10, 10, 30, 30)), [version.id])
    assert (hit.kind, hit.label_fr, round(hit.area_m2, 6)) == ("road_widening", "Élargissement", 100.0)
    with pytest.raises(DataFileError, match="nope"):
        import_overlays(zoned_store, path, plan="p", kind="heritage", layer="nope")


def test_overlays_with_one_kind_and_errors(zoned_store, tiny, tmp_path):
    path = tmp_path / "ov.geojson"
    frame([at(tiny, 0, 0, 10, 10)], L=["x"]).to_file(path)
    _, report = import_overlays(zoned_store, path, plan="p", kind="green_space")
    assert report.imported == 1
    with pytest.raises(InvalidInput):
        import_overlays(zoned_store, path, plan="p")
    with pytest.raises(InvalidInput):
        import_overlays(zoned_store, path, plan="p", kind="a", kind_field="L")
    from gisportal.core.errors import NotFound

    with pytest.raises(NotFound, match="import-plan"):
        import_overlays(zoned_store, path, plan="no-such-plan", kind="heritage")


def test_geojson_in_wgs84_lands_in_the_instance_crs(zoned_store, tiny, tmp_path):
    path = tmp_path / "parcels.geojson"
    frame([at(tiny, 90, 10, 110, 30)], crs="EPSG:4326", REF=["TF-1001/06"]).to_file(path)
    report = import_parcels(zoned_store, path, ref_field="REF")
    assert report.source_crs == "EPSG:4326" and report.imported == 1
    parcel = zoned_store.parcel_by_ref("TF-1001/06")
    assert parcel.geometry.area == pytest.approx(400.0, abs=0.05)
    assert parcel.geometry.centroid.x == pytest.approx(tiny.x0 + 100, abs=0.01)


def test_square_reprojected_to_wgs84_keeps_its_area(tmp_path, tiny, empty_instance):
    """A 100 m x 100 m square in EPSG:26191, sent as WGS84 GeoJSON, is 10000 m² once back in EPSG:26191."""
    store = empty_instance.open_store(crs=LAMBERT)
    path = tmp_path / "square.geojson"
    square = frame([at(tiny, 0, 0, 100, 100)], crs="EPSG:4326", REF=["TF-1/06"])
    square.to_file(path)
    assert square.geometry.iloc[0].area < 1e-5  # in square degrees
    import_parcels(store, path, ref_field="REF")
    assert store.crs == LAMBERT
    assert store.parcel_by_ref("TF-1/06").geometry.area == pytest.approx(10000.0, abs=1.0)


def test_first_geographic_layer_picks_a_utm_zone(store, tiny, tmp_path):
    path = tmp_path / "square.geojson"
    square = frame([at(tiny, 0, 0, 100, 100)], crs="EPSG:4326", REF=["TF-1/06"])
    square.to_file(path)
    import_parcels(store, path, ref_field="REF")
    assert store.crs == "EPSG:32630"  # Tangier is in UTM zone 30N
    expected = square.to_crs("EPSG:32630").geometry.iloc[0].area
    assert store.parcel_by_ref("TF-1/06").geometry.area == pytest.approx(expected, abs=0.01)
    assert expected == pytest.approx(10000.0, rel=2e-3)  # UTM's scale error, 250 km off the central meridian


def test_layer_in_utm_is_reprojected(zoned_store, tiny, tmp_path):
    path = tmp_path / "parcels_utm.gpkg"
    frame([at(tiny, 70, 60, 110, 80)], crs="EPSG:32630", REF=["TF-1007/06"]).to_file(path, engine="pyogrio")
    report = import_parcels(zoned_store, path, ref_field="REF")
    assert report.source_crs == "EPSG:32630"
    parcel = zoned_store.parcel_by_ref("TF-1007/06")
    assert parcel.geometry.area == pytest.approx(800.0, abs=0.05)
    v = zoned_store.plan_versions()[0].id
    shares = {h.code: h.area_m2 / parcel.geometry.area for h in zoned_store.zones_on(parcel.geometry, [v])}
    assert shares == pytest.approx({"A": 0.75, "B": 0.25}, abs=1e-4)


def test_shapefile_without_prj(zoned_store, tiny, tmp_path):
    gdf = frame([at(tiny, 10, 10, 30, 30)], REF=["TF-1002/06"])
    gdf.to_file(tmp_path / "noprj.shp", engine="pyogrio")
    (tmp_path / "noprj.prj").unlink()
    with pytest.raises(DataFileError, match="declares no coordinate reference system.*--crs"):
        import_parcels(zoned_store, tmp_path / "noprj.shp", ref_field="REF")
    assert zoned_store.parcel_by_ref("TF-1002/06") is None
    with pytest.raises(UnknownCRS):
        import_parcels(zoned_store, tmp_path / "noprj.shp", ref_field="REF", crs="EPSG:999999")
    import_parcels(zoned_store, tmp_path / "noprj.shp", ref_field="REF", crs="EPSG:26191")
    assert zoned_store.parcel_by_ref("TF-1002/06").geometry.area == pytest.approx(400.0)


def test_declared_crs_wins_over_the_option(zoned_store, tiny, tmp_path):
    path = tmp_path / "utm.geojson"
    frame([at(tiny, 10, 10, 30, 30)], crs="EPSG:4326", REF=["TF-1/06"]).to_file(path)
    import_parcels(zoned_store, path, ref_field="REF", crs="EPSG:32630")  # ignored: the file says WGS84
    assert zoned_store.parcel_by_ref("TF-1/06").geometry.centroid.x == pytest.approx(tiny.x0 + 20, abs=0.01)


def test_parcels_report_duplicates_empty_and_invalid(zoned_store, tiny, tmp_path):
    x, y = tiny.x0, tiny.y0
    bowtie = shapely.Polygon([(x + 10, y + 40), (x + 20, y + 50), (x + 20, y + 40), (x + 10, y + 50)])
    assert not bowtie.is_valid
    rows = [at(tiny, 10, 10, 30, 30), at(tiny, 40, 10, 60, 30), None, shapely.Polygon(), bowtie,
            at(tiny, 70, 10, 80, 20), at(tiny, 0, 0, 1, 1)]
    refs = ["TF-1/06", "tf 1/06", "TF-3/06", "TF-4/06", "TF-5/06", "", "TF-7/06"]
    path = tmp_path / "parcels.gpkg"
    frame(rows, REF=refs, ADDR=["1 Rue A", "2 Rue A", "", "", "5 Rue B", "", "7 Rue C"],
          QUART=["Iberia"] * 7).to_file(path, engine="pyogrio")
    report = import_parcels(zoned_store, path, ref_field="REF", address_field="ADDR", quarter_field="QUART")
    summary = report.to_dict()
    assert summary["read"] == 7
    assert summary["skipped"]["duplicate_reference"] == {"count": 1, "features": ["tf 1/06"]}
    assert summary["skipped"]["no_reference"] == {"count": 1, "features": [6]}
    assert summary["skipped"]["empty_geometry"] == {"count": 2, "features": [3, 4]}
    assert summary["repaired"]["invalid_geometry"] == {"count": 1, "features": [5]}
    assert summary["imported"] == 3
    first = zoned_store.parcel_by_ref("TF-1/06")
    assert first.geometry.centroid.x == pytest.approx(x + 20)  # the first of the duplicates is kept
    assert first.address == "1 Rue A" and first.quarter == "Iberia"
    repaired = zoned_store.parcel_by_ref("TF-5/06").geometry
    assert repaired.is_valid and repaired.area == pytest.approx(50.0)  # two triangles of 25 m²
    assert zoned_store.parcel_by_ref("TF-3/06") is None and zoned_store.parcel_by_ref("TF-4/06") is None
    assert zoned_store.counts()["parcels"] == 3


def test_not_a_polygon_and_3d(zoned_store, tiny, tmp_path):
    x, y = tiny.x0, tiny.y0
    path = tmp_path / "mixed.geojson"
    poly3d = shapely.Polygon([(x, y, 5), (x + 10, y, 5), (x + 10, y + 10, 5), (x, y + 10, 5)])
    gpd.GeoDataFrame({"REF": ["TF-1/06", "TF-2/06", "TF-3/06"]},
                     geometry=[shapely.LineString([(x, y), (x + 5, y + 5)]), shapely.Point(x, y), poly3d],
                     crs=LAMBERT).to_file(path)
    summary = import_parcels(zoned_store, path, ref_field="REF").to_dict()
    assert summary["skipped"]["not_a_polygon"] == {"count": 2, "features": [1, 2]}
    assert summary["repaired"]["flattened_3d"] == {"count": 1, "features": [3]}
    assert summary["imported"] == 1
    geom = zoned_store.parcel_by_ref("TF-3/06").geometry
    assert not geom.has_z and geom.area == pytest.approx(100.0)


def test_nothing_usable_writes_nothing(zoned, zoned_store, tiny, tmp_path):
    path = tmp_path / "empty.gpkg"
    frame([None, at(tiny, 0, 0, 1, 1)], REF=["TF-1/06", ""]).to_file(path, engine="pyogrio")
    before = zoned.snapshot()
    with pytest.raises(DataFileError) as caught:
        import_parcels(zoned_store, path, ref_field="REF")
    assert "nothing was imported" in caught.value.message
    assert caught.value.details["report"]["skipped"]["empty_geometry"]["count"] == 1
    assert zoned.snapshot() == before


def test_missing_field_lists_the_fields(zoned_store, tmp_path, tiny):
    path = tmp_path / "p.geojson"
    frame([at(tiny, 0, 0, 1, 1)], NUM_TF=["TF-1/06"], ADRESSE=["x"]).to_file(path)
    with pytest.raises(DataFileError) as caught:
        import_parcels(zoned_store, path, ref_field="REF")
    assert "'REF'" in caught.value.message and "NUM_TF" in caught.value.message and "ADRESSE" in caught.value.message


@pytest.mark.parametrize(("name", "content", "says"), [
    ("garbage.gpkg", b"\x00\x01 not a geopackage at all" * 20, "Cannot read garbage.gpkg"),
    ("fake.zip", b"PK but not really a zip", "not a valid zip"),
    ("table.csv", b"a,b\n1,2\n", "unsupported file type"),
    ("broken.geojson", b'{"type": "FeatureCollection", "features": [', "Cannot read broken.geojson"),
])
def test_unreadable_files(zoned_store, tmp_path, name, content, says):
    path = tmp_path / name
    path.write_bytes(content)
    with pytest.raises(DataFileError, match=says):
        read_vector_layer(path)
    with pytest.raises(DataFileError):
        import_parcels(zoned_store, path, ref_field="REF")


def test_zip_without_vector_file(tmp_path):
    path = tmp_path / "docs.zip"
    with zipfile.ZipFile(path, "w") as z:
        z.writestr("readme.txt", "nothing here")
    with pytest.raises(DataFileError, match="holds no shapefile"):
        read_vector_layer(path)


def test_missing_file(tmp_path):
    with pytest.raises(DataFileError, match="File not found"):
        read_vector_layer(tmp_path / "absent.gpkg")


def test_attribute_encoding(tmp_path, tiny):
    gdf = frame([at(tiny, 0, 0, 10, 10)], REF=["TF-1/06"], ADDR=["Rue de la Liberté"])
    gdf.to_file(tmp_path / "latin.shp", engine="pyogrio", encoding="cp1252")
    (tmp_path / "latin.cpg").unlink(missing_ok=True)
    read = read_vector_layer(tmp_path / "latin.shp", encoding="cp1252")
    assert read["ADDR"].iloc[0] == "Rue de la Liberté"


def test_report_lists_at_most_50_ids(zoned_store, tiny, tmp_path):
    n = 60
    path = tmp_path / "many.gpkg"
    frame([at(tiny, i, 0, i + 1, 1) for i in range(n)], REF=[""] * (n - 1) + ["TF-1/06"]).to_file(
        path, engine="pyogrio")
    summary = import_parcels(zoned_store, path, ref_field="REF").to_dict()
    assert summary["skipped"]["no_reference"]["count"] == n - 1
    assert summary["skipped"]["no_reference"]["features"] == list(np.arange(1, 51))


def test_integer_fields_with_blanks_keep_whole_numbers(zoned_store, tiny, tmp_path):
    """An integer field with an empty cell is read as floats; codes and references must not become '12.0'."""
    import pandas as pd

    path = tmp_path / "numeric.gpkg"
    gpd.GeoDataFrame({"CODE": pd.array([12, None], dtype="Int64"), "NUM": pd.array([104523, 104524], dtype="Int64")},
                     geometry=[shapely.box(*at(tiny, 0, 0, 100, 100)), shapely.box(*at(tiny, 100, 0, 200, 100))],
                     crs=LAMBERT).to_file(path, engine="pyogrio")
    version, report = import_plan(zoned_store, path, name="numeric", zone_field="CODE")
    assert report.imported == 1 and report.to_dict()["skipped"]["no_zone_code"]["count"] == 1
    (hit,) = zoned_store.zones_on(shapely.Point(tiny.x0 + 50, tiny.y0 + 50), [version.id])
    assert hit.code == "12"
    parcels = tmp_path / "numeric_parcels.gpkg"
    gpd.GeoDataFrame({"NUM": pd.array([104523, None], dtype="Int64")},
                     geometry=[shapely.box(*at(tiny, 10, 10, 20, 20)), shapely.box(*at(tiny, 30, 10, 40, 20))],
                     crs=LAMBERT).to_file(parcels, engine="pyogrio")
    import_parcels(zoned_store, parcels, ref_field="NUM")
    assert zoned_store.parcel_by_ref("104523").ref == "104523"
