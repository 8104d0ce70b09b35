"""The import template: a workbook whose sheets and columns are named in English and Lao, with drop-down
lists and a sheet of notes, for staff to fill and upload at /imports."""
from __future__ import annotations

import tempfile
from typing import IO

from sqlalchemy import select
from sqlalchemy.orm import Session

from tracker.models import Event, Jurisdiction, Organisation, Topic
from tracker.models.vocab import (
    BODY_ROLES,
    CONFIDENCE_LEVELS,
    EVENT_KINDS,
    FORUM_ROLES,
    INSTRUMENTS,
    LEGAL_STATUSES,
    ORGANISATION_KINDS,
    VEHICLE_CLASSES,
)

# The template's column labels, in both languages in every copy (a sheet is passed between colleagues who
# read one language or the other).
COLUMN_LABELS: dict[str, tuple[str, str]] = {
    "key": ("Key: the record's identifier (lower case, digits, dashes); a new key makes a new draft",
            "ລະຫັດ: ຕົວລະບຸບັນທຶກ (ຕົວພິມນ້ອຍ, ຕົວເລກ, ຂີດ); ລະຫັດໃໝ່ ສ້າງສະບັບຮ່າງໃໝ່"),
    "country_code": ("Country: ISO code (LA, TH, VN ...) or ASEAN", "ປະເທດ: ລະຫັດ ISO (LA, TH, VN ...) ຫຼື ASEAN"),
    "title_en": ("Title in English", "ຊື່ເປັນພາສາອັງກິດ"),
    "title_lo": ("Title in Lao", "ຊື່ເປັນພາສາລາວ"),
    "title_local": ("Title in the country's own language", "ຊື່ເປັນພາສາຂອງປະເທດນັ້ນ"),
    "reference": ("Official reference number", "ເລກທີອ້າງອີງທາງການ"),
    "instrument": ("Kind of instrument (choose from the list)", "ປະເພດນິຕິກຳ (ເລືອກຈາກລາຍການ)"),
    "legal_status": ("Legal status; a new one adds a dated step", "ສະຖານະທາງກົດໝາຍ; ສະຖານະໃໝ່ ເພີ່ມຂັ້ນຕອນທີ່ມີວັນທີ"),
    "status_since": ("Date of the new status, day first: 15/11/2025, 11/2025 or 2025",
                     "ວັນທີຂອງສະຖານະໃໝ່, ວັນກ່ອນ: 15/11/2025, 11/2025 ຫຼື 2025"),
    "status_note": ("Note on the new status", "ໝາຍເຫດກ່ຽວກັບສະຖານະໃໝ່"),
    "status_source_url": ("Where the new status is reported (URL)", "ແຫຼ່ງທີ່ລາຍງານສະຖານະໃໝ່ (URL)"),
    "valid_from": ("Valid from, day first", "ມີຜົນແຕ່ວັນທີ, ວັນກ່ອນ"),
    "valid_to": ("Valid to, day first", "ມີຜົນເຖິງວັນທີ, ວັນກ່ອນ"),
    "issuer_key": ("Issuing body (key of an organisation)", "ອົງການທີ່ອອກ (ລະຫັດຂອງອົງການ)"),
    "other_bodies": ("Other bodies as key:role, separated by ;", "ອົງການອື່ນ ເປັນ ລະຫັດ:ບົດບາດ, ແຍກດ້ວຍ ;"),
    "topics": ("Topics (keys), separated by ;", "ຫົວຂໍ້ (ລະຫັດ), ແຍກດ້ວຍ ;"),
    "vehicle_classes": ("Vehicle classes, separated by ;", "ປະເພດຍານພາຫະນະ, ແຍກດ້ວຍ ;"),
    "summary_en": ("Summary in English", "ບົດສະຫຼຸບເປັນພາສາອັງກິດ"),
    "summary_lo": ("Summary in Lao", "ບົດສະຫຼຸບເປັນພາສາລາວ"),
    "sources": ("Source URLs, separated by ;", "URL ຂອງແຫຼ່ງຂໍ້ມູນ, ແຍກດ້ວຍ ;"),
    "confidence": ("Confidence: high, medium or low", "ຄວາມໝັ້ນໃຈ: high, medium ຫຼື low"),
}
ORGANISATION_LABELS: dict[str, tuple[str, str]] = {
    "key": ("Key of the organisation (new ones are created)", "ລະຫັດຂອງອົງການ (ອົງການໃໝ່ຈະຖືກສ້າງ)"),
    "name_en": ("Name in English", "ຊື່ເປັນພາສາອັງກິດ"),
    "name_lo": ("Name in Lao", "ຊື່ເປັນພາສາລາວ"),
    "acronym": ("Acronym", "ຕົວຫຍໍ້"),
    "country": ("Country: ISO code, ASEAN, or empty for international bodies", "ປະເທດ: ລະຫັດ ISO, ASEAN ຫຼື ວ່າງ"),
    "kind": ("Kind (choose from the list)", "ປະເພດ (ເລືອກຈາກລາຍການ)"),
    "parent": ("Parent organisation (key)", "ອົງການແມ່ (ລະຫັດ)"),
}


