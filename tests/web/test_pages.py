"""The site's HTML pages: the map (no internet), the note, plans, errors as pages, languages."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest

from gisportal.core.coords import WGS84, transformer

URL = re.compile(r"""(?:https?:)?//[a-z0-9.-]+\.[a-z]{2,}""", re.I)


def html_of(client, url, status=200, **params):
    response = client.get(url, query_string=params)
    assert response.status_code == status, response.get_data(as_text=True)[-2000:]
    assert response.mimetype == "text/html"
    return response.get_data(as_text=True)


def external_urls(html):
    """URLs to other hosts; XML namespace names (xmlns="http://www.w3.org/2000/svg") are names, not requests."""
    return sorted(set(URL.findall(re.sub(r'xmlns(?::\w+)?="[^"]*"', "", html))))


def test_map_page_loads_nothing_from_another_host(client):
    html = html_of(client, "/")
    assert external_urls(html) == []
    assert "/vendor/leaflet/leaflet.js" in html and "/vendor/leaflet/leaflet.css" in html
    for ref in re.findall(r'(?:src|href)\s*=\s*["\']([^"\']+)', html):
        assert ref.startswith(("/", "#", "?")) or not re.match(r"^[a-z]+:", ref, re.I), ref


def test_map_page_legend_has_the_catalogue_colours(tiny_client):
    html = html_of(tiny_client, "/")
    assert "#aa0000" in html and "#00aa00" in html  # zones A and B, coloured as the rules catalogue says


def test_vendored_leaflet_is_served(client):
    for name in ("leaflet.js", "leaflet.css"):
        response = client.get(f"/vendor/leaflet/{name}")
        assert response.status_code == 200 and len(response.data) > 1000
    assert client.get("/vendor/leaflet/nope.js").status_code == 404
    assert client.get("/vendor/jquery/jquery.js").status_code == 404
    assert client.get("/vendor/leaflet/../../../etc/passwd").status_code == 404


def test_map_page_for_a_past_date_and_before_any_plan(tiny_client, tiny):
    assert html_of(tiny_client, "/", as_of=(tiny.v1_from + timedelta(days=1)).isoformat())
    html_of(tiny_client, "/", as_of=(tiny.v1_from - timedelta(days=1)).isoformat())  # no zone at all: still a map
    assert "YYYY-MM-DD" in html_of(tiny_client, "/", status=400, as_of="last tuesday", lang="en")


def test_empty_portal_map_page(empty_instance):
    from gisportal.web import create_app

    client = create_app({**empty_instance.settings, "TESTING": True}).test_client()
    assert external_urls(html_of(client, "/")) == []
    html_of(client, "/plans")


def test_arabic_is_right_to_left_and_remembered(client):
    html = html_of(client, "/", lang="ar")
    assert re.search(r'<html[^>]*\bdir="rtl"', html) and re.search(r'<html[^>]*\blang="ar"', html)
    cookie = client.get_cookie("lang")
    assert cookie is not None and cookie.value == "ar"
    again = html_of(client, "/")  # no ?lang=: the cookie decides
    assert re.search(r'<html[^>]*\bdir="rtl"', again) and re.search(r'<html[^>]*\blang="ar"', again)
    html = html_of(client, "/plans", lang="fr")
    assert re.search(r'<html[^>]*\bdir="ltr"', html) and re.search(r'<html[^>]*\blang="fr"', html)
    assert client.get_cookie("lang").value == "fr"


def test_unknown_language_falls_back(client):
    html = html_of(client, "/plans", lang="xx")
    assert re.search(r'<html[^>]*\blang="fr"', html)
    assert client.get_cookie("lang") is None


def test_language_switch_redirects_only_inside_the_site(client):
    response = client.get("/lang/ar", query_string={"next": "/plans"})
    assert response.status_code == 302 and response.headers["Location"].endswith("/plans")
    assert client.get_cookie("lang").value == "ar"
    for target in ("//evil.example.com/x", "https://evil.example.com/"):
        response = client.get("/lang/en", query_string={"next": target})
        assert response.status_code == 302 and "evil" not in response.headers["Location"]


def test_note_page(tiny_client):
    html = html_of(tiny_client, "/note", ref="tf 1007/06")
    assert "TF-1007/06" in html and "7 Rue Al Farabi" in html
    assert 'data-code="A"' in html and 'data-code="B"' in html
    assert external_urls(html) == []


def test_note_page_in_arabic(tiny_client):
    html = html_of(tiny_client, "/note", ref="TF-1002/06", lang="ar")
    assert re.search(r'<html[^>]*\bdir="rtl"', html)
    assert "المنطقة A" in html


def test_note_page_without_rules_and_partly_unzoned(tiny_client):
    assert "TF-1004/06" in html_of(tiny_client, "/note", ref="TF-1004/06")
    assert "TF-1005/06" in html_of(tiny_client, "/note", ref="TF-1005/06")


