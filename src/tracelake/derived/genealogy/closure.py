"""The closure among serials (closure_by_anc, closure_by_des, cycles) and each lot's holder key
range (lot_keys.des_lo/des_hi), computed in numpy from the edges."""

from __future__ import annotations

import duckdb
import numpy as np
import pyarrow as pa

from tracelake.derived.genealogy.layout import MAX_DEPTH


def shortest_paths(paths: str) -> str:
    """SQL: the shortest path per (anc, des) of ``paths``, through the lowest ``via_down`` among
    paths of equal length (integers only: a min over depth * 2^40 + via)."""
    return f"""
        SELECT anc, des, (k >> 40)::INTEGER AS depth, k & 1099511627775 AS via_down FROM (
            SELECT anc, des, min((depth::BIGINT << 40) | via_down) AS k FROM {paths}
            WHERE anc <> des GROUP BY anc, des)"""


def _build_closure(con: duckdb.DuckDBPyConnection, child: np.ndarray, parent: np.ndarray
                   ) -> tuple[int, tuple[np.ndarray, np.ndarray]]:
    """The closure among serials from the edges between serials (sorted by child); returns the
    number of nodes on a cycle, and the closure's (anc, des), sorted.

    Semi-naive rounds in numpy: each round extends last round's paths by one edge upwards. In a
    genealogy a serial sits in one parent, so paths are hardly more than pairs and each round's
    paths come out sorted by (anc, des): a stable sort of the rounds is a merge, and it keeps
    shorter paths first. A path back to its start marks a cycle (``genealogy.cycles``) and is
    not extended; the rounds stop at MAX_DEPTH, so cyclic data ends the loop.
    """
    rounds = [(child, parent, np.ones(len(child), np.int64), child)]
    anc, des = child, parent
    for depth in range(2, MAX_DEPTH + 1):
        go = anc != des
        anc, des = anc[go], des[go]
        lo, hi = np.searchsorted(child, des, "left"), np.searchsorted(child, des, "right")
        count = hi - lo
        if not count.any():
            break
        run = np.repeat(np.arange(len(des)), count)
        edge = lo[run] + (np.arange(len(run)) - np.repeat(np.cumsum(count) - count, count))
        anc, des = anc[run], parent[edge]
        rounds.append((anc, des, np.full(len(anc), depth, np.int64), child[edge]))
    anc, des, depth, via = (np.concatenate(c) for c in zip(*rounds, strict=True))
    del rounds
    loop = anc == des
    cyc_node, cyc_len = anc[loop], depth[loop]
    order = np.lexsort((cyc_len, cyc_node))
    first = np.ones(len(order), bool)
    first[1:] = cyc_node[order][1:] != cyc_node[order][:-1]
    cycles = pa.table({"node_id": cyc_node[order][first],
                       "cycle_length": cyc_len[order][first].astype(np.int32)})
    anc, des, depth, via = anc[~loop], des[~loop], depth[~loop], via[~loop]
    width = int(max(anc.max(initial=0), des.max(initial=0))) + 1
    key = anc * width + des
    order = np.argsort(key, kind="stable")  # sorted runs, shorter paths first within a pair
    key, anc, des, depth, via = key[order], anc[order], des[order], depth[order], via[order]
    start = np.ones(len(key), bool)
    start[1:] = key[1:] != key[:-1]
    if not start.all():  # pairs reached by several paths: the shortest, through the lowest key
        group = np.cumsum(start) - 1
        shortest = depth[start][group]
        best = np.where(depth == shortest, via, np.iinfo(np.int64).max)
        via_min = np.minimum.reduceat(best, np.flatnonzero(start))
        anc, des, depth, via = anc[start], des[start], depth[start], via_min
    rows = pa.table({"anc": anc, "des": des, "depth": depth.astype(np.int32), "via_down": via})
    con.register("_closure_arrow", rows)
    con.register("_cycles_arrow", cycles)
    try:
        con.execute("CREATE OR REPLACE TABLE genealogy.closure_by_anc AS "
                    "SELECT * FROM _closure_arrow")
        con.execute("CREATE OR REPLACE TABLE genealogy.cycles AS SELECT * FROM _cycles_arrow")
    finally:
        con.unregister("_closure_arrow")
        con.unregister("_cycles_arrow")
    con.execute("""CREATE OR REPLACE TABLE genealogy.closure_by_des AS
                   SELECT des, anc, depth FROM genealogy.closure_by_anc ORDER BY des, anc""")
    return len(cycles), (anc, des)


def _distinct_sorted(keys: np.ndarray) -> np.ndarray:
    """The distinct values of a sorted array (without a hash table)."""
    first = np.ones(len(keys), bool)
    first[1:] = keys[1:] != keys[:-1]
    return keys[first]


def _store_lot_spans(con: duckdb.DuckDBPyConnection, lot_edges: list[tuple[np.ndarray, np.ndarray]],
                     anc: np.ndarray, des: np.ndarray) -> None:
    """``lot_keys.des_lo``/``des_hi``: the key range of each lot's holders (its edges' parents
    and everything they are in), so that a trace reads those rows by constant ranges.

    ``anc``/``des``: the closure, sorted by (anc, des): each serial's first and last rows give
    the least and greatest key it is in.
    """
    size = int(max([anc.max(initial=0), des.max(initial=0)]
                   + [int(p.max(initial=0)) for _, p in lot_edges])) + 1
    low, high = np.arange(size, dtype=np.int64), np.arange(size, dtype=np.int64)
    if len(anc):
        first = np.ones(len(anc), bool)
        first[1:] = anc[1:] != anc[:-1]
        last = np.ones(len(anc), bool)
        last[:-1] = first[1:]
        low[anc[first]] = np.minimum(anc[first], des[first])
        high[anc[last]] = np.maximum(anc[last], des[last])
    n_lots = int(max([int(c.max(initial=0)) for c, _ in lot_edges] + [0])) + 1
    lo = np.full(n_lots, np.iinfo(np.int64).max)
    hi = np.full(n_lots, -1, np.int64)
    for child, parent in lot_edges:  # each run is sorted by child
        if not len(child):
            continue
        starts = np.flatnonzero(np.concatenate([[True], child[1:] != child[:-1]]))
        lots = child[starts].astype(np.int64)
        lo[lots] = np.minimum(lo[lots], np.minimum.reduceat(low[parent], starts))
        hi[lots] = np.maximum(hi[lots], np.maximum.reduceat(high[parent], starts))
    has = np.flatnonzero(hi >= 0)
    con.register("_spans_arrow", pa.table({"node_id": has, "lo": lo[has], "hi": hi[has]}))
    try:
        con.execute("""UPDATE genealogy.lot_keys k SET des_lo = s.lo, des_hi = s.hi
                       FROM _spans_arrow s WHERE k.node_id = s.node_id""")
    finally:
        con.unregister("_spans_arrow")
