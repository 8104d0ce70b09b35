"""Every page in both languages, for every role: translated, complete, and with no template code left."""
from __future__ import annotations

import re
from html import unescape
from html.parser import HTMLParser
from pathlib import Path

import pytest
from babel.messages.pofile import read_po

from tests.integration.test_access_control import ROLES, ROUTES

PO = Path(__file__).resolve().parents[2] / "tracker" / "translations" / "lo" / "LC_MESSAGES" / "messages.po"
PAGES = sorted((endpoint, row[1]) for endpoint, row in ROUTES.items()
               if row[0] == "GET" and not row[1].startswith(("/api/", "/static/", "/language/")))


def english_messages() -> set[str]:
    """The catalogue's English sentences and labels without placeholders: none may reach a Lao page as is."""
    with PO.open("rb") as handle:
        catalogue = read_po(handle)
    return {message.id for message in catalogue
            if isinstance(message.id, str) and message.id and "%(" not in message.id
            and message.string != message.id and re.search(r"[A-Za-z]{3}", message.id)}


ENGLISH = english_messages()


class _Visible(HTMLParser):
    """The text a reader sees, leaving out code and passages marked as English (records' fallbacks)."""

    VERBATIM = {"script", "style", "code", "pre", "textarea"}

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.texts: list[str] = []
        self._stack: list[tuple[str, bool]] = []

    def handle_starttag(self, tag, attrs):
        values = dict(attrs)
        hidden = tag in self.VERBATIM or values.get("lang") == "en"
        if tag not in ("br", "img", "input", "meta", "link", "hr", "source", "wbr"):
            self._stack.append((tag, hidden))
        for name in ("aria-label", "placeholder", "title", "alt"):
            if values.get(name) and not self._hidden() and not hidden:
                self.texts.append(values[name])

    def handle_endtag(self, tag):
        while self._stack:
            name, _hidden = self._stack.pop()
            if name == tag:
                break

    def _hidden(self) -> bool:
        return any(hidden for _tag, hidden in self._stack)

    def handle_data(self, data):
        if data.strip() and not self._hidden():
            self.texts.append(" ".join(data.split()))


def visible_texts(html: str) -> list[str]:
    parser = _Visible()
    parser.feed(html)
    return parser.texts


def _get(client, url: str, language: str):
    client.set_cookie("lang", language)
    return client.get(url)


@pytest.mark.slow
@pytest.mark.parametrize("language", ["en", "lo"])
@pytest.mark.parametrize("role", ROLES, ids=lambda role: role or "anonymous")
def test_every_page_renders_in_both_languages_for_every_role(client, login_as, role, language):
    login_as(role)
    rendered = 0
    for endpoint, url in PAGES:
        response = _get(client, url, language)
        if response.status_code != 200 or response.mimetype != "text/html":
            response.close()  # a download streamed from a session of its own: let it go now
            continue
        rendered += 1
        html = response.get_data(as_text=True)
        assert f'<html lang="{language}">' in html, endpoint
        assert not re.search(r"\{\{|\{%|\{#|%\(\w+\)s", html), f"template code left in {endpoint}"
        if language == "lo":
            untranslated = sorted({text for text in visible_texts(html) if text in ENGLISH})
            assert untranslated == [], f"English interface text on the Lao page of {endpoint}"
            assert "ຄົ້ນຫາ" in html and "ໜ້າຫຼັກ" in html
        else:
            assert ">Search</button>" in html
    assert rendered >= 8


@pytest.mark.parametrize("language", ["en", "lo"])
def test_error_pages_come_in_the_readers_language(client, language):
    response = _get(client, "/policies/no-such-policy", language)
    assert response.status_code == 404
    html = unescape(response.get_data(as_text=True))
    if language == "lo":
        assert "ບໍ່ພົບ" in html and "ບໍ່ມີນະໂຍບາຍທີ່ມີລະຫັດ 'no-such-policy'." in html
        assert [text for text in visible_texts(html) if text in ENGLISH] == []
    else:
        assert "There is no policy with the key 'no-such-policy'." in html
    assert "ບໍ່ພົບ" in _get(client, "/no/such/page", "lo").get_data(as_text=True)


def test_the_edit_form_is_in_lao_with_both_languages_side_by_side(client, login_as):
    login_as("reviewer")
    html = _get(client, "/policies/la-gov-resolution-08-2021-ev-policy/edit", "lo").get_data(as_text=True)
    # The English and Lao titles share one row (a pair), each labelled with its language.
    pair = re.search(r'<div class="pair">\s*<div class="field[^"]*">\s*<label for="title_en">([^<]*)</label>'
                     r'((?:(?!<div class="pair">).)*?)<label for="title_lo">([^<]*)</label>', html, re.S)
    assert pair, "the English and Lao titles share one row"
    assert (pair.group(1), pair.group(3)) == ("ຊື່ເອກະສານ (ພາສາອັງກິດ)", "ຊື່ເອກະສານ (ພາສາລາວ)")
    assert re.search(r'<input[^>]*id="title_lo"[^>]*lang="lo"|<input[^>]*lang="lo"[^>]*id="title_lo"', html)
    assert "ບົດສະຫຼຸບ (ພາສາລາວ)" in html and "ບັນທຶກການປ່ຽນແປງ" in html


