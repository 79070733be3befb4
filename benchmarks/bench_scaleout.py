"""Scaling out (issue #18): read replicas behind PgBouncer under load, replica lag at a publication, PMTiles build.

1. Mixed load (70 % tiles, 30 % notes, ``bench_load.mixed_paths``) for ``--duration`` s, same run:
   A. one ``gisportal serve --workers 2`` on the primary alone (direct);
   B. two instances (``--workers 2`` each), primary + streaming replica (``pg_basebackup -R``), each server behind
      its own PgBouncer in transaction mode (``GISPORTAL_DATABASE_READ_URLS``); no load balancer on this
      machine: one ``wrk`` per instance at once, half the connections each, throughput summed, p99 the worse.
   In each run a publication (the zones in force republished as a new version) is made through the primary
   after a third of the time. Target: zero errors (non-2xx, socket errors, timeouts).
2. Replica lag seen during a publication of ``--zones`` (100,000) zones: the primary's WAL insert position
   minus the replica's replay position, sampled every 20 ms, and the time from the publication's answer until
   the app (a store reading the replica) reads from the replica again.
3. PMTiles build of the city: ``bench_tiles.pmtiles_build`` (part 0 of ``bench_tiles.py``, where it is
   described). Target: <= 1.5x.

The machine is shared (2 cores, other sessions): figures are from a loaded machine.
"""

from __future__ import annotations

import sys
import tempfile
import threading
import time
from datetime import date
from pathlib import Path

import geopandas as gpd
import numpy as np
import shapely

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))
from _common import (  # noqa: E402
    data_dir,
    ensure_city,
    ensure_data,
    machine,
    parser,
    postgis_env,
    postgres,
    sample_tiles,
    start_gisportal,
    vm_status,
    write_results,
)
from bench_http import memory, request_files  # noqa: E402
from bench_load import mixed_paths, run_wrk  # noqa: E402
from bench_tiles import pmtiles_build  # noqa: E402
from support.pgbouncer import PgBouncer  # noqa: E402
from support.pgcluster import PgCluster  # noqa: E402

from gisportal.publishing.publication import publish_zones  # noqa: E402
from gisportal.storage.embedded.store import EmbeddedStore  # noqa: E402
from gisportal.storage.postgis.store import PostgisStore  # noqa: E402
from gisportal.zoning.plans import versions_in_force  # noqa: E402


