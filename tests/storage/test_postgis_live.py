"""PostGIS in operation (issue #4): several server processes on one database, and a database restart.

* Two real server processes (``gisportal serve``, gunicorn; the first with two workers forked from a
  preloaded app) over one database, each with its own data directory, serve identical notes and tiles; a
  plan published by another process (``gisportal import-plan``) is served by both within a couple of seconds,
  without a restart (``reload_check_seconds`` is 1 s by default).
* While the database is down, requests answer 503 (JSON for the API and tiles, a page for the site), never
  500; when it is back, the same app answers again.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import date
from pathlib import Path
from urllib.error import HTTPError, URLError
from urllib.request import Request, urlopen

import geopandas as gpd
import mapbox_vector_tile
import pytest
from click.testing import CliRunner
from support.tiny import build_tiny_store

pytestmark = pytest.mark.backends("postgis")

GISPORTAL = Path(sys.executable).with_name("gisportal")
Z15 = "15/15852/12897"  # the tile holding the whole tiny territory (see test_tiles.py)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _clean_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("GISPORTAL_")}
    env.update(extra)
    return env


def http(base: str, path: str, headers: dict | None = None) -> tuple[int, dict, bytes]:
    try:
        with urlopen(Request(base + path, headers=headers or {}), timeout=30) as response:
            return response.status, dict(response.headers), response.read()
    except HTTPError as error:
        return error.code, dict(error.headers), error.read()


class Server:
    """``gisportal serve`` in its own process, logging to a file."""

    def __init__(self, env: dict[str, str], workers: int, log: Path) -> None:
        self.port = _free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.log = log
        self.process = subprocess.Popen(
            [str(GISPORTAL), "serve", "--host", "127.0.0.1", "--port", str(self.port), "--workers", str(workers)],
            env=env, stdout=open(log, "wb"), stderr=subprocess.STDOUT)

    def wait_ready(self, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                pytest.fail(f"the server exited ({self.process.returncode}):\n{self.log.read_text()[-3000:]}")
            try:
                with urlopen(self.base + "/api/v1/plans", timeout=2):
                    return
            except (URLError, ConnectionError, OSError):
                time.sleep(0.2)
        pytest.fail(f"the server did not answer in {timeout} s:\n{self.log.read_text()[-3000:]}")

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGINT)  # gunicorn's quick shutdown
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()

    def note(self, ref: str) -> dict:
        status, _, body = http(self.base, f"/api/v1/notes?ref={ref}")
        assert status == 200, body[:500]
        data = json.loads(body)
        data.pop("generated_at")
        return data

    def tile(self, layer: str) -> tuple[str, bytes]:
        status, headers, body = http(self.base, f"/tiles/{layer}/{Z15}.pbf")
        assert status == 200, body[:500]
        return headers["ETag"], body


def codes(tile: bytes) -> list[str]:
    return sorted(f["properties"]["code"] for f in mapbox_vector_tile.decode(tile)["zones"]["features"])


@pytest.fixture
def servers(tmp_path):
    started: list[Server] = []

    def start(env: dict[str, str], workers: int, name: str) -> Server:
        server = Server(env, workers, tmp_path / f"{name}.log")
        started.append(server)
        return server

    yield start
    for server in started:
        server.stop()


def test_two_server_processes_share_one_database(tiny, tiny_writable, servers, tmp_path):
    common = {"GISPORTAL_DATABASE_URL": tiny_writable.database_url, "GISPORTAL_RULES_FILE": str(tiny.rules_file)}
    a = servers(_clean_env(**common, GISPORTAL_DATA_DIR=str(tmp_path / "a")), 2, "a")
    b = servers(_clean_env(**common, GISPORTAL_DATA_DIR=str(tmp_path / "b")), 1, "b")
    a.wait_ready()
    b.wait_ready()

    # the same answers from both, byte for byte for the tiles
    for ref in ("TF-1001/06", "TF-1003/06", "TF-1007/06"):
        assert a.note(ref) == b.note(ref)
    assert [z["code"] for z in a.note("TF-1001/06")["zones"]] == ["A", "B"]
    for layer in ("zones", "overlays", "parcels"):
        assert a.tile(layer) == b.tile(layer)
    etag_before, zones_before = a.tile("zones")
    assert codes(zones_before) == ["A", "B", "C"]

    # two workers forked from one preloaded app answer many requests at once without mixing their connections
    with ThreadPoolExecutor(8) as pool:
        statuses = list(pool.map(lambda i: http(a.base, f"/api/v1/notes?ref=TF-100{1 + i % 7}/06")[0], range(160)))
    assert statuses == [200] * 160, a.log.read_text()[-3000:]

    # another process publishes version 3 (zone D everywhere) through the command line
    zones = tmp_path / "v3.geojson"
    gpd.GeoDataFrame({"CODE": ["D"]}, geometry=[tiny.box(0, 0, 300, 100)], crs=tiny.crs).to_file(zones)
    done = subprocess.run([str(GISPORTAL), "import-plan", str(zones), "--name", "tiny-plan", "--zone-field", "CODE",
                           "--approved", date.today().isoformat(), "--approval-act", "Décret v3"],
                          env=_clean_env(**common, GISPORTAL_DATA_DIR=str(tmp_path / "cli")),
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    published = time.monotonic()

    # both servers serve it within a couple of seconds, without a restart
    for server in (b, a):
        while [z["code"] for z in server.note("TF-1001/06")["zones"]] != ["D"]:
            assert time.monotonic() - published < 4, f"{server.base} still serves the old zoning"
            time.sleep(0.1)
    assert a.note("TF-1001/06") == b.note("TF-1001/06")
    assert a.note("TF-1001/06")["plans"][0]["approval_act"] == "Décret v3"
    etag_a, zones_a = a.tile("zones")
    assert (etag_a, zones_a) == b.tile("zones")
    assert etag_a != etag_before and codes(zones_a) == ["D"]
    status, _, _ = http(b.base, f"/tiles/zones/{Z15}.pbf", {"If-None-Match": etag_before})
    assert status == 200  # the old ETag no longer matches
    assert time.monotonic() - published < 4
    for server in (a, b):
        assert "Traceback" not in server.log.read_text()


# --- database restart ----------------------------------------------------------


@pytest.fixture
def own_cluster():
    """A cluster for this test alone (it is stopped and started again)."""
    from support.pgcluster import PgCluster

    try:
        cluster = PgCluster()
    except RuntimeError as exc:
        pytest.fail(f"this test needs PostgreSQL: {exc}", pytrace=False)
    yield cluster
    cluster.destroy()


NEEDS_THE_DATABASE = ["/api/v1/notes?ref=TF-1001/06", "/note?ref=TF-1001/06&lang=en", f"/tiles/zones/{Z15}.pbf",
                      "/api/v1/search?q=ibn", "/api/v1/layers/zones", "/api/v1/parcels?bbox=-5.9,35.7,-5.7,35.8",
                      "/api/v1/notes?ref=TF-1002/06&format=pdf&lang=fr"]
MAY_BE_CACHED = ["/", "/plans", "/api/v1/plans"]


def test_database_restart_is_a_503_then_the_same_app_answers_again(backend, own_cluster, tiny, tmp_path,
                                                                   monkeypatch):
    from gisportal.core.errors import StoreUnavailable
    from gisportal.storage.postgis.store import PostgisStore
    from gisportal.web import create_app

    url = own_cluster.create_database("restart")
    build_tiny_store(PostgisStore(url), tiny.today)
    app = create_app({"data_dir": tmp_path / "data", "storage": "postgis", "database_url": url,
                      "rules_file": tiny.rules_file, "TESTING": True})
    client = app.test_client()
    note_before = client.get("/api/v1/notes?ref=TF-1001/06&lang=fr").get_json()
    pdf = client.get("/api/v1/notes?ref=TF-1002/06&format=pdf&lang=fr")
    number = pdf.headers["X-Note-Number"]
    token = app.extensions["gisportal"].registry.get(number).signature[:16]
    checks = [*NEEDS_THE_DATABASE, f"/api/v1/verify/{number}?t={token}", f"/verify/{number}?lang=en&t={token}"]
    assert all(client.get(path).status_code == 200 for path in checks + MAY_BE_CACHED)

    own_cluster.stop()
    for path in checks:
        response = client.get(path)
        assert response.status_code == 503, (path, response.get_data(as_text=True)[:300])
        if path.startswith(("/api/", "/tiles/")):
            assert response.mimetype == "application/json"
            body = response.get_json()
            assert body["error"] == "store_unavailable" and "not reachable" in body["message"]
        else:
            assert response.mimetype == "text/html"
            assert "gp-error-message" in response.get_data(as_text=True)
    for path in MAY_BE_CACHED:  # served from what the app holds, or a 503 when it checks the database: no 500
        assert client.get(path).status_code in (200, 503), path
    store = app.extensions["gisportal"].store
    with pytest.raises(StoreUnavailable):
        store.put_parcels(gpd.GeoDataFrame({"ref": ["TF-9/06"], "address": [None], "quarter": [None]},
                                           geometry=[tiny.box(0, 200, 10, 210)], crs=tiny.crs))
    from gisportal.cli.commands import main

    monkeypatch.setenv("GISPORTAL_DATABASE_URL", url)
    monkeypatch.setenv("GISPORTAL_DATA_DIR", str(tmp_path / "cli"))
    result = CliRunner().invoke(main, ["note", "--parcel", "TF-1001/06"])
    assert result.exit_code == 2 and "error: The database is not reachable" in result.output

    own_cluster.start()
    for path in checks + MAY_BE_CACHED:
        assert client.get(path).status_code == 200, path
    note_after = client.get("/api/v1/notes?ref=TF-1001/06&lang=fr").get_json()
    assert {**note_after, "generated_at": None} == {**note_before, "generated_at": None}
    again = client.get("/api/v1/notes?ref=TF-1002/06&format=pdf&lang=fr")
    assert again.headers["X-Note-Number"] == number and again.data == pdf.data  # the registry is back too
    assert app.extensions["gisportal"].store is store  # the same app and store, not rebuilt
    assert store.counts()["parcels"] == 7  # the write refused while the database was down left nothing


@pytest.mark.backends("postgis")
def test_geometry_columns_declare_the_instance_srid(tiny):
    """Once data came, the geometry columns say their CRS (what QGIS and geometry_columns read)."""
    import sqlalchemy as sa

    store = tiny.open_store()
    with store.engine.connect() as conn:
        declared = dict(conn.execute(sa.text(
            "SELECT f_table_name, srid FROM geometry_columns WHERE f_table_name IN ('gp_zones', 'gp_overlays', "
            "'gp_parcels')")).all())
        kinds = {r[0] for r in conn.execute(sa.text(
            "SELECT type FROM geometry_columns WHERE f_table_name LIKE 'gp_%'")).all()}
    assert declared == {"gp_zones": 26191, "gp_overlays": 26191, "gp_parcels": 26191}
    assert kinds == {"MULTIPOLYGON"}


@pytest.mark.backends("postgis")
def test_a_first_parcel_load_builds_its_indexes_at_once_and_a_failed_one_keeps_them(empty_instance):
    """The GiST and B-tree indexes are dropped for a first load and built again after it, in the same
    transaction: after a load they are there (and used by search); a load refused half-way leaves them too."""
    import shapely
    import sqlalchemy as sa
    from support.tiny import TINY_CRS, X0, Y0

    from gisportal.core.errors import GisportalError

    store = empty_instance.open_store()

    def indexes() -> dict[str, str]:
        with store.engine.connect() as conn:
            return dict(conn.execute(sa.text("SELECT indexname, indexdef FROM pg_indexes "
                                             "WHERE tablename = 'gp_parcels'")).all())

    before = indexes()
    assert {"gp_parcels_geom", "gp_parcels_ref_key", "gp_parcels_address"} <= set(before)
    twice = gpd.GeoDataFrame({"ref": ["TF-1/1", "TF-1/1"], "address": ["1 Rue A", "2 Rue B"],
                              "quarter": ["Q", "Q"]},
                             geometry=[shapely.box(X0, Y0, X0 + 10, Y0 + 10),
                                       shapely.box(X0 + 20, Y0, X0 + 30, Y0 + 10)], crs=TINY_CRS)
    with pytest.raises((GisportalError, sa.exc.IntegrityError)):
        store.put_parcels(twice)  # the same reference twice: refused by the unique key, nothing kept
    assert indexes() == before and store.counts()["parcels"] == 0
    once = twice.assign(ref=["TF-1/1", "TF-2/1"])
    assert store.put_parcels(once) == {"added": 2, "replaced": 0}
    assert indexes() == before  # the same definitions, built again
    assert [s.ref for s in store.search("rue b", 5) if s.kind == "parcel"] == ["TF-2/1"]
    assert store.parcel_at(X0 + 5, Y0 + 5).ref == "TF-1/1"


def test_binary_copy_keeps_every_value(empty_instance):
    """COPY's binary rows, built column by column: texts with tabs, newlines, backslashes, Arabic; missing and
    empty texts (NULL where the column takes NULL, else an empty text); floats with NaN (NULL); polygons and
    multipolygons (stored as multipolygons with the SRID); several chunks."""
    import numpy as np
    import pandas as pd
    import shapely
    import sqlalchemy as sa

    from gisportal.storage.postgis.load import FLOAT8, INT4, MULTIPOLYGON, TEXT, TEXT_OR_NULL, copy_frame

    store = empty_instance.open_store()
    texts = ["a", None, "", "x\ty", "back\\slash", "l1\nl2\r", "زنقة", np.nan]
    square = shapely.box(0, 0, 1, 2)
    frame = pd.DataFrame({"n": range(8), "t": texts, "t0": texts, "f": [1.5, np.nan, -0.1, 1e300, 0, 2, 3, np.nan],
                          "g": [square, shapely.MultiPolygon([square, shapely.box(5, 5, 6, 6)])] * 4})
    with store.engine.begin() as conn:
        conn.execute(sa.text("CREATE TEMP TABLE t_copy (n integer, t text NOT NULL, t0 text, f float8, "
                             "g geometry(MultiPolygon, 26191)) ON COMMIT DROP"))
        copy_frame(conn, "t_copy", {"n": INT4, "t": TEXT, "t0": TEXT_OR_NULL, "f": FLOAT8, "g": MULTIPOLYGON},
                   frame, 26191, chunk_rows=3)
        rows = conn.execute(sa.text("SELECT n, t, t0, f, ST_AsText(g), ST_SRID(g) FROM t_copy ORDER BY n")).all()
    assert [r[1] for r in rows] == ["a", "", "", "x\ty", "back\\slash", "l1\nl2\r", "زنقة", ""]
    assert [r[2] for r in rows] == ["a", None, None, "x\ty", "back\\slash", "l1\nl2\r", "زنقة", None]
    assert [r[3] for r in rows] == [1.5, None, -0.1, 1e300, 0, 2, 3, None]
    assert rows[0][4] == "MULTIPOLYGON(((1 0,1 2,0 2,0 0,1 0)))" and rows[1][4].count("((") == 2
    assert {r[5] for r in rows} == {26191} and [r[0] for r in rows] == list(range(8))


def test_only_polygons_are_copied_as_parcels_or_zones():
    import numpy as np
    import shapely

    from gisportal.core.errors import InvalidInput
    from gisportal.storage.postgis.load import ewkb_multipolygons

    with pytest.raises(InvalidInput, match="1 geometries are not polygons \\(Point\\)"):
        ewkb_multipolygons(np.array([shapely.box(0, 0, 1, 1), shapely.Point(0, 0)], dtype=object), 26191)
    z = ewkb_multipolygons(np.array([shapely.Polygon([(0, 0, 5), (1, 0, 5), (1, 1, 5)])], dtype=object), 2)
    assert shapely.from_wkb(z[0].as_py()).equals(shapely.MultiPolygon([shapely.Polygon([(0, 0), (1, 0), (1, 1)])]))
    assert not shapely.has_z(shapely.from_wkb(z[0].as_py())) and shapely.get_srid(shapely.from_wkb(z[0].as_py())) == 2


def test_revision_0010_moves_the_search_of_existing_parcels_to_btrees(tiny_writable):
    """A database made before revision 0010 (full-text index, words columns) is upgraded with its parcels:
    street and house number filled from their addresses, and search answers the same; and back."""
    from alembic import command
    from alembic.config import Config

    import gisportal.storage.postgis.db as postgis

    store = tiny_writable.open_store()
    config = Config()
    config.set_main_option("script_location", str(Path(postgis.__file__).resolve().parent.parent / "migrations"))

    def columns() -> set[str]:
        return {r[0] for r in tiny_writable.sql("SELECT column_name FROM information_schema.columns "
                                                "WHERE table_name = 'gp_parcels'")}

    with store.engine.begin() as conn:
        config.attributes["connection"] = conn
        command.downgrade(config, "0009")
    assert {"search", "label", "px", "py"} <= columns() and "street" not in columns()
    assert tiny_writable.sql("SELECT label FROM gp_parcels WHERE ref = 'TF-1002/06'") == [
        ("TF-1002/06 — 3 Rue Ibn Battouta",)]
    postgis.migrate(store.engine)
    assert "search" not in columns() and {"street", "house"} <= columns()
    assert sorted(tiny_writable.sql("SELECT ref, street, house FROM gp_parcels WHERE quarter = 'Marshan'")) == [
        ("TF-1001/06", "Rue Ibn Battouta", "1"), ("TF-1002/06", "Rue Ibn Battouta", "3"),
        ("TF-1005/06", "Rue Ibn Battouta", "5"), ("TF-1006/06", None, None)]
    assert [s.ref for s in store.search("3 rue ibn") if s.kind == "parcel"] == ["TF-1002/06"]
    assert [s.ref for s in store.search("TF-100", 3)] == ["TF-1001/06", "TF-1002/06", "TF-1003/06"]
