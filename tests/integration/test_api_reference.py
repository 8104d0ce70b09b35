"""The API reference page (/api): every operation of the OpenAPI document, curl commands that work, Lao, caching."""
from __future__ import annotations

import io
import json
import re
import shlex
import subprocess
from html import unescape
from urllib.parse import urlsplit

import pytest

from tests.conftest import email_of
from tests.i18n.test_i18n_pages import visible_texts
from tracker.db import unit_of_work
from tracker.services import accounts
from tracker.services.dataset import load_dataset
from tracker.services.schema_check import check

POLICY = "la-gov-resolution-08-2021-ev-policy"
METHODS = ("get", "post", "put", "patch", "delete")
OPERATION = re.compile(r'<section class="operation" id="op-(?P<id>[\w-]+)">(?P<body>.*?)</section>', re.S)
PRE = re.compile(r"<pre[^>]*><code>(.*?)</code></pre>", re.S)


def text_of(html: str) -> str:
    return " ".join(unescape(re.sub(r"<[^>]+>", " ", html)).split())


def operations_of(html: str) -> dict[str, str]:
    """operationId -> the HTML of its section on the page."""
    return {match["id"]: match["body"] for match in OPERATION.finditer(html)}


def curl_of(section: str) -> str:
    """The curl command of an operation's section (its last code block), as a reader would copy it."""
    return unescape(PRE.findall(section)[-1])


def documented(document: dict) -> list[tuple[str, str, dict]]:
    return [(path, method, operation) for path, item in document["paths"].items()
            for method, operation in item.items() if method in METHODS]


@pytest.fixture
def document(client) -> dict:
    return client.get("/api/v1/openapi.json").get_json()


def page(client, language: str = "en") -> str:
    client.set_cookie("lang", language)
    response = client.get("/api")
    assert response.status_code == 200
    assert response.mimetype == "text/html"
    return response.get_data(as_text=True)


# ---------------------------------------------------------------------------------------------------
# What the page shows


def test_the_page_lists_every_path_and_method_of_the_openapi_document(client, document):
    html = page(client)
    sections = operations_of(html)
    operations = documented(document)
    assert len(operations) >= 30
    assert len(sections) == len(operations), "one section per operation, none invented"
    for path, method, operation in operations:
        section = sections[operation["operationId"]]
        heading = text_of(re.search(r"<h3[^>]*>(.*?)</h3>", section, re.S)[1])
        assert heading == f"{method.upper()} /api/v1{path}"
        # In the contents too, linked to its section.
        assert f'<a href="#op-{operation["operationId"]}"><code>{method.upper()} /api/v1{path}</code></a>' in html
        for parameter in operation.get("parameters", ()):
            assert f'<code class="name">{parameter["name"]}</code>' in section, (path, method, parameter["name"])
        for status in operation["responses"]:
            assert f'<code class="status">{status}</code>' in section, (path, method, status)
        assert "".join(operation["summary"].replace("`", "").split()) in "".join(text_of(section).split())


def test_operations_are_grouped_by_tag_in_the_order_of_the_document(client, document):
    html = page(client).split('<section id="schemas"')[0]
    groups = re.split(r'<section class="api-group" id="group-[\w-]+">', html)[1:]
    assert [text_of(re.search(r"<h2[^>]*>(.*?)</h2>", group, re.S)[1]) for group in groups] == [
        tag["name"] for tag in document["tags"]]
    for tag, group in zip(document["tags"], groups):
        ids = {operation["operationId"] for _, _, operation in documented(document)
               if operation["tags"] == [tag["name"]]}
        assert ids and set(operations_of(group)) == ids, tag["name"]


def test_every_link_within_the_page_has_its_target(client):
    html = page(client)
    ids = re.findall(r' id="([^"]+)"', html)
    assert len(ids) == len(set(ids)), "ids are unique"
    targets = set(re.findall(r'href="#([^"]+)"', html))
    assert len(targets) > 60 and targets <= set(ids)


def test_parameters_show_where_they_go_their_type_values_and_default(client):
    section = operations_of(page(client))["listPolicies"]
    entry = re.search(r'<code class="name">sort</code>(.*?)</dd>', section, re.S)[1]
    assert "in the query string" in entry and '<code class="type">string</code>' in entry
    assert "Default: <code>latest</code>" in entry and "<code>adopted</code>" in entry
    key = operations_of(page(client))["getPolicy"]
    assert re.search(r'<code class="name">key</code>.*?in the path.*?required', key, re.S)


