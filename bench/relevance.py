"""Search relevance: how well the tracker ranks the demo data for judged queries, against SQLite FTS5 BM25.

Usage: .venv/bin/python bench/relevance.py [--judgements bench/relevance/judgements.json] [--part tune|held_out|all]
                                           [--json PATH] [--svg PATH] [--per-query | --quiet] [--workdir DIR] [--keep]

The judged set (--judgements) lists queries, each with an id, its text, a category, a language, a part
("tune": the queries the ranking may be tuned on; "held_out": queries kept apart to check that tuning
generalises), optional filters as the search page takes them (country, status, instrument, topic,
vehicle_class, year, event, type) and graded judgements: record key -> grade 0-3 (3 the record the query
is after, 2 relevant, 1 related). Keys are those of the policies and events of the demo dataset; a record
the query does not list is grade 0.

In one run and in a throwaway folder:

1. The tracker. A migrated SQLite database gets the demo dataset (tracker/data/asean-ev-policies.json)
   through `flask data load`, and its own Whoosh index through `flask search rebuild`, each run as a
   separate process as bench/search.py does.
2. The baseline. The same records, policies and events, in an SQLite FTS5 index built as bench/fts5.py
   builds it (tokenizer ``porter unicode61 remove_diacritics 2 categories 'L* N* Co M*'``, Lao text
   word-segmented with laonlp, titles weighted 4, local titles and references 2, the rest 1 in BM25);
   an event's name is its title, its summary and date note its summary, its organisations its bodies,
   and its venue, kind, country and topics its labels.
3. The queries. Each query runs, page 1 of 20 results, on three engines:

   * tracker: ``search(session, parse_search_args({"q": [text], <filters>}))`` in this process inside
     the app context, a new database session per query as a web request has, as an anonymous reader
     (published records only). The filters are parsed by the search page's own parser. A query the
     service refuses (``Invalid``, e.g. nothing left to search once stop words are dropped) counts as
     a query with no results; its message is printed.
   * FTS5 AND: every query word required, FTS5's default, ranked by BM25.
   * FTS5 OR: any query word, ranked by BM25 (a document with more of the words ranks higher).

   For FTS5 the query text is cut at white space and quotes, each Lao run is segmented into words as
   the indexed text is, and every word is quoted (so no word is read as FTS5 syntax: the tracker's
   query language, phrases, OR, NOT, field:value, is not understood by the baseline). The baseline
   applies the same filters and shows published records only.

Metrics, per query, averaged over queries:

* nDCG@10: the discounted gain of the first 10 results (gain 2^grade - 1, discount log2(rank + 1)),
  divided by the best possible from all the records judged for the query. 1.0 is a perfect order.
  Queries with no record judged 1 or more are left out.
* MRR: 1 / the rank of the first result graded 2 or more, 0 when none is in the 20 results.
* P@5: the share of the first 5 results graded 2 or more. Queries with no record graded 2 or more are
  left out of MRR and P@5 (the n columns say how many count).
* zero results: queries for which the engine returns nothing, among those that have a record judged 1
  or more (refused queries included).

How to read the output: the per-query table (hide it with --quiet) gives nDCG@10 per engine and the
tracker's top 3 keys, shortened; "–" is a query without judged records. Then the averages for all the
queries, the tune part, the held-out part and each category. The held-out figures are the ones to
trust: the tune part may have guided the ranking. The targets are printed with the figures and whether
each is met: the tracker's nDCG@10 at least 0.10 above the better baseline on each part, and no more
than 2 % of the queries without results. They are information only: the script fails (exit status 1)
only when something breaks (a command that fails, an unreadable judged set, a query that raises
anything but ``Invalid``), never because a target is missed. --json writes every figure and each
query's ranked keys; --svg draws nDCG@10, MRR and P@5 per engine and part as a bar chart.
"""
from __future__ import annotations

import argparse
import json
import math
import os
import re
import shutil
import sqlite3
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from xml.sax.saxutils import escape

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
sys.path.insert(0, str(ROOT))

from fts5 import BM25_WEIGHTS, TEXT_COLUMNS, Fts5Index, lao_tokenizer, segment_lao  # noqa: E402
from search import BenchError, environment, flask  # noqa: E402

