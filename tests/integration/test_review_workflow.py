"""The editorial team's workflow: Lao-first records, review queue, send-back comments, proposals, staff mail."""
from __future__ import annotations

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import selectinload

from tests.conftest import signed_in
from tests.factories import load, policy_record
from tests.integration.test_editing_pages import csrf_token, error_of, form_of, text_of
from tracker.errors import Conflict, Forbidden, Invalid, MergeConflict
from tracker.models import AuditEntry, ChangeProposal, Organisation, Policy, StaffMail, User
from tracker.services import editing, review

LAO_TITLE = "ດຳລັດ ວ່າດ້ວຍ ການນຳເຂົ້າ ລົດໄຟຟ້າ"


def fill(data, values: dict) -> None:
    """Set form fields (a MultiDict's update would add a second value instead)."""
    for name, value in values.items():
        data[name] = value


def mails(session, kind: str | None = None) -> list[StaffMail]:
    session.expire_all()
    statement = select(StaffMail).order_by(StaffMail.id)
    if kind:
        statement = statement.where(StaffMail.kind == kind)
    return list(session.scalars(statement))


def stored(session, key: str) -> Policy:
    session.expire_all()
    return session.scalars(select(Policy).where(Policy.key == key).options(
        selectinload(Policy.status_changes))).one()


def move(browser, key: str, state: str, version: int, reason: str | None = None):
    data = {"csrf_token": csrf_token(browser), "state": state, "version": str(version)}
    if reason is not None:
        data["reason"] = reason
    return browser.post(f"/policies/{key}/editorial", data=data)


# ---------------------------------------------------------------------------------------------------
# Lao-first records


def test_a_policy_with_only_a_lao_title_and_a_day_first_date_is_created(app, session, users):
    editor = signed_in(app, users, "editor")
    page = editor.get("/policies/new")
    _, data = form_of(page, css="record-form")
    fill(data, {"title_en": "", "title_lo": LAO_TITLE, "country": "LA", "instrument": "decree",
                 "reference": "ເລກທີ 15/ລບ", "status": "adopted", "status_effective_on": "15/11/2025",
                 "valid_from": "ວັນທີ 1 ມັງກອນ 2026", "valid_to": "12/2030"})
    response = editor.post("/policies/new", data=data)
    assert response.status_code == 302, text_of(response)[:2000]
    key = response.headers["Location"].rsplit("/", 1)[1]
    # A Lao title gives no Latin letters: the key comes from the country and instrument.
    assert key.startswith("la-decree")
    policy = stored(session, key)
    assert (policy.title_en, policy.title_lo) == (None, LAO_TITLE)
    assert policy.status_changes[0].effective_on.isoformat() == "2025-11-15"
    assert (policy.valid_from.isoformat(), policy.valid_to.isoformat()) == ("2026-01-01", "2030-12")
    # Reviewers are told what is missing.
    reviewer = signed_in(app, users, "reviewer")
    assert "Not yet translated: English title, English summary" not in text_of(reviewer.get(f"/policies/{key}"))
    assert "Not yet translated: English title" in text_of(reviewer.get(f"/policies/{key}"))


def test_neither_title_is_refused_with_a_message_linked_from_the_summary(app, session, users):
    editor = signed_in(app, users, "editor")
    _, data = form_of(editor.get("/policies/new"), css="record-form")
    fill(data, {"title_en": " ", "title_lo": "", "country": "LA", "instrument": "decree",
                 "valid_from": "32/01/2025"})
    response = editor.post("/policies/new", data=data)
    assert response.status_code == 400
    assert error_of(response, "title_en") == "Give the title in English or in Lao (or both)."
    assert error_of(response, "valid_from") == "'32/01/2025' is not a day of the calendar."
    page = response.get_data(as_text=True)
    # The summary at the top links to each field with its message.
    assert '<a href="#title_en">Title (English): Give the title in English or in Lao (or both).</a>' in page
    assert '<a href="#valid_from">' in page


def test_line_breaks_in_a_title_never_reach_the_record(session, users):
    policy = editing.create_policy(session, {"country": "LA", "instrument": "decree",
                                             "title_en": "Decree on\r\nimports\tof EVs\x07",
                                             "summary_en": "Line one\r\nline two\x0c"}, users["editor"])
    assert policy.title_en == "Decree on imports of EVs"
    assert policy.summary_en == "Line one\nline two "
    with pytest.raises(Invalid) as refused:
        editing.update_policy(session, policy.key, {"reference": "No.\x00 7"}, users["editor"], policy.version)
    assert "reference" in refused.value.errors


