"""An items request's parameters, checked, as a store :class:`FeatureQuery` (Part 1, 2 and 3 parameters).

Unknown parameters, a bad bbox, an unknown CRS, a CQL2 syntax error or a ``limit`` out of range are a 400 with a
message that names the parameter.
"""

from __future__ import annotations

import dataclasses
import logging
import math
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

import numpy as np
import shapely
from pygeofilter import ast, values
from pygeofilter.parsers.cql2_json import parse as parse_cql2_json
from pygeofilter.parsers.cql2_text import parse as parse_cql2_text

from gisportal.core.errors import InvalidInput
from gisportal.opendata.ogcapi import crs as crs_mod
from gisportal.storage.featurequery import LAYER_COLUMNS, FeatureQuery
from gisportal.zoning.plans import PlanVersion, versions_in_force

logger = logging.getLogger(__name__)

DEFAULT_LIMIT, MAX_LIMIT = 100, 10_000
#: Parameters an items request may carry besides the collection's queryables (``lang``: the HTML page's language).
ITEMS_PARAMETERS = frozenset({"f", "lang", "limit", "offset", "bbox", "bbox-crs", "crs", "datetime", "filter",
                              "filter-lang", "filter-crs"})


@dataclass(frozen=True)
class ItemsRequest:
    """What an items request asks for: the store query, the CRS of the answer, the date it answers as of."""

    query: FeatureQuery
    crs: str
    as_of: date
    limit: int
    offset: int


def _integer(args: Mapping[str, str], name: str, default: int, low: int, high: int) -> int:
    text = args.get(name)
    if text is None or text == "":
        return default
    try:
        value = int(text)
    except ValueError:
        raise InvalidInput(f"'{name}' must be a whole number.", parameter=name) from None
    if not low <= value <= high:
        raise InvalidInput(f"'{name}' must be between {low} and {high}.", parameter=name)
    return value


def parse_date(text: str | None, today: date) -> date:
    """The date a ``datetime`` parameter answers as of: a date (or date-time), or an interval's end (``..``:
    today)."""
    if not text:
        return today
    end = text.split("/")[-1].strip()
    if end in ("..", ""):
        return today
    try:
        return (datetime.fromisoformat(end.replace("Z", "+00:00")).date() if "T" in end.upper()
                else date.fromisoformat(end))
    except ValueError:
        raise InvalidInput("'datetime' must be a date (YYYY-MM-DD), a date-time, or an interval ending in one.",
                           parameter="datetime") from None


def parse_bbox(text: str | None, bbox_crs: str, store_crs: str) -> tuple[float, float, float, float] | None:
    """A ``bbox`` (4 or 6 numbers in ``bbox_crs``) as a box in the store's CRS."""
    if text is None:
        return None
    try:
        numbers = [float(p) for p in text.split(",")]
    except ValueError:
        raise InvalidInput("'bbox' must be 4 (or 6) comma-separated numbers.", parameter="bbox") from None
    if len(numbers) == 6:
        numbers = numbers[0:2] + numbers[3:5]
    if len(numbers) != 4 or not all(math.isfinite(n) for n in numbers):
        raise InvalidInput("'bbox' must be 4 (or 6) comma-separated numbers.", parameter="bbox")
    if numbers[0] > numbers[2] or numbers[1] > numbers[3]:
        raise InvalidInput("'bbox' must go from the lower corner to the upper corner.", parameter="bbox")
    if bbox_crs in (crs_mod.CRS84, crs_mod.crs_uri("EPSG:4326")):
        lon_lat = numbers if bbox_crs == crs_mod.CRS84 else [numbers[1], numbers[0], numbers[3], numbers[2]]
        if not (-180 <= lon_lat[0] <= 180 and -180 <= lon_lat[2] <= 180 and -90 <= lon_lat[1] <= 90
                and -90 <= lon_lat[3] <= 90):
            raise InvalidInput("'bbox' is outside the range of longitudes and latitudes.", parameter="bbox")
    return crs_mod.transform_bbox(tuple(numbers), bbox_crs, crs_mod.store_uri(store_crs))  # type: ignore[arg-type]


def _attributes(node: Any) -> set[str]:
    names = {node.name} if isinstance(node, ast.Attribute) else set()
    for sub in node.get_sub_nodes() if hasattr(node, "get_sub_nodes") else []:
        names |= _attributes(sub)
    return names


