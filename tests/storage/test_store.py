"""The stores (embedded and PostGIS): reads on the tiny territory, all-or-nothing writes, refresh across instances.

Tests of the embedded file itself (atomic swap, bytes unchanged, no temporary file left) run on the embedded
backend only; their PostGIS counterparts check that a failing write leaves the database as it was.
"""

from __future__ import annotations

from datetime import date

import geopandas as gpd
import pyogrio
import pytest
import shapely

from gisportal.core.errors import InvalidInput, NotFound
from gisportal.core.settings import load_settings
from gisportal.storage import open_store
from gisportal.storage.base import NewPlanVersion
from gisportal.storage.embedded.store import EmbeddedStore
from gisportal.storage.postgis.store import PostgisStore

CRS = "EPSG:26191"

#: The store suite also runs on PostGIS with a streaming replica, both through PgBouncer (issue #18).
pytestmark = pytest.mark.backends("embedded", "postgis", "replicated")


@pytest.fixture(scope="module")
def store(tiny):
    return tiny.open_store()


STORE_CLASSES = {"embedded": EmbeddedStore, "postgis": PostgisStore, "replicated": PostgisStore}


def snapshot(path):
    """Bytes, inode and mtime of a file: what a failed write must leave as it was."""
    st = path.stat()
    return path.read_bytes(), st.st_ino, st.st_mtime_ns


def parcels_frame(rows, tiny):
    return gpd.GeoDataFrame({"ref": [r for r, _ in rows], "address": ["1 Rue Neuve" for _ in rows],
                             "quarter": ["Neuf" for _ in rows]},
                            geometry=[tiny.box(*b) for _, b in rows], crs=CRS)


# --- reads -------------------------------------------------------------------


def test_counts_crs_and_extent(store, tiny):
    assert store.crs == "EPSG:26191"
    assert store.counts() == {"zones": 4, "overlays": 4, "parcels": 7, "plan_versions": 2}
    # Everything stored spans x 0..300, y 0..110 (TF-1005/06 sticks out of the zones to y = 110).
    assert store.extent() == pytest.approx((tiny.x0, tiny.y0, tiny.x0 + 300, tiny.y0 + 110))
    (plan,) = store.plans()
    assert plan.name == "tiny-plan"
    versions = store.plan_versions()
    assert [(v.version, v.effective_from) for v in versions] == [(1, tiny.v1_from), (2, tiny.v2_from)]
    assert [v.approval_act for v in versions] == ["Décret v1", "Décret v2"]


@pytest.mark.parametrize("typed", ["TF-1001/06", "tf 1001/06", "TF1001/06", "1001/06", "1001 06", " tf-1001-06 "])
def test_parcel_by_ref_loose_forms(store, typed):
    parcel = store.parcel_by_ref(typed)
    assert parcel is not None and parcel.ref == "TF-1001/06"
    assert parcel.geometry.area == pytest.approx(400.0)
    assert (parcel.address, parcel.quarter) == ("1 Rue Ibn Battouta", "Marshan")


@pytest.mark.parametrize("typed", ["TF-9999/06", "1001/07", "", "///", "TF"])
def test_parcel_by_ref_unknown(store, typed):
    assert store.parcel_by_ref(typed) is None


def test_parcel_without_address(store):
    assert store.parcel_by_ref("TF-1006/06").address is None


def test_parcel_at(store, tiny):
    assert store.parcel_at(tiny.x0 + 20, tiny.y0 + 20).ref == "TF-1002/06"
    assert store.parcel_at(tiny.x0 + 105, tiny.y0 + 70).ref == "TF-1007/06"
    assert store.parcel_at(*tiny.street_point) is None
    assert store.parcel_at(tiny.x0 - 1000, tiny.y0) is None


