"""Imports by staff: a dry run that shows every row's outcome and writes nothing, then an apply in one
transaction, refused when the tracker changed since; spreadsheets, CSV and dataset JSON; bad files."""
from __future__ import annotations

import copy
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
    token = csrf_for(client, "/imports")
    return client.post("/imports", data={"csrf_token": token, "file": (io.BytesIO(data), filename)},
                       content_type="multipart/form-data")


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
    expected_updates = {key for key, p in ((p["key"], p) for p in v2["policies"])
                        if key in v1_policies and p != v1_policies[key]}
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
