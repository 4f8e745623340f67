"""Scale-out mode: this machine's derived indexes, kept current from the lake's runs.

The lake (DuckLake) holds the canonical tables, their history and the ledger; it has no indexes,
so the genealogy and search indexes live in a DuckDB file of each machine that reads the lake
(``derived.duckdb``). :func:`refresh_serving` brings that file up to date from the committed
runs it has not applied yet (the runs ledger, read at one lake snapshot): the genealogy index
grows run by run from each run's own rows (``extend_index``: a small run costs its rows, not
the lake), rebuilt only when a run replaced rows its links were built from. Then it publishes a
copy as ``serving.duckdb`` holding the lake snapshot id it was built at; readers open that file
and attach the lake read-only at that snapshot (:func:`tracelake.lake.snapshot.open_snapshot`),
so lake tables and indexes agree, and writers never wait for readers.
"""

from __future__ import annotations

import contextlib
import fcntl
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from typing import Any

import duckdb

from tracelake.derived.genealogy import GENEALOGY_TABLES, update_index
from tracelake.derived.search import (
    SEARCH_TABLES,
    has_search_index,
    unapplied_runs,
    update_search_index,
)
from tracelake.errors import LakeError
from tracelake.lake import ducklake, snapshot
from tracelake.lake.paths import LakePaths, memory_limit

__all__ = ["Refreshed", "refresh_serving"]


@dataclass
class Refreshed:
    """What a refresh did: the lake snapshot readers now see, and the index builds it ran
    (the last genealogy upkeep's and the search build's stats, as the ingest report gives them)."""

    snapshot: int
    runs: int = 0
    genealogy: dict[str, Any] | None = None
    search: dict[str, Any] | None = None


@contextlib.contextmanager
def _machine_lock(paths: LakePaths) -> Iterator[None]:
    """One refresher per machine and lake folder at a time (others wait for it)."""
    paths.root.mkdir(parents=True, exist_ok=True)
    with (paths.root / ".derived.lock").open("a") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


def _connect(paths: LakePaths) -> duckdb.DuckDBPyConnection:
    config = paths.config
    if config is None:
        raise LakeError(f"{paths.root}: not a scale-out lake (no tracelake.toml)")
    try:
        con = ducklake.connect(str(paths.derived))
    except duckdb.Error as exc:
        raise LakeError(f"{paths.derived}: this machine's derived indexes cannot be opened "
                        f"({' '.join(str(exc).split())[:200]})") from None
    try:
        con.execute("SET TimeZone = 'UTC'")
        con.execute("SET enable_progress_bar = false")
        con.execute(f"SET memory_limit = '{memory_limit()}'")  # as the lake's writer has
        con.execute("SET temp_directory = ?", [str(paths.spill)])
        ducklake.attach(con, config, read_only=True)
        con.execute("CREATE TABLE IF NOT EXISTS main.derived_runs "
                    "(run_id VARCHAR, snapshot_id BIGINT, applied_at TIMESTAMPTZ)")
        con.execute("CREATE TABLE IF NOT EXISTS main.serving_meta "
                    "(snapshot_id BIGINT, refreshed_at TIMESTAMPTZ)")
    except BaseException:
        con.close()
        raise
    return con


def _name_lake_tables(con: duckdb.DuckDBPyConnection) -> bool:
    """A view in this file for every table of the lake (``units``, ``history.units``, the
    ledger...), so that the SQL of both modes names them alike; readers attach the lake under
    the same name, and the views read it at their snapshot."""
    tables = con.execute(f"""
        SELECT table_schema, table_name FROM information_schema.tables
        WHERE table_catalog = '{ducklake.ALIAS}' AND table_type = 'BASE TABLE'""").fetchall()
    have = set(con.execute("SELECT schema_name, view_name FROM duckdb_views() "
                           "WHERE database_name = current_database()").fetchall())
    missing = [(schema, table) for schema, table in tables if (schema, table) not in have]
    for schema in sorted({schema for schema, _ in missing}):
        con.execute(f'CREATE SCHEMA IF NOT EXISTS "{schema}"')
    for schema, table in missing:  # SELECT *: a column the lake gains later shows through
        con.execute(f'CREATE VIEW "{schema}"."{table}" AS '
                    f'SELECT * FROM {ducklake.ALIAS}."{schema}"."{table}"')
    return bool(missing)


