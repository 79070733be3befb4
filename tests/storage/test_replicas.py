"""Read replicas behind PgBouncer (issue #18): a primary, a streaming replica made with ``pg_basebackup -R``, and
a PgBouncer in transaction pooling mode in front of each (``pg_replicated``, the ``[replicated]`` backend).

* Reads go to the replica: with its replay paused, a store that has not yet seen a write does not see it either
  (it reads the replica); once the store knows of the write (``refresh``), it is served at once from the
  primary while the replica lags, with one warning in the log; replay resumed, reads return to the replica.
* A publication through one app instance is served by another instance at once (default settings: the data
  generation is read on the primary at every request), and the other instance is back on the replica as soon as
  it has replayed the publication.
* An idle primary whose WAL insert position stands on a page header (past the end of the last record, which is
  all a replica replays) does not keep the reads on the primary: the router waits for the end of that record.
* The replica stopped in the middle of a stream of requests fails none of them (a warning; reads on the primary).
* Writes never reach the replica: its log never says "cannot execute ... in a read-only transaction".

Store-level behaviour on the same setup: ``test_store.py``, ``test_notes.py``, ``test_api.py``, ``test_tiles.py``,
``test_ogcapi.py`` and ``test_feature_queries.py`` run on the ``replicated`` backend too.
"""

from __future__ import annotations

import logging
import threading
import time
from datetime import date

import geopandas as gpd
import psycopg
import pytest
from support.tiny import _create_app

from gisportal.publishing.publication import publish_zones

pytestmark = pytest.mark.backends("replicated")

CRS = "EPSG:26191"


def replica_sql(pg_replicated, sql: str):
    """One statement on the replica itself (not through the bouncer)."""
    with psycopg.connect(pg_replicated.replica.url("postgres"), autocommit=True) as conn:
        cur = conn.execute(sql)
        return cur.fetchone()[0] if cur.description else None


def wait_replayed(pg_replicated, timeout: float = 20) -> None:
    """Until the replica has replayed everything the primary had written when asked."""
    # A synchronous commit first: the insert position then ends a record that is flushed and streamed (on an idle
    # primary it can stand past the last record, on a page header the replica never replays).
    target = pg_replicated.cluster.psql("SET synchronous_commit = on; SELECT txid_current(); "
                                        "SELECT pg_current_wal_insert_lsn()").strip().splitlines()[-1]
    deadline = time.monotonic() + timeout
    while replica_sql(pg_replicated, f"SELECT pg_last_wal_replay_lsn() >= '{target}'") is not True:
        assert time.monotonic() < deadline, "the replica did not catch up"
        time.sleep(0.05)


def parcels(tiny, ref: str, at: tuple) -> gpd.GeoDataFrame:
    return gpd.GeoDataFrame({"ref": [ref], "address": ["9 Rue Neuve"], "quarter": ["Neuf"]},
                            geometry=[tiny.box(*at)], crs=CRS)


def test_reads_go_to_the_replica_unless_it_lags(tiny_writable, tiny, pg_replicated, caplog):
    writer = tiny_writable.open_store()
    reader = tiny_writable.open_store()
    reader._router.max_lag_seconds = 0.3
    wait_replayed(pg_replicated)
    assert reader.parcel_by_ref("TF-1001/06") is not None
    assert not reader._router.choose().is_primary  # the replica has replayed everything the reader knows of
    replica_sql(pg_replicated, "SELECT pg_wal_replay_pause()")
    try:
        writer.put_parcels(parcels(tiny, "TF-5000/06", (0, 500, 10, 510)))
        # The reader has not seen the write: it reads the paused replica, which has not replayed it.
        assert reader.parcel_by_ref("TF-5000/06") is None
        # The writer knows its own write: the replica lags, so the primary answers.
        assert writer.parcel_by_ref("TF-5000/06").ref == "TF-5000/06"
        assert reader.refresh() is True  # now the reader knows of it too
        caplog.set_level(logging.WARNING, logger="gisportal.storage.postgis.replicas")
        time.sleep(0.4)
        for _ in range(3):
            assert reader.parcel_by_ref("TF-5000/06").ref == "TF-5000/06"
            assert [s.ref for s in reader.search("TF-5000")] == ["TF-5000/06"]
        assert reader._router.choose().is_primary
        lagging = [r for r in caplog.records if "lags more than" in r.getMessage()]
        assert len(lagging) == 1  # once, not per read
    finally:
        replica_sql(pg_replicated, "SELECT pg_wal_replay_resume()")
    wait_replayed(pg_replicated)
    time.sleep(0.1)  # past the probe interval
    assert not reader._router.choose().is_primary
    assert reader.parcel_by_ref("TF-5000/06").ref == "TF-5000/06"


