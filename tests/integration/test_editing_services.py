"""Editing services on the real database: drafts, field edits, status timelines, publication, audit trail."""
from __future__ import annotations

import itertools
import os
import re
import threading
import uuid
from pathlib import Path

import pytest
from sqlalchemy import delete, func, select

from tests.conftest import PASSWORD, email_of
from tests.factories import event_record, load, policy_record
from tracker import migrate
from tracker.db import Database, unit_of_work
from tracker.errors import Forbidden, Invalid, NotFound, StaleEdit
from tracker.models import AuditEntry, Event, Policy, Source, StatusChange, User
from tracker.models.search_log import log_search_changes
from tracker.models.types import PartialDate
from tracker.models.vocab import LEGAL_STATUSES
from tracker.services import accounts
from tracker.services.dataset import load_dataset
from tracker.services.editing import (
    EDITORIAL_TRANSITIONS,
    TRANSITIONS,
    add_forum_link,
    change_status,
    create_policy,
    history,
    remove_forum_link,
    set_editorial_state,
    update_event,
    update_policy,
)
from tracker.services.editing import policy_record as record_of
from tracker.services.policies import get_policy

PUBLISHED_DEMO_POLICY = "la-gov-resolution-08-2021-ev-policy"
DEMO_EVENT = "lao-ev-forum-2022"
OTHER_DEMO_EVENT = "lao-emobility-workshop-2022"
LAO_TITLE = "ດຳລັດ ວ່າດ້ວຍ ສະຖານີສາກໄຟ ລົດໄຟຟ້າ 🔌🚗"
LAO_SUMMARY = "ກຳນົດ ມາດຕະຖານ ສະຖານີສາກໄຟ ທົ່ວປະເທດ ⚡ (ສະບັບທົດລອງ)"


def reload(session, key: str) -> Policy:
    """The policy as stored: the identity map is emptied first, so nothing comes from memory."""
    session.expire_all()
    return get_policy(session, key, include_unpublished=True)


def timeline(policy: Policy) -> list[tuple]:
    steps = sorted(policy.status_changes, key=lambda step: step.position)
    return [(step.position, step.from_status, step.to_status,
             step.effective_on.isoformat() if step.effective_on else None) for step in steps]


def counts(session) -> dict[str, int]:
    """Rows of the tables an edit writes to, read from the database."""
    session.expire_all()
    return {"policies": session.scalar(select(func.count(Policy.id))),
            "sources": session.scalar(select(func.count(Source.id))),
            "status_changes": session.scalar(select(func.count(StatusChange.id))),
            "audit_entries": session.scalar(select(func.count(AuditEntry.id)))}


def entries(session, key: str, *, action: str | None = None) -> list[AuditEntry]:
    statement = select(AuditEntry).where(AuditEntry.entity_type == "policy", AuditEntry.entity_key == key)
    if action is not None:
        statement = statement.where(AuditEntry.action == action)
    return list(session.scalars(statement.order_by(AuditEntry.id)))


def loaded_policy(session, key: str, *, editorial_state: str = "draft", **overrides) -> Policy:
    """A policy loaded as data, a draft unless told (history drafting 2023 -> adopted 2023-07 -> in force
    2023-08-01)."""
    load(session, policies=[policy_record(key, editorial_state=editorial_state, **overrides)])
    return reload(session, key)


def record_with_history(key: str, steps: list[tuple[str, str | None]]) -> dict:
    history_steps = [{"status": status, "date": date, "note": None, "source_url": None}
                     for status, date in steps]
    return policy_record(key, status=steps[-1][0], status_history=history_steps, editorial_state="draft")


def policy_with_history(session, key: str, steps: list[tuple[str, str | None]]) -> Policy:
    load(session, policies=[record_with_history(key, steps)])
    return reload(session, key)


# ---------------------------------------------------------------------------------------------------
# Creating a policy


def full_policy_input() -> dict:
    return {
        "country": "LA", "title_en": "Decree on EV charging stations — Vientiane 🚗", "title_lo": LAO_TITLE,
        "title_local": None, "reference": "No. 123/ລບ", "instrument": "decree", "issuer": "la-mem",
        "other_bodies": [{"org": "la-edl", "role": "implementing"}, {"org": "la-mpwt", "role": "partner"}],
        "topics": ["charging_infrastructure", "grid_and_energy"], "vehicle_classes": ["car", "two_wheeler"],
        "valid_from": "2024-03", "valid_to": "2030", "summary_en": "Sets a national charging standard.",
        "summary_lo": LAO_SUMMARY,
        "relations": [{"type": "implements", "target": PUBLISHED_DEMO_POLICY, "target_reference": None},
                      {"type": "related", "target": None, "target_reference": "ASEAN EV roadmap (draft)"}],
        "forum_links": [{"event": DEMO_EVENT, "role": "originated", "evidence": "Proposed at the forum. ✅",
                         "evidence_lo": "ສະເໜີໃນກອງປະຊຸມ ✅", "source_url": "https://example.org/forum-report"}],
        "sources": [{"url": "https://example.org/decree", "title": "ດຳລັດ (official text)",
                     "published": "2024-02-28", "kind": "official"}],
        "confidence": "high", "conflicts": ["Two sources give different month of signature."],
        "status": "drafting", "status_effective_on": "2024-01", "status_note": "Drafting began. ບົດບັນທຶກ",
        "status_evidence_url": "https://example.org/drafting",
    }


def test_create_policy_makes_a_draft_with_a_key_from_country_and_title_and_stores_every_field(session, users):
    data = full_policy_input()
    policy = create_policy(session, data, users["editor"])
    session.flush()

    assert policy.key == "la-decree-on-ev-charging-stations-vientiane"
    stored = reload(session, policy.key)
    assert stored.editorial_state == "draft"
    assert stored.legal_status == "drafting"
    record = record_of(session, stored)
    for name in ("country", "title_en", "title_lo", "title_local", "reference", "instrument", "issuer",
                 "other_bodies", "topics", "vehicle_classes", "valid_from", "valid_to", "summary_en",
                 "summary_lo", "relations", "forum_links", "sources", "confidence", "conflicts"):
        assert record[name] == data[name], name
    # Lao text and emoji come back byte for byte.
    assert stored.title_lo == LAO_TITLE and stored.summary_lo == LAO_SUMMARY
    assert stored.title_lo.encode() == LAO_TITLE.encode()

    [first_step] = stored.status_changes
    assert (first_step.position, first_step.from_status, first_step.to_status) == (1, None, "drafting")
    assert first_step.effective_on == PartialDate(2024, 1)
    assert first_step.note == "Drafting began. ບົດບັນທຶກ"
    assert first_step.evidence_url == "https://example.org/drafting"
    assert first_step.recorded_by == email_of("editor")
    assert first_step.recorded_by_id == users["editor"].id
    assert first_step.recorded_at is not None


