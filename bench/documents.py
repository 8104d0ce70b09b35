"""Attached documents: text extraction through the sandbox, and passage search against SQLite FTS5.

Usage: .venv/bin/python bench/documents.py [--documents 5000] [--pages 20] [--policies N] [--passes 3]
                                           [--queries 200] [--text-pages 100] [--ocr-pages 8] [--only PART]
                                           [--seed N] [--profile-queries] [--json PATH] [--workdir DIR] [--keep]

In one run and in a throwaway folder:

1. Extraction. PDFs printed by Debian's Chromium from the test fixtures' decree (tests/documents/fixtures.py):
   the English decree's four pages repeated to --text-pages pages (100), the Lao decree's likewise (its text
   layer has Chromium's doubled Lao clusters and guessed spaces, which extraction repairs), and the scanned
   Lao decree (image-only pages) repeated to --ocr-pages pages (8) with pypdf. Each goes through
   ``tracker.documents.sandbox.run_extract`` as the extraction worker runs it: a child process with the
   default limits, OCR on, the document's language. Each is extracted --passes times (after one unmeasured
   run that warms the disk cache). Per run: the wall time and the pages per second of the whole run (what a
   worker gets, child start included); from the child's per-page progress messages the seconds of each page
   after the first (the first also carries the child's start: interpreter, parsers, the Lao dictionary,
   which is reported apart as "start"); and the CPU time of the child and its Tesseracts. Medians over the
   runs (per-page: over all pages of all runs). A check line says whether the text came back (an English
   sentence verbatim, the Lao decree's known words).
2. Passage corpus. A migrated SQLite database gets the demo data's reference records through `flask data
   load` and --policies synthetic policies (default: one per five documents) from bench/corpus.py through
   bench/loader.py, as bench/search.py prepares its corpus. Then --documents attached texts of --pages pages
   each are written in bulk (``stored_files``, ``documents`` with status "done", ``document_passages``),
   one passage per page: the first a table of contents (``toc``: "Article N Title … page" entries, so one
   passage in --pages), the others provisions of 400 to 900 characters under headings "Article N Title"
   (an article runs over one to three passages). 30% of the texts are in Lao (a fifth of those scanned:
   method "ocr" with a confidence), written as Lao is, words without spaces and spaces between clauses,
   from bench/corpus.py's Lao words; the English texts are sentences drawn from its vocabulary (Zipf over
   20,000 word forms) with its domain phrases (mostly of the text's own topics) and citations of other
   instruments. Every text depends only on the seed and its number.
3. Builds. The tracker's indexes are built by its own command, `flask --app tracker search rebuild`, in a
   process of its own (records, then passages; the passages index's time and rate are read from what the
   command prints). Its size is the passages index folder, ``<SEARCH_INDEX_PATH>/passages``, and the
   growth per 1,000 pages is that size / pages × 1,000. The FTS5 baseline is built from the same database
   into its own SQLite file: a content table of headings and texts with Lao segmented into words by laonlp
   (as bench/fts5.py does; FTS5's unicode61 cannot find Lao words), a narrow table of the filter and
   sort columns (document, policy, language, toc, editorial state, position), and an external-content
   FTS5 table with bench/fts5.py's tokenizer. Its size is the FTS5 index proper (shadow tables).
4. Queries. A fixed mix of --queries queries (seeded, scaled from 200): 40 English single words (60% domain
   words, 30% mid-frequency and 10% rare ones, as bench/corpus.py draws them), 35 two-word AND, 35 quoted
   phrases (half bench/corpus.py's fixed phrases, half two consecutive words of a generated passage), 30
   Lao (words, some two-word AND), 30 words within one policy's texts, and 30 words of one text searched
   within that text: 15 in text order (sort by page), 15 by relevance. Both engines get the same query at
   the same moment, query by query, the order alternating between queries. The first pass is reported
   on its own ("first run": the tracker's term cache empty and its passages searcher still to open, as in
   a freshly started worker); then come --passes passes ("repeated"), a query's latency being the median
   of its passes. p50 and p95 are over the queries.

   What each side does, per query, page 1 of 20 passages:

   * tracker: ``tracker.services.search.search_passages(session, q, policies=..., documents=..., sort=...)``
     in this process, inside the app context, with a new database session per query as a web request has:
     parsing, matching in the passages index with the visibility and policy/document filters, provisions
     ranked before tables of contents (or text order), the 20 passages hydrated with their document and
     policy in one query and what the reader may not see dropped, the text and heading highlighted.
   * FTS5: the match with the same filters (published policies; the policy or document) into a temporary
     table of hits (FTS5 drives the loop, or the narrow table's index when searching within a policy or a
     text), the total, the 20 ids by (toc, BM25) or by (document, position), then those rows with the
     heading highlighted and a snippet of the text (FTS5 ``highlight`` and ``snippet``), joined to the
     tracker's ``documents`` and ``policies`` (attached read-only) with the same visibility check. One
     connection is reused, as a worker would.

   The totals are compared per query, to show both engines answer the same question. They differ where
   the analyses differ: the tracker also searches a word's synonyms and lemmas from its vocabulary
   (tracker/search/vocabulary.toml: "duty" finds "tariff" too, "electrified" finds "electrification"),
   a Lao word's English equivalents through its bridges (ການສາກໄຟ finds "charging station" in English
   texts), parts of Lao compounds (FTS5 only whole segmented words), stems with Whoosh's Porter stemmer
   where FTS5 has its own, drops English stop words, and when no passage has all the words of a
   two-word query it requires fewer (FTS5 then finds nothing).

How to read the output: extraction figures are per run of the sandbox (a child process per document,
as the worker runs it); latencies are milliseconds in this process, without HTTP. The ratio columns are
tracker / FTS5: "median ratio" is the median over the queries of each query's own ratio (robust to the
machine's noise, both engines having run the query at the same moment), "p95 ratio" divides the two
p95s. The target (tracker p95 at or under 200 ms at 100,000 passages) is printed with the figures and
whether it is met; it is information only. The script fails (exit status 1) only when something breaks —
a command that fails, an extraction that fails or gives no text, a query that raises — never on a time.
--json PATH writes the figures as JSON too, for the documentation. --only extraction or --only search
runs one part.
"""
from __future__ import annotations

import argparse
import contextlib
import cProfile
import io
import itertools
import json
import os
import platform
import random
import re
import resource
import shutil
import sqlite3
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass, field
from pathlib import Path

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
sys.path.insert(0, str(ROOT))

from corpus import (  # noqa: E402
    DEFAULT_SEED,
    FIXED_QUERY_PHRASES,
    FUNCTION_WORDS,
    GENERAL_PHRASES,
    LAO_PHRASES,
    LAO_QUERY_WORDS,
    LAO_WORDS,
    TOPIC_PHRASES,
    Corpus,
    Query,
    reference_of,
)
from fts5 import TOKENIZER, lao_tokenizer, segment_lao  # noqa: E402
from search import (  # noqa: E402
    BenchError,
    children_cpu,
    duration,
    environment,
    flask_with_progress,
    folder_size,
    megabytes,
    percentile,
    prepare_corpus,
    print_profile,
)

# Targets to compare with; information only.
TARGET_PASSAGES = 100_000
TARGET_P95_MS = 200.0

CLASSES = {"single": 40, "and2": 35, "phrase": 35, "lao": 30, "policy": 30, "doc_page": 15, "doc_rank": 15}
CLASS_LABELS = {"single": "single word", "and2": "two-word AND", "phrase": "phrase", "lao": "Lao",
                "policy": "in a policy", "doc_page": "in a text, page", "doc_rank": "in a text, rank"}
PER_PAGE = 20
# Chunks of texts written per transaction, and of passages read per FTS5 batch.
DOCUMENTS_PER_BATCH = 100
FTS_BATCH = 2000

