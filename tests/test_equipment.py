"""The calibration register as it stands, on the sample plant and on small hand-made registers."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import duckdb

from tests.helpers import Lake, write_csv
from tracelake.derived.calibration.impact import calibration_impact
from tracelake.derived.calibration.register import (
    calibration_history,
    equipment_status,
    impact_tables,
    oot_events,
)
from tracelake.lake.snapshot import open_snapshot

UTC = dt.UTC
CAL_HEADER = ["equipment_id", "calibrated_at", "due_at", "certificate_no", "as_found", "as_left",
              "calibrated_by"]


def _status(frame) -> dict[str, str]:  # type: ignore[no-untyped-def]
    return dict(zip(frame["equipment_id"], frame["status"], strict=True))


def test_tq07_is_overdue_on_the_day_it_was_used_late(sample: duckdb.DuckDBPyConnection) -> None:
    frame = equipment_status(sample, dt.datetime(2026, 10, 27, 12, tzinfo=UTC))
    assert _status(frame) == {"TQ-07": "overdue", "DMM-04": "ok", "GA-12": "ok", "LV-01": "ok",
                              "REF-SPX-01": "ok", "RIG-3": "ok"}
    assert frame["equipment_id"][0] == "TQ-07"  # worst first
    tq = frame.row(0, named=True)
    assert (tq["certificate_no"], tq["days_to_due"]) == ("CERT-2026-0187", -4)  # due 24 Oct


def test_register_after_the_tq07_recalibration(sample: duckdb.DuckDBPyConnection) -> None:
    frame = equipment_status(sample, dt.datetime(2026, 11, 26, tzinfo=UTC))
    assert set(_status(frame).values()) == {"ok"}
    rows = {r["equipment_id"]: r for r in frame.iter_rows(named=True)}
    assert rows["TQ-07"]["certificate_no"] == "CERT-2026-0431"
    assert rows["DMM-04"]["oot_events"] == 1 and rows["DMM-04"]["as_found"] == "out_of_tolerance"
    assert rows["DMM-04"]["calibrations"] == 3
    assert rows["DMM-04"]["last_used_at"] == dt.datetime(2026, 11, 10, 9, 12, tzinfo=UTC)


def test_due_within_a_window(sample: duckdb.DuckDBPyConnection) -> None:
    on = dt.datetime(2027, 2, 1, tzinfo=UTC)  # GA-12 due 2027-02-16, REF-SPX-01 2027-03-09
    assert _status(equipment_status(sample, on, due_within_days=30))["GA-12"] == "due"
    assert _status(equipment_status(sample, on, due_within_days=10))["GA-12"] == "ok"
    assert _status(equipment_status(sample, on, due_within_days=40))["REF-SPX-01"] == "due"


def test_out_of_tolerance_events_and_history(sample: duckdb.DuckDBPyConnection) -> None:
    events = oot_events(sample)
    assert events.select("equipment_id", "certificate_no").rows() == [("DMM-04",
                                                                       "CERT-2026-0467")]
    assert calibration_history(sample).height == 12
    dmm = calibration_history(sample, "DMM-04")
    assert dmm["certificate_no"].to_list() == ["CERT-2026-0467", "CERT-2026-0422",
                                               "CERT-2025-1187"]


def test_impact_tables_of_the_dmm04_finding(sample: duckdb.DuckDBPyConnection) -> None:
    tables = impact_tables(calibration_impact(sample, "DMM-04"))
    assert tables["results"].height == 36
    assert tables["results"]["serial_number"].n_unique() == 16
    assert tables["windows"].rows() == [(dt.datetime(2026, 10, 26, 9, 15, tzinfo=UTC),
                                         dt.datetime(2026, 11, 9, 14, tzinfo=UTC),
                                         "CERT-2026-0467", "found_out_of_tolerance_after")]
    customers = dict(zip(tables["customers"]["customer"], tables["customers"]["units"],
                         strict=True))
    assert customers == {"University of Leeds — School of Chemistry": 3,
                         "Kestrel Pharma Ltd": 3, "Norsk Analyse AS": 2}
    assert tables["summary"]["customers"] == 3


def test_impact_tables_of_equipment_never_found_out(sample: duckdb.DuckDBPyConnection) -> None:
    tables = impact_tables(calibration_impact(sample, "RIG-3"))
    assert tables["results"].height == 0 and tables["units"].height == 0
    assert tables["customers"].height == 0
    assert "never been found out of tolerance" in tables["message"]


def test_never_calibrated_and_left_out_of_tolerance(lake: Lake, landing: Path) -> None:
    write_csv(landing / "equipment.csv", ["equipment_id", "description"],
              [["G-1", "gauge"], ["G-2", "gauge"], ["G-3", "spare gauge"]])
    write_csv(landing / "calibrations.csv", CAL_HEADER, [
        ["G-1", "2026-01-10T09:00Z", "2027-01-10T09:00Z", "C-1", "in_tolerance",
         "in_tolerance", "lab"],
        ["G-2", "2026-01-10T09:00Z", "2027-01-10T09:00Z", "C-2", "out_of_tolerance",
         "out_of_tolerance", "lab"]])
    write_csv(landing / "test_results.csv",
              ["serial_number", "equipment_id", "test_step", "measurement", "result",
               "tested_at", "operator"],
              [["S1", "RIG-X", "T", "m", "pass", "2026-02-01T10:00Z", "o"]])
    lake.ingest(landing)
    con = open_snapshot(lake.paths)
    try:
        frame = equipment_status(con, dt.datetime(2026, 6, 1, tzinfo=UTC))
    finally:
        con.close()
    rows = {r["equipment_id"]: r for r in frame.iter_rows(named=True)}
    assert {k: r["status"] for k, r in rows.items()} == {
        "G-1": "ok", "G-2": "out_of_tolerance", "G-3": "never", "RIG-X": "never"}
    assert rows["RIG-X"]["registered"] is False  # used on a test, not in the equipment list
    assert rows["G-3"]["last_used_at"] is None
    assert frame["equipment_id"].to_list() == ["G-2", "G-3", "RIG-X", "G-1"]


def test_a_calibration_after_the_date_asked_does_not_count(lake: Lake, landing: Path) -> None:
    write_csv(landing / "calibrations.csv", CAL_HEADER, [
        ["G-1", "2026-01-10T09:00Z", "2026-07-10T09:00Z", "C-1", "in_tolerance",
         "in_tolerance", "lab"],
        ["G-1", "2026-07-20T09:00Z", "2027-01-20T09:00Z", "C-2", "in_tolerance",
         "in_tolerance", "lab"]])
    lake.ingest(landing)
    con = open_snapshot(lake.paths)
    try:
        before = equipment_status(con, dt.datetime(2026, 7, 15, tzinfo=UTC)).row(0, named=True)
        after = equipment_status(con, dt.datetime(2026, 7, 25, tzinfo=UTC)).row(0, named=True)
    finally:
        con.close()
    assert (before["status"], before["certificate_no"]) == ("overdue", "C-1")
    assert (after["status"], after["certificate_no"]) == ("ok", "C-2")
