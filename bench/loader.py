"""Bulk loading of a synthetic corpus into a migrated tracker database, for bench/search.py.

The reference records (topics, organisations, events) go through `flask data load`, the real path. The
synthetic policies are written with multi-row INSERTs through the models' tables on a plain connection:
the dataset loader re-reads every existing policy on each call, so loading 100,000 policies in batches
through it would take hours. The rows are the ones the loader would write (the same derived fields,
computed by the same function, ``refresh_derived``); only the audit entries of the import are left out,
which search never reads. Rows written this way leave no entry in the search change log, so the index
must be built afterwards with `flask search rebuild`, which reads the database.
"""
from __future__ import annotations

import time
from collections.abc import Callable
from types import SimpleNamespace

from corpus import Corpus
from sqlalchemy import insert, select

from tracker.db import make_engine
from tracker.models import (
    Event,
    ForumLink,
    Organisation,
    Policy,
    PolicyBody,
    PolicyTopic,
    PolicyVehicleClass,
    Source,
    StatusChange,
)
from tracker.models.types import PartialDate, utcnow
from tracker.services.dataset import IMPORTED_BY
from tracker.services.policies import refresh_derived


def _date(text: str | None) -> PartialDate | None:
    return PartialDate.parse(text) if text else None


def _rows(record: dict, policy_id: int, organisation_ids: dict[str, int], event_ids: dict[str, int],
          now) -> dict[str, list[dict]]:
    steps = []
    previous = None
    for position, step in enumerate(record["status_history"], start=1):
        steps.append({"policy_id": policy_id, "position": position, "from_status": previous,
                      "to_status": step["status"], "effective_on": _date(step["date"]), "note": step["note"],
                      "evidence_url": step["source_url"], "recorded_by": IMPORTED_BY, "recorded_by_id": None,
                      "override_reason": None, "recorded_at": now})
        previous = step["status"]
    derived = SimpleNamespace(
        status_changes=[SimpleNamespace(position=s["position"], to_status=s["to_status"],
                                        effective_on=s["effective_on"]) for s in steps],
        valid_from=_date(record["valid_from"]), valid_to=_date(record["valid_to"]))
    refresh_derived(derived)  # type: ignore[arg-type]
    policy = {
        "id": policy_id, "key": record["key"], "jurisdiction_code": record["country"],
        "instrument": record["instrument"], "title_en": record["title_en"], "title_lo": record["title_lo"],
        "title_local": record["title_local"], "summary_en": record["summary_en"],
        "summary_lo": record["summary_lo"], "reference": record["reference"],
        "issuer_id": organisation_ids[record["issuer"]] if record["issuer"] else None,
        "valid_from": derived.valid_from, "valid_to": derived.valid_to, "valid_to_end": derived.valid_to_end,
        "confidence": record["confidence"], "conflicts": record["conflicts"],
        "legal_status": derived.legal_status, "status_changed_on": derived.status_changed_on,
        "adopted_on": derived.adopted_on, "year": derived.year, "editorial_state": record["editorial_state"],
        "version": 1, "created_at": now, "updated_at": now,
    }
    return {
        "policies": [policy],
        "topics": [{"policy_id": policy_id, "topic_key": key, "position": i} for i, key in enumerate(record["topics"])],
        "classes": [{"policy_id": policy_id, "vehicle_class": value, "position": i}
                    for i, value in enumerate(record["vehicle_classes"])],
        "bodies": [{"policy_id": policy_id, "organisation_id": organisation_ids[body["org"]], "role": body["role"],
                    "position": i} for i, body in enumerate(record["other_bodies"])],
        "sources": [{"policy_id": policy_id, "event_id": None, "position": i, "url": source["url"],
                     "title": source["title"], "published": _date(source["published"]), "kind": source["kind"]}
                    for i, source in enumerate(record["sources"])],
        "steps": steps,
        "forum_links": [{"event_id": event_ids[link["event"]], "policy_id": policy_id, "role": link["role"],
                         "evidence": link["evidence"], "source_url": link["source_url"], "position": i}
                        for i, link in enumerate(record["forum_links"])],
    }


TABLES = {"policies": Policy, "topics": PolicyTopic, "classes": PolicyVehicleClass, "bodies": PolicyBody,
          "sources": Source, "steps": StatusChange, "forum_links": ForumLink}


def load_policies(database_url: str, corpus: Corpus, count: int, *, batch: int = 1000,
                  progress: Callable[[int, float], None] | None = None) -> float:
    """Insert policies 0..count-1 of ``corpus``; return the seconds spent. One transaction per batch."""
    engine = make_engine(database_url)
    started = time.perf_counter()
    try:
        with engine.connect() as connection:
            organisation_ids = dict(connection.execute(select(Organisation.key, Organisation.id)).all())
            event_ids = dict(connection.execute(select(Event.key, Event.id)).all())
            first_id = (connection.scalar(select(Policy.id).order_by(Policy.id.desc()).limit(1)) or 0) + 1
        done = 0
        while done < count:
            size = min(batch, count - done)
            now = utcnow()
            rows: dict[str, list[dict]] = {name: [] for name in TABLES}
            for offset, record in enumerate(corpus.policies(size, start=done)):
                for name, values in _rows(record, first_id + done + offset, organisation_ids, event_ids,
                                          now).items():
                    rows[name].extend(values)
            with engine.begin() as connection:
                for name, model in TABLES.items():
                    if rows[name]:
                        connection.execute(insert(model.__table__), rows[name])
            done += size
            if progress:
                progress(done, time.perf_counter() - started)
    finally:
        engine.dispose()
    return time.perf_counter() - started
