"""genealogy.unit_info: per unit what it is, where it is, who has it, and whether it is top-level."""

from __future__ import annotations

import duckdb
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

#: the rows of ``unit_info`` in key order, for a lake with holders that are no unit (serials that
#: parts are fitted into before their units row came) or units not laid out in key order
_UNIT_ROWS_SQL = """
    CREATE OR REPLACE TEMP TABLE _unit_rows AS
    SELECT node_id, serial_number, product_code, job_id, status FROM (
        SELECT node_id, serial_number, product_code, job_id, status FROM _unit_nodes
        UNION ALL
        SELECT h.node_id, k.serial_number, NULL, NULL, NULL
        FROM _holders h JOIN genealogy.serial_keys k ON k.node_id = h.node_id
        ANTI JOIN _unit_nodes u ON u.node_id = h.node_id)
    ORDER BY node_id
"""


def _build_unit_info(con: duckdb.DuckDBPyConnection, inside: np.ndarray) -> None:
    """Per unit: what it is, where it is, who has it; ``top`` if it is fitted into nothing
    (``inside``: the sorted keys of the serials inside something).

    The table must be sorted by key, and ``_unit_nodes`` already is: ``top`` and the last
    shipment of each unit (matched by a hash of the serials) are laid out in numpy in the same
    order and put beside it (a positional join), so no rows of text are sorted.
    """
    rows = "_unit_nodes"
    node = con.execute(f"SELECT node_id FROM {rows}").fetchnumpy()["node_id"]
    extra = con.execute("SELECT count(*) FROM _non_units n SEMI JOIN _holders h "
                        "ON h.node_id = n.node_id").fetchone()[0]  # type: ignore[index]
    if extra or (len(node) > 1 and not (node[1:] > node[:-1]).all()):
        # the rows sorted on their own first (one statement, one operator: a sort beside the
        # joins and aggregates of the whole table ran a 1M-unit lake out of its memory limit)
        rows = "_unit_rows"
        con.execute(_UNIT_ROWS_SQL)
        node = con.execute(f"SELECT node_id FROM {rows}").fetchnumpy()["node_id"]
    _store_unit_info(con, rows, node, inside)
    con.execute("DROP TABLE IF EXISTS _unit_rows")


def _store_unit_info(con: duckdb.DuckDBPyConnection, rows: str, node: np.ndarray,
                     inside: np.ndarray) -> None:
    """``unit_info`` from ``rows`` (in key order) and ``top`` and the last shipment of each
    row laid out beside them in numpy."""
    at = np.minimum(np.searchsorted(inside, node), max(len(inside) - 1, 0))
    top = ~(inside[at] == node) if len(inside) else np.ones(len(node), bool)
    ships = con.execute("""SELECT serial_number, customer, order_ref, epoch_us(shipped_at) AS t,
                                  ship_to_country FROM shipments""").to_arrow_table()
    serial = ships.column("serial_number").combine_chunks().dictionary_encode()
    when = ships.column("t").fill_null(np.iinfo(np.int64).min).to_numpy()
    group = serial.indices.to_numpy(zero_copy_only=False)
    order = np.lexsort((when, group))  # the last of each serial is its latest shipment
    last = np.ones(len(order), bool)
    last[:-1] = group[order][1:] != group[order][:-1]
    latest = np.full(len(serial.dictionary), -1, np.int64)
    latest[group[order][last]] = order[last]
    units = con.execute(f"SELECT serial_number FROM {rows}").to_arrow_table()
    match = pc.index_in(units.column("serial_number"), value_set=serial.dictionary)
    del units
    shipped = ships.drop_columns(["serial_number"]).take(pa.array(latest, pa.int64()).take(match))
    beside = pa.table({"top": top, "customer": shipped.column("customer"),
                       "order_ref": shipped.column("order_ref"),
                       "shipped_at": shipped.column("t").cast(pa.timestamp("us", tz="UTC")),
                       "ship_to_country": shipped.column("ship_to_country")})
    con.register("_beside_arrow", beside)
    try:
        con.execute(f"""
            CREATE OR REPLACE TABLE genealogy.unit_info AS
            SELECT u.node_id, u.serial_number, u.product_code, u.job_id, u.status, b.top,
                   b.customer, b.order_ref, b.shipped_at, b.ship_to_country
            FROM {rows} u POSITIONAL JOIN _beside_arrow b""")
    finally:
        con.unregister("_beside_arrow")
