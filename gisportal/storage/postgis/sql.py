"""SQL of the PostGIS store: intersections with areas, features by box, vector tiles."""

HITS_SQL = """
WITH q AS (SELECT ST_GeomFromWKB(:wkb, :srid) AS g)
SELECT {columns},
       CASE WHEN GeometryType(q.g) = 'POINT' THEN 0 ELSE ST_Area(ST_Intersection(t.geom, q.g)) END AS area,
       CASE WHEN GeometryType(q.g) = 'POINT' THEN NULL ELSE ST_AsBinary(ST_Intersection(t.geom, q.g)) END AS piece
FROM {table} t, q
WHERE t.version_id = ANY(:v) AND ST_Intersects(t.geom, q.g)
ORDER BY t.id
"""

PARCEL_AT_SQL = ("SELECT ref, address, quarter, ST_AsBinary(geom) FROM gp_parcels "
                 "WHERE ST_Intersects(geom, ST_SetSRID(ST_MakePoint(:x, :y), :srid)) ORDER BY id LIMIT 1")

FEATURES_SQL = "SELECT {columns}, ST_AsBinary(geom) AS wkb FROM {table} WHERE {where} ORDER BY id {limit}"

# q is MATERIALIZED: inlined, its "mvtgeom IS NOT NULL" filter would run ST_Transform + ST_AsMVTGeom a second time
# for every row (a filter and the aggregate's input do not share the expression): about 1.7x the time of a tile.
_TILE = """
WITH b AS (SELECT ST_TileEnvelope(:z, :x, :y) AS env),
     q AS MATERIALIZED (
  SELECT ST_AsMVTGeom(ST_Transform(t.geom, 3857), b.env, 4096, 64, true) AS mvtgeom, {columns}
  FROM {table} t, b
  WHERE {where} t.geom && ST_Transform(b.env, :srid)
)
SELECT ST_AsMVT(q, '{layer}', 4096, 'mvtgeom') FROM q WHERE mvtgeom IS NOT NULL
"""

TILE_SQL = {
    "zones": _TILE.format(columns="t.code", table="gp_zones", where="t.version_id = ANY(:v) AND", layer="zones"),
    "overlays": _TILE.format(columns="t.kind", table="gp_overlays", where="t.version_id = ANY(:v) AND",
                             layer="overlays"),
    "parcels": _TILE.format(columns="t.ref", table="gp_parcels", where="", layer="parcels"),
}

#: What the places (quarters, streets) are computed from: each parcel's quarter, street and the centre of its box.
PARCEL_POINTS_SQL = ("SELECT quarter, street, (ST_XMin(geom) + ST_XMax(geom)) / 2 AS x, "
                     "(ST_YMin(geom) + ST_YMax(geom)) / 2 AS y FROM gp_parcels")


def _like_prefix(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"


def parcel_search_sql(keys: list[str], streets: list[str], house: str | None, limit: int) -> tuple[str, dict]:
    """Parcels whose reference key starts with one of ``keys`` (in key order), then those on one of
    ``streets`` (with a house number starting with ``house``, if given: that very number first): one
    statement, each part on its B-tree (``ref_key``, ``street, house``; both in the "C" collation, where
    ``LIKE 'x%'`` is a range)."""
    params: dict = {"n": max(limit, 0)}
    parts = []
    for i, key in enumerate(keys):
        params[f"k{i}"] = _like_prefix(key)
        parts.append(f"(SELECT ref, address, geom, 0 AS part, 0 AS rank, ref_key AS sort FROM gp_parcels "
                     f"WHERE ref_key LIKE :k{i} ORDER BY ref_key LIMIT :n)")
    if streets:
        params["streets"] = streets
        where, rank, order = "street = ANY(:streets)", "0", "street, house"
        if house:
            params["house"], params["exact"] = _like_prefix(house), house
            where += " AND house LIKE :house"
            rank = "CASE WHEN house = :exact THEN 0 ELSE 1 END"
            order = f"{rank}, {order}"
        parts.append(f"(SELECT ref, address, geom, 1 AS part, {rank} AS rank, street || ' ' || coalesce(house, '') "
                     f"AS sort FROM gp_parcels WHERE {where} ORDER BY {order} LIMIT :n)")
    if not parts:
        return "SELECT NULL, NULL, NULL, NULL WHERE FALSE", params
    return (f"SELECT ref, address, ST_X(p), ST_Y(p) FROM ({' UNION ALL '.join(parts)}) s, "
            f"LATERAL ST_PointOnSurface(s.geom) p ORDER BY part, rank, sort LIMIT :n"), params
