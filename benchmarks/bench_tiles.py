"""Vector tiles: pre-built (embedded) vs ST_AsMVT, our tileset build vs tippecanoe, our tile server vs TiPg.

0. PMTiles build (issue #18). Ours: ``archives.write_archives`` on the embedded city: the features of the
   versions in force of the three layers, streamed as GeoJSONSeq in WGS84 into tippecanoe's standard input
   (``tilesets.stream_tippecanoe``) writing PMTiles. Peer: the same tippecanoe command alone writing the same
   PMTiles from GeoJSONSeq files prepared beforehand (untimed). ``--pmtiles-rounds`` alternating runs, medians.
   Needs no PostgreSQL (``--skip build,read,http`` runs it alone). Target: <= 1.5x.
1. Tileset build (embedded store, at publication or on first use). Ours: the first ``EmbeddedStore.tile()`` of
   each layer with an empty tile directory: the layer's features (versions in force), streamed as GeoJSONSeq
   in WGS84 into tippecanoe (``tilesets.stream_tippecanoe``) writing an MBTiles file. Peer: the same
   tippecanoe command alone, on a GeoJSONSeq file of the same features. Target: <= 1.5x.
2. Tile from the pre-built tileset. Ours: ``EmbeddedStore.tile(layer, z, x, y, versions)`` (the MBTiles
   found by content key, the tile read with SQLite). Peer: the bare ``ST_AsMVT`` query of the PostGIS store
   (``postgis_sql.TILE_SQL``, psycopg) for the same tile of the PostGIS city. Target: median per-tile <= 3x.
3. Tile server over HTTP. Ours: ``gisportal serve --workers 2`` (gunicorn) on the PostGIS city,
   ``/tiles/{layer}/{z}/{x}/{y}.pbf``. Peer: TiPg (PyPI ``tipg``; FastAPI + asyncpg, ``ST_AsMVT`` per request,
   no tile cache) under uvicorn with 2 workers, on the same database and tables:
   ``/collections/public.gp_{layer}/tiles/WebMercatorQuad/{z}/{x}/{y}`` with the same attribute
   (``properties=``), the same plan version filter and TiPg's tile buffer set to ours (64). One request at a
   time, a new connection each (gunicorn's sync workers close them), ours and TiPg alternating tile by tile;
   the tiles' features are compared. Then ``wrk`` on each for a few seconds (informative). Target: ours
   faster (median per-tile ratio < 1).

Tiles: z14-z16 under parcels sampled with a fixed seed, each layer at the zooms it is drawn at.
TiPg reads a table's SRID from its column type; the store's columns are declared without one
(``geometry(MultiPolygon)``), so for the run the type modifier is set in the catalogue to the SRID every
row already has (no rewrite; ``pg_attribute.atttypmod``) and put back afterwards.
"""

from __future__ import annotations

import argparse
import http.client
import importlib.util
import json
import os
import shutil
import subprocess
import sys
import time
from datetime import date
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import (  # noqa: E402
    data_dir,
    ensure_city,
    ensure_data,
    free_port,
    machine,
    parser,
    postgis_env,
    postgres,
    sample_tiles,
    start_gisportal,
    start_server,
    stop_server,
    verdict,
    wait_for_http,
    write_results,
)
from bench_postgis import Bare, timed_pairs  # noqa: E402

from gisportal.storage.embedded.store import EmbeddedStore  # noqa: E402
from gisportal.zoning.archives import ARCHIVE_LAYERS, write_archives  # noqa: E402
from gisportal.zoning.plans import versions_in_force  # noqa: E402
from gisportal.zoning.tiles import LAYER_ZOOMS, TILE_LAYERS  # noqa: E402
from gisportal.zoning.tilesets import (  # noqa: E402
    TILE_ATTRIBUTES,
    TileCache,
    run_tippecanoe,
    tippecanoe_command,
    write_geojsonseq,
)

BUILD_TARGET = 1.5
READ_TARGET = 3.0
TABLES = {layer: f"gp_{layer}" for layer in TILE_LAYERS}


