"""GET /api/v1/notes under gunicorn vs a trivial Flask JSON endpoint served the same way.

Ours: ``gisportal serve --workers 2`` (gunicorn gthread workers, app preloaded in
the master, access log on stdout) on the demo city. Peer: a Flask app whose
only route returns ``{"ok": True}`` (``benchmarks/trivial_app.py``), under
gunicorn with the same settings. Both are loaded in the same run, one after
the other, by ``wrk`` (a second process, loopback, same threads, connections
and duration) with ``wrk_paths.lua``, which picks a random request path from
a file and counts the responses by status.

Scenarios (ours):

* ``parcel_points`` (the target): lon/lat of representative points of
  parcels sampled at random (seeded), so every request should answer 200.
* ``random_points``: lon/lat uniform in the territory's bounding box; points
  in streets answer 404 ``no_parcel_here`` (counted apart, not as errors).
* ``refs``: land-title references of sampled parcels (``?ref=``).
* ``plans``: ``GET /api/v1/plans``, a small JSON answer from our app with no
  geometry work: the floor set by our app's framework (Flask-Babel, session,
  flask-smorest, store refresh check), for diagnosis.

The machine is shared and noisy, so the load alternates in short paired
rounds (``--rounds``, default 10 x 2 s per endpoint, order reversed every
round): each round's ratio is taken against the trivial run right next to it
in time, and the figure is the median of the rounds' ratios. The servers' CPU
time per request (``/proc/<pid>/stat`` of master + workers) is reported as
well: it depends much less on what else runs on the machine.

Target: req/s of ``parcel_points`` >= 0.5x the trivial endpoint.
"""

from __future__ import annotations

import json
import os
import socket
import statistics
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import numpy as np
import pyogrio
from pyproj import Transformer

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import (  # noqa: E402
    BENCH_DIR,
    SEED,
    VENV_BIN,
    bench_env,
    ensure_data,
    free_port,
    machine,
    parser,
    pss_kb,
    start_server,
    stop_server,
    verdict,
    vm_status,
    write_results,
)

TARGET = 0.5
WRK = "/usr/bin/wrk"
SCENARIOS = ("parcel_points", "random_points", "refs", "plans")


