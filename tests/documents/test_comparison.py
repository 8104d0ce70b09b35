"""Two versions of a decree compared: paragraphs aligned, changed words marked (whole Lao words), cut short in time."""
from __future__ import annotations

import itertools
import json
import re
import time
from collections.abc import Callable

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tracker.documents.comparison import Block, Comparison, Paragraph, Word, compare
from tracker.lao import words as lao_words

DRAFT = [
    Paragraph("Article 1. Objective", 1, "Chapter I"),
    Paragraph("This Decree sets out the principles, rules and measures for the promotion of electric vehicles in "
              "the Lao PDR, to reduce fuel imports and greenhouse gas emissions.", 1, "Chapter I"),
    Paragraph("Article 2. Import licence", 1, "Chapter II"),
    Paragraph("An importer of electric vehicles shall apply for an import licence within 30 days of the arrival of "
              "the vehicles at the border checkpoint.", 1, "Chapter II"),
    Paragraph("Article 3. Registration fee", 2, "Chapter II"),
    Paragraph("Electric vehicles registered before 31 December 2025 pay half of the registration fee.", 2,
              "Chapter II"),
    Paragraph("Article 4. Entry into force", 2, "Chapter III"),
    Paragraph("This Decree enters into force on the date of its signature.", 2, "Chapter III"),
]
CHARGING_HEADING = Paragraph("Article 4. Charging stations", 2, "Chapter II")
CHARGING = Paragraph("Public charging stations shall meet the technical standards issued by the Ministry of Energy "
                     "and Mines.", 2, "Chapter II")

LAO_RUN = re.compile("[\u0E80-\u0EFF]+")


def old_side(words: tuple[Word, ...]) -> str:
    return "".join(word.text for word in words if word.op != "insert")


def new_side(words: tuple[Word, ...]) -> str:
    return "".join(word.text for word in words if word.op != "delete")


def marks(block: Block) -> list[tuple[str, str]]:
    return [(word.op, word.text) for word in block.words]


def ops(comparison: Comparison) -> list[str]:
    return [block.op for block in comparison.blocks]


def assert_cut_between_lao_words(texts: list[str], whole: str) -> None:
    """No piece starts or ends inside a Lao word: every cut that falls inside a Lao run of ``whole`` falls
    where the segmenter ends a word."""
    cuts = set(itertools.accumulate(len(text) for text in texts))
    for run in LAO_RUN.finditer(whole):
        word_ends = set(itertools.accumulate((len(word) for word in lao_words(run[0])), initial=run.start()))
        inside = {cut for cut in cuts if run.start() < cut < run.end()}
        assert inside <= word_ends, (run[0], sorted(inside - word_ends))


def assert_sound(comparison: Comparison) -> None:
    """What every comparison promises: pieces that give back both texts, compact and on Lao word boundaries,
    and a summary that counts the blocks."""
    for block in comparison.blocks:
        assert (block.old is None) == (block.op == "insert")
        assert (block.new is None) == (block.op == "delete")
        assert bool(block.words) == (block.op == "change")
        if block.op == "change":
            assert block.old is not None and block.new is not None
            assert old_side(block.words) == block.old.text
            assert new_side(block.words) == block.new.text
            assert all(word.text for word in block.words)
            assert all(first.op != second.op for first, second in itertools.pairwise(block.words))
            assert_cut_between_lao_words([word.text for word in block.words if word.op != "insert"], block.old.text)
            assert_cut_between_lao_words([word.text for word in block.words if word.op != "delete"], block.new.text)
    counted = [comparison.added, comparison.removed, comparison.changed, comparison.unchanged]
    assert counted == [ops(comparison).count(op) for op in ("insert", "delete", "change", "equal")]


def test_an_amended_clause_is_marked_on_the_words_that_changed():
    adopted = list(DRAFT)
    adopted[3] = Paragraph(DRAFT[3].text.replace("within 30 days", "within 60 days"), 1, "Chapter II")

    comparison = compare(DRAFT, adopted)

    assert comparison.complete
    assert (comparison.changed, comparison.unchanged, comparison.added, comparison.removed) == (1, 7, 0, 0)
    assert ops(comparison) == ["equal"] * 3 + ["change"] + ["equal"] * 4
    assert marks(comparison.blocks[3]) == [
        ("equal", "An importer of electric vehicles shall apply for an import licence within "),
        ("delete", "30"), ("insert", "60"),
        ("equal", " days of the arrival of the vehicles at the border checkpoint."),
    ]
    assert_sound(comparison)


