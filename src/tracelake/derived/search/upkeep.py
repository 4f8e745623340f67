"""Keeping the search index current run by run: a run costs the entries its rows make.

The index built by :func:`~tracelake.derived.search.index.build_search_index` is the *base*:
entries sorted by key (``eid`` = rank), the fence, the typo variants sorted by hash. A run adds
or replaces a few rows; rewriting the base for them would cost the whole lake. So the upkeep
keeps, beside the base, a small *delta* (a log-structured merge):

* ``search.dead``           eids of base entries no longer current (their key was recomputed);
* ``search.entries_delta``  the current entries of every recomputed key (eids from
  ``meta.next_eid`` up, never reused until the next build);
* ``search.deletes_delta``  their typo variants.

Queries read base minus dead plus delta, merged in the base's order (``SORT_KEY``), so their
answers are those of a rebuild. Which keys a run touches: every identifier value (lower case) in
the rows it wrote (``_run_id``), in the versions it superseded (``history.*``,
``_superseded_by_run``), in the quarantine rows it wrote or closed, and the orders and customers
shipping the units it changed (their entries name the unit's job). Every entry with such a key is
recomputed from the lake's current rows, each part of the build reading only the rows with those
ids. When the delta (dead + new) outgrows :data:`MERGE_FRACTION` of the base, the index is
rebuilt (the merge). NCR, ECN and quarantine texts (``search.docs``, the full-text index and the
postings: a few thousand documents) are rebuilt whole when a run changed them: BM25's document
frequencies change with every document.
"""

from __future__ import annotations

import datetime as dt
import re
import time
from collections.abc import Sequence

import duckdb

from tracelake.derived.search.index import (
    SORT_KEY,
    SearchStats,
    build_search_index,
    deletes_sql,
    docs_sql,
    entries_sql,
    has_search_index,
    write_meta,
)
from tracelake.lake.extensions import load_fts
from tracelake.lake.paths import LakePaths

__all__ = ["MERGE_FRACTION", "rebuild_lake_search_index", "unapplied_runs", "update_search_index"]

#: The delta (dead base entries + delta entries) is merged into a new base (a rebuild) past
#: this fraction of the base: queries then scan at most ~10 % more, and a rebuild's cost is
#: spread over the runs that filled the delta.
MERGE_FRACTION = 0.10
#: Identifier columns of each table the index reads (a changed row's values name its keys).
ID_COLUMNS: dict[str, tuple[str, ...]] = {
    "units": ("serial_number",),
    "unit_components": ("component_serial", "lot_number"),
    "material_issues": ("component_serial", "lot_number", "supplier_lot"),
    "jobs": ("job_id", "customer_po"),
    "ncrs": ("ncr_id", "lot_number"),
    "ecns": ("ecn_id",),
    "job_ecns": ("ecn_id",),
    "equipment": ("equipment_id",),
    "calibrations": ("equipment_id", "certificate_no"),
    "shipments": ("order_ref", "customer"),
}
#: Columns of a quarantined row's raw JSON that the index reads identifiers from.
QUARANTINE_COLUMNS = ("serial_number", "component_serial", "lot_number", "job_id", "ncr_id",
                      "ecn_id", "equipment_id", "certificate_no", "order_ref", "supplier_lot")
#: Tables whose rows the full-text documents are made from.
DOC_TABLES = frozenset({"ncrs", "ecns", "job_ecns"})
_RUN_ID = re.compile(r"^(\d{8}T\d{6}Z)-")


def _since(runs: Sequence[str]) -> dt.datetime | None:
    """The earliest start of the runs (from their ids): their rows were all written after it."""
    starts = []
    for run in runs:
        found = _RUN_ID.match(run)
        if not found:
            return None
        starts.append(dt.datetime.strptime(found.group(1), "%Y%m%dT%H%M%SZ")
                      .replace(tzinfo=dt.UTC))
    return min(starts) if starts else None


def unapplied_runs(con: duckdb.DuckDBPyConnection) -> list[str]:
    """Committed runs the index has not applied yet (ingested with the search upkeep off)."""
    return [r[0] for r in con.execute(
        "SELECT run_id FROM ingest_runs WHERE status = 'committed' "
        "AND run_id NOT IN (SELECT run_id FROM search.runs) ORDER BY run_id").fetchall()]


def _run(con: duckdb.DuckDBPyConnection, sql: str, params: dict[str, object]
         ) -> duckdb.DuckDBPyConnection:
    """Execute with the named parameters the statement uses (DuckDB refuses others)."""
    return con.execute(sql, {k: v for k, v in params.items() if f"${k}" in sql})


