"""The JUnit reader's column-wise path: cases across several chunks keep their suite's serial,
time and order; hex values, property names in any case, failure texts and offsets."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from tracelake.intake.readers import junit, read_source
from tracelake.synthetic.reports import junit_report


def test_cases_across_chunks_keep_their_suite(tmp_path: Path,
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(junit, "WALK_CHUNK", 3)  # 7 + 2 cases: four chunks, one suite split over two
    a = {"name": "board-a", "timestamp": "2026-11-25T10:00:00", "hostname": "rig-1",
         "properties": {"serial_number": "SN-A"},
         "cases": [{"name": f"c{k}", "time": 0.5, "properties": {"value": f"{k}"}}
                   for k in range(6)]
         + [{"name": "reg", "time": 0.5, "failure": "bad\nsecond line",
             "properties": {"Value": "0x1A", "Low_Limit": "0X10", "HIGH_LIMIT": "0x19",
                            "measurement": "register"}}]}
    b = {"name": "board-b", "timestamp": "2026-11-25T11:00:00+01:00",
         "hostname": "rig-2", "properties": {"SN": "SN-B"},
         "cases": [{"name": "c0", "time": 2}, {"name": "c1", "time": 1}]}
    path = tmp_path / "TEST-two.xml"
    path.write_bytes(junit_report([a, b]))
    frame = read_source(path).frame
    rows = frame.select("serial_number", "equipment_id", "test_step", "measurement", "value",
                        "low_limit", "high_limit", "result", "tested_at", "status").rows()
    assert [r[:3] for r in rows] == [("SN-A", "rig-1", f"c{k}") for k in range(6)] + \
        [("SN-A", "rig-1", "reg"), ("SN-B", "rig-2", "c0"), ("SN-B", "rig-2", "c1")]
    assert [r[4] for r in rows[:6]] == [str(k) for k in range(6)]
    assert rows[0][3] == "verdict" and rows[0][7] == "pass"
    assert rows[6][3:8] == ("register", "26", "16", "25", "fail")
    assert rows[6][9] == "failure: bad"
    assert rows[5][8] == "2026-11-25T10:00:02.500"  # plant time: start + 2.5 s before it
    start_b = datetime(2026, 11, 25, 10, 0, tzinfo=UTC)
    assert datetime.fromisoformat(rows[8][8]) == start_b + timedelta(seconds=2)  # with offset
    lines = path.read_text().splitlines()
    assert all('<testcase name="' + s + '"' in lines[n - 1]
               for s, n in zip(frame["test_step"], frame["_row"], strict=True))


def test_values_are_stripped_in_a_chunk_without_hex(tmp_path: Path,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    """The hex conversion is worked out only for a chunk holding a hex value; a chunk without
    one still reads its values and limits as the contract does (stripped, else as written)."""
    monkeypatch.setattr(junit, "WALK_CHUNK", 2)  # chunk 1: no hex; chunk 2: one hex limit
    cases = [{"name": "a", "properties": {"value": " 3.30 ", "low_limit": " 3.1",
                                          "high_limit": "3.5 "}},
             {"name": "b", "properties": {"value": "0x", "high_limit": "x1"}},
             {"name": "c", "properties": {"value": " 7 ", "low_limit": " 0x0A "}}]
    path = tmp_path / "TEST-strip.xml"
    path.write_bytes(junit_report([{"name": "s", "properties": {"serial_number": "SN-1"},
                                    "cases": cases}]))
    rows = read_source(path).frame.select("test_step", "value", "low_limit",
                                          "high_limit").rows()
    assert rows == [("a", "3.30", "3.1", "3.5"), ("b", "0x", None, "x1"),
                    ("c", "7", "10", None)]
