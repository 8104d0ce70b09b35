"""Imports by staff: a dry run that shows every row's outcome and writes nothing, then an apply in one
transaction, refused when the tracker changed since; spreadsheets, CSV and dataset JSON; bad files."""
from __future__ import annotations

import copy
import datetime as dt
import io
import json
import re
from pathlib import Path

import openpyxl
import pytest
from sqlalchemy import func, select

from tests.factories import load, policy_record
from tracker.models import AuditEntry, DataImport, Policy, StatusChange

V1 = Path(__file__).resolve().parents[1] / "data" / "asean-ev-policies-v1.json"


def csrf_for(client, path: str) -> str:
    page = client.get(path).get_data(as_text=True)
    return re.search(r'name="csrf_token"[^>]*value="([^"]+)"', page).group(1)


def upload(client, data: bytes, filename: str):
    from werkzeug.datastructures import FileStorage
    from werkzeug.test import encode_multipart

    token = csrf_for(client, "/imports")
    # Encoded in memory: the test client would spool a large body to a temporary file it never closes.
    boundary, body = encode_multipart({"csrf_token": token,
                                       "file": FileStorage(io.BytesIO(data), filename=filename)})
    return client.post("/imports", data=body, content_type=f"multipart/form-data; boundary={boundary}")


def latest(session) -> DataImport:
    session.expire_all()
    return session.scalars(select(DataImport).order_by(DataImport.id.desc())).first()


def apply(client, record: DataImport):
    token = csrf_for(client, f"/imports/{record.id}")
    return client.post(f"/imports/{record.id}/apply", data={"csrf_token": token})


def outcomes(record: DataImport) -> dict[tuple[str, str], str]:
    return {(row["kind"], row["key"]): row["outcome"] for row in record.rows}


def _subset_equal(given, stored) -> bool:
    """Whether every field ``given`` states has the same value in ``stored`` (recursively)."""
    if isinstance(given, dict) and isinstance(stored, dict):
        return all(_subset_equal(value, stored.get(name)) for name, value in given.items())
    if isinstance(given, list) and isinstance(stored, list):
        return len(given) == len(stored) and all(_subset_equal(a, b) for a, b in zip(given, stored))
    return given == stored


def test_version_1_is_brought_to_version_2_through_the_dry_run_and_apply(app, client, session, login_as,
                                                                         demo_data):
    """The suite's database holds version 2 (the demo data); a copy of it is set back to version 1 by
    importing version 1 as a reviewer, then version 2 is imported the way staff would."""
    from tracker.services.records import dump_dataset

    v1 = json.loads(V1.read_text(encoding="utf-8"))
    v2 = demo_data
    assert v1["version"] == 1 and v2["version"] == 2
    login_as("reviewer")
    # Back to version 1 where it can be: the records version 2 added are taken out of the comparison.
    added = {p["key"] for p in v2["policies"]} - {p["key"] for p in v1["policies"]}
    for policy in session.scalars(select(Policy).where(Policy.key.in_(added))):
        session.delete(policy)
    session.commit()
    response = upload(client, V1.read_bytes(), "asean-ev-policies-v1.json")
    assert response.status_code == 302, response.get_data(as_text=True)[:500]
    assert apply(client, latest(session)).status_code == 302

    response = upload(client, json.dumps(v2, ensure_ascii=False).encode(), "asean-ev-policies.json")
    assert response.status_code == 302
    record = latest(session)
    assert record.state == "dry_run"
    v1_policies = {p["key"]: p for p in v1["policies"]}
    # Version 1 predates targets: importing it left the stored targets as they were, so a record that
    # differs from version 1 only by its targets is unchanged by version 2.
    expected_updates = {key for key, p in ((p["key"], p) for p in v2["policies"])
                        if key in v1_policies and p != v1_policies[key] | {"targets": p.get("targets", [])}}
    v1_orgs = {o["key"]: o for o in v1["organisations"]}
    expected_orgs = {o["key"] for o in v2["organisations"]
                     if o["key"] in v1_orgs and not _subset_equal(o, v1_orgs[o["key"]])}
    found = outcomes(record)
    assert {key for (kind, key), outcome in found.items() if kind == "policies" and outcome == "created"} == added
    assert {key for (kind, key), outcome in found.items()
            if kind == "policies" and outcome == "updated"} == expected_updates
    assert {key for (kind, key), outcome in found.items()
            if kind == "organisations" and outcome == "updated"} == expected_orgs
    # Organisations are never deleted by an import: those version 2 added are still there, unchanged.
    assert not {key for (kind, key), outcome in found.items() if kind == "organisations" and outcome == "created"}
    # A dry run writes nothing.
    assert session.scalar(select(func.count()).select_from(Policy).where(Policy.key.in_(added))) == 0

    assert apply(client, record).status_code == 302
    assert latest(session).state == "applied"
    dumped = dump_dataset(session, compiled="2026-12-07")
    stored = {p["key"]: p for p in dumped["policies"]}
    for policy in v2["policies"]:
        assert _subset_equal(policy, stored[policy["key"]]), policy["key"]
    stored_orgs = {o["key"]: o for o in dumped["organisations"]}
    for organisation in v2["organisations"]:
        assert _subset_equal(organisation, stored_orgs[organisation["key"]]), organisation["key"]
    entry = session.scalars(select(AuditEntry).where(AuditEntry.entity_key == "ph-eo-12-2023-ev-tariffs",
                                                     AuditEntry.field == "status_history")
                            .order_by(AuditEntry.id.desc())).first()
    assert entry.reason.startswith("imported from asean-ev-policies.json") and entry.actor_label

    # The same file again: every record unchanged.
    upload(client, json.dumps(v2, ensure_ascii=False).encode(), "asean-ev-policies.json")
    again = latest(session)
    assert again.rows == [] and all(set(counts) == {"unchanged"} for counts in again.summary["counts"].values())


