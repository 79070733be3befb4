"""A small but complete site for page-wide browser checks (issue #15): every public and staff page has
something to show.

The tests' tiny territory (``conftest.build_tiny_store``) with an administrator, an issued note, an order, a
complaint, a committee session with a decision and a regulation in the library, all made through the app's
own forms and API (Flask's test client), then served over HTTP on 127.0.0.1.
"""

from __future__ import annotations

import io
import json
import re
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date
from pathlib import Path
from typing import Any

from gisportal.zoning.quarter_names import STREETS_META_KEY, arabic_street_names
from support.tiny import TINY_RULES_YAML, X0, Y0, build_tiny_store

ADMIN, PASSWORD = "leila.admin", "un-mot-de-passe-long-2026"
PARCEL = "TF-1001/06"


def _csrf(client: Any, path: str) -> str:
    html = client.get(path).get_data(as_text=True)
    found = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', html)
    assert found, f"no CSRF token on {path}"
    return found.group(1)


def _pdf() -> bytes:
    from weasyprint import HTML

    return HTML(string="<p>Règlement de la zone A : hauteur maximale douze mètres.</p>").write_pdf()


def build_site(data_dir: Path) -> tuple[Any, dict[str, list[str]]]:
    """The app over a stocked tiny territory, and its pages: ``{"public": [...], "staff": [...]}`` (paths)."""
    from pyproj import Transformer

    from gisportal.core.accounts import Accounts
    from gisportal.core.settings import load_settings
    from gisportal.storage import open_store
    from gisportal.web import create_app

    store = open_store(load_settings({"data_dir": data_dir, "storage": "embedded"}))
    build_tiny_store(store, date.today())
    store.set_meta({STREETS_META_KEY: json.dumps(arabic_street_names({"Rue Ibn Battouta", "Avenue Pasteur"}),
                                                 ensure_ascii=False)})  # the Arabic names search finds
    rules = data_dir / "rules.yaml"
    rules.write_text(TINY_RULES_YAML, encoding="utf-8")
    app = create_app({"data_dir": data_dir, "storage": "embedded", "basemap_url": None, "rules_file": rules,
                      "languages": ["fr", "ar", "en"], "default_language": "fr", "reload_check_seconds": 0,
                      "form_rate_limit": "1000 per hour", "lookup_rate_limit": "1000 per hour"})
    Accounts(app.extensions["gisportal"].agency).create(ADMIN, PASSWORD, "admin", display_name="Leila")

    citizen = app.test_client()
    order = citizen.post("/api/v1/orders", json={"service": "nru_note", "parcel_ref": PARCEL}).get_json()
    lon, lat = Transformer.from_crs("EPSG:26191", "EPSG:4326", always_xy=True).transform(X0 + 100, Y0 + 20)
    complaint = citizen.post("/api/v1/complaints", content_type="multipart/form-data", data={
        "category": "illegal_construction", "lon": f"{lon:.7f}", "lat": f"{lat:.7f}",
        "description": "Construction d'un étage supplémentaire sans autorisation, travaux de nuit.",
        "contact_name": "Fatima Zahra Benali", "contact_email": "fatima.benali@example.ma"}).get_json()
    assert complaint and "number" in complaint, complaint

    staff = app.test_client()
    assert staff.post("/login", data={"username": ADMIN, "password": PASSWORD,
                                      "csrf_token": _csrf(staff, "/login")}).status_code in (302, 303)
    note = staff.get(f"/note?ref={PARCEL}").get_data(as_text=True)  # staff get the numbered note
    number = re.search(r'class="gp-note-number">[^<]*<b dir="ltr">([^<]+)</b>', note)
    assert number, "the note was not numbered"
    session = staff.post("/admin/committees", data={"held_on": date.today().isoformat(), "kind": "small_projects",
                                                    "title": "", "csrf_token": _csrf(staff, "/admin/committees")})
    session_id = int(session.headers["Location"].rstrip("/").rsplit("/", 1)[1])
    session_path = f"/admin/committees/sessions/{session_id}"
    staff.post(session_path, data={"file_number": "2026/0101", "parcel_ref": PARCEL, "project_type": "housing",
                                   "decision": "adjourned", "conditions": "", "applicant_reference": "",
                                   "applicant_name": "", "applicant_cin": "", "applicant_phone": "",
                                   "csrf_token": _csrf(staff, session_path)})
    added = staff.post("/admin/library", content_type="multipart/form-data", data={
        "csrf_token": _csrf(staff, "/admin/library"), "kind": "plan_regulation", "title_fr": "Règlement",
        "title_ar": "نظام التهيئة", "reference": "R-1", "issued_on": "2024-03-01", "plan_name": "tiny-plan",
        "zone_codes": "A", "file": (io.BytesIO(_pdf()), "r.pdf")})
    doc_id = int(added.headers["Location"].rstrip("/").rsplit("/", 1)[1])

    # the QR code's token: a note is shown by its number only with it (issue #14)
    token = app.extensions["gisportal"].registry.get(number.group(1)).signature[:16]
    public = ["/", f"/note?ref={PARCEL}", "/plans", f"/verify/{number.group(1)}?t={token}", "/verify", "/fees",
              f"/payments/orders/{order['reference']}?t={order['access_token']}", "/complaints/new",
              "/complaints/track", "/sites", "/committees", "/documents", f"/documents/{doc_id}", "/help", "/subscribe",
              "/login", "/no-such-page"]
    staff_pages = ["/admin", "/admin/users", "/admin/audit", "/admin/password", "/admin/upload", "/admin/versions",
                   "/admin/rules", "/admin/rules/zone/A", "/admin/complaints",
                   f"/admin/complaints/{complaint['number']}",
                   "/admin/library", f"/admin/library/{doc_id}", "/admin/committees", session_path,
                   "/admin/fees", "/admin/reconciliation"]
    return app, {"public": public, "staff": staff_pages}


@contextmanager
def signed_in(page: Any, base_url: str) -> Iterator[None]:
    """The browser page signed in as the site's administrator."""
    page.goto(f"{base_url}/login")
    page.fill("input[name=username]", ADMIN)
    page.fill("input[name=password]", PASSWORD)
    with page.expect_navigation():
        page.locator("form button[type=submit]").last.click()
    yield