def build_tilesets(store: EmbeddedStore, versions: list[int], work: Path) -> dict:
    """Ours (first ``store.tile()`` per layer into an empty directory) and tippecanoe alone on the same file."""
    cache_dir = work / "tiles"
    shutil.rmtree(work, ignore_errors=True)
    cache_dir.mkdir(parents=True)
    store._tiles = TileCache(cache_dir)  # the store builds into this empty directory
    out: dict = {}
    for i, layer in enumerate(("zones", "overlays", "parcels")):
        low = LAYER_ZOOMS[layer][0]
        rec: dict = {}

        # (each step runs within its own iteration: the defaults bind this layer's values all the same)
        def ours(layer: str = layer, low: int = low, rec: dict = rec) -> None:
            started = time.perf_counter()
            store.tile(layer, low, 0, 0, versions)
            rec["ours_s"] = time.perf_counter() - started

        def peer(layer: str = layer, rec: dict = rec) -> None:
            source = work / f"{layer}.geojsonl"
            started = time.perf_counter()
            frame = store.features(layer, versions if layer != "parcels" else None, None)
            rec["features"] = write_geojsonseq(frame, layer, source)
            rec["export_s"] = time.perf_counter() - started
            started = time.perf_counter()
            done = subprocess.run(tippecanoe_command(layer, work / f"{layer}-peer.mbtiles", source),
                                  capture_output=True, text=True)
            rec["tippecanoe_s"] = time.perf_counter() - started
            if done.returncode != 0:
                raise RuntimeError(f"tippecanoe failed: {done.stderr[-2000:]}")
            rec["geojsonseq_mb"] = round(source.stat().st_size / 2**20, 1)
            source.unlink()

        for step in ((ours, peer) if i % 2 == 0 else (peer, ours)):
            step()
        rec["ratio"] = rec["ours_s"] / rec["tippecanoe_s"]
        built = sorted(cache_dir.glob(f"{layer}-*.mbtiles"))
        rec["mbtiles_mb"] = round(built[0].stat().st_size / 2**20, 1)
        rec["same_tile_count"] = _tile_count(built[0]) == _tile_count(work / f"{layer}-peer.mbtiles")
        (work / f"{layer}-peer.mbtiles").unlink()
        out[layer] = rec
        print(f"build {layer}: ours {rec['ours_s']:.1f} s; peer: export {rec['export_s']:.1f} s (not in the "
              f"peer's time), tippecanoe {rec['tippecanoe_s']:.1f} s; {rec['ratio']:.2f}x; "
              f"{rec['features']} features, {rec['mbtiles_mb']} MB", flush=True)
    return out


def _tile_count(path: Path) -> int:
    import sqlite3

    db = sqlite3.connect(path)
    try:
        return db.execute("SELECT count(*) FROM tiles").fetchone()[0]
    finally:
        db.close()


def pmtiles_build(store: EmbeddedStore, work: Path, rounds: int = 1) -> dict:
    """Ours: ``archives.write_archives`` (features of the versions in force streamed as GeoJSONSeq into
    tippecanoe writing PMTiles, the three layers). Peer: tippecanoe alone writing the same PMTiles from
    GeoJSONSeq files prepared beforehand (not timed). Alternating, ``rounds`` times; medians."""
    versions = sorted(v.id for v in versions_in_force(store.plan_versions(), date.today()))
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    sources = {}
    for layer in ARCHIVE_LAYERS:
        sources[layer] = work / f"{layer}.geojsonl"
        write_geojsonseq(store.features(layer, versions, None), layer, sources[layer])
    ours, peer, counts = [], [], {}
    for i in range(rounds):
        def run_ours() -> None:
            started = time.perf_counter()
            counts.update(write_archives(store, work / "ours"))
            ours.append(time.perf_counter() - started)

        def run_peer() -> None:
            started = time.perf_counter()
            for layer in ARCHIVE_LAYERS:
                run_tippecanoe(sources[layer], layer, work / f"{layer}-peer.pmtiles")
            peer.append(time.perf_counter() - started)

        for step in ((run_ours, run_peer) if i % 2 == 0 else (run_peer, run_ours)):
            step()
        print(f"PMTiles build, round {i + 1}: ours {ours[-1]:.1f} s, tippecanoe alone {peer[-1]:.1f} s: "
              f"{ours[-1] / peer[-1]:.2f}x", flush=True)
    sizes = {layer: [round((work / "ours" / archive_name).stat().st_size / 2**20, 1),
                     round((work / f"{layer}-peer.pmtiles").stat().st_size / 2**20, 1)]
             for layer in ARCHIVE_LAYERS for archive_name in [f"{layer}.pmtiles"]}
    o, t = float(np.median(ours)), float(np.median(peer))
    shutil.rmtree(work, ignore_errors=True)
    return {"features": counts, "rounds": rounds, "ours_s": round(o, 1), "tippecanoe_s": round(t, 1),
            "ours_runs_s": [round(v, 1) for v in ours], "tippecanoe_runs_s": [round(v, 1) for v in peer],
            "ratio": round(o / t, 2), "archive_mb_ours_peer": sizes, "target_met": o / t <= BUILD_TARGET}


