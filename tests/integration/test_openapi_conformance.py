"""Schemathesis drives the API from its OpenAPI document, in-process: no 5xx, every response as documented.

Each operation is run with generated valid input (positive) and with input that breaks the schema
(negative), which the API must refuse with a documented 4xx.
"""
from __future__ import annotations

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.generation import GenerationMode


@pytest.fixture(scope="module")
def api_schema(app):
    return schemathesis.openapi.from_wsgi("/api/v1/openapi.json", app)


def operations(schema) -> list:
    return [result.ok() for result in schema.get_all_operations()]


@pytest.mark.parametrize("mode", [GenerationMode.POSITIVE, GenerationMode.NEGATIVE], ids=lambda m: m.value)
def test_api_conforms_to_its_openapi_document(api_schema, mode):
    checked = []
    for operation in operations(api_schema):
        if mode is GenerationMode.NEGATIVE and not operation.definition.raw.get("parameters"):
            continue  # nothing to break in an operation without parameters

        @given(case=operation.as_strategy(generation_mode=mode))
        @settings(max_examples=30, deadline=None, database=None, suppress_health_check=list(HealthCheck))
        def run(case):
            case.call_and_validate()

        run()
        checked.append(operation.label)
    assert checked, "no operation was exercised"