LAO_SHARE = 0.3
SCANNED_SHARE_OF_LAO = 0.2
LAO_FUNCTION_WORDS = {"ປີ", "ແລະ", "ຂອງ", "ໃນ", "ເພື່ອ", "ໃຫ້"}
LAO_CONTENT_WORDS = [word for word in LAO_WORDS if word not in LAO_FUNCTION_WORDS]
ROLES = {"original": 50, "official_translation": 20, "unofficial_translation": 15, "annex": 10, "consolidated": 5}


class Transcript(io.TextIOBase):
    """Standard output that is also kept, so that figures a command printed can be read back."""

    def __init__(self, stream) -> None:
        self.stream = stream
        self.parts: list[str] = []

    def write(self, text: str) -> int:
        self.stream.write(text)
        self.parts.append(text)
        return len(text)

    def flush(self) -> None:
        self.stream.flush()

    @property
    def text(self) -> str:
        return "".join(self.parts)


def median(values: Iterable[float]) -> float:
    values = list(values)
    return statistics.median(values) if values else 0.0


# Part 1: extraction ----------------------------------------------------------------------------


@dataclass
class ExtractionResult:
    name: str
    label: str
    pages: int
    passes: int
    wall_s: list[float] = field(default_factory=list)
    cpu_s: list[float] = field(default_factory=list)
    page_s: list[float] = field(default_factory=list)   # every page after the first, of every run
    start_s: list[float] = field(default_factory=list)  # first page's time beyond a median page
    end_s: list[float] = field(default_factory=list)    # from the last page to the result
    pages_ocr: int = 0
    characters: int = 0
    passages: int = 0
    check: str = ""

    @property
    def pages_per_s(self) -> float:
        wall = median(self.wall_s)
        return self.pages / wall if wall else 0.0

    def figures(self) -> dict:
        return {"name": self.name, "label": self.label, "pages": self.pages, "passes": self.passes,
                "pages_ocr": self.pages_ocr, "characters": self.characters, "passages": self.passages,
                "run_s_median": median(self.wall_s), "pages_per_s": self.pages_per_s,
                "page_s_median": median(self.page_s), "start_s_median": median(self.start_s),
                "end_s_median": median(self.end_s),
                "cpu_s_per_page": median(self.cpu_s) / self.pages, "runs_s": self.wall_s, "check": self.check}


def print_pdf(markup: str, target: Path, browser) -> None:
    """``markup`` printed to ``target`` by Chromium, A4 with the page size of its stylesheet (as the fixtures)."""
    tab = browser.new_page()
    try:
        tab.set_content(markup, wait_until="load")
        tab.evaluate("document.fonts.ready.then(() => true)")
        tab.pdf(path=str(target), format="A4", print_background=True, prefer_css_page_size=True)
    finally:
        tab.close()


def repeated_pdf(source: Path, target: Path, pages: int) -> Path:
    """``source``'s pages repeated in order until ``target`` has ``pages`` pages (pypdf)."""
    from pypdf import PdfReader, PdfWriter

    reader = PdfReader(source)
    writer = PdfWriter()
    for number in range(pages):
        writer.add_page(reader.pages[number % len(reader.pages)])
    with target.open("wb") as out:
        writer.write(out)
    return target


def pdf_pages(path: Path) -> int:
    from pypdf import PdfReader

    return len(PdfReader(path).pages)


def make_extraction_files(folder: Path, text_pages: int, ocr_pages: int) -> dict[str, tuple[Path, str, str]]:
    """The PDFs to extract: name -> (path, document language, label)."""
    from tests.documents import fixtures

    folder.mkdir(parents=True, exist_ok=True)
    english = folder / f"english-decree-{text_pages}-pages.pdf"
    lao = folder / f"lao-decree-{text_pages}-pages.pdf"
    with fixtures.chromium() as browser:
        # The fixtures' own decrees, so that their known words and phrase check what came back.
        fixtures.english_pdf(folder, browser)
        fixtures.lao_pdf(folder, browser)
        scanned = fixtures.scanned_lao_pdf(folder, browser)
        for path, pages, language, fonts in ((english, fixtures.ENGLISH_PAGES, "en", fixtures.ENGLISH_FONTS),
                                             (lao, fixtures.LAO_PAGES, "lo", fixtures.LAO_FONTS)):
            sections = [pages[number % len(pages)] for number in range(text_pages)]
            print_pdf(fixtures.document_html(sections, language, fonts), path, browser)
    ocr = repeated_pdf(scanned, folder / f"lao-decree-scanned-{ocr_pages}-pages.pdf", ocr_pages)
    return {"english_text": (english, "en", "English, text layer"),
            "lao_text": (lao, "lo", "Lao, text layer + repair"),
            "lao_ocr": (ocr, "lo", "Lao scan, OCR")}


def extraction_check(name: str, text: str) -> str:
    from tests.documents import fixtures

    if name == "english_text":
        return f"English sentence verbatim: {'yes' if fixtures.ENGLISH_PHRASE in text else 'NO'}"
    found = sum(1 for word in fixtures.LAO_KNOWN_WORDS if word in text)
    return f"Lao known words found: {found}/{len(fixtures.LAO_KNOWN_WORDS)}"


def extract_once(path: Path, language: str, pages: int) -> tuple[float, float, list[float], object]:
    """One sandboxed extraction: wall seconds, CPU seconds of the child and its Tesseracts, the seconds
    between progress messages (the first from the start, the last to the result), and the result."""
    from tracker.documents import formats
    from tracker.documents.sandbox import BadFile, SandboxFailure, run_extract

    stamps: list[float] = []
    cpu = children_cpu()
    started = time.perf_counter()
    try:
        extracted = run_extract(path, formats.PDF, language, max_pages=pages,
                                progress=lambda done, total: stamps.append(time.perf_counter()))
    except (BadFile, SandboxFailure) as error:
        raise BenchError(f"extraction of {path.name} failed: {error.__class__.__name__}: {error}") from error
    wall = time.perf_counter() - started
    intervals = [later - earlier for earlier, later in zip([started, *stamps], [*stamps, started + wall])]
    return wall, children_cpu() - cpu, intervals, extracted


def run_extraction(folder: Path, args: argparse.Namespace) -> list[ExtractionResult]:
    print("\n=== Extraction through the sandbox", flush=True)
    print(f"  Printing the PDFs with Chromium ({args.text_pages} pages English and Lao, {args.ocr_pages} "
          f"scanned pages) ...", flush=True)
    started = time.perf_counter()
    files = make_extraction_files(folder, args.text_pages, args.ocr_pages)
    print(f"    done in {duration(time.perf_counter() - started)}", flush=True)
    results = []
    for name, (path, language, label) in files.items():
        pages = pdf_pages(path)
        result = ExtractionResult(name, label, pages, args.passes)
        # One run unmeasured: the child's modules and the dictionaries come from disk the first time.
        print(f"  {label}: {pages} pages, {args.passes} runs (after one warm-up run) ...", flush=True)
        extract_once(path, language, pages)
        for number in range(1, args.passes + 1):
            wall, cpu, intervals, extracted = extract_once(path, language, pages)
            if not extracted.passages:
                raise BenchError(f"extraction of {path.name} gave no passages")
            result.wall_s.append(wall)
            result.cpu_s.append(cpu)
            steady = intervals[1:-1]
            result.page_s += steady
            result.start_s.append(max(0.0, intervals[0] - median(steady)))
            result.end_s.append(intervals[-1])
            result.pages_ocr, result.characters, result.passages = (extracted.pages_ocr, extracted.characters,
                                                                   len(extracted.passages))
            result.check = extraction_check(name, "\n".join(passage.text for passage in extracted.passages))
            print(f"    run {number}/{args.passes}: {wall:.2f} s, {pages / wall:.1f} pages/s, "
                  f"{extracted.pages_ocr} pages by OCR, {len(extracted.passages)} passages", flush=True)
        results.append(result)
    return results


