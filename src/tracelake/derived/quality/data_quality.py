"""Data quality: what each ingest run did, which rows it quarantined and why, orphan references, and
the lineage of any lake row back to the file and row it came from.

Reads the ingest ledger (:mod:`tracelake.lake.ledger`), the orphan list
(:mod:`tracelake.lake.orphans`) and the lineage columns every lake row carries
(:data:`tracelake.lake.storage.LINEAGE`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import duckdb
import polars as pl

from tracelake.contracts import CONTRACTS
from tracelake.errors import InputError
from tracelake.lake.storage import LINEAGE

__all__ = ["Lineage", "files", "health", "lineage", "orphans", "quarantine_rules",
           "quarantined_rows", "runs"]

FILE_STATUSES = ("loaded", "duplicate", "rejected", "unrecognised")


def runs(con: duckdb.DuckDBPyConnection) -> pl.DataFrame:
    """Every ingest run, newest first, with its files by status and its row counts."""
    return con.sql("""
        SELECT r.run_id, r.started_at, r.finished_at, r.status,
               date_diff('millisecond', r.started_at, r.finished_at) / 1000 AS seconds,
               r.files,
               count(f.path) FILTER (WHERE f.status = 'loaded') AS loaded,
               count(f.path) FILTER (WHERE f.status = 'duplicate') AS duplicate,
               count(f.path) FILTER (WHERE f.status = 'rejected') AS rejected,
               count(f.path) FILTER (WHERE f.status = 'unrecognised') AS unrecognised,
               r.rows_read, r.rows_loaded, r.rows_quarantined, r.timezone, r.mapping
        FROM ingest_runs r LEFT JOIN ingest_files f ON f.run_id = r.run_id
        GROUP BY ALL ORDER BY r.started_at DESC, r.run_id DESC""").pl()


def files(con: duckdb.DuckDBPyConnection, run_id: str | None = None) -> pl.DataFrame:
    """The files of one run (every run if None): status, rows read / loaded / quarantined, reason."""
    return con.execute("""
        SELECT run_id, file_name, path, table_name, status, rows_read, rows_loaded,
               rows_quarantined, rows_inserted, rows_updated, rows_unchanged, reason,
               extra_columns, notes, encoding, delimiter, sheet, sha256, ingested_at
        FROM ingest_files WHERE ?::VARCHAR IS NULL OR run_id = ?::VARCHAR
        ORDER BY ingested_at DESC, path""", [run_id, run_id]).pl()


def quarantine_rules(con: duckdb.DuckDBPyConnection, run_id: str | None = None) -> pl.DataFrame:
    """Quarantined source rows per table and rule (a row breaking two rules counts under each)."""
    return con.execute("""
        SELECT table_name, rule, count(DISTINCT (source_file, row_number)) AS rows
        FROM quarantine WHERE (?::VARCHAR IS NULL AND superseded_by_run IS NULL)
                              OR run_id = ?::VARCHAR
        GROUP BY ALL ORDER BY rows DESC, table_name, rule""", [run_id, run_id]).pl()


def quarantined_rows(con: duckdb.DuckDBPyConnection, run_id: str | None = None,
                     table: str | None = None, limit: int = 5000) -> pl.DataFrame:
    """One line per quarantined source row: file, row number, every rule it broke, and its values."""
    return con.execute("""
        SELECT table_name, source_file, row_number,
               string_agg(DISTINCT rule, ', ' ORDER BY rule) AS rules,
               string_agg(DISTINCT column_name, ', ' ORDER BY column_name) AS columns,
               string_agg(message, '; ' ORDER BY column_name, rule) AS messages,
               any_value(raw) AS raw_values, any_value(run_id) AS run_id,
               min(quarantined_at) AS quarantined_at
        FROM quarantine
        WHERE ((?::VARCHAR IS NULL AND superseded_by_run IS NULL) OR run_id = ?::VARCHAR)
          AND (?::VARCHAR IS NULL OR table_name = ?::VARCHAR)
        GROUP BY table_name, source_file, row_number
        ORDER BY table_name, source_file, row_number LIMIT ?""",
                       [run_id, run_id, table, table, limit]).pl()


def orphans(con: duckdb.DuckDBPyConnection) -> pl.DataFrame:
    """Loaded rows naming a record the lake does not know, with the file and row that name it."""
    return con.sql("""
        SELECT kind, value, referenced_table, table_name, column_names, job_id, serial_number,
               source_file, row_number, run_id
        FROM orphan_references ORDER BY kind, value, table_name, source_file, row_number""").pl()


def health(con: duckdb.DuckDBPyConnection) -> dict[str, Any]:
    """Headline figures: runs, files, rows loaded and quarantined, rejected files, orphans."""
    last = con.sql("SELECT run_id, finished_at, status FROM ingest_runs "
                   "ORDER BY finished_at DESC LIMIT 1").fetchone()
    runs_n, read, loaded, quarantined = con.sql(
        "SELECT count(*), coalesce(sum(rows_read), 0), coalesce(sum(rows_loaded), 0), "
        "coalesce(sum(rows_quarantined), 0) FROM ingest_runs").fetchone()  # type: ignore[misc]
    by_status = dict(con.sql("SELECT status, count(DISTINCT sha256) FROM ingest_files "
                             "GROUP BY ALL").fetchall())
    rejected = con.sql("""
        SELECT count(DISTINCT sha256) FROM ingest_files WHERE status = 'rejected'
          AND sha256 NOT IN (SELECT sha256 FROM ingest_files WHERE status = 'loaded')""").fetchone()
    orphan_n = con.sql("SELECT count(*), count(DISTINCT (kind, value)) FROM "
                       "orphan_references").fetchone()
    return {"last_run": {"run_id": last[0], "finished_at": last[1], "status": last[2]}
            if last else None,
            "runs": int(runs_n), "rows_read": int(read), "rows_loaded": int(loaded),
            "rows_quarantined": int(quarantined),
            "files": {s: int(by_status.get(s, 0)) for s in FILE_STATUSES},
            "rejected_files": int(rejected[0]) if rejected else 0,
            "orphan_references": int(orphan_n[0]) if orphan_n else 0,
            "orphan_values": int(orphan_n[1]) if orphan_n else 0}


@dataclass
class Lineage:
    """Rows of one table matching a value, each with the file, row and run it came from."""

    table: str
    column: str
    value: str
    current: pl.DataFrame
    superseded: pl.DataFrame

    @property
    def sources(self) -> pl.DataFrame:
        """One line per version: current or superseded, file, row number, run and load time."""
        cols = ["_source_file", "_row", "_sha256", "_run_id", "_loaded_at"]
        now = self.current.select(pl.lit("current").alias("version"), *cols)
        old = self.superseded.select(pl.lit("superseded").alias("version"), *cols)
        return pl.concat([now, old]).rename({c: c.lstrip("_") for c in cols})


def lineage(con: duckdb.DuckDBPyConnection, table: str, column: str, value: str,
            limit: int = 200) -> Lineage:
    """The rows of ``table`` whose ``column`` equals ``value`` (as text), current and superseded.

    Raises:
        InputError: the table is not a lake table or the column is not one of its columns.
    """
    contract = CONTRACTS.get(table)
    if contract is None:
        raise InputError(f"no table {table!r} in the lake (known: {', '.join(CONTRACTS)})")
    known = [*contract.dtypes, *LINEAGE]
    if column not in known:
        raise InputError(f"{table} has no column {column!r} (it has {', '.join(contract.dtypes)})")
    rows = []
    for schema in ("main", "history"):
        rows.append(con.execute(
            f'SELECT * FROM {schema}."{table}" WHERE CAST("{column}" AS VARCHAR) = ?::VARCHAR '
            f"ORDER BY _loaded_at DESC LIMIT ?", [value, limit]).pl())
    return Lineage(table, column, value, rows[0], rows[1])
