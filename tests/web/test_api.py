"""The JSON API through Flask's test client, on the tiny territory (exact numbers) and the demo district."""

from __future__ import annotations

from datetime import timedelta

import pytest
import shapely

from gisportal.core.coords import WGS84, transformer

pytestmark = pytest.mark.backends("embedded", "postgis", "replicated")  # replicas through PgBouncer too

LAMBERT = "EPSG:26191"


def lonlat(x, y):
    return transformer(LAMBERT, WGS84).transform(x, y)


def get_json(client, url, status=200, **params):
    response = client.get(url, query_string=params)
    assert response.status_code == status, response.get_data(as_text=True)
    assert response.mimetype == "application/json"
    return response.get_json()


# --- notes -------------------------------------------------------------------


def test_note_by_ref_has_hand_numbers(tiny_client):
    data = get_json(tiny_client, "/api/v1/notes", ref="TF-1001/06")
    assert data["parcel"]["ref"] == "TF-1001/06" and data["parcel"]["area_m2"] == 400.0
    shares = {z["code"]: (z["share"], z["area_m2"]) for z in data["zones"]}
    assert shares == {"A": (0.5, 200.0), "B": (0.5, 200.0)}
    assert data["buildability"]["max_footprint_m2"] == 150.0   # 0.5 x 200 + 0.25 x 200
    assert data["buildability"]["max_floor_area_m2"] == 600.0  # 2.0 x 200 + 1.0 x 200
    assert data["unzoned_share"] == 0.0 and data["warnings"] == []
    assert data["historical"] is False


@pytest.mark.parametrize("ref", ["TF-1002/06", "tf 1002/06", "1002/06", "TF1002-06"])
def test_note_by_loose_ref(tiny_client, ref):
    data = get_json(tiny_client, "/api/v1/notes", ref=ref)
    assert data["parcel"]["ref"] == "TF-1002/06"
    assert data["buildability"]["net_max_footprint_m2"] == 150.0  # 0.5 x (400 - 100)


def test_same_parcel_by_ref_lonlat_lambert_and_utm(tiny_client, tiny):
    x, y = tiny.x0 + 20, tiny.y0 + 20  # inside TF-1002/06
    lon, lat = lonlat(x, y)
    ux, uy = transformer(LAMBERT, "EPSG:32630").transform(x, y)
    queries = [
        {"ref": "TF-1002/06"},
        {"lon": lon, "lat": lat},
        {"x": x, "y": y, "crs": "EPSG:26191"},
        {"x": x, "y": y},                       # the instance's CRS by default
        {"x": ux, "y": uy, "crs": "EPSG:32630"},  # UTM 30N
        {"x": ux, "y": uy, "crs": "32630"},
    ]
    refs = {get_json(tiny_client, "/api/v1/notes", **q)["parcel"]["ref"] for q in queries}
    assert refs == {"TF-1002/06"}


@pytest.mark.backends("embedded", "postgis")  # the demo city: not built a third time
def test_note_on_demo_by_every_means(client, demo_store):
    parcel = demo_store.parcel_by_ref(demo_store.features("parcels", None, None)["ref"].iloc[100])
    point = parcel.geometry.representative_point()
    lon, lat = lonlat(point.x, point.y)
    ux, uy = transformer(LAMBERT, "EPSG:32630").transform(point.x, point.y)
    number = parcel.ref.removeprefix("TF-")
    for q in ({"ref": parcel.ref}, {"ref": f"tf {number}"}, {"ref": number}, {"lon": lon, "lat": lat},
              {"x": point.x, "y": point.y, "crs": "EPSG:26191"}, {"x": ux, "y": uy, "crs": "EPSG:32630"}):
        data = get_json(client, "/api/v1/notes", **q)
        assert data["parcel"]["ref"] == parcel.ref, q
    assert data["parcel"]["area_m2"] == pytest.approx(parcel.geometry.area, abs=0.01)
    assert sum(z["share"] for z in data["zones"]) + data["unzoned_share"] == pytest.approx(1.0, abs=1e-3)


def test_rules_null_in_json(tiny_client):
    response = tiny_client.get("/api/v1/notes", query_string={"ref": "TF-1004/06"})
    assert response.status_code == 200
    assert b'"rules":null' in response.data
    data = response.get_json()
    assert data["zones"][0]["code"] == "C" and data["zones"][0]["rules"] is None
    assert {"code": "rules_not_defined", "subject": "C"} in data["warnings"]


