"""Safe intake of an uploaded vector file into a private working directory.

Accepted: a zipped shapefile (``.shp`` with its ``.shx``, ``.dbf`` and
optional ``.prj``/``.cpg``, possibly in a sub-folder of the zip), a GeoPackage
(its layers are listed so the user can choose), a GeoJSON file. Everything
else is refused with :class:`UploadRejected` (a :class:`DataFileError`, HTTP
422) or :class:`UploadTooLarge` (413), and nothing is kept on disk.

What is refused, before GDAL ever opens the file: uploads over the size limit;
zip bombs (declared and actual unpacked size, compression ratio, number of
members); archive members whose paths escape the archive (absolute, ``..``,
drive letters) or that are symbolic links or encrypted; a ``.shp`` without its
``.dbf`` or ``.shx``; files whose content does not match their name (magic
bytes: zip ``PK\\x03\\x04``, GeoPackage ``SQLite format 3\\0`` with the GPKG
application id, GeoJSON parsed as a FeatureCollection or Feature, ``.shp``
file code 9994, dBASE header).

Use it as a context manager; the working directory goes when the block ends::

    with open_upload(data, filename="zonage.zip") as intake:
        report = validate_layer(intake.layer().path)
"""

from __future__ import annotations

import io
import json
import logging
import re
import shutil
import struct
import tempfile
import zipfile
from dataclasses import asdict, dataclass, field
from pathlib import Path, PurePosixPath
from typing import IO, Any

from gisportal.core.errors import DataFileError, InvalidInput
from gisportal.core.vector_child import refuse_sql_views
from gisportal.publishing.validation_source import codec_from_cpg

logger = logging.getLogger(__name__)

FORMATS = {".zip": "shapefile", ".gpkg": "gpkg", ".geojson": "geojson", ".json": "geojson", ".shp": "shapefile"}
SHAPEFILE_PARTS = (".shp", ".shx", ".dbf", ".prj", ".cpg")
GPKG_APPLICATION_IDS = {b"GPKG", b"GP10", b"GP11"}
_CHUNK = 1 << 20
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


def _reject(message: str, reason: str, name: str, **details: Any) -> UploadRejected:
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


def open_upload(source: bytes | str | Path | IO[bytes], *, filename: str | None = None,
                limits: UploadLimits | None = None, tmp_root: str | Path | None = None) -> Intake:
    """Check and unpack an upload (bytes, a binary stream or a path) into a new working directory.

    ``filename`` names bytes and streams (its extension says what the file
    should be); a path brings its own name. Raises :class:`UploadRejected` or
    :class:`UploadTooLarge` (nothing left on disk) or returns an
    :class:`Intake` to use in a ``with`` block.
    """
    limits = limits or UploadLimits()
    is_path = isinstance(source, (str, Path))
    name = (Path(source).name if isinstance(source, (str, Path))
            else (re.split(r"[\\/]", filename or "")[-1] or "upload"))
    suffix = Path(name).suffix.lower()
    if suffix not in FORMATS:
        raise _reject(f"{name}: unsupported file type; upload a zipped shapefile (.zip), a GeoPackage (.gpkg) "
                      "or a GeoJSON file (.geojson).", "unsupported_type", name)
    if suffix == ".shp" and not is_path:
        raise _reject(f"{name}: a shapefile is several files (.shp, .shx, .dbf, .prj); upload them together "
                      "in a .zip.", "shapefile_parts", name)
    if isinstance(source, (str, Path)):
        path = Path(source)
        if not path.is_file():
            raise _reject(f"File not found: {path}", "not_found", name)
        _check_size(path.stat().st_size, limits, name)
    elif isinstance(source, (bytes, bytearray, memoryview)):
        _check_size(len(source), limits, name)
    workdir = Path(tempfile.mkdtemp(prefix="gisportal-upload-", dir=tmp_root))
    try:
        if not is_path:
            path = workdir / f"upload{suffix}"
            size = _save(source, path, limits, name)  # type: ignore[arg-type]
        else:
            size = path.stat().st_size
        intake = Intake(workdir, name, FORMATS[suffix], size)
        data = workdir / "data"
        data.mkdir()
        if suffix == ".zip":
            _unzip(path, data, intake, limits)
        elif suffix == ".shp":
            _copy_shapefile(path, data, intake)
        else:
            target = data / f"{_safe_stem(Path(name).stem)}{suffix}"
            shutil.copyfile(path, target)
            intake.members.append(name)
            _check_single(target, name)
            intake.layers.extend(_layers_of(target, FORMATS[suffix], name, Path(name).stem))
        if not intake.layers:
            raise _reject(f"{name} holds no map layer (no shapefile, GeoPackage layer or GeoJSON features).",
                          "no_layer", name)
        if not is_path:
            path.unlink()
        logger.info("upload %s accepted: %s, %d layer(s)", name, intake.format, len(intake.layers))
        return intake
    except BaseException:
        shutil.rmtree(workdir, ignore_errors=True)
        raise


