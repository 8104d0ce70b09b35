"""Downloads of lists and searches as they are filtered: the rows and columns of CSV, XLSX and JSON files.

Only published records are ever exported, whoever asks: a download is meant to be passed on. Columns
have stable snake_case names (documented in docs/data.md) whatever the interface language; lists
inside one cell (topics, vehicle classes, bodies, sources, targets) are joined with " ; ". Policies are read
in batches from one query, so a download of the whole list starts at once and holds a batch at a time.
"""
from __future__ import annotations

import dataclasses
import datetime as dt
import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from sqlalchemy import null, select
from sqlalchemy.orm import Session, joinedload, selectinload

from tracker.models import Event, Organisation, Policy, PolicyBody
from tracker.models.types import PartialDate
from tracker.search.request import SearchRequest
from tracker.services.as_of import status_on
from tracker.services.policies import PUBLIC_STATES, PolicyFilter, _filtered, _ordered
from tracker.services.policy_targets import compact_text
from tracker.services.records import policy_to_record

# Rows read from the database at a time.
BATCH = 500
LIST_SEPARATOR = " ; "

# (column, what it holds): the header of every policy download, in this order.
POLICY_COLUMNS: tuple[tuple[str, str], ...] = (
    ("key", "The record's key: its permanent identifier in the tracker"),
    ("url", "The record's page"),
    ("country_code", "ISO 3166-1 alpha-2 code of the member state, or ASEAN for regional instruments"),
    ("country_en", "The jurisdiction's name in English"),
    ("country_lo", "The jurisdiction's name in Lao"),
    ("title_en", "Title in English"),
    ("title_lo", "Title in Lao"),
    ("title_local", "Title in the jurisdiction's own language (other members)"),
    ("reference", "Official reference number"),
    ("instrument", "Kind of instrument (law, decree, decision, regulation, standard, ...)"),
    ("legal_status", "Current legal status: the last step of the status history"),
    ("status_since", "Since when the current status holds (partial date: YYYY, YYYY-MM or YYYY-MM-DD)"),
    ("status_changed_on", "Date of the last dated status step (partial date)"),
    ("adopted_on", "Date of adoption or entry into force (partial date)"),
    ("year", "Year of adoption, else of the first dated step, else of the start of validity"),
    ("valid_from", "Start of validity (partial date)"),
    ("valid_to", "End of validity (partial date)"),
    ("issuer_key", "Key of the issuing body"),
    ("issuer_en", "Name of the issuing body in English"),
    ("issuer_lo", "Name of the issuing body in Lao"),
    ("other_bodies", "Other bodies as key:role, separated by ' ; '"),
    ("topics", "Topic keys, separated by ' ; '"),
    ("vehicle_classes", "Vehicle classes, separated by ' ; '"),
    ("summary_en", "Summary in English"),
    ("summary_lo", "Summary in Lao"),
    ("sources", "Source URLs, separated by ' ; '"),
    ("targets", "Structured targets, separated by ' ; ', each as metric=value+unit@year[vehicle_class] "
                "(share_of_sales=30%@2030[car]); the headline target starts with '*'"),
    ("confidence", "How sure the record is: high, medium or low"),
    ("updated_at", "When the record last changed (UTC, ISO 8601)"),
)
POLICY_HEADER = tuple(name for name, _ in POLICY_COLUMNS)
# Added at the end of a policy download asked for ``as_of`` (the columns before them stay as they are).
AS_OF_COLUMNS: tuple[tuple[str, str], ...] = (
    ("as_of", "The day the list was asked for (YYYY-MM-DD): statuses are those of that day"),
    ("status_as_of", "Legal status on that day: the last status step certain by then (docs/as-of.md)"),
)


def policy_columns(flt: PolicyFilter) -> tuple[tuple[str, str], ...]:
    """The columns of a policy download for ``flt``: POLICY_COLUMNS, and AS_OF_COLUMNS with ``as_of``."""
    return POLICY_COLUMNS + (AS_OF_COLUMNS if flt.as_of is not None else ())


