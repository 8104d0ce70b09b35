"""Full-text search: the tracker's search service against SQLite FTS5 on the same synthetic corpus and queries.

Usage: .venv/bin/python bench/search.py [--sizes 10000[,100000]] [--passes 3] [--changes 5] [--seed N]
                                        [--profile-build] [--profile-queries] [--workdir DIR] [--keep]

For each size, in one run and in a throwaway folder:

1. Corpus. A migrated SQLite database gets the demo data's topics, organisations and events through
   `flask data load`, then N synthetic policies from bench/corpus.py (about 850 English words each,
   Lao titles and summaries, the 13 jurisdictions, every legal status; see that file), written in bulk
   by bench/loader.py.
2. Builds. The tracker's index is built by its own command, `flask --app tracker search rebuild`,
   run as a separate process against that database (wall time and the child's CPU time). The FTS5
   baseline (bench/fts5.py) is built from the same database into its own SQLite file. Both print
   documents per second and the size on disk: for the tracker the whole index folder, for FTS5 the
   index proper (its shadow tables) and, apart, the content tables and the whole file.
3. Queries. A fixed mix of 200 queries (seeded; bench/corpus.py, ``query_mix``): 50 single words
   (some Lao words and reference numbers), 50 two-word AND, 40 phrases, 30 words with facet filters
   (country, legal status, topic), 30 words sorted by latest status change. Both engines get the same
   query at the same moment: query by query, one engine then the other, the order alternating
   between queries. The first pass over the mix is reported on its own ("first run"): the tracker
   starts it with an empty term cache and a searcher still to open, as a freshly started worker does
   or a query whose words nobody searched lately. Then come --passes more passes ("repeated"): a
   query's latency there is the median of its passes, which is what a query costs once its words'
   postings are in the tracker's term cache (bounded; at 10,000 policies the mix's terms about fill
   it, at 100,000 they do not fit and most lookups stay cold). p50 and p95 are taken over the 200
   queries.

   What each side does, per query, page 1 of 20 results:

   * tracker: ``search(session, SearchRequest(q, filters, sort, types=("policy",)))`` in this process,
     inside the app context, with a new database session per query as a web request has: parsing the
     query language, matching in the index, the facet counts (country, status, instrument, topic,
     vehicle class, year, event), the best 20 by relevance or by sort, hydrating those 20 from the
     database in one query, dropping what the reader may not see, highlights, and the "did you mean"
     check. The same searcher is reused across queries, as a worker process reuses its own. The type
     filter keeps events out, since the FTS5 side indexes policies only.
   * FTS5: the match with the same filters and visibility into a temporary table of hits, the total,
     the 20 ids of the page by BM25 or by latest change, those rows with highlighted title, reference
     and snippets of both summaries, and one GROUP BY per facet over the hits (seven queries); see
     bench/fts5.py. One connection is reused, as a worker would.

   The totals of the two engines are compared per query as a check that they answer the same
   question. They differ where the analyses differ: the tracker finds parts of Lao compounds (FTS5
   only whole segmented words), drops English stop words, and stems with Whoosh's Porter stemmer,
   which does not always agree with FTS5's ("recycle" and "recycling" are one stem in FTS5, two in
   Whoosh).
4. Freshness. In this process, as the embedded default runs: a status change is recorded through
   ``tracker.services.editing.change_status`` and committed; then ``search()`` is polled (every 20 ms)
   until the policy is found with its new status. The delay is from the end of the commit to the end
   of the first search that shows it, repeated --changes times on different policies.

How to read the output: latencies are milliseconds in this process, without HTTP. The ratio column is
tracker / FTS5: "median ratio" is the median over the 200 queries of each query's own ratio (robust to
the machine's noise, since both engines ran the query at the same moment), "p95 ratio" divides the two
p95s. The targets are printed with the figures and whether each is met; they are information only.
The script fails (exit status 1) only when something breaks — a command that fails, a query that
raises, a status change that is refused — never on a time.

With --profile-build the tracker's index is also built once more in this process under cProfile, and
with --profile-queries its side of the query mix is run once more under cProfile (neither counts in
the tables); the functions that take the time are printed.
"""
from __future__ import annotations

