"""Policies side by side: the comparison page in English and Lao, its address as its whole state, bad or odd keys,
its CSV download, and choosing policies from the list, search results and policy pages without JavaScript."""
from __future__ import annotations

import csv
import html as html_lib
import io
import re
from urllib.parse import parse_qs, urlsplit

import pytest

from tests.factories import load, policy_record
from tracker.services import editing

THAILAND = "th-ev35-incentives-2024-2027"
INDONESIA = "id-permenperin-6-2023"
VIET_NAM = "vn-decree-10-2022-registration-fee"
LAO = "la-gov-resolution-08-2021-ev-policy"
LAO_TAX = "la-ev-tax-package-2022"
LAO_TITLE = "ມະຕິວ່າດ້ວຍການຮັບຮອງ ແລະປະກາດໃຊ້ນະໂຍບາຍການນຳໃຊ້ລົດໄຟຟ້າຢູ່ ສປປ ລາວ"
FISCAL = [THAILAND, INDONESIA, VIET_NAM]


def compare_url(*keys: str) -> str:
    return "/compare/policies?keys=" + ",".join(keys)


def text_of(html: str) -> str:
    """What a reader sees, tags removed, Lao word marks gone, spaces folded."""
    return html_lib.unescape(re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html.replace("<wbr>", ""))))


def squeezed(text: str) -> str:
    """Text without spaces: Lao words kept whole by the page come out of text_of with spaces between them."""
    return re.sub(r"\s+", "", text)


def page(client, url: str, language: str = "en", status: int = 200) -> str:
    client.set_cookie("lang", language)
    response = client.get(url)
    assert response.status_code == status, (url, response.status_code, response.get_data(as_text=True)[:500])
    html = response.get_data(as_text=True)
    assert f'<html lang="{language}">' in html
    return html


def links(html: str) -> dict[str, str]:
    """Visible link text -> address (the last of any that repeat)."""
    return {text_of(inner).strip(): html_lib.unescape(href)
            for href, inner in re.findall(r'<a [^>]*?href="([^"]+)"[^>]*>(.*?)</a>', html, re.S)}


def keys_in(url: str, name: str = "keys") -> list[str]:
    values = parse_qs(urlsplit(url).query).get(name, [])
    return values[0].split(",") if values else []


def table_rows(html: str) -> dict[str, tuple[str, list[str]]]:
    """The comparison table's rows: name -> (row header text, the text of each policy's cell)."""
    body = html.split('<table class="comparison">', 1)[1].split("</table>", 1)[0]
    rows = {}
    for name, row in re.findall(r'<tr class="(?:differs|same)" id="row-([a-z_]+)">(.*?)</tr>', body, re.S):
        header = re.search(r'<th scope="row">(.*?)</th>', row, re.S)
        assert header, row
        cells = [text_of(cell).strip() for cell in re.findall(r"<td>(.*?)</td>", row, re.S)]
        rows[name] = (text_of(header.group(1)).strip(), cells)
    return rows


def column_headers(html: str) -> list[str]:
    head = html.split('<table class="comparison">', 1)[1].split("</thead>", 1)[0]
    cells = re.findall(r'<th scope="col" class="compare-policy">(.*?)</th>', head, re.S)
    return [text_of(cell).strip() for cell in cells]


# ---------------------------------------------------------------------------------------------------
# The comparison


