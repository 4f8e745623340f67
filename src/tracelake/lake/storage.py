"""The lake: one DuckDB file holding the canonical tables, their history, and lineage on every row.

Layout of a lake folder::

    lake/
      lake.duckdb      the writer's database (one writer at a time)
      serving.duckdb   the published read-only snapshot every reader opens (see snapshot.py)

Every canonical table carries the contract's columns, then ``_extra`` (unknown source columns as
JSON, kept as they came) and the lineage columns ``_source_file``, ``_sha256``, ``_row``,
``_run_id`` and ``_loaded_at``. Rows are upserted by natural key; a row that a later file changes
is moved to ``history.<table>`` with the run and file that superseded it, so the earlier version
stays queryable.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import duckdb
import polars as pl

from tracelake.contracts import CONTRACTS, TableContract
from tracelake.errors import LakeError

__all__ = [
    "LINEAGE",
    "LakePaths",
    "UpsertCounts",
    "connect_writer",
    "create_schema",
    "upsert",
]

LINEAGE = {"_extra": "VARCHAR", "_source_file": "VARCHAR", "_sha256": "VARCHAR",
           "_row": "BIGINT", "_run_id": "VARCHAR", "_loaded_at": "TIMESTAMPTZ"}
SUPERSEDED = {"_superseded_at": "TIMESTAMPTZ", "_superseded_by_run": "VARCHAR",
              "_superseded_by_file": "VARCHAR"}


@dataclass(frozen=True)
class LakePaths:
    """Where a lake's files live."""

    root: Path

    @property
    def database(self) -> Path:
        """The writer's database."""
        return self.root / "lake.duckdb"

    @property
    def serving(self) -> Path:
        """The published snapshot readers open."""
        return self.root / "serving.duckdb"

    @classmethod
    def of(cls, lake: str | Path) -> LakePaths:
        """Paths of the lake folder ``lake`` (a path ending in ``.duckdb`` names its database)."""
        path = Path(lake)
        return cls(path.parent if path.suffix == ".duckdb" else path)


def duckdb_type(dtype: pl.DataType) -> str:
    """The DuckDB column type for a contract dtype."""
    if dtype == pl.String:
        return "VARCHAR"
    if dtype == pl.Int64:
        return "BIGINT"
    if dtype == pl.Float64:
        return "DOUBLE"
    if dtype == pl.Boolean:
        return "BOOLEAN"
    if dtype == pl.Date:
        return "DATE"
    if isinstance(dtype, pl.Datetime):
        return "TIMESTAMPTZ"
    raise TypeError(f"no DuckDB type for {dtype}")


def _columns_ddl(contract: TableContract, extra: dict[str, str]) -> str:
    cols = [f'"{n}" {duckdb_type(t)}' for n, t in contract.dtypes.items()]
    cols += [f'"{n}" {t}' for n, t in extra.items()]
    return ", ".join(cols)


#: A join whose smaller side has at most this many keys hands them to the scan of the larger
#: side as an IN filter, which zone maps prune by (DuckDB's default is 50). Lookups of a few
#: hundred measured serials or holders then read the row groups holding them, not the table:
#: 300 serials among 5M took 86 ms by a full scan, 10 ms so.
IN_FILTER_KEYS = 2048


@contextmanager
def connect_writer(paths: LakePaths) -> Iterator[duckdb.DuckDBPyConnection]:
    """Open the lake's database for writing (creating the lake if needed), in UTC."""
    try:
        paths.root.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        what = ("is a file, not a folder" if paths.root.is_file() or
                isinstance(exc, FileExistsError | NotADirectoryError)
                else f"cannot be created ({exc.strerror or type(exc).__name__})")
        raise LakeError(f"{paths.root}: the lake folder {what}") from None
    try:
        con = duckdb.connect(str(paths.database))
    except duckdb.IOException as exc:
        text = " ".join(str(exc).split())
        if "lock" in text.lower():
            holder = re.search(r"\(PID (\d+)\)", text)
            raise LakeError(f"{paths.database}: another process has the lake's database open"
                            + (f" (PID {holder.group(1)})" if holder else "")
                            + "; a run needs it to itself: run again when that process has "
                            "finished (readers use serving.duckdb, never lake.duckdb)") from None
        raise LakeError(f"{paths.database}: cannot open the lake ({text[:300]})") from None
    except (duckdb.Error, OSError) as exc:
        raise LakeError(f"{paths.database}: cannot open the lake "
                        f"({' '.join(str(exc).split())[:300]})") from None
    try:
        con.execute("SET TimeZone = 'UTC'")
        con.execute("SET enable_progress_bar = false")
        # bounded memory: DuckDB spills to disk instead of growing to 80 % of RAM (OOM at 1M units)
        con.execute(f"SET memory_limit = '{os.environ.get('TRACELAKE_MEMORY_LIMIT', '8GB')}'")
        con.execute(f"SET dynamic_or_filter_threshold = {IN_FILTER_KEYS}")
        create_schema(con)
        yield con
    finally:
        con.close()