def test_an_exported_list_imports_back_unchanged(client, session, login_as):
    login_as("reviewer")
    exported = client.get("/policies.csv").get_data()
    assert upload(client, exported, "policies.csv").status_code == 302
    record = latest(session)
    assert record.state == "dry_run" and record.rows == [], record.rows[:3]
    assert record.summary["counts"]["policies"] == {"unchanged": record.row_count}
    workbook = client.get("/policies.xlsx?country=LA").get_data()
    assert upload(client, workbook, "policies.xlsx").status_code == 302
    record = latest(session)
    assert record.format == "xlsx" and record.rows == [] and record.summary["problems"] == []


def test_an_editor_fills_the_template_reads_the_dry_run_in_lao_and_applies_it(client, session, login_as):
    load(session, policies=[policy_record("import-draft", country="LA", editorial_state="draft",
                                          title_en="A draft to update")])
    session.commit()
    login_as("editor")
    response = client.get("/imports/template.xlsx")
    assert response.status_code == 200
    workbook = openpyxl.load_workbook(io.BytesIO(response.get_data()))
    assert workbook.sheetnames == ["policies", "events", "forum_links", "organisations", "notes", "lists"]
    sheet = workbook["policies"]
    header = [cell.value.splitlines()[0] for cell in sheet[1] if cell.value]
    assert "ຊື່ເປັນພາສາລາວ" in sheet.cell(row=1, column=header.index("title_lo") + 1).value
    assert any(str(v.sqref).startswith(f"{openpyxl.utils.get_column_letter(header.index('legal_status') + 1)}2")
               for v in sheet.data_validations.dataValidation)
    new_row = {"key": "la-import-new-charging-rule", "country_code": "LA", "title_en": "Charging station rule",
               "title_lo": "ລະບຽບ ສະຖານີສາກໄຟຟ້າ", "instrument": "regulation", "legal_status": "drafting",
               "status_since": "15/11/2025", "topics": "charging_infrastructure"}
    update_row = {"key": "import-draft", "title_en": "A draft updated from a spreadsheet",
                  "legal_status": "consultation", "status_since": "2026-01", "status_note": "Posted for comment."}
    for number, row in enumerate((new_row, update_row), start=2):
        for name, value in row.items():
            sheet.cell(row=number, column=header.index(name) + 1, value=value)
    buffer = io.BytesIO()
    workbook.save(buffer)
    client.set_cookie("lang", "lo")
    assert upload(client, buffer.getvalue(), "ນະໂຍບາຍ.xlsx").status_code == 302
    record = latest(session)
    assert outcomes(record) == {("policies", "la-import-new-charging-rule"): "created",
                                ("policies", "import-draft"): "updated"}, record.summary
    page = client.get(f"/imports/{record.id}").get_data(as_text=True)
    assert "ສ້າງໃໝ່" in page or "ສ້າງ" in page
    # The diff reads as people write: field labels and status names in Lao, not codes or JSON.
    assert "ຊື່ເອກະສານ (ພາສາອັງກິດ)" in page and "A draft updated from a spreadsheet" in page
    assert "ລຳດັບເວລາຂອງສະຖານະ" in page and "ກຳລັງປຶກສາຫາລື" in page
    assert "title_en" not in page and '"status":' not in page and "&#34;status&#34;" not in page
    assert apply(client, record).status_code == 302
    session.expire_all()
    created = session.scalars(select(Policy).where(Policy.key == "la-import-new-charging-rule")).one()
    assert created.editorial_state == "draft" and created.legal_status == "drafting"
    assert created.title_lo == "ລະບຽບ ສະຖານີສາກໄຟຟ້າ" and str(created.status_since) == "2025-11-15"
    updated = session.scalars(select(Policy).where(Policy.key == "import-draft")).one()
    last_step = session.scalars(select(StatusChange).where(StatusChange.policy_id == updated.id)
                                .order_by(StatusChange.position.desc())).first()
    assert updated.legal_status == "consultation" and last_step.note == "Posted for comment."
    client.set_cookie("lang", "en")
    history = client.get("/policies/import-draft/history").get_data(as_text=True)
    assert "A draft updated from a spreadsheet" in history and "imported from" in history


