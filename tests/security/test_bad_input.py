"""Bad input never gives a 500: a clear 4xx whose JSON says what was wrong, in a 'message' for people."""

from __future__ import annotations

import random

import pytest

TOO_LONG = "x" * 201

CASES = [
    # (url, params, status, error code or None)
    ("/api/v1/notes", {"lon": "abc", "lat": "35.7"}, 422, "invalid_parameters"),
    ("/api/v1/notes", {"lon": "-5.8", "lat": "95"}, 422, "invalid_parameters"),
    ("/api/v1/notes", {"lon": "-200", "lat": "35"}, 422, "invalid_parameters"),
    ("/api/v1/notes", {"lon": "10", "lat": "10"}, 422, "outside_territory"),
    ("/api/v1/notes", {"lon": "nan", "lat": "35.7"}, 422, "invalid_parameters"),
    ("/api/v1/notes", {"lon": "-5.8", "lat": "inf"}, 422, "invalid_parameters"),
    ("/api/v1/notes", {"lon": "1e400", "lat": "35"}, 422, "invalid_parameters"),
    ("/api/v1/notes", {"x": "NaN", "y": "570000"}, 422, "invalid_parameters"),
    ("/api/v1/notes", {"x": "-Infinity", "y": "570000"}, 422, "invalid_parameters"),
    ("/api/v1/notes", {"x": "1e300", "y": "1e300"}, 422, "outside_territory"),
    ("/api/v1/notes", {"x": "1e300", "y": "1e300", "crs": "EPSG:32630"}, None, None),
    ("/api/v1/notes", {"ref": "TF-999999/99"}, 404, "not_found"),
    ("/api/v1/notes", {"ref": "%%%"}, 404, "not_found"),
    ("/api/v1/notes", {"ref": "x" * 65}, 422, "invalid_parameters"),
    ("/api/v1/notes", {"ref": "   "}, 400, "invalid_input"),
    ("/api/v1/notes", {"x": "460000", "y": "570000", "crs": "EPSG:999999"}, 400, "unknown_crs"),
    ("/api/v1/notes", {"x": "460000", "y": "570000", "crs": "not a crs"}, 400, "unknown_crs"),
    ("/api/v1/notes", {"x": "460000"}, 400, "invalid_input"),
    ("/api/v1/notes", {"y": "570000", "crs": "EPSG:26191"}, 400, "invalid_input"),
    ("/api/v1/notes", {"lon": "-5.8"}, 400, "invalid_input"),
    ("/api/v1/notes", {}, 400, "invalid_input"),
    ("/api/v1/notes", {"foo": "bar", "lang": "fr"}, 400, "invalid_input"),
    ("/api/v1/notes", {"foo": "bar", "lang": "zz"}, 422, "unknown_language"),  # issue #15: names the languages
    ("/api/v1/notes", {"ref": "TF-1001/06", "as_of": "yesterday"}, 422, "invalid_parameters"),
    ("/api/v1/notes", {"ref": "TF-1001/06", "format": "docx"}, 422, "invalid_parameters"),
    ("/api/v1/notes", {"ref": "TF-1001/06", "lang": "x" * 50}, 422, "unknown_language"),
    ("/api/v1/parcels", {"bbox": "1,2,3"}, 400, "invalid_input"),
    ("/api/v1/parcels", {"bbox": "a,b,c,d"}, 400, "invalid_input"),
    ("/api/v1/parcels", {"bbox": "-5.7,35.8,-5.8,35.7"}, 400, "invalid_input"),   # inverted
    ("/api/v1/parcels", {"bbox": "-5.8,35.7,-5.8,35.7"}, 400, "invalid_input"),   # empty
    ("/api/v1/parcels", {"bbox": "-5.8,35.7,-5.7,95"}, 400, "invalid_input"),     # latitude out of range
    ("/api/v1/parcels", {"bbox": "nan,35,-5,36"}, 400, "invalid_input"),
    ("/api/v1/parcels", {"bbox": ",,,"}, 400, "invalid_input"),
    ("/api/v1/parcels", {"ref": "nope"}, 404, "not_found"),
    ("/api/v1/parcels", {}, 400, "invalid_input"),
    ("/api/v1/layers/nope", {}, 404, "not_found"),
    ("/api/v1/layers/parcels", {}, 400, "invalid_input"),
    ("/api/v1/layers/zones", {"bbox": "1,2"}, 400, "invalid_input"),
    ("/api/v1/layers/zones", {"as_of": "2020-02-30"}, 422, "invalid_parameters"),
    ("/api/v1/search", {"q": TOO_LONG}, 422, "invalid_parameters"),
    ("/api/v1/search", {}, 422, "invalid_parameters"),
    ("/api/v1/search", {"q": ""}, 422, "invalid_parameters"),
    ("/api/v1/search", {"q": "tf", "limit": "0"}, 422, "invalid_parameters"),
    ("/api/v1/search", {"q": "tf", "limit": "lots"}, 422, "invalid_parameters"),
    ("/api/v1/search", {"q": "tf", "limit": "1000"}, 422, "invalid_parameters"),
    ("/api/v1/nothing", {}, 404, None),
]


@pytest.mark.parametrize(("url", "params", "status", "code"), CASES,
                         ids=[f"{u.removeprefix('/api/v1/')}-{'&'.join(f'{k}={v[:12]}' for k, v in p.items())}"
                              for u, p, _, _ in CASES])
def test_bad_api_input_is_a_clear_4xx(tiny_client, url, params, status, code):
    response = tiny_client.get(url, query_string=params)
    assert 400 <= response.status_code < 500, response.get_data(as_text=True)
    if status is not None:
        assert response.status_code == status, response.get_data(as_text=True)
    assert response.mimetype == "application/json"
    data = response.get_json()
    assert isinstance(data.get("message"), str) and len(data["message"]) > 5
    assert "Traceback" not in data["message"]
    if code is not None:
        assert data["error"] == code


