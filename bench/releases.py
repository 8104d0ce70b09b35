"""Releases of the dataset: the time and memory of `flask data release` as the published data grows.

Usage: .venv/bin/python bench/releases.py [--sizes 1000,10000] [--seed N] [--workdir DIR] [--keep]

For each size, in a throwaway folder: a migrated SQLite database gets the demo data's topics,
organisations and events through `flask data load`, then N synthetic policies from bench/corpus.py
written in bulk by bench/loader.py (a share of them drafts, in review or archived, as the corpus
draws them). Then `flask --app tracker data release` runs as a child process, and its wall time, its
peak resident memory (the child's own, from wait4) and the sizes of the three files are printed, with
the rows of the policies table. The build writes every table row by row; the peak memory should stay
nearly flat while the rows grow ten-fold. Figures only: the script fails only when a command fails.
"""
from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from corpus import Corpus  # noqa: E402
from loader import load_policies  # noqa: E402

FLASK = [sys.executable, "-m", "flask", "--app", "tracker"]


def flask(env: dict[str, str], *args: str) -> str:
    result = subprocess.run([*FLASK, *args], env=env, cwd=ROOT, capture_output=True, text=True)
    if result.returncode != 0:
        raise SystemExit(f"flask {' '.join(args)} failed:\n{result.stdout}\n{result.stderr}")
    return result.stdout


def timed_release(env: dict[str, str]) -> tuple[float, int, str]:
    """Run `flask data release`: (wall seconds, peak resident KiB of the child, its output)."""
    started = time.perf_counter()
    child = subprocess.Popen([*FLASK, "data", "release"], env=env, cwd=ROOT, stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, text=True)
    stdout, stderr = child.communicate()
    # communicate() reaped the child; its resources are in RUSAGE_CHILDREN only as a maximum over every
    # child, so the release runs last and alone after the load children.
    elapsed = time.perf_counter() - started
    if child.returncode != 0:
        raise SystemExit(f"flask data release failed:\n{stdout}\n{stderr}")
    import resource

    return elapsed, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss, stdout + stderr


def run_size(size: int, workdir: Path, corpus: Corpus) -> dict:
    folder = workdir / f"size-{size}"
    folder.mkdir(parents=True)
    env = dict(os.environ, TRACKER_INSTANCE_PATH=str(folder / "instance"),
               TRACKER_DATABASE_URL=f"sqlite:///{folder / 'tracker.db'}", TRACKER_RELEASE_SCHEDULE="off")
    flask(env, "db", "upgrade")
    reference = folder / "reference.json"
    reference.write_text(json.dumps({"dataset": "asean-ev-policies", "version": 1, **corpus.reference_records(),
                                     "policies": []}, ensure_ascii=False), encoding="utf-8")
    flask(env, "data", "load", str(reference))
    load_policies(env["TRACKER_DATABASE_URL"], corpus, size, batch=1000)
    # Each size in its own process, so that the children's peak memory is this release's.
    code = (f"import sys, json; sys.path[:0] = [{str(ROOT / 'bench')!r}, {str(ROOT)!r}]; "
            "from releases import timed_release; print(json.dumps(timed_release(json.loads(sys.argv[1]))))")
    result = subprocess.run([sys.executable, "-c", code, json.dumps(env)], cwd=ROOT, capture_output=True, text=True)
    if result.returncode != 0:
        raise SystemExit(result.stderr)
    elapsed, peak_kib, output = json.loads(result.stdout)
    files = dict((name, int(size.replace(",", ""))) for name, size in
                 re.findall(r"^  (ev-policies-\S+)  ([\d,]+) bytes", output, re.M))
    rows = re.findall(r"policies: ([\d,]+) rows", output)
    return {"size": size, "seconds": elapsed, "peak_mib": peak_kib / 1024, "files": files,
            "published": int(rows[-1].replace(",", "")) if rows else None}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="1000,10000")
    parser.add_argument("--seed", type=int, default=None)
    parser.add_argument("--workdir", type=Path, default=None)
    parser.add_argument("--keep", action="store_true")
    args = parser.parse_args()
    corpus = Corpus(args.seed) if args.seed is not None else Corpus()
    workdir = args.workdir or Path(tempfile.mkdtemp(prefix="tracker-bench-releases-"))
    try:
        print(f"{'policies':>9} {'published':>9} {'seconds':>8} {'peak MiB':>9} {'zip MiB':>8} {'xlsx MiB':>9} "
              f"{'json MiB':>9}")
        for size in (int(part) for part in args.sizes.split(",")):
            result = run_size(size, workdir, corpus)
            sizes = {name.rsplit(".", 1)[-1]: value / 2**20 for name, value in result["files"].items()}
            print(f"{result['size']:>9,} {result['published'] or 0:>9,} {result['seconds']:>8.1f} "
                  f"{result['peak_mib']:>9.0f} {sizes.get('zip', 0):>8.1f} {sizes.get('xlsx', 0):>9.1f} "
                  f"{sizes.get('json', 0):>9.1f}", flush=True)
    finally:
        if not args.keep:
            shutil.rmtree(workdir, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