def test_a_reworded_sentence_reads_as_removed_then_added_words():
    old = [Paragraph("Charging stations shall meet the technical standards issued by the Ministry of Energy and "
                     "Mines.")]
    new = [Paragraph("Public charging stations shall meet the safety and technical standards issued by the Ministry "
                     "of Industry and Commerce.")]

    (block,) = compare(old, new).blocks

    assert marks(block) == [
        ("delete", "Charging"), ("insert", "Public charging"),
        ("equal", " stations shall meet the "), ("insert", "safety and "),
        ("equal", "technical standards issued by the Ministry of "),
        ("delete", "Energy"), ("insert", "Industry"), ("equal", " and "),
        ("delete", "Mines"), ("insert", "Commerce"), ("equal", "."),
    ]


def test_inserted_and_removed_articles_are_added_and_removed_where_they_stand():
    # The adopted text drops the registration fee (Article 3) and brings in charging stations.
    adopted = DRAFT[:4] + [CHARGING_HEADING, CHARGING] + DRAFT[6:]

    comparison = compare(DRAFT, adopted)

    # A different article under a new number: removed and added, not marked as one reworded heading.
    assert ops(comparison) == ["equal"] * 4 + ["delete", "delete", "insert", "insert", "equal", "equal"]
    assert [block.old for block in comparison.blocks[4:6]] == DRAFT[4:6]
    assert [block.new for block in comparison.blocks[6:8]] == [CHARGING_HEADING, CHARGING]
    assert comparison.blocks[7].new.page == 2
    assert (comparison.added, comparison.removed, comparison.changed, comparison.unchanged) == (2, 2, 0, 6)
    assert_sound(comparison)


def test_a_rewritten_stretch_pairs_each_paragraph_with_its_own_new_version():
    old = [Paragraph("The Ministry of Energy and Mines issues the import licence."),
           Paragraph("Importers keep the licence for five years."),
           Paragraph("Inspectors may ask to see the licence at any time.")]
    new = [Paragraph("The Ministry of Industry and Commerce issues the import licence."),
           Paragraph("A licence costs 500 000 kip and is paid at the provincial office."),
           Paragraph("Importers keep the licence for ten years."),
           Paragraph("Inspectors may ask to see the licence at any reasonable time.")]

    comparison = compare(old, new)

    assert ops(comparison) == ["change", "insert", "change", "change"]
    assert [block.old for block in comparison.blocks if block.op == "change"] == old
    assert marks(comparison.blocks[2])[1:3] == [("delete", "five"), ("insert", "ten")]
    assert_sound(comparison)


def test_a_paragraph_moved_elsewhere_is_removed_there_and_added_here_without_word_marks():
    moved = DRAFT[:2] + DRAFT[4:6] + DRAFT[2:4] + DRAFT[6:]

    comparison = compare(DRAFT, moved)

    assert comparison.changed == 0
    assert comparison.unchanged == 6
    removed = [block.old for block in comparison.blocks if block.op == "delete"]
    added = [block.new for block in comparison.blocks if block.op == "insert"]
    assert len(removed) == len(added) == 2
    assert sorted(paragraph.text for paragraph in removed) == sorted(paragraph.text for paragraph in added)
    assert_sound(comparison)


def test_a_paragraph_that_only_moved_to_another_page_is_unchanged_and_keeps_both_pages():
    reflowed = [Paragraph(paragraph.text, (paragraph.page or 0) + 1, paragraph.heading) for paragraph in DRAFT]

    comparison = compare(DRAFT, reflowed)

    assert comparison.unchanged == len(DRAFT)
    assert [(block.old.page, block.new.page) for block in comparison.blocks if block.old and block.new] == [
        (paragraph.page, (paragraph.page or 0) + 1) for paragraph in DRAFT]


