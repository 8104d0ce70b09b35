"""`flask --app tracker documents ...`: run the text extraction worker, and see where extraction stands."""
from __future__ import annotations

import signal
import time
from typing import TYPE_CHECKING

import click
from flask import current_app
from flask.cli import AppGroup

from tracker.documents.runtime import runtime_of

if TYPE_CHECKING:
    from types import FrameType


@click.group("documents", cls=AppGroup, help="Attached documents: extract their text, see extraction status.")
def documents_group() -> None:
    pass


@documents_group.command("work", help="Extract the text of waiting documents as they arrive (an external worker).")
@click.option("--interval", default=2.0, show_default=True, help="Seconds between looks for waiting documents.")
@click.option("--once", is_flag=True, help="Extract what is waiting, then exit.")
def documents_work(interval: float, once: bool) -> None:
    worker = runtime_of(current_app).worker
    stopping: list[bool] = []

    def stop(_signum: int, _frame: FrameType | None) -> None:
        stopping.append(True)

    previous = {sig: signal.signal(sig, stop) for sig in (signal.SIGTERM, signal.SIGINT)}
    if not once:
        worker.heartbeat.start()
    try:
        if not once:
            click.echo(f"Extracting the text of waiting documents every {interval:g} s (Ctrl+C to stop).")
        while not stopping:
            outcome = worker.run_once()
            if outcome is not None:
                click.echo(f"document {outcome.document_id}: {outcome.status}"
                           + (f", {outcome.pages} page(s), {outcome.pages_ocr} by OCR, {outcome.passages} passage(s)"
                              if outcome.status in ("done", "partial") else "")
                           + (f" ({outcome.reason})" if outcome.reason else ""))
                continue
            if once:
                break
            deadline = time.monotonic() + interval
            while not stopping and time.monotonic() < deadline:
                worker.heartbeat.beat()  # a write only once the heartbeat interval has passed
                time.sleep(min(0.1, interval))
    finally:
        worker.heartbeat.stop()
        for sig, handler in previous.items():
            signal.signal(sig, handler)


@documents_group.command("status", help="How many documents are in each extraction state.")
def documents_status() -> None:
    status = runtime_of(current_app).worker.status()
    counts = status["documents"]
    for state in ("pending", "extracting", "done", "partial", "failed"):
        click.echo(f"{state}: {counts.get(state, 0)}")
    if status["oldest_pending_seconds"] is not None:
        click.echo(f"oldest waiting: {status['oldest_pending_seconds']:.0f} s")
