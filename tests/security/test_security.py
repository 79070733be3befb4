"""Hardening (issue #14): hosts and absolute URLs, cookies and sessions, CSRF, security headers and the CSP
nonce, redirects, request sizes, bounded ids, error shapes and storage failures, file modes, CSV cells.

Security does not depend on the storage backend: these tests run on the embedded one.
"""

from __future__ import annotations

import errno
import os
import re
import sqlite3
from pathlib import Path

import pytest
from flask_smorest import abort
from support.auth import PASSWORDS, sign_in, token
from support.pdf import pdf_text

from gisportal.core.accounts import Accounts
from gisportal.core.csvsafe import safe_cell

pytestmark = pytest.mark.backends("embedded")

TEMPLATES = Path(__file__).resolve().parents[2] / "templates"


@pytest.fixture
def secure_app(empty_instance):
    """An https instance with the three accounts of the sign-in tests."""
    from gisportal.web import create_app

    app = create_app({**empty_instance.settings, "TESTING": True, "default_language": "en",
                      "public_url": "https://nru.example.ma"})
    accounts = Accounts(app.extensions["gisportal"].agency)
    accounts.create("amina", PASSWORDS["amina"], "admin", actor="test")
    accounts.create("youssef", PASSWORDS["youssef"], "planner", actor="test")
    accounts.create("salma", "salma's long password", "staff", actor="test")
    yield app
    app.extensions["gisportal"].store.close()


# --- 1. absolute URLs from configuration only; other hosts refused ----------------------------------------------


def test_a_hostile_host_never_reaches_the_stored_sealed_pdf(tiny, tiny_writable, tmp_path):
    from gisportal.web import create_app

    # evil.example is even trusted here: the URLs must still come from the configured public URL
    app = create_app({**tiny_writable.settings, "rules_file": tiny.rules_file, "TESTING": True,
                      "public_url": "https://nru.example.ma", "trusted_hosts": "nru.example.ma,evil.example"})
    client = app.test_client()
    first = client.get("/note.pdf?ref=TF-1001/06&lang=fr", headers={"Host": "evil.example"})
    assert first.status_code == 200
    again = client.get("/note.pdf?ref=TF-1001/06&lang=fr", headers={"Host": "nru.example.ma"})
    assert again.headers["X-Note-Number"] == first.headers["X-Note-Number"]  # the stored document
    text = pdf_text(again.data, tmp_path)
    assert "https://nru.example.ma/verify/" in text.replace(" ", "")
    assert "evil" not in text and b"evil.example" not in again.data and b"evil.example" not in first.data
    app.extensions["gisportal"].store.close()


def test_only_trusted_hosts_are_answered(tiny_client, tiny):
    from gisportal.web import create_app

    assert tiny_client.get("/", headers={"Host": "evil.example"}).status_code == 400
    assert tiny_client.get("/api/v1/plans", headers={"Host": "localhost:5000"}).status_code == 200
    app = create_app({**tiny.settings, "rules_file": tiny.rules_file, "TESTING": True,
                      "public_url": "https://nru.example.ma"})
    client = app.test_client()
    assert client.get("/api/v1/plans", headers={"Host": "nru.example.ma"}).status_code == 200
    assert client.get("/api/v1/plans", headers={"Host": "nru.example.ma.evil.example"}).status_code == 400
    spec = client.get("/api/v1/openapi.json", headers={"Host": "nru.example.ma"}).get_json()
    assert [s["url"] for s in spec["servers"]] == ["https://nru.example.ma"]  # from configuration, not Host


@pytest.mark.parametrize("hops, expected", [(0, "127.0.0.1"), (1, "203.0.113.9")])
def test_forwarded_headers_count_only_behind_a_configured_proxy(empty_instance, hops, expected):
    from gisportal.web import create_app

    app = create_app({**empty_instance.settings, "TESTING": True, "proxy_hops": hops})
    app.add_url_rule("/test-remote", "test_remote", lambda: {"ip": __import__("flask").request.remote_addr,
                                                            "scheme": __import__("flask").request.scheme})
    got = app.test_client().get("/test-remote", headers={"X-Forwarded-For": "203.0.113.9",
                                                         "X-Forwarded-Proto": "https"}).get_json()
    assert got == {"ip": expected, "scheme": "https" if hops else "http"}
    app.extensions["gisportal"].store.close()


# --- 3. cookies, sessions, CSRF, headers, redirects, sizes ---------------------------------------------------------