def test_a_request_body_is_described_field_by_field_with_its_schema(client):
    section = operations_of(page(client))["recordStatusChange"]
    assert 'id="schema-StatusChangeInput"' in section
    assert '<code>application/json</code>' in section
    for field in ("status", "effective_on", "note", "note_lo", "evidence_url", "reason", "version"):
        assert f'<code class="name">{field}</code>' in section
    assert re.search(r'<code class="name">status</code>.*?required.*?<code>in_force</code>', section, re.S)
    # Named schemas inside a body link to their description under Schemas.
    create = operations_of(page(client))["createPolicy"]
    assert '<a href="#schema-SourceInput">SourceInput</a>' in create
    assert 'id="schema-SourceInput"' in page(client)


def test_the_introduction_authentication_errors_and_rate_limits_are_there(client):
    html = page(client)
    contents = re.search(r'<nav class="api-toc".*?</nav>', html, re.S)[0]
    for anchor in ("introduction", "authentication", "errors", "rate-limits", "schemas"):
        assert f'href="#{anchor}"' in contents and f'id="{anchor}"' in html
    words = text_of(html)
    assert "http://localhost/api/v1" in words  # the base URL of the site it is read on
    assert "Authorization: Bearer" in words and 'href="/account"' in html
    assert "If-None-Match" in words and "Accept-Language: lo" in words
    assert "has no limit on the number of requests" in words and "At most 100 results a page" in words
    # The error envelope, as the API gives it.
    errors = html.split('id="errors"')[1].split('id="rate-limits"')[0]
    example = json.loads(unescape(PRE.findall(errors)[0]))
    assert example["error"]["status"] == 400 and example["error"]["errors"]["country"]
    assert client.get("/api/v1/policies?country=XX").get_json() == example


def test_descriptions_of_the_document_are_escaped_and_marked_english(client):
    section = operations_of(page(client))["searchPassages"]
    # `code` spans become <code>, quotes and angle brackets are escaped, and the text says it is English.
    assert re.search(r'<div class="data" lang="en">Same analysis as <code>/search</code>', section)
    highlight = operations_of(page(client))["search"]
    assert "<mark>" not in highlight and "<script" not in page(client)


def test_the_menu_links_to_the_page_which_links_to_the_json(client, login_as):
    for role in (None, "partner"):
        login_as(role)
        home = client.get("/").get_data(as_text=True)
        nav = re.search(r'<nav aria-label="Main">(.*?)</nav>', home, re.S)[1]
        assert '<a href="/api">API</a>' in nav
        assert "openapi.json" not in nav
        page_html = page(client)
        nav = re.search(r'<nav aria-label="Main">(.*?)</nav>', page_html, re.S)[1]
        assert '<a href="/api" aria-current="page">API</a>' in nav
        assert '<a href="/api/v1/openapi.json" type="application/json">OpenAPI description</a>' in page_html
    assert client.get("/api/v1/openapi.json").status_code == 200


# ---------------------------------------------------------------------------------------------------
# The curl commands


def test_the_curl_commands_of_a_read_and_a_token_write_are_exact(client):
    sections = operations_of(page(client))
    assert curl_of(sections["getPolicy"]) == f"curl -s http://localhost/api/v1/policies/{POLICY}"
    assert curl_of(sections["listPolicies"]) == (
        "curl -s 'http://localhost/api/v1/policies?country=LA&expand=summary%2Cstatus_history%2Csources'")
    assert curl_of(sections["recordStatusChange"]) == (
        f"curl -s -X POST http://localhost/api/v1/policies/{POLICY}/status \\\n"
        '     -H "Authorization: Bearer $TRACKER_TOKEN" \\\n'
        "     -H 'Content-Type: application/json' \\\n"
        """     -d '{"status": "in_force", "effective_on": "2022-01", "note": "Implementing rules issued.", """
        """"evidence_url": "https://example.org/gazette"}'""")
    # A read that needs no token sends none; every operation that needs one sends it.
    assert "Authorization" not in curl_of(sections["getPolicy"])
    assert '-H "Authorization: Bearer $TRACKER_TOKEN"' in curl_of(sections["listSubscriptions"])
    assert "-F file=@decree.pdf" in curl_of(sections["attachDocument"])


