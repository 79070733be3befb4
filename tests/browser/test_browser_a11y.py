"""Every page on a 390 px phone and under axe-core (WCAG 2.1 AA), in French, Arabic and English (issue #15).

One chromium, one context per language on a 390 × 844 viewport; the pages of ``site_pages.build_site`` visited
in a loop, the two languages side by side (``visits``: axe runs in both languages' pages at once). On each page:
the document is no wider than the screen (``scrollWidth <= 390``), and axe-core (npm ``axe-core``, read from
``node_modules``, injected by Playwright) finds no critical or serious violation on any page, and no moderate one
on public pages. Every request stays on this machine (the guard of ``test_browser.py``). Screenshots:
``tests/artifacts/a11y-{lang}-{page}.png``.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from support.browser import ARTIFACTS, _is_local, _serving
from support.site_pages import build_site, signed_in

pytestmark = pytest.mark.browser

AXE = Path(__file__).resolve().parents[2] / "node_modules" / "axe-core" / "axe.min.js"
PHONE = {"width": 390, "height": 844}
TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "best-practice"]
#: Impacts that fail a page: public pages, staff pages.
FAILING = {"public": {"critical", "serious", "moderate"}, "staff": {"critical", "serious"}}
#: axe started in the page without waiting (the two languages' pages then run it at once, each in its renderer).
START_AXE = """(tags) => {
  window.__gpAxe = axe.run(document, {runOnly: {type: 'tag', values: tags}, resultTypes: ['violations']})
    .then(r => r.violations.map(v => ({id: v.id, impact: v.impact,
                                       nodes: v.nodes.slice(0, 3).map(n => n.target.join(' '))})));
}"""
#: Its answer (Playwright waits for the promise).
AXE_ANSWER = "() => window.__gpAxe"
LANGS = ("fr", "ar", "en")


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    if not AXE.exists():
        pytest.fail(f"{AXE} is missing: run `make install` (npm axe-core)", pytrace=False)
    app, pages = build_site(tmp_path_factory.mktemp("a11y-site"))
    with _serving(app) as base_url:
        yield {"base_url": base_url, "pages": pages}


def _settle(page: Any, path: str) -> None:
    """Wait for what the page's scripts draw (the map's search box and layers)."""
    page.wait_for_load_state("load")
    if path == "/":
        page.wait_for_function("() => window.gisportal && window.gisportal.map")


def _shot_name(path: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", path.split("?")[0].lower()).strip("-") or "map"


@pytest.fixture(scope="module")
def visits(site: dict[str, Any], browser_chromium: Any) -> dict[str, dict[str, Any]]:
    """Every page visited in each language, the languages side by side (one context each, on a phone): per language,
    each page's status and direction, the pages wider than the phone, axe's failing violations, the requests made
    and the page errors seen. On each page axe starts in both languages' pages before either answer is read, so
    the two runs overlap (each page has its own renderer process)."""
    base = site["base_url"]
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    seen: dict[str, dict[str, Any]] = {}
    contexts, pages = [], {}
    try:
        for lang in LANGS:
            context = browser_chromium.new_context(viewport=PHONE, locale=lang, bypass_csp=True,
                                                   service_workers="block")
            contexts.append(context)
            record: dict[str, Any] = {"requests": [], "errors": [], "status": {}, "dir": {}, "too_wide": {},
                                      "violations": {}}
            seen[lang] = record
            context.on("request", lambda r, record=record: record["requests"].append(r.url))
            context.on("page", lambda p, record=record: p.on("pageerror", lambda e: record["errors"].append(str(e))))
            context.route("**/*", lambda route: route.continue_() if _is_local(route.request.url)
                          else route.abort("blockedbyclient"))
            pages[lang] = context.new_page()
            pages[lang].set_default_timeout(15_000)
        for kind in ("public", "staff"):
            if kind == "staff":
                for page in pages.values():
                    with signed_in(page, base):
                        pass
            for path in site["pages"][kind]:
                for lang, page in pages.items():
                    record = seen[lang]
                    response = page.goto(f"{base}{path}{'&' if '?' in path else '?'}lang={lang}")
                    record["status"][path] = response.status
                    _settle(page, path)
                    record["dir"][path] = page.evaluate("document.documentElement.dir")
                    width = page.evaluate("document.documentElement.scrollWidth")
                    if width > PHONE["width"]:
                        record["too_wide"][path] = width
                    if kind == "public":
                        page.screenshot(path=str(ARTIFACTS / f"a11y-{lang}-{_shot_name(path)}.png"))
                    page.add_script_tag(path=str(AXE))
                    page.evaluate(START_AXE, TAGS)
                for lang, page in pages.items():
                    found = [v for v in page.evaluate(AXE_ANSWER) if v["impact"] in FAILING[kind]]
                    if found:
                        seen[lang]["violations"][f"{kind} {path}"] = found
    finally:
        for context in contexts:
            context.close()
    return seen


@pytest.mark.parametrize("lang", LANGS)
def test_every_page_fits_a_phone_and_passes_axe(site: dict[str, Any], visits: dict[str, dict[str, Any]],
                                                lang: str) -> None:
    seen = visits[lang]
    every = site["pages"]["public"] + site["pages"]["staff"]
    assert list(seen["status"]) == every  # every page was visited
    assert {path: status for path, status in seen["status"].items()
            if status != (404 if path == "/no-such-page" else 200)} == {}
    assert {path for path, d in seen["dir"].items() if d != ("rtl" if lang == "ar" else "ltr")} == set()
    assert not [u for u in seen["requests"] if not _is_local(u)], "a page reached the internet"
    assert not seen["errors"], seen["errors"]
    assert not seen["violations"] and not seen["too_wide"], json.dumps(
        {"axe violations": seen["violations"], "wider than a 390 px phone": seen["too_wide"]}, indent=1)


def _panel_ref(page: Any) -> str | None:
    ref = page.locator("#gp-result .gp-summary-ref")
    return ref.inner_text().strip() if ref.count() else None


def test_search_and_map_work_with_the_keyboard_as_people_type(site: dict[str, Any], browser_chromium: Any) -> None:
    """Enter opens what is typed now (even before its suggestions came), Arabic street names are found, the box
    is an ARIA combobox, a quarter
    clears the panel, Enter on the focused map opens the parcel at its centre, the zoom hint zooms in, and on a
    phone the legend starts closed."""
    from pyproj import Transformer
    from support.tiny import X0, Y0

    base = site["base_url"]
    context = browser_chromium.new_context(viewport={"width": 1366, "height": 900}, locale="fr")
    context.route("**/*", lambda route: route.continue_() if _is_local(route.request.url)
                  else route.abort("blockedbyclient"))
    try:
        page = context.new_page()
        page.set_default_timeout(15_000)
        page.goto(f"{base}/?lang=fr")
        page.wait_for_function("() => window.gisportal && window.gisportal.map")
        box = page.locator("#gp-q")
        assert box.get_attribute("role") == "combobox" and box.get_attribute("aria-expanded") == "false"
        # Enter at once, before any suggestion arrived: the house number typed is opened
        box.fill("1 Rue Ibn Battouta")
        box.press("Enter")
        page.wait_for_function("() => document.querySelector('#gp-result .gp-summary-ref')")
        assert _panel_ref(page) == "TF-1001/06"
        # suggestions of an earlier text on screen, then another number typed and Enter at once: the new one
        box.fill("3 Rue Ibn Battouta")
        page.wait_for_selector("#gp-suggestions li[role=option][aria-selected=true]")
        assert box.get_attribute("aria-expanded") == "true"
        active = box.get_attribute("aria-activedescendant")
        assert active and page.locator(f"#{active}").get_attribute("aria-selected") == "true"
        assert "TF-1002/06" in page.locator(f"#{active}").inner_text()
        box.fill("5 Rue Ibn Battouta")
        box.press("Enter")
        page.wait_for_function("() => (document.querySelector('#gp-result .gp-summary-ref') || {}).textContent"
                               " === 'TF-1005/06'")
        assert box.get_attribute("aria-expanded") == "false" and box.get_attribute("aria-activedescendant") is None
        # a street typed in Arabic, as a citizen says it (شارع for the data's "Rue"), and a house number
        box.fill("شارع ابن بطوطة")
        page.wait_for_selector("#gp-suggestions li[role=option]:has-text('Rue Ibn Battouta')")
        assert "زنقة ابن بطوطة" in page.locator("#gp-suggestions li[role=option]").first.inner_text()
        box.fill("3 شارع ابن بطوطة")  # the panel shows TF-1005/06: this opens number 3
        box.press("Enter")
        page.wait_for_function("() => (document.querySelector('#gp-result .gp-summary-ref') || {}).textContent"
                               " === 'TF-1002/06'")
        # a quarter: the map moves there and the previous parcel leaves the panel
        box.fill("Marshan")
        page.wait_for_selector("#gp-suggestions li[role=option]")
        box.press("Enter")
        page.wait_for_function("() => !document.querySelector('#gp-result .gp-summary-ref')")
        assert page.locator("#gp-result .gp-hint").count() == 1
        page.wait_for_function("() => window.gisportal.map.getZoom() === 16")  # the quarter's view, animation over
        page.wait_for_timeout(300)
        # the keyboard's way to choose on the map: centre it on TF-1003/06 (box 150..170 x 50..70), Enter
        lon, lat = Transformer.from_crs("EPSG:26191", "EPSG:4326", always_xy=True).transform(X0 + 160, Y0 + 60)
        page.locator(".gp-map .leaflet-container").focus()
        page.evaluate("([lat, lon]) => window.gisportal.map.setView([lat, lon], 18, {animate: false})", [lat, lon])
        page.keyboard.press("Enter")
        page.wait_for_function("() => (document.querySelector('#gp-result .gp-summary-ref') || {}).textContent"
                               " === 'TF-1003/06'")
        # below the parcels' zoom, a hint says so; it zooms in
        hint = page.locator(".gp-zoom-hint")
        assert hint.is_hidden()
        page.evaluate("window.gisportal.map.setZoom(12, {animate: false})")
        assert hint.is_visible() and hint.inner_text().strip()
        hint.click()
        page.wait_for_function("() => window.gisportal.map.getZoom() >= JSON.parse("
                               "document.getElementById('gp-config').textContent).parcelMinZoom")
        hint.wait_for(state="hidden")
        assert page.locator(".gp-legend details").get_attribute("open") is not None  # open on a desktop
        page.screenshot(path=str(ARTIFACTS / "a11y-search-desktop.png"))
        phone = context.new_page()
        phone.set_viewport_size(PHONE)
        phone.goto(f"{base}/?lang=ar")
        phone.wait_for_function("() => window.gisportal && window.gisportal.map")
        assert phone.locator(".gp-legend details").get_attribute("open") is None  # closed on a phone
        phone.keyboard.press("Tab")  # the first Tab reaches the skip link, which leads to the content
        assert phone.evaluate("document.activeElement.className") == "gp-skip"
    finally:
        context.close()


#: What a file input says on a page, by language (the browser's own words follow the browser, not the page).
FILE_WORDS = {"fr": ("Choisir un fichier", "Aucun fichier choisi"), "ar": ("اختيار ملف", "لم يُختر أي ملف")}


@pytest.mark.parametrize("lang", ["fr", "ar"])
def test_file_inputs_speak_the_page_language_and_stay_usable(site: dict[str, Any], browser_chromium: Any,
                                                             lang: str, tmp_path: Path) -> None:
    """Every file input of the public pages shows the page's words; the input itself stays the labelled,
    focusable control, takes a file, and shows its name."""
    base = site["base_url"]
    choose, none = FILE_WORDS[lang]
    context = browser_chromium.new_context(viewport=PHONE, locale="en-US")  # a browser in English
    context.route("**/*", lambda route: route.continue_() if _is_local(route.request.url)
                  else route.abort("blockedbyclient"))
    pdf = tmp_path / "note.pdf"
    pdf.write_bytes(b"%PDF-1.4\n%%EOF\n")
    try:
        page = context.new_page()
        page.set_default_timeout(15_000)
        for path in ("/verify", "/complaints/new", "/sites"):
            page.goto(f"{base}{path}?lang={lang}")
            page.wait_for_load_state("load")
            inputs = page.locator("input[type=file]")
            assert inputs.count() >= 1, path
            for i in range(inputs.count()):
                field = inputs.nth(i)
                box = field.locator("xpath=..")
                assert box.get_attribute("class") == "gp-file", path
                assert box.locator(".gp-file-button").inner_text() == choose, path
                assert box.locator(".gp-file-name").inner_text() == none, path
                assert page.evaluate("(el) => el.labels.length > 0 || !!el.getAttribute('aria-label')",
                                     field.element_handle()), (path, "an input without a label")
                field.focus()
                assert page.evaluate("(el) => document.activeElement === el", field.element_handle()), path
                # the control keeps its place: the face and the input cover the same box, a tap reaches the input
                face, control = box.bounding_box(), field.bounding_box()
                assert face and control and abs(face["width"] - control["width"]) < 1, (path, face, control)
                assert face["x"] >= 0 and face["x"] + face["width"] <= PHONE["width"], (path, face)
            inputs.first.set_input_files(str(pdf))
            assert page.locator(".gp-file-name").first.inner_text() == "note.pdf", path
            page.screenshot(path=str(ARTIFACTS / f"a11y-file-{lang}-{_shot_name(path)}.png"))
    finally:
        context.close()
