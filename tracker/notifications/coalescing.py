"""The net change of a burst of events about one policy, as one email describes it.

An editor who moves a date and moves it back within the coalescing window has changed nothing a reader
needs to hear of; a legal status change, though, is a dated step of the record's history and is always
told, however soon another follows.
"""
from __future__ import annotations

from typing import Any

# Events whose successive values collapse into one "from the first old value to the last new one".
VALIDITY = "policy.validity_changed"
COMMENT_PERIOD = "policy.comment_period_changed"


def net_changes(items: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The items (``type``, ``data``, ``occurred_at``; oldest first, each event once) an email about
    them should tell, oldest first: validity moves folded into one from the first old dates to the last
    new ones, comment-period moves folded per status step, and either dropped when it ends where it
    began; every other item kept as it is."""
    folded: dict[tuple[str, Any], dict[str, Any]] = {}
    order: list[tuple[int, tuple[str, Any] | None, dict[str, Any]]] = []
    for position, item in enumerate(items):
        data = item.get("data") or {}
        if item["type"] == VALIDITY:
            key: tuple[str, Any] = (VALIDITY, None)
        elif item["type"] == COMMENT_PERIOD:
            key = (COMMENT_PERIOD, data.get("step_position"))
        else:
            order.append((position, None, item))
            continue
        first = folded.get(key)
        if first is None:
            folded[key] = {"first": item, "last": item, "position": position}
        else:
            first["last"], first["position"] = item, position
    for key, run in folded.items():
        merged = _fold(key[0], run["first"], run["last"])
        if merged is not None:
            order.append((run["position"], key, merged))
    return [item for _, _, item in sorted(order, key=lambda entry: entry[0])]


def _fold(kind: str, first: dict[str, Any], last: dict[str, Any]) -> dict[str, Any] | None:
    before, after = first.get("data") or {}, last.get("data") or {}
    if kind == VALIDITY:
        data = dict(after, old_valid_from=before.get("old_valid_from"), old_valid_to=before.get("old_valid_to"))
        if (data["old_valid_from"], data["old_valid_to"]) == (data.get("valid_from"), data.get("valid_to")):
            return None
        return dict(last, data=data)
    old, new = before.get("old_closes_on"), after.get("closes_on")
    if old == new:
        return None
    data = dict(after, old_closes_on=old)
    if old is not None and new is not None:
        # ISO dates (written whole for a closing day) order as their text does.
        data["change"] = "extended" if str(new) > str(old) else "shortened"
    data.pop("summary", None)  # an English sentence about the last move only
    return dict(last, data=data)