def test_note_as_of_past_date(tiny_client, tiny):
    as_of = (tiny.v1_from + timedelta(days=30)).isoformat()
    data = get_json(tiny_client, "/api/v1/notes", ref="TF-1001/06", as_of=as_of)
    assert [(z["code"], z["plan_version"], z["share"]) for z in data["zones"]] == [("B", 1, 1.0)]
    assert data["as_of"] == as_of and data["historical"] is True
    assert data["plans"][0]["status"] == "in_force" and data["plans"][0]["version"] == 1


def test_note_language(tiny_client):
    data = get_json(tiny_client, "/api/v1/notes", ref="TF-1002/06", lang="ar")
    assert data["language"] == "ar" and data["zones"][0]["label"] == "المنطقة A"
    assert get_json(tiny_client, "/api/v1/notes", ref="TF-1002/06", lang="en")["language"] == "en"


def test_note_as_html(tiny_client):
    response = tiny_client.get("/api/v1/notes", query_string={"ref": "TF-1001/06", "format": "html"})
    assert response.status_code == 200 and response.mimetype == "text/html"
    assert "TF-1001/06" in response.get_data(as_text=True)


def test_click_on_a_street_gives_zones_at_point(tiny_client, tiny):
    lon, lat = lonlat(*tiny.street_point)
    data = get_json(tiny_client, "/api/v1/notes", status=404, lon=lon, lat=lat)
    assert data["error"] == "no_parcel_here" and data["message"]
    assert [(z["code"], z["plan"], z["plan_version"]) for z in data["zones_at_point"]] == [("B", "tiny-plan", 2)]
    old = get_json(tiny_client, "/api/v1/notes", status=404, x=tiny.street_point[0], y=tiny.street_point[1],
                   as_of=(tiny.v1_from + timedelta(days=1)).isoformat())
    assert [(z["code"], z["plan_version"]) for z in old["zones_at_point"]] == [("B", 1)]


def test_click_in_territory_outside_zones_and_parcels(tiny_client, tiny):
    data = get_json(tiny_client, "/api/v1/notes", status=404, x=tiny.x0 + 150, y=tiny.y0 + 105)
    assert data["error"] == "no_parcel_here" and data["zones_at_point"] == []


@pytest.mark.backends("embedded", "postgis")  # the demo city: not built a third time
def test_click_between_blocks_on_demo(client, demo_store):
    """A point of the demo district on no parcel (a street) but inside a zone."""
    import numpy as np

    x0, y0, x1, y1 = demo_store.extent()
    v2 = demo_store.plan_versions()[-1].id
    for x in np.linspace(x0 + 300, x1 - 300, 40):
        for y in np.linspace(y0 + 300, y1 - 300, 40):
            if demo_store.parcel_at(x, y) is None and demo_store.zones_on(shapely.Point(x, y), [v2]):
                break
        else:
            continue
        break
    else:
        pytest.fail("no street point found in the demo district")
    expected = {h.code for h in demo_store.zones_on(shapely.Point(x, y), [v2])}
    lon, lat = lonlat(x, y)
    data = get_json(client, "/api/v1/notes", status=404, lon=lon, lat=lat)
    assert data["error"] == "no_parcel_here"
    assert {z["code"] for z in data["zones_at_point"]} == expected


# --- parcels, layers, plans, search, openapi ---------------------------------


def test_parcel_feature(tiny_client, tiny):
    import numpy as np
    from shapely.geometry import shape

    feature = get_json(tiny_client, "/api/v1/parcels", ref="tf 1003/06")
    assert feature["type"] == "Feature" and feature["id"] == "TF-1003/06"
    assert feature["properties"] == {"ref": "TF-1003/06", "address": "2 Avenue Pasteur", "quarter": "Iberia",
                                     "area_m2": 400.0}
    in_wgs84 = shape(feature["geometry"])
    to_lambert = transformer(WGS84, LAMBERT)
    back = shapely.transform(in_wgs84, lambda xy: np.column_stack(to_lambert.transform(xy[:, 0], xy[:, 1])))
    assert back.hausdorff_distance(tiny.box(150, 50, 170, 70)) < 0.01  # the same 20 m square, within 1 cm