def report_extraction(results: list[ExtractionResult]) -> None:
    print(f"\n--- Extraction through the sandbox (run_extract, default limits): median of {results[0].passes} runs")
    header = (f"{'document':<26}{'pages':>6}{'OCR':>5}{'chars/page':>12}{'passages':>10}{'run s':>8}"
              f"{'pages/s':>9}{'s/page':>8}{'start s':>9}{'end s':>7}{'CPU s/page':>12}")
    print(header)
    print("-" * len(header))
    for result in results:
        figures = result.figures()
        print(f"{result.label:<26}{result.pages:>6}{result.pages_ocr:>5}{result.characters / result.pages:>12,.0f}"
              f"{result.passages:>10}{figures['run_s_median']:>8.2f}{figures['pages_per_s']:>9.1f}"
              f"{figures['page_s_median'] if result.page_s else '-':>8{'.3f' if result.page_s else ''}}"
              f"{figures['start_s_median']:>9.2f}{figures['end_s_median']:>7.2f}"
              f"{figures['cpu_s_per_page']:>12.3f}")
    print("pages/s: the whole run, child start included; s/page: median page after the first; start: the first "
          "page's time beyond a median page (the child's start); end: from the last page to the result (passages "
          "made, sent back); CPU: the child and its Tesseracts.")
    for result in results:
        print(f"Check, {result.label}: {result.check}")


# Part 2: the synthetic passages ----------------------------------------------------------------


@dataclass(frozen=True)
class SyntheticPassage:
    seq: int
    page: int
    heading: str | None
    language: str
    text: str
    toc: bool


@dataclass(frozen=True)
class SyntheticDocument:
    index: int
    policy: int        # the policy's number among the synthetic policies
    language: str
    scanned: bool
    role: str
    passages: list[SyntheticPassage]


class PassageTexts:
    """Attached texts of synthetic policies; ``document(i)`` depends only on the seed, i, the number of
    policies and of pages."""

    def __init__(self, corpus: Corpus, seed: int, policies: int, pages: int) -> None:
        self.corpus = corpus
        self.seed = seed
        self.policies = policies
        self.pages = pages
        self.lao_cumulative = list(itertools.accumulate(1 / rank for rank in range(1, len(LAO_WORDS) + 1)))

    def document(self, index: int) -> SyntheticDocument:
        rng = random.Random(self.seed * 7_000_003 + index)
        policy = rng.randrange(self.policies)
        lao = rng.random() < LAO_SHARE
        scanned = lao and rng.random() < SCANNED_SHARE_OF_LAO
        role = rng.choices(list(ROLES), weights=list(ROLES.values()))[0]
        topics = rng.sample(list(TOPIC_PHRASES), k=rng.randint(1, 3))
        own_phrases = [phrase for topic in topics for phrase in TOPIC_PHRASES[topic]]
        # Articles first (numbers and titles), so that the table of contents can list them.
        articles: list[tuple[int, str]] = []
        for _ in range(self.pages - 1):
            if not articles or rng.random() < 0.6:
                number = len(articles) + 1
                title = (self._lao_words(rng, rng.randint(2, 3), joined=True) if lao
                         else rng.choice(own_phrases + GENERAL_PHRASES).capitalize())
                articles.append((number, f"ມາດຕາ {number} {title}" if lao else f"Article {number} {title}"))
            else:
                articles.append(articles[-1])
        language = "lo" if lao else "en"
        passages = [SyntheticPassage(0, 1, "ສາລະບານ" if lao else "Contents", language,
                                     self._contents(rng, articles), True)]
        for seq, (_, heading) in enumerate(articles, start=1):
            text = self._lao_text(rng) if lao else self._english_text(rng, own_phrases)
            passages.append(SyntheticPassage(seq, seq + 1, heading, language, text, False))
        return SyntheticDocument(index, policy, language, scanned, role, passages)

    @staticmethod
    def _contents(rng: random.Random, articles: list[tuple[int, str]]) -> str:
        entries, seen = [], set()
        for page, (number, heading) in enumerate(articles, start=2):
            if number not in seen:
                seen.add(number)
                entries.append(f"{heading} … {page}")
        text = "\n".join(entries)
        return text[:rng.randint(400, 900)].rsplit("\n", 1)[0] if len(text) > 900 else text

    def _english_text(self, rng: random.Random, own_phrases: list[str]) -> str:
        target = rng.randint(400, 900)
        sentences: list[str] = []
        length = 0
        while True:
            words = self.corpus.vocabulary.sample(rng, rng.randint(8, 24))
            # A domain phrase in about every other sentence (every 20 to 40 words, as in the policies'
            # summaries), mostly of the text's own topics; now and then a citation of another instrument.
            if rng.random() < 0.55:
                words[rng.randrange(len(words))] = (rng.choice(own_phrases) if rng.random() < 0.6
                                                    else rng.choice(GENERAL_PHRASES))
            if rng.random() < 0.04:
                cited = reference_of(rng.choice(("LA", "TH", "VN", "PH", "ID")), rng.choice(("decree", "law")),
                                     rng.randrange(100, 900_000), rng.randrange(2008, 2027))
                words[rng.randrange(len(words))] = f"pursuant to {cited}"
            sentence = " ".join(words)
            sentence = sentence[0].upper() + sentence[1:] + "."
            if length >= 400 and length + len(sentence) + 1 > target:
                return " ".join(sentences)
            sentences.append(sentence)
            length += len(sentence) + 1

    def _lao_words(self, rng: random.Random, count: int, *, joined: bool = False) -> str | list[str]:
        words = rng.choices(LAO_WORDS, cum_weights=self.lao_cumulative, k=count)
        return "".join(words) if joined else words

    def _lao_text(self, rng: random.Random) -> str:
        target = rng.randint(400, 900)
        clauses: list[str] = []
        length = 0
        while True:
            clause = self._lao_words(rng, rng.randint(3, 7), joined=True)
            if rng.random() < 0.2:
                clause += " " + rng.choice(LAO_PHRASES)
            elif rng.random() < 0.08:
                clause += f" ມາດຕາ {rng.randint(1, 40)}"
            if length >= 400 and length + len(clause) + 1 > target:
                return " ".join(clauses)
            clauses.append(clause)
            length += len(clause) + 1


@dataclass
class CorpusStats:
    policies: int
    documents: int
    pages: int
    passages: int = 0
    characters: int = 0
    lao_passages: int = 0
    toc_passages: int = 0
    ocr_passages: int = 0
    policies_load_s: float = 0.0
    passages_load_s: float = 0.0
    database_bytes: int = 0
    passages_table_bytes: int = 0


