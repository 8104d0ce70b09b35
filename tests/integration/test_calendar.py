"""Comment periods of consultation steps, the calendar page, its iCalendar feeds and the calendar API."""
from __future__ import annotations

import datetime as dt
import re

import pytest
from icalendar import Calendar
from sqlalchemy import select

from tracker.db import unit_of_work
from tracker.errors import Invalid
from tracker.models import AuditEntry, NotificationEvent, Policy, StatusChange
from tracker.services import editing


def _consultation_policy(session, users, key: str = "la-ev-draft-charging-rules", *, published: bool = True,
                         window: dict | None = None) -> Policy:
    """A Lao policy in consultation with a comment period."""
    editor = users["admin"]
    policy = editing.create_policy(session, {
        "key": key, "country": "LA", "instrument": "regulation", "title_en": "Draft rules on charging stations",
        "title_lo": "ຮ່າງລະບຽບກ່ຽວກັບສະຖານີສາກໄຟ", "topics": [], "status": "drafting",
        "status_effective_on": "2026-05-01"}, editor)
    editing.change_status(session, key, {
        "status": "consultation", "effective_on": "2026-06-01",
        "consultation": window or {"opens_on": "2026-06-01", "closes_on": "2026-07-14",
                                   "how_to_comment_en": "Write to the Department of Energy Business.",
                                   "how_to_comment_lo": "ສົ່ງຄຳເຫັນຫາກົມທຸລະກິດພະລັງງານ.",
                                   "comment_address": "comments@example.gov.la",
                                   "draft_url": "https://example.gov.la/draft.pdf"}}, editor)
    if published:
        editing.set_editorial_state(session, "policy", key, "published", editor)
    session.flush()
    return policy


def _frozen(app, monkeypatch, today: str) -> None:
    """Today, as the app's clock (TRACKER_TODAY) gives it."""
    monkeypatch.setitem(app.config, "TODAY", today)


# ---------------------------------------------------------------------------------------------------
# Recording and checking a comment period


def test_a_period_that_closes_before_it_opens_is_refused_naming_the_field(session, users):
    with pytest.raises(Invalid) as caught:
        _consultation_policy(session, users, window={"opens_on": "2026-07-14", "closes_on": "2026-07-01"})
    errors = caught.value.errors
    assert str(errors["consultation.closes_on"]) == "The comment period closes before it opens."


@pytest.mark.parametrize("window, field, message", [
    ({"closes_on": "2026-07"}, "consultation.closes_on", "'2026-07' is not a day written YYYY-MM-DD."),
    ({"closes_on": "2026-02-30"}, "consultation.closes_on", "'2026-02-30' is not a day written YYYY-MM-DD."),
    ({"closes_on": "2026-07-14", "comment_address": "http://example.org/form"}, "consultation.comment_address",
     "'http://example.org/form' is neither an email address nor an https URL."),
    ({"closes_on": "2026-07-14", "draft_document": 999999}, "consultation.draft_document",
     "This policy has no attached document 999999."),
])
def test_bad_parts_of_a_period_are_named(session, users, window, field, message):
    with pytest.raises(Invalid) as caught:
        _consultation_policy(session, users, window=window)
    assert str(caught.value.errors[field]) == message


def test_a_period_on_a_step_that_is_not_consultation_is_refused(session, users):
    _consultation_policy(session, users)
    with pytest.raises(Invalid) as caught:
        editing.change_status(session, "la-ev-draft-charging-rules", {
            "status": "adopted", "effective_on": "2026-08-01", "consultation": {"closes_on": "2026-09-01"}},
            users["admin"])
    assert str(caught.value.errors["consultation"]) == "Only a step into consultation has a comment period."


def test_moving_the_closing_day_is_audited_and_notifies_as_an_extension(session, users):
    policy = _consultation_policy(session, users)
    editing.update_status_step(session, policy.key, 2, {"consultation": {"closes_on": "2026-07-31"}},
                               users["admin"], policy.version)
    entry = session.scalars(select(AuditEntry).where(AuditEntry.entity_id == policy.id,
                                                     AuditEntry.action == "status_step_update")).one()
    assert (entry.field, entry.old_value, entry.new_value) == ("comment_closes_on", "2026-07-14", "2026-07-31")
    event = session.scalars(select(NotificationEvent).where(
        NotificationEvent.policy_id == policy.id, NotificationEvent.type == "policy.comment_period_changed")).one()
    assert event.payload["summary"] == "Comment period extended from 2026-07-14 to 2026-07-31"
    step = session.scalars(select(StatusChange).where(StatusChange.policy_id == policy.id,
                                                      StatusChange.position == 2)).one()
    # Parts not sent keep their value.
    assert step.comment_address == "comments@example.gov.la" and step.comment_opens_on == dt.date(2026, 6, 1)


