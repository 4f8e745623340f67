"""Read-only SQL over the published snapshot, for auditors and scripts (``tracelake sql``).

Three locks keep it a read of the lake and nothing else:

* the query is parsed by DuckDB (``json_serialize_sql``) and its statement tree checked against
  an allow-list: one SELECT (or EXPLAIN without ANALYZE); tables and views of the lake only (and
  the query's own CTEs); table functions only ``range``, ``generate_series`` and ``unnest``; no
  function that reads files or reveals settings, paths or variables (``read_*``, ``duckdb_*``,
  ``pragma_*``, ``current_setting``, ``getenv``, ``getvariable``, ...);
* the snapshot is opened read-only with file and network access switched off, so anything the
  allow-list missed that touches a file fails anyway;
* limits: a query runs at most ``timeout`` seconds (interrupted from a timer thread) and within
  ``memory`` (DuckDB's memory limit, spilling to disk first); past either it is stopped with
  :class:`~tracelake.errors.QueryStopped`, one line.
"""

from __future__ import annotations

import json
import re
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import duckdb

from tracelake.errors import InputError, QueryRefused, QueryStopped
from tracelake.lake.paths import LakePaths
from tracelake.lake.snapshot import open_snapshot

if TYPE_CHECKING:
    import polars as pl

__all__ = ["DEFAULT_MEMORY", "DEFAULT_TIMEOUT", "SqlRows", "check_query", "memory_setting",
           "read_query", "run_sql", "run_sql_rows", "sql_frame", "sql_rows"]

#: Seconds a query may run (``tracelake sql --timeout``, the dashboards' Ask page).
DEFAULT_TIMEOUT = 30.0
#: Memory a query may use (``tracelake sql --memory``); DuckDB spills to disk before that.
DEFAULT_MEMORY = "1GB"

_ALLOWED = {duckdb.StatementType.SELECT, duckdb.StatementType.EXPLAIN}
_TABLE_FUNCTIONS = {"range", "generate_series", "unnest"}
_DENIED_PREFIXES = ("read_", "duckdb_", "pragma_", "parquet_", "iceberg", "delta_", "sniff_",
                    "glob", "json_execute", "current_setting", "getenv", "getvariable",
                    "which_secret", "enable_", "disable_", "checkpoint", "force_checkpoint",
                    "query", "test_", "summary", "load_", "install_", "ducklake",
                    "sqlite_", "postgres_", "mysql_", "http", "s3_")
_LEADING = re.compile(r"^(?:\s+|--[^\n]*(?:\n|$)|/\*.*?\*/)*", re.S)
_MEMORY = re.compile(r"^\s*\d+(?:\.\d+)?\s*(?:[KMGT]i?B|[KMGT]|B|bytes?)?\s*$", re.I)


def read_query(sql: str) -> str:
    """The statement, if it is one read; QueryRefused names what was refused otherwise.

    This checks the statement's kind; :func:`check_query` checks what it reads.
    """
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
    if kind == duckdb.StatementType.EXPLAIN:
        rest = _LEADING.sub("", sql, count=1)
        rest = re.sub(r"^explain\b", "", rest, count=1, flags=re.I)
        rest = _LEADING.sub("", rest, count=1)
        if re.match(r"^(analy[sz]e\b|\()", rest, re.I):
            raise QueryRefused("EXPLAIN ANALYZE (and EXPLAIN with options) runs the query's "
                               "plan: refused; use EXPLAIN alone")
    return sql


def _select_text(sql: str) -> str:
    """The SELECT of a statement (the statement after a leading EXPLAIN)."""
    rest = _LEADING.sub("", sql, count=1)
    if re.match(r"^explain\b", rest, re.I):
        return _LEADING.sub("", rest[len("explain"):], count=1)
    return sql


