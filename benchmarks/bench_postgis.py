"""PostGIS store vs the same SQL run bare through psycopg: note lookups and vector tiles, in process.

Both sides query the PostGIS city (``gisportal import-all`` of the demo city, database ``city_p<N>``).

* Lookup, ours: what ``gisportal.zoning.lookup``/``gisportal.note.build`` ask the store for a point: the plan versions in
  force today, ``PostgisStore.parcel_at``, then ``zones_on`` + ``overlays_on`` on the parcel (for a point in a
  street, ``zones_on`` on the point). Peer: the same SQL statements (the store's own ``PARCEL_AT_SQL`` and
  ``HITS_SQL``, in psycopg's parameter style), on one psycopg connection in autocommit mode, the parcel's WKB
  handed back as received. Same points (seed 2026, uniform in the city's extent) for both; answers compared
  on the first points. Target: median <= 1.3x bare.
* Tiles, ours: ``PostgisStore.tile(layer, z, x, y, versions in force)``. Peer: the store's ``TILE_SQL[layer]``
  on the bare connection, same parameters. Tiles at z14-z16 under sampled parcels, each layer at the zooms
  it is drawn at (zones 14-16, overlays 14-16, parcels 15-16); the tiles' bytes are compared. Target: median
  per-tile ratio <= 1.2x bare.

Each point / tile runs ours and bare back to back, order alternating, so noise hits both alike.
"""

from __future__ import annotations

import gc
import json
import sys
import time
from datetime import date
from pathlib import Path

import numpy as np
import psycopg
import shapely

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import (  # noqa: E402
    SEED,
    ensure_city,
    machine,
    median,
    parser,
    percentile,
    postgres,
    psycopg_sql,
    sample_tiles,
    verdict,
    write_results,
)

from gisportal.storage.postgis import sql as postgis_sql  # noqa: E402
from gisportal.storage.postgis.store import PostgisStore  # noqa: E402
from gisportal.zoning.plans import versions_in_force  # noqa: E402

LOOKUP_TARGET = 1.3
TILE_TARGET = 1.2
ZONE_COLUMNS = "version_id, code, label_fr, label_ar"
OVERLAY_COLUMNS = "version_id, kind, label_fr, label_ar, provision_fr, provision_ar, max_height_m"


class Bare:
    """The peer: the store's SQL on one psycopg connection (autocommit), results fetched, nothing else."""

    def __init__(self, url: str, srid: int, version_ids: list[int]) -> None:
        self.conn = psycopg.connect(url, autocommit=True)
        self.cur = self.conn.cursor()  # one cursor, kept (the leanest use of psycopg)
        self.srid, self.v = srid, version_ids
        self.parcel_sql = psycopg_sql(postgis_sql.PARCEL_AT_SQL)
        self.zones_sql = psycopg_sql(postgis_sql.HITS_SQL.format(table="gp_zones", columns=ZONE_COLUMNS))
        self.overlays_sql = psycopg_sql(postgis_sql.HITS_SQL.format(table="gp_overlays", columns=OVERLAY_COLUMNS))
        self.tile_sql = {layer: psycopg_sql(sql) for layer, sql in postgis_sql.TILE_SQL.items()}

    def lookup(self, x: float, y: float):
        cur = self.cur
        row = cur.execute(self.parcel_sql, {"x": x, "y": y, "srid": self.srid}).fetchone()
        if row is None:
            point = shapely.to_wkb(shapely.Point(x, y))
            return None, cur.execute(self.zones_sql, {"wkb": point, "srid": self.srid, "v": self.v}).fetchall(), None
        zones = cur.execute(self.zones_sql, {"wkb": row[3], "srid": self.srid, "v": self.v}).fetchall()
        overlays = cur.execute(self.overlays_sql, {"wkb": row[3], "srid": self.srid, "v": self.v}).fetchall()
        return row, zones, overlays

    def tile(self, layer: str, z: int, x: int, y: int) -> bytes:
        data = self.cur.execute(self.tile_sql[layer], {"z": z, "x": x, "y": y, "srid": self.srid,
                                                       "v": self.v}).fetchone()[0]
        return bytes(data or b"")


