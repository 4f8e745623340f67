"""Fixtures: a real lake and a landing folder in a temporary directory."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import duckdb
import pytest

from tests.helpers import SAMPLE, Lake
from tracelake.lake.snapshot import open_snapshot
from tracelake.records import batch_record, device_record


@pytest.fixture
def lake(tmp_path: Path) -> Lake:
    """An empty lake in a temporary folder."""
    return Lake(tmp_path / "lake")


@pytest.fixture
def landing(tmp_path: Path) -> Path:
    """An empty landing folder."""
    path = tmp_path / "landing"
    path.mkdir()
    return path


@pytest.fixture(scope="session")
def sample_lake(tmp_path_factory: pytest.TempPathFactory) -> Lake:
    """The sample plant (without its bad/ corpus) in a real lake, built once for the session.

    Read-only: tests that change a lake build their own (the ``lake`` fixture).
    """
    lake = Lake(tmp_path_factory.mktemp("sample") / "lake")
    lake.ingest(SAMPLE, exclude=["bad/*"])
    return lake


@pytest.fixture(scope="session")
def sample(sample_lake: Lake) -> Iterator[duckdb.DuckDBPyConnection]:
    """A read-only snapshot connection to the sample lake."""
    con = open_snapshot(sample_lake.paths)
    yield con
    con.close()


@pytest.fixture(scope="module")
def bmr(sample: duckdb.DuckDBPyConnection) -> dict[str, Any]:
    """The batch record of the sample's J-1042 (one per test module: tests may not share edits)."""
    return batch_record(sample, "J-1042")


@pytest.fixture(scope="module")
def dhr(sample: duckdb.DuckDBPyConnection) -> dict[str, Any]:
    """The device history record of the sample's SPX200-0004."""
    return device_record(sample, "SPX200-0004")
