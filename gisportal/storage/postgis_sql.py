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
