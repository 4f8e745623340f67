"""Orphan references: loaded rows that name a job, serial, lot or equipment the lake does not know.

Promise 5 of the import contract: such rows are loaded, not dropped, and listed here. The list
is rebuilt after every run, so an orphan disappears once the record it names arrives.
"""

from __future__ import annotations

import duckdb

from tracelake.contracts import CONTRACTS

__all__ = ["create_table", "refresh"]


def create_table(con: duckdb.DuckDBPyConnection) -> None:
    """Create ``orphan_references`` (idempotent)."""
    con.execute("""
        CREATE TABLE IF NOT EXISTS orphan_references (
            table_name VARCHAR, column_names VARCHAR, value VARCHAR, kind VARCHAR,
            referenced_table VARCHAR, job_id VARCHAR, serial_number VARCHAR,
            source_file VARCHAR, row_number BIGINT, run_id VARCHAR)
    """)


def _queries(changed: set[str] | None) -> list[tuple[str, str, str, str]]:
    """(table, columns, query) for every reference touching a changed table (all if None)."""
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
            out.append((src, ",".join(cols), ref.table, f"""
                SELECT '{src}', '{",".join(cols)}', {value}, '{ref.kind}', '{ref.table}',
                       {job}, {serial}, r._source_file, r._row, r._run_id
                FROM main."{src}" r
                WHERE {present} {sent}
                  AND NOT EXISTS (SELECT 1 FROM main."{ref.table}" t WHERE {match})"""))
    return out


def refresh(con: duckdb.DuckDBPyConnection, changed: set[str] | None = None) -> int:
    """Rebuild the orphan list for the references that involve a changed table (all if None).

    A reference can only gain or lose orphans when the table holding it or the table it points
    at changes, so a run that loaded three tables rechecks only their references.
    """
    queries = _queries(changed)
    if queries:  # one DELETE and one INSERT (each statement costs a catalog round trip on DuckLake)
        keys = [(table, columns, target) for table, columns, target, _ in queries]
        con.execute("DELETE FROM orphan_references WHERE (table_name, column_names, "
                    "referenced_table) IN (SELECT * FROM (VALUES "
                    + ", ".join("(?, ?, ?)" for _ in keys) + "))",
                    [v for key in keys for v in key])
        con.execute("INSERT INTO orphan_references "
                    + " UNION ALL ".join(f"({q})" for *_, q in queries))
    return int(con.execute("SELECT count(*) FROM orphan_references").fetchone()[0])  # type: ignore[index]
