"""Start-up: EmbeddedStore load + index vs pyogrio.read_dataframe + STRtrees; peak RSS of a serving process.

Each measurement runs in a fresh Python subprocess (nothing cached in the
interpreter; the GeoPackage file is read once beforehand so both sides find it
in the page cache). Ours and the peer alternate, ``--repeat`` times each, and
the medians are compared.

* ours: ``EmbeddedStore(path)`` (reads parcels, zones, overlays with pyogrio,
  builds the STRtrees, the reference index and the extent; reads the plan
  tables with sqlite3).
* peer: ``pyogrio.read_dataframe(path, layer=..., use_arrow=True)`` for the
  same three layers, plus ``shapely.STRtree`` on each geometry column.

Time is counted from after the imports to the loaded store (``load``); the
subprocess wall time, imports and interpreter start included, is reported too.
Memory: ``create_app()`` in a fresh subprocess, then a few note requests
through Flask's test client; the peak RSS (``VmHWM`` in ``/proc/self/status``).

Targets: load <= 1.3x the peer; peak RSS of a serving process <= 3 GB.
"""

from __future__ import annotations

import json
import statistics
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import bench_env, ensure_data, machine, parser, verdict, write_results  # noqa: E402

TIME_TARGET = 1.3
RSS_TARGET_MB = 3 * 1024

_STATUS = '''
def _status():
    out = {}
    for line in open("/proc/self/status"):
        key, _, value = line.partition(":")
        if key in ("VmHWM", "VmRSS"):
            out[key] = int(value.split()[0])
    return out
'''

OURS = _STATUS + '''
import json, sys, time
t0 = time.perf_counter()
from gisportal.storage.embedded.store import EmbeddedStore
t1 = time.perf_counter()
store = EmbeddedStore(sys.argv[1])
t2 = time.perf_counter()
print(json.dumps({"import_s": t1 - t0, "load_s": t2 - t1, "counts": store.counts(), **_status()}))
'''

PEER = _STATUS + '''
import json, sys, time
t0 = time.perf_counter()
import geopandas, numpy as np, pyogrio, shapely
t1 = time.perf_counter()
layers = {}
for name in ("parcels", "zones", "overlays"):
    frame = pyogrio.read_dataframe(sys.argv[1], layer=name, use_arrow=True)
    layers[name] = (frame, shapely.STRtree(np.asarray(frame.geometry.values, dtype=object)))
t2 = time.perf_counter()
print(json.dumps({"import_s": t1 - t0, "load_s": t2 - t1,
                  "counts": {k: len(v[0]) for k, v in layers.items()}, **_status()}))
'''

SERVING = _STATUS + '''
import json, sys, time
t0 = time.perf_counter()
from gisportal.web import create_app
app = create_app()
t1 = time.perf_counter()
after_create = _status()
client = app.test_client()
paths = [line for line in open(sys.argv[1]).read().split() if line][:200] if len(sys.argv) > 1 else []
codes = {}
for path in paths:
    code = client.get(path).status_code
    codes[code] = codes.get(code, 0) + 1
print(json.dumps({"create_app_s": t1 - t0, "after_create_app": after_create, "after_requests": _status(),
                  "requests": len(paths), "statuses": codes}))
'''


def run(code: str, *argv: str, env: dict[str, str]) -> dict:
    started = time.perf_counter()
    out = subprocess.run([sys.executable, "-c", code, *argv], capture_output=True, text=True, env=env)
    wall = time.perf_counter() - started
    if out.returncode != 0:
        raise RuntimeError(out.stderr)
    data = json.loads(out.stdout.strip().splitlines()[-1])
    data["wall_s"] = wall
    return data