def _check_size(size: int, limits: UploadLimits, name: str) -> None:
    if size > limits.max_upload_bytes:
        raise UploadTooLarge(f"{name} is {size / 2**20:.1f} MB; the limit is {limits.max_upload_bytes / 2**20:.0f} MB.",
                             reason="too_large", file=name, size=size, limit=limits.max_upload_bytes)


def _save(source: bytes | IO[bytes], path: Path, limits: UploadLimits, name: str) -> int:
    """Write bytes or a stream to ``path``, stopping as soon as the size limit is passed."""
    stream = io.BytesIO(source) if isinstance(source, (bytes, bytearray, memoryview)) else source
    written = 0
    with open(path, "wb") as out:
        while chunk := stream.read(_CHUNK):
            written += len(chunk)
            if written > limits.max_upload_bytes:
                _check_size(written, limits, name)
            out.write(chunk)
    return written


def _safe_stem(stem: str) -> str:
    """A file name GDAL and every file system accept (the original name stays in the layer name)."""
    return re.sub(r"[^\w.-]+", "_", stem).strip("._") or "layer"


def _member_path(info: zipfile.ZipInfo, archive: str) -> PurePosixPath:
    """The member's relative path, or a refusal when it could land outside the working directory."""
    raw = info.filename
    name = raw.replace("\\", "/")
    if "\x00" in name or name.startswith("/") or re.match(r"^[A-Za-z]:", name):
        raise _reject(f"{archive}: member '{raw}' has an absolute path; refused.", "unsafe_path", archive,
                      member=raw)
    parts = PurePosixPath(name).parts
    if ".." in parts:
        raise _reject(f"{archive}: member '{raw}' points outside the archive ('..'); refused.", "unsafe_path",
                      archive, member=raw)
    mode = (info.external_attr >> 16) & 0o170000
    if mode == 0o120000:
        raise _reject(f"{archive}: member '{raw}' is a symbolic link; refused.", "symlink", archive, member=raw)
    if info.flag_bits & 0x1:
        raise _reject(f"{archive}: member '{raw}' is password-protected; upload an unencrypted zip.",
                      "encrypted", archive, member=raw)
    return PurePosixPath(*[p for p in parts if p not in ("", ".")])


def _check_bomb(infos: list[zipfile.ZipInfo], limits: UploadLimits, archive: str, archive_size: int) -> None:
    if len(infos) > limits.max_members:
        raise _reject(f"{archive} holds {len(infos)} files; at most {limits.max_members} are accepted.",
                      "too_many_members", archive, members=len(infos))
    total = sum(i.file_size for i in infos)
    if total > limits.max_unpacked_bytes:
        raise _reject(f"{archive} would unpack to {total / 2**20:.0f} MB, over the "
                      f"{limits.max_unpacked_bytes / 2**20:.0f} MB limit (zip bomb?); refused.", "zip_bomb", archive,
                      unpacked=total)
    for info in infos:
        ratio = info.file_size / max(info.compress_size, 1)
        if info.file_size > limits.ratio_floor_bytes and ratio > limits.max_ratio:
            raise _reject(f"{archive}: '{info.filename}' is compressed {ratio:.0f} times (limit "
                          f"{limits.max_ratio:.0f}); refused as a possible zip bomb.", "zip_bomb", archive,
                          member=info.filename, ratio=round(ratio, 1))
    if total > limits.ratio_floor_bytes and total / max(archive_size, 1) > limits.max_ratio:
        raise _reject(f"{archive} unpacks to {total / max(archive_size, 1):.0f} times its size; refused as a possible "
                      "zip bomb.", "zip_bomb", archive, unpacked=total)


