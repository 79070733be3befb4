"""The interactive API reference (``/api/v1/docs``) in a real browser: Swagger UI, served by the app from the
installed package, renders every operation of the OpenAPI document, with no request leaving this machine (the
guard of ``test_browser.py``), on a desktop and on a 390 px phone, in French and in Arabic.

Screenshots: ``tests/artifacts/apidocs-{fr,ar}-{desktop,phone}.png``.
"""

from __future__ import annotations

from typing import Any

import pytest
from support.browser import ARTIFACTS, _recording_session
from support.browser_complaints import complaints_site  # noqa: F401 (fixture)

pytestmark = pytest.mark.browser


@pytest.mark.parametrize("lang, viewport", [("fr", {"width": 1280, "height": 800}),
                                            ("ar", {"width": 390, "height": 844})])
def test_the_api_reference_renders_every_operation_locally(complaints_site: dict[str, Any], browser_chromium: Any,
                                                            lang: str, viewport: dict[str, int]) -> None:
    base = complaints_site["base_url"]
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    with _recording_session(browser_chromium, base) as session:
        page = session.new_page()
        page.set_viewport_size(viewport)
        page.goto(f"{base}/?lang={lang}")
        page.locator("details[data-menu='help'] > summary").click()
        page.locator("details[data-menu='help'] a[href='/api/v1/docs']").click()  # the "API" menu entry
        page.wait_for_url("**/api/v1/docs")
        page.wait_for_selector("#swagger-ui .opblock-summary-path")
        spec = page.evaluate("() => fetch('/api/v1/openapi.json').then(r => r.json())")
        expected = {(method, path) for path, item in spec["paths"].items() for method in item if method != "parameters"}
        shown = page.eval_on_selector_all(
            "#swagger-ui .opblock", """blocks => blocks.map(b => [
                b.querySelector('.opblock-summary-method').textContent.trim().toLowerCase(),
                b.querySelector('.opblock-summary-path').getAttribute('data-path')])""")
        assert {tuple(s) for s in shown} == expected and ("get", "/api/v1/me") in expected
        assert ("post", "/api/v1/drafts") in expected
        assert page.locator("html").get_attribute("dir") == ("rtl" if lang == "ar" else "ltr")
        assert page.locator("#swagger-ui").get_attribute("dir") == "ltr"
        width = page.evaluate("() => document.documentElement.scrollWidth")
        assert width <= viewport["width"] + 1, f"the page scrolls sideways ({width} px)"
        kind = "desktop" if viewport["width"] > 400 else "phone"
        page.screenshot(path=str(ARTIFACTS / f"apidocs-{lang}-{kind}.png"), full_page=False)
        session.assert_stayed_local()
