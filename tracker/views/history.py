"""The audit trail in plain words: a record's history grouped by change, values named rather than keyed."""

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

from tracker.forms.records import FIELD_LABELS, Choices, parse_partial_date
from tracker.i18n import format_partial_date, format_timestamp
from tracker.models import AuditEntry
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
    VEHICLE_CLASSES,
)
from tracker.services.policy_targets import target_text
from tracker.translation import gettext as _
from tracker.translation import lazy_gettext as _l

ACTION_TITLES = {
    "create": _l("Created"), "update": _l("Edited"), "status_change": _l("Status change recorded"),
    "editorial": _l("Editorial state changed"), "forum_link_add": _l("Forum link added"),
    "forum_link_remove": _l("Forum link removed"), "import": _l("Imported from the dataset"),
    "proposal_submitted": _l("Change proposed"), "proposal_approved": _l("Proposed change approved"),
    "proposal_rejected": _l("Proposed change rejected"),
}
EDITORIAL_MOVE_TITLES = {
    ("draft", "in_review"): _l("Submitted for review"), ("in_review", "draft"): _l("Returned to draft"),
    ("draft", "published"): _l("Published"), ("in_review", "published"): _l("Published"),
    ("published", "archived"): _l("Archived"), ("published", "draft"): _l("Unpublished"),
    ("archived", "published"): _l("Published again"), ("archived", "draft"): _l("Returned to draft"),
}
# Field names of an organisation's audit entries, where they differ from a policy's or event's.
ORGANISATION_LABELS = {"kind": FIELD_LABELS["kind_of_organisation"], "country": FIELD_LABELS["country"]}


@dataclass
class ChangeGroup:
    """The entries of one change of a record (one save, one status change, one move), in plain words."""

    title: str
    actor: str
    at: dt.datetime
    lines: list[str] = field(default_factory=list)
    reason: str | None = None

    @property
    def when(self) -> str:
        return format_timestamp(self.at)


