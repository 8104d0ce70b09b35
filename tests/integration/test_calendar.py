"""Comment periods of consultation steps, the calendar page, its iCalendar feeds and the calendar API."""
from __future__ import annotations

from tracker.models import Policy
from tracker.services import editing

LAO_POLICY = "la-decree-ev-import-duty-2026"


def _consultation_policy(session, users, key: str = "la-ev-draft-charging-rules", *, published: bool = True,
                         window: dict | None = None) -> Policy:
    """A Lao policy in consultation with a comment period."""
    editor = users["admin"]
    policy = editing.create_policy(session, {
        "key": key, "country": "LA", "instrument": "regulation", "title_en": "Draft rules on charging stations",
        "title_lo": "ຮ່າງລະບຽບກ່ຽວກັບສະຖານີສາກໄຟ", "topics": [], "status": "drafting",
        "status_effective_on": "2026-05-01"}, editor)
    editing.change_status(session, key, {
        "status": "consultation", "effective_on": "2026-06-01",
        "consultation": window or {"opens_on": "2026-06-01", "closes_on": "2026-07-14",
                                   "how_to_comment_en": "Write to the Department of Energy Business.",
                                   "how_to_comment_lo": "ສົ່ງຄຳເຫັນຫາກົມທຸລະກິດພະລັງງານ.",
                                   "comment_address": "comments@example.gov.la",
                                   "draft_url": "https://example.gov.la/draft.pdf"}}, editor)
    if published:
        editing.set_editorial_state(session, "policy", key, "published", editor)
    session.flush()
    return policy