def test_a_changed_lao_word_is_marked_whole():
    old = [Paragraph("ມະຕິວ່າດ້ວຍການຮັບຮອງ ແລະປະກາດໃຊ້ນະໂຍບາຍການນຳໃຊ້ລົດໄຟຟ້າຢູ່ ສປປ ລາວ", 1),
           Paragraph("ກະຊວງພະລັງງານ ແລະ ບໍ່ແຮ່ ເປັນຜູ້ອອກອະນຸຍາດ", 1)]
    new = [Paragraph("ມະຕິວ່າດ້ວຍການຮັບຮອງ ແລະປະກາດໃຊ້ນະໂຍບາຍການສົ່ງເສີມລົດໄຟຟ້າຢູ່ ສປປ ລາວ", 1),
           Paragraph("ກະຊວງອຸດສາຫະກຳ ແລະ ການຄ້າ ເປັນຜູ້ອອກອະນຸຍາດ", 1)]

    comparison = compare(old, new)

    assert ops(comparison) == ["change", "change"]
    # "use" became "promotion"; a letter-by-letter diff would keep the shared ການ and mark inside the syllables.
    assert marks(comparison.blocks[0]) == [
        ("equal", "ມະຕິວ່າດ້ວຍການຮັບຮອງ ແລະປະກາດໃຊ້ນະໂຍບາຍ"), ("delete", "ການນຳໃຊ້"), ("insert", "ການສົ່ງເສີມ"),
        ("equal", "ລົດໄຟຟ້າຢູ່ ສປປ ລາວ")]
    # The Ministry of Energy and Mines became the Ministry of Industry and Commerce.
    assert marks(comparison.blocks[1]) == [
        ("equal", "ກະຊວງ"), ("delete", "ພະລັງງານ"), ("insert", "ອຸດສາຫະກຳ"), ("equal", " ແລະ "),
        ("delete", "ບໍ່ແຮ່"), ("insert", "ການຄ້າ"), ("equal", " ເປັນຜູ້ອອກອະນຸຍາດ")]
    assert_sound(comparison)


def test_figures_changed_inside_lao_text_are_marked_alone():
    old = [Paragraph("ລັດຖະບານ ປະກາດນະໂຍບາຍ ການນຳໃຊ້ລົດໄຟຟ້າຢູ່ ສປປ ລາວ ຕັ້ງເປົ້າຮອດປີ 2030 ອັດຕາສ່ວນຊົມໃຊ້ "
                     "ໃຫ້ກວມເອົາ 30% ຂຶ້ນໄປ")]
    new = [Paragraph(old[0].text.replace("2030", "2035").replace("30%", "50%"))]

    (block,) = compare(old, new).blocks

    assert [text for op, text in marks(block) if op != "equal"] == ["2030", "2035", "30", "50"]


def test_lao_spelling_variants_and_spacing_do_not_count_as_changes():
    composed = [Paragraph("ແຈ້ງການ ການອອກອະນຸຍາດ ນຳເຂົ້າຍານພາຫະນະທີ່ນຳໃຊ້ພະລັງງານໄຟຟ້າ", 1),
                Paragraph("ກົມການນຳເຂົ້າ ແລະ ສົ່ງອອກ ອອກໜັງສືອະນຸຍາດ", 1),
                Paragraph("Electric vehicles pay no import duty.", 2)]
    # As many Lao keyboards type them: sara am as nikhahit + sara aa, HO-NO as two letters; and a line break.
    typed = [Paragraph("ແຈ້ງການ ການອອກອະນຸຍາດ ນໍາເຂົ້າຍານພາຫະນະທີ່ນໍາໃຊ້ພະລັງງານໄຟຟ້າ", 1),
             Paragraph("ກົມການນໍາເຂົ້າ  ແລະ ສົ່ງອອກ ອອກຫນັງສືອະນຸຍາດ", 1),
             Paragraph("Electric vehicles\npay no import duty. ", 2)]
    assert [paragraph.text for paragraph in composed] != [paragraph.text for paragraph in typed]

    comparison = compare(composed, typed)

    assert ops(comparison) == ["equal", "equal", "equal"]
    assert (comparison.unchanged, comparison.changed) == (3, 0)
    assert comparison.blocks[0].new == typed[0]  # each side as written, for showing either


