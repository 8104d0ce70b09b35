"""Throughput and latency of the tracker's HTML pages, compared with a bare Flask page of the same shape.

Usage: .venv/bin/python bench/pages.py [--duration 8] [--connections 4] [--rounds 2] [--rows 20] [--weight-only]

The script builds a throwaway SQLite database with the demo data, starts three gunicorn servers (2 sync
workers each): the tracker; the tracker with its page cache turned off, so that every request queries
the database and renders its template (what the first reader after each edit, and any rare URL,
costs); and bench/bare_app.py, a Flask + Jinja page with the same layout and a table of the same size
but no database. It then loads each page in turn: the bare page, the policy list, one policy record and
the home page, from both trackers, each warmed up for a second then measured for --duration
seconds with --connections concurrent clients. Pages are interleaved and the whole sequence repeated
--rounds times; the table shows the median of the rounds, so background noise on a shared machine
affects every page alike.

How to read it: req/s is the throughput of the two workers together, p50 and p95 are latencies in
milliseconds as seen by the client, and "% of bare" is each page's throughput relative to the bare
page, which is roughly the ceiling for a Flask page on this machine. The targets: at least 50% of the
bare page for every page served from the page cache, and 30% for every page rendered on the request (a
cache miss, and the staff pages, which a signed-in editor always gets fresh). They are reported for
information only: the script fails (exit status 1) only when something breaks, such as a server that does
not start or a response that is not 200.

Before the load test it prints each page's weight on a first visit, in English and in Lao: the HTML
plus the stylesheet, scripts and images it links and the fonts the stylesheet would make a browser fetch
for that page (the Lao font only where the page has Lao characters, both weights counted), as bytes of
body sent to a browser that accepts gzip (headers aside). --weight-only prints that and skips the load test.

The load generator is wrk when it is installed, otherwise a Python one (threads and http.client),
which is slower and shares the CPU with the servers, so its absolute numbers are lower; the ratios
remain comparable. With --rows N the list page shows N policies (?per_page=N) and the bare page N rows.
"""
from __future__ import annotations

import argparse
import functools
import gzip
import http.client
import os
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlencode

ROOT = Path(__file__).resolve().parent.parent
BENCH = ROOT / "bench"
POLICY_KEY = "la-gov-resolution-08-2021-ev-policy"
TARGET = 0.5
# Pages rendered on every request (a cache miss, and every staff page) should reach this share of the bare page.
RENDERED_TARGET = 0.3
EDITOR_EMAIL = "bench-reviewer@example.org"
EDITOR_PASSWORD = "a long benchmark password"
STARTUP_TIMEOUT = 30.0

WRK_SCRIPT = """\
done = function(summary, latency, requests)
  local errors = summary.errors
  io.write(string.format("RESULT requests=%d duration_us=%d p50_us=%d p95_us=%d non2xx=%d socket_errors=%d\\n",
    summary.requests, summary.duration, latency:percentile(50), latency:percentile(95),
    errors.status, errors.connect + errors.read + errors.write + errors.timeout))
end
"""
WRK_RESULT = re.compile(r"RESULT requests=(\d+) duration_us=(\d+) p50_us=(\d+) p95_us=(\d+) "
                        r"non2xx=(\d+) socket_errors=(\d+)")


class BenchError(Exception):
    """Something broke: a server did not start, a page did not answer 200, the load generator failed."""


@dataclass
class Page:
    name: str
    port: int
    path: str
    size: int = 0
    # Sent with every request: a signed-in reviewer's session cookie for the staff pages.
    headers: dict[str, str] = field(default_factory=dict)
    # Rendered on every request: from the server without page cache, or a staff page (never cached).
    rendered: bool = False
    # The name of the same page served from the page cache, when there is one.
    cached_as: str | None = None


@dataclass
class Sample:
    rps: float
    p50_ms: float
    p95_ms: float


# Servers and data -------------------------------------------------------------------------------


def distinct_free_ports(count: int) -> list[int]:
    ports: list[int] = []
    while len(ports) < count:
        port = free_port()
        if port not in ports:
            ports.append(port)
    return ports


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def prepare_database(workdir: Path) -> dict[str, str]:
    """Create the instance folder and database, migrate it, load the demo data and index it; return the
    environment."""
    # No scheduled data release: over a fresh database the scheduler builds one at once, which took the CPU
    # from the pages being measured.
    env = dict(os.environ,
               TRACKER_INSTANCE_PATH=str(workdir / "instance"),
               TRACKER_DATABASE_URL=f"sqlite:///{workdir / 'tracker.db'}",
               TRACKER_RELEASE_SCHEDULE="off")
    commands = (["db", "upgrade"], ["data", "demo"], ["search", "rebuild"],
                ["users", "create", EDITOR_EMAIL, "--role", "reviewer", "--password-stdin"])
    for command in commands:
        result = subprocess.run([sys.executable, "-m", "flask", "--app", "tracker", *command],
                                cwd=ROOT, env=env, capture_output=True, text=True, input=EDITOR_PASSWORD + "\n")
        if result.returncode != 0:
            raise BenchError(f"flask {' '.join(command)} failed:\n{result.stdout}{result.stderr}")
    return env


