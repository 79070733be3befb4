"""Open-data downloads: every plan version's zones and overlays, and the parcels, as GeoPackage, zipped shapefile
and GeoJSON; the rules catalogue as CSV.

Each file has a stable name (``<plan>-v<n>-<layer>.<format>``, ``parcels.<format>``, ``rules.csv``) and carries
its approval act, dates and licence: in its features' attributes, in the GeoPackage's metadata, in the GeoJSON's
description and in a text file inside the shapefile's zip. Files are written once per data generation under
``<data_dir>/downloads/`` (chunk by chunk: memory does not grow with the file), then served from disk.
"""

from __future__ import annotations

import csv
import fcntl
import hashlib
import io
import logging
import os
import re
import shutil
import tempfile
import threading
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import geopandas as gpd
import pyogrio

from gisportal.core.errors import GisportalError, NotFound
from gisportal.storage.base import Store
from gisportal.storage.featurequery import FeatureQuery
from gisportal.zoning.plans import PlanVersion, version_status

logger = logging.getLogger(__name__)

#: Format -> (media type, GDAL driver).
FORMATS = {"gpkg": ("application/geopackage+sqlite3", "GPKG"), "shp.zip": ("application/zip", "ESRI Shapefile"),
           "geojson": ("application/geo+json", "GeoJSON")}
CHUNK_ROWS = 100_000
#: Layers with more features than this are written in a background thread (a request would outlast a worker's
#: timeout: a million parcels take a minute or two); the request meanwhile answers 503 with a Retry-After.
INLINE_LIMIT = 100_000
RETRY_AFTER_S = 30


class Preparing(GisportalError):
    """A file still being written: ask again in a moment."""

    status, code = 503, "preparing"

#: Shapefile field names are 10 characters at most: the longer columns, renamed in every format alike.
_SHORT = {"provision_fr": "prov_fr", "provision_ar": "prov_ar", "max_height_m": "max_height"}
_FORMULA = ("=", "+", "-", "@", "\t", "\r")


@dataclass(frozen=True)
class Download:
    """One downloadable file."""

    name: str
    layer: str  # zones | overlays | parcels | rules
    fmt: str  # gpkg | shp.zip | geojson | csv
    version: PlanVersion | None = None
    status: str | None = None  # in_force | superseded | lapsed | future (plan versions)

    @property
    def media_type(self) -> str:
        return "text/csv" if self.fmt == "csv" else FORMATS[self.fmt][0]


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-") or "plan"


def catalogue(store: Store, today: date) -> list[Download]:
    """Every downloadable file: each plan version's layers (newest version first), the parcels, the rules."""
    versions = store.plan_versions()
    files = []
    for version in sorted(versions, key=lambda v: (v.plan_name, -v.version)):
        status = version_status(version, versions, today).status
        for layer in ("zones", "overlays"):
            files += [Download(f"{_slug(version.plan_name)}-v{version.version}-{layer}.{fmt}", layer, fmt, version,
                               status) for fmt in FORMATS]
    files += [Download(f"parcels.{fmt}", "parcels", fmt) for fmt in FORMATS]
    return files + [Download("rules.csv", "rules", "csv")]


def find(store: Store, name: str, today: date) -> Download:
    """The download of this name, or 404."""
    for download in catalogue(store, today):
        if download.name == name:
            return download
    raise NotFound(f"No download named '{name[:80]}'.", name=name[:80])


def metadata(download: Download, licence: str, publisher: str) -> dict[str, str]:
    """What a file says about itself."""
    facts = {"publisher": publisher, "licence": licence, "layer": download.layer}
    version = download.version
    if version is not None:
        facts.update(plan=version.plan_name, title=version.title_fr, title_ar=version.title_ar,
                     plan_version=str(version.version),
                     approval_act=version.approval_act, approval_date=version.approval_date.isoformat(),
                     effective_from=version.effective_from.isoformat(), legal_end=version.legal_end.isoformat())
    return facts


def _chunks(store: Store, download: Download) -> Iterator[gpd.GeoDataFrame]:
    versions = (download.version.id,) if download.version else None
    after, first = None, True
    while True:
        page = store.feature_page(FeatureQuery(download.layer, versions, limit=CHUNK_ROWS, after_id=after,
                                               count=False)).frame
        if first or len(page):
            frame = page.drop(columns=["id", "version_id"], errors="ignore").rename(columns=_SHORT)
            version = download.version
            if version is not None:
                frame = frame.assign(plan=version.plan_name, version=version.version, act=version.approval_act,
                                     approved=version.approval_date.isoformat(),
                                     effective=version.effective_from.isoformat())
            yield frame
        if len(page) < CHUNK_ROWS:
            return
        after, first = int(page["id"].iloc[-1]), False


