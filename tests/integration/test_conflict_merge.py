"""Two staff editing one record: a stale save is merged three ways and never reverts anyone's change."""
from __future__ import annotations

import pytest
from sqlalchemy import select

from tests.conftest import signed_in
from tests.factories import load, policy_record
from tests.integration.test_editing_pages import error_of, form_of, submit, text_of
from tracker.errors import MergeConflict
from tracker.models import AuditEntry, NotificationEvent, Policy
from tracker.services import editing

API = "/api/v1"
KEY = "merge-me"


def stored(session, key: str = KEY) -> Policy:
    session.expire_all()
    return session.scalars(select(Policy).where(Policy.key == key)).one()


def audit_fields(session, version: int, key: str = KEY) -> list[str]:
    return sorted(entry.field for entry in session.scalars(select(AuditEntry).where(
        AuditEntry.entity_key == key, AuditEntry.version == version, AuditEntry.field.is_not(None))))


@pytest.fixture
def published(session):
    load(session, policies=[policy_record(KEY, summary_en="The first summary.", valid_to="2030",
                                          editorial_state="published")])
    session.commit()
    return stored(session)


def open_edit(browser, key: str = KEY):
    page = browser.get(f"/policies/{key}/edit")
    assert page.status_code == 200
    return form_of(page, css="record-form")[1]


# ---------------------------------------------------------------------------------------------------
# Through the HTML forms


def test_two_staff_edit_one_published_policy_and_both_changes_survive(app, session, users, published):
    """A changes valid_to, B changes the summary from the same version; B's stale save is shown merged,
    and saving it again keeps A's valid_to and B's summary."""
    ana, bounmy = signed_in(app, users, "reviewer"), signed_in(app, users, "admin")
    form_a, form_b = open_edit(ana), open_edit(bounmy)
    base = published.version

    assert submit(ana, f"/policies/{KEY}/edit", form_a, valid_to="2031").status_code == 302
    assert stored(session).valid_to.isoformat() == "2031"
    events_before = len(session.scalars(select(NotificationEvent)).all())

    response = submit(bounmy, f"/policies/{KEY}/edit", form_b, summary_en="The summary written by B.")
    assert response.status_code == 409
    text = text_of(response)
    assert "Someone else changed this record while you were working on it" in text
    assert "Valid until: 2030 → 2031" in text
    assert "Your changes are in the form below, on top of the current version: Summary (English)." in text
    again = form_of(response, css="record-form")[1]
    # The form now holds A's change and B's own: pressing save again cannot revert A.
    assert again["valid_to"] == "2031" and again["summary_en"] == "The summary written by B."
    assert int(again["version"]) == base + 1
    assert "conflict_fields" not in again
    assert stored(session).summary_en == "The first summary."

    assert bounmy.post(f"/policies/{KEY}/edit", data=again).status_code == 302
    policy = stored(session)
    assert policy.valid_to.isoformat() == "2031" and policy.summary_en == "The summary written by B."
    assert policy.version == base + 2
    # B's save changed exactly one field, and told partners nothing about validity again.
    assert audit_fields(session, base + 2) == ["summary_en"]
    validity = session.scalars(select(NotificationEvent).where(
        NotificationEvent.type == "policy.validity_changed")).all()
    assert len(session.scalars(select(NotificationEvent)).all()) == events_before
    assert len(validity) == 1


def test_a_field_both_changed_is_shown_side_by_side_and_the_editor_picks(app, session, users, published):
    ana, bounmy = signed_in(app, users, "reviewer"), signed_in(app, users, "admin")
    form_a, form_b = open_edit(ana), open_edit(bounmy)
    assert submit(ana, f"/policies/{KEY}/edit", form_a, summary_en="A's summary.",
                  reference="No. 1/A").status_code == 302

    response = submit(bounmy, f"/policies/{KEY}/edit", form_b, summary_en="B's summary.", title_en="B's title")
    assert response.status_code == 409
    text = text_of(response)
    assert "Changed by both: Summary (English)" in text
    assert "'A's summary.'" in text and "'B's summary.'" in text
    again = form_of(response, css="record-form")[1]
    assert again["conflict_fields"] == "summary_en"
    assert again["summary_en"] == "B's summary." and again["reference"] == "No. 1/A"
    assert again["title_en"] == "B's title"

    # Saving without a pick is refused, and says where.
    refused = bounmy.post(f"/policies/{KEY}/edit", data=again)
    assert refused.status_code == 409
    assert error_of(refused, "resolve-summary_en") == "Choose the value to keep."
    assert stored(session).title_en != "B's title"

    # "Keep theirs" keeps A's summary and still applies B's title.
    assert submit(bounmy, f"/policies/{KEY}/edit", again, **{"resolve-summary_en": "theirs"}).status_code == 302
    policy = stored(session)
    assert (policy.summary_en, policy.title_en, policy.reference) == ("A's summary.", "B's title", "No. 1/A")


