"""Data in and out at scale: loading a dataset, importing a spreadsheet export (dry run and apply), and
streaming the policy list as CSV, each timed with its peak memory, at several sizes.

Usage: .venv/bin/python bench/exports.py [--sizes 10000[,100000]] [--json PATH] [--workdir DIR] [--keep]

For each size N, in a throwaway folder and a migrated SQLite database of its own:

1. Dataset. N policies in the dataset format, each a copy of one of the demo data's policies under a
   new key (its history, topics, bodies and sources), a third of them related to another policy of the
   file (forward and backward references), written to a JSON file; the demo's topics, organisations
   and events with them.
2. load: `flask --app tracker data load FILE` in a process of its own (the command staff and CI run):
   wall time, rows per second, and the process's peak resident memory (getrusage of the child).
3. export: GET /policies.csv through the app (the WSGI test client, no HTTP) in a fresh process,
   reading the body a chunk at a time: time to the first byte, total time, rows per second, peak
   memory, and the memory the process had before the request (the growth is what streaming costs).
4. import dry run: the CSV just downloaded, with the title of every tenth row changed, uploaded as a
   staff import (tracker.services.imports.start: parsing, the loader in a savepoint rolled back, the
   report stored) in a fresh process: time, rows per second, peak memory.
5. import apply: that dry run applied (tracker.services.imports.apply: the loader for real, one
   transaction, audit entries for the changed rows) in a fresh process: time, rows per second, peak memory.

Targets from the project's plan (information only): 100,000 rows dry run and apply each under 5
minutes and under 1 GB; the CSV export's memory must not grow with the rows. The script fails only when
a step fails, never on a time. --json PATH writes the figures.
"""
from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PYTHON = sys.executable
DEMO = ROOT / "tracker" / "data" / "asean-ev-policies.json"


def make_dataset(size: int, path: Path) -> None:
    demo = json.loads(DEMO.read_text(encoding="utf-8"))
    base = demo["policies"]
    rng = random.Random(size)
    policies = []
    for index in range(size):
        record = json.loads(json.dumps(base[index % len(base)]))
        record["key"] = f"bench-{index:06d}"
        record["relations"] = []
        record["forum_links"] = [link for link in record.get("forum_links", [])]
        if index % 3 == 0:
            record["relations"] = [{"type": "related", "target": f"bench-{rng.randrange(size):06d}",
                                    "target_reference": None}]
        record["editorial_state"] = "published"
        policies.append(record)
    data = {key: demo[key] for key in ("dataset", "version", "compiled", "topics", "organisations", "events")}
    data["policies"] = policies
    path.write_text(json.dumps(data, ensure_ascii=False), encoding="utf-8")


def run_child(code: str, env: dict[str, str], label: str) -> dict:
    """Run ``code`` in a fresh interpreter; its last stdout line is JSON. Adds wall time and peak memory."""
    started = time.perf_counter()
    process = subprocess.Popen([PYTHON, "-c", code], cwd=ROOT, env=env, stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, text=True)
    _pid, status, usage = os.wait4(process.pid, 0)
    wall = time.perf_counter() - started
    out = process.stdout.read() if process.stdout else ""
    err = process.stderr.read() if process.stderr else ""
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit(f"{label} failed:\n{err[-3000:]}")
    lines = [line for line in out.splitlines() if line.startswith("{")]
    result = json.loads(lines[-1]) if lines else {}
    result.update(wall=wall, peak_mb=usage.ru_maxrss / 1024)
    return result


