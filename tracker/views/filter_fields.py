"""The checkbox groups of the filter forms (policy list, comparison matrix), written in one Python pass.

A list page's filters offer some sixty checkboxes in five groups; through a template loop, each checkbox cost a
handful of template expressions, more than the rest of the form. The markup is the template's as it was: a
``<details>`` group, open while something in it is chosen so that what filters the list stays in sight, with
the count of chosen values, a fieldset and one labelled checkbox per value, working with no script.
"""
from __future__ import annotations

from collections.abc import Collection, Mapping

from markupsafe import Markup

from tracker.translation import ngettext
from tracker.views.policy_rows import escape_text


def checkbox_filter(id: str, name: str, label: object, options: Mapping[str, object],
                    selected: Collection[str]) -> Markup:
    """A group of checkboxes named ``name``, one per option (value → text), those in ``selected`` checked."""
    esc = escape_text
    label_html = esc(label)
    chosen = ""
    if selected:
        count = ngettext("%(num)s chosen", "%(num)s chosen", len(selected))
        chosen = f' <span class="meta">({esc(count)})</span>'
    name_html = esc(name)
    boxes = "".join(
        f'<label><input type="checkbox" name="{name_html}" value="{esc(code)}"'
        f'{" checked" if code in selected else ""}> {esc(text)}</label>\n'
        for code, text in options.items())
    return Markup(
        f'<details class="field choice-group" id="{esc(id)}"{" open" if selected else ""}>\n'
        f'<summary>{label_html}{chosen}</summary>\n<fieldset>\n'
        f'<legend class="visually-hidden">{label_html}</legend>\n{boxes}</fieldset>\n</details>\n')
