"""The PostGIS store: the same domain, in PostgreSQL, for several app processes.

The schema is created and migrated by the app (Alembic, under an advisory
lock so several processes can start at once). Lookups, intersections and
tiles run in SQL on GiST indexes. Every write is one transaction that also
bumps ``gp_meta.generation``; each process caches only small things (plan
versions, places, extent) and reloads them when the generation moves, so a
publication made through one process is seen by all.
"""

from __future__ import annotations

import contextlib
import io
import logging
import os
import time
from collections.abc import Iterator
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import psycopg
import shapely
import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from gisportal.errors import InvalidInput, NotFound, StoreUnavailable
from gisportal.parcels import ParcelRecord, ref_key, ref_key_candidates, search_text
from gisportal.plans import Plan, PlanVersion
from gisportal.storage.base import NewPlanVersion, OverlayHit, Store, Suggestion, ZoneHit
from gisportal.storage.indexing import match_places, parcel_search_rows, place_rows
from gisportal.storage.postgis_sql import FEATURES_SQL, HITS_SQL, PARCEL_AT_SQL, TILE_SQL

logger = logging.getLogger(__name__)

_LOCK_KEY = 7_301_924  # advisory lock for migrations
_NOT_NULL_TEXT = {"code", "label_fr", "label_ar", "kind", "provision_fr", "provision_ar", "ref", "ref_key", "search",
                  "label"}
#: COPY text form (:meth:`PostgisStore._copy_rows`): NULL, and the characters to escape in a text.
_NULL = "\\N"


def _copy_texts(series: pd.Series, empty: str) -> list[str]:
    """A text column in COPY's text form: escaped by Arrow's kernels (a million cells in well under a second,
    where ``str.translate`` cell by cell took 15 s); a missing value or an empty text becomes ``empty``."""
    import pyarrow as pa
    import pyarrow.compute as pc

    try:  # a column of texts (and missing values): straight to Arrow
        values = pa.array(series.to_numpy(dtype=object), type=pa.large_string(), from_pandas=True)
    except (pa.ArrowInvalid, pa.ArrowTypeError):  # other values in it: as their text
        values = pa.array([v if isinstance(v, str) or v is None else (None if pd.isna(v) else str(v))
                           for v in series.tolist()], type=pa.large_string())
    if pc.any(pc.match_substring_regex(values, r"[\\\n\r\t]")).as_py():
        for char, escaped in (("\\", "\\\\"), ("\n", "\\n"), ("\r", "\\r"), ("\t", "\\t")):
            values = pc.replace_substring(values, char, escaped)
    blank = pc.fill_null(pc.equal(values, ""), True)
    return pc.if_else(blank, pa.scalar(empty, pa.large_string()), values).to_pylist()


#: SQL text -> the same statement in psycopg's parameter style (:meth:`PostgisStore._fetch`).
_PSYCOPG_SQL: dict[str, str] = {}


def make_engine(url: str) -> Engine:
    """An engine on psycopg 3 with a pre-ping pool (survives database restarts).

    The pool is fork-safe: a process forked after connecting (a gunicorn worker of a preloaded app) never
    uses the connections it inherited, which would share one socket between processes.
    """
    if url.startswith("postgresql://"):
        url = "postgresql+psycopg://" + url[len("postgresql://"):]
    engine = sa.create_engine(url, pool_pre_ping=True, pool_size=5, max_overflow=5, pool_recycle=1800)

    @sa.event.listens_for(engine, "connect")
    def _remember_pid(dbapi_connection, record) -> None:  # noqa: ANN001
        record.info["pid"] = os.getpid()

    @sa.event.listens_for(engine, "checkout")
    def _refuse_inherited(dbapi_connection, record, proxy) -> None:  # noqa: ANN001
        if record.info.get("pid") != os.getpid():
            record.dbapi_connection = proxy.dbapi_connection = None  # dropped, not closed: the parent owns it
            raise sa.exc.DisconnectionError("connection inherited from the parent process")

    return engine


@contextlib.contextmanager
def database_errors() -> Iterator[None]:
    """A database that cannot be reached becomes :class:`StoreUnavailable` (503); other errors pass through."""
    try:
        yield
    except (sa.exc.OperationalError, sa.exc.InterfaceError) as exc:
        if isinstance(exc, sa.exc.DBAPIError) and not exc.connection_invalidated and "connect" not in str(exc):
            raise
        logger.warning("database unavailable: %s", str(exc).splitlines()[0])
        raise StoreUnavailable("The database is not reachable right now; please try again in a moment.") from None


