"""In Chromium, in English and Lao: several values per filter kept by the policy list, the comparison matrix
(without JavaScript, at 360 px, checked by axe), and pages as of a day."""
from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from tests.browser.test_accessibility import LANGUAGES, POLICY, check_with_axe, new_tab, open_page

pytestmark = [pytest.mark.browser, pytest.mark.slow]

COUNTRIES = {"LA": "Lao PDR", "TH": "Thailand", "VN": "Viet Nam"}


def test_three_countries_chosen_stay_chosen_and_only_they_are_listed(browser, live_server, artifacts):
    # Without JavaScript: the filters are plain checkboxes in a form sent with GET.
    context = browser.new_context(base_url=live_server, java_script_enabled=False,
                                  extra_http_headers={"Accept-Language": "en"})
    try:
        page = context.new_page()
        page.goto("/policies?per_page=100")
        group = page.locator("#f-country")
        group.locator("summary").click()
        names = {}
        for code in COUNTRIES:
            box = group.locator(f"input[value={code}]")
            box.check()
            names[code] = box.locator("xpath=..").inner_text().strip()
        page.locator("#f-status summary").click()
        page.locator("#f-status").get_by_role("checkbox", name="In force").check()
        page.locator("#f-status").get_by_role("checkbox", name="Adopted").check()
        page.get_by_role("button", name="Apply").click()
        expect(page).to_have_url(re.compile(r"country=LA&country=TH&country=VN"))
        assert re.search(r"status=adopted&status=in_force", page.url), page.url
        for code in COUNTRIES:
            expect(page.locator(f"#f-country input[value={code}]")).to_be_checked()
        expect(page.locator("#f-country summary")).to_contain_text("3 chosen")
        expect(page.locator("#f-status input[value=adopted]")).to_be_checked()
        expect(page.locator("#f-status input[value=consultation]")).not_to_be_checked()
        countries = page.locator("table.policies tbody tr td:nth-child(2)").all_inner_texts()
        assert countries and set(countries) <= set(names.values()), countries
        assert len(set(countries)) >= 2, countries
        statuses = page.locator("table.policies tbody tr .status").all_inner_texts()
        assert set(statuses) <= {"In force", "Adopted"}, statuses
        page.screenshot(path=artifacts / "policies-three-countries.png", full_page=True)
        # Applying again keeps them all.
        page.get_by_role("button", name="Apply").click()
        for code in COUNTRIES:
            expect(page.locator(f"#f-country input[value={code}]")).to_be_checked()
    finally:
        context.close()


def test_the_matrix_works_without_javascript_and_its_cells_lead_to_the_list(browser, live_server):
    context = browser.new_context(base_url=live_server, java_script_enabled=False,
                                  extra_http_headers={"Accept-Language": "en"})
    try:
        page = context.new_page()
        page.goto("/")
        page.get_by_role("navigation", name="Main").get_by_role("link", name="Compare").click()
        expect(page.get_by_role("heading", level=1)).to_have_text("Compare countries")
        page.get_by_label("Columns").select_option("kind")
        page.get_by_role("button", name="Apply").click()
        expect(page).to_have_url(re.compile(r"dimension=kind"))
        table = page.get_by_role("table")
        expect(table.get_by_role("columnheader", name="Legislation")).to_be_visible()
        expect(table.get_by_role("rowheader", name="Lao PDR")).to_be_visible()
        expect(table.locator("tbody tr")).to_have_count(12)
        lao_row = table.locator("tbody tr").first
        count = lao_row.locator("td.some .count").first.inner_text()
        lao_row.locator("td.some a").first.click()
        expect(page).to_have_url(re.compile(r"/policies\?country=LA&instrument=law"))
        expect(page.get_by_role("status")).to_contain_text(f"{count} polic")
    finally:
        context.close()


@pytest.mark.parametrize("language", LANGUAGES)
def test_the_matrix_scrolls_inside_its_box_at_360_px(browser, live_server, artifacts, language):
    context, tab = new_tab(browser, live_server, language, width=360, height=780)
    try:
        open_page(tab, "/compare?dimension=instrument", language)
        assert tab.evaluate("document.scrollingElement.scrollWidth") <= 360
        box = tab.locator(".matrix-scroll")
        assert box.evaluate("element => element.scrollWidth > element.clientWidth")
        box.focus()
        tab.keyboard.press("ArrowRight")
        tab.keyboard.press("ArrowRight")
        tab.wait_for_function("() => document.querySelector('.matrix-scroll').scrollLeft > 0")
        tab.screenshot(path=artifacts / f"360-compare-{language}.png", full_page=True)
    finally:
        context.close()


@pytest.mark.parametrize("language", LANGUAGES)
def test_axe_finds_no_serious_problem_on_the_matrix_and_pages_as_of_a_day(browser, live_server, language):
    context, tab = new_tab(browser, live_server, language)
    pages = {
        "compare-instrument": "/compare?dimension=instrument&status=in_force&status=adopted&as_of=2024-06-30",
        "compare-vehicle": "/compare?dimension=vehicle_class",
        "policies-as-of": "/policies?country=LA&country=TH&as_of=2023-01-01",
        "policy-as-of": f"/policies/{POLICY}?as_of=2022",
        "country-as-of": "/countries/LA?as_of=2022-06",
        "dashboard-as-of": "/dashboard?as_of=2023",
    }
    try:
        failures: list[str] = []
        for name, path in pages.items():
            failures += check_with_axe(tab, name, path, language)
    finally:
        context.close()
    assert not failures, "\n".join(failures)


def test_the_list_as_of_a_day_in_lao_names_the_day_in_lao_and_leads_back_to_today(browser, live_server):
    context, tab = new_tab(browser, live_server, "lo")
    try:
        open_page(tab, "/policies?as_of=2023-01-01", "lo")
        banner = tab.locator(".as-of-banner")
        expect(banner).to_contain_text("1 ມັງກອນ 2023")
        banner.get_by_role("link").click()
        expect(tab).to_have_url(re.compile(r"/policies$"))
        expect(tab.locator(".as-of-banner")).to_have_count(0)
    finally:
        context.close()
