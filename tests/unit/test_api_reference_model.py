"""The OpenAPI document read for the reference page: types in code notation, descriptions as safe HTML, curl
commands a shell reads back exactly."""
from __future__ import annotations

import json
import shlex
from urllib.parse import parse_qs, urlsplit

from tracker.views.api_reference import _Resolver, api_text, build_reference, curl_command, schema_example, type_label

COMPONENTS = {"components": {"schemas": {
    "PolicyRef": {"type": "object", "properties": {"key": {"type": "string"}}, "required": ["key"]},
    "Input": {"type": "object", "required": ["state"], "additionalProperties": False, "properties": {
        "state": {"type": "string", "enum": ["draft", "published"]},
        "note": {"type": ["string", "null"], "maxLength": 5000},
        "rows": {"type": "array", "items": {"type": "object", "required": ["org"],
                                             "properties": {"org": {"type": "string"}}}}}},
}}}
RESOLVER = _Resolver(COMPONENTS)


def test_types_read_as_code_and_name_the_schemas_they_link_to():
    nullable_ref = type_label({"anyOf": [{"$ref": "#/components/schemas/PolicyRef"}, {"type": "null"}]}, RESOLVER)
    assert nullable_ref.text == "PolicyRef | null"
    assert ("PolicyRef", "PolicyRef") in nullable_ref.parts
    assert type_label({"type": "array", "items": {"$ref": "#/components/schemas/PolicyRef"}}, RESOLVER).text == (
        "array<PolicyRef>")
    assert type_label({"type": "object", "additionalProperties": {"type": "integer"}}, RESOLVER).text == (
        "map<string, integer>")
    assert type_label({"enum": ["low", "high", None]}, RESOLVER).text == "string | null"
    assert type_label({"type": "string", "format": "date-time"}, RESOLVER).text == "string(date-time)"
    assert type_label({"description": "Any value."}, RESOLVER).text == "any"


def test_descriptions_become_escaped_html_with_code_and_paragraphs():
    html = str(api_text('Send `If-Match: "7"` <script>alert(1)</script>.\n\nThen `version`.'))
    assert html == ('<p>Send <code>If-Match: &#34;7&#34;</code> &lt;script&gt;alert(1)&lt;/script&gt;.</p>'
                    '<p>Then <code>version</code>.</p>')
    assert str(api_text("One line, no `code")) == "One line, no `code"


def test_a_curl_command_is_read_back_by_a_shell_exactly_as_meant():
    body = {"note": "The Ministry's 'final' text", "title_lo": "ດຳລັດ ວ່າດ້ວຍ ລົດໄຟຟ້າ"}
    parameters = [
        {"name": "key", "in": "path", "required": True, "schema": {"type": "string"}, "example": "la/decree 1"},
        {"name": "q", "in": "query", "required": True, "schema": {"type": "string"}, "example": "ລົດໄຟຟ້າ & co"},
        {"name": "country", "in": "query", "required": False, "schema": {"type": "array"}, "example": ["LA", "TH"]},
        {"name": "page", "in": "query", "required": False, "schema": {"type": "integer", "default": 1}},
    ]
    command = curl_command("https://tracker.example/api/v1", "PATCH", "/policies/{key}", parameters,
                           ("application/json", {"$ref": "#/components/schemas/Input"}, body, {}), token=True,
                           resolver=RESOLVER)
    words = shlex.split(command.replace("\\\n", " "))
    assert words[:4] == ["curl", "-s", "-X", "PATCH"]
    url = urlsplit(words[4])
    assert url.path == "/api/v1/policies/la%2Fdecree%201"
    # Optional parameters come only when the document gives an example; repeated ones repeat.
    assert parse_qs(url.query) == {"q": ["ລົດໄຟຟ້າ & co"], "country": ["LA", "TH"]}
    assert words[5:9] == ["-H", "Authorization: Bearer $TRACKER_TOKEN", "-H", "Content-Type: application/json"]
    assert words[9] == "-d" and json.loads(words[10]) == body
    assert '"Authorization: Bearer $TRACKER_TOKEN"' in command  # double quotes: the shell fills in the token


def test_a_read_without_token_and_a_file_upload():
    assert curl_command("http://localhost/api/v1", "GET", "/topics", [], None, token=False,
                        resolver=RESOLVER) == "curl -s http://localhost/api/v1/topics"
    upload = {"type": "object", "required": ["file", "role"], "properties": {
        "file": {"type": "string", "format": "binary"}, "role": {"enum": ["original", "annex"]},
        "reason": {"type": "string"}}}
    command = curl_command("http://localhost/api/v1", "POST", "/documents", [],
                           ("multipart/form-data", upload, None, {}), token=True, resolver=RESOLVER)
    assert shlex.split(command.replace("\\\n", " "))[5:] == [
        "-H", "Authorization: Bearer $TRACKER_TOKEN", "-F", "file=@decree.pdf", "-F", "role=original"]
    # The file is named after the first type the part's encoding accepts.
    spreadsheet = curl_command("http://localhost/api/v1", "POST", "/imports", [], (
        "multipart/form-data", upload, None, {"file": {"contentType": "application/vnd.openxmlformats-"
                                                                      "officedocument.spreadsheetml.sheet, text/csv"}}),
        token=True, resolver=RESOLVER)
    assert "-F file=@policies.xlsx" in spreadsheet


def test_a_body_without_example_is_made_of_its_required_fields():
    assert schema_example({"$ref": "#/components/schemas/Input"}, RESOLVER) == {"state": "draft"}
    assert schema_example({"type": "array", "items": {"type": "integer", "minimum": 3}}, RESOLVER) == [3]


def test_the_reference_groups_operations_by_tag_and_lists_nested_fields():
    document = COMPONENTS | {
        "servers": [{"url": "/api/v1"}], "tags": [{"name": "Records", "description": "Records."}],
        "paths": {"/records/{key}": {"post": {
            "operationId": "setState", "summary": "Set a state.", "tags": ["Records"],
            "security": [{"bearerAuth": []}],
            "parameters": [{"name": "key", "in": "path", "required": True, "schema": {"type": "string"},
                            "example": "r1"}],
            "requestBody": {"required": True, "content": {"application/json": {
                "schema": {"$ref": "#/components/schemas/Input"}, "example": {"state": "published"}}}},
            "responses": {"200": {"description": "Done.", "content": {"application/json": {
                "schema": {"$ref": "#/components/schemas/PolicyRef"}, "example": {"key": "r1"}}}}}}}}}
    reference = build_reference(document, "https://tracker.example/")
    [group] = reference.groups
    [operation] = group.operations
    assert (group.name, operation.method, operation.path, operation.auth) == (
        "Records", "POST", "/api/v1/records/{key}", "required")
    assert [field.name for field in operation.body.fields] == ["state", "note", "rows", "rows[].org"]
    assert operation.body.fields[0].values == ("draft", "published") and operation.body.fields[0].required
    assert operation.body.fields[1].limits == ("maxLength 5000",)
    assert operation.answers[0].example == '{\n  "key": "r1"\n}'
    assert "https://tracker.example/api/v1/records/r1" in operation.curl
    # The body's schema is described with its operation; the others under Schemas.
    assert operation.body.anchor == "schema-Input"
    assert [schema.name for schema in reference.schemas] == ["PolicyRef"]
