"""A file's typed rows staged in DuckDB chunk by chunk, inside the ingest run's transaction.

The ingest (run.py) types and checks a large file a chunk at a time and appends each chunk here;
checks across rows (duplicate natural keys) then run over the whole file's staged rows, and the
valid rows are upserted from :meth:`Stage.valid_view` in one set-based statement.
"""

from __future__ import annotations

import contextlib
from datetime import datetime

import duckdb
import polars as pl

from tracelake.contracts import TableContract
from tracelake.intake.checks import duplicate_key_failures
from tracelake.intake.coerce import FAILURE_SCHEMA
from tracelake.intake.readers import ROW
from tracelake.lake.literals import literal
from tracelake.lake.storage import duckdb_type

__all__ = ["DirectLoad", "Stage"]


class Stage:
    """A file's typed rows staged in DuckDB, chunk by chunk, inside the run's transaction.

    A temporary table (created in the run's transaction, dropped when the file is done, gone
    with a rollback) holding the contract's columns, ``_extra``, ``_row``, and whether a
    chunk's checks failed the row (``_bad``) or found it blank (``_blank``). It is held in
    DuckDB's buffer pool, uncompressed, so the writer's memory limit bounds it (past the limit
    DuckDB spills it to the lake folder's ``.tmp``). A table of the lake's own file instead is
    compressed and written out twice (staged, then upserted) and leaves its blocks as free
    space in the file and in every published snapshot: at 100k units, staging and upserting
    took 10.4 s of CPU that way against 5.8 s, and ``serving.duckdb`` was 191 MiB, not 156.

    ``in_file``: a streamed report (rows from a reader's disk spool, there to keep a 200 MB
    report's memory small) is staged in a table of the embedded lake's own file instead, which
    DuckDB compresses and writes out as it grows: the 200 MB JUnit ingest peaked at 598 MB with
    a temporary stage against 466 MB so. A DuckLake lake always stages in a temporary table
    (its tables would become Parquet files).
    """

    VALID = "_ingest_valid"
    direct = False  # the rows go to the lake by upsert (DirectLoad: written already)

    def __init__(self, con, contract: TableContract,  # type: ignore[no-untyped-def]
                 writing: list[bool], *, in_file: bool = False) -> None:
        self.con, self.contract, self.writing = con, contract, writing
        self.cols = [*contract.dtypes, ROW, "_extra"]
        self._created = False
        if in_file:  # only where the lake is a DuckDB file (never committed: dropped before)
            kind = con.execute("SELECT type FROM duckdb_databases() "
                               "WHERE database_name = current_database()").fetchone()
            in_file = bool(kind) and kind[0] == "duckdb"
        self.temp = not in_file
        self.TABLE = "_ingest_stage" if self.temp else 'main."_ingest_stage"'

    def _sql(self, sql: str, params: list | None = None):  # type: ignore[no-untyped-def, type-arg]
        """One statement on the stage: a DuckDB failure here aborts the run's transaction, so
        it counts as a failure while writing (the run goes again without the file)."""
        was, self.writing[0] = self.writing[0], True
        result = self.con.execute(sql, params) if params else self.con.execute(sql)
        self.writing[0] = was
        return result

    def append(self, typed: pl.DataFrame, bad: pl.Series, blank: pl.Series) -> None:
        """Stage one chunk's typed rows; ``bad``: the rows its checks failed; ``blank``: per row."""
        part = typed.select(self.cols).with_columns(
            pl.col(ROW).is_in(bad.implode()).alias("_bad"), blank.alias("_blank"))
        if not self._created:
            self._sql(self._create_sql())
            self._created = True
        # inserted through a relation, not a registered view: a view registered (and dropped)
        # inside the run's transaction stays in its undo log until the commit, and with it the
        # chunk's Arrow data (a 200 MB report's staged text held whole again, ~450 B a row)
        was, self.writing[0] = self.writing[0], True
        self.con.from_arrow(part.to_arrow(compat_level=pl.CompatLevel.newest())
                            ).insert_into(self.TABLE)
        self.writing[0] = was

    def _create_sql(self) -> str:
        cols = [f'"{c}" {duckdb_type(t)}' for c, t in self.contract.dtypes.items()]
        cols += [f'"{ROW}" BIGINT', '"_extra" VARCHAR', '"_bad" BOOLEAN', '"_blank" BOOLEAN']
        temp = "TEMP " if self.temp else ""
        return f"CREATE OR REPLACE {temp}TABLE {self.TABLE} ({', '.join(cols)})"

    def duplicates(self) -> pl.DataFrame:
        """Rows whose natural key the whole file holds more than once (then marked bad)."""
        if not self._created:
            return pl.DataFrame(schema=FAILURE_SCHEMA)
        was, self.writing[0] = self.writing[0], True
        dup = duplicate_key_failures(self.con, self.TABLE, self.contract)
        if dup.height:
            _for_rows(self.con, f"UPDATE {self.TABLE} SET _bad = true", dup)
        self.writing[0] = was
        return dup

    def valid_rows(self) -> int:
        """How many staged rows no check failed."""
        if not self._created:
            return 0
        return int(self._sql(f"SELECT count(*) FROM {self.TABLE} WHERE NOT _bad"
                             ).fetchone()[0])

    def valid_view(self, *, path: str, sha256: str, run_id: str, now: datetime) -> str:
        """A view of the valid rows with the file's lineage: what upsert reads."""
        if not self._created:
            self._sql(self._create_sql())
            self._created = True
        names = ", ".join(f'"{c}"' for c in self.cols)
        self._sql(f"""CREATE OR REPLACE TEMP VIEW {self.VALID} AS SELECT {names},
            {literal(path)} AS _source_file, {literal(sha256)} AS _sha256,
            {literal(run_id)} AS _run_id, {literal(now)}::TIMESTAMPTZ AS _loaded_at
            FROM {self.TABLE} WHERE NOT _bad""")
        return self.VALID

    def save_valid(self, target: str) -> None:
        """Write the valid rows (contract columns, ``_row``, ``_extra``) to a Parquet file: kept
        outside the run's transaction, so that a retry after a lost commit need not read the
        file again (:mod:`tracelake.ingest.outcome`). A file, not a table: nothing survives
        the rollback in DuckDB, and a file's rows never wait in memory for the retry."""
        if not self._created:
            self._sql(self._create_sql())
            self._created = True
        names = ", ".join(f'"{c}"' for c in self.cols)
        self._sql(f"COPY (SELECT {names} FROM {self.TABLE} WHERE NOT _bad) TO {literal(target)} "
                  "(FORMAT parquet)")

    def restore_valid(self, source: str) -> None:
        """Stage the valid rows :meth:`save_valid` wrote (an attempt after a lost commit)."""
        self._sql(self._create_sql())
        self._created = True
        names = ", ".join(f'"{c}"' for c in self.cols)
        self._sql(f"INSERT INTO {self.TABLE} ({names}, _bad, _blank) "
                  f"SELECT {names}, false, false FROM read_parquet({literal(source)})")

    def drop(self) -> None:
        """Drop the stage (nothing to do, or nothing possible, once the transaction failed)."""
        if self._created:
            with contextlib.suppress(duckdb.Error):
                self.con.execute(f"DROP VIEW IF EXISTS {self.VALID}; "
                                 f"DROP TABLE IF EXISTS {self.TABLE}")


