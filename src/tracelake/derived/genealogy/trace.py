"""Where-used and where-from: the questions the genealogy exists to answer, as library calls.

Each answer is a small object whose ``as_dict()`` is the JSON of ``tracelake trace`` in the CLI
contract. All reads go through the index built by :mod:`tracelake.derived.genealogy.index`. Where-used
is one lookup of the start and one query: the closure rows of the start with the unit row of
each holder; paths are walked in numpy along ``via_down``. The affected units stay Arrow
columns until someone reads ``affected`` (then the list of dicts is built once, in bulk), so a
recall of thousands of units, its summary and its export frame cost milliseconds.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter
from collections.abc import Iterable
from typing import Any

import duckdb
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from tracelake.derived.genealogy.columns import ZONE_PROBE, datetimes, no_gc_pauses
from tracelake.derived.genealogy.ranges import key_ranges, select_in_ranges
from tracelake.errors import TracelakeError

__all__ = ["WhereFrom", "WhereUsed", "supplier_lots", "supplier_recall", "where_from",
           "where_used"]

#: the keys of an affected unit, in the order of the CLI contract's JSON
AFFECTED_KEYS = ("serial_number", "product_code", "job_id", "status", "customer", "shipped_at",
                 "order_ref", "depth", "path")


def _summary(statuses: list[Any], customers: Iterable[Any], jobs: Iterable[Any]) -> dict[str, Any]:
    by_status = Counter(statuses)
    by_customer = Counter(c for c in customers if c)
    return {"units": len(statuses), "shipped": by_status.get("shipped", 0),
            "customers": len(by_customer), "by_status": dict(sorted(by_status.items())),
            "by_customer": dict(by_customer.most_common()), "jobs": len(set(jobs))}


class AffectedColumns:
    """The affected units of a where-used answer as columns, one row per unit in answer order,
    and each unit's path as row numbers into the closure rows it was traced through;
    ``rows()`` builds the contract's dicts (labels, datetimes, lists) in bulk."""

    def __init__(self, table: pa.Table, walks: list[tuple[np.ndarray, np.ndarray]],
                 labels: pa.Array | pa.ChunkedArray, extra_labels: dict[int, str], starts: dict[int, str],
                 start_at: np.ndarray, zone: dt.tzinfo | None) -> None:
        self.table = table  # serial_number, product_code, job_id, status, customer,
        self.walks = walks  # order_ref, shipped_us, depth; walks: (positions, path rows)
        self.labels = labels  # label of the holder of each closure row (null: not a unit)
        self.extra_labels = extra_labels  # closure row -> label of a holder that is no unit
        self.starts = starts  # start node -> label
        self.start_at = start_at  # start node of each unit
        self.zone = zone

    def __len__(self) -> int:
        return self.table.num_rows

    def column(self, name: str) -> list[Any]:
        """One column as Python values (``shipped_at`` as aware datetimes, ``path`` as lists
        of labels)."""
        if name == "shipped_at":
            return datetimes(self.table.column("shipped_us"), self.zone)
        if name == "path":
            return self._paths()
        return self.table.column(name).to_pylist()

    def _paths(self) -> list[list[str]]:
        out: list[list[str]] = [[] for _ in range(len(self))]
        if not self.walks:
            return out
        label_of = np.array(self.labels.to_pylist(), dtype=object)
        for row, label in self.extra_labels.items():
            label_of[row] = label
        uniq, inv = np.unique(self.start_at, return_inverse=True)
        start_labels = np.array([self.starts[int(a)] for a in uniq.tolist()], dtype=object)[inv]
        for at, steps in self.walks:
            path = np.empty((steps.shape[0], steps.shape[1] + 1), dtype=object)
            path[:, 0] = start_labels[at]
            path[:, 1:] = label_of[steps]
            for pos, p in zip(at.tolist(), path.tolist(), strict=True):
                out[pos] = p
        return out

    def rows(self) -> list[dict[str, Any]]:
        """One dict per unit, keys in the contract's order."""
        with no_gc_pauses():
            cols = [self.column(k) for k in AFFECTED_KEYS]
            return [dict(zip(AFFECTED_KEYS, row, strict=True))
                    for row in zip(*cols, strict=True)]

    def summary(self) -> dict[str, Any]:
        """The answer's summary, from the columns."""
        return _summary(self.column("status"), self.column("customer"), self.column("job_id"))


