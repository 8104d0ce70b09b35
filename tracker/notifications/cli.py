"""`flask --app tracker notify ...`: run the worker, send digests, scan for sunsets, prune and clear old
deliveries, show the state."""
from __future__ import annotations

import datetime as dt
import json
import signal
import threading
import time
from typing import TYPE_CHECKING

import click
from flask import current_app
from flask.cli import AppGroup

from tracker.notifications import retention
from tracker.notifications.payloads import public_url_warning
from tracker.notifications.runtime import runtime_of

if TYPE_CHECKING:
    from types import FrameType

    from tracker.notifications.worker import Worker


@click.group("notify", cls=AppGroup, help="Notifications: the delivery worker, digests and sunset alerts.")
def notify_group() -> None:
    pass


def _worker() -> Worker:
    return runtime_of(current_app).worker


@notify_group.command("work", help="Fan out events and send due deliveries, until stopped (or with --once, "
                                   "until nothing is due).")
@click.option("--once", is_flag=True, help="Stop when nothing is due instead of waiting for more.")
@click.option("--batch", type=click.IntRange(1, 10000), default=None, help="Deliveries claimed at a time.")
@click.option("--interval", type=float, default=None, help="Seconds between looks when idle.")
def notify_work(once: bool, batch: int | None, interval: float | None) -> None:
    worker = _worker()
    click.echo(f"Notification worker: {worker.mailer.describe()}", err=True)
    warning = public_url_warning(current_app)
    if warning:
        click.echo(f"Warning: {warning}", err=True)
    if once:
        report = worker.run_until_idle(batch)
        click.echo(f"Fanned out {report.fanned_out} events into {report.created} deliveries; "
                   f"sent {report.claimed}: {json.dumps(report.outcomes)}")
        return
    stop = threading.Event()
    wake = threading.Event()

    def request_stop(signum: int, _frame: FrameType | None) -> None:
        click.echo("Stopping after the current batch ...", err=True)
        stop.set()
        wake.set()

    signal.signal(signal.SIGTERM, request_stop)
    signal.signal(signal.SIGINT, request_stop)
    pause = interval if interval is not None else float(current_app.config["NOTIFY_POLL_INTERVAL"])
    last_sunset = 0.0
    from tracker.notifications import comment_periods, sunset
    from tracker.notifications.wakeup import CHANNEL, OutboxListener

    # On PostgreSQL a commit that recorded events wakes this loop at once (NOTIFY); polling stays.
    listener = OutboxListener(worker.database.engine, wake.set)
    if listener.start():
        click.echo(f"Woken by commits (LISTEN {CHANNEL}); polling every {pause:g} s as well.", err=True)
    else:
        click.echo(f"Polling every {pause:g} s.", err=True)
    worker.heartbeat.start()
    try:
        while not stop.is_set():
            wake.clear()  # before the pass: a commit during it wakes the next pass at once
            report = worker.run_until_idle(batch, stop=stop)
            if report.claimed or report.fanned_out:
                click.echo(f"Fanned out {report.fanned_out} events ({report.created} deliveries); sent "
                           f"{report.claimed}: {json.dumps(report.outcomes)}", err=True)
            if time.monotonic() - last_sunset >= float(current_app.config["NOTIFY_SUNSET_INTERVAL"]):
                last_sunset = time.monotonic()
                sunset.scan(worker)
                comment_periods.scan(worker)
            worker.heartbeat.beat()
            # Idle, the loop still wakes for its heartbeat (and then looks at the outbox as well).
            wake.wait(max(0.01, min(pause, worker.heartbeat.due_in())))
    finally:
        listener.stop()
        worker.heartbeat.stop()


@notify_group.command("digest", help="Send the daily or weekly digests now (run it from cron or a systemd "
                                     "timer; a late or repeated run neither skips nor repeats anything).")
@click.option("--daily", "cadence", flag_value="daily", help="Daily digests.")
@click.option("--weekly", "cadence", flag_value="weekly", help="Weekly digests.")
def notify_digest(cadence: str | None) -> None:
    from tracker.notifications.digests import send_digests

    if cadence is None:
        raise click.UsageError("Choose --daily or --weekly.")
    worker = _worker()
    worker.run_until_idle()  # fan out what is waiting first, so the digest holds every change so far
    counts = send_digests(worker, cadence)
    click.echo(f"Sent {counts['emails']} {cadence} digests with {counts['items']} updates "
               f"({counts['retry']} to retry, {counts['failed']} failed).")


@notify_group.command("sunset", help="Record sunset alerts for measures ending within subscribers' windows.")
def notify_sunset() -> None:
    from tracker.notifications import sunset

    recorded = sunset.scan(_worker())
    click.echo(f"Recorded {recorded} sunset alerts.")


@notify_group.command("comment-periods", help="Record reminders of comment periods closing within subscribers' "
                                              "windows.")
def notify_comment_periods() -> None:
    from tracker.notifications import comment_periods

    recorded = comment_periods.scan(_worker())
    click.echo(f"Recorded {recorded} comment-period reminders.")


@notify_group.command("prune", help="Delete delivered deliveries older than TRACKER_NOTIFY_KEEP_DAYS (90) with "
                                    "their attempts, and email subscriptions never confirmed whose link expired "
                                    "(run it daily from cron with an external worker; the embedded one does).")
@click.option("--dry-run", is_flag=True, help="Say what would be removed, and remove nothing.")
def notify_prune(dry_run: bool) -> None:
    removed = runtime_of(current_app).prune(dry_run=dry_run)
    click.echo(removed.describe())


def _day(value: str | None) -> dt.datetime | None:
    if value is None:
        return None
    try:
        day = dt.date.fromisoformat(value)
    except ValueError:
        raise click.BadParameter(f"{value!r} is not a date such as 2026-12-31.", param_hint="--before") from None
    return dt.datetime.combine(day, dt.time(), tzinfo=dt.UTC)


@notify_group.command("clear", help="Delete dead or failed deliveries (with their attempts), which prune keeps "
                                    "until someone has looked at them.")
@click.option("--state", type=click.Choice(retention.CLEARABLE_STATES), required=True,
              help="Which deliveries: dead (retries used up) or failed (refused).")
@click.option("--before", default=None, metavar="DATE",
              help="Only those created before this day (YYYY-MM-DD, UTC).")
@click.option("--dry-run", is_flag=True, help="Say what would be removed, and remove nothing.")
def notify_clear(state: str, before: str | None, dry_run: bool) -> None:
    worker = _worker()
    with worker.write_session() as session:
        removed = retention.clear(session, state, before=_day(before), dry_run=dry_run)
        session.commit()
    click.echo(f"{'Would remove' if dry_run else 'Removed'} {removed.deliveries} {state} deliveries with "
               f"{removed.attempts} attempts.")


@notify_group.command("status", help="Deliveries by state, events waiting, failing endpoints.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def notify_status(as_json: bool) -> None:
    status = _worker().status()
    if as_json:
        click.echo(json.dumps(status))
        return
    for state, count in status["states"].items():
        click.echo(f"{state:<10} {count}")
    click.echo(f"waiting for a digest: {status['waiting_for_digest']}")
    click.echo(f"events not fanned out: {status['events_waiting']}")
    click.echo(f"endpoints failing: {status['endpoints_failing']}, disabled: {status['endpoints_disabled']}")
