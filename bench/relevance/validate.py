"""Check the judged relevance set against the demo dataset.

Usage: .venv/bin/python bench/relevance/validate.py [judgements.json]

Checks: every judged key is a policy or event of tracker/data/asean-ev-policies.json; ids are unique;
grades are 1-3 (unlisted records are 0); each query has a record graded 2 or 3; filters use the search
page's names and known values, and no judged record falls outside its query's filters; at least 90
queries; every category present with several queries; roughly a third held out. Prints counts per
category and part. Exit status 1 on any problem.
"""
from __future__ import annotations

import collections
import json
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
DATASET = HERE.parent.parent / "tracker" / "data" / "asean-ev-policies.json"
CATEGORIES = ("natural", "plural", "acronym", "synonym", "typo", "reference", "filter", "lao",
              "lao_for_english", "english_for_lao", "event")
FILTERS = ("country", "status", "instrument", "topic", "type", "year", "vehicle_class", "event")


def main() -> int:
    path = Path(sys.argv[1]) if len(sys.argv) > 1 else HERE / "judgements.json"
    data = json.loads(path.read_text(encoding="utf-8"))
    dataset = json.loads(DATASET.read_text(encoding="utf-8"))
    records = {p["key"]: ("policy", p) for p in dataset["policies"]}
    records.update({e["key"]: ("event", e) for e in dataset["events"]})
    topics = {t["key"] for t in dataset["topics"]}
    problems: list[str] = []
    for name in ("about", "grades", "queries"):
        if name not in data:
            problems.append(f"missing top-level {name!r}")
    queries = data.get("queries", [])
    ids = collections.Counter(q.get("id") for q in queries)
    problems += [f"id {i} used {n} times" for i, n in ids.items() if n > 1]

    def matches(key: str, filters: dict) -> bool:
        kind, rec = records[key]
        for name, values in filters.items():
            if name == "type" and kind not in values:
                return False
            if name == "country" and rec["country"] not in values:
                return False
            if name == "status" and (kind != "policy" or rec["status"] not in values):
                return False
            if name == "instrument" and (kind != "policy" or rec["instrument"] not in values):
                return False
            if name == "topic" and not set(rec.get("topics") or ()) & set(values):
                return False
        return True

    for q in queries:
        qid = q.get("id")
        for name in ("id", "text", "category", "language", "part", "judgements", "note"):
            if name not in q:
                problems.append(f"{qid}: missing {name!r}")
        if q.get("category") not in CATEGORIES:
            problems.append(f"{qid}: unknown category {q.get('category')!r}")
        if q.get("part") not in ("tune", "held_out"):
            problems.append(f"{qid}: part {q.get('part')!r}")
        if q.get("language") not in ("en", "lo"):
            problems.append(f"{qid}: language {q.get('language')!r}")
        filters = q.get("filters") or {}
        for name, values in filters.items():
            if name not in FILTERS or not isinstance(values, list) or not values:
                problems.append(f"{qid}: bad filter {name!r}: {values!r}")
            if name == "topic" and not set(values) <= topics:
                problems.append(f"{qid}: unknown topic in {values}")
            if name == "country" and any(v != v.upper() for v in values):
                problems.append(f"{qid}: country codes must be upper case: {values}")
        judgements = q.get("judgements") or {}
        for key, grade in judgements.items():
            if key not in records:
                problems.append(f"{qid}: unknown record key {key!r}")
                continue
            if not isinstance(grade, int) or isinstance(grade, bool) or not 1 <= grade <= 3:
                problems.append(f"{qid}: grade of {key} is {grade!r}, expected 1-3")
            if filters and not matches(key, filters):
                problems.append(f"{qid}: {key} is outside the filters {filters}")
        if not any(g >= 2 for g in judgements.values()):
            problems.append(f"{qid}: no record graded 2 or 3")

    if len(queries) < 90:
        problems.append(f"only {len(queries)} queries (need at least 90)")
    per = collections.Counter((q.get("category"), q.get("part")) for q in queries)
    for cat in CATEGORIES:
        if per[(cat, "tune")] + per[(cat, "held_out")] < 3:
            problems.append(f"category {cat} has fewer than 3 queries")
        if per[(cat, "held_out")] == 0:
            problems.append(f"category {cat} has no held-out query")
    held = sum(1 for q in queries if q.get("part") == "held_out")
    share = held / len(queries) if queries else 0
    if not 0.25 <= share <= 0.40:
        problems.append(f"held-out share {share:.2f} is not roughly a third")

    print(f"{'category':18s} {'tune':>5s} {'held':>5s} {'total':>6s}")
    for cat in CATEGORIES:
        t, h = per[(cat, "tune")], per[(cat, "held_out")]
        print(f"{cat:18s} {t:5d} {h:5d} {t + h:6d}")
    print(f"{'all':18s} {len(queries) - held:5d} {held:5d} {len(queries):6d}  (held out {share:.0%})")
    sizes = [len(q.get("judgements") or {}) for q in queries]
    grades = collections.Counter(g for q in queries for g in (q.get("judgements") or {}).values())
    judged = {k for q in queries for k in (q.get("judgements") or {})}
    print(f"judged records per query: min {min(sizes)}, median {sorted(sizes)[len(sizes) // 2]}, max {max(sizes)}; "
          f"grades 3/2/1: {grades[3]}/{grades[2]}/{grades[1]}; "
          f"records judged somewhere: {len(judged)} of {len(records)}")
    langs = collections.Counter(q.get("language") for q in queries)
    print("languages:", dict(langs))
    if problems:
        print(f"\n{len(problems)} problems:")
        for p in problems:
            print(" ", p)
        return 1
    print("OK")
    return 0


if __name__ == "__main__":
    sys.exit(main())
