"""Open-data downloads through a real server on the tiny territory, both backends: every plan version as
GeoPackage, zipped shapefile and GeoJSON read back with pyogrio, features and areas as built by hand (conftest):
version 1 has zone B over 300 m x 100 m and one 50 m x 50 m overlay; version 2 zones A, B, C of 100 m x 100 m and
overlays of 200, 3,600 and 1,500 m²; seven parcels of 2,900 m² in all."""

from __future__ import annotations

import csv
import io
import json
import time
import zipfile
from pathlib import Path
from types import SimpleNamespace

import pyogrio
import pytest
import requests
from support.ogc import ogc  # noqa: F401  (the served portal fixture)

EXPECTED = {"tiny-plan-v1-zones": (["B"], 30_000.0), "tiny-plan-v1-overlays": (["green_space"], 2_500.0),
            "tiny-plan-v2-zones": (["A", "B", "C"], 30_000.0),
            "tiny-plan-v2-overlays": (["airport_easement", "heritage", "road_widening"], 5_300.0)}


def _fetch(ogc: SimpleNamespace, name: str, tmp_path: Path) -> Path:
    answer = requests.get(f"{ogc.base}/api/v1/downloads/{name}", timeout=60)
    assert answer.status_code == 200, answer.text
    path = tmp_path / name
    path.write_bytes(answer.content)
    return path


@pytest.mark.parametrize("stem", list(EXPECTED))
@pytest.mark.parametrize("fmt", ["gpkg", "shp.zip", "geojson"])
def test_each_plan_version_downloads_with_its_features(ogc: SimpleNamespace, tmp_path: Path, stem: str,
                                                       fmt: str) -> None:
    path = _fetch(ogc, f"{stem}.{fmt}", tmp_path)
    frame = pyogrio.read_dataframe(f"/vsizip/{path}" if fmt == "shp.zip" else path).to_crs("EPSG:26191")
    codes, area = EXPECTED[stem]
    column = "code" if "zones" in stem else "kind"
    assert sorted(frame[column]) == codes
    assert frame.geometry.area.sum() == pytest.approx(area, rel=1e-4)
    assert set(frame["act"]) == {"Décret v1" if "-v1-" in stem else "Décret v2"}


def test_shapefile_zip_has_utf8_cpg_prj_and_arabic_labels(ogc: SimpleNamespace, tmp_path: Path) -> None:
    path = _fetch(ogc, "tiny-plan-v2-zones.shp.zip", tmp_path)
    with zipfile.ZipFile(path) as archive:
        names = archive.namelist()
        assert {n.rsplit(".", 1)[1] for n in names} >= {"shp", "shx", "dbf", "prj", "cpg", "txt"}
        cpg = [n for n in names if n.endswith(".cpg")][0]
        assert archive.read(cpg).decode().strip().upper() in ("UTF-8", "UTF8")
        prj = archive.read([n for n in names if n.endswith(".prj")][0]).decode()
        assert "Merchich" in prj or "Nord_Maroc" in prj
        about = archive.read([n for n in names if n.endswith(".txt")][0]).decode("utf-8")
        assert "approval_act: Décret v2" in about and "licence: CC-BY-4.0" in about
    frame = pyogrio.read_dataframe(f"/vsizip/{path}")
    assert sorted(frame["label_ar"]) == ["المنطقة A", "المنطقة B", "المنطقة C"]


def test_geopackage_and_geojson_carry_their_approval_act_dates_and_licence(ogc: SimpleNamespace,
                                                                          tmp_path: Path) -> None:
    info = pyogrio.read_info(_fetch(ogc, "tiny-plan-v1-zones.gpkg", tmp_path))
    facts = info["layer_metadata"] or info["dataset_metadata"]
    assert facts["approval_act"] == "Décret v1" and facts["licence"] == "CC-BY-4.0"
    assert facts["effective_from"] == ogc.tiny.v1_from.isoformat()
    document = json.loads(_fetch(ogc, "tiny-plan-v1-zones.geojson", tmp_path).read_text(encoding="utf-8"))
    assert "approval_act: Décret v1" in document["description"] and "CC-BY-4.0" in document["description"]


def test_parcels_download_equals_the_store(ogc: SimpleNamespace, tmp_path: Path) -> None:
    frame = pyogrio.read_dataframe(_fetch(ogc, "parcels.gpkg", tmp_path))
    assert sorted(frame["ref"]) == sorted(ogc.tiny.parcels)
    assert frame.geometry.area.sum() == pytest.approx(2_900.0, rel=1e-6)


