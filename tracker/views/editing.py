"""Staff pages that change records: policies and events, status changes, publication, forum links, history."""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from types import SimpleNamespace
from typing import Any

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_babel import LazyString
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user

from tracker.db import unit_of_work
from tracker.i18n import format_partial_date, format_timestamp
from tracker.forms.records import (FIELD_LABELS, Choices, EditorialForm, EventForm, ForumLinkForm, PolicyForm,
                                  RemoveForumLinkForm, StatusForm, load_choices, parse_partial_date)
from tracker.models import AuditEntry, Event, Policy
from tracker.models.vocab import (BODY_ROLES, CONFIDENCE_LEVELS, EDITORIAL_STATES, EVENT_KINDS, FORUM_ROLES,
                                  INSTRUMENTS, LEGAL_STATUSES, ORGANISATION_KINDS, RELATION_TYPES, SOURCE_KINDS,
                                  VEHICLE_CLASSES)
from tracker.services import editing
from tracker.services import events as event_service
from tracker.services import organisations as organisation_service
from tracker.services import policies as policy_service
from tracker.services import review as review_service
from tracker.services.audit import actor_labels
from tracker.errors import Forbidden, Invalid, StaleEdit
from tracker.services.merging import MergePlan
from tracker.services.permissions import can_edit_record, has_permission
from tracker.views.security import request_user, role_required
from tracker.views.support import db_session

bp = Blueprint("editing", __name__)

POLICY_CHOICES = ("countries", "organisations", "topics", "policies")
EVENT_CHOICES = ("countries", "organisations", "topics")
NAME_CHOICES = ("countries", "organisations", "topics", "events")

# What each editorial move is called on its button, and what is said once it is done.
MOVES: dict[tuple[str, str], tuple[LazyString, LazyString]] = {
    ("draft", "in_review"): (_l("Submit for review"), _l("Submitted for review.")),
    ("draft", "published"): (_l("Publish"), _l("Published: everyone can see this record now.")),
    ("in_review", "draft"): (_l("Return to draft"), _l("Returned to draft.")),
    ("in_review", "published"): (_l("Publish"), _l("Published: everyone can see this record now.")),
    ("published", "archived"): (_l("Archive"), _l("Archived: only staff can see this record now.")),
    ("published", "draft"): (_l("Unpublish (back to draft)"),
                             _l("Unpublished: the record is a draft again.")),
    ("archived", "published"): (_l("Publish again"),
                                _l("Published again: everyone can see this record now.")),
    ("archived", "draft"): (_l("Return to draft"), _l("Returned to draft.")),
}
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
# A bilingual field written in one language only: what is missing.
MISSING_LABELS = {
    ("title", "en"): _l("English title"), ("title", "lo"): _l("Lao title"),
    ("name", "en"): _l("English name"), ("name", "lo"): _l("Lao name"),
    ("summary", "en"): _l("English summary"), ("summary", "lo"): _l("Lao summary"),
}
# Field names of an organisation's audit entries, where they differ from a policy's or event's.
ORGANISATION_LABELS = {"kind": FIELD_LABELS["kind_of_organisation"], "country": FIELD_LABELS["country"]}
NOT_EDITABLE = _l("You may not edit this record: editors edit drafts and records in review; a reviewer edits "
                  "published and archived records.")


def _actor():
    return current_user._get_current_object()


# ---------------------------------------------------------------------------------------------------
# The audit trail in plain words


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


class _Describer:
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
            verb = RELATION_TYPES.get(value.get("type"), (value.get("type"),))[0]
            target = value.get("target")
            return f"{verb} {target if target else self.quote(value.get('target_reference'))}"
        if name == "other_bodies":
            role = BODY_ROLES.get(value.get("role"), value.get("role"))
            return f"{self.organisations.get(value.get('org'), value.get('org'))} ({str(role).lower()})"
        if name == "status_history":
            date = parse_partial_date(value.get("date"))
            status = LEGAL_STATUSES.get(value.get("status"), value.get("status"))
            return f"{status} ({format_partial_date(date) if date else _('date not known')})"
        if name == "forum_links":
            role = FORUM_ROLES.get(value.get("role"), value.get("role"))
            return f"{role} {self.events.get(value.get('event'), value.get('event'))}"
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
    describer = _Describer(names, labels)
    actors = actors or {}
    groups: list[ChangeGroup] = []
    keys: list[tuple] = []
    for entry in entries:
        key = (entry.version, entry.action, entry.actor_label, entry.created_at)
        if not keys or keys[-1] != key:
            keys.append(key)
            groups.append(ChangeGroup(change_title(entry), actors.get(entry.actor_id, entry.actor_label),
                                      entry.created_at))
        group = groups[-1]
        # Entries come newest first; a change's fields read best in the order they were written.
        group.lines[:0] = describer.lines(entry)
        group.reason = group.reason or entry.reason
    return groups


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