def check_query(con: duckdb.DuckDBPyConnection, sql: str) -> str:
    """The statement, if it is one read of the lake's tables and harmless functions only.

    Raises:
        QueryRefused: a write, a file or settings function, or a table not of the lake.
        InputError: the statement is not valid SQL.
    """
    read_query(sql)
    parser = duckdb.connect()  # parsing needs no data: an empty in-memory database
    try:
        # the text as a quoted literal, not a parameter: DuckDB's client imports pandas for any
        # parameter (~0.5 s of a one-line `tracelake sql`); doubling quotes is the whole escape
        literal = "'" + _select_text(sql).replace("'", "''") + "'"
        tree = json.loads(parser.execute(
            f"SELECT json_serialize_sql({literal})").fetchone()[0])  # type: ignore[index]
    finally:
        parser.close()
    if tree.get("error"):
        raise QueryRefused(f"only a plain SELECT can be run here "
                           f"({tree.get('error_message', 'not a SELECT')})")
    if len(tree.get("statements", [])) != 1:
        raise QueryRefused("give exactly one statement")
    tables = _lake_tables(con)
    ctes = {str(k).lower() for k in _cte_names(tree)}
    for node in _nodes(tree):
        if node.get("class") in ("FUNCTION", "WINDOW", "AGGREGATE") and "function_name" in node:
            _check_function(str(node["function_name"]))
        kind = node.get("type")
        if kind == "TABLE_FUNCTION":
            name = str((node.get("function") or {}).get("function_name", "")).lower()
            if name not in _TABLE_FUNCTIONS:
                raise QueryRefused(f"refused: the table function {name}() may touch files, "
                                   "the network or settings (allowed: "
                                   f"{', '.join(sorted(_TABLE_FUNCTIONS))} and the lake's "
                                   "tables)")
        elif kind in ("BASE_TABLE", "SHOW_REF") and node.get("table_name"):
            _check_table(node, tables, ctes)
    return sql


def _check_function(name: str) -> None:
    low = name.lower()
    if low.startswith(_DENIED_PREFIXES):
        raise QueryRefused(f"refused: {name}() touches files or reveals settings, paths or "
                           "variables; queries read the lake's tables only")


def _check_table(node: dict[str, Any], tables: set[tuple[str, str]], ctes: set[str]) -> None:
    catalog = str(node.get("catalog_name") or "").lower()
    schema = str(node.get("schema_name") or "").lower()
    name = str(node["table_name"]).lower()
    if catalog and catalog not in ("serving", "memory"):  # memory: the lake as of a point
        if not schema:  # `history.jobs` parses as catalog-less schema.table in some forms
            schema, catalog = catalog, ""
        else:
            raise QueryRefused(f"refused: {catalog}.{schema}.{name} is not a table of the lake")
    if not schema and name in ctes:
        return
    if (schema or "main", name) in tables:
        return
    shown = f"{schema}.{name}" if schema else name
    raise QueryRefused(f"refused: {shown!r} is not a table or view of the lake (the README "
                       "lists them)")


def _lake_tables(con: duckdb.DuckDBPyConnection) -> set[tuple[str, str]]:
    rows = con.execute(
        "SELECT schema_name, table_name FROM duckdb_tables() WHERE NOT internal "
        "AND database_name = current_database() UNION ALL "
        "SELECT schema_name, view_name FROM duckdb_views() WHERE NOT internal "
        "AND database_name = current_database()").fetchall()
    return {(str(s).lower(), str(t).lower()) for s, t in rows}


def _nodes(tree: Any) -> Iterator[dict[str, Any]]:
    stack = [tree]
    while stack:
        item = stack.pop()
        if isinstance(item, dict):
            yield item
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)


def _cte_names(tree: Any) -> Iterator[str]:
    for node in _nodes(tree):
        cte_map = node.get("cte_map")
        if isinstance(cte_map, dict):
            for entry in cte_map.get("map", []):
                if isinstance(entry, dict) and "key" in entry:
                    yield entry["key"]


def memory_setting(memory: str) -> str:
    """A memory size DuckDB understands (``1GB``, ``512MB``); InputError otherwise."""
    if not _MEMORY.match(memory):
        raise InputError(f"--memory {memory!r} is not a size (e.g. 1GB, 512MB)")
    return memory.strip()


@dataclass(frozen=True)
class SqlRows:
    """A query's answer as DuckDB gives it: column names, DuckDB type names, Python rows."""

    columns: list[str]
    types: list[str]
    rows: list[tuple[Any, ...]]
    point: Any = None  # the AsOf it answered at (tracelake.lake.asof), None: the lake now


