"""Review by exception: every findings rule fires on the defect it names and stays quiet otherwise.

Each test starts from a copy of the sample plant (whose record-level defects are known, see
data/sample/README.md), plants one defect by editing one export the way a plant's data would
go wrong, ingests it into a real lake and reads the findings from the published snapshot.
"""

from __future__ import annotations

import csv
import shutil
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import duckdb
import pytest

from tests.helpers import SAMPLE, Lake, write_csv
from tracelake.derived.findings import Finding, list_findings, release_gate
from tracelake.lake.snapshot import open_snapshot

# What the clean sample plant's story implies (README "Facts the tests check").
SAMPLE_FINDINGS = {
    ("J-1042", "calibration_overdue_at_use", "SPX200-0004", "operations:J-1042/40/SPX200-0004"),
    ("J-1042", "calibration_overdue_at_use", "SPX200-0005", "operations:J-1042/40/SPX200-0005"),
    ("J-1042", "calibration_overdue_at_use", "SPX200-0006", "operations:J-1042/40/SPX200-0006"),
    ("J-1042", "calibration_overdue_at_use", "SPX200-0004",
     "test_results:SPX200-0004/TORQUE_COVERS/cover_screw_torque/2026-10-27 09:38 GMT"),
    ("J-1042", "calibration_overdue_at_use", "SPX200-0005",
     "test_results:SPX200-0005/TORQUE_COVERS/cover_screw_torque/2026-10-27 10:38 GMT"),
    ("J-1042", "calibration_overdue_at_use", "SPX200-0006",
     "test_results:SPX200-0006/TORQUE_COVERS/cover_screw_torque/2026-10-27 11:38 GMT"),
    ("J-1042", "calibration_out_of_tolerance", None, "calibrations:DMM-04/CERT-2026-0467"),
    ("J-1044", "calibration_out_of_tolerance", None, "calibrations:DMM-04/CERT-2026-0467"),
    ("J-1047", "calibration_out_of_tolerance", None, "calibrations:DMM-04/CERT-2026-0467"),
    ("J-1047", "open_ncr_at_release", "SPX200-0013", "ncrs:NCR-0240"),
}


def keyed(findings: list[Finding]) -> set[tuple[str | None, str, str | None, str]]:
    return {(f.job_id, f.rule, f.serial_number, f.record) for f in findings}


@pytest.fixture
def plant(tmp_path: Path) -> Path:
    """A copy of the sample plant's exports (without bad/) to plant a defect in."""
    folder = tmp_path / "plant"
    shutil.copytree(SAMPLE, folder, ignore=shutil.ignore_patterns("bad", "README.md"))
    return folder


def edit(path: Path, change: Callable[[dict[str, str]], dict[str, str] | None]) -> None:
    """Rewrite a CSV export row by row; ``change`` returns the row (edited) or None to drop it."""
    with path.open(newline="", encoding="utf-8") as fh:
        reader = csv.DictReader(fh)
        header = list(reader.fieldnames or [])
        rows = [r for r in (change(dict(row)) for row in reader) if r is not None]
    write_csv(path, header, [[r[c] for c in header] for r in rows])


def where(**match: str) -> Callable[[dict[str, str]], bool]:
    return lambda row: all(row[k] == v for k, v in match.items())


def set_where(path: Path, match: dict[str, str], **changes: str) -> None:
    """Set columns on the rows matching every (column, value) of ``match``; at least one must."""
    hits = 0

    def change(row: dict[str, str]) -> dict[str, str]:
        nonlocal hits
        if all(row[k] == v for k, v in match.items()):
            hits += 1
            row.update(changes)
        return row
    edit(path, change)
    assert hits, f"no row of {path.name} matches {match}"


def drop_where(path: Path, **match: str) -> None:
    before = sum(1 for _ in path.open()) - 1
    edit(path, lambda row: None if all(row[k] == v for k, v in match.items()) else row)
    assert sum(1 for _ in path.open()) - 1 < before, f"no row of {path.name} matches {match}"