def test_an_editor_may_not_import_changes_to_published_records(client, session, login_as):
    login_as("editor")
    key = session.scalars(select(Policy.key).where(Policy.editorial_state == "published")).first()
    body = f"key,title_en\r\n{key},Renamed by an editor\r\n".encode()
    assert upload(client, body, "rename.csv").status_code == 302
    record = latest(session)
    assert record.state == "refused"
    assert [p["message"] for p in record.summary["problems"]] == [
        f"'{key}' is published: only a reviewer may import changes to it."]
    assert apply(client, record).status_code == 400
    session.expire_all()
    assert session.scalars(select(Policy.title_en).where(Policy.key == key)).one() != "Renamed by an editor"


def test_the_tracker_changing_after_the_dry_run_refuses_the_apply_and_runs_it_again(client, session, login_as):
    from tracker.models import Organisation

    login_as("reviewer")
    key = session.scalars(select(Policy.key).where(Policy.editorial_state == "published")).first()
    assert upload(client, f"key,reference\r\n{key},No. 1/2026\r\n".encode(), "one.csv").status_code == 302
    record = latest(session)
    # Someone else saves a change meanwhile.
    organisation = session.scalars(select(Organisation)).first()
    organisation.name_en = organisation.name_en + " (renamed)"
    session.commit()
    response = apply(client, record)
    assert response.status_code == 409
    assert "changed since this dry run" in response.get_data(as_text=True)
    session.expire_all()
    assert session.scalars(select(Policy.reference).where(Policy.key == key)).one() != "No. 1/2026"
    assert apply(client, latest(session)).status_code == 302
    session.expire_all()
    assert session.scalars(select(Policy.reference).where(Policy.key == key)).one() == "No. 1/2026"


def _workbook(rows: list[list], *, merge: str | None = None) -> bytes:
    workbook = openpyxl.Workbook()
    sheet = workbook.active
    sheet.title = "policies"
    for row in rows:
        sheet.append(row)
    if merge:
        sheet.merge_cells(merge)
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


@pytest.mark.parametrize("data, filename, where, message", [
    (b"\x89PNG\r\n\x1a\n" + b"\x00" * 64, "list.xlsx", "file", "neither an Excel workbook"),
    (b"PK\x03\x04not really a zip", "list.xlsx", "file", "not an Excel workbook"),
    (b'{"policies": [', "data.json", "file", "cannot be read"),
    ("key,title_en\r\nx,\xe9".encode("latin-1"), "list.csv", "file", "UTF-8"),
])
def test_files_that_are_not_what_they_say_get_a_clear_400(client, session, login_as, data, filename, where,
                                                          message):
    login_as("editor")
    before = session.scalar(select(func.count()).select_from(DataImport))
    response = upload(client, data, filename)
    assert response.status_code == 400
    assert message in response.get_data(as_text=True)
    assert session.scalar(select(func.count()).select_from(DataImport)) == before


@pytest.mark.parametrize("rows, merge, expected", [
    ([["key", "colour"], ["a-key", "red"]], None, "Unknown column 'colour'"),
    ([["key", "title_en"], ["dup-key", "One"], ["dup-key", "Two"]], None, "is also on"),
    ([["key", "title_en", "valid_from"], ["bad-date", "A", "31/02/2024"]], None, "31/02/2024"),
    ([["key", "title_en", "country_code", "instrument"], ["bad-country", "A", "ZZ", "decree"]], None, "ZZ"),
    ([["key", "title_en", "issuer_key"], ["unknown-org", "A", "no-such-ministry"]], None, "no-such-ministry"),
    ([["key", "title_en"], ["formula", "=1+1"]], None, "A formula"),
    ([["key", "title_en"], ["merged", "A"], ["merged-2", "B"]], "B2:B3", "Merged cells (B2:B3)"),
])
def test_wrong_rows_are_named_with_their_row_and_column_and_nothing_is_written(client, session, login_as, rows,
                                                                               merge, expected):
    login_as("reviewer")
    before = session.scalar(select(func.count()).select_from(Policy))
    assert upload(client, _workbook(rows, merge=merge), "wrong.xlsx").status_code == 302
    record = latest(session)
    assert record.state == "refused"
    messages = " | ".join(f"{p['row']} {p['column']} {p['message']}" for p in record.summary["problems"])
    assert expected in messages
    page = client.get(f"/imports/{record.id}").get_data(as_text=True)
    assert "nothing can be imported" in page and "Apply the import" not in page
    assert session.scalar(select(func.count()).select_from(Policy)) == before


