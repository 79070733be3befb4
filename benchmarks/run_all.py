"""Run every benchmark, print a summary table of ratios and write benchmarks/results.json.

    .venv/bin/python benchmarks/run_all.py                   # the 1,000,000-parcel city
    .venv/bin/python benchmarks/run_all.py --parcels 50000   # a quick run
    .venv/bin/python benchmarks/run_all.py --only lookup,startup

The demo city is built once into benchmarks/.data/p<N>/ (``gisportal demo``).
``bench_lighthouse.py`` (issue #15) needs npm's ``lighthouse`` (a dev dependency, installed by the script when
missing) and Debian's chromium.
``bench_documents.py`` (issue #3) uses a 6,000-parcel city unless --parcels
is given something other than the default.
The issue #4 benchmarks (import, postgis, tiles, load) share one throwaway
PostgreSQL + PostGIS cluster started here (``tests/support/pgcluster.py``, removed at
the end); ``bench_import.py`` loads the city into it with ``gisportal
import-all`` and the others use that database.
``bench_national.py`` (issue #18) streams its own cities into PostGIS (1,000,000 parcels and --parcels, up to
10,000,000: ``run_all.py --only national --parcels 10000000``); no embedded city is built for it alone.
Each benchmark runs in its own process; extra options are passed through
with ``--<name>-args`` (quoted), e.g. ``--load-args "--duration 30"``.
Results are merged into benchmarks/results.json: the benchmarks run replace
their own entries, the others are kept.
"""

from __future__ import annotations

import json
import os
import shlex
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import BENCH_DIR, DATA_ROOT, DEFAULT_PARCELS, PG_ENV, ensure_data, machine, start_cluster, verdict  # noqa: E402

#: bench_<name>.py scripts run by default, in this order (issue #2: lookup, http, startup; issue #3: documents;
#: issue #4: import, postgis, tiles, load; issue #15: lighthouse).
BENCHMARKS = tuple(n for n in ("lookup", "http", "startup", "documents", "import", "postgis", "tiles", "load",
                               "publication", "sites", "ogcapi", "lighthouse", "national")
                   if (BENCH_DIR / f"bench_{n}.py").exists())
#: Benchmarks needing the PostgreSQL cluster (bench_import.py first: it loads the city the others use).
NEEDS_POSTGRES = {"import", "postgis", "tiles", "load", "ogcapi", "national"}
#: Benchmarks that make their own city (``bench_national.py``: streamed into PostGIS at --parcels, up to 10 M).
OWN_CITY = {"national"}


