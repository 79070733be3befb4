"""Issue #14: hostile vector files are read in a limited child process; views, broken rings and NaN coordinates
give a clear 4xx (or findings), never a 500 or a hung worker, and no temporary copy is left behind."""

from __future__ import annotations

import json
import sqlite3
import tempfile
import time
from pathlib import Path

import pytest
from support.publication import _upload, plan_store, planner_client, zones  # noqa: F401  (fixtures)

pytestmark = pytest.mark.backends("embedded")


def _leftovers() -> set[str]:
    return {p.name for p in Path(tempfile.gettempdir()).glob("gisportal-upload-*")}


def _geojson(path: Path, rings: list) -> Path:
    features = [{"type": "Feature", "properties": {"code": "A"},
                 "geometry": {"type": "Polygon", "coordinates": [ring]}} for ring in rings]
    path.write_text(json.dumps({"type": "FeatureCollection", "features": features}))
    return path


def test_a_geopackage_with_an_endless_view_is_refused_at_once(planner_client, tmp_path):  # noqa: F811
    hostile = tmp_path / "plan.gpkg"
    zones([("A", (0, 0, 100, 100))]).to_file(hostile, driver="GPKG")
    with sqlite3.connect(hostile) as db:
        db.execute("CREATE VIEW endless AS WITH RECURSIVE n(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM n) "
                   "SELECT x FROM n")
    before, started = _leftovers(), time.monotonic()
    response = _upload(planner_client, hostile, zone_field="code")
    assert 400 <= response.status_code < 500 and "views" in response.get_data(as_text=True)
    assert time.monotonic() - started < 30
    assert _leftovers() <= before  # the temporary copy is gone


@pytest.mark.parametrize("ring, what", [
    ([[-5.80, 35.77], [-5.79, 35.77], [-5.79, 35.78]], "unclosed ring"),
    ([[-5.80, 35.77], [-5.79, 35.77], [-5.79, "NaN"], [-5.80, 35.77]], "NaN coordinate"),
])
def test_broken_geometries_are_told_not_a_500(planner_client, tmp_path, ring, what):  # noqa: F811
    if "NaN" in ring[2]:
        path = tmp_path / "nan.geojson"
        path.write_text(json.dumps({"type": "FeatureCollection", "features": [{
            "type": "Feature", "properties": {"code": "A"},
            "geometry": {"type": "Polygon", "coordinates": [ring]}}]}).replace('"NaN"', "NaN"))
    else:
        path = _geojson(tmp_path / "unclosed.geojson", [ring])
    before = _leftovers()
    response = _upload(planner_client, path, zone_field="code")
    assert response.status_code < 500, (what, response.status_code)
    if response.status_code == 302:  # accepted as a draft: the fault is a blocking finding
        page = planner_client.get(response.headers["Location"]).get_data(as_text=True)
        assert 'data-blocking="true"' in page, what
    assert _leftovers() <= before


def test_the_reader_refuses_nan_and_too_many_vertices(tmp_path):
    import geopandas as gpd
    import shapely

    from gisportal.core import vector_child
    from gisportal.core.errors import DataFileError

    frame = gpd.GeoDataFrame({"code": ["A"]}, geometry=[shapely.Polygon([(0, 0), (1, 0), (1, float("nan")),
                                                                         (0, 0)])], crs=26191)
    with pytest.raises(DataFileError, match="NaN"):
        vector_child.check_geometries(frame, "x.gpkg")
    with pytest.raises(DataFileError, match="vertices"):
        vector_child.check_geometries(zones([("A", (0, 0, 10, 10))]), "x.gpkg", max_vertices=4)  # a box has 5


@pytest.mark.parametrize(("setting", "value", "message"), [
    ("GISPORTAL_UPLOAD_MAX_VERTICES", "9", "10 vertices, more than the 9 accepted"),  # two boxes of 5
    ("GISPORTAL_UPLOAD_READ_SECONDS", "0.001", "took longer than 0.001 s to read"),
])
def test_lowered_upload_limits_refuse_a_file_the_defaults_accept(tmp_path, plan_store, monkeypatch,  # noqa: F811
                                                                 setting, value, message):
    """The reading limits are settings (GISPORTAL_UPLOAD_*), passed down to the planner's upload."""
    from support.publication import CRS, _token

    from gisportal.core.accounts import Accounts
    from gisportal.web import create_app

    draft = tmp_path / "draft.geojson"
    zones([("A", (0, 0, 95, 100)), ("B", (95, 0, 200, 100))]).to_crs(4326).to_file(draft, driver="GeoJSON")
    monkeypatch.setenv(setting, value)
    app = create_app({"data_dir": tmp_path, "crs": CRS})
    assert app.extensions["gisportal"].settings.model_dump()[setting.removeprefix("GISPORTAL_").lower()] == \
        pytest.approx(float(value))
    Accounts(app.extensions["gisportal"].agency).create("amina", "un-mot-de-passe-long", "planner")

    def upload(app):
        client = app.test_client()
        client.post("/login", data={"username": "amina", "password": "un-mot-de-passe-long",
                                    "csrf_token": _token(client.get("/login").get_data(as_text=True))})
        return _upload(client, draft, zone_field="code")

    refused = upload(app)
    assert refused.status_code == 422 and message in refused.get_data(as_text=True)
    monkeypatch.delenv(setting)
    assert upload(create_app({"data_dir": tmp_path, "crs": CRS})).status_code == 302  # the defaults accept it
