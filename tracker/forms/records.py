"""Forms of the staff's editing pages: policies, events, status changes, publication and forum links."""
from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from flask_wtf import FlaskForm
from sqlalchemy import select
from sqlalchemy.orm import Session
from wtforms import FieldList, Form, FormField, HiddenField, IntegerField, SelectField, SelectMultipleField
from wtforms import StringField, TextAreaField
from wtforms.validators import InputRequired, Optional, ValidationError
from wtforms.widgets import CheckboxInput, HiddenInput, ListWidget

from tracker.models import Event, Jurisdiction, Organisation, Policy, Topic
from tracker.models.types import PartialDate, PartialDateError
from tracker.services import dataset
from tracker.models.vocab import (BODY_ROLES, CONFIDENCE_LEVELS, EDITORIAL_STATES, EVENT_KINDS, FORUM_ROLES,
                                  INSTRUMENTS, LEGAL_STATUSES, RELATION_TYPES, SOURCE_KINDS, VEHICLE_CLASSES)

# Rows a form may send for one repeated group; far more than any record needs, a bound on what is parsed.
MAX_ROWS = 100
# Blank rows offered after the filled ones, so a row can be added without JavaScript.
BLANK_ROWS = 3

# Plain names of the fields of the dataset format, for labels, messages and the history pages.
FIELD_LABELS: dict[str, str] = {
    "key": "Key", "country": "Country", "title_en": "Title (English)", "title_lo": "Title (Lao)",
    "title_local": "Title (local language)", "reference": "Official reference", "instrument": "Instrument",
    "issuer": "Issued by", "other_bodies": "Other bodies", "topics": "Topics",
    "vehicle_classes": "Vehicle classes",
    "valid_from": "Valid from", "valid_to": "Valid until", "summary_en": "Summary (English)",
    "summary_lo": "Summary (Lao)", "relations": "Related instruments", "forum_links": "Forum links",
    "sources": "Sources", "confidence": "Confidence", "conflicts": "Where sources disagree",
    "status": "Status", "legal_status": "Status", "status_history": "Status timeline",
    "editorial_state": "Editorial state",
    "status_effective_on": "Effective date", "status_note": "Note", "status_evidence_url": "Evidence URL",
    "name_en": "Name (English)", "name_lo": "Name (Lao)", "kind": "Kind of event", "starts_on": "Starts on",
    "ends_on": "Ends on", "date_note": "About the date", "venue": "Venue", "organisers": "Organisers",
    "funders": "Funders", "partners": "Partners", "effective_on": "Effective date", "note": "Note",
    "evidence_url": "Evidence URL", "reason": "Reason",
}

PARTIAL_DATE_HINT = "YYYY, YYYY-MM or YYYY-MM-DD, as precise as the source: 2023, 2023-07 or 2023-07-14."
# Keys that name pages rather than records (/policies/new, /events/new).
RESERVED_KEYS = dataset.RESERVED_KEYS

_ROW_ERROR = re.compile(r"^([a-z_]+)\[(\d+)\](?:\.([a-z_]+))?$")
_REWORDED = {
    "needs a target policy key or a target_reference":
        "Give the key of a policy in the tracker or a citation.",
    "links the same event with the same role twice": "This event is already linked with this role.",
    "is listed twice": "This is listed twice.",
    "is before valid_from": "Valid until is before valid from.",
    "is before starts_on": "The end is before the start.",
    "is required": "This field is required.",
}


def sentence(message: str) -> str:
    """A service's message as a sentence to show by a field ('is required' -> 'This field is required.')."""
    message = _REWORDED.get(message.strip(), message.strip())
    if re.match(r"^(is|must|contains|has)\b", message):
        message = f"This field {message}"
    message = message[:1].upper() + message[1:]
    return message if message.endswith((".", "?", "!")) else message + "."


# ---------------------------------------------------------------------------------------------------
# Choices read from the database