def publish_tiles(cache_dir: Path, n_parcels: int) -> None:
    """Put the tilesets just built where ``gisportal serve`` on the embedded city looks for them (same names:
    the content key does not depend on the directory), replacing older ones (bench_load.py uses them)."""
    target = data_dir(n_parcels) / "tiles"
    target.mkdir(exist_ok=True)
    for built in cache_dir.glob("*.mbtiles"):
        layer = built.name.split("-", 1)[0]
        for old in target.glob(f"{layer}-*.mbtiles"):
            if old.name != built.name:
                old.unlink()
        if not (target / built.name).exists():
            shutil.copy2(built, target / (built.name + ".tmp"))
            os.replace(target / (built.name + ".tmp"), target / built.name)


# --- TiPg ---------------------------------------------------------------------------------------------------

def set_srid_typmod(url: str, srid: int | None) -> None:
    """Declare (``srid``) or undeclare (None) the SRID of the three geometry columns in the catalogue."""
    import psycopg

    with psycopg.connect(url, autocommit=True) as conn:
        typmod = -1
        if srid is not None:
            conn.execute(f"CREATE TEMP TABLE typmod_probe (g geometry(MultiPolygon, {int(srid)}))")
            typmod = conn.execute("SELECT atttypmod FROM pg_attribute WHERE attrelid = 'typmod_probe'::regclass "
                                  "AND attname = 'g'").fetchone()[0]
        for table in TABLES.values():
            conn.execute("UPDATE pg_attribute SET atttypmod = %s WHERE attrelid = %s::regclass AND attname = 'geom'",
                         (typmod, table))


def tipg_env(url: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("GISPORTAL_", "TIPG_"))}
    env.update({"DATABASE_URL": url, "TIPG_DB_TABLES": json.dumps([f"public.{t}" for t in TABLES.values()]),
                "TIPG_DB_SCHEMAS": '["public"]', "TIPG_TILE_BUFFER": "64", "TIPG_MAX_FEATURES_PER_TILE": "1000000",
                "TIPG_CATALOG_TTL": "0", "TIPG_DB_SPATIAL_EXTENT": "false", "TIPG_DB_DATETIME_EXTENT": "false",
                "TIPG_DB_MAX_CONN_SIZE": "10"})
    return env


def tile_paths(tiles: list[tuple], versions: list[int]) -> dict[str, list[str]]:
    """Request paths of each tile on our server and on TiPg."""
    ours, tipg = [], []
    for layer, z, x, y in tiles:
        ours.append(f"/tiles/{layer}/{z}/{x}/{y}.pbf")
        query = f"properties={TILE_ATTRIBUTES[layer][0]}"
        if layer != "parcels":
            query += (f"&version_id={versions[0]}" if len(versions) == 1 else
                      "&filter=" + "version_id IN (" + ",".join(map(str, versions)) + ")")
        tipg.append(f"/collections/public.{TABLES[layer]}/tiles/WebMercatorQuad/{z}/{x}/{y}?{query}")
    return {"ours": ours, "tipg": tipg}


def http_get(port: int, path: str) -> tuple[int, bytes]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    try:
        conn.request("GET", path)
        response = conn.getresponse()
        return response.status, response.read()
    finally:
        conn.close()


def run_wrk(port: int, paths: list[str], work: Path, name: str, duration: float) -> dict:
    from bench_http import run_wrk as wrk

    file = work / f"paths-{name}.txt"
    file.write_text("\n".join(paths) + "\n")
    out = wrk(port, file, duration, 2, 8)
    return {k: out[k] for k in ("requests", "req_per_s", "latency_us", "ok_2xx", "other_non_2xx", "socket_errors")}


