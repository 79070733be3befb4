"""Vector tiles ``/tiles/{layer}/{z}/{x}/{y}.pbf`` (issue #4) on both backends, decoded and checked feature by feature.

Where the tiny territory falls on the Web Mercator grid (computed with pyproj from its Lambert corners):

* z15: the whole strip (x 0..300, y 0..110) lies inside tile 15852/12897, at 40..71 % of its width and
  66..77 % of its height: that tile holds every tiny feature, far from its edges.
* z16: the strip falls in row 25795 and is cut between columns 31704 and 31705 by a line at x = 93.3 m
  (y = 0) to 93.8 m (y = 110). A tile also carries features within its buffer of the edge (PostGIS: 64/4096
  of a tile, 9.6 m at z16; tippecanoe: 5/256, 11.9 m), so the west tile has the parcels starting before
  x = 105: TF-1001 (90..110), TF-1002, TF-1005, TF-1006 (60..70) and TF-1007 (70..110); the east tile has
  those ending after x = 81: TF-1001, TF-1003, TF-1004 and TF-1007.
* z14: tile 7926/6448 holds the strip, but parcels are drawn from zoom 15 only.
"""

from __future__ import annotations

import gzip
import time
from datetime import date, timedelta

import geopandas as gpd
import mapbox_vector_tile
import pytest

pytestmark = pytest.mark.backends("embedded", "postgis", "replicated")  # replicas through PgBouncer too

Z15 = (15, 15852, 12897)
Z16_WEST, Z16_EAST = (16, 31704, 25795), (16, 31705, 25795)
Z14 = (14, 7926, 6448)
ALL_REFS = {"TF-1001/06", "TF-1002/06", "TF-1003/06", "TF-1004/06", "TF-1005/06", "TF-1006/06", "TF-1007/06"}


def url(layer, zxy, **query):
    z, x, y = zxy
    args = "&".join(f"{k}={v}" for k, v in query.items())
    return f"/tiles/{layer}/{z}/{x}/{y}.pbf" + (f"?{args}" if args else "")


def fetch(client, layer, zxy, **query):
    response = client.get(url(layer, zxy, **query))
    assert response.status_code == 200, response.get_data(as_text=True)
    assert response.mimetype == "application/vnd.mapbox-vector-tile"
    return response


def features(client, layer, zxy, **query):
    """The decoded features of ``layer`` in one tile ([] for an empty tile)."""
    data = fetch(client, layer, zxy, **query).data
    if not data:
        return []
    decoded = mapbox_vector_tile.decode(data)
    assert set(decoded) <= {layer}, decoded.keys()
    return decoded.get(layer, {}).get("features", [])


def values(feats, name):
    return sorted(f["properties"][name] for f in feats)


# --- content -----------------------------------------------------------------


def test_parcels_carry_exactly_the_refs_of_the_tile(tiny_client):
    whole = features(tiny_client, "parcels", Z15)
    assert values(whole, "ref") == sorted(ALL_REFS)
    assert all(set(f["properties"]) == {"ref"} for f in whole)  # the reference only: no address, no quarter
    assert values(features(tiny_client, "parcels", Z16_WEST), "ref") == [
        "TF-1001/06", "TF-1002/06", "TF-1005/06", "TF-1006/06", "TF-1007/06"]
    assert values(features(tiny_client, "parcels", Z16_EAST), "ref") == [
        "TF-1001/06", "TF-1003/06", "TF-1004/06", "TF-1007/06"]
    # a neighbouring tile of the same zoom: nothing there
    assert features(tiny_client, "parcels", (15, 15853, 12897)) == []


def test_no_parcels_below_zoom_15(tiny_client):
    assert features(tiny_client, "parcels", Z14) == []
    assert fetch(tiny_client, "parcels", Z14).data == b""
    assert features(tiny_client, "parcels", (12, 1981, 1612)) == []


def test_zones_of_the_version_in_force_and_of_an_older_date(tiny_client, tiny):
    today = features(tiny_client, "zones", Z15)
    assert values(today, "code") == ["A", "B", "C"]  # version 2
    assert all(set(f["properties"]) == {"code"} for f in today)
    before_v2 = (tiny.v2_from - timedelta(days=1)).isoformat()
    assert values(features(tiny_client, "zones", Z15, as_of=before_v2), "code") == ["B"]  # version 1
    assert features(tiny_client, "zones", Z15, as_of=(tiny.v1_from - timedelta(days=1)).isoformat()) == []
    assert values(features(tiny_client, "zones", (10, 495, 403)), "code") == ["A", "B", "C"]  # zones from z8
    assert values(features(tiny_client, "zones", Z15, as_of=before_v2), "code") == ["B"]  # asked again


def test_overlays_carry_their_kind(tiny_client, tiny):
    today = features(tiny_client, "overlays", Z15)
    assert values(today, "kind") == ["airport_easement", "heritage", "road_widening"]
    assert all(set(f["properties"]) == {"kind"} for f in today)
    before_v2 = (tiny.v2_from - timedelta(days=1)).isoformat()
    assert values(features(tiny_client, "overlays", Z15, as_of=before_v2), "kind") == ["green_space"]
    assert features(tiny_client, "overlays", Z15, as_of=(tiny.v1_from - timedelta(days=1)).isoformat()) == []