EVENT_LABELS: dict[str, tuple[str, str]] = {
    "key": ("Key of the event (lower case, digits, dashes); a new key makes a new draft",
            "ລະຫັດຂອງກິດຈະກຳ (ຕົວພິມນ້ອຍ, ຕົວເລກ, ຂີດ); ລະຫັດໃໝ່ ສ້າງສະບັບຮ່າງໃໝ່"),
    "country_code": ("Where it took place: ISO code (LA, TH ...) or ASEAN", "ສະຖານທີ່ຈັດ: ລະຫັດ ISO (LA, TH ...) ຫຼື ASEAN"),
    "kind": ("Kind of event: forum, workshop, summit, meeting ... (choose from the list)",
             "ປະເພດກິດຈະກຳ: ເວທີ, ກອງປະຊຸມສຳມະນາ, ກອງປະຊຸມສຸດຍອດ, ກອງປະຊຸມ ... (ເລືອກຈາກລາຍການ)"),
    "name_en": ("Name in English", "ຊື່ເປັນພາສາອັງກິດ"),
    "name_lo": ("Name in Lao", "ຊື່ເປັນພາສາລາວ"),
    "starts_on": ("First day, day first: 7/3/2024, 3/2024 or 2024", "ວັນທຳອິດ, ວັນກ່ອນ: 7/3/2024, 3/2024 ຫຼື 2024"),
    "ends_on": ("Last day, day first", "ວັນສຸດທ້າຍ, ວັນກ່ອນ"),
    "date_note": ("What is known of the dates when they are uncertain", "ສິ່ງທີ່ຮູ້ກ່ຽວກັບວັນທີ ເມື່ອບໍ່ແນ່ນອນ"),
    "venue": ("Venue", "ສະຖານທີ່"),
    "organisers": ("Organisers (keys of organisations), separated by ;", "ຜູ້ຈັດ (ລະຫັດຂອງອົງການ), ແຍກດ້ວຍ ;"),
    "funders": ("Funders (keys of organisations), separated by ;", "ຜູ້ໃຫ້ທຶນ (ລະຫັດຂອງອົງການ), ແຍກດ້ວຍ ;"),
    "partners": ("Partners (keys of organisations), separated by ;", "ຄູ່ຮ່ວມງານ (ລະຫັດຂອງອົງການ), ແຍກດ້ວຍ ;"),
    "topics": ("Topics (keys), separated by ;", "ຫົວຂໍ້ (ລະຫັດ), ແຍກດ້ວຍ ;"),
    "summary_en": ("Summary in English", "ບົດສະຫຼຸບເປັນພາສາອັງກິດ"),
    "summary_lo": ("Summary in Lao", "ບົດສະຫຼຸບເປັນພາສາລາວ"),
    "sources": ("Source URLs, separated by ;", "URL ຂອງແຫຼ່ງຂໍ້ມູນ, ແຍກດ້ວຍ ;"),
}
FORUM_LINK_LABELS: dict[str, tuple[str, str]] = {
    "policy_key": ("Key of the policy (the policy's forum links become the rows given for it here)",
                   "ລະຫັດຂອງນະໂຍບາຍ (ການເຊື່ອມໂຍງກັບເວທີຂອງນະໂຍບາຍ ຈະເປັນຕາມແຖວທີ່ໃຫ້ໄວ້ຢູ່ນີ້)"),
    "event_key": ("Key of the event (in the tracker or on the events sheet)",
                  "ລະຫັດຂອງກິດຈະກຳ (ທີ່ມີໃນລະບົບ ຫຼື ຢູ່ໃນແຜ່ນ events)"),
    "role": ("What happened to the policy at the event (choose from the list)",
             "ສິ່ງທີ່ເກີດຂຶ້ນກັບນະໂຍບາຍໃນກິດຈະກຳ (ເລືອກຈາກລາຍການ)"),
    "evidence_en": ("What the source says of it, in English", "ສິ່ງທີ່ແຫຼ່ງຂໍ້ມູນກ່າວເຖິງ, ເປັນພາສາອັງກິດ"),
    "evidence_lo": ("What the source says of it, in Lao", "ສິ່ງທີ່ແຫຼ່ງຂໍ້ມູນກ່າວເຖິງ, ເປັນພາສາລາວ"),
    "source_url": ("Where that is said (URL)", "ແຫຼ່ງທີ່ກ່າວເຖິງ (URL)"),
    "position": ("Order among the policy's forum links (optional)", "ລຳດັບໃນບັນດາການເຊື່ອມໂຍງຂອງນະໂຍບາຍ (ບໍ່ບັງຄັບ)"),
}

