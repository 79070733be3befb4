"""Committee sessions and decisions, on both backends: staff forms and CSV import (report first, all or
nothing), history of an adjourned file, the applicant's look-up (page and API) by number + personal code,
the public list and map without personal data, access control, CSRF, rate limits.

Parcels of the tiny territory (conftest): TF-1001/06 is in quarter Marshan, TF-1003/06 in Iberia.
"""

from __future__ import annotations

import json
import logging
import re

import pytest
import sqlalchemy as sa
from support.committees import APPLICANT, csrf, make_app, new_session, personal_code, record, signed_in

from gisportal.core.audit import AuditFilter, AuditLog
from gisportal.services.committees.decision_import import template_csv
from gisportal.services.committees.records import decisions, permit_files

FILE = "2026/0101"


@pytest.fixture
def app(tiny, tiny_writable):
    app = make_app(tiny, tiny_writable)
    yield app
    app.extensions["gisportal"].store.close()


@pytest.fixture
def staff(app):
    return signed_in(app)


def count(app, table) -> int:
    with app.extensions["gisportal"].agency.read() as conn:
        return conn.execute(sa.select(sa.func.count()).select_from(table)).scalar_one()


def recorded_code(staff, session_id: int, number: str = FILE, **fields) -> str:
    response = record(staff, session_id, file_number=number, parcel_ref="TF-1001/06", **APPLICANT, **fields)
    assert response.status_code == 201, response.get_data(as_text=True)[:3000]
    return personal_code(response.get_data(as_text=True), number)


def import_csv(staff, session_id: int, text: str | bytes, check_only: bool = False):
    import io

    path = f"/admin/committees/sessions/{session_id}"
    data = {"csrf_token": csrf(staff, path),
            "file": (io.BytesIO(text.encode() if isinstance(text, str) else text), "decisions.csv")}
    if check_only:
        data["check_only"] = "y"
    return staff.post(f"{path}/import", data=data, content_type="multipart/form-data")


# --- recording by form -------------------------------------------------------------------------------------

def test_decision_by_form_shows_the_code_once_and_publishes_no_personal_data(app, staff):
    session_id = new_session(staff, "2026-03-10", "major_projects")
    code = recorded_code(staff, session_id, conditions="Recul de 5 m sur la voie.", applicant_reference="DEP-1")
    assert re.fullmatch(r"[A-HJ-NP-Z2-9]{5}-[A-HJ-NP-Z2-9]{5}", code)
    with app.extensions["gisportal"].agency.read() as conn:
        row = conn.execute(sa.select(permit_files)).one()
    assert row.quarter == "Marshan" and row.applicant_cin == "BK765432" and code not in row.code_hash
    assert -6.0 < row.lon < -5.5 and 35.5 < row.lat < 36.0  # the parcel's point, in WGS84 (near Tangier)
    # the file page shows the applicant to staff, never the code again
    page = staff.get(f"/admin/committees/file?number={FILE}").get_data(as_text=True)
    assert "Khadija Berrada" in page and "BK765432" in page and "0661987654" in page and code not in page
    public = app.test_client().get("/committees").get_data(as_text=True)
    assert FILE in public and "Marshan" in public and "Recul de 5 m sur la voie." in public
    assert "Favourable" in public and "Major projects committee" in public
    for personal in (*APPLICANT.values(), "DEP-1", "TF-1001/06"):
        assert personal not in public
    points = json.loads(re.search(r'data-points="([^"]*)"', public).group(1).replace("&#34;", '"'))
    assert [f["properties"]["file"] for f in points["features"]] == [FILE]
    # the audit log names the file, never the applicant
    entries = AuditLog(app.extensions["gisportal"].agency).search(AuditFilter(action="committee.decisions"))
    assert entries and entries[0].details["files"] == [FILE]
    assert not any(p in json.dumps([e.details for e in entries]) for p in APPLICANT.values())


