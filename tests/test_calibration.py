"""Calibration impact (ISO 13485 7.6) on the sample plant and on small hand-made registers."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.helpers import SAMPLE, Lake, write_csv
from tracelake.derived.calibration.impact import calibration_impact, calibration_status_at_use
from tracelake.lake.snapshot import open_snapshot


@pytest.fixture(scope="module")
def sample(tmp_path_factory: pytest.TempPathFactory):  # type: ignore[no-untyped-def]
    lake = Lake(tmp_path_factory.mktemp("cal") / "lake")
    lake.ingest(SAMPLE, exclude=["bad/*"])
    con = open_snapshot(lake.paths)
    yield con
    con.close()


def test_an_out_of_tolerance_finding_makes_results_since_last_good_suspect(sample) -> None:  # type: ignore[no-untyped-def]
    answer = calibration_impact(sample, "DMM-04").as_dict()
    assert [(str(w["from"]), str(w["to"]), w["certificate_no"]) for w in answer["windows"]] == [
        ("2026-10-26 09:15:00+00:00", "2026-11-09 14:00:00+00:00", "CERT-2026-0467")]
    assert answer["summary"]["results"] == 36
    assert len({r["serial_number"] for r in answer["results"]}) == 16
    top = {u["serial_number"] for u in answer["units"] if u["serial_number"].startswith("SPX")}
    assert top == {f"SPX200-{n:04d}" for n in range(1, 15)}  # PCBs measured are inside 0011-0014
    assert answer["summary"]["customers"] == 3


def test_equipment_used_while_overdue_is_listed(sample) -> None:  # type: ignore[no-untyped-def]
    answer = calibration_impact(sample, "TQ-07").as_dict()
    assert answer["windows"] == [] and "never been found out of tolerance" in answer["message"]
    overdue = answer["overdue_results"]
    assert sorted(r["serial_number"] for r in overdue) == ["SPX200-0004", "SPX200-0005",
                                                           "SPX200-0006"]
    assert {r["calibration_status"] for r in overdue} == {"overdue"}


def test_unknown_equipment_gives_a_message(sample) -> None:  # type: ignore[no-untyped-def]
    assert calibration_impact(sample, "NOPE-1").as_dict()["message"] == \
        "no equipment NOPE-1 in the lake"


def _register(landing: Path, rows: list[list[str]]) -> None:
    write_csv(landing / "calibrations.csv",
              ["equipment_id", "calibrated_at", "due_at", "certificate_no", "as_found",
               "as_left", "calibrated_by"], rows)
    write_csv(landing / "test_results.csv",
              ["serial_number", "equipment_id", "test_step", "measurement", "value", "result",
               "tested_at", "operator"],
              [["S0", "G", "T", "m", "1", "pass", "2025-12-15T10:00Z", "o"],
               ["S1", "G", "T", "m", "1", "pass", "2026-01-15T10:00Z", "o"],
               ["S2", "G", "T", "m", "1", "pass", "2026-03-15T10:00Z", "o"],
               ["S3", "G", "T", "m", "1", "pass", "2026-05-15T10:00Z", "o"],
               ["S4", "H", "T", "m", "1", "pass", "2026-05-15T10:00Z", "o"]])


def test_an_adjusted_calibration_starts_a_new_good_period(lake: Lake, landing: Path) -> None:
    _register(landing, [
        ["G", "2026-01-01T09:00Z", "2027-01-01T09:00Z", "C1", "in_tolerance", "in_tolerance", "L"],
        ["G", "2026-03-01T09:00Z", "2027-03-01T09:00Z", "C2", "out_of_tolerance",
         "in_tolerance", "L"],
        ["G", "2026-06-01T09:00Z", "2027-06-01T09:00Z", "C3", "out_of_tolerance",
         "in_tolerance", "L"]])
    lake.ingest(landing)
    con = open_snapshot(lake.paths)
    answer = calibration_impact(con, "G").as_dict()
    con.close()
    assert [(w["from"].date().isoformat(), w["to"].date().isoformat(), w["certificate_no"])
            for w in answer["windows"]] == [("2026-01-01", "2026-03-01", "C2"),
                                            ("2026-03-01", "2026-06-01", "C3")]
    # S0 was confirmed by C1 (found in tolerance); each adjustment starts a new good period
    assert [r["serial_number"] for r in answer["results"]] == ["S1", "S2", "S3"]


def test_results_with_no_calibration_record_and_after_due_date(lake: Lake,
                                                               landing: Path) -> None:
    _register(landing, [["G", "2026-01-01T09:00Z", "2026-02-01T09:00Z", "C1", "in_tolerance",
                         "in_tolerance", "L"]])
    lake.ingest(landing)
    con = open_snapshot(lake.paths)
    rows = calibration_status_at_use(con)
    con.close()
    assert [(r["equipment_id"], r["serial_number"], r["calibration_status"]) for r in rows] == [
        ("G", "S0", "uncalibrated"), ("G", "S2", "overdue"), ("G", "S3", "overdue"),
        ("H", "S4", "uncalibrated")]


def test_the_out_of_tolerance_finding_counts_exactly_the_results_marked_suspect(
        lake: Lake, landing: Path) -> None:
    """calibration_out_of_tolerance reads the calibration status (status.py), so the finding and
    every page showing a result's status agree. C1 found G out of tolerance and left it good; C2
    found it in tolerance but left it out of tolerance (not known good); C3 found it out of
    tolerance. S1 (after C1, before C2) is suspect: C3's window opens at C1, the last good
    calibration, although the calibration after S1 (C2) found G in tolerance. S0, before any
    calibration, is uncalibrated, not suspect. The rule's own window (the next calibration) said
    S0 (C1) and S2, S3 (C3), and missed S1."""
    from tracelake.derived.calibration.status import status_sql
    from tracelake.derived.findings import list_findings

    _register(landing, [
        ["G", "2026-01-01T09:00Z", "2027-01-01T09:00Z", "C1", "out_of_tolerance",
         "in_tolerance", "L"],
        ["G", "2026-03-01T09:00Z", "2027-03-01T09:00Z", "C2", "in_tolerance",
         "out_of_tolerance", "L"],
        ["G", "2026-06-01T09:00Z", "2027-06-01T09:00Z", "C3", "out_of_tolerance",
         "in_tolerance", "L"]])
    lake.ingest(landing)
    con = open_snapshot(lake.paths)
    try:
        status = dict(con.execute(f"""SELECT serial_number, calibration_status
                                      FROM ({status_sql(con, 'test_results')})
                                      WHERE equipment_id = 'G'""").fetchall())
        found = [f for f in list_findings(con) if f.rule == "calibration_out_of_tolerance"]
    finally:
        con.close()
    assert status == {"S0": "uncalibrated", "S1": "suspect", "S2": "suspect", "S3": "suspect"}
    assert [f.record for f in found] == ["calibrations:G/C3"]
    assert found[0].message.startswith("3 result(s) on 3 unit(s)")
    assert "2026-01-15" in found[0].message and "2026-05-15" in found[0].message
