"""Mappings that ship with tracelake, on files written in the real layouts of Odoo, ERPNext and
KiCad exports (column labels and technical names learnt from their sources), and the mapping
commands a user runs: list, check, init, and the one-line errors."""

from __future__ import annotations

import json
from pathlib import Path

import yaml
from typer.testing import CliRunner

from tests.helpers import Lake, write_csv
from tracelake.cli import app
from tracelake.intake.mapping import load_mapping, shipped_mappings

SHIPPED = {"calibration-register", "calibration-register-headerless", "erpnext-batch",
           "erpnext-serial-no", "erpnext-serial-and-batch-bundle", "kicad-bom", "odoo-stock-lot",
           "odoo-stock-move-line"}


def _cli(*args: str) -> object:
    return CliRunner().invoke(app, list(args))


def test_every_shipped_mapping_loads_and_is_listed() -> None:
    assert set(shipped_mappings()) == SHIPPED
    for name in SHIPPED:
        assert load_mapping(name).sources, name
    result = _cli("mapping", "list", "--format", "json")
    assert result.exit_code == 0
    listed = {m["name"]: m["tables"] for m in json.loads(result.stdout)["mappings"]}
    assert listed["calibration-register"] == ["calibrations", "equipment"]
    assert listed["odoo-stock-lot"] == ["lots"]


def test_odoo_lot_export_with_field_labels(lake: Lake, landing: Path) -> None:
    # Odoo's export dialog, labels as stock.lot defines them (product_expiry adds the expiry)
    f = write_csv(landing / "Lot-Serial Number (stock.lot).csv",
                  ["Lot/Serial Number", "Product", "Internal Reference", "Created on",
                   "Expiration Date", "Company"],
                  [["L77", "CAP-100", "SUP-8812", "2026-10-01 08:30:00", "2027-10-01 00:00:00",
                    "My Company"],
                   ["L78", "CAP-100", "", "2026-10-02 09:00:00", "", "My Company"]])
    result = _cli("ingest", str(f), "--mapping", "odoo-stock-lot", "--lake", str(lake.paths.root),
                  "--format", "json")
    assert result.exit_code == 0, result.output
    entry = json.loads(result.stdout)["files"][0]
    assert (entry["table"], entry["rows_loaded"], entry["rows_quarantined"]) == ("lots", 2, 0)
    rows = lake.query("SELECT lot_number, component_code, supplier_lot, supplier, "
                      "strftime(received_at, '%Y-%m-%d %H:%M'), strftime(expires_at, '%Y-%m-%d') "
                      "FROM lots ORDER BY 1")
    assert rows == [("L77", "CAP-100", "SUP-8812", "unknown", "2026-10-01 08:30", "2027-10-01"),
                    ("L78", "CAP-100", None, "unknown", "2026-10-02 09:00", None)]  # Odoo: UTC


def test_odoo_move_lines_with_import_compatible_names(lake: Lake, landing: Path) -> None:
    f = write_csv(landing / "stock.move.line.csv",
                  ["id", "reference", "product_id", "lot_id", "quantity", "product_uom_id",
                   "date", "create_uid", "location_id", "location_dest_id"],
                  [["__export__.stock_move_line_41_a1b2", "WH/MO/00012", "CAP-100", "L77", "20",
                    "Units", "2026-10-20 09:05:00", "Ann Patel", "WH/Stock",
                    "Virtual Locations/Production"]])
    report = lake.ingest(f, mapping=load_mapping("odoo-stock-move-line"))
    assert (report.files[0].table, report.files[0].rows_loaded) == ("material_issues", 1)
    assert lake.query("SELECT issue_id, job_id, component_code, lot_number, quantity, issued_by "
                      "FROM material_issues") == \
        [("__export__.stock_move_line_41_a1b2", "WH/MO/00012", "CAP-100", "L77", 20.0, "Ann Patel")]


def test_erpnext_batch_export(lake: Lake, landing: Path) -> None:
    # ERPNext's Batch doctype: batch_id "Batch ID", item "Item", supplier, expiry_date ...
    f = write_csv(landing / "Batch.csv",
                  ["ID", "Batch ID", "Item", "Supplier", "Manufacturing Date", "Expiry Date",
                   "Batch Quantity", "Batch UOM", "Created On"],
                  [["B-0042", "B-0042", "RES-10K", "Mouser Electronics", "2026-08-01",
                    "2028-08-01", "5000", "Nos", "2026-09-15 10:12:00"]])
    report = lake.ingest(f, mapping=load_mapping("erpnext-batch"))
    assert (report.files[0].table, report.files[0].rows_loaded) == ("lots", 1)
    assert lake.query("SELECT component_code, lot_number, supplier, quantity, uom FROM lots") == \
        [("RES-10K", "B-0042", "Mouser Electronics", 5000.0, "Nos")]