def load_texts(database_url: str, texts: PassageTexts, documents: int, stats: CorpusStats,
               progress: Callable[[int, float], None]) -> tuple[list[int], list[int]]:
    """Write ``documents`` texts with their stored file and passages, in bulk; the ids of the documents and
    of the synthetic policies (by number)."""
    from sqlalchemy import func, insert, select

    from tracker.db import make_engine
    from tracker.models import Document, DocumentPassage, Policy, StoredFile
    from tracker.models.types import utcnow

    engine = make_engine(database_url)
    started = time.perf_counter()
    try:
        with engine.connect() as connection:
            policy_ids = list(connection.scalars(select(Policy.id).where(Policy.key.like("synthetic-policy-%"))
                                                 .order_by(Policy.id)))
            policy_keys = list(connection.scalars(select(Policy.key).where(Policy.key.like("synthetic-policy-%"))
                                                  .order_by(Policy.id)))
            first_document = (connection.scalar(select(func.max(Document.id))) or 0) + 1
            next_passage = (connection.scalar(select(func.max(DocumentPassage.id))) or 0) + 1
        if len(policy_ids) < texts.policies:
            raise BenchError(f"{len(policy_ids)} synthetic policies in the database, {texts.policies} expected")
        document_ids = []
        for start in range(0, documents, DOCUMENTS_PER_BATCH):
            now = utcnow()
            files, rows, passages = [], [], []
            for index in range(start, min(documents, start + DOCUMENTS_PER_BATCH)):
                document = texts.document(index)
                document_id = first_document + index
                document_ids.append(document_id)
                characters = sum(len(passage.text) for passage in document.passages)
                sha256 = f"{index:064x}"  # unique per text, as the digest of distinct files would be
                size = texts.pages * 45_000 if not document.scanned else texts.pages * 400_000
                files.append({"sha256": sha256, "size": size, "media_type": "application/pdf",
                              "storage": "database", "chunk_size": 1024 * 1024, "created_at": now})
                rows.append({
                    "id": document_id, "policy_id": policy_ids[document.policy], "series_id": document_id,
                    "sha256": sha256, "filename": f"{policy_keys[document.policy]}-{document.role}-{index}.pdf",
                    "media_type": "application/pdf", "size": size, "role": document.role,
                    "language": document.language, "version_label": None, "issued_on": None,
                    "source_url": f"https://gazette.example.gov/documents/{index}.pdf", "added_by_id": None,
                    "added_by_label": "bench", "added_at": now, "status": "done", "status_reason": None,
                    "pages": texts.pages, "pages_ocr": texts.pages if document.scanned else 0,
                    "characters": characters, "attempts": 1, "run": 1, "next_attempt_at": now,
                    "claimed_until": None, "extracted_at": now})
                confidence_rng = random.Random(index)
                for passage in document.passages:
                    passages.append({
                        "id": next_passage, "document_id": document_id, "seq": passage.seq, "page": passage.page,
                        "heading": passage.heading, "language": passage.language, "text": passage.text,
                        "method": "ocr" if document.scanned else "text",
                        "confidence": round(confidence_rng.uniform(70, 95), 1) if document.scanned else None,
                        "toc": passage.toc})
                    next_passage += 1
                    stats.passages += 1
                    stats.characters += len(passage.text)
                    stats.lao_passages += passage.language == "lo"
                    stats.toc_passages += passage.toc
                    stats.ocr_passages += document.scanned
            with engine.begin() as connection:
                connection.execute(insert(StoredFile.__table__), files)
                connection.execute(insert(Document.__table__), rows)
                connection.execute(insert(DocumentPassage.__table__), passages)
            progress(len(document_ids), time.perf_counter() - started)
    finally:
        engine.dispose()
    stats.passages_load_s = time.perf_counter() - started
    return document_ids, policy_ids


def table_bytes(database: Path, table: str) -> int:
    """Bytes of a table and its indexes in an SQLite file."""
    connection = sqlite3.connect(database)
    try:
        names = [table] + [row[0] for row in connection.execute(
            "SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = ?", (table,))]
        return sum(connection.execute("SELECT coalesce(sum(pgsize), 0) FROM dbstat WHERE name = ?",
                                      (name,)).fetchone()[0] for name in names)
    finally:
        connection.close()


# Part 2: the FTS5 baseline ---------------------------------------------------------------------

FTS_SCHEMA = f"""
CREATE TABLE passages (id INTEGER PRIMARY KEY, heading TEXT, text TEXT);
CREATE TABLE meta (
    id INTEGER PRIMARY KEY, document_id INTEGER NOT NULL, policy_id INTEGER NOT NULL, seq INTEGER NOT NULL,
    page INTEGER NOT NULL, language TEXT NOT NULL, toc INTEGER NOT NULL, editorial_state TEXT NOT NULL
);
CREATE VIRTUAL TABLE fts USING fts5(heading, text, content='passages', content_rowid='id', tokenize="{TOKENIZER}");
"""
FTS_INDEXES = """
CREATE INDEX ix_meta_document ON meta (document_id, seq);
CREATE INDEX ix_meta_policy ON meta (policy_id);
"""
FTS_SOURCE = """
SELECT p.id, p.document_id, d.policy_id, p.seq, p.page, p.language, p.toc, pol.editorial_state, p.heading, p.text
FROM src.document_passages p JOIN src.documents d ON d.id = p.document_id JOIN src.policies pol ON pol.id = d.policy_id
WHERE d.status IN ('done', 'partial') AND p.id > ? ORDER BY p.id LIMIT ?
"""
# A heading match weighs more than a match in the text, as a title does.
FTS_WEIGHTS = "2.0, 1.0"
SNIPPET_TOKENS = 40  # about the tracker's 300-character fragment of English


@dataclass
class FtsBuild:
    wall_s: float
    cpu_s: float
    segment_s: float
    optimize_s: float
    fts_bytes: int = 0
    content_bytes: int = 0
    file_bytes: int = 0


@dataclass
class FtsResult:
    total: int
    rows: list[tuple]