@pytest.mark.parametrize(("fields", "column_text"), [
    ({"parcel_ref": "TF-9999/06"}, "No parcel with the reference"),
    ({"decision": "unfavourable", "conditions": "  "}, "states its reasons"),
    ({"applicant_cin": "12345"}, "national ID number (CIN)"),
    ({"applicant_phone": "12"}, "phone number is written"),
    ({"applicant_name": ""}, "This value is required"),
    ({"file_number": "x"}, "A file number has"),
    ({"conditions": "x" * 2001}, "At most 2000 characters"),
])
def test_bad_decision_form_is_a_422_and_nothing_is_stored(app, staff, fields, column_text):
    session_id = new_session(staff, "2026-03-10")
    response = record(staff, session_id, **{"file_number": FILE, "parcel_ref": "TF-1001/06", **APPLICANT, **fields})
    assert response.status_code == 422
    assert column_text in response.get_data(as_text=True)
    assert count(app, permit_files) == 0 and count(app, decisions) == 0


def test_an_adjourned_file_comes_back_to_a_later_session_with_its_history(app, staff):
    first, later, earlier = (new_session(staff, d) for d in ("2026-03-10", "2026-04-14", "2026-02-01"))
    code = recorded_code(staff, first, decision="adjourned", conditions="Plan topographique manquant.")
    # same session twice, or a session before the adjournment: refused
    again = record(staff, first, file_number=FILE, decision="favourable")
    assert again.status_code == 422 and "already has a decision in this session" in again.get_data(as_text=True)
    before = record(staff, earlier, file_number=FILE, decision="favourable")
    assert before.status_code == 422 and "needs a later session" in before.get_data(as_text=True)
    # the file's fields are known: number and decision are enough; no new code is made
    decided = record(staff, later, file_number=FILE, decision="favourable")
    assert decided.status_code == 201 and "gp-new-codes" not in decided.get_data(as_text=True)
    moved = record(staff, later, file_number=FILE, parcel_ref="TF-1003/06", decision="favourable")
    assert moved.status_code == 422
    # a favourable decision is final
    final = record(staff, new_session(staff, "2026-05-12"), file_number=FILE, decision="unfavourable",
                   conditions="Non conforme.")
    assert final.status_code == 422 and "was already decided" in final.get_data(as_text=True)
    data = app.test_client().get(f"/api/v1/decisions?file={FILE}&code={code}").get_json()
    assert [(d["session_date"], d["decision"]) for d in data["decisions"]] == [
        ("2026-03-10", "adjourned"), ("2026-04-14", "favourable")]
    assert data["decisions"][0]["conditions"] == "Plan topographique manquant."
    assert count(app, decisions) == 2 and count(app, permit_files) == 1


# --- the applicant's look-up ---------------------------------------------------------------------------------

def test_api_lookup_by_number_and_code(app, staff):
    code = recorded_code(staff, new_session(staff, "2026-03-10"), applicant_reference="DEP-1")
    client = app.test_client()
    typed = code.lower().replace("-", " ")  # as a person may type it
    ok = client.get(f"/api/v1/decisions?file={FILE.replace('/', '%2F')}&code={typed}")
    assert ok.status_code == 200
    data = ok.get_json()
    assert data == {"file_number": FILE, "applicant_reference": "DEP-1", "parcel_ref": "TF-1001/06",
                    "project_type": "housing", "quarter": "Marshan", "decisions": [
                        {"file_number": FILE, "project_type": "housing", "quarter": "Marshan",
                         "session_date": "2026-03-10", "session_kind": "small_projects",
                         "session_kind_label": "Small projects committee", "decision": "favourable",
                         "decision_label": "Favourable", "conditions": ""}]}
    assert not any(p in ok.get_data(as_text=True) for p in APPLICANT.values())
    wrong = client.get(f"/api/v1/decisions?file={FILE}&code=AAAAA-AAAAA")
    unknown = client.get(f"/api/v1/decisions?file=2026/9999&code={code}")
    assert wrong.status_code == unknown.status_code == 404
    assert wrong.get_json() == unknown.get_json()
    assert client.get(f"/api/v1/decisions?file={FILE}").status_code == 422  # the code is required
    assert client.get("/api/v1/decisions?file=" + "9" * 41 + "&code=x").status_code == 422
    spec = client.get("/api/v1/openapi.json").get_json()
    params = {p["name"] for p in spec["paths"]["/api/v1/decisions"]["get"]["parameters"]}
    assert params == {"file", "code", "X-Personal-Code"}
    # the code may travel in a header instead (issue #14: never required in URLs, which access logs keep)
    by_header = client.get(f"/api/v1/decisions?file={FILE}", headers={"X-Personal-Code": "AAAAA-AAAAA"})
    assert by_header.status_code == 404 and by_header.get_json() == wrong.get_json()


