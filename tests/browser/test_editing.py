"""Staff at work in real Chromium: an editor edits and records a status change, a reviewer publishes,
and an anonymous reader sees the new status."""
from __future__ import annotations

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import serving
from tests.conftest import PASSWORD
from tests.factories import policy_record
from tracker import create_app, migrate
from tracker.db import unit_of_work
from tracker.services import accounts
from tracker.services.dataset import load_dataset

pytestmark = [pytest.mark.browser, pytest.mark.slow]

DRAFT_KEY = "la-draft-charging-decree"


@pytest.fixture
def staff_server(tmp_path, demo_data):
    """A server of its own, over a fresh database, since this test commits real changes."""
    app = create_app({"DATABASE_URL": f"sqlite:///{tmp_path / 'editing.db'}", "SECRET_KEY": "browser-test-key",
                      "SEARCH_INDEX_PATH": str(tmp_path / "index")})
    database = app.extensions["tracker.db"]
    migrate.upgrade(database.engine)
    with unit_of_work(database.session(write=True)) as session:
        load_dataset(session, {key: demo_data[key] for key in ("topics", "organisations", "events")})
        load_dataset(session, {"policies": [policy_record(
            DRAFT_KEY, country="LA", title_en="Decree on public charging stations", status="drafting",
            title_lo="ດຳລັດວ່າດ້ວຍສະຖານີສາກໄຟຟ້າ", editorial_state="draft",
            status_history=[{"status": "drafting", "date": "2025-03", "note": "Drafting began.",
                             "source_url": None}])]})
        accounts.create_user(session, "editor@mem.example.org", PASSWORD, "editor")
        accounts.create_user(session, "reviewer@mem.example.org", PASSWORD, "reviewer")
    with serving(app) as base:
        yield base


def log_in(page, base: str, email: str) -> None:
    page.goto(f"{base}/login")
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    expect(page.get_by_role("status").first).to_contain_text(f"Logged in as {email}")


def test_editor_edits_and_records_a_status_change_reviewer_publishes_reader_sees_it(browser, staff_server,
                                                                                      artifacts):
    editor = browser.new_context(viewport={"width": 1280, "height": 900}).new_page()
    editor.set_default_timeout(10_000)
    log_in(editor, staff_server, "editor@mem.example.org")

    # The draft is invisible to the public but listed for staff, marked as a draft.
    editor.goto(f"{staff_server}/policies/{DRAFT_KEY}")
    expect(editor.get_by_role("heading", level=1)).to_have_text("Decree on public charging stations")
    expect(editor.locator(".staff-bar")).to_contain_text("Draft")

    editor.get_by_role("link", name="Edit", exact=True).click()
    editor.get_by_label("Title (English)").fill("Decree on public EV charging stations")
    editor.get_by_label("Summary (Lao)").fill("ກົດລະບຽບການສາກໄຟຟ້າສາທາລະນະ ⚡")
    editor.get_by_role("button", name="Save changes").click()
    expect(editor.get_by_role("heading", level=1)).to_have_text("Decree on public EV charging stations")

    editor.locator("summary", has_text="Record a status change").click()
    editor.get_by_label("New legal status").select_option("adopted")
    editor.get_by_label("Effective date").fill("2026-01-15")
    editor.get_by_label("Note (English)").fill("Signed by the Minister of Energy and Mines.")
    editor.get_by_role("button", name="Record status").click()
    expect(editor.get_by_role("status").first).to_contain_text("Status recorded")
    expect(editor.locator("ol.timeline")).to_contain_text("15 January 2026")
    editor.get_by_role("button", name="Submit for review").click()
    expect(editor.locator(".staff-bar")).to_contain_text("In review")
    editor.screenshot(path=artifacts / "policy-staff.png", full_page=True)
    editor.context.close()

    reader = browser.new_context().new_page()
    assert reader.goto(f"{staff_server}/policies/{DRAFT_KEY}").status == 404

    reviewer = browser.new_context().new_page()
    reviewer.set_default_timeout(10_000)
    log_in(reviewer, staff_server, "reviewer@mem.example.org")
    reviewer.goto(f"{staff_server}/policies/{DRAFT_KEY}")
    reviewer.get_by_role("button", name="Publish").click()
    expect(reviewer.locator(".staff-bar")).to_contain_text("Published")
    reviewer.get_by_role("link", name="History of changes").first.click()
    history = reviewer.locator("main")
    expect(history).to_contain_text("editor@mem.example.org")
    expect(history).to_contain_text("Adopted")
    expect(history).to_contain_text("Decree on public EV charging stations")
    reviewer.context.close()

    reader.goto(f"{staff_server}/policies/{DRAFT_KEY}")
    expect(reader.get_by_role("heading", level=1)).to_have_text("Decree on public EV charging stations")
    expect(reader.locator(".status-line")).to_contain_text("Adopted")
    timeline = reader.locator("ol.timeline")
    expect(timeline).to_contain_text("15 January 2026")
    expect(timeline).to_contain_text("Signed by the Minister of Energy and Mines.")
    expect(reader.locator("main")).to_contain_text("ກົດລະບຽບການສາກໄຟຟ້າສາທາລະນະ ⚡")
    expect(reader.locator(".staff-bar")).to_have_count(0)
    reader.screenshot(path=artifacts / "policy-published.png", full_page=True)
    reader.context.close()