def test_create_policy_writes_one_audit_entry_per_field_with_actor_and_version(session, users):
    data = full_policy_input()
    policy = create_policy(session, data, users["editor"])
    session.flush()

    created = entries(session, policy.key, action="create")
    by_field = {entry.field: entry for entry in created}
    assert len(by_field) == len(created)
    expected_fields = {name for name, value in data.items() if value not in (None, [])
                       and not name.startswith("status")} | {"status"}
    assert set(by_field) == expected_fields
    for entry in created:
        assert entry.actor_id == users["editor"].id
        assert entry.actor_label == email_of("editor")
        assert entry.version == policy.version
        assert entry.old_value is None
        assert entry.entity_id == policy.id
    assert by_field["title_lo"].new_value == LAO_TITLE
    assert by_field["topics"].new_value == ["charging_infrastructure", "grid_and_energy"]
    assert by_field["status"].new_value == "drafting"


def test_create_policy_defaults_to_proposed_and_never_reuses_a_key(session, users):
    first = create_policy(session, {"country": "TH", "title_en": "EV 3.5 package", "instrument": "incentive"},
                          users["editor"])
    second = create_policy(session, {"country": "TH", "title_en": "EV 3.5 package!",
                                     "instrument": "incentive"}, users["editor"])
    lao_only = create_policy(session, {"country": "LA", "title_en": "ນະໂຍບາຍ EV", "title_lo": "ນະໂຍບາຍ",
                                       "instrument": "strategy"}, users["editor"])
    assert (first.key, second.key, lao_only.key) == ("th-ev-3-5-package", "th-ev-3-5-package-2", "la-ev")
    assert reload(session, first.key).legal_status == "proposed"
    assert timeline(reload(session, first.key)) == [(1, None, "proposed", None)]
    with pytest.raises(Invalid) as raised:
        create_policy(session, {"key": first.key, "country": "TH", "title_en": "Again", "instrument": "law"},
                      users["editor"])
    assert set(raised.value.errors) == {"key"}


@pytest.mark.parametrize(("data", "field"), [
    ({"title_en": ""}, "title_en"),
    ({"title_en": "x" * 501}, "title_en"),
    ({"valid_from": "2023-02-30"}, "valid_from"),
    ({"topics": ["not_a_topic"]}, "topics[0]"),
    ({"issuer": "no-such-ministry"}, "issuer"),
    ({"status": "in_limbo"}, "status"),
    ({"status_effective_on": "2024-13"}, "status_effective_on"),
    ({"status_evidence_url": "javascript:alert(1)"}, "status_evidence_url"),
    ({"editorial_state": "published"}, "editorial_state"),
    ({"key": "Not A Key"}, "key"),
])
def test_create_policy_refuses_bad_input_naming_the_field_and_writes_nothing(session, users, data, field):
    before = counts(session)
    with pytest.raises(Invalid) as raised:
        create_policy(session, {"country": "LA", "title_en": "A title", "instrument": "law", **data},
                      users["editor"])
    assert field in raised.value.errors
    session.flush()
    assert counts(session) == before


# ---------------------------------------------------------------------------------------------------
# Editing fields


def test_update_policy_changes_only_the_given_fields_and_audits_each_with_old_and_new(session, users):
    policy = loaded_policy(session, "edit-some-fields")
    before = record_of(session, policy)
    version = policy.version

    update_policy(session, "edit-some-fields", {"title_en": "Renamed decree", "summary_lo": LAO_SUMMARY,
                                                "topics": ["import_rules"]}, users["editor"], version)
    session.flush()

    stored = reload(session, "edit-some-fields")
    after = record_of(session, stored)
    assert after == before | {"title_en": "Renamed decree", "summary_lo": LAO_SUMMARY,
                              "topics": ["import_rules"]}
    assert stored.version == version + 1
    updates = entries(session, "edit-some-fields", action="update")
    assert sorted((e.field, e.old_value, e.new_value) for e in updates) == sorted([
        ("title_en", before["title_en"], "Renamed decree"),
        ("summary_lo", None, LAO_SUMMARY),
        ("topics", before["topics"], ["import_rules"]),
    ])
    assert {(e.actor_id, e.actor_label, e.version) for e in updates} == {
        (users["editor"].id, email_of("editor"), version + 1)}


def test_update_policy_with_nothing_new_writes_no_entry_and_keeps_the_version(session, users):
    policy = loaded_policy(session, "edit-nothing")
    version, before = policy.version, record_of(session, policy)
    audit_before = len(entries(session, "edit-nothing"))

    update_policy(session, "edit-nothing", {}, users["editor"], version)
    update_policy(session, "edit-nothing", {"title_en": before["title_en"], "topics": before["topics"],
                                            "sources": before["sources"]}, users["editor"], version)
    session.flush()

    stored = reload(session, "edit-nothing")
    assert stored.version == version
    assert record_of(session, stored) == before
    assert len(entries(session, "edit-nothing")) == audit_before


def test_a_title_of_exactly_500_characters_is_accepted(session, users):
    policy = loaded_policy(session, "edit-long-title")
    update_policy(session, "edit-long-title", {"title_en": "ລ" * 500}, users["editor"], policy.version)
    assert reload(session, "edit-long-title").title_en == "ລ" * 500


