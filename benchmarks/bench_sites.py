"""A site note for a 50-parcel site vs 50 single-parcel lookups with raw STRtree queries (issue #17).

Ours, per site: ``site_from_refs`` (50 parcels by reference, their union) and ``build_site_note`` (zones with
shares on the union of each code, overlaps, remainder, servitudes, buildability, the parcels covered with their
shares, one stated result per layer) on the embedded store.

Peer (``raw``), in the same run, on the same 50 parcels: for each one, what a single-parcel note looks up, done by
hand on shapely STRtrees of the layers read with pyogrio (as in ``bench_lookup.py``): ``parcels.query(point,
'intersects')`` at the parcel's representative point, then the zone and overlay trees ``query(parcel,
'intersects')``, the versions in force kept, ``shapely.intersection`` + ``shapely.area`` of the pieces.

Sites are the 50 parcels nearest a random parcel (a compact block). Ours and the peer alternate site by site.
Target: median site note <= 3x the median of the 50 raw lookups.
"""

from __future__ import annotations

import gc
import sys
import time
from datetime import UTC, date, datetime
from pathlib import Path

import numpy as np
import shapely

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import SEED, ensure_data, machine, median, parser, verdict, write_results  # noqa: E402
from bench_lookup import Raw  # noqa: E402

from gisportal.core.settings import load_settings  # noqa: E402
from gisportal.sites.input import site_from_refs  # noqa: E402
from gisportal.sites.note import build_site_note  # noqa: E402
from gisportal.storage.embedded.store import EmbeddedStore  # noqa: E402
from gisportal.zoning.plans import versions_in_force  # noqa: E402
from gisportal.zoning.rules import load_catalogue  # noqa: E402

TARGET = 3.0
SITE_PARCELS = 50


def main() -> dict:
    p = parser(__doc__.splitlines()[0])
    p.add_argument("--sites", type=int, default=40, help="sites timed (default 40)")
    p.add_argument("--warmup", type=int, default=3, help="untimed sites first (default 3)")
    args = p.parse_args()
    path = ensure_data(args.parcels)
    catalogue = load_catalogue(load_settings({"data_dir": path.parent}).rules_file)
    store = EmbeddedStore(path)
    today, now = date.today(), datetime.now(UTC)
    in_force = [v.id for v in versions_in_force(store.plan_versions(), today)]
    raw = Raw(path, in_force)
    centres = shapely.centroid(raw.pg)
    rng = np.random.default_rng(SEED)
    n = args.warmup + args.sites
    sites = []
    for seed in rng.choice(len(raw.pg), n, replace=False):
        near = raw.pt.query(shapely.buffer(centres[seed], 150.0))
        distance = shapely.distance(centres[near], centres[seed])
        chosen = near[np.argsort(distance)[:SITE_PARCELS]]
        sites.append(chosen)
    points = [shapely.get_coordinates(shapely.point_on_surface(raw.pg[s])) for s in sites]

    def ours(k: int):
        return build_site_note(store, catalogue, site_from_refs(store, raw.refs[sites[k]].tolist()), today, now)

    def peer(k: int):
        return [raw.lookup(float(x), float(y)) for x, y in points[k]]

    # The same parcels and the same zone areas on both sides.
    note, lookups = ours(0), peer(0)
    assert {p.ref for p in note.parcels} >= {r[0] for r in lookups}, "the site lost parcels"
    zoned_raw = sum(float(a.sum()) for _, _, a, _, _ in lookups)
    zoned_ours = sum(z.area_m2 for z in note.zones)
    print(f"site 0: {len(note.parcels)} parcels covered, zoned area ours {zoned_ours:.1f} m², "
          f"sum of the 50 raw lookups {zoned_raw:.1f} m²", flush=True)

    times: dict[str, list[float]] = {"site_note": [], "raw_50": []}
    gc.collect()
    clock = time.perf_counter_ns
    for k in range(n):
        for name, f in (("site_note", ours), ("raw_50", peer))[:: 1 if k % 2 else -1]:
            t0 = clock()
            f(k)
            if k >= args.warmup:
                times[name].append((clock() - t0) / 1e6)
    ours_ms, peer_ms = median(times["site_note"]), median(times["raw_50"])
    ratio = ours_ms / peer_ms
    ok = ratio <= TARGET
    print(f"\n{args.sites} sites of {SITE_PARCELS} parcels ({store.counts()['parcels']:_}-parcel city)")
    print(f"site note (refs -> union -> build_site_note): median {ours_ms:.2f} ms")
    print(f"raw STRtree, 50 single-parcel lookups:        median {peer_ms:.2f} ms")
    print(f"ratio: {ratio:.2f}x  target <= {TARGET}x: {verdict(ok)}")
    results = {"benchmark": "sites", "parcels": store.counts()["parcels"], "sites": args.sites,
               "site_parcels": SITE_PARCELS, "site_note_median_ms": round(ours_ms, 3),
               "raw_50_lookups_median_ms": round(peer_ms, 3), "ratio": round(ratio, 3),
               "target": f"site note <= {TARGET}x 50 raw lookups", "target_met": ok, "machine": machine()}
    write_results(args.json, results)
    return results


if __name__ == "__main__":
    main()
