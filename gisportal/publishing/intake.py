"""What an upload holds once taken in, and the checks of its files: the intake's types (:class:`Intake`, its
layers, the limits, the refusals with their HTTP status) and the checks of one file by its bytes (shapefile parts,
GeoPackage, GeoJSON), used by :mod:`gisportal.publishing.uploads` for single files and zip members alike."""

from __future__ import annotations

import json
import logging
import re
import shutil
import struct
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from gisportal.core.errors import DataFileError, InvalidInput
from gisportal.core.vector_child import refuse_sql_views
from gisportal.publishing.validation_source import codec_from_cpg

logger = logging.getLogger(__name__)

FORMATS = {".zip": "shapefile", ".gpkg": "gpkg", ".geojson": "geojson", ".json": "geojson", ".shp": "shapefile"}


SHAPEFILE_PARTS = (".shp", ".shx", ".dbf", ".prj", ".cpg")


GPKG_APPLICATION_IDS = {b"GPKG", b"GP10", b"GP11"}


CHUNK = 1 << 20


#: GeoJSON files up to this size are parsed in full to check them; larger ones by their start.
JSON_FULL_PARSE_BYTES = 32 * 2**20


_MAGIC = [
    (b"\x89PNG\r\n\x1a\n", "a PNG image"), (b"\xff\xd8\xff", "a JPEG image"), (b"GIF8", "a GIF image"),
    (b"%PDF", "a PDF document"), (b"PK\x03\x04", "a zip archive"), (b"PK\x05\x06", "an empty zip archive"),
    (b"SQLite format 3\x00", "an SQLite database"), (b"\x1f\x8b", "a gzip file"), (b"Rar!", "a RAR archive"),
    (b"7z\xbc\xaf\x27\x1c", "a 7-Zip archive"), (b"\xd0\xcf\x11\xe0", "an old Microsoft Office document"),
    (b"\x00\x00\x27\x0a", "the .shp part of a shapefile"),
]


class UploadRejected(DataFileError):
    """An uploaded file refused before reading: wrong type, hostile archive, missing parts."""

    code = "upload_rejected"


class UploadTooLarge(UploadRejected):
    """An upload over the configured size limit."""

    status, code = 413, "upload_too_large"


@dataclass(frozen=True)
class UploadLimits:
    """Limits on an upload. The ratio applies to members unpacking to more than ``ratio_floor_bytes``."""

    max_upload_bytes: int = 256 * 2**20
    max_unpacked_bytes: int = 1024 * 2**20
    max_ratio: float = 100.0
    ratio_floor_bytes: int = 2**20
    max_members: int = 500


#: For files a staff member names on the command line: the same hostile-archive checks, larger sizes.
LOCAL_FILE_LIMITS = UploadLimits(max_upload_bytes=8 * 2**30, max_unpacked_bytes=16 * 2**30)


@dataclass(frozen=True)
class IntakeLayer:
    """One readable layer of an upload: what to pass to :func:`gisportal.publishing.validation.validate_layer`."""

    name: str
    path: Path
    layer: str | None
    format: str
    geometry_type: str | None
    features: int | None
    crs: str | None
    prj_text: str | None = None
    cpg_text: str | None = None
    cpg_encoding: str | None = None

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form (the path as text)."""
        return {**asdict(self), "path": str(self.path)}


@dataclass
class Intake:
    """An accepted upload unpacked in ``workdir``; :meth:`close` (or leaving the ``with``) removes it."""

    workdir: Path
    original_name: str
    format: str
    size: int
    layers: list[IntakeLayer] = field(default_factory=list)
    members: list[str] = field(default_factory=list)

    def layer(self, name: str | None = None) -> IntakeLayer:
        """The layer called ``name``; without a name, the only layer (several: the user must choose)."""
        if name is None:
            if len(self.layers) == 1:
                return self.layers[0]
            raise InvalidInput(f"{self.original_name} holds {len(self.layers)} layers; choose one of: "
                               f"{', '.join(lay.name for lay in self.layers)}.",
                               layers=[lay.name for lay in self.layers])
        for candidate in self.layers:
            if name in (candidate.name, candidate.layer):
                return candidate
        raise InvalidInput(f"{self.original_name} has no layer '{name}'; its layers are: "
                           f"{', '.join(lay.name for lay in self.layers)}.", layers=[lay.name for lay in self.layers])

    def close(self) -> None:
        """Remove the working directory and everything in it."""
        shutil.rmtree(self.workdir, ignore_errors=True)

    def __enter__(self) -> Intake:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready description (no working-directory path: it is private)."""
        return {"file": self.original_name, "format": self.format, "size": self.size,
                "layers": [{k: v for k, v in lay.to_dict().items() if k != "path"} for lay in self.layers],
                "members": self.members}


def reject(message: str, reason: str, name: str, **details: Any) -> UploadRejected:
    return UploadRejected(message, reason=reason, file=name, **details)


def describe_magic(head: bytes) -> str:
    """What the first bytes of a file look like, for messages ("a PNG image", "plain text")."""
    for magic, what in _MAGIC:
        if head.startswith(magic):
            return what
    if not head:
        return "an empty file"
    try:
        head.decode("utf-8")
        return "plain text"
    except UnicodeDecodeError:
        return "an unknown binary file"


def safe_stem(stem: str) -> str:
    """A file name GDAL and every file system accept (the original name stays in the layer name)."""
    return re.sub(r"[^\w.-]+", "_", stem).strip("._") or "layer"


