"""Staff pages that change records: policies and events, status changes, publication, forum links, history."""
from __future__ import annotations

import datetime as dt
from types import SimpleNamespace

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_babel import LazyString
from flask_login import current_user

from tracker.db import unit_of_work
from tracker.errors import Forbidden, Invalid, StaleEdit
from tracker.forms.records import (
    EditorialForm,
    EventForm,
    ForumLinkForm,
    KeyForm,
    PolicyForm,
    RemoveForumLinkForm,
    StatusForm,
    StatusStepForm,
    load_choices,
)
from tracker.models import Event, Policy
from tracker.models.vocab import EDITORIAL_STATES, LEGAL_STATUSES
from tracker.services import documents as document_service
from tracker.services import editing, permalinks
from tracker.services import events as event_service
from tracker.services import organisations as organisation_service
from tracker.services import policies as policy_service
from tracker.services import review as review_service
from tracker.services.audit import actor_labels
from tracker.services.permissions import can_edit_record, has_permission
from tracker.translation import gettext as _
from tracker.translation import lazy_gettext as _l
from tracker.views.conflicts import (
    ConflictChoice,
    ConflictReport,
    conflict_report,
    field_label,
    hidden_errors,
    merge_report,
    resolutions_sent,
    set_version,
)
from tracker.views.history import Describer, describe
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
# A bilingual field written in one language only: what is missing.
MISSING_LABELS = {
    ("title", "en"): _l("English title"), ("title", "lo"): _l("Lao title"),
    ("name", "en"): _l("English name"), ("name", "lo"): _l("Lao name"),
    ("summary", "en"): _l("English summary"), ("summary", "lo"): _l("Lao summary"),
}
NOT_EDITABLE = _l("You may not edit this record: editors edit drafts and records in review; a reviewer edits "
                  "published and archived records.")


def _actor():
    return current_user._get_current_object()


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
        sent_back=sent_back,
        sent_back_by=(sent_back.actor_label if sent_back.actor_id is None
                      else actor_labels(db, [sent_back]).get(sent_back.actor_id, sent_back.actor_label))
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
        hidden_errors(form)
        status = 400
    form.pad_rows()
    return render_template("editing/policy_form.html", form=form, policy=None, conflict=None), status


@bp.route("/policies/<key>/edit", methods=["GET", "POST"])
@role_required("edit")
def edit_policy(key: str):
    if request.method == "GET":
        # The form alone: the policy's columns and the parts the form shows, not its whole page.
        policy, record = editing.policy_for_form(db_session(), key)
        return edit_form("policy", policy, record, PolicyForm, POLICY_CHOICES)
    return edit_record("policy", key, _policy(key), PolicyForm, POLICY_CHOICES, editing.policy_record,
                        editing.update_policy)


def edit_form(entity: str, record, values: dict, form_class, choice_names):
    """The edit form of a record, prefilled with ``values`` (the record as ``record_of`` gives it)."""
    _check_editable(entity, record)
    form = form_class.from_record(values, record.version, load_choices(db_session(), *choice_names))
    form.pad_rows()
    return render_template(f"editing/{entity}_form.html", form=form, **{entity: record}, conflict=None)


def _check_editable(entity: str, record) -> None:
    # Organisations are reference data without an editorial state: any editor may correct them.
    if entity != "organisation" and not can_edit_record(_actor(), record.editorial_state):
        raise Forbidden(str(NOT_EDITABLE))


