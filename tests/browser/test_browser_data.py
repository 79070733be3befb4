"""The open-data page in Debian's chromium: French and Arabic, desktop and a 390 px phone; nothing leaves
localhost; every download link works and the menu leads there."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from support.browser import ARTIFACTS, _recording_session
from support.ogc import ogc  # noqa: F401  (the served portal fixture)

pytestmark = [pytest.mark.browser, pytest.mark.backends("embedded")]


@pytest.mark.parametrize(("lang", "direction"), [("fr", "ltr"), ("ar", "rtl")])
@pytest.mark.parametrize("viewport", [{"width": 1280, "height": 800}, {"width": 390, "height": 844}])
def test_data_page_reads_on_desktop_and_phone(browser_chromium: Any, ogc: SimpleNamespace, lang: str,  # noqa: F811
                                              direction: str, viewport: dict) -> None:
    with _recording_session(browser_chromium, ogc.base) as session:
        page = session.new_page()
        page.set_viewport_size(viewport)
        page.goto(f"{ogc.base}/?lang={lang}")
        page.locator("#gp-menu-map").click()
        with page.expect_navigation():
            page.locator("details[data-menu='map'] a[href='/data']").click()
        assert page.locator("html").get_attribute("dir") == direction
        assert page.evaluate("document.documentElement.scrollWidth - document.documentElement.clientWidth") <= 0
        links = page.locator("a[download]")
        assert links.count() == 16
        for href in [links.nth(i).get_attribute("href") for i in (0, 15)]:
            assert page.request.get(href).status == 200
        assert "Décret v2" in page.content()
        Path(ARTIFACTS).mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(Path(ARTIFACTS) / f"data-{lang}-{viewport['width']}.png"), full_page=True)
        session.assert_stayed_local()
