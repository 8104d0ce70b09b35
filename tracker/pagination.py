"""Pages of results: the one shape every list page and list endpoint returns (no database; any floor may use it)."""
from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Generic, TypeVar

from tracker.errors import Invalid, NotFound
from tracker.translation import gettext as _
from tracker.translation import ngettext

T = TypeVar("T")


@dataclass(frozen=True)
class PageRequest:
    """Which page of how many items a caller asked for."""

    page: int = 1
    per_page: int = 20

    @classmethod
    def parse(cls, page: str | None, per_page: str | None, *, default: int, maximum: int,
              allow_empty: bool = True) -> PageRequest:
        """Validate ``page`` and ``per_page`` query values; raise Invalid naming the parameter.

        An empty value means the default when ``allow_empty``, and is refused otherwise.
        """
        if not allow_empty:
            page = None if page is None else page or "empty"
            per_page = None if per_page is None else per_page or "empty"
        errors = {}
        page_number = _positive_int(page, 1)
        if page_number is None:
            errors["page"] = _("page must be a whole number from 1 up, not '%(value)s'", value=page)
        size = _positive_int(per_page, default)
        if size is None or size > maximum:
            errors["per_page"] = _("per_page must be a whole number from 1 to %(maximum)s, not '%(value)s'",
                                   maximum=maximum, value=per_page)
        if errors:
            raise Invalid(_("Invalid page parameters"), errors)
        assert page_number is not None and size is not None
        return cls(page_number, size)

    @property
    def offset(self) -> int:
        return (self.page - 1) * self.per_page


def _positive_int(text: str | None, default: int) -> int | None:
    if text is None or text == "":
        return default
    if not text.isascii() or not text.isdigit() or len(text) > 9:
        return None
    value = int(text)
    return value if value >= 1 else None


@dataclass(frozen=True)
class Page(Generic[T]):
    """One page of items with the total they were taken from."""

    items: Sequence[T]
    total: int
    page: int
    per_page: int

    @property
    def pages(self) -> int:
        return max(1, math.ceil(self.total / self.per_page))

    @property
    def has_previous(self) -> bool:
        return self.page > 1

    @property
    def has_next(self) -> bool:
        return self.page < self.pages


def check_page_in_range(request: PageRequest, total: int) -> None:
    """Raise NotFound when ``request`` asks for a page past the last one."""
    pages = max(1, math.ceil(total / request.per_page))
    if request.page > pages:
        raise NotFound(ngettext("Page %(page)s does not exist: there is %(num)s page.",
                                "Page %(page)s does not exist: there are %(num)s pages.", pages,
                                page=request.page))
