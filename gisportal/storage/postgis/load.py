"""Bulk loads into PostGIS: ``COPY`` in binary form, the rows built column by column.

A million parcels are about 200 MB of COPY data. Built row by row in Python they cost more than the server
takes to load them; here each column is encoded at once by Arrow's and shapely's vectorised kernels (texts as
UTF-8, numbers big-endian, geometries as EWKB multipolygons carrying the SRID), the columns are joined into rows
by one kernel call per chunk, and the chunks go to the server through psycopg's queued writer, so that the
next chunk is made and encoded while the server parses the last one (two processes, two cores).
"""

from __future__ import annotations

import contextlib
import logging
import struct
from collections.abc import Iterable, Iterator, Mapping
from typing import Any

import numpy as np
import pandas as pd
import psycopg
import pyarrow as pa
import pyarrow.compute as pc
import shapely
import sqlalchemy as sa
from psycopg.copy import QueuedLibpqWriter
from sqlalchemy.engine import Connection

from gisportal.core.errors import InvalidInput
from gisportal.zoning.parcels import text_array

logger = logging.getLogger(__name__)

#: Kinds of column: a text (missing -> empty text), a text or NULL (missing or empty -> NULL), whole numbers,
#: a float (NaN -> NULL), a geometry (a shapely geometry, stored as a multipolygon).
TEXT, TEXT_OR_NULL, INT4, INT8, FLOAT8, MULTIPOLYGON = "text", "text_or_null", "int4", "int8", "float8", "multipolygon"
_FIXED = {INT4: ">i4", INT8: ">i8", FLOAT8: ">f8"}

_SIGNATURE = b"PGCOPY\n\xff\r\n\x00" + b"\x00\x00\x00\x00" + b"\x00\x00\x00\x00"  # no OIDs, no header extension
_TRAILER = b"\xff\xff"
_EWKB_SRID_FLAG = 0x20000000
#: Rows per chunk: ~20 MB of parcels, small enough to overlap building and loading, big enough to keep the
#: kernels' per-call costs out of sight.
CHUNK_ROWS = 100_000


def _big_endian(values: np.ndarray, dtype: str) -> pa.Array:
    data = np.ascontiguousarray(values, dtype=dtype)
    width = data.dtype.itemsize
    return pa.FixedSizeBinaryArray.from_buffers(pa.binary(width), len(data), [None, pa.py_buffer(data.tobytes())]
                                                ).cast(pa.binary())


def _texts(values: object, empty_is_null: bool) -> pa.Array:
    """A text column as UTF-8 (nulls where COPY is to write NULL, else texts)."""
    texts = text_array(values)
    if empty_is_null:
        return pc.if_else(pc.equal(texts, ""), pa.scalar(None, texts.type), texts)
    return texts.fill_null("")


def ewkb_multipolygons(geometries: np.ndarray, srid: int) -> pa.Array:
    """Polygons and multipolygons as 2D EWKB multipolygons with ``srid`` (what the geometry columns hold).

    Built from shapely's little-endian WKB by rewriting its 5-byte header: a multipolygon gets the SRID flag
    and the SRID; a polygon is wrapped as a multipolygon of one part. Anything else is refused.
    """
    types = shapely.get_type_id(geometries)
    wrong = ~np.isin(types, (shapely.GeometryType.POLYGON, shapely.GeometryType.MULTIPOLYGON))
    if wrong.any():
        kinds = sorted({shapely.GeometryType(t).name.title() for t in types[wrong] if t >= 0} | (
            {"missing"} if (types[wrong] < 0).any() else set()))
        raise InvalidInput(f"{int(wrong.sum())} geometries are not polygons ({', '.join(kinds)}).")
    wkb = pa.array(shapely.to_wkb(geometries, byte_order=1, output_dimension=2), type=pa.binary())
    head = b"\x01" + struct.pack("<II", 6 | _EWKB_SRID_FLAG, srid)
    empty = pa.scalar(b"")
    multi = types == shapely.GeometryType.MULTIPOLYGON
    # An explicit stop: pyarrow 26's binary_slice without one fails on some arrays ("Negative buffer resize").
    rehead = (pc.binary_join_element_wise(pa.scalar(head), pc.binary_slice(wkb, 5, 1 << 30), empty)
              if multi.any() else None)
    if multi.all():
        return rehead
    wrapped = pc.binary_join_element_wise(pa.scalar(head + struct.pack("<I", 1)), wkb, empty)
    return wrapped if rehead is None else pc.if_else(pa.array(multi), rehead, wrapped)


def _lengths_and_values(encoded: pa.Array) -> tuple[pa.Array, pa.Array]:
    lengths = pc.binary_length(encoded).fill_null(-1).to_numpy(zero_copy_only=False)
    return _big_endian(lengths, ">i4"), encoded.fill_null(b"")