def test_status_notes_are_bilingual_and_in_force_since_is_the_start_of_the_run(session, users):
    load(session, policies=[policy_record("vn-decree", country="VN", status="in_force", status_history=[
        {"status": "adopted", "date": "2022-02", "note": None, "source_url": None},
        {"status": "in_force", "date": "2022-03-15", "note": "In force.", "source_url": None}])])
    session.flush()
    editing.change_status(session, "vn-decree", {"status": "in_force", "effective_on": "2025-03-01",
                                                 "note": "Confirmed by the ministry.",
                                                 "note_lo": "ກະຊວງ ຢືນຢັນ."}, users["editor"])
    policy = stored(session, "vn-decree")
    # A later step into the same status is new evidence, not a new start.
    assert policy.status_since.isoformat() == "2022-03-15"
    assert policy.status_changed_on.isoformat() == "2025-03-01"
    assert policy.status_changes[-1].note_lo == "ກະຊວງ ຢືນຢັນ."


def test_the_home_page_shows_staff_a_back_dated_change_recorded_today(app, client, session, users, login_as):
    load(session, policies=[policy_record("old-news", status="in_force")])
    session.flush()
    # Recorded today, effective long ago: last in the timeline of effective dates it is not.
    editing.change_status(session, "old-news", {"status": "in_force", "effective_on": "2019-05",
                                                 "reason": "The 2019 gazette was found."},
                          users["reviewer"])
    session.commit()
    login_as("editor")
    text = text_of(client.get("/"))
    recorded = text.split("Recently recorded (staff)", 1)[1].split("Upcoming expiries", 1)[0]
    assert "Test policy old-news" in recorded and "effective May 2019" in recorded
    latest = text.split("Latest status changes", 1)[1].split("Recently recorded (staff)", 1)[0]
    assert "Test policy old-news" not in latest
    login_as(None)
    assert "Recently recorded (staff)" not in text_of(client.get("/"))


# ---------------------------------------------------------------------------------------------------
# Review: submit, send back with a comment, publish


def test_submit_send_back_with_a_comment_resubmit_and_publish(app, session, users):
    load(session, policies=[policy_record("to-review", editorial_state="draft")])
    session.commit()
    users["reviewer"].language = "lo"
    session.commit()
    editor, reviewer = signed_in(app, users, "editor"), signed_in(app, users, "reviewer")
    version = stored(session, "to-review").version

    assert move(editor, "to-review", "in_review", version).status_code == 302
    [request] = [mail for mail in mails(session, "review_requested") if mail.user_id == users["reviewer"].id]
    assert request.payload["key"] == "to-review" and request.payload["by"] == "Test editor"
    # Every reviewer and admin is asked, never the editor who submitted.
    assert {mail.user_id for mail in mails(session, "review_requested")} == {users["reviewer"].id,
                                                                            users["admin"].id}
    queue = text_of(reviewer.get("/review"))
    assert "Test policy to-review" in queue and "Submitted by Test editor" in queue

    version += 1
    refused = move(reviewer, "to-review", "draft", version)
    assert refused.status_code == 400
    assert "Sending a record back needs a comment" in text_of(refused)
    assert stored(session, "to-review").editorial_state == "in_review"

    assert move(reviewer, "to-review", "draft", version, "Add the Lao summary, please.").status_code == 302
    assert stored(session, "to-review").editorial_state == "draft"
    [sent_back] = mails(session, "record_sent_back")
    assert sent_back.user_id == users["editor"].id
    assert sent_back.payload["comment"] == "Add the Lao summary, please."
    page = text_of(editor.get("/policies/to-review"))
    assert "Sent back by Test reviewer" in page and "Add the Lao summary, please." in page
    history = text_of(editor.get("/policies/to-review/history"))
    assert "Sent back to the editor by Test reviewer" in history and "Add the Lao summary, please." in history

    version += 1
    assert move(editor, "to-review", "in_review", version).status_code == 302
    assert "Sent back by" not in text_of(editor.get("/policies/to-review"))
    assert move(reviewer, "to-review", "published", version + 1).status_code == 302
    [published] = mails(session, "record_published")
    assert published.user_id == users["editor"].id and published.payload["by"] == "Test reviewer"


