"""Mappings v2 (import contract "Mapping additions"): value maps, generated columns, one source
feeding several tables, folder patterns, and the date rule: day and month never guessed."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from tests.helpers import Lake, report_of, write_csv
from tracelake.errors import MappingError
from tracelake.intake.mapping import load_mapping

REGISTER = Path("/work/shared/realworld/calibration-register")
LONDON = ZoneInfo("Europe/London")
REG_COLUMNS = ["CSCODE", "DESC", "MANUFAC", "MDLNUM", "SERNUM", "DATECAL", "NEXTCAL", "FREQ",
               "TOLERANCE", "LOCATION", "REMARKS", "OWNER", "CALHOUR", "CALBY", "STATUS",
               "CONSIGN", "ASSETNUM", "GRR_REQ", "GRR_DUE", "GRR", "GRR_DATE", "GRR_PER",
               "GRR_CHAR", "IMTE_PER", "REPNUM", "REC_UPDATE", "DATECREAT"]


def _mapping(tmp_path: Path, text: str) -> object:
    path = tmp_path / "mapping.yaml"
    path.write_text(text)
    return load_mapping(path)


def _local_day(value: dt.datetime) -> dt.date:
    return value.astimezone(LONDON).date()


def _register_row(code: str, cal: str, due: str, status: str, cert: str, by: str = "8553",
                  remark: str = "Within tolerance") -> list[str]:
    row = dict.fromkeys(REG_COLUMNS, "")
    row |= {"CSCODE": code, "DESC": f"GAUGE {code}", "DATECAL": cal, "NEXTCAL": due,
            "REMARKS": status, "CALBY": by, "STATUS": "AAA", "IMTE_PER": remark, "REPNUM": cert,
            "LOCATION": "CAL LAB"}
    return [row[c] for c in REG_COLUMNS]


def _headerless(path: Path, rows: list[list[str]]) -> Path:
    path.write_text("\n".join(",".join(r) for r in rows) + "\n")
    return path


# ---------------------------------------------------------------- the real register, both forms

# read by hand from calibration.csv / QA.xlsx: (CSCODE, DATECAL, NEXTCAL)
BY_HAND = [("Q3TM001", dt.date(2015, 8, 18), dt.date(2016, 8, 17)),
           ("14OPC01", dt.date(2004, 9, 9), dt.date(2005, 9, 9)),
           ("Q2XRF001", dt.date(2010, 4, 27), dt.date(2011, 1, 25)),
           ("Q2DST001", dt.date(2015, 10, 15), dt.date(2016, 8, 15)),
           ("Q1UC001", dt.date(2014, 6, 10), dt.date(2016, 4, 11)),   # 6/10, 4/11: month first
           ("Q3SW004", dt.date(2015, 11, 25), dt.date(2016, 5, 25)),
           # verification only (frequency 0): due = calibrated, as the register writes it
           ("Q4HDM001", dt.date(2009, 2, 15), dt.date(2009, 2, 15)),
           ("Q4TMM001", dt.date(2005, 10, 10), dt.date(2005, 10, 10)),
           ("Q2MP002", dt.date(2007, 11, 28), dt.date(2007, 11, 28)),
           ("Q4HDM006", dt.date(2015, 5, 25), dt.date(2015, 5, 25))]
STATUS_BY_HAND = {"15SPT01": "inactive", "Q2XRF001": "scrapped", "Q2FOG001": "out_for_repair",
                  "15AWS01": "missing", "Q2DST001": "active", "14SFG01": "active",
                  "15PP01": "out_for_repair"}


def _csv_dates_month_first() -> dict[str, tuple[dt.date, dt.date]]:
    """Every certified, dated row of calibration.csv read with the csv module and strptime."""
    import csv

    with (REGISTER / "calibration.csv").open(encoding="cp1252", newline="") as fh:
        rows = [dict(zip(REG_COLUMNS, r, strict=True)) for r in csv.reader(fh)]
    day = lambda v: dt.datetime.strptime(v, "%m/%d/%Y").date()  # noqa: E731
    return {r["CSCODE"]: (day(r["DATECAL"]), day(r["NEXTCAL"])) for r in rows
            if r["REPNUM"] and r["DATECAL"] and r["NEXTCAL"]}


@pytest.mark.parametrize(("file", "mapping"), [("calibration.csv", "calibration-register-headerless"),
                                               ("QA.xlsx", "calibration-register")])
def test_the_real_register_loads_every_instrument_and_every_certified_calibration(
        lake: Lake, file: str, mapping: str) -> None:
    report = lake.ingest(REGISTER / file, mapping=load_mapping(mapping))
    by_table = {f.table: f for f in report.files}
    assert by_table["equipment"].rows_loaded == 222 and by_table["equipment"].rows_quarantined == 0
    assert dict(lake.query("SELECT equipment_id, status FROM equipment WHERE equipment_id IN "
                           f"{tuple(STATUS_BY_HAND)}")) == STATUS_BY_HAND
    cal = by_table["calibrations"]
    # 177 rows carry a report number: 159 calibrations with a later due date and 16
    # verification-only records (due date = calibration date, frequency 0: "verification only",
    # "Scale accuracy check only") load; the 2 with a placeholder report number ("0-00.39553")
    # and no dates at all are quarantined with their reason, never loaded with an invented date.
    assert cal.rows_loaded == 175
    certified_out = lake.query("""
        SELECT rule, column_name, json_extract_string(raw, '$.CSCODE'), message FROM quarantine
        WHERE table_name = 'calibrations' AND json_extract_string(raw, '$.REPNUM') IS NOT NULL
        ORDER BY 3, 2""")
    assert certified_out == [
        ("required", "calibrated_at", "Q2PTS004", "calibrated_at is required but empty"),
        ("required", "due_at", "Q2PTS004", "due_at is required but empty"),
        ("required", "calibrated_at", "Q2PTS005", "calibrated_at is required but empty"),
        ("required", "due_at", "Q2PTS005", "due_at is required but empty")]
    # rows with no report number are no calibration on record: quarantined, counted
    assert cal.rows_quarantined == 222 - 175
    got = {r[0]: (_local_day(r[1]), _local_day(r[2])) for r in lake.query(
        "SELECT equipment_id, calibrated_at, due_at FROM calibrations")}
    for code, cal_day, due_day in BY_HAND:
        assert got[code] == (cal_day, due_day), code
    # no wrong date anywhere: every stored date is the file's, read month first
    assert got == _csv_dates_month_first()
    assert lake.scalar("SELECT count(*) FROM calibrations WHERE due_at < calibrated_at") == 0
    # the register has no as-found field (IMTE_PER is a free-text remark, kept in _extra)
    assert lake.scalar("SELECT count(*) FROM calibrations WHERE as_found = 'not_recorded'") == 175
    assert lake.scalar("SELECT json_extract_string(_extra, '$.IMTE_PER') FROM calibrations "
                       "WHERE equipment_id = 'Q4TMM001'") == "new/ verification only"


def test_the_headerless_register_needs_no_date_hint(lake: Lake) -> None:
    report = lake.ingest(REGISTER / "calibration.csv",
                         mapping=load_mapping("calibration-register-headerless"))
    cal = next(f for f in report.files if f.table == "calibrations")
    assert "date order read from the data: calibrated_at as %m/%d/%Y; due_at as %m/%d/%Y" \
        in "; ".join(cal.notes)


# ---------------------------------------------------------------- the date rule, on own files

def test_a_column_only_one_order_allows_is_read_that_way(lake: Lake, landing: Path) -> None:
    f = _headerless(landing / "reg.csv", [_register_row("G-1", "3/12/2001", "1/31/2002", "ACTIVE", "C-1"),
                                          _register_row("G-2", "1/31/2001", "3/12/2002", "ACTIVE", "C-2")])
    lake.ingest(f, mapping=load_mapping("calibration-register-headerless"))
    got = {r[0]: (_local_day(r[1]), _local_day(r[2])) for r in lake.query(
        "SELECT equipment_id, calibrated_at, due_at FROM calibrations")}
    assert got == {"G-1": (dt.date(2001, 3, 12), dt.date(2002, 1, 31)),
                   "G-2": (dt.date(2001, 1, 31), dt.date(2002, 3, 12))}


def test_a_column_that_fits_both_orders_is_rejected_naming_it_and_the_key(
        lake: Lake, landing: Path) -> None:
    f = _headerless(landing / "reg.csv", [_register_row("G-1", "3/12/2001", "3/12/2002", "ACTIVE", "C-1"),
                                          _register_row("G-2", "4/11/2001", "4/11/2002", "ACTIVE", "C-2")])
    report = lake.ingest(f, mapping=load_mapping("calibration-register-headerless"))
    cal = next(r for r in report.files if r.table == "calibrations")
    assert cal.status == "rejected"
    assert "every date in calibrated_at (e.g. '3/12/2001') fits both day-first and month-first" \
        in (cal.reason or "")
    assert "date_formats: ['%m/%d/%Y'] if month first" in (cal.reason or "")
    assert lake.scalar("SELECT count(*) FROM calibrations") == 0
    assert next(r for r in report.files if r.table == "equipment").status == "loaded"


def test_dates_that_contradict_each_other_are_rejected(lake: Lake, landing: Path) -> None:
    f = write_csv(landing / "calibrations.csv",
                  ["equipment_id", "calibrated_at", "due_at", "certificate_no", "calibrated_by"],
                  [["G-1", "31/1/2001", "2002-01-31", "C-1", "lab"],
                   ["G-2", "1/31/2001", "2002-01-31", "C-2", "lab"]])
    reason = report_of(lake.ingest(f), "calibrations.csv")["reason"]
    assert "contradict each other: '31/1/2001' is day-first but '1/31/2001' is month-first" in reason


def test_a_value_against_the_declared_order_is_quarantined_wrong_type(
        lake: Lake, landing: Path, tmp_path: Path) -> None:
    f = write_csv(landing / "calibrations.csv",
                  ["equipment_id", "calibrated_at", "due_at", "certificate_no", "calibrated_by"],
                  [["G-1", "25/1/2001", "25/1/2002", "C-1", "lab"],
                   ["G-2", "1/31/2001", "25/1/2002", "C-2", "lab"]])
    mapping = _mapping(tmp_path, "sources:\n  - files: ['calibrations*']\n    table: calibrations\n"
                                 "    dayfirst: true\n")
    report = report_of(lake.ingest(f, mapping=mapping), "calibrations.csv")
    assert (report["rows_loaded"], report["quarantined_by_rule"]) == (1, {"wrong_type": 1})
    message = lake.scalar("SELECT message FROM quarantine")
    assert message.startswith("calibrated_at = '1/31/2001' does not fit the date order")


# ---------------------------------------------------------------- values, generated, tables, folders

def test_values_maps_words_and_names_the_key_for_a_word_it_lacks(
        lake: Lake, landing: Path, tmp_path: Path) -> None:
    f = write_csv(landing / "rig.csv",
                  ["SN", "Step", "Meas", "Value", "Status", "Time", "Op"],
                  [["SN-1", "VOUT", "v", "5.0", "Passed", "2026-10-20T09:00", "ann"],
                   ["SN-2", "VOUT", "v", "5.1", "failed", "2026-10-20T09:01", "ann"],
                   ["SN-3", "VOUT", "v", "5.2", "Done", "2026-10-20T09:02", "ann"]])
    mapping = _mapping(tmp_path, """
