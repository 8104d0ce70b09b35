"""The ``data`` of a notification: a thin, self-contained description of the policy and what changed."""
from __future__ import annotations

from typing import Any
from urllib.parse import quote

from flask import Flask, current_app, has_app_context

from tracker.models import Policy
from tracker.models.types import PartialDate

# Where links sent out point when TRACKER_PUBLIC_URL is unset: the address script/server serves by default.
DEFAULT_PUBLIC_URL = "http://localhost:5000"


def public_base_url() -> str:
    """The site's address for links sent out or stored (emails, webhook payloads): PUBLIC_URL, else
    DEFAULT_PUBLIC_URL. Never the Host a request named: anyone can send any Host, and a confirmation
    email would then link to their site."""
    configured = current_app.config.get("PUBLIC_URL")
    if configured:
        return str(configured).rstrip("/")
    return DEFAULT_PUBLIC_URL


def public_url_warning(app: Flask) -> str | None:
    """What a production server says at start when links sent out have no configured address (None when
    PUBLIC_URL is set, or the app runs in debug or testing mode)."""
    if app.config.get("PUBLIC_URL") or app.debug or app.testing:
        return None
    return (f"TRACKER_PUBLIC_URL is not set: links in emails and webhook payloads point to {DEFAULT_PUBLIC_URL}, "
            f"which partners cannot open. Set it to the site's public address (https://tracker.example.org).")


def external_url(path: str) -> str:
    """An absolute URL for a path of this site (the path alone outside an app: the worker completes
    it when it sends, see ``absolute_urls``)."""
    if not has_app_context():
        return path
    return public_base_url() + path


def absolute_urls(data: dict[str, Any]) -> dict[str, Any]:
    """``data`` with every relative link in ``urls`` made absolute."""
    urls = data.get("urls")
    if isinstance(urls, dict) and any(isinstance(v, str) and v.startswith("/") for v in urls.values()):
        data = dict(data, urls={k: external_url(v) if isinstance(v, str) and v.startswith("/") else v
                                for k, v in urls.items()})
    return data


def _date(value: PartialDate | None) -> str | None:
    return value.isoformat() if value is not None else None


def policy_payload(policy: Policy, **extra: Any) -> dict[str, Any]:
    """The ``data`` object of a webhook message about ``policy`` (plus the change's own fields in
    ``extra``: old_status, new_status, effective_date, note, evidence_url...). Kept under 20 kB."""
    key = quote(policy.key, safe="")
    data: dict[str, Any] = {
        "policy_key": policy.key,
        "title_en": policy.title_en,
        "title_lo": policy.title_lo,
        "country": policy.jurisdiction_code,
        "instrument": policy.instrument,
        "legal_status": policy.legal_status,
        "valid_from": _date(policy.valid_from),
        "valid_to": _date(policy.valid_to),
        "urls": {"html": external_url(f"/policies/{key}"), "api": external_url(f"/api/v1/policies/{key}")},
    }
    for name, value in extra.items():
        data[name] = _date(value) if isinstance(value, PartialDate) else value
    return data
