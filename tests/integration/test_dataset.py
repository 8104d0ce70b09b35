"""Loading the dataset: idempotent by key, all-or-nothing, history appended, lossless round trip."""
from __future__ import annotations

import copy
import json

import pytest
from sqlalchemy import delete, func, select

from tests.factories import event_record, load, policy_record
from tracker.models import Event, Organisation, Policy, StatusChange, Topic
from tracker.services.dataset import DatasetInvalid, load_dataset
from tracker.services.policies import get_policy
from tracker.services.records import dump_dataset, stored_policy_records


def counts(session) -> dict[str, int]:
    return {model.__name__: session.scalar(select(func.count()).select_from(model))
            for model in (Policy, Event, Organisation, Topic, StatusChange)}


def test_demo_data_is_loaded_with_every_record(session, demo_data):
    assert counts(session)["Policy"] == len(demo_data["policies"])
    assert counts(session)["Event"] == len(demo_data["events"])
    assert counts(session)["StatusChange"] == sum(len(p["status_history"]) for p in demo_data["policies"])


def test_loading_the_same_data_again_changes_nothing(session, demo_data):
    before = counts(session)
    versions = dict(session.execute(select(Policy.key, Policy.version)).all())
    report = load_dataset(session, demo_data)
    session.flush()
    assert sum(report.created.values()) == 0
    assert sum(report.updated.values()) == 0
    assert report.unchanged["policies"] == len(demo_data["policies"])
    assert counts(session) == before
    assert dict(session.execute(select(Policy.key, Policy.version)).all()) == versions


def test_a_changed_record_is_updated_and_its_history_appended_not_duplicated(session, demo_data):
    data = copy.deepcopy(demo_data)
    record = next(p for p in data["policies"] if p["key"] == "la-gov-resolution-08-2021-ev-policy")
    steps_before = len(record["status_history"])
    record["title_en"] = "Government resolution on electric vehicles (renamed)"
    record["status"] = "in_force"
    record["status_history"].append({"status": "in_force", "date": "2022-01-01", "note": "Now in force.",
                                     "source_url": "https://example.org/in-force"})
    report = load_dataset(session, data)
    session.flush()
    assert report.updated["policies"] == 1
    assert report.unchanged["policies"] == len(data["policies"]) - 1
    policy = get_policy(session, record["key"])
    assert policy.title_en.endswith("(renamed)")
    assert len(policy.status_changes) == steps_before + 1
    assert policy.legal_status == "in_force"
    assert policy.status_changes[-1].from_status == "adopted"
    # A third load of the same file appends nothing more.
    load_dataset(session, data)
    session.flush()
    session.expire_all()
    assert len(get_policy(session, record["key"]).status_changes) == steps_before + 1


def test_one_bad_record_writes_nothing_and_names_the_record_and_field(session, demo_data):
    before = counts(session)
    data = {"policies": [policy_record("good-one"),
                         policy_record("bad-one", status_history=[{"status": "in_force", "date": "2023-02-30",
                                                                   "note": None, "source_url": None}])],
            "events": [event_record("new-forum")]}
    with pytest.raises(DatasetInvalid) as caught:
        load_dataset(session, data)
    problems = [str(p) for p in caught.value.problems]
    assert problems == ["policy 'bad-one': status_history[0].date: '2023-02-30' is not a day of the calendar."]
    assert counts(session) == before


@pytest.mark.parametrize("change, record, field", [
    ({"country": "XX"}, "policy 'p1'", "country"),
    ({"instrument": "edict"}, "policy 'p1'", "instrument"),
    ({"title_en": "", "title_lo": None}, "policy 'p1'", "title_en"),
    ({"title_en": "x" * 501}, "policy 'p1'", "title_en"),
    ({"issuer": "no-such-org"}, "policy 'p1'", "issuer"),
    ({"topics": ["not_a_topic"]}, "policy 'p1'", "topics[0]"),
    ({"valid_from": "2024-01-01", "valid_to": "2023"}, "policy 'p1'", "valid_to"),
    ({"status": "repealed"}, "policy 'p1'", "status"),
    ({"relations": [{"type": "amends", "target": "missing-policy", "target_reference": None}]},
     "policy 'p1'", "relations[0].target"),
    ({"forum_links": [{"event": "missing-event", "role": "discussed", "evidence": None, "source_url": None}]},
     "policy 'p1'", "forum_links[0].event"),
    ({"sources": [{"url": "javascript:alert(1)", "title": "x", "published": None, "kind": "news"}]},
     "policy 'p1'", "sources[0].url"),
    ({"key": "Not A Key"}, "policy[0]", "key"),
])
def test_invalid_fields_are_named(session, change, record, field):
    with pytest.raises(DatasetInvalid) as caught:
        load_dataset(session, {"policies": [policy_record("p1") | change]})
    assert (record, field) in [(p.record, p.field) for p in caught.value.problems]