def summary_rows(results: dict) -> list[tuple[str, str, str, str, str]]:
    """(what, ours, peer, ratio, target) rows for the table."""
    rows = []
    r = results.get("lookup")
    if r:
        v = r["variants"]
        rows += [
            ("lookup: point -> parcel+zones+overlays (median, all points)",
             f"{v['lookup']['all']['median_us']:.0f} µs", f"raw STRtree {v['raw']['all']['median_us']:.0f} µs",
             f"{r['ratios']['lookup_vs_raw_all']:.2f}x",
             f"<= 1.5x: {verdict(r['ratios']['lookup_vs_raw_all'] <= 1.5)}"),
            ("lookup: same, points on a parcel",
             f"{v['lookup']['hits']['median_us']:.0f} µs", f"raw STRtree {v['raw']['hits']['median_us']:.0f} µs",
             f"{r['ratios']['lookup_vs_raw_hits']:.2f}x",
             f"<= 1.5x: {verdict(r['ratios']['lookup_vs_raw_hits'] <= 1.5)}"),
            ("lookup: full build_note (points on a parcel)",
             f"{v['note']['hits']['median_us']:.0f} µs", f"raw STRtree {v['raw']['hits']['median_us']:.0f} µs",
             f"{r['ratios']['note_vs_raw_hits']:.2f}x", "(informative)"),
            ("lookup: build_note + note_to_dict",
             f"{v['note+json']['hits']['median_us']:.0f} µs", f"raw STRtree {v['raw']['hits']['median_us']:.0f} µs",
             f"{r['ratios']['note_json_vs_raw_hits']:.2f}x", "(informative)"),
        ]
    r = results.get("http")
    if r:
        t = r["runs"]["trivial"]
        for name in ("parcel_points", "random_points", "refs", "plans"):
            if name not in r["runs"]:
                continue
            o = r["runs"][name]
            target = (f">= 0.5x: {verdict(r['target_met'])}" if name == "parcel_points" else "(informative)")
            what = "GET /api/v1/plans (framework floor)" if name == "plans" else \
                f"GET /api/v1/notes, {name.replace('_', ' ')}"
            rows.append((f"http: {what} "
                         f"(p50 {o['latency_us']['p50'] / 1000:.0f} ms, p99 {o['latency_us']['p99'] / 1000:.0f} ms; "
                         f"404 {o['not_found_404']}, errors {o['other_non_2xx'] + o['socket_errors']})",
                         f"{o['req_per_s']:.0f} req/s", f"trivial Flask {t['req_per_s']:.0f} req/s",
                         f"{r['ratios'][name]:.2f}x", target))
        for name in ("parcel_points", "plans"):
            if name in r.get("cpu_ratios", {}):
                o = r["runs"][name]
                rows.append((f"http: server CPU time per request ({name.replace('_', ' ')}; trivial / ours)",
                             f"{o['server_cpu_ms_per_req']:.2f} ms", f"trivial {t['server_cpu_ms_per_req']:.2f} ms",
                             f"{r['cpu_ratios'][name]:.2f}x", "(informative)"))
    r = results.get("startup")
    if r:
        rows += [
            ("startup: EmbeddedStore load + index (fresh process)", f"{r['ours']['load_s']:.2f} s",
             f"pyogrio+STRtree {r['peer']['load_s']:.2f} s", f"{r['ratios']['load']:.2f}x",
             f"<= 1.3x: {verdict(r['target_met']['load'])}"),
            ("startup: peak RSS of a serving process (create_app + requests)",
             f"{r['serving']['peak_rss_mb_after_requests']} MB", f"peer load {r['peer']['peak_rss_mb']} MB", "",
             f"<= 3072 MB: {verdict(r['target_met']['rss'])}"),
        ]
    r = results.get("documents")
    if r:
        try:
            rows += [
                (f"documents: PDF note ({r['pdf_ms']['pages_median']} page(s))", f"{r['pdf_ms']['ours_median']} ms",
                 f"bare WeasyPrint {r['pdf_ms']['weasyprint_median']} ms", f"{r['pdf_ratio']:.2f}x",
                 f"<= {r['pdf_target']}x: {r['pdf_verdict']}"),
                ("documents: verification of an issued note", f"{r['verify_us']['ours_median']} µs",
                 f"SQLite read + Ed25519 {r['verify_us']['raw_median']} µs", f"{r['verify_ratio']:.2f}x",
                 f"<= {r['verify_target']}x: {r['verify_verdict']}"),
            ]
        except (KeyError, TypeError):
            rows.append(("documents: see results.json", "", "", "", ""))
    r = results.get("publication")
    if r:
        o, q, v = r["ours_median"], r["peer_median"], r["validation"]
        rows += [
            (f"publication: import of {r['features']:,} zones, Drafts.create without its validation (B)",
             f"{o['import_without_validation_s']:.2f} s", f"pyogrio read+write {q['total_s']:.2f} s",
             f"{r['ratio_b_import']:.2f}x", f"<= {r['target_ratio']}x: {verdict(r['target_met'])}"),
            ("publication: whole Drafts.create, validation included (A)", f"{o['import_total_s']:.2f} s",
             f"pyogrio read+write {q['total_s']:.2f} s", f"{r['ratio_a_total']:.2f}x", "(informative)"),
            ("publication: validate_layer, per 10,000 features", f"{v['per_10k_features_s']:.3f} s", "", "",
             "(reported)"),
        ]
    r = results.get("sites")
    if r:
        rows.append((f"sites: site note of a {r['site_parcels']}-parcel site", f"{r['site_note_median_ms']:.1f} ms",
                     f"{r['site_parcels']} raw STRtree lookups {r['raw_50_lookups_median_ms']:.1f} ms",
                     f"{r['ratio']:.2f}x", f"<= 3x: {verdict(r['target_met'])}"))
    rows += issue4_rows(results)
    rows += lighthouse_rows(results)
    return rows


def lighthouse_rows(results: dict) -> list[tuple[str, str, str, str, str]]:
    """Rows of the Lighthouse benchmark (issue #15): scores and bytes on the wire per page, against Leaflet alone."""
    r = results.get("lighthouse")
    if not r or "peer_leaflet" not in r:
        return []
    peer = r["peer_leaflet"]
    rows = []
    for name, what in (("map", "map / (fr)"), ("map_ar", "map / (ar)"), ("note", "note page (fr)")):
        if name not in r:
            continue
        o = r[name]
        met = o["performance"] >= 90 and o["accessibility"] == 100 and (name != "map" or o["bytes"] <= 250 * 1024)
        rows.append((f"lighthouse: {what}, mobile (performance {o['performance']}, accessibility "
                     f"{o['accessibility']}, best practices {o['best_practices']}; {o['requests']} requests)",
                     f"{o['bytes'] / 1024:.1f} KB", f"Leaflet alone {peer['bytes'] / 1024:.1f} KB",
                     f"{o['bytes'] / peer['bytes']:.2f}x",
                     f"perf >= 90, a11y 100{', <= 250 KB' if name == 'map' else ''}: {verdict(met)}"))
    return rows


