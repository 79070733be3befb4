"""Signing in and the staff pages, on both backends: CSRF, throttling, roles, sessions, audit.

Accounts (made through the domain API before each test):

=========  =========  ========  ==========================
user       role       active    password
=========  =========  ========  ==========================
amina      admin      yes       ``PASSWORDS["amina"]``
youssef    planner    yes       ``PASSWORDS["youssef"]``
old        planner    no        ``PASSWORDS["old"]``
=========  =========  ========  ==========================
"""

from __future__ import annotations

import re

import pytest
import sqlalchemy as sa

from gisportal.core.accounts import Accounts
from gisportal.core.audit import AuditFilter, AuditLog

PASSWORDS = {"amina": "amina's long password", "youssef": "youssef's long password", "old": "old's long password"}


@pytest.fixture
def auth_app(empty_instance):
    from gisportal.web import create_app

    app = create_app({**empty_instance.settings, "TESTING": True, "default_language": "en"})
    accounts = Accounts(app.extensions["gisportal"].agency)
    accounts.create("amina", PASSWORDS["amina"], "admin", "Amina El Idrissi", actor="test")
    accounts.create("youssef", PASSWORDS["youssef"], "planner", actor="test")
    accounts.create("old", PASSWORDS["old"], "planner", actor="test")
    accounts.set_active("old", False, actor="test")
    yield app
    app.extensions["gisportal"].store.close()


@pytest.fixture
def client(auth_app):
    return auth_app.test_client()


def agency_of(app):
    db = app.extensions["gisportal"].agency
    return Accounts(db), AuditLog(db)


def token(client, path: str = "/login") -> str:
    """The CSRF token of the form on ``path``."""
    page = client.get(path)
    assert page.status_code == 200, page.status_code
    return re.search(r'name="csrf_token"[^>]* value="([^"]+)"', page.get_data(as_text=True)).group(1)


def sign_in(client, username: str, password: str | None = None, status: int = 303, **extra):
    response = client.post("/login", data={"username": username, "password": password or PASSWORDS[username],
                                           "csrf_token": token(client), **extra})
    assert response.status_code == status, (response.status_code, response.get_data(as_text=True)[:2000])
    return response


def audit_actions(app, **where):
    return [(e.actor, e.action, e.target, e.details) for e in agency_of(app)[1].search(AuditFilter(**where))]


# --- signing in and out ----------------------------------------------------------------------------------------


def test_sign_in_page_and_header(client):
    page = client.get("/login?lang=fr")
    html = page.get_data(as_text=True)
    assert page.status_code == 200 and 'name="csrf_token"' in html and 'type="password"' in html
    assert 'href="/login"' in html  # the header's "Sign in"
    assert 'action="/logout"' not in html


def test_sign_in_then_out(auth_app, client):
    response = sign_in(client, "Amina", PASSWORDS["amina"])
    assert response.headers["Location"] == "/admin"
    dashboard = client.get("/admin?lang=en").get_data(as_text=True)
    assert "Staff dashboard" in dashboard and "Amina El Idrissi" in dashboard
    assert 'action="/logout"' in dashboard and ">amina</a>" in dashboard  # "amina · Sign out" in the header
    me = client.get("/api/v1/me").get_json()
    assert me.pop("csrf_token")  # for the API's POST calls
    assert me == {"username": "amina", "display_name": "Amina El Idrissi", "role": "admin"}
    [(actor, action, target, details)] = audit_actions(auth_app, action="login.success")
    assert (actor, target, details) == ("amina", "amina", {})
    assert agency_of(auth_app)[1].search(AuditFilter(action="login.success"))[0].ip == "127.0.0.1"
    assert agency_of(auth_app)[0].find("amina").last_login_at is not None

    out = client.post("/logout", data={"csrf_token": token(client, "/admin")})
    assert out.status_code == 303 and out.headers["Location"] == "/"
    assert client.get("/admin").status_code == 302
    assert audit_actions(auth_app, action="logout") == [("amina", "logout", "amina", {})]


