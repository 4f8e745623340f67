"""The genealogy index: lots, serials and jobs interned to integer keys, containment edges, and
their transitive closure, kept in the lake (schema ``genealogy``) so every query is a lookup.

Edges ("child is in parent"), built from the lake:

* ``unit_components``: a lot or component serial fitted into a unit. Rows with ``removed_at``
  are history (``genealogy.removed``), not containment.
* ``material_issues``: a lot (or serial) issued to a job reaches every unit of that job, unless
  ``unit_components`` says which units took it: when any unit of the job has a fitment row
  naming that lot (or that serial), the fitment rows decide where it went. A lot issued but
  named by no fitment row reaches every unit of the job: a recall errs on the side of the
  customer.
* lot membership: a row naming both a lot and a component serial puts the serial in the lot.
* a component serial that is itself a row of ``units`` is the same node as that unit, so the
  levels of sub-assembly chain.

Jobs are not nodes of the closure: a job-level issue becomes an edge from the lot to each unit
of the job. ``closure_by_anc`` (sorted by the contained node) answers where-used and
``closure_by_des`` (sorted by the container) answers where-from, each in one indexed lookup;
``via_down``/``via_up`` store the next node on a shortest path, so paths come out of the same
rows. Keys are BIGINTs assigned in (job, serial) order, so DuckDB's zone maps prune well
(perf-notes §1: text serials with a common prefix defeat them).
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import duckdb

from tracelake.lake import LakePaths

__all__ = ["GENEALOGY_TABLES", "IndexStats", "build_index", "has_index", "rebuild_lake_index",
           "update_index"]

#: tables whose changed rows (not just new ones) force a full rebuild: edges may disappear
EDGE_TABLES = frozenset({"units", "unit_components", "material_issues"})

#: Bump when the index tables change shape: an index of another version is rebuilt, not extended.
INDEX_VERSION = 2
GENEALOGY_TABLES = ("units", "unit_components", "material_issues", "shipments", "jobs")
MAX_DEPTH = 64


@dataclass
class IndexStats:
    """What a build did, for logs, Dagster metadata and the benchmark."""

    nodes: int
    edges: int
    closure_rows: int
    cycles: int
    multi_parent: int
    seconds: float
    mode: str = "full"


def has_index(con: duckdb.DuckDBPyConnection) -> bool:
    """Whether the lake holds a genealogy index of this version of tracelake."""
    present = con.execute(
        "SELECT count(*) FROM duckdb_tables() WHERE schema_name = 'genealogy' "
        "AND table_name IN ('closure_by_anc', 'meta')").fetchone()[0]  # type: ignore[index]
    if present != 2:
        return False
    row = con.execute("SELECT version FROM genealogy.meta").fetchone()
    return row is not None and row[0] == INDEX_VERSION


def build_index(con: duckdb.DuckDBPyConnection) -> IndexStats:
    """Rebuild every genealogy table from the lake's current rows (inside the caller's transaction)."""
    start = time.perf_counter()
    con.execute("CREATE SCHEMA IF NOT EXISTS genealogy")
    _build_nodes(con)
    _build_edges(con)
    cycles = _build_closure(con)
    _build_unit_info(con)
    multi = _build_anomalies(con, cycles)
    con.execute("CREATE OR REPLACE TABLE genealogy.meta AS SELECT ?::INTEGER AS version, "
                "now() AS built_at", [INDEX_VERSION])
    count = _count(con)
    return IndexStats(nodes=count("genealogy.nodes"), edges=count("genealogy.edges"),
                      closure_rows=count("genealogy.closure_by_anc"), cycles=cycles,
                      multi_parent=multi, seconds=time.perf_counter() - start)


def update_index(con: duckdb.DuckDBPyConnection, run_id: str,
                 updated: set[str] | frozenset[str] = frozenset()) -> IndexStats:
    """Bring the index up to date after run ``run_id``: incrementally when the run only added
    rows (new units, fitments, issues, reworks recorded with them: the usual day in a plant),
    by a full rebuild when it changed rows the links were built from (a changed re-export, a
    removal recorded on an existing fitment) or there is no index yet.

    ``updated`` names the tables in which the run replaced existing rows.
    """
    start = time.perf_counter()
    if not has_index(con) or set(updated) & EDGE_TABLES:
        return build_index(con)
    con.execute("""
        CREATE OR REPLACE TEMP TABLE _scope_jobs AS
        SELECT job_id FROM units WHERE _run_id = $run
        UNION SELECT job_id FROM material_issues WHERE _run_id = $run
        UNION SELECT u.job_id FROM unit_components uc JOIN units u USING (serial_number)
              WHERE uc._run_id = $run""", {"run": run_id})
    _append_nodes(con, run_id)
    _derive_edges(con, scoped=True)
    lost = con.execute("""
        SELECT count(*) FROM genealogy.edges_by_parent e
        WHERE e.parent IN (SELECT node_id FROM _unit_nodes) AND e.source <> 'lot'
          AND NOT EXISTS (SELECT 1 FROM _edges_all a
                          WHERE a.child = e.child AND a.parent = e.parent)""").fetchone()[0]  # type: ignore[index]
    if lost:  # a link the index holds is gone: only a full rebuild keeps the closure exact
        return build_index(con)
    con.execute("""
        INSERT INTO genealogy.removed
        SELECT * FROM _removed_all r WHERE NOT EXISTS (
            SELECT 1 FROM genealogy.removed o
            WHERE o.child = r.child AND o.parent = r.parent AND o.fitted_at = r.fitted_at)""")
    con.execute("""
        CREATE OR REPLACE TEMP TABLE _added AS
        SELECT a.* FROM _edges_all a
        WHERE NOT EXISTS (SELECT 1 FROM genealogy.edges_by_parent e
                          WHERE e.parent IN (SELECT DISTINCT parent FROM _edges_all)
                            AND e.child = a.child AND e.parent = a.parent)""")
    con.execute("INSERT INTO genealogy.edges SELECT * FROM _added ORDER BY child, parent")
    con.execute("INSERT INTO genealogy.edges_by_parent SELECT * FROM _added ORDER BY parent, child")
    if _extend_closure(con):
        return build_index(con)  # the new links close a cycle: take the full path that reports it
    _refresh_unit_info(con, run_id)
    multi = _build_anomalies(con, 0, scope="(SELECT child FROM _added)")
    added = con.execute("SELECT count(*) FROM _added").fetchone()[0]  # type: ignore[index]
    for temp in ("_scope_jobs", "_edges_all", "_removed_all", "_unit_nodes", "_added"):
        con.execute(f"DROP TABLE IF EXISTS {temp}")
    count = _count(con)
    return IndexStats(nodes=count("genealogy.nodes"), edges=int(added),
                      closure_rows=count("genealogy.closure_by_anc"), cycles=0,
                      multi_parent=multi, seconds=time.perf_counter() - start,
                      mode="incremental")


def _append_nodes(con: duckdb.DuckDBPyConnection, run_id: str) -> None:
    """Give the lots and serials first seen in this run the next free keys."""
    con.execute("""
        CREATE OR REPLACE TEMP TABLE _new_nodes AS
        WITH lots AS (
            SELECT component_code, lot_number FROM material_issues WHERE _run_id = $run
            UNION SELECT component_code, lot_number FROM unit_components
                  WHERE _run_id = $run AND lot_number IS NOT NULL
        ), serial_names AS (
            SELECT serial_number AS s, job_id AS j, product_code AS c FROM units
            WHERE _run_id = $run
            UNION ALL SELECT serial_number, NULL, NULL FROM unit_components WHERE _run_id = $run
            UNION ALL SELECT component_serial, NULL, component_code FROM unit_components
                      WHERE _run_id = $run AND component_serial IS NOT NULL
            UNION ALL SELECT component_serial, job_id, component_code FROM material_issues
                      WHERE _run_id = $run AND component_serial IS NOT NULL
        ), serials AS (SELECT s, min(j) AS j, min(c) AS c FROM serial_names GROUP BY s),
        fresh AS (
            SELECT 'lot' AS kind, l.component_code, l.lot_number, NULL::VARCHAR AS serial_number,
                   NULL::VARCHAR AS job_id, 0 AS grp, l.component_code AS k1, l.lot_number AS k2
            FROM lots l ANTI JOIN genealogy.lot_keys k
                 ON k.component_code = l.component_code AND k.lot_number = l.lot_number
            UNION ALL
            SELECT 'serial', s.c, NULL, s.s, s.j, 1, coalesce(s.j, ''), s.s
            FROM serials s ANTI JOIN genealogy.serial_keys k ON k.serial_number = s.s
        )
        SELECT (SELECT coalesce(max(node_id), 0) FROM genealogy.nodes)
               + row_number() OVER (ORDER BY grp, k1, k2) AS node_id, kind, component_code,
               lot_number, serial_number, job_id,
               CASE kind WHEN 'lot' THEN component_code || '/' || lot_number
                         ELSE serial_number END AS label
        FROM fresh""", {"run": run_id})
    con.execute("INSERT INTO genealogy.nodes SELECT * FROM _new_nodes ORDER BY node_id")
    con.execute("INSERT INTO genealogy.lot_keys SELECT node_id, component_code, lot_number "
                "FROM _new_nodes WHERE kind = 'lot' ORDER BY node_id")
    con.execute("INSERT INTO genealogy.serial_keys SELECT node_id, serial_number "
                "FROM _new_nodes WHERE kind = 'serial' ORDER BY node_id")
    con.execute("DROP TABLE _new_nodes")


def _extend_closure(con: duckdb.DuckDBPyConnection) -> bool:
    """Add the closure rows the edges in ``_added`` create; True if they close a cycle."""
    con.execute("""
        CREATE OR REPLACE TEMP TABLE _cdelta AS
        SELECT DISTINCT ON (anc, des) * FROM (
            SELECT child AS anc, parent AS des, 1::INTEGER AS depth, child AS via_down,
                   parent AS via_up FROM _added
            UNION ALL
            SELECT c.anc, a.parent, c.depth + 1, a.child, c.via_up
            FROM genealogy.closure_by_des c JOIN _added a ON c.des = a.child
            WHERE c.des IN (SELECT child FROM _added)
        ) ORDER BY anc, des, depth""")
    _drop_known(con, "_cdelta")
    con.execute("CREATE OR REPLACE TEMP TABLE _cnew AS SELECT * FROM _cdelta")
    for _ in range(MAX_DEPTH):
        con.execute("CREATE OR REPLACE TEMP TABLE _cnext AS " + _STEP.format(
            delta="_cdelta", edges="genealogy.edges_by_parent",
            where="WHERE e.child IN (SELECT des FROM _cdelta)"))
        _drop_known(con, "_cnext")
        con.execute("DELETE FROM _cnext n USING _cnew c WHERE c.anc = n.anc AND c.des = n.des")
        if not con.execute("SELECT count(*) FROM _cnext").fetchone()[0]:  # type: ignore[index]
            break
        con.execute("INSERT INTO _cnew SELECT * FROM _cnext")
        con.execute("CREATE OR REPLACE TEMP TABLE _cdelta AS SELECT * FROM _cnext")
    if con.execute("SELECT count(*) FROM _cnew WHERE anc = des").fetchone()[0]:  # type: ignore[index]
        return True
    con.execute("INSERT INTO genealogy.closure_by_anc SELECT * FROM _cnew ORDER BY anc, depth")
    con.execute("INSERT INTO genealogy.closure_by_des SELECT * FROM _cnew ORDER BY des, depth")
    for temp in ("_cdelta", "_cnew", "_cnext"):
        con.execute(f"DROP TABLE IF EXISTS {temp}")
    return False


def _drop_known(con: duckdb.DuckDBPyConnection, table: str) -> None:
    """Delete from ``table`` the (anc, des) pairs the closure already holds."""
    con.execute(f"""
        DELETE FROM {table} t USING (
            SELECT c.anc, c.des FROM genealogy.closure_by_des c
            WHERE c.des IN (SELECT DISTINCT des FROM {table})) k
        WHERE k.anc = t.anc AND k.des = t.des""")


def _refresh_unit_info(con: duckdb.DuckDBPyConnection, run_id: str) -> None:
    """Recompute ``unit_info`` for the units the run touched (built, fitted or shipped)."""
    con.execute("""
        CREATE OR REPLACE TEMP TABLE _touched AS
        SELECT node_id FROM _unit_nodes
        UNION SELECT child FROM _added WHERE source <> 'lot'
        UNION SELECT k.node_id FROM shipments s JOIN genealogy.serial_keys k
              ON k.serial_number = s.serial_number WHERE s._run_id = $run
        UNION SELECT k.node_id FROM units u JOIN genealogy.serial_keys k
              ON k.serial_number = u.serial_number WHERE u._run_id = $run
        UNION SELECT k.node_id FROM unit_components uc JOIN genealogy.serial_keys k
              ON k.serial_number = uc.serial_number WHERE uc._run_id = $run""", {"run": run_id})
    con.execute("DELETE FROM genealogy.unit_info WHERE node_id IN (SELECT node_id FROM _touched)")
    touched = "(SELECT node_id FROM _touched)"
    con.execute(_UNIT_INFO_SQL.format(
        where=f"WHERE k.node_id IN {touched}",
        ship_where="WHERE serial_number IN (SELECT serial_number FROM genealogy.serial_keys "
                   f"WHERE node_id IN {touched})",
        fitted_and=f"AND e.child IN {touched}",
        fitments_where="WHERE _run_id = '" + run_id.replace("'", "''") + "'")
                .replace("CREATE OR REPLACE TABLE genealogy.unit_info AS",
                         "INSERT INTO genealogy.unit_info"))
    con.execute("DROP TABLE _touched")


def rebuild_lake_index(lake: LakePaths, *, full: bool = True) -> IndexStats:
    """Rebuild the genealogy index of a lake in one transaction (for orchestrators).

    With ``full=False`` the index is only built if the lake has none (ingest keeps an existing
    one current run by run), and the stats of the index as it stands are returned.
    """
    from tracelake.lake import connect_writer

    with connect_writer(lake) as con:
        if not full and has_index(con):
            start = time.perf_counter()
            count = _count(con)
            return IndexStats(nodes=count("genealogy.nodes"), edges=count("genealogy.edges"),
                              closure_rows=count("genealogy.closure_by_anc"),
                              cycles=count("genealogy.cycles"),
                              multi_parent=count("genealogy.multi_parent"),
                              seconds=time.perf_counter() - start, mode="current")
        con.execute("BEGIN TRANSACTION")
        try:
            stats = build_index(con)
        except BaseException:
            con.execute("ROLLBACK")
            raise
        con.execute("COMMIT")
    return stats


def _count(con: duckdb.DuckDBPyConnection):  # type: ignore[no-untyped-def]
    def count(table: str) -> int:
        return int(con.execute(f"SELECT count(*) FROM {table}").fetchone()[0])  # type: ignore[index]
    return count


def _build_nodes(con: duckdb.DuckDBPyConnection) -> None:
    """Intern every lot (per component code), serial and job to a BIGINT key."""
    con.execute("""
        CREATE OR REPLACE TABLE genealogy.nodes AS
        WITH lots AS (
            SELECT component_code, lot_number FROM material_issues
            UNION SELECT component_code, lot_number FROM unit_components
                  WHERE lot_number IS NOT NULL AND component_serial IS NULL
            UNION SELECT component_code, lot_number FROM unit_components
                  WHERE lot_number IS NOT NULL AND component_serial IS NOT NULL
        ), serial_names AS (
            SELECT serial_number AS s, job_id AS j, product_code AS c FROM units
            UNION ALL SELECT serial_number, NULL, NULL FROM unit_components
            UNION ALL SELECT component_serial, NULL, component_code FROM unit_components
                      WHERE component_serial IS NOT NULL
            UNION ALL SELECT component_serial, job_id, component_code FROM material_issues
                      WHERE component_serial IS NOT NULL
        ), serials AS (
            SELECT s, min(j) AS j, min(c) AS c FROM serial_names GROUP BY s
        ), all_nodes AS (
            SELECT 'lot' AS kind, component_code, lot_number, NULL::VARCHAR AS serial_number,
                   NULL::VARCHAR AS job_id, 0 AS grp, component_code AS k1, lot_number AS k2
            FROM lots
            UNION ALL
            SELECT 'serial', c, NULL, s, j, 1, coalesce(j, ''), s FROM serials
        )
        SELECT row_number() OVER (ORDER BY grp, k1, k2)::BIGINT AS node_id, kind,
               component_code, lot_number, serial_number, job_id,
               CASE kind WHEN 'lot' THEN component_code || '/' || lot_number
                         ELSE serial_number END AS label
        FROM all_nodes ORDER BY node_id
    """)
    # point lookups by name go through small sorted tables with ART indexes
    con.execute("""CREATE OR REPLACE TABLE genealogy.lot_keys AS
                   SELECT node_id, component_code, lot_number FROM genealogy.nodes
                   WHERE kind = 'lot' ORDER BY node_id""")
    con.execute("""CREATE OR REPLACE TABLE genealogy.serial_keys AS
                   SELECT node_id, serial_number FROM genealogy.nodes
                   WHERE kind = 'serial' ORDER BY node_id""")
    con.execute("CREATE INDEX lot_keys_name ON genealogy.lot_keys (component_code, lot_number)")
    con.execute("CREATE INDEX serial_keys_name ON genealogy.serial_keys (serial_number)")


def _derive_edges(con: duckdb.DuckDBPyConnection, scoped: bool = False) -> None:
    """Containment edges into ``_edges_all`` and removed fitments into ``_removed_all``.

    ``scoped``: only for the units of the jobs in the temp table ``_scope_jobs`` (incremental
    upkeep); otherwise for the whole lake.
    """
    in_scope = "IN (SELECT job_id FROM _scope_jobs)"
    con.execute(f"""
        CREATE OR REPLACE TEMP TABLE _fitments AS
        SELECT uc.*, p.node_id AS parent,
               CASE WHEN uc.component_serial IS NULL THEN cl.node_id ELSE cs.node_id END
                   AS child,
               CASE WHEN uc.component_serial IS NOT NULL THEN cl.node_id END AS member_lot
        FROM unit_components uc
        JOIN genealogy.serial_keys p ON p.serial_number = uc.serial_number
        {f"JOIN units pu ON pu.serial_number = uc.serial_number AND pu.job_id {in_scope}"
         if scoped else ""}
        LEFT JOIN genealogy.serial_keys cs ON cs.serial_number = uc.component_serial
        LEFT JOIN genealogy.lot_keys cl
             ON cl.component_code = uc.component_code AND cl.lot_number = uc.lot_number
    """)
    # what unit_components say the units of a job took: a serial, or a lot of a component
    con.execute(f"""
        CREATE OR REPLACE TEMP TABLE _resolved AS
        SELECT DISTINCT u.job_id,
               coalesce(uc.component_serial, uc.component_code || '/' || uc.lot_number) AS part
        FROM unit_components uc JOIN units u ON u.serial_number = uc.serial_number
        {f"WHERE u.job_id {in_scope}" if scoped else ""}
    """)
    con.execute(f"""
        CREATE OR REPLACE TEMP TABLE _issues AS
        SELECT mi.*, coalesce(cs.node_id, cl.node_id) AS child,
               CASE WHEN mi.component_serial IS NOT NULL THEN cl.node_id END AS member_lot,
               r.job_id IS NOT NULL AS resolved_by_units
        FROM material_issues mi
        LEFT JOIN _resolved r ON r.job_id = mi.job_id AND r.part =
             coalesce(mi.component_serial, mi.component_code || '/' || mi.lot_number)
        JOIN genealogy.lot_keys cl ON cl.component_code = mi.component_code
             AND cl.lot_number = mi.lot_number
        LEFT JOIN genealogy.serial_keys cs ON cs.serial_number = mi.component_serial
        {f"WHERE mi.job_id {in_scope}" if scoped else ""}
    """)
    con.execute(f"""
        CREATE OR REPLACE TEMP TABLE _unit_nodes AS
        SELECT u.job_id, k.node_id FROM units u
        JOIN genealogy.serial_keys k ON k.serial_number = u.serial_number
        {f"WHERE u.job_id {in_scope}" if scoped else ""}
    """)
    con.execute("""
        CREATE OR REPLACE TEMP TABLE _job_edges AS
        SELECT i.child, n.node_id AS parent, i.issued_at, i.issued_by, i.job_id
        FROM _issues i JOIN _unit_nodes n ON n.job_id = i.job_id
        WHERE NOT i.resolved_by_units
    """)
    con.execute("""
        CREATE OR REPLACE TEMP TABLE _edges_all AS
        WITH raw AS (
            SELECT child, parent, 'unit_components' AS source, fitted_at AS linked_at,
                   fitted_by AS linked_by, NULL::VARCHAR AS job_id
            FROM _fitments WHERE removed_at IS NULL
            UNION ALL
            SELECT child, parent, 'material_issues', issued_at, issued_by, job_id
            FROM _job_edges
            UNION ALL
            SELECT member_lot, child, 'lot', fitted_at, fitted_by, NULL
            FROM _fitments WHERE member_lot IS NOT NULL
            UNION ALL
            SELECT member_lot, child, 'lot', issued_at, issued_by, job_id
            FROM _issues WHERE member_lot IS NOT NULL
        )
        SELECT DISTINCT ON (child, parent) child, parent, source, linked_at, linked_by, job_id
        FROM raw WHERE child IS NOT NULL AND parent IS NOT NULL AND child <> parent
        ORDER BY child, parent, linked_at
    """)
    con.execute("""
        CREATE OR REPLACE TEMP TABLE _removed_all AS
        SELECT child, parent, component_code, component_serial, lot_number, fitted_at,
               removed_at, removed_by, removal_ncr_id, serial_number AS parent_serial,
               coalesce(component_serial, component_code || '/' || lot_number) AS child_label
        FROM _fitments WHERE removed_at IS NOT NULL AND child IS NOT NULL
    """)
    for temp in ("_fitments", "_issues", "_resolved", "_job_edges"):
        con.execute(f"DROP TABLE {temp}")


def _build_edges(con: duckdb.DuckDBPyConnection) -> None:
    """Containment edges (current), and the removed fitments kept as history."""
    _derive_edges(con)
    con.execute("""CREATE OR REPLACE TABLE genealogy.edges AS
                   SELECT * FROM _edges_all ORDER BY child, parent""")
    con.execute("""CREATE OR REPLACE TABLE genealogy.edges_by_parent AS
                   SELECT * FROM _edges_all ORDER BY parent, child""")
    con.execute("""CREATE OR REPLACE TABLE genealogy.removed AS
                   SELECT * FROM _removed_all ORDER BY child""")
    for temp in ("_edges_all", "_removed_all", "_unit_nodes"):
        con.execute(f"DROP TABLE {temp}")


#: One semi-naive step: extend each closure row found last round by one edge upwards,
#: keeping the shortest way to each (anc, des) pair and the node it came through.
_STEP = """
    SELECT DISTINCT ON (d.anc, e.parent) d.anc, e.parent AS des, d.depth + 1 AS depth,
           e.child AS via_down, d.via_up
    FROM {delta} d JOIN {edges} e ON e.child = d.des
    {where}
    ORDER BY d.anc, e.parent, d.depth"""


def _build_closure(con: duckdb.DuckDBPyConnection) -> int:
    """Transitive closure by semi-naive iteration; returns the number of nodes on a cycle.

    Each round extends last round's rows by one edge upwards. In a genealogy almost every
    serial sits in one parent, so paths are hardly more than pairs: rounds keep every path and
    one sort at the end keeps the shortest per (anc, des), which is much cheaper than checking
    each round against everything found so far. A row that comes back to its start marks a
    cycle and is not extended, and the rounds stop at MAX_DEPTH, so cyclic data ends the loop.
    """
    con.execute("""
        CREATE OR REPLACE TEMP TABLE _paths AS
        SELECT child AS anc, parent AS des, 1::INTEGER AS depth, child AS via_down,
               parent AS via_up FROM genealogy.edges
    """)
    con.execute("CREATE OR REPLACE TEMP TABLE _delta AS SELECT * FROM _paths")
    for _ in range(MAX_DEPTH):
        con.execute("""
            CREATE OR REPLACE TEMP TABLE _next AS
            SELECT d.anc, e.parent AS des, d.depth + 1 AS depth, e.child AS via_down, d.via_up
            FROM _delta d JOIN genealogy.edges e ON e.child = d.des
            WHERE d.anc <> d.des""")
        if not con.execute("SELECT count(*) FROM _next").fetchone()[0]:  # type: ignore[index]
            break
        con.execute("INSERT INTO _paths SELECT * FROM _next")
        con.execute("CREATE OR REPLACE TEMP TABLE _delta AS SELECT * FROM _next")
    con.execute("""CREATE OR REPLACE TABLE genealogy.cycles AS
                   SELECT anc AS node_id, min(depth) AS cycle_length FROM _paths
                   WHERE anc = des GROUP BY anc""")
    con.execute("""CREATE OR REPLACE TEMP TABLE _closure AS
                   SELECT DISTINCT ON (anc, des) * FROM _paths WHERE anc <> des
                   ORDER BY anc, des, depth""")
    con.execute("DROP TABLE _paths; DROP TABLE _delta; DROP TABLE IF EXISTS _next")
    con.execute("""CREATE OR REPLACE TABLE genealogy.closure_by_anc AS
                   SELECT * FROM _closure ORDER BY anc, depth""")
    con.execute("""CREATE OR REPLACE TABLE genealogy.closure_by_des AS
                   SELECT * FROM _closure ORDER BY des, depth""")
    con.execute("DROP TABLE _closure")
    return int(con.execute("SELECT count(*) FROM genealogy.cycles").fetchone()[0])  # type: ignore[index]


_UNIT_INFO_SQL = """
    CREATE OR REPLACE TABLE genealogy.unit_info AS
    WITH last_ship AS (
        SELECT DISTINCT ON (serial_number) serial_number, customer, order_ref, shipped_at,
               ship_to_country
        FROM shipments {ship_where} ORDER BY serial_number, shipped_at DESC
    ), fitted AS (
        SELECT DISTINCT e.child FROM genealogy.edges e WHERE e.source <> 'lot' {fitted_and}
    )
    , holders AS (  -- units, and serials that parts are fitted into before their units row came
        SELECT serial_number FROM units
        UNION SELECT serial_number FROM unit_components {fitments_where}
    )
    SELECT k.node_id, h.serial_number, u.product_code, u.job_id, u.status,
           k.node_id NOT IN (SELECT child FROM fitted) AS top,
           s.customer, s.order_ref, s.shipped_at, s.ship_to_country
    FROM holders h JOIN genealogy.serial_keys k ON k.serial_number = h.serial_number
    LEFT JOIN units u ON u.serial_number = h.serial_number
    LEFT JOIN last_ship s ON s.serial_number = h.serial_number
    {where}
    ORDER BY k.node_id