import argparse
import collections
import cProfile
import io
import json
import os
import platform
import pstats
import pty
import re
import resource
import shutil
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
sys.path.insert(0, str(ROOT))

from corpus import DEFAULT_SEED, Corpus, Query, query_mix, reference_number  # noqa: E402
from fts5 import Fts5Index  # noqa: E402
from loader import load_policies  # noqa: E402

ANSI_ESCAPE = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")
CLASSES = ("single", "and2", "phrase", "facet", "sorted")
CLASS_LABELS = {"single": "single word", "and2": "two-word AND", "phrase": "phrase", "facet": "facet filter",
                "sorted": "sorted, latest"}
EDITOR_EMAIL = "bench-reviewer@example.org"
EDITOR_PASSWORD = "bench reviewer passphrase, not a secret"
POLL_INTERVAL = 0.02
VISIBLE_DEADLINE = 30.0
# Targets to compare with; information only.
TARGET_P95_10K_MS = 100.0
TARGET_RATIO_10K = 3.0
TARGET_P95_100K_MS = 500.0
TARGET_REBUILD_10K_S = 120.0
TARGET_VISIBLE_S = 2.0


class BenchError(Exception):
    """Something broke: a command failed, a query raised, a status change was refused."""


@dataclass
class Build:
    wall_s: float
    cpu_s: float
    size_bytes: int
    detail: str = ""

    def rate(self, documents: int) -> float:
        return documents / self.wall_s if self.wall_s else 0.0


@dataclass
class SizeResult:
    documents: int
    load_s: float
    tracker_build: Build
    fts_build: Build
    latencies: dict[str, list[float]] = field(default_factory=dict)  # engine -> per-query median, ms
    first: dict[str, list[float]] = field(default_factory=dict)  # engine -> per-query first run, ms
    totals: dict[str, list[int]] = field(default_factory=dict)
    visible_s: list[float | None] = field(default_factory=list)
    queries: list[Query] = field(default_factory=list)


# Helpers ---------------------------------------------------------------------------------------


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * p / 100))]


def folder_size(path: Path) -> int:
    return sum(child.stat().st_size for child in path.rglob("*") if child.is_file())


def megabytes(size: int) -> str:
    return f"{size / 1e6:,.1f} MB"


def duration(seconds: float) -> str:
    if seconds < 120:
        return f"{seconds:.1f} s"
    return f"{seconds / 60:.1f} min"


def flask(env: dict[str, str], *arguments: str) -> str:
    """Run `flask --app tracker ...` and return its output."""
    command = [sys.executable, "-m", "flask", "--app", "tracker", *arguments]
    result = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True)
    if result.returncode != 0:
        raise BenchError(f"flask {' '.join(arguments)} failed:\n{result.stdout}{result.stderr}")
    return result.stdout


