"""Genealogy benchmark, the peers: a recursive CTE in DuckDB and rustworkx / networkx on the same
edges, each in its own child process; and the cross-check of every peer's answers against
tracelake's."""

from __future__ import annotations

import gc
import json
import time
from pathlib import Path
from typing import Any

import harness


def child_cte(tdir: Path, budget: float) -> dict[str, Any]:
    from tracelake.lake.snapshot import open_snapshot
    from tracelake.lake.storage import LakePaths

    starts = json.loads((tdir / "starts.json").read_text())
    con = open_snapshot(LakePaths.of(tdir / "lake"))
    up = """
        WITH RECURSIVE up(node) AS (
            {seed}
            UNION
            SELECT e.parent FROM genealogy.edges e JOIN up ON e.child = up.node)
        SELECT u.serial_number, u.customer FROM up
        JOIN genealogy.unit_info u ON u.node_id = up.node WHERE u.top"""
    q1_sql = up.format(seed="SELECT node_id FROM genealogy.lot_keys "
                            "WHERE component_code = ? AND lot_number = ?")
    q3_sql = up.format(seed="""SELECT DISTINCT k.node_id FROM material_issues mi
        JOIN genealogy.lot_keys k ON k.component_code = mi.component_code
             AND k.lot_number = mi.lot_number
        WHERE mi.component_code = ? AND lower(mi.supplier) = lower(?)
          AND mi.issued_at >= ?::TIMESTAMPTZ AND mi.issued_at < ?::TIMESTAMPTZ""")
    q2_sql = """
        WITH RECURSIVE down(node) AS (
            SELECT node_id FROM genealogy.serial_keys WHERE serial_number = ?
            UNION
            SELECT e.child FROM genealogy.edges e JOIN down ON e.parent = down.node)
        SELECT n.label FROM down JOIN genealogy.nodes n ON n.node_id = down.node
        WHERE n.serial_number IS DISTINCT FROM ?"""
    runs = {
        "Q1": lambda s: con.execute(q1_sql, [s["code"], s["lot"]]).fetchall(),
        "Q2": lambda s: con.execute(q2_sql, [s["serial"], s["serial"]]).fetchall(),
        "Q3": lambda s: con.execute(q3_sql, [s["code"], s["supplier"], s["from"],
                                             s["to"]]).fetchall(),
        "Q5": lambda s: con.execute(q1_sql, [s["code"], s["lot"]]).fetchall(),
    }
    out: dict[str, Any] = {"queries": {}}
    for q, fn in runs.items():
        if not starts[q]:
            continue
        times, answers, warm = harness.timed_loop(fn, starts[q], budget)
        sets = [sorted({r[0] for r in a}) for a in answers]
        out["queries"][q] = {"ms": times, "warm_ms": warm, "sets": sets,
                             "counts": [len(s) for s in sets]}
    out["peak_rss_mib"] = harness.rss_mib()
    plan = con.execute("EXPLAIN ANALYZE " + q1_sql, [starts["Q1"][0]["code"],
                                                    starts["Q1"][0]["lot"]]).fetchall()
    out["q1_explain_analyze"] = plan[0][1]
    con.close()
    return out


