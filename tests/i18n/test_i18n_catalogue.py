"""The Lao catalogue: complete, up to date with the code, compiled, and consistent with the glossary."""
from __future__ import annotations

import gettext
import re
import subprocess
import sys
from pathlib import Path

import pytest
from babel.messages.pofile import read_po

ROOT = Path(__file__).resolve().parents[2]
TRANSLATIONS = ROOT / "tracker" / "translations"
PO = TRANSLATIONS / "lo" / "LC_MESSAGES" / "messages.po"
MO = TRANSLATIONS / "lo" / "LC_MESSAGES" / "messages.mo"
GLOSSARY = ROOT / "docs" / "glossary.md"
PLACEHOLDER = re.compile(r"%\((\w+)\)[sd]")


@pytest.fixture(scope="module")
def catalogue():
    with PO.open("rb") as handle:
        return read_po(handle, locale="lo")


def _messages(catalogue):
    return [message for message in catalogue if message.id]


def _text(value) -> str:
    return value[0] if isinstance(value, tuple) else value


def test_lao_has_one_plural_form(catalogue):
    assert catalogue.num_plurals == 1
    assert catalogue.plural_expr == "0"


def test_every_message_is_translated_and_none_is_fuzzy(catalogue):
    untranslated = [message.id for message in _messages(catalogue) if not _text(message.string)]
    fuzzy = [message.id for message in _messages(catalogue) if message.fuzzy]
    assert untranslated == []
    assert fuzzy == []


def test_translations_keep_every_placeholder(catalogue):
    # A lost or misspelt %(name)s would raise a KeyError, or drop the value, in front of the reader.
    wrong = []
    for message in _messages(catalogue):
        # Lao's one plural form stands for the English plural, whose placeholders it must keep.
        english = message.id[1] if isinstance(message.id, tuple) else message.id
        if set(PLACEHOLDER.findall(english)) != set(PLACEHOLDER.findall(_text(message.string))):
            wrong.append(english)
    assert wrong == []


def test_translations_keep_markup_and_formats(catalogue):
    wrong = [message.id for message in _messages(catalogue)
             if isinstance(message.id, str) and message.id.count("%%") != _text(message.string).count("%%")]
    assert wrong == []


def test_the_compiled_catalogue_matches_the_po_file(catalogue):
    with MO.open("rb") as handle:
        compiled = gettext.GNUTranslations(handle)
    for message in _messages(catalogue):
        if isinstance(message.id, tuple):
            assert compiled.ngettext(*message.id, 1) == message.string[0], message.id
        else:
            assert compiled.gettext(message.id) == message.string, message.id
    # And nothing in the .mo that the .po no longer has (a stale compile).
    assert len(compiled._catalog) - 1 == len(_messages(catalogue))  # minus the header entry


def test_the_catalogue_holds_every_message_of_the_code(catalogue, tmp_path):
    template = tmp_path / "messages.pot"
    pybabel = Path(sys.executable).with_name("pybabel")
    subprocess.run([str(pybabel), "-q", "extract", "-F", "babel.cfg", "-k", "_l",
                    "-k", "N_", "--no-wrap", "-o", str(template), "."], cwd=ROOT, check=True)
    with template.open("rb") as handle:
        extracted = {message.id for message in read_po(handle) if message.id}
    known = {message.id for message in _messages(catalogue)}
    missing = sorted(map(str, extracted - known))
    assert missing == [], ("run the pybabel update of the README, then translate:\n" + "\n".join(missing))
    obsolete = sorted(map(str, known - extracted))
    assert obsolete == [], "messages no longer in the code; run pybabel update"


# ---------------------------------------------------------------------------------------------------
# The glossary