def create_schema(con: duckdb.DuckDBPyConnection) -> None:
    """Create every table the lake needs (idempotent)."""
    from tracelake.lake import ledger, orphans  # the modules owning those tables

    con.execute("CREATE SCHEMA IF NOT EXISTS history")
    for contract in CONTRACTS.values():
        con.execute(f'CREATE TABLE IF NOT EXISTS main."{contract.name}" '
                    f"({_columns_ddl(contract, LINEAGE)})")
        con.execute(f'CREATE TABLE IF NOT EXISTS history."{contract.name}" '
                    f"({_columns_ddl(contract, LINEAGE | SUPERSEDED)})")
    ledger.create_tables(con)
    orphans.create_table(con)


@dataclass
class UpsertCounts:
    """What an upsert did with a file's valid rows."""

    inserted: int = 0
    updated: int = 0
    unchanged: int = 0


def upsert(con: duckdb.DuckDBPyConnection, contract: TableContract, rows: pl.DataFrame,
           *, run_id: str, source_file: str) -> UpsertCounts:
    """Insert new natural keys, replace changed rows (keeping the old version in history).

    ``rows`` holds the contract's columns, ``_extra`` and the lineage columns.
    """
    if not rows.height:
        return UpsertCounts()
    table = f'main."{contract.name}"'
    cols = [*contract.dtypes, *LINEAGE]
    select = ", ".join(f'"{c}"' for c in cols)
    con.register("_stage_frame", rows.select(cols).to_arrow())
    try:
        if con.execute(f"SELECT NOT EXISTS (SELECT 1 FROM {table})").fetchone()[0]:  # type: ignore[index]
            con.execute(f"INSERT INTO {table} ({select}) SELECT {select} FROM _stage_frame")
            return UpsertCounts(inserted=rows.height)
        key_match = " AND ".join(f't."{k}" IS NOT DISTINCT FROM s."{k}"'
                                 for k in contract.natural_key)
        content = [*contract.dtypes, "_extra"]
        differs = " OR ".join(f't."{c}" IS DISTINCT FROM s."{c}"' for c in content)
        con.execute("CREATE OR REPLACE TEMP TABLE _stage AS SELECT * FROM _stage_frame")
        con.execute(f"""
            CREATE OR REPLACE TEMP TABLE _matched AS
            SELECT t.rowid AS target_rowid, s._row AS stage_row, ({differs}) AS changed
            FROM {table} t JOIN _stage s ON {key_match}""")
        changed, unchanged = con.execute(
            "SELECT count(*) FILTER (WHERE changed), count(*) FILTER (WHERE NOT changed) "
            "FROM _matched").fetchone()  # type: ignore[misc]
        if changed:
            old = ", ".join(f't."{c}"' for c in cols)
            con.execute(f"""
                INSERT INTO history."{contract.name}" ({select}, _superseded_at,
                                                       _superseded_by_run, _superseded_by_file)
                SELECT {old}, now(), ?, ? FROM {table} t
                WHERE t.rowid IN (SELECT target_rowid FROM _matched WHERE changed)""",
                        [run_id, source_file])
            con.execute(f"DELETE FROM {table} WHERE rowid IN "
                        "(SELECT target_rowid FROM _matched WHERE changed)")
        con.execute(f"""
            INSERT INTO {table} ({select}) SELECT {select} FROM _stage
            WHERE _row NOT IN (SELECT stage_row FROM _matched WHERE NOT changed)""")
        con.execute("DROP TABLE IF EXISTS _stage; DROP TABLE IF EXISTS _matched")
        return UpsertCounts(inserted=rows.height - changed - unchanged, updated=changed,
                            unchanged=unchanged)
    finally:
        con.unregister("_stage_frame")
