"""The lake: one DuckDB file holding the canonical tables, their history, and lineage on every row.

Layout of a lake folder::

    lake/
      lake.duckdb      the writer's database (one writer at a time)
      serving.duckdb   the published read-only snapshot every reader opens (see snapshot.py)
      .tmp/            what DuckDB spills past the writer's memory limit (512 MB,
                       ``TRACELAKE_MEMORY_LIMIT``: paths.MEMORY_LIMIT), while a writer runs

A lake folder with a ``tracelake.toml`` (``tracelake init``, see config.py) is a scale-out lake:
the same tables live in DuckLake (PostgreSQL catalog, Parquet on a folder or S3), attached as
``lake`` by :func:`connect_writer`; everything below runs the same SQL in both modes.

Every canonical table carries the contract's columns, then ``_extra`` (unknown source columns as
JSON, kept as they came) and the lineage columns ``_source_file``, ``_sha256``, ``_row``,
``_run_id`` and ``_loaded_at`` (and ``_site``, the site whose run wrote it). Rows are
upserted by natural key; a row that a later file changes
is moved to ``history.<table>`` with the run and file that superseded it, so the earlier version
stays queryable.
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass

import duckdb
import polars as pl

from tracelake.contracts import CONTRACTS, TableContract
from tracelake.errors import LakeError

# re-exported: older imports name storage (MEMORY_LIMIT: the writer's DuckDB memory limit)
from tracelake.lake.paths import IN_FILTER_KEYS, MEMORY_LIMIT, LakePaths, memory_limit

__all__ = [
    "IN_FILTER_KEYS",
    "LINEAGE",
    "MEMORY_LIMIT",
    "LakePaths",
    "UpsertCounts",
    "check_site",
    "connect_writer",
    "create_schema",
    "retire_rows",
    "set_site",
    "upsert",
]

LINEAGE = {"_extra": "VARCHAR", "_source_file": "VARCHAR", "_sha256": "VARCHAR",
           "_row": "BIGINT", "_run_id": "VARCHAR", "_loaded_at": "TIMESTAMPTZ"}
#: the site whose run wrote the row (``tracelake ingest --site``); set per connection by
#: :func:`set_site`, written by upsert; lakes from before it get 'main'
SITE = {"_site": "VARCHAR DEFAULT 'main'"}
SUPERSEDED = {"_superseded_at": "TIMESTAMPTZ", "_superseded_by_run": "VARCHAR",
              "_superseded_by_file": "VARCHAR"}


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
    config = paths.config
    if config is not None:  # scale-out: the lake is DuckLake, attached to an in-memory DuckDB
        from tracelake.lake import ducklake

        con = ducklake.connect()
        try:
            ducklake.attach(con, config)
            con.execute(f"USE {ducklake.ALIAS}")
        except BaseException:
            con.close()
            raise
    else:
        con = _open_file(paths)
    try:
        con.execute("SET TimeZone = 'UTC'")
        con.execute("SET enable_progress_bar = false")
        # bounded memory: DuckDB spills to the lake folder instead of growing to 80 % of RAM
        # (OOM at 1M units); the same limit and spill folder in both modes (an in-memory
        # DuckLake connection would spill into the working directory by default)
        con.execute(f"SET memory_limit = '{memory_limit()}'")
        con.execute("SET temp_directory = ?", [str(paths.spill)])
        con.execute(f"SET dynamic_or_filter_threshold = {IN_FILTER_KEYS}")
        if config is not None:
            _create_schema_retrying(con)
        else:
            create_schema(con)
        yield con
    finally:
        con.close()


def _open_file(paths: LakePaths) -> duckdb.DuckDBPyConnection:
    """The embedded lake's database file, opened for writing (one writer at a time)."""
    try:
        return duckdb.connect(str(paths.database))
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


def _create_schema_retrying(con: duckdb.DuckDBPyConnection) -> None:
    """create_schema on a DuckLake that other writers may be creating at the same moment."""
    import random
    import time

    from tracelake.lake.ducklake import is_conflict

    for attempt in range(8):
        try:
            con.execute("BEGIN TRANSACTION")
            create_schema(con)
            con.execute("COMMIT")
            return
        except duckdb.Error as exc:
            with contextlib.suppress(duckdb.Error):
                con.execute("ROLLBACK")
            already = "already exists" in str(exc).lower()
            if not (is_conflict(exc) or already) or attempt == 7:
                raise LakeError("the lake's tables could not be created: "
                                f"{' '.join(str(exc).split())[:300]}") from None
            time.sleep(random.uniform(0.05, 0.3) * (attempt + 1))


