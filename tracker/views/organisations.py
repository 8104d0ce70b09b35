"""Organisation pages: the list grouped by country, one organisation's part in policies and events, and the
staff forms that create and edit organisations."""
from __future__ import annotations

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_login import current_user

from tracker.db import unit_of_work
from tracker.errors import Invalid
from tracker.forms.records import OrganisationForm, load_choices
from tracker.i18n import current_language
from tracker.models.vocab import ORGANISATION_KINDS
from tracker.services import organisations as organisation_service
from tracker.services.audit import actor_labels
from tracker.translation import gettext as _
from tracker.views.cache import cached_page
from tracker.views.conflicts import hidden_errors
from tracker.views.editing import NAME_CHOICES, edit_record
from tracker.views.history import ORGANISATION_LABELS, describe
from tracker.views.security import include_unpublished, role_required
from tracker.views.support import db_session

bp = Blueprint("organisations", __name__, url_prefix="/organisations")


def _filters() -> tuple[str | None, str | None, str | None]:
    args = request.args
    country = (args.get("country") or "").strip().upper()[:8] or None
    kind = (args.get("kind") or "").strip()[:40] or None
    query = (args.get("q") or "").strip()[:100] or None
    return country, kind, query


@bp.get("")
@cached_page
def index():
    session = db_session()
    country, kind, query = _filters()
    rows = organisation_service.list_organisations(session, country=country, kind=kind, query=query,
                                                   include_unpublished=include_unpublished())
    language = current_language()
    by_id = {row.organisation.id: row for row in rows}
    groups = organisation_service.grouped_by_country(session, [row.organisation for row in rows], language)
    countries = organisation_service.country_choices(session, language)
    return render_template("organisations/list.html", groups=groups, rows=by_id, total=len(rows),
                           country=country, kind=kind, query=query, countries=countries,
                           kinds=ORGANISATION_KINDS)


@bp.get("/<key>")
@cached_page
def detail(key: str):
    page = organisation_service.organisation_page(db_session(), key, include_unpublished=include_unpublished())
    return render_template("organisations/detail.html", page=page, organisation=page.organisation)


@bp.route("/new", methods=["GET", "POST"])
@role_required("edit")
def new():
    db = db_session()
    form = OrganisationForm(choices=load_choices(db, "organisations", "countries"), creating=True)
    status = 200
    if form.validate_on_submit():
        try:
            with unit_of_work(db):
                organisation = organisation_service.create_organisation(db, form.to_input(),
                                                                        current_user._get_current_object())
        except Invalid as error:
            form.apply_errors(error.errors, error.message)
            status = 400
        else:
            flash(_("Organisation created: it can now be chosen as an issuer, body, organiser or funder."),
                  "success")
            return redirect(url_for("organisations.detail", key=organisation.key))
    elif request.method == "POST":
        hidden_errors(form)
        status = 400
    return render_template("editing/organisation_form.html", form=form, organisation=None, conflict=None), status


class _OrganisationEditForm(OrganisationForm):
    """The edit form, which never offers the organisation as its own parent."""

    def __init__(self, *args, **kwargs) -> None:
        kwargs.setdefault("exclude", request.view_args.get("key") if request.view_args else None)
        super().__init__(*args, **kwargs)


@bp.route("/<key>/edit", methods=["GET", "POST"])
@role_required("edit")
def edit(key: str):
    organisation = organisation_service.get_organisation(db_session(), key)
    return edit_record("organisation", key, organisation, _OrganisationEditForm, ("organisations", "countries"),
                        lambda session, record: organisation_service.organisation_record(session, record),
                        organisation_service.update_organisation)


@bp.get("/<key>/history")
@role_required("read_unpublished")
def history(key: str):
    db = db_session()
    organisation, entries = organisation_service.organisation_history(db, key)
    groups = describe(entries, load_choices(db, *NAME_CHOICES), labels=ORGANISATION_LABELS,
                      actors=actor_labels(db, entries))
    return render_template("organisations/history.html", organisation=organisation, groups=groups,
                           record_url=url_for("organisations.detail", key=key))

