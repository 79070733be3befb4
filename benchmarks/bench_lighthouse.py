"""Lighthouse (npm ``lighthouse@12.2.3``, Debian's chromium) on the map page and on a note page.

Ours: ``gisportal serve`` (gunicorn) on the demo city; the map page ``/`` and the note page of a parcel found
through the API. Peer: the smallest Leaflet map there is — one HTML page loading Leaflet's own ``leaflet.js`` and
``leaflet.css`` (the same files the portal serves) with one polygon, served by Python's ``http.server`` in the same
run. Lighthouse runs with its default mobile settings (simulated throttling: 150 ms RTT, 1.6 Mbps, CPU ×4) and
``--headless=new --no-sandbox``; for each page it prints the performance, accessibility and best-practices
scores and the bytes on the wire (``total-byte-weight``), and the ratio of our map's bytes to the peer's.

Targets: performance >= 90, accessibility 100, the map's first view <= 250 KB on the wire.

Lighthouse is a dev dependency (``package.json``): ``npm install --no-package-lock`` (without ``--omit=dev``)
installs it; this script does so when it is missing.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import urllib.request
from pathlib import Path
from typing import Any

from _common import (
    bench_env,
    ensure_data,
    free_port,
    parser,
    start_gisportal,
    start_server,
    stop_server,
    verdict,
    wait_for_http,
    write_results,
)

ROOT = Path(__file__).resolve().parent.parent
LIGHTHOUSE = ROOT / "node_modules" / ".bin" / "lighthouse"
CHROME = "/usr/bin/chromium"
PEER_HTML = """<!doctype html><html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1"><title>Leaflet alone</title>
<link rel="stylesheet" href="leaflet.css"><style>html,body,main{height:100%;margin:0}#m{height:90%}</style>
</head><body><main><h1 style="font-size:1rem;margin:0">Leaflet alone</h1><div id="m"></div></main>
<script src="leaflet.js"></script><script>
var m = L.map('m').setView([35.77, -5.80], 15);
L.polygon([[35.771, -5.801], [35.772, -5.799], [35.770, -5.798]]).addTo(m);
</script></body></html>"""


def ensure_lighthouse() -> None:
    if not LIGHTHOUSE.exists():
        subprocess.run(["npm", "install", "--no-package-lock", "--no-audit", "--no-fund", "--ignore-scripts"],
                       cwd=ROOT, check=True)


def lighthouse(url: str, out: Path) -> dict[str, Any]:
    """Scores (0-100) and bytes on the wire of one Lighthouse run."""
    env = {**os.environ, "CHROME_PATH": CHROME}
    subprocess.run([str(LIGHTHOUSE), url, "--output=json", f"--output-path={out}", "--quiet",
                    "--only-categories=performance,accessibility,best-practices",
                    "--chrome-flags=--headless=new --no-sandbox --disable-gpu"], env=env, check=True, timeout=300)
    report = json.loads(out.read_text(encoding="utf-8"))
    cats, audits = report["categories"], report["audits"]
    return {"performance": round(100 * (cats["performance"]["score"] or 0)),
            "accessibility": round(100 * (cats["accessibility"]["score"] or 0)),
            "best_practices": round(100 * (cats["best-practices"]["score"] or 0)),
            "bytes": int(audits["total-byte-weight"]["numericValue"]),
            "requests": len(audits["network-requests"]["details"]["items"]),
            "lcp_ms": round(audits["largest-contentful-paint"]["numericValue"]),
            "tbt_ms": round(audits["total-blocking-time"]["numericValue"])}


def a_parcel(base: str) -> str:
    """The reference of a parcel near the middle of the demo city (first suggestion of the map's own example)."""
    with urllib.request.urlopen(f"{base}/?lang=fr", timeout=60) as page:
        html = page.read().decode()
    return re.search(r'class="gp-example"[^>]*>([^<]+)<', html).group(1)


def main() -> int:
    args = parser(__doc__.splitlines()[0]).parse_args()
    ensure_lighthouse()
    store = ensure_data(args.parcels)
    work = Path(tempfile.mkdtemp(prefix="bench-lighthouse-"))
    peer_port = free_port()
    ours = start_gisportal(bench_env(store.parent), work / "ours.log")
    import xstatic.pkg.leaflet as leaflet  # the very Leaflet files the portal serves

    peer_dir = work / "peer"
    peer_dir.mkdir()
    for name in ("leaflet.js", "leaflet.css"):
        shutil.copy(Path(leaflet.BASE_DIR) / name, peer_dir / name)
    (peer_dir / "index.html").write_text(PEER_HTML, encoding="utf-8")
    peer = start_server([sys.executable, "-m", "http.server", str(peer_port), "--bind", "127.0.0.1",
                         "--directory", str(peer_dir)], dict(os.environ), work / "peer.log")
    results: dict[str, Any] = {"parcels": args.parcels, "lighthouse": "12.2.3, default mobile (simulated) throttling",
                               "peer": "Leaflet alone (leaflet.js + leaflet.css + one polygon), python http.server"}
    try:
        base = ours.base
        ours.wait()
        wait_for_http(peer, f"http://127.0.0.1:{peer_port}/", 60)
        ref = a_parcel(base)
        pages = {"map": f"{base}/?lang=fr", "map_ar": f"{base}/?lang=ar",
                 "note": f"{base}/note?ref={urllib.request.quote(ref)}&lang=fr",
                 "peer_leaflet": f"http://127.0.0.1:{peer_port}/"}
        for name, url in pages.items():
            results[name] = lighthouse(url, work / f"{name}.json")
            r = results[name]
            print(f"{name:13s} performance {r['performance']:3d}  accessibility {r['accessibility']:3d}  "
                  f"best-practices {r['best_practices']:3d}  {r['bytes'] / 1024:7.1f} KB on the wire in "
                  f"{r['requests']} requests  LCP {r['lcp_ms']} ms  TBT {r['tbt_ms']} ms", flush=True)
    finally:
        ours.stop()
        stop_server(peer)
    ratio = results["map"]["bytes"] / results["peer_leaflet"]["bytes"]
    results["map_bytes_vs_peer"] = round(ratio, 2)
    ok = (results["map"]["performance"] >= 90 and results["map"]["accessibility"] == 100
          and results["map"]["bytes"] <= 250 * 1024 and results["note"]["accessibility"] == 100)
    print(f"map first view: {results['map']['bytes'] / 1024:.1f} KB = {ratio:.2f}x Leaflet alone; "
          f"targets (performance >= 90, accessibility 100, <= 250 KB): {verdict(ok)}")
    write_results(args.json, results)
    return 0


if __name__ == "__main__":
    sys.exit(main())
