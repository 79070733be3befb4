"""A first load of parcels streamed into PostGIS chunk by chunk: the app's memory stays that of one chunk.

:meth:`PostgisStore.put_parcels` takes a GeoDataFrame, so the whole layer is in memory (about 1.6 GB of RSS per
million parcels with the geometries as shapely objects). A national city of ten million parcels is made and
loaded a chunk at a time instead: :func:`put_parcel_chunks` takes any iterable of chunks (the generator of
:mod:`gisportal.demo.national`, a reader of a file by pages), derives each chunk's reference keys, streets and
house numbers as the store does, and sends the rows with the store's binary ``COPY`` (the next chunk made while
the server loads the previous one). The indexes are built once after the load, and the search places (the
median point of each quarter and street) are computed by the server from the rows it holds: nothing in the app
grows with the number of parcels.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Iterator, Mapping
from typing import Any

import sqlalchemy as sa

from gisportal.core.errors import Conflict, InvalidInput
from gisportal.storage.indexing import address_parts
from gisportal.storage.postgis.load import bulk_indexes, copy_chunks
from gisportal.storage.postgis.store import PostgisStore
from gisportal.storage.postgis.writes import BULK_BUILT_INDEXES, PARCEL_COLUMNS
from gisportal.zoning.parcels import ref_keys

logger = logging.getLogger(__name__)

__all__ = ["PLACES_SQL", "put_parcel_chunks"]

_MEDIAN = "percentile_cont(0.5) WITHIN GROUP (ORDER BY ({lo}(geom) + {hi}(geom)) / 2)"

#: The search places as :func:`gisportal.storage.indexing.place_rows` makes them (each quarter and street with
#: the median of its parcels' box centres), computed by the server; quarters first, then streets, by name.
PLACES_SQL = " UNION ALL ".join(
    f"(SELECT '{kind}', {kind}, {_MEDIAN.format(lo='ST_XMin', hi='ST_XMax')}, "
    f"{_MEDIAN.format(lo='ST_YMin', hi='ST_YMax')} FROM gp_parcels WHERE coalesce({kind}, '') <> '' "
    f'GROUP BY {kind} ORDER BY {kind} COLLATE "C")' for kind in ("quarter", "street"))


def put_parcel_chunks(store: PostgisStore, chunks: Iterable[Mapping[str, Any]]) -> int:
    """Load parcels into the store's empty parcel table, chunk by chunk; how many were loaded.

    Each chunk maps ``ref``, ``address``, ``quarter`` to sequences and ``geometry`` to an array of shapely
    polygons in the store's CRS (set by the first plan version published: publish one first). One transaction,
    as :meth:`PostgisStore.put_parcels` (a duplicate reference fails the unique index and the whole load);
    the table must be empty (replacing parcels is ``put_parcels``'s work).
    """
    srid = store.srid
    if not srid:
        raise InvalidInput("The store has no CRS yet: publish a plan version before streaming parcels.")
    loaded = 0

    def rows() -> Iterator[dict[str, Any]]:
        nonlocal loaded
        for chunk in chunks:
            street, house = address_parts(chunk["address"])
            loaded += len(chunk["ref"])
            yield {"ref": chunk["ref"], "ref_key": ref_keys(chunk["ref"]), "address": chunk["address"],
                   "quarter": chunk["quarter"], "street": street, "house": house, "geom": chunk["geometry"]}
            logger.info("parcels streamed: %d", loaded)

    with store.writing() as conn:  # the store's write transaction: one writer at a time, the generation bumped
        if conn.execute(sa.text("SELECT EXISTS (SELECT FROM gp_parcels)")).scalar_one():
            raise Conflict("The store already holds parcels: a streamed load only fills an empty table.")
        with bulk_indexes(conn, "gp_parcels", BULK_BUILT_INDEXES):
            copy_chunks(conn, "gp_parcels", PARCEL_COLUMNS, rows(), srid)
        conn.execute(sa.text("DELETE FROM gp_places"))
        conn.execute(sa.text(f"INSERT INTO gp_places (kind, label, x, y) {PLACES_SQL}"))
        conn.execute(sa.text("ANALYZE gp_parcels"))
    return loaded
