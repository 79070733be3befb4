"""The header's menus in a real browser (Debian's chromium through Playwright), in French and in Arabic.

The public links are grouped into four native disclosure menus (``templates/_nav.html``): a person opens one
with the keyboard, walks its links with Tab and follows one; the page reached marks its own link
(``aria-current="page"``) and its group. Every menu opens on screen, over the map, on a desktop and on a
390 px wide phone, towards the side the text starts from (left in French, right in Arabic). Escape, a click
elsewhere or opening another menu closes it. Every request stays on this machine (the guard of
``test_browser.py``).

Screenshots: ``tests/artifacts/nav-{fr,ar}-{desktop,phone}.png``.
"""

from __future__ import annotations

import re
from typing import Any

import pytest
from support.browser import ARTIFACTS, _recording_session
from support.browser_complaints import complaints_site  # noqa: F401 (fixture)

pytestmark = pytest.mark.browser

MENUS = ("map", "services", "decisions", "help")
PHONE = {"width": 390, "height": 844}
DESKTOP = {"width": 1280, "height": 800}
#: Every link of the former flat bar, still reachable: href -> the menu it is in now.
FORMER_LINKS = {"/": "map", "/plans": "map", "/committees": "decisions", "/fees": "services",
                "/complaints/new": "services", "/documents": "decisions", "/help": "help",
                "/api/v1/docs": "help"}


@pytest.fixture(scope="module")
def nav_site(complaints_site: dict[str, Any]) -> str:
    """The base URL of the tiny territory served on 127.0.0.1 (the complaints tests' site)."""
    return complaints_site["base_url"]


def _focused(page: Any) -> str:
    """What has the keyboard focus: ``summary#id``, ``a[href]`` or the tag."""
    return page.evaluate("""() => { const e = document.activeElement;
        return e.tagName === 'A' ? 'a' + e.getAttribute('href') : e.tagName.toLowerCase() + '#' + e.id; }""")


def _tab_to(page: Any, target: str, presses: int = 20) -> None:
    """Press Tab until ``target`` (as :func:`_focused` names it) has the focus."""
    for _ in range(presses):
        page.keyboard.press("Tab")
        if _focused(page) == target:
            return
    pytest.fail(f"{target} never got the focus with Tab (last: {_focused(page)})")


def _open_menus(page: Any) -> list[str]:
    return page.eval_on_selector_all("nav.gp-nav details[open]", "els => els.map(e => e.dataset.menu)")


def _assert_on_screen_and_on_top(page: Any, key: str) -> dict[str, float]:
    """The open menu's list lies inside the viewport, and each of its links is what a tap there would reach."""
    viewport = page.viewport_size
    box = page.locator(f"details[data-menu='{key}'] .gp-menu-list").bounding_box()
    assert box is not None, f"menu {key} is not shown"
    assert box["x"] >= 0 and box["y"] >= 0, (key, box, viewport)
    assert box["x"] + box["width"] <= viewport["width"] + 0.5, (key, box, viewport)
    assert box["y"] + box["height"] <= viewport["height"] + 0.5, (key, box, viewport)
    covered = page.eval_on_selector_all(f"details[data-menu='{key}'] .gp-menu-list a", """links => links.filter(a => {
        const r = a.getBoundingClientRect(), hit = document.elementFromPoint(r.x + r.width / 2, r.y + r.height / 2);
        return !(hit && (hit === a || a.contains(hit)));
      }).map(a => a.getAttribute('href'))""")
    assert covered == [], f"links of menu {key} hidden under something else: {covered}"
    return box