def test_three_fiscal_incentives_side_by_side_aligned_row_by_row(client):
    html = page(client, compare_url(*FISCAL))
    headers = column_headers(html)
    assert [header.split(" Remove")[0] for header in headers] == [
        "EV 3.5 incentive package (2024–2027)",
        "Minister of Industry Regulation No. 6 of 2023: government assistance for purchasing two-wheeled "
        "battery-electric vehicles",
        "Decree 10/2022/ND-CP on registration fees: exemption and reduction for battery-electric cars"]
    rows = table_rows(html)
    assert list(rows) == ["country", "instrument", "legal_status", "status_since", "reference", "issuer",
                          "other_bodies", "validity", "vehicle_classes", "topics", "measures", "relations",
                          "sources", "forum_links"]
    assert rows["country"] == ("Country Differs", ["Thailand", "Indonesia", "Viet Nam"])
    # All three are in force: the row says they agree, in words.
    assert rows["legal_status"] == ("Legal status Same", ["In force", "In force", "In force"])
    assert rows["status_since"][1] == ["1 January 2024", "20 March 2023", "1 March 2022"]
    assert rows["validity"][1][0] == "Valid from 1 January 2024 Valid until 31 January 2028"
    assert rows["validity"][1][2] == "Valid from 1 March 2022 Valid until No end date stated"
    assert rows["issuer"][1][0] == "Cabinet of Thailand"
    assert all("Fiscal incentives" in cell for cell in rows["topics"][1])
    assert rows["topics"][0] == "Topics Differs"
    assert rows["measures"][1][0].startswith("Successor package to EV 3.0. Electric-car subsidies")
    assert "Implements Thailand EV roadmap ('30@30')" in rows["relations"][1][0]
    assert "Amended by Decree 51/2025" in rows["relations"][1][2]
    assert rows["sources"][1][2].startswith(
        "[Local carmaker wants to extend exemption of registration fees for EVs] News")
    # A real table: a header cell for each column and for each row.
    assert html.count('<th scope="col"') == 4 and html.count('<th scope="row">') == len(rows)
    assert 'class="table-scroll compare-scroll" role="region" aria-labelledby="compare-caption" tabindex="0"' in html
    assert "They differ on 12 fields of 14, marked “Differs”." in text_of(html)


def test_the_policies_differ_where_their_values_differ_whatever_the_language(client):
    html = page(client, compare_url(THAILAND, VIET_NAM))
    differing = {name for name, (header, _) in table_rows(html).items() if header.endswith("Differs")}
    assert "legal_status" not in differing and {"country", "instrument", "status_since", "topics"} <= differing
    lao = page(client, compare_url(THAILAND, VIET_NAM), "lo")
    assert {name for name, (header, _) in table_rows(lao).items() if header.endswith("ແຕກຕ່າງກັນ")} == differing


def test_the_comparison_reads_in_lao_with_lao_names_and_dates(client):
    html = page(client, compare_url(LAO, THAILAND), "lo")
    text = text_of(html)
    assert "ປຽບທຽບນະໂຍບາຍ" in text
    headers = column_headers(html)
    assert squeezed(headers[0]).startswith(squeezed(LAO_TITLE))
    # A record without a Lao title shows its English one, marked as such.
    assert headers[1].startswith("EV 3.5 incentive package (2024–2027) (English)")
    rows = table_rows(html)
    assert [squeezed(cell) for cell in rows["country"][1]] == ["ສປປລາວ", "ໄທ"]
    assert [squeezed(cell) for cell in rows["legal_status"][1]] == ["ຮັບຮອງແລ້ວ", "ມີຜົນສັກສິດ"]
    assert rows["status_since"][1] == ["4 ຕຸລາ 2021", "1 ມັງກອນ 2024"]
    assert squeezed(rows["issuer"][1][0]) == "ລັດຖະບານສປປລາວ"
    assert squeezed(rows["topics"][1][1]).startswith("ມາດຕະການຈູງໃຈດ້ານພາສີອາກອນ")
    assert rows["country"][0] == "ປະເທດ ແຕກຕ່າງກັນ"
    assert "ດາວໂຫຼດການປຽບທຽບນີ້ (CSV)" in text
    # Lao words are kept whole across line ends in the narrow cells.
    assert '<span class="lw">' in html.split('id="row-topics"', 1)[1].split("</tr>", 1)[0]


def test_each_policy_can_be_removed_and_the_address_is_the_whole_state(client):
    html = page(client, compare_url(*FISCAL))
    removals = [html_lib.unescape(href) for href in re.findall(
        r'<span class="compare-remove-col"><a href="([^"]+)">', html)]
    assert [keys_in(url) for url in removals] == [[INDONESIA, VIET_NAM], [THAILAND, VIET_NAM], [THAILAND, INDONESIA]]
    # The same address gives the same comparison to anyone, signed in or not.
    again = client.get(removals[0])
    assert column_headers(again.get_data(as_text=True))[0].startswith("Minister of Industry Regulation No. 6")
    add = links(html)["Add another policy"]
    assert urlsplit(add).path == "/policies" and keys_in(add, "compare") == FISCAL


