"""Issue #16: OGC API – Features items pages vs pygeoapi, and the full parcels GeoPackage download vs ogr2ogr.

1. Items page of 1,000 parcels (GeoJSON, ``limit=1000&offset=K``, the same offsets for both, each server with
   two gunicorn workers, requests one at a time, the two servers alternating). Ours: ``/ogc`` of
   ``gisportal serve`` on each backend. Peer: pygeoapi (PyPI) serving the very same parcels with its
   ``PostgreSQL`` provider over the PostGIS city's ``gp_parcels`` (loaded from the same GeoPackage). Its
   ``SQLiteGPKG`` provider cannot run here: it loads mod_spatialite, and this Python's sqlite3 has no
   ``enable_load_extension``. Target: ours <= 1.0x pygeoapi.
2. Full download of the parcels as GeoPackage: ours ``/api/v1/downloads/parcels.gpkg`` the first time (file
   written chunk by chunk, then streamed) and again (streamed from disk); peer: ``ogr2ogr -f GPKG`` writing the
   same parcels from the store (the GeoPackage file; the PostGIS table). Target: ours (first time) <= 1.5x
   ogr2ogr. The serving workers' resident memory is read before and after: streaming does not grow it.

    .venv/bin/python benchmarks/bench_ogcapi.py --parcels 200000
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import yaml

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import (  # noqa: E402
    VENV_BIN,
    bench_env,
    ensure_city,
    ensure_data,
    free_port,
    median,
    parser,
    postgis_env,
    postgres,
    start_gisportal,
    start_server,
    stop_server,
    verdict,
    vm_status,
    wait_for_http,
    write_results,
)

PAGE = 1000


def pygeoapi_config(work: Path, port: int, provider: dict[str, Any]) -> dict[str, str]:
    """Write pygeoapi's configuration and OpenAPI document; the environment that points pygeoapi at them."""
    config = {
        "server": {"bind": {"host": "127.0.0.1", "port": port}, "url": f"http://127.0.0.1:{port}",
                   "mimetype": "application/json; charset=UTF-8", "encoding": "utf-8", "language": "en-US",
                   "cors": False, "pretty_print": False, "limits": {"default_items": 100, "max_items": 10000},
                   "map": {"url": "https://tile.openstreetmap.org/{z}/{x}/{y}.png", "attribution": "OSM"}},
        "logging": {"level": "ERROR"},
        "metadata": {"identification": {"title": "bench", "description": "bench", "keywords": ["bench"],
                                        "keywords_type": "theme", "terms_of_service": "none", "url": "http://x"},
                     "license": {"name": "CC-BY 4.0", "url": "http://x"},
                     "provider": {"name": "bench", "url": "http://x"},
                     "contact": {"name": "bench", "position": "bench", "address": "x", "city": "x",
                                 "stateorprovince": "x", "postalcode": "x", "country": "x", "phone": "x",
                                 "fax": "x", "email": "x@x", "url": "http://x", "hours": "x",
                                 "instructions": "x", "role": "pointOfContact"}},
        "resources": {"parcels": {
            "type": "collection", "title": "parcels", "description": "parcels", "keywords": ["parcels"],
            "links": [], "extents": {"spatial": {"bbox": [-180, -90, 180, 90],
                                                 "crs": "http://www.opengis.net/def/crs/OGC/1.3/CRS84"}},
            "providers": [provider]}},
    }
    path = work / "pygeoapi.yml"
    path.write_text(yaml.safe_dump(config), encoding="utf-8")
    openapi = work / "pygeoapi-openapi.yml"
    env = {**os.environ, "PYGEOAPI_CONFIG": str(path), "PYGEOAPI_OPENAPI": str(openapi)}
    subprocess.run([str(VENV_BIN / "pygeoapi"), "openapi", "generate", str(path), "--output-file", str(openapi)],
                   check=True, env=env, capture_output=True)
    return env


def get(port: int, path: str) -> tuple[float, bytes]:
    """Seconds until ``path`` is answered whole (a download being prepared answers 503: asked again every 0.2 s)."""
    started = time.perf_counter()
    while True:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=600) as answer:
                body = answer.read()
            return time.perf_counter() - started, body
        except urllib.error.HTTPError as exc:
            if exc.code != 503:
                raise
            time.sleep(0.2)


def compare_pages(ports: dict[str, int], n_parcels: int, rounds: int) -> dict[str, Any]:
    """Median time of an items page of 1,000 parcels, ours and pygeoapi's, alternating."""
    import orjson

    offsets = [(i * 7919 * PAGE) % max(n_parcels - PAGE, 1) for i in range(rounds)]
    paths = {"ours": "/ogc/collections/parcels/items?limit=1000&offset={}&f=json",
             "pygeoapi": "/collections/parcels/items?limit=1000&offset={}&f=json"}
    for name in ports:  # warm up (first requests load modules, fill caches)
        get(ports[name], paths[name].format(0))
    times: dict[str, list[float]] = {name: [] for name in ports}
    same = True
    for offset in offsets:
        bodies = {}
        for name in ports:
            elapsed, bodies[name] = get(ports[name], paths[name].format(offset))
            times[name].append(elapsed)
        counts = {name: len(orjson.loads(body)["features"]) for name, body in bodies.items()}
        same = same and counts["ours"] == counts["pygeoapi"] == PAGE
    ours, peer = median(times["ours"]) * 1000, median(times["pygeoapi"]) * 1000
    return {"ours_median_ms": round(ours, 1), "pygeoapi_median_ms": round(peer, 1),
            "ratio": round(ours / peer, 3), "pages": rounds, "features_per_page": PAGE,
            "both_answered_1000_features": same, "target": "<= 1.0", "verdict": verdict(ours / peer <= 1.0)}


