"""Citing a record: the citation on policy and event pages (English and Lao) and its BibTeX, RIS and CSL-JSON
files, read back as a reference manager would read them."""
from __future__ import annotations

import datetime as dt
import json
import re
from html import unescape

import pytest
from sqlalchemy import select

from tests.factories import event_record, load, policy_record
from tracker.models import Policy

POLICY = "la-gov-resolution-08-2021-ev-policy"
EVENT = "lao-ev-forum-2023"


def today_of(client) -> dt.date:
    """The reader's day of access as the app counts days (in Vientiane, or the suite's fixed TODAY)."""
    return dt.date.fromisoformat(client.application.config["TODAY"])
# The CSL-JSON variables an item of the tracker may carry (all declared by the CSL data schema).
CSL_VARIABLES = {"id", "type", "title", "original-title", "author", "issued", "container-title", "genre", "version",
                 "number", "URL", "accessed", "note"}
ODD_TITLE = "Tax & duty: 50% off {EV} #1 under_score ~ ^ $5 \\ and \"quotes\""


def long_date(day: dt.date) -> str:
    return f"{day:%B} {day.day}, {day.year}"


def bibtex_fields(text: str) -> tuple[str, str, dict[str, str]]:
    """(entry type, citation key, field -> value) of a single BibTeX entry; braced values may nest braces."""
    head = re.match(r"@(\w+)\{([^,\s]+),\n", text)
    assert head, text
    fields: dict[str, str] = {}
    for match in re.finditer(r"^  (\w+) = (.*),$", text, re.M):
        value = match.group(2)
        if value.startswith("{"):
            assert value.endswith("}") and braces_balance(value), (match.group(1), value)
            value = value[1:-1]
        fields[match.group(1)] = value
    assert text.endswith("}\n")
    return head.group(1), head.group(2), fields


def braces_balance(text: str) -> bool:
    """Whether every unescaped brace of ``text`` is closed, in order."""
    depth = 0
    for match in re.finditer(r"\\.|[{}]", text):
        if match.group() == "{":
            depth += 1
        elif match.group() == "}":
            depth -= 1
            if depth < 0:
                return False
    return depth == 0


def ris_tags(text: str) -> list[tuple[str, str]]:
    """The (tag, value) lines of a single RIS reference, checking the line format as it goes."""
    assert text.endswith("\r\n")
    lines = text[:-2].split("\r\n")
    assert all(re.fullmatch(r"[A-Z][A-Z0-9]  - .*", line) for line in lines), lines
    assert not any("\n" in line or "\r" in line for line in lines)
    tags = [(line[:2], line[6:]) for line in lines]
    assert tags[0] == ("TY", "ELEC") and tags[-1] == ("ER", "")
    return tags


def csl_items(text: str) -> list[dict]:
    items = json.loads(text)
    assert isinstance(items, list) and len(items) == 1
    item = items[0]
    assert {"id", "type"} <= set(item) and set(item) <= CSL_VARIABLES, set(item) - CSL_VARIABLES
    assert item["type"] == "webpage"
    for name in ("issued", "accessed"):
        if name in item:
            parts = item[name]["date-parts"]
            assert len(parts) == 1 and 1 <= len(parts[0]) <= 3 and all(isinstance(p, int) for p in parts[0])
    for author in item.get("author", []):
        assert set(author) == {"literal"} and author["literal"]
    return items


def download(client, path: str, extension: str):
    response = client.get(f"{path}/cite.{extension}")
    assert response.status_code == 200, response.get_data(as_text=True)[:300]
    return response


def citation_paragraphs(html: str) -> list[str]:
    return re.findall(r'<p class="citation" lang="en">(.*?)</p>', html, re.S)


def text_of(fragment: str) -> str:
    return unescape(re.sub(r"<[^>]+>", "", fragment))


# ---------------------------------------------------------------------------------------------------
# The three files