"""


def _build_unit_info(con: duckdb.DuckDBPyConnection) -> None:
    """Per unit: what it is, where it is, who has it; ``top`` if it is fitted into nothing."""
    con.execute(_UNIT_INFO_SQL.format(where="", ship_where="", fitted_and="",
                                      fitments_where=""))


def _build_anomalies(con: duckdb.DuckDBPyConnection, cycles: int, scope: str | None = None) -> int:
    """Serials fitted into two units at once (no removal between); returns how many.

    ``scope``: a subquery of the nodes to recheck (incremental upkeep); all nodes otherwise.
    """
    query = f"""
        SELECT e.child AS node_id, list(p.label ORDER BY p.label) AS parents
        FROM genealogy.edges_by_parent e JOIN genealogy.nodes p ON p.node_id = e.parent
        JOIN genealogy.nodes c ON c.node_id = e.child
        WHERE c.kind = 'serial' AND e.source = 'unit_components'
              {f"AND e.child IN {scope}" if scope else ""}
        GROUP BY e.child HAVING count(DISTINCT e.parent) > 1"""
    if scope is None:
        con.execute(f"CREATE OR REPLACE TABLE genealogy.multi_parent AS {query}")
    else:
        con.execute(f"DELETE FROM genealogy.multi_parent WHERE node_id IN {scope}")
        con.execute(f"INSERT INTO genealogy.multi_parent {query}")
    return int(con.execute("SELECT count(*) FROM genealogy.multi_parent").fetchone()[0])  # type: ignore[index]