def require_parts(found: set[str], archive: str, what: str, member: str) -> None:
    for needed, part in ((".dbf", "attribute table (.dbf)"), (".shx", "index (.shx)")):
        if needed not in found:
            raise reject(f"{archive}: {what} has no {part}; zip the .shp, .shx, .dbf and .prj together.",
                          f"missing_{needed[1:]}", archive, member=member)


def copy_shapefile(shp: Path, data: Path, intake: Intake) -> None:
    """A shapefile given by path (the command line): copy its parts, which must sit beside it."""
    name = intake.original_name
    found = {ext: p for p in shp.parent.glob(f"{shp.stem}.*") if (ext := p.suffix.lower()) in SHAPEFILE_PARTS}
    require_parts(set(found), name, "the shapefile", name)
    stem = safe_stem(shp.stem)
    for ext, part in found.items():
        shutil.copyfile(part, data / f"{stem}{ext}")
        intake.members.append(part.name)
    check_shapefile(data / f"{stem}.shp", name)
    intake.layers.extend(layers_of(data / f"{stem}.shp", "shapefile", name, shp.stem))


def check_shapefile(shp: Path, name: str) -> None:
    for part in (shp, shp.with_suffix(".shx")):
        head = _head(part, 100)
        if len(head) < 100 or head[:4] != b"\x00\x00\x27\x0a":
            raise reject(f"{name}: {part.name} is not a shapefile part (it looks like {describe_magic(head)}).",
                          "wrong_type", name, member=part.name)
    head = _head(shp.with_suffix(".dbf"), 32)
    if len(head) < 32:
        raise reject(f"{name}: {shp.stem}.dbf is not a dBASE table.", "wrong_type", name)
    records, header_len, record_len = struct.unpack("<IHH", head[4:12])
    if head[0] not in (0x02, 0x03, 0x04, 0x05, 0x30, 0x31, 0x43, 0x83, 0x8B, 0x8E, 0xF5) or header_len < 33 \
            or record_len < 1:
        raise reject(f"{name}: {shp.stem}.dbf is not a dBASE table (it looks like {describe_magic(head)}).",
                      "wrong_type", name)


def _head(path: Path, n: int) -> bytes:
    with open(path, "rb") as handle:
        return handle.read(n)


def check_single(path: Path, name: str) -> None:
    """Magic bytes of a GeoPackage; a GeoJSON must parse as a FeatureCollection or Feature."""
    head = _head(path, 100)
    if path.suffix == ".gpkg":
        if not head.startswith(b"SQLite format 3\x00"):
            what = describe_magic(head)
            raise reject(f"{name} is not a GeoPackage (it looks like {what}).", "wrong_type", name, looks_like=what)
        if len(head) < 72 or head[68:72] not in GPKG_APPLICATION_IDS:
            raise reject(f"{name} is an SQLite database but not a GeoPackage (no GPKG application id).",
                          "wrong_type", name, looks_like="an SQLite database")
        return
    if path.stat().st_size > JSON_FULL_PARSE_BYTES:  # not parsed twice: its start must name a feature type
        start = _head(path, CHUNK).decode("utf-8-sig", errors="ignore").lstrip()
        if not start.startswith("{") or not re.search(r'"type"\s*:\s*"(FeatureCollection|Feature)"', start):
            raise reject(f"{name} does not look like GeoJSON (it looks like {describe_magic(head)}).", "wrong_type",
                          name)
        return
    try:
        document = json.loads(path.read_bytes().decode("utf-8-sig"))
    except UnicodeDecodeError:
        raise reject(f"{name} is not UTF-8 text, as GeoJSON must be (it looks like {describe_magic(head)}).",
                      "wrong_type", name) from None
    except (ValueError, RecursionError):
        raise reject(f"{name} is not valid JSON (it looks like {describe_magic(head)}).", "wrong_type", name) from None
    kind = document.get("type") if isinstance(document, dict) else None
    if kind not in ("FeatureCollection", "Feature"):
        raise reject(f"{name} is JSON but not GeoJSON features (type {kind!r}; expected FeatureCollection).",
                      "wrong_type", name)


def _read_text(path: Path, limit: int) -> str | None:
    if not path.exists():
        return None
    raw = _head(path, limit)
    try:
        return raw.decode("utf-8-sig").strip()
    except UnicodeDecodeError:
        return raw.decode("latin-1").strip()


def layers_of(path: Path, fmt: str, name: str, label: str) -> list[IntakeLayer]:
    """The map layers GDAL sees in ``path`` (attribute-only GeoPackage tables are left out)."""
    import pyogrio  # GDAL's binding (a quarter of a second to load): only when a file is read

    if fmt == "gpkg":
        refuse_sql_views(path)  # before GDAL touches it: a view may compute forever
    try:
        infos = [(str(n), pyogrio.read_info(path, layer=str(n))) for n, kind in pyogrio.list_layers(path) if kind]
    except Exception as exc:  # GDAL raises several error classes
        raise reject(f"{name}: GDAL cannot read {path.name} ({exc}).", "unreadable", name) from None
    shp = fmt == "shapefile"
    prj = _read_text(path.with_suffix(".prj"), 65536) if shp else None
    cpg = _read_text(path.with_suffix(".cpg"), 1024) if shp else None
    return [IntakeLayer(layer if fmt == "gpkg" else label, path, layer if fmt == "gpkg" else None, fmt,
                        info.get("geometry_type"), info.get("features"), info.get("crs"), prj, cpg,
                        codec_from_cpg(cpg)) for layer, info in infos]
