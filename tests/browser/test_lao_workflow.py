"""The Lao-first path in real Chromium, in the Lao interface: an editor records a Lao-only decree with a new
issuer, a reviewer sends it back with a comment, the editor fixes and resubmits, the reviewer publishes,
and two staff then edit the published record at once without losing either change."""
from __future__ import annotations

import re
from pathlib import Path

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import serving
from tests.conftest import PASSWORD
from tracker import create_app, migrate
from tracker.db import unit_of_work
from tracker.services import accounts
from tracker.services.dataset import load_dataset

pytestmark = [pytest.mark.browser, pytest.mark.slow]

LAO_TITLE = "ດຳລັດ ວ່າດ້ວຍ ການນຳໃຊ້ ລົດໄຟຟ້າ ໃນ ລັດຖະການ"
COMMENT = "ກະລຸນາ ເພີ່ມ ເລກທີ ຂອງ ດຳລັດ."


@pytest.fixture
def lao_server(tmp_path, demo_data):
    """A server of its own over a fresh database: this test commits real changes."""
    app = create_app({"DATABASE_URL": f"sqlite:///{tmp_path / 'lao.db'}", "SECRET_KEY": "browser-test-key",
                      "SEARCH_INDEX_PATH": str(tmp_path / "index"), "MAIL_OUTBOX_PATH": str(tmp_path / "mail")})
    database = app.extensions["tracker.db"]
    migrate.upgrade(database.engine)
    with unit_of_work(database.session(write=True)) as session:
        load_dataset(session, {key: demo_data[key] for key in ("topics", "organisations", "events")})
        for email, role, name in (("khamla@mem.example.org", "editor", "ຄຳຫຼ້າ"),
                                  ("souk@mem.example.org", "reviewer", "ສຸກ"),
                                  ("vanh@mem.example.org", "admin", "ວັນ")):
            user = accounts.create_user(session, email, PASSWORD, role, display_name=name)
            user.language = "lo"
    with serving(app) as base:
        yield base


AXE = Path(__file__).resolve().parent / "vendor" / "axe.min.js"
AXE_TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "wcag22aa", "best-practice"]


def serious_axe_violations(page) -> list[str]:
    """axe-core's serious and critical findings on the page as it is now (a form just posted included)."""
    page.add_script_tag(path=str(AXE))
    result = page.evaluate("tags => axe.run(document, {runOnly: {type: 'tag', values: tags}})", AXE_TAGS)
    return [f"{page.url}: [{v['impact']}] {v['id']}: {[' '.join(n['target']) for n in v['nodes'][:5]]}"
            for v in result["violations"] if v["impact"] in ("serious", "critical")]


def person(browser, base: str, email: str):
    """A browser of one person, in the Lao interface, logged in through the login form."""
    # bypass_csp lets the test inject axe-core; the pages themselves run no inline script.
    page = browser.new_context(viewport={"width": 1280, "height": 900}, locale="lo-LA",
                               bypass_csp=True).new_page()
    page.set_default_timeout(10_000)
    page.goto(f"{base}/language/lo?next=/login")
    expect(page.locator("html")).to_have_attribute("lang", "lo")
    page.locator("input[name=email]").fill(email)
    page.locator("input[name=password]").fill(PASSWORD)
    page.locator("input[name=password]").press("Enter")
    expect(page.locator(".flash, [role=status]").first).to_contain_text(email)
    return page


