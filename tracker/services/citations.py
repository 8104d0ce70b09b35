"""Citing a policy or event: APA (7th edition) and Chicago (17th edition, author-date) text, and BibTeX, RIS
and CSL-JSON files for reference managers.

A citation names the record as the tracker shows it: the instrument's issuer (an event's organisers) as
author, else the government of its country; the instrument's date; its English title with the Lao one
beside it; the tracker as the website it is found on; the record's address, its version and the date of
that version, and the day the reader looked. Citation text is English whatever the reader's language:
APA and Chicago are English styles, and their words ("Retrieved", "n.d.") have no agreed Lao form.
"""
from __future__ import annotations

import datetime as dt
import json
import re
from dataclasses import dataclass
from typing import Any
from zoneinfo import ZoneInfo

from flask_babel import force_locale

from tracker.i18n import TIMEZONE
from tracker.models import Event, Jurisdiction, Organisation, Policy
from tracker.models.types import PartialDate
from tracker.models.vocab import EVENT_KINDS, INSTRUMENTS

# How the tracker names itself (the site's name in English, as its pages and feeds give it).
TRACKER_NAME = "EV Policy Tracker"
MONTHS = ("January", "February", "March", "April", "May", "June", "July", "August", "September", "October",
          "November", "December")
BIBTEX_MONTHS = ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec")
# Media types and file extensions of the downloads.
FORMATS = {"bib": "application/x-bibtex", "ris": "application/x-research-info-systems",
           "json": "application/vnd.citationstyles.csl+json"}

_LAO = re.compile("[\u0e80-\u0eff]")
_LATIN = re.compile("[A-Za-z]")
# Line breaks, tabs and other control characters: every field of every format is one line.
_SPACES = re.compile(r"[\s\x00-\x1f\x7f-\x9f\u2028\u2029]+")


@dataclass(frozen=True)
class Segment:
    """A run of citation text: in italics (APA's titles) or not, and in Lao or not (``lang``)."""

    text: str
    italic: bool = False
    lang: str | None = None


@dataclass(frozen=True)
class Citation:
    """What every format says of one record."""

    kind: str  # "policy" or "event"
    key: str
    title: str  # English, else Lao
    title_lo: str | None  # the Lao title beside an English one
    authors: tuple[str, ...]
    issued: PartialDate | None
    reference: str | None
    genre: str  # the kind of instrument or event, in English
    version: int
    updated_on: dt.date  # the day of the version cited (Vientiane)
    url: str
    accessed: dt.date

    @property
    def id(self) -> str:
        return f"{self.kind}:{self.key}"


def _one_line(text: str) -> str:
    return _SPACES.sub(" ", text).strip()


def _lang(text: str) -> str | None:
    """``lo`` for text in Lao script only (digits and punctuation aside)."""
    return "lo" if _LAO.search(text) and not _LATIN.search(text) else None


def _organisation_name(organisation: Organisation) -> str:
    return _one_line(organisation.name_en or organisation.name_lo or organisation.key)


def _government(jurisdiction: Jurisdiction | None) -> tuple[str, ...]:
    """The author of a record without issuer or organiser: its country's government, ASEAN for a regional
    instrument, nobody for an international one."""
    if jurisdiction is None or jurisdiction.kind == "international":
        return ()
    if jurisdiction.kind == "regional":
        return ("Association of Southeast Asian Nations",)
    return (f"Government of {jurisdiction.name_en}",)


def _local_day(moment: dt.datetime) -> dt.date:
    return moment.astimezone(ZoneInfo(TIMEZONE)).date()


def _titles(english: str | None, lao: str | None, key: str) -> tuple[str, str | None]:
    english, lao = _one_line(english or ""), _one_line(lao or "")
    if english:
        return english, lao or None
    return lao or key, None


def policy_citation(policy: Policy, url: str, accessed: dt.date) -> Citation:
    """The citation of a policy whose issuer, jurisdiction and status history are loaded."""
    dated = [step.effective_on for step in sorted(policy.status_changes, key=lambda step: step.position)
             if step.effective_on is not None]
    # The instrument's date: its adoption, else the start of its validity, else its first dated step.
    issued = policy.adopted_on or policy.valid_from or (dated[0] if dated else None)
    title, title_lo = _titles(policy.title_en, policy.title_lo, policy.key)
    with force_locale("en"):
        genre = str(INSTRUMENTS.get(policy.instrument, policy.instrument))
    return Citation(
        kind="policy", key=policy.key, title=title, title_lo=title_lo,
        authors=(_organisation_name(policy.issuer),) if policy.issuer else _government(policy.jurisdiction),
        issued=issued, reference=_one_line(policy.reference or "") or None, genre=genre,
        version=policy.version, updated_on=_local_day(policy.updated_at), url=url, accessed=accessed)


