"""A pygeofilter AST (CQL2) evaluated over a layer held in memory (the embedded store), column by column.

pygeofilter parses CQL2 and ships backends for SQL databases; its geopandas backend leaves ``NOT BETWEEN``,
``NOT IN`` and ``IS NULL`` unhandled, so the embedded store evaluates the same AST here: each predicate is a
vectorised numpy/pandas/shapely operation over the candidate rows, never a Python loop over features.
Comparisons follow SQL: a null value matches no comparison (only ``IS NULL``).
"""

from __future__ import annotations

import logging
import operator
from typing import Any

import numpy as np
import pandas as pd
import shapely
from pygeofilter import ast, values
from pygeofilter.util import like_pattern_to_re

from gisportal.core.errors import InvalidInput

logger = logging.getLogger(__name__)

_COMPARE = {"=": operator.eq, "<>": operator.ne, "<": operator.lt, "<=": operator.le, ">": operator.gt,
            ">=": operator.ge}
_ARITHMETIC = {"+": operator.add, "-": operator.sub, "*": operator.mul, "/": operator.truediv}
_SPATIAL = {"INTERSECTS": shapely.intersects, "DISJOINT": shapely.disjoint, "CONTAINS": shapely.contains,
            "WITHIN": shapely.within, "TOUCHES": shapely.touches, "CROSSES": shapely.crosses,
            "OVERLAPS": shapely.overlaps, "EQUALS": shapely.equals}


def filter_mask(node: Any, columns: dict[str, pd.Series], geoms: np.ndarray) -> np.ndarray:
    """Which rows ``node`` keeps: ``columns`` by attribute name (same length as ``geoms``)."""
    result = _evaluate(node, columns, geoms)
    if isinstance(result, (bool, np.bool_)):
        return np.full(len(geoms), bool(result))
    return np.asarray(pd.Series(result).fillna(False).astype(bool))


def _value(node: Any, columns: dict[str, pd.Series], geoms: np.ndarray) -> Any:
    if isinstance(node, ast.Attribute):
        if node.name == "geometry":
            return geoms
        return columns[node.name]
    if isinstance(node, ast.Arithmetic):
        lhs, rhs = _value(node.lhs, columns, geoms), _value(node.rhs, columns, geoms)
        if node.op.value == "/" and np.any(np.asarray(rhs == 0)):
            raise InvalidInput("The filter divides by zero.", parameter="filter")  # as the database says
        try:
            return _ARITHMETIC[node.op.value](lhs, rhs)
        except TypeError as exc:
            raise InvalidInput(f"These values cannot be combined: {exc}.", parameter="filter") from None
    if isinstance(node, values.Geometry):
        return shapely.geometry.shape(node.geometry)
    if isinstance(node, values.Envelope):
        return shapely.box(node.x1, node.y1, node.x2, node.y2)
    if isinstance(node, (str, int, float, bool)):
        return node
    raise InvalidInput(f"This filter expression is not supported: {node!r}.", parameter="filter")


def _known(series: Any) -> Any:
    """Where a value is present (comparisons with a null are unknown, hence false)."""
    return series.notna() if isinstance(series, pd.Series) else True


def _evaluate(node: Any, columns: dict[str, pd.Series], geoms: np.ndarray) -> Any:
    if isinstance(node, ast.Not):
        return ~pd.Series(filter_mask(node.sub_node, columns, geoms))
    if isinstance(node, ast.Combination):
        lhs, rhs = filter_mask(node.lhs, columns, geoms), filter_mask(node.rhs, columns, geoms)
        return lhs & rhs if node.op.value == "AND" else lhs | rhs
    if isinstance(node, ast.Comparison):
        lhs, rhs = _value(node.lhs, columns, geoms), _value(node.rhs, columns, geoms)
        try:
            return _COMPARE[node.op.value](lhs, rhs) & _known(lhs) & _known(rhs)
        except TypeError as exc:
            raise InvalidInput(f"These values cannot be compared: {exc}.", parameter="filter") from None
    if isinstance(node, ast.Between):
        lhs = _value(node.lhs, columns, geoms)
        low, high = _value(node.low, columns, geoms), _value(node.high, columns, geoms)
        try:
            inside = (lhs >= low) & (lhs <= high)
        except TypeError as exc:
            raise InvalidInput(f"These values cannot be compared: {exc}.", parameter="filter") from None
        return (~inside if node.not_ else inside) & _known(lhs)
    if isinstance(node, ast.Like):
        lhs = _value(node.lhs, columns, geoms)
        regex = like_pattern_to_re(node.pattern, node.nocase, node.wildcard, node.singlechar, node.escapechar)
        found = lhs.astype("string").str.match(regex).fillna(False).astype(bool)
        return (~found if node.not_ else found) & _known(lhs)
    if isinstance(node, ast.In):
        lhs = _value(node.lhs, columns, geoms)
        found = lhs.isin([_value(n, columns, geoms) for n in node.sub_nodes])
        return (~found if node.not_ else found) & _known(lhs)
    if isinstance(node, ast.IsNull):
        lhs = _value(node.lhs, columns, geoms)
        missing = lhs.isna() if isinstance(lhs, pd.Series) else pd.Series(shapely.is_missing(lhs))
        return ~missing if node.not_ else missing
    if isinstance(node, ast.SpatialComparisonPredicate) and node.op.value.upper() in _SPATIAL:
        lhs, rhs = _value(node.lhs, columns, geoms), _value(node.rhs, columns, geoms)
        return _SPATIAL[node.op.value.upper()](lhs, rhs)
    if isinstance(node, ast.BBox):
        return shapely.intersects(_value(node.lhs, columns, geoms), shapely.box(node.minx, node.miny, node.maxx,
                                                                                   node.maxy))
    if isinstance(node, (bool, np.bool_)):
        return bool(node)
    raise InvalidInput(f"This filter is not supported: {type(node).__name__}.", parameter="filter")
