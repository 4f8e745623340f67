"""Nodes of the genealogy index: every lot and serial interned to a BIGINT key (lot_keys,
serial_keys, the nodes view), and the temporary unit and job tables the edges are built from."""

from __future__ import annotations

import duckdb


def _build_nodes(con: duckdb.DuckDBPyConnection) -> None:
    """Intern every lot (per component code) and serial to a BIGINT key: lots first, then
    serials in (job, serial) order. The units, with their attributes and an integer key of
    their job, go to ``_unit_nodes`` (in key order), the serials that are no unit to
    ``_non_units``, the jobs to ``_jobs``.

    A serial's code and job are the least of every row naming it; names are joined to the
    units once and only the serials that are no unit, or that a fitment or issue names with a
    lesser code or job, are grouped (a group-by over every name costs several times more).
    """
    con.execute("""
        CREATE OR REPLACE TEMP TABLE _names AS
        WITH others AS (
            SELECT serial_number AS s, NULL::VARCHAR AS j, NULL::VARCHAR AS c
            FROM unit_components
            UNION ALL SELECT component_serial, NULL, component_code FROM unit_components
                      WHERE component_serial IS NOT NULL
            UNION ALL SELECT component_serial, job_id, component_code FROM material_issues
                      WHERE component_serial IS NOT NULL
        )
        SELECT o.s, min(o.j) AS j, min(o.c) AS c, bool_or(u.serial_number IS NOT NULL) AS unit
        FROM others o LEFT JOIN units u ON u.serial_number = o.s
        WHERE u.serial_number IS NULL
           OR (o.c IS NOT NULL AND (u.product_code IS NULL OR o.c < u.product_code))
           OR (o.j IS NOT NULL AND (u.job_id IS NULL OR o.j < u.job_id))
        GROUP BY o.s
    """)
    con.execute("""
        CREATE OR REPLACE TEMP TABLE _jobs AS
        SELECT job_id, (row_number() OVER (ORDER BY job_id) - 1)::BIGINT AS job_key
        FROM (SELECT DISTINCT job_id FROM units WHERE job_id IS NOT NULL)""")
    con.execute("""
        CREATE OR REPLACE TEMP TABLE _ordered AS
        WITH lots AS (
            SELECT component_code, lot_number FROM material_issues
            UNION SELECT component_code, lot_number FROM unit_components
                  WHERE lot_number IS NOT NULL
        ), serials AS (
            SELECT u.serial_number AS s, least(u.job_id, n.j) AS j,
                   least(u.product_code, n.c) AS c, true AS unit, u.job_id AS unit_job,
                   jk.job_key, u.product_code, u.status
            FROM units u LEFT JOIN _names n ON n.s = u.serial_number
            LEFT JOIN _jobs jk ON jk.job_id = u.job_id
            UNION ALL
            SELECT s, j, c, false, NULL, NULL, NULL, NULL FROM _names WHERE NOT unit
        )
        SELECT 'lot' AS kind, component_code, lot_number, NULL::VARCHAR AS serial_number,
               NULL::VARCHAR AS job_id, false AS unit, NULL::VARCHAR AS unit_job,
               NULL::BIGINT AS job_key, NULL::VARCHAR AS product_code,
               NULL::VARCHAR AS status, 0 AS grp, component_code AS k1, lot_number AS k2
        FROM lots
        UNION ALL
        SELECT 'serial', c, NULL, s, j, unit, unit_job, job_key, product_code, status, 1,
               coalesce(j, ''), s
        FROM serials
        ORDER BY grp, k1, k2
    """)
    con.execute("DROP TABLE _names")
    # the key is the place in that order: a scan, and a row number over it, keep the order the
    # rows were written in (no second sort)
    con.execute("""
        CREATE OR REPLACE TEMP TABLE _keyed AS
        SELECT row_number() OVER ()::BIGINT AS node_id, * EXCLUDE (grp, k1, k2)
        FROM _ordered""")
    con.execute("DROP TABLE _ordered")
    con.execute("""
        CREATE OR REPLACE TEMP TABLE _unit_nodes AS  -- in key order, like _keyed
        SELECT node_id, unit_job AS job_id, job_key, serial_number, product_code, status
        FROM _keyed WHERE unit""")
    con.execute("""
        CREATE OR REPLACE TEMP TABLE _non_units AS
        SELECT node_id, serial_number FROM _keyed WHERE kind = 'serial' AND NOT unit""")
    # lots and serials in two tables (point lookups by name through ART indexes), and
    # ``nodes`` a view over both: one copy of every serial's name, not three
    con.execute("""CREATE OR REPLACE TABLE genealogy.lot_keys AS
                   SELECT node_id, component_code, lot_number, NULL::BIGINT AS des_lo,
                          NULL::BIGINT AS des_hi
                   FROM _keyed WHERE kind = 'lot'""")
    con.execute("""CREATE OR REPLACE TABLE genealogy.serial_keys AS
                   SELECT node_id, serial_number, component_code FROM _keyed
                   WHERE kind = 'serial'""")
    con.execute("""CREATE OR REPLACE TABLE genealogy.loose_serials AS  -- serials that are no unit
                   SELECT node_id, serial_number, component_code FROM _keyed
                   WHERE kind = 'serial' AND NOT unit""")
    con.execute("DROP TABLE _keyed")
    con.execute("CREATE INDEX lot_keys_name ON genealogy.lot_keys (component_code, lot_number)")
    con.execute("CREATE INDEX serial_keys_name ON genealogy.serial_keys (serial_number)")
    if con.execute("SELECT count(*) FROM duckdb_tables() WHERE schema_name = 'genealogy' "
                   "AND table_name = 'nodes'").fetchone()[0]:  # type: ignore[index]
        con.execute("DROP TABLE genealogy.nodes")  # an index of an earlier version
    con.execute(_NODES_VIEW)


#: every node: lots (``lot_keys``) and serials (``serial_keys``), with its kind and label
_NODES_VIEW = """
    CREATE OR REPLACE VIEW genealogy.nodes AS
    SELECT node_id, 'lot' AS kind, component_code, lot_number, NULL::VARCHAR AS serial_number,
           component_code || '/' || lot_number AS label
    FROM genealogy.lot_keys
    UNION ALL
    SELECT node_id, 'serial', component_code, NULL, serial_number, serial_number
    FROM genealogy.serial_keys"""
