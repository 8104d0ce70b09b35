"""Forms of the staff's editing pages: policies, events, status changes, publication and forum links."""
from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from flask_babel import LazyString
from markupsafe import Markup, escape
from sqlalchemy import select
from sqlalchemy.orm import Session
from wtforms import (
    BooleanField,
    FieldList,
    FormField,
    HiddenField,
    IntegerField,
    SelectField,
    SelectMultipleField,
    StringField,
    TextAreaField,
)
from wtforms.validators import InputRequired, Optional, ValidationError
from wtforms.widgets import CheckboxInput, DateInput, HiddenInput, ListWidget

from tracker.errors import path_parts
from tracker.forms import RowForm, labelled
from tracker.forms import TrackerForm as FlaskForm
from tracker.forms.attributes import html_params
from tracker.forms.widgets import checkbox_options
from tracker.i18n import current_language, format_partial_date, local_name
from tracker.models import Event, Jurisdiction, Organisation, Policy, Topic
from tracker.models.record_format import RESERVED_KEYS
from tracker.models.types import PartialDate, PartialDateError
from tracker.models.vocab import (
    BODY_ROLES,
    CONFIDENCE_LEVELS,
    EDITORIAL_STATES,
    EVENT_KINDS,
    FORUM_ROLES,
    INSTRUMENTS,
    LEGAL_STATUSES,
    ORGANISATION_KINDS,
    RELATION_TYPES,
    SOURCE_KINDS,
    TARGET_METRICS,
    TARGET_UNITS,
    VEHICLE_CLASSES,
)
from tracker.translation import gettext as _
from tracker.translation import lazy_gettext as _l

if TYPE_CHECKING:
    from wtforms import Field

    from tracker.errors import FieldError

# Rows a form may send for one repeated group; far more than any record needs, a bound on what is parsed.
MAX_ROWS = 100
# Blank rows offered after the filled ones; an "Add a row" button gives more (without JavaScript too).
BLANK_ROWS = 1

# Plain names of the fields of the dataset format, for labels, messages and the history pages.
FIELD_LABELS: dict[str, LazyString] = {
    "key": _l("Key"), "country": _l("Country"), "title_en": _l("Title (English)"),
    "title_lo": _l("Title (Lao)"),
    "title_local": _l("Title (local language)"), "reference": _l("Official reference"),
    "instrument": _l("Instrument"),
    "issuer": _l("Issued by"), "other_bodies": _l("Other bodies"), "topics": _l("Topics"),
    "vehicle_classes": _l("Vehicle classes"),
    "valid_from": _l("Valid from"), "valid_to": _l("Valid until"), "summary_en": _l("Summary (English)"),
    "summary_lo": _l("Summary (Lao)"), "relations": _l("Related instruments"),
    "forum_links": _l("Forum links"),
    "sources": _l("Sources"), "confidence": _l("Confidence"), "conflicts": _l("Where sources disagree"),
    "status": _l("Status"), "legal_status": _l("Status"), "status_history": _l("Status timeline"),
    "editorial_state": _l("Editorial state"),
    "status_effective_on": _l("Effective date"), "status_note": _l("Note (English)"),
    "status_note_lo": _l("Note (Lao)"), "note_en": _l("Note (English)"), "note_lo": _l("Note (Lao)"),
    "evidence_lo": _l("Evidence (Lao)"),
    "status_evidence_url": _l("Evidence URL"),
    "name_en": _l("Name (English)"), "name_lo": _l("Name (Lao)"), "kind": _l("Kind of event"),
    "starts_on": _l("Starts on"),
    "ends_on": _l("Ends on"), "date_note": _l("About the date"), "venue": _l("Venue"),
    "organisers": _l("Organisers"),
    "funders": _l("Funders"), "partners": _l("Partners"), "effective_on": _l("Effective date"),
    "note": _l("Note"),
    "evidence_url": _l("Evidence URL"), "reason": _l("Reason"),
    "acronym": _l("Acronym"), "parent": _l("Part of"), "kind_of_organisation": _l("Kind of organisation"),
    "targets": _l("Targets"),
    "comment_opens_on": _l("Comment period opens on"), "comment_closes_on": _l("Comment period closes on"),
    "how_to_comment_en": _l("How to comment (English)"), "how_to_comment_lo": _l("How to comment (Lao)"),
    "comment_address": _l("Where comments go"), "draft_url": _l("Draft put to comment (URL)"),
    "draft_document": _l("Draft put to comment (attached text)"),
    "gazetted_on": _l("Published in the Official Gazette on"),
}

PARTIAL_DATE_HINT = _l("Day first, as precise as the source: 15/11/2025, 11/2025 or 2025 (also 2025-11-15 or "
                       "15 November 2025).")
# Keys that name pages rather than records (/policies/new, /events/new).

# ---------------------------------------------------------------------------------------------------
# Choices read from the database


class OptionGroups(list[tuple[str, list[tuple[str, str]]]]):
    """Options in groups, [(group label, [(value, label)])], which a GroupedSelect writes once however
    many of a form's pickers offer them (a policy's issuer and each of its other bodies)."""

    written: list[tuple[str, list[tuple[str, str, str]]]] | None = None