sources:
  - name: rig
    files: [rig.csv]
    table: test_results
    aliases: {SN: serial_number, Step: test_step, Meas: measurement, Status: result,
              Time: tested_at, Op: operator}
    constants: {equipment_id: RIG-3}
    values:
      result: {Passed: pass, Failed: fail}
""")
    report = report_of(lake.ingest(f, mapping=mapping), "rig.csv")
    assert (report["rows_loaded"], report["rows_quarantined"]) == (2, 1)
    assert sorted(lake.query("SELECT serial_number, result FROM test_results")) == \
        [("SN-1", "pass"), ("SN-2", "fail")]
    message = lake.scalar("SELECT message FROM quarantine")
    assert "result = 'Done' is not one of: pass, fail" in message
    assert "values: map of result (source 'rig') does not hold 'Done'" in message


def test_a_values_map_naming_an_unknown_column_is_one_line(tmp_path: Path) -> None:
    with pytest.raises(MappingError, match=r"values: 'reslt' is not a column of test_results "
                                           r"\(did you mean 'result'\?\)"):
        _mapping(tmp_path, "sources:\n  - files: [a]\n    table: test_results\n"
                           "    values: {reslt: {Passed: pass}}\n")
    with pytest.raises(MappingError, match="maps to 'activ', which is not one of: active"):
        _mapping(tmp_path, "sources:\n  - files: [a]\n    table: equipment\n"
                           "    values: {status: {ON: activ}}\n")


def test_yes_and_no_stay_words_in_a_values_map(tmp_path: Path) -> None:
    mapping = _mapping(tmp_path, "sources:\n  - files: [a]\n    table: mbr_bom\n"
                                 "    values: {critical: {YES: true, N/A: false, 'NO': false}}\n")
    assert mapping.sources[0].values == {"critical": {"YES": "true", "N/A": "false", "NO": "false"}}


def test_generated_row_and_file_columns(lake: Lake, landing: Path, tmp_path: Path) -> None:
    f = write_csv(landing / "bom-pcb7.csv", ["Part", "Qty"], [["R-10K", "4"], ["C-100N", "2"]])
    mapping = _mapping(tmp_path, """
