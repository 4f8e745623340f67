"""Start nodes of a trace by name: a lot (with its holders' key range), a serial, or the lots
of a component from one supplier issued in a window."""

from __future__ import annotations

import datetime as dt
from typing import Any

import duckdb

from tracelake.derived.genealogy.columns import ZONE_PROBE
from tracelake.lake.literals import execute


def _lot_node(con: duckdb.DuckDBPyConnection, code: str, lot: str
              ) -> tuple[int, Any, tuple[int, int] | None] | None:
    """(node id, a timestamp carrying the session's zone, key range of its holders) of a lot,
    or None."""
    row = execute(con, f"SELECT node_id, {ZONE_PROBE}, des_lo, des_hi FROM genealogy.lot_keys "
                      "WHERE component_code = ?::VARCHAR AND lot_number = ?::VARCHAR",
                      [code, lot]).fetchone()
    if row is None:
        return None
    return int(row[0]), row[1], (int(row[2]), int(row[3])) if row[2] is not None else None


def _serial_node(con: duckdb.DuckDBPyConnection, serial: str) -> int | None:
    row = execute(con, "SELECT node_id FROM genealogy.serial_keys WHERE serial_number = ?::VARCHAR",
                      [serial]).fetchone()
    return None if row is None else int(row[0])


def _serial_node_zone(con: duckdb.DuckDBPyConnection, serial: str) -> tuple[int, Any] | None:
    row = execute(con, f"SELECT node_id, {ZONE_PROBE} FROM genealogy.serial_keys "
                      "WHERE serial_number = ?::VARCHAR", [serial]).fetchone()
    return None if row is None else (int(row[0]), row[1])


def _supplier_lot_nodes(con: duckdb.DuckDBPyConnection, component_code: str, supplier: str,
                        issued_from: dt.datetime | dt.date | None,
                        issued_to: dt.datetime | dt.date | None) -> list[tuple[Any, ...]]:
    """(lot number, node id or None, zone probe, key range of its holders) of each lot of
    ``supplier_lots``."""
    return execute(con, f"""
        WITH lots AS (
            SELECT DISTINCT lot_number FROM material_issues
            WHERE component_code = $code::VARCHAR AND lower(supplier) = lower($supplier::VARCHAR)
              AND ($from::TIMESTAMPTZ IS NULL OR issued_at >= $from::TIMESTAMPTZ)
              AND ($to::TIMESTAMPTZ IS NULL OR issued_at < $to::TIMESTAMPTZ))
        SELECT l.lot_number, k.node_id, {ZONE_PROBE}, k.des_lo, k.des_hi FROM lots l
        LEFT JOIN genealogy.lot_keys k
             ON k.component_code = $code::VARCHAR AND k.lot_number = l.lot_number
        ORDER BY l.lot_number""",
                       {"code": component_code, "supplier": supplier, "from": issued_from,
                        "to": issued_to}).fetchall()
