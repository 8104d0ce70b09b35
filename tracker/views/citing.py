"""The "Cite this record" parts of policy and event pages: the citation shown, and its files to download."""
from __future__ import annotations

from dataclasses import dataclass

from flask import Response, url_for
from markupsafe import Markup, escape

from tracker.config import local_today
from tracker.lao import keep_words_whole
from tracker.models import Event, Policy
from tracker.services import citations

DETAIL_ENDPOINTS = {"policy": "policies.detail", "event": "events.detail"}
CITE_ENDPOINTS = {"policy": "policies.cite", "event": "events.cite"}


def permanent_url(kind: str, key: str) -> str:
    """The record's address: at its current key, which stays valid (an old key leads to the current one)."""
    return url_for(DETAIL_ENDPOINTS[kind], key=key, _external=True)


def citation_of(record: Policy | Event) -> citations.Citation:
    """The citation of a policy or event as read today (the reader's day of access)."""
    today = local_today()
    if isinstance(record, Policy):
        return citations.policy_citation(record, permanent_url("policy", record.key), today)
    return citations.event_citation(record, permanent_url("event", record.key), today)


def download(citation: citations.Citation, extension: str) -> Response:
    """The citation as a file of its format, to save (``<key>.bib``, ``<key>.ris``, ``<key>.json``)."""
    media_type = citations.FORMATS[extension]
    # BibTeX and RIS carry no declaration of their own encoding: the header says UTF-8.
    content_type = media_type if extension == "json" else f"{media_type}; charset=utf-8"
    return Response(citations.file_of(citation, extension), content_type=content_type, headers={
        "Content-Disposition": f'attachment; filename="{citation.key}.{extension}"'})


def citation_markup(segments: list[citations.Segment]) -> Markup:
    """A citation as HTML: its titles in italics, its Lao runs marked as Lao with their words kept whole.

    Written here rather than as a template loop: a citation is a score of short runs, and the loop cost more
    than the whole rest of the section."""
    parts = []
    for segment in segments:
        if segment.italic:
            lang = Markup(' lang="{}"').format(segment.lang) if segment.lang else ""
            parts.append(Markup("<i{}>{}</i>").format(lang, keep_words_whole(segment.text)))
        elif segment.lang:
            parts.append(Markup('<span lang="{}">{}</span>').format(segment.lang, keep_words_whole(segment.text)))
        else:
            parts.append(escape(segment.text))
    return Markup("").join(parts)


@dataclass(frozen=True)
class CitePanel:
    """What the "Cite this record" section shows: the text in two styles, and the files to download."""

    citation: citations.Citation
    apa: list[citations.Segment]
    chicago: list[citations.Segment]
    # (format, extension, address) of each file.
    downloads: list[tuple[str, str, str]]


def cite_panel(record: Policy | Event) -> CitePanel:
    citation = citation_of(record)
    kind = citation.kind
    files = [(name, extension, url_for(CITE_ENDPOINTS[kind], key=record.key, extension=extension))
             for name, extension in (("BibTeX", "bib"), ("RIS", "ris"), ("CSL-JSON", "json"))]
    return CitePanel(citation, citations.apa(citation), citations.chicago(citation), files)
