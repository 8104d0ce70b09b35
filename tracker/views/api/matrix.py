"""The comparison matrix under /api/v1: countries against a dimension of their policies, as /compare shows it."""
from __future__ import annotations

from typing import Any

from flask import Blueprint, jsonify, url_for

from tracker.models.vocab import STATUS_STRENGTH
from tracker.services import matrix as matrix_service
from tracker.views.cache import cached_page
from tracker.views.support import db_session, query_args


def register(bp: Blueprint) -> None:
    """Add the matrix route to the API blueprint."""
    bp.add_url_rule("/matrix", "matrix", cached_page(matrix), methods=["GET"])


def matrix_json(matrix: matrix_service.Matrix) -> dict[str, Any]:
    flt = matrix.flt
    page_query: dict[str, Any] = flt.to_query()
    cells = []
    for row in matrix.rows:
        for column, cell in zip(matrix.columns, row.cells, strict=True):
            query: dict[str, Any] = matrix.list_query(row, column)
            cells.append({
                "row": row.jurisdiction.code, "column": column.key, "count": cell.count,
                "strongest_status": cell.strongest, "state": cell.state,
                "url": url_for("api.policies", **query, _external=True) if cell.count else None,
                "html_url": url_for("policies.index", **query, _external=True) if cell.count else None})
    return {
        "rows": [{"code": row.jurisdiction.code, "name_en": row.jurisdiction.name_en,
                  "name_lo": row.jurisdiction.name_lo, "kind": row.jurisdiction.kind, "researched": row.researched}
                 for row in matrix.rows],
        "columns": [{"key": column.key, "label": column.label, "instruments": list(column.instruments)}
                    for column in matrix.columns],
        "cells": cells,
        "extra_columns": [{"key": extra.key, "label": extra.label,
                           "cells": {row.jurisdiction.code: {"text": extra.cell(row.jurisdiction.code).text,
                                                             "value": extra.cell(row.jurisdiction.code).value,
                                                             "url": extra.cell(row.jurisdiction.code).url}
                                     for row in matrix.rows}}
                          for extra in matrix.extra_columns],
        "rows_dimension": "country", "cols": flt.dimension, "statuses": list(flt.statuses), "years": list(flt.years),
        "as_of": flt.as_of.day.isoformat() if flt.as_of else None,
        "status_strength": list(STATUS_STRENGTH),
        "html_url": url_for("compare.index", **page_query, _external=True),
    }


def matrix():
    flt = matrix_service.parse_matrix_filter(query_args(), dimension_name="cols", allow_empty=False)
    return jsonify(matrix_json(matrix_service.build_matrix(db_session(), flt)))