SHEET_NAMES: dict[str, tuple[str, str, str]] = {
    "policies": ("sheet", "One row per policy.", "ແຖວໜຶ່ງຕໍ່ນະໂຍບາຍໜຶ່ງ."),
    "events": ("sheet", "One row per event: forum, workshop, summit or meeting.",
               "ແຖວໜຶ່ງຕໍ່ກິດຈະກຳໜຶ່ງ: ເວທີ, ກອງປະຊຸມສຳມະນາ, ກອງປະຊຸມສຸດຍອດ ຫຼື ກອງປະຊຸມ."),
    "forum_links": ("sheet", "One row per link between a policy and an event. A policy named here keeps exactly "
                             "the links given for it here; policies not named keep theirs.",
                    "ແຖວໜຶ່ງຕໍ່ການເຊື່ອມໂຍງໜຶ່ງລະຫວ່າງນະໂຍບາຍ ແລະ ກິດຈະກຳ. ນະໂຍບາຍທີ່ມີຊື່ຢູ່ນີ້ ຈະມີພຽງແຕ່ການເຊື່ອມໂຍງທີ່ໃຫ້ໄວ້ຢູ່ນີ້; "
                    "ນະໂຍບາຍທີ່ບໍ່ມີຊື່ ຮັກສາການເຊື່ອມໂຍງເດີມ."),
    "organisations": ("sheet", "One row per organisation; new keys are created.",
                      "ແຖວໜຶ່ງຕໍ່ອົງການໜຶ່ງ; ລະຫັດໃໝ່ຈະຖືກສ້າງ."),
}
GENERAL_NOTES: tuple[tuple[str, str, str], ...] = (
    ("dates", "Day first, as precise as the source: 7/3/2024, 3/2024 or 2024; also 2024-03-07, 7 March 2024, "
              "March 2024, ມີນາ 2024, or a date cell (a cell shown as month and year keeps the month).",
     "ວັນກ່ອນ, ລະອຽດເທົ່າທີ່ແຫຼ່ງຂໍ້ມູນໃຫ້: 7/3/2024, 3/2024 ຫຼື 2024; ຫຼື 2024-03-07, 7 ມີນາ 2024, ມີນາ 2024, "
     "ຫຼື ຫ້ອງວັນທີ (ຫ້ອງທີ່ສະແດງເດືອນ ແລະ ປີ ຮັກສາລະດັບເດືອນ)."),
    ("rows", "A key already in the tracker updates that record: an empty cell keeps what is stored, a cell "
             "holding only - clears the field. A new key creates a draft.",
     "ລະຫັດທີ່ມີຢູ່ແລ້ວ ປັບປຸງບັນທຶກນັ້ນ: ຫ້ອງວ່າງ ຮັກສາຂໍ້ມູນເດີມ, ຫ້ອງທີ່ມີພຽງ - ລຶບຂໍ້ມູນ. ລະຫັດໃໝ່ ສ້າງສະບັບຮ່າງ."),
    ("formulas", "A cell holding a formula gives the value it showed when the file was last saved; merged cells "
                 "are refused (give each cell its own value).",
     "ຫ້ອງທີ່ມີສູດ ໃຫ້ຄ່າທີ່ສະແດງໃນເວລາບັນທຶກໄຟລ໌ຄັ້ງສຸດທ້າຍ; ຫ້ອງທີ່ລວມກັນ ບໍ່ຖືກຮັບ (ໃຫ້ແຕ່ລະຫ້ອງມີຄ່າຂອງຕົນເອງ)."),
    ("organisations", "An organisation the tracker does not have can be added on the organisations sheet, or "
                      "created from the dry run's report. Countries cannot be added.",
     "ອົງການທີ່ບໍ່ມີໃນລະບົບ ສາມາດເພີ່ມໃນແຜ່ນ organisations, ຫຼື ສ້າງຈາກລາຍງານການທົດລອງ. ບໍ່ສາມາດເພີ່ມປະເທດໄດ້."),
    ("upload", "Upload the filled workbook at /imports: a dry run shows every change before anything is written.",
     "ອັບໂຫຼດໄຟລ໌ທີ່ປ້ອນແລ້ວ ທີ່ /imports: ການທົດລອງຈະສະແດງທຸກການປ່ຽນແປງ ກ່ອນບັນທຶກ."),
)