def test_zones_on_point_per_version(store, tiny):
    v1, v2 = (v.id for v in store.plan_versions())
    point = shapely.Point(tiny.street_point)
    assert [h.code for h in store.zones_on(point, [v2])] == ["B"]
    assert [h.code for h in store.zones_on(point, [v1])] == ["B"]
    point_a = shapely.Point(tiny.x0 + 50, tiny.y0 + 50)
    assert [(h.code, h.version_id) for h in store.zones_on(point_a, [v2])] == [("A", v2)]
    assert sorted(h.code for h in store.zones_on(point_a, [v1, v2])) == ["A", "B"]
    assert store.zones_on(point_a, []) == []


def test_zones_and_overlays_on_polygon(store, tiny):
    v2 = store.plan_versions()[1].id
    parcel = tiny.box(90, 10, 110, 30)
    hits = sorted(store.zones_on(parcel, [v2]), key=lambda h: h.code)
    assert [(h.code, round(h.area_m2, 6)) for h in hits] == [("A", 200.0), ("B", 200.0)]
    assert hits[0].piece.equals(tiny.box(90, 10, 100, 30))
    (overlay,) = store.overlays_on(tiny.box(10, 10, 30, 30), [v2])
    assert overlay.kind == "road_widening" and overlay.area_m2 == pytest.approx(100.0)
    assert overlay.max_height_m is None and overlay.label_fr == "Élargissement rue X"
    (airport,) = store.overlays_on(tiny.box(150, 50, 170, 70), [v2])
    assert airport.max_height_m == 9.0
    # A polygon that only touches a zone's edge shares no area with it.
    assert [h.code for h in store.zones_on(tiny.box(100, 0, 110, 10), [v2])] == ["B"]


def test_features_by_bbox_and_version(store, tiny):
    v1, v2 = (v.id for v in store.plan_versions())
    zones = store.features("zones", [v2], None)
    assert sorted(zones["code"]) == ["A", "B", "C"]
    assert list(store.features("zones", [v1], None)["code"]) == ["B"]
    box = (tiny.x0 + 5, tiny.y0 + 5, tiny.x0 + 35, tiny.y0 + 35)
    assert list(store.features("parcels", None, box)["ref"]) == ["TF-1002/06"]
    assert "ref_key" not in store.features("parcels", None, box).columns
    assert len(store.features("parcels", None, None, limit=3)) == 3
    with pytest.raises(NotFound):
        store.features("roads", None, None)


def test_search(store):
    quarters = store.search("mars")
    assert quarters[0].kind == "quarter" and quarters[0].label == "Marshan"
    streets = [s for s in store.search("ibn batt") if s.kind == "street"]
    assert [s.label for s in streets] == ["Rue Ibn Battouta"]
    refs = [s.ref for s in store.search("TF-100") if s.kind == "parcel"]
    assert sorted(refs) == sorted(r for r in ("TF-1001/06", "TF-1002/06", "TF-1003/06", "TF-1004/06",
                                              "TF-1005/06", "TF-1006/06", "TF-1007/06"))
    assert [s.ref for s in store.search("1003")] == ["TF-1003/06"]
    assert store.search("zzzz") == [] and store.search("  ") == [] and store.search('"*') == []


def test_meta_and_backend_by_name(tiny):
    store = open_store(load_settings(tiny.settings))
    assert isinstance(store, STORE_CLASSES[tiny.backend]) and store.counts()["parcels"] == 7
    store.close()
    with pytest.raises(InvalidInput):
        open_store(load_settings({**tiny.settings, "storage": "nosuchdb"}))


def test_empty_store(empty_instance, backend):
    store = empty_instance.open_store()
    assert store.crs == "" and store.extent() is None
    assert store.counts() == {"zones": 0, "overlays": 0, "parcels": 0, "plan_versions": 0}
    assert store.parcel_by_ref("TF-1/06") is None and store.search("tf") == []
    if backend == "embedded":  # the file cannot be created: nothing tells the CRS yet
        with pytest.raises(InvalidInput):
            store.set_meta({"a": "b"})
        assert not empty_instance.store_path.exists()