class WhereUsed:
    """Every top-level unit that contains a lot or serial (``trace forward``).

    ``affected`` is a list of dicts; an answer built by :func:`where_used` holds it as columns
    (``columns``) and builds the list the first time it is read.
    """

    def __init__(self, query: dict[str, Any], affected: list[dict[str, Any]] | None = None,
                 removed: list[dict[str, Any]] | None = None, message: str | None = None, *,
                 columns: AffectedColumns | None = None) -> None:
        self.query = query
        self._affected = affected
        self.columns = columns
        self.removed = removed if removed is not None else []
        self.message = message

    @property
    def affected(self) -> list[dict[str, Any]]:
        """One dict per affected unit (built from ``columns`` on first use)."""
        if self._affected is None:
            self._affected = self.columns.rows() if self.columns is not None else []
        return self._affected

    @affected.setter
    def affected(self, value: list[dict[str, Any]]) -> None:
        self._affected = value

    @property
    def summary(self) -> dict[str, Any]:
        """Counts by status and by customer of the affected units."""
        if self._affected is None and self.columns is not None:
            return self.columns.summary()
        units = [a for a in self.affected if not a.get("removed")]
        return _summary([a["status"] for a in units], [a["customer"] for a in units],
                        [a["job_id"] for a in units])

    def as_dict(self) -> dict[str, Any]:
        """The contract's JSON document (plus ``message`` when the answer is empty)."""
        with no_gc_pauses():
            out = {"query": self.query, "affected": self.affected, "removed": self.removed,
                   "summary": self.summary}
        if self.message:
            out["message"] = self.message
        return out

    def __eq__(self, other: object) -> bool:
        return isinstance(other, WhereUsed) and self.as_dict() == other.as_dict()

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return (f"WhereUsed(query={self.query!r}, affected=<{len(self.affected)} units>, "
                f"removed=<{len(self.removed)}>, message={self.message!r})")


class WhereFrom:
    """Everything in one unit, level by level (``trace backward``)."""

    def __init__(self, query: dict[str, Any], unit: dict[str, Any] | None,
                 components: list[dict[str, Any]] | None = None,
                 message: str | None = None) -> None:
        self.query = query
        self.unit = unit
        self.components = components if components is not None else []
        self.message = message

    def as_dict(self) -> dict[str, Any]:
        """The contract's JSON document."""
        out = {"query": self.query, "unit": self.unit, "components": self.components}
        if self.message:
            out["message"] = self.message
        return out

    def __eq__(self, other: object) -> bool:
        return isinstance(other, WhereFrom) and self.as_dict() == other.as_dict()

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return (f"WhereFrom(query={self.query!r}, unit={self.unit!r}, "
                f"components=<{len(self.components)}>, message={self.message!r})")


# ------------------------------------------------------------------------------------------
# lookups


def _lot_node(con: duckdb.DuckDBPyConnection, code: str, lot: str
              ) -> tuple[int, Any, tuple[int, int] | None] | None:
    """(node id, a timestamp carrying the session's zone, key range of its holders) of a lot,
    or None."""
    row = con.execute(f"SELECT node_id, {ZONE_PROBE}, des_lo, des_hi FROM genealogy.lot_keys "
                      "WHERE component_code = ?::VARCHAR AND lot_number = ?::VARCHAR",
                      [code, lot]).fetchone()
    if row is None:
        return None
    return int(row[0]), row[1], (int(row[2]), int(row[3])) if row[2] is not None else None


def _serial_node(con: duckdb.DuckDBPyConnection, serial: str) -> int | None:
    row = con.execute("SELECT node_id FROM genealogy.serial_keys WHERE serial_number = ?::VARCHAR",
                      [serial]).fetchone()
    return None if row is None else int(row[0])