class PassageFts:
    """The passages in an FTS5 index of their own SQLite file, and one connection searching it."""

    def __init__(self, path: Path, tracker_database: Path) -> None:
        self.path = path
        # URI names, so that the tracker's database can be attached read-only.
        self.connection = sqlite3.connect(f"file:{path}", uri=True, isolation_level=None, check_same_thread=False)
        self.connection.execute("PRAGMA temp_store = MEMORY")
        self.connection.execute("CREATE TEMP TABLE IF NOT EXISTS hits (id INTEGER PRIMARY KEY, score REAL, "
                                "toc INTEGER, document_id INTEGER, seq INTEGER)")
        # The page's rows are joined to the tracker's own documents and policies, as its hydration reads them.
        self.connection.execute("ATTACH DATABASE ? AS src", (f"file:{tracker_database}?mode=ro",))
        self._tokenize = lao_tokenizer()

    @staticmethod
    def build(path: Path, tracker_database: Path, progress: Callable[[int], None]) -> FtsBuild:
        tokenize = lao_tokenizer()
        wall, cpu = time.perf_counter(), time.process_time()
        connection = sqlite3.connect(path, isolation_level=None)
        segment_s = 0.0
        done = 0
        try:
            connection.executescript(FTS_SCHEMA)
            connection.execute("ATTACH DATABASE ? AS src", (str(tracker_database),))
            connection.execute("BEGIN")
            last_id = 0
            while True:
                rows = connection.execute(FTS_SOURCE, (last_id, FTS_BATCH)).fetchall()
                if not rows:
                    break
                contents, metas = [], []
                started = time.perf_counter()
                for pid, document_id, policy_id, seq, page, language, toc, state, heading, text in rows:
                    contents.append((pid, segment_lao(heading, tokenize), segment_lao(text, tokenize)))
                    metas.append((pid, document_id, policy_id, seq, page, language, int(toc), state))
                segment_s += time.perf_counter() - started
                connection.executemany("INSERT INTO passages VALUES (?, ?, ?)", contents)
                connection.executemany("INSERT INTO meta VALUES (?, ?, ?, ?, ?, ?, ?, ?)", metas)
                connection.execute("INSERT INTO fts (rowid, heading, text) SELECT id, heading, text FROM passages "
                                   "WHERE id > ? AND id <= ?", (last_id, rows[-1][0]))
                done += len(rows)
                last_id = rows[-1][0]
                progress(done)
            for statement in filter(str.strip, FTS_INDEXES.split(";")):
                connection.execute(statement)
            started = time.perf_counter()
            # One b-tree per term instead of the segments left by incremental merging, as after any bulk build.
            connection.execute("INSERT INTO fts (fts) VALUES ('optimize')")
            optimize_s = time.perf_counter() - started
            connection.execute("COMMIT")
            connection.execute("DETACH DATABASE src")
            connection.execute("ANALYZE")
            pages = dict(connection.execute("SELECT name, sum(pgsize) FROM dbstat GROUP BY name"))
        finally:
            connection.close()
        fts = sum(size for name, size in pages.items() if name.startswith("fts_"))
        return FtsBuild(time.perf_counter() - wall, time.process_time() - cpu, segment_s, optimize_s, fts,
                        sum(pages.values()) - fts, path.stat().st_size)

    def match_expression(self, terms: Iterable[str]) -> str:
        """Every term required; a term with a space is a phrase; Lao segmented first (as bench/fts5.py)."""
        parts = []
        for term in terms:
            text = segment_lao(term, self._tokenize) or ""
            parts.append('"' + text.replace('"', '""') + '"')
        return " ".join(parts)

    def search(self, query: Query) -> FtsResult:
        connection = self.connection
        match = self.match_expression(query.terms)
        where, params = ["fts MATCH ?", "m.editorial_state = 'published'"], [match]
        filters = dict(query.filters)
        for name, column in (("policies", "m.policy_id"), ("documents", "m.document_id")):
            if filters.get(name):
                where.append(f"{column} IN ({', '.join('?' * len(filters[name]))})")
                params += [int(value) for value in filters[name]]
        # CROSS JOIN fixes the loop order: the match outside, as a search engine evaluates it, or, within
        # one policy or text, that policy's or text's rows by index with the match checked for each.
        source = ("meta m CROSS JOIN fts ON fts.rowid = m.id" if filters
                  else "fts CROSS JOIN meta m ON m.id = fts.rowid")
        connection.execute("BEGIN")
        try:
            connection.execute("DELETE FROM temp.hits")
            connection.execute(f"INSERT INTO temp.hits (id, score, toc, document_id, seq) "
                               f"SELECT fts.rowid, bm25(fts, {FTS_WEIGHTS}), m.toc, m.document_id, m.seq "
                               f"FROM {source} WHERE {' AND '.join(where)}", params)
            total = connection.execute("SELECT count(*) FROM temp.hits").fetchone()[0]
            order = "document_id, seq" if query.sort == "page" else "toc, score, id"
            ids = [row[0] for row in connection.execute(f"SELECT id FROM temp.hits ORDER BY {order} LIMIT ?",
                                                        (PER_PAGE,))]
            rows: list[tuple] = []
            if ids:
                marks = ", ".join("?" * len(ids))
                found = {row[0]: row for row in connection.execute(
                    f"SELECT fts.rowid, highlight(fts, 0, '<mark>', '</mark>'), "
                    f"snippet(fts, 1, '<mark>', '</mark>', '…', {SNIPPET_TOKENS}), m.page, m.language, "
                    f"d.id, d.filename, d.language, d.role, pol.key, pol.title_en, pol.jurisdiction_code "
                    f"FROM fts JOIN meta m ON m.id = fts.rowid JOIN src.documents d ON d.id = m.document_id "
                    f"JOIN src.policies pol ON pol.id = d.policy_id "
                    f"WHERE fts MATCH ? AND fts.rowid IN ({marks}) AND pol.editorial_state = 'published' "
                    f"AND d.status IN ('done', 'partial')", [match, *ids])}
                rows = [found[i] for i in ids if i in found]
        finally:
            connection.execute("COMMIT")
        return FtsResult(total, rows)

    def close(self) -> None:
        self.connection.close()


# Part 2: queries -------------------------------------------------------------------------------