def test_the_write_api_edits_a_step_and_the_policy_shows_the_period(client, session, users, api_token):
    policy = _consultation_policy(session, users)
    session.commit()
    auth = api_token("admin")
    response = client.patch(f"/api/v1/policies/{policy.key}/status/2", json={
        "version": policy.version, "consultation": {"closes_on": "2026-08-15"}, "gazetted_on": None},
        headers=auth)
    assert response.status_code == 200, response.get_json()
    [step] = [s for s in response.get_json()["status_history"] if s["position"] == 2]
    assert step["consultation"]["closes_on"] == "2026-08-15"
    assert step["consultation"]["how_to_comment_lo"] == "ສົ່ງຄຳເຫັນຫາກົມທຸລະກິດພະລັງງານ."
    bad = client.patch(f"/api/v1/policies/{policy.key}/status/2", json={
        "version": response.get_json()["version"], "consultation": {"opens_on": "2026-09-01"}},
        headers=auth | {"Accept-Language": "lo"})
    assert bad.status_code == 400
    assert "consultation.closes_on" in bad.get_json()["error"]["errors"]
    missing = client.patch(f"/api/v1/policies/{policy.key}/status/9", json={"version": 99, "gazetted_on": None},
                           headers=auth)
    assert missing.status_code in (404, 409)


def test_the_dataset_keeps_a_period_through_dump_and_load_and_old_files_still_load(session, users):
    from tracker.services.dataset import load_dataset
    from tracker.services.records import dump_dataset

    _consultation_policy(session, users)
    dumped = dump_dataset(session, compiled="2026-07-02")
    [record] = [p for p in dumped["policies"] if p["key"] == "la-ev-draft-charging-rules"]
    window = record["status_history"][1]["consultation"]
    assert window["closes_on"] == "2026-07-14" and window["comment_address"] == "comments@example.gov.la"
    assert "consultation" not in record["status_history"][0]  # a step without one reads as before
    record["key"] = "la-ev-draft-charging-rules-copy"
    record["status_history"][1]["consultation"]["closes_on"] = "2026-07-20"
    load_dataset(session, {"policies": [record]})
    copy = session.scalars(select(StatusChange).join(Policy).where(
        Policy.key == "la-ev-draft-charging-rules-copy", StatusChange.to_status == "consultation")).one()
    assert copy.comment_closes_on == dt.date(2026, 7, 20)


# ---------------------------------------------------------------------------------------------------
# The policy page


@pytest.mark.parametrize("today, headline", [
    ("2026-05-20", "Comment period opens on 1 June 2026"),
    ("2026-07-02", "Open for comment until 14 July 2026: 12 days left"),
    ("2026-07-13", "Open for comment until 14 July 2026: tomorrow is the last day"),
    ("2026-07-14", "Open for comment: closes today, 14 July 2026"),
    ("2026-07-15", "The comment period closed on 14 July 2026"),
])
def test_the_policy_page_counts_down_in_vientiane_days(app, client, session, users, monkeypatch, today, headline):
    _frozen(app, monkeypatch, today)
    _consultation_policy(session, users)
    session.commit()
    page = client.get("/policies/la-ev-draft-charging-rules").get_data(as_text=True)
    assert f'<h2 id="comment-title">{headline}</h2>' in page
    if today <= "2026-07-14":
        assert 'href="mailto:comments@example.gov.la"' in page
        assert "Write to the Department of Energy Business." in page
    assert 'href="https://example.gov.la/draft.pdf"' in page


def test_the_countdown_in_lao_writes_the_date_the_lao_way(app, client, session, users, monkeypatch):
    _frozen(app, monkeypatch, "2026-07-02")
    _consultation_policy(session, users)
    session.commit()
    page = client.get("/policies/la-ev-draft-charging-rules", headers={"Accept-Language": "lo"}).get_data(as_text=True)
    page = re.sub(r"<span class=\"lw\">|</span>|<wbr>", "", page)  # the marks that keep Lao words whole
    heading = page.split('<h2 id="comment-title">', 1)[1].split("</h2>", 1)[0]
    assert "ກໍລະກົດ" in heading and "12" in heading  # 14 ກໍລະກົດ 2026, 12 days
    assert "ສົ່ງຄຳເຫັນຫາກົມທຸລະກິດພະລັງງານ." in page  # how to comment, in Lao