def _touched_keys(con: duckdb.DuckDBPyConnection, runs: Sequence[str]) -> bool:
    """Make ``_touched(k)``: the keys whose entries the runs may have changed; whether the
    runs changed the full-text documents."""
    since = _since(runs)
    params: dict[str, object] = {"runs": list(runs)}
    loaded = "_run_id IN (SELECT unnest($runs::VARCHAR[]))"
    gone = "_superseded_by_run IN (SELECT unnest($runs::VARCHAR[]))"
    if since is not None:  # rows are appended: zone maps skip every older row group
        params["since"] = since
        loaded = f"_loaded_at >= $since AND {loaded}"
        gone = f"_superseded_at >= $since AND {gone}"
    parts, docs_changed = [], False
    con.execute("CREATE OR REPLACE TEMP TABLE _run_serials (serial_number VARCHAR)")
    sources = [(table, source, where) for table in ID_COLUMNS
               for source, where in ((table, loaded), (f"history.{table}", gone))]
    # which tables the runs wrote or superseded rows of, in one statement (not one per table:
    # each is a catalog round trip on DuckLake)
    counts = _run(con, " UNION ALL ".join(
        f"SELECT {i} AS i, EXISTS (SELECT 1 FROM {source} WHERE {where}) AS changed"
        for i, (_, source, where) in enumerate(sources)), params).fetchall()
    wrote = {i for i, changed in counts if changed}
    for i, (table, source, where) in enumerate(sources):
        cols = ID_COLUMNS[table]
        values = f"unnest([{', '.join(cols)}])" if len(cols) > 1 else cols[0]
        if i in wrote:
            docs_changed |= table in DOC_TABLES
            parts.append(f"SELECT {values} AS v FROM {source} WHERE {where}")
            if table == "units":
                _run(con, f"INSERT INTO _run_serials SELECT serial_number FROM {source} "
                          f"WHERE {where}", params)
    quarantined = ("run_id IN (SELECT unnest($runs::VARCHAR[])) "
                   "OR superseded_by_run IN (SELECT unnest($runs::VARCHAR[]))")
    if _run(con, f"SELECT count(*) FROM quarantine WHERE {quarantined}", params
            ).fetchone()[0]:  # type: ignore[index]
        docs_changed = True
        paths = ", ".join(f"'$.{c}'" for c in QUARANTINE_COLUMNS)
        parts.append(f"SELECT unnest(json_extract_string(raw, [{paths}])) AS v "
                     f"FROM quarantine WHERE raw IS NOT NULL AND ({quarantined})")
    if con.execute("SELECT count(*) FROM _run_serials").fetchone()[0]:  # type: ignore[index]
        # an order's and a customer's entries name the job of each unit shipped
        parts.append("SELECT unnest([s.order_ref, s.customer]) AS v FROM shipments s "
                     "WHERE s.serial_number IN (SELECT serial_number FROM _run_serials)")
    union = " UNION ALL ".join(parts) or "SELECT NULL::VARCHAR AS v"
    _run(con, f"""CREATE OR REPLACE TEMP TABLE _touched AS
                  SELECT DISTINCT lower(v) AS k FROM ({union}) WHERE v IS NOT NULL AND v <> ''""",
         params)
    con.execute("DROP TABLE IF EXISTS _run_serials")
    return docs_changed


def _count(con: duckdb.DuckDBPyConnection, sql: str) -> int:
    return int(con.execute(sql).fetchone()[0])  # type: ignore[index]