def create_schema(con: duckdb.DuckDBPyConnection) -> None:
    """Create every table the lake needs (idempotent)."""
    from tracelake.lake import ledger, orphans  # the modules owning those tables

    con.execute("CREATE SCHEMA IF NOT EXISTS history")
    for contract in CONTRACTS.values():
        con.execute(f'CREATE TABLE IF NOT EXISTS main."{contract.name}" '
                    f"({_columns_ddl(contract, LINEAGE | SITE)})")
        con.execute(f'CREATE TABLE IF NOT EXISTS history."{contract.name}" '
                    f"({_columns_ddl(contract, LINEAGE | SITE | SUPERSEDED)})")
    _add_new_columns(con)
    ledger.create_tables(con)
    orphans.create_table(con)


def _add_new_columns(con: duckdb.DuckDBPyConnection) -> None:
    """Give a lake made by an earlier version the columns later contract versions added."""
    have = {(schema, table, column) for schema, table, column in con.execute(
        "SELECT table_schema, table_name, column_name FROM information_schema.columns "
        "WHERE table_schema IN ('main', 'history') AND table_catalog = current_database()"
        ).fetchall()}
    for contract in CONTRACTS.values():
        for schema in ("main", "history"):
            if (schema, contract.name, next(iter(contract.dtypes))) not in have:
                continue  # just created with every column
            for name, dtype in contract.dtypes.items():
                if (schema, contract.name, name) not in have:
                    con.execute(f'ALTER TABLE {schema}."{contract.name}" '
                                f'ADD COLUMN "{name}" {duckdb_type(dtype)}')
            for name, ddl in SITE.items():
                if (schema, contract.name, name) not in have:
                    con.execute(f'ALTER TABLE {schema}."{contract.name}" ADD COLUMN "{name}" {ddl}')


def set_site(con: duckdb.DuckDBPyConnection, site: str) -> None:
    """Tag what this connection writes from now on with ``site`` (the ``_site`` column)."""
    con.execute("SET VARIABLE tracelake_site = ?", [site])


def check_site(site: str) -> str:
    """The site name, or InputError when it is not a short name of letters, digits, '_.-'."""
    from tracelake.errors import InputError

    if not re.match(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,62}$", site):
        raise InputError(f"site {site!r}: a site is letters, digits, '_', '.' or '-' "
                         "(at most 63), e.g. --site plant-2")
    return site


def _site_value() -> str:
    return "coalesce(getvariable('tracelake_site'), 'main')"


@dataclass
class UpsertCounts:
    """What an upsert did with a file's valid rows."""

    inserted: int = 0
    updated: int = 0
    unchanged: int = 0


def upsert(con: duckdb.DuckDBPyConnection, contract: TableContract, rows: pl.DataFrame | str,
           *, run_id: str, source_file: str) -> UpsertCounts:
    """Insert new natural keys, replace changed rows (keeping the old version in history).

    ``rows`` holds the contract's columns, ``_extra`` and the lineage columns: a frame, or the
    name of a table or view in ``con`` (an ingest stages a large file there chunk by chunk, so
    the set-based statements below read it without a copy of everything in Python).
    """
    if isinstance(rows, str):
        n = con.execute(f"SELECT count(*) FROM {rows}").fetchone()[0]  # type: ignore[index]
        if not n:
            return UpsertCounts()
        return _upsert_from(con, contract, rows, n, run_id=run_id, source_file=source_file)
    if not rows.height:
        return UpsertCounts()
    cols = [*contract.dtypes, *LINEAGE]
    con.register("_stage_frame", rows.select(cols).to_arrow())
    try:
        return _upsert_from(con, contract, "_stage_frame", rows.height, run_id=run_id,
                            source_file=source_file)
    finally:
        con.unregister("_stage_frame")


