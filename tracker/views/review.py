"""Review pages: the queue of records and proposals waiting for a reviewer, proposing a change to a published
record, and deciding on a proposal field by field."""
from __future__ import annotations

from typing import TYPE_CHECKING, Any

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_login import current_user

from tracker.db import unit_of_work
from tracker.errors import Invalid, MergeConflict
from tracker.forms.records import EventForm, PolicyForm, ProposalDecisionForm, load_choices
from tracker.models import Event, Policy
from tracker.services import activity as activity_service
from tracker.services import editing
from tracker.services import events as event_service
from tracker.services import policies as policy_service
from tracker.services import review as review_service
from tracker.translation import gettext as _
from tracker.views.conflicts import field_label, hidden_errors
from tracker.views.editing import EVENT_CHOICES, MISSING_LABELS, NAME_CHOICES, POLICY_CHOICES
from tracker.views.history import Describer, change_title
from tracker.views.policies import page_request
from tracker.views.security import role_required
from tracker.views.support import db_session, query_args

if TYPE_CHECKING:
    from collections.abc import Callable

    from sqlalchemy.orm import Session

bp = Blueprint("review", __name__)

FORMS = {"policy": (PolicyForm, POLICY_CHOICES), "event": (EventForm, EVENT_CHOICES)}
DETAIL = {"policy": "policies.detail", "event": "events.detail"}


def _actor():
    return current_user._get_current_object()


@bp.get("/review")
@role_required("read_unpublished")
def queue():
    db = db_session()
    queue = review_service.review_queue(db, _actor())
    describer = Describer(load_choices(db, *NAME_CHOICES))
    for item in queue.items:
        item.lines = [(field_label(change.field), describer.value(change.field, change.before),
                       describer.value(change.field, change.after)) for change in item.changes]
        item.missing_labels = [str(MISSING_LABELS[missing]) for missing in item.missing]
    return render_template("review/queue.html", queue=queue, detail=DETAIL)


# ---------------------------------------------------------------------------------------------------
# Proposing a change to a published record


@bp.route("/policies/<key>/propose", methods=["GET", "POST"])
@role_required("edit")
def propose_policy(key: str):
    return _propose("policy", key, policy_service.get_policy(db_session(), key, include_unpublished=True))


@bp.route("/events/<key>/propose", methods=["GET", "POST"])
@role_required("edit")
def propose_event(key: str):
    return _propose("event", key, event_service.get_event(db_session(), key, include_unpublished=True))


def _propose(entity: str, key: str, record: Policy | Event):
    """The edit form of a published record, whose saving stores a proposal for a reviewer instead."""
    db = db_session()
    form_class, choice_names = FORMS[entity]
    choices = load_choices(db, *choice_names)
    if record.editorial_state not in ("published", "archived"):
        flash(_("This record is not published: edit it directly."), "info")
        return redirect(url_for(f"editing.edit_{entity}", key=key))
    # Takes the Policy or the Event that ``entity`` names; the two cannot be told apart by type here.
    record_of: Callable[[Session, Any], dict[str, Any]] = (
        editing.policy_record if entity == "policy" else editing.event_record)
    template = "review/propose.html"
    if request.method == "GET":
        form = form_class.from_record(record_of(db, record), record.version, choices)
        form.pad_rows()
        return render_template(template, form=form, record=record, entity=entity, note="")
    form = form_class(choices=choices, creating=False)
    note = (request.form.get("proposal_note") or "")[:6000]
    status = 400
    if form.add_row_requested():
        form.pad_rows()
        return render_template(template, form=form, record=record, entity=entity, note=note), 200
    if form.validate_on_submit():
        try:
            with unit_of_work(db):
                proposal = review_service.propose_change(db, entity, key, form.to_input(), _actor(),
                                                         form.version.data, note)
        except Invalid as error:
            form.apply_errors(error.errors, error.message)
            if "note" in error.errors:
                form.form_errors.append(error.errors["note"])
        else:
            flash(_("Your proposed change was sent to the reviewers. The public keeps seeing the published "
                    "version until a reviewer approves it."), "success")
            return redirect(url_for("review.proposal", proposal_id=proposal.id))
    else:
        hidden_errors(form)
    form.pad_rows()
    return render_template(template, form=form, record=record, entity=entity, note=note), status


