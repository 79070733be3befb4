"""The OpenAPI 3.0 definition of the OGC API (self-contained: no ``$ref`` outside the document)."""

from __future__ import annotations

import logging
from typing import Any

from gisportal.opendata.ogcapi.documents import COLLECTIONS
from gisportal.opendata.ogcapi.query import DEFAULT_LIMIT, MAX_LIMIT
from gisportal.storage.featurequery import LAYER_COLUMNS

logger = logging.getLogger(__name__)

_JSON = {"application/json": {"schema": {"type": "object"}}, "text/html": {"schema": {"type": "string"}}}
_GEOJSON = {"application/geo+json": {"schema": {"type": "object"}}, "text/html": {"schema": {"type": "string"}}}


def _query(name: str, schema: dict[str, Any], description: str, style: str | None = None) -> dict[str, Any]:
    parameter = {"name": name, "in": "query", "required": False, "schema": schema, "description": description}
    if style:
        parameter.update(style=style, explode=False)
    return parameter


def _responses(content: dict[str, Any], description: str) -> dict[str, Any]:
    return {"200": {"description": description, "content": content},
            "400": {"description": "Bad request", "content": {"application/json": {"schema": {"type": "object"}}}},
            "404": {"description": "Not found", "content": {"application/json": {"schema": {"type": "object"}}}}}


def _f() -> dict[str, Any]:
    return _query("f", {"type": "string", "enum": ["json", "html"]}, "Format of the answer")


def definition(base: str, title: str, crs_uris: list[str]) -> dict[str, Any]:
    """The API's OpenAPI 3.0 document."""
    common = [_f(), _query("limit", {"type": "integer", "minimum": 1, "maximum": MAX_LIMIT, "default": DEFAULT_LIMIT},
                           "Features per page", style="form"),
              _query("offset", {"type": "integer", "minimum": 0, "default": 0}, "Features skipped"),
              _query("bbox", {"type": "array", "minItems": 4, "maxItems": 6, "items": {"type": "number"}},
                     "Bounding box", style="form"),
              _query("bbox-crs", {"type": "string", "format": "uri", "enum": crs_uris}, "CRS of bbox"),
              _query("crs", {"type": "string", "format": "uri", "enum": crs_uris}, "CRS of the answer"),
              _query("datetime", {"type": "string"}, "As of this date (or an interval's end)", style="form"),
              _query("filter", {"type": "string"}, "CQL2 filter"),
              _query("filter-lang", {"type": "string", "enum": ["cql2-text", "cql2-json"]}, "Filter language"),
              _query("filter-crs", {"type": "string", "format": "uri", "enum": crs_uris}, "CRS of the filter")]
    paths: dict[str, Any] = {
        "/": {"get": {"summary": "Landing page", "operationId": "getLandingPage", "parameters": [_f()],
                      "responses": _responses(_JSON, "The landing page")}},
        "/conformance": {"get": {"summary": "Conformance classes", "operationId": "getConformanceDeclaration",
                                 "parameters": [_f()], "responses": _responses(_JSON, "Conformance classes")}},
        "/api": {"get": {"summary": "This document", "operationId": "getAPI",
                         "responses": {"200": {"description": "The API definition",
                                               "content": {"application/vnd.oai.openapi+json;version=3.0": {
                                                   "schema": {"type": "object"}}}}}}},
        "/collections": {"get": {"summary": "Collections", "operationId": "getCollections", "parameters": [_f()],
                                 "responses": _responses(_JSON, "The collections")}},
    }
    for layer, (label, _description) in COLLECTIONS.items():
        properties = [_query(name, {"type": kind}, f"Features whose {name} equals this value")
                      for name, kind in LAYER_COLUMNS[layer].items()]
        paths[f"/collections/{layer}"] = {"get": {
            "summary": label, "operationId": f"describe_{layer}", "parameters": [_f()],
            "responses": _responses(_JSON, "The collection")}}
        paths[f"/collections/{layer}/items"] = {"get": {
            "summary": f"Features of {layer}", "operationId": f"getFeatures_{layer}",
            "parameters": common + properties, "responses": _responses(_GEOJSON, "Features")}}
        paths[f"/collections/{layer}/items/{{featureId}}"] = {"get": {
            "summary": f"One feature of {layer}", "operationId": f"getFeature_{layer}",
            "parameters": [{"name": "featureId", "in": "path", "required": True, "schema": {"type": "integer"}},
                           _f(), _query("crs", {"type": "string", "format": "uri", "enum": crs_uris}, "CRS")],
            "responses": _responses(_GEOJSON, "The feature")}}
        paths[f"/collections/{layer}/queryables"] = {"get": {
            "summary": f"Queryables of {layer}", "operationId": f"getQueryables_{layer}", "parameters": [_f()],
            "responses": _responses({"application/schema+json": {"schema": {"type": "object"}}}, "Queryables")}}
    return {"openapi": "3.0.3", "info": {"title": title, "version": "1.0.0"}, "servers": [{"url": base}],
            "paths": paths}