def test_an_unknown_key_is_named_on_a_404_page_with_a_way_on(client):
    html = page(client, compare_url(THAILAND, "no-such-policy", VIET_NAM), status=404)
    text = text_of(html)
    assert "This key names no published policy: no-such-policy" in text
    assert keys_in(links(html)["Compare the others"]) == [THAILAND, VIET_NAM]
    lao = text_of(page(client, compare_url(THAILAND, "no-such-policy"), "lo", status=404))
    assert "ບໍ່ມີນະໂຍບາຍທີ່ເຜີຍແຜ່ແລ້ວທີ່ມີລະຫັດນີ້: no-such-policy" in lao


def test_an_unpublished_policy_is_not_compared_even_for_staff(client, session, login_as):
    load(session, policies=[policy_record("compare-draft", editorial_state="draft")])
    session.commit()
    assert "compare-draft" in text_of(page(client, compare_url(THAILAND, "compare-draft"), status=404))
    login_as("reviewer")
    page(client, compare_url(THAILAND, "compare-draft"), status=404)


def test_a_key_given_twice_or_with_spaces_leads_to_the_address_with_each_once(client):
    response = client.get("/compare/policies?keys=" + f"{THAILAND},%20{VIET_NAM},{THAILAND}")
    assert response.status_code == 302
    assert response.headers["Location"] == compare_url(THAILAND, VIET_NAM)
    response = client.get(f"/compare/policies?keys={THAILAND}&keys={VIET_NAM}")
    assert response.headers["Location"] == compare_url(THAILAND, VIET_NAM)
    # The same policy twice is one policy: the page invites to choose another.
    response = client.get(compare_url(THAILAND, THAILAND), follow_redirects=True)
    assert response.status_code == 200 and "Choose two to 4 policies" in text_of(response.get_data(as_text=True))


@pytest.mark.parametrize("language", ["en", "lo"])
def test_one_policy_or_none_is_a_friendly_page_inviting_to_choose_more(client, language):
    html = page(client, compare_url(THAILAND), language)
    assert '<table class="comparison">' not in html
    choose = [href for href in re.findall(r'<a class="button" href="([^"]+)"', html)]
    assert [keys_in(html_lib.unescape(href), "compare") for href in choose] == [[THAILAND]]
    text = text_of(html)
    assert ("Choose two to 4 policies" in text) if language == "en" else ("ເລືອກນະໂຍບາຍ" in text)
    assert "EV 3.5 incentive package" in text
    empty = page(client, "/compare/policies", language)
    assert '<table class="comparison">' not in empty and "/policies" in empty


@pytest.mark.parametrize("language", ["en", "lo"])
def test_five_policies_are_refused_with_a_400_page_that_removes_any_one(client, language):
    five = [*FISCAL, LAO, LAO_TAX]
    html = page(client, compare_url(*five), language, status=400)
    text = text_of(html)
    if language == "en":
        assert "At most 4 policies can be compared side by side; this comparison names 5." in text
    else:
        assert "ປຽບທຽບໄດ້ບໍ່ເກີນ 4 ນະໂຍບາຍ" in text
    listed = re.search(r'<ul class="compare-keys">(.*?)</ul>', html, re.S)
    assert listed
    removals = [html_lib.unescape(href) for href in re.findall(r'<a href="([^"]+)"', listed.group(1))]
    assert sorted(len(keys_in(url)) for url in removals) == [4] * 5
    assert client.get(removals[0]).status_code == 200


