"""The PostGIS store's writes, each inside the caller's transaction: a plan version with its zones, overlays,
and parcels with the places (quarters, streets) computed from them.

:class:`~gisportal.storage.postgis.store.PostgisStore` opens the transaction (locked, bumping the generation)
and converts the frames to the instance's CRS; these functions only write rows, through binary ``COPY``
(:mod:`gisportal.storage.postgis.load`).
"""

from __future__ import annotations

from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from typing import Any

import geopandas as gpd
import pandas as pd
import pyarrow as pa
import shapely
import sqlalchemy as sa
from sqlalchemy.engine import Connection

from gisportal.storage.base import NewPlanVersion
from gisportal.storage.indexing import address_parts, place_rows
from gisportal.storage.postgis.load import (
    CHUNK_ROWS,
    FLOAT8,
    INT4,
    MULTIPOLYGON,
    TEXT,
    TEXT_OR_NULL,
    bulk_indexes,
    copy_chunks,
    copy_frame,
)
from gisportal.storage.postgis.sql import PARCEL_POINTS_SQL
from gisportal.zoning.parcels import ref_keys

#: Columns of each table a load writes, in COPY's order, with their kinds.
ZONE_COLUMNS = {"version_id": INT4, "code": TEXT, "label_fr": TEXT, "label_ar": TEXT, "geom": MULTIPOLYGON}
OVERLAY_COLUMNS = {"version_id": INT4, "kind": TEXT, "label_fr": TEXT, "label_ar": TEXT, "provision_fr": TEXT,
                   "provision_ar": TEXT, "max_height_m": FLOAT8, "geom": MULTIPOLYGON}
PARCEL_COLUMNS = {"ref": TEXT, "ref_key": TEXT, "address": TEXT_OR_NULL, "quarter": TEXT_OR_NULL,
                  "street": TEXT_OR_NULL, "house": TEXT_OR_NULL, "geom": MULTIPOLYGON}
#: Indexes of the parcels built at once after a first load rather than grown row by row during it.
BULK_BUILT_INDEXES = ("gp_parcels_geom", "gp_parcels_ref_key", "gp_parcels_address")


def _concat(arrays: list[Any]) -> Any:
    """Arrow arrays of texts as one (an empty text array when there are none)."""
    return pa.concat_arrays(arrays) if arrays else pa.array([], type=pa.large_string())


def insert_plan_version(conn: Connection, new: NewPlanVersion, zones: gpd.GeoDataFrame, srid: int) -> int:
    """A new version of a plan (the plan created if new), numbered after its last one, with its zones; its id."""
    conn.execute(sa.text("INSERT INTO gp_plans (name, title_fr, title_ar) VALUES (:n, :f, :a) "
                         "ON CONFLICT (name) DO NOTHING"),
                 {"n": new.plan_name, "f": new.title_fr, "a": new.title_ar})
    plan_id = conn.execute(sa.text("SELECT id FROM gp_plans WHERE name = :n FOR UPDATE"),
                           {"n": new.plan_name}).scalar_one()
    version_id: int = conn.execute(sa.text(
        "INSERT INTO gp_plan_versions (plan_id, version, approval_act, approval_date, effective_from,"
        " published_at) SELECT :p, COALESCE(MAX(version), 0) + 1, :act, :ad, :ef, :now FROM gp_plan_versions"
        " WHERE plan_id = :p RETURNING id"),
        {"p": plan_id, "act": new.approval_act, "ad": new.approval_date, "ef": new.effective_from,
         "now": new.published_at or datetime.now(UTC)}).scalar_one()
    if new.origin:
        conn.execute(sa.text("INSERT INTO gp_version_origins (version_id, origin) VALUES (:v, :o)"),
                     {"v": version_id, "o": new.origin})
    copy_frame(conn, "gp_zones", ZONE_COLUMNS, zones.assign(version_id=version_id, geom=zones.geometry.values), srid)
    return version_id


def insert_overlays(conn: Connection, overlays: gpd.GeoDataFrame, version_id: int, srid: int) -> None:
    """Overlays (servitudes, protected areas...) added to a plan version."""
    copy_frame(conn, "gp_overlays", OVERLAY_COLUMNS,
               overlays.assign(version_id=version_id, geom=overlays.geometry.values), srid)


def load_parcels(conn: Connection, parcels: gpd.GeoDataFrame, srid: int) -> int:
    """Parcels added, or replacing those with the same reference key, and the places recomputed; how many
    were replaced. Writers must be serialised (the store's write lock): an empty table stays empty until the
    transaction ends."""
    streets: list[Any] = []  # the chunks' streets, as they are made (the places are computed from them)

    def chunks() -> Iterator[dict[str, Any]]:
        """The parcels with their reference keys, streets and house numbers, chunk by chunk (while the
        server loads the previous one)."""
        for start in range(0, len(parcels), CHUNK_ROWS):
            part = parcels.iloc[start:start + CHUNK_ROWS]
            street, house = address_parts(part["address"])
            streets.append(street)
            yield {"ref": part["ref"], "address": part["address"], "quarter": part["quarter"],
                   "ref_key": part["ref_key"] if "ref_key" in part else ref_keys(part["ref"]),
                   "street": street, "house": house, "geom": part.geometry.values}

    if conn.execute(sa.text("SELECT NOT EXISTS (SELECT FROM gp_parcels)")).scalar_one():
        # The first load: straight into the table, its indexes built once at the end (a duplicate
        # reference then fails the unique index, and the whole load with it).
        with ThreadPoolExecutor(1) as pool, bulk_indexes(conn, "gp_parcels", BULK_BUILT_INDEXES):
            copy_chunks(conn, "gp_parcels", PARCEL_COLUMNS, chunks(), srid)
            bounds = shapely.bounds(parcels.geometry.values)
            # The places, from the rows just loaded (then all there are), while the server builds the
            # indexes (as bulk_indexes ends, before the pool waits for them).
            soon = pool.submit(place_rows, parcels["quarter"].to_numpy(), _concat(streets),
                               (bounds[:, 0] + bounds[:, 2]) / 2, (bounds[:, 1] + bounds[:, 3]) / 2)
        replaced, places = 0, soon.result()
    else:
        conn.execute(sa.text("CREATE TEMP TABLE gp_incoming (LIKE gp_parcels INCLUDING DEFAULTS) ON COMMIT DROP"))
        copy_chunks(conn, "gp_incoming", PARCEL_COLUMNS, chunks(), srid)
        replaced = conn.execute(sa.text("DELETE FROM gp_parcels p USING gp_incoming i "
                                        "WHERE p.ref_key = i.ref_key")).rowcount
        columns = ", ".join(PARCEL_COLUMNS)
        conn.execute(sa.text(f"INSERT INTO gp_parcels ({columns}) SELECT {columns} FROM gp_incoming"))
        points = pd.DataFrame(conn.execute(sa.text(PARCEL_POINTS_SQL)).all(), columns=["quarter", "street", "x", "y"])
        places = place_rows(points["quarter"], points["street"], points["x"].to_numpy(), points["y"].to_numpy())
    conn.execute(sa.text("DELETE FROM gp_places"))
    if places:
        conn.execute(sa.text("INSERT INTO gp_places VALUES (:k, :l, :x, :y)"),
                     [{"k": k, "l": lbl, "x": x, "y": y} for k, lbl, x, y in places])
    conn.execute(sa.text("ANALYZE gp_parcels"))
    return int(replaced)