sources:
  - files: ["bom-*.csv"]
    table: mbr_bom
    aliases: {Part: component_code, Qty: qty_per}
    constants: {line_no: {from: row}, product_code: {from: file}, mbr_revision: A,
                component_revision: "-"}
""")
    lake.ingest(f, mapping=mapping)
    assert lake.query("SELECT line_no, product_code, component_code FROM mbr_bom ORDER BY 1") == \
        [(2, "bom-pcb7.csv", "R-10K"), (3, "bom-pcb7.csv", "C-100N")]


def test_folder_patterns_and_a_pattern_that_matches_nothing(lake: Lake, landing: Path,
                                                             tmp_path: Path) -> None:
    header = ["product_code", "mbr_revision", "component_code", "component_revision", "qty_per"]
    write_csv(landing / "site-b" / "2026" / "nov" / "bom-main.csv", header,
              [["P-1", "A", "R-1", "A", "2"]])
    write_csv(landing / "site-a" / "bom-main.csv", header, [["P-2", "A", "R-1", "A", "2"]])
    mapping = _mapping(tmp_path, """
sources:
  - name: site b boms
    files: ["site-b/**/bom*.csv"]
    table: mbr_bom
    constants: {line_no: {from: row}}
  - name: site c boms
    files: ["site-c/**/bom*.csv"]
    table: mbr_bom
