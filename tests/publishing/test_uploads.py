"""Safe intake of uploaded files: accepted formats, and every hostile or broken file refused with nothing kept.

Every file is written here (geopandas/pyogrio, zipfile, raw bytes). Each refusal is checked for its reason,
its HTTP status and an empty temporary directory afterwards.
"""

from __future__ import annotations

import io
import json
import sqlite3
import struct
import zipfile
from pathlib import Path

import geopandas as gpd
import pandas as pd
import pyogrio
import pytest
import shapely

from gisportal.core.errors import DataFileError, InvalidInput
from gisportal.publishing.uploads import UploadLimits, UploadRejected, UploadTooLarge, open_upload

LAMBERT = "EPSG:26191"
X0, Y0 = 460000.0, 570000.0
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00\x00\x00\rIHDR" + bytes(60)


def zones(n: int = 2) -> gpd.GeoDataFrame:
    boxes = [shapely.box(X0 + 100 * i, Y0, X0 + 100 * (i + 1), Y0 + 100) for i in range(n)]
    return gpd.GeoDataFrame({"CODE": [f"Z{i}" for i in range(n)], "LABEL": ["Médina"] * n}, geometry=boxes,
                            crs=LAMBERT)


@pytest.fixture(scope="module")
def shp_parts(tmp_path_factory) -> dict[str, bytes]:
    """The parts of a two-zone shapefile, by extension."""
    d = tmp_path_factory.mktemp("shp")
    zones().to_file(d / "zonage.shp", engine="pyogrio")
    return {p.suffix: p.read_bytes() for p in d.iterdir()}


def zip_bytes(members: dict[str, bytes], **info_changes) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as z:
        for name, data in members.items():
            info = zipfile.ZipInfo(name)
            info.compress_type = zipfile.ZIP_DEFLATED
            for key, value in info_changes.get(name, {}).items():
                setattr(info, key, value)
            z.writestr(info, data)
    return buffer.getvalue()


def shapefile_zip(parts: dict[str, bytes], folder: str = "", drop: tuple[str, ...] = (), stem: str = "zonage",
                  extra: dict[str, bytes] | None = None) -> bytes:
    members = {f"{folder}{stem}{ext}": data for ext, data in parts.items() if ext not in drop}
    return zip_bytes({**members, **(extra or {})})


@pytest.fixture
def tmp_root(tmp_path) -> Path:
    root = tmp_path / "uploads"
    root.mkdir()
    return root


def refused(tmp_root: Path, source, filename: str | None = None, limits: UploadLimits | None = None,
            error: type = UploadRejected) -> UploadRejected:
    with pytest.raises(error) as caught:
        open_upload(source, filename=filename, limits=limits, tmp_root=tmp_root)
    assert list(tmp_root.iterdir()) == [], "a refused upload left files behind"
    assert 400 <= caught.value.status < 500
    assert isinstance(caught.value, DataFileError)
    return caught.value


# --- accepted ---------------------------------------------------------------------------------------------------
def test_zipped_shapefile_in_a_subfolder_with_junk(shp_parts, tmp_root):
    data = shapefile_zip(shp_parts, folder="PA Tanger/", extra={
        "__MACOSX/PA Tanger/._zonage.shp": b"\x00\x05\x16\x07junk", "PA Tanger/lisez-moi.txt": b"notes"})
    with open_upload(data, filename="zonage.zip", tmp_root=tmp_root) as intake:
        assert intake.format == "shapefile" and intake.size == len(data)
        [layer] = intake.layers
        assert layer.name == "PA Tanger/zonage" and layer.layer is None
        assert layer.geometry_type == "Polygon" and layer.features == 2
        assert layer.crs == LAMBERT and "Nord_Maroc" in layer.prj_text
        assert layer.cpg_encoding == "utf-8"
        assert layer.path.exists() and layer.path.with_suffix(".dbf").exists()
        assert intake.layer() == layer and intake.layer("PA Tanger/zonage") == layer
        assert not any("MACOSX" in m or m.endswith(".txt") for m in intake.members)
        assert json.dumps(intake.to_dict())
        workdir = intake.workdir
    assert not workdir.exists() and list(tmp_root.iterdir()) == []