def test_note_page_by_point_and_historical(tiny_client, tiny):
    lon, lat = transformer("EPSG:26191", WGS84).transform(tiny.x0 + 160, tiny.y0 + 60)
    assert "TF-1003/06" in html_of(tiny_client, "/note", lon=lon, lat=lat)
    as_of = (tiny.v1_from + timedelta(days=1)).isoformat()
    html = html_of(tiny_client, "/note", ref="TF-1001/06", as_of=as_of)
    assert 'data-code="B"' in html and 'data-code="A"' not in html


def test_note_page_unknown_ref_is_a_404_page(tiny_client):
    html = html_of(tiny_client, "/note", status=404, ref="unknown", lang="en")
    assert "No parcel with the land-title reference" in html and "unknown" in html


def test_note_page_on_a_street_lists_the_zones(tiny_client, tiny):
    html = html_of(tiny_client, "/note", status=404, x=tiny.street_point[0], y=tiny.street_point[1], lang="en")
    assert "No parcel at this point" in html
    assert "<b>B</b>" in html and "tiny-plan v2" in html


@pytest.mark.parametrize(("params", "status", "says"), [
    ({"lon": "abc", "lat": "35.7"}, 400, "'lon' must be a number"),
    ({"lon": "-5.8", "lat": "95"}, 400, "Latitude 95.0 is out of range"),
    ({"lon": "nan", "lat": "35.7"}, 400, "finite"),
    ({"lon": "10", "lat": "10"}, 422, "outside the territory"),
    ({"x": "1", "y": "2", "crs": "EPSG:999999"}, 400, "Unknown coordinate reference system"),
    ({"x": "460010"}, 400, "Give both"),
    ({"lon": "-5.8"}, 400, "Give both"),
    ({}, 400, "Say which parcel"),
    ({"ref": "TF-1001/06", "as_of": "2020-13-45"}, 400, "not a date"),
    ({"ref": "x" * 100}, 400, "TF-104523/06"),
])
def test_note_page_bad_input_is_a_clear_page(tiny_client, params, status, says):
    html = html_of(tiny_client, "/note", status=status, lang="en", **params)
    assert says.replace("'", "&#39;") in html or says in html
    assert "Traceback" not in html


def test_plans_page(tiny_client, tiny):
    html = html_of(tiny_client, "/plans")
    assert "Décret v1" in html and "Décret v2" in html


def test_unknown_page_is_a_404_page(tiny_client):
    html_of(tiny_client, "/no/such/page", status=404)


def test_api_errors_stay_json_and_pages_stay_html(tiny_client):
    assert tiny_client.get("/api/v1/nothing").mimetype == "application/json"
    assert tiny_client.get("/api/v1/nothing").get_json()["message"]
    assert tiny_client.get("/nothing").mimetype == "text/html"


def _nav(html):
    """The header's menus: {group: [(href, label, current)]}, and the groups marked as holding the page."""
    nav = re.search(r'<nav class="gp-nav".*?</nav>', html, re.S).group(0)
    groups = {}
    for key, body in re.findall(r'<details [^>]*data-menu="(\w+)">(.*?)</details>', nav, re.S):
        groups[key] = [(href, label, bool(current)) for href, current, label
                       in re.findall(r'<a href="([^"]+)"( aria-current="page")?>([^<]+)</a>', body)]
    marked = re.findall(r'<summary id="gp-menu-(\w+)" aria-current="true">', nav)
    titles = re.findall(r'<summary [^>]*>([^<]+)</summary>', nav)
    return groups, marked, titles


@pytest.mark.parametrize(("lang", "titles"), [
    ("fr", ["Carte et note", "Services", "Décisions et documents", "Aide"]),
    ("ar", ["الخريطة والمذكرة", "الخدمات", "القرارات والوثائق", "المساعدة"]),
    ("en", ["Map and note", "Services", "Decisions and documents", "Help"]),
])
def test_the_header_groups_every_link_into_four_menus_and_marks_the_page(tiny_client, lang, titles):
    groups, marked, shown = _nav(html_of(tiny_client, "/plans", lang=lang))
    assert shown == titles and marked == ["map"]
    assert [(href, current) for key in groups for href, _, current in groups[key]] == [
        ("/", False), ("/plans", True), ("/data", False), ("/verify", False),
        ("/complaints/new", False), ("/complaints/track", False), ("/fees", False), ("/subscribe", False),
        ("/committees", False), ("/committees/lookup", False), ("/documents", False),
        ("/help", False), ("/api/v1/docs", False)]
    assert list(groups) == ["map", "services", "decisions", "help"]
    for href in ("/", "/plans", "/verify", "/complaints/new", "/complaints/track", "/fees", "/subscribe",
                 "/committees", "/committees/lookup", "/documents", "/help"):
        html_of(tiny_client, href)  # every page of the menus opens


def test_a_page_under_a_menu_entry_marks_its_group_only(tiny_client):
    groups, marked, _ = _nav(html_of(tiny_client, "/note", ref="TF-1001/06", lang="fr"))
    assert marked == ["map"] and not any(current for links in groups.values() for *_, current in links)
    groups, marked, _ = _nav(html_of(tiny_client, "/fees", lang="ar"))
    assert marked == ["services"]
    assert [href for links in groups.values() for href, _, current in links if current] == ["/fees"]
