"""The SQLite FTS5 baseline of bench/search.py: the tracker's policies indexed and searched with FTS5.

The index is a separate SQLite file built from the tracker's database, so its size can be read on its
own and nothing of it touches the tracker:

* ``docs``: one row per policy with the fields the tracker indexes as text (English title and
  summary; Lao title and summary, raw and segmented; local title; reference; issuer and other bodies
  in English and Lao; source titles; forum names; and the names of its country, topics, instrument,
  legal status and vehicle classes).
* ``meta``: the same policies' facet and sort columns (country, legal status, instrument, year,
  latest status change, editorial state) in a narrow table of their own. Kept in ``docs`` behind
  7 KB of text, each of them would cost a walk along the row's overflow pages; here a filter or a
  facet count over 10,000 hits reads a few dozen pages. Topics, vehicle classes and forum events
  have one table each.
* ``fts``: an external-content FTS5 table over the text columns of ``docs``, tokenizer
  ``porter unicode61 remove_diacritics 2 categories 'L* N* Co M*'``. The Porter stemmer only changes
  tokens of ASCII letters, so it stems the English columns and leaves Lao tokens as they are; the
  categories add Unicode marks to the token characters (by default unicode61 cuts Lao words at every
  vowel and tone mark). Lao has no spaces between words, so the Lao text is word-segmented with laonlp
  (the segmenter the tracker uses) before it reaches FTS5, and Lao query words are segmented the same
  way. This is part of the build time.

A search does what the tracker's service must do for a page of results, in SQL:

1. the full-text match joined to ``meta`` with the visibility and facet filters (published only,
   country, status, topic), every hit's id and BM25 score written to a temporary in-memory table;
2. the total (a count of that table);
3. the ids of the page, by BM25 rank or by latest status change (NULLs last, then key);
4. the page's rows with the matches marked in the English and Lao titles and the reference, and a
   snippet of each summary (FTS5 ``highlight`` and ``snippet``; the match is re-evaluated for those
   20 rowids only), the fields the tracker highlights;
5. one GROUP BY per facet over the hits: country, legal status, instrument, year, topic, vehicle
   class, event (seven queries).
"""
from __future__ import annotations

import re
import sqlite3
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

from tracker.models.vocab import INSTRUMENTS, LEGAL_STATUSES, VEHICLE_CLASSES

TOKENIZER = "porter unicode61 remove_diacritics 2 categories 'L* N* Co M*'"
TEXT_COLUMNS = ("title_en", "title_lo_words", "title_local", "summary_en", "summary_lo_words", "reference",
                "bodies", "sources", "forums", "labels")
# Titles weigh more than summaries in the ranking, as in any search of titled documents.
BM25_WEIGHTS = (4.0, 4.0, 2.0, 1.0, 1.0, 2.0, 1.0, 1.0, 1.0, 1.0)
FACETS = {
    "country": "SELECT m.jurisdiction_code, count(*) FROM temp.hits h JOIN meta m ON m.id = h.id GROUP BY 1",
    "status": "SELECT m.legal_status, count(*) FROM temp.hits h JOIN meta m ON m.id = h.id GROUP BY 1",
    "instrument": "SELECT m.instrument, count(*) FROM temp.hits h JOIN meta m ON m.id = h.id GROUP BY 1",
    "year": "SELECT m.year, count(*) FROM temp.hits h JOIN meta m ON m.id = h.id "
            "WHERE m.year IS NOT NULL GROUP BY 1",
    "topic": "SELECT t.topic_key, count(*) FROM temp.hits h JOIN doc_topics t ON t.doc_id = h.id GROUP BY 1",
    "vehicle_class": "SELECT c.vehicle_class, count(*) FROM temp.hits h "
                     "JOIN doc_classes c ON c.doc_id = h.id GROUP BY 1",
    "event": "SELECT e.event_key, count(*) FROM temp.hits h JOIN doc_events e ON e.doc_id = h.id GROUP BY 1",
}
FILTER_COLUMNS = {"countries": "m.jurisdiction_code", "statuses": "m.legal_status"}
LAO_RUN = re.compile(r"[\u0E80-\u0EFF]+")

