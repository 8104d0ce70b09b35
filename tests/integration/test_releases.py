"""Releases of the whole published dataset as a reader and an operator meet them: a data package that the
frictionless library validates with no error, a workbook and a JSON file read back intact, published records
only, kept N at a time, downloaded with ETags, listed on /data and in the API, built by the command, an
administrator or the schedule (only when the published data changed)."""
from __future__ import annotations

import csv
import datetime as dt
import hashlib
import io
import json
import re
import zipfile
from email.utils import format_datetime
from pathlib import Path

import openpyxl
import pytest
from frictionless import validate
from sqlalchemy import delete, func, select, update

from tests.factories import event_record, load, policy_record
from tracker.models import Policy, Release, ReleaseFile, ReleaseSchedule, StoredFile, StoredFileChunk
from tracker.models.vocab import LEGAL_STATUSES
from tracker.services import releases as release_service
from tracker.services.exports import POLICY_HEADER
from tracker.services.records import dump_dataset
from tracker.services.release_runtime import runtime_of
from tracker.services.release_tables import TABLES

LAO_TITLE = "ຂໍ້ຕົກລົງ ວ່າດ້ວຍ ສະຖານີສາກໄຟຟ້າ 🔌"
LAO_TEXT = "ມາດຕາ 1\n\nລົດໄຟຟ້າ ທຸກປະເພດ ໄດ້ຮັບການຍົກເວັ້ນອາກອນ.\n".encode()
MONDAY = dt.datetime(2026, 12, 7, 3, 0, tzinfo=dt.UTC)  # a Monday, after the default weekly slot (02:00)
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def build(app, *, now: dt.datetime | None = None, trigger: str = "command") -> Release:
    outcome = runtime_of(app).build(trigger, now=now)
    assert outcome.release is not None
    return outcome.release


def download(client, release: Release, fmt: str) -> bytes:
    file = next(f for f in release.files if f.format == fmt)
    response = client.get(f"/data/releases/{release.id}/{file.name}")
    assert response.status_code == 200
    body = response.get_data()
    assert hashlib.sha256(body).hexdigest() == file.sha256 and len(body) == file.size
    return body


def unpack(client, release: Release, folder: Path) -> Path:
    with zipfile.ZipFile(io.BytesIO(download(client, release, "csv_zip"))) as archive:
        archive.extractall(folder)
    return folder


def frictionless_errors(folder: Path) -> list:
    report = validate(str(folder / "datapackage.json"))
    return report.flatten(["taskName", "rowNumber", "fieldName", "type", "note"])


def read_table(folder: Path, name: str) -> list[dict[str, str]]:
    raw = (folder / f"{name}.csv").read_bytes()
    assert raw.startswith("\ufeff".encode()), "UTF-8 with a byte-order mark"
    text = raw.decode("utf-8-sig")
    rows = list(csv.reader(io.StringIO(text, newline="")))
    assert text.endswith("\r\n") and text.count("\r\n") >= len(rows)
    return [dict(zip(rows[0], row)) for row in rows[1:]]


def published_count(session, model) -> int:
    return session.scalar(select(func.count()).select_from(model).where(model.editorial_state == "published"))


@pytest.fixture(autouse=True)
def no_release_yet(request):
    """Each test starts from a database without releases, whatever the suite's database holds."""
    if "committed_app" in request.fixturenames:
        return  # a database of its own
    session = request.getfixturevalue("session")
    session.execute(delete(ReleaseFile))
    session.execute(delete(Release))
    session.execute(update(ReleaseSchedule).values(claimed_until=None, claimed_by=None, checked_at=None))
    session.commit()