def compare_servers(url: str, n_parcels: int, tiles: list[tuple], versions: list[int], rounds: int,
                    wrk_seconds: float, work: Path) -> dict:
    ports = {"tipg": free_port()}
    paths = tile_paths(tiles, versions)
    servers = {}
    try:
        ours = start_gisportal(postgis_env(n_parcels, url), work / "ours.log")
        servers["ours"], ports["ours"] = ours.proc, ours.port
        servers["tipg"] = start_server([sys.executable, "-m", "uvicorn", "tipg.main:app", "--host", "127.0.0.1",
                                        "--port", str(ports["tipg"]), "--workers", "2", "--no-access-log",
                                        "--log-level", "warning"], tipg_env(url), work / "tipg.log")
        ready = {"ours": round(ours.wait(timeout=300), 2),
                 "tipg": round(wait_for_http(servers["tipg"], f"http://127.0.0.1:{ports['tipg']}/healthz", 300), 2)}
        differ, failures = 0, 0
        for i in range(len(tiles)):
            a, b = http_get(ports["ours"], paths["ours"][i]), http_get(ports["tipg"], paths["tipg"][i])
            if a[0] != 200 or b[0] != 200:
                failures += 1
                print(f"  status ours {a[0]}, tipg {b[0]} for {tiles[i]}: {b[1][:200]!r}", flush=True)
            elif not same_features(a[1], b[1]):
                differ += 1
        print(f"HTTP: servers ready ({ready}); features differ on {differ} of {len(tiles)} tiles, "
              f"{failures} failures", flush=True)
        calls = {name: (lambda i, name=name: http_get(ports[name], paths[name][i])) for name in ("ours", "tipg")}
        times = timed_pairs(calls, [(i,) for i in range(len(tiles))], rounds, 10)
        wrk = {name: run_wrk(ports[name], paths[name], work, name, wrk_seconds) for name in ("tipg", "ours")} \
            if wrk_seconds > 0 else {}
    finally:
        for proc in servers.values():
            stop_server(proc)
    t_ours = np.median(times["ours"], axis=0) * 1000
    t_tipg = np.median(times["tipg"], axis=0) * 1000
    return {"ready_s": ready, "features_differ": differ, "failures": failures, "rounds": rounds,
            "ours_median_ms": round(float(np.median(t_ours)), 2), "tipg_median_ms": round(float(np.median(t_tipg)), 2),
            "ratio": round(float(np.median(t_ours / t_tipg)), 3), "groups": groups(tiles, t_ours, t_tipg),
            "wrk": wrk}


def same_features(ours: bytes, tipg: bytes) -> bool:
    """Same features (geometry + attributes), whatever the layer names (TiPg's is "default")."""
    import mapbox_vector_tile

    def features(data: bytes) -> list[str]:
        return sorted(json.dumps({"g": f["geometry"], "p": f["properties"]}, sort_keys=True)
                      for layer in mapbox_vector_tile.decode(data).values() for f in layer["features"])

    return features(ours) == features(tipg)


def groups(tiles: list[tuple], a: np.ndarray, b: np.ndarray) -> dict:
    out = {}
    for key in sorted({(t[0], t[1]) for t in tiles}):
        idx = [i for i, t in enumerate(tiles) if (t[0], t[1]) == key]
        out[f"{key[0]} z{key[1]}"] = {"tiles": len(idx), "ours_ms": round(float(np.median(a[idx])), 3),
                                      "peer_ms": round(float(np.median(b[idx])), 3),
                                      "ratio": round(float(np.median(a[idx] / b[idx])), 3)}
    return out


def postgres_parts(args: argparse.Namespace, skip: set[str], gpkg: Path, work: Path, results: dict) -> None:
    """Parts 1-3, beside the PostGIS city (``results`` filled in)."""
    with postgres() as server:
        url, loaded = ensure_city(server, args.parcels)
        if loaded:
            results["import_all"] = loaded
        tiles = sample_tiles(url, args.tiles)
        results["tiles"] = len(tiles)
        started = time.perf_counter()
        store = EmbeddedStore(gpkg)
        print(f"embedded store loaded in {time.perf_counter() - started:.1f} s", flush=True)
        versions = sorted(v.id for v in versions_in_force(store.plan_versions(), date.today()))
        results["parcels"] = store.counts()["parcels"]
        crs = server.execute("SELECT value FROM gp_meta WHERE key = 'crs'", url.rsplit("/", 1)[1])[0][0]
        bare = Bare(url, int(crs.split(":")[1]), versions)
        if "build" not in skip:
            build = build_tilesets(store, versions, work)
            total_ours = sum(r["ours_s"] for r in build.values())
            total_peer = sum(r["tippecanoe_s"] for r in build.values())
            results["build"] = {"layers": build, "ours_s": round(total_ours, 2), "tippecanoe_s": round(total_peer, 2),
                                "ratio": round(total_ours / total_peer, 3),
                                "target_met": total_ours / total_peer <= BUILD_TARGET}
            publish_tiles(work / "tiles", args.parcels)
        else:
            store._tiles = TileCache(data_dir(args.parcels) / "tiles")  # built beforehand (or now, untimed)
        if "read" not in skip:
            calls = {"ours": lambda layer, z, x, y, s=store: s.tile(layer, z, x, y, versions), "bare": bare.tile}
            for t in tiles:  # the tilesets exist: nothing is built while timing
                store.tile(t[0], t[1], t[2], t[3], versions)
            times = timed_pairs(calls, tiles, args.rounds, 20)
            t_ours = np.median(times["ours"], axis=0) * 1000
            t_bare = np.median(times["bare"], axis=0) * 1000
            ratio = float(np.median(t_ours / t_bare))
            results["read"] = {"ours_median_ms": round(float(np.median(t_ours)), 3),
                               "bare_median_ms": round(float(np.median(t_bare)), 3), "ratio": round(ratio, 3),
                               "groups": groups(tiles, t_ours, t_bare), "target_met": ratio <= READ_TARGET}
        bare.conn.close()
        del store
        missing = [m for m in ("tipg", "uvicorn") if importlib.util.find_spec(m) is None]
        if "http" not in skip and missing:
            print(f"TiPg comparison skipped: {' and '.join(missing)} not installed "
                  "(.venv/bin/pip install tipg uvicorn; see benchmarks/README.md)", flush=True)
            results["http_skipped"] = f"not installed: {', '.join(missing)}"
        elif "http" not in skip:
            set_srid_typmod(url, bare.srid)
            try:
                h = compare_servers(url, args.parcels, tiles, versions, args.rounds, args.wrk_seconds, work)
            finally:
                set_srid_typmod(url, None)
            h["target_met"] = h["ratio"] < 1 and h["failures"] == 0
            results["http"] = h