def test_bibtex_of_a_policy_names_issuer_title_dates_address_and_tracker(client, session):
    policy = session.scalar(select(Policy).where(Policy.key == POLICY))
    response = download(client, f"/policies/{POLICY}", "bib")
    assert response.mimetype == "application/x-bibtex"
    assert response.mimetype_params.get("charset") == "utf-8"
    assert response.headers["Content-Disposition"] == f'attachment; filename="{POLICY}.bib"'
    entry_type, key, fields = bibtex_fields(response.get_data(as_text=True))
    assert (entry_type, key) == ("misc", f"policy:{POLICY}")
    # The corporate author and the title are braced: no style turns them into initials or lower case.
    assert fields["author"] == "{Government of the Lao PDR}"
    assert fields["title"] == "{" + policy.title_en + "}"
    assert (fields["year"], fields["month"], fields["date"]) == ("2021", "oct", "2021-10-04")
    assert fields["url"] == f"http://localhost/policies/{POLICY}"
    assert fields["urldate"] == today_of(client).isoformat()
    assert fields["howpublished"] == "EV Policy Tracker"
    assert fields["version"] == str(policy.version)
    updated = policy.updated_at.astimezone(dt.timezone(dt.timedelta(hours=7))).date().isoformat()
    assert f"Lao title: {policy.title_lo}" in fields["note"]
    assert f"version {policy.version}, last updated {updated}" in fields["note"]
    assert "Resolution No. 08/ລບ" in fields["note"]


def test_ris_of_a_policy_is_one_reference_in_the_line_format(client, session):
    policy = session.scalar(select(Policy).where(Policy.key == POLICY))
    response = download(client, f"/policies/{POLICY}", "ris")
    assert response.mimetype == "application/x-research-info-systems"
    assert response.headers["Content-Disposition"] == f'attachment; filename="{POLICY}.ris"'
    tags = ris_tags(response.get_data(as_text=True))
    values = dict(tags)
    assert values["AU"] == "Government of the Lao PDR"
    assert values["TI"] == policy.title_en
    assert (values["PY"], values["DA"]) == ("2021", "2021/10/04/")
    assert values["UR"] == f"http://localhost/policies/{POLICY}"
    assert values["Y2"] == today_of(client).strftime("%Y/%m/%d/")
    assert values["T2"] == values["PB"] == "EV Policy Tracker"
    notes = [value for tag, value in tags if tag == "N1"]
    assert f"Lao title: {policy.title_lo}" in notes
    assert any(note.startswith("Decision record, version ") for note in notes)
    assert [tag for tag, _ in tags].count("TY") == 1 and [tag for tag, _ in tags].count("ER") == 1


def test_csl_json_of_a_policy_has_the_fields_reference_managers_read(client, session):
    policy = session.scalar(select(Policy).where(Policy.key == POLICY))
    response = download(client, f"/policies/{POLICY}", "json")
    assert response.mimetype == "application/vnd.citationstyles.csl+json"
    assert response.headers["Content-Disposition"] == f'attachment; filename="{POLICY}.json"'
    [item] = csl_items(response.get_data(as_text=True))
    assert item["id"] == f"policy:{POLICY}"
    assert item["title"] == policy.title_en and item["original-title"] == policy.title_lo
    assert item["author"] == [{"literal": "Government of the Lao PDR"}]
    assert item["issued"] == {"date-parts": [[2021, 10, 4]]}
    accessed = today_of(client)
    assert item["accessed"] == {"date-parts": [[accessed.year, accessed.month, accessed.day]]}
    assert item["URL"] == f"http://localhost/policies/{POLICY}"
    assert item["container-title"] == "EV Policy Tracker"
    assert item["version"] == str(policy.version)
    assert "last updated" in item["note"]