def _move_literals(node: Any, src: str, dst: str) -> Any:
    """The AST with its geometry literals moved from CRS ``src`` to ``dst`` (the store's)."""
    if isinstance(node, values.Geometry):
        geom = shapely.geometry.shape(node.geometry)
        moved = crs_mod.transform_geometries(np.array([geom], dtype=object), src, dst)[0]
        if not np.all(np.isfinite(shapely.get_coordinates(moved))):
            raise InvalidInput("A geometry of the filter lies outside the range of its CRS.", parameter="filter")
        srid = dst.rsplit("/", 1)[1]
        return values.Geometry({**shapely.geometry.mapping(moved), "crs": {
            "type": "name", "properties": {"name": f"urn:ogc:def:crs:EPSG::{srid}"}}})
    if isinstance(node, values.Envelope):  # as a polygon: both backends take geometries in the store's CRS
        return _move_literals(values.Geometry(shapely.geometry.mapping(shapely.box(node.x1, node.y1, node.x2,
                                                                                   node.y2))), src, dst)
    if isinstance(node, ast.Not):
        return ast.Not(_move_literals(node.sub_node, src, dst))
    if isinstance(node, ast.BBox):
        x1, y1, x2, y2 = crs_mod.transform_bbox((node.minx, node.miny, node.maxx, node.maxy), src, dst)
        return ast.BBox(node.lhs, x1, y1, x2, y2, int(dst.rsplit("/", 1)[1]))
    if dataclasses.is_dataclass(node) and not isinstance(node, type):
        changes = {}
        for item in dataclasses.fields(node):
            value = getattr(node, item.name)
            if isinstance(value, list):
                changes[item.name] = [_move_literals(v, src, dst) for v in value]
            elif dataclasses.is_dataclass(value) or isinstance(value, values.Geometry):
                changes[item.name] = _move_literals(value, src, dst)
        return dataclasses.replace(node, **changes) if changes else node
    return node


def parse_filter(text: str, lang: str | None, filter_crs: str, layer: str, store_crs: str) -> Any:
    """A CQL2 filter (text or JSON) as a pygeofilter AST over the layer's queryables, geometries in the store's
    CRS."""
    lang = (lang or "cql2-text").lower()
    if lang not in ("cql2-text", "cql2-json"):
        raise InvalidInput("'filter-lang' must be cql2-text or cql2-json.", parameter="filter-lang")
    try:
        node = parse_cql2_text(text) if lang == "cql2-text" else parse_cql2_json(text)
    except Exception as exc:  # lark and json errors of every kind: the filter is not CQL2
        raise InvalidInput(f"'filter' is not valid {lang}: {str(exc).splitlines()[0][:200]}",
                           parameter="filter") from None
    if not isinstance(node, ast.Node):
        raise InvalidInput("'filter' must be a condition.", parameter="filter")
    unknown = _attributes(node) - set(LAYER_COLUMNS[layer]) - {"geometry"}
    if unknown:
        raise InvalidInput(f"'filter' names properties that are not queryable: {', '.join(sorted(unknown))}.",
                           parameter="filter")
    return _move_literals(node, filter_crs, crs_mod.store_uri(store_crs))


def _typed(layer: str, name: str, text: str) -> Any:
    kind = LAYER_COLUMNS[layer][name]
    try:
        return int(text) if kind == "integer" else float(text) if kind == "number" else text
    except ValueError:
        raise InvalidInput(f"'{name}' must be a {kind}.", parameter=name) from None


def items_request(layer: str, args: Mapping[str, str], store_crs: str, versions: list[PlanVersion],
                  today: date) -> ItemsRequest:
    """Check an items request's arguments and make the store query (versions in force on ``datetime``)."""
    queryables = LAYER_COLUMNS[layer]
    unknown = [name for name in args if name not in ITEMS_PARAMETERS and name not in queryables]
    if unknown:
        raise InvalidInput(f"Unknown parameter(s): {', '.join(sorted(unknown))}.", parameter=sorted(unknown)[0])
    limit = _integer(args, "limit", DEFAULT_LIMIT, 1, MAX_LIMIT)
    offset = _integer(args, "offset", 0, 0, 2**62)
    answer_crs = crs_mod.parse(args.get("crs"), store_crs, "crs")
    bbox = parse_bbox(args.get("bbox"), crs_mod.parse(args.get("bbox-crs"), store_crs, "bbox-crs"), store_crs)
    as_of = parse_date(args.get("datetime"), today)
    conditions: list[Any] = [ast.Equal(ast.Attribute(name), _typed(layer, name, args[name]))
                             for name in queryables if name in args]
    if args.get("filter"):
        conditions.append(parse_filter(args["filter"], args.get("filter-lang"),
                                       crs_mod.parse(args.get("filter-crs"), store_crs, "filter-crs"), layer,
                                       store_crs))
    where = None
    for condition in conditions:
        where = condition if where is None else ast.And(where, condition)
    version_ids = None if layer == "parcels" else tuple(v.id for v in versions_in_force(versions, as_of))
    return ItemsRequest(FeatureQuery(layer, version_ids, bbox, where, limit, offset), answer_crs, as_of, limit,
                        offset)
