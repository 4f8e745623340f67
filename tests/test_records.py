"""Batch and device records assembled from the sample plant tell its story (data/sample/README.md)."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any

import duckdb
import pytest
from typer.testing import CliRunner

from tests.helpers import Lake
from tracelake.cli import app
from tracelake.errors import RecordNotFound
from tracelake.records import batch_record, device_record

UTC = dt.UTC


def test_the_bmr_header_names_job_product_revisions_and_po(bmr: dict[str, Any]) -> None:
    job = bmr["job"]
    assert (bmr["kind"], job["job_id"], job["product_code"], job["mbr_revision"],
            job["drawing_revision"], job["customer_po"]) == ("bmr", "J-1042", "SPX-200", "C", "C",
                                                             "UOL-PO-778120")
    assert bmr["mbr"]["status"] == "approved" and bmr["mbr"]["approved_by"] == "Ruth Adeyemi"
    assert bmr["timezone"] == "Europe/London"


def test_the_bmr_counts_made_passed_released_and_shipped(bmr: dict[str, Any]) -> None:
    assert bmr["quantities"] == {"planned": 10, "made": 10, "passed": 10, "released": 10,
                                 "shipped": 8, "scrapped": 0, "quarantined": 0, "wip": 0}


def test_the_release_section_says_released_and_findings_come_first(bmr: dict[str, Any]) -> None:
    assert list(bmr)[:7] == ["kind", "title", "generated_at", "timezone", "job", "release", "findings"]
    assert bmr["release"]["status"] == "released" and bmr["release"]["releasable"]
    rules = sorted({f["rule"] for f in bmr["findings"]})
    assert rules == ["calibration_out_of_tolerance", "calibration_overdue_at_use"]


def test_the_bom_snapshot_stands_beside_the_mbr_bom_and_matches_it(bmr: dict[str, Any]) -> None:
    assert bmr["bom"] and all(line["matches_mbr"] for line in bmr["bom"])
    line50 = next(line for line in bmr["bom"] if line["line_no"] == 50)
    assert line50["component_code"] == line50["mbr_component_code"] == "SCR-M3"


def test_materials_list_the_lots_issued_including_the_ecn_screws_and_rework_lamps(
        bmr: dict[str, Any]) -> None:
    issues = {m["issue_id"]: m for m in bmr["materials"]}
    assert (issues["MI-26-0107"]["component_code"], issues["MI-26-0107"]["lot_number"]) == ("CAP-100",
                                                                                           "L-4471")
    assert issues["MI-26-0139"]["component_code"] == "SCR-M3-SS"
    assert {issues[i]["component_serial"] for i in ("MI-26-0140", "MI-26-0141")} == {"D2-26-0457",
                                                                                    "D2-26-0458"}


def test_serialised_parts_include_the_removed_lamps_with_their_ncr(bmr: dict[str, Any]) -> None:
    removed = {p["component_serial"]: p["removal_ncr_id"] for p in bmr["serialised_parts"]
               if p["removed_at"] is not None}
    assert removed == {"D2-26-0314": "NCR-0231", "D2-26-0317": "NCR-0232"}
    pcbs = {p["component_serial"] for p in bmr["serialised_parts"] if p["component_code"] == "PCB-MAIN"}
    assert pcbs == {f"PCB-M-{n:04d}" for n in range(101, 111)}


def test_ncrs_carry_disposition_removed_part_and_retest_evidence(bmr: dict[str, Any]) -> None:
    ncrs = {n["ncr_id"]: n for n in bmr["ncrs"]}
    assert set(ncrs) == {"NCR-0231", "NCR-0232"}
    n = ncrs["NCR-0231"]
    assert (n["disposition"], n["closed_by"], n["retest_ref"]) == ("rework", "Ruth Adeyemi",
                                                                 "R3-20261104-001")
    assert [p["component_serial"] for p in n["removed_parts"]] == ["D2-26-0314"]
    assert n["retest"] and all(r["result"] == "pass" and r["attempt"] == 2 for r in n["retest"])


def test_equipment_shows_the_calibration_status_at_use(bmr: dict[str, Any]) -> None:
    tq07 = {(e["first_use"].date().isoformat(), e["status"], e["certificate_no"])
            for e in bmr["equipment"] if e["equipment_id"] == "TQ-07"}
    assert ("2026-10-27", "overdue", "CERT-2026-0187") in tq07
    assert all(status == "in_calibration" for day, status, _ in tq07 if day != "2026-10-27")
    # one row for DMM-04's suspect window (2026-10-26 -> 2026-11-09), not one per day of use
    (dmm,) = [e for e in bmr["equipment"] if e["equipment_id"] == "DMM-04"]
    assert (dmm["status"], dmm["found_oot_by"], dmm["certificate_no"]) == (
        "suspect", "CERT-2026-0467", "CERT-2026-0422")
    assert (dmm["suspect_from"].date().isoformat(), dmm["found_oot_at"].date().isoformat()) == (
        "2026-10-26", "2026-11-09")


def test_tests_carry_limits_attempt_and_whether_within_limits(bmr: dict[str, Any]) -> None:
    noise = [t for t in bmr["tests"] if t["serial_number"] == "SPX200-0004"
             and t["measurement"] == "photometric_noise"]
    assert [(t["attempt"], t["result"], t["within_limits"]) for t in noise] == [(1, "fail", False),
                                                                                (2, "pass", True)]
    assert noise[0]["high_limit"] == pytest.approx(0.1) and noise[0]["run_id"] == "R3-20261030-004"


def test_firmware_is_one_approved_build_on_every_unit(bmr: dict[str, Any]) -> None:
    assert [(f["build_id"], f["release_approved"], f["units"]) for f in bmr["firmware"]] == [
        ("2.4.1+b7e41c9", True, 10)]


def test_the_serial_list_has_every_unit_with_its_label_check_and_customer(bmr: dict[str, Any]) -> None:
    serials = {s["serial_number"]: s for s in bmr["serials"]}
    assert list(serials) == [f"SPX200-{n:04d}" for n in range(1, 11)]
    s1 = serials["SPX200-0001"]
    assert s1["label_result"] == "pass" and s1["label_problems"] == []
    assert s1["customer"] == "University of Leeds — School of Chemistry" and s1["order_ref"] == "SO-5521"
    assert serials["SPX200-0007"]["customer"] is None


def test_ecns_applied_name_the_pages_they_touched(bmr: dict[str, Any]) -> None:
    assert [(e["ecn_id"], e["pages"], e["applied_by"]) for e in bmr["ecns"]] == [
        ("ECN-014", "BMR p.6 (op 40); BOM snapshot line 50", "Mark Chen")]


def test_signoffs_include_review_and_release_with_name_time_and_meaning(bmr: dict[str, Any]) -> None:
    release = [s for s in bmr["signoffs"] if s["record_type"] == "release"]
    assert [(s["signed_by"], s["signed_at"], s["meaning"]) for s in release] == [
        ("Ruth Adeyemi", dt.datetime(2026, 11, 6, 14, 30, tzinfo=UTC), "Batch released for distribution")]
    fa = [s for s in bmr["signoffs"] if s["record_id"] == "J-1042/30/SPX200-0001"]
    assert fa and fa[0]["signed_at"] == dt.datetime(2026, 10, 22, 10, 52, tzinfo=UTC)
    assert {s["record_id"] for s in bmr["signoffs"] if s["record_type"] == "ncr"} == {"NCR-0231",
                                                                                   "NCR-0232"}


def test_the_bmr_holds_a_device_page_for_every_serial(bmr: dict[str, Any]) -> None:
    assert [u["unit"]["serial_number"] for u in bmr["units"]] == [s["serial_number"]
                                                                  for s in bmr["serials"]]


def test_the_dhr_lists_components_at_every_level_with_the_removed_lamp(dhr: dict[str, Any]) -> None:
    comps = dhr["components"]
    lamp = [c for c in comps if c["component_code"] == "LAMP-D2"]
    assert {(c["component_serial"], c.get("removal_ncr_id")) for c in lamp} == {("D2-26-0457", None),
                                                                              ("D2-26-0314", "NCR-0231")}
    # CAP-100 L-4471 reaches the unit directly and again through PCB-M-0104
    assert {c["parent_serial"] for c in comps if c["lot_number"] == "L-4471"
            and c["component_code"] == "CAP-100"} == {"SPX200-0004", "PCB-M-0104"}


def test_the_dhr_has_operations_with_operator_and_time_and_the_batch_steps(dhr: dict[str, Any]) -> None:
    ops = dhr["operations"]
    assert all(o["operator"] and o["started_at"] and o["finished_at"] for o in ops)
    assert {o["op_seq"] for o in ops if o["batch_step"]} == {10, 100}
    assert [o["attempt"] for o in ops if o["op_seq"] == 70] == [1, 2]


def test_the_dhr_shows_the_failed_test_the_ncr_and_the_retest(dhr: dict[str, Any]) -> None:
    assert [n["ncr_id"] for n in dhr["ncrs"]] == ["NCR-0231"]
    noise = [(t["attempt"], t["result"]) for t in dhr["tests"] if t["measurement"] == "photometric_noise"]
    assert noise == [(1, "fail"), (2, "pass")]


def test_the_dhr_label_is_parsed_and_checked_against_the_unit(dhr: dict[str, Any]) -> None:
    (label,) = dhr["labels"]
    assert label["parsed"]["gtin"] == "05060123450019" and label["parsed"]["serial"] == "SPX200-0004"
    assert label["parsed"]["dates"] == {"production_date": "2026-11-04"} and label["problems"] == []


def test_the_dhr_equipment_flags_overdue_and_later_out_of_tolerance(dhr: dict[str, Any]) -> None:
    by_id = {(e["equipment_id"], e["status"], e["found_oot_by"]) for e in dhr["equipment"]}
    assert ("TQ-07", "overdue", None) in by_id
    assert ("DMM-04", "suspect", "CERT-2026-0467") in by_id
    # its results are suspect, in the results table too (the same status.py answer)
    dmm = {t["calibration_status"] for t in dhr["tests"] if t["equipment_id"] == "DMM-04"}
    assert dmm == {"suspect"}


def test_the_dhr_shipment_and_findings_are_the_units_own(dhr: dict[str, Any]) -> None:
    assert [(s["customer"], s["order_ref"]) for s in dhr["shipments"]] == [("Kestrel Pharma Ltd", "SO-5537")]
    own = [f for f in dhr["findings"] if f["serial_number"] == "SPX200-0004"]
    batch = [f for f in dhr["findings"] if f["serial_number"] is None]
    assert {f["rule"] for f in own} == {"calibration_overdue_at_use"} and len(own) == 2
    # the batch's DMM-04 event concerns every unit measured with it, this one included
    assert [(f["rule"], f["job_id"]) for f in batch] == [("calibration_out_of_tolerance", "J-1042")]
    assert len(dhr["findings"]) == 3


def test_unknown_job_or_serial_is_record_not_found(sample: duckdb.DuckDBPyConnection) -> None:
    with pytest.raises(RecordNotFound, match="J-0000"):
        batch_record(sample, "J-0000")
    with pytest.raises(RecordNotFound, match="SPX200-9999"):
        device_record(sample, "SPX200-9999")


def test_a_work_in_progress_batch_record_says_release_blocked_and_why(
        sample: duckdb.DuckDBPyConnection) -> None:
    doc = batch_record(sample, "J-1047", with_units=False)
    assert doc["release"]["status"] == "release blocked" and not doc["release"]["releasable"]
    assert any("NCR-0240" in r for r in doc["release"]["reasons"])
    assert doc["quantities"]["wip"] == 3 and doc["quantities"]["quarantined"] == 1


# ---------------------------------------------------------------- CLI


def test_cli_bmr_json_is_the_whole_record(sample_lake: Lake) -> None:
    result = CliRunner().invoke(app, ["bmr", "J-1042", "--lake", str(sample_lake.paths.root),
                                      "--format", "json"])
    assert result.exit_code == 0, result.output
    doc = json.loads(result.stdout)
    assert doc["job"]["job_id"] == "J-1042" and len(doc["units"]) == 10
    assert doc["release"]["status"] == "released"


def test_cli_findings_json_follows_the_contract(sample_lake: Lake) -> None:
    result = CliRunner().invoke(app, ["findings", "--job", "J-1047", "--lake",
                                      str(sample_lake.paths.root), "--format", "json"])
    assert result.exit_code == 0, result.output
    rows = json.loads(result.stdout)["findings"]
    assert {tuple(sorted(r)) for r in rows} == {("job_id", "message", "record", "rule", "serial_number",
                                                "severity")}
    assert {r["rule"] for r in rows} == {"open_ncr_at_release", "calibration_out_of_tolerance"}


def test_cli_dhr_of_an_unknown_serial_fails_in_one_line(sample_lake: Lake) -> None:
    result = CliRunner().invoke(app, ["dhr", "NOPE-1", "--lake", str(sample_lake.paths.root)])
    assert result.exit_code == 1
    assert result.stdout == "" and result.stderr.strip() == "error: serial NOPE-1 is not a unit in the lake"


def test_cli_writes_html_and_pdf_files(sample_lake: Lake, tmp_path: Path) -> None:
    for fmt in ("html", "pdf"):
        out = tmp_path / f"SPX200-0001.{fmt}"
        result = CliRunner().invoke(app, ["dhr", "SPX200-0001", "--lake", str(sample_lake.paths.root),
                                          "--format", fmt, "-o", str(out)])
        assert result.exit_code == 0, result.output
        assert out.stat().st_size > 1000
    assert (tmp_path / "SPX200-0001.pdf").read_bytes()[:5] == b"%PDF-"
    assert "SPX200-0001" in (tmp_path / "SPX200-0001.html").read_text(encoding="utf-8")