def test_listing_stable_urls_sizes_etags_and_conditional_get(ogc: SimpleNamespace) -> None:
    listing = requests.get(f"{ogc.base}/api/v1/downloads", timeout=60).json()["downloads"]
    by_name = {d["name"]: d for d in listing}
    assert by_name["tiny-plan-v1-zones.gpkg"]["status"] == "superseded"
    assert by_name["tiny-plan-v2-zones.gpkg"]["status"] == "in_force"
    assert len(listing) == 4 * 3 + 3 + 1
    again = requests.get(f"{ogc.base}/api/v1/downloads", timeout=60).json()["downloads"]
    assert [(d["url"], d["etag"], d["size"]) for d in again] == [(d["url"], d["etag"], d["size"]) for d in listing]
    entry = by_name["tiny-plan-v2-overlays.geojson"]
    url = entry["url"]
    assert url == f"{ogc.base}/api/v1/downloads/tiny-plan-v2-overlays.geojson"  # public_url: the test server's
    plain = {"Accept-Encoding": "identity"}  # the listed size and ETag are the file's, not a compressed variant's
    first = requests.get(url, headers=plain, timeout=60)
    assert len(first.content) == entry["size"] and first.headers["ETag"] == f'"{entry["etag"]}"'
    assert requests.get(url, headers={**plain, "If-None-Match": first.headers["ETag"]}, timeout=60).status_code == 304
    assert requests.get(f"{ogc.base}/api/v1/downloads/nothing.gpkg", timeout=60).status_code == 404
    assert requests.get(f"{ogc.base}/api/v1/downloads/..%2Fsecret_key", timeout=60).status_code == 404


def test_rules_catalogue_csv(ogc: SimpleNamespace) -> None:
    answer = requests.get(f"{ogc.base}/api/v1/downloads/rules.csv", timeout=60)
    assert answer.headers["Content-Type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(answer.content.decode("utf-8"))))
    assert [(r["code"], r["cos"], r["ces"]) for r in rows] == [("A", "2.0", "0.5"), ("B", "1.0", "0.25")]


@pytest.mark.parametrize(("lang", "words"), [("fr", "Données ouvertes"), ("ar", "البيانات المفتوحة"),
                                             ("en", "Open data")])
def test_data_page_lists_every_version_with_act_and_size(ogc: SimpleNamespace, lang: str, words: str) -> None:
    page = requests.get(f"{ogc.base}/data", params={"lang": lang}, timeout=60).text
    assert words in page and "Décret v1" in page and "Décret v2" in page and "CC-BY-4.0" in page
    assert page.count("/api/v1/downloads/") == 16
    assert "kB" in page or "KB" in page  # sizes shown


def test_a_large_layer_is_written_in_the_background_while_clients_are_asked_to_come_back(
        ogc: SimpleNamespace, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    from gisportal.opendata import downloads

    monkeypatch.setattr(downloads, "INLINE_LIMIT", 3)  # the seven parcels count as a large layer
    fresh, write = downloads._folder, downloads._write  # a folder of its own: the files are not written yet
    monkeypatch.setattr(downloads, "_folder", lambda *args: fresh(*args).with_name("fresh-" + fresh(*args).name))

    def slow_write(store: object, download: downloads.Download, *args: object) -> None:
        if download.layer == "parcels":  # writing the large layer takes a while, as a million parcels do
            time.sleep(1.0)
        write(store, download, *args)

    monkeypatch.setattr(downloads, "_write", slow_write)
    url = f"{ogc.base}/api/v1/downloads/parcels.shp.zip"
    answers = []
    for _ in range(100):
        answer = requests.get(url, timeout=60)
        answers.append(answer.status_code)
        if answer.status_code == 200:
            break
        assert answer.status_code == 503 and int(answer.headers["Retry-After"]) > 0
        assert answer.json()["error"] == "preparing"
        if len(answers) == 1:
            page = requests.get(f"{ogc.base}/data", params={"lang": "en"}, timeout=60).text
            assert "being prepared" in page
        time.sleep(0.2)
    assert answers[0] == 503 and answers[-1] == 200
    path = tmp_path / "parcels.shp.zip"
    path.write_bytes(answer.content)
    assert sorted(pyogrio.read_dataframe(f"/vsizip/{path}")["ref"]) == sorted(ogc.tiny.parcels)