def test_session_cookie_is_samesite_secure_httponly_under_https(secure_app):
    client = secure_app.test_client()
    page = client.get("/login", base_url="https://localhost")
    csrf = re.search(r'name="csrf_token"[^>]* value="([^"]+)"', page.get_data(as_text=True)).group(1)
    done = client.post("/login", base_url="https://localhost", headers={"Referer": "https://localhost/login"},
                       data={"username": "amina", "password": PASSWORDS["amina"], "csrf_token": csrf})
    assert done.status_code == 303
    cookie = done.headers["Set-Cookie"]
    assert "SameSite=Lax" in cookie and "Secure" in cookie and "HttpOnly" in cookie
    assert done.headers["Strict-Transport-Security"].startswith("max-age=")


def test_sign_out_ends_the_session_on_the_server(secure_app):
    client = secure_app.test_client()
    sign_in(client, "youssef")
    captured = client.get_cookie("session").value
    assert client.get("/admin").status_code == 200
    assert client.post("/logout", data={"csrf_token": token(client, "/admin")}).status_code == 303
    thief = secure_app.test_client()
    thief.set_cookie("session", captured)
    replay = thief.get("/admin")
    assert replay.status_code == 302 and "/login" in replay.headers["Location"]  # the copy is worth nothing


def test_password_change_ends_other_sessions(secure_app):
    other = secure_app.test_client()
    sign_in(other, "youssef")
    Accounts(secure_app.extensions["gisportal"].agency).change_password("youssef", PASSWORDS["youssef"],
                                                                       "a brand new long password")
    assert other.get("/admin").status_code == 302


def test_me_answers_every_signed_in_role(secure_app):
    for name, password, role in (("salma", "salma's long password", "staff"), ("youssef", None, "planner"),
                                 ("amina", None, "admin")):
        client = secure_app.test_client()
        sign_in(client, name, password)
        me = client.get("/api/v1/me")
        assert me.status_code == 200 and me.get_json()["role"] == role
    assert secure_app.test_client().get("/api/v1/me").status_code == 401


def _csp(response) -> dict[str, str]:
    policy = response.headers["Content-Security-Policy"]
    return {part.split()[0]: part.split(None, 1)[1] for part in policy.split("; ")}


@pytest.mark.parametrize("path", ["/", "/login", "/help", "/api/v1/plans", "/no-such-page", "/api/v1/nothing",
                                  "/static/js/nav.js", "/complaints/new"])
def test_security_headers_on_every_response(tiny_client, path):
    response = tiny_client.get(path)
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["X-Frame-Options"] == "DENY"
    assert response.headers["Referrer-Policy"] == "strict-origin-when-cross-origin"
    csp = _csp(response)
    assert csp["frame-ancestors"] == "'none'" and csp["object-src"] == "'none'"
    assert "unsafe-inline" not in csp["script-src"] and "unsafe-eval" not in csp["script-src"]


def test_every_inline_script_of_the_map_carries_the_response_nonce(tiny_client):
    first, second = tiny_client.get("/?lang=fr"), tiny_client.get("/?lang=fr")
    nonces = []
    for response in (first, second):
        nonce = re.search(r"'nonce-([^']+)'", _csp(response)["script-src"]).group(1)
        nonces.append(nonce)
        html = response.get_data(as_text=True)
        inline = [tag for tag in re.findall(r"<script\b[^>]*>", html) if "src=" not in tag
                  and "application/json" not in tag]
        assert inline and all(f'nonce="{nonce}"' in tag for tag in inline), inline
    assert nonces[0] != nonces[1]  # one per response, though the map's HTML is cached


def test_no_inline_event_handler_or_javascript_url_in_templates():
    offending = []
    for template in TEMPLATES.rglob("*.html"):
        text = template.read_text(encoding="utf-8")
        if re.search(r"\son[a-z]+\s*=", text) or "javascript:" in text:
            offending.append(template.name)
    assert offending == []


@pytest.mark.parametrize("target", ["/%09/evil.example", "/%0a/evil.example", "/%0d%0aSet-Cookie:%20x=1",
                                    "//evil.example", "/\\evil.example", "https://evil.example/", "/%5C/evil.example",
                                    "/ /evil.example"])
def test_language_switch_redirects_only_to_paths_of_this_site(tiny_client, target):
    response = tiny_client.get(f"/lang/en?next={target}")
    assert response.status_code == 302 and response.headers["Location"] == "/"


