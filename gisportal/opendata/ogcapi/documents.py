"""The OGC API – Features documents: landing page, conformance, collections, queryables, items, item.

Each function takes the base URL of the API (``…/ogc``, from configuration) and returns a JSON-ready dict;
items are encoded straight to bytes (:func:`items_geojson`).
"""

from __future__ import annotations

import logging
from datetime import UTC, date, datetime
from typing import Any
from urllib.parse import urlencode

import geopandas as gpd
import numpy as np
import orjson
import shapely

from gisportal.opendata.ogcapi import crs as crs_mod
from gisportal.storage.base import Store
from gisportal.storage.featurequery import LAYER_COLUMNS, FeaturePage
from gisportal.zoning.plans import PlanVersion, versions_in_force

logger = logging.getLogger(__name__)

CONFORMANCE = [
    "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/core",
    "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/oas30",
    "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/html",
    "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/geojson",
    "http://www.opengis.net/spec/ogcapi-features-2/1.0/conf/crs",
    "http://www.opengis.net/spec/ogcapi-features-3/1.0/conf/queryables",
    "http://www.opengis.net/spec/ogcapi-features-3/1.0/conf/queryables-query-parameters",
    "http://www.opengis.net/spec/ogcapi-features-3/1.0/conf/filter",
    "http://www.opengis.net/spec/ogcapi-features-3/1.0/conf/features-filter",
    "http://www.opengis.net/spec/cql2/1.0/conf/cql2-text",
    "http://www.opengis.net/spec/cql2/1.0/conf/cql2-json",
    "http://www.opengis.net/spec/cql2/1.0/conf/basic-cql2",
]

COLLECTIONS = {
    "zones": ("Zones of the plans in force", "Zoning of the approved plans (plans d'aménagement) in force."),
    "overlays": ("Overlays (servitudes) of the plans in force", "Servitudes and reservations of the plans in force."),
    "parcels": ("Parcels", "Land parcels with their land-title reference."),
}
QUERYABLES_REL = "http://www.opengis.net/def/rel/ogc/1.0/queryables"
GEOJSON, JSON, HTML = "application/geo+json", "application/json", "text/html"


def _link(href: str, rel: str, kind: str, title: str) -> dict[str, str]:
    return {"href": href, "rel": rel, "type": kind, "title": title}


def landing(base: str, title: str) -> dict[str, Any]:
    """The landing page."""
    return {"title": title, "description": "OGC API – Features: approved planning layers and parcels.", "links": [
        _link(f"{base}?f=json", "self", JSON, "This document"),
        _link(f"{base}?f=html", "alternate", HTML, "This document as HTML"),
        _link(f"{base}/api", "service-desc", "application/vnd.oai.openapi+json;version=3.0", "The API definition"),
        _link(f"{base}/api?f=html", "service-doc", HTML, "The API documentation"),
        _link(f"{base}/conformance", "conformance", JSON, "Conformance classes"),
        _link(f"{base}/collections", "data", JSON, "Collections"),
    ]}


def conformance() -> dict[str, Any]:
    """The conformance classes declared."""
    return {"conformsTo": CONFORMANCE}


def _extent(store: Store, layer: str) -> dict[str, Any]:
    extent = store.extent()
    spatial = ([list(crs_mod.transform_bbox(extent, crs_mod.store_uri(store.crs), crs_mod.CRS84))]
               if extent and store.crs else [[-180.0, -90.0, 180.0, 90.0]])
    document: dict[str, Any] = {"spatial": {"bbox": spatial, "crs": crs_mod.CRS84}}
    versions = store.plan_versions()
    if layer != "parcels" and versions:
        start = min(v.effective_from for v in versions)
        document["temporal"] = {"interval": [[f"{start.isoformat()}T00:00:00Z", None]],
                                "trs": "http://www.opengis.net/def/uom/ISO-8601/0/Gregorian"}
    return document


def collection(base: str, store: Store, layer: str) -> dict[str, Any]:
    """One collection's description."""
    title, description = COLLECTIONS[layer]
    url = f"{base}/collections/{layer}"
    return {
        "id": layer, "title": title, "description": description, "itemType": "feature",
        "extent": _extent(store, layer),
        "crs": crs_mod.supported(store.crs) if store.crs else [crs_mod.CRS84],
        "storageCrs": crs_mod.store_uri(store.crs) if store.crs else crs_mod.CRS84,
        "links": [
            _link(url, "self", JSON, "This collection"),
            _link(f"{url}?f=html", "alternate", HTML, "This collection as HTML"),
            _link(f"{url}/items", "items", GEOJSON, "Features"),
            _link(f"{url}/items?f=html", "items", HTML, "Features as HTML"),
            _link(f"{url}/queryables", QUERYABLES_REL,
                  "application/schema+json", "Queryables"),
        ],
    }


