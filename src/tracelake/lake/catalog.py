"""What the lake holds to pick from: lots, suppliers, jobs, serials, and the tables with their columns.

The dashboards' pickers and the "Ask the lake" table list read these; each is one small query on
the published snapshot. Column documentation comes from the import contract itself (types,
required fields, allowed values, natural keys, references), so it cannot drift from the code.
"""

from __future__ import annotations

from typing import Any

import duckdb
import polars as pl

from tracelake.contracts import CONTRACTS

__all__ = ["columns", "jobs", "lots", "serials_like", "suppliers", "tables"]

#: Tables that are not contract tables, as ``tracelake sql`` sees them.
SYSTEM_TABLES: dict[str, str] = {
    "quarantine": "One row per failure of a quarantined source row: file, row number, column, rule, "
                  "message and the raw values (JSON).",
    "ingest_runs": "One row per ingest run: when, how many files and rows, how it ended.",
    "ingest_files": "One row per file per run: path, sha256, table, status, rows read / loaded / "
                    "quarantined, the reason.",
    "orphan_references": "Loaded rows that name a job, serial, lot or equipment the lake does not "
                         "know (rebuilt every run).",
    "review_entries": "The review chain: signed dispositions of findings and release/rejection "
                      "signatures, append-only and hash-chained ('tracelake verify').",
    "review_head": "One row: the newest review entry's number and hash (shows entries removed "
                   "from the end of the chain; makes two sites signing at once take turns).",
}

_LINEAGE_DOCS = {
    "_extra": "source columns the contract does not know, kept as they came (JSON)",
    "_source_file": "the file this row was loaded from",
    "_sha256": "sha256 of that file",
    "_row": "row number in that file (the header is row 1)",
    "_run_id": "the ingest run that loaded the row",
    "_loaded_at": "when that run loaded it (UTC)",
    "_site": "the site whose run loaded it (tracelake ingest --site; 'main' by default)",
    "_superseded_at": "when a later file replaced this version",
    "_superseded_by_run": "the run that replaced it",
    "_superseded_by_file": "the file that replaced it",
}

#: What the contract's headers say in words beyond their type (import-contract.md).
_NOTES = {
    ("products", "serialised"): "finished units carry serials",
    ("mbr_operations", "first_article"): "this step needs a signed first article before the rest "
                                         "of the batch",
    ("unit_components", "serial_number"): "the unit fitted into",
    ("unit_components", "component_serial"): "a serial that is itself a unit links two levels",
    ("operations", "serial_number"): "empty = the whole batch",
    ("test_results", "equipment_id"): "the rig, station or gauge",
    ("test_results", "attempt"): "1 = first pass",
    ("test_results", "value_text"): "the value as written, when it is not a number",
    ("label_checks", "label_data"): "the printed GS1 element string or UDI",
    ("signoffs", "record_id"): "job_id, job_id/op_seq or job_id/op_seq/serial_number",
    ("calibrations", "as_found"): "condition before adjustment",
    ("calibrations", "as_left"): "condition after adjustment",
}


def lots(con: duckdb.DuckDBPyConnection) -> pl.DataFrame:
    """Every traceable lot (component code + lot number) with its supplier, jobs and first issue."""
    return con.sql("""
        WITH issued AS (
            SELECT component_code, lot_number, min(issued_at) AS first_issued_at,
                   string_agg(DISTINCT supplier, ', ' ORDER BY supplier) AS supplier,
                   string_agg(DISTINCT supplier_lot, ', ' ORDER BY supplier_lot) AS supplier_lot,
                   count(DISTINCT job_id) AS jobs
            FROM material_issues GROUP BY ALL
        ), fitted AS (
            SELECT DISTINCT component_code, lot_number FROM unit_components
            WHERE lot_number IS NOT NULL
        )
        SELECT coalesce(i.component_code, f.component_code) AS component_code,
               coalesce(i.lot_number, f.lot_number) AS lot_number,
               i.supplier, i.supplier_lot, i.first_issued_at, coalesce(i.jobs, 0) AS jobs
        FROM issued i FULL JOIN fitted f
          ON f.component_code = i.component_code AND f.lot_number = i.lot_number
        ORDER BY component_code, lot_number""").pl()


def suppliers(con: duckdb.DuckDBPyConnection, component_code: str) -> list[str]:
    """Suppliers a component was issued from, for a supplier recall."""
    rows = con.execute("SELECT DISTINCT supplier FROM material_issues WHERE component_code = ? "
                       "AND supplier IS NOT NULL ORDER BY 1", [component_code]).fetchall()
    return [r[0] for r in rows]