def policy_header(flt: PolicyFilter) -> tuple[str, ...]:
    return tuple(name for name, _ in policy_columns(flt))

SEARCH_COLUMNS: tuple[tuple[str, str], ...] = (
    ("rank", "Place in the results (1 is the best match, or the first by the sort asked for)"),
    ("type", "policy or event"),
    ("key", "The record's key"),
    ("url", "The record's page"),
    ("title_en", "Title (or name) in English"),
    ("title_lo", "Title (or name) in Lao"),
    ("country_code", "ISO 3166-1 alpha-2 code, or ASEAN"),
    ("legal_status", "Current legal status (policies)"),
    ("instrument", "Kind of instrument (policies) or of event (events)"),
    ("date", "Status date (policies) or start date (events), partial date"),
    ("score", "Relevance score (higher is better; comparable within one search only)"),
    ("matched_in", "Where the words were found, separated by ' ; ': title, summary, reference, other (other "
                   "fields of the record: topics, bodies, country, key), text (an attached document)"),
)
SEARCH_HEADER = tuple(name for name, _ in SEARCH_COLUMNS)
# Highlighted fields, named by the part of the record they are.
_MATCHED_PART = {"title_en": "title", "title_lo": "title", "title_local": "title", "name_en": "title",
                 "name_lo": "title", "summary_en": "summary", "summary_lo": "summary", "reference": "reference"}


def _date(value: PartialDate | dt.date | None) -> str:
    return value.isoformat() if value is not None else ""


def _joined(values: list[str]) -> str:
    return LIST_SEPARATOR.join(values)


# What policy_row reads of a policy, loaded with it.
POLICY_ROW_LOADS = (
    joinedload(Policy.jurisdiction), joinedload(Policy.issuer), selectinload(Policy.topic_links),
    selectinload(Policy.vehicle_class_links), selectinload(Policy.bodies).joinedload(PolicyBody.organisation),
    selectinload(Policy.sources), selectinload(Policy.targets),
)


def _published_policies(session: Session, flt: PolicyFilter) -> Iterator[tuple[Policy, str | None]]:
    """Each published policy ``flt`` selects, with its status on ``flt.as_of``'s day (None without as_of)."""
    status = status_on(flt.as_of) if flt.as_of is not None else null()
    statement = _ordered(_filtered(select(Policy, status), flt, PUBLIC_STATES), flt.sort).options(
        *POLICY_ROW_LOADS).execution_options(yield_per=BATCH)
    yield from ((row[0], row[1]) for row in session.execute(statement))


def policy_row(policy: Policy, url_of: Callable[[str], str]) -> list[Any]:
    """One policy in POLICY_HEADER's order (loaded with POLICY_ROW_LOADS): the row of the list downloads and of
    the releases' ``policies`` table alike."""
    jurisdiction, issuer = policy.jurisdiction, policy.issuer
    return [
        policy.key, url_of(policy.key), policy.jurisdiction_code, jurisdiction.name_en,
        jurisdiction.name_lo or "", policy.title_en, policy.title_lo, policy.title_local, policy.reference,
        policy.instrument, policy.legal_status, _date(policy.status_since), _date(policy.status_changed_on),
        _date(policy.adopted_on), policy.year, _date(policy.valid_from), _date(policy.valid_to),
        issuer.key if issuer else "", issuer.name_en if issuer else "", issuer.name_lo if issuer else "",
        _joined([f"{body.organisation.key}:{body.role}" for body in policy.bodies]),
        _joined(policy.topic_keys), _joined(policy.vehicle_classes), policy.summary_en, policy.summary_lo,
        _joined([source.url for source in policy.sources]), compact_text(policy.targets), policy.confidence,
        policy.updated_at.isoformat(timespec="seconds") if policy.updated_at else "",
    ]