def run_size(size: int, workdir: Path) -> dict:
    folder = workdir / f"n{size}"
    folder.mkdir(parents=True)
    env = dict(os.environ, TRACKER_DATABASE_URL=f"sqlite:///{folder / 'tracker.db'}",
               TRACKER_SEARCH_INDEX_PATH=str(folder / "index"), TRACKER_SECRET_KEY="bench-" + "x" * 40,
               TRACKER_SEARCH_INDEXER="external", TRACKER_NOTIFY_WORKER="external",
               TRACKER_DOCUMENT_WORKER="external")
    flask = [str(Path(PYTHON).parent / "flask"), "--app", "tracker"]
    subprocess.run([*flask, "db", "upgrade"], cwd=ROOT, env=env, check=True, capture_output=True)
    dataset = folder / "dataset.json"
    started = time.perf_counter()
    # In a process of its own: a child's peak memory (getrusage) starts from what its parent held when it
    # was forked, so a parent that had built the file in memory would inflate every figure below.
    subprocess.run([PYTHON, "-c", f"import sys; sys.path.insert(0, {str(Path(__file__).parent)!r}); "
                    f"from pathlib import Path; from exports import make_dataset; "
                    f"make_dataset({size}, Path({str(dataset)!r}))"], cwd=ROOT, check=True)
    print(f"  dataset of {size:,} policies written ({dataset.stat().st_size / 1e6:.0f} MB, "
          f"{time.perf_counter() - started:.1f} s)", flush=True)
    results: dict = {"size": size}

    code_load = textwrap.dedent(f"""
        import json, subprocess, sys
        from tracker import create_app
        from tracker.cli import _load
        from pathlib import Path
        app = create_app()
        with app.app_context():
            _load(Path({str(dataset)!r}))
        print(json.dumps({{}}))
    """)
    results["load"] = run_child(code_load, env, "load")
    print(f"  load: {results['load']['wall']:.1f} s, peak {results['load']['peak_mb']:.0f} MB", flush=True)

    csv_path = folder / "policies.csv"
    code_export = textwrap.dedent(f"""
        import json, resource, time
        from tracker import create_app
        app = create_app()
        client = app.test_client()
        client.get("/policies?country=LA")   # warm the app: templates, the session, the content version
        before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        started = time.perf_counter()
        response = client.get("/policies.csv", buffered=False)
        first = None
        rows = 0
        with open({str(csv_path)!r}, "wb") as out:
            for chunk in response.response:
                if first is None:
                    first = time.perf_counter() - started
                rows += chunk.count(b"\\r\\n")
                out.write(chunk)
        response.close()
        print(json.dumps({{"first_byte": first, "seconds": time.perf_counter() - started, "rows": rows - 1,
                          "before_mb": before}}))
    """)
    results["export"] = run_child(code_export, env, "export")
    export = results["export"]
    print(f"  export: {export['rows']:,} rows in {export['seconds']:.1f} s (first byte {export['first_byte']:.2f} s),"
          f" peak {export['peak_mb']:.0f} MB (before the request {export['before_mb']:.0f} MB)", flush=True)

    changed = folder / "changed.csv"
    with csv_path.open(encoding="utf-8-sig", newline="") as source, changed.open("w", encoding="utf-8-sig",
                                                                                 newline="") as target:
        import csv

        reader, writer = csv.reader(source), csv.writer(target, lineterminator="\r\n")
        header = next(reader)
        writer.writerow(header)
        title = header.index("title_en")
        for number, row in enumerate(reader):
            if number % 10 == 0:
                row[title] = f"{row[title]} (revised)"
            writer.writerow(row)
    code_import = textwrap.dedent(f"""
        import hashlib, json, time
        from pathlib import Path
        from sqlalchemy import select
        from tracker import create_app
        from tracker.db import unit_of_work
        from tracker.documents.storage import Received
        from tracker.models import User
        from tracker.services import accounts, imports
        app = create_app()
        database = app.extensions["tracker.db"]
        path = Path({str(changed)!r})
        with app.test_request_context():
            with unit_of_work(database.session(write=True)) as session:
                user = session.scalars(select(User).where(User.email == "bench@example.org")).first()
                if user is None:
                    user = accounts.create_user(session, "bench@example.org", "bench-password-12345", "reviewer",
                                                display_name="Bench")
            started = time.perf_counter()
            with unit_of_work(database.session(write=True)) as session:
                user = session.scalars(select(User).where(User.email == "bench@example.org")).one()
                upload = Received(path, path.stat().st_size, hashlib.sha256(path.read_bytes()).hexdigest())
                record = imports.start(session, upload, "changed.csv", user)
                summary = dict(record.summary["counts"]), record.state, record.id
            print(json.dumps({{"seconds": time.perf_counter() - started, "counts": summary[0],
                              "state": summary[1], "id": summary[2]}}))
    """)
    results["dry_run"] = run_child(code_import, env, "import dry run")
    dry = results["dry_run"]
    if dry["state"] != "dry_run":
        raise SystemExit(f"the dry run was refused: {dry}")
    print(f"  import dry run: {dry['seconds']:.1f} s, peak {dry['peak_mb']:.0f} MB, {dry['counts']}", flush=True)
    code_apply = textwrap.dedent(f"""
        import json, time
        from sqlalchemy import select
        from tracker import create_app
        from tracker.db import unit_of_work
        from tracker.models import User
        from tracker.services import imports
        app = create_app()
        database = app.extensions["tracker.db"]
        with app.test_request_context():
            started = time.perf_counter()
            with unit_of_work(database.session(write=True)) as session:
                user = session.scalars(select(User).where(User.email == "bench@example.org")).one()
                record = imports.apply(session, {dry['id']}, user)
                state = record.state
            print(json.dumps({{"seconds": time.perf_counter() - started, "state": state}}))
    """)
    results["apply"] = run_child(code_apply, env, "import apply")
    print(f"  import apply: {results['apply']['seconds']:.1f} s, peak {results['apply']['peak_mb']:.0f} MB",
          flush=True)
    return results


