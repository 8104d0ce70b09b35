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


def html_params(**attributes: Any) -> Markup:
    """``name="value"`` pairs sorted by name; True writes the name alone, False nothing (as WTForms)."""
    written = []
    for key, value in sorted(attributes.items()):
        name = escape(_clean_key(key))
        if value is True:
            written.append(str(name))
        elif value is not False:
            # escape() leaves Markup as it is: a quote inside it must still not end the attribute.
            written.append(f'{name}="{str(escape(value)).replace(chr(34), "&quot;")}"')
    return Markup(" ".join(written))


def use_in_widgets() -> None:
    """Make WTForms' widgets write their attributes with ``html_params`` (idempotent): the module's
    function, which most widgets call; the copy inputs and buttons keep as a class attribute; and the
    one labels reach through ``wtforms.widgets``."""
    wtforms.widgets.core.html_params = html_params
    wtforms.widgets.html_params = html_params
    for widget in vars(wtforms.widgets.core).values():
        if isinstance(widget, type) and widget.__dict__.get("html_params") is not None:
            widget.html_params = staticmethod(html_params)