def template_file(session: Session) -> IO[bytes]:
    """The import template: policies, events, forum links and organisations sheets with labelled columns and
    drop-down lists, a notes sheet, and the lists themselves; in a temporary file, rewound."""
    from openpyxl import Workbook
    from openpyxl.styles import Alignment, Font
    from openpyxl.utils import get_column_letter
    from openpyxl.worksheet.datavalidation import DataValidation

    lists = {
        "country_code": list(session.scalars(select(Jurisdiction.code).order_by(Jurisdiction.position))),
        "instrument": list(INSTRUMENTS), "legal_status": list(LEGAL_STATUSES),
        "confidence": list(CONFIDENCE_LEVELS), "organisation_kind": list(ORGANISATION_KINDS),
        "topics": list(session.scalars(select(Topic.key).order_by(Topic.position))),
        "vehicle_classes": list(VEHICLE_CLASSES), "body_roles": list(BODY_ROLES),
        "issuer_key": list(session.scalars(select(Organisation.key).order_by(Organisation.key))),
        "event_kind": list(EVENT_KINDS), "forum_role": list(FORUM_ROLES),
        "event_key": list(session.scalars(select(Event.key).order_by(Event.key))),
    }
    workbook = Workbook()
    policies = workbook.active
    policies.title = "policies"
    events = workbook.create_sheet("events")
    forum_links = workbook.create_sheet("forum_links")
    organisations = workbook.create_sheet("organisations")
    notes = workbook.create_sheet("notes")
    values = workbook.create_sheet("lists")
    ranges: dict[str, str] = {}
    for index, (name, items) in enumerate(lists.items(), start=1):
        letter = get_column_letter(index)
        values.cell(row=1, column=index, value=name).font = Font(bold=True)
        for row, item in enumerate(items, start=2):
            values.cell(row=row, column=index, value=item)
        ranges[name] = f"lists!${letter}$2:${letter}${max(2, len(items) + 1)}"
    # Which list each column of each sheet chooses from.
    choices = {
        "policies": {"country_code": "country_code", "instrument": "instrument", "legal_status": "legal_status",
                     "confidence": "confidence", "issuer_key": "issuer_key"},
        "events": {"country_code": "country_code", "kind": "event_kind"},
        "forum_links": {"role": "forum_role", "event_key": "event_key"},
        "organisations": {"country": "country_code", "kind": "organisation_kind", "parent": "issuer_key"},
    }
    sheets = ((policies, COLUMN_LABELS), (events, EVENT_LABELS), (forum_links, FORUM_LINK_LABELS),
              (organisations, ORGANISATION_LABELS))
    for sheet, labels in sheets:
        for index, (name, (english, lao)) in enumerate(labels.items(), start=1):
            cell = sheet.cell(row=1, column=index, value=f"{name}\n{english}\n{lao}")
            cell.font = Font(bold=True)
            cell.alignment = Alignment(wrap_text=True, vertical="top")
            letter = get_column_letter(index)
            sheet.column_dimensions[letter].width = 28
            source = choices[sheet.title].get(name)
            if source is not None:
                # An organisation's country may be any ISO code: the list helps, it does not forbid.
                validation = DataValidation(type="list", formula1=ranges[source], allow_blank=True,
                                            showErrorMessage=sheet.title != "organisations" or name != "country")
                sheet.add_data_validation(validation)
                validation.add(f"{letter}2:{letter}5000")
            # Text cells: a partial date or a code stays as typed.
            for row in range(2, 202):
                sheet.cell(row=row, column=index).number_format = "@"
        sheet.row_dimensions[1].height = 90
        sheet.freeze_panes = "B2"
    notes.column_dimensions["A"].width = 22
    notes.column_dimensions["B"].width = 90
    notes.column_dimensions["C"].width = 90
    notes.append(["column", "English", "ລາວ"])
    for sheet, labels in sheets:
        notes.append([])
        notes.append([f"{sheet.title} ({SHEET_NAMES[sheet.title][0]})", SHEET_NAMES[sheet.title][1],
                      SHEET_NAMES[sheet.title][2]])
        for name, (english, lao) in labels.items():
            notes.append([name, english, lao])
    notes.append([])
    for note in GENERAL_NOTES:
        notes.append(list(note))
    for row in notes.iter_rows():
        for cell in row:
            cell.alignment = Alignment(wrap_text=True, vertical="top")
    out = tempfile.SpooledTemporaryFile(max_size=4 * 1024 * 1024)
    workbook.save(out)
    out.seek(0)
    return out