def workers_rss_mb(master: int) -> float:
    """Resident memory (MB) of the gunicorn workers of ``master``, summed."""
    children = Path(f"/proc/{master}/task/{master}/children")
    pids = children.read_text().split() if children.exists() else []
    return round(sum(vm_status(pid).get("VmRSS", 0) for pid in pids) / 1024, 1)


def compare_download(port: int, master: int, ogr_source: list[str], work: Path) -> dict[str, Any]:
    """The parcels GeoPackage: ours first (built, then streamed), ours again (streamed), ogr2ogr."""
    before = workers_rss_mb(master)
    first, body = get(port, "/api/v1/downloads/parcels.gpkg")
    after_first = workers_rss_mb(master)
    again, body2 = get(port, "/api/v1/downloads/parcels.gpkg")
    after_again = workers_rss_mb(master)
    target = work / "ogr2ogr.gpkg"
    started = time.perf_counter()
    subprocess.run(["ogr2ogr", "-f", "GPKG", str(target), *ogr_source], check=True, capture_output=True)
    peer = time.perf_counter() - started
    return {"ours_first_s": round(first, 2), "ours_again_s": round(again, 2), "ogr2ogr_s": round(peer, 2),
            "ratio_first": round(first / peer, 3), "ratio_again": round(again / peer, 3),
            "file_mb": round(len(body) / 2**20, 1), "ogr2ogr_file_mb": round(target.stat().st_size / 2**20, 1),
            "same_bytes_twice": body == body2,
            "workers_rss_mb": {"before": before, "after_first": after_first, "after_again": after_again},
            "target": "<= 1.5 (first)", "verdict": verdict(first / peer <= 1.5)}


def run_backend(name: str, env: dict[str, str], peer_port: int, ogr_source: list[str], n_parcels: int,
                rounds: int, work: Path) -> dict[str, Any]:
    """Ours on one backend against the running pygeoapi, then the download (files of earlier runs removed first)."""
    shutil.rmtree(Path(env["GISPORTAL_DATA_DIR"]) / "downloads", ignore_errors=True)
    server = start_gisportal(env, work / f"ours-{name}.log")
    port, ours = server.port, server.proc
    try:
        server.wait("/ogc", 600)
        print(f"[{name}] items pages of {PAGE} parcels ...", flush=True)
        pages = compare_pages({"ours": port, "pygeoapi": peer_port}, n_parcels, rounds)
        print(f"[{name}] {pages}", flush=True)
        print(f"[{name}] full GeoPackage download ...", flush=True)
        download = compare_download(port, ours.pid, ogr_source, work)
        print(f"[{name}] {download}", flush=True)
        return {"items_page": pages, "download_gpkg": download}
    finally:
        server.stop()


def main() -> None:
    p = parser(__doc__.splitlines()[0])
    p.add_argument("--rounds", type=int, default=15, help="items pages timed per server")
    p.add_argument("--backends", default="embedded,postgis")
    args = p.parse_args()
    store = ensure_data(args.parcels)
    results: dict[str, Any] = {"parcels": args.parcels, "peer": "pygeoapi PostgreSQL provider on gp_parcels"}
    with tempfile.TemporaryDirectory(prefix="bench-ogc-") as tmp, postgres() as server:
        work = Path(tmp)
        url, _info = ensure_city(server, args.parcels)
        db = url.rsplit("/", 1)[1]
        peer_port = free_port()
        provider = {"type": "feature", "name": "PostgreSQL", "id_field": "id", "table": "gp_parcels",
                    "geom_field": "geom", "data": {"host": "127.0.0.1", "port": server.port, "dbname": db,
                                                   "user": "postgres", "password": "", "search_path": ["public"]}}
        peer = start_server([str(VENV_BIN / "gunicorn"), "-w", "2", "-b", f"127.0.0.1:{peer_port}",
                             "pygeoapi.flask_app:APP"], pygeoapi_config(work, peer_port, provider),
                            work / "pygeoapi.log")
        try:
            wait_for_http(peer, f"http://127.0.0.1:{peer_port}/collections", 300)
            if "embedded" in args.backends:
                results["embedded"] = run_backend("embedded", bench_env(store.parent), peer_port,
                                                  [str(store), "parcels"], args.parcels, args.rounds, work)
            if "postgis" in args.backends:
                pg = f"PG:host=127.0.0.1 port={server.port} dbname={db} user=postgres"
                results["postgis"] = run_backend("postgis", postgis_env(args.parcels, url), peer_port,
                                                 [pg, "gp_parcels"], args.parcels, args.rounds, work)
        finally:
            stop_server(peer)
            print((work / "pygeoapi.log").read_text()[-2000:], flush=True)
    write_results(args.json, results)


if __name__ == "__main__":
    main()
