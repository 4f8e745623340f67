"""The holders of a trace's start nodes (closure rows, shortest per pair), the unit rows in
key ranges around them, and each affected unit's path walked along ``via_down``."""

from __future__ import annotations

import duckdb
import numpy as np
import pyarrow as pa

from tracelake.derived.genealogy.ranges import select_in_ranges
from tracelake.errors import TracelakeError
from tracelake.lake.literals import execute

#: the holders of serials: their closure rows
_SERIAL_HOLDERS_SQL = """
    SELECT anc, des, depth, via_down FROM genealogy.closure_by_anc WHERE {where}"""


#: The holders of lots: each edge out of a lot, and the closure rows of its parent, read by
#: the lots' constant key ranges (``{closure}``: a UNION ALL of one BETWEEN each). The unit rows
#: and removals are read apart, by the same ranges: each plain scan costs a millisecond or
#: two, where one statement semi-joining them to these holders cost 10-30 ms at 1M units.
_LOT_HOLDERS_SQL = """
    WITH e AS (SELECT child AS anc, parent FROM genealogy.edges WHERE child IN ({starts})),
    u AS ({closure})
    SELECT anc, parent AS des, 1 AS depth, anc AS via_down FROM e
    UNION ALL
    SELECT e.anc, u.des, u.depth + 1, u.via_down FROM e JOIN u ON u.anc = e.parent"""


def _merged(spans: list[tuple[int, int]]) -> list[tuple[int, int]]:
    """Overlapping or touching key ranges merged."""
    out: list[tuple[int, int]] = []
    for lo, hi in sorted(spans):
        if out and lo <= out[-1][1] + 1:
            out[-1] = (out[-1][0], max(out[-1][1], hi))
        else:
            out.append((lo, hi))
    return out


def _lot_holders(con: duckdb.DuckDBPyConnection, nodes: list[int],
                 ranges: list[tuple[int, int]]) -> tuple[np.ndarray, ...]:
    """Holders (anc, des, depth, via_down) of lots, one row per (lot, holder)."""
    got = con.execute(_LOT_HOLDERS_SQL.format(
        starts=", ".join(str(n) for n in nodes),
        closure=select_in_ranges("SELECT anc, des, depth, via_down FROM genealogy.closure_by_anc",
                                 "anc", ranges))).fetchnumpy()
    return _shortest_rows(np.asarray(got["anc"]), np.asarray(got["des"]),
                          np.asarray(got["depth"]).astype(np.int64), np.asarray(got["via_down"]))


def _shortest_rows(anc: np.ndarray, des: np.ndarray, depth: np.ndarray, via: np.ndarray
                   ) -> tuple[np.ndarray, ...]:
    """One row per (anc, des): the shortest path, through the lowest key at equal length;
    sorted by (anc, des)."""
    width = int(max(anc.max(initial=0), des.max(initial=0), via.max(initial=0))) + 1
    pair = anc * width + des
    order = np.argsort(pair, kind="stable")  # rows come grouped by start: nearly sorted
    pair, anc, des, depth, via = pair[order], anc[order], des[order], depth[order], via[order]
    start = np.ones(len(pair), dtype=bool)
    start[1:] = pair[1:] != pair[:-1]
    if not start.all():  # a holder reached by several paths: the best of each pair
        rank = (depth << 40) | via
        group = np.cumsum(start) - 1
        best = np.minimum.reduceat(rank, np.flatnonzero(start))
        pick = np.flatnonzero(rank == best[group])
        keep = np.ones(len(pick), dtype=bool)
        keep[1:] = group[pick][1:] != group[pick][:-1]
        pick = pick[keep]
        return anc[pick], des[pick], depth[pick], via[pick]
    return anc, des, depth, via


#: the units in key ranges around the holders: every unit's label, and the attributes of the
#: top-level ones (two narrow scans: one scan of every column costs about twice as much)
_LABELS_SQL = "SELECT node_id, serial_number, top FROM genealogy.unit_info"


