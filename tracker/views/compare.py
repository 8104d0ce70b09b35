"""The comparison matrix: /compare (countries against a dimension of their policies) and /compare.csv."""
from __future__ import annotations

from typing import Any

from flask import Blueprint, Response, render_template, url_for

from tracker.models.vocab import LEGAL_STATUSES
from tracker.services import matrix as matrix_service
from tracker.services.matrix import Matrix
from tracker.services.tabular import csv_chunks
from tracker.views.cache import cached_page
from tracker.views.support import db_session, query_args

bp = Blueprint("compare", __name__)


def cell_url(matrix: Matrix, row: matrix_service.Row, column: matrix_service.Column) -> str:
    """The policy list of the instruments one cell counts."""
    query: dict[str, Any] = matrix.list_query(row, column)
    return url_for("policies.index", **query)


@bp.get("/compare")
@cached_page
def index():
    flt = matrix_service.parse_matrix_filter(query_args())
    matrix = matrix_service.build_matrix(db_session(), flt)
    return render_template("compare/index.html", matrix=matrix, flt=flt, dimensions=matrix_service.DIMENSIONS,
                           statuses=LEGAL_STATUSES, legend=matrix_service.status_legend(), cell_url=cell_url)


@bp.get("/compare.csv")
@cached_page
def download() -> Response:
    flt = matrix_service.parse_matrix_filter(query_args())
    header, rows = matrix_service.matrix_rows(matrix_service.build_matrix(db_session(), flt))
    response = Response("".join(csv_chunks(header, rows)), mimetype="text/csv")
    return response


@bp.after_request
def _name_the_file(response: Response) -> Response:
    # Outside the page cache, which keeps body and type only.
    if response.mimetype == "text/csv" and response.status_code == 200:
        response.headers["Content-Disposition"] = 'attachment; filename="ev-policies-matrix.csv"'
    return response
