"""A national-size city in PostGIS (issue #18): lookups through the app under load, import beside ogr2ogr, memory.

For each size (``--sizes``, default 1,000,000 and ``--parcels``), on an empty database of the benchmarks'
PostgreSQL cluster (loopback port):

1. ``gisportal demo --parcels S`` (on PostGIS from 200,000 parcels up the city is streamed chunk by chunk:
   ``gisportal.demo.national``), wall clock and peak RSS of the process; sizes of the database, of
   ``gp_parcels`` and of its indexes.
2. ``gisportal serve --workers W`` (gunicorn) on it; request paths: the notes (``/api/v1/notes`` as JSON) of
   random parcels, half by reference, half by a point inside the parcel (parcels sampled by id, seed 2026);
   ``wrk`` for ``--warmup`` s, then ``--duration`` s: p50 / p99 latency, requests per second, errors (target 0).
   RSS and PSS of each worker after that warm load: the app holds no parcel, so it must not grow with S.
3. Once, at the first size of a million parcels or more: the import of 1,000,000 parcels from a GeoPackage
   (exported from that database with ``ogr2ogr``: reference, its key, address, quarter, geometry) into an
   empty database: ours (``PostgisStore.put_parcels`` in a fresh process, ``bench_import.run_ours``) vs
   ``ogr2ogr -f PostgreSQL`` with COPY and a GiST index (``run_ogr2ogr``, which then adds our two B-trees,
   timed apart), same file, same server, order alternating over ``--import-rounds``; ratio of the medians.

Each database is dropped after its size (disk), unless ``--keep``.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import quote

import numpy as np
import psycopg
from pyproj import Transformer

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import (  # noqa: E402
    DATA_ROOT,
    SEED,
    PgServer,
    bench_env,
    machine,
    median,
    parser,
    postgres,
    start_gisportal,
    verdict,
    write_results,
)
from bench_http import memory  # noqa: E402
from bench_import import run_ogr2ogr, run_ours  # noqa: E402
from bench_load import run_wrk  # noqa: E402

IMPORT_PARCELS = 1_000_000
IMPORT_TARGET = 1.5
#: Worker RSS at the largest size over that at the smallest: "not growing" allows the noise of a warm heap.
MEMORY_TARGET = 1.25

#: ``gisportal demo`` with the peak RSS of its process printed last (``ru_maxrss``, kB) on stderr.
DEMO = r"""
import resource, sys
from gisportal.cli.commands import main
try:
    main(["demo", "--parcels", sys.argv[1], "--force"])
finally:
    print(f"MAXRSS_KB {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss}", file=sys.stderr)
