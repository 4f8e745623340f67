"""A large JUnit file is walked in a process of its own while the ingest loads the rows already
walked: the lake gets what an in-process read gives, a file whose later rows contradict its
first ones is loaded again from disk, and a walk that fails or dies leaves nothing behind (no
rows, no spool folder, no process)."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.helpers import Lake, report_of
from tests.test_ingest_chunks import _quarantine, _table_hash
from tests.test_report_streams import COUNTS, _suites, spool_dir  # noqa: F401 - a fixture
from tracelake.intake.readers import junit, read_source, results
from tracelake.intake.readers.live import LiveChunks
from tracelake.synthetic.reports import junit_report


def _walkers() -> list[str]:
    """Command lines of running walking processes."""
    found = []
    for pid in os.listdir("/proc"):
        if not pid.isdigit():
            continue
        try:
            cmd = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
        except OSError:
            continue
        if "junit_walk" in cmd and "pytest" not in cmd:
            found.append(cmd)
    return found


@pytest.fixture
def walked(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Every JUnit file read for an ingest is walked in its own process, 4 cases a batch; the
    ingest types 2 rows at a time (a quarter of 9). Returns the sizes of the walks started."""
    started: list[int] = []
    start = junit._Walker.start

    def counted(self: Any) -> Any:
        started.append(self.path.stat().st_size)
        return start(self)

    monkeypatch.setattr(junit, "PROCESS_BYTES", 0)
    monkeypatch.setattr(junit, "WALK_CHUNK", 4)
    monkeypatch.setattr(results, "CHUNK", 4)
    monkeypatch.setenv("TRACELAKE_CHUNK_ROWS", "9")
    monkeypatch.setattr(junit._Walker, "start", counted)
    return started


def _both(tmp_path: Path, data: bytes, monkeypatch: pytest.MonkeyPatch,
          walked: list[int]) -> tuple[Lake, dict[str, Any], Lake, dict[str, Any]]:
    """The file ingested in process (one lake) and walked in its own process (another)."""
    landing = tmp_path / "landing"
    landing.mkdir()
    path = landing / "TEST-walked.xml"
    path.write_bytes(data)
    with monkeypatch.context() as m:
        m.setattr(junit, "PROCESS_BYTES", 1 << 40)
        here = Lake(tmp_path / "here")
        a = report_of(here.ingest(landing, search=False), path.name)
    assert walked == []
    there = Lake(tmp_path / "there")
    b = report_of(there.ingest(landing, search=False), path.name)
    assert walked == [len(data)]  # the second ingest walked it in a process of its own
    return here, a, there, b


def _same(here: Lake, a: dict[str, Any], there: Lake, b: dict[str, Any]) -> None:
    assert {k: a[k] for k in COUNTS} == {k: b[k] for k in COUNTS}
    assert _table_hash(here, "test_results") == _table_hash(there, "test_results")
    assert _quarantine(here) == _quarantine(there)
    listed = "SELECT * EXCLUDE (run_id) FROM orphan_references ORDER BY ALL"
    assert here.query(listed) == there.query(listed)


def test_a_walked_file_loads_what_an_in_process_read_loads(
        tmp_path: Path, spool_dir: Path, monkeypatch: pytest.MonkeyPatch,  # noqa: F811
        walked: list[int]) -> None:
    here, a, there, b = _both(tmp_path, junit_report(_suites(7, 9)), monkeypatch, walked)
    assert a["status"] == "loaded" and a["rows_read"] == 63
    assert a["rows_quarantined"] == 1 and a["rows_loaded"] == 62  # one case ended in error
    _same(here, a, there, b)
    assert not any("loaded from disk" in n for n in b["notes"])  # no second load was needed
    assert list(spool_dir.iterdir()) == [] and _walkers() == []


