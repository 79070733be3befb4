"""The PostGIS store: the same domain, in PostgreSQL, for several app processes.

The schema is created and migrated by the app (Alembic, under an advisory
lock so several processes can start at once). Lookups, intersections and
tiles run in SQL on GiST indexes. Every write is one transaction that also
bumps ``gp_meta.generation``; each process caches only small things (plan
versions, places, extent) and reloads them when the generation moves, so a
publication made through one process is seen by all. The rows themselves are written by
:mod:`gisportal.storage.postgis.writes`.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Iterator
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import psycopg
import shapely
import sqlalchemy as sa
from shapely.geometry.base import BaseGeometry
from sqlalchemy.engine import Connection

from gisportal.core.agencydb import database_errors
from gisportal.core.coords import crs_of
from gisportal.core.errors import InvalidInput, NotFound
from gisportal.storage.base import NewPlanVersion, OverlayHit, Store, Suggestion, ZoneHit
from gisportal.storage.featurequery import LAYER_COLUMNS, FeaturePage, FeatureQuery
from gisportal.storage.indexing import match_places
from gisportal.storage.postgis import features as postgis_features
from gisportal.storage.postgis.db import declare_srid, make_engine, migrate
from gisportal.storage.postgis.replicas import PRIMARY_LSN_SQL, ReadRouter, connector, fetch_on, safe_url
from gisportal.storage.postgis.sql import FEATURES_SQL, HITS_SQL, PARCEL_AT_SQL, TILE_SQL, parcel_search_sql
from gisportal.storage.postgis.writes import insert_overlays, insert_plan_version, load_parcels
from gisportal.zoning.parcels import ParcelRecord, ref_key_candidates, search_text
from gisportal.zoning.plans import Plan, PlanVersion

logger = logging.getLogger(__name__)

#: SQL text -> the same statement in psycopg's parameter style (:meth:`PostgisStore._fetch`).
_PSYCOPG_SQL: dict[str, str] = {}


class PostgisStore(Store):
    """A store in PostgreSQL + PostGIS."""

    def __init__(self, url: str, crs: str | None = None, read_urls: list[str] | tuple[str, ...] = (),
                 prepare: bool = True, max_lag_seconds: float = 5.0, retry_seconds: float = 10.0) -> None:
        """``url``: the primary; ``read_urls``: its streaming replicas (:mod:`postgis_replicas`);
        ``prepare=False`` behind a pooler in transaction mode (no server-side prepared statements)."""
        self.engine = make_engine(url, prepare=prepare)
        self._router = ReadRouter.build(connector(self.engine, prepare=prepare),
                                        {safe_url(u): connector(self.engine, u, prepare) for u in read_urls},
                                        max_lag_seconds, retry_seconds)
        with self._errors():
            migrate(self.engine)
        self._configured_crs = crs
        self._generation: str | None = None
        self._last_wkb: tuple[BaseGeometry, bytes] | None = None  # see _wkb
        self.refresh()

    # --- plumbing ----------------------------------------------------------
    def _errors(self) -> contextlib.AbstractContextManager[None]:
        return database_errors()

    @contextlib.contextmanager
    def _read(self) -> Iterator[Connection]:
        with self._errors(), self.engine.connect() as conn:
            yield conn

    def _fetch(self, sql: str, params: dict, one: bool = False, primary: bool = False) -> Any:
        """One read-only statement (a hot path: parcel, hits, tile), straight through psycopg.

        Same answers and errors as ``_read`` + ``conn.execute(sa.text(sql))``, without its per-call costs (a
        ``SELECT 1`` pre-ping, BEGIN and ROLLBACK: three round trips; SQLAlchemy's execution layer): a pooled
        connection in autocommit mode (a single statement sees one snapshot either way), the statement compiled
        once to psycopg's parameter style. Instead of pinging first, a connection the server dropped (a
        database restart) is discarded with the rest of the pool and the statement run once more on a new
        connection, so a restart is survived as with the pre-ping pool; a database that is down is a 503.
        On a replica chosen by the read router, or on the primary (``primary``).
        """
        statement = _PSYCOPG_SQL.get(sql)
        if statement is None:
            statement = _PSYCOPG_SQL[sql] = str(sa.text(sql).compile(dialect=self.engine.dialect))
        server = self._router.primary if primary else self._router.choose()
        while not server.is_primary:  # a replica that fails is left aside, the read made elsewhere
            try:
                return fetch_on(server.reads, statement, params, one)
            except psycopg.OperationalError as exc:
                self._router.failed(server, exc)
                server = self._router.choose()
            except psycopg.Error as exc:  # the statement's own error: as on the primary
                with self._errors():
                    raise sa.exc.DBAPIError.instance(statement, params, exc, psycopg.Error) from exc
        reads = server.reads
        for attempt in (1, 2):
            try:
                item = reads.get()
            except psycopg.Error as exc:  # cannot connect: a 503
                with self._errors():
                    raise sa.exc.DBAPIError.instance(None, None, exc, psycopg.Error) from exc
            conn, cur = item[0], item[1]
            try:
                cur.execute(statement, params)
                rows = cur.fetchone() if one else cur.fetchall()
            except psycopg.Error as exc:
                # psycopg's Error and Connection are the DBAPI ones SQLAlchemy types as protocols it cannot match
                dropped = self.engine.dialect.is_disconnect(exc, conn, None)  # type: ignore[arg-type]
                if dropped:
                    reads.discard(item)
                    if attempt == 1:
                        continue
                else:
                    reads.put(item)
                with self._errors():
                    raise sa.exc.DBAPIError.instance(statement, params, exc, psycopg.Error,
                                                     connection_invalidated=dropped) from exc
            except BaseException:  # interrupted mid-statement: the connection's state is unknown
                conn.close()
                raise
            reads.put(item)
            return rows
        raise AssertionError("unreachable")

    @contextlib.contextmanager
    def writing(self) -> Iterator[Connection]:
        """The write transaction every writer of the store uses: writers one at a time (``gp_meta`` locked), the
        data generation bumped on commit, then this instance refreshed."""
        with self._errors(), self.engine.begin() as conn:
            conn.execute(sa.text("LOCK TABLE gp_meta IN EXCLUSIVE MODE"))
            yield conn
            conn.execute(sa.text("UPDATE gp_meta SET value = (value::bigint + 1)::text WHERE key = 'generation'"))
        self.refresh()

    @property
    def srid(self) -> int:
        return int(self.crs.split(":")[1]) if self.crs.upper().startswith("EPSG:") else 0

    def refresh(self) -> bool:
        """Reload cached plan versions, places and extent when another process wrote.

        Cheap enough for every request: one primary-key read on the primary (the replicas may lag), straight
        through psycopg, giving the generation and, with replicas, the primary's WAL position (at or past
        the commit of that generation, ``PRIMARY_LSN_SQL``); the caches are reloaded only when the generation moved."""
        generation, lsn = self._fetch(
            f"SELECT value, {PRIMARY_LSN_SQL if self._router.replicas else '0'} FROM gp_meta "
            "WHERE key = 'generation'", {}, one=True, primary=True)
        if generation == self._generation:
            return False
        self._router.require(int(lsn))  # reads now need what the primary had when it was at this generation
        with self._read() as conn:  # on the primary
            self._meta = dict(conn.execute(sa.text("SELECT key, value FROM gp_meta WHERE key <> 'generation'")).all())
            self.crs = self._configured_crs or self._meta.get("crs", "")
            self._plans = [Plan(*r) for r in conn.execute(sa.text("SELECT id, name, title_fr, title_ar FROM gp_plans"))]
            by_id = {p.id: p for p in self._plans}
            self._versions = [
                PlanVersion(id=r[0], plan_id=r[1], plan_name=by_id[r[1]].name, version=r[2], approval_act=r[3],
                            approval_date=r[4], effective_from=r[5], title_fr=by_id[r[1]].title_fr,
                            title_ar=by_id[r[1]].title_ar, published_at=r[6], origin=r[7])
                for r in conn.execute(sa.text(
                    "SELECT id, plan_id, version, approval_act, approval_date, effective_from, published_at, o.origin"
                    " FROM gp_plan_versions v LEFT JOIN gp_version_origins o ON o.version_id = v.id"
                    " ORDER BY effective_from, id"))]
            self._places = [Suggestion(k, lbl, None, x, y) for k, lbl, x, y in
                            conn.execute(sa.text("SELECT kind, label, x, y FROM gp_places"))]
            boxes = [conn.execute(sa.text(f"SELECT ST_XMin(e), ST_YMin(e), ST_XMax(e), ST_YMax(e) FROM "
                                          f"(SELECT ST_Extent(geom) AS e FROM {t}) s")).one()
                     for t in ("gp_zones", "gp_overlays", "gp_parcels")]
            boxes = [b for b in boxes if b[0] is not None]
            self._extent = ((min(b[0] for b in boxes), min(b[1] for b in boxes), max(b[2] for b in boxes),
                             max(b[3] for b in boxes)) if boxes else None)
            self._counts = {t[3:]: conn.execute(sa.text(f"SELECT count(*) FROM {t}")).scalar_one()
                            for t in ("gp_zones", "gp_overlays", "gp_parcels")}
            self._generation = generation
        return True

    def generation(self) -> str:
        """The data generation (changes with every write)."""
        return self._generation or "0"

    # --- reads -------------------------------------------------------------
    def _parcel(self, row: tuple | None) -> ParcelRecord | None:
        if row is None:
            return None
        geometry = shapely.from_wkb(row[3])
        self._last_wkb = (geometry, row[3])
        return ParcelRecord(row[0], row[1] or None, row[2] or None, geometry)

    def _wkb(self, geometry: BaseGeometry) -> bytes:
        """WKB of a geometry; for the parcel just read (zones_on + overlays_on on it), the bytes it came in."""
        last = self._last_wkb
        return last[1] if last is not None and last[0] is geometry else shapely.to_wkb(geometry)

    def parcel_by_ref(self, ref: str) -> ParcelRecord | None:
        keys = ref_key_candidates(ref)
        if not keys:
            return None
        return self._parcel(self._fetch("SELECT ref, address, quarter, ST_AsBinary(geom) FROM gp_parcels "
                                        "WHERE ref_key = ANY(:k) ORDER BY ref_key = :k0 DESC LIMIT 1",
                                        {"k": keys, "k0": keys[0]}, one=True))

    def parcel_at(self, x: float, y: float) -> ParcelRecord | None:
        return self._parcel(self._fetch(PARCEL_AT_SQL, {"x": x, "y": y, "srid": self.srid}, one=True))

    def _hits(self, table: str, columns: str, geometry: BaseGeometry, version_ids: list[int]) -> list[tuple]:
        rows = self._fetch(HITS_SQL.format(table=table, columns=columns),
                           {"wkb": self._wkb(geometry), "srid": self.srid, "v": list(version_ids)})
        point = geometry.geom_type == "Point"
        threshold = max(1e-9 * geometry.area, 1e-6)
        return [r for r in rows if point or r[-2] > threshold]

    def zones_on(self, geometry: BaseGeometry, version_ids: list[int]) -> list[ZoneHit]:
        rows = self._hits("gp_zones", "version_id, code, label_fr, label_ar", geometry, version_ids)
        return [ZoneHit(r[0], r[1], r[2], r[3], float(r[4]), geometry if r[5] is None else shapely.from_wkb(r[5]))
                for r in rows]

    def overlays_on(self, geometry: BaseGeometry, version_ids: list[int]) -> list[OverlayHit]:
        rows = self._hits("gp_overlays", "version_id, kind, label_fr, label_ar, provision_fr, provision_ar, "
                          "max_height_m", geometry, version_ids)
        return [OverlayHit(r[0], r[1], r[2], r[3], r[4], r[5], r[6], float(r[7]),
                           geometry if r[8] is None else shapely.from_wkb(r[8])) for r in rows]

    def features(self, layer: str, version_ids: list[int] | None, bbox: tuple[float, float, float, float] | None,
                 limit: int | None = None) -> gpd.GeoDataFrame:
        columns = {"zones": "code, label_fr, label_ar, version_id", "parcels": "ref, address, quarter",
                   "overlays": "kind, label_fr, label_ar, provision_fr, provision_ar, max_height_m, version_id"}
        if layer not in columns:
            raise NotFound(f"Unknown layer '{layer}'. Layers: {', '.join(columns)}.", layer=layer)
        where = ["TRUE"]
        params: dict = {"srid": self.srid}
        if bbox:
            where.append("geom && ST_MakeEnvelope(:x0, :y0, :x1, :y1, :srid)")
            params.update(x0=bbox[0], y0=bbox[1], x1=bbox[2], y1=bbox[3])
        if version_ids is not None and layer != "parcels":
            where.append("version_id = ANY(:v)")
            params["v"] = list(version_ids)
        sql = FEATURES_SQL.format(columns=columns[layer], table=f"gp_{layer}", where=" AND ".join(where),
                                  limit=f"LIMIT {int(limit)}" if limit else "")
        names = [c.strip() for c in columns[layer].split(",")] + ["wkb"]
        frame = pd.DataFrame(self._fetch(sql, params), columns=names)
        geometry: np.ndarray | list[BaseGeometry] = shapely.from_wkb(frame.pop("wkb").to_numpy()) if len(frame) else []
        return gpd.GeoDataFrame(frame, geometry=gpd.GeoSeries(geometry, crs=self.crs or None), crs=self.crs or None)

    def feature_page(self, query: FeatureQuery) -> FeaturePage:
        """Box, versions, filter, order and page in one statement; the count in another (cached when unfiltered)."""
        if query.layer not in LAYER_COLUMNS:
            raise NotFound(f"Unknown layer '{query.layer}'.", layer=query.layer)
        with self._read() as conn:
            try:
                rows = conn.execute(postgis_features.page_select(query, self.srid)).all()
            except (sa.exc.DataError, sa.exc.ProgrammingError, sa.exc.InternalError) as exc:  # e.g. text vs number
                raise InvalidInput("The filter cannot be applied: " + str(exc.orig).splitlines()[0][:200],
                                   parameter="filter") from None
            if not query.count or (query.offset == 0 and (query.limit is None or len(rows) < query.limit)):
                matched = len(rows)
            elif postgis_features.is_unfiltered(query):
                matched = self._counts[query.layer]
            else:
                matched = conn.execute(postgis_features.count_select(query, self.srid)).scalar_one()
        return FeaturePage(postgis_features.frame(rows, query.layer, self.crs), int(matched))

    def feature_by_id(self, layer: str, feature_id: int) -> gpd.GeoDataFrame:
        if layer not in LAYER_COLUMNS:
            raise NotFound(f"Unknown layer '{layer}'.", layer=layer)
        with self._read() as conn:
            rows = conn.execute(postgis_features.by_id_select(layer, feature_id, self.srid)).all()
        return postgis_features.frame(rows, layer, self.crs)

    def search(self, text: str, limit: int = 10) -> list[Suggestion]:
        """Places, then parcels by reference prefix (``TF-100`` -> TF-1001/06...), then by street and house
        number (``12 rue ibn`` -> 12 Rue Ibn Battouta), each on a B-tree."""
        words = search_text(text).split()
        if not words:
            return []
        found = match_places(self._places, words, limit)
        if len(found) >= limit:
            return found
        names = [w for w in words if not w[0].isdigit()]
        numbers = [w for w in words if w[0].isdigit()]
        streets = [p.label for p in match_places([p for p in self._places if p.kind == "street"], names, 100)
                   ] if names else []
        sql, params = parcel_search_sql(ref_key_candidates(text), streets, numbers[0] if numbers else None,
                                        limit - len(found))
        seen: set[str] = set()
        for ref, address, x, y in self._fetch(sql, params):
            if ref not in seen:
                seen.add(ref)
                found.append(Suggestion("parcel", f"{ref} — {address}" if address else ref, ref, x, y))
        return found

    def counts(self) -> dict[str, int]:
        return {**self._counts, "plan_versions": len(self._versions)}

    def tile(self, layer: str, z: int, x: int, y: int, version_ids: list[int]) -> bytes:
        """A Mapbox Vector Tile made by ``ST_AsMVT``."""
        if not self.srid:  # no CRS yet: nothing was ever stored
            return b""
        data = self._fetch(TILE_SQL[layer], {"z": z, "x": x, "y": y, "srid": self.srid, "v": list(version_ids)},
                           one=True)[0]
        return bytes(data or b"")

    # --- writes ------------------------------------------------------------
    def _ensure_crs(self, frame: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
        if not self.crs:
            self.crs = self._configured_crs or crs_of(frame).to_string()
        if not self.crs.upper().startswith("EPSG:"):
            raise InvalidInput("The PostGIS store needs an EPSG code for the instance CRS (GISPORTAL_CRS).")
        return frame if frame.crs == self.crs else frame.to_crs(self.crs)

    def _store_meta_crs(self, conn: Connection) -> None:
        """Record the instance's CRS with the first data; the geometry columns then declare its SRID."""
        first = conn.execute(sa.text("INSERT INTO gp_meta VALUES ('crs', :c) ON CONFLICT (key) DO NOTHING"),
                             {"c": self.crs}).rowcount
        if first and self.srid:
            declare_srid(conn, self.srid)

    def publish_plan_version(self, new: NewPlanVersion, zones: gpd.GeoDataFrame,
                             overlays: gpd.GeoDataFrame | None = None) -> PlanVersion:
        zones = self._ensure_crs(zones)
        with self.writing() as conn:
            self._store_meta_crs(conn)
            version_id = insert_plan_version(conn, new, zones, self.srid)
            if overlays is not None and len(overlays):
                insert_overlays(conn, self._ensure_crs(overlays), version_id, self.srid)
        return next(v for v in self._versions if v.id == version_id)

    def add_overlays(self, plan_name: str, overlays: gpd.GeoDataFrame) -> PlanVersion:
        candidates = [v for v in self._versions if v.plan_name == plan_name]
        if not candidates:
            raise NotFound(f"No plan named '{plan_name}'. Import its zones first with import-plan.", plan=plan_name)
        target = max(candidates, key=lambda v: v.version)
        overlays = self._ensure_crs(overlays)
        with self.writing() as conn:
            insert_overlays(conn, overlays, target.id, self.srid)
        return target

    def put_parcels(self, parcels: gpd.GeoDataFrame) -> dict[str, int]:
        parcels = self._ensure_crs(parcels)
        with self.writing() as conn:  # writers are serialised by writing()'s lock, as load_parcels needs
            self._store_meta_crs(conn)
            replaced = load_parcels(conn, parcels, self.srid)
        return {"added": len(parcels) - replaced, "replaced": replaced}

    def set_meta(self, values: dict[str, str]) -> None:
        with self.writing() as conn:
            for key, value in values.items():
                conn.execute(sa.text("INSERT INTO gp_meta VALUES (:k, :v) ON CONFLICT (key) DO UPDATE SET value = :v"),
                             {"k": key, "v": value})

    def clear(self) -> None:
        with self.writing() as conn:
            conn.execute(sa.text("TRUNCATE gp_zones, gp_overlays, gp_parcels, gp_places, gp_version_origins,"
                                 " gp_plan_versions, gp_plans, gp_issued_notes"))
            conn.execute(sa.text("DELETE FROM gp_meta WHERE key <> 'generation'"))

    def close(self) -> None:
        self.engine.dispose()
        self._router.close()
