"""Parcel search on two B-trees instead of a full-text index.

References are found by prefix of their key (``ref_key``, now in the "C" collation so that ``LIKE 'TF100%'``
uses its unique B-tree), addresses by street and house number (``street``, ``house``, one B-tree). The
full-text GIN index over per-parcel words and the columns made for it (``search``, ``label``, ``px``, ``py``)
go: the GIN build alone took longer than the whole load of a million parcels by ogr2ogr. Existing rows get
their street and house number from their address, as new loads do.

Revision ID: 0010
Revises: 0009
"""

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None

_BATCH = 50_000


def upgrade() -> None:
    from gisportal.storage.indexing import address_parts

    op.execute("DROP INDEX IF EXISTS gp_parcels_search")
    op.execute('ALTER TABLE gp_parcels ADD COLUMN street text COLLATE "C", ADD COLUMN house text COLLATE "C"')
    conn = op.get_bind()
    last = 0
    while True:
        rows = conn.execute(sa.text("SELECT id, address FROM gp_parcels WHERE id > :last AND address <> '' "
                                    "ORDER BY id LIMIT :n"), {"last": last, "n": _BATCH}).all()
        if not rows:
            break
        streets, houses = address_parts([r[1] for r in rows])
        conn.execute(sa.text("UPDATE gp_parcels p SET street = v.s, house = v.h FROM (SELECT unnest(CAST(:i AS "
                             "bigint[])) AS id, unnest(CAST(:s AS text[])) AS s, unnest(CAST(:h AS text[])) AS h) v "
                             "WHERE p.id = v.id"),
                     {"i": [r[0] for r in rows], "s": streets.to_pylist(), "h": houses.to_pylist()})
        last = rows[-1][0]
    op.execute("ALTER TABLE gp_parcels DROP COLUMN search, DROP COLUMN label, DROP COLUMN px, DROP COLUMN py")
    op.execute("ALTER TABLE gp_parcels DROP CONSTRAINT gp_parcels_ref_key_key")
    op.execute('ALTER TABLE gp_parcels ALTER COLUMN ref_key TYPE text COLLATE "C"')
    op.execute("CREATE UNIQUE INDEX gp_parcels_ref_key ON gp_parcels (ref_key)")
    op.execute("CREATE INDEX gp_parcels_address ON gp_parcels (street, house)")


def downgrade() -> None:
    op.execute("DROP INDEX gp_parcels_address")
    op.execute("DROP INDEX gp_parcels_ref_key")
    op.execute('ALTER TABLE gp_parcels ALTER COLUMN ref_key TYPE text COLLATE "default"')
    op.execute("ALTER TABLE gp_parcels ADD CONSTRAINT gp_parcels_ref_key_key UNIQUE (ref_key)")
    op.execute("ALTER TABLE gp_parcels ADD COLUMN search text, ADD COLUMN label text, ADD COLUMN px float8, "
               "ADD COLUMN py float8")
    op.execute("UPDATE gp_parcels SET search = trim(regexp_replace(lower(ref || ' ' || coalesce(address, '')), "
               "'\\W+', ' ', 'g')), label = ref || coalesce(' — ' || nullif(address, ''), ''), "
               "px = ST_X(ST_PointOnSurface(geom)), py = ST_Y(ST_PointOnSurface(geom))")
    op.execute("ALTER TABLE gp_parcels ALTER COLUMN search SET NOT NULL, ALTER COLUMN label SET NOT NULL, "
               "ALTER COLUMN px SET NOT NULL, ALTER COLUMN py SET NOT NULL")
    op.execute("ALTER TABLE gp_parcels DROP COLUMN street, DROP COLUMN house")
    op.execute("CREATE INDEX gp_parcels_search ON gp_parcels USING gin (to_tsvector('simple', search))")
