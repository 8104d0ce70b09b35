"""What a stale edit shows: the changes others saved since the form was read, the editor's own changes
applied on top of them, the fields both changed (to choose from), and the form's version."""

from dataclasses import dataclass, field

from flask import request

from tracker.errors import StaleEdit
from tracker.forms.records import FIELD_LABELS, load_choices
from tracker.services import editing
from tracker.services.audit import actor_labels
from tracker.services.merging import MergePlan
from tracker.translation import gettext as _
from tracker.views.history import ChangeGroup, Describer, describe
from tracker.views.support import db_session

NAME_CHOICES = ("countries", "organisations", "topics", "events")


@dataclass
class ConflictChoice:
    """A field changed differently by the editor and by someone else: both values, and the pick."""

    field: str
    label: str
    theirs: str
    mine: str
    choice: str | None = None
    error: str | None = None


@dataclass
class ConflictReport:
    """What a stale editor is shown: the message, the current version, what others changed since, what
    of theirs will be applied on top, and the fields both changed (to pick from)."""

    message: str
    version: int
    groups: list[ChangeGroup]
    mine: list[str] = field(default_factory=list)
    conflicts: list[ConflictChoice] = field(default_factory=list)

    @property
    def conflict_fields(self) -> str:
        return ",".join(choice.field for choice in self.conflicts)


def conflict_report(entity_type: str, key: str, error: StaleEdit) -> ConflictReport:
    db = db_session()
    changes = sorted(error.changes, key=lambda entry: entry.id, reverse=True)
    groups = describe(changes, load_choices(db, *NAME_CHOICES), actors=actor_labels(db, changes))
    version = error.current_version
    if version < 0:
        version = editing.current_version(db, entity_type, key)
    return ConflictReport(error.message, version, groups)


def field_label(name: str) -> str:
    return str(FIELD_LABELS.get(name, name.replace("_", " ").capitalize()))


def merge_report(entity_type: str, key: str, error: StaleEdit, plan: MergePlan,
                  resolutions: dict[str, str]) -> ConflictReport:
    """The conflict page of a stale edit: the others' changes since the form was read, the editor's
    changes that will be applied on top of them, and the fields both changed."""
    report = conflict_report(entity_type, key, error)
    describer = Describer(load_choices(db_session(), *NAME_CHOICES))
    report.version = plan.current_version
    report.mine = [field_label(name) for name in plan.mine_changed
                   if name not in {conflict.field for conflict in plan.conflicts}]
    report.conflicts = [ConflictChoice(conflict.field, field_label(conflict.field),
                                       describer.value(conflict.field, conflict.theirs),
                                       describer.value(conflict.field, conflict.mine),
                                       resolutions.get(conflict.field))
                        for conflict in plan.conflicts]
    return report


def resolutions_sent(fields: tuple[str, ...]) -> tuple[list[str], dict[str, str]]:
    """The fields a conflict page asked the editor to settle, and the value picked for each ("mine" or
    "theirs"); anything else sent is ignored."""
    listed = [name for name in request.form.get("conflict_fields", "").split(",") if name in fields]
    picks = {name: request.form.get(f"resolve-{name}") for name in listed}
    return listed, {name: pick for name, pick in picks.items() if pick in ("mine", "theirs")}


def set_version(form, version: int) -> None:
    """Put the current version in the form's hidden field (it renders what was sent, else its data)."""
    form.version.data = version
    form.version.raw_data = [str(version)]


def hidden_errors(form) -> None:
    """The hidden version cannot show a message by itself: say above the form what to do."""
    if form.version.errors:
        form.form_errors.append(_("The form does not say which version of the record it was read from; "
                                  "reload the page and apply your change again."))
