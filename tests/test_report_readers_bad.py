"""Bad reports are rejected whole with a one-line reason, and nothing of them reaches the lake."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.helpers import Lake, report_of
from tracelake.synthetic.reports import Step, atml_report, legacy_report, openhtf_record

BOMB = b"""<?xml version="1.0"?>
<!DOCTYPE Reports [
 <!ENTITY lol "lol">
 <!ENTITY lol1 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
 <!ENTITY lol2 "&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;">
 <!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
]>
<Reports><Report Type='UUT'><Prop Name='UUT' Type='Obj'><Prop Name='SerialNumber' Type='String'>
<Value>&lol3;</Value></Prop></Prop></Report></Reports>
"""
EXTERNAL = b"""<?xml version="1.0"?>
<!DOCTYPE Reports [<!ENTITY secret SYSTEM "file:///etc/passwd">]>
<Reports><Report Type='UUT'><Prop Name='UUT' Type='Obj'><Prop Name='SerialNumber' Type='String'>
<Value>&secret;</Value></Prop></Prop></Report></Reports>
"""
EXTERNAL_DTD = b"""<?xml version="1.0"?>
<!DOCTYPE Reports SYSTEM "http://example.com/report.dtd">
<Reports><Report Type='UUT'></Report></Reports>
"""


def _good(tmp_path: Path) -> Path:
    path = tmp_path / "good-report.xml"
    path.write_bytes(legacy_report("SN-1", [Step("Vdd", value="3.3", low="3", high="4")]))
    return path


def _truncated(tmp_path: Path) -> bytes:
    whole = legacy_report("SN-2", [Step(f"S{i}", value="1", low="0", high="2", offset=i)
                                   for i in range(20)])
    return whole[: len(whole) * 2 // 3]


CASES = {
    "bomb.xml": (lambda tmp: BOMB, "declares entities"),
    "xxe.xml": (lambda tmp: EXTERNAL, "declares entities"),
    "external-dtd.xml": (lambda tmp: EXTERNAL_DTD, "external DTD"),
    "truncated.xml": (_truncated, "cut off at line"),
    "no-serial-legacy.xml": (lambda tmp: legacy_report("", [Step("Vdd", value="1", low="0",
                                                                 high="2")]),
                             "names no UUT serial"),
    "no-serial-atml.xml": (lambda tmp: atml_report(None, [Step("Vdd", value="1", low="0",
                                                               high="2")]),
                           "names no UUT serial"),
    "no-serial-htf.json": (lambda tmp: json.dumps(openhtf_record(None, [])).encode(),
                           "names no dut_id"),
    "test_results-numbers.json": (lambda tmp: b"[1, 2, 3]", "not an array of objects"),
    "test_results-scalar.json": (lambda tmp: b'"hello"', "not an array of objects"),
    "test_results-empty-object.json": (lambda tmp: b'{"a": 1}', "holds no array of objects"),
    "test_results-broken.json": (lambda tmp: b'[{"a": 1},', "is not valid JSON"),
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_bad_report_is_rejected_whole_with_one_line(tmp_path: Path, lake: Lake, name: str) -> None:
    make, expected = CASES[name]
    bad = tmp_path / name
    bad.write_bytes(make(tmp_path))
    good = _good(tmp_path)
    report = lake.ingest(bad, good)
    f = report_of(report, name)
    assert f["status"] == "rejected", f
    assert expected in f["reason"]
    assert "\n" not in f["reason"] and "Traceback" not in f["reason"]
    assert (f["rows_read"], f["rows_loaded"], f["rows_quarantined"]) == (0, 0, 0)
    # nothing half-loaded: the lake holds only the good file's row, no quarantine from the bad
    assert lake.query("SELECT DISTINCT serial_number FROM test_results") == [("SN-1",)]
    assert lake.scalar("SELECT count(*) FROM quarantine WHERE source_file = ?", [str(bad)]) == 0
    assert report_of(report, good.name)["rows_loaded"] == 1


def test_the_bomb_is_refused_before_any_expansion(tmp_path: Path) -> None:
    from tracelake.errors import FileRejected
    from tracelake.intake.readers import read_source

    path = tmp_path / "bomb.xml"
    path.write_bytes(BOMB.replace(b"&lol3;", b"&lol3;" * 1000))
    with pytest.raises(FileRejected, match="declares entities"):
        read_source(path)