def append(path: Path, row: dict[str, Any]) -> None:
    with path.open(newline="", encoding="utf-8") as fh:
        header = next(csv.reader(fh))
    with path.open("a", newline="", encoding="utf-8") as fh:
        csv.writer(fh, lineterminator="\n").writerow([row.get(c, "") for c in header])


@pytest.fixture
def findings_of(lake: Lake) -> Iterator[Callable[..., list[Finding]]]:
    """Ingest the given exports and return the findings (of one job, or all)."""
    cons: list[duckdb.DuckDBPyConnection] = []

    def run(*paths: Path, job: str | None = None) -> list[Finding]:
        lake.ingest(*paths)
        con = open_snapshot(lake.paths)
        cons.append(con)
        return list_findings(con, job)
    yield run
    for con in cons:
        con.close()


def new_findings(found: list[Finding]) -> set[tuple[str | None, str, str | None, str]]:
    """Findings beyond those the clean sample plant has."""
    return keyed(found) - SAMPLE_FINDINGS


# ---------------------------------------------------------------- the sample plant


def test_the_sample_plant_has_exactly_the_findings_its_story_implies(plant: Path, findings_of) -> None:
    assert keyed(findings_of(plant)) == SAMPLE_FINDINGS


def test_the_main_batch_is_released_with_major_findings_but_no_critical_one(plant: Path,
                                                                           lake: Lake) -> None:
    lake.ingest(plant)
    with open_snapshot(lake.paths) as con:
        gate = release_gate(con, "J-1042")
        wip = release_gate(con, "J-1047")
    assert (gate.status, gate.releasable, gate.counts) == ("released", True,
                                                           {"critical": 0, "major": 7, "minor": 0})
    assert wip.status == "release blocked" and not wip.releasable
    assert any("NCR-0240" in r for r in wip.reasons)


def test_overdue_torque_driver_finding_names_the_certificate_and_due_date(plant: Path,
                                                                         findings_of) -> None:
    found = [f for f in findings_of(plant, job="J-1042") if f.rule == "calibration_overdue_at_use"]
    op = next(f for f in found if f.record == "operations:J-1042/40/SPX200-0004")
    assert "TQ-07" in op.message and "CERT-2026-0187" in op.message
    assert "2026-10-24 00:00 BST" in op.message and op.severity == "major"


def test_out_of_tolerance_dmm_counts_the_suspect_results_of_the_batch(plant: Path, findings_of) -> None:
    oot = next(f for f in findings_of(plant, job="J-1042") if f.rule == "calibration_out_of_tolerance")
    # README: J-1042 ELEC_CHECK x2 on ten units, plus the re-checks of 0004 and 0007
    assert oot.message.startswith("24 result(s) on 10 unit(s) of J-1042")
    assert "CERT-2026-0467" in oot.message


def test_an_unknown_job_is_an_error_not_an_empty_list(plant: Path, findings_of) -> None:
    from tracelake.errors import RecordNotFound

    with pytest.raises(RecordNotFound, match="J-0000"):
        findings_of(plant, job="J-0000")


# ---------------------------------------------------------------- wrong_revision


def test_a_job_built_to_a_superseded_revision_is_wrong_revision(plant: Path, findings_of) -> None:
    set_where(plant / "jobs.csv", {"job_id": "J-1042"}, mbr_revision="B", drawing_revision="B")
    found = [f for f in findings_of(plant, job="J-1042") if f.rule == "wrong_revision"]
    job = next(f for f in found if f.record == "jobs:J-1042")
    assert job.severity == "critical" and "rev B (superseded)" in job.message
    assert "was rev C" in job.message


def test_a_draft_revision_is_never_the_approved_one(plant: Path, findings_of) -> None:
    set_where(plant / "jobs.csv", {"job_id": "J-1047"}, mbr_revision="C1", drawing_revision="C1")
    found = [f for f in findings_of(plant, job="J-1047") if f.rule == "wrong_revision"]
    assert [f.record for f in found] == ["jobs:J-1047"]
    assert "C1 (draft)" in found[0].message