#: Indexes of the parcels built in bulk after a first load rather than row by row during it (a GiST or GIN
#: index built at once is several times faster than the same index grown by a million inserts).
BULK_BUILT_INDEXES = ("gp_parcels_geom", "gp_parcels_search")
#: Memory for those builds at least (``SET LOCAL``: this transaction only; a server given more keeps its own).
BULK_INDEX_MEMORY_KB = 512 * 1024


@contextlib.contextmanager
def _bulk_indexes(conn: Connection, table: str, names: tuple[str, ...]) -> Iterator[None]:
    """Drop ``names`` of ``table`` for the block, then build them again from their own definitions, in the
    same transaction (a failure leaves the table and its indexes as they were)."""
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


#: Tables whose ``geom`` column declares the instance's SRID once it is known.
GEOMETRY_TABLES = ("gp_zones", "gp_overlays", "gp_parcels")


def declare_srid(conn: Connection, srid: int) -> None:
    """Make the geometry columns declare ``srid`` (desktop GIS and ``geometry_columns`` then know the CRS).

    The columns are created without one (the CRS comes with the first data); values already carry it.
    """
    for table in GEOMETRY_TABLES:
        declared = conn.execute(sa.text("SELECT Find_SRID(current_schema()::text, CAST(:t AS text), 'geom')"), {"t": table}).scalar_one()
        if declared != srid:
            conn.execute(sa.text(f"ALTER TABLE {table} ALTER COLUMN geom TYPE geometry(MultiPolygon, {int(srid)}) "
                                 f"USING ST_SetSRID(geom, {int(srid)})"))


def migrate(engine: Engine) -> None:
    """Create or upgrade the schema to the latest revision."""
    from alembic import command
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(Path(__file__).resolve().parent.parent / "migrations"))
    with engine.begin() as conn:
        conn.execute(sa.text("SELECT pg_advisory_xact_lock(:k)"), {"k": _LOCK_KEY})
        config.attributes["connection"] = conn
        command.upgrade(config, "heads")


#: Idle read connections a process forked after connecting inherited: kept referenced, never used nor closed
#: (closing would end the parent's sessions, whose sockets they share).
_INHERITED: list[list] = []


class _ReadConnections:
    """The connections of :meth:`PostgisStore._fetch`: autocommit, one cursor each, reused last in first out.

    At most ``keep`` idle ones are kept, each renewed after ``recycle`` seconds (as the engine's pool). Per
    process: a process forked after connecting (a gunicorn worker of a preloaded app) starts afresh. This
    costs some 25 µs less a statement than a checkout from SQLAlchemy's pool (with its events and reset).
    """

    def __init__(self, connect: Any, keep: int = 5, recycle: float = 1800) -> None:
        self._connect, self._keep, self._recycle = connect, keep, recycle
        self._idle: list[tuple[psycopg.Connection, psycopg.Cursor, float]] = []
        self._pid = os.getpid()

    def get(self) -> tuple[psycopg.Connection, psycopg.Cursor, float]:
        """An idle connection, or a new one (its driver's error when the database cannot be reached)."""
        if self._pid != os.getpid():
            _INHERITED.append(self._idle)
            self._idle, self._pid = [], os.getpid()
        now = time.monotonic()
        while True:
            try:
                item = self._idle.pop()
            except IndexError:
                conn = self._connect()
                return conn, conn.cursor(), now
            if now - item[2] < self._recycle:
                return item
            item[0].close()

    def put(self, item: tuple[psycopg.Connection, psycopg.Cursor, float]) -> None:
        """Give a connection back after a statement (whether it succeeded or failed)."""
        if len(self._idle) < self._keep and self._pid == os.getpid() and not item[0].closed:
            self._idle.append(item)
        else:
            item[0].close()

    def discard(self, item: tuple[psycopg.Connection, psycopg.Cursor, float]) -> None:
        """Close a connection the server dropped, and the idle ones: after a restart they are as stale."""
        stale, self._idle = self._idle, []
        for conn, _cur, _born in [item, *stale]:
            conn.close()

    def close(self) -> None:
        stale, self._idle = self._idle, []
        for conn, _cur, _born in stale:
            conn.close()