def test_an_editor_withdrawing_their_own_submission_needs_no_comment(app, session, users):
    load(session, policies=[policy_record("withdraw-me", editorial_state="draft")])
    session.commit()
    editor = signed_in(app, users, "editor")
    version = stored(session, "withdraw-me").version
    assert move(editor, "withdraw-me", "in_review", version).status_code == 302
    assert move(editor, "withdraw-me", "draft", version + 1).status_code == 302
    assert mails(session, "record_sent_back") == []


def test_the_review_queue_shows_what_changed_since_the_last_publication(app, session, users):
    load(session, policies=[policy_record("republish", editorial_state="published", summary_en="Published text.")])
    session.commit()
    version = stored(session, "republish").version
    editing.set_editorial_state(session, "policy", "republish", "draft", users["reviewer"], version)
    editing.update_policy(session, "republish", {"summary_en": "Draft text.", "valid_to": "2031"},
                          users["editor"], version + 1)
    editing.set_editorial_state(session, "policy", "republish", "in_review", users["editor"], version + 2)
    session.commit()
    text = text_of(signed_in(app, users, "reviewer").get("/review"))
    item = text.split("Test policy republish", 1)[1]
    assert "Changed since it was last published" in item
    assert "Summary (English) 'Published text.' 'Draft text.'" in item
    assert "Valid until (empty) 2031" in item


def test_the_review_queue_costs_the_same_queries_for_2_or_20_records(app, session, users, count_queries):
    def queue_queries(number: int) -> int:
        load(session, policies=[policy_record(f"queue-{number}-{n}", editorial_state="in_review")
                                for n in range(number)])
        session.commit()
        count_queries.reset()
        review.review_queue(session, users["reviewer"])
        return count_queries.count

    assert queue_queries(2) == queue_queries(20)


# ---------------------------------------------------------------------------------------------------
# Proposals to published records


@pytest.fixture
def published(session):
    load(session, policies=[policy_record("proposed-to", editorial_state="published", summary_en="Published.")])
    session.commit()
    return stored(session, "proposed-to")


def test_an_editor_proposes_a_change_the_public_keeps_the_published_version_a_reviewer_approves(
        app, client, session, users, published):
    published_version = published.version
    editor, reviewer = signed_in(app, users, "editor"), signed_in(app, users, "reviewer")
    assert editor.get("/policies/proposed-to/edit").status_code == 403
    assert "Propose a change" in text_of(editor.get("/policies/proposed-to"))
    _, data = form_of(editor.get("/policies/proposed-to/propose"), css="record-form")
    data["summary_en"] = "Proposed summary."
    data["proposal_note"] = "The ministry corrected the text."
    response = editor.post("/policies/proposed-to/propose", data=data)
    assert response.status_code == 302
    proposal_url = response.headers["Location"]
    [proposal] = session.scalars(select(ChangeProposal)).all()
    assert proposal.changes == {"summary_en": "Proposed summary."}
    assert stored(session, "proposed-to").summary_en == "Published."
    assert "Proposed summary." not in text_of(client.get("/policies/proposed-to"))
    assert [mail.kind for mail in mails(session) if mail.user_id == users["reviewer"].id] == ["proposal_submitted"]

    page = text_of(reviewer.get(proposal_url))
    assert "Summary (English) 'Published.' 'Proposed summary.'" in page
    assert "The ministry corrected the text." in page
    _, decision = form_of(reviewer.get(proposal_url), css="decision")
    decision["comment"] = "Thanks."
    approved = reviewer.post(proposal_url + "/approve", data=decision)
    assert approved.status_code == 302
    policy = stored(session, "proposed-to")
    assert policy.summary_en == "Proposed summary." and policy.version == published_version + 1
    entry = session.scalars(select(AuditEntry).where(AuditEntry.entity_key == "proposed-to",
                                                     AuditEntry.action == "proposal_approved")).one()
    assert (entry.field, entry.actor_id, entry.details["proposal_id"]) == ("summary_en", users["reviewer"].id,
                                                                           proposal.id)
    session.refresh(proposal)
    assert (proposal.state, proposal.applied_version, proposal.decision_comment) == (
        "approved", policy.version, "Thanks.")
    assert [mail.kind for mail in mails(session) if mail.user_id == users["editor"].id] == ["proposal_approved"]
    assert "Proposed summary." in text_of(client.get("/policies/proposed-to"))
    # Decided once: a second decision is refused.
    assert reviewer.post(proposal_url + "/reject", data=decision | {"comment": "No"}).status_code == 409


