"""genealogy.unit_info: per unit what it is, where it is, who has it, and whether it is top-level."""

from __future__ import annotations

import duckdb
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

#: ``unit_info`` in SQL, for a lake with holders that are no unit (see _build_unit_info)
_UNIT_INFO_SQL = """
    WITH info AS (  -- units, and serials that parts are fitted into before their units row came
        SELECT node_id, serial_number, product_code, job_id, status FROM _unit_nodes
        UNION ALL
        SELECT h.node_id, k.serial_number, NULL, NULL, NULL
        FROM _holders h JOIN genealogy.serial_keys k ON k.node_id = h.node_id
        ANTI JOIN _unit_nodes u ON u.node_id = h.node_id
    ), last_ship AS (
        SELECT serial_number,
               arg_max({'customer': customer, 'order_ref': order_ref, 'shipped_at': shipped_at,
                        'ship_to_country': ship_to_country},
                       coalesce(shipped_at, '-infinity'::TIMESTAMPTZ)) AS s
        FROM shipments GROUP BY serial_number
    ), fitted AS (  -- inside something: not top-level
        SELECT DISTINCT anc FROM genealogy.closure_by_anc
    )
    SELECT i.node_id, i.serial_number, i.product_code, i.job_id, i.status,
           f.anc IS NULL AS top, s.s.customer AS customer, s.s.order_ref AS order_ref,
           s.s.shipped_at AS shipped_at, s.s.ship_to_country AS ship_to_country
    FROM info i LEFT JOIN last_ship s ON s.serial_number = i.serial_number
    LEFT JOIN fitted f ON f.anc = i.node_id
    ORDER BY i.node_id
"""


def _build_unit_info(con: duckdb.DuckDBPyConnection, inside: np.ndarray) -> None:
    """Per unit: what it is, where it is, who has it; ``top`` if it is fitted into nothing
    (``inside``: the sorted keys of the serials inside something).

    The table must be sorted by key, and ``_unit_nodes`` already is: ``top`` and the last
    shipment of each unit (matched by a hash of the serials) are laid out in numpy in the same
    order and put beside it (a positional join), so no rows of text are sorted.
    """
    node = con.execute("SELECT node_id FROM _unit_nodes").fetchnumpy()["node_id"]
    extra = con.execute("SELECT count(*) FROM _non_units n SEMI JOIN _holders h "
                        "ON h.node_id = n.node_id").fetchone()[0]  # type: ignore[index]
    if extra or (len(node) > 1 and not (node[1:] > node[:-1]).all()):
        con.execute("CREATE OR REPLACE TABLE genealogy.unit_info AS " + _UNIT_INFO_SQL)
        return
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
    units = con.execute("SELECT serial_number FROM _unit_nodes").to_arrow_table()
    match = pc.index_in(units.column("serial_number"), value_set=serial.dictionary)
    del units
    shipped = ships.drop_columns(["serial_number"]).take(pa.array(latest, pa.int64()).take(match))
    beside = pa.table({"top": top, "customer": shipped.column("customer"),
                       "order_ref": shipped.column("order_ref"),
                       "shipped_at": shipped.column("t").cast(pa.timestamp("us", tz="UTC")),
                       "ship_to_country": shipped.column("ship_to_country")})
    con.register("_beside_arrow", beside)
    try:
        con.execute("""
            CREATE OR REPLACE TABLE genealogy.unit_info AS
            SELECT u.node_id, u.serial_number, u.product_code, u.job_id, u.status, b.top,
                   b.customer, b.order_ref, b.shipped_at, b.ship_to_country
            FROM _unit_nodes u POSITIONAL JOIN _beside_arrow b""")
    finally:
        con.unregister("_beside_arrow")
