"""Two versions of a text compared paragraph by paragraph, with the words that changed marked inside a paragraph."""
from __future__ import annotations

import math
import re
import time
import unicodedata
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from difflib import SequenceMatcher

from tracker import lao

EQUAL, INSERT, DELETE, CHANGE = "equal", "insert", "delete", "change"

# Two paragraphs in a rewritten stretch are shown as one changed paragraph when at least half of their words
# (and punctuation) line up; below that a reader follows the text better as one removed and one added.
SIMILAR_ENOUGH = 0.5

# Bounds on the work of one step, so that a single step never takes long enough to overrun the budget by much.
# A paragraph longer than this is not cut into words: it is compared on its whitespace-separated chunks and,
# when changed, shown as removed whole and added whole.
LONGEST_SEGMENTED_PARAGRAPH = 60_000
# A changed paragraph with more tokens than this on either side, or whose words repeat so much that lining them
# up would take more than this many comparisons of one word with an equal one (a few tenths of a second), is
# shown as removed whole and added whole.
MOST_TOKENS_IN_WORD_DIFF = 6_000
MOST_WORD_MATCHING_WORK = 500_000
# Above this many pairs of words, whether two paragraphs paired up are similar enough is judged on the words they
# share (difflib's quick_ratio) rather than on lining them up in order, which grows with the product of lengths.
MOST_TOKEN_PAIRS_ALIGNED = 250_000
# A stretch of differing paragraphs is paired by looking at up to this many pairs of paragraphs; beyond it, at
# those near the diagonal only, and at least this many columns either side of it.
PAIRING_CELLS = 40_000
NARROWEST_REACH = 16
# Above this much matching work (pairs of identical paragraphs, one on each side), the most repeated paragraph
# texts (blank lines, dashes, "(Signed)") are not used to anchor the alignment, which otherwise grows with the
# square of their number.
MOST_ALIGNMENT_WORK = 2_000_000

_LAO_RUN = r"[\u0E80-\u0EFF]+"
# Lao runs, other words (letters, digits), runs of whitespace, and any other single character.
_TOKEN = re.compile(rf"(?P<lao>{_LAO_RUN})|(?P<word>[^\W\u0E80-\u0EFF]+)|(?P<space>\s+)|.", re.DOTALL)
_SPACE_KEY = " "
# Moves of the pairing of a rewritten stretch: an old paragraph left unpaired, a new one, or the two paired.
_SKIP_OLD, _SKIP_NEW, _PAIR = 0, 1, 2


@dataclass(frozen=True)
class Paragraph:
    """One paragraph of a version, where it stands in the document."""

    text: str
    page: int | None = None
    heading: str | None = None


@dataclass(frozen=True)
class Word:
    """One piece of a changed paragraph: text kept, removed or added, exactly as written.

    Joining the "equal" and "delete" pieces in order gives the old paragraph; "equal" and "insert", the new one.
    So a word spelled or spaced differently on the two sides (ຳ and ໍ + າ) reads as removed and added here,
    although a paragraph that differs in nothing else is unchanged.
    """

    op: str
    text: str


@dataclass(frozen=True)
class Block:
    """One paragraph of the old version, of the new one, or one of each; ``words`` only for a "change"."""

    op: str
    old: Paragraph | None
    new: Paragraph | None
    words: tuple[Word, ...] = ()


@dataclass(frozen=True)
class Comparison:
    """The blocks of a comparison in reading order, and how many of each kind there are.

    When ``complete`` is False the time budget ran out: the blocks cover the leading part of both versions
    (the first paragraphs of each, in order) and are correct for that part; the paragraphs after it are left
    out, and the counts are those of the blocks given.
    """

    blocks: tuple[Block, ...]
    added: int
    removed: int
    changed: int
    unchanged: int
    complete: bool

    def to_json(self) -> dict[str, object]:
        """The comparison as plain data: a summary and the blocks with their paragraphs and word pieces."""
        return {
            "complete": self.complete,
            "summary": {"added": self.added, "removed": self.removed, "changed": self.changed,
                        "unchanged": self.unchanged},
            "blocks": [{"op": block.op, "old": _paragraph_json(block.old), "new": _paragraph_json(block.new),
                        "words": [{"op": word.op, "text": word.text} for word in block.words]}
                       for block in self.blocks],
        }


def _paragraph_json(paragraph: Paragraph | None) -> dict[str, object] | None:
    if paragraph is None:
        return None
    return {"text": paragraph.text, "page": paragraph.page, "heading": paragraph.heading}