def test_rows_handed_out_early_are_final_and_the_walk_runs_ahead(
        tmp_path: Path, spool_dir: Path, walked: list[int]) -> None:  # noqa: F811
    """Chunks come while the walk goes on; each one's suite values are those of its suites."""
    path = tmp_path / "TEST-live.xml"
    path.write_bytes(junit_report(_suites(6, 5)))
    whole = read_source(path)
    raw = read_source(path, stream=True)
    try:
        assert isinstance(raw.chunks, LiveChunks)
        watch = raw.chunks.watch
        first = next(iter(raw.chunks))
        assert not watch.done  # handed out before the walk ended
        assert first.equals(whole.frame.head(first.height))
        rows = list(raw.chunks)
        assert watch.done and sum(r.height for r in rows) == whole.frame.height
        final = raw.chunks.settle()
        assert (final.notes, final.skipped, final.rows_read) == (whole.notes, whole.skipped,
                                                                  whole.rows_read)
    finally:
        raw.close()
    assert list(spool_dir.iterdir()) == [] and _walkers() == []


def _late_column(suites: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Only the last suite's cases say how they compare, and none fail before it."""
    for suite in suites:
        for case in suite["cases"]:
            case.pop("failure", None)
            case.pop("error", None)
    suites[-1]["cases"][0]["properties"]["comparison"] = "GELE"
    suites[-1]["cases"][1]["failure"] = "high"
    return suites


def test_a_column_first_filled_late_loads_the_file_again_from_disk(
        tmp_path: Path, spool_dir: Path, monkeypatch: pytest.MonkeyPatch,  # noqa: F811
        walked: list[int]) -> None:
    data = junit_report(_late_column(_suites(6, 6)))
    here, a, there, b = _both(tmp_path, data, monkeypatch, walked)
    assert "comparison" in a["extra_columns"] and "status" in a["extra_columns"]
    assert any("loaded from disk once the whole report was read" in n for n in b["notes"])
    b["notes"] = [n for n in b["notes"] if "loaded from disk" not in n]
    _same(here, a, there, b)
    assert list(spool_dir.iterdir()) == [] and _walkers() == []


def test_cases_sharing_a_line_late_load_the_file_again_numbered_by_order(
        tmp_path: Path, spool_dir: Path, monkeypatch: pytest.MonkeyPatch,  # noqa: F811
        walked: list[int]) -> None:
    text = junit_report(_suites(6, 6))
    cut = text.rindex(b"<testcase", 0, text.rindex(b"<testcase"))
    end = text.rindex(b"</testcase>") + len(b"</testcase>")
    data = text[:cut] + text[cut:end].replace(b"\n", b" ") + text[end:]  # last two: one line
    here, a, there, b = _both(tmp_path, data, monkeypatch, walked)
    assert any("numbered by result order" in n for n in a["notes"])
    assert any("loaded from disk" in n for n in b["notes"])
    b["notes"] = [n for n in b["notes"] if "loaded from disk" not in n]
    _same(here, a, there, b)


@pytest.mark.parametrize("broken", ["cut", "no serial", "entity"])
def test_a_walk_rejected_late_leaves_the_lake_as_it_was(
        tmp_path: Path, spool_dir: Path, monkeypatch: pytest.MonkeyPatch,  # noqa: F811
        walked: list[int], broken: str) -> None:
    suites = _suites(8, 6)
    if broken == "no serial":
        del suites[6]["properties"]["serial_number"]
    data = junit_report(suites)
    if broken == "cut":
        data = data[: len(data) * 7 // 8]
    if broken == "entity":  # an entity declared (the "billion laughs" shape), used late
        head = b'<?xml version="1.0"?>\n<!DOCTYPE testsuites [<!ENTITY a "aaaaaaaa">]>\n'
        data = head + data.split(b"\n", 1)[1].replace(b'name="c5"', b'name="&a;"')
    _here, a, there, b = _both(tmp_path, data, monkeypatch, walked)
    assert a["status"] == b["status"] == "rejected" and a["reason"] == b["reason"]
    assert {"cut": "cut off", "no serial": "gives no UUT serial",
            "entity": "declares entities"}[broken] in b["reason"]
    assert (b["rows_loaded"], b["rows_quarantined"]) == (0, 0)
    assert there.query("SELECT count(*) FROM test_results") == [(0,)]
    assert list(spool_dir.iterdir()) == [] and _walkers() == []


def test_a_walk_that_dies_rejects_the_file_in_one_line(
        tmp_path: Path, spool_dir: Path, monkeypatch: pytest.MonkeyPatch,  # noqa: F811
        walked: list[int]) -> None:
    landing = tmp_path / "landing"
    landing.mkdir()
    (landing / "TEST-x.xml").write_bytes(junit_report(_suites(3, 5)))
    monkeypatch.setattr(junit, "WALK_MODULE", "tracelake.no_such_walk")  # exits at once
    lake = Lake(tmp_path / "lake")
    f = report_of(lake.ingest(landing, search=False), "TEST-x.xml")
    assert f["status"] == "rejected" and "JUnit walk stopped (exit code 1" in f["reason"]
    assert "No module named" in f["reason"] and "\n" not in f["reason"]
    assert lake.query("SELECT count(*) FROM test_results") == [(0,)]
    assert list(spool_dir.iterdir()) == [] and _walkers() == []


def _mid_walk(tmp_path: Path) -> tuple[Any, Iterator[Any]]:
    """A file read for an ingest, its first chunk taken while the walk goes on."""
    path = tmp_path / "TEST-big.xml"
    path.write_bytes(junit_report(_suites(400, 20)))
    raw = read_source(path, stream=True)
    assert isinstance(raw.chunks, LiveChunks)
    rows = iter(raw.chunks)
    next(rows)
    assert not raw.chunks.watch.done
    return raw, rows


def test_letting_go_mid_walk_ends_the_process_and_its_spool(
        tmp_path: Path, spool_dir: Path, walked: list[int]) -> None:  # noqa: F811
    raw, _rows = _mid_walk(tmp_path)
    raw.close()  # as the ingest does when it fails or is interrupted
    assert list(spool_dir.iterdir()) == [] and _walkers() == []


def test_the_walking_process_starts_without_polars() -> None:
    """~35 MB: the walk imports lxml and the standard library, nothing of the lake."""
    code = ("import sys, tracelake.intake.readers.junit_walk; "
            "print(sorted(m for m in ('polars', 'duckdb', 'pandera', 'numpy') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True)
    assert out.stdout.strip() == "[]"


def test_a_walked_file_into_a_lake_holding_results_is_staged_and_upserted_alike(
        tmp_path: Path, spool_dir: Path, monkeypatch: pytest.MonkeyPatch,  # noqa: F811
        walked: list[int]) -> None:
    """Not a table's first rows: staged, then upserted; a second load from disk drops the stage."""
    first = tmp_path / "first"
    first.mkdir()
    (first / "TEST-first.xml").write_bytes(junit_report(_suites(2, 3)))
    landing = tmp_path / "landing"
    landing.mkdir()
    (landing / "TEST-late.xml").write_bytes(junit_report(_late_column(_suites(6, 6))))
    lakes = []
    for name, size in (("here", 1 << 40), ("there", 0)):
        monkeypatch.setattr(junit, "PROCESS_BYTES", size)
        lake = Lake(tmp_path / name)
        lake.ingest(first, search=False)
        lakes.append((lake, report_of(lake.ingest(landing, search=False), "TEST-late.xml")))
    (here, a), (there, b) = lakes
    assert a["status"] == "loaded" and a["rows_loaded"] == 36
    assert (a["rows_inserted"], a["rows_updated"]) == (30, 6)  # upserted over the first file
    assert any("loaded from disk" in n for n in b["notes"])
    b["notes"] = [n for n in b["notes"] if "loaded from disk" not in n]
    _same(here, a, there, b)
    assert there.query("SELECT count(*) FROM duckdb_tables() WHERE table_name LIKE '_ingest%'") \
        == [(0,)]
    assert list(spool_dir.iterdir()) == [] and _walkers() == []


def test_a_walking_process_killed_mid_walk_is_a_failure_not_a_short_file(
        tmp_path: Path, spool_dir: Path, walked: list[int]) -> None:  # noqa: F811
    """Its output ends without the walk's last event: the rows so far are not taken as all."""
    raw, rows = _mid_walk(tmp_path)
    try:
        walker = raw.chunks.watch._pump.__self__  # type: ignore[union-attr]
        walker.proc.kill()
        with pytest.raises(RuntimeError, match=r"the JUnit walk stopped \(exit code -9"):
            list(rows)
    finally:
        raw.close()
    assert list(spool_dir.iterdir()) == [] and _walkers() == []