@dataclass
class Choices:
    """The values the selects and checkbox lists of the editing forms offer: value -> label, in order."""

    countries: dict[str, str] = field(default_factory=dict)
    organisations: dict[str, str] = field(default_factory=dict)
    # The same organisations for pickers: (country name, [(key, label with acronym and both names)]).
    organisation_groups: list[tuple[str, list[tuple[str, str]]]] = field(default_factory=list)
    topics: dict[str, str] = field(default_factory=dict)
    events: dict[str, str] = field(default_factory=dict)
    # None for a policy titled in Lao only, read in another language.
    policies: dict[str, str] = field(default_factory=dict)


def load_choices(session: Session, *kinds: str) -> Choices:
    """The choices of ``kinds`` (countries, organisations, topics, events, policies): one plain row query
    each (no ORM objects: a form page reads them on every request), the countries read once even when
    the organisations are grouped by them."""
    choices = Choices()
    language = current_language()
    lao = language == "lo"
    jurisdictions: Sequence[Any] = ()
    if "countries" in kinds or "organisations" in kinds:
        jurisdictions = session.execute(select(Jurisdiction.code, Jurisdiction.name_en, Jurisdiction.name_lo)
                                        .order_by(Jurisdiction.position)).all()
    if "countries" in kinds:
        choices.countries = {j.code: local_name(j) for j in jurisdictions}
    if "organisations" in kinds:
        from tracker.services.organisations import display_name, grouped_by_country, picker_label

        # Rows with the columns names are made of stand in for the organisations.
        rows: Sequence[Any] = session.execute(select(
            Organisation.key, Organisation.name_en, Organisation.name_lo, Organisation.acronym,
            Organisation.country)).all()
        choices.organisations = {org.key: f"{display_name(org, language)} ({org.country})" if org.country
                                 else display_name(org, language)
                                 for org in sorted(rows, key=lambda org: (org.name_en or org.name_lo or "", org.key))}
        choices.organisation_groups = OptionGroups(
            (group.name, [(org.key, picker_label(org, language)) for org in group.organisations])
            for group in grouped_by_country(session, rows, language, jurisdictions=jurisdictions))
    if "topics" in kinds:
        topics = session.execute(select(Topic.key, Topic.name_en, Topic.name_lo).order_by(Topic.position))
        choices.topics = {t.key: local_name(t) for t in topics}
    if "events" in kinds:
        event_rows = session.execute(select(Event.key, Event.name_en, Event.name_lo, Event.starts_on)
                                     .order_by(Event.starts_on.desc().nulls_last(), Event.key))
        # A record may be named in one language only: the other one stands in (never "None").
        choices.events = {key: f"{(name_lo if lao and name_lo else name or name_lo)} "
                               f"({format_partial_date(starts) if starts else _('date not known')})"
                          for key, name, name_lo, starts in event_rows}
    if "policies" in kinds:
        choices.policies = {key: (title_lo if lao and title_lo else title or title_lo or key)
                            for key, title, title_lo in session.execute(
                                select(Policy.key, Policy.title_en, Policy.title_lo).order_by(Policy.key))}
    return choices


def _ordered(options: Mapping[str, str], selected: Iterable[str] | None) -> dict[str, str]:
    """Selected options first, in their order, then the others: a record's lists keep their order when
    the form is sent back (browsers send checked boxes in document order)."""
    # Labels as text in the reader's language: WTForms reads any other value as a group of options.
    chosen = {value: str(options[value]) for value in dict.fromkeys(selected or ()) if value in options}
    return chosen | {value: str(label) for value, label in options.items() if value not in chosen}


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


class PartialDateField(StringField):
    """A date as staff write it (day first, Lao or English month names, see PartialDate.parse_written),
    handed to the services as the ISO partial date it stands for; what cannot be read is refused here,
    with a message in the reader's language."""

    data: str | None

    def process_formdata(self, valuelist: list[Any]) -> None:
        super().process_formdata(valuelist)
        self.parse_error: PartialDateError | None = None
        text = _clean(self.data)
        if text is None:
            self.data = ""
            return
        try:
            self.data = PartialDate.parse_written(text).isoformat()
        except PartialDateError as error:
            self.data = text
            self.parse_error = error

    def parse_message(self) -> str | None:
        """Why the date as written cannot be read, in the reader's language (None when it can). The text
        goes to the service as written, which refuses it along with every other problem of the form, and
        the form shows this message by the field instead of the service's."""
        error = getattr(self, "parse_error", None)
        if error is None:
            return None
        assert self.data is not None  # process_formdata kept the text it could not read
        value = self.data[:60]
        messages = {
            "day": _("'%(value)s' is not a day of the calendar.", value=value),
            "month": _("'%(value)s' names a month that does not exist; write the day first: 15/11/2025.",
                       value=value),
            "short_year": _("'%(value)s': write the year in full, as in 15/11/2025.", value=value),
            "year": _("'%(value)s' has a year out of range.", value=value),
        }
        return messages.get(error.reason) or _(
            "'%(value)s' is not a date we can read. Write it day first: 15/11/2025, 11/2025 or 2025 (or "
            "2025-11-15, 15 November 2025).", value=value)