BAD_EDITS = [
    pytest.param({"title_en": "", "title_lo": ""}, "title_en", id="empty-title"),
    pytest.param({"title_en": "   ", "title_lo": None}, "title_en", id="blank-title"),
    pytest.param({"title_en": None, "title_lo": "\n\t"}, "title_en", id="null-title"),
    pytest.param({"reference": "No.\x00 1"}, "reference", id="nul"),
    pytest.param({"title_en": "t" * 501}, "title_en", id="501-char-title"),
    pytest.param({"valid_from": "2023-02-30"}, "valid_from", id="impossible-date"),
    pytest.param({"valid_to": "2023-99"}, "valid_to", id="impossible-month"),
    pytest.param({"topics": ["charging_infrastructure", "teleportation"]}, "topics[1]", id="unknown-topic"),
    pytest.param({"issuer": "ministry-of-magic"}, "issuer", id="unknown-issuer"),
    pytest.param({"other_bodies": [{"org": "ministry-of-magic", "role": "partner"}]}, "other_bodies[0].org",
                 id="unknown-organisation"),
    pytest.param({"forum_links": [{"event": "no-such-forum", "role": "discussed"}]}, "forum_links[0].event",
                 id="unknown-event"),
    pytest.param({"relations": [{"type": "amends", "target": "no-such-policy"}]}, "relations[0].target",
                 id="unknown-relation-target"),
    pytest.param({"relations": [{"type": "amends", "target": "edit-invalid"}]}, "relations[0].target",
                 id="self-relation"),
    pytest.param({"sources": [{"url": "ftp://example.org/decree.pdf", "title": "FTP", "kind": "official"}]},
                 "sources[0].url", id="ftp-url"),
    pytest.param({"sources": [{"url": "javascript:alert(1)", "title": "Script", "kind": "official"}]},
                 "sources[0].url", id="javascript-url"),
    pytest.param({"forum_links": [{"event": DEMO_EVENT, "role": "discussed",
                                   "source_url": "file:///etc/passwd"}]},
                 "forum_links[0].source_url", id="file-url"),
    pytest.param({"flavour": "vanilla"}, "flavour", id="unknown-field"),
    pytest.param({"status": "repealed"}, "status", id="status-is-not-a-field"),
    pytest.param({"editorial_state": "published"}, "editorial_state", id="publication-is-not-a-field"),
]


@pytest.mark.parametrize(("changes", "field"), BAD_EDITS)
def test_update_policy_refuses_bad_input_naming_the_field_and_writes_nothing(session, users, changes, field):
    policy = loaded_policy(session, "edit-invalid")
    before_record, before_version = record_of(session, policy), policy.version
    before_counts = counts(session)

    with pytest.raises(Invalid) as raised:
        update_policy(session, "edit-invalid", {"summary_en": "A change that must not land.", **changes},
                      users["editor"], before_version)
    assert field in raised.value.errors, raised.value.errors
    assert raised.value.errors[field]

    session.flush()
    assert counts(session) == before_counts
    stored = reload(session, "edit-invalid")
    assert stored.version == before_version
    assert record_of(session, stored) == before_record


def test_editors_edit_drafts_and_records_in_review_but_not_published_ones(session, users):
    loaded_policy(session, "edit-draft")
    load(session, policies=[policy_record("edit-in-review", editorial_state="in_review"),
                            policy_record("edit-published"),
                            policy_record("edit-archived", editorial_state="archived")])
    for key in ("edit-draft", "edit-in-review"):
        update_policy(session, key, {"summary_en": "Edited by an editor."}, users["editor"], None)
        assert reload(session, key).summary_en == "Edited by an editor."
    for key in ("edit-published", "edit-archived", PUBLISHED_DEMO_POLICY):
        before = record_of(session, reload(session, key))
        with pytest.raises(Forbidden):
            update_policy(session, key, {"summary_en": "Edited by an editor."}, users["editor"], None)
        with pytest.raises(Forbidden):
            add_forum_link(session, key, {"event": OTHER_DEMO_EVENT, "role": "recommended"}, users["editor"])
        assert record_of(session, reload(session, key)) == before


def test_reviewers_and_admins_edit_published_records(session, users):
    for role in ("reviewer", "admin"):
        policy = reload(session, PUBLISHED_DEMO_POLICY)
        update_policy(session, PUBLISHED_DEMO_POLICY, {"summary_en": f"Corrected by the {role}."},
                      users[role], policy.version)
        assert reload(session, PUBLISHED_DEMO_POLICY).summary_en == f"Corrected by the {role}."
        assert entries(session, PUBLISHED_DEMO_POLICY, action="update")[-1].actor_id == users[role].id


def test_partners_can_change_nothing(session, users):
    policy = loaded_policy(session, "edit-partner")
    partner = users["partner"]
    before_counts = counts(session)
    attempts = [
        lambda: create_policy(session, {"country": "LA", "title_en": "Partner idea", "instrument": "law"},
                              partner),
        lambda: update_policy(session, "edit-partner", {"title_en": "Partner edit"}, partner, policy.version),
        lambda: update_policy(session, PUBLISHED_DEMO_POLICY, {"title_en": "Partner edit"}, partner, None),
        lambda: change_status(session, "edit-partner", {"status": "in_force", "note": "Confirmed."}, partner),
        lambda: set_editorial_state(session, "policy", "edit-partner", "in_review", partner),
        lambda: add_forum_link(session, "edit-partner", {"event": DEMO_EVENT, "role": "discussed"}, partner),
    ]
    for attempt in attempts:
        with pytest.raises(Forbidden):
            attempt()
    session.flush()
    assert counts(session) == before_counts


def test_a_disabled_editor_can_change_nothing(session, users):
    loaded_policy(session, "edit-disabled")
    accounts.set_active(session, users["editor"], False, users["admin"])
    with pytest.raises(Forbidden):
        update_policy(session, "edit-disabled", {"title_en": "After leaving"}, users["editor"], None)
    with pytest.raises(Forbidden):
        change_status(session, "edit-disabled", {"status": "in_force"}, users["editor"])


def test_editing_an_unknown_policy_is_not_found(session, users):
    with pytest.raises(NotFound):
        update_policy(session, "no-such-policy", {"title_en": "x"}, users["reviewer"], None)
    with pytest.raises(NotFound):
        change_status(session, "no-such-policy", {"status": "adopted"}, users["reviewer"])
    with pytest.raises(NotFound):
        set_editorial_state(session, "policy", "no-such-policy", "published", users["reviewer"])
    with pytest.raises(NotFound):
        history(session, "policy", "no-such-policy")


# ---------------------------------------------------------------------------------------------------
# Legal status changes


ALLOWED_MOVES = [(old, new) for old, targets in TRANSITIONS.items() for new in sorted(targets)]
OUT_OF_TABLE_MOVES = [(old, new) for old in LEGAL_STATUSES for new in LEGAL_STATUSES
                      if new != old and new not in TRANSITIONS[old]]