def flask_with_progress(env: dict[str, str], *arguments: str, every: float = 15.0) -> None:
    """Run `flask --app tracker ...` on a pseudo-terminal, so that it draws its progress bar (click
    hides it when the output is not a terminal), and print the bar's state every ``every`` seconds."""
    command = [sys.executable, "-m", "flask", "--app", "tracker", *arguments]
    master, slave = pty.openpty()
    process = subprocess.Popen(command, cwd=ROOT, env=dict(env, COLUMNS="100"), stdin=subprocess.DEVNULL,
                               stdout=slave, stderr=slave, close_fds=True)
    os.close(slave)
    output: collections.deque[str] = collections.deque(maxlen=20)
    pending, last_bar, last_shown, shown_at = b"", "", "", 0.0
    try:
        while True:
            try:
                chunk = os.read(master, 65536)
            except OSError:  # EIO: the command has exited and closed the terminal
                break
            if not chunk:
                break
            *lines, pending = re.split(rb"[\r\n]", pending + chunk)
            for raw in lines:
                line = ANSI_ESCAPE.sub("", raw.decode(errors="replace")).strip()
                if not line:
                    continue
                output.append(line)
                if "[" not in line or "/" not in line:
                    if last_bar != last_shown:  # the bar's final state, before what follows it
                        print(f"    {last_bar}", flush=True)
                        last_shown = last_bar
                    print(f"    {line}", flush=True)
                    continue
                last_bar = line
                if time.monotonic() - shown_at >= every and line != last_shown:
                    print(f"    {line}", flush=True)
                    last_shown, shown_at = line, time.monotonic()
    finally:
        os.close(master)
        returncode = process.wait()
    if returncode != 0:
        tail = "\n".join(output)
        raise BenchError(f"flask {' '.join(arguments)} failed with status {returncode}:\n{tail}")


def children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


# Preparing one size ----------------------------------------------------------------------------


def environment(folder: Path) -> dict[str, str]:
    return dict(os.environ, TRACKER_INSTANCE_PATH=str(folder / "instance"),
                TRACKER_DATABASE_URL=f"sqlite:///{folder / 'tracker.db'}",
                TRACKER_SEARCH_INDEX_PATH=str(folder / "search-index"))


