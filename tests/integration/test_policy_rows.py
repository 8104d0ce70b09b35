"""The rows of a policy table link where url_for would, whatever the key and the reader's comparison; the list
and the country page show what their records say, in English and Lao."""
from __future__ import annotations

import re
from types import SimpleNamespace

import pytest
from flask import url_for

from tracker.services.policy_comparison import keys_param
from tracker.views.compare_policies import TRAY_PARAM, Tray, _this_page_with, with_tray
from tracker.views.policy_rows import policy_rows

ODD_KEYS = ["plain-key", "with space", "ລາວ-key", "a&b=c", "percent%2F", "slash/inside", "emoji-🚗", "q?x#y"]


def record(key: str) -> SimpleNamespace:
    return SimpleNamespace(
        id=1, key=key, title_en="A title", title_lo=None, instrument="decree", legal_status="in_force",
        status_changed_on=None, editorial_state="published", topic_keys=(),
        jurisdiction=SimpleNamespace(code="LA", name_en="Lao PDR", name_lo="ລາວ"))


LAO_TAX = "la-ev-tax-package-2022"


@pytest.mark.parametrize(("query", "chosen"), [
    ("", ()),
    ("?country=LA&sort=title", ()),
    (f"?{TRAY_PARAM}={LAO_TAX},ລາວ&page=2", (LAO_TAX, "ລາວ")),
    (f"?{TRAY_PARAM}=one&q=x+y%26z", ("one",)),
])
def test_row_addresses_are_those_url_for_builds(app, session, query, chosen):
    with app.test_request_context("/policies" + query):
        tray = Tray(tuple(SimpleNamespace(key=key) for key in chosen), refused=0)
        rows = policy_rows([record(key) for key in ODD_KEYS], {}, tray=tray)
        for row, key in zip(rows, ODD_KEYS, strict=True):
            # The record's address, with the reader's comparison along when there is one (as the template
            # wrote it: with_tray(url_for(...)) when the page has a tray).
            expected = url_for("policies.detail", key=key)
            assert row.href == (with_tray(expected) if tray else expected)
            # Adding a policy: the same address as the page with the key appended to the choice.
            assert row.comparison == "out"
            assert row.comparison_url == _this_page_with(tray.keys + [key])


def test_adding_to_a_comparison_keeps_the_choice_in_order(app, session):
    with app.test_request_context(f"/policies?country=LA&{TRAY_PARAM}=b,a"):
        tray = Tray((SimpleNamespace(key="b"), SimpleNamespace(key="a")), refused=0)
        address = tray.add_url("c d")
        assert address == _this_page_with(["b", "a", "c d"])
        assert f"{TRAY_PARAM}={keys_param(['b', 'a', 'c+d'])}" in address
        # A key already chosen adds nothing.
        assert tray.add_url("a") == _this_page_with(["b", "a"])


@pytest.mark.parametrize("language", ["en", "lo"])
def test_list_and_country_rows_show_the_records(client, language):
    client.set_cookie("lang", language)
    for address in ("/policies?per_page=100", "/countries/LA"):
        html = client.get(address).get_data(as_text=True)
        assert 'href="/policies/la-gov-resolution-08-2021-ev-policy"' in html
        # Every row shows a status badge with its name, and a date or a dash.
        badges = re.findall(r'<span class="status status-([a-z_]+)">([^<]+)</span>', html)
        assert badges and all(name.strip() for _, name in badges)
    html = client.get("/policies?per_page=100").get_data(as_text=True)
    if language == "lo":
        assert "ລາວ" in html and "ສະຖານະ" in html
    else:
        assert "Lao PDR" in html


def test_list_rows_carry_the_topics_in_the_records_order(app, session, users):
    from sqlalchemy import select

    from tracker.models import Topic
    from tracker.pagination import PageRequest
    from tracker.services import editing
    from tracker.services import policies as policy_service

    # A record whose topics were given against their alphabetical order: every topic there is (ten or more,
    # so that positions must compare as numbers, not as text).
    chosen = list(reversed(session.scalars(select(Topic.key).order_by(Topic.key)).all()))
    assert len(chosen) >= 10
    editing.update_policy(session, "la-gov-resolution-08-2021-ev-policy", {"topics": chosen}, users["admin"], None)
    session.flush()
    session.expire_all()  # the records as stored, not as this session holds them
    with app.test_request_context("/policies"):
        choices = policy_service.filter_choices(session)
        flt = policy_service.parse_policy_filter({}, choices)
        page = policy_service.list_policy_summaries(session, flt, PageRequest(1, 100))
        records = {p.key: p for p in policy_service.list_policies(session, flt, PageRequest(1, 100)).items}
    assert page.total == len(records)
    assert [row.key for row in page.items] == list(records)
    for row in page.items:
        record = records[row.key]
        assert row.topic_keys == tuple(record.topic_keys)
        assert (row.title_en, row.title_lo, row.legal_status, row.status_changed_on, row.jurisdiction.code) == \
            (record.title_en, record.title_lo, record.legal_status, record.status_changed_on, record.jurisdiction_code)
    assert [row.topic_keys for row in page.items if row.key == "la-gov-resolution-08-2021-ev-policy"] == [tuple(chosen)]


@pytest.mark.parametrize("text", ["plain", "<b>&'\"</b>", "ລາວ & ໄທ", "🚗 <script>", "", "a\x00b"])
def test_row_text_is_escaped_as_markupsafe_escapes_it(text):
    from markupsafe import Markup, escape

    from tracker.views.policy_rows import escape_text

    assert escape_text(text) == str(escape(text))
    assert escape_text(Markup("<i>kept</i>")) == "<i>kept</i>"
    assert escape_text(None) == ""
