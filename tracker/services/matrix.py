"""The comparison matrix: ASEAN members (and regional instruments) against one dimension of their policies.

Each cell counts the published instruments of a jurisdiction with one value of the dimension (a topic, an
instrument type, a vehicle class, a kind of instrument) that pass the filters, and names the strongest status
among them (vocab.STATUS_STRENGTH). A cell with nothing in it says why: "none" when the jurisdiction has
published instruments tagged on that dimension but none with this value, "not_researched" when it has none
tagged on the dimension at all (its policies there have not been recorded yet, which is not the same as having
none). One aggregate query fills the whole matrix, whatever the number of records; the rows, the columns and
any extra column (see ``register_extra_column``) are a few fixed lookups more.
"""
from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol
from urllib.parse import quote

from flask_babel import LazyString
from sqlalchemy import ColumnElement, and_, case, func, literal, select, true
from sqlalchemy.orm import InstrumentedAttribute, Session

from tracker.errors import Invalid
from tracker.i18n import local_name
from tracker.models import Jurisdiction, Policy, PolicyTopic, PolicyVehicleClass, Topic
from tracker.models.vocab import (
    INSTRUMENT_KINDS,
    INSTRUMENTS,
    KIND_OF_INSTRUMENT,
    LEGAL_STATUSES,
    STATUS_STRENGTH,
    VEHICLE_CLASSES,
)
from tracker.services.as_of import AsOf, status_on
from tracker.services.policies import FilterChoices, parse_policy_filter
from tracker.services.policy_targets import compact_text, headline_targets
from tracker.translation import gettext as _
from tracker.translation import lazy_gettext as _l

# What the columns can be, by the name the page (``dimension``) and the API (``cols``) take.
DIMENSIONS: dict[str, LazyString] = {
    "topic": _l("Topic"),
    "instrument": _l("Instrument type"),
    "vehicle_class": _l("Vehicle class"),
    "kind": _l("Kind of instrument"),
}
# What the rows can be (the API's ``rows``): one row per ASEAN member, and one for regional instruments.
ROW_DIMENSIONS = ("country",)
ROW_KINDS = ("member", "regional")
CELL_STATES = ("some", "none", "not_researched")
# Rank of each status in SQL and back: the strongest has the highest rank.
_RANK = {status: len(STATUS_STRENGTH) - index for index, status in enumerate(STATUS_STRENGTH)}
_STATUS_OF_RANK = {rank: status for status, rank in _RANK.items()}


@dataclass(frozen=True)
class MatrixFilter:
    """The dimension of the columns, and which instruments count: statuses, years, statuses as of a day."""

    dimension: str = "topic"
    statuses: tuple[str, ...] = ()
    years: tuple[int, ...] = ()
    as_of: AsOf | None = None

    def to_query(self, dimension_name: str = "dimension") -> dict[str, list[str]]:
        """The filter as query parameters, for links that keep it (the page's own and its CSV)."""
        query = {dimension_name: [self.dimension], "status": list(self.statuses),
                 "year": [str(year) for year in self.years], "as_of": [self.as_of.text] if self.as_of else []}
        return {name: values for name, values in query.items() if values}


def parse_matrix_filter(args: Mapping[str, Sequence[str]], *, dimension_name: str = "dimension",
                        allow_empty: bool = True, today: dt.date | None = None) -> MatrixFilter:
    """Build a MatrixFilter from query parameters: the dimension (``dimension`` on the page, ``cols`` in the
    API; topic when absent), ``status`` and ``year`` (repeatable) and ``as_of``, read as the policy list
    reads them. The API also names its rows (``rows``, only ``country``).

    Raises:
        Invalid: naming every parameter whose value is not accepted.
    """
    errors: dict[str, str] = {}
    dimensions = [value.strip() for value in args.get(dimension_name, ()) if value.strip() or not allow_empty]
    dimension = dimensions[-1] if dimensions else "topic"
    if dimension not in DIMENSIONS:
        errors[dimension_name] = _("Unknown %(name)s '%(value)s'. Accepted values: %(values)s", name=dimension_name,
                                   value=dimension[:40], values=", ".join(DIMENSIONS))
    if dimension_name != "dimension":
        rows = [value.strip() for value in args.get("rows", ())]
        if any(value not in ROW_DIMENSIONS for value in rows):
            bad = next(value for value in rows if value not in ROW_DIMENSIONS)
            errors["rows"] = _("Unknown %(name)s '%(value)s'. Accepted values: %(values)s", name="rows",
                               value=bad[:40], values=", ".join(ROW_DIMENSIONS))
    wanted = {name: args[name] for name in ("status", "year", "as_of") if name in args}
    flt = None
    try:
        # Statuses, years and as_of mean here what they mean on the policy list the cells link to.
        flt = parse_policy_filter(wanted, FilterChoices(countries={}, topics={}), allow_empty=allow_empty,
                                  today=today)
    except Invalid as error:
        errors.update({name: str(message) for name, message in error.errors.items()})
    if errors or flt is None:
        raise Invalid(_("Some filters are not valid"), errors)
    return MatrixFilter(dimension, flt.statuses, flt.years, flt.as_of)