def test_erpnext_serial_no_export_with_field_names(lake: Lake, landing: Path) -> None:
    f = write_csv(landing / "serial_no.csv",
                  ["serial_no", "item_code", "batch_no", "supplier", "purchase_date", "status"],
                  [["PSU-000123", "PSU-24V", "", "Mean Well", "2026-09-01", "Active"]])
    report = lake.ingest(f, mapping=load_mapping("erpnext-serial-no"))
    assert report.files[0].rows_loaded == 1
    assert lake.query("SELECT lot_number, component_code, supplier, quantity FROM lots") == \
        [("PSU-000123", "PSU-24V", "Mean Well", 1.0)]


def test_a_kicad_bom_loads_into_mbr_bom_with_generated_line_numbers(
        lake: Lake, landing: Path, tmp_path: Path) -> None:
    # KiCad's schematic BOM export (grouped by value): Refs, Value, Datasheet, Footprint, Qty, DNP,
    # plus the user's MPN field
    f = write_csv(landing / "mainboard-bom.csv",
                  ["Refs", "Value", "Datasheet", "Footprint", "Qty", "DNP", "MPN"],
                  [["C1,C2,C3", "100n", "~", "Capacitor_SMD:C_0603_1608Metric", "3", "",
                    "GRM188R71H104KA93D"],
                   ["R1,R2", "10k", "~", "Resistor_SMD:R_0603_1608Metric", "2", "",
                    "RC0603FR-0710KL"],
                   ["U1", "STM32G431", "", "Package_QFP:LQFP-48", "1", "", "STM32G431CBT6"]])
    # the shipped mapping, copied and given this board's product and revision
    doc = yaml.safe_load(shipped_mappings()["kicad-bom"].read_text())
    doc["sources"][0]["constants"] |= {"product_code": "PCB-0007", "mbr_revision": "B"}
    mine = tmp_path / "kicad.yaml"
    mine.write_text(yaml.safe_dump(doc))
    report = lake.ingest(f, mapping=load_mapping(mine))
    assert (report.files[0].rows_loaded, report.files[0].rows_quarantined) == (3, 0)
    assert lake.query("SELECT line_no, component_code, qty_per, component_revision "
                      "FROM mbr_bom ORDER BY line_no") == \
        [(2, "GRM188R71H104KA93D", 3.0, "-"), (3, "RC0603FR-0710KL", 2.0, "-"),
         (4, "STM32G431CBT6", 1.0, "-")]
    # the shipped mapping alone names no product: one line, nothing half-loaded
    alone = lake.ingest(f, mapping=load_mapping("kicad-bom"), reread=True)
    assert alone.files[0].status == "rejected"
    assert "missing required column(s): product_code, mbr_revision" in alone.files[0].reason


# ---------------------------------------------------------------- one-line errors

def test_mapping_check_on_a_missing_file_or_a_misspelt_table(tmp_path: Path) -> None:
    missing = _cli("mapping", "check", str(tmp_path / "nope.csv"))
    assert missing.exit_code == 1
    assert missing.output.strip() == f"error: {tmp_path / 'nope.csv'}: no such file"
    f = write_csv(tmp_path / "x.csv", ["a"], [["1"]])
    typo = _cli("mapping", "check", str(f), "--table", "equipmnt")
    assert typo.exit_code == 2
    assert "--table equipmnt: no such table in the import contract (did you mean 'equipment'?)" \
        in typo.output
    assert "internal error" not in missing.output + typo.output


