"""The ASEAN map in real Chromium: keyboard and tooltip, clicks on small members, axe at 360 px and desktop."""
from __future__ import annotations

import pytest
from playwright.sync_api import expect

from tests.browser.test_accessibility import check_with_axe, new_tab, open_page

pytestmark = [pytest.mark.browser, pytest.mark.slow]


# A point of the page where the outline of a country is what the pointer hits (not a figure or a neighbour).
POINT_ON_LAND = """code => {
  const area = document.querySelector(`.map-area[data-code=${code}]`);
  area.scrollIntoView({block: "center"});
  const box = area.getBoundingClientRect();
  for (let fy = 0.1; fy < 1; fy += 0.05) {
    for (let fx = 0.1; fx < 1; fx += 0.05) {
      const x = box.left + box.width * fx, y = box.top + box.height * fy;
      if (area.contains(document.elementFromPoint(x, y))) return [x, y];
    }
  }
  throw new Error(`no point on ${code}`);
}"""


def watch_console(tab) -> list[str]:
    problems: list[str] = []
    tab.on("console", lambda message: problems.append(message.text) if message.type == "error" else None)
    tab.on("pageerror", lambda error: problems.append(str(error)))
    return problems


@pytest.mark.parametrize("path", ["/", "/dashboard"])
def test_tab_reaches_a_country_its_tooltip_shows_and_enter_opens_its_page(browser, live_server, path):
    context, tab = new_tab(browser, live_server, "en")
    problems = watch_console(tab)
    try:
        open_page(tab, path, "en")
        tip = tab.locator(".map-tip")
        expect(tip).to_be_hidden()
        # From the measure's button, the next stop is the first country on the map: Lao PDR.
        tab.locator(".map-measure button").focus()
        tab.keyboard.press("Tab")
        focused = tab.evaluate("document.activeElement.id")
        assert focused == "map-LA", focused
        expect(tip).to_be_visible()
        expect(tip).to_contain_text("Lao PDR")
        expect(tip).to_contain_text("in force")
        # The tooltip sits inside the map, by the country's figure.
        tip_box, map_box = tip.bounding_box(), tab.locator(".map-svg").bounding_box()
        assert tip_box and map_box and map_box["x"] <= tip_box["x"] <= map_box["x"] + map_box["width"]
        # The next Tab moves the tooltip to the next member; Escape dismisses it without moving the focus.
        tab.keyboard.press("Tab")
        expect(tip).to_contain_text("Brunei")
        tab.keyboard.press("Escape")
        expect(tip).to_be_hidden()
        assert tab.evaluate("document.activeElement.id") == "map-BN"
        tab.keyboard.press("Shift+Tab")
        expect(tip).to_contain_text("Lao PDR")
        tab.keyboard.press("Enter")
        tab.wait_for_url("**/countries/LA")
        expect(tab.locator("h1")).to_contain_text("Lao PDR")
    finally:
        context.close()
    assert not problems, problems


def test_choosing_a_topic_recolours_the_map_and_small_members_stay_clickable(browser, live_server):
    context, tab = new_tab(browser, live_server, "en", width=360, height=780)
    try:
        open_page(tab, "/", "en")
        tab.locator("#map-measure").select_option("charging_infrastructure")
        tab.locator(".map-measure button").click()
        tab.wait_for_url("**/?map_topic=charging_infrastructure#map")
        expect(tab.locator("#map-caption")).to_contain_text("Charging infrastructure")
        # Singapore is a few pixels across at this width: its marker and figure take the click.
        tab.locator("#map-SG .map-badge").click()
        tab.wait_for_url("**/countries/SG")
        open_page(tab, "/", "en")
        tab.locator("#map-BN .map-marker").click()
        tab.wait_for_url("**/countries/BN")
        # A large member is clicked anywhere on its land, and pointing at it shows its tooltip.
        open_page(tab, "/", "en")
        x, y = tab.evaluate(POINT_ON_LAND, "LA")
        tab.mouse.move(x, y)
        expect(tab.locator(".map-tip")).to_contain_text("Lao PDR")
        tab.mouse.click(x, y)
        tab.wait_for_url("**/countries/LA")
    finally:
        context.close()


@pytest.mark.parametrize("language", ["en", "lo"])
@pytest.mark.parametrize("width", [360, 1280])
def test_the_map_pages_pass_axe_and_fit_the_screen(browser, live_server, artifacts, language, width):
    context, tab = new_tab(browser, live_server, language, width=width, height=900)
    failures: list[str] = []
    try:
        # The whole of both pages: on the dashboard, the map and every chart and table around it.
        pages = {"home": "/", "dashboard": "/dashboard?map_topic=fiscal_incentives&country=LA"}
        for name, path in pages.items():
            failures += check_with_axe(tab, f"{name} {width}px", path, language)
            assert tab.evaluate("document.scrollingElement.scrollWidth") <= width, (name, width)
            svg = tab.locator(".map-svg").bounding_box()
            assert svg and svg["width"] <= width, svg
            tab.locator("#map").screenshot(path=artifacts / f"map-{name}-{language}-{width}.png")
        tab.screenshot(path=artifacts / f"map-dashboard-{language}-{width}-page.png", full_page=False)
        open_page(tab, "/", language)
        tab.screenshot(path=artifacts / f"map-home-{language}-{width}-page.png", full_page=True)
    finally:
        context.close()
    assert not failures, "\n".join(failures)