def run_sql(lake: LakePaths, sql: str, *, timeout: float | None = DEFAULT_TIMEOUT,
            memory: str | None = DEFAULT_MEMORY, as_of: str | None = None,
            index: Any = None) -> pl.DataFrame:
    """Run one read-only query on the lake's published snapshot, within the limits (on the lake
    as it stood at ``as_of``, if given: see :mod:`tracelake.lake.asof`; ``index`` builds the
    genealogy index for a point the snapshot's does not serve, else ``genealogy.*`` is absent)."""
    con, _ = _open(lake, sql, timeout, memory, as_of, index)
    try:
        return sql_frame(con, sql, timeout=timeout, memory=memory)
    finally:
        con.close()


def run_sql_rows(lake: LakePaths, sql: str, *, timeout: float | None = DEFAULT_TIMEOUT,
                 memory: str | None = DEFAULT_MEMORY, as_of: str | None = None,
                 index: Any = None) -> SqlRows:
    """:func:`run_sql` without polars: the rows as Python values (``tracelake sql`` prints
    them; importing polars would be half of its start-up), and the point it answered at."""
    con, point = _open(lake, sql, timeout, memory, as_of, index)
    try:
        rows = sql_rows(con, sql, timeout=timeout, memory=memory)
        return SqlRows(rows.columns, rows.types, rows.rows, point)
    finally:
        con.close()


def _open(lake: LakePaths, sql: str, timeout: float | None, memory: str | None,
          as_of: str | None = None, index: Any = None
          ) -> tuple[duckdb.DuckDBPyConnection, Any]:
    read_query(sql)
    if timeout is not None and timeout <= 0:
        raise InputError(f"--timeout {timeout} must be more than 0 seconds")
    limit = memory_setting(memory) if memory else None
    if as_of is None:
        return open_snapshot(lake, memory_limit=limit), None
    from tracelake.lake.asof import open_as_of

    return open_as_of(lake, as_of, memory_limit=limit, index=index)


def sql_frame(con: duckdb.DuckDBPyConnection, sql: str, *, timeout: float | None = None,
              memory: str | None = None) -> pl.DataFrame:
    """Run one read-only query on a connection from :func:`open_snapshot` (or a cursor of one),
    interrupted after ``timeout`` seconds (``memory`` names the limit the connection was opened
    with, for the message)."""
    import polars as pl

    query = check_query(con, sql)
    with _limits(con, timeout, memory):
        # through the Arrow C stream, not .pl(): .pl() imports pyarrow and numpy (~0.4 s of a
        # one-line `tracelake sql`), the stream gives the same frame (types and values)
        return pl.DataFrame(con.sql(query))
    raise AssertionError("unreachable")  # pragma: no cover  (_limits raises or returns)


def sql_rows(con: duckdb.DuckDBPyConnection, sql: str, *, timeout: float | None = None,
             memory: str | None = None) -> SqlRows:
    """:func:`sql_frame` as column names, types and Python rows (DuckDB's own fetch)."""
    query = check_query(con, sql)
    with _limits(con, timeout, memory):
        result = con.execute(query)
        described = result.description or []
        rows = result.fetchall()
        return SqlRows([str(d[0]) for d in described], [str(d[1]) for d in described], rows)
    raise AssertionError("unreachable")  # pragma: no cover


@contextmanager
def _limits(con: duckdb.DuckDBPyConnection, timeout: float | None,
            memory: str | None) -> Iterator[None]:
    """The time limit (an interrupt from a timer thread) and DuckDB's errors as one line each."""
    timer = threading.Timer(timeout, con.interrupt) if timeout else None
    if timer:
        timer.daemon = True
        timer.start()
    try:
        yield
    except duckdb.InterruptException:
        if timer is not None and not timer.is_alive():
            raise QueryStopped(f"the query ran past its time limit of {timeout:g} s and was "
                               "stopped (tracelake sql --timeout SECONDS)") from None
        raise KeyboardInterrupt from None
    except duckdb.OutOfMemoryException as exc:
        raise QueryStopped(f"the query needs more than its memory limit "
                           f"{memory or ''} and was stopped (tracelake sql --memory SIZE): "
                           f"{_one_line(exc).split(' Possible solutions')[0][:200]}") from None
    except duckdb.PermissionException as exc:
        raise QueryRefused(f"refused: the query touches files, the network or settings "
                           f"({_one_line(exc)})") from None
    except duckdb.Error as exc:
        raise InputError(f"the query failed: {_one_line(exc)}") from None
    finally:
        if timer:
            timer.cancel()


def _one_line(exc: BaseException) -> str:
    return " ".join(str(exc).split())