def _serial_node_zone(con: duckdb.DuckDBPyConnection, serial: str) -> tuple[int, Any] | None:
    row = con.execute(f"SELECT node_id, {ZONE_PROBE} FROM genealogy.serial_keys "
                      "WHERE serial_number = ?::VARCHAR", [serial]).fetchone()
    return None if row is None else (int(row[0]), row[1])


# ------------------------------------------------------------------------------------------
# where-used


def where_used(con: duckdb.DuckDBPyConnection, component_code: str | None = None,
               lot_number: str | None = None, *, serial_number: str | None = None,
               include_removed: bool = False) -> WhereUsed:
    """Every top-level unit containing lot (component_code, lot_number), or a serial.

    A lot number is only unique within its component code, so both are needed. Units from
    which the part was later removed are listed in ``removed`` (and, with ``include_removed``,
    in ``affected`` too, marked ``removed: true``). An unknown lot gives an empty answer and a
    message, not an error.
    """
    if serial_number is not None:
        query: dict[str, Any] = {"direction": "forward", "serial_number": serial_number}
        found = _serial_node_zone(con, serial_number)
        if found is None:
            return WhereUsed(query, message=f"no serial {serial_number} in the lake: "
                                            "nothing to trace")
        node, probe = found
        return _forward(con, {node: serial_number}, probe.tzinfo, query, include_removed)
    query = {"direction": "forward", "component_code": component_code, "lot_number": lot_number}
    lot = _lot_node(con, str(component_code), str(lot_number))
    if lot is None:
        return WhereUsed(query, message=f"no lot {lot_number} of component {component_code} in "
                                        "the lake: nothing to trace")
    node, probe, span = lot
    return _forward(con, {node: f"{component_code}/{lot_number}"}, probe.tzinfo, query,
                    include_removed, spans=[span] if span else [])


def supplier_lots(con: duckdb.DuckDBPyConnection, component_code: str, supplier: str,
                  issued_from: dt.datetime | dt.date | None = None,
                  issued_to: dt.datetime | dt.date | None = None) -> list[str]:
    """Lot numbers of a component received from a supplier and issued in a date window."""
    return [row[0] for row in _supplier_lot_nodes(con, component_code, supplier, issued_from,
                                                   issued_to)]


def _supplier_lot_nodes(con: duckdb.DuckDBPyConnection, component_code: str, supplier: str,
                        issued_from: dt.datetime | dt.date | None,
                        issued_to: dt.datetime | dt.date | None) -> list[tuple[Any, ...]]:
    """(lot number, node id or None, zone probe, key range of its holders) of each lot of
    ``supplier_lots``."""
    return con.execute(f"""
        WITH lots AS (
            SELECT DISTINCT lot_number FROM material_issues
            WHERE component_code = $code::VARCHAR AND lower(supplier) = lower($supplier::VARCHAR)
              AND ($from::TIMESTAMPTZ IS NULL OR issued_at >= $from::TIMESTAMPTZ)
              AND ($to::TIMESTAMPTZ IS NULL OR issued_at < $to::TIMESTAMPTZ))
        SELECT l.lot_number, k.node_id, {ZONE_PROBE}, k.des_lo, k.des_hi FROM lots l
        LEFT JOIN genealogy.lot_keys k
             ON k.component_code = $code::VARCHAR AND k.lot_number = l.lot_number
        ORDER BY l.lot_number""",
                       {"code": component_code, "supplier": supplier, "from": issued_from,
                        "to": issued_to}).fetchall()


def supplier_recall(con: duckdb.DuckDBPyConnection, component_code: str, supplier: str,
                    issued_from: dt.datetime | dt.date | None = None,
                    issued_to: dt.datetime | dt.date | None = None, *,
                    include_removed: bool = False) -> WhereUsed:
    """Where-used for every lot of a component from one supplier issued in a window."""
    found = _supplier_lot_nodes(con, component_code, supplier, issued_from, issued_to)
    lots = [row[0] for row in found]
    query = {"direction": "forward", "component_code": component_code, "supplier": supplier,
             "issued_from": issued_from, "issued_to": issued_to, "lots": lots}
    starts = {int(node): f"{component_code}/{lot}" for lot, node, *_ in found
              if node is not None}
    spans = [(int(lo), int(hi)) for _lot, node, _zone, lo, hi in found
             if node is not None and lo is not None]
    if not starts:
        return WhereUsed(query, message=f"no lots of {component_code} from {supplier} issued "
                                        "in that window")
    return _forward(con, starts, found[0][2].tzinfo, query, include_removed, spans=spans)


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