@dataclass
class Choices:
    """The values the selects and checkbox lists of the editing forms offer: value -> label, in order."""

    countries: dict[str, str] = field(default_factory=dict)
    organisations: dict[str, str] = field(default_factory=dict)
    topics: dict[str, str] = field(default_factory=dict)
    events: dict[str, str] = field(default_factory=dict)
    policies: dict[str, str] = field(default_factory=dict)


def load_choices(session: Session, *kinds: str) -> Choices:
    """The choices of ``kinds`` (countries, organisations, topics, events, policies): one query each."""
    choices = Choices()
    if "countries" in kinds:
        choices.countries = {j.code: j.name_en for j in
                             session.scalars(select(Jurisdiction).order_by(Jurisdiction.position))}
    if "organisations" in kinds:
        rows = session.execute(select(Organisation.key, Organisation.name_en, Organisation.country)
                               .order_by(Organisation.name_en, Organisation.key))
        choices.organisations = {key: f"{name} ({country})" if country else name
                                 for key, name, country in rows}
    if "topics" in kinds:
        choices.topics = {t.key: t.name_en for t in session.scalars(select(Topic).order_by(Topic.position))}
    if "events" in kinds:
        rows = session.execute(select(Event.key, Event.name_en, Event.starts_on)
                               .order_by(Event.starts_on.desc().nulls_last(), Event.key))
        choices.events = {key: f"{name} ({starts.display() if starts else 'date not known'})"
                          for key, name, starts in rows}
    if "policies" in kinds:
        choices.policies = {key: title for key, title in
                            session.execute(select(Policy.key, Policy.title_en).order_by(Policy.key))}
    return choices


def _ordered(options: Mapping[str, str], selected: Iterable[str] | None) -> dict[str, str]:
    """Selected options first, in their order, then the others: a record's lists keep their order when
    the form is sent back (browsers send checked boxes in document order)."""
    chosen = {value: options[value] for value in dict.fromkeys(selected or ()) if value in options}
    return chosen | {value: label for value, label in options.items() if value not in chosen}


# ---------------------------------------------------------------------------------------------------
# Helpers shared by the forms


def _clean(value: Any) -> str | None:
    """Form text as the services take it: line ends as in the database, outer spaces trimmed, '' -> None."""
    if value is None:
        return None
    text = str(value).replace("\r\n", "\n").replace("\r", "\n").strip()
    return text or None


def _source_rows(record: Mapping[str, Any]) -> list[dict[str, Any]]:
    """A record's sources as rows of the form (a source without a kind shows "Not stated")."""
    return [{**source, "kind": source.get("kind") or ""} for source in record.get("sources") or []]


class CheckboxListField(SelectMultipleField):
    """Several choices as a list of checkboxes (the editing templates lay them out in a fieldset)."""

    widget = ListWidget(prefix_label=False)
    option_widget = CheckboxInput()


class SourceRow(Form):
    url = StringField("URL")
    title = StringField("Title")
    published = StringField("Published", description="Partial date: YYYY, YYYY-MM or YYYY-MM-DD.")
    kind = SelectField("Kind", choices={"": "Not stated", **SOURCE_KINDS}, default="")

    def to_input(self, *, with_kind: bool = True) -> dict[str, Any] | None:
        values = {"url": _clean(self.url.data), "title": _clean(self.title.data),
                  "published": _clean(self.published.data)}
        if not any(values.values()):
            return None
        kind = _clean(self.kind.data)
        if with_kind or kind:
            values["kind"] = kind
        return values


class RelationRow(Form):
    type = SelectField("Relation", choices={code: labels[0] for code, labels in RELATION_TYPES.items()},
                       default="related")
    target = StringField("Policy in the tracker (key)")
    target_reference = StringField("Or a citation of an instrument not in the tracker")

    def to_input(self) -> dict[str, Any] | None:
        target, reference = _clean(self.target.data), _clean(self.target_reference.data)
        if target is None and reference is None:
            return None
        return {"type": self.type.data, "target": target, "target_reference": reference}


