"""A reader walks the tracker in real Chromium: home, a filtered list, a policy, the forum it came from."""
from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

pytestmark = [pytest.mark.browser, pytest.mark.slow]

LAO_TITLE = "ມະຕິວ່າດ້ວຍການຮັບຮອງ ແລະປະກາດໃຊ້ນະໂຍບາຍການນຳໃຊ້ລົດໄຟຟ້າຢູ່ ສປປ ລາວ"


def test_home_to_filtered_list_to_policy_to_event(page, live_server, artifacts):
    requested: list[str] = []
    page.on("request", lambda request: requested.append(request.url))

    page.goto("/")
    expect(page.get_by_role("heading", name="Electric-vehicle policies of Lao PDR and ASEAN")).to_be_visible()
    expect(page.locator("table.matrix")).to_contain_text("Lao PDR")
    page.screenshot(path=artifacts / "home.png", full_page=True)

    page.get_by_role("link", name="Browse all policies").click()
    expect(page).to_have_url(re.compile(r"/policies$"))
    page.locator("#f-country summary").click()
    page.locator("#f-country").get_by_role("checkbox", name="Lao PDR").check()
    page.locator("#f-status summary").click()
    page.locator("#f-status").get_by_role("checkbox", name="Adopted").check()
    page.get_by_role("button", name="Apply").click()
    expect(page).to_have_url(re.compile(r"country=LA.*status=adopted"))
    expect(page.get_by_role("status")).to_contain_text("match these filters")
    rows = page.locator("table.policies tbody tr")
    for index in range(rows.count()):
        expect(rows.nth(index)).to_contain_text("Adopted")

    page.get_by_role("link", name=re.compile("Government resolution approving and announcing")).click()
    expect(page.get_by_role("heading", level=1)).to_contain_text("Government resolution approving")
    lao_title = page.locator(".title-lo [lang=lo]")
    expect(lao_title).to_have_text(LAO_TITLE)
    # Lao text is set in a Lao-capable family (the installed Noto Sans Lao draws it, not a fallback box).
    family = lao_title.evaluate("element => getComputedStyle(element).fontFamily")
    assert "Noto Sans Lao" in family
    expect(page.get_by_role("heading", name="Status timeline")).to_be_visible()
    expect(page.locator("ol.timeline")).to_contain_text("4 October 2021")
    page.screenshot(path=artifacts / "policy.png", full_page=True)

    page.get_by_role("link", name="National Workshop on Transitioning to Electric Mobility in Lao PDR").click()
    expect(page.get_by_role("heading", level=1)).to_contain_text("National Workshop on Transitioning")
    expect(page.get_by_role("heading", name="Policies linked to this event")).to_be_visible()
    expect(page.locator("ul.forum-links")).to_contain_text("Government resolution approving")
    assert requested and all(url.startswith(live_server + "/") for url in requested), requested


def test_the_lao_ev_forum_pages(page):
    page.goto("/events")
    page.get_by_role("link", name="2nd Lao EV Forum").first.click()
    expect(page.get_by_role("heading", level=1)).to_contain_text("2nd Lao EV Forum")
    expect(page.locator("main")).to_contain_text("Organisers")


def test_a_narrow_phone_screen_keeps_everything_reachable(page, artifacts):
    page.set_viewport_size({"width": 360, "height": 780})
    page.goto("/policies/la-gov-resolution-08-2021-ev-policy")
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= 362
    page.screenshot(path=artifacts / "policy-360.png", full_page=True)
