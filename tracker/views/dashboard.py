"""The public dashboard: five charts of published policies, each with its table, CSV and PNG download."""
from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass

from flask import Blueprint, Response, render_template
from sqlalchemy.orm import Session

from tracker.config import local_today
from tracker.errors import NotFound
from tracker.i18n import format_partial_date, local_name, localized
from tracker.models.vocab import INSTRUMENTS, LEGAL_STATUSES
from tracker.services import dashboard as dashboard_service
from tracker.services.dashboard import Dashboard, DashboardFilter, ReferenceLists
from tracker.services.policy_targets import compact_number
from tracker.services.tabular import csv_text
from tracker.translation import gettext as _
from tracker.views import country_map as map_view
from tracker.views.cache import cached_page
from tracker.views.support import db_session, query_args

bp = Blueprint("dashboard", __name__, url_prefix="/dashboard")

@dataclass(frozen=True)
class Labels:
    """The reader's names for the codes the figures are keyed on (the same lookups the policy pages use)."""

    statuses: dict[str, str]
    instruments: dict[str, str]
    countries: dict[str, str]
    topics: dict[str, str]


def labels_for(reference: ReferenceLists) -> Labels:
    return Labels(
        statuses={code: str(label) for code, label in LEGAL_STATUSES.items()},
        instruments={code: str(label) for code, label in INSTRUMENTS.items()},
        countries={j.code: local_name(j) for j in reference.jurisdictions},
        topics={t.key: local_name(t) for t in reference.topics},
    )


def _read_request() -> tuple[ReferenceLists, DashboardFilter, Labels]:
    session = db_session()
    reference = dashboard_service.reference_lists(session)
    flt = dashboard_service.parse_dashboard_filter(query_args(), reference)
    return reference, flt, labels_for(reference)


def quarter_label(year: int, quarter: int) -> str:
    return _("%(year)s Q%(quarter)s", year=year, quarter=quarter)


def chart_data(board: Dashboard, labels: Labels) -> dict:
    """What dashboard.js draws, with every label already in the reader's language."""
    countries = board.countries
    changes = board.status_changes
    expiries = [(row, str(localized(row, "title"))) for row in board.expiries]
    return {
        "countries": {
            "labels": [labels.countries[row.jurisdiction.code] for row in countries.rows],
            "datasets": [{"key": status, "label": labels.statuses[status],
                          "data": [row.counts.get(status, 0) for row in countries.rows]}
                         for status in countries.statuses],
            "axis": _("Published policies"),
        },
        "status-changes": {
            "labels": [quarter_label(year, quarter) for year, quarter, _count in changes.quarters],
            "data": [count for _year, _quarter, count in changes.quarters],
            "label": _("Status changes"),
        },
        "topics": {
            "labels": [labels.topics[row.topic.key] for row in board.topics],
            "data": [row.count for row in board.topics],
            "label": _("Published policies"),
        },
        "expiries": {
            "codes": [row.jurisdiction.code for row, _title in expiries],
            "titles": [title for _row, title in expiries],
            "ends": [row.ends_on.isoformat() for row, _title in expiries],
            "endLabels": [format_partial_date(row.valid_to) for row, _title in expiries],
            "today": board.today.isoformat(),
            "label": _("From today (%(today)s) to the end of validity", today=format_partial_date(board.today)),
            "endsText": _("Valid to"),
        },
        "targets": {
            "labels": [str(year) for year in board.targets.years],
            "datasets": [{"key": code, "label": labels.countries.get(code, code),
                          "data": [board.targets.count(year, code) for year in board.targets.years]}
                         for code in board.targets.countries],
            "axis": _("Headline targets"),
        },
    }


@bp.get("")
@cached_page
def index():
    reference, flt, labels = _read_request()
    board = dashboard_service.build_dashboard(db_session(), flt, reference, local_today())
    return render_template("dashboard/index.html", board=board, flt=flt, labels=labels,
                           data=chart_data(board, labels),
                           country_map=map_view.country_map(db_session(), reference, flt))


