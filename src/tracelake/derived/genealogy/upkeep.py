"""Keeping the genealogy index current run by run, from the rows the run added.

An ingest run usually adds a day of production: new units, their fitments, the lots issued to
their jobs, shipments of earlier units. The upkeep reads only those rows (``_run_id``, pruned to
the newest row groups by ``_loaded_at``), looks their names up once, derives the edges of the
jobs they touch on integer keys (what the index already holds about the older units of those
jobs comes from the index, not from the lake's tables), and appends edges, closure rows and
unit rows. ``unit_info`` is updated in place, so it stays sorted by key.

When the run changes what existing links were built from (an issue now narrowed by a fitment,
links that close a cycle), the caller rebuilds the index instead: :func:`extend_index` returns
``None`` then.
"""

from __future__ import annotations

import datetime as dt
import re

import duckdb

from tracelake.derived.genealogy.anomalies import build_anomalies
from tracelake.derived.genealogy.closure import shortest_paths
from tracelake.derived.genealogy.layout import MAX_DEPTH, SOURCE
from tracelake.derived.genealogy.ranges import key_ranges, select_in_ranges

__all__ = ["extend_index"]

#: ``tracelake.ingest.run.new_run_id``: the run's start, to the second, then a random suffix
_RUN_ID = re.compile(r"^(\d{8}T\d{6}Z)-")


def _run_rows(run_id: str) -> tuple[str, dict[str, object]]:
    """A filter for the rows a run wrote, and its parameters. Rows are appended, so the run's
    rows are the newest: a bound on ``_loaded_at`` lets zone maps skip every older row group."""
    found = _RUN_ID.match(run_id)
    if not found:
        return "_run_id = $run", {"run": run_id}
    started = dt.datetime.strptime(found.group(1), "%Y%m%dT%H%M%SZ").replace(tzinfo=dt.UTC)
    return "_loaded_at >= $since AND _run_id = $run", {"run": run_id, "since": started}


def extend_index(con: duckdb.DuckDBPyConnection, run_id: str,
                 updated: set[str] | frozenset[str]) -> int | None:
    """Add to the index what run ``run_id`` added; the number of new edges, or None when only a
    full rebuild keeps the index exact."""
    run, params = _run_rows(run_id)
    _read_run(con, run, params)
    if not _key_names(con):
        return None  # parts fitted into serials that are no units: links the upkeep can't derive
    _scope(con)
    if not _derive(con, run, params):
        return None
    if _extend_closure(con):
        return None  # the new links close a cycle: the full build reports it
    _grow_lot_spans(con)
    _tighten_lot_spans(con)
    _refresh_unit_info(con, shipments_changed="shipments" in updated)
    added = _recheck_multi_parent(con)
    con.execute("; ".join(f"DROP TABLE IF EXISTS {temp}" for temp in (
        "_run_units", "_run_fits", "_run_issues", "_run_ships", "_keys", "_lot_keys",
        "_scope_jobs", "_scope_units", "_fits", "_added", "_touched", "_gone_lots")))
    return added


def _read_run(con: duckdb.DuckDBPyConnection, run: str, params: dict[str, object]) -> None:
    """The rows of the run, from each table the genealogy is built from."""
    con.execute(f"""CREATE OR REPLACE TEMP TABLE _run_units AS
                    SELECT serial_number, job_id, product_code, status FROM units
                    WHERE {run}""", params)
    con.execute(f"""CREATE OR REPLACE TEMP TABLE _run_fits AS
                    SELECT serial_number, component_code, component_serial, lot_number,
                           fitted_at, removed_at, removed_by, removal_ncr_id
                    FROM unit_components WHERE {run}""", params)
    con.execute(f"""CREATE OR REPLACE TEMP TABLE _run_issues AS
                    SELECT job_id, component_code, lot_number, component_serial, issued_at
                    FROM material_issues WHERE {run}""", params)
    con.execute(f"""CREATE OR REPLACE TEMP TABLE _run_ships AS
                    SELECT serial_number, customer, order_ref, shipped_at, ship_to_country
                    FROM shipments WHERE {run}""", params)