def issue4_rows(results: dict) -> list[tuple[str, str, str, str, str]]:
    """Rows of the issue #4 benchmarks (PostGIS, tiles, import, load)."""
    rows = []
    r = results.get("postgis")
    if r:
        lk = r["lookup"]
        rows += [
            ("postgis: note lookup (parcel_at + zones_on + overlays_on), median, all points",
             f"{lk['ours']['all']['median_us']:.0f} µs", f"bare psycopg SQL {lk['bare']['all']['median_us']:.0f} µs",
             f"{r['lookup_ratio']:.2f}x", f"<= 1.3x: {verdict(r['target_met']['lookup'])}"),
            ("postgis: tile z14-z16 (PostgisStore.tile), median per-tile ratio",
             f"{r['tiles']['ours_median_ms']:.2f} ms", f"bare ST_AsMVT {r['tiles']['bare_median_ms']:.2f} ms",
             f"{r['tiles']['ratio']:.2f}x", f"<= 1.2x: {verdict(r['target_met']['tile'])}"),
        ]
    r = results.get("tiles")
    if r:
        if "http" in r:
            h = r["http"]
            rows.append(("tiles: HTTP tile z14-z16, gisportal serve (PostGIS), median per-tile ratio",
                         f"{h['ours_median_ms']:.2f} ms", f"TiPg {h['tipg_median_ms']:.2f} ms", f"{h['ratio']:.2f}x",
                         f"< 1x: {verdict(h['target_met'])}"))
        if "read" in r:
            t = r["read"]
            rows.append(("tiles: pre-built (embedded) tile, median per-tile ratio", f"{t['ours_median_ms']:.3f} ms",
                         f"ST_AsMVT {t['bare_median_ms']:.3f} ms", f"{t['ratio']:.2f}x",
                         f"<= 3x: {verdict(t['target_met'])}"))
        if "build" in r:
            b = r["build"]
            rows.append(("tiles: tileset build, 3 layers (export GeoJSONSeq + tippecanoe)", f"{b['ours_s']:.1f} s",
                         f"tippecanoe alone {b['tippecanoe_s']:.1f} s", f"{b['ratio']:.2f}x",
                         f"<= 1.5x: {verdict(b['target_met'])}"))
    r = results.get("import")
    if r:
        rows.append((f"import: {r['parcels']:,} parcels into PostGIS (read + put_parcels, indexes included)",
                     f"{r['ours_s']:.1f} s", f"ogr2ogr COPY+GiST {r['ogr2ogr_s']:.1f} s", f"{r['ratio']:.2f}x",
                     f"<= 1.5x: {verdict(r['target_met'])}"))
        if "ratio_same_indexes" in r:
            rows.append(("import: same, peer given our unique key and address B-tree too",
                         f"{r['ours_s']:.1f} s", f"ogr2ogr + same indexes {r['ogr2ogr_with_same_indexes_s']:.1f} s",
                         f"{r['ratio_same_indexes']:.2f}x", "(informative)"))
        if "import_all" in r:
            rows.append(("import: gisportal import-all (whole instance, process wall time)",
                         f"{r['import_all']['import_all_s']:.1f} s", "", "", "(informative)"))
    r = results.get("load")
    if r:
        for backend, run in r["runs"].items():
            lat = run["latency_us"]
            rows.append((f"load: tiles+notes {r['settings']['duration_s']:g} s, serve on {backend} (p50 "
                         f"{lat['p50'] / 1000:.0f} ms, p95 {lat['p95'] / 1000:.0f} ms, p99 {lat['p99'] / 1000:.0f} ms)",
                         f"{run['req_per_s']:.0f} req/s", "", f"{run['errors_total']} errors",
                         f"0 errors: {verdict(run['errors_total'] == 0)}"))
    r = results.get("national")
    if r:
        for size, s in r["sizes"].items():
            ld = s["load"]
            rows.append((f"national: notes under load, {int(size):,} parcels in PostGIS, {r['workers']} workers (p50 "
                         f"{ld['p50_ms']:.0f} ms, p99 {ld['p99_ms']:.0f} ms; worker RSS {max(ld['worker_rss_mb'])} MB)",
                         f"{ld['req_per_s']:.0f} req/s", "", f"{ld['errors']} errors",
                         f"0 errors: {verdict(ld['errors'] == 0)}"))
        rows.append(("national: worker RSS at the largest size / at the smallest", "", "",
                     f"{r['worker_rss_growth']:.2f}x", f"<= 1.25x: {verdict(r['target_met']['memory'])}"))
        if "import" in r:
            im = r["import"]
            rows.append((f"national: import of {im['parcels']:,} parcels from a GeoPackage (gisportal put_parcels)",
                         f"{im['ours_s']:.1f} s", f"ogr2ogr -f PostgreSQL {im['ogr2ogr_s']:.1f} s",
                         f"{im['ratio']:.2f}x", f"<= 1.5x: {verdict(im['target_met'])}"))
    r = results.get("ogcapi")
    for backend in ("embedded", "postgis") if r else ():
        page, dl = r[backend]["items_page"], r[backend]["download_gpkg"]
        rows += [(f"ogcapi: items page of 1,000 parcels, {backend} ({r['parcels']:,} parcels)",
                  f"{page['ours_median_ms']} ms", f"pygeoapi {page['pygeoapi_median_ms']} ms", f"{page['ratio']}x",
                  f"<= 1.0x: {page['verdict']}"),
                 (f"ogcapi: parcels GeoPackage download, {backend} (first, written then streamed)",
                  f"{dl['ours_first_s']} s", f"ogr2ogr {dl['ogr2ogr_s']} s", f"{dl['ratio_first']}x",
                  f"<= 1.5x: {dl['verdict']}")]
    return rows


