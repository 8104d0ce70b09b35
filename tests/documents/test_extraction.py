"""Inspection and extraction of every fixture: pages, headings, contents pages, text layers and OCR."""
from __future__ import annotations

import time
from pathlib import Path

import pytest

from tests.documents import fixtures
from tracker import lao
from tracker.documents import extraction
from tracker.documents.extraction import Extracted, Passage
from tracker.documents.formats import DOCX, HTML, PDF, TEXT, BadFile


def bad_code(call: object, *args: object, **kwargs: object) -> str:
    with pytest.raises(BadFile) as caught:
        call(*args, **kwargs)  # type: ignore[operator]
    return caught.value.code


def by_text(result: Extracted, needle: str) -> Passage:
    return next(passage for passage in result.passages if needle in passage.text)


def all_text(result: Extracted) -> str:
    return "\n".join(passage.text for passage in result.passages)


# ---------------------------------------------------------------------------------------------------
# Hand-written files (no browser)


def test_inspect_counts_pages_and_refuses_too_many(fixture_dir: Path) -> None:
    assert extraction.inspect(fixtures.many_pages_pdf(fixture_dir, 3, text=True), PDF, max_pages=10) == 3
    assert extraction.inspect(fixtures.lao_docx(fixture_dir), DOCX, max_pages=10) == 4
    assert extraction.inspect(fixtures.html_file(fixture_dir), HTML, max_pages=10) == 1
    assert extraction.inspect(fixtures.text_file(fixture_dir), TEXT, max_pages=10) == 4
    started = time.perf_counter()
    many = fixtures.many_pages_pdf(fixture_dir)
    assert bad_code(extraction.inspect, many, PDF, max_pages=2000) == "too_many_pages"
    assert bad_code(extraction.extract, many, PDF, "en", max_pages=2000) == "too_many_pages"
    assert time.perf_counter() - started < 2
    assert bad_code(extraction.inspect, fixtures.corrupt_pdf(fixture_dir), PDF, max_pages=10) == "corrupt"
    assert bad_code(extraction.inspect, fixtures.docx_bomb(fixture_dir), DOCX, max_pages=10) == "archive_bomb"


def test_a_pdf_without_pages_is_refused(tmp_path: Path) -> None:
    writer = fixtures.PdfWriter()
    pages = writer.add(b"<< /Type /Pages /Count 0 /Kids [] >>")
    writer.write(tmp_path / "none.pdf", writer.add(b"<< /Type /Catalog /Pages %d 0 R >>" % pages))
    assert bad_code(extraction.inspect, tmp_path / "none.pdf", PDF, max_pages=10) == "no_pages"


def test_docx_paragraphs_headings_tables_and_page_breaks(fixture_dir: Path) -> None:
    result = extraction.extract(fixtures.english_docx(fixture_dir), DOCX, "en", max_pages=10)
    assert result.pages == 4 and result.pages_ocr == 0 and result.failed_pages == []
    article = by_text(result, fixtures.ENGLISH_PHRASE)
    assert (article.page, article.heading, article.method, article.confidence, article.toc) == (
        3, "Article 4 Charging Stations", "text", None, False)
    heading = next(passage for passage in result.passages if passage.text == "Article 4 Charging Stations")
    assert heading.toc and heading.heading == "Chapter 2 Promotion of Electric Vehicles"
    assert by_text(result, "Battery | 5%").page == 3
    contents = [passage for passage in result.passages if passage.page == 1 and "Article 3" in passage.text]
    assert contents and all(passage.toc for passage in contents)
    lao = extraction.extract(fixtures.lao_docx(fixture_dir), DOCX, "lo", max_pages=10)
    tax = by_text(lao, "ຍົກເວັ້ນ")
    assert (tax.page, tax.heading, tax.language) == (3, "ມາດຕາ 3 ອາກອນ ແລະ ພາສີ", "lo")
    assert by_text(lao, "ລົດໄຟຟ້າ | 0%").page == 3


