"""Texts of an instrument in real Chromium: an editor attaches a Lao PDF and its English translation to a decree,
the server's own worker extracts them, a reader finds a clause by a Lao word and by an English phrase, opens the
reader page at the right page, and compares two draft versions."""
from __future__ import annotations

import re
import time

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import serving
from tests.conftest import PASSWORD
from tests.documents import fixtures
from tracker import create_app, migrate
from tracker.db import unit_of_work
from tracker.search.runtime import runtime_of
from tracker.services import accounts
from tracker.services.dataset import load_dataset

pytestmark = [pytest.mark.browser, pytest.mark.slow]

DECREE = "la-pm-decree-231-clean-energy-transport"
EDITOR = "noy@mem.example.org"
LAO_WORD = "ສະຖານີສາກ"


@pytest.fixture
def documents_server(tmp_path, demo_data):
    """A server of its own, as `script/server` runs it: embedded indexer and extraction worker threads."""
    app = create_app({"DATABASE_URL": f"sqlite:///{tmp_path / 'documents.db'}", "SECRET_KEY": "browser-test-key",
                      "SEARCH_INDEX_PATH": str(tmp_path / "index"), "MAIL_OUTBOX_PATH": str(tmp_path / "mail"),
                      "DOCUMENT_POLL_INTERVAL": 0.5, "SEARCH_POLL_INTERVAL": 0.5})
    database = app.extensions["tracker.db"]
    migrate.upgrade(database.engine)
    with unit_of_work(database.session(write=True)) as session:
        load_dataset(session, demo_data)
        accounts.create_user(session, EDITOR, PASSWORD, "editor", display_name="Noy")
    runtime = runtime_of(app)
    for indexer in runtime.indexers:
        indexer.build(runtime.sessions(), runtime.sessions)
    with serving(app) as base:
        yield base
    runtime.close()


def sign_in(browser, base: str):
    page = browser.new_context(viewport={"width": 1280, "height": 900}).new_page()
    page.set_default_timeout(15_000)
    page.goto(f"{base}/login")
    page.locator("input[name=email]").fill(EDITOR)
    page.locator("input[name=password]").fill(PASSWORD)
    page.locator("input[name=password]").press("Enter")
    expect(page.locator(".flash, [role=status]").first).to_contain_text(EDITOR)
    return page


def attach(page, base: str, path, *, role: str, language: str, version: str, replacing: int | None = None) -> int:
    """Attach a file through the form; the id of the new document (from the reader page it lands on)."""
    page.goto(f"{base}/documents/{replacing}/replace" if replacing else f"{base}/policies/{DECREE}/documents/new")
    page.locator("input[type=file]").set_input_files(str(path))
    page.locator("select[name=role]").select_option(role)
    page.locator("select[name=language]").select_option(language)
    page.locator("input[name=version_label]").fill(version)
    page.locator("form.staff-form button[type=submit]").click()
    expect(page).to_have_url(re.compile(r"/documents/\d+$"))
    return int(page.url.rsplit("/", 1)[1])


def wait_extracted(page, base: str, document_id: int, timeout: float = 120.0) -> None:
    """Reload the reader page until the server's worker has extracted the text."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        page.goto(f"{base}/documents/{document_id}")
        if page.locator(".extraction-done, .extraction-partial").count():
            return
        assert not page.locator(".extraction-failed").count(), page.locator(".staff-bar").inner_text()
        time.sleep(0.5)
    raise AssertionError(f"document {document_id} was not extracted in {timeout:.0f} s")


def wait_found(page, url: str, text: str, timeout: float = 30.0) -> None:
    """Search until the indexer has caught up with the extraction."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        page.goto(url)
        if text in page.locator("main").inner_text():
            return
        time.sleep(0.5)
    raise AssertionError(f"{text!r} not found at {url}")


