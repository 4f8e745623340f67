"""Where-used and where-from: the questions the genealogy exists to answer, as library calls.

Each answer is a small dataclass whose ``as_dict()`` is the JSON of ``tracelake trace`` in the CLI
contract. All reads go through the index built by :mod:`tracelake.genealogy.index`: one lookup in
the closure table, then the attributes of the units it names.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import duckdb

__all__ = ["WhereFrom", "WhereUsed", "supplier_lots", "where_from", "where_used"]


@dataclass
class WhereUsed:
    """Every top-level unit that contains a lot or serial (``trace forward``)."""

    query: dict[str, Any]
    affected: list[dict[str, Any]] = field(default_factory=list)
    removed: list[dict[str, Any]] = field(default_factory=list)
    message: str | None = None

    @property
    def summary(self) -> dict[str, Any]:
        """Counts by status and by customer of the affected units."""
        units = [a for a in self.affected if not a.get("removed")]
        by_status = Counter(a["status"] for a in units)
        by_customer = Counter(a["customer"] for a in units if a["customer"])
        return {"units": len(units), "shipped": by_status.get("shipped", 0),
                "customers": len(by_customer), "by_status": dict(sorted(by_status.items())),
                "by_customer": dict(by_customer.most_common()),
                "jobs": len({a["job_id"] for a in units})}

    def as_dict(self) -> dict[str, Any]:
        """The contract's JSON document (plus ``message`` when the answer is empty)."""
        out = {"query": self.query, "affected": self.affected, "removed": self.removed,
               "summary": self.summary}
        if self.message:
            out["message"] = self.message
        return out


@dataclass
class WhereFrom:
    """Everything in one unit, level by level (``trace backward``)."""

    query: dict[str, Any]
    unit: dict[str, Any] | None
    components: list[dict[str, Any]] = field(default_factory=list)
    message: str | None = None

    def as_dict(self) -> dict[str, Any]:
        """The contract's JSON document."""
        out = {"query": self.query, "unit": self.unit, "components": self.components}
        if self.message:
            out["message"] = self.message
        return out


def _lot_node(con: duckdb.DuckDBPyConnection, code: str, lot: str) -> int | None:
    row = con.execute("SELECT node_id FROM genealogy.lot_keys WHERE component_code = ?::VARCHAR "
                      "AND lot_number = ?::VARCHAR", [code, lot]).fetchone()
    return None if row is None else int(row[0])


def _serial_node(con: duckdb.DuckDBPyConnection, serial: str) -> int | None:
    row = con.execute("SELECT node_id FROM genealogy.serial_keys WHERE serial_number = ?::VARCHAR",
                      [serial]).fetchone()
    return None if row is None else int(row[0])


def where_used(con: duckdb.DuckDBPyConnection, component_code: str | None = None,
               lot_number: str | None = None, *, serial_number: str | None = None,
               include_removed: bool = False) -> WhereUsed:
    """Every top-level unit containing lot (component_code, lot_number), or a serial.

    A lot number is only unique within its component code, so both are needed. Units from
    which the part was later removed are listed in ``removed`` (and, with ``include_removed``,
    in ``affected`` too, marked ``removed: true``). An unknown lot gives an empty answer and a
    message, not an error.
    """
    if serial_number is not None:
        query = {"direction": "forward", "serial_number": serial_number}
        node = _serial_node(con, serial_number)
        what = f"serial {serial_number}"
    else:
        query = {"direction": "forward", "component_code": component_code,
                 "lot_number": lot_number}
        node = _lot_node(con, str(component_code), str(lot_number))
        what = f"lot {lot_number} of component {component_code}"
    if node is None:
        return WhereUsed(query, message=f"no {what} in the lake: nothing to trace")
    return _forward(con, [node], query, include_removed)


def supplier_lots(con: duckdb.DuckDBPyConnection, component_code: str, supplier: str,
                  issued_from: dt.datetime | dt.date | None = None,
                  issued_to: dt.datetime | dt.date | None = None) -> list[str]:
    """Lot numbers of a component received from a supplier and issued in a date window."""
    rows = con.execute("""
        SELECT DISTINCT lot_number FROM material_issues
        WHERE component_code = ? AND lower(supplier) = lower(?)
          AND (?::TIMESTAMPTZ IS NULL OR issued_at >= ?::TIMESTAMPTZ)
          AND (?::TIMESTAMPTZ IS NULL OR issued_at < ?::TIMESTAMPTZ)
        ORDER BY lot_number""",
        [component_code, supplier, issued_from, issued_from, issued_to, issued_to]).fetchall()
    return [r[0] for r in rows]


def supplier_recall(con: duckdb.DuckDBPyConnection, component_code: str, supplier: str,
                    issued_from: dt.datetime | dt.date | None = None,
                    issued_to: dt.datetime | dt.date | None = None, *,
                    include_removed: bool = False) -> WhereUsed:
    """Where-used for every lot of a component from one supplier issued in a window."""
    lots = supplier_lots(con, component_code, supplier, issued_from, issued_to)
    query = {"direction": "forward", "component_code": component_code, "supplier": supplier,
             "issued_from": issued_from, "issued_to": issued_to, "lots": lots}
    nodes = [n for n in (_lot_node(con, component_code, lot) for lot in lots) if n is not None]
    if not nodes:
        return WhereUsed(query, message=f"no lots of {component_code} from {supplier} issued "
                                        "in that window")
    return _forward(con, nodes, query, include_removed)


