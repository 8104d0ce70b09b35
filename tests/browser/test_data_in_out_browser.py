"""Data in and out in real Chromium: a researcher filters Lao charging policies and downloads them as CSV and
XLSX; an editor downloads the import template, fills two rows, uploads it, reads the dry run in Lao, applies
it, and finds the changes in the activity list and the record's history."""
from __future__ import annotations

import csv
import io
import re

import openpyxl
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

EDITOR = "phet@mem.example.org"
DRAFT = "la-draft-charging-fees"


@pytest.fixture
def data_server(tmp_path, demo_data):
    app = create_app({"DATABASE_URL": f"sqlite:///{tmp_path / 'data.db'}", "SECRET_KEY": "browser-test-key",
                      "SEARCH_INDEX_PATH": str(tmp_path / "index"), "MAIL_OUTBOX_PATH": str(tmp_path / "mail"),
                      "RELEASE_SCHEDULE": "off"})
    database = app.extensions["tracker.db"]
    migrate.upgrade(database.engine)
    with unit_of_work(database.session(write=True)) as session:
        load_dataset(session, demo_data)
        load_dataset(session, {"policies": [policy_record(DRAFT, country="LA", editorial_state="draft",
                                                          title_en="Draft rules on charging fees",
                                                          topics=["charging_infrastructure"])]})
        accounts.create_user(session, EDITOR, PASSWORD, "editor", display_name="Phet")
    with serving(app) as base:
        yield base


def test_a_researcher_downloads_the_filtered_list_as_csv_and_xlsx(browser, data_server):
    context = browser.new_context(accept_downloads=True, viewport={"width": 1280, "height": 900})
    page = context.new_page()
    page.set_default_timeout(15_000)
    page.goto(f"{data_server}/policies?country=LA&topic=charging_infrastructure")
    shown = page.locator("table tbody tr").count()
    assert shown > 0
    with page.expect_download() as download_info:
        page.get_by_role("link", name="CSV").click()
    download = download_info.value
    assert re.fullmatch(r"ev-policies-\d{4}-\d{2}-\d{2}\.csv", download.suggested_filename)
    rows = list(csv.reader(io.StringIO(download.path().read_text(encoding="utf-8-sig"), newline="")))
    assert rows[0][:3] == ["key", "url", "country_code"]
    assert {row[2] for row in rows[1:]} == {"LA"} and len(rows) - 1 >= shown
    assert DRAFT not in {row[0] for row in rows}
    with page.expect_download() as download_info:
        page.get_by_role("link", name="Excel (XLSX)").click()
    workbook = openpyxl.load_workbook(io.BytesIO(download_info.value.path().read_bytes()))
    keys = [row[0] for row in workbook["policies"].iter_rows(min_row=2, values_only=True)]
    assert keys == [row[0] for row in rows[1:]]
    context.close()


def test_an_editor_imports_two_rows_from_the_template_reading_the_dry_run_in_lao(browser, data_server, tmp_path):
    context = browser.new_context(accept_downloads=True, viewport={"width": 1280, "height": 900}, locale="lo-LA")
    page = context.new_page()
    page.set_default_timeout(20_000)
    page.goto(f"{data_server}/login")
    page.locator("input[name=email]").fill(EDITOR)
    page.locator("input[name=password]").fill(PASSWORD)
    page.locator("input[name=password]").press("Enter")
    page.goto(f"{data_server}/imports")
    expect(page.locator("html")).to_have_attribute("lang", "lo")
    with page.expect_download() as download_info:
        page.locator("a[href$='/imports/template.xlsx']").click()
    workbook = openpyxl.load_workbook(io.BytesIO(download_info.value.path().read_bytes()))
    sheet = workbook["policies"]
    header = [cell.value.splitlines()[0] for cell in sheet[1] if cell.value]

    def fill(row: int, values: dict[str, str]) -> None:
        for name, value in values.items():
            sheet.cell(row=row, column=header.index(name) + 1, value=value)

    fill(2, {"key": "la-import-battery-recycling", "country_code": "LA", "title_en": "Battery recycling rules",
             "title_lo": "ລະບຽບການນຳໃຊ້ແບັດເຕີຣີຄືນໃໝ່", "instrument": "regulation", "legal_status": "drafting",
             "status_since": "01/12/2026", "topics": "charging_infrastructure"})
    fill(3, {"key": DRAFT, "legal_status": "consultation", "status_since": "03/12/2026",
             "status_note": "Posted for public comment."})
    filled = tmp_path / "ນະໂຍບາຍ-ນຳເຂົ້າ.xlsx"
    workbook.save(filled)
    page.locator("input[type=file]").set_input_files(str(filled))
    page.locator("form.staff-form button[type=submit]").click()
    expect(page).to_have_url(re.compile(r"/imports/\d+$"))
    report = page.locator("main").inner_text()
    assert "la-import-battery-recycling" in report and DRAFT in report
    assert "ຢືນຢັນການນຳເຂົ້າ" in report          # "Apply the import", in Lao
    assert "ລຳດັບເວລາຂອງສະຖານະ" in report and "ກຳລັງປຶກສາຫາລື" in report, report   # labels and statuses in Lao
    page.screenshot(path="test-artifacts/import-dry-run-lo.png", full_page=True)
    page.get_by_role("button", name="ຢືນຢັນການນຳເຂົ້າ").click()
    expect(page.locator(".flash, [role=status]").first).to_contain_text("ການນຳເຂົ້າໄດ້ບັນທຶກແລ້ວ")
    page.goto(f"{data_server}/activity")
    activity = page.locator("main").inner_text()
    assert "la-import-battery-recycling" in activity or "Battery recycling rules" in activity \
        or "ລະບຽບການນຳໃຊ້ແບັດເຕີຣີຄືນໃໝ່" in activity
    page.goto(f"{data_server}/policies/{DRAFT}/history")
    history = page.locator("main").inner_text()
    assert "imported from" in history
    context.close()