#: fitments undone of the holders (read by key ranges around them) and of the starts
_REMOVED_SQL = """
    SELECT child, parent_serial, child_label, epoch_us(removed_at) AS removed_at,
           removal_ncr_id, removed_by, epoch_us(fitted_at) AS fitted_at
    FROM genealogy.removed"""


def _forward(con: duckdb.DuckDBPyConnection, starts: dict[int, str], zone: dt.tzinfo | None,
             query: dict[str, Any], include_removed: bool, *,
             spans: list[tuple[int, int]] | None = None) -> WhereUsed:
    """Where-used from start nodes: lots (with the key ranges of their holders, ``spans``) or a
    serial (its closure rows); then the holders' unit rows and removals by key ranges."""
    nodes = sorted(starts)
    if spans is not None:
        ranges = _merged(spans)
        anc, des, depth, via = _lot_holders(con, nodes, ranges)
    else:
        got = con.execute(_SERIAL_HOLDERS_SQL.format(where="anc = $s::BIGINT"),
                          {"s": nodes[0]}).fetchnumpy()
        anc, des, depth, via = _shortest_rows(
            np.asarray(got["anc"]), np.asarray(got["des"]),
            np.asarray(got["depth"]).astype(np.int64), np.asarray(got["via_down"]))
        ranges = key_ranges(des)
    removed = _removed_links(con, des, nodes, zone, ranges)
    if not len(des):
        return WhereUsed(query, [], removed)
    units, attrs = _unit_rows(con, ranges)
    if not units.num_rows:  # no holder is a unit: a null row to point at
        units = pa.Table.from_pylist([{}], schema=_NO_UNITS)
    unit_keys = units.column("node_id").fill_null(-1).to_numpy()
    unit_row = np.minimum(np.searchsorted(unit_keys, des), len(unit_keys) - 1)
    is_unit = unit_keys[unit_row] == des
    top = is_unit & units.column("top").fill_null(False).to_numpy(zero_copy_only=False)[unit_row]
    # the top-level holders in answer order: depth, serial; a holder of several starts keeps
    # its row of least depth (at equal depth, the start with the lower key)
    tops = np.flatnonzero(top)
    serial = units.column("serial_number").take(pa.array(unit_row[tops]))
    ranked = pa.table({"depth": depth[tops], "serial": serial, "anc": anc[tops]})
    rows = tops[pc.sort_indices(ranked, sort_keys=[("depth", "ascending"),
                                                    ("serial", "ascending"),
                                                    ("anc", "ascending")]).to_numpy()]
    if len(nodes) > 1 and len(rows):
        _, first = np.unique(des[rows], return_index=True)
        rows = rows[np.sort(first)]
    walks, start_at = _walks(anc, des, via, depth, rows)
    labels = units.column("serial_number").take(pa.array(unit_row))
    labels = pc.if_else(pa.array(is_unit), labels, pa.nulls(len(des), pa.string()))
    extra = _non_unit_labels(con, labels, des, walks)
    attr_row = np.searchsorted(attrs.column("node_id").to_numpy(), des[rows])
    kept = attrs.take(pa.array(attr_row)).drop_columns(["node_id"])
    kept = kept.add_column(0, "serial_number", units.column("serial_number").take(
        pa.array(unit_row[rows])))
    kept = kept.append_column("depth", pa.array(depth[rows].astype(np.int32)))
    answer = WhereUsed(query, removed=removed, columns=AffectedColumns(
        kept, walks, labels, extra, starts, start_at, zone))
    if include_removed and answer.removed:
        _add_removed(con, answer, nodes, anc, des, via)
    return answer