class BodyRow(Form):
    org = SelectField("Organisation", default="")
    role = SelectField("Role", choices=dict(BODY_ROLES), default="implementing")

    def to_input(self) -> dict[str, Any] | None:
        org = _clean(self.org.data)
        return None if org is None else {"org": org, "role": self.role.data}


class ServiceErrors:
    """Puts the errors of a service's Invalid by the form's fields."""

    ROW_GROUPS: tuple[str, ...] = ()
    row_positions: dict[str, list[int]]

    def apply_errors(self, errors: Mapping[str, str], message: str | None = None) -> None:
        """Put each error by its field: ``sources[2].url`` -> the url input of the third row sent."""
        for name, raw in errors.items():
            target, prefix = self._field_for(name)
            text = prefix + sentence(raw)
            if target is None:
                self.form_errors.append(f"{FIELD_LABELS.get(name, name)}: {text}")
            else:
                target.errors = [*target.errors, text]
        if not errors and message:
            self.form_errors.append(message)

    def _field_for(self, name: str) -> tuple[Any, str]:
        match = _ROW_ERROR.match(name)
        if match is None:
            return (self._fields.get(name) if name not in ("csrf_token", "version") else None), ""
        group, index, part = match.group(1), int(match.group(2)), match.group(3)
        target = self._fields.get(group)
        if target is None:
            return None, ""
        if group in self.ROW_GROUPS:
            positions = getattr(self, "row_positions", {}).get(group, [])
            if index >= len(positions):
                return None, ""
            row = target.entries[positions[index]].form
            return (row._fields.get(part) if part else next(iter(row._fields.values()))), ""
        if group == "conflicts":
            return target, f"Note {index + 1}: "
        return target, ""


class RecordForm(ServiceErrors, FlaskForm):
    """What the policy and event forms share: repeated rows, the version read, errors from the services."""

    version = IntegerField(widget=HiddenInput(), validators=[Optional()])

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # Position of each row sent to the service among the rows of the form (blank rows are skipped).
        self.row_positions = {}

    def pad_rows(self, blank: int = BLANK_ROWS) -> None:
        """Make sure each group of rows ends with ``blank`` empty rows to fill in."""
        for name in self.ROW_GROUPS:
            rows = getattr(self, name)
            trailing = 0
            for entry in reversed(rows.entries):
                if entry.form.to_input() is not None:
                    break
                trailing += 1
            for _ in range(max(0, blank - trailing)):
                if len(rows.entries) >= MAX_ROWS:
                    break
                rows.append_entry()
            self._row_choices(rows)

    def _row_choices(self, rows: FieldList) -> None:
        """Rows appended after construction need the database choices too."""

    def _rows(self, name: str, **kwargs: Any) -> list[dict[str, Any]]:
        values, positions = [], []
        for position, entry in enumerate(getattr(self, name).entries):
            value = entry.form.to_input(**kwargs)
            if value is not None:
                values.append(value)
                positions.append(position)
        self.row_positions[name] = positions
        return values


# ---------------------------------------------------------------------------------------------------
# Policies