def test_parcels_in_bbox(tiny_client, tiny):
    lon0, lat0 = lonlat(tiny.x0 + 12, tiny.y0 + 12)
    lon1, lat1 = lonlat(tiny.x0 + 28, tiny.y0 + 28)
    fc = get_json(tiny_client, "/api/v1/parcels", bbox=f"{lon0},{lat0},{lon1},{lat1}")
    assert fc["type"] == "FeatureCollection"
    assert [f["properties"]["ref"] for f in fc["features"]] == ["TF-1002/06"]
    lon0, lat0 = lonlat(tiny.x0 - 50, tiny.y0 - 50)
    lon1, lat1 = lonlat(tiny.x0 + 350, tiny.y0 + 150)
    everything = get_json(tiny_client, "/api/v1/parcels", bbox=f"{lon0},{lat0},{lon1},{lat1}")
    assert sorted(f["properties"]["ref"] for f in everything["features"]) == sorted(tiny.parcels)
    layer = get_json(tiny_client, "/api/v1/layers/parcels", bbox=f"{lon0},{lat0},{lon1},{lat1}")
    assert len(layer["features"]) == 7


def test_layers_zones_and_overlays(tiny_client, tiny):
    zones = get_json(tiny_client, "/api/v1/layers/zones")
    assert zones["type"] == "FeatureCollection"
    assert sorted(f["properties"]["code"] for f in zones["features"]) == ["A", "B", "C"]
    colours = {f["properties"]["code"]: f["properties"]["color"] for f in zones["features"]}
    assert colours["A"] == "#aa0000" and colours["C"] == "#bbbbbb"  # C has no rules: neutral colour
    overlays = get_json(tiny_client, "/api/v1/layers/overlays")
    assert sorted(f["properties"]["kind"] for f in overlays["features"]) == ["airport_easement", "heritage",
                                                                             "road_widening"]
    old = get_json(tiny_client, "/api/v1/layers/zones", as_of=(tiny.v1_from + timedelta(days=1)).isoformat())
    assert [f["properties"]["code"] for f in old["features"]] == ["B"]
    before = get_json(tiny_client, "/api/v1/layers/overlays", as_of=(tiny.v1_from - timedelta(days=1)).isoformat())
    assert before["features"] == []
    ar = get_json(tiny_client, "/api/v1/layers/overlays", lang="ar")
    labels = {f["properties"]["kind"]: f["properties"]["kind_label"] for f in ar["features"]}
    assert labels["airport_easement"] == "ارتفاق الملاحة الجوية"


def test_plans(tiny_client, tiny):
    rows = get_json(tiny_client, "/api/v1/plans")["plans"]
    assert [(r["plan"], r["version"], r["status"]) for r in rows] == [("tiny-plan", 2, "in_force"),
                                                                      ("tiny-plan", 1, "superseded")]
    assert rows[1]["effective_to"] == tiny.v2_from.isoformat()
    assert rows[1]["approval_act"] == "Décret v1" and rows[0]["effective_from"] == tiny.v2_from.isoformat()


def test_search_quarter_street_and_ref(tiny_client):
    first = get_json(tiny_client, "/api/v1/search", q="marsh")["suggestions"][0]
    assert (first["kind"], first["label"]) == ("quarter", "Marshan")
    streets = [s for s in get_json(tiny_client, "/api/v1/search", q="ibn battouta")["suggestions"]
               if s["kind"] == "street"]
    assert [s["label"] for s in streets] == ["Rue Ibn Battouta"]
    parcels = get_json(tiny_client, "/api/v1/search", q="TF-100", limit=50)["suggestions"]
    assert sorted(s["ref"] for s in parcels) == sorted(["TF-1001/06", "TF-1002/06", "TF-1003/06", "TF-1004/06",
                                                        "TF-1005/06", "TF-1006/06", "TF-1007/06"])
    assert {s["kind"] for s in parcels} == {"parcel"}
    assert len(get_json(tiny_client, "/api/v1/search", q="TF-100", limit=2)["suggestions"]) == 2
    assert get_json(tiny_client, "/api/v1/search", q="nothing like this")["suggestions"] == []


def test_search_address_by_street_and_house_number(tiny_client):
    def parcels(q: str) -> list[dict]:
        return [s for s in get_json(tiny_client, "/api/v1/search", q=q, limit=20)["suggestions"]
                if s["kind"] == "parcel"]

    (found,) = parcels("3 rue ibn")
    assert (found["ref"], found["label"]) == ("TF-1002/06", "TF-1002/06 — 3 Rue Ibn Battouta")
    assert sorted(s["ref"] for s in parcels("battouta ibn")) == ["TF-1001/06", "TF-1002/06", "TF-1005/06"]
    assert [s["ref"] for s in parcels("7 al farabi")] == ["TF-1007/06"]
    assert parcels("9 rue ibn") == [] and parcels("3 rue nowhere") == []