def _request_of(command: str, token: str) -> dict:
    """What a shell would make of a curl command of the page: method, URL, headers, body."""
    words = shlex.split(command.replace("\\\n", " "))
    assert words[:2] == ["curl", "-s"], command
    request: dict = {"method": "GET", "headers": {}, "data": None, "form": {}}
    rest = iter(words[2:])
    for word in rest:
        if word == "-X":
            request["method"] = next(rest)
        elif word == "-H":
            name, _, value = next(rest).partition(": ")
            request["headers"][name] = value.replace("$TRACKER_TOKEN", token)
        elif word == "-d":
            request["data"] = next(rest)
        elif word == "-F":
            name, _, value = next(rest).partition("=")
            request["form"][name] = (io.BytesIO(b"Not a PDF."), value[1:]) if value.startswith("@") else value
        else:
            request["url"] = word
    return request


def test_every_curl_command_gets_an_answer_its_operation_documents(client, document, api_token):
    token = api_token("reviewer")["Authorization"].removeprefix("Bearer ")
    sections = operations_of(page(client))
    answers = {}
    # The key changes last: after them the examples' keys name no record (a GET is redirected, a write is not).
    renames = ("changePolicyKey", "changeEventKey")
    for path, method, operation in sorted(documented(document), key=lambda item: item[2]["operationId"] in renames):
        request = _request_of(curl_of(sections[operation["operationId"]]), token)
        url = urlsplit(request["url"])
        assert url.netloc == "localhost" and url.path.startswith("/api/v1/")
        assert request["method"] == method.upper()
        response = client.open(url.path, query_string=url.query, method=request["method"],
                               headers=request["headers"], data=request["data"] or request["form"] or None,
                               content_type=request["headers"].get("Content-Type"))
        answers[operation["operationId"]] = response.status_code
        assert str(response.status_code) in operation["responses"], (method, path, response.get_data()[:300])
        response.close()
    # The examples do what they say on the records of the dataset.
    assert answers["listPolicies"] == answers["getPolicy"] == answers["listTopics"] == 200
    assert answers["search"] == answers["searchPassages"] == 200
    assert answers["recordStatusChange"] == 201 and answers["createPolicy"] == 201
    assert answers["createEvent"] == answers["createSubscription"] == 201
    assert answers["listSubscriptions"] == answers["listWebhooks"] == 200
    policy = client.get(f"/api/v1/policies/{POLICY}", follow_redirects=True).get_json()
    assert policy["legal_status"] == "in_force"


@pytest.mark.slow
def test_the_curl_commands_work_in_a_shell_against_a_served_tracker(committed_app, demo_data):
    """Real curl, real HTTP: the read and the token write as copied from the page, the token in $TRACKER_TOKEN."""
    from tests.browser.conftest import serving

    database = committed_app.extensions["tracker.db"]
    record = next(p for p in demo_data["policies"] if p["key"] == POLICY)
    with unit_of_work(database.session(write=True)) as session:
        load_dataset(session, {"policies": [record | {"relations": [], "forum_links": []}]})
        reviewer = accounts.create_user(session, email_of("reviewer"), "correct horse battery staple", "reviewer")
        _, token = accounts.create_api_token(session, reviewer, "curl")
    with serving(committed_app) as base_url:
        html = subprocess.run(["curl", "-s", f"{base_url}/api"], capture_output=True, text=True, check=True,
                              timeout=60).stdout
        sections = operations_of(html)

        def run(operation_id: str) -> dict:
            command = curl_of(sections[operation_id])
            assert command.startswith(f"curl -s {base_url}/") or command.startswith(f"curl -s -X POST {base_url}/")
            result = subprocess.run(["bash", "-c", command], capture_output=True, text=True, timeout=60,
                                    env={"PATH": "/usr/bin:/bin", "TRACKER_TOKEN": token}, check=True)
            return json.loads(result.stdout)

        before = run("getPolicy")
        assert before["key"] == POLICY and before["legal_status"] == "adopted"
        after = run("recordStatusChange")
        assert after["legal_status"] == "in_force"
        assert after["status_history"][-1]["effective_on"] == "2022-01"
        assert run("getPolicy")["legal_status"] == "in_force"


