"""The genealogy index: lots and serials interned to integer keys, containment edges, and
the transitive closure among serials, kept in the lake (schema ``genealogy``) so every query is
a few lookups.

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

Jobs are not nodes: a job-level issue becomes an edge from the lot to each unit of the job.
Every edge's parent is a serial, so a lot is never inside anything: the closure is stored for
serials only (``closure_by_anc`` sorted by the contained serial, ``closure_by_des`` sorted by
the container), and a lot's holders are its edges (``edges``, sorted by child) followed by the
closure rows of their parents. That keeps the closure about the size of the serial forest
(1-2 rows per serial) instead of ~2 rows per edge, and a trace is still a few indexed lookups.
``via_down`` is the node below the container on a shortest path (among paths of equal length,
the one through the lowest key), so paths come out of the same rows. Keys are BIGINTs assigned
lots first, then serials in (job, serial) order, so the holders of one lot sit close together
and DuckDB's zone maps prune well (perf-notes §1: text serials with a common prefix defeat them).
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import duckdb
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from tracelake.lake.storage import LakePaths

__all__ = ["GENEALOGY_TABLES", "IndexStats", "build_index", "has_index", "rebuild_lake_index",
           "update_index"]

#: tables whose changed rows (not just new ones) force a full rebuild: edges may disappear
EDGE_TABLES = frozenset({"units", "unit_components", "material_issues"})

#: Bump when the index tables change shape: an index of another version is rebuilt, not extended.
INDEX_VERSION = 3
GENEALOGY_TABLES = ("units", "unit_components", "material_issues", "shipments", "jobs")
MAX_DEPTH = 64
#: where an edge comes from, stored in one byte
SOURCE_NAMES = ("unit_components", "material_issues", "lot")
SOURCE = "ENUM(" + ", ".join(f"'{name}'" for name in SOURCE_NAMES) + ")"


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
    _derive_edges(con)
    serial_edges, lot_edges = _store_edges(con)
    cycles, closure = _build_closure(con, *serial_edges[:2])
    _store_lot_spans(con, lot_edges, *closure)
    del lot_edges
    _build_unit_info(con, _distinct_sorted(closure[0]))
    del closure
    multi = build_anomalies(con, candidates=_fitted_twice(*serial_edges))
    del serial_edges
    for temp in ("_removed_all", "_unit_nodes", "_holders", "_non_units", "_jobs"):
        con.execute(f"DROP TABLE IF EXISTS {temp}")
    con.execute("CREATE OR REPLACE TABLE genealogy.meta AS SELECT ?::INTEGER AS version, "
                "now() AS built_at", [INDEX_VERSION])
    count = _count(con)
    return IndexStats(nodes=count("genealogy.nodes"), edges=count("genealogy.edges"),
                      closure_rows=count("genealogy.closure_by_anc"), cycles=cycles,
                      multi_parent=multi, seconds=time.perf_counter() - start)


def rebuild_lake_index(lake: LakePaths, *, full: bool = True) -> IndexStats:
    """Rebuild the genealogy index of a lake in one transaction (for orchestrators).

    With ``full=False`` the index is only built if the lake has none (ingest keeps an existing
    one current run by run), and the stats of the index as it stands are returned.
    """
    from tracelake.lake.storage import connect_writer

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


# ------------------------------------------------------------------------------------------
# nodes


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


# ------------------------------------------------------------------------------------------
# edges


def _derive_edges(con: duckdb.DuckDBPyConnection) -> None:
    """Fitment and member edges into ``_other`` (a fitment edge once per fitment row:
    ``_store_edges`` keeps the earliest of each pair while it sorts them), each part issued to
    a job into ``_job_parts``, removed fitments into ``_removed_all``, the holders of fitments
    that are no unit into ``_holders``. Each name is joined to its key once, here; the rest is
    on keys.
    """
    con.execute("""
        CREATE OR REPLACE TEMP TABLE _fitments AS
        SELECT p.node_id AS parent,
               CASE WHEN uc.component_serial IS NULL THEN cl.node_id ELSE cs.node_id END
                   AS child,
               CASE WHEN uc.component_serial IS NOT NULL THEN cl.node_id END AS member_lot,
               uc.fitted_at, uc.removed_at,
               CASE WHEN uc.removed_at IS NOT NULL THEN uc.serial_number END AS serial_number,
               CASE WHEN uc.removed_at IS NOT NULL THEN uc.component_code END AS component_code,
               CASE WHEN uc.removed_at IS NOT NULL THEN uc.component_serial END
                   AS component_serial,
               CASE WHEN uc.removed_at IS NOT NULL THEN uc.lot_number END AS lot_number,
               CASE WHEN uc.removed_at IS NOT NULL THEN uc.removed_by END AS removed_by,
               CASE WHEN uc.removed_at IS NOT NULL THEN uc.removal_ncr_id END AS removal_ncr_id
        FROM unit_components uc
        JOIN genealogy.serial_keys p ON p.serial_number = uc.serial_number
        LEFT JOIN genealogy.serial_keys cs ON cs.serial_number = uc.component_serial
        LEFT JOIN genealogy.lot_keys cl
             ON cl.component_code = uc.component_code AND cl.lot_number = uc.lot_number
    """)
    con.execute("""
        CREATE OR REPLACE TEMP TABLE _issues AS
        SELECT j.job_key, mi.issued_at, coalesce(cs.node_id, cl.node_id) AS child,
               CASE WHEN mi.component_serial IS NOT NULL THEN cl.node_id END AS member_lot
        FROM material_issues mi
        JOIN genealogy.lot_keys cl ON cl.component_code = mi.component_code
             AND cl.lot_number = mi.lot_number
        LEFT JOIN genealogy.serial_keys cs ON cs.serial_number = mi.component_serial
        LEFT JOIN _jobs j ON j.job_id = mi.job_id
    """)
    # a part issued to a job reaches every unit of the job, from its earliest issue, unless a
    # fitment of a unit of the job names it (then the fitments say where it went)
    con.execute("""
        CREATE OR REPLACE TEMP TABLE _job_parts AS
        WITH named AS (
            SELECT DISTINCT n.job_key, f.child FROM _fitments f
            JOIN _unit_nodes n ON n.node_id = f.parent
            WHERE f.child IN (SELECT child FROM _issues)
        )
        SELECT i.job_key, i.child, min(i.issued_at) AS issued_at
        FROM _issues i ANTI JOIN named r ON r.job_key = i.job_key AND r.child = i.child
        WHERE i.child IS NOT NULL AND i.job_key IS NOT NULL
        GROUP BY i.job_key, i.child
    """)
    # Edges by kind, each pair once with its earliest link. Job-level edges are unique by
    # construction (one row per job and part; a unit is in one job) and never meet a fitment
    # edge (a fitment naming the part takes the job's issue of it away); only a lot of a
    # serialised part can meet its own member edges, so only such lots are merged across kinds
    # (in ``_other``); the job-level edges of every other part are made from ``_job_parts``.
    members = con.execute("""
        CREATE OR REPLACE TEMP TABLE _member AS
        SELECT lot AS child, part AS parent, min(first_at) AS linked_at FROM (
            SELECT member_lot AS lot, child AS part, fitted_at AS first_at FROM _fitments
            WHERE member_lot IS NOT NULL AND child IS NOT NULL
            UNION ALL
            SELECT member_lot, child, issued_at FROM _issues
            WHERE member_lot IS NOT NULL AND child IS NOT NULL)
        WHERE lot <> part GROUP BY lot, part""").fetchone()[0]  # type: ignore[index]
    con.execute(f"""
        CREATE OR REPLACE TEMP TABLE _other AS
        SELECT child, parent, 'unit_components'::{SOURCE} AS source,
               {"min(fitted_at)" if members else "fitted_at"} AS linked_at
        FROM _fitments WHERE removed_at IS NULL AND child IS NOT NULL AND child <> parent
        {"GROUP BY child, parent" if members else ""}
    """)
    if members:  # a member edge that meets another edge: the earliest link wins
        con.execute("""
            INSERT INTO _other
            SELECT p.child, n.node_id, 'material_issues', p.issued_at
            FROM _job_parts p JOIN _unit_nodes n ON n.job_key = p.job_key
            WHERE p.child <> n.node_id AND p.child IN (SELECT child FROM _member)""")
        con.execute("DELETE FROM _job_parts WHERE child IN (SELECT child FROM _member)")
        con.execute("""
            CREATE OR REPLACE TEMP TABLE _clash AS
            SELECT e.child, e.parent, e.source, e.linked_at FROM _other e
            JOIN _member m ON m.child = e.child AND m.parent = e.parent""")
        con.execute("""
            DELETE FROM _member m USING _clash c
            WHERE c.child = m.child AND c.parent = m.parent
              AND coalesce(c.linked_at <= m.linked_at, c.linked_at IS NOT NULL
                           OR m.linked_at IS NULL)""")
        con.execute("""
            DELETE FROM _other e USING _member m
            WHERE m.child = e.child AND m.parent = e.parent""")
        con.execute("INSERT INTO _other SELECT child, parent, 'lot', linked_at FROM _member")
        con.execute("DROP TABLE _clash")
    con.execute("""
        CREATE OR REPLACE TEMP TABLE _removed_all AS
        SELECT child, parent, component_code, component_serial, lot_number, fitted_at,
               removed_at, removed_by, removal_ncr_id, serial_number AS parent_serial,
               coalesce(component_serial, component_code || '/' || lot_number) AS child_label
        FROM _fitments WHERE removed_at IS NOT NULL AND child IS NOT NULL
    """)
    # holders that are no unit (units are holders anyway): usually none
    con.execute("""
        CREATE OR REPLACE TEMP TABLE _holders AS
        SELECT DISTINCT parent AS node_id FROM _fitments
        WHERE parent IN (SELECT node_id FROM _non_units)""")
    for temp in ("_fitments", "_issues", "_member"):
        con.execute(f"DROP TABLE {temp}")


def _store_edges(con: duckdb.DuckDBPyConnection
                 ) -> tuple[tuple[np.ndarray, np.ndarray, np.ndarray],
                            list[tuple[np.ndarray, np.ndarray]]]:
    """Containment edges (current) sorted by child (``edges``) and by parent
    (``edges_by_parent``), and the removed fitments kept as history; returns the edges whose
    child is a serial (child, parent, source code), sorted by (child, parent), for the closure,
    and the edges out of lots (runs of (child, parent) sorted by child) for their spans.

    The job-level edges (most of them: each part issued to a job times the units of the job)
    are laid out in numpy already in order: units are numbered job by job, so the units of a
    job are one run of keys, and expanding the parts in (child, job) order gives the edges in
    (child, parent) order, expanding the units in key order gives them in (parent, child)
    order. The fitment edges, sorted by DuckDB, follow as a second sorted run, and the tables
    are written from Arrow in that order: no sort of 30M rows.
    """
    units = con.execute("SELECT job_key, node_id FROM _unit_nodes WHERE job_key IS NOT NULL"
                        ).fetchnumpy()
    parts = con.execute("SELECT job_key, child, epoch_us(issued_at) AS linked FROM _job_parts"
                        ).fetchnumpy()
    n_jobs = int(con.execute("SELECT count(*) FROM _jobs").fetchone()[0])  # type: ignore[index]
    lots = con.execute("SELECT count(*), coalesce(max(node_id), 0) FROM genealogy.lot_keys"
                       ).fetchone()
    jobs = _JobEdges(np.asarray(units["job_key"]), np.asarray(units["node_id"]),
                     np.asarray(parts["job_key"]), np.asarray(parts["child"]),
                     _column(parts["linked"]), n_jobs)
    del units, parts
    code = "(CASE source WHEN 'unit_components' THEN 0 WHEN 'material_issues' THEN 1 ELSE 2 END)"
    serial_runs, lot_runs = [], []
    for table, by in (("edges", "child"), ("edges_by_parent", "parent")):
        then = "parent" if by == "child" else "child"
        other = con.execute(f"""SELECT child, parent, {code}::TINYINT AS source,
                                       epoch_us(linked_at) AS linked
                                FROM _other ORDER BY {by}, {then}, linked_at""").fetchnumpy()
        if len(other["child"]) > 1:  # a pair fitted twice: its earliest fitment
            first = np.ones(len(other["child"]), bool)
            first[1:] = (other["child"][1:] != other["child"][:-1]) | \
                (other["parent"][1:] != other["parent"][:-1])
            other = {k: v[first] for k, v in other.items()}
        job = jobs.by_child() if by == "child" else jobs.by_parent()
        key = job[0].dtype
        runs = [(job[0], job[1], np.full(len(job[0]), 1, np.int8), *job[2]),
                (np.asarray(other["child"]).astype(key), np.asarray(other["parent"]).astype(key),
                 np.asarray(other["source"]), *_column(other["linked"]))]
        del job, other
        if by == "child":  # the closure needs the edges out of serials: lots have keys 1..n
            for child, parent, source, _t, _v in runs:
                cut = np.searchsorted(child, lots[1] + 1) if lots[0] == lots[1] else None
                pick = slice(cut, None) if cut is not None else ~np.isin(
                    child, con.execute("SELECT node_id FROM genealogy.lot_keys")
                    .fetchnumpy()["node_id"])
                serial_runs.append((child[pick], parent[pick], source[pick]))
                lot = slice(None, cut) if cut is not None else ~pick
                lot_runs.append((child[lot], parent[lot]))
        # each run is sorted on the table's key, and written as it is: the zone maps of each
        # run prune as well as a merged table's would, and the merge is not paid for
        arrow = pa.concat_tables([pa.table({
            "child": child, "parent": parent,
            "source": pa.DictionaryArray.from_arrays(source, list(SOURCE_NAMES)),
            "linked_at": pa.array(times, pa.timestamp("us", tz="UTC"),
                                  mask=None if valid.all() else ~valid)})
            for child, parent, source, times, valid in runs])
        del runs
        cols = "child, parent" if by == "child" else "parent, child"
        con.register("_edges_arrow", arrow)
        try:
            con.execute(f"""CREATE OR REPLACE TABLE genealogy.{table} AS
                            SELECT {", ".join(f"{c.strip()}::BIGINT AS {c.strip()}"
                                              for c in cols.split(","))},
                                   source::{SOURCE} AS source, linked_at
                            FROM _edges_arrow""")
        finally:
            con.unregister("_edges_arrow")
        del arrow
    child, parent, source = (np.concatenate(c) for c in zip(*serial_runs, strict=True))
    child, parent = child.astype(np.int64), parent.astype(np.int64)
    width = int(max(child.max(initial=0), parent.max(initial=0))) + 1
    order = np.argsort(child * width + parent, kind="stable")  # two sorted runs: a merge
    serial_edges = (child[order], parent[order], source[order])
    con.execute("""CREATE OR REPLACE TABLE genealogy.removed AS
                   SELECT * FROM _removed_all ORDER BY child""")
    con.execute("DROP TABLE _other; DROP TABLE _job_parts")
    return serial_edges, lot_runs


def _key_type(*keys: np.ndarray) -> type:
    """int32 if every key fits in it, else int64."""
    return np.int32 if all(k.max(initial=0) < 2**31 - 1 for k in keys) else np.int64


def _column(values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(values, valid) of a fetched column that may hold nulls."""
    return np.ma.getdata(values).astype(np.int64), ~np.ma.getmaskarray(values)