def test_language_switch_keeps_a_plain_path(tiny_client):
    assert tiny_client.get("/lang/ar?next=/complaints/new%3Fa%3D1").headers["Location"] == "/complaints/new?a=1"


def test_request_bodies_are_limited(tiny_client, tiny_app):
    assert tiny_app.config["MAX_CONTENT_LENGTH"] == 128 * 1024 * 1024
    big = b"x" * (200 * 1024)
    assert tiny_client.post("/login", data={"username": "a", "password": big.decode()}).status_code == 413
    # above the attachments' total (15 MiB + 1 MiB for the fields): refused before anything is parsed or stored
    huge = tiny_client.post("/complaints/new", data=b"x" * (17 * 1024 * 1024),
                            content_type="multipart/form-data; boundary=b")
    assert huge.status_code == 413


# --- 6. no 5xx from input ------------------------------------------------------------------------------------------


def test_ids_beyond_64_bits_are_404(tiny_client):
    for path in ("/documents/99999999999999999999999", "/api/v1/documents/9223372036854775808",
                 "/documents/9223372036854775808/file"):
        assert tiny_client.get(path).status_code == 404, path


def test_offsets_and_pages_stay_in_range(secure_app):
    client = secure_app.test_client()
    sign_in(client, "amina")
    for page in ("", "0", "-3", "x", "99999999999999999999999"):
        assert client.get(f"/admin/audit?page={page}").status_code in (200, 400), page
    api = secure_app.test_client()
    secure_app.extensions["gisportal"].settings.staff_token = "t0ken"
    for offset in ("99999999999999999999999", "-1"):
        got = api.get(f"/api/v1/registry?offset={offset}", headers={"Authorization": "Bearer t0ken"})
        assert got.status_code == 200 and got.get_json() == {"notes": []}


def test_invalid_json_is_a_400(tiny_client):
    response = tiny_client.post("/api/v1/orders", data=b"{not json", content_type="application/json")
    assert response.status_code == 400 and response.get_json()["error"] == "invalid_parameters"


@pytest.mark.parametrize("raised, status", [
    (OSError(errno.ENOSPC, "No space left on device"), 503),
    (OSError(errno.EROFS, "Read-only file system"), 503),
    (sqlite3.OperationalError("database or disk is full"), 503),
    (sqlite3.OperationalError("attempt to write a readonly database"), 503),
    (RuntimeError("a bug"), 500),
])
def test_a_server_that_cannot_write_answers_503(empty_instance, raised, status):
    from gisportal.web import create_app

    app = create_app({**empty_instance.settings, "TESTING": True})

    def fail():
        try:
            raise raised
        except Exception as exc:  # wrapped, as SQLAlchemy does
            raise RuntimeError("while writing") from exc

    app.add_url_rule("/test-fail", "test_fail", fail, methods=["POST"])
    app.add_url_rule("/api/v1/test-fail", "test_fail_api", fail, methods=["POST"])
    app.config["WTF_CSRF_ENABLED"] = False
    client = app.test_client()
    assert client.post("/test-fail").status_code == status
    answer = client.post("/api/v1/test-fail")
    assert answer.status_code == status and answer.get_json()["error"] in ("service_unavailable", "internal_error")
    app.extensions["gisportal"].store.close()


@pytest.mark.parametrize("messages", [{"json": ["Invalid JSON body."]}, ["a", "b"], "plain", {"query": {"a": {0: [
    "x"]}}}, {"form": None}, {}])
def test_one_handler_takes_any_shape_of_validation_messages(empty_instance, messages):
    from gisportal.web import create_app

    app = create_app({**empty_instance.settings, "TESTING": True})
    app.add_url_rule("/api/v1/test-422", "test_422", lambda: abort(422, messages=messages))
    app.add_url_rule("/test-422", "test_422_page", lambda: abort(422, messages=messages))
    client = app.test_client()
    answer = client.get("/api/v1/test-422")
    assert answer.status_code == 422 and answer.get_json()["error"] == "invalid_parameters"
    assert client.get("/test-422").status_code == 422
    app.extensions["gisportal"].store.close()


# --- 7. files private; CSV cells -----------------------------------------------------------------------------------


