"""Text shortened for emails: cut between words (Lao words by the segmenter), and a visitor's search words
stripped of anything a mail client would make a link of."""
from __future__ import annotations

import pytest

from tracker.lao import shorten
from tracker.lao import words as lao_words
from tracker.notifications.describe import quoted_query

LAO = "ມະຕິວ່າດ້ວຍການຮັບຮອງ ແລະປະກາດໃຊ້ນະໂຍບາຍການນຳໃຊ້ລົດໄຟຟ້າຢູ່ ສປປ ລາວ"


def test_short_text_is_left_as_it_is():
    assert shorten("charging stations", 60) == "charging stations"


def test_english_is_cut_at_a_space():
    assert shorten("charging stations for electric buses in Vientiane", 30) == "charging stations for…"


@pytest.mark.parametrize("limit", range(8, len(LAO)))
def test_lao_is_cut_between_words_at_any_length(limit):
    cut = shorten(LAO, limit)
    assert len(cut) <= limit and cut.endswith("…")
    kept = cut.removesuffix("…")
    assert LAO.startswith(kept)
    ends = {0}
    position = 0
    for run in LAO.split(" "):
        for word in lao_words(run):
            position += len(word)
            ends.add(position)
        position += 1
    assert len(kept) in ends, (limit, kept)


def test_a_word_longer_than_the_limit_is_cut_if_latin_and_left_out_if_lao():
    assert shorten("a" * 100, 10) == "a" * 9 + "…"
    assert shorten("ລົດໄຟຟ້າ", 4) == "…"
    assert shorten("ການນຳໃຊ້ລົດໄຟຟ້າ", 6) == "ການ…"


@pytest.mark.parametrize("query, shown", [
    ("charging stations http://evil.example/login now", "charging stations … now"),
    ("visit www.evil.example today", "visit … today"),
    ("write to someone@evil.example", "write to"),
    ("ｅｖｉｌ．ｃｏｍ reset", "reset"),
    ("see evil。com or evil.co.uk/x or 10.0.0.1 here", "see … or … or … here"),
    ("call tel:+85621000000 mailto:x", "call"),
    ("Decree No.12 e.g. v2.0", "Decree No.12 e.g. v2.0"),
    ("“quoted” <b>bold</b> \u202eevil", "quoted b bold /b evil"),
    ("ເບິ່ງ ຕົວຢ່າງ.ລາວ ດຽວນີ້", "ເບິ່ງ … ດຽວນີ້"),
    ("ສະຖານີສາກໄຟຟ້າ ສຳລັບລົດໂດຍສານ", "ສະຖານີສາກໄຟຟ້າ ສຳລັບລົດໂດຍສານ"),
])
def test_search_words_lose_everything_a_mail_client_would_link(query, shown):
    assert quoted_query(query) == shown