def event_citation(event: Event, url: str, accessed: dt.date) -> Citation:
    """The citation of an event whose organisations and jurisdiction are loaded."""
    title, title_lo = _titles(event.name_en, event.name_lo, event.key)
    organisers = tuple(_organisation_name(organisation) for organisation in event.organisations_in("organiser"))
    with force_locale("en"):
        genre = str(EVENT_KINDS.get(event.kind, event.kind))
    return Citation(
        kind="event", key=event.key, title=title, title_lo=title_lo,
        authors=organisers or _government(event.jurisdiction), issued=event.starts_on, reference=None,
        genre=genre, version=event.version, updated_on=_local_day(event.updated_at), url=url, accessed=accessed)


# ---------------------------------------------------------------------------------------------------
# Text: APA and Chicago


def _long_date(day: dt.date) -> str:
    return f"{MONTHS[day.month - 1]} {day.day}, {day.year}"


def _period(text: str) -> str:
    """``text`` closed by a period, unless it ends with one, a question or an exclamation mark already."""
    return text if text.endswith((".", "?", "!")) else text + "."


def _names(authors: tuple[str, ...], conjunction: str) -> str:
    if len(authors) <= 1:
        return "".join(authors)
    if len(authors) == 2 and conjunction == "and":
        return f"{authors[0]} and {authors[1]}"
    return ", ".join(authors[:-1]) + f", {conjunction} {authors[-1]}"


def _apa_date(date: PartialDate | None) -> str:
    if date is None:
        return "n.d."
    if date.month is None:
        return str(date.year)
    month = MONTHS[date.month - 1]
    return f"{date.year}, {month} {date.day}" if date.day else f"{date.year}, {month}"


def _title_segments(citation: Citation, title: str, *, italic: bool = False) -> list[Segment]:
    segments = [Segment(title, italic=italic, lang=_lang(citation.title))]
    if citation.title_lo:
        segments += [Segment(" ["), Segment(citation.title_lo, lang="lo"), Segment("]")]
    return segments


def apa(citation: Citation) -> list[Segment]:
    """APA 7th edition, as for a page of a website whose content changes: group author, date, title in
    italics with the Lao title in brackets, reference number and version in parentheses, the site, and
    the day it was retrieved."""
    details = "; ".join(part for part in (
        citation.reference,
        f"version {citation.version}, last updated {_long_date(citation.updated_on)}") if part)
    title = [*_title_segments(citation, citation.title, italic=True), Segment(f" ({details}).")]
    date = Segment(f"({_apa_date(citation.issued)}).")
    if citation.authors:
        authors = _names(citation.authors, "&")
        head = [Segment(_period(authors), lang=_lang(authors)), Segment(" "), date, Segment(" "), *title]
    else:
        head = [*title, Segment(" "), date]
    return [*head, Segment(f" {TRACKER_NAME}. Retrieved {_long_date(citation.accessed)}, from {citation.url}")]


def chicago(citation: Citation) -> list[Segment]:
    """Chicago 17th edition, author-date reference list entry: author, year, the title in quotation marks
    with the Lao title in brackets, reference number, the site, version and date modified, accessed date
    and address."""
    year = Segment(f"{citation.issued.year}." if citation.issued else "n.d.")
    if citation.title_lo:
        title = [*_title_segments(citation, f"“{citation.title}”"), Segment(".")]
    else:
        # Chicago sets the period inside the closing quotation mark.
        title = _title_segments(citation, f"“{_period(citation.title)}”")
    if citation.authors:
        authors = _names(citation.authors, "and")
        head = [Segment(_period(authors), lang=_lang(authors)), Segment(" "), year, Segment(" "), *title]
    else:
        head = [*title, Segment(" "), year]
    tail = f" {_period(citation.reference)}" if citation.reference else ""
    tail += (f" {TRACKER_NAME}. Version {citation.version}, last modified {_long_date(citation.updated_on)}. "
             f"Accessed {_long_date(citation.accessed)}. {citation.url}.")
    return [*head, Segment(tail)]


def plain(segments: list[Segment]) -> str:
    return "".join(segment.text for segment in segments)


# ---------------------------------------------------------------------------------------------------
# Files: BibTeX, RIS, CSL-JSON


def _notes(citation: Citation) -> list[str]:
    notes = [f"Lao title: {citation.title_lo}"] if citation.title_lo else []
    if citation.reference:
        notes.append(citation.reference)
    notes.append(f"{citation.genre} record, version {citation.version}, last updated "
                 f"{citation.updated_on.isoformat()}")
    return notes