def test_duplicate_keys_and_wrong_shapes_are_refused(session):
    with pytest.raises(DatasetInvalid) as caught:
        load_dataset(session, {"policies": [policy_record("twice"), policy_record("twice")]})
    assert "Two records use the key 'twice'." in caught.value.message
    for bad in ([], "text", {"policies": "x"}, {"policies": [42]}):
        with pytest.raises(DatasetInvalid):
            load_dataset(session, bad)


def test_lao_emoji_and_markup_are_stored_as_given(session, client):
    title = "<script>alert('x')</script> ລົດໄຟຟ້າ 🚗⚡"
    load(session, policies=[policy_record("unicode-policy", title_en=title)])
    session.commit()
    assert get_policy(session, "unicode-policy").title_en == title
    page = client.get("/policies/unicode-policy").get_data(as_text=True)
    assert "<script>alert" not in page
    assert "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt; ລົດໄຟຟ້າ 🚗⚡" in page


def test_load_dump_load_is_lossless(session, demo_data):
    dumped = dump_dataset(session, compiled="2026-01-01")
    by_key = {p["key"]: p for p in dumped["policies"]}
    def as_in(original, dumped):
        """The dumped value with only the keys the original gives (the format grew optional ones, such as
        the Lao note of a status step, which a dump writes as null)."""
        if isinstance(original, dict):
            extra = {name: value for name, value in dumped.items() if name not in original}
            assert all(value is None for value in extra.values()), extra
            return {name: as_in(original[name], dumped[name]) for name in original}
        if isinstance(original, list):
            return [as_in(item, value) for item, value in zip(original, dumped)] + dumped[len(original):]
        return dumped

    for original in demo_data["policies"]:
        record = by_key[original["key"]]
        assert {name: as_in(original[name], record[name]) for name in original} == original
    events = {e["key"]: e for e in dumped["events"]}
    for original in demo_data["events"]:
        assert {name: events[original["key"]][name] for name in original} == original
    assert dumped["topics"] == demo_data["topics"]
    assert [as_in(original, dumped_one) for original, dumped_one in zip(
        sorted(demo_data["organisations"], key=lambda o: o["key"]),
        sorted(dumped["organisations"], key=lambda o: o["key"]))] == sorted(
        demo_data["organisations"], key=lambda o: o["key"])
    # Loading the dump back changes nothing, and dumping again gives the same document.
    report = load_dataset(session, json.loads(json.dumps(dumped)))
    session.flush()
    assert sum(report.updated.values()) == sum(report.created.values()) == 0
    assert dump_dataset(session, compiled="2026-01-01") == dumped


