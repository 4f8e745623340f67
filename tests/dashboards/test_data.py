"""dashboards/data.py: one cached snapshot connection, a cursor per call, in UTC, renewed with the
snapshot."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from dashboards import data
from tests.helpers import JOB_HEADER, UNIT_HEADER, Lake, job_row, write_csv


def test_cursors_read_in_utc_whatever_the_machine_zone(sample_lake: Path) -> None:
    code = f"""
from tracelake.lake.storage import LakePaths
from tracelake.lake.snapshot import open_snapshot
first = open_snapshot(LakePaths.of({str(sample_lake)!r}))
second = open_snapshot(LakePaths.of({str(sample_lake)!r}))  # the same DuckDB instance
q = "SELECT current_setting('TimeZone')"
print(first.sql(q).fetchone()[0], first.cursor().sql(q).fetchone()[0], second.sql(q).fetchone()[0],
      first.cursor().sql("SELECT raised_at::DATE FROM ncrs WHERE ncr_id = 'NCR-0231'").fetchone()[0])
"""
    env = os.environ | {"TZ": "America/New_York"}
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True,
                         check=True).stdout.split()
    assert out == ["UTC", "UTC", "UTC", "2026-10-30"]


def test_a_new_snapshot_is_read_on_the_next_call(tmp_path: Path,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    lake = Lake(tmp_path / "lake")
    write_csv(tmp_path / "a" / "jobs.csv", JOB_HEADER, [job_row("J-1")])
    write_csv(tmp_path / "a" / "units.csv", UNIT_HEADER, [["S-1", "SPX-200", "J-1", "wip"]])
    lake.ingest(tmp_path / "a")
    monkeypatch.setenv("TRACELAKE_LAKE", str(lake.paths.root))
    before = data.snapshot()
    assert data.lake_info()["units"] == 1
    write_csv(tmp_path / "b" / "units.csv", UNIT_HEADER, [["S-2", "SPX-200", "J-1", "wip"]])
    lake.ingest(tmp_path / "b")
    assert data.snapshot() != before
    assert data.lake_info()["units"] == 2
    assert data.jobs()["job_id"].to_list() == ["J-1"]


def test_the_lake_comes_from_the_command_line_or_the_environment(
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TRACELAKE_LAKE", "/plant/lake")
    monkeypatch.setattr(sys, "argv", ["streamlit_app.py"])
    assert data.lake_path() == Path("/plant/lake")
    monkeypatch.setattr(sys, "argv", ["streamlit_app.py", "--lake", "/other/lake"])
    assert data.lake_path() == Path("/other/lake")
    monkeypatch.delenv("TRACELAKE_LAKE")
    monkeypatch.setattr(sys, "argv", ["streamlit_app.py"])
    assert data.lake_path() == Path("lake")
