"""PMTiles archives of the versions in force (issue #18), on both backends.

The archives are read back with the ``pmtiles`` Python library; every tile they hold is decoded and compared
with the dynamic tile of the same address (``/tiles/...``): the same features (zone codes, servitude kinds,
parcel references). Where the tiny territory falls on the tile grid: see ``test_tiles.py`` (z15 tile
15852/12897 holds all of it; at z16 it is cut between columns 31704 and 31705).
"""

from __future__ import annotations

import json
import time
from datetime import date

import geopandas as gpd
import mapbox_vector_tile
import pytest
import shapely
import shapely.geometry
from click.testing import CliRunner
from pmtiles.reader import MmapSource, Reader, all_tiles
from support.tiny import _create_app

from gisportal.publishing.publication import publish_zones
from gisportal.web.zoning.archives import manifest_generation
from gisportal.zoning.archives import write_archives
from gisportal.zoning.tiles import LAYER_ZOOMS

Z15 = (15, 15852, 12897)
ALL_REFS = {"TF-1001/06", "TF-1002/06", "TF-1003/06", "TF-1004/06", "TF-1005/06", "TF-1006/06", "TF-1007/06"}
KEY = {"zones": "code", "overlays": "kind", "parcels": "ref"}


def names(tile: bytes, layer: str) -> set[str]:
    """The attribute naming each feature of a decoded tile's layer that covers some of the tile itself (not
    only its buffer, which is 64/4096 of a tile in PostGIS and 5/256 in tippecanoe)."""
    decoded = mapbox_vector_tile.decode(tile).get(layer, {"features": [], "extent": 4096})
    square = shapely.box(0, 0, decoded["extent"], decoded["extent"])
    return {f["properties"][KEY[layer]] for f in decoded["features"]
            if shapely.geometry.shape(f["geometry"]).intersection(square).area > 1.0}


def read_archive(path) -> tuple[dict, dict]:
    """(header, {(z, x, y): tile}) of an archive, through the pmtiles library."""
    with open(path, "rb") as f:
        source = MmapSource(f)
        return Reader(source).header(), dict(all_tiles(source))


@pytest.fixture(scope="module")
def archives(tiny, tmp_path_factory):
    directory = tmp_path_factory.mktemp(f"archives-{tiny.backend}")
    store = tiny.open_store()
    counts = write_archives(store, directory)
    return directory, counts, store.generation()


def test_archives_hold_the_versions_in_force(archives, tiny_client):
    directory, counts, generation = archives
    # Version 2 is in force: zones A, B, C; servitudes road_widening, airport_easement, heritage; 7 parcels.
    assert counts == {"zones": 3, "overlays": 3, "parcels": 7}
    manifest = json.loads((directory / "manifest.json").read_text())
    assert manifest["generation"] == generation and manifest["features"] == counts
    for layer in ("zones", "overlays", "parcels"):
        header, tiles = read_archive(directory / f"{layer}.pmtiles")
        assert (header["min_zoom"], header["max_zoom"]) == LAYER_ZOOMS[layer]
        assert header["tile_type"].name == "MVT"
        assert {z for z, _x, _y in tiles} == set(range(LAYER_ZOOMS[layer][0], LAYER_ZOOMS[layer][1] + 1))
        # Every tile of the archive has the features of the dynamic tile at the same address; from zoom 15
        # (features many tile units wide) the very same ones. Lower, PostGIS drops polygons smaller than a
        # tile unit (the 5 m road widening at z10: 9.5 m a unit) where tippecanoe keeps them.
        for (z, x, y), tile in tiles.items():
            dynamic = tiny_client.get(f"/tiles/{layer}/{z}/{x}/{y}.pbf")
            assert dynamic.status_code == 200
            if z >= 15:
                assert names(tile, layer) == names(dynamic.data, layer), (layer, z, x, y)
            else:
                assert names(tile, layer) >= names(dynamic.data, layer), (layer, z, x, y)
        if layer == "zones":
            assert names(tiles[Z15], layer) == {"A", "B", "C"}
        if layer == "parcels":
            assert names(tiles[Z15], layer) == ALL_REFS


def test_cli_writes_the_archives(tiny, tmp_path):
    from gisportal.cli.commands import main

    result = CliRunner().invoke(main, ["write-tiles", "--to", str(tmp_path / "out")],
                                env={k: str(v) for k, v in tiny.instance.env.items()})
    assert result.exit_code == 0, result.output
    assert json.loads(result.output)["features"] == {"zones": 3, "overlays": 3, "parcels": 7}
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == [
        "manifest.json", "overlays.pmtiles", "parcels.pmtiles", "zones.pmtiles"]


def test_a_publication_rewrites_the_archives_and_the_map_names_them(tiny_writable, tiny, tmp_path):
    tiles_dir = tmp_path / "tiles"
    app = _create_app({**tiny_writable.settings, "rules_file": tiny.rules_file, "TESTING": True,
                       "tiles_dir": tiles_dir, "tiles_url": "http://127.0.0.1:9/archives/"})
    store = app.extensions["gisportal"].store
    # No archive yet: the map keeps the dynamic tiles.
    page = app.test_client().get("/").get_data(as_text=True)
    assert '"archives": null' in page and "pmtiles.js" in page
    zones = gpd.GeoDataFrame({"code": ["Z"], "label_fr": ["Zone Z"], "label_ar": ["المنطقة Z"]},
                             geometry=[tiny.box(0, 0, 300, 100)], crs="EPSG:26191")
    publish_zones(store, "tiny-plan", zones, approval_act="v3", approved=date.today(), effective=date.today())
    deadline = time.monotonic() + 60  # written off the request, by a thread
    while manifest_generation(tiles_dir) != store.generation():
        assert time.monotonic() < deadline, "the archives were not rewritten"
        time.sleep(0.1)
    _header, tiles = read_archive(tiles_dir / "zones.pmtiles")
    assert names(tiles[Z15], "zones") == {"Z"}
    page = app.test_client().get("/").get_data(as_text=True)
    assert '"archives": "http://127.0.0.1:9/archives/{layer}.pmtiles"' in page
    historical = app.test_client().get("/?as_of=2020-01-01").get_data(as_text=True)
    assert '"archives": null' in historical
