"""Mapping files: patterns to tables, header aliases, header-less columns, constants, encodings."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.helpers import Lake, write_csv
from tracelake.errors import MappingError
from tracelake.intake.headers import check_headers
from tracelake.intake.mapping import load_mapping
from tracelake.intake.names import normalise_header, table_from_name


@pytest.mark.parametrize(("name", "table"), [
    ("material_issues.csv", "material_issues"),
    ("material_issues_2026-11-01.xlsx", "material_issues"),
    ("test_results-rig3.jsonl", "test_results"),
    ("Units.CSV", "units"),
    ("unit_components.csv", "unit_components"),
    ("mbr_bom.csv", "mbr_bom"),
    ("mbr.csv", "mbr"),
    ("unitsX.csv", None),
    ("stock_levels.csv", None),
])
def test_table_is_recognised_from_the_file_name(name: str, table: str | None) -> None:
    assert table_from_name(name) == table


@pytest.mark.parametrize(("header", "column"), [
    ("Serial Number", "serial_number"), ("serial-number", "serial_number"),
    (" JOB_ID ", "job_id"), ("\ufeffproduct_code", "product_code")])
def test_headers_match_ignoring_case_spaces_and_dashes(header: str, column: str) -> None:
    assert normalise_header(header) == column


def test_check_headers_lists_what_a_file_still_needs() -> None:
    report = check_headers(["Serial", "Part", "Job", "Status", "Colour"], "units")
    assert report.mapped == {"Status": "status"}
    assert report.missing_required == ["serial_number", "product_code", "job_id"]
    assert report.suggestions["Serial"] == "serial_number"
    assert "aliases" in report.as_yaml("units-export.csv")


def test_a_header_less_export_with_constants(lake: Lake, tmp_path: Path) -> None:
    landing = tmp_path / "landing"
    landing.mkdir()
    (landing / "RIG3_20261020.csv").write_text(
        "SPX200-0001,FT,noise,0.12,0,0.5,PASS,2026-10-20T09:00,j.smith\n"
        "SPX200-0002,FT,noise,0.61,0,0.5,FAIL,2026-10-20T09:10,j.smith\n")
    mapping = tmp_path / "rig3.yaml"
    mapping.write_text("""
timezone: Europe/London
sources:
  - name: rig-3 logger
    files: ["RIG3_*.csv"]
    table: test_results
    header: false
    columns: [serial_number, test_step, measurement, value, low_limit, high_limit, result,
              tested_at, operator]
    constants: {equipment_id: RIG-3}
""")
    report = lake.ingest(landing, mapping=load_mapping(mapping))
    assert (report.files[0].rows_loaded, report.files[0].source) == (2, "rig-3 logger")
    assert lake.query("SELECT serial_number, equipment_id, result FROM test_results "
                      "ORDER BY 1") == [("SPX200-0001", "RIG-3", "pass"),
                                       ("SPX200-0002", "RIG-3", "fail")]


def test_a_forced_encoding_is_used(lake: Lake, tmp_path: Path) -> None:
    landing = tmp_path / "landing"
    write_csv(landing / "products.csv", ["product_code", "description", "serialised"],
              [["P-1", "Sonde 5 µm", "y"]], encoding="latin-1")
    mapping = tmp_path / "m.yaml"
    mapping.write_text("sources:\n  - files: [products.csv]\n    table: products\n"
                       "    encoding: latin-1\n")
    lake.ingest(landing, mapping=load_mapping(mapping))
    assert lake.scalar("SELECT description FROM products") == "Sonde 5 µm"


@pytest.mark.parametrize(("text", "message"), [
    ("sources: 3", "expected a 'sources:' list"),
    ("sources:\n  - files: [a.csv]\n    table: stock", "'stock' is not in the import contract"),
    ("sources:\n  - table: units", "'files' must list"),
    ("sources:\n  - files: [a.csv]\n    table: units\n    aliases: {X: colour}",
     "'colour' is not a column of units"),
    ("sources:\n  - files: [a.csv]\n    flavour: mint", "unknown key 'flavour'"),
    ("timezone: Mars/Olympus\nsources: []", "unknown time zone"),
    ("sources:\n  - files: [a.csv]\n    header: false", "'header: false' needs a 'columns'"),
    ("sources: [", "not valid YAML"),
])
def test_a_broken_mapping_is_reported_in_one_line(tmp_path: Path, text: str,
                                                  message: str) -> None:
    path = tmp_path / "m.yaml"
    path.write_text(text)
    with pytest.raises(MappingError) as info:
        load_mapping(path)
    assert message in str(info.value)
    assert "\n" not in str(info.value)


def test_declared_date_formats_read_a_us_register(lake: Lake, tmp_path: Path) -> None:
    landing = tmp_path / "landing"
    landing.mkdir()
    (landing / "gauges.csv").write_text(
        "15PP01,PROFILE PROJECTOR,12/11/2002,6/9/2003,R.SAVA,R-77\n"
        "15DG05,DEPTH GAUGE,,,TEAM,\n")
    mapping = tmp_path / "m.yaml"
    mapping.write_text("""
sources:
  - files: [gauges.csv]
    table: calibrations
    header: false
    date_formats: ["%m/%d/%Y"]
    columns: [equipment_id, DESC, calibrated_at, due_at, calibrated_by, certificate_no]
    constants: {as_found: not_applicable, as_left: not_applicable}
""")
    report = lake.ingest(landing, mapping=load_mapping(mapping))
    assert (report.files[0].rows_loaded, report.files[0].rows_quarantined) == (1, 1)
    # dates alone are local midnight, stored as UTC (the June date is 23:00 UTC the day before)
    assert lake.query("SELECT strftime(calibrated_at, '%Y-%m-%d %H:%M'), "
                      "strftime(due_at, '%Y-%m-%d %H:%M') FROM calibrations") == [
        ("2002-12-11 00:00", "2003-06-08 23:00")]
    assert lake.scalar("SELECT _extra FROM calibrations") == '{"DESC":"PROFILE PROJECTOR"}'


def test_common_export_headers_are_suggested_never_applied() -> None:
    report = check_headers(["CSCODE", "DATECAL", "NEXTCAL", "CALBY", "REPNUM", "TOLERANCE"],
                           "calibrations")
    assert report.mapped == {}
    assert report.suggestions == {"CSCODE": "equipment_id", "DATECAL": "calibrated_at",
                                  "NEXTCAL": "due_at", "CALBY": "calibrated_by",
                                  "REPNUM": "certificate_no"}