def test_the_lao_first_path_from_draft_to_a_merged_concurrent_edit(browser, lao_server, artifacts):
    editor = person(browser, lao_server, "khamla@mem.example.org")

    # A new issuer, named in Lao only, with its acronym.
    editor.goto(f"{lao_server}/organisations/new")
    editor.locator("#name_lo").fill("ກົມ ຍານພາຫະນະ ໄຟຟ້າ")
    editor.locator("#acronym").fill("EVU")
    editor.locator("#country").fill("LA")
    editor.locator("#kind").select_option("agency")
    editor.locator("#parent").select_option("la-mem")
    editor.locator("form.record-form button[type=submit]").click()
    expect(editor).to_have_url(re.compile(r"/organisations/la-evu$"))

    # A decree with a Lao title only and a date written day first.
    editor.goto(f"{lao_server}/policies/new")
    editor.locator("#title_lo").fill(LAO_TITLE)
    editor.locator("#country").select_option("LA")
    editor.locator("#instrument").select_option("decree")
    # The issuer picker narrows as the acronym is typed (forms.js), then the option is chosen.
    editor.locator("input.picker-filter").first.fill("EVU")
    expect(editor.locator("#issuer option:not([hidden])")).to_have_count(2)  # "not known" and EVU
    editor.locator("#issuer").select_option("la-evu")
    editor.locator("#status").select_option("drafting")
    editor.locator("#status_effective_on").fill("15/11/2025")
    # A second source row, added in place by the "add a row" button.
    editor.locator("[data-row-group=sources] [data-add-row]").click()
    expect(editor.locator("#sources-1-url")).to_be_focused()
    editor.locator("#sources-0-url").fill("https://laoofficialgazette.gov.la/decree")
    editor.locator("#sources-1-url").fill("https://mem.gov.la/news/ev")
    editor.screenshot(path=artifacts / "lao-new-policy-form.png", full_page=True)
    editor.locator("form.record-form .actions button[type=submit]").click()
    expect(editor.locator("h1")).to_have_text(LAO_TITLE)
    key = editor.url.rsplit("/", 1)[1]
    expect(editor.locator("ol.timeline")).to_contain_text("15 ພະຈິກ 2025")
    expect(editor.locator("main")).to_contain_text("EVU")
    editor.locator("button[name=state][value=in_review]").click()
    expect(editor.locator(".staff-bar .editorial-state")).to_have_text("ກຳລັງກວດທານ")

    # The reviewer finds it in the queue and sends it back with a comment.
    reviewer = person(browser, lao_server, "souk@mem.example.org")
    reviewer.goto(f"{lao_server}/review")
    queued = reviewer.locator("ol.review-list > li", has_text=LAO_TITLE)
    expect(queued).to_contain_text("ຄຳຫຼ້າ")
    reviewer.screenshot(path=artifacts / "lao-review-queue.png", full_page=True)
    problems = serious_axe_violations(reviewer)
    queued.locator("h3 a").click()
    reviewer.locator("details.send-back > summary").click()
    reviewer.locator("#send-back-reason").fill(COMMENT)
    reviewer.locator("details.send-back button[type=submit]").click()
    expect(reviewer.locator(".staff-bar .editorial-state")).to_have_text("ສະບັບຮ່າງ")

    # The editor sees the comment, fixes the record and submits it again.
    editor.goto(f"{lao_server}/policies/{key}")
    expect(editor.locator(".sent-back")).to_contain_text(COMMENT)
    expect(editor.locator(".sent-back")).to_contain_text("ສຸກ")
    editor.locator(".staff-actions a[href$='/edit']").click()
    editor.locator("#reference").fill("ເລກທີ 15/ລບ")
    editor.locator("form.record-form .actions button[type=submit]").click()
    expect(editor.locator("main")).to_contain_text("ເລກທີ 15/ລບ")
    editor.locator("button[name=state][value=in_review]").click()
    expect(editor.locator(".sent-back")).to_have_count(0)

    # The reviewer publishes; the history names people, in Lao.
    reviewer.goto(f"{lao_server}/policies/{key}")
    reviewer.locator("button[name=state][value=published]").click()
    expect(reviewer.locator(".staff-bar .editorial-state")).to_have_text("ເຜີຍແຜ່ແລ້ວ")
    reviewer.goto(f"{lao_server}/policies/{key}/history")
    history = reviewer.locator("main")
    expect(history).to_contain_text(COMMENT)
    expect(history).to_contain_text("ຄຳຫຼ້າ")
    expect(history).not_to_contain_text("khamla@mem.example.org")
    reviewer.screenshot(path=artifacts / "lao-history.png", full_page=True)
    reviewer.goto(f"{lao_server}/activity")
    expect(reviewer.locator("ol.activity")).to_contain_text(COMMENT)
    problems += serious_axe_violations(reviewer)

    # Two staff edit the published record at once: the second save is merged, not reverted.
    admin = person(browser, lao_server, "vanh@mem.example.org")
    reviewer.goto(f"{lao_server}/policies/{key}/edit")
    admin.goto(f"{lao_server}/policies/{key}/edit")
    reviewer.locator("#valid_to").fill("31/12/2030")
    reviewer.locator("form.record-form .actions button[type=submit]").click()
    expect(reviewer.locator("main")).to_contain_text("31 ທັນວາ 2030")
    admin.locator("#summary_lo").fill("ລັດຖະການ ນຳໃຊ້ ລົດໄຟຟ້າ.")
    admin.locator("form.record-form .actions button[type=submit]").click()
    expect(admin.locator(".conflict")).to_be_visible()
    expect(admin.locator("#valid_to")).to_have_value("2030-12-31")
    expect(admin.locator("#summary_lo")).to_have_value("ລັດຖະການ ນຳໃຊ້ ລົດໄຟຟ້າ.")
    admin.screenshot(path=artifacts / "lao-conflict-merge.png", full_page=True)
    problems += serious_axe_violations(admin)
    admin.locator("form.record-form .actions button[type=submit]").click()
    page = admin.locator("main")
    expect(page).to_contain_text("31 ທັນວາ 2030")
    expect(page).to_contain_text("ລັດຖະການ ນຳໃຊ້ ລົດໄຟຟ້າ.")

    # The editor proposes a change to the published record; the reviewer reads the diff, in both languages.
    editor.goto(f"{lao_server}/policies/{key}/propose")
    editor.locator("#title_en").fill("Decree on the use of EVs in government service")
    editor.locator("#proposal_note").fill("ເພີ່ມ ຊື່ ພາສາອັງກິດ.")
    editor.locator("form.record-form .actions button[type=submit]").click()
    expect(editor).to_have_url(re.compile(r"/review/proposals/\d+$"))
    proposal = editor.url
    reviewer.goto(proposal)
    expect(reviewer.locator("table.diff")).to_contain_text("Decree on the use of EVs in government service")
    reviewer.screenshot(path=artifacts / "lao-proposal.png", full_page=True)
    problems += serious_axe_violations(reviewer)
    reviewer.goto(f"{lao_server}/language/en?next=/review/proposals/{proposal.rsplit('/', 1)[1]}")
    expect(reviewer.locator("html")).to_have_attribute("lang", "en")
    expect(reviewer.locator("main")).to_contain_text("Proposed by ຄຳຫຼ້າ")
    problems += serious_axe_violations(reviewer)
    reviewer.locator("#comment").fill("Thank you.")
    reviewer.locator("form.decision button[formaction$='/approve']").click()
    # Read in English now, the record is titled in English, its Lao title beneath.
    expect(reviewer.locator("h1")).to_have_text("Decree on the use of EVs in government service")
    expect(reviewer.locator("main")).to_contain_text(LAO_TITLE)
    assert problems == [], "\n".join(problems)
    for tab in (editor, reviewer, admin):
        tab.context.close()