def _upsert_from(con: duckdb.DuckDBPyConnection, contract: TableContract, source: str, n: int,
                 *, run_id: str, source_file: str) -> UpsertCounts:
    """:func:`upsert` of the ``n`` rows of relation ``source`` (``_row`` unique in it)."""
    table = f'main."{contract.name}"'
    cols = [*contract.dtypes, *LINEAGE]
    select = ", ".join(f'"{c}"' for c in cols)
    if con.execute(f"SELECT NOT EXISTS (SELECT 1 FROM {table})").fetchone()[0]:  # type: ignore[index]
        con.execute(f"INSERT INTO {table} ({select}, _site) SELECT {select}, {_site_value()} "
                    f"FROM {source}")
        return UpsertCounts(inserted=n)
    key_match = " AND ".join(f't."{k}" IS NOT DISTINCT FROM s."{k}"'
                             for k in contract.natural_key)
    bounds, values = _key_bounds(con, contract.natural_key, source)
    content = [*contract.dtypes, "_extra"]
    differs = " OR ".join(f't."{c}" IS DISTINCT FROM s."{c}"' for c in content)
    con.execute(f"""
        CREATE OR REPLACE TEMP TABLE _matched AS
        SELECT t.rowid AS target_rowid, s._row AS stage_row, ({differs}) AS changed
        FROM {table} t JOIN {source} s ON {key_match}
        WHERE {bounds}""", values)
    changed, unchanged = con.execute(
        "SELECT count(*) FILTER (WHERE changed), count(*) FILTER (WHERE NOT changed) "
        "FROM _matched").fetchone()  # type: ignore[misc]
    if changed:
        old = ", ".join(f't."{c}"' for c in cols)
        con.execute(f"""
            INSERT INTO history."{contract.name}" ({select}, _site, _superseded_at,
                                                   _superseded_by_run, _superseded_by_file)
            SELECT {old}, t._site, now(), ?, ? FROM {table} t
            WHERE t.rowid IN (SELECT target_rowid FROM _matched WHERE changed)""",
                    [run_id, source_file])
        con.execute(f"DELETE FROM {table} WHERE rowid IN "
                    "(SELECT target_rowid FROM _matched WHERE changed)")
    con.execute(f"""
        INSERT INTO {table} ({select}, _site) SELECT {select}, {_site_value()} FROM {source}
        WHERE _row NOT IN (SELECT stage_row FROM _matched WHERE NOT changed)""")
    con.execute("DROP TABLE IF EXISTS _matched")
    return UpsertCounts(inserted=n - changed - unchanged, updated=changed, unchanged=unchanged)


def _key_bounds(con: duckdb.DuckDBPyConnection, key: Sequence[str], source: str
                ) -> tuple[str, list[object]]:
    """Constant ranges of the key columns the staged rows fill on every row (SQL and its
    values), so that the table's scan skips the row groups no staged key can be in (a join on
    ``IS NOT DISTINCT FROM`` alone reads the whole table's keys: a 1 % run paid for the lake).
    A column with an empty cell among the staged rows gets no range (NULL matches NULL)."""
    cols = ", ".join(f'min("{k}"), max("{k}"), count(*) - count("{k}"), typeof(min("{k}"))'
                     for k in key)
    got = con.execute(f"SELECT {cols} FROM {source}").fetchone() or ()
    terms, values = ["true"], []
    for i, k in enumerate(key):
        lo, hi, nulls, kind = got[4 * i:4 * i + 4]
        if lo is None or nulls or not re.fullmatch(r"[A-Z][A-Z0-9_ (),]*", str(kind)):
            continue
        terms.append(f't."{k}" BETWEEN ?::{kind} AND ?::{kind}')
        values += [lo, hi]
    return " AND ".join(terms), values


def retire_rows(con: duckdb.DuckDBPyConnection, contract: TableContract,
                keep: pl.DataFrame | str, *, sha256: str, run_id: str, source_file: str) -> int:
    """Move to history the rows a file's earlier reading loaded that its new reading does not give.

    Used when a file is read again under a changed mapping: the rows its new reading gives are
    then upserted as usual; a row whose natural key the new reading no longer produces (a date
    read wrongly before, say) must not stay current.
    """
    table = f'main."{contract.name}"'
    key = list(contract.natural_key)
    cols = [*contract.dtypes, *LINEAGE]
    select = ", ".join(f'"{c}"' for c in cols)
    keys = keep if isinstance(keep, str) else "_keep_keys"  # a frame, or a relation's name
    if not isinstance(keep, str):
        con.register("_keep_keys", keep.select(key).to_arrow())
    try:
        match = " AND ".join(f't."{k}" IS NOT DISTINCT FROM k."{k}"' for k in key)
        gone = f"""t._sha256 = ? AND NOT EXISTS (SELECT 1 FROM {keys} k WHERE {match})"""
        n = con.execute(f"SELECT count(*) FROM {table} t WHERE {gone}", [sha256]).fetchone()[0]  # type: ignore[index]
        if n:
            old = ", ".join(f't."{c}"' for c in cols)
            con.execute(f"""
                INSERT INTO history."{contract.name}" ({select}, _site, _superseded_at,
                                                       _superseded_by_run, _superseded_by_file)
                SELECT {old}, t._site, now(), ?, ? FROM {table} t WHERE {gone}""",
                        [run_id, source_file, sha256])
            con.execute(f"DELETE FROM {table} t WHERE {gone}", [sha256])
        return int(n)
    finally:
        if not isinstance(keep, str):
            con.unregister("_keep_keys")
