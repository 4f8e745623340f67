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

import contextlib
import time
from collections.abc import Iterator
from contextlib import contextmanager

import duckdb

from tracelake.derived.genealogy.anomalies import build_anomalies
from tracelake.derived.genealogy.closure import _build_closure, _distinct_sorted, _store_lot_spans
from tracelake.derived.genealogy.edges import _derive_edges, _fitted_twice, _store_edges
from tracelake.derived.genealogy.layout import (
    EDGE_TABLES,
    GENEALOGY_TABLES,
    INDEX_VERSION,
    IndexStats,
    _count,
    has_index,
)
from tracelake.derived.genealogy.nodes import _build_nodes
from tracelake.derived.genealogy.unit_info import _build_unit_info
from tracelake.derived.genealogy.upkeep import extend_index
from tracelake.lake.paths import LakePaths

__all__ = ["GENEALOGY_TABLES", "IndexStats", "build_index", "has_index", "rebuild_lake_index",
           "update_index"]


@contextmanager
def _one_thread(con: duckdb.DuckDBPyConnection) -> Iterator[None]:
    """DuckDB on one thread while the index is built: its joins of every fitment and issue to
    the node keys hold a hash table per thread each, and with two threads a 1M-unit plant's
    build ran out of the writer's 512 MB memory limit (a 100k plant's out of 64 MB; with one
    thread both fit, and on two cores the build takes no longer)."""
    threads, locked = con.execute("SELECT current_setting('threads'), "
                                  "current_setting('lock_configuration')").fetchone()  # type: ignore[misc]
    if locked:  # a connection whose settings are fixed builds with what it has
        yield
        return
    con.execute("SET threads = 1")
    try:
        yield
    except BaseException:  # the transaction is aborted: the caller rolls back, the error stands
        with contextlib.suppress(duckdb.Error):
            con.execute(f"SET threads = {int(threads)}")
        raise
    con.execute(f"SET threads = {int(threads)}")


def build_index(con: duckdb.DuckDBPyConnection) -> IndexStats:
    """Rebuild every genealogy table from the lake's current rows (inside the caller's transaction)."""
    with _one_thread(con):
        return _build_index(con)


def _build_index(con: duckdb.DuckDBPyConnection) -> IndexStats:
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
    with _one_thread(con):
        added = extend_index(con, run_id, updated)
    if added is None:  # a link is gone or a cycle closed: only a full build is exact
        return build_index(con)
    count = _count(con)
    return IndexStats(nodes=count("genealogy.lot_keys") + count("genealogy.serial_keys"),
                      edges=added, closure_rows=count("genealogy.closure_by_anc"), cycles=0,
                      multi_parent=count("genealogy.multi_parent"),
                      seconds=time.perf_counter() - start, mode="incremental")
