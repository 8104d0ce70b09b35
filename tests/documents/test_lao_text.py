"""Lao text-layer checks: script statistics, legacy fonts, syllables, OCR clean-up."""
from __future__ import annotations

from pathlib import Path

import pytest

from tests.documents import fixtures
from tracker.documents import lao_text
from tracker.documents.lao_text import PlacedWord

TYPED = "\n".join(block.text for page in fixtures.LAO_PAGES for block in page)


def test_script_profile_counts_lao_latin_and_latin1() -> None:
    profile = lao_text.script_profile("ລົດໄຟຟ້າ EV ÊÒ 2024")
    assert (profile.lao, profile.ascii_letters, profile.latin1, profile.digits) == (8, 2, 2, 4)
    assert profile.lao_share == pytest.approx(8 / 12)


def test_legacy_font_layers_are_told_from_lao_and_from_english() -> None:
    legacy = " ".join(fixtures.legacy_encoding(block.text).decode("latin-1") for block in fixtures.LAO_PAGES[1])
    assert lao_text.looks_like_legacy_lao(legacy)
    assert lao_text.looks_like_legacy_lao("g]kp w,ko lkdy; [nv'vf ;=k0 x]ovg.kp g]kp w,ko lkdy;")
    assert not lao_text.looks_like_legacy_lao(TYPED)
    english = " ".join(block.text for block in fixtures.ENGLISH_PAGES[2])
    assert not lao_text.looks_like_legacy_lao(english)
    assert not lao_text.looks_like_legacy_lao("ÊÒ")  # too little to judge


def test_typed_lao_is_well_formed() -> None:
    check = lao_text.check_syllables(TYPED)
    assert check.syllables > 500
    assert check.ill_formed == 0
    assert not lao_text.is_malformed(TYPED)
    cut = [syllable.text for syllable in lao_text.syllables("ດຳລັດສະບັບນີ້ກຳນົດເຂົ້າເພື່ອ")]
    assert cut == ["ດຳ", "ລັດ", "ສະ", "ບັບ", "ນີ້", "ກຳ", "ນົດ", "ເຂົ້າ", "ເພື່ອ"]


@pytest.mark.parametrize(("text", "defect"), [
    ("ັກ", "mark without consonant"),
    ("ກ່້າ", "two tones"),
    ("ກິີ", "two vowel marks"),
    ("ກ່ິນ", "tone before vowel"),
    ("ເ", "leading vowel without consonant"),
    ("ລັສະ", "ັ without final"),
    ("ລົ", "ົ without final"),
    ("ບົດບົ", "echo"),
    ("າກ", "vowel without consonant"),
])
def test_ill_formed_syllables_are_named(text: str, defect: str) -> None:
    defects = [found for syllable in lao_text.syllables(text) for found in syllable.defects]
    assert defect in defects


def test_a_layer_with_repeated_and_lost_marks_is_malformed() -> None:
    # What PDFium reads from a Chromium-printed Lao PDF before copies of mark glyphs are dropped.
    layer = "ສາທາລະນະລັດລັ ປະຊາທິປທິະໄຕ ປະຊາຊົນຊົລາວ ສັນສັຕິພຕິ າບ ເອກະລາດ ດຳ ລັດລັ ວ່າດ້ວດ້ຍ ລົດລົໄຟຟ້າຟ້"
    check = lao_text.check_syllables(layer)
    assert check.share > 0.2
    assert lao_text.is_malformed(layer)
    assert "ລັ" in check.examples


def test_ocr_output_is_spelled_as_typed_lao() -> None:
    read = "ດໍາລັດ ຫມາຍເຖິງ ປົກປັກຮັກສາສິງແວດລ້ອມ\x0c\u200b ແລະ"
    assert lao_text.normalise_ocr(read) == "ດຳລັດ ໝາຍເຖິງ ປົກປັກຮັກສາສິ່ງແວດລ້ອມ\x0c ແລະ"
    # A run that no restored tone makes into fewer words is left alone.
    assert lao_text.restore_tones("ລົດໄຟຟ້າ") == "ລົດໄຟຟ້າ"
    assert lao_text.restore_tones("ເຄື່ອງສາກໄຟຟ້າ") == "ເຄື່ອງສາກໄຟຟ້າ"
    assert lao_text.compose_am("ນ\u0ecd\u0eb2") == "ນຳ"


def test_ocr_words_are_joined_without_spaces_inside_lao_words() -> None:
    height = 60
    words = [PlacedWord("ມາດຕາ", 0, 150), PlacedWord("1", 170, 20), PlacedWord("ຈຸດ", 215, 80),
             PlacedWord("ປະສົງ", 300, 120), PlacedWord("ແລະ", 450, 80), PlacedWord("EV", 560, 50)]
    # 5 px between ຈຸດ and ປະສົງ (a gap inside the word), 30 px before ແລະ (a space).
    assert lao_text.join_line(words, height) == "ມາດຕາ 1 ຈຸດປະສົງ ແລະ EV"
    assert lao_text.joins_word("ຈຸດ", "ປະສົງ")
    assert not lao_text.joins_word("ລະບຽບການ", "ແລະ")


@pytest.mark.slow
def test_pypdfium2_and_pypdf_read_the_chromium_lao_layer(printed: dict[str, Path]) -> None:
    """The figures of the report: raw PDFium text of Chromium's Lao layer is about a quarter ill-formed
    syllables; pypdf's is nearly clean; PDFium's with copies dropped (what extraction uses) is clean."""
    import pypdf
    import pypdfium2 as pdfium

    from tracker.documents import extraction

    path = printed["lao_pdf"]
    document = pdfium.PdfDocument(str(path))
    try:
        raw_text = "\n".join(document[index].get_textpage().get_text_range() for index in range(len(document)))
    finally:
        document.close()
    pypdf_text = "\n".join(page.extract_text() for page in pypdf.PdfReader(path).pages)
    ours = "\n".join(passage.text for passage in extraction.extract(path, "application/pdf", "lo", max_pages=10,
                                                                    ocr=False).passages)
    raw_check, pypdf_check, our_check = (lao_text.check_syllables(text) for text in (raw_text, pypdf_text, ours))
    assert raw_check.share > 0.15
    assert pypdf_check.share < 0.03
    assert our_check.share < 0.01
    assert lao_text.is_malformed(raw_text) and not lao_text.is_malformed(ours)
