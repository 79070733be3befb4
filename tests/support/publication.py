"""Test support taken from ``test_publication.py``: shared by several test modules."""

from __future__ import annotations

import re
from datetime import date
from pathlib import Path

import geopandas as gpd
import pytest
import shapely

from gisportal.storage.base import NewPlanVersion
from gisportal.storage.embedded.store import EmbeddedStore

CRS = "EPSG:26191"


X0, Y0 = 460000.0, 570000.0


def box(a: float, b: float, c: float, d: float) -> shapely.Polygon:
    return shapely.box(X0 + a, Y0 + b, X0 + c, Y0 + d)


def zones(rows: list[tuple[str, tuple]]) -> gpd.GeoDataFrame:
    return gpd.GeoDataFrame({"code": [c for c, _ in rows], "label_fr": [f"Zone {c}" for c, _ in rows],
                             "label_ar": [f"المنطقة {c}" for c, _ in rows]},
                            geometry=[box(*b) for _, b in rows], crs=CRS)


def overlays(rows: list[tuple[str, tuple]]) -> gpd.GeoDataFrame:
    return gpd.GeoDataFrame({"kind": [k for k, _ in rows], "label_fr": ["x"] * len(rows), "label_ar": ["س"] * len(rows),
                             "provision_fr": [""] * len(rows), "provision_ar": [""] * len(rows),
                             "max_height_m": [float("nan")] * len(rows)},
                            geometry=[box(*b) for _, b in rows], crs=CRS)


@pytest.fixture
def plan_store(tmp_path: Path) -> EmbeddedStore:
    """Plan 'p' v1: zone A on x 0..100, B on 100..200; a road widening; parcels 1..3."""
    store = EmbeddedStore(tmp_path / "gisportal.gpkg")
    store.put_parcels(gpd.GeoDataFrame(
        {"ref": ["TF-1/1", "TF-2/1", "TF-3/1"], "address": ["", "", ""], "quarter": ["Q", "Q", "Q"]},
        geometry=[box(10, 10, 30, 30), box(90, 10, 110, 30), box(150, 10, 170, 30)], crs=CRS))
    store.publish_plan_version(NewPlanVersion("p", "Plan", "خطة", "Décret 1", date(2015, 1, 1), date(2015, 1, 1)),
                               zones([("A", (0, 0, 100, 100)), ("B", (100, 0, 200, 100))]),
                               overlays([("road_widening", (0, 0, 200, 5)), ("heritage", (0, 90, 200, 100))]))
    return store


@pytest.fixture
def planner_client(tmp_path: Path, plan_store):
    from gisportal.core.accounts import Accounts
    from gisportal.web import create_app

    app = create_app({"data_dir": tmp_path, "crs": CRS})
    Accounts(app.extensions["gisportal"].agency).create("amina", "un-mot-de-passe-long", "planner")
    client = app.test_client()
    token = _token(client.get("/login").get_data(as_text=True))
    assert client.post("/login", data={"username": "amina", "password": "un-mot-de-passe-long",
                                       "csrf_token": token}).status_code in (302, 303)
    return client


def _token(html: str) -> str:
    found = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', html)
    assert found, "no CSRF token in the form"
    return found.group(1)


def _upload(client, path: Path, **fields):
    token = _token(client.get("/admin/upload").get_data(as_text=True))
    data = {"csrf_token": token, "plan_name": "p", "kind": "zones", "preset": "", **fields,
            "file": (open(path, "rb"), path.name)}
    return client.post("/admin/upload", data=data, content_type="multipart/form-data")
