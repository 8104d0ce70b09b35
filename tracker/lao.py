"""Lao text helpers that need no library: ordering as a Lao dictionary orders words."""
from __future__ import annotations

import re

# Lao keyboards often type sara am (ຳ) as nikhahit + sara aa (ໍ + າ): one spelling for comparisons.
DECOMPOSED_AM, AM = "\u0ECD\u0EB2", "\u0EB3"
# Vowels written before the consonant they follow in speech (ເ ແ ໂ ໄ ໃ).
_LEADING_VOWEL = re.compile("([\u0EC0-\u0EC4])([\u0E81-\u0EAE])")


def sort_key(text: str | None) -> str:
    """A key that orders Lao as dictionaries do: by consonant first, a leading vowel after it (so ເມືອງ
    files under ມ, not after every consonant as its code point would put it); other text unchanged,
    compared without case."""
    if not text:
        return ""
    text = text.replace(DECOMPOSED_AM, AM)
    return _LEADING_VOWEL.sub(r"\2\1", text).casefold()