def test_the_api_runs_a_dry_run_and_applies_it(client, session, api_token):
    headers = api_token("reviewer")
    key = session.scalars(select(Policy.key).where(Policy.editorial_state == "published")).first()
    body = f"key,summary_lo\r\n{key},ສະຫຼຸບໃໝ່ 🚗\r\n".encode()
    response = client.post("/api/v1/imports", headers=headers, content_type="multipart/form-data",
                           data={"file": (io.BytesIO(body), "summary.csv")})
    assert response.status_code == 201, response.get_json()
    report = response.get_json()
    assert report["state"] == "dry_run" and report["counts"]["policies"] == {"updated": 1}
    assert report["changes"][0]["changes"][0]["field"] == "summary_lo"
    assert client.post("/api/v1/imports", headers=api_token("partner"), content_type="multipart/form-data",
                       data={"file": (io.BytesIO(body), "summary.csv")}).status_code == 403
    applied = client.post(f"/api/v1/imports/{report['id']}/apply", headers=headers)
    assert applied.status_code == 200 and applied.get_json()["state"] == "applied"
    session.expire_all()
    assert session.scalars(select(Policy.summary_lo).where(Policy.key == key)).one() == "ສະຫຼຸບໃໝ່ 🚗"
    again = client.post(f"/api/v1/imports/{report['id']}/apply", headers=headers)
    assert again.status_code == 400
    wrong = client.post("/api/v1/imports", headers=headers, content_type="multipart/form-data",
                        data={"file": (io.BytesIO(body), "s.csv"), "dry_run": "perhaps"})
    assert wrong.status_code == 400 and "dry_run" in wrong.get_json()["error"]["errors"]


def test_a_large_file_is_checked_and_applied_in_one_transaction(client, session, login_as, tmp_path):
    """A few thousand rows (far more than one chunk of the loader): all created, or none when one is wrong."""
    login_as("reviewer")
    lines = ["key,country_code,title_en,instrument,legal_status,status_since"]
    lines += [f"bulk-import-{i:05d},LA,Bulk {i},decree,drafting,2025" for i in range(1500)]
    good = ("\r\n".join(lines) + "\r\n").encode()
    bad = good.replace(b"bulk-import-01499,LA,Bulk 1499,decree,drafting,2025",
                       b"bulk-import-01499,LA,Bulk 1499,decree,drafting,2025-13")
    assert upload(client, bad, "bulk.csv").status_code == 302
    assert latest(session).state == "refused"
    assert upload(client, good, "bulk.csv").status_code == 302
    record = latest(session)
    assert record.summary["counts"]["policies"] == {"created": 1500}
    assert apply(client, record).status_code == 302
    session.expire_all()
    assert session.scalar(select(func.count()).select_from(Policy).where(Policy.key.like("bulk-import-%"))) == 1500


def test_a_dry_run_is_kept_as_it_was_for_each_upload(client, session, login_as, demo_data):
    login_as("reviewer")
    data = copy.deepcopy(demo_data)
    data["policies"][0]["reference"] = "Changed in the file"
    upload(client, json.dumps(data).encode(), "edition.json")
    first = latest(session)
    upload(client, json.dumps(demo_data).encode(), "edition.json")
    second = latest(session)
    assert first.id != second.id and outcomes(first) and not outcomes(second)


# ---------------------------------------------------------------------------------------------------
# Events and forum links, unknown organisations and countries, the shapes of cells, large files


def _release_workbook(session) -> bytes:
    """The policies, events, forum links and organisations sheets exactly as a release's workbook has them."""
    from tracker.services.release_tables import TABLES_BY_NAME, Links
    from tracker.services.tabular import WorkbookWriter

    writer = WorkbookWriter()
    links = Links("http://localhost")
    for name in ("policies", "events", "forum_links", "organisations"):
        table = TABLES_BY_NAME[name]
        append = writer.sheet(table.name, table.header)
        for row in table.rows(session, links):
            append(row)
    buffer = io.BytesIO()
    writer.save(buffer)
    return buffer.getvalue()