def refresh_serving(paths: LakePaths, *, search: bool = True, force: bool = False) -> Refreshed:
    """Apply to this machine's derived indexes every committed run they lack, and publish them
    for readers (when they changed, or with ``force``); the lake snapshot id readers now see."""
    with _machine_lock(paths):
        con = _connect(paths)
        try:
            con.execute("BEGIN TRANSACTION")  # one lake snapshot for the whole refresh
            snap = ducklake.current_snapshot(con)
            named = _name_lake_tables(con)
            pending = con.execute("""
                SELECT r.run_id FROM lake.main.ingest_runs r
                WHERE r.status = 'committed'
                  AND r.run_id NOT IN (SELECT run_id FROM main.derived_runs)
                ORDER BY r.run_id""").fetchall()
            search_due = False
            done = Refreshed(snap, runs=len(pending))
            for (run_id,) in pending:
                tables, updated, quarantined = _run_tables(con, run_id)
                if tables & set(GENEALOGY_TABLES) or not _has_genealogy(con):
                    done.genealogy = asdict(update_index(con, run_id, updated))
                search_due |= bool(tables & SEARCH_TABLES) or quarantined
                con.execute("INSERT INTO main.derived_runs VALUES (?, ?, now())", [run_id, snap])
            if search and (search_due or not has_search_index(con)):
                latest = pending[-1][0] if pending else None
                runs = unapplied_runs(con) if has_search_index(con) else []
                done.search = asdict(update_search_index(con, runs, latest))
            held = con.execute("SELECT max(snapshot_id) FROM main.serving_meta").fetchone()[0]  # type: ignore[index]
            changed = bool(pending) or held != snap or named
            if changed:
                con.execute("DELETE FROM main.serving_meta")
                con.execute("INSERT INTO main.serving_meta VALUES (?, now())", [snap])
            con.execute("COMMIT")
            if changed or force or not paths.serving.exists():
                _publish(con, paths)
            return done
        except BaseException:
            with contextlib.suppress(duckdb.Error):
                con.execute("ROLLBACK")
            raise
        finally:
            con.close()


def _has_genealogy(con: duckdb.DuckDBPyConnection) -> bool:
    from tracelake.derived.genealogy import has_index

    return has_index(con)


def _run_tables(con: duckdb.DuckDBPyConnection, run_id: str) -> tuple[set[str], set[str], bool]:
    """Tables a run loaded rows into, those where it replaced rows (or read a file again under
    a changed mapping, which may retire rows), and whether it quarantined rows."""
    rows = con.execute("""
        SELECT f.table_name, sum(f.rows_inserted + f.rows_updated) > 0,
               sum(f.rows_updated) > 0 OR bool_or(EXISTS (
                   SELECT 1 FROM lake.main.ingest_files e
                   WHERE e.sha256 = f.sha256 AND e.table_name = f.table_name
                     AND e.status = 'loaded' AND e.run_id < f.run_id)),
               sum(f.rows_quarantined) > 0
        FROM lake.main.ingest_files f
        WHERE f.run_id = ? AND f.status = 'loaded' AND f.table_name IS NOT NULL
        GROUP BY f.table_name""", [run_id]).fetchall()
    tables = {t for t, changed, _, _ in rows if changed}
    updated = {t for t, _, replaced, _ in rows if replaced}
    quarantined = any(q for *_, q in rows) or bool(con.execute(
        "SELECT count(*) FROM lake.main.ingest_files WHERE run_id = ? AND status = 'rejected'",
        [run_id]).fetchone()[0])  # type: ignore[index]
    return tables | updated, updated, quarantined


def _publish(con: duckdb.DuckDBPyConnection, paths: LakePaths) -> None:
    """Checkpoint the derived file, copy it, and rename the copy over ``serving.duckdb``."""
    snapshot.publish(con, paths, source=paths.derived)