# Digit grouping and decimal marks as staff type them: 20,000 or 2.5 (English), 20.000 or 2,5 (Lao).
_GROUPED_COMMAS = re.compile(r"^\d{1,3}(,\d{3})+(\.\d+)?$")
_GROUPED_DOTS = re.compile(r"^\d{1,3}(\.\d{3})+(,\d+)?$")
_PLAIN_NUMBER = re.compile(r"^\d+([.,]\d+)?$")


def read_number(text: str) -> int | float | None:
    """A number as staff write it (20,000 and 2.5; 20.000 and 2,5 in Lao; spaces ignored), or None."""
    text = re.sub(r"[\s\u202f\u00a0%]", "", text)
    if _GROUPED_COMMAS.match(text):
        text = text.replace(",", "")
    elif _GROUPED_DOTS.match(text):
        text = text.replace(".", "").replace(",", ".")
    elif _PLAIN_NUMBER.match(text):
        text = text.replace(",", ".")
    else:
        return None
    number = Decimal(text)
    return int(number) if number == number.to_integral_value() else float(number)


class NumberField(StringField):
    """A number as staff write it (see read_number), handed to the services as a number; text that is not
    one goes to the service as written, which refuses it, and the form says why by the field."""

    data: Any

    def process_formdata(self, valuelist: list[Any]) -> None:
        super().process_formdata(valuelist)
        self.unreadable = False
        text = _clean(self.data)
        if text is None:
            self.data = None
            return
        number = read_number(text)
        self.unreadable = number is None
        self.data = text if number is None else number

    def _value(self) -> str:
        if isinstance(self.data, (int, float)) and not isinstance(self.data, bool):
            return format(Decimal(str(self.data)).normalize(), "f")
        return super()._value()

    def parse_message(self) -> str | None:
        if not getattr(self, "unreadable", False):
            return None
        return _("'%(value)s' is not a number. Write it with digits, such as 30, 2.5 or 20000.",
                 value=str(self.data)[:60])


class YearField(StringField):
    """A year (2030), handed to the services as an integer; other text goes as written and is refused there."""

    data: Any

    def process_formdata(self, valuelist: list[Any]) -> None:
        super().process_formdata(valuelist)
        text = _clean(self.data)
        self.data = int(text) if text is not None and text.isascii() and text.isdigit() else text

    def _value(self) -> str:
        return "" if self.data is None else str(self.data)


class GroupedSelect:
    """A <select> whose options are grouped (<optgroup>), after a first option that stands alone ("Not
    known"). With ``filterable`` it asks forms.js for a filter box above it (typing an acronym or either
    name narrows the list); without JavaScript the browser's own type-ahead still finds an option."""

    def __init__(self, filterable: bool = True) -> None:
        self.filterable = filterable

    def __call__(self, field: Any, **attributes: Any) -> Markup:
        attributes.setdefault("id", field.id)
        if self.filterable:
            attributes.setdefault("data-filterable", "")
            attributes.setdefault("data-filter-label", _("Filter the list: acronym or name"))
            attributes.setdefault("data-filter-placeholder", _("Type MEM, EDL, ກະຊວງ…"))
        # Written with plain string operations: a form may hold several pickers of a hundred organisations.
        data = field.data
        html = [f"<select {html_params(name=field.name, **attributes)}>",
                self._option("", field.blank_label, data in (None, ""))]
        for group, options in self._written(field.groups):
            html.append(group)
            html.extend([f"{start} selected{end}" if value == data else f"{start}{end}"
                         for value, start, end in options])
            html.append("</optgroup>")
        html.append("</select>")
        return Markup("".join(html))

    @staticmethod
    def _written(groups: list[tuple[str, list[tuple[str, str]]]]) -> list[tuple[str, list[tuple[str, str, str]]]]:
        """Each group's opening tag, and each option as (value, markup before and after " selected");
        kept on OptionGroups, so that all the pickers of a form escape the names once."""
        written = getattr(groups, "written", None)
        if written is None:
            written = [(f'<optgroup label="{escape(group)}">',
                        [(value, f'<option value="{escape(value)}"', f">{escape(label)}</option>")
                         for value, label in options])
                       for group, options in groups]
            if isinstance(groups, OptionGroups):
                groups.written = written
        return written

    @staticmethod
    def _option(value: str, label: str, selected: bool) -> str:
        return f'<option value="{escape(value)}"{" selected" if selected else ""}>{escape(label)}</option>'


