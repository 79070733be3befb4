"""Issue #14: a payload corpus through the citizen's complaint form, the staff's answer and the pages, PDFs and
receipt PDF they reach: never found raw (as markup) in a page."""

from __future__ import annotations

import io

import pytest
from pypdf import PdfReader
from support.complaints import csrf, filing, sign_in, site, smtp  # noqa: F401  (fixtures)

pytestmark = pytest.mark.backends("embedded")

#: Markup and script that would run or change a page if they reached it unescaped.
CORPUS = ['<script>alert(1)</script>', '"><img src=x onerror=alert(2)>', "'-alert(3)-'",
          '<svg onload=alert(4)>', '{{7*7}}<b>bold</b>', '</textarea><iframe src=javascript:alert(5)>']


def _raw_hits(html: str) -> list[str]:
    return [p for p in CORPUS if p.startswith(("<", '"', "'", "</")) and p in html and p not in ("'-alert(3)-'",)]


def test_complaint_texts_stay_text_on_every_page_and_in_the_pdf(site):  # noqa: F811
    client = site.test_client()
    payload = " ".join(CORPUS)
    answer = client.post("/api/v1/complaints", data=filing(description=payload, contact_name=CORPUS[1]),
                         content_type="multipart/form-data")
    assert answer.status_code == 201, answer.get_data(as_text=True)[:500]
    number, code = answer.get_json()["number"], answer.get_json()["code"]
    citizen = site.test_client()
    token = csrf(citizen, "/complaints/track")
    assert citizen.post("/complaints/track", data={"csrf_token": token, "number": number,
                                                   "code": code}).status_code == 303
    tracking = citizen.get(f"/complaints/track?number={number}").get_data(as_text=True)
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in tracking  # shown, as text
    assert _raw_hits(tracking) == []
    added = citizen.post(f"/complaints/track/{number}/add", data={"csrf_token": token, "message": payload})
    assert added.status_code == 303
    staff = site.test_client()
    sign_in(staff)
    detail = f"/admin/complaints/{number}"
    for action, fields in (("assign", {"assignee": CORPUS[1]}), ("start", {"text": payload}),
                           ("note", {"text": payload}), ("answer", {"text": payload})):
        done = staff.post(f"{detail}/{action}", data={"csrf_token": csrf(staff, detail), **fields})
        assert done.status_code == 303, (action, done.status_code)
    answered = citizen.get(f"/complaints/track?number={number}").get_data(as_text=True)
    assert _raw_hits(answered) == [] and answered.count("&lt;script&gt;alert(1)&lt;/script&gt;") >= 2  # the answer
    for page in (detail, "/admin/complaints", f"/admin/complaints?q={CORPUS[0]}", "/admin/audit"):
        html = staff.get(page).get_data(as_text=True)
        assert _raw_hits(html) == [], page
    pdf = citizen.post("/complaints/receipt.pdf", data={"csrf_token": csrf(citizen, "/complaints/track"),
                                                       "number": number, "code": code})
    assert pdf.status_code == 200
    text = "".join(p.extract_text() for p in PdfReader(io.BytesIO(pdf.data)).pages)
    assert number in text and code in text


def test_a_full_disk_while_filing_is_a_503_and_nothing_is_recorded(site, monkeypatch):  # noqa: F811
    import errno

    import sqlalchemy as sa

    from gisportal.services.complaints import files as complaint_files
    from gisportal.services.complaints import handling as model

    def full(*_args, **_kwargs):
        raise OSError(errno.ENOSPC, "No space left on device")

    with site.extensions["gisportal"].agency.read() as conn:
        before = conn.execute(sa.select(sa.func.count()).select_from(model.complaints)).scalar()
    monkeypatch.setattr(complaint_files, "write_private", full)
    client = site.test_client()
    data = {**filing(), "attachments": [(io.BytesIO(b"%PDF-1.4\n%%EOF\n"), "piece.pdf")]}
    answer = client.post("/api/v1/complaints", data=data, content_type="multipart/form-data")
    assert answer.status_code == 503 and answer.get_json()["error"] == "service_unavailable"
    assert answer.headers["Retry-After"]
    with site.extensions["gisportal"].agency.read() as conn:
        assert conn.execute(sa.select(sa.func.count()).select_from(model.complaints)).scalar() == before
