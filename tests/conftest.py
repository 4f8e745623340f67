"""Fixtures: a real lake and a landing folder in a temporary directory."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.helpers import Lake


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
