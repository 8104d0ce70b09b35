"""Policies side by side: the keys of a comparison read and resolved, and the rows that align the records.

A comparison is named by its keys alone (``keys=a,b,c`` in its address), so it can be shared and bookmarked.
It holds published policies only, whoever reads it: it is meant to be passed on. Old keys lead to the
current ones, as a record's own address does (tracker.services.permalinks).
"""
from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Hashable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import exists, select
from sqlalchemy.orm import Session, aliased, joinedload

from tracker.errors import Invalid
from tracker.models import ForumLink, Policy, PolicyRelation, RecordKeyAlias
from tracker.models.types import PartialDate
from tracker.services.permalinks import KEY_LENGTH
from tracker.services.policies import _FULL_RECORD, PUBLIC_STATES, visible_forum_links, visible_relations
from tracker.translation import gettext as _
from tracker.translation import lazy_gettext as _l

MIN_POLICIES = 2
MAX_POLICIES = 4
# Keys read from one address at most: room for an old and a current key of every policy compared, and a
# bound on the one lookup that resolves them.
MAX_KEYS_READ = 2 * MAX_POLICIES
KEY_SEPARATOR = ","
LIST_SEPARATOR = " ; "


def parse_keys(values: Iterable[str]) -> list[str]:
    """The keys of ``keys`` parameters (each comma-separated, and repeatable) in the order given, each once,
    blanks and spaces dropped."""
    keys = (part.strip() for value in values for part in value.split(KEY_SEPARATOR))
    return list(dict.fromkeys(key for key in keys if key))


def keys_param(keys: Iterable[str]) -> str:
    """The value of ``keys`` in the address of a comparison of ``keys``."""
    return KEY_SEPARATOR.join(keys)


def _too_many(count: int) -> Invalid:
    return Invalid(
        _("At most %(max)s policies can be compared side by side; this comparison names %(count)s. "
          "Remove one or more of them.", max=MAX_POLICIES, count=count),
        {"keys": _("At most %(max)s policies can be compared side by side.", max=MAX_POLICIES)})


@dataclass(frozen=True)
class Selection:
    """What the keys of a comparison name: the published policies found, and the keys that name none."""

    asked: tuple[str, ...]
    policies: tuple[Policy, ...]
    unknown: tuple[str, ...]

    @property
    def keys(self) -> tuple[str, ...]:
        """The current keys of the policies found, in the order asked."""
        return tuple(policy.key for policy in self.policies)


def select_policies(session: Session, keys: Sequence[str]) -> Selection:
    """The full records of the published policies that ``keys`` name, in the order asked, each once; an old
    key counts for the policy that has it now. A fixed number of queries, whatever the number of keys
    (one more when some key is not a current one).

    Raises:
        Invalid: naming ``keys`` when they name more than MAX_POLICIES policies.
    """
    asked = tuple(dict.fromkeys(keys))
    if len(asked) > MAX_KEYS_READ:
        raise _too_many(len(asked))
    # No key holds NUL (which PostgreSQL refuses in any string) or is longer than a key column.
    lookable = [key for key in asked if "\x00" not in key and len(key) <= KEY_LENGTH]
    found: dict[str, Policy] = {}
    if lookable:
        statement = select(Policy).where(Policy.key.in_(lookable), Policy.editorial_state.in_(PUBLIC_STATES)) \
            .options(*_FULL_RECORD)
        found = {policy.key: policy for policy in session.scalars(statement).unique()}
    missing = [key for key in lookable if key not in found]
    moved = _current_keys(session, missing) if missing else {}
    if set(moved.values()) - set(found):
        statement = select(Policy).where(Policy.key.in_(sorted(set(moved.values()) - set(found)))) \
            .options(*_FULL_RECORD)
        found |= {policy.key: policy for policy in session.scalars(statement).unique()}
    policies: dict[str, Policy] = {}
    unknown: list[str] = []
    for key in asked:
        current = key if key in found else moved.get(key)
        if current is None:
            unknown.append(key)
        else:
            policies.setdefault(current, found[current])
    if len(policies) > MAX_POLICIES:
        raise _too_many(len(policies))
    return Selection(asked, tuple(policies.values()), tuple(unknown))