# ---------------------------------------------------------------------------------------------------
# Deciding on a proposal


def _proposal_page(proposal_id: int, form: ProposalDecisionForm | None = None, status: int = 200,
                   conflicts=None):
    db = db_session()
    view = review_service.proposal_view(db, proposal_id, _actor())
    describer = Describer(load_choices(db, *NAME_CHOICES))
    conflicts = view.conflicts if conflicts is None else conflicts
    conflicting = {conflict.field for conflict in conflicts}
    rows = [(change.field, field_label(change.field), describer.value(change.field, change.before),
             describer.value(change.field, change.after), change.field in conflicting) for change in view.rows]
    picks = [(conflict.field, field_label(conflict.field), describer.value(conflict.field, conflict.base),
              describer.value(conflict.field, conflict.theirs), describer.value(conflict.field, conflict.mine))
             for conflict in conflicts]
    form = form or ProposalDecisionForm()
    return render_template("review/proposal.html", view=view, rows=rows, picks=picks, form=form,
                           detail=DETAIL), status


@bp.get("/review/proposals/<int:proposal_id>")
@role_required("read_unpublished")
def proposal(proposal_id: int):
    return _proposal_page(proposal_id)


@bp.post("/review/proposals/<int:proposal_id>/approve")
@role_required("publish")
def approve(proposal_id: int):
    db = db_session()
    form = ProposalDecisionForm()
    if not form.validate_on_submit():
        return _proposal_page(proposal_id, form, 400)
    picks = {name[len("resolve-"):]: value for name, value in request.form.items()
             if name.startswith("resolve-") and value in ("proposed", "current")}
    try:
        with unit_of_work(db):
            proposal = review_service.approve_proposal(db, proposal_id, _actor(), resolutions=picks,
                                                       comment=form.comment.data)
    except MergeConflict as error:
        form.form_errors.append(error.message)
        return _proposal_page(proposal_id, form, 409, conflicts=error.plan.conflicts)
    except Invalid as error:
        form.apply_errors(error.errors, error.message)
        return _proposal_page(proposal_id, form, 400)
    flash(_("The proposed change was applied and published."), "success")
    return redirect(url_for(DETAIL[proposal.entity_type], key=proposal.entity_key))


@bp.post("/review/proposals/<int:proposal_id>/reject")
@role_required("publish")
def reject(proposal_id: int):
    db = db_session()
    form = ProposalDecisionForm()
    if not form.validate_on_submit():
        return _proposal_page(proposal_id, form, 400)
    try:
        with unit_of_work(db):
            review_service.reject_proposal(db, proposal_id, _actor(), form.comment.data)
    except Invalid as error:
        form.apply_errors(error.errors, error.message)
        return _proposal_page(proposal_id, form, 400)
    flash(_("The proposed change was rejected; its editor is told why."), "success")
    return redirect(url_for("review.queue"))


@bp.post("/review/proposals/<int:proposal_id>/withdraw")
@role_required("edit")
def withdraw(proposal_id: int):
    db = db_session()
    form = ProposalDecisionForm()
    if not form.validate_on_submit():
        return _proposal_page(proposal_id, form, 400)
    with unit_of_work(db):
        proposal = review_service.withdraw_proposal(db, proposal_id, _actor())
    flash(_("Your proposed change was withdrawn."), "success")
    return redirect(url_for(DETAIL[proposal.entity_type], key=proposal.entity_key))


# ---------------------------------------------------------------------------------------------------
# The activity log


@bp.get("/activity")
@role_required("read_unpublished")
def activity():
    db = db_session()
    args = query_args()
    choices = load_choices(db, *NAME_CHOICES)
    flt = activity_service.parse_activity_filter(args, list(choices.countries))
    page = activity_service.activity(db, flt, page_request(args))
    people = activity_service.people(db)
    labels = {user.id: user.label for user in people}
    describer = Describer(choices)
    for item in page.items:
        item.title = change_title(item.entries[0]) if item.entries else item.action
        item.actor = labels.get(item.actor_id, item.actor_label)
        item.lines = [line for entry in item.entries for line in describer.lines(entry)]
        item.reason = next((entry.reason for entry in item.entries if entry.reason), None)
    return render_template("review/activity.html", page=page, flt=flt, people=people, choices=choices,
                           args={name: (values or [""])[-1] for name, values in args.items()})
