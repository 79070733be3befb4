"""OGC API – Features at /ogc, driven by real clients (GDAL's OAPIF driver, OWSLib) against a real server on
the tiny territory, on both backends. Expected numbers are the tiny territory's, computed by hand (see
conftest): version 2 in force has zones A, B, C of 100 m x 100 m, three overlays; seven parcels of 2,900 m² in
all; version 1 (in force 3,000 days ago) has zone B over the whole 300 m x 100 m strip.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from types import SimpleNamespace

import pyogrio
import pytest
import requests
from pyproj import Transformer
from support.ogc import ogc  # noqa: F401  (the served portal fixture)

pytestmark = pytest.mark.backends("embedded", "postgis", "replicated")  # replicas through PgBouncer too

CRS84 = "http://www.opengis.net/def/crs/OGC/1.3/CRS84"
EPSG = "http://www.opengis.net/def/crs/EPSG/0/"


def _ogr2ogr(tmp_path: Path, ogc: SimpleNamespace, layer: str, *options: str) -> Path:
    out = tmp_path / f"{layer}.gpkg"
    out.unlink(missing_ok=True)
    done = subprocess.run(["ogr2ogr", "-f", "GPKG", str(out), f"OAPIF:{ogc.url}", layer, "-t_srs", "EPSG:26191",
                           *options], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    return out


def _read(path: Path):
    return pyogrio.read_dataframe(path) if pyogrio.list_layers(path).size else None


def test_ogrinfo_lists_the_collections(ogc: SimpleNamespace) -> None:
    done = subprocess.run(["ogrinfo", "-ro", "-q", f"OAPIF:{ogc.url}"], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    listed = [line.split(":", 1)[1].split("(")[0].strip() for line in done.stdout.splitlines() if ":" in line]
    assert listed == ["zones", "overlays", "parcels"]


@pytest.mark.parametrize(("layer", "count", "area"), [("zones", 3, 30_000.0), ("overlays", 3, 200 + 3600 + 1500),
                                                      ("parcels", 7, 2_900.0)])
def test_ogr2ogr_copies_each_collection_whole(ogc: SimpleNamespace, tmp_path: Path, layer: str, count: int,
                                              area: float) -> None:
    frame = _read(_ogr2ogr(tmp_path, ogc, layer))
    assert len(frame) == count
    assert frame.geometry.area.sum() == pytest.approx(area, rel=1e-4)


def test_ogr2ogr_by_bbox_reads_the_parcels_in_the_box(ogc: SimpleNamespace, tmp_path: Path) -> None:
    x0, y0 = ogc.tiny.x0, ogc.tiny.y0
    frame = _read(_ogr2ogr(tmp_path, ogc, "parcels", "-spat", str(x0 + 5), str(y0 + 5), str(x0 + 35), str(y0 + 35),
                           "-spat_srs", "EPSG:26191"))
    assert frame["ref"].tolist() == ["TF-1002/06"]
    assert frame.geometry.area.sum() == pytest.approx(400.0, rel=1e-4)
    assert any(path.endswith("/parcels/items") and "bbox=" in query for path, query, _ in ogc.seen)


def test_ogr2ogr_where_filters_on_the_server(ogc: SimpleNamespace, tmp_path: Path) -> None:
    before = len(ogc.seen)
    frame = _read(_ogr2ogr(tmp_path, ogc, "zones", "-where", "code = 'A'"))
    assert frame["code"].tolist() == ["A"]
    assert frame.geometry.area.sum() == pytest.approx(10_000.0, rel=1e-4)
    asked = [q for p, q, _ in ogc.seen[before:] if p.endswith("/zones/items")]
    # GDAL reads a first page to learn the fields, then asks the server for the zones of code A only
    assert any("code=A" in q or "filter=" in q for q in asked), asked


def test_owslib_reads_conformance_collections_queryables_and_items(ogc: SimpleNamespace) -> None:
    from owslib.ogcapi.features import Features

    api = Features(ogc.url)
    assert "http://www.opengis.net/spec/ogcapi-features-3/1.0/conf/filter" in api.conformance()["conformsTo"]
    assert [c["id"] for c in api.collections()["collections"]] == ["zones", "overlays", "parcels"]
    assert set(api.collection_queryables("zones")["properties"]) == {"version_id", "code", "label_fr", "label_ar",
                                                                     "geometry"}
    to_lonlat = Transformer.from_crs("EPSG:26191", "OGC:CRS84", always_xy=True)
    x0, y0 = ogc.tiny.x0, ogc.tiny.y0
    box = to_lonlat.transform_bounds(x0 + 145, y0 + 45, x0 + 175, y0 + 75)
    parcels = api.collection_items("parcels", bbox=list(box))
    assert [f["properties"]["ref"] for f in parcels["features"]] == ["TF-1003/06"]
    zones = api.collection_items("zones", code="B")
    assert [f["properties"]["code"] for f in zones["features"]] == ["B"]
    assert zones["numberMatched"] == 1 and zones["features"][0]["properties"]["approval_act"] == "Décret v2"


def _get(ogc: SimpleNamespace, path: str, **params: str) -> requests.Response:
    return requests.get(f"{ogc.url}{path}", params=params, timeout=30)


def test_paging_with_next_and_prev_links(ogc: SimpleNamespace) -> None:
    seen, url = [], f"{ogc.url}/collections/parcels/items?limit=3"
    pages = 0
    while url:
        page = requests.get(url, timeout=30).json()
        assert page["numberMatched"] == 7
        seen += [f["properties"]["ref"] for f in page["features"]]
        links = {link["rel"]: link["href"] for link in page["links"]}
        assert ("prev" in links) == (pages > 0)
        url, pages = links.get("next"), pages + 1
    assert pages == 3 and sorted(seen) == sorted(ogc.tiny.parcels)


def test_datetime_answers_as_of_that_date(ogc: SimpleNamespace) -> None:
    old = _get(ogc, "/collections/zones/items", datetime=ogc.tiny.v1_from.isoformat()).json()
    assert [f["properties"]["code"] for f in old["features"]] == ["B"]
    interval = _get(ogc, "/collections/zones/items", datetime=f"../{ogc.tiny.v2_from.isoformat()}").json()
    assert sorted(f["properties"]["code"] for f in interval["features"]) == ["A", "B", "C"]


def test_crs_and_bbox_crs(ogc: SimpleNamespace) -> None:
    x0, y0 = ogc.tiny.x0, ogc.tiny.y0
    metric = _get(ogc, "/collections/parcels/items", crs=EPSG + "26191", **{
        "bbox": f"{x0 + 5},{y0 + 5},{x0 + 35},{y0 + 35}", "bbox-crs": EPSG + "26191"})
    assert metric.headers["Content-Crs"] == f"<{EPSG}26191>"
    ring = metric.json()["features"][0]["geometry"]["coordinates"][0][0]
    assert {(round(x - x0, 6), round(y - y0, 6)) for x, y in ring} == {(10, 10), (30, 10), (30, 30), (10, 30)}
    lat_lon = _get(ogc, "/collections/parcels/items", crs=EPSG + "4326", bbox="35,-6,36,-5",
                   **{"bbox-crs": EPSG + "4326"}).json()
    lon, lat = Transformer.from_crs("EPSG:26191", "OGC:CRS84", always_xy=True).transform(x0 + 10, y0 + 10)
    first = [f for f in lat_lon["features"] if f["properties"]["ref"] == "TF-1002/06"][0]
    corners = first["geometry"]["coordinates"][0][0]
    assert any(abs(a - lat) < 1e-9 and abs(b - lon) < 1e-9 for a, b in corners)  # latitude first
    assert lat_lon["numberMatched"] == 7
    mercator = _get(ogc, "/collections/zones/items/2", crs=EPSG + "3857")
    assert mercator.headers["Content-Crs"] == f"<{EPSG}3857>"
    x, y = Transformer.from_crs("EPSG:26191", "EPSG:3857", always_xy=True).transform(x0, y0)
    ring = mercator.json()["geometry"]["coordinates"][0][0]
    assert any(abs(a - x) < 1e-3 and abs(b - y) < 1e-3 for a, b in ring)


@pytest.mark.parametrize(("cql", "refs"), [
    ("quarter = 'Iberia'", ["TF-1003/06", "TF-1004/06"]),
    ("address IS NULL", ["TF-1006/06"]),
    ("quarter NOT IN ('Marshan', 'Iberia')", ["TF-1007/06"]),
    ("ref LIKE 'TF-100%' AND NOT quarter = 'Marshan' AND quarter <> 'Souani'", ["TF-1003/06", "TF-1004/06"]),
])
def test_cql2_text_filters(ogc: SimpleNamespace, cql: str, refs: list[str]) -> None:
    page = _get(ogc, "/collections/parcels/items", filter=cql).json()
    assert sorted(f["properties"]["ref"] for f in page["features"]) == refs


def test_cql2_spatial_filter_with_a_point_in_crs84(ogc: SimpleNamespace) -> None:
    lon, lat = Transformer.from_crs("EPSG:26191", "OGC:CRS84", always_xy=True).transform(ogc.tiny.x0 + 160,
                                                                                          ogc.tiny.y0 + 60)
    page = _get(ogc, "/collections/parcels/items", filter=f"S_INTERSECTS(geometry, POINT({lon} {lat}))").json()
    assert [f["properties"]["ref"] for f in page["features"]] == ["TF-1003/06"]
    zones = _get(ogc, "/collections/zones/items",
                 filter=f"S_INTERSECTS(geometry, POINT({lon} {lat})) AND max_height IS NULL").status_code
    assert zones == 400  # not a queryable of zones


@pytest.mark.parametrize(("path", "params", "status"), [
    ("/collections/nowhere", {}, 404), ("/collections/nowhere/items", {}, 404),
    ("/collections/zones/items/999999", {}, 404), ("/collections/zones/items/1", {}, 404),  # v1's: not in force
    ("/collections/zones/items/abc", {}, 404), ("/collections/zones/items", {"colour": "red"}, 400),
    ("/collections/zones/items", {"bbox": "1,2,3"}, 400), ("/collections/zones/items", {"bbox": "3,2,1,4"}, 400),
    ("/collections/zones/items", {"bbox": "a,b,c,d"}, 400), ("/collections/zones/items", {"bbox": "0,0,1,100"}, 400),
    ("/collections/zones/items", {"crs": EPSG + "2154"}, 400), ("/collections/zones/items", {"bbox-crs": "x"}, 400),
    ("/collections/zones/items", {"filter": "code = "}, 400), ("/collections/zones/items", {"filter": "nope = 1"}, 400),
    ("/collections/zones/items", {"filter-lang": "sql", "filter": "code = 'A'"}, 400),
    ("/collections/zones/items", {"limit": "0"}, 400), ("/collections/zones/items", {"limit": "10001"}, 400),
    ("/collections/zones/items", {"limit": "x"}, 400), ("/collections/zones/items", {"offset": "-1"}, 400),
    ("/collections/zones/items", {"datetime": "yesterday"}, 400), ("/collections/zones/items", {"f": "xml"}, 400),
    ("/collections/zones/items", {"version_id": "two"}, 400), ("/collections", {"bbox": "1,2,3,4"}, 400),
])
def test_bad_input_is_a_4xx_with_a_message(ogc: SimpleNamespace, path: str, params: dict, status: int) -> None:
    answer = _get(ogc, path, **params)
    assert answer.status_code == status, answer.text
    assert answer.json()["message"]


@pytest.mark.parametrize("cql", ["version_id = 'two'", "label_fr > 3", "version_id / 0 > 1", "code + 1 = 2",
                                 "S_INTERSECTS(geometry, POINT(400 400))"])
def test_filters_of_mismatched_types_are_never_a_500(ogc: SimpleNamespace, cql: str) -> None:
    answer = _get(ogc, "/collections/zones/items", filter=cql)
    assert answer.status_code in (200, 400), answer.text
    assert answer.status_code == 400 or answer.json()["numberMatched"] == 0


def test_html_and_json_by_f_and_by_accept(ogc: SimpleNamespace) -> None:
    html = requests.get(f"{ogc.url}/collections/zones/items", headers={"Accept": "text/html"}, timeout=30)
    assert html.headers["Content-Type"].startswith("text/html") and "Zone A" in html.text
    assert _get(ogc, "/collections", f="html").text.count("/items?f=html") >= 3
    assert _get(ogc, "").headers["Content-Type"] == "application/json"
    assert requests.get(f"{ogc.url}/collections/zones/items", timeout=30).headers["Content-Type"] == \
        "application/geo+json"
    hostile = _get(ogc, "/collections/parcels/items", f="html", filter="quarter = '<script>x</script>'")
    assert hostile.status_code == 200 and "<script>x" not in hostile.text


def test_openapi_document_lists_every_collection(ogc: SimpleNamespace) -> None:
    document = _get(ogc, "/api").json()
    assert document["openapi"].startswith("3.0")
    for layer in ("zones", "overlays", "parcels"):
        assert f"/collections/{layer}/items" in document["paths"]
    assert "$ref" not in json.dumps(document)


def test_quotes_in_values_are_values(ogc: SimpleNamespace) -> None:
    page = _get(ogc, "/collections/parcels/items", ref="x' OR '1'='1")
    assert page.status_code == 200 and page.json()["numberMatched"] == 0
    page = _get(ogc, "/collections/parcels/items", filter="ref LIKE '%' OR quarter = 'x'' OR ''1''=''1'")
    assert page.status_code in (200, 400) and page.json().get("numberMatched", 7) == 7