def _current_keys(session: Session, old_keys: Sequence[str]) -> dict[str, str]:
    """Old key -> current key of the published policy it leads to, for those of ``old_keys`` that no policy
    holds now (one query)."""
    holder = aliased(Policy)
    statement = (
        select(RecordKeyAlias.old_key, Policy.key).join(Policy, RecordKeyAlias.policy_id == Policy.id)
        .where(RecordKeyAlias.kind == "policy", RecordKeyAlias.old_key.in_(old_keys),
               Policy.editorial_state.in_(PUBLIC_STATES), ~exists().where(holder.key == RecordKeyAlias.old_key)))
    return {old: current for old, current in session.execute(statement)}


def tray_policies(session: Session, keys: Sequence[str]) -> list[Policy]:
    """The published policies among ``keys`` (current keys), in the order given, with their jurisdiction:
    what the comparison tray of a list or record page names (one query)."""
    lookable = [key for key in keys if "\x00" not in key and len(key) <= KEY_LENGTH][:MAX_KEYS_READ]
    if not lookable:
        return []
    statement = select(Policy).where(Policy.key.in_(lookable), Policy.editorial_state.in_(PUBLIC_STATES)) \
        .options(joinedload(Policy.jurisdiction))
    by_key = {policy.key: policy for policy in session.scalars(statement).unique()}
    return [by_key[key] for key in lookable if key in by_key]


# ---------------------------------------------------------------------------------------------------
# The rows


@dataclass(frozen=True)
class Column:
    """One policy of a comparison with what the reader may see of its links (published ends only)."""

    policy: Policy
    outgoing: list[PolicyRelation]
    incoming: list[PolicyRelation]
    forum_links: list[ForumLink]


def _date(value: PartialDate | dt.date | None) -> str:
    return value.isoformat() if value is not None else ""


def _relations(column: Column) -> tuple[tuple[str, str], ...]:
    """(type, other end) of each relation the reader may see: ``amends`` and the key (or the citation) of
    the instrument it amends, ``amends_by`` and the key of a policy that amends it."""
    outgoing = [(r.relation_type, r.target.key if r.target else r.target_reference or "") for r in column.outgoing]
    incoming = [(r.relation_type + "_by", r.policy.key) for r in column.incoming]
    return tuple(sorted(outgoing)) + tuple(sorted(incoming))


# Row name -> (label, what is compared). The name is the template's cell and the CSV's rows; two policies
# differ on a row when what is compared differs, whatever the language of the page.
ROWS: dict[str, tuple[Any, Callable[[Column], Hashable]]] = {
    "country": (_l("Country"), lambda c: c.policy.jurisdiction_code),
    "instrument": (_l("Instrument"), lambda c: c.policy.instrument),
    "legal_status": (_l("Legal status"), lambda c: c.policy.legal_status),
    "status_since": (_l("In this status since"), lambda c: _date(c.policy.status_since)),
    "reference": (_l("Reference"), lambda c: c.policy.reference or ""),
    "issuer": (_l("Issued by"), lambda c: c.policy.issuer.key if c.policy.issuer else ""),
    "other_bodies": (_l("Other bodies"), lambda c: frozenset((b.organisation.key, b.role) for b in c.policy.bodies)),
    "validity": (_l("Validity"), lambda c: (_date(c.policy.valid_from), _date(c.policy.valid_to))),
    "vehicle_classes": (_l("Vehicle classes"), lambda c: frozenset(c.policy.vehicle_classes)),
    "topics": (_l("Topics"), lambda c: frozenset(c.policy.topic_keys)),
    "measures": (_l("Key measures"), lambda c: (c.policy.summary_en or "", c.policy.summary_lo or "")),
    "relations": (_l("Related instruments"), _relations),
    "sources": (_l("Sources"), lambda c: tuple(source.url for source in c.policy.sources)),
    "forum_links": (_l("Forums and events"), lambda c: tuple((link.event.key, link.role) for link in c.forum_links)),
}


