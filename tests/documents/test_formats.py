"""Sniffing, name checks and the zip-bomb guard, on real files made by the fixtures."""
from __future__ import annotations

import time
import zipfile
from pathlib import Path

import pytest

from tests.documents import fixtures
from tracker.documents import formats
from tracker.documents.formats import DOCX, HTML, PDF, TEXT, BadFile


def code_of(path: Path, filename: str | None = None) -> tuple[str, dict[str, object]]:
    with pytest.raises(BadFile) as caught:
        formats.sniff(path, filename)
    return caught.value.code, caught.value.params


def test_supported_types_are_sniffed_from_their_bytes(fixture_dir: Path) -> None:
    assert formats.sniff(fixtures.many_pages_pdf(fixture_dir, 3, text=True)) == PDF
    assert formats.sniff(fixtures.english_docx(fixture_dir)) == DOCX
    assert formats.sniff(fixtures.lao_docx(fixture_dir)) == DOCX
    assert formats.sniff(fixtures.html_file(fixture_dir)) == HTML
    assert formats.sniff(fixtures.text_file(fixture_dir)) == TEXT


def test_html_is_known_by_its_start_and_text_by_being_utf8(tmp_path: Path) -> None:
    cases = {
        "bom-doctype.html": b"\xef\xbb\xbf  \n<!DOCTYPE html><p>x</p>",
        "comment-first.html": b"<!-- saved --> <html lang=lo><body>\xe0\xba\xa5</body></html>",
        "xhtml.html": b'<?xml version="1.0" encoding="utf-8"?>\n<html xmlns="http://www.w3.org/1999/xhtml"></html>',
        "body-only.html": b"\n\n<BODY>text</BODY>",
    }
    for name, data in cases.items():
        (tmp_path / name).write_bytes(data)
        assert formats.sniff(tmp_path / name) == HTML, name
    lao = tmp_path / "lao.txt"
    lao.write_text("\ufeffດຳລັດ ວ່າດ້ວຍ ລົດໄຟຟ້າ\n\nມາດຕາ 1\tຈຸດປະສົງ\f\n", encoding="utf-8")
    assert formats.sniff(lao) == TEXT
    markup_in_text = tmp_path / "note.txt"
    markup_in_text.write_text("Use <html> tags when you write web pages.\n", encoding="utf-8")
    assert formats.sniff(markup_in_text) == TEXT


def test_bad_files_are_refused_with_a_code(fixture_dir: Path, tmp_path: Path) -> None:
    assert code_of(fixtures.empty_file(fixture_dir)) == ("empty", {})
    assert code_of(fixtures.png_named_pdf(fixture_dir)) == ("unknown_type", {"detected": "image"})
    assert code_of(fixtures.binary_named_txt(fixture_dir), "notes.txt") == ("binary_text", {})
    assert code_of(fixtures.binary_named_txt(fixture_dir), "blob.bin") == ("unknown_type", {"detected": "binary"})
    assert code_of(fixtures.legacy_text_file(fixture_dir), "decree.txt") == ("not_utf8", {"encoding": "legacy 8-bit"})
    utf16 = tmp_path / "utf16.txt"
    utf16.write_bytes("Decree".encode("utf-16"))
    assert code_of(utf16) == ("not_utf8", {"encoding": "UTF-16"})
    ole = tmp_path / "old.doc"
    ole.write_bytes(b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + bytes(1000))
    assert code_of(ole) == ("unknown_type", {"detected": "doc"})
    plain_zip = tmp_path / "archive.zip"
    with zipfile.ZipFile(plain_zip, "w") as archive:
        archive.writestr("readme.txt", "hello")
    assert code_of(plain_zip) == ("unknown_type", {"detected": "zip"})
    broken_zip = tmp_path / "broken.docx"
    broken_zip.write_bytes(b"PK\x03\x04" + bytes(100))
    assert code_of(broken_zip)[0] == "corrupt"


def test_a_name_that_claims_another_known_type_is_a_mismatch() -> None:
    with pytest.raises(BadFile) as caught:
        formats.check_name("decree.pdf", DOCX)
    assert (caught.value.code, caught.value.params) == ("name_mismatch", {"extension": ".pdf", "detected": "docx"})
    with pytest.raises(BadFile):
        formats.check_name("scan.PNG", PDF)
    with pytest.raises(BadFile):
        formats.check_name("page.txt", HTML)
    for name, media_type in [("decree.PDF", PDF), ("decree", PDF), ("decree.v2", DOCX), ("page.htm", HTML),
                             ("notes.txt", TEXT), ("ດຳລັດ.docx", DOCX)]:
        formats.check_name(name, media_type)


def test_a_zip_bomb_is_refused_from_its_directory_without_inflating(fixture_dir: Path) -> None:
    bomb = fixtures.docx_bomb(fixture_dir)
    assert bomb.stat().st_size < 2 * 1024 * 1024
    assert formats.sniff(bomb) == DOCX
    started = time.perf_counter()
    with pytest.raises(BadFile) as caught:
        formats.check_archive(bomb)
    assert time.perf_counter() - started < 0.5
    assert caught.value.code == "archive_bomb"
    assert caught.value.params["reason"] == "size"
    assert int(caught.value.params["size"]) > 400 * 1024 * 1024  # type: ignore[call-overload]


def test_the_bomb_guard_judges_ratio_members_and_nesting(fixture_dir: Path, tmp_path: Path) -> None:
    small_bomb = fixtures.docx_bomb(fixture_dir, megabytes=40, name="small-bomb.docx")
    with pytest.raises(BadFile) as caught:
        formats.check_archive(small_bomb)
    assert caught.value.params["reason"] == "ratio"
    assert caught.value.params["member"] == "word/media/zeros.bin"
    with pytest.raises(BadFile) as caught:
        formats.check_archive(fixtures.english_docx(fixture_dir), max_members=5)
    assert caught.value.params["reason"] == "members"
    nested = tmp_path / "nested.docx"
    with zipfile.ZipFile(fixtures.english_docx(fixture_dir)) as source, zipfile.ZipFile(nested, "w") as target:
        for member in source.infolist():
            target.writestr(member, source.read(member))
        target.writestr("word/inner.zip", b"PK\x05\x06" + bytes(18))
    with pytest.raises(BadFile) as caught:
        formats.check_archive(nested)
    assert caught.value.params == {"reason": "nested", "member": "word/inner.zip"}
    formats.check_archive(fixtures.english_docx(fixture_dir))
    formats.check_archive(fixtures.lao_docx(fixture_dir))


def test_bad_file_round_trips_through_json() -> None:
    error = BadFile("too_many_pages", pages=3000, max_pages=2000)
    again = BadFile.from_json(error.to_json())
    assert (again.code, again.params) == ("too_many_pages", {"pages": 3000, "max_pages": 2000})
    assert str(again) == "too_many_pages (max_pages=2000, pages=3000)"


@pytest.mark.slow
def test_printed_and_damaged_pdfs_are_sniffed_as_pdf(printed: dict[str, Path]) -> None:
    for name in ("lao_pdf", "english_pdf", "scanned_lao_pdf", "legacy_font_lao_pdf", "encrypted_pdf",
                 "truncated_pdf", "corrupt_pdf", "many_pages_pdf"):
        assert formats.sniff(printed[name]) == PDF, name
    with pytest.raises(BadFile) as caught:
        formats.check_name(printed["docx_named_pdf"].name, formats.sniff(printed["docx_named_pdf"]))
    assert caught.value.code == "name_mismatch"