_TOP_ATTRS_SQL = """
    SELECT node_id, product_code, job_id, status, customer, order_ref,
           epoch_us(shipped_at) AS shipped_us
    FROM genealogy.unit_info"""


_NO_UNITS = pa.schema([("node_id", pa.int64()), ("serial_number", pa.string()),
                       ("top", pa.bool_())])


def _unit_rows(con: duckdb.DuckDBPyConnection, ranges: list[tuple[int, int]]
               ) -> tuple[pa.Table, pa.Table]:
    """(node_id, serial_number, top) of the units in ``ranges``, and (node_id, attributes) of
    the top-level ones, each sorted by node_id."""
    labels = con.execute(select_in_ranges(_LABELS_SQL, "node_id", ranges)).to_arrow_table()
    attrs = con.execute(select_in_ranges(_TOP_ATTRS_SQL, "node_id", ranges, also="top")
                        ).to_arrow_table()
    return _by_key(labels), _by_key(attrs)


def _by_key(table: pa.Table) -> pa.Table:
    """A table sorted by node_id (range scans mostly come sorted already: then it is kept)."""
    keys = table.column("node_id").to_numpy()
    if len(keys) < 2 or bool((keys[1:] > keys[:-1]).all()):
        return table
    return table.take(pa.array(np.argsort(keys, kind="stable")))


def _walks(anc: np.ndarray, des: np.ndarray, via: np.ndarray, depth: np.ndarray,
           rows: np.ndarray) -> tuple[list[tuple[np.ndarray, np.ndarray]], np.ndarray]:
    """The path of each row in ``rows`` (closure rows sorted by (anc, des)), from its start up
    to its holder, as the closure rows of the nodes on it; and each row's start.

    Every node on such a path above the start is itself a holder of that start, so its row
    gives the next node down (``via_down``); all rows of one depth are walked together.
    Returns [(positions in ``rows``, matrix of closure rows: one column per level)], starts.
    """
    walks: list[tuple[np.ndarray, np.ndarray]] = []
    if not len(rows):
        return walks, anc[rows]
    width = int(max(des.max(), via.max(), anc.max())) + 1
    keys = anc * width + des  # sorted: the query orders by (anc, des)

    def row_of(a: np.ndarray, node: np.ndarray) -> np.ndarray:
        want = a * width + node
        pos = np.minimum(np.searchsorted(keys, want), len(keys) - 1)
        if not np.array_equal(keys[pos], want):
            raise TracelakeError("the genealogy index is inconsistent (a path leaves the "
                                 "closure): rebuild it")
        return pos

    sel_depth = depth[rows]
    for d in np.unique(sel_depth).tolist():
        at = np.flatnonzero(sel_depth == d)
        r = rows[at]
        a = anc[r]
        steps = np.empty((len(r), d), dtype=np.int64)  # closure row of each node above the start
        steps[:, d - 1] = r
        for k in range(d - 2, -1, -1):
            steps[:, k] = row_of(a, via[steps[:, k + 1]])
        walks.append((at, steps))
    return walks, anc[rows]


def _non_unit_labels(con: duckdb.DuckDBPyConnection, labels: pa.Array, des: np.ndarray,
                     walks: list[tuple[np.ndarray, np.ndarray]]) -> dict[int, str]:
    """Labels of the holders on the paths that are not units (a serialised part fitted by
    serial): closure row -> label, from ``nodes`` (usually none)."""
    missing = np.flatnonzero(labels.is_null().to_numpy(zero_copy_only=False))
    if not len(missing) or not walks:
        return {}
    on_path = np.unique(np.concatenate([steps.ravel() for _, steps in walks]))
    missing = np.intersect1d(missing, on_path)
    if not len(missing):
        return {}
    found = dict(execute(con, "SELECT node_id, label FROM genealogy.nodes "
                             "WHERE node_id IN (SELECT unnest($n::BIGINT[]))",
                             {"n": np.unique(des[missing]).tolist()}).fetchall())
    return {int(i): found[int(des[i])] for i in missing.tolist()}
