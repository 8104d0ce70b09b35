"""Scores that depend on the live documents only: two replicas with different histories of edits and merges,
a warm process and a fresh one, identical documents in different segments; and every host's indexer running
from the start of its web processes, or from `search follow` on a host that has no index yet."""
from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
from sqlalchemy import select

from tests.conftest import PASSWORD
from tests.factories import policy_record
from tracker import create_app
from tracker.db import unit_of_work
from tracker.models import User
from tracker.search.request import SearchRequest
from tracker.search.runtime import runtime_of
from tracker.services import accounts, editing
from tracker.services.dataset import load_dataset
from tracker.services.search import search

ROOT = Path(__file__).resolve().parents[2]
QUERIES = ["electric", "charging station", "EV import duty exemption", "tax", "subsidies for electric buses",
           "ລົດໄຟຟ້າ", "battery standard", "road tax", "Laos", "decree", "motorcycle excise", "roadmap 2030",
           "charging point rules", "registration fee", "hybrid", "\"import duty\"", "tax NOT Malaysia",
           "country:TH incentives", "standards", "forum"]


def _write(app):
    return unit_of_work(app.extensions["tracker.db"].session(write=True))


def ranked(app, q: str) -> list[tuple[str, float]]:
    """Every hit of ``q`` in rank order with its score, as a reader (staff) gets them."""
    database = app.extensions["tracker.db"]
    with app.test_request_context(), database.session() as session:
        results = search(session, SearchRequest(q=q, per_page=100, verbatim=True), include_unpublished=True)
        return [(hit.key, hit.score) for hit in results.hits]


def assert_same_ranking(one: list[tuple[str, float]], other: list[tuple[str, float]], q: str) -> None:
    assert [key for key, _ in one] == [key for key, _ in other], q
    for (key, score), (_, other_score) in zip(one, other):
        assert score == pytest.approx(other_score, rel=1e-9, abs=1e-12), (q, key)


def second_host(app, index_path: Path):
    """Another host on the same database: its own app and its own index folder."""
    return create_app({"TESTING": True, "DATABASE_URL": app.config["DATABASE_URL"],
                       "SECRET_KEY": "test-secret-key-not-for-production", "SEARCH_INDEX_PATH": str(index_path),
                       "SEARCH_INDEXER": "external"})


@pytest.fixture
def demo_app(committed_app, demo_data):
    with _write(committed_app) as session:
        load_dataset(session, {"policies": demo_data["policies"], "events": demo_data["events"]})
        accounts.create_user(session, "consistency@example.org", PASSWORD, "reviewer")
    return committed_app


def _edit_many(app, rounds: int) -> None:
    """Edits that replace documents again and again (each apply of the log deletes the old ones)."""
    with _write(app) as session:
        actor = session.scalars(select(User).where(User.email == "consistency@example.org")).one()
    keys = ["la-gov-resolution-08-2021-ev-policy", "th-ev30-incentives-2022-2025", "id-pmk-38-2023",
            "sg-ev-charging-act-2022", "vn-decree-10-2022-registration-fee", "kh-national-ev-policy-2024-2030"]
    for round_ in range(rounds):
        for key in keys:
            with _write(app) as session:
                editing.update_policy(session, key, {"summary_en": f"Electric vehicle charging and tax round "
                                                                   f"{round_} " + "words " * (round_ * 7)},
                                      session.get(User, actor.id), None)
        with _write(app) as session:
            load_dataset(session, {"policies": [policy_record(f"consistency-{round_}-{n}",
                                                              title_en=f"Electric bus tax plan {n}")
                                                for n in range(3)]})


def test_two_replicas_with_different_histories_rank_every_query_alike(demo_app, tmp_path):
    """One replica follows every edit in small batches (segments full of deleted documents, merges); the
    other is built once at the end. Same live documents, so the same scores and order for every query."""
    follower = second_host(demo_app, tmp_path / "follower-index")
    try:
        runtime = runtime_of(follower)
        runtime.indexer.batch_size = 3
        runtime.indexer.build(runtime.sessions(), runtime.sessions)
        for _ in range(3):
            _edit_many(demo_app, 2)
            while runtime.indexer.apply_pending(runtime.sessions).rows:
                pass
        fresh = runtime_of(demo_app)
        fresh.indexer.build(fresh.sessions(), fresh.sessions)
        with follower.app_context():
            _, leaves = runtime.replica.searcher()
        assert any(leaf.live != (1 << leaf.data.size) - 1 for leaf in leaves), "the follower has no deletions"
        with demo_app.app_context():
            _, fresh_leaves = fresh.replica.searcher()
        assert len(fresh_leaves) == 1 and fresh_leaves[0].live == (1 << fresh_leaves[0].data.size) - 1
        for q in QUERIES:
            built_once = ranked(demo_app, q)
            assert built_once, q
            assert_same_ranking(ranked(follower, q), built_once, q)
    finally:
        runtime_of(follower).close()
        follower.extensions["tracker.db"].dispose()


