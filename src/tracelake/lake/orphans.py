"""Orphan references: loaded rows that name a job, serial, lot or equipment the lake does not know.

Promise 5 of the import contract: such rows are loaded, not dropped, and listed here. The list
is rebuilt after every run, so an orphan disappears once the record it names arrives.
"""

from __future__ import annotations

import duckdb

from tracelake.contracts import CONTRACTS

__all__ = ["create_table", "refresh", "select_all"]


def create_table(con: duckdb.DuckDBPyConnection) -> None:
    """Create ``orphan_references`` (idempotent)."""
    con.execute("""
        CREATE TABLE IF NOT EXISTS orphan_references (
            table_name VARCHAR, column_names VARCHAR, value VARCHAR, kind VARCHAR,
            referenced_table VARCHAR, job_id VARCHAR, serial_number VARCHAR,
            source_file VARCHAR, row_number BIGINT, run_id VARCHAR)
    """)


def _queries(changed: set[str] | None, run_id: str | None = None,
             replaced: set[str] | frozenset[str] = frozenset()
             ) -> list[tuple[str, str, str, str, bool]]:
    """(table, columns, target, query, incremental) for every reference touching a changed
    table (all if None).

    With ``run_id``, a reference whose two tables only gained rows in that run (none of them in
    ``replaced``, the tables where the run replaced or retired rows) is checked incrementally:
    the query then reads only the run's rows of the referencing table, and the caller drops the
    listed orphans that the run's rows of the target resolved. Any other reference is checked
    over its whole table.
    """
    out = []
    for contract in CONTRACTS.values():
        for ref in contract.references:
            if changed is not None and not ({contract.name, ref.table} & changed):
                continue
            src = contract.name
            cols = ref.columns
            present = " AND ".join(f'r."{c}" IS NOT NULL' for c in cols)
            match = " AND ".join(f't."{tc}" = r."{c}"' for c, tc in
                                 zip(cols, ref.target_columns, strict=True))
            value = " || '/' || ".join(f'CAST(r."{c}" AS VARCHAR)' for c in cols)
            job = 'r."job_id"' if "job_id" in contract.dtypes else "NULL"
            serial = 'r."serial_number"' if "serial_number" in contract.dtypes else "NULL"
            # goods-in lots are checked only once the plant sends lots at all (contract v2)
            sent = ("AND EXISTS (SELECT 1 FROM main.\"lots\")" if ref.table == "lots" else "")
            # not for lots (the first lots file turns the check on for every row), nor for a
            # reference of several columns (its listed value does not name the record exactly)
            incremental = run_id is not None and not ({src, ref.table} & set(replaced)) \
                and ref.table != "lots" and len(cols) == 1
            only_run = "AND r._run_id = $run" if incremental else ""
            out.append((src, ",".join(cols), ref.table, f"""
                SELECT '{src}', '{",".join(cols)}', {value}, '{ref.kind}', '{ref.table}',
                       {job}, {serial}, r._source_file, r._row, r._run_id
                FROM main."{src}" r
                WHERE {present} {sent} {only_run}
                  AND NOT EXISTS (SELECT 1 FROM main."{ref.table}" t WHERE {match})""",
                        incremental))
    return out


def _resolved(table: str, columns: str, target: str) -> str:
    """Delete the listed orphans of one reference whose record the target table now holds."""
    ref = next(r for r in CONTRACTS[table].references
               if ",".join(r.columns) == columns and r.table == target)
    value = f'CAST(t."{ref.target_columns[0]}" AS VARCHAR)'
    return f"""DELETE FROM orphan_references o
               WHERE o.table_name = '{table}' AND o.column_names = '{columns}'
                 AND o.referenced_table = '{target}'
                 AND o.value IN (SELECT {value} FROM main."{target}" t
                                 WHERE t._run_id = $run)"""


#: orphans of a run's rows inserted per statement: each INSERT holds its slice's orphans in
#: flight (uncompressed), so a run of millions of orphan references costs a bounded slice at a time
SLICE_ROWS = 100_000


def _insert_sliced(con: duckdb.DuckDBPyConnection, table: str, query: str,
                   run_id: str | None) -> None:
    """The incremental query for one run's rows of ``table``, as several INSERTs of about
    :data:`SLICE_ROWS` orphans each (a slice: the rows whose row number, modulo the number of
    slices, is the slice's). The orphans are counted first (a count holds none of them): a
    plant's run has few, and one INSERT then reads the run's rows once, where slicing by rows
    read a 1M-unit plant's 20M results 200 times."""
    found = int(con.execute(f"SELECT count(*) FROM ({query})",
                            {"run": run_id}).fetchone()[0])  # type: ignore[index]
    if not found:
        return
    slices = max(1, -(-found // SLICE_ROWS))
    if slices == 1:
        con.execute("INSERT INTO orphan_references " + query, {"run": run_id})
        return
    for i in range(slices):
        con.execute("INSERT INTO orphan_references " + query
                    + f" AND coalesce(r._row, 0) % {slices} = {i}", {"run": run_id})


def refresh(con: duckdb.DuckDBPyConnection, changed: set[str] | None = None,
            run_id: str | None = None,
            replaced: set[str] | frozenset[str] = frozenset()) -> int:
    """Bring the orphan list up to date for the references that involve a changed table (all
    if None).

    A reference can only gain or lose orphans when the table holding it or the table it points
    at changes, so a run that loaded three tables rechecks only their references. Given the
    run (``run_id``) and the tables where it replaced or retired rows (``replaced``), a
    reference between tables that only gained rows is brought up to date from the run's rows
    alone: its new rows' orphans are added and the orphans its new targets resolve are removed,
    so a day's run costs its rows, not the lake's.
    """
    queries = _queries(changed, run_id, replaced)
    # the references with orphans listed, asked once (not once per reference: each statement
    # is a catalog round trip on DuckLake), for the references whose target gained rows
    listed: set[tuple[str, str, str]] = set()
    if any(inc and target in (changed or set()) for _, _, target, _, inc in queries):
        listed = set(con.execute("SELECT DISTINCT table_name, column_names, referenced_table "
                                 "FROM orphan_references").fetchall())
    whole = []
    for table, columns, target, query, incremental in queries:
        if not incremental:
            whole.append((table, columns, target, query))
            continue
        if target in (changed or set()) and (table, columns, target) in listed:
            con.execute(_resolved(table, columns, target), {"run": run_id})
        if table in (changed or set()):
            _insert_sliced(con, table, query, run_id)
    if whole:  # one DELETE and one INSERT (each statement costs a catalog round trip on DuckLake)
        keys = [(table, columns, target) for table, columns, target, _ in whole]
        con.execute("DELETE FROM orphan_references WHERE (table_name, column_names, "
                    "referenced_table) IN (SELECT * FROM (VALUES "
                    + ", ".join("(?, ?, ?)" for _ in keys) + "))",
                    [v for key in keys for v in key])
        con.execute("INSERT INTO orphan_references "
                    + " UNION ALL ".join(f"({q})" for *_, q in whole))
    return int(con.execute("SELECT count(*) FROM orphan_references").fetchone()[0])  # type: ignore[index]


def select_all() -> str:
    """One SELECT giving every orphan reference of the lake as it stands (the rows of
    ``orphan_references``, worked out on read: the lake as of a point has no stored list)."""
    union = " UNION ALL ".join(f"({query})" for _, _, _, query, _ in _queries(None))
    return (f"SELECT * FROM ({union}) AS o(table_name, column_names, value, kind, "
            "referenced_table, job_id, serial_number, source_file, row_number, run_id)")
