"""Schemathesis drives the API from its OpenAPI document, in-process: no 5xx, every response as documented.

Each operation is run with generated valid input (positive) and with input that breaks the schema
(negative), which the API must refuse with a documented 4xx. Write operations run with a reviewer's
token, inside the test's rolled-back transaction, against generated keys and real ones.
"""
from __future__ import annotations

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from schemathesis.generation import GenerationMode
from schemathesis.specs.openapi.checks import positive_data_acceptance

WRITE_METHODS = frozenset({"POST", "PATCH", "PUT", "DELETE"})
# Records the write operations are also aimed at, so that conflicts and refusals on real records are
# checked too, not only 404s on generated keys.
REAL_KEYS = {
    "policies": ["la-gov-resolution-08-2021-ev-policy", "write-api-draft"],
    "events": ["write-api-forum"],
}


@pytest.fixture(scope="module")
def api_schema(app):
    return schemathesis.openapi.from_wsgi("/api/v1/openapi.json", app)


def operations(schema) -> list:
    return [result.ok() for result in schema.get_all_operations()]


def written_or_refused_by_rule(ctx, response, case) -> None:
    """Replaces positive_data_acceptance for writes: a body can match the schema and still break a rule
    the schema cannot state (an unknown organisation key, an end before the start, a move outside the
    status transition table, a stale version), so the answer to valid-looking data is a success or a
    refusal that names its reason, and never anything else."""
    if case.meta is None or not case.meta.generation.mode.is_positive:
        return
    status = response.status_code
    assert status in {200, 201, 400, 404, 409, 428}, f"valid-looking data got {status}"
    if status == 400:
        assert response.json()["error"].get("errors"), "a 400 must name the fields at fault"


def strategy_for(operation, mode: GenerationMode, headers: dict[str, str] | None):
    strategy = operation.as_strategy(generation_mode=mode, headers=headers)
    path = operation.path
    if headers is None or "{key}" not in path:
        return strategy
    keys = REAL_KEYS["events" if path.startswith("/events") else "policies"]
    fixed = [operation.as_strategy(generation_mode=mode, headers=headers, path_parameters={"key": key})
             for key in keys]
    return st.one_of(strategy, *fixed)


@pytest.mark.slow
@pytest.mark.parametrize("mode", [GenerationMode.POSITIVE, GenerationMode.NEGATIVE], ids=lambda m: m.value)
def test_api_conforms_to_its_openapi_document(api_schema, mode, api_token, session):
    from tests.factories import event_record, load, policy_record

    load(session, events=[event_record("write-api-forum", editorial_state="draft")],
         policies=[policy_record("write-api-draft", editorial_state="draft")])
    session.commit()
    token = api_token("reviewer")
    checked = []
    for operation in operations(api_schema):
        definition = operation.definition.raw
        breakable = definition.get("parameters") or definition.get("requestBody")
        if mode is GenerationMode.NEGATIVE and not breakable:
            continue  # nothing to break in an operation without parameters or body
        writes = operation.method.upper() in WRITE_METHODS
        headers = dict(token) if writes else None
        # Input can match its schema and still break a rule no schema states (an unknown key, an end
        # before a start, a search query with no word left to search, a token that is no cursor of the
        # changes feed, a day after today or not in the calendar in as_of): such operations may refuse
        # valid-looking input, but only with a 400 that names the field.
        ruled = writes or operation.label in ("GET /search", "GET /search/passages", "GET /changes",
                                              "GET /policies", "GET /matrix")
        excluded = [positive_data_acceptance] if ruled else []
        additional = [written_or_refused_by_rule] if ruled else []

        @given(case=strategy_for(operation, mode, headers))
        @settings(max_examples=30, deadline=None, database=None, derandomize=True,
                  suppress_health_check=list(HealthCheck))
        def run(case):
            # Run at once, inside this iteration: the loop's values are the ones meant.
            case.call_and_validate(headers=headers, excluded_checks=excluded,  # noqa: B023
                                   additional_checks=additional)  # noqa: B023

        run()
        checked.append(operation.label)
    assert checked, "no operation was exercised"
    assert any(label.startswith("PATCH") for label in checked), "the write operations were not exercised"
