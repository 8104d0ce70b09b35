"""The index as a replica of the database: the change log, no drift after any write, rollbacks, bulk
statements, late commits, rebuilds, the checker, freshness, and a killed indexer."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from sqlalchemy import delete, func, insert, select, update

from tests.conftest import PASSWORD
from tests.factories import event_record, load, policy_record
from tracker.db import unit_of_work
from tracker.models import Organisation, Policy, Topic, User
from tracker.models.search_log import BulkWriteRefused, SearchChange
from tracker.search.documents import doc_id
from tracker.search.index import IndexStore, read_state
from tracker.search.indexer import Indexer
from tracker.search.request import SearchRequest
from tracker.search.runtime import runtime_of
from tracker.search.schema import SCHEMA_VERSION
from tracker.services import accounts, editing
from tracker.services.dataset import load_dataset
from tracker.services.search import search

ROOT = Path(__file__).resolve().parents[2]
POSTGRESQL = os.environ.get("TRACKER_DATABASE_URL", "").startswith("postgresql")


def log_rows(session) -> list[tuple[str, int]]:
    return [tuple(row) for row in session.execute(
        select(SearchChange.entity_type, SearchChange.entity_id).order_by(SearchChange.id))]


def found(app, session, q: str, **fields) -> list[str]:
    with app.test_request_context():
        return [hit.key for hit in search(session, SearchRequest(q=q, per_page=100, **fields),
                                          include_unpublished=True).hits]


def assert_no_drift(search_index) -> None:
    report = search_index.sync()
    drift = search_index.check()
    assert drift.clean and drift.pending == 0, (report, drift)


# ---------------------------------------------------------------------------------------------------
# The change log


def test_a_service_write_logs_its_record_in_the_same_transaction(session, users):
    before = len(log_rows(session))
    policy = editing.create_policy(session, {"key": "logged", "country": "LA", "title_en": "Logged",
                                             "instrument": "decree"}, users["editor"])
    assert len(log_rows(session)) == before  # written just before the commit, not at each flush
    session.commit()
    assert log_rows(session)[before:] == [("policy", policy.id)]


def test_a_rolled_back_transaction_logs_nothing_and_leaves_no_phantom(app, session, users, search_index):
    before = len(log_rows(session))
    editing.create_policy(session, {"key": "phantom-policy", "country": "LA", "title_en": "Phantomcharger",
                                    "instrument": "decree"}, users["editor"])
    session.rollback()
    assert len(log_rows(session)) == before
    assert_no_drift(search_index)
    assert found(app, session, "phantomcharger") == []


def test_a_rename_of_an_organisation_or_topic_reaches_every_document_that_shows_it(app, session, search_index):
    edl = session.scalars(select(Organisation).where(Organisation.key == "la-edl")).one()
    edl.name_en = "Quokkavolt Electricity Utility"
    topic = session.get(Topic, "charging_infrastructure")
    topic.name_en = "Wombatplug charging"
    session.flush()
    assert_no_drift(search_index)
    assert "la-edl-ev-lao-charging-pilot-2019" in found(app, session, "quokkavolt")
    assert "la-charging-station-standards" in found(app, session, "wombatplug")
    assert "lao-ev-summit-2019" in found(app, session, "wombatplug", types=("event",))


def test_an_organisation_is_found_by_its_acronym_and_a_new_acronym_reaches_its_documents(app, session,
                                                                                          search_index):
    assert "la-ev-tax-package-2022" in found(app, session, "MEM")
    edl = session.scalars(select(Organisation).where(Organisation.key == "la-edl")).one()
    edl.acronym = "QVU"
    session.flush()
    assert_no_drift(search_index)
    assert "la-edl-ev-lao-charging-pilot-2019" in found(app, session, "QVU")


def test_a_renamed_event_reaches_its_linked_policies(app, session, users, search_index):
    editing.update_event(session, "lao-emobility-workshop-2022", {"name_en": "Platypus mobility workshop"},
                         users["reviewer"], None)
    assert_no_drift(search_index)
    assert {"lao-emobility-workshop-2022", "la-gov-resolution-08-2021-ev-policy"} <= set(
        found(app, session, "platypus"))


def test_no_drift_after_every_kind_of_service_write(app, session, users, search_index):
    editor, reviewer = users["editor"], users["reviewer"]
    editing.create_policy(session, {"key": "drift-policy", "country": "LA", "title_en": "Drift check decree",
                                    "title_lo": "ນະໂຍບາຍລົດໄຟຟ້າ", "instrument": "decree"}, editor)
    assert_no_drift(search_index)
    editing.update_policy(session, "drift-policy", {"summary_en": "Charging rules", "topics": ["import_rules"],
                                                    "sources": [{"url": "https://example.org/a", "title": "Axolotl",
                                                                 "published": None, "kind": "news"}]},
                          editor, None)
    assert_no_drift(search_index)
    editing.change_status(session, "drift-policy", {"status": "adopted", "effective_on": "2024-03"}, editor)
    assert_no_drift(search_index)
    editing.add_forum_link(session, "drift-policy", {"event": "lao-ev-forum-2023", "role": "discussed"}, editor)
    assert_no_drift(search_index)
    editing.remove_forum_link(session, "drift-policy", "lao-ev-forum-2023", "discussed", editor)
    assert_no_drift(search_index)
    editing.set_editorial_state(session, "policy", "drift-policy", "published", reviewer)
    assert_no_drift(search_index)
    editing.create_event(session, {"key": "drift-event", "name_en": "Drift forum", "kind": "forum",
                                   "country": "LA"}, editor)
    assert_no_drift(search_index)
    editing.update_event(session, "drift-event", {"topics": ["grid_and_energy"], "organisers": ["la-mem"]},
                         editor, None)
    assert_no_drift(search_index)
    editing.set_editorial_state(session, "event", "drift-event", "in_review", editor)
    assert_no_drift(search_index)
    assert found(app, session, "axolotl") == ["drift-policy"]


def test_no_drift_after_the_dataset_loader(session, search_index, demo_data):
    load(session, policies=[policy_record("loaded-one"), policy_record("loaded-two", editorial_state="draft")],
         events=[event_record("loaded-forum")])
    assert_no_drift(search_index)
    changed = dict(demo_data)
    changed["organisations"] = [dict(o, name_en=o["name_en"] + " (renamed)") if o["key"] == "la-mem" else o
                                for o in demo_data["organisations"]]
    changed["policies"] = [dict(p, title_en=p["title_en"] + " (edited)") if p["key"] == "ph-crevi" else p
                           for p in demo_data["policies"]]
    load_dataset(session, changed)
    assert_no_drift(search_index)


def test_bulk_statements_on_searchable_tables_are_refused_unless_opted_out(session):
    with pytest.raises(BulkWriteRefused, match="search change log"):
        session.execute(update(Policy).values(title_en="Bulk"))
    session.rollback()
    with pytest.raises(BulkWriteRefused):
        session.execute(delete(Topic).where(Topic.key == "nothing"))
    session.rollback()
    session.execute(update(Policy).where(Policy.key == "ph-crevi").values(title_en="Bulk"),
                    execution_options={"search_log_bypass": True})
    # Tables outside search are not guarded.
    session.execute(update(User).where(User.id == -1).values(display_name="x"))


# ---------------------------------------------------------------------------------------------------
# Following the log on a database of its own, with real commits


def _build(app) -> Indexer:
    runtime = runtime_of(app)
    runtime.indexer.build(runtime.sessions(), runtime.sessions)
    return runtime.indexer


def _state(app):
    runtime = runtime_of(app)
    _, index = runtime.store.open_live()
    with index.searcher() as searcher:
        return read_state(searcher)


def _write(app):
    return unit_of_work(app.extensions["tracker.db"].session(write=True))


def test_rows_committed_out_of_id_order_are_applied_when_they_appear(committed_app):
    """On PostgreSQL a transaction can commit after another that took a higher id. Rows with explicit ids
    recreate that order on any database: the later id commits first, the earlier one after."""
    runtime = runtime_of(committed_app)
    with _write(committed_app) as session:
        load_dataset(session, {"policies": [policy_record("late-a"), policy_record("early-b")]})
    indexer = _build(committed_app)
    high = _state(committed_app).high
    database = committed_app.extensions["tracker.db"]
    ids = dict(database.session().execute(select(Policy.key, Policy.id)).all())

    def change(key: str, title: str, log_id: int) -> None:
        with _write(committed_app) as session:
            session.execute(update(Policy).where(Policy.key == key).values(title_en=title),
                            execution_options={"search_log_bypass": True})
            session.execute(insert(SearchChange).values(id=log_id, entity_type="policy", entity_id=ids[key],
                                                        changed_at=func.now()))

    change("early-b", "Bilbycharger", high + 2)
    indexer.apply_pending(runtime.sessions)
    state = _state(committed_app)
    assert state.high == high + 2 and set(state.gaps) == {high + 1}
    change("late-a", "Dunnartcharger", high + 1)
    indexer.apply_pending(runtime.sessions)
    state = _state(committed_app)
    assert state.high == high + 2 and state.gaps == {}
    with committed_app.app_context(), database.session() as session:
        assert found(committed_app, session, "bilbycharger") == ["early-b"]
        assert found(committed_app, session, "dunnartcharger") == ["late-a"]
        assert indexer.check(session).clean


def test_a_gap_open_longer_than_any_transaction_is_forgotten(committed_app):
    runtime = runtime_of(committed_app)
    indexer = _build(committed_app)
    high = _state(committed_app).high
    with _write(committed_app) as session:
        session.execute(insert(SearchChange).values(id=high + 3, entity_type="policy", entity_id=999999,
                                                    changed_at=func.now()))
    now = [time.time()]
    indexer.clock = lambda: now[0]
    indexer.apply_pending(runtime.sessions)
    assert set(_state(committed_app).gaps) == {high + 1, high + 2}
    now[0] += indexer.gap_timeout + 1
    indexer.apply_pending(runtime.sessions)
    assert _state(committed_app).gaps == {} and _state(committed_app).high == high + 3


if POSTGRESQL:
    def test_a_transaction_that_commits_late_on_postgresql_is_not_skipped(committed_app):
        """Two real transactions: the first takes its log id from the sequence and stays open while the
        second takes a higher one and commits; the indexer passes the second, then finds the first once
        it commits. (Transactions through the services also take the content-version row lock, which
        serialises them; a writer that logs changes beside the services does not.)"""
        runtime = runtime_of(committed_app)
        with _write(committed_app) as session:
            load_dataset(session, {"policies": [policy_record("pg-slow"), policy_record("pg-fast")]})
        indexer = _build(committed_app)
        database = committed_app.extensions["tracker.db"]
        with database.engine.connect() as slow:
            slow_id = slow.scalar(select(Policy.id).where(Policy.key == "pg-slow"))
            slow.execute(update(Policy).where(Policy.id == slow_id).values(title_en="Quollcharger"))
            slow.execute(insert(SearchChange).values(entity_type="policy", entity_id=slow_id,
                                                     changed_at=func.now()))
            with _write(committed_app) as session:
                session.scalars(select(Policy).where(Policy.key == "pg-fast")).one().title_en = "Numbatfast"
            indexer.apply_pending(runtime.sessions)
            assert len(_state(committed_app).gaps) == 1
            slow.commit()
        indexer.apply_pending(runtime.sessions)
        assert _state(committed_app).gaps == {}
        with committed_app.app_context(), database.session() as session:
            assert found(committed_app, session, "quollcharger") == ["pg-slow"]
            assert found(committed_app, session, "numbatfast") == ["pg-fast"]
            assert indexer.check(session).clean


@pytest.mark.slow
def test_searches_keep_working_during_a_rebuild_and_see_the_new_index_after_the_swap(committed_app):
    runtime = runtime_of(committed_app)
    with _write(committed_app) as session:
        load_dataset(session, {"policies": [policy_record(f"rebuild-{n}") for n in range(30)]})
    indexer = _build(committed_app)
    old = runtime.store.live_name()
    database = committed_app.extensions["tracker.db"]
    seen_during = []

    def progress(_count: int) -> None:
        with committed_app.app_context(), database.session() as session:
            seen_during.append(len(found(committed_app, session, "", types=("policy",))))
            assert runtime.store.live_name() == old

    with _write(committed_app) as session:  # added after the old build: only the new one has it
        load_dataset(session, {"policies": [policy_record("rebuild-new")]})
    name, _ = indexer.build(runtime.sessions(), runtime.sessions, progress=progress)
    assert seen_during and all(count >= 30 for count in seen_during)
    assert runtime.store.live_name() == name != old
    with committed_app.app_context(), database.session() as session:
        assert "rebuild-new" in found(committed_app, session, "")
        assert indexer.check(session).clean


def test_check_lists_missing_orphaned_and_stale_documents_and_exits_non_zero(committed_app):
    runtime = runtime_of(committed_app)
    with _write(committed_app) as session:
        load_dataset(session, {"policies": [policy_record("check-a"), policy_record("check-b")]})
    runner = committed_app.test_cli_runner()
    assert runner.invoke(args=["search", "ensure"]).exit_code == 0
    result = runner.invoke(args=["search", "check"])
    assert result.exit_code == 0 and "No drift" in result.output
    database = committed_app.extensions["tracker.db"]
    ids = dict(database.session().execute(select(Policy.key, Policy.id)).all())
    _, index = runtime.store.open_live()
    writer = index.writer()
    writer.delete_by_term("id", doc_id("policy", ids["check-a"]))
    writer.add_document(id=doc_id("policy", 999999), type="policy", state="published")
    writer.commit()
    with _write(committed_app) as session:  # a change behind the log's back
        session.execute(update(Policy).where(Policy.key == "check-b").values(title_en="Changed"),
                        execution_options={"search_log_bypass": True})
    result = runner.invoke(args=["search", "check"])
    assert result.exit_code == 1
    assert "missing: 1" in result.output and doc_id("policy", ids["check-a"]) in result.output
    assert "orphaned: 1" in result.output and "policy:999999" in result.output
    assert "stale: 1" in result.output and doc_id("policy", ids["check-b"]) in result.output
    assert runner.invoke(args=["search", "rebuild"]).exit_code == 0
    assert runner.invoke(args=["search", "check"]).exit_code == 0


def test_ensure_builds_a_missing_index_and_rebuilds_one_of_another_schema(committed_app):
    runner = committed_app.test_cli_runner()
    result = runner.invoke(args=["search", "ensure"])
    assert result.exit_code == 0 and "building it" in result.output
    result = runner.invoke(args=["search", "ensure"])
    assert result.exit_code == 0 and "up to date" in result.output
    runtime = runtime_of(committed_app)
    _, index = runtime.store.open_live()
    state = _state(committed_app)
    state.schema = 0
    writer = index.writer()
    from tracker.search.index import write_state
    write_state(writer, state)
    writer.commit()
    result = runner.invoke(args=["search", "ensure"])
    assert result.exit_code == 0 and "schema version 0" in result.output and "Built" in result.output
    assert f"schema: {SCHEMA_VERSION}" in runner.invoke(args=["search", "status"]).output


def test_a_status_change_is_searchable_within_two_seconds_of_its_commit(committed_app):
    """The embedded default: the committing process wakes its indexer thread after the commit."""
    with _write(committed_app) as session:
        load_dataset(session, {"policies": [policy_record("fresh-policy", status="adopted", status_history=[
            {"status": "adopted", "date": "2023-07", "note": None, "source_url": None}])]})
        accounts.create_user(session, "fresh@example.org", PASSWORD, "editor")
    _build(committed_app)
    runtime = runtime_of(committed_app)
    runtime.config["SEARCH_INDEXER"] = "embedded"  # the default outside the tests
    database = committed_app.extensions["tracker.db"]
    with _write(committed_app) as session:
        actor = session.scalars(select(User).where(User.email == "fresh@example.org")).one()
        editing.change_status(session, "fresh-policy", {"status": "in_force", "effective_on": "2024-01"}, actor)
    committed = time.monotonic()
    deadline = committed + 2.0
    while True:
        with committed_app.app_context(), database.session() as session:
            if "fresh-policy" in found(committed_app, session, "", statuses=("in_force",)):
                break
        assert time.monotonic() < deadline, "the status change was not searchable within 2 s of its commit"
        time.sleep(0.02)


@pytest.mark.slow
def test_two_processes_sharing_an_index_never_fail_and_converge(committed_app):
    """Gunicorn workers share one index folder: whichever gets the lock writes, the other skips."""
    _build(committed_app)
    runtime = runtime_of(committed_app)
    runtime.config["SEARCH_INDEXER"] = "embedded"
    other = Indexer(IndexStore(runtime.store.root), batch_size=5)
    with _write(committed_app) as session:
        load_dataset(session, {"policies": [policy_record(f"shared-{n}") for n in range(40)]})
    reports, errors = [], []

    def apply(indexer: Indexer) -> None:
        try:
            reports.append(indexer.apply_pending(runtime.sessions))
        except BaseException as error:  # collected and asserted below
            errors.append(error)

    # With the embedded thread woken by the commit, up to four writers race for the lock.
    threads = [threading.Thread(target=apply, args=(ix,)) for ix in (runtime.indexer, other, other)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == [] and len(reports) == 3
    deadline = time.monotonic() + 30
    while runtime.indexer.apply_pending(runtime.sessions).busy:
        assert time.monotonic() < deadline
        time.sleep(0.05)
    with committed_app.app_context(), runtime.sessions() as session:
        drift = runtime.indexer.check(session)
        assert drift.clean and drift.pending == 0
    other.close()


@pytest.mark.slow
def test_an_indexer_killed_in_the_middle_of_its_batches_converges_after_a_restart(committed_app, tmp_path):
    runtime = runtime_of(committed_app)  # the follower process is the one writer
    _build(committed_app)
    with _write(committed_app) as session:
        load_dataset(session, {"policies": [policy_record(f"kill-{n}", title_en=f"Kill test {n}")
                                            for n in range(300)]})
    with runtime.sessions() as session:
        target = session.scalar(select(func.max(SearchChange.id)))
    start = _state(committed_app).high
    env = {**os.environ, "TRACKER_DATABASE_URL": committed_app.config["DATABASE_URL"],
           "TRACKER_SEARCH_INDEX_PATH": committed_app.config["SEARCH_INDEX_PATH"],
           "TRACKER_INSTANCE_PATH": str(tmp_path / "instance"), "TRACKER_SECRET_KEY": "kill-test"}
    command = [sys.executable, "-m", "flask", "--app", "tracker", "search", "follow", "--batch-size", "10",
               "--interval", "0.05"]
    follower = subprocess.Popen(command, env=env, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 60
        while _state(committed_app).high < start + 30:
            assert follower.poll() is None, follower.stderr.read().decode()
            assert time.monotonic() < deadline, "the follower made no progress"
            time.sleep(0.01)
        follower.send_signal(signal.SIGKILL)
        follower.wait(10)
    finally:
        if follower.poll() is None:
            follower.kill()
        follower.stderr.close()
    killed_at = _state(committed_app).high
    assert start < killed_at < target, "the kill did not land in the middle of the work"
    restarted = subprocess.run(command[:-2] + ["--once"], env=env, cwd=ROOT, capture_output=True, timeout=120)
    assert restarted.returncode == 0, restarted.stderr.decode()
    assert _state(committed_app).high == target
    database = committed_app.extensions["tracker.db"]
    with committed_app.app_context(), database.session() as session:
        drift = runtime.indexer.check(session)
        assert drift.clean and drift.pending == 0
        assert len(found(committed_app, session, "kill")) == 100  # per_page
        with committed_app.test_request_context():
            assert search(session, SearchRequest(q="kill test")).total == 300


def test_a_document_does_not_depend_on_the_order_of_its_lists_in_memory(session):
    """A record just created keeps its lists in the order they were appended; loaded afresh, they come by
    role and position. Both must give the same document, or `search check` would see it as stale."""
    from tracker.models import Event
    from tracker.search.documents import EVENT_LOAD, digest, event_document

    load(session, events=[event_record("order-forum", organisers=["la-mem"], funders=["la-edl"])])
    statement = select(Event).where(Event.key == "order-forum").options(*EVENT_LOAD)
    in_memory = digest(event_document(session.scalar(statement)))
    session.expire_all()
    reloaded = digest(event_document(session.scalar(statement.execution_options(populate_existing=True))))
    assert in_memory == reloaded
