"""A verification with no recall interval (due date = calibration date, as a register writes a
"verification only" record) loads, vouches for its own day and nothing after; and a register
that never records as-found raises one finding per instrument, not one per calibration, and a
minor one where the lake holds no use of the instrument before it."""

from __future__ import annotations

from pathlib import Path

from tests.helpers import Lake, write_csv
from tracelake.derived.calibration.impact import calibration_status_at_use
from tracelake.derived.calibration.status import status_sql
from tracelake.derived.findings import list_findings
from tracelake.lake.snapshot import open_snapshot

CAL_HEADER = ["equipment_id", "calibrated_at", "due_at", "certificate_no", "as_found", "as_left",
              "calibrated_by"]
RESULT_HEADER = ["serial_number", "equipment_id", "test_step", "measurement", "value", "result",
                 "tested_at", "operator"]


def _plant(lake: Lake, landing: Path) -> None:
    write_csv(landing / "calibrations.csv", CAL_HEADER, [
        # V: verified on 1 March 2026 (plant time), no interval: due the same day
        ["V", "2026-03-01", "2026-03-01", "VER-1", "in_tolerance", "in_tolerance", "QA"],
        # G: three calibrations, none recording its as-found result
        ["G", "2025-01-10", "2026-01-10", "C1", "", "", "LAB"],
        ["G", "2026-01-09", "2027-01-09", "C2", "", "", "LAB"],
        ["G", "2027-01-08", "2028-01-08", "C3", "", "", "LAB"],
        # H: one calibration without as-found
        ["H", "2026-02-01", "2027-02-01", "H1", "", "in_tolerance", "LAB"]])
    write_csv(landing / "test_results.csv", RESULT_HEADER, [
        ["S1", "V", "T", "m", "1", "pass", "2026-03-01T10:00", "o"],   # the day of verification
        ["S2", "V", "T", "m", "1", "pass", "2026-03-01T23:30", "o"],   # still that day
        ["S3", "V", "T", "m", "1", "pass", "2026-03-02T08:00", "o"],   # the day after
        ["S4", "V", "T", "m", "1", "pass", "2026-09-01T08:00", "o"],   # months later
        ["S5", "H", "T", "m", "1", "pass", "2026-01-15T10:00", "o"]])  # H used before H1
    report = lake.ingest(landing)
    loaded = {f.table: (f.rows_loaded, f.rows_quarantined) for f in report.files}
    assert loaded["calibrations"] == (5, 0)


def test_a_verification_vouches_for_its_day_and_nothing_after(lake: Lake, landing: Path) -> None:
    _plant(lake, landing)
    con = open_snapshot(lake.paths)
    try:
        status = dict(con.execute(
            f"SELECT serial_number, calibration_status FROM ({status_sql(con, 'test_results')}) "
            "WHERE equipment_id = 'V'").fetchall())
        listed = calibration_status_at_use(con, "V")
        findings = [f for f in list_findings(con) if f.rule == "calibration_overdue_at_use"]
    finally:
        con.close()
    assert status == {"S1": "in_calibration", "S2": "in_calibration", "S3": "overdue",
                      "S4": "overdue"}
    assert sorted(r["serial_number"] for r in listed) == ["S3", "S4"]
    # the findings rule says the same as the status (one definition of overdue)
    assert sorted(f.serial_number for f in findings) == ["S3", "S4"]
    assert "its calibration VER-1 was due 2026-03-01" in findings[0].message


def test_a_due_date_before_the_calibration_is_still_quarantined(lake: Lake,
                                                                 landing: Path) -> None:
    write_csv(landing / "calibrations.csv", CAL_HEADER, [
        ["V", "2026-03-02", "2026-03-01", "VER-1", "in_tolerance", "in_tolerance", "QA"]])
    report = lake.ingest(landing)
    assert (report.files[0].rows_loaded, report.files[0].rows_quarantined) == (0, 1)
    assert lake.query("SELECT rule, column_name, message FROM quarantine") == [
        ("inconsistent", "due_at", "due_at must be on or after calibrated_at")]


def test_as_found_not_recorded_is_one_finding_per_instrument(lake: Lake, landing: Path) -> None:
    _plant(lake, landing)
    con = open_snapshot(lake.paths)
    try:
        found = [f for f in list_findings(con) if f.rule == "calibration_as_found_not_recorded"]
    finally:
        con.close()
    assert sorted(f.record for f in found) == ["calibrations:G/C3", "calibrations:H/H1"]
    by_record = {f.record: f.message for f in found}
    assert by_record["calibrations:G/C3"].startswith(
        "calibration C3 of G (2027-01-08") and \
        "records no as-found result (nor do its 2 earlier calibrations)" in \
        by_record["calibrations:G/C3"]
    assert "records no as-found result, so the results taken with it before cannot be judged" \
        in by_record["calibrations:H/H1"]
    # H was used before its calibration: major; G has no use in the lake: minor, and says so
    severity = {f.record: f.severity for f in found}
    assert severity == {"calibrations:G/C3": "minor", "calibrations:H/H1": "major"}
    assert by_record["calibrations:G/C3"].endswith(
        "so the results taken with it before could not be judged; the lake holds none")


def test_the_register_status_of_a_verified_instrument(lake: Lake, landing: Path) -> None:
    import datetime as dt

    from tracelake.derived.calibration.register import equipment_status

    _plant(lake, landing)
    con = open_snapshot(lake.paths)
    try:
        that_day = equipment_status(con, as_of=dt.datetime(2026, 3, 1, 10, 0, tzinfo=dt.UTC))
        next_day = equipment_status(con, as_of=dt.datetime(2026, 3, 2, 10, 0, tzinfo=dt.UTC))
    finally:
        con.close()
    status = lambda f: f.filter(f["equipment_id"] == "V")["status"].item()  # noqa: E731
    assert (status(that_day), status(next_day)) == ("due", "overdue")
