"""The document library, the help page and a poster in a real browser (Debian's chromium through Playwright).

A planner signs in and adds a regulation PDF (French and Arabic text, made by WeasyPrint) and a newer one;
a citizen searches both languages, opens the stable page and its QR code, follows "superseded by", reaches the
regulation from a parcel's note, then the help page (offices on the locally served Leaflet map) and a poster.
Every request is recorded; any to another machine is aborted and fails the test (the guard of
``test_browser.py``). Screenshots land in ``tests/artifacts/``.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from support.browser import ARTIFACTS, _recording_session, _serving
from support.tiny import TINY_RULES_YAML, build_tiny_store

pytestmark = pytest.mark.browser

PLANNER, PASSWORD = "karim.planner", "un-mot-de-passe-long-2026"
FR_TEXT = "Le règlement de la zone A fixe la hauteur maximale des constructions à douze mètres."
AR_TEXT = "يحدد نظام التهيئة الارتفاعَ الأقصى للبنايات في المنطقة."


@pytest.fixture(scope="module")
def library_site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    """The tiny territory, a planner account, the real app served on 127.0.0.1, two regulation PDFs."""
    from datetime import date

    from weasyprint import HTML

    from gisportal.core.accounts import Accounts
    from gisportal.core.settings import load_settings
    from gisportal.storage import open_store
    from gisportal.web import create_app

    data_dir = tmp_path_factory.mktemp("library-browser")
    build_tiny_store(open_store(load_settings({"data_dir": data_dir, "storage": "embedded"})), date.today())
    rules = data_dir / "rules.yaml"
    rules.write_text(TINY_RULES_YAML, encoding="utf-8")
    files = tmp_path_factory.mktemp("library-files")
    HTML(string=f'<p>{FR_TEXT}</p><p dir="rtl">{AR_TEXT}</p>').write_pdf(files / "reglement.pdf")
    HTML(string="<p>Règlement révisé : hauteur de quinze mètres.</p>").write_pdf(files / "revise.pdf")
    app = create_app({"data_dir": data_dir, "storage": "embedded", "basemap_url": None, "rules_file": rules,
                      "languages": ["fr", "ar", "en"], "default_language": "fr", "reload_check_seconds": 0})
    Accounts(app.extensions["gisportal"].agency).create(PLANNER, PASSWORD, "planner", display_name="Karim")
    with _serving(app) as base_url:
        yield {"base_url": base_url, "files": files}


def _shot(page: Any, name: str) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"library-{name}.png"), full_page=True)


def _add_document(page: Any, base: str, pdf: Path, title_fr: str, title_ar: str, zones: str) -> int:
    page.goto(f"{base}/admin/library")
    page.select_option("#gp-library-form select[name=kind]", "plan_regulation")
    page.fill("#gp-library-form input[name=title_fr]", title_fr)
    page.fill("#gp-library-form input[name=title_ar]", title_ar)
    page.fill("#gp-library-form input[name=reference]", "D-2-24-100")
    page.select_option("#gp-library-form select[name=plan_name]", "tiny-plan")
    page.fill("#gp-library-form input[name=zone_codes]", zones)
    page.set_input_files("#gp-library-form input[name=file]", str(pdf))
    with page.expect_navigation():
        page.click("#gp-library-form button[type=submit]")
    assert "/admin/library/" in page.url, page.url
    return int(page.url.rstrip("/").rsplit("/", 1)[1])


def test_staff_add_citizens_search_follow_supersession_note_link_help_and_poster(library_site, browser_chromium):
    base = library_site["base_url"]
    with _recording_session(browser_chromium, base) as session:
        page = session.new_page()
        # a planner signs in and adds two regulations
        page.goto(f"{base}/login?next=/admin/library")
        page.fill("input[name=username]", PLANNER)
        page.fill("input[name=password]", PASSWORD)
        with page.expect_navigation():
            page.click("button[type=submit]")
        first = _add_document(page, base, library_site["files"] / "reglement.pdf", "Règlement de la zone A",
                              "نظام المنطقة أ", "A")
        assert "Document" in page.inner_text(".gp-flash-success")
        second = _add_document(page, base, library_site["files"] / "revise.pdf", "Règlement révisé",
                               "النظام المعدل", "")
        page.goto(f"{base}/admin/library/{first}")
        page.fill("#gp-library-supersede input[name=superseded_by]", str(second))
        with page.expect_navigation():
            page.click("#gp-library-supersede button[type=submit]")
        _shot(page, "staff")

        # a citizen searches in French, without the accent, and gets the passage highlighted
        page.goto(f"{base}/documents")
        page.fill("#gp-library-q", "reglement hauteur douze")
        with page.expect_navigation():
            page.press("#gp-library-q", "Enter")
        results = page.locator(".gp-library-result")
        assert results.count() == 1 and results.first.get_attribute("data-document") == str(first)
        assert page.locator(".gp-library-snippet mark").first.inner_text().lower() == "règlement"
        assert results.first.locator(".gp-badge-superseded").count() == 1
        _shot(page, "search-fr")
        # ... and in Arabic, without the vowel nor the hamza
        page.goto(f"{base}/documents?lang=ar")
        page.fill("#gp-library-q", "الاقصى")
        with page.expect_navigation():
            page.press("#gp-library-q", "Enter")
        assert page.get_attribute("html", "dir") == "rtl"
        assert page.locator(".gp-library-snippet mark").first.inner_text() == "الأقصى"
        _shot(page, "search-ar")

        # the stable page of the superseded document links to the newer one; both carry a QR code
        page.goto(f"{base}/documents/{first}?lang=fr")
        assert page.locator(".gp-superseded-notice").count() == 1
        assert page.locator(".gp-library-qr svg").count() == 1
        with page.expect_navigation():
            page.click(".gp-superseded-notice a")
        assert page.url.split("?")[0].endswith(f"/documents/{second}")
        assert page.locator(".gp-superseded-notice").count() == 0
        _shot(page, "document")

        # the note of a parcel in zone A links to the regulation in force
        page.goto(f"{base}/note?ref=TF-1002/06&lang=fr")
        link = page.locator(".gp-note-documents a")
        assert link.count() == 1 and link.first.get_attribute("href") == f"/documents/{second}"

        # help page: the office on a Leaflet map served by the app; a poster with its QR code
        page.goto(f"{base}/help?lang=fr")
        page.wait_for_selector(".leaflet-container")
        assert page.locator(".leaflet-interactive").count() >= 1  # the offices' markers
        _shot(page, "help")
        with page.expect_navigation():
            page.click("[data-poster=library] a >> nth=0")
        assert page.locator(".gp-poster-qr svg").count() == 1
        assert "Bibliothèque documentaire" in page.inner_text(".gp-poster")
        assert "الخزانة الوثائقية" in page.inner_text(".gp-poster")
        _shot(page, "poster")
        session.assert_stayed_local()