def main() -> dict:
    p = parser(__doc__.splitlines()[0])
    p.add_argument("--tiles", type=int, default=25, help="tiles per layer and zoom (default 25)")
    p.add_argument("--rounds", type=int, default=3, help="times each tile is asked, per side (default 3)")
    p.add_argument("--wrk-seconds", type=float, default=8, help="wrk load per server, informative (default 8)")
    p.add_argument("--pmtiles-rounds", type=int, default=1, help="PMTiles builds per side (default 1)")
    p.add_argument("--skip", default="", help="comma-separated parts to skip: pmtiles, build, read, http")
    args = p.parse_args()
    skip = set(filter(None, args.skip.split(",")))
    gpkg = ensure_data(args.parcels)
    work = data_dir(args.parcels) / "tiles-bench"
    results: dict = {"benchmark": "tiles", "machine": machine()}
    if "pmtiles" not in skip:  # the embedded store alone, before PostgreSQL starts
        results["pmtiles"] = pmtiles_build(EmbeddedStore(gpkg), work / "pmtiles", args.pmtiles_rounds)
    if not {"build", "read", "http"} <= skip:
        postgres_parts(args, skip, gpkg, work, results)
    shutil.rmtree(work / "tiles", ignore_errors=True)  # a copy is in benchmarks/.data/p<N>/tiles/

    print()
    if "pmtiles" in results:
        b = results["pmtiles"]
        print(f"PMTiles build (write_archives, 3 layers): ours {b['ours_s']:.1f} s, tippecanoe alone on GeoJSONSeq "
              f"{b['tippecanoe_s']:.1f} s: {b['ratio']:.2f}x  target <= {BUILD_TARGET}x: {verdict(b['target_met'])}")
    if "build" in results:
        b = results["build"]
        print(f"tileset build: ours {b['ours_s']:.1f} s, tippecanoe alone {b['tippecanoe_s']:.1f} s: {b['ratio']:.2f}x"
              f"  target <= {BUILD_TARGET}x: {verdict(b['target_met'])}")
    if "read" in results:
        r = results["read"]
        for key, g in r["groups"].items():
            print(f"  {key:<12} pre-built {g['ours_ms']:7.3f} ms  ST_AsMVT {g['peer_ms']:8.3f} ms  {g['ratio']:.3f}x")
        print(f"pre-built tile vs ST_AsMVT: {r['ours_median_ms']:.3f} ms vs {r['bare_median_ms']:.3f} ms, median "
              f"per-tile {r['ratio']:.3f}x  target <= {READ_TARGET}x: {verdict(r['target_met'])}")
    if "http" in results:
        h = results["http"]
        for key, g in h["groups"].items():
            print(f"  {key:<12} ours {g['ours_ms']:7.2f} ms  TiPg {g['peer_ms']:7.2f} ms  {g['ratio']:.2f}x")
        print(f"HTTP tile, ours vs TiPg: {h['ours_median_ms']:.2f} ms vs {h['tipg_median_ms']:.2f} ms, median per-tile "
              f"{h['ratio']:.2f}x  target < 1x: {verdict(h['target_met'])}")
        for name, w in h["wrk"].items():
            print(f"  wrk {name}: {w['req_per_s']:.0f} req/s, p50 {w['latency_us']['p50'] / 1000:.1f} ms, "
                  f"p99 {w['latency_us']['p99'] / 1000:.1f} ms, errors {w['other_non_2xx'] + w['socket_errors']}")
    write_results(args.json, results)
    return results


if __name__ == "__main__":
    main()
