"""The overview: the sample story's open items (NCR-0240 pending, J-1047 blocked, J-1042's majors
waiting, DMM-04's suspect results), held lots in house and recorded dispositions read from the
tables other parts of tracelake add, and ``tracelake overview/spc/lot-effects`` as JSON."""

from __future__ import annotations

import datetime as dt
import json
import shutil
from pathlib import Path

import duckdb
import pytest
from typer.testing import CliRunner

from tests.helpers import Lake
from tracelake.cli import app
from tracelake.derived.overview import overview

AS_OF = dt.datetime(2026, 11, 11, 9, 0, tzinfo=dt.UTC)  # the morning after the export cut-off
runner = CliRunner()


def test_the_sample_storys_open_items(sample: duckdb.DuckDBPyConnection) -> None:
    doc = overview(sample, as_of=AS_OF)
    assert doc["counts"] == {"open_ncrs": 1, "jobs_blocked": 1, "jobs_waiting_for_review": 2,
                             "equipment": 1, "lots_held_in_house": 0,
                             "rows_quarantined_last_run": 0, "orphan_references": 0}
    ncr = doc["ncrs"]["items"][0]
    assert (ncr["ncr_id"], ncr["disposition"], ncr["age_days"], ncr["age_bucket"]) == (
        "NCR-0240", "pending", 5, "0–7 days")  # raised 2026-11-05 10:05Z
    assert ncr["link"] == "device?serial=SPX200-0013"
    assert doc["ncrs"]["by_disposition"] == {"pending": 1}
    jobs = {j["job_id"]: j for j in doc["jobs"]["items"]}
    assert list(jobs) == ["J-1047", "J-1042", "J-1044"]  # blocked first
    assert jobs["J-1047"]["state"] == "release blocked"
    assert jobs["J-1047"]["top_findings"][0]["record"] == "ncrs:NCR-0240"
    assert jobs["J-1042"]["state"] == "waiting for review"
    assert jobs["J-1042"]["majors_waiting"] == 7  # DMM-04's finding and TQ-07's six overdue uses
    assert jobs["J-1042"]["link"] == "batch?job=J-1042"
    [dmm] = doc["equipment"]["items"]
    assert dmm["equipment_id"] == "DMM-04" and dmm["reasons"] == ["suspect_results"]
    assert (dmm["suspect_results"], dmm["suspect_units"]) == (36, 16)  # as the README counts
    assert dmm["jobs_to_assess"] == ["J-1042", "J-1044", "J-1047"]
    assert dmm["link"] == "calibration?equipment=DMM-04"
    assert doc["lots"]["available"] is False
    assert doc["ingest"]["last_run"]["run_id"] and doc["ingest"]["rows_quarantined"] == 0


def test_equipment_due_soon_and_overdue(sample: duckdb.DuckDBPyConnection) -> None:
    due = {r["equipment_id"]: r["due_at"] for r in
           sample.sql("SELECT equipment_id, max(due_at) AS due_at FROM calibrations "
                      "GROUP BY ALL").pl().iter_rows(named=True)}
    first = min(due.values())
    doc = overview(sample, as_of=first - dt.timedelta(days=10))
    reasons = {i["equipment_id"]: i["reasons"] for i in doc["equipment"]["items"]}
    soonest = min(due, key=due.__getitem__)
    assert "due" in reasons[soonest]
    later = overview(sample, as_of=first + dt.timedelta(days=1))
    assert "overdue" in {i["equipment_id"]: i["reasons"]
                         for i in later["equipment"]["items"]}[soonest]


@pytest.fixture
def writable(sample_lake: Lake, tmp_path: Path) -> duckdb.DuckDBPyConnection:
    """A writable copy of the sample's snapshot, for tables the lake does not have yet."""
    copy = tmp_path / "serving.duckdb"
    shutil.copy(sample_lake.paths.serving, copy)
    con = duckdb.connect(str(copy))
    con.execute("SET TimeZone = 'UTC'")
    return con