def test_data_directory_and_files_are_private(secure_app, empty_instance):
    data_dir = Path(secure_app.extensions["gisportal"].settings.data_dir)
    assert data_dir.stat().st_mode & 0o777 == 0o700
    for name in ("agency.sqlite", "secret_key"):  # the registry is in agency.sqlite (issue #13)
        assert (data_dir / name).stat().st_mode & 0o777 == 0o600, name
    from gisportal.services.complaints.files import AttachmentFiles, CheckedUpload

    files = AttachmentFiles(data_dir / "complaints")
    with files.writing() as batch:
        stored = batch.write(CheckedUpload("a.pdf", b"%PDF-1.4 x", "application/pdf"))
    assert (data_dir / "complaints").stat().st_mode & 0o777 == 0o700
    assert os.stat(files.path(stored)).st_mode & 0o777 == 0o600


@pytest.mark.parametrize("value, expected", [("=1+1", "'=1+1"), ("+33", "'+33"), ("-2", "'-2"),
                                             ("@SUM(A1)", "'@SUM(A1)"), ("\tx", "'\tx"), ("\rx", "'\rx"),
                                             ("TF-1/06", "TF-1/06"), (-5, -5)])
def test_csv_cells_are_neutralised(value, expected):
    assert safe_cell(value) == expected


def test_access_logs_mask_codes_and_link_tokens():
    from gisportal.core.accesslog import mask

    assert (mask("GET /payments/orders/CMD-1?t=s3cr3t&lang=fr HTTP/1.1")
            == "GET /payments/orders/CMD-1?t=***&lang=fr HTTP/1.1")
    assert mask("file=2026/0101&code=K7M2Q-9TXHB") == "file=2026/0101&code=***"
    assert mask("GET /subscriptions/confirm/abc.def HTTP/1.1") == "GET /subscriptions/confirm/*** HTTP/1.1"
    assert mask("GET /api/v1/plans?lang=fr HTTP/1.1") == "GET /api/v1/plans?lang=fr HTTP/1.1"


def test_new_official_notes_have_a_daily_ceiling_per_parcel(tiny, tiny_writable):
    from datetime import timedelta

    from gisportal.web import create_app

    app = create_app({**tiny_writable.settings, "rules_file": tiny.rules_file, "TESTING": True,
                      "note_issue_parcel_limit": "2 per day"})
    client = app.test_client()
    days = [(tiny.today - timedelta(days=n)).isoformat() for n in (1, 2, 3)]
    statuses = [client.get(f"/note.pdf?ref=TF-1001/06&lang=fr&as_of={day}").status_code for day in days]
    assert statuses == [200, 200, 429]
    # notes already issued are still delivered (no new number, nothing counted)
    assert client.get(f"/note.pdf?ref=TF-1001/06&lang=fr&as_of={days[0]}").status_code == 200
    # the page falls back to the information copy (no number) instead of failing
    page = client.get(f"/note?ref=TF-1001/06&lang=fr&as_of={days[2]}")
    assert page.status_code == 200 and "NRU-" not in page.get_data(as_text=True)
    # another worker of the same machine (another app on the same data directory) sees the same counters
    other = create_app({**tiny_writable.settings, "rules_file": tiny.rules_file, "TESTING": True,
                        "note_issue_parcel_limit": "2 per day"})
    assert other.test_client().get(f"/note.pdf?ref=TF-1001/06&lang=ar&as_of={days[2]}").status_code == 429
    for each in (app, other):
        each.extensions["gisportal"].store.close()


def test_wrong_codes_are_throttled_across_the_code_checking_views(empty_instance):
    from gisportal.web import create_app

    app = create_app({**empty_instance.settings, "TESTING": True, "wrong_code_rate_limit": "3 per hour"})
    client = app.test_client()
    quotes = [client.get("/api/v1/fees/quote?date=nope").status_code for _ in range(4)]
    assert quotes == [422] * 4  # a wrong request to a view that checks no code is not counted
    wrong = [client.get("/api/v1/complaints/R-2026-000001", headers={"X-Tracking-Code": "AAAA"}).status_code,
             client.get("/payments/orders/CMD-2026-000001?t=AAAA").status_code,  # a page, not the API
             client.get("/api/v1/orders/CMD-2026-000001", headers={"X-Access-Code": "AAAA"}).status_code,
             client.get("/api/v1/orders/CMD-2026-000002", headers={"X-Access-Code": "BBBB"}).status_code,
             client.get("/api/v1/complaints/R-2026-000002", headers={"X-Tracking-Code": "BBBB"}).status_code]
    assert wrong == [404, 404, 404, 429, 429]  # one count for every code-checking view, refused before any hash
    assert client.get("/api/v1/plans").status_code == 200  # nothing else is limited
    app.extensions["gisportal"].store.close()