_UNIT_COLS = ("serial_number", "product_code", "job_id", "status", "customer", "order_ref",
              "shipped_at")


def _forward(con: duckdb.DuckDBPyConnection, starts: list[int], query: dict[str, Any],
             include_removed: bool) -> WhereUsed:
    # one lookup in the closure gives every holder of the start nodes; only the top-level
    # ones are fetched with their attributes, and the paths are rebuilt from via_down
    where = "anc = $starts[1]" if len(starts) == 1 else \
        "anc IN (SELECT unnest($starts::BIGINT[]))"
    closure = f"SELECT anc, des, depth, via_down FROM genealogy.closure_by_anc WHERE {where}"
    arr = con.execute(closure, {"starts": starts}).fetchnumpy()
    below = dict(zip(zip(arr["anc"].tolist(), arr["des"].tolist(), strict=True),
                     arr["via_down"].tolist(), strict=True))
    tops = con.execute(f"""
        WITH c AS ({closure})
        SELECT c.des, c.anc, c.depth, u.serial_number, u.product_code, u.job_id, u.status,
               u.customer, u.order_ref, u.shipped_at
        FROM c JOIN genealogy.unit_info u ON u.node_id = c.des WHERE u.top""",
                       {"starts": starts}).fetchall()
    labels = dict(con.execute(f"""
        WITH c AS ({closure}), v AS (SELECT DISTINCT via_down AS node FROM c
                                     UNION SELECT unnest($starts::BIGINT[]))
        SELECT n.node_id, n.label FROM v JOIN genealogy.nodes n ON n.node_id = v.node""",
                              {"starts": starts}).fetchall())
    best: dict[int, tuple[int, int, tuple[Any, ...]]] = {}
    for des, anc, depth, *unit in tops:
        labels[des] = unit[0]
        if des not in best or depth < best[des][1]:
            best[des] = (anc, depth, tuple(unit))
    affected = []
    for des, (anc, depth, unit) in best.items():
        info = dict(zip(_UNIT_COLS, unit, strict=True))
        affected.append({**{k: info[k] for k in ("serial_number", "product_code", "job_id",
                                                 "status", "customer", "shipped_at")},
                         "order_ref": info["order_ref"], "depth": depth,
                         "path": _path(below, labels, anc, des)})
    affected.sort(key=lambda a: (a["depth"], a["serial_number"]))
    removed = _removed_links(con, starts)
    answer = WhereUsed(query, affected, removed)
    if include_removed:
        current = {a["serial_number"] for a in affected}
        for r in removed:
            child = _serial_node(con, r["component_serial"])
            if child is not None:
                labels[child] = r["component_serial"]
            anc = next((a for a in starts if a == child or (a, child) in below), starts[0])
            base = _path(below, labels, anc, child) if child is not None \
                else [r["component_serial"]]
            for extra in _tops_of(con, r["serial_number"]):
                if extra["serial_number"] not in current:
                    current.add(extra["serial_number"])
                    path = base + extra["path"][1:] if extra["path"][0] == base[-1] else \
                        base + extra["path"]
                    answer.affected.append({**extra, "depth": len(path) - 1, "path": path,
                                            "removed": True,
                                            "removal_ncr_id": r["removal_ncr_id"]})
    return answer


def _path(below: dict[tuple[int, int], int], labels: dict[int, str], anc: int,
          des: int) -> list[str]:
    """Labels from ``anc`` up to ``des`` along the stored shortest path."""
    path = [labels[des]]
    node = des
    while node != anc:
        node = below[(anc, node)]
        path.append(labels[node])
    return list(reversed(path))


def _labels(con: duckdb.DuckDBPyConnection, nodes: set[int]) -> dict[int, str]:
    """Labels of a few nodes (paths of one holder; not for thousands)."""
    if not nodes:
        return {}
    return dict(con.execute("SELECT node_id, label FROM genealogy.nodes "
                            "WHERE node_id IN (SELECT unnest($n::BIGINT[]))",
                            {"n": sorted(nodes)}).fetchall())


def _removed_links(con: duckdb.DuckDBPyConnection, starts: list[int]) -> list[dict[str, Any]]:
    """Fitments of the traced part (or of anything holding it) that were later undone."""
    rows = con.execute("""
        SELECT r.parent_serial, r.child_label, r.removed_at, r.removal_ncr_id, r.removed_by,
               r.fitted_at
        FROM genealogy.removed r
        WHERE r.child IN (SELECT des FROM genealogy.closure_by_anc
                          WHERE anc IN (SELECT unnest($starts::BIGINT[])))
           OR r.child IN (SELECT unnest($starts::BIGINT[]))
        ORDER BY r.removed_at, r.parent_serial""", {"starts": starts}).fetchall()
    return [{"serial_number": p, "component_serial": c, "removed_at": at,
             "removal_ncr_id": ncr, "removed_by": by, "fitted_at": fitted}
            for p, c, at, ncr, by, fitted in rows]