""")
    report = lake.ingest(landing, mapping=mapping)
    assert lake.query("SELECT product_code FROM mbr_bom") == [("P-1",)]
    assert report.warnings == ["mapping source 'site c boms': pattern 'site-c/**/bom*.csv' "
                               "matched no file of this run"]
    assert report.as_dict()["warnings"] == report.warnings
    site_a = next(f for f in report.files if "site-a" in f.path)
    assert site_a.status == "unrecognised"


def test_one_source_feeds_two_tables_each_with_its_own_map(lake: Lake, landing: Path,
                                                           tmp_path: Path) -> None:
    f = write_csv(landing / "register.csv", ["Gauge", "Name", "State", "Cal", "Due", "Cert", "By"],
                  [["G-1", "Caliper", "In use", "2026-01-10", "2027-01-10", "C-1", "lab"],
                   ["G-2", "Scale", "Broken", "2026-02-10", "2027-02-10", "", "lab"]])
    mapping = _mapping(tmp_path, """
sources:
  - name: register
    files: [register.csv]
    tables:
      equipment:
        aliases: {Gauge: equipment_id, Name: description, State: status}
        values: {status: {In use: active, Broken: out_for_repair}}
      calibrations:
        aliases: {Gauge: equipment_id, Cal: calibrated_at, Due: due_at, Cert: certificate_no,
                  By: calibrated_by}
""")
    report = lake.ingest(f, mapping=mapping)
    assert sorted((r.table, r.status, r.rows_loaded) for r in report.files) == \
        [("calibrations", "loaded", 1), ("equipment", "loaded", 2)]
    assert sorted(lake.query("SELECT equipment_id, status FROM equipment")) == \
        [("G-1", "active"), ("G-2", "out_for_repair")]
    assert lake.query("SELECT equipment_id, as_found, as_left FROM calibrations") == \
        [("G-1", "not_recorded", "not_recorded")]