def compare(old: Sequence[Paragraph], new: Sequence[Paragraph], *, budget_seconds: float = 2.0,
            clock: Callable[[], float] = time.monotonic) -> Comparison:
    """Compare ``old`` with ``new``: paragraphs aligned in order, similar ones paired as changed, words marked.

    Paragraphs that read the same once whitespace is collapsed and spellings unified (Unicode NFC, the two
    spellings of Lao AM and of the HO ligatures, Lao digits) are unchanged. A changed paragraph too long to mark
    word by word is given as one piece removed and one added.

    The clock is read between steps (a paragraph read, a pair of paragraphs weighed, a paragraph's words
    marked); at the first reading past ``budget_seconds`` from the start the comparison stops and returns what
    it has, marked incomplete (see ``Comparison``). It never raises for running out of time.
    """
    return _Comparer(old, new, _Budget(budget_seconds, clock)).run()


# ---------------------------------------------------------------------------------------------------
# Text as the comparison sees it


def _paragraph_key(text: str) -> str:
    """The text in one spelling with whitespace collapsed: two paragraphs with the same key are unchanged."""
    unified, _ = lao.normalise(unicodedata.normalize("NFC", text))
    return " ".join(unified.split())


def _token_key(content: str) -> str:
    unified, _ = lao.normalise(unicodedata.normalize("NFC", content))
    return unified


def _tokens(text: str) -> list[tuple[str, str]]:
    """``text`` cut into words and single other characters, each with the whitespace after it (joined, they
    give the text back; whitespace at the very start comes with an empty word).

    Lao runs are cut where the Lao segmenter puts word boundaries, so a change is marked on whole Lao words;
    other scripts at word boundaries, combining marks staying with the letter they sit on. Whitespace rides
    with the word before it rather than standing alone, where, being everywhere, it would make the matcher's
    work grow with the square of its count.
    """
    found: list[list[str]] = []  # [word, whitespace after it]
    glue = False  # the last word found is one that a following combining mark or letter belongs to
    for match in _TOKEN.finditer(text):
        piece, kind = match[0], match.lastgroup
        if kind == "space":
            if found:
                found[-1][1] = piece
            else:
                found.append(["", piece])
            glue = False
        elif kind == "lao":
            found += [[word, ""] for word in _lao_words(piece)]
            glue = False
        elif kind == "word" or (kind is None and unicodedata.category(piece).startswith("M")):
            if glue:
                found[-1][0] += piece
            else:
                found.append([piece, ""])
            glue = True
        else:
            found.append([piece, ""])
            glue = False
    return [(word, space) for word, space in found]


def _lao_words(run: str) -> list[str]:
    found = [word for word in lao.words(run) if word]
    # The pieces are cut out of the run as written; should the segmenter ever alter the text, keep the run whole
    # rather than lose or duplicate characters.
    return found if "".join(found) == run else [run]


@dataclass
class _Tokens:
    """A paragraph as tokens (word, whitespace after it); the keys the matcher compares; the words' keys alone,
    counted, for similarity."""

    texts: list[tuple[str, str]]
    keys: list[str]
    words: list[str]
    counts: Counter[str]
    segmented: bool

    @classmethod
    def of(cls, text: str, key: str) -> _Tokens:
        if len(text) > LONGEST_SEGMENTED_PARAGRAPH:
            chunks = key.split()
            return cls([(text, "")], [key], chunks, Counter(chunks), segmented=False)
        texts = _tokens(text)
        words = [_token_key(word) for word, _ in texts]
        # Whether whitespace follows is part of a token's identity ("EV charging" is not "EVcharging"), its
        # exact form is not.
        keys = [word + _SPACE_KEY if space else word for word, (_, space) in zip(words, texts)]
        words = [word for word in words if word]
        return cls(texts, keys, words, Counter(words), segmented=True)

    def text(self) -> str:
        return "".join(word + space for word, space in self.texts)


def _similarity(old: _Tokens, new: _Tokens) -> float:
    """How much two paragraphs share, counted on words and punctuation (not whitespace) regardless of order:
    from ``SIMILAR_ENOUGH`` to 1, or 0 when less than that.

    This bound on the share of words that can line up costs one pass; the alignment itself, which costs far
    more, is left for the pairs that are kept (``_similar_in_order``).
    """
    old_length, new_length = len(old.words), len(new.words)
    if not old_length or not new_length:
        return 0.0
    # Cheapest bound first: the shorter one's length over the mean length.
    if 2 * min(old_length, new_length) / (old_length + new_length) < SIMILAR_ENOUGH:
        return 0.0
    smaller, larger = sorted((old.counts, new.counts), key=len)
    shared = sum(min(count, larger[key]) for key, count in smaller.items() if key in larger)
    ratio = 2 * shared / (old_length + new_length)
    return ratio if ratio >= SIMILAR_ENOUGH else 0.0