SCHEMA = f"""
CREATE TABLE docs (
    id INTEGER PRIMARY KEY, key TEXT NOT NULL,
    title_en TEXT, title_lo TEXT, title_lo_words TEXT, title_local TEXT,
    summary_en TEXT, summary_lo TEXT, summary_lo_words TEXT, reference TEXT,
    bodies TEXT, sources TEXT, forums TEXT, labels TEXT
);
CREATE TABLE meta (
    id INTEGER PRIMARY KEY, key TEXT NOT NULL, jurisdiction_code TEXT, legal_status TEXT, instrument TEXT,
    year INTEGER, status_changed_on TEXT, adopted_on TEXT, editorial_state TEXT
);
CREATE TABLE doc_topics (doc_id INTEGER, topic_key TEXT, PRIMARY KEY (doc_id, topic_key)) WITHOUT ROWID;
CREATE TABLE doc_classes (doc_id INTEGER, vehicle_class TEXT, PRIMARY KEY (doc_id, vehicle_class)) WITHOUT ROWID;
CREATE TABLE doc_events (doc_id INTEGER, event_key TEXT, PRIMARY KEY (doc_id, event_key)) WITHOUT ROWID;
CREATE VIRTUAL TABLE fts USING fts5({", ".join(TEXT_COLUMNS)}, content='docs', content_rowid='id',
                                    tokenize="{TOKENIZER}");
"""
INDEXES = """
CREATE INDEX ix_meta_country ON meta (jurisdiction_code);
CREATE INDEX ix_meta_status ON meta (legal_status);
CREATE INDEX ix_meta_changed ON meta (status_changed_on);
CREATE INDEX ix_doc_topics_topic ON doc_topics (topic_key, doc_id);
"""

# Everything the tracker's document of a policy holds, read from the tracker's tables in one pass.
SOURCE_QUERY = """
SELECT p.id, p.key, p.title_en, p.title_lo, p.title_local, p.summary_en, p.summary_lo, p.reference,
       p.jurisdiction_code, p.legal_status, p.instrument, p.year, p.status_changed_on, p.adopted_on,
       p.editorial_state,
       coalesce(i.name_en, '') || ' ' || coalesce(i.name_lo, '') || ' ' ||
       coalesce((SELECT group_concat(o.name_en || ' ' || coalesce(o.name_lo, ''), ' ') FROM src.policy_bodies b
                 JOIN src.organisations o ON o.id = b.organisation_id WHERE b.policy_id = p.id), ''),
       (SELECT group_concat(s.title, ' ') FROM src.sources s WHERE s.policy_id = p.id),
       (SELECT group_concat(e.name_en || ' ' || coalesce(e.name_lo, ''), ' ') FROM src.forum_links f
        JOIN src.events e ON e.id = f.event_id WHERE f.policy_id = p.id),
       (SELECT group_concat(t.topic_key, ' ') FROM src.policy_topics t WHERE t.policy_id = p.id),
       (SELECT group_concat(c.vehicle_class, ' ') FROM src.policy_vehicle_classes c WHERE c.policy_id = p.id),
       (SELECT group_concat(e.key, ' ') FROM src.forum_links f JOIN src.events e ON e.id = f.event_id
        WHERE f.policy_id = p.id),
       j.name_en || ' ' || coalesce(j.name_lo, '') || ' ' ||
       coalesce((SELECT group_concat(t.name_en || ' ' || coalesce(t.name_lo, ''), ' ') FROM src.policy_topics pt
                 JOIN src.topics t ON t.key = pt.topic_key WHERE pt.policy_id = p.id), '')
FROM src.policies p LEFT JOIN src.organisations i ON i.id = p.issuer_id
     JOIN src.jurisdictions j ON j.code = p.jurisdiction_code
WHERE p.id > ? ORDER BY p.id LIMIT ?
"""


def segment_lao(text: str | None, tokenize: Callable[[str], list[str]]) -> str | None:
    """``text`` with every run of Lao script split into words by spaces; other text unchanged."""
    if not text:
        return text
    return LAO_RUN.sub(lambda run: " ".join(word for word in tokenize(run.group()) if word.strip()), text)


