"""Downloads of the policy list and of searches as filtered: /policies.csv|xlsx|json and /search.csv|xlsx."""
from __future__ import annotations

import datetime as dt
import functools
from collections.abc import Callable, Iterable, Iterator
from typing import Any
from urllib.parse import urlencode

from flask import Blueprint, Response, current_app, request, url_for
from sqlalchemy.orm import Session

from tracker.db import Database
from tracker.search.request import parse_search_args
from tracker.services import exports
from tracker.services import policies as policy_service
from tracker.services.tabular import Sheet, csv_chunks, file_chunks, xlsx_file
from tracker.translation import gettext as _
from tracker.views.cache import cached_page
from tracker.views.search import run_search_export
from tracker.views.support import db_session, query_args

bp = Blueprint("downloads", __name__)

CSV_TYPE = "text/csv"
XLSX_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
JSON_TYPE = "application/json"
# Parameters of the pages that choose a page of results, not what is downloaded.
PAGING = ("page", "per_page")


def _attachment(filename: str) -> Callable[[Callable[..., Response]], Callable[..., Response]]:
    """Name the file a download is saved as (outside the page cache, which keeps body and type only)."""
    def decorate(view: Callable[..., Response]) -> Callable[..., Response]:
        @functools.wraps(view)
        def wrapper(*args: Any, **kwargs: Any) -> Response:
            response = view(*args, **kwargs)
            if response.status_code == 200:
                stamp = dt.date.today().isoformat()
                response.headers["Content-Disposition"] = f'attachment; filename="{filename.format(date=stamp)}"'
            return response
        return wrapper
    return decorate


def _streamed(chunks: Iterable[str | bytes], mimetype: str) -> Response:
    def encoded() -> Iterator[bytes]:
        for chunk in chunks:
            yield chunk.encode("utf-8") if isinstance(chunk, str) else chunk
    # Passed through as it is made: the page cache keeps no copy, and memory does not grow with the rows.
    return Response(encoded(), mimetype=mimetype, direct_passthrough=True)


def _own_session(write: Callable[[Session], Iterator[str]]) -> Iterator[str]:
    """What ``write`` writes, from a database session of its own: a streamed body is sent after the
    request's session has been closed."""
    database: Database = current_app.extensions["tracker.db"]

    def chunks() -> Iterator[str]:
        with database.session() as session:
            yield from write(session)

    return chunks()


def _url_maker(endpoint: str) -> Callable[[str], str]:
    """A record's address from its key, without the request (made once, while it is there)."""
    pattern = url_for(endpoint, key="__key__", _external=True)
    before, after = pattern.split("__key__")
    return lambda key: f"{before}{key}{after}"


def _policy_filter() -> policy_service.PolicyFilter:
    session = db_session()
    args = {name: values for name, values in query_args().items() if name not in PAGING}
    return policy_service.parse_policy_filter(args, policy_service.filter_choices(session))




@bp.get("/policies.csv")
@_attachment("ev-policies-{date}.csv")
@cached_page
def policies_csv() -> Response:
    flt = _policy_filter()
    url_of = _url_maker("policies.detail")
    return _streamed(_own_session(
        lambda session: csv_chunks(exports.policy_header(flt), exports.policy_rows(session, flt, url_of))), CSV_TYPE)


@bp.get("/policies.xlsx")
@_attachment("ev-policies-{date}.xlsx")
@cached_page
def policies_xlsx() -> Response:
    flt = _policy_filter()
    rows = exports.policy_rows(db_session(), flt, _url_maker("policies.detail"))
    workbook = xlsx_file([
        Sheet("policies", exports.policy_header(flt), rows, widths=(34, 30, 8, 16, 16, 50, 50)),
        _about_sheet(exports.policy_columns(flt), [
            ("filters", request.query_string.decode("utf-8", "replace") or "(none)"),
        ]),
    ])
    return _streamed(file_chunks(workbook), XLSX_TYPE)


@bp.get("/policies.json")
@_attachment("ev-policies-{date}.json")
@cached_page
def policies_json() -> Response:
    flt = _policy_filter()
    query = urlencode(flt.to_query(), doseq=True)
    about = {"dataset": "asean-ev-policies",
             "source": url_for("policies.index", _external=True) + (f"?{query}" if query else ""),
             "exported": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
             "licence": current_app.config["DATA_LICENCE"]}
    if flt.as_of is not None:
        about["as_of"] = flt.as_of.day.isoformat()
    url_of = _url_maker("policies.detail")
    return _streamed(_own_session(
        lambda session: exports.policy_json_chunks(session, flt, url_of, about)), JSON_TYPE)


def _about_sheet(columns: Iterable[tuple[str, str]], facts: list[tuple[str, str]]) -> Sheet:
    """A sheet saying where the data comes from and what each column holds (in English: column names
    and their meanings are part of the file's format, the same for every reader)."""
    rows: list[list[Any]] = [
        ["source", url_for("pages.home", _external=True)],
        ["exported", dt.datetime.now(dt.UTC).isoformat(timespec="seconds")],
        ["licence", current_app.config["DATA_LICENCE"]],
        *([name, value] for name, value in facts),
        ["dates", "Dates are written as given: YYYY, YYYY-MM or YYYY-MM-DD (a partial date stays partial)."],
        ["", ""],
        ["column", "meaning"],
        *([name, meaning] for name, meaning in columns),
    ]
    return Sheet("about", ("field", "value"), rows, widths=(22, 100), wrap=True)


def _search_export() -> exports.SearchExport:
    args = {name: values for name, values in query_args().items() if name not in PAGING}
    search_request = parse_search_args(args)
    return run_search_export(db_session(), search_request, int(current_app.config["EXPORT_SEARCH_ROWS"]))


def _limit_note(found: exports.SearchExport) -> str:
    return _("Only the first %(limit)s of %(total)s results are in this file; narrow the search, or download "
             "the whole dataset.", limit=f"{found.limit:,}", total=f"{found.total:,}")


@bp.get("/search.csv")
@_attachment("ev-search-{date}.csv")
def search_csv() -> Response:
    found = _search_export()
    rows: list[list[Any]] = list(found.rows)
    if found.truncated:
        # Said in the file itself, where it cannot be missed: a last row that is not a result.
        rows.append(["", "", "", "", _limit_note(found)])
    response = _streamed(csv_chunks(exports.SEARCH_HEADER, rows), CSV_TYPE)
    response.headers["X-Total-Count"] = str(found.total)
    return response


@bp.get("/search.xlsx")
@_attachment("ev-search-{date}.xlsx")
def search_xlsx() -> Response:
    found = _search_export()
    facts = [("search", request.query_string.decode("utf-8", "replace") or "(everything)"),
             ("results", str(found.total)), ("rows in this file", str(len(found.rows))),
             ("row limit", str(found.limit))]
    if found.truncated:
        facts.append(("note", _limit_note(found)))
    workbook = xlsx_file([Sheet("results", exports.SEARCH_HEADER, found.rows, widths=(6, 8, 34, 30, 50, 50)),
                          _about_sheet(exports.SEARCH_COLUMNS, facts)])
    response = _streamed(file_chunks(workbook), XLSX_TYPE)
    response.headers["X-Total-Count"] = str(found.total)
    return response