def test_keep_mine_applies_the_editors_value_over_the_other(app, session, users, published):
    ana, bounmy = signed_in(app, users, "reviewer"), signed_in(app, users, "admin")
    form_a, form_b = open_edit(ana), open_edit(bounmy)
    assert submit(ana, f"/policies/{KEY}/edit", form_a, valid_to="2031").status_code == 302
    again = form_of(submit(bounmy, f"/policies/{KEY}/edit", form_b, valid_to="2032"), css="record-form")[1]
    assert submit(bounmy, f"/policies/{KEY}/edit", again, **{"resolve-valid_to": "mine"}).status_code == 302
    assert stored(session).valid_to.isoformat() == "2032"


def test_a_third_save_between_the_conflict_page_and_the_retry_is_merged_too(app, session, users, published):
    ana, bounmy, chanthy = (signed_in(app, users, role) for role in ("reviewer", "admin", "reviewer"))
    form_a, form_b = open_edit(ana), open_edit(bounmy)
    assert submit(ana, f"/policies/{KEY}/edit", form_a, valid_to="2031").status_code == 302
    again = form_of(submit(bounmy, f"/policies/{KEY}/edit", form_b, summary_en="B's summary."),
                    css="record-form")[1]
    # Chanthy changes valid_to again while B looks at the conflict page.
    form_c = open_edit(chanthy)
    assert submit(chanthy, f"/policies/{KEY}/edit", form_c, valid_to="2033").status_code == 302

    response = bounmy.post(f"/policies/{KEY}/edit", data=again)
    assert response.status_code == 409  # B is shown Chanthy's change first
    assert "Valid until: 2031 → 2033" in text_of(response)
    final = form_of(response, css="record-form")[1]
    assert final["valid_to"] == "2033" and "conflict_fields" not in final
    assert bounmy.post(f"/policies/{KEY}/edit", data=final).status_code == 302
    policy = stored(session)
    assert (policy.valid_to.isoformat(), policy.summary_en) == ("2033", "B's summary.")


def test_list_fields_both_changed_merge_element_by_element(app, session, users, published):
    ana, bounmy = signed_in(app, users, "reviewer"), signed_in(app, users, "admin")
    form_a, form_b = open_edit(ana), open_edit(bounmy)
    assert submit(ana, f"/policies/{KEY}/edit", form_a,
                  topics=["charging_infrastructure", "fiscal_incentives", "import_rules"]).status_code == 302
    response = submit(bounmy, f"/policies/{KEY}/edit", form_b, topics=["charging_infrastructure"],
                      sources__1__url="https://example.org/added-by-b")
    assert response.status_code == 409
    again = form_of(response, css="record-form")[1]
    assert again.getlist("topics") == ["charging_infrastructure", "import_rules"]
    assert bounmy.post(f"/policies/{KEY}/edit", data=again).status_code == 302
    session.expire_all()
    record = editing.policy_record(session, editing._policy_for_edit(session, KEY))
    assert record["topics"] == ["charging_infrastructure", "import_rules"]
    assert [source["url"] for source in record["sources"]] == ["https://example.org/source",
                                                              "https://example.org/added-by-b"]


def test_an_unchanged_stale_form_reverts_nothing(app, session, users, published):
    ana, bounmy = signed_in(app, users, "reviewer"), signed_in(app, users, "admin")
    form_a, form_b = open_edit(ana), open_edit(bounmy)
    assert submit(ana, f"/policies/{KEY}/edit", form_a, valid_to="2031", summary_en="A.").status_code == 302
    response = bounmy.post(f"/policies/{KEY}/edit", data=form_b)
    assert response.status_code == 409
    assert "The form below shows the current version." in text_of(response)
    again = form_of(response, css="record-form")[1]
    assert bounmy.post(f"/policies/{KEY}/edit", data=again).status_code == 302
    policy = stored(session)
    assert (policy.valid_to.isoformat(), policy.summary_en) == ("2031", "A.")


