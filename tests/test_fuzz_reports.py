"""Hostile and fuzzed test-executive reports and JSON files (TestStand legacy, ATML, JUnit,
OpenHTF, plain JSON): every one is read or rejected with a one-line reason, never a traceback,
and a rejected file leaves nothing of itself in the lake."""

from __future__ import annotations

import json
import tempfile
from collections.abc import Callable
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.helpers import Lake, report_of
from tracelake.errors import FileRejected
from tracelake.intake.readers import read_source
from tracelake.synthetic.reports import (
    Step,
    atml_report,
    junit_report,
    legacy_report,
    openhtf_record,
)

STEPS = [Step("Vdd", value="3.31", units="V", low="3.2", high="3.4", offset=0.5),
         Step("Rails", "multi", offset=1.0, measurements=[("V5", "5.0", "V", "4.9", "5.1",
                                                           "Passed")])]
SUITE = {"name": "board", "timestamp": "2026-11-25T10:00:00",
         "properties": {"serial_number": "SN-J"},
         "cases": [{"name": "vdd", "time": 1, "properties": {"value": "3.3"}},
                   {"name": "uart", "failure": "no echo"}]}
PHASES = [{"name": "power_on", "outcome": "PASS", "start_time_millis": 1_795_600_001_000,
           "measurements": {"vcc": {"name": "vcc", "outcome": "PASS", "measured_value": 3.29,
                                    "validators": ["3.1 <= x <= 3.5"]}}}]
#: name -> (file name, a valid file of the format)
VALID: dict[str, tuple[str, Callable[[], bytes]]] = {
    "teststand": ("legacy-report.xml", lambda: legacy_report("SN-T", STEPS)),
    "atml": ("atml-report.xml", lambda: atml_report("SN-A", STEPS)),
    "junit": ("TEST-board.xml", lambda: junit_report([SUITE])),
    "openhtf": ("htf-record.json", lambda: json.dumps(openhtf_record("SN-H", PHASES)).encode()),
    "json": ("test_results-export.json", lambda: json.dumps(
        [{"serial_number": "SN-P", "measurement": {"value": 1.5}}]).encode()),
}
FUZZ = settings(max_examples=25, deadline=None, suppress_health_check=list(HealthCheck))


def _outcome(name: str, data: bytes) -> str:
    """Read the bytes as a file called ``name``: 'read', or the one-line reason it was
    rejected. Any other exception fails the test (it would be a traceback for the user)."""
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / name
        path.write_bytes(data)
        try:
            read_source(path)
        except FileRejected as exc:
            assert exc.reason and "\n" not in exc.reason and "Traceback" not in exc.reason
            return exc.reason
    return "read"


@pytest.mark.parametrize("kind", sorted(VALID))
@FUZZ
@given(data=st.binary(max_size=2000))
def test_random_bytes_under_a_report_name(kind: str, data: bytes) -> None:
    _outcome(VALID[kind][0], data)


@pytest.mark.parametrize("kind", sorted(VALID))
@FUZZ
@given(cut=st.floats(min_value=0.01, max_value=0.97))
def test_a_truncated_report_is_rejected_whole(kind: str, cut: float) -> None:
    name, make = VALID[kind]
    whole = make().rstrip()
    assert _outcome(name, whole) == "read"
    assert _outcome(name, whole[: int(len(whole) * cut)]) != "read"


@pytest.mark.parametrize("kind", sorted(VALID))
@FUZZ
@given(flips=st.lists(st.tuples(st.floats(0, 0.999), st.integers(0, 255)), min_size=1,
                      max_size=8))
def test_flipped_bytes_never_give_a_traceback(kind: str, flips: list[tuple[float, int]]) -> None:
    name, make = VALID[kind]
    data = bytearray(make())
    for where, byte in flips:
        data[int(where * len(data))] = byte
    _outcome(name, bytes(data))


N = 50_000
BIG = b"A" * (12 * 1024 * 1024)
HOSTILE: dict[str, tuple[bytes, str]] = {
    "deep-legacy.xml": (b"<Reports><Report Type='UUT'>" + b"<Prop Type='Obj'>" * N
                        + b"</Prop>" * N + b"</Report></Reports>", "deeper than 256 levels"),
    "TEST-deep.xml": (b'<testsuites><testsuite name="s"><testcase name="a">' + b"<x>" * N
                      + b"</x>" * N + b"</testcase></testsuite></testsuites>",
                      "deeper than 256 levels"),
    "huge-attribute.xml": (b'<testsuites><testsuite name="s"><properties><property '
                           b'name="serial_number" value="' + BIG + b'"/></properties>'
                           b'<testcase name="a"/></testsuite></testsuites>',
                           "larger than 10 MB"),
    "huge-text-legacy.xml": (legacy_report("SN-T", STEPS).replace(b"<Value>SN-T</Value>",
                                                                  b"<Value>" + BIG + b"</Value>"),
                             "larger than 10 MB"),
    "entity-junit.xml": (b'<?xml version="1.0"?><!DOCTYPE t [<!ENTITY e "x">]><testsuites>'
                         b'<testsuite name="&e;"/></testsuites>', "declares entities"),
    "entity-atml.xml": (atml_report("SN-A", STEPS).replace(
        b"?>", b'?><!DOCTYPE r [<!ENTITY e SYSTEM "file:///etc/passwd">]>', 1),
        "declares entities"),
    "test_results-deep.json": (b"[" * N + b"]" * N, "nests arrays or objects too deeply"),
    "deep-htf.json": (b'{"dut_id": "S", "phases": ' + b"[" * N + b"]" * N + b"}",
                      "nests arrays or objects too deeply"),
    "test_results-bigint.json": (b'[{"value": ' + b"9" * 5000 + b"}]",
                                 "holds a value that cannot be read"),
}


@pytest.mark.parametrize("name", sorted(HOSTILE))
def test_hostile_file_is_one_line_and_nothing_half_loaded(tmp_path: Path, lake: Lake,
                                                          name: str) -> None:
    data, expected = HOSTILE[name]
    bad = tmp_path / name
    bad.write_bytes(data)
    good = tmp_path / "good-report.xml"
    good.write_bytes(legacy_report("SN-GOOD", STEPS))
    report = lake.ingest(bad, good)
    f = report_of(report, name)
    assert f["status"] == "rejected", f
    assert expected in f["reason"] and "\n" not in f["reason"], f["reason"]
    assert (f["rows_read"], f["rows_loaded"], f["rows_quarantined"]) == (0, 0, 0)
    assert lake.query("SELECT DISTINCT serial_number FROM test_results") == [("SN-GOOD",)]
    assert lake.scalar("SELECT count(*) FROM quarantine WHERE source_file = ?", [str(bad)]) == 0