def child_graph(tdir: Path, lib: str, budget: float) -> dict[str, Any]:
    import duckdb
    import numpy as np

    starts = json.loads((tdir / "starts.json").read_text())
    t = time.perf_counter()
    if lib == "rustworkx":
        import rustworkx as gx
    else:
        import networkx as gx  # type: ignore[no-redef]
    t_import = time.perf_counter() - t
    rss0 = harness.rss_now_mib()
    t = time.perf_counter()
    con = duckdb.connect(str(tdir / "lake" / "serving.duckdb"), read_only=True)
    n = int(con.execute("SELECT max(node_id) + 1 FROM genealogy.nodes").fetchone()[0])  # type: ignore[index]
    e = con.execute("SELECT child, parent FROM genealogy.edges").fetchnumpy()
    ui = con.execute("""SELECT node_id, top, CASE WHEN customer IS NULL THEN -1
                                 ELSE dense_rank() OVER (ORDER BY customer) END::INTEGER AS cust
                          FROM genealogy.unit_info""").fetchnumpy()
    con.close()
    top = np.zeros(n, dtype=bool)
    top[ui["node_id"]] = ui["top"]
    customer = np.full(n, -1, dtype=np.int32)  # customer code per unit: the "join customers"
    customer[ui["node_id"]] = ui["cust"]
    del ui
    child, parent = e["child"], e["parent"]
    del e
    t_read = time.perf_counter() - t
    t = time.perf_counter()
    chunk = 2_000_000
    if lib == "rustworkx":
        g = gx.PyDiGraph(check_cycle=False, multigraph=True)
        g.add_nodes_from(range(n))
        for i in range(0, len(child), chunk):
            g.add_edges_from_no_data(list(zip(child[i:i + chunk].tolist(),
                                              parent[i:i + chunk].tolist(), strict=True)))
        descendants, ancestors = gx.descendants, gx.ancestors
    else:
        g = gx.DiGraph()
        g.add_nodes_from(range(n))
        for i in range(0, len(child), chunk):
            g.add_edges_from(zip(child[i:i + chunk].tolist(), parent[i:i + chunk].tolist(),
                                 strict=True))
        descendants, ancestors = gx.descendants, gx.ancestors
    edges = len(child)
    del child, parent
    t_build = time.perf_counter() - t
    gc.collect()
    rss_loaded = harness.rss_now_mib()  # steady state with the graph and the lookup arrays
    rss_load_peak = harness.rss_mib()

    def used(nodes: list[int]) -> tuple[np.ndarray, np.ndarray]:
        reached: set[int] = set()
        for s in nodes:
            reached |= descendants(g, s)
        ids = np.fromiter(reached, dtype=np.int64, count=len(reached))
        ids = ids[top[ids]]
        return ids, customer[ids]  # serials are looked up after timing

    runs = {"Q1": lambda s: used([s["node"]]), "Q3": lambda s: used(s["nodes"]),
            "Q5": lambda s: used([s["node"]]),
            "Q2": lambda s: np.fromiter(ancestors(g, s["node"]), dtype=np.int64)}
    out: dict[str, Any] = {"import_s": t_import, "read_s": t_read, "build_s": t_build,
                           "edges": edges, "rss_before_load_mib": rss0,
                           "rss_loaded_mib": rss_loaded,
                           "rss_load_peak_mib": rss_load_peak, "queries": {}}
    raw = {}
    for q, fn in runs.items():
        if not starts[q]:
            continue
        times, answers, warm = harness.timed_loop(fn, starts[q], budget)
        raw[q] = answers
        out["queries"][q] = {"ms": times, "warm_ms": warm}
    out["peak_rss_mib"] = harness.rss_mib()
    # ids -> serials / labels, untimed
    import pyarrow as pa

    con = duckdb.connect(str(tdir / "lake" / "serving.duckdb"), read_only=True)
    for q, answers in raw.items():
        sets = []
        for a in answers:
            ids = a[0] if isinstance(a, tuple) else a
            col = "serial_number" if q != "Q2" else "label"
            # a registered Arrow table, not a list parameter: binding a Python list costs
            # ~90 us per element in duckdb 1.5.5
            con.register("_ids", pa.table({"id": pa.array(ids, pa.int64())}))
            rows = con.execute(f"SELECT {col} FROM genealogy.nodes "
                               "WHERE node_id IN (SELECT id FROM _ids)").fetchall()
            con.unregister("_ids")
            sets.append(sorted(r[0] for r in rows))
        out["queries"][q]["sets"] = sets
        out["queries"][q]["counts"] = [len(s) for s in sets]
    con.close()
    return out


def cross_check(results: dict[str, dict[str, Any]], q: str) -> dict[str, Any]:
    """Per start: every peer's set against tracelake's. Returns mismatches per peer."""
    base = results.get("tracelake", {}).get("queries", {}).get(q)
    out: dict[str, Any] = {}
    if not base or "sets" not in base:
        return out
    for peer, res in results.items():
        if peer == "tracelake" or "queries" not in res or q not in res["queries"]:
            continue
        other = res["queries"][q].get("sets")
        if other is None:
            continue
        bad = []
        for i, (a, b) in enumerate(zip(base["sets"], other, strict=False)):
            if a != b:
                sa, sb = set(a), set(b)
                bad.append({"start": i, "tracelake": len(a), peer: len(b),
                            "only_tracelake": sorted(sa - sb)[:5],
                            f"only_{peer}": sorted(sb - sa)[:5]})
        out[peer] = bad
    return out
