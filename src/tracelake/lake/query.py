"""Read-only SQL over the published snapshot, for auditors and scripts (``tracelake sql``).

Two locks keep it a read: only a single SELECT (or EXPLAIN) statement is accepted, and the
snapshot is opened read-only with file and network access switched off, so ``read_csv``, ``COPY``,
``ATTACH`` and ``INSTALL`` fail even when hidden inside a SELECT.
"""

from __future__ import annotations

import duckdb
import polars as pl

from tracelake.errors import InputError, QueryRefused
from tracelake.lake.paths import LakePaths
from tracelake.lake.snapshot import open_snapshot

__all__ = ["read_query", "run_sql", "sql_frame"]

_ALLOWED = {duckdb.StatementType.SELECT, duckdb.StatementType.EXPLAIN}


def read_query(sql: str) -> str:
    """The statement, if it is one read; QueryRefused names what was refused otherwise."""
    try:
        statements = duckdb.extract_statements(sql)
    except duckdb.Error as exc:
        raise InputError(f"the query is not valid SQL: {_one_line(exc)}") from None
    if len(statements) != 1:
        raise QueryRefused(f"give exactly one statement (got {len(statements)})")
    kind = statements[0].type
    if kind not in _ALLOWED:
        raise QueryRefused(f"only reads are allowed: {kind.name} statements are refused "
                           "(the lake is changed only by 'tracelake ingest')")
    return sql


def run_sql(lake: LakePaths, sql: str) -> pl.DataFrame:
    """Run one read-only query on the lake's published snapshot."""
    query = read_query(sql)
    con = open_snapshot(lake)
    try:
        return sql_frame(con, query)
    finally:
        con.close()


def sql_frame(con: duckdb.DuckDBPyConnection, sql: str) -> pl.DataFrame:
    """Run one read-only query on a connection from :func:`open_snapshot` (or a cursor of one)."""
    query = read_query(sql)
    try:
        # through the Arrow C stream, not .pl(): .pl() imports pyarrow and numpy (~0.4 s of a
        # one-line `tracelake sql`), the stream gives the same frame (types and values)
        return pl.DataFrame(con.sql(query))
    except duckdb.PermissionException as exc:
        raise QueryRefused(f"refused: the query touches files, the network or settings "
                           f"({_one_line(exc)})") from None
    except duckdb.Error as exc:
        raise InputError(f"the query failed: {_one_line(exc)}") from None


def _one_line(exc: BaseException) -> str:
    return " ".join(str(exc).split())