def main() -> dict:
    p = parser(__doc__.splitlines()[0])
    p.add_argument("--repeat", type=int, default=5, help="fresh subprocesses per side (default 5)")
    args = p.parse_args()
    path = ensure_data(args.parcels)
    env = bench_env(path.parent)
    with open(path, "rb") as f:  # page cache warm for both sides
        while f.read(1 << 24):
            pass

    runs: dict[str, list[dict]] = {"ours": [], "peer": []}
    for i in range(args.repeat):
        for side in (("ours", "peer") if i % 2 == 0 else ("peer", "ours")):
            data = run(OURS if side == "ours" else PEER, str(path), env=env)
            runs[side].append(data)
            print(f"run {i + 1}/{args.repeat} {side:<5} load {data['load_s']:6.2f} s  imports {data['import_s']:5.2f} s"
                  f"  process wall {data['wall_s']:6.2f} s  peak RSS {data['VmHWM'] / 1024:7.0f} MB", flush=True)
    if runs["ours"][0]["counts"]["parcels"] != runs["peer"][0]["counts"]["parcels"]:
        raise RuntimeError("ours and the peer did not read the same number of parcels")

    def med(side: str, key: str) -> float:
        return statistics.median(r[key] for r in runs[side])

    from bench_http import request_files

    paths_file = request_files(path, path.parent / "startup", 2000)["parcel_points"]
    serving = run(SERVING, str(paths_file), env=env)
    peak_mb = serving["after_requests"]["VmHWM"] / 1024

    load_ratio = med("ours", "load_s") / med("peer", "load_s")
    wall_ratio = med("ours", "wall_s") / med("peer", "wall_s")
    time_ok, rss_ok = load_ratio <= TIME_TARGET, peak_mb <= RSS_TARGET_MB
    print(f"\n{'':<6} {'load (median)':>14} {'process wall':>13} {'peak RSS':>10}")
    for side in ("ours", "peer"):
        print(f"{side:<6} {med(side, 'load_s'):12.2f} s {med(side, 'wall_s'):11.2f} s "
              f"{med(side, 'VmHWM') / 1024:7.0f} MB")
    print(f"\nload ours / peer: {load_ratio:.2f}x (wall {wall_ratio:.2f}x)  target <= {TIME_TARGET}x: "
          f"{verdict(time_ok)}")
    print(f"serving process: create_app {serving['create_app_s']:.2f} s, peak RSS after create_app "
          f"{serving['after_create_app']['VmHWM'] / 1024:.0f} MB, after {serving['requests']} note requests "
          f"{peak_mb:.0f} MB (statuses {serving['statuses']})  target <= {RSS_TARGET_MB} MB: {verdict(rss_ok)}")

    results = {
        "benchmark": "startup", "parcels": runs["ours"][0]["counts"]["parcels"],
        "file_mb": round(path.stat().st_size / 2**20, 1), "repeat": args.repeat,
        "ours": {"load_s": round(med("ours", "load_s"), 3), "wall_s": round(med("ours", "wall_s"), 3),
                 "peak_rss_mb": round(med("ours", "VmHWM") / 1024), "runs": runs["ours"]},
        "peer": {"load_s": round(med("peer", "load_s"), 3), "wall_s": round(med("peer", "wall_s"), 3),
                 "peak_rss_mb": round(med("peer", "VmHWM") / 1024), "runs": runs["peer"]},
        "ratios": {"load": round(load_ratio, 3), "wall": round(wall_ratio, 3)},
        "serving": {"create_app_s": round(serving["create_app_s"], 2),
                    "peak_rss_mb_after_create_app": round(serving["after_create_app"]["VmHWM"] / 1024),
                    "peak_rss_mb_after_requests": round(peak_mb), "requests": serving["requests"],
                    "statuses": serving["statuses"]},
        "targets": {"load": f"<= {TIME_TARGET}x peer", "rss": f"<= {RSS_TARGET_MB} MB"},
        "target_met": {"load": time_ok, "rss": rss_ok}, "machine": machine(),
    }
    write_results(args.json, results)
    return results


if __name__ == "__main__":
    main()
