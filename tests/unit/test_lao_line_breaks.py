"""Lao words are kept whole across lines by markup that leaves the text itself unchanged."""
from __future__ import annotations

import re

from markupsafe import Markup

from tracker.lao import keep_words_whole as keep_lao_words
from tracker.lao import words as lao_words

TITLE = "ມະຕິວ່າດ້ວຍການຮັບຮອງ ແລະປະກາດໃຊ້ນະໂຍບາຍການນຳໃຊ້ລົດໄຟຟ້າຢູ່ ສປປ ລາວ"


def text_of(html: str) -> str:
    return re.sub(r"<[^>]+>", "", html)


def test_words_of_several_syllables_are_kept_whole_and_lines_may_end_between_words():
    html = keep_lao_words(TITLE)
    assert isinstance(html, Markup)
    assert text_of(html) == TITLE
    assert '<span class="lw">ລົດໄຟຟ້າ</span>' in html
    assert '<span class="lw">ການຮັບຮອງ</span>' in html
    assert "<wbr>" in html


def test_sara_am_typed_as_two_characters_stays_in_its_word():
    typed = "ການກໍານົດມາດຖານ"  # ໍ + າ, as many Lao keyboards type ຳ
    assert lao_words(typed) == ["ການກໍານົດ", "ມາດຖານ"]
    assert "".join(lao_words("ສໍາມະນາກ່ຽວກັບ")) == "ສໍາມະນາກ່ຽວກັບ"


def test_other_text_is_escaped_and_left_alone():
    assert keep_lao_words("<script>x</script> EV policy") == "&lt;script&gt;x&lt;/script&gt; EV policy"
    assert keep_lao_words(None) == ""
    marked = keep_lao_words(Markup('<mark class="hit">ລົດໄຟຟ້າ</mark>'))
    assert marked == '<mark class="hit"><span class="lw">ລົດໄຟຟ້າ</span></mark>'