@pytest.mark.parametrize("lang, direction", [("fr", "ltr"), ("ar", "rtl")])
def test_a_menu_opened_with_the_keyboard_on_a_phone_leads_to_its_page(nav_site: str, browser_chromium: Any,
                                                                       lang: str, direction: str) -> None:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    with _recording_session(browser_chromium, nav_site) as session:
        page = session.new_page()
        page.set_viewport_size(PHONE)
        page.goto(f"{nav_site}/?lang={lang}")
        page.wait_for_function("() => typeof L !== 'undefined' && window.gisportal && window.gisportal.map")
        assert page.evaluate("[document.documentElement.lang, document.documentElement.dir]") == [lang, direction]
        assert _open_menus(page) == []
        assert page.locator("nav.gp-nav a[href='/complaints/track']").is_hidden()  # closed menus hide their links
        # the map page marks its own link and group
        assert page.locator("nav.gp-nav a[aria-current='page']").evaluate_all(
            "els => els.map(e => e.getAttribute('href'))") == ["/"]
        assert page.locator("#gp-menu-map").get_attribute("aria-current") == "true"

        # keyboard only: Tab to the "Services" button, Enter opens it, Tab walks its links, Enter follows one
        _tab_to(page, "summary#gp-menu-services")
        page.keyboard.press("Enter")
        assert _open_menus(page) == ["services"]
        box = _assert_on_screen_and_on_top(page, "services")
        nav = page.locator("nav.gp-nav").bounding_box()  # under all the buttons, as wide as they are
        assert box["width"] == pytest.approx(nav["width"], abs=1) and box["y"] >= nav["y"] + nav["height"]
        page.screenshot(path=str(ARTIFACTS / f"nav-{lang}-phone.png"))
        page.keyboard.press("Escape")  # closes, the focus back on its button
        assert _open_menus(page) == [] and _focused(page) == "summary#gp-menu-services"
        page.keyboard.press("Space")
        assert _open_menus(page) == ["services"]
        page.keyboard.press("Tab")
        assert _focused(page) == "a/complaints/new"
        page.keyboard.press("Tab")
        assert _focused(page) == "a/complaints/track"
        with page.expect_navigation():
            page.keyboard.press("Enter")
        assert re.search(r"/complaints/track$", page.url), page.url
        assert page.evaluate("document.documentElement.dir") == direction
        assert _open_menus(page) == []  # a new page starts with its menus closed
        current = page.locator("nav.gp-nav a[aria-current='page']")
        assert current.count() == 1 and current.get_attribute("href") == "/complaints/track"
        assert page.locator("#gp-menu-services").get_attribute("aria-current") == "true"
        assert page.locator("#gp-menu-map").get_attribute("aria-current") is None

        # every menu opens on the phone's screen
        for key in MENUS:
            page.locator(f"#gp-menu-{key}").click()
            assert _open_menus(page) == [key]  # opening one closes the others
            _assert_on_screen_and_on_top(page, key)
        page.locator("main, .gp-page").first.click(position={"x": 5, "y": 5})  # a tap elsewhere closes it
        assert _open_menus(page) == []
        session.assert_stayed_local()


@pytest.mark.parametrize("lang", ["fr", "ar"])
def test_on_a_desktop_menus_open_under_their_button_from_the_reading_side(nav_site: str, browser_chromium: Any,
                                                                           lang: str) -> None:
    with _recording_session(browser_chromium, nav_site) as session:
        page = session.new_page()
        page.set_viewport_size(DESKTOP)
        page.goto(f"{nav_site}/?lang={lang}")
        page.wait_for_function("() => typeof L !== 'undefined' && window.gisportal && window.gisportal.map")
        summaries = [page.locator(f"#gp-menu-{key}").bounding_box() for key in MENUS]
        assert len({round(s["y"]) for s in summaries}) == 1, summaries  # one row
        xs = [s["x"] for s in summaries]
        assert xs == (sorted(xs) if lang == "fr" else sorted(xs, reverse=True)), xs  # in reading order
        for key, summary in zip(MENUS, summaries, strict=True):
            page.locator(f"#gp-menu-{key}").focus()
            page.keyboard.press("Enter")
            box = _assert_on_screen_and_on_top(page, key)  # over the map and its controls
            assert box["y"] >= summary["y"] + summary["height"]
            if key != MENUS[-1]:  # the last menu opens inwards, from its far edge
                start = box["x"] if lang == "fr" else box["x"] + box["width"]
                edge = summary["x"] if lang == "fr" else summary["x"] + summary["width"]
                assert start == pytest.approx(edge, abs=1), (key, box, summary)
            if key == "services":
                page.screenshot(path=str(ARTIFACTS / f"nav-{lang}-desktop.png"))
            page.keyboard.press("Escape")
            assert _open_menus(page) == []
        # every link of the former flat bar is still there, in its menu
        found = {a: page.locator(f"nav.gp-nav details[data-menu='{menu}'] a[href='{a}']").count()
                 for a, menu in FORMER_LINKS.items()}
        assert found == dict.fromkeys(FORMER_LINKS, 1)
        # the mouse: a menu item of "Decisions and documents" reaches the library, which is then marked
        page.locator("#gp-menu-decisions").click()
        with page.expect_navigation():
            page.locator("details[data-menu='decisions'] a[href='/documents']").click()
        assert page.locator("nav.gp-nav a[aria-current='page']").get_attribute("href") == "/documents"
        assert page.locator("#gp-menu-decisions").get_attribute("aria-current") == "true"
        session.assert_stayed_local()