def _removals(rows: pa.Table, zone: dt.tzinfo | None) -> list[dict[str, Any]]:
    """Removal rows (parent serial, child label, removed at (us), NCR, removed by, fitted at
    (us)) as the answer's dicts, by removal time then unit."""
    if not rows.num_rows:
        return []
    parent, child, at, ncr, by, fitted = (rows.column(i) for i in range(6))
    dicts = [{"serial_number": p, "component_serial": c, "removed_at": a, "removal_ncr_id": n,
              "removed_by": b, "fitted_at": f}
             for p, c, a, n, b, f in zip(parent.to_pylist(), child.to_pylist(),
                                         datetimes(at, zone), ncr.to_pylist(), by.to_pylist(),
                                         datetimes(fitted, zone), strict=True)]
    dicts.sort(key=lambda d: (d["removed_at"] is None, d["removed_at"] or 0,
                              d["serial_number"] or "", d["component_serial"] or ""))
    return dicts


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
    found = dict(con.execute("SELECT node_id, label FROM genealogy.nodes "
                             "WHERE node_id IN (SELECT unnest($n::BIGINT[]))",
                             {"n": np.unique(des[missing]).tolist()}).fetchall())
    return {int(i): found[int(des[i])] for i in missing.tolist()}


def _removed_links(con: duckdb.DuckDBPyConnection, des: np.ndarray, starts: list[int],
                   zone: dt.tzinfo | None, ranges: list[tuple[int, int]]
                   ) -> list[dict[str, Any]]:
    """Fitments of the traced part (or of anything holding it: ``des``, within ``ranges``)
    that were undone. Removals are few (rework), so the one range covering ``ranges`` is read
    and matched to ``des`` here: a scan per range cost ~1 ms each."""
    cover = [(ranges[0][0], ranges[-1][1])] if ranges else []
    branches = select_in_ranges(_REMOVED_SQL, "child", cover) \
        + f"\nUNION ALL\n{_REMOVED_SQL} WHERE child IN ({', '.join(map(str, starts))})"
    got = con.execute(branches).to_arrow_table()
    if not got.num_rows:
        return []
    # a lookup table over the holders' key span (bounded by the ranges, not the lake): a
    # hash-based isin of 150k holders cost ~8 ms
    child = got.column("child").to_numpy()
    keep = np.isin(child, des, kind="table") | np.isin(child, np.array(starts, dtype=np.int64))
    got = got.filter(pa.array(keep))
    return _removals(got.select(["parent_serial", "child_label", "removed_at", "removal_ncr_id",
                                 "removed_by", "fitted_at"]), zone)


def _add_removed(con: duckdb.DuckDBPyConnection, answer: WhereUsed, starts: list[int],
                 anc: np.ndarray, des: np.ndarray, via: np.ndarray) -> None:
    """``include_removed``: the units the part was taken out of, through every level above,
    appended to ``affected`` marked ``removed`` (each unit once)."""
    below = dict(zip(zip(anc.tolist(), des.tolist(), strict=True), via.tolist(), strict=True))
    labels = _labels(con, set(via.tolist()) | set(starts))
    current = {a["serial_number"] for a in answer.affected}
    for r in answer.removed:
        child = _serial_node(con, r["component_serial"])
        if child is not None:
            labels[child] = r["component_serial"]
        anc_of = next((a for a in starts if a == child or (a, child) in below), starts[0])
        base = _path(below, labels, anc_of, child) if child is not None \
            else [r["component_serial"]]
        for extra in _tops_of(con, r["serial_number"]):
            if extra["serial_number"] not in current:
                current.add(extra["serial_number"])
                path = base + extra["path"][1:] if extra["path"][0] == base[-1] else \
                    base + extra["path"]
                answer.affected.append({**extra, "depth": len(path) - 1, "path": path,
                                        "removed": True, "removal_ncr_id": r["removal_ncr_id"]})


def _path(below: dict[tuple[int, int], int], labels: dict[int, str], anc: int,
          des: int) -> list[str]:
    """Labels from ``anc`` up to ``des`` along the stored shortest path."""
    path = [labels[des]]
    node = des
    while node != anc:
        node = below[(anc, node)]
        path.append(labels[node])
    return list(reversed(path))


def _labels(con: duckdb.DuckDBPyConnection, nodes: set[int]) -> dict[int, str]:
    """Labels of a few nodes (paths of one holder; not for thousands)."""
    if not nodes:
        return {}
    return dict(con.execute("SELECT node_id, label FROM genealogy.nodes "
                            "WHERE node_id IN (SELECT unnest($n::BIGINT[]))",
                            {"n": sorted(nodes)}).fetchall())