def test_records_read_from_rows_are_those_read_from_the_models(session, demo_data):
    """Imports compare files with stored records read by plain row queries: they must be exactly the
    dump's, for every policy (with targets, comment periods, gazette days, relations, Lao and emoji)."""
    awkward = policy_record("awkward-rows", title_en="ລົດໄຟຟ້າ 🚗 <b>", valid_from="2024-05", valid_to="2030",
                            relations=[{"type": "amends", "target": demo_data["policies"][0]["key"],
                                        "target_reference": None},
                                       {"type": "related", "target": None, "target_reference": "Decree 12/GOV"}],
                            targets=[{"metric": "share_of_sales", "value": 2.5, "unit": "percent",
                                      "year": 2030, "vehicle_class": None, "scope_en": "new cars",
                                      "scope_lo": "ລົດໃໝ່", "headline": True, "source_url": None}])
    load(session, policies=[awkward])
    session.flush()
    dumped = {record["key"]: record for record in dump_dataset(session, compiled="2026-01-01")["policies"]}
    org_keys = dict(session.execute(select(Organisation.id, Organisation.key)).all())
    event_keys = dict(session.execute(select(Event.id, Event.key)).all())
    keys = list(dumped)
    assert stored_policy_records(session, keys, org_keys, event_keys) == dumped
    assert stored_policy_records(session, ["awkward-rows", "no-such-key"], org_keys, event_keys) == {
        "awkward-rows": dumped["awkward-rows"]}
    assert dumped["awkward-rows"]["relations"][0]["target"] == demo_data["policies"][0]["key"]
    assert dumped["awkward-rows"]["targets"][0]["value"] == 2.5
    assert stored_policy_records(session, [], org_keys, event_keys) == {}


def test_loading_into_an_empty_database(session, demo_data):
    for model in (StatusChange, Policy, Event):
        # A bulk delete bypasses the search change log; this test's transaction is rolled back.
        session.execute(delete(model), execution_options={"search_log_bypass": True})
    report = load_dataset(session, demo_data)
    session.flush()
    assert report.created["policies"] == len(demo_data["policies"])
    assert report.created["events"] == len(demo_data["events"])


def test_cli_load_reports_and_refuses_broken_files(runner, tmp_path, demo_data, session):
    good = tmp_path / "good.json"
    good.write_text(json.dumps({"policies": [policy_record("cli-policy")]}), encoding="utf-8")
    result = runner.invoke(args=["data", "load", str(good)])
    assert result.exit_code == 0, result.output
    assert "policies: 1 created, 0 updated, 0 unchanged" in result.output

    broken = tmp_path / "broken.json"
    broken.write_text('{"policies": [', encoding="utf-8")
    result = runner.invoke(args=["data", "load", str(broken)])
    assert result.exit_code != 0
    assert "not valid JSON" in result.output
    assert "Traceback" not in result.output

    invalid = tmp_path / "invalid.json"
    invalid.write_text(json.dumps({"policies": [policy_record("cli-bad", instrument="edict")]}), encoding="utf-8")
    result = runner.invoke(args=["data", "load", str(invalid)])
    assert result.exit_code != 0
    assert "policy 'cli-bad': instrument: 'edict' is not one of" in result.output

    result = runner.invoke(args=["data", "load", str(tmp_path / "missing.json")])
    assert result.exit_code != 0 and "no such file" in result.output


def test_cli_dump_writes_the_dataset_format(runner, tmp_path, demo_data):
    target = tmp_path / "dump.json"
    result = runner.invoke(args=["data", "dump", str(target)])
    assert result.exit_code == 0, result.output
    dumped = json.loads(target.read_text(encoding="utf-8"))
    assert dumped["dataset"] == "asean-ev-policies"
    assert len(dumped["policies"]) == len(demo_data["policies"])


def test_an_import_that_changes_a_record_leaves_a_trace_in_its_history(session, demo_data):
    from tracker.models import AuditEntry

    data = copy.deepcopy(demo_data)
    record = next(p for p in data["policies"] if p["key"] == "la-gov-resolution-08-2021-ev-policy")
    record["reference"] = "Resolution No. 08/ລບ (corrected)"
    load_dataset(session, data)
    session.flush()
    entries = session.scalars(select(AuditEntry).where(AuditEntry.entity_key == record["key"],
                                                       AuditEntry.field == "reference")).all()
    assert [(e.action, e.actor_label, e.new_value) for e in entries] == [
        ("import", "dataset import", "Resolution No. 08/ລບ (corrected)")]
    # Unchanged records get no new entry.
    count = session.scalar(select(func.count(AuditEntry.id)))
    load_dataset(session, data)
    session.flush()
    assert session.scalar(select(func.count(AuditEntry.id))) == count


@pytest.fixture
def small_chunks(monkeypatch):
    """Chunks of 20 policies, so that a test file of a few dozen spans several."""
    from tracker.services import dataset

    monkeypatch.setattr(dataset, "CHUNK_SIZE", 20)