def test_wrong_password_unknown_user_and_disabled_user_are_refused(auth_app, client):
    wrong = sign_in(client, "youssef", "not youssef's password", status=401)
    assert "Wrong user name or password." in wrong.get_data(as_text=True)
    unknown = sign_in(client, "nobody", "whatever password", status=401)
    assert "Wrong user name or password." in unknown.get_data(as_text=True)
    disabled = sign_in(client, "old", status=401)
    assert "This account is disabled" in disabled.get_data(as_text=True)
    assert client.get("/admin").status_code == 302  # nobody signed in
    failures = audit_actions(auth_app, action="login.failure")
    assert [(a, t, d) for a, _, t, d in failures] == [(None, "old", {"reason": "disabled"}),
                                                      (None, "nobody", {"reason": "unknown_user"}),
                                                      (None, "youssef", {"reason": "wrong_password"})]
    everything = str([vars(e) for e in agency_of(auth_app)[1].search(limit=1000)])
    assert not any(p in everything for p in [*PASSWORDS.values(), "not youssef's password", "whatever password"])


def test_an_empty_form_is_a_400(client):
    response = client.post("/login", data={"csrf_token": token(client)})
    assert response.status_code == 400 and "Enter your user name." in response.get_data(as_text=True)


def test_next_goes_back_to_the_page_asked_for_on_this_site_only(client):
    anonymous = client.get("/admin/audit?actor=amina")
    assert anonymous.status_code == 302
    assert anonymous.headers["Location"] == "/login?next=/admin/audit?actor%3Damina"
    assert sign_in(client, "amina", next="/admin/audit?actor=amina").headers["Location"] == "/admin/audit?actor=amina"
    for evil in ("//evil.example/x", "https://evil.example/", "/\\evil.example"):
        other = client.application.test_client()
        assert sign_in(other, "amina", next=evil).headers["Location"] == "/admin"


# --- CSRF ----------------------------------------------------------------------------------------------------


def test_forms_without_csrf_token_are_refused(auth_app, client):
    refused = client.post("/login", data={"username": "amina", "password": PASSWORDS["amina"]})
    assert refused.status_code == 400 and "Reload the page" in refused.get_data(as_text=True)
    assert client.post("/login", data={"username": "amina", "password": PASSWORDS["amina"],
                                       "csrf_token": "forged"}).status_code == 400
    assert client.get("/admin").status_code == 302  # not signed in
    sign_in(client, "amina")
    assert client.post("/admin/users", data={"username": "intruder", "role": "admin", "password": "0123456789x",
                                             "confirm": "0123456789x"}).status_code == 400
    assert client.post("/admin/users/youssef/disable").status_code == 400
    assert client.post("/logout").status_code == 400
    accounts, _ = agency_of(auth_app)
    assert accounts.find("intruder") is None and accounts.find("youssef").active
    assert client.get("/admin").status_code == 200  # still signed in
    assert client.post("/verify", data={}).status_code == 400  # the public form too
    # a token from the page works, also as a header (scripts)
    assert client.post("/admin/users/youssef/disable",
                       headers={"X-CSRFToken": token(client, "/admin/users")}).status_code == 303
    assert not accounts.find("youssef").active


def test_api_json_answers_401_not_a_redirect(client):
    anonymous = client.get("/api/v1/me")
    assert anonymous.status_code == 401 and anonymous.mimetype == "application/json"
    assert anonymous.get_json()["error"] == "login_required"


# --- throttling ----------------------------------------------------------------------------------------------


def test_sixth_failed_attempt_in_a_minute_is_refused(auth_app, client):
    for _ in range(5):
        sign_in(client, "amina", "a wrong password", status=401)
    refused = client.post("/login?lang=en", data={"username": "amina", "password": PASSWORDS["amina"],
                                                  "csrf_token": token(client)})
    assert refused.status_code == 429
    assert "Too many sign-in attempts from your address" in refused.get_data(as_text=True)
    assert 0 < int(refused.headers["Retry-After"]) <= 60
    assert client.get("/admin").status_code == 302  # the right password did not get through
    assert len(audit_actions(auth_app, action="login.failure")) == 5
    # another address is not affected; the sign-in page itself still shows
    assert client.get("/login").status_code == 200
    other = auth_app.test_client()
    other.environ_base["REMOTE_ADDR"] = "10.1.2.3"
    sign_in(other, "amina")


