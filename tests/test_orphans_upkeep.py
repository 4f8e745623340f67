"""The orphan list kept run by run from the run's rows equals the list rebuilt from the whole
lake, through runs that add orphans, resolve them, and replace rows."""

from __future__ import annotations

from pathlib import Path

import duckdb

from tests.helpers import JOB_HEADER, UNIT_HEADER, Lake, job_row, write_csv
from tracelake.lake import orphans

_LIST = ("SELECT table_name, column_names, value, kind, referenced_table, job_id, serial_number, "
         "source_file, row_number, run_id FROM orphan_references ORDER BY ALL")


def _rebuilt(lake: Lake) -> list[tuple]:  # type: ignore[type-arg]
    """The orphan list as a full refresh of every reference gives it (on a copy of the lake)."""
    con = duckdb.connect(str(lake.paths.database))
    try:
        con.execute("BEGIN TRANSACTION")
        orphans.refresh(con)
        rows = con.execute(_LIST).fetchall()
        con.execute("ROLLBACK")
        return rows
    finally:
        con.close()


def test_orphans_kept_from_each_runs_rows_match_a_full_rebuild(lake: Lake, tmp_path: Path) -> None:
    products = ["product_code", "description", "serialised"]
    day1 = tmp_path / "day1"
    write_csv(day1 / "products.csv", products, [["SPX-200", "Spectrophotometer", "true"]])
    write_csv(day1 / "jobs.csv", JOB_HEADER, [job_row("J-1")])
    write_csv(day1 / "units.csv", UNIT_HEADER, [["S1", "SPX-200", "J-1", "wip"],
                                                ["S2", "SPX-200", "J-2", "wip"],
                                                ["S3", "SPX-999", "J-3", "wip"]])
    first = lake.ingest(day1)
    assert first.orphan_references == 3  # J-2, J-3 and product SPX-999
    assert lake.query(_LIST) == _rebuilt(lake)

    day2 = tmp_path / "day2"  # J-2 arrives; a new unit names J-4, unknown
    write_csv(day2 / "jobs.csv", JOB_HEADER, [job_row("J-2")])
    write_csv(day2 / "units.csv", UNIT_HEADER, [["S4", "SPX-200", "J-4", "wip"]])
    second = lake.ingest(day2)
    listed = lake.query(_LIST)
    assert sorted(r[2] for r in listed) == ["J-3", "J-4", "SPX-999"]
    assert second.orphan_references == 3
    assert listed == _rebuilt(lake)

    day3 = tmp_path / "day3"  # a changed re-export: S4 now names J-1 (a replaced row)
    write_csv(day3 / "units.csv", UNIT_HEADER, [["S4", "SPX-200", "J-1", "wip"]])
    third = lake.ingest(day3)
    assert third.files[0].rows_updated == 1
    listed = lake.query(_LIST)
    assert sorted(r[2] for r in listed) == ["J-3", "SPX-999"]
    assert listed == _rebuilt(lake)