def test_stream_and_path_sources(shp_parts, tmp_root, tmp_path):
    data = shapefile_zip(shp_parts)
    with open_upload(io.BytesIO(data), filename="z.zip", tmp_root=tmp_root) as intake:
        assert intake.layers[0].features == 2
    path = tmp_path / "plan.zip"
    path.write_bytes(data)
    with open_upload(path, tmp_root=tmp_root) as intake:
        assert intake.original_name == "plan.zip" and intake.layers[0].name == "zonage"
    assert list(tmp_root.iterdir()) == [] and path.exists()


def test_plain_shapefile_by_path(tmp_path, tmp_root):
    zones().to_file(tmp_path / "zonage.shp", engine="pyogrio")
    with open_upload(tmp_path / "zonage.shp", tmp_root=tmp_root) as intake:
        assert intake.layers[0].features == 2 and intake.layers[0].cpg_text == "UTF-8"
    (tmp_path / "zonage.dbf").unlink()
    assert refused(tmp_root, tmp_path / "zonage.shp").details["reason"] == "missing_dbf"


def test_geopackage_lists_its_layers(tmp_path, tmp_root):
    path = tmp_path / "plan.gpkg"
    zones(3).to_file(path, layer="zones", engine="pyogrio")
    zones(1).to_file(path, layer="servitudes", engine="pyogrio")
    with open_upload(path.read_bytes(), filename="plan.gpkg", tmp_root=tmp_root) as intake:
        assert intake.format == "gpkg"
        assert {(lay.name, lay.features) for lay in intake.layers} == {("zones", 3), ("servitudes", 1)}
        with pytest.raises(InvalidInput, match="choose one of"):
            intake.layer()
        assert intake.layer("zones").layer == "zones"
        with pytest.raises(InvalidInput, match="no layer 'routes'"):
            intake.layer("routes")


def test_geopackage_without_map_layers(tmp_path, tmp_root):
    path = tmp_path / "table.gpkg"
    pyogrio.write_dataframe(pd.DataFrame({"CODE": ["A"]}), path, driver="GPKG")  # an attribute table only
    assert refused(tmp_root, path.read_bytes(), "C:\\plans\\table.gpkg").details == {
        "reason": "no_layer", "file": "table.gpkg"}


def test_geojson(tmp_path, tmp_root):
    path = tmp_path / "zones.geojson"
    zones().to_crs("EPSG:4326").to_file(path)
    with open_upload(path.read_bytes(), filename="zones.geojson", tmp_root=tmp_root) as intake:
        assert intake.format == "geojson" and intake.layers[0].features == 2
        assert intake.layers[0].crs == "EPSG:4326"


# --- refused ----------------------------------------------------------------------------------------------------
def test_zip_bomb_by_ratio(tmp_root, tmp_path):
    """A 200 MB member of zeros squeezed into under 1 MB, written by streaming: refused on the declared sizes."""
    path = tmp_path / "bomb.zip"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED, compresslevel=1) as z:
        with z.open("zonage.dbf", "w", force_zip64=True) as member:
            chunk = bytes(1 << 20)
            for _ in range(200):
                member.write(chunk)
    assert path.stat().st_size < 2**20
    error = refused(tmp_root, path.read_bytes(), "bomb.zip")
    assert error.details["reason"] == "zip_bomb" and "zip bomb" in error.message


def test_zip_bomb_by_total_size_and_member_count(shp_parts, tmp_root):
    data = shapefile_zip(shp_parts)
    error = refused(tmp_root, data, "z.zip", UploadLimits(max_unpacked_bytes=1000))
    assert error.details["reason"] == "zip_bomb"
    many = zip_bytes({f"f{i}.txt": b"x" for i in range(12)})
    error = refused(tmp_root, many, "z.zip", UploadLimits(max_members=10))
    assert error.details["reason"] == "too_many_members"


def test_member_lying_about_its_size(shp_parts, tmp_root):
    """Headers declare 1,000 bytes for a member that inflates to 1 MB: caught while unpacking."""
    data = bytearray(zip_bytes({"zonage.shp": shp_parts[".shp"], "zonage.shx": shp_parts[".shx"],
                                "zonage.dbf": bytes(1 << 20)}))
    for signature, offset in ((b"PK\x03\x04", 22), (b"PK\x01\x02", 24)):
        start = 0
        while (at := data.find(signature, start)) >= 0:
            name_len = struct.unpack("<H", data[at + offset + 4:at + offset + 6])[0]
            header = 30 if signature == b"PK\x03\x04" else 46
            if data[at + header:at + header + name_len].endswith(b".dbf"):
                data[at + offset:at + offset + 4] = struct.pack("<I", 1000)
            start = at + 4
    error = refused(tmp_root, bytes(data), "liar.zip")
    assert error.details["reason"] in ("zip_bomb", "bad_zip")