def test_mapping_errors_are_one_line(tmp_path: Path) -> None:
    f = write_csv(tmp_path / "units.csv", ["serial_number"], [["S-1"]])
    bad = tmp_path / "m.yaml"
    for text, expected in [
        ("sources:\n  - files: [a]\n    tabel: units\n", "unknown key 'tabel' (did you mean 'table'?)"),
        ("sources:\n  - files: [a]\n    table: unit\n",
         "table 'unit' is not in the import contract (did you mean 'units'?)"),
        ("sources:\n  - files: [a]\n    table: units\n    values: {stauts: {A: wip}}\n",
         "values: 'stauts' is not a column of units (did you mean 'status'?)"),
        ("sources: [\n", "not valid YAML"),
    ]:
        bad.write_text(text)
        result = _cli("ingest", str(f), "--mapping", str(bad), "--lake", str(tmp_path / "lake"))
        assert result.exit_code == 1, text
        assert len(result.output.strip().splitlines()) == 1 and expected in result.output, result.output
    unknown = _cli("ingest", str(f), "--mapping", "odoo-stok-lot", "--lake", str(tmp_path / "lake"))
    assert unknown.exit_code == 1 and "(did you mean 'odoo-stock-lot'?)" in unknown.output


def test_mapping_init_drafts_a_headerless_register_marking_its_guesses(tmp_path: Path) -> None:
    from tests.test_mapping_v2 import _headerless, _register_row

    f = _headerless(tmp_path / "gauges.csv", [
        _register_row("G-1", "1/31/2001", "1/31/2002", "IN-ACTIVE", "C-1"),
        _register_row("G-2", "3/12/2001", "3/12/2002", "ACTIVE", "C-2"),
        _register_row("G-3", "4/11/2001", "4/11/2002", "SCRAP", "C-3")])
    out = tmp_path / "draft.yaml"
    result = _cli("mapping", "init", str(f), "--table", "calibrations", "-o", str(out))
    assert result.exit_code == 0, result.output
    text = out.read_text()
    assert "header: false" in text
    assert "col1: equipment_id  # GUESS" in text
    assert "col6: calibrated_at  # GUESS" in text and "col7: due_at  # GUESS" in text
    assert "date_formats: ['%m/%d/%Y']" in text
    assert load_mapping(out).sources[0].table == "calibrations"  # the draft is a valid mapping
    equipment = _cli("mapping", "init", str(f), "--table", "equipment")
    assert "col11: status  # GUESS" in equipment.stdout
    assert "IN-ACTIVE: inactive  # GUESS" in equipment.stdout


#: Frappe's Data Export of a Serial and Batch Bundle (frappe/core/doctype/data_import/exporter.py):
#: parent fields by label, then the entries table's fields labelled "Label (entries)" (the table
#: field has no label, so its fieldname is used); an entry after the first is a row of its own
#: with every parent column written as "". An Outward bundle's entries hold negative quantities
#: (SerialandBatchBundle.calculate_total_qty) and its Total Qty is their sum.
BUNDLE_HEADER = ["ID", "Company", "Item Code", "Item Name", "Warehouse", "Type of Transaction",
                 "Total Qty", "Voucher Type", "Voucher No", "Posting Datetime", "Is Cancelled",
                 "Created By", "ID (entries)", "Batch No (entries)", "Serial No (entries)",
                 "Qty (entries)", "Warehouse (entries)"]
_BUNDLE = ["Acme Devices", "RES-10K", "Resistor 10k 0603", "Stores - AD", "Outward", "-350",
           "Stock Entry", "MAT-STE-2026-00012", "2026-10-20 09:05:00", "0", "ann@acme.example"]
BUNDLE_ROWS = [
    ["SABB-00000041", *_BUNDLE, "e7d1c0a4b1", "B-0042", "", "-200", "Stores - AD"],
    ["", *[""] * len(_BUNDLE), "e7d1c0a4b2", "B-0043", "", "-100", "Stores - AD"],
    ["", *[""] * len(_BUNDLE), "e7d1c0a4b3", "B-0044", "", "-50", "Stores - AD"],
    ["SABB-00000042", "Acme Devices", "CAP-100N", "Capacitor 100n 0603", "Stores - AD", "Outward",
     "-50", "Stock Entry", "MAT-STE-2026-00013", "2026-10-20 09:06:30", "0", "bob@acme.example",
     "e7d1c0a4b4", "C-0107", "", "-50", "Stores - AD"]]


