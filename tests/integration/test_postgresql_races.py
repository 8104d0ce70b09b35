"""Writers racing on one record over PostgreSQL: an edit, a status change and an editorial move at once.

Each write path takes its locks in one order (the record's row first, the content version row last, just
before COMMIT), so they never deadlock; a transaction the database aborts anyway is run again, and a
request that keeps losing is a 409, never a 500. Defined only when the suite runs on PostgreSQL, where
CI always runs it (never a skipped test on SQLite).
"""
from __future__ import annotations

import os
import threading
import uuid
from collections import Counter

from sqlalchemy import delete, select

from tests.conftest import email_of
from tracker.db import Database, unit_of_work
from tracker.models import ApiToken, AuditEntry, NotificationEvent, Policy, User
from tracker.models.search_log import log_search_changes
from tracker.services import accounts
from tracker.services.editing import create_policy, set_editorial_state

POSTGRESQL_URL = os.environ.get("TRACKER_DATABASE_URL", "")
ROUNDS = 20

if POSTGRESQL_URL.startswith("postgresql"):

    def test_edit_status_change_and_editorial_move_racing_on_one_record_end_2xx_or_409(app, database: Database):
        assert database.engine.dialect.name == "postgresql"
        key = f"race3-{uuid.uuid4().hex[:12]}"
        with unit_of_work(database.session(write=True)) as session:
            reviewer = session.scalars(select(User).where(User.email == email_of("reviewer"))).one()
            create_policy(session, {"key": key, "country": "LA", "title_en": "Race of three",
                                    "instrument": "decree", "status": "in_force"}, reviewer)
            set_editorial_state(session, "policy", key, "published", reviewer)
            tokens = [accounts.create_api_token(session, reviewer, f"race {n}")[1] for n in range(3)]
        try:
            with database.session() as reader:
                first_version = reader.scalar(select(Policy.version).where(Policy.key == key))
            statuses: Counter[tuple[str, int]] = Counter()
            failures: list[str] = []
            start = threading.Barrier(3, timeout=30)

            def current(client, headers) -> dict:
                return client.get(f"/api/v1/policies/{key}", headers=headers).get_json()

            def writer(kind: str, token: str) -> None:
                client = app.test_client()
                headers = {"Authorization": f"Bearer {token}"}
                try:
                    for number in range(ROUNDS):
                        record = current(client, headers)
                        version = record["version"]
                        if number == 0:
                            start.wait()
                        if kind == "edit":
                            response = client.patch(f"/api/v1/policies/{key}", headers=headers, json={
                                "base_version": version, "valid_to": str(2030 + number % 7),
                                "summary_en": f"Summary {number}"})
                        elif kind == "status":
                            response = client.post(f"/api/v1/policies/{key}/status", headers=headers,
                                                   json={"status": "in_force", "note": f"Confirmed {number}"})
                        else:
                            state = "archived" if record["editorial_state"] == "published" else "published"
                            response = client.post(f"/api/v1/policies/{key}/editorial", headers=headers,
                                                   json={"state": state, "version": version})
                        statuses[(kind, response.status_code)] += 1
                        if response.status_code not in (200, 201, 409):
                            failures.append(f"{kind}: {response.status_code} {response.get_data(as_text=True)[:300]}")
                except BaseException as error:  # collected and asserted by the test
                    failures.append(f"{kind}: {error!r}")

            threads = [threading.Thread(target=writer, args=(kind, token))
                       for kind, token in zip(("edit", "status", "editorial"), tokens)]
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join(timeout=120)
            assert not any(thread.is_alive() for thread in threads)
            assert failures == [], failures
            assert sum(statuses.values()) == 3 * ROUNDS
            # A status change carries no version: it waits for the record's lock and always lands.
            assert statuses[("status", 201)] == ROUNDS, statuses
            successes = sum(count for (kind, status), count in statuses.items() if status < 300)
            with database.session() as reader:
                policy = reader.scalars(select(Policy).where(Policy.key == key)).one()
                # Every successful write moved the version exactly once; nothing was lost or doubled.
                assert policy.version == first_version + successes, statuses
                steps = reader.scalars(select(AuditEntry).where(
                    AuditEntry.entity_key == key, AuditEntry.action == "status_change")).all()
                assert len(steps) == ROUNDS
        finally:
            with unit_of_work(database.session(write=True)) as session:
                policy_id = session.scalar(select(Policy.id).where(Policy.key == key))
                session.execute(delete(AuditEntry).where(AuditEntry.entity_type == "policy",
                                                         AuditEntry.entity_key == key))
                session.execute(delete(NotificationEvent).where(NotificationEvent.policy_id == policy_id))
                session.execute(delete(ApiToken).where(ApiToken.name.like("race %")))
                session.execute(delete(Policy).where(Policy.id == policy_id),
                                execution_options={"search_log_bypass": True})
                log_search_changes(session, "policy", [policy_id])