@pytest.fixture
def awkward(session, client, api_token):
    """Published records with every awkward value, a draft and a draft event that must never be released, a
    relation to the draft (left out) and one that names it in words too (kept, without its key), and texts
    attached to a published policy and to the draft."""
    load(session, events=[event_record("release-draft-forum", editorial_state="draft", country="LA")], policies=[
        policy_record("release-draft", country="LA", editorial_state="draft", title_en="Secret draft"),
        policy_record(
            "release-awkward", country="LA", title_en="=HYPERLINK(\"http://evil.example\",\"click\")",
            title_lo=LAO_TITLE, valid_from="2024-07", valid_to="2030", reference=None, issuer=None,
            other_bodies=[], vehicle_classes=[], topics=["charging_infrastructure"],
            summary_en="-5% duty, \"quoted\",\nover two lines 🚗", summary_lo="ສະຫຼຸບ ພາສາລາວ ⚡",
            conflicts=["One source says 2023,", "another 2024."],
            status_history=[{"status": "drafting", "date": "2023", "note": "@note", "source_url": None},
                            {"status": "in_force", "date": None, "note": None, "source_url": None}],
            status="in_force",
            sources=[{"url": "https://example.org/ລາວ", "title": "ແຫຼ່ງຂໍ້ມູນ", "published": "2024-07",
                      "kind": None}],
            relations=[{"type": "amends", "target": "release-draft", "target_reference": None},
                       {"type": "implements", "target": "release-draft", "target_reference": "Decree No. 1/2024"},
                       {"type": "related", "target": "la-gov-resolution-08-2021-ev-policy",
                        "target_reference": None}],
            forum_links=[{"event": "release-draft-forum", "role": "discussed", "evidence": None,
                          "evidence_lo": None, "source_url": None},
                         {"event": "lao-ev-forum-2023", "role": "originated", "evidence": "+ said so",
                          "evidence_lo": "ເວົ້າໄວ້", "source_url": None}]),
    ])
    session.commit()
    headers = api_token("editor")
    for key, name in (("release-awkward", "ຂໍ້ຕົກລົງ.txt"), ("release-draft", "draft.txt")):
        response = client.post(f"/api/v1/policies/{key}/documents", headers=headers,
                               content_type="multipart/form-data",
                               data={"file": (io.BytesIO(LAO_TEXT + key.encode()), name), "role": "original",
                                     "language": "lo", "date": "2024-07", "version_label": "ສະບັບ 1"})
        assert response.status_code == 201, response.get_json()


def test_the_demo_data_package_validates_with_no_error(app, client, session, tmp_path):
    release = build(app)
    folder = unpack(client, release, tmp_path)
    assert frictionless_errors(folder) == []
    descriptor = json.loads((folder / "datapackage.json").read_text(encoding="utf-8"))
    assert descriptor["$schema"] == "https://datapackage.org/profiles/2.0/datapackage.json"
    assert descriptor["licenses"][0]["name"] == "CC-BY-4.0" and descriptor["version"] == release.version
    assert descriptor["created"] == release.built_at.isoformat(timespec="seconds").replace("+00:00", "Z")
    resources = {resource["name"]: resource for resource in descriptor["resources"]}
    assert list(resources) == [table.name for table in TABLES]
    assert {"policies", "status_changes", "relations", "sources", "documents", "events", "forum_links",
            "organisations", "topics", "jurisdictions"} <= set(resources)
    for name, resource in resources.items():
        assert (resource["path"], resource["type"], resource["format"]) == (f"{name}.csv", "table", "csv")
        assert resource["encoding"] == "utf-8-sig" and resource["dialect"]["lineTerminator"] == "\r\n"
        assert resource["hash"] == "sha256:" + hashlib.sha256((folder / resource["path"]).read_bytes()).hexdigest()
    policies = resources["policies"]["schema"]
    assert policies["primaryKey"] == ["key"]
    fields = {field["name"]: field for field in policies["fields"]}
    assert fields["legal_status"]["constraints"]["enum"] == list(LEGAL_STATUSES)
    assert fields["valid_from"]["type"] == "string" and "pattern" in fields["valid_from"]["constraints"]
    assert {"fields": ["issuer_key"], "reference": {"resource": "organisations", "fields": ["key"]}} in \
        policies["foreignKeys"]
    # The policies table has the columns of the list downloads, so both agree.
    assert tuple(read_table(folder, "policies")[0])[:len(POLICY_HEADER)] == POLICY_HEADER
    assert len(read_table(folder, "policies")) == published_count(session, Policy) == release.counts["policies"]
    readme = (folder / "README.txt").read_text(encoding="utf-8")
    assert release.version in readme and f"data version {release.content_version}" in readme
    assert "CC-BY-4.0" in readme and "YYYY, YYYY-MM or YYYY-MM-DD" in readme
    citation = (folder / "CITATION.cff").read_text(encoding="utf-8")
    assert "cff-version: 1.2.0" in citation and f'version: "{release.version}"' in citation
    assert 'license: "CC-BY-4.0"' in citation and "type: dataset" in citation


