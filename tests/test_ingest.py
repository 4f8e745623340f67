"""The import contract's promises, one bad input class at a time, on a real DuckDB lake."""

from __future__ import annotations

from pathlib import Path

import openpyxl
import pytest

from tests.helpers import (
    JOB_HEADER,
    OP_HEADER,
    UNIT_HEADER,
    Lake,
    job_row,
    op_row,
    report_of,
    write_csv,
)
from tracelake.errors import LakeError
from tracelake.intake.mapping import load_mapping


def _accounting_holds(report) -> None:  # type: ignore[no-untyped-def]
    for f in report.files:
        assert f.rows_read == f.rows_loaded + f.rows_quarantined, f.path


def test_valid_rows_load_with_lineage(lake: Lake, landing: Path) -> None:
    path = write_csv(landing / "jobs.csv", JOB_HEADER, [job_row("J-1"), job_row("J-2")])
    report = lake.ingest(landing)
    entry = report_of(report, "jobs.csv")
    assert {k: entry[k] for k in ("status", "rows_read", "rows_loaded", "rows_quarantined")} == {
        "status": "loaded", "rows_read": 2, "rows_loaded": 2, "rows_quarantined": 0}
    rows = lake.query("SELECT job_id, _source_file, _sha256, _row, _run_id FROM jobs "
                      "ORDER BY job_id")
    assert [(r[0], r[1], r[3], r[4]) for r in rows] == [
        ("J-1", str(path), 2, report.run_id), ("J-2", str(path), 3, report.run_id)]
    assert rows[0][2] == report.files[0].sha256


def test_required_field_blank_on_some_rows_quarantines_only_those(lake: Lake,
                                                                  landing: Path) -> None:
    write_csv(landing / "operations.csv", OP_HEADER,
              [op_row(op_seq=10), op_row(op_seq=20, operator=""), op_row(op_seq=30)])
    report = lake.ingest(landing)
    assert report_of(report, "operations.csv")["rows_quarantined"] == 1
    assert lake.query("SELECT row_number, column_name, rule, message FROM quarantine") == [
        (3, "operator", "required", "operator is required but empty")]
    raw = lake.scalar("SELECT raw FROM quarantine")
    assert '"op_seq":"20"' in raw and '"operator":null' in raw
    assert lake.scalar("SELECT count(*) FROM operations") == 2


def test_missing_required_column_rejects_the_whole_file(lake: Lake, landing: Path) -> None:
    header = [c for c in OP_HEADER if c != "operator"]
    write_csv(landing / "operations.csv", header, [op_row()[:4] + op_row()[5:]])
    report = lake.ingest(landing)
    entry = report_of(report, "operations.csv")
    assert entry["status"] == "rejected"
    assert entry["reason"].startswith("missing required column(s): operator")
    assert (entry["rows_read"], entry["rows_loaded"], entry["rows_quarantined"]) == (0, 0, 0)
    assert lake.scalar("SELECT count(*) FROM operations") == 0
    assert lake.scalar("SELECT count(*) FROM quarantine") == 0


def test_wrong_type_and_value_outside_allowed_set(lake: Lake, landing: Path) -> None:
    write_csv(landing / "units.csv", UNIT_HEADER, [
        ["S1", "SPX-200", "J-1", "wip"], ["S2", "SPX-200", "J-1", "finished"]])
    write_csv(landing / "jobs.csv", JOB_HEADER, [job_row("J-1", quantity="ten")])
    report = lake.ingest(landing)
    _accounting_holds(report)
    assert lake.query("SELECT table_name, row_number, column_name, rule FROM quarantine "
                      "ORDER BY table_name") == [
        ("jobs", 2, "quantity", "wrong_type"), ("units", 3, "status", "not_allowed")]


def test_duplicate_natural_keys_inside_a_file_are_all_quarantined(lake: Lake,
                                                                   landing: Path) -> None:
    write_csv(landing / "jobs.csv", JOB_HEADER,
              [job_row("J-1"), job_row("J-1", quantity=12), job_row("J-2")])
    report = lake.ingest(landing)
    assert report_of(report, "jobs.csv")["quarantined_by_rule"] == {"duplicate_key": 2}
    assert lake.query("SELECT job_id FROM jobs") == [("J-2",)]


def test_the_same_file_ingested_twice_loads_nothing_the_second_time(lake: Lake,
                                                                     landing: Path) -> None:
    write_csv(landing / "jobs.csv", JOB_HEADER, [job_row("J-1")])
    first = lake.ingest(landing)
    second = lake.ingest(landing)
    assert first.files[0].status == "loaded"
    assert second.files[0].status == "duplicate"
    assert second.totals == {"files": 1, "rows_read": 0, "rows_loaded": 0,
                             "rows_quarantined": 0}
    assert lake.scalar("SELECT count(*) FROM jobs") == 1