def test_a_drawing_revision_other_than_the_mbrs_is_wrong_revision(plant: Path, findings_of) -> None:
    set_where(plant / "jobs.csv", {"job_id": "J-1050"}, drawing_revision="B")
    found = [f for f in findings_of(plant, job="J-1050") if f.rule == "wrong_revision"]
    assert len(found) == 1 and "drawing revision B" in found[0].message


def test_a_bom_snapshot_line_that_differs_from_the_mbr_is_wrong_revision(plant: Path,
                                                                        findings_of) -> None:
    set_where(plant / "bom_snapshot.csv", {"job_id": "J-1038", "line_no": "10"}, component_revision="Z")
    found = [f for f in findings_of(plant, job="J-1038") if f.rule == "wrong_revision"]
    assert [f.record for f in found] == ["bom_snapshot:J-1038/10"]
    assert "rev Z" in found[0].message


def test_a_bom_difference_explained_by_an_applied_ecn_is_not_a_finding(plant: Path,
                                                                       findings_of) -> None:
    # J-1047's snapshot is rev C1's BOM (SCR-M3-SS) on a rev-C job: ECN-014 is applied to it
    assert not [f for f in findings_of(plant, job="J-1047") if f.rule == "wrong_revision"]


def test_the_same_bom_difference_without_the_ecn_is_a_finding(plant: Path, findings_of) -> None:
    drop_where(plant / "job_ecns.csv", job_id="J-1047")
    found = [f for f in findings_of(plant, job="J-1047") if f.rule == "wrong_revision"]
    assert [f.record for f in found] == ["bom_snapshot:J-1047/50"]


# ---------------------------------------------------------------- missing_operator_or_time


def test_a_quarantined_operation_without_operator_counts_against_its_job(plant: Path,
                                                                        findings_of) -> None:
    extra = write_csv(plant / "operations_late.csv",
                      ["job_id", "op_seq", "op_code", "serial_number", "work_centre", "operator",
                       "started_at", "finished_at", "result", "equipment_id"],
                      [["J-1042", 90, "FINAL", "SPX200-0001", "QC", "", "2026-11-05T09:00:00",
                        "2026-11-05T09:20:00", "pass", ""]])
    found = [f for f in findings_of(plant, job="J-1042") if f.rule == "missing_operator_or_time"]
    assert len(found) == 1
    f = found[0]
    assert (f.severity, f.serial_number, f.record) == ("critical", "SPX200-0001",
                                                        "operations:J-1042/90/SPX200-0001/2026-11-05T09:00:00")
    assert f.source == {"file": str(extra), "row": 2, "column": "operator"}
    assert "row 2" in f.message and "no operator" in f.message


def test_a_loaded_placeholder_operator_is_missing_operator(plant: Path, findings_of) -> None:
    set_where(plant / "operations_2026-10.csv", {"job_id": "J-1038", "op_seq": "10"}, operator="n/a")
    found = [f for f in findings_of(plant, job="J-1038") if f.rule == "missing_operator_or_time"]
    assert [f.record for f in found] == ["operations:J-1038/10"]
    assert found[0].source is not None and found[0].source["file"].endswith("operations_2026-10.csv")


def test_a_signoff_without_a_time_counts_against_the_job_it_signs(plant: Path, findings_of) -> None:
    set_where(plant / "signoffs.csv", {"record_type": "release", "record_id": "J-1050"}, signed_at="")
    found = [f for f in findings_of(plant, job="J-1050") if f.rule == "missing_operator_or_time"]
    assert len(found) == 1 and "signed_at" in found[0].message
    assert found[0].record.startswith("signoffs:release/J-1050")


def test_operations_with_operator_and_time_raise_nothing(plant: Path, findings_of) -> None:
    assert not [f for f in findings_of(plant) if f.rule == "missing_operator_or_time"]


# ---------------------------------------------------------------- unlinked_ecn