def test_awkward_values_survive_and_unpublished_records_stay_out(app, client, session, awkward, tmp_path):
    release = build(app)
    folder = unpack(client, release, tmp_path)
    assert frictionless_errors(folder) == []
    policies = {row["key"]: row for row in read_table(folder, "policies")}
    row = policies["release-awkward"]
    assert row["title_lo"] == LAO_TITLE and row["summary_lo"] == "ສະຫຼຸບ ພາສາລາວ ⚡"
    assert row["title_en"] == "'=HYPERLINK(\"http://evil.example\",\"click\")"
    assert row["summary_en"] == "'-5% duty, \"quoted\",\nover two lines 🚗"
    assert (row["valid_from"], row["valid_to"], row["reference"], row["issuer_key"]) == ("2024-07", "2030", "", "")
    assert row["conflicts"] == "One source says 2023,\nanother 2024."
    status = [r for r in read_table(folder, "status_changes") if r["policy_key"] == "release-awkward"]
    assert [(r["to_status"], r["effective_on"], r["note_en"]) for r in status] == [
        ("drafting", "2023", "'@note"), ("in_force", "", "")]
    relations = [r for r in read_table(folder, "relations") if r["policy_key"] == "release-awkward"]
    assert [(r["relation_type"], r["target_key"], r["target_reference"]) for r in relations] == [
        ("implements", "", "Decree No. 1/2024"), ("related", "la-gov-resolution-08-2021-ev-policy", "")]
    links = [r for r in read_table(folder, "forum_links") if r["policy_key"] == "release-awkward"]
    assert [(r["event_key"], r["evidence_en"], r["evidence_lo"]) for r in links] == [
        ("lao-ev-forum-2023", "'+ said so", "ເວົ້າໄວ້")]
    sources = [r for r in read_table(folder, "sources") if r["policy_key"] == "release-awkward"]
    assert [(r["url"], r["title"], r["published"], r["kind"], r["event_key"]) for r in sources] == [
        ("https://example.org/ລາວ", "ແຫຼ່ງຂໍ້ມູນ", "2024-07", "", "")]
    documents = read_table(folder, "documents")
    assert [(d["policy_key"], d["language"], d["date"], d["version_label"], d["media_type"]) for d in documents] == [
        ("release-awkward", "lo", "2024-07", "ສະບັບ 1", "text/plain")]
    assert documents[0]["sha256"] == hashlib.sha256(LAO_TEXT + b"release-awkward").hexdigest()
    assert documents[0]["size"] == str(len(LAO_TEXT + b"release-awkward"))
    assert [r["topic_key"] for r in read_table(folder, "policy_topics") if r["policy_key"] == "release-awkward"] \
        == ["charging_infrastructure"]
    # Nothing of the draft policy or the draft event, in any file of the release.
    for path in folder.iterdir():
        text = path.read_text(encoding="utf-8-sig")
        assert "release-draft" not in text and "Secret draft" not in text, path.name
    dump = download(client, release, "json").decode("utf-8")
    assert "release-draft" not in dump and LAO_TITLE in dump
    assert "release-draft" not in str(list(openpyxl.load_workbook(io.BytesIO(download(client, release, "xlsx")),
                                                                  read_only=True)["policies"].values))