def test_gzip_when_asked(tiny_client, monkeypatch):
    plain = fetch(tiny_client, "zones", Z15)
    assert "Content-Encoding" not in plain.headers
    packed = tiny_client.get(url("zones", Z15), headers={"Accept-Encoding": "gzip, deflate"})
    assert packed.status_code == 200 and packed.headers["Content-Encoding"] == "gzip"
    assert "Accept-Encoding" in packed.headers["Vary"]
    assert gzip.decompress(packed.data) == plain.data
    assert packed.headers["ETag"] != plain.headers["ETag"]  # strong validators: one per representation
    plain_etag_for_gzip_client = tiny_client.get(url("zones", Z15), headers={
        "Accept-Encoding": "gzip", "If-None-Match": plain.headers["ETag"]})
    assert plain_etag_for_gzip_client.status_code == 200 and plain_etag_for_gzip_client.data == packed.data
    # an hour later, the same ETag still names the same bytes (no time stamp in the gzip header)
    later = time.time() + 3600
    monkeypatch.setattr(time, "time", lambda: later)
    again = tiny_client.get(url("zones", Z15), headers={"Accept-Encoding": "gzip"})
    assert again.headers["ETag"] == packed.headers["ETag"] and again.data == packed.data


def test_an_empty_portal_serves_empty_tiles(empty_instance):
    from gisportal.web import create_app

    client = create_app({**empty_instance.settings, "TESTING": True}).test_client()
    for layer in ("zones", "overlays", "parcels"):
        assert fetch(client, layer, Z15).data == b""
        assert fetch(client, layer, (0, 0, 0)).data == b""


# --- caching -----------------------------------------------------------------


def test_etag_and_not_modified(tiny_client):
    first = fetch(tiny_client, "parcels", Z15)
    etag = first.headers["ETag"]
    assert etag.startswith('"') and etag.endswith('"') and len(etag) > 10
    assert "max-age" in first.headers["Cache-Control"]
    again = tiny_client.get(url("parcels", Z15), headers={"If-None-Match": etag})
    assert again.status_code == 304 and again.data == b"" and again.headers["ETag"] == etag
    other = tiny_client.get(url("parcels", Z15), headers={"If-None-Match": '"something-else"'})
    assert other.status_code == 200 and other.data == first.data


def test_etag_and_content_change_with_a_new_publication(tiny, tiny_writable):
    from gisportal.storage.base import NewPlanVersion
    from gisportal.web import create_app

    app = create_app({**tiny_writable.settings, "rules_file": tiny.rules_file, "reload_check_seconds": 0,
                      "TESTING": True})
    client = app.test_client()
    before = fetch(client, "zones", Z15)
    parcels_before = fetch(client, "parcels", Z15).headers["ETag"]
    assert values(features(client, "zones", Z15), "code") == ["A", "B", "C"]
    writer = tiny_writable.open_store()  # another store object, as another process would have
    today = date.today()
    writer.publish_plan_version(
        NewPlanVersion("tiny-plan", "t", "t", "Décret v3", today, today),
        gpd.GeoDataFrame({"code": ["D"], "label_fr": ["D"], "label_ar": ["د"]},
                         geometry=[tiny.box(0, 0, 300, 100)], crs=tiny.crs))
    after = fetch(client, "zones", Z15)
    assert after.headers["ETag"] != before.headers["ETag"]
    assert values(features(client, "zones", Z15), "code") == ["D"]
    assert features(client, "overlays", Z15) == []  # version 3 has no servitudes: empty tiles, not an error
    stale = client.get(url("zones", Z15), headers={"If-None-Match": before.headers["ETag"]})
    assert stale.status_code == 200 and stale.data == after.data
    assert fetch(client, "parcels", Z15).headers["ETag"] != parcels_before
    # yesterday still has version 2
    yesterday = (today - timedelta(days=1)).isoformat()
    assert values(features(client, "zones", Z15, as_of=yesterday), "code") == ["A", "B", "C"]


# --- bad input ---------------------------------------------------------------


@pytest.mark.parametrize(("path", "status"), [
    ("/tiles/roads/15/15852/12897.pbf", 404),          # unknown layer
    ("/tiles/ZONES/15/15852/12897.pbf", 404),
    ("/tiles/zones/99/0/0.pbf", 400),                  # zoom off the scale
    ("/tiles/zones/23/0/0.pbf", 400),
    ("/tiles/zones/2/4/0.pbf", 400),                   # x outside 0..3
    ("/tiles/zones/2/0/4.pbf", 400),                   # y outside 0..3
    ("/tiles/zones/15/32768/0.pbf", 400),
    ("/tiles/zones/0/1/0.pbf", 400),
    ("/tiles/zones/abc/0/0.pbf", 400),                 # not whole numbers
    ("/tiles/zones/1.5/0/0.pbf", 400),
    ("/tiles/zones/15/1e3/0.pbf", 400),
    ("/tiles/zones/15/0/0x10.pbf", 400),
    ("/tiles/zones/-1/0/0.pbf", 400),                  # negative numbers
    ("/tiles/zones/15/-3/12897.pbf", 400),
    ("/tiles/parcels/15/15852/-12897.pbf", 400),
    ("/tiles/zones/99999999999999999999999/0/0.pbf", 400),  # bigger than any integer JSON can carry
    ("/tiles/zones/3/99999999999999999999999/0.pbf", 400),
    ("/tiles/zones/3/0/-99999999999999999999999.pbf", 400),
    ("/tiles/zones/" + "9" * 5000 + "/0/0.pbf", 400),
    ("/tiles/zones/15/15852/12897.pbf?as_of=someday", 400),
    ("/tiles/zones/15/15852/12897.png", 404),          # no such route
])
def test_bad_tile_requests_are_a_clear_4xx(tiny_client, path, status):
    response = tiny_client.get(path)
    assert response.status_code == status, response.get_data(as_text=True)
    assert response.mimetype == "application/json"
    body = response.get_json()
    assert body["message"] and body["error"]
