"""``fill_down`` (continuation rows take their record's columns) and ``negate`` (an export's
sign turned over): the functions, the mapping checks, ``mapping check`` and ingest, on CSV and
on XLSX (where Frappe's and Odoo's Excel exports leave the cells empty rather than "")."""

from __future__ import annotations

import json
from pathlib import Path

import openpyxl
import polars as pl
import pytest
import yaml
from typer.testing import CliRunner

from tests.helpers import Lake, write_csv
from tests.test_shipped_mappings import BUNDLE_HEADER, BUNDLE_ROWS
from tracelake.cli import app
from tracelake.errors import MappingError
from tracelake.intake.fill_down import apply_fill_down, match_fill_down
from tracelake.intake.mapping import load_mapping


def _mapping(tmp_path: Path, source: dict[str, object]) -> Path:
    path = tmp_path / "map.yaml"
    path.write_text(yaml.safe_dump({"sources": [{"name": "mrp", "files": ["*"], **source}]}))
    return path


def test_a_continuation_row_takes_its_records_first_row_not_the_last_value_seen() -> None:
    frame = pl.DataFrame({
        "_row": [2, 3, 4, 5, 6],
        "Doc": ["D1", None, "", "D2", None],
        "Who": ["ann", None, " ", None, None],  # D2 has no Who: its entries keep none
        "Line": ["a", "b", "c", "d", "e"]})
    filled, rows = apply_fill_down(frame, ("Doc", "Who"), "_row")
    assert rows == 3
    assert filled.rows() == [(2, "D1", "ann", "a"), (3, "D1", "ann", "b"), (4, "D1", "ann", "c"),
                             (5, "D2", None, "d"), (6, "D2", None, "e")]


def test_rows_before_the_first_record_and_in_other_order_are_handled() -> None:
    frame = pl.DataFrame({"_row": [4, 2, 3], "Doc": ["D1", None, None], "Line": ["c", "a", "b"]})
    filled, rows = apply_fill_down(frame, ("Doc",), "_row")
    # file order is the row number's (rows 2 and 3 have no record above them and stay empty);
    # the frame keeps its own order
    assert rows == 0 and filled.rows() == [(4, "D1", "c"), (2, None, "a"), (3, None, "b")]
    assert apply_fill_down(frame, (), "_row") == (frame, 0)


def test_names_match_headers_as_written_ignoring_case_or_by_canonical_column() -> None:
    source = load_mapping("erpnext-serial-and-batch-bundle").sources[0]
    # field-name headers (item_code ...) match the label forms the mapping lists
    assert match_fill_down(["name", "item_code", "voucher_no", "owner", "qty"], "material_issues",
                           source) == ("item_code", "voucher_no", "owner")


def test_mapping_names_an_unknown_fill_down_column(tmp_path: Path) -> None:
    bad = _mapping(tmp_path, {"table": "material_issues", "aliases": {"Item Code": "component_code"},
                              "fill_down": ["Itme Code"]})
    with pytest.raises(MappingError) as err:
        load_mapping(bad)
    message = str(err.value)
    assert message.startswith(f"{bad}: source 'mrp': fill_down: 'Itme Code' is not")
    assert "(did you mean 'Item Code'?)" in message and "\n" not in message
    # the same one line from `tracelake mapping check`, exit 1
    f = write_csv(tmp_path / "material_issues.csv", ["Item Code"], [["X"]])
    result = CliRunner().invoke(app, ["mapping", "check", str(f), "--mapping", str(bad)])
    assert result.exit_code == 1
    assert result.stderr.strip() == f"error: {message}"
    # canonical names, alias headers (any case) and a headerless file's columns are known
    load_mapping(_mapping(tmp_path, {"table": "material_issues", "fill_down": ["job_id"],
                                     "aliases": {"Item Code": "component_code"}}))
    load_mapping(_mapping(tmp_path, {"table": "material_issues", "fill_down": ["ITEM code"],
                                     "aliases": {"Item Code": "component_code"}}))
    headerless = {"table": "material_issues", "header": False, "columns": ["a", "b"]}
    load_mapping(_mapping(tmp_path, headerless | {"fill_down": ["a"]}))
    with pytest.raises(MappingError, match="fill_down: 'c' is not one of its 'columns'"):
        load_mapping(_mapping(tmp_path, headerless | {"fill_down": ["c"]}))
    with pytest.raises(MappingError, match="'fill_down' must list column names"):
        load_mapping(_mapping(tmp_path, {"table": "material_issues", "fill_down": {"a": 1}}))


def test_negate_names_a_number_column_of_the_table(tmp_path: Path) -> None:
    with pytest.raises(MappingError, match="negate: 'quantty' is not a column of material_issues "
                                           r"\(did you mean 'quantity'\?\)"):
        load_mapping(_mapping(tmp_path, {"table": "material_issues", "negate": ["quantty"]}))
    with pytest.raises(MappingError, match="negate: 'job_id' is not a number column"):
        load_mapping(_mapping(tmp_path, {"table": "material_issues", "negate": ["job_id"]}))