def print_table(rows: list[tuple[str, ...]]) -> None:
    head = ("measure", "ours", "peer", "ratio", "target")
    widths = [max(len(str(x)) for x in col) for col in zip(head, *rows, strict=True)]
    line = " | ".join(h.ljust(w) for h, w in zip(head, widths, strict=True))
    print(line)
    print("-+-".join("-" * w for w in widths))
    for row in rows:
        print(" | ".join(str(c).ljust(w) for c, w in zip(row, widths, strict=True)))


def main() -> None:
    import argparse

    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--parcels", type=int, default=DEFAULT_PARCELS)
    p.add_argument("--only", default=",".join(BENCHMARKS), help="comma-separated subset of: " + ", ".join(BENCHMARKS))
    p.add_argument("--output", type=Path, default=BENCH_DIR / "results.json")
    for name in BENCHMARKS:
        p.add_argument(f"--{name}-args", default="", help=f"extra options for bench_{name}.py")
    args = p.parse_args()
    unknown = [n for n in args.only.split(",") if n and n not in BENCHMARKS]
    if unknown:
        p.error(f"unknown benchmark(s): {', '.join(unknown)}; known: {', '.join(BENCHMARKS)}")
    if {n for n in args.only.split(",") if n} - OWN_CITY:
        ensure_data(args.parcels)
    started_at = datetime.now(UTC).isoformat(timespec="seconds")
    results: dict = {}
    if args.output.exists():  # keep the figures of the benchmarks not run this time
        try:
            results = json.loads(args.output.read_text())
        except json.JSONDecodeError:
            results = {}
    results.update({"parcels_requested": args.parcels, "started": started_at, "machine": machine()})
    selected = sorted({n for n in args.only.split(",") if n}, key=BENCHMARKS.index)
    cluster = None
    if NEEDS_POSTGRES & set(selected) and not os.environ.get(PG_ENV):
        print("starting a throwaway PostgreSQL + PostGIS cluster ...", flush=True)
        cluster = start_cluster()
        os.environ[PG_ENV] = cluster.base_url
    try:
        failed = run_benchmarks(args, selected, results, started_at)
    finally:
        if cluster is not None:
            cluster.close()
            os.environ.pop(PG_ENV, None)
    results["summary"] = [dict(zip(("measure", "ours", "peer", "ratio", "target"), row, strict=True))
                          for row in summary_rows(results)]
    results["failed"] = failed
    args.output.write_text(json.dumps(results, indent=2, ensure_ascii=False, default=str) + "\n")
    print(f"\n=== summary ({args.parcels:_} parcels requested)\n")
    print_table(summary_rows(results))
    print(f"\nwritten: {args.output}")
    if failed:
        sys.exit(1)


def run_benchmarks(args, selected: list[str], results: dict, started_at: str) -> list[str]:
    """Run the selected benchmarks one after the other, each in its own process; the names of those that failed."""
    failed = []
    for name in selected:
        out = DATA_ROOT / f"p{args.parcels}" / f"result-{name}.json"
        out.unlink(missing_ok=True)
        cmd = [sys.executable, str(BENCH_DIR / f"bench_{name}.py"), "--parcels", str(args.parcels), "--json", str(out),
               *shlex.split(getattr(args, f"{name}_args"))]
        print(f"\n=== {name}: {' '.join(cmd)}", flush=True)
        started = time.perf_counter()
        code = subprocess.run(cmd).returncode
        if code != 0 or not out.exists():
            failed.append(name)
            print(f"=== {name} FAILED (exit {code})", flush=True)
            continue
        results[name] = json.loads(out.read_text())
        results[name]["elapsed_s"] = round(time.perf_counter() - started, 1)
        results[name]["run_started"] = started_at
        results[name]["parcels_requested"] = args.parcels
    return failed


if __name__ == "__main__":
    main()