def test_texts_are_attached_extracted_found_by_clause_and_compared(browser, documents_server, artifacts, tmp_path):
    base = documents_server
    lao_pdf = fixtures.lao_pdf(tmp_path, browser)
    english_pdf = fixtures.english_pdf(tmp_path, browser)
    editor = sign_in(browser, base)
    lao_id = attach(editor, base, lao_pdf, role="original", language="lo", version="ສະບັບຮັບຮອງ")
    english_id = attach(editor, base, english_pdf, role="unofficial_translation", language="en", version="Adopted")
    wait_extracted(editor, base, lao_id)
    wait_extracted(editor, base, english_id)
    expect(editor.locator(".staff-bar")).to_contain_text("Text extracted")

    reader = browser.new_context(viewport={"width": 1280, "height": 900}).new_page()
    reader.set_default_timeout(15_000)
    # A clause found by a Lao word: the decree, and under it the passage with its page.
    wait_found(reader, f"{base}/search?q={LAO_WORD}", "p. ")
    hit = reader.locator("li.hit", has=reader.locator(f"a[href='/policies/{DECREE}']"))
    passage = hit.locator(".passage-matches li").first
    expect(passage.locator("mark").first).to_be_visible()
    page_number = int(re.search(r"p\. (\d+)", passage.inner_text()).group(1))
    reader.screenshot(path=str(artifacts / "documents-search-lao.png"), full_page=True)
    passage.locator("a").first.click()
    expect(reader).to_have_url(re.compile(rf"/documents/{lao_id}\?q=.*#page-{page_number}$"))
    expect(reader.locator(f"#page-{page_number}")).to_be_in_viewport()
    expect(reader.locator(f"#page-{page_number}")).to_contain_text(LAO_WORD)

    # The same clause in the translation, by an exact English phrase; the reader page says it is unofficial.
    phrase = fixtures.ENGLISH_PHRASE
    wait_found(reader, f'{base}/search?q="{phrase}"', "p. ")
    english_link = reader.locator(f".passage-matches a[href*='/documents/{english_id}']").first
    english_link.click()
    expect(reader.locator(".note-unofficial")).to_be_visible()
    expect(reader.locator("main")).to_contain_text(phrase)
    # Search within the document, in page order, without JavaScript needed (a GET form).
    reader.locator("#document-q").fill("batteries")
    reader.locator("input[name=sort][value=page]").check()
    reader.locator("form.search-in-document button[type=submit]").click()
    expect(reader.locator(".passage-hits li").first).to_contain_text("p. ")
    reader.screenshot(path=str(artifacts / "documents-reader.png"), full_page=True)

    # Two drafts of a text, compared paragraph by paragraph.
    first = tmp_path / "draft-1.txt"
    first.write_text("Article 1 Purpose\n\nThis decree promotes electric vehicles.\n\n"
                     "Article 2 Registration\n\nOwners register a vehicle within 30 days of its import.\n",
                     encoding="utf-8")
    second = tmp_path / "draft-2.txt"
    second.write_text("Article 1 Purpose\n\nThis decree promotes electric vehicles.\n\n"
                      "Article 2 Registration\n\nOwners register a vehicle within 60 days of its import.\n\n"
                      "Article 3 Charging\n\nEDL supplies charging stations at the state tariff.\n", encoding="utf-8")
    draft_1 = attach(editor, base, first, role="draft", language="en", version="Draft 1")
    draft_2 = attach(editor, base, second, role="draft", language="en", version="Draft 2", replacing=draft_1)
    wait_extracted(editor, base, draft_1)
    wait_extracted(editor, base, draft_2)
    reader.goto(f"{base}/documents/{draft_2}")
    reader.get_by_role("link", name="Compare with the previous version").click()
    # The new article: its heading and its paragraph.
    expect(reader.locator(".summary-line")).to_contain_text("2 paragraphs added")
    expect(reader.locator(".diff-change del")).to_have_text("30")
    expect(reader.locator(".diff-change ins")).to_have_text("60")
    expect(reader.locator(".diff-insert").last).to_contain_text("EDL supplies charging stations")
    reader.screenshot(path=str(artifacts / "documents-compare.png"), full_page=True)
