"""Test-executive reports made by the tests in the real layouts: TestStand legacy XML, ATML,
OpenHTF JSON, JUnit XML and plain JSON, through a real ingest into a real lake."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest

from tests.helpers import Lake, report_of
from tracelake.errors import FileRejected
from tracelake.intake.mapping import load_mapping
from tracelake.intake.readers import ROW, read_source, report_format
from tracelake.synthetic.reports import Step, atml_report, junit_report, legacy_report, openhtf_record

COLS = ["serial_number", "equipment_id", "value", "value_text", "units", "low_limit",
        "high_limit", "result", "tested_at", "operator", "software_version", "run_id", "_row",
        "_extra"]


def rows_of(lake: Lake, step: str, measurement: str | None = None) -> list[dict]:
    sql = f"SELECT {', '.join(COLS)} FROM test_results WHERE test_step = ?"
    params = [step]
    if measurement is not None:
        sql += " AND measurement = ?"
        params.append(measurement)
    return [dict(zip(COLS, r, strict=True)) for r in lake.query(sql + " ORDER BY _row", params)]


def legacy_steps() -> list[Step]:
    return [
        Step("Vdd", value="3.31", units="V", low="3.2", high="3.4", offset=0.5),
        Step("Idle current", value="0.25", units="A", low="0.1", high="0.2", status="Failed",
             offset=1.0),
        Step("Register", value="0x1A", low="0x10", high="0x20", offset=1.5),
        Step("Min pressure", value="2.5", units="bar", low="2", comp="GE", offset=1.6),
        Step("Max temp", value="40", units="degC", low="45", comp="LE", offset=1.7),
        Step("Self test", "passfail", value="True", offset=2.0),
        Step("Firmware id", "string", value="FW-2.4", low="FW-2.4", comp="IgnoreCase",
             offset=2.1),
        Step("Rails", "multi", offset=2.5, measurements=[
            ("V5", "5.02", "V", "4.9", "5.1", "Passed"), ("V12", "12.9", "V", "11.5", "12.5",
                                                           "Failed")]),
        Step("Sub board", "call", offset=3.0, children=[
            Step("Sub rail", value="1.80", units="V", low="1.7", high="1.9", offset=3.1),
            Step("Set relay", "action", status="Done", offset=3.2),
            Step("Sub leak", value="0.1", units="mA", low="0", high="1", status="Error",
                 error=(-17502, "Instrument timeout"), offset=3.3)]),
        Step("Set fixture", "action", status="Done", offset=4.0),
        Step("Section", "label", status="Done", offset=4.1),
        Step("Optional cal", value="1.0", low="0", high="2", status="Skipped", offset=4.2),
        Step("Log only", value="7.7", status="Done", comp="LOG", offset=4.3),
        Step("Aborted run", value="9", low="0", high="10", status="Terminated", offset=4.4),
    ]


def test_teststand_legacy_report_lands_every_kind_of_step(tmp_path: Path, lake: Lake) -> None:
    path = tmp_path / "legacy-uut-report-SN-0042.xml"  # named by the executive, not the table
    path.write_bytes(legacy_report("SN-0042", legacy_steps()))
    assert report_format(path) == "teststand"
    f = report_of(lake.ingest(path), path.name)
    assert (f["status"], f["table"]) == ("loaded", "test_results")
    # 11 measurements loaded (the multi step gives two); Error, Terminated and LOG quarantined
    assert (f["rows_read"], f["rows_loaded"], f["rows_quarantined"]) == (13, 10, 3)
    assert f["quarantined_by_rule"] == {"no_verdict": 1, "step_error": 2}
    # 2 actions, 1 label, 1 skipped measuring step, 2 sequence calls (root and "Sub board")
    assert f["steps_skipped"] == 6

    vdd = rows_of(lake, "Vdd")[0]
    assert (vdd["serial_number"], vdd["equipment_id"], vdd["operator"]) == \
        ("SN-0042", "RIG-7", "jsmith")
    assert (vdd["value"], vdd["units"], vdd["low_limit"], vdd["high_limit"], vdd["result"]) == \
        (3.31, "V", 3.2, 3.4, "pass")
    # UUT start 2026-11-25 09:30:05 London (= UTC in November) + 0.5 s after the root step
    assert vdd["tested_at"] == datetime(2026, 11, 25, 9, 30, 5, 500000, tzinfo=UTC)
    assert vdd["software_version"] == "2.4.1.0"
    assert vdd["run_id"] == "RIG-7@2026-11-25T09:30:05.000"
    assert rows_of(lake, "Idle current")[0]["result"] == "fail"
    hexed = rows_of(lake, "Register")[0]
    assert (hexed["value"], hexed["low_limit"], hexed["high_limit"]) == (26.0, 16.0, 32.0)
    assert (rows_of(lake, "Min pressure")[0]["low_limit"],
            rows_of(lake, "Min pressure")[0]["high_limit"]) == (2.0, None)
    assert (rows_of(lake, "Max temp")[0]["low_limit"],
            rows_of(lake, "Max temp")[0]["high_limit"]) == (None, 45.0)
    assert rows_of(lake, "Self test")[0]["value_text"] == "True"
    assert rows_of(lake, "Firmware id")[0]["value_text"] == "FW-2.4"
    rails = {r["value"]: r["result"] for r in rows_of(lake, "Rails")}
    assert rails == {5.02: "pass", 12.9: "fail"}
    assert rows_of(lake, "Sub rail")[0]["value"] == 1.8  # nested sequence
    # every row points at the element of its step in the report
    lines = path.read_bytes().decode("iso-8859-1").splitlines()
    assert "Type='TEResult'" in lines[vdd["_row"] - 1]
    v12 = next(r for r in rows_of(lake, "Rails") if r["value"] == 12.9)
    assert "Name='V12'" in lines[v12["_row"] - 1]

    quarantine = dict(lake.query("SELECT message, raw FROM quarantine WHERE rule = 'step_error' "
                                 "AND message LIKE '%Sub leak%'"))
    message, raw = next(iter(quarantine.items()))
    assert "ended Error (error -17502: Instrument timeout)" in message
    assert "re-test the unit" in message
    assert json.loads(raw)["serial_number"] == "SN-0042"
    assert lake.scalar("SELECT count(*) FROM quarantine WHERE message LIKE '%comparison LOG%'") == 1


def test_atml_report_in_the_testStand_2019_layout(tmp_path: Path, lake: Lake) -> None:
    steps = [Step("Supply", value="12.1", units="V", low="11.5", high="12.5", offset=0.2),
             Step("Leak", value="3.5", units="uA", low="0", high="2", status="Failed", offset=0.4),
             Step("Code", value="0x1F", low="0", high="100", offset=0.5),
             Step("Ping", "passfail", value="true", offset=0.6),
             Step("Label check", "string", value="REV-C", low="REV-C", offset=0.7),
             Step("Camera", "call", offset=1.0, children=[
                 Step("Focus", value="0.8", low="0.5", high="1", offset=1.1),
                 Step("Reset camera", "action", offset=1.2)]),
             Step("Power cycle", "action", offset=2.0),
             Step("Broken", value="1", low="0", high="2", status="Error", offset=2.5),
             Step("Not run", value="1", low="0", high="2", status="Skipped", offset=2.6)]
    path = tmp_path / "atml-eol-SN-77.xml"
    path.write_bytes(atml_report("SN-77", steps))
    assert report_format(path) == "atml"
    f = report_of(lake.ingest(path), path.name)
    assert (f["rows_read"], f["rows_loaded"], f["rows_quarantined"]) == (7, 6, 1)
    assert f["quarantined_by_rule"] == {"step_error": 1}
    assert f["steps_skipped"] == 4  # two SessionActions, the group without a result, "Not run"
    supply = rows_of(lake, "Supply")[0]
    assert (supply["serial_number"], supply["equipment_id"], supply["operator"]) == \
        ("SN-77", "EOL-2", "mjones")
    assert (supply["value"], supply["units"], supply["low_limit"], supply["high_limit"]) == \
        (12.1, "V", 11.5, 12.5)
    assert supply["tested_at"] == datetime(2026, 11, 25, 14, 0, 0, 200000, tzinfo=UTC)
    assert supply["run_id"] == "5f1c2d3e-0000-4000-8000-000000000001"
    assert rows_of(lake, "Leak")[0]["result"] == "fail"
    assert rows_of(lake, "Code")[0]["value"] == 31.0
    assert rows_of(lake, "Ping")[0]["value_text"] == "true"
    assert rows_of(lake, "Focus")[0]["value"] == 0.8
    assert "TestResult" in path.read_text().splitlines()[supply["_row"] - 1]


def test_openhtf_json_record(tmp_path: Path, lake: Lake) -> None:
    phases = [
        {"name": "power_on", "outcome": "PASS", "start_time_millis": 1_795_600_001_000,
         "descriptor_id": 11, "measurements": {
             "vcc": {"name": "vcc", "outcome": "PASS", "measured_value": 3.29,
                     "units": {"name": "volt", "code": "2Z", "suffix": "V"},
                     "validators": ["3.1 <= x <= 3.5"]},
             "current": {"name": "current", "outcome": "FAIL", "measured_value": 0.9,
                         "validators": ["x <= 0.5"]},
             "unused": {"name": "unused", "outcome": "UNSET"}}},
        {"name": "sweep", "outcome": "PASS", "start_time_millis": 1_795_600_002_000,
         "measurements": {"gain": {"name": "gain", "outcome": "PASS", "dimensions": [
             {"name": "frequency"}], "measured_value": [[100, 1.01], [1000, 0.98]],
             "validators": ["x >= 0.9"]}}},
        {"name": "prompt_operator", "outcome": "PASS", "measurements": {}},
        {"name": "flash", "outcome": "ERROR", "start_time_millis": 1_795_600_003_000,
         "measurements": {"crc": {"name": "crc", "outcome": "PASS", "measured_value": "0xBEEF"}}},
    ]
    path = tmp_path / "board_test_SN-9.json"
    path.write_text(json.dumps(openhtf_record("SN-9", phases,
                                              metadata={"operator": "kwan"}), indent=2))
    assert report_format(path) == "openhtf"
    f = report_of(lake.ingest(path), path.name)
    assert (f["rows_read"], f["rows_loaded"], f["rows_quarantined"]) == (5, 4, 1)
    assert f["steps_skipped"] == 2  # the UNSET measurement and the phase without measurements
    vcc = rows_of(lake, "power_on", "vcc")[0]
    assert (vcc["serial_number"], vcc["equipment_id"], vcc["operator"]) == \
        ("SN-9", "htf-station-1", "kwan")
    assert (vcc["value"], vcc["units"], vcc["low_limit"], vcc["high_limit"], vcc["result"]) == \
        (3.29, "V", 3.1, 3.5, "pass")
    assert vcc["tested_at"] == datetime.fromtimestamp(1_795_600_001, UTC)
    current = rows_of(lake, "power_on", "current")[0]
    assert (current["result"], current["low_limit"], current["high_limit"]) == ("fail", None, 0.5)
    gains = {r[0]: r[1] for r in lake.query(
        "SELECT measurement, value FROM test_results WHERE test_step = 'sweep'")}
    assert gains == {"gain[100]": 1.01, "gain[1000]": 0.98}
    assert lake.scalar("SELECT rule FROM quarantine WHERE message LIKE '%flash%'") == "step_error"


def test_junit_xml_serial_from_a_property_and_from_the_suite_name(tmp_path: Path,
                                                                  lake: Lake) -> None:
    suite = {"name": "SN-500", "timestamp": "2026-11-25T10:00:00", "hostname": "rig-3",
             "properties": {"serial_number": "SN-500", "operator": "lee"},
             "cases": [{"name": "vdd", "time": 1.5, "properties": {
                 "value": "3.30", "units": "V", "low_limit": "3.1", "high_limit": "3.5"}},
                       {"name": "uart", "time": 0.5, "failure": "no echo"},
                       {"name": "eeprom", "time": 0.25, "error": "fixture not found"},
                       {"name": "rf", "skipped": "no antenna"},
                       {"name": "leds", "time": 0.1}]}
    path = tmp_path / "TEST-rig3.xml"
    path.write_bytes(junit_report([suite]))
    assert report_format(path) == "junit"
    f = report_of(lake.ingest(path), path.name)
    assert (f["rows_read"], f["rows_loaded"], f["rows_quarantined"], f["steps_skipped"]) == \
        (4, 3, 1, 1)
    vdd = rows_of(lake, "vdd")[0]
    assert (vdd["serial_number"], vdd["equipment_id"], vdd["operator"], vdd["value"],
            vdd["units"], vdd["low_limit"], vdd["high_limit"], vdd["result"]) == \
        ("SN-500", "rig-3", "lee", 3.3, "V", 3.1, 3.5, "pass")
    assert vdd["tested_at"] == datetime(2026, 11, 25, 10, 0, tzinfo=UTC)
    uart = rows_of(lake, "uart")[0]
    assert uart["result"] == "fail"
    assert uart["tested_at"] == datetime(2026, 11, 25, 10, 0, 1, 500000, tzinfo=UTC)
    assert "fixture not found" in lake.scalar("SELECT message FROM quarantine")

    # serial from the suite name, as a mapping says; the report's name matches no table
    plain = {"name": "SN-501", "cases": [{"name": "vdd"}], "properties": {"operator": "lee"}}
    named = tmp_path / "named" / "TEST-board.xml"
    named.parent.mkdir()
    named.write_bytes(junit_report([plain]))
    without = report_of(lake.ingest(named), named.name)
    assert without["status"] == "rejected"
    assert "serial_from" in without["reason"] and "\n" not in without["reason"]
    mapping = tmp_path / "mapping.yaml"
    mapping.write_text("sources:\n  - name: rig junit\n    files: ['TEST-*.xml']\n"
                       "    table: test_results\n    serial_from: suite_name\n")
    again = report_of(lake.ingest(named, mapping=load_mapping(mapping)), named.name)
    assert (again["status"], again["rows_loaded"]) == ("loaded", 1)
    assert rows_of(lake, "vdd")[-1]["serial_number"] == "SN-501"


def test_plain_json_arrays_and_nested_objects(tmp_path: Path, lake: Lake) -> None:
    path = tmp_path / "equipment_export.json"
    path.write_text(json.dumps({"exported_at": "2026-11-25", "items": [
        {"equipment_id": "GAUGE-1", "description": "Torque driver", "where": {"location": "L1"}},
        {"equipment_id": "GAUGE-2", "description": "Caliper", "where": {"location": "L2"}},
        7]}))
    raw = read_source(path)
    assert raw.frame.columns == ["equipment_id", "description", "where.location", ROW]
    assert raw.frame[ROW].to_list() == [1, 2]
    assert raw.problems["message"].to_list() == ["item 3 of the array is a JSON int, not an "
                                                 "object"]
    mapping = tmp_path / "m.yaml"
    mapping.write_text("sources:\n  - name: eq\n    files: ['equipment_export.json']\n"
                       "    table: equipment\n    aliases: {where.location: location}\n")
    f = report_of(lake.ingest(path, mapping=load_mapping(mapping)), path.name)
    assert (f["rows_read"], f["rows_loaded"], f["rows_quarantined"]) == (3, 2, 1)
    assert lake.query("SELECT equipment_id, location FROM equipment ORDER BY 1") == \
        [("GAUGE-1", "L1"), ("GAUGE-2", "L2")]


def test_plain_json_with_several_arrays_needs_json_key(tmp_path: Path) -> None:
    path = tmp_path / "units.json"
    path.write_text(json.dumps({"units": [{"serial_number": "A"}], "jobs": [{"job_id": "J"}]}))
    with pytest.raises(FileRejected, match=r"several arrays of objects .*json_key"):
        read_source(path)
    assert read_source(path, json_key="jobs").frame["job_id"].to_list() == ["J"]


def test_two_uut_reports_in_one_file_each_keep_their_serial(tmp_path: Path, lake: Lake) -> None:
    one = legacy_report("SN-A", [Step("Vdd", value="3.3", low="3", high="4", offset=1)])
    two = legacy_report("SN-B", [Step("Vdd", value="3.5", low="3", high="4", offset=2)],
                        station="RIG-8", start=datetime(2026, 11, 26, 8, 0, 0))
    body = one.split(b"<Reports>\n", 1)[1].rsplit(b"</Reports>", 1)[0] + \
        two.split(b"<Reports>\n", 1)[1]
    path = tmp_path / "units_batch.xml"  # starts like a table's name: still a report
    path.write_bytes(one.split(b"<Reports>\n", 1)[0] + b"<Reports>\n" + body)
    f = report_of(lake.ingest(path), path.name)
    assert (f["table"], f["rows_loaded"]) == ("test_results", 2)
    assert lake.query("SELECT serial_number, equipment_id, value, tested_at FROM test_results "
                      "ORDER BY 1") == [
        ("SN-A", "RIG-7", 3.3, datetime(2026, 11, 25, 9, 30, 6, tzinfo=UTC)),
        ("SN-B", "RIG-8", 3.5, datetime(2026, 11, 26, 8, 0, 2, tzinfo=UTC))]


def test_mapping_serial_from_must_be_a_property_or_the_suite_name(tmp_path: Path) -> None:
    from tracelake.errors import MappingError

    mapping = tmp_path / "m.yaml"
    mapping.write_text("sources:\n  - files: ['*.xml']\n    serial_from: classname\n")
    with pytest.raises(MappingError, match="serial_from 'classname' must be 'suite_name' or "
                       "'property:NAME'"):
        load_mapping(mapping)


def test_a_report_without_operator_says_how_to_give_one(tmp_path: Path, lake: Lake) -> None:
    path = tmp_path / "TEST-noop.xml"
    path.write_bytes(junit_report([{"name": "x", "properties": {"serial_number": "SN-3"},
                                    "cases": [{"name": "vdd"}]}]))
    f = report_of(lake.ingest(path), path.name)
    assert f["quarantined_by_rule"] == {"required": 1}
    assert any("names no operator" in n and "constants: {operator: ...}" in n
               for n in f["notes"])
    mapping = tmp_path / "m.yaml"
    mapping.write_text("sources:\n  - files: ['TEST-*.xml']\n    table: test_results\n"
                       "    constants: {operator: line-4}\n")
    fixed = tmp_path / "again" / "TEST-noop2.xml"
    fixed.parent.mkdir()
    fixed.write_bytes(path.read_bytes().replace(b"SN-3", b"SN-4"))
    g = report_of(lake.ingest(fixed, mapping=load_mapping(mapping)), fixed.name)
    assert (g["rows_loaded"], g["rows_quarantined"]) == (1, 0)
    assert lake.scalar("SELECT operator FROM test_results WHERE serial_number = 'SN-4'") == \
        "line-4"