DEMO_DATASET = ROOT / "tracker" / "data" / "asean-ev-policies.json"
DEFAULT_JUDGEMENTS = BENCH / "relevance" / "judgements.json"
ENGINES = ("tracker", "FTS5 AND", "FTS5 OR")
PARTS = ("tune", "held_out")
FILTER_NAMES = ("country", "status", "instrument", "topic", "vehicle_class", "year", "event", "type")
PER_PAGE = 20
NDCG_DEPTH = 10
PRECISION_DEPTH = 5
RELEVANT = 2  # the grade from which a result counts for MRR and P@5
# Events share the FTS5 tables with policies; their rowids start here so the two never collide.
EVENT_ROWID_BASE = 1_000_000_000
# Targets to compare with; information only.
TARGET_MARGIN = 0.10
TARGET_ZERO_SHARE = 0.02

EVENT_QUERY = """
SELECT e.id, e.key, e.name_en, e.name_lo, e.summary_en, e.summary_lo, e.date_note, e.venue, e.kind,
       e.jurisdiction_code, e.starts_on, e.editorial_state,
       (SELECT group_concat(o.name_en || ' ' || coalesce(o.name_lo, ''), ' ') FROM src.event_organisations l
        JOIN src.organisations o ON o.id = l.organisation_id WHERE l.event_id = e.id),
       (SELECT group_concat(s.title, ' ') FROM src.sources s WHERE s.event_id = e.id),
       (SELECT group_concat(t.topic_key, ' ') FROM src.event_topics t WHERE t.event_id = e.id),
       coalesce((SELECT j.name_en || ' ' || coalesce(j.name_lo, '') FROM src.jurisdictions j
                 WHERE j.code = e.jurisdiction_code), '') || ' ' ||
       coalesce((SELECT group_concat(t.name_en || ' ' || coalesce(t.name_lo, ''), ' ') FROM src.event_topics et
                 JOIN src.topics t ON t.key = et.topic_key WHERE et.event_id = e.id), '')
FROM src.events e ORDER BY e.id
"""


