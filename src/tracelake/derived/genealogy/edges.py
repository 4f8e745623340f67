"""Edges of the genealogy index: fitments, job-level issues and lot membership derived from the
lake, and stored sorted by child (edges) and by parent (edges_by_parent), plus removed fitments."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import duckdb
import numpy as np
import pyarrow as pa

from tracelake.derived.genealogy.layout import SOURCE, SOURCE_NAMES


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
    serial_runs: list[tuple[np.ndarray, np.ndarray, np.ndarray]] = []
    lot_runs: list[tuple[np.ndarray, np.ndarray]] = []
    lot_ids = None if lots[0] == lots[1] else con.execute(
        "SELECT node_id FROM genealogy.lot_keys").fetchnumpy()["node_id"]
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
        key = jobs.key
        fitted = (np.asarray(other["child"]).astype(key), np.asarray(other["parent"]).astype(key),
                  np.asarray(other["source"]), *_column(other["linked"]))
        del other

        def runs(by: str = by, fitted: tuple = fitted  # type: ignore[type-arg]
                 ) -> Iterator[tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]]:
            """The job-level edges batch by batch, then the fitment and member edges."""
            for child, parent, (times, valid) in (jobs.by_child() if by == "child"
                                                  else jobs.by_parent()):
                yield child, parent, np.full(len(child), 1, np.int8), times, valid
            yield fitted

        def batches(by: str = by, runs: Callable = runs  # type: ignore[type-arg]
                    ) -> Iterator[pa.RecordBatch]:
            for child, parent, source, times, valid in runs():
                if by == "child":  # the closure needs the edges out of serials, the lot
                    # spans those out of lots (lots have keys 1..n)
                    cut = np.searchsorted(child, lots[1] + 1) if lot_ids is None else None
                    pick = slice(cut, None) if cut is not None else ~np.isin(child, lot_ids)
                    serial_runs.append((child[pick], parent[pick], source[pick]))
                    lot = slice(None, cut) if cut is not None else ~pick
                    lot_runs.append((child[lot], parent[lot]))
                yield pa.record_batch({
                    "child": child, "parent": parent,
                    "source": pa.DictionaryArray.from_arrays(source, list(SOURCE_NAMES)),
                    "linked_at": pa.array(times, pa.timestamp("us", tz="UTC"),
                                          mask=None if valid.all() else ~valid)})

        # each run is sorted on the table's key, and written as it is: the zone maps of each
        # run prune as well as a merged table's would, and the merge is not paid for; the
        # job-level edges stream to DuckDB a batch at a time, never laid out whole in numpy
        stream = pa.RecordBatchReader.from_batches(_edge_schema(key), batches())
        cols = "child, parent" if by == "child" else "parent, child"
        con.register("_edges_arrow", stream)
        try:
            con.execute(f"""CREATE OR REPLACE TABLE genealogy.{table} AS
                            SELECT {", ".join(f"{c.strip()}::BIGINT AS {c.strip()}"
                                              for c in cols.split(","))},
                                   source::{SOURCE} AS source, linked_at
                            FROM _edges_arrow""")
        finally:
            con.unregister("_edges_arrow")
        del stream, fitted
    child, parent, source = (np.concatenate(c) for c in zip(*serial_runs, strict=True))
    child, parent = child.astype(np.int64), parent.astype(np.int64)
    width = int(max(child.max(initial=0), parent.max(initial=0))) + 1
    order = np.argsort(child * width + parent, kind="stable")  # two sorted runs: a merge
    serial_edges = (child[order], parent[order], source[order])
    con.execute("""CREATE OR REPLACE TABLE genealogy.removed AS
                   SELECT * FROM _removed_all ORDER BY child""")
    con.execute("DROP TABLE _other; DROP TABLE _job_parts")
    return serial_edges, lot_runs


#: job-level edges laid out in numpy and handed to DuckDB at a time (~13 bytes each): the
#: 1M-unit plant has ~30M, which laid out whole took GBs beside DuckDB's memory limit
EDGE_BATCH = 1 << 20


def _edge_schema(key: type) -> pa.Schema:
    """The Arrow schema of the edges handed to DuckDB (keys as laid out, source as a dictionary)."""
    return pa.schema([("child", pa.from_numpy_dtype(key)), ("parent", pa.from_numpy_dtype(key)),
                      ("source", pa.dictionary(pa.int8(), pa.string())),
                      ("linked_at", pa.timestamp("us", tz="UTC"))])


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
        self.key = key
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

    @staticmethod
    def _slices(n: np.ndarray) -> Iterator[slice]:
        """Consecutive slices of the rows whose counts ``n`` expand to about EDGE_BATCH edges
        each (a row expanding to more is a slice of its own)."""
        ends = np.cumsum(n)
        start = 0
        while start < len(n):
            done = int(ends[start - 1]) if start else 0
            stop = max(int(np.searchsorted(ends, done + EDGE_BATCH, "right")), start + 1)
            yield slice(start, stop)
            start = stop

    def by_child(self) -> Iterator[tuple[np.ndarray, np.ndarray, tuple[np.ndarray, np.ndarray]]]:
        """(child, parent, (linked, valid)) sorted by child, then parent (as far as the units of
        each job are one run of keys; the caller's merge sorts the rest), batch by batch."""
        order = np.argsort(self.unit_job, kind="stable")  # by job, in key order within it
        node = self.unit_node[order]
        count = np.bincount(self.unit_job, minlength=self.n_jobs)
        first = np.cumsum(count) - count
        parts = np.lexsort((self.part_job, self.part_child))
        n_all = count[self.part_job[parts]]
        for piece in self._slices(n_all):
            at = parts[piece]
            job, n = self.part_job[at], n_all[piece]
            parent = node[self._runs(first[job], n)]
            child = np.repeat(self.part_child[at], n)
            linked = (np.repeat(self.part_linked[0][at], n), np.repeat(self.part_linked[1][at], n))
            yield self._drop_loops(child, parent, linked)

    def by_parent(self) -> Iterator[tuple[np.ndarray, np.ndarray, tuple[np.ndarray, np.ndarray]]]:
        """(child, parent, (linked, valid)) sorted by parent, then child, batch by batch."""
        parts = np.lexsort((self.part_child, self.part_job))
        child_sorted = self.part_child[parts]
        linked_sorted = (self.part_linked[0][parts], self.part_linked[1][parts])
        count = np.bincount(self.part_job, minlength=self.n_jobs)
        first = np.cumsum(count) - count
        n_all = count[self.unit_job]
        for piece in self._slices(n_all):
            job, n = self.unit_job[piece], n_all[piece]
            at = self._runs(first[job], n)
            parent = np.repeat(self.unit_node[piece], n)
            yield self._drop_loops(child_sorted[at], parent,
                                   (linked_sorted[0][at], linked_sorted[1][at]))


def _fitted_twice(child: np.ndarray, parent: np.ndarray, source: np.ndarray) -> np.ndarray:
    """Serials with fitment edges into two units (edges sorted by child, one per pair)."""
    fitted = child[source == SOURCE_NAMES.index("unit_components")]
    return np.unique(fitted[1:][fitted[1:] == fitted[:-1]])
