"""Latency of staff edits: a legal status change (HTML form and JSON API), a stale edit merged three ways,
and a proposed change approved by a reviewer.

Usage: .venv/bin/python bench/edit.py [--requests 200] [--warmup 20] [--policies 20] [--merges 100]

The script builds a throwaway SQLite database with the demo data (`flask db upgrade`, `flask data demo`),
creates an editor with `flask users create ... --role editor --password-stdin`, and serves the tracker
with gunicorn (2 sync workers) on 127.0.0.1. It then acts as that editor would: it logs in through the
real login form (CSRF token read from the page, session cookie kept), creates an API token on the
account page, and records status changes on a few demo policies, alternating between the two ways in:

  form post  POST /policies/<key>/status, the staff form (CSRF token and session cookie), answered by a
             303/302 redirect to the policy page; the redirect itself is not followed or timed.
  API        POST /api/v1/policies/<key>/status with a JSON body and the bearer token, answered 201
             with the updated record.

Every request is a real write: it confirms the policy's current status again with a new note and a
later date, a move the transition table always allows, so each one appends a step to the timeline,
writes the audit trail, and moves the content version that page caches are keyed on. The script checks
at the end that the database holds exactly one new step per request. Each edit reads the policy's whole
timeline, which grows by one step per request; the policies are taken in turn (--policies, default 20,
so about 22 steps are added to each in a default run) and the two ways alternate, so both see the same
growth.

A second part measures the newer write paths, again one request at a time, each against a baseline
measured in the same run and interleaved with it:

  edit       PATCH /api/v1/policies/<key> with the current `version` (baseline: a plain edit);
  merge      PATCH /api/v1/policies/<key> with a `base_version` three versions old, others having
             changed other fields since: the audit trail is read back to rebuild that version, the
             edit is merged three ways and saved (200);
  propose    POST /policies/<key>/propose, an editor's change to a published record stored as a
             proposal (form post, 302);
  approve    POST /review/proposals/<id>/approve by a reviewer: the proposal is merged onto the record,
             saved, audited and published (302).

How to read it: requests are sent one at a time (no concurrency), so the figures are the latency of
one edit on an idle server, as an editor would feel it: median and p95 in milliseconds, measured by the
client from sending the request to the last byte of the answer, including the TCP connection (gunicorn's
sync workers close it after each answer). The two ways share the services, the transaction and the
SQLite write (WAL, synchronous=FULL, so each commit waits for the disk), and differ in what surrounds
them: form parsing, CSRF and the session cookie for the form; JSON parsing, schema checks, the token
look-up and serialising the whole record for the API. Figures are for information only: the script
fails (exit status 1) only when something breaks, such as a server that does not start or an edit that
is refused, never on time.
"""
from __future__ import annotations

import argparse
import datetime as dt
import html
import http.client
import json
import os
import platform
import re
import shutil
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from http.cookies import SimpleCookie
from pathlib import Path
from urllib.parse import urlencode

from pages import BenchError, free_port, percentile, start_gunicorn, stop, wait_until_up

ROOT = Path(__file__).resolve().parent.parent
EDITOR_EMAIL = "bench-editor@example.org"
EDITOR_PASSWORD = "bench editor passphrase, not a secret"
REVIEWER_EMAIL = "bench-reviewer@example.org"
# Dates of the confirmations: after every date in the demo data, one day further for each request, so
# each new step lands at the end of its timeline.
FIRST_DATE = dt.date(2031, 1, 1)