def test_identical_bytes_under_another_name_are_a_duplicate(lake: Lake, landing: Path) -> None:
    write_csv(landing / "jobs_a.csv", JOB_HEADER, [job_row("J-1")])
    write_csv(landing / "jobs_b.csv", JOB_HEADER, [job_row("J-1")])
    report = lake.ingest(landing)
    assert [f.status for f in report.files] == ["loaded", "duplicate"]


def test_a_changed_re_export_updates_by_key_and_keeps_the_old_version(lake: Lake,
                                                                     tmp_path: Path) -> None:
    first = write_csv(tmp_path / "a" / "jobs-export-1.csv", JOB_HEADER,
                      [job_row("J-1"), job_row("J-2")])
    lake.ingest(first)
    second = write_csv(tmp_path / "b" / "jobs-export-2.csv", JOB_HEADER,
                       [job_row("J-1"), job_row("J-2", status="released",
                                                released_at="2026-11-06T16:00")])
    report = lake.ingest(second)
    entry = report_of(report, "jobs-export-2.csv")
    assert (entry["rows_inserted"], entry["rows_updated"], entry["rows_unchanged"]) == (0, 1, 1)
    assert lake.query("SELECT job_id, status, _source_file FROM jobs ORDER BY job_id") == [
        ("J-1", "in_progress", str(first)), ("J-2", "released", str(second))]
    assert lake.query("SELECT job_id, status, _source_file, _superseded_by_file "
                      "FROM history.jobs") == [("J-2", "in_progress", str(first), str(second))]


def test_a_row_naming_an_unknown_job_is_loaded_and_listed(lake: Lake, landing: Path) -> None:
    write_csv(landing / "units.csv", UNIT_HEADER, [["S1", "SPX-200", "J-9999", "wip"]])
    write_csv(landing / "products.csv", ["product_code", "description", "serialised"],
              [["SPX-200", "Spectrophotometer", "true"]])
    report = lake.ingest(landing)
    assert report.orphan_references == 1
    assert lake.scalar("SELECT count(*) FROM units") == 1
    assert lake.query("SELECT table_name, value, kind, referenced_table, row_number "
                      "FROM orphan_references") == [("units", "J-9999", "job", "jobs", 2)]
    write_csv(landing / "jobs.csv", JOB_HEADER, [job_row("J-9999")])
    assert lake.ingest(landing).orphan_references == 0  # the missing record arrived


def test_a_file_whose_name_matches_no_table_is_left_alone(lake: Lake, landing: Path) -> None:
    write_csv(landing / "stock_levels_2026-11.csv", ["part", "qty"], [["C1", 3]])
    report = lake.ingest(landing)
    entry = report_of(report, "stock_levels_2026-11.csv")
    assert entry["status"] == "unrecognised" and entry["table"] is None
    assert "matches no table" in entry["reason"]


def test_table_names_are_matched_longest_first(lake: Lake, landing: Path) -> None:
    write_csv(landing / "mbr_bom-rev-C.csv", ["product_code", "mbr_revision", "line_no",
                                             "component_code", "component_revision", "qty_per"],
              [["SPX-200", "C", 10, "PCB-MAIN", "A", 1]])
    assert lake.ingest(landing).files[0].table == "mbr_bom"


def test_empty_and_header_only_files(lake: Lake, landing: Path) -> None:
    (landing / "units-empty.csv").write_bytes(b"")
    write_csv(landing / "units-header-only.csv", UNIT_HEADER, [])
    report = lake.ingest(landing)
    empty, header_only = report_of(report, "units-empty.csv"), report_of(
        report, "units-header-only.csv")
    assert (empty["status"], empty["reason"]) == ("rejected",
                                                  "file is empty (0 bytes): nothing to load")
    assert (header_only["status"], header_only["rows_read"]) == ("loaded", 0)
    assert header_only["notes"] == ["no data rows (header only)"]


def test_truncated_last_line_is_quarantined_with_its_reason(lake: Lake, landing: Path) -> None:
    path = write_csv(landing / "operations.csv", OP_HEADER, [op_row(op_seq=10)])
    with path.open("a") as fh:
        fh.write("J-1,20,TEST,SN-1,A.Pat")
    report = lake.ingest(landing)
    assert report_of(report, "operations.csv")["quarantined_by_rule"] == {"truncated_row": 1}
    assert lake.scalar("SELECT raw FROM quarantine") == '{"line": "J-1,20,TEST,SN-1,A.Pat"}'


def test_windows_1252_bom_and_semicolon_files_load(lake: Lake, landing: Path) -> None:
    write_csv(landing / "products-cp1252.csv", ["product_code", "description", "serialised"],
              [["TH-1", "Thermistor ±0.1 °C, 10 µA, £4.20", "no"]], encoding="cp1252")
    write_csv(landing / "equipment-bom.csv", ["equipment_id", "description"],
              [["RIG-3", "Functional test rig"]], encoding="utf-8-sig")
    write_csv(landing / "shipments-semicolon.csv",
              ["serial_number", "customer", "order_ref", "shipped_at"],
              [["SN-1", "Kestrel Pharma Ltd", "SO-1", "2026-11-10T10:00"]], delimiter=";")
    report = lake.ingest(landing)
    assert {f.status for f in report.files} == {"loaded"}
    assert report.totals["rows_quarantined"] == 0
    assert lake.scalar("SELECT description FROM products") == "Thermistor ±0.1 °C, 10 µA, £4.20"


