"""An analyst's whole journey in Chromium, by clicks: three fiscal incentives side by side, the country matrix as
of 2023 and its CSV, the calendar's feed in Lao, and a comment period an editor opens that a reader counts down."""
from __future__ import annotations

import csv
import re

import pytest
from icalendar import Calendar
from playwright.sync_api import expect

from tests.browser.conftest import serving
from tests.conftest import PASSWORD
from tracker import create_app, migrate
from tracker.db import unit_of_work
from tracker.services import accounts
from tracker.services.dataset import load_dataset

pytestmark = [pytest.mark.browser, pytest.mark.slow]

TODAY = "2026-07-02"
PARTNER = "analyst@partner.example.org"
EDITOR = "khamla@mem.example.org"
THAILAND = "EV 3.5 incentive package (2024–2027)"
INDONESIA = "Minister of Industry Regulation No. 6 of 2023"
VIET_NAM = "Decree 10/2022/ND-CP on registration fees"
LAO_DRAFT = {
    "key": "la-draft-decree-ev-import-duties", "country": "LA", "instrument": "decree",
    "title_lo": "ຮ່າງດຳລັດ ວ່າດ້ວຍ ອາກອນຂາເຂົ້າ ລົດໄຟຟ້າ", "title_en": "Draft decree on import duties for EVs",
    "topics": ["import_rules"], "status": "drafting", "editorial_state": "published",
    "status_history": [{"status": "drafting", "date": "2026-03"}],
}
LAO_LETTERS = re.compile("[\u0e80-\u0eff]")


@pytest.fixture
def journey_server(tmp_path, demo_data):
    """A server of its own over the demo dataset and one published Lao draft decree, its clock on 2 July 2026
    (TRACKER_TODAY); a partner and an editor have accounts."""
    app = create_app({"DATABASE_URL": f"sqlite:///{tmp_path / 'journey.db'}", "SECRET_KEY": "browser-test-key",
                      "SEARCH_INDEX_PATH": str(tmp_path / "index"), "SEARCH_INDEXER": "external",
                      "MAIL_OUTBOX_PATH": str(tmp_path / "mail"), "RELEASE_SCHEDULE": "off", "TODAY": TODAY})
    database = app.extensions["tracker.db"]
    migrate.upgrade(database.engine)
    with unit_of_work(database.session(write=True)) as session:
        load_dataset(session, {**demo_data, "policies": [*demo_data["policies"], LAO_DRAFT]})
        accounts.create_user(session, PARTNER, PASSWORD, "partner", display_name="Analyst")
        accounts.create_user(session, EDITOR, PASSWORD, "editor", display_name="ຄຳຫຼ້າ")
    with serving(app) as base:
        yield base


def log_in(tab, email: str) -> None:
    tab.get_by_role("navigation", name="Main").get_by_role("link", name="Log in").click()
    tab.locator("input[name=email]").fill(email)
    tab.locator("input[name=password]").fill(PASSWORD)
    tab.locator("main form button[type=submit]").click()
    expect(tab.get_by_role("navigation", name="Main").get_by_role("button", name="Log out")).to_be_visible()


def add_to_comparison(tab, title: str, count: int) -> None:
    row = tab.locator("table.policies tbody tr").filter(has=tab.get_by_role("link", name=title))
    row.get_by_role("link", name="Add to comparison").click()
    expect(tab.locator("aside.compare-tray").get_by_role("heading")).to_have_text(f"Comparing {count} of 4")
    expect(row).to_contain_text("In the comparison")