def _similar_in_order(old: _Tokens, new: _Tokens) -> bool:
    """Whether at least ``SIMILAR_ENOUGH`` of the two paragraphs' words line up in order."""
    if len(old.words) * len(new.words) > MOST_TOKEN_PAIRS_ALIGNED:
        return _similarity(old, new) > 0
    return SequenceMatcher(None, old.words, new.words, autojunk=False).ratio() >= SIMILAR_ENOUGH


def _word_diff(old: _Tokens, new: _Tokens) -> tuple[Word, ...]:
    """The pieces of a changed paragraph: words kept, removed and added, a replaced word as removed then added."""
    if (not (old.segmented and new.segmented) or max(len(old.keys), len(new.keys)) > MOST_TOKENS_IN_WORD_DIFF
            or _matching_work(old.keys, new.keys) > MOST_WORD_MATCHING_WORK):
        return tuple(Word(op, text) for op, text in ((DELETE, old.text()), (INSERT, new.text())) if text)
    matcher = SequenceMatcher(None, old.keys, new.keys, autojunk=False)
    raw: list[tuple[str, str]] = []
    for tag, old_start, old_end, new_start, new_end in matcher.get_opcodes():
        if tag == EQUAL:
            for (old_word, old_space), (new_word, new_space) in zip(old.texts[old_start:old_end],
                                                                    new.texts[new_start:new_end]):
                # The same word spelled or spaced differently: the pieces must give back each text as written.
                for old_text, new_text in ((old_word, new_word), (old_space, new_space)):
                    raw += [(EQUAL, old_text)] if old_text == new_text else [(DELETE, old_text), (INSERT, new_text)]
        else:
            raw += [(DELETE, word + space) for word, space in old.texts[old_start:old_end]]
            raw += [(INSERT, word + space) for word, space in new.texts[new_start:new_end]]
    return _tidy(raw)


def _matching_work(old_keys: list[str], new_keys: list[str]) -> int:
    """How many (old, new) pairs of equal keys there are: what one pass of difflib's matcher goes through."""
    new_counts = Counter(new_keys)
    return sum(count * new_counts[key] for key, count in Counter(old_keys).items() if key in new_counts)


def _tidy(raw: list[tuple[str, str]]) -> tuple[Word, ...]:
    """Pieces merged for reading: the spaces and punctuation between two changes count as part of the change,
    each stretch of changes reads as all it removes, then all it adds, and whitespace that both sides of a
    change begin or end with is left out of it."""
    merged = list(_merge(raw))
    absorbed: list[tuple[str, str]] = []
    for index, (op, text) in enumerate(merged):
        between_changes = 0 < index < len(merged) - 1  # neighbours of an "equal" piece are changes once merged
        if op == EQUAL and between_changes and not any(char.isalnum() for char in text):
            absorbed += [(DELETE, text), (INSERT, text)]
        else:
            absorbed.append((op, text))
    ordered: list[tuple[str, str]] = []
    removed: list[str] = []
    added: list[str] = []
    for op, text in [*absorbed, (EQUAL, "")]:
        if op == DELETE:
            removed.append(text)
        elif op == INSERT:
            added.append(text)
        else:
            ordered += _trimmed("".join(removed), "".join(added))
            ordered.append((EQUAL, text))
            removed, added = [], []
    return tuple(Word(op, text) for op, text in _merge(ordered))


def _trimmed(removed: str, added: str) -> list[tuple[str, str]]:
    """A change as pieces, the whitespace both sides begin and end with kept out of it ("30 " for "60 " reads
    as 30 replaced by 60, then a space). Only whitespace is moved, so no piece ends inside a word."""
    if not removed or not added:
        return [(DELETE, removed), (INSERT, added)]
    lead = 0
    while lead < min(len(removed), len(added)) and removed[lead] == added[lead] and removed[lead].isspace():
        lead += 1
    trail = 0
    while (trail < min(len(removed), len(added)) - lead and removed[-1 - trail] == added[-1 - trail]
           and removed[-1 - trail].isspace()):
        trail += 1
    return [(EQUAL, removed[:lead]), (DELETE, removed[lead:len(removed) - trail]),
            (INSERT, added[lead:len(added) - trail]), (EQUAL, removed[len(removed) - trail:])]