def test_an_old_key_leads_to_the_comparison_at_the_current_key(client, session, users):
    load(session, policies=[policy_record("compare-old-name")])
    session.commit()
    editing.change_key(session, "policy", "compare-old-name", "compare-new-name", users["reviewer"])
    session.commit()
    response = client.get(compare_url(THAILAND, "compare-old-name"))
    assert response.status_code == 302
    assert response.headers["Location"] == compare_url(THAILAND, "compare-new-name")
    html = client.get(response.headers["Location"]).get_data(as_text=True)
    assert column_headers(html)[1].startswith("Test policy compare-old-name")
    # The old and the current key of one policy are one policy.
    response = client.get(compare_url("compare-old-name", "compare-new-name", THAILAND))
    assert response.headers["Location"] == compare_url("compare-new-name", THAILAND)


# ---------------------------------------------------------------------------------------------------
# The CSV download


def test_the_comparison_downloads_as_csv_with_stable_rows_and_columns(client):
    html = page(client, compare_url(LAO, THAILAND), "lo")
    url = links(html)["ດາວໂຫຼດການປຽບທຽບນີ້ (CSV)"]
    response = client.get(url)
    assert response.status_code == 200 and response.mimetype == "text/csv"
    assert response.headers["Content-Disposition"].startswith('attachment; filename="policy-comparison-')
    body = response.get_data(as_text=True)
    assert body.startswith("\ufeff") and "\r\n" in body
    table = list(csv.reader(io.StringIO(body.removeprefix("\ufeff"))))
    assert table[0] == ["field", "policy_1", "policy_2", "differs"]
    rows = {row[0]: row[1:] for row in table[1:]}
    assert list(rows)[:5] == ["key", "url", "title_en", "title_lo", "country_code"]
    assert rows["key"] == [LAO, THAILAND, "true"]
    assert rows["title_lo"] == [LAO_TITLE, "", "true"]
    assert rows["country_lo"] == ["ສປປ ລາວ", "ໄທ", "true"]
    assert rows["legal_status"] == ["adopted", "in_force", "true"]
    assert rows["status_since"] == ["2021-10-04", "2024-01-01", "true"]
    assert rows["url"][0] == f"http://localhost/policies/{LAO}"
    same = client.get(f"/compare/policies.csv?keys={INDONESIA},{THAILAND}").get_data(as_text=True)
    assert "\r\nlegal_status,in_force,in_force,false\r\n" in same


def test_the_csv_download_refuses_what_the_page_refuses(client):
    assert client.get(f"/compare/policies.csv?keys={THAILAND},no-such-policy").status_code == 404
    assert client.get(f"/compare/policies.csv?keys={THAILAND}").status_code == 400
    assert client.get("/compare/policies.csv?keys=" + ",".join([*FISCAL, LAO, LAO_TAX])).status_code == 400


# ---------------------------------------------------------------------------------------------------
# Choosing: the list, search results and policy pages, without JavaScript


def tray_text(html: str) -> str:
    match = re.search(r'<aside class="compare-tray".*?</aside>', html, re.S)
    return text_of(match.group(0)).strip() if match else ""


def add_link(html: str, key: str) -> str:
    match = re.search(rf'<a class="compare-add[^"]*" id="compare-{key}" href="([^"]+)"', html)
    assert match, f"no add link for {key}"
    return html_lib.unescape(match.group(1))


def test_a_reader_adds_policies_from_the_list_and_the_tray_counts_them(client):
    html = page(client, "/policies?topic=fiscal_incentives&country=TH")
    assert tray_text(html) == ""
    first = add_link(html, THAILAND)
    assert urlsplit(first).path == "/policies" and keys_in(first, "compare") == [THAILAND]
    assert parse_qs(urlsplit(first).query)["topic"] == ["fiscal_incentives"]
    assert urlsplit(first).fragment == f"compare-{THAILAND}"
    html = page(client, first.split("#")[0])
    assert "Comparing 1 of 4" in tray_text(html) and "Choose at least one more policy" in tray_text(html)
    assert "In the comparison" in html.split(f'id="compare-{THAILAND}"', 1)[1][:200]
    # The filters keep the choice: the form carries it along.
    assert f'<input type="hidden" name="compare" value="{THAILAND}">' in html
    html = page(client, f"/policies?topic=fiscal_incentives&country=VN&compare={THAILAND}")
    second = add_link(html, VIET_NAM)
    html = page(client, second.split("#")[0])
    tray = tray_text(html)
    assert tray.startswith("Comparing 2 of 4 Compare now")
    compare = links(html)["Compare now"]
    assert compare == compare_url(THAILAND, VIET_NAM)
    assert client.get(compare).status_code == 200
    lao = page(client, second.split("#")[0], "lo")
    assert "ກຳລັງປຽບທຽບ 2 ຈາກ 4" in tray_text(lao)


