"""In real Chromium: an editor opens a comment period on a Lao policy through the status form, and a reader
of the Lao interface sees the countdown on the policy page and the deadline on the calendar."""
from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import serving
from tests.conftest import PASSWORD
from tracker import create_app, migrate
from tracker.db import unit_of_work
from tracker.services import accounts
from tracker.services.dataset import load_dataset

pytestmark = [pytest.mark.browser, pytest.mark.slow]

KEY = "la-draft-decree-ev-charging"
POLICY = {
    "key": KEY, "country": "LA", "instrument": "decree", "title_lo": "ຮ່າງດຳລັດ ວ່າດ້ວຍ ສະຖານີສາກລົດໄຟຟ້າ",
    "title_en": "Draft decree on EV charging stations", "topics": ["charging_infrastructure"],
    "status": "drafting", "status_history": [{"status": "drafting", "date": "2026-03"}],
    "editorial_state": "published",
}


@pytest.fixture
def consultation_server(tmp_path, demo_data):
    """A server of its own, its clock on 2 July 2026 (TRACKER_TODAY), with one published Lao draft decree."""
    app = create_app({"DATABASE_URL": f"sqlite:///{tmp_path / 'consult.db'}", "SECRET_KEY": "browser-test-key",
                      "SEARCH_INDEX_PATH": str(tmp_path / "index"), "MAIL_OUTBOX_PATH": str(tmp_path / "mail"),
                      "TODAY": "2026-07-02"})
    database = app.extensions["tracker.db"]
    migrate.upgrade(database.engine)
    with unit_of_work(database.session(write=True)) as session:
        load_dataset(session, {"topics": demo_data["topics"], "organisations": demo_data["organisations"],
                               "events": [], "policies": [POLICY]})
        accounts.create_user(session, "khamla@mem.example.org", PASSWORD, "editor", display_name="ຄຳຫຼ້າ")
    with serving(app) as base:
        yield base


def test_an_editor_opens_a_comment_period_and_a_reader_sees_the_countdown_in_lao(browser, consultation_server,
                                                                                 artifacts):
    base = consultation_server
    editor = browser.new_context(viewport={"width": 1280, "height": 900}).new_page()
    editor.set_default_timeout(10_000)
    editor.goto(f"{base}/login")
    editor.locator("input[name=email]").fill("khamla@mem.example.org")
    editor.locator("input[name=password]").fill(PASSWORD)
    editor.locator("input[name=password]").press("Enter")
    editor.goto(f"{base}/policies/{KEY}")
    editor.locator("details.staff-form-box > summary").click()
    editor.locator("#status-status").select_option("consultation")
    editor.locator("#status-effective_on").fill("01/06/2026")
    editor.locator("#status-comment_opens_on").fill("2026-06-01")
    # A closing day before the opening day is refused, named by its field.
    editor.locator("#status-comment_closes_on").fill("2026-05-14")
    editor.locator("#status-comment_address").fill("comments@mem.gov.la")
    editor.locator("#status-how_to_comment_lo").fill("ສົ່ງຄຳເຫັນເປັນລາຍລັກອັກສອນ ຫາ ກະຊວງພະລັງງານ ແລະ ບໍ່ແຮ່.")
    editor.locator("form.staff-form button[type=submit]").first.click()
    expect(editor.locator("main")).to_contain_text("The comment period closes before it opens.")
    editor.locator("#status-comment_closes_on").fill("2026-07-14")
    editor.locator("form.staff-form button[type=submit]").first.click()
    expect(editor).to_have_url(re.compile(rf"/policies/{KEY}$"))
    expect(editor.locator("#comment-title")).to_have_text("Open for comment until 14 July 2026: 12 days left")

    reader = browser.new_context(viewport={"width": 390, "height": 844}, locale="lo-LA").new_page()
    reader.set_default_timeout(10_000)
    reader.goto(f"{base}/language/lo?next=/policies/{KEY}")
    expect(reader.locator("html")).to_have_attribute("lang", "lo")
    countdown = reader.locator("#comment-title")
    # The date the Lao way and the days left; the Lao words stay whole across lines.
    expect(countdown).to_contain_text("14 ກໍລະກົດ 2026")
    expect(countdown).to_contain_text("12")
    expect(reader.locator(".how-to-comment")).to_contain_text("ສົ່ງຄຳເຫັນເປັນລາຍລັກອັກສອນ")
    expect(reader.locator(".comment-period a[href='mailto:comments@mem.gov.la']")).to_be_visible()
    reader.screenshot(path=artifacts / "lao-comment-period.png", full_page=True)

    reader.goto(f"{base}/calendar?country=LA&kind=comment_deadline")
    expect(reader.locator("#month-2026-7")).to_contain_text("ກໍລະກົດ 2026")
    expect(reader.locator(".calendar-items")).to_contain_text("ຮ່າງດຳລັດ ວ່າດ້ວຍ ສະຖານີສາກລົດໄຟຟ້າ")
    expect(reader.locator("a[href^='webcal://']")).to_have_attribute(
        "href", re.compile(r"^webcal://.+/calendar\.ics\?country=LA&kind=comment_deadline$"))