_FRESH_PROCESS = """
import json, sys
from tracker import create_app
from tracker.search.request import SearchRequest
from tracker.services.search import search

app = create_app({"TESTING": True, "SEARCH_INDEXER": "external"})
database = app.extensions["tracker.db"]
out = {}
for q in json.loads(sys.argv[1]):
    with app.test_request_context(), database.session() as session:
        results = search(session, SearchRequest(q=q, per_page=100, verbatim=True), include_unpublished=True)
        out[q] = [(hit.key, hit.score) for hit in results.hits]
print(json.dumps(out))
"""


def test_scores_of_a_warm_process_equal_those_of_a_fresh_one(demo_app, tmp_path):
    """The term cache keeps what it read; a commit that changes the collection's statistics (here, longer
    documents) must change the scores of cached terms too, as a process starting now computes them."""
    runtime = runtime_of(demo_app)
    runtime.indexer.build(runtime.sessions(), runtime.sessions)
    for q in QUERIES:  # warm: every query's terms are now in this process's cache
        ranked(demo_app, q)
    _edit_many(demo_app, 3)
    while runtime.indexer.apply_pending(runtime.sessions).rows:
        pass
    warm = {q: ranked(demo_app, q) for q in QUERIES}
    env = {**os.environ, "TRACKER_DATABASE_URL": demo_app.config["DATABASE_URL"],
           "TRACKER_SEARCH_INDEX_PATH": demo_app.config["SEARCH_INDEX_PATH"],
           "TRACKER_INSTANCE_PATH": str(tmp_path / "fresh-instance"), "TRACKER_SECRET_KEY": "fresh-process"}
    done = subprocess.run([sys.executable, "-c", _FRESH_PROCESS, json.dumps(QUERIES)], env=env, cwd=ROOT,
                          capture_output=True, timeout=120)
    assert done.returncode == 0, done.stderr.decode()
    fresh = json.loads(done.stdout)
    for q in QUERIES:
        assert_same_ranking(warm[q], [tuple(hit) for hit in fresh[q]], q)


def test_identical_documents_in_different_segments_score_alike_and_tie_by_key(committed_app):
    runtime = runtime_of(committed_app)
    with _write(committed_app) as session:
        load_dataset(session, {"policies": [policy_record("twin-b", title_en="Numbat charging twin")]})
    runtime.indexer.build(runtime.sessions(), runtime.sessions)
    with _write(committed_app) as session:
        load_dataset(session, {"policies": [policy_record("twin-a", title_en="Numbat charging twin"),
                                            policy_record("other", title_en="Numbat charging twin of a "
                                                                            "longer kind, with more words")]})
    runtime.indexer.apply_pending(runtime.sessions)
    with committed_app.app_context():
        _, leaves = runtime.replica.searcher()
    assert len(leaves) >= 2, "the twins are in different segments"
    hits = ranked(committed_app, "numbat charging")
    assert [key for key, _ in hits][:2] == ["twin-a", "twin-b"]
    assert hits[0][1] == hits[1][1] > hits[2][1]


def test_search_follow_builds_the_index_of_a_host_that_has_none(committed_app):
    with _write(committed_app) as session:
        load_dataset(session, {"policies": [policy_record("follow-built", title_en="Quokka charging plan")]})
    result = committed_app.test_cli_runner().invoke(args=["search", "follow", "--once"])
    assert result.exit_code == 0, result.output
    assert "does not exist yet; building it" in result.output and "Built the records index" in result.output
    assert "Built the passages index" in result.output
    assert [key for key, _ in ranked(committed_app, "quokka")] == ["follow-built"]


def test_a_web_process_applies_other_hosts_changes_from_its_start(demo_app, tmp_path):
    """A host whose web processes write nothing still follows the others: its indexer starts at boot
    (gunicorn's post_worker_init hook), not at its first commit."""
    from tracker.gunicorn_hooks import post_worker_init

    runtime = runtime_of(demo_app)
    runtime.indexer.build(runtime.sessions(), runtime.sessions)
    runtime.config.update(SEARCH_INDEXER="embedded", SEARCH_POLL_INTERVAL=0.2)
    other = second_host(demo_app, tmp_path / "other-index")

    class Worker:  # what gunicorn hands the hook: the worker, with the app it serves
        wsgi = demo_app

    try:
        post_worker_init(Worker())
        assert runtime.runner.running
        with _write(other) as session:
            load_dataset(session, {"policies": [policy_record("from-another-host", title_en="Wombat charging")]})
        deadline = time.monotonic() + 5
        while [key for key, _ in ranked(demo_app, "wombat")] != ["from-another-host"]:
            assert time.monotonic() < deadline, "this host never applied the other host's change"
            time.sleep(0.05)
    finally:
        runtime.stop()
        runtime_of(other).close()
        other.extensions["tracker.db"].dispose()