# ---------------------------------------------------------------------------------------------------
# The document's examples


def abbreviated(value) -> bool:
    """Whether an example leaves part of a record out (``"...": "..."``): it shows a shape, not a whole value."""
    if isinstance(value, dict):
        return "..." in value or any(abbreviated(item) for item in value.values())
    return isinstance(value, list) and any(abbreviated(item) for item in value)


def test_every_example_of_the_document_is_valid_against_its_schema(document):
    components = document["components"]["schemas"]
    checked = 0
    for path, method, operation in documented(document):
        for parameter in operation.get("parameters", ()):
            if "example" in parameter:
                assert not check(parameter["example"], parameter["schema"], components), (path, parameter["name"])
                checked += 1
        for media in operation.get("requestBody", {}).get("content", {}).values():
            if "example" in media:
                assert not check(media["example"], media["schema"], components), (method, path)
                checked += 1
        for status, response in operation["responses"].items():
            for media in response.get("content", {}).values():
                if "example" in media and not abbreviated(media["example"]):
                    assert not check(media["example"], media["schema"], components), (method, path, status)
                    checked += 1
    for example in components["Error"]["examples"]:
        assert not check(example, components["Error"], components)
        checked += 1
    assert checked >= 20
    # Every parameter a curl command needs has an example to put there.
    for path, method, operation in documented(document):
        for parameter in operation.get("parameters", ()):
            assert not parameter["required"] or "example" in parameter, (method, path, parameter["name"])


# ---------------------------------------------------------------------------------------------------
# Lao


def test_the_lao_page_has_its_headings_summaries_and_chrome_in_lao(client, document):
    html = page(client, "lo")
    english = page(client, "en")
    assert '<html lang="lo">' in html
    assert re.search(r"<h1>[^<]*[\u0e80-\u0eff]", html)
    for heading in re.findall(r"<h[24][^>]*>(.*?)</h[24]>", html, re.S):
        assert re.search("[\u0e80-\u0eff]", heading), heading
    lao_sections, english_sections = operations_of(html), operations_of(english)
    for _, _, operation in documented(document):
        summary = re.search(r'<p class="summary">(.*?)</p>', lao_sections[operation["operationId"]], re.S)[1]
        assert re.search("[\u0e80-\u0eff]", summary), operation["summary"]
        # Code stays code: the same commands in both languages.
        assert curl_of(lao_sections[operation["operationId"]]) == curl_of(english_sections[operation["operationId"]])
    # What is left in Latin letters outside code and the document's English descriptions: names of formats,
    # headers and protocols only.
    allowed = {"API", "JSON", "OpenAPI", "UTF-8", "ISO", "UTC", "ETag", "curl", "URL", "Accept-Language",
               "Authorization", "Atom", "CSV", "KB", "MB", "GB", "Excel", "XLSX", "SHA-256"}
    for text in visible_texts(html):
        words = set(re.findall(r"[A-Za-z][A-Za-z0-9-]*", text))
        assert words <= allowed, text


# ---------------------------------------------------------------------------------------------------
# Caching


def test_the_page_is_rendered_once_and_then_costs_one_query(client, count_queries):
    page(client)
    count_queries.reset()
    page(client)
    assert count_queries.count == 1, count_queries.statements  # the content version, for the page cache


def test_a_signed_in_reader_gets_the_rendered_reference_for_a_few_queries(client, login_as, count_queries):
    login_as("editor")
    page(client)
    count_queries.reset()
    html = page(client)
    assert "Log out" in html and count_queries.count <= 5, count_queries.statements


def test_the_page_follows_the_topics_and_the_public_address(app, client, session, login_as):
    page(client)
    load_dataset(session, {"topics": [{"key": "hydrogen_trucks", "name_en": "Hydrogen trucks", "name_lo": None}]})
    session.commit()
    assert "<code>hydrogen_trucks</code>" in operations_of(page(client))["listPolicies"]
    login_as("partner")
    app.config["PUBLIC_URL"] = "https://tracker.example.org"
    try:
        assert curl_of(operations_of(page(client))["listTopics"]) == (
            "curl -s https://tracker.example.org/api/v1/topics")
    finally:
        app.config["PUBLIC_URL"] = None