def test_successful_sign_ins_do_not_count(client):
    for _ in range(7):
        sign_in(client, "youssef")
        client.post("/logout", data={"csrf_token": token(client, "/admin")})


def test_throttling_follows_the_settings(empty_instance):
    from gisportal.web import create_app

    app = create_app({**empty_instance.settings, "TESTING": True, "login_rate_limit": "2 per hour",
                      "ratelimit_storage_uri": "memory://"})
    client = app.test_client()
    for _ in range(2):
        sign_in(client, "nobody", "some password", status=401)
    assert client.post("/login", data={"username": "x", "password": "y", "csrf_token": token(client)}
                       ).status_code == 429
    app.extensions["gisportal"].store.close()


# --- roles ---------------------------------------------------------------------------------------------------


def test_anonymous_visitors_are_sent_to_sign_in(client):
    for path in ("/admin", "/admin/users", "/admin/audit", "/admin/password"):
        response = client.get(path)
        assert response.status_code == 302 and response.headers["Location"].startswith("/login?next=/admin")
    assert client.post("/admin/users/youssef/disable", data={"csrf_token": token(client)}).status_code == 302


def test_planner_gets_403_on_admin_pages(auth_app, client):
    sign_in(client, "youssef")
    dashboard = client.get("/admin?lang=en")
    assert dashboard.status_code == 200 and "Recent activity" not in dashboard.get_data(as_text=True)
    for path in ("/admin/users", "/admin/audit"):
        assert client.get(path).status_code == 403
    form_token = token(client, "/admin/password")
    assert client.post("/admin/users/amina/disable", data={"csrf_token": form_token}).status_code == 403
    assert client.post("/admin/users", data={"csrf_token": form_token, "username": "mine", "role": "admin",
                                             "password": "0123456789x", "confirm": "0123456789x"}).status_code == 403
    assert agency_of(auth_app)[0].find("amina").active and agency_of(auth_app)[0].find("mine") is None
    assert client.get("/api/v1/me").get_json()["role"] == "planner"


def test_admin_sees_accounts_and_audit(auth_app, client):
    sign_in(client, "amina")
    users = client.get("/admin/users?lang=en").get_data(as_text=True)
    for name in ("amina", "youssef", "old"):
        assert f'data-username="{name}"' in users
    assert users.count('action="/admin/users/old/enable"') == 1
    assert 'action="/admin/users/amina/disable"' not in users  # not oneself
    dashboard = client.get("/admin?lang=en").get_data(as_text=True)
    assert "Recent activity" in dashboard and "login.success" in dashboard
    audit = client.get("/admin/audit?lang=en").get_data(as_text=True)
    assert "user.create" in audit and "5 entries" in audit  # 3 creations, 1 disabling, 1 sign-in


def test_admin_adds_disables_and_enables_accounts(auth_app, client):
    sign_in(client, "amina")
    added = client.post("/admin/users", data={"csrf_token": token(client, "/admin/users"), "username": "Samira",
                                              "display_name": "Samira B.", "role": "planner",
                                              "password": "samira's password", "confirm": "samira's password"})
    assert added.status_code == 303
    assert "Account samira created." in client.get("/admin/users?lang=en").get_data(as_text=True)
    accounts, _ = agency_of(auth_app)
    assert accounts.find("samira").display_name == "Samira B."
    assert audit_actions(auth_app, action="user.create", actor="amina") == [
        ("amina", "user.create", "samira", {"role": "planner", "display_name": "Samira B."})]

    samira = auth_app.test_client()
    sign_in(samira, "samira", "samira's password")
    assert samira.get("/admin").status_code == 200
    client.post("/admin/users/samira/disable", data={"csrf_token": token(client, "/admin/users")})
    assert not accounts.find("samira").active
    assert samira.get("/admin").status_code == 302  # her open session ended
    sign_in(samira, "samira", "samira's password", status=401)
    client.post("/admin/users/samira/enable", data={"csrf_token": token(client, "/admin/users")})
    sign_in(samira, "samira", "samira's password")
    assert [a for _, a, t, _ in audit_actions(auth_app, actor="amina") if t == "samira"] == [
        "user.enable", "user.disable", "user.create"]