def test_an_event_is_cited_with_its_organisers_as_authors(client, session):
    load(session, events=[event_record("cite-forum", organisers=["la-mem", "gggi"], starts_on="2024-05-14",
                                       name_en="Forum on charging", name_lo="ກອງປະຊຸມ ສາກໄຟ")])
    session.commit()
    _, key, fields = bibtex_fields(download(client, "/events/cite-forum", "bib").get_data(as_text=True))
    assert key == "event:cite-forum"
    assert fields["author"] == "{Ministry of Energy and Mines} and {Global Green Growth Institute (GGGI)}"
    assert (fields["year"], fields["month"], fields["date"]) == ("2024", "may", "2024-05-14")
    assert fields["url"] == "http://localhost/events/cite-forum"
    values = ris_tags(download(client, "/events/cite-forum", "ris").get_data(as_text=True))
    assert [value for tag, value in values if tag == "AU"] == ["Ministry of Energy and Mines",
                                                               "Global Green Growth Institute (GGGI)"]
    assert dict(values)["M3"] == "Forum"
    [item] = csl_items(download(client, "/events/cite-forum", "json").get_data(as_text=True))
    assert item["issued"] == {"date-parts": [[2024, 5, 14]]} and item["genre"] == "Forum record"

    html = client.get("/events/cite-forum").get_data(as_text=True)
    apa, chicago = (text_of(paragraph) for paragraph in citation_paragraphs(html))
    assert apa.startswith("Ministry of Energy and Mines, & Global Green Growth Institute (GGGI). (2024, May 14). "
                          "Forum on charging [ກອງປະຊຸມ ສາກໄຟ] (version ")
    assert chicago.startswith("Ministry of Energy and Mines and Global Green Growth Institute (GGGI). 2024. "
                              "“Forum on charging” [ກອງປະຊຸມ ສາກໄຟ]. EV Policy Tracker. Version ")


def test_without_issuer_the_government_is_the_author_and_without_date_it_says_so(client, session):
    load(session, policies=[policy_record("cite-no-issuer", country="KH", issuer=None, valid_from=None,
                                          status="proposed", title_lo=None, reference=None,
                                          status_history=[{"status": "proposed", "date": None}])])
    session.commit()
    _, _, fields = bibtex_fields(download(client, "/policies/cite-no-issuer", "bib").get_data(as_text=True))
    assert fields["author"] == "{Government of Cambodia}"
    assert not {"year", "month", "date"} & set(fields)
    assert "Lao title" not in fields["note"]
    [item] = csl_items(download(client, "/policies/cite-no-issuer", "json").get_data(as_text=True))
    assert "issued" not in item and "original-title" not in item and "number" not in item
    apa, chicago = (text_of(p) for p in citation_paragraphs(client.get("/policies/cite-no-issuer").get_data(
        as_text=True)))
    assert apa.startswith("Government of Cambodia. (n.d.). Test policy cite-no-issuer (version ")
    assert chicago.startswith("Government of Cambodia. n.d. “Test policy cite-no-issuer.” EV Policy Tracker.")


def test_a_lao_only_record_is_cited_by_its_lao_title(client, session):
    lao = "ດຳລັດ ວ່າດ້ວຍ ລົດໄຟຟ້າ"
    load(session, policies=[policy_record("cite-lao-only", title_en=None, title_lo=lao)])
    session.commit()
    _, _, fields = bibtex_fields(download(client, "/policies/cite-lao-only", "bib").get_data(as_text=True))
    assert fields["title"] == "{" + lao + "}" and "Lao title" not in fields["note"]
    assert dict(ris_tags(download(client, "/policies/cite-lao-only", "ris").get_data(as_text=True)))["TI"] == lao
    [item] = csl_items(download(client, "/policies/cite-lao-only", "json").get_data(as_text=True))
    assert item["title"] == lao and "original-title" not in item
    html = client.get("/policies/cite-lao-only").get_data(as_text=True)
    # The Lao title is marked as Lao inside the English citation, in italics for APA.
    assert re.search(r'<i lang="lo">.*ດຳລັດ.*</i>', citation_paragraphs(html)[0])


def test_special_characters_are_escaped_for_each_format(client, session):
    load(session, policies=[policy_record("cite-odd", title_en=ODD_TITLE, reference="No. 5/2024 {draft} 100%")])
    session.commit()
    text = download(client, "/policies/cite-odd", "bib").get_data(as_text=True)
    _, _, fields = bibtex_fields(text)
    assert fields["title"] == ("{Tax \\& duty: 50\\% off \\{EV\\} \\#1 under\\_score \\textasciitilde{} "
                               "\\textasciicircum{} \\$5 \\textbackslash{} and \"quotes\"}")
    assert "No. 5/2024 \\{draft\\} 100\\%" in fields["note"]
    assert braces_balance(text)
    assert dict(ris_tags(download(client, "/policies/cite-odd", "ris").get_data(as_text=True)))["TI"] == ODD_TITLE
    [item] = csl_items(download(client, "/policies/cite-odd", "json").get_data(as_text=True))
    assert item["title"] == ODD_TITLE and item["number"] == "No. 5/2024 {draft} 100%"
    html = client.get("/policies/cite-odd").get_data(as_text=True)
    assert "{EV} #1" in unescape(citation_paragraphs(html)[0]) and "<EV" not in html
    assert "&amp; duty" in citation_paragraphs(html)[0] and "&#34;quotes&#34;" in citation_paragraphs(html)[0]