def _fields(values: Any, kind: str, srid: int) -> list[pa.Array | pa.Scalar]:
    """One column of a chunk as COPY's binary fields: the length of each value (-1 for NULL), its bytes."""
    if kind == MULTIPOLYGON:
        return list(_lengths_and_values(ewkb_multipolygons(np.asarray(values, dtype=object), srid)))
    if kind in _FIXED:
        numbers = np.asarray(values, dtype=float if kind == FLOAT8 else np.int64)
        size = np.dtype(_FIXED[kind]).itemsize
        encoded = _big_endian(numbers, _FIXED[kind])
        if kind == FLOAT8 and np.isnan(numbers).any():
            return [_big_endian(np.where(np.isnan(numbers), -1, size), ">i4"),
                    pc.if_else(pa.array(np.isnan(numbers)), pa.scalar(b""), encoded)]
        return [pa.scalar(struct.pack(">i", size)), encoded]
    return list(_lengths_and_values(_texts(values, kind == TEXT_OR_NULL).cast(pa.binary())))


def binary_rows(columns: Mapping[str, str], chunk: Mapping[str, Any] | pd.DataFrame, srid: int) -> memoryview:
    """The rows of ``chunk`` (column name -> values) in COPY's binary form: each row the number of fields,
    then each field; ``columns`` names the columns in COPY's order with their kinds."""
    if not len(chunk[next(iter(columns))]):
        return memoryview(b"")
    parts: list[pa.Array | pa.Scalar] = [pa.scalar(struct.pack(">h", len(columns)))]
    for name, kind in columns.items():
        parts += _fields(chunk[name], kind, srid)
    rows = pc.binary_join_element_wise(*parts, pa.scalar(b""))
    offsets = np.frombuffer(rows.buffers()[1], dtype=np.int32, count=len(rows) + 1, offset=rows.offset * 4)
    return memoryview(rows.buffers()[2])[offsets[0]:offsets[-1]]


def copy_chunks(conn: Connection, table: str, columns: Mapping[str, str],
                chunks: Iterable[Mapping[str, Any] | pd.DataFrame], srid: int) -> None:
    """Load ``chunks`` (each: column name -> values, a pandas column, an Arrow or numpy array, a list) into
    ``table`` with one binary ``COPY``; each chunk is made and encoded while the server loads the previous one
    (psycopg's queued writer sends them from another thread)."""
    raw = conn.connection.driver_connection
    assert raw is not None, "a checked-out connection has its psycopg connection"
    statement = f"COPY {table} ({', '.join(columns)}) FROM STDIN (FORMAT binary)"
    try:
        with raw.cursor() as cur, cur.copy(statement, writer=QueuedLibpqWriter(cur)) as copy:
            copy.write(_SIGNATURE)
            for chunk in chunks:
                copy.write(binary_rows(columns, chunk, srid))
            copy.write(_TRAILER)
    except psycopg.Error as exc:  # as SQLAlchemy would have raised it (e.g. IntegrityError)
        raise sa.exc.DBAPIError.instance(f"COPY {table}", None, exc, psycopg.Error) from exc


def copy_frame(conn: Connection, table: str, columns: Mapping[str, str], frame: pd.DataFrame, srid: int,
               chunk_rows: int = CHUNK_ROWS) -> None:
    """Load the rows of ``frame`` into ``table`` (:func:`copy_chunks`, ``chunk_rows`` at a time)."""
    copy_chunks(conn, table, columns, (frame.iloc[start:start + chunk_rows]
                                       for start in range(0, len(frame), chunk_rows)), srid)


#: Memory for index builds after a bulk load at least (``SET LOCAL``: this transaction only; a server given
#: more keeps its own).
BULK_INDEX_MEMORY_KB = 512 * 1024


@contextlib.contextmanager
def bulk_indexes(conn: Connection, table: str, names: tuple[str, ...]) -> Iterator[None]:
    """Drop the indexes ``names`` of ``table`` for the block, then build them again from their own
    definitions, in the same transaction (a failure leaves the table and its indexes as they were). An index
    built at once is several times faster than the same index grown by a million inserts."""
    definitions = conn.execute(sa.text("SELECT indexname, indexdef FROM pg_indexes WHERE schemaname = "
                                       "current_schema() AND tablename = :t AND indexname = ANY(:n)"),
                               {"t": table, "n": list(names)}).all()
    for name, _definition in definitions:
        conn.execute(sa.text(f'DROP INDEX "{name}"'))
    yield
    current_kb = conn.execute(sa.text("SELECT setting::bigint FROM pg_settings "
                                      "WHERE name = 'maintenance_work_mem'")).scalar_one()
    if current_kb < BULK_INDEX_MEMORY_KB:
        conn.execute(sa.text(f"SET LOCAL maintenance_work_mem = '{BULK_INDEX_MEMORY_KB}kB'"))
    for _name, definition in definitions:
        conn.execute(sa.text(definition))