# --- CSV downloads -------------------------------------------------------------------------------------

def _countries_csv(session: Session, flt: DashboardFilter, reference: ReferenceLists,
                   labels: Labels) -> str:
    figures = dashboard_service.countries_by_status(session, flt, reference)
    # Column names are the same in every interface language (scripts read them); names of countries are
    # in the reader's language, statuses by their keys.
    header = ["country_code", "country", *figures.statuses, "total"]
    rows = ([row.jurisdiction.code, labels.countries[row.jurisdiction.code],
             *(row.counts.get(s, 0) for s in figures.statuses), row.total] for row in figures.rows)
    return csv_text(header, rows)


def _status_changes_csv(session: Session, flt: DashboardFilter, reference: ReferenceLists,
                        labels: Labels) -> str:
    figures = dashboard_service.status_changes_by_quarter(session, flt)
    header = ["year", "q1", "q2", "q3", "q4", "quarter_unknown", "total"]
    return csv_text(header, ([row.year, *row.quarters, row.year_only, row.total] for row in figures.years))


def _topics_csv(session: Session, flt: DashboardFilter, reference: ReferenceLists,
                labels: Labels) -> str:
    figures = dashboard_service.policies_by_topic(session, flt, reference)
    header = ["topic_key", "topic", "published_policies"]
    return csv_text(header, ([row.topic.key, labels.topics[row.topic.key], row.count] for row in figures))


def _expiries_csv(session: Session, flt: DashboardFilter, reference: ReferenceLists,
                  labels: Labels) -> str:
    figures = dashboard_service.upcoming_expiries(session, flt, reference, local_today())
    header = ["key", "title_en", "title_lo", "country_code", "country", "instrument", "legal_status", "valid_to",
              "last_day", "days_left"]
    rows = ([row.key, row.title_en, row.title_lo or "", row.jurisdiction.code,
             labels.countries[row.jurisdiction.code], row.instrument, row.legal_status, row.valid_to.isoformat(),
             row.ends_on.isoformat(), row.days_left] for row in figures)
    return csv_text(header, rows)


def _targets_csv(session: Session, flt: DashboardFilter, reference: ReferenceLists,
                 labels: Labels) -> str:
    figures = dashboard_service.targets_by_year(session, flt, reference)
    header = ["year", "country_code", "country", "metric", "value", "unit", "vehicle_class", "target", "policy_key"]
    rows = ([row.year, row.jurisdiction_code, labels.countries.get(row.jurisdiction_code, row.jurisdiction_code),
             row.metric, compact_number(row.value), row.unit, row.vehicle_class, row.text, row.policy_key]
            for row in figures.targets)
    return csv_text(header, rows)


CsvWriter = Callable[[Session, DashboardFilter, ReferenceLists, Labels], str]
CSV_WRITERS: dict[str, CsvWriter] = {
    "countries": _countries_csv,
    "status-changes": _status_changes_csv,
    "topics": _topics_csv,
    "expiries": _expiries_csv,
    "targets": _targets_csv,
}


def _as_download(view: Callable) -> Callable:
    """Name the file a CSV is saved as; outside the page cache, which keeps only body and type."""

    @functools.wraps(view)
    def wrapper(chart: str):
        response = view(chart=chart)
        response.headers["Content-Disposition"] = f'attachment; filename="ev-policies-{chart}.csv"'
        return response

    return wrapper


@bp.get("/<chart>.csv")
@_as_download
@cached_page
def chart_csv(chart: str):
    writer = CSV_WRITERS.get(chart)
    if writer is None:
        raise NotFound(_("There is no chart named '%(chart)s'. Charts: %(charts)s",
                         chart=chart[:40], charts=", ".join(CSV_WRITERS)))
    reference, flt, labels = _read_request()
    return Response(writer(db_session(), flt, reference, labels), mimetype="text/csv")
