"""Record keys: the lower-case ASCII address of a record, made from its words, unique among its kind."""
from __future__ import annotations

import re
import unicodedata


def slugify(text: str, *, prefix: str = "") -> str:
    """A key from a title: lower-case ASCII letters, digits and dashes (Lao titles give no letters)."""
    ascii_text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    slug = re.sub(r"[^a-z0-9]+", "-", ascii_text.lower()).strip("-")
    slug = "-".join(part for part in (prefix.lower(), slug[:80].strip("-")) if part)
    return slug or "record"


def unique_key(base: str, taken: set[str]) -> str:
    """``base``, or ``base`` with the first free number after it (``-2``, ``-3``…)."""
    key, number = base, 2
    while key in taken:
        key = f"{base[:110]}-{number}"
        number += 1
    return key