# --- writes ------------------------------------------------------------------


def test_first_write_sets_the_crs_and_creates_the_file(empty_instance, tiny):
    store = empty_instance.open_store()
    counts = store.put_parcels(parcels_frame([("TF-1/06", (0, 0, 10, 10))], tiny))
    assert counts == {"added": 1, "replaced": 0}
    assert store.crs == CRS and empty_instance.open_store().crs == CRS


def test_put_parcels_replaces_by_reference(tiny_writable, tiny):
    store = tiny_writable.open_store()
    counts = store.put_parcels(parcels_frame([("tf 1001/06", (90, 10, 100, 30)), ("TF-2000/06", (0, 200, 10, 210))],
                                             tiny))
    assert counts == {"added": 1, "replaced": 1}
    assert store.counts()["parcels"] == 8
    replaced = store.parcel_by_ref("TF-1001/06")
    assert replaced.geometry.area == pytest.approx(200.0) and replaced.address == "1 Rue Neuve"
    assert store.parcel_by_ref("TF-2000/06") is not None
    assert [s.ref for s in store.search("2000")] == ["TF-2000/06"]
    assert store.extent()[3] == pytest.approx(tiny.y0 + 210)


def test_publish_keeps_older_versions(tiny_writable, tiny):
    store = tiny_writable.open_store()
    zones = gpd.GeoDataFrame({"code": ["A"], "label_fr": ["A"], "label_ar": ["أ"]},
                             geometry=[tiny.box(0, 0, 300, 100)], crs=CRS)
    version = store.publish_plan_version(
        NewPlanVersion("tiny-plan", "t", "t", "Décret v3", date(2030, 1, 1), date(2030, 1, 1)), zones)
    assert (version.plan_name, version.version, version.effective_from) == ("tiny-plan", 3, date(2030, 1, 1))
    assert [v.version for v in store.plan_versions()] == [1, 2, 3]
    assert store.counts()["zones"] == 5
    with pytest.raises(NotFound):
        store.add_overlays("no-such-plan", zones.assign(kind="heritage"))


def test_zones_in_another_crs_are_reprojected(tiny_writable, tiny):
    store = tiny_writable.open_store()
    zone = gpd.GeoDataFrame({"code": ["U"], "label_fr": ["U"], "label_ar": ["U"]},
                            geometry=[tiny.box(0, 0, 100, 100)], crs=CRS).to_crs("EPSG:32630")
    version = store.publish_plan_version(NewPlanVersion("utm", "u", "u", "a", date(2020, 1, 1), date(2020, 1, 1)),
                                         zone)
    (hit,) = store.zones_on(tiny.box(10, 10, 30, 30), [version.id])
    assert hit.code == "U" and hit.area_m2 == pytest.approx(400.0, abs=0.01)


def _failing_on_call(monkeypatch, n):
    """Make pyogrio.write_dataframe fail on its n-th call (after the earlier calls really wrote)."""
    real = pyogrio.write_dataframe
    calls = []

    def write(*args, **kwargs):
        calls.append(args)
        if len(calls) == n:
            raise OSError("disk full (simulated)")
        return real(*args, **kwargs)

    monkeypatch.setattr(pyogrio, "write_dataframe", write)
    return calls


