"""Coordinates people type, CRS names, and moving between CRSs."""

from __future__ import annotations

import math

import pytest

from gisportal.core.coords import (
    WGS84,
    TypedPoint,
    check_lon_lat,
    crs_from_user,
    parse_typed_point,
    to_float,
    transformer,
)
from gisportal.core.errors import InvalidInput, UnknownCRS

LAMBERT = "EPSG:26191"
LAT, LON = 35 + 46 / 60 + 12 / 3600, -(5 + 48 / 60)  # 35°46'12"N 5°48'W = 35.77, -5.8


@pytest.mark.parametrize("text", [
    "35.77, -5.8", "35.77 -5.8", "35.77,-5.8", "35.77;-5.8", "  35.77 ,  -5.80  ", "35,77; -5,80", "35,77 -5,8",
])
def test_decimal_lat_lon(text):
    point = parse_typed_point(text, LAMBERT)
    assert point.crs == WGS84
    assert (point.x, point.y) == pytest.approx((-5.8, 35.77))


def test_decimal_pair_read_as_lon_lat_when_lat_lon_is_impossible():
    point = parse_typed_point("-120.5, 35", LAMBERT)
    assert (point.crs, point.x, point.y) == (WGS84, -120.5, 35.0)


@pytest.mark.parametrize("text", [
    "35°46'12\"N 5°48'W",       # latitude first
    "5°48'W 35°46'12\"N",       # longitude first
    "35°46'12\"N, 5°48'W",      # with a comma
    "5°48'W, 35°46'12\"N",
    "35°46'12\" N 5°48' O",     # French 'O' for ouest
    "35 46 12 N, 5 48 0 W",     # no symbols, hemisphere letters only
])
def test_dms_in_both_orders(text):
    point = parse_typed_point(text, LAMBERT)
    assert point.crs == WGS84
    assert point.x == pytest.approx(LON, abs=1e-9) and point.y == pytest.approx(LAT, abs=1e-9)


def test_dms_southern_and_eastern_hemispheres():
    point = parse_typed_point("33°30'S 70°15'E", None)
    assert (point.x, point.y) == pytest.approx((70.25, -33.5))


@pytest.mark.parametrize("text", ["463661 574347", "463661.5, 574347.25", "463661;574347"])
def test_metric_pair_is_in_the_instance_crs(text):
    point = parse_typed_point(text, LAMBERT)
    assert point.crs == LAMBERT
    assert point.x == pytest.approx(463661, abs=1) and point.y == pytest.approx(574347, abs=1)


def test_metric_pair_without_instance_crs_is_not_coordinates():
    assert parse_typed_point("463661 574347", None) is None


@pytest.mark.parametrize("text", [
    "", "   ", "hello", "TF-12345/06", "12345/06", "12 Rue Ibn Battouta", "Marshan", "95, 200", "1 2 3",
    "35°N", "N W", "1e5 2e5", "12, 400", "--5, 35", "35.77.1, -5.8",
])
def test_garbage_is_not_coordinates(text):
    assert parse_typed_point(text, LAMBERT) is None


def test_typed_point_is_a_value():
    assert parse_typed_point("35.77 -5.8", None) == TypedPoint(WGS84, -5.8, 35.77)


@pytest.mark.parametrize(("text", "epsg"), [("EPSG:26191", 26191), ("26191", 26191), (" epsg:4326 ", 4326),
                                            ("EPSG:32630", 32630)])
def test_crs_from_user(text, epsg):
    assert crs_from_user(text).to_epsg() == epsg


@pytest.mark.parametrize("text", ["EPSG:999999", "999999", "not a crs", "", "EPSG:"])
def test_unknown_crs(text):
    with pytest.raises(UnknownCRS) as caught:
        crs_from_user(text)
    assert caught.value.status == 400 and caught.value.code == "unknown_crs"
    assert "EPSG:26191" in caught.value.message  # tells how to write one
    assert isinstance(caught.value, InvalidInput)


@pytest.mark.parametrize(("value", "expected"), [("1.5", 1.5), ("1,5", 1.5), (" -3 ", -3.0), (2, 2.0)])
def test_to_float(value, expected):
    assert to_float(value, "x") == expected


@pytest.mark.parametrize("value", ["abc", "", None, "nan", "inf", "-inf", "1e400", "1..2"])
def test_to_float_refuses(value):
    with pytest.raises(InvalidInput) as caught:
        to_float(value, "lon")
    assert "'lon'" in caught.value.message and caught.value.status == 400


@pytest.mark.parametrize(("lon", "lat"), [(0, 95), (0, -90.5), (181, 0), (-180.01, 0)])
def test_check_lon_lat_refuses(lon, lat):
    with pytest.raises(InvalidInput):
        check_lon_lat(lon, lat)


def test_check_lon_lat_accepts_bounds():
    check_lon_lat(180, 90)
    check_lon_lat(-180, -90)


def test_lambert_round_trip_and_tangier_position():
    # The demo district's centre: (463661, 574347) in Lambert Nord Maroc is about (-5.80, 35.77).
    lon, lat = transformer(LAMBERT, WGS84).transform(463661.0, 574347.0)
    assert lon == pytest.approx(-5.80, abs=0.01) and lat == pytest.approx(35.77, abs=0.01)
    x, y = transformer(WGS84, LAMBERT).transform(lon, lat)
    assert (x, y) == pytest.approx((463661.0, 574347.0), abs=0.01)  # datum shift: within a centimetre
    # Same point through UTM 30N and back.
    ux, uy = transformer(LAMBERT, "EPSG:32630").transform(463661.0, 574347.0)
    assert math.isfinite(ux) and 200000 < ux < 800000
    assert transformer("EPSG:32630", LAMBERT).transform(ux, uy) == pytest.approx((463661.0, 574347.0), abs=0.01)


def test_area_of_a_square_is_kept_in_the_metric_crs():
    import numpy as np
    import shapely

    from gisportal.note.render import to_wgs84

    square = shapely.box(463600.0, 574300.0, 463700.0, 574400.0)  # 100 m x 100 m in EPSG:26191
    in_degrees = to_wgs84(square, LAMBERT)
    assert in_degrees.area < 1e-3  # square degrees: meaningless as an area
    to_lambert = transformer(WGS84, LAMBERT)
    back = shapely.transform(in_degrees, lambda xy: np.column_stack(to_lambert.transform(xy[:, 0], xy[:, 1])))
    assert back.area == pytest.approx(10000.0, abs=1.0)