def test_staff_see_warnings_on_a_lao_record_and_readers_do_not(app, client, session, users, login_as):
    policy = _consultation_policy(session, users)  # 1 June to 14 July: 44 days
    editing.change_status(session, policy.key, {"status": "adopted", "effective_on": "2026-08-01",
                                                "gazetted_on": "2026-08-05"}, users["admin"])
    editing.change_status(session, policy.key, {"status": "in_force", "effective_on": "2026-08-10"},
                          users["admin"])
    session.commit()
    assert "Checks of a Lao record" not in client.get(f"/policies/{policy.key}").get_data(as_text=True)
    login_as("editor")
    page = client.get(f"/policies/{policy.key}").get_data(as_text=True)
    assert "lasts 44 days; Lao rules ask for at least 60." in page
    assert "5 days after publication in the Official Gazette on 5 August 2026; Lao rules ask for at least 15." in page
    app.config["CONSULTATION_MIN_DAYS"], app.config["GAZETTE_MIN_DAYS"] = 30, 5
    try:
        page = client.get(f"/policies/{policy.key}?again=1").get_data(as_text=True)
    finally:
        app.config["CONSULTATION_MIN_DAYS"], app.config["GAZETTE_MIN_DAYS"] = 60, 15
    assert "Checks of a Lao record" not in page


def test_an_editor_opens_a_period_through_the_forms(client, session, users, login_as):
    policy = _consultation_policy(session, users, published=False)
    session.commit()
    login_as("editor")
    page = client.get(f"/policies/{policy.key}/status/2")
    assert page.status_code == 200
    token = page.get_data(as_text=True).split('name="step-csrf_token" type="hidden" value="', 1)[1].split('"', 1)[0]
    response = client.post(f"/policies/{policy.key}/status/2", data={
        "step-csrf_token": token, "step-version": policy.version, "step-comment_opens_on": "2026-06-01",
        "step-comment_closes_on": "2026-05-01"})
    assert response.status_code == 400
    assert "The comment period closes before it opens." in response.get_data(as_text=True)
    response = client.post(f"/policies/{policy.key}/status/2", data={
        "step-csrf_token": token, "step-version": policy.version, "step-comment_opens_on": "2026-06-01",
        "step-comment_closes_on": "2026-08-01", "step-comment_address": "https://example.gov.la/comment"})
    assert response.status_code == 302
    step = session.scalars(select(StatusChange).where(StatusChange.policy_id == policy.id,
                                                      StatusChange.position == 2)).one()
    session.refresh(step)
    assert step.comment_closes_on == dt.date(2026, 8, 1) and step.comment_how_en is None


# ---------------------------------------------------------------------------------------------------
# The calendar page, its feeds and the API


def test_the_calendar_groups_published_facts_by_month_and_filters_without_javascript(app, client, session, users,
                                                                                       monkeypatch):
    _frozen(app, monkeypatch, "2026-07-02")
    _consultation_policy(session, users)
    _consultation_policy(session, users, key="la-ev-draft-unpublished", published=False)
    session.commit()
    page = client.get("/calendar?country=LA&kind=comment_deadline").get_data(as_text=True)
    assert '<h2 id="month-2026-7">July 2026</h2>' in page
    assert "Draft rules on charging stations" in page
    assert "la-ev-draft-unpublished" not in page  # published records only
    assert 'name="country" value="LA" checked' in page and 'name="kind" value="comment_deadline" checked' in page
    assert 'href="webcal://localhost/calendar.ics?country=LA&amp;kind=comment_deadline"' in page
    none = client.get("/calendar?country=TH&kind=comment_deadline").get_data(as_text=True)
    assert "Draft rules on charging stations" not in none
    bad = client.get("/calendar?kind=birthday&from=2026-13-01")
    assert bad.status_code == 400
    assert "Unknown kind &#39;birthday&#39;" in bad.get_data(as_text=True)
    assert "from must be a day written YYYY-MM-DD" in bad.get_data(as_text=True)