@pytest.mark.backends("embedded")
def test_failed_publication_leaves_file_and_memory_untouched(tiny_writable, tiny, monkeypatch):
    path = tiny_writable.store_path
    store = EmbeddedStore(path)
    before, counts, versions = snapshot(path), store.counts(), store.plan_versions()
    zones = gpd.GeoDataFrame({"code": ["A"], "label_fr": ["A"], "label_ar": ["أ"]},
                             geometry=[tiny.box(0, 0, 300, 100)], crs=CRS)
    overlays = gpd.GeoDataFrame({"kind": ["heritage"], "label_fr": ["h"], "label_ar": ["h"], "provision_fr": [""],
                                 "provision_ar": [""], "max_height_m": [float("nan")]},
                                geometry=[tiny.box(0, 0, 10, 10)], crs=CRS)
    calls = _failing_on_call(monkeypatch, 2)  # the zones are written, the overlays fail
    with pytest.raises(OSError, match="simulated"):
        store.publish_plan_version(NewPlanVersion("tiny-plan", "t", "t", "v3", date(2030, 1, 1), date(2030, 1, 1)),
                                   zones, overlays)
    assert len(calls) == 2
    assert snapshot(path) == before
    assert store.counts() == counts and store.plan_versions() == versions
    assert store.parcel_by_ref("TF-1001/06") is not None
    assert sorted(p.name for p in tiny_writable.data_dir.iterdir()) == ["gisportal.gpkg", "gisportal.gpkg.lock"]
    reopened = EmbeddedStore(path)
    assert reopened.counts() == counts and [v.version for v in reopened.plan_versions()] == [1, 2]
    # The lock was released: the next write goes through.
    monkeypatch.undo()
    store.publish_plan_version(NewPlanVersion("tiny-plan", "t", "t", "v3", date(2030, 1, 1), date(2030, 1, 1)),
                               zones, overlays)
    assert [v.version for v in store.plan_versions()] == [1, 2, 3]


@pytest.mark.backends("embedded")
def test_failed_parcel_write_leaves_file_and_memory_untouched(tiny_writable, tiny, monkeypatch):
    path = tiny_writable.store_path
    store = EmbeddedStore(path)
    before, counts = snapshot(path), store.counts()
    import gisportal.storage.embedded.store as embedded

    def broken_index(db, parcels):
        db.execute("DELETE FROM gp_parcel_search")  # half-way through the second step
        raise RuntimeError("index failed (simulated)")

    monkeypatch.setattr(embedded, "build_search_index", broken_index)
    with pytest.raises(RuntimeError, match="simulated"):
        store.put_parcels(parcels_frame([("TF-1001/06", (0, 0, 5, 5)), ("TF-3000/06", (0, 300, 5, 305))], tiny))
    assert snapshot(path) == before
    assert store.counts() == counts
    assert store.parcel_by_ref("TF-1001/06").geometry.area == pytest.approx(400.0)
    assert store.parcel_by_ref("TF-3000/06") is None
    assert [s.ref for s in store.search("1001")] == ["TF-1001/06"]


@pytest.mark.backends("embedded")
def test_failed_first_write_creates_no_file(tmp_path, tiny, monkeypatch):
    path = tmp_path / "gisportal.gpkg"
    store = EmbeddedStore(path)
    _failing_on_call(monkeypatch, 4)  # three empty layers are created, then the parcels fail
    with pytest.raises(OSError):
        store.put_parcels(parcels_frame([("TF-1/06", (0, 0, 10, 10))], tiny))
    assert not path.exists()
    assert [p.name for p in tmp_path.iterdir() if p.suffix == ".gpkg"] == []