def test_an_ecn_effective_during_the_build_and_not_applied_is_unlinked(plant: Path,
                                                                       findings_of) -> None:
    drop_where(plant / "job_ecns.csv", job_id="J-1042")
    found = [f for f in findings_of(plant, job="J-1042") if f.rule == "unlinked_ecn"]
    assert [f.record for f in found] == ["ecns:ECN-014"]
    assert "2026-10-28 09:00 GMT" in found[0].message


def test_an_ecn_effective_before_the_job_was_created_is_not_the_jobs_to_link(plant: Path,
                                                                             findings_of) -> None:
    drop_where(plant / "job_ecns.csv", job_id="J-1047")  # J-1047 was created after ECN-014
    assert not [f for f in findings_of(plant) if f.rule == "unlinked_ecn"]


# ---------------------------------------------------------------- calibration


def test_a_step_needing_calibrated_equipment_without_equipment_is_not_traceable(plant: Path,
                                                                               findings_of) -> None:
    set_where(plant / "operations_2026-10.csv",
              {"job_id": "J-1042", "op_seq": "40", "serial_number": "SPX200-0001"}, equipment_id="")
    found = [f for f in findings_of(plant, job="J-1042") if f.rule == "calibration_not_traceable"]
    assert [f.record for f in found] == ["operations:J-1042/40/SPX200-0001"]
    assert "names none" in found[0].message


def test_a_measurement_with_never_calibrated_equipment_is_not_traceable(plant: Path,
                                                                        findings_of) -> None:
    append(plant / "equipment.csv", {"equipment_id": "GA-99", "description": "Spare gauge",
                                     "kind": "gauge", "location": "OPT-1"})
    set_where(plant / "test_results-calkit.csv",
              {"serial_number": "CK5-0002", "measurement": "holmium_peak_361nm"}, equipment_id="GA-99")
    found = [f for f in findings_of(plant, job="J-1050") if f.rule == "calibration_not_traceable"]
    assert len(found) == 1 and found[0].serial_number == "CK5-0002"
    assert "GA-99" in found[0].message and "no calibration record" in found[0].message


def test_equipment_used_within_its_calibration_raises_no_calibration_finding(plant: Path,
                                                                             findings_of) -> None:
    found = findings_of(plant, job="J-1050")
    assert not [f for f in found if f.rule.startswith("calibration")]


# ---------------------------------------------------------------- missing_unit_record


def test_a_released_unit_missing_a_required_step_is_missing_unit_record(plant: Path,
                                                                       findings_of) -> None:
    drop_where(plant / "operations_2026-11.csv", job_id="J-1042", op_seq="80",
               serial_number="SPX200-0003")
    found = new_findings(findings_of(plant, job="J-1042"))
    assert found == {("J-1042", "missing_unit_record", "SPX200-0003",
                      "operations:J-1042/80/SPX200-0003")}


def test_a_released_unit_without_any_results_is_missing_unit_record(plant: Path, findings_of) -> None:
    drop_where(plant / "test_results-calkit.csv", serial_number="CK5-0006")
    found = [f for f in findings_of(plant, job="J-1050") if f.rule == "missing_unit_record"]
    assert [(f.serial_number, f.record) for f in found] == [("CK5-0006", "units:CK5-0006")]


def test_work_in_progress_units_are_not_missing_their_later_steps(plant: Path, findings_of) -> None:
    assert not [f for f in findings_of(plant, job="J-1047") if f.rule == "missing_unit_record"]


# ---------------------------------------------------------------- missing_signoff


def test_a_released_job_without_its_release_signature_is_blocked(plant: Path, lake: Lake) -> None:
    drop_where(plant / "signoffs.csv", record_type="release", record_id="J-1042")
    lake.ingest(plant)
    with open_snapshot(lake.paths) as con:
        found = [f for f in list_findings(con, "J-1042") if f.rule == "missing_signoff"]
        gate = release_gate(con, "J-1042")
    assert [(f.severity, f.record) for f in found] == [("critical", "signoffs:release/J-1042")]
    assert gate.status == "release blocked" and "missing_signoff" in gate.reasons[0]