def test_day_first_dates_load_with_a_mapping(lake: Lake, tmp_path: Path) -> None:
    landing = tmp_path / "landing"
    write_csv(landing / "STK_ISSUE_0425.csv",
              ["Issue", "Works Order", "Part No", "Lot", "Qty", "Issued", "By"],
              [["I-1", "J-1", "CAP-100", "L-4471", "20", "25/10/2026 14:05", "Stores"]])
    mapping = tmp_path / "mapping.yaml"
    mapping.write_text("""
sources:
  - name: sage-stores
    files: ["STK_ISSUE*.csv"]
    table: material_issues
    dayfirst: true
    aliases: {Issue: issue_id, Works Order: job_id, Part No: component_code, Lot: lot_number,
              Qty: quantity, Issued: issued_at, By: issued_by}
""")
    report = lake.ingest(landing, mapping=load_mapping(mapping))
    assert report.files[0].status == "loaded" and report.files[0].rows_loaded == 1
    assert str(lake.scalar("SELECT issued_at FROM material_issues")).startswith(
        "2026-10-25 14:05:00")


def test_xlsx_with_several_sheets_and_a_formula_error(lake: Lake, landing: Path) -> None:
    wb = openpyxl.Workbook()
    wb.active.title = "Summary"
    wb.active.append(["exported by QMS"])
    ws = wb.create_sheet("test_results")
    ws.append(["serial_number", "equipment_id", "test_step", "measurement", "value", "result",
               "tested_at", "operator"])
    ws.append(["S1", "RIG-3", "FT", "noise", 0.2, "pass", "2026-10-20T09:00", "op"])
    ws.append(["S2", "RIG-3", "FT", "noise", "#DIV/0!", "pass", "2026-10-20T09:05", "op"])
    wb.create_sheet("Pivot")
    wb.save(landing / "test_results-week43.xlsx")
    report = lake.ingest(landing)
    entry = report_of(report, "test_results-week43.xlsx")
    assert (entry["sheet"], entry["rows_read"], entry["rows_loaded"]) == ("test_results", 2, 1)
    assert entry["quarantined_by_rule"] == {"formula_error": 1}
    assert lake.query("SELECT row_number, column_name FROM quarantine") == [(3, "value")]


def test_unknown_extra_columns_are_kept_and_reported_once(lake: Lake, landing: Path) -> None:
    write_csv(landing / "jobs.csv", [*JOB_HEADER, "Planner", "Notes"],
              [[*job_row("J-1"), "KW", "rush"], [*job_row("J-2"), "KW", ""]])
    report = lake.ingest(landing)
    assert report.files[0].extra_columns == ["Planner", "Notes"]
    assert lake.scalar("SELECT _extra FROM jobs WHERE job_id = 'J-1'") == \
        '{"Planner":"KW","Notes":"rush"}'


def test_a_failure_part_way_leaves_the_lake_as_it_was(lake: Lake, landing: Path,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    write_csv(landing / "jobs.csv", JOB_HEADER, [job_row("J-1")])
    lake.ingest(landing)
    write_csv(landing / "units.csv", UNIT_HEADER, [["S1", "SPX-200", "J-1", "wip"]])
    write_csv(landing / "jobs_2.csv", JOB_HEADER, [job_row("J-2")])
    from tracelake.lake import orphans

    def boom(*args):  # type: ignore[no-untyped-def]
        raise OSError("disk full")

    monkeypatch.setattr(orphans, "refresh", boom)
    with pytest.raises(LakeError, match=r"disk full; nothing of run .* was committed"):
        lake.ingest(landing)
    assert lake.query("SELECT job_id FROM jobs") == [("J-1",)]
    assert lake.scalar("SELECT count(*) FROM units") == 0
    assert lake.scalar("SELECT count(*) FROM ingest_runs") == 1
    assert lake.scalar("SELECT count(*) FROM ingest_files") == 1


def test_every_run_and_file_is_in_the_ledger(lake: Lake, landing: Path) -> None:
    write_csv(landing / "jobs.csv", JOB_HEADER, [job_row("J-1")])
    write_csv(landing / "whatever.csv", ["a"], [[1]])
    report = lake.ingest(landing)
    assert lake.query("SELECT run_id, files, rows_loaded, status FROM ingest_runs") == [
        (report.run_id, 2, 1, "committed")]
    assert sorted(lake.query("SELECT file_name, status FROM ingest_files")) == [
        ("jobs.csv", "loaded"), ("whatever.csv", "unrecognised")]
