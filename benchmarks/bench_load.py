"""Load: a mixed workload of map tiles and notes for 60 s against ``gisportal serve``, on PostGIS and embedded.

``gisportal serve --workers 2`` (gunicorn gthread workers, app preloaded, access log to /dev/null) on the PostGIS
city (``gisportal import-all`` of the demo city, database ``city_p<N>``), then on the embedded city (the
GeoPackage; tiles pre-built by tippecanoe: bench_tiles.py leaves them in ``benchmarks/.data/p<N>/tiles/``;
when missing, the first tile request of each layer builds them, timed apart, before the load).

Load: ``wrk -t2 -c8 --timeout 10s`` from a second process over loopback, with ``wrk_paths.lua`` (a random path
a request from a file, counts by status, p50/p90/p95/p99). The file mixes, shuffled with a fixed seed,
70 % tiles (``/tiles/{layer}/{z}/{x}/{y}.pbf``, z14-z16 under sampled parcels, every layer at the zooms it is
drawn at) and 30 % notes (``/api/v1/notes?lon=&lat=`` at representative points of sampled parcels: all 200).
A few seconds of untimed load first. Target: zero errors (non-2xx answers, socket errors and timeouts),
latency percentiles reported. The servers' CPU time per request and memory are reported too. Then the same load
again while ``--slow-clients`` connections (default 4) trickle a request one byte a second (slowloris): with
gthread workers they hold threads, not workers, and the load still meets zero errors.
"""

from __future__ import annotations

import contextlib
import json
import random
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import (  # noqa: E402
    BENCH_DIR,
    WRK,
    bench_env,
    data_dir,
    ensure_city,
    ensure_data,
    machine,
    parser,
    postgis_env,
    postgres,
    sample_tiles,
    start_gisportal,
    verdict,
    write_results,
)
from bench_http import cpu_seconds, memory, request_files  # noqa: E402

TILE_SHARE = 0.7


def run_wrk(port: int, paths: Path, duration: float, threads: int, connections: int) -> dict:
    cmd = [WRK, f"-t{threads}", f"-c{connections}", f"-d{duration:g}s", "--timeout", "10s",
           "-s", str(BENCH_DIR / "wrk_paths.lua"), f"http://127.0.0.1:{port}", "--", str(paths)]
    done = subprocess.run(cmd, capture_output=True, text=True)
    if done.returncode != 0:
        raise RuntimeError(f"wrk failed (exit {done.returncode}):\n{done.stdout}\n{done.stderr}")
    line = next((ln for ln in done.stdout.splitlines() if ln.startswith("WRK_JSON ")), None)
    if line is None:
        raise RuntimeError(f"wrk printed no summary:\n{done.stdout}")
    data = json.loads(line[len("WRK_JSON "):])
    statuses = {int(k): v for k, v in data["statuses"].items()}
    data["statuses"] = statuses
    data["req_per_s"] = data["requests"] / (data["duration_us"] / 1e6)
    data["ok_2xx"] = sum(v for k, v in statuses.items() if 200 <= k < 300)
    data["non_2xx"] = sum(v for k, v in statuses.items() if not 200 <= k < 300)
    data["socket_errors"] = sum(v for k, v in data["errors"].items() if k != "status")
    data["errors_total"] = data["non_2xx"] + data["socket_errors"]
    return data


@contextlib.contextmanager
def slow_clients(port: int, count: int, interval: float = 1.0) -> Iterator[dict]:
    """``count`` clients that never finish their request (slowloris): half send headers one byte a second, half
    announce a 1 MB body and send one byte a second. With sync workers two of them stalled the whole server."""
    stop, stats = threading.Event(), {"clients": count, "bytes_sent": 0, "closed_by_server": 0}

    def trickle(n: int) -> None:
        try:
            sock = socket.create_connection(("127.0.0.1", port), timeout=5)
        except OSError:
            return
        head = (b"GET /api/v1/plans HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: " if n % 2 == 0 else
                b"POST /login HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/x-www-form-urlencoded\r\n"
                b"Content-Length: 1000000\r\n\r\nusername=")
        try:
            sock.sendall(head)
            while not stop.wait(interval):
                sock.sendall(b"a")
                stats["bytes_sent"] += 1
        except OSError:
            stats["closed_by_server"] += 1
        finally:
            sock.close()

    threads = [threading.Thread(target=trickle, args=(n,), daemon=True) for n in range(count)]
    for thread in threads:
        thread.start()
    try:
        yield stats
    finally:
        stop.set()
        for thread in threads:
            thread.join(timeout=5)


def mixed_paths(tiles: list[tuple], notes: Path, out: Path, total: int = 20000) -> dict:
    """Write the mixed request file; the counts of each kind."""
    rng = random.Random(2026)
    note_lines = [ln for ln in notes.read_text().splitlines() if ln]
    n_tiles = round(total * TILE_SHARE)
    lines = [f"/tiles/{layer}/{z}/{x}/{y}.pbf" for layer, z, x, y in (rng.choice(tiles) for _ in range(n_tiles))]
    lines += [rng.choice(note_lines) for _ in range(total - n_tiles)]
    rng.shuffle(lines)
    out.write_text("\n".join(lines) + "\n")
    return {"tiles": n_tiles, "notes": total - n_tiles, "distinct_tiles": len(set(tiles))}