def test_a_release_signed_by_someone_else_than_the_releaser_is_a_finding(plant: Path,
                                                                         findings_of) -> None:
    set_where(plant / "signoffs.csv", {"record_type": "release", "record_id": "J-1050"},
              signed_by="Mark Chen")
    found = [f for f in findings_of(plant, job="J-1050") if f.rule == "missing_signoff"]
    assert len(found) == 1 and "Ruth Adeyemi" in found[0].message and "Mark Chen" in found[0].message


def test_a_closed_ncr_without_a_signature_and_a_missing_review_are_major(plant: Path,
                                                                         findings_of) -> None:
    drop_where(plant / "signoffs.csv", record_type="ncr", record_id="NCR-0231")
    drop_where(plant / "signoffs.csv", record_type="job", record_id="J-1042")
    found = {(f.severity, f.record) for f in findings_of(plant, job="J-1042") if f.rule == "missing_signoff"}
    assert found == {("major", "signoffs:ncr/NCR-0231"), ("major", "signoffs:job/J-1042")}


# ---------------------------------------------------------------- open_ncr_at_release


def test_an_ncr_still_open_when_the_job_was_released_blocks_it(plant: Path, lake: Lake) -> None:
    set_where(plant / "ncrs.csv", {"ncr_id": "NCR-0231"}, closed_at="", closed_by="")
    drop_where(plant / "signoffs.csv", record_type="ncr", record_id="NCR-0231")
    lake.ingest(plant)
    with open_snapshot(lake.paths) as con:
        found = [f for f in list_findings(con, "J-1042") if f.rule == "open_ncr_at_release"]
        gate = release_gate(con, "J-1042")
    assert [(f.record, f.serial_number) for f in found] == [("ncrs:NCR-0231", "SPX200-0004")]
    assert "was open (disposition rework) when J-1042 was released" in found[0].message
    assert gate.status == "release blocked"


def test_an_ncr_closed_after_release_is_open_at_release(plant: Path, findings_of) -> None:
    set_where(plant / "ncrs.csv", {"ncr_id": "NCR-0232"}, closed_at="2026-11-07T10:00:00")
    found = [f for f in findings_of(plant, job="J-1042") if f.rule == "open_ncr_at_release"]
    assert [f.record for f in found] == ["ncrs:NCR-0232"] and "closed only" in found[0].message


# ---------------------------------------------------------------- firmware, results, first article


def test_a_unit_carrying_an_unapproved_build_is_a_finding(plant: Path, findings_of) -> None:
    set_where(plant / "firmware_loads.csv", {"serial_number": "SPX200-0002"}, release_approved="false")
    found = [f for f in findings_of(plant, job="J-1042") if f.rule == "unapproved_firmware"]
    assert [f.serial_number for f in found] == ["SPX200-0002"]


def test_an_unapproved_build_replaced_by_an_approved_one_is_history(plant: Path, findings_of) -> None:
    append(plant / "firmware_loads.csv", {"serial_number": "SPX200-0002", "firmware_version": "2.4.0",
                                          "build_id": "2.4.0+dev", "loaded_at": "2026-10-29T10:00:00",
                                          "loaded_by": "Jo Lindqvist", "release_approved": "false"})
    # the approved 2.4.1 load (2026-10-29 11:35) came after this one
    assert not [f for f in findings_of(plant, job="J-1042") if f.rule == "unapproved_firmware"]


def test_a_pass_outside_its_limits_is_a_finding_and_a_fail_is_not(plant: Path, findings_of) -> None:
    set_where(plant / "test_results-calkit.csv",
              {"serial_number": "CK5-0003", "measurement": "holmium_peak_361nm"}, value="362.5")
    found = [f for f in findings_of(plant) if f.rule == "result_out_of_limits_passed"]
    assert [(f.job_id, f.serial_number) for f in found] == [("J-1050", "CK5-0003")]
    assert "362.5" in found[0].message