def test_the_calendar_feed_is_valid_icalendar_with_stable_uids_and_rising_sequence(app, client, session, users,
                                                                                   monkeypatch):
    _frozen(app, monkeypatch, "2026-07-02")
    monkeypatch.setitem(app.config, "PUBLIC_URL", "https://tracker.example.org")
    policy = _consultation_policy(session, users)
    session.commit()

    def deadline(headers=None):
        response = client.get("/calendar.ics?country=LA&kind=comment_deadline", headers=headers or {})
        assert response.status_code == 200 and response.mimetype == "text/calendar"
        calendar = Calendar.from_ical(response.data)
        [event] = [c for c in calendar.walk("VEVENT")]
        return response, event

    response, event = deadline({"Host": "other-name.example"})
    assert str(event["UID"]) == "policy-la-ev-draft-charging-rules-comment-2@tracker.example.org"
    assert event["DTSTART"].params["VALUE"] == "DATE" and event["DTSTART"].dt == dt.date(2026, 7, 14)
    assert event["DTEND"].dt == dt.date(2026, 7, 15)
    assert str(event["SUMMARY"]) == "Comment deadline: Draft rules on charging stations"
    assert str(event["URL"]) == "https://tracker.example.org/policies/la-ev-draft-charging-rules"
    assert "DTSTAMP" in event
    first_sequence = int(event["SEQUENCE"])
    assert response.headers["ETag"] and response.headers["Last-Modified"]
    again = client.get("/calendar.ics?country=LA&kind=comment_deadline",
                       headers={"If-None-Match": response.headers["ETag"], "Host": "other-name.example"})
    assert again.status_code == 304

    with unit_of_work(session):
        editing.update_status_step(session, policy.key, 2, {"consultation": {"closes_on": "2026-07-31"}},
                                   users["admin"])
    _, moved = deadline()
    assert str(moved["UID"]) == str(event["UID"]) and moved["DTSTART"].dt == dt.date(2026, 7, 31)
    assert int(moved["SEQUENCE"]) > first_sequence

    lao = Calendar.from_ical(client.get(f"/policies/{policy.key}/calendar.ics?lang=lo").data)
    [lao_event] = lao.walk("VEVENT")
    assert "ຮ່າງລະບຽບກ່ຽວກັບສະຖານີສາກໄຟ" in str(lao_event["SUMMARY"])
    assert client.get(f"/policies/{policy.key}/calendar.ics?lang=fr").status_code == 400


def test_month_only_dates_span_their_month_and_year_only_dates_are_left_out(app, client, session, monkeypatch):
    from tests.factories import event_record, load

    _frozen(app, monkeypatch, "2026-07-02")
    load(session, events=[event_record("cal-month-forum", starts_on="2026-09"),
                          event_record("cal-year-forum", starts_on="2027")])
    session.commit()
    calendar = Calendar.from_ical(client.get("/calendar.ics?kind=event&country=TL").data)
    events = {str(e["UID"]).split("@")[0]: e for e in calendar.walk("VEVENT")}
    assert "event-cal-year-forum-event" not in events
    month = events["event-cal-month-forum-event"]
    assert month["DTSTART"].dt == dt.date(2026, 9, 1) and month["DTEND"].dt == dt.date(2026, 10, 1)
    body = client.get("/api/v1/calendar?kind=event&country=TL&from=2026-07-02&to=2026-12-31").get_json()
    assert [(i["key"], i["date"], i["first_day"], i["last_day"]) for i in body["items"]] == [
        ("cal-month-forum", "2026-09", "2026-09-01", "2026-09-30")]


def test_the_calendar_costs_the_same_queries_for_five_records_as_for_sixty(app, client, session, count_queries,
                                                                          monkeypatch):
    from tests.factories import event_record, load, policy_record

    _frozen(app, monkeypatch, "2026-07-02")

    def seed(prefix: str, count: int) -> None:
        load(session, events=[event_record(f"{prefix}-e{i}", starts_on=f"2026-08-0{1 + i % 9}")
                              for i in range(count)],
             policies=[policy_record(f"{prefix}-p{i}", valid_from="2026-09-01", valid_to="2027-12-31")
                       for i in range(count)])
        session.commit()

    def queries(url: str) -> int:
        count_queries.reset()
        response = client.get(url)
        assert response.status_code == 200
        return count_queries.count

    seed("cal-a", 5)
    urls = ["/calendar?country=TL", "/calendar.ics?country=TL", "/api/v1/calendar?country=TL"]
    few = [queries(url + "&n=1") for url in urls]
    seed("cal-b", 55)
    many = [queries(url + "&n=2") for url in urls]
    assert few == many
    assert max(many) <= 12