def collections(base: str, store: Store) -> dict[str, Any]:
    """All collections."""
    return {"links": [_link(f"{base}/collections", "self", JSON, "Collections"),
                      _link(f"{base}/collections?f=html", "alternate", HTML, "Collections as HTML")],
            "collections": [collection(base, store, layer) for layer in COLLECTIONS]}


def queryables(base: str, layer: str) -> dict[str, Any]:
    """The collection's queryables as a JSON Schema."""
    properties: dict[str, Any] = {name: {"title": name, "type": kind} for name, kind in LAYER_COLUMNS[layer].items()}
    properties["geometry"] = {"title": "geometry", "format": "geometry-multipolygon"}
    return {"$schema": "https://json-schema.org/draft/2020-12/schema",
            "$id": f"{base}/collections/{layer}/queryables", "type": "object", "title": COLLECTIONS[layer][0],
            "properties": properties, "additionalProperties": False}


def _features(page_frame: gpd.GeoDataFrame, layer: str, versions: dict[int, PlanVersion], src: str,
              dst: str) -> list[dict[str, Any]]:
    geoms = crs_mod.transform_geometries(np.asarray(page_frame.geometry.values, dtype=object), src, dst)
    texts: Any = shapely.to_geojson(geoms) if len(geoms) else []
    columns = list(LAYER_COLUMNS[layer])
    records = page_frame[columns].astype(object).where(page_frame[columns].notna(), None).to_dict("records")
    features = []
    for fid, props, text in zip(page_frame["id"].tolist(), records, texts, strict=True):
        version_id = props.get("version_id")
        version = versions.get(int(version_id)) if (layer != "parcels" and version_id is not None) else None
        if version is not None:
            props.update(plan=version.plan_name, plan_version=version.version, approval_act=version.approval_act,
                         effective_from=version.effective_from.isoformat())
        features.append({"type": "Feature", "id": int(fid), "geometry": orjson.Fragment(text), "properties": props})
    return features


def items_geojson(base: str, store: Store, layer: str, page: FeaturePage, answer_crs: str, limit: int,
                  offset: int, args: list[tuple[str, str]]) -> tuple[bytes, list[dict[str, str]]]:
    """An items page as GeoJSON bytes, with ``next``/``prev`` links keeping the other parameters; and its links."""
    versions = {v.id: v for v in store.plan_versions()}
    features = _features(page.frame, layer, versions, crs_mod.store_uri(store.crs), answer_crs)
    url = f"{base}/collections/{layer}/items"
    kept = urlencode([(k, v) for k, v in args if k not in ("offset", "limit", "f")])
    kept = f"{kept}&" if kept else ""
    links = [_link(f"{url}?{kept}limit={limit}&offset={offset}&f=json", "self", GEOJSON, "This page"),
             _link(f"{url}?{kept}limit={limit}&offset={offset}&f=html", "alternate", HTML, "This page as HTML"),
             _link(f"{base}/collections/{layer}", "collection", JSON, "The collection")]
    if offset + len(features) < page.matched:
        links.append(_link(f"{url}?{kept}limit={limit}&offset={offset + limit}&f=json", "next", GEOJSON,
                           "Next page"))
    if offset > 0:
        links.append(_link(f"{url}?{kept}limit={limit}&offset={max(offset - limit, 0)}&f=json", "prev", GEOJSON,
                           "Previous page"))
    return orjson.dumps({"type": "FeatureCollection", "features": features, "numberMatched": page.matched,
                         "numberReturned": len(features),
                         "timeStamp": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"), "links": links}), links


def item_geojson(base: str, store: Store, layer: str, frame: gpd.GeoDataFrame, answer_crs: str) -> bytes:
    """One feature as GeoJSON bytes."""
    versions = {v.id: v for v in store.plan_versions()}
    feature = _features(frame, layer, versions, crs_mod.store_uri(store.crs), answer_crs)[0]
    url = f"{base}/collections/{layer}/items/{feature['id']}"
    feature["links"] = [_link(f"{url}?f=json", "self", GEOJSON, "This feature"),
                        _link(f"{url}?f=html", "alternate", HTML, "This feature as HTML"),
                        _link(f"{base}/collections/{layer}", "collection", JSON, "The collection")]
    return orjson.dumps(feature)


def in_force_today(store: Store, today: date) -> set[int]:
    """Ids of the versions in force on ``today`` (an item of another version is not in the collection)."""
    return {v.id for v in versions_in_force(store.plan_versions(), today)}