def _key_names(con: duckdb.DuckDBPyConnection) -> bool:
    """Every name of the run to its key (``_keys``, ``_lot_keys``), and the next free keys for
    the names first seen (lots first, then serials by job); False, before any key is added, when
    the run fits parts into a serial that is no unit (neither before nor in the run): the upkeep
    derives links from units, so such links (and any cycle they close) need the full build.

    A unit the run adds was no unit before (a changed units row means a full rebuild), so if
    it is a node already it is one of the few serials that are no unit (``loose_serials``):
    only the other names (shipments of older units, parts fitted into them) are looked up
    among every serial, which costs a pass over all of them.
    """
    con.execute("""
        CREATE OR REPLACE TEMP TABLE _keys AS
        SELECT n.*, l.node_id, l.known_code, l.node_id AS loose FROM (
            SELECT s, min(j) AS j, min(c) AS c, bool_or(node) AS node, bool_or(unit) AS unit
            FROM (SELECT serial_number AS s, job_id AS j, product_code AS c, true AS node,
                         true AS unit FROM _run_units
                  UNION ALL SELECT serial_number, NULL, NULL, true, false FROM _run_fits
                  UNION ALL SELECT component_serial, NULL, component_code, true, false
                            FROM _run_fits WHERE component_serial IS NOT NULL
                  UNION ALL SELECT component_serial, job_id, component_code, true, false
                            FROM _run_issues WHERE component_serial IS NOT NULL
                  UNION ALL SELECT serial_number, NULL, NULL, false, false FROM _run_ships)
            GROUP BY s) n
        LEFT JOIN (SELECT node_id, serial_number, component_code AS known_code
                   FROM genealogy.loose_serials) l ON l.serial_number = n.s""")
    if con.execute("SELECT count(*) FROM _keys WHERE node_id IS NULL AND NOT unit"
                   ).fetchone()[0]:  # type: ignore[index]
        con.execute("""UPDATE _keys k SET node_id = s.node_id, known_code = s.component_code
                       FROM genealogy.serial_keys s
                       WHERE k.node_id IS NULL AND NOT k.unit AND s.serial_number = k.s""")
    if con.execute("""SELECT EXISTS (SELECT 1 FROM _keys k WHERE NOT k.unit
                         AND (k.node_id IS NULL OR k.node_id = k.loose)
                         AND k.s IN (SELECT serial_number FROM _run_fits))""").fetchone()[0]:  # type: ignore[index]
        return False
    # a serial's code is the least any row gives it: a known serial named with a lesser one
    if con.execute("SELECT count(*) FROM _keys WHERE node_id IS NOT NULL AND c IS NOT NULL "
                   "AND (known_code IS NULL OR c < known_code)").fetchone()[0]:  # type: ignore[index]
        for table in ("serial_keys", "loose_serials"):
            con.execute(f"""UPDATE genealogy.{table} t SET component_code = k.c FROM _keys k
                            WHERE t.node_id = k.node_id AND k.node_id IS NOT NULL
                              AND k.c IS NOT NULL
                              AND (k.known_code IS NULL OR k.c < k.known_code)""")
    con.execute("""
        CREATE OR REPLACE TEMP TABLE _lot_keys AS
        SELECT l.component_code, l.lot_number, k.node_id FROM (
            SELECT component_code, lot_number FROM _run_issues
            UNION SELECT component_code, lot_number FROM _run_fits WHERE lot_number IS NOT NULL
        ) l LEFT JOIN genealogy.lot_keys k
              ON k.component_code = l.component_code AND k.lot_number = l.lot_number""")
    con.execute("""
        CREATE OR REPLACE TEMP TABLE _fresh AS
        SELECT greatest((SELECT coalesce(max(node_id), 0) FROM genealogy.lot_keys),
                        (SELECT coalesce(max(node_id), 0) FROM genealogy.serial_keys))
               + row_number() OVER (ORDER BY grp, k1, k2) AS node_id, *
        FROM (SELECT 0 AS grp, component_code AS k1, lot_number AS k2, component_code,
                     lot_number, NULL::VARCHAR AS s, false AS unit
              FROM _lot_keys WHERE node_id IS NULL
              UNION ALL
              SELECT 1, coalesce(j, ''), s, c, NULL, s, unit FROM _keys
              WHERE node_id IS NULL AND node)""")
    con.execute("""INSERT INTO genealogy.lot_keys SELECT node_id, component_code, lot_number,
                   NULL, NULL FROM _fresh WHERE grp = 0 ORDER BY node_id""")
    con.execute("""INSERT INTO genealogy.serial_keys SELECT node_id, s, component_code
                   FROM _fresh WHERE grp = 1 ORDER BY node_id""")
    con.execute("""INSERT INTO genealogy.loose_serials SELECT node_id, s, component_code
                   FROM _fresh WHERE grp = 1 AND NOT unit ORDER BY node_id""")
    con.execute("""DELETE FROM genealogy.loose_serials WHERE node_id IN (
                       SELECT node_id FROM _keys WHERE unit AND node_id IS NOT NULL)""")
    con.execute("""UPDATE _lot_keys l SET node_id = f.node_id FROM _fresh f
                   WHERE f.grp = 0 AND l.node_id IS NULL AND f.component_code = l.component_code
                     AND f.lot_number = l.lot_number""")
    con.execute("UPDATE _keys k SET node_id = f.node_id FROM _fresh f "
                "WHERE f.grp = 1 AND k.node_id IS NULL AND f.s = k.s")
    con.execute("DROP TABLE _fresh")
    return True


