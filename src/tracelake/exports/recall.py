"""The recall list a quality engineer sends on: one row per affected unit with its customer order.

The same frame feeds ``tracelake trace forward --format csv``, ``--xlsx`` and the dashboards'
download buttons.
"""

from __future__ import annotations

from pathlib import Path

import polars as pl

from tracelake.derived.genealogy.trace import WhereFrom, WhereUsed
from tracelake.exports.sheets import to_csv, write_xlsx

__all__ = ["components_frame", "recall_frame", "write_recall"]

RECALL_SCHEMA = {
    "serial_number": pl.String, "product_code": pl.String, "job_id": pl.String,
    "status": pl.String, "customer": pl.String, "order_ref": pl.String,
    "shipped_at": pl.Datetime("us", "UTC"), "depth": pl.Int64, "path": pl.String,
    "removed": pl.Boolean, "removal_ncr_id": pl.String, "traced": pl.String,
    # v2: the consignee (customers) and where the shipment went, for a field safety notice
    "contact_name": pl.String, "email": pl.String, "phone": pl.String, "address": pl.String,
    "country": pl.String, "ship_to_country": pl.String,
    # v2: the goods-in record of the traced lot (lots)
    "supplier": pl.String, "supplier_lot": pl.String, "certificate_ref": pl.String,
    "expires_at": pl.Datetime("us", "UTC"),
}


def recall_frame(answer: WhereUsed) -> pl.DataFrame:
    """One row per affected unit (removed ones flagged), customers first, in a stable order."""
    traced = answer.query.get("lot_number") or ", ".join(answer.query.get("lots") or []) \
        or answer.query.get("serial_number") or ""
    lots = {f"{g['component_code']}/{g['lot_number']}": g for g in answer.goods_in}
    rows = [{**_consignee(answer, a), **_goods_in(lots, a["path"]),
             "serial_number": a["serial_number"], "product_code": a["product_code"],
             "job_id": a["job_id"], "status": a["status"], "customer": a["customer"],
             "order_ref": a.get("order_ref"), "shipped_at": a["shipped_at"],
             "depth": a["depth"], "path": " > ".join(a["path"]),
             "removed": bool(a.get("removed", False)),
             "removal_ncr_id": a.get("removal_ncr_id"),
             "traced": f"{answer.query.get('component_code') or ''} {traced}".strip()}
            for a in answer.affected]
    frame = pl.DataFrame(rows, schema=RECALL_SCHEMA).select(list(RECALL_SCHEMA))
    return frame.sort(["customer", "order_ref", "serial_number"], nulls_last=True)


def _consignee(answer: WhereUsed, unit: dict[str, object]) -> dict[str, object]:
    who = answer.consignees.get(str(unit.get("customer"))) or {}
    return {"contact_name": who.get("contact_name"), "email": who.get("email"),
            "phone": who.get("phone"), "address": who.get("address"),
            "country": who.get("country"),
            "ship_to_country": answer.ship_to.get((str(unit["serial_number"]),
                                                   str(unit.get("order_ref"))))}


def _goods_in(lots: dict[str, dict[str, object]], path: object) -> dict[str, object]:
    """The goods-in record of the lot a unit's path starts from."""
    first = path[0] if isinstance(path, list) and path else None
    lot = lots.get(str(first)) or (next(iter(lots.values())) if len(lots) == 1 else {})
    return {"supplier": lot.get("supplier"), "supplier_lot": lot.get("supplier_lot"),
            "certificate_ref": lot.get("certificate_ref"), "expires_at": lot.get("expires_at")}


def components_frame(answer: WhereFrom) -> pl.DataFrame:
    """The where-from answer as a table, one row per component link."""
    schema = {"depth": pl.Int64, "parent_serial": pl.String, "component_code": pl.String,
              "lot_number": pl.String, "component_serial": pl.String,
              "fitted_at": pl.Datetime("us", "UTC"), "removed_at": pl.Datetime("us", "UTC"),
              "source": pl.String}
    return pl.DataFrame([{k: c.get(k) for k in schema} for c in answer.components],
                        schema=schema)


def write_recall(answer: WhereUsed, path: Path) -> Path:
    """Write the recall list as CSV or XLSX (by the file's suffix); returns the path."""
    frame = recall_frame(answer)
    if path.suffix.lower() == ".xlsx":
        summary = pl.DataFrame({"what": ["traced", "units", "shipped", "customers"],
                                "value": [frame["traced"][0] if frame.height else "",
                                          str(answer.summary["units"]),
                                          str(answer.summary["shipped"]),
                                          str(answer.summary["customers"])]})
        write_xlsx({"affected units": frame, "summary": summary}, path)
    else:
        path.write_text(to_csv(frame), encoding="utf-8")
    return path