def test_empty_versions():
    nothing = compare([], [])
    assert (nothing.blocks, nothing.complete) == ((), True)
    assert nothing.to_json() == {"complete": True, "blocks": [],
                                 "summary": {"added": 0, "removed": 0, "changed": 0, "unchanged": 0}}

    first_draft = compare([], DRAFT)
    assert ops(first_draft) == ["insert"] * len(DRAFT)
    assert [block.new for block in first_draft.blocks] == DRAFT
    assert first_draft.added == len(DRAFT)

    withdrawn = compare(DRAFT, [])
    assert ops(withdrawn) == ["delete"] * len(DRAFT)
    assert withdrawn.removed == len(DRAFT)

    blank = compare([Paragraph("")], [Paragraph("Article 1.")])
    assert ops(blank) == ["delete", "insert"]


def test_the_json_form_carries_the_summary_pages_texts_and_words():
    adopted = list(DRAFT)
    adopted[3] = Paragraph(DRAFT[3].text.replace("30 days", "60 days"), 3, "Chapter II")
    adopted.insert(4, CHARGING)

    data = json.loads(json.dumps(compare(DRAFT, adopted).to_json()))

    assert data["complete"] is True
    assert data["summary"] == {"added": 1, "removed": 0, "changed": 1, "unchanged": 7}
    changed = data["blocks"][3]
    assert changed["op"] == "change"
    assert changed["old"] == {"text": DRAFT[3].text, "page": 1, "heading": "Chapter II"}
    assert changed["new"]["page"] == 3
    assert {"op": "delete", "text": "30"} in changed["words"]
    added = data["blocks"][4]
    assert added == {"op": "insert", "old": None, "words": [],
                     "new": {"text": CHARGING.text, "page": 2, "heading": "Chapter II"}}


def test_a_paragraph_too_long_to_mark_word_by_word_is_shown_removed_and_added_whole():
    annex = " ".join(f"Model {number} battery capacity {number % 97} kWh;" for number in range(8_000))
    old, new = Paragraph(annex), Paragraph(annex.replace("Model 4000 ", "Model 4001 "))

    started = time.perf_counter()
    (block,) = compare([old], [new]).blocks

    assert time.perf_counter() - started < 2
    assert block.op == "change"
    assert marks(block) == [("delete", old.text), ("insert", new.text)]


# ---------------------------------------------------------------------------------------------------
# The time budget


def ticking_clock(readings: list[float]) -> Callable[[], float]:
    """A clock that moves one second each time it is read, and keeps what it answered."""
    def read() -> float:
        readings.append(float(len(readings)))
        return readings[-1]
    return read


def long_revision() -> tuple[list[Paragraph], list[Paragraph]]:
    old = [Paragraph(f"Article {number}. Vehicles of class {number} pay {number} per cent of the import duty "
                     f"until the end of {2020 + number}.", number) for number in range(1, 21)]
    new = [Paragraph(paragraph.text.replace("per cent", "percent") if number % 3 else paragraph.text, number)
           for number, paragraph in enumerate(old, start=1)]
    new.insert(10, Paragraph("Article 10 bis. Electric motorcycles pay no import duty.", 10))
    return old, new


def test_running_out_of_time_returns_the_part_compared_and_stops_at_once():
    old, new = long_revision()
    whole = compare(old, new)
    assert whole.complete and whole.changed == 14

    seen_cut_short_with_blocks = False
    for budget in range(0, 200, 3):
        readings: list[float] = []
        part = compare(old, new, budget_seconds=budget, clock=ticking_clock(readings))

        assert_sound(part)
        assert part.blocks == whole.blocks[:len(part.blocks)]
        if part.complete:
            assert part == whole
        else:
            # Work stops at the first reading past the budget.
            assert [reading for reading in readings if reading > readings[0] + budget] == [readings[-1]]
            seen_cut_short_with_blocks |= bool(part.blocks)
    assert seen_cut_short_with_blocks
    assert not compare(old, new, budget_seconds=0, clock=ticking_clock([])).complete


def test_a_comparison_cut_short_says_so_in_its_json_form():
    old, new = long_revision()
    part = compare(old, new, budget_seconds=60, clock=ticking_clock([]))

    data = part.to_json()

    assert data["complete"] is False
    assert data["summary"] == {"added": part.added, "removed": part.removed, "changed": part.changed,
                               "unchanged": part.unchanged}
    blocks = data["blocks"]
    assert isinstance(blocks, list) and len(blocks) == len(part.blocks) > 0