@dataclass(frozen=True)
class Column:
    """One value of the dimension: its key, its name in the reader's language, and the instrument types it
    stands for on the policy list (a kind of instrument is several types)."""

    key: str
    label: str
    instruments: tuple[str, ...] = ()


@dataclass(frozen=True)
class Cell:
    """What a jurisdiction has for one value: ``count`` instruments passing the filters, the ``strongest``
    status among them, and ``state``: some, none (nothing with this value), or not_researched (nothing
    tagged on the dimension at all)."""

    count: int
    strongest: str | None
    state: str


@dataclass(frozen=True)
class ExtraCell:
    """A value of an extra column for one jurisdiction: what a reader sees, what a file holds, and a link."""

    text: str
    value: str | None = None
    url: str | None = None


class ExtraColumnProvider(Protocol):
    """A column the matrix shows after the dimension's (a headline target, say), made elsewhere.

    ``cells`` gets the session, the jurisdiction codes of the rows and the filter, and answers with a cell for
    the jurisdictions it has something for, in a fixed number of queries; a jurisdiction it leaves out shows
    its ``missing`` text."""

    key: str

    def label(self) -> str: ...

    def missing(self) -> str: ...

    def cells(self, session: Session, codes: Sequence[str], flt: MatrixFilter) -> Mapping[str, ExtraCell]: ...


_EXTRA_COLUMNS: list[ExtraColumnProvider] = []


def register_extra_column(provider: ExtraColumnProvider) -> None:
    """Add a column to every matrix, after the dimension's columns (once per key; a new one replaces it)."""
    _EXTRA_COLUMNS[:] = [known for known in _EXTRA_COLUMNS if known.key != provider.key] + [provider]


def unregister_extra_column(key: str) -> None:
    _EXTRA_COLUMNS[:] = [known for known in _EXTRA_COLUMNS if known.key != key]


@dataclass(frozen=True)
class ExtraColumn:
    key: str
    label: str
    missing: str
    cells: Mapping[str, ExtraCell]

    def cell(self, code: str) -> ExtraCell:
        return self.cells.get(code) or ExtraCell(self.missing)


@dataclass(frozen=True)
class Row:
    jurisdiction: Jurisdiction
    cells: list[Cell]
    researched: bool


@dataclass(frozen=True)
class Matrix:
    flt: MatrixFilter
    columns: list[Column]
    rows: list[Row]
    extra_columns: list[ExtraColumn] = field(default_factory=list)

    def list_query(self, row: Row, column: Column) -> dict[str, list[str]]:
        """The query of the policy list that shows the instruments one cell counts (the filter kept)."""
        query: dict[str, list[str]] = {"country": [row.jurisdiction.code]}
        dimension = self.flt.dimension
        if dimension == "kind":
            query["instrument"] = list(column.instruments)
        else:
            query[dimension] = [column.key]
        query |= {name: values for name, values in self.flt.to_query().items() if name != "dimension"}
        return query


def _columns(session: Session, dimension: str) -> list[Column]:
    if dimension == "topic":
        topics = session.scalars(select(Topic).order_by(Topic.position))
        return [Column(topic.key, local_name(topic)) for topic in topics]
    if dimension == "instrument":
        return [Column(key, str(label), (key,)) for key, label in INSTRUMENTS.items()]
    if dimension == "vehicle_class":
        return [Column(key, str(label)) for key, label in VEHICLE_CLASSES.items()]
    return [Column(kind, str(label), tuple(i for i, k in KIND_OF_INSTRUMENT.items() if k == kind))
            for kind, label in INSTRUMENT_KINDS.items()]


def _value_and_join(dimension: str) -> tuple[ColumnElement[str] | InstrumentedAttribute[str],
                                             Callable[[Any], Any]]:
    """The column a policy's value on the dimension is read from, and how the statement reaches it."""
    if dimension == "topic":
        return PolicyTopic.topic_key, lambda statement: statement.join(PolicyTopic, PolicyTopic.policy_id == Policy.id)
    if dimension == "vehicle_class":
        return PolicyVehicleClass.vehicle_class, lambda statement: statement.join(
            PolicyVehicleClass, PolicyVehicleClass.policy_id == Policy.id)
    if dimension == "instrument":
        return Policy.instrument, lambda statement: statement
    return case(KIND_OF_INSTRUMENT, value=Policy.instrument), lambda statement: statement


