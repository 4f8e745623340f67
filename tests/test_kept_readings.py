"""Kept readings of a DuckLake run (a lost commit writes again from them) left by a run that was
killed are deleted by the next run on the machine; a live run's, and another machine's, stay."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from tracelake.ingest.outcome import KEPT, Readings, _host, remove_dead_runs


def _dead_pid() -> int:
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


def test_a_killed_runs_kept_readings_go_with_the_next_run(tmp_path: Path) -> None:
    dead = tmp_path / f"{KEPT}{_dead_pid()}@{_host()}.abc123"
    alive = tmp_path / f"{KEPT}{os.getpid()}@{_host()}.def456"
    elsewhere = tmp_path / f"{KEPT}{_dead_pid()}@another-machine.example.ghi789"
    for folder in (dead, alive, elsewhere):
        folder.mkdir()
        (folder / "0000000-valid.parquet").write_bytes(b"rows")
    assert remove_dead_runs(tmp_path) == 1
    assert not dead.exists() and alive.exists() and elsewhere.exists()


def test_a_runs_folder_is_named_for_its_process_and_goes_when_it_ends(tmp_path: Path) -> None:
    leftover = tmp_path / f"{KEPT}{_dead_pid()}@{_host()}.x1"
    leftover.mkdir()
    with Readings(tmp_path) as readings:
        folder = readings._folder()
        assert folder.name.startswith(f"{KEPT}{os.getpid()}@{_host()}.")
        assert not leftover.exists()  # the killed run's folder went as this one was made
    assert not folder.exists()
