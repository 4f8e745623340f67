"""Parts removed in rework: the fitments undone from a where-used answer's holders, and with
``include_removed`` the units the part was taken out of (with their paths)."""

from __future__ import annotations

import datetime as dt
from typing import Any

import duckdb
import numpy as np
import pyarrow as pa

from tracelake.derived.genealogy.answers import WhereUsed
from tracelake.derived.genealogy.columns import datetimes
from tracelake.derived.genealogy.lookup import _serial_node
from tracelake.derived.genealogy.ranges import select_in_ranges
from tracelake.lake.literals import execute

#: fitments undone of the holders (read by key ranges around them) and of the starts
_REMOVED_SQL = """
    SELECT child, parent_serial, child_label, epoch_us(removed_at) AS removed_at,
           removal_ncr_id, removed_by, epoch_us(fitted_at) AS fitted_at
    FROM genealogy.removed"""


def _removals(rows: pa.Table, zone: dt.tzinfo | None) -> list[dict[str, Any]]:
    """Removal rows (parent serial, child label, removed at (us), NCR, removed by, fitted at
    (us)) as the answer's dicts, by removal time then unit."""
    if not rows.num_rows:
        return []
    parent, child, at, ncr, by, fitted = (rows.column(i) for i in range(6))
    dicts = [{"serial_number": p, "component_serial": c, "removed_at": a, "removal_ncr_id": n,
              "removed_by": b, "fitted_at": f}
             for p, c, a, n, b, f in zip(parent.to_pylist(), child.to_pylist(),
                                         datetimes(at, zone), ncr.to_pylist(), by.to_pylist(),
                                         datetimes(fitted, zone), strict=True)]
    dicts.sort(key=lambda d: (d["removed_at"] is None, d["removed_at"] or 0,
                              d["serial_number"] or "", d["component_serial"] or ""))
    return dicts


def _removed_links(con: duckdb.DuckDBPyConnection, des: np.ndarray, starts: list[int],
                   zone: dt.tzinfo | None, ranges: list[tuple[int, int]]
                   ) -> list[dict[str, Any]]:
    """Fitments of the traced part (or of anything holding it: ``des``, within ``ranges``)
    that were undone. Removals are few (rework), so the one range covering ``ranges`` is read
    and matched to ``des`` here: a scan per range cost ~1 ms each."""
    cover = [(ranges[0][0], ranges[-1][1])] if ranges else []
    branches = select_in_ranges(_REMOVED_SQL, "child", cover) \
        + f"\nUNION ALL\n{_REMOVED_SQL} WHERE child IN ({', '.join(map(str, starts))})"
    got = con.execute(branches).to_arrow_table()
    if not got.num_rows:
        return []
    # a lookup table over the holders' key span (bounded by the ranges, not the lake): a
    # hash-based isin of 150k holders cost ~8 ms
    child = got.column("child").to_numpy()
    keep = np.isin(child, des, kind="table") | np.isin(child, np.array(starts, dtype=np.int64))
    got = got.filter(pa.array(keep))
    return _removals(got.select(["parent_serial", "child_label", "removed_at", "removal_ncr_id",
                                 "removed_by", "fitted_at"]), zone)


def _add_removed(con: duckdb.DuckDBPyConnection, answer: WhereUsed, starts: list[int],
                 anc: np.ndarray, des: np.ndarray, via: np.ndarray) -> None:
    """``include_removed``: the units the part was taken out of, through every level above,
    appended to ``affected`` marked ``removed`` (each unit once)."""
    below = dict(zip(zip(anc.tolist(), des.tolist(), strict=True), via.tolist(), strict=True))
    labels = _labels(con, set(via.tolist()) | set(starts))
    current = {a["serial_number"] for a in answer.affected}
    for r in answer.removed:
        child = _serial_node(con, r["component_serial"])
        if child is not None:
            labels[child] = r["component_serial"]
        anc_of = next((a for a in starts if a == child or (a, child) in below), starts[0])
        base = _path(below, labels, anc_of, child) if child is not None \
            else [r["component_serial"]]
        for extra in _tops_of(con, r["serial_number"]):
            if extra["serial_number"] not in current:
                current.add(extra["serial_number"])
                path = base + extra["path"][1:] if extra["path"][0] == base[-1] else \
                    base + extra["path"]
                answer.affected.append({**extra, "depth": len(path) - 1, "path": path,
                                        "removed": True, "removal_ncr_id": r["removal_ncr_id"]})


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
    return dict(execute(con, "SELECT node_id, label FROM genealogy.nodes "
                            "WHERE node_id IN (SELECT unnest($n::BIGINT[]))",
                            {"n": sorted(nodes)}).fetchall())


_UNIT_COLS = ("serial_number", "product_code", "job_id", "status", "customer", "order_ref",
              "shipped_at")


def _tops_of(con: duckdb.DuckDBPyConnection, serial: str) -> list[dict[str, Any]]:
    """The top-level units holding a serial now (the serial itself if it is top-level),
    each with the path from the serial up to it."""
    node = _serial_node(con, serial)
    if node is None:
        return []
    rows = execute(con, """
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