# ---------------------------------------------------------------------------------------------------
# Through the API


def test_a_patch_with_an_old_version_is_refused_and_base_version_merges(client, session, api_token, published):
    base = published.version
    headers = api_token("reviewer")
    assert client.patch(f"{API}/policies/{KEY}", json={"version": base, "valid_to": "2031"},
                        headers=headers).status_code == 200

    stale = client.patch(f"{API}/policies/{KEY}", json={"version": base, "summary_en": "B."}, headers=headers)
    assert stale.status_code == 409
    error = stale.get_json()["error"]
    assert error["current_version"] == base + 1
    assert [(change["field"], change["new"]) for change in error["changes"]] == [("valid_to", "2031")]

    merged = client.patch(f"{API}/policies/{KEY}", json={"base_version": base, "summary_en": "B."},
                          headers=headers)
    assert merged.status_code == 200, merged.get_json()
    body = merged.get_json()
    assert body["valid_to"] == "2031" and body["summary_en"] == "B." and body["version"] == base + 2
    assert audit_fields(session, base + 2) == ["summary_en"]
    entry = session.scalars(select(AuditEntry).where(AuditEntry.entity_key == KEY,
                                                     AuditEntry.version == base + 2)).one()
    assert entry.details == {"merged_from_version": base, "fields_merged": ["summary_en"]}


def test_a_merge_that_meets_a_field_changed_on_both_sides_is_a_409_naming_it(client, session, api_token,
                                                                             published):
    base = published.version
    headers = api_token("reviewer")
    assert client.patch(f"{API}/policies/{KEY}", json={"version": base, "summary_en": "A."},
                        headers=headers).status_code == 200
    response = client.patch(f"{API}/policies/{KEY}", headers=headers,
                            json={"base_version": base, "summary_en": "B.", "reference": "No. B"})
    assert response.status_code == 409
    error = response.get_json()["error"]
    assert error["conflicts"] == [{"field": "summary_en", "base": "The first summary.", "yours": "B.",
                                   "current": "A."}]
    policy = stored(session)
    assert (policy.summary_en, policy.reference, policy.version) == ("A.", f"No. {KEY}", base + 1)
    # The same value on both sides is no conflict.
    agreed = client.patch(f"{API}/policies/{KEY}", headers=headers,
                          json={"base_version": base, "summary_en": "A.", "reference": "No. B"})
    assert agreed.status_code == 200 and agreed.get_json()["reference"] == "No. B"


def test_if_match_with_base_version_is_refused_and_bad_base_versions_are_named(client, session, api_token,
                                                                                 published):
    headers = api_token("reviewer")
    both = client.patch(f"{API}/policies/{KEY}", json={"base_version": 1, "title_en": "x"},
                        headers=headers | {"If-Match": f'"{published.version}"'})
    assert both.status_code == 400 and "base_version" in both.get_json()["error"]["errors"]
    future = client.patch(f"{API}/policies/{KEY}", json={"base_version": published.version + 5, "title_en": "x"},
                          headers=headers)
    assert future.status_code == 400 and "base_version" in future.get_json()["error"]["errors"]
    assert stored(session).title_en == f"Test policy {KEY}"


def test_the_service_merges_and_names_conflicts(session, users, published):
    base = published.version
    editing.update_policy(session, KEY, {"valid_to": "2031", "summary_en": "A."}, users["reviewer"], base)
    with pytest.raises(MergeConflict) as raised:
        editing.update_policy(session, KEY, {"summary_en": "B.", "valid_to": "2031"}, users["admin"], None,
                              base_version=base)
    [conflict] = raised.value.plan.conflicts
    assert (conflict.field, conflict.base, conflict.mine, conflict.theirs) == (
        "summary_en", "The first summary.", "B.", "A.")
    editing.update_policy(session, KEY, {"title_en": "New title", "valid_to": "2030"}, users["admin"], None,
                          base_version=base)
    policy = stored(session)
    # valid_to "2030" is what B read: B did not change it, so A's 2031 stands.
    assert (policy.title_en, policy.valid_to.isoformat(), policy.summary_en) == ("New title", "2031", "A.")
