"""A Lao reader in real Chromium: switches to Lao, browses, searches, signs in as an editor and opens the
edit form, all in Lao; screenshots of the home and a policy page in both languages go to test-artifacts/."""
from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from tests.conftest import PASSWORD, email_of

pytestmark = [pytest.mark.browser, pytest.mark.slow]

POLICY = "la-gov-resolution-08-2021-ev-policy"
POLICY_LO = "ມະຕິວ່າດ້ວຍການຮັບຮອງ ແລະປະກາດໃຊ້ນະໂຍບາຍການນຳໃຊ້ລົດໄຟຟ້າຢູ່ ສປປ ລາວ"
LAO_MONTH = re.compile(r"(ມັງກອນ|ກຸມພາ|ມີນາ|ເມສາ|ພຶດສະພາ|ມິຖຸນາ|ກໍລະກົດ|ສິງຫາ|ກັນຍາ|ຕຸລາ|ພະຈິກ|ທັນວາ) \d{4}")


def test_a_lao_reader_browses_searches_and_edits_in_lao(page, artifacts):
    page.goto("/")
    expect(page.locator("html")).to_have_attribute("lang", "en")
    page.screenshot(path=str(artifacts / "home-en.png"), full_page=True)
    page.goto(f"/policies/{POLICY}")
    page.screenshot(path=str(artifacts / "policy-en.png"), full_page=True)

    # The switch is on every page and brings the reader back to the same page, now in Lao.
    page.goto("/")
    page.get_by_role("navigation", name="Language").get_by_role("link", name="ພາສາລາວ").click()
    expect(page).to_have_url(re.compile(r"/$"))
    expect(page.locator("html")).to_have_attribute("lang", "lo")
    expect(page.get_by_role("heading", level=1)).to_have_text("ນະໂຍບາຍລົດໄຟຟ້າຂອງ ສປປ ລາວ ແລະ ອາຊຽນ")
    page.screenshot(path=str(artifacts / "home-lo.png"), full_page=True)

    # Browse: the list and a policy, with the Lao title, Lao statuses and Lao month names.
    page.get_by_role("navigation", name="ເມນູຫຼັກ").get_by_role("link", name="ນະໂຍບາຍ").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("ນະໂຍບາຍ")
    expect(page.get_by_role("status").first).to_contain_text("ນະໂຍບາຍ")
    page.locator("#f-country summary").filter(has_text="ປະເທດ").click()
    page.locator("#f-country input[value=LA]").check()
    page.get_by_role("button", name="ນຳໃຊ້").click()
    page.get_by_role("link", name=POLICY_LO).click()
    expect(page.get_by_role("heading", level=1)).to_have_text(POLICY_LO)
    expect(page.locator(".status-line .status")).to_have_text(re.compile("ມີຜົນສັກສິດ|ຮັບຮອງແລ້ວ"))
    timeline = page.locator("section[aria-labelledby=history] time").all_inner_texts()
    assert any(LAO_MONTH.search(date) for date in timeline), timeline
    page.screenshot(path=str(artifacts / "policy-lo.png"), full_page=True)
    # The language stays as the reader moves on.
    page.reload()
    expect(page.locator("html")).to_have_attribute("lang", "lo")

    # Search from the box in the header, in Lao.
    page.get_by_role("searchbox", name="ຄົ້ນຫານະໂຍບາຍ ແລະ ເຫດການ").first.fill("ລົດໄຟຟ້າ")
    page.get_by_role("searchbox", name="ຄົ້ນຫານະໂຍບາຍ ແລະ ເຫດການ").first.press("Enter")
    expect(page.get_by_role("heading", level=1)).to_have_text("ຄົ້ນຫານະໂຍບາຍ ແລະ ເຫດການ")
    expect(page.locator("p.count")).to_contain_text(re.compile(r"ພົບ \d+ ຜົນສຳລັບ “ລົດໄຟຟ້າ”"))
    expect(page.locator("ol.hits > li").first).to_be_visible()
    page.get_by_text("ວິທີຄົ້ນຫາ").click()
    expect(page.locator("#search-help")).to_contain_text("ຈະສະແດງບັນທຶກທີ່ມີທຸກຄຳກ່ອນ")

    # Sign in as an editor; the messages and the form are in Lao.
    page.get_by_role("link", name="ເຂົ້າສູ່ລະບົບ").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("ເຂົ້າສູ່ລະບົບ")
    page.get_by_role("button", name="ເຂົ້າສູ່ລະບົບ").click()
    expect(page.locator(".error-message").first).to_have_text("ຕ້ອງປ້ອນຂໍ້ມູນໃນຊ່ອງນີ້.")
    page.get_by_label("ອີເມວ").fill(email_of("editor"))
    page.get_by_label("ລະຫັດຜ່ານ").fill(PASSWORD)
    page.get_by_role("button", name="ເຂົ້າສູ່ລະບົບ").click()
    expect(page.get_by_role("status").first).to_have_text(f"ເຂົ້າສູ່ລະບົບເປັນ {email_of('editor')}.")
    expect(page.locator("html")).to_have_attribute("lang", "lo")

    # The edit form: both languages side by side, each labelled, and its messages in Lao.
    page.get_by_role("navigation", name="ເມນູຫຼັກ").get_by_role("link", name="ນະໂຍບາຍ").click()
    page.get_by_role("link", name="ນະໂຍບາຍໃໝ່").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("ນະໂຍບາຍໃໝ່")
    english, lao = page.get_by_label("ຊື່ເອກະສານ (ພາສາອັງກິດ)"), page.get_by_label("ຊື່ເອກະສານ (ພາສາລາວ)")
    expect(lao).to_have_attribute("lang", "lo")
    left, right = english.bounding_box(), lao.bounding_box()
    assert abs(left["y"] - right["y"]) < 2 and right["x"] > left["x"] + left["width"], (left, right)
    page.get_by_role("button", name="ສ້າງສະບັບຮ່າງ").click()
    summary = page.get_by_role("alert").first
    expect(summary).to_contain_text("ກະລຸນາແກ້ໄຂຊ່ອງທີ່ໝາຍໄວ້ຂ້າງລຸ່ມ; ບໍ່ມີຫຍັງຖືກບັນທຶກ.")
    # Each message of the summary links to its field, in Lao.
    expect(summary.locator("a[href='#title_en']")).to_contain_text("ຊື່ເອກະສານ (ພາສາອັງກິດ)")
    summary.locator("a[href='#country']").click()
    expect(page.locator("#country")).to_be_focused()
    page.screenshot(path=str(artifacts / "policy-form-lo.png"), full_page=True)
    body = page.locator("main").inner_text()
    for english_text in ("This field is required", "Title (English)", "Save changes", "Create the draft"):
        assert english_text not in body