def _tops_of(con: duckdb.DuckDBPyConnection, serial: str) -> list[dict[str, Any]]:
    """The top-level units holding a serial now (the serial itself if it is top-level),
    each with the path from the serial up to it."""
    node = _serial_node(con, serial)
    if node is None:
        return []
    rows = con.execute("""
        SELECT u.node_id, 0 AS depth, NULL AS via_down, u.top, u.serial_number, u.product_code,
               u.job_id, u.status, u.customer, u.order_ref, u.shipped_at
        FROM genealogy.unit_info u WHERE u.node_id = $node
        UNION ALL
        SELECT c.des, c.depth, c.via_down, u.top, u.serial_number, u.product_code, u.job_id,
               u.status, u.customer, u.order_ref, u.shipped_at
        FROM genealogy.closure_by_anc c LEFT JOIN genealogy.unit_info u ON u.node_id = c.des
        WHERE c.anc = $node""", {"node": node}).fetchall()
    below = {(node, des): via for des, _d, via, *_ in rows if via is not None}
    labels = _labels(con, {node} | {r[0] for r in rows} | set(below.values()))
    out = []
    for des, depth, _via, top, *unit in rows:
        if not top:
            continue
        info = dict(zip(_UNIT_COLS, unit, strict=True))
        out.append({**info, "depth": depth,
                    "path": [serial] if des == node else _path(below, labels, node, des)})
    return out


def where_from(con: duckdb.DuckDBPyConnection, serial_number: str) -> WhereFrom:
    """Every lot and serial in a unit, level by level, with when each was fitted or issued.

    ``source`` says whether a link comes from a fitment record (``unit_components``) or only
    from a job-level issue (``material_issues``). Parts removed in rework are listed with their
    ``removed_at`` as history; what was inside them is not.
    """
    query = {"direction": "backward", "serial_number": serial_number}
    node = _serial_node(con, serial_number)
    unit = con.execute("SELECT serial_number, product_code, job_id, status FROM "
                       "genealogy.unit_info WHERE node_id = ?", [node]).fetchone() \
        if node is not None else None
    if node is None or unit is None:
        return WhereFrom(query, None, message=f"no unit {serial_number} in the lake")
    rows = con.execute("""
        WITH h AS (SELECT anc AS node, depth FROM genealogy.closure_by_des WHERE des = $node
                   UNION ALL SELECT $node, 0)
        SELECT h.depth, e.child, c.kind, c.component_code, c.lot_number, c.serial_number,
               p.label, e.source, e.linked_at
        FROM h JOIN genealogy.edges_by_parent e ON e.parent = h.node
        JOIN genealogy.nodes c ON c.node_id = e.child
        JOIN genealogy.nodes p ON p.node_id = e.parent""", {"node": node}).fetchall()
    components: list[dict[str, Any]] = []
    member_lot: dict[str, str] = {}
    for holder_depth, _child, kind, code, lot, serial, parent, source, linked_at in rows:
        if source == "lot":  # the lot a serialised part came from: shown on the part's line
            member_lot[parent] = lot
            continue
        components.append({"component_code": code, "lot_number": lot if kind == "lot" else None,
                           "component_serial": serial if kind == "serial" else None,
                           "parent_serial": parent, "depth": holder_depth + 1,
                           "fitted_at": linked_at, "removed_at": None, "source": source})
    for comp in components:
        if comp["component_serial"] in member_lot:
            comp["lot_number"] = member_lot[comp["component_serial"]]
    depth_of = {serial_number: 0} | {c["component_serial"]: c["depth"] for c in components
                                     if c["component_serial"]}
    for parent, code, cserial, lot, fitted, removed_at, ncr in con.execute("""
            WITH h AS (SELECT anc AS node FROM genealogy.closure_by_des WHERE des = $node
                       UNION ALL SELECT $node)
            SELECT p.label, r.component_code, r.component_serial, r.lot_number, r.fitted_at,
                   r.removed_at, r.removal_ncr_id
            FROM genealogy.removed r JOIN h ON h.node = r.parent
            JOIN genealogy.nodes p ON p.node_id = r.parent ORDER BY r.removed_at""",
                                                                            {"node": node}).fetchall():
        components.append({"component_code": code, "lot_number": lot,
                           "component_serial": cserial, "parent_serial": parent,
                           "depth": depth_of.get(parent, 0) + 1, "fitted_at": fitted,
                           "removed_at": removed_at, "source": "unit_components",
                           "removal_ncr_id": ncr})
    components.sort(key=lambda c: (c["depth"], c["parent_serial"], c["component_code"] or "",
                                   c["removed_at"] is not None))
    return WhereFrom(query, dict(zip(("serial_number", "product_code", "job_id", "status"),
                                     unit, strict=True)), components)
