"""``tracelake sql``: reads of the snapshot only; writes, ATTACH, COPY and file access refused."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.helpers import JOB_HEADER, Lake, job_row, write_csv
from tracelake.errors import InputError, QueryRefused
from tracelake.lake.query import run_sql


@pytest.fixture
def filled(lake: Lake, landing: Path) -> Lake:
    write_csv(landing / "jobs.csv", JOB_HEADER, [job_row("J-1"), job_row("J-2")])
    lake.ingest(landing)
    return lake


def test_select_reads_the_current_rows(filled: Lake) -> None:
    frame = run_sql(filled.paths, "SELECT job_id FROM jobs ORDER BY job_id")
    assert frame["job_id"].to_list() == ["J-1", "J-2"]


def test_ledger_quarantine_and_history_are_tables(filled: Lake) -> None:
    for table in ("ingest_runs", "ingest_files", "quarantine", "orphan_references",
                  "history.jobs"):
        run_sql(filled.paths, f"SELECT * FROM {table}")


@pytest.mark.parametrize("sql", [
    "DELETE FROM jobs",
    "INSERT INTO jobs (job_id) VALUES ('x')",
    "UPDATE jobs SET status = 'released'",
    "DROP TABLE jobs",
    "CREATE TABLE x (a INT)",
    "ATTACH '/tmp/other.duckdb' AS other",
    "COPY jobs TO '/tmp/jobs.csv'",
    "SET threads = 1",
    "INSTALL httpfs",
    "SELECT 1; DELETE FROM jobs",
])
def test_anything_but_a_read_is_refused(filled: Lake, sql: str) -> None:
    with pytest.raises(QueryRefused):
        run_sql(filled.paths, sql)
    assert run_sql(filled.paths, "SELECT count(*) AS n FROM jobs")["n"][0] == 2


@pytest.mark.parametrize("sql", [
    "SELECT * FROM read_csv('/etc/passwd')",
    "SELECT * FROM read_text('/etc/hostname')",
    "SELECT * FROM glob('/*')",
    "SELECT * FROM read_parquet('https://example.org/x.parquet')",
])
def test_file_and_network_table_functions_are_refused(filled: Lake, sql: str) -> None:
    with pytest.raises(QueryRefused, match=r"touches files|may touch files"):
        run_sql(filled.paths, sql)


def test_invalid_sql_is_an_input_error(filled: Lake) -> None:
    with pytest.raises(InputError, match="not valid SQL"):
        run_sql(filled.paths, "SELEC job_id FROM jobs")


def test_the_search_extension_is_loaded_and_files_stay_refused(filled: Lake) -> None:
    # the snapshot holds a full-text index, so open_snapshot loads the FTS extension from its
    # wheel (by path) before it switches file access off; after that, nothing reaches a file
    frame = run_sql(filled.paths, "SELECT stem('scratches', 'porter') AS s, "
                                  "(SELECT count(*) FROM fts_search_docs.docs) AS n")
    assert frame.row(0) == ("scratch", 0)
    from tracelake.lake.extensions import fts_extension_path

    for sql in (f"SELECT * FROM read_blob('{fts_extension_path()}')",
                "SELECT * FROM read_csv('/etc/passwd')"):
        with pytest.raises(QueryRefused, match=r"touches files|may touch files"):
            run_sql(filled.paths, sql)
    with pytest.raises(QueryRefused):
        run_sql(filled.paths, f"LOAD '{fts_extension_path()}'")


def test_list_columns_are_written_to_csv_as_json_text(filled: Lake) -> None:
    from tracelake.exports.formats import render_frame

    frame = run_sql(filled.paths, "SELECT ['a', 'b,c'] AS notes, {'x': 1} AS s, 2 AS n")
    csv = render_frame(frame, "csv").splitlines()
    assert csv[0] == "notes,s,n"
    assert csv[1] == '"[""a"", ""b,c""]","{""x"": 1}",2'
