"""Readers: CSV (delimiter and encoding detected), XLSX and JSON Lines, with source row numbers."""

from __future__ import annotations

from pathlib import Path

import openpyxl
import pytest

from tracelake.errors import FileRejected
from tracelake.intake.readers import ROW, detect_delimiter, read_source


def test_windows_1252_text_is_decoded_not_mangled(tmp_path: Path) -> None:
    path = tmp_path / "products.csv"
    path.write_bytes("product_code,description\nTH-1,Thermistor ±0.1 °C 10 µA £4.20\n"
                     .encode("cp1252"))
    raw = read_source(path)
    assert raw.encoding == "windows-1252"
    assert raw.frame["description"].to_list() == ["Thermistor ±0.1 °C 10 µA £4.20"]


def test_utf8_bom_does_not_leak_into_the_first_header(tmp_path: Path) -> None:
    path = tmp_path / "equipment.csv"
    path.write_bytes("\ufeffequipment_id,description\nRIG-3,Functional rig\n".encode())
    raw = read_source(path)
    assert raw.encoding == "utf-8-sig"
    assert raw.frame.columns[0] == "equipment_id"


@pytest.mark.parametrize(("line", "expected"), [
    ("a,b,c", ","), ("a;b;c", ";"), ("a\tb\tc", "\t"), ('"x;y",b,c', ","), ("single", ","),
])
def test_delimiter_is_detected_from_the_header(line: str, expected: str) -> None:
    assert detect_delimiter(line) == expected


def test_semicolon_csv_is_read(tmp_path: Path) -> None:
    path = tmp_path / "shipments.csv"
    path.write_text("serial_number;customer\nSN-1;Kestrel Pharma Ltd\n")
    raw = read_source(path)
    assert raw.delimiter == ";"
    assert raw.frame.row(0, named=True)["customer"] == "Kestrel Pharma Ltd"


def test_row_numbers_count_the_header_as_row_one(tmp_path: Path) -> None:
    path = tmp_path / "units.csv"
    path.write_text('serial_number,note\nA,x\nB,"two\nlines"\nC,y\n')
    raw = read_source(path)
    assert raw.frame[ROW].to_list() == [2, 3, 4]  # a quoted line break stays one row


def test_truncated_last_line_is_a_problem_row_not_a_silent_null(tmp_path: Path) -> None:
    path = tmp_path / "operations.csv"
    path.write_bytes(b"a,b,c,d\n1,2,3,4\n5,6,7,8\n9,1")
    raw = read_source(path)
    assert raw.frame.height == 2
    assert raw.problems.rows(named=True)[0] | {"raw": None} == {
        ROW: 4, "column": "c", "rule": "truncated_row", "raw": None,
        "message": "has 2 of 4 fields: the file looks cut off (its last line has no line end)"}
    assert raw.rows_read == 3


def test_short_and_long_rows_in_the_middle_are_problems(tmp_path: Path) -> None:
    path = tmp_path / "units.csv"
    path.write_text("a,b,c\n1,2,3\n4,5\n6,7,8,9\n10,11,12\n")
    raw = read_source(path)
    assert raw.frame[ROW].to_list() == [2, 5]
    assert dict(zip(raw.problems[ROW], raw.problems["rule"], strict=True)) == {
        3: "missing_fields", 4: "extra_fields"}


def test_empty_file_is_rejected(tmp_path: Path) -> None:
    path = tmp_path / "units.csv"
    path.write_bytes(b"")
    with pytest.raises(FileRejected, match="empty"):
        read_source(path)


def test_header_only_file_has_no_rows_and_says_so(tmp_path: Path) -> None:
    path = tmp_path / "units.csv"
    path.write_text("serial_number,product_code,job_id,status\n")
    raw = read_source(path)
    assert raw.frame.height == 0
    assert raw.notes == ["no data rows (header only)"]


def test_bytes_that_are_neither_utf8_nor_windows_1252_are_rejected_with_the_line(
        tmp_path: Path) -> None:
    path = tmp_path / "units.csv"
    path.write_bytes(b"a,b\nok,fine\nbad,\x81\x8d\n")
    with pytest.raises(FileRejected, match=r"0x81 at line 3"):
        read_source(path)


def test_jsonl_lines_that_are_not_json_are_problems_with_their_line(tmp_path: Path) -> None:
    path = tmp_path / "test_results.jsonl"
    path.write_text('{"serial_number": "A", "value": 1.5}\nnot json\n\n'
                    '{"serial_number": "B", "value": null, "ok": true}\n')
    raw = read_source(path)
    assert raw.frame[ROW].to_list() == [1, 4]
    assert raw.frame["value"].to_list() == ["1.5", None]
    assert raw.frame["ok"].to_list() == [None, "true"]
    assert raw.problems[ROW].to_list() == [2]


def _workbook(path: Path, sheets: dict[str, list[list[object]]]) -> Path:
    wb = openpyxl.Workbook()
    wb.remove(wb.active)
    for name, rows in sheets.items():
        ws = wb.create_sheet(name)
        for row in rows:
            ws.append(row)
    wb.save(path)
    return path


def test_xlsx_reads_the_sheet_named_like_the_table(tmp_path: Path) -> None:
    path = _workbook(tmp_path / "ncrs.xlsx", {
        "Summary": [["notes"], ["ignore me"]],
        "ncrs": [["ncr_id", "defect_code"], ["NCR-1", "LAMP"]],
        "Pivot": [["x"]]})
    raw = read_source(path, table="ncrs")
    assert raw.sheet == "ncrs"
    assert raw.frame["ncr_id"].to_list() == ["NCR-1"]
    assert raw.notes == ["read sheet 'ncrs'; other sheets not read: Summary, Pivot"]


def test_xlsx_without_a_table_sheet_reads_the_first(tmp_path: Path) -> None:
    path = _workbook(tmp_path / "ncrs.xlsx", {"Export": [["ncr_id"], ["NCR-9"]],
                                              "Other": [["x"]]})
    assert read_source(path, table="ncrs").sheet == "Export"


def test_xlsx_formula_error_cell_is_a_problem_row(tmp_path: Path) -> None:
    path = _workbook(tmp_path / "test_results.xlsx", {"test_results": [
        ["serial_number", "value"], ["A", 1.5], ["B", "#DIV/0!"], ["C", 2.0]]})
    raw = read_source(path, table="test_results")
    assert raw.frame["serial_number"].to_list() == ["A", "C"]
    problem = raw.problems.row(0, named=True)
    assert (problem[ROW], problem["column"], problem["rule"]) == (3, "value", "formula_error")
    assert "#DIV/0!" in problem["message"]
    assert '"serial_number":"B"' in problem["raw"]


def test_quoted_and_unquoted_files_report_ragged_rows_alike(tmp_path: Path) -> None:
    plain = tmp_path / "a.csv"
    plain.write_bytes(b"a,b,c\n1,2,3\n4,5\n6,7,8,9\n10,11,12\n13,1")
    quoted = tmp_path / "b.csv"  # a quote anywhere sends the file through DuckDB's reader
    quoted.write_bytes(b'a,b,c\n"1",2,3\n4,5\n6,7,8,9\n10,11,12\n13,1')
    one, two = read_source(plain), read_source(quoted)
    assert one.frame[ROW].to_list() == two.frame[ROW].to_list() == [2, 5]
    assert one.problems.select(ROW, "column", "rule").rows() == \
        two.problems.select(ROW, "column", "rule").rows() == [
            (3, "c", "missing_fields"), (4, None, "extra_fields"), (6, "c", "truncated_row")]
