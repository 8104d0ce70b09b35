"""HTML attributes of form widgets, written as WTForms writes them but with plain string operations.

WTForms' ``html_params`` builds every attribute with ``Markup.format``, which runs Python's
``string.Formatter``: measured with a sampling profiler, a quarter of the time a policy's edit form takes
to render (its 34 selects hold some 550 options). This gives the same text (tests/unit/test_form_attributes.py
compares the two on awkward values) and is put in WTForms' place once, when the forms are imported, so
that every built-in widget uses it.
"""
from __future__ import annotations

from typing import Any

import wtforms.widgets
import wtforms.widgets.core
from markupsafe import Markup, escape

# The library's own, kept for comparison.
LIBRARY_HTML_PARAMS = wtforms.widgets.core.html_params
_clean_key = wtforms.widgets.core.clean_key


# Attribute names as written, by the name given (a handful, all from the code and the templates).
_NAMES: dict[str, str] = {}


def html_params(**attributes: Any) -> Markup:
    """``name="value"`` pairs sorted by name; True writes the name alone, False nothing (as WTForms)."""
    written = []
    for key in sorted(attributes):
        value = attributes[key]
        name = _NAMES.get(key)
        if name is None:
            name = _NAMES[key] = str(escape(_clean_key(key)))
        if value is True:
            written.append(name)
        elif value is not False:
            if type(value) is str and not ("&" in value or "<" in value or ">" in value or '"' in value
                                           or "'" in value):
                text = value  # nothing to escape: most ids, names and values
            else:
                # escape() leaves Markup as it is: a quote inside it must still not end the attribute.
                text = str(escape(value)).replace('"', "&quot;")
            written.append(f'{name}="{text}"')
    return Markup(" ".join(written))


def use_in_widgets() -> None:
    """Make WTForms' widgets write their attributes with ``html_params`` (idempotent): the module's
    function, which most widgets call; the copy inputs and buttons keep as a class attribute; and the
    one labels reach through ``wtforms.widgets``."""
    wtforms.widgets.core.html_params = html_params
    wtforms.widgets.html_params = html_params
    for widget in vars(wtforms.widgets.core).values():
        if isinstance(widget, type) and widget.__dict__.get("html_params") is not None:
            widget.html_params = staticmethod(html_params)  # type: ignore[attr-defined]