def test_validation_message_names_the_parameter(tiny_client):
    data = tiny_client.get("/api/v1/notes", query_string={"lon": "abc", "lat": "35"}).get_json()
    assert "'lon'" in data["message"]
    data = tiny_client.get("/api/v1/search", query_string={"q": TOO_LONG}).get_json()
    assert "'q'" in data["message"]


def test_wrong_method_is_a_clear_4xx(tiny_client):
    response = tiny_client.post("/api/v1/notes", data={"ref": "TF-1001/06"})
    assert response.status_code == 405 and response.get_json()["message"]


def _garbage(rng: random.Random) -> str:
    pool = ["", " ", "abc", "-", "1e999", "nan", "-inf", "0x1F", "1,2,3,4", "35°N", "'; DROP TABLE gp_plans; --",
            "\u202e", "🙂", "TF-", "%00", "../../etc/passwd", "<script>", "9" * 40, "-0", "1e-320", "{}", "[]",
            "EPSG:", "EPSG:4326", "EPSG:26191", "+proj=longlat", "2020-02-30", "0000-00-00", "ar", "fr"]
    return rng.choice(pool) + (rng.choice(pool) if rng.random() < 0.3 else "")


@pytest.mark.parametrize("seed", range(3))
def test_random_garbage_never_gives_a_500(tiny_client, seed):
    rng = random.Random(seed)
    urls = ["/api/v1/notes", "/api/v1/parcels", "/api/v1/search", "/api/v1/layers/zones", "/api/v1/layers/overlays",
            "/api/v1/layers/parcels", "/api/v1/plans", "/note", "/", "/plans"]
    names = ["ref", "lon", "lat", "x", "y", "crs", "as_of", "bbox", "q", "limit", "lang", "format", "zzz"]
    for _ in range(60):
        url = rng.choice(urls)
        params = {name: _garbage(rng) for name in rng.sample(names, rng.randint(1, 5))}
        response = tiny_client.get(url, query_string=params)
        assert response.status_code < 500, (url, params, response.get_data(as_text=True)[-500:])
        if response.status_code >= 400 and url.startswith("/api/"):
            assert response.get_json()["message"], (url, params)


def test_random_garbage_on_the_demo(client):
    rng = random.Random(42)
    for _ in range(30):
        params = {name: _garbage(rng) for name in rng.sample(["ref", "lon", "lat", "x", "y", "crs", "as_of"], 3)}
        response = client.get("/api/v1/notes", query_string=params)
        assert response.status_code < 500, (params, response.get_data(as_text=True)[-500:])


@pytest.mark.parametrize("path", [
    "/verify/NRU-2026-%0000001", "/api/v1/verify/NRU-2026-%0000001", "/api/v1/verify/%00",
    "/api/v1/notes?ref=TF-1001%00/06", "/api/v1/notes?ref=%00", "/note?ref=TF%0010", "/api/v1/search?q=Mars%00han",
    "/tiles/zones/15/15852/12897.pbf?as_of=%00", "/api/v1/parcels?bbox=%00",
])
def test_nul_characters_are_never_a_500(tiny_client, path):
    """PostgreSQL text cannot hold NUL: a NUL in a request finds nothing, it does not break the query."""
    response = tiny_client.get(path)
    assert response.status_code < 500, response.get_data(as_text=True)[-500:]


def test_nul_characters_in_the_registry(tiny_app):
    from gisportal.note.build import build_note
    from gisportal.note.issuing import issue_note

    portal = tiny_app.extensions["gisportal"]
    registry = portal.registry
    store = portal.store
    note = build_note(store, portal.catalogue, store.parcel_by_ref("TF-1001/06"))
    issued = issue_note(registry, portal.keyring, note, "fr")  # one in the registry: a NUL must match none, not all
    assert registry.get("NRU-2026-\x00000001") is None and registry.get(issued.number) is not None
    assert registry.search("\x00") == [] and registry.search(issued.number[:-1] + "\x00") == []
    assert [n.number for n in registry.search(issued.number)] == [issued.number]


@pytest.mark.parametrize(("lang", "query", "status", "expected"), [
    ("fr", {"ref": "TF-999999/99"}, 404, "Aucune parcelle ne porte la référence foncière « TF-999999/99 »."),
    ("ar", {"ref": "TF-999999/99"}, 404, "لا توجد قطعة بالمرجع العقاري «TF-999999/99»."),
    ("fr", {"lon": "abc", "lat": "35.7"}, 400, "« lon » doit être un nombre, reçu « abc »."),
    ("ar", {"lon": "-5.8", "lat": "95"}, 400, "خط العرض 95.0 خارج المجال: يجب أن يكون بين -90 و90."),
    ("fr", {"x": "1", "y": "2", "crs": "EPSG:999999"}, 400, "Système de coordonnées inconnu « EPSG:999999 »."),
    ("en", {"ref": "TF-999999/99"}, 404, "No parcel with the land-title reference 'TF-999999/99'."),
])
def test_pages_tell_domain_errors_in_their_language_and_the_api_in_english(tiny_client, lang, query, status,
                                                                          expected):
    from html import unescape

    page = tiny_client.get("/note", query_string={**query, "lang": lang})
    assert page.status_code == status
    assert expected in unescape(page.get_data(as_text=True))
    api = tiny_client.get("/api/v1/notes", query_string=query)
    assert api.status_code in (status, 422) and api.get_json()["message"].isascii()  # the API answers in English