def control_socket_options() -> list[str]:
    """Gunicorn 25.1+ opens one control socket per user by default; the benchmark's servers need none."""
    try:
        from gunicorn.config import ControlSocketDisable  # noqa: F401
    except ImportError:
        return []
    return ["--no-control-socket"]


def start_gunicorn(app: str, port: int, env: dict[str, str], log: Path, chdir: Path) -> subprocess.Popen:
    """Start gunicorn with 2 sync workers in its own session, so Ctrl+C reaches only this script."""
    command = [sys.executable, "-m", "gunicorn", "--workers", "2", "--worker-class", "sync",
               "--bind", f"127.0.0.1:{port}", "--chdir", str(chdir), "--log-level", "warning",
               *control_socket_options(), app]
    with log.open("w") as handle:
        return subprocess.Popen(command, cwd=chdir, env=env, stdout=handle, stderr=subprocess.STDOUT,
                                start_new_session=True)


def wait_until_up(process: subprocess.Popen, port: int, log: Path) -> None:
    deadline = time.monotonic() + STARTUP_TIMEOUT
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise BenchError(f"gunicorn on port {port} exited with status {process.returncode}:\n"
                             f"{log.read_text()}")
        try:
            fetch(port, "/")
            return
        except OSError:
            time.sleep(0.2)
    raise BenchError(f"gunicorn on port {port} did not answer within {STARTUP_TIMEOUT:.0f} s:\n{log.read_text()}")


def stop(process: subprocess.Popen) -> None:
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def fetch(port: int, path: str, headers: dict[str, str] | None = None) -> tuple[int, bytes]:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        connection.request("GET", path, headers=headers or {})
        response = connection.getresponse()
        return response.status, response.read()
    finally:
        connection.close()


def check(page: Page) -> None:
    """Require a 200 and remember the size of the body."""
    status, body = fetch(page.port, page.path, page.headers)
    if status != 200:
        title = re.search(rb"<title>(.*?)</title>", body, re.S)
        detail = (title.group(1) if title else body[:300]).decode(errors="replace").strip()
        raise BenchError(f"{page.name}: GET {page.path} answered {status} ({detail})")
    page.size = len(body)


def sign_in(port: int) -> dict[str, str]:
    """Sign the bench's reviewer in through the login form (its CSRF token included); the session cookie."""
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        connection.request("GET", "/login")
        response = connection.getresponse()
        form = response.read().decode()
        cookie = response.getheader("Set-Cookie", "").split(";", 1)[0]
        token = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', form)
        if token is None:
            raise BenchError("the login page has no CSRF token")
        body = urlencode({"csrf_token": token.group(1), "email": EDITOR_EMAIL, "password": EDITOR_PASSWORD})
        connection.request("POST", "/login", body=body, headers={
            "Content-Type": "application/x-www-form-urlencoded", "Cookie": cookie})
        response = connection.getresponse()
        response.read()
        if response.status != 302:
            raise BenchError(f"signing in answered {response.status}")
        return {"Cookie": response.getheader("Set-Cookie", "").split(";", 1)[0]}
    finally:
        connection.close()


# Page weight -----------------------------------------------------------------------------------

WEIGHT_LIMIT = 300_000
LINKED = re.compile(rb'<(?:link|script|img)\b[^>]*?\b(?:href|src)="(/static/[^"]+)"')
CSS_URL = re.compile(rb"""url\(\s*['"]?([^'")\s]+)['"]?\s*\)""")
FONT_FACE = re.compile(rb"@font-face\s*\{([^}]*)\}")
LAO = re.compile("[\u0e81-\u0edf]")


@dataclass
class Weight:
    html: int = 0
    css: int = 0
    fonts: int = 0
    other: int = 0

    @property
    def total(self) -> int:
        return self.html + self.css + self.fonts + self.other


