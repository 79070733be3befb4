"""Feature queries of the PostGIS store in SQL: box on the GiST index, versions, the CQL2 filter and the page.

The attribute filter (a pygeofilter AST) becomes a SQLAlchemy expression through pygeofilter's SQLAlchemy
backend: every literal is a bound parameter, never SQL text.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

import geopandas as gpd
import pandas as pd
import shapely
import sqlalchemy as sa
from geoalchemy2 import Geometry
from pygeofilter.backends.sqlalchemy import to_filter

from gisportal.core.errors import InvalidInput
from gisportal.storage.featurequery import LAYER_COLUMNS, FeatureQuery

logger = logging.getLogger(__name__)

#: Lightweight Core views of the layer tables (only the columns feature queries read).
TABLES: dict[str, sa.TableClause] = {
    layer: sa.table(f"gp_{layer}", sa.column("id", sa.BigInteger), sa.column("geom", Geometry()),
                    *(sa.column(name) for name in columns))
    for layer, columns in LAYER_COLUMNS.items()
}


def _conditions(query: FeatureQuery, srid: int) -> list[Any]:
    table = TABLES[query.layer]
    where: list[Any] = []
    if query.bbox:
        where.append(table.c.geom.op("&&")(sa.func.ST_MakeEnvelope(*query.bbox, srid)))
        where.append(sa.func.ST_Intersects(table.c.geom, sa.func.ST_MakeEnvelope(*query.bbox, srid)))
    if query.after_id is not None:
        where.append(table.c.id > query.after_id)
    if query.version_ids is not None and query.layer != "parcels":
        where.append(table.c.version_id.in_(list(query.version_ids)))
    if query.where is not None:
        mapping = {name: table.c[name] for name in LAYER_COLUMNS[query.layer]} | {"geometry": table.c.geom}
        try:
            where.append(to_filter(query.where, mapping))
        except Exception as exc:  # pygeofilter raises plain Exception for nodes its backend does not map
            raise InvalidInput(f"This filter is not supported: {exc}.", parameter="filter") from None
    return where


def page_select(query: FeatureQuery, srid: int) -> sa.Select:
    """The page's rows: id, the layer's columns, ``wkb``; in id order."""
    table = TABLES[query.layer]
    columns = [table.c.id, *(table.c[name] for name in LAYER_COLUMNS[query.layer]),
               sa.func.ST_AsBinary(table.c.geom).label("wkb")]
    select = sa.select(*columns).where(*_conditions(query, srid)).order_by(table.c.id)
    if query.limit is not None:
        select = select.limit(query.limit)
    return select.offset(query.offset) if query.offset else select


def count_select(query: FeatureQuery, srid: int) -> sa.Select:
    """How many rows match (the page aside)."""
    return sa.select(sa.func.count()).select_from(TABLES[query.layer]).where(*_conditions(query, srid))


def by_id_select(layer: str, feature_id: int, srid: int) -> sa.Select:
    """The row with this id."""
    select = page_select(FeatureQuery(layer), srid)
    return select.where(TABLES[layer].c.id == feature_id)


def is_unfiltered(query: FeatureQuery) -> bool:
    """Whether the query counts every row of its table (the cached count answers)."""
    return (query.bbox is None and query.where is None and query.after_id is None
            and (query.version_ids is None or query.layer == "parcels"))


def frame(rows: Sequence[Any], layer: str, crs: str) -> gpd.GeoDataFrame:
    """Rows of :func:`page_select` as a GeoDataFrame (geometry in the store's CRS)."""
    data = pd.DataFrame(rows, columns=["id", *LAYER_COLUMNS[layer], "wkb"])
    geometry: Any = shapely.from_wkb(data.pop("wkb").to_numpy()) if len(data) else []
    return gpd.GeoDataFrame(data, geometry=gpd.GeoSeries(geometry, crs=crs or None), crs=crs or None)
