"""Issued notes (issue #3): PDF rendering and verification, each against its bare peer.

1. PDF note — ours: ``render_note_pdf`` (note template + server-drawn map extract + QR code, French, then
   WeasyPrint) vs the peer: bare WeasyPrint rendering of the very same HTML string, pre-rendered, in the
   same run, each note twice per side, interleaved; the ratio is the median of the per-note ratios (robust to
   the machine's noise). Medians per note and per page. Target: <= 1.2x. Also reported: the whole issue path (registry
   look-up, numbering, signing, sealing, storing) for a new note, and a re-issue served from the registry.
2. Verification — ours: ``check_number`` (registry read, signature of the recorded payload checked, QR
   token compared) vs the peer: one keyed SQLite read of the same row plus a raw Ed25519 check of the same
   signed bytes. Target: <= 1.2x.

Both run on the demo district (default 6,000 parcels: a note's cost does not depend on the city's size).
"""

from __future__ import annotations

import json
import sqlite3
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import ensure_data, machine, median, parser, verdict, write_results  # noqa: E402


def main() -> None:
    args = parser(__doc__.splitlines()[0]).parse_args()
    n_parcels = args.parcels if args.parcels != 1_000_000 else 6000
    store_path = ensure_data(n_parcels)
    from weasyprint import HTML

    from gisportal.core.signing import unb64
    from gisportal.note.build import build_note
    from gisportal.note.issuing import check_number, issue_note, signed_bytes, verification_token
    from gisportal.web import create_app
    from gisportal.web.core.pdf import _NoNetwork, note_html, render_note_pdf
    from gisportal.web.note.documents import document_context, pdf_response
    from gisportal.zoning.lookup import ParcelQuery, find_parcel

    work = Path(tempfile.mkdtemp(prefix="gp-bench-docs-"))
    (work / "gisportal.gpkg").symlink_to(store_path)
    app = create_app({"data_dir": work})
    portal = app.extensions["gisportal"]
    store = portal.store
    refs = list(store.features("parcels", None, None)["ref"].iloc[:: max(1, n_parcels // 16)][:14])
    rows: dict[str, list[float]] = {"ours": [], "weasyprint": [], "issue_new": [], "reissue": []}
    pages = []
    paired: list[float] = []  # per note: ours / peer, both measured twice, interleaved
    with app.test_request_context("/?lang=fr"):
        for ref in refs:
            note = build_note(store, portal.catalogue, find_parcel(store, ParcelQuery(ref=ref)))
            issued = issue_note(portal.registry, portal.keyring, note, "fr")
            document = document_context(note, issued)
            html = note_html(note, "fr", document, pdf=True)
            for variant in ("ours", "weasyprint", "weasyprint", "ours") if len(rows["ours"]) % 4 == 0 \
                    else ("weasyprint", "ours", "ours", "weasyprint"):
                started = time.perf_counter()
                if variant == "ours":
                    pdf = render_note_pdf(note, "fr", document_context(note, issued))
                else:
                    document_pdf = HTML(string=html, url_fetcher=_NoNetwork()).render()
                    pages.append(len(document_pdf.pages))
                    document_pdf.write_pdf()
                rows[variant].append(time.perf_counter() - started)
            assert pdf.startswith(b"%PDF")
            paired.append((rows["ours"][-2] + rows["ours"][-1]) / (rows["weasyprint"][-2] + rows["weasyprint"][-1]))
        for ref in refs[:5]:
            note = build_note(store, portal.catalogue, find_parcel(store, ParcelQuery(ref=ref)))
            started = time.perf_counter()
            pdf_response(note, "ar")
            rows["issue_new"].append(time.perf_counter() - started)
            started = time.perf_counter()
            pdf_response(note, "ar")
            rows["reissue"].append(time.perf_counter() - started)

    # verification
    notes = portal.registry.search("", 1000)
    registry_path = work / "agency.sqlite"  # the registry is an agency table (gp_issued_notes)
    ours_v, raw_v = [], []
    for rnd in range(40):
        for issued in notes:
            token = verification_token(issued)
            key = portal.keyring._public[issued.key_id]
            order = ("ours", "raw") if rnd % 2 == 0 else ("raw", "ours")
            for variant in order:
                started = time.perf_counter()
                if variant == "ours":
                    check_number(portal.registry, portal.keyring, issued.number, token)
                else:
                    db = sqlite3.connect(registry_path)
                    payload, signature, at = db.execute(
                        "SELECT payload, signature, issued_at FROM gp_issued_notes WHERE number = ?",
                        (issued.number,)).fetchone()
                    db.close()
                    signed_at = datetime.fromisoformat(at).replace(tzinfo=UTC).isoformat()  # SQLite keeps UTC, naive
                    key.verify(unb64(signature), signed_bytes(json.loads(payload), issued.number, signed_at))
                (ours_v if variant == "ours" else raw_v).append(time.perf_counter() - started)

    per_page = median(pages) or 1
    pdf_ratio = median(paired)
    verify_ratio = median(ours_v) / median(raw_v)
    results = {
        "machine": machine(), "parcels": n_parcels, "notes": len(refs),
        "pdf_ms": {"ours_median": round(median(rows["ours"]) * 1000, 1),
                   "weasyprint_median": round(median(rows["weasyprint"]) * 1000, 1),
                   "pages_median": per_page,
                   "ours_per_page": round(median(rows["ours"]) * 1000 / per_page, 1),
                   "issue_new_median_ar": round(median(rows["issue_new"]) * 1000, 1),
                   "reissue_from_registry_median": round(median(rows["reissue"]) * 1000, 2)},
        "pdf_ratio": round(pdf_ratio, 3),
        "pdf_ratio_of_medians": round(median(rows["ours"]) / median(rows["weasyprint"]), 3), "pdf_target": 1.2,
        "pdf_verdict": verdict(pdf_ratio <= 1.2),
        "verify_us": {"ours_median": round(median(ours_v) * 1e6, 1), "raw_median": round(median(raw_v) * 1e6, 1)},
        "verify_ratio": round(verify_ratio, 3), "verify_target": 1.2, "verify_verdict": verdict(verify_ratio <= 1.2),
    }
    print(json.dumps(results, indent=2))
    print(f"PDF note: ours {results['pdf_ms']['ours_median']} ms vs bare WeasyPrint "
          f"{results['pdf_ms']['weasyprint_median']} ms -> {pdf_ratio:.2f}x (target <= 1.2x) {results['pdf_verdict']}")
    print(f"verification: ours {results['verify_us']['ours_median']} us vs raw {results['verify_us']['raw_median']} us"
          f" -> {verify_ratio:.2f}x (target <= 1.2x) {results['verify_verdict']}")
    write_results(args.json, results)


if __name__ == "__main__":
    main()
