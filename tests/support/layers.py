"""Test support taken from ``test_validation.py``: shared by several test modules."""

from __future__ import annotations

import geopandas as gpd
import shapely
from pyproj import Transformer

LAMBERT = "EPSG:26191"


X0, Y0 = 460000.0, 570000.0


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


def lonlat(x, y):
    return Transformer.from_crs(LAMBERT, "EPSG:4326", always_xy=True).transform(X0 + x, Y0 + y)