def same_tile(a: bytes, b: bytes) -> bool:
    """Same features in two vector tiles (ST_AsMVT keeps the rows' order, which a parallel scan may change)."""
    if a == b:
        return True
    import mapbox_vector_tile

    def features(data: bytes) -> dict:
        return {name: sorted(json.dumps(f, sort_keys=True) for f in layer["features"])
                for name, layer in mapbox_vector_tile.decode(data).items()}

    return features(a) == features(b)


def timed_pairs(calls: dict[str, callable], args: list[tuple], rounds: int, warmup: int) -> dict[str, np.ndarray]:
    """Seconds of each call on each argument tuple, rounds x args, the two sides back to back in alternating
    order; an array (rounds, len(args)) per side. The first ``warmup`` arguments are run once, untimed."""
    names = list(calls)
    for a in args[:warmup]:
        for f in calls.values():
            f(*a)
    out = {n: np.zeros((rounds, len(args))) for n in names}
    clock = time.perf_counter
    gc.collect()
    for r in range(rounds):
        for k, a in enumerate(args):
            for name in (names if (k + r) % 2 == 0 else names[::-1]):
                t0 = clock()
                calls[name](*a)
                out[name][r, k] = clock() - t0
    return out


def main() -> dict:
    p = parser(__doc__.splitlines()[0])
    p.add_argument("--points", type=int, default=3000, help="random points for the lookups (default 3000)")
    p.add_argument("--tiles", type=int, default=25, help="tiles per layer and zoom (default 25)")
    p.add_argument("--rounds", type=int, default=3, help="times each tile is asked, per side (default 3)")
    args = p.parse_args()
    results: dict = {"benchmark": "postgis", "machine": machine()}
    with postgres() as server:
        url, loaded = ensure_city(server, args.parcels)
        if loaded:
            results["import_all"] = loaded
        store = PostgisStore(url)
        today = date.today()
        in_force = [v.id for v in versions_in_force(store.plan_versions(), today)]
        bare = Bare(url, store.srid, in_force)
        results["parcels"] = store.counts()["parcels"]

        def ours_lookup(x: float, y: float):
            ids = [v.id for v in versions_in_force(store.plan_versions(), today)]
            parcel = store.parcel_at(x, y)
            if parcel is None:
                return None, store.zones_on(shapely.Point(x, y), ids), None
            return parcel, store.zones_on(parcel.geometry, ids), store.overlays_on(parcel.geometry, ids)

        minx, miny, maxx, maxy = store.extent()
        rng = np.random.default_rng(SEED)
        points = list(zip(rng.uniform(minx, maxx, args.points).tolist(), rng.uniform(miny, maxy, args.points).tolist(),
                          strict=True))

        # Same answers: parcel, and zone / overlay pieces with their areas (the store drops slivers).
        mismatches = 0
        for x, y in points[:300]:
            parcel, zones, overlays = ours_lookup(x, y)
            row, bz, bo = bare.lookup(x, y)
            if (parcel.ref if parcel else None) != (row[0] if row else None):
                mismatches += 1
            elif parcel is not None:
                keep = max(1e-9 * parcel.geometry.area, 1e-6)
                mismatches += sorted(round(h.area_m2, 3) for h in zones) != sorted(
                    round(r[-2], 3) for r in bz if r[-2] > keep)
                mismatches += sorted(round(h.area_m2, 3) for h in overlays) != sorted(
                    round(r[-2], 3) for r in bo if r[-2] > keep)
            else:
                mismatches += len(zones) != len(bz)
        print(f"lookup answers compared on 300 points: {mismatches} mismatches", flush=True)

        lookups = timed_pairs({"ours": ours_lookup, "bare": bare.lookup}, points, 1, 100)
        hit = np.array([bare.lookup(x, y)[0] is not None for x, y in points])

        tiles = sample_tiles(url, args.tiles)
        tile_args = [(layer, z, x, y) for layer, z, x, y in tiles]
        differ = sum(not same_tile(store.tile(layer, z, x, y, in_force), bare.tile(layer, z, x, y))
                     for layer, z, x, y in tile_args)
        sizes = {t: len(bare.tile(*t)) for t in tile_args}
        print(f"{len(tiles)} tiles; features differ on {differ}", flush=True)
        tile_times = timed_pairs({"ours": lambda layer, z, x, y: store.tile(layer, z, x, y, in_force),
                                  "bare": bare.tile}, tile_args, args.rounds, 20)
        store.close()
        bare.conn.close()

    # --- lookups
    lk = {}
    for name, arr in lookups.items():
        us = arr[0] * 1e6
        lk[name] = {sel: {"median_us": round(median(us[mask].tolist()), 1),
                          "p90_us": round(percentile(us[mask].tolist(), 90), 1), "n": int(mask.sum())}
                    for sel, mask in (("all", np.ones_like(hit)), ("hits", hit), ("misses", ~hit))}
    lookup_ratio = lk["ours"]["all"]["median_us"] / lk["bare"]["all"]["median_us"]
    lookup_ratio_hits = lk["ours"]["hits"]["median_us"] / lk["bare"]["hits"]["median_us"]
    # --- tiles: per tile, the median over rounds of each side; the ratio of those, median over tiles
    t_ours = np.median(tile_times["ours"], axis=0) * 1000
    t_bare = np.median(tile_times["bare"], axis=0) * 1000
    per_tile = t_ours / t_bare
    groups: dict[str, dict] = {}
    for key in sorted({(t[0], t[1]) for t in tile_args}, key=lambda k: (k[0], k[1])):
        idx = [i for i, t in enumerate(tile_args) if (t[0], t[1]) == key]
        groups[f"{key[0]} z{key[1]}"] = {
            "tiles": len(idx), "ours_ms": round(float(np.median(t_ours[idx])), 3),
            "bare_ms": round(float(np.median(t_bare[idx])), 3),
            "ratio": round(float(np.median(per_tile[idx])), 3),
            "median_bytes": int(np.median([sizes[tile_args[i]] for i in idx]))}
    tile_ratio = float(np.median(per_tile))
    ok_lookup = lookup_ratio <= LOOKUP_TARGET and mismatches == 0
    ok_tile = tile_ratio <= TILE_TARGET and differ == 0
    results.update({
        "points": args.points, "points_on_parcels": int(hit.sum()), "answer_mismatches": mismatches,
        "lookup": lk, "lookup_ratio": round(lookup_ratio, 3), "lookup_ratio_hits": round(lookup_ratio_hits, 3),
        "tiles": {"count": len(tile_args), "rounds": args.rounds, "features_differ": differ, "groups": groups,
                  "ours_median_ms": round(float(np.median(t_ours)), 3),
                  "bare_median_ms": round(float(np.median(t_bare)), 3),
                  "ratio_of_medians": round(float(np.median(t_ours) / np.median(t_bare)), 3),
                  "ratio": round(tile_ratio, 3)},
        "target": {"lookup": f"median <= {LOOKUP_TARGET}x bare SQL", "tile": f"median per-tile <= {TILE_TARGET}x bare"},
        "target_met": {"lookup": ok_lookup, "tile": ok_tile}})

    print(f"\n{'lookup':<8} {'all median':>11} {'hits median':>12} {'street median':>14}")
    for name in ("ours", "bare"):
        r = lk[name]
        print(f"{name:<8} {r['all']['median_us']:>8.0f} µs {r['hits']['median_us']:>9.0f} µs "
              f"{r['misses']['median_us']:>11.0f} µs")
    print(f"lookup ours / bare: {lookup_ratio:.2f}x (all {args.points} points; {lookup_ratio_hits:.2f}x on the "
          f"{int(hit.sum())} on a parcel)  target <= {LOOKUP_TARGET}x: {verdict(ok_lookup)}")
    print(f"\n{'tiles':<12} {'n':>3} {'ours ms':>8} {'bare ms':>8} {'ratio':>6} {'bytes':>7}")
    for key, g in groups.items():
        print(f"{key:<12} {g['tiles']:>3} {g['ours_ms']:>8.2f} {g['bare_ms']:>8.2f} {g['ratio']:>6.2f} "
              f"{g['median_bytes']:>7}")
    print(f"tile ours / bare: {tile_ratio:.2f}x (median per-tile ratio over {len(tile_args)} tiles x {args.rounds})"
          f"  target <= {TILE_TARGET}x: {verdict(ok_tile)}")
    write_results(args.json, results)
    return results


if __name__ == "__main__":
    main()