def test_erpnext_bundle_with_three_entries_gives_three_issues(lake: Lake, landing: Path) -> None:
    f = write_csv(landing / "Serial and Batch Bundle.csv", BUNDLE_HEADER, BUNDLE_ROWS)
    report = lake.ingest(f, mapping=load_mapping("erpnext-serial-and-batch-bundle"))
    entry = report.files[0]
    assert (entry.table, entry.rows_read, entry.rows_loaded, entry.rows_quarantined) == \
        ("material_issues", 4, 4, 0)
    assert any("fill_down: 2 continuation row(s)" in n for n in entry.notes), entry.notes
    rows = lake.query("SELECT issue_id, job_id, component_code, lot_number, quantity, issued_by, "
                      "strftime(issued_at AT TIME ZONE 'Europe/London', '%Y-%m-%d %H:%M'), _row "
                      "FROM material_issues ORDER BY _row")
    assert rows == [
        ("e7d1c0a4b1", "MAT-STE-2026-00012", "RES-10K", "B-0042", 200.0, "ann@acme.example",
         "2026-10-20 09:05", 2),
        ("e7d1c0a4b2", "MAT-STE-2026-00012", "RES-10K", "B-0043", 100.0, "ann@acme.example",
         "2026-10-20 09:05", 3),
        ("e7d1c0a4b3", "MAT-STE-2026-00012", "RES-10K", "B-0044", 50.0, "ann@acme.example",
         "2026-10-20 09:05", 4),
        ("e7d1c0a4b4", "MAT-STE-2026-00013", "CAP-100N", "C-0107", 50.0, "bob@acme.example",
         "2026-10-20 09:06", 5)]
    # the bundle's issues add up to its own total, not three times it
    assert lake.scalar("SELECT sum(quantity) FROM material_issues "
                       "WHERE job_id = 'MAT-STE-2026-00012'") == 350.0
    # the bundle's columns that no alias maps stay as the file wrote them (in _extra)
    assert lake.scalar("SELECT _extra->>'$.\"Total Qty\"' FROM material_issues "
                       "WHERE _row = 3") is None


def test_erpnext_bundle_inward_rows_and_leading_continuations_are_quarantined(
        lake: Lake, landing: Path) -> None:
    # an Inward bundle (stock received, positive quantities) is no issue; a continuation row
    # with no record above it has nothing to take: both are quarantined, nothing is guessed
    rows = [["", *[""] * len(_BUNDLE), "orphan01", "B-0001", "", "-5", "Stores - AD"],
            *BUNDLE_ROWS[:2],
            ["SABB-00000050", "Acme Devices", "RES-10K", "Resistor 10k 0603", "Stores - AD",
             "Inward", "20", "Stock Entry", "MAT-STE-2026-00020", "2026-10-21 10:00:00", "0",
             "ann@acme.example", "e7d1c0a4c1", "B-0042", "", "20", "Stores - AD"]]
    f = write_csv(landing / "Serial and Batch Bundle.csv", BUNDLE_HEADER, rows)
    entry = lake.ingest(f, mapping=load_mapping("erpnext-serial-and-batch-bundle")).files[0]
    assert (entry.rows_read, entry.rows_loaded, entry.rows_quarantined) == (4, 2, 2)
    assert lake.query("SELECT issue_id, quantity FROM material_issues ORDER BY 1") == [
        ("e7d1c0a4b1", 200.0), ("e7d1c0a4b2", 100.0)]
    quarantined = dict(lake.query("SELECT row_number, string_agg(column_name, ',' ORDER BY "
                                  "column_name) FROM quarantine GROUP BY 1"))
    assert set(quarantined) == {2, 5}
    assert "job_id" in quarantined[2] and "component_code" in quarantined[2]
    assert quarantined[5] == "quantity"
    # the quarantine keeps the row as the file wrote it (empty bundle columns), not as filled
    raw = json.loads(lake.scalar("SELECT raw FROM quarantine WHERE row_number = 2 LIMIT 1"))
    assert raw["Item Code"] in ("", None) and raw["ID (entries)"] == "orphan01"


def test_erpnext_bundle_one_entry_per_bundle_still_loads(lake: Lake, landing: Path) -> None:
    # bundles of one entry each (the layout the mapping asked for before fill_down)
    f = write_csv(landing / "Serial and Batch Bundle.csv", BUNDLE_HEADER,
                  [BUNDLE_ROWS[0], BUNDLE_ROWS[3]])
    entry = lake.ingest(f, mapping=load_mapping("erpnext-serial-and-batch-bundle")).files[0]
    assert (entry.rows_loaded, entry.rows_quarantined) == (2, 0)
    assert not any("fill_down" in n for n in entry.notes)
    assert lake.query("SELECT lot_number, quantity FROM material_issues ORDER BY 1") == [
        ("B-0042", 200.0), ("C-0107", 50.0)]

