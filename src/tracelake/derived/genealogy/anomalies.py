"""genealogy.multi_parent: serials fitted into two units at once (no removal between)."""

from __future__ import annotations

import duckdb
import numpy as np
import pyarrow as pa


def build_anomalies(con: duckdb.DuckDBPyConnection, scope: str | None = None,
                     candidates: np.ndarray | None = None) -> int:
    """Serials fitted into two units at once (no removal between); returns how many.

    ``scope``: a subquery of the nodes to recheck (incremental upkeep); ``candidates``: the
    nodes with two fitment edges, found by the full build; all nodes otherwise.
    """
    if candidates is not None and not len(candidates):
        con.execute("CREATE OR REPLACE TABLE genealogy.multi_parent "
                    "(node_id BIGINT, parents VARCHAR[])")
        return 0
    if candidates is not None:
        con.register("_twice_arrow", pa.table({"child": candidates}))
        scope = "(SELECT child FROM _twice_arrow)"
    query = f"""
        WITH two AS (
            SELECT child FROM genealogy.edges
            WHERE source = 'unit_components' {f"AND child IN {scope}" if scope else ""}
            GROUP BY child HAVING count(DISTINCT parent) > 1
        )
        SELECT e.child AS node_id, list(p.label ORDER BY p.label) AS parents
        FROM genealogy.edges e JOIN two USING (child)
        JOIN genealogy.nodes p ON p.node_id = e.parent
        JOIN genealogy.nodes c ON c.node_id = e.child
        WHERE c.kind = 'serial' AND e.source = 'unit_components'
        GROUP BY e.child"""
    try:
        if candidates is not None or scope is None:
            con.execute(f"CREATE OR REPLACE TABLE genealogy.multi_parent AS {query}")
        else:
            con.execute(f"DELETE FROM genealogy.multi_parent WHERE node_id IN {scope}")
            con.execute(f"INSERT INTO genealogy.multi_parent {query}")
    finally:
        if candidates is not None:
            con.unregister("_twice_arrow")
    return int(con.execute("SELECT count(*) FROM genealogy.multi_parent").fetchone()[0])  # type: ignore[index]
