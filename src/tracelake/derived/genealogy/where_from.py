"""Where-from: every lot and serial in a unit, level by level, in one statement."""

from __future__ import annotations

from typing import Any

import duckdb
import pyarrow as pa

from tracelake.derived.genealogy.answers import WhereFrom
from tracelake.derived.genealogy.columns import ZONE_PROBE, datetimes
from tracelake.lake.literals import execute


def _component_order(c: dict[str, Any]) -> tuple[Any, ...]:
    """Where-from's order: level, holder, component, current before removed (earliest removal
    first), then lot and serial (a missing one last)."""
    removed = c["removed_at"]
    return (c["depth"], c["parent_serial"], c["component_code"] or "", removed is not None,
            removed.timestamp() if removed is not None else 0.0,
            c["lot_number"] is None, c["lot_number"] or "",
            c["component_serial"] is None, c["component_serial"] or "")


#: Where-from in one statement, rows told apart by ``part``: 0 the unit's row (with a
#: timestamp carrying the session's zone), 1 each holder's key and depth (the unit: 0, the
#: serials inside it), 2 each link into a holder (a lot, or a serial, with the holder's
#: label), 3 each fitment undone from a holder. Columns: part, parent (or holder key), depth,
#: kind, component_code, lot_number, serial, label, source, linked/fitted (us), removed (us),
#: NCR, then the unit's serial, product, job, status and the zone probe.
_WHERE_FROM_SQL = f"""
    WITH n AS (SELECT node_id FROM genealogy.serial_keys WHERE serial_number = $s::VARCHAR),
    k AS (SELECT node_id AS key, 0 AS depth FROM n
          UNION ALL
          SELECT c.anc, c.depth FROM genealogy.closure_by_des c JOIN n ON c.des = n.node_id),
    s AS (SELECT s.node_id, s.component_code, s.serial_number
          FROM genealogy.serial_keys s JOIN k ON s.node_id = k.key),
    e AS (SELECT e.parent, e.child, e.source, e.linked_at
          FROM genealogy.edges_by_parent e JOIN k ON e.parent = k.key)
    SELECT 0 AS part, NULL::BIGINT AS parent, NULL::BIGINT AS depth, NULL AS kind,
           NULL AS component_code, NULL AS lot_number, NULL AS serial, NULL AS label,
           NULL AS source, NULL::BIGINT AS t1, NULL::BIGINT AS t2, NULL AS ncr,
           u.serial_number, u.product_code, u.job_id, u.status, {ZONE_PROBE} AS zone
    FROM genealogy.unit_info u JOIN n ON u.node_id = n.node_id
    UNION ALL
    SELECT 1, key, depth, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL,
           NULL, NULL, NULL, NULL, NULL FROM k
    UNION ALL
    SELECT 2, e.parent, NULL, CASE WHEN l.node_id IS NULL THEN 'serial' ELSE 'lot' END,
           coalesce(l.component_code, c.component_code), l.lot_number, c.serial_number,
           p.serial_number, e.source::VARCHAR, epoch_us(e.linked_at), NULL, NULL,
           NULL, NULL, NULL, NULL, NULL
    FROM e JOIN s p ON p.node_id = e.parent
    LEFT JOIN genealogy.lot_keys l ON l.node_id = e.child  -- lots: not in the closure
    LEFT JOIN s c ON c.node_id = e.child
    WHERE l.node_id IS NOT NULL OR c.node_id IS NOT NULL
    UNION ALL
    SELECT 3, r.parent, NULL, NULL, r.component_code, r.lot_number, r.component_serial,
           p.serial_number, NULL, epoch_us(r.fitted_at), epoch_us(r.removed_at),
           r.removal_ncr_id, NULL, NULL, NULL, NULL, NULL
    FROM genealogy.removed r JOIN s p ON p.node_id = r.parent"""


def where_from(con: duckdb.DuckDBPyConnection, serial_number: str) -> WhereFrom:
    """Every lot and serial in a unit, level by level, with when each was fitted or issued.

    ``source`` says whether a link comes from a fitment record (``unit_components``) or only
    from a job-level issue (``material_issues``). Parts removed in rework are listed with their
    ``removed_at`` as history; what was inside them is not.

    One statement: the unit's key and row, its contents (``closure_by_des``), the links into
    each holder (the unit and the serials inside it) with the names of both ends, and the
    removals from them. The few keys are joined, so DuckDB pushes them into each scan as an IN
    filter and zone maps prune it (four statements by constant keys cost about twice as much).
    """
    query = {"direction": "backward", "serial_number": serial_number}
    rows = execute(con, _WHERE_FROM_SQL, {"s": serial_number}).fetchall()
    unit = next((r for r in rows if r[0] == 0), None)
    if unit is None:
        return WhereFrom(query, None, message=f"no unit {serial_number} in the lake")
    depth_of = {r[1]: r[2] for r in rows if r[0] == 1}
    # (is a removal, parent, kind, code, lot, serial, label, source, t1, t2, NCR)
    links = [(r[0] == 3, r[1], *r[3:12]) for r in rows if r[0] >= 2]
    zone = unit[16].tzinfo
    times = datetimes(pa.array([r[8] for r in links] + [r[9] for r in links], pa.int64()), zone)
    linked, removed = times[:len(links)], times[len(links):]
    components: list[dict[str, Any]] = []
    member_lot: dict[str, str] = {}
    history: list[tuple[Any, ...]] = []
    for i, (is_removal, parent, kind, code, lot, serial, label, source, _t, _r, ncr) in \
            enumerate(links):
        if is_removal:
            history.append((label, code, serial, lot, linked[i], removed[i], ncr))
        elif source == "lot":  # the lot a serialised part came from: shown on the part's line
            member_lot[label] = lot
        else:
            components.append({"component_code": code,
                               "lot_number": lot if kind == "lot" else None,
                               "component_serial": serial if kind == "serial" else None,
                               "parent_serial": label, "depth": depth_of[parent] + 1,
                               "fitted_at": linked[i], "removed_at": None, "source": source})
    for comp in components:
        if comp["component_serial"] in member_lot:
            comp["lot_number"] = member_lot[comp["component_serial"]]
    depth_by_serial = {serial_number: 0} | {c["component_serial"]: c["depth"]
                                            for c in components if c["component_serial"]}
    for parent, code, cserial, lot, fitted, removed_at, ncr in history:
        components.append({"component_code": code, "lot_number": lot,
                           "component_serial": cserial, "parent_serial": parent,
                           "depth": depth_by_serial.get(parent, 0) + 1, "fitted_at": fitted,
                           "removed_at": removed_at, "source": "unit_components",
                           "removal_ncr_id": ncr})
    components.sort(key=_component_order)
    return WhereFrom(query, dict(zip(("serial_number", "product_code", "job_id", "status"),
                                     unit[12:16], strict=True)), components)
