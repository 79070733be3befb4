"""The embedded store: one GeoPackage file per instance, indexed in memory.

Layers ``parcels``, ``zones`` and ``overlays`` are GeoPackage feature tables;
plans, versions, instance facts and the search index are plain tables in the
same file. On open, the layers are read with pyogrio and indexed with shapely
STRtrees. Every write works on a copy of the file that atomically replaces the
original, under an exclusive lock: a crash leaves the previous file intact, and
readers in other processes pick up the new file on :meth:`refresh`.
"""

from __future__ import annotations

import contextlib
import fcntl
import logging
import os
import shutil
import sqlite3
import uuid
import warnings
from collections.abc import Callable, Iterator
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import pyogrio
import shapely
from shapely.geometry.base import BaseGeometry

from gisportal.core.coords import crs_of
from gisportal.core.errors import InvalidInput, NotFound
from gisportal.storage.base import NewPlanVersion, OverlayHit, Store, Suggestion, ZoneHit
from gisportal.storage.embedded.featurefilter import filter_mask
from gisportal.storage.embedded.inforce import PlanLayers, Predicate, query_one
from gisportal.storage.embedded.sql import SCHEMA, build_search_index, search_parcels
from gisportal.storage.featurequery import LAYER_COLUMNS, FeaturePage, FeatureQuery
from gisportal.storage.indexing import match_places
from gisportal.zoning.parcels import ParcelRecord, ref_key, ref_key_candidates, search_text
from gisportal.zoning.plans import Plan, PlanVersion
from gisportal.zoning.tilesets import TileCache

logger = logging.getLogger(__name__)
# GDAL lists the search index's untyped FTS5 columns as fields of an attribute table.
warnings.filterwarnings("ignore", message="Field format '' not supported")

_TEXT, _INT, _FLOAT = "object", "int64", "float64"
#: Attribute columns and their types, per layer.
SCHEMAS: dict[str, dict[str, str]] = {
    "zones": {"version_id": _INT, "code": _TEXT, "label_fr": _TEXT, "label_ar": _TEXT},
    "overlays": {"version_id": _INT, "kind": _TEXT, "label_fr": _TEXT, "label_ar": _TEXT, "provision_fr": _TEXT,
                 "provision_ar": _TEXT, "max_height_m": _FLOAT},
    "parcels": {"ref": _TEXT, "ref_key": _TEXT, "address": _TEXT, "quarter": _TEXT},
}
_COLUMNS = {name: list(schema) for name, schema in SCHEMAS.items()}
PARCEL_COLUMNS = _COLUMNS["parcels"]


def _empty_frame(layer: str, crs: str | None) -> gpd.GeoDataFrame:
    return gpd.GeoDataFrame({c: pd.Series(dtype=t) for c, t in SCHEMAS[layer].items()},
                            geometry=gpd.GeoSeries([], crs=crs or None))


class _Layer:
    """One layer in memory: its frame, geometry array and STRtree."""

    def __init__(self, frame: gpd.GeoDataFrame) -> None:
        self.frame = frame.reset_index(drop=True)
        self.geoms = np.asarray(self.frame.geometry.values, dtype=object)
        self.tree = shapely.STRtree(self.geoms)

    def candidates(self, geometry: BaseGeometry, predicate: Predicate = "intersects") -> np.ndarray:
        return query_one(self.tree, geometry, predicate)


