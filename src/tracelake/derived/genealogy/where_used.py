"""Where-used: every top-level unit containing a lot, a serial, or a supplier's lots in a
window (the recall question)."""

from __future__ import annotations

import datetime as dt
from typing import Any

import duckdb
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from tracelake.derived.genealogy.answers import AffectedColumns, WhereUsed
from tracelake.derived.genealogy.holders import (
    _NO_UNITS,
    _SERIAL_HOLDERS_SQL,
    _lot_holders,
    _merged,
    _non_unit_labels,
    _shortest_rows,
    _unit_rows,
    _walks,
)
from tracelake.derived.genealogy.lookup import _lot_node, _serial_node_zone, _supplier_lot_nodes
from tracelake.derived.genealogy.ranges import key_ranges
from tracelake.derived.genealogy.recall_details import attach_details
from tracelake.derived.genealogy.removals import _add_removed, _removed_links
from tracelake.lake.literals import execute


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
        query: dict[str, Any] = {"direction": "forward", "serial_number": serial_number}
        found = _serial_node_zone(con, serial_number)
        if found is None:
            return WhereUsed(query, message=f"no serial {serial_number} in the lake: "
                                            "nothing to trace")
        node, probe = found
        return attach_details(con, _forward(con, {node: serial_number}, probe.tzinfo, query,
                                            include_removed))
    query = {"direction": "forward", "component_code": component_code, "lot_number": lot_number}
    lot = _lot_node(con, str(component_code), str(lot_number))
    if lot is None:
        return WhereUsed(query, message=f"no lot {lot_number} of component {component_code} in "
                                        "the lake: nothing to trace")
    node, probe, span = lot
    return attach_details(con, _forward(con, {node: f"{component_code}/{lot_number}"},
                                        probe.tzinfo, query, include_removed,
                                        spans=[span] if span else []))


def supplier_lots(con: duckdb.DuckDBPyConnection, component_code: str, supplier: str,
                  issued_from: dt.datetime | dt.date | None = None,
                  issued_to: dt.datetime | dt.date | None = None) -> list[str]:
    """Lot numbers of a component received from a supplier and issued in a date window."""
    return [row[0] for row in _supplier_lot_nodes(con, component_code, supplier, issued_from,
                                                   issued_to)]


def supplier_recall(con: duckdb.DuckDBPyConnection, component_code: str, supplier: str,
                    issued_from: dt.datetime | dt.date | None = None,
                    issued_to: dt.datetime | dt.date | None = None, *,
                    include_removed: bool = False) -> WhereUsed:
    """Where-used for every lot of a component from one supplier issued in a window."""
    found = _supplier_lot_nodes(con, component_code, supplier, issued_from, issued_to)
    lots = [row[0] for row in found]
    query = {"direction": "forward", "component_code": component_code, "supplier": supplier,
             "issued_from": issued_from, "issued_to": issued_to, "lots": lots}
    starts = {int(node): f"{component_code}/{lot}" for lot, node, *_ in found
              if node is not None}
    spans = [(int(lo), int(hi)) for _lot, node, _zone, lo, hi in found
             if node is not None and lo is not None]
    if not starts:
        return WhereUsed(query, message=f"no lots of {component_code} from {supplier} issued "
                                        "in that window")
    return attach_details(con, _forward(con, starts, found[0][2].tzinfo, query,
                                        include_removed, spans=spans))


def _forward(con: duckdb.DuckDBPyConnection, starts: dict[int, str], zone: dt.tzinfo | None,
             query: dict[str, Any], include_removed: bool, *,
             spans: list[tuple[int, int]] | None = None) -> WhereUsed:
    """Where-used from start nodes: lots (with the key ranges of their holders, ``spans``) or a
    serial (its closure rows); then the holders' unit rows and removals by key ranges."""
    nodes = sorted(starts)
    if spans is not None:
        ranges = _merged(spans)
        anc, des, depth, via = _lot_holders(con, nodes, ranges)
    else:
        got = execute(con, _SERIAL_HOLDERS_SQL.format(where="anc = $s::BIGINT"),
                          {"s": nodes[0]}).fetchnumpy()
        anc, des, depth, via = _shortest_rows(
            np.asarray(got["anc"]), np.asarray(got["des"]),
            np.asarray(got["depth"]).astype(np.int64), np.asarray(got["via_down"]))
        ranges = key_ranges(des)
    removed = _removed_links(con, des, nodes, zone, ranges)
    if not len(des):
        return WhereUsed(query, [], removed)
    units, attrs = _unit_rows(con, ranges)
    if not units.num_rows:  # no holder is a unit: a null row to point at
        units = pa.Table.from_pylist([{}], schema=_NO_UNITS)
    unit_keys = units.column("node_id").fill_null(-1).to_numpy()
    unit_row = np.minimum(np.searchsorted(unit_keys, des), len(unit_keys) - 1)
    is_unit = unit_keys[unit_row] == des
    top = is_unit & units.column("top").fill_null(False).to_numpy(zero_copy_only=False)[unit_row]
    # the top-level holders in answer order: depth, serial; a holder of several starts keeps
    # its row of least depth (at equal depth, the start with the lower key)
    tops = np.flatnonzero(top)
    serial = units.column("serial_number").take(pa.array(unit_row[tops]))
    ranked = pa.table({"depth": depth[tops], "serial": serial, "anc": anc[tops]})
    rows = tops[pc.sort_indices(ranked, sort_keys=[("depth", "ascending"),
                                                    ("serial", "ascending"),
                                                    ("anc", "ascending")]).to_numpy()]
    if len(nodes) > 1 and len(rows):
        _, first = np.unique(des[rows], return_index=True)
        rows = rows[np.sort(first)]
    walks, start_at = _walks(anc, des, via, depth, rows)
    labels = units.column("serial_number").take(pa.array(unit_row))
    labels = pc.if_else(pa.array(is_unit), labels, pa.nulls(len(des), pa.string()))
    extra = _non_unit_labels(con, labels, des, walks)
    attr_row = np.searchsorted(attrs.column("node_id").to_numpy(), des[rows])
    kept = attrs.take(pa.array(attr_row)).drop_columns(["node_id"])
    kept = kept.add_column(0, "serial_number", units.column("serial_number").take(
        pa.array(unit_row[rows])))
    kept = kept.append_column("depth", pa.array(depth[rows].astype(np.int32)))
    answer = WhereUsed(query, removed=removed, columns=AffectedColumns(
        kept, walks, labels, extra, starts, start_at, zone))
    if include_removed and answer.removed:
        _add_removed(con, answer, nodes, anc, des, via)
    return answer