def _sheets(**sheets: list[list]) -> bytes:
    workbook = openpyxl.Workbook()
    workbook.remove(workbook.active)
    for title, rows in sheets.items():
        sheet = workbook.create_sheet(title)
        for row in rows:
            sheet.append(row)
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


def test_the_released_workbook_imports_back_unchanged_events_and_forum_links_included(client, session, login_as):
    from tracker.models import Event, ForumLink

    login_as("reviewer")
    assert session.scalar(select(func.count()).select_from(ForumLink)) > 0
    assert upload(client, _release_workbook(session), "ev-policies-release.xlsx").status_code == 302
    record = latest(session)
    assert record.summary["problems"] == [] and record.rows == [], (record.summary["problems"][:3], record.rows[:3])
    published_events = session.scalar(select(func.count()).select_from(Event)
                                      .where(Event.editorial_state == "published"))
    assert record.summary["counts"]["events"] == {"unchanged": published_events}
    assert set(record.summary["counts"]["policies"]) == {"unchanged"}


def test_events_are_created_and_updated_field_by_field_and_forum_links_set_from_the_template(client, session,
                                                                                          login_as):
    from tracker.models import Event, ForumLink

    login_as("reviewer")
    policy = session.scalars(select(Policy).where(Policy.editorial_state == "published")).first()
    event = session.scalars(select(Event).where(Event.editorial_state == "published")).first()
    template = openpyxl.load_workbook(io.BytesIO(client.get("/imports/template.xlsx").get_data()))
    header = {title: [cell.value.splitlines()[0] for cell in template[title][1] if cell.value]
              for title in ("events", "forum_links")}
    assert "ສະຖານທີ່" in template["events"].cell(row=1, column=header["events"].index("venue") + 1).value
    notes = [row[0] for row in template["notes"].iter_rows(values_only=True)]
    assert "starts_on" in notes and "evidence_lo" in notes
    events = template["events"]
    rows = [{"key": "la-ev-forum-3", "country_code": "LA", "kind": "forum", "name_en": "3rd Lao EV Forum",
             "name_lo": "ເວທີລົດໄຟຟ້າລາວ ຄັ້ງທີ 3", "starts_on": "7/3/2027", "organisers": "la-mem"},
            {"key": event.key, "venue": "Vientiane, Lao PDR (moved)"}]
    for number, values in enumerate(rows, start=2):
        for name, value in values.items():
            events.cell(row=number, column=header["events"].index(name) + 1, value=value)
    links = template["forum_links"]
    for name, value in {"policy_key": policy.key, "event_key": "la-ev-forum-3", "role": "discussed",
                        "evidence_en": "Discussed in the second session."}.items():
        links.cell(row=2, column=header["forum_links"].index(name) + 1, value=value)
    buffer = io.BytesIO()
    template.save(buffer)
    assert upload(client, buffer.getvalue(), "events.xlsx").status_code == 302
    record = latest(session)
    assert record.summary["problems"] == []
    assert outcomes(record) == {("events", "la-ev-forum-3"): "created", ("events", event.key): "updated",
                                ("policies", policy.key): "updated"}
    changed = {row["key"]: row for row in record.rows}
    assert [c["field"] for c in changed[event.key]["changes"]] == ["venue"]
    assert changed[event.key]["row"] == "events, row 3"
    page = client.get(f"/imports/{record.id}").get_data(as_text=True)
    assert "Venue" in page and "Vientiane, Lao PDR (moved)" in page and "Forum links" in page
    assert apply(client, record).status_code == 302
    session.expire_all()
    created = session.scalars(select(Event).where(Event.key == "la-ev-forum-3")).one()
    assert created.editorial_state == "draft" and str(created.starts_on) == "2027-03-07"
    link_events = session.scalars(select(Event.key).join(ForumLink, ForumLink.event_id == Event.id)
                                  .where(ForumLink.policy_id == policy.id)).all()
    assert link_events == ["la-ev-forum-3"]
    entry = session.scalars(select(AuditEntry).where(AuditEntry.entity_key == event.key, AuditEntry.field == "venue")
                            .order_by(AuditEntry.id.desc())).first()
    assert entry.reason.startswith("imported from events.xlsx")