def glossary_rows() -> list[list[str]]:
    """The rows of the tables of docs/glossary.md: English, Lao, code or key, ... (the interface's terms;
    the search terms at its end are search vocabulary, checked by tests/unit/test_search_vocabulary.py)."""
    rows = []
    interface = GLOSSARY.read_text(encoding="utf-8").split("\n## Search terms\n", 1)[0]
    for line in interface.splitlines():
        if not line.startswith("|"):
            continue
        cells = [cell.strip() for cell in line.strip().strip("|").split("|")]
        if len(cells) >= 2 and not set(cells[0]) <= set("-: ") and cells[0] != "English":
            rows.append(cells)
    return rows


def glossary_terms() -> dict[str, str]:
    """English term -> Lao term."""
    return {row[0]: row[1] for row in glossary_rows()}


def test_the_glossary_covers_every_controlled_vocabulary():
    from tracker.models import vocab
    from tracker.models.proposal import PROPOSAL_STATES
    from tracker.models.user import ROLES

    terms = glossary_terms()
    labels = [str(label) for mapping in (
        vocab.LEGAL_STATUSES, vocab.EDITORIAL_STATES, vocab.INSTRUMENTS, vocab.INSTRUMENT_KINDS, vocab.VEHICLE_CLASSES,
        vocab.FORUM_ROLES,
        vocab.SOURCE_KINDS, vocab.BODY_ROLES, vocab.EVENT_ROLES, vocab.ORGANISATION_KINDS, vocab.EVENT_KINDS,
        vocab.CONFIDENCE_LEVELS, ROLES, PROPOSAL_STATES, vocab.DOCUMENT_ROLES, vocab.EXTRACTION_STATUSES)
        for label in mapping.values()]
    labels += [str(label) for pair in vocab.RELATION_TYPES.values() for label in pair]
    assert sorted(set(labels) - set(terms)) == []


def test_the_catalogue_uses_the_glossary_terms(catalogue):
    """Each label of a controlled vocabulary is translated exactly as the glossary says."""
    translations = {message.id: message.string for message in _messages(catalogue) if isinstance(message.id,
                                                                                                 str)}
    different = {english: (lao, translations[english]) for english, lao in glossary_terms().items()
                 if english in translations and translations[english] != lao}
    assert different == {}


def test_the_glossary_writes_ministries_as_official_documents_do(demo_data):
    text = GLOSSARY.read_text(encoding="utf-8")
    assert "| Ministry of Energy and Mines | ກະຊວງພະລັງງານ ແລະ ບໍ່ແຮ່ |" in text
    # The data the pages show names the Lao bodies the same way.
    organisations = {organisation["key"]: organisation for organisation in demo_data["organisations"]}
    keyed = [row for row in glossary_rows() if len(row) > 2 and row[2].strip("`").startswith("la-")]
    assert len(keyed) >= 10
    for english, lao, key, *_rest in keyed:
        assert organisations[key.strip("`")]["name_lo"] == lao, english


def test_every_topic_and_country_has_a_lao_name_in_the_glossary_or_the_data(demo_data):
    terms = glossary_terms()
    for topic in demo_data["topics"]:
        assert topic.get("name_lo") or topic["name_en"] in terms, topic["name_en"]


# English words that are glossary terms only in one of their senses: "Unknown organisation" is not the
# status Unknown, a "Law firm" is not a law, and so on.
HOMONYMS = ("Unknown ", "Law firm", "Standard Webhooks", "Follow the link", "Published again", "Other parts",
            "Reference lists", "Published in the Official Gazette")


def test_sentences_use_the_glossary_words_for_its_terms(catalogue):
    """A glossary term inside a longer message is translated with the glossary's word there too."""
    terms = glossary_terms()
    inconsistent = []
    for message in _messages(catalogue):
        if not isinstance(message.id, str):
            continue
        for english, lao in terms.items():
            if message.id == english:
                continue
            for match in re.finditer(r"(?<![\w-])" + re.escape(english) + r"(?![\w-])", message.id):
                if message.id.startswith(HOMONYMS, match.start()):
                    continue
                if lao not in message.string:
                    inconsistent.append(f"{english} -> {lao}: {message.id!r} = {message.string!r}")
    assert inconsistent == []