def test_the_workbook_reads_back_with_a_sheet_per_table_and_lao_intact(app, client, awkward):
    release = build(app)
    workbook = openpyxl.load_workbook(io.BytesIO(download(client, release, "xlsx")), read_only=True)
    assert workbook.sheetnames == [table.name for table in TABLES] + ["columns", "about"]
    rows = list(workbook["policies"].values)
    header = rows[0]
    assert header[:len(POLICY_HEADER)] == POLICY_HEADER
    row = dict(zip(header, next(r for r in rows if r[0] == "release-awkward")))
    assert row["title_lo"] == LAO_TITLE
    # Partial dates stay text, never turned into days; formulas are inert.
    assert row["valid_from"] == "2024-07" and row["valid_to"] == "2030"
    assert row["title_en"].startswith("'=")
    assert len(rows) - 1 == release.counts["policies"]
    columns = list(workbook["columns"].values)
    assert columns[0] == ("table", "column", "type", "required", "description", "values")
    described = {(r[0], r[1]) for r in columns[1:]}
    assert described == {(table.name, column.name) for table in TABLES for column in table.columns}
    about = dict(list(workbook["about"].values)[1:])
    assert about["licence"].startswith("CC-BY-4.0") and about["release"] == release.version
    assert about["data version"] == str(release.content_version)


def _published_part(dumped: dict) -> dict:
    """The published records of a dump, with their links to unpublished records left out."""
    policies = [p for p in dumped["policies"] if p["editorial_state"] == "published"]
    events = [e for e in dumped["events"] if e["editorial_state"] == "published"]
    published = {p["key"] for p in policies}
    event_keys = {e["key"] for e in events}
    for policy in policies:
        policy["relations"] = [r for r in policy["relations"] if r["target"] in published or r["target_reference"]]
        for relation in policy["relations"]:
            if relation["target"] not in published:
                relation["target"] = None
        policy["forum_links"] = [f for f in policy["forum_links"] if f["event"] in event_keys]
    return {"policies": sorted(policies, key=lambda p: p["key"]), "events": sorted(events, key=lambda e: e["key"]),
            "organisations": sorted(dumped["organisations"], key=lambda o: o["key"]),
            "topics": sorted(dumped["topics"], key=lambda t: t["key"])}


def test_the_json_loads_into_a_fresh_database_and_equals_the_published_part(app, client, session, awkward,
                                                                           committed_app, tmp_path):
    release = build(app)
    path = tmp_path / "release.json"
    path.write_bytes(download(client, release, "json"))
    about = json.loads(path.read_text(encoding="utf-8"))
    assert about["release"]["version"] == release.version and about["licence"] == "CC-BY-4.0"
    result = committed_app.test_cli_runner().invoke(args=["data", "load", str(path)])
    assert result.exit_code == 0, result.output
    database = committed_app.extensions["tracker.db"]
    with database.session() as fresh:
        loaded = _published_part(dump_dataset(fresh, compiled="x"))
    expected = _published_part(dump_dataset(session, compiled="x"))
    assert loaded == expected
    assert any(p["key"] == "release-awkward" for p in loaded["policies"])


def test_only_the_newest_releases_are_kept_with_their_bytes(app, client, session):
    app.config["RELEASES_KEPT"] = 2
    try:
        first = build(app, now=MONDAY)
        second = build(app, now=MONDAY + dt.timedelta(days=1))
        third = build(app, now=MONDAY + dt.timedelta(days=2))
    finally:
        app.config["RELEASES_KEPT"] = 12
    assert [r.id for r in release_service.list_releases(session)] == [third.id, second.id]
    gone = [f.sha256 for f in first.files]
    assert session.scalar(select(func.count()).select_from(StoredFile).where(StoredFile.sha256.in_(gone))) == 0
    assert session.scalar(select(func.count()).select_from(StoredFileChunk)
                          .where(StoredFileChunk.sha256.in_(gone))) == 0
    response = client.get(f"/data/releases/{first.id}/{first.files[0].name}")
    assert response.status_code == 404
    assert "older releases are deleted" in response.get_data(as_text=True)
    assert len({f.sha256 for r in (second, third) for f in r.files}) == 6
    assert first.files[0].name == "ev-policies-2026-12-07-csv.zip"
    assert third.files[2].name == "ev-policies-2026-12-09.json"


