"""A reader with JavaScript turned off chooses three fiscal incentives from the filtered list (Thailand, Indonesia,
Viet Nam), reads them side by side, narrows the comparison, and reads it in Lao; then on a phone's screen."""
from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

pytestmark = [pytest.mark.browser, pytest.mark.slow]

THAILAND = ("th-ev35-incentives-2024-2027", "EV 3.5 incentive package (2024–2027)")
INDONESIA = ("id-permenperin-6-2023", "Minister of Industry Regulation No. 6 of 2023")
VIET_NAM = ("vn-decree-10-2022-registration-fee", "Decree 10/2022/ND-CP on registration fees")


def named(label: str, title: str) -> re.Pattern[str]:
    """A link's name: ``label``, then the title a screen reader hears after it (Playwright's selectors need the
    slashes of a pattern escaped)."""
    return re.compile(r"^" + label + r"\s*:\s*" + re.escape(title).replace("/", r"\/"))


def choose_from_the_list(tab, country_code: str, title: str, count: int) -> None:
    """Filter the list to fiscal incentives of one country and add the policy titled ``title``."""
    for group in ("#f-topic", "#f-country"):
        if tab.locator(group).get_attribute("open") is None:
            tab.locator(f"{group} summary").click()  # the browser opens the group itself: no script needed
    tab.locator('#f-topic input[value="fiscal_incentives"]').check()
    countries = tab.locator("#f-country input[type=checkbox]")
    for index in range(countries.count()):
        box = countries.nth(index)
        if box.get_attribute("value") == country_code:
            box.check()
        else:
            box.uncheck()
    tab.get_by_role("button", name="Apply").click()
    expect(tab.get_by_role("status")).to_contain_text("match these filters")
    row = tab.locator("table.policies tbody tr").filter(has=tab.get_by_role("link", name=title))
    row.get_by_role("link", name="Add to comparison").click()
    tray = tab.locator("aside.compare-tray")
    expect(tray.get_by_role("heading")).to_have_text(f"Comparing {count} of 4")
    expect(tab.locator("table.policies")).to_contain_text("In the comparison")


def test_a_reader_compares_three_fiscal_incentives_without_javascript(browser, live_server, artifacts):
    context = browser.new_context(base_url=live_server, java_script_enabled=False,
                                  viewport={"width": 1280, "height": 900})
    tab = context.new_page()
    tab.set_default_timeout(15_000)
    try:
        tab.goto("/policies")
        choose_from_the_list(tab, "TH", THAILAND[1], 1)
        expect(tab.locator("aside.compare-tray")).to_contain_text("Choose at least one more policy to compare.")
        choose_from_the_list(tab, "ID", INDONESIA[1], 2)
        choose_from_the_list(tab, "VN", VIET_NAM[1], 3)
        # The list stays filtered as the reader chose, and the tray follows them down the page.
        expect(tab).to_have_url(re.compile(r"topic=fiscal_incentives"))
        tray = tab.locator("aside.compare-tray")
        expect(tray).to_be_in_viewport()
        tray.get_by_role("link", name="Compare now").click()

        expect(tab).to_have_url(re.compile(
            r"/compare/policies\?keys=" + ",".join(key for key, _ in (THAILAND, INDONESIA, VIET_NAM)) + "$"))
        expect(tab.get_by_role("heading", level=1)).to_have_text("Compare policies")
        table = tab.get_by_role("table")
        headers = table.locator("thead th[scope=col]")
        expect(headers).to_have_count(4)
        for index, (_, title) in enumerate((THAILAND, INDONESIA, VIET_NAM), start=1):
            expect(headers.nth(index)).to_contain_text(title)
        country = table.get_by_role("row", name=re.compile("^Country"))
        expect(country.get_by_role("cell")).to_have_text(["Thailand", "Indonesia", "Viet Nam"])
        expect(country.get_by_role("rowheader")).to_contain_text("Differs")
        status = table.get_by_role("row", name=re.compile("^Legal status"))
        expect(status.get_by_role("rowheader")).to_contain_text("Same")
        expect(status.get_by_role("cell")).to_have_text(["In force", "In force", "In force"])
        measures = table.get_by_role("row", name=re.compile("^Key measures"))
        expect(measures.get_by_role("cell").first).to_contain_text("Electric-car subsidies")
        tab.screenshot(path=artifacts / "compare-policies-en.png", full_page=True)

        # Narrowing the comparison is a link; the address is the whole state.
        tab.get_by_role("link", name=named("Remove from the comparison", INDONESIA[1])).click()
        expect(tab).to_have_url(re.compile(rf"keys={THAILAND[0]},{VIET_NAM[0]}$"))
        expect(table.locator("thead th[scope=col]")).to_have_count(3)

        tab.get_by_role("link", name="ພາສາລາວ").click()
        expect(tab.locator("html")).to_have_attribute("lang", "lo")
        expect(tab).to_have_url(re.compile(rf"keys={THAILAND[0]},{VIET_NAM[0]}$"))
        expect(tab.get_by_role("heading", level=1)).to_have_text("ປຽບທຽບນະໂຍບາຍ")
        country = tab.get_by_role("table").get_by_role("row", name=re.compile("^ປະເທດ"))
        expect(country.get_by_role("cell")).to_have_text(["ໄທ", "ຫວຽດນາມ"])
        expect(country.get_by_role("rowheader")).to_contain_text("ແຕກຕ່າງກັນ")
        expect(tab.get_by_role("table")).to_contain_text("1 ມັງກອນ 2024")
        tab.screenshot(path=artifacts / "compare-policies-lo.png", full_page=True)
    finally:
        context.close()


@pytest.mark.parametrize("language", ["en", "lo"])
def test_the_comparison_scrolls_inside_its_box_on_a_360_pixel_screen(browser, live_server, artifacts, language):
    context = browser.new_context(base_url=live_server, viewport={"width": 360, "height": 780},
                                  extra_http_headers={"Accept-Language": language})
    context.add_cookies([{"name": "lang", "value": language, "url": live_server}])
    tab = context.new_page()
    try:
        keys = ",".join(key for key, _ in (THAILAND, INDONESIA, VIET_NAM))
        tab.goto(f"/compare/policies?keys={keys},la-gov-resolution-08-2021-ev-policy")
        assert tab.evaluate("document.scrollingElement.scrollWidth") <= 360
        box = tab.locator(".compare-scroll")
        widths = box.evaluate("element => [element.scrollWidth, element.clientWidth]")
        assert widths[0] > widths[1] + 300, widths
        # The row names stay in view while the columns scroll under them.
        row_header = tab.get_by_role("rowheader").first
        before = row_header.bounding_box()
        box.evaluate("element => { element.scrollLeft = 400; }")
        tab.wait_for_function("document.querySelector('.compare-scroll').scrollLeft > 0")
        after = row_header.bounding_box()
        assert before and after and abs(before["x"] - after["x"]) < 1, (before, after)
        tab.screenshot(path=artifacts / f"360-compare-policies-{language}.png", full_page=True)
    finally:
        context.close()
