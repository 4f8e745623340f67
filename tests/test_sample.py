"""The sample plant loads whole and clean; its bad corpus gives each bad-input class its outcome."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from tests.helpers import BAD, SAMPLE, Lake, report_of
from tracelake.cli import app
from tracelake.ingest import IngestReport
from tracelake.intake.mapping import load_mapping


@pytest.fixture(scope="module")
def sample_lake(tmp_path_factory: pytest.TempPathFactory) -> tuple[Lake, IngestReport]:
    lake = Lake(tmp_path_factory.mktemp("sample") / "lake")
    return lake, lake.ingest(SAMPLE, exclude=["bad/*"])


def test_the_sample_plant_loads_every_row_with_no_orphans(sample_lake) -> None:  # type: ignore[no-untyped-def]
    _lake, report = sample_lake
    assert {f.status for f in report.files} == {"loaded"}
    assert report.totals == {"files": 24, "rows_read": 780, "rows_loaded": 780,
                             "rows_quarantined": 0}
    assert report.orphan_references == 0


def test_the_sample_plant_tells_its_story(sample_lake) -> None:  # type: ignore[no-untyped-def]
    lake, _ = sample_lake
    assert dict(lake.query("SELECT job_id, count(*) FROM units GROUP BY 1")) == {
        "J-1038": 12, "J-1042": 10, "J-1044": 4, "J-1047": 4, "J-1050": 6}
    assert dict(lake.query("SELECT status, count(*) FROM units GROUP BY 1")) == {
        "shipped": 12, "released": 20, "wip": 3, "quarantined": 1}
    assert lake.query("SELECT ncr_id, serial_number, disposition FROM ncrs ORDER BY 1") == [
        ("NCR-0231", "SPX200-0004", "rework"), ("NCR-0232", "SPX200-0007", "rework"),
        ("NCR-0240", "SPX200-0013", "pending")]
    assert lake.query("SELECT serial_number, removal_ncr_id FROM unit_components "
                      "WHERE removed_at IS NOT NULL ORDER BY 1") == [
        ("SPX200-0004", "NCR-0231"), ("SPX200-0007", "NCR-0232")]
    assert dict(lake.query("SELECT customer, count(*) FROM shipments s JOIN units u "
                           "USING (serial_number) WHERE u.job_id = 'J-1042' GROUP BY 1")) == {
        "University of Leeds — School of Chemistry": 3, "Kestrel Pharma Ltd": 3,
        "Norsk Analyse AS": 2}


def test_sample_times_are_stored_in_utc(sample_lake) -> None:  # type: ignore[no-untyped-def]
    lake, _ = sample_lake
    signed = lake.scalar("SELECT strftime(signed_at, '%Y-%m-%d %H:%M') FROM signoffs "
                         "WHERE record_id = 'J-1042/30/SPX200-0001' AND role = 'inspector'")
    assert signed == "2026-10-22 10:52"  # 11:52 BST
    dmm = lake.query("SELECT strftime(calibrated_at, '%Y-%m-%d %H:%M'), as_found FROM "
                     "calibrations WHERE equipment_id = 'DMM-04' ORDER BY calibrated_at")
    assert ("2026-11-09 14:00", "out_of_tolerance") in dmm


def test_ingesting_the_sample_twice_changes_nothing(sample_lake) -> None:  # type: ignore[no-untyped-def]
    lake, _ = sample_lake
    before = lake.query("SELECT count(*) FROM units UNION ALL SELECT count(*) FROM test_results")
    again = lake.ingest(SAMPLE, exclude=["bad/*"])
    assert {f.status for f in again.files} == {"duplicate"}
    assert again.totals["rows_loaded"] == 0 and not again.published
    assert lake.query("SELECT count(*) FROM units UNION ALL "
                      "SELECT count(*) FROM test_results") == before


@pytest.fixture(scope="module")
def bad_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[Lake, IngestReport]:
    lake = Lake(tmp_path_factory.mktemp("bad") / "lake")
    lake.ingest(SAMPLE, exclude=["bad/*"])
    return lake, lake.ingest(BAD, mapping=load_mapping(BAD / "dayfirst-mapping.yaml"))


EXPECTED = {  # file: (status, rows_read, rows_loaded, rows_quarantined, rules)
    "products-cp1252.csv": ("loaded", 3, 3, 0, {}),
    "equipment-bom.csv": ("loaded", 3, 3, 0, {}),
    "shipments-semicolon.csv": ("loaded", 2, 2, 0, {}),
    "material_issues-dayfirst.csv": ("loaded", 4, 4, 0, {}),
    "units-empty.csv": ("rejected", 0, 0, 0, {}),
    "units-header-only.csv": ("loaded", 0, 0, 0, {}),
    "operations-truncated.csv": ("loaded", 4, 3, 1, {"truncated_row": 1}),
    "test_results-missing-column.csv": ("rejected", 0, 0, 0, {}),
    "operations-blank-operator.csv": ("loaded", 5, 2, 3, {"required": 3}),
    "test_results-wrong-type.csv": ("loaded", 5, 2, 3, {"wrong_type": 3}),
    "units-bad-status.csv": ("loaded", 3, 2, 1, {"not_allowed": 1}),
    "job_ecns-duplicate-keys.csv": ("loaded", 2, 0, 2, {"duplicate_key": 2}),
    "signoffs-twice-a.csv": ("loaded", 2, 2, 0, {}),
    "signoffs-twice-b.csv": ("duplicate", 0, 0, 0, {}),
    "jobs-export-2026-11-01.csv": ("loaded", 3, 3, 0, {}),
    "jobs-export-2026-11-02.csv": ("loaded", 3, 3, 0, {}),
    "material_issues-unknown-job.csv": ("loaded", 1, 1, 0, {}),
    "stock_levels_2026-11.csv": ("unrecognised", 0, 0, 0, {}),
    "ncrs-several-sheets.xlsx": ("loaded", 2, 2, 0, {}),
    "test_results-formula-error.xlsx": ("loaded", 3, 2, 1, {"formula_error": 1}),
}


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_each_bad_input_class_gets_its_outcome(bad_run, name: str) -> None:  # type: ignore[no-untyped-def]
    _, report = bad_run
    entry = report_of(report, name)
    status, read, loaded, quarantined, rules = EXPECTED[name]
    assert (entry["status"], entry["rows_read"], entry["rows_loaded"],
            entry["rows_quarantined"], entry["quarantined_by_rule"]) == (
        status, read, loaded, quarantined, rules)
    assert entry["rows_read"] == entry["rows_loaded"] + entry["rows_quarantined"]
    if status in ("rejected", "unrecognised", "duplicate"):
        assert entry["reason"] and "\n" not in entry["reason"]


def test_the_bad_corpus_covers_every_file_in_it(bad_run) -> None:  # type: ignore[no-untyped-def]
    _, report = bad_run
    assert {Path(f.path).name for f in report.files} == set(EXPECTED)


def test_bad_corpus_facts(bad_run) -> None:  # type: ignore[no-untyped-def]
    lake, _ = bad_run
    assert lake.scalar("SELECT description FROM products WHERE description LIKE 'Thermistor%'") \
        == "Thermistor probe ±0.1 °C, 10 µA excitation, £4.20 list"
    assert lake.scalar("SELECT customer FROM shipments WHERE customer LIKE 'Kestrel%Cambridge%'") \
        == "Kestrel Pharma Ltd, Cambridge site"
    assert dict(lake.query("SELECT issue_id, strftime(issued_at, '%Y-%m-%dT%H:%MZ') FROM "
                           "material_issues WHERE issue_id LIKE 'MI-26-900%'")) == {
        "MI-26-9001": "2026-10-09T15:20Z", "MI-26-9002": "2026-10-13T07:45Z",
        "MI-26-9003": "2026-10-25T14:05Z", "MI-26-9004": "2026-11-03T09:30Z"}
    assert lake.query("SELECT job_id, status, _source_file LIKE '%11-01.csv' FROM history.jobs"
                      ) == [("J-2001", "in_progress", True)]
    assert lake.scalar("SELECT status FROM jobs WHERE job_id = 'J-2001'") == "released"
    assert lake.query("SELECT value, kind FROM orphan_references WHERE kind = 'job'") == [
        ("J-9999", "job")]
    assert lake.query("SELECT value_text FROM test_results WHERE value_text = 'OK'") == [("OK",)]


def test_without_the_mapping_the_data_decides_the_day_first_order(lake: Lake) -> None:
    # import contract v2: 13/10/2026 and 25/10/2026 can only be day first, so the whole column
    # (09/10/2026 and 03/11/2026 too) is read day first; never month first (10 Sep, 11 Mar)
    report = lake.ingest(BAD / "material_issues-dayfirst.csv")
    assert (report.files[0].rows_loaded, report.files[0].rows_quarantined) == (4, 0)
    assert "date order read from the data: issued_at as %d/%m/%Y %H:%M" in report.files[0].notes
    assert lake.query("SELECT issue_id, strftime(issued_at, '%Y-%m-%dT%H:%MZ') FROM "
                      "material_issues ORDER BY 1") == [
        ("MI-26-9001", "2026-10-09T15:20Z"), ("MI-26-9002", "2026-10-13T07:45Z"),
        ("MI-26-9003", "2026-10-25T14:05Z"), ("MI-26-9004", "2026-11-03T09:30Z")]


def test_cli_reports_the_bad_corpus_as_json(tmp_path: Path) -> None:
    result = CliRunner().invoke(app, ["ingest", str(BAD), "--lake", str(tmp_path / "lake"),
                                      "--format", "json"])
    assert result.exit_code == 0
    doc = json.loads(result.stdout)
    for f in doc["files"]:
        assert f["rows_read"] == f["rows_loaded"] + f["rows_quarantined"]
    assert {f["status"] for f in doc["files"]} == {"loaded", "rejected", "duplicate",
                                                   "unrecognised"}
    assert doc["totals"]["rows_read"] == sum(f["rows_read"] for f in doc["files"])