def test_rejecting_needs_a_comment_which_the_editor_is_sent(app, session, users, published):
    proposal = review.propose_change(session, "policy", "proposed-to", {"valid_to": "2040"}, users["editor"],
                                     published.version)
    session.commit()
    with pytest.raises(Invalid):
        review.reject_proposal(session, proposal.id, users["reviewer"], "  ")
    with pytest.raises(Forbidden):
        review.reject_proposal(session, proposal.id, users["editor"], "Mine.")
    review.reject_proposal(session, proposal.id, users["reviewer"], "The gazette says 2030.")
    session.commit()
    assert stored(session, "proposed-to").valid_to is None
    [mail] = mails(session, "proposal_rejected")
    assert mail.user_id == users["editor"].id and mail.payload["comment"] == "The gazette says 2030."
    with pytest.raises(Conflict):
        review.approve_proposal(session, proposal.id, users["reviewer"])


def test_approving_a_proposal_over_a_newer_change_asks_which_value_to_keep(app, session, users, published):
    proposal = review.propose_change(session, "policy", "proposed-to", {"summary_en": "Editor's text.",
                                                                        "reference": "No. 9"},
                                     users["editor"], published.version)
    editing.update_policy(session, "proposed-to", {"summary_en": "Reviewer's text."}, users["reviewer"],
                          published.version)
    session.commit()
    reviewer = signed_in(app, users, "reviewer")
    url = f"/review/proposals/{proposal.id}"
    page = reviewer.get(url)
    assert "Changed by both: Summary (English)" in text_of(page)
    _, decision = form_of(page, css="decision")
    needs_pick = reviewer.post(url + "/approve", data=decision)
    assert needs_pick.status_code == 409
    assert stored(session, "proposed-to").reference == "No. proposed-to"
    assert reviewer.post(url + "/approve", data=decision | {"resolve-summary_en": "current"}).status_code == 302
    policy = stored(session, "proposed-to")
    assert (policy.summary_en, policy.reference) == ("Reviewer's text.", "No. 9")


def test_a_proposal_of_nothing_or_to_a_draft_is_refused(session, users, published):
    with pytest.raises(Invalid, match="Nothing to propose"):
        review.propose_change(session, "policy", "proposed-to", {"summary_en": "Published."}, users["editor"],
                              published.version)
    load(session, policies=[policy_record("draft-one", editorial_state="draft")])
    with pytest.raises(Invalid, match="edited directly"):
        review.propose_change(session, "policy", "draft-one", {"summary_en": "x"}, users["editor"], 1)
    with pytest.raises(MergeConflict):
        proposal = review.propose_change(session, "policy", "proposed-to", {"summary_en": "A."}, users["editor"],
                                         published.version)
        editing.update_policy(session, "proposed-to", {"summary_en": "B."}, users["reviewer"], published.version)
        review.approve_proposal(session, proposal.id, users["reviewer"])


def test_the_proposer_may_withdraw_and_others_may_not(app, session, users, published):
    proposal = review.propose_change(session, "policy", "proposed-to", {"valid_to": "2035"}, users["editor"],
                                     published.version)
    session.commit()
    with pytest.raises(Forbidden):
        review.withdraw_proposal(session, proposal.id, session.scalars(
            select(User).where(User.role == "partner")).first())
    editor = signed_in(app, users, "editor")
    page = editor.get(f"/review/proposals/{proposal.id}")
    assert "Withdraw my proposal" in text_of(page)
    data = {"csrf_token": csrf_token(editor)}
    assert editor.post(f"/review/proposals/{proposal.id}/withdraw", data=data).status_code == 302
    session.refresh(proposal)
    assert proposal.state == "withdrawn"


# ---------------------------------------------------------------------------------------------------
# Organisations