"""


def build_city(server: PgServer, size: int, work: Path) -> tuple[str, dict, dict[str, str]]:
    """An empty database ``national_p<S>`` filled by ``gisportal demo``: its URL, the figures, the environment."""
    db = f"national_p{size}"
    url = server.create(db)
    directory = work / f"p{size}"
    directory.mkdir(parents=True, exist_ok=True)
    env = bench_env(directory)
    env["GISPORTAL_DATABASE_URL"] = url
    env.pop("GISPORTAL_STORAGE", None)
    print(f"gisportal demo --parcels {size:_} into PostGIS ...", flush=True)
    started = time.perf_counter()
    done = subprocess.run([sys.executable, "-c", DEMO, str(size)], env=env, capture_output=True, text=True)
    elapsed = time.perf_counter() - started
    if done.returncode != 0:
        raise RuntimeError(f"gisportal demo failed:\n{done.stdout[-2000:]}\n{done.stderr[-4000:]}")
    maxrss = next(int(ln.split()[1]) for ln in done.stderr.splitlines() if ln.startswith("MAXRSS_KB "))
    counts = json.loads(done.stdout.strip().splitlines()[-1])
    (table, indexes, total), = server.execute(
        "SELECT pg_table_size('gp_parcels'), pg_indexes_size('gp_parcels'), pg_total_relation_size('gp_parcels')", db)
    info = {"demo_s": round(elapsed, 1), "demo_peak_rss_mb": round(maxrss / 1024), "counts": counts,
            "database_mb": server.size_mb(db), "parcels_table_mb": round(table / 2**20),
            "parcels_indexes_mb": round(indexes / 2**20), "parcels_total_mb": round(total / 2**20)}
    print(f"built in {elapsed:.0f} s, peak RSS {info['demo_peak_rss_mb']} MB, {counts['parcels']:_} parcels, "
          f"database {info['database_mb']:.0f} MB (parcels {info['parcels_total_mb']} MB)", flush=True)
    return url, info, env


def note_paths(url: str, out: Path, n: int) -> int:
    """A file of note requests for ``n`` random parcels, half by reference, half by a point in the parcel."""
    with psycopg.connect(url) as conn:
        lo, hi = conn.execute("SELECT min(id), max(id) FROM gp_parcels").fetchone()
        ids = np.random.default_rng(SEED).integers(lo, hi + 1, size=n).tolist()
        rows = conn.execute("SELECT ref, ST_X(p), ST_Y(p) FROM gp_parcels, ST_PointOnSurface(geom) p "
                            "WHERE id = ANY(%s)", (ids,)).fetchall()
        srid = conn.execute("SELECT value FROM gp_meta WHERE key = 'crs'").fetchone()[0]
    lon, lat = Transformer.from_crs(srid, "EPSG:4326", always_xy=True).transform(
        [r[1] for r in rows], [r[2] for r in rows])
    lines = [f"/api/v1/notes?ref={quote(r[0])}" if i % 2 else f"/api/v1/notes?lon={a:.7f}&lat={b:.7f}"
             for i, (r, a, b) in enumerate(zip(rows, lon, lat, strict=True))]
    out.write_text("\n".join(lines) + "\n")
    return len(lines)


def load_run(env: dict[str, str], paths: Path, args, log: Path) -> dict:
    """``gisportal serve`` on the city; ``wrk`` warm-up then the measured run; the workers' memory after it."""
    server = start_gisportal(env, log, args.workers)
    try:
        ready = server.wait()
        run_wrk(server.port, paths, args.warmup, args.threads, args.connections)
        result = run_wrk(server.port, paths, args.duration, args.threads, args.connections)
        mem = memory(server.proc.pid)
    finally:
        server.stop()
    workers = [v for k, v in mem.items() if k.startswith("worker")]
    out = {"ready_s": round(ready, 2), "req_per_s": round(result["req_per_s"], 1),
           "p50_ms": round(result["latency_us"]["p50"] / 1000, 1),
           "p99_ms": round(result["latency_us"]["p99"] / 1000, 1),
           "requests": result["requests"], "errors": result["errors_total"], "statuses": result["statuses"],
           "worker_rss_mb": [w["rss_mb"] for w in workers], "worker_pss_mb": [w["pss_mb"] for w in workers],
           "memory": mem}
    print(f"  {out['req_per_s']} req/s, p50 {out['p50_ms']} ms, p99 {out['p99_ms']} ms, {out['errors']} errors; "
          f"worker RSS {out['worker_rss_mb']} MB", flush=True)
    return out


def import_compare(server: PgServer, url: str, work: Path, rounds: int) -> dict:
    """1,000,000 parcels of the city to a GeoPackage, then ours vs ogr2ogr from it, alternating."""
    gpkg = work / "parcels-1m.gpkg"
    gpkg.unlink(missing_ok=True)
    pg = f"PG:host=127.0.0.1 port={server.port} user=postgres dbname={url.rsplit('/', 1)[1]}"
    subprocess.run(["ogr2ogr", "-f", "GPKG", str(gpkg), pg, "-nln", "parcels", "-sql",
                    f"SELECT ref, ref_key, address, quarter, geom FROM gp_parcels ORDER BY id LIMIT {IMPORT_PARCELS}"],
                   check=True, capture_output=True)
    runs: dict[str, list[dict]] = {"ours": [], "ogr2ogr": []}
    for r in range(rounds):
        for side in (("ogr2ogr", "ours") if r % 2 == 0 else ("ours", "ogr2ogr")):
            out = run_ogr2ogr(server, gpkg) if side == "ogr2ogr" else run_ours(server, gpkg)
            runs[side].append(out)
            print(f"  import {side}: {out['total_s']:.1f} s ({out['table']['rows']} rows)", flush=True)
    ours, peer = median([r["total_s"] for r in runs["ours"]]), median([r["total_s"] for r in runs["ogr2ogr"]])
    gpkg.unlink(missing_ok=True)
    return {"parcels": runs["ours"][0]["table"]["rows"], "rounds": rounds, "ours_s": round(ours, 2),
            "ogr2ogr_s": round(peer, 2), "ratio": round(ours / peer, 3),
            "rows_equal": runs["ours"][0]["table"]["rows"] == runs["ogr2ogr"][0]["table"]["rows"],
            "target_met": ours / peer <= IMPORT_TARGET, "runs": runs}