def update_search_index(con: duckdb.DuckDBPyConnection, runs: Sequence[str],
                        run_id: str | None = None) -> SearchStats:
    """Apply to the index what ``runs`` changed (inside the caller's transaction, after their
    rows were written); rebuilds instead when the index is missing, of another version, or the
    delta would outgrow :data:`MERGE_FRACTION` of the base. ``run_id``: the run recorded as the
    one the index was last brought up to date by."""
    if not has_search_index(con):
        return build_search_index(con, run_id)
    start = time.perf_counter()
    steps: dict[str, float] = {}
    clock = [time.perf_counter()]

    def lap(name: str) -> None:
        now = time.perf_counter()
        steps[name] = round(now - clock[0], 3)
        clock[0] = now

    base, next_eid = con.execute("SELECT base_entries, next_eid FROM search.meta").fetchone()  # type: ignore[misc]
    docs_changed = _touched_keys(con, runs)
    touched = _count(con, "SELECT count(*) FROM _touched")
    lap("touched")
    if touched > MERGE_FRACTION * base:  # a big run: cheaper to rebuild than to patch
        con.execute("DROP TABLE IF EXISTS _touched")
        stats = build_search_index(con, run_id)
        stats.mode = "full"
        return stats
    # base entries of the touched keys are no longer current
    con.execute("""
        INSERT INTO search.dead
        SELECT eid FROM search.entries
        WHERE lower(id) IN (SELECT k FROM _touched)
          AND eid NOT IN (SELECT eid FROM search.dead)""")
    lap("dead")
    # nor are delta entries of those keys: dropped with their variants
    con.execute("""CREATE OR REPLACE TEMP TABLE _gone AS SELECT eid FROM search.entries_delta
                   WHERE lower(id) IN (SELECT k FROM _touched)""")
    if _count(con, "SELECT count(*) FROM _gone"):
        con.execute("DELETE FROM search.entries_delta WHERE eid IN (SELECT eid FROM _gone)")
        con.execute("DELETE FROM search.deletes_delta WHERE (v >> 32)::UINTEGER IN "
                    "(SELECT eid FROM _gone)")
    for statement in entries_sql("_touched"):
        con.execute(statement)
    lap("entries")
    con.execute(f"""
        CREATE OR REPLACE TEMP TABLE _new AS
        SELECT ({int(next_eid)} + row_number() OVER () - 1)::UINTEGER AS eid, *
        FROM (SELECT kind, id, component, record, context, page, params
              FROM _entries ORDER BY {SORT_KEY})""")
    added = _count(con, "SELECT count(*) FROM _new")
    con.execute("INSERT INTO search.entries_delta SELECT * FROM _new")
    con.execute(f"INSERT INTO search.deletes_delta {deletes_sql('_new')}")
    lap("delta")
    for temp in ("_touched", "_gone", "_entries", "_new"):
        con.execute(f"DROP TABLE IF EXISTS {temp}")
    dead = _count(con, "SELECT count(*) FROM search.dead")
    delta = _count(con, "SELECT count(*) FROM search.entries_delta")
    if dead + delta > MERGE_FRACTION * base:  # the merge: a new base
        stats = build_search_index(con, run_id)
        stats.mode = "merge"
        stats.steps = {**steps, **{f"merge_{k}": v for k, v in stats.steps.items()}}
        stats.seconds = time.perf_counter() - start
        return stats
    if docs_changed:  # (once a transaction: DuckDB refuses a second drop of the FTS tables)
        load_fts(con)
        for statement in docs_sql():
            con.execute(statement)
        lap("full_text")
    con.execute("INSERT INTO search.runs SELECT DISTINCT r FROM unnest(?::VARCHAR[]) t(r) "
                "WHERE r NOT IN (SELECT run_id FROM search.runs)",
                [[*runs, *([run_id] if run_id else [])]])
    docs = _count(con, "SELECT count(*) FROM search.docs")
    seconds = time.perf_counter() - start
    write_meta(con, run_id=run_id, entries=base - dead + delta, docs=docs, seconds=seconds,
               base=base, next_eid=int(next_eid) + added)
    return SearchStats(entries=base - dead + delta, docs=docs, seconds=seconds,
                       mode="incremental", steps={**steps, "keys": touched, "added": added})


def rebuild_lake_search_index(lake: LakePaths, *, full: bool = True) -> SearchStats:
    """Rebuild the search index of a lake in one transaction (for orchestrators).

    With ``full=False`` the index is rebuilt only if it is missing, brought up to date with the
    runs it lacks (``upkeep.py``) if older than the lake's latest ingest run, and otherwise the
    stats of the index as it stands are returned.
    """
    from tracelake.lake.storage import connect_writer

    with connect_writer(lake) as con:
        latest = con.execute("SELECT max(run_id) FROM ingest_runs").fetchone()[0]  # type: ignore[index]
        if not full and has_search_index(con):
            entries, docs, built_by = con.execute(
                "SELECT entries, docs, run_id FROM search.meta").fetchone()  # type: ignore[misc]
            if built_by is not None and (latest is None or built_by >= latest):
                return SearchStats(entries=entries, docs=docs, seconds=0.0, mode="current")
        con.execute("BEGIN TRANSACTION")
        try:
            if full or not has_search_index(con):
                stats = build_search_index(con, latest)
            else:  # the runs since: what they changed only
                stats = update_search_index(con, unapplied_runs(con), latest)
        except BaseException:
            con.execute("ROLLBACK")
            raise
        con.execute("COMMIT")
    return stats