def test_mapping_check_shows_the_columns_carried_down(tmp_path: Path) -> None:
    f = write_csv(tmp_path / "Serial and Batch Bundle.csv", BUNDLE_HEADER, BUNDLE_ROWS)
    result = CliRunner().invoke(app, ["mapping", "check", str(f), "--table", "material_issues",
                                      "--mapping", "erpnext-serial-and-batch-bundle",
                                      "--format", "json"])
    assert result.exit_code == 0, result.output
    doc = json.loads(result.stdout)
    assert doc["fill_down"] == ["Item Code", "Voucher No", "Posting Datetime", "Created By"]
    assert doc["missing_required"] == []
    assert doc["mapped"]["Qty (entries)"] == "quantity" and "Total Qty" in doc["unmapped"]


def test_xlsx_export_with_empty_cells_fills_down(lake: Lake, landing: Path) -> None:
    path = landing / "Serial and Batch Bundle.xlsx"
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.title = "Serial and Batch Bundle"
    ws.append(BUNDLE_HEADER)
    for row in BUNDLE_ROWS:
        ws.append([None if v == "" else v for v in row])  # Excel: empty cells, not ""
    wb.save(path)
    entry = lake.ingest(path, mapping=load_mapping("erpnext-serial-and-batch-bundle")).files[0]
    assert (entry.rows_loaded, entry.rows_quarantined) == (4, 0), entry.reason
    assert lake.query("SELECT job_id, component_code, count(*), sum(quantity) "
                      "FROM material_issues GROUP BY ALL ORDER BY 1") == [
        ("MAT-STE-2026-00012", "RES-10K", 3, 350.0), ("MAT-STE-2026-00013", "CAP-100N", 1, 50.0)]


def test_fill_down_on_a_source_feeding_two_tables(lake: Lake, landing: Path,
                                                  tmp_path: Path) -> None:
    # an Odoo-style export: an equipment record, then its calibrations on rows of their own
    mapping = tmp_path / "register.yaml"
    mapping.write_text(yaml.safe_dump({"sources": [{
        "name": "register", "files": ["register*.csv"], "fill_down": ["Gauge", "Name"],
        "tables": {
            "equipment": {"aliases": {"Gauge": "equipment_id", "Name": "description"}},
            "calibrations": {"aliases": {"Gauge": "equipment_id", "Cal/Date": "calibrated_at",
                                         "Cal/Due": "due_at", "Cal/Cert": "certificate_no",
                                         "Cal/By": "calibrated_by"},
                             "constants": {"as_found": "in_tolerance",
                                           "as_left": "in_tolerance"}}}}]}))
    f = write_csv(landing / "register.csv",
                  ["Gauge", "Name", "Cal/Date", "Cal/Due", "Cal/Cert", "Cal/By"],
                  [["G-1", "Caliper", "2026-01-05", "2026-07-05", "C1", "lab"],
                   ["", "", "2026-07-01", "2027-01-01", "C2", "lab"],
                   ["G-2", "Micrometer", "2026-02-01", "2027-02-01", "C3", "lab"]])
    report = lake.ingest(f, mapping=load_mapping(mapping))
    by_table = {e.table: e for e in report.files}
    assert by_table["calibrations"].rows_loaded == 3
    # equipment reads the same filled rows: G-1 now stands twice in the file, a duplicate key
    # that neither row wins (quarantined, said), where without fill_down row 3 lacked its id
    assert (by_table["equipment"].rows_loaded, by_table["equipment"].rows_quarantined) == (1, 2)
    assert lake.query("SELECT equipment_id, certificate_no FROM calibrations ORDER BY 2") == [
        ("G-1", "C1"), ("G-1", "C2"), ("G-2", "C3")]


def test_a_changed_fill_down_reads_the_file_again(lake: Lake, landing: Path,
                                                  tmp_path: Path) -> None:
    f = write_csv(landing / "Serial and Batch Bundle.csv", BUNDLE_HEADER, BUNDLE_ROWS)
    shipped = yaml.safe_load(Path(load_mapping("erpnext-serial-and-batch-bundle").path or "")
                             .read_text())
    without = tmp_path / "without.yaml"
    del shipped["sources"][0]["fill_down"]
    without.write_text(yaml.safe_dump(shipped))
    first = lake.ingest(f, mapping=load_mapping(without)).files[0]
    assert (first.rows_loaded, first.rows_quarantined) == (2, 2)  # the entries lack their bundle
    second = lake.ingest(f, mapping=load_mapping("erpnext-serial-and-batch-bundle")).files[0]
    assert second.status == "loaded" and second.reread
    assert second.rows_loaded == 4
    # the earlier reading's quarantine rows (job, item, time, who of rows 3 and 4) are closed
    assert second.quarantine_closed == 8
    assert lake.scalar("SELECT count(*) FROM quarantine WHERE superseded_by_run IS NULL") == 0
    assert lake.scalar("SELECT count(*) FROM material_issues") == 4