def _scope(con: duckdb.DuckDBPyConnection) -> None:
    """The jobs the run touches (a unit built, a part issued, a unit fitted) and all their
    units (``_scope_units``: the run's, and the older ones from ``unit_info``)."""
    con.execute("""
        CREATE OR REPLACE TEMP TABLE _run_unit_keys AS
        SELECT k.node_id, u.job_id, u.serial_number, u.product_code, u.status
        FROM _run_units u JOIN _keys k ON k.s = u.serial_number""")
    con.execute("""
        CREATE OR REPLACE TEMP TABLE _scope_jobs AS
        SELECT job_id FROM _run_units
        UNION SELECT job_id FROM _run_issues
        UNION SELECT coalesce(r.job_id, i.job_id) FROM _run_fits f JOIN _keys k
              ON k.s = f.serial_number
              LEFT JOIN _run_unit_keys r ON r.node_id = k.node_id
              LEFT JOIN genealogy.unit_info i ON i.node_id = k.node_id
              WHERE r.node_id IS NOT NULL OR i.job_id IS NOT NULL""")
    con.execute("""
        CREATE OR REPLACE TEMP TABLE _scope_units AS
        SELECT node_id, job_id, true AS new FROM _run_unit_keys
        UNION ALL
        SELECT i.node_id, i.job_id, false FROM genealogy.unit_info i
        WHERE i.job_id IN (SELECT job_id FROM _scope_jobs)
          AND i.node_id NOT IN (SELECT node_id FROM _run_unit_keys)""")


#: what the fitments the index holds of the jobs' units name: the older units', and those of
#: the run's units that were fitted before their units row came (then serials that were no
#: unit, so the run's fitments alone miss them)
_INDEXED_NAMED = """
        UNION
        SELECT u.job_id, e.child FROM genealogy.edges_by_parent e
        JOIN _scope_units u ON u.node_id = e.parent
        WHERE e.parent IN (SELECT node_id FROM _scope_units)
          AND e.source = 'unit_components'
        UNION
        SELECT u.job_id, r.child FROM genealogy.removed r
        JOIN _scope_units u ON u.node_id = r.parent"""


