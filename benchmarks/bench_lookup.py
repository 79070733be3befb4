"""Point -> parcel + zones + overlays, in process: our store vs raw shapely STRtree queries.

Ours, per point (as ``gisportal.zoning.lookup`` and ``gisportal.note.build`` use the store):

* ``lookup``: plan versions in force today, ``EmbeddedStore.parcel_at``, then
  ``zones_on`` + ``overlays_on`` on the parcel; for a point in a street,
  ``zones_on`` on the point (what ``find_parcel`` does to answer 404
  ``no_parcel_here`` with the zones there).
* ``note``: ``parcel_at`` + the full ``build_note`` (parcels hit only).
* ``note+json``: ``note`` + ``note_to_dict`` (informational).

Peer (``raw``), in the same run and on the same points: the same three layers
read straight from the GeoPackage with pyogrio, one ``shapely.STRtree`` each,
and by hand: ``tree.query(point, 'intersects')`` on parcels, then zone and
overlay trees ``query(parcel, 'intersects')``, the versions in force kept,
``shapely.intersection`` + ``shapely.area`` of the pieces (zones at the point
for street points). Its answers are checked against ours.

The variants are interleaved point by point (order rotated) so machine noise
hits all of them alike. Target: median lookup <= 1.5x raw.
"""

from __future__ import annotations

import gc
import sys
import time
from datetime import UTC, date, datetime
from pathlib import Path

import numpy as np
import pyogrio
import shapely

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import SEED, ensure_data, machine, median, parser, percentile, verdict, write_results  # noqa: E402

from gisportal.core.settings import load_settings  # noqa: E402
from gisportal.note.build import build_note  # noqa: E402
from gisportal.note.render import note_to_dict  # noqa: E402
from gisportal.storage.embedded.store import EmbeddedStore  # noqa: E402
from gisportal.zoning.plans import versions_in_force  # noqa: E402
from gisportal.zoning.rules import load_catalogue  # noqa: E402

TARGET = 1.5


class Raw:
    """The peer: the layers read with pyogrio and queried by hand with shapely."""

    def __init__(self, path: Path, version_ids: list[int]) -> None:
        def read(layer: str, columns: list[str]):
            frame = pyogrio.read_dataframe(path, layer=layer, columns=columns, use_arrow=True)
            geoms = np.asarray(frame.geometry.values, dtype=object)
            return frame, geoms, shapely.STRtree(geoms)

        parcels, self.pg, self.pt = read("parcels", ["ref"])
        self.refs = parcels["ref"].to_numpy(dtype=object)
        zones, self.zg, self.zt = read("zones", ["version_id"])
        overlays, self.og, self.ot = read("overlays", ["version_id"])
        self.zkeep = np.isin(zones["version_id"].to_numpy(), version_ids)
        self.okeep = np.isin(overlays["version_id"].to_numpy(), version_ids)

    def lookup(self, x: float, y: float):
        point = shapely.Point(x, y)
        hits = self.pt.query(point, predicate="intersects")
        if not len(hits):
            z = self.zt.query(point, predicate="intersects")
            return None, z[self.zkeep[z]], None, None, None
        parcel = self.pg[hits.min()]
        z = self.zt.query(parcel, predicate="intersects")
        z = z[self.zkeep[z]]
        z_area = shapely.area(shapely.intersection(self.zg[z], parcel))
        o = self.ot.query(parcel, predicate="intersects")
        o = o[self.okeep[o]]
        o_area = shapely.area(shapely.intersection(self.og[o], parcel))
        return self.refs[hits.min()], z, z_area, o, o_area


