"""What a recall needs beyond the units (import contract v2): the goods-in record of each traced
lot (supplier, supplier lot, certificate, expiry) and each consignee's contact and address
(ISO 13485 7.5.9.2), with the country each shipment went to.

:func:`attach_details` adds them to a where-used answer while the lake is open; the answer's JSON
then carries ``goods_in`` and ``consignees``, and the recall exports one row per unit with them.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import duckdb
import pyarrow as pa

from tracelake.lake.literals import execute

if TYPE_CHECKING:
    from tracelake.derived.genealogy.answers import WhereUsed

__all__ = ["CONSIGNEE_FIELDS", "GOODS_IN_FIELDS", "attach_details", "lot_details"]

GOODS_IN_FIELDS = ("supplier", "supplier_lot", "certificate_ref", "expires_at", "received_at",
                   "inspection_status")
CONSIGNEE_FIELDS = ("contact_name", "email", "phone", "address", "country")


def lot_details(con: duckdb.DuckDBPyConnection,
                lots: list[tuple[str, str]]) -> dict[tuple[str, str], dict[str, Any]]:
    """(component_code, lot_number) -> its goods-in record, for the lots ``lots`` holds."""
    if not lots:
        return {}
    keys = pa.table({"component_code": [c for c, _ in lots], "lot_number": [n for _, n in lots]})
    con.register("_traced_lots", keys)
    try:
        rows = con.execute(f"""
            SELECT l.component_code, l.lot_number, {', '.join('l.' + f for f in GOODS_IN_FIELDS)}
            FROM lots l JOIN _traced_lots k USING (component_code, lot_number)""").fetchall()
    finally:
        con.unregister("_traced_lots")
    return {(r[0], r[1]): dict(zip(GOODS_IN_FIELDS, r[2:], strict=True)) for r in rows}


def attach_details(con: duckdb.DuckDBPyConnection, answer: WhereUsed) -> WhereUsed:
    """Add the traced lots' goods-in records, the consignees and the ship-to countries."""
    traced = _traced_lots(answer)
    found = lot_details(con, traced)
    answer.goods_in = [{"component_code": c, "lot_number": n, **found[(c, n)]}
                       for c, n in traced if (c, n) in found]
    if answer.columns is not None:
        serials = [s for s in answer.columns.column("serial_number") if s]
        customers = sorted({c for c in answer.columns.column("customer") if c})
    else:
        serials = [a["serial_number"] for a in answer.affected if a.get("serial_number")]
        customers = sorted({a["customer"] for a in answer.affected if a.get("customer")})
    answer.consignees = _consignees(con, customers)
    answer.ship_to = _ship_to(con, serials)
    return answer


def _traced_lots(answer: WhereUsed) -> list[tuple[str, str]]:
    code = answer.query.get("component_code")
    if code is None:
        return []
    if answer.query.get("lot_number"):
        return [(str(code), str(answer.query["lot_number"]))]
    return [(str(code), str(lot)) for lot in answer.query.get("lots") or []]


def _consignees(con: duckdb.DuckDBPyConnection, customers: list[str]) -> dict[str, dict[str, Any]]:
    if not customers:
        return {}
    rows = execute(con, f"""
        SELECT customer, {', '.join(CONSIGNEE_FIELDS)} FROM customers
        WHERE customer IN (SELECT unnest($names::VARCHAR[]))""", {"names": customers}).fetchall()
    return {r[0]: dict(zip(CONSIGNEE_FIELDS, r[1:], strict=True)) for r in rows}


def _ship_to(con: duckdb.DuckDBPyConnection, serials: list[str]) -> dict[tuple[str, str], str]:
    """(serial, order_ref) -> ship_to_country, for the affected units that were shipped."""
    if not serials:
        return {}
    con.register("_recall_serials", pa.table({"serial_number": serials}))
    try:
        rows = con.execute("""
            SELECT s.serial_number, s.order_ref, s.ship_to_country FROM shipments s
            JOIN _recall_serials r USING (serial_number)
            WHERE s.ship_to_country IS NOT NULL""").fetchall()
    finally:
        con.unregister("_recall_serials")
    return {(r[0], r[1]): r[2] for r in rows}