def test_lookup_page_and_a_new_code(app, staff):
    old = recorded_code(staff, new_session(staff, "2026-03-10"))
    client = app.test_client()

    def look(code: str):
        return client.post("/committees/lookup", data={"file_number": FILE, "code": code,
                                                      "csrf_token": csrf(client, "/committees/lookup")})

    found = look(old)
    assert found.status_code == 200 and "Marshan" in found.get_data(as_text=True)
    assert "Khadija" not in found.get_data(as_text=True)
    assert f"/subscribe?file={FILE}" in found.get_data(as_text=True)
    page = staff.post("/admin/committees/file/code", data={
        "number": FILE, "csrf_token": csrf(staff, f"/admin/committees/file?number={FILE}")})
    new = re.search(r'class="gp-code">([A-Z0-9-]+)<', page.get_data(as_text=True)).group(1)
    assert new != old
    refused = look(old)
    assert refused.status_code == 404 and "No file matches" in refused.get_data(as_text=True)
    assert look(new).status_code == 200
    assert client.post("/committees/lookup", data={"file_number": FILE, "code": new}).status_code == 400  # no CSRF


def test_lookups_are_rate_limited(tiny, tiny_writable):
    app = make_app(tiny, tiny_writable, lookup_rate_limit="3 per hour")
    client = app.test_client()
    answers = [client.get("/api/v1/decisions?file=2026/1&code=AAAAA-AAAAA").status_code for _ in range(4)]
    assert answers == [404, 404, 404, 429]
    app.extensions["gisportal"].store.close()


# --- CSV import ----------------------------------------------------------------------------------------------

GOOD_CSV = ("\ufefffile_number;parcel_ref;project_type;decision;conditions;applicant_name;applicant_cin;"
            "applicant_phone\r\n"
            "2026/0201;TF-1001/06;Habitat;Avis favorable;R+2 maximum;Omar Tazi;K123456;+212 6 70 11 22 33\r\n"
            "2026/0202;TF-1003/06;commercial;ajourné;Pièces manquantes;Société Nour;;\r\n")


def test_csv_import_records_every_line_and_shows_the_codes(app, staff):
    session_id = new_session(staff, "2026-03-10")
    checked = import_csv(staff, session_id, GOOD_CSV, check_only=True)
    assert checked.status_code == 200 and "2 decisions can be recorded" in checked.get_data(as_text=True)
    assert count(app, decisions) == 0
    response = import_csv(staff, session_id, GOOD_CSV)
    html = response.get_data(as_text=True)
    assert response.status_code == 201
    codes = {n: personal_code(html, n) for n in ("2026/0201", "2026/0202")}
    public = app.test_client().get("/committees").get_data(as_text=True)
    assert "Iberia" in public and "Adjourned" in public and "Omar Tazi" not in public
    data = app.test_client().get(f"/api/v1/decisions?file=2026/0202&code={codes['2026/0202']}").get_json()
    assert data["project_type"] == "commercial" and data["decisions"][0]["decision"] == "adjourned"
    # comma-separated, no BOM: the adjourned file decided in a later session
    later = new_session(staff, "2026-04-14")
    assert import_csv(staff, later, "file_number,parcel_ref,project_type,decision\n2026/0202,,,favorable\n"
                      ).status_code == 201
    assert count(app, decisions) == 3