def test_an_unknown_organisation_is_offered_for_creation_and_created_when_the_import_is_applied(client, session,
                                                                                                login_as):
    from tracker.models import Organisation

    login_as("editor")
    body = (b"key,country_code,title_en,instrument,legal_status,issuer_key,other_bodies\r\n"
            b"la-import-transport-rule,LA,Transport rule,decree,drafting,la-mopwt,la-edl:implementing\r\n"
            b"la-import-transport-rule-2,LA,Second rule,decree,unknown,Ministry of Public Works and Transport,\r\n"
            )
    assert upload(client, body, "transport.csv").status_code == 302
    record = latest(session)
    assert record.state == "refused"
    assert {item["typed"] for item in record.summary["unknown_organisations"]} == {
        "la-mopwt", "Ministry of Public Works and Transport"}
    page = client.get(f"/imports/{record.id}").get_data(as_text=True)
    assert "Create this organisation" in page and "la-mopwt" in page
    token = csrf_for(client, f"/imports/{record.id}")
    response = client.post(f"/imports/{record.id}/organisations", data={
        "csrf_token": token, "create": ["0", "1"],
        "typed-0": "la-mopwt", "name_en-0": "Ministry of Public Works and Transport",
        "name_lo-0": "ກະຊວງ ໂຍທາທິການ ແລະ ຂົນສົ່ງ", "country-0": "LA", "kind-0": "ministry",
        "typed-1": "Ministry of Public Works and Transport", "name_en-1": "", "name_lo-1": "",
        "country-1": "LA", "kind-1": "ministry"})
    # A name is needed: nothing is chosen, and the page says which organisation and field.
    assert response.status_code == 400
    assert "Ministry of Public Works and Transport" in response.get_data(as_text=True)
    response = client.post(f"/imports/{record.id}/organisations", data={
        "csrf_token": token, "create": ["0"],
        "typed-0": "la-mopwt", "name_en-0": "Ministry of Public Works and Transport",
        "name_lo-0": "ກະຊວງ ໂຍທາທິການ ແລະ ຂົນສົ່ງ", "country-0": "LA", "kind-0": "ministry"})
    assert response.status_code == 302
    record = latest(session)
    # Still refused: the second row names the ministry by its name, which was not chosen.
    assert record.state == "refused"
    assert [p["row"] for p in record.summary["problems"]] == ["row 3"], record.summary["problems"]
    response = client.post(f"/imports/{record.id}/organisations", data={
        "csrf_token": token, "create": ["0", "1"],
        "typed-0": "la-mopwt", "name_en-0": "Ministry of Public Works and Transport", "country-0": "LA",
        "kind-0": "ministry",
        "typed-1": "Ministry of Public Works and Transport", "name_en-1": "Ministry of Public Works (by name)",
        "country-1": "LA", "kind-1": "ministry"})
    assert response.status_code == 302
    record = latest(session)
    assert record.state == "dry_run", record.summary["problems"]
    assert [o["key"] for o in record.summary["new_organisations"]] == [
        "la-mopwt", "la-ministry-of-public-works-by-name"]
    assert record.summary["counts"]["organisations"] == {"created": 2}
    page = client.get(f"/imports/{record.id}").get_data(as_text=True)
    assert "Will create the organisation Ministry of Public Works and Transport (la-mopwt)." in page
    # Nothing is written by a dry run.
    assert session.scalar(select(func.count()).select_from(Organisation).where(Organisation.key == "la-mopwt")) == 0
    assert apply(client, record).status_code == 302
    session.expire_all()
    created = session.scalars(select(Organisation).where(Organisation.key == "la-mopwt")).one()
    assert created.country == "LA" and created.kind == "ministry"
    policy = session.scalars(select(Policy).where(Policy.key == "la-import-transport-rule")).one()
    assert policy.issuer_id == created.id
    entry = session.scalars(select(AuditEntry).where(AuditEntry.entity_key == "la-mopwt")).first()
    assert entry is not None and entry.action == "create" and entry.actor_label


