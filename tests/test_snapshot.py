"""Readers of the lake never block its writer: they read a snapshot each run replaces atomically."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from tests.helpers import JOB_HEADER, Lake, job_row, write_csv
from tracelake.errors import LakeNotFound
from tracelake.lake.snapshot import open_snapshot
from tracelake.lake.storage import LakePaths


def test_a_run_publishes_a_snapshot_readers_can_open(lake: Lake, landing: Path) -> None:
    write_csv(landing / "jobs.csv", JOB_HEADER, [job_row("J-1")])
    assert lake.ingest(landing).published
    con = open_snapshot(lake.paths)
    assert con.execute("SELECT job_id FROM jobs").fetchall() == [("J-1",)]
    con.close()


def test_no_snapshot_gives_a_clear_message(tmp_path: Path) -> None:
    with pytest.raises(LakeNotFound, match="no lake here yet"):
        open_snapshot(LakePaths.of(tmp_path / "nowhere"))


def test_an_open_reader_neither_fails_nor_blocks_the_next_run(lake: Lake, landing: Path) -> None:
    write_csv(landing / "jobs.csv", JOB_HEADER, [job_row("J-1")])
    lake.ingest(landing)
    # a reader in another process holds the snapshot open for the whole run
    reader = subprocess.Popen(
        [sys.executable, "-c", (
            "import sys, duckdb\n"
            f"con = duckdb.connect({str(lake.paths.serving)!r}, read_only=True)\n"
            "print(con.execute('SELECT count(*) FROM jobs').fetchone()[0], flush=True)\n"
            "sys.stdin.readline()\n"
            "print(con.execute('SELECT count(*) FROM jobs').fetchone()[0], flush=True)\n")],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    assert reader.stdout is not None and reader.stdin is not None
    assert reader.stdout.readline().strip() == "1"
    write_csv(landing / "jobs_2.csv", JOB_HEADER, [job_row("J-2")])
    report = lake.ingest(landing)  # must not wait for, or fail because of, the reader
    assert report.published and report.totals["rows_loaded"] == 1
    reader.stdin.write("\n")
    reader.stdin.flush()
    assert reader.stdout.readline().strip() == "1"  # the reader still sees its own snapshot
    assert reader.wait(timeout=30) == 0
    con = open_snapshot(lake.paths)
    assert con.execute("SELECT count(*) FROM jobs").fetchone() == (2,)  # a new reader, new data
    con.close()


def test_an_unchanged_run_does_not_republish(lake: Lake, landing: Path) -> None:
    write_csv(landing / "jobs.csv", JOB_HEADER, [job_row("J-1")])
    lake.ingest(landing)
    before = lake.paths.serving.stat().st_mtime_ns
    assert not lake.ingest(landing).published
    assert lake.paths.serving.stat().st_mtime_ns == before