def progress(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


# The judged set ----------------------------------------------------------------------------------


@dataclass
class JudgedQuery:
    id: str
    text: str
    category: str
    language: str
    part: str
    filters: dict[str, list[str]]
    grades: dict[str, int]
    note: str = ""

    @property
    def judged(self) -> bool:
        """Whether some record is judged relevant at all (grade 1 or more)."""
        return any(grade > 0 for grade in self.grades.values())

    @property
    def has_relevant(self) -> bool:
        return any(grade >= RELEVANT for grade in self.grades.values())


def read_judgements(path: Path) -> list[JudgedQuery]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise BenchError(f"{path}: no such file (give another with --judgements)") from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as error:
        raise BenchError(f"{path}: cannot be read as JSON: {error}") from error
    if not isinstance(data, dict) or not isinstance(data.get("queries"), list):
        raise BenchError(f"{path}: expected an object with a list of queries")
    queries, problems, seen = [], [], set()
    for number, item in enumerate(data["queries"], start=1):
        name = item.get("id", f"query {number}") if isinstance(item, dict) else f"query {number}"
        try:
            if not isinstance(item, dict):
                raise ValueError("not an object")
            if not isinstance(item.get("id"), str) or not isinstance(item.get("text"), str):
                raise ValueError("needs a string id and text")
            if item["id"] in seen:
                raise ValueError("id used twice")
            seen.add(item["id"])
            if item.get("part") not in PARTS:
                raise ValueError(f"part must be one of {', '.join(PARTS)}, not {item.get('part')!r}")
            filters: dict[str, list[str]] = {}
            for key, values in (item.get("filters") or {}).items():
                if key not in FILTER_NAMES:
                    raise ValueError(f"unknown filter {key!r}; accepted: {', '.join(FILTER_NAMES)}")
                filters[key] = [str(value) for value in (values if isinstance(values, list) else [values])]
            grades = {}
            for key, grade in (item.get("judgements") or {}).items():
                if not isinstance(grade, int) or isinstance(grade, bool) or not 0 <= grade <= 3:
                    raise ValueError(f"grade of {key} must be 0, 1, 2 or 3, not {grade!r}")
                grades[key] = grade
        except ValueError as error:
            problems.append(f"{name}: {error}")
            continue
        queries.append(JudgedQuery(item["id"], item["text"], str(item.get("category") or "uncategorised"),
                                   str(item.get("language") or ""), item["part"], filters, grades,
                                   str(item.get("note") or "")))
    if problems:
        raise BenchError(f"{path}: {len(problems)} invalid queries:\n  " + "\n  ".join(problems))
    if not queries:
        raise BenchError(f"{path}: no queries")
    return queries


# Metrics -----------------------------------------------------------------------------------------


def ndcg(ranked: list[str], grades: dict[str, int], depth: int = NDCG_DEPTH) -> float | None:
    """Normalised discounted cumulative gain of the first ``depth`` results; None without judged records."""
    def gain(grade: int, rank: int) -> float:
        return (2 ** grade - 1) / math.log2(rank + 1)

    ideal = sum(gain(grade, rank) for rank, grade in
                enumerate(sorted(grades.values(), reverse=True)[:depth], start=1))
    if not ideal:
        return None
    return sum(gain(grades.get(key, 0), rank) for rank, key in enumerate(ranked[:depth], start=1)) / ideal


def reciprocal_rank(ranked: list[str], grades: dict[str, int]) -> float | None:
    if not any(grade >= RELEVANT for grade in grades.values()):
        return None
    return next((1 / rank for rank, key in enumerate(ranked, start=1) if grades.get(key, 0) >= RELEVANT), 0.0)


def precision(ranked: list[str], grades: dict[str, int], depth: int = PRECISION_DEPTH) -> float | None:
    if not any(grade >= RELEVANT for grade in grades.values()):
        return None
    return sum(1 for key in ranked[:depth] if grades.get(key, 0) >= RELEVANT) / depth


@dataclass
class Run:
    """One engine's answer to one query."""

    keys: list[str]
    total: int
    refused: str | None = None
    ndcg: float | None = None
    mrr: float | None = None
    p5: float | None = None

    def score(self, query: JudgedQuery) -> None:
        self.ndcg = ndcg(self.keys, query.grades)
        self.mrr = reciprocal_rank(self.keys, query.grades)
        self.p5 = precision(self.keys, query.grades)

    def as_json(self) -> dict:
        return {"keys": self.keys, "total": self.total, "refused": self.refused, "ndcg10": self.ndcg,
                "mrr": self.mrr, "p5": self.p5}


@dataclass
class Result:
    query: JudgedQuery
    runs: dict[str, Run] = field(default_factory=dict)


def mean(values: list[float | None]) -> tuple[float | None, int]:
    counted = [value for value in values if value is not None]
    return (sum(counted) / len(counted) if counted else None), len(counted)


def summarise(results: list[Result]) -> dict:
    """Averages per engine over ``results``: nDCG@10, MRR, P@5 (each with how many queries count) and the
    queries without results."""
    answerable = [result for result in results if result.query.judged]
    summary: dict = {"queries": len(results), "judged": len(answerable), "engines": {}}
    for engine in ENGINES:
        runs = [result.runs[engine] for result in results]
        ndcg_mean, ndcg_n = mean([run.ndcg for run in runs])
        mrr_mean, mrr_n = mean([run.mrr for run in runs])
        p5_mean, p5_n = mean([run.p5 for run in runs])
        zero = sum(1 for result in answerable if not result.runs[engine].keys)
        summary["engines"][engine] = {
            "ndcg10": ndcg_mean, "ndcg10_n": ndcg_n, "mrr": mrr_mean, "mrr_n": mrr_n, "p5": p5_mean, "p5_n": p5_n,
            "zero_results": zero, "zero_share": zero / len(answerable) if answerable else None,
            "refused": sum(1 for run in runs if run.refused),
        }
    return summary


# The tracker -------------------------------------------------------------------------------------


def prepare_tracker(folder: Path) -> dict[str, str]:
    """Migrate a new SQLite database, load the demo dataset and build the index, each as `flask` does."""
    env = environment(folder)
    folder.mkdir(parents=True, exist_ok=True)
    progress("migrating the database: flask db upgrade …")
    flask(env, "db", "upgrade")
    progress("loading demo data: flask data load …")
    flask(env, "data", "load", str(DEMO_DATASET))
    progress("building the tracker's index: flask search rebuild …")
    output = flask(env, "search", "rebuild")
    progress("  " + output.strip().splitlines()[-1] if output.strip() else "  done")
    return env


def query_arguments(query: JudgedQuery, text: bool = True) -> dict[str, list[str]]:
    """The query as the search page receives it: a list of values per parameter."""
    arguments = {name: list(values) for name, values in query.filters.items()}
    arguments["per_page"] = [str(PER_PAGE)]
    if text:
        arguments["q"] = [query.text]
    return arguments


def refusal(error) -> str:
    details = "; ".join(f"{name}: {message}" for name, message in getattr(error, "errors", {}).items())
    message = str(error)
    return message if not details or details.endswith(message) else f"{message} ({details})"


def run_tracker(app, query: JudgedQuery) -> Run:
    from tracker.errors import Invalid
    from tracker.search.request import parse_search_args
    from tracker.services.search import search

    database = app.extensions["tracker.db"]
    try:
        request = parse_search_args(query_arguments(query))
        with database.session() as session:
            results = search(session, request)
    except Invalid as error:
        return Run([], 0, refused=refusal(error))
    return Run([hit.key for hit in results.hits], results.total)


# The FTS5 baseline -------------------------------------------------------------------------------


class JudgedFts5(Fts5Index):
    """bench/fts5.py's index of policies, with the events added, searched with every filter of the search
    page and returning record keys in BM25 order."""

    def add_events(self, tracker_database: Path) -> int:
        from tracker.models.vocab import EVENT_KINDS

        tokenize = lao_tokenizer()
        connection = self.connection
        connection.execute("CREATE TABLE doc_types (id INTEGER PRIMARY KEY, type TEXT NOT NULL)")
        connection.execute("ATTACH DATABASE ? AS src", (str(tracker_database),))
        try:
            connection.execute("BEGIN")
            connection.execute("INSERT INTO doc_types SELECT id, 'policy' FROM meta")
            rows = connection.execute(EVENT_QUERY).fetchall()
            for (event_id, key, name_en, name_lo, summary_en, summary_lo, date_note, venue, kind, country,
                 starts_on, state, organisations, sources, topic_keys, names) in rows:
                rowid = EVENT_ROWID_BASE + event_id
                labels = " ".join(part for part in (venue, str(EVENT_KINDS[kind]) if kind in EVENT_KINDS else kind,
                                                    names) if part)
                summary = "\n".join(part for part in (summary_en, date_note) if part) or None
                connection.execute(f"INSERT INTO docs VALUES ({', '.join('?' * 14)})", (
                    rowid, key, name_en, name_lo, segment_lao(name_lo, tokenize), None, summary, summary_lo,
                    segment_lao(summary_lo, tokenize), None, segment_lao(organisations, tokenize), sources, None,
                    segment_lao(labels, tokenize)))
                year = int(starts_on[:4]) if starts_on and starts_on[:4].isdigit() else None
                connection.execute(f"INSERT INTO meta VALUES ({', '.join('?' * 9)})",
                                   (rowid, key, country, None, None, year, starts_on, None, state))
                connection.execute("INSERT INTO doc_types VALUES (?, 'event')", (rowid,))
                connection.executemany("INSERT INTO doc_topics VALUES (?, ?)",
                                       [(rowid, topic) for topic in (topic_keys or "").split()])
                columns = ", ".join(TEXT_COLUMNS)
                connection.execute(f"INSERT INTO fts (rowid, {columns}) SELECT id, {columns} FROM docs WHERE id = ?",
                                   (rowid,))
            connection.execute("INSERT INTO fts (fts) VALUES ('optimize')")
            connection.execute("COMMIT")
        finally:
            connection.execute("DETACH DATABASE src")
        return len(rows)

    def query_words(self, text: str) -> list[str]:
        """The words of ``text``: cut at white space and quotes, Lao runs segmented as the indexed text is;
        pieces without a letter or digit are dropped (FTS5 would find no token in them)."""
        words = []
        for piece in re.split(r'[\s"]+', text):
            for word in (segment_lao(piece, self._tokenize) or "").split():
                if any(character.isalnum() for character in word):
                    words.append(word)
        return words

    def rank(self, text: str, request, any_word: bool, limit: int = PER_PAGE) -> Run:
        """The keys of the best ``limit`` published records for ``text`` under the filters of ``request``."""
        from tracker.services.policies import visible_states

        words = self.query_words(text)
        if not words:
            return Run([], 0)
        match = (" OR " if any_word else " ").join('"' + word.replace('"', '""') + '"' for word in words)
        states = visible_states(False)
        where = [f"m.editorial_state IN ({', '.join('?' * len(states))})"]
        params: list = [match, *states]
        columns = {"countries": "m.jurisdiction_code", "statuses": "m.legal_status",
                   "instruments": "m.instrument", "years": "m.year"}
        tables = {"topics": ("doc_topics", "topic_key"), "vehicle_classes": ("doc_classes", "vehicle_class"),
                  "events": ("doc_events", "event_key"), "types": ("doc_types", "type")}
        for name, column in columns.items():
            values = list(getattr(request, name))
            if values:
                where.append(f"{column} IN ({', '.join('?' * len(values))})")
                params += values
        for name, (table, column) in tables.items():
            values = list(getattr(request, name))
            if values:
                identifier = "id" if table == "doc_types" else "doc_id"
                where.append(f"m.id IN (SELECT {identifier} FROM {table} WHERE {column} IN "
                             f"({', '.join('?' * len(values))}))")
                params += values
        weights = ", ".join(str(weight) for weight in BM25_WEIGHTS)
        connection = self.connection
        connection.execute("BEGIN")
        try:
            # As bench/fts5.py searches: the hits and their scores first, then the total and the page.
            connection.execute("DELETE FROM temp.hits")
            connection.execute(f"INSERT INTO temp.hits (id, score) SELECT fts.rowid, bm25(fts, {weights}) "
                               f"FROM fts CROSS JOIN meta m ON m.id = fts.rowid "
                               f"WHERE fts MATCH ? AND {' AND '.join(where)}", params)
            total = connection.execute("SELECT count(*) FROM temp.hits").fetchone()[0]
            keys = [row[0] for row in connection.execute(
                "SELECT m.key FROM temp.hits h JOIN meta m ON m.id = h.id ORDER BY h.score, h.id LIMIT ?", (limit,))]
        finally:
            connection.execute("COMMIT")
        return Run(keys, total)


def build_baseline(folder: Path) -> tuple[JudgedFts5, int, int]:
    progress("building the FTS5 baseline (policies, then events) …")
    index, stats = JudgedFts5.build(folder / "fts5.db", folder / "tracker.db")
    events = index.add_events(folder / "tracker.db")
    progress(f"  {stats.documents} policies and {events} events in {stats.wall_s:.1f} s")
    return index, stats.documents, events


# Running -----------------------------------------------------------------------------------------


def run_queries(app, fts: JudgedFts5, queries: list[JudgedQuery]) -> list[Result]:
    from tracker.errors import Invalid
    from tracker.search.request import parse_search_args

    results = []
    step = 10 if len(queries) > 20 else 1
    started = time.perf_counter()
    for number, query in enumerate(queries, start=1):
        try:
            # The filters alone: refused here, they are a mistake of the judged set, not of the query.
            filters = parse_search_args(query_arguments(query, text=False))
        except Invalid as error:
            raise BenchError(f"query {query.id}: filters not accepted by the search page: {refusal(error)}") from error
        result = Result(query)
        for name in ENGINES:
            try:
                if name == "tracker":
                    run = run_tracker(app, query)
                else:
                    run = fts.rank(query.text, filters, any_word=name == "FTS5 OR")
            except Exception as error:
                raise BenchError(f"{name} failed on query {query.id} ({query.text!r}): "
                                 f"{error.__class__.__name__}: {error}") from error
            run.score(query)
            result.runs[name] = run
        results.append(result)
        if number % step == 0 or number == len(queries):
            progress(f"query {number}/{len(queries)} ({time.perf_counter() - started:.1f} s)")
    return results


def drop_unknown_keys(queries: list[JudgedQuery]) -> dict[str, list[str]]:
    """Remove from the judgements the keys that name no policy or event of the demo dataset (they would
    count in the ideal ranking but can never be found); return them per query."""
    data = json.loads(DEMO_DATASET.read_text(encoding="utf-8"))
    known = {record["key"] for kind in ("policies", "events") for record in data.get(kind, [])}
    unknown = {}
    for query in queries:
        missing = sorted(set(query.grades) - known)
        if missing:
            unknown[query.id] = missing
            query.grades = {key: grade for key, grade in query.grades.items() if key in known}
    return unknown


# Report ------------------------------------------------------------------------------------------


def shown(value: float | None, width: int = 7) -> str:
    return f"{'–' if value is None else f'{value:.3f}':>{width}}"


def shorten(text: str, width: int) -> str:
    return text if len(text) <= width else text[:width - 1] + "…"


def groups(results: list[Result]) -> list[tuple[str, str, list[Result]]]:
    """(key, label, queries) of every group reported: all, each part, each category."""
    chosen = [("all", "all", results)]
    chosen += [(part, part, [r for r in results if r.query.part == part]) for part in PARTS]
    categories = sorted({r.query.category for r in results})
    chosen += [(f"category:{category}", f"  {category}", [r for r in results if r.query.category == category])
               for category in categories]
    return [(key, label, members) for key, label, members in chosen if members]


def print_per_query(results: list[Result]) -> None:
    print("\nPer query: nDCG@10 per engine; the tracker's first 3 results (keys shortened)")
    header = (f"{'id':<8}{'part':<9}{'category':<13}{'query':<32}{'tracker':>8}{'AND':>7}{'OR':>7}  "
              f"tracker top 3")
    print(header)
    print("-" * 130)
    for result in results:
        query, runs = result.query, result.runs
        tracker = runs["tracker"]
        top = ", ".join(shorten(key, 22) for key in tracker.keys[:3])
        if tracker.refused:
            top = f"refused: {shorten(tracker.refused, 60)}"
        elif not tracker.keys:
            top = "(no results)"
        print(f"{shorten(query.id, 7):<8}{shorten(query.part, 8):<9}{shorten(query.category, 12):<13}"
              f"{shorten(query.text, 31):<32}{shown(tracker.ndcg, 8)}{shown(runs['FTS5 AND'].ndcg)}"
              f"{shown(runs['FTS5 OR'].ndcg)}  {top}")


def print_summary(results: list[Result], summaries: dict[str, dict]) -> None:
    print("\nAverages per engine (trk: tracker, AND: FTS5 AND, OR: FTS5 OR); n: the queries that count for the "
          "metrics to their left")
    header = f"{'':<26} {'nDCG@10':^21}{'':>4} {'MRR':^21} {'P@5':^21}{'':>4} {'no results':^18}"
    engines_header = f"{'trk':>7}{'AND':>7}{'OR':>7}"
    sub = (f"{'queries':<22}{'n':>4} {engines_header}{'n':>4} {engines_header} {engines_header}{'n':>4} "
           f"{'trk':>6}{'AND':>6}{'OR':>6}")
    print(header.rstrip())
    print(sub)
    print("-" * len(sub))
    for key, label, members in groups(results):
        engines = summaries[key]["engines"]
        first = engines["tracker"]
        line = f"{shorten(label, 21):<22}{len(members):>4} "
        line += "".join(shown(engines[e]["ndcg10"]) for e in ENGINES) + f"{first['ndcg10_n']:>4} "
        line += "".join(shown(engines[e]["mrr"]) for e in ENGINES) + " "
        line += "".join(shown(engines[e]["p5"]) for e in ENGINES) + f"{first['p5_n']:>4} "
        line += "".join(f"{engines[e]['zero_results']:>6}" for e in ENGINES)
        print(line)
    overall = summaries["all"]
    shares = ", ".join(
        f"{engine} {overall['engines'][engine]['zero_results']} ({percent(overall['engines'][engine]['zero_share'])})"
        for engine in ENGINES)
    print(f"Queries without results, of the {overall['judged']} with a judged record: {shares}.")
    unjudged = overall["queries"] - overall["judged"]
    if unjudged:
        print(f"{unjudged} queries judge no record relevant: they count in no average.")
    refused = [r for r in results if r.runs["tracker"].refused]
    if refused:
        print("Refused by the tracker (counted as no results):")
        for result in refused:
            print(f"  {result.query.id} {result.query.text!r}: {result.runs['tracker'].refused}")


def percent(share: float | None) -> str:
    return "–" if share is None else f"{share * 100:.1f} %"


def targets(summaries: dict[str, dict]) -> list[dict]:
    """Each target with the figures it compares and whether it is met."""
    checks = []
    for part in PARTS:
        if part not in summaries:
            continue
        engines = summaries[part]["engines"]
        tracker = engines["tracker"]["ndcg10"]
        baselines = {name: engines[name]["ndcg10"] for name in ENGINES[1:] if engines[name]["ndcg10"] is not None}
        if tracker is None or not baselines:
            continue
        best = max(baselines, key=lambda name: baselines[name])
        need = baselines[best] + TARGET_MARGIN
        checks.append({"target": f"{part}: tracker nDCG@10 >= best baseline + {TARGET_MARGIN:.2f}",
                       "value": tracker, "threshold": need, "met": tracker >= need - 1e-12,
                       "detail": f"tracker {tracker:.3f}, best baseline {best} {baselines[best]:.3f}, "
                                 f"needed {need:.3f}"})
    share = summaries["all"]["engines"]["tracker"]["zero_share"]
    if share is not None:
        zero = summaries["all"]["engines"]["tracker"]["zero_results"]
        checks.append({"target": f"tracker queries without results <= {TARGET_ZERO_SHARE * 100:.0f} %",
                       "value": share, "threshold": TARGET_ZERO_SHARE, "met": share <= TARGET_ZERO_SHARE,
                       "detail": f"{zero} of {summaries['all']['judged']} ({percent(share)})"})
    return checks


def print_targets(checks: list[dict]) -> None:
    print("\nTargets (information only):")
    for check in checks:
        print(f"  {check['target']}: {check['detail']} — {'met' if check['met'] else 'NOT met'}")
    if not checks:
        print("  none could be computed")


def write_svg(path: Path, summaries: dict[str, dict], title: str) -> None:
    """nDCG@10, MRR and P@5 per engine, the parts side by side within each metric, as a standalone SVG."""
    parts = [part for part in PARTS if part in summaries] or ["all"]
    metrics = (("ndcg10", "nDCG@10"), ("mrr", "MRR"), ("p5", "P@5"))
    colours = {"tracker": "#2b6cb0", "FTS5 AND": "#dd6b20", "FTS5 OR": "#38a169"}
    bar, gap, cluster_gap, metric_gap = 34, 4, 26, 56
    cluster = len(ENGINES) * bar + (len(ENGINES) - 1) * gap
    left, top, plot_h = 56, 78, 300
    width = left + len(metrics) * (len(parts) * cluster + (len(parts) - 1) * cluster_gap) \
        + (len(metrics) - 1) * metric_gap + 30
    height = top + plot_h + 70
    out = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
           f'viewBox="0 0 {width} {height}" font-family="sans-serif" font-size="12">',
           f'<rect width="{width}" height="{height}" fill="white"/>',
           f'<text x="{left}" y="24" font-size="16" font-weight="bold">{escape(title)}</text>']
    x = left
    for engine in ENGINES:
        out.append(f'<rect x="{x}" y="40" width="12" height="12" fill="{colours[engine]}"/>')
        out.append(f'<text x="{x + 17}" y="50">{escape(engine)}</text>')
        x += 17 + 8 * len(engine) + 24
    for step in range(5):
        value = step / 4
        y = top + plot_h - value * plot_h
        out.append(f'<line x1="{left - 4}" y1="{y:.1f}" x2="{width - 20}" y2="{y:.1f}" stroke="#ddd"/>')
        out.append(f'<text x="{left - 8}" y="{y + 4:.1f}" text-anchor="end" fill="#555">{value:.2f}</text>')
    x = left
    for key, label in metrics:
        metric_start = x
        for part in parts:
            engines = summaries[part]["engines"]
            for number, engine in enumerate(ENGINES):
                value = engines[engine][key]
                bx = x + number * (bar + gap)
                if value is None:
                    out.append(f'<text x="{bx + bar / 2:.1f}" y="{top + plot_h - 4}" text-anchor="middle">–</text>')
                    continue
                h = max(value, 0) * plot_h
                out.append(f'<rect x="{bx}" y="{top + plot_h - h:.1f}" width="{bar}" height="{h:.1f}" '
                           f'fill="{colours[engine]}"><title>{escape(f"{engine}, {part}, {label}: {value:.3f}")}'
                           f'</title></rect>')
                out.append(f'<text x="{bx + bar / 2:.1f}" y="{top + plot_h - h - 4:.1f}" text-anchor="middle" '
                           f'font-size="10">{value:.2f}</text>')
            n = summaries[part]["queries"]
            out.append(f'<text x="{x + cluster / 2:.1f}" y="{top + plot_h + 16}" text-anchor="middle">'
                       f'{escape(part.replace("_", "-"))} ({n})</text>')
            x += cluster + cluster_gap
        x -= cluster_gap
        out.append(f'<text x="{(metric_start + x) / 2:.1f}" y="{top + plot_h + 38}" text-anchor="middle" '
                   f'font-weight="bold" font-size="14">{label}</text>')
        x += metric_gap
    out.append(f'<line x1="{left - 4}" y1="{top + plot_h}" x2="{width - 20}" y2="{top + plot_h}" stroke="#333"/>')
    out.append("</svg>")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(out) + "\n", encoding="utf-8")