class Describer:
    """Turns values of the dataset format into words, naming records instead of showing keys."""

    DATES = ("valid_from", "valid_to", "starts_on", "ends_on")
    LABELLED = {"instrument": INSTRUMENTS, "confidence": CONFIDENCE_LEVELS, "legal_status": LEGAL_STATUSES,
                "status": LEGAL_STATUSES, "editorial_state": EDITORIAL_STATES, "kind": EVENT_KINDS,
                "vehicle_classes": VEHICLE_CLASSES}

    def __init__(self, names: Choices, labels: dict[str, Any] | None = None) -> None:
        self.countries = names.countries
        self.organisations = names.organisations
        self.topics = names.topics
        self.events = names.events
        self.labels = FIELD_LABELS | (labels or {})
        if labels and "kind" in labels:
            # An organisation's kind, not an event's.
            self.LABELLED = self.LABELLED | {"kind": ORGANISATION_KINDS}

    @staticmethod
    def quote(text: Any, limit: int = 200) -> str:
        text = str(text)
        return f"'{text[:limit]}…'" if len(text) > limit else f"'{text}'"

    def item(self, name: str, value: Any) -> str:
        """One element of a field's value (a topic, a source, a relation, ...)."""
        if isinstance(value, str):
            if name == "topics":
                return str(self.topics.get(value, value))
            if name in ("organisers", "funders", "partners", "issuer", "parent"):
                return str(self.organisations.get(value, value))
            if name in self.LABELLED:
                return str(self.LABELLED[name].get(value, value))
            return self.quote(value)
        if not isinstance(value, dict):
            return self.quote(value)
        if name == "sources":
            published = parse_partial_date(value.get("published"))
            parts = [part for part in (value.get("url") if value.get("title") else None,
                                       SOURCE_KINDS.get(value.get("kind") or ""),
                                       format_partial_date(published) if published else None) if part]
            text = self.quote(value.get("title") or value.get("url"))
            return f"{text} ({', '.join(str(part) for part in parts)})" if parts else text
        if name == "relations":
            verb = RELATION_TYPES.get(value.get("type", ""), (value.get("type"),))[0]
            target = value.get("target")
            return f"{verb} {target if target else self.quote(value.get('target_reference'))}"
        if name == "other_bodies":
            role = BODY_ROLES.get(value.get("role", ""), value.get("role"))
            return f"{self.organisations.get(value.get('org', ''), value.get('org'))} ({str(role).lower()})"
        if name == "status_history":
            date = parse_partial_date(value.get("date"))
            status = LEGAL_STATUSES.get(value.get("status", ""), value.get("status"))
            return f"{status} ({format_partial_date(date) if date else _('date not known')})"
        if name == "targets":
            try:
                text = target_text(value, with_vehicles=True)
            except (KeyError, TypeError, ArithmeticError, ValueError):
                return self.quote(value)
            return _("%(target)s — headline", target=text) if value.get("headline") else text
        if name == "forum_links":
            role = FORUM_ROLES.get(value.get("role", ""), value.get("role"))
            return f"{role} {self.events.get(value.get('event', ''), value.get('event'))}"
        return self.quote(value)

    def value(self, name: str, value: Any) -> str:
        if value is None or value == "" or value == []:
            return _("(empty)")
        if isinstance(value, list):
            return "; ".join(self.item(name, element) for element in value)
        if name in self.DATES:
            date = parse_partial_date(value)
            return format_partial_date(date) if date else self.quote(value)
        if name == "country":
            return str(self.countries.get(value, value))
        return self.item(name, value)

    def lines(self, entry: AuditEntry) -> list[str]:
        if entry.field is None:
            if entry.action == "import":
                return [_("Record loaded from the dataset file.")]
            details = entry.details or {}
            if entry.action in ("proposal_submitted", "proposal_rejected") and details.get("fields"):
                return [_("Fields: %(fields)s", fields=", ".join(
                    str(self.labels.get(name, name)) for name in details["fields"]))]
            return []
        name = entry.field
        label = str(self.labels.get(name, name.replace("_", " ").capitalize()))
        if entry.action == "status_change":
            return self.status_lines(entry)
        old, new = entry.old_value, entry.new_value
        if entry.action in ("create", "import") and old in (None, [], ""):
            return [f"{label}: {self.value(name, new)}"]
        if isinstance(old, list) and isinstance(new, list):
            added = [element for element in new if element not in old]
            removed = [element for element in old if element not in new]
            lines = [_("%(field)s: added %(value)s", field=label, value=self.item(name,
                                                                                  element)) for element in added]
            lines += [_("%(field)s: removed %(value)s", field=label, value=self.item(name, element))
                      for element in removed]
            return lines or [_("%(field)s: put in a new order (%(value)s)", field=label,
                               value=self.value(name, new))]
        return [f"{label}: {self.value(name, old)} → {self.value(name, new)}"]

    def status_lines(self, entry: AuditEntry) -> list[str]:
        details = entry.details or {}
        status = details.get("status") or entry.new_value
        previous = details.get("from_status")
        effective = parse_partial_date(details.get("effective_on"))
        step = LEGAL_STATUSES.get(status, status)
        if previous and previous != status:
            step = f"{LEGAL_STATUSES.get(previous, previous)} → {step}"
        elif previous == status:
            step = _("%(status)s (recorded again)", status=step)
        lines = [_("Status: %(step)s, effective %(date)s", step=step, date=format_partial_date(effective))
                 if effective else _("Status: %(step)s, effective on a date not known", step=step)]
        if details.get("note"):
            lines.append(_("Note: %(note)s", note=self.quote(details["note"], 500)))
        if details.get("evidence_url"):
            lines.append(_("Evidence: %(url)s", url=details["evidence_url"]))
        if entry.new_value != status:
            lines.append(_("The step is earlier in the timeline: the current status stays %(status)s.",
                           status=LEGAL_STATUSES.get(entry.new_value, entry.new_value)))
        return lines


def change_title(entry: AuditEntry) -> str:
    """What one change was, in words: an editorial move says which ("Sent back to the editor")."""
    if entry.action == "editorial" and entry.field == "editorial_state":
        move = (entry.old_value, entry.new_value)
        if move == ("in_review", "draft") and entry.reason:
            return str(_l("Sent back to the editor"))
        if move in EDITORIAL_MOVE_TITLES:
            return str(EDITORIAL_MOVE_TITLES[move])
    return str(ACTION_TITLES.get(entry.action, entry.action))


def describe(entries: list[AuditEntry], names: Choices, *, labels: dict[str, Any] | None = None,
             actors: dict[int, str] | None = None) -> list[ChangeGroup]:
    """Audit entries (newest first) grouped by change, each field change in plain words (``labels``
    names fields where they differ from a policy's or event's; ``actors`` gives people's display names
    by account id, else the entry's own label is shown)."""
    describer = Describer(names, labels)
    actors = actors or {}
    groups: list[ChangeGroup] = []
    keys: list[tuple] = []
    for entry in entries:
        key = (entry.version, entry.action, entry.actor_label, entry.created_at)
        if not keys or keys[-1] != key:
            keys.append(key)
            groups.append(ChangeGroup(change_title(entry), entry.actor_label if entry.actor_id is None
                                      else actors.get(entry.actor_id, entry.actor_label), entry.created_at))
        group = groups[-1]
        # Entries come newest first; a change's fields read best in the order they were written.
        group.lines[:0] = describer.lines(entry)
        group.reason = group.reason or entry.reason
    return groups