def policy_rows(session: Session, flt: PolicyFilter, url_of: Callable[[str], str]) -> Iterator[list[Any]]:
    """The published policies ``flt`` selects, one row each in ``policy_header(flt)``'s order."""
    as_of = flt.as_of.day.isoformat() if flt.as_of is not None else None
    for policy, status_then in _published_policies(session, flt):
        row = policy_row(policy, url_of)
        yield row if as_of is None else [*row, as_of, status_then]


def policy_json_chunks(session: Session, flt: PolicyFilter, url_of: Callable[[str], str],
                       about: dict[str, Any]) -> Iterator[str]:
    """The published policies ``flt`` selects as one JSON document, in the dataset's record format (what
    `flask data load` reads), written a record at a time."""
    org_keys: dict[int, str] = {row.id: row.key for row in session.execute(select(Organisation.id, Organisation.key))}
    event_keys: dict[int, str] = {row.id: row.key for row in session.execute(select(Event.id, Event.key))}
    published_events = set(session.scalars(select(Event.key).where(Event.editorial_state.in_(PUBLIC_STATES))))
    policy_keys: dict[int, str] = {row.id: row.key for row in session.execute(
        select(Policy.id, Policy.key).where(Policy.editorial_state.in_(PUBLIC_STATES)))}
    status = status_on(flt.as_of) if flt.as_of is not None else null()
    statement = _ordered(_filtered(select(Policy, status), flt, PUBLIC_STATES), flt.sort).options(
        selectinload(Policy.topic_links), selectinload(Policy.vehicle_class_links), selectinload(Policy.bodies),
        selectinload(Policy.sources), selectinload(Policy.relations), selectinload(Policy.status_changes),
        selectinload(Policy.forum_links), selectinload(Policy.targets),
    ).execution_options(yield_per=BATCH)
    head = json.dumps(about, ensure_ascii=False)
    yield head[:-1] + (', ' if about else '') + '"policies": ['
    first = True
    for policy, status_then in session.execute(statement):
        record = policy_to_record(policy, org_keys, event_keys, policy_keys)
        if flt.as_of is not None:
            record["status_as_of"] = status_then
        # Links to what readers cannot see (unpublished records) are left out, as on the pages.
        record["relations"] = [r for r in record["relations"] if r["target"] is not None or r["target_reference"]]
        record["forum_links"] = [f for f in record["forum_links"] if f["event"] in published_events]
        record["url"] = url_of(policy.key)
        yield ("\n" if first else ",\n") + json.dumps(record, ensure_ascii=False)
        first = False
    yield "\n]}\n"


@dataclass(frozen=True)
class SearchExport:
    """The rows of a search download and how many results there were in all."""

    rows: list[list[Any]]
    total: int
    limit: int

    @property
    def truncated(self) -> bool:
        return self.total > len(self.rows)


def search_rows(session: Session, request: SearchRequest, limit: int,
                url_of: Callable[[str, str], str]) -> SearchExport:
    """The first ``limit`` published results of a search, in the order the page shows them.

    Raises what tracker.services.search.search raises (Invalid, SearchUnavailable)."""
    from tracker.services.search import search

    results = search(session, dataclasses.replace(request, page=1, per_page=limit))
    rows = []
    for rank, hit in enumerate(results.hits, start=1):
        record = hit.record
        parts = sorted({_MATCHED_PART[name] for name in hit.highlights if name in _MATCHED_PART},
                       key=("title", "summary", "reference").index)
        if not parts and hit.matched_in != "text":
            parts.append("other")
        if hit.matched_in in ("text", "both"):
            parts.append("text")
        if isinstance(record, Policy):
            row = [rank, "policy", record.key, url_of("policy", record.key), record.title_en, record.title_lo,
                   record.jurisdiction_code, record.legal_status, record.instrument,
                   _date(record.status_changed_on)]
        else:
            assert isinstance(record, Event)
            row = [rank, "event", record.key, url_of("event", record.key), record.name_en, record.name_lo,
                   record.jurisdiction_code, "", record.kind, _date(record.starts_on)]
        rows.append([*row, round(float(hit.score), 4), _joined(parts)])
    return SearchExport(rows, results.total, limit)
