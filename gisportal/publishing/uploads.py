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
import logging
import re
import shutil
import tempfile
import zipfile
from pathlib import Path, PurePosixPath
from typing import IO

from gisportal.publishing.intake import (
    CHUNK,
    FORMATS,
    SHAPEFILE_PARTS,
    check_shapefile,
    check_single,
    copy_shapefile,
    describe_magic,
    layers_of,
    reject,
    require_parts,
    safe_stem,
)
from gisportal.publishing.intake import LOCAL_FILE_LIMITS as LOCAL_FILE_LIMITS
from gisportal.publishing.intake import Intake as Intake
from gisportal.publishing.intake import IntakeLayer as IntakeLayer
from gisportal.publishing.intake import UploadLimits as UploadLimits
from gisportal.publishing.intake import UploadRejected as UploadRejected
from gisportal.publishing.intake import UploadTooLarge as UploadTooLarge

logger = logging.getLogger(__name__)


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
        raise reject(f"{name}: unsupported file type; upload a zipped shapefile (.zip), a GeoPackage (.gpkg) "
                      "or a GeoJSON file (.geojson).", "unsupported_type", name)
    if suffix == ".shp" and not is_path:
        raise reject(f"{name}: a shapefile is several files (.shp, .shx, .dbf, .prj); upload them together "
                      "in a .zip.", "shapefile_parts", name)
    if isinstance(source, (str, Path)):
        path = Path(source)
        if not path.is_file():
            raise reject(f"File not found: {path}", "not_found", name)
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
            copy_shapefile(path, data, intake)
        else:
            target = data / f"{safe_stem(Path(name).stem)}{suffix}"
            shutil.copyfile(path, target)
            intake.members.append(name)
            check_single(target, name)
            intake.layers.extend(layers_of(target, FORMATS[suffix], name, Path(name).stem))
        if not intake.layers:
            raise reject(f"{name} holds no map layer (no shapefile, GeoPackage layer or GeoJSON features).",
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
        while chunk := stream.read(CHUNK):
            written += len(chunk)
            if written > limits.max_upload_bytes:
                _check_size(written, limits, name)
            out.write(chunk)
    return written


def _member_path(info: zipfile.ZipInfo, archive: str) -> PurePosixPath:
    """The member's relative path, or a refusal when it could land outside the working directory."""
    raw = info.filename
    name = raw.replace("\\", "/")
    if "\x00" in name or name.startswith("/") or re.match(r"^[A-Za-z]:", name):
        raise reject(f"{archive}: member '{raw}' has an absolute path; refused.", "unsafe_path", archive,
                      member=raw)
    parts = PurePosixPath(name).parts
    if ".." in parts:
        raise reject(f"{archive}: member '{raw}' points outside the archive ('..'); refused.", "unsafe_path",
                      archive, member=raw)
    mode = (info.external_attr >> 16) & 0o170000
    if mode == 0o120000:
        raise reject(f"{archive}: member '{raw}' is a symbolic link; refused.", "symlink", archive, member=raw)
    if info.flag_bits & 0x1:
        raise reject(f"{archive}: member '{raw}' is password-protected; upload an unencrypted zip.",
                      "encrypted", archive, member=raw)
    return PurePosixPath(*[p for p in parts if p not in ("", ".")])


def _check_bomb(infos: list[zipfile.ZipInfo], limits: UploadLimits, archive: str, archive_size: int) -> None:
    if len(infos) > limits.max_members:
        raise reject(f"{archive} holds {len(infos)} files; at most {limits.max_members} are accepted.",
                      "too_many_members", archive, members=len(infos))
    total = sum(i.file_size for i in infos)
    if total > limits.max_unpacked_bytes:
        raise reject(f"{archive} would unpack to {total / 2**20:.0f} MB, over the "
                      f"{limits.max_unpacked_bytes / 2**20:.0f} MB limit (zip bomb?); refused.", "zip_bomb", archive,
                      unpacked=total)
    for info in infos:
        ratio = info.file_size / max(info.compress_size, 1)
        if info.file_size > limits.ratio_floor_bytes and ratio > limits.max_ratio:
            raise reject(f"{archive}: '{info.filename}' is compressed {ratio:.0f} times (limit "
                          f"{limits.max_ratio:.0f}); refused as a possible zip bomb.", "zip_bomb", archive,
                          member=info.filename, ratio=round(ratio, 1))
    if total > limits.ratio_floor_bytes and total / max(archive_size, 1) > limits.max_ratio:
        raise reject(f"{archive} unpacks to {total / max(archive_size, 1):.0f} times its size; refused as a possible "
                      "zip bomb.", "zip_bomb", archive, unpacked=total)


def _unzip(path: Path, data: Path, intake: Intake, limits: UploadLimits) -> None:
    archive = intake.original_name
    with open(path, "rb") as handle:
        head = handle.read(4)
    if head != b"PK\x03\x04":
        what = describe_magic(head)
        raise reject(f"{archive} is not a zip archive (it looks like {what}).", "wrong_type", archive, looks_like=what)
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
                require_parts(set(parts), archive, f"shapefile '{shp_name}'", shp_name)
                shp_stem = PurePosixPath(shp_name.replace("\\", "/")).stem
                shp = _unique(_target_dir(data, folder) / f"{safe_stem(shp_stem)}.shp")
                for ext, info in parts.items():
                    _extract(zf, info, shp.with_suffix(ext), budget, limits, archive)
                    intake.members.append(info.filename)
                check_shapefile(shp, archive)
                intake.layers.extend(layers_of(shp, "shapefile", archive, "/".join([*folder.parts, shp_stem])))
            for info, rel in singles:
                target = _unique(_target_dir(data, rel.parent) / f"{safe_stem(rel.stem)}{rel.suffix.lower()}")
                _extract(zf, info, target, budget, limits, archive)
                intake.members.append(info.filename)
                check_single(target, f"{archive}: {info.filename}")
                intake.layers.extend(layers_of(target, FORMATS[rel.suffix.lower()], archive, str(rel.with_suffix(""))))
            kinds = {lay.format for lay in intake.layers}
            intake.format = kinds.pop() if len(kinds) == 1 else "mixed"
    except zipfile.BadZipFile as exc:
        raise reject(f"{archive} is a damaged zip archive ({exc}).", "bad_zip", archive) from None


def _target_dir(data: Path, folder: PurePosixPath) -> Path:
    target = data.joinpath(*[safe_stem(p) for p in folder.parts])
    target.mkdir(parents=True, exist_ok=True)
    return target


def _unique(path: Path) -> Path:
    """``path``, or ``path`` with a number when two members map to the same safe name ("a b" and "a_b")."""
    n, candidate = 1, path
    while candidate.exists():
        n, candidate = n + 1, path.with_name(f"{path.stem}_{n}{path.suffix}")
    return candidate


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
                raise reject(f"{archive}: '{parts[ext].filename}' and '{info.filename}' are the same shapefile part; "
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
        while chunk := src.read(CHUNK):
            written += len(chunk)
            budget[0] -= len(chunk)
            if budget[0] < 0 or written > info.file_size:
                raise reject(f"{archive}: '{info.filename}' unpacks to more than declared or allowed; refused as a "
                              "possible zip bomb.", "zip_bomb", archive, member=info.filename)
            out.write(chunk)