def _derive(con: duckdb.DuckDBPyConnection, run: str, params: dict[str, object]) -> bool:
    """The edges the run adds (``_added``) and the fitments it undid (into ``removed``);
    False if an edge the index holds is gone (a job-level issue now narrowed by a fitment)."""
    con.execute("""
        CREATE OR REPLACE TEMP TABLE _fits AS
        SELECT p.node_id AS parent,
               CASE WHEN f.component_serial IS NULL THEN l.node_id ELSE c.node_id END AS child,
               CASE WHEN f.component_serial IS NOT NULL THEN l.node_id END AS member_lot,
               f.*
        FROM _run_fits f JOIN _keys p ON p.s = f.serial_number
        SEMI JOIN _scope_units u ON u.node_id = p.node_id
        LEFT JOIN _keys c ON c.s = f.component_serial
        LEFT JOIN _lot_keys l ON l.component_code = f.component_code
                              AND l.lot_number = f.lot_number""")
    # what the fitments of each job name: the run's, and the older ones the index holds
    older = con.execute("SELECT count(*) FROM _scope_units WHERE NOT new").fetchone()[0]  # type: ignore[index]
    con.execute("""
        CREATE OR REPLACE TEMP TABLE _named AS
        SELECT DISTINCT u.job_id, f.child FROM _fits f JOIN _scope_units u ON u.node_id = f.parent
        WHERE f.child IS NOT NULL""" + _INDEXED_NAMED)
    con.execute(f"""
        CREATE OR REPLACE TEMP TABLE _issues AS
        SELECT mi.job_id, mi.issued_at, mi.component_serial, k.node_id AS serial_node,
               l.node_id AS lot_node, coalesce({run}, false) AS mine
        FROM material_issues mi
        JOIN genealogy.lot_keys l ON l.component_code = mi.component_code
             AND l.lot_number = mi.lot_number
        LEFT JOIN _keys k ON k.s = mi.component_serial
        WHERE mi.job_id IN (SELECT job_id FROM _scope_jobs)""", params)
    if con.execute("SELECT count(*) FROM _issues WHERE component_serial IS NOT NULL "
                   "AND serial_node IS NULL").fetchone()[0]:  # type: ignore[index]
        # serials issued in an earlier run to a job the run touches: ask the index
        con.execute("""UPDATE _issues i SET serial_node = k.node_id FROM genealogy.serial_keys k
                       WHERE i.serial_node IS NULL AND k.serial_number = i.component_serial""")
    # a job-level edge the index holds whose part a fitment of the job now names is gone. The
    # edges are matched to their units first (one row per edge), then to the names: joined the
    # other way round, every older unit of a job met every part named in it (at 100k units a
    # 1 % run made 63M rows of that, 30 s; at 1M, quadratic in the jobs' sizes)
    con.execute("CREATE OR REPLACE TEMP TABLE _gone_lots (node_id BIGINT)")
    if older and not _drop_named_job_edges(con):
        return False
    # Each pair once with its earliest link (at equal times, fitments before issues before
    # lot membership). Job-level edges are one per job, part and unit and meet no fitment edge
    # (a fitment naming the part takes the job's issue of it away): only a lot of serialised
    # parts can meet its member edges, so only those rows are merged (as in the full build).
    con.execute(f"""
        CREATE OR REPLACE TEMP TABLE _derived AS
        WITH issues AS (
            SELECT job_id, issued_at, coalesce(serial_node, lot_node) AS child,
                   CASE WHEN component_serial IS NOT NULL THEN lot_node END AS member_lot, mine
            FROM _issues
        ), parts AS (  -- each part issued to a job and named by no fitment of it
            SELECT i.job_id, i.child, min(i.issued_at) AS issued_at, bool_or(i.mine) AS mine
            FROM issues i
            ANTI JOIN _named n ON n.job_id = i.job_id AND n.child = i.child
            GROUP BY ALL
        ), job AS (
            SELECT p.child, u.node_id AS parent, 'material_issues'::{SOURCE} AS source,
                   p.issued_at AS linked_at
            FROM parts p JOIN _scope_units u ON u.job_id = p.job_id
            -- the older units hold the links of the parts issued before this run already (a
            -- part named since has lost them above): only new units and new parts link here
            WHERE u.new OR p.mine
        ), member AS (
            SELECT member_lot AS child, child AS parent, 'lot'::{SOURCE} AS source,
                   fitted_at AS linked_at
            FROM _fits WHERE member_lot IS NOT NULL AND child IS NOT NULL
            UNION ALL
            SELECT member_lot, child, 'lot', issued_at FROM issues
            WHERE member_lot IS NOT NULL AND child IS NOT NULL
        ), mixed AS (
            SELECT child, parent, 'unit_components'::{SOURCE} AS source, fitted_at AS linked_at
            FROM _fits WHERE removed_at IS NULL AND child IS NOT NULL
            UNION ALL SELECT * FROM member
            UNION ALL SELECT * FROM job WHERE child IN (SELECT child FROM member)
        )
        SELECT child, parent,
               arg_min(source, (coalesce(linked_at, 'infinity'::TIMESTAMPTZ), source)) AS source,
               min(linked_at) AS linked_at
        FROM mixed WHERE child <> parent GROUP BY child, parent
        UNION ALL
        SELECT * FROM job
        WHERE child <> parent AND child NOT IN (SELECT child FROM member)""")
    con.execute("""
        CREATE OR REPLACE TEMP TABLE _added AS
        SELECT d.* FROM _derived d ANTI JOIN (
            SELECT e.child, e.parent FROM genealogy.edges_by_parent e
            WHERE e.parent IN (SELECT DISTINCT parent FROM _derived)) e
        ON e.child = d.child AND e.parent = d.parent""")
    con.execute("INSERT INTO genealogy.edges SELECT * FROM _added ORDER BY child, parent")
    con.execute("INSERT INTO genealogy.edges_by_parent SELECT parent, child, source, linked_at "
                "FROM _added ORDER BY parent, child")
    con.execute("""
        INSERT INTO genealogy.removed
        SELECT child, parent, component_code, component_serial, lot_number, fitted_at,
               removed_at, removed_by, removal_ncr_id, serial_number,
               coalesce(component_serial, component_code || '/' || lot_number)
        FROM _fits f
        WHERE removed_at IS NOT NULL AND child IS NOT NULL AND NOT EXISTS (
            SELECT 1 FROM genealogy.removed o
            WHERE o.child = f.child AND o.parent = f.parent AND o.fitted_at = f.fitted_at)""")
    con.execute("DROP TABLE _named; DROP TABLE _issues; DROP TABLE _derived")
    return True