def main() -> dict:
    p = parser(__doc__.splitlines()[0])
    p.add_argument("--points", type=int, default=4000, help="random points (default 4000)")
    p.add_argument("--warmup", type=int, default=200, help="untimed points first (default 200)")
    args = p.parse_args()
    path = ensure_data(args.parcels)
    settings = load_settings({"data_dir": path.parent})
    catalogue = load_catalogue(settings.rules_file)

    started = time.perf_counter()
    store = EmbeddedStore(path)
    print(f"store loaded in {time.perf_counter() - started:.1f} s: {store.counts()}", flush=True)
    today = date.today()
    now = datetime.now(UTC)
    in_force = [v.id for v in versions_in_force(store.plan_versions(), today)]
    raw = Raw(path, in_force)

    minx, miny, maxx, maxy = store.extent()
    rng = np.random.default_rng(SEED)
    n = args.warmup + args.points
    xs = rng.uniform(minx, maxx, n)
    ys = rng.uniform(miny, maxy, n)

    def ours_lookup(x: float, y: float):
        ids = [v.id for v in versions_in_force(store.plan_versions(), today)]
        parcel = store.parcel_at(x, y)
        if parcel is None:
            return None, store.zones_on(shapely.Point(x, y), ids), None
        return parcel, store.zones_on(parcel.geometry, ids), store.overlays_on(parcel.geometry, ids)

    def ours_note(x: float, y: float):
        parcel = store.parcel_at(x, y)
        return None if parcel is None else build_note(store, catalogue, parcel, today, now)

    def ours_note_json(x: float, y: float):
        parcel = store.parcel_at(x, y)
        if parcel is None:
            return None
        return note_to_dict(build_note(store, catalogue, parcel, today, now), catalogue, "fr")

    # Same answers from both sides before timing anything.
    mismatches = 0
    for x, y in zip(xs[:500], ys[:500], strict=True):
        parcel, zones, overlays = ours_lookup(x, y)
        ref, z, z_area, o, o_area = raw.lookup(x, y)
        if (parcel.ref if parcel else None) != ref:
            mismatches += 1
        elif parcel is not None:
            ours_z = sorted(round(h.area_m2, 3) for h in zones)
            raw_z = sorted(round(float(a), 3) for a in z_area if a > max(1e-9 * parcel.geometry.area, 1e-6))
            ours_o = sorted(round(h.area_m2, 3) for h in overlays)
            raw_o = sorted(round(float(a), 3) for a in o_area if a > max(1e-9 * parcel.geometry.area, 1e-6))
            mismatches += (ours_z != raw_z) + (ours_o != raw_o)
        elif len(zones) != len(z):
            mismatches += 1
    print(f"answers checked on 500 points: {mismatches} mismatches", flush=True)

    variants = {"raw": raw.lookup, "lookup": ours_lookup, "note": ours_note, "note+json": ours_note_json}
    names = list(variants)
    times: dict[str, list[float]] = {name: [] for name in names}
    hit = np.zeros(n, dtype=bool)
    clock = time.perf_counter_ns
    gc.collect()
    for k in range(n):
        x, y = float(xs[k]), float(ys[k])
        order = names[k % len(names):] + names[:k % len(names)]
        for name in order:
            f = variants[name]
            t0 = clock()
            out = f(x, y)
            dt = (clock() - t0) / 1000.0
            if k >= args.warmup:
                times[name].append(dt)
            if name == "lookup":
                hit[k] = out[0] is not None
    hit = hit[args.warmup:]
    n_hits = int(hit.sum())
    print(f"{args.points} points, {n_hits} on a parcel, {args.points - n_hits} in streets/outside parcels")

    def stats(values: np.ndarray) -> dict:
        v = values.tolist()
        return {"median_us": round(median(v), 1), "p90_us": round(percentile(v, 90), 1), "n": len(v)}

    rows = {}
    for name in names:
        arr = np.asarray(times[name])
        rows[name] = {"all": stats(arr), "hits": stats(arr[hit]), "misses": stats(arr[~hit])}
    raw_all, raw_hits = rows["raw"]["all"]["median_us"], rows["raw"]["hits"]["median_us"]
    ratios = {
        "lookup_vs_raw_all": rows["lookup"]["all"]["median_us"] / raw_all,
        "lookup_vs_raw_hits": rows["lookup"]["hits"]["median_us"] / raw_hits,
        "note_vs_raw_hits": rows["note"]["hits"]["median_us"] / raw_hits,
        "note_json_vs_raw_hits": rows["note+json"]["hits"]["median_us"] / raw_hits,
    }
    ok = ratios["lookup_vs_raw_all"] <= TARGET and ratios["lookup_vs_raw_hits"] <= TARGET

    print(f"\n{'variant':<10} {'all pts median':>15} {'parcel hits median':>19} {'p90 (hits)':>11} "
          f"{'street pts median':>18}")
    for name in names:
        r = rows[name]
        print(f"{name:<10} {r['all']['median_us']:>12.1f} µs {r['hits']['median_us']:>16.1f} µs "
              f"{r['hits']['p90_us']:>8.1f} µs {r['misses']['median_us']:>15.1f} µs")
    print(f"\nlookup / raw: {ratios['lookup_vs_raw_all']:.2f}x (all points), "
          f"{ratios['lookup_vs_raw_hits']:.2f}x (parcel hits)  target <= {TARGET}x: {verdict(ok)}")
    print(f"note / raw:   {ratios['note_vs_raw_hits']:.2f}x (parcel hits; full build_note)")
    print(f"note+json / raw: {ratios['note_json_vs_raw_hits']:.2f}x (parcel hits; build_note + note_to_dict)")

    results = {"benchmark": "lookup", "parcels": store.counts()["parcels"], "points": args.points,
               "points_on_parcels": n_hits, "answer_mismatches": mismatches, "variants": rows,
               "ratios": {k: round(v, 3) for k, v in ratios.items()}, "target": f"lookup median <= {TARGET}x raw",
               "target_met": ok, "machine": machine()}
    write_results(args.json, results)
    return results


if __name__ == "__main__":
    main()
