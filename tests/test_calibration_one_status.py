"""One calibration status at use: the impact (``tracelake impact calibration``), the findings
rules for calibration and the device history record (``tracelake dhr --format json``) read the
same definition (tracelake.derived.calibration.status), so on the edge cases they cannot disagree:
a result on its calibration's due date, results between an out-of-tolerance finding and the next
calibration (adjusted, and not put right), a verification with no interval (due = calibrated),
equipment scrapped after it was found out of tolerance, and equipment that needs no calibration.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from typer.testing import CliRunner

from tests.helpers import JOB_HEADER, UNIT_HEADER, Lake, job_row, write_csv
from tracelake.cli import app
from tracelake.derived.calibration.impact import calibration_impact, calibration_status_at_use
from tracelake.derived.findings import list_findings
from tracelake.lake.snapshot import open_snapshot

CAL_HEADER = ["equipment_id", "calibrated_at", "due_at", "certificate_no", "as_found", "as_left",
              "calibrated_by"]

#: serial -> (equipment, tested at, the status at use, past due)
EXPECTED: dict[str, tuple[str, str, str, bool]] = {
    # G: G1 good; G2 found it out of tolerance and adjusted it (left in tolerance); G3 good
    "GZ": ("G", "2025-12-01T10:00Z", "uncalibrated", False),   # before any calibration
    "GA": ("G", "2026-02-01T10:00Z", "suspect", False),        # G1 -> G2: G2's finding
    "GB": ("G", "2026-03-01T09:00Z", "in_calibration", False),  # the instant G2 put it right
    "GC": ("G", "2026-04-01T10:00Z", "in_calibration", False),  # after the finding, adjusted
    "GD": ("G", "2026-07-01T09:00Z", "in_calibration", False),  # at G2's due time exactly
    "GE": ("G", "2026-07-01T15:00Z", "overdue", True),          # on the due date, after it
    # K: K2 found it out of tolerance and left it so (sent for repair); no calibration since
    "KA": ("K", "2026-02-01T10:00Z", "suspect", False),        # K1 -> K2: K2's finding
    "KB": ("K", "2026-04-01T10:00Z", "suspect", False),        # used after K2, not put right
    # V: a verification with no interval (due = calibrated) vouches for its own day
    "VA": ("V", "2026-03-01T10:00Z", "in_calibration", False),
    "VB": ("V", "2026-03-02T10:00Z", "overdue", True),
    # X: scrapped (register status) after X2 found it out of tolerance; X1 fell due 1 April
    "XA": ("X", "2026-02-01T10:00Z", "suspect", False),
    "XB": ("X", "2026-04-15T10:00Z", "suspect", True),         # suspect and past due both
    # N: needs no calibration (register): never judged by calibration
    "NA": ("N", "2026-02-01T10:00Z", "not_required", False),
}


def _plant(lake: Lake, landing: Path) -> None:
    write_csv(landing / "equipment.csv",
              ["equipment_id", "description", "kind", "status", "calibration_required"],
              [["G", "gauge", "gauge", "active", "true"], ["K", "meter", "meter", "active", "true"],
               ["V", "scale", "gauge", "active", "true"],
               ["X", "caliper", "gauge", "scrapped", "true"],
               ["N", "ruler", "tool", "active", "false"]])
    write_csv(landing / "calibrations.csv", CAL_HEADER, [
        ["G", "2026-01-01T09:00Z", "2026-12-01T09:00Z", "G1", "in_tolerance", "in_tolerance", "L"],
        ["G", "2026-03-01T09:00Z", "2026-07-01T09:00Z", "G2", "out_of_tolerance",
         "in_tolerance", "L"],
        ["G", "2026-08-01T09:00Z", "2027-08-01T09:00Z", "G3", "in_tolerance", "in_tolerance", "L"],
        ["K", "2026-01-01T09:00Z", "2027-01-01T09:00Z", "K1", "in_tolerance", "in_tolerance", "L"],
        ["K", "2026-03-01T09:00Z", "2027-03-01T09:00Z", "K2", "out_of_tolerance",
         "out_of_tolerance", "L"],
        ["V", "2026-03-01T00:00Z", "2026-03-01T00:00Z", "V1", "in_tolerance", "in_tolerance", "QA"],
        ["X", "2026-01-01T09:00Z", "2026-04-01T09:00Z", "X1", "in_tolerance", "in_tolerance", "L"],
        ["X", "2026-05-01T09:00Z", "2027-05-01T09:00Z", "X2", "out_of_tolerance",
         "out_of_tolerance", "L"],
        ["N", "2026-01-01T09:00Z", "2026-01-15T09:00Z", "N1", "out_of_tolerance",
         "in_tolerance", "L"]])
    # one job per unit, so that a finding's job names its unit
    write_csv(landing / "jobs.csv", JOB_HEADER, [job_row(f"J-{s}") for s in EXPECTED])
    write_csv(landing / "units.csv", UNIT_HEADER,
              [[s, "SPX-200", f"J-{s}", "passed"] for s in EXPECTED])
    write_csv(landing / "test_results.csv",
              ["serial_number", "equipment_id", "test_step", "measurement", "value", "result",
               "tested_at", "operator"],
              [[s, e, "T", "m", "1", "pass", at, "o"] for s, (e, at, _, _) in EXPECTED.items()])
    report = lake.ingest(landing)
    assert all(f.rows_quarantined == 0 for f in report.files), report.files


def _dhr(lake: Lake, serial: str) -> dict[str, Any]:
    result = CliRunner().invoke(app, ["dhr", serial, "--lake", str(lake.paths.root),
                                      "--format", "json"])
    assert result.exit_code == 0, result.stderr
    return json.loads(result.stdout)  # type: ignore[no-any-return]


def test_impact_findings_and_dhr_agree_on_every_edge(lake: Lake, landing: Path) -> None:
    _plant(lake, landing)
    # the device history record of every unit: its one result's status at use
    dhr = {s: _dhr(lake, s)["tests"][0] for s in EXPECTED}
    assert {s: (t["calibration_status"], t["past_due"]) for s, t in dhr.items()} == {
        s: (status, due) for s, (_, _, status, due) in EXPECTED.items()}
    suspect = {s for s, t in dhr.items() if t["calibration_status"] == "suspect"}
    past_due = {s for s, t in dhr.items() if t["past_due"]}
    uncalibrated = {s for s, t in dhr.items() if t["calibration_status"] == "uncalibrated"}
    # the finding that names each suspect result is the one the DHR names
    assert {s: (t["found_oot_by"], t["suspect_reason"]) for s, t in dhr.items()
            if s in suspect} == {
        "GA": ("G2", "found_out_of_tolerance_after"), "KA": ("K2", "found_out_of_tolerance_after"),
        "KB": ("K2", "left_out_of_tolerance"), "XA": ("X2", "found_out_of_tolerance_after"),
        "XB": ("X2", "found_out_of_tolerance_after")}

    con = open_snapshot(lake.paths)
    try:
        impacts = {e: calibration_impact(con, e) for e in "GKVXN"}
        at_use = calibration_status_at_use(con)
        findings = list_findings(con)
    finally:
        con.close()
    # impact: its suspect, overdue and uncalibrated results are the DHR's
    assert {r["serial_number"] for i in impacts.values() for r in i.results} == suspect
    assert {r["serial_number"] for i in impacts.values() for r in i.overdue_results} == past_due
    assert {r["serial_number"] for i in impacts.values()
            for r in i.uncalibrated_results} == uncalibrated
    assert {r["serial_number"] for r in at_use} == past_due | uncalibrated
    # the suspect units of each equipment, and the window that explains K's later use
    assert [(w["certificate_no"], w["kind"], w["to"]) for w in impacts["K"].windows] == [
        ("K2", "found_out_of_tolerance_after", impacts["K"].windows[0]["to"]),
        ("K2", "left_out_of_tolerance", None)]
    assert impacts["N"].results == [] and "needs no calibration" in (impacts["N"].message or "")
    # findings: one out-of-tolerance finding per job of a suspect result, an overdue finding
    # per result past due, a traceability finding per result with no calibration
    by_rule: dict[str, set[str]] = {}
    for f in findings:
        if f.rule.startswith("calibration_") and f.rule != "calibration_as_found_not_recorded":
            by_rule.setdefault(f.rule, set()).add(f.job_id.removeprefix("J-"))
    assert by_rule == {"calibration_out_of_tolerance": suspect,
                       "calibration_overdue_at_use": past_due,
                       "calibration_not_traceable": uncalibrated}
    kb = next(f for f in findings if f.rule == "calibration_out_of_tolerance"
              and f.job_id == "J-KB")
    assert kb.record == "calibrations:K/K2"
    assert "found it out of tolerance and did not leave it in tolerance" in kb.message
    # the scrapped caliper's uses are findings of their own too (register status is today's)
    scrapped = {f.job_id for f in findings if f.rule == "equipment_out_of_service_at_use"}
    assert scrapped == {"J-XA", "J-XB"}


def test_the_records_say_why_a_use_is_suspect(lake: Lake, landing: Path) -> None:
    _plant(lake, landing)
    equipment = _dhr(lake, "KB")["equipment"]
    assert [(e["equipment_id"], e["status"], e["found_oot_by"], e["suspect_reason"])
            for e in equipment] == [("K", "suspect", "K2", "left_out_of_tolerance")]
    from zoneinfo import ZoneInfo

    from tracelake.records.present import calibration_note

    note = calibration_note(equipment[0], ZoneInfo("Europe/London"))
    assert note.startswith("SUSPECT: used after K2 (2026-03-01")
    assert note.endswith("found it OUT OF TOLERANCE and did not leave it in tolerance")
    before = _dhr(lake, "KA")["equipment"][0]
    assert calibration_note(before, ZoneInfo("Europe/London")).startswith(
        "SUSPECT: found OUT OF TOLERANCE by K2")