def _unzip(path: Path, data: Path, intake: Intake, limits: UploadLimits) -> None:
    archive = intake.original_name
    with open(path, "rb") as handle:
        head = handle.read(4)
    if head != b"PK\x03\x04":
        what = describe_magic(head)
        raise _reject(f"{archive} is not a zip archive (it looks like {what}).", "wrong_type", archive, looks_like=what)
    try:
        with zipfile.ZipFile(path) as zf:
            infos = zf.infolist()
            members = [(info, _member_path(info, archive)) for info in infos]
            _check_bomb(infos, limits, archive, path.stat().st_size)
            groups, singles = _select_members(members, archive)
            budget = [limits.max_unpacked_bytes]
            for (folder, _stem), parts in sorted(groups.items()):
                if ".shp" not in parts:
                    continue
                shp_name = parts[".shp"].filename
                _require_parts(set(parts), archive, f"shapefile '{shp_name}'", shp_name)
                shp_stem = PurePosixPath(shp_name.replace("\\", "/")).stem
                shp = _unique(_target_dir(data, folder) / f"{_safe_stem(shp_stem)}.shp")
                for ext, info in parts.items():
                    _extract(zf, info, shp.with_suffix(ext), budget, limits, archive)
                    intake.members.append(info.filename)
                _check_shapefile(shp, archive)
                intake.layers.extend(_layers_of(shp, "shapefile", archive, "/".join([*folder.parts, shp_stem])))
            for info, rel in singles:
                target = _unique(_target_dir(data, rel.parent) / f"{_safe_stem(rel.stem)}{rel.suffix.lower()}")
                _extract(zf, info, target, budget, limits, archive)
                intake.members.append(info.filename)
                _check_single(target, f"{archive}: {info.filename}")
                intake.layers.extend(_layers_of(target, FORMATS[rel.suffix.lower()], archive, str(rel.with_suffix(""))))
            kinds = {lay.format for lay in intake.layers}
            intake.format = kinds.pop() if len(kinds) == 1 else "mixed"
    except zipfile.BadZipFile as exc:
        raise _reject(f"{archive} is a damaged zip archive ({exc}).", "bad_zip", archive) from None


def _target_dir(data: Path, folder: PurePosixPath) -> Path:
    target = data.joinpath(*[_safe_stem(p) for p in folder.parts])
    target.mkdir(parents=True, exist_ok=True)
    return target


def _unique(path: Path) -> Path:
    """``path``, or ``path`` with a number when two members map to the same safe name ("a b" and "a_b")."""
    n, candidate = 1, path
    while candidate.exists():
        n, candidate = n + 1, path.with_name(f"{path.stem}_{n}{path.suffix}")
    return candidate


def _require_parts(found: set[str], archive: str, what: str, member: str) -> None:
    for needed, part in ((".dbf", "attribute table (.dbf)"), (".shx", "index (.shx)")):
        if needed not in found:
            raise _reject(f"{archive}: {what} has no {part}; zip the .shp, .shx, .dbf and .prj together.",
                          f"missing_{needed[1:]}", archive, member=member)


def _select_members(members: list[tuple[zipfile.ZipInfo, PurePosixPath]], archive: str
                    ) -> tuple[dict[tuple[PurePosixPath, str], dict[str, zipfile.ZipInfo]],
                               list[tuple[zipfile.ZipInfo, PurePosixPath]]]:
    """Shapefile parts grouped by folder and stem (case-insensitive); GeoPackages and GeoJSONs apart."""
    groups: dict[tuple[PurePosixPath, str], dict[str, zipfile.ZipInfo]] = {}
    singles = []
    for info, rel in members:
        if info.is_dir() or not rel.parts or rel.parts[0] == "__MACOSX" or rel.name.startswith("._"):
            continue
        ext = rel.suffix.lower()
        if ext in SHAPEFILE_PARTS:
            parts = groups.setdefault((rel.parent, rel.stem.lower()), {})
            if ext in parts:
                raise _reject(f"{archive}: '{parts[ext].filename}' and '{info.filename}' are the same shapefile part; "
                              "refused as ambiguous.", "duplicate_member", archive, member=info.filename)
            parts[ext] = info
        elif ext in (".gpkg", ".geojson", ".json"):
            singles.append((info, rel))
    return groups, singles


def _extract(zf: zipfile.ZipFile, info: zipfile.ZipInfo, target: Path, budget: list[int], limits: UploadLimits,
             archive: str) -> None:
    """Copy one member by streaming, counting the bytes really produced (headers can lie)."""
    written = 0
    with zf.open(info) as src, open(target, "wb") as out:
        while chunk := src.read(_CHUNK):
            written += len(chunk)
            budget[0] -= len(chunk)
            if budget[0] < 0 or written > info.file_size:
                raise _reject(f"{archive}: '{info.filename}' unpacks to more than declared or allowed; refused as a "
                              "possible zip bomb.", "zip_bomb", archive, member=info.filename)
            out.write(chunk)


def _copy_shapefile(shp: Path, data: Path, intake: Intake) -> None:
    """A shapefile given by path (the command line): copy its parts, which must sit beside it."""
    name = intake.original_name
    found = {ext: p for p in shp.parent.glob(f"{shp.stem}.*") if (ext := p.suffix.lower()) in SHAPEFILE_PARTS}
    _require_parts(set(found), name, "the shapefile", name)
    stem = _safe_stem(shp.stem)
    for ext, part in found.items():
        shutil.copyfile(part, data / f"{stem}{ext}")
        intake.members.append(part.name)
    _check_shapefile(data / f"{stem}.shp", name)
    intake.layers.extend(_layers_of(data / f"{stem}.shp", "shapefile", name, shp.stem))