def main() -> dict:
    p = parser(__doc__.splitlines()[0])
    p.add_argument("--sizes", default=None, help="comma-separated parcel counts (default: 1000000 and --parcels)")
    p.add_argument("--workers", type=int, default=2, help="app workers (gunicorn, default 2)")
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--connections", type=int, default=8)
    p.add_argument("--warmup", type=float, default=10.0)
    p.add_argument("--duration", type=float, default=30.0)
    p.add_argument("--paths", type=int, default=20000, help="distinct note requests (default 20000)")
    p.add_argument("--import-rounds", type=int, default=1, help="import runs per side (0: no import comparison)")
    p.add_argument("--keep", action="store_true", help="keep the databases")
    args = p.parse_args()
    sizes = sorted({int(s) for s in args.sizes.split(",")} if args.sizes else {1_000_000, args.parcels})
    if shutil.which("ogr2ogr") is None and args.import_rounds:
        sys.exit("bench_national.py needs ogr2ogr: apt-get install gdal-bin")
    work = DATA_ROOT / "national"
    work.mkdir(parents=True, exist_ok=True)
    results: dict = {"benchmark": "national", "machine": machine(), "sizes": {}, "workers": args.workers,
                     "load": {"threads": args.threads, "connections": args.connections, "duration_s": args.duration,
                              "warmup_s": args.warmup, "paths": args.paths}}
    with postgres() as server:
        for size in sizes:
            url, info, env = build_city(server, size, work)
            paths = work / f"paths-p{size}.txt"
            info["paths"] = note_paths(url, paths, args.paths)
            info["load"] = load_run(env, paths, args, work / f"serve-p{size}.log")
            results["sizes"][str(size)] = info
            write_results(args.json, results)
            if args.import_rounds and "import" not in results and info["counts"]["parcels"] >= 0.99 * IMPORT_PARCELS:
                results["import"] = import_compare(server, url, work, args.import_rounds)
            if not args.keep:
                server.drop(f"national_p{size}")
            write_results(args.json, results)  # what is done so far, should a larger size fail
    small, large = results["sizes"][str(sizes[0])], results["sizes"][str(sizes[-1])]
    growth = max(large["load"]["worker_rss_mb"]) / max(small["load"]["worker_rss_mb"])
    errors = sum(s["load"]["errors"] for s in results["sizes"].values())
    results.update({"worker_rss_growth": round(growth, 3), "errors": errors,
                    "target": {"errors": "0", "memory": f"worker RSS at {sizes[-1]:_} <= {MEMORY_TARGET}x at "
                               f"{sizes[0]:_}", "import": f"<= {IMPORT_TARGET}x ogr2ogr"},
                    "target_met": {"errors": errors == 0, "memory": growth <= MEMORY_TARGET,
                                   "import": results.get("import", {}).get("target_met")}})
    print(f"\n{'parcels':>11} {'demo s':>7} {'peak MB':>8} {'table MB':>9} {'req/s':>7} {'p50 ms':>7} {'p99 ms':>7} "
          f"{'errors':>6} {'worker RSS MB':>14}")
    for size, s in results["sizes"].items():
        ld = s["load"]
        print(f"{int(size):>11_} {s['demo_s']:>7.0f} {s['demo_peak_rss_mb']:>8} {s['parcels_total_mb']:>9} "
              f"{ld['req_per_s']:>7.1f} {ld['p50_ms']:>7.1f} {ld['p99_ms']:>7.1f} {ld['errors']:>6} "
              f"{str(ld['worker_rss_mb']):>14}")
    print(f"worker RSS {sizes[-1]:_} / {sizes[0]:_}: {growth:.2f}x  target <= {MEMORY_TARGET}x: "
          f"{verdict(growth <= MEMORY_TARGET)};  errors {errors}: {verdict(errors == 0)}")
    if "import" in results:
        im = results["import"]
        print(f"import of {im['parcels']:_} parcels: ours {im['ours_s']:.1f} s, ogr2ogr {im['ogr2ogr_s']:.1f} s: "
              f"{im['ratio']:.2f}x  target <= {IMPORT_TARGET}x: {verdict(im['target_met'])}")
    write_results(args.json, results)
    return results


if __name__ == "__main__":
    main()
