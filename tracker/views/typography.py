"""Lao text set so that lines break between words: each word of several syllables is kept whole.

Lao is written without spaces between words. Browsers find line-break opportunities with ICU's Lao
dictionary, which splits some compounds that are one word (ລົດໄຟ|ຟ້າ, ປະ|ຊຸມ, ມາດຕະ|ການ). laonlp's
segmenter knows them: ``keep_lao_words`` wraps each word of two syllables or more in a
``<span class="lw">`` (``white-space: nowrap`` in the stylesheet) and puts a ``<wbr>`` between words, so a
line may end after any word and never inside one. The text itself is unchanged (copy, search, screen
readers see the same characters).
"""
from __future__ import annotations

import functools
import re

from laonlp.tokenize import syllable_tokenize, word_tokenize
from markupsafe import Markup, escape

LAO_RUN = re.compile(r"[\u0E81-\u0EDF]+")


# Lao keyboards often type sara am (ຳ) as nikhahit + sara aa (ໍ + າ); laonlp's dictionary knows only the
# single character, so words are found on the composed text and mapped back to the characters as written.
DECOMPOSED_AM, AM = "\u0ECD\u0EB2", "\u0EB3"


def lao_words(run: str) -> list[str]:
    """The words of a run of Lao text, as written (``"".join(lao_words(run)) == run``)."""
    words, position = [], 0
    for word in word_tokenize(run.replace(DECOMPOSED_AM, AM)):
        length = 0
        for char in word:
            length += 2 if char == AM and run.startswith(DECOMPOSED_AM, position + length) else 1
        words.append(run[position:position + length])
        position += length
    return words


@functools.lru_cache(maxsize=4096)
def _set_run(run: str) -> str:
    pieces = []
    for word in lao_words(run):
        if len(syllable_tokenize(word)) > 1:
            pieces.append(f'<span class="lw">{escape(word)}</span>')
        else:
            pieces.append(str(escape(word)))
    return "<wbr>".join(pieces)


def keep_lao_words(text: object) -> Markup:
    """``text`` as HTML (escaped unless it is markup already), its Lao words kept whole across lines."""
    if text is None:
        return Markup("")
    html = str(escape(text))
    if not LAO_RUN.search(html):
        return Markup(html)
    # Only text between tags is touched, never a tag or an attribute (Lao runs contain no < or >).
    parts = re.split(r"(<[^>]*>)", html)
    return Markup("".join(part if part.startswith("<") else LAO_RUN.sub(lambda m: _set_run(m[0]), part)
                          for part in parts))
