"""Which language a reader gets, and what changes with it: dates, times, numbers, record fields, caching."""
from __future__ import annotations

import datetime as dt
import re
from html import unescape

import pytest

from tracker.i18n import LocalizedText, localized
from tracker.models.types import PartialDate

POLICY = "la-gov-resolution-08-2021-ev-policy"  # has a Lao title and summary


def lang_of(response) -> str:
    return re.search(r'<html lang="(\w+)">', response.get_data(as_text=True)).group(1)


def text_of(response) -> str:
    return unescape(re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", response.get_data(as_text=True))))


# ---------------------------------------------------------------------------------------------------
# Choosing the language


def test_without_any_preference_the_interface_is_english(client):
    response = client.get("/")
    assert lang_of(response) == "en" and "Latest status changes" in text_of(response)


@pytest.mark.parametrize("header, expected", [
    ("lo", "lo"), ("lo-LA,lo;q=0.9,en;q=0.5", "lo"), ("fr-FR, lo;q=0.4", "lo"),
    ("en-GB,en;q=0.9,lo;q=0.8", "en"), ("th-TH,th;q=0.9", "en"), ("", "en"),
])
def test_the_browsers_accept_language_picks_the_best_of_english_and_lao(client, header, expected):
    assert lang_of(client.get("/policies", headers={"Accept-Language": header})) == expected


def test_the_switch_remembers_the_choice_for_a_year_and_returns_to_the_page(client):
    page = client.get("/policies?country=LA")
    switch = re.search(r'<a href="([^"]+)" lang="lo" hreflang="lo">ພາສາລາວ</a>', page.get_data(as_text=True))
    assert switch, "every page offers the other language"
    response = client.get(unescape(switch.group(1)))
    assert response.status_code == 303 and response.headers["Location"] == "/policies?country=LA"
    cookie = response.headers["Set-Cookie"]
    assert cookie.startswith("lang=lo;") and "Max-Age=31536000" in cookie and "SameSite=Lax" in cookie
    assert lang_of(client.get("/policies?country=LA")) == "lo"
    # The current language is shown, not linked; the other one is a link back.
    html = client.get("/").get_data(as_text=True)
    assert '<span lang="lo" aria-current="true">ພາສາລາວ</span>' in html
    assert 'hreflang="en">English</a>' in html


def test_an_explicit_choice_wins_over_the_browsers_language(client):
    client.get("/language/en?next=/")
    assert lang_of(client.get("/", headers={"Accept-Language": "lo"})) == "en"
    client.get("/language/lo?next=/")
    assert lang_of(client.get("/", headers={"Accept-Language": "en"})) == "lo"


def test_a_cookie_with_an_unknown_language_falls_back_to_the_browsers_language(client):
    client.set_cookie("lang", "fr")
    assert lang_of(client.get("/", headers={"Accept-Language": "lo"})) == "lo"


@pytest.mark.parametrize("target", ["https://evil.example/", "//evil.example/x", "/\\evil.example",
                                    "javascript:x"])
def test_the_switch_never_sends_the_reader_to_another_site(client, target):
    response = client.get("/language/lo", query_string={"next": target})
    assert response.status_code == 303 and response.headers["Location"] == "/"


def test_an_unknown_language_code_is_not_found(client):
    response = client.get("/language/fr?next=/")
    assert response.status_code == 404 and "Set-Cookie" not in response.headers


# ---------------------------------------------------------------------------------------------------
# The page cache keeps the languages apart


def test_the_page_cache_never_serves_one_language_to_a_reader_of_the_other(client):
    english = client.get(f"/policies/{POLICY}")
    lao = client.get(f"/policies/{POLICY}", headers={"Accept-Language": "lo"})
    again_english = client.get(f"/policies/{POLICY}")
    client.set_cookie("lang", "lo")
    lao_by_cookie = client.get(f"/policies/{POLICY}", headers={"Accept-Language": "en"})
    assert [lang_of(r) for r in (english, lao, again_english, lao_by_cookie)] == ["en", "lo", "en", "lo"]
    assert english.headers["ETag"] != lao.headers["ETag"]
    assert lao.headers["ETag"] == lao_by_cookie.headers["ETag"]
    for response in (english, lao):
        assert {"Accept-Language", "Cookie"} <= set(response.vary)


def test_a_revalidation_with_the_other_languages_etag_gets_the_page_not_a_304(client):
    english = client.get("/policies")
    lao = client.get("/policies", headers={"Accept-Language": "lo", "If-None-Match": english.headers["ETag"]})
    assert lao.status_code == 200 and lang_of(lao) == "lo"
    same = client.get("/policies", headers={"If-None-Match": english.headers["ETag"]})
    assert same.status_code == 304


# ---------------------------------------------------------------------------------------------------
# Dates, times and numbers


def test_partial_dates_stay_partial_in_lao():
    assert PartialDate(2023).display("lo") == "2023"
    assert PartialDate(2023, 7).display("lo") == "ກໍລະກົດ 2023"
    assert PartialDate(2023, 7, 14).display("lo") == "14 ກໍລະກົດ 2023"
    assert PartialDate(2024, 1, 1).display("lo") == "1 ມັງກອນ 2024"
    assert PartialDate(2023, 7, 14).display() == "14 July 2023"


ENGLISH_MONTH = re.compile(r"^(\d{1,2} )?(January|February|March|April|May|June|July|August|September|"
                           r"October|November|December) \d{4}$")
LAO_MONTH = re.compile(r"^(\d{1,2} )?(ມັງກອນ|ກຸມພາ|ມີນາ|ເມສາ|ພຶດສະພາ|ມິຖຸນາ|ກໍລະກົດ|ສິງຫາ|ກັນຍາ|ຕຸລາ|ພະຈິກ|"
                       r"ທັນວາ) \d{4}$")


def test_a_policy_page_shows_lao_month_names(client):
    def dates(response):
        return [unescape(date).strip() for date in re.findall(r"<time[^>]*>(.*?)</time>",
                                                              response.get_data(as_text=True))]

    english = dates(client.get(f"/policies/{POLICY}"))
    lao = dates(client.get(f"/policies/{POLICY}", headers={"Accept-Language": "lo"}))
    assert len(english) == len(lao) and any(ENGLISH_MONTH.match(date) for date in english)
    for english_date, lao_date in zip(english, lao):
        if ENGLISH_MONTH.match(english_date):
            assert LAO_MONTH.match(lao_date), lao_date
            # As precise as it is known: a month and year stays a month and year.
            assert len(english_date.split()) == len(lao_date.split())
        else:
            assert english_date == lao_date  # a year alone


def test_times_are_shown_in_vientiane_with_the_zone_named(app):
    from tracker.i18n import format_timestamp

    moment = dt.datetime(2026, 3, 1, 2, 30, tzinfo=dt.UTC)
    with app.test_request_context("/", headers={"Accept-Language": "en"}):
        assert format_timestamp(moment) == "1 March 2026, 09:30 Indochina Time"
    with app.test_request_context("/", headers={"Accept-Language": "lo"}):
        assert format_timestamp(moment) == "1 ມີນາ 2026, 09:30 ເວລາອິນດູຈີນ"


def test_numbers_follow_the_readers_locale(app):
    from tracker.i18n import format_number

    with app.test_request_context("/", headers={"Accept-Language": "en"}):
        assert format_number(1234567) == "1,234,567"
    with app.test_request_context("/", headers={"Accept-Language": "lo"}):
        assert format_number(1234567) == "1.234.567"


# ---------------------------------------------------------------------------------------------------
# Records in the reader's language, with the other as a marked fallback


class _Record:
    def __init__(self, title_en, title_lo):
        self.title_en, self.title_lo = title_en, title_lo


@pytest.mark.parametrize("language, record, expected", [
    ("lo", _Record("Decree", "ດຳລັດ"), LocalizedText("ດຳລັດ", "lo", False)),
    ("lo", _Record("Decree", None), LocalizedText("Decree", "en", True)),
    ("en", _Record("Decree", "ດຳລັດ"), LocalizedText("Decree", "en", False)),
    ("en", _Record("", "ດຳລັດ"), LocalizedText("ດຳລັດ", "lo", True)),
])
def test_a_field_falls_back_to_the_other_language_with_a_mark(app, language, record, expected):
    with app.test_request_context("/", headers={"Accept-Language": language}):
        shown = localized(record, "title")
        assert shown == expected
        if expected.fallback:
            mark = "(English)" if expected.language == "en" else "(ພາສາລາວ)"
            assert str(shown.__html__()).endswith(f'<span class="fallback-mark">{mark}</span>')
            assert f'lang="{expected.language}"' in shown.__html__()


def without_word_marks(html: str) -> str:
    """The page without the markup that keeps Lao words whole (its characters are unchanged)."""
    return re.sub(r'<span class="lw">(.*?)</span>', r"\1", html).replace("<wbr>", "")


def test_lao_readers_see_the_lao_title_and_the_english_one_marked_when_there_is_no_lao(client, demo_data):
    with_lao = next(p for p in demo_data["policies"] if p["key"] == POLICY)
    without_lao = next(p for p in demo_data["policies"] if not p.get("title_lo"))
    page = client.get(f"/policies/{POLICY}", headers={"Accept-Language": "lo"}).get_data(as_text=True)
    # Lao words come wrapped so that a line never ends inside one (tracker.lao).
    assert '<span class="lw">' in re.search(r"<h1>(.*?)</h1>", page, re.S).group(1)
    assert re.search(r"<h1>\s*" + re.escape(with_lao["title_lo"]) + r"\s*</h1>", without_word_marks(page))
    assert with_lao["title_en"] in page  # the other language under it
    other = client.get(f"/policies/{without_lao['key']}",
                       headers={"Accept-Language": "lo"}).get_data(as_text=True)
    heading = re.search(r"<h1>(.*?)</h1>", other, re.S).group(1)
    assert 'lang="en"' in heading and '<span class="fallback-mark">(English)</span>' in heading
    english = client.get(f"/policies/{without_lao['key']}").get_data(as_text=True)
    assert "fallback-mark" not in re.search(r"<h1>(.*?)</h1>", english, re.S).group(1)


def test_lists_show_titles_in_the_readers_language(client, demo_data):
    with_lao = next(p for p in demo_data["policies"] if p["key"] == POLICY)
    page = client.get("/policies?country=LA&per_page=100", headers={"Accept-Language": "lo"})
    html = without_word_marks(page.get_data(as_text=True))
    assert re.search(r'class="title"[^>]*>\s*' + re.escape(with_lao["title_lo"]), html)
    assert "(English)" in html  # policies with no Lao title say so
    assert "ສປປ ລາວ" in html and "ມີຜົນສັກສິດ" in html  # country and status names in Lao


# ---------------------------------------------------------------------------------------------------
# The API: messages in the client's language, codes always English


def test_api_error_messages_follow_accept_language(client):
    lao = client.get("/api/v1/policies?status=nonsense", headers={"Accept-Language": "lo"})
    english = client.get("/api/v1/policies?status=nonsense")
    assert lao.status_code == english.status_code == 400
    assert lao.json["error"]["message"] == "ຕົວກອງບາງອັນບໍ່ຖືກຕ້ອງ"
    assert lao.json["error"]["title"] == "ບໍ່ເຂົ້າໃຈຄຳຮ້ອງຂໍ"
    assert english.json["error"]["message"] == "Some filters are not valid"
    problem = lao.json["error"]["errors"]["status"]
    assert "nonsense" in problem and "in_force" in problem  # the codes stay as they are
    missing = client.get("/api/v1/policies/no-such-policy", headers={"Accept-Language": "lo"})
    assert missing.status_code == 404
    assert missing.json["error"]["message"] == "ບໍ່ມີນະໂຍບາຍທີ່ມີລະຫັດ 'no-such-policy'."


def test_the_api_ignores_the_language_cookie_and_keeps_english_codes(client):
    client.set_cookie("lang", "lo")
    response = client.get(f"/api/v1/policies/{POLICY}")
    assert response.json["legal_status"] in ("in_force", "adopted")
    error = client.get("/api/v1/policies?status=nonsense")
    assert error.json["error"]["message"] == "Some filters are not valid"


def test_api_auth_errors_are_translated_too(client):
    response = client.post("/api/v1/policies", json={}, headers={"Accept-Language": "lo",
                                                                 "Authorization": "Bearer nonsense"})
    assert response.status_code == 401
    assert response.json["error"]["message"] == "ໂທເຄັນ API ບໍ່ຖືກຕ້ອງ, ຖືກຖອນສິດແລ້ວ, ຫຼື ບັນຊີຂອງມັນຖືກປິດ."
