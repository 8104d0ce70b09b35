"""The ``data`` of a notification: a thin, self-contained description of the policy and what changed."""
from __future__ import annotations

from typing import Any
from urllib.parse import quote

from flask import current_app, has_app_context, has_request_context, request

from tracker.models import Policy
from tracker.models.types import PartialDate

DEFAULT_PUBLIC_URL = "http://localhost:5000"


def public_base_url() -> str:
    """The site's address for links sent out: PUBLIC_URL, else the current request's host."""
    configured = current_app.config.get("PUBLIC_URL")
    if configured:
        return str(configured).rstrip("/")
    if has_request_context():
        return request.host_url.rstrip("/")
    return DEFAULT_PUBLIC_URL


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