@pytest.mark.parametrize("member,reason", [
    ("../evil.shp", "unsafe_path"), ("plan/../../evil.shp", "unsafe_path"), ("/etc/evil.shp", "unsafe_path"),
    ("C:/Windows/evil.shp", "unsafe_path"), ("..\\evil.shp", "unsafe_path"),
])
def test_members_escaping_the_archive(shp_parts, tmp_root, member, reason):
    data = zip_bytes({member: shp_parts[".shp"], "zonage.shx": shp_parts[".shx"], "zonage.dbf": shp_parts[".dbf"]})
    error = refused(tmp_root, data, "evil.zip")
    assert error.details["reason"] == reason and error.details["member"] == member


def test_symlink_and_encrypted_members(shp_parts, tmp_root):
    link = zip_bytes({"zonage.shp": shp_parts[".shp"], "zonage.dbf": b"/etc/passwd"},
                     **{"zonage.dbf": {"external_attr": (0o120777 << 16)}})
    assert refused(tmp_root, link, "link.zip").details["reason"] == "symlink"
    locked = bytearray(zip_bytes({"zonage.shp": shp_parts[".shp"]}))
    for signature, offset in ((b"PK\x03\x04", 6), (b"PK\x01\x02", 8)):  # general-purpose flag: bit 0 = encrypted
        at = locked.find(signature)
        locked[at + offset] |= 0x1
    locked = bytes(locked)
    assert refused(tmp_root, locked, "locked.zip").details["reason"] == "encrypted"


@pytest.mark.parametrize("missing,reason", [(".dbf", "missing_dbf"), (".shx", "missing_shx")])
def test_shapefile_without_its_parts(shp_parts, tmp_root, missing, reason):
    error = refused(tmp_root, shapefile_zip(shp_parts, drop=(missing,)), "zonage.zip")
    assert error.details["reason"] == reason and missing in error.message


def test_wrong_types_under_right_names(shp_parts, tmp_root, tmp_path):
    error = refused(tmp_root, PNG, "zonage.gpkg")
    assert error.details["reason"] == "wrong_type" and "PNG image" in error.message
    error = refused(tmp_root, b"Bonjour, voici le plan.\n", "zonage.zip")
    assert error.details["reason"] == "wrong_type" and "plain text" in error.message
    db = tmp_path / "plain.sqlite"
    with sqlite3.connect(db) as con:
        con.execute("CREATE TABLE t (x)")
    assert "not a GeoPackage" in refused(tmp_root, db.read_bytes(), "plan.gpkg").message
    assert refused(tmp_root, b'{"type": "Topology"}', "z.geojson").details["reason"] == "wrong_type"
    assert refused(tmp_root, b'{"type": "FeatureCollection", ', "z.geojson").details["reason"] == "wrong_type"
    assert refused(tmp_root, "é".encode("cp1252") * 10, "z.json").details["reason"] == "wrong_type"
    fake_shp = shapefile_zip({**shp_parts, ".shp": b"not a shapefile" * 10})
    assert "not a shapefile part" in refused(tmp_root, fake_shp, "z.zip").message
    assert refused(tmp_root, zip_bytes({"readme.txt": b"x"}), "z.zip").details["reason"] == "no_layer"
    assert refused(tmp_root, b"PK\x05\x06" + bytes(18), "empty.zip").details["reason"] == "wrong_type"


def test_unsupported_and_loose_parts(shp_parts, tmp_root):
    assert refused(tmp_root, b"<kml/>", "zones.kml").details["reason"] == "unsupported_type"
    assert refused(tmp_root, shp_parts[".shp"], "zonage.shp").details["reason"] == "shapefile_parts"


def test_oversize_upload(shp_parts, tmp_root):
    data = shapefile_zip(shp_parts)
    limits = UploadLimits(max_upload_bytes=len(data) - 1)
    error = refused(tmp_root, data, "big.zip", limits, UploadTooLarge)
    assert error.status == 413 and error.details["reason"] == "too_large"
    error = refused(tmp_root, io.BytesIO(data), "big.zip", limits, UploadTooLarge)
    assert error.details["size"] > limits.max_upload_bytes