def page_weight(port: int, path: str, language: str) -> Weight | int:
    """What a first visit to ``path`` in ``language`` downloads, in bytes of body (or the status of a page
    that does not answer 200)."""
    # As a browser asks: static text files come gzipped (the HTML is sent as it is).
    headers = {"Accept-Language": language, "Cookie": f"lang={language}", "Accept-Encoding": "gzip"}
    status, html = fetch(port, path, headers)
    if status != 200:
        return status
    weight = Weight(html=len(html))
    has_lao = bool(LAO.search(html.decode("utf-8", "replace")))
    for url in dict.fromkeys(match.decode() for match in LINKED.findall(html)):
        status, sent = fetch(port, url, headers)
        if status != 200:
            raise BenchError(f"weight: {url}, linked from {path}, answered {status}")
        if not url.endswith(".css"):
            weight.other += len(sent)
            continue
        weight.css += len(sent)
        body = gzip.decompress(sent) if sent[:2] == b"\x1f\x8b" else sent
        # A font is fetched only for characters of its unicode-range that the page contains.
        for face in FONT_FACE.findall(body):
            lao_only = b"U+0E81" in face.upper()
            if lao_only and not has_lao:
                continue
            for font in CSS_URL.findall(face):
                font_url = url.rsplit("/", 1)[0] + "/" + font.decode()
                status, data = fetch(port, re.sub(r"/[^/]+/\.\./", "/", font_url), headers)
                if status != 200:
                    raise BenchError(f"weight: font {font_url} answered {status}")
                weight.fonts += len(data)
    return weight


def report_weights(port: int, pages: list[tuple[str, str]]) -> None:
    print()
    print("Page weight on a first visit (bytes of body as sent to a browser, headers aside; fonts as a browser")
    print("would fetch them for the page)")
    header = f"{'page':<14}{'lang':<6}{'html':>8}{'css':>8}{'fonts':>8}{'other':>8}{'total':>9}  under 300 KB"
    print(header)
    print("-" * len(header))
    for name, path in pages:
        for language in ("en", "lo"):
            weight = page_weight(port, path, language)
            if isinstance(weight, int):
                print(f"{name:<14}{language:<6}  GET {path} answered {weight}: not measured")
                continue
            verdict = "yes" if weight.total < WEIGHT_LIMIT else "NO"
            print(f"{name:<14}{language:<6}{weight.html:>8}{weight.css:>8}{weight.fonts:>8}{weight.other:>8}"
                  f"{weight.total:>9}  {verdict}")


# Load generators -------------------------------------------------------------------------------


def run_wrk(page: Page, seconds: float, connections: int, script: Path) -> Sample:
    url = f"http://127.0.0.1:{page.port}{page.path}"
    command = ["wrk", "-t1", f"-c{connections}", f"-d{max(1, round(seconds))}s", "--latency", "-s", str(script), url]
    for name, value in page.headers.items():
        command[1:1] = ["-H", f"{name}: {value}"]
    result = subprocess.run(command, capture_output=True, text=True)
    match = WRK_RESULT.search(result.stdout)
    if result.returncode != 0 or not match:
        raise BenchError(f"wrk failed on {url}:\n{result.stdout}{result.stderr}")
    requests, duration_us, p50_us, p95_us, non2xx, socket_errors = map(int, match.groups())
    if non2xx:
        raise BenchError(f"{page.name}: {non2xx} of {requests} responses were not 2xx under load")
    if requests == 0:
        raise BenchError(f"{page.name}: no request completed ({socket_errors} socket errors)")
    return Sample(requests / (duration_us / 1e6), p50_us / 1000, p95_us / 1000)