class Browser:
    """One client on 127.0.0.1 that keeps the cookies it is given, as a browser does."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.cookies: dict[str, str] = {}

    def request(self, method: str, path: str, *, body: bytes | None = None,
                headers: dict[str, str] | None = None) -> tuple[int, dict[str, str], bytes]:
        all_headers = dict(headers or {})
        if self.cookies:
            all_headers["Cookie"] = "; ".join(f"{name}={value}" for name, value in self.cookies.items())
        connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
        try:
            connection.request(method, path, body=body, headers=all_headers)
            response = connection.getresponse()
            content = response.read()
            for header in response.headers.get_all("Set-Cookie") or []:
                for name, morsel in SimpleCookie(header).items():
                    if morsel["expires"] and "1970" in morsel["expires"]:
                        self.cookies.pop(name, None)
                    else:
                        self.cookies[name] = morsel.value
            return response.status, dict(response.headers.items()), content
        finally:
            connection.close()

    def get(self, path: str, **kwargs) -> tuple[int, dict[str, str], bytes]:
        return self.request("GET", path, **kwargs)

    def post_form(self, path: str, fields: dict[str, str]) -> tuple[int, dict[str, str], bytes]:
        return self.request("POST", path, body=urlencode(fields).encode(),
                            headers={"Content-Type": "application/x-www-form-urlencoded"})

    def post_json(self, path: str, payload: dict, token: str) -> tuple[int, dict[str, str], bytes]:
        return self.request("POST", path, body=json.dumps(payload).encode(),
                            headers={"Content-Type": "application/json", "Authorization": f"Bearer {token}"})


def input_value(page: bytes, name: str) -> str:
    """The value of the <input name=...> of a page (the forms' CSRF tokens)."""
    text = page.decode()
    for tag in re.findall(r"<input\b[^>]*>", text):
        if re.search(rf'\bname="{re.escape(name)}"', tag):
            value = re.search(r'\bvalue="([^"]*)"', tag)
            if value:
                return html.unescape(value.group(1))
    raise BenchError(f"no input named {name!r} on the page")


def page_problem(body: bytes) -> str:
    """What a refused request said, in a line."""
    text = body.decode(errors="replace")
    messages = re.findall(r'<(?:p|div)[^>]*class="[^"]*(?:error-message|alert-error)[^"]*"[^>]*>(.*?)</',
                          text, re.S)
    if messages:
        return "; ".join(re.sub(r"<[^>]+>|\s+", " ", message).strip() for message in messages)[:300]
    return text[:300]


# Setting up ------------------------------------------------------------------------------------


def flask_command(env: dict[str, str], *arguments: str, stdin: str | None = None) -> str:
    result = subprocess.run([sys.executable, "-m", "flask", "--app", "tracker", *arguments], cwd=ROOT,
                            env=env, input=stdin, capture_output=True, text=True)
    if result.returncode != 0:
        raise BenchError(f"flask {' '.join(arguments)} failed:\n{result.stdout}{result.stderr}")
    return result.stdout


def prepare(workdir: Path) -> dict[str, str]:
    """Migrate a new database, load the demo data and create the editor; return the servers' environment."""
    env = dict(os.environ, TRACKER_INSTANCE_PATH=str(workdir / "instance"),
               TRACKER_DATABASE_URL=f"sqlite:///{workdir / 'tracker.db'}")
    flask_command(env, "db", "upgrade")
    flask_command(env, "data", "demo")
    flask_command(env, "users", "create", EDITOR_EMAIL, "--role", "editor", "--name", "Bench editor",
                  "--password-stdin", stdin=EDITOR_PASSWORD + "\n")
    flask_command(env, "users", "create", REVIEWER_EMAIL, "--role", "reviewer", "--name", "Bench reviewer",
                  "--password-stdin", stdin=EDITOR_PASSWORD + "\n")
    return env


def log_in(browser: Browser, email: str = EDITOR_EMAIL) -> None:
    status, _, page = browser.get("/login")
    if status != 200:
        raise BenchError(f"GET /login answered {status}")
    status, headers, body = browser.post_form("/login", {"csrf_token": input_value(page, "csrf_token"),
                                                         "email": email, "password": EDITOR_PASSWORD})
    if status not in (302, 303):
        raise BenchError(f"logging in answered {status}: {page_problem(body)}")


def create_api_token(browser: Browser) -> str:
    status, _, page = browser.get("/account")
    if status != 200:
        raise BenchError(f"GET /account answered {status} (not logged in?)")
    fields = {"token-csrf_token": input_value(page, "token-csrf_token"), "token-name": "edit benchmark"}
    status, _, page = browser.post_form("/account", fields)
    match = re.search(rb'id="new-token">([^<]+)<', page)
    if status != 200 or not match:
        raise BenchError(f"creating an API token answered {status}: {page_problem(page)}")
    return match.group(1).decode()


def pick_policies(browser: Browser, count: int) -> dict[str, str]:
    """Some demo policies (Lao ones first) and their current legal status."""
    policies: dict[str, str] = {}
    for query in (f"country=LA&per_page={count}&sort=title", f"per_page={min(100, 2 * count)}&sort=title"):
        status, _, body = browser.get(f"/api/v1/policies?{query}")
        if status != 200:
            raise BenchError(f"GET /api/v1/policies?{query} answered {status}")
        for item in json.loads(body)["items"]:
            if len(policies) < count:
                policies.setdefault(item["key"], item["legal_status"])
    if len(policies) < count:
        raise BenchError(f"the demo data has only {len(policies)} policies")
    return policies


def create_drafts(browser: Browser, token: str, count: int) -> list[str]:
    """Draft policies the editor may edit freely, created through the API."""
    keys = []
    for number in range(count):
        body = json.dumps({"country": "LA", "instrument": "decree", "title_en": f"Benchmark draft {number}",
                           "summary_en": "Created by the edit benchmark."}).encode()
        status, _, answer = browser.request("POST", "/api/v1/policies", body=body, headers={
            "Content-Type": "application/json", "Authorization": f"Bearer {token}"})
        if status != 201:
            raise BenchError(f"creating a draft answered {status}: {answer[:300]!r}")
        keys.append(json.loads(answer)["key"])
    return keys


def status_steps(database: Path) -> int:
    with sqlite3.connect(database) as connection:
        return connection.execute("SELECT count(*) FROM status_changes").fetchone()[0]


# Measuring -------------------------------------------------------------------------------------


class StatusChanges:
    """Status changes on a few policies in turn, each confirming the current status at a later date."""

    def __init__(self, browser: Browser, policies: dict[str, str], token: str) -> None:
        self.browser = browser
        self.policies = list(policies.items())
        self.token = token
        self.count = 0
        self.csrf = ""

    def next_change(self) -> tuple[str, dict[str, str]]:
        key, status = self.policies[self.count % len(self.policies)]
        day = FIRST_DATE + dt.timedelta(days=self.count)
        self.count += 1
        return key, {"status": status, "effective_on": day.isoformat(),
                     "note": f"Confirmed again by the edit benchmark (request {self.count})."}

    def form_post(self) -> float:
        key, change = self.next_change()
        if not self.csrf:
            # Read once from the real form, as a browser would on opening the page; valid for the session.
            status, _, page = self.browser.get(f"/policies/{key}/status")
            if status != 200:
                raise BenchError(f"GET /policies/{key}/status answered {status}")
            self.csrf = input_value(page, "status-csrf_token")
        fields = {"status-csrf_token": self.csrf, "status-evidence_url": "", "status-reason": ""}
        fields |= {f"status-{name}": value for name, value in change.items()}
        started = time.perf_counter()
        status, _, body = self.browser.post_form(f"/policies/{key}/status", fields)
        elapsed = time.perf_counter() - started
        if status not in (302, 303):
            raise BenchError(f"form post to /policies/{key}/status answered {status}: {page_problem(body)}")
        return elapsed

    def api(self) -> float:
        key, change = self.next_change()
        started = time.perf_counter()
        status, _, body = self.browser.post_json(f"/api/v1/policies/{key}/status", change, self.token)
        elapsed = time.perf_counter() - started
        if status != 201:
            raise BenchError(f"API POST /api/v1/policies/{key}/status answered {status}: {body[:300]!r}")
        return elapsed


class Merges:
    """Plain edits and merged stale edits of drafts the editor created, taken in turn."""

    def __init__(self, browser: Browser, token: str, drafts: list[str]) -> None:
        self.browser = browser
        self.token = token
        self.drafts = drafts
        self.count = 0
        self.steps = 0

    def _patch(self, key: str, body: dict) -> tuple[float, dict]:
        started = time.perf_counter()
        status, _, answer = self.browser.request(
            "PATCH", f"/api/v1/policies/{key}", body=json.dumps(body).encode(),
            headers={"Content-Type": "application/json", "Authorization": f"Bearer {self.token}"})
        elapsed = time.perf_counter() - started
        if status != 200:
            raise BenchError(f"PATCH /api/v1/policies/{key} answered {status}: {answer[:300]!r}")
        return elapsed, json.loads(answer)

    def _version(self, key: str) -> int:
        status, _, body = self.browser.request("GET", f"/api/v1/policies/{key}",
                                               headers={"Authorization": f"Bearer {self.token}"})
        if status != 200:
            raise BenchError(f"GET /api/v1/policies/{key} answered {status}")
        return json.loads(body)["version"]

    def edit(self) -> float:
        key = self.drafts[self.count % len(self.drafts)]
        self.count += 1
        elapsed, _ = self._patch(key, {"version": self._version(key), "summary_en": f"Plain edit {self.count}."})
        return elapsed

    def merge(self) -> float:
        key = self.drafts[self.count % len(self.drafts)]
        self.count += 1
        base = self._version(key)
        # Others move the record on three versions (not timed), then a stale edit is merged onto it.
        for step in range(3):
            # A value different from the last one each time: an edit that changes nothing keeps the version.
            self.steps += 1
            self._patch(key, {"version": base + step, "valid_to": str(2030 + self.steps % 97)})
        elapsed, answer = self._patch(key, {"base_version": base, "summary_en": f"Merged edit {self.count}."})
        if answer["summary_en"] != f"Merged edit {self.count}." or answer["version"] != base + 4:
            raise BenchError(f"the merged edit of {key} did not land as sent: {answer['version']}")
        return elapsed


class Proposals:
    """An editor proposes a change to a published policy; a reviewer approves it."""

    def __init__(self, editor: Browser, reviewer: Browser, policies: list[str]) -> None:
        self.editor = editor
        self.reviewer = reviewer
        self.policies = policies
        self.count = 0
        self.waiting: list[str] = []

    def propose(self) -> float:
        key = self.policies[self.count % len(self.policies)]
        self.count += 1
        status, _, page = self.editor.get(f"/policies/{key}/propose")
        if status != 200:
            raise BenchError(f"GET /policies/{key}/propose answered {status}")
        fields = form_fields(page, "record-form")
        fields["summary_en"] = f"Proposed by the edit benchmark ({self.count})."
        fields["proposal_note"] = "Benchmark."
        started = time.perf_counter()
        status, headers, body = self.editor.post_form(f"/policies/{key}/propose", fields)
        elapsed = time.perf_counter() - started
        if status not in (302, 303):
            raise BenchError(f"proposing a change to {key} answered {status}: {page_problem(body)}")
        self.waiting.append({name.lower(): value for name, value in headers.items()}["location"])
        return elapsed

    def approve(self) -> float:
        url = self.waiting.pop(0)
        path = url.split("://", 1)[-1].split("/", 1)[-1]
        status, _, page = self.reviewer.get(f"/{path}")
        if status != 200:
            raise BenchError(f"GET /{path} answered {status}")
        fields = {"csrf_token": input_value(page, "csrf_token"), "comment": "Approved by the benchmark."}
        started = time.perf_counter()
        status, _, body = self.reviewer.post_form(f"/{path}/approve", fields)
        elapsed = time.perf_counter() - started
        if status not in (302, 303):
            raise BenchError(f"approving {path} answered {status}: {page_problem(body)}")
        return elapsed


def form_fields(page: bytes, css_class: str) -> dict[str, str]:
    """The fields a browser would send with the form of ``css_class`` (text, hidden, selected, checked)."""
    text = page.decode()
    form = re.search(rf'<form[^>]*class="[^"]*\b{css_class}\b[^"]*"[^>]*>(.*?)</form>', text, re.S)
    if not form:
        raise BenchError(f"no form .{css_class} on the page")
    body = form.group(1)
    fields: dict[str, str] = {}
    for tag in re.findall(r"<input[^>]*>", body):
        name = re.search(r'name="([^"]+)"', tag)
        kind = re.search(r'type="([^"]+)"', tag)
        if not name or (kind and kind.group(1) in ("submit", "button")):
            continue
        if kind and kind.group(1) in ("checkbox", "radio") and "checked" not in tag:
            continue
        value = re.search(r'value="([^"]*)"', tag)
        fields.setdefault(name.group(1), html.unescape(value.group(1)) if value else "")
    for name, options in re.findall(r'<select[^>]*name="([^"]+)"[^>]*>(.*?)</select>', body, re.S):
        tags = re.findall(r"<option[^>]*>", options)
        chosen = next((tag for tag in tags if re.search(r"\bselected\b", tag)), tags[0] if tags else "")
        value = re.search(r'value="([^"]*)"', chosen)
        fields[name] = html.unescape(value.group(1)) if value else ""
    for name, value in re.findall(r'<textarea[^>]*name="([^"]+)"[^>]*>(.*?)</textarea>', body, re.S):
        fields[name] = html.unescape(value.lstrip("\n"))
    return fields


def measure_pairs(ways: dict, requests: int, warmup: int) -> dict[str, list[float]]:
    """Interleave the ways, a pair at a time, so background noise affects all alike."""
    print(f"Warm-up: {warmup} request(s) each way ...", flush=True)
    for _ in range(warmup):
        for send in ways.values():
            send()
    timings: dict[str, list[float]] = {name: [] for name in ways}
    step = max(1, requests // 5)
    for number in range(1, requests + 1):
        for name, send in ways.items():
            timings[name].append(send())
        if number % step == 0 or number == requests:
            latest = ", ".join(f"{name} {statistics.median(values) * 1000:.1f} ms" for name, values in timings.items())
            print(f"  {number:>4}/{requests} each way; medians so far: {latest}", flush=True)
    return timings


def measure(changes: StatusChanges, requests: int, warmup: int) -> dict[str, list[float]]:
    """Alternate form posts and API calls, so background noise affects both alike."""
    ways = {"form post": changes.form_post, "API": changes.api}
    print(f"Warm-up: {warmup} request(s) each way ...", flush=True)
    for _ in range(warmup):
        for send in ways.values():
            send()
    timings: dict[str, list[float]] = {name: [] for name in ways}
    step = max(1, requests // 10)
    for number in range(1, requests + 1):
        for name, send in ways.items():
            timings[name].append(send())
        if number % step == 0 or number == requests:
            block = number - (number - 1) // step * step
            latest = ", ".join(f"{name} {statistics.median(values[-block:]) * 1000:.1f} ms"
                               for name, values in timings.items())
            print(f"  {number:>4}/{requests} each way; median of the last {block}: {latest}", flush=True)
    return timings


def report(timings: dict[str, list[float]], title: str, warmup: int) -> None:
    from importlib.metadata import version

    print()
    print(f"{title}; {warmup} warm-up request(s) each way not counted")
    print(f"Python {platform.python_version()}, SQLite {sqlite3.sqlite_version}, "
          f"gunicorn {version('gunicorn')} (2 sync workers), {os.cpu_count()} CPUs, "
          f"load average {os.getloadavg()[0]:.2f} at the end")
    print()
    header = f"{'way in':<12}{'requests':>10}{'median ms':>12}{'p95 ms':>10}{'min ms':>9}{'max ms':>9}{'ratio':>8}"
    print(header)
    print("-" * len(header))
    baseline = statistics.median(next(iter(timings.values())))
    for name, values in timings.items():
        ordered = sorted(values)
        print(f"{name:<12}{len(ordered):>10}{statistics.median(ordered) * 1000:>12.1f}"
              f"{percentile(ordered, 95) * 1000:>10.1f}{ordered[0] * 1000:>9.1f}{ordered[-1] * 1000:>9.1f}"
              f"{statistics.median(ordered) / baseline:>8.2f}")
    print(f"(ratio: median over the median of the first row, {next(iter(timings))}, measured in the same run)")
    print()
    print("(Information only: timings depend on the machine and never make this script fail.)")


# Main ------------------------------------------------------------------------------------------


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=200, help="measured requests each way (default 200)")
    parser.add_argument("--warmup", type=int, default=20,
                        help="warm-up requests each way, not counted (default 20)")
    parser.add_argument("--policies", type=int, default=20, help="demo policies changed in turn (default 20)")
    parser.add_argument("--merges", type=int, default=100,
                        help="measured requests each way of the merge and proposal part (default 100; 0 skips it)")
    args = parser.parse_args()
    if args.requests < 1 or args.warmup < 0 or not 1 <= args.policies <= 50:
        parser.error("need --requests >= 1, --warmup >= 0 and 1 <= --policies <= 50")
    return args


def main() -> int:
    args = parse_args()
    workdir = Path(tempfile.mkdtemp(prefix="tracker-bench-edit-"))
    server: subprocess.Popen | None = None
    try:
        print(f"Preparing the demo database and an editor account in {workdir} ...", flush=True)
        env = prepare(workdir)
        port = free_port()
        log = workdir / "tracker.log"
        print(f"Starting gunicorn (2 sync workers) on 127.0.0.1:{port} ...", flush=True)
        server = start_gunicorn("tracker:create_app()", port, env, log, ROOT)
        wait_until_up(server, port, log)

        browser = Browser(port)
        log_in(browser)
        token = create_api_token(browser)
        policies = pick_policies(browser, args.policies)
        print(f"Logged in as {EDITOR_EMAIL} through the login form; API token {token[:10]}… created on the "
              f"account page; {len(policies)} policies, e.g. "
              f"{', '.join(f'{key} ({status})' for key, status in list(policies.items())[:3])}", flush=True)

        steps_before = status_steps(workdir / "tracker.db")
        changes = StatusChanges(browser, policies, token)
        timings = measure(changes, args.requests, args.warmup)
        written = status_steps(workdir / "tracker.db") - steps_before
        if written != changes.count:
            raise BenchError(f"{changes.count} status changes were accepted but {written} steps were written")
        print(f"Checked: {changes.count} status changes accepted, {written} new steps in the database.")

        report(timings, f"Status changes, one request at a time, alternating ways, on {len(policies)} demo "
                        f"policies in turn", args.warmup)

        if args.merges:
            print("\nMerged stale edits and proposals ...", flush=True)
            drafts = create_drafts(browser, token, len(policies))
            merges = Merges(browser, token, drafts)
            warmup = min(args.warmup, 5)
            merge_timings = measure_pairs({"edit": merges.edit, "merge": merges.merge}, args.merges, warmup)
            report(merge_timings, f"Edits of {len(drafts)} drafts by API: a plain edit against a stale edit merged "
                                  f"three ways (three versions behind)", warmup)
            reviewer = Browser(port)
            log_in(reviewer, REVIEWER_EMAIL)
            published = [key for key in policies][:10]
            proposals = Proposals(browser, reviewer, published)
            proposal_timings = measure_pairs({"propose": proposals.propose, "approve": proposals.approve},
                                             args.merges, warmup)
            report(proposal_timings, f"Proposed changes to {len(published)} published policies: an editor's "
                                     f"proposal, then a reviewer's approval (merge, save, audit, publish)", warmup)
        messages = log.read_text().strip()
        if messages:
            print(f"\nWarnings logged by the server:\n{messages}")
        return 0
    except BenchError as error:
        print(f"\nBenchmark aborted: {error}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("\nInterrupted.", file=sys.stderr)
        return 130
    finally:
        if server is not None:
            stop(server)
        shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
