"""Who may do what: one table of permissions per role, used by views, the API, the CLI and the services."""
from __future__ import annotations

from typing import Protocol

from tracker.errors import Forbidden
from tracker.translation import gettext as _

# Each role has the permissions of the roles below it, plus its own.
ROLE_ORDER = ("partner", "editor", "reviewer", "admin")

PERMISSIONS: dict[str, str] = {
    "account": "partner",            # change own password, manage own API tokens
    "read_unpublished": "editor",    # see drafts, records in review and archived records
    "edit": "editor",                # create records, edit drafts and records in review, record status changes
    "submit_for_review": "editor",
    "attach_documents": "editor",    # attach, replace, describe and remove the texts of any policy
    "import_data": "editor",         # import spreadsheets and datasets (changes to published records: reviewer)
    "edit_published": "reviewer",    # edit records that are published or archived
    "publish": "reviewer",           # publish, archive, unpublish
    "override_transition": "reviewer",  # record a status change outside the transition table
    "manage_users": "admin",
    "build_releases": "admin",       # build a release of the published dataset from the data page
}


class Actor(Protocol):
    role: str
    is_active: bool


def has_permission(actor: Actor | None, permission: str) -> bool:
    """Whether ``actor`` (None for an anonymous reader) holds ``permission``."""
    if actor is None or not getattr(actor, "is_active", False) or getattr(actor, "is_anonymous", False):
        return False
    needed = PERMISSIONS[permission]
    return actor.role in ROLE_ORDER and ROLE_ORDER.index(actor.role) >= ROLE_ORDER.index(needed)


def require(actor: Actor | None, permission: str) -> None:
    """Raise Forbidden unless ``actor`` holds ``permission``."""
    if not has_permission(actor, permission):
        raise Forbidden(_("You do not have permission to do this."))


def can_edit_record(actor: Actor | None, editorial_state: str) -> bool:
    """Editors edit drafts and records in review; reviewers and admins edit any record."""
    if editorial_state in ("draft", "in_review"):
        return has_permission(actor, "edit")
    return has_permission(actor, "edit_published")
