"""The index schema: one document per policy, per event and per passage of an attached text, and the version
that names its layout."""
from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from whoosh import columns
from whoosh.analysis import IDAnalyzer
from whoosh.fields import COLUMN, ID, STORED, TEXT, Schema

from tracker.search.analysis import ReferenceAnalyzer, SyllableAnalyzer, TextAnalyzer

# Bump whenever documents, fields or analysis change: an index of another version refuses to serve
# until `flask --app tracker search rebuild` has built one of this version.
SCHEMA_VERSION = 4

# The document that holds the index's own state (schema version, applied log position).
META_ID = "__meta__"

# Text fields searched when a query names no field, with their weight in the score.
TEXT_FIELDS = {"title": 4.0, "reference": 3.0, "body": 1.5, "text": 1.0, "syllables": 1.0}
# Facet name -> field; every facet is also a filter and a `name:value` query field.
FACETS = ("country", "status", "instrument", "topic", "vehicle_class", "year", "event")
# Fields of passages only: the policy and document they belong to (filters), their language, and whether
# they read as a table of contents or a bare heading (ranked below real provisions).
PASSAGE_FIELDS = ("policy", "document", "language", "kind")
# Sort name -> column (descending, ties by record key).
SORT_COLUMNS = {"latest": "latest", "adopted": "adopted"}


# whoosh has no type information, so TEXT is Any to mypy: subclassing it cannot be checked.
class PreAnalyzedText(TEXT):  # type: ignore[misc]
    """A TEXT field that also takes its text already analysed: a list of terms in order.

    Documents are analysed once (tracker.search.documents) and the term lists go straight to
    postings; Whoosh's own path builds a token object per word, which dominates a full build.
    Strings still go through the analyzer, as every query does.
    """

    def index(self, value: str | list[str], **kwargs: Any) -> Iterator[tuple[bytes, int, float, bytes]]:
        if not isinstance(value, list):
            yield from super().index(value, **kwargs)
            return
        positions: dict[str, list[int]] = {}
        for position, term in enumerate(value):
            found = positions.get(term)
            if found is None:
                positions[term] = [position]
            else:
                found.append(position)
        encode, boost = self.format.encode, self.format.field_boost
        for term, found in positions.items():
            yield term.encode("utf-8"), len(found), len(found) * boost, encode(found)


def make_schema() -> Schema:
    """The schema of a fresh index."""
    text = TextAnalyzer()
    # A query word that analyses into several tokens (a Lao run, "e-mobility") must match them as a
    # phrase, not as unrelated words anywhere in the document.
    fields = {
        "id": ID(unique=True, stored=True),
        "type": ID(),
        "state": ID(),
        "digest": STORED(),
        "meta": STORED(),
        "title": PreAnalyzedText(analyzer=text, field_boost=TEXT_FIELDS["title"], multitoken_query="phrase"),
        "reference": TEXT(analyzer=ReferenceAnalyzer(), field_boost=TEXT_FIELDS["reference"],
                          multitoken_query="phrase"),
        "body": PreAnalyzedText(analyzer=text, field_boost=TEXT_FIELDS["body"], multitoken_query="phrase"),
        "text": PreAnalyzedText(analyzer=text, field_boost=TEXT_FIELDS["text"], multitoken_query="phrase"),
        "syllables": PreAnalyzedText(analyzer=SyllableAnalyzer(), field_boost=TEXT_FIELDS["syllables"],
                          multitoken_query="phrase"),
        # Unstemmed words of the document, for "did you mean" suggestions only.
        "spell": ID(),
        "latest": COLUMN(columns.NumericColumn("i")),
        "adopted": COLUMN(columns.NumericColumn("i")),
        "sortkey": COLUMN(columns.VarBytesColumn()),
        # The policy a document is or belongs to (0 for an event): links a passage's match to its record.
        "owner": COLUMN(columns.NumericColumn("i")),
    }
    for name in FACETS + PASSAGE_FIELDS:
        fields[name] = ID(analyzer=IDAnalyzer(lowercase=True))
    return Schema(**fields)