def test_csv_import_reports_every_problem_and_stores_nothing(app, staff):
    session_id = new_session(staff, "2026-03-10")
    bad = ("file_number;parcel_ref;project_type;decision;conditions;applicant_name;applicant_cin\n"
           "2026/0301;TF-1001/06;housing;favourable;;Omar Tazi;\n"       # line 2: good
           "2026/0302;TF-7777/06;housing;favourable;;Omar Tazi;\n"       # line 3: unknown parcel
           "2026/0303;TF-1003/06;castle;maybe;;Omar Tazi;123\n"          # line 4: type, decision, CIN
           "2026/0301;TF-1001/06;housing;unfavourable;;Omar Tazi;\n"     # line 5: twice; no reasons
           "2026/0305;TF-1001/06;housing\n")                              # line 6: short line
    response = import_csv(staff, session_id, bad)
    assert response.status_code == 422
    html = response.get_data(as_text=True)
    report = re.findall(r'<tr class="gp-finding" data-problem="([a-z_]+)"><td>(\d+|—)</td>'
                        r'<td dir="ltr">([a-z_—]+)</td>', html)
    assert sorted(report) == sorted([
        ("unknown_parcel", "3", "parcel_ref"), ("unknown_project_type", "4", "project_type"),
        ("unknown_decision", "4", "decision"), ("bad_cin", "4", "applicant_cin"),
        ("duplicate_in_file", "5", "file_number"), ("reasons_required", "5", "conditions"),
        ("wrong_cell_count", "6", "—")])
    assert "No parcel with the reference &#39;TF-7777/06&#39;." in html and "123" not in re.sub(r"\d{4}", "", html)
    assert count(app, decisions) == 0 and count(app, permit_files) == 0


@pytest.mark.parametrize(("content", "problem"), [
    (GOOD_CSV.encode("cp1252", errors="replace"), "not_utf8"),
    ("numero;parcelle\n1;2\n", "missing_column"),
    (GOOD_CSV.replace("conditions", "remarks"), "unknown_column"),
    ("", "empty"),
    ("file_number;parcel_ref;project_type;decision\n", "empty"),
])
def test_unreadable_csv_files_get_a_report(app, staff, content, problem):
    response = import_csv(staff, new_session(staff, "2026-03-10"), content)
    assert response.status_code == 422 and f'data-problem="{problem}"' in response.get_data(as_text=True)
    assert count(app, decisions) == 0


def test_template_and_sample_files_are_importable(app, staff):
    from gisportal.core.resources import data_file

    response = staff.get("/admin/committees/template.csv")
    assert response.status_code == 200 and response.data.decode("utf-8") == template_csv()
    assert "attachment" in response.headers["Content-Disposition"]
    from gisportal.services.committees.decision_import import parse_decisions_csv

    sample = parse_decisions_csv(data_file("committee_decisions_sample.csv").read_bytes())
    assert not sample.findings and [e.decision for e in sample.entries] == [
        "favourable", "unfavourable", "adjourned", "favourable"]
    assert [e.project_type for e in sample.entries] == ["housing", "commercial", "subdivision", "facility"]


# --- access control, CSRF, logs ------------------------------------------------------------------------------

def test_anonymous_visitors_cannot_reach_staff_pages(app, staff):
    session_id = new_session(staff, "2026-03-10")
    recorded_code(staff, session_id)
    anonymous = app.test_client()
    for path in ("/admin/committees", f"/admin/committees/sessions/{session_id}",
                 f"/admin/committees/file?number={FILE}", "/admin/committees/template.csv"):
        response = anonymous.get(path)
        assert response.status_code == 302 and response.headers["Location"].startswith("/login"), path
    token = csrf(anonymous, "/committees/lookup")
    posted = anonymous.post(f"/admin/committees/sessions/{session_id}",
                            data={"file_number": "2026/0999", "csrf_token": token, "decision": "favourable"})
    assert posted.status_code == 302 and count(app, decisions) == 1
    assert staff.post("/admin/committees", data={"held_on": "2026-01-01", "kind": "technical"}).status_code == 400


def test_bad_session_input_is_a_clear_400(app, staff):
    token = csrf(staff, "/admin/committees")
    for data in ({"held_on": "not a date", "kind": "technical"}, {"held_on": "2026-01-01", "kind": "secret"}):
        response = staff.post("/admin/committees", data={**data, "csrf_token": token})
        assert response.status_code == 400
    assert staff.get("/admin/committees/sessions/999").status_code == 404
    assert staff.get("/admin/committees/file?number=2026/404").status_code == 404


