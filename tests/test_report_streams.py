"""Report readers read for an ingest hand their rows back chunk by chunk from disk (``stream``):
the same rows, columns, numbering, notes and quarantine as one whole frame; a report broken late
(after several chunks were kept) leaves the lake as it was and nothing on disk."""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

import polars as pl
import pytest

from tests.helpers import Lake, report_of
from tests.test_ingest_chunks import _quarantine, _table_hash
from tests.test_report_readers import legacy_steps
from tracelake.errors import FileRejected
from tracelake.intake.readers import junit, read_source, results
from tracelake.lake import orphans
from tracelake.synthetic.reports import Step, junit_report, legacy_report, write_big_teststand

COUNTS = ("status", "rows_read", "rows_loaded", "rows_quarantined", "rows_inserted",
          "quarantined_by_rule", "notes", "extra_columns", "steps_skipped")


@pytest.fixture
def spool_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Temporary folders (the readers' spools) made under a folder the test can look into."""
    where = tmp_path / "tmp"
    where.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(where))
    return where


def _small_chunks(monkeypatch: pytest.MonkeyPatch, rows: int = 7) -> None:
    """Readers pack every ``rows`` rows and the ingest stages ``rows + 2`` at a time, so the
    reader's chunks and the ingest's chunks never line up."""
    monkeypatch.setattr(results, "CHUNK", rows)
    monkeypatch.setattr(junit, "WALK_CHUNK", rows)
    monkeypatch.setattr(orphans, "SLICE_ROWS", rows * 2)  # a run's orphans found in slices
    monkeypatch.setenv("TRACELAKE_CHUNK_ROWS", str(rows + 2))


def _suites(n: int, cases: int, *, late_props: bool = False) -> list[dict[str, Any]]:
    out = []
    for s in range(n):
        out.append({"name": f"board-{s}", "timestamp": "2026-11-25T10:00:00",
                    "hostname": f"rig-{s % 2}",
                    "properties": {"serial_number": f"SN-{s}", "operator": "op"},
                    "cases": [{"name": f"c{k}", "time": 0.25,
                               "properties": {"value": f"0x{k:x}", "low_limit": "0",
                                              "high_limit": "40"},
                               **({"failure": "low"} if k % 5 == 4 else {}),
                               **({"error": "rig fault"} if (s, k) == (2, 3) else {})}
                              for k in range(cases)]})
    return out


@pytest.mark.parametrize("kind", ["teststand", "junit"])
def test_a_streamed_read_gives_the_rows_a_whole_read_gives(
        tmp_path: Path, spool_dir: Path, monkeypatch: pytest.MonkeyPatch, kind: str) -> None:
    path = tmp_path / ("legacy-uut-report-SN-0042.xml" if kind == "teststand" else "TEST-x.xml")
    path.write_bytes(legacy_report("SN-0042", legacy_steps() * 3) if kind == "teststand"
                     else junit_report(_suites(4, 9)))
    _small_chunks(monkeypatch, 4)
    whole = read_source(path)
    streamed = read_source(path, stream=True)
    try:
        assert streamed.chunks is not None and whole.chunks is None
        assert len(list(spool_dir.iterdir())) == 1  # one spool folder while the rows are held
        chunks = list(streamed.chunks)
        assert len(chunks) > 3 and max(c.height for c in chunks) <= 4
        assert streamed.frame.height == 0 and streamed.frame.columns == whole.frame.columns
        assert pl.concat(chunks).equals(whole.frame)
        assert pl.concat(list(streamed.chunks)).equals(whole.frame)  # read again: same rows
        assert streamed.rows_read == whole.rows_read
        assert streamed.problems.equals(whole.problems)
        assert (streamed.notes, streamed.skipped) == (whole.notes, whole.skipped)
    finally:
        streamed.close()
    assert list(spool_dir.iterdir()) == []