def test_the_api_lists_unknown_organisations_and_creates_the_chosen_ones(client, session, api_token):
    headers = api_token("editor")
    body = ("key,country_code,title_en,instrument,legal_status,issuer_key\r\n"
            "la-import-api-org,LA,Rule,decree,drafting,la-new-agency\r\n")
    response = client.post("/api/v1/imports", headers=headers, content_type="multipart/form-data",
                           data={"file": (io.BytesIO(body.encode()), "org.csv")})
    report = response.get_json()
    assert report["state"] == "refused"
    assert [item["typed"] for item in report["unknown_organisations"]] == ["la-new-agency"]
    assert report["unknown_organisations"][0]["row"] == "row 2"
    wrong = client.post(report["organisations_url"], headers=headers,
                        json={"organisations": [{"typed": "not-in-the-file", "name_en": "X", "kind": "agency"}]})
    assert wrong.status_code == 400 and "organisations[0].typed" in wrong.get_json()["error"]["errors"]
    assert client.post(report["organisations_url"], headers=api_token("partner"),
                       json={"organisations": []}).status_code == 403
    as_form = client.post(report["organisations_url"], headers=headers, data={"organisations": "la-new-agency"})
    assert as_form.status_code == 415 and as_form.get_json()["error"]["message"]
    chosen = client.post(report["organisations_url"], headers=headers, json={"organisations": [
        {"typed": "la-new-agency", "name_en": "New Agency", "country": "LA", "kind": "agency"}]})
    assert chosen.status_code == 200, chosen.get_json()
    report = chosen.get_json()
    assert report["state"] == "dry_run" and report["new_organisations"][0]["key"] == "la-new-agency"
    policy_row = next(row for row in report["changes"] if row["kind"] == "policies")
    assert policy_row["notes"] == [{"create_organisation": "la-new-agency", "name_en": "New Agency", "name_lo": None}]
    assert report["counts"]["organisations"] == {"created": 1}
    applied = client.post(report["apply_url"], headers=headers)
    assert applied.status_code == 200 and applied.get_json()["state"] == "applied"


def test_an_unknown_country_cannot_be_created_and_the_closest_is_suggested(client, session, login_as):
    login_as("reviewer")
    body = (b"key,country_code,title_en,instrument,legal_status\r\nla-typo,Laos,A,decree,unknown\r\n"
            b"zz-rule,ZZ,B,decree,unknown\r\n")
    upload(client, body, "countries.csv")
    record = latest(session)
    messages = {p["row"]: p["message"] for p in record.summary["problems"]}
    assert "cannot add one" in messages["row 2"] and "Did you mean LA (Lao PDR)?" in messages["row 2"]
    assert "Use one of: LA, " in messages["row 3"]
    assert record.summary["unknown_organisations"] == []


@pytest.mark.parametrize("typed, stored", [
    ("7/3/2024", "2024-03-07"), ("2024-03-07", "2024-03-07"), ("March 2024", "2024-03"), ("2024", "2024"),
    ("ມີນາ 2024", "2024-03"), ("ວັນທີ 7 ມີນາ 2024", "2024-03-07"), ("3/2024", "2024-03"),
    (dt.datetime(2024, 3, 7), "2024-03-07"), (2024, "2024"),
])
def test_dates_are_read_in_every_shape_staff_type(client, session, login_as, typed, stored):
    login_as("reviewer")
    assert upload(client, _workbook([["key", "country_code", "title_en", "instrument", "legal_status", "valid_from"],
                                     ["la-date-shape", "LA", "A", "decree", "unknown", typed]]),
                  "d.xlsx").status_code == 302
    record = latest(session)
    assert record.summary["problems"] == []
    changes = {c["field"]: c["new"] for c in record.rows[0]["changes"]} if record.rows[0]["changes"] else None
    assert record.rows[0]["outcome"] == "created" and changes is None
    assert apply(client, record).status_code == 302
    session.expire_all()
    assert str(session.scalars(select(Policy.valid_from).where(Policy.key == "la-date-shape")).one()) == stored


def test_a_date_cell_shown_as_month_and_year_keeps_the_month_and_formulas_give_their_saved_value(client, session,
                                                                                                login_as, tmp_path):
    login_as("reviewer")
    workbook = openpyxl.Workbook()
    sheet = workbook.active
    sheet.title = "policies"
    sheet.append(["key", "country_code", "title_en", "instrument", "valid_from", "valid_to", "legal_status"])
    sheet.append(["la-month-cell", "LA", "Month cell", "decree", dt.datetime(2024, 3, 1), "=DATE(2030,1,1)",
                  "unknown"])
    sheet["E2"].number_format = "mmm-yyyy"
    path = tmp_path / "cells.xlsx"
    workbook.save(path)
    # What a spreadsheet program saves: the formula's result beside it.
    import zipfile as zf
    with zf.ZipFile(path) as archive:
        members = {name: archive.read(name) for name in archive.namelist()}
    members["xl/worksheets/sheet1.xml"] = members["xl/worksheets/sheet1.xml"].replace(
        b"<f>DATE(2030,1,1)</f><v></v>", b"<f>DATE(2030,1,1)</f><v>2030</v>")
    assert b"<v>2030</v>" in members["xl/worksheets/sheet1.xml"]
    with zf.ZipFile(path, "w") as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    assert upload(client, path.read_bytes(), "cells.xlsx").status_code == 302
    record = latest(session)
    assert record.summary["problems"] == []
    assert apply(client, record).status_code == 302
    session.expire_all()
    policy = session.scalars(select(Policy).where(Policy.key == "la-month-cell")).one()
    assert str(policy.valid_from) == "2024-03" and str(policy.valid_to) == "2030"