@pytest.mark.slow
def test_every_move_of_the_transition_table_is_allowed_to_an_editor(session, users):
    load(session, policies=[record_with_history(f"move-{number}", [(old, "2020")])
                            for number, (old, _) in enumerate(ALLOWED_MOVES)])
    for number, (old, new) in enumerate(ALLOWED_MOVES):
        key = f"move-{number}"
        change = change_status(session, key, {"status": new, "effective_on": "2021",
                                              "note": f"{old} to {new}"}, users["editor"])
        assert (change.from_status, change.to_status, change.override_reason) == (old, new, None)
        assert reload(session, key).legal_status == new, (old, new)


def test_recording_the_same_status_again_is_always_allowed(session, users):
    load(session, policies=[record_with_history(f"same-{number}", [(status, "2020")])
                            for number, status in enumerate(LEGAL_STATUSES)])
    for number, status in enumerate(LEGAL_STATUSES):
        key = f"same-{number}"
        change_status(session, key, {"status": status, "effective_on": "2022-06", "note": "Confirmed again.",
                                     "evidence_url": "https://example.org/confirmation"}, users["editor"])
        stored = reload(session, key)
        assert stored.legal_status == status
        assert timeline(stored) == [(1, None, status, "2020"), (2, status, status, "2022-06")]


@pytest.mark.slow
def test_moves_outside_the_table_are_forbidden_to_editors(session, users):
    load(session, policies=[record_with_history(f"out-{number}", [(old, "2020")])
                            for number, (old, _) in enumerate(OUT_OF_TABLE_MOVES)])
    for number, (old, new) in enumerate(OUT_OF_TABLE_MOVES):
        key = f"out-{number}"
        with pytest.raises(Forbidden):
            change_status(session, key, {"status": new, "effective_on": "2021", "reason": "I say so."},
                          users["editor"])
        stored = reload(session, key)
        assert stored.legal_status == old and len(stored.status_changes) == 1, (old, new)


def test_a_reviewer_needs_a_reason_to_go_outside_the_table_and_the_reason_is_kept(session, users):
    policy_with_history(session, "override", [("repealed", "2020-05")])
    before = counts(session)
    with pytest.raises(Invalid) as raised:
        change_status(session, "override", {"status": "in_force", "effective_on": "2021"}, users["reviewer"])
    assert set(raised.value.errors) == {"reason"}
    with pytest.raises(Invalid):
        change_status(session, "override", {"status": "in_force", "effective_on": "2021", "reason": "   "},
                      users["reviewer"])
    assert counts(session) == before

    reason = "The Constitutional Court annulled the repeal (judgment 12/2021)."
    change = change_status(session, "override", {"status": "in_force", "effective_on": "2021",
                                                  "reason": reason}, users["reviewer"])
    session.flush()
    assert change.override_reason == reason
    stored = reload(session, "override")
    assert stored.legal_status == "in_force"
    [entry] = entries(session, "override", action="status_change")
    assert entry.reason == reason
    assert (entry.field, entry.old_value, entry.new_value) == ("legal_status", "repealed", "in_force")


def test_a_reason_given_for_a_move_inside_the_table_is_audited_but_no_override_is_recorded(session, users):
    policy_with_history(session, "in-table-reason", [("adopted", "2020")])
    change = change_status(session, "in-table-reason", {"status": "in_force", "reason": "Gazette published."},
                           users["reviewer"])
    assert change.override_reason is None
    assert entries(session, "in-table-reason", action="status_change")[-1].reason == "Gazette published."


def test_a_back_dated_change_takes_its_place_in_the_timeline_and_from_statuses_follow(session, users):
    policy = loaded_policy(session, "back-dated")  # drafting 2023 -> adopted 2023-07 -> in_force 2023-08-01
    assert timeline(policy) == [(1, None, "drafting", "2023"), (2, "drafting", "adopted", "2023-07"),
                                (3, "adopted", "in_force", "2023-08-01")]

    change = change_status(session, "back-dated", {"status": "consultation", "effective_on": "2023-03-15",
                                                   "note": "Public consultation opened."}, users["editor"])
    session.flush()

    stored = reload(session, "back-dated")
    assert timeline(stored) == [(1, None, "drafting", "2023"), (2, "drafting", "consultation", "2023-03-15"),
                                (3, "consultation", "adopted", "2023-07"),
                                (4, "adopted", "in_force", "2023-08-01")]
    assert stored.legal_status == "in_force"
    assert change.position == 2 and change.from_status == "drafting"
    [entry] = entries(session, "back-dated", action="status_change")
    assert (entry.field, entry.old_value, entry.new_value) == ("legal_status", "in_force", "in_force")
    assert entry.details == {"status": "consultation", "effective_on": "2023-03-15",
                             "note": "Public consultation opened.", "note_lo": None, "evidence_url": None,
                             "position": 2,
                             "from_status": "drafting"}
    assert entry.actor_id == users["editor"].id


def test_a_back_dated_change_must_fit_the_step_that_follows_it(session, users):
    loaded_policy(session, "back-dated-misfit")  # drafting 2023 -> adopted 2023-07 -> in_force 2023-08-01
    # Withdrawn in May 2023, then adopted in July: withdrawn leads nowhere in the table.
    with pytest.raises(Forbidden):
        change_status(session, "back-dated-misfit", {"status": "withdrawn", "effective_on": "2023-05"},
                      users["editor"])
    with pytest.raises(Invalid) as raised:
        change_status(session, "back-dated-misfit", {"status": "withdrawn", "effective_on": "2023-05"},
                      users["reviewer"])
    assert "reason" in raised.value.errors
    assert len(reload(session, "back-dated-misfit").status_changes) == 3


def test_partial_dates_order_the_timeline_sensibly_and_undated_changes_go_last(session, users):
    policy_with_history(session, "partial-dates", [("proposed", "2020"), ("adopted", "2022-02")])
    editor = users["editor"]
    change_status(session, "partial-dates", {"status": "drafting", "effective_on": "2021-05"}, editor)
    # A year alone comes before the months of that year, as its text sorts.
    change_status(session, "partial-dates", {"status": "consultation", "effective_on": "2021"}, editor)
    # A day comes after its month, and a later day of the same month after it.
    change_status(session, "partial-dates", {"status": "drafting", "effective_on": "2021-05-20"}, editor)
    # The same date as an existing step: after it.
    change_status(session, "partial-dates", {"status": "adopted", "effective_on": "2022-02"}, editor)
    # No date: the change is the newest step.
    change_status(session, "partial-dates", {"status": "in_force", "note": "Confirmed by the ministry."},
                  editor)
    # A dated change earlier than the last dated step still goes before it, not after the undated one.
    change_status(session, "partial-dates", {"status": "drafting", "effective_on": "2021-06"}, editor)

    stored = reload(session, "partial-dates")
    assert timeline(stored) == [
        (1, None, "proposed", "2020"),
        (2, "proposed", "consultation", "2021"),
        (3, "consultation", "drafting", "2021-05"),
        (4, "drafting", "drafting", "2021-05-20"),
        (5, "drafting", "drafting", "2021-06"),
        (6, "drafting", "adopted", "2022-02"),
        (7, "adopted", "adopted", "2022-02"),
        (8, "adopted", "in_force", None),
    ]
    assert stored.legal_status == "in_force"
    assert stored.status_changed_on == PartialDate(2022, 2)
    assert stored.adopted_on == PartialDate(2022, 2)