def _drop_named_job_edges(con: duckdb.DuckDBPyConnection) -> bool:
    """Take away the job-level edges of the older units whose part a fitment of their job now
    names (a lot issued to the job, now fitted into one of its units: the fitments say where it
    went), and note their lots (``_gone_lots``) for :func:`_tighten_lot_spans`. False, with
    nothing changed, when such a part is a serial or a lot of serialised parts: their edges
    reach the closure or meet member edges, which only the full build redoes exactly."""
    con.execute("""
        CREATE OR REPLACE TEMP TABLE _gone_edges AS
        SELECT e.child, e.parent FROM genealogy.edges_by_parent e
        JOIN _scope_units u ON u.node_id = e.parent AND NOT u.new
        SEMI JOIN _named n ON n.job_id = u.job_id AND n.child = e.child
        WHERE e.parent IN (SELECT node_id FROM _scope_units WHERE NOT new)
          AND e.child IN (SELECT child FROM _named)
          AND e.source = 'material_issues'""")
    con.execute("CREATE OR REPLACE TEMP TABLE _gone_lots AS "
                "SELECT DISTINCT child AS node_id FROM _gone_edges")
    if not _count_rows(con, "_gone_lots"):
        con.execute("DROP TABLE _gone_edges")
        return True
    lots = con.execute("SELECT node_id FROM _gone_lots").fetchnumpy()["node_id"]
    edges_of = select_in_ranges("SELECT child, source FROM genealogy.edges", "child",
                                key_ranges(lots))
    if con.execute(f"""
            SELECT EXISTS (SELECT 1 FROM _gone_lots g
                           WHERE g.node_id NOT IN (SELECT node_id FROM genealogy.lot_keys))
                OR EXISTS (SELECT 1 FROM ({edges_of}) e
                           WHERE e.source = 'lot'
                             AND e.child IN (SELECT node_id FROM _gone_lots))""").fetchone()[0]:  # type: ignore[index]
        return False
    for table, by in (("edges", "child"), ("edges_by_parent", "parent")):
        keys = con.execute(f"SELECT DISTINCT {by} FROM _gone_edges").fetchnumpy()[by]
        for lo, hi in key_ranges(keys):  # one range at a time: each reads only its row groups
            con.execute(f"""
                DELETE FROM genealogy.{table} e USING _gone_edges g
                WHERE e.child = g.child AND e.parent = g.parent
                  AND e.source = 'material_issues'
                  AND e.{by} BETWEEN {lo} AND {hi} AND g.{by} BETWEEN {lo} AND {hi}""")
    con.execute("DROP TABLE _gone_edges")
    return True