class OrganisationField(SelectField):
    """An organisation picker: a blank first option, then the organisations grouped by country."""

    widget = GroupedSelect()

    def __init__(self, *args: Any, blank_label: Any = "", **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._blank_label = blank_label
        self.groups: list[tuple[str, list[tuple[str, str]]]] = []

    @property
    def blank_label(self) -> str:
        return str(self._blank_label)

    def set_groups(self, groups: list[tuple[str, list[tuple[str, str]]]]) -> None:
        self.groups = groups
        self.choices = [("", self.blank_label)] + [option for _, options in groups for option in options]


class CheckboxListField(SelectMultipleField):
    """Several choices as a list of checkboxes (the editing templates lay them out in a fieldset)."""

    widget = ListWidget(prefix_label=False)
    option_widget = CheckboxInput()

    def rendered_options(self) -> list[tuple[Markup, str]]:
        """Each checkbox with its label text, as iterating the field gives them, written in one pass."""
        return checkbox_options(self)


class SourceRow(RowForm):
    url = StringField(_l("URL"))
    title = StringField(_l("Title"))
    published = PartialDateField(_l("Published"), description=_l("Day first: 15/11/2025, 11/2025 or 2025."))
    kind = SelectField(_l("Kind"), choices=labelled({"": _l("Not stated")}, SOURCE_KINDS), default="")

    def to_input(self, *, with_kind: bool = True) -> dict[str, Any] | None:
        values = {"url": _clean(self.url.data), "title": _clean(self.title.data),
                  "published": _clean(self.published.data)}
        if not any(values.values()):
            return None
        kind = _clean(self.kind.data)
        if with_kind or kind:
            values["kind"] = kind
        return values


class RelationRow(RowForm):
    type = SelectField(_l("Relation"), choices=labelled({code: labels[0] for code,
                                                         labels in RELATION_TYPES.items()}),
                       default="related")
    target = StringField(_l("Policy in the tracker (key)"))
    target_reference = StringField(_l("Or a citation of an instrument not in the tracker"))

    def to_input(self) -> dict[str, Any] | None:
        target, reference = _clean(self.target.data), _clean(self.target_reference.data)
        if target is None and reference is None:
            return None
        return {"type": self.type.data, "target": target, "target_reference": reference}


class BodyRow(RowForm):
    org = OrganisationField(_l("Organisation"), default="", blank_label=_l("Choose an organisation"))
    role = SelectField(_l("Role"), choices=labelled(BODY_ROLES), default="implementing")

    def to_input(self) -> dict[str, Any] | None:
        org = _clean(self.org.data)
        return None if org is None else {"org": org, "role": self.role.data}


class TargetRow(RowForm):
    metric = SelectField(_l("Measure"), choices=labelled({"": _l("Choose a measure")}, TARGET_METRICS),
                         default="")
    value = NumberField(_l("Value"), description=_l("30 for 30 %; 20000 for 20,000 vehicles."))
    unit = SelectField(_l("Unit"), choices=labelled(TARGET_UNITS), default="percent")
    year = YearField(_l("By the year"))
    vehicle_class = SelectField(_l("Vehicles"), choices=labelled(VEHICLE_CLASSES), default="all")
    scope_en = StringField(_l("Scope (English)"), description=_l("Short: 'new cars and pickups', 'Vientiane'."))
    scope_lo = StringField(_l("Scope (Lao)"))
    source_url = StringField(_l("Stated in (URL)"))
    headline = BooleanField(_l("Headline target of this policy"))

    def to_input(self) -> dict[str, Any] | None:
        values = {"metric": _clean(self.metric.data), "value": self.value.data, "unit": _clean(self.unit.data),
                  "year": self.year.data, "vehicle_class": _clean(self.vehicle_class.data),
                  "scope_en": _clean(self.scope_en.data), "scope_lo": _clean(self.scope_lo.data),
                  "headline": bool(self.headline.data), "source_url": _clean(self.source_url.data)}
        # A row with nothing of its own filled in is a blank row (the unit and vehicles have defaults).
        if not any(values[name] not in (None, "") for name in ("metric", "value", "year", "scope_en", "scope_lo",
                                                              "source_url")) and not values["headline"]:
            return None
        return values


class ServiceErrors:
    """Puts the errors of a service's Invalid by the form's fields."""

    ROW_GROUPS: tuple[str, ...] = ()
    row_positions: dict[str, list[int]]
    # Attributes of the FlaskForm this mixin is combined with. The messages above the form are text, or a
    # FieldError passed on as it is (it reads in the reader's language when shown).
    form_errors: list[str | FieldError]
    _fields: dict[str, Field]

    def apply_errors(self, errors: Mapping[str, str | FieldError], message: str | None = None) -> None:
        """Put each error by its field: ``sources[2].url`` -> the url input of the third row sent."""
        for name, raw in errors.items():
            target, prefix = self._field_for(name)
            # A FieldError reads in the reader's language; other messages were written in it.
            text = prefix + ((target.parse_message() if isinstance(target, (PartialDateField, NumberField))
                              else None) or str(raw))
            if target is None:
                self.form_errors.append(f"{FIELD_LABELS.get(name, name)}: {text}")
            else:
                target.errors = [*target.errors, text]
        if not errors and message:
            self.form_errors.append(message)

    def _field_for(self, name: str) -> tuple[Any, str]:
        parts = path_parts(name)
        if len(parts) == 1 or not (len(parts) in (2, 3) and isinstance(parts[0], str) and isinstance(parts[1], int)):
            return (self._fields.get(name) if name not in ("csrf_token", "version") else None), ""
        group, index = parts[0], parts[1]
        part = parts[2] if len(parts) == 3 else None
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
            return target, _("Note %(num)s: ", num=index + 1)
        return target, ""


class RecordForm(ServiceErrors, FlaskForm):
    """What the policy and event forms share: repeated rows, the version read, errors from the services."""

    version = IntegerField(widget=HiddenInput(), validators=[Optional()])

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # Position of each row sent to the service among the rows of the form (blank rows are skipped).
        self.row_positions = {}
        # The group that just got a row from an "Add a row" button (its new row gets the focus).
        self.added_row: str | None = None

    def pad_rows(self, blank: int = BLANK_ROWS) -> None:
        """Make sure each group of rows ends with ``blank`` empty rows to fill in."""
        for name in self.ROW_GROUPS:
            rows = getattr(self, name)
            trailing = 0
            for entry in reversed(rows.entries):
                if entry.form.to_input() is not None:
                    break
                trailing += 1
            for _row in range(max(0, blank - trailing)):
                if len(rows.entries) >= MAX_ROWS:
                    break
                rows.append_entry()
            self._row_choices(rows)

    def add_row_requested(self) -> bool:
        """Whether the form was sent by an "Add a row" button (the way to add rows without JavaScript):
        if so, the group named by the button gets one more blank row and nothing is saved."""
        from flask import request

        group = request.form.get("add_row") if request.method == "POST" else None
        if group not in self.ROW_GROUPS:
            return False
        rows = getattr(self, group)
        if len(rows.entries) < MAX_ROWS:
            rows.append_entry()
            self._row_choices(rows)
        self.added_row = group
        return True

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

    ROW_GROUPS = ("targets", "sources", "relations", "other_bodies")

    key = StringField(_l("Key"),
                      description=_l("Optional: made from the English title when left blank. Lower-case "
                                                "letters, digits and dashes; it becomes the page address."))
    title_en = StringField(FIELD_LABELS["title_en"])
    title_lo = StringField(FIELD_LABELS["title_lo"])
    title_local = StringField(FIELD_LABELS["title_local"],
                              description=_l("The official title in the national "
                              "language, for members other than Lao PDR."))
    reference = StringField(FIELD_LABELS["reference"],
                            description=_l("e.g. Decree No. 231/PM of 2 June 2023."))
    country = SelectField(FIELD_LABELS["country"], default="")
    instrument = SelectField(FIELD_LABELS["instrument"], choices=labelled({"": _l("Choose an instrument")},
                                                                          INSTRUMENTS),
                             default="")
    issuer = OrganisationField(FIELD_LABELS["issuer"], default="", blank_label=_l("Not known"))
    topics = CheckboxListField(FIELD_LABELS["topics"])
    vehicle_classes = CheckboxListField(FIELD_LABELS["vehicle_classes"])
    valid_from = PartialDateField(FIELD_LABELS["valid_from"], description=PARTIAL_DATE_HINT)
    valid_to = PartialDateField(FIELD_LABELS["valid_to"], description=PARTIAL_DATE_HINT)
    summary_en = TextAreaField(FIELD_LABELS["summary_en"])
    summary_lo = TextAreaField(FIELD_LABELS["summary_lo"])
    confidence = SelectField(FIELD_LABELS["confidence"], choices=labelled({"": _l("Not stated")},
                                                                          CONFIDENCE_LEVELS),
                             default="")
    conflicts = TextAreaField(FIELD_LABELS["conflicts"],
                              description=_l("One note per line: where sources disagree or a fact is "
                                             "uncertain."))
    # The first step of the status timeline (new policies only; later steps are status changes).
    status = SelectField(_l("Legal status"), choices=labelled(LEGAL_STATUSES), default="proposed")
    status_effective_on = PartialDateField(FIELD_LABELS["status_effective_on"], description=PARTIAL_DATE_HINT)
    status_note = TextAreaField(FIELD_LABELS["status_note"])
    status_note_lo = TextAreaField(FIELD_LABELS["status_note_lo"])
    status_evidence_url = StringField(FIELD_LABELS["status_evidence_url"])
    sources = FieldList(FormField(SourceRow), label=_l("Sources"), max_entries=MAX_ROWS)
    relations = FieldList(FormField(RelationRow), label=_l("Related instruments"), max_entries=MAX_ROWS)
    other_bodies = FieldList(FormField(BodyRow), label=_l("Other bodies"), max_entries=MAX_ROWS)
    targets = FieldList(FormField(TargetRow), label=_l("Targets"), max_entries=MAX_ROWS)

    def __init__(self, *args: Any, choices: Choices, creating: bool, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.creating = creating
        self.choices = choices
        if not creating:
            for name in ("key", "status", "status_effective_on", "status_note", "status_note_lo",
                         "status_evidence_url"):
                del self[name]
            self.version.validators = [InputRequired(_l("The form lost its version; reload the page."))]
        self.country.choices = {"": _("Choose a country"), **choices.countries}
        self.issuer.set_groups(choices.organisation_groups)
        self.topics.choices = _ordered(choices.topics, self.topics.data)
        self.vehicle_classes.choices = _ordered(VEHICLE_CLASSES, self.vehicle_classes.data)
        self._row_choices(self.other_bodies)

    def _row_choices(self, rows: FieldList) -> None:
        if rows.name == "other_bodies":
            for entry in rows.entries:
                entry.form.org.set_groups(self.choices.organisation_groups)

    @classmethod
    def from_record(cls, record: Mapping[str, Any], version: int, choices: Choices) -> PolicyForm:
        """The form filled with a policy as ``editing.policy_record`` gives it."""
        data = {name: record.get(name) for name in (
            "title_en", "title_lo", "title_local", "reference", "country", "instrument", "valid_from",
            "valid_to", "summary_en", "summary_lo", "topics", "vehicle_classes", "sources", "relations",
            "other_bodies", "targets")}
        data.update(issuer=record.get("issuer") or "", confidence=record.get("confidence") or "",
                    conflicts="\n".join(record.get("conflicts") or []), version=version)
        data["sources"] = _source_rows(record)
        return cls(formdata=None, data=data, choices=choices, creating=False)

    def validate_key(self, key_field: StringField) -> None:
        if _clean(key_field.data) in RESERVED_KEYS:
            raise ValidationError(_("This key is the address of a page; choose another."))

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
        data["targets"] = self._rows("targets")
        if self.creating:
            key = _clean(self.key.data)
            if key is not None:
                data["key"] = key
            data.update(status=self.status.data, status_effective_on=_clean(self.status_effective_on.data),
                        status_note=_clean(self.status_note.data), status_note_lo=_clean(self.status_note_lo.data),
                        status_evidence_url=_clean(self.status_evidence_url.data))
        return data

    def apply_errors(self, errors: Mapping[str, str | FieldError], message: str | None = None) -> None:
        # A blank key is made from the title: with no title, only the missing title is worth saying.
        if self.creating and "title_en" in errors and not _clean(self.key.data):
            errors = {name: text for name, text in errors.items() if name != "key"}
        super().apply_errors(errors, message)


# ---------------------------------------------------------------------------------------------------
# Events


class EventForm(RecordForm):
    """Every field of an event in the dataset format; ``to_input`` gives what create/update_event take."""

    ROW_GROUPS = ("sources",)

    key = StringField(_l("Key"), description=_l("Optional: made from the English name when left blank."))
    name_en = StringField(FIELD_LABELS["name_en"])
    name_lo = StringField(FIELD_LABELS["name_lo"])
    kind = SelectField(FIELD_LABELS["kind"], choices=labelled({"": _l("Choose a kind")}, EVENT_KINDS),
                       default="")
    country = SelectField(FIELD_LABELS["country"], default="")
    starts_on = PartialDateField(FIELD_LABELS["starts_on"], description=PARTIAL_DATE_HINT)
    ends_on = PartialDateField(FIELD_LABELS["ends_on"], description=_l(
        "Leave blank for a one-day event. Day first, as precise as the source: 15/11/2025, 11/2025 or 2025."))
    date_note = TextAreaField(FIELD_LABELS["date_note"],
                              description=_l("When sources disagree on the date or give it only roughly."))
    venue = StringField(FIELD_LABELS["venue"])
    organisers = CheckboxListField(FIELD_LABELS["organisers"])
    funders = CheckboxListField(FIELD_LABELS["funders"])
    partners = CheckboxListField(FIELD_LABELS["partners"])
    topics = CheckboxListField(FIELD_LABELS["topics"])
    summary_en = TextAreaField(FIELD_LABELS["summary_en"])
    summary_lo = TextAreaField(FIELD_LABELS["summary_lo"])
    sources = FieldList(FormField(SourceRow), label=_l("Sources"), max_entries=MAX_ROWS)

    def __init__(self, *args: Any, choices: Choices, creating: bool, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.creating = creating
        self.choices = choices
        if not creating:
            del self["key"]
            self.version.validators = [InputRequired(_l("The form lost its version; reload the page."))]
        self.country.choices = {"": _("Not tied to one country"), **choices.countries}
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
            raise ValidationError(_("This key is the address of a page; choose another."))

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

    def apply_errors(self, errors: Mapping[str, str | FieldError], message: str | None = None) -> None:
        if self.creating and "name_en" in errors and not _clean(self.key.data):
            errors = {name: text for name, text in errors.items() if name != "key"}
        super().apply_errors(errors, message)


# ---------------------------------------------------------------------------------------------------
# Status changes, publication, forum links


class CommentWindowFields:
    """The gazette day and comment period of a status step, as form fields (days as YYYY-MM-DD, which the
    browser's date picker sends)."""

    # The body's names of the parts (consultation.closes_on) -> the form's fields.
    ERROR_NAMES = {"consultation.opens_on": "comment_opens_on", "consultation.closes_on": "comment_closes_on",
                   "consultation.how_to_comment_en": "how_to_comment_en",
                   "consultation.how_to_comment_lo": "how_to_comment_lo",
                   "consultation.comment_address": "comment_address", "consultation.draft_url": "draft_url",
                   "consultation.draft_document": "draft_document", "consultation": "comment_opens_on"}

    gazetted_on = StringField(FIELD_LABELS["gazetted_on"], widget=DateInput(), description=_l(
        "For the adoption or entry into force of a text: the day the Official Gazette published it."))
    comment_opens_on = StringField(FIELD_LABELS["comment_opens_on"], widget=DateInput())
    comment_closes_on = StringField(FIELD_LABELS["comment_closes_on"], widget=DateInput(),
                                    description=_l("The last day comments are taken."))
    how_to_comment_en = TextAreaField(FIELD_LABELS["how_to_comment_en"])
    how_to_comment_lo = TextAreaField(FIELD_LABELS["how_to_comment_lo"])
    comment_address = StringField(FIELD_LABELS["comment_address"],
                                  description=_l("An email address or an https address of a comment form."))
    draft_url = StringField(FIELD_LABELS["draft_url"])

    def window_input(self, *, clear_when_blank: bool) -> dict[str, Any]:
        """``consultation`` and ``gazetted_on`` as the services take them; an all-blank period is left out
        (a new step) or removed (``clear_when_blank``, an edit)."""
        window: dict[str, Any] = {
                  "opens_on": _clean(self.comment_opens_on.data), "closes_on": _clean(self.comment_closes_on.data),
                  "how_to_comment_en": _clean(self.how_to_comment_en.data),
                  "how_to_comment_lo": _clean(self.how_to_comment_lo.data),
                  "comment_address": _clean(self.comment_address.data), "draft_url": _clean(self.draft_url.data)}
        draft_document = getattr(self, "draft_document", None)
        if draft_document is not None:
            window["draft_document"] = int(draft_document.data) if (draft_document.data or "").isdigit() else None
        data: dict[str, Any] = {}
        if any(value is not None for value in window.values()):
            data["consultation"] = window
        elif clear_when_blank:
            data["consultation"] = None
        gazetted_on = _clean(self.gazetted_on.data)
        if gazetted_on is not None or clear_when_blank:
            data["gazetted_on"] = gazetted_on
        return data

    def window_errors(self, errors: Mapping[str, str | FieldError]) -> dict[str, str | FieldError]:
        return {self.ERROR_NAMES.get(name, name): error for name, error in errors.items()}


class StatusStepForm(ServiceErrors, CommentWindowFields, FlaskForm):
    """An edit of a status step's gazette day and comment period."""

    version = IntegerField(widget=HiddenInput(), validators=[InputRequired(_l("The form lost its version; "
                                                                              "reload the page."))])
    draft_document = SelectField(FIELD_LABELS["draft_document"], default="")

    def __init__(self, *args: Any, documents: Mapping[str, str], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.draft_document.choices = {"": _("None"), **documents}

    def to_input(self) -> dict[str, Any]:
        return self.window_input(clear_when_blank=True)


class StatusForm(ServiceErrors, CommentWindowFields, FlaskForm):
    """A legal status change of a policy; ``to_input`` gives what editing.change_status takes."""

    status = SelectField(_l("New legal status"), choices=labelled(LEGAL_STATUSES))
    effective_on = PartialDateField(FIELD_LABELS["effective_on"], description=_l(
        "Day first, as precise as the source: 15/11/2025, 11/2025 or 2025. A date earlier than the last step "
        "puts the change in its place in the timeline."))
    note = TextAreaField(FIELD_LABELS["note_en"], description=_l("What happened, in a sentence."))
    note_lo = TextAreaField(FIELD_LABELS["note_lo"])
    evidence_url = StringField(FIELD_LABELS["evidence_url"],
                               description=_l("The official text or the report that shows the change "
                                              "(http or https)."))
    reason = TextAreaField(FIELD_LABELS["reason"], description=_l(
        "Needed only for a change outside the usual sequence of statuses (for example from In force back to "
        "Drafting); only reviewers may record such a change."))

    def to_input(self) -> dict[str, Any]:
        return {"status": self.status.data, "effective_on": _clean(self.effective_on.data),
                "note": _clean(self.note.data), "note_lo": _clean(self.note_lo.data),
                "evidence_url": _clean(self.evidence_url.data),
                "reason": _clean(self.reason.data)} | self.window_input(clear_when_blank=False)


class EditorialForm(FlaskForm):
    """A move of a record through draft, in review, published and archived (sent by one button)."""

    state = SelectField(_l("Editorial state"), choices=labelled(EDITORIAL_STATES))
    version = IntegerField(widget=HiddenInput(), validators=[InputRequired(_l("The form lost its version; "
                                                                              "reload the page."))])
    # Needed when a reviewer sends a record back to its editor.
    reason = TextAreaField(_l("Comment for the editor"))


class KeyForm(ServiceErrors, FlaskForm):
    """A new key for a policy or event: the last part of its address."""

    key = StringField(_l("New key"), description=_l(
        "Lower-case letters, digits, '-' or '_', as in the address. The old address keeps working: it leads "
        "here."))
    version = IntegerField(widget=HiddenInput(), validators=[InputRequired(_l("The form lost its version; "
                                                                              "reload the page."))])

    def to_input(self) -> str:
        return (self.key.data or "").strip()


class ForumLinkForm(ServiceErrors, FlaskForm):
    """A link from a policy to an event where it was originated, discussed, announced or recommended."""

    version = IntegerField(widget=HiddenInput(), validators=[InputRequired(_l("The form lost its version; "
                                                                              "reload the page."))])
    event = SelectField(_l("Event"), default="")
    role = SelectField(_l("Role"), choices=labelled(FORUM_ROLES))
    evidence = TextAreaField(_l("Evidence (English)"),
                             description=_l("What the source says about the policy at this event."))
    evidence_lo = TextAreaField(FIELD_LABELS["evidence_lo"])
    source_url = StringField(_l("Source URL"))

    def __init__(self, *args: Any, choices: Choices, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.event.choices = {"": _("Choose an event"), **choices.events}

    def to_input(self) -> dict[str, Any]:
        return {"event": _clean(self.event.data), "role": self.role.data,
                "evidence": _clean(self.evidence.data), "evidence_lo": _clean(self.evidence_lo.data),
                "source_url": _clean(self.source_url.data)}

    def _field_for(self, name: str) -> tuple[Any, str]:
        # The service checks the link as part of the policy's list: forum_links[4].event -> event.
        if name.startswith("forum_links["):
            part = name.rpartition(".")[2] if "." in name else "event"
            return self._fields.get(part), ""
        return super()._field_for(name)


class ProposalDecisionForm(ServiceErrors, FlaskForm):
    """A reviewer's decision on a proposed change (approve or reject, by the button), with a comment."""

    comment = TextAreaField(_l("Comment for the editor"), description=_l(
        "Required to reject: say why. Optional when approving."))

    def _field_for(self, name: str) -> tuple[Any, str]:
        return (self.comment if name == "comment" else None), ""


class RemoveForumLinkForm(FlaskForm):
    """Which forum link to remove: the event and the role."""

    event = HiddenField(validators=[InputRequired()])
    role = HiddenField(validators=[InputRequired()])
    version = IntegerField(widget=HiddenInput(), validators=[InputRequired(_l("The form lost its version; "
                                                                              "reload the page."))])


def parse_partial_date(text: str | None) -> PartialDate | None:
    """A partial date from its text, or None when absent or not a date (for display only)."""
    try:
        return PartialDate.parse(text) if text else None
    except PartialDateError:
        return None


# ---------------------------------------------------------------------------------------------------
# Organisations


class OrganisationForm(RecordForm):
    """An organisation: names in both languages, acronym, country, kind and the body it belongs to."""

    ROW_GROUPS = ()

    key = StringField(_l("Key"), description=_l("Optional: made from the acronym or the English name and the "
                                                "country when left blank."))
    name_en = StringField(FIELD_LABELS["name_en"])
    name_lo = StringField(FIELD_LABELS["name_lo"])
    acronym = StringField(FIELD_LABELS["acronym"], description=_l("The short form people search by, e.g. MEM, "
                                                                  "DIMEX, MPWT."))
    country = StringField(FIELD_LABELS["country"], description=_l(
        "Two-letter ISO code (LA, TH, US, JP…), ASEAN for regional bodies or INTL for international ones; "
        "blank when none."))
    kind = SelectField(FIELD_LABELS["kind_of_organisation"],
                       choices=labelled({"": _l("Choose a kind")}, ORGANISATION_KINDS), default="")
    parent = OrganisationField(FIELD_LABELS["parent"], default="", blank_label=_l("None"),
                               description=_l("The ministry or body this one is part of, if any."))

    def __init__(self, *args: Any, choices: Choices, creating: bool, exclude: str | None = None,
                 **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.creating = creating
        self.choices = choices
        if not creating:
            del self["key"]
            self.version.validators = [InputRequired(_l("The form lost its version; reload the page."))]
        # An organisation is not offered as its own parent.
        self.parent.set_groups([(group, [option for option in options if option[0] != exclude])
                                for group, options in choices.organisation_groups])

    @classmethod
    def from_record(cls, record: Mapping[str, Any], version: int, choices: Choices) -> OrganisationForm:
        data = {name: record.get(name) or "" for name in ("name_en", "name_lo", "acronym", "country", "kind",
                                                            "parent")}
        data["version"] = version
        return cls(formdata=None, data=data, choices=choices, creating=False, exclude=record.get("key"))

    def validate_key(self, key_field: StringField) -> None:
        if _clean(key_field.data) in RESERVED_KEYS:
            raise ValidationError(_("This key is the address of a page; choose another."))

    def to_input(self) -> dict[str, Any]:
        data: dict[str, Any] = {name: _clean(getattr(self, name).data) for name in (
            "name_en", "name_lo", "acronym", "country", "kind", "parent")}
        if data["country"]:
            data["country"] = data["country"].upper()
        if self.creating:
            key = _clean(self.key.data)
            if key is not None:
                data["key"] = key
        return data