def test_admin_form_errors_are_clear(auth_app, client):
    sign_in(client, "amina")

    def add(**fields):
        return client.post("/admin/users?lang=en", data={"csrf_token": token(client, "/admin/users"), "role": "planner",
                                                         **fields})

    short = add(username="samira", password="short", confirm="short")
    assert short.status_code == 400 and "at least 10 characters" in short.get_data(as_text=True)
    differ = add(username="samira", password="long enough 1", confirm="long enough 2")
    assert differ.status_code == 400 and "The two passwords differ." in differ.get_data(as_text=True)
    taken = add(username="youssef", password="long enough 1", confirm="long enough 1")
    assert taken.status_code == 409 and "already taken" in taken.get_data(as_text=True)
    bad_role = add(username="samira", password="long enough 1", confirm="long enough 1", role="root")
    assert bad_role.status_code == 400
    assert agency_of(auth_app)[0].find("samira") is None


def test_audit_pages_and_filters(auth_app, client):
    _, audit = agency_of(auth_app)
    for n in range(60):
        audit.record("robot", "test.event", f"item-{n:02d}")
    sign_in(client, "amina")
    first = client.get("/admin/audit?actor=robot&lang=en").get_data(as_text=True)
    assert first.count('class="gp-audit-row"') == 50 and "60 entries" in first
    assert "item-59" in first and "item-10" in first and "item-09" not in first
    assert 'href="/admin/audit?page=2&amp;actor=robot"' in first
    second = client.get("/admin/audit?actor=robot&page=2").get_data(as_text=True)
    assert second.count('class="gp-audit-row"') == 10 and "item-00" in second
    only = client.get("/admin/audit?action=login.success&lang=en").get_data(as_text=True)
    assert only.count('class="gp-audit-row"') == 1
    assert client.get("/admin/audit?since=yesterday").status_code == 400
    assert client.get("/admin/audit?page=two").status_code == 400


def test_changing_ones_password_ends_other_sessions(auth_app, client):
    other = auth_app.test_client()
    sign_in(other, "youssef")
    sign_in(client, "youssef")
    wrong = client.post("/admin/password?lang=en", data={"csrf_token": token(client, "/admin/password"),
                                                         "current": "not it at all", "password": "a brand new one",
                                                         "confirm": "a brand new one"})
    assert wrong.status_code == 400 and "The current password is not right." in wrong.get_data(as_text=True)
    done = client.post("/admin/password", data={"csrf_token": token(client, "/admin/password"),
                                                 "current": PASSWORDS["youssef"], "password": "a brand new one",
                                                 "confirm": "a brand new one"})
    assert done.status_code == 303
    assert client.get("/admin").status_code == 200  # this session goes on
    assert other.get("/admin").status_code == 302  # the other one ended
    sign_in(other, "youssef", "a brand new one")


def test_pages_in_french_and_arabic(client):
    fr = client.get("/login?lang=fr").get_data(as_text=True)
    assert "Se connecter" in fr and "Mot de passe" in fr
    ar = client.get("/login?lang=ar").get_data(as_text=True)
    assert 'dir="rtl"' in ar and "تسجيل الدخول" in ar and "كلمة المرور" in ar


# --- what the public side keeps --------------------------------------------------------------------------------


def test_public_answers_do_not_vary_on_the_session(client):
    sign_in(client, "amina", PASSWORDS["amina"])
    plans = client.get("/api/v1/plans")
    assert plans.status_code == 200 and "Cookie" not in plans.headers.get("Vary", "")  # shared caches still work
    assert "Cookie" in client.get("/admin").headers["Vary"]