def _failing_copy(monkeypatch, n):
    """Make the n-th COPY of the PostGIS store fail half-way through its rows (the earlier ones really wrote)."""
    import psycopg

    real = psycopg.Copy.write
    calls = []

    def write(self, data):
        calls.append(len(data))
        if len(calls) == n:
            real(self, data[: len(data) // 2])
            raise OSError("connection lost in the middle of a COPY (simulated)")
        return real(self, data)

    monkeypatch.setattr(psycopg.Copy, "write", write)
    return calls


@pytest.mark.backends("postgis")
def test_failed_publication_leaves_the_database_and_memory_untouched(tiny_writable, tiny, monkeypatch):
    store = tiny_writable.open_store()
    before, counts, versions, generation = (tiny_writable.snapshot(), store.counts(), store.plan_versions(),
                                            store.generation())
    zones = gpd.GeoDataFrame({"code": ["A", "B"], "label_fr": ["A", "B"], "label_ar": ["أ", "ب"]},
                             geometry=[tiny.box(0, 0, 150, 100), tiny.box(150, 0, 300, 100)], crs=CRS)
    overlays = gpd.GeoDataFrame({"kind": ["heritage", "heritage"], "label_fr": ["h", "h"], "label_ar": ["h", "h"],
                                 "provision_fr": ["", ""], "provision_ar": ["", ""],
                                 "max_height_m": [float("nan"), 7.0]},
                                geometry=[tiny.box(0, 0, 10, 10), tiny.box(20, 0, 30, 10)], crs=CRS)
    calls = _failing_copy(monkeypatch, 2)  # the version row and the zones are written, the overlays' COPY breaks
    with pytest.raises(OSError, match="simulated"):
        store.publish_plan_version(NewPlanVersion("tiny-plan", "t", "t", "v3", date(2030, 1, 1), date(2030, 1, 1)),
                                   zones, overlays)
    assert len(calls) == 2
    assert tiny_writable.snapshot() == before  # rows, data generation and instance facts as they were
    assert store.counts() == counts and store.plan_versions() == versions and store.generation() == generation
    assert store.refresh() is False
    assert store.parcel_by_ref("TF-1001/06") is not None
    reopened = tiny_writable.open_store()
    assert reopened.counts() == counts and [v.version for v in reopened.plan_versions()] == [1, 2]
    assert reopened.generation() == generation
    # Nothing stayed locked: the next write goes through, and is seen by the other store.
    monkeypatch.undo()
    store.publish_plan_version(NewPlanVersion("tiny-plan", "t", "t", "v3", date(2030, 1, 1), date(2030, 1, 1)),
                               zones, overlays)
    assert [v.version for v in store.plan_versions()] == [1, 2, 3]
    assert store.generation() != generation
    assert reopened.refresh() is True and [v.version for v in reopened.plan_versions()] == [1, 2, 3]
    assert reopened.counts() == {**counts, "zones": counts["zones"] + 2, "overlays": counts["overlays"] + 2,
                                 "plan_versions": 3}


@pytest.mark.backends("postgis")
def test_failed_parcel_write_leaves_the_database_and_memory_untouched(tiny_writable, tiny, monkeypatch):
    store = tiny_writable.open_store()
    before, counts, generation = tiny_writable.snapshot(), store.counts(), store.generation()
    import gisportal.storage.postgis.writes as postgis

    def broken_places(*args):  # after the parcels were replaced and the places deleted, in the same transaction
        raise RuntimeError("places failed (simulated)")

    monkeypatch.setattr(postgis, "place_rows", broken_places)
    with pytest.raises(RuntimeError, match="simulated"):
        store.put_parcels(parcels_frame([("TF-1001/06", (0, 0, 5, 5)), ("TF-3000/06", (0, 300, 5, 305))], tiny))
    assert tiny_writable.snapshot() == before
    assert store.counts() == counts and store.generation() == generation
    assert store.parcel_by_ref("TF-1001/06").geometry.area == pytest.approx(400.0)
    assert store.parcel_by_ref("TF-3000/06") is None
    assert [s.ref for s in store.search("1001")] == ["TF-1001/06"]
    assert store.search("mars")[0].label == "Marshan"  # the places are still there


@pytest.mark.backends("postgis")
def test_failed_first_write_leaves_the_database_empty(empty_instance, tiny, monkeypatch):
    store = empty_instance.open_store()
    before = empty_instance.snapshot()
    _failing_copy(monkeypatch, 1)
    with pytest.raises(OSError, match="simulated"):
        store.put_parcels(parcels_frame([("TF-1/06", (0, 0, 10, 10)), ("TF-2/06", (10, 0, 20, 10))], tiny))
    assert empty_instance.snapshot() == before
    reopened = empty_instance.open_store()
    assert reopened.counts() == {"zones": 0, "overlays": 0, "parcels": 0, "plan_versions": 0}
    assert reopened.crs == "" and reopened.meta() == {}


def test_second_instance_sees_publication_after_refresh(tiny_writable, tiny):
    writer, reader = tiny_writable.open_store(), tiny_writable.open_store()
    assert reader.refresh() is False  # nothing changed yet
    writer.put_parcels(parcels_frame([("TF-4000/06", (0, 400, 10, 410))], tiny))
    if tiny.backend == "embedded":
        assert reader.parcel_by_ref("TF-4000/06") is None  # still the data it loaded
    elif tiny.backend == "postgis":
        assert reader.parcel_by_ref("TF-4000/06") is not None  # parcels are read from the database, live
    # replicated: before its refresh the reader may still read a replica that has not replayed the write
    assert reader.refresh() is True
    assert reader.parcel_by_ref("TF-4000/06") is not None
    assert reader.counts()["parcels"] == 8
    assert reader.refresh() is False
    zones = gpd.GeoDataFrame({"code": ["B"], "label_fr": ["B"], "label_ar": ["ب"]},
                             geometry=[tiny.box(0, 0, 300, 100)], crs=CRS)
    writer.publish_plan_version(NewPlanVersion("tiny-plan", "t", "t", "v3", date(2030, 1, 1), date(2030, 1, 1)),
                                zones)
    assert reader.refresh() is True
    assert [v.version for v in reader.plan_versions()] == [1, 2, 3]


def test_search_words_folded_in_bulk_like_one_by_one():
    """The bulk folding (Arrow kernels for ASCII, one by one otherwise) equals the reference folding, for the
    search words and for the reference keys."""
    import pandas as pd

    from gisportal.zoning.parcels import ref_key, ref_keys, search_text, search_texts

    texts = ["TF-1234/06 12, Rue Ibn Batouta", "  __x--Y  ", "Rue de l'Église", "زنقة ابن بطوطة 12", "", "a\tb\x1cc",
             "ÉCOLE  n°5", "TF 12/ab;cd", "A_B c", "ﬁ Ⅻ", "Hay Al Amal", "straße ß", "tf 104523/06"]
    assert search_texts(texts).to_pylist() == [search_text(t) for t in texts]
    assert ref_keys(texts).to_pylist() == [ref_key(t) for t in texts]
    assert ref_keys(pd.Series(texts, dtype="str")).to_pylist() == [ref_key(t) for t in texts]  # an Arrow column
    assert search_texts(["TF-1234/06 12, Rue Ibn Batouta"]).to_pylist() == ["tf 1234 06 12 rue ibn batouta"]
    assert search_texts(["Rue de l'Église"]).to_pylist() == ["rue de l eglise"]


def test_address_parts_street_and_house_number():
    from gisportal.storage.indexing import address_parts

    streets, houses = address_parts(["12 bis, Rue Ibn Battouta", None, "Rue X", "", "٣ زنقة ابن بطوطة",
                                     " 5  Rue A", "7TER Avenue Pasteur", "Résidence 2"])
    assert streets.to_pylist() == ["Rue Ibn Battouta", None, "Rue X", None, "زنقة ابن بطوطة", "Rue A",
                                   "Avenue Pasteur", "Résidence 2"]
    assert houses.to_pylist() == ["12 bis", None, None, None, "٣", "5", "7ter", None]


def test_parcel_search_sql_escapes_like_wildcards():
    """A typed house number goes into LIKE as plain text (its % and _ escaped), a reference key is bounded."""
    from gisportal.storage.postgis.sql import parcel_search_sql

    sql, params = parcel_search_sql(["TF12"], ["Rue A"], "1_", 5)
    assert params == {"n": 5, "k0": "TF12%", "streets": ["Rue A"], "house": "1\\_%", "exact": "1_"}
    assert "ref_key LIKE :k0" in sql and "house LIKE :house" in sql
    assert parcel_search_sql([], [], None, 5)[0].endswith("WHERE FALSE")
    assert parcel_search_sql([], ["Rue A"], "50%", 3)[1]["house"] == "50\\%%"