def test_an_analyst_compares_downloads_subscribes_and_follows_a_comment_period(browser, journey_server, tmp_path,
                                                                               artifacts):
    base = journey_server
    context = browser.new_context(base_url=base, viewport={"width": 1280, "height": 900})
    tab = context.new_page()
    tab.set_default_timeout(10_000)
    try:
        # a) A partner filters the list to fiscal incentives and puts three countries' policies side by side.
        tab.goto("/policies")
        log_in(tab, PARTNER)
        menu = tab.get_by_role("navigation", name="Main")
        menu.get_by_role("link", name="Policies").click()
        tab.locator("#f-topic summary").click()
        tab.locator("#f-topic").get_by_role("checkbox", name="Fiscal incentives").check()
        tab.get_by_role("button", name="Apply").click()
        expect(tab.get_by_role("status")).to_contain_text("policies match these filters")
        add_to_comparison(tab, THAILAND, 1)
        add_to_comparison(tab, VIET_NAM, 2)
        # Indonesia's regulation is on the second page of the filtered list; the tray and the filter go along.
        tab.get_by_role("link", name="Next →").click()
        expect(tab).to_have_url(re.compile(r"topic=fiscal_incentives.*page=2|page=2.*topic=fiscal_incentives"))
        add_to_comparison(tab, INDONESIA, 3)
        tab.locator("aside.compare-tray").get_by_role("link", name="Compare now").click()
        expect(tab.get_by_role("heading", level=1)).to_have_text("Compare policies")
        table = tab.get_by_role("table")
        headers = table.locator("thead th[scope=col]")
        expect(headers).to_have_count(4)
        for index, title in enumerate((THAILAND, VIET_NAM, INDONESIA), start=1):
            expect(headers.nth(index)).to_contain_text(title)
        country = table.get_by_role("row", name=re.compile("^Country"))
        expect(country.get_by_role("cell")).to_have_text(["Thailand", "Viet Nam", "Indonesia"])

        # b) The country matrix as of 2023, and its CSV as filtered.
        menu.get_by_role("link", name="Compare").click()
        expect(tab.get_by_role("heading", level=1)).to_have_text("Compare countries")
        tab.get_by_label("Statuses as of").fill("2023")
        tab.get_by_role("button", name="Apply").click()
        expect(tab.locator(".as-of-banner")).to_contain_text("As of 31 December 2023")
        with tab.expect_download() as download_info:
            tab.locator("p.downloads").get_by_role("link", name="CSV").click()
        download = download_info.value
        assert download.suggested_filename == "ev-policies-matrix.csv"
        saved = tmp_path / "matrix.csv"
        download.save_as(saved)
        with saved.open(encoding="utf-8-sig", newline="") as file:
            rows = list(csv.DictReader(file))
        assert len(rows) > 11, len(rows)
        assert {row["as_of"] for row in rows} == {"2023-12-31"}
        assert {row["country_code"] for row in rows} >= {"LA", "TH", "ID", "VN"}

        # c) In Lao, the calendar's iCalendar feed for a calendar client, its entries named in Lao.
        tab.get_by_role("navigation", name="Language").get_by_role("link", name="ພາສາລາວ").click()
        expect(tab.locator("html")).to_have_attribute("lang", "lo")
        tab.get_by_role("contentinfo").get_by_role("link", name="ປະຕິທິນ").click()
        expect(tab.locator("html")).to_have_attribute("lang", "lo")
        subscribe = tab.locator("p.subscribe")
        expect(subscribe.get_by_role("link", name="ຕິດຕາມ (webcal)")).to_have_attribute(
            "href", re.compile(r"^webcal://127\.0\.0\.1:\d+/calendar\.ics$"))
        feed_url = subscribe.get_by_role("link", name="ໄຟລ໌ iCalendar (https)").get_attribute("href")
        assert feed_url and re.fullmatch(r"https?://127\.0\.0\.1:\d+/calendar\.ics", feed_url), feed_url
        response = tab.request.get(feed_url)
        assert response.ok, response.status
        assert response.headers["content-type"].startswith("text/calendar")
        calendar = Calendar.from_ical(response.body())
        assert calendar.name == "VCALENDAR"
        assert LAO_LETTERS.search(str(calendar["X-WR-CALNAME"]))
        summaries = [str(event["SUMMARY"]) for event in calendar.walk("VEVENT")]
        assert summaries, "the feed holds no event"
        assert all(LAO_LETTERS.search(summary) for summary in summaries), summaries
        # The Lao draft is not put to comment yet: no deadline of it in the feed.
        assert not any("ຮ່າງດຳລັດ ວ່າດ້ວຍ ອາກອນຂາເຂົ້າ" in summary for summary in summaries), summaries
    finally:
        context.close()

    # d) An editor puts the Lao draft to consultation through the status form, its comment window open from today
    # to 12 days from now.
    editor_context = browser.new_context(base_url=base, viewport={"width": 1280, "height": 900})
    editor = editor_context.new_page()
    editor.set_default_timeout(10_000)
    try:
        editor.goto("/")
        log_in(editor, EDITOR)
        editor.get_by_role("navigation", name="Main").get_by_role("link", name="Policies").click()
        editor.locator("#f-country summary").click()
        editor.locator("#f-country input[value=LA]").check()
        editor.locator("#f-status summary").click()
        editor.locator("#f-status input[value=drafting]").check()
        editor.get_by_role("button", name="Apply").click()
        editor.get_by_role("link", name=LAO_DRAFT["title_en"]).click()
        expect(editor.get_by_role("heading", level=1)).to_contain_text(LAO_DRAFT["title_en"])
        expect(editor.locator("#comment-title")).to_have_count(0)
        editor.locator("details.staff-form-box > summary").first.click()
        editor.locator("#status-status").select_option("consultation")
        editor.locator("#status-effective_on").fill("02/07/2026")
        editor.locator("#status-comment_opens_on").fill("2026-07-02")
        editor.locator("#status-comment_closes_on").fill("2026-07-14")
        editor.locator("#status-comment_address").fill("comments@mof.gov.la")
        editor.locator("form.staff-form button[type=submit]").first.click()
        expect(editor).to_have_url(re.compile(rf"/policies/{LAO_DRAFT['key']}$"))
        expect(editor.locator("ol.timeline > li").filter(has_text="2 July 2026")).to_contain_text(
            "Comment period: 2 July 2026 to 14 July 2026")
        policy_url = editor.url
    finally:
        editor_context.close()

    # A reader without an account counts the days down, in English and then in Lao.
    reader_context = browser.new_context(viewport={"width": 390, "height": 844})
    reader = reader_context.new_page()
    reader.set_default_timeout(10_000)
    try:
        reader.goto(policy_url)
        expect(reader.locator("html")).to_have_attribute("lang", "en")
        expect(reader.locator("#comment-title")).to_have_text("Open for comment until 14 July 2026: 12 days left")
        reader.get_by_role("navigation", name="Language").get_by_role("link", name="ພາສາລາວ").click()
        expect(reader.locator("html")).to_have_attribute("lang", "lo")
        expect(reader.locator("#comment-title")).to_have_text("ເປີດຮັບຄຳເຫັນຮອດວັນທີ 14 ກໍລະກົດ 2026: ຍັງເຫຼືອ 12 ມື້")
        reader.screenshot(path=artifacts / "journey-comment-period-lo.png", full_page=True)
    finally:
        reader_context.close()
