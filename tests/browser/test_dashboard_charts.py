"""The dashboard in real Chromium: five drawn charts, PNG downloads, no CSP complaints, tables without JavaScript."""
from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

pytestmark = [pytest.mark.browser, pytest.mark.slow]

CHARTS = ("countries", "status-changes", "topics", "expiries", "targets")
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"

# Pixels of a canvas that are not the white sheet under the chart (the chart itself: bars, text, grid).
DRAWN_PIXELS = """canvas => {
  const { data } = canvas.getContext("2d").getImageData(0, 0, canvas.width, canvas.height);
  let drawn = 0;
  for (let i = 0; i < data.length; i += 4) {
    if (data[i + 3] > 0 && (data[i] < 250 || data[i + 1] < 250 || data[i + 2] < 250)) drawn++;
  }
  return { drawn, total: canvas.width * canvas.height };
}"""


def watch_console(page) -> list[str]:
    problems: list[str] = []
    page.on("console", lambda message: problems.append(message.text) if message.type == "error" else None)
    page.on("pageerror", lambda error: problems.append(str(error)))
    return problems


def test_the_five_charts_are_drawn_and_each_downloads_as_png(page, artifacts, tmp_path):
    problems = watch_console(page)
    page.goto("/dashboard")
    expect(page.get_by_role("heading", name="Dashboard", level=1)).to_be_visible()
    for chart in CHARTS:
        canvas = page.locator(f"canvas#chart-{chart}")
        expect(canvas).to_be_visible()
        pixels = canvas.evaluate(DRAWN_PIXELS)
        # Far more than a stray line: bars, axes and labels cover a good part of each chart.
        assert pixels["drawn"] > pixels["total"] * 0.02, (chart, pixels)
        expect(page.locator(f"button[data-png='{chart}']")).to_be_visible()

    for chart in ("countries", "expiries", "targets"):
        with page.expect_download() as info:
            page.locator(f"button[data-png='{chart}']").click()
        download = info.value
        assert download.suggested_filename == f"ev-policies-{chart}.png"
        saved = tmp_path / download.suggested_filename
        download.save_as(saved)
        body = saved.read_bytes()
        assert body.startswith(PNG_SIGNATURE) and len(body) > 5_000

    # The CSV link downloads the same figures the table shows.
    with page.expect_download() as info:
        page.get_by_role("link", name="Download data (CSV)").first.click()
    assert info.value.suggested_filename == "ev-policies-countries.csv"

    page.screenshot(path=artifacts / "dashboard.png", full_page=True)
    # No Content-Security-Policy violation (they are reported as console errors) and no script error.
    assert problems == [], problems


def test_the_filters_redraw_every_chart_for_one_country(page):
    problems = watch_console(page)
    page.goto("/dashboard")
    page.get_by_label("Country", exact=True).select_option("LA")
    page.get_by_role("button", name="Apply").click()
    expect(page).to_have_url(re.compile(r"/dashboard\?country=LA"))
    expect(page.get_by_role("status")).to_contain_text("match these filters")
    rows = page.locator("section[aria-labelledby='h-countries'] table tbody tr")
    expect(rows).to_have_count(1)
    expect(rows.first).to_contain_text("Lao PDR")
    for chart in ("countries", "status-changes", "topics", "targets"):
        pixels = page.locator(f"canvas#chart-{chart}").evaluate(DRAWN_PIXELS)
        assert pixels["drawn"] > 0, chart
    expect(page.get_by_role("link", name="Download data (CSV)").first).to_have_attribute(
        "href", "/dashboard/countries.csv?country=LA")
    assert problems == [], problems


def test_without_javascript_the_tables_carry_the_figures(browser, live_server, artifacts):
    context = browser.new_context(base_url=live_server, java_script_enabled=False,
                                  viewport={"width": 360, "height": 780})
    try:
        page = context.new_page()
        page.goto("/dashboard")
        tables = page.locator("table.figures")
        expect(tables).to_have_count(5)
        for index in range(5):
            expect(tables.nth(index)).to_be_visible()
            expect(tables.nth(index).locator("caption")).not_to_be_empty()
        expect(page.locator("table.figures").first).to_contain_text("Lao PDR")
        # Nothing drawn and nothing to click that needs a script: the canvases and PNG buttons stay hidden.
        for chart in CHARTS:
            expect(page.locator(f"canvas#chart-{chart}")).to_be_hidden()
            expect(page.locator(f"button[data-png='{chart}']")).to_be_hidden()
        expect(page.get_by_role("link", name="Download data (CSV)")).to_have_count(5)
        page.screenshot(path=artifacts / "dashboard-no-js-360.png", full_page=True)
    finally:
        context.close()