def test_downloads_have_their_type_an_etag_a_date_and_answer_304(app, client):
    release = build(app, now=MONDAY)
    for file, media_type in zip(release.files, ("application/zip", XLSX, "application/json")):
        url = f"/data/releases/{release.id}/{file.name}"
        response = client.get(url)
        assert response.status_code == 200
        assert response.mimetype == media_type
        assert response.headers["Content-Disposition"] == f'attachment; filename="{file.name}"'
        assert response.headers["ETag"] == f'"{file.sha256}"'
        assert response.headers["Last-Modified"] == format_datetime(MONDAY, usegmt=True)
        assert int(response.headers["Content-Length"]) == file.size == len(response.get_data())
        again = client.get(url, headers={"If-None-Match": f'"{file.sha256}"'})
        assert again.status_code == 304 and again.get_data() == b""
        assert again.headers["ETag"] == f'"{file.sha256}"'
        later = client.get(url, headers={"If-Modified-Since": format_datetime(MONDAY, usegmt=True)})
        assert later.status_code == 304
        earlier = client.get(url, headers={"If-Modified-Since": format_datetime(MONDAY - dt.timedelta(days=1),
                                                                                  usegmt=True)})
        assert earlier.status_code == 200
        other = client.get(url, headers={"If-None-Match": '"0000"'})
        assert other.status_code == 200
    assert client.get(f"/data/releases/{release.id}/ev-policies-2026-12-06.json").status_code == 404


def test_the_data_page_offers_the_newest_release_and_lists_older_ones(app, client):
    empty = client.get("/data").get_data(as_text=True)
    assert "No release has been built yet." in empty
    older = build(app, now=MONDAY - dt.timedelta(days=7))
    newest = build(app, now=MONDAY)
    html = client.get("/data").get_data(as_text=True)
    newest_table = html[html.index('id="newest-files"'):html.index("</ul>", html.index('id="newest-files"'))]
    for file in newest.files:
        assert f'href="/data/releases/{newest.id}/{file.name}"' in newest_table
        assert file.sha256 in newest_table
    assert "KB" in newest_table or "kB" in newest_table
    older_table = html[html.index('id="older-releases"'):]
    assert older.version in older_table and f"/data/releases/{older.id}/{older.files[0].name}" in older_table
    assert f"(Version {newest.version}) [Data set]" in html and "https://spdx.org/licenses/CC-BY-4.0.html" in html
    for link in ('href="/policies.csv"', 'href="/policies.xlsx"', 'href="/policies.json"', 'href="/api/v1/releases"',
                 'href="/api/v1/openapi.json"'):
        assert link in html
    assert "Build a release now" not in html  # anonymous readers see no button
    # The site links to the page: the footer of every page, and the list's download line.
    assert 'href="/data"' in client.get("/").get_data(as_text=True)
    downloads = re.search(r'<p class="downloads">.*?</p>', client.get("/policies").get_data(as_text=True), re.S)
    assert downloads and 'href="/data"' in downloads.group(0)


def _csrf(client, path: str) -> str:
    return re.search(r'name="csrf_token"[^>]*value="([^"]+)"', client.get(path).get_data(as_text=True)).group(1)


def test_an_administrator_builds_a_release_from_the_page(app, client, session, login_as):
    login_as("admin")
    token = _csrf(client, "/data")
    response = client.post("/data/releases", data={"csrf_token": token}, follow_redirects=True)
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    newest = release_service.newest_release(session)
    assert newest is not None and newest.trigger == "page"
    assert f"Release {newest.version} was built" in html and 'id="newest-files"' in html
    login_as("reviewer")
    assert "Build a release now" not in client.get("/data").get_data(as_text=True)
    login_as("editor")
    refused = client.post("/data/releases", data={"csrf_token": _csrf(client, "/data")})
    assert refused.status_code == 403
    assert session.scalar(select(func.count()).select_from(Release)) == 1


