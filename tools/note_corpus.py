"""Record, then compare, the answers of the note endpoint (``GET /api/v1/notes``) over a demo instance.

Before a change to how the note is served: ``note_corpus.py record corpus.json`` (with ``GISPORTAL_DATA_DIR`` set
to a demo instance); after it: ``note_corpus.py compare corpus.json``: every answer (status, the headers that
matter, body) must be byte-identical. The requests: parcels by reference, by a point inside them (WGS84 and the
metric CRS), random points (some between parcels), three languages by ``?lang=``, ``Accept-Language`` and the
``lang`` cookie (plus a stray session cookie), past and future dates, and bad input of every kind. They go through
the app's whole WSGI stack (``app.test_client()``), middleware included.
"""

from __future__ import annotations

import argparse
import base64
import json
import re
import sys
from pathlib import Path
from urllib.parse import urlencode

import numpy as np
from pyproj import Transformer

from gisportal.core.settings import load_settings
from gisportal.storage import open_store
from gisportal.web import create_app

HEADERS = ("Content-Type", "Content-Language", "Vary", "Cache-Control", "Set-Cookie", "Content-Length")
BAD = [{}, {"ref": ""}, {"ref": "TF-0/00"}, {"ref": "x" * 300}, {"ref": "'; drop table parcels; --"},
       {"ref": "%_\\"}, {"ref": "\u0000"}, {"lon": "-5.8"}, {"lat": "35.77"}, {"lon": "abc", "lat": "35.77"},
       {"lon": "nan", "lat": "35.77"}, {"lon": "inf", "lat": "35.77"}, {"lon": "1e400", "lat": "35.77"},
       {"lon": "-5.8", "lat": "91"}, {"lon": "10", "lat": "10"}, {"x": "463661", "y": "574347"},
       {"x": "463661", "y": "574347", "crs": "EPSG:99999"}, {"x": "a", "y": "b", "crs": "EPSG:26191"},
       {"lon": "-5.8", "lat": "35.77", "as_of": "2020-13-01"}, {"lon": "-5.8", "lat": "35.77", "as_of": "yesterday"},
       {"lon": "-5.8", "lat": "35.77", "format": "xml"}, {"lon": "-5.8", "lat": "35.77", "lang": "de"},
       {"lon": "-5.8", "lat": "35.77", "unknown": "1"}, {"lon": " -5.8 ", "lat": "35.77"}]
HEADER_VARIANTS = [{"Accept-Language": "ar"}, {"Accept-Language": "en-US,en;q=0.9"},
                   {"Accept-Language": "fr-FR,fr;q=0.8,ar;q=0.5"}, {"Accept-Language": "de, *;q=0.1"},
                   {"Cookie": "lang=ar"}, {"Cookie": "lang=en"}, {"Cookie": "lang=xx"},
                   {"Cookie": "session=not-a-valid-session; lang=ar"}, {"Cookie": "other=1"},
                   {"Accept-Language": "en", "Cookie": "lang=ar"}]


def requests(n: int = 150, seed: int = 2026) -> list[tuple[str, dict[str, str]]]:
    """The corpus's requests: (path with query, headers)."""
    settings = load_settings()
    store = open_store(settings)
    parcels = store.features("parcels", None, None)
    rng = np.random.default_rng(seed)
    sample = parcels.iloc[np.sort(rng.choice(len(parcels), size=min(n, len(parcels)), replace=False))]
    points = sample.geometry.representative_point()
    lon, lat = Transformer.from_crs(parcels.crs, "EPSG:4326", always_xy=True).transform(points.x, points.y)
    minx, miny, maxx, maxy = parcels.total_bounds
    rlon, rlat = Transformer.from_crs(parcels.crs, "EPSG:4326", always_xy=True).transform(
        rng.uniform(minx, maxx, 40), rng.uniform(miny, maxy, 40))
    queries: list[tuple[dict[str, str], dict[str, str]]] = []
    refs = list(sample["ref"])
    queries += [({"ref": ref}, {}) for ref in refs]
    queries += [({"lon": f"{a:.7f}", "lat": f"{b:.7f}"}, {}) for a, b in zip(lon, lat, strict=True)]
    queries += [({"x": f"{x:.2f}", "y": f"{y:.2f}", "crs": str(parcels.crs.to_string())}, {})
                for x, y in list(zip(points.x, points.y, strict=True))[:40]]
    queries += [({"lon": f"{a:.6f}", "lat": f"{b:.6f}"}, {}) for a, b in zip(rlon, rlat, strict=True)]
    for ref in refs[:25]:
        queries += [({"ref": ref, "lang": lang}, {}) for lang in ("fr", "ar", "en")]
        queries += [({"ref": ref, "as_of": day}, {}) for day in ("2012-01-01", "2019-06-30", "2099-01-01")]
    for i, headers in enumerate(HEADER_VARIANTS):
        queries += [({"ref": refs[i]}, headers), ({"lon": f"{lon[i]:.7f}", "lat": f"{lat[i]:.7f}"}, headers),
                    ({"ref": refs[i], "lang": "fr"}, headers)]
    queries += [(query, {}) for query in BAD]
    queries += [({"ref": refs[0], **query}, {}) for query in BAD[7:]]
    return [("/api/v1/notes?" + urlencode(query), headers) for query, headers in queries]


def _steady(answer: dict) -> tuple:
    """What must not change: status, headers and body, but for the clock (``generated_at``, cookie expiry)."""
    body = re.sub(rb'"generated_at":"[^"]*"', b'"generated_at":"-"', base64.b64decode(answer["body"]))
    headers = {k: [re.sub(r"Expires=[^;]*", "Expires=-", v) for v in values]
               for k, values in answer["response_headers"].items()}
    return answer["status"], body, headers


def answers() -> list[dict]:
    """Each request of the corpus and the app's answer."""
    client = create_app({"TESTING": False}).test_client()
    out = []
    for path, headers in requests():
        response = client.get(path, headers=headers)
        out.append({"path": path, "headers": headers, "status": response.status_code,
                    "response_headers": {h: response.headers.getlist(h) for h in HEADERS if h in response.headers},
                    "body": base64.b64encode(response.get_data()).decode()})
    return out


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("action", choices=["record", "compare"])
    p.add_argument("corpus", type=Path)
    args = p.parse_args()
    now = answers()
    if args.action == "record":
        args.corpus.write_text(json.dumps(now, ensure_ascii=False, indent=0))
        statuses: dict[int, int] = {}
        for a in now:
            statuses[a["status"]] = statuses.get(a["status"], 0) + 1
        print(f"recorded {len(now)} answers: {statuses}")
        return 0
    before = json.loads(args.corpus.read_text())
    assert [a["path"] for a in before] == [a["path"] for a in now], "not the same requests"
    differ = [(b, a) for b, a in zip(before, now, strict=True) if _steady(b)[:2] != _steady(a)[:2]]
    headers = [(b, a) for b, a in zip(before, now, strict=True) if _steady(b)[2] != _steady(a)[2]]
    for b, a in differ[:10]:
        print("BODY", b["path"], b["headers"], b["status"], a["status"], base64.b64decode(b["body"])[:200],
              base64.b64decode(a["body"])[:200])
    for b, a in headers[:10]:
        print("HEADERS", b["path"], b["headers"], b["response_headers"], a["response_headers"])
    print(f"{len(now)} answers: {len(differ)} bodies or statuses differ, {len(headers)} header sets differ")
    return 1 if differ or headers else 0


if __name__ == "__main__":
    sys.exit(main())