_UNIT_COLS = ("serial_number", "product_code", "job_id", "status", "customer", "order_ref",
              "shipped_at")


def _tops_of(con: duckdb.DuckDBPyConnection, serial: str) -> list[dict[str, Any]]:
    """The top-level units holding a serial now (the serial itself if it is top-level),
    each with the path from the serial up to it."""
    node = _serial_node(con, serial)
    if node is None:
        return []
    rows = con.execute("""
        SELECT u.node_id, 0 AS depth, NULL AS via_down, u.top, u.serial_number, u.product_code,
               u.job_id, u.status, u.customer, u.order_ref, u.shipped_at
        FROM genealogy.unit_info u WHERE u.node_id = $node
        UNION ALL
        SELECT c.des, c.depth, c.via_down, u.top, u.serial_number, u.product_code, u.job_id,
               u.status, u.customer, u.order_ref, u.shipped_at
        FROM genealogy.closure_by_anc c LEFT JOIN genealogy.unit_info u ON u.node_id = c.des
        WHERE c.anc = $node""", {"node": node}).fetchall()
    below = {(node, des): via for des, _d, via, *_ in rows if via is not None}
    labels = _labels(con, {node} | {r[0] for r in rows} | set(below.values()))
    out = []
    for des, depth, _via, top, *unit in rows:
        if not top:
            continue
        info = dict(zip(_UNIT_COLS, unit, strict=True))
        out.append({**info, "depth": depth,
                    "path": [serial] if des == node else _path(below, labels, node, des)})
    return out


# ------------------------------------------------------------------------------------------
# where-from


def _component_order(c: dict[str, Any]) -> tuple[Any, ...]:
    """Where-from's order: level, holder, component, current before removed (earliest removal
    first), then lot and serial (a missing one last)."""
    removed = c["removed_at"]
    return (c["depth"], c["parent_serial"], c["component_code"] or "", removed is not None,
            removed.timestamp() if removed is not None else 0.0,
            c["lot_number"] is None, c["lot_number"] or "",
            c["component_serial"] is None, c["component_serial"] or "")


#: Where-from in one statement, rows told apart by ``part``: 0 the unit's row (with a
#: timestamp carrying the session's zone), 1 each holder's key and depth (the unit: 0, the
#: serials inside it), 2 each link into a holder (a lot, or a serial, with the holder's
#: label), 3 each fitment undone from a holder. Columns: part, parent (or holder key), depth,
#: kind, component_code, lot_number, serial, label, source, linked/fitted (us), removed (us),
#: NCR, then the unit's serial, product, job, status and the zone probe.
_WHERE_FROM_SQL = f"""
    WITH n AS (SELECT node_id FROM genealogy.serial_keys WHERE serial_number = $s::VARCHAR),
    k AS (SELECT node_id AS key, 0 AS depth FROM n
          UNION ALL
          SELECT c.anc, c.depth FROM genealogy.closure_by_des c JOIN n ON c.des = n.node_id),
    s AS (SELECT s.node_id, s.component_code, s.serial_number
          FROM genealogy.serial_keys s JOIN k ON s.node_id = k.key),
    e AS (SELECT e.parent, e.child, e.source, e.linked_at
          FROM genealogy.edges_by_parent e JOIN k ON e.parent = k.key)
    SELECT 0 AS part, NULL::BIGINT AS parent, NULL::BIGINT AS depth, NULL AS kind,
           NULL AS component_code, NULL AS lot_number, NULL AS serial, NULL AS label,
           NULL AS source, NULL::BIGINT AS t1, NULL::BIGINT AS t2, NULL AS ncr,
           u.serial_number, u.product_code, u.job_id, u.status, {ZONE_PROBE} AS zone
    FROM genealogy.unit_info u JOIN n ON u.node_id = n.node_id
    UNION ALL
    SELECT 1, key, depth, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL,
           NULL, NULL, NULL, NULL, NULL FROM k
    UNION ALL
    SELECT 2, e.parent, NULL, CASE WHEN l.node_id IS NULL THEN 'serial' ELSE 'lot' END,
           coalesce(l.component_code, c.component_code), l.lot_number, c.serial_number,
           p.serial_number, e.source::VARCHAR, epoch_us(e.linked_at), NULL, NULL,
           NULL, NULL, NULL, NULL, NULL
    FROM e JOIN s p ON p.node_id = e.parent
    LEFT JOIN genealogy.lot_keys l ON l.node_id = e.child  -- lots: not in the closure
    LEFT JOIN s c ON c.node_id = e.child
    WHERE l.node_id IS NOT NULL OR c.node_id IS NOT NULL
    UNION ALL
    SELECT 3, r.parent, NULL, NULL, r.component_code, r.lot_number, r.component_serial,
           p.serial_number, NULL, epoch_us(r.fitted_at), epoch_us(r.removed_at),
           r.removal_ncr_id, NULL, NULL, NULL, NULL, NULL
    FROM genealogy.removed r JOIN s p ON p.node_id = r.parent"""