# LaTeX's special characters, written so that BibTeX and LaTeX print them as they are.
_BIBTEX_SPECIAL = {"\\": r"\textbackslash{}", "{": r"\{", "}": r"\}", "&": r"\&", "%": r"\%", "$": r"\$",
                   "#": r"\#", "_": r"\_", "~": r"\textasciitilde{}", "^": r"\textasciicircum{}"}


def bibtex_text(text: str) -> str:
    """``text`` as the value of a BibTeX field: one line, LaTeX's special characters escaped."""
    return "".join(_BIBTEX_SPECIAL.get(character, character) for character in _one_line(text))


def bibtex(citation: Citation) -> str:
    """One ``@misc`` entry; the fields of BibTeX's standard styles, and biblatex's ``date``, ``urldate``
    and ``version``. Corporate authors and the title are braced so that no style abbreviates or recases
    them."""
    fields: list[tuple[str, str]] = []
    if citation.authors:
        fields.append(("author", "{" + " and ".join("{" + bibtex_text(name) + "}" for name in citation.authors) + "}"))
    fields.append(("title", "{{" + bibtex_text(citation.title) + "}}"))
    if citation.issued is not None:
        fields.append(("year", "{" + str(citation.issued.year) + "}"))
        if citation.issued.month is not None:
            # A month is a macro of the styles (jan, feb...): written bare, it prints in the style's language.
            fields.append(("month", BIBTEX_MONTHS[citation.issued.month - 1]))
        fields.append(("date", "{" + citation.issued.isoformat() + "}"))
    # A URL is printed verbatim: only braces (which would end the field) and spaces are encoded.
    url = citation.url.replace("{", "%7B").replace("}", "%7D").replace(" ", "%20")
    fields += [("howpublished", "{" + bibtex_text(TRACKER_NAME) + "}"),
               ("version", "{" + str(citation.version) + "}"),
               ("note", "{" + bibtex_text("; ".join(_notes(citation))) + "}"),
               ("url", "{" + url + "}"), ("urldate", "{" + citation.accessed.isoformat() + "}")]
    body = "".join(f"  {name} = {value},\n" for name, value in fields)
    return f"@misc{{{citation.id},\n{body}}}\n"


def _ris_date(date: PartialDate | dt.date) -> str:
    month = f"{date.month:02d}" if date.month else ""
    day = f"{date.day:02d}" if date.day else ""
    return f"{date.year}/{month}/{day}/"


def ris(citation: Citation) -> str:
    """One RIS reference of type ELEC (a web page): tag, two spaces, a dash, a space and the value, one
    line each, lines ended by CR LF as the format asks, ``ER`` last."""
    tags: list[tuple[str, str]] = [("TY", "ELEC"), ("ID", citation.id)]
    tags += [("AU", name) for name in citation.authors]
    tags.append(("TI", citation.title))
    if citation.issued is not None:
        tags += [("PY", str(citation.issued.year)), ("DA", _ris_date(citation.issued))]
    tags += [("T2", TRACKER_NAME), ("PB", TRACKER_NAME), ("M3", citation.genre), ("ET", str(citation.version)),
             ("UR", citation.url), ("Y2", _ris_date(citation.accessed))]
    tags += [("N1", note) for note in _notes(citation)]
    tags.append(("ER", ""))
    return "".join(f"{tag}  - {_one_line(value)}\r\n" for tag, value in tags)


def _date_parts(date: PartialDate | dt.date) -> dict[str, Any]:
    return {"date-parts": [[part for part in (date.year, date.month, date.day) if part]]}


def csl_item(citation: Citation) -> dict[str, Any]:
    """The record as a CSL-JSON item of type ``webpage`` (the Lao title as ``original-title``: Lao is the
    original language of Lao instruments)."""
    item: dict[str, Any] = {"id": citation.id, "type": "webpage", "title": citation.title}
    if citation.title_lo:
        item["original-title"] = citation.title_lo
    if citation.authors:
        item["author"] = [{"literal": name} for name in citation.authors]
    if citation.issued is not None:
        item["issued"] = _date_parts(citation.issued)
    item |= {"container-title": TRACKER_NAME, "genre": f"{citation.genre} record", "version": str(citation.version)}
    if citation.reference:
        item["number"] = citation.reference
    item |= {"URL": citation.url, "accessed": _date_parts(citation.accessed),
             "note": "; ".join(_notes(citation))}
    return item


def csl_json(citation: Citation) -> str:
    """A CSL-JSON file: an array holding the record's item."""
    return json.dumps([csl_item(citation)], ensure_ascii=False, indent=2) + "\n"


def file_of(citation: Citation, extension: str) -> str:
    """The citation file with that extension (``bib``, ``ris`` or ``json``)."""
    return {"bib": bibtex, "ris": ris, "json": csl_json}[extension](citation)