def test_form_validation_messages_are_in_lao(client):
    client.set_cookie("lang", "lo")
    html = client.get("/login").get_data(as_text=True)
    token = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', html).group(1)
    response = client.post("/login", data={"csrf_token": token, "email": "", "password": ""})
    assert response.status_code == 400
    page = response.get_data(as_text=True)
    assert "ຕ້ອງປ້ອນຂໍ້ມູນໃນຊ່ອງນີ້." in page and "This field is required." not in page
    # A form that lost its CSRF token says so in Lao too.
    expired = client.post("/login", data={"email": "a@example.org", "password": "x"}).get_data(as_text=True)
    assert "ບໍ່ມີໂທເຄັນ CSRF." in expired and "The CSRF token is missing." not in expired


def test_flash_messages_are_in_the_readers_language(client, login_as):
    login_as("editor")
    client.set_cookie("lang", "lo")
    html = client.get("/").get_data(as_text=True)
    token = re.search(r'name="csrf_token" value="([^"]+)"', html).group(1)
    response = client.post("/logout", data={"csrf_token": token}, follow_redirects=True)
    assert "ທ່ານໄດ້ອອກຈາກລະບົບແລ້ວ." in response.get_data(as_text=True)


def test_a_conflict_the_confirmation_and_the_history_are_in_lao(client, session, login_as, users):
    from sqlalchemy import update

    from tests.factories import load, policy_record
    from tests.integration.test_editing_pages import form_of, submit
    from tracker.models import Policy
    from tracker.services import editing

    load(session, policies=[policy_record("lao-stale", editorial_state="draft", summary_en="First.")])
    session.commit()
    client.set_cookie("lang", "lo")
    login_as("editor")
    _, data = form_of(client.get("/policies/lao-stale/edit"), css="record-form")
    editing.update_policy(session, "lao-stale", {"title_en": "Changed"}, users["reviewer"],
                          int(data["version"]))
    session.commit()

    response = submit(client, "/policies/lao-stale/edit", data, summary_en="Mine.")
    assert response.status_code == 409
    page = unescape(response.get_data(as_text=True))
    assert "ມີຄົນອື່ນປ່ຽນແປງບັນທຶກນີ້ ໃນຂະນະທີ່ທ່ານກຳລັງແກ້ໄຂ" in page
    assert "ຊື່ເອກະສານ (ພາສາອັງກິດ): 'Test policy lao-stale' → 'Changed'" in page
    assert [text for text in visible_texts(page) if text in ENGLISH] == []

    history = unescape(client.get("/policies/lao-stale/history").get_data(as_text=True))
    words = " ".join(re.sub(r"<[^>]+>", " ", history).split())
    assert "ປະຫວັດການປ່ຽນແປງ" in words and "ເວລາອິນດູຈີນ" in words
    assert "ແກ້ໄຂແລ້ວ ໂດຍ Test reviewer" in words
    assert [text for text in visible_texts(history) if text in ENGLISH] == []

    # A move pressed on a page read before someone else's change asks for confirmation, in Lao.
    page = client.get("/policies/lao-stale")
    session.execute(update(Policy).where(Policy.key == "lao-stale").values(version=Policy.version + 1),
                    execution_options={"search_log_bypass": True})
    session.commit()
    _, move = form_of(page, action="/policies/lao-stale/editorial")
    response = submit(client, "/policies/lao-stale/editorial", move, state="in_review")
    assert response.status_code == 409
    confirm = unescape(response.get_data(as_text=True))
    assert "ສົ່ງໃຫ້ກວດທານ ບໍ?" in confirm and "ຍົກເລີກ" in confirm
    assert [text for text in visible_texts(confirm) if text in ENGLISH] == []


def test_the_status_and_forum_link_pages_are_in_lao(client, login_as):
    client.set_cookie("lang", "lo")
    login_as("editor")
    html = unescape(client.get("/policies/la-gov-resolution-08-2021-ev-policy/status").get_data(as_text=True))
    assert "ບັນທຶກການປ່ຽນສະຖານະ" in html and "ສະຖານະທາງກົດໝາຍໃໝ່" in html
    assert "ປົກກະຕິຈະປ່ຽນເປັນ" in html or "ແມ່ນສະຖານະສຸດທ້າຍ" in html  # the hint of the next statuses
    assert [text for text in visible_texts(html) if text in ENGLISH] == []


def test_the_data_page_is_in_lao_with_its_release(app, client, login_as):
    from tracker.services.release_runtime import runtime_of

    runtime_of(app).build("command")
    runtime_of(app).build("command")  # an older release too, so that every part of the page shows
    login_as("admin")  # with the button that builds a release
    html = _get(client, "/data", "lo").get_data(as_text=True)
    assert '<html lang="lo">' in html
    assert [text for text in visible_texts(html) if text in ENGLISH] == []
    for lao in ("ຂໍ້ມູນເປີດ", "ສະບັບເຜີຍແຜ່ຫຼ້າສຸດ", "ສະບັບເຜີຍແຜ່ກ່ອນໜ້ານີ້", "ສ້າງສະບັບເຜີຍແຜ່ດຽວນີ້", "ໃບອະນຸຍາດ",
                "ແພັກເກັດຂໍ້ມູນ: ຕາຕະລາງ CSV (ZIP)"):
        assert lao in html, lao
    # The citation stays in English, the language of its style, and says so to the browser.
    assert re.search(r'<p class="citation" lang="en">EV Policy Tracker\. \(\d{4}\)', html)