def test_a_huge_rewrite_stops_close_to_its_budget_on_the_real_clock():
    old = [Paragraph(f"Section {number}: vehicles with batteries of {number} kWh are registered by the "
                     f"provincial office of public works and transport within {number % 60} days.")
           for number in range(4_000)]
    new = [Paragraph(f"Section {number + 1}: an electric vehicle with a battery above {number * 3} kWh is "
                     f"inspected every {number % 7 + 1} years by the Department of Transport.")
           for number in range(4_000)]

    started = time.perf_counter()
    comparison = compare(old, new, budget_seconds=0.3)
    elapsed = time.perf_counter() - started

    assert not comparison.complete
    assert elapsed < 1.5
    assert_sound(comparison)


# ---------------------------------------------------------------------------------------------------
# Any texts


LAO_PIECES = ["ລົດໄຟຟ້າ", "ການນຳເຂົ້າ", "ການນໍາເຂົ້າ", "ກຳນົດ", "ກໍານົດ", "ພາຍໃນ", "ວັນ", "໓໐", "ໜັງສື", "ຫນັງສື",
              "ອະນຸຍາດ", "ມາດຕາ", "ກະຊວງ", "ພະລັງງານ", "ແລະ", "ບໍ່ແຮ່", "ສປປ ລາວ"]
LATIN_PIECES = ["Article", "within", "30", "60", "days", "the", "licence", "electric", "vehicle", "café", "cafe\u0301"]
SEPARATORS = ["", "", " ", "  ", "\n", ", ", ". ", "(", ")", "%"]
LAO_LETTERS = [chr(code) for code in range(0x0E80, 0x0F00)]

piece = st.tuples(st.sampled_from(LAO_PIECES + LATIN_PIECES), st.sampled_from(SEPARATORS))
text = st.one_of(
    st.lists(piece, max_size=14).map(lambda pieces: "".join(word + separator for word, separator in pieces)),
    # Lao letters and marks in any order, as a bad text extraction might give them.
    st.text(alphabet=st.sampled_from(LAO_LETTERS + [" ", "a", "-", "\u0301"]), max_size=24),
)
paragraph = st.builds(Paragraph, text, st.one_of(st.none(), st.integers(1, 9)))


def respelled(text: str) -> str:
    return (text.replace("\u0EB3", "\u0ECD\u0EB2").replace("\u0EDC", "\u0EAB\u0E99").replace(" ", "  ")
            .replace("\n", " ").replace("\u0ED3", "3"))


@st.composite
def revisions(draw: st.DrawFn) -> tuple[list[Paragraph], list[Paragraph]]:
    """An old version and a new one made from it: paragraphs kept, dropped, edited a little, respelled (as
    another Lao keyboard and another extraction would give them), or added."""
    old = draw(st.lists(paragraph, max_size=8))
    new: list[Paragraph] = []
    for kept in old:
        what = draw(st.sampled_from(["keep", "drop", "edit", "respell", "respell and edit", "add"]))
        if what == "add":
            new.append(draw(paragraph))
        if "respell" in what:
            kept = Paragraph(respelled(kept.text), kept.page)
        if what.endswith("edit"):
            start = draw(st.integers(0, len(kept.text)))
            end = draw(st.integers(start, len(kept.text)))
            kept = Paragraph(kept.text[:start] + draw(text) + kept.text[end:], kept.page)
        if what != "drop":
            new.append(kept)
    new += draw(st.lists(paragraph, max_size=2))
    return old, new


# Derandomized: the same generated texts on every run, so a run on CI checks what a run here checked.
@settings(max_examples=200, deadline=None, database=None, derandomize=True,
          suppress_health_check=[HealthCheck.too_slow])
@given(revisions())
def test_any_comparison_gives_back_both_texts_and_keeps_their_order(revision: tuple[list[Paragraph], list[Paragraph]]):
    old, new = revision

    comparison = compare(old, new, budget_seconds=60)

    assert comparison.complete
    assert_sound(comparison)
    assert [block.old for block in comparison.blocks if block.old is not None] == old
    assert [block.new for block in comparison.blocks if block.new is not None] == new
    assert compare(old, new, budget_seconds=60) == comparison
