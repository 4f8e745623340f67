"""Import contract v2 tables at work: goods-in lots in where-used, recall exports and the BMR;
customers' contacts in recall exports; the findings on lots and equipment status."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.helpers import JOB_HEADER, OP_HEADER, UNIT_HEADER, Lake, job_row, op_row, write_csv
from tracelake.derived.findings import list_findings
from tracelake.derived.genealogy import where_used
from tracelake.exports.recall import recall_frame
from tracelake.lake.snapshot import open_snapshot
from tracelake.records.bmr import batch_record

ISSUE_HEADER = ["issue_id", "job_id", "component_code", "lot_number", "quantity", "issued_at",
                "issued_by"]
LOT_HEADER = ["component_code", "lot_number", "supplier", "supplier_lot", "received_at",
              "expires_at", "certificate_ref", "inspection_status"]


@pytest.fixture
def plant(lake: Lake, landing: Path) -> Lake:
    write_csv(landing / "jobs.csv", JOB_HEADER, [job_row("J-1")])
    write_csv(landing / "units.csv", UNIT_HEADER, [["SN-1", "SPX-200", "J-1", "shipped"],
                                                   ["SN-2", "SPX-200", "J-1", "passed"]])
    write_csv(landing / "material_issues.csv", ISSUE_HEADER, [
        ["I-1", "J-1", "CAP-100", "L77", "20", "2026-10-20T09:00", "A.Patel"],
        ["I-2", "J-1", "GEL-5", "G9", "1", "2026-10-20T09:10", "A.Patel"],
        ["I-3", "J-1", "SCR-2", "S1", "8", "2026-10-20T09:20", "A.Patel"]])
    write_csv(landing / "lots.csv", LOT_HEADER, [
        ["CAP-100", "L77", "Kemet", "K-5512", "2026-09-01T08:00", "2027-09-01", "COC-7781",
         "accepted"],
        ["GEL-5", "G9", "Dow", "D-1", "2026-01-01T08:00", "2026-10-01", "COA-1", "accepted"],
        ["SCR-2", "S1", "Wurth", "W-1", "2026-09-01T08:00", "", "", "on_hold"]])
    write_csv(landing / "shipments.csv",
              ["serial_number", "customer", "order_ref", "shipped_at", "ship_to_country"],
              [["SN-1", "Acme Medical", "PO-9", "2026-10-25T10:00", "DE"]])
    write_csv(landing / "customers.csv",
              ["customer", "contact_name", "email", "phone", "address", "country"],
              [["Acme Medical", "Dr. Eva Braun", "eva@acme.example", "+49 30 1234",
                "Hauptstr. 1, 10115 Berlin", "DE"]])
    write_csv(landing / "equipment.csv",
              ["equipment_id", "description", "status", "calibration_required"],
              [["TQ-9", "Torque driver", "out_for_repair", ""],
               ["FIX-1", "Holding fixture", "", "no"]])
    write_csv(landing / "operations.csv", OP_HEADER, [
        op_row(op_seq=20, op_code="TORQUE", equipment_id="TQ-9"),
        op_row(op_seq=30, op_code="HOLD", equipment_id="FIX-1")])
    write_csv(landing / "calibrations.csv",
              ["equipment_id", "calibrated_at", "due_at", "certificate_no", "as_found", "as_left",
               "calibrated_by"],
              [["TQ-9", "2026-01-01T09:00", "2026-06-01T09:00", "CAL-1", "", "", "lab"]])
    lake.ingest(landing)
    return lake


def test_where_used_and_the_recall_export_carry_goods_in_and_consignee(plant: Lake) -> None:
    con = open_snapshot(plant.paths)
    try:
        answer = where_used(con, "CAP-100", "L77")
    finally:
        con.close()
    assert answer.goods_in[0]["supplier"] == "Kemet"
    assert answer.goods_in[0]["certificate_ref"] == "COC-7781"
    assert answer.as_dict()["consignees"]["Acme Medical"]["address"] == "Hauptstr. 1, 10115 Berlin"
    frame = recall_frame(answer)
    shipped = frame.filter(frame["serial_number"] == "SN-1").row(0, named=True)
    assert (shipped["contact_name"], shipped["email"], shipped["phone"], shipped["address"],
            shipped["country"], shipped["ship_to_country"]) == \
        ("Dr. Eva Braun", "eva@acme.example", "+49 30 1234", "Hauptstr. 1, 10115 Berlin", "DE",
         "DE")
    assert (shipped["supplier"], shipped["supplier_lot"], shipped["certificate_ref"]) == \
        ("Kemet", "K-5512", "COC-7781")
    assert shipped["expires_at"].year == 2027
    in_house = frame.filter(frame["serial_number"] == "SN-2").row(0, named=True)
    assert in_house["contact_name"] is None and in_house["supplier"] == "Kemet"


def test_lot_and_equipment_findings(plant: Lake) -> None:
    con = open_snapshot(plant.paths)
    try:
        found = {(f.rule, f.record): f for f in list_findings(con)}
        bmr = batch_record(con, "J-1")
    finally:
        con.close()
    expired = found[("lot_expired_at_use", "material_issues:I-2")]
    assert "lot GEL-5/G9 from Dow (their lot D-1) was used on 2026-10-20" in expired.message
    assert "after it expired (2026-10-01" in expired.message
    held = found[("lot_unusable_at_use", "material_issues:I-3")]
    assert held.severity == "critical" and "is on hold at goods-in" in held.message
    assert ("lot_expired_at_use", "material_issues:I-1") not in found
    out = found[("equipment_out_of_service_at_use", "operations:J-1/20")]
    assert "the equipment register has it out for repair" in out.message
    # CAL-1 (January) records no as-found; TQ-9 was used only after it (October), so no result
    # in the lake waits on that judgement: minor (major when a use precedes it)
    assert found[("calibration_as_found_not_recorded", "calibrations:TQ-9/CAL-1")].severity == \
        "minor"
    # a fixture that needs no calibration: never overdue, its use no finding
    fixture = [f for f in found.values() if "FIX-1" in f.message]
    assert fixture == []
    # the BMR's material table shows the goods-in record
    mats = {m["issue_id"]: m for m in bmr["materials"]}
    assert (mats["I-1"]["supplier"], mats["I-1"]["certificate_ref"]) == ("Kemet", "COC-7781")
    assert mats["I-3"]["inspection_status"] == "on_hold"


def test_lots_named_but_not_received_are_orphans_once_lots_arrive(plant: Lake,
                                                                  landing: Path) -> None:
    write_csv(landing / "material_issues_2.csv", ISSUE_HEADER,
              [["I-9", "J-1", "CAP-100", "L99", "5", "2026-10-21T09:00", "A.Patel"]])
    plant.ingest(landing / "material_issues_2.csv")
    assert plant.query("SELECT value, referenced_table FROM orphan_references "
                       "WHERE kind = 'lot' AND referenced_table = 'lots'") == \
        [("CAP-100/L99", "lots")]


def test_without_lots_no_lot_is_an_orphan_of_goods_in(lake: Lake, landing: Path) -> None:
    write_csv(landing / "jobs.csv", JOB_HEADER, [job_row("J-1")])
    write_csv(landing / "material_issues.csv", ISSUE_HEADER,
              [["I-1", "J-1", "CAP-100", "L77", "20", "2026-10-20T09:00", "A.Patel"]])
    lake.ingest(landing)
    assert lake.scalar("SELECT count(*) FROM orphan_references WHERE referenced_table = 'lots'") == 0