def test_held_lots_count_the_units_still_in_house(writable: duckdb.DuckDBPyConnection) -> None:
    writable.execute("""CREATE TABLE IF NOT EXISTS main.lots (component_code VARCHAR,
                        lot_number VARCHAR, supplier VARCHAR, inspection_status VARCHAR)""")
    writable.execute("""INSERT INTO main.lots BY NAME SELECT * FROM (VALUES
        ('CAP-100', 'L-4471', 'Farwell Components Ltd', 'recalled'),
        ('LAMP-D2', 'L-8801', 'Lumatec Lamps GmbH', 'on_hold'),
        ('OPT-GRAT', 'L-3051', 'Holografix Optics Ltd', 'accepted'))
        t(component_code, lot_number, supplier, inspection_status)""")
    doc = overview(writable, as_of=AS_OF)
    lots = {(i["component_code"], i["lot_number"]): i for i in doc["lots"]["items"]}
    assert set(lots) == {("CAP-100", "L-4471"), ("LAMP-D2", "L-8801")}
    cap = lots[("CAP-100", "L-4471")]
    # in house: the two devices in stock and the two spare PCBs (top-level); the PCBs inside
    # the devices are counted by their device, the shipped devices not at all
    assert set(cap["serials"]) == {"SPX200-0007", "SPX200-0010", "PCB-M-0111", "PCB-M-0112"}
    assert cap["units_in_house"] == 4
    lamp = lots[("LAMP-D2", "L-8801")]
    assert set(lamp["serials"]) == {"SPX200-0010"}  # 0007's lamp of L-8801 was replaced
    assert lamp["link"] == "recall?component=LAMP-D2&lot=L-8801"
    assert doc["counts"]["lots_held_in_house"] == 2


def test_dispositions_recorded_in_review_tables_take_jobs_off_the_list(
        writable: duckdb.DuckDBPyConnection) -> None:
    writable.execute("CREATE SCHEMA review")
    writable.execute("""CREATE TABLE review.dispositions AS SELECT
        'calibration_out_of_tolerance' AS rule, 'calibrations:DMM-04/CERT-2026-0467' AS record,
        'use_as_is' AS disposition""")
    doc = overview(writable, as_of=AS_OF)
    jobs = {j["job_id"]: j for j in doc["jobs"]["items"]}
    assert "J-1044" not in jobs  # its only major was DMM-04's
    assert jobs["J-1042"]["majors_waiting"] == 6
    assert doc["equipment"]["items"] == []  # DMM-04's suspect results are dispositioned


def _run(*args: str) -> dict:  # type: ignore[type-arg]
    result = runner.invoke(app, list(args))
    assert result.exit_code == 0, result.stderr
    return json.loads(result.stdout)  # type: ignore[no-any-return]


def test_cli_overview_spc_and_lot_effects_as_json(sample_lake: Lake) -> None:
    lake = str(sample_lake.paths.root)
    doc = _run("overview", "--lake", lake, "--format", "json")
    assert set(doc) == {"as_of", "counts", "ncrs", "jobs", "equipment", "lots", "ingest"}
    assert doc["jobs"]["items"][0]["job_id"] == "J-1047"
    table = _run("spc", "--lake", lake, "--format", "json", "--product", "CAL-KIT-5")
    assert {s["product_code"] for s in table["series"]} == {"CAL-KIT-5"}
    assert {"cp", "cpk", "cpk_low", "cpk_high", "pp", "ppk", "ucl", "lcl", "ucl_mr", "lsl",
            "usl"} <= set(table["series"][0])
    chart = _run("spc", "--lake", lake, "--format", "json", "--product", "SPX-200", "--step",
                 "ALIGN", "--measurement", "beam_offset")
    assert chart["n"] == 14 and chart["violations"]["1"]["points"] == 1
    assert [p["serial_number"] for p in chart["points"] if p["rules"]] == ["SPX200-0013"]
    effects = _run("lot-effects", "--lake", lake, "--format", "json", "--step", "ELEC_CHECK",
                   "--measurement", "rail_5v", "--all")
    assert effects["units"] == 13 and effects["flagged"] == []
    assert {r["lot_number"] for r in effects["lots"]} == {"L-8801", "L-8840"}


def test_cli_errors_are_one_line(sample_lake: Lake) -> None:
    lake = str(sample_lake.paths.root)
    result = runner.invoke(app, ["spc", "--lake", lake, "--step", "ALIGN"])
    assert result.exit_code == 1 and "--product, --step and --measurement" in result.stderr
    result = runner.invoke(app, ["lot-effects", "--lake", lake, "--step", "NOPE",
                                 "--measurement", "x"])
    assert result.exit_code == 1 and "no unit has a result of NOPE x" in result.stderr
    assert "Traceback" not in result.stderr