def _conflict(entity_type: str, key: str, error: StaleEdit) -> ConflictReport:
    db = db_session()
    changes = sorted(error.changes, key=lambda entry: entry.id, reverse=True)
    groups = describe(changes, load_choices(db, *NAME_CHOICES), actors=actor_labels(db, changes))
    version = error.current_version
    if version < 0:
        version = editing.current_version(db, entity_type, key)
    return ConflictReport(error.message, version, groups)


def _label(name: str) -> str:
    return str(FIELD_LABELS.get(name, name.replace("_", " ").capitalize()))


def _merge_report(entity_type: str, key: str, error: StaleEdit, plan: MergePlan,
                  resolutions: dict[str, str]) -> ConflictReport:
    """The conflict page of a stale edit: the others' changes since the form was read, the editor's
    changes that will be applied on top of them, and the fields both changed."""
    report = _conflict(entity_type, key, error)
    describer = _Describer(load_choices(db_session(), *NAME_CHOICES))
    report.version = plan.current_version
    report.mine = [_label(name) for name in plan.mine_changed
                   if name not in {conflict.field for conflict in plan.conflicts}]
    report.conflicts = [ConflictChoice(conflict.field, _label(conflict.field),
                                       describer.value(conflict.field, conflict.theirs),
                                       describer.value(conflict.field, conflict.mine),
                                       resolutions.get(conflict.field))
                        for conflict in plan.conflicts]
    return report


def _resolutions(fields: tuple[str, ...]) -> tuple[list[str], dict[str, str]]:
    """The fields a conflict page asked the editor to settle, and the value picked for each ("mine" or
    "theirs"); anything else sent is ignored."""
    listed = [name for name in request.form.get("conflict_fields", "").split(",") if name in fields]
    picks = {name: request.form.get(f"resolve-{name}") for name in listed}
    return listed, {name: pick for name, pick in picks.items() if pick in ("mine", "theirs")}


def _set_version(form, version: int) -> None:
    """Put the current version in the form's hidden field (it renders what was sent, else its data)."""
    form.version.data = version
    form.version.raw_data = [str(version)]


def _hidden_errors(form) -> None:
    """The hidden version cannot show a message by itself: say above the form what to do."""
    if form.version.errors:
        form.form_errors.append(_("The form does not say which version of the record it was read from; "
                                  "reload the page and apply your change again."))


# ---------------------------------------------------------------------------------------------------
# What the record pages show staff


@bp.app_template_global()
def may(permission: str) -> bool:
    """Whether the signed-in user holds ``permission`` (for macros, which see no request context)."""
    return has_permission(request_user(), permission)


@bp.app_template_global()
def editorial_moves(record: Policy | Event) -> list[tuple[str, str]]:
    """The editorial moves the signed-in user may make on ``record``: (new state, button label)."""
    user = request_user()
    return [(state, str(MOVES[(record.editorial_state, state)][0]))
            for state, permission in editing.EDITORIAL_TRANSITIONS[record.editorial_state].items()
            if has_permission(user, permission)]


def _status_hint(current: str) -> str:
    following = [str(label) for code, label in LEGAL_STATUSES.items() if code in editing.TRANSITIONS[current]]
    if not following:
        return _("The current status, %(status)s, is final: any other status is outside the usual "
                 "sequence and needs a reviewer and a reason.", status=LEGAL_STATUSES[current])
    return _("From %(status)s a policy usually moves to: %(following)s; recording %(status)s again with new "
             "evidence is always possible. Anything else needs a reviewer and a reason.",
             status=LEGAL_STATUSES[current], following=", ".join(following))


def _status_form(policy: Policy) -> StatusForm:
    following = [code for code in LEGAL_STATUSES if code in editing.TRANSITIONS[policy.legal_status]]
    return StatusForm(prefix="status", formdata=None,
                      data={"status": following[0] if following else policy.legal_status})