def _tighten_lot_spans(con: duckdb.DuckDBPyConnection) -> None:
    """The holder range of each lot whose job-level edges were taken away (``_gone_lots``),
    worked out again from its edges as they now are (a span only ever widens otherwise)."""
    if not _count_rows(con, "_gone_lots"):
        con.execute("DROP TABLE _gone_lots")
        return
    lots = con.execute("SELECT node_id FROM _gone_lots").fetchnumpy()["node_id"]
    con.execute(f"""CREATE OR REPLACE TEMP TABLE _lot_holders AS
                    SELECT child AS lot, parent FROM ({select_in_ranges(
                        "SELECT child, parent FROM genealogy.edges", "child",
                        key_ranges(lots))})
                    WHERE child IN (SELECT node_id FROM _gone_lots)""")
    parents = con.execute("SELECT DISTINCT parent FROM _lot_holders").fetchnumpy()["parent"]
    inside = select_in_ranges("SELECT anc, des FROM genealogy.closure_by_anc", "anc",
                              key_ranges(parents))
    con.execute(f"""
        UPDATE genealogy.lot_keys k SET des_lo = g.lo, des_hi = g.hi
        FROM (SELECT l.node_id AS lot, min(h.des) AS lo, max(h.des) AS hi
              FROM _gone_lots l LEFT JOIN (
                  SELECT lot, parent AS des FROM _lot_holders
                  UNION ALL
                  SELECT h.lot, c.des FROM _lot_holders h JOIN ({inside}) c
                  ON c.anc = h.parent) h ON h.lot = l.node_id
              GROUP BY l.node_id) g
        WHERE k.node_id = g.lot""")
    con.execute("DROP TABLE _lot_holders; DROP TABLE _gone_lots")


def _count_rows(con: duckdb.DuckDBPyConnection, table: str) -> int:
    return int(con.execute(f"SELECT count(*) FROM {table}").fetchone()[0])  # type: ignore[index]


def _extend_closure(con: duckdb.DuckDBPyConnection) -> bool:
    """Add the closure rows the serial edges in ``_added`` create; True if they close a cycle.

    Each new edge, and every serial inside its child carried up to its parent (one lookup in
    ``closure_by_des``), then rounds upwards until no new pair comes. Pairs the closure already
    holds are kept as they are.
    """
    con.execute("""
        CREATE OR REPLACE TEMP TABLE _cpaths AS
        WITH added AS (SELECT child, parent FROM _added  -- a lot is in no closure row
                       WHERE child NOT IN (SELECT node_id FROM genealogy.lot_keys))
        SELECT child AS anc, parent AS des, 1::INTEGER AS depth, child AS via_down FROM added
        UNION ALL
        SELECT c.anc, a.parent, c.depth + 1, a.child
        FROM genealogy.closure_by_des c JOIN added a ON c.des = a.child
        WHERE c.des IN (SELECT child FROM added)""")
    con.execute(f"CREATE OR REPLACE TEMP TABLE _cdelta AS {shortest_paths('_cpaths')}")
    cycle = con.execute("SELECT count(*) FROM _cpaths WHERE anc = des").fetchone()[0]  # type: ignore[index]
    _drop_known(con, "_cdelta")
    con.execute("CREATE OR REPLACE TEMP TABLE _cnew AS SELECT * FROM _cdelta")
    for _ in range(MAX_DEPTH):
        if cycle or not con.execute("SELECT count(*) FROM _cdelta").fetchone()[0]:  # type: ignore[index]
            break
        con.execute("""
            CREATE OR REPLACE TEMP TABLE _cpaths AS
            SELECT d.anc, e.parent AS des, d.depth + 1 AS depth, e.child AS via_down
            FROM _cdelta d JOIN genealogy.edges e ON e.child = d.des
            WHERE e.child IN (SELECT des FROM _cdelta)""")
        cycle = con.execute("SELECT count(*) FROM _cpaths WHERE anc = des").fetchone()[0]  # type: ignore[index]
        con.execute(f"CREATE OR REPLACE TEMP TABLE _cdelta AS {shortest_paths('_cpaths')}")
        _drop_known(con, "_cdelta")
        con.execute("DELETE FROM _cdelta n USING _cnew c WHERE c.anc = n.anc AND c.des = n.des")
        con.execute("INSERT INTO _cnew SELECT * FROM _cdelta")
    if cycle:
        return True
    con.execute("INSERT INTO genealogy.closure_by_anc SELECT * FROM _cnew ORDER BY anc, des")
    con.execute("INSERT INTO genealogy.closure_by_des SELECT des, anc, depth FROM _cnew "
                "ORDER BY des, anc")
    con.execute("DROP TABLE IF EXISTS _cpaths; DROP TABLE IF EXISTS _cdelta")
    return False


