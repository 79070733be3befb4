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

FEATURES_SQL = "SELECT {columns}, ST_AsBinary(geom) AS wkb FROM {table} WHERE {where} ORDER BY id {limit}"

_TILE = """
WITH b AS (SELECT ST_TileEnvelope(:z, :x, :y) AS env),
     q AS (
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