def run_python(page: Page, seconds: float, connections: int) -> Sample:
    """Threads with one http.client connection each, reopened by http.client when the server closes it."""
    latencies: list[float] = []
    failures: list[str] = []
    lock = threading.Lock()
    deadline = time.perf_counter() + seconds

    def client() -> None:
        mine: list[float] = []
        connection = http.client.HTTPConnection("127.0.0.1", page.port, timeout=10)
        try:
            while time.perf_counter() < deadline:
                started = time.perf_counter()
                try:
                    connection.request("GET", page.path, headers=page.headers)
                    response = connection.getresponse()
                    response.read()
                except (OSError, http.client.HTTPException) as error:
                    connection.close()
                    with lock:
                        failures.append(repr(error))
                    continue
                if response.status != 200:
                    with lock:
                        failures.append(f"status {response.status}")
                    break
                mine.append(time.perf_counter() - started)
        finally:
            connection.close()
            with lock:
                latencies.extend(mine)

    started = time.perf_counter()
    threads = [threading.Thread(target=client, daemon=True) for _ in range(connections)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    elapsed = time.perf_counter() - started
    if any(failure.startswith("status") for failure in failures) or not latencies:
        raise BenchError(f"{page.name}: requests failed under load: {sorted(set(failures))[:5]}")
    latencies.sort()
    return Sample(len(latencies) / elapsed, percentile(latencies, 50) * 1000, percentile(latencies, 95) * 1000)


def percentile(ordered: list[float], p: float) -> float:
    return ordered[min(len(ordered) - 1, int(len(ordered) * p / 100))]


# Report ----------------------------------------------------------------------------------------


def report(pages: list[Page], results: dict[str, Sample], generator: str, args: argparse.Namespace) -> None:
    bare = results[pages[0].name].rps
    print()
    print(f"Median of {args.rounds} round(s), {args.duration:g} s each, {args.connections} connections, "
          f"load generator: {generator}, 2 gunicorn sync workers per server")
    print(f"Machine: {os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.2f} at the end of the run")
    print()
    header = f"{'page':<24}{'req/s':>9}{'p50 ms':>9}{'p95 ms':>9}{'bytes':>9}  vs bare"
    print(header)
    print("-" * len(header))
    for page in pages:
        sample = results[page.name]
        ratio = "baseline" if page is pages[0] else f"{sample.rps / bare:.0%} of bare"
        print(f"{page.name:<24}{sample.rps:>9.0f}{sample.p50_ms:>9.1f}{sample.p95_ms:>9.1f}{page.size:>9}  {ratio}")

    print()
    width = 50
    top = max(sample.rps for sample in results.values())
    for page in pages:
        rps = results[page.name].rps
        bar = "█" * max(1, round(width * rps / top))
        print(f"{page.name:<24}{bar:<{width}} {rps:.0f} req/s")

    print()
    print("What a cache miss costs: the rendered page against the same page from the page cache (p50 latency")
    print("added, and the server's time per request: 2 workers / req/s)")
    for page in pages:
        if page.cached_as is None:
            continue
        hit, miss = results[page.cached_as], results[page.name]
        print(f"  {page.cached_as:<22} +{miss.p50_ms - hit.p50_ms:5.1f} ms p50; {2000 / miss.rps:5.1f} ms of server "
              f"time per miss against {2000 / hit.rps:4.1f} ms per hit")

    print()
    cached = [page.name for page in pages[1:] if not page.rendered and results[page.name].rps < TARGET * bare]
    verdict = "met" if not cached else "not met by " + ", ".join(cached)
    print(f"Target: every cached page at least {TARGET:.0%} of the bare page's req/s ({TARGET * bare:.0f} req/s): "
          f"{verdict}.")
    rendered = [page.name for page in pages if page.rendered and results[page.name].rps < RENDERED_TARGET * bare]
    verdict = "met" if not rendered else "not met by " + ", ".join(rendered)
    print(f"Target: every rendered page at least {RENDERED_TARGET:.0%} of the bare page's req/s "
          f"({RENDERED_TARGET * bare:.0f} req/s): {verdict}.")
    print("(Information only: timings depend on the machine and never make this script fail.)")


# Main ------------------------------------------------------------------------------------------


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--duration", type=float, default=8, help="seconds measured per page and round (default 8)")
    parser.add_argument("--connections", type=int, default=4, help="concurrent connections (default 4)")
    parser.add_argument("--rounds", type=int, default=2, help="interleaved rounds, the median is shown (default 2)")
    parser.add_argument("--warmup", type=float, default=1, help="seconds of warm-up per measurement (default 1)")
    parser.add_argument("--rows", type=int, default=20, help="rows on the list page and the bare page (default 20)")
    parser.add_argument("--weight-only", action="store_true", help="print the page weights, skip the load test")
    args = parser.parse_args()
    if args.duration < 1 or args.warmup < 0 or args.connections < 1 or args.rounds < 1 or not 1 <= args.rows <= 100:
        parser.error("need --duration >= 1, --warmup >= 0, --connections >= 1, --rounds >= 1, 1 <= --rows <= 100")
    return args


def main() -> int:
    args = parse_args()
    workdir = Path(tempfile.mkdtemp(prefix="tracker-bench-"))
    servers: list[subprocess.Popen] = []
    try:
        print(f"Preparing the demo database in {workdir} ...", flush=True)
        env = prepare_database(workdir)

        tracker_port, bare_port, rendering_port = distinct_free_ports(3)
        print(f"Starting gunicorn: tracker on port {tracker_port}, tracker without page cache on port "
              f"{rendering_port}, bare page on port {bare_port} ...", flush=True)
        tracker_log, bare_log = workdir / "tracker.log", workdir / "bare.log"
        rendering_log = workdir / "tracker-rendering.log"
        servers.append(start_gunicorn("tracker:create_app()", tracker_port, env, tracker_log, ROOT))
        # The same app with its page cache off: every request queries the database and renders.
        servers.append(start_gunicorn("tracker:create_app()", rendering_port, env | {"TRACKER_PAGE_CACHE_SIZE": "0"},
                                      rendering_log, ROOT))
        servers.append(start_gunicorn("bare_app:app", bare_port, env, bare_log, BENCH))
        wait_until_up(servers[0], tracker_port, tracker_log)
        wait_until_up(servers[1], rendering_port, rendering_log)
        wait_until_up(servers[2], bare_port, bare_log)

        custom_rows = args.rows != 20
        editor = sign_in(tracker_port)
        list_path = f"/policies?per_page={args.rows}" if custom_rows else "/policies"
        pages = [
            Page("bare page", bare_port, f"/?rows={args.rows}" if custom_rows else "/"),
            Page("list page", tracker_port, list_path),
            Page("policy page", tracker_port, f"/policies/{POLICY_KEY}"),
            Page("home page", tracker_port, "/"),
            Page("list, rendered", rendering_port, list_path, rendered=True, cached_as="list page"),
            Page("policy, rendered", rendering_port, f"/policies/{POLICY_KEY}", rendered=True,
                 cached_as="policy page"),
            Page("home, rendered", rendering_port, "/", rendered=True, cached_as="home page"),
            # Staff pages: signed-in readers always get fresh pages (drafts included).
            Page("staff list", tracker_port, list_path, headers=editor, rendered=True),
            Page("staff policy", tracker_port, f"/policies/{POLICY_KEY}", headers=editor, rendered=True),
            Page("staff edit form", tracker_port, f"/policies/{POLICY_KEY}/edit", headers=editor, rendered=True),
            Page("compare matrix", tracker_port, "/compare"),
            Page("compare, rendered", rendering_port, "/compare", rendered=True, cached_as="compare matrix"),
            Page("calendar.ics", tracker_port, "/calendar.ics"),
            Page("calendar.ics, rendered", rendering_port, "/calendar.ics", rendered=True,
                 cached_as="calendar.ics"),
        ]
        for page in pages:
            check(page)
            print(f"  {page.name:<24} GET {page.path}: 200, {page.size} bytes", flush=True)
        report_weights(tracker_port, [("home", "/"), ("policies", "/policies"), ("policy", f"/policies/{POLICY_KEY}"),
                                      ("search", "/search?q=electric"), ("dashboard", "/dashboard"),
                                      ("compare", "/compare"), ("calendar", "/calendar")])
        if args.weight_only:
            return 0

        if shutil.which("wrk"):
            generator = "wrk"
            script = workdir / "percentiles.lua"
            script.write_text(WRK_SCRIPT)
            load = functools.partial(run_wrk, connections=args.connections, script=script)
        else:
            generator = "python threads + http.client (wrk not found)"
            load = functools.partial(run_python, connections=args.connections)
        print(f"Load generator: {generator}", flush=True)

        samples: dict[str, list[Sample]] = {page.name: [] for page in pages}
        for round_number in range(1, args.rounds + 1):
            for page in pages:
                print(f"[round {round_number}/{args.rounds}] {page.name:<24} warm-up {args.warmup:g} s, "
                      f"measuring {args.duration:g} s ... ", end="", flush=True)
                if args.warmup > 0:
                    load(page, args.warmup)
                sample = load(page, args.duration)
                samples[page.name].append(sample)
                print(f"{sample.rps:.0f} req/s, p50 {sample.p50_ms:.1f} ms, p95 {sample.p95_ms:.1f} ms", flush=True)

        results = {
            name: Sample(statistics.median(s.rps for s in runs), statistics.median(s.p50_ms for s in runs),
                         statistics.median(s.p95_ms for s in runs))
            for name, runs in samples.items()
        }
        report(pages, results, generator, args)
        for name, log in (("tracker", tracker_log), ("tracker without page cache", rendering_log),
                          ("bare page", bare_log)):
            # The request lines (the access log, at INFO) are not news; anything above them is.
            messages = "\n".join(line for line in log.read_text().splitlines() if " INFO " not in line).strip()
            if messages:
                print(f"\nWarnings logged by the {name} server:\n{messages}")
        return 0
    except BenchError as error:
        print(f"\nBenchmark aborted: {error}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("\nInterrupted.", file=sys.stderr)
        return 130
    finally:
        for server in servers:
            stop(server)
        shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