def _write(store: Store, download: Download, target: Path, facts: dict[str, str]) -> None:
    """Write the file at ``target`` (a path that does not exist yet)."""
    driver = FORMATS[download.fmt][1]
    text = "; ".join(f"{k}: {v}" for k, v in facts.items())
    if download.fmt == "shp.zip":
        with tempfile.TemporaryDirectory(dir=target.parent) as work:
            stem = Path(work) / download.name.removesuffix(".shp.zip")
            for i, frame in enumerate(_chunks(store, download)):
                pyogrio.write_dataframe(frame, f"{stem}.shp", driver=driver, append=i > 0, encoding="UTF-8",
                                        promote_to_multi=True)
            Path(f"{stem}.txt").write_text(text.replace("; ", "\n") + "\n", encoding="utf-8")
            with zipfile.ZipFile(target, "w", zipfile.ZIP_DEFLATED) as archive:
                for part in sorted(Path(work).iterdir()):
                    archive.write(part, part.name)
        return
    for i, frame in enumerate(_chunks(store, download)):
        if download.fmt == "geojson":
            frame = frame.to_crs("EPSG:4326")
            pyogrio.write_dataframe(frame, target, driver=driver, append=i > 0, promote_to_multi=True,
                                    layer_options={"RFC7946": "YES", "DESCRIPTION": text} if i == 0 else None)
        else:
            pyogrio.write_dataframe(frame, target, layer=download.layer, driver=driver, append=i > 0,
                                    promote_to_multi=True, layer_metadata=facts if i == 0 else None,
                                    dataset_metadata=facts if i == 0 else None)


@dataclass(frozen=True)
class Built:
    """A file on disk with its strong validator."""

    path: Path
    etag: str
    size: int


def _folder(store: Store, directory: Path, licence: str, publisher: str) -> Path:
    generation = hashlib.sha256(f"{store.generation()}|{licence}|{publisher}".encode()).hexdigest()[:16]
    return directory / generation


def _finish(path: Path) -> Built:
    sidecar = path.with_name(path.name + ".sha256")
    if not sidecar.exists():
        digest = hashlib.sha256()
        with open(path, "rb") as handle:
            for block in iter(lambda: handle.read(1 << 20), b""):
                digest.update(block)
        partial = sidecar.with_name(sidecar.name + f".{os.getpid()}.{threading.get_ident()}")
        partial.write_text(digest.hexdigest())
        os.replace(partial, sidecar)
    return Built(path, sidecar.read_text()[:32], path.stat().st_size)


def ready(store: Store, download: Download, directory: Path, licence: str, publisher: str) -> Built | None:
    """The file of ``download`` if it is written already (for the store's current data), else ``None``."""
    path = _folder(store, directory, licence, publisher) / download.name
    return _finish(path) if path.exists() else None


def build(store: Store, download: Download, directory: Path, licence: str, publisher: str) -> Built:
    """The file of ``download`` for the store's current data, written when missing (atomically; one writer at a
    time per file, across processes)."""
    folder = _folder(store, directory, licence, publisher)
    path = folder / download.name
    if not path.exists():
        folder.mkdir(parents=True, exist_ok=True)
        with open(folder / f".{download.name}.lock", "w") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            if not path.exists():
                for old in directory.iterdir():
                    if old.is_dir() and old.name != folder.name:
                        shutil.rmtree(old, ignore_errors=True)
                with tempfile.TemporaryDirectory(dir=folder) as work:
                    partial = Path(work) / download.name
                    _write(store, download, partial, metadata(download, licence, publisher))
                    os.replace(partial, path)
                logger.info("download %s written (%d bytes)", path, path.stat().st_size)
    return _finish(path)


def _size(store: Store, download: Download) -> int:
    if download.version is None:
        return store.counts().get(download.layer, 0)
    return store.feature_page(FeatureQuery(download.layer, (download.version.id,), limit=1)).matched


def prepare(store: Store, download: Download, directory: Path, licence: str, publisher: str) -> Built:
    """The file of ``download``: written now if small; a large one is written by a background thread (one per
    file and process) while :class:`Preparing` (503) asks the client to come back."""
    built = ready(store, download, directory, licence, publisher)
    if built is not None:
        return built
    if _size(store, download) <= INLINE_LIMIT:
        return build(store, download, directory, licence, publisher)
    key = (str(directory), download.name)
    with _RUNNING_LOCK:
        if key not in _RUNNING:
            _RUNNING.add(key)
            threading.Thread(target=_background, args=(store, download, directory, licence, publisher, key),
                             name=f"download-{download.name}", daemon=True).start()
    raise Preparing(f"{download.name} is being prepared; please try again in a minute.",
                    retry_after_s=RETRY_AFTER_S)


_RUNNING: set[tuple[str, str]] = set()
_RUNNING_LOCK = threading.Lock()


def _background(store: Store, download: Download, directory: Path, licence: str, publisher: str,
                key: tuple[str, str]) -> None:
    try:
        build(store, download, directory, licence, publisher)
    except Exception:  # a background thread has no caller to tell: log it, the next request tries again
        logger.exception("writing download %s failed", download.name)
    finally:
        with _RUNNING_LOCK:
            _RUNNING.discard(key)


def safe_csv(text: str) -> bytes:
    """A CSV with every cell that a spreadsheet would run as a formula quoted as text (a leading apostrophe)."""
    out = io.StringIO()
    writer = csv.writer(out)
    for row in csv.reader(io.StringIO(text)):
        writer.writerow(["'" + cell if cell.startswith(_FORMULA) else cell for cell in row])
    return out.getvalue().encode("utf-8")