def wait_for_port(proc: subprocess.Popen, port: int, timeout: float) -> float:
    """Seconds until ``port`` accepts connections; raises if the server dies or times out."""
    started = time.perf_counter()
    while time.perf_counter() - started < timeout:
        if proc.poll() is not None:
            raise RuntimeError(f"server exited with {proc.returncode} before listening on {port}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return time.perf_counter() - started
        except OSError:
            time.sleep(0.2)
    raise TimeoutError(f"nothing listening on {port} after {timeout} s")


def children(pid: int) -> list[int]:
    try:
        return [int(c) for c in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]
    except OSError:
        return []


def memory(master: int) -> dict:
    """RSS / peak RSS / PSS (MB) of the gunicorn master and its workers."""
    out = {}
    for role, pid in [("master", master)] + [(f"worker{i + 1}", c) for i, c in enumerate(children(master))]:
        st = vm_status(pid)
        out[role] = {"rss_mb": round(st.get("VmRSS", 0) / 1024), "hwm_mb": round(st.get("VmHWM", 0) / 1024),
                     "pss_mb": round((pss_kb(pid) or 0) / 1024)}
    out["total_pss_mb"] = sum(v["pss_mb"] for v in out.values() if isinstance(v, dict))
    return out


def run_wrk(port: int, paths: Path, duration: float, threads: int, connections: int) -> dict:
    cmd = [WRK, f"-t{threads}", f"-c{connections}", f"-d{duration:g}s", "--timeout", "10s",
           "-s", str(BENCH_DIR / "wrk_paths.lua"), f"http://127.0.0.1:{port}", "--", str(paths)]
    proc = subprocess.run(cmd, capture_output=True, text=True)
    out = proc.stdout
    if proc.returncode != 0:
        raise RuntimeError(f"wrk failed (exit {proc.returncode}): {' '.join(cmd)}\n{out}\n{proc.stderr}")
    line = next((ln for ln in out.splitlines() if ln.startswith("WRK_JSON ")), None)
    if line is None:
        raise RuntimeError(f"wrk printed no summary:\n{out}")
    data = json.loads(line[len("WRK_JSON "):])
    data["req_per_s"] = data["requests"] / (data["duration_us"] / 1e6)
    statuses = {int(k): v for k, v in data["statuses"].items()}
    data["statuses"] = statuses
    data["ok_2xx"] = sum(v for k, v in statuses.items() if 200 <= k < 300)
    data["not_found_404"] = statuses.get(404, 0)
    data["other_non_2xx"] = sum(v for k, v in statuses.items() if not (200 <= k < 300) and k != 404)
    data["socket_errors"] = sum(v for k, v in data["errors"].items() if k != "status")
    return data


def cpu_seconds(master: int) -> float:
    """User + system CPU time of the gunicorn master and its workers so far (workers are never recycled)."""
    ticks = 0
    for pid in [master] + children(master):
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        ticks += int(fields[11]) + int(fields[12])  # utime, stime (fields 14 and 15 of stat)
    return ticks / os.sysconf("SC_CLK_TCK")


def combine(runs: list[dict]) -> dict:
    """Totals over rounds; latency percentiles are the median of the rounds' percentiles."""
    total_s = sum(r["duration_us"] for r in runs) / 1e6
    out = {"rounds": len(runs), "duration_s": round(total_s, 2), "requests": sum(r["requests"] for r in runs)}
    out["req_per_s"] = out["requests"] / total_s
    out["round_req_per_s"] = [round(r["req_per_s"], 1) for r in runs]
    out["latency_us"] = {q: statistics.median(r["latency_us"][q] for r in runs) for q in ("p50", "p90", "p99")}
    out["latency_us"]["max"] = max(r["latency_us"]["max"] for r in runs)
    for key in ("ok_2xx", "not_found_404", "other_non_2xx", "socket_errors"):
        out[key] = sum(r[key] for r in runs)
    statuses: dict[int, int] = {}
    for r in runs:
        for k, v in r["statuses"].items():
            statuses[k] = statuses.get(k, 0) + v
    out["statuses"] = statuses
    out["errors"] = {k: sum(r["errors"][k] for r in runs) for k in runs[0]["errors"]}
    out["server_cpu_s"] = round(sum(r["server_cpu_s"] for r in runs), 2)
    out["server_cpu_ms_per_req"] = 1000 * out["server_cpu_s"] / max(out["requests"], 1)
    return out


def request_files(store: Path, work: Path, n: int) -> dict[str, Path]:
    """Request-path files for each scenario, from parcels sampled with a fixed seed."""
    info = pyogrio.read_info(store, layer="parcels")
    total = info["features"]
    rng = np.random.default_rng(SEED)
    fids = np.sort(rng.choice(np.arange(1, total + 1), size=min(n, total), replace=False))
    frame = pyogrio.read_dataframe(store, layer="parcels", columns=["ref"], fids=fids)
    to_wgs = Transformer.from_crs(frame.crs, "EPSG:4326", always_xy=True)
    points = frame.geometry.representative_point()
    lon, lat = to_wgs.transform(points.x.to_numpy(), points.y.to_numpy())
    minx, miny, maxx, maxy = info["total_bounds"]
    rx, ry = to_wgs.transform(rng.uniform(minx, maxx, n), rng.uniform(miny, maxy, n))
    from urllib.parse import quote

    work.mkdir(parents=True, exist_ok=True)
    files = {
        "parcel_points": [f"/api/v1/notes?lon={a:.7f}&lat={b:.7f}" for a, b in zip(lon, lat, strict=True)],
        "random_points": [f"/api/v1/notes?lon={a:.7f}&lat={b:.7f}" for a, b in zip(rx, ry, strict=True)],
        "refs": [f"/api/v1/notes?ref={quote(r)}" for r in frame["ref"]],
        "trivial": ["/ok"],
        "plans": ["/api/v1/plans"],
    }
    out = {}
    for name, lines in files.items():
        path = work / f"paths-{name}.txt"
        path.write_text("\n".join(lines) + "\n")
        out[name] = path
    return out


def main() -> dict:
    p = parser(__doc__.splitlines()[0])
    p.add_argument("--duration", type=float, default=20,
                   help="seconds of load per endpoint, split over the rounds (default 20)")
    p.add_argument("--rounds", type=int, default=10,
                   help="alternate trivial and ours this many times, duration/rounds each (default 10)")
    p.add_argument("--warmup", type=float, default=3, help="seconds of untimed load per endpoint first (default 3)")
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--connections", type=int, default=16)
    p.add_argument("--workers", type=int, default=2)
    p.add_argument("--samples", type=int, default=20000, help="parcels sampled for request paths (default 20000)")
    p.add_argument("--scenarios", default=",".join(SCENARIOS), help="comma-separated, of: " + ", ".join(SCENARIOS))
    args = p.parse_args()
    scenarios = list(dict.fromkeys(s for s in args.scenarios.split(",") if s))
    store = ensure_data(args.parcels)
    work = store.parent / "http"
    paths = request_files(store, work, args.samples)
    env = bench_env(store.parent)
    ports = {"trivial": free_port(), "ours": free_port()}
    servers: dict[str, subprocess.Popen] = {}
    results: dict = {"benchmark": "http", "parcels": pyogrio.read_info(store, layer="parcels")["features"],
                     "settings": {"duration_s": args.duration, "rounds": args.rounds, "threads": args.threads,
                                  "connections": args.connections, "workers": args.workers,
                                  "server": "gisportal.cli.serving.Server on both sides (gunicorn gthread, 8 threads, "
                                            "keep-alive, preload_app, masking access log to /dev/null)"},
                     "machine": machine(), "runs": {}}
    try:
        servers["trivial"] = start_server([sys.executable, str(BENCH_DIR / "trivial_app.py"), "--port",
                                    str(ports["trivial"]), "--workers", str(args.workers)], env, work / "trivial.log")
        servers["ours"] = start_server([str(VENV_BIN / "gisportal"), "serve", "--port", str(ports["ours"]),
                                 "--workers", str(args.workers)], env, work / "ours.log")
        for name in ("trivial", "ours"):
            results[f"{name}_ready_s"] = round(wait_for_port(servers[name], ports[name], 900), 2)
        print(f"servers listening: trivial after {results['trivial_ready_s']} s, "
              f"gisportal after {results['ours_ready_s']} s", flush=True)
        first = paths["parcel_points"].read_text().split("\n", 1)[0]
        with urllib.request.urlopen(f"http://127.0.0.1:{ports['ours']}{first}", timeout=60) as r:
            body = json.loads(r.read())
            assert r.status == 200 and body["parcel"]["ref"], body
        targets = {"trivial": "trivial", **{s: "ours" for s in scenarios}}
        files = {"trivial": paths["trivial"], **{s: paths[s] for s in scenarios}}
        if args.warmup > 0:
            for name, server in targets.items():
                run_wrk(ports[server], files[name], args.warmup, args.threads, args.connections)
        per_round = args.duration / args.rounds
        rounds: dict[str, list[dict]] = {name: [] for name in targets}
        for r in range(args.rounds):
            for name in (list(targets) if r % 2 == 0 else list(reversed(targets))):
                server = targets[name]
                cpu = cpu_seconds(servers[server].pid)
                data = run_wrk(ports[server], files[name], per_round, args.threads, args.connections)
                data["server_cpu_s"] = cpu_seconds(servers[server].pid) - cpu
                rounds[name].append(data)
            print(f"round {r + 1:>2}/{args.rounds}: " + "  ".join(
                f"{name} {runs[-1]['req_per_s']:.0f}" for name, runs in rounds.items()) + " req/s", flush=True)
        for name, runs in rounds.items():
            results["runs"][name] = combine(runs)
            if name != "trivial":
                per = [run["req_per_s"] / base["req_per_s"] for run, base in zip(runs, rounds["trivial"], strict=True)]
                results["runs"][name]["round_ratios"] = [round(v, 3) for v in per]
        results["memory_ours"] = memory(servers["ours"].pid)
        results["memory_trivial"] = memory(servers["trivial"].pid)
    finally:
        for proc in servers.values():
            stop_server(proc)

    trivial = results["runs"]["trivial"]
    ratios = {s: statistics.median(results["runs"][s]["round_ratios"]) for s in scenarios}
    cpu_ratios = {s: trivial["server_cpu_ms_per_req"] / results["runs"][s]["server_cpu_ms_per_req"]
                  for s in scenarios}
    results["ratios"] = {k: round(v, 3) for k, v in ratios.items()}
    results["cpu_ratios"] = {k: round(v, 3) for k, v in cpu_ratios.items()}
    main_run = results["runs"].get("parcel_points", {})
    ok = ratios.get("parcel_points", 0) >= TARGET and main_run.get("other_non_2xx", 1) == 0 \
        and main_run.get("socket_errors", 1) == 0
    results["target"] = f"parcel_points req/s >= {TARGET}x trivial (median of paired rounds), no errors"
    results["target_met"] = ok

    print(f"\n{'run':<14} {'req/s':>8} {'vs trivial':>10} {'p50 ms':>7} {'p99 ms':>7} {'2xx':>7} {'404':>6} "
          f"{'other':>5} {'sock.err':>8} {'cpu ms/req':>10}")
    for name, data in results["runs"].items():
        print(f"{name:<14} {data['req_per_s']:8.1f} {ratios.get(name, 1.0):9.3f}x "
              f"{data['latency_us']['p50'] / 1000:7.2f} {data['latency_us']['p99'] / 1000:7.2f} "
              f"{data['ok_2xx']:7d} {data['not_found_404']:6d} "
              f"{data['other_non_2xx']:5d} {data['socket_errors']:8d} {data['server_cpu_ms_per_req']:10.2f}")
    print(f"\nnotes (parcel points) / trivial: {ratios.get('parcel_points', float('nan')):.3f}x req/s "
          f"(median of {args.rounds} paired rounds; "
          f"CPU-time ratio {cpu_ratios.get('parcel_points', float('nan')):.3f}x)"
          f"  target >= {TARGET}x: {verdict(ok)}")
    mem = results["memory_ours"]
    print("gisportal serve memory (MB): " + ", ".join(
        f"{k} rss {v['rss_mb']} pss {v['pss_mb']}" for k, v in mem.items() if isinstance(v, dict))
        + f"; total PSS {mem['total_pss_mb']}")
    write_results(args.json, results)
    return results


if __name__ == "__main__":
    main()
