"""Import of the parcels into PostGIS: gisportal vs ogr2ogr with COPY, same GeoPackage layer, index included.

Ours (``parcels``): in a fresh process, on an empty database: ``PostgisStore(url)`` (the schema, made by the
app's Alembic migration, with its GiST index and its two B-trees: the unique reference key, and street + house
number for the address search), the ``parcels`` layer of the demo city's GeoPackage read with
``gisportal.core.vectors.read_vector_layer`` (pyogrio), then ``PostgisStore.put_parcels`` (reference keys, streets
and house numbers; one binary COPY straight into ``gp_parcels``, in chunks built while the server loads the
previous one; the three indexes built at once after it, in the same transaction; the search places; ANALYZE).
Timed from before the store is opened to after ``put_parcels`` returns (Python's imports excluded: ~2 s,
printed apart).

Peer: ``ogr2ogr -f PostgreSQL PG:... gisportal.gpkg parcels -lco SPATIAL_INDEX=GIST`` with
``PG_USE_COPY=YES``, on another empty database of the same server, wall clock of the process.

Also, once per run: ``gisportal import-all benchmarks/.data/p<N>`` (plans with their history, zones,
servitudes, parcels, facts, registry), which loads the PostGIS city the other issue #4 benchmarks use
(database ``city_p<N>``; ``VACUUM ANALYZE`` after it, timed apart). Target: parcels <= 1.5x ogr2ogr.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import (  # noqa: E402
    PgServer,
    city_db,
    ensure_data,
    import_city,
    machine,
    median,
    parser,
    postgres,
    verdict,
    write_results,
)

TARGET = 1.5

#: Run in a fresh process: open the store on the empty database, read the layer, put_parcels; prints JSON.
OURS = r"""
import json, sys, time
t_imports = time.perf_counter()
from gisportal.storage.postgis.store import PostgisStore
from gisportal.core.vectors import read_vector_layer
imports_s = time.perf_counter() - t_imports
url, path = sys.argv[1], sys.argv[2]
t0 = time.perf_counter()
store = PostgisStore(url)
t1 = time.perf_counter()
frame = read_vector_layer(path, layer="parcels")
t2 = time.perf_counter()
counts = store.put_parcels(frame[["ref", "address", "quarter", "geometry"]])
t3 = time.perf_counter()
print(json.dumps({"total_s": t3 - t0, "open_store_s": t1 - t0, "read_layer_s": t2 - t1, "put_parcels_s": t3 - t2,
                  "imports_s": imports_s, "counts": counts}))