def test_html_blocks_headings_and_no_scripts(fixture_dir: Path) -> None:
    result = extraction.extract(fixtures.html_file(fixture_dir), HTML, "en", max_pages=10)
    text = all_text(result)
    assert "never extracted" not in text and "font-family" not in text
    article = by_text(result, fixtures.ENGLISH_PHRASE)
    assert (article.page, article.heading, article.toc) == (1, "Article 4 Charging Stations", False)
    assert by_text(result, "Article 3 Taxes and Duties … 3").toc


def test_plain_text_paragraphs_pages_and_headings(fixture_dir: Path) -> None:
    result = extraction.extract(fixtures.text_file(fixture_dir), TEXT, "en", max_pages=10)
    assert result.pages == 4
    article = by_text(result, fixtures.ENGLISH_PHRASE)
    assert (article.page, article.heading) == (3, "Article 4 Charging Stations")
    assert by_text(result, "Article 5 Batteries … 4").toc
    assert not result.passages[0].text.startswith("\ufeff")


def test_text_layer_pages_per_second(fixture_dir: Path) -> None:
    path = fixtures.many_pages_pdf(fixture_dir, 100, text=True)
    started = time.perf_counter()
    result = extraction.extract(path, PDF, "en", max_pages=200)
    elapsed = time.perf_counter() - started
    assert result.pages == 100 and result.pages_ocr == 0
    assert by_text(result, "Page 57:").page == 57
    assert by_text(result, "Page 57:").heading == "Article 57 Charging stations"
    assert 100 / elapsed > 20, f"{100 / elapsed:.0f} pages/s"


def test_long_paragraphs_are_chunked_at_sentences_and_between_lao_words() -> None:
    sentence = "Charging stations shall be registered with the Ministry. "
    pieces = extraction.chunk(sentence * 60)
    assert all(len(piece) <= extraction.MAX_PASSAGE for piece in pieces) and len(pieces) == 3
    assert all(piece.endswith(".") for piece in pieces)
    lao_run = "ການສົ່ງເສີມການນຳໃຊ້ລົດໄຟຟ້າ" * 80  # no space at all
    pieces = extraction.chunk(lao_run)
    assert "".join(pieces) == lao_run
    assert all(len(piece) <= extraction.MAX_PASSAGE for piece in pieces)
    boundaries, position = set(), 0
    for word in lao.words(lao_run):
        position += len(word)
        boundaries.add(position)
    assert all(sum(map(len, pieces[:index])) in boundaries for index in range(1, len(pieces)))


def test_headings_and_contents_lines_are_recognised() -> None:
    assert extraction.heading_level("Article 12 Penalties") == 4
    assert extraction.heading_level("CHAPTER IV Final provisions") == 2
    assert extraction.heading_level("ມາດຕາ 4 ສະຖານີສາກ") == 4
    assert extraction.heading_level("ໝວດທີ II ການສົ່ງເສີມ") == 2
    assert extraction.heading_level("ພາກທີ ໑") == 1
    assert extraction.heading_level("Part of the fleet") is None
    assert extraction.heading_level("Articles of association") is None
    assert extraction.is_toc_line("Article 3 Taxes and Duties.............. 3")
    assert extraction.is_toc_line("ມາດຕາ 1 ຈຸດປະສົງ ...... ໒")
    assert not extraction.is_toc_line("The rate is 5 percent from 2025")
    assert extraction.passage_language("Annex: list of charging stations in Vientiane", "lo") == "en"
    assert extraction.passage_language("ລົດໄຟຟ້າ ແລະ ສະຖານີສາກ ໃນນະຄອນຫຼວງ", "en") == "lo"
    assert extraction.passage_language("EV 2025", "lo") == "lo"


def test_extraction_is_deterministic(fixture_dir: Path) -> None:
    path = fixtures.lao_docx(fixture_dir)
    assert extraction.extract(path, DOCX, "lo", max_pages=10) == extraction.extract(path, DOCX, "lo", max_pages=10)


# ---------------------------------------------------------------------------------------------------
# Chromium-made PDFs, OCR