def edit_record(entity: str, key: str, record, form_class, choice_names, record_of, update):
    """The edit form of a policy or an event: prefilled on GET; on POST saved, or shown again with the
    messages by each field (400) or, when someone else saved first, merged (409): the form then holds
    the current record with this editor's own changes on top, and asks which value to keep for any
    field both changed. Saving that form applies exactly the editor's changes."""
    db = db_session()
    if request.method == "GET":
        return edit_form(entity, record, record_of(db, record), form_class, choice_names)
    _check_editable(entity, record)
    choices = load_choices(db, *choice_names)
    template = f"editing/{entity}_form.html"
    form = form_class(choices=choices, creating=False)
    fields = editing.FIELDS[entity]
    listed, resolutions = resolutions_sent(fields)
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
        hidden_errors(form)
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
    report = merge_report(entity, key, error, plan, resolutions)
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
    describer = Describer(load_choices(db, *NAME_CHOICES))
    report = ConflictReport(_("Choose which value to keep for each field that both you and someone else "
                              "changed; nothing was saved."), form.version.data, [])
    for name in listed:
        choice = ConflictChoice(name, field_label(name), describer.value(name, current.get(name)),
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
            form.apply_errors(form.window_errors(error.errors), error.message)
        except Forbidden as error:
            form.form_errors.append(error.message)
            status = 403
        else:
            flash(_("Status recorded"), "success")
            return redirect(url_for("policies.detail", key=key))
    return render_template("editing/status.html", policy=policy, form=form, hint=hint), status


@bp.route("/policies/<key>/status/<int:position>", methods=["GET", "POST"])
@role_required("edit")
def edit_status_step(key: str, position: int):
    """The gazette day and comment period of one step of the timeline."""
    db = db_session()
    policy = _policy(key)
    step = next((change for change in policy.status_changes if change.position == position), None)
    if step is None:
        abort(404)
    documents = {str(document.id): document.filename for document in document_service.documents_of(db, policy)}
    if request.method == "GET":
        form = StatusStepForm(prefix="step", formdata=None, documents=documents, data={
            "version": policy.version, "gazetted_on": _iso(step.gazetted_on),
            "comment_opens_on": _iso(step.comment_opens_on), "comment_closes_on": _iso(step.comment_closes_on),
            "how_to_comment_en": step.comment_how_en, "how_to_comment_lo": step.comment_how_lo,
            "comment_address": step.comment_address, "draft_url": step.comment_draft_url,
            "draft_document": str(step.comment_draft_document_id or "")})
        return render_template("editing/status_step.html", policy=policy, step=step, form=form)
    form = StatusStepForm(prefix="step", documents=documents)
    status = 400
    if form.validate_on_submit():
        try:
            with unit_of_work(db):
                editing.update_status_step(db, key, position, form.to_input(), _actor(), form.version.data)
        except Invalid as error:
            form.apply_errors(form.window_errors(error.errors), error.message)
        except StaleEdit as error:
            form.form_errors.append(error.message)
            status = 409
        except Forbidden as error:
            form.form_errors.append(error.message)
            status = 403
        else:
            flash(_("Status step saved"), "success")
            return redirect(url_for("policies.detail", key=key))
    return render_template("editing/status_step.html", policy=policy, step=step, form=form), status


def _iso(day: dt.date | None) -> str:
    return day.isoformat() if day else ""


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
            conflict = conflict_report("policy", key, error)
            set_version(form, conflict.version)
            status = 409
        else:
            flash(_("Forum link added"), "success")
            return redirect(url_for("policies.detail", key=key))
    else:
        hidden_errors(form)
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
        conflict = conflict_report("policy", key, error)
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


@bp.route("/policies/<key>/key", methods=["GET", "POST"])
@role_required("edit")
def change_policy_key(key: str):
    return _change_key("policy", key)


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
        hidden_errors(form)
        status = 400
    form.pad_rows()
    return render_template("editing/event_form.html", form=form, event=None, conflict=None), status


@bp.route("/events/<key>/edit", methods=["GET", "POST"])
@role_required("edit")
def edit_event(key: str):
    return edit_record("event", key, _event(key), EventForm, EVENT_CHOICES, editing.event_record,
                        editing.update_event)


@bp.post("/events/<key>/editorial")
@role_required("submit_for_review")
def event_editorial(key: str):
    return _editorial("event", key)


@bp.get("/events/<key>/history")
@role_required("read_unpublished")
def event_history(key: str):
    return _history("event", key)


@bp.route("/events/<key>/key", methods=["GET", "POST"])
@role_required("edit")
def change_event_key(key: str):
    return _change_key("event", key)


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
        conflict = conflict_report(entity_type, key, error)
        current = load(key)
        if form.state.data not in dict(editorial_moves(current)):
            state = EDITORIAL_STATES[current.editorial_state].lower()
            raise Invalid(_("%(message)s The record is now %(state)s, so this move is no longer possible.",
                            message=error.message, state=state)) from error
        label = str(MOVES[(current.editorial_state, form.state.data)][0])
        return render_template(
            "editing/confirm.html", record=current, entity=entity_type, conflict=conflict,
            heading=_("%(action)s?", action=label), action=request.path,
            hidden={"state": form.state.data, "version": conflict.version}, button=label), 409
    sent_back = from_state == "in_review" and record.editorial_state == "draft" and form.reason.data
    flash(_("Sent back to the editor with your comment.") if sent_back
          else str(MOVES[(from_state, record.editorial_state)][1]), "success")
    return redirect(_record_url(entity_type, key))


def _change_key(entity_type: str, key: str):
    """The form that gives a record a new key; the old address keeps leading to the record."""
    db = db_session()
    record = _policy(key) if entity_type == "policy" else _event(key)
    if not can_edit_record(_actor(), record.editorial_state):
        raise Forbidden(str(NOT_EDITABLE))
    if request.method == "GET":
        form = KeyForm(formdata=None, data={"key": record.key, "version": record.version})
        return _key_page(entity_type, record, form, None)
    form = KeyForm()
    status, conflict = 400, None
    if form.validate_on_submit():
        try:
            with unit_of_work(db):
                new_key = editing.change_key(db, entity_type, key, form.to_input(), _actor(),
                                             form.version.data).key
        except Invalid as error:
            form.apply_errors(error.errors, error.message)
        except StaleEdit as error:
            conflict = conflict_report(entity_type, key, error)
            set_version(form, conflict.version)
            status = 409
        else:
            flash(_("The key is now '%(key)s'. Links to the old address still lead here.", key=new_key), "success")
            return redirect(_record_url(entity_type, new_key))
    else:
        hidden_errors(form)
    return _key_page(entity_type, record, form, conflict), status


def _key_page(entity_type: str, record: Policy | Event, form: KeyForm, conflict: ConflictReport | None):
    old_keys = permalinks.old_keys(db_session(), entity_type, record.id)
    return render_template("editing/key.html", record=record, entity=entity_type, form=form, conflict=conflict,
                           old_keys=old_keys, record_url=_record_url(entity_type, record.key))


def _history(entity_type: str, key: str):
    db = db_session()
    record, entries = editing.history(db, entity_type, key)
    groups = describe(entries, load_choices(db, *NAME_CHOICES), actors=actor_labels(db, entries))
    return render_template("editing/history.html", record=record, entity=entity_type, groups=groups,
                           record_url=_record_url(entity_type, key))