@dataclass(frozen=True)
class Row:
    """One aligned field: its name, its label in the reader's language, and whether the policies differ on it."""

    name: str
    label: Any
    differs: bool


@dataclass(frozen=True)
class Comparison:
    """Policies side by side: one column per policy, one row per field."""

    columns: tuple[Column, ...]
    rows: tuple[Row, ...]

    @property
    def differing(self) -> int:
        return sum(row.differs for row in self.rows)


def compare(policies: Sequence[Policy]) -> Comparison:
    """The rows of ``policies`` (full records, see select_policies) side by side, each marked where they differ."""
    columns = []
    for policy in policies:
        outgoing, incoming = visible_relations(policy)
        columns.append(Column(policy, outgoing, incoming, visible_forum_links(policy.forum_links, side="event")))
    rows = tuple(Row(name, label, len({value(column) for column in columns}) > 1)
                 for name, (label, value) in ROWS.items())
    return Comparison(tuple(columns), rows)


# ---------------------------------------------------------------------------------------------------
# The download


def _joined(values: Iterable[str | None]) -> str:
    return LIST_SEPARATOR.join(value for value in values if value)


# (row, what it holds): the rows of the CSV download, in this order; one column per policy.
CSV_ROWS: dict[str, Callable[[Column, Callable[[str], str]], str | int | None]] = {
    "key": lambda c, url: c.policy.key,
    "url": lambda c, url: url(c.policy.key),
    "title_en": lambda c, url: c.policy.title_en,
    "title_lo": lambda c, url: c.policy.title_lo,
    "country_code": lambda c, url: c.policy.jurisdiction_code,
    "country_en": lambda c, url: c.policy.jurisdiction.name_en,
    "country_lo": lambda c, url: c.policy.jurisdiction.name_lo,
    "instrument": lambda c, url: c.policy.instrument,
    "legal_status": lambda c, url: c.policy.legal_status,
    "status_since": lambda c, url: _date(c.policy.status_since),
    "reference": lambda c, url: c.policy.reference,
    "issuer_key": lambda c, url: c.policy.issuer.key if c.policy.issuer else "",
    "issuer_en": lambda c, url: c.policy.issuer.name_en if c.policy.issuer else "",
    "issuer_lo": lambda c, url: c.policy.issuer.name_lo if c.policy.issuer else "",
    "other_bodies": lambda c, url: _joined(f"{b.organisation.key}:{b.role}" for b in c.policy.bodies),
    "valid_from": lambda c, url: _date(c.policy.valid_from),
    "valid_to": lambda c, url: _date(c.policy.valid_to),
    "vehicle_classes": lambda c, url: _joined(c.policy.vehicle_classes),
    "topics": lambda c, url: _joined(c.policy.topic_keys),
    "summary_en": lambda c, url: c.policy.summary_en,
    "summary_lo": lambda c, url: c.policy.summary_lo,
    "relations": lambda c, url: _joined(f"{kind}:{other}" for kind, other in _relations(c)),
    "sources": lambda c, url: _joined(source.url for source in c.policy.sources),
    "forum_links": lambda c, url: _joined(f"{link.role}:{link.event.key}" for link in c.forum_links),
}


def csv_table(comparison: Comparison, url_of: Callable[[str], str]) -> tuple[list[str], list[list[Any]]]:
    """The comparison as a table for a CSV file: a header ``field, policy_1 … policy_n, differs`` and one row
    per field, named in snake_case whatever the reader's language (``differs`` is ``true`` or ``false``)."""
    header = ["field", *(f"policy_{number}" for number in range(1, len(comparison.columns) + 1)), "differs"]
    rows = []
    for name, value in CSV_ROWS.items():
        cells = ["" if (cell := value(column, url_of)) is None else cell for column in comparison.columns]
        rows.append([name, *cells, "true" if len(set(cells)) > 1 else "false"])
    return header, rows