def test_a_file_of_many_chunks_loads_links_pointing_forward_and_back(session, demo_data, tmp_path,
                                                                     small_chunks):
    from tracker.models import AuditEntry, PolicyRelation
    from tracker.services.dataset import DatasetFile

    records = [policy_record(f"bulk-{i:03d}") for i in range(70)]
    # The first points at the last (not yet created when the first chunk is applied), and back.
    records[0]["relations"] = [{"type": "related", "target": "bulk-069", "target_reference": None}]
    records[69]["relations"] = [{"type": "amends", "target": "bulk-000", "target_reference": None}]
    path = tmp_path / "bulk.json"
    path.write_text(json.dumps({"policies": records}, ensure_ascii=False), encoding="utf-8")
    seen: list[int] = []
    report = load_dataset(session, DatasetFile(path), progress=lambda done, stage: seen.append(done))
    session.flush()
    assert report.created["policies"] == 70 and seen[:4] == [20, 40, 60, 70]
    ids = dict(session.execute(select(Policy.key, Policy.id).where(Policy.key.like("bulk-%"))).all())
    relations = {(r.policy_id, r.target_id, r.relation_type) for r in session.scalars(
        select(PolicyRelation).where(PolicyRelation.policy_id.in_(ids.values())))}
    assert relations == {(ids["bulk-000"], ids["bulk-069"], "related"), (ids["bulk-069"], ids["bulk-000"], "amends")}
    created = session.scalar(select(func.count()).select_from(AuditEntry).where(
        AuditEntry.entity_key.like("bulk-%"), AuditEntry.action == "import"))
    assert created == 70  # one entry per created record, its links included

    # Loaded again: nothing changes. Then one record's title and another's link: one entry per field.
    again = load_dataset(session, DatasetFile(path))
    assert again.unchanged["policies"] == 70
    records[45]["title_en"] = "Renamed in the file"
    records[0]["relations"] = []
    path.write_text(json.dumps({"policies": records}, ensure_ascii=False), encoding="utf-8")
    changed = load_dataset(session, DatasetFile(path))
    session.flush()
    assert changed.updated["policies"] == 2 and changed.unchanged["policies"] == 68
    entries = session.execute(select(AuditEntry.entity_key, AuditEntry.field).where(
        AuditEntry.entity_key.like("bulk-%"), AuditEntry.field.is_not(None))).all()
    assert sorted(entries) == [("bulk-000", "relations"), ("bulk-045", "title_en")]


def test_a_bad_record_in_the_last_chunk_leaves_nothing_of_the_earlier_ones(session, demo_data, tmp_path,
                                                                            small_chunks):
    from tracker.services.dataset import DatasetFile

    before = counts(session)
    records = [policy_record(f"bulk-{i:03d}") for i in range(65)]
    records[64]["valid_from"] = "2024-02-30"
    records[30]["key"] = "bulk-000"  # the same key twice
    path = tmp_path / "bulk.json"
    path.write_text(json.dumps({"policies": records, "events": [event_record("bulk-forum")]}), encoding="utf-8")
    with pytest.raises(DatasetInvalid) as caught:
        load_dataset(session, DatasetFile(path))
    assert [str(p) for p in caught.value.problems] == [
        "policy 'bulk-000': key: Two records use the key 'bulk-000'.",
        "policy 'bulk-064': valid_from: '2024-02-30' is not a day of the calendar."]
    assert counts(session) == before


def test_a_dataset_whose_parts_are_not_lists_is_refused_whole(session, demo_data, tmp_path):
    from tracker.services.dataset import DatasetFile

    path = tmp_path / "odd.json"
    path.write_text(json.dumps({"policies": {"key": "x"}, "events": []}), encoding="utf-8")
    with pytest.raises(DatasetInvalid) as caught:
        load_dataset(session, DatasetFile(path))
    assert [(p.record, p.field) for p in caught.value.problems] == [("(dataset)", "policies")]
    path.write_text("[1, 2]", encoding="utf-8")
    with pytest.raises(DatasetInvalid):
        load_dataset(session, DatasetFile(path))