def test_staff_create_and_edit_an_organisation_and_pick_it_as_issuer(app, session, users):
    editor = signed_in(app, users, "editor")
    _, data = form_of(editor.get("/organisations/new"), css="record-form")
    fill(data, {"name_lo": "ກົມ ພະລັງງານ ທົດແທນ", "name_en": "", "acronym": "DRE", "country": "la",
                 "kind": "agency", "parent": "la-mem"})
    response = editor.post("/organisations/new", data=data)
    assert response.status_code == 302
    key = response.headers["Location"].rsplit("/", 1)[1]
    assert key == "la-dre"
    organisation = session.scalars(select(Organisation).where(Organisation.key == key)).one()
    assert (organisation.country, organisation.name_en, organisation.acronym) == ("LA", None, "DRE")
    page = text_of(editor.get("/organisations/la-mem"))
    assert "Departments and bodies under it" in page and "DRE" in page
    # The issuer picker offers it, grouped under its country, findable by acronym and Lao name.
    picker = editor.get("/policies/new").get_data(as_text=True)
    lao_group = picker.split('<optgroup label="Lao PDR">', 1)[1].split("</optgroup>", 1)[0]
    assert '<option value="la-dre">DRE — ກົມ ພະລັງງານ ທົດແທນ</option>' in lao_group
    # An edit is audited and shown by display name.
    _, edit = form_of(editor.get(f"/organisations/{key}/edit"), css="record-form")
    edit["name_en"] = "Department of Renewable Energy"
    assert editor.post(f"/organisations/{key}/edit", data=edit).status_code == 302
    history = text_of(editor.get(f"/organisations/{key}/history"))
    assert "Edited by Test editor" in history
    assert "Name (English): (empty) → 'Department of Renewable Energy'" in history
    # It cannot become a part of itself.
    _, loop = form_of(editor.get("/organisations/la-mem/edit"), css="record-form")
    loop["parent"] = key
    refused = editor.post("/organisations/la-mem/edit", data=loop)
    assert refused.status_code == 400 and "part of itself" in text_of(refused)


def test_organisation_pages_show_what_each_issued_and_the_list_filters(client, session):
    text = text_of(client.get("/organisations?country=LA"))
    assert "Ministry of Energy and Mines" in text and "Ministry of Finance (Singapore)" not in text
    assert "MEM" in text_of(client.get("/organisations?q=mem"))
    assert "ກະຊວງພະລັງງານ ແລະ ບໍ່ແຮ່" in text_of(client.get("/organisations?q=ພະລັງງານ"))
    assert client.get("/organisations?kind=spaceship").status_code == 400
    assert client.get("/organisations/no-such-body").status_code == 404
    page = text_of(client.get("/organisations/la-mem"))
    assert "Issued" in page and "Events organised, funded or joined" in page


def test_the_organisation_list_costs_the_same_queries_for_few_or_many(client, session, count_queries, login_as):
    from tracker.services.organisations import create_organisation

    login_as("editor")  # staff pages are rendered every time, never answered from the page cache

    def page_queries() -> int:
        count_queries.reset()
        assert client.get("/organisations").status_code == 200
        return count_queries.count

    first = page_queries()
    admin = session.scalars(select(User).where(User.role == "admin")).first()
    for number in range(30):
        create_organisation(session, {"name_en": f"Body {number}", "kind": "agency", "country": "TH"}, admin)
    session.commit()
    assert page_queries() == first


# ---------------------------------------------------------------------------------------------------
# Activity


def test_the_activity_log_filters_by_person_type_country_and_date(app, session, users):
    load(session, policies=[policy_record("act-la", country="LA", editorial_state="draft"),
                            policy_record("act-th", country="TH", editorial_state="draft")])
    session.commit()
    editing.update_policy(session, "act-la", {"summary_en": "By the editor."}, users["editor"], None)
    editing.update_policy(session, "act-th", {"summary_en": "By the reviewer."}, users["reviewer"], None)
    session.commit()
    browser = signed_in(app, users, "reviewer")
    text = text_of(browser.get(f"/activity?person={users['editor'].id}"))
    assert "Test policy act-la" in text and "Test policy act-th" not in text
    text = text_of(browser.get("/activity?country=TH&type=policy"))
    assert "Test policy act-th" in text and "Test policy act-la" not in text
    assert "Edited by Test reviewer" in text
    assert "Test policy act-la" not in text_of(browser.get("/activity?until=01/01/2020"))
    assert browser.get("/activity?since=notadate").status_code == 400
    assert browser.get("/activity?type=spaceship").status_code == 400
    assert signed_in(app, users, "partner").get("/activity").status_code == 403


def test_the_activity_log_costs_the_same_queries_for_few_or_many_changes(app, session, users, count_queries):
    browser = signed_in(app, users, "reviewer")

    def page_queries() -> int:
        count_queries.reset()
        assert browser.get("/activity?per_page=50").status_code == 200
        return count_queries.count

    load(session, policies=[policy_record("busy", editorial_state="draft")])
    session.commit()
    first = page_queries()
    for number in range(40):
        editing.update_policy(session, "busy", {"summary_en": f"Round {number}"}, users["editor"], None)
    session.commit()
    assert page_queries() == first
    assert session.scalar(select(func.count()).select_from(AuditEntry)) > 50