def build_matrix(session: Session, flt: MatrixFilter) -> Matrix:
    """The matrix for ``flt``: the rows and columns (two small lookups) and every cell (one GROUP BY query),
    then the extra columns' own lookups.

    Only published instruments count, whoever reads: the matrix is the public picture.
    """
    jurisdictions = list(session.scalars(
        select(Jurisdiction).where(Jurisdiction.kind.in_(ROW_KINDS)).order_by(Jurisdiction.position)))
    codes = [j.code for j in jurisdictions]
    columns = _columns(session, flt.dimension)
    value, joined = _value_and_join(flt.dimension)
    status = status_on(flt.as_of) if flt.as_of is not None else Policy.legal_status
    base = select(Policy.jurisdiction_code.label("code"), value.label("value"),
                               status.label("status"), Policy.year.label("year"))
    tagged = joined(base) \
        .where(Policy.editorial_state == "published", Policy.jurisdiction_code.in_(codes)).subquery()
    # Every instrument tagged on the dimension makes its jurisdiction "researched"; only those that pass the
    # filters get a rank (NULL otherwise), so COUNT(rank) counts them and MAX(rank) is the strongest status.
    passes: ColumnElement[bool] = tagged.c.status.is_not(None) if flt.as_of is not None else true()
    if flt.statuses:
        passes = and_(passes, tagged.c.status.in_(flt.statuses))
    if flt.years:
        passes = and_(passes, tagged.c.year.in_(flt.years))
    rank = case((passes, case(_RANK, value=tagged.c.status, else_=literal(0))), else_=None)
    statement = select(tagged.c.code, tagged.c.value, func.count(rank), func.max(rank)) \
        .group_by(tagged.c.code, tagged.c.value)
    found: dict[str, dict[str, tuple[int, int | None]]] = {}
    for code, key, count, strongest in session.execute(statement):
        found.setdefault(code, {})[key] = (count, strongest)
    rows = []
    for jurisdiction in jurisdictions:
        values = found.get(jurisdiction.code)
        cells = []
        for column in columns:
            if values is None:
                cells.append(Cell(0, None, "not_researched"))
                continue
            count, strongest = values.get(column.key, (0, None))
            cells.append(Cell(count, _STATUS_OF_RANK.get(strongest) if count and strongest is not None else None,
                              "some" if count else "none"))
        rows.append(Row(jurisdiction, cells, values is not None))
    extra = [ExtraColumn(provider.key, provider.label(), provider.missing(), provider.cells(session, codes, flt))
             for provider in _EXTRA_COLUMNS]
    return Matrix(flt, columns, rows, extra)


# (column, what it holds): the CSV of the matrix, one row per cell; extra columns follow, named by their key.
MATRIX_COLUMNS: tuple[tuple[str, str], ...] = (
    ("country_code", "ISO 3166-1 alpha-2 code of the member state, or ASEAN for regional instruments"),
    ("country", "The jurisdiction's name in the reader's language"),
    ("dimension", "What the columns are: topic, instrument, vehicle_class or kind"),
    ("value_key", "The value of the dimension (a topic key, an instrument type, a vehicle class, a kind)"),
    ("value", "Its name in the reader's language"),
    ("state", "some, none (nothing recorded with this value) or not_researched (nothing tagged on the dimension)"),
    ("instruments", "Number of published instruments with this value that pass the filters"),
    ("strongest_status", "The strongest legal status among them (in_force > adopted > consultation > ...)"),
    ("as_of", "The day the statuses are those of (YYYY-MM-DD), empty for today"),
)


def matrix_rows(matrix: Matrix) -> tuple[list[str], list[list[object]]]:
    """The matrix as a header and rows, one row per cell (MATRIX_COLUMNS, then the extra columns' keys)."""
    header = [name for name, _meaning in MATRIX_COLUMNS] + [extra.key for extra in matrix.extra_columns]
    as_of = matrix.flt.as_of.day.isoformat() if matrix.flt.as_of else ""
    rows: list[list[object]] = []
    for row in matrix.rows:
        code = row.jurisdiction.code
        extras = [extra.cell(code).value or "" for extra in matrix.extra_columns]
        for column, cell in zip(matrix.columns, row.cells, strict=True):
            rows.append([code, local_name(row.jurisdiction), matrix.flt.dimension, column.key, column.label,
                         cell.state, cell.count, cell.strongest or "", as_of, *extras])
    return header, rows


def status_legend() -> list[tuple[str, str]]:
    """The strength order of statuses, strongest first, with their names (the matrix's legend)."""
    return [(status, str(LEGAL_STATUSES[status])) for status in STATUS_STRENGTH]


class HeadlineTargetColumn:
    """The matrix's "Headline target" column: per country, the headline target of its published policies
    that still run (see policy_targets.headline_targets), as of the matrix's day when it has one."""

    key = "headline_target"

    def label(self) -> str:
        return str(_("Headline target"))

    def missing(self) -> str:
        return str(_("No target recorded"))

    def cells(self, session: Session, codes: Sequence[str], flt: MatrixFilter) -> Mapping[str, ExtraCell]:
        targets = headline_targets(session, as_of=flt.as_of.day if flt.as_of else None)
        # A path from the site's root, as the policy pages are addressed; the page links it, the API gives it.
        return {code: ExtraCell(target.text, compact_text([target]).lstrip("*"),
                                "/policies/" + quote(target.policy_key))
                for code, target in targets.items() if code in codes}


register_extra_column(HeadlineTargetColumn())