def _check_shapefile(shp: Path, name: str) -> None:
    for part in (shp, shp.with_suffix(".shx")):
        head = _head(part, 100)
        if len(head) < 100 or head[:4] != b"\x00\x00\x27\x0a":
            raise _reject(f"{name}: {part.name} is not a shapefile part (it looks like {describe_magic(head)}).",
                          "wrong_type", name, member=part.name)
    head = _head(shp.with_suffix(".dbf"), 32)
    if len(head) < 32:
        raise _reject(f"{name}: {shp.stem}.dbf is not a dBASE table.", "wrong_type", name)
    records, header_len, record_len = struct.unpack("<IHH", head[4:12])
    if head[0] not in (0x02, 0x03, 0x04, 0x05, 0x30, 0x31, 0x43, 0x83, 0x8B, 0x8E, 0xF5) or header_len < 33 \
            or record_len < 1:
        raise _reject(f"{name}: {shp.stem}.dbf is not a dBASE table (it looks like {describe_magic(head)}).",
                      "wrong_type", name)


def _head(path: Path, n: int) -> bytes:
    with open(path, "rb") as handle:
        return handle.read(n)


def _check_single(path: Path, name: str) -> None:
    """Magic bytes of a GeoPackage; a GeoJSON must parse as a FeatureCollection or Feature."""
    head = _head(path, 100)
    if path.suffix == ".gpkg":
        if not head.startswith(b"SQLite format 3\x00"):
            what = describe_magic(head)
            raise _reject(f"{name} is not a GeoPackage (it looks like {what}).", "wrong_type", name, looks_like=what)
        if len(head) < 72 or head[68:72] not in GPKG_APPLICATION_IDS:
            raise _reject(f"{name} is an SQLite database but not a GeoPackage (no GPKG application id).",
                          "wrong_type", name, looks_like="an SQLite database")
        return
    if path.stat().st_size > JSON_FULL_PARSE_BYTES:  # not parsed twice: its start must name a feature type
        start = _head(path, _CHUNK).decode("utf-8-sig", errors="ignore").lstrip()
        if not start.startswith("{") or not re.search(r'"type"\s*:\s*"(FeatureCollection|Feature)"', start):
            raise _reject(f"{name} does not look like GeoJSON (it looks like {describe_magic(head)}).", "wrong_type",
                          name)
        return
    try:
        document = json.loads(path.read_bytes().decode("utf-8-sig"))
    except UnicodeDecodeError:
        raise _reject(f"{name} is not UTF-8 text, as GeoJSON must be (it looks like {describe_magic(head)}).",
                      "wrong_type", name) from None
    except (ValueError, RecursionError):
        raise _reject(f"{name} is not valid JSON (it looks like {describe_magic(head)}).", "wrong_type", name) from None
    kind = document.get("type") if isinstance(document, dict) else None
    if kind not in ("FeatureCollection", "Feature"):
        raise _reject(f"{name} is JSON but not GeoJSON features (type {kind!r}; expected FeatureCollection).",
                      "wrong_type", name)


def _read_text(path: Path, limit: int) -> str | None:
    if not path.exists():
        return None
    raw = _head(path, limit)
    try:
        return raw.decode("utf-8-sig").strip()
    except UnicodeDecodeError:
        return raw.decode("latin-1").strip()


def _layers_of(path: Path, fmt: str, name: str, label: str) -> list[IntakeLayer]:
    """The map layers GDAL sees in ``path`` (attribute-only GeoPackage tables are left out)."""
    import pyogrio  # GDAL's binding (a quarter of a second to load): only when a file is read

    if fmt == "gpkg":
        refuse_sql_views(path)  # before GDAL touches it: a view may compute forever
    try:
        infos = [(str(n), pyogrio.read_info(path, layer=str(n))) for n, kind in pyogrio.list_layers(path) if kind]
    except Exception as exc:  # GDAL raises several error classes
        raise _reject(f"{name}: GDAL cannot read {path.name} ({exc}).", "unreadable", name) from None
    shp = fmt == "shapefile"
    prj = _read_text(path.with_suffix(".prj"), 65536) if shp else None
    cpg = _read_text(path.with_suffix(".cpg"), 1024) if shp else None
    return [IntakeLayer(layer if fmt == "gpkg" else label, path, layer if fmt == "gpkg" else None, fmt,
                        info.get("geometry_type"), info.get("features"), info.get("crs"), prj, cpg,
                        codec_from_cpg(cpg)) for layer, info in infos]