def test_results_on_one_line_are_numbered_across_chunks_as_in_one_frame(
        tmp_path: Path, spool_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A report written on one line: rows numbered by result order, over every chunk."""
    path = tmp_path / "legacy-uut-report-SN-1.xml"
    text = legacy_report("SN-1", [Step(f"V{k}", value=f"{k}", low="0", high="99",
                                       offset=k / 10) for k in range(11)])
    path.write_bytes(text.replace(b"\n", b" "))
    _small_chunks(monkeypatch, 3)
    whole, streamed = read_source(path), read_source(path, stream=True)
    try:
        frame = pl.concat(list(streamed.chunks))  # type: ignore[arg-type]
        assert frame["_row"].to_list() == list(range(1, 12)) == whole.frame["_row"].to_list()
        assert frame.equals(whole.frame) and streamed.notes == whole.notes
        assert any("numbered by result order" in n for n in streamed.notes)
    finally:
        streamed.close()


@pytest.mark.parametrize("kind", ["teststand", "junit"])
def test_a_report_over_many_chunks_loads_as_one_chunk(
        tmp_path: Path, spool_dir: Path, monkeypatch: pytest.MonkeyPatch, kind: str) -> None:
    landing = tmp_path / "landing"
    landing.mkdir()
    path = landing / ("legacy-uut-report-SN-0042.xml" if kind == "teststand" else "TEST-x.xml")
    path.write_bytes(legacy_report("SN-0042", legacy_steps() * 4) if kind == "teststand"
                     else junit_report(_suites(5, 11)))
    one = Lake(tmp_path / "one")
    a = report_of(one.ingest(landing, search=False), path.name)
    _small_chunks(monkeypatch, 5)
    many = Lake(tmp_path / "many")
    b = report_of(many.ingest(landing, search=False), path.name)
    assert a["status"] == "loaded" and a["rows_read"] > 20 and a["rows_quarantined"] > 0
    assert {k: a[k] for k in COUNTS} == {k: b[k] for k in COUNTS}
    assert _table_hash(one, "test_results") == _table_hash(many, "test_results")
    assert _quarantine(one) == _quarantine(many)
    listed = "SELECT * EXCLUDE (run_id) FROM orphan_references ORDER BY ALL"
    assert len(one.query(listed)) == 2 * a["rows_loaded"]  # no unit nor station is known
    assert one.query(listed) == many.query(listed)
    assert list(spool_dir.iterdir()) == []  # the spool went with the file


@pytest.mark.parametrize("kind", ["teststand", "junit"])
def test_a_report_cut_off_after_three_chunks_leaves_the_lake_as_it_was(
        tmp_path: Path, spool_dir: Path, monkeypatch: pytest.MonkeyPatch, kind: str) -> None:
    landing = tmp_path / "landing"
    landing.mkdir()
    lake = Lake(tmp_path / "lake")
    good = landing / "TEST-good.xml"
    good.write_bytes(junit_report(_suites(1, 3)))
    lake.ingest(landing, search=False)
    before = _table_hash(lake, "test_results"), _quarantine(lake)
    good.unlink()
    path = landing / ("legacy-uut-report-big.xml" if kind == "teststand" else "TEST-cut.xml")
    if kind == "teststand":
        write_big_teststand(path, 60_000)
    else:
        path.write_bytes(junit_report(_suites(6, 12)))
    data = path.read_bytes()
    path.write_bytes(data[: len(data) * 3 // 4])  # cut off: three quarters of it are read
    _small_chunks(monkeypatch, 5)
    calls: list[int] = []
    write = results.Spool.write

    def counted(self: Any, frame: pl.DataFrame) -> None:
        calls.append(frame.height)
        write(self, frame)

    monkeypatch.setattr(results.Spool, "write", counted)
    f = report_of(lake.ingest(landing, search=False), path.name)
    assert len(calls) > 3  # several chunks were kept before the cut was met
    assert f["status"] == "rejected" and "cut off" in f["reason"]
    assert "nothing of it is loaded" in f["reason"] and "\n" not in f["reason"]
    assert (f["rows_loaded"], f["rows_quarantined"]) == (0, 0)
    assert (_table_hash(lake, "test_results"), _quarantine(lake)) == before
    assert list(spool_dir.iterdir()) == []


def test_a_start_time_that_is_no_number_rejects_the_report_in_one_line(
        tmp_path: Path, spool_dir: Path) -> None:
    """A byte flipped in the header (a blank where the hours were): one line, no traceback."""
    path = tmp_path / "legacy-uut-report-SN-9.xml"
    text = legacy_report("SN-9", legacy_steps())
    start = text.index(b"<Prop Name='Hours'")
    value = text.index(b"<Value>", start) + len(b"<Value>")
    end = text.index(b"</Value>", value)
    path.write_bytes(text[:value] + b" " + text[end:])
    for stream in (False, True):
        with pytest.raises(FileRejected) as caught:
            read_source(path, stream=stream)
        assert "cannot be read" in caught.value.reason and "\n" not in caught.value.reason
    assert list(spool_dir.iterdir()) == []