def serve_and_load(name: str, env: dict, paths: Path, first_tiles: list[str], args, work: Path) -> dict:
    server = start_gisportal(env, work / f"{name}.log", args.workers)
    port, proc = server.port, server.proc
    out: dict = {}
    try:
        out["ready_s"] = round(server.wait(), 2)
        started = time.perf_counter()
        for path in first_tiles:  # the embedded store builds a layer's tileset on its first tile (when missing)
            with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=1800) as r:
                assert r.status == 200, (path, r.status)
        out["first_tiles_s"] = round(time.perf_counter() - started, 2)
        print(f"{name}: ready after {out['ready_s']} s, first tile of each layer after {out['first_tiles_s']} s",
              flush=True)
        run_wrk(port, paths, args.warmup, args.threads, args.connections)
        cpu = cpu_seconds(proc.pid)
        data = run_wrk(port, paths, args.duration, args.threads, args.connections)
        data["server_cpu_s"] = round(cpu_seconds(proc.pid) - cpu, 2)
        data["server_cpu_ms_per_req"] = round(1000 * data["server_cpu_s"] / max(data["requests"], 1), 2)
        data["memory"] = memory(proc.pid)
        out.update(data)
        if args.slow_clients:  # the same load while slow clients hold connections open
            with slow_clients(port, args.slow_clients) as stats:
                time.sleep(2)
                slow = run_wrk(port, paths, args.slow_duration, args.threads, args.connections)
            slow["slow_clients"] = stats
            out["with_slow_clients"] = slow
            lat = slow["latency_us"]
            print(f"{name} with {args.slow_clients} slow clients: {slow['req_per_s']:.0f} req/s, p50 "
                  f"{lat['p50'] / 1000:.1f} ms, p99 {lat['p99'] / 1000:.1f} ms; errors {slow['errors_total']}; "
                  f"slow clients cut by the server: {stats['closed_by_server']}", flush=True)
    finally:
        server.stop()
    lat = out["latency_us"]
    print(f"{name}: {out['requests']} requests in {out['duration_us'] / 1e6:.0f} s ({out['req_per_s']:.0f}/s), "
          f"p50 {lat['p50'] / 1000:.1f} ms, p95 {lat['p95'] / 1000:.1f} ms, p99 {lat['p99'] / 1000:.1f} ms, "
          f"max {lat['max'] / 1000:.0f} ms; statuses {out['statuses']}, socket errors {out['socket_errors']}; "
          f"server CPU {out['server_cpu_ms_per_req']} ms/request", flush=True)
    return out


def main() -> dict:
    p = parser(__doc__.splitlines()[0])
    p.add_argument("--duration", type=float, default=60, help="seconds of load per backend (default 60)")
    p.add_argument("--warmup", type=float, default=5, help="seconds of untimed load first (default 5)")
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--connections", type=int, default=8)
    p.add_argument("--workers", type=int, default=2)
    p.add_argument("--tiles", type=int, default=100, help="distinct tiles per layer and zoom (default 100)")
    p.add_argument("--backends", default="postgis,embedded")
    p.add_argument("--slow-clients", type=int, default=4, help="slow clients during a second load (0: none)")
    p.add_argument("--slow-duration", type=float, default=20, help="seconds of the load with slow clients")
    args = p.parse_args()
    gpkg = ensure_data(args.parcels)
    work = data_dir(args.parcels) / "load"
    work.mkdir(exist_ok=True)
    backends = [b for b in args.backends.split(",") if b]
    results: dict = {"benchmark": "load", "machine": machine(), "parcels": None,
                     "settings": {"duration_s": args.duration, "threads": args.threads,
                                  "connections": args.connections, "workers": args.workers,
                                  "tile_share": TILE_SHARE, "wrk_timeout_s": 10}, "runs": {}}
    with postgres() as server:
        url, loaded = ensure_city(server, args.parcels)
        if loaded:
            results["import_all"] = loaded
        results["parcels"] = server.execute("SELECT count(*) FROM gp_parcels", url.rsplit("/", 1)[1])[0][0]
        tiles = sample_tiles(url, args.tiles)
        notes = request_files(gpkg, work, 20000)["parcel_points"]
        paths = work / "paths-mixed.txt"
        results["mix"] = mixed_paths(tiles, notes, paths)
        first = [f"/tiles/{layer}/{z}/{x}/{y}.pbf" for layer, z, x, y in
                 {t[0]: t for t in tiles}.values()]
        for backend in backends:
            env = postgis_env(args.parcels, url) if backend == "postgis" else bench_env(data_dir(args.parcels))
            results["runs"][backend] = serve_and_load(backend, env, paths, first, args, work)
    ok = all(r["errors_total"] == 0 and r.get("with_slow_clients", {}).get("errors_total", 0) == 0
             for r in results["runs"].values())
    results["target"] = "zero errors (non-2xx, socket errors, timeouts) under the mixed load; percentiles reported"
    results["target_met"] = ok
    print(f"\nmixed load, {args.duration:g} s each, wrk -t{args.threads} -c{args.connections}:")
    for backend, r in results["runs"].items():
        lat = r["latency_us"]
        print(f"  {backend:<9} {r['req_per_s']:7.1f} req/s  p50 {lat['p50'] / 1000:6.1f} ms  p95 "
              f"{lat['p95'] / 1000:6.1f} ms  p99 {lat['p99'] / 1000:6.1f} ms  errors {r['errors_total']}")
    print(f"target: zero errors: {verdict(ok)}")
    write_results(args.json, results)
    return results


if __name__ == "__main__":
    main()