def test_personal_data_never_reaches_the_logs(app, staff, caplog):
    caplog.set_level(logging.DEBUG)
    session_id = new_session(staff, "2026-03-10")
    code = recorded_code(staff, session_id)
    import_csv(staff, session_id, GOOD_CSV)
    app.test_client().get(f"/api/v1/decisions?file={FILE}&code={code}")
    text = caplog.text
    assert FILE in text or "decision" in text  # the log did record the work
    for personal in (*APPLICANT.values(), "Omar Tazi", "K123456", code):
        assert personal not in text


@pytest.mark.parametrize(("lang", "texts"), [
    ("ar", ['dir="rtl"', "قرارات لجان دراسة طلبات الرخص", "لجنة التجزئات", "رأي غير موافق", "تتبع ملفي"]),
    ("fr", ["Décisions des commissions", "Commission de lotissement", "Avis défavorable", "Suivre mon dossier"]),
])
def test_public_pages_speak_french_and_arabic(app, staff, lang, texts):
    session_id = new_session(staff, "2026-03-10", "subdivision")
    recorded_code(staff, session_id, decision="unfavourable", conditions="COS dépassé.")
    page = app.test_client().get(f"/committees?lang={lang}").get_data(as_text=True)
    for text in texts:
        assert text in page, text
    lookup = app.test_client().get(f"/committees/lookup?lang={lang}").get_data(as_text=True)
    assert ("الرمز الشخصي" if lang == "ar" else "Code personnel") in lookup


def test_a_recording_that_lost_a_race_is_a_409_and_stores_nothing(app, staff, monkeypatch):
    from gisportal.services.committees.sessions import Committees

    session_id = new_session(staff, "2026-03-10")
    recorded_code(staff, session_id)
    # as if another member of staff recorded the file between this request's check and its write
    monkeypatch.setattr(Committees, "findings", lambda self, *args, **kwargs: [])
    response = record(staff, session_id, file_number=FILE, decision="unfavourable", conditions="Non conforme.")
    assert response.status_code == 409 and "nothing was recorded" in response.get_data(as_text=True)
    assert count(app, decisions) == 1 and count(app, permit_files) == 1


def test_the_public_list_filters_by_year_decision_and_file_number(app, staff, monkeypatch):
    import gisportal.web.services.committees.public as web_committees

    older, newer = new_session(staff, "2025-11-04"), new_session(staff, "2026-02-10")
    for session_id, number, decision in ((older, "2025/0901", "favourable"), (older, "2025/0902", "unfavourable"),
                                         (newer, "2026/0101", "favourable"), (newer, "2026/0102", "adjourned")):
        response = record(staff, session_id, file_number=number, parcel_ref="TF-1002/06", decision=decision,
                          conditions="Motif technique." if decision != "favourable" else "", **APPLICANT)
        assert response.status_code == 201, response.get_data(as_text=True)[:500]
    client = app.test_client()

    def files(**query) -> list[str]:
        page = client.get("/committees", query_string=query).get_data(as_text=True)
        return re.findall(r'<tr class="gp-decision[^"]*">\s*<td dir="ltr">([^<]+)</td>', page)

    assert sorted(files()) == ["2025/0901", "2025/0902", "2026/0101", "2026/0102"]
    assert sorted(files(year="2025")) == ["2025/0901", "2025/0902"]
    assert files(year="2026", decision="adjourned") == ["2026/0102"]
    assert sorted(files(file="2026/01")) == ["2026/0101", "2026/0102"]
    assert sorted(files(year="banana", decision="<script>", file="")) == sorted(files())  # ignored, never a 500
    page = client.get("/committees").get_data(as_text=True)
    assert '<option value="2026"' in page and '<option value="2025"' in page
    monkeypatch.setattr(web_committees, "PUBLIC_PAGE_SIZE", 3)  # a cut list says so
    cut = client.get("/committees").get_data(as_text=True)
    assert "gp-cut" in cut and len(files()) == 3