def _merge(pieces: list[tuple[str, str]]) -> Iterator[tuple[str, str]]:
    """Adjacent pieces of one kind as one piece; empty pieces dropped."""
    op_now = ""
    texts: list[str] = []
    for op, text in pieces:
        if not text:
            continue
        if op != op_now and texts:
            yield op_now, "".join(texts)
            texts = []
        op_now = op
        texts.append(text)
    if texts:
        yield op_now, "".join(texts)


# ---------------------------------------------------------------------------------------------------
# The comparison


class _Budget:
    """The time left, read from the caller's clock."""

    def __init__(self, seconds: float, clock: Callable[[], float]) -> None:
        self._clock = clock
        self._deadline = clock() + seconds

    def spent(self) -> bool:
        return self._clock() > self._deadline


class _OutOfTime(Exception):
    """The budget ran out; the blocks found so far stand."""


class _Comparer:
    """One comparison under way: paragraph keys, the tokens of the paragraphs looked into, the blocks so far."""

    def __init__(self, old: Sequence[Paragraph], new: Sequence[Paragraph], budget: _Budget) -> None:
        self.old, self.new, self.budget = list(old), list(new), budget
        self.old_keys: list[str] = []
        self.new_keys: list[str] = []
        self.old_tokens: dict[int, _Tokens] = {}
        self.new_tokens: dict[int, _Tokens] = {}
        self.blocks: list[Block] = []

    def run(self) -> Comparison:
        try:
            for paragraphs, keys in ((self.old, self.old_keys), (self.new, self.new_keys)):
                for paragraph in paragraphs:
                    self.step()
                    keys.append(_paragraph_key(paragraph.text))
            self.step()
            for tag, old_start, old_end, new_start, new_end in self.alignment():
                if tag == EQUAL:
                    for old_index, new_index in zip(range(old_start, old_end), range(new_start, new_end)):
                        self.blocks.append(Block(EQUAL, self.old[old_index], self.new[new_index]))
                else:
                    self.pair_up(range(old_start, old_end), range(new_start, new_end))
            complete = True
        except _OutOfTime:
            complete = False
        counts = Counter(block.op for block in self.blocks)
        return Comparison(tuple(self.blocks), added=counts[INSERT], removed=counts[DELETE], changed=counts[CHANGE],
                          unchanged=counts[EQUAL], complete=complete)

    def step(self) -> None:
        if self.budget.spent():
            raise _OutOfTime

    def alignment(self) -> list[tuple[str, int, int, int, int]]:
        """Runs of paragraphs the same on both sides, and the stretches between them, in order."""
        old_keys, new_keys = self.old_keys, self.new_keys
        # The unchanged beginning and end are taken first: cheap, and the matcher then sees only what changed.
        head = 0
        while head < min(len(old_keys), len(new_keys)) and old_keys[head] == new_keys[head]:
            head += 1
        tail = 0
        while (tail < min(len(old_keys), len(new_keys)) - head
               and old_keys[len(old_keys) - 1 - tail] == new_keys[len(new_keys) - 1 - tail]):
            tail += 1
        old_middle, new_middle = old_keys[head:len(old_keys) - tail], new_keys[head:len(new_keys) - tail]
        opcodes = [(EQUAL, 0, head, 0, head)] if head else []
        junk = _too_common(old_middle, new_middle)
        matcher = SequenceMatcher(junk.__contains__, old_middle, new_middle, autojunk=False)
        opcodes += [(tag, head + old_start, head + old_end, head + new_start, head + new_end)
                    for tag, old_start, old_end, new_start, new_end in matcher.get_opcodes()]
        if tail:
            opcodes.append((EQUAL, len(old_keys) - tail, len(old_keys), len(new_keys) - tail, len(new_keys)))
        return opcodes

    def pair_up(self, old_range: range, new_range: range) -> None:
        """Blocks for a stretch that differs: similar paragraphs paired in order as changed, the rest removed
        or added.

        The pairs are the order-keeping set with the largest total similarity (so a rewritten stretch with a
        paragraph added in the middle still pairs each paragraph with its own new version), looked for among
        all pairs when the stretch is small and near its diagonal when it is long: a paragraph is then paired
        only with one about as far into the new stretch as it is into the old.
        """
        rows, columns = len(old_range), len(new_range)
        if not rows or not columns:
            self.blocks += [Block(DELETE, self.old[index], None) for index in old_range]
            self.blocks += [Block(INSERT, None, self.new[index]) for index in new_range]
            return
        reach = columns if rows * columns <= PAIRING_CELLS else max(NARROWEST_REACH, PAIRING_CELLS // (2 * rows))
        # came_from[row][column]: the last move of the best pairing of the first `row` old and `column` new
        # paragraphs; row 0 and column 0 are never read back.
        came_from = [bytearray(columns + 1)]
        previous = [0.0] * (columns + 1)
        for row in range(1, rows + 1):
            middle = (row - 0.5) * columns / rows
            first, last = max(1, math.floor(middle - reach)), min(columns, math.ceil(middle + reach))
            # Outside the columns looked at nothing is paired: to their left the best stays what it was a row
            # up, to their right what it is at the last column looked at (the best never falls along a row).
            current = previous[:first]
            moves = bytearray(columns + 1)  # _SKIP_OLD throughout
            for column in range(first, last + 1):
                score = self.similarity(old_range[row - 1], new_range[column - 1])
                best, move = previous[column], _SKIP_OLD
                if current[column - 1] > best:
                    best, move = current[column - 1], _SKIP_NEW
                if score and previous[column - 1] + score >= best:
                    best, move = previous[column - 1] + score, _PAIR
                current.append(best)
                moves[column] = move
            current += [current[last]] * (columns - last)
            moves[last + 1:] = bytes([_SKIP_NEW]) * (columns - last)
            came_from.append(moves)
            previous = current
        pairs: list[tuple[int, int]] = []
        row, column = rows, columns
        while row and column:
            move = came_from[row][column]
            if move == _PAIR:
                pairs.append((old_range[row - 1], new_range[column - 1]))
            if move != _SKIP_NEW:
                row -= 1
            if move != _SKIP_OLD:
                column -= 1
        old_next, new_next = old_range.start, new_range.start
        for old_index, new_index in [*reversed(pairs), (old_range.stop, new_range.stop)]:
            self.blocks += [Block(DELETE, self.old[index], None) for index in range(old_next, old_index)]
            self.blocks += [Block(INSERT, None, self.new[index]) for index in range(new_next, new_index)]
            if old_index < old_range.stop:
                self.blocks += self.changed(old_index, new_index)
            old_next, new_next = old_index + 1, new_index + 1

    def similarity(self, old_index: int, new_index: int) -> float:
        if self.old_keys[old_index] == self.new_keys[new_index]:
            return 1.0
        old, new = self.tokens(old_index, new_index)
        self.step()
        return _similarity(old, new)

    def changed(self, old_index: int, new_index: int) -> list[Block]:
        """The block(s) for a pair: unchanged, changed with its words marked, or, when the words the two share
        do not line up in order after all, one removed and one added."""
        old_paragraph, new_paragraph = self.old[old_index], self.new[new_index]
        # Paragraphs the same but for spelling meet here when repeated text was left out of the anchoring.
        if self.old_keys[old_index] == self.new_keys[new_index]:
            return [Block(EQUAL, old_paragraph, new_paragraph)]
        old, new = self.tokens(old_index, new_index)
        self.step()
        if not _similar_in_order(old, new):
            return [Block(DELETE, old_paragraph, None), Block(INSERT, None, new_paragraph)]
        self.step()
        return [Block(CHANGE, old_paragraph, new_paragraph, _word_diff(old, new))]

    def tokens(self, old_index: int, new_index: int) -> tuple[_Tokens, _Tokens]:
        if old_index not in self.old_tokens:
            self.step()
            self.old_tokens[old_index] = _Tokens.of(self.old[old_index].text, self.old_keys[old_index])
        if new_index not in self.new_tokens:
            self.step()
            self.new_tokens[new_index] = _Tokens.of(self.new[new_index].text, self.new_keys[new_index])
        return self.old_tokens[old_index], self.new_tokens[new_index]


def _too_common(old_keys: list[str], new_keys: list[str]) -> set[str]:
    """Paragraph texts left out of the anchoring so that matching stays within ``MOST_ALIGNMENT_WORK``: the
    ones repeated most on both sides first."""
    new_counts = Counter(new_keys)
    work = {key: count * new_counts[key] for key, count in Counter(old_keys).items() if key in new_counts}
    total = sum(work.values())
    junk: set[str] = set()
    for key in sorted(work, key=lambda key: (-work[key], key)):
        if total <= MOST_ALIGNMENT_WORK:
            break
        junk.add(key)
        total -= work[key]
    return junk