def passage_query_mix(texts: PassageTexts, corpus: Corpus, documents: int, document_ids: list[int],
                      policy_ids: list[int], *, seed: int, size: int) -> list[Query]:
    """The fixed mix (by seed) of ``size`` queries; see the module's docstring."""
    rng = random.Random(seed + 2)
    vocabulary = corpus.vocabulary
    scale = size / sum(CLASSES.values())
    counts = {kind: max(1, round(count * scale)) for kind, count in CLASSES.items()}
    function = set(FUNCTION_WORDS)

    def term() -> str:
        pick = rng.random()
        pool = vocabulary.domain if pick < 0.6 else vocabulary.mid if pick < 0.9 else vocabulary.rare
        return rng.choice(pool)

    def english_document() -> SyntheticDocument:
        while True:
            document = texts.document(rng.randrange(documents))
            if document.language == "en":
                return document

    def word_of(document: SyntheticDocument) -> str:
        """A word of one of the text's provisions: a content word, or for a Lao text a Lao word in it."""
        text = rng.choice(document.passages[1:]).text
        if document.language == "lo":
            return rng.choice([word for word in LAO_CONTENT_WORDS if word in text] or LAO_QUERY_WORDS)
        words = [word.strip(".,").lower() for word in text.split()]
        return rng.choice([word for word in words if word.isalpha() and len(word) > 3 and word not in function])

    def phrase_of(document: SyntheticDocument) -> str:
        """Two consecutive content words of one sentence of the text."""
        for _ in range(100):
            sentence = rng.choice(rng.choice(document.passages[1:]).text.split(". ")).split()
            if len(sentence) < 4:
                continue
            start = rng.randrange(len(sentence) - 1)
            pair = [word.strip(".,").lower() for word in sentence[start:start + 2]]
            if all(word.isalpha() and word not in function for word in pair):
                return " ".join(pair)
        return "electric vehicles"

    queries: list[Query] = []
    for _ in range(counts["single"]):
        word = term()
        queries.append(Query("single", word, (word,)))
    for _ in range(counts["and2"]):
        first, second = term(), term()
        while second == first:
            second = term()
        queries.append(Query("and2", f"{first} {second}", (first, second)))
    for number in range(counts["phrase"]):
        phrase = (FIXED_QUERY_PHRASES[(number // 2) % len(FIXED_QUERY_PHRASES)] if number % 2 == 0
                  else phrase_of(english_document()))
        queries.append(Query("phrase", f'"{phrase}"', (phrase,)))
    lao_pool = LAO_QUERY_WORDS + [word for word in LAO_CONTENT_WORDS if word not in LAO_QUERY_WORDS]
    for number in range(counts["lao"]):
        words = (rng.choice(lao_pool),) if number % 3 else tuple(rng.sample(lao_pool, 2))
        queries.append(Query("lao", " ".join(words), words))
    for number in range(counts["policy"]):
        document = texts.document(rng.randrange(documents))
        word = word_of(document) if number % 2 else rng.choice(vocabulary.domain)
        queries.append(Query("policy", word, (word,), (("policies", (str(policy_ids[document.policy]),)),)))
    for kind, sort in (("doc_page", "page"), ("doc_rank", "relevance")):
        for _ in range(counts[kind]):
            index = rng.randrange(documents)
            word = word_of(texts.document(index))
            queries.append(Query(kind, word, (word,), (("documents", (str(document_ids[index]),)),), sort))
    return queries


def measure(app, fts: PassageFts, queries: list[Query], passes: int) -> tuple[dict, dict, dict]:
    """Per engine and query, interleaved: the latency (ms) of the first run, the median of the repeated
    runs, and the total."""
    from tracker.services.search import search_passages

    database = app.extensions["tracker.db"]

    def run_tracker(number: int) -> tuple[float, int]:
        query = queries[number]
        filters = dict(query.filters)
        started = time.perf_counter()
        with database.session() as session:
            results = search_passages(session, query.text, sort=query.sort, per_page=PER_PAGE,
                                      policies=tuple(int(value) for value in filters.get("policies", ())),
                                      documents=tuple(int(value) for value in filters.get("documents", ())))
        return (time.perf_counter() - started) * 1000, results.total

    def run_fts(number: int) -> tuple[float, int]:
        started = time.perf_counter()
        result = fts.search(queries[number])
        return (time.perf_counter() - started) * 1000, result.total

    engines = {"tracker": run_tracker, "FTS5": run_fts}
    samples: dict[str, list[list[float]]] = {name: [[] for _ in queries] for name in engines}
    first: dict[str, list[float]] = {name: [0.0] * len(queries) for name in engines}
    totals: dict[str, list[int]] = {name: [0] * len(queries) for name in engines}
    for number_of_pass in range(passes + 1):
        label = "first pass" if number_of_pass == 0 else f"pass {number_of_pass}/{passes}"
        started = time.perf_counter()
        for number in range(len(queries)):
            # Alternate who goes first, so neither always finds the CPU caches warmed by the other.
            order = list(engines) if number % 2 == 0 else list(reversed(engines))
            for name in order:
                try:
                    elapsed, total = engines[name](number)
                except Exception as error:
                    raise BenchError(f"{name} failed on query {queries[number].describe()!r}: "
                                     f"{error.__class__.__name__}: {error}") from error
                if number_of_pass:
                    samples[name][number].append(elapsed)
                else:
                    first[name][number] = elapsed
                totals[name][number] = total
            if (number + 1) % 50 == 0 or number + 1 == len(queries):
                print(f"    {label}: {number + 1:>3}/{len(queries)} queries ({time.perf_counter() - started:.0f} s)",
                      flush=True)
    medians = {name: [statistics.median(values) for values in per_query] for name, per_query in samples.items()}
    return first, medians, totals


def profile_queries(app, queries: list[Query]) -> None:
    """One pass of the tracker's side of the query mix under cProfile (not in the tables)."""
    from tracker.services.search import search_passages

    database = app.extensions["tracker.db"]
    profiler = cProfile.Profile()
    started = time.perf_counter()
    profiler.enable()
    for query in queries:
        filters = dict(query.filters)
        with database.session() as session:
            search_passages(session, query.text, sort=query.sort, per_page=PER_PAGE,
                            policies=tuple(int(value) for value in filters.get("policies", ())),
                            documents=tuple(int(value) for value in filters.get("documents", ())))
    profiler.disable()
    elapsed = time.perf_counter() - started
    print_profile(profiler, f"Profile of {len(queries)} tracker passage searches ({elapsed:.1f} s under cProfile)")


# Part 2: the run -------------------------------------------------------------------------------


@dataclass
class TrackerBuild:
    wall_s: float           # the whole command: records and passages
    cpu_s: float
    passages_s: float       # the passages index, as the command printed it
    records_s: float
    passages_bytes: int
    records_bytes: int


@dataclass
class SearchResult:
    corpus: CorpusStats
    tracker_build: TrackerBuild
    fts_build: FtsBuild
    queries: list[Query] = field(default_factory=list)
    latencies: dict[str, list[float]] = field(default_factory=dict)  # engine -> per-query median, ms
    first: dict[str, list[float]] = field(default_factory=dict)      # engine -> per-query first run, ms
    totals: dict[str, list[int]] = field(default_factory=dict)


BUILT_LINE = re.compile(r"Built the (\w+) index \S+ \((\d+) \w+, ([\d.]+) s")


def build_tracker_indexes(env: dict[str, str]) -> TrackerBuild:
    """`flask search rebuild` in its own process (progress shown); the passages index's own time is read
    from what the command prints."""
    transcript = Transcript(sys.stdout)
    cpu = children_cpu()
    started = time.perf_counter()
    with contextlib.redirect_stdout(transcript):
        flask_with_progress(env, "search", "rebuild")
    wall = time.perf_counter() - started
    built = {name: float(seconds) for name, _, seconds in BUILT_LINE.findall(transcript.text)}
    if "passages" not in built:
        raise BenchError("`flask search rebuild` did not say it built the passages index")
    index = Path(env["TRACKER_SEARCH_INDEX_PATH"])
    passages = folder_size(index / "passages")
    return TrackerBuild(wall, children_cpu() - cpu, built["passages"], built.get("records", 0.0), passages,
                        folder_size(index) - passages)


def run_search(workdir: Path, corpus: Corpus, args: argparse.Namespace) -> SearchResult:
    folder = workdir / "search"
    env = environment(folder)
    database = folder / "tracker.db"
    stats = CorpusStats(args.policies, args.documents, args.documents * args.pages)
    print(f"\n=== Passage search: {args.documents:,} texts × {args.pages} pages over {args.policies:,} policies, "
          f"in {folder}", flush=True)
    print("  Loading the policies (flask db upgrade, flask data load, bench/loader.py) ...", flush=True)
    stats.policies_load_s = prepare_corpus(folder, env, corpus, args.policies)
    texts = PassageTexts(corpus, args.seed, args.policies, args.pages)
    step = max(DOCUMENTS_PER_BATCH, args.documents // 10 // DOCUMENTS_PER_BATCH * DOCUMENTS_PER_BATCH)
    print(f"  Writing {args.documents:,} texts and {stats.pages:,} passages ...", flush=True)

    def loaded(done: int, elapsed: float) -> None:
        if done % step == 0 or done == args.documents:
            print(f"    {done:>7,} / {args.documents:,} texts, {stats.passages:,} passages ({elapsed:.0f} s)",
                  flush=True)

    document_ids, policy_ids = load_texts(env["TRACKER_DATABASE_URL"], texts, args.documents, stats, loaded)
    stats.database_bytes = database.stat().st_size
    stats.passages_table_bytes = table_bytes(database, "document_passages")
    print(f"    done in {duration(stats.passages_load_s)}; database {megabytes(stats.database_bytes)}, of which "
          f"document_passages {megabytes(stats.passages_table_bytes)}", flush=True)

    print("  Building the tracker's indexes: flask --app tracker search rebuild ...", flush=True)
    tracker_build = build_tracker_indexes(env)
    print(f"    passages index: {duration(tracker_build.passages_s)} "
          f"({stats.passages / tracker_build.passages_s:,.0f} passages/s), "
          f"{megabytes(tracker_build.passages_bytes)}; whole command {duration(tracker_build.wall_s)}, "
          f"CPU {tracker_build.cpu_s:.0f} s", flush=True)

    print("  Building the FTS5 index ...", flush=True)
    fts_started = time.perf_counter()
    fts_step = max(FTS_BATCH, stats.passages // 10 // FTS_BATCH * FTS_BATCH)

    def indexed(done: int) -> None:
        if done % fts_step == 0 or done == stats.passages:
            print(f"    FTS5 indexed {done:>7,} / {stats.passages:,} ({time.perf_counter() - fts_started:.0f} s)",
                  flush=True)

    fts_build = PassageFts.build(folder / "fts5.db", database, indexed)
    print(f"    done in {duration(fts_build.wall_s)} ({stats.passages / fts_build.wall_s:,.0f} passages/s), "
          f"index {megabytes(fts_build.fts_bytes)}", flush=True)
    result = SearchResult(stats, tracker_build, fts_build)

    # The app reads its instance folder from the environment before any configuration.
    os.environ.update({name: env[name] for name in ("TRACKER_INSTANCE_PATH", "TRACKER_DATABASE_URL",
                                                    "TRACKER_SEARCH_INDEX_PATH")})
    from tracker import create_app

    app = create_app()
    fts = PassageFts(folder / "fts5.db", database)
    try:
        with app.app_context():
            result.queries = passage_query_mix(texts, corpus, args.documents, document_ids, policy_ids,
                                               seed=args.seed, size=args.queries)
            print(f"  Querying: {len(result.queries)} queries, a first pass + {args.passes} passes, "
                  f"interleaved ...", flush=True)
            result.first, result.latencies, result.totals = measure(app, fts, result.queries, args.passes)
            if args.profile_queries:
                print("  Profiling the tracker's searches (one pass, cProfile) ...", flush=True)
                profile_queries(app, result.queries)
    finally:
        fts.close()
        app.extensions["tracker.db"].dispose()
    return result


# Report ----------------------------------------------------------------------------------------


def per_thousand_pages(size: int, pages: int) -> float:
    return size / pages * 1000 if pages else 0.0


def ratios(latencies: dict[str, list[float]]) -> tuple[float, float]:
    """Median per-query ratio and p95 ratio, tracker / FTS5."""
    tracker, fts = latencies["tracker"], latencies["FTS5"]
    return (statistics.median(a / b for a, b in zip(tracker, fts) if b > 0),
            percentile(tracker, 95) / percentile(fts, 95))


def latency_table(title: str, queries: list[Query], latencies: dict[str, list[float]]) -> None:
    tracker, fts = latencies["tracker"], latencies["FTS5"]
    print(title)
    header = (f"{'class':<18}{'n':>4}{'tracker p50':>13}{'p95':>8}{'FTS5 p50':>10}{'p95':>8}"
              f"{'median ratio':>14}{'p95 ratio':>11}")
    print(header)
    print("-" * len(header))
    for kind in (*CLASSES, None):
        chosen = [i for i, q in enumerate(queries) if kind is None or q.kind == kind]
        if not chosen:
            continue
        t = [tracker[i] for i in chosen]
        f = [fts[i] for i in chosen]
        per_query = [tracker[i] / fts[i] for i in chosen if fts[i] > 0]
        label = "ALL" if kind is None else CLASS_LABELS[kind]
        print(f"{label:<18}{len(chosen):>4}{percentile(t, 50):>13.1f}{percentile(t, 95):>8.1f}"
              f"{percentile(f, 50):>10.1f}{percentile(f, 95):>8.1f}"
              f"{statistics.median(per_query):>13.1f}×{percentile(t, 95) / percentile(f, 95):>10.1f}×")


def agreement(result: SearchResult) -> dict[str, int]:
    totals_t, totals_f = result.totals["tracker"], result.totals["FTS5"]
    return {"queries": len(totals_t), "tracker_with_hits": sum(1 for t in totals_t if t),
            "fts5_with_hits": sum(1 for t in totals_f if t),
            "same_total": sum(1 for a, b in zip(totals_t, totals_f) if a == b),
            "within_10_percent": sum(1 for a, b in zip(totals_t, totals_f)
                                     if a == b or (a and b and abs(a - b) / max(a, b) <= 0.1))}


def report_search(result: SearchResult, args: argparse.Namespace) -> None:
    stats, build, fts = result.corpus, result.tracker_build, result.fts_build
    print(f"\n--- Passage corpus: {stats.documents:,} texts × {args.pages} pages = {stats.pages:,} pages, "
          f"{stats.passages:,} passages over {stats.policies:,} policies")
    print(f"Lao {stats.lao_passages / stats.passages:.0%}, contents (toc) {stats.toc_passages / stats.passages:.1%}, "
          f"OCR {stats.ocr_passages / stats.passages:.0%}; {stats.characters / stats.passages:,.0f} characters "
          f"a passage on average. Loading: policies {duration(stats.policies_load_s)}, texts and passages "
          f"{duration(stats.passages_load_s)}; document_passages {megabytes(stats.passages_table_bytes)} "
          f"in the database.")
    print(f"\n--- Passages index build ({stats.passages:,} passages)")
    header = f"{'engine':<10}{'wall':>10}{'passages/s':>12}{'index size':>13}{'per 1,000 pages':>17}"
    print(header)
    print("-" * len(header))
    for name, wall, size in (("tracker", build.passages_s, build.passages_bytes), ("FTS5", fts.wall_s, fts.fts_bytes)):
        print(f"{name:<10}{duration(wall):>10}{stats.passages / wall:>12,.0f}{megabytes(size):>13}"
              f"{megabytes(round(per_thousand_pages(size, stats.pages))):>17}")
    print(f"tracker: the passages index of `flask search rebuild` (its own figure) and the size of "
          f"<SEARCH_INDEX_PATH>/passages; the whole command (records index of {stats.policies:,} policies too: "
          f"{duration(build.records_s)}, {megabytes(build.records_bytes)}) took {duration(build.wall_s)}, "
          f"CPU {build.cpu_s:.0f} s.")
    print(f"FTS5: index proper (shadow tables); content tables {megabytes(fts.content_bytes)}, whole file "
          f"{megabytes(fts.file_bytes)}; Lao segmentation {fts.segment_s:.1f} s, optimize {fts.optimize_s:.1f} s.")

    latency_table(f"\n--- {stats.passages:,} passages: query latency in ms, repeated: median of {args.passes} "
                  f"interleaved passes per query", result.queries, result.latencies)
    latency_table(f"\n--- {stats.passages:,} passages: query latency in ms, first run of each query", result.queries,
                  result.first)
    agreed = agreement(result)
    print(f"Queries with hits: tracker {agreed['tracker_with_hits']}/{agreed['queries']}, FTS5 "
          f"{agreed['fts5_with_hits']}/{agreed['queries']}; same total on {agreed['same_total']}, within 10% on "
          f"{agreed['within_10_percent']}.")
    differing = [i for i, (a, b) in enumerate(zip(result.totals["tracker"], result.totals["FTS5"]))
                 if not (a == b or (a and b and abs(a - b) / max(a, b) <= 0.1))]
    if differing:
        print("Totals differing most (tracker / FTS5): " + "; ".join(
            f"{result.queries[i].describe()} {result.totals['tracker'][i]:,}/{result.totals['FTS5'][i]:,}"
            for i in sorted(differing, key=lambda i: abs(result.totals["tracker"][i] - result.totals["FTS5"][i]),
                            reverse=True)[:6]))
    tracker, fts_ms = result.latencies["tracker"], result.latencies["FTS5"]
    slowest: list[int] = []
    for i in sorted(range(len(tracker)), key=lambda i: tracker[i], reverse=True):
        if len(slowest) < 5 and all(result.queries[j].describe() != result.queries[i].describe() for j in slowest):
            slowest.append(i)
    print("Slowest for the tracker (repeated): " + "; ".join(
        f"{result.queries[i].describe()} {tracker[i]:.0f} ms (FTS5 {fts_ms[i]:.0f} ms, "
        f"{result.totals['tracker'][i]:,} hits)" for i in slowest))


def search_figures(result: SearchResult) -> dict:
    stats, build, fts = result.corpus, result.tracker_build, result.fts_build
    latency = {}
    for runs, values in (("repeated", result.latencies), ("first_run", result.first)):
        median_ratio, p95_ratio = ratios(values)
        latency[runs] = {
            **{engine: {"p50_ms": percentile(values[engine], 50), "p95_ms": percentile(values[engine], 95)}
               for engine in ("tracker", "FTS5")},
            "median_ratio": median_ratio, "p95_ratio": p95_ratio,
            "by_class": {kind: {engine: {"p50_ms": percentile([values[engine][i] for i in chosen], 50),
                                         "p95_ms": percentile([values[engine][i] for i in chosen], 95)}
                                for engine in ("tracker", "FTS5")}
                         for kind in CLASSES
                         if (chosen := [i for i, q in enumerate(result.queries) if q.kind == kind])}}
    return {
        "corpus": asdict(stats),
        "build": {"tracker": {"passages_s": build.passages_s, "passages_per_s": stats.passages / build.passages_s,
                              "index_bytes": build.passages_bytes,
                              "bytes_per_1000_pages": per_thousand_pages(build.passages_bytes, stats.pages),
                              "rebuild_command_s": build.wall_s, "rebuild_command_cpu_s": build.cpu_s,
                              "records_s": build.records_s, "records_index_bytes": build.records_bytes},
                  "FTS5": {"wall_s": fts.wall_s, "passages_per_s": stats.passages / fts.wall_s,
                           "index_bytes": fts.fts_bytes, "content_bytes": fts.content_bytes,
                           "file_bytes": fts.file_bytes,
                           "bytes_per_1000_pages": per_thousand_pages(fts.fts_bytes, stats.pages),
                           "segment_s": fts.segment_s, "optimize_s": fts.optimize_s}},
        "latency": latency,
        "agreement": agreement(result),
        "target": {"passages": TARGET_PASSAGES, "p95_ms": TARGET_P95_MS,
                   "met_repeated": percentile(result.latencies["tracker"], 95) <= TARGET_P95_MS,
                   "met_first_run": percentile(result.first["tracker"], 95) <= TARGET_P95_MS},
    }


def report_summary(extraction: list[ExtractionResult], search: SearchResult | None, args: argparse.Namespace,
                   elapsed: float) -> None:
    print("\n=== Summary")
    print(f"Python {platform.python_version()}, SQLite {sqlite3.sqlite_version}, {os.cpu_count()} CPUs, "
          f"load average {args.load_at_start:.2f} at the start and {os.getloadavg()[0]:.2f} at the end; "
          f"seed {args.seed}, {args.passes} passes; the run took {duration(elapsed)}")
    own, child = peak_memory()
    print(f"Peak memory (resident): this process {megabytes(own)}, the largest child process {megabytes(child)}")
    if extraction:
        print(f"\n{'extraction (sandbox)':<30}{'pages':>6}{'pages/s':>9}{'s/page':>8}")
        for result in extraction:
            figures = result.figures()
            print(f"{result.label:<30}{result.pages:>6}{figures['pages_per_s']:>9.1f}{figures['page_s_median']:>8.3f}")
    if search:
        stats, build, fts = search.corpus, search.tracker_build, search.fts_build
        print(f"\n{'passages':>9}  {'engine':<8}{'build/s':>9}{'index':>11}{'/1k pages':>11}  {'runs':<9}"
              f"{'p50 ms':>8}{'p95 ms':>9}{'median ratio':>14}{'p95 ratio':>11}")
        for engine, rate, size in (("tracker", stats.passages / build.passages_s, build.passages_bytes),
                                   ("FTS5", stats.passages / fts.wall_s, fts.fts_bytes)):
            for runs, label in (("latencies", "repeated"), ("first", "first run")):
                values = getattr(search, runs)[engine]
                line = (f"{stats.passages:>9,}  {engine:<8}{rate:>9,.0f}{megabytes(size):>11}"
                        f"{megabytes(round(per_thousand_pages(size, stats.pages))):>11}"
                        if runs == "latencies" else f"{'':>48}")
                line += f"  {label:<9}{percentile(values, 50):>8.1f}{percentile(values, 95):>9.1f}"
                if engine == "tracker":
                    median_ratio, p95_ratio = ratios(getattr(search, runs))
                    line += f"{median_ratio:>13.1f}×{p95_ratio:>10.1f}×"
                print(line)
        print("(build/s: passages per second; index: the passages index folder, FTS5 without its content table; "
              "ratios: tracker / FTS5)")
        print("\nTarget (information only):")
        for runs, label in (("latencies", "repeated"), ("first", "first run")):
            p95 = percentile(getattr(search, runs)["tracker"], 95)
            verdict = "met" if p95 <= TARGET_P95_MS else "NOT met"
            scale = "" if stats.passages == TARGET_PASSAGES else \
                f" (measured at {stats.passages:,} passages, not {TARGET_PASSAGES:,})"
            print(f"  tracker passage search p95 at or under {TARGET_P95_MS:.0f} ms at {TARGET_PASSAGES:,} passages "
                  f"({label}): {p95:.1f} ms — {verdict}{scale}")
    print("(Timings depend on the machine and never make this script fail.)")


def peak_memory() -> tuple[int, int]:
    """Peak resident bytes of this process and of the largest child it waited for (Linux counts KiB)."""
    return (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024,
            resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss * 1024)


def write_json(path: Path, extraction: list[ExtractionResult], search: SearchResult | None,
               args: argparse.Namespace, elapsed: float) -> None:
    figures = {
        "benchmark": "bench/documents.py",
        "machine": {"python": platform.python_version(), "sqlite": sqlite3.sqlite_version, "cpus": os.cpu_count(),
                    "load_average_start": args.load_at_start, "load_average_end": os.getloadavg()[0]},
        "arguments": {name: value for name, value in vars(args).items()
                      if name not in ("json", "workdir", "load_at_start")},
        "duration_s": elapsed,
        "peak_memory_bytes": dict(zip(("process", "largest_child"), peak_memory())),
        "extraction": [result.figures() for result in extraction],
        "search": search_figures(search) if search else None,
    }
    path.write_text(json.dumps(figures, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    print(f"Figures written to {path}")


# Main ------------------------------------------------------------------------------------------


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--documents", type=int, default=5000, help="attached texts (default 5000)")
    parser.add_argument("--pages", type=int, default=20, help="pages (and passages) per text (default 20)")
    parser.add_argument("--policies", type=int,
                        help="synthetic policies carrying the texts (default: one per five texts)")
    parser.add_argument("--passes", type=int, default=3,
                        help="measured runs of each extraction and passes over the queries (default 3)")
    parser.add_argument("--queries", type=int, default=200, help="queries in the mix (default 200)")
    parser.add_argument("--text-pages", type=int, default=100,
                        help="pages of the English and Lao text-layer PDFs (default 100)")
    parser.add_argument("--ocr-pages", type=int, default=8, help="pages of the scanned Lao PDF (default 8)")
    parser.add_argument("--only", choices=("extraction", "search"), help="run one part only")
    parser.add_argument("--seed", type=int, default=DEFAULT_SEED,
                        help=f"corpus and query seed (default {DEFAULT_SEED})")
    parser.add_argument("--profile-queries", action="store_true",
                        help="also run the tracker's queries once more under cProfile and print the top")
    parser.add_argument("--json", type=Path, help="also write the figures as JSON to this file")
    parser.add_argument("--workdir", type=Path, help="folder for the files, database and indexes (default: a new "
                                                     "temporary folder)")
    parser.add_argument("--keep", action="store_true", help="keep the files, database and indexes afterwards")
    args = parser.parse_args()
    if args.policies is None:
        args.policies = max(1, args.documents // 5)
    if (args.documents < 10 or args.pages < 2 or not 1 <= args.policies <= args.documents or args.passes < 1
            or args.queries < 10 or args.text_pages < 1 or args.ocr_pages < 1):
        parser.error("need --documents >= 10, --pages >= 2, 1 <= --policies <= --documents, --passes >= 1, "
                     "--queries >= 10, --text-pages and --ocr-pages >= 1")
    return args


def main() -> int:
    args = parse_args()
    # The machine may be shared: its load before the run is part of the figures' context.
    args.load_at_start = os.getloadavg()[0]
    if args.workdir:
        args.workdir.mkdir(parents=True, exist_ok=True)
        workdir = Path(tempfile.mkdtemp(prefix="tracker-bench-documents-", dir=args.workdir))
    else:
        workdir = Path(tempfile.mkdtemp(prefix="tracker-bench-documents-"))
    started = time.perf_counter()
    parts = [args.only] if args.only else ["extraction", "search"]
    print(f"Documents benchmark: {' and '.join(parts)}; working in {workdir}", flush=True)
    extraction: list[ExtractionResult] = []
    search: SearchResult | None = None
    try:
        if "extraction" in parts:
            extraction = run_extraction(workdir / "extraction", args)
            report_extraction(extraction)
        if "search" in parts:
            search = run_search(workdir, Corpus(args.seed), args)
            report_search(search, args)
        elapsed = time.perf_counter() - started
        report_summary(extraction, search, args, elapsed)
        if args.json:
            write_json(args.json, extraction, search, args, elapsed)
        return 0
    except BenchError as error:
        print(f"\nBenchmark aborted: {error}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("\nInterrupted.", file=sys.stderr)
        return 130
    finally:
        if args.keep:
            print(f"Kept {workdir}")
        else:
            shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