@pytest.mark.slow
def test_english_pdf_text_layer(printed: dict[str, Path]) -> None:
    result = extraction.extract(printed["english_pdf"], PDF, "en", max_pages=10)
    assert (result.pages, result.pages_ocr, result.failed_pages) == (4, 0, [])
    article = by_text(result, fixtures.ENGLISH_PHRASE)
    assert (article.page, article.heading, article.method, article.toc) == (3, "Article 4 Charging Stations",
                                                                            "text", False)
    contents = by_text(result, "Article 3 Taxes and Duties")
    assert contents.page == 1 and contents.toc and contents.heading == "Contents"
    assert by_text(result, "Article 1 Objective").page == 1
    chapter = next(passage for passage in result.passages if passage.text == "Chapter 2 Promotion of Electric Vehicles")
    assert chapter.page == 3 and chapter.toc


@pytest.mark.slow
def test_lao_pdf_text_layer_from_chromium_is_used_once_repaired(printed: dict[str, Path]) -> None:
    result = extraction.extract(printed["lao_pdf"], PDF, "lo", max_pages=10)
    assert (result.pages, result.pages_ocr, result.failed_pages) == (4, 0, [])
    text = all_text(result)
    assert all(word in text for word in fixtures.LAO_KNOWN_WORDS), [
        word for word in fixtures.LAO_KNOWN_WORDS if word not in text]
    station = by_text(result, "ສະໜອງໄຟຟ້າ")
    assert (station.page, station.heading, station.language, station.method) == (3, "ມາດຕາ 4 ສະຖານີສາກ", "lo",
                                                                                 "text")
    contents = by_text(result, "ມາດຕາ 3 ອາກອນ ແລະ ພາສີ …")
    assert contents.page == 1 and contents.toc
    assert next(passage for passage in result.passages if passage.text == "ມາດຕາ 6 ຜົນສັກສິດ").page == 4


@pytest.mark.slow
def test_scanned_lao_pdf_is_ocrd(printed: dict[str, Path]) -> None:
    result = extraction.extract(printed["scanned_lao_pdf"], PDF, "lo", max_pages=10)
    assert (result.pages, result.pages_ocr, result.failed_pages) == (4, 4, [])
    assert all(passage.method == "ocr" and passage.confidence is not None for passage in result.passages)
    assert all(0 <= passage.confidence <= 100 for passage in result.passages if passage.confidence is not None)
    text = all_text(result)
    found = [word for word in fixtures.LAO_KNOWN_WORDS if word in text]
    assert len(found) >= 0.9 * len(fixtures.LAO_KNOWN_WORDS), sorted(set(fixtures.LAO_KNOWN_WORDS) - set(found))
    article = next(passage for passage in result.passages if passage.text.startswith("ມາດຕາ 4"))
    assert article.page == 3 and article.toc
    assert by_text(result, "ຜູ້ລົງທຶນ").heading == "ມາດຕາ 4 ສະຖານີສາກ"
    unread = extraction.extract(printed["scanned_lao_pdf"], PDF, "lo", max_pages=10, ocr=False)
    assert unread.passages == [] and [page for page, _ in unread.failed_pages] == [1, 2, 3, 4]


@pytest.mark.slow
def test_legacy_font_layer_is_detected_and_ocrd(printed: dict[str, Path]) -> None:
    result = extraction.extract(printed["legacy_font_lao_pdf"], PDF, "lo", max_pages=10)
    assert result.pages_ocr == 4
    text = all_text(result)
    assert "ÊÒ" not in text and "ລົດໄຟຟ້າ" in text and "ສະຖານີສາກ" in text
    without_ocr = extraction.extract(printed["legacy_font_lao_pdf"], PDF, "lo", max_pages=10, ocr=False)
    assert without_ocr.passages == []
    assert all("legacy Lao font" in reason for _, reason in without_ocr.failed_pages)


@pytest.mark.slow
def test_encrypted_and_damaged_pdfs_are_refused(printed: dict[str, Path]) -> None:
    assert bad_code(extraction.inspect, printed["encrypted_pdf"], PDF, max_pages=10) == "encrypted"
    assert bad_code(extraction.extract, printed["encrypted_pdf"], PDF, "en", max_pages=10) == "encrypted"
    assert bad_code(extraction.inspect, printed["truncated_pdf"], PDF, max_pages=10) == "corrupt"