def test_a_fifth_choice_is_refused_with_a_clear_message(client):
    four = [*FISCAL, LAO]
    html = page(client, "/policies?country=LA&compare=" + ",".join(four))
    assert "Comparing 4 of 4" in tray_text(html)
    fifth = add_link(html, LAO_TAX)
    html = page(client, fifth.split("#")[0])
    tray = tray_text(html)
    assert "At most 4 policies can be compared side by side. Remove one from the comparison to add another." in tray
    assert "Comparing 4 of 4" in tray
    assert keys_in(links(html)["Compare now"]) == four
    lao = tray_text(page(client, fifth.split("#")[0], "lo"))
    assert "ປຽບທຽບໄດ້ບໍ່ເກີນ 4 ນະໂຍບາຍ" in lao


def test_the_policy_page_adds_itself_and_keeps_the_choice_in_its_links(client):
    html = page(client, f"/policies/{VIET_NAM}?compare={THAILAND}")
    assert "Comparing 1 of 4" in tray_text(html)
    added = add_link(html, VIET_NAM)
    assert urlsplit(added).path == f"/policies/{VIET_NAM}" and keys_in(added, "compare") == [THAILAND, VIET_NAM]
    html = page(client, added.split("#")[0])
    assert "Comparing 2 of 4" in tray_text(html)
    assert keys_in(links(html)["Compare now"]) == [THAILAND, VIET_NAM]
    # Back to the list with the choice.
    assert keys_in(links(html)["Policies"], "compare") == [THAILAND, VIET_NAM]
    # Without a choice, the page offers the button and no tray.
    plain = page(client, f"/policies/{VIET_NAM}")
    assert tray_text(plain) == "" and "Add to comparison" in text_of(plain)


def test_search_results_add_policies_and_keep_the_choice(client):
    html = page(client, f"/search?q=registration+fee&compare={THAILAND}")
    assert "Comparing 1 of 4" in tray_text(html)
    added = add_link(html, VIET_NAM)
    assert urlsplit(added).path == "/search" and keys_in(added, "compare") == [THAILAND, VIET_NAM]
    assert parse_qs(urlsplit(added).query)["q"] == ["registration fee"]
    html = page(client, added.split("#")[0])
    assert "Comparing 2 of 4" in tray_text(html)
    # A result's link carries the choice to the policy page, and the search box to the next search.
    assert f'href="/policies/{VIET_NAM}?compare={THAILAND},{VIET_NAM}"' in html
    assert f'<input type="hidden" name="compare" value="{THAILAND},{VIET_NAM}">' in html


def test_the_clear_link_empties_the_tray(client):
    html = page(client, f"/policies?country=TH&compare={THAILAND},{VIET_NAM}")
    cleared = links(html)["Clear the comparison"]
    assert "compare" not in parse_qs(urlsplit(cleared).query)
    assert parse_qs(urlsplit(cleared).query)["country"] == ["TH"]


@pytest.mark.parametrize("url", [f"/policies?country=TH&compare={THAILAND},{VIET_NAM}",
                                 f"/policies/{VIET_NAM}?compare={THAILAND},{VIET_NAM}"])
def test_a_page_with_the_tray_keeps_a_plain_title(client, url):
    html = page(client, url)
    title = re.search(r"<title>(.*?)</title>", html, re.S).group(1)
    assert "<" not in title and "Comparing" not in title, title
    assert "Comparing 2 of 4" in text_of(html)