def test_the_current_status_is_the_last_step_even_when_a_change_is_back_dated(session, users):
    policy_with_history(session, "current-is-last", [("adopted", "2020-01"), ("in_force", "2020-06")])
    change_status(session, "current-is-last", {"status": "suspended", "effective_on": "2024-02-01"},
                  users["editor"])
    assert reload(session, "current-is-last").legal_status == "suspended"
    # Back-dated "in force" in 2021 (a confirmation before the suspension) does not revive it.
    change_status(session, "current-is-last", {"status": "in_force", "effective_on": "2021"}, users["editor"])
    stored = reload(session, "current-is-last")
    assert stored.legal_status == "suspended"
    assert [step[2] for step in timeline(stored)] == ["adopted", "in_force", "in_force", "suspended"]
    assert [e.new_value for e in entries(session, "current-is-last", action="status_change")] == [
        "suspended", "suspended"]


def test_a_status_change_in_one_transaction_leaves_the_record_editable(session, users):
    """A back-dated change followed by another edit in the same transaction (a form that records the
    status and corrects a field) must see the timeline in date order, as a fresh read would."""
    loaded_policy(session, "same-transaction")
    change_status(session, "same-transaction", {"status": "consultation", "effective_on": "2023-03"},
                  users["editor"])
    policy = update_policy(session, "same-transaction", {"summary_en": "Consultation added."},
                           users["editor"], None)
    assert [step["status"] for step in record_of(session, policy)["status_history"]] == [
        "drafting", "consultation", "adopted", "in_force"]
    assert reload(session, "same-transaction").summary_en == "Consultation added."


def test_editors_record_status_changes_of_published_records(session, users):
    before = reload(session, PUBLISHED_DEMO_POLICY)
    status, steps = before.legal_status, len(before.status_changes)
    change_status(session, PUBLISHED_DEMO_POLICY,
                  {"status": status, "effective_on": "2025-01-15", "note": "Still in effect."},
                  users["editor"], before.version)
    stored = reload(session, PUBLISHED_DEMO_POLICY)
    assert stored.legal_status == status and len(stored.status_changes) == steps + 1
    assert stored.status_changes[-1].recorded_by == email_of("editor")


@pytest.mark.parametrize(("data", "field"), [
    ({"status": "in_limbo"}, "status"),
    ({}, "status"),
    ({"status": "in_force", "effective_on": "2023-02-29"}, "effective_on"),
    ({"status": "in_force", "effective_on": "yesterday"}, "effective_on"),
    ({"status": "in_force", "effective_on": 2023}, "effective_on"),
    ({"status": "in_force", "evidence_url": "ftp://example.org/gazette"}, "evidence_url"),
    ({"status": "in_force", "note": "n" * 5001}, "note"),
    ({"status": "in_force", "mood": "optimistic"}, "mood"),
])
def test_a_bad_status_change_names_the_field_and_writes_nothing(session, users, data, field):
    loaded_policy(session, "bad-status")
    before = counts(session)
    with pytest.raises(Invalid) as raised:
        change_status(session, "bad-status", data, users["reviewer"])
    assert field in raised.value.errors
    assert counts(session) == before
    assert reload(session, "bad-status").legal_status == "in_force"


# ---------------------------------------------------------------------------------------------------
# Optimistic locking


def test_an_edit_based_on_an_old_version_is_refused_with_what_changed_since(session, users):
    policy = loaded_policy(session, "stale")
    read_version = policy.version
    update_policy(session, "stale", {"title_en": "Title by the reviewer"}, users["reviewer"], read_version)
    change_status(session, "stale", {"status": "suspended", "effective_on": "2024-05"}, users["reviewer"],
                  read_version + 1)
    current = reload(session, "stale").version
    assert current > read_version + 1

    with pytest.raises(StaleEdit) as raised:
        update_policy(session, "stale", {"summary_en": "Summary by the editor"}, users["editor"],
                      read_version)
    stale = raised.value
    assert stale.current_version == current
    assert [(e.field, e.new_value, e.actor_id) for e in stale.changes] == [
        ("title_en", "Title by the reviewer", users["reviewer"].id),
        ("legal_status", "suspended", users["reviewer"].id)]
    assert "version" in stale.message
    stored = reload(session, "stale")
    assert stored.summary_en != "Summary by the editor" and stored.version == current

    for attempt in (
            lambda: change_status(session, "stale", {"status": "in_force"}, users["editor"], read_version),
            lambda: set_editorial_state(session, "policy", "stale", "in_review", users["editor"],
                                        read_version),
            lambda: add_forum_link(session, "stale", {"event": DEMO_EVENT, "role": "discussed"},
                                   users["editor"], read_version)):
        with pytest.raises(StaleEdit):
            attempt()
    assert reload(session, "stale").version == current


def test_two_editors_saving_the_same_version_one_wins(session, users):
    version = loaded_policy(session, "two-editors").version
    update_policy(session, "two-editors", {"title_en": "First editor's title"}, users["editor"], version)
    with pytest.raises(StaleEdit):
        update_policy(session, "two-editors", {"title_en": "Second editor's title"}, users["reviewer"],
                      version)
    stored = reload(session, "two-editors")
    assert stored.title_en == "First editor's title" and stored.version == version + 1
    assert [e.new_value for e in entries(session, "two-editors", action="update")] == ["First editor's title"]