@bp.app_template_global()
def staff_notes(entity_type: str, record: Policy | Event) -> SimpleNamespace:
    """What staff are told on a record page: the reviewer's comment if it was sent back, the fields not
    yet translated, and the proposed changes waiting for review (three queries)."""
    db = db_session()
    sent_back = review_service.sent_back_comment(db, entity_type, record)
    missing = [str(MISSING_LABELS[(field_name, language)])
               for field_name, language in review_service.missing_translations(entity_type, record)]
    return SimpleNamespace(
        sent_back=sent_back, sent_back_by=actor_labels(db, [sent_back]).get(sent_back.actor_id, sent_back.actor_label)
        if sent_back else None,
        missing=missing, proposals=review_service.pending_proposals_of(db, entity_type, record.id))


@bp.app_template_global()
def policy_staff_forms(policy: Policy) -> SimpleNamespace:
    """The staff forms of a policy page: status change and forum link (choices read on demand)."""
    link = ForumLinkForm(prefix="link", formdata=None, data={"version": policy.version},
                         choices=load_choices(db_session(), "events"))
    return SimpleNamespace(status=_status_form(policy), status_hint=_status_hint(policy.legal_status),
                           link=link)


# ---------------------------------------------------------------------------------------------------
# Policies


def _policy(key: str) -> Policy:
    return policy_service.get_policy(db_session(), key, include_unpublished=True)


@bp.route("/policies/new", methods=["GET", "POST"])
@role_required("edit")
def new_policy():
    db = db_session()
    form = PolicyForm(choices=load_choices(db, *POLICY_CHOICES), creating=True)
    status = 200
    if form.add_row_requested():
        pass  # one more blank row, nothing saved
    elif form.validate_on_submit():
        try:
            with unit_of_work(db):
                policy = editing.create_policy(db, form.to_input(), _actor())
        except Invalid as error:
            form.apply_errors(error.errors, error.message)
            status = 400
        else:
            flash(_("Policy created as a draft: only staff can see it until a reviewer publishes it."),
                  "success")
            return redirect(url_for("policies.detail", key=policy.key))
    elif request.method == "POST":
        _hidden_errors(form)
        status = 400
    form.pad_rows()
    return render_template("editing/policy_form.html", form=form, policy=None, conflict=None), status


@bp.route("/policies/<key>/edit", methods=["GET", "POST"])
@role_required("edit")
def edit_policy(key: str):
    return _edit_record("policy", key, _policy(key), PolicyForm, POLICY_CHOICES, editing.policy_record,
                        editing.update_policy)


def _edit_record(entity: str, key: str, record, form_class, choice_names, record_of, update):
    """The edit form of a policy or an event: prefilled on GET; on POST saved, or shown again with the
    messages by each field (400) or, when someone else saved first, merged (409): the form then holds
    the current record with this editor's own changes on top, and asks which value to keep for any
    field both changed. Saving that form applies exactly the editor's changes."""
    db = db_session()
    # Organisations are reference data without an editorial state: any editor may correct them.
    if entity != "organisation" and not can_edit_record(_actor(), record.editorial_state):
        raise Forbidden(str(NOT_EDITABLE))
    choices = load_choices(db, *choice_names)
    template = f"editing/{entity}_form.html"
    if request.method == "GET":
        form = form_class.from_record(record_of(db, record), record.version, choices)
        form.pad_rows()
        return render_template(template, form=form, **{entity: record}, conflict=None)
    form = form_class(choices=choices, creating=False)
    fields = editing.FIELDS[entity]
    listed, resolutions = _resolutions(fields)
    conflict = None
    status = 400
    if form.add_row_requested():
        # "Add a row" without JavaScript: the form comes back with one more blank row, nothing is saved
        # (a conflict page's pending choices come back with it).
        form.pad_rows()
        resume = _unresolved_report(record, record_of, form, listed, resolutions, flag=False) if listed else None
        return render_template(template, form=form, **{entity: record}, conflict=resume), 200
    if form.validate_on_submit():
        submitted = form.to_input()
        unresolved = [name for name in listed if name not in resolutions]
        # "Keep theirs": the editor's value is not sent, so the record's own value stands.
        for name, pick in resolutions.items():
            if pick == "theirs":
                submitted.pop(name, None)
        if unresolved:
            conflict = _unresolved_report(record, record_of, form, listed, resolutions)
            status = 409
        else:
            before = record_of(db, record)
            try:
                with unit_of_work(db):
                    updated = update(db, key, submitted, _actor(), form.version.data)
                    changed = record_of(db, updated) != before
            except Invalid as error:
                form.apply_errors(error.errors, error.message)
            except StaleEdit as error:
                conflict, form = _merged_form(entity, key, error, form, submitted, resolutions, form_class,
                                              choices)
                status = 409
            else:
                flash(_("Your changes were saved.") if changed
                      else _("Nothing was changed: the form matched the record."), "success")
                return redirect(_record_url(entity, key))
    else:
        _hidden_errors(form)
    form.pad_rows()
    return render_template(template, form=form, **{entity: record}, conflict=conflict), status


