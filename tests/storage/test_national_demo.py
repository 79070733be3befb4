"""The national-size demo city streamed into PostGIS (issue #18): the same city as the in-memory demo.

``gisportal demo`` on PostGIS streams the city chunk by chunk from ``STREAM_FROM`` parcels up (lowered here to
1,000, chunks of 300 parcels: several bands of quarters). Against the same 2,000-parcel city loaded in memory by
``load_demo`` into another database: the same rows (parcels with their keys, streets and house numbers, zones,
overlays, search places, metadata), and the same notes through the app, one of them checked by hand.
"""

from __future__ import annotations

import json

import pytest
import shapely
from click.testing import CliRunner
from support.instances import new_instance
from support.tiny import _create_app, clear_gisportal_env

import gisportal.demo.national as national
from gisportal.cli.commands import main
from gisportal.demo.city import generate_demo_city
from gisportal.demo.load import load_demo
from gisportal.storage.postgis.bulk import put_parcel_chunks

N = 2000
PARCEL_ROWS = ("SELECT md5(string_agg(concat_ws('|', id, ref, ref_key, address, quarter, street, house, "
               "encode(ST_AsEWKB(geom), 'hex')), ',' ORDER BY id)), count(*) FROM gp_parcels")
LAYER_ROWS = {t: f"SELECT md5(string_agg(concat_ws('|', {cols}, encode(ST_AsEWKB(geom), 'hex')), ',' ORDER BY id)) "
                 f"FROM {t}" for t, cols in (("gp_zones", "version_id, code, label_fr, label_ar"),
                                            ("gp_overlays", "version_id, kind, label_fr, provision_ar, max_height_m"))}


@pytest.fixture(scope="module")
def cities(request, tmp_path_factory):
    """(in memory, streamed): the same city in two databases; the second made by ``gisportal demo``."""
    memory = new_instance(request, "postgis", tmp_path_factory.mktemp("demo-memory"))
    store = memory.open_store()
    load_demo(store, N)
    store.close()
    streamed = new_instance(request, "postgis", tmp_path_factory.mktemp("demo-streamed"))
    with pytest.MonkeyPatch.context() as mp:
        clear_gisportal_env(mp)
        for key, value in streamed.env.items():
            mp.setenv(key, value)
        mp.setattr(national, "STREAM_FROM", 1000)
        mp.setattr(national, "CHUNK_PARCELS", 300)
        calls: list[int] = []
        real = national.put_parcel_chunks
        mp.setattr(national, "put_parcel_chunks", lambda s, chunks: real(s, (calls.append(1) or c for c in chunks)))
        result = CliRunner().invoke(main, ["demo", "--parcels", str(N)])
    assert result.exit_code == 0, (result.output, result.exception)
    assert len(calls) >= 3  # streamed, in several chunks (bands of quarters)
    return memory, streamed, json.loads(result.output.strip().splitlines()[-1])


def test_the_streamed_city_has_the_same_rows(cities):
    memory, streamed, counts = cities
    expected = len(generate_demo_city(N).parcels)
    assert counts["parcels"] == expected and abs(expected - N) <= 0.03 * N and counts["plan_versions"] == 2
    assert streamed.sql(PARCEL_ROWS) == memory.sql(PARCEL_ROWS)
    for statement in LAYER_ROWS.values():
        assert streamed.sql(statement) == memory.sql(statement)
    places = "SELECT kind, label, round(x::numeric, 6), round(y::numeric, 6) FROM gp_places ORDER BY kind, label"
    assert streamed.sql(places) == memory.sql(places) and len(memory.sql(places)) > 10
    meta = "SELECT key, value FROM gp_meta WHERE key <> 'generation' ORDER BY key"

    def values(rows: list[tuple]) -> dict:  # the Arabic names: JSON objects, in any order
        return {key: json.loads(value) if value.startswith("{") else value for key, value in rows}

    assert values(streamed.sql(meta)) == values(memory.sql(meta))


def test_a_note_through_the_app_checked_by_hand(cities):
    memory, streamed, _ = cities
    city = generate_demo_city(N)
    zones_2023 = city.versions[1].zones  # in force today
    # A parcel inside one zone of 2023 and clear of every overlay: its note is that zone on the whole parcel.
    overlays = shapely.union_all(city.versions[1].overlays.geometry.values)
    inside = [(i, code) for i, geom in enumerate(city.parcels.geometry.values[:800])
              for code, zone in zip(zones_2023["code"], zones_2023.geometry.values, strict=True)
              if zone.contains(geom) and not overlays.intersects(geom)]
    i, code = inside[len(inside) // 2]
    parcel = city.parcels.iloc[i]
    sides = shapely.get_coordinates(parcel.geometry)  # a rotated rectangle: the product of two sides' lengths
    by_hand = float(shapely.Point(sides[0]).distance(shapely.Point(sides[1]))
                    * shapely.Point(sides[1]).distance(shapely.Point(sides[2])))
    notes = []
    for instance in (streamed, memory):
        client = _create_app({**instance.settings, "TESTING": True}).test_client()
        response = client.get(f"/api/v1/notes?ref={parcel['ref']}")
        assert response.status_code == 200, response.get_data(as_text=True)[:300]
        data = response.get_json()
        data.pop("generated_at", None)
        for part in data["zones"] + data["plans"]:  # the library's documents: only the command line adds them
            part.pop("documents", None)
        notes.append(data)
    note = notes[0]
    assert note == notes[1]
    assert note["parcel"]["ref"] == parcel["ref"] and note["parcel"]["address"] == parcel["address"]
    assert note["parcel"]["area_m2"] == pytest.approx(by_hand, abs=0.01)
    assert [(z["code"], z["share"]) for z in note["zones"]] == [(code, pytest.approx(1.0))]
    assert note["overlays"] == []


def test_a_streamed_load_fills_only_an_empty_table(cities, request, tmp_path):
    _, streamed, _ = cities
    store = streamed.open_store()
    with pytest.raises(Exception, match="already holds parcels"):
        put_parcel_chunks(store, [])
    copy = new_instance(request, "postgis", tmp_path)
    empty = copy.open_store()
    with pytest.raises(Exception, match="no CRS yet"):
        put_parcel_chunks(empty, [])