def jobs(con: duckdb.DuckDBPyConnection) -> pl.DataFrame:
    """Every job with its product, status and dates, newest first."""
    return con.sql("""
        SELECT job_id, product_code, mbr_revision, status, quantity, created_at, released_at
        FROM jobs ORDER BY created_at DESC, job_id""").pl()


def serials_like(con: duckdb.DuckDBPyConnection, text: str, limit: int = 20) -> list[str]:
    """Serials starting with ``text`` (any case), then containing it, for suggestions."""
    if not text.strip():
        return []
    rows = con.execute("""
        SELECT serial_number FROM units
        WHERE serial_number ILIKE ?::VARCHAR || '%' OR serial_number ILIKE '%' || ?::VARCHAR || '%'
        ORDER BY NOT starts_with(lower(serial_number), lower(?::VARCHAR)), serial_number
        LIMIT ?""", [text.strip()] * 3 + [limit]).fetchall()
    return [r[0] for r in rows]


def tables(con: duckdb.DuckDBPyConnection) -> pl.DataFrame:
    """The tables ``tracelake sql`` sees, with what each holds and its row count."""
    present = con.sql("SELECT schema_name, table_name, estimated_size FROM duckdb_tables() "
                      "WHERE NOT internal").fetchall()
    sizes = {(s, t): n for s, t, n in present}
    rows: list[dict[str, Any]] = []
    for contract in CONTRACTS.values():
        if ("main", contract.name) in sizes:
            rows.append({"table": contract.name, "family": contract.family,
                         "holds": _first_line(contract.model.__doc__),
                         "rows": _count(con, f'main."{contract.name}"')})
    for name, holds in SYSTEM_TABLES.items():
        if ("main", name) in sizes:
            rows.append({"table": name, "family": "ledger", "holds": holds,
                         "rows": _count(con, f'main."{name}"')})
    for contract in CONTRACTS.values():
        if ("history", contract.name) in sizes:
            rows.append({"table": f"history.{contract.name}", "family": "history",
                         "holds": f"Superseded versions of {contract.name} rows.",
                         "rows": _count(con, f'history."{contract.name}"')})
    for schema, name in sorted(sizes):
        if schema == "genealogy":
            rows.append({"table": f"genealogy.{name}", "family": "genealogy",
                         "holds": "Genealogy index (built by ingest).",
                         "rows": int(sizes[(schema, name)])})
    return pl.DataFrame(rows, schema={"table": pl.String, "family": pl.String,
                                      "holds": pl.String, "rows": pl.Int64})


def columns(con: duckdb.DuckDBPyConnection, table: str) -> pl.DataFrame:
    """The columns of one table with their type and what the contract says of them."""
    schema, _, name = table.rpartition(".")
    schema = schema or "main"
    found = con.execute("SELECT column_name, data_type FROM duckdb_columns() "
                        "WHERE schema_name = ? AND table_name = ? ORDER BY column_index",
                        [schema, name]).fetchall()
    contract = CONTRACTS.get(name) if schema in ("main", "history") else None
    rows = []
    for column, data_type in found:
        rows.append({"column": column, "type": data_type,
                     "description": _describe(contract, column)})
    return pl.DataFrame(rows, schema={"column": pl.String, "type": pl.String,
                                      "description": pl.String})


def _describe(contract: Any, column: str) -> str:
    if column in _LINEAGE_DOCS:
        return "lineage: " + _LINEAGE_DOCS[column]
    if contract is None or column not in contract.dtypes:
        return ""
    parts = []
    if column in contract.natural_key:
        parts.append("key")
    parts.append("required" if column in contract.required else "optional")
    if column in contract.derived:
        parts.append("derived by tracelake")
    if column in contract.allowed_values:
        parts.append("one of " + ", ".join(contract.allowed_values[column]))
    for ref in contract.references:
        if column in ref.columns:
            parts.append(f"names a row of {ref.table}")
    note = _NOTES.get((contract.name, column))
    if note:
        parts.append(note)
    return "; ".join(parts)


def _count(con: duckdb.DuckDBPyConnection, table: str) -> int:
    return int(con.sql(f"SELECT count(*) FROM {table}").fetchone()[0])  # type: ignore[index]


def _first_line(doc: str | None) -> str:
    """A model docstring's first line as a reader sees it: without the docstring's ``literal``
    marks, which no surface renders."""
    return (doc or "").strip().splitlines()[0].replace("``", "") if doc else ""