class PostgisStore(Store):
    """A store in PostgreSQL + PostGIS."""

    def __init__(self, url: str, crs: str | None = None) -> None:
        self.engine = make_engine(url)
        cargs, cparams = self.engine.dialect.create_connect_args(self.engine.url)  # as the engine connects
        self._reads = _ReadConnections(lambda: psycopg.connect(*cargs, **cparams, autocommit=True))
        with self._errors():
            migrate(self.engine)
        self._configured_crs = crs
        self._generation: str | None = None
        self._last_wkb: tuple[shapely.Geometry, bytes] | None = None  # see _wkb
        self.refresh()

    # --- plumbing ----------------------------------------------------------
    def _errors(self) -> contextlib.AbstractContextManager[None]:
        return database_errors()

    @contextlib.contextmanager
    def _read(self) -> Iterator[Connection]:
        with self._errors(), self.engine.connect() as conn:
            yield conn

    def _fetch(self, sql: str, params: dict, one: bool = False) -> Any:
        """One read-only statement (a hot path: parcel, hits, tile), straight through psycopg.

        Same answers and errors as ``_read`` + ``conn.execute(sa.text(sql))``, without its per-call costs (a
        ``SELECT 1`` pre-ping, BEGIN and ROLLBACK: three round trips; SQLAlchemy's execution layer): a pooled
        connection in autocommit mode (a single statement sees one snapshot either way), the statement compiled
        once to psycopg's parameter style. Instead of pinging first, a connection the server dropped (a
        database restart) is discarded with the rest of the pool and the statement run once more on a new
        connection, so a restart is survived as with the pre-ping pool; a database that is down is a 503.
        """
        statement = _PSYCOPG_SQL.get(sql)
        if statement is None:
            statement = _PSYCOPG_SQL[sql] = str(sa.text(sql).compile(dialect=self.engine.dialect))
        for attempt in (1, 2):
            try:
                item = self._reads.get()
            except psycopg.Error as exc:  # cannot connect: a 503
                with self._errors():
                    raise sa.exc.DBAPIError.instance(None, None, exc, psycopg.Error) from exc
            conn, cur = item[0], item[1]
            try:
                cur.execute(statement, params)
                rows = cur.fetchone() if one else cur.fetchall()
            except psycopg.Error as exc:
                dropped = self.engine.dialect.is_disconnect(exc, conn, None)
                if dropped:
                    self._reads.discard(item)
                    if attempt == 1:
                        continue
                else:
                    self._reads.put(item)
                with self._errors():
                    raise sa.exc.DBAPIError.instance(statement, params, exc, psycopg.Error,
                                                     connection_invalidated=dropped) from exc
            except BaseException:  # interrupted mid-statement: the connection's state is unknown
                conn.close()
                raise
            self._reads.put(item)
            return rows
        raise AssertionError("unreachable")

    @contextlib.contextmanager
    def _write(self) -> Iterator[Connection]:
        with self._errors(), self.engine.begin() as conn:
            conn.execute(sa.text("LOCK TABLE gp_meta IN EXCLUSIVE MODE"))
            yield conn
            conn.execute(sa.text("UPDATE gp_meta SET value = (value::bigint + 1)::text WHERE key = 'generation'"))
        self.refresh()

    @property
    def srid(self) -> int:
        return int(self.crs.split(":")[1]) if self.crs.upper().startswith("EPSG:") else 0

    def refresh(self) -> bool:
        """Reload cached plan versions, places and extent when another process wrote."""
        with self._read() as conn:
            generation = conn.execute(sa.text("SELECT value FROM gp_meta WHERE key = 'generation'")).scalar_one()
            if generation == self._generation:
                return False
            self._meta = dict(conn.execute(sa.text("SELECT key, value FROM gp_meta WHERE key <> 'generation'")).all())
            self.crs = self._configured_crs or self._meta.get("crs", "")
            self._plans = [Plan(*r) for r in conn.execute(sa.text("SELECT id, name, title_fr, title_ar FROM gp_plans"))]
            by_id = {p.id: p for p in self._plans}
            self._versions = [
                PlanVersion(id=r[0], plan_id=r[1], plan_name=by_id[r[1]].name, version=r[2], approval_act=r[3],
                            approval_date=r[4], effective_from=r[5], title_fr=by_id[r[1]].title_fr,
                            title_ar=by_id[r[1]].title_ar, published_at=r[6])
                for r in conn.execute(sa.text(
                    "SELECT id, plan_id, version, approval_act, approval_date, effective_from, published_at"
                    " FROM gp_plan_versions ORDER BY effective_from, id"))]
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

    def _wkb(self, geometry: shapely.Geometry) -> bytes:
        """WKB of a geometry; for the parcel just read (zones_on + overlays_on on it), the bytes it came in."""
        last = self._last_wkb
        return last[1] if last is not None and last[0] is geometry else shapely.to_wkb(geometry)

    def parcel_by_ref(self, ref: str) -> ParcelRecord | None:
        keys = ref_key_candidates(ref)
        if not keys:
            return None
        with self._read() as conn:
            row = conn.execute(sa.text("SELECT ref, address, quarter, ST_AsBinary(geom) FROM gp_parcels "
                                       "WHERE ref_key = ANY(:k) ORDER BY ref_key = :k0 DESC LIMIT 1"),
                               {"k": keys, "k0": keys[0]}).first()
        return self._parcel(row)

    def parcel_at(self, x: float, y: float) -> ParcelRecord | None:
        return self._parcel(self._fetch(PARCEL_AT_SQL, {"x": x, "y": y, "srid": self.srid}, one=True))

    def _hits(self, table: str, columns: str, geometry: shapely.Geometry, version_ids: list[int]) -> list[tuple]:
        rows = self._fetch(HITS_SQL.format(table=table, columns=columns),
                           {"wkb": self._wkb(geometry), "srid": self.srid, "v": list(version_ids)})
        point = geometry.geom_type == "Point"
        threshold = max(1e-9 * geometry.area, 1e-6)
        return [r for r in rows if point or r[-2] > threshold]

    def zones_on(self, geometry: shapely.Geometry, version_ids: list[int]) -> list[ZoneHit]:
        rows = self._hits("gp_zones", "version_id, code, label_fr, label_ar", geometry, version_ids)
        return [ZoneHit(r[0], r[1], r[2], r[3], float(r[4]), geometry if r[5] is None else shapely.from_wkb(r[5]))
                for r in rows]

    def overlays_on(self, geometry: shapely.Geometry, version_ids: list[int]) -> list[OverlayHit]:
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
        with self._read() as conn:
            frame = pd.DataFrame(conn.execute(sa.text(sql), params).mappings().all())
        if frame.empty:
            frame = pd.DataFrame(columns=[c.strip() for c in columns[layer].split(",")] + ["wkb"])
        geometry = shapely.from_wkb(frame.pop("wkb").to_numpy()) if len(frame) else []
        return gpd.GeoDataFrame(frame, geometry=gpd.GeoSeries(geometry, crs=self.crs or None), crs=self.crs or None)

    def search(self, text: str, limit: int = 10) -> list[Suggestion]:
        words = search_text(text).split()
        if not words:
            return []
        found = match_places(self._places, words, limit)
        if len(found) < limit:
            query = " & ".join(f"{w.replace(chr(39), '')}:*" for w in words)
            with self._read() as conn:
                rows = conn.execute(sa.text(
                    "SELECT label, ref, px, py FROM gp_parcels WHERE to_tsvector('simple', search) @@ "
                    "to_tsquery('simple', :q) LIMIT :n"), {"q": query, "n": limit - len(found)}).all()
            found += [Suggestion("parcel", r[0], r[1], r[2], r[3]) for r in rows]
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
            self.crs = self._configured_crs or frame.crs.to_string()
        if not self.crs.upper().startswith("EPSG:"):
            raise InvalidInput("The PostGIS store needs an EPSG code for the instance CRS (GISPORTAL_CRS).")
        return frame if frame.crs == self.crs else frame.to_crs(self.crs)

    def _copy(self, conn: Connection, table: str, columns: list[str], frame: pd.DataFrame) -> None:
        """Bulk load rows (geometry as hex EWKB in column ``geom``) with COPY in CSV form.

        An empty text stays an empty text; only missing numbers and nullable texts become NULL.
        """
        buffer = io.StringIO()
        frame[columns].to_csv(buffer, header=False, index=False)
        keep_text = [c for c in columns if c in _NOT_NULL_TEXT]
        force = f", FORCE_NOT_NULL ({', '.join(keep_text)})" if keep_text else ""
        raw = conn.connection.driver_connection
        with raw.cursor() as cur, cur.copy(f"COPY {table} ({', '.join(columns)}) FROM STDIN "
                                           f"WITH (FORMAT csv{force})") as copy:
            copy.write(buffer.getvalue())

    def _copy_rows(self, conn: Connection, table: str, columns: list[str], frame: pd.DataFrame) -> None:
        """:meth:`_copy` for many rows: the same values, in COPY's text form built column by column.

        Each cell becomes what ``_copy``'s CSV makes of it: a missing value or an empty text is NULL, except
        in the columns of ``_NOT_NULL_TEXT`` (an empty text there); floats written exactly (``repr``, as
        pandas does). About 3x faster than pandas' CSV writer (13 s for a million parcels).
        """
        cells = []
        for column in columns:
            series = frame[column]
            missing = series.isna().to_numpy().tolist()
            if pd.api.types.is_float_dtype(series.dtype) or pd.api.types.is_integer_dtype(series.dtype):
                cells.append([_NULL if m else repr(v) for v, m in zip(series.tolist(), missing)])
                continue
            cells.append(_copy_texts(series, "" if column in _NOT_NULL_TEXT else _NULL))
        lines = list(map("\t".join, zip(*cells)))
        raw = conn.connection.driver_connection
        try:
            with raw.cursor() as cur, cur.copy(f"COPY {table} ({', '.join(columns)}) FROM STDIN") as copy:
                for start in range(0, len(lines), 20_000):
                    copy.write("\n".join(lines[start:start + 20_000]) + "\n")
        except psycopg.Error as exc:  # as SQLAlchemy would have raised it (e.g. IntegrityError)
            raise sa.exc.DBAPIError.instance(f"COPY {table}", None, exc, psycopg.Error) from exc

    def _geom_hex(self, frame: gpd.GeoDataFrame) -> np.ndarray:
        geoms = np.asarray(frame.geometry.values, dtype=object)
        if shapely.has_z(geoms).any():
            geoms = shapely.force_2d(geoms)
        single = shapely.get_type_id(geoms) != shapely.GeometryType.MULTIPOLYGON
        if single.any():
            geoms = geoms.copy()
            geoms[single] = [shapely.MultiPolygon([g]) for g in geoms[single]]
        return shapely.to_wkb(shapely.set_srid(geoms, self.srid), hex=True, include_srid=True)

    def _store_meta_crs(self, conn: Connection) -> None:
        """Record the instance's CRS with the first data; the geometry columns then declare its SRID."""
        first = conn.execute(sa.text("INSERT INTO gp_meta VALUES ('crs', :c) ON CONFLICT (key) DO NOTHING"),
                             {"c": self.crs}).rowcount
        if first and self.srid:
            declare_srid(conn, self.srid)

    def publish_plan_version(self, new: NewPlanVersion, zones: gpd.GeoDataFrame,
                             overlays: gpd.GeoDataFrame | None = None) -> PlanVersion:
        zones = self._ensure_crs(zones)
        with self._write() as conn:
            self._store_meta_crs(conn)
            conn.execute(sa.text("INSERT INTO gp_plans (name, title_fr, title_ar) VALUES (:n, :f, :a) "
                                 "ON CONFLICT (name) DO NOTHING"),
                         {"n": new.plan_name, "f": new.title_fr, "a": new.title_ar})
            plan_id = conn.execute(sa.text("SELECT id FROM gp_plans WHERE name = :n FOR UPDATE"),
                                   {"n": new.plan_name}).scalar_one()
            version_id = conn.execute(sa.text(
                "INSERT INTO gp_plan_versions (plan_id, version, approval_act, approval_date, effective_from,"
                " published_at) SELECT :p, COALESCE(MAX(version), 0) + 1, :act, :ad, :ef, :now FROM gp_plan_versions"
                " WHERE plan_id = :p RETURNING id"),
                {"p": plan_id, "act": new.approval_act, "ad": new.approval_date, "ef": new.effective_from,
                 "now": new.published_at or datetime.now(timezone.utc)}).scalar_one()
            self._copy(conn, "gp_zones", ["version_id", "code", "label_fr", "label_ar", "geom"],
                       zones.assign(version_id=version_id, geom=self._geom_hex(zones)))
            if overlays is not None and len(overlays):
                self._insert_overlays(conn, self._ensure_crs(overlays), version_id)
        return next(v for v in self._versions if v.id == version_id)

    def _insert_overlays(self, conn: Connection, overlays: gpd.GeoDataFrame, version_id: int) -> None:
        columns = ["version_id", "kind", "label_fr", "label_ar", "provision_fr", "provision_ar", "max_height_m", "geom"]
        self._copy(conn, "gp_overlays", columns, overlays.assign(version_id=version_id, geom=self._geom_hex(overlays)))

    def add_overlays(self, plan_name: str, overlays: gpd.GeoDataFrame) -> PlanVersion:
        candidates = [v for v in self._versions if v.plan_name == plan_name]
        if not candidates:
            raise NotFound(f"No plan named '{plan_name}'. Import its zones first with import-plan.", plan=plan_name)
        target = max(candidates, key=lambda v: v.version)
        overlays = self._ensure_crs(overlays)
        with self._write() as conn:
            self._insert_overlays(conn, overlays, target.id)
        return target

    def put_parcels(self, parcels: gpd.GeoDataFrame) -> dict[str, int]:
        parcels = self._ensure_crs(parcels)
        if "ref_key" not in parcels:
            parcels = parcels.assign(ref_key=parcels["ref"].map(ref_key))
        rows = parcel_search_rows(parcels)
        frame = parcels.assign(search=rows["words"].to_numpy(), label=rows["label"].to_numpy(),
                               px=rows["x"].to_numpy(), py=rows["y"].to_numpy(), geom=self._geom_hex(parcels))
        columns = ["ref", "ref_key", "address", "quarter", "search", "label", "px", "py", "geom"]
        with self._write() as conn:
            self._store_meta_crs(conn)
            # Writers are serialised by _write's lock: an empty table stays empty until this transaction ends.
            if conn.execute(sa.text("SELECT NOT EXISTS (SELECT FROM gp_parcels)")).scalar_one():
                # The first load: straight into the table (no staging copy, nothing to replace); the places
                # from the rows just loaded, which are then all the rows there are (the same values).
                with _bulk_indexes(conn, "gp_parcels", BULK_BUILT_INDEXES):
                    self._copy_rows(conn, "gp_parcels", columns, frame)
                replaced = 0
                everything = pd.DataFrame({"address": frame["address"].to_numpy(),
                                           "quarter": frame["quarter"].to_numpy(),
                                           "x": frame["px"].to_numpy(), "y": frame["py"].to_numpy()})
            else:
                conn.execute(sa.text("CREATE TEMP TABLE gp_incoming (LIKE gp_parcels INCLUDING DEFAULTS) "
                                     "ON COMMIT DROP"))
                self._copy_rows(conn, "gp_incoming", columns, frame)
                replaced = conn.execute(sa.text("DELETE FROM gp_parcels p USING gp_incoming i "
                                                "WHERE p.ref_key = i.ref_key")).rowcount
                conn.execute(sa.text(f"INSERT INTO gp_parcels ({', '.join(columns)}) "
                                     f"SELECT {', '.join(columns)} FROM gp_incoming"))
                result = conn.execute(sa.text("SELECT address, quarter, px AS x, py AS y FROM gp_parcels"))
                everything = pd.DataFrame(result.all(), columns=list(result.keys()))
            conn.execute(sa.text("DELETE FROM gp_places"))
            places = place_rows(everything, everything)
            if places:
                conn.execute(sa.text("INSERT INTO gp_places VALUES (:k, :l, :x, :y)"),
                             [{"k": k, "l": lbl, "x": x, "y": y} for k, lbl, x, y in places])
            conn.execute(sa.text("ANALYZE gp_parcels"))
        return {"added": len(parcels) - replaced, "replaced": replaced}

    def set_meta(self, values: dict[str, str]) -> None:
        with self._write() as conn:
            for key, value in values.items():
                conn.execute(sa.text("INSERT INTO gp_meta VALUES (:k, :v) ON CONFLICT (key) DO UPDATE SET value = :v"),
                             {"k": key, "v": value})

    def clear(self) -> None:
        with self._write() as conn:
            conn.execute(sa.text("TRUNCATE gp_zones, gp_overlays, gp_parcels, gp_places, gp_plan_versions, gp_plans,"
                                 " gp_issued_notes"))
            conn.execute(sa.text("DELETE FROM gp_meta WHERE key <> 'generation'"))

    def close(self) -> None:
        self.engine.dispose()
        self._reads.close()
