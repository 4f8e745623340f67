"""kill -9 at each phase of a run (a child process ingesting the sample's files), then a normal
run: the lake and the readers' snapshot agree (same run, same rows), and no temporary copy of
the snapshot is left behind."""

from __future__ import annotations

import signal
import subprocess
import sys
from pathlib import Path

import duckdb
import pytest

from tests import adversarial as adv
from tests.helpers import Lake
from tracelake.lake import snapshot

#: Where the child kills itself, and the function it patches to get there.
POINTS = {
    "before_commit": "from tracelake.lake import ledger as m; name = 'record_run'",
    "after_commit": "from tracelake.lake import snapshot as m; name = 'is_behind'",
    "during_publish": "from tracelake.lake.snapshot import os as m; name = 'replace'",
    "after_checkpoint": "from tracelake.lake.snapshot import shutil as m; name = 'copyfile'",
}
CHILD = """
import os, signal, sys
from pathlib import Path
{patch}
real = getattr(m, name)
def die(*a, **k):
    if name in ("copyfile",):  # half a copy on disk, then the kill
        Path(a[1]).write_bytes(Path(a[0]).read_bytes()[: 1 << 16])
    os.kill(os.getpid(), signal.SIGKILL)
setattr(m, name, die)
from tracelake.ingest import ingest
ingest([Path(sys.argv[1])], Path(sys.argv[2]))
"""


def _agree(lake: Lake) -> None:
    paths = lake.paths
    assert snapshot.snapshot_version(paths) == lake.scalar("SELECT run_id FROM lake_version")
    con = duckdb.connect(str(paths.serving), read_only=True)
    try:
        for table in ("jobs", "units", "test_results", "ingest_files", "quarantine"):
            assert con.execute(f"SELECT count(*) FROM {table}").fetchone() == \
                tuple(lake.query(f"SELECT count(*) FROM {table}")[0]), table
    finally:
        con.close()
    assert not list(paths.root.glob(".serving-*.tmp"))


@pytest.fixture(scope="module")
def landing(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = adv.copy_sample(tmp_path_factory.mktemp("kill") / "landing")
    for f in folder.iterdir():  # a third of the plant: enough for every phase, quick
        if f.name not in ("products.csv", "jobs.csv", "units.csv", "test_results-rig3.jsonl",
                          "calibrations.xlsx", "equipment.csv"):
            f.unlink()
    return folder


@pytest.mark.parametrize("point", list(POINTS))
def test_kill_at_each_phase_then_the_next_run_agrees(tmp_path: Path, landing: Path,
                                                     point: str) -> None:
    lake = Lake(tmp_path / "lake")
    first = Lake(tmp_path / "lake")
    if point != "before_commit":  # a lake with a snapshot already, one change behind after
        extra = tmp_path / "first"
        extra.mkdir()
        (extra / "products.csv").write_bytes((landing / "products.csv").read_bytes())
        first.ingest(extra)
    proc = subprocess.run([sys.executable, "-c", CHILD.format(patch=POINTS[point]),
                           str(landing), str(lake.paths.root)], capture_output=True, text=True,
                          timeout=300)
    assert proc.returncode == -signal.SIGKILL, proc.stderr[-2000:]
    committed = lake.scalar("SELECT count(*) FROM ingest_runs")
    assert committed == (0 if point == "before_commit" else 2)
    lake.ingest(landing)
    _agree(lake)
    assert lake.scalar("SELECT count(*) FROM units") > 0
