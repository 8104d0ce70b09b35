"""Document fixtures made once per test session: hand-written files at once, Chromium-made ones on demand."""
from __future__ import annotations

from pathlib import Path

import pytest

from tests.documents import fixtures


@pytest.fixture(scope="session")
def fixture_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A folder for the session's document fixtures (each made once, on first use)."""
    return tmp_path_factory.mktemp("document-fixtures")


@pytest.fixture(scope="session")
def printed(fixture_dir: Path, browser) -> dict[str, Path]:
    """The fixtures that need Chromium (printed and scanned decrees, legacy-font and encrypted PDFs) and all
    the others, made with one browser."""
    return fixtures.all_fixtures(fixture_dir, browser)