def where_from(con: duckdb.DuckDBPyConnection, serial_number: str) -> WhereFrom:
    """Every lot and serial in a unit, level by level, with when each was fitted or issued.

    ``source`` says whether a link comes from a fitment record (``unit_components``) or only
    from a job-level issue (``material_issues``). Parts removed in rework are listed with their
    ``removed_at`` as history; what was inside them is not.

    One statement: the unit's key and row, its contents (``closure_by_des``), the links into
    each holder (the unit and the serials inside it) with the names of both ends, and the
    removals from them. The few keys are joined, so DuckDB pushes them into each scan as an IN
    filter and zone maps prune it (four statements by constant keys cost about twice as much).
    """
    query = {"direction": "backward", "serial_number": serial_number}
    rows = con.execute(_WHERE_FROM_SQL, {"s": serial_number}).fetchall()
    unit = next((r for r in rows if r[0] == 0), None)
    if unit is None:
        return WhereFrom(query, None, message=f"no unit {serial_number} in the lake")
    depth_of = {r[1]: r[2] for r in rows if r[0] == 1}
    # (is a removal, parent, kind, code, lot, serial, label, source, t1, t2, NCR)
    links = [(r[0] == 3, r[1], *r[3:12]) for r in rows if r[0] >= 2]
    zone = unit[16].tzinfo
    times = datetimes(pa.array([r[8] for r in links] + [r[9] for r in links], pa.int64()), zone)
    linked, removed = times[:len(links)], times[len(links):]
    components: list[dict[str, Any]] = []
    member_lot: dict[str, str] = {}
    history: list[tuple[Any, ...]] = []
    for i, (is_removal, parent, kind, code, lot, serial, label, source, _t, _r, ncr) in \
            enumerate(links):
        if is_removal:
            history.append((label, code, serial, lot, linked[i], removed[i], ncr))
        elif source == "lot":  # the lot a serialised part came from: shown on the part's line
            member_lot[label] = lot
        else:
            components.append({"component_code": code,
                               "lot_number": lot if kind == "lot" else None,
                               "component_serial": serial if kind == "serial" else None,
                               "parent_serial": label, "depth": depth_of[parent] + 1,
                               "fitted_at": linked[i], "removed_at": None, "source": source})
    for comp in components:
        if comp["component_serial"] in member_lot:
            comp["lot_number"] = member_lot[comp["component_serial"]]
    depth_by_serial = {serial_number: 0} | {c["component_serial"]: c["depth"]
                                            for c in components if c["component_serial"]}
    for parent, code, cserial, lot, fitted, removed_at, ncr in history:
        components.append({"component_code": code, "lot_number": lot,
                           "component_serial": cserial, "parent_serial": parent,
                           "depth": depth_by_serial.get(parent, 0) + 1, "fitted_at": fitted,
                           "removed_at": removed_at, "source": "unit_components",
                           "removal_ncr_id": ncr})
    components.sort(key=_component_order)
    return WhereFrom(query, dict(zip(("serial_number", "product_code", "job_id", "status"),
                                     unit[12:16], strict=True)), components)