@pytest.mark.parametrize("changes", [
    pytest.param({"topics": ["import_rules"]}, id="topics"),
    pytest.param({"vehicle_classes": ["bus"]}, id="vehicle-classes"),
    pytest.param({"other_bodies": []}, id="other-bodies"),
    pytest.param({"sources": [{"url": "https://example.org/new-source", "title": "New", "published": None,
                               "kind": "news"}]}, id="sources"),
    pytest.param({"relations": [{"type": "related", "target": PUBLISHED_DEMO_POLICY,
                                 "target_reference": None}]}, id="relations"),
    pytest.param({"forum_links": [{"event": DEMO_EVENT, "role": "discussed", "evidence": None,
                                   "source_url": None}]}, id="forum-links"),
])
def test_every_change_moves_the_version_on_so_a_stale_edit_cannot_overwrite_it(session, users, changes):
    """A change to the lists of a record (topics, sources, links) is a change of the record: an editor who
    read the version before it must be refused, never allowed to overwrite it silently."""
    version = loaded_policy(session, "list-change").version
    update_policy(session, "list-change", changes, users["editor"], version)
    assert reload(session, "list-change").version == version + 1
    with pytest.raises(StaleEdit):
        update_policy(session, "list-change", {"title_en": "Written on a stale copy"}, users["reviewer"],
                      version)


def test_a_change_to_the_lists_of_an_event_moves_its_version_on(session, users):
    load(session, events=[event_record("list-change-forum", editorial_state="draft")])
    version = session.scalars(select(Event.version).where(Event.key == "list-change-forum")).one()
    update_event(session, "list-change-forum", {"topics": ["import_rules"], "funders": []}, users["editor"],
                 version)
    session.expire_all()
    assert session.scalars(select(Event.version).where(Event.key == "list-change-forum")).one() == version + 1
    with pytest.raises(StaleEdit):
        update_event(session, "list-change-forum", {"venue": "Luang Prabang"}, users["reviewer"], version)


def test_every_status_change_moves_the_version_on(session, users):
    policy = loaded_policy(session, "status-versions")
    versions = [policy.version]
    for data in ({"status": "in_force", "note": "Confirmed, undated."},
                 {"status": "consultation", "effective_on": "2023-03"},
                 {"status": "in_force", "effective_on": "2023-09"}):
        change_status(session, "status-versions", data, users["editor"], versions[-1])
        versions.append(reload(session, "status-versions").version)
    assert versions == [versions[0] + number for number in range(4)]
    assert [e.version for e in entries(session, "status-versions", action="status_change")] == versions[1:]


# ---------------------------------------------------------------------------------------------------
# Real concurrency: two threads, two sessions, one record


class Outcome:
    """What one editor's save came to, read while its session was still open."""

    def __init__(self, saved: bool, stale: StaleEdit | None = None) -> None:
        self.saved = saved
        self.stale = stale
        # The entries are ORM rows of the loser's session: read them before it closes.
        self.changes = [(entry.field, entry.version) for entry in stale.changes] if stale else []

    def __repr__(self) -> str:
        return "saved" if self.saved else f"stale edit (current version {self.stale.current_version})"


def _race(database: Database, key: str, editor_ids: dict[str, int],
          round_number: int) -> tuple[int, dict[str, object]]:
    """Two editors read the same version, then save at the same moment; returns (version read, outcomes)."""
    start = threading.Barrier(len(editor_ids), timeout=30)
    outcomes: dict[str, object] = {}
    versions: dict[str, int] = {}

    def editor(name: str, user_id: int) -> None:
        try:
            with database.session() as reader:
                versions[name] = reader.scalar(select(Policy.version).where(Policy.key == key))
            start.wait()
            session = database.session(write=True)
            try:
                with unit_of_work(session):
                    actor = session.get(User, user_id)
                    update_policy(session, key, {"title_en": f"Title by {name}, round {round_number}"}, actor,
                                  expected_version=versions[name])
                outcomes[name] = Outcome(saved=True)
            except StaleEdit as stale:
                outcomes[name] = Outcome(saved=False, stale=stale)
            finally:
                session.close()
        except BaseException as error:  # collected and asserted by the caller
            outcomes[name] = error

    threads = [threading.Thread(target=editor, args=item) for item in editor_ids.items()]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert not any(thread.is_alive() for thread in threads)
    assert len(set(versions.values())) == 1, versions
    return versions[next(iter(versions))], outcomes


def _assert_one_winner(database: Database, key: str, version: int, outcomes: dict[str, object],
                       round_number: int) -> Outcome:
    winners = [name for name, outcome in outcomes.items() if isinstance(outcome, Outcome) and outcome.saved]
    losers = [outcome for outcome in outcomes.values()
              if not (isinstance(outcome, Outcome) and outcome.saved)]
    assert len(winners) == 1, outcomes
    assert len(losers) == 1 and isinstance(losers[0], Outcome), outcomes
    with database.session() as reader:
        stored = reader.scalars(select(Policy).where(Policy.key == key)).one()
        assert stored.title_en == f"Title by {winners[0]}, round {round_number}"
        assert stored.version == version + 1
        written = reader.scalars(select(AuditEntry).where(
            AuditEntry.entity_key == key, AuditEntry.action == "update",
            AuditEntry.version == version + 1)).all()
        assert [(entry.field, entry.new_value) for entry in written] == [("title_en", stored.title_en)]
    return losers[0]


def _minimal_reference_data() -> dict:
    return {"organisations": [
        {"key": "la-mem", "name_en": "Ministry of Energy and Mines", "name_lo": None, "country": "LA",
         "kind": "ministry"},
        {"key": "la-edl", "name_en": "EDL", "name_lo": None, "country": "LA", "kind": "utility"}],
        "topics": [{"key": "charging_infrastructure", "name_en": "Charging", "name_lo": None},
                   {"key": "fiscal_incentives", "name_en": "Fiscal", "name_lo": None}]}


def test_two_threads_saving_the_same_version_on_a_sqlite_file_exactly_one_wins(tmp_path: Path):
    database = Database(f"sqlite:///{tmp_path / 'race.db'}")
    try:
        migrate.upgrade(database.engine)
        with unit_of_work(database.session(write=True)) as session:
            load_dataset(session, _minimal_reference_data())
            load_dataset(session, {"policies": [policy_record("race", editorial_state="draft")]})
            ids = {name: accounts.create_user(session, f"{name}@example.org", PASSWORD, "editor").id
                   for name in ("ana", "bounmy")}
        for round_number in range(6):
            version, outcomes = _race(database, "race", ids, round_number)
            loser = _assert_one_winner(database, "race", version, outcomes, round_number)
            # SQLite serialises writers at BEGIN, so the loser reads the new version and is told what changed.
            assert loser.stale.current_version == version + 1
            assert loser.changes == [("title_en", version + 1)]
    finally:
        database.dispose()