def _merged_form(entity: str, key: str, error: StaleEdit, form, submitted: dict, resolutions: dict[str, str],
                 form_class, choices):
    """After a stale save: the report of what happened meanwhile, and the form holding the current
    record with the editor's own changes (and, for fields both changed, the editor's value) on top."""
    db = db_session()
    db.rollback()
    if entity == "organisation":
        plan, current = organisation_service.plan_edit_merge(db, key, submitted, form.version.data)
    else:
        plan, current = editing.plan_edit_merge(db, entity, key, submitted, form.version.data)
    db.rollback()  # planning only read (and locked) the record; release it
    report = _merge_report(entity, key, error, plan, resolutions)
    merged = dict(current) | plan.changes | {conflict.field: conflict.mine for conflict in plan.conflicts}
    merged_form = form_class.from_record(merged, plan.current_version, choices)
    return report, merged_form


def _unresolved_report(record, record_of, form, listed: list[str], resolutions: dict[str, str], *,
                       flag: bool = True) -> ConflictReport:
    """The choices of a conflict page again: when the editor saved without picking a value for every
    field both changed (``flag``: each missing pick is marked), or asked for one more row."""
    db = db_session()
    current = record_of(db, record)
    mine = form.to_input()
    describer = _Describer(load_choices(db, *NAME_CHOICES))
    report = ConflictReport(_("Choose which value to keep for each field that both you and someone else "
                              "changed; nothing was saved."), form.version.data, [])
    for name in listed:
        choice = ConflictChoice(name, _label(name), describer.value(name, current.get(name)),
                                describer.value(name, mine.get(name)), resolutions.get(name))
        if choice.choice is None and flag:
            choice.error = _("Choose the value to keep.")
        report.conflicts.append(choice)
    return report


@bp.route("/policies/<key>/status", methods=["GET", "POST"])
@role_required("edit")
def record_status(key: str):
    db = db_session()
    policy = _policy(key)
    hint = _status_hint(policy.legal_status)
    if request.method == "GET":
        return render_template("editing/status.html", policy=policy, form=_status_form(policy), hint=hint)
    form = StatusForm(prefix="status")
    status = 400
    if form.validate_on_submit():
        try:
            with unit_of_work(db):
                editing.change_status(db, key, form.to_input(), _actor())
        except Invalid as error:
            form.apply_errors(error.errors, error.message)
        except Forbidden as error:
            form.form_errors.append(error.message)
            status = 403
        else:
            flash(_("Status recorded"), "success")
            return redirect(url_for("policies.detail", key=key))
    return render_template("editing/status.html", policy=policy, form=form, hint=hint), status


@bp.post("/policies/<key>/forum-links")
@role_required("edit")
def add_forum_link(key: str):
    db = db_session()
    policy = _policy(key)
    form = ForumLinkForm(prefix="link", choices=load_choices(db, "events"))
    status, conflict = 400, None
    if form.validate_on_submit():
        try:
            with unit_of_work(db):
                editing.add_forum_link(db, key, form.to_input(), _actor(), form.version.data)
        except Invalid as error:
            form.apply_errors(error.errors, error.message)
        except StaleEdit as error:
            conflict = _conflict("policy", key, error)
            _set_version(form, conflict.version)
            status = 409
        else:
            flash(_("Forum link added"), "success")
            return redirect(url_for("policies.detail", key=key))
    else:
        _hidden_errors(form)
    return render_template("editing/forum_link.html", policy=policy, form=form, conflict=conflict), status


@bp.post("/policies/<key>/forum-links/remove")
@role_required("edit")
def remove_forum_link(key: str):
    db = db_session()
    form = RemoveForumLinkForm()
    if not form.validate_on_submit():
        raise Invalid(_("The request to remove a forum link was incomplete; reload the page and try again."),
                      {name: " ".join(map(str, errors)) for name, errors in form.errors.items() if name})
    try:
        with unit_of_work(db):
            editing.remove_forum_link(db, key, form.event.data, form.role.data, _actor(), form.version.data)
    except StaleEdit as error:
        conflict = _conflict("policy", key, error)
        return render_template(
            "editing/confirm.html", record=_policy(key), entity="policy", conflict=conflict,
            heading=_("Remove the forum link?"), action=url_for("editing.remove_forum_link", key=key),
            hidden={"event": form.event.data, "role": form.role.data, "version": conflict.version},
            button=_("Remove the link anyway")), 409
    flash(_("Forum link removed"), "success")
    return redirect(url_for("policies.detail", key=key))


