"""What staff see on the editing pages: forms, messages by each field, conflicts, status, publication."""
from __future__ import annotations

import html as html_lib
import re
from html.parser import HTMLParser

import pytest
from sqlalchemy import func, select
from werkzeug.datastructures import MultiDict

from tests.factories import event_record, load, policy_record
from tracker.models import AuditEntry, Event, ForumLink, Policy, Source, StatusChange
from tracker.services import editing

LAO = "ລົດໄຟຟ້າ"
DEMO_POLICY = "la-gov-resolution-08-2021-ev-policy"
DEMO_EVENT = "lao-ev-summit-2019"


def text_of(response) -> str:
    """The page's text without tags, whitespace folded: what a reader sees."""
    page = response.get_data(as_text=True)
    return html_lib.unescape(re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", page)))


class _FormReader(HTMLParser):
    """Reads the forms of a page as a browser would submit them (checked boxes, selected options)."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.forms: list[dict] = []
        self._open = False
        self._select: dict | None = None
        self._textarea: list | None = None

    def handle_starttag(self, tag, attrs):
        attributes = dict(attrs)
        if tag == "form":
            self.forms.append({"action": attributes.get("action"), "class": attributes.get("class") or "",
                               "fields": []})
            self._open = True
        elif not self._open:
            return
        elif tag == "input":
            kind = attributes.get("type", "text")
            if not attributes.get("name") or kind in ("submit", "button"):
                return
            if kind in ("checkbox", "radio") and "checked" not in attributes:
                return
            self.forms[-1]["fields"].append((attributes["name"], attributes.get("value") or ""))
        elif tag == "select":
            self._select = {"name": attributes.get("name"), "first": None, "chosen": None}
        elif tag == "option" and self._select is not None:
            value = attributes.get("value", "")
            if self._select["first"] is None:
                self._select["first"] = value
            if "selected" in attributes:
                self._select["chosen"] = value
        elif tag == "textarea":
            self._textarea = [attributes.get("name"), ""]

    def handle_data(self, data):
        if self._textarea is not None:
            self._textarea[1] += data

    def handle_endtag(self, tag):
        if tag == "form":
            self._open = False
        elif tag == "select" and self._select is not None:
            chosen = self._select["chosen"] if self._select["chosen"] is not None else self._select["first"]
            self.forms[-1]["fields"].append((self._select["name"], chosen or ""))
            self._select = None
        elif tag == "textarea" and self._textarea is not None:
            name, value = self._textarea
            # A browser drops the newline that follows <textarea>.
            self.forms[-1]["fields"].append((name, re.sub(r"^\r?\n", "", value)))
            self._textarea = None


def form_of(response, *, action: str | None = None, css: str | None = None) -> tuple[str | None, MultiDict]:
    """The action and the data of the first form of the page with this action or class."""
    reader = _FormReader()
    reader.feed(response.get_data(as_text=True))
    for form in reader.forms:
        if (action is None or form["action"] == action) and (css is None or css in form["class"].split()):
            return form["action"], MultiDict(form["fields"])
    raise AssertionError(f"no form with action={action!r} css={css!r} on the page")


def submit(client, url: str, data: MultiDict, **changes):
    """Post ``data`` with some fields changed (a list sets every value of a field, None removes it)."""
    data = MultiDict(data)
    for name, value in changes.items():
        name = name.replace("__", "-")
        if value is None:
            data.poplist(name)
        elif isinstance(value, list):
            data.setlist(name, value)
        else:
            data[name] = value
    return client.post(url, data=data)


def csrf_token(client) -> str:
    """A CSRF token of the client's session, read from a page with a form."""
    response = client.get("/login")
    if response.status_code == 302:
        response = client.get("/account")
    return re.search(r'name="csrf_token"[^>]*value="([^"]+)"', response.get_data(as_text=True)).group(1)


def count(session, model) -> int:
    return session.scalar(select(func.count()).select_from(model))


def error_of(response, field_id: str) -> str:
    """The message shown by a field, checking that the field points at it (aria-describedby)."""
    page = response.get_data(as_text=True)
    message = re.search(rf'<p class="error-message" id="{re.escape(field_id)}-error">(.*?)</p>', page)
    assert message, f"no message by {field_id}"
    control = re.search(rf'<(?:input|select|textarea|fieldset)[^>]*\bid="{re.escape(field_id)}"[^>]*>', page)
    assert control and f"{field_id}-error" in control.group(0), f"{field_id} does not point at its message"
    return html_lib.unescape(message.group(1))


def new_policy_data(client, **changes) -> MultiDict:
    page = client.get("/policies/new")
    assert page.status_code == 200
    _, data = form_of(page, css="record-form")
    base = {"title_en": "Electric motorcycle import rules", "country": "LA", "instrument": "regulation",
            "issuer": "la-mem", "status": "adopted", "status_effective_on": "2023-12-15"}
    for name, value in {**base, **changes}.items():
        data.setlist(name.replace("__", "-"), value if isinstance(value, list) else [value])
    return data


# ---------------------------------------------------------------------------------------------------
# Creating policies


def test_an_editor_creates_a_policy_with_sources_and_a_lao_title_and_sees_a_draft(client, session, login_as):
    login_as("editor")
    data = new_policy_data(
        client, title_en="Electric motorcycle import rules <script>alert(1)</script>", title_lo=LAO,
        summary_lo=f"{LAO} ⚡🛵", summary_en="Rules for importing electric motorcycles.",
        topics=["import_rules", "charging_infrastructure"], vehicle_classes=["two_wheeler"],
        valid_from="2024-01", status_note="Signed by the minister.",
        status_evidence_url="https://example.org/signed", sources__0__url="https://example.org/decree",
        sources__0__title="The decree", sources__0__published="2023-12", sources__0__kind="official",
        sources__2__url="https://news.example.org/story", sources__2__kind="news",
        relations__0__type="implements", relations__0__target=DEMO_POLICY,
        relations__1__type="related", relations__1__target_reference="Ministerial Decision No. 12",
        other_bodies__0__org="la-edl", other_bodies__0__role="implementing",
        conflicts="One source gives December 2023.\r\nAnother gives January 2024.")
    response = client.post("/policies/new", data=data)
    assert response.status_code == 302
    key = response.headers["Location"].rsplit("/", 1)[1]
    assert key.startswith("la-electric-motorcycle-import-rules")

    page = client.get(f"/policies/{key}")
    html, text = page.get_data(as_text=True), text_of(page)
    assert "Policy created as a draft" in text
    assert "Editorial state: Draft" in text and "only staff can see this record" in text
    assert f'<span lang="lo" class="lo">{LAO}</span>' in html
    assert "⚡🛵" in text
    assert "<script>alert(1)</script>" not in html and "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "https://example.org/decree" in html and "https://news.example.org/story" in html
    assert "Implements" in text and "Ministerial Decision No. 12" in text
    assert "Electricité du Laos" in text and "15 December 2023" in text and "Signed by the minister." in text
    assert "Another gives January 2024." in text
    history = text_of(client.get(f"/policies/{key}/history"))
    assert "Created by Test editor" in history
    assert f"Title (Lao): '{LAO}'" in history and "Vehicle classes: Two-wheelers" in history
    assert "Issued by: Ministry of Energy and Mines (LA)" in history and "Status: Adopted" in history

    policy = session.scalars(select(Policy).where(Policy.key == key)).one()
    assert (policy.editorial_state, policy.legal_status, policy.title_lo) == ("draft", "adopted", LAO)
    assert [s.url for s in session.scalars(select(Source).where(Source.policy_id == policy.id)
                                           .order_by(Source.position))] == [
        "https://example.org/decree", "https://news.example.org/story"]
    login_as(None)
    assert client.get(f"/policies/{key}").status_code == 404


def test_invalid_input_shows_a_message_by_each_field_and_writes_nothing(client, session, login_as):
    login_as("editor")
    before = {model: count(session, model) for model in (Policy, AuditEntry, Source, StatusChange)}
    data = new_policy_data(
        client, title_en="", title_lo=LAO, reference="x" * 10000, valid_from="2023-02-30",
        status_effective_on="2023-13", sources__0__url="https://example.org/fine", sources__1__url="",
        sources__2__url="javascript:alert(1)", relations__0__target="no-such-policy")
    response = client.post("/policies/new", data=data)
    assert response.status_code == 400
    assert "Please correct the fields marked below; nothing was saved." in text_of(response)
    assert "title_en-error" not in response.get_data(as_text=True)  # a Lao title is enough
    assert "10000 characters long; the limit is 300" in error_of(response, "reference")
    assert "'2023-02-30' is not a day of the calendar" in error_of(response, "valid_from")
    assert "'2023-13' names a month that does not exist" in error_of(response, "status_effective_on")
    # The blank second row is skipped when sending, yet the message lands on the third row.
    assert "'javascript:alert(1)' is not an http(s) URL" in error_of(response, "sources-2-url")
    assert "Unknown policy 'no-such-policy'" in error_of(response, "relations-0-target")
    assert 'id="key-error"' not in response.get_data(as_text=True)
    # What was typed comes back, Lao included.
    assert f'value="{LAO}"' in response.get_data(as_text=True)
    assert {model: count(session, model) for model in before} == before


@pytest.mark.parametrize("changes, field_id, message", [
    ({"title_en": "", "country": "", "instrument": ""}, "title_en",
     "Give the title in English or in Lao (or both)."),
    ({"valid_from": "15/11/25"}, "valid_from", "'15/11/25': write the year in full, as in 15/11/2025."),
    ({"valid_from": "31/02/2025"}, "valid_from", "'31/02/2025' is not a day of the calendar."),
    ({"valid_to": "next year"}, "valid_to", "'next year' is not a date we can read. Write it day first"),
    ({"title_en": "", "country": "", "instrument": ""}, "country", "This field is required."),
    ({"title_en": "t" * 10000}, "title_en", "10000 characters long; the limit is 500"),
    ({"valid_from": "2024", "valid_to": "2023-06"}, "valid_to", "Valid until is before valid from."),
    ({"issuer": "no-such-organisation"}, "issuer", "Not a valid choice."),
    ({"topics": ["no_such_topic"]}, "topics", "not a valid choice"),
    ({"key": "Not A Key!"}, "key", "Use lower-case letters, digits, '-' or '_' (at most 120)"),
    ({"key": "new"}, "key", "This key is the address of a page"),
    ({"key": DEMO_POLICY}, "key", f"A policy with the key '{DEMO_POLICY}' already exists."),
    ({"status_evidence_url": "ftp://example.org/x"}, "status_evidence_url", "is not an http(s) URL"),
    ({"relations__0__target": DEMO_POLICY, "relations__0__type": "replaces"}, "relations-0-type",
     "Not a valid choice."),
    ({"other_bodies__0__org": "la-edl", "other_bodies__1__org": "la-edl"}, "other_bodies-1-org",
     "listed twice"),
    ({"sources__0__title": "A title but no address"}, "sources-0-url", "This field is required."),
])
def test_each_kind_of_bad_input_gets_a_message_by_its_field(client, session, login_as, changes, field_id,
                                                            message):
    login_as("editor")
    policies = count(session, Policy)
    response = client.post("/policies/new", data=new_policy_data(client, **changes))
    assert response.status_code == 400
    assert message in error_of(response, field_id)
    assert count(session, Policy) == policies


# ---------------------------------------------------------------------------------------------------
# Editing policies


def test_lao_emoji_and_markup_round_trip_through_the_edit_form(client, session, login_as):
    load(session, policies=[policy_record("round-trip", editorial_state="draft", title_lo=f"{LAO} 🚗",
                                          summary_en='Quotes " and <b>tags</b> & ampersands.')])
    session.commit()
    login_as("editor")
    page = client.get("/policies/round-trip/edit")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert f'value="{LAO} 🚗"' in html and "&lt;b&gt;tags&lt;/b&gt;" in html and "<b>tags</b>" not in html
    _, data = form_of(page, css="record-form")
    assert data["title_lo"] == f"{LAO} 🚗"
    response = client.post("/policies/round-trip/edit", data=data)
    assert response.status_code == 302
    assert "Nothing was changed" in text_of(client.get("/policies/round-trip"))


@pytest.mark.slow
def test_every_demo_record_sent_back_unchanged_changes_nothing(client, session, login_as, demo_data):
    login_as("reviewer")
    entries = count(session, AuditEntry)
    for kind, records in (("policies", demo_data["policies"]), ("events", demo_data["events"])):
        for record in records:
            url = f"/{kind}/{record['key']}/edit"
            _, data = form_of(client.get(url), css="record-form")
            response = client.post(url, data=data)
            assert response.status_code == 302, (url, text_of(response)[:2000])
    assert count(session, AuditEntry) == entries


def test_an_edit_saves_and_the_page_shows_it(client, session, login_as):
    load(session, policies=[policy_record("edit-me", editorial_state="in_review")])
    session.commit()
    login_as("editor")
    page = client.get("/policies/edit-me/edit")
    _, data = form_of(page, css="record-form")
    assert data["sources-0-url"] == "https://example.org/source" and data["sources-1-url"] == ""
    response = submit(client, "/policies/edit-me/edit", data, title_en="Edited title", sources__0__url=None,
                      sources__0__title=None, sources__0__published=None, sources__0__kind=None,
                      sources__1__url="https://example.org/replacement", topics=["public_transport"])
    assert response.status_code == 302
    page = client.get("/policies/edit-me")
    text = text_of(page)
    assert "Your changes were saved." in text and "Edited title" in text
    assert "https://example.org/replacement" in text and "Public transport electrification" in text
    assert 'href="https://example.org/source"' not in page.get_data(as_text=True)


def test_the_edit_form_costs_the_same_few_queries_however_many_rows_the_policy_has(client, session, login_as,
                                                                                 count_queries):
    target = {"metric": "share_of_sales", "value": 30, "unit": "percent", "year": 2030, "vehicle_class": "car",
              "headline": False}
    load(session, policies=[policy_record("form-few", editorial_state="draft", other_bodies=[], sources=[])])
    load(session, policies=[policy_record(
        "form-many", editorial_state="draft",
        sources=[{"url": f"https://example.org/source-{n}", "title": f"Source {n}", "published": None,
                  "kind": "official"} for n in range(12)],
        other_bodies=[{"org": "la-edl", "role": "implementing"}, {"org": "la-mem", "role": "funder"}],
        relations=[{"type": "amends", "target": "form-few", "target_reference": None},
                   {"type": "related", "target": None, "target_reference": "Decree No. 1 <of> 2020 & more"}],
        targets=[target | {"year": 2030 + n} for n in range(3)])])
    session.commit()
    login_as("editor")

    def queries(key: str):
        count_queries.reset()
        response = client.get(f"/policies/{key}/edit")
        assert response.status_code == 200
        return count_queries.count, response

    few, _ = queries("form-few")
    many, page = queries("form-many")
    assert few == many, count_queries.statements
    # The user, the policy and the six parts the form shows, and four lists to choose from.
    assert many <= 12, count_queries.statements
    _, data = form_of(page, css="record-form")
    assert [data[f"sources-{n}-url"] for n in range(13)] == \
        [f"https://example.org/source-{n}" for n in range(12)] + [""]
    assert [data["other_bodies-0-org"], data["other_bodies-1-org"], data["other_bodies-1-role"]] == \
        ["la-edl", "la-mem", "funder"]
    assert data["relations-0-target"] == "form-few" and data["relations-0-type"] == "amends"
    assert data["relations-1-target_reference"] == "Decree No. 1 <of> 2020 & more"
    assert [data[f"targets-{n}-year"] for n in range(3)] == ["2030", "2031", "2032"]
    assert data["issuer"] == "la-mem" and data.getlist("topics") == ["charging_infrastructure", "fiscal_incentives"]


def test_an_edit_without_its_version_is_refused_with_a_clear_message(client, session, login_as):
    load(session, policies=[policy_record("no-version", editorial_state="draft")])
    session.commit()
    login_as("editor")
    _, data = form_of(client.get("/policies/no-version/edit"), css="record-form")
    entries = count(session, AuditEntry)
    for version in (None, "abc"):
        response = submit(client, "/policies/no-version/edit", data, title_en="Changed", version=version)
        assert response.status_code == 400
        assert "does not say which version of the record it was read from" in text_of(response)
    assert count(session, AuditEntry) == entries


def test_editors_edit_drafts_only_and_reviewers_edit_published_records(client, login_as):
    login_as("editor")
    page = text_of(client.get(f"/policies/{DEMO_POLICY}"))
    assert "Propose a change" in page and "A reviewer approves it before the public sees it." in page
    response = client.get(f"/policies/{DEMO_POLICY}/edit")
    assert response.status_code == 403 and "editors edit drafts and records in review" in text_of(response)
    assert client.get(f"/events/{DEMO_EVENT}/edit").status_code == 403
    _, data = form_of(client.get("/policies/new"), css="record-form")
    data["version"] = "1"
    assert client.post(f"/policies/{DEMO_POLICY}/edit", data=data).status_code == 403
    login_as("reviewer")
    page = client.get(f"/policies/{DEMO_POLICY}").get_data(as_text=True)
    assert f'href="/policies/{DEMO_POLICY}/edit"' in page
    assert client.get(f"/policies/{DEMO_POLICY}/edit").status_code == 200


def test_a_stale_edit_shows_the_other_change_and_reapplying_works(client, session, login_as, users):
    load(session, policies=[policy_record("stale-edit", editorial_state="draft",
                                          summary_en="First summary.")])
    session.commit()
    login_as("editor")
    page = client.get("/policies/stale-edit/edit")
    _, data = form_of(page, css="record-form")
    read_version = int(data["version"])

    # Someone else saves first.
    editing.update_policy(session, "stale-edit", {"title_en": "Title set by the reviewer"}, users["reviewer"],
                          read_version)
    session.commit()
    current = session.scalar(select(Policy.version).where(Policy.key == "stale-edit"))
    entries = count(session, AuditEntry)

    response = submit(client, "/policies/stale-edit/edit", data, summary_en="Summary written by the editor.")
    assert response.status_code == 409
    text = text_of(response)
    assert "Someone else changed this record while you were working on it" in text
    assert "Title (English): 'Test policy stale-edit' → 'Title set by the reviewer'" in text
    assert "by Test reviewer" in text and "Nothing of yours was saved" in text
    assert count(session, AuditEntry) == entries
    _, again = form_of(response, css="record-form")
    assert again["summary_en"] == "Summary written by the editor."
    assert int(again["version"]) == current

    # One click re-applies the editor's values over the current version.
    assert client.post("/policies/stale-edit/edit", data=again).status_code == 302
    session.expire_all()
    policy = session.scalars(select(Policy).where(Policy.key == "stale-edit")).one()
    assert policy.summary_en == "Summary written by the editor."
    assert policy.version == current + 1


# ---------------------------------------------------------------------------------------------------
# Status changes


def timeline_of(response) -> str:
    text = text_of(response)
    return text.split("Status timeline", 1)[1].split("Record a status change", 1)[0]


def test_an_editor_records_a_status_change_and_back_dated_changes_land_in_date_order(client, session,
                                                                                    login_as):
    # Drafting 2023, adopted July 2023, in force 1 August 2023.
    load(session, policies=[policy_record("status-steps")])
    session.commit()
    login_as("editor")
    page = client.get("/policies/status-steps")
    assert "Record a status change" in text_of(page)
    action, data = form_of(page, action="/policies/status-steps/status")
    response = submit(client, action, data, status__status="suspended", status__effective_on="2024-03-01",
                      status__note="Suspended pending a review.",
                      status__evidence_url="https://example.org/suspended")
    assert response.status_code == 302 and response.headers["Location"] == "/policies/status-steps"
    page = client.get("/policies/status-steps")
    assert "Status recorded" in text_of(page)
    timeline = timeline_of(page)
    assert "1 March 2024" in timeline and "Suspended pending a review." in timeline
    assert text_of(page).split("Status timeline")[0].count("Suspended") >= 1  # the current status badge

    _, data = form_of(page, action="/policies/status-steps/status")
    response = submit(client, action, data, status__status="consultation", status__effective_on="2023-03",
                      status__note="Public consultation.")
    assert response.status_code == 302
    timeline = timeline_of(client.get("/policies/status-steps"))
    dates = ("2023 ", "March 2023", "July 2023", "1 August 2023", "1 March 2024")
    order = [timeline.index(date) for date in dates]
    assert order == sorted(order), timeline
    assert "Drafting → Consultation" in timeline and "Consultation → Adopted" in timeline
    steps = session.scalars(select(StatusChange.to_status).join(Policy).where(Policy.key == "status-steps")
                            .order_by(StatusChange.position)).all()
    assert steps == ["drafting", "consultation", "adopted", "in_force", "suspended"]


def test_bad_status_input_is_shown_by_the_field(client, session, login_as):
    login_as("editor")
    steps = count(session, StatusChange)
    page = client.get(f"/policies/{DEMO_POLICY}/status")
    action, data = form_of(page, action=f"/policies/{DEMO_POLICY}/status")
    response = submit(client, action, data, status__effective_on="2023-02-30",
                      status__evidence_url="not a url", status__note="n" * 10000)
    assert response.status_code == 400
    assert "'2023-02-30' is not a day of the calendar" in error_of(response, "status-effective_on")
    assert "is not an http(s) URL" in error_of(response, "status-evidence_url")
    assert "10000 characters long; the limit is 5000" in error_of(response, "status-note")
    assert count(session, StatusChange) == steps


def test_a_change_outside_the_table_is_refused_for_an_editor_and_allowed_for_a_reviewer_with_a_reason(
        client, session, login_as):
    load(session, policies=[policy_record("override-me")])  # in force
    session.commit()
    steps = count(session, StatusChange)
    login_as("editor")
    action, data = form_of(client.get("/policies/override-me"), action="/policies/override-me/status")
    response = submit(client, action, data, status__status="drafting",
                      status__note="Back to the drawing board.")
    assert response.status_code == 403
    assert "outside the transition table: a reviewer must record it" in text_of(response)
    assert "Back to the drawing board." in response.get_data(as_text=True)
    assert count(session, StatusChange) == steps

    login_as("reviewer")
    action, data = form_of(client.get("/policies/override-me"), action="/policies/override-me/status")
    response = submit(client, action, data, status__status="drafting")
    assert response.status_code == 400
    assert "outside the transition table: say why it is right" in error_of(response, "status-reason")
    assert count(session, StatusChange) == steps
    response = submit(client, action, data, status__status="drafting",
                      status__reason="The court annulled the decree; it is being redrafted.")
    assert response.status_code == 302
    assert count(session, StatusChange) == steps + 1
    history = text_of(client.get("/policies/override-me/history"))
    assert "Status: In force → Drafting" in history
    assert "Reason: The court annulled the decree; it is being redrafted." in history


# ---------------------------------------------------------------------------------------------------
# Publication


def move(client, page, path: str, state: str):
    """Press the editorial button for ``state`` in the form of ``page`` (or send it by hand if absent)."""
    _, data = form_of(page, action=path)
    return submit(client, path, data, state=state)


def test_publication_moves_follow_the_workflow_and_the_roles(app, client, session, login_as):
    load(session, policies=[policy_record("to-publish", editorial_state="draft")])
    session.commit()
    reader = app.test_client()
    path = "/policies/to-publish/editorial"
    login_as("editor")
    page = client.get("/policies/to-publish")
    html = page.get_data(as_text=True)
    assert 'value="in_review">Submit for review</button>' in html and 'value="published"' not in html
    assert move(client, page, path, "in_review").status_code == 302
    page = client.get("/policies/to-publish")
    assert "Submitted for review." in text_of(page) and "Editorial state: In review" in text_of(page)
    # An editor cannot publish, even by hand.
    assert move(client, page, path, "published").status_code == 403
    assert reader.get("/policies/to-publish").status_code == 404

    login_as("reviewer")
    page = client.get("/policies/to-publish")
    assert "Publish" in text_of(page) and "Send back to the editor" in text_of(page)
    assert move(client, page, path, "published").status_code == 302
    assert reader.get("/policies/to-publish").status_code == 200

    # A button from a page read before the move is refused with a plain message.
    response = move(client, page, path, "published")
    assert response.status_code == 400 and "no longer possible" in text_of(response)
    # When someone else changed the record meanwhile, the reviewer is told and may confirm with one click.
    page = client.get("/policies/to-publish")
    session.execute(Policy.__table__.update().where(Policy.key == "to-publish")
                    .values(version=Policy.version + 1), execution_options={"search_log_bypass": True})
    session.commit()
    response = move(client, page, path, "archived")
    assert response.status_code == 409 and "Someone else changed this record" in text_of(response)
    _, confirm = form_of(response, action=path)
    assert client.post(path, data=confirm).status_code == 302
    assert "Archived: only staff can see this record now." in text_of(client.get("/policies/to-publish"))
    assert reader.get("/policies/to-publish").status_code == 404


def test_events_move_through_the_workflow_too(app, client, session, login_as):
    load(session, events=[event_record("event-to-publish", editorial_state="draft")])
    session.commit()
    path = "/events/event-to-publish/editorial"
    login_as("editor")
    page = client.get("/events/event-to-publish")
    assert "Draft" in text_of(page) and "Submit for review" in text_of(page)
    assert move(client, page, path, "in_review").status_code == 302
    login_as("reviewer")
    page = client.get("/events/event-to-publish")
    assert move(client, page, path, "published").status_code == 302
    assert app.test_client().get("/events/event-to-publish").status_code == 200


# ---------------------------------------------------------------------------------------------------
# Forum links


def test_forum_links_are_added_and_removed_from_the_policy_page(client, session, login_as):
    load(session, policies=[policy_record("linked", editorial_state="draft")])
    session.commit()
    login_as("editor")
    path = "/policies/linked/forum-links"
    page = client.get("/policies/linked")
    assert "No forum or event is linked to this policy yet." in text_of(page)
    _, data = form_of(page, action=path)
    response = submit(client, path, data, link__event=DEMO_EVENT, link__role="discussed",
                      link__evidence="Named in the opening speech.",
                      link__source_url="https://example.org/speech")
    assert response.status_code == 302
    page = client.get("/policies/linked")
    text = text_of(page)
    assert "Forum link added" in text and "Discussed at" in text and "Named in the opening speech." in text

    _, data = form_of(page, action=path)
    response = submit(client, path, data, link__event=DEMO_EVENT, link__role="discussed")
    assert response.status_code == 400
    assert "This event is already linked with this role." in error_of(response, "link-event")
    response = submit(client, path, data, link__event="no-such-event", link__role="discussed")
    assert response.status_code == 400 and "Not a valid choice." in error_of(response, "link-event")
    response = submit(client, path, data, link__event=DEMO_EVENT, link__role="announced",
                      link__source_url="x")
    assert response.status_code == 400 and "is not an http(s) URL" in error_of(response, "link-source_url")
    assert session.scalar(select(func.count()).select_from(ForumLink).join(Policy)
                          .where(Policy.key == "linked")) == 1

    remove = "/policies/linked/forum-links/remove"
    _, data = form_of(page, action=remove)
    assert (data["event"], data["role"]) == (DEMO_EVENT, "discussed")
    assert client.post(remove, data=data).status_code == 302
    text = text_of(client.get("/policies/linked"))
    assert "Forum link removed" in text and "No forum or event is linked to this policy yet." in text
    assert client.post(remove, data=data).status_code in (404, 409)


# ---------------------------------------------------------------------------------------------------
# Events


def test_an_editor_creates_and_edits_an_event(client, session, login_as, users):
    login_as("editor")
    page = client.get("/events/new")
    _, data = form_of(page, css="record-form")
    events = count(session, Event)
    response = submit(client, "/events/new", data, name_en="Third Lao EV Forum", name_lo=f"{LAO} ຄັ້ງທີ 3",
                      kind="forum", country="LA", starts_on="2025-05-10", ends_on="2025-05-09",
                      organisers=["la-mem", "la-laia"], funders=["usaid"], topics=["charging_infrastructure"],
                      sources__0__url="https://example.org/forum-3")
    assert response.status_code == 400
    assert error_of(response, "ends_on") == "The end is before the start."
    assert count(session, Event) == events
    _, data = form_of(response, css="record-form")
    assert data.getlist("organisers") == ["la-mem", "la-laia"]
    response = submit(client, "/events/new", data, ends_on="2025-05-11")
    assert response.status_code == 302
    key = response.headers["Location"].rsplit("/", 1)[1]
    assert key == "third-lao-ev-forum"
    text = text_of(client.get(f"/events/{key}"))
    assert "Event created as a draft" in text and "Draft" in text and f"{LAO} ຄັ້ງທີ 3" in text
    assert "Ministry of Energy and Mines" in text
    assert "United States Agency for International Development" in text

    page = client.get(f"/events/{key}/edit")
    _, data = form_of(page, css="record-form")
    assert data.getlist("organisers") == ["la-mem", "la-laia"]
    editing.update_event(session, key, {"venue": "Lao ITECC, Vientiane"}, users["reviewer"],
                         int(data["version"]))
    session.commit()
    response = submit(client, f"/events/{key}/edit", data, date_note="Dates from the invitation.")
    assert response.status_code == 409
    assert "Venue: (empty) → 'Lao ITECC, Vientiane'" in text_of(response)
    _, again = form_of(response, css="record-form")
    assert submit(client, f"/events/{key}/edit", again, venue="Lao ITECC, Vientiane").status_code == 302
    text = text_of(client.get(f"/events/{key}"))
    assert "Dates from the invitation." in text and "Lao ITECC, Vientiane" in text


# ---------------------------------------------------------------------------------------------------
# History


def test_the_history_page_lists_changes_in_plain_words_newest_first(client, session, login_as):
    load(session, policies=[policy_record("with-history", editorial_state="draft", title_en="Old title",
                                          status="adopted", status_history=[
                                              {"status": "adopted", "date": "2023-07", "note": None,
                                               "source_url": None}])])
    session.commit()
    login_as("editor")
    _, data = form_of(client.get("/policies/with-history/edit"), css="record-form")
    assert submit(client, "/policies/with-history/edit", data, title_en="New title").status_code == 302
    action, data = form_of(client.get("/policies/with-history"), action="/policies/with-history/status")
    response = submit(client, action, data, status__status="in_force", status__effective_on="2024-01-01")
    assert response.status_code == 302
    page = client.get("/policies/with-history")
    assert 'href="/policies/with-history/history"' in page.get_data(as_text=True)
    path = "/policies/with-history/editorial"
    assert move(client, page, path, "in_review").status_code == 302

    history = text_of(client.get("/policies/with-history/history"))
    moved = history.index("Editorial state: Draft → In review")
    status = history.index("Status: Adopted → In force, effective 1 January 2024")
    title = history.index("Title (English): 'Old title' → 'New title'")
    assert moved < status < title
    assert "by Test editor" in history
    # Times are shown in Vientiane, with the zone named.
    assert re.search(r"\d{1,2} [A-Z][a-z]+ \d{4}, \d{2}:\d{2} Indochina Time", history)


def test_the_history_describes_every_kind_of_field(client, session, login_as):
    load(session, policies=[policy_record("every-field", editorial_state="draft")],
         events=[event_record("every-field-event", editorial_state="draft")])
    session.commit()
    login_as("editor")
    _, data = form_of(client.get("/policies/every-field/edit"), css="record-form")
    response = submit(
        client, "/policies/every-field/edit", data, country="KH", instrument="law", issuer="",
        title_local="ច្បាប់", topics=["public_transport"], vehicle_classes=["bus", "truck"],
        valid_from="2024", valid_to="2030-12-31", confidence="low", conflicts="Sources disagree on the year.",
        sources__0__kind="news", sources__1__url="https://example.org/second",
        relations__0__target_reference="Sub-decree No. 5", other_bodies__0__role="funder")
    assert response.status_code == 302
    path = "/policies/every-field/forum-links"
    _, link = form_of(client.get("/policies/every-field"), action=path)
    assert submit(client, path, link, link__event=DEMO_EVENT, link__role="announced").status_code == 302
    _, remove = form_of(client.get("/policies/every-field"), action=path + "/remove")
    assert client.post(path + "/remove", data=remove).status_code == 302
    history = text_of(client.get("/policies/every-field/history"))
    for line in (
            "Country: Timor-Leste → Cambodia", "Instrument: Decree → Law",
            "Issued by: Ministry of Energy and Mines (LA) → (empty)",
            "Title (local language): (empty) → 'ច្បាប់'",
            "Topics: added Public transport electrification", "Topics: removed Fiscal incentives",
            "Vehicle classes: added Trucks", "Vehicle classes: removed Cars",
            "Valid from: 1 August 2023 → 2024",
            "Valid until: (empty) → 31 December 2030", "Confidence: Medium → Low",
            "Where sources disagree: added 'Sources disagree on the year.'",
            "Sources: added 'https://example.org/second'",
            "Related instruments: added Related to 'Sub-decree No. 5'",
            "Other bodies: added Electricité du Laos (EDL) (LA) (funder)",
            "Forum link added by Test editor", "Forum links: added Announced at",
            "Forum link removed by Test editor", "Record loaded from the dataset file."):
        assert line in history, line

    _, data = form_of(client.get("/events/every-field-event/edit"), css="record-form")
    response = submit(client, "/events/every-field-event/edit", data, kind="workshop", country="",
                      ends_on="2024-06", organisers=["la-laia"], funders=[], partners=["usaid"])
    assert response.status_code == 302
    history = text_of(client.get("/events/every-field-event/history"))
    for line in (
            "Kind of event: Forum → Workshop", "Country: Timor-Leste → (empty)",
            "Ends on: (empty) → June 2024",
            "Organisers: added Lao Automotive Industry Association (LA)",
            "Funders: removed Electricité du Laos (EDL) (LA)",
            "Partners: added United States Agency for International Development (USAID)"):
        assert line in history, line


def test_the_audit_trail_has_no_route_that_changes_it(app):
    for rule in app.url_map.iter_rules():
        if "history" in rule.rule:
            assert rule.methods <= {"GET", "HEAD", "OPTIONS"}, rule


# ---------------------------------------------------------------------------------------------------
# Who may do what


ROUTES = [
    ("GET", "/policies/new"), ("POST", "/policies/new"),
    ("GET", f"/policies/{DEMO_POLICY}/edit"), ("POST", f"/policies/{DEMO_POLICY}/edit"),
    ("GET", f"/policies/{DEMO_POLICY}/status"), ("POST", f"/policies/{DEMO_POLICY}/status"),
    ("GET", f"/policies/{DEMO_POLICY}/status/1"), ("POST", f"/policies/{DEMO_POLICY}/status/1"),
    ("POST", f"/policies/{DEMO_POLICY}/editorial"),
    ("POST", f"/policies/{DEMO_POLICY}/forum-links"), ("POST", f"/policies/{DEMO_POLICY}/forum-links/remove"),
    ("GET", f"/policies/{DEMO_POLICY}/history"),
    ("GET", f"/policies/{DEMO_POLICY}/key"), ("POST", f"/policies/{DEMO_POLICY}/key"),
    ("GET", "/events/new"), ("POST", "/events/new"),
    ("GET", f"/events/{DEMO_EVENT}/edit"), ("POST", f"/events/{DEMO_EVENT}/edit"),
    ("POST", f"/events/{DEMO_EVENT}/editorial"), ("GET", f"/events/{DEMO_EVENT}/history"),
    ("GET", f"/events/{DEMO_EVENT}/key"), ("POST", f"/events/{DEMO_EVENT}/key"),
]


def test_every_editing_route_is_covered_by_the_access_table(app):
    from tracker.views import editing as editing_views

    rules = {(method, rule.rule) for rule in app.url_map.iter_rules() if rule.endpoint.startswith("editing.")
             for method in rule.methods - {"HEAD", "OPTIONS"}}
    listed = {(method, re.sub(rf"{DEMO_POLICY}|{DEMO_EVENT}", "<key>", url)
               .replace("/status/1", "/status/<int:position>")) for method, url in ROUTES}
    assert rules == listed
    for rule in app.url_map.iter_rules():
        if rule.endpoint.startswith("editing."):
            view = app.view_functions[rule.endpoint]
            assert getattr(view, "required_permission", None), rule.endpoint
            # Every view is wrapped once more by the app, to run a write again after a lost deadlock.
            assert getattr(editing_views, rule.endpoint.split(".")[1]) is view.__wrapped__


@pytest.mark.parametrize("method, url", ROUTES)
def test_anonymous_readers_are_sent_to_log_in_and_partners_are_refused(client, session, login_as, method,
                                                                        url):
    policies, entries = count(session, Policy), count(session, AuditEntry)
    token = csrf_token(client)
    data = {"csrf_token": token, "title_en": "Sneaky", "country": "LA", "instrument": "law",
            "state": "published", "version": "1", "status-status": "repealed", "status-csrf_token": token}
    response = client.open(url, method=method, data=data if method == "POST" else None)
    assert response.status_code == 302 and "/login" in response.headers["Location"]

    login_as("partner")
    token = csrf_token(client)
    data.update({"csrf_token": token, "status-csrf_token": token})
    response = client.open(url, method=method, data=data if method == "POST" else None)
    assert response.status_code == 403
    assert (count(session, Policy), count(session, AuditEntry)) == (policies, entries)


@pytest.mark.parametrize("role", [None, "partner"])
def test_readers_and_partners_see_no_editing_controls(client, session, login_as, role):
    login_as(role)
    for url in (f"/policies/{DEMO_POLICY}", f"/events/{DEMO_EVENT}"):
        page = client.get(url)
        html, text = page.get_data(as_text=True), text_of(page)
        for control in ("Record a status change", "History of changes", "Editorial state", "Remove link",
                        "Link to a forum", "/edit", "/editorial", "/key\"", "Change the key"):
            assert control not in text and control not in html, (url, control)


@pytest.mark.parametrize("method, url", [route for route in ROUTES if route[0] == "POST"])
def test_a_post_without_its_csrf_token_is_refused(client, session, login_as, method, url):
    login_as("admin")
    entries = count(session, AuditEntry)
    response = client.post(url, data={"title_en": "No token", "country": "LA", "instrument": "law",
                                      "state": "archived", "version": "1", "status-status": "in_force"})
    assert response.status_code == 400
    assert "The CSRF token is missing." in text_of(response)
    assert count(session, AuditEntry) == entries


@pytest.mark.parametrize("url, status", [
    ("/policies/no-such-policy/edit", 404), ("/policies/no-such-policy/status", 404),
    ("/policies/no-such-policy/history", 404), ("/events/no-such-event/edit", 404),
    ("/events/no-such-event/history", 404), ("/policies/%3Cscript%3E/edit", 404),
])
def test_unknown_records_give_a_clear_404(client, login_as, url, status):
    login_as("editor")
    response = client.get(url)
    assert response.status_code == status
    assert "There is no" in text_of(response) and "<script>" not in response.get_data(as_text=True)


def test_staff_see_drafts_in_lists_with_their_state(client, session, login_as):
    load(session, policies=[policy_record("draft-in-list", country="TL", editorial_state="draft",
                                          title_en="A draft in the list")])
    session.commit()
    assert "A draft in the list" not in text_of(client.get("/policies?country=TL"))
    login_as("editor")
    text = text_of(client.get("/policies?country=TL"))
    assert "A draft in the list" in text and "Draft" in text


def test_add_a_row_without_javascript_returns_the_form_with_one_more_row_and_saves_nothing(client, session,
                                                                                          login_as):
    login_as("editor")
    policies = count(session, Policy)
    data = new_policy_data(client, sources__0__url="https://example.org/first", summary_en="Kept as typed.")
    rows = len([name for name in data if re.fullmatch(r"sources-\d+-url", name)])
    data["add_row"] = "sources"
    response = client.post("/policies/new", data=data)
    assert response.status_code == 200
    _, again = form_of(response, css="record-form")
    assert len([name for name in again if re.fullmatch(r"sources-\d+-url", name)]) == rows + 1
    assert again["sources-0-url"] == "https://example.org/first" and again["summary_en"] == "Kept as typed."
    page = response.get_data(as_text=True)
    new_input = re.search(rf'<input[^>]*\bid="sources-{rows}-url"[^>]*>', page).group(0)
    assert "autofocus" in new_input  # the reader continues in the new row
    assert count(session, Policy) == policies
    # An unknown group is no "add a row": the form is saved as usual.
    again["add_row"] = "not-a-group"
    assert client.post("/policies/new", data=again).status_code == 302
    assert count(session, Policy) == policies + 1