POSTGRESQL_URL = os.environ.get("TRACKER_DATABASE_URL", "")

if POSTGRESQL_URL.startswith("postgresql"):
    # Defined only when the suite runs on PostgreSQL, where it always runs (never a skipped test on SQLite).

    def test_two_threads_saving_the_same_version_on_postgresql_exactly_one_wins(database: Database):
        """Both editors start at once; the first to lock the record's row saves, the second waits for
        that lock, then reads the new version and is told what changed (the lock is taken before any
        write, so the two never deadlock and the loser never meets a half-written record)."""
        assert database.url == POSTGRESQL_URL and database.engine.dialect.name == "postgresql"
        key = f"race-{uuid.uuid4().hex[:12]}"
        try:
            with unit_of_work(database.session(write=True)) as session:
                editor = session.scalars(select(User).where(User.email == email_of("editor"))).one()
                create_policy(session, {"key": key, "country": "LA", "title_en": "Race",
                                        "instrument": "decree"}, editor)
                ids = {name: session.scalars(select(User.id).where(User.email == email_of(role))).one()
                       for name, role in (("ana", "editor"), ("bounmy", "reviewer"))}
            for round_number in range(6):
                version, outcomes = _race(database, key, ids, round_number)
                loser = _assert_one_winner(database, key, version, outcomes, round_number)
                assert loser.stale.current_version == version + 1
                assert loser.changes == [("title_en", version + 1)]
        finally:
            with unit_of_work(database.session(write=True)) as session:
                policy_id = session.scalar(select(Policy.id).where(Policy.key == key))
                session.execute(delete(AuditEntry).where(AuditEntry.entity_type == "policy",
                                                         AuditEntry.entity_key == key))
                # The policy's rows (status steps, links, sources) go with it: ON DELETE CASCADE.
                session.execute(delete(Policy).where(Policy.id == policy_id),
                                execution_options={"search_log_bypass": True})
                log_search_changes(session, "policy", [policy_id])


# ---------------------------------------------------------------------------------------------------
# Publication


@pytest.mark.slow
def test_editorial_moves_follow_the_table_with_the_right_role(session, users):
    for number, (old, targets) in enumerate(EDITORIAL_TRANSITIONS.items()):
        for new, permission in targets.items():
            key = f"editorial-{number}-{new}"
            loaded_policy(session, key, editorial_state=old)
            if permission == "publish":
                with pytest.raises(Forbidden):
                    set_editorial_state(session, "policy", key, new, users["editor"])
                assert reload(session, key).editorial_state == old
                actor = users["reviewer"]
            else:
                actor = users["editor"]
            record = set_editorial_state(session, "policy", key, new, actor, reason=f"{old} to {new}")
            assert record.editorial_state == new
            assert reload(session, key).editorial_state == new
            [entry] = entries(session, key, action="editorial")
            assert (entry.field, entry.old_value, entry.new_value, entry.actor_id, entry.reason) == (
                "editorial_state", old, new, actor.id, f"{old} to {new}")


def test_the_publication_workflow_from_draft_to_archive(session, users):
    policy = loaded_policy(session, "workflow")
    version = policy.version
    set_editorial_state(session, "policy", "workflow", "in_review", users["editor"], version)
    with pytest.raises(Forbidden):
        set_editorial_state(session, "policy", "workflow", "published", users["editor"])
    set_editorial_state(session, "policy", "workflow", "published", users["reviewer"], version + 1)
    set_editorial_state(session, "policy", "workflow", "archived", users["reviewer"], version + 2)
    stored = reload(session, "workflow")
    assert (stored.editorial_state, stored.version) == ("archived", version + 3)
    assert [(e.old_value, e.new_value) for e in entries(session, "workflow", action="editorial")] == [
        ("draft", "in_review"), ("in_review", "published"), ("published", "archived")]


@pytest.mark.parametrize(("old", "new"), [("draft", "archived"), ("in_review", "archived"),
                                          ("draft", "draft"), ("published", "in_review"),
                                          ("archived", "in_review"), ("published", "published"),
                                          ("draft", "deleted")])
def test_impossible_editorial_moves_are_invalid(session, users, old, new):
    loaded_policy(session, "impossible-move", editorial_state=old)
    before = counts(session)
    with pytest.raises(Invalid) as raised:
        set_editorial_state(session, "policy", "impossible-move", new, users["admin"])
    assert set(raised.value.errors) == {"state"}
    assert counts(session) == before
    assert reload(session, "impossible-move").editorial_state == old


def test_events_go_through_the_same_workflow(session, users):
    load(session, events=[event_record("workflow-forum", editorial_state="draft")])
    set_editorial_state(session, "event", "workflow-forum", "in_review", users["editor"])
    with pytest.raises(Forbidden):
        set_editorial_state(session, "event", "workflow-forum", "published", users["editor"])
    event_ = set_editorial_state(session, "event", "workflow-forum", "published", users["reviewer"])
    assert event_.editorial_state == "published"
    _, trail = history(session, "event", "workflow-forum")
    assert [(e.action, e.new_value) for e in trail if e.action == "editorial"] == [
        ("editorial", "published"), ("editorial", "in_review")]


# ---------------------------------------------------------------------------------------------------
# Forum links and history