def republish(url: str, plan_zones: int | None = None, read_urls: tuple[str, ...] = ()) -> dict:
    """A publication through the primary: the zones in force of the first plan again, as a new version (or
    ``plan_zones`` generated small squares over the city); its duration."""
    store = PostgisStore(url, read_urls=read_urls, prepare=not read_urls)
    try:
        in_force = [v.id for v in versions_in_force(store.plan_versions(), date.today())]
        plan = next(v.plan_name for v in store.plan_versions() if v.id in in_force)
        zones = store.features("zones", in_force, None)
        if plan_zones:
            x0, y0, x1, y1 = store.extent()
            side = int(np.ceil(np.sqrt(plan_zones)))
            dx, dy = (x1 - x0) / side, (y1 - y0) / side
            i = np.arange(plan_zones)
            boxes = shapely.box(x0 + (i % side) * dx, y0 + (i // side) * dy, x0 + (i % side + 1) * dx,
                                y0 + (i // side + 1) * dy)
            codes = zones["code"].to_numpy()[i % len(zones)]
            zones = gpd.GeoDataFrame({"code": codes, "label_fr": codes, "label_ar": codes}, geometry=boxes,
                                     crs=store.crs)
        started = time.perf_counter()
        publish_zones(store, plan, zones, approval_act=f"bench {time.time():.0f}", approved=date.today(),
                      effective=date.today())
        return {"zones": len(zones), "publish_s": round(time.perf_counter() - started, 2)}
    finally:
        store.close()


def load_run(name: str, instances: list[dict], paths: Path, args, work: Path, publish: callable) -> dict:
    """Start the instances, warm up, then ``wrk`` on each at once while a publication is made."""
    servers = []
    try:
        for i, env in enumerate(instances):
            servers.append(start_gisportal(env, work / f"{name}-{i}.log", args.workers))
        for server in servers:
            server.wait()
        per = max(args.connections // len(servers), 1)
        for server in servers:
            run_wrk(server.port, paths, args.warmup, 1, per)
        results: list[dict] = [{} for _ in servers]
        threads = [threading.Thread(target=lambda i=i, port=server.port: results[i].update(
            run_wrk(port, paths, args.duration, max(args.threads // len(servers), 1), per)))
            for i, server in enumerate(servers)]
        for t in threads:
            t.start()
        time.sleep(args.duration / 3)
        published = publish()
        for t in threads:
            t.join()
        mem = [memory(server.proc.pid) for server in servers]
    finally:
        for server in servers:
            server.stop()
    out = {"requests": sum(r["requests"] for r in results),
           "req_per_s": round(sum(r["req_per_s"] for r in results), 1),
           "p50_ms": round(max(r["latency_us"]["p50"] for r in results) / 1000, 1),
           "p99_ms": round(max(r["latency_us"]["p99"] for r in results) / 1000, 1),
           "errors": sum(r["errors_total"] for r in results), "statuses": [r["statuses"] for r in results],
           "publication": published, "memory": mem}
    print(f"{name}: {out['req_per_s']} req/s, p50 {out['p50_ms']} ms, p99 {out['p99_ms']} ms, errors "
          f"{out['errors']}; publication during the run {published}", flush=True)
    return out


def replica_lag(primary: PgCluster, replica: PgCluster, url: str, read_url: str, n_zones: int) -> dict:
    """Lag of the replica (bytes of WAL) sampled while ``n_zones`` zones are published, and the catch-up."""
    import psycopg

    samples: list[int] = []
    stop = threading.Event()

    def sample() -> None:
        with psycopg.connect(primary.url("postgres"), autocommit=True) as p, \
                psycopg.connect(replica.url("postgres"), autocommit=True) as r:
            while not stop.is_set():
                head = p.execute("SELECT pg_current_wal_insert_lsn()").fetchone()[0]
                done = r.execute("SELECT pg_wal_lsn_diff(%s::text::pg_lsn, pg_last_wal_replay_lsn())::bigint",
                                 (str(head),)).fetchone()[0]
                samples.append(int(done))
                time.sleep(0.02)

    watcher = threading.Thread(target=sample)
    watcher.start()
    try:
        published = republish(url, n_zones)
        reader = PostgisStore(url, read_urls=(read_url,), prepare=False)
        answered = time.perf_counter()
        while reader._router.choose().is_primary:  # the app reads the primary while the replica lags
            time.sleep(0.005)
        back_s = time.perf_counter() - answered
        reader.close()
    finally:
        stop.set()
        watcher.join()
    out = {**published, "max_lag_mb": round(max(samples) / 2**20, 1), "samples": len(samples),
           "replica_used_again_after_s": round(back_s, 3)}
    print(f"replica lag during a publication of {n_zones:_} zones: {out}", flush=True)
    return out


def rss_mb(pids: list[int]) -> int:
    return round(sum(vm_status(pid).get("VmRSS", 0) for pid in pids) / 1024)


def main() -> dict:
    p = parser(__doc__.splitlines()[0])
    p.add_argument("--duration", type=float, default=60)
    p.add_argument("--warmup", type=float, default=5)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--connections", type=int, default=8)
    p.add_argument("--workers", type=int, default=2)
    p.add_argument("--tiles", type=int, default=100)
    p.add_argument("--zones", type=int, default=100_000)
    p.add_argument("--only", default="load,lag,pmtiles")
    args = p.parse_args()
    only = set(args.only.split(","))
    gpkg = ensure_data(args.parcels)
    work = data_dir(args.parcels) / "scaleout"
    work.mkdir(exist_ok=True)
    results: dict = {"benchmark": "scaleout", "machine": machine(), "parcels": args.parcels,
                     "note": "shared 2-core machine with other sessions running: figures from a loaded machine"}
    if only & {"load", "lag"}:
        with postgres() as server:
            url, _loaded = ensure_city(server, args.parcels)
            db = url.rsplit("/", 1)[1]
            replica = PgCluster(replica_of=server.cluster)
            bouncers = [PgBouncer(server.cluster, pool_size=10), PgBouncer(replica, pool_size=10,
                                                                           query_wait_timeout=2)]
            try:
                pooled, read = bouncers[0].url(db), bouncers[1].url(db)
                if "load" in only:
                    tiles = sample_tiles(url, args.tiles)
                    notes = request_files(gpkg, work, 20000)["parcel_points"]
                    paths = work / "paths-mixed.txt"
                    results["mix"] = mixed_paths(tiles, notes, paths)
                    alone = postgis_env(args.parcels, url)
                    scaled = {**postgis_env(args.parcels, pooled), "GISPORTAL_DATABASE_READ_URLS": read,
                              "GISPORTAL_DATABASE_TRANSACTION_POOLING": "true"}
                    results["load_primary_alone"] = load_run("one instance, primary alone", [alone], paths, args,
                                                             work, lambda: republish(url))
                    results["load_replicated"] = load_run("two instances, primary + replica via PgBouncer",
                                                          [scaled, scaled], paths, args, work,
                                                          lambda: republish(pooled, read_urls=(read,)))
                    a, b = results["load_primary_alone"], results["load_replicated"]
                    results["load_ratio"] = round(b["req_per_s"] / a["req_per_s"], 2)
                    results["load_target_met"] = a["errors"] == 0 and b["errors"] == 0
                    results["memory_mb"] = {
                        "pgbouncer_rss": [rss_mb([int((bo.root / "pgbouncer.pid").read_text())]) for bo in bouncers],
                        "replica_postmaster_rss": rss_mb([int((replica.data / "postmaster.pid").read_text()
                                                              .split()[0])])}
                if "lag" in only:
                    results["replica_lag"] = replica_lag(server.cluster, replica, pooled, read, args.zones)
            finally:
                for bouncer in bouncers:
                    bouncer.stop()
                replica.destroy()
    if "pmtiles" in only:
        with tempfile.TemporaryDirectory(dir=work) as tmp:
            results["pmtiles_build"] = pmtiles_build(EmbeddedStore(gpkg), Path(tmp) / "pmtiles")
    write_results(args.json, results)
    return results


if __name__ == "__main__":
    main()