def test_a_build_asked_for_while_another_runs_is_refused_with_a_clear_message(app, client, session, login_as):
    release_service.claim(session, "other-host:1", dt.datetime.now(dt.UTC))
    session.commit()
    login_as("admin")
    response = client.post("/data/releases", data={"csrf_token": _csrf(client, "/data")})
    assert response.status_code == 409
    assert "A release is being built now" in response.get_data(as_text=True)
    assert release_service.newest_release(session) is None


def test_the_api_lists_releases_as_the_openapi_document_says(app, client):
    import jsonschema

    assert client.get("/api/v1/releases").get_json()["items"] == []
    build(app, now=MONDAY - dt.timedelta(days=1))
    newest = build(app, now=MONDAY)
    body = client.get("/api/v1/releases").get_json()
    assert body["total"] == 2 and [item["id"] for item in body["items"]][0] == newest.id
    item = body["items"][0]
    assert (item["version"], item["date"], item["content_version"]) == (newest.version, "2026-12-07",
                                                                         newest.content_version)
    assert [f["name"] for f in item["files"]] == ["ev-policies-2026-12-07-csv.zip", "ev-policies-2026-12-07.xlsx",
                                                  "ev-policies-2026-12-07.json"]
    for listed, file in zip(item["files"], newest.files):
        assert (listed["size"], listed["sha256"], listed["media_type"]) == (file.size, file.sha256, file.media_type)
        assert listed["url"] == f"http://localhost/data/releases/{newest.id}/{file.name}"
        assert client.get(listed["url"]).status_code == 200
    document = client.get("/api/v1/openapi.json").get_json()
    schema = {"$ref": "#/components/schemas/ReleaseList", "components": document["components"]}
    jsonschema.validate(body, schema)
    assert "get" in document["paths"]["/releases"]


def test_the_command_builds_prints_sizes_and_hashes_and_builds_nothing_unchanged(app, runner):
    result = runner.invoke(args=["data", "release"])
    assert result.exit_code == 0, result.output
    assert "policies: " in result.output  # progress, table by table
    for name in ("-csv.zip", ".xlsx", ".json"):
        assert re.search(rf"ev-policies-\d{{4}}-\d{{2}}-\d{{2}}{re.escape(name)}  [\d,]+ bytes  sha256 [0-9a-f]{{64}}",
                         result.output), result.output
    again = runner.invoke(args=["data", "release", "--if-changed"])
    assert again.exit_code == 0 and "has not changed since the newest release" in again.output
    listed = runner.invoke(args=["data", "releases"])
    assert listed.exit_code == 0 and listed.output.count("sha256 ") == 3


def test_the_schedule_builds_only_when_published_data_changed(app, client, session, users):
    from tracker.services import editing

    runtime = runtime_of(app)
    first = runtime.run_scheduled(MONDAY)
    assert first is not None and first.release is not None and first.release.trigger == "schedule"
    # Not due again before the next slot, whatever changed.
    assert runtime.run_scheduled(MONDAY + dt.timedelta(hours=5)) is None
    # A week on, nothing changed: nothing built, and the look is remembered.
    unchanged = runtime.run_scheduled(MONDAY + dt.timedelta(days=7))
    assert unchanged is not None and unchanged.unchanged and not unchanged.built
    assert runtime.run_scheduled(MONDAY + dt.timedelta(days=7, hours=1)) is None
    # A draft changes the content version, not the published data: still nothing built.
    load(session, policies=[policy_record("release-new-draft", editorial_state="draft")])
    session.commit()
    assert runtime.run_scheduled(MONDAY + dt.timedelta(days=14)).unchanged
    # A published record changes: the next slot builds a release that holds it.
    policy = session.scalars(select(Policy).where(Policy.key == "la-gov-resolution-08-2021-ev-policy")).one()
    editing.update_policy(session, policy.key, {"title_en": "Retitled for the release"}, users["reviewer"],
                          policy.version)
    session.commit()
    changed = runtime.run_scheduled(MONDAY + dt.timedelta(days=21))
    assert changed is not None and changed.release is not None
    assert "Retitled for the release" in download(client, changed.release, "json").decode("utf-8")
    assert [r.trigger for r in release_service.list_releases(session)] == ["schedule", "schedule"]
    assert changed.release.content_version > first.release.content_version