def test_a_wrong_date_is_explained_with_the_shapes_that_are_read(client, session, login_as):
    login_as("reviewer")
    body = (b"key,country_code,title_en,instrument,legal_status,valid_from\r\n"
            b"la-bad-date,LA,A,decree,unknown,next spring\r\n")
    upload(client, body, "d.csv")
    assert "write the day first (7/3/2024)" in latest(session).summary["problems"][0]["message"]


def _big_rows(count: int, bad: dict[int, tuple[str, str]]) -> list[list]:
    rows = []
    for index in range(count):
        row = [f"bulk-{index:05d}", "LA", f"Bulk policy {index}", "decree", "drafting", "2025", "15/11/2025"]
        if index in bad:
            column, value = bad[index]
            row[["key", "country_code", "title_en", "instrument", "legal_status", "status_since",
                 "valid_from"].index(column)] = value
        rows.append(row)
    return rows


BIG_HEADER = ["key", "country_code", "title_en", "instrument", "legal_status", "status_since", "valid_from"]
BIG = 50_000
# Row index (from 0) -> (column, value): an unknown country, a bad date, a duplicate key.
BIG_BAD = {1_234: ("country_code", "ZZ"), 17_000: ("valid_from", "31/02/2024"), 33_333: ("key", "bulk-00007"),
           49_998: ("status_since", "sometime")}


@pytest.mark.slow
@pytest.mark.parametrize("kind", ["xlsx", "csv"])
def test_a_file_of_50000_rows_reports_exactly_its_wrong_rows_on_a_bounded_page(client, session, login_as, tmp_path,
                                                                               kind):
    import time

    login_as("reviewer")
    rows = _big_rows(BIG, BIG_BAD)
    if kind == "xlsx":
        workbook = openpyxl.Workbook(write_only=True)
        sheet = workbook.create_sheet("policies")
        sheet.append(BIG_HEADER)
        for row in rows:
            sheet.append(row)
        path = tmp_path / "big.xlsx"
        workbook.save(path)
        data = path.read_bytes()
        where = "policies, row {}"
    else:
        data = ("\r\n".join(",".join(row) for row in [BIG_HEADER, *rows]) + "\r\n").encode()
        where = "row {}"
    before = session.scalar(select(func.count()).select_from(Policy))
    started = time.perf_counter()
    response = upload(client, data, f"big.{kind}")
    seconds = time.perf_counter() - started
    print(f"\n{kind}: dry run of {BIG:,} rows in {seconds:.1f} s ({BIG / seconds:,.0f} rows/s)")
    assert response.status_code == 302
    record = latest(session)
    assert record.state == "refused" and record.row_count == BIG
    found = {(p["row"], p["column"]) for p in record.summary["problems"]}
    assert found == {(where.format(1_234 + 2), "country_code"), (where.format(17_000 + 2), "valid_from"),
                     (where.format(33_333 + 2), "key"), (where.format(49_998 + 2), "status_since")}, found
    assert record.summary["total_problems"] == 4
    assert session.scalar(select(func.count()).select_from(Policy)) == before
    page = client.get(f"/imports/{record.id}")
    assert page.status_code == 200 and len(page.get_data()) < 200_000
    assert page.get_data(as_text=True).count("<tr>") < 120

    # The same file with its wrong rows corrected: counts per outcome, rows a page at a time.
    good = _big_rows(BIG, {})
    body = ("\r\n".join(",".join(row) for row in [BIG_HEADER, *good[:6000]]) + "\r\n").encode()
    assert upload(client, body, "good.csv").status_code == 302
    record = latest(session)
    assert record.summary["counts"]["policies"] == {"created": 6000} and len(record.rows) == 5000
    first = client.get(f"/imports/{record.id}").get_data(as_text=True)
    assert first.count('class="import-created"') == 50 and "bulk-00000" in first and "bulk-00050" not in first
    second = client.get(f"/imports/{record.id}?page=2").get_data(as_text=True)
    assert "bulk-00050" in second and "bulk-00000" not in second
    assert client.get(f"/imports/{record.id}?page=999").status_code == 404
    assert client.get(f"/imports/{record.id}?page=x").status_code == 400


def test_an_upload_without_its_csrf_token_is_refused(client, session, login_as):
    login_as("editor")
    before = session.scalar(select(func.count()).select_from(DataImport))
    response = client.post("/imports", data={"file": (io.BytesIO(b"key,title_en\r\nx,y\r\n"), "a.csv")},
                           content_type="multipart/form-data")
    assert response.status_code == 400
    assert session.scalar(select(func.count()).select_from(DataImport)) == before
