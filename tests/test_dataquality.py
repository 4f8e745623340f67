"""Data quality: ingest runs, files, quarantine, orphans and row lineage, on the sample plant's bad
corpus (data/sample/bad/README.md), the clean sample, and small hand-made lakes."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import duckdb
import pytest

from tests.helpers import BAD, JOB_HEADER, SAMPLE, UNIT_HEADER, Lake, job_row, write_csv
from tracelake.derived.quality.data_quality import (
    files,
    health,
    lineage,
    orphans,
    quarantine_rules,
    quarantined_rows,
    runs,
)
from tracelake.errors import InputError
from tracelake.lake.snapshot import open_snapshot


@pytest.fixture(scope="module")
def bad(tmp_path_factory: pytest.TempPathFactory) -> Iterator[duckdb.DuckDBPyConnection]:
    lake = Lake(tmp_path_factory.mktemp("dq-bad") / "lake")
    lake.ingest(BAD)
    con = open_snapshot(lake.paths)
    yield con
    con.close()


def test_a_run_with_its_files_by_status(bad: duckdb.DuckDBPyConnection) -> None:
    frame = runs(bad)
    assert frame.height == 1
    run = frame.row(0, named=True)
    assert run["rows_read"] == run["rows_loaded"] + run["rows_quarantined"]
    listed = files(bad, run["run_id"])
    statuses = listed["status"].value_counts()
    by_status = dict(zip(statuses["status"], statuses["count"], strict=True))
    assert (run["loaded"], run["duplicate"], run["rejected"], run["unrecognised"]) == (
        by_status.get("loaded", 0), by_status.get("duplicate", 0), by_status.get("rejected", 0),
        by_status.get("unrecognised", 0))
    assert by_status["rejected"] >= 2 and by_status["unrecognised"] == 1  # stock_levels_…
    assert run["files"] == listed.height
    for f in listed.iter_rows(named=True):  # promise 1, file by file
        assert f["rows_read"] == f["rows_loaded"] + f["rows_quarantined"], f["file_name"]
    assert files(bad, "no-such-run").height == 0


def test_quarantined_rows_with_the_rule_they_broke(bad: duckdb.DuckDBPyConnection) -> None:
    rules = {(r["table_name"], r["rule"]): r["rows"] for r in quarantine_rules(bad).iter_rows(
        named=True)}
    # (the day-first stores export loads since import contract v2: its data decides the order)
    assert ("material_issues", "wrong_type") not in rules
    assert rules[("test_results", "wrong_type")] == 3     # a text limit, a bad time, attempt
    assert rules[("units", "not_allowed")] == 1            # status 'finished'
    rows = quarantined_rows(bad, table="operations")
    assert rows["row_number"].to_list() == [3, 5, 6, 5]
    first = rows.row(0, named=True)
    assert first["source_file"].endswith("operations-blank-operator.csv")
    assert first["rules"] == "required" and first["columns"] == "operator"
    assert "operator is required but empty" in first["messages"]
    total = sum(f["rows_quarantined"] for f in files(bad).iter_rows(named=True))
    assert quarantined_rows(bad).height == total  # one line per quarantined source row


def test_orphans_name_the_file_and_row(bad: duckdb.DuckDBPyConnection) -> None:
    frame = orphans(bad)
    job = frame.filter(frame["value"] == "J-9999").row(0, named=True)
    assert (job["kind"], job["table_name"], job["row_number"]) == ("job", "material_issues", 2)
    assert job["source_file"].endswith("material_issues-unknown-job.csv")


def test_health_of_the_bad_corpus_and_of_the_clean_sample(bad: duckdb.DuckDBPyConnection,
                                                          sample: duckdb.DuckDBPyConnection) -> None:
    h = health(bad)
    assert h["runs"] == 1 and h["rows_quarantined"] == h["rows_read"] - h["rows_loaded"] > 0
    assert h["rejected_files"] >= 2 and h["orphan_references"] == orphans(bad).height
    clean = health(sample)
    assert (clean["rows_read"], clean["rows_loaded"], clean["rows_quarantined"]) == (780, 780, 0)
    assert clean["files"]["loaded"] == 24 and clean["orphan_references"] == 0
    assert clean["last_run"]["status"] == "committed"


def test_lineage_of_a_sample_row(sample: duckdb.DuckDBPyConnection) -> None:
    answer = lineage(sample, "units", "serial_number", "SPX200-0004")
    assert answer.superseded.height == 0
    assert answer.sources.select("version", "source_file", "row").rows() == [
        ("current", str(SAMPLE / "units.csv"), 21)]
    by_lot = lineage(sample, "material_issues", "lot_number", "L-4471")
    assert by_lot.current.height == 3  # CAP-100 to J-1038 and J-1042, SCR-M3 to J-1042


def test_lineage_keeps_the_superseded_version_and_its_file(lake: Lake, tmp_path: Path) -> None:
    first = tmp_path / "export-1"
    second = tmp_path / "export-2"
    write_csv(first / "jobs.csv", JOB_HEADER, [job_row("J-1")])
    write_csv(first / "units.csv", UNIT_HEADER, [["S-1", "SPX-200", "J-1", "wip"],
                                                 ["S-2", "SPX-200", "J-1", "wip"]])
    write_csv(second / "units_2.csv", UNIT_HEADER, [["S-2", "SPX-200", "J-1", "shipped"]])
    lake.ingest(first)
    lake.ingest(second)
    con = open_snapshot(lake.paths)
    try:
        answer = lineage(con, "units", "serial_number", "S-2")
        untouched = lineage(con, "units", "serial_number", "S-1")
        by_status = lineage(con, "units", "status", "shipped")
    finally:
        con.close()
    sources = answer.sources.select("version", "source_file", "row").rows()
    assert sources == [("current", str(second / "units_2.csv"), 2),
                       ("superseded", str(first / "units.csv"), 3)]
    assert answer.superseded["status"].to_list() == ["wip"]
    assert answer.current["_run_id"][0] != answer.superseded["_run_id"][0]
    assert untouched.superseded.height == 0
    assert by_status.current["serial_number"].to_list() == ["S-2"]


def test_lineage_refuses_unknown_tables_and_columns(sample: duckdb.DuckDBPyConnection) -> None:
    with pytest.raises(InputError, match="no table 'stock'"):
        lineage(sample, "stock", "serial_number", "x")
    with pytest.raises(InputError, match="units has no column 'colour'"):
        lineage(sample, "units", "colour", "x")
    assert lineage(sample, "units", "_row", "21").current["serial_number"].to_list() == [
        "SPX200-0004"]