def _zones(tiny, code: str) -> gpd.GeoDataFrame:
    return gpd.GeoDataFrame({"code": [code], "label_fr": [f"Zone {code}"], "label_ar": [f"المنطقة {code}"]},
                            geometry=[tiny.box(0, 0, 300, 100)], crs=CRS)


def test_publication_on_one_instance_is_served_by_another_at_once(tiny_writable, tiny, pg_replicated):
    # Default settings: the other instance has answered a request just before each publication.
    config = {**tiny_writable.settings, "rules_file": tiny.rules_file, "TESTING": True}
    one, other = _create_app(config), _create_app(config)
    assert other.extensions["gisportal"].settings.reload_check_seconds == 1.0
    client = other.test_client()

    def zone_codes() -> list[str]:
        response = client.get("/api/v1/notes", query_string={"ref": "TF-1003/06"})
        assert response.status_code == 200
        return [z["code"] for z in response.get_json()["zones"]]

    assert zone_codes() == ["B"]
    for code in ("A", "C", "B"):
        publish_zones(one.extensions["gisportal"].store, "tiny-plan", _zones(tiny, code), approval_act=f"v-{code}",
                      approved=date.today(), effective=date.today())
        assert zone_codes() == [code]  # at once, whether the replica has replayed the publication yet or not
    wait_replayed(pg_replicated)
    time.sleep(0.1)
    store = other.extensions["gisportal"].store
    assert zone_codes() == ["B"]
    assert not store._router.choose().is_primary  # and the replica serves it again once it has caught up


def _pad_wal_to_a_page_boundary(pg_replicated) -> int:
    """Non-transactional logical messages on the primary until its last WAL record ends exactly at the end of a
    page; the insert position then stands past the next page's header. Returns that position (a number)."""
    page, message_overhead = 8192, 55  # record header 24, long data header 5, message header 24, prefix "p\0"
    with psycopg.connect(pg_replicated.cluster.url("postgres"), autocommit=True) as conn:
        def insert() -> int:
            return conn.execute("SELECT pg_wal_lsn_diff(pg_current_wal_insert_lsn(), '0/0')::bigint").fetchone()[0]

        for _ in range(50):  # another backend's WAL in between makes an attempt miss: try again
            remaining = page - insert() % page
            if remaining < 512:  # too close for one message with a long data header: move on first
                conn.execute("SELECT pg_logical_emit_message(false, 'p', repeat('x', 1024))")
                continue
            conn.execute("SELECT pg_logical_emit_message(false, 'p', repeat('x', %s))",
                         (remaining - message_overhead,))
            position = insert()
            if position % page in (24, 40):  # just past a short (or a segment's long) page header
                return position
    raise AssertionError("could not end the WAL on a page boundary")


