"""The API described whole (issue #13): every ``/api/v1`` route in the OpenAPI document, its ``servers`` entry from
the configured public URL (never the request's host), and the interactive reference at ``/api/v1/docs``."""

from __future__ import annotations

import re

from gisportal.web import create_app

#: Routes under /api/v1 that are the description itself, not the API.
_META = {"/api/v1/openapi.json", "/api/v1/docs"}


def _documented_and_routed(app):
    # A trusted host on another port (an untrusted Host gets a 400, issue #14): the servers entry must not echo it.
    spec = app.test_client().get("/api/v1/openapi.json", headers={"Host": "localhost:8123"}).get_json()
    routed = {}
    for rule in app.url_map.iter_rules():
        if rule.rule.startswith("/api/v1") and rule.rule not in _META:
            path = re.sub(r"<(?:\w+:)?(\w+)>", r"{\1}", rule.rule)
            routed.setdefault(path, set()).update(m.lower() for m in rule.methods - {"HEAD", "OPTIONS"})
    return spec, routed


def test_every_api_route_and_method_is_in_the_openapi_document(empty_instance):
    app = create_app({**empty_instance.settings, "TESTING": True})
    spec, routed = _documented_and_routed(app)
    assert len(routed) >= 22
    for path, methods in routed.items():
        assert path in spec["paths"], path
        assert methods <= set(spec["paths"][path]), (path, methods)
    drafts = spec["paths"]["/api/v1/drafts"]["post"]
    assert "file" in drafts["requestBody"]["content"]["multipart/form-data"]["schema"]["properties"]
    assert {"201", "401", "403", "422"} <= set(drafts["responses"])
    assert {"approval_act", "approved"} <= set(spec["paths"]["/api/v1/drafts/{draft_id}/publish"]["post"][
        "requestBody"]["content"]["application/json"]["schema"]["required"])
    assert {"200", "401"} <= set(spec["paths"]["/api/v1/me"]["get"]["responses"])
    # Not the request's host: a relative server when no public URL is configured.
    assert spec["servers"] == [{"url": "/", "description": "This server (GISPORTAL_PUBLIC_URL is not set)"}]


def test_the_servers_entry_is_the_configured_public_url(empty_instance):
    app = create_app({**empty_instance.settings, "TESTING": True, "public_url": "https://nru.example.ma/"})
    spec, _routed = _documented_and_routed(app)
    assert [s["url"] for s in spec["servers"]] == ["https://nru.example.ma"]
    assert "8123" not in str(spec["servers"])


def test_the_reference_page_loads_swagger_ui_from_this_server(empty_instance):
    client = create_app({**empty_instance.settings, "TESTING": True}).test_client()
    for lang, title in (("fr", "<h1>Référence de l'API</h1>"), ("ar", "<h1>مرجع واجهة البرمجة</h1>"),
                        ("en", "<h1>API reference</h1>")):
        page = client.get("/api/v1/docs", query_string={"lang": lang})
        assert page.status_code == 200 and title in page.text
        assert 'data-spec-url="/api/v1/openapi.json"' in page.text and "<script>" not in page.text  # no inline script
        assert 'href="/api/v1/docs" aria-current="page"' in page.text  # the menu's "API" entry leads here
    for asset in ("/vendor/swagger-ui/swagger-ui-bundle.js", "/vendor/swagger-ui/swagger-ui.css",
                  "/static/js/apidocs.js"):
        response = client.get(asset)
        assert response.status_code == 200 and len(response.data) > 500, asset