class _JobEdges:
    """The job-level edges: each part issued to a job (``_job_parts``) into each unit of it."""

    def __init__(self, unit_job: np.ndarray, unit_node: np.ndarray, part_job: np.ndarray,
                 part_child: np.ndarray, part_linked: tuple[np.ndarray, np.ndarray],
                 n_jobs: int) -> None:
        by_node = np.argsort(unit_node, kind="stable")  # (nearly) sorted already: cheap
        key = _key_type(unit_node, part_child)  # 4-byte keys halve what is copied around
        self.unit_job, self.unit_node = unit_job[by_node], unit_node[by_node].astype(key)
        self.part_job, self.part_child = part_job, part_child.astype(key)
        self.part_linked = part_linked
        self.n_jobs = n_jobs

    @staticmethod
    def _runs(first: np.ndarray, count: np.ndarray) -> np.ndarray:
        """Indices first[i] .. first[i] + count[i] - 1, run after run."""
        start = np.cumsum(count) - count
        return np.repeat(first - start, count) + np.arange(int(count.sum()))

    @staticmethod
    def _drop_loops(child: np.ndarray, parent: np.ndarray, linked: tuple[np.ndarray, np.ndarray]
                    ) -> tuple[np.ndarray, np.ndarray, tuple[np.ndarray, np.ndarray]]:
        """Without a serial issued to its own job (it cannot be inside itself)."""
        loop = child == parent
        if not loop.any():
            return child, parent, linked
        keep = ~loop
        return child[keep], parent[keep], (linked[0][keep], linked[1][keep])

    def by_child(self) -> tuple[np.ndarray, np.ndarray, tuple[np.ndarray, np.ndarray]]:
        """(child, parent, (linked, valid)) sorted by child, then parent (as far as the units of
        each job are one run of keys; the caller's merge sorts the rest)."""
        order = np.argsort(self.unit_job, kind="stable")  # by job, in key order within it
        node = self.unit_node[order]
        count = np.bincount(self.unit_job, minlength=self.n_jobs)
        first = np.cumsum(count) - count
        parts = np.lexsort((self.part_job, self.part_child))
        job = self.part_job[parts]
        n = count[job]
        parent = node[self._runs(first[job], n)]
        child = np.repeat(self.part_child[parts], n)
        linked = (np.repeat(self.part_linked[0][parts], n),
                  np.repeat(self.part_linked[1][parts], n))
        return self._drop_loops(child, parent, linked)

    def by_parent(self) -> tuple[np.ndarray, np.ndarray, tuple[np.ndarray, np.ndarray]]:
        """(child, parent, (linked, valid)) sorted by parent, then child."""
        parts = np.lexsort((self.part_child, self.part_job))
        count = np.bincount(self.part_job, minlength=self.n_jobs)
        first = np.cumsum(count) - count
        n = count[self.unit_job]
        at = self._runs(first[self.unit_job], n)
        child = self.part_child[parts][at]
        linked = (self.part_linked[0][parts][at], self.part_linked[1][parts][at])
        parent = np.repeat(self.unit_node, n)
        return self._drop_loops(child, parent, linked)