def _grow_lot_spans(con: duckdb.DuckDBPyConnection) -> None:
    """Widen ``lot_keys.des_lo``/``des_hi`` to the holders the run gave each lot: the parents
    of its new edges and what they are in, and what the parents of its older edges were put
    into (the new closure rows, ``_cnew``)."""
    con.execute("""CREATE OR REPLACE TEMP TABLE _lot_edges AS
                   SELECT child, parent FROM _added
                   WHERE child IN (SELECT node_id FROM genealogy.lot_keys)""")
    parents = con.execute("SELECT DISTINCT parent FROM _lot_edges").fetchnumpy()["parent"]
    moved = con.execute("SELECT DISTINCT anc FROM _cnew").fetchnumpy()["anc"]
    inside = select_in_ranges("SELECT anc, des FROM genealogy.closure_by_anc", "anc",
                              key_ranges(parents))
    holders = select_in_ranges("SELECT parent, child FROM genealogy.edges_by_parent",
                               "parent", key_ranges(moved))
    con.execute(f"""
        UPDATE genealogy.lot_keys k
        SET des_lo = least(coalesce(k.des_lo, g.lo), g.lo),
            des_hi = greatest(coalesce(k.des_hi, g.hi), g.hi)
        FROM (SELECT lot, min(des) AS lo, max(des) AS hi FROM (
                  SELECT child AS lot, parent AS des FROM _lot_edges
                  UNION ALL
                  SELECT e.child, c.des FROM _lot_edges e JOIN ({inside}) c ON c.anc = e.parent
                  UNION ALL
                  SELECT e.child, n.des FROM _cnew n JOIN ({holders}) e ON e.parent = n.anc
                  WHERE e.child IN (SELECT node_id FROM genealogy.lot_keys))
              GROUP BY lot) g
        WHERE k.node_id = g.lot""")
    con.execute("DROP TABLE _lot_edges; DROP TABLE _cnew")


def _drop_known(con: duckdb.DuckDBPyConnection, table: str) -> None:
    """Delete from ``table`` the (anc, des) pairs the closure already holds."""
    con.execute(f"""
        DELETE FROM {table} t USING (
            SELECT c.anc, c.des FROM genealogy.closure_by_des c
            WHERE c.des IN (SELECT DISTINCT des FROM {table})) k
        WHERE k.anc = t.anc AND k.des = t.des""")


