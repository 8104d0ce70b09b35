"""The rows of a policy table, worked out in one call per row for the template that lays them out.

A list page shows twenty or more policies, and each row needs a dozen small answers: its address (with the
reader's comparison along), its title in the reader's language and the other one, its topics', country's,
instrument's and status's names, its date, its "add to comparison" link. Asked one by one from the template,
every answer is a Jinja call (argument inspection, context lookups) costing more than the answer itself,
which made the rows the largest part of a rendered list. Here they are answered together; the template keeps
the markup.
"""
from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

from flask import url_for
from markupsafe import Markup

from tracker.i18n import (
    LocalizedText,
    current_language,
    format_partial_date,
    local_name,
    localized,
    other_language_text,
)
from tracker.models.vocab import EDITORIAL_STATES, INSTRUMENTS, LEGAL_STATUSES
from tracker.translation import gettext as _
from tracker.views.compare_policies import Tray, with_tray

# What Werkzeug leaves unquoted in a path segment (werkzeug.routing.converters.BaseConverter.to_url).
PATH_SEGMENT_SAFE = "!$&'()*+,/:;=@"


@dataclass(frozen=True, slots=True)
class PolicyRow:
    """One policy as a row of a table shows it."""

    key: str
    href: str
    title: LocalizedText
    # The title in the other language, when the record has it (a second line under the first).
    second_title: LocalizedText | None
    topics: tuple[str, ...]
    # The editorial state's name when the record is not published (staff lists), else None.
    editorial_state: str | None
    country: str
    instrument: str
    status: str
    status_name: str
    date: str
    # "in" when the policy is in the reader's comparison, "out" when it can be added, None when it cannot
    # (unpublished records are never compared).
    comparison: str | None
    comparison_url: str | None


def policy_rows(policies: Sequence[Any], topic_names: Mapping[str, str], page: Any = None,
                tray: Tray | None = None) -> list[PolicyRow]:
    """The rows of ``policies`` (records or list summaries); ``page`` gives the statuses of an as-of list,
    ``tray`` the comparison the rows link to (None: no comparison links)."""
    # Names of a closed vocabulary, translated once per table rather than once per row.
    instruments: dict[str, str] = {}
    statuses: dict[str, str] = {}
    rows = []
    chosen = frozenset(tray.keys) if tray is not None else frozenset()
    carries_tray = tray is not None and bool(tray.policies)
    language = current_language()
    # Every row links to a record: the address up to the key is made once (url_for matched the URL map anew
    # for each row), the key quoted as Werkzeug's converter quotes it.
    detail_prefix = url_for("policies.detail", key="_")[:-1]
    for policy in policies:
        href = detail_prefix + quote(str(policy.key), safe=PATH_SEGMENT_SAFE)
        status = page.status_of(policy) if page is not None else policy.legal_status
        instrument = policy.instrument
        if instrument not in instruments:
            instruments[instrument] = str(INSTRUMENTS.get(instrument, instrument))
        if status not in statuses:
            statuses[status] = str(LEGAL_STATUSES.get(status, status))
        comparison = comparison_url = None
        if tray is not None and policy.editorial_state == "published":
            if policy.key in chosen:
                comparison, comparison_url = "in", tray.remove_url(policy.key)
            else:
                comparison, comparison_url = "out", tray.add_url(policy.key)
        rows.append(PolicyRow(
            key=policy.key,
            href=with_tray(href) if carries_tray else href,
            title=localized(policy, "title", language),
            second_title=other_language_text(policy, "title", language),
            topics=tuple(topic_names.get(key, key) for key in policy.topic_keys),
            editorial_state=(str(EDITORIAL_STATES[policy.editorial_state])
                             if policy.editorial_state != "published" else None),
            country=local_name(policy.jurisdiction, language),
            instrument=instruments[instrument],
            status=status,
            status_name=statuses[status],
            date=format_partial_date(policy.status_changed_on, "—", language),
            comparison=comparison,
            comparison_url=comparison_url,
        ))
    return rows


def escape_text(text: object) -> str:
    """``text`` escaped for HTML as markupsafe.escape escapes it (markup as it is; None as nothing)."""
    if text is None:
        return ""
    if hasattr(text, "__html__"):
        return str(text.__html__())
    # The entities markupsafe writes; five replacements in C cost less than its escape(), which wraps every
    # answer in a Markup object (a third of the rows' cost), or a translation table.
    return (str(text).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace("'", "&#39;")
            .replace('"', "&#34;"))


def policy_rows_html(policies: Sequence[Any], topic_names: Mapping[str, str], page: Any = None,
                     tray: Tray | None = None, show_country: bool = True) -> Markup:
    """The ``<tr>`` rows of a policy table (see policy_rows), written out here: twenty rows of a dozen values
    each cost more through template expressions than everything else on a list page's table."""
    esc = escape_text
    topics_label = esc(_("Topics"))
    if tray is not None:
        add_label, in_label, remove_label = esc(_("Add to comparison")), esc(_("In the comparison")), esc(_("Remove"))
    html: list[str] = []
    write = html.append
    for row in policy_rows(policies, topic_names, page, tray):
        key = esc(row.key)
        title = row.title.__html__()
        write(f'<tr>\n<td>\n<a class="title" href="{esc(row.href)}">{title}</a>\n')
        second = row.second_title
        if second:
            if second.language == "lo":
                write(f'<div class="subtitle"><span lang="lo" class="lo">{esc(second.text)}</span></div>\n')
            else:
                write(f'<div class="subtitle"><span lang="en">{esc(second.text)}</span></div>\n')
        if row.topics:
            items = "".join(f"<li>{esc(name)}</li>" for name in row.topics)
            write(f'<ul class="tags" aria-label="{topics_label}">{items}</ul>\n')
        if row.editorial_state:
            write(f'<span class="editorial">{esc(row.editorial_state)}</span>\n')
        if row.comparison == "in":
            write(f'<span class="compare-add chosen" id="compare-{key}"><span aria-hidden="true">✓</span> {in_label} · '
                  f'<a href="{esc(row.comparison_url)}#compare-{key}">{remove_label}'
                  f'<span class="visually-hidden"> {title}</span></a></span>\n')
        elif row.comparison == "out":
            write(f'<a class="compare-add" id="compare-{key}" href="{esc(row.comparison_url)}#compare-{key}" '
                  f'rel="nofollow"><span aria-hidden="true">+</span> {add_label}</a>\n')
        write("</td>\n")
        if show_country:
            write(f"<td>{esc(row.country)}</td>\n")
        write(f'<td>{esc(row.instrument)}</td>\n<td><span class="status status-{esc(row.status)}">'
              f'{esc(row.status_name)}</span></td>\n<td class="nowrap">{esc(row.date)}</td>\n</tr>\n')
    return Markup("".join(html))