def prepare_corpus(folder: Path, env: dict[str, str], corpus: Corpus, documents: int) -> float:
    """Migrate, load the reference records with the real loader, then the synthetic policies in bulk."""
    folder.mkdir(parents=True)
    flask(env, "db", "upgrade")
    reference = folder / "reference.json"
    reference.write_text(json.dumps({"dataset": "asean-ev-policies", "version": 1, **corpus.reference_records(),
                                     "policies": []}, ensure_ascii=False), encoding="utf-8")
    flask(env, "data", "load", str(reference))
    step = max(1000, documents // 10)

    def progress(done: int, elapsed: float) -> None:
        if done % step == 0 or done == documents:
            print(f"    loaded {done:>7,} / {documents:,} policies ({elapsed:.0f} s)", flush=True)

    return load_policies(env["TRACKER_DATABASE_URL"], corpus, documents, batch=1000, progress=progress)


def build_tracker_index(env: dict[str, str]) -> Build:
    """`flask search rebuild` in its own process: wall time, its CPU time and the index folder's size."""
    cpu = children_cpu()
    started = time.perf_counter()
    flask_with_progress(env, "search", "rebuild")
    wall = time.perf_counter() - started
    index = Path(env["TRACKER_SEARCH_INDEX_PATH"])
    return Build(wall, children_cpu() - cpu, folder_size(index))


def build_fts(folder: Path, documents: int) -> tuple[Fts5Index, Build]:
    step = max(1000, documents // 10)
    started = time.perf_counter()

    def progress(done: int) -> None:
        if done % step == 0 or done == documents:
            print(f"    FTS5 indexed {done:>7,} / {documents:,} ({time.perf_counter() - started:.0f} s)", flush=True)

    index, stats = Fts5Index.build(folder / "fts5.db", folder / "tracker.db", progress=progress)
    sizes = index.sizes()
    detail = (f"content tables {megabytes(sizes['content'])}, whole file {megabytes(sizes['file'])}; "
              f"Lao segmentation {stats.segment_s:.1f} s, optimize {stats.optimize_s:.1f} s")
    return index, Build(stats.wall_s, stats.cpu_s, sizes["fts"], detail)


def print_profile(profiler: cProfile.Profile, title: str, top: int = 25) -> None:
    """The ``top`` functions by cumulative and by own time, as pstats prints them."""
    for order in ("cumulative", "tottime"):
        out = io.StringIO()
        pstats.Stats(profiler, stream=out).strip_dirs().sort_stats(order).print_stats(top)
        print(f"\n  {title}, by {order}:")
        lines = out.getvalue().splitlines()
        start = next((i for i, line in enumerate(lines) if line.lstrip().startswith("ncalls")), 0)
        for line in lines[start:]:
            if line.strip():
                print("  " + line[:150])


def profile_build(app) -> None:
    """Build a generation in this process under cProfile (not published) and print where the time goes."""
    from tracker.search.indexer import Indexer
    from tracker.search.runtime import runtime_of

    runtime = runtime_of(app)
    profiler = cProfile.Profile()
    started = time.perf_counter()
    profiler.enable()
    name, _ = Indexer(runtime.store).build(runtime.sessions(), runtime.sessions, publish=False)
    profiler.disable()
    elapsed = time.perf_counter() - started
    shutil.rmtree(runtime.store.root / name, ignore_errors=True)
    print_profile(profiler, f"Profile of the build in this process ({elapsed:.1f} s under cProfile)")


def profile_queries(app, queries: list[Query]) -> None:
    """One pass of the tracker's side of the query mix under cProfile, printed like the build's."""
    from tracker.services.search import search

    database = app.extensions["tracker.db"]
    requests = [tracker_request(query) for query in queries]
    profiler = cProfile.Profile()
    started = time.perf_counter()
    profiler.enable()
    for request in requests:
        with database.session() as session:
            search(session, request)
    profiler.disable()
    elapsed = time.perf_counter() - started
    print_profile(profiler, f"Profile of {len(requests)} tracker searches ({elapsed:.1f} s under cProfile)")


# Querying --------------------------------------------------------------------------------------


def tracker_request(query: Query):
    from tracker.search.request import SearchRequest

    return SearchRequest(q=query.text, types=("policy",), sort=query.sort, per_page=20,
                         **{name: values for name, values in query.filters})


def measure(app, fts: Fts5Index, queries: list[Query], passes: int) -> tuple[dict, dict, dict]:
    """Per engine and query, interleaved: the latency (ms) of the first run, the median of the
    repeated runs, and the total."""
    from tracker.services.search import search

    database = app.extensions["tracker.db"]
    requests = [tracker_request(query) for query in queries]

    def run_tracker(number: int) -> tuple[float, int]:
        started = time.perf_counter()
        with database.session() as session:
            results = search(session, requests[number])
        return (time.perf_counter() - started) * 1000, results.total

    def run_fts(number: int) -> tuple[float, int]:
        query = queries[number]
        started = time.perf_counter()
        result = fts.search(query.terms, query.filters, query.sort)
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
            if (number + 1) % 50 == 0:
                print(f"    {label}: {number + 1:>3}/{len(queries)} queries ({time.perf_counter() - started:.0f} s)",
                      flush=True)
    medians = {name: [statistics.median(values) for values in per_query] for name, per_query in samples.items()}
    return first, medians, totals


# Freshness -------------------------------------------------------------------------------------


def create_reviewer(app) -> None:
    from tracker.db import unit_of_work
    from tracker.services.accounts import create_user

    with unit_of_work(app.extensions["tracker.db"].session(write=True)) as session:
        create_user(session, EDITOR_EMAIL, EDITOR_PASSWORD, "reviewer")


def visibility_delays(app, count: int) -> list[float | None]:
    """Seconds from the commit of a status change to the first search that shows it (None: not within
    the deadline)."""
    from sqlalchemy import select

    from tracker.db import unit_of_work
    from tracker.models import Policy, User
    from tracker.search.request import SearchRequest
    from tracker.services.editing import change_status
    from tracker.services.search import search

    database = app.extensions["tracker.db"]
    with database.session() as session:
        candidates = list(session.execute(
            select(Policy.key).where(Policy.legal_status == "adopted",
                                                       Policy.editorial_state == "published")
            .order_by(Policy.id).limit(count)))
    if len(candidates) < count:
        raise BenchError(f"only {len(candidates)} published policies are adopted; {count} needed")
    delays: list[float | None] = []
    for number, (key,) in enumerate(candidates, start=1):
        with unit_of_work(database.session(write=True)) as session:
            actor = session.scalars(select(User).where(User.email == EDITOR_EMAIL)).one()
            change_status(session, key, {"status": "in_force", "effective_on": f"2031-01-{number:02d}",
                                         "note": "Entered into force (search freshness benchmark)."}, actor)
        committed = time.perf_counter()
        # The reference number is unique to the policy (bench/corpus.py), so this search finds it.
        request = SearchRequest(q=str(reference_number(int(key.rsplit("-", 1)[1]))), statuses=("in_force",),
                                types=("policy",))
        delay = None
        while time.perf_counter() - committed < VISIBLE_DEADLINE:
            with database.session() as session:
                results = search(session, request)
            if any(hit.key == key and hit.record.legal_status == "in_force" for hit in results.hits):
                delay = time.perf_counter() - committed
                break
            # Sleep between polls: the in-process indexer needs the interpreter too.
            time.sleep(POLL_INTERVAL)
        shown = f"{delay * 1000:.0f} ms" if delay is not None else f"not visible after {VISIBLE_DEADLINE:.0f} s"
        print(f"    change {number}/{count}: {key} adopted -> in force; visible in search after {shown}", flush=True)
        delays.append(delay)
    return delays


# One size --------------------------------------------------------------------------------------


def run_size(documents: int, workdir: Path, corpus: Corpus, args: argparse.Namespace) -> SizeResult:
    folder = workdir / f"size-{documents}"
    env = environment(folder)
    print(f"\n=== {documents:,} policies, in {folder}", flush=True)
    print("  Loading the corpus ...", flush=True)
    load_s = prepare_corpus(folder, env, corpus, documents)
    print("  Building the tracker's index: flask --app tracker search rebuild ...", flush=True)
    tracker_build = build_tracker_index(env)
    print(f"    done in {duration(tracker_build.wall_s)} ({documents / tracker_build.wall_s:,.0f} docs/s, "
          f"CPU {tracker_build.cpu_s:.0f} s), index {megabytes(tracker_build.size_bytes)}", flush=True)
    print("  Building the FTS5 index ...", flush=True)
    fts, fts_build = build_fts(folder, documents)
    print(f"    done in {duration(fts_build.wall_s)} ({documents / fts_build.wall_s:,.0f} docs/s), "
          f"index {megabytes(fts_build.size_bytes)}", flush=True)
    result = SizeResult(documents, load_s, tracker_build, fts_build)
    # The app reads its instance folder from the environment before any configuration.
    os.environ.update({name: env[name] for name in ("TRACKER_INSTANCE_PATH", "TRACKER_DATABASE_URL",
                                                    "TRACKER_SEARCH_INDEX_PATH")})
    from tracker import create_app

    app = create_app()
    try:
        with app.app_context():
            if args.profile_build:
                print("  Profiling the tracker's build in this process (cProfile) ...", flush=True)
                profile_build(app)
            result.queries = query_mix(corpus, documents, seed=args.seed, size=args.queries)
            print(f"  Querying: {len(result.queries)} queries, a first pass + {args.passes} passes, "
                  f"interleaved ...", flush=True)
            result.first, result.latencies, result.totals = measure(app, fts, result.queries, args.passes)
            if args.profile_queries:
                print("  Profiling the tracker's searches (one pass, cProfile) ...", flush=True)
                profile_queries(app, result.queries)
            if args.changes:
                print(f"  Commit-to-visible delay of a status change ({args.changes} changes) ...", flush=True)
                create_reviewer(app)
                result.visible_s = visibility_delays(app, args.changes)
    finally:
        fts.close()
        app.extensions["tracker.db"].dispose()
    report_size(result, args)
    return result


# Report ----------------------------------------------------------------------------------------


def latency_table(title: str, queries: list[Query], latencies: dict[str, list[float]]) -> None:
    tracker, fts = latencies["tracker"], latencies["FTS5"]
    print(title)
    header = (f"{'class':<16}{'n':>4}{'tracker p50':>13}{'p95':>8}{'FTS5 p50':>10}{'p95':>8}"
              f"{'median ratio':>14}{'p95 ratio':>11}")
    print(header)
    print("-" * len(header))
    for kind in (*CLASSES, None):
        chosen = [i for i, q in enumerate(queries) if kind is None or q.kind == kind]
        t = [tracker[i] for i in chosen]
        f = [fts[i] for i in chosen]
        ratios = [tracker[i] / fts[i] for i in chosen if fts[i] > 0]
        label = "ALL" if kind is None else CLASS_LABELS[kind]
        print(f"{label:<16}{len(chosen):>4}{percentile(t, 50):>13.1f}{percentile(t, 95):>8.1f}"
              f"{percentile(f, 50):>10.1f}{percentile(f, 95):>8.1f}"
              f"{statistics.median(ratios):>13.1f}×{percentile(t, 95) / percentile(f, 95):>10.1f}×")


def report_size(result: SizeResult, args: argparse.Namespace) -> None:
    n = result.documents
    print(f"\n--- {n:,} policies: build (load of the corpus into the database: {duration(result.load_s)})")
    header = f"{'engine':<10}{'wall':>10}{'CPU s':>8}{'docs/s':>9}{'index size':>13}"
    print(header)
    print("-" * len(header))
    for name, build in (("tracker", result.tracker_build), ("FTS5", result.fts_build)):
        print(f"{name:<10}{duration(build.wall_s):>10}{build.cpu_s:>8.0f}{build.rate(n):>9,.0f}"
              f"{megabytes(build.size_bytes):>13}")
    print("tracker: `flask search rebuild` in its own process; size of the index folder.")
    print(f"FTS5: index proper (shadow tables); {result.fts_build.detail}.")

    latency_table(f"\n--- {n:,} policies: query latency in ms, repeated: median of {args.passes} interleaved "
                  f"passes per query", result.queries, result.latencies)
    latency_table(f"\n--- {n:,} policies: query latency in ms, first run of each query", result.queries,
                  result.first)
    tracker, fts = result.latencies["tracker"], result.latencies["FTS5"]
    totals_t, totals_f = result.totals["tracker"], result.totals["FTS5"]
    same = sum(1 for a, b in zip(totals_t, totals_f) if a == b)
    close = sum(1 for a, b in zip(totals_t, totals_f) if a == b or (a and b and abs(a - b) / max(a, b) <= 0.1))
    print(f"Queries with hits: tracker {sum(1 for t in totals_t if t)}/{len(totals_t)}, "
          f"FTS5 {sum(1 for t in totals_f if t)}/{len(totals_f)}; same total on {same}, within 10% on {close}.")
    # The fixed phrases come twice in the mix; each query is named once.
    slowest: list[int] = []
    for i in sorted(range(len(tracker)), key=lambda i: tracker[i], reverse=True):
        if len(slowest) < 5 and all(result.queries[j].describe() != result.queries[i].describe() for j in slowest):
            slowest.append(i)
    print("Slowest for the tracker: " + "; ".join(
        f"{result.queries[i].describe()} {tracker[i]:.0f} ms (FTS5 {fts[i]:.0f} ms, {totals_t[i]:,} hits)"
        for i in slowest))

    if result.visible_s:
        seen = [d for d in result.visible_s if d is not None]
        shown = ", ".join(f"{d * 1000:.0f}" if d is not None else "never" for d in result.visible_s)
        line = f"\n--- Commit to visible in search, {len(result.visible_s)} status changes: {shown} ms"
        if seen:
            line += f"; median {statistics.median(seen) * 1000:.0f} ms, max {max(seen) * 1000:.0f} ms"
        print(line)


def ratios(result: SizeResult, runs: str) -> tuple[float, float]:
    """Median per-query ratio and p95 ratio, tracker / FTS5, of the repeated or the first runs."""
    t, f = getattr(result, runs)["tracker"], getattr(result, runs)["FTS5"]
    return statistics.median(a / b for a, b in zip(t, f) if b > 0), percentile(t, 95) / percentile(f, 95)


def report_summary(results: list[SizeResult], args: argparse.Namespace) -> None:
    print("\n=== Summary")
    print(f"Python {platform.python_version()}, SQLite {sqlite3.sqlite_version}, {os.cpu_count()} CPUs, "
          f"load average {os.getloadavg()[0]:.2f} at the end; seed {args.seed}, {args.passes} passes")
    header = (f"{'policies':>9}  {'engine':<8}{'build docs/s':>13}{'index':>11}  {'runs':<9}{'p50 ms':>8}"
              f"{'p95 ms':>9}{'median ratio':>14}{'p95 ratio':>11}")
    print(header)
    print("-" * len(header))
    for result in results:
        for engine, build in (("tracker", result.tracker_build), ("FTS5", result.fts_build)):
            for runs, label in (("latencies", "repeated"), ("first", "first run")):
                values = getattr(result, runs)[engine]
                line = (f"{result.documents:>9,}  {engine:<8}{build.rate(result.documents):>13,.0f}"
                        f"{megabytes(build.size_bytes):>11}" if runs == "latencies" else f"{'':>43}")
                line += f"  {label:<9}{percentile(values, 50):>8.1f}{percentile(values, 95):>9.1f}"
                if engine == "tracker":
                    median_ratio, p95_ratio = ratios(result, runs)
                    line += f"{median_ratio:>13.1f}×{p95_ratio:>10.1f}×"
                print(line)
    print("(index: FTS5 without its content tables; ratios: tracker / FTS5)")
    for result in results:
        seen = [d for d in result.visible_s if d is not None]
        if seen:
            print(f"Commit to visible, {result.documents:,} policies: median {statistics.median(seen) * 1000:.0f} ms, "
                  f"max {max(seen) * 1000:.0f} ms over {len(result.visible_s)} status changes"
                  + ("" if len(seen) == len(result.visible_s) else " (some never became visible)"))

    print("\np95 latency, ms")
    width = 50
    rows = [(f"{result.documents:>9,} {engine:<8}{label:<10}", percentile(getattr(result, runs)[engine], 95))
            for result in results for runs, label in (("latencies", "repeated"), ("first", "first run"))
            for engine in ("tracker", "FTS5")]
    top = max(value for _, value in rows)
    for label, value in rows:
        print(f"{label} {'█' * max(1, round(width * value / top)):<{width}} {value:.1f}")

    print("\nTargets (information only):")
    by_size = {result.documents: result for result in results}
    ten, hundred = by_size.get(10_000), by_size.get(100_000)

    def verdict(ok: bool) -> str:
        return "met" if ok else "NOT met"

    def p95_line(result: SizeResult, target: float) -> None:
        for runs, label in (("latencies", "repeated"), ("first", "first run")):
            p95 = percentile(getattr(result, runs)["tracker"], 95)
            print(f"  {result.documents:,}: p95 under {target:.0f} ms end to end ({label}): {p95:.1f} ms — "
                  f"{verdict(p95 < target)}")

    if ten:
        p95_line(ten, TARGET_P95_10K_MS)
        for runs, label in (("latencies", "repeated"), ("first", "first run")):
            median_ratio, p95_ratio = ratios(ten, runs)
            print(f"  10,000: no more than {TARGET_RATIO_10K:.0f}× FTS5 in the same run ({label}): p95 ratio "
                  f"{p95_ratio:.1f}×, median per-query ratio {median_ratio:.1f}× — "
                  f"{verdict(p95_ratio <= TARGET_RATIO_10K and median_ratio <= TARGET_RATIO_10K)}")
        build = ten.tracker_build.wall_s
        print(f"  10,000: full rebuild under {TARGET_REBUILD_10K_S / 60:.0f} min: {duration(build)} — "
              f"{verdict(build < TARGET_REBUILD_10K_S)}")
    else:
        print("  10,000: not run (--sizes)")
    if hundred:
        p95_line(hundred, TARGET_P95_100K_MS)
    else:
        print("  100,000: not run (add it with --sizes 10000,100000)")
    for result in results:
        seen = [d for d in result.visible_s if d is not None]
        if result.visible_s:
            worst = max(seen) if len(seen) == len(result.visible_s) else None
            shown = f"max {worst * 1000:.0f} ms" if worst is not None else "some changes never became visible"
            print(f"  {result.documents:,}: a status change searchable within {TARGET_VISIBLE_S:.0f} s of its "
                  f"commit: {shown} — {verdict(worst is not None and worst <= TARGET_VISIBLE_S)}")
    print("(Timings depend on the machine and never make this script fail.)")


# Main ------------------------------------------------------------------------------------------


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="10000",
                        help="comma-separated corpus sizes, smallest first (default 10000; 10000,100000 "
                             "adds the large one, which takes long to build)")
    parser.add_argument("--passes", type=int, default=3, help="measured passes over the queries (default 3)")
    parser.add_argument("--queries", type=int, default=200, help="queries in the mix (default 200)")
    parser.add_argument("--changes", type=int, default=5,
                        help="status changes timed from commit to search (default 5; 0 skips)")
    parser.add_argument("--seed", type=int, default=DEFAULT_SEED,
                        help=f"corpus and query seed (default {DEFAULT_SEED})")
    parser.add_argument("--profile-build", action="store_true",
                        help="also build the tracker's index in this process under cProfile and print the top")
    parser.add_argument("--profile-queries", action="store_true",
                        help="also run the tracker's queries once more under cProfile and print the top")
    parser.add_argument("--workdir", type=Path, help="folder for the databases and indexes (default: a new "
                                                     "temporary folder)")
    parser.add_argument("--keep", action="store_true", help="keep the databases and indexes afterwards")
    args = parser.parse_args()
    try:
        args.sizes = sorted({int(size.replace("_", "")) for size in args.sizes.split(",") if size.strip()})
    except ValueError:
        parser.error("--sizes takes numbers separated by commas, e.g. 10000,100000")
    if not args.sizes or min(args.sizes) < 100 or args.passes < 1 or args.queries < 10 or args.changes < 0:
        parser.error("need sizes of at least 100, --passes >= 1, --queries >= 10 and --changes >= 0")
    return args


def main() -> int:
    args = parse_args()
    if args.workdir:
        args.workdir.mkdir(parents=True, exist_ok=True)
        workdir = Path(tempfile.mkdtemp(prefix="tracker-bench-search-", dir=args.workdir))
    else:
        workdir = Path(tempfile.mkdtemp(prefix="tracker-bench-search-"))
    print(f"Search benchmark: sizes {', '.join(f'{size:,}' for size in args.sizes)}; working in {workdir}", flush=True)
    corpus = Corpus(args.seed)
    results: list[SizeResult] = []
    try:
        for size in args.sizes:
            if results:
                previous = results[-1]
                factor = size / previous.documents
                print(f"\nEstimate for {size:,} policies, linear from {previous.documents:,}: load "
                      f"{duration(previous.load_s * factor)}, tracker rebuild "
                      f"{duration(previous.tracker_build.wall_s * factor)}, FTS5 build "
                      f"{duration(previous.fts_build.wall_s * factor)}; queries take longer too.", flush=True)
            results.append(run_size(size, workdir, corpus, args))
        report_summary(results, args)
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
