"""The API reference page in Chromium, in English and Lao: axe at desktop width and at 360 px, headings, code that
scrolls inside its box, and the way there from the menu."""
from __future__ import annotations

import pytest
from playwright.sync_api import expect

from tests.browser.test_accessibility import HEADINGS, LANGUAGES, describe, new_tab, open_page, run_axe

pytestmark = [pytest.mark.browser, pytest.mark.slow]

# Code blocks wider than their box, and where each one's box ends: none may stick out of the page.
CODE_BLOCKS = """() => Array.from(document.querySelectorAll('pre.code')).map(pre => ({
  scrolls: pre.scrollWidth > pre.clientWidth, right: pre.getBoundingClientRect().right,
  overflow: getComputedStyle(pre).overflowX, focusable: pre.tabIndex === 0}))"""


@pytest.mark.parametrize("language", LANGUAGES)
@pytest.mark.parametrize("width", [1280, 360])
def test_axe_finds_no_serious_or_critical_problem_on_the_api_reference(browser, live_server, language, width):
    context, tab = new_tab(browser, live_server, language, width=width, height=900)
    try:
        open_page(tab, "/api", language)
        result = run_axe(tab)
    finally:
        context.close()
    violations = result["violations"]
    for violation in violations:
        print(f"axe {language} {width}px /api: {describe(violation)}")
    assert len(result["passes"]) > 20
    assert [describe(v) for v in violations if v["impact"] in ("serious", "critical")] == []


@pytest.mark.parametrize("language", LANGUAGES)
def test_the_api_reference_fits_360_pixels_and_its_code_scrolls_inside_its_box(browser, live_server, artifacts,
                                                                                language):
    context, tab = new_tab(browser, live_server, language, width=360, height=780)
    try:
        open_page(tab, "/api", language)
        assert tab.evaluate("document.scrollingElement.scrollWidth") == 360
        blocks = tab.evaluate(CODE_BLOCKS)
        assert len(blocks) >= 35
        # The curl commands are wider than a phone: they scroll sideways within their own box, which the
        # keyboard can reach.
        assert sum(block["scrolls"] for block in blocks) >= 20
        assert all(block["overflow"] == "auto" and block["focusable"] and block["right"] <= 360 for block in blocks)
        code = tab.locator("#op-recordStatusChange pre.code")
        code.focus()
        tab.keyboard.press("ArrowRight")
        tab.keyboard.press("End")
        # The box scrolls as the keys are handled, a frame or two later on a busy machine.
        tab.wait_for_function("() => document.querySelector('#op-recordStatusChange pre.code').scrollLeft > 0",
                              timeout=5000)
        tab.screenshot(path=artifacts / f"360-api-{language}.png")

        headings = tab.evaluate(HEADINGS)
        assert [h["level"] for h in headings].count(1) == 1 and headings[0]["level"] == 1
        skipped = [(before, after) for before, after in zip(headings, headings[1:])
                   if after["level"] > before["level"] + 1]
        assert skipped == []
    finally:
        context.close()


def test_the_menu_leads_to_the_reference_and_its_contents_to_each_operation(browser, live_server):
    context, tab = new_tab(browser, live_server, "en")
    try:
        open_page(tab, "/", "en")
        tab.locator("header.site nav").get_by_role("link", name="API", exact=True).click()
        tab.wait_for_url("**/api")
        expect(tab.get_by_role("heading", level=1)).to_have_text("API reference")
        tab.locator("nav.api-toc").get_by_role("link", name="POST /api/v1/policies/{key}/status").click()
        tab.wait_for_url("**/api#op-recordStatusChange")
        expect(tab.locator("#op-recordStatusChange h3")).to_be_in_viewport()
        tab.get_by_role("link", name="OpenAPI description").first.click()
        tab.wait_for_url("**/api/v1/openapi.json")
    finally:
        context.close()
