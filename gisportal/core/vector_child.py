"""Reading an outside vector file in a child process, with time and memory limits.

A file from a consultant is hostile until read: a GeoPackage view can run forever, a crafted geometry can eat all
memory, GDAL can crash. The layer is read in a forked child (``forkserver``: no threads or locks of the server
inherited) limited in address space and wall-clock time (:class:`ReadLimits`, from the settings
``GISPORTAL_UPLOAD_READ_SECONDS``, ``GISPORTAL_UPLOAD_READ_MEMORY_BYTES``, ``GISPORTAL_UPLOAD_MAX_VERTICES``); the
parent gets the GeoDataFrame back, or a :class:`~gisportal.core.errors.DataFileError`. Geometries are checked there too:
NaN or infinite coordinates and more vertices than allowed are refused with a clear message.
"""

from __future__ import annotations

import logging
import multiprocessing
import resource
import sqlite3
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import shapely

from gisportal.core.errors import DataFileError, GisportalError

#: What reads a layer in the child (:func:`gisportal.core.vectors.read_here`).
Reader = Callable[..., gpd.GeoDataFrame]

logger = logging.getLogger(__name__)



@dataclass(frozen=True)
class ReadLimits:
    """What reading one outside layer may cost (defaults: those of :class:`gisportal.core.settings.Settings`)."""

    #: Wall-clock seconds a read may take.
    seconds: float = 120.0
    #: Address space of the reading process.
    memory_bytes: int = 3 * 1024**3
    #: Vertices in one layer (a plan of 50,000 detailed zones has a few million at most).
    vertices: int = 5_000_000

    @classmethod
    def from_settings(cls, settings: Any) -> ReadLimits:
        """The limits of an instance (``GISPORTAL_UPLOAD_READ_SECONDS``, ``…_MEMORY_BYTES``, ``…_MAX_VERTICES``)."""
        return cls(settings.upload_read_seconds, settings.upload_read_memory_bytes, settings.upload_max_vertices)


_context = multiprocessing.get_context("forkserver")
_context.set_forkserver_preload(["gisportal.core.vectors"])


def refuse_sql_views(path: Path) -> None:
    """Refuse a GeoPackage holding SQL views (a view may compute forever); triggers never fire on reading."""
    if path.suffix.lower() != ".gpkg" or not path.is_file():
        return
    try:
        with sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=1) as db:
            views = [row[0] for row in db.execute("SELECT name FROM sqlite_master WHERE type = 'view' LIMIT 5")]
    except sqlite3.Error as exc:
        raise DataFileError(f"Cannot read {path.name}: not a readable GeoPackage ({exc}).", file=path.name) from None
    if views:
        raise DataFileError(f"{path.name} holds SQL views ({', '.join(views)}); export the layers as plain tables.",
                            file=path.name, views=views)


def check_geometries(frame: gpd.GeoDataFrame, name: str, max_vertices: int = ReadLimits.vertices) -> None:
    """Refuse NaN/infinite coordinates and too many vertices (geometry faults GEOS cannot work with)."""
    geometries = frame.geometry.values
    count = int(shapely.get_num_coordinates(geometries).sum())
    if count > max_vertices:
        raise DataFileError(f"{name}: {count:,} vertices, more than the {max_vertices:,} accepted; simplify the "
                            "layer or split it.", file=name, vertices=count)
    coords = shapely.get_coordinates(geometries)
    bad = ~np.isfinite(coords).all(axis=1)
    if bad.any():
        raise DataFileError(f"{name}: {int(bad.sum())} vertices have no numeric coordinates (NaN or infinite).",
                            file=name)


def _child(conn: Any, read_here: Reader, path: str, limits: ReadLimits, kwargs: dict[str, Any]) -> None:
    """In the child: limit memory, read, check, send the frame (or the error) back."""
    resource.setrlimit(resource.RLIMIT_AS, (limits.memory_bytes, limits.memory_bytes))
    try:
        frame = read_here(Path(path), **kwargs)
        check_geometries(frame, Path(path).name, limits.vertices)
        conn.send(("ok", frame))
    except GisportalError as exc:
        conn.send(("error", exc))
    except MemoryError:
        conn.send(("error", DataFileError(f"{Path(path).name} needs more memory to read than allowed.",
                                          file=Path(path).name)))
    except Exception as exc:  # noqa: BLE001 - GDAL/GEOS errors of a hostile file: told, not raised as a bug
        conn.send(("error", DataFileError(f"Cannot read {Path(path).name}: {exc}"[:500], file=Path(path).name)))
    finally:
        conn.close()


def read_isolated(path: Path, read_here: Reader, limits: ReadLimits | None = None, **kwargs: Any) -> gpd.GeoDataFrame:
    """Read a layer with ``read_here(path, **kwargs)`` (a module-level function: the child imports it by name) in
    a child process within ``limits`` (see the module doc); GisportalError on any failure."""
    limits = limits or ReadLimits()
    refuse_sql_views(path)
    parent, child = _context.Pipe(duplex=False)
    process = _context.Process(target=_child, args=(child, read_here, str(path), limits, kwargs), daemon=True)
    process.start()
    child.close()
    try:
        if not parent.poll(limits.seconds):
            raise DataFileError(f"{path.name} took longer than {limits.seconds:g} s to read; it was stopped.",
                                file=path.name)
        try:
            status, value = parent.recv()
        except EOFError:
            raise DataFileError(f"Reading {path.name} failed (the reader stopped: too much memory or a crash).",
                                file=path.name) from None
    finally:
        if process.is_alive():
            process.kill()
        process.join(5)
        parent.close()
    if status == "error":
        raise value
    return value
