"""TestStand AdditionalResults (legacy XML report): those with a value and limits load as
measurements of their step; logs and bare texts are counted as skipped, never quarantined."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from tests.helpers import Lake, report_of
from tracelake.synthetic.reports import Step, legacy_report


def test_additional_results_with_limits_are_measurements(tmp_path: Path, lake: Lake) -> None:
    steps = [
        Step("Motor run", "action", status="Done", offset=1.0, additional=[
            # (name, value, units, low, high, comp, status)
            ("Peak current", "1.25", "A", "0.5", "1.5", "GELE", None),   # judged: pass
            ("Spin-up time", "0.90", "s", "0.8", None, "LE", None),  # TestStand: LE uses Low
            ("Hall count", "0x40", None, "0x3F", "0x41", None, "Passed"),  # own status, hex
            ("LIN Log", "00:19:22.119 ID 0x3C W: 20 02 10 03", None, None, None, None, None)]),
        Step("Vdd", value="3.31", units="V", low="3.2", high="3.4", offset=2.0, additional=[
            ("Ripple", "12", "mV", "0", "20", "GELE", "Passed")]),
        Step("Broken", value="1", low="0", high="2", status="Error", error=(-17502, "timeout"),
             offset=3.0, additional=[("Leak", "0.1", "mA", "0", "1", "GELE", None)]),
    ]
    path = tmp_path / "legacy-uut-report-SN-7.xml"
    path.write_bytes(legacy_report("SN-7", steps))
    f = report_of(lake.ingest(path), path.name)
    # Vdd + 4 additional results loaded; Broken and its additional result quarantined
    assert (f["rows_read"], f["rows_loaded"], f["rows_quarantined"]) == (7, 5, 2)
    assert f["quarantined_by_rule"] == {"step_error": 2}
    # the LIN log, the action "Motor run" and the root sequence call measure nothing
    assert f["steps_skipped"] == 3
    assert any("1 additional result without value and limits" in n for n in f["notes"])
    rows = {r[1]: r for r in lake.query(
        "SELECT test_step, measurement, value, units, low_limit, high_limit, result, tested_at, "
        "json_extract_string(_extra, '$.comparison') FROM test_results ORDER BY _row")}
    # values as written in the steps above (UUT start 2026-11-25 09:30:05 + 1.0 s)
    assert rows["Peak current"] == ("Motor run", "Peak current", 1.25, "A", 0.5, 1.5, "pass",
                                    datetime(2026, 11, 25, 9, 30, 6, tzinfo=UTC), "GELE")
    assert rows["Spin-up time"][2:7] == (0.9, "s", None, 0.8, "fail")
    assert rows["Hall count"][2:7] == (64.0, None, 63.0, 65.0, "pass")
    assert rows["Ripple"][:7] == ("Vdd", "Ripple", 12.0, "mV", 0.0, 20.0, "pass")
    assert rows["Numeric"][:3] == ("Vdd", "Numeric", 3.31)
    assert "LIN Log" not in rows
    # every loaded row points at its element in the report
    lines = path.read_bytes().decode("iso-8859-1").splitlines()
    line = lake.scalar("SELECT _row FROM test_results WHERE measurement = 'Peak current'")
    assert "Name='Peak current'" in lines[line - 1]
    assert lake.scalar("SELECT count(*) FROM quarantine WHERE rule = 'step_error' AND "
                       "message LIKE '%additional result is no verdict%'") == 1