# ------------------------------------------------------------------------------------------
# closure


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


def _fitted_twice(child: np.ndarray, parent: np.ndarray, source: np.ndarray) -> np.ndarray:
    """Serials with fitment edges into two units (edges sorted by child, one per pair)."""
    fitted = child[source == SOURCE_NAMES.index("unit_components")]
    return np.unique(fitted[1:][fitted[1:] == fitted[:-1]])


# ------------------------------------------------------------------------------------------
# unit info and anomalies


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


# ------------------------------------------------------------------------------------------
# upkeep


def update_index(con: duckdb.DuckDBPyConnection, run_id: str,
                 updated: set[str] | frozenset[str] = frozenset()) -> IndexStats:
    """Bring the index up to date after run ``run_id``: incrementally when the run only added
    rows (new units, fitments, issues, reworks recorded with them: the usual day in a plant),
    by a full rebuild when it changed rows the links were built from (a changed re-export, a
    removal recorded on an existing fitment) or there is no index yet.

    ``updated`` names the tables in which the run replaced existing rows.
    """
    from tracelake.derived.genealogy.upkeep import extend_index

    start = time.perf_counter()
    if not has_index(con) or set(updated) & EDGE_TABLES:
        return build_index(con)
    added = extend_index(con, run_id, updated)
    if added is None:  # a link is gone or a cycle closed: only a full build is exact
        return build_index(con)
    count = _count(con)
    return IndexStats(nodes=count("genealogy.lot_keys") + count("genealogy.serial_keys"),
                      edges=added, closure_rows=count("genealogy.closure_by_anc"), cycles=0,
                      multi_parent=count("genealogy.multi_parent"),
                      seconds=time.perf_counter() - start, mode="incremental")