def report(all_results: list[dict]) -> None:
    print("\n=== Summary (rows per second; peak resident memory of the process doing the work)")
    print(f"{'step':<22}{'rows':>9}{'seconds':>10}{'rows/s':>10}{'peak MB':>10}")
    print("-" * 61)
    for result in all_results:
        size = result["size"]
        for step, label, seconds in (("load", "load (flask data load)", result["load"]["wall"]),
                                     ("export", "export /policies.csv", result["export"]["seconds"]),
                                     ("dry_run", "import dry run", result["dry_run"]["seconds"]),
                                     ("apply", "import apply", result["apply"]["seconds"])):
            print(f"{label:<22}{size:>9,}{seconds:>10.1f}{size / seconds:>10,.0f}{result[step]['peak_mb']:>10.0f}")
        export = result["export"]
        print(f"{'  (export before req.)':<22}{'':>9}{'':>10}{'':>10}{export['before_mb']:>10.0f}")
    print("(load: the whole command in its own process, start-up included; export: the streamed body from the "
          "request to the last byte; dry run and apply: the service call in its transaction.)")
    print(f"Targets (information only): dry run and apply of 100,000 rows each under 300 s and 1,024 MB; "
          f"export memory flat as rows grow. Load average now {os.getloadavg()[0]:.2f} on {os.cpu_count()} CPUs.")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="10000", help="comma-separated numbers of policies (default 10000)")
    parser.add_argument("--json", type=Path, help="also write the figures as JSON to this file")
    parser.add_argument("--workdir", type=Path, help="folder for the databases (default: a new temporary one)")
    parser.add_argument("--keep", action="store_true", help="keep the databases afterwards")
    args = parser.parse_args()
    sizes = [int(part) for part in args.sizes.split(",") if part.strip()]
    workdir = Path(tempfile.mkdtemp(prefix="tracker-bench-exports-", dir=args.workdir))
    print(f"Data in and out at {', '.join(f'{s:,}' for s in sizes)} policies; working in {workdir}; "
          f"load average {os.getloadavg()[0]:.2f}", flush=True)
    results = []
    try:
        for size in sizes:
            print(f"\n--- {size:,} policies", flush=True)
            results.append(run_size(size, workdir))
        report(results)
        if args.json:
            args.json.write_text(json.dumps(results, indent=1) + "\n", encoding="utf-8")
            print(f"Figures written to {args.json}")
    finally:
        if args.keep:
            print(f"Kept {workdir}")
        else:
            shutil.rmtree(workdir, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
