"""One way for the API to take a secret code (:mod:`gisportal.web.core.request_codes`): header or query parameter,
both in the OpenAPI document, a 422 naming both when the code is missing."""

from __future__ import annotations

from typing import Any

from flask import Flask
from flask_smorest import Api, Blueprint

from gisportal.web.core.request_codes import RequestCode

CODE = RequestCode("t", "X-Test-Code", "The thing's code", max_length=8)


def _app() -> tuple[Flask, Api]:
    app = Flask(__name__)
    app.config.update(API_TITLE="t", API_VERSION="1", OPENAPI_VERSION="3.0.3")
    blp = Blueprint("things", __name__)

    @blp.route("/things/<name>")
    @blp.arguments(CODE.query_schema(), location="query")
    @blp.arguments(CODE.header_schema(), location="headers")
    def thing(args: dict[str, Any], headers: dict[str, Any], name: str) -> dict[str, str]:
        return {"name": name, "code": CODE.read(args, headers)}

    api = Api(app)
    api.register_blueprint(blp)
    return app, api


def test_the_code_comes_from_the_header_first_then_the_query():
    client = _app()[0].test_client()
    assert client.get("/things/a", headers={"X-Test-Code": "HEAD"}).get_json()["code"] == "HEAD"
    assert client.get("/things/a?t=QUERY").get_json()["code"] == "QUERY"
    assert client.get("/things/a?t=QUERY", headers={"X-Test-Code": "HEAD"}).get_json()["code"] == "HEAD"
    missing = client.get("/things/a")
    assert missing.status_code == 422
    assert "X-Test-Code" in str(missing.get_json()) and "(or as t)" in str(missing.get_json())
    assert client.get("/things/a?t=123456789").status_code == 422  # longer than max_length
    assert client.get("/things/a?t=x", headers={"X-Other": "1"}).status_code == 200  # other headers are not


def test_both_ways_are_in_the_openapi_document():
    spec = _app()[1].spec.to_dict()
    parameters = {(p["in"], p["name"]) for p in spec["paths"]["/things/{name}"]["get"]["parameters"]}
    assert parameters == {("query", "t"), ("header", "X-Test-Code")}
    assert not any("Query" in name or "Header" in name for name in spec["components"]["schemas"])