def test_an_idle_primary_does_not_keep_reads_on_the_primary(tiny_writable, tiny, pg_replicated):
    writer, reader = tiny_writable.open_store(), tiny_writable.open_store()
    writer.put_parcels(parcels(tiny, "TF-5001/06", (0, 600, 10, 610)))
    insert = _pad_wal_to_a_page_boundary(pg_replicated)
    assert reader.refresh() is True  # the reader learns of the write (and of the primary's WAL position)
    deadline = time.monotonic() + 20
    while reader._router.choose().is_primary:
        assert time.monotonic() < deadline, "reads stayed on the primary while it was idle"
        time.sleep(0.05)
    # What the reads waited for is the end of the last record, short of the insert position (on a page header,
    # which no replica replays to): that one would have kept the reads on the primary while nothing was written.
    assert reader._router.needed < insert
    assert reader.parcel_by_ref("TF-5001/06").ref == "TF-5001/06"  # from the replica


def test_replica_stopped_mid_run_fails_no_request(tiny, pg_replicated, caplog):
    app = _create_app({**tiny.settings, "rules_file": tiny.rules_file, "TESTING": True,
                       "database_read_retry_seconds": 60})
    client = app.test_client()
    router = app.extensions["gisportal"].store._router
    paths = ["/api/v1/notes?ref=TF-1001/06", "/api/v1/notes?ref=TF-1001/06&format=html", "/api/v1/search?q=TF-100",
             "/tiles/zones/15/15852/12897.pbf", "/tiles/parcels/15/15852/12897.pbf", "/api/v1/parcels?ref=TF-1002/06"]
    statuses: list[tuple[str, int]] = []
    slowest = 0.0

    def one_round() -> None:
        nonlocal slowest
        for path in paths:
            started = time.monotonic()
            statuses.append((path, client.get(path).status_code))
            slowest = max(slowest, time.monotonic() - started)

    wait_replayed(pg_replicated)
    time.sleep(0.1)
    one_round()
    assert not router.choose().is_primary  # the replica serves the reads before it stops
    caplog.set_level(logging.WARNING, logger="gisportal.storage.postgis.replicas")
    stopper = threading.Thread(target=pg_replicated.replica.stop, args=("immediate",))
    try:
        stopper.start()
        while stopper.is_alive():  # while it stops
            one_round()
        stopper.join()
        one_round()  # and once it is down
        one_round()
    finally:
        stopper.join()
        pg_replicated.replica.start()
    assert len(statuses) >= 4 * len(paths)
    assert [s for s in statuses if s[1] != 200] == []
    # The reads waiting for the replica when it went down wait for PgBouncer's query_wait_timeout (2 s, checked
    # about once a second), not for its default 120 s: a bound with room for a loaded machine.
    assert slowest < 10
    assert any("skipped" in r.getMessage() for r in caplog.records)
    assert router.choose().is_primary  # left aside for database_read_retry_seconds


def test_writes_never_reached_the_replica(pg_replicated):
    """Runs after the others of this module (and of test_store.py when run together)."""
    log = pg_replicated.replica.log()
    assert "database system is ready to accept read-only connections" in log  # the log is the replica's
    assert "read-only transaction" not in log


def test_replica_settings_from_the_environment(monkeypatch, tiny_writable, pg_replicated):
    from gisportal.core.settings import load_settings

    monkeypatch.setenv("GISPORTAL_DATABASE_READ_URLS", " postgresql://r1:6432/gp , postgresql://r2:6432/gp,")
    monkeypatch.setenv("GISPORTAL_DATABASE_TRANSACTION_POOLING", "true")
    settings = load_settings()
    assert settings.database_read_urls == ["postgresql://r1:6432/gp", "postgresql://r2:6432/gp"]
    assert settings.database_transaction_pooling is True
    # Behind PgBouncer in transaction mode, psycopg prepares nothing on the server (on no connection of the store).
    store = tiny_writable.open_store()
    wait_replayed(pg_replicated)  # the new database is on the replica too
    for server in (store._router.primary, *store._router.replicas):
        item = server.reads.get()
        assert item[0].prepare_threshold is None
        server.reads.put(item)
    with store.engine.connect() as conn:
        assert conn.connection.driver_connection.prepare_threshold is None