def test_a_unit_processed_before_the_first_article_was_signed(plant: Path, findings_of) -> None:
    set_where(plant / "operations_2026-10.csv",
              {"job_id": "J-1042", "op_seq": "30", "serial_number": "SPX200-0002"},
              started_at="2026-10-22T11:00:00", finished_at="2026-10-22T12:40:00")
    found = [f for f in findings_of(plant, job="J-1042") if f.rule == "first_article_missing"]
    assert [(f.serial_number, f.record) for f in found] == [("SPX200-0002",
                                                            "operations:J-1042/30/SPX200-0002")]
    assert "11:52 BST" in found[0].message


def test_a_first_article_step_without_any_first_article_signature(plant: Path, findings_of) -> None:
    drop_where(plant / "signoffs.csv", record_id="J-1047/30/SPX200-0011")
    found = [f for f in findings_of(plant, job="J-1047") if f.rule == "first_article_missing"]
    assert [(f.serial_number, f.record) for f in found] == [(None, "operations:J-1047/30")]


# ---------------------------------------------------------------- labels


def test_a_passed_label_check_of_another_units_label_is_a_mismatch(plant: Path, findings_of) -> None:
    set_where(plant / "label_checks.csv", {"serial_number": "SPX200-0003"},
              label_data="(01)05060123450019(21)SPX200-0033(11)261104")
    found = [f for f in findings_of(plant, job="J-1042") if f.rule == "label_mismatch"]
    assert [f.serial_number for f in found] == ["SPX200-0003"]
    assert "SPX200-0033" in found[0].message


def test_a_label_with_a_bad_gtin_check_digit_is_a_mismatch(plant: Path, findings_of) -> None:
    set_where(plant / "label_checks.csv", {"serial_number": "CK5-0001"},
              label_data="(01)05060123450027(21)CK5-0001(11)261106(17)281106")
    found = [f for f in findings_of(plant, job="J-1050") if f.rule == "label_mismatch"]
    assert [f.serial_number for f in found] == ["CK5-0001"] and "check digit" in found[0].message


# ---------------------------------------------------------------- references and graph


def test_an_orphan_reference_is_a_finding_with_its_file_and_row(plant: Path, findings_of) -> None:
    extra = write_csv(plant / "material_issues_late.csv",
                      ["issue_id", "job_id", "component_code", "lot_number", "quantity", "issued_at",
                       "issued_by"],
                      [["MI-26-0999", "J-1042", "CAP-100", "L-4471", 2, "2026-10-21T09:00:00", "Dave Moss"],
                       ["MI-26-0998", "J-9999", "CAP-100", "L-4471", 2, "2026-10-21T09:00:00", "Dave Moss"]])
    found = [f for f in findings_of(plant) if f.rule == "orphan_reference"]
    assert [(f.job_id, f.source) for f in found] == [("J-9999", {"file": str(extra), "row": 3})]


def test_a_fitment_cycle_is_a_genealogy_cycle(plant: Path, findings_of) -> None:
    append(plant / "unit_components.csv", {"serial_number": "PCB-M-0101", "component_code": "SPX-200",
                                           "component_serial": "SPX200-0001",
                                           "fitted_at": "2026-10-21T09:00:00", "fitted_by": "Tom Hughes"})
    found = [f for f in findings_of(plant) if f.rule == "genealogy_cycle"]
    assert {f.serial_number for f in found} == {"SPX200-0001", "PCB-M-0101"}
    assert all(f.severity == "critical" for f in found)


def test_a_serial_fitted_into_two_units_at_once_is_reported(plant: Path, findings_of) -> None:
    append(plant / "unit_components.csv", {"serial_number": "SPX200-0002", "component_code": "PCB-MAIN",
                                           "component_serial": "PCB-M-0101", "lot_number": "J-1038",
                                           "fitted_at": "2026-10-21T09:00:00", "fitted_by": "Tom Hughes"})
    found = [f for f in findings_of(plant) if f.rule == "serial_in_two_units"]
    assert {f.serial_number for f in found} == {"SPX200-0001", "SPX200-0002"}
    assert all("PCB-M-0101" in f.message for f in found)