"""


def table_facts(server: PgServer, db: str, table: str) -> dict:
    """Rows, indexes (name: method) and sizes of a table."""
    rows = server.execute(f"SELECT count(*) FROM {table}", db)[0][0]
    indexes = {name: method for name, method in server.execute(
        "SELECT i.relname, a.amname FROM pg_index x JOIN pg_class i ON i.oid = x.indexrelid "
        f"JOIN pg_am a ON a.oid = i.relam WHERE x.indrelid = '{table}'::regclass ORDER BY 1", db)}
    table_mb, index_mb = server.execute(
        f"SELECT pg_table_size('{table}'), pg_indexes_size('{table}')", db)[0]
    return {"rows": rows, "indexes": indexes, "table_mb": round(table_mb / 2**20, 1),
            "indexes_mb": round(index_mb / 2**20, 1)}


def run_ours(server: PgServer, gpkg: Path) -> dict:
    url = server.create("import_ours")
    started = time.perf_counter()
    done = subprocess.run([sys.executable, "-c", OURS, url, str(gpkg)], capture_output=True, text=True)
    wall = time.perf_counter() - started
    if done.returncode != 0:
        raise RuntimeError(f"our import failed:\n{done.stderr[-3000:]}")
    out = json.loads(done.stdout.strip().splitlines()[-1])
    out["process_wall_s"] = wall
    out["table"] = table_facts(server, "import_ours", "gp_parcels")
    server.drop("import_ours")
    return out


#: Indexes our table has and ogr2ogr's has not (the benchmark cluster's maintenance_work_mem, 1 GB, for both).
SAME_INDEXES = (
    'CREATE UNIQUE INDEX parcels_ref_key ON parcels (ref_key COLLATE "C")',
    'CREATE INDEX parcels_address ON parcels (address COLLATE "C")',
)


def run_ogr2ogr(server: PgServer, gpkg: Path) -> dict:
    server.create("import_ogr")
    target = f"PG:host=127.0.0.1 port={server.port} user=postgres dbname=import_ogr"
    cmd = ["ogr2ogr", "--config", "PG_USE_COPY", "YES", "-f", "PostgreSQL", target, str(gpkg), "parcels",
           "-lco", "SPATIAL_INDEX=GIST"]
    started = time.perf_counter()
    done = subprocess.run(cmd, capture_output=True, text=True)
    wall = time.perf_counter() - started
    if done.returncode != 0:
        raise RuntimeError(f"ogr2ogr failed:\n{done.stderr[-3000:]}")
    # The same indexes as ours, for comparison (informative): the unique key on the reference and a B-tree for
    # the address search (here on the address itself: ogr2ogr's table has no street and house columns).
    started = time.perf_counter()
    for statement in SAME_INDEXES:
        server.execute(statement, "import_ogr")
    same = time.perf_counter() - started
    out = {"total_s": wall, "same_indexes_s": same, "with_same_indexes_s": wall + same, "command": " ".join(cmd),
           "table": table_facts(server, "import_ogr", "parcels")}
    server.drop("import_ogr")
    return out


def main() -> dict:
    p = parser(__doc__.splitlines()[0])
    p.add_argument("--repeat", type=int, default=1, help="parcel imports per side, alternating (default 1)")
    p.add_argument("--skip-import-all", action="store_true",
                   help="do not run gisportal import-all (the city database is then loaded by the next benchmark)")
    args = p.parse_args()
    if shutil.which("ogr2ogr") is None:
        sys.exit("bench_import.py needs ogr2ogr: apt-get install gdal-bin")
    gpkg = ensure_data(args.parcels)
    results: dict = {"benchmark": "import", "machine": machine()}
    with postgres() as server:
        if not args.skip_import_all:
            db = city_db(args.parcels)
            loading = f"{db}_loading"
            info = import_city(server, args.parcels, loading)
            if server.exists(db):
                server.drop(loading)
            else:
                server.execute(f'ALTER DATABASE "{loading}" RENAME TO "{db}"')
            results["import_all"] = info
            print(f"gisportal import-all: {info['import_all_s']:.1f} s ({info['report']}); "
                  f"VACUUM ANALYZE {info['vacuum_analyze_s']:.1f} s; database {info['database_mb']} MB", flush=True)
        runs: dict[str, list[dict]] = {"ours": [], "ogr2ogr": []}
        for r in range(args.repeat):
            order = ("ogr2ogr", "ours") if r % 2 == 0 else ("ours", "ogr2ogr")
            for side in order:
                out = run_ogr2ogr(server, gpkg) if side == "ogr2ogr" else run_ours(server, gpkg)
                runs[side].append(out)
                print(f"{side}: {out['total_s']:.1f} s"
                      + (f" (open store {out['open_store_s']:.1f} s, read layer {out['read_layer_s']:.1f} s, "
                         f"put_parcels {out['put_parcels_s']:.1f} s)" if side == "ours" else ""), flush=True)
    ours = median([r["total_s"] for r in runs["ours"]])
    peer = median([r["total_s"] for r in runs["ogr2ogr"]])
    ratio = ours / peer
    rows_ok = runs["ours"][0]["table"]["rows"] == runs["ogr2ogr"][0]["table"]["rows"]
    ok = ratio <= TARGET and rows_ok
    results.update({
        "parcels": runs["ours"][0]["table"]["rows"], "runs": runs,
        "ours_s": round(ours, 2), "ogr2ogr_s": round(peer, 2), "ratio": round(ratio, 3),
        "ogr2ogr_with_same_indexes_s": round(median([r["with_same_indexes_s"] for r in runs["ogr2ogr"]]), 2),
        "ratio_same_indexes": round(ours / median([r["with_same_indexes_s"] for r in runs["ogr2ogr"]]), 3),
        "phases_s": {k: round(median([r[k] for r in runs["ours"]]), 2)
                     for k in ("open_store_s", "read_layer_s", "put_parcels_s")},
        "target": f"parcels import <= {TARGET}x ogr2ogr (PG_USE_COPY=YES, GiST index)", "target_met": ok})
    print(f"\nparcels: ours {ours:.1f} s, ogr2ogr {peer:.1f} s: {ratio:.2f}x  target <= {TARGET}x: {verdict(ok)}"
          f"  (rows {runs['ours'][0]['table']['rows']} vs {runs['ogr2ogr'][0]['table']['rows']})")
    print(f"ours: {runs['ours'][0]['table']}\nogr2ogr: {runs['ogr2ogr'][0]['table']}")
    write_results(args.json, results)
    return results


if __name__ == "__main__":
    main()