@bp.post("/policies/<key>/editorial")
@role_required("submit_for_review")
def policy_editorial(key: str):
    return _editorial("policy", key)


@bp.get("/policies/<key>/history")
@role_required("read_unpublished")
def policy_history(key: str):
    return _history("policy", key)


# ---------------------------------------------------------------------------------------------------
# Events


def _event(key: str) -> Event:
    return event_service.get_event(db_session(), key, include_unpublished=True)


@bp.route("/events/new", methods=["GET", "POST"])
@role_required("edit")
def new_event():
    db = db_session()
    form = EventForm(choices=load_choices(db, *EVENT_CHOICES), creating=True)
    status = 200
    if form.add_row_requested():
        pass  # one more blank row, nothing saved
    elif form.validate_on_submit():
        try:
            with unit_of_work(db):
                event = editing.create_event(db, form.to_input(), _actor())
        except Invalid as error:
            form.apply_errors(error.errors, error.message)
            status = 400
        else:
            flash(_("Event created as a draft: only staff can see it until a reviewer publishes it."),
                  "success")
            return redirect(url_for("events.detail", key=event.key))
    elif request.method == "POST":
        _hidden_errors(form)
        status = 400
    form.pad_rows()
    return render_template("editing/event_form.html", form=form, event=None, conflict=None), status


@bp.route("/events/<key>/edit", methods=["GET", "POST"])
@role_required("edit")
def edit_event(key: str):
    return _edit_record("event", key, _event(key), EventForm, EVENT_CHOICES, editing.event_record,
                        editing.update_event)


@bp.post("/events/<key>/editorial")
@role_required("submit_for_review")
def event_editorial(key: str):
    return _editorial("event", key)


@bp.get("/events/<key>/history")
@role_required("read_unpublished")
def event_history(key: str):
    return _history("event", key)


# ---------------------------------------------------------------------------------------------------
# Shared by policies and events


DETAIL_ENDPOINTS = {"policy": "policies.detail", "event": "events.detail", "organisation": "organisations.detail"}


def _record_url(entity_type: str, key: str) -> str:
    return url_for(DETAIL_ENDPOINTS[entity_type], key=key)


def _editorial(entity_type: str, key: str):
    db = db_session()
    form = EditorialForm()
    if not form.validate_on_submit():
        raise Invalid(_("The editorial move was not understood; reload the page and try again."),
                      {name: " ".join(map(str, errors)) for name, errors in form.errors.items() if name})
    load = _policy if entity_type == "policy" else _event
    from_state = load(key).editorial_state
    try:
        with unit_of_work(db):
            record = editing.set_editorial_state(db, entity_type, key, form.state.data, _actor(),
                                                 form.version.data, form.reason.data)
    except StaleEdit as error:
        conflict = _conflict(entity_type, key, error)
        current = load(key)
        if form.state.data not in dict(editorial_moves(current)):
            state = EDITORIAL_STATES[current.editorial_state].lower()
            raise Invalid(_("%(message)s The record is now %(state)s, so this move is no longer possible.",
                            message=error.message, state=state))
        label = str(MOVES[(current.editorial_state, form.state.data)][0])
        return render_template(
            "editing/confirm.html", record=current, entity=entity_type, conflict=conflict,
            heading=_("%(action)s?", action=label), action=request.path,
            hidden={"state": form.state.data, "version": conflict.version}, button=label), 409
    sent_back = from_state == "in_review" and record.editorial_state == "draft" and form.reason.data
    flash(_("Sent back to the editor with your comment.") if sent_back
          else str(MOVES[(from_state, record.editorial_state)][1]), "success")
    return redirect(_record_url(entity_type, key))


def _history(entity_type: str, key: str):
    db = db_session()
    record, entries = editing.history(db, entity_type, key)
    groups = describe(entries, load_choices(db, *NAME_CHOICES), actors=actor_labels(db, entries))
    return render_template("editing/history.html", record=record, entity=entity_type, groups=groups,
                           record_url=_record_url(entity_type, key))