def test_forum_links_are_added_and_removed_with_an_audit_entry_each(session, users):
    policy = loaded_policy(session, "forum-links")
    link = {"event": DEMO_EVENT, "role": "originated", "evidence": "Proposed at the forum.",
            "evidence_lo": "ໄດ້ສະເໜີ ໃນກອງປະຊຸມ.", "source_url": "https://example.org/forum"}
    add_forum_link(session, "forum-links", link, users["editor"], policy.version)
    add_forum_link(session, "forum-links", {"event": OTHER_DEMO_EVENT, "role": "discussed"}, users["editor"])
    stored = reload(session, "forum-links")
    assert record_of(session, stored)["forum_links"] == [
        link, {"event": OTHER_DEMO_EVENT, "role": "discussed", "evidence": None, "evidence_lo": None,
                                          "source_url": None}]

    with pytest.raises(Invalid):
        add_forum_link(session, "forum-links", {"event": DEMO_EVENT, "role": "originated"}, users["editor"])
    with pytest.raises(Invalid) as raised:
        add_forum_link(session, "forum-links", {"event": "no-such-forum", "role": "discussed"},
                       users["editor"])
    assert "forum_links[2].event" in raised.value.errors
    with pytest.raises(Invalid):
        add_forum_link(session, "forum-links", {"event": DEMO_EVENT, "role": "sponsored"}, users["editor"])

    remove_forum_link(session, "forum-links", DEMO_EVENT, "originated", users["editor"])
    with pytest.raises(NotFound):
        remove_forum_link(session, "forum-links", DEMO_EVENT, "originated", users["editor"])
    assert [link["event"] for link in record_of(session, reload(session, "forum-links"))["forum_links"]] == [
        OTHER_DEMO_EVENT]

    trail = [(e.action, e.field, e.old_value, e.new_value) for e in entries(session, "forum-links")
             if e.action.startswith("forum_link")]
    assert trail == [
        ("forum_link_add", "forum_links", [], [link]),
        ("forum_link_add", "forum_links", [link], [link, {"event": OTHER_DEMO_EVENT, "role": "discussed",
                                                          "evidence": None, "evidence_lo": None, "source_url": None}]),
        ("forum_link_remove", "forum_links", [link, {"event": OTHER_DEMO_EVENT, "role": "discussed",
                                                     "evidence": None, "evidence_lo": None, "source_url": None}],
         [{"event": OTHER_DEMO_EVENT, "role": "discussed", "evidence": None, "evidence_lo": None,
                                          "source_url": None}]),
    ]


def test_history_lists_every_change_newest_first(session, users):
    policy = create_policy(session, {"country": "LA", "title_en": "History of a decree",
                                     "instrument": "decree"}, users["editor"])
    key = policy.key
    update_policy(session, key, {"title_lo": LAO_TITLE}, users["editor"], policy.version)
    change_status(session, key, {"status": "drafting", "effective_on": "2024-02"}, users["editor"])
    add_forum_link(session, key, {"event": DEMO_EVENT, "role": "discussed"}, users["editor"])
    set_editorial_state(session, "policy", key, "in_review", users["editor"])
    set_editorial_state(session, "policy", key, "published", users["reviewer"])
    session.flush()

    record, trail = history(session, "policy", key)
    assert record.key == key
    assert [entry.id for entry in trail] == sorted((entry.id for entry in trail), reverse=True)
    actions = [entry.action for entry in trail]
    assert actions[:5] == ["editorial", "editorial", "forum_link_add", "status_change", "update"]
    assert set(actions[5:]) == {"create"}
    assert trail[0].actor_label == email_of("reviewer") and trail[0].new_value == "published"
    times = [entry.created_at for entry in trail]
    assert times == sorted(times, reverse=True)


# ---------------------------------------------------------------------------------------------------
# The audit trail cannot be rewritten through the app


def test_no_route_changes_or_deletes_audit_entries(app):
    for rule in app.url_map.iter_rules():
        # No record is ever deleted through the web, audit entries least of all; only a partner's own
        # subscriptions and webhook endpoints can be, and staff remove attached documents (audited).
        if not rule.rule.startswith(("/api/v1/subscriptions/", "/api/v1/webhooks/", "/api/v1/documents/")):
            assert "DELETE" not in rule.methods, rule.rule
        if "audit" in rule.rule or "history" in rule.rule or "audit" in rule.endpoint:
            assert rule.methods <= {"GET", "HEAD", "OPTIONS"}, (rule.rule, rule.methods)


def test_no_code_in_the_app_updates_or_deletes_audit_entries():
    source_root = Path(__file__).resolve().parents[2] / "tracker"
    writes = re.compile(r"(update|delete)\(\s*AuditEntry|AuditEntry\.__table__\.(update|delete)|"
                        r"(UPDATE|DELETE\s+FROM)\s+audit_entries", re.IGNORECASE)
    offenders = [f"{path.relative_to(source_root)}:{number}"
                 for path in sorted(source_root.rglob("*.py")) if "migrations" not in path.parts
                 for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1)
                 if writes.search(line)]
    assert offenders == []


def test_every_action_of_the_services_leaves_entries_that_name_who_and_which_version(session, users):
    policy = create_policy(session, {"country": "KH", "title_en": "Audit everything", "instrument": "law"},
                           users["editor"])
    update_policy(session, policy.key, {"reference": "No. 1"}, users["editor"], None)
    change_status(session, policy.key, {"status": "drafting"}, users["editor"])
    add_forum_link(session, policy.key, {"event": DEMO_EVENT, "role": "discussed"}, users["editor"])
    remove_forum_link(session, policy.key, DEMO_EVENT, "discussed", users["editor"])
    set_editorial_state(session, "policy", policy.key, "in_review", users["editor"])
    session.flush()
    trail = entries(session, policy.key)
    assert {entry.action for entry in trail} == {"create", "update", "status_change", "forum_link_add",
                                                 "forum_link_remove", "editorial"}
    assert all(entry.actor_id == users["editor"].id and entry.version is not None for entry in trail)
    assert [entry.version for entry in trail] == sorted(entry.version for entry in trail)


@pytest.mark.slow
def test_combinations_of_roles_and_states_match_the_permission_table(session, users):
    """Who may edit a record in each editorial state, in one table."""
    expected = {("editor", "draft"): True, ("editor", "in_review"): True, ("editor", "published"): False,
                ("editor", "archived"): False, ("partner", "draft"): False, ("partner", "published"): False}
    expected |= {(role, state): True for role in ("reviewer", "admin")
                 for state in ("draft", "in_review", "published", "archived")}
    for number, ((role, state), allowed) in enumerate(sorted(expected.items())):
        key = f"perm-{number}"
        loaded_policy(session, key, editorial_state=state)
        if allowed:
            update_policy(session, key, {"summary_en": f"{role} was here"}, users[role], None)
            assert reload(session, key).summary_en == f"{role} was here"
        else:
            with pytest.raises(Forbidden):
                update_policy(session, key, {"summary_en": f"{role} was here"}, users[role], None)


@pytest.mark.parametrize(("old", "new"), list(itertools.islice(OUT_OF_TABLE_MOVES, 0, None, 7)))
def test_a_reviewer_override_is_stored_as_override_reason_for_a_sample_of_moves(session, users, old, new):
    policy_with_history(session, "override-sample", [(old, "2020")])
    change = change_status(session, "override-sample",
                           {"status": new, "reason": f"Court ruling: {old} -> {new}"}, users["reviewer"])
    assert change.override_reason == f"Court ruling: {old} -> {new}"
    assert reload(session, "override-sample").legal_status == new