def lao_tokenizer() -> Callable[[str], list[str]]:
    from laonlp.tokenize import word_tokenize

    return word_tokenize


@dataclass
class BuildStats:
    documents: int
    wall_s: float
    cpu_s: float
    segment_s: float
    optimize_s: float


@dataclass
class SearchResult:
    total: int
    rows: list[tuple]
    facets: dict[str, dict]


@dataclass
class Fts5Index:
    """A built FTS5 index in ``path`` and one connection to it, reused by every search."""

    path: Path
    connection: sqlite3.Connection = field(init=False)

    def __post_init__(self) -> None:
        self.connection = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
        self.connection.execute("PRAGMA temp_store = MEMORY")
        self.connection.execute("CREATE TEMP TABLE IF NOT EXISTS hits (id INTEGER PRIMARY KEY, score REAL)")
        self._tokenize = lao_tokenizer()

    @classmethod
    def build(cls, path: Path, tracker_database: Path, *, batch: int = 1000,
              progress: Callable[[int], None] | None = None) -> tuple[Fts5Index, BuildStats]:
        """Build the index of every policy of the tracker's SQLite database ``tracker_database``."""
        tokenize = lao_tokenizer()
        wall, cpu = time.perf_counter(), time.process_time()
        connection = sqlite3.connect(path, isolation_level=None)
        segment_s = 0.0
        documents = 0
        try:
            connection.executescript(SCHEMA)
            connection.execute("ATTACH DATABASE ? AS src", (str(tracker_database),))
            connection.execute("BEGIN")
            last_id = 0
            while True:
                rows = connection.execute(SOURCE_QUERY, (last_id, batch)).fetchall()
                if not rows:
                    break
                docs, metas, topics, classes, events = [], [], [], [], []
                for (pid, key, title_en, title_lo, title_local, summary_en, summary_lo, reference, country, status,
                     instrument, year, changed, adopted, state, bodies, sources, forums, topic_keys, class_keys,
                     event_keys, names) in rows:
                    labels = " ".join([names, str(INSTRUMENTS[instrument]), str(LEGAL_STATUSES[status]),
                                       *(str(VEHICLE_CLASSES[value]) for value in (class_keys or "").split())])
                    started = time.perf_counter()
                    title_words, summary_words = segment_lao(title_lo, tokenize), segment_lao(summary_lo, tokenize)
                    bodies, forums, labels = (segment_lao(bodies, tokenize), segment_lao(forums, tokenize),
                                              segment_lao(labels, tokenize))
                    segment_s += time.perf_counter() - started
                    docs.append((pid, key, title_en, title_lo, title_words, title_local, summary_en, summary_lo,
                                 summary_words, reference, bodies, sources, forums, labels))
                    metas.append((pid, key, country, status, instrument, year, changed, adopted, state))
                    topics += [(pid, topic) for topic in (topic_keys or "").split()]
                    classes += [(pid, value) for value in (class_keys or "").split()]
                    events += [(pid, value) for value in (event_keys or "").split()]
                connection.executemany(f"INSERT INTO docs VALUES ({', '.join('?' * 14)})", docs)
                connection.executemany(f"INSERT INTO meta VALUES ({', '.join('?' * 9)})", metas)
                connection.executemany("INSERT INTO doc_topics VALUES (?, ?)", topics)
                connection.executemany("INSERT INTO doc_classes VALUES (?, ?)", classes)
                connection.executemany("INSERT INTO doc_events VALUES (?, ?)", events)
                columns = ", ".join(TEXT_COLUMNS)
                connection.execute(f"INSERT INTO fts (rowid, {columns}) SELECT id, {columns} FROM docs "
                                   f"WHERE id > ? AND id <= ?", (last_id, rows[-1][0]))
                documents += len(rows)
                last_id = rows[-1][0]
                if progress:
                    progress(documents)
            for statement in filter(str.strip, INDEXES.split(";")):
                connection.execute(statement)
            started = time.perf_counter()
            # One b-tree per term instead of the segments left by incremental merging, as after any bulk build.
            connection.execute("INSERT INTO fts (fts) VALUES ('optimize')")
            optimize_s = time.perf_counter() - started
            connection.execute("COMMIT")
            connection.execute("DETACH DATABASE src")
            connection.execute("ANALYZE")
        finally:
            connection.close()
        stats = BuildStats(documents, time.perf_counter() - wall, time.process_time() - cpu, segment_s, optimize_s)
        return cls(path), stats

    def sizes(self) -> dict[str, int]:
        """Bytes of the FTS5 index proper (its shadow tables), of the content tables, and of the file."""
        pages = dict(self.connection.execute("SELECT name, sum(pgsize) FROM dbstat GROUP BY name"))
        fts = sum(size for name, size in pages.items() if name.startswith("fts_"))
        return {"fts": fts, "content": sum(pages.values()) - fts, "file": self.path.stat().st_size}

    def match_expression(self, terms: Iterable[str]) -> str:
        """An FTS5 query requiring every term; a term with a space is a phrase; Lao is segmented first."""
        parts = []
        for term in terms:
            text = segment_lao(term, self._tokenize) or ""
            parts.append('"' + text.replace('"', '""') + '"')
        return " ".join(parts)

    def search(self, terms: Iterable[str], filters: Iterable[tuple[str, tuple[str, ...]]] = (),
               sort: str = "relevance", page: int = 1, per_page: int = 20) -> SearchResult:
        connection = self.connection
        match = self.match_expression(terms)
        where, params = ["m.editorial_state = 'published'"], [match]
        for name, values in filters:
            marks = ", ".join("?" * len(values))
            if name == "topics":
                where.append(f"m.id IN (SELECT doc_id FROM doc_topics WHERE topic_key IN ({marks}))")
            else:
                where.append(f"{FILTER_COLUMNS[name]} IN ({marks})")
            params += values
        weights = ", ".join(str(weight) for weight in BM25_WEIGHTS)
        connection.execute("BEGIN")
        try:
            connection.execute("DELETE FROM temp.hits")
            # CROSS JOIN keeps the match as the outer loop, as a search engine evaluates it.
            connection.execute(f"INSERT INTO temp.hits (id, score) SELECT fts.rowid, bm25(fts, {weights}) "
                               f"FROM fts CROSS JOIN meta m ON m.id = fts.rowid "
                               f"WHERE fts MATCH ? AND {' AND '.join(where)}", params)
            total = connection.execute("SELECT count(*) FROM temp.hits").fetchone()[0]
            offset = (page - 1) * per_page
            if sort == "latest":
                ids = [row[0] for row in connection.execute(
                    "SELECT h.id FROM temp.hits h JOIN meta m ON m.id = h.id "
                    "ORDER BY m.status_changed_on DESC NULLS LAST, m.key LIMIT ? OFFSET ?", (per_page, offset))]
            else:
                ids = [row[0] for row in connection.execute(
                    "SELECT id FROM temp.hits ORDER BY score, id LIMIT ? OFFSET ?", (per_page, offset))]
            rows: list[tuple] = []
            if ids:
                marks = ", ".join("?" * len(ids))
                found = {row[0]: row for row in connection.execute(
                    f"SELECT d.id, d.key, d.title_en, d.title_lo, m.jurisdiction_code, m.legal_status, "
                    f"m.instrument, d.reference, m.year, m.status_changed_on, "
                    f"highlight(fts, 0, '<mark>', '</mark>'), highlight(fts, 1, '<mark>', '</mark>'), "
                    f"highlight(fts, 5, '<mark>', '</mark>'), snippet(fts, 3, '<mark>', '</mark>', '…', 24), "
                    f"snippet(fts, 4, '<mark>', '</mark>', '…', 24) "
                    f"FROM fts JOIN docs d ON d.id = fts.rowid JOIN meta m ON m.id = d.id "
                    f"WHERE fts MATCH ? AND fts.rowid IN ({marks})",
                    [match, *ids])}
                rows = [found[i] for i in ids if i in found]
            facets = {name: dict(connection.execute(sql).fetchall()) for name, sql in FACETS.items()}
        finally:
            connection.execute("COMMIT")
        return SearchResult(total, rows, facets)

    def close(self) -> None:
        self.connection.close()
