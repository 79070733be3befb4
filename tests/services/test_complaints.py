"""Complaints (issue 6, part 1): filing, tracking with number + code, staff handling, notifications, safety.

Every test runs on both backends (the tiny territory, see ``conftest.py``). Notifications go through a real
SMTP server (aiosmtpd on 127.0.0.1) started here. Expected values are computed by hand: the tiny parcels are
boxes in EPSG:26191 whose centres and WGS84 coordinates pyproj gives independently.
"""

from __future__ import annotations

import io
import logging
import re
import time
from datetime import timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa
from support.complaints import CITIZEN, DESCRIPTION, PLANNER, client, csrf, filing, sign_in, site, smtp, tiny_lonlat  # noqa: F401 (fixtures)
from support.instances import new_instance
from support.tiny import _create_app

PERSONAL = ("Fatima", "Benali", "fatima.benali", "61 23 45 67", "6612345", "BK987654", "BK 987654")
PNG = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01\x00\x00\x00\x01\x08\x06\x00\x00\x00\x1f\x15\xc4\x89" \
      b"\x00\x00\x00\rIDATx\x9cc\xf8\x0f\x00\x00\x01\x01\x00\x05\x18\xd8N\x00\x00\x00\x00IEND\xaeB`\x82"
PDF = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"
NUMBER = re.compile(r"^RC-(\d{4})-(\d{6})$")
CODE = re.compile(r"^[A-HJ-NP-Z2-9]{4}-[A-HJ-NP-Z2-9]{4}-[A-HJ-NP-Z2-9]{4}$")


# --------------------------------------------------------------------------- fixtures















def file_api(client, files=(), **overrides):
    data = filing(**overrides)
    if files:
        data["attachments"] = [(io.BytesIO(content), name) for name, content in files]
    return client.post("/api/v1/complaints", data=data, content_type="multipart/form-data")


def db_rows(app, table: str) -> list:
    from gisportal.services.complaints import handling as model

    t = {"complaints": model.complaints, "events": model.complaint_events,
         "attachments": model.complaint_attachments}[table]
    with app.extensions["gisportal"].agency.read() as conn:
        return conn.execute(sa.select(t).order_by(t.c.id)).all()


def stored_files(app) -> list[Path]:
    root = app.extensions["gisportal"].settings.data_dir / "complaints"
    return sorted(root.iterdir()) if root.exists() else []






def staff_action(client, number: str, action: str, **data):
    token = csrf(client, f"/admin/complaints/{number}")
    return client.post(f"/admin/complaints/{number}/{action}?lang=en", data={"csrf_token": token, **data})


# --------------------------------------------------------------------------- filing and tracking

def test_filing_answers_number_and_code_and_tracking_shows_the_timeline(site, client):
    answer = file_api(client)
    assert answer.status_code == 201, answer.get_json()
    body = answer.get_json()
    match = NUMBER.match(body["number"])
    assert match and CODE.match(body["code"]) and body["status"] == "received"
    assert body["tracking_url"] == f"https://portail.example.ma/complaints/track?number={body['number']}"
    assert body["code"] not in body["tracking_url"]

    status = client.get(f"/api/v1/complaints/{body['number']}", query_string={"code": body["code"]})
    assert status.status_code == 200
    data = status.get_json()
    assert data["number"] == body["number"] and data["status"] == "received"
    assert data["parcel_ref"] == "TF-1001/06"  # the parcel under the point, resolved through the store
    lon, lat = tiny_lonlat(100, 20)
    assert data["lon"] == pytest.approx(lon, abs=1e-6) and data["lat"] == pytest.approx(lat, abs=1e-6)
    assert [(e["event"], e["by"]) for e in data["timeline"]] == [("received", "citizen")]
    text = status.get_data(as_text=True)
    assert not any(p in text for p in PERSONAL)  # personal data never public
    # the code typed in lower case, with spaces, works too
    loose = body["code"].lower().replace("-", " ")
    assert client.get(f"/api/v1/complaints/{body['number'].lower()}", query_string={"code": loose}).status_code == 200


def test_numbers_are_sequential_per_year_and_the_code_is_stored_only_as_a_hash(site, client):
    first, second = file_api(client).get_json(), file_api(client).get_json()
    a, b = NUMBER.match(first["number"]), NUMBER.match(second["number"])
    assert a.group(1) == b.group(1) and int(b.group(2)) == int(a.group(2)) + 1
    rows = {r.number: r for r in db_rows(site, "complaints")}
    row = rows[second["number"]]
    assert row.year == int(b.group(1)) and row.seq == int(b.group(2))
    raw = second["code"].replace("-", "")
    assert all(raw not in str(value) and second["code"] not in str(value) for value in row)
    assert row.code_hash.startswith("scrypt:")


def test_a_wrong_code_and_an_unknown_number_give_the_same_answer(site, client):
    mine, other = file_api(client).get_json(), file_api(client).get_json()
    wrong = client.get(f"/api/v1/complaints/{mine['number']}", query_string={"code": other["code"]})
    year = NUMBER.match(mine["number"]).group(1)
    unknown = client.get(f"/api/v1/complaints/RC-{year}-999999", query_string={"code": mine["code"]})
    garbage = client.get("/api/v1/complaints/not-a-number", query_string={"code": mine["code"]})
    assert wrong.status_code == unknown.status_code == garbage.status_code == 404
    assert wrong.get_json() == unknown.get_json() == garbage.get_json()
    assert wrong.get_json()["message"] == "No complaint matches this number and code."
    missing = client.get(f"/api/v1/complaints/{mine['number']}")  # the code is required
    assert missing.status_code == 422 and "X-Tracking-Code" in missing.get_json()["message"]
    # in a header, the code stays out of web server access logs
    by_header = client.get(f"/api/v1/complaints/{mine['number']}", headers={"X-Tracking-Code": mine["code"]})
    assert by_header.status_code == 200 and by_header.get_json()["number"] == mine["number"]
    wrong_header = client.get(f"/api/v1/complaints/{mine['number']}", headers={"X-Tracking-Code": other["code"]})
    assert wrong_header.status_code == 404 and wrong_header.get_json() == wrong.get_json()


def test_a_parcel_reference_places_the_complaint_at_its_parcel(site, client):
    answer = file_api(client, lon=None, lat=None, parcel_ref="tf-1002/06")
    assert answer.status_code == 201, answer.get_json()
    body = answer.get_json()
    data = client.get(f"/api/v1/complaints/{body['number']}", query_string={"code": body["code"]}).get_json()
    lon, lat = tiny_lonlat(20, 20)  # TF-1002/06 is the box 10..30 x 10..30: its centre
    assert data["parcel_ref"] == "TF-1002/06"
    assert data["lon"] == pytest.approx(lon, abs=1e-6) and data["lat"] == pytest.approx(lat, abs=1e-6)


@pytest.mark.parametrize("overrides, status, words", [
    ({"category": None}, 422, "category"),
    ({"category": "noise"}, 422, "category"),
    ({"description": "trop court"}, 400, "20 to 5000"),
    ({"description": "x" * 5001}, 400, "20 to 5000"),
    ({"contact_name": " "}, 400, "name"),
    ({"contact_email": None, "contact_phone": None}, 400, "e-mail address or a phone"),
    ({"contact_email": "fatima-at-example"}, 400, "e-mail"),
    ({"contact_phone": "call me"}, 400, "phone"),
    ({"contact_cin": "123-ABC"}, 400, "CIN"),
    ({"lon": None, "lat": None}, 400, "map"),
    ({"lat": None}, 400, "longitude and the latitude"),
    ({"lon": "east"}, 422, "lon"),
    ({"lon": "-5.0", "lat": "35.0"}, 422, "outside the territory"),
    ({"lon": "500", "lat": "35.0"}, 400, "longitude"),
    ({"lon": None, "lat": None, "parcel_ref": "TF-0000/00"}, 400, "No parcel has this"),
    ({"parcel_ref": "TF-0000/00"}, 400, "No parcel has this"),
    ({"surprise": "field"}, 422, "surprise"),
])
def test_bad_input_is_a_clear_4xx_and_stores_nothing(site, client, overrides, status, words):
    before = (len(db_rows(site, "complaints")), len(db_rows(site, "events")), len(stored_files(site)))
    answer = file_api(client, files=[("photo.png", PNG)], **overrides)
    assert answer.status_code == status, answer.get_json()
    assert words.lower() in answer.get_json()["message"].lower()
    after = (len(db_rows(site, "complaints")), len(db_rows(site, "events")), len(stored_files(site)))
    assert after == before


# --------------------------------------------------------------------------- attachments

@pytest.mark.parametrize("files, status, words", [
    ([("photo.png", b"<html><script>alert(1)</script></html>")], 400, "not a JPEG"),
    ([("report.pdf", b"MZ\x90\x00 an executable")], 400, "not a JPEG"),
    ([("photo.gif", b"GIF89a\x01\x00\x01\x00\x00\x00\x00;")], 400, "not a JPEG"),
    ([("big.png", PNG + b"\x00" * 5000)], 413, "larger than the size allowed for one file"),
    ([(f"p{i}.png", PNG + b"\x00" * 3000) for i in range(4)], 413, "together"),
    ([(f"p{i}.png", PNG) for i in range(6)], 400, "At most 5"),
    ([("empty.png", b"")], 400, "empty"),
])
def test_attachments_are_checked_by_content_and_size(site, client, files, status, words):
    before = (len(db_rows(site, "complaints")), len(stored_files(site)))
    answer = file_api(client, files=files)
    assert answer.status_code == status, answer.get_json()
    assert words.lower() in answer.get_json()["message"].lower()
    assert (len(db_rows(site, "complaints")), len(stored_files(site))) == before


def test_attachments_are_stored_outside_the_web_root_and_served_only_with_the_code(site, client):
    body = file_api(client, files=[("../../etc/chantier.png", PNG), ("plan.pdf", PDF)]).get_json()
    other = file_api(client, files=[("autre.png", PNG)]).get_json()
    data = client.get(f"/api/v1/complaints/{body['number']}", query_string={"code": body["code"]}).get_json()
    assert [(a["filename"], a["content_type"]) for a in data["attachments"]] == [
        ("chantier.png", "image/png"), ("plan.pdf", "application/pdf")]
    rows = [r for r in db_rows(site, "attachments") if r.filename in ("chantier.png", "plan.pdf")][-2:]
    root = site.extensions["gisportal"].settings.data_dir / "complaints"
    for row in rows:  # random names, under the data directory, not under static/
        assert re.fullmatch(r"[0-9a-f]{32}\.(png|pdf)", row.stored_name) and (root / row.stored_name).is_file()
    first = data["attachments"][0]
    got = client.get(first["url"], query_string={"code": body["code"]})
    assert got.status_code == 200 and got.data == PNG
    assert got.headers["Content-Type"] == "image/png"
    assert got.headers["Content-Disposition"].startswith("attachment")
    assert got.headers["X-Content-Type-Options"] == "nosniff"
    got.close()
    assert client.get(first["url"], query_string={"code": other["code"]}).status_code == 404
    other_id = client.get(f"/api/v1/complaints/{other['number']}",
                          query_string={"code": other["code"]}).get_json()["attachments"][0]["id"]
    # a citizen's code never opens another complaint's file
    assert client.get(f"/api/v1/complaints/{body['number']}/attachments/{other_id}",
                      query_string={"code": body["code"]}).status_code == 404
    assert client.get(f"/complaints/track/{other['number']}/attachments/{other_id}").status_code == 404
    assert client.get(f"/admin/complaints/{other['number']}/attachments/{other_id}").status_code == 302  # sign in


def test_a_failed_database_write_leaves_no_file_behind(site, monkeypatch):
    from gisportal.services.complaints.files import AttachmentFiles, CheckedUpload
    from gisportal.services.complaints.handling import ComplaintBook
    from gisportal.services.complaints.intake import NewComplaint

    p = site.extensions["gisportal"]
    book = ComplaintBook(p.agency, AttachmentFiles(p.settings.data_dir / "complaints"))
    original = ComplaintBook._add_files

    def add_then_fail(*args, **kwargs):
        original(*args, **kwargs)
        raise sa.exc.OperationalError("INSERT", {}, Exception("disk full"))

    monkeypatch.setattr(ComplaintBook, "_add_files", staticmethod(add_then_fail))
    before = (len(db_rows(site, "complaints")), len(db_rows(site, "events")), stored_files(site))
    new = NewComplaint("other", DESCRIPTION, "X Y", 1.0, 2.0, None, "a@b.ma")
    with pytest.raises(sa.exc.OperationalError):
        book.file(new, (1.0, 2.0, None), [CheckedUpload("a.png", PNG, "image/png")])
    assert (len(db_rows(site, "complaints")), len(db_rows(site, "events")), stored_files(site)) == before


# --------------------------------------------------------------------------- staff handling, notifications

def _mails_about(smtp, number: str) -> list:
    return [m for m in smtp.messages if number in m["Subject"]]


def test_staff_assign_answer_close_reopen_with_timeline_audit_and_mail(site, client, smtp):
    from gisportal.core.audit import AuditFilter, AuditLog

    body = file_api(client, files=[("photo.png", PNG)]).get_json()
    number, code = body["number"], body["code"]
    smtp.wait(1)
    assert len(_mails_about(smtp, number)) == 1  # "received"

    staff = site.test_client()
    assert staff.get("/admin/complaints").status_code == 302  # anonymous: to the sign-in page
    assert staff.get(f"/admin/complaints/{number}").status_code == 302
    sign_in(staff)
    queue = staff.get("/admin/complaints").get_data(as_text=True)
    assert number in queue and "Fatima" not in queue  # the queue lists; contact details are on the complaint
    page = staff.get(f"/admin/complaints/{number}").get_data(as_text=True)
    assert "Fatima Zahra Benali" in page and "fatima.benali@example.ma" in page and "BK987654" in page

    assert staff_action(staff, number, "assign", assignee=PLANNER).status_code == 303
    assert staff_action(staff, number, "start", text="visite prévue").status_code == 303
    assert staff_action(staff, number, "note", text="voir le service du cadastre").status_code == 303
    assert staff_action(staff, number, "answer", text="Un agent a constaté l'infraction.").status_code == 303
    # the citizen reads the answer and the public timeline (no internal note, no staff name)
    data = client.get(f"/api/v1/complaints/{number}", query_string={"code": code}).get_json()
    assert data["status"] == "answered" and data["answer"] == "Un agent a constaté l'infraction."
    assert [e["event"] for e in data["timeline"]] == ["received", "assigned", "in_progress", "answered"]
    assert "cadastre" not in str(data) and PLANNER not in str(data)
    assert staff_action(staff, number, "close", text="Dossier transmis.").status_code == 303
    data = client.get(f"/api/v1/complaints/{number}", query_string={"code": code}).get_json()
    assert data["status"] == "closed" and data["open"] is False

    # every step is timestamped and attributed
    events = [e for e in db_rows(site, "events") if e.complaint_id == db_rows(site, "complaints")[-1].id]
    assert [(e.event, e.actor, e.status) for e in events] == [
        ("received", "citizen", "received"), ("assigned", PLANNER, "assigned"),
        ("in_progress", PLANNER, "in_progress"), ("staff_note", PLANNER, "in_progress"),
        ("answered", PLANNER, "answered"), ("closed", PLANNER, "closed")]
    assert all(e.at is not None for e in events)

    # closed: the citizen cannot add information; staff can reopen
    assert staff_action(staff, number, "reopen").status_code == 303
    data = client.get(f"/api/v1/complaints/{number}", query_string={"code": code}).get_json()
    assert data["status"] == "in_progress" and data["timeline"][-1]["event"] == "reopened"

    # audit: the actions, the number, never personal data
    audit = AuditLog(site.extensions["gisportal"].agency).search(AuditFilter(action="complaint."))
    mine = [(e.actor, e.action, e.target) for e in audit if e.target == number]
    assert {a for _, a, _ in mine} >= {"complaint.assign", "complaint.start", "complaint.note", "complaint.answer",
                                       "complaint.close", "complaint.reopen"}
    assert all(actor == PLANNER for actor, _, _ in mine)
    assert not any(p in str(e.details) for e in audit for p in PERSONAL)

    # a mail per status change: received, assigned, in progress, answered, closed, reopened (not the note)
    mails = _mails_about(smtp, number) if len(smtp.wait(6)) else []
    deadline = time.monotonic() + 10
    while len(mails) < 6 and time.monotonic() < deadline:
        time.sleep(0.05)
        mails = _mails_about(smtp, number)
    assert len(mails) == 6
    for mail in mails:
        assert mail["To"] == "fatima.benali@example.ma"
        text = mail.get_payload(decode=True).decode("utf-8")
        assert f"https://portail.example.ma/complaints/track?number={number}" in text
        assert code not in text and code.replace("-", "") not in text
    assert "Un agent a constaté l'infraction." in mails[3].get_payload(decode=True).decode("utf-8")


def test_no_mail_without_an_email_address_and_a_closed_complaint_takes_no_information(site, client, smtp):
    body = file_api(client, contact_email=None).get_json()
    staff = site.test_client()
    sign_in(staff)
    assert staff_action(staff, body["number"], "close").status_code == 303
    time.sleep(0.3)
    assert _mails_about(smtp, body["number"]) == []
    # the citizen's session opens the complaint with the code, then tries to add information
    token = csrf(client, "/complaints/track")
    assert client.post("/complaints/track", data={"csrf_token": token, "number": body["number"],
                                                  "code": body["code"]}).status_code == 303
    page = client.get(f"/complaints/track?number={body['number']}&lang=en").get_data(as_text=True)
    assert "This complaint is closed." in page
    refused = client.post(f"/complaints/track/{body['number']}/add",
                          data={"csrf_token": token, "message": "encore une chose"})
    assert refused.status_code == 409


def test_staff_actions_refuse_bad_input(site, client):
    body = file_api(client).get_json()
    staff = site.test_client()
    sign_in(staff)
    number = body["number"]
    for action, data, words in [("assign", {"assignee": "nobody.here"}, "active staff account"),
                                ("answer", {"text": ""}, "Write the answer"),
                                ("note", {"text": "x" * 6001}, "too long"),
                                ("reopen", {}, "Only a closed complaint"),
                                ("destroy", {}, "Unknown action")]:
        response = staff_action(staff, number, action, **data)
        assert response.status_code == 303
        assert words in staff.get(f"/admin/complaints/{number}?lang=en").get_data(as_text=True)
    assert staff.get("/admin/complaints/RC-1999-000001").status_code == 404
    token = csrf(staff, f"/admin/complaints/{number}")
    assert staff.post(f"/admin/complaints/{number}/close", data={}).status_code == 400  # no CSRF token
    assert client.post(f"/admin/complaints/{number}/close", data={"csrf_token": token}).status_code in (302, 400)
    data = client.get(f"/api/v1/complaints/{number}", query_string={"code": body["code"]}).get_json()
    assert data["status"] == "received"


def test_queue_filters_and_overdue_flag(site, client):
    first, second = file_api(client).get_json(), file_api(client, category="service_delay").get_json()
    from gisportal.services.complaints import handling as model

    with site.extensions["gisportal"].agency.write() as conn:  # the first one was received 31 days ago
        conn.execute(sa.update(model.complaints).where(model.complaints.c.number == first["number"])
                     .values(created_at=model.utcnow() - timedelta(days=31)))
    staff = site.test_client()
    sign_in(staff)
    overdue = staff.get("/admin/complaints?overdue=1").get_data(as_text=True)
    assert first["number"] in overdue and second["number"] not in overdue
    delays = staff.get("/admin/complaints?category=service_delay").get_data(as_text=True)
    assert second["number"] in delays and first["number"] not in delays
    assert first["number"] in staff.get("/admin/complaints?assignee=-").get_data(as_text=True)
    assert staff_action(staff, first["number"], "assign", assignee=PLANNER).status_code == 303
    mine = staff.get(f"/admin/complaints?assignee={PLANNER}&status=assigned").get_data(as_text=True)
    assert first["number"] in mine and second["number"] not in mine
    book = model.ComplaintBook(site.extensions["gisportal"].agency, None)
    assert book.get(first["number"]).is_overdue(30) and not book.get(first["number"]).is_overdue(60)
    assert not book.get(second["number"]).is_overdue(30)


# --------------------------------------------------------------------------- pages, privacy, limits

def test_filing_by_the_form_shows_the_receipt_and_the_tracking_page(site, client):
    form = client.get("/complaints/new")
    assert form.status_code == 200 and 'id="gp-complaint-map"' in form.get_data(as_text=True)
    token = csrf(client, "/complaints/new")
    lon, lat = tiny_lonlat(160, 60)  # TF-1003/06
    receipt = client.post("/complaints/new", data={
        "csrf_token": token, "category": "note_content", "description": DESCRIPTION, "lon": f"{lon:.7f}",
        "lat": f"{lat:.7f}", **CITIZEN, "attachments": [(io.BytesIO(PDF), "piece.pdf")]},
        content_type="multipart/form-data")
    html = receipt.get_data(as_text=True)
    assert receipt.status_code == 200, html[:3000]
    number = re.search(r'id="gp-receipt-number">([^<]+)<', html).group(1)
    code = re.search(r'id="gp-receipt-code">([^<]+)<', html).group(1)
    assert NUMBER.match(number) and CODE.match(code) and "<svg" in html
    from gisportal.web.note.documents import qr_svg

    with site.test_request_context():  # the QR code holds the tracking address, not the code
        assert str(qr_svg(f"https://portail.example.ma/complaints/track?number={number}")) in html
    # the session that filed it sees it; another browser needs the code
    status = client.get(f"/complaints/track?number={number}").get_data(as_text=True)
    assert 'id="gp-timeline"' in status and "TF-1003/06" in status
    assert not any(p in status for p in PERSONAL)
    stranger = site.test_client()
    assert 'id="gp-timeline"' not in stranger.get(f"/complaints/track?number={number}").get_data(as_text=True)
    token = csrf(stranger, "/complaints/track")
    wrong = stranger.post("/complaints/track", data={"csrf_token": token, "number": number, "code": "AAAA-BBBB-CCCC"})
    assert wrong.status_code == 404
    opened = stranger.post("/complaints/track", data={"csrf_token": token, "number": number, "code": code})
    assert opened.status_code == 303
    # the citizen adds information with a photo
    added = stranger.post(f"/complaints/track/{number}/add", data={
        "csrf_token": token, "message": "Les travaux continuent.", "attachments": [(io.BytesIO(PNG), "suite.png")]},
        content_type="multipart/form-data")
    assert added.status_code == 303
    page = stranger.get(f"/complaints/track?number={number}").get_data(as_text=True)
    assert "Les travaux continuent." in page and "suite.png" in page
    # the PDF receipt: number and code printed; the QR code and link carry the number only
    pdf = client.post("/complaints/receipt.pdf", data={"csrf_token": csrf(client, "/complaints/track"),
                                                       "number": number, "code": code})
    assert pdf.status_code == 200 and pdf.data.startswith(b"%PDF")
    from pypdf import PdfReader

    text = "".join(page.extract_text() for page in PdfReader(io.BytesIO(pdf.data)).pages)
    assert number in text and code in text and f"track?number={number}" in text
    assert client.post("/complaints/receipt.pdf", data={"csrf_token": csrf(client, "/complaints/track"),
                                                        "number": number, "code": "WRONG"}).status_code == 404


def test_the_form_refuses_bad_input_with_a_message_and_keeps_nothing(site, client):
    before = len(db_rows(site, "complaints"))
    token = csrf(client, "/complaints/new")
    answer = client.post("/complaints/new?lang=en", data={"csrf_token": token, "category": "other",
                                                          "description": DESCRIPTION, **CITIZEN})
    assert answer.status_code == 400 and "click the place on the map" in answer.get_data(as_text=True)
    noise = client.post("/complaints/new?lang=en", data={"csrf_token": token, "category": "noise",
                                                         "description": DESCRIPTION, **CITIZEN})
    assert noise.status_code == 400 and "Choose a category" in noise.get_data(as_text=True)
    tampered = client.post("/complaints/new?lang=en", data={"csrf_token": token, "category": "other", "lon": "-5.0",
                                                            "lat": "35.0", "description": DESCRIPTION, **CITIZEN})
    assert tampered.status_code == 422 and "outside the territory" in tampered.get_data(as_text=True)
    assert client.post("/complaints/new", data={"category": "other"}).status_code == 400  # no CSRF token
    assert len(db_rows(site, "complaints")) == before


def test_logs_never_hold_personal_data(site, client, caplog):
    caplog.set_level(logging.DEBUG)
    body = file_api(client, files=[("photo.png", PNG)]).get_json()
    file_api(client, contact_email="not-an-address")
    staff = site.test_client()
    sign_in(staff)
    staff.get(f"/admin/complaints/{body['number']}")
    staff_action(staff, body["number"], "answer", text="Réponse de l'agence.")
    assert body["number"] in caplog.text  # the logs speak of the complaint...
    # every record but those of the test's own SMTP server (aiosmtpd logs the envelopes it receives)
    lines = [r.getMessage() for r in caplog.records if not r.name.startswith("mail.log")]
    leaks = [line for line in lines if any(p in line for p in PERSONAL)]
    assert not leaks  # ...never of the person
    assert body["code"] not in caplog.text


def test_the_api_documents_the_complaint_endpoints(client):
    spec = client.get("/api/v1/openapi.json").get_json()
    post = spec["paths"]["/api/v1/complaints"]["post"]
    assert "multipart/form-data" in post["requestBody"]["content"] and "201" in post["responses"]
    get = spec["paths"]["/api/v1/complaints/{number}"]["get"]
    assert any(p["name"] == "code" for p in get["parameters"])


def test_the_public_forms_are_rate_limited(site, tiny, tmp_path, request, backend, tiny_template):
    instance = new_instance(request, backend, tmp_path / "limited", template=tiny_template)
    app = _create_app({**instance.settings, "rules_file": tiny.rules_file, "TESTING": True,
                       "form_rate_limit": "2 per hour"})
    client = app.test_client()
    assert [file_api(client).status_code for _ in range(3)] == [201, 201, 429]
    assert len(db_rows(app, "complaints")) == 2
    # the default sender writes a log line per message: masked address, the complaint's number as topic
    sent = app.extensions["gisportal"].sender.sent
    assert [m.to for m in sent] == [CITIZEN["contact_email"]] * 2
    assert [m.topic for m in sent] == [f"complaint:{r.number}" for r in db_rows(app, "complaints")]
    token = csrf(client, "/complaints/track")
    codes = [client.post("/complaints/track", data={"csrf_token": token, "number": "RC-2026-000001",
                                                    "code": "X"}).status_code for _ in range(3)]
    assert codes == [404, 404, 429]


def test_pages_speak_arabic_right_to_left_and_french(client):
    arabic = client.get("/complaints/new?lang=ar").get_data(as_text=True)
    assert 'dir="rtl"' in arabic and "تقديم شكاية" in arabic and "بناء غير قانوني" in arabic
    french = client.get("/complaints/track?lang=fr").get_data(as_text=True)
    assert "Suivre une réclamation" in french and "Code secret" in french


def test_adding_information_needs_the_code_first(site, client):
    body = file_api(client).get_json()
    stranger = site.test_client()
    token = csrf(stranger, "/complaints/track")
    refused = stranger.post(f"/complaints/track/{body['number']}/add", data={"csrf_token": token, "message": "x" * 30})
    assert refused.status_code == 403
    data = client.get(f"/api/v1/complaints/{body['number']}", query_string={"code": body["code"]}).get_json()
    assert [e["event"] for e in data["timeline"]] == ["received"]
    # with the code: a bad file is refused with a message, nothing is added
    assert stranger.post("/complaints/track", data={"csrf_token": token, "number": body["number"],
                                                    "code": body["code"]}).status_code == 303
    bad = stranger.post(f"/complaints/track/{body['number']}/add?lang=en", data={
        "csrf_token": token, "message": "voici", "attachments": [(io.BytesIO(b"MZ\x90\x00"), "virus.png")]},
        content_type="multipart/form-data")
    assert bad.status_code == 400 and "not a JPEG" in bad.get_data(as_text=True)
    empty = stranger.post(f"/complaints/track/{body['number']}/add?lang=en", data={"csrf_token": token})
    assert empty.status_code == 400 and "Write a message or attach a file." in empty.get_data(as_text=True)
    data = client.get(f"/api/v1/complaints/{body['number']}", query_string={"code": body["code"]}).get_json()
    assert [e["event"] for e in data["timeline"]] == ["received"] and data["attachments"] == []


def test_concurrent_filings_get_distinct_consecutive_numbers(site):
    from concurrent.futures import ThreadPoolExecutor

    from gisportal.services.complaints.files import AttachmentFiles
    from gisportal.services.complaints.handling import ComplaintBook
    from gisportal.services.complaints.intake import NewComplaint

    p = site.extensions["gisportal"]
    book = ComplaintBook(p.agency, AttachmentFiles(p.settings.data_dir / "complaints"))
    new = NewComplaint("other", DESCRIPTION, "X Y", None, None, None, None, "0600000000")
    with ThreadPoolExecutor(6) as pool:
        filed = list(pool.map(lambda _: book.file(new, (1.0, 2.0, None), [])[0].number, range(12)))
    seqs = sorted(int(NUMBER.match(n).group(2)) for n in filed)
    assert len(set(filed)) == 12 and seqs == list(range(seqs[0], seqs[0] + 12))
