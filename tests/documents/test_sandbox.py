"""The sandbox's child process: answers, BadFile round trips, and limits that hold (real processes)."""
from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.documents import fixtures
from tracker.documents import sandbox
from tracker.documents.formats import DOCX, PDF, BadFile
from tracker.documents.sandbox import Limits, SandboxFailure

pytestmark = pytest.mark.slow

SMALL = Limits(cpu_seconds=5, memory_bytes=512 * 1024 * 1024, wall_seconds=3.0)


def failure(behaviour: str, limits: Limits = SMALL) -> tuple[str, float]:
    started = time.monotonic()
    with pytest.raises(SandboxFailure) as caught:
        sandbox.run_child(["--test-behaviour", behaviour, "none"], limits)
    return caught.value.reason, time.monotonic() - started


def test_importing_the_sandbox_loads_no_parser() -> None:
    code = ("import sys, tracker.documents.sandbox\n"
            "loaded = [name for name in ('pypdfium2', 'docx', 'lxml', 'PIL', 'laonlp') if name in sys.modules]\n"
            "assert not loaded, loaded\n")
    subprocess.run([sys.executable, "-c", code], check=True, timeout=60)


def test_inspect_and_extract_answer_through_the_child(fixture_dir: Path) -> None:
    path = fixtures.many_pages_pdf(fixture_dir, 3, text=True)
    assert sandbox.run_inspect(path, PDF, max_pages=10, limits=sandbox.DEFAULT_LIMITS) == 3
    seen: list[tuple[int, int]] = []
    result = sandbox.run_extract(fixtures.english_docx(fixture_dir), DOCX, "en", max_pages=10,
                                 limits=sandbox.DEFAULT_LIMITS, progress=lambda done, total: seen.append((done, total)))
    assert result.pages == 4 and any(fixtures.ENGLISH_PHRASE in passage.text for passage in result.passages)
    assert seen == [(4, 4)]


def test_bad_files_come_back_as_bad_files(fixture_dir: Path) -> None:
    with pytest.raises(BadFile) as caught:
        sandbox.run_inspect(fixtures.many_pages_pdf(fixture_dir), PDF, max_pages=2000, limits=SMALL)
    assert (caught.value.code, caught.value.params) == ("too_many_pages", {"pages": 3000, "max_pages": 2000})
    with pytest.raises(BadFile) as caught:
        sandbox.run_extract(fixtures.docx_bomb(fixture_dir), DOCX, "en", max_pages=10, limits=SMALL)
    assert caught.value.code == "archive_bomb"
    with pytest.raises(BadFile) as caught:
        sandbox.run_inspect(fixtures.corrupt_pdf(fixture_dir), PDF, max_pages=10, limits=SMALL)
    assert caught.value.code == "corrupt"


def test_a_child_past_its_wall_time_is_killed_with_its_group() -> None:
    reason, elapsed = failure("hang")
    assert reason == "timeout"
    assert SMALL.wall_seconds <= elapsed < SMALL.wall_seconds + 1.5
    marker = "600.0173"  # the sleep the child leaves behind in its process group
    reason, elapsed = failure("spawn-and-hang")
    assert reason == "timeout" and elapsed < SMALL.wall_seconds + 1.5
    time.sleep(0.2)
    survivors = []
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            with open(f"/proc/{pid}/cmdline", "rb") as file:
                if marker.encode() in file.read():
                    survivors.append(pid)
        except OSError:
            continue
    assert survivors == []


def test_cpu_memory_and_crashes_have_their_reasons() -> None:
    reason, elapsed = failure("spin", Limits(cpu_seconds=1, memory_bytes=512 * 1024 * 1024, wall_seconds=20))
    assert reason == "cpu limit" and elapsed < 5
    reason, _ = failure("allocate")
    assert reason == "memory limit"
    reason, _ = failure("crash")
    assert reason == "crashed (signal 11, SIGSEGV)"


def test_a_real_parse_over_its_memory_fails_with_a_memory_reason(printed: dict[str, Path]) -> None:
    # OCR of an A4 page needs ~140 MB of address space in the child (page bitmap, PDFium, the segmenter's
    # dictionary) and ~120 MB in Tesseract, which inherits the limit.
    for megabytes in (80, 50):  # the child's parse, then even its imports, do not fit
        tight = Limits(cpu_seconds=30, memory_bytes=megabytes * 1024 * 1024, wall_seconds=60)
        with pytest.raises(SandboxFailure) as caught:
            sandbox.run_extract(printed["scanned_lao_pdf"], PDF, "lo", max_pages=10, limits=tight)
        assert caught.value.reason == "memory limit", megabytes
    # The child fits and Tesseract does not: each page fails, and says why.
    tight = Limits(cpu_seconds=30, memory_bytes=100 * 1024 * 1024, wall_seconds=60)
    result = sandbox.run_extract(printed["scanned_lao_pdf"], PDF, "lo", max_pages=10, limits=tight)
    assert result.pages_ocr == 0 and len(result.failed_pages) == 4
    assert all("tesseract ran out of memory" in reason for _, reason in result.failed_pages)


def test_ocr_in_the_sandbox_under_the_default_limits(printed: dict[str, Path]) -> None:
    started = time.monotonic()
    result = sandbox.run_extract(printed["scanned_lao_pdf"], PDF, "lo", max_pages=10, limits=sandbox.DEFAULT_LIMITS)
    assert result.pages_ocr == 4 and time.monotonic() - started < 60
    assert sum(word in "\n".join(p.text for p in result.passages) for word in fixtures.LAO_KNOWN_WORDS) >= 22