# Main --------------------------------------------------------------------------------------------


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--judgements", type=Path, default=DEFAULT_JUDGEMENTS,
                        help=f"the judged set (default {DEFAULT_JUDGEMENTS.relative_to(ROOT)})")
    parser.add_argument("--part", choices=("tune", "held_out", "all"), default="all",
                        help="run only the queries of this part (default all)")
    parser.add_argument("--json", type=Path, help="write every figure and each query's results to this file")
    parser.add_argument("--svg", type=Path, help="draw nDCG@10, MRR and P@5 per engine and part in this SVG file")
    shown_group = parser.add_mutually_exclusive_group()
    shown_group.add_argument("--per-query", dest="per_query", action="store_true", default=True,
                             help="print the per-query table (the default)")
    shown_group.add_argument("--quiet", dest="per_query", action="store_false", help="leave the per-query table out")
    parser.add_argument("--workdir", type=Path, help="folder for the database and indexes (default: a new "
                                                     "temporary folder)")
    parser.add_argument("--keep", action="store_true", help="keep the database and indexes afterwards")
    return parser.parse_args()


def main() -> int:
    args = parse_args()
    if args.workdir:
        args.workdir.mkdir(parents=True, exist_ok=True)
        workdir = Path(tempfile.mkdtemp(prefix="tracker-bench-relevance-", dir=args.workdir))
    else:
        workdir = Path(tempfile.mkdtemp(prefix="tracker-bench-relevance-"))
    fts: JudgedFts5 | None = None
    app = None
    try:
        queries = read_judgements(args.judgements)
        if args.part != "all":
            queries = [query for query in queries if query.part == args.part]
            if not queries:
                raise BenchError(f"no query of part {args.part} in {args.judgements}")
        unknown = drop_unknown_keys(queries)
        for name, keys in unknown.items():
            progress(f"warning: query {name} judges keys of no demo record (left out): {', '.join(keys)}")
        progress(f"{len(queries)} judged queries from {args.judgements}; working in {workdir}")
        env = prepare_tracker(workdir / "tracker")
        fts, policies, events = build_baseline(workdir / "tracker")
        # The app reads its instance folder from the environment before any configuration.
        os.environ.update({name: env[name] for name in ("TRACKER_INSTANCE_PATH", "TRACKER_DATABASE_URL",
                                                        "TRACKER_SEARCH_INDEX_PATH")})
        os.environ["TRACKER_SEARCH_INDEXER"] = "external"
        from tracker import create_app

        app = create_app()
        progress("running the queries …")
        with app.app_context():
            results = run_queries(app, fts, queries)

        summaries = {key: summarise(members) for key, _, members in groups(results)}
        print(f"Search relevance: {len(queries)} judged queries ({args.judgements}), part {args.part}; "
              f"demo data: {policies} policies and {events} events; SQLite {sqlite3.sqlite_version}")
        if args.per_query:
            print_per_query(results)
        print_summary(results, summaries)
        checks = targets(summaries)
        print_targets(checks)
        if unknown:
            print("Judged keys of no demo record, left out: "
                  + "; ".join(f"{name}: {', '.join(keys)}" for name, keys in unknown.items()))
        if args.json:
            args.json.parent.mkdir(parents=True, exist_ok=True)
            args.json.write_text(json.dumps({
                "judgements": str(args.judgements), "part": args.part, "generated": time.strftime("%Y-%m-%dT%H:%M:%S"),
                "records": {"policies": policies, "events": events}, "engines": list(ENGINES),
                "summary": summaries, "targets": checks, "unknown_keys": unknown,
                "queries": [{"id": r.query.id, "text": r.query.text, "category": r.query.category,
                             "language": r.query.language, "part": r.query.part, "filters": r.query.filters,
                             "judgements": r.query.grades,
                             "engines": {name: run.as_json() for name, run in r.runs.items()}} for r in results],
            }, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")
            progress(f"wrote {args.json}")
        if args.svg:
            write_svg(args.svg, summaries, f"Search relevance on the demo data, {len(queries)} judged queries")
            progress(f"wrote {args.svg}")
        return 0
    except BenchError as error:
        print(f"\nBenchmark aborted: {error}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("\nInterrupted.", file=sys.stderr)
        return 130
    finally:
        if fts is not None:
            fts.close()
        if app is not None:
            from tracker.search.runtime import runtime_of

            runtime_of(app).close()
            app.extensions["tracker.db"].dispose()
        if args.keep:
            progress(f"kept {workdir}")
        else:
            shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