def test_search_wildcards_and_quotes_are_plain_text(tiny_client):
    """LIKE's wildcards, quotes and backslashes typed in the box are punctuation (ignored like "-" in "TF-100")
    or plain text: a clear answer, never an error nor a wildcard."""
    def parcels(q: str) -> list[str]:
        answer = tiny_client.get("/api/v1/search", query_string={"q": q, "limit": 20})
        assert answer.status_code == 200, (q, answer.get_data(as_text=True))
        return sorted(s["ref"] for s in answer.get_json()["suggestions"] if s["kind"] == "parcel")

    assert parcels("TF%") == parcels("TF") and parcels("3 % rue ibn") == ["TF-1002/06"]
    for q in ("%", "_", "' OR 1=1 --", "\\", "%_%"):
        assert parcels(q) == [], q


def test_search_suggestion_points_at_the_parcel(tiny_client, tiny):
    (s,) = get_json(tiny_client, "/api/v1/search", q="1003")["suggestions"]
    assert s["ref"] == "TF-1003/06"
    x, y = transformer(WGS84, LAMBERT).transform(s["lon"], s["lat"])
    assert tiny.box(150, 50, 170, 70).contains(shapely.Point(x, y))


@pytest.mark.parametrize("form", ["decimal", "dms", "lambert"])
def test_search_coordinates_come_first(tiny_client, tiny, form):
    x, y = tiny.x0 + 20, tiny.y0 + 20
    lon, lat = lonlat(x, y)

    def dms(value, pos, neg):
        hemi, value = (pos if value >= 0 else neg), abs(value)
        d, m = int(value), (value - int(value)) * 60
        return f"{d}°{int(m)}'{(m - int(m)) * 60:.3f}\"{hemi}"

    q = {"decimal": f"{lat:.7f}, {lon:.7f}", "dms": f"{dms(lat, 'N', 'S')} {dms(lon, 'E', 'W')}",
         "lambert": f"{x:.2f} {y:.2f}"}[form]
    first = get_json(tiny_client, "/api/v1/search", q=q)["suggestions"][0]
    assert first["kind"] == "coordinates"
    assert (first["lon"], first["lat"]) == pytest.approx((lon, lat), abs=1e-6)
    assert get_json(tiny_client, "/api/v1/notes", lon=first["lon"], lat=first["lat"])["parcel"]["ref"] == "TF-1002/06"


def test_search_coordinates_outside_the_territory_are_not_suggested(tiny_client):
    for q in ("10, 10", "-40.5, 120.25", "100°N 5°W", "463661 574347"):  # the last one: the demo's centre, far away
        kinds = [s["kind"] for s in get_json(tiny_client, "/api/v1/search", q=q)["suggestions"]]
        assert "coordinates" not in kinds, q


@pytest.mark.backends("embedded", "postgis")  # the demo city: not built a third time
def test_search_on_demo(client, demo_store):
    frame = demo_store.features("parcels", None, None)
    quarter = frame["quarter"].iloc[0]
    first = get_json(client, "/api/v1/search", q=quarter[:5].lower())["suggestions"][0]
    assert first["kind"] == "quarter" and first["label"].startswith(quarter[:5])
    ref = frame["ref"].iloc[0]
    found = get_json(client, "/api/v1/search", q=ref)["suggestions"]
    assert ref in [s["ref"] for s in found]
    assert get_json(client, "/api/v1/search", q="35.77, -5.80")["suggestions"][0]["kind"] == "coordinates"


def test_openapi_document(tiny_client):
    spec = get_json(tiny_client, "/api/v1/openapi.json")
    assert {"/api/v1/notes", "/api/v1/parcels", "/api/v1/search", "/api/v1/layers/{layer}",
            "/api/v1/plans"} <= set(spec["paths"])
    params = {p["name"] for p in spec["paths"]["/api/v1/notes"]["get"]["parameters"]}
    assert {"ref", "lon", "lat", "x", "y", "crs", "as_of"} <= params


def test_empty_portal_answers_cleanly(empty_instance):
    from gisportal.web import create_app

    client = create_app({**empty_instance.settings, "TESTING": True}).test_client()
    assert get_json(client, "/api/v1/plans") == {"plans": []}
    assert get_json(client, "/api/v1/search", q="tf")["suggestions"] == []
    assert get_json(client, "/api/v1/notes", status=404, ref="TF-1/06")["message"]
    assert get_json(client, "/api/v1/notes", status=404, lon=-5.8, lat=35.77)["message"]
    assert get_json(client, "/api/v1/layers/zones")["features"] == []
    assert client.get("/").status_code == 200
