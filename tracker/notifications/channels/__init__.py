"""Channels a notification is sent through: email (SMTP or .eml files) and signed webhooks."""
from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class SendResult:
    """How one send ended. ``outcome``: 'delivered', 'retry' (try again later), 'failed' (never
    retried), 'gone' (the receiver asked to be disabled)."""

    outcome: str
    status_code: int | None = None
    error: str | None = None
    retry_after: float | None = None
    duration_ms: int = 0