class PolicyForm(RecordForm):
    """Every field of a policy in the dataset format; ``to_input`` gives what create/update_policy take."""

    ROW_GROUPS = ("sources", "relations", "other_bodies")

    key = StringField("Key", description="Optional: made from the English title when left blank. Lower-case "
                                         "letters, digits and dashes; it becomes the page address.")
    title_en = StringField(FIELD_LABELS["title_en"])
    title_lo = StringField(FIELD_LABELS["title_lo"])
    title_local = StringField(FIELD_LABELS["title_local"], description="The official title in the national "
                              "language, for members other than Lao PDR.")
    reference = StringField(FIELD_LABELS["reference"], description="e.g. Decree No. 231/PM of 2 June 2023.")
    country = SelectField(FIELD_LABELS["country"], default="")
    instrument = SelectField(FIELD_LABELS["instrument"], choices={"": "Choose an instrument", **INSTRUMENTS},
                             default="")
    issuer = SelectField(FIELD_LABELS["issuer"], default="")
    topics = CheckboxListField(FIELD_LABELS["topics"])
    vehicle_classes = CheckboxListField(FIELD_LABELS["vehicle_classes"])
    valid_from = StringField(FIELD_LABELS["valid_from"], description=PARTIAL_DATE_HINT)
    valid_to = StringField(FIELD_LABELS["valid_to"], description=PARTIAL_DATE_HINT)
    summary_en = TextAreaField(FIELD_LABELS["summary_en"])
    summary_lo = TextAreaField(FIELD_LABELS["summary_lo"])
    confidence = SelectField(FIELD_LABELS["confidence"], choices={"": "Not stated", **CONFIDENCE_LEVELS},
                             default="")
    conflicts = TextAreaField(FIELD_LABELS["conflicts"],
                              description="One note per line: where sources disagree or a fact is uncertain.")
    # The first step of the status timeline (new policies only; later steps are status changes).
    status = SelectField("Legal status", choices=dict(LEGAL_STATUSES), default="proposed")
    status_effective_on = StringField(FIELD_LABELS["status_effective_on"], description=PARTIAL_DATE_HINT)
    status_note = TextAreaField(FIELD_LABELS["status_note"])
    status_evidence_url = StringField(FIELD_LABELS["status_evidence_url"])
    sources = FieldList(FormField(SourceRow), label="Sources", max_entries=MAX_ROWS)
    relations = FieldList(FormField(RelationRow), label="Related instruments", max_entries=MAX_ROWS)
    other_bodies = FieldList(FormField(BodyRow), label="Other bodies", max_entries=MAX_ROWS)

    def __init__(self, *args: Any, choices: Choices, creating: bool, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.creating = creating
        self.choices = choices
        if not creating:
            for name in ("key", "status", "status_effective_on", "status_note", "status_evidence_url"):
                del self[name]
            self.version.validators = [InputRequired("The form lost its version; reload the page.")]
        self.country.choices = {"": "Choose a country", **choices.countries}
        self.issuer.choices = {"": "Not known", **choices.organisations}
        self.topics.choices = _ordered(choices.topics, self.topics.data)
        self.vehicle_classes.choices = _ordered(VEHICLE_CLASSES, self.vehicle_classes.data)
        self._row_choices(self.other_bodies)

    def _row_choices(self, rows: FieldList) -> None:
        if rows.name == "other_bodies":
            for entry in rows.entries:
                entry.form.org.choices = {"": "Choose an organisation", **self.choices.organisations}

    @classmethod
    def from_record(cls, record: Mapping[str, Any], version: int, choices: Choices) -> PolicyForm:
        """The form filled with a policy as ``editing.policy_record`` gives it."""
        data = {name: record.get(name) for name in (
            "title_en", "title_lo", "title_local", "reference", "country", "instrument", "valid_from",
            "valid_to", "summary_en", "summary_lo", "topics", "vehicle_classes", "sources", "relations",
            "other_bodies")}
        data.update(issuer=record.get("issuer") or "", confidence=record.get("confidence") or "",
                    conflicts="\n".join(record.get("conflicts") or []), version=version)
        data["sources"] = _source_rows(record)
        return cls(formdata=None, data=data, choices=choices, creating=False)

    def validate_key(self, key_field: StringField) -> None:
        if _clean(key_field.data) in RESERVED_KEYS:
            raise ValidationError("This key is the address of a page; choose another.")

    def to_input(self) -> dict[str, Any]:
        """The policy as the editing services take it (blank rows left out)."""
        data: dict[str, Any] = {name: _clean(getattr(self, name).data) for name in (
            "country", "title_en", "title_lo", "title_local", "reference", "instrument", "issuer",
            "valid_from", "valid_to", "summary_en", "summary_lo", "confidence")}
        data["topics"] = list(self.topics.data or [])
        data["vehicle_classes"] = list(self.vehicle_classes.data or [])
        lines = (_clean(self.conflicts.data) or "").split("\n")
        data["conflicts"] = [line.strip() for line in lines if line.strip()]
        data["sources"] = self._rows("sources")
        data["relations"] = self._rows("relations")
        data["other_bodies"] = self._rows("other_bodies")
        if self.creating:
            key = _clean(self.key.data)
            if key is not None:
                data["key"] = key
            data.update(status=self.status.data, status_effective_on=_clean(self.status_effective_on.data),
                        status_note=_clean(self.status_note.data),
                        status_evidence_url=_clean(self.status_evidence_url.data))
        return data

    def apply_errors(self, errors: Mapping[str, str], message: str | None = None) -> None:
        # A blank key is made from the title: with no title, only the missing title is worth saying.
        if self.creating and "title_en" in errors and not _clean(self.key.data):
            errors = {name: text for name, text in errors.items() if name != "key"}
        super().apply_errors(errors, message)


# ---------------------------------------------------------------------------------------------------
# Events


class EventForm(RecordForm):
    """Every field of an event in the dataset format; ``to_input`` gives what create/update_event take."""

    ROW_GROUPS = ("sources",)

    key = StringField("Key", description="Optional: made from the English name when left blank.")
    name_en = StringField(FIELD_LABELS["name_en"])
    name_lo = StringField(FIELD_LABELS["name_lo"])
    kind = SelectField(FIELD_LABELS["kind"], choices={"": "Choose a kind", **EVENT_KINDS}, default="")
    country = SelectField(FIELD_LABELS["country"], default="")
    starts_on = StringField(FIELD_LABELS["starts_on"], description=PARTIAL_DATE_HINT)
    ends_on = StringField(FIELD_LABELS["ends_on"],
                          description="Leave blank for a one-day event. " + PARTIAL_DATE_HINT)
    date_note = TextAreaField(FIELD_LABELS["date_note"],
                              description="When sources disagree on the date or give it only roughly.")
    venue = StringField(FIELD_LABELS["venue"])
    organisers = CheckboxListField(FIELD_LABELS["organisers"])
    funders = CheckboxListField(FIELD_LABELS["funders"])
    partners = CheckboxListField(FIELD_LABELS["partners"])
    topics = CheckboxListField(FIELD_LABELS["topics"])
    summary_en = TextAreaField(FIELD_LABELS["summary_en"])
    summary_lo = TextAreaField(FIELD_LABELS["summary_lo"])
    sources = FieldList(FormField(SourceRow), label="Sources", max_entries=MAX_ROWS)

    def __init__(self, *args: Any, choices: Choices, creating: bool, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.creating = creating
        self.choices = choices
        if not creating:
            del self["key"]
            self.version.validators = [InputRequired("The form lost its version; reload the page.")]
        self.country.choices = {"": "Not tied to one country", **choices.countries}
        for name in ("organisers", "funders", "partners"):
            self[name].choices = _ordered(choices.organisations, self[name].data)
        self.topics.choices = _ordered(choices.topics, self.topics.data)

    @classmethod
    def from_record(cls, record: Mapping[str, Any], version: int, choices: Choices) -> EventForm:
        """The form filled with an event as ``editing.event_record`` gives it."""
        data = {name: record.get(name) for name in (
            "name_en", "name_lo", "kind", "starts_on", "ends_on", "date_note", "venue", "organisers",
            "funders", "partners", "topics", "summary_en", "summary_lo")}
        data.update(country=record.get("country") or "", version=version, sources=_source_rows(record))
        return cls(formdata=None, data=data, choices=choices, creating=False)

    def validate_key(self, key_field: StringField) -> None:
        if _clean(key_field.data) in RESERVED_KEYS:
            raise ValidationError("This key is the address of a page; choose another.")

    def to_input(self) -> dict[str, Any]:
        """The event as the editing services take it (blank rows left out)."""
        data: dict[str, Any] = {name: _clean(getattr(self, name).data) for name in (
            "name_en", "name_lo", "kind", "country", "starts_on", "ends_on", "date_note", "venue",
            "summary_en", "summary_lo")}
        for name in ("organisers", "funders", "partners", "topics"):
            data[name] = list(self[name].data or [])
        data["sources"] = self._rows("sources", with_kind=False)
        if self.creating:
            key = _clean(self.key.data)
            if key is not None:
                data["key"] = key
        return data

    def apply_errors(self, errors: Mapping[str, str], message: str | None = None) -> None:
        if self.creating and "name_en" in errors and not _clean(self.key.data):
            errors = {name: text for name, text in errors.items() if name != "key"}
        super().apply_errors(errors, message)


# ---------------------------------------------------------------------------------------------------
# Status changes, publication, forum links


class StatusForm(ServiceErrors, FlaskForm):
    """A legal status change of a policy; ``to_input`` gives what editing.change_status takes."""

    status = SelectField("New legal status", choices=dict(LEGAL_STATUSES))
    effective_on = StringField(FIELD_LABELS["effective_on"], description=(
        PARTIAL_DATE_HINT + " A date earlier than the last step puts the change in its place in the "
        "timeline."))
    note = TextAreaField(FIELD_LABELS["note"], description="What happened, in a sentence.")
    evidence_url = StringField(FIELD_LABELS["evidence_url"],
                               description="The official text or the report that shows the change "
                                           "(http or https).")
    reason = TextAreaField(FIELD_LABELS["reason"], description=(
        "Needed only for a change outside the usual sequence of statuses (for example from In force back to "
        "Drafting); only reviewers may record such a change."))

    def to_input(self) -> dict[str, Any]:
        return {"status": self.status.data, "effective_on": _clean(self.effective_on.data),
                "note": _clean(self.note.data), "evidence_url": _clean(self.evidence_url.data),
                "reason": _clean(self.reason.data)}


class EditorialForm(FlaskForm):
    """A move of a record through draft, in review, published and archived (sent by one button)."""

    state = SelectField("Editorial state", choices=dict(EDITORIAL_STATES))
    version = IntegerField(widget=HiddenInput(), validators=[InputRequired("The form lost its version; "
                                                                           "reload the page.")])


class ForumLinkForm(ServiceErrors, FlaskForm):
    """A link from a policy to an event where it was originated, discussed, announced or recommended."""

    version = IntegerField(widget=HiddenInput(), validators=[InputRequired("The form lost its version; "
                                                                           "reload the page.")])
    event = SelectField("Event", default="")
    role = SelectField("Role", choices=dict(FORUM_ROLES))
    evidence = TextAreaField("Evidence", description="What the source says about the policy at this event.")
    source_url = StringField("Source URL")

    def __init__(self, *args: Any, choices: Choices, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.event.choices = {"": "Choose an event", **choices.events}

    def to_input(self) -> dict[str, Any]:
        return {"event": _clean(self.event.data), "role": self.role.data,
                "evidence": _clean(self.evidence.data), "source_url": _clean(self.source_url.data)}

    def _field_for(self, name: str) -> tuple[Any, str]:
        # The service checks the link as part of the policy's list: forum_links[4].event -> event.
        if name.startswith("forum_links["):
            part = name.rpartition(".")[2] if "." in name else "event"
            return self._fields.get(part), ""
        return super()._field_for(name)


class RemoveForumLinkForm(FlaskForm):
    """Which forum link to remove: the event and the role."""

    event = HiddenField(validators=[InputRequired()])
    role = HiddenField(validators=[InputRequired()])
    version = IntegerField(widget=HiddenInput(), validators=[InputRequired("The form lost its version; "
                                                                           "reload the page.")])


def parse_partial_date(text: str | None) -> PartialDate | None:
    """A partial date from its text, or None when absent or not a date (for display only)."""
    try:
        return PartialDate.parse(text) if text else None
    except PartialDateError:
        return None