def test_a_schedule_that_is_off_builds_nothing_and_one_process_builds_at_a_time(app, session):
    from tracker.errors import Conflict

    runtime = runtime_of(app)
    app.config["RELEASE_SCHEDULE"] = "off"
    try:
        assert runtime.run_scheduled(MONDAY) is None
        assert not runtime.embedded
    finally:
        app.config["RELEASE_SCHEDULE"] = "weekly"
    # Another host is building: this one builds nothing, on the schedule or when asked.
    release_service.claim(session, "other-host:1", MONDAY)
    session.commit()
    assert runtime.run_scheduled(MONDAY) is None
    with pytest.raises(Conflict):
        runtime.build("command", now=MONDAY)
    # A claim that ran out (the other host died) is taken over.
    assert runtime.run_scheduled(MONDAY + dt.timedelta(hours=2)).built
    schedule = session.get(ReleaseSchedule, 1)
    session.refresh(schedule)
    assert schedule.claimed_by is None


def test_the_scheduler_step_builds_when_due_and_waits_for_the_next_slot(app, session):
    runtime = runtime_of(app)
    app.config["RELEASE_SCHEDULE"] = "daily"
    try:
        pause = runtime._work()
    finally:
        app.config["RELEASE_SCHEDULE"] = "weekly"
    assert 1 <= pause <= 3600
    newest = release_service.newest_release(session)
    assert newest is not None and newest.trigger == "schedule"


def test_a_commit_during_a_build_never_reaches_its_files(committed_app, tmp_path):
    """The build reads one snapshot: a policy published (with its history) while the first tables are being
    written appears in no table, so every key still refers to a row of the package (on PostgreSQL this needs
    REPEATABLE READ; READ COMMITTED would show the later tables the new rows)."""
    from contextlib import closing

    from tracker.db import unit_of_work

    database = committed_app.extensions["tracker.db"]
    with closing(database.session(write=True)) as session, unit_of_work(session):
        load(session, policies=[policy_record("before-the-build", other_bodies=[])])
    runtime = runtime_of(committed_app)
    written: list[str] = []

    def progress(table: str, _rows: int) -> None:
        written.append(table)
        if table == "policies":  # the policies are written: publish another policy now, for real
            with closing(database.session(write=True)) as other, unit_of_work(other):
                load(other, policies=[policy_record("during-the-build", other_bodies=[])])

    outcome = runtime.build("command", progress=progress)
    assert outcome.release is not None and "status_changes" in written
    with closing(database.session()) as session:
        release = session.get(Release, outcome.release.id)
        files = {f.format: f for f in release_service.list_releases(session)[0].files}
        package = b"".join(release_service.file_chunks(lambda: closing(database.session()), session,
                                                       files["csv_zip"]))
        assert release.content_version < release_service.content_counter(session)
    with zipfile.ZipFile(io.BytesIO(package)) as archive:
        archive.extractall(tmp_path)
    assert frictionless_errors(tmp_path) == []
    keys = {row["policy_key"] for row in read_table(tmp_path, "status_changes")}
    assert keys == {"before-the-build"}
    assert [row["key"] for row in read_table(tmp_path, "policies")] == ["before-the-build"]
    # The next build sees it.
    again = runtime.build("command", only_if_changed=True)
    assert again.release is not None and again.release.counts["policies"] == 2


@pytest.mark.parametrize("url", ["/data", "/api/v1/releases"])
def test_the_lists_of_releases_cost_as_many_queries_for_five_as_for_one(app, client, session, count_queries, url):
    settings = release_service.ReleaseSettings.from_config(app.config)
    with release_service.prepare_release(session, settings, now=MONDAY) as prepared:
        release_service.store_release(session, prepared, settings, "command")
        session.commit()
        count_queries.reset()
        assert client.get(url).status_code == 200
        with_one = count_queries.count
        for _ in range(4):
            release_service.store_release(session, prepared, settings, "command")
        session.commit()
    count_queries.reset()
    assert client.get(url).status_code == 200
    assert count_queries.count == with_one <= 6, count_queries.statements