# ---------------------------------------------------------------------------------------------------
# The section on the pages, in both languages


@pytest.mark.parametrize("language", ["en", "lo"])
def test_the_policy_page_cites_the_record_in_apa_and_chicago(client, session, language):
    policy = session.scalar(select(Policy).where(Policy.key == POLICY))
    client.set_cookie("lang", language)
    html = client.get(f"/policies/{POLICY}").get_data(as_text=True)
    assert f'<html lang="{language}">' in html
    apa, chicago = citation_paragraphs(html)
    # The citation is English on the Lao page too, marked so; the Lao title in it is marked as Lao.
    assert f"<i>{policy.title_en}</i>" in apa and '<span lang="lo">' in apa
    assert text_of(apa).startswith(f"Government of the Lao PDR. (2021, October 4). {policy.title_en} "
                                   f"[{policy.title_lo}] (Resolution No. 08/ລບ")
    assert text_of(apa).endswith(f"EV Policy Tracker. Retrieved {long_date(today_of(client))}, from "
                                 f"http://localhost/policies/{POLICY}")
    assert f"version {policy.version}, last updated " in text_of(apa)
    assert text_of(chicago).startswith(f"Government of the Lao PDR. 2021. “{policy.title_en}” "
                                       f"[{policy.title_lo}]. Resolution No. 08/ລບ")
    assert text_of(chicago).endswith(f"Accessed {long_date(today_of(client))}. http://localhost/policies/{POLICY}.")
    for extension in ("bib", "ris", "json"):
        assert f'href="/policies/{POLICY}/cite.{extension}" download' in html


@pytest.mark.parametrize("language", ["en", "lo"])
def test_the_event_page_cites_the_record_and_the_files_do_not_depend_on_the_language(client, language):
    client.set_cookie("lang", "en")
    english = {extension: download(client, f"/events/{EVENT}", extension).get_data() for extension in
               ("bib", "ris", "json")}
    client.set_cookie("lang", language)
    html = client.get(f"/events/{EVENT}").get_data(as_text=True)
    apa, chicago = (text_of(paragraph) for paragraph in citation_paragraphs(html))
    assert apa.startswith("Ministry of Energy and Mines. (2023, July 7). 2nd Lao EV Forum [")
    assert chicago.startswith("Ministry of Energy and Mines. 2023. “2nd Lao EV Forum” [")
    for extension, body in english.items():
        assert download(client, f"/events/{EVENT}", extension).get_data() == body


# ---------------------------------------------------------------------------------------------------
# Who may cite what


@pytest.mark.parametrize("kind", ["policy", "event"])
def test_an_unpublished_record_is_cited_to_staff_only(client, session, login_as, kind):
    if kind == "policy":
        load(session, policies=[policy_record("cite-draft", editorial_state="draft")])
        path = "/policies/cite-draft"
    else:
        load(session, events=[event_record("cite-draft", editorial_state="draft")])
        path = "/events/cite-draft"
    session.commit()
    for extension in ("bib", "ris", "json"):
        assert client.get(f"{path}/cite.{extension}").status_code == 404
    assert client.get(path).status_code == 404
    login_as("partner")
    assert client.get(f"{path}/cite.bib").status_code == 404
    login_as("editor")
    response = download(client, path, "bib")
    assert bibtex_fields(response.get_data(as_text=True))[1] == f"{kind}:cite-draft"
    assert "Cite this record" in client.get(path).get_data(as_text=True)


def test_an_unknown_format_is_not_found(client):
    assert client.get(f"/policies/{POLICY}/cite.xml").status_code == 404
    assert client.get("/policies/no-such-policy/cite.bib").status_code == 404