class EmbeddedStore(Store):
    """A store in one GeoPackage file with in-memory STRtrees."""

    def __init__(self, path: Path, crs: str | None = None) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._configured_crs = crs
        self._stamp: tuple[int, int] | None = None
        self._tiles = TileCache(self.path.parent / "tiles")
        self._load()

    # --- loading -----------------------------------------------------------
    def _file_stamp(self) -> tuple[int, int] | None:
        try:
            st = os.stat(self.path)
        except FileNotFoundError:
            return None
        return st.st_ino, st.st_mtime_ns

    def _load(self) -> None:
        self._stamp = self._file_stamp()
        layers = set()
        self._meta: dict[str, str] = {}
        self._plans: list[Plan] = []
        self._versions: list[PlanVersion] = []
        self._places: list[Suggestion] = []
        if self._stamp is not None:
            layers = {str(name) for name, _ in pyogrio.list_layers(self.path)}
            with self._connect(self.path) as db:
                self._read_tables(db)
        self.crs = self._configured_crs or self._meta.get("crs") or ""
        self.layers = {name: self._read_layer(name, layers) for name in _COLUMNS}
        parcels = self.layers["parcels"].frame
        # dtype=object: left to itself, pandas would infer an Arrow "str" Index and convert it back to Python
        # objects for its hash table.
        self._ref_index = pd.Index(parcels["ref_key"].to_numpy(dtype=object), dtype=object)
        # Build the index's hash table now, in the process that loads (the server's master): built lazily, each
        # worker would build its own on its first lookup by reference (0.3 s and 100 MB each for 1M parcels).
        self._ref_index.__contains__("")
        # Attribute values read per hit, without pandas' per-cell indexing (about 20 µs a cell): the parcels' arrays
        # as stored (no copy, no million Python strings); the zones' and overlays' held by the plan layers.
        self._refs, self._addresses, self._quarters = (_cells(parcels[c]) for c in ("ref", "address", "quarter"))
        zones, overlays = self.layers["zones"], self.layers["overlays"]
        self._plan_layers = PlanLayers(zones.frame, zones.geoms, overlays.frame, overlays.geoms)
        boxes = np.array([shapely.total_bounds(layer.geoms) for layer in self.layers.values() if len(layer.geoms)])
        self._extent = ((float(boxes[:, 0].min()), float(boxes[:, 1].min()), float(boxes[:, 2].max()),
                         float(boxes[:, 3].max())) if len(boxes) else None)
        logger.info("embedded store %s loaded: %s", self.path, self.counts())

    def _read_layer(self, name: str, present: set[str]) -> _Layer:
        if name in present:
            frame = pyogrio.read_dataframe(self.path, layer=name, use_arrow=True, fid_as_index=False)
            frame = frame.rename_geometry("geometry") if frame.geometry.name != "geometry" else frame
        else:
            frame = _empty_frame(name, self.crs)
        return _Layer(frame)

    def _read_tables(self, db: sqlite3.Connection) -> None:
        db.executescript(SCHEMA)
        self._meta = dict(db.execute("SELECT key, value FROM gp_meta"))
        self._plans = [Plan(*row) for row in db.execute("SELECT id, name, title_fr, title_ar FROM gp_plans")]
        by_id = {p.id: p for p in self._plans}
        for row in db.execute(
            "SELECT id, plan_id, version, approval_act, approval_date, effective_from, published_at, o.origin "
            "FROM gp_plan_versions v LEFT JOIN gp_version_origins o ON o.version_id = v.id ORDER BY effective_from, id"
        ):
            plan = by_id[row[1]]
            self._versions.append(PlanVersion(
                id=row[0], plan_id=row[1], plan_name=plan.name, version=row[2], approval_act=row[3],
                approval_date=date.fromisoformat(row[4]), effective_from=date.fromisoformat(row[5]),
                title_fr=plan.title_fr, title_ar=plan.title_ar, published_at=datetime.fromisoformat(row[6]),
                origin=row[7],
            ))
        self._places = [Suggestion(kind, label, None, x, y)
                        for kind, label, x, y in db.execute("SELECT kind, label, x, y FROM gp_places")]

    @staticmethod
    @contextlib.contextmanager
    def _connect(path: Path) -> Iterator[sqlite3.Connection]:
        db = sqlite3.connect(path, timeout=30)
        try:
            with db:
                yield db
        finally:
            db.close()

    def refresh(self) -> bool:
        """Reload when another process replaced the file."""
        if self._file_stamp() == self._stamp:
            return False
        logger.info("store file %s changed; reloading", self.path)
        self._load()
        return True

    # --- reads -------------------------------------------------------------
    def _parcel(self, i: int) -> ParcelRecord:
        address, quarter = self._addresses(i), self._quarters(i)
        return ParcelRecord(self._refs(i), address if isinstance(address, str) else None,
                            quarter if isinstance(quarter, str) else None, self.layers["parcels"].geoms[i])

    def parcel_by_ref(self, ref: str) -> ParcelRecord | None:
        for key in ref_key_candidates(ref):
            if key in self._ref_index:
                loc = self._ref_index.get_loc(key)
                return self._parcel(int(loc) if not isinstance(loc, (slice, np.ndarray)) else int(np.arange(
                    len(self._ref_index))[loc][0]))
        return None

    def parcel_at(self, x: float, y: float) -> ParcelRecord | None:
        point = shapely.points([[x, y]])  # an array of one: what the tree's query takes without reshaping
        hits = self.layers["parcels"].tree.query(point, predicate="intersects")[1].tolist()
        return self._parcel(min(hits)) if hits else None

    def zones_on(self, geometry: BaseGeometry, version_ids: list[int]) -> list[ZoneHit]:
        return self._plan_layers.on(geometry, version_ids)[0]

    def overlays_on(self, geometry: BaseGeometry, version_ids: list[int]) -> list[OverlayHit]:
        return self._plan_layers.on(geometry, version_ids)[1]

    def zones_and_overlays_on(self, geometry: BaseGeometry,
                              version_ids: list[int]) -> tuple[list[ZoneHit], list[OverlayHit]]:
        return self._plan_layers.on(geometry, version_ids)

    def features(self, layer: str, version_ids: list[int] | None, bbox: tuple[float, float, float, float] | None,
                 limit: int | None = None) -> gpd.GeoDataFrame:
        if layer not in self.layers:
            raise NotFound(f"Unknown layer '{layer}'. Layers: {', '.join(self.layers)}.", layer=layer)
        data = self.layers[layer]
        idx = data.candidates(shapely.box(*bbox)) if bbox else np.arange(len(data.frame))
        if version_ids is not None and layer != "parcels":
            versions = self._plan_layers.layer_versions(layer)
            idx = idx[np.isin(versions[idx], version_ids)]
        idx = np.sort(idx)[:limit] if limit is not None else np.sort(idx)
        return data.frame.iloc[idx].drop(columns=["ref_key"], errors="ignore")

    def _layer(self, layer: str) -> _Layer:
        if layer not in self.layers:
            raise NotFound(f"Unknown layer '{layer}'. Layers: {', '.join(self.layers)}.", layer=layer)
        return self.layers[layer]

    def feature_page(self, query: FeatureQuery) -> FeaturePage:
        """Candidates from the STRtree (or all rows), then versions and filter as vectorised masks."""
        data = self._layer(query.layer)
        first = query.after_id or 0  # ids are positions + 1: those after ``after_id`` start at position after_id
        idx = (np.sort(data.candidates(shapely.box(*query.bbox))) if query.bbox
               else np.arange(min(first, len(data.frame)), len(data.frame)))
        idx = idx[idx >= first] if query.bbox and first else idx
        if query.version_ids is not None and query.layer != "parcels":
            idx = idx[np.isin(self._plan_layers.layer_versions(query.layer)[idx], query.version_ids)]
        if query.where is not None and len(idx):
            frame = data.frame
            columns = {name: frame[name].iloc[idx].reset_index(drop=True) for name in LAYER_COLUMNS[query.layer]}
            idx = idx[filter_mask(query.where, columns, data.geoms[idx])]
        end = None if query.limit is None else query.offset + query.limit
        return FeaturePage(self._rows(query.layer, idx[query.offset:end]), len(idx))

    def feature_by_id(self, layer: str, feature_id: int) -> gpd.GeoDataFrame:
        data = self._layer(layer)
        found = [feature_id - 1] if 0 < feature_id <= len(data.frame) else []
        return self._rows(layer, np.array(found, dtype=np.int64))

    def _rows(self, layer: str, idx: np.ndarray) -> gpd.GeoDataFrame:
        """Rows at positions ``idx`` with their ids (position + 1, the GeoPackage's feature id)."""
        frame = self.layers[layer].frame.iloc[idx]
        frame = frame[list(LAYER_COLUMNS[layer]) + ["geometry"]]
        return frame.set_axis(range(len(frame))).assign(id=idx + 1)

    def search(self, text: str, limit: int = 10) -> list[Suggestion]:
        words = search_text(text).split()
        if not words:
            return []
        found = match_places(self._places, words, limit)
        if len(found) < limit and self._stamp is not None:
            with self._connect(self.path) as db:
                found += search_parcels(db, words, limit - len(found))
        return found

    def counts(self) -> dict[str, int]:
        return {**{name: len(layer.frame) for name, layer in self.layers.items()},
                "plan_versions": len(self._versions)}

    # --- writes ------------------------------------------------------------
    @contextlib.contextmanager
    def _writing(self, changes: str | None = None) -> Iterator[Path]:
        """Copy the file, let the caller change the copy, then swap it in atomically.

        ``changes`` names the data generation the write moves (``plans`` or ``parcels``), which keys
        the pre-built tiles.
        """
        lock_path = self.path.with_name(self.path.name + ".lock")
        with open(lock_path, "w") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            # Under the lock no other write is under way: a copy left here is a killed writer's, remove it.
            for stale in self.path.parent.glob(f".{self.path.stem}.*.tmp.gpkg*"):  # and its -journal
                stale.unlink(missing_ok=True)
            self.refresh()
            tmp = self.path.with_name(f".{self.path.stem}.{os.getpid()}.tmp.gpkg")
            try:
                if self.path.exists():
                    shutil.copyfile(self.path, tmp)
                else:
                    self._create(tmp)
                with self._connect(tmp) as db:
                    db.executescript(SCHEMA)
                    if self.crs:
                        db.execute("INSERT OR IGNORE INTO gp_meta VALUES ('crs', ?)", (self.crs,))
                    db.execute("INSERT OR IGNORE INTO gp_meta VALUES ('instance', ?)", (uuid.uuid4().hex,))
                    if changes:
                        db.execute("INSERT INTO gp_meta VALUES (?, '1') ON CONFLICT (key) DO UPDATE SET "
                                   "value = CAST(value AS INTEGER) + 1", (f"{changes}_generation",))
                yield tmp
                with open(tmp, "rb+") as handle:
                    os.fsync(handle.fileno())
                os.replace(tmp, self.path)
            finally:
                tmp.unlink(missing_ok=True)
            self._load()

    def _create(self, tmp: Path) -> None:
        """A new GeoPackage with the three empty layers in the instance CRS."""
        if not self.crs:
            raise InvalidInput("The store is empty: import a plan or parcels first.")
        for layer in SCHEMAS:
            pyogrio.write_dataframe(_empty_frame(layer, self.crs), tmp, layer=layer, driver="GPKG",
                                    geometry_type="MultiPolygon")

    @staticmethod
    def _append(tmp: Path, layer: str, frame: gpd.GeoDataFrame) -> None:
        frame = frame[_COLUMNS[layer] + ["geometry"]]
        pyogrio.write_dataframe(frame, tmp, layer=layer, driver="GPKG", append=True, promote_to_multi=True)

    def _ensure_crs(self, frame: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
        if not self.crs:
            self.crs = crs_of(frame).to_string()
        return frame if frame.crs == self.crs else frame.to_crs(self.crs)

    def publish_plan_version(self, new: NewPlanVersion, zones: gpd.GeoDataFrame,
                             overlays: gpd.GeoDataFrame | None = None) -> PlanVersion:
        zones = self._ensure_crs(zones)
        with self._writing("plans") as tmp:
            with self._connect(tmp) as db:
                db.execute("INSERT OR IGNORE INTO gp_plans (name, title_fr, title_ar) VALUES (?, ?, ?)",
                           (new.plan_name, new.title_fr, new.title_ar))
                plan_id = db.execute("SELECT id FROM gp_plans WHERE name = ?", (new.plan_name,)).fetchone()[0]
                number = db.execute("SELECT COALESCE(MAX(version), 0) + 1 FROM gp_plan_versions WHERE plan_id = ?",
                                    (plan_id,)).fetchone()[0]
                version_id = db.execute(
                    "INSERT INTO gp_plan_versions (plan_id, version, approval_act, approval_date, effective_from,"
                    " published_at) VALUES (?, ?, ?, ?, ?, ?)",
                    (plan_id, number, new.approval_act, new.approval_date.isoformat(),
                     new.effective_from.isoformat(), (new.published_at or datetime.now(UTC)).isoformat()),
                ).lastrowid
                if new.origin:
                    db.execute("INSERT INTO gp_version_origins (version_id, origin) VALUES (?, ?)",
                               (version_id, new.origin))
            self._append(tmp, "zones", zones.assign(version_id=version_id))
            if overlays is not None and len(overlays):
                self._append(tmp, "overlays", self._ensure_crs(overlays).assign(version_id=version_id))
        return next(v for v in self._versions if v.id == version_id)

    def add_overlays(self, plan_name: str, overlays: gpd.GeoDataFrame) -> PlanVersion:
        latest = [v for v in self._versions if v.plan_name == plan_name]
        if not latest:
            raise NotFound(f"No plan named '{plan_name}'. Import its zones first with import-plan.", plan=plan_name)
        target = max(latest, key=lambda v: v.version)
        overlays = self._ensure_crs(overlays)
        with self._writing("plans") as tmp:
            self._append(tmp, "overlays", overlays.assign(version_id=target.id))
        return target

    def put_parcels(self, parcels: gpd.GeoDataFrame) -> dict[str, int]:
        parcels = self._ensure_crs(parcels)
        if "ref_key" not in parcels:
            parcels = parcels.assign(ref_key=parcels["ref"].map(ref_key))
        current = self.layers["parcels"].frame
        replaced = int(current["ref_key"].isin(parcels["ref_key"]).sum()) if len(current) else 0
        merged = parcels if not len(current) else pd.concat(
            [current[~current["ref_key"].isin(parcels["ref_key"])], parcels.to_crs(current.crs or self.crs)],
            ignore_index=True)
        merged = gpd.GeoDataFrame(merged, geometry="geometry", crs=self.crs)
        with self._writing("parcels") as tmp:
            pyogrio.write_dataframe(merged[PARCEL_COLUMNS + ["geometry"]], tmp, layer="parcels", driver="GPKG",
                                    promote_to_multi=True)
            with self._connect(tmp) as db:
                build_search_index(db, merged)
        return {"added": len(parcels) - replaced, "replaced": replaced}

    def generation(self) -> str:
        """What the data's state is: instance, plans and parcels generations."""
        return "-".join(self._meta.get(k, "0") for k in ("instance", "plans_generation", "parcels_generation"))

    def tile(self, layer: str, z: int, x: int, y: int, version_ids: list[int]) -> bytes:
        """A tile from the layer's pre-built MBTiles (built by tippecanoe when missing)."""
        versioned = layer != "parcels"
        generation = self._meta.get("plans_generation" if versioned else "parcels_generation", "0")
        key = TileCache.key(layer, self._meta.get("instance", ""), generation,
                            sorted(version_ids) if versioned else "")
        path = self._tiles.ensure(layer, key, lambda: self.features(layer, version_ids if versioned else None, None))
        return TileCache.read(path, z, x, y)

    def set_meta(self, values: dict[str, str]) -> None:
        with self._writing() as tmp, self._connect(tmp) as db:
            db.executemany("INSERT OR REPLACE INTO gp_meta VALUES (?, ?)", list(values.items()))


def _cells(column: pd.Series) -> Callable[[int], Any]:
    """A reader of one cell by position: Arrow-backed text through pyarrow (0.5 µs; pandas takes 1.5), else numpy."""
    array = column.array
    if hasattr(array, "__arrow_array__"):
        chunked = array.__arrow_array__()
        return lambda i: chunked[i].as_py()
    return column.to_numpy(dtype=object).__getitem__
