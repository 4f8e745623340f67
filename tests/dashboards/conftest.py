"""Fixtures for the dashboards' AppTest tests: real lakes built once, and the app opened on a page."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.dashboards.apptest import Opener, opener
from tests.helpers import BAD, SAMPLE, Lake


@pytest.fixture(scope="session")
def sample_lake(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The sample plant, ingested once for every dashboard test."""
    lake = Lake(tmp_path_factory.mktemp("dash-sample") / "lake")
    lake.ingest(SAMPLE, exclude=["bad/*"])
    return lake.paths.root


@pytest.fixture(scope="session")
def bad_lake(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The sample plant's bad corpus: quarantined rows, rejected files, orphans."""
    lake = Lake(tmp_path_factory.mktemp("dash-bad") / "lake")
    lake.ingest(BAD)
    return lake.paths.root


@pytest.fixture
def app(sample_lake: Path, monkeypatch: pytest.MonkeyPatch) -> Opener:
    """The app on the sample plant."""
    return opener(sample_lake, monkeypatch)