def _for_rows(con, statement: str, rows: pl.DataFrame) -> None:  # type: ignore[no-untyped-def]
    """``statement`` (an UPDATE or DELETE of a table) applied to the rows numbered in ``rows``:
    the duplicate keys' rows, few, handed to DuckDB as a view for the one statement."""
    con.register("_ingest_dups", rows.select(ROW).to_arrow())
    try:
        con.execute(f"{statement} WHERE {ROW} IN (SELECT {ROW} FROM _ingest_dups)")
    finally:
        con.unregister("_ingest_dups")


class DirectLoad:
    """A file's valid rows written straight into its table, chunk by chunk: the first load of a
    table (empty when the file begins, in an embedded lake), where an upsert has nothing to
    compare with and a stage would only be a copy (written, then read back by the INSERT).

    Holds the same promises as :class:`Stage`: the rows are the file's valid rows with its
    lineage, in the file's order, and nothing of the file survives a failure (the rows are in
    the run's transaction, so a failure after the first chunk is a failure while writing: the
    run goes again without the file). Duplicate natural keys are still found over the whole
    file, once every chunk is in: among the table's rows (all of them the file's) and the keys
    of the rows the chunks' checks failed (kept aside: a failed row still counts towards a
    key), and the duplicates are then deleted from the table.
    """

    direct = True
    BAD = "_ingest_bad_keys"

    def __init__(self, con, contract: TableContract,  # type: ignore[no-untyped-def]
                 writing: list[bool], *, path: str, sha256: str, run_id: str,
                 now: datetime) -> None:
        self.con, self.contract, self.writing = con, contract, writing
        self.now = now
        self.TABLE = f'main."{contract.name}"'
        self.cols = [*contract.dtypes, ROW, "_extra"]
        self.keys = [ROW, *contract.natural_key]
        lineage = {"_source_file": literal(path), "_sha256": literal(sha256),
                   "_run_id": literal(run_id), "_loaded_at": f"{literal(now)}::TIMESTAMPTZ",
                   "_site": "coalesce(getvariable('tracelake_site'), 'main')"}
        names = [r[0] for r in con.execute(
            "SELECT column_name FROM duckdb_columns() WHERE database_name = current_database() "
            "AND schema_name = 'main' AND table_name = ? ORDER BY column_index",
            [contract.name]).fetchall()]
        # in the table's own column order (a lake from an earlier version has later columns
        # appended after the lineage): the relation is inserted by position
        self._project = ", ".join(
            f'"{n}"' if n in self.cols else f'{lineage.get(n, "NULL")} AS "{n}"' for n in names)
        self._bad = False
        self._inserted = 0
        self._done = False  # the file's rows stay: its load went on past the checks

    @staticmethod
    def usable(con, contract: TableContract) -> bool:  # type: ignore[no-untyped-def]
        """Whether a file of ``contract``'s table can be loaded directly: an embedded lake
        (DuckLake writes a Parquet file per insert) whose table holds no rows yet."""
        kind = con.execute("SELECT type FROM duckdb_databases() "
                           "WHERE database_name = current_database()").fetchone()
        if not kind or kind[0] != "duckdb":
            return False
        return bool(con.execute(f'SELECT NOT EXISTS (SELECT 1 FROM main."{contract.name}")'
                                ).fetchone()[0])

    def _write(self, write) -> None:  # type: ignore[no-untyped-def]
        """One write: a DuckDB failure here aborts the run's transaction, so it counts as a
        failure while writing (the run goes again without the file)."""
        was, self.writing[0] = self.writing[0], True
        write()
        self.writing[0] = was

    def append(self, typed: pl.DataFrame, bad: pl.Series, blank: pl.Series) -> None:
        """Write one chunk's valid rows to the table; keep the keys of the rows it failed."""
        failed = pl.col(ROW).is_in(bad.implode())
        if bad.len():
            keys = typed.select(self.keys).with_columns(blank.alias("_blank")).filter(failed)
            if keys.height:
                if not self._bad:
                    cols = [f'"{c}" {duckdb_type(typed.schema[c])}' for c in self.keys]
                    self._write(lambda: self.con.execute(
                        f"CREATE OR REPLACE TEMP TABLE {self.BAD} "
                        f"({', '.join(cols)}, _blank BOOLEAN)"))
                    self._bad = True
                self._write(lambda: self.con.from_arrow(keys.to_arrow()).insert_into(self.BAD))
            typed = typed.filter(~failed)
        if not typed.height:
            return
        part = typed.select(self.cols).to_arrow(compat_level=pl.CompatLevel.newest())
        self._write(lambda: self.con.from_arrow(part).project(self._project
                                                              ).insert_into(self.TABLE))
        self._inserted += typed.height

    def duplicates(self) -> pl.DataFrame:
        """Rows whose natural key the whole file holds more than once (deleted from the table)."""
        key = ", ".join(f'"{k}"' for k in self.keys)
        relation = f"(SELECT {key}, false AS _blank FROM {self.TABLE}" + (
            f" UNION ALL SELECT {key}, _blank FROM {self.BAD})" if self._bad else ")")
        was, self.writing[0] = self.writing[0], True
        dup = duplicate_key_failures(self.con, relation, self.contract)
        self.writing[0] = was
        if dup.height:
            was, self.writing[0] = self.writing[0], True
            _for_rows(self.con, f"DELETE FROM {self.TABLE}", dup)
            self._inserted = int(self.con.execute(f"SELECT count(*) FROM {self.TABLE}"
                                                  ).fetchone()[0])
            self.writing[0] = was
        return dup

    def valid_rows(self) -> int:
        """How many of the file's rows are in the table."""
        return self._inserted

    def valid_view(self, *, path: str, sha256: str, run_id: str, now: datetime) -> str:
        """The table (the rows are written already, with the lineage given at the start)."""
        self._done = True
        return self.TABLE

    def drop(self) -> None:
        """Drop the failed rows' keys; when the file failed before its checks were done (it is
        rejected, the run goes on), take its rows out of the table again: it held none before.
        Nothing is possible, nor needed, once the transaction failed (the run goes again)."""
        with contextlib.suppress(duckdb.Error):
            if not self._done and self._inserted:
                self.con.execute(f"DELETE FROM {self.TABLE}")
            if self._bad:
                self.con.execute(f"DROP TABLE IF EXISTS {self.BAD}")