def test_bearer_token_calls_need_no_csrf_token_but_cookie_sessions_always_do(empty_instance):
    from gisportal.web import create_app

    app = create_app({**empty_instance.settings, "TESTING": True})
    app.add_url_rule("/api/v1/test-echo", "test_echo", lambda: {"ok": True}, methods=["POST"])
    client = app.test_client()
    token(client)  # the client holds a session cookie, as a signed-in browser would
    assert client.post("/api/v1/test-echo", json={}).status_code == 400
    # a forged page cannot add headers that lift the check from a cookie-authenticated call
    assert client.post("/api/v1/test-echo", json={}, headers={"Authorization": "Bearer s3cret"}).status_code == 400
    no_cookie = app.test_client()  # a script with its bearer token and no cookie: nothing to forge
    assert no_cookie.post("/api/v1/test-echo", json={}, headers={"Authorization": "Bearer s3cret"}).get_json() == {
        "ok": True}
    app.extensions["gisportal"].store.close()


def test_staff_accounts_handle_the_citizen_services_but_not_plans_rules_or_accounts(auth_app, client):
    """Roles staff < planner < admin: a member of staff at the service desk cannot publish plans."""
    Accounts(auth_app.extensions["gisportal"].agency).create("salma", "salma's long password", "staff", actor="test")
    sign_in(client, "salma", "salma's long password")
    for path in ("/admin", "/admin/complaints", "/admin/committees", "/admin/library", "/admin/reconciliation",
                 "/admin/password"):
        assert client.get(path).status_code == 200, path
    for path in ("/admin/upload", "/admin/versions", "/admin/rules", "/admin/users", "/admin/fees", "/admin/audit"):
        assert client.get(path).status_code == 403, path
    assert client.get("/api/v1/drafts/1").status_code == 403
    dashboard = client.get("/admin").get_data(as_text=True)
    assert "Staff (citizen services)" in dashboard and "/admin/upload" not in dashboard
    assert "/admin/complaints" in dashboard


def test_an_agency_database_made_before_the_staff_role_is_widened_in_place(tmp_path):
    """An agency.sqlite whose gp_users still checks role IN ('planner', 'admin'): rebuilt on open, rows and
    ids kept, and a staff account can then be added."""
    from gisportal.core.agencydb import SQLITE_NAME, create_sqlite_schema, sqlite_engine

    engine = sqlite_engine(tmp_path / SQLITE_NAME)
    with engine.begin() as conn:
        conn.execute(sa.text(
            "CREATE TABLE gp_users (id INTEGER NOT NULL PRIMARY KEY, username TEXT NOT NULL UNIQUE, "
            "display_name TEXT DEFAULT '' NOT NULL, role TEXT NOT NULL, password_hash TEXT NOT NULL, "
            "active BOOLEAN DEFAULT 1 NOT NULL, created_at DATETIME NOT NULL, last_login_at DATETIME, "
            "failed_logins INTEGER DEFAULT '0' NOT NULL, session_version INTEGER DEFAULT '0' NOT NULL, "
            "CONSTRAINT gp_users_role CHECK (role IN ('planner', 'admin')))"))
        conn.execute(sa.text("INSERT INTO gp_users (id, username, role, password_hash, created_at) "
                             "VALUES (7, 'youssef', 'planner', 'x', '2026-01-01 00:00:00')"))
        with pytest.raises(sa.exc.IntegrityError):
            with conn.begin_nested():
                conn.execute(sa.text("INSERT INTO gp_users (username, role, password_hash, created_at) "
                                     "VALUES ('salma', 'staff', 'x', '2026-01-01 00:00:00')"))
    create_sqlite_schema(engine)
    create_sqlite_schema(engine)  # idempotent
    from gisportal.core.agencydb import AgencyDB

    accounts = Accounts(AgencyDB(engine))
    assert [(u.id, u.username, u.role) for u in accounts.list()] == [(7, "youssef", "planner")]
    accounts.create("salma", "salma's long password", "staff")
    assert accounts.find("salma").role == "staff" and not accounts.find("salma").has_role("planner")
    with pytest.raises(sa.exc.IntegrityError), engine.begin() as conn:
        conn.execute(sa.text("INSERT INTO gp_users (username, role, password_hash, created_at) "
                             "VALUES ('bad', 'king', 'x', '2026-01-01 00:00:00')"))
