"""The situation plan on the tiny territory: the PDF's page size, and the scale read on the PDF itself — the drawn
scale bar and the parcel's outline measured in points (1 pt = 25.4 / 72 mm), against 1 cm = scale / 100 m."""

from __future__ import annotations

import io

import pdfplumber
import pytest

MM = 72 / 25.4  # points per millimetre
RED = (0.815686, 0.0, 0.0)  # the subject's outline, #d00000
BAR_HEIGHT_PT = 1.5 * MM


def measure(pdf: bytes) -> dict:
    """Page size, scale bar length and the red outline's box, all in mm."""
    document = pdfplumber.open(io.BytesIO(pdf))
    page = document.pages[0]
    bar = [r for r in page.rects if abs(r["height"] - BAR_HEIGHT_PT) < 0.05]
    red = [o for o in page.rects + page.curves
           if o.get("stroking_color") and tuple(round(c, 6) for c in o["stroking_color"]) == RED]
    return {"pages": len(document.pages), "size": (page.width / MM, page.height / MM), "bar_segments": len(bar),
            "bar": (max(r["x1"] for r in bar) - min(r["x0"] for r in bar)) / MM,
            "outline": ((max(o["x1"] for o in red) - min(o["x0"] for o in red)) / MM,
                        (max(o["bottom"] for o in red) - min(o["top"] for o in red)) / MM),
            "text": page.extract_text()}


def test_a4_portrait_at_1_500(tiny_client):
    """TF-1001/06 is 20 m × 20 m: 40 mm at 1:500; the bar says 20 m and is 40 mm long."""
    answer = tiny_client.get("/api/v1/situation-plan?ref=TF-1001/06&scale=500&paper=A4&orientation=portrait")
    assert answer.status_code == 200 and answer.mimetype == "application/pdf"
    m = measure(answer.data)
    assert m["pages"] == 1
    assert m["size"] == (pytest.approx(210, abs=0.1), pytest.approx(297, abs=0.1))
    assert m["bar_segments"] == 4 and m["bar"] == pytest.approx(40, abs=0.05)
    assert m["outline"] == (pytest.approx(40, abs=0.3), pytest.approx(40, abs=0.3))
    assert "20 m" in m["text"] and "1:500" in m["text"]


def test_a3_landscape_at_1_1000(tiny_client):
    """400 mm of map width is 400 m at 1:1000: a 100 m bar, 100 mm long; the parcel 20 mm."""
    answer = tiny_client.get("/api/v1/situation-plan?ref=TF-1001/06&scale=1000&paper=A3&orientation=landscape"
                             "&lang=ar")
    assert answer.status_code == 200
    m = measure(answer.data)
    assert m["pages"] == 1 and m["size"] == (pytest.approx(420, abs=0.1), pytest.approx(297, abs=0.1))
    assert m["bar"] == pytest.approx(100, abs=0.05)
    assert m["outline"] == (pytest.approx(20, abs=0.3), pytest.approx(20, abs=0.3))


def test_site_by_note_number_and_bad_requests(tiny_client):
    """The site TF-1001/06 + TF-1007/06 spans x 70..110, y 10..80: 40 m × 70 m, 20 mm × 35 mm at 1:2000."""
    issued = tiny_client.post("/api/v1/sites/notes", json={"refs": ["TF-1001/06", "TF-1007/06"], "format": "pdf"})
    number = issued.headers["X-Note-Number"]
    token = tiny_client.application.extensions["gisportal"].registry.get(number).signature[:16]  # the QR's token
    assert tiny_client.get(f"/api/v1/situation-plan?site={number}&scale=2000").status_code == 422  # not without it
    assert tiny_client.get(f"/api/v1/situation-plan?site={number}&t=AAAAAAAAAAAAAAAA").status_code == 404
    answer = tiny_client.get(f"/api/v1/situation-plan?site={number}&scale=2000&t={token}")
    assert answer.status_code == 200
    m = measure(answer.data)
    assert m["outline"] == (pytest.approx(20, abs=0.3), pytest.approx(35, abs=0.3))
    for query in ("ref=TF-1001/06&scale=750", "ref=TF-1001/06&paper=A5", "ref=TF-1001/06&orientation=up",
                  "ref=TF-1001/06&site=" + number, ""):
        assert tiny_client.get(f"/api/v1/situation-plan?{query}").status_code == 400, query
    assert tiny_client.get("/api/v1/situation-plan?ref=TF-0000/00").status_code == 404
    assert tiny_client.get("/api/v1/situation-plan?site=NRU-1999-000001&t=AAAAAAAAAAAAAAAA").status_code == 404
