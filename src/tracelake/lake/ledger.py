"""The ingest ledger: every run, every file it saw, and every row it quarantined, with the reason.

Tables (queryable with ``tracelake sql``):

* ``ingest_runs``  one row per run: when, how many files and rows, how it ended.
* ``ingest_files`` one row per file per run: path, sha256, table, status (loaded, duplicate,
  rejected, unrecognised), rows read / loaded / quarantined, the reason, extra columns.
* ``quarantine``   one row per failure of a quarantined source row: file, row number, column,
  rule, message and the raw values of the row as JSON.
* ``lake_version`` one row: the last run that changed the lake, and when it committed. The
  published snapshot carries its copy, so it says which run readers see, and a snapshot whose
  row differs from the lake's is behind (see ``snapshot.is_behind``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import duckdb

if TYPE_CHECKING:  # only a type here: readers of the snapshot (tracelake sql) never load polars
    import polars as pl

__all__ = ["FILE_COLUMNS", "OPEN_QUARANTINE", "QUARANTINE_COLUMNS", "close_quarantine",
           "create_tables", "lake_version", "loaded_identities", "loaded_sha256s",
           "set_lake_version"]

FILE_COLUMNS = {
    "run_id": "VARCHAR", "path": "VARCHAR", "file_name": "VARCHAR", "table_name": "VARCHAR",
    "sha256": "VARCHAR", "size_bytes": "BIGINT", "status": "VARCHAR", "rows_read": "BIGINT",
    "rows_loaded": "BIGINT", "rows_quarantined": "BIGINT", "rows_inserted": "BIGINT",
    "rows_updated": "BIGINT", "rows_unchanged": "BIGINT", "reason": "VARCHAR",
    "extra_columns": "VARCHAR[]", "notes": "VARCHAR[]", "encoding": "VARCHAR",
    "delimiter": "VARCHAR", "sheet": "VARCHAR", "mapping_source": "VARCHAR",
    "ingested_at": "TIMESTAMPTZ",
    # v2: which mapping entries read the file (a file's identity is bytes, table, mapping)
    "mapping_fingerprint": "VARCHAR",
}
QUARANTINE_COLUMNS = {
    "run_id": "VARCHAR", "source_file": "VARCHAR", "sha256": "VARCHAR", "table_name": "VARCHAR",
    "row_number": "BIGINT", "column_name": "VARCHAR", "rule": "VARCHAR", "message": "VARCHAR",
    "raw": "VARCHAR", "quarantined_at": "TIMESTAMPTZ",
    # v2: the run that read the file again (under a changed mapping); the row is kept, closed
    "superseded_by_run": "VARCHAR",
}
#: quarantine rows still open (not superseded by a later reading of their file)
OPEN_QUARANTINE = "superseded_by_run IS NULL"


def create_tables(con: duckdb.DuckDBPyConnection) -> None:
    """Create the ledger tables (idempotent)."""
    from tracelake.lake.ducklake import is_ducklake

    key = "NOT NULL" if is_ducklake(con) else "PRIMARY KEY"  # DuckLake has no key constraints
    con.execute(f"""
        CREATE TABLE IF NOT EXISTS ingest_runs (
            run_id VARCHAR {key}, started_at TIMESTAMPTZ, finished_at TIMESTAMPTZ,
            status VARCHAR, files BIGINT, rows_read BIGINT, rows_loaded BIGINT,
            rows_quarantined BIGINT, mapping VARCHAR, timezone VARCHAR, tracelake_version VARCHAR)
    """)
    cols = ", ".join(f"{n} {t}" for n, t in FILE_COLUMNS.items())
    con.execute(f"CREATE TABLE IF NOT EXISTS ingest_files ({cols})")
    cols = ", ".join(f"{n} {t}" for n, t in QUARANTINE_COLUMNS.items())
    con.execute(f"CREATE TABLE IF NOT EXISTS quarantine ({cols})")
    # lakes made before v2
    con.execute("ALTER TABLE ingest_files ADD COLUMN IF NOT EXISTS mapping_fingerprint VARCHAR")
    con.execute("ALTER TABLE quarantine ADD COLUMN IF NOT EXISTS superseded_by_run VARCHAR")
    # the site whose run it was (tracelake ingest --site); runs before it were 'main'
    if not con.execute("SELECT count(*) FROM information_schema.columns WHERE table_name = "
                       "'ingest_runs' AND column_name = 'site' AND table_schema = 'main' "
                       "AND table_catalog = current_database()").fetchone()[0]:  # type: ignore[index]
        con.execute("ALTER TABLE ingest_runs ADD COLUMN site VARCHAR DEFAULT 'main'")
    con.execute("CREATE TABLE IF NOT EXISTS lake_version (run_id VARCHAR, committed_at TIMESTAMPTZ)")
    if key != "PRIMARY KEY" and not con.execute("SELECT count(*) FROM lake_version").fetchone()[0]:  # type: ignore[index]
        # DuckLake: every run that changes the lake deletes this row, so two runs at once always
        # conflict at COMMIT (one runs again and sees the other's rows); deleting from an empty
        # table would conflict with nothing
        con.execute("INSERT INTO lake_version VALUES (NULL, now())")


def loaded_identities(con: duckdb.DuckDBPyConnection) -> dict[tuple[str, str], set[str | None]]:
    """(sha256, table) -> the mapping fingerprints it was loaded under (None: before v2)."""
    out: dict[tuple[str, str], set[str | None]] = {}
    for sha, table, fp in con.execute(
            "SELECT DISTINCT sha256, table_name, mapping_fingerprint FROM ingest_files "
            "WHERE status = 'loaded'").fetchall():
        out.setdefault((sha, table), set()).add(fp)
    return out


def close_quarantine(con: duckdb.DuckDBPyConnection, sha256: str, table: str,
                     run_id: str) -> int:
    """Mark the open quarantine rows of an earlier reading of a file superseded by ``run_id``."""
    where = ("WHERE sha256 = ? AND table_name = ? AND superseded_by_run IS NULL "
             "AND run_id <> ?")
    params = [sha256, table, run_id]
    n = int(con.execute(f"SELECT count(*) FROM quarantine {where}", params).fetchone()[0])  # type: ignore[index]
    if n:  # counted first: DuckLake has no UPDATE ... RETURNING
        con.execute(f"UPDATE quarantine SET superseded_by_run = ? {where}", [run_id, *params])
    return n


def set_lake_version(con: duckdb.DuckDBPyConnection, run_id: str | None) -> None:
    """Record (inside the run's transaction) that ``run_id`` changed the lake; with None, only
    make sure a lake from before this table has a version (its last committed run)."""
    if run_id is None:
        if con.execute("SELECT count(*) FROM lake_version").fetchone()[0]:  # type: ignore[index]
            return
        con.execute("INSERT INTO lake_version SELECT max(run_id), now() FROM ingest_runs")
        return
    con.execute("DELETE FROM lake_version")
    con.execute("INSERT INTO lake_version VALUES (?, now())", [run_id])


def lake_version(con: duckdb.DuckDBPyConnection) -> str | None:
    """The run the database holds as its last change (None: no table, or no run yet)."""
    try:
        row = con.execute("SELECT max(run_id) FROM lake_version").fetchone()
    except duckdb.CatalogException:
        return None
    return row[0] if row else None


def loaded_sha256s(con: duckdb.DuckDBPyConnection) -> dict[str, str]:
    """sha256 -> table of every file already loaded into the lake (for duplicate detection)."""
    rows = con.execute("SELECT sha256, any_value(table_name) FROM ingest_files "
                       "WHERE status = 'loaded' GROUP BY sha256").fetchall()
    return {sha: table for sha, table in rows}


def record_run(con: duckdb.DuckDBPyConnection, run: dict[str, object]) -> None:
    """Write the run's ledger row."""
    cols = ", ".join(run)
    marks = ", ".join("?" for _ in run)
    site = "" if "site" in run else ", site"
    value = "" if "site" in run else ", coalesce(getvariable('tracelake_site'), 'main')"
    con.execute(f"INSERT INTO ingest_runs ({cols}{site}) VALUES ({marks}{value})",
                list(run.values()))


def record_file(con: duckdb.DuckDBPyConnection, row: dict[str, object]) -> None:
    """Write one file's ledger row."""
    cols = ", ".join(row)
    marks = ", ".join("?" for _ in row)
    con.execute(f"INSERT INTO ingest_files ({cols}) VALUES ({marks})", list(row.values()))


def record_quarantine(con: duckdb.DuckDBPyConnection, rows: pl.DataFrame) -> None:
    """Append quarantine rows (columns as QUARANTINE_COLUMNS)."""
    if not rows.height:
        return
    cols = [c for c in QUARANTINE_COLUMNS if c in rows.columns]
    con.register("_quarantine_frame", rows.select(cols).to_arrow())
    try:
        names = ", ".join(cols)
        con.execute(f"INSERT INTO quarantine ({names}) SELECT {names} FROM _quarantine_frame")
    finally:
        con.unregister("_quarantine_frame")
