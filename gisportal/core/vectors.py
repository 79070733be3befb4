"""Reading vector files: one function for shapefiles (also zipped), GeoPackage and GeoJSON.

pyogrio reads by default; fiona is the fallback when pyogrio cannot open a
file. Both go through GDAL, so the same formats and encodings are understood.
"""

from __future__ import annotations

import logging
import zipfile
from pathlib import Path
from typing import TYPE_CHECKING

import geopandas as gpd

from gisportal.core.coords import crs_from_user
from gisportal.core.errors import DataFileError
from gisportal.core.vector_child import read_isolated, refuse_sql_views

if TYPE_CHECKING:
    from gisportal.core.vector_child import ReadLimits

logger = logging.getLogger(__name__)

SUPPORTED_SUFFIXES = {".shp", ".zip", ".gpkg", ".geojson", ".json", ".kml"}


def _gdal_path(path: Path) -> str:
    """The path GDAL opens: zipped shapefiles through /vsizip/."""
    if path.suffix.lower() == ".zip":
        try:
            with zipfile.ZipFile(path) as archive:
                names = [n for n in archive.namelist() if n.lower().endswith((".shp", ".gpkg", ".geojson"))]
        except zipfile.BadZipFile:
            raise DataFileError(f"{path.name} is not a valid zip archive.", file=path.name) from None
        if not names:
            raise DataFileError(f"{path.name} holds no shapefile, GeoPackage or GeoJSON.", file=path.name)
        return f"/vsizip/{path}/{names[0]}"
    return str(path)


def list_layers(path: str | Path) -> list[str]:
    """Names of the layers in a vector file (several for a GeoPackage)."""
    import pyogrio  # GDAL's binding (a quarter of a second to load): only when a file is read

    refuse_sql_views(Path(path))
    try:
        return [str(row[0]) for row in pyogrio.list_layers(_gdal_path(Path(path)))]
    except Exception as exc:  # pyogrio raises several GDAL error classes
        raise DataFileError(f"Cannot read {Path(path).name}: {exc}", file=Path(path).name) from None


def read_vector_layer(
    path: str | Path,
    *,
    layer: str | None = None,
    crs: str | None = None,
    encoding: str | None = None,
    limits: ReadLimits | None = None,
) -> gpd.GeoDataFrame:
    """Read one layer of a vector file into a GeoDataFrame, in a child process within ``limits`` of time, memory
    and vertices (:mod:`gisportal.core.vector_child`: the file is outside input; default limits when ``None``).

    ``crs`` is used when the file declares none (a shapefile without .prj);
    a file that declares a CRS keeps its own. A file with no CRS and no
    ``crs`` argument is refused: guessing would misplace every feature.
    """
    return read_isolated(Path(path), read_here, limits, layer=layer, crs=crs, encoding=encoding)


def read_here(path: Path, *, layer: str | None = None, crs: str | None = None,
              encoding: str | None = None) -> gpd.GeoDataFrame:
    """:func:`read_vector_layer` in this process (the child's work)."""
    path = Path(path)
    if not path.exists():
        raise DataFileError(f"File not found: {path}", file=str(path))
    if path.suffix.lower() not in SUPPORTED_SUFFIXES:
        raise DataFileError(
            f"{path.name}: unsupported file type; use a zipped or plain shapefile, a GeoPackage or GeoJSON.",
            file=path.name,
        )
    source = _gdal_path(path)
    frame = _read_with_pyogrio(source, layer, encoding)
    if frame is None:
        frame = _read_with_fiona(source, layer, encoding, path.name)
    if frame.crs is None:
        if not crs:
            raise DataFileError(
                f"{path.name} declares no coordinate reference system; give one with --crs (e.g. EPSG:26191).",
                file=path.name,
            )
        frame = frame.set_crs(crs_from_user(crs))
    logger.info("read %d features from %s (layer %s, %s)", len(frame), path.name, layer or "first",
                frame.crs)
    return frame


def _read_with_pyogrio(source: str, layer: str | None, encoding: str | None) -> gpd.GeoDataFrame | None:
    try:  # GDAL's binding (a quarter of a second to load): only when a file is read; else fiona
        import pyogrio
        from pyogrio.errors import DataLayerError, DataSourceError
    except ImportError:  # pragma: no cover - pyogrio is a dependency
        return None
    try:
        return pyogrio.read_dataframe(source, layer=layer, encoding=encoding, use_arrow=encoding is None)
    except DataLayerError as exc:
        raise DataFileError(f"Layer problem in {Path(source).name}: {exc}", file=Path(source).name) from None
    except DataSourceError as exc:
        logger.info("pyogrio cannot open %s (%s); trying fiona", source, exc)
        return None


def _read_with_fiona(source: str, layer: str | None, encoding: str | None, name: str) -> gpd.GeoDataFrame:
    try:
        return gpd.read_file(source, layer=layer, encoding=encoding, engine="fiona")
    except Exception as exc:  # fiona raises many driver errors
        raise DataFileError(f"Cannot read {name}: {exc}", file=name) from None