def _refresh_unit_info(con: duckdb.DuckDBPyConnection, shipments_changed: bool) -> None:
    """``unit_info`` for the nodes the run touched: units built or fitted, holders of parts,
    serials shipped. Existing rows are updated in place (the table stays sorted by key), new
    units and holders appended (their keys are the newest). The touched keys are old and new,
    so the lookups go by constant key ranges (zone maps), not by a join that hashes every row."""
    con.execute("""
        CREATE OR REPLACE TEMP TABLE _touched AS
        SELECT node_id FROM _scope_units WHERE new  -- older units of the jobs: as they were
        UNION SELECT child FROM _added WHERE source <> 'lot'
              AND child NOT IN (SELECT node_id FROM genealogy.lot_keys)
        UNION SELECT parent FROM _fits
        UNION SELECT k.node_id FROM _run_ships s JOIN _keys k ON k.s = s.serial_number
              WHERE k.node_id IS NOT NULL""")
    keys = con.execute("SELECT node_id FROM _touched").fetchnumpy()["node_id"]
    if not len(keys):
        con.execute("DROP TABLE _run_unit_keys")
        return
    near = key_ranges(keys)
    # the last shipment of each touched serial: the one on record, or a later one of the run
    # (all of its shipments when the run changed shipment rows)
    ships = "shipments" if shipments_changed else "_run_ships"
    con.execute(f"""
        CREATE OR REPLACE TEMP TABLE _rows AS
        WITH info AS ({select_in_ranges("SELECT * FROM genealogy.unit_info", "node_id", near)}),
        inside AS (SELECT DISTINCT anc FROM ({select_in_ranges(
            "SELECT anc FROM genealogy.closure_by_anc", "anc", near)})),
        mine AS (
            SELECT t.node_id, coalesce(r.serial_number, i.serial_number, k.s) AS serial_number,
                   coalesce(r.product_code, i.product_code) AS product_code,
                   coalesce(r.job_id, i.job_id) AS job_id, coalesce(r.status, i.status) AS status,
                   i.node_id IS NOT NULL AS known, i.customer, i.order_ref, i.shipped_at,
                   i.ship_to_country
            FROM _touched t
            LEFT JOIN _run_unit_keys r ON r.node_id = t.node_id
            LEFT JOIN info i ON i.node_id = t.node_id
            LEFT JOIN _keys k ON k.node_id = t.node_id
            WHERE r.node_id IS NOT NULL OR i.node_id IS NOT NULL
               OR t.node_id IN (SELECT parent FROM _fits)
        ), shipped AS (
            SELECT serial_number,
                   arg_max({{'customer': customer, 'order_ref': order_ref,
                             'shipped_at': shipped_at, 'ship_to_country': ship_to_country}},
                           coalesce(shipped_at, '-infinity'::TIMESTAMPTZ)) AS s
            FROM {ships} WHERE serial_number IN (SELECT serial_number FROM mine)
            GROUP BY serial_number
        )
        SELECT m.node_id, m.serial_number, m.product_code, m.job_id, m.status,
               n.anc IS NULL AS top,
               CASE WHEN s.s IS NOT NULL AND ({'true' if shipments_changed else 'false'}
                         OR m.shipped_at IS NULL
                         OR coalesce(s.s.shipped_at, '-infinity'::TIMESTAMPTZ) > m.shipped_at)
                    THEN s.s END AS later,
               m.known, m.customer, m.order_ref, m.shipped_at, m.ship_to_country
        FROM mine m LEFT JOIN shipped s ON s.serial_number = m.serial_number
        LEFT JOIN inside n ON n.anc = m.node_id""")
    for lo, hi in near:  # one range at a time, so that each update reads only its row groups
        con.execute(f"""
            UPDATE genealogy.unit_info u SET
                product_code = r.product_code, job_id = r.job_id, status = r.status,
                top = r.top,
                customer = CASE WHEN r.later IS NULL THEN r.customer ELSE r.later.customer END,
                order_ref = CASE WHEN r.later IS NULL THEN r.order_ref
                                 ELSE r.later.order_ref END,
                shipped_at = CASE WHEN r.later IS NULL THEN r.shipped_at
                                  ELSE r.later.shipped_at END,
                ship_to_country = CASE WHEN r.later IS NULL THEN r.ship_to_country
                                       ELSE r.later.ship_to_country END
            FROM _rows r
            WHERE r.known AND u.node_id = r.node_id AND u.node_id BETWEEN {lo} AND {hi}
              AND r.node_id BETWEEN {lo} AND {hi}""")
    con.execute("""
        INSERT INTO genealogy.unit_info
        SELECT node_id, serial_number, product_code, job_id, status, top,
               later.customer, later.order_ref, later.shipped_at, later.ship_to_country
        FROM _rows WHERE NOT known ORDER BY node_id""")
    con.execute("DROP TABLE _rows; DROP TABLE _run_unit_keys")


def _recheck_multi_parent(con: duckdb.DuckDBPyConnection) -> int:
    """Recheck serials under two parents where links were added; returns the edges added."""
    scope = ("(SELECT child FROM _added WHERE source = 'unit_components' "
             "AND child NOT IN (SELECT node_id FROM genealogy.lot_keys))")
    twice = con.execute(f"""
        SELECT count(*) FROM (SELECT child FROM genealogy.edges
                              WHERE source = 'unit_components' AND child IN {scope}
                              GROUP BY child HAVING count(*) > 1)""").fetchone()[0]  # type: ignore[index]
    if twice or con.execute(f"SELECT count(*) FROM genealogy.multi_parent "
                            f"WHERE node_id IN {scope}").fetchone()[0]:  # type: ignore[index]
        build_anomalies(con, scope=scope)
    return int(con.execute("SELECT count(*) FROM _added").fetchone()[0])  # type: ignore[index]
